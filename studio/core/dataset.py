"""The training-set writer: captioned clips into a folder that a video-model trainer reads.

One writer, ``write_training_set(items, folder, layout)``, for every layout (``LAYOUTS``):

- ``"diffusion-pipe"``: each clip beside a ``.txt`` of the same stem holding its caption
  (``walk.mp4`` + ``walk.txt``), as diffusion-pipe (and most LoRA trainers) read a folder.
- ``"musubi"``: the clips and a JSONL manifest, one ``{"video_path", "caption"}`` object a
  line with absolute paths, as musubi-tuner's ``video_jsonl_file`` reads it.
- ``"ltx-train"`` / ``"wan-train"``: both, with every clip re-encoded to a trainer's rules
  (``core.export``'s presets of those names: LTX-Video 8k+1 frames, sides x32, 24 fps; Wan 2.1
  / HunyuanVideo 4k+1 frames, x16, 16 fps). ``studio export --preset`` and File > Export…
  write these (``core.export.export_clips`` hands them here).

In the copy layouts (``COPY_LAYOUTS``, File > Export Training Set…) a clip with in/out points
is cut to that range: its exact frames re-encoded as H.264 yuv420p (``TRIM_OPTIONS``), keeping
their timing and the sound of that range (AAC); a clip without marks, or with marks that cover
all of it, is copied byte for byte.

Sound: the copy layouts keep a clip's sound, cut or not, as a trainer reading the clips as they
are expects: Lightricks' LTX-2 trainer and musubi-tuner's LTX-2 audio-video mode take the sound
from the video files, and video-only trainers ignore the stream. The re-encoding layouts are for
video-only trainers and drop it (``core.export``'s presets have no audio codec): ``ltx-train`` for
the LTX-Video 0.9 trainer, ``wan-train`` for Wan 2.1 / HunyuanVideo trainers.

The rules, the same for every layout (the files are written by ``core.export``'s helpers):

- Names: ``core.export.sanitize_name`` of the item's name, or of the source's stem plus
  ``_first-last`` when cut. A name is never written over: ``stem_2``, ``stem_3``, ... for the
  clip and its caption together (unless the options say ``overwrite``).
- Captions: stripped; an empty one is none, and that clip is skipped (a result with the
  message ``NO_CAPTION``, counted in ``skipped_uncaptioned``). The ``.txt`` holds the caption
  and a newline; the manifest line the caption.
- Failures: a clip that fails (its file is gone, cannot be decoded, its range does not fit)
  is a result with a message naming it, and the others go on. A folder that cannot be made or
  written is found before anything is written: ``report.error``, and each clip's message.
- Every file is written to a temporary file in the folder and then moved under its final
  name, so a crash or a cancel never leaves a half file under a final name; a cancel keeps
  the clips already finished, each with its caption, and the manifest lists exactly those.

Pure Python and PyAV: no Qt, usable from the CLI and from a GUI worker thread.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

from studio.core.cancel import Cancelled, CancelToken
from studio.core.export import (
    NO_CAPTION,
    ExportBatch,
    ExportError,
    ExportOptions,
    ExportResult,
    ProgressCallback,
    copy_clip,
    default_stem,
    os_reason,
    plan_or_problem,
    prepare_folder,
    sanitize_name,
    with_range,
    write_clip,
    write_text_file,
)
from studio.core.media import MissingFileError
from studio.core.paths import json_text

MANIFEST_NAME = "metadata.jsonl"
TRIM_OPTIONS = ExportOptions(preset="mp4", crf=15, speed="medium", audio=True)
"""How the copy layouts cut a clip to its marks: near-lossless for training data (the source
was lossy already), with the sound of that range, as an uncut copy keeps all of it."""

ItemCallback = Callable[[int, int, str], None]  # (clips done, clips to write, current name)


@dataclass(frozen=True)
class Layout:
    """How a training set lies in its folder."""

    name: str
    title: str
    sidecars: bool  # a caption .txt of the same stem beside each clip
    manifest: bool  # MANIFEST_NAME: a {"video_path", "caption"} line a clip
    preset: str | None = None  # core.export preset every clip is re-encoded to; None: copies

    @property
    def companion_suffixes(self) -> tuple[str, ...]:
        """The suffixes of the files published beside each clip, under its stem."""
        return (".txt",) if self.sidecars else ()

    def companions(self, caption: str) -> list[tuple[str, str]]:
        """The (suffix, text) files published beside a clip with ``caption``."""
        return [(suffix, caption + "\n") for suffix in self.companion_suffixes]


LAYOUTS: dict[str, Layout] = {
    "diffusion-pipe": Layout("diffusion-pipe",
                             "diffusion-pipe: clip copies with .txt caption sidecars",
                             sidecars=True, manifest=False),
    "musubi": Layout("musubi", "musubi-tuner: clip copies and a JSONL manifest",
                     sidecars=False, manifest=True),
    "ltx-train": Layout("ltx-train", "LTX-Video training set (8k+1 frames, 32 px)",
                        sidecars=True, manifest=True, preset="ltx-train"),
    "wan-train": Layout("wan-train", "Wan / HunyuanVideo training set (4k+1 frames, 16 px)",
                        sidecars=True, manifest=True, preset="wan-train"),
}
COPY_LAYOUTS = ("diffusion-pipe", "musubi")  # the clips as they are (cut to their marks)


def layout(name: str) -> Layout:
    try:
        return LAYOUTS[name]
    except KeyError:
        raise ValueError(f"layout must be one of {', '.join(LAYOUTS)}, got {name!r}") from None


@dataclass
class DatasetItem:
    """One clip to write: its media file, its caption, its in/out marks (inclusive frame
    indices) and its output stem (None: from the file name and the marks). ``options``: for
    the layouts that re-encode, this clip's own export options (ranges in seconds, size, ...),
    used as they are instead of the writer's options with these marks and name."""

    path: str
    caption: str | None
    in_frame: int | None = None
    out_frame: int | None = None
    clip_id: int | None = None
    name: str | None = None
    options: ExportOptions | None = None


