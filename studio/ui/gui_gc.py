"""Garbage collection in the GUI thread only, from a timer (as pyqtgraph's GarbageCollector
does it).

Python's automatic collector runs in whichever thread happens to allocate past its threshold:
a pool worker (a thumbnail, the model scan) or the model manager's thread. A cycle holding Qt
objects made in the GUI thread is then destroyed in that other thread, which Qt does not
allow: the test suite crashed twice in a collection on a worker thread. With the automatic
collector off, ``GuiThreadCollector`` looks at the generation counts every INTERVAL_MS and
collects what Python would have collected, in the GUI thread.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer, Slot

INTERVAL_MS = 500


class GuiThreadCollector(QObject):
    """Turns the automatic collector off and collects in the GUI thread instead, at Python's
    own thresholds (``gc.get_threshold``). ``stop`` puts the automatic collector back as it
    was."""

    def __init__(self, parent: QObject | None = None, interval_ms: int = INTERVAL_MS) -> None:
        super().__init__(parent)
        self.thresholds = gc.get_threshold()
        self.collections = 0  # how many this collector ran (tests)
        self._was_enabled = gc.isenabled()
        gc.disable()
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.check)
        self._timer.start()

    @Slot()
    def check(self) -> None:
        """Collect the generations past their thresholds, the oldest one only when it is."""
        counts = gc.get_count()
        for generation in (2, 1, 0):
            if counts[generation] > self.thresholds[generation]:
                gc.collect(generation)
                self.collections += 1
                return

    def stop(self) -> None:
        self._timer.stop()
        if self._was_enabled:
            gc.enable()
