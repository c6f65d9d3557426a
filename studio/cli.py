"""Command line: ``studio`` opens the GUI; ``studio VERB ...`` works headless.

Verbs: ``probe``, ``frames``. The GUI and its Qt imports load only when no verb is given.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from studio import __version__

VERBS = ("probe", "frames")


def _gui_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="studio",
        description="Studio, a desktop video studio. With no verb, opens the window. "
        f"Verbs: {', '.join(VERBS)} (studio VERB --help).",
    )
    p.add_argument("--version", action="version", version=f"studio {__version__}")
    p.add_argument("--project", metavar="DIR", type=Path,
                   help="project folder to open (default: the default project in the user data folder)")
    p.add_argument("--exit-after-show", action="store_true",
                   help="open the main window, let it paint once, print the seconds from process "
                   "start to the window being shown, and exit")
    return p


def _verb_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="studio")
    p.add_argument("--version", action="version", version=f"studio {__version__}")
    sub = p.add_subparsers(dest="verb", required=True)

    pr = sub.add_parser("probe", help="describe media files")
    pr.add_argument("files", nargs="+", metavar="FILE")
    pr.add_argument("--json", action="store_true", help="print a JSON array, one object per file")

    fr = sub.add_parser("frames", help="extract exact frames as PNG")
    fr.add_argument("file", metavar="FILE")
    fr.add_argument("--count", type=int, required=True, help="number of frames, evenly spaced")
    fr.add_argument("--start", type=float, default=None, metavar="S", help="start, seconds")
    fr.add_argument("--end", type=float, default=None, metavar="E", help="end, seconds")
    fr.add_argument("--out", type=Path, required=True, metavar="DIR")
    return p


def cmd_probe(args: argparse.Namespace) -> int:
    from studio.core.media import MediaError, MediaInfo, probe

    rows = []
    for name in args.files:
        try:
            info = probe(name)
        except MediaError as err:
            row = {"path": name, "ok": False, "error": str(err)}
            row.update({k: None for k in MediaInfo.__dataclass_fields__ if k != "path"})
        else:
            row = {"path": name, "ok": True, "error": None}
            row.update({k: v for k, v in info.to_dict().items() if k != "path"})
        rows.append(row)
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        for row in rows:
            if row["ok"]:
                n = f"~{row['frame_count']}" if row["frame_count_estimated"] else str(row["frame_count"])
                rot = f", rotated {row['rotation']}°" if row["rotation"] else ""
                audio = ", audio" if row["has_audio"] else ""
                timing = ("" if row["kind"] == "image" else
                          f", {row['fps']:.3f} fps, {row['duration_s']:.3f} s, {n} frames")
                print(f"{row['path']}: {row['kind']} {row['width']}x{row['height']}{rot}, "
                      f"{row['codec']} {row['pix_fmt']}{timing}{audio}")
            else:
                print(row["error"])
    return 0 if all(r["ok"] for r in rows) else 1


def cmd_frames(args: argparse.Namespace) -> int:
    import math

    import cv2

    from studio.core.frames import FrameReader
    from studio.core.media import MediaError

    if args.count < 1:
        print("studio frames: --count must be at least 1", file=sys.stderr)
        return 2
    for flag, value in (("--start", args.start), ("--end", args.end)):
        if value is not None and not (math.isfinite(value) and value >= 0):
            print(f"studio frames: {flag} must be a time in seconds, 0 or more", file=sys.stderr)
            return 2
    if args.start is not None and args.end is not None and args.start > args.end:
        print(f"studio frames: --start ({args.start:g} s) is after --end ({args.end:g} s)",
              file=sys.stderr)
        return 2
    written: list[int] = []
    try:
        with FrameReader(args.file) as reader:
            indices = reader.sample_indices(count=args.count, start_s=args.start, end_s=args.end)
            args.out.mkdir(parents=True, exist_ok=True)
            # one frame in memory at a time: decoded, written, dropped
            for f in reader.iter_frames(indices):
                final = args.out / f"frame_{f.index:06d}.png"
                ok, buf = cv2.imencode(".png", cv2.cvtColor(f.image, cv2.COLOR_RGB2BGR))
                if not ok:
                    raise OSError(f"could not encode frame {f.index} as PNG")
                _write_atomic(final, buf.tobytes())
                written.append(f.index)
    except MediaError as err:
        print(str(err), file=sys.stderr)
        return 1
    except OSError as err:
        print(f"studio frames: cannot write to {args.out}: {err.strerror or err}", file=sys.stderr)
        return 1
    print(json.dumps(written))
    return 0


def _write_atomic(final: Path, data: bytes) -> None:
    tmp = final.with_name(f".{final.name}.part")
    try:
        tmp.write_bytes(data)
        tmp.replace(final)
    finally:
        tmp.unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] in VERBS:
        args = _verb_parser().parse_args(argv)
        return {"probe": cmd_probe, "frames": cmd_frames}[args.verb](args)
    args = _gui_parser().parse_args(argv)
    from studio.settings import has_display

    if not has_display():
        print("studio: no display found (DISPLAY and WAYLAND_DISPLAY are unset); "
              "to run it without a screen use: xvfb-run -a studio", file=sys.stderr)
        return 2
    from studio.ui.app import run_gui

    return run_gui(project_dir=args.project, exit_after_show=args.exit_after_show)
