"""Start-up timing: how old this process is, and a call once a window has been painted.

bench/startup.py times Studio and a bare QMainWindow script with the same two helpers, so both
sides report the same moment: the window shown and painted once, on screen.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, QTimer, Slot


def process_age_s() -> float:
    """Seconds since this process started (Linux: /proc; elsewhere: since Studio was imported).
    The start is known to a clock tick (10 ms); the time now to the nanosecond, from the same
    clock (time since boot)."""
    try:
        with open("/proc/self/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        start_ticks = int(fields[19])  # field 22 of stat(5), counted after the comm field
        return time.clock_gettime(time.CLOCK_BOOTTIME) - start_ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, AttributeError):
        import studio

        return time.time() - studio.IMPORTED_AT


class _FirstPaintWatcher(QObject):
    """Watches one widget's events until its first paint, then calls back from the event loop,
    once the paint of the whole window (children too) is done and flushed."""

    def __init__(self, widget, callback: Callable[[], object]) -> None:
        super().__init__(widget)
        self._callback = callback
        widget.installEventFilter(self)

    def eventFilter(self, watched, event) -> bool:
        if event.type() == QEvent.Type.Paint:
            watched.removeEventFilter(self)
            QTimer.singleShot(0, self._painted)
        return False

    @Slot()
    def _painted(self) -> None:
        callback, self._callback = self._callback, None
        self.deleteLater()
        if callback is not None:
            callback()


def when_first_painted(widget, callback: Callable[[], object]) -> None:
    """Call ``callback`` (in the GUI thread) once ``widget``, a top-level window, has been
    painted for the first time; the filter is gone from then on."""
    _FirstPaintWatcher(widget, callback)
