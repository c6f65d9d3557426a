"""Command line: ``studio`` opens the GUI; ``studio VERB ...`` works headless.

Verbs: ``probe``, ``frames``, ``models``. The GUI and its Qt imports load only when no verb
is given.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from studio import __version__

VERBS = ("probe", "frames", "models")


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
    mo = sub.add_parser("models", help="list, download and build models")
    mosub = mo.add_subparsers(dest="models_verb", required=True)
    ml = mosub.add_parser("list", help="known models: kind, whether here and where, size")
    ml.add_argument("--json", action="store_true", help="print a JSON array")
    mp = mosub.add_parser("pull", help="download a model from the Hugging Face hub (resumable)")
    mp.add_argument("model_id", metavar="ID")
    md = mosub.add_parser("make-demo", help="build tiny random-weight demo models (no download)")
    md.add_argument("dir", nargs="?", type=Path, default=None, metavar="DIR",
                    help="where to build them (default: the demo folder Studio looks in)")
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


def cmd_models(args: argparse.Namespace) -> int:
    from studio.inference.loading import ModelError

    try:
        if args.models_verb == "list":
            return _models_list(args.json)
        if args.models_verb == "pull":
            return _models_pull(args.model_id)
        return _models_make_demo(args.dir)
    except ModelError as err:
        print(f"studio models {args.models_verb}: {err}", file=sys.stderr)
        return 1


def _models_list(as_json: bool) -> int:
    from studio.inference import loading, registry

    here = {m.id: m for m in loading.cached_models()}
    rows = []

    def add(model_id: str, kind: str, title: str, size_gb: float = 0.0) -> None:
        status, path, size = "missing", None, None
        try:
            found = loading.resolve(model_id)
            status, path = "ready", str(found.path)
        except loading.ModelIncompleteError:
            status = "incomplete"
        except loading.ModelError:
            pass
        if model_id in here:
            size = here[model_id].size_bytes
            path = path or str(here[model_id].path)
        rows.append({"id": model_id, "kind": kind, "title": title, "status": status,
                     "cached": status == "ready", "path": path, "size_bytes": size,
                     "download_gb": None if model_id.startswith(registry.DEMO_PREFIX) else size_gb,
                     "demo": model_id.startswith(registry.DEMO_PREFIX)})

    for spec in registry.models():
        add(spec.id, spec.kind, spec.title, spec.size_gb)
    listed = {r["id"] for r in rows}
    for demo in loading.DEMO_MODELS.values():
        if demo.id not in listed:
            add(demo.id, demo.kind, "Demo model (tiny, random weights)")
    listed = {r["id"] for r in rows}
    for m in here.values():  # other models in the cache
        if m.id not in listed:
            add(m.id, "?", "")
    if as_json:
        print(json.dumps(rows, indent=2))
        return 0
    width = max(len(r["id"]) for r in rows)
    for r in rows:
        if r["size_bytes"] is not None:
            size = _human_size(r["size_bytes"])
        elif r["download_gb"]:
            size = f"~{r['download_gb']:g} GB to download"
        else:
            size = ""
        status = {"ready": "here", "incomplete": "incomplete (pull again)",
                  "missing": "make-demo" if r["demo"] else "not downloaded"}[r["status"]]
        print(f"{r['id']:<{width}}  {r['kind']:<9}  {status:<23}  {size:<18}  {r['path'] or ''}"
              .rstrip())
    return 0


def _human_size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return ""


def _models_pull(model_id: str) -> int:
    from studio.inference import loading

    path = loading.pull(model_id)  # huggingface_hub draws its progress bars on stderr
    print(path)
    return 0


def _models_make_demo(root: Path | None) -> int:
    from studio.inference import loading

    def built(model_id: str, path: Path) -> None:
        print(f"{model_id}: {path}", flush=True)

    loading.make_demo_models(root, on_built=built)
    if root is not None and Path(root).expanduser().resolve() != loading.demo_root().resolve():
        print(f"(built outside {loading.demo_root()}: use them as folders, "
              "e.g. studio caption --model FOLDER)", file=sys.stderr)
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
        return {"probe": cmd_probe, "frames": cmd_frames, "models": cmd_models}[args.verb](args)
    args = _gui_parser().parse_args(argv)
    from studio.settings import has_display

    if not has_display():
        print("studio: no display found (DISPLAY and WAYLAND_DISPLAY are unset); "
              "to run it without a screen use: xvfb-run -a studio", file=sys.stderr)
        return 2
    from studio.ui.app import run_gui

    return run_gui(project_dir=args.project, exit_after_show=args.exit_after_show)
