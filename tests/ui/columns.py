"""What the tests of fitted lists check (studio.ui.column_fit): at its width, a list does not
scroll sideways, shows the columns it must, and cuts no column's title."""

from __future__ import annotations


def assert_columns_fit(qtbot, view, header, titles, required, width) -> list[int]:
    """The columns ``view`` shows (waited for until they fit its width); fails when one of
    ``required`` is hidden or a shown column is narrower than its title."""
    qtbot.waitUntil(lambda: header.length() <= view.viewport().width() + 1)
    shown = [c for c in range(len(titles)) if not view.isColumnHidden(c)]
    assert set(required) <= set(shown), (width, shown)
    for column in shown:
        assert header.sectionSize(column) >= header.fontMetrics().horizontalAdvance(
            titles[column]), (width, titles[column])
    return shown
