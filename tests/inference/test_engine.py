"""Engine: jobs one at a time, events in order, failures as messages, cancel, resident models.

Real clips made with PyAV; fault injection only where a real failure cannot be made on demand
(a GPU running out of memory)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from studio.core.cancel import CancelToken
from studio.inference.engine import (
    CaptionBatchJob,
    CaptionItem,
    CaptionJob,
    Engine,
    EngineEvents,
    FramesJob,
    describe_failure,
    new_job_id,
)
from tests.media_factory import frame_number_of, make_bad, make_video


class Recorder(EngineEvents):
    """Every event as (name, job_id, *args), in the order they came."""

    def __init__(self):
        self.events: list[tuple] = []
        self.hooks: dict = {}  # event name -> callable(*args), run when it arrives

    def _add(self, name, *args):
        self.events.append((name, *args))
        if name in self.hooks:
            self.hooks[name](*args)

    def started(self, job_id, description): self._add("started", job_id, description)
    def progress(self, job_id, done, total, eta_s): self._add("progress", job_id, done, total, eta_s)
    def item_started(self, job_id, index): self._add("item_started", job_id, index)
    def text(self, job_id, chunk): self._add("text", job_id, chunk)
    def frames(self, job_id, frames): self._add("frames", job_id, frames)
    def item_finished(self, job_id, index, result): self._add("item_finished", job_id, index, result)
    def item_failed(self, job_id, index, message): self._add("item_failed", job_id, index, message)
    def finished(self, job_id, result): self._add("finished", job_id, result)
    def failed(self, job_id, message): self._add("failed", job_id, message)
    def cancelled(self, job_id): self._add("cancelled", job_id)

    def names(self, job_id=None):
        return [e[0] for e in self.events if job_id is None or e[1] == job_id]

    def of(self, name):
        return [e for e in self.events if e[0] == name]


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("engine-clips")
    return {
        "walk": make_video(folder / "walk.mp4", width=64, height=48, frames=40, fps=20),
        "pan": make_video(folder / "pan.mp4", width=48, height=64, frames=12, fps=12),
        "broken": make_bad(folder, "text", name="broken.mp4"),
    }


# ---- jobs without a model ----------------------------------------------------------------------

def test_frames_job_reports_events_in_order_and_returns_exact_frames(clips):
    rec = Recorder()
    engine = Engine(rec)
    job = FramesJob(new_job_id(), clip_id=7, path=str(clips["walk"]), count=4,
                    in_frame=10, out_frame=31)
    frames = engine.run(job)
    assert [f.index for f in frames] == [10, 17, 24, 31]
    assert [frame_number_of(f.image) for f in frames] == [10, 17, 24, 31]
    assert rec.names() == ["started", "progress", "progress", "progress", "progress",
                           "progress", "frames", "finished"]
    assert all(e[1] == job.job_id for e in rec.events)
    assert "walk.mp4" in rec.events[0][2]
    progress = [e[2:] for e in rec.of("progress")]
    assert [(d, t) for d, t, _ in progress] == [(0, 4), (1, 4), (2, 4), (3, 4), (4, 4)]
    assert progress[0][2] == -1.0 and progress[-1][2] == 0.0
    assert all(eta >= 0 for _, _, eta in progress[1:])
    assert rec.of("finished")[0][2] is frames


def test_bad_file_fails_with_its_message_and_the_next_job_runs(clips):
    rec = Recorder()
    engine = Engine(rec)
    bad = FramesJob(new_job_id(), None, str(clips["broken"]), count=2)
    assert engine.run(bad) is None
    (failed,) = rec.of("failed")
    assert failed[1] == bad.job_id
    assert str(clips["broken"]) in failed[2] and "not a media file" in failed[2]
    assert "Traceback" not in failed[2] and "\n" not in failed[2]
    good = FramesJob(new_job_id(), None, str(clips["pan"]), count=2)
    assert [f.index for f in engine.run(good)] == [0, 11]
    assert rec.names(good.job_id)[-1] == "finished"


def test_a_missing_file_and_an_out_of_range_in_point_are_messages(clips, tmp_path):
    rec = Recorder()
    engine = Engine(rec)
    engine.run(FramesJob(1, None, str(tmp_path / "gone.mp4")))
    engine.run(FramesJob(2, None, str(clips["pan"]), in_frame=500))
    engine.run(FramesJob(3, None, str(clips["pan"]), count=0))
    messages = {e[1]: e[2] for e in rec.of("failed")}
    assert "gone.mp4" in messages[1] and "not found" in messages[1]
    assert "pan.mp4" in messages[2] and "500" in messages[2]
    assert "count must be at least 1" in messages[3]
    assert all("\n" not in m for m in messages.values())


def test_cancel_mid_job_from_another_call_stops_it_and_reports_cancelled(clips):
    rec = Recorder()
    engine = Engine(rec)
    job = FramesJob(new_job_id(), None, str(clips["walk"]), count=10)
    # A cancel arriving while the second frame is being reported (as from the GUI thread).
    rec.hooks["progress"] = lambda job_id, done, total, eta: done == 2 and engine.cancel(job_id)
    assert engine.run(job) is None
    names = rec.names()
    assert names[-1] == "cancelled" and "finished" not in names and "frames" not in names
    assert max(e[2] for e in rec.of("progress")) == 2
    assert engine.cancel() is False  # nothing runs any more


def test_cancel_names_a_job(clips):
    rec = Recorder()
    engine = Engine(rec)
    job = FramesJob(new_job_id(), None, str(clips["walk"]), count=3)
    told = []
    rec.hooks["started"] = lambda job_id, _: told.append(
        (engine.cancel(job_id + 1000), engine.cancel(job_id)))
    engine.run(job)
    assert told == [(False, True)]
    assert rec.names()[-1] == "cancelled"


def test_a_job_whose_token_is_cancelled_before_it_starts_reports_only_cancelled(clips):
    rec = Recorder()
    token = CancelToken()
    token.cancel()
    assert Engine(rec).run(FramesJob(5, None, str(clips["walk"])), token) is None
    assert rec.events == [("cancelled", 5)]


def test_an_unknown_job_type_fails_with_a_message():
    rec = Recorder()

    class Strange:
        job_id = 9

    Engine(rec).run(Strange())
    assert rec.events == [("failed", 9, "job 9 failed: TypeError: the engine cannot run a Strange")]


def test_a_failing_listener_does_not_stop_the_end_of_a_job_being_reported(clips):
    class Broken(Recorder):
        def finished(self, job_id, result):
            raise RuntimeError("listener bug")

    rec = Broken()
    engine = Engine(rec)
    engine.run(FramesJob(1, None, str(clips["pan"]), count=1))  # does not raise
    assert engine.run(FramesJob(2, None, str(clips["pan"]), count=1)) is not None


# ---- failure messages --------------------------------------------------------------------------

def test_failure_messages_a_person_can_act_on(tmp_path):
    import torch

    from studio.core.media import NotMediaError

    doing = "captioning a.mp4"
    assert describe_failure(doing, NotMediaError("/x/a.mp4")) == "/x/a.mp4: not a media file"
    oom = "out of GPU memory while captioning a.mp4: try a smaller model or fewer frames"
    assert describe_failure(doing, torch.cuda.OutOfMemoryError("CUDA out of memory. Tried...")) == oom
    assert describe_failure(doing, RuntimeError("CUDA error: out of memory\nmore")) == oom
    assert describe_failure(doing, MemoryError()).startswith("out of memory while captioning a.mp4")
    assert describe_failure(doing, RuntimeError(
        "[enforce fail at alloc_cpu.cpp:119] DefaultCPUAllocator: can't allocate memory"
    )).startswith("out of memory while captioning a.mp4")
    assert describe_failure(doing, ValueError("bad\nsecond line")) == \
        "captioning a.mp4 failed: ValueError: bad"
    assert describe_failure(doing, KeyError()) == "captioning a.mp4 failed: KeyError"
    long = describe_failure(doing, ValueError("x" * 1000))
    assert len(long) < 260 and long.endswith("...")
    perm = PermissionError(13, "Permission denied", str(tmp_path / "a.mp4"))
    assert describe_failure(doing, perm) == \
        f"captioning a.mp4 failed: Permission denied ({tmp_path / 'a.mp4'})"


def test_importing_the_engine_costs_no_torch():
    code = ("import sys\n"
            "import studio.inference.engine as e\n"
            "e.CaptionJob(e.new_job_id(), 1, 'a.mp4'); e.FramesJob(2, 1, 'a.mp4')\n"
            "print([m for m in ('torch', 'transformers') if m in sys.modules])\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=True).stdout
    assert out.strip() == "[]"


def test_import_ml_stack_freezes_the_heap_and_leaves_the_collector_on():
    code = ("import gc, sys\n"
            "from studio.inference.engine import import_ml_stack\n"
            "import_ml_stack()\n"
            "print('torch' in sys.modules, 'transformers' in sys.modules, gc.isenabled(),"
            " gc.get_freeze_count() > 100000)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    assert out.split() == ["True", "True", "True", "True"]


# ---- captions with a tiny SmolVLM2 (random weights, the real on-disk layout) -------------------

@pytest.fixture(scope="module")
def tiny_model(tiny_captioner_dir):
    return str(tiny_captioner_dir)


@pytest.fixture(scope="module")
def other_model(tiny_model, tmp_path_factory):
    """The same weights under another folder: another model as far as the engine knows."""
    import shutil

    return shutil.copytree(tiny_model, tmp_path_factory.mktemp("models2") / "other-smolvlm2")


def counting_loader(loads: list):
    """The real loader, counting what it loads."""
    from studio.inference.captioner import Captioner

    def load(model, device):
        loads.append(model)
        return Captioner.load(model, device)

    return load


def settings(**kw):
    from studio.inference.captioner import CaptionSettings

    return CaptionSettings(**{"max_new_tokens": 8, **kw})


def test_caption_job_streams_text_and_frames_in_order_and_finishes(clips, tiny_model):
    rec = Recorder()
    engine = Engine(rec, device="cpu")
    job = CaptionJob(new_job_id(), 4, str(clips["walk"]), settings(), tiny_model,
                     in_frame=20, out_frame=39)
    result = engine.run(job)
    names = rec.names()
    assert names[:3] == ["started", "progress", "frames"]
    assert names[-2:] == ["progress", "finished"]
    assert set(names[3:-2]) == {"text"}
    assert "walk.mp4" in rec.events[0][2] and Path(tiny_model).name in rec.events[0][2]
    assert [e[2:4] for e in rec.of("progress")] == [(0, 1), (1, 1)]
    streamed = "".join(e[2] for e in rec.of("text"))
    assert result.text and streamed.strip() == result.text
    (frames_event,) = rec.of("frames")
    assert [f.index for f in frames_event[2]] == result.frame_indices
    assert all(20 <= i <= 39 for i in result.frame_indices)
    assert rec.of("finished")[0][2] is result


def test_a_batch_loads_the_model_once_and_a_bad_file_fails_only_its_item(clips, tiny_model):
    rec, loads = Recorder(), []
    engine = Engine(rec, device="cpu", load_captioner=counting_loader(loads))
    items = [CaptionItem(1, str(clips["walk"])), CaptionItem(2, str(clips["broken"])),
             CaptionItem(3, str(clips["pan"]), in_frame=2, out_frame=9)]
    job = CaptionBatchJob(new_job_id(), items, tiny_model, settings())
    outcome = engine.run(job)
    assert loads == [tiny_model]
    assert [e[2] for e in rec.of("item_started")] == [0, 1, 2]
    assert [e[2] for e in rec.of("item_finished")] == [0, 2]
    (failed,) = rec.of("item_failed")
    assert failed[2] == 1 and failed[3].startswith(f"{clips['broken']}: not a media file")
    assert [e[2:4] for e in rec.of("progress")] == [(0, 3), (1, 3), (2, 3), (3, 3)]
    etas = [e[4] for e in rec.of("progress")]
    assert etas[0] == -1.0 and etas[-1] == 0.0 and etas[1] > 0
    assert rec.names()[-1] == "finished" and rec.of("finished")[0][2] is outcome
    assert outcome.succeeded == 2 and outcome.failed == 1 and outcome.results[1] is None
    assert outcome.errors == {1: failed[3]}
    assert all(2 <= i <= 9 for i in outcome.results[2].frame_indices)
    # The next job with the same model reuses it.
    engine.run(CaptionJob(new_job_id(), 1, str(clips["pan"]), settings(), tiny_model))
    assert loads == [tiny_model] and engine.resident_models == [tiny_model]


def test_switching_models_unloads_the_previous_one(clips, tiny_model, other_model):
    rec, loads = Recorder(), []
    engine = Engine(rec, device="cpu", load_captioner=counting_loader(loads))
    engine.run(CaptionJob(new_job_id(), 1, str(clips["pan"]), settings(), tiny_model))
    first = engine.captioner(tiny_model)
    assert first.loaded
    engine.run(CaptionJob(new_job_id(), 1, str(clips["pan"]), settings(), str(other_model)))
    assert not first.loaded  # weights dropped before the other model loaded
    assert engine.resident_models == [str(other_model)]
    assert loads == [tiny_model, str(other_model)]
    engine.unload()
    assert engine.resident_models == []
    assert rec.names().count("finished") == 2


def test_out_of_gpu_memory_is_a_message_and_the_engine_goes_on(clips, tiny_model, monkeypatch):
    import torch

    rec = Recorder()
    engine = Engine(rec, device="cpu")
    captioner = engine.captioner(tiny_model)

    def out_of_memory(*args, **kwargs):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(captioner.model, "generate", out_of_memory)
    job = CaptionJob(new_job_id(), 1, str(clips["walk"]), settings(), tiny_model)
    assert engine.run(job) is None
    assert rec.events[-1] == ("failed", job.job_id, ("out of GPU memory while captioning walk.mp4: "
                                                     "try a smaller model or fewer frames"))
    # In a batch the item fails and the batch goes on.
    batch = CaptionBatchJob(new_job_id(), [CaptionItem(1, str(clips["pan"]))] * 2, tiny_model,
                            settings())
    engine.run(batch)
    assert [e[2] for e in rec.of("item_failed")] == [0, 1]
    assert rec.events[-1][0] == "finished"
    monkeypatch.undo()
    assert engine.run(CaptionJob(new_job_id(), 1, str(clips["pan"]), settings(), tiny_model))


def test_cancel_mid_caption_stops_generation_at_once(clips, tiny_model):
    rec = Recorder()
    engine = Engine(rec, device="cpu")
    engine.captioner(tiny_model)  # loaded beforehand: the time below is generation only
    job = CaptionJob(new_job_id(), 1, str(clips["walk"]), settings(max_new_tokens=2000),
                     tiny_model)
    told = []
    rec.hooks["text"] = lambda job_id, chunk: told or told.append(engine.cancel(job_id))
    start = time.monotonic()
    assert engine.run(job) is None
    assert time.monotonic() - start < 2.0  # 2000 tokens take several seconds here
    assert told == [True]
    assert rec.names()[-1] == "cancelled" and "finished" not in rec.names()
    # The model stays loaded and the next job runs.
    assert engine.run(CaptionJob(new_job_id(), 1, str(clips["pan"]), settings(), tiny_model))


def test_cancel_mid_batch_stops_the_batch_at_once(clips, tiny_model):
    rec = Recorder()
    engine = Engine(rec, device="cpu")
    items = [CaptionItem(i, str(clips["pan"])) for i in range(4)]
    job = CaptionBatchJob(new_job_id(), items, tiny_model, settings(max_new_tokens=4))
    rec.hooks["item_finished"] = lambda job_id, index, result: engine.cancel(job_id)
    assert engine.run(job) is None
    assert [e[2] for e in rec.of("item_started")] == [0]
    assert [e[2] for e in rec.of("item_finished")] == [0]
    assert rec.names()[-2:] == ["progress", "cancelled"]


def test_cancel_while_a_batch_item_streams(clips, tiny_model):
    rec = Recorder()
    engine = Engine(rec, device="cpu")
    engine.captioner(tiny_model)
    items = [CaptionItem(i, str(clips["pan"])) for i in range(3)]
    job = CaptionBatchJob(new_job_id(), items, tiny_model, settings(max_new_tokens=2000))
    rec.hooks["text"] = lambda job_id, chunk: engine.cancel(job_id)
    start = time.monotonic()
    assert engine.run(job) is None
    assert time.monotonic() - start < 2.0
    assert [e[2] for e in rec.of("item_started")] == [0]
    assert rec.of("item_finished") == rec.of("item_failed") == []
    assert rec.names()[-1] == "cancelled"


def test_missing_and_broken_models_and_bad_settings_are_messages(clips, tiny_model, tmp_path):
    rec = Recorder()
    engine = Engine(rec, device="cpu")
    engine.run(CaptionJob(1, 1, str(clips["pan"]), settings(), str(tmp_path / "no-such-model")))
    broken = tmp_path / "broken-model"
    broken.mkdir()
    (broken / "config.json").write_text("{not json")
    engine.run(CaptionJob(2, 1, str(clips["pan"]), settings(), str(broken)))
    engine.run(CaptionJob(3, 1, str(clips["pan"]), settings(max_new_tokens=0), tiny_model))
    engine.run(CaptionJob(4, 1, str(clips["pan"]), settings(), tiny_model, in_frame=99))
    engine.run(CaptionBatchJob(5, [CaptionItem(1, str(clips["pan"]))],
                               str(tmp_path / "no-such-model"), settings()))
    messages = {e[1]: e[2] for e in rec.of("failed")}
    assert sorted(messages) == [1, 2, 3, 4, 5]
    assert "no-such-model" in messages[1]
    assert "broken-model" in messages[2]
    assert messages[3].startswith("caption settings: max_new_tokens")
    assert messages[4].startswith(str(clips["pan"])) and "99" in messages[4]
    assert messages[5] == messages[1]
    for message in messages.values():
        assert "\n" not in message and "Traceback" not in message
    assert engine.run(CaptionJob(6, 1, str(clips["pan"]), settings(), tiny_model))


def test_out_of_memory_advice_suggests_only_what_is_not_on_yet():
    from studio.inference.engine import _memory_advice

    assert _memory_advice(("device", False)) == \
        "fewer frames, a smaller size, VAE tiling, or model CPU offload"
    assert _memory_advice(("model", True)) == \
        "fewer frames, a smaller size, or sequential CPU offload"
    assert _memory_advice(("sequential", True)) == "fewer frames, or a smaller size"
    assert _memory_advice(None) == _memory_advice(("device", False))


def test_the_gui_keeps_a_core_when_models_run_on_the_cpu():
    import os

    import torch

    from studio.inference.devices import leave_a_core_free

    before = torch.get_num_threads()
    try:
        assert leave_a_core_free("cuda") is None and torch.get_num_threads() == before
        expected = max(1, (os.cpu_count() or 1) - 1)
        assert leave_a_core_free("cpu") == expected == torch.get_num_threads()
    finally:
        torch.set_num_threads(before)
