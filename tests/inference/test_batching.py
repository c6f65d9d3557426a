"""Batched captioning on the tiny SmolVLM2 (random weights, real layout) and real clips: N clips
per forward pass give the greedy captions one-at-a-time gives (prompts of different lengths,
different frame counts, a still image, in/out ranges), a bad clip fails alone, results come
item by item through the engine, running out of memory splits a batch, cancel stops it."""

from __future__ import annotations

import pytest

from studio.core.cancel import Cancelled, CancelToken
from studio.inference.batching import (
    MAX_BATCH,
    MAX_CPU_BATCH,
    BatchCallbacks,
    ClipInput,
    auto_batch_size,
    caption_many,
    clip_bytes,
    parse_batch_size,
)
from studio.inference.captioner import CaptionSettings
from studio.inference.engine import CaptionBatchJob, CaptionItem, CaptionJob, Engine, new_job_id
from tests.inference.test_engine import Recorder
from tests.media_factory import make_bad, make_image, make_video

TOKENS = 16


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("batch-clips")
    made = [make_video(folder / f"clip{i}.mp4", frames=20 + 13 * i, fps=10, gop=10,
                       quality=20 + 3 * i) for i in range(4)]
    made.append(make_image(folder / "still.png", width=80, height=60))
    made.append(make_video(folder / "tall.mp4", width=48, height=96, frames=30, fps=10))
    return made


@pytest.fixture(scope="module")
def inputs(clips) -> list[ClipInput]:
    """Clips with different frame counts (so prompts of different lengths), a still, a range."""
    return [ClipInput(str(p)) for p in clips] + [ClipInput(str(clips[3]), 5, 40)]


@pytest.fixture(scope="module")
def singles(tiny_captioner, inputs) -> list:
    settings = CaptionSettings(max_new_tokens=TOKENS)
    return [tiny_captioner.caption(c.path, settings, in_frame=c.in_frame, out_frame=c.out_frame)
            for c in inputs]


def _collect(tiny_captioner, inputs, batch_size, **kw):
    results, failures, started = {}, {}, []
    calls = BatchCallbacks(started=started.append,
                           finished=lambda i, r: results.__setitem__(i, r),
                           failed=lambda i, err: failures.__setitem__(i, err))
    used = caption_many(tiny_captioner, inputs, CaptionSettings(max_new_tokens=TOKENS),
                        batch_size=batch_size, callbacks=calls, **kw)
    return used, results, failures, started


@pytest.mark.parametrize("batch_size", [2, 3, 7])
def test_batched_greedy_captions_equal_one_at_a_time(tiny_captioner, inputs, singles, batch_size):
    used, results, failures, started = _collect(tiny_captioner, inputs, batch_size)
    assert used == batch_size and not failures and started == list(range(len(inputs)))
    assert list(results) == list(range(len(inputs)))  # item by item, in order
    assert len({r.text for r in singles}) > 3  # the clips do get different captions
    for index, single in enumerate(singles):
        batched = results[index]
        assert batched.text == single.text, f"clip {index}"
        assert batched.frame_indices == single.frame_indices
        assert batched.settings == single.settings and batched.prompt == single.prompt


def test_a_clip_that_cannot_be_read_fails_alone(tiny_captioner, inputs, singles, tmp_path):
    bad = make_bad(tmp_path, "random")
    mixed = inputs[:2] + [ClipInput(str(bad))] + inputs[2:4]
    used, results, failures, _ = _collect(tiny_captioner, mixed, 3)
    assert list(failures) == [2] and str(bad) in str(failures[2])
    assert [results[i].text for i in (0, 1, 3, 4)] == [s.text for s in singles[:4]]


def test_running_out_of_memory_splits_the_batch(tiny_captioner, inputs, singles, monkeypatch):
    """Fault injection into transformers' generate (a device running out of memory cannot be
    made on demand here): more than two clips at once do not fit."""
    model = tiny_captioner.model
    real_generate = model.generate
    sizes = []

    def generate(**kwargs):
        sizes.append(kwargs["input_ids"].shape[0])
        if sizes[-1] > 2:
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real_generate(**kwargs)

    monkeypatch.setattr(model, "generate", generate)
    used, results, failures, _ = _collect(tiny_captioner, inputs * 2, 5)  # 14 clips
    assert not failures
    assert [results[i].text for i in range(len(inputs) * 2)] == [s.text for s in singles] * 2
    # 5 -> halves of 3 (-> 2 + 1) and 2; the next passes keep the 2 that fitted
    assert sizes == [5, 3, 2, 1, 2, 2, 2, 2, 2, 1]


