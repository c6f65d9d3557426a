"""Captioning on a Ray cluster (issue 18, item 5): clips per second with 1 worker against 2
workers, same process, same local cluster, same clips, rounds alternating.

A local Ray of ``--cpus`` CPUs (127.0.0.1 only) is started once; each run is
``studio.inference.cluster.caption_on_cluster``, the code behind ``studio caption --cluster``,
with a fresh set of workers (one per CPU slot, each with one torch thread, as Ray gives a
one-CPU actor). Two figures a run: end to end (workers starting, importing torch and loading
the model included) and after start-up (from the first worker's first result to the last
result). Both sides give the same greedy captions (checked). The model is the tiny demo
SmolVLM2 unless ``--model`` names another.

    .venv/bin/python bench/cluster_caption.py [--clips 48] [--tokens 128] [--batch-size 4]
        [--rounds 3] [--cpus 2] [--model ID|DIR]
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def wait_for_free_cpus(ray, cpus: int, limit_s: float = 60.0) -> None:
    """The last run's workers are killed as it ends; their CPUs come back a moment later."""
    deadline = time.monotonic() + limit_s
    while ray.available_resources().get("CPU", 0) < cpus and time.monotonic() < deadline:
        time.sleep(0.1)


def run(clips, model, settings, batch_size: int, workers: int) -> tuple[float, float, dict]:
    """(end-to-end seconds, seconds after start-up, index -> caption) of one cluster run."""
    from studio.inference.cluster import ItemDone, ItemFailed, caption_on_cluster

    texts: dict[int, str] = {}
    t0 = time.perf_counter()
    first = None
    for event in caption_on_cluster("local", clips, model, settings, batch_size=batch_size,
                                    workers=workers):
        if isinstance(event, ItemFailed):
            raise RuntimeError(event.message)
        if isinstance(event, ItemDone):
            texts[event.index] = event.result.text
            first = first or time.perf_counter()
    end = time.perf_counter()
    return end - t0, end - first, texts


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clips", type=int, default=48)
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--cpus", type=int, default=2)
    parser.add_argument("--model", default=None)
    args = parser.parse_args()

    from studio.inference.batching import ClipInput
    from studio.inference.captioner import CaptionSettings
    from studio.inference.cluster import connect
    from studio.inference.demo import make_demo_captioner
    from tests.media_factory import make_video

    work = Path(tempfile.mkdtemp(prefix="studio-bench-cluster-"))
    model = args.model or str(make_demo_captioner(work / "demo-captioner"))
    clips = [ClipInput(str(make_video(work / f"clip_{i:02d}.mp4", width=160, height=120,
                                      frames=30 + 10 * (i % 4), fps=10, quality=20 + i)))
             for i in range(args.clips)]
    settings = CaptionSettings(max_new_tokens=args.tokens)
    os.environ.setdefault("RAY_AUTH_TOKEN", secrets.token_hex(16))  # nothing in ~/.ray
    seconds: dict[int, list[tuple[float, float]]] = {1: [], 2: []}
    captions: dict[int, dict] = {}
    with connect("local", num_cpus=args.cpus, object_store_bytes=128 * 1024 * 1024) as ray:
        for r in range(args.rounds):
            for workers in (1, 2) if r % 2 == 0 else (2, 1):
                wait_for_free_cpus(ray, args.cpus)
                total, steady, captions[workers] = run(clips, model, settings, args.batch_size,
                                                       workers)
                seconds[workers].append((total, steady))
            assert captions[1] == captions[2], "captions differ between 1 and 2 workers"
    report(args, seconds)
    return 0


def report(args, seconds) -> None:
    n = args.clips
    print(f"{n} clips, tiny demo SmolVLM2 on CPU workers (1 torch thread each), "
          f"{args.tokens} new tokens, batch {args.batch_size}, local Ray of {args.cpus} CPUs, "
          f"median of {args.rounds} rounds, load average {os.getloadavg()[0]:.1f}")
    medians = {}
    for workers, runs in seconds.items():
        total = statistics.median(t for t, _ in runs)
        steady = statistics.median(s for _, s in runs)
        medians[workers] = (total, steady)
        print(f"{workers} worker{'s' if workers > 1 else ' '}: {n / total:.2f} clips/s end to end "
              f"({total:.1f} s), {n / steady:.2f} clips/s after start-up ({steady:.1f} s)")
    (t1, s1), (t2, s2) = medians[1], medians[2]
    print(f"ratio: 2 workers caption {t1 / t2:.2f}x as many clips per second as 1 end to end, "
          f"{s1 / s2:.2f}x after start-up")


if __name__ == "__main__":
    sys.exit(main())
