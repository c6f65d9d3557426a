"""Export captioned clips as a training set for video-model fine-tuning.

Two layouts:

- ``"diffusion-pipe"``: beside a copy of each clip, a ``.txt`` sidecar of the same stem holding
  its caption (``walk.mp4`` + ``walk.txt``), as diffusion-pipe (and most LoRA trainers) read a
  folder.
- ``"musubi"``: the same copies plus a JSONL manifest, one ``{"video_path", "caption"}`` object
  a line with absolute paths, as musubi-tuner's ``video_jsonl_file`` reads it.

A clip with in/out points is trimmed to that range: its frames are decoded exactly
(``core.frames``) and re-encoded with H.264 yuv420p, keeping their timing; a clip without marks
is copied byte for byte. Every file is written to a temporary file in the target folder and
then moved under its final name, never over an existing file (a numbered suffix is used
instead), so a crash or an error never leaves a half file under a final name. Pure Python and
PyAV: no Qt, usable from the CLI and from a GUI worker thread.
"""

from __future__ import annotations

import errno
import json
import os
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from studio.core.cancel import Cancelled, CancelToken
from studio.core.export import publish_new_file, temp_file
from studio.core.media import MediaError, MissingFileError

LAYOUTS = ("diffusion-pipe", "musubi")
LAYOUT_TITLES = {
    "diffusion-pipe": "diffusion-pipe: clip copies with .txt caption sidecars",
    "musubi": "musubi-tuner: clip copies and a JSONL manifest",
}
MANIFEST_NAME = "metadata.jsonl"
TRIM_CRF = 15  # visually lossless for training data; the source was lossy already
TRIM_PRESET = "medium"
_COPY_CHUNK = 4 * 1024 * 1024
_MAX_STEM = 120  # characters; leaves room for a suffix within the usual 255-byte name limit
_WINDOWS_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)),
                     *(f"lpt{i}" for i in range(1, 10))}

ProgressCallback = Callable[[int, int, str], None]  # (items done, items total, current name)


class DatasetExportError(Exception):
    """The export cannot start or go on (the target folder cannot be written, ...).
    ``str(err)`` is a complete message naming the folder or file."""


@dataclass
class DatasetItem:
    """One clip to export: its media file, its caption and its in/out marks."""

    path: str
    caption: str | None
    in_frame: int | None = None
    out_frame: int | None = None
    clip_id: int | None = None
    name: str | None = None  # output stem; None: from the file name (and the marks)


@dataclass
class ExportedItem:
    clip_id: int | None
    source: str
    media: Path  # the copy in the target folder
    sidecar: Path | None  # the .txt caption (diffusion-pipe layout)
    caption: str
    trimmed: bool
    frame_count: int | None  # frames written when trimmed; None for a byte copy


@dataclass
class ExportReport:
    folder: Path
    layout: str
    exported: list[ExportedItem] = field(default_factory=list)
    manifest: Path | None = None
    skipped_uncaptioned: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)  # (source path, message)
    cancelled: bool = False

    def summary(self) -> str:
        """One line for a person: what was written, skipped and why not."""
        text = f"Exported {len(self.exported)} clip(s) to {self.folder}"
        if self.manifest is not None:
            text += f" (manifest {self.manifest.name})"
        if self.skipped_uncaptioned:
            text += f"; skipped {self.skipped_uncaptioned} without a caption"
        if self.failed:
            text += f"; {len(self.failed)} failed: {self.failed[0][1]}"
        if self.cancelled:
            text += " (cancelled)"
        return text


# ---------------------------------------------------------------------------------------
# Names


def sanitize_stem(name: str) -> str:
    """A file stem safe on every common file system: letters, digits, ``_``, ``-`` and ``.``
    (other characters become ``_``), no leading dot, not a reserved Windows device name,
    at most ``_MAX_STEM`` characters; ``clip`` when nothing is left."""
    text = unicodedata.normalize("NFC", name)
    text = re.sub(r"[^\w.\-]+", "_", text, flags=re.UNICODE)
    text = re.sub(r"_+", "_", text).strip("._ ")
    if not text:
        text = "clip"
    if text.split(".")[0].lower() in _WINDOWS_RESERVED:
        text = "_" + text
    return text[:_MAX_STEM].rstrip("._ ") or "clip"


def _output_stem(item: DatasetItem, trimmed: bool, first: int, last: int) -> str:
    if item.name:
        return sanitize_stem(item.name)
    stem = sanitize_stem(Path(item.path).stem)
    return f"{stem}_{first}-{last}" if trimmed else stem


