"""The mouse wheel scrolls the panel under it, never the value of a box it passes over
(issue 16: scrolling the caption panel changed its prompt preset).

One event filter on the application (installed after the window's first paint: it sees every
event, which start-up would pay for): a wheel event over a spin box or a combo box that does not
have the keyboard focus goes to the scroll area around it (or nowhere); with the focus (clicked
or tabbed into), the wheel changes the value as before. Such boxes no longer take the focus from
the wheel itself.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import QAbstractScrollArea, QAbstractSpinBox, QApplication, QComboBox

_BOXES = (QAbstractSpinBox, QComboBox)
_WHEEL, _POLISH = QEvent.Type.Wheel, QEvent.Type.Polish


def _box_of(obj):
    """The spin or combo box ``obj`` is or belongs to (a spin box's line edit), else None."""
    if isinstance(obj, _BOXES):
        return obj
    parent = obj.parent() if isinstance(obj, QObject) else None
    return parent if isinstance(parent, _BOXES) else None


class WheelGuard(QObject):
    def eventFilter(self, obj, event) -> bool:  # noqa: N802 - Qt's name
        kind = event.type()
        if kind != _WHEEL and kind != _POLISH:
            return False
        box = _box_of(obj)
        if box is None:
            return False
        if kind == _POLISH:
            if box.focusPolicy() == Qt.FocusPolicy.WheelFocus:
                box.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
            return False
        if box.hasFocus() or (isinstance(box, QComboBox) and box.view().isVisible()):
            return False
        area = box.parentWidget()
        while area is not None and not isinstance(area, QAbstractScrollArea):
            area = area.parentWidget()
        if area is not None:
            vertical = abs(event.angleDelta().y()) >= abs(event.angleDelta().x())
            bar = area.verticalScrollBar() if vertical else area.horizontalScrollBar()
            if bar.isVisible():
                QApplication.sendEvent(bar, event)
        return True  # the box's value stays


def install(app: QApplication) -> WheelGuard:
    """The application's guard, installed once."""
    guard = app.findChild(WheelGuard)
    if guard is None:
        guard = WheelGuard(app)
        app.installEventFilter(guard)
        for widget in app.allWidgets():  # polished before: no focus from the wheel either
            box = _box_of(widget)
            if box is not None and box.focusPolicy() == Qt.FocusPolicy.WheelFocus:
                box.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
    return guard
