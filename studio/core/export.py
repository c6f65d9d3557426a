"""Export clips (and generated frames) to files a person can use anywhere.

Presets (``PRESETS``):

- ``mp4``: H.264 (libx264) yuv420p with even dimensions and the index first (``+faststart``),
  CRF and x264 preset choices; the source's audio, cut to the same range, as AAC.
- ``webm``: VP9 (libvpx-vp9, constant quality) with Opus audio.
- ``gif``: a palette made for the clip (FFmpeg's ``palettegen``/``paletteuse`` filter graph),
  at most 15 fps and 480 px on the long side unless asked otherwise.
- ``png``: a folder of numbered PNG frames.
- ``ltx-train`` / ``wan-train``: clips conformed to a trainer's rules (LTX-Video: 8k+1 frames,
  sides multiples of 32; Wan 2.1 / HunyuanVideo: 4k+1 frames, multiples of 16) at a chosen
  frame rate, each beside its caption as a ``.txt`` sidecar, plus a JSONL manifest of
  ``{"video_path", "caption"}`` lines (musubi-tuner's ``video_jsonl_file``).

Frames come from ``core.frames.FrameReader``: exact frames in presentation order, rotation
applied, so the range ``first..last`` is cut to the frame and re-encoded. Without a frame rate
the source's own frame times are kept (variable frame rates too); with one, the output is
constant-rate and frame ``k`` is the source frame shown at ``start + k / fps``.

Safety: every file is written to a hidden temporary file in the target folder and moved under
its final name only when complete; an existing name is never replaced unless ``overwrite``
(a numbered suffix is used instead); names built from prompts are sanitised. A failure raises
``ExportError`` whose message names the file and the reason, and leaves nothing under a final
name. A killed process can leave a hidden ``.studio-export-*.part`` file, never a final one.

Threading: no Qt, no global state. Every entry point blocks, takes a ``progress(done, total)``
callback and a ``CancelToken`` (checked each frame), and can run in any worker thread.
Heavy modules (PyAV, numpy, OpenCV) are imported on first use, not at import.

Training sets (the ``ltx-train`` / ``wan-train`` presets of ``export_clip(s)``) are written by
``core.dataset.write_training_set``, on the helpers here: ``write_clip`` (encode one clip
beside companion files), ``copy_clip``, ``write_text_file``, ``prepare_folder``,
``sanitize_name`` and ``ExportError``. ``encode_to(source, dest, options)`` writes exactly
``dest``, nothing else, for callers with their own naming and temporary files.
"""

from __future__ import annotations

import errno
import math
import os
import re
import shutil
import tempfile
import time
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import Any

from studio.core.cancel import Cancelled, CancelToken
from studio.core.media import MediaError
from studio.core.paths import TEMP_PREFIX as _TEMP_PREFIX
from studio.core.paths import clean_stale_parts, db_path, display_path, json_text

__all__ = [
    "PRESETS", "PRESET_NAMES", "ENCODER_SPEEDS", "FITS", "Preset", "ExportOptions", "ExportPlan",
    "ExportResult", "ExportBatch", "ExportError", "ProgressCallback", "check_options",
    "plan_export", "export_clip", "export_clips", "encode_to", "write_frames", "sanitize_name",
    "name_from_prompt", "conform_frame_count", "with_range", "write_clip", "copy_clip",
    "write_text_file", "prepare_folder", "os_reason", "default_stem", "plan_or_problem",
]


@dataclass(frozen=True)
class Preset:
    name: str
    title: str
    suffix: str  # of the output file; "" for a folder (png)
    kind: str  # "video" | "gif" | "png" | "train"
    size_multiple: int  # output width and height are multiples of this
    frame_rule: int | None = None  # frames = rule * k + 1 (training presets)
    default_fps: float | None = None  # None: keep the source's frame times
    default_crf: int | None = None
    video_codec: str | None = None
    audio_codec: str | None = None
    container: str | None = None


PRESETS: dict[str, Preset] = {
    "mp4": Preset("mp4", "MP4 (H.264, AAC)", ".mp4", "video", 2, default_crf=18,
                  video_codec="libx264", audio_codec="aac", container="mp4"),
    "webm": Preset("webm", "WebM (VP9, Opus)", ".webm", "video", 2, default_crf=32,
                   video_codec="libvpx-vp9", audio_codec="libopus", container="webm"),
    "gif": Preset("gif", "Animated GIF", ".gif", "gif", 1, default_fps=15.0),
    "png": Preset("png", "PNG sequence (a folder of frames)", "", "png", 1),
    # Training data: near-lossless (the source was lossy already), no audio: these two are
    # for video-only trainers (the LTX-Video 0.9 trainer, Wan 2.1 / HunyuanVideo trainers).
    "ltx-train": Preset("ltx-train", "LTX-Video training set (8k+1 frames, 32 px)", ".mp4",
                        "train", 32, frame_rule=8, default_fps=24.0, default_crf=15,
                        video_codec="libx264", container="mp4"),
    "wan-train": Preset("wan-train", "Wan / HunyuanVideo training set (4k+1 frames, 16 px)",
                        ".mp4", "train", 16, frame_rule=4, default_fps=16.0, default_crf=15,
                        video_codec="libx264", container="mp4"),
}
PRESET_NAMES = tuple(PRESETS)
# x264's preset names; VP9 gets a matching speed (``_VP9_SPEED``).
ENCODER_SPEEDS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow",
                  "slower", "veryslow")
FITS = ("pad", "crop")
GIF_MAX_SIDE = 480  # default long side of a GIF
GIF_MAX_FPS = 50.0  # GIF delays are in 1/100 s and players slow down anything under 2/100
GIF_MAX_BYTES = 2**30  # RGB frames held until the palette is made (``_GifSink``)
_VP9_SPEED = {"ultrafast": ("realtime", 8), "superfast": ("realtime", 7),
              "veryfast": ("good", 6), "faster": ("good", 5), "fast": ("good", 5),
              "medium": ("good", 4), "slow": ("good", 3), "slower": ("good", 2),
              "veryslow": ("good", 1)}
_AAC_RATES = (96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000)
_AUDIO_FRAME_SIZE = {"aac": 1024, "libopus": 960}
_MAX_NAME_BYTES = 120  # a stem; leaves room for "_999", suffixes and ".part" within 255 bytes
_WINDOWS_RESERVED = {"con", "prn", "aux", "nul", "conin$", "conout$",
                     *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))}
_TIME_EPS = 1e-6  # s; far below any frame interval

ProgressCallback = Callable[[int, int], None]  # (frames done, frames total)


class ExportError(Exception):
    """An export that cannot be done: ``str(err)`` names the file and the reason, for a person."""

    def __init__(self, path: str | os.PathLike | None, reason: str):
        self.path = None if path is None else os.fspath(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}" if self.path else reason)


# ---------------------------------------------------------------------------------------
# Options, plans, results


@dataclass(frozen=True)
class ExportOptions:
    """What to write. Every field has a default, so ``ExportOptions(preset="gif")`` works.

    Range: ``in_frame``/``out_frame`` (inclusive frame indices, as the project stores marks)
    or ``in_s``/``out_s`` (seconds: the frames shown at those times, both included, as an
    editor's in and out marks and the player's; with ``fps``, sampled from ``in_s`` itself to
    the end of the out frame); not both kinds for one end. Size: ``width``/``height`` (either alone keeps
    the aspect ratio; both: ``fit`` pads with black or crops the middle), rounded down to the
    preset's multiple; none: the source size (GIFs fit ``max_side``, default 480).
    ``fps``: constant output rate; None keeps the source's frame times (mp4, webm, png) or
    uses the preset's default (gif 15 at most, ltx-train 24, wan-train 16).
    ``crf``/``speed``: encoder quality and x264 preset name (VP9 gets a matching speed).
    ``name``: output stem (sanitised); None: the source's stem, plus the frame range when cut.
    ``caption``: the training presets' ``.txt`` sidecar and manifest text (required there).
    ``metadata``: settings that made the media (a generation's), stored in the mp4/webm
    comment tag and in a ``.json`` sidecar. ``sidecar``: write that sidecar (default: when
    ``metadata`` is given). ``overwrite``: replace existing files instead of numbering.
    """

    preset: str = "mp4"
    in_frame: int | None = None
    out_frame: int | None = None
    in_s: float | None = None
    out_s: float | None = None
    width: int | None = None
    height: int | None = None
    fit: str = "pad"
    fps: float | None = None
    crf: int | None = None
    speed: str = "medium"
    audio: bool = True
    name: str | None = None
    caption: str | None = None
    metadata: dict | None = None
    sidecar: bool | None = None
    overwrite: bool = False
    max_side: int | None = None


