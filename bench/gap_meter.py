"""The GUI event loop's responsiveness, measured: the worst gap between ticks of a 1 ms timer."""

from __future__ import annotations

import time

from PySide6.QtCore import QElapsedTimer, QEventLoop, QObject, QTimer, Slot


class GapMeter(QObject):
    def __init__(self):
        super().__init__()
        self.clock = QElapsedTimer()
        self.worst_ms = 0.0
        self.timer = QTimer(self)
        self.timer.setInterval(1)
        self.timer.timeout.connect(self.tick)

    def start(self):
        self.worst_ms = 0.0
        self.clock.start()
        self.timer.start()

    @Slot()
    def tick(self):
        gap = self.clock.nsecsElapsed() / 1e6
        self.clock.restart()
        self.worst_ms = max(self.worst_ms, gap)

    def stop(self) -> float:
        self.timer.stop()
        return self.worst_ms


def spin(app, seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 5)