@dataclass
class TrainingSetReport(ExportBatch):
    """``results``: one per item, in order (skipped and failed ones too, with their
    messages); ``manifest``: the manifest written, if any."""

    folder: Path | None = None
    layout: str = "diffusion-pipe"
    skipped_uncaptioned: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)  # (source, message)
    error: str | None = None  # the folder cannot be made or written: nothing was

    @property
    def exported(self) -> list[ExportResult]:
        return [r for r in self.results if r.ok]

    def summary(self) -> str:
        """One line for a person: what was written, skipped and why not."""
        if self.error:
            return self.error
        text = f"Exported {len(self.exported)} clip(s) to {self.folder}"
        if self.manifest is not None:
            text += f" (manifest {Path(self.manifest).name})"
        if self.skipped_uncaptioned:
            text += f"; skipped {self.skipped_uncaptioned} without a caption"
        if self.failed:
            text += f"; {len(self.failed)} failed: {self.failed[0][1]}"
        if self.cancelled:
            text += " (cancelled)"
        return text


@dataclass
class _Entry:
    item: DatasetItem
    caption: str  # stripped
    options: ExportOptions | None = None  # how it is encoded; None: copied
    frames: int = 0  # frames it will encode
    error: str | None = None
    uncaptioned: bool = False

    @property
    def source(self) -> str:
        return self.item.path


# ---------------------------------------------------------------------------------------


def write_training_set(items: Iterable[DatasetItem | tuple[str | os.PathLike, ExportOptions]],
                       folder: str | os.PathLike, layout_name: str = "diffusion-pipe", *,
                       options: ExportOptions | None = None,
                       progress: ProgressCallback | None = None,
                       on_item: ItemCallback | None = None,
                       on_result: Callable[[ExportResult], None] | None = None,
                       cancel: CancelToken | None = None) -> TrainingSetReport:
    """Write ``items`` into ``folder`` (made when missing) in the layout ``layout_name``.

    ``items``: ``DatasetItem``s, or ``(source, ExportOptions)`` pairs (their caption in the
    options: what ``export_clips`` gets). ``options``: the export options of the layouts that
    re-encode (size, frame rate, quality, ``overwrite``; default: the preset's own), or of the
    copy layouts' cuts (default ``TRIM_OPTIONS``). ``progress(done, total)`` counts frames
    encoded over the whole set; ``on_item(done, total, name)`` is called before each
    captioned clip and once at the end; ``on_result`` as each item's result is known.
    Raises ``ValueError`` for a layout or options that do not fit, and ``ExportError`` when
    the manifest cannot be written; everything else is in the report (see the module)."""
    spec = layout(layout_name)
    base = _base_options(spec, options)
    folder = Path(folder).expanduser().absolute()
    report = TrainingSetReport(folder=folder, layout=spec.name)
    entries = []
    for item in items:
        if cancel is not None and cancel.cancelled:
            break  # the loop below says cancelled
        entries.append(_plan_entry(_as_item(item), spec, base))
    if any(e.error is None for e in entries):
        try:
            prepare_folder(folder)
        except ExportError as err:
            report.error = str(err)
            for entry in entries:
                entry.error = entry.error or str(err)
    taken: set[str] = set()
    _write_entries(entries, folder, spec, base, taken, report,
                   progress=progress, on_item=on_item, on_result=on_result, cancel=cancel)
    if spec.manifest and report.exported:
        report.manifest = _write_manifest(folder, report.exported, base.overwrite, taken)
    return report


def _base_options(spec: Layout, options: ExportOptions | None) -> ExportOptions:
    preset = spec.preset or TRIM_OPTIONS.preset
    if options is None:
        return ExportOptions(preset=preset) if spec.preset else TRIM_OPTIONS
    if options.preset != preset:
        raise ValueError(f"the {spec.name} layout writes with the {preset} preset, "
                         f"not {options.preset}")
    return options


