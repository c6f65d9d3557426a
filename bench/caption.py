"""Captioning overhead: Studio's caption of one clip (frame sampling, prompt, image processor,
streaming) against a plain ``model.generate`` on the same prepared inputs, same process, same
tiny demo SmolVLM2. Target: ratio <= 1.10.

Both sides decode greedily from identical inputs, so they generate identical tokens.

    .venv/bin/python bench/caption.py [--tokens 128] [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def median_seconds(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    from studio.inference.captioner import Captioner, CaptionSettings
    from studio.inference.demo import make_demo_captioner
    from tests.media_factory import make_video

    work = Path(tempfile.mkdtemp(prefix="studio-bench-caption-"))
    model_dir = make_demo_captioner(work / "demo-captioner")
    clip = make_video(work / "clip.mp4", width=320, height=240, frames=60, fps=10, gop=10)
    captioner = Captioner.load(str(model_dir))
    settings = CaptionSettings(max_new_tokens=args.tokens)
    prepared = captioner.prepare(str(clip), settings)
    tensors = dict(prepared.tensors)

    def plain_generate():
        # On a worker thread, as Studio runs generate: torch's CPU thread pool behaves very
        # differently on the main thread of a busy machine (seen here: 3 s against 0.25 s).
        out = {}

        def run():
            out["ids"] = captioner.model.generate(**tensors, max_new_tokens=args.tokens,
                                                  do_sample=False, temperature=None,
                                                  top_p=None, top_k=None)

        worker = threading.Thread(target=run)
        worker.start()
        worker.join()
        return out["ids"]

    def studio_caption():
        return captioner.caption(str(clip), settings, on_text=lambda chunk: None)

    prompt_len = tensors["input_ids"].shape[1]
    plain_tokens = plain_generate().shape[1] - prompt_len  # also warms both paths up
    studio_caption()
    studio = median_seconds(studio_caption, args.runs)
    plain = median_seconds(plain_generate, args.runs)
    frames = len(prepared.frame_indices) if hasattr(prepared, "frame_indices") else "?"
    print(f"tiny demo SmolVLM2 on CPU, {frames} frames, {plain_tokens} new tokens, median of {args.runs}")
    print(f"studio caption (sample + prompt + process + stream): {studio * 1000:.1f} ms")
    print(f"plain model.generate on the same inputs:             {plain * 1000:.1f} ms")
    print(f"ratio: {studio / plain:.2f}x (target <= 1.10x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
