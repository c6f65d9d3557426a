"""``studio generate``: its parser, the job a command line asks for (also each line of a
``--batch`` file, which ``studio.cli_cluster`` runs), its JSON row, and the local run.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from studio.cli_common import _progress
from studio.core.paths import json_text


def _add_generate_parser(sub) -> None:
    from studio.inference.registry import DEFAULT_GENERATOR

    ge = sub.add_parser(
        "generate", help="generate a video with LTX-Video (or another diffusers video model)",
        description="Generate one video and print one JSON object: ok, output, sidecar, seed, "
        "params (every setting, as recorded), conformed (settings moved to the model's rules, "
        'e.g. {"num_frames": [10, 9]}), seconds, error. The video is written atomically with a '
        ".json sidecar holding every setting (also in the mp4's comment tag). Settings left "
        "out take the model's defaults. Exit status 0 on success, 1 when the generation "
        "failed, 2 for bad arguments.")
    ge.add_argument("prompt_text", nargs="?", default=None, metavar="PROMPT",
                    help="what to generate (or --prompt)")
    ge.add_argument("--prompt", default=None, metavar="TEXT", help="what to generate")
    ge.add_argument("--negative", default=None, metavar="TEXT",
                    help='negative prompt ("" for none; default: the model\'s own)')
    ge.add_argument("--model", default=DEFAULT_GENERATOR, metavar="ID|DIR",
                    help=f"model id (see `studio models list`) or a diffusers model folder "
                    f"(default: {DEFAULT_GENERATOR})")
    ge.add_argument("--mode", choices=("t2v", "i2v", "v2v", "extend"), default=None,
                    help="text-, image- or video-to-video, or extend a clip from its last "
                    "frames (default: i2v with --image, v2v with --video, else t2v)")
    ge.add_argument("--image", default=None, metavar="FILE",
                    help="image-to-video: a picture, or a video with --image-frame")
    ge.add_argument("--image-frame", type=int, default=None, metavar="N",
                    help="with --image: the frame of a video to start from")
    ge.add_argument("--video", default=None, metavar="FILE",
                    help="video-to-video or extend: the source clip")
    ge.add_argument("--in", dest="in_s", type=float, default=None, metavar="S",
                    help="with --video: in point, seconds (the frame shown then is the first)")
    ge.add_argument("--out", dest="out_s", type=float, default=None, metavar="S",
                    help="with --video: out point, seconds (the frame shown then is the last)")
    ge.add_argument("--strength", type=float, default=None, metavar="F",
                    help="video-to-video: denoise strength, 0..1 (1: the source is ignored)")
    ge.add_argument("--width", type=int, default=None, metavar="W")
    ge.add_argument("--height", type=int, default=None, metavar="H")
    ge.add_argument("--frames", type=int, default=None, metavar="N",
                    help="number of frames (LTX-Video: 8k+1, others are moved to the nearest)")
    ge.add_argument("--fps", type=float, default=None, metavar="R")
    ge.add_argument("--steps", type=int, default=None, metavar="N")
    ge.add_argument("--guidance", type=float, default=None, metavar="G")
    ge.add_argument("--seed", type=int, default=None, metavar="N",
                    help="seed (default: a random one, printed and recorded)")
    ge.add_argument("--device", choices=("cuda", "mps", "cpu"), default=None,
                    help="where the model runs (default: CUDA, then MPS, then CPU)")
    ge.add_argument("--offload", choices=("none", "model", "group", "sequential"),
                    default=None,
                    help="CUDA: keep parts of the model in CPU memory: model (each model on "
                         "the GPU while it runs), group (a few blocks at a time, copied ahead; "
                         "works on the CPU too), sequential (one layer at a time; slowest) "
                         "(default: automatic, when the run's estimate does not fit the free "
                         "GPU memory)")
    ge.add_argument("--transformer-dtype", choices=("bf16", "fp8"), default=None,
                    help="store the transformer's weights in fp8 (half the memory; each layer "
                         "computed in bf16) or in the compute dtype (default: automatic for "
                         "LTX-2, bf16 for others)")
    ge.add_argument("--text-encoder-dtype", choices=("bf16", "fp8"), default=None,
                    help="the same for the text encoder (LTX-2's Gemma 3 12B: 23 GB in bf16)")
    ge.add_argument("--transformer-file", default=None, metavar="FILE.gguf",
                    help="a GGUF file (e.g. a Q4 or Q8 quantisation) whose weights replace the "
                         "model's transformer, kept quantised")
    ge.add_argument("--vae-tiling", action=argparse.BooleanOptionalAction, default=None,
                    help="decode the video in tiles, for less GPU memory (default: automatic "
                         "on CUDA, off elsewhere)")
    ge.add_argument("--multiscale", action=argparse.BooleanOptionalAction, default=None,
                    help="distilled LTX-Video 0.9.8 and distilled LTX-2: the official two "
                         "passes with the latent upsampler (the default); --no-multiscale: "
                         "one pass at full size")
    ge.add_argument("--enhance-prompt", action="store_true",
                    help="LTX-2: let the model rewrite the prompt before the run (its own "
                         "prompt enhancement; the prompt it wrote is recorded)")
    where = ge.add_mutually_exclusive_group(required=True)
    where.add_argument("--project", type=Path, default=None, metavar="DIR",
                       help="write into the project's generations/ folder and record it there")
    where.add_argument("-o", "--output", type=Path, default=None, metavar="OUT",
                       help="OUT.mp4 (or .webm, .gif): the video and OUT.json; OUT without a "
                       "suffix: a folder of lossless frame_000000.png ... and OUT.json beside it")
    add_cluster_flags(ge, where)


_GENERATE_FLAGS = {"num_frames": "--frames", "guidance_scale": "--guidance",
                   "denoise_strength": "--strength", "image_path": "--image",
                   "image_frame": "--image-frame", "source_path": "--video",
                   "source_in_frame": "--in", "source_out_frame": "--out",
                   "negative_prompt": "--negative", "prompt": "PROMPT", "vae_tiling": "--vae-tiling",
                   "transformer_file": "--transformer-file"}


def _generate_params(args: argparse.Namespace):
    """GenerationParams from the command line (ValueError naming the flag when one is bad)."""
    from studio.core.params import GenerationParams, ParamsError, conform

    if args.prompt is not None and args.prompt_text is not None:
        raise ValueError("give the prompt once: PROMPT or --prompt")
    prompt = args.prompt if args.prompt is not None else args.prompt_text
    if prompt is None or not prompt.strip():
        raise ValueError("PROMPT: the prompt is empty")
    for flag, text in (("PROMPT", prompt), ("--negative", args.negative)):
        try:
            (text or "").encode("utf-8")
        except UnicodeEncodeError:  # bytes the terminal's encoding could not decode
            raise ValueError(f"{flag}: not valid text (it holds bytes that are not UTF-8)") \
                from None
    mode = args.mode or ("i2v" if args.image else "v2v" if args.video else "t2v")
    if mode == "i2v" and not args.image:
        raise ValueError("--mode i2v needs --image FILE")
    if mode in ("v2v", "extend") and not args.video:
        raise ValueError(f"--mode {mode} needs --video FILE")
    if args.image and mode != "i2v":
        raise ValueError(f"--image is for image-to-video, not {mode}")
    if args.video and mode not in ("v2v", "extend"):
        raise ValueError(f"--video is for video-to-video or extend, not {mode}")
    if (args.in_s is not None or args.out_s is not None or args.strength is not None) \
            and not args.video:
        raise ValueError("--in, --out and --strength go with --video")
    overrides = {"mode": mode, "prompt": prompt}
    for name, value in (("negative_prompt", args.negative), ("width", args.width),
                        ("height", args.height), ("num_frames", args.frames),
                        ("fps", args.fps), ("steps", args.steps),
                        ("guidance_scale", args.guidance), ("denoise_strength", args.strength),
                        ("offload", args.offload), ("transformer_dtype", args.transformer_dtype),
                        ("text_encoder_dtype", args.text_encoder_dtype)):
        if value is not None:
            overrides[name] = value
    if args.vae_tiling is not None:
        overrides["vae_tiling"] = args.vae_tiling
    if args.transformer_file is not None:
        overrides["transformer_file"] = str(Path(args.transformer_file).expanduser().absolute())
    if args.multiscale is not None:
        overrides["multiscale"] = args.multiscale
    if args.enhance_prompt:
        overrides["enhance_prompt"] = True
    if args.seed is not None:
        overrides.update(seed=args.seed, seed_locked=True)
    for path in (args.image, args.video):
        if path is not None and not Path(path).is_file():
            flag = "--image" if path == args.image else "--video"
            raise ValueError(f"{flag}: {path}: no such file")
    if args.image:
        overrides.update(image_path=str(Path(args.image).absolute()),
                         image_frame=args.image_frame)
    if args.video:
        overrides["source_path"] = str(Path(args.video).absolute())
        if args.in_s is not None or args.out_s is not None:
            overrides.update(_frame_range(args.video, args.in_s, args.out_s))
    try:
        params = GenerationParams.defaults(args.model, **overrides).for_run()
        conform(params)  # a bad setting is refused before the model loads
    except ParamsError as err:
        flag = _GENERATE_FLAGS.get(err.field, "--" + err.field.replace("_", "-"))
        raise ValueError(f"{flag}: {err.message}") from None
    return params


def _frame_range(path: str, in_s: float | None, out_s: float | None) -> dict:
    """--in/--out seconds as the inclusive frame range the project stores."""
    from studio.core.frames import FrameReader

    for flag, value in (("--in", in_s), ("--out", out_s)):
        if value is not None and not (value >= 0):
            raise ValueError(f"{flag}: must be 0 or more seconds, not {value}")
    with FrameReader(path) as reader:
        last = reader.frame_count - 1
        first = reader.index_at(in_s) if in_s is not None else 0
        if in_s is not None and in_s >= reader.duration_s:
            raise ValueError(f"--in: {in_s} s is past the end of {path} "
                             f"({reader.duration_s:.3f} s)")
        end = last
        if out_s is not None:  # the frame shown then, included (as export's --out)
            if out_s < (in_s or 0.0):
                raise ValueError(f"--out: {out_s} s is before the in point")
            end = min(last, reader.index_at(out_s))
    return {"source_in_frame": first, "source_out_frame": max(first, end)}


class GenerateRefused(Exception):
    """A `studio generate` command line that cannot run, found before the model loads:
    ``status`` 2 for bad arguments, 1 for an output that cannot be written."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def generate_job(args: argparse.Namespace):
    """The GenerateJob a `studio generate` command line asks for, and its result row so far
    (seed, params, conformed). Raises GenerateRefused. `--batch` builds each line's job here."""
    from studio.core.export import ExportError, check_target, preset_for_output
    from studio.core.media import MediaError
    from studio.core.params import conform
    from studio.inference.engine import GenerateJob, new_job_id

    try:
        params = _generate_params(args)
    except (ValueError, MediaError) as err:
        raise GenerateRefused(str(err), 2) from None
    row = {"ok": False, "output": None, "sidecar": None, "seed": params.seed,
           "params": params.to_dict(), "conformed": conform(params).as_dict(), "seconds": None,
           "error": None}
    try:  # the output is checked before the model loads, not after the run
        if args.project is not None:
            check_target(args.project.expanduser() / "generations", "mp4",
                         _expected_bytes(params, "mp4"))
            return GenerateJob(new_job_id(), params,
                               project_root=str(args.project.expanduser())), row
        out = args.output.expanduser()
        try:
            preset = preset_for_output(out)
        except ExportError as err:  # a wrong suffix: the command line's fault
            raise GenerateRefused(f"-o: {err}", 2) from None
        check_target(out, preset, _expected_bytes(params, preset))
        return GenerateJob(new_job_id(), params, output=str(out), preset=preset,
                           register=False), row
    except ExportError as err:
        raise GenerateRefused(f"{'--project' if args.project else '-o'}: {err}", 1) from None


