"""ModelManager: jobs on one worker thread, signals received in the GUI thread, cancel,
shutdown, a failed job leaves the thread alive. Real clips (PyAV) and real jobs."""

from __future__ import annotations

import time

import pytest
from PySide6.QtCore import QCoreApplication, QObject, QThread, QTimer, Slot

from studio.inference.engine import (
    CaptionBatchJob,
    CaptionItem,
    CaptionJob,
    FramesJob,
    new_job_id,
)
from studio.ui.model_manager import ModelManager
from tests.media_factory import make_bad, make_video


class Sink(QObject):
    """Lives in the GUI thread; records every manager signal with the thread it arrived in."""

    def __init__(self, manager: ModelManager):
        super().__init__()
        self.events: list[tuple] = []
        self.wrong_thread: list[str] = []
        for name in ("job_queued", "job_started", "progress", "item_started", "text", "frames",
                     "item_finished", "item_failed", "job_finished", "job_failed",
                     "job_cancelled", "busy_changed"):
            getattr(manager, name).connect(getattr(self, name))

    def _add(self, name, *args):
        if QThread.currentThread() is not QCoreApplication.instance().thread():
            self.wrong_thread.append(name)
        self.events.append((name, *args))

    @Slot(int)
    def job_queued(self, job_id): self._add("job_queued", job_id)
    @Slot(int, str)
    def job_started(self, job_id, description): self._add("job_started", job_id, description)
    @Slot(int, int, int, float)
    def progress(self, job_id, done, total, eta): self._add("progress", job_id, done, total, eta)
    @Slot(int, int)
    def item_started(self, job_id, index): self._add("item_started", job_id, index)
    @Slot(int, str)
    def text(self, job_id, chunk): self._add("text", job_id, chunk)
    @Slot(int, object)
    def frames(self, job_id, frames): self._add("frames", job_id, frames)
    @Slot(int, int, object)
    def item_finished(self, job_id, index, result): self._add("item_finished", job_id, index, result)
    @Slot(int, int, str)
    def item_failed(self, job_id, index, message): self._add("item_failed", job_id, index, message)
    @Slot(int, object)
    def job_finished(self, job_id, result): self._add("job_finished", job_id, result)
    @Slot(int, str)
    def job_failed(self, job_id, message): self._add("job_failed", job_id, message)
    @Slot(int)
    def job_cancelled(self, job_id): self._add("job_cancelled", job_id)
    @Slot(bool)
    def busy_changed(self, busy): self._add("busy_changed", busy)

    def names(self, job_id=None):
        return [e[0] for e in self.events
                if job_id is None or (e[0] != "busy_changed" and e[1] == job_id)]

    def ended(self, job_id):
        """How the job ended, or None while it has not."""
        for e in self.events:
            if e[0] in ("job_finished", "job_failed", "job_cancelled") and e[1] == job_id:
                return e[0]
        return None

    def result(self, job_id):
        return next(e[2] for e in self.events if e[0] in ("job_finished", "job_failed")
                    and e[1] == job_id)


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("manager-clips")
    return {
        "short": make_video(folder / "short.mp4", width=48, height=32, frames=12, fps=12),
        "long": make_video(folder / "long.mp4", width=64, height=48, frames=240, fps=24),
        "broken": make_bad(folder, "text", name="broken.mp4"),
    }


@pytest.fixture(scope="module")
def tiny_model(tiny_captioner_dir):
    return str(tiny_captioner_dir)


def settings(max_new_tokens=8):
    from studio.inference.captioner import CaptionSettings

    return CaptionSettings(max_new_tokens=max_new_tokens)


def long_caption(path, model):
    """Thousands of tokens: several seconds here, unless it is cancelled."""
    return CaptionJob(new_job_id(), 1, str(path), settings(2000), model)


@pytest.fixture
def manager(qapp):
    m = ModelManager(device="cpu")
    yield m
    assert m.shutdown()


