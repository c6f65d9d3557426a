"""Start-up in instructions: the same two windows as bench/startup.py, counted by valgrind's
callgrind from process start to the first paint, each process ending right there.

Instruction counts do not move with the load of a shared machine, so a change of a few
milliseconds shows where the wall-clock bench only shows noise. (They leave out time spent in the
kernel and waiting on disk, and add up every thread: the wall-clock bench stays the measure of
record.) Python's hash seed is fixed, and Studio's two fallback timers (the bin's thumbnails, the
caption panel's captioner import: one second) are set out of reach: under valgrind the first
paint takes several seconds and they would fire before it.

    .venv/bin/python bench/startup_instructions.py [--clips 20]

Needs valgrind (Debian: valgrind).
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.startup import BASELINE, bench_env, prepare  # noqa: E402

# Loaded through PYTHONPATH as sitecustomize in both processes: the first call of
# process_age_s (both sides ask for it at their first paint) ends the process, and Studio's
# fallback timers are moved out of the way once their modules have loaded.
AT_FIRST_PAINT_EXIT = r'''
import os
import sys

_TIMERS = {"studio.ui.bin_panel": "THUMBNAILS_FALLBACK_MS",
           "studio.ui.caption_panel": "API_LOAD_FALLBACK_MS"}


class _Hook:
    def find_spec(self, name, path=None, target=None):
        if name != "studio.ui.first_paint" and name not in _TIMERS:
            return None
        from importlib.machinery import PathFinder

        spec = PathFinder.find_spec(name, path)
        load = spec.loader.exec_module

        def exec_module(module):
            load(module)
            if name in _TIMERS:
                setattr(module, _TIMERS[name], 10_000_000)
            else:
                module.process_age_s = lambda: os._exit(0)

        spec.loader.exec_module = exec_module
        return spec


sys.meta_path.insert(0, _Hook())
'''


def instructions(cmd: list[str], env: dict, out: Path) -> int:
    result = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", *cmd],
                            capture_output=True, text=True, env=env, timeout=600)
    found = re.search(r"Collected : (\d+)", result.stderr)
    if found is None:
        raise SystemExit(f"callgrind reported no count for {cmd[:3]}:\n{result.stderr[-2000:]}")
    return int(found.group(1))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clips", type=int, default=0,
                        help="videos imported into the default project before counting")
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (Debian: apt install valgrind)")
    home = Path(tempfile.mkdtemp(prefix="studio-bench-instructions-"))
    env = bench_env(home)
    prepare(env, args.clips)
    hook = home / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(AT_FIRST_PAINT_EXIT)
    env.update(PYTHONPATH=str(hook), PYTHONHASHSEED="0")
    studio = instructions([sys.executable, "-m", "studio", "--exit-after-show"], env,
                          home / "studio.callgrind")
    baseline = instructions([sys.executable, "-c", BASELINE], env, home / "bare.callgrind")
    print(f"studio --exit-after-show: {studio / 1e6:.1f} M instructions to the first paint")
    print(f"bare QMainWindow:         {baseline / 1e6:.1f} M")
    print(f"ratio: {studio / baseline:.3f}x (target <= 1.5x)")
    shutil.rmtree(home, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