@dataclass(frozen=True)
class AudioSamples:
    """A sound track held in memory (a generated video's): ``samples`` float (channels, n), or
    (n,) for mono, in [-1, 1], at ``rate`` samples a second. :func:`write_frames` encodes it
    beside the frames (AAC in mp4, Opus in webm), to its own length: make it as long as the
    video (``num_frames / fps`` seconds) first."""

    samples: Any
    rate: int

    @property
    def seconds(self) -> float:
        return int(self.samples.shape[-1]) / self.rate


@dataclass
class ExportPlan:
    """What an export of one source will write: the dialog can show it before the run."""

    source: str
    preset: Preset
    first: int  # source frame range, inclusive
    last: int
    start_s: float  # source time of ``first`` and of the end of ``last``
    end_s: float
    source_frames: list[int]  # the source frame of each output frame
    pts: list[int]  # of each output frame, in ``time_base`` units from 0
    durations: list[int]
    time_base: Fraction
    rate: Fraction  # output frame rate (the average one when the source's times are kept)
    constant_rate: bool
    width: int
    height: int
    source_width: int
    source_height: int
    fit: str  # "pad" | "crop" | "trim" (a centre cut of under one size multiple, no scaling)

    @property
    def frames(self) -> int:
        return len(self.source_frames)

    @property
    def seconds(self) -> float:
        return float((self.pts[-1] + self.durations[-1]) * self.time_base)

    trimmed: bool = False  # an in or out point cuts the source


@dataclass
class ExportResult:
    source: str | None
    output: str | None
    ok: bool
    error: str | None = None
    frames: int = 0
    seconds: float = 0.0  # duration of the exported media
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    sidecars: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0
    warnings: list[str] = field(default_factory=list)
    caption: str | None = None  # a training set's: the text of its .txt and manifest line
    clip_id: int | None = None  # the project's clip, when a training set was made from one
    copied: bool = False  # the source's own bytes (a training set's clip without a cut)

    def to_dict(self) -> dict:
        """The CLI's JSON object: ``source, output, ok, error, frames, seconds`` first."""
        return {"source": display_path(self.source) if self.source else self.source,
                "output": display_path(self.output) if self.output else self.output,
                "ok": self.ok, "error": self.error,
                "frames": self.frames, "seconds": round(self.seconds, 6), "width": self.width,
                "height": self.height, "fps": None if self.fps is None else round(self.fps, 6),
                "sidecars": self.sidecars, "elapsed_s": round(self.elapsed_s, 3),
                "warnings": self.warnings}


@dataclass
class ExportBatch:
    results: list[ExportResult] = field(default_factory=list)
    manifest: str | None = None  # training presets: the JSONL written
    cancelled: bool = False

    @property
    def ok(self) -> bool:
        return not self.cancelled and all(r.ok for r in self.results)


def _preset(name: str) -> Preset:
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}") from None


MIN_FPS = 0.01
NO_CAPTION = "a training clip needs a caption (its .txt sidecar)"




def check_options(options: ExportOptions, caption_required: bool = True) -> Preset:
    """The preset of ``options``; ``ValueError`` saying what is wrong when they do not make
    sense on their own (``plan_export`` checks them against a source)."""
    preset = _preset(options.preset)
    if options.in_frame is not None and options.in_s is not None:
        raise ValueError("give the in point as a frame or in seconds, not both")
    if options.out_frame is not None and options.out_s is not None:
        raise ValueError("give the out point as a frame or in seconds, not both")
    for label, value in (("in frame", options.in_frame), ("out frame", options.out_frame)):
        if value is not None and (not isinstance(value, int) or value < 0):
            raise ValueError(f"the {label} must be a frame index, 0 or more, not {value!r}")
    for label, value in (("in point", options.in_s), ("out point", options.out_s)):
        if value is not None and not (math.isfinite(value) and value >= 0):
            raise ValueError(f"the {label} must be a time in seconds, 0 or more, not {value!r}")
    if options.in_s is not None and options.out_s is not None and options.out_s < options.in_s:
        raise ValueError(f"the out point ({options.out_s:g} s) is before the in point "
                         f"({options.in_s:g} s)")
    if options.in_frame is not None and options.out_frame is not None \
            and options.in_frame > options.out_frame:
        raise ValueError(f"the in frame {options.in_frame} is after the out frame "
                         f"{options.out_frame}")
    for label, value in (("width", options.width), ("height", options.height),
                         ("max side", options.max_side)):
        if value is not None and (not isinstance(value, int) or value < preset.size_multiple
                                  or value > 16384):
            raise ValueError(f"the {label} must be a whole number of pixels from "
                             f"{preset.size_multiple} to 16384, not {value!r}")
    if options.fit not in FITS:
        raise ValueError(f"fit must be one of {', '.join(FITS)}, not {options.fit!r}")
    # at least 0.01 (a frame a 100 s): the rate is kept as a fraction over at most 1001,
    # which is 0 below 1/2002 and divided by
    if options.fps is not None and not (math.isfinite(options.fps)
                                        and MIN_FPS <= options.fps <= 240):
        raise ValueError(f"the frame rate must be from {MIN_FPS} to 240, not {options.fps!r}")
    if options.crf is not None and not (isinstance(options.crf, int) and 0 <= options.crf <= 63):
        raise ValueError(f"crf must be a whole number from 0 to 51 (H.264) or 63 (VP9), "
                         f"not {options.crf!r}")
    if options.crf is not None and preset.video_codec == "libx264" and options.crf > 51:
        raise ValueError(f"H.264 crf goes from 0 to 51, not {options.crf}")
    if options.speed not in ENCODER_SPEEDS:
        raise ValueError(f"speed must be one of {', '.join(ENCODER_SPEEDS)}, not "
                         f"{options.speed!r}")
    if caption_required and preset.kind == "train" and not (options.caption or "").strip():
        raise ValueError(NO_CAPTION)
    return preset


# ---------------------------------------------------------------------------------------
# Names


def sanitize_name(text: str, max_bytes: int = _MAX_NAME_BYTES, fallback: str = "export") -> str:
    """A file stem safe on Linux, macOS and Windows built from any text (a prompt, a name).

    Path separators, control characters and ``<>:"|?*`` become ``_``, and so do runs of
    spaces; no leading ``.`` or ``-`` (no hidden files, no ``..``, nothing read as an
    option), no trailing dot or space; the bytes of a name that is not UTF-8 (surrogate
    escapes) become ``_``; Windows device names (``CON``, ``nul.txt``, ``COM1``)
    get a leading ``_``; at most ``max_bytes`` of UTF-8, cut between characters;
    ``fallback`` when nothing is left."""
    text = unicodedata.normalize("NFC", str(text))
    # Cs: a surrogate escape, a byte of a file name that is not UTF-8 (no file name can hold it)
    text = "".join("_" if unicodedata.category(c) in ("Cc", "Cf", "Cs", "Zl", "Zp") else c
                   for c in text)
    text = re.sub(r'[/\\<>:"|?*\s]+', "_", text)
    text = re.sub(r"_{2,}", "_", text)
    text = text.lstrip("._- ").rstrip("._ ")
    if text.split(".")[0].lower() in _WINDOWS_RESERVED:
        text = "_" + text
    encoded = text.encode("utf-8")
    if len(encoded) > max_bytes:
        text = encoded[:max_bytes].decode("utf-8", "ignore").rstrip("._ ")
    return text or fallback


def name_from_prompt(prompt: str, max_words: int = 12, max_bytes: int = 80) -> str:
    """A short file stem from a prompt: its first ``max_words`` words, sanitised."""
    words = re.findall(r"[^\W_]+(?:['’][^\W_]+)*", unicodedata.normalize("NFC", prompt))
    return sanitize_name("_".join(words[:max_words]), max_bytes=max_bytes, fallback="generation")


def default_stem(source: str, plan: ExportPlan | None) -> str:
    stem = sanitize_name(Path(source).stem, fallback="clip")
    if plan is not None and plan.trimmed:
        stem = f"{stem}_{plan.first}-{plan.last}"
    return stem


# ---------------------------------------------------------------------------------------
# Planning


def conform_frame_count(available: int, rule: int) -> int:
    """The largest ``rule * k + 1`` that is at most ``available`` (0 when none is)."""
    if available < 1:
        return 0
    return (available - 1) // rule * rule + 1