def test_a_batch_runs_the_model_on_a_thread_of_its_own(tiny_captioner, inputs, monkeypatch):
    """As a single caption does: on a busy CPU torch's generate from the calling (main) thread
    ran many times slower (bench/caption_batch.py)."""
    import threading

    model = tiny_captioner.model
    real_generate = model.generate
    threads = []

    def generate(**kwargs):
        threads.append(threading.current_thread())
        return real_generate(**kwargs)

    monkeypatch.setattr(model, "generate", generate)
    _, results, failures, _ = _collect(tiny_captioner, inputs[:3], 3)
    assert len(results) == 3 and not failures
    assert threads and all(t is not threading.current_thread() for t in threads)


def test_other_errors_fail_the_clips_of_their_batch(tiny_captioner, inputs, monkeypatch):
    def generate(**kwargs):
        raise RuntimeError("something else broke")

    monkeypatch.setattr(tiny_captioner.model, "generate", generate)
    _, results, failures, _ = _collect(tiny_captioner, inputs[:3], 3)
    assert not results and sorted(failures) == [0, 1, 2]


def test_cancel_between_batches(tiny_captioner, inputs):
    token = CancelToken()
    finished = []

    def done(index, result):
        finished.append(index)
        token.cancel()

    with pytest.raises(Cancelled):
        caption_many(tiny_captioner, inputs, CaptionSettings(max_new_tokens=TOKENS), batch_size=2,
                     cancel=token, callbacks=BatchCallbacks(finished=done))
    assert finished == [0, 1]  # the pass that was running reports; no other starts


def test_auto_batch_size_follows_free_memory(tiny_captioner):
    settings = CaptionSettings(max_new_tokens=64)
    per_clip = clip_bytes(tiny_captioner, settings)
    assert per_clip > 0
    chosen = auto_batch_size(tiny_captioner, settings, 100)
    assert 1 <= chosen <= MAX_CPU_BATCH  # the host has room for the tiny model: the CPU cap
    assert auto_batch_size(tiny_captioner, settings, 3) <= 3
    assert auto_batch_size(tiny_captioner, settings, 1) == 1
    # more frames and tokens a clip, more memory a clip
    assert clip_bytes(tiny_captioner, CaptionSettings(max_new_tokens=2000, max_frames=256)) > per_clip


def test_batch_size_words():
    assert parse_batch_size("auto") is None and parse_batch_size(" AUTO ") is None
    assert parse_batch_size("4") == 4 and parse_batch_size(str(MAX_BATCH)) == MAX_BATCH
    for bad in ("0", "-1", "x", "2.5", str(MAX_BATCH + 1)):
        with pytest.raises(ValueError, match="auto or a whole number"):
            parse_batch_size(bad)


# ---- through the engine ----------------------------------------------------------------------

def test_engine_batches_report_each_item_and_match_single_jobs(tiny_captioner_dir, inputs,
                                                               tmp_path):
    model = str(tiny_captioner_dir)
    rec = Recorder()
    engine = Engine(rec, device="cpu")
    settings = CaptionSettings(max_new_tokens=TOKENS)
    bad = make_bad(tmp_path, "text", name="broken.mp4")
    items = [CaptionItem(i, c.path, c.in_frame, c.out_frame) for i, c in enumerate(inputs[:4])]
    items.insert(1, CaptionItem(99, str(bad)))
    outcome = engine.run(CaptionBatchJob(new_job_id(), items, model, settings, batch_size=3))
    singles = [engine.run(CaptionJob(new_job_id(), i.clip_id, i.path, settings, model,
                                     i.in_frame, i.out_frame)) for i in items if i.clip_id != 99]
    assert outcome.succeeded == 4 and list(outcome.errors) == [1]
    assert [r.text for r in outcome.results if r is not None] == [s.text for s in singles]
    batch_events = [e for e in rec.events if e[1] == rec.events[0][1]]
    names = [e[0] for e in batch_events]
    assert "text" not in names  # no streaming in a pass of several clips
    assert [e[2] for e in rec.of("item_started")] == [0, 1, 2, 3, 4]
    assert [e[2] for e in rec.of("item_finished")] == [0, 2, 3, 4]
    assert names.index("item_started", names.index("item_finished")) > 0  # a second pass
    done = [e[2] for e in batch_events if e[0] == "progress"]
    assert done == [0, 1, 2, 3, 4, 5] and names[-1] == "finished"


def test_engine_batch_size_auto(tiny_captioner_dir, inputs):
    rec = Recorder()
    engine = Engine(rec, device="cpu")
    items = [CaptionItem(i, c.path) for i, c in enumerate(inputs[:3])]
    outcome = engine.run(CaptionBatchJob(new_job_id(), items, str(tiny_captioner_dir),
                                         CaptionSettings(max_new_tokens=4), batch_size=None))
    assert outcome.succeeded == 3
    assert [e[2] for e in rec.of("item_finished")] == [0, 1, 2]