def test_a_job_runs_on_the_worker_thread_and_its_signals_arrive_in_the_gui_thread(
        qtbot, manager, clips):
    sink = Sink(manager)
    job = FramesJob(new_job_id(), 3, str(clips["short"]), count=3)
    manager.submit(job)
    qtbot.waitUntil(lambda: sink.ended(job.job_id) is not None, timeout=60_000)
    qtbot.waitUntil(lambda: sink.events[-1] == ("busy_changed", False))
    assert sink.wrong_thread == []
    assert sink.names() == ["job_queued", "busy_changed", "job_started", "progress", "progress",
                            "progress", "progress", "frames", "job_finished", "busy_changed"]
    assert [f.index for f in sink.result(job.job_id)] == [0, 6, 11]
    assert manager.pending() == []


def test_jobs_run_in_submission_order_and_a_failed_job_does_not_stop_the_next(
        qtbot, manager, clips):
    sink = Sink(manager)
    jobs = [FramesJob(new_job_id(), None, str(clips[name]), count=2)
            for name in ("short", "broken", "short")]
    for job in jobs:
        manager.submit(job)
    qtbot.waitUntil(lambda: sink.ended(jobs[-1].job_id) is not None, timeout=60_000)
    assert [sink.ended(j.job_id) for j in jobs] == ["job_finished", "job_failed", "job_finished"]
    assert "broken.mp4: not a media file" in sink.result(jobs[1].job_id)
    started = [e[1] for e in sink.events if e[0] == "job_started"]
    assert started == [j.job_id for j in jobs]
    # One busy period for the three queued jobs.
    assert [e[1] for e in sink.events if e[0] == "busy_changed"][:1] == [True]
    qtbot.waitUntil(lambda: sink.events[-1] == ("busy_changed", False))


def test_cancel_everything_stops_the_running_caption_and_drops_the_queued_jobs(
        qtbot, manager, clips, tiny_model):
    sink = Sink(manager)
    running = long_caption(clips["short"], tiny_model)
    queued = [FramesJob(new_job_id(), None, str(clips["short"]), count=2),
              CaptionJob(new_job_id(), 2, str(clips["short"]), settings(), tiny_model)]
    for job in (running, *queued):
        manager.submit(job)
    qtbot.waitUntil(lambda: "text" in sink.names(running.job_id), timeout=60_000)
    manager.cancel()
    qtbot.waitUntil(lambda: all(sink.ended(j.job_id) for j in (running, *queued)), timeout=5_000)
    assert [sink.ended(j.job_id) for j in (running, *queued)] == ["job_cancelled"] * 3
    for job in queued:
        assert sink.names(job.job_id) == ["job_queued", "job_cancelled"]  # never started
    # The manager goes on: a later job runs.
    later = CaptionJob(new_job_id(), 1, str(clips["short"]), settings(), tiny_model)
    manager.submit(later)
    qtbot.waitUntil(lambda: sink.ended(later.job_id) == "job_finished", timeout=60_000)


def test_cancel_one_queued_job_leaves_the_others(qtbot, manager, clips):
    sink = Sink(manager)
    jobs = [FramesJob(new_job_id(), None, str(clips["short"]), count=2) for _ in range(3)]
    for job in jobs:
        manager.submit(job)
    manager.cancel(jobs[1].job_id)
    manager.cancel(123456789)  # not a job: nothing happens
    qtbot.waitUntil(lambda: all(sink.ended(j.job_id) for j in jobs), timeout=60_000)
    assert [sink.ended(j.job_id) for j in jobs] == ["job_finished", "job_cancelled",
                                                    "job_finished"]


def test_submitting_a_job_id_twice_is_refused(manager, clips, tiny_model):
    job = long_caption(clips["short"], tiny_model)
    manager.submit(job)
    with pytest.raises(ValueError, match="already queued"):
        manager.submit(job)


