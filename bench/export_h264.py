"""H.264 export throughput: Studio's mp4 preset (``core.export``: exact frames from
``core.frames``, OpenCV colour conversion, PyAV's libx264) against the ``ffmpeg`` command line
re-encoding the same file with libx264 at the same preset and CRF. Target: Studio >= 0.8x the
command line's frames per second.

The source is a 10 s 1280x720 30 fps H.264 clip with a smooth moving texture (made once under
bench/out/). The baseline is whatever ``ffmpeg`` is on PATH: on the development machine
Debian's ``ffmpeg`` package (/usr/bin/ffmpeg, FFmpeg 5.1 with Debian's libx264), not the FFmpeg
8 and libx264 inside PyAV's wheel, so the two sides also differ in their x264 build (both are
printed). Without ``ffmpeg`` the bench says so and exits 0, skipping.

Both sides run alternately, ``--rounds`` times each, in this one process run; the ratio is the
median of the per-round ratios, because other work on the machine shifts both sides at once.

    .venv/bin/python bench/export_h264.py [--rounds 5] [--preset medium] [--crf 18]
"""

from __future__ import annotations

import argparse
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import av

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.media import make_panning_video  # noqa: E402
from studio.core.export import ExportOptions, export_clip  # noqa: E402

SECONDS, WIDTH, HEIGHT, FPS = 10, 1280, 720, 30


def make_source(path: Path) -> Path:
    return make_panning_video(path, WIDTH, HEIGHT, SECONDS * FPS, FPS, preset="fast", crf=20,
                              gop=60)


def x264_build(path: Path) -> str:
    """The x264 version string its encoder writes into the stream (an SEI message)."""
    head = path.read_bytes()[:200_000]
    found = re.search(rb"x264 - core (\d+)( r\d+ \w+)?", head)
    return found.group(0).decode() if found else "unknown"


def ffmpeg_version(ffmpeg: str) -> str:
    out = subprocess.run([ffmpeg, "-version"], capture_output=True, text=True).stdout
    return out.splitlines()[0] if out else "unknown"


def cpu_seconds(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def run_ffmpeg(ffmpeg: str, source: Path, dest: Path, preset: str,
               crf: int) -> tuple[float, float]:
    """(wall seconds, CPU seconds of all its threads)."""
    cpu0, started = cpu_seconds(resource.RUSAGE_CHILDREN), time.perf_counter()
    subprocess.run([ffmpeg, "-v", "error", "-y", "-i", str(source), "-an", "-c:v", "libx264",
                    "-preset", preset, "-crf", str(crf), "-pix_fmt", "yuv420p",
                    "-movflags", "+faststart", str(dest)], check=True)
    return time.perf_counter() - started, cpu_seconds(resource.RUSAGE_CHILDREN) - cpu0


def run_studio(source: Path, folder: Path, preset: str,
               crf: int) -> tuple[float, float, Path, int]:
    """(wall seconds, CPU seconds of this process's threads, output, frames written)."""
    cpu0, started = cpu_seconds(resource.RUSAGE_SELF), time.perf_counter()
    result = export_clip(source, folder, ExportOptions(preset="mp4", crf=crf, speed=preset,
                                                       audio=False, overwrite=True))
    return (time.perf_counter() - started, cpu_seconds(resource.RUSAGE_SELF) - cpu0,
            Path(result.output), result.frames)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--preset", default="medium", help="x264 preset for both sides")
    parser.add_argument("--crf", type=int, default=18, help="CRF for both sides (Studio's "
                        "default for mp4)")
    args = parser.parse_args()

    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        print("SKIPPED: no `ffmpeg` command on PATH, so there is no baseline to compare with. "
              "On Debian/Ubuntu: apt-get install ffmpeg.")
        return 0
    source = make_source(ROOT / "bench" / "out" / f"export_src_{SECONDS}s_{HEIGHT}p.mp4")
    frames = SECONDS * FPS
    print(f"source: {source.relative_to(ROOT)} ({SECONDS} s, {WIDTH}x{HEIGHT}, {FPS} fps, "
          f"{frames} frames)")
    print(f"baseline: {ffmpeg} -- {ffmpeg_version(ffmpeg)}")
    print(f"studio:   PyAV {av.__version__} with FFmpeg "
          f"{'.'.join(map(str, av.library_versions['libavcodec']))} (libavcodec)")
    print(f"both: libx264 -preset {args.preset} -crf {args.crf}, yuv420p, +faststart, no audio")

    ratios, cpu_ratios, studio_times, ffmpeg_times = [], [], [], []
    with tempfile.TemporaryDirectory(prefix="studio-bench-export-") as tmp:
        folder = Path(tmp)
        baseline = folder / "ffmpeg.mp4"
        for round_ in range(1, args.rounds + 1):
            # alternate which side goes first, so neither always meets a warmer cache
            if round_ % 2:
                t_ff, c_ff = run_ffmpeg(ffmpeg, source, baseline, args.preset, args.crf)
                t_st, c_st, ours, written = run_studio(source, folder, args.preset, args.crf)
            else:
                t_st, c_st, ours, written = run_studio(source, folder, args.preset, args.crf)
                t_ff, c_ff = run_ffmpeg(ffmpeg, source, baseline, args.preset, args.crf)
            assert written == frames, f"studio wrote {written} frames, not {frames}"
            ratios.append(t_ff / t_st)
            cpu_ratios.append(c_ff / c_st)
            studio_times.append(t_st)
            ffmpeg_times.append(t_ff)
            print(f"round {round_}: ffmpeg {t_ff:.2f} s ({frames / t_ff:.1f} fps, CPU {c_ff:.1f} s)"
                  f", studio {t_st:.2f} s ({frames / t_st:.1f} fps, CPU {c_st:.1f} s), "
                  f"ratio {t_ff / t_st:.2f}x (CPU {c_ff / c_st:.2f}x)")
        print(f"x264 builds: ffmpeg {x264_build(baseline)!r}; studio {x264_build(ours)!r}")
        print(f"output sizes: ffmpeg {baseline.stat().st_size / 1e6:.2f} MB, "
              f"studio {ours.stat().st_size / 1e6:.2f} MB")
    ratio = statistics.median(ratios)
    print(f"median: ffmpeg {statistics.median(ffmpeg_times):.2f} s, studio "
          f"{statistics.median(studio_times):.2f} s; CPU-time ratio "
          f"{statistics.median(cpu_ratios):.2f}x (what the wall ratio tends to when the "
          "machine is otherwise idle and both use every core)")
    print(f"ratio: studio throughput = {ratio:.2f}x the ffmpeg command line's "
          f"(target >= 0.8x) -> {'met' if ratio >= 0.8 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
