"""Command line: ``studio`` opens the GUI; ``studio VERB ...`` works headless.

Verbs: ``probe``, ``frames``, ``caption``, ``generate``, ``models``, ``export``, ``analyze``,
``desktop``.
The GUI and
its Qt imports load only when no verb is given.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from studio import __version__
from studio.cli_common import (
    _examples,
    _HelpFormatter,
    _progress,
    _progress_mode,
    _write_text_sidecar,
)

# light (os, json): the window's start-up imports it anyway, through the project library
from studio.core.paths import display_path, json_text

VERBS = ("probe", "frames", "caption", "generate", "models", "export", "analyze", "desktop")


def _verb_guide() -> list[tuple[str, str, list[str]]]:
    """(verb, what it does in a line, examples) for ``studio --help`` and each verb's help
    (a function, not a constant: the window's start-up never reads it)."""
    return [
        ("probe", "describe media files: size, fps, duration, frames, codec, audio",
         ["studio probe clip.mp4", "studio probe clips/*.mp4 --json > info.json"]),
        ("frames", "write exact frames as PNG, evenly spaced",
         ["studio frames clip.mp4 --count 8 --start 2 --end 6 --out frames/"]),
        ("caption", "caption videos and images with SmolVLM2, one JSON line per file",
         ["studio caption clips/*.mp4 --txt --jsonl captions.jsonl",
          'studio caption clip.mp4 --prompt "Describe the camera motion."',
          "studio caption clips/ --cluster local --jsonl captions.jsonl",
          "studio caption clips/ --cluster ray://head-node:10001 --project ~/Videos/kites"]),
        ("generate", "generate a video with LTX-Video (or CogVideoX, Wan, LTX-2)",
         ['studio generate "a red kite over a windy beach" --seed 42 -o kite.mp4',
          'studio generate "she turns and smiles" --image face.png --frames 97 -o smile.mp4',
          "studio generate --batch jobs.jsonl --cluster ray://head-node:10001"]),
        ("models", "list, download and build models",
         ["studio models list", "studio models pull HuggingFaceTB/SmolVLM2-256M-Video-Instruct",
          "studio models make-demo"]),
        ("models list", "known models: kind, whether here and where, size",
         ["studio models list", "studio models list --json"]),
        ("models pull", "download a model from the Hugging Face hub (resumable)",
         ["studio models pull Lightricks/LTX-Video:ltxv-2b-0.9.8-distilled",
          "studio models pull HuggingFaceTB/SmolVLM2-256M-Video-Instruct --progress json"]),
        ("models make-demo", "build tiny random-weight demo models (no download)",
         ["studio models make-demo",
          "studio caption clip.mp4 --model demo/smolvlm2-tiny"]),
        ("export", "export clips as mp4, webm, gif, PNG frames or a training set",
         ["studio export clip.mp4 --in 2 --out 6 -o trimmed.mp4",
          "studio export clips/*.mp4 --preset ltx-train -o dataset/"]),
        ("analyze", "temporal coherence: optical flow, warp error, motion, flicker",
         ["studio analyze generated.mp4", "studio analyze a.mp4 b.mp4 --json > analysis.jsonl"]),
        ("desktop", "add Studio to the desktop's menus and Open With, or take it away (Linux)",
         ["studio desktop install --user", "studio desktop uninstall --user"]),
        ("desktop install", "place the desktop entry, icons, AppStream metainfo and MIME "
         "associations, then refresh the caches",
         ["studio desktop install --user", "sudo studio desktop install --system",
          "studio desktop install --prefix /tmp/pkg/usr/share"]),
        ("desktop uninstall", "remove what desktop install placed, then refresh the caches",
         ["studio desktop uninstall --user"]),
    ]


def _gui_epilog() -> str:
    guide = [(verb, line, examples) for verb, line, examples in _verb_guide() if " " not in verb]
    width = max(len(verb) for verb, _, _ in guide) + 2
    lines = ["verbs (studio VERB --help says more; each prints its results on stdout):"]
    for verb, line, examples in guide:
        lines.append(f"  {verb:<{width}}{line}")
        lines.extend(f"  {'':<{width}}  {example}" for example in examples[:1])
    lines += ["", "examples:", "  studio", "  studio --project ~/Videos/kites clip1.mp4 clip2.mp4",
              "  studio export long.mp4 --preset mp4 -o out.mp4 --progress json",
              "", "-v or -vv before or after a verb: log lines on stderr (STUDIO_LOG_LEVEL=DEBUG "
              "says the same);", "the log file is in the user log folder (Help › Open Log "
              "Folder). -q/--quiet or --progress", "auto|bar|json|none: progress on stderr."]
    return "\n".join(lines) + "\n"


def _gui_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="studio", formatter_class=_HelpFormatter, epilog=_gui_epilog(),
        description="Studio, a desktop video studio. With no verb, opens the window (with "
        "FILEs: imports them into the project). With a verb, works on the command line.",
    )
    p.add_argument("--version", action="version", version=f"studio {__version__}")
    p.add_argument("--project", metavar="DIR", type=Path,
                   help="project folder to open (default: the default project in the user data folder)")
    p.add_argument("--exit-after-show", action="store_true",
                   help="open the main window, let it paint once, print the seconds from process "
                   "start to the window being shown, and exit (with FILEs: once they are "
                   "imported, printing the status line too)")
    p.add_argument("files", nargs="*", metavar="FILE",
                   help="media files or folders to import into the project and select, as a file "
                   "manager's Open With passes them (a file named like a verb: ./NAME)")
    return p


