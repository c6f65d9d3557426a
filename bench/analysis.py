"""Temporal analysis (core.metrics.analyze) of a 121-frame 768x512 H.264 video against decoding
its frames alone with the same FrameReader, timed alternately in one run. Target: <= 3x.

Also timed: the same measures on one thread (decode, shrink, flow in turn), to show what
decoding ahead in a second thread buys.

The video (a smooth texture panning 3 px right and 2 px down per frame, with a square
crossing it) is made once under bench/out/.

    .venv/bin/python bench/analysis.py [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from studio.core import metrics  # noqa: E402
from studio.core.frames import FrameReader  # noqa: E402

WIDTH, HEIGHT, FRAMES, FPS = 768, 512, 121, 24


def make_video(path: Path) -> Path:
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part.mp4")
    rng = np.random.default_rng(0)
    pad_x, pad_y = 3 * FRAMES + 16, 2 * FRAMES + 16
    small = rng.integers(0, 256, ((HEIGHT + pad_y) // 16 + 1, (WIDTH + pad_x) // 16 + 1, 3),
                         dtype=np.uint8)
    texture = cv2.resize(small, (small.shape[1] * 16, small.shape[0] * 16),
                         interpolation=cv2.INTER_CUBIC)
    with av.open(str(tmp), "w") as out:
        stream = out.add_stream("libx264", rate=FPS, options={"preset": "medium", "crf": "20"})
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        for i in range(FRAMES):
            x0, y0 = 3 * (FRAMES - i), 2 * (FRAMES - i)  # the window moves up-left: content
            img = np.ascontiguousarray(texture[y0:y0 + HEIGHT, x0:x0 + WIDTH])  # moves down-right
            sx, sy = 40 + 5 * i, 300 - 2 * i
            img[sy:sy + 80, sx:sx + 80] = (230, 200, 40)
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, FPS)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    tmp.replace(path)
    return path


def decode_only(path: Path) -> float:
    t0 = time.perf_counter()
    with FrameReader(path) as reader:
        n = sum(1 for _ in reader.iter_frames(range(reader.frame_count)))
    assert n == FRAMES
    return time.perf_counter() - t0


def analyse(path: Path) -> tuple[float, metrics.Analysis]:
    t0 = time.perf_counter()
    result = metrics.analyze(path)
    return time.perf_counter() - t0, result


def analyse_one_thread(path: Path) -> float:
    t0 = time.perf_counter()
    with FrameReader(path) as reader:
        frames = ((f.index, f.image) for f in reader.iter_frames(range(reader.frame_count)))
        pairs = list(metrics.iter_pairs(frames, WIDTH, HEIGHT))
    assert len(pairs) == FRAMES - 1
    return time.perf_counter() - t0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    path = make_video(ROOT / "bench" / "out" / f"pan_{WIDTH}x{HEIGHT}_{FRAMES}f.mp4")

    decode_only(path)  # warm the file cache and the libraries
    analyse(path)
    decoded, analysed, single = [], [], []
    result = None
    for _ in range(args.runs):
        decoded.append(decode_only(path))
        seconds, result = analyse(path)
        analysed.append(seconds)
        single.append(analyse_one_thread(path))
    d, a, s = (statistics.median(x) for x in (decoded, analysed, single))
    print(f"{FRAMES} frames {WIDTH}x{HEIGHT}, analysed at "
          f"{result.analysis_width}x{result.analysis_height}; median of {args.runs} runs")
    print(f"decode only:            {d:.3f} s  ({1000 * d / FRAMES:.2f} ms a frame)")
    print(f"analyze:                {a:.3f} s  ({1000 * a / (FRAMES - 1):.2f} ms a pair)")
    print(f"analyze on one thread:  {s:.3f} s")
    print(f"figures: motion {result.flow_mean_px:.2f} px/frame (dx {result.flow_mean_dx:.2f}, "
          f"dy {result.flow_mean_dy:.2f}; the pan is 3, 2), warp error "
          f"{result.warp_error_mean:.5f}, flicker {result.flicker:.5f}")
    print(f"ratio: {a / d:.2f}x decoding (target <= 3x); one thread {s / d:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
