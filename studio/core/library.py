"""The project library: a folder holding ``project.sqlite``, ``generations/`` and ``exports/``.

SQLite in WAL mode, schema versioned with ``PRAGMA user_version`` and forward migrations.
Clips are referenced by path, size, mtime and a partial hash; Studio never modifies or
deletes a file it did not write. A ``Project`` is used from one thread (the GUI thread in
the app); slow per-file work (probing, hashing) happens before ``add_clip`` in workers.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from studio.core.media import MediaError, MediaInfo


@dataclass(frozen=True)
class FileStamp:
    size: int
    mtime: float
    partial_hash: str  # hex blake2b of the size, the first and the last 64 KiB


def stamp(path: str | Path) -> FileStamp:
    raise NotImplementedError


@dataclass
class Clip:
    id: int
    path: str
    size: int
    mtime: float
    partial_hash: str
    info: MediaInfo | None  # None when the file is not usable media
    error: str | None  # the MediaError message when it is not
    error_kind: str | None  # the MediaError subclass name
    in_frame: int | None
    out_frame: int | None
    added_at: float
    missing: bool = False  # the file is gone or changed since import; see Project.relink

    @property
    def ok(self) -> bool:
        return self.info is not None and not self.missing


class Project:
    def __init__(self, root: str | Path):
        raise NotImplementedError

    # root, db_path, generations_dir, exports_dir, thumbnails_dir: Path attributes

    def add_clip(self, path: str | Path, info: MediaInfo | None = None,
                 error: MediaError | None = None, file_stamp: FileStamp | None = None
                 ) -> tuple[Clip, bool]:
        """Record a file; returns (clip, created). The same file twice gives the same clip."""

    def import_file(self, path: str | Path) -> tuple[Clip, bool]:
        """Probe and stamp ``path`` (slow: call off the GUI thread or from the CLI) and add it."""

    def clips(self) -> list[Clip]: ...

    def clip(self, clip_id: int) -> Clip: ...

    def set_in_out(self, clip_id: int, in_frame: int | None, out_frame: int | None) -> Clip: ...

    def remove_clips(self, clip_ids: list[int]) -> None:
        """Forget clips. Never touches the files themselves."""

    def relink(self, clip_id: int, new_path: str | Path) -> Clip: ...

    def close(self) -> None: ...