def _plain_gui_args(argv: list[str]) -> argparse.Namespace | None:
    """What ``_gui_parser`` makes of ``argv`` when it holds only ``--project DIR``,
    ``--exit-after-show`` and file names; None for anything else (help, version, errors), which
    argparse then handles. Building that parser costs a few milliseconds of every start-up,
    most of it gettext looking up its messages' translations."""
    project, exit_after_show, files = None, False, []
    files_ended = False  # argparse takes the file names as one run
    rest = iter(argv)
    for arg in rest:
        if arg.startswith("-"):
            files_ended = bool(files)
        if arg == "--exit-after-show":
            exit_after_show = True
        elif arg == "--project" or arg.startswith("--project="):
            value = arg.partition("=")[2] if "=" in arg else next(rest, None)
            if not value or value.startswith("-"):
                return None
            project = Path(value)
        elif arg.startswith("-") or files_ended:
            return None
        else:
            files.append(arg)
    return argparse.Namespace(project=project, exit_after_show=exit_after_show, files=files)


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

    _add_caption_parser(sub)
    _add_analyze_parser(sub)
    from studio.cli_generate import _add_generate_parser  # only when a verb is named

    _add_generate_parser(sub)
    mo = sub.add_parser("models", help="list, download and build models")
    mosub = mo.add_subparsers(dest="models_verb", required=True)
    ml = mosub.add_parser("list", help="known models: kind, whether here and where, size")
    ml.add_argument("--json", action="store_true", help="print a JSON array")
    mp = mosub.add_parser("pull", help="download a model from the Hugging Face hub (resumable)")
    mp.add_argument("model_id", metavar="ID")
    md = mosub.add_parser("make-demo", help="build tiny random-weight demo models (no download)")
    md.add_argument("dir", nargs="?", type=Path, default=None, metavar="DIR",
                    help="where to build them (default: the demo folder Studio looks in)")
    _add_export_parser(sub)
    _add_desktop_parser(sub)
    _add_output_flags(p, top=True)
    guide = {verb: (line, examples) for verb, line, examples in _verb_guide()}
    for parser in _verb_parsers(p):
        _add_output_flags(parser)
        name = parser.prog.removeprefix("studio ")
        if name in guide:
            parser.formatter_class = _HelpFormatter
            parser.epilog = _examples(guide[name][1])
            parser.description = parser.description or guide[name][0][:1].upper() \
                + guide[name][0][1:] + "."
    return p


def _add_output_flags(parser: argparse.ArgumentParser, top: bool = False) -> None:
    """-q/--quiet and --progress, before or after the verb (SUPPRESS: a verb's parser does not
    reset what was given before the verb)."""
    from studio.progress import MODES

    group = parser.add_argument_group("progress on stderr") if not top else parser
    group.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                       help="no progress on stderr (warnings and errors still are)")
    group.add_argument("--progress", choices=MODES, default=argparse.SUPPRESS,
                       help="auto: a bar when stderr is a terminal, nothing otherwise; bar: "
                       "always a bar; json: one JSON line per update, e.g. "
                       '{"progress": {"verb", "file", "done", "total", "unit", "eta_s"}}; '
                       "none: nothing, as -q (default: auto)")


