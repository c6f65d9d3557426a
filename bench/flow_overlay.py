"""The player's flow overlay: one pair's flow as the overlay draws it (``metrics.reduced_pair``
and ``metrics.flow_between``: both frames decoded straight to the analysis size), against
the same flow from the frames decoded at full size and shrunk after (what it did before),
on 1080p and 4K H.264 that the bench makes once. Each is timed on its own open reader,
alternating, a different pair each round (a seek back to a keyframe and decoding forward,
as a person stepping through the clip asks for). Prints the ratio of the medians.

    .venv/bin/python bench/flow_overlay.py [--rounds 9]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.media import make_panning_video  # noqa: E402
from studio.core import metrics  # noqa: E402
from studio.core.frames import FrameReader  # noqa: E402

SIZES = {"1080p": (1920, 1080), "4K": (3840, 2160)}
FRAMES, FPS, GOP = 48, 24, 12


def full_size_flow(reader: FrameReader, index: int) -> np.ndarray:
    """The baseline: both frames exact at full size, shrunk by PairAnalyzer.prepare."""
    first, second = reader.frame_at(index).image, reader.frame_at(index + 1).image
    height, width = first.shape[:2]
    analyzer = metrics.PairAnalyzer(width, height)
    flow = analyzer.flow(analyzer.prepare(first, index), analyzer.prepare(second, index + 1))
    return flow * np.float32(analyzer.factor)


def reduced_flow(reader: FrameReader, index: int) -> np.ndarray:
    return metrics.flow_between(*metrics.reduced_pair(reader, index))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()
    for name, (width, height) in SIZES.items():
        path = make_panning_video(ROOT / "bench" / "out" / f"flow_{name}.mp4", width, height,
                                  frames=FRAMES, fps=FPS, preset="veryfast", crf=23, gop=GOP)
        readers = {"reduced": FrameReader(path), "full": FrameReader(path)}
        times: dict[str, list[float]] = {"reduced": [], "full": []}
        flows = {}
        # pairs across the clip, each starting a few frames after a keyframe
        pairs = [(GOP * r + 5) % (FRAMES - 2) for r in range(args.rounds)]
        for index in pairs:
            for key, draw in (("reduced", reduced_flow), ("full", full_size_flow)):
                start = time.perf_counter()
                flows[key] = draw(readers[key], index)
                times[key].append(time.perf_counter() - start)
        for reader in readers.values():
            reader.close()
        reduced, full = statistics.median(times["reduced"]), statistics.median(times["full"])
        differs = float(np.median(np.abs(flows["reduced"] - flows["full"])))
        print(f"{name} ({width}x{height}): reduced {reduced * 1000:.0f} ms, full size "
              f"{full * 1000:.0f} ms a pair: {full / reduced:.2f}x faster "
              f"(median difference of the last pair's vectors {differs:.3f} px)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
