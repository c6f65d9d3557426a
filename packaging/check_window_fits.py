"""Check, in a real X session with a window manager, that the window fits the screen however
it is used (issue 16): every panel opened in turn in every workspace, then a restart.

    xvfb-run -a -s "-screen 0 1600x1000x24" bash -c \
        "openbox & sleep 1; .venv/bin/python packaging/check_window_fits.py"

After each panel opens it asks X (``xdotool``, ``xprop``: what the window manager sees, not
what Qt believes) for the window's size and its program-specified minimum size, and fails
when either exceeds the screen. Then it closes the window (which saves the layout) and starts
Studio again in a new process with the same settings, and checks the restored window the
same way. Prints one line per step; exit status 1 on the first step that does not fit.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

OPENERS = {
    "queue": lambda w: w.show_queue(),
    "generate": lambda w: w.generate_dock.show(),
    "generations": lambda w: w.generations_dock.show(),
    "exports": lambda w: w.show_exports(),
    "analysis": lambda w: w.show_analysis(),
    "preview": lambda w: w.generation_preview_dock.show(),
}


def x_sizes(window_id: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """(size, minimum size) of the X window as the window manager has them."""
    geometry = subprocess.run(["xdotool", "getwindowgeometry", str(window_id)],
                              capture_output=True, text=True, check=True).stdout
    width, height = map(int, re.search(r"Geometry: (\d+)x(\d+)", geometry).groups())
    hints = subprocess.run(["xprop", "-id", str(window_id), "WM_NORMAL_HINTS"],
                           capture_output=True, text=True, check=True).stdout
    found = re.search(r"minimum size: (\d+) by (\d+)", hints)
    minimum = tuple(map(int, found.groups())) if found else (0, 0)
    return (width, height), minimum


def settle(app, rounds: int = 20) -> None:
    import time

    for _ in range(rounds):  # the window manager answers asynchronously
        app.processEvents()
        time.sleep(0.05)


def check(window, app, step: str) -> bool:
    settle(app)
    screen = app.primaryScreen().availableGeometry()
    (width, height), (min_w, min_h) = x_sizes(int(window.winId()))
    fits = max(width, min_w) <= screen.width() and max(height, min_h) <= screen.height()
    print(f"{'ok  ' if fits else 'FAIL'} {step:32s} window {width}x{height}, minimum "
          f"{min_w}x{min_h}, screen {screen.width()}x{screen.height()}", flush=True)
    return fits


def run(project: Path, first: bool) -> int:
    from PySide6.QtWidgets import QApplication

    from studio.core.library import Project
    from studio.ui.main_window import MainWindow

    app = QApplication.instance() or QApplication([])
    window = MainWindow(Project(project))
    window.show()
    ok = check(window, app, "start" if first else "restart: restored layout")
    if first:
        for space in window.workspaces.keys():
            window.workspaces.switch(space)
            ok &= check(window, app, f"{space}")
            for name, open_panel in OPENERS.items():
                open_panel(window)
                ok &= check(window, app, f"{space} + {name}")
    window.close()
    window.shutdown()
    return 0 if ok else 1


def main() -> int:
    if len(sys.argv) > 1:  # the child: one window's life
        return run(Path(sys.argv[1]), sys.argv[2] == "first")
    if os.environ.get("QT_QPA_PLATFORM", "xcb") != "xcb" or not os.environ.get("DISPLAY"):
        print("check_window_fits: needs an X display (run it under xvfb-run with a window "
              "manager, see the docstring)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "XDG_CONFIG_HOME": f"{home}/config",
               "XDG_DATA_HOME": f"{home}/data", "XDG_CACHE_HOME": f"{home}/cache"}
        project = Path(home) / "project"
        status = 0
        for phase in ("first", "again"):
            status |= subprocess.run([sys.executable, __file__, str(project), phase],
                                     env=env).returncode
        return status


if __name__ == "__main__":
    sys.exit(main())
