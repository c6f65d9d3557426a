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
    """Watches one widget's events until its first paint, then makes the calls asked for, in
    the order asked, from the event loop, once the paint of the whole window (children too)
    is done and flushed."""

    NAME = "studio-first-paint"

    def __init__(self, widget) -> None:
        super().__init__(widget)
        self.setObjectName(self.NAME)
        self._callbacks: list[Callable[[], object]] = []
        widget.installEventFilter(self)

    def add(self, callback: Callable[[], object]) -> None:
        self._callbacks.append(callback)

    def eventFilter(self, watched, event) -> bool:
        if event.type() == QEvent.Type.Paint:
            watched.removeEventFilter(self)
            self.setObjectName("")  # painted: a later request gets a watcher of its own
            QTimer.singleShot(0, self, self._painted)  # dropped if the window goes first
        return False

    @Slot()
    def _painted(self) -> None:
        callbacks, self._callbacks = self._callbacks, []
        self.deleteLater()
        for callback in callbacks:
            callback()


def when_first_painted(widget, callback: Callable[[], object]) -> None:
    """Call ``callback`` (in the GUI thread) once ``widget``, a top-level window, has been
    painted for the first time; calls asked for the same widget come in the order asked (so
    what start-up defers to after the paint starts after the paint is reported). The filter
    is gone from then on."""
    watcher = widget.findChild(_FirstPaintWatcher, _FirstPaintWatcher.NAME)
    if watcher is None or watcher.parent() is not widget:
        watcher = _FirstPaintWatcher(widget)
    watcher.add(callback)


class _AfterFirstPaint(QObject):
    """One ``after_first_paint`` request: its widget's first show asks for the window's first
    paint; the paint or the fallback, whichever comes first, makes the call."""

    def __init__(self, widget, callback: Callable[[], object], fallback_ms: int | None):
        super().__init__(widget)
        self._callback: Callable[[], object] | None = callback
        widget.installEventFilter(self)
        if fallback_ms is not None:
            QTimer.singleShot(fallback_ms, self, self._call)

    def eventFilter(self, watched, event) -> bool:
        if event.type() == QEvent.Type.Show:
            watched.removeEventFilter(self)
            if self._callback is not None:
                when_first_painted(watched.window(), self._call)
        return False

    @Slot()
    def _call(self) -> None:
        callback, self._callback = self._callback, None
        if callback is not None:
            callback()


def after_first_paint(widget, callback: Callable[[], object],
                      fallback_ms: int | None = None) -> None:
    """Call ``callback`` once, after the first paint of the window ``widget`` is first shown
    in: for work that would take the GIL from that paint (a worker's imports). With
    ``fallback_ms``, after that long if no paint came first (a widget never shown). Nothing is
    called once ``widget`` is gone."""
    _AfterFirstPaint(widget, callback, fallback_ms)
