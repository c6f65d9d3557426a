"""Media probing on PyAV: ``probe(path) -> MediaInfo``.

Every failure is a ``MediaError`` subclass whose message names the file and the reason,
so callers (CLI, bin) can show it to a person as it is.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

VIDEO_EXTENSIONS = frozenset(
    ".mp4 .m4v .mov .mkv .webm .avi .mpg .mpeg .ts .mts .m2ts .wmv .flv .3gp .ogv .mxf".split()
)
IMAGE_EXTENSIONS = frozenset(".gif .png .jpg .jpeg .webp .bmp .tif .tiff".split())
MEDIA_EXTENSIONS = VIDEO_EXTENSIONS | IMAGE_EXTENSIONS


def scan_media(paths: list[str]) -> tuple[list[str], int]:
    """The files to work on from files and folders given: (files, skipped).

    A file given on its own is always taken (if it is not media, whoever reads it says why).
    Inside folders only files with a media extension are taken, recursively, in name order,
    named below the folder as it was given; hidden files and folders are skipped, and the
    rest are counted as skipped."""
    files: list[str] = []
    skipped = 0
    for given in paths:
        if not os.path.isdir(given):
            files.append(given)
            continue
        for dirpath, dirnames, filenames in os.walk(given):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in sorted(filenames):
                if name.startswith("."):
                    continue
                if os.path.splitext(name)[1].lower() in MEDIA_EXTENSIONS:
                    files.append(os.path.join(dirpath, name))
                else:
                    skipped += 1
    return files, skipped


class MediaInfo(NamedTuple):  # immutable; a NamedTuple is made faster than a dataclass at import
    path: str
    kind: str  # "video" | "image"  (an animated GIF is a video)
    width: int  # display size, after rotation
    height: int
    coded_width: int
    coded_height: int
    rotation: int  # degrees clockwise to apply for display: 0, 90, 180, 270
    fps: float  # average; 0.0 for a still
    duration_s: float  # 0.0 for a still
    frame_count: int
    frame_count_estimated: bool
    codec: str
    pix_fmt: str
    has_audio: bool

    def to_dict(self) -> dict:
        return self._asdict()

    @classmethod
    def from_dict(cls, d: dict) -> "MediaInfo":
        return cls(**{k: d[k] for k in cls._fields})


class MediaError(Exception):
    """A file Studio cannot use. ``str(err)`` is a complete message naming the file."""

    reason = "cannot be read"

    def __init__(self, path: str | Path, detail: str | None = None):
        self.path = str(path)
        self.detail = detail
        text = f"{self.path}: {self.reason}"
        if detail:
            text += f" ({detail})"
        super().__init__(text)


class MissingFileError(MediaError):
    reason = "file not found"


class UnreadableFileError(MediaError):
    reason = "cannot be read"


class EmptyFileError(MediaError):
    reason = "empty file"


class NotMediaError(MediaError):
    reason = "not a media file"


class AudioOnlyError(MediaError):
    reason = "audio only, no video stream"


class TruncatedError(MediaError):
    reason = "truncated or damaged"


class UnsupportedCodecError(MediaError):
    reason = "unsupported codec"


def probe(path: str | Path) -> MediaInfo:
    """Describe a video or image file, or raise a ``MediaError`` subclass saying why it is unusable.

    Reads the container header, decodes the first frame (to validate the file and read its
    rotation and pixel format) and, where the container stores no frame count, counts packets
    when that is cheap (``frame_count_estimated`` is True otherwise). Never decodes the whole file.
    """
    name = os.fspath(path)
    if isinstance(name, bytes):
        name = os.fsdecode(name)
    try:
        from studio.core.probing import probe_file  # PyAV loads on first use, not at start-up

        return probe_file(name)
    except MediaError:
        raise
    except Exception as err:  # noqa: BLE001 - an FFmpeg/OS failure we did not foresee is still a message
        raise MediaError(name, f"{type(err).__name__}: {err}") from err
