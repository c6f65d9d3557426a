"""The frame index of a file, kept on disk so that the next process need not demux it again.

``core.frames.FrameReader`` learns a file's frames by demuxing every packet (and, for some
files, by decoding): about a tenth of a second for a 10-minute clip, paid again by every new
process. This module keeps what it learned in the user cache folder
(``settings.cache_dir() / "frame-index"``), one file per media file:

* **Keyed** by the media file's real path (the cache file's name is a hash of it, so a changed
  file replaces its old entry), and inside by its size, mtime (ns), inode and a hash of its
  first and last 64 KiB: any of them changed and the entry is stale. The PyAV and FFmpeg
  versions are part of the key too, since a decoder's behaviour shapes some indices.
* **Written atomically**: to a temporary file in the folder, then ``os.replace``d over the
  final name; a crash leaves an entry whole or absent.
* **Checked when read**: a file that is not ours, cut short, damaged (zlib's checksum), for
  another media file or another version, or whose arrays do not add up is ignored (and
  rebuilt and replaced by the reader), never trusted and never an error.
* **Bounded**: after each write the oldest entries (by mtime; a hit refreshes it) are removed
  until the folder's entries together are under ``max_bytes``. Only this module's own entries
  (``*.fidx``) are ever removed.

Pure Python + numpy; nothing here knows PyAV's objects: ``IndexRecord`` is plain lists.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import struct
import tempfile
import zlib
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

MAGIC = b"STFIDX01"
FORMAT_VERSION = 1
SUFFIX = ".fidx"
DEFAULT_MAX_BYTES = 64 * 1024 * 1024
_EDGE_BYTES = 64 * 1024  # hashed at each end of the media file
_NONE = np.iinfo(np.int64).min  # a missing timestamp (FFmpeg's AV_NOPTS_VALUE is the same)
_HEADER = struct.Struct("<8sI")  # magic, length of the JSON header
_ARRAYS = ("pkt_pts", "pkt_dts", "pkt_key", "pkt_durations", "frame_pts", "frame_ord",
           "frame_times")


@dataclass
class IndexRecord:
    """What a ``FrameReader`` needs to skip building an index: the packets in decode order
    (None where a timestamp or duration is missing), the frames in presentation order
    (``frame_ord`` None: not seekable; ``frame_times`` None: from ``frame_pts``)."""

    time_base: Fraction
    pkt_pts: list
    pkt_dts: list
    pkt_key: list
    pkt_durations: list
    frame_pts: list
    frame_ord: list | None
    frame_times: np.ndarray | None
    decoded: bool  # learnt by decoding the whole file


@dataclass(frozen=True)
class FileKey:
    """Who a media file is: stale when any part differs."""

    path: str
    size: int
    mtime_ns: int
    inode: int
    edges: str  # hash of the first and last _EDGE_BYTES

    @classmethod
    def of(cls, path: str | os.PathLike) -> FileKey:
        """Raises OSError when the file cannot be read."""
        real = os.path.realpath(os.fspath(path))
        with open(real, "rb") as f:
            st = os.fstat(f.fileno())
            digest = hashlib.blake2b(f.read(_EDGE_BYTES), digest_size=16)
            if st.st_size > _EDGE_BYTES:
                f.seek(max(_EDGE_BYTES, st.st_size - _EDGE_BYTES))
                digest.update(f.read(_EDGE_BYTES))
        return cls(real, st.st_size, st.st_mtime_ns, st.st_ino, digest.hexdigest())

    def as_dict(self) -> dict:
        return {"path": self.path, "size": self.size, "mtime_ns": self.mtime_ns,
                "inode": self.inode, "edges": self.edges}


def _environment() -> dict:
    import av

    versions = getattr(av, "library_versions", {})
    return {"format": FORMAT_VERSION, "av": av.__version__,
            "libavcodec": list(versions.get("libavcodec", ())),
            "libavformat": list(versions.get("libavformat", ()))}


class FrameIndexCache:
    """A folder of index entries. ``max_bytes``: the most its entries may take together."""

    def __init__(self, folder: str | os.PathLike, max_bytes: int = DEFAULT_MAX_BYTES):
        self.folder = Path(folder)
        self.max_bytes = int(max_bytes)

    def entry_path(self, key: FileKey) -> Path:
        name = hashlib.sha256(os.fsencode(key.path)).hexdigest()[:32]
        return self.folder / (name + SUFFIX)

    # ---- reading ----

    def load(self, key: FileKey) -> IndexRecord | None:
        """The entry for ``key``, or None when there is none that can be trusted."""
        path = self.entry_path(key)
        try:
            with open(path, "rb") as f:
                data = f.read(self.max_bytes + 1)
        except OSError:
            return None
        try:
            record = _decode(data, key)
        except Exception:  # noqa: BLE001 - anything odd about an entry makes it a miss
            return None
        if record is not None:
            with contextlib.suppress(OSError):
                os.utime(path)  # recently used: removed last
        return record

    # ---- writing ----

    def store(self, key: FileKey, record: IndexRecord) -> bool:
        """Write the entry for ``key`` (atomically) and keep the folder under its bound.
        False when it was not written (too big for the bound, or the folder is not
        writable): a cache that cannot be written is no error."""
        data = _encode(key, record)
        if len(data) > self.max_bytes:
            return False
        final = self.entry_path(key)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".part-", suffix=SUFFIX + ".tmp", dir=self.folder)
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                os.replace(tmp, final)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
        except OSError:
            return False
        self.trim(keep=final)
        return True

    def entries(self) -> list[tuple[int, int, Path]]:
        """(mtime in ns, size, path) of this cache's entries in the folder, oldest first."""
        found = []
        try:
            with os.scandir(self.folder) as scan:
                for entry in scan:
                    if not entry.name.endswith(SUFFIX) or entry.name.startswith("."):
                        continue
                    with contextlib.suppress(OSError):
                        st = entry.stat(follow_symlinks=False)
                        found.append((st.st_mtime_ns, st.st_size, Path(entry.path)))
        except OSError:
            return []
        found.sort()
        return found

    def size(self) -> int:
        return sum(size for _, size, _ in self.entries())

    def trim(self, keep: Path | None = None) -> None:
        """Remove the oldest entries until the rest fit ``max_bytes`` (``keep`` last of all)."""
        entries = self.entries()
        total = sum(size for _, size, _ in entries)
        entries.sort(key=lambda e: (e[2] == keep, e[0]))
        for _, size, path in entries:
            if total <= self.max_bytes:
                break
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            total -= size


