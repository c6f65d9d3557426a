"""Facts about the Qt binding that Studio relies on, checked against the installed release."""

import sys

from PySide6.QtCore import QObject, Signal


class _Emitter(QObject):
    fired = Signal(int)


def test_signal_emit_keeps_reference_counts():
    # PySide6 6.12.0 returned a borrowed True from emit(): each call took one reference from
    # True, and after some thousands of signals Python 3.11 aborted ("deallocating True").
    emitter = _Emitter()
    before = sys.getrefcount(True)
    for _ in range(1000):
        emitter.fired.emit(1)
    assert sys.getrefcount(True) >= before - 10


def test_void_method_calls_keep_none_reference_count(qtbot):
    # PySide6 6.12.0 on Python 3.11 also lost a reference to None on every call of a method
    # returning void (update(), setEnabled(), QTimer.stop() ...): a playing player died in seconds.
    from PySide6.QtWidgets import QWidget

    widget = QWidget()
    qtbot.addWidget(widget)
    before = sys.getrefcount(None)
    for _ in range(1000):
        widget.update()
        widget.setEnabled(True)
    assert sys.getrefcount(None) >= before - 10