def _free_stem(folder: Path, stem: str, suffixes: list[str], taken: set[str]) -> str:
    """``stem``, or ``stem_2``, ``stem_3``, ...: the first for which no file with any of
    ``suffixes`` exists in ``folder`` and that this export has not used yet."""
    candidate, n = stem, 1
    while True:
        names = [candidate + s for s in suffixes]
        if not any(n_.lower() in taken for n_ in names) and not any(
                os.path.lexists(folder / n_) for n_ in names):
            return candidate
        n += 1
        candidate = f"{stem}_{n}"


def _free_name(folder: Path, name: str, taken: set[str]) -> Path:
    stem, suffix = os.path.splitext(name)
    return folder / (_free_stem(folder, stem, [suffix], taken) + suffix)


# ---------------------------------------------------------------------------------------
# Atomic writes


def _os_reason(err: OSError) -> str:
    if err.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return "permission denied: the folder is read-only"
    if err.errno == errno.ENOSPC:
        return "no space left on the disk"
    return err.strerror or str(err)


def _remove_quietly(path: Path | None) -> None:
    if path is None:
        return
    try:
        os.unlink(path)
    except OSError:
        pass


def write_text_atomic(folder: Path, name: str, text: str, taken: set[str] | None = None) -> Path:
    """Write ``text`` (UTF-8) to ``folder/name``, or a numbered name when that exists; returns
    the path written."""
    taken = set() if taken is None else taken
    temp = temp_file(folder, os.path.splitext(name)[1])
    try:
        temp.write_text(text, encoding="utf-8")
        while True:
            final = _free_name(folder, name, taken)
            try:
                publish_new_file(temp, final)
                break
            except FileExistsError:
                taken.add(final.name.lower())
    except BaseException:
        _remove_quietly(temp)
        raise
    taken.add(final.name.lower())
    return final


# ---------------------------------------------------------------------------------------
# Media copies


def _copy_bytes(source: Path, temp: Path, cancel: CancelToken | None) -> None:
    with open(source, "rb") as src, open(temp, "wb") as dst:
        while chunk := src.read(_COPY_CHUNK):
            if cancel is not None:
                cancel.raise_if_cancelled()
            dst.write(chunk)
    try:
        st = os.stat(source)
        os.utime(temp, (st.st_atime, st.st_mtime))
    except OSError:
        pass


def trim_video(source: str | Path, dest: str | Path, first: int, last: int, *,
               cancel: CancelToken | None = None, crf: int = TRIM_CRF,
               preset: str = TRIM_PRESET) -> int:
    """Re-encode frames ``first..last`` (inclusive, presentation order) of ``source`` into
    ``dest`` as H.264 yuv420p MP4 without audio, keeping each frame's time relative to
    ``first`` (``core.export``'s mp4 path: exact frames with rotation applied, even sizes by
    a centre cut of at most one pixel). Returns the number of frames written. Writes ``dest``
    directly: callers make it atomic."""
    from studio.core.export import ExportOptions, encode_to

    options = ExportOptions(preset="mp4", in_frame=first, out_frame=last, crf=crf,
                            speed=preset, audio=False)
    return encode_to(source, dest, options, cancel=cancel).frames


def _frame_range(item: DatasetItem) -> tuple[bool, int, int, int | None]:
    """(trim?, first, last, frame count) for ``item``; no trim when it has no marks or they
    cover the whole clip."""
    if item.in_frame is None and item.out_frame is None:
        return False, 0, 0, None
    from studio.core.frames import FrameReader

    reader = FrameReader(item.path)
    try:
        count = reader.frame_count
    finally:
        reader.close()
    first = item.in_frame or 0
    last = count - 1 if item.out_frame is None else min(item.out_frame, count - 1)
    if first > last:
        raise MediaError(item.path, f"in point {first} is after the out point {last}")
    return not (first == 0 and last == count - 1), first, last, count


