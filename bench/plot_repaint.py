"""The analysis plots at playback: one repaint of the panel's three plots for a new playhead
(the player's next frame), with a long clip's series, against the plots as they painted
before the static part was kept (issue 16, item 6).

Three ways, alternating, each on its own three plots at the panel's size (600x110 px,
offscreen, device pixel ratio 1):

- ``kept``: today's ``MetricPlot``: the title, grid, lines and highlights drawn once into a
  pixmap, a new playhead copies it and draws the marker alone;
- ``redrawn``: today's plot with the kept part dropped before each repaint (what a data
  change, resize or theme switch costs: every line drawn again, thinned to the pixels);
- ``before``: the plot of commit dc7484e (read with ``git show``), which drew every point of
  every line on every repaint. Left out, with a note, outside a git checkout.

    .venv/bin/python bench/plot_repaint.py [--pairs 18000] [--frames 60]

Prints the median milliseconds per repaint of the three plots for each, and the ratios.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from PySide6.QtWidgets import QApplication  # noqa: E402

BEFORE_COMMIT = "dc7484e"  # the last commit whose plots repainted everything per frame
PLOT_SIZE = (600, 110)


def module_before():
    """studio.ui.analysis_panel as it was at BEFORE_COMMIT, or None outside a checkout."""
    try:
        text = subprocess.run(["git", "-C", str(ROOT), "show",
                               f"{BEFORE_COMMIT}:studio/ui/analysis_panel.py"],
                              capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    path = Path(tempfile.mkdtemp()) / "analysis_panel_before.py"
    path.write_text(text)
    spec = importlib.util.spec_from_file_location("analysis_panel_before", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def make_plots(module, pairs: int) -> list:
    """The panel's three plots showing a ``pairs``-pair clip with a wavy measure."""
    plots = []
    for spec in module.METRICS:
        plot = module.MetricPlot(spec, show_x_labels=spec is module.METRICS[-1])
        xs = list(range(pairs))
        ys = [1.0 + 0.8 * math.sin(x / 37.0) + 0.3 * math.sin(x / 3.1) for x in xs]
        plot.set_series([module.Series("clip", module.SERIES_COLORS[0], xs, ys, xs)])
        plot.set_highlights([pairs // 5, pairs // 2, pairs - 7])
        plot.resize(*PLOT_SIZE)
        plot.show()
        plots.append(plot)
    return plots


def repaint_ms(plots: list, frame: int, drop_kept: bool) -> float:
    start = time.perf_counter()
    for plot in plots:
        if drop_kept:
            plot.invalidate_static()
        plot.set_marker(frame)
        plot.repaint()
    return (time.perf_counter() - start) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=18000)
    parser.add_argument("--frames", type=int, default=60)
    args = parser.parse_args()
    app = QApplication.instance() or QApplication([])
    from studio.ui import analysis_panel

    before = module_before()
    ways = {"kept": (make_plots(analysis_panel, args.pairs), False),
            "redrawn": (make_plots(analysis_panel, args.pairs), True)}
    if before is not None:
        ways["before"] = (make_plots(before, args.pairs), False)
    else:
        print(f"(no git checkout: the plots of {BEFORE_COMMIT} are left out)")
    app.processEvents()
    times: dict[str, list[float]] = {name: [] for name in ways}
    step = max(1, args.pairs // args.frames)
    for k in range(args.frames):
        for name, (plots, drop) in ways.items():
            times[name].append(repaint_ms(plots, k * step, drop))
    kept_draws = sum(p.static_draws for p in ways["kept"][0])
    print(f"{args.pairs} pairs, {args.frames} playhead moves, three {PLOT_SIZE[0]}x"
          f"{PLOT_SIZE[1]} plots (the static part drawn {kept_draws} times for 'kept')")
    medians = {name: statistics.median(t) for name, t in times.items()}
    for name, median in medians.items():
        print(f"  {name:8s} {median:8.2f} ms per repaint of the three plots "
              f"({median / 3:.2f} ms per plot)")
    for name in ("redrawn", "before"):
        if name in medians:
            print(f"  {name} / kept: {medians[name] / medians['kept']:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
