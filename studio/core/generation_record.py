"""The settings a Studio generation carries, read back from the video or its sidecar.

A generated video holds its record (``studio.inference.generator.generation_record``: prompt,
seed, every setting, the model...) twice: as JSON in the mp4's comment tag, under
``"settings"``, and in the ``.json`` sidecar beside it (the same object). An export of a
generation carries it too. :func:`read_generation_record` reads the comment tag first (the
video alone is enough: it may have been copied without its sidecar), then the sidecar;
:func:`read_generation_params` turns the record into ``GenerationParams``.

Pure Python on PyAV (imported on first use): no torch, no Qt.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from studio.core.params import GenerationParams, ParamsError

#: ``kind`` of a generation record (studio.inference.generator.SIDECAR_KIND equals it).
GENERATION_KIND = "studio.generation"
# A record is a few kB (its prompt at most 10,000 characters, core.params.MAX_TEXT_CHARS);
# anything far larger is not one, and is refused before it is parsed or shown
_MAX_RECORD_BYTES = 1024 * 1024


class GenerationRecordError(ValueError):
    """A file whose generation record cannot be used: ``str(err)`` names the file and says
    why. ``path``: that file (the video, or the sidecar at fault)."""

    def __init__(self, path: str | os.PathLike, reason: str):
        self.path = os.fspath(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class NoGenerationRecord(GenerationRecordError):
    """The file carries no generation record at all (no comment tag with one, no sidecar):
    a plain video or picture, or not media. A damaged record raises the base class."""


def read_generation_record(path: str | os.PathLike) -> dict:
    """The generation record of a Studio video (its comment tag, else the ``.json`` sidecar
    beside it) or of a sidecar given directly. Raises :class:`NoGenerationRecord` when there
    is none, :class:`GenerationRecordError` when a sidecar is unreadable or not a record."""
    path = Path(path)
    if not path.is_file():
        raise GenerationRecordError(path, "file not found")
    if path.suffix.lower() == ".json":
        return _record_of(_read_json(path), path)
    record = _comment_record(path)
    if record is not None:
        return record
    side = path.with_suffix(".json")
    if not side.is_file():
        raise NoGenerationRecord(path, "not a Studio generation (no settings in its comment "
                                       "tag and no .json sidecar beside it)")
    return _record_of(_read_json(side), side)


def read_generation_params(path: str | os.PathLike) -> GenerationParams:
    """The settings of the generation in ``path`` (see :func:`read_generation_record`); a
    setting of the wrong type raises :class:`GenerationRecordError` naming the file and the
    field."""
    record = read_generation_record(path)
    try:
        return GenerationParams.from_dict(record.get("params"))
    except ParamsError as err:
        raise GenerationRecordError(path, f"its settings are damaged ({err})") from None


def _comment_record(path: Path) -> dict | None:
    """The record in the container's comment tag, or None (no tag, not JSON, not a
    generation's, or not a container PyAV can open: the sidecar may still have it)."""
    import av

    try:
        with av.open(os.fspath(path)) as container:
            comment = container.metadata.get("comment")
    except (av.FFmpegError, OSError, ValueError, UnicodeDecodeError):
        return None
    if not comment:
        return None
    if len(comment) > _MAX_RECORD_BYTES:
        if '"studio.generation"' in comment[:_MAX_RECORD_BYTES]:
            raise GenerationRecordError(path, f"its settings are {len(comment) / 2**20:.1f} MB, "
                                              "too large to be a Studio generation record")
        return None
    try:
        data = _loads(comment, path)
    except ValueError:  # a camera's or another tool's comment: not ours
        return None
    settings = data.get("settings") if isinstance(data, dict) else None
    if isinstance(settings, dict) and settings.get("kind") == GENERATION_KIND:
        return _record_of(settings, path)  # checked as a sidecar's is
    return None


def _read_json(path: Path):
    try:
        if path.stat().st_size > _MAX_RECORD_BYTES:
            raise GenerationRecordError(path, "too large to be a Studio sidecar")
        return _loads(path.read_text(encoding="utf-8"), path)
    except UnicodeDecodeError:
        raise GenerationRecordError(path, "not a Studio sidecar (not UTF-8 text)") from None
    except json.JSONDecodeError as err:
        raise GenerationRecordError(path, f"not valid JSON (line {err.lineno}, column "
                                          f"{err.colno}: {err.msg})") from None
    except OSError as err:
        raise GenerationRecordError(path, f"cannot be read ({err.strerror or err})") from None


def _loads(text: str, path: Path):
    """``json.loads``; JSON nested too deeply for the parser is a message, not a crash."""
    try:
        return json.loads(text)
    except RecursionError:
        raise GenerationRecordError(path, "not a Studio record (its JSON is nested too deeply)") \
            from None
    except json.JSONDecodeError:
        raise
    except ValueError as err:  # a number of more than 4300 digits, say
        raise GenerationRecordError(path, f"not a Studio record ({err})") from None


def _record_of(data, path: Path) -> dict:
    """The record of a sidecar's JSON: its ``settings`` (a bare record is accepted too)."""
    if isinstance(data, dict) and isinstance(data.get("settings"), dict):
        data = data["settings"]
    if not isinstance(data, dict) or data.get("kind") != GENERATION_KIND:
        raise GenerationRecordError(path, "not a Studio generation record")
    if not isinstance(data.get("params"), dict):
        raise GenerationRecordError(path, "the generation record has no settings (params)")
    return data


__all__ = ["GENERATION_KIND", "GenerationRecordError", "NoGenerationRecord",
           "read_generation_params", "read_generation_record"]