def test_a_caption_streams_into_the_gui_thread_and_a_failed_job_leaves_the_thread_alive(
        qtbot, manager, clips, tiny_model, tmp_path):
    sink = Sink(manager)
    missing = CaptionJob(new_job_id(), 1, str(clips["short"]), settings(),
                         str(tmp_path / "no-such-model"))
    batch = CaptionBatchJob(new_job_id(), [CaptionItem(1, str(clips["short"])),
                                           CaptionItem(2, str(clips["broken"]))],
                            tiny_model, settings())
    for job in (missing, batch):
        manager.submit(job)
    qtbot.waitUntil(lambda: sink.ended(batch.job_id) is not None, timeout=60_000)
    assert sink.wrong_thread == []
    assert sink.ended(missing.job_id) == "job_failed"
    assert "no-such-model" in sink.result(missing.job_id)
    assert sink.ended(batch.job_id) == "job_finished"
    names = sink.names(batch.job_id)
    assert names.index("item_started") < names.index("frames") < names.index("text") \
        < names.index("item_finished") < names.index("item_failed")
    result = sink.result(batch.job_id)
    assert result.succeeded == 1 and "broken.mp4" in result.errors[1]
    streamed = "".join(e[2] for e in sink.events if e[0] == "text" and e[1] == batch.job_id)
    assert streamed.strip() == result.results[0].text


def test_shutdown_during_a_caption_returns_within_2_s_and_is_safe_twice(
        qtbot, qapp, clips, tiny_model):
    manager = ModelManager(device="cpu")
    sink = Sink(manager)
    job = long_caption(clips["short"], tiny_model)
    manager.submit(job)
    manager.submit(FramesJob(new_job_id(), None, str(clips["short"])))
    qtbot.waitUntil(lambda: "text" in sink.names(job.job_id), timeout=60_000)
    start = time.monotonic()
    assert manager.shutdown() is True
    assert time.monotonic() - start < 2.0
    assert manager.thread_finished
    assert manager.shutdown() is True
    qapp.processEvents()  # what the worker emitted before it stopped
    assert sink.ended(job.job_id) == "job_cancelled"
    with pytest.raises(RuntimeError, match="shut down"):
        manager.submit(FramesJob(new_job_id(), None, str(clips["short"])))


def test_the_gui_event_loop_keeps_running_while_a_model_loads_and_captions(
        qtbot, qapp, clips, tiny_model, tmp_path):
    import shutil

    # A model folder no other test loaded, and a new manager: the load happens during the job.
    model = str(shutil.copytree(tiny_model, tmp_path / "fresh-model"))
    manager = ModelManager(device="cpu")
    sink = Sink(manager)
    gaps: list[float] = []
    last = [time.perf_counter()]

    class Ticker(QObject):
        @Slot()
        def tick(self):
            now = time.perf_counter()
            gaps.append(now - last[0])
            last[0] = now

    ticker = Ticker()
    timer = QTimer()
    timer.setInterval(5)
    timer.timeout.connect(ticker.tick)
    jobs = [CaptionJob(new_job_id(), 1, str(clips["long"]), settings(200), model),
            FramesJob(new_job_id(), None, str(clips["long"]), count=120)]
    try:
        timer.start()
        last[0] = time.perf_counter()
        for job in jobs:
            manager.submit(job)
        qtbot.waitUntil(lambda: sink.ended(jobs[-1].job_id) is not None, timeout=60_000)
        timer.stop()
    finally:
        assert manager.shutdown()
    assert [sink.ended(j.job_id) for j in jobs] == ["job_finished", "job_finished"]
    assert "text" in sink.names(jobs[0].job_id)
    assert len(gaps) > 20
    print(f"worst GUI gap {max(gaps) * 1000:.0f} ms over {len(gaps)} ticks")
    assert max(gaps) < 0.100, f"worst GUI gap {max(gaps) * 1000:.0f} ms"


