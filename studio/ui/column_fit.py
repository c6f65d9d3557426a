"""Tables that fit their panel (issue 16): a narrow bin showed "Durati" at its edge and scrolled
sideways, the generations list "A paper boat drifting across a s…".

``ColumnFit`` keeps a table's main column (the clip's name, the prompt) stretching over the
width the others leave, shows the other columns that fit beside it in their order of
preference (each at least as wide as its title) and hides the rest, so that no title is cut
and the table never scrolls sideways. A person's column widths are kept.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QObject, Qt, Slot
from PySide6.QtWidgets import QHeaderView, QStyle, QTableView, QTreeView


def columns_that_fit(width: int, main_min_px: int, always: Sequence[int],
                     widths: dict[int, int]) -> list[int]:
    """The columns of ``widths`` (in its order: most wanted first) that fit in ``width`` px
    beside the main column's ``main_min_px`` and the ``always`` shown ones."""
    room = width - main_min_px - sum(widths[c] for c in always)
    shown = []
    for column, column_width in widths.items():
        if column in always:
            continue
        if column_width > room:
            break
        shown.append(column)
        room -= column_width
    return shown


class _Fitted:
    """A view whose ``column_fit`` (a ColumnFit, which sets it) fits its columns at each new
    width."""

    column_fit: ColumnFit | None = None

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self.column_fit is not None and event.size().width() != event.oldSize().width():
            self.column_fit.fit(self.viewport().width())


class FittedTableView(_Fitted, QTableView):
    """A QTableView that fits its columns (see ColumnFit)."""


class FittedTreeView(_Fitted, QTreeView):
    """A QTreeView (a list of rows with columns) that fits its columns (see ColumnFit)."""


def _header(view) -> QHeaderView:
    return view.horizontalHeader() if isinstance(view, QTableView) else view.header()


class ColumnFit(QObject):
    """Fits ``view``'s columns to its width: ``main`` stretches (at least ``main_min_px``);
    ``widths`` gives the others' widths, most wanted first; ``always`` are never hidden."""

    def __init__(self, view: FittedTableView | FittedTreeView, titles: Sequence[str], main: int,
                 widths: dict[int, int], main_min_px: int, always: Sequence[int] = ()):
        super().__init__(view)
        self.view, self.main, self.main_min_px, self.always = view, main, main_min_px, always
        header = _header(view)
        padding = 2 * header.style().pixelMetric(QStyle.PixelMetric.PM_HeaderMargin) + 16
        self._title_widths = {c: header.fontMetrics().horizontalAdvance(titles[c]) + padding
                              for c in widths}
        self._widths = {c: max(w, self._title_widths[c]) for c, w in widths.items()}
        for column, width in self._widths.items():
            header.resizeSection(column, width)
        self._stretch_main()
        view.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        header.sectionResized.connect(self._on_resized)
        # fitted when the view gets its width (FittedTableView.resizeEvent), not now: at
        # 100 px, before the first paint, hiding columns cost start-up 44 M instructions. (An
        # event filter on the viewport cost 46 M: Python called for every event of it.)
        view.column_fit = self

    @property
    def widths(self) -> dict[int, int]:
        """Each column's width beside the main one, shown or not (a person's resize kept)."""
        return dict(self._widths)

    def fit(self, width: int) -> None:
        """Show the columns that fit in ``width`` px, hide the others."""
        shown = set(columns_that_fit(width, self.main_min_px, self.always, self._widths))
        for column in self._widths:
            hide = column not in shown and column not in self.always
            if self.view.isColumnHidden(column) != hide:
                self.view.setColumnHidden(column, hide)

    def restored(self) -> None:
        """After the header's ``restoreState``: the main column stretches again and the widths
        restored are the ones kept; which fit is worked out at the view's next width."""
        header = _header(self.view)
        self._stretch_main()
        for column in self._widths:
            header.setSectionHidden(column, False)  # a hidden section's width reads as 0
            self._on_resized(column, 0, header.sectionSize(column))

    def _stretch_main(self) -> None:
        header = _header(self.view)
        header.setStretchLastSection(False)
        header.setSectionResizeMode(self.main, QHeaderView.ResizeMode.Stretch)

    @Slot(int, int, int)
    def _on_resized(self, column: int, _old: int, new: int) -> None:
        if column in self._widths and new > 0:  # a person's resize (0: the column was hidden)
            self._widths[column] = max(new, self._title_widths[column])