def default_cache() -> FrameIndexCache | None:
    """The user's cache (``settings.cache_dir() / "frame-index"``), or None when
    ``STUDIO_FRAME_INDEX_CACHE`` is ``0`` (off). ``STUDIO_FRAME_INDEX_CACHE_MB`` sets the
    bound (default 64 MiB)."""
    from studio import settings

    if os.environ.get("STUDIO_FRAME_INDEX_CACHE", "").strip() == "0":
        return None
    max_bytes = DEFAULT_MAX_BYTES
    with contextlib.suppress(KeyError, ValueError, OverflowError):
        max_bytes = max(0, int(float(os.environ["STUDIO_FRAME_INDEX_CACHE_MB"]) * 1024 * 1024))
    return FrameIndexCache(settings.cache_dir() / "frame-index", max_bytes)


# ---- the file format: magic, header length, JSON header, zlib of int64 arrays ----------------

def _encode(key: FileKey, record: IndexRecord) -> bytes:
    arrays = {
        "pkt_pts": _ints(record.pkt_pts), "pkt_dts": _ints(record.pkt_dts),
        "pkt_key": np.asarray(record.pkt_key, dtype=np.int64),
        "pkt_durations": _ints(record.pkt_durations),
        "frame_pts": _ints(record.frame_pts),
        "frame_ord": np.asarray(record.frame_ord if record.frame_ord is not None else [],
                                dtype=np.int64),
        "frame_times": (np.asarray(record.frame_times, dtype=np.float64).view(np.int64)
                        if record.frame_times is not None else np.zeros(0, np.int64)),
    }
    header = {"key": key.as_dict(), "env": _environment(),
              "time_base": [record.time_base.numerator, record.time_base.denominator],
              "seekable": record.frame_ord is not None,
              "explicit_times": record.frame_times is not None, "decoded": bool(record.decoded),
              "lengths": {name: int(arrays[name].size) for name in _ARRAYS}}
    text = json.dumps(header, sort_keys=True).encode("utf-8")
    payload = zlib.compress(b"".join(arrays[name].astype("<i8").tobytes() for name in _ARRAYS), 1)
    return _HEADER.pack(MAGIC, len(text)) + text + payload


