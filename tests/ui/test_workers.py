"""The one pool policy for short background tasks (studio.ui.workers, DESIGN.md threading
rules): one shared pool that leaves the GUI a core, panels' lanes on it, superqt workers whose
signals reach bound slots in the GUI thread."""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path

import pytest
from PySide6.QtCore import QEvent, QObject, QThreadPool, Slot
from PySide6.QtWidgets import QApplication

from studio.ui import workers

UI = Path(__file__).resolve().parents[2] / "studio" / "ui"


class Receiver(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.got: list = []
        self.threads: set[int] = set()

    @Slot(object)
    def take(self, value) -> None:
        self.threads.add(threading.get_ident())
        self.got.append(value)


def _square(x: int) -> int:
    return x * x


def _count(n: int):
    yield from range(n)
    return "done"


def _reporting(x: int, *, report) -> int:
    report(x)
    return -x


def _hold(gate: threading.Event, running: list, seen: list, tag) -> object:
    running.append(tag)
    seen.append(len(running))
    gate.wait(5)
    running.remove(tag)
    return tag


def _boom() -> None:
    raise ValueError("boom")


def test_the_shared_pool_leaves_the_gui_a_core(monkeypatch):
    import os

    assert workers.shared_pool().maxThreadCount() == max(1, (os.cpu_count() or 1) - 1)
    for cores, size in ((1, 1), (2, 1), (8, 7)):
        monkeypatch.setattr(os, "cpu_count", lambda cores=cores: cores)
        assert workers.pool_size() == size


def test_no_panel_makes_a_thread_pool_of_its_own():
    """Every short task runs on workers.shared_pool(): a QThreadPool made (or the global one
    used) anywhere else in the GUI would run beside it and take the GUI thread's core."""
    offenders = []
    for path in sorted(UI.glob("*.py")):
        if path.name == "workers.py":
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if re.search(r"QThreadPool\s*\(|QThreadPool\.globalInstance", line):
                offenders.append(f"{path.name}:{number}: {line.strip()}")
    assert offenders == []


def test_the_bins_lane_keeps_its_two_workers_at_most(qtbot, tmp_path):
    from studio.settings import cores_but_one
    from studio.ui import bin_panel

    assert "Workers(self, limit=min(2, cores_but_one()))" in Path(bin_panel.__file__).read_text()
    assert min(2, cores_but_one()) <= workers.pool_size()


def test_results_and_yields_reach_bound_slots_in_the_gui_thread(qtbot):
    receiver = Receiver()
    lane = workers.Workers(receiver)
    lane.run(_square, 7, returned=receiver.take)
    lane.run(_count, 3, yielded=receiver.take, returned=receiver.take)
    lane.run(_reporting, 5, reports=True, yielded=receiver.take, returned=receiver.take)
    assert lane.waitForDone(10_000)
    qtbot.waitUntil(lambda: len(receiver.got) == 7, timeout=5000)
    assert sorted(map(str, receiver.got)) == sorted(map(str, [49, 0, 1, 2, "done", 5, -5]))
    assert receiver.threads == {threading.get_ident()}
    assert lane.activeThreadCount() == 0


def test_only_bound_slots_of_qobjects_may_be_connected(qtbot):
    receiver = Receiver()
    lane = workers.Workers(receiver)
    with pytest.raises(TypeError):
        lane.run(_square, 1, returned=lambda value: None)
    with pytest.raises(TypeError):
        lane.run(_square, 1, returned=print)
    assert lane.activeThreadCount() == 0


def test_a_lane_runs_at_most_its_limit_and_drops_what_has_not_started(qtbot):
    receiver = Receiver()
    lane = workers.Workers(receiver, limit=1)
    gate, running, seen = threading.Event(), [], []
    for tag in range(4):
        lane.run(_hold, gate, running, seen, tag, returned=receiver.take)
    qtbot.waitUntil(lambda: bool(running), timeout=5000)  # superqt loaded, the first one runs
    time.sleep(0.05)
    assert running == [0] and lane.activeThreadCount() == 4
    lane.clear()  # 1-3 never start
    gate.set()
    assert lane.waitForDone(5000)
    qtbot.waitUntil(lambda: receiver.got == [0], timeout=5000)
    assert max(seen) == 1 and lane.activeThreadCount() == 0


def test_a_lanes_tasks_start_by_priority(qtbot):
    receiver = Receiver()
    lane = workers.Workers(receiver, limit=1)
    gate, running, seen = threading.Event(), [], []
    lane.run(_hold, gate, running, seen, "first", returned=receiver.take)
    qtbot.waitUntil(lambda: bool(running), timeout=5000)
    lane.run(_square, 1, returned=receiver.take, priority=-1)
    lane.run(_square, 2, returned=receiver.take, priority=1)
    gate.set()
    assert lane.waitForDone(5000)
    qtbot.waitUntil(lambda: len(receiver.got) == 3, timeout=5000)
    assert receiver.got == ["first", 4, 1]


def test_wait_for_done_waits_for_workers_asked_for_before_superqt_loaded(qtbot, monkeypatch):
    monkeypatch.setattr(workers, "_classes", None)  # as if superqt had not loaded yet
    receiver = Receiver()
    lane = workers.Workers(receiver)
    lane.run(_square, 3, returned=receiver.take)
    assert lane.activeThreadCount() == 1
    assert lane.waitForDone(10_000)  # makes and runs the worker at once
    qtbot.waitUntil(lambda: receiver.got == [9], timeout=5000)


def test_a_workers_signals_object_is_deleted_in_the_gui_thread(qtbot):
    receiver = Receiver()
    lane = workers.Workers(receiver)
    lane.run(_square, 2, returned=receiver.take)
    assert lane.waitForDone(10_000)
    qtbot.waitUntil(lambda: receiver.got == [4], timeout=5000)
    QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    assert lane.children() == []


def test_an_unexpected_exception_goes_to_excepthook(qtbot, monkeypatch):
    import sys

    seen = []
    monkeypatch.setattr(sys, "excepthook", lambda *exc: seen.append(exc[1]))
    receiver = Receiver()
    lane = workers.Workers(receiver)
    lane.run(_boom)
    assert lane.waitForDone(10_000)
    qtbot.waitUntil(lambda: bool(seen), timeout=5000)
    assert isinstance(seen[0], ValueError)


def test_plain_runnables_share_the_lane(qtbot):
    """The bin's import task is a QRunnable: it takes its turn in the bin's lane."""
    from PySide6.QtCore import QRunnable

    done = threading.Event()

    class Task(QRunnable):
        def run(self) -> None:
            done.set()

    receiver = Receiver()
    lane = workers.Workers(receiver, limit=1)
    lane.start(Task())
    assert lane.waitForDone(5000) and done.is_set()
    assert isinstance(workers.shared_pool(), QThreadPool)
