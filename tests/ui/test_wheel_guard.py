"""The wheel scrolls the panel, not the value of the box under the pointer (issue 16: the
caption prompt preset changed while a person scrolled the caption panel)."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication, QScrollArea

from studio.core.library import Project
from studio.ui.main_window import MainWindow


def _wheel(widget, steps: int = -1) -> None:
    """A wheel turn over the middle of ``widget``, as the platform delivers it."""
    at = QPointF(widget.rect().center())
    event = QWheelEvent(at, QPointF(widget.mapToGlobal(at.toPoint())), QPoint(0, 0),
                        QPoint(0, 120 * steps), Qt.MouseButton.NoButton,
                        Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(widget, event)


def _scroll_area(widget) -> QScrollArea:
    area = widget.parentWidget()
    while not isinstance(area, QScrollArea):
        area = area.parentWidget()
    return area


def test_the_wheel_over_unfocused_boxes_scrolls_the_panel(qtbot, tmp_path):
    project = Project(tmp_path / "project")
    window = MainWindow(project)
    qtbot.addWidget(window)
    try:
        window.resize(1280, 720)
        window.show()
        qtbot.waitExposed(window)
        window.generate_dock.show()
        panel = window.prompt_panel
        steps = panel.steps
        area = _scroll_area(steps)
        window.resize(1280, 480)  # the form scrolls
        qtbot.waitUntil(lambda: area.verticalScrollBar().maximum() > 0, timeout=5000)
        window.bin.view.setFocus()
        before, scrolled = steps.value(), area.verticalScrollBar().value()
        _wheel(steps, -1)
        assert steps.value() == before
        assert area.verticalScrollBar().value() > scrolled
        # the caption panel's prompt preset, unfocused: it stays
        captions = window.captions
        captions.show_clip(None)
        combo = captions.preset_combo
        index = combo.currentIndex()
        _wheel(combo, -1)
        assert combo.currentIndex() == index
        assert combo.focusPolicy() == Qt.FocusPolicy.StrongFocus
        # focused (clicked or tabbed into), the wheel changes the value as before
        steps.setFocus()
        qtbot.waitUntil(lambda: steps.hasFocus(), timeout=5000)
        _wheel(steps, 1)
        assert steps.value() == before + 1
    finally:
        window.close()
        project.close()


def test_every_box_in_the_window_lets_the_wheel_through_and_no_filter_sees_every_event(
        qtbot, tmp_path):
    """The guard is the boxes' own (wheel_guard's subclasses), not an application event filter,
    which made Python see every event of the application."""
    from PySide6.QtWidgets import QAbstractSpinBox, QComboBox

    from studio.ui import wheel_guard

    project = Project(tmp_path / "project")
    window = MainWindow(project)
    qtbot.addWidget(window)
    try:
        window.show()
        qtbot.waitExposed(window)
        window.generate_dock.show()
        window.prompt_panel  # noqa: B018 -- builds it
        window.analysis  # noqa: B018
        window.captions.show_clip(None)
        boxes = window.findChildren(QComboBox) + window.findChildren(QAbstractSpinBox)
        assert len(boxes) > 10
        guarded = (wheel_guard.ComboBox, wheel_guard.SpinBox, wheel_guard.DoubleSpinBox)
        assert [b.objectName() or type(b).__name__ for b in boxes
                if not isinstance(b, guarded)] == []
        assert not hasattr(wheel_guard, "install")
    finally:
        window.close()
        project.close()