def _verb_parsers(parser: argparse.ArgumentParser):
    """Every parser below ``parser`` (verbs, and the models' own verbs)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in dict.fromkeys(action.choices.values()):
                yield child
                yield from _verb_parsers(child)


def _add_desktop_parser(sub) -> None:
    de = sub.add_parser(
        "desktop", help="add Studio to the desktop's menus and Open With (Linux)",
        description="Install or remove Studio's desktop integration: the desktop entry "
        "(menus, Open With for video/mp4, video/webm, image/gif and more), the icons in the "
        "hicolor theme and the AppStream metainfo, all named io.github.studio_app.Studio, then "
        "refresh the caches whose tools exist (update-desktop-database, gtk-update-icon-cache). "
        "Prints one JSON object: ok, action, app_id, share, files, exec, caches, error.")
    desub = de.add_subparsers(dest="desktop_verb", required=True)
    for name, what in (("install", "place the desktop entry, icons and metainfo"),
                       ("uninstall", "remove them")):
        d = desub.add_parser(name, help=what)
        scope = d.add_mutually_exclusive_group()
        scope.add_argument("--user", dest="scope", action="store_const", const="user",
                           default="user", help="for you: under $XDG_DATA_HOME, else "
                           "~/.local/share (the default)")
        scope.add_argument("--system", dest="scope", action="store_const", const="system",
                           help="for everyone: under /usr/local/share (needs root)")
        d.add_argument("--prefix", type=Path, default=None, metavar="SHARE_DIR",
                       help="under this share folder instead (packaging: e.g. "
                       "$DESTDIR/usr/share)")


def cmd_desktop(args: argparse.Namespace) -> int:
    from studio import desktop
    from studio.settings import APP_ID

    row = {"ok": False, "action": args.desktop_verb, "app_id": APP_ID, "share": None,
           "files": [], "error": None}
    if sys.platform in ("win32", "darwin"):
        row["error"] = "desktop entries are for Linux and BSD desktops (freedesktop.org)"
    else:
        act = desktop.install if args.desktop_verb == "install" else desktop.uninstall
        try:
            row.update(act(args.scope, args.prefix), ok=True)
        except desktop.DesktopError as err:
            row["error"] = str(err)
    print(json_text(row), flush=True)
    if row["error"]:
        print(f"studio desktop {args.desktop_verb}: {row['error']}", file=sys.stderr)
        return 1
    return 0


def _add_export_parser(sub) -> None:
    from studio.core.export import ENCODER_SPEEDS, FITS, PRESET_NAMES

    ex = sub.add_parser(
        "export", help="export clips: mp4, webm, gif, png frames, training sets",
        description="Export each FILE and print one JSON object per line: source, output, ok, "
        "error, frames, seconds (the output's duration), width, height, fps, sidecars. Files "
        "are written under a temporary name and renamed when complete; an existing file is "
        "never replaced (a numbered name is used) unless --overwrite is given. Exit status 0 "
        "when every file was exported, 1 otherwise.")
    ex.add_argument("files", nargs="+", metavar="FILE")
    ex.add_argument("--preset", choices=PRESET_NAMES, default="mp4",
                    help="mp4 (H.264 + AAC), webm (VP9 + Opus), gif, png (a folder of frames), "
                    "ltx-train (8k+1 frames, sides x32) or wan-train (4k+1 frames, sides x16): "
                    "clips with .txt captions and a metadata.jsonl manifest (default: mp4)")
    ex.add_argument("-o", "--output", type=Path, required=True, metavar="DIR_OR_FILE",
                    help="a folder (made when missing), or a file name for one FILE")
    ex.add_argument("--in", dest="in_s", type=float, default=None, metavar="S",
                    help="in point, seconds: the first frame kept is the one shown then")
    ex.add_argument("--out", dest="out_s", type=float, default=None, metavar="S",
                    help="out point, seconds: the last frame kept is the one shown then "
                    "(included, as the player's Out mark: --in 1 --out 3 at 24 fps keeps "
                    "frames 24-72)")
    ex.add_argument("--in-frame", type=int, default=None, metavar="N", help="first frame index")
    ex.add_argument("--out-frame", type=int, default=None, metavar="N",
                    help="last frame index (included)")
    ex.add_argument("--width", type=int, default=None, metavar="W")
    ex.add_argument("--height", type=int, default=None, metavar="H")
    ex.add_argument("--fit", choices=FITS, default="pad",
                    help="with --width and --height: black bars (pad) or cut the middle (crop)")
    ex.add_argument("--fps", type=float, default=None, metavar="R",
                    help="constant output frame rate (default: the source's frame times; "
                    "gif 15 at most, ltx-train 24, wan-train 16)")
    ex.add_argument("--crf", type=int, default=None, metavar="N",
                    help="quality, lower is better (default: mp4 18, webm 32, training 15)")
    ex.add_argument("--speed", choices=ENCODER_SPEEDS, default="medium",
                    help="encoder preset (x264's names; VP9 gets a matching speed)")
    ex.add_argument("--no-audio", action="store_true", help="leave the audio out")
    ex.add_argument("--caption", default=None, metavar="TEXT",
                    help="training presets: the caption (default: FILE's .txt sidecar)")
    ex.add_argument("--name", default=None, metavar="STEM",
                    help="output name without suffix (sanitised; one FILE)")
    ex.add_argument("--metadata", type=Path, default=None, metavar="JSON_FILE",
                    help="settings to store in the comment tag and a .json sidecar")
    ex.add_argument("--overwrite", action="store_true", help="replace existing files")


def _add_caption_parser(sub) -> None:
    from studio.inference.captioner import PROMPT_PRESETS
    from studio.inference.registry import DEFAULT_CAPTIONER

    ca = sub.add_parser(
        "caption", help="caption videos and images with SmolVLM2 (one JSON object per line)",
        description="Caption each FILE with SmolVLM2 and print one JSON object per line: path, "
        "ok, caption, model, demo, frame_times (seconds), seconds, error. The model loads once "
        "for all files; a file that fails gets ok: false and the run goes on. Exit status 0 "
        "when every file was captioned, 1 otherwise.")
    ca.add_argument("files", nargs="+", metavar="FILE|DIR",
                    help="media files, or folders searched for them (recursively, in name order)")
    ca.add_argument("--model", default=DEFAULT_CAPTIONER, metavar="ID|DIR",
                    help=f"model id (see `studio models list`) or a model folder "
                    f"(default: {DEFAULT_CAPTIONER})")
    ca.add_argument("--preset", choices=list(PROMPT_PRESETS), default=None,
                    help="prompt preset (default: detailed)")
    ca.add_argument("--prompt", default=None, metavar="TEXT",
                    help="your own prompt instead of a preset")
    ca.add_argument("--fps", type=float, default=None, metavar="F",
                    help="frames per second to sample (default: the model's, usually 1)")
    ca.add_argument("--max-frames", type=int, default=None, metavar="N",
                    help="at most N frames per video (default: the model's, usually 64)")
    ca.add_argument("--max-new-tokens", type=int, default=None, metavar="N",
                    help="longest caption, in tokens (default: the model's, usually 256)")
    ca.add_argument("--sample", action="store_true",
                    help="sample the words (varies from run to run) instead of greedy decoding")
    ca.add_argument("--temperature", type=float, default=None, help="with --sample (default 0.7)")
    ca.add_argument("--top-p", type=float, default=None, help="with --sample (default 0.9)")
    ca.add_argument("--device", choices=("cuda", "mps", "cpu"), default=None,
                    help="where the model runs (default: CUDA, then MPS, then CPU)")
    ca.add_argument("--batch-size", default="auto", metavar="auto|N",
                    help="clips per forward pass: auto chooses from the free memory (at most 8 "
                    "on a CPU), 1 captions one at a time; greedy captions are the same either "
                    "way (default: auto)")
    ca.add_argument("--jsonl", type=Path, default=None, metavar="OUT",
                    help='also write a manifest of {"video_path", "caption"} lines (the '
                    "musubi-tuner layout) to OUT, replacing it")
    ca.add_argument("--txt", action="store_true",
                    help="also write each caption beside its input as a .txt of the same name "
                    "(clip.mp4 -> clip.txt, the diffusion-pipe layout); an existing .txt is "
                    "left alone unless --overwrite is given")
    ca.add_argument("--overwrite", action="store_true", help="with --txt: replace existing .txt files")
    from studio import cli_cluster

    cli_cluster.add_caption_flags(ca)


def cmd_probe(args: argparse.Namespace) -> int:
    from studio.core.media import MediaError, MediaInfo, probe

    rows = []
    report = _progress(args)
    if len(args.files) > 1:  # one file is quick
        report.start(len(args.files), unit="files")
    for name in args.files:
        try:
            info = probe(name)
        except MediaError as err:
            row = {"path": name, "ok": False, "error": str(err)}
            row.update({k: None for k in MediaInfo._fields if k != "path"})
        else:
            row = {"path": name, "ok": True, "error": None}
            row.update({k: v for k, v in info.to_dict().items() if k != "path"})
        rows.append(row)
        report.advance(file=name)
    report.end()
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
                print(f"{display_path(row['path'])}: {row['kind']} {row['width']}x"
                      f"{row['height']}{rot}, {row['codec']} {row['pix_fmt']}{timing}{audio}")
            else:
                print(display_path(row["error"]))  # a name that is not UTF-8, readable
    return 0 if all(r["ok"] for r in rows) else 1


def cmd_frames(args: argparse.Namespace) -> int:
    """Exact frames as PNG files. Prints the written frame indices as a JSON array; a file that
    cannot be used prints one JSON line ``{"ok": false, "file", "error"}`` (and the message on
    stderr), as the other verbs do. Never overwrites: existing ``frame_*.png`` files it would
    write stop it before anything is written."""
    import math

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
    try:
        with FrameReader(args.file) as reader:
            _check_frame_range(args, reader)
            # at most one index per frame of the range, whatever --count asks
            indices = reader.sample_indices(count=args.count, start_s=args.start, end_s=args.end)
            targets = [args.out / f"frame_{i:06d}.png" for i in indices]
            taken = next((t for t in targets if os.path.lexists(t)), None)
            if taken is not None:
                raise _FramesError(f"{taken}: exists; studio frames never overwrites a file "
                                   "(choose another --out folder, or move the files away)")
            report = _progress(args)
            report.start(len(indices), file=args.file, unit="frames")
            written = _write_frames(reader, indices, args.out, report.advance)
            report.end()
    except (MediaError, _FramesError) as err:
        return _frames_failed(args.file, str(err))
    except OSError as err:
        return _frames_failed(args.file, f"studio frames: cannot write to {args.out}: "
                                         f"{err.strerror or err}")
    print(json.dumps(written))
    return 0


class _FramesError(Exception):
    """Frames that cannot be written as asked; the message is for a person."""


def _check_frame_range(args: argparse.Namespace, reader) -> None:
    """--start and --end within the clip (a time past its end is an error, not its last
    frame)."""
    length = reader.duration_s
    for flag, value in (("--start", args.start), ("--end", args.end)):
        if value is not None and value >= length and not (value == 0 and length == 0):
            raise _FramesError(f"{args.file}: {flag} {value:g} s is past the end of the clip "
                               f"({length:.3f} s)")


def _write_frames(reader, indices: list[int], out: Path, written_one=None) -> list[int]:
    """Decode ``indices`` and write each as PNG, one frame in memory at a time;
    ``written_one()`` after each."""
    import cv2

    written: list[int] = []
    out.mkdir(parents=True, exist_ok=True)
    for f in reader.iter_frames(indices):
        final = out / f"frame_{f.index:06d}.png"
        ok, buf = cv2.imencode(".png", cv2.cvtColor(f.image, cv2.COLOR_RGB2BGR))
        if not ok:
            raise OSError(f"could not encode frame {f.index} as PNG")
        if os.path.lexists(final):  # appeared meanwhile: still never overwritten
            raise _FramesError(f"{final}: exists; studio frames never overwrites a file")
        _write_atomic(final, buf.tobytes())
        written.append(f.index)
        if written_one is not None:
            written_one()
    return written


def _frames_failed(path, message: str) -> int:
    print(json.dumps({"ok": False, "file": display_path(os.fsdecode(path)),
                      "error": display_path(message)}, ensure_ascii=False), flush=True)
    print(message, file=sys.stderr)
    return 1


def _caption_settings(args: argparse.Namespace, model: str):
    """CaptionSettings from the command line (ValueError naming the flag when one is bad)."""
    from studio.inference import registry
    from studio.inference.captioner import CaptionSettings

    if args.prompt is not None and args.preset is not None:
        raise ValueError("give either --prompt or --preset, not both")
    if args.prompt is not None and not args.prompt.strip():
        raise ValueError("--prompt needs some text")
    spec = registry.get(model)
    max_new_tokens = args.max_new_tokens
    if max_new_tokens is None:
        max_new_tokens = (spec.defaults.get("max_new_tokens") if spec is not None else None) \
            or CaptionSettings.max_new_tokens
    settings = CaptionSettings(
        preset="custom" if args.prompt is not None else (args.preset or CaptionSettings.preset),
        prompt=args.prompt, max_new_tokens=max_new_tokens, do_sample=args.sample,
        fps=args.fps, max_frames=args.max_frames)
    if args.temperature is not None:
        settings.temperature = args.temperature
    if args.top_p is not None:
        settings.top_p = args.top_p
    try:
        settings.validate()
    except ValueError as err:
        flag = str(err).split(":", 1)[0].replace("_", "-")
        raise ValueError(f"--{flag}:{str(err).split(':', 1)[1]}") from None
    return settings


def cmd_caption(args: argparse.Namespace) -> int:
    from studio.core.media import scan_media
    from studio.inference.batching import ClipInput, caption_many
    from studio.inference.loading import ModelError

    try:
        settings = _caption_settings(args, args.model)
        batch_size = _batch_size_flag(args.batch_size)
    except ValueError as err:
        print(f"studio caption: {err}", file=sys.stderr)
        return 2
    if args.jsonl is not None and not args.jsonl.parent.is_dir():
        # found out now rather than after captioning every file
        print(f"studio caption: --jsonl: no such folder: {args.jsonl.parent}", file=sys.stderr)
        return 2
    args.files = scan_media(args.files)[0]  # a folder: the media files in it
    if not args.files:
        print("studio caption: no media files in the folders given", file=sys.stderr)
        return 2
    if args.cluster is not None or args.project is not None:
        from studio import cli_cluster

        return cli_cluster.caption(args, settings, batch_size)
    try:
        from studio.inference.captioner import Captioner

        captioner = Captioner.load(args.model, args.device)
    except ModelError as err:
        print(f"studio caption: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("studio caption: interrupted", file=sys.stderr)
        return 130

    rows = _CaptionRows(args, captioner)
    try:
        with rows.report:  # the bar ends before the interrupted line
            rows.report.start(len(args.files), file=args.files[0], unit="clips")
            caption_many(captioner, [ClipInput(name) for name in args.files], settings,
                         batch_size=batch_size, callbacks=rows.callbacks())
    except KeyboardInterrupt:
        print("studio caption: interrupted", file=sys.stderr)
        rows.all_ok = False
        interrupted = True
    else:
        interrupted = False
    finally:
        captioner.unload()
    if args.jsonl is not None:
        lines = "".join(json_text(m) + "\n" for m in rows.manifest)
        try:
            _write_text_sidecar(args.jsonl, lines, overwrite=True)
        except OSError as err:
            print(f"studio caption: cannot write {args.jsonl}: {err.strerror or err}",
                  file=sys.stderr)
            return 1
    if interrupted:
        return 130
    return 0 if rows.all_ok else 1


def _batch_size_flag(text: str) -> int | None:
    from studio.inference.batching import parse_batch_size

    try:
        return parse_batch_size(text)
    except ValueError as err:
        raise ValueError(f"--batch-size: {err}") from None


class _CaptionRows:
    """`studio caption`'s output: one JSON line per file, printed in the order of the files as
    soon as every file before it is done (a batch's clips end together), the manifest and the
    .txt sidecars."""

    def __init__(self, args: argparse.Namespace, captioner) -> None:
        self.args, self.captioner = args, captioner
        self.manifest: list[dict] = []
        self.all_ok = True
        self._done: dict[int, dict] = {}
        self._printed = 0
        self.report = _progress(args)  # clips done, in whatever order they end

    def callbacks(self):
        from studio.inference.batching import BatchCallbacks

        return BatchCallbacks(finished=self.finished, failed=self.failed)

    def _row(self, index: int) -> dict:
        return {"path": self.args.files[index], "ok": False, "caption": None,
                "model": self.captioner.model_id, "demo": self.captioner.demo,
                "frame_times": [], "seconds": None, "error": None}

    def failed(self, index: int, err: BaseException) -> None:
        from studio.core.media import MediaError

        name, row = self.args.files[index], self._row(index)
        if isinstance(err, MediaError):
            row["error"] = str(err)
        elif isinstance(err, (ValueError, IndexError)):
            row["error"] = f"{name}: {err}" if name not in str(err) else str(err)
        else:
            row["error"] = f"{name}: captioning failed: {type(err).__name__}: {err}"
        self._ended(index, row)

    def finished(self, index: int, result) -> None:
        name, row = self.args.files[index], self._row(index)
        row.update(ok=True, caption=result.text, frame_times=result.frame_times,
                   seconds=round(result.seconds, 3))
        if self.args.txt:
            row["txt"] = None
            sidecar = Path(name).with_suffix(".txt")
            try:
                _write_text_sidecar(sidecar, result.text + "\n", self.args.overwrite)
                row["txt"] = str(sidecar)
            except FileExistsError:
                row.update(ok=False, error=f"{sidecar}: exists; not replaced (use "
                           "--overwrite to replace it)")
            except OSError as err:
                row.update(ok=False, error=f"{sidecar}: cannot write it ({err.strerror or err})")
        row["_manifest"] = {"video_path": Path(name).resolve().as_posix(), "caption": result.text}
        self._ended(index, row)

    def _ended(self, index: int, row: dict) -> None:
        self.report.advance(file=self.args.files[index])
        self._done[index] = row
        while self._printed in self._done:
            row = self._done.pop(self._printed)
            self._printed += 1
            entry = row.pop("_manifest", None)
            if entry is not None:
                self.manifest.append(entry)
            self.all_ok = self.all_ok and row["ok"]
            print(json_text(row), flush=True)


def cmd_export(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from studio.core.export import ExportOptions, check_options, export_clips

    def usage(message: str) -> int:
        print(f"studio export: {message}", file=sys.stderr)
        return 2

    metadata = None
    if args.metadata is not None:
        try:
            metadata = json.loads(args.metadata.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            return usage(f"{args.metadata}: cannot read it as JSON ({err})")
        except RecursionError:
            return usage(f"{args.metadata}: cannot read it as JSON (nested too deeply)")
        if not isinstance(metadata, dict):
            return usage(f"{args.metadata}: needs a JSON object")
    if args.name is not None and len(args.files) > 1:
        return usage("--name names one output; give one FILE")
    base = ExportOptions(
        preset=args.preset, in_frame=args.in_frame, out_frame=args.out_frame, in_s=args.in_s,
        out_s=args.out_s, width=args.width, height=args.height, fit=args.fit, fps=args.fps,
        crf=args.crf, speed=args.speed, audio=not args.no_audio, name=args.name,
        caption=args.caption, metadata=metadata, overwrite=args.overwrite)
    try:
        check_options(base, caption_required=False)
    except ValueError as err:
        return usage(str(err))
    items = []
    for name in args.files:
        options = base
        if args.preset.endswith("-train") and args.caption is None:
            try:  # the diffusion-pipe layout beside the clip: clip.mp4 + clip.txt
                text = Path(name).with_suffix(".txt").read_text(encoding="utf-8").strip()
                options = replace(base, caption=text)
            except (OSError, ValueError):
                pass  # the export then says the caption is missing
        items.append((name, options))

    report = _progress(args)
    ended = []

    def emit(result) -> None:
        ended.append(result)
        print(json_text(result.to_dict()), flush=True)

    def progress(done: int, total: int) -> None:  # the file of the first result still to come
        report.update(done, total, file=items[min(len(ended), len(items) - 1)][0])

    problem = _export_target_problem(args, len(items))
    if problem:  # before any work: a row for each file, as a failed export gives
        from studio.core.export import ExportResult

        for name, _options in items:
            emit(ExportResult(source=name, output=None, ok=False, error=problem))
        print(f"studio export: -o: {problem}", file=sys.stderr)
        return 1
    from studio.core.export import ExportError

    try:
        with report:
            report.start(None, file=items[0][0], unit="frames")
            batch = export_clips(items, args.output, base, on_result=emit, progress=progress)
    except ExportError as err:  # the training set's manifest could not be written
        print(f"studio export: {err}", file=sys.stderr)
        return 1
    if batch.manifest:
        print(json.dumps({"source": None, "output": batch.manifest, "ok": True, "error": None,
                          "frames": 0, "seconds": 0.0, "manifest": True}), flush=True)
    return 0 if batch.ok else 1


def cmd_generate(args: argparse.Namespace) -> int:
    """One video on this computer, or (--batch, --cluster) many on a Ray cluster."""
    if args.batch is not None or args.cluster is not None:
        from studio import cli_cluster

        return cli_cluster.generate_batch(args)
    from studio import cli_generate

    return cli_generate.cmd_generate(args)


def _export_target_problem(args: argparse.Namespace, count: int) -> str | None:
    """Why the export's output cannot be written, checked before any file is: a path through
    a file, a folder that cannot be written, a disk without room for about the sources' size
    (a video export at the usual quality is about that size or less). None when it can."""
    from studio.core.export import PRESETS, ExportError, check_target

    if PRESETS[args.preset].kind == "train" or (count > 1 and args.output.suffix):
        return None  # a training set's folder layout; a name for many files: export says so
    sizes = 0
    if PRESETS[args.preset].kind in ("video", "gif"):
        for name in args.files:
            try:
                sizes += os.stat(name).st_size
            except OSError:
                pass  # that file's own row says why
    try:
        check_target(args.output, args.preset, sizes)
    except ExportError as err:
        return str(err)
    return None


def _add_analyze_parser(sub) -> None:
    an = sub.add_parser(
        "analyze", help="temporal analysis: optical flow, warp error, motion, flicker",
        description="Measure every pair of consecutive frames of each FILE: optical flow, the "
        "warp error of the previous frame warped onto the next (occlusions left out), motion in "
        "pixels of the frame and flicker (change of mean brightness). Prints a line per file; "
        "with --json one JSON object per file and line: path, ok, error, frames, flow_mean_px, "
        "flow_mean_dx, flow_mean_dy, warp_error_mean, warp_error_p95, flicker, worst_pairs "
        "(frame indices, worst warp error first) and per_pair (index, warp_error, motion_px, "
        "flicker). A file that cannot be analysed gets ok false and its error, and the others "
        "go on; the exit status is then 1.")
    an.add_argument("files", nargs="+", metavar="FILE")
    an.add_argument("--json", action="store_true", help="one JSON object per file and line")
    an.add_argument("--first", type=int, default=None, metavar="N",
                    help="first frame to analyse (default 0)")
    an.add_argument("--last", type=int, default=None, metavar="N",
                    help="last frame to analyse, included (default: the last of the file)")
    an.add_argument("--max-side", type=int, default=None, metavar="PX",
                    help="analyse frames shrunk by a whole factor to at most PX on their longer "
                    "side (default 256)")


def cmd_analyze(args: argparse.Namespace) -> int:
    from studio.core.media import MediaError
    from studio.core.metrics import ANALYSIS_MAX_SIDE, analyze

    for flag, value in (("--first", args.first), ("--last", args.last)):
        if value is not None and value < 0:
            print(f"studio analyze: {flag} must be a frame index, 0 or more", file=sys.stderr)
            return 2
    if args.first is not None and args.last is not None and args.first > args.last:
        print(f"studio analyze: --first ({args.first}) is after --last ({args.last})",
              file=sys.stderr)
        return 2
    max_side = ANALYSIS_MAX_SIDE if args.max_side is None else args.max_side
    if max_side < 8:
        print("studio analyze: --max-side must be at least 8", file=sys.stderr)
        return 2
    figures = ("frames", "flow_mean_px", "flow_mean_dx", "flow_mean_dy", "warp_error_mean",
               "warp_error_p95", "flicker", "worst_pairs", "per_pair")
    all_ok = True
    report = _progress(args)
    for name in args.files:
        report.start(None, file=name, unit="pairs")
        try:
            result = analyze(name, args.first, args.last, max_side=max_side,
                             progress=report.callback())
        except (MediaError, ValueError) as err:  # both name the file
            all_ok = False
            row = {"path": name, "ok": False, "error": str(err), **dict.fromkeys(figures)}
        else:
            summary = result.summary()
            row = {"path": name, "ok": True, "error": None,
                   **{key: summary[key] for key in figures[:-1]},
                   "per_pair": [{"index": p.index, "warp_error": p.warp_error,
                                 "motion_px": p.motion_px, "flicker": p.flicker}
                                for p in result.pairs]}
        report.end()
        if args.json:
            print(json.dumps(row), flush=True)
        elif row["ok"]:
            worst = ", ".join(str(i) for i in row["worst_pairs"])
            print(f"{display_path(name)}: {row['frames']} frames, motion "
                  f"{row['flow_mean_px']:.3g} px/frame "
                  f"(dx {row['flow_mean_dx']:.3g}, dy {row['flow_mean_dy']:.3g}), warp error "
                  f"{row['warp_error_mean']:.3g} (p95 {row['warp_error_p95']:.3g}), flicker "
                  f"{row['flicker']:.3g}; worst pairs at frames {worst}", flush=True)
        else:
            print(display_path(row["error"]), flush=True)
    return 0 if all_ok else 1


def cmd_models(args: argparse.Namespace) -> int:
    from studio.inference.loading import ModelError

    try:
        if args.models_verb == "list":
            return _models_list(args.json)
        if args.models_verb == "pull":
            return _models_pull(args.model_id, _progress(args).tqdm_class())
        return _models_make_demo(args.dir)
    except ModelError as err:
        print(f"studio models {args.models_verb}: {err}", file=sys.stderr)
        return 1


_CHECKED_KINDS = ("captioner", "generator")  # the kinds resolve(expect=) can check


def _models_list(as_json: bool) -> int:
    from studio.inference import loading, registry

    here = {m.id: m for m in loading.cached_models()}
    rows = []

    def add(model_id: str, kind: str, title: str, size_gb: float = 0.0) -> None:
        status, path, size = "missing", None, None
        try:  # the folder's files are checked too (headers only): a partial pull is not here
            found = loading.resolve(model_id, expect=kind if kind in _CHECKED_KINDS else None)
            status, path = "ready", str(found.path)
        except (loading.ModelIncompleteError, loading.ModelFolderError):
            status = "incomplete"
        except loading.ModelError:
            pass
        if model_id in here:
            size = here[model_id].size_bytes
            path = path or str(here[model_id].path)
        rows.append({"id": model_id, "kind": kind, "title": title, "status": status,
                     "cached": status == "ready", "path": path, "size_bytes": size,
                     "download_gb": None if model_id.startswith(registry.DEMO_PREFIX) else size_gb,
                     "demo": model_id.startswith(registry.DEMO_PREFIX),
                     "distilled_lora": _distilled_lora_row(model_id)})

    for spec in registry.models():
        add(spec.id, spec.kind, spec.title, spec.size_gb)
    listed = {r["id"] for r in rows}
    for demo in loading.DEMO_MODELS.values():
        if demo.id not in listed:
            add(demo.id, demo.kind, "Demo model (tiny, random weights)")
    # repos of single-file checkpoints hold many models (one is fetched): not a model row
    # nor is a repo a dev model takes only its distilled LoRA from
    listed = {r["id"] for r in rows} | loading.single_file_sources() | loading.lora_sources()
    for m in here.values():  # other models in the cache
        if m.id not in listed:
            add(m.id, "?", "")
    if as_json:
        print(json.dumps(rows, indent=2))
        return 0
    # a diffusers repo pulled only as the base of a single-file model lacks its own weights
    # on purpose: say so rather than "incomplete"
    bases = {spec.single_file.base for spec in registry.models() if spec.single_file}
    ready = {r["id"] for r in rows if r["status"] == "ready"}
    shared = {spec.single_file.base for spec in registry.models()
              if spec.single_file and spec.id in ready}
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
        if r["status"] == "incomplete" and r["id"] in bases & shared:
            status = "shared parts only"  # its own weights are another pull
        if r["status"] == "ready" and r["distilled_lora"] and not r["distilled_lora"]["here"]:
            status = "here, no LoRA (pull)"  # runs one pass until its stage-2 LoRA is pulled
        print(f"{r['id']:<{width}}  {r['kind']:<9}  {status:<23}  {size:<18}  {r['path'] or ''}"
              .rstrip())
    return 0


def _distilled_lora_row(model_id: str) -> dict | None:
    """The distilled LoRA a dev model's stage 2 needs, for `studio models list`: its repo and
    file, whether `studio models pull` has put it here, and where; None: it names none."""
    from studio.inference import loading, registry

    lora = getattr(registry.get(model_id), "distilled_lora", None)
    if lora is None:
        return None
    path = loading.distilled_lora_here(model_id)
    return {"repo": lora.repo, "filename": lora.filename, "here": path is not None,
            "path": None if path is None else str(path)}


def _human_size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return ""


def _models_pull(model_id: str, progress=None) -> int:
    from studio.inference import loading

    # progress: a tqdm class; None: huggingface_hub draws its own bars on stderr
    path = loading.pull(model_id, progress=progress)
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


VERBOSE = {"-v": 1, "-vv": 2, "-vvv": 3, "--verbose": 1}


def take_verbosity(argv: list[str]) -> tuple[int, list[str]]:
    """``-v``/``-vv``/``--verbose`` anywhere before a ``--``, counted and taken out: ``studio -v
    caption x.mp4`` and ``studio caption -v x.mp4`` both log INFO lines on stderr."""
    level, rest = 0, []
    for i, arg in enumerate(argv):
        if arg == "--":
            return level, rest + argv[i:]
        if arg in VERBOSE:
            level += VERBOSE[arg]
        else:
            rest.append(arg)
    return level, rest


def _names_verb(argv: list[str]) -> bool:
    """Whether ``argv`` is a verb's, the verb perhaps after -q/--quiet/--progress MODE."""
    i = 0
    while i < len(argv) and argv[i] in ("-q", "--quiet", "--progress") \
            or i < len(argv) and argv[i].startswith("--progress="):
        i += 2 if argv[i] == "--progress" else 1
    return i < len(argv) and argv[i] in VERBS


def _run_verb(args: argparse.Namespace, verbosity: int) -> int:
    import logging
    import time

    from studio import logs

    logs.setup(verbosity)
    log = logging.getLogger("studio.cli")
    verb = {"probe": cmd_probe, "frames": cmd_frames, "caption": cmd_caption,
            "models": cmd_models, "export": cmd_export, "analyze": cmd_analyze,
            "generate": cmd_generate, "desktop": cmd_desktop}[args.verb]
    started = time.monotonic()
    log.info("studio %s started", args.verb)
    from studio.progress import Progress

    name = " ".join([args.verb, getattr(args, "models_verb", None)
                     or getattr(args, "desktop_verb", None) or ""]).strip()
    args.report = Progress(name, _progress_mode(args))
    code = 130
    try:
        with args.report:
            code = verb(args)
    except KeyboardInterrupt:  # Ctrl-C: a line and the shell's usual status, no traceback
        print(f"studio {args.verb}: interrupted", file=sys.stderr)
    log.info("studio %s ended in %.1f s (exit status %s)", args.verb,
             time.monotonic() - started, code)
    return code


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    verbosity, argv = take_verbosity(argv)
    if _names_verb(argv):
        args = _verb_parser().parse_args(argv)
        return _run_verb(args, verbosity)
    args = _plain_gui_args(argv) or _gui_parser().parse_args(argv)
    from studio.settings import has_display

    if not has_display():
        print("studio: no display found (DISPLAY and WAYLAND_DISPLAY are unset); "
              "to run it without a screen use: xvfb-run -a studio", file=sys.stderr)
        return 2
    from studio.ui.app import run_gui

    return run_gui(project_dir=args.project, exit_after_show=args.exit_after_show,
                   files=args.files, verbosity=verbosity)