QUIT_DURING_CAPTION = r"""
import sys, time
from PySide6.QtCore import QCoreApplication, QObject, Slot
from studio.inference.captioner import CaptionSettings
from studio.inference.engine import CaptionJob
from studio.ui.model_manager import ModelManager

app = QCoreApplication([])
manager = ModelManager(device="cpu")
quit_at = []


class Quitter(QObject):
    @Slot(int, str)
    def on_text(self, job_id, chunk):
        if not quit_at:
            quit_at.append(time.monotonic())
            app.quit()  # as closing the last window does; nobody calls shutdown()


quitter = Quitter()
manager.text.connect(quitter.on_text)
manager.submit(CaptionJob(1, 1, sys.argv[2], CaptionSettings(max_new_tokens=4096), sys.argv[1]))
app.exec()
print("QUIT", round(time.monotonic() - quit_at[0], 3), manager.thread_finished, flush=True)
"""


def test_quitting_the_app_during_a_caption_stops_the_thread_and_exits_cleanly(
        tmp_path, clips, tiny_model):
    import os
    import subprocess
    import sys

    script = tmp_path / "quit_during_caption.py"
    script.write_text(QUIT_DURING_CAPTION)
    result = subprocess.run([sys.executable, str(script), tiny_model, str(clips["short"])],
                            check=False, capture_output=True, text=True, timeout=120,
                            env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert result.returncode == 0, result.stderr[-2000:]
    (line,) = [x for x in result.stdout.splitlines() if x.startswith("QUIT")]
    _, seconds, finished = line.split()
    assert float(seconds) < 2.0 and finished == "True"


class HandleSink(QObject):
    """Records one JobHandle's signals, with the thread each arrived in."""

    def __init__(self, handle):
        super().__init__()
        self.events: list[tuple] = []
        self.wrong_thread = 0
        handle.started.connect(self.started)
        handle.progress.connect(self.progress)
        handle.frames.connect(self.frames)
        handle.finished.connect(self.finished)
        handle.failed.connect(self.failed)
        handle.cancelled.connect(self.cancelled)

    def _add(self, *event):
        self.wrong_thread += QThread.currentThread() is not QCoreApplication.instance().thread()
        self.events.append(event)

    @Slot(int, str)
    def started(self, job_id, description): self._add("started", job_id)
    @Slot(int, int, int, float)
    def progress(self, job_id, done, total, eta): self._add("progress", job_id)
    @Slot(int, object)
    def frames(self, job_id, frames): self._add("frames", job_id)
    @Slot(int, object)
    def finished(self, job_id, result): self._add("finished", job_id, result)
    @Slot(int, str)
    def failed(self, job_id, message): self._add("failed", job_id, message)
    @Slot(int)
    def cancelled(self, job_id): self._add("cancelled", job_id)


def test_each_job_handle_reports_its_own_job_alone(qtbot, manager, clips, tmp_path):
    """Issue 15 item 2: submit returns a handle whose signals are that job's alone, in the
    GUI thread; no listener has to filter every job's results."""
    first = FramesJob(new_job_id(), None, str(clips["short"]), count=2)
    broken = FramesJob(new_job_id(), None, str(tmp_path / "none.mp4"), count=2)
    third = FramesJob(new_job_id(), None, str(clips["short"]), count=3)
    handles = [manager.submit(job) for job in (first, broken, third)]
    assert [h.job_id for h in handles] == [first.job_id, broken.job_id, third.job_id]
    manager.cancel(third.job_id)
    sinks = [HandleSink(h) for h in handles]
    qtbot.waitUntil(lambda: all(h.done for h in handles), timeout=60_000)
    for handle, sink in zip(handles, sinks):
        assert {e[1] for e in sink.events} == {handle.job_id} and sink.wrong_thread == 0
    assert [e[0] for e in sinks[0].events][-2:] == ["frames", "finished"]
    assert [len(f) for e in sinks[0].events if e[0] == "finished" for f in [e[2]]] == [2]
    assert sinks[1].events[-1][0] == "failed" and "none.mp4" in sinks[1].events[-1][2]
    assert [e[0] for e in sinks[2].events] == ["cancelled"]
