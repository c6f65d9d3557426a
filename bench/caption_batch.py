"""Batched captioning (issue 18, item 1): clips per second with one clip per forward pass
against N clips per pass, same process, same loaded model, same clips, rounds alternating.

The model is the tiny demo SmolVLM2 on the CPU unless ``--model`` names another (a folder or
an id; ``--device cuda`` for a GPU). Both sides run ``inference.batching.caption_many``, the
code behind ``studio caption`` and the engine's CaptionBatchJob; both give the same greedy
captions (checked). ``--batch-size auto`` (default) lets Studio choose N from the free memory.

``--loads`` also times the older comparison (issue 8b): 20 single caption jobs that each load
the model, against one batch job that loads it once.

    .venv/bin/python bench/caption_batch.py [--clips 16] [--tokens 32] [--batch-size auto|N]
        [--rounds 3] [--model ID|DIR] [--device cpu|cuda] [--loads]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def caption_all(captioner, clips, settings, batch_size) -> tuple[float, list[str], int]:
    from studio.inference.batching import BatchCallbacks, ClipInput, caption_many

    texts: dict[int, str] = {}
    calls = BatchCallbacks(finished=lambda i, r: texts.__setitem__(i, r.text),
                           failed=lambda i, err: texts.__setitem__(i, f"FAILED {err}"))
    t0 = time.perf_counter()
    used = caption_many(captioner, [ClipInput(c) for c in clips], settings,
                        batch_size=batch_size, callbacks=calls)
    return time.perf_counter() - t0, [texts[i] for i in range(len(clips))], used


def compare_batch_sizes(args, captioner, clips, settings, batch_size) -> None:
    caption_all(captioner, clips[:2], settings, 1)  # warm-up: first-call costs on both sides
    seconds: dict[str, list[float]] = {"1": [], "N": []}
    used = None
    for r in range(args.rounds):
        order = [("1", 1), ("N", batch_size)]
        for name, size in order if r % 2 == 0 else order[::-1]:
            took, texts, used_now = caption_all(captioner, clips, settings, size)
            seconds[name].append(took)
            if name == "1":
                singles = texts
            else:
                batched, used = texts, used_now
        assert batched == singles, "batched captions differ from one at a time"
    one, many = (statistics.median(seconds[k]) for k in ("1", "N"))
    print(f"{len(clips)} clips, {captioner.model_id} on {captioner.device} "
          f"({captioner.dtype_name}), {args.tokens} new tokens each, median of {args.rounds} rounds")
    print(f"batch 1:  {len(clips) / one:.2f} clips/s ({one:.2f} s)")
    print(f"batch {used}: {len(clips) / many:.2f} clips/s ({many:.2f} s)"
          + (" (chosen by --batch-size auto)" if batch_size is None else ""))
    print(f"ratio: batch {used} captions {one / many:.2f}x as many clips per second as batch 1")


def compare_loads(model, clips, settings) -> None:
    from studio.inference.engine import CaptionBatchJob, CaptionItem, CaptionJob, Engine, new_job_id

    t0 = time.perf_counter()
    for path in clips:
        engine = Engine()  # a fresh engine each time: the model loads for every clip
        engine.run(CaptionJob(new_job_id(), None, path, settings, model))
        engine.close()
    singles = time.perf_counter() - t0
    t0 = time.perf_counter()
    engine = Engine()
    result = engine.run(CaptionBatchJob(new_job_id(), [CaptionItem(None, p) for p in clips],
                                        model, settings))
    batch = time.perf_counter() - t0
    engine.close()
    assert result is not None and result.succeeded == len(clips), result
    print(f"{len(clips)} single caption jobs, one model load each: {singles:.2f} s")
    print(f"one batch job, one model load:           {batch:.2f} s")
    print(f"ratio: the batch job takes {batch / singles:.2f}x the time of the singles")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clips", type=int, default=16)
    parser.add_argument("--tokens", type=int, default=32)
    parser.add_argument("--batch-size", default="auto")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--model", default=None)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--loads", action="store_true")
    args = parser.parse_args()

    from studio.inference.batching import parse_batch_size
    from studio.inference.captioner import Captioner, CaptionSettings
    from studio.inference.demo import make_demo_captioner
    from tests.media_factory import make_video

    work = Path(tempfile.mkdtemp(prefix="studio-bench-batch-"))
    model = args.model or str(make_demo_captioner(work / "demo-captioner"))
    # Different lengths (3-6 s at 10 fps): prompts of different lengths, as in a real folder.
    clips = [str(make_video(work / f"clip_{i:02d}.mp4", width=160, height=120,
                            frames=30 + 10 * (i % 4), fps=10, quality=20 + i))
             for i in range(args.clips)]
    settings = CaptionSettings(max_new_tokens=args.tokens)
    captioner = Captioner.load(model, args.device)
    compare_batch_sizes(args, captioner, clips, settings, parse_batch_size(args.batch_size))
    captioner.unload()
    if args.loads:
        compare_loads(model, clips, settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