def _as_item(item: DatasetItem | tuple[str | os.PathLike, ExportOptions]) -> DatasetItem:
    if isinstance(item, DatasetItem):
        return item
    source, options = item
    return DatasetItem(path=os.fspath(source), caption=options.caption, options=options)


def _plan_entry(item: DatasetItem, spec: Layout, base: ExportOptions) -> _Entry:
    """What ``item`` will be (encoded with which options, or copied), or why it cannot."""
    source = item.path
    caption = (item.caption or "").strip()
    if not caption:
        return _Entry(item, "", error=f"{source}: {NO_CAPTION}", uncaptioned=True)
    entry = _Entry(item, caption)
    if spec.preset is None:  # a copy, or a cut to its marks
        if not os.path.isfile(source):
            entry.error = str(MissingFileError(source, "the clip's file is gone; relink it "
                                                       "in the bin"))
            return entry
        if item.in_frame is None and item.out_frame is None:
            return entry
        options = replace(with_range(base, item.in_frame, item.out_frame), name=item.name)
    else:
        options = item.options or replace(with_range(base, item.in_frame, item.out_frame),
                                          name=item.name, caption=item.caption)
    plan, entry.error = plan_or_problem(source, options)
    if plan is not None and (spec.preset is not None or plan.trimmed):
        entry.options, entry.frames = options, plan.frames
    return entry


def _write_entries(entries: list[_Entry], folder: Path, spec: Layout, base: ExportOptions,
                   taken: set[str], report: TrainingSetReport, *,
                   progress: ProgressCallback | None, on_item: ItemCallback | None,
                   on_result: Callable[[ExportResult], None] | None,
                   cancel: CancelToken | None) -> None:
    total_frames = sum(e.frames for e in entries if e.error is None)
    to_write = sum(1 for e in entries if not e.uncaptioned)
    done_frames = attempted = 0
    for entry in entries:
        if cancel is not None and cancel.cancelled:
            report.cancelled = True
            break
        if not entry.uncaptioned and on_item is not None:
            on_item(attempted, to_write, Path(entry.source).name)
        if entry.error is not None:
            result = ExportResult(entry.source, None, False, entry.error)
        else:
            try:
                result = _write_entry(entry, folder, spec, base, taken, progress, cancel,
                                      done_frames, total_frames)
            except Cancelled:
                report.cancelled = True
                break
            except ExportError as err:
                result = ExportResult(entry.source, None, False, str(err))
        done_frames += entry.frames
        attempted += not entry.uncaptioned
        _add_result(report, entry, result, on_result)
    if on_item is not None:
        on_item(attempted, to_write, "")


def _write_entry(entry: _Entry, folder: Path, spec: Layout, base: ExportOptions,
                 taken: set[str], progress: ProgressCallback | None,
                 cancel: CancelToken | None, frame_offset: int,
                 grand_total: int) -> ExportResult:
    companions = spec.companions(entry.caption)
    if entry.options is not None:
        return write_clip(entry.source, folder, entry.options, companions=companions,
                          taken=taken, progress=progress, cancel=cancel,
                          frame_offset=frame_offset, grand_total=grand_total)
    name = entry.item.name
    stem = sanitize_name(name, fallback="clip") if name else default_stem(entry.source, None)
    return copy_clip(entry.source, folder, stem, companions=companions,
                     overwrite=base.overwrite, taken=taken, cancel=cancel)


def _add_result(report: TrainingSetReport, entry: _Entry, result: ExportResult,
                on_result: Callable[[ExportResult], None] | None) -> None:
    result.clip_id = entry.item.clip_id
    if result.ok:
        result.caption = entry.caption
    elif entry.uncaptioned:
        report.skipped_uncaptioned += 1
    else:
        report.failed.append((entry.source, result.error))
    report.results.append(result)
    if on_result is not None:
        on_result(result)


def _write_manifest(folder: Path, results: list[ExportResult], overwrite: bool,
                    taken: set[str]) -> str:
    lines = "".join(json_text({"video_path": Path(r.output).as_posix(), "caption": r.caption})
                    + "\n" for r in results)
    try:
        return os.fspath(write_text_file(folder, MANIFEST_NAME, lines, overwrite=overwrite,
                                         taken=taken))
    except OSError as err:
        raise ExportError(folder / MANIFEST_NAME,
                          f"cannot write the manifest ({os_reason(err)})") from None


def items_from_project(project, clip_ids: Iterable[int] | None = None) -> list[DatasetItem]:
    """The clips of ``project`` (those in ``clip_ids``, or all) with their saved captions
    (never an editor's unsaved text) and marks, in the project's order."""
    wanted = None if clip_ids is None else set(clip_ids)
    items = []
    for clip in project.clips():
        if wanted is not None and clip.id not in wanted:
            continue
        caption = project.current_caption(clip.id)
        items.append(DatasetItem(path=clip.path, caption=caption.text if caption else None,
                                 in_frame=clip.in_frame, out_frame=clip.out_frame,
                                 clip_id=clip.id))
    return items
