"""Exact sampling: 16 frames evenly spaced from a 10-minute 1280x720 30 fps H.264 file with a
keyframe every 2 s, against decoding every frame of it. Target: >= 20x faster.

The file is made once and kept under bench/out/.

    .venv/bin/python bench/sampling.py [--minutes 10]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import av

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.media import make_panning_video  # noqa: E402
from studio.core.frames import FrameReader  # noqa: E402


def make_long_video(path: Path, minutes: float, width=1280, height=720, fps=30, gop=60) -> Path:
    return make_panning_video(path, width, height, int(minutes * 60 * fps), fps,
                              preset="ultrafast", crf=28, gop=gop)


def decode_everything(path: Path) -> int:
    n = 0
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for frame in container.decode(stream):
            frame.to_ndarray(format="rgb24")
            n += 1
    return n


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=10)
    args = parser.parse_args()
    path = make_long_video(ROOT / "bench" / "out" / f"long_{args.minutes:g}min_720p.mp4", args.minutes)

    t0 = time.perf_counter()
    with FrameReader(path) as reader:
        frames = reader.sample(count=16)
    sampled = time.perf_counter() - t0
    t0 = time.perf_counter()
    total = decode_everything(path)
    full = time.perf_counter() - t0
    assert len(frames) == 16
    print(f"sample 16 exact frames: {sampled:.2f} s (indices {[f.index for f in frames]})")
    print(f"decode all {total} frames to RGB: {full:.2f} s")
    print(f"ratio: {full / sampled:.1f}x faster (target >= 20x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
