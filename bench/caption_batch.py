"""Captioning 20 clips: one batch job on one engine (the model loads once) against 20 single
captions that each load the model (what a script run per file does), same process, tiny demo
SmolVLM2. Prints the ratio of the two totals.

    .venv/bin/python bench/caption_batch.py [--clips 20]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clips", type=int, default=20)
    parser.add_argument("--tokens", type=int, default=32)
    args = parser.parse_args()

    from studio.inference.captioner import CaptionSettings
    from studio.inference.demo import make_demo_captioner
    from studio.inference.engine import CaptionBatchJob, CaptionItem, CaptionJob, Engine, new_job_id
    from tests.media_factory import make_video

    work = Path(tempfile.mkdtemp(prefix="studio-bench-batch-"))
    model = str(make_demo_captioner(work / "demo-captioner"))
    clips = [str(make_video(work / f"clip_{i:02d}.mp4", width=160, height=120, frames=30, fps=10,
                            quality=20 + i)) for i in range(args.clips)]
    settings = CaptionSettings(max_new_tokens=args.tokens)
    Engine().run(CaptionJob(new_job_id(), None, clips[0], settings, model))  # warm-up: imports

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
    assert result is not None and result.succeeded == args.clips, result
    print(f"{args.clips} clips, tiny demo SmolVLM2 on CPU, {args.tokens} new tokens each")
    print(f"20 single captions, one model load each: {singles:.2f} s")
    print(f"one batch job, one model load:           {batch:.2f} s")
    print(f"ratio: batch takes {batch / singles:.2f}x the time of the singles")
    return 0


if __name__ == "__main__":
    sys.exit(main())
