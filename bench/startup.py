"""Start-up: `studio --exit-after-show` against a bare PySide6 QMainWindow, both offscreen on
a 1920x1080 screen, each window 1280x800 at its first paint (checked before timing).

Each side reports the seconds from its own process start to its window shown and painted once
(the same clock and the same first-paint hook, studio.ui.first_paint), alternating runs so
machine noise hits both. Target: ratio <= 1.5.

The default project starts empty; ``--clips N`` first imports N short videos into it (made once
under bench/out/), so the first paint shows N rows in the bin, as a person's project would.

    .venv/bin/python bench/startup.py [--runs 7] [--clips 20]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

BASELINE = r"""
import sys
from PySide6.QtWidgets import QApplication, QMainWindow
from studio.ui.first_paint import process_age_s, when_first_painted  # the same clock and moment
app = QApplication(sys.argv[:1])
w = QMainWindow()
w.resize(1280, 800)
when_first_painted(w, lambda: (print(f"{process_age_s():.3f}"), app.quit()))
w.show()
app.exec()
"""

# Each side's window size at its first paint, to check that both paint the same area.
SIZE_OF_STUDIO = r"""
import sys
import studio.ui.first_paint as first_paint
hook = first_paint.when_first_painted
first_paint.when_first_painted = lambda w, call: hook(
    w, lambda: (print(f"{w.width()}x{w.height()}", file=sys.stderr), call()))
from studio.cli import main
sys.exit(main(["--exit-after-show"]))
"""
SIZE_OF_BASELINE = BASELINE.replace('print(f"{process_age_s():.3f}")',
                                    'print(f"{w.width()}x{w.height()}", file=sys.stderr)')


def window_size(script: str, env: dict) -> str:
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         env=env, check=True, timeout=120)
    return next(line for line in out.stderr.splitlines() if "x" in line and line[0].isdigit())


def clip_files(count: int) -> list[Path]:
    if not count:
        return []
    sys.path.insert(0, str(ROOT))
    from bench.media import make_panning_video

    return [make_panning_video(ROOT / "bench" / "out" / "startup" / f"clip{i:03d}.mp4", 320, 180,
                               frames=24, fps=24, preset="veryfast", crf=28, gop=24)
            for i in range(count)]


def bench_env(home: Path) -> dict:
    """The environment both sides run in: offscreen, a fresh user data/config/cache folder under
    ``home``, and from bytecode."""
    # A screen that holds both 1280x800 windows: on the offscreen platform's default 800x800
    # screen, restoring Studio's saved geometry shrank its window to fit (880x774), so it
    # painted less than the bare window did.
    screens = home / "screens.json"
    screens.write_text(json.dumps({"screens": [{
        "name": "bench", "x": 0, "y": 0, "width": 1920, "height": 1080,
        "logicalDpi": 96, "logicalBaseDpi": 96, "dpr": 1}]}))
    env = dict(os.environ, QT_QPA_PLATFORM=f"offscreen:configfile={screens}")
    # An installed program runs from bytecode; with PYTHONDONTWRITEBYTECODE set (as on some dev
    # machines) every start would recompile Studio's modules, which the baseline does not have.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "studio")], check=True)
    for var in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME"):
        env[var] = str(home / var.lower())
    return env


def prepare(env: dict, clips: int) -> None:
    """The untimed first runs: Studio's creates the default project (importing ``clips``
    videos) and saves its layout; then both windows are checked to be the same size."""
    files = [str(p) for p in clip_files(clips)]
    first = subprocess.run([sys.executable, "-m", "studio", "--exit-after-show", *files],
                           capture_output=True, text=True, env=env, check=True,
                           timeout=300).stdout.splitlines()
    if files and not first[1].startswith(f"Imported {len(files)} new"):
        raise SystemExit(f"importing the clips failed: {first[1:]}")
    run([sys.executable, "-c", BASELINE], env)
    sizes = window_size(SIZE_OF_STUDIO, env), window_size(SIZE_OF_BASELINE, env)
    if sizes[0] != sizes[1]:
        raise SystemExit(f"the windows differ in size at their first paint: Studio {sizes[0]}, "
                         f"bare {sizes[1]}")
    print(f"both windows {sizes[0]} at their first paint")


def run(cmd: list[str], env: dict) -> float:
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True, timeout=120)
    return float(out.stdout.strip().splitlines()[0])


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--clips", type=int, default=0,
                        help="videos imported into the default project before timing")
    args = parser.parse_args()
    env = bench_env(Path(tempfile.mkdtemp(prefix="studio-bench-")))
    studio_cmd = [sys.executable, "-m", "studio", "--exit-after-show"]
    baseline_cmd = [sys.executable, "-c", BASELINE]
    prepare(env, args.clips)
    studio, baseline = [], []
    for _ in range(args.runs):
        studio.append(run(studio_cmd, env))
        baseline.append(run(baseline_cmd, env))
    s, b = statistics.median(studio), statistics.median(baseline)
    ts, tb = middle_mean(studio), middle_mean(baseline)
    print(f"studio --exit-after-show: median {s:.3f} s, middle mean {ts:.4f} s over {args.runs} runs")
    print(f"bare QMainWindow:         median {b:.3f} s, middle mean {tb:.4f} s")
    print(f"ratio: {s / b:.2f}x of medians, {ts / tb:.2f}x of middle means (target <= 1.5x)")
    return 0


def middle_mean(values: list[float]) -> float:
    """The mean of the middle half: each start is known to a 10 ms clock tick, so a mean
    resolves finer than a median, and dropping the quarters at each end drops the runs the
    shared machine disturbed."""
    ordered = sorted(values)
    cut = len(ordered) // 4
    middle = ordered[cut:len(ordered) - cut] or ordered
    return statistics.fmean(middle)


if __name__ == "__main__":
    sys.exit(main())