def _ints(values: list) -> np.ndarray:
    return np.asarray([_NONE if v is None else v for v in values], dtype=np.int64)


def _decode(data: bytes, key: FileKey) -> IndexRecord | None:
    """The record in ``data`` if it is a whole entry for ``key`` made here; else None (or an
    exception, which the caller takes as None too)."""
    if len(data) < _HEADER.size:
        return None
    magic, length = _HEADER.unpack_from(data)
    if magic != MAGIC or length > len(data) - _HEADER.size:
        return None
    header = json.loads(data[_HEADER.size:_HEADER.size + length].decode("utf-8"))
    if header.get("key") != key.as_dict() or header.get("env") != _environment():
        return None
    lengths = header["lengths"]
    raw = zlib.decompress(data[_HEADER.size + length:])
    if len(raw) != 8 * sum(int(lengths[name]) for name in _ARRAYS):
        return None
    flat = np.frombuffer(raw, dtype="<i8")
    arrays, at = {}, 0
    for name in _ARRAYS:
        arrays[name] = flat[at:at + int(lengths[name])]
        at += int(lengths[name])
    return _checked_record(header, arrays)


def _checked_record(header: dict, arrays: dict) -> IndexRecord | None:
    """The record, once its parts agree with each other (the reader indexes with them)."""
    n_pkt, n_frames = arrays["pkt_pts"].size, arrays["frame_pts"].size
    num, den = (int(v) for v in header["time_base"])
    if num <= 0 or den <= 0 or n_frames == 0:
        return None
    if any(arrays[name].size != n_pkt for name in ("pkt_dts", "pkt_key", "pkt_durations")):
        return None
    if not np.isin(arrays["pkt_key"], (0, 1)).all():
        return None
    frame_ord = None
    if header["seekable"]:
        ords = arrays["frame_ord"]
        if ords.size != n_frames or (ords < 0).any() or (ords >= n_pkt).any():
            return None
        if not np.array_equal(arrays["pkt_pts"][ords], arrays["frame_pts"]):
            return None
        frame_ord = ords.tolist()
    times = None
    if header["explicit_times"]:
        times = arrays["frame_times"].view(np.float64).copy()
        if times.size != n_frames or not np.isfinite(times).all():
            return None
    return IndexRecord(
        time_base=Fraction(num, den), pkt_pts=_optional(arrays["pkt_pts"]),
        pkt_dts=_optional(arrays["pkt_dts"]), pkt_key=arrays["pkt_key"].astype(bool).tolist(),
        pkt_durations=_optional(arrays["pkt_durations"]), frame_pts=_optional(arrays["frame_pts"]),
        frame_ord=frame_ord, frame_times=times, decoded=bool(header["decoded"]))


def _optional(values: np.ndarray) -> list:
    if not (values == _NONE).any():
        return values.tolist()
    return [None if v == _NONE else v for v in values.tolist()]
