"""The mouse wheel scrolls the panel under it, never the value of a box it passes over
(issue 16: scrolling the caption panel changed its prompt preset).

Studio's spin and combo boxes are these subclasses: without the keyboard focus a box hands the
wheel to the scroll area around it; with the focus (clicked or tabbed into), the wheel changes
the value as before. The boxes no longer
take the focus from the wheel itself. (An application event filter did this first: it made
Python see every event of the application, 175 M instructions of start-up alone, and a wait
for the GIL on each while a worker runs Python.)
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractScrollArea,
    QApplication,
    QComboBox,
    QDoubleSpinBox,
    QSpinBox,
)


class _WheelWhenFocused:
    """The wheel behaviour; mixed in before the Qt box class."""

    def _init_focus(self) -> None:
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)  # not WheelFocus

    def wheelEvent(self, event) -> None:  # noqa: N802 - Qt's name
        popup = isinstance(self, QComboBox) and self.view().isVisible()
        if self.hasFocus() or popup:
            super().wheelEvent(event)
            return
        # To the scroll bar of the panel around the box, explicitly: Qt passes an ignored
        # wheel event on to the parents only when it came from the platform.
        area = self.parentWidget()
        while area is not None and not isinstance(area, QAbstractScrollArea):
            area = area.parentWidget()
        if area is not None:
            vertical = abs(event.angleDelta().y()) >= abs(event.angleDelta().x())
            bar = area.verticalScrollBar() if vertical else area.horizontalScrollBar()
            if bar.isVisible():
                QApplication.sendEvent(bar, event)
        event.accept()  # the box's value stays


class ComboBox(_WheelWhenFocused, QComboBox):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._init_focus()


class SpinBox(_WheelWhenFocused, QSpinBox):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._init_focus()


class DoubleSpinBox(_WheelWhenFocused, QDoubleSpinBox):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._init_focus()