def _export_one(item: DatasetItem, caption: str, folder: Path, layout: str, taken: set[str],
                cancel: CancelToken | None) -> ExportedItem:
    source = Path(item.path)
    if not source.is_file():
        raise MissingFileError(source, "the clip's file is gone; relink it in the bin")
    trimmed, first, last, _count = _frame_range(item)
    suffix = ".mp4" if trimmed else (source.suffix.lower() or ".bin")
    stem = _output_stem(item, trimmed, first, last)
    suffixes = [suffix, ".txt"] if layout == "diffusion-pipe" else [suffix]

    media_temp = temp_file(folder, suffix)
    text_temp: Path | None = None
    published: list[Path] = []
    try:
        frames_written = None
        if trimmed:
            frames_written = trim_video(source, media_temp, first, last, cancel=cancel)
        else:
            _copy_bytes(source, media_temp, cancel)
        if layout == "diffusion-pipe":
            text_temp = temp_file(folder, ".txt")
            text_temp.write_text(caption, encoding="utf-8")
        if cancel is not None:
            cancel.raise_if_cancelled()
        while True:
            stem = _free_stem(folder, stem, suffixes, taken)
            media = folder / (stem + suffix)
            sidecar = folder / (stem + ".txt") if text_temp is not None else None
            try:
                publish_new_file(media_temp, media)
                published.append(media)
                if text_temp is not None:
                    publish_new_file(text_temp, sidecar)
                    published.append(sidecar)
                break
            except FileExistsError:
                # Taken between the look and the move (another program): undo, next number.
                for path in published:
                    _remove_quietly(path)
                published.clear()
                for s in suffixes:
                    taken.add((stem + s).lower())
        for s in suffixes:
            taken.add((stem + s).lower())
        return ExportedItem(item.clip_id, str(source), media, sidecar, caption, trimmed,
                            frames_written)
    except BaseException:
        for path in published:
            _remove_quietly(path)
        raise
    finally:
        _remove_quietly(media_temp)
        _remove_quietly(text_temp)


def _prepare_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise DatasetExportError(f"{folder}: cannot create the folder ({_os_reason(err)})") from None
    if not folder.is_dir():
        raise DatasetExportError(f"{folder}: not a folder")
    try:
        probe_file = temp_file(folder, ".probe")
    except OSError as err:
        raise DatasetExportError(f"{folder}: cannot write here ({_os_reason(err)})") from None
    _remove_quietly(probe_file)


# ---------------------------------------------------------------------------------------


def export_training_set(items: Iterable[DatasetItem], folder: str | Path,
                        layout: str = "diffusion-pipe", *,
                        progress: ProgressCallback | None = None,
                        cancel: CancelToken | None = None) -> ExportReport:
    """Write ``items`` into ``folder`` (created when missing) in ``layout`` (one of
    ``LAYOUTS``).

    Items without a caption (None or blank) are skipped and counted. An item that fails (its
    file is gone, cannot be decoded, ...) is recorded in ``report.failed`` with a message
    naming the file, and the others go on. Cancelling stops after the current file; what was
    finished stays, each copy with its caption (the manifest lists exactly those).
    Raises ``DatasetExportError`` when the folder cannot be written (nothing is written), or
    when the disk fills or the folder becomes unwritable on the way (that file is removed).
    """
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {', '.join(LAYOUTS)}, got {layout!r}")
    folder = Path(folder).expanduser().absolute()
    items = list(items)
    report = ExportReport(folder=folder, layout=layout)
    captioned = []
    for item in items:
        text = (item.caption or "").strip()
        if text:
            captioned.append((item, text))
        else:
            report.skipped_uncaptioned += 1
    _prepare_folder(folder)

    taken: set[str] = set()
    total = len(captioned)
    for done, (item, caption) in enumerate(captioned):
        if cancel is not None and cancel.cancelled:
            report.cancelled = True
            break
        if progress is not None:
            progress(done, total, Path(item.path).name)
        try:
            report.exported.append(_export_one(item, caption, folder, layout, taken, cancel))
        except Cancelled:
            report.cancelled = True
            break
        except MediaError as err:
            report.failed.append((item.path, str(err)))
        except ValueError as err:
            report.failed.append((item.path, str(err)))
        except OSError as err:
            where = err.filename or item.path
            if err.errno in (errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC) and \
                    str(where).startswith(str(folder)):
                # The target went bad: every further file would fail the same way.
                raise DatasetExportError(f"{folder}: cannot write {Path(item.path).name} "
                                         f"({_os_reason(err)})") from None
            report.failed.append((item.path, f"{item.path}: {_os_reason(err)}"))

    if layout == "musubi" and report.exported:
        lines = "".join(json.dumps({"video_path": e.media.as_posix(), "caption": e.caption},
                                   ensure_ascii=False) + "\n" for e in report.exported)
        try:
            report.manifest = write_text_atomic(folder, MANIFEST_NAME, lines, taken)
        except OSError as err:
            raise DatasetExportError(f"{folder / MANIFEST_NAME}: cannot write the manifest "
                                     f"({_os_reason(err)})") from None
    if progress is not None:
        progress(len(report.exported) + len(report.failed), total, "")
    return report


def items_from_project(project, clip_ids: Iterable[int] | None = None) -> list[DatasetItem]:
    """The clips of ``project`` (those in ``clip_ids``, or all) with their current captions
    and marks, in the project's order."""
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
