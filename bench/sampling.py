"""Exact sampling: 16 frames evenly spaced from a 10-minute 1280x720 30 fps H.264 file with a
keyframe every 2 s, against decoding every frame of it. Target: >= 20x faster.

The file is made once and kept under bench/out/.

    .venv/bin/python bench/sampling.py [--minutes 10]
"""

from __future__ import annotations

import argparse
import sys
import time
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from studio.core.frames import FrameReader  # noqa: E402


def make_long_video(path: Path, minutes: float, width=1280, height=720, fps=30, gop=60) -> Path:
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part.mp4")
    frames = int(minutes * 60 * fps)
    # A smooth texture (noise blown up from a small grid) moving a few pixels a frame: a bitrate
    # like real footage, unlike raw noise, which no encoder can compress.
    rng = np.random.default_rng(0)
    small = rng.integers(0, 256, ((height + 64) // 16, (width + 64) // 16, 3), dtype=np.uint8)
    texture = cv2.resize(small, (width + 64, height + 64), interpolation=cv2.INTER_CUBIC)
    with av.open(str(tmp), "w") as out:
        stream = out.add_stream("libx264", rate=fps, options={
            "preset": "ultrafast", "crf": "28",
            "x264-params": f"keyint={gop}:min-keyint={gop}:scenecut=0"})
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for i in range(frames):
            dx, dy = (i * 3) % 64, (i * 2) % 64
            img = texture[dy:dy + height, dx:dx + width]
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")
            frame.pts = i
            frame.time_base = Fraction(1, fps)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    tmp.replace(path)
    return path


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