def generate_row(row: dict, result) -> dict:
    """``row`` (from generate_job) with a finished generation's GenerateResult."""
    row.update(ok=True, output=result.output, sidecar=result.sidecar, seed=result.seed,
               params=result.params, conformed=result.conformed, demo=result.demo,
               frames=result.frames, width=result.width, height=result.height, fps=result.fps,
               generation_id=result.generation_id)
    if result.register_error:
        row["warning"] = result.register_error
    return row


def cmd_generate(args: argparse.Namespace) -> int:
    import time

    started = time.monotonic()
    try:
        job, row = generate_job(args)
    except GenerateRefused as err:
        print(f"studio generate: {err}", file=sys.stderr)
        return err.status
    from studio.inference.engine import Engine, EngineEvents

    class Events(EngineEvents):
        error: str | None = None

        def __init__(self, report) -> None:
            self.report = report

        def progress(self, job_id: int, done: int, total: int, eta_s: float) -> None:
            self.report.update(done, total, eta_s=eta_s)

        def failed(self, job_id: int, message: str) -> None:
            self.error = message

    report = _progress(args)
    events = Events(report)
    engine = Engine(events, device=args.device)
    try:
        with report:  # the bar ends before the interrupted line
            report.start(None, file=None if args.output is None else str(args.output),
                         unit="steps")
            result = engine.run(job)
    except KeyboardInterrupt:
        print("studio generate: interrupted", file=sys.stderr)
        return 130
    finally:
        engine.close()
    row["seconds"] = round(time.monotonic() - started, 3)
    if result is None:
        row["error"] = events.error or "the generation did not finish"
        print(json_text(row), flush=True)
        print(f"studio generate: {row['error']}", file=sys.stderr)
        return 1
    print(json_text(generate_row(row, result)), flush=True)
    return 0


def add_cluster_flags(parser: argparse.ArgumentParser, where) -> None:
    """--batch, --cluster and --workers (``studio.cli_cluster`` runs them)."""
    where.add_argument("--batch", type=Path, default=None, metavar="JOBS.jsonl",
                       help='with --cluster: one job per line, a JSON object of this verb\'s '
                       'options, e.g. {"prompt": "a kite", "seed": 7, "frames": 97, '
                       '"output": "kite.mp4"} (or "project": DIR); relative paths are taken '
                       "from the current folder")
    parser.add_argument("--cluster", default=None, metavar="ADDRESS",
                        help="with --batch: run the jobs on a Ray cluster, one per GPU (else "
                        "CPU) at a time: local, auto or ray://HOST:PORT (see studio caption "
                        "--help)")
    parser.add_argument("--workers", type=int, default=None, metavar="N",
                        help="with --cluster: at most N workers")


def _expected_bytes(params, preset: str) -> int:
    """A generous guess of the size of a generation's output: PNG frames at 3 bytes a pixel,
    a compressed video at half a byte (H.264 at crf 18 takes far less), plus the sidecar."""
    pixels = params.num_frames * params.width * params.height
    return int(pixels * (3 if preset == "png" else 0.5)) + 64 * 1024