def _frame_range(reader, options: ExportOptions,
                 count: int) -> tuple[int, int, float | None]:
    """(first, last, in time): the source frames of the range, inclusive, and the in time
    when given in seconds (None when given as a frame or not at all).

    In seconds each point names the frame shown at that time, and both are included: the
    player's In 1.000 / Out 3.000 (the times its marked frames start) and ``--in 1 --out 3``
    are the same frames, 24-72 at 24 fps."""
    duration = reader.duration_s
    first, in_s = 0, None
    if options.in_frame is not None:
        first = options.in_frame
    elif options.in_s is not None:
        in_s = options.in_s
        if in_s >= duration and count > 1:
            raise ValueError(f"the in point {in_s:g} s is at or past the end of the clip "
                             f"({duration:.3f} s)")
        first = reader.index_at(in_s)
    last = count - 1
    if options.out_frame is not None:
        last = options.out_frame
    elif options.out_s is not None:
        last = min(count - 1, reader.index_at(options.out_s))
    if first >= count:
        raise ValueError(f"the in point (frame {first}) is past the last frame ({count - 1})")
    if last >= count:
        raise ValueError(f"the out frame {last} is past the last frame ({count - 1})")
    if first > last:
        raise ValueError(f"the in point (frame {first}) is after the out point (frame {last})")
    return first, last, in_s


