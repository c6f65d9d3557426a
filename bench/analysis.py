"""Temporal analysis (core.metrics.analyze) of a 121-frame 768x512 H.264 video against decoding
its frames alone with the same FrameReader, timed alternately in one run. Target: <= 3x.

Also timed: the analysis as it was before it decoded straight to the analysis size ("exact
RGB": each frame decoded to full-size RGB, then box-shrunk; a FrameReader whose reduced frames
are the exact ones shrunk), and the same measures on one thread (decode, shrink, flow in
turn, OpenCV on one thread too), to show what decoding in a helper thread and measuring pairs on
worker threads buy, and the CPU seconds of each (all threads), which other processes on the machine disturb
less than the wall-clock times. The load average is printed before and after: on a shared
machine the wall-clock ratio is only meaningful next to it.

The video (a smooth texture panning 3 px right and 2 px down per frame, with a square
crossing it) is made once under bench/out/.

    .venv/bin/python bench/analysis.py [--runs 7]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.media import write_h264
from studio.core import metrics
from studio.core.frames import FrameReader, ReducedFrame

WIDTH, HEIGHT, FRAMES, FPS = 768, 512, 121, 24


def make_video(path: Path) -> Path:
    if path.exists():
        return path
    rng = np.random.default_rng(0)
    pad_x, pad_y = 3 * FRAMES + 16, 2 * FRAMES + 16
    small = rng.integers(0, 256, ((HEIGHT + pad_y) // 16 + 1, (WIDTH + pad_x) // 16 + 1, 3),
                         dtype=np.uint8)
    texture = cv2.resize(small, (small.shape[1] * 16, small.shape[0] * 16),
                         interpolation=cv2.INTER_CUBIC)

    def pictures():
        for i in range(FRAMES):
            x0, y0 = 3 * (FRAMES - i), 2 * (FRAMES - i)  # the window moves up-left: content
            img = np.ascontiguousarray(texture[y0:y0 + HEIGHT, x0:x0 + WIDTH])  # moves down-right
            sx, sy = 40 + 5 * i, 300 - 2 * i
            img[sy:sy + 80, sx:sx + 80] = (230, 200, 40)
            yield img

    return write_h264(path, pictures(), WIDTH, HEIGHT, FPS, {"preset": "medium", "crf": "20"})


def timed(work) -> tuple[float, float, object]:
    """(wall seconds, CPU seconds of the whole process, result)"""
    t0, c0 = time.perf_counter(), time.process_time()
    result = work()
    return time.perf_counter() - t0, time.process_time() - c0, result


def decode_only(path: Path) -> int:
    with FrameReader(path) as reader:
        return sum(1 for _ in reader.iter_frames(range(reader.frame_count)))


class ExactRGBReader(FrameReader):
    """Reduced frames made the way the analysis made them before: the exact full-size RGB
    frame, box-shrunk."""

    def reduced_frame_at(self, index, factor=None, *, max_side=None):
        frame = self.frame_at(index)
        height, width = frame.image.shape[:2]
        k = factor or max(1, -(-max(width, height) // max_side))
        h, w = height // k, width // k
        image = cv2.resize(frame.image[:h * k, :w * k], (w, h), interpolation=cv2.INTER_AREA)
        return ReducedFrame(frame.index, frame.time_s, image, k, width, height)

    def iter_reduced_frames(self, indices, factor=None, *, max_side=None):
        for i in sorted(set(indices)):
            yield self.reduced_frame_at(i, factor, max_side=max_side)


def analyse_exact_rgb(path: Path):
    with ExactRGBReader(path) as reader:
        return metrics.analyze(path, reader=reader)


def analyse_one_thread(path: Path) -> list:
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        with FrameReader(path) as reader:
            factor = metrics.analysis_factor(WIDTH, HEIGHT)
            frames = ((f.index, f.image)
                      for f in reader.iter_reduced_frames(range(reader.frame_count), factor))
            return list(metrics.iter_pairs(frames, WIDTH, HEIGHT))
    finally:
        cv2.setNumThreads(threads)


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    path = make_video(ROOT / "bench" / "out" / f"pan_{WIDTH}x{HEIGHT}_{FRAMES}f.mp4")

    print(f"load average before: {load()}")
    decode_only(path)  # warm the file cache and the libraries
    metrics.analyze(path)
    analyse_exact_rgb(path)
    runs: dict[str, list[tuple[float, float]]] = {"decode": [], "analyze": [], "exact RGB": [],
                                                  "one thread": []}
    result = exact = None
    for _ in range(args.runs):  # alternating, so that a busy moment hits all alike
        wall, cpu, count = timed(lambda: decode_only(path))
        assert count == FRAMES
        runs["decode"].append((wall, cpu))
        wall, cpu, result = timed(lambda: metrics.analyze(path))
        runs["analyze"].append((wall, cpu))
        wall, cpu, exact = timed(lambda: analyse_exact_rgb(path))
        runs["exact RGB"].append((wall, cpu))
        wall, cpu, pairs = timed(lambda: analyse_one_thread(path))
        assert len(pairs) == FRAMES - 1
        runs["one thread"].append((wall, cpu))
    wall = {k: statistics.median(w for w, _ in v) for k, v in runs.items()}
    cpu = {k: statistics.median(c for _, c in v) for k, v in runs.items()}
    print(f"{FRAMES} frames {WIDTH}x{HEIGHT}, analysed at "
          f"{result.analysis_width}x{result.analysis_height}; median of {args.runs} runs")
    for key in runs:
        print(f"{key + ':':12s} {wall[key]:.3f} s  (CPU {cpu[key]:.3f} s)")
    for name, analysis in (("figures", result), ("exact RGB", exact)):
        print(f"{name}: motion {analysis.flow_mean_px:.3f} px/frame (dx "
              f"{analysis.flow_mean_dx:.3f}, dy {analysis.flow_mean_dy:.3f}; the pan is 3, 2), "
              f"warp error {analysis.warp_error_mean:.6f}, flicker {analysis.flicker:.6f}")

    def per_round(key: str) -> float:
        return statistics.median(a / d for (a, _), (d, _) in zip(runs[key], runs["decode"]))

    print(f"ratio: {wall['analyze'] / wall['decode']:.2f}x decoding (target <= 3x; median of "
          f"the rounds' own ratios {per_round('analyze'):.2f}x); exact RGB "
          f"{wall['exact RGB'] / wall['decode']:.2f}x ({per_round('exact RGB'):.2f}x); "
          f"one thread {wall['one thread'] / wall['decode']:.2f}x; CPU "
          f"{cpu['analyze'] / cpu['decode']:.2f}x (exact RGB "
          f"{cpu['exact RGB'] / cpu['decode']:.2f}x)")
    print(f"load average after: {load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
