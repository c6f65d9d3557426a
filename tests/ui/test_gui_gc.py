"""Garbage is collected in the GUI thread only while the window runs (ui.gui_gc): Python's
automatic collector ran in whatever thread allocated past its threshold (a pool worker, the
model manager), where a cycle holding Qt objects of the GUI thread must not be destroyed."""

from __future__ import annotations

import gc
import threading

from studio.ui.gui_gc import GuiThreadCollector


def make_cycles(count: int = 100_000) -> None:
    for _ in range(count):
        cycle: list = []
        cycle.append(cycle)


def collections_in(work) -> list[bool]:
    """For each collection while ``work`` runs on a thread: whether it ran in the main one."""
    seen: list[bool] = []

    def callback(phase, _info):
        if phase == "start":
            seen.append(threading.current_thread() is threading.main_thread())

    gc.callbacks.append(callback)
    try:
        thread = threading.Thread(target=work)
        thread.start()
        thread.join()
    finally:
        gc.callbacks.remove(callback)
    return seen


def test_collections_happen_in_the_gui_thread_only(qtbot):
    was_enabled = gc.isenabled()
    gc.enable()
    try:
        assert False in collections_in(make_cycles)  # Python's own: in the worker's thread
        collector = GuiThreadCollector(interval_ms=10)
        try:
            assert not gc.isenabled()
            assert collections_in(make_cycles) == []  # none in the worker now
            seen: list[bool] = []

            def callback(phase, _info):
                if phase == "start":
                    seen.append(threading.current_thread() is threading.main_thread())

            gc.callbacks.append(callback)
            try:
                # garbage made while waiting too: the session's own collector (tests/ui/
                # conftest.py, every 500 ms) may collect the worker's first, and an idle wait
                # then never brought the counts past the thresholds again (failed once in CI)
                qtbot.waitUntil(lambda: make_cycles(2_000) or collector.collections > 0,
                                timeout=5000)
            finally:
                gc.callbacks.remove(callback)
            assert seen and all(seen)  # the garbage the worker left, collected here
        finally:
            collector.stop()
        assert gc.isenabled()
    finally:
        if not was_enabled:
            gc.disable()