def _output_size(sw: int, sh: int, options: ExportOptions, preset: Preset) -> tuple[int, int, str]:
    m = preset.size_multiple
    w, h = options.width, options.height
    fit = options.fit
    if w is None and h is None:
        max_side = options.max_side or (GIF_MAX_SIDE if preset.kind == "gif" else None)
        if max_side is not None and max(sw, sh) > max_side:
            scale = max_side / max(sw, sh)
            w, h, fit = max(1, round(sw * scale)), max(1, round(sh * scale)), "crop"
        else:
            w, h, fit = sw, sh, "trim"
    elif w is None:
        w, fit = h * sw / sh, "crop"
    elif h is None:
        h, fit = w * sh / sw, "crop"
    w = max(m, int(w) // m * m)
    h = max(m, int(h) // m * m)
    if fit == "trim" and (sw - w >= m or sh - h >= m or w > sw or h > sh):
        fit = "crop"  # a source smaller than one multiple: scale up
    return w, h, fit


def size_warnings(plan: ExportPlan, options: ExportOptions) -> list[str]:
    """What the export says when the size asked for is not the size written: the encoder
    takes multiples of ``plan.preset.size_multiple`` (321x181 becomes 320x180)."""
    changed = [f"{label} {asked} became {written}" for label, asked, written in
               (("width", options.width, plan.width), ("height", options.height, plan.height))
               if asked is not None and asked != written]
    if not changed:
        return []
    return [f"the size asked for was changed: {', '.join(changed)} (the {plan.preset.name} "
            f"encoder takes multiples of {plan.preset.size_multiple})"]


def plan_export(source: str | os.PathLike, options: ExportOptions = ExportOptions(),
                reader=None) -> ExportPlan:
    """Check ``options`` against ``source`` and work out the frames, times and size.

    Raises ``MediaError`` (the source cannot be read) or ``ValueError`` (the options do not
    fit this source; the message says why). ``reader``: an open ``FrameReader`` of
    ``source`` to use (it stays open)."""
    preset = check_options(options)
    path = os.fspath(source)
    own = reader is None
    if own:
        from studio.core.frames import FrameReader

        reader = FrameReader(path)
    try:
        return _plan(path, reader, options, preset)
    finally:
        if own:
            reader.close()


def plan_or_problem(source: str | os.PathLike,
                    options: ExportOptions) -> tuple[ExportPlan | None, str | None]:
    """``plan_export``, or the message (naming the source) of why it cannot be planned."""
    try:
        return plan_export(source, options), None
    except MediaError as err:
        return None, str(err)
    except ValueError as err:
        return None, f"{os.fspath(source)}: {err}"


def _plan(path: str, reader, options: ExportOptions, preset: Preset) -> ExportPlan:
    count = reader.frame_count
    fps = options.fps or preset.default_fps
    if preset.kind == "gif":
        source_fps = reader.fps or GIF_MAX_FPS
        fps = min(options.fps or min(source_fps, preset.default_fps), GIF_MAX_FPS)
    first, last, in_s = _frame_range(reader, options, count)
    start = reader.time_of(first)
    end = reader.time_of(last + 1) if last + 1 < count else reader.duration_s
    if end - start <= _TIME_EPS:  # a still image: one frame of the output rate
        end = start + 1 / (fps or 25.0)
    if fps is not None:
        # Constant rate: frame k is the one shown at start + k / fps.
        rate = Fraction(fps).limit_denominator(1001)
        if in_s is not None:
            start = in_s  # sampled from the in point itself, to the end of the out frame
        n = max(1, math.ceil((end - start) * float(rate) - _TIME_EPS))
        if preset.frame_rule is not None:
            conformed = conform_frame_count(n, preset.frame_rule)
            if conformed < preset.frame_rule + 1:
                raise ValueError(
                    f"too short for {preset.name}: {end - start:.3f} s gives {n} frame(s) at "
                    f"{float(rate):g} fps; it needs at least {preset.frame_rule + 1}")
            n = conformed
        frames = [min(last, max(first, reader.index_at(start + k / float(rate))))
                  for k in range(n)]
        time_base = 1 / rate
        pts = list(range(n))
        durations = [1] * n
        end = start + n / float(rate)
    else:
        # The source's own frame times, from the first frame's start.
        frames = list(range(first, last + 1))
        time_base = Fraction(1, 90000)
        pts, prev = [], -1
        for i in frames:
            p = max(round((reader.time_of(i) - start) / time_base), prev + 1)  # never equal
            pts.append(p)
            prev = p
        end_pts = max(round((end - start) / time_base), pts[-1] + 1)
        durations = [b - a for a, b in zip(pts, pts[1:] + [end_pts], strict=True)]
        seconds = float(end_pts * time_base)
        rate = Fraction(len(frames) / seconds).limit_denominator(1001)
    first_image = reader.frame_at(frames[0]).image
    sh, sw = first_image.shape[:2]
    width, height, fit = _output_size(sw, sh, options, preset)
    if preset.kind == "gif" and len(frames) * width * height * 3 > GIF_MAX_BYTES:
        raise ValueError(f"too long or too large for a GIF: {len(frames)} frames of "
                         f"{width}x{height} need {len(frames) * width * height * 3 / 2**30:.1f} "
                         "GiB of memory for the palette pass; choose a shorter range, a "
                         "smaller size or a lower frame rate")
    plan = ExportPlan(source=path, preset=preset, first=frames[0], last=frames[-1],
                      start_s=start, end_s=end, source_frames=frames, pts=pts,
                      durations=durations, time_base=time_base, rate=rate,
                      constant_rate=fps is not None, width=width, height=height,
                      source_width=sw, source_height=sh, fit=fit,
                      trimmed=(first, last) != (0, count - 1))
    return plan


# ---------------------------------------------------------------------------------------
# Pixels


def _conform_image(image, width: int, height: int, fit: str):
    """``image`` (H, W, 3 RGB uint8) at ``width`` x ``height``: scaled to cover and cut in
    the middle (crop), scaled to fit with black bars (pad), or only cut (trim)."""
    import cv2
    import numpy as np

    ih, iw = image.shape[:2]
    if (iw, ih) == (width, height):
        return image
    if fit == "trim":
        x0, y0 = (iw - width) // 2, (ih - height) // 2
        return np.ascontiguousarray(image[y0:y0 + height, x0:x0 + width])
    if fit == "crop":
        scale = max(width / iw, height / ih)
        rw, rh = max(width, round(iw * scale)), max(height, round(ih * scale))
    else:
        scale = min(width / iw, height / ih)
        rw, rh = min(width, max(1, round(iw * scale))), min(height, max(1, round(ih * scale)))
    if (rw, rh) != (iw, ih):
        interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
        image = cv2.resize(image, (rw, rh), interpolation=interpolation)
    if fit == "crop":
        x0, y0 = (rw - width) // 2, (rh - height) // 2
        return np.ascontiguousarray(image[y0:y0 + height, x0:x0 + width])
    canvas = np.zeros((height, width, 3), np.uint8)
    x0, y0 = (width - rw) // 2, (height - rh) // 2
    canvas[y0:y0 + rh, x0:x0 + rw] = image
    return canvas


# ---------------------------------------------------------------------------------------
# Writers ("sinks"): add(image, pts, duration) in output order, then close(); abort() on failure.


class _VideoSink:
    """H.264 in MP4 or VP9 in WebM, with the source's audio when wanted."""

    def __init__(self, path: str, plan_like: "_Timing", options: ExportOptions, preset: Preset,
                 comment: str | None):
        import av

        self._av = av
        self.audio: _AudioTrack | None = None
        container_options = {"movflags": "+faststart"} if preset.container == "mp4" else {}
        self.out = av.open(path, "w", format=preset.container, options=container_options)
        try:
            if comment:
                self.out.metadata["comment"] = comment
            crf = options.crf if options.crf is not None else preset.default_crf
            if preset.video_codec == "libx264":
                codec_options = {"crf": str(crf), "preset": options.speed}
            else:
                deadline, cpu_used = _VP9_SPEED[options.speed]
                codec_options = {"crf": str(crf), "b": "0", "deadline": deadline,
                                 "cpu-used": str(cpu_used), "row-mt": "1"}
            stream = self.out.add_stream(preset.video_codec, rate=plan_like.rate,
                                         time_base=plan_like.time_base, options=codec_options)
            stream.width, stream.height = plan_like.width, plan_like.height
            stream.pix_fmt = "yuv420p"
            context = stream.codec_context
            # FFmpeg's default for libx264 (its command line's too): frame threads. PyAV's
            # slice threads make x264 split every picture, which costs quality.
            context.thread_type = "FRAME" if preset.video_codec == "libx264" else "AUTO"
            # OpenCV converts RGB to BT.601 limited-range YUV: say so, so players convert back
            # with the same matrix.
            context.colorspace = 6  # AVCOL_SPC_SMPTE170M (BT.601)
            context.color_range = 1  # AVCOL_RANGE_MPEG (limited)
            self.stream = stream
            self.time_base = plan_like.time_base
            self._durations: dict[int, int] = {}
            self._held = None
            self._end_pts = 0
            self._first_dts = None
        except BaseException:
            self.abort()
            raise

    def add_audio(self, source: str, start_s: float, end_s: float, codec: str,
                  warnings: list[str]) -> None:
        self.audio = _AudioTrack.open(source, self.out, codec, start_s, end_s, warnings)

    def add(self, image, pts: int, duration: int) -> None:
        import cv2

        av = self._av
        yuv = cv2.cvtColor(image, cv2.COLOR_RGB2YUV_I420)  # a few times faster than swscale
        frame = av.VideoFrame.from_ndarray(yuv, format="yuv420p")
        frame.pts, frame.time_base = pts, self.time_base
        self._durations[pts] = duration
        self._mux(self.stream.encode(frame))
        if self.audio is not None:
            # Audio up to a little past this frame: the muxer interleaves them in the file.
            self._mux(self.audio.encode_until(float((pts + duration) * self.time_base) + 0.25))

    def _mux(self, packets) -> None:
        for packet in packets:
            if packet.stream is self.stream:
                duration = self._durations.pop(packet.pts, packet.duration)
                self._end_pts = max(self._end_pts, packet.pts + duration)
                packet.duration = duration
                if self._first_dts is None:
                    self._first_dts = packet.dts
                # Held back one packet: the last in decode order gets its duration at close.
                packet, self._held = self._held, packet
                if packet is None:
                    continue
            self.out.mux(packet)

    def close(self) -> None:
        self._mux(self.stream.encode())
        if self._held is not None:
            # MP4 sample durations run in decode order and the muxer takes the track's
            # length as last dts + its duration - first dts; with B-frames and a variable
            # rate, the last sample's own duration does not make that the end of the last
            # frame shown.
            held, self._held = self._held, None
            if held.dts is not None and self._first_dts is not None:
                held.duration = max(1, self._end_pts - (held.dts - self._first_dts))
            self.out.mux(held)
        if self.audio is not None:
            self.out.mux(self.audio.finish())
        self.out.close()  # writes the index (and, with +faststart, moves it first)

    def abort(self) -> None:
        if self.audio is not None:
            self.audio.close()
        try:
            self.out.close()
        except Exception:  # noqa: BLE001 - the file is thrown away; the first error counts
            pass


class _GifSink:
    """One palette for the whole clip (``palettegen`` sees every frame before ``paletteuse``
    maps them), as FFmpeg's own recipe for good GIFs. Frames wait in the graph until the
    palette is made: a long, large GIF needs memory (width x height x 3 bytes a frame)."""

    def __init__(self, path: str, plan_like: "_Timing", options: ExportOptions,
                 comment: str | None):
        import av

        self._av = av
        self.time_base = Fraction(1, 100)  # GIF frame delays are centiseconds
        self.scale = plan_like.time_base / self.time_base
        self.out = av.open(path, "w", format="gif", options={"loop": "0"})
        try:
            graph = av.filter.Graph()
            source = graph.add_buffer(width=plan_like.width, height=plan_like.height,
                                      format="rgb24", time_base=self.time_base)
            split = graph.add("split")
            palettegen = graph.add("palettegen", "stats_mode=full")
            paletteuse = graph.add("paletteuse", "dither=sierra2_4a")
            self.sink = graph.add("buffersink")
            source.link_to(split)
            split.link_to(palettegen, 0, 0)
            split.link_to(paletteuse, 1, 0)
            palettegen.link_to(paletteuse, 0, 1)
            paletteuse.link_to(self.sink)
            graph.configure()
            self.graph, self.source = graph, source
            stream = self.out.add_stream("gif", rate=plan_like.rate)
            stream.width, stream.height, stream.pix_fmt = plan_like.width, plan_like.height, "pal8"
            stream.codec_context.time_base = self.time_base
            self.stream = stream
            self._durations: dict[int, int] = {}
            self._last = -1
        except BaseException:
            self.abort()
            raise

    def add(self, image, pts: int, duration: int) -> None:
        av = self._av
        frame = av.VideoFrame.from_ndarray(image, format="rgb24")
        start = max(round(pts * self.scale), self._last + 1)
        end = max(round((pts + duration) * self.scale), start + 1)
        self._last = start
        frame.pts, frame.time_base = start, self.time_base
        self._durations[start] = end - start
        self.source.push(frame)
        self._drain()

    def _drain(self) -> None:
        av = self._av
        while True:
            try:
                frame = self.sink.pull()
            except (av.BlockingIOError, av.EOFError):
                return
            self._mux(self.stream.encode(frame))

    def _mux(self, packets) -> None:
        for packet in packets:
            packet.duration = self._durations.pop(packet.pts, packet.duration)
            self.out.mux(packet)

    def close(self) -> None:
        self.source.push(None)
        self._drain()
        self._mux(self.stream.encode())
        self.out.close()

    def abort(self) -> None:
        try:
            self.out.close()
        except Exception:  # noqa: BLE001
            pass


class _PngSink:
    """``frame_000000.png``, ... in a folder (the caller's temporary folder)."""

    def __init__(self, folder: str):
        self.folder = folder
        self.count = 0

    def add(self, image, pts: int, duration: int) -> None:
        import cv2

        ok, data = cv2.imencode(".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        if not ok:
            raise ExportError(self.folder, f"OpenCV could not encode frame {self.count} as PNG")
        with open(os.path.join(self.folder, f"frame_{self.count:06d}.png"), "wb") as f:
            f.write(data.tobytes())
        self.count += 1

    def close(self) -> None:
        pass

    def abort(self) -> None:
        pass


@dataclass
class _Timing:
    width: int
    height: int
    rate: Fraction
    time_base: Fraction


def _open_sink(path: str, timing: _Timing, options: ExportOptions, preset: Preset,
               comment: str | None):
    if preset.kind == "gif":
        return _GifSink(path, timing, options, comment)
    if preset.kind == "png":
        return _PngSink(path)
    return _VideoSink(path, timing, options, preset, comment)


# ---------------------------------------------------------------------------------------
# Audio


class _AudioTrack:
    """The source's first audio stream from ``start_s`` to ``end_s`` (times of the video
    stream: its first frame is 0), cut to the sample, re-encoded, handed out in step with the
    video so that the muxer can interleave them."""

    @classmethod
    def open(cls, source: str, out, codec: str, start_s: float, end_s: float,
             warnings: list[str]) -> "_AudioTrack | None":
        import av

        try:
            container = av.open(os.path.abspath(source), metadata_errors="ignore")
        except (av.FFmpegError, OSError) as err:
            raise MediaError(source, f"cannot open it again for its audio: {err}") from err
        try:
            streams = [s for s in container.streams.audio if s.codec_context is not None]
            if not container.streams.audio:
                container.close()
                return None
            if not streams:
                warnings.append("the audio was left out: this FFmpeg cannot decode its codec")
                container.close()
                return None
            return cls(container, streams[0], out, codec, start_s, end_s, warnings)
        except BaseException:
            container.close()
            raise

    def __init__(self, container, stream, out, codec: str, start_s: float, end_s: float,
                 warnings: list[str]):
        import av
        import numpy as np

        self._av, self._np = av, np
        self.container, self.stream, self.warnings = container, stream, warnings
        videos = [s for s in container.streams.video
                  if not int(s.disposition) & int(av.stream.Disposition.attached_pic)]
        for other in container.streams:
            if other.index != stream.index:
                other.discard = av.stream.Discard.all
        zero = 0.0
        if videos and videos[0].start_time is not None:
            zero = float(videos[0].start_time * videos[0].time_base)
        self.abs_start = zero + start_s
        in_context = stream.codec_context
        channels = in_context.channels or 2
        if codec == "libopus":
            rate = 48000
            layout = "mono" if channels == 1 else "stereo"
        else:
            rate = in_context.sample_rate if in_context.sample_rate in _AAC_RATES else 48000
            layout = "mono" if channels == 1 else "stereo"
        self._open_output(out, codec, rate, layout, max(0, round((end_s - start_s) * rate)))
        seek_to = int(max(0.0, self.abs_start - 0.5) / stream.time_base)
        try:
            container.seek(seek_to, stream=stream, backward=True)
        except av.FFmpegError:
            container.seek(0)
        self.packets = container.demux(stream)

    def _open_output(self, out, codec: str, rate: int, layout: str, total: int) -> None:
        """The encoder's stream in ``out``, the resampler to its format, the sample counts."""
        av = self._av
        self.rate = rate
        self.out_stream = out.add_stream(codec, rate=rate, layout=layout)
        self.out_stream.codec_context.bit_rate = 96000 if layout == "mono" else 160000
        self.format = self.out_stream.codec_context.format.name
        self.layout = layout
        self.channels = 1 if layout == "mono" else 2
        self.frame_size = _AUDIO_FRAME_SIZE[codec]
        self.resampler = av.AudioResampler(format=self.format, layout=layout, rate=rate)
        self.total = total  # samples to write
        self.pending: list = []  # planar (channels, n) arrays, in order
        self.pending_n = 0
        self.position: int | None = None  # output sample of the next decoded sample
        self.emitted = 0  # samples handed to the encoder
        self.appended = 0  # samples put into pending so far (from output sample 0)
        self.done = False

    def _planar(self, frame):
        array = frame.to_ndarray()
        if not frame.format.is_planar:  # (1, n * channels) interleaved
            array = array.reshape(-1, self.channels).T
        return array

    def _decode_more(self) -> bool:
        """Decode one packet's worth; False at the end of the stream."""
        av = self._av
        try:
            packet = next(self.packets)
        except StopIteration:
            packet = None
        except av.FFmpegError as err:
            self.warnings.append(f"the audio stops early: it is damaged ({err})")
            packet = None
        try:
            frames = list(self.stream.codec_context.decode(packet))
        except av.FFmpegError as err:
            self.warnings.append(f"the audio stops early: it is damaged ({err})")
            frames, packet = [], None
        for frame in frames:
            if self.position is None:
                if frame.pts is None:
                    self.position = 0
                else:
                    self.position = round((float(frame.pts * frame.time_base) - self.abs_start)
                                          * self.rate)
            for out in self.resampler.resample(frame):
                self._take(self._planar(out))
        if packet is None:
            for out in self.resampler.resample(None):
                self._take(self._planar(out))
            return False
        return True

    def _take(self, array) -> None:
        np = self._np
        n = array.shape[1]
        position = self.position
        self.position += n
        if position > self.appended:
            # The audio starts after the video (or a gap): silence until it does.
            gap = min(position, self.total) - self.appended
            if gap > 0:
                self._append(np.zeros((self.channels, gap), array.dtype))
        lo = max(0, self.appended - position)
        hi = min(n, self.total - position)
        if hi > lo:
            self._append(array[:, lo:hi])

    def _append(self, array) -> None:
        self.pending.append(array)
        self.pending_n += array.shape[1]
        self.appended += array.shape[1]

    def _frames(self, final: bool) -> list:
        """Encoder frames of ``frame_size`` samples from ``pending`` (and the rest if final)."""
        np, av = self._np, self._av
        if not self.pending:
            return []
        data = np.concatenate(self.pending, axis=1) if len(self.pending) > 1 else self.pending[0]
        planar = av.AudioFormat(self.format).is_planar
        frames = []
        start = 0
        while data.shape[1] - start >= self.frame_size or (final and data.shape[1] > start):
            chunk = data[:, start:start + self.frame_size]
            n = chunk.shape[1]
            start += n
            if not planar:
                chunk = chunk.T.reshape(1, -1)  # interleaved
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(chunk), format=self.format,
                                               layout=self.layout)
            frame.sample_rate = self.rate
            frame.pts, frame.time_base = self.emitted, Fraction(1, self.rate)
            self.emitted += n
            frames.append(frame)
        rest = data[:, start:]
        self.pending = [rest] if rest.shape[1] else []
        self.pending_n = rest.shape[1]
        return frames

    def encode_until(self, seconds: float) -> list:
        wanted = min(self.total, round(seconds * self.rate))
        while not self.done and self.appended < wanted:
            if not self._decode_more():
                self.done = True
        packets = []
        for frame in self._frames(final=False):
            packets.extend(self.out_stream.encode(frame))
        return packets

    def finish(self) -> list:
        packets = self.encode_until(self.total / self.rate + 1)
        for frame in self._frames(final=True):
            packets.extend(self.out_stream.encode(frame))
        packets.extend(self.out_stream.encode(None))
        self.close()
        return packets

    def close(self) -> None:
        if self.container is not None:
            self.container.close()
            self.container = None


class _SamplesTrack(_AudioTrack):
    """An :class:`AudioSamples` track, resampled to the encoder's rate and format and handed
    out in step with the video as a source's audio is. Its length is the samples' own."""

    def __init__(self, out, codec: str, audio: AudioSamples):
        import av
        import numpy as np

        self._av, self._np = av, np
        self.container, self.stream, self.warnings = None, None, []
        samples = np.asarray(audio.samples, dtype=np.float32)
        samples = samples[None] if samples.ndim == 1 else samples[:2]
        self._source, self._source_rate = np.clip(samples, -1.0, 1.0), int(audio.rate)
        layout = "mono" if samples.shape[0] == 1 else "stereo"
        rate = 48000 if codec == "libopus" or audio.rate not in _AAC_RATES else int(audio.rate)
        self._open_output(out, codec, rate, layout,
                          round(samples.shape[1] * rate / self._source_rate))

    def _decode_more(self) -> bool:
        av, np = self._av, self._np
        if self._source is not None:
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(self._source), format="fltp",
                                               layout=self.layout)
            frame.sample_rate = self._source_rate
            self._source = None
            self.position = 0
            for made in (*self.resampler.resample(frame), *self.resampler.resample(None)):
                self._take(self._planar(made))
            if self.appended < self.total:  # the resampler's delay: silence to the end
                self._append(np.zeros((self.channels, self.total - self.appended), np.float32))
        return False


# ---------------------------------------------------------------------------------------
# Files: temporary names, no-clobber publishing, messages


def os_reason(err: OSError) -> str:
    reasons = {
        errno.EACCES: "permission denied",
        errno.EPERM: "permission denied",
        errno.EROFS: "the folder is on a read-only file system",
        errno.ENOSPC: "no space left on the disk",
        errno.EDQUOT: "the disk quota is used up",
        errno.EFBIG: "the file is larger than this file system or the process allows",
        errno.ENOTDIR: "a part of the path is a file, not a folder",
        errno.ENAMETOOLONG: "the name is too long for this file system",
        errno.ENOENT: "the folder does not exist",
        errno.EISDIR: "it is a folder",
    }
    return reasons.get(err.errno) or err.strerror or str(err)


def is_write_failure(err: BaseException) -> bool:
    return isinstance(err, OSError) and err.errno in (
        errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT, errno.EFBIG,
        errno.ENOTDIR, errno.ENAMETOOLONG, errno.ENOENT, errno.EIO, errno.EISDIR)


def _umask() -> int:
    """The process umask, read without changing it (``os.umask`` sets it, racing threads)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o022


def temp_file(folder: Path, suffix: str) -> Path:
    """A new empty temporary file in ``folder`` (hidden, ``.part``; a rename within one file
    system publishes it), with the permissions a file created there normally gets."""
    fd, name = tempfile.mkstemp(prefix=_TEMP_PREFIX, suffix=suffix + ".part", dir=folder)
    try:
        # mkstemp makes it private (0600); the final file gets the usual permissions.
        os.fchmod(fd, 0o666 & ~_umask())
    except OSError:
        pass
    finally:
        os.close(fd)
    return Path(name)


def _temp_dir(folder: Path) -> Path:
    path = tempfile.mkdtemp(prefix=_TEMP_PREFIX, suffix=".part", dir=folder)
    try:
        os.chmod(path, 0o777 & ~_umask())
    except OSError:
        pass
    return Path(path)


def remove_path(path: Path | None) -> None:
    if path is None:
        return
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            os.unlink(path)
    except OSError:
        pass


def _publish(temp: Path, final: Path, overwrite: bool) -> None:
    """Move ``temp`` (a file or a folder) to ``final``. Without ``overwrite`` an existing
    ``final`` is never replaced: ``FileExistsError``. A file is linked under the new name
    (which fails when the name is taken, with no gap between a look and the move) and then
    unlinked; where hard links are not supported, a look and ``os.replace``."""
    if temp.is_dir():
        if os.path.lexists(final):
            if not overwrite:
                raise FileExistsError(errno.EEXIST, "exists", str(final))
            old = final.with_name(f"{_TEMP_PREFIX}old-{os.getpid()}-{final.name}.part")
            os.rename(final, old)
            os.rename(temp, final)
            remove_path(old)
            return
        os.rename(temp, final)
        return
    if overwrite:
        os.replace(temp, final)
        return
    publish_new_file(temp, final)


def publish_new_file(temp: Path, final: Path) -> None:
    """Move the file ``temp`` to ``final``, never replacing an existing ``final``
    (``FileExistsError``): a hard link fails when the name is taken, with no gap between a look
    and the move; where links are not supported, a look and ``os.replace``."""
    try:
        os.link(temp, final)
    except FileExistsError:
        raise
    except OSError:
        if os.path.lexists(final):
            raise FileExistsError(errno.EEXIST, "exists", str(final)) from None
        os.replace(temp, final)
        return
    os.unlink(temp)


def publish_group(temps: Sequence[tuple[Path, str]], folder: Path, stem: str,
                  overwrite: bool, taken: set[str]) -> tuple[str, list[Path]]:
    """Publish files that share a stem (a clip, its ``.txt`` and ``.json``) under the first
    free ``stem``, ``stem_2``, ... for which none of their names exists. Returns the stem
    used and the final paths, in the order of ``temps``."""
    suffixes = [suffix for _temp, suffix in temps]
    base, n = stem, 1
    while True:
        if n > 1:
            base = f"{stem}_{n}"
        names = [base + s for s in suffixes]
        if not overwrite and (any(name.lower() in taken for name in names)
                              or any(os.path.lexists(folder / name) for name in names)):
            n += 1
            continue
        done: list[Path] = []
        try:
            for (temp, _suffix), name in zip(temps, names, strict=True):
                _publish(temp, folder / name, overwrite)
                done.append(folder / name)
        except FileExistsError:
            # Taken between the look and the move (another program): undo, next number.
            for path in done:
                remove_path(path)
            n += 1
            continue
        except BaseException:
            for path in done:
                remove_path(path)
            raise
        taken.update(name.lower() for name in names)
        return base, done


def check_target(target: str | os.PathLike, preset_name: str, expected_bytes: int = 0) -> Path:
    """Check, before any work, that ``target`` (a file name with the preset's suffix, or a
    folder) can be written by the ``preset_name`` preset: the suffix fits the preset, the
    nearest existing folder on the way is a writable folder, and its disk has room for about
    ``expected_bytes``. Returns the folder the files will go into; raises ExportError naming
    the path and the reason. Creates nothing."""
    preset = PRESETS[preset_name]
    resolved = _resolve_target(target, preset, 1)
    folder = resolved.folder
    existing = folder
    while not existing.exists():
        if existing.parent == existing:
            break
        existing = existing.parent
    if not existing.is_dir():
        raise ExportError(existing, "a part of the path is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ExportError(existing, "cannot write there (permission denied)")
    try:
        free = shutil.disk_usage(existing).free
    except OSError:
        return folder  # no figure: the write itself will say
    if expected_bytes > free:
        raise ExportError(existing, f"not enough space on the disk: about "
                                    f"{expected_bytes / 1e6:,.0f} MB needed, "
                                    f"{free / 1e6:,.0f} MB free")
    return folder


def preset_for_output(target: str | os.PathLike) -> str:
    """The preset a file name asks for by its suffix (.mp4, .webm, .gif), "png" (a folder of
    frames) for a name without one; ExportError for another media suffix."""
    suffix = Path(target).suffix.lower()
    for name in ("mp4", "webm", "gif"):
        if suffix == PRESETS[name].suffix:
            return name
    from studio.core.media import MEDIA_EXTENSIONS

    if suffix in MEDIA_EXTENSIONS:
        raise ExportError(target, f"Studio writes .mp4, .webm or .gif videos, or a folder of "
                                  f"PNG frames; not {suffix}")
    return "png"


def prepare_folder(folder: Path) -> None:
    """Make ``folder`` (and its parents) and check that a file can be written there, before
    any work; ``ExportError`` naming the folder and the reason otherwise."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ExportError(folder, f"cannot create the folder ({os_reason(err)})") from None
    if not folder.is_dir():
        raise ExportError(folder, "not a folder")
    try:  # found out now, before any work, rather than at the first file
        remove_path(temp_file(folder, ".probe"))
    except OSError as err:
        raise ExportError(folder, f"cannot write here ({os_reason(err)})") from None
    clean_stale_parts(folder)  # what killed runs left here before


@dataclass
class _Target:
    folder: Path
    stem: str | None  # a file name given by the caller (without suffix); None: from the source


def _resolve_target(target: str | os.PathLike, preset: Preset, count: int) -> _Target:
    """A folder to write into, or (one source, a name with the preset's suffix, or a png
    folder that does not exist yet) a file name."""
    path = Path(target).expanduser()
    text = os.fspath(target)
    if path.is_dir() or text.endswith(os.sep) or text.endswith("/") or preset.kind == "train":
        return _Target(path.absolute(), None)
    suffix = path.suffix.lower()
    if preset.kind == "png":
        if path.exists():
            raise ExportError(path, "exists and is not a folder (a PNG sequence is a folder)")
        if count == 1:
            return _Target(path.absolute().parent, path.name)
        return _Target(path.absolute(), None)
    if suffix == preset.suffix:
        if count > 1:
            raise ExportError(path, f"one file name for {count} sources; give a folder instead")
        return _Target(path.absolute().parent, path.stem)
    from studio.core.media import MEDIA_EXTENSIONS

    if suffix in MEDIA_EXTENSIONS:
        raise ExportError(path, f"the {preset.name} preset writes {preset.suffix} files, "
                                f"not {suffix}")
    return _Target(path.absolute(), None)


def _comment(source: str | None, plan: ExportPlan | None, options: ExportOptions,
             preset: Preset) -> dict:
    from studio import __version__

    record: dict = {"studio": __version__, "preset": preset.name}
    if source is not None:  # a name that is not UTF-8 in its reversible text form
        record["source"] = db_path(os.path.abspath(source))
    if plan is not None:
        record.update({"in_frame": plan.first, "out_frame": plan.last,
                       "in_s": round(plan.start_s, 6), "out_s": round(plan.end_s, 6),
                       "width": plan.width, "height": plan.height,
                       "fps": None if not plan.constant_rate else float(plan.rate)})
    if preset.kind in ("video", "train"):
        record["crf"] = options.crf if options.crf is not None else preset.default_crf
        record["speed"] = options.speed
    if options.caption:
        record["caption"] = options.caption
    if options.metadata:
        record["settings"] = options.metadata
    return record


# ---------------------------------------------------------------------------------------
# Running one export


def _render(reader, plan: ExportPlan, dest: str, options: ExportOptions, comment: str | None,
            progress: ProgressCallback | None, cancel: CancelToken | None,
            warnings: list[str], frame_offset: int = 0, grand_total: int | None = None) -> None:
    """Encode ``plan`` into ``dest`` (a file, or an existing folder for png)."""
    preset = plan.preset
    timing = _Timing(plan.width, plan.height, plan.rate, plan.time_base)
    total = grand_total if grand_total is not None else plan.frames
    sink = _open_sink(dest, timing, options, preset, comment)
    try:
        if isinstance(sink, _VideoSink) and options.audio and preset.audio_codec:
            sink.add_audio(plan.source, plan.start_s, plan.end_s, preset.audio_codec, warnings)
        for k, (index, pts, duration) in enumerate(zip(plan.source_frames, plan.pts,
                                                       plan.durations, strict=True)):
            if cancel is not None:
                cancel.raise_if_cancelled()
            image = reader.frame_at(index).image
            sink.add(_conform_image(image, plan.width, plan.height, plan.fit), pts, duration)
            if progress is not None:
                progress(frame_offset + k + 1, total)
        if cancel is not None:
            cancel.raise_if_cancelled()
        sink.close()
    except BaseException:
        sink.abort()
        raise


def encode_to(source: str | os.PathLike, dest: str | os.PathLike,
              options: ExportOptions = ExportOptions(), *,
              progress: ProgressCallback | None = None,
              cancel: CancelToken | None = None) -> ExportResult:
    """Encode ``source`` as ``options`` say into exactly ``dest`` (a file; for png an
    existing empty folder), with no temporary name, no numbering and no sidecars: for callers
    that manage their own files. Raises ``MediaError``, ``ValueError``, ``OSError`` or
    ``Cancelled``; ``dest`` is then left as it is (the caller removes it)."""
    from studio.core.frames import FrameReader

    preset = check_options(options)
    started = time.perf_counter()
    warnings: list[str] = []
    with FrameReader(os.fspath(source)) as reader:
        plan = _plan(os.fspath(source), reader, options, preset)
        warnings.extend(size_warnings(plan, options))
        comment = json_text(_comment(os.fspath(source), plan, options, preset))
        _render(reader, plan, os.fspath(dest), options, comment, progress, cancel, warnings)
    return ExportResult(source=os.fspath(source), output=os.fspath(dest), ok=True,
                        frames=plan.frames, seconds=plan.seconds, width=plan.width,
                        height=plan.height, fps=float(plan.rate),
                        elapsed_s=time.perf_counter() - started, warnings=warnings)


def export_clip(source: str | os.PathLike, target: str | os.PathLike,
                options: ExportOptions = ExportOptions(), *,
                progress: ProgressCallback | None = None,
                cancel: CancelToken | None = None) -> ExportResult:
    """Export ``source`` into ``target`` (a folder, or a file name with the preset's suffix)
    and return what was written. Raises ``ExportError`` (the message names the file and says
    why; nothing is left under a final name) or ``Cancelled``."""
    preset = _preset(options.preset)
    resolved = _resolve_target(target, preset, 1)
    if preset.kind == "train":  # a training set of one clip: core.dataset writes those
        from studio.core.dataset import write_training_set

        batch = write_training_set([(source, options)], resolved.folder, preset.name,
                                   options=options, progress=progress, cancel=cancel)
        if batch.cancelled:
            raise Cancelled()
        (result,) = batch.results
        if not result.ok:
            raise ExportError(None, result.error)
        return result
    return _export_one(os.fspath(source), resolved, options, preset, progress, cancel,
                       taken=set())


def _export_one(source: str, target: _Target, options: ExportOptions, preset: Preset,
                progress: ProgressCallback | None, cancel: CancelToken | None,
                taken: set[str], frame_offset: int = 0, grand_total: int | None = None,
                companions: Sequence[tuple[str, str]] = ()) -> ExportResult:
    """One source into ``target``: encoded, then published beside ``companions`` ((suffix,
    text) files: a training set's caption) and the ``.json`` sidecar under one stem."""
    from studio.core.frames import FrameReader

    started = time.perf_counter()
    warnings: list[str] = []
    try:
        check_options(options)
        reader = FrameReader(source)  # a missing or unreadable file: MediaError, named
    except ValueError as err:
        raise ExportError(source, str(err)) from None
    except MediaError as err:
        raise ExportError(None, str(err)) from None
    temps: list[Path] = []
    try:
        try:
            plan = _plan(source, reader, options, preset)
        except ValueError as err:
            raise ExportError(source, str(err)) from None
        except MediaError as err:
            raise ExportError(None, str(err)) from None
        warnings.extend(size_warnings(plan, options))
        folder = target.folder
        prepare_folder(folder)
        record = _comment(source, plan, options, preset)
        comment = json_text(record)
        stem = sanitize_name(options.name, fallback="clip") if options.name else (
            target.stem if target.stem else default_stem(source, plan))
        try:
            media = _temp_dir(folder) if preset.kind == "png" else temp_file(folder,
                                                                              preset.suffix)
        except OSError as err:
            raise ExportError(folder, f"cannot write here ({os_reason(err)})") from None
        temps.append(media)
        group: list[tuple[Path, str]] = [(media, preset.suffix)]
        try:
            _render(reader, plan, os.fspath(media), options, comment, progress, cancel,
                    warnings, frame_offset, grand_total)
            texts = list(companions)
            if options.sidecar or (options.sidecar is None and options.metadata):
                texts.append((".json", json_text(record, indent=2) + "\n"))
            _add_texts(folder, texts, group, temps)
            if cancel is not None:
                cancel.raise_if_cancelled()
            _stem, finals = publish_group(group, folder, stem, options.overwrite, taken)
        except OSError as err:
            raise _write_error(err, folder, stem + preset.suffix, source) from None
        except MediaError as err:
            raise ExportError(None, str(err)) from None
        except ExportError:
            raise
        except Cancelled:
            raise
        except Exception as err:  # an FFmpeg failure we did not foresee is still a message
            import av

            if isinstance(err, av.FFmpegError):
                raise ExportError(source, f"encoding failed: {err}") from None
            raise
    finally:
        reader.close()
        for temp in temps:
            remove_path(temp)  # after publishing these names are gone; on failure, the halves
    return ExportResult(
        source=source, output=os.fspath(finals[0]), ok=True, frames=plan.frames,
        seconds=plan.seconds, width=plan.width, height=plan.height, fps=float(plan.rate),
        sidecars=[os.fspath(p) for p in finals[1:]], elapsed_s=time.perf_counter() - started,
        warnings=warnings)


def _add_texts(folder: Path, texts: Iterable[tuple[str, str]], group: list[tuple[Path, str]],
               temps: list[Path]) -> None:
    """Write each ``(suffix, text)`` (UTF-8) to a temporary file in ``folder``, added to the
    ``group`` that will be published under one stem."""
    for suffix, text in texts:
        temp = temp_file(folder, suffix)
        temps.append(temp)
        temp.write_text(text, encoding="utf-8")
        group.append((temp, suffix))


def _write_error(err: OSError, folder: Path, name: str, source: str) -> ExportError:
    """The message for an ``OSError`` met while writing ``name`` into ``folder``."""
    where = err.filename if isinstance(getattr(err, "filename", None), str) else None
    if where == source:
        return ExportError(source, f"cannot read it ({os_reason(err)})")
    if is_write_failure(err) or (where and where.startswith(os.fspath(folder))):
        return ExportError(folder / name, f"cannot write it ({os_reason(err)})")
    return ExportError(source, f"export failed: {os_reason(err)}")


def write_clip(source: str | os.PathLike, folder: Path, options: ExportOptions, *,
               companions: Sequence[tuple[str, str]] = (), taken: set[str],
               progress: ProgressCallback | None = None, cancel: CancelToken | None = None,
               frame_offset: int = 0, grand_total: int | None = None) -> ExportResult:
    """Encode ``source`` as ``options`` say into ``folder`` (made when missing), published
    with ``companions`` ((suffix, text) files) under one stem that is free in ``folder`` and
    not in ``taken`` (which gets the names used). For ``core.dataset``'s training sets.
    Raises ``ExportError`` or ``Cancelled``; nothing is left under a final name then."""
    preset = _preset(options.preset)
    return _export_one(os.fspath(source), _Target(Path(folder), None), options, preset,
                       progress, cancel, taken, frame_offset, grand_total, companions)


def copy_clip(source: str | os.PathLike, folder: Path, stem: str, *,
              companions: Sequence[tuple[str, str]] = (), overwrite: bool = False,
              taken: set[str], cancel: CancelToken | None = None) -> ExportResult:
    """Copy ``source`` byte for byte into ``folder`` (which must exist) as ``stem`` plus its
    own suffix, published with ``companions`` as ``write_clip`` does. Raises
    ``ExportError`` or ``Cancelled``; nothing is left under a final name then."""
    started = time.perf_counter()
    source = os.fspath(source)
    suffix = Path(source).suffix.lower() or ".bin"
    temps: list[Path] = []
    try:
        try:
            media = temp_file(folder, suffix)
        except OSError as err:
            raise ExportError(folder, f"cannot write here ({os_reason(err)})") from None
        temps.append(media)
        group: list[tuple[Path, str]] = [(media, suffix)]
        try:
            _copy_bytes(source, media, cancel)
            _add_texts(folder, companions, group, temps)
            if cancel is not None:
                cancel.raise_if_cancelled()
            _stem, finals = publish_group(group, folder, stem, overwrite, taken)
        except OSError as err:
            raise _write_error(err, folder, stem + suffix, source) from None
    finally:
        for temp in temps:
            remove_path(temp)
    return ExportResult(source=source, output=os.fspath(finals[0]), ok=True,
                        sidecars=[os.fspath(p) for p in finals[1:]],
                        elapsed_s=time.perf_counter() - started, copied=True)


_COPY_CHUNK = 4 * 1024 * 1024


def _copy_bytes(source: str, temp: Path, cancel: CancelToken | None) -> None:
    with open(source, "rb") as src, open(temp, "wb") as dst:
        while chunk := src.read(_COPY_CHUNK):
            if cancel is not None:
                cancel.raise_if_cancelled()
            dst.write(chunk)
    try:  # the copy keeps the source's times, as a file manager's copy does
        st = os.stat(source)
        os.utime(temp, (st.st_atime, st.st_mtime))
    except OSError:
        pass


def write_text_file(folder: Path, name: str, text: str, *, overwrite: bool = False,
                    taken: set[str]) -> Path:
    """Write ``text`` (UTF-8) as ``folder/name``, or ``name_2``, ... when that is taken
    (unless ``overwrite``), through a temporary file. Raises ``OSError``."""
    stem, suffix = os.path.splitext(name)
    temp = None
    try:
        temp = temp_file(folder, suffix)
        temp.write_text(text, encoding="utf-8")
        _stem, finals = publish_group([(temp, suffix)], folder, stem, overwrite, taken)
    finally:
        remove_path(temp)
    return finals[0]


def export_clips(sources: Iterable[str | os.PathLike | tuple[str | os.PathLike, ExportOptions]],
                 target: str | os.PathLike, options: ExportOptions = ExportOptions(), *,
                 progress: ProgressCallback | None = None,
                 cancel: CancelToken | None = None,
                 on_result: Callable[[ExportResult], None] | None = None) -> ExportBatch:
    """Export several sources into ``target``, each with ``options`` or with its own
    (``(source, options)`` pairs: a clip's marks and caption; the preset must be the same).

    A source that fails becomes a result with ``ok=False`` and its message, and the others
    go on. ``progress(done, total)`` counts frames over the whole batch (every source is
    planned first). ``on_result`` is called as each finishes. A cancel stops at once: the
    file being written is thrown away, the finished ones stay (``batch.cancelled``). The
    training presets are ``core.dataset.write_training_set``'s layouts of the same names
    (captions beside the clips and a JSONL manifest, ``batch.manifest``)."""
    items = [(os.fspath(s[0]), s[1]) if isinstance(s, tuple) else (os.fspath(s), options)
             for s in sources]
    preset = _preset(options.preset)
    for _source, item_options in items:
        if item_options.preset != preset.name:
            raise ValueError("every clip of one export uses the same preset")
    batch = ExportBatch()

    def add(result: ExportResult) -> None:
        batch.results.append(result)
        if on_result is not None:
            on_result(result)

    try:
        resolved = _resolve_target(target, preset, len(items))
    except ExportError as err:
        for source, _ in items:
            add(ExportResult(source, None, False, str(err)))
        return batch
    if preset.kind == "train":
        from studio.core.dataset import write_training_set

        return write_training_set(items, resolved.folder, preset.name, options=options,
                                  progress=progress, cancel=cancel, on_result=on_result)
    plans, failed = _plan_items(items)
    total = sum(plans)
    done = 0
    taken: set[str] = set()
    for i, (source, item_options) in enumerate(items):
        if cancel is not None and cancel.cancelled:
            batch.cancelled = True
            break
        if i in failed:
            result = ExportResult(source, None, False, failed[i])
        else:
            try:
                result = _export_one(source, resolved, item_options, preset, progress, cancel,
                                     taken, frame_offset=done, grand_total=total)
            except Cancelled:
                batch.cancelled = True
                break
            except ExportError as err:
                result = ExportResult(source, None, False, str(err))
        done += plans[i]
        add(result)
    return batch


def _plan_items(items: Sequence[tuple[str, ExportOptions]]) -> tuple[list[int], dict[int, str]]:
    """The frames each ``(source, options)`` will write (0 when it cannot be planned) and,
    by index, the message of each that cannot."""
    plans: list[int] = []
    failed: dict[int, str] = {}
    for i, (source, item_options) in enumerate(items):
        plan, problem = plan_or_problem(source, item_options)
        plans.append(plan.frames if plan is not None else 0)
        if problem is not None:
            failed[i] = problem
    return plans, failed


# ---------------------------------------------------------------------------------------
# Generated frames


def write_frames(frames: Iterable, target: str | os.PathLike, fps: float,
                 options: ExportOptions = ExportOptions(), *, frame_count: int | None = None,
                 progress: ProgressCallback | None = None, cancel: CancelToken | None = None,
                 audio: AudioSamples | None = None) -> ExportResult:
    """Write RGB uint8 frames (H, W, 3, all one size) at ``fps`` as ``options.preset`` (mp4,
    webm, gif or png) into ``target`` (a folder or a file name), atomically, with
    ``options.metadata`` in the comment tag and the sidecar; named ``options.name`` or
    ``generation``; ``width``/``height`` resize as for clips. ``frame_count``: the total, for
    ``progress``. ``audio``: a sound track for mp4/webm unless ``options.audio`` is False."""
    preset = check_options(options)
    if preset.kind == "train":
        raise ValueError("write_frames writes mp4, webm, gif or png; export a training set "
                         "from a clip")
    if not (math.isfinite(fps) and fps > 0):
        raise ValueError(f"fps must be a positive number, not {fps!r}")
    started = time.perf_counter()
    resolved = _resolve_target(target, preset, 1)
    folder = resolved.folder
    prepare_folder(folder)
    stem = sanitize_name(options.name, fallback="generation") if options.name else (
        resolved.stem or "generation")
    rate = Fraction(min(fps, GIF_MAX_FPS) if preset.kind == "gif" else fps) \
        .limit_denominator(1001)
    record = _comment(None, None, options, preset)
    record["fps"] = float(rate)
    temps: list[Path] = []
    iterator: Iterator = iter(frames)
    try:
        try:
            media = _temp_dir(folder) if preset.kind == "png" else temp_file(folder,
                                                                              preset.suffix)
        except OSError as err:
            raise ExportError(folder, f"cannot write here ({os_reason(err)})") from None
        temps.append(media)
        sink = None
        written = 0
        width = height = None
        try:
            for image in iterator:
                if cancel is not None:
                    cancel.raise_if_cancelled()
                if sink is None:
                    sh, sw = image.shape[:2]
                    width, height, fit = _output_size(sw, sh, options, preset)
                    record.update({"width": width, "height": height})
                    timing = _Timing(width, height, rate, 1 / rate)
                    sink = _open_sink(os.fspath(media), timing, options, preset,
                                      json_text(record))
                    _add_samples(sink, audio, options, preset, record)
                if image.shape[:2] != (sh, sw):
                    raise ValueError(f"frame {written} is {image.shape[1]}x{image.shape[0]}, "
                                     f"the first was {sw}x{sh}")
                sink.add(_conform_image(image, width, height, fit), written, 1)
                written += 1
                if progress is not None:
                    progress(written, frame_count or 0)
            if sink is None:
                raise ValueError("no frames to write")
            sink.close()
            group = [(media, preset.suffix)]
            if options.sidecar or (options.sidecar is None and options.metadata):
                side = temp_file(folder, ".json")
                temps.append(side)
                side.write_text(json_text(record, indent=2) + "\n", encoding="utf-8")
                group.append((side, ".json"))
            _stem, finals = publish_group(group, folder, stem, options.overwrite, set())
        except BaseException as err:
            if sink is not None:
                sink.abort()
            if isinstance(err, OSError):
                raise ExportError(folder / (stem + preset.suffix),
                                  f"cannot write it ({os_reason(err)})") from None
            raise
    finally:
        for temp in temps:
            remove_path(temp)
    return ExportResult(source=None, output=os.fspath(finals[0]), ok=True, frames=written,
                        seconds=written / float(rate), width=width, height=height,
                        fps=float(rate), sidecars=[os.fspath(p) for p in finals[1:]],
                        elapsed_s=time.perf_counter() - started)


def _add_samples(sink, audio: AudioSamples | None, options: ExportOptions, preset: Preset,
                 record: dict) -> None:
    """``audio`` into a video sink (mp4, webm) as the preset's audio codec, when wanted."""
    if audio is None or not options.audio or not isinstance(sink, _VideoSink) or \
            not preset.audio_codec:
        return
    sink.audio = _SamplesTrack(sink.out, preset.audio_codec, audio)
    record["audio"] = {"codec": preset.audio_codec, "sample_rate": sink.audio.rate,
                       "channels": sink.audio.channels,
                       "seconds": round(sink.audio.total / sink.audio.rate, 6)}


def with_range(options: ExportOptions, in_frame: int | None,
               out_frame: int | None) -> ExportOptions:
    """``options`` for a clip's in/out marks (a project's ``Clip.in_frame``/``out_frame``)."""
    return replace(options, in_frame=in_frame, out_frame=out_frame, in_s=None, out_s=None)
