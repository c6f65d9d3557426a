"""Exact frame access on PyAV.

A frame's *index* is its position in presentation order, counting from 0, exactly as
sequential decoding of the first video stream yields it. Images are RGB uint8 arrays of
shape (height, width, 3) with the display matrix (rotation, mirroring) applied.

How it works. A ``FrameReader`` demuxes the stream once (packets only, no decoding) into an
index: every packet's pts, dts and keyframe flag in decode order. Frame ``i`` is the packet
with the i-th smallest pts, leaving out packets the demuxer marks as discarded (MP4 edit
lists). ``frame_at(i)`` starts a fresh decoder at the last keyframe that precedes frame ``i``
both in decode order and in presentation order (so the leading pictures of an open GOP start
one GOP earlier), skips the demuxed packets before that keyframe, and decodes forward until
the frame with frame ``i``'s pts comes out: the pixels are the ones sequential decoding
gives. Requests just ahead of the decoder (a player asking ``i``, ``i + 1``, ... or skipping
a few frames) decode forward on the open container without seeking.

Files whose packets cannot be trusted (no pts, repeated pts, or a decoder that drops frames
the packets promise, like the leading pictures of a file cut at an open-GOP keyframe) are
decoded once to learn their frames; random access then still seeks when every frame maps to
a packet, and otherwise decodes from the start. When that is found out on a request rather
than at the first look, ``frame_count`` is corrected from then on.

The index is kept on disk (``core.frame_index_cache``, keyed by the file's path, size and
mtime), so a second reader of the same file, in this process or another, skips building it.

Animated WebP, which FFmpeg cannot decode, is read with OpenCV (as ``media.probe`` does).

For analysis, ``reduced_frame_at`` gives a frame shrunk by a whole factor, cheaper and not
exact: 8-bit YUV planes are shrunk before the conversion to RGB.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import math
import operator
import os
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Self

import av
import numpy as np

from studio.core.frame_index_cache import FileKey, FrameIndexCache, IndexRecord, default_cache
from studio.core.media import (
    AudioOnlyError,
    MediaError,
    NotMediaError,
    TruncatedError,
    UnreadableFileError,
    UnsupportedCodecError,
)

# probe's file checks, so that a file gets the same error (and message) from both.
from studio.core.probing import (
    _IMAGE_FORMATS,
    _TEXT_FORMATS,
    _check_file,
    _open_failure,
    _read_head,
    _sniff,
    _webp_is_animated,
)

_DEFAULT: Any = object()  # FrameReader's index_cache when none is given: the user's cache

# Decoding this many extra frames costs about as much as a seek (decoder flush, the frame
# thread pipeline filling again), so a target this close ahead is reached by decoding.
_SEEK_OVERHEAD_FRAMES = 4
# A thumbnail looks at most this many packets after its seek point for a keyframe.
_THUMBNAIL_PACKET_LIMIT = 600
# Damaged packets whose frames are tried when the index is built (more are found on request).
_CORRUPT_CHECKS = 4
# Where a thumbnail looks, as a fraction of the duration: past fades from black and titles.
_THUMBNAIL_AT = 0.10


@dataclass
class Frame:
    index: int
    time_s: float
    image: np.ndarray  # (H, W, 3) uint8 RGB, rotation applied


@dataclass
class ReducedFrame:
    """A frame shrunk by a whole factor for analysis (``FrameReader.reduced_frame_at``): close
    to the exact frame box-shrunk, not equal to it."""

    index: int
    time_s: float
    image: np.ndarray  # (height // factor, width // factor, 3) uint8 RGB, rotation applied
    factor: int
    width: int  # the full frame's size, rotation applied
    height: int


# 8-bit planar YUV that the reduced decoding shrinks before converting to RGB: the full-range
# (JPEG) variants by name. Other formats take the exact RGB path and are shrunk after.
_REDUCIBLE_FORMATS = {"yuv420p": False, "yuv422p": False, "yuv444p": False,
                      "yuvj420p": True, "yuvj422p": True, "yuvj444p": True}
# (Kr, Kb) by AVColorSpace, as swscale converts them to RGB (the exact path): BT.709, and
# BT.601 for unspecified (whatever the size: swscale does not guess by resolution), BT.470BG
# and SMPTE 170M. Other matrices (BT.2020, FCC, SMPTE 240M) take the exact path.
_LUMA_WEIGHTS = {1: (0.2126, 0.0722), 2: (0.299, 0.114), 5: (0.299, 0.114), 6: (0.299, 0.114)}
_AVCOL_RANGE_JPEG = 2


def _as_media_errors(method):
    """An FFmpeg or OS failure the code did not foresee still reaches a person as a
    ``MediaError`` naming the file, never as a bare traceback."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except MediaError:
            raise
        except av.FFmpegError as err:  # before ValueError: some FFmpeg errors are ValueErrors
            raise TruncatedError(self.path, getattr(err, "strerror", None) or str(err)) from err
        except OSError as err:
            raise UnreadableFileError(self.path, err.strerror or str(err)) from err

    return wrapper


class _IndexMismatch(Exception):
    """Demuxing disagrees with the packet index; the caller falls back."""


class _Index:
    """What the packets (or one decoding pass) say about a file's frames.

    Packets are in decode order (their position is an "ordinal"); frames in presentation
    order. ``seekable``: every frame maps to a packet, so decoding can start at a keyframe;
    otherwise frames are only known by their position in sequential decoding.
    """

    def __init__(self, time_base: Fraction, pkt_pts: list, pkt_dts: list, pkt_key: list,
                 frame_pts: list[int], frame_ord: list[int] | None,
                 frame_times: np.ndarray | None = None):
        self.time_base = time_base
        self.pkt_pts = pkt_pts
        self.pkt_dts = pkt_dts
        self.pkt_key = pkt_key
        self.seekable = frame_ord is not None
        self.frame_pts = frame_pts
        self.frame_ord = frame_ord or []
        self.key_ords = [o for o, k in enumerate(pkt_key) if k]
        self.key_pts = [pkt_pts[o] for o in self.key_ords]
        self.explicit_times = frame_times  # given, not derived from frame_pts (kept in a cache)
        if frame_times is None:
            first = frame_pts[0] if frame_pts else 0
            frame_times = (np.asarray(frame_pts, dtype=np.float64) - first) * float(time_base)
        self.times = frame_times

    def __len__(self) -> int:
        return len(self.frame_pts)

    def start_ord(self, index: int) -> int:
        """Ordinal of the packet to start decoding at for frame ``index``: the last keyframe at
        or before its packet in decode order whose pts is not after the frame's pts (a leading
        picture of an open GOP needs the GOP before). 0 when no keyframe qualifies."""
        ord_, pts = self.frame_ord[index], self.frame_pts[index]
        k = bisect.bisect_right(self.key_ords, ord_) - 1
        while k >= 0 and self.key_pts[k] is not None and self.key_pts[k] > pts:
            k -= 1
        return self.key_ords[k] if k >= 0 else 0

    def earlier_start(self, ord_: int) -> int:
        """The keyframe before ordinal ``ord_`` (0 when there is none)."""
        k = bisect.bisect_left(self.key_ords, ord_) - 1
        return self.key_ords[k] if k >= 0 else 0

    def ord_of(self, packet) -> int | None:
        """Ordinal of a demuxed packet, None when it cannot be told."""
        if packet.pts is not None:
            return self._ord_of_pts.get(packet.pts)
        return self._ord_of_dts.get(packet.dts) if packet.dts is not None else None

    # After a seek a packet is recognised by its pts (dts can be unknown there, as in
    # Matroska), or by its dts when it has no pts. Ambiguous stamps are left out. Made on
    # the first seek: an index read from the cache for a few frames may never need them.
    @functools.cached_property
    def _ord_of_pts(self) -> dict:
        return _unique_positions(self.pkt_pts)

    @functools.cached_property
    def _ord_of_dts(self) -> dict:
        return _unique_positions(self.pkt_dts)

    def same_packet(self, packet, ord_: int) -> bool:
        if packet.pts is not None or self.pkt_pts[ord_] is not None:
            return packet.pts == self.pkt_pts[ord_]
        return packet.dts is None or self.pkt_dts[ord_] is None or packet.dts == self.pkt_dts[ord_]

    def seek_timestamps(self, start: int, dts_first: bool) -> list[tuple[str, int]]:
        """(kind, timestamp) to try in turn for a backward seek that lands at or before packet
        ``start``. Demuxers index keyframes by pts (Matroska: exact) or by dts (MP4, MPEG-TS;
        dts <= pts); then the keyframes before it, for formats whose seeking is rough."""
        tries: list[tuple[str, int]] = []
        ords = [start, self.earlier_start(start)]
        ords.append(self.earlier_start(ords[-1]))
        for o in dict.fromkeys(ords):
            stamps = [("pts", self.pkt_pts[o]), ("dts", self.pkt_dts[o])]
            if dts_first:
                stamps.reverse()
            for kind, t in stamps:
                if t is not None and all(t != seen for _, seen in tries):
                    tries.append((kind, t))
        return tries


class FrameReader:
    """An open file; reuses its container across requests. Not thread-safe: one per thread.

    Sequential requests (index == last + 1, or a little ahead) decode forward without seeking.
    ``seek_count`` counts the seeks (and reopenings) made and ``decoded_count`` the frames the
    decoder returned, so tests and benchmarks can see what requests cost. The image of a
    ``Frame`` may be shared with a later request for the same index: copy before changing it.

    ``index_cache``: where the index is kept between processes (``core.frame_index_cache``;
    default: the user's cache folder, ``None``: no cache). ``index_source`` says whether the
    index was built here or read from it.
    """

    def __init__(self, path: str | Path, *, index_cache: FrameIndexCache | None = _DEFAULT):
        name = os.fspath(path)
        self.path = os.fsdecode(name) if isinstance(name, bytes) else name
        self.seek_count = 0
        self.decoded_count = 0
        self._closed = False
        self._container = None
        self._stream = None
        self._thread_type: str | None = None
        self._index: _Index | None = None
        self._decoded_index_built = False
        self._seek_dts_first = False
        self._transforms: dict[bytes, tuple[bool, bool, bool]] = {}
        self._last_frame: Frame | None = None
        self._animation: list[np.ndarray] | None = None  # animated WebP frames, once read
        self._pkt_durations: list = []  # packet durations (time base units), as demuxed
        # Where the index came from: "built" (demuxed or decoded here), "cache" (core.
        # frame_index_cache: stored by an earlier reader, maybe in another process) or None.
        self.index_source: str | None = None
        self._index_cache = index_cache if index_cache is not _DEFAULT else default_cache()
        self._reset_decoder_state(dirty=True)

        file_size = _check_file(self.path)
        head = _read_head(self.path)
        self._signature = _sniff(head)
        self._file_size = file_size
        self._is_animated_webp = self._signature == "webp" and _webp_is_animated(head)
        if not self._is_animated_webp:
            self._open()

    # ---- opening -------------------------------------------------------------------------

    def _open(self) -> None:
        """Open (or reopen) the container: a fresh decoder positioned at the first packet.
        Its threading is chosen at the first decode (``_configure_threads``)."""
        if self._container is not None:
            self._container.close()
            self._container = None
            self._file_size = _check_file(self.path)  # it may have gone since the last look
        try:
            # absolute: FFmpeg would read a relative "pipe:1.mp4" as a protocol URL
            container = av.open(os.path.abspath(self.path), metadata_errors="ignore")
        except PermissionError as err:
            raise UnreadableFileError(self.path, "permission denied") from err
        except (av.FFmpegError, OSError, ValueError) as err:
            raise _open_failure(self.path, self._signature, self._file_size) from err
        try:
            stream = self._video_stream(container)
            for other in container.streams:
                if other.index != stream.index:
                    other.discard = av.stream.Discard.all  # the demuxer then skips their data
        except BaseException:
            container.close()
            raise
        self._container, self._stream = container, stream
        self._thread_type = None
        self._at_start = True  # nothing demuxed yet

    def _video_stream(self, container):
        if container.format.name in _TEXT_FORMATS:
            raise NotMediaError(self.path, "it is text")
        videos = [s for s in container.streams.video
                  if not int(s.disposition) & int(av.stream.Disposition.attached_pic)]
        if not videos:
            if container.streams.audio:
                raise AudioOnlyError(self.path)
            raise NotMediaError(self.path, "it has no video or image stream")
        stream = videos[0]
        if stream.codec_context is None:
            raise UnsupportedCodecError(self.path, "this FFmpeg build has no decoder for its video codec")
        return stream

    def _configure_threads(self, thread_type: str, purpose: str | None = None) -> None:
        """Before the codec opens at its first decode. Frame threads decode runs of frames
        fastest; a single keyframe for a thumbnail does better without their pipeline, and
        so do sparse requests on a machine of few cores (``_sparse_threads``). ``purpose``
        names the choice where the thread type alone does not ("SPARSE")."""
        context = self._stream.codec_context
        context.thread_type = thread_type
        context.thread_count = 0  # FFmpeg picks one per core
        self._thread_type = purpose or thread_type

    @property
    def decoder_threads(self) -> str | None:
        """How the decoder is threaded: "frame" (frame and slice threads, for runs of frames),
        "slice" (a thumbnail, or sparse requests on few cores), None before the first decode."""
        if self._thread_type is None:
            return None
        return "frame" if self._thread_type == "AUTO" else "slice"

    def _reset_decoder_state(self, dirty: bool) -> None:
        self._packets: Iterator | None = None  # demuxed packets; the next has ordinal _fed_ord + 1
        self._fed_ord = -1
        self._start = 0  # ordinal where the current decoding run began
        self._pending: deque = deque()  # decoded frames not yet taken
        self._last_pts: int | None = None  # pts of the last frame taken from the decoder
        self._out_count = 0  # frames taken from the decoder in this run
        self._drained = False
        self._dirty = dirty  # position unknown: reposition before decoding
        self._verify_packets = False  # compare each demuxed packet with the index

    def _check_open(self) -> None:
        if self._closed:
            raise ValueError(f"{self.path}: the frame reader is closed")

    # ---- the index -------------------------------------------------------------------------

    def _ensure_index(self) -> _Index:
        if self._index is None:
            self._check_open()
            if self._is_animated_webp:
                index = self._read_animation()
                self.index_source = "built"
            else:
                index = self._cached_index()
                if index is None:
                    key = self._file_key()
                    index = self._build_packet_index()
                    self.index_source = "built"
                    if len(index):
                        self._store_index(index, key)
            if len(index) == 0:  # packets, but none that decodes (a file cut inside them)
                raise TruncatedError(self.path, "no frame of its video can be decoded (the "
                                                "file is cut short or damaged)")
            self._index = index
        return self._index

    # ---- the index cache (core.frame_index_cache) ----------------------------------------------

    def _file_key(self) -> FileKey | None:
        if self._index_cache is None:
            return None
        try:
            return FileKey.of(self.path)
        except OSError:
            return None

    def _cached_index(self) -> _Index | None:
        """The index a reader of this same file (in any process) stored; None if there is
        none to trust. The index it gives is the one building it would give."""
        key = self._file_key()
        record = self._index_cache.load(key) if key is not None else None
        if record is None:
            return None
        self._pkt_durations = record.pkt_durations
        self._decoded_index_built = record.decoded
        self.index_source = "cache"
        return _Index(record.time_base, record.pkt_pts, record.pkt_dts, record.pkt_key,
                      record.frame_pts, record.frame_ord, frame_times=record.frame_times)

    def _store_index(self, index: _Index, key: FileKey | None) -> None:
        """Keep ``index`` for the next reader, if the file is still the one it was built from
        (``key``, taken before building)."""
        if key is None or self._file_key() != key:
            return
        record = IndexRecord(
            time_base=index.time_base, pkt_pts=index.pkt_pts, pkt_dts=index.pkt_dts,
            pkt_key=index.pkt_key, pkt_durations=self._pkt_durations,
            frame_pts=index.frame_pts, frame_ord=index.frame_ord if index.seekable else None,
            frame_times=None if index.explicit_times is None else index.times,
            decoded=self._decoded_index_built)
        self._index_cache.store(key, record)

    def _build_packet_index(self) -> _Index:
        if not self._at_start:
            self._open()  # a thumbnail moved the demuxer: the index needs every packet
        self._at_start = False
        stream = self._stream
        time_base = stream.time_base or Fraction(1, 1)
        pts: list = []
        dts: list = []
        key: list = []
        durations: list = []
        discard: list = []
        corrupt: list[int] = []
        try:
            for packet in self._container.demux(stream):
                if packet.size == 0:
                    continue  # the end-of-stream marker PyAV adds
                pts.append(packet.pts)
                dts.append(packet.dts)
                key.append(packet.is_keyframe)
                durations.append(packet.duration)
                discard.append(packet.is_discard)
                if packet.is_corrupt:
                    corrupt.append(packet.pts)
        except av.FFmpegError:
            pass  # a damaged or cut-off tail: the packets read so far are the file
        self._reset_decoder_state(dirty=True)
        self._pkt_durations = durations
        if not pts:
            raise TruncatedError(self.path, "its video stream has no data")
        shown = [(p, o) for o, (p, d) in enumerate(zip(pts, discard)) if not d]
        shown_pts = {p for p, _ in shown}
        if not shown or None in shown_pts or len(shown_pts) != len(shown):
            # Missing or repeated pts: only decoding can tell the frames apart.
            return self._build_decoded_index(pts, dts, key, time_base)
        shown.sort()
        index = _Index(time_base, pts, dts, key, [p for p, _ in shown], [o for _, o in shown])
        index = self._without_lost_leading_frames(index)
        return self._without_undecodable(index, corrupt)

    def _without_undecodable(self, index: _Index, corrupt_pts: list) -> _Index:
        """Try the frames around damaged packets (the cut-off last one of an interrupted copy):
        a decoder that cannot make a frame of one gives nothing for it, nor for frames that
        refer to it or wait in its reorder buffer. Decode its GOP and keep what comes out."""
        ord_of = _unique_positions(index.pkt_pts)
        corrupt_ords = sorted(ord_of[p] for p in corrupt_pts[:_CORRUPT_CHECKS] if p in ord_of)
        if not corrupt_ords:
            return index
        saved, self._index = self._index, index
        lost = set()
        try:
            for c in corrupt_ords:
                k = bisect.bisect_right(index.key_ords, c)
                gop_start = index.key_ords[k - 1] if k > 0 else 0
                gop_end = index.key_ords[k] if k < len(index.key_ords) else len(index.pkt_pts)
                # the whole GOP: a failing packet can also take the frames before it with it
                doubtful = {i for i, o in enumerate(index.frame_ord) if gop_start <= o < gop_end}
                if not doubtful:
                    continue
                start = min(index.start_ord(i) for i in doubtful)
                doubtful = {index.frame_pts[i] for i in doubtful}
                came_out = set()
                try:
                    self._reposition(start)
                    last = max(doubtful)
                    while (vf := self._next_decoded()) is not None and (vf.pts or 0) <= last:
                        came_out.add(vf.pts)
                except _IndexMismatch:
                    pass
                lost |= doubtful - came_out
        finally:
            self._index = saved
            self._reset_decoder_state(dirty=True)
        if not lost:
            return index
        kept = [(p, o) for p, o in zip(index.frame_pts, index.frame_ord) if p not in lost]
        return _Index(index.time_base, index.pkt_pts, index.pkt_dts, index.pkt_key,
                      [p for p, _ in kept], [o for _, o in kept])

    def _without_lost_leading_frames(self, index: _Index) -> _Index:
        """A file cut at an open-GOP keyframe starts with pictures that refer to frames that
        are not there; decoders drop some or all of them (HEVC RASL pictures, for one).
        Decode from the start until the keyframe comes out to see which survive."""
        if not index.key_ords:
            return index
        first_key = index.key_ords[0]
        key_pts = index.pkt_pts[first_key]
        suspects = {p for p, o in zip(index.frame_pts, index.frame_ord)
                    if o < first_key or (key_pts is not None and o > first_key and p < key_pts)}
        if not suspects:
            return index
        self._start_linear_run()
        survivors = set()
        last_suspect = max(suspects)
        try:
            while (vf := self._next_decoded()) is not None and (vf.pts or 0) <= last_suspect:
                if vf.pts in suspects:
                    survivors.add(vf.pts)
        finally:
            self._reset_decoder_state(dirty=True)
        if survivors == suspects:
            return index
        kept = [(p, o) for p, o in zip(index.frame_pts, index.frame_ord)
                if p not in suspects or p in survivors]
        return _Index(index.time_base, index.pkt_pts, index.pkt_dts, index.pkt_key,
                      [p for p, _ in kept], [o for _, o in kept])

    def _build_decoded_index(self, pkt_pts, pkt_dts, pkt_key, time_base) -> _Index:
        """Decode the whole file once: its output is the truth about the frames."""
        self._decoded_index_built = True
        self._start_linear_run()
        out_pts: list[int] = []
        while (vf := self._next_decoded()) is not None:
            out_pts.append(vf.pts)
        self._dirty = True
        if not out_pts:
            raise TruncatedError(self.path, "no frame could be decoded")
        increasing = None not in out_pts and all(a < b for a, b in itertools.pairwise(out_pts))
        ord_of = _unique_positions(pkt_pts)
        if increasing and all(p in ord_of for p in out_pts):
            return _Index(time_base, pkt_pts, pkt_dts, pkt_key, out_pts, [ord_of[p] for p in out_pts])
        times = None
        if not increasing:
            rate = float(self._stream.average_rate or self._stream.guessed_rate or 25)
            times = np.arange(len(out_pts), dtype=np.float64) / rate
        return _Index(time_base, pkt_pts, pkt_dts, pkt_key, out_pts, None, frame_times=times)

    def _rebuild_from_decoding(self) -> None:
        index = self._index
        key = self._file_key()
        self._index = self._build_decoded_index(index.pkt_pts, index.pkt_dts, index.pkt_key,
                                                index.time_base)
        self.index_source = "built"
        self._last_frame = None
        self._store_index(self._index, key)  # the next reader starts from what was learnt

    def _read_animation(self) -> _Index:
        ok, animation = _read_webp_animation(self.path)
        if not ok or not animation.frames:
            raise TruncatedError(self.path, "its frames cannot be decoded")
        self._animation = [_opencv_to_rgb(f) for f in animation.frames]
        # Players show a frame with no duration for 100 ms, as media.probe counts it.
        durations = [int(d) if int(d) > 0 else 100 for d in animation.durations]
        self._pkt_durations = durations
        starts = [0]
        for d in durations[:-1]:
            starts.append(starts[-1] + d)
        return _Index(Fraction(1, 1000), [], [], [], starts, None)

    # ---- public description -----------------------------------------------------------------

    @property
    @_as_media_errors
    def frame_count(self) -> int:
        return len(self._ensure_index())

    @property
    @_as_media_errors
    def fps(self) -> float:
        """Average frames per second: ``frame_count / duration_s`` (as ``media.probe``
        counts it, so also for a variable frame rate); 0.0 for a still image."""
        duration = self.duration_s
        return len(self._index) / duration if duration > 0 else 0.0

    @property
    @_as_media_errors
    def duration_s(self) -> float:
        """From the start of the first frame to the end of the last; 0.0 for a still image
        (one frame in an image format)."""
        index = self._ensure_index()
        if len(index) == 1 and (self._container is None or self._is_image_format()):
            return 0.0
        return float(index.times[-1]) + self._last_frame_duration(index)

    def _last_frame_duration(self, index: _Index) -> float:
        if self._animation is not None:
            return self._pkt_durations[-1] / 1000
        if index.seekable:
            ticks = self._pkt_durations[index.frame_ord[-1]]
            if ticks and ticks > 0:
                return float(ticks * index.time_base)
        if len(index) > 1:
            return float(index.times[-1]) / (len(index) - 1)  # the mean frame interval
        rate = self._stream.average_rate or self._stream.guessed_rate
        return 1 / float(rate) if rate else 0.0

    def _is_image_format(self) -> bool:
        name = self._container.format.name
        return name in _IMAGE_FORMATS or name.endswith("_pipe")

    @_as_media_errors
    def time_of(self, index: int) -> float:
        """Presentation time in seconds (from the stream start) of frame ``index``.

        The stream starts at its first frame: ``time_of(0)`` is 0.0 even when the file's
        first timestamp is not."""
        i = self._checked_index(index)
        return float(self._ensure_index().times[i])

    @_as_media_errors
    def index_at(self, time_s: float) -> int:
        """Index of the frame shown at ``time_s`` (the last frame starting at or before it).

        Times before the first frame give 0, times after the last frame the last index."""
        return int(self._indices_at(np.asarray([float(time_s)]))[0])

    def _indices_at(self, times_s: np.ndarray) -> np.ndarray:
        times = self._ensure_index().times
        # A hair of tolerance so that index_at(time_of(i)) == i despite float rounding.
        found = np.searchsorted(times, times_s + 1e-9, side="right") - 1
        return np.clip(found, 0, len(times) - 1)

    def _checked_index(self, index: int) -> int:
        i = operator.index(index)
        n = self.frame_count
        if not 0 <= i < n:
            raise IndexError(f"{self.path}: frame index {i} is out of range: the file has {n} "
                             f"frame{'s' if n != 1 else ''} (0..{n - 1})")
        return i

    # ---- exact frames -------------------------------------------------------------------------

    @_as_media_errors
    def frame_at(self, index: int) -> Frame:
        self._check_open()
        i = self._checked_index(index)
        if self._last_frame is not None and self._last_frame.index == i:
            return self._last_frame
        if self._animation is not None:
            image = self._animation[i]
        else:
            image = self._to_rgb(self._decode_requested(i))
        frame = Frame(index=i, time_s=float(self._index.times[i]), image=image)
        self._last_frame = frame
        return frame

    def _decode_requested(self, i: int):
        if self._thread_type == "SLICE":  # opened for a thumbnail: reopen with frame threads
            self._open()
            self.seek_count += 1
            self._reset_decoder_state(dirty=True)
        return self._decode_frame(i)

    # ---- reduced frames (for analysis) -----------------------------------------------------

    @_as_media_errors
    def reduced_frame_at(self, index: int, factor: int | None = None, *,
                         max_side: int | None = None) -> ReducedFrame:
        """Frame ``index`` shrunk by the whole ``factor`` (or by the smallest one that brings
        its longer side to ``max_side`` or under): each side divided by it, rounded down, the
        last ``size mod factor`` rows and columns (as shown, rotation applied) left out, each
        pixel the mean of a factor x factor block.

        Not exact, and cheaper: for 8-bit planar YUV (4:2:0, 4:2:2, 4:4:4) with a BT.601 or
        BT.709 matrix the planes are shrunk (area filter; the chroma from its own size onto
        the small luma grid) and converted to RGB at the small size with the stream's matrix
        and range: within a level or two of the exact frame box-shrunk on average, more at
        sharp colour edges (the exact path interpolates chroma before shrinking). Other pixel
        formats and matrices shrink the exact frame. The same frame as ``frame_at``, reached
        by decoding forward and seeking alike; the exact frames are not changed by it."""
        self._check_open()
        if (factor is None) == (max_side is None):
            raise ValueError("reduced_frame_at() needs exactly one of factor and max_side")
        if factor is not None:
            factor = operator.index(factor)
            if factor < 1:
                raise ValueError(f"factor must be at least 1, not {factor}")
        else:
            max_side = operator.index(max_side)
            if max_side < 1:
                raise ValueError(f"max_side must be at least 1, not {max_side}")
        i = self._checked_index(index)
        time_s = float(self._index.times[i])
        if self._last_frame is not None and self._last_frame.index == i:
            rgb = self._last_frame.image
        elif self._animation is not None:
            rgb = self._animation[i]
        else:
            vf = self._decode_requested(i)
            image, k, width, height = self._reduce_decoded(vf, factor, max_side)
            return ReducedFrame(i, time_s, image, k, width, height)
        height, width = rgb.shape[:2]
        k = factor or _reduction_factor(width, height, max_side)
        return ReducedFrame(i, time_s, _box_shrink(rgb, k), k, width, height)

    def iter_reduced_frames(self, indices: Iterable[int], factor: int | None = None, *,
                            max_side: int | None = None) -> Iterator[ReducedFrame]:
        """``reduced_frame_at`` of ``indices``, visited as ``iter_frames`` visits them."""
        for i in sorted({self._checked_index(i) for i in indices}):
            yield self.reduced_frame_at(i, factor, max_side=max_side)

    def _reduce_decoded(self, vf, factor: int | None, max_side: int | None):
        """(image, factor, width, height) of a decoded frame; see ``reduced_frame_at``."""
        transform = self._transform_of(vf) or (False, False, False)
        transpose, flip_x, flip_y = transform
        raw_w, raw_h = vf.width, vf.height
        width, height = (raw_h, raw_w) if transpose else (raw_w, raw_h)
        k = factor or _reduction_factor(width, height, max_side)
        full_range = _REDUCIBLE_FORMATS.get(vf.format.name)
        weights = _LUMA_WEIGHTS.get(int(vf.colorspace))
        if full_range is None or weights is None or min(width, height) < k:
            return _box_shrink(self._to_rgb(vf), k), k, width, height
        planes = [_plane_array(plane) for plane in vf.planes[:3]]
        if any(p is None for p in planes):
            return _box_shrink(self._to_rgb(vf), k), k, width, height
        full_range = full_range or int(vf.color_range) == _AVCOL_RANGE_JPEG
        # What is kept and the small size, on the decoded (unrotated) grid: the rows and
        # columns left out must be the ones at the bottom and right once shown.
        out_w, out_h = width // k, height // k
        if transpose:
            (out_w, out_h), (cut_x_first, cut_y_first) = (out_h, out_w), (flip_y, flip_x)
        else:
            cut_x_first, cut_y_first = flip_x, flip_y
        x0 = raw_w - out_w * k if cut_x_first else 0
        y0 = raw_h - out_h * k if cut_y_first else 0
        x1, y1 = x0 + out_w * k, y0 + out_h * k
        import cv2

        small = []
        for plane in planes:
            ph, pw = plane.shape
            sub_x, sub_y = -(-raw_w // pw), -(-raw_h // ph)  # chroma subsampling
            if x0 % sub_x or x1 % sub_x or y0 % sub_y or y1 % sub_y:
                # The kept luma cuts chroma samples: repeat them onto the luma grid, so that
                # the area filter weighs each by the luma it covers.
                plane = cv2.resize(plane, (pw * sub_x, ph * sub_y), interpolation=cv2.INTER_NEAREST)
                sub_x = sub_y = 1
            part = plane[y0 // sub_y:y1 // sub_y, x0 // sub_x:x1 // sub_x]
            small.append(cv2.resize(part, (out_w, out_h), interpolation=cv2.INTER_AREA))
        rgb = cv2.transform(cv2.merge(small), _yuv_to_rgb_matrix(weights, full_range))
        return self._apply_transform(transform, rgb), k, width, height

    def iter_frames(self, indices: Iterable[int]) -> Iterator[Frame]:
        """Frames at ``indices``, visited in increasing order, each index once: the decoder
        seeks only when the next index lies beyond what decoding forward reaches cheaply."""
        wanted = sorted({self._checked_index(i) for i in indices})
        if self._thread_type is None and self._container is not None and _sparse_threads() \
                and self._sparse(wanted):
            self._configure_threads("SLICE", purpose="SPARSE")
        for i in wanted:
            yield self.frame_at(i)

    def _sparse(self, wanted: list[int]) -> bool:
        """Whether most of ``wanted`` (sorted) start a decoding run of their own: their
        keyframe comes after the packet of the index before them."""
        index = self._index
        if not index.seekable or not wanted:
            return False
        own_runs = sum(index.start_ord(b) > index.frame_ord[a]
                       for a, b in itertools.pairwise(wanted))
        return 2 * (own_runs + 1) > len(wanted)

    @_as_media_errors
    def sample_indices(self, count: int | None = None, fps: float | None = None,
                       start_s: float | None = None, end_s: float | None = None) -> list[int]:
        """The indices ``sample`` returns: increasing and distinct.

        The range runs from ``first = index_at(start_s)`` (0 when None) to
        ``last = index_at(end_s)`` (the last frame when None), both included: the frames
        shown at those times.
        ``count=N``: ``round(linspace(first, last, N))`` with halves rounded up, so the first
        and the last frame of the range are in (N == 1 gives ``first``). A range with fewer
        than N frames gives each of its frames once.
        ``fps=F``: the frames shown at ``start + k / F`` for k = 0, 1, ... while that time is
        not after the end (``end_s``, or the last frame's time), with ``start = start_s`` or 0;
        a frame shown at several of those times is given once.
        """
        if (count is None) == (fps is None):
            raise ValueError("sample() needs exactly one of count and fps")
        for name, value in (("start_s", start_s), ("end_s", end_s)):
            if value is not None and not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a time in seconds >= 0, not {value!r}")
        if start_s is not None and end_s is not None and start_s > end_s:
            raise ValueError(f"start_s ({start_s}) is after end_s ({end_s})")
        index = self._ensure_index()
        first = self.index_at(start_s) if start_s is not None else 0
        last = self.index_at(end_s) if end_s is not None else len(index) - 1
        if count is not None:
            count = operator.index(count)
            if count < 1:
                raise ValueError(f"count must be at least 1, not {count}")
            # never more than the range's frames: a count of 10**9 (or 2**70) asks for each
            # frame once, without building a billion-entry array first
            count = min(count, last - first + 1)
            chosen = np.floor(np.linspace(first, last, count) + 0.5)
        else:
            if not (math.isfinite(fps) and fps > 0):
                raise ValueError(f"fps must be a positive number, not {fps!r}")
            t0 = float(start_s or 0.0)
            t1 = float(end_s) if end_s is not None else float(index.times[-1])
            steps = math.floor((t1 - t0) * fps + 1e-9) + 1
            chosen = self._indices_at(t0 + np.arange(steps, dtype=np.float64) / fps)
        return sorted({int(i) for i in chosen})

    @_as_media_errors
    def sample(self, count: int | None = None, fps: float | None = None,
               start_s: float | None = None, end_s: float | None = None) -> list[Frame]:
        """Evenly spaced exact frames within [start_s, end_s]; ``sample_indices`` says which.
        Visited in increasing order, seeking only when the next one lies past the current GOP."""
        return list(self.iter_frames(self.sample_indices(count, fps, start_s, end_s)))

    def _decode_frame(self, i: int):
        index = self._ensure_index()
        if not index.seekable:
            return self._decode_linear(i)
        try:
            vf = self._decode_seekable(i, index.start_ord(i))
            if vf is not None:
                return vf
            # The frame did not come out: start a GOP earlier, then at the very beginning.
            for start in dict.fromkeys((index.earlier_start(index.start_ord(i)), 0)):
                vf = self._decode_seekable(i, start, force=True)
                if vf is not None:
                    return vf
        except _IndexMismatch:
            pass
        if self._decoded_index_built:
            raise TruncatedError(self.path, f"frame {i} cannot be decoded")
        # The decoder disagrees with the packets: learn the frames by decoding, then retry.
        self._rebuild_from_decoding()
        return self._decode_frame(self._checked_index(i))

    def _decode_seekable(self, i: int, start: int, force: bool = False):
        target = self._index.frame_pts[i]
        if force or not self._can_decode_forward_to(i, start):
            self._reposition(start)
        while (vf := self._next_decoded()) is not None:
            if vf.pts == target:
                return vf
            if vf.pts is not None and vf.pts > target:
                return None  # frames come out in presentation order: the target was skipped
        return None

    def _can_decode_forward_to(self, i: int, start: int) -> bool:
        if self._dirty or (self._drained and not self._pending):
            return False
        index = self._index
        target = index.frame_pts[i]
        if self._last_pts is not None and target <= self._last_pts:
            return False  # already passed
        # Exact only if the current run began at or before the frame's packet and, unless it
        # began at the first packet, at or before its pts (the rule that picks keyframes).
        began = self._start
        if index.frame_ord[i] < began:
            return False
        began_pts = index.pkt_pts[began]
        if began > 0 and began_pts is not None and target < began_pts:
            return False
        forward_cost = index.frame_ord[i] - self._fed_ord
        seek_cost = index.frame_ord[i] - start + 1 + _SEEK_OVERHEAD_FRAMES
        return forward_cost <= seek_cost

    def _reposition(self, start: int) -> None:
        """Make the next packet fed to a fresh decoder the one with ordinal ``start``."""
        index = self._index
        late = False
        for kind, ts in index.seek_timestamps(start, self._seek_dts_first):
            try:
                self._container.seek(ts, stream=self._stream, backward=True, any_frame=False)
            except av.FFmpegError:
                break
            self.seek_count += 1
            self._reset_decoder_state(dirty=False)
            packets = self._container.demux(self._stream)
            first = _next_data_packet(packets)
            if first is None:
                continue
            landed = index.ord_of(first)
            if landed is None or landed > start:
                late = late or (landed is not None and kind == ("dts" if self._seek_dts_first else "pts"))
                continue  # an unknown place, or after the keyframe we need: start earlier
            if late and kind != ("dts" if self._seek_dts_first else "pts"):
                # This demuxer indexes by the other timestamp: try that one first from now on.
                self._seek_dts_first = not self._seek_dts_first
            if self._skip_to(start, landed, first, packets):
                return
        # From the top: a fresh container is the one position every format supports.
        self._rewind()
        packets = self._container.demux(self._stream)
        first = _next_data_packet(packets)
        if first is None or not self._skip_to(start, 0, first, packets):
            self._dirty = True
            raise _IndexMismatch()

    def _skip_to(self, start: int, landed: int, first, packets) -> bool:
        """Read packets from ordinal ``landed`` (``first``, already read) up to ``start``,
        which becomes the next packet fed to the decoder."""
        index = self._index
        packet, ord_ = first, landed
        while True:
            if not index.same_packet(packet, ord_):
                return False
            if ord_ == start:
                break
            packet = _next_data_packet(packets)
            if packet is None:
                return False
            ord_ += 1

        def chained(packet=packet):
            yield packet
            yield from packets

        self._packets = chained()
        self._fed_ord = start - 1
        self._start = start
        self._verify_packets = True
        return True

    def _rewind(self) -> None:
        """Back to the first packet with a fresh decoder, by reopening: that works for every
        format, seeking to the start does not."""
        self._open()
        self.seek_count += 1
        self._reset_decoder_state(dirty=False)

    def _start_linear_run(self) -> None:
        self._rewind()
        self._packets = self._container.demux(self._stream)

    def _decode_linear(self, i: int):
        """Frame ``i`` as the i-th frame sequential decoding returns, decoding from the start
        when it lies behind."""
        if self._dirty or self._packets is None or self._out_count > i:
            self._start_linear_run()
        while (vf := self._next_decoded()) is not None:
            if self._out_count == i + 1:
                return vf
        raise TruncatedError(self.path, f"frame {i} cannot be decoded")

    def _next_decoded(self):
        """The next frame out of the decoder, or None once it is drained."""
        index = self._index
        while not self._pending:
            if self._drained:
                return None
            packet = next(self._packets, None) if self._packets is not None else None
            if packet is None or packet.size == 0:
                frames = self._decode_packet(None)  # end of stream: drain what it holds back
                self._drained = True
            else:
                self._fed_ord += 1
                if self._verify_packets and (self._fed_ord >= len(index.pkt_pts)
                                             or not index.same_packet(packet, self._fed_ord)):
                    self._dirty = True
                    raise _IndexMismatch()
                frames = self._decode_packet(packet)
            self._pending.extend(frames)
        vf = self._pending.popleft()
        self._last_pts = vf.pts
        self._out_count += 1
        return vf

    def _decode_packet(self, packet) -> list:
        if self._thread_type is None:
            self._configure_threads("AUTO")
        try:
            frames = self._stream.decode(packet)
        except (av.error.DecoderNotFoundError, av.error.PatchWelcomeError) as err:
            raise UnsupportedCodecError(self.path, "FFmpeg cannot decode this "
                                        f"{self._stream.codec_context.name} stream") from err
        except av.FFmpegError:
            return []  # a damaged packet (or a drained decoder): no frame, as in a player
        self.decoded_count += len(frames)
        return frames

    # ---- pixels ---------------------------------------------------------------------------------

    def _to_rgb(self, vf) -> np.ndarray:
        return self._orient(vf, vf.to_ndarray(format="rgb24"))

    def _orient(self, vf, rgb: np.ndarray) -> np.ndarray:
        """Apply the frame's display matrix (from the container, or a JPEG's EXIF orientation):
        rotation in quarter turns, mirroring."""
        transform = self._transform_of(vf)
        if transform is None:
            return rgb
        return self._apply_transform(transform, rgb)

    def _transform_of(self, vf) -> tuple[bool, bool, bool] | None:
        """(transpose, flip_x, flip_y) of the frame's display matrix; None without one."""
        try:
            matrix = _display_matrix_bytes(vf)
        except ValueError:
            # Side data PyAV has no name for (FFmpeg 8's EXIF block) breaks reading any of
            # it; the rotation alone is still known.
            matrix = f"rotation {vf.rotation}".encode()
        if matrix is None:
            return None
        transform = self._transforms.get(matrix)
        if transform is None:
            transform = self._transforms[matrix] = _display_transform(matrix, vf.rotation)
        return transform

    @staticmethod
    def _apply_transform(transform: tuple[bool, bool, bool], rgb: np.ndarray) -> np.ndarray:
        transpose, flip_x, flip_y = transform
        if transpose:
            rgb = rgb.transpose(1, 0, 2)
        if flip_x:
            rgb = rgb[:, ::-1]
        if flip_y:
            rgb = rgb[::-1]
        return np.ascontiguousarray(rgb)

    # ---- thumbnails ---------------------------------------------------------------------------

    @_as_media_errors
    def thumbnail(self, max_side: int = 160) -> np.ndarray:
        """Fast, approximate: the first keyframe near 10% in, scaled to fit ``max_side``.

        Needs no index. The whole picture is scaled (area filter) so its longer side is at
        most ``max_side``; a smaller picture is not enlarged. Rotation is applied."""
        self._check_open()
        max_side = operator.index(max_side)
        if max_side < 1:
            raise ValueError(f"max_side must be at least 1, not {max_side}")
        if self._is_animated_webp:
            rgb = self._animation[0] if self._animation is not None else self._first_webp_frame()
            return _fit(rgb, max_side)
        if self._thread_type is None:
            self._configure_threads("SLICE")
        vf = self._keyframe_near(_THUMBNAIL_AT) or self._first_frame()
        self._reset_decoder_state(dirty=True)
        self._last_frame = None
        if vf is None:
            raise TruncatedError(self.path, "no frame could be decoded")
        return self._orient(vf, _fit(vf.to_ndarray(format="rgb24"), max_side))

    def _keyframe_near(self, fraction: float):
        stream = self._stream
        time_base = stream.time_base
        if not time_base:
            return None
        if stream.duration and stream.duration > 0:
            duration = stream.duration
        elif self._container.duration and self._container.duration > 0:
            duration = int(self._container.duration / av.time_base / time_base)
        else:
            return None
        target = (stream.start_time or 0) + int(duration * fraction)
        self._at_start = False
        try:
            self._container.seek(target, stream=stream, backward=True, any_frame=False)
        except av.FFmpegError:
            return None
        self.seek_count += 1
        self._reset_decoder_state(dirty=True)
        try:
            for n, packet in enumerate(self._container.demux(stream)):
                if n > _THUMBNAIL_PACKET_LIMIT or packet.size == 0:
                    return None
                if packet.is_keyframe and not packet.is_discard:
                    # One keyframe, then drain: the decoder gives it up without more packets.
                    frames = self._decode_packet(packet) + self._decode_packet(None)
                    return frames[0] if frames else None
        except av.FFmpegError:
            return None
        return None

    def _first_frame(self):
        self._rewind()
        self._configure_threads("SLICE")
        self._at_start = False
        self._packets = self._container.demux(self._stream)
        try:
            return self._next_decoded()
        except av.FFmpegError:
            return None

    def _first_webp_frame(self) -> np.ndarray:
        ok, animation = _read_webp_animation(self.path, count=1)
        if not ok or not animation.frames:
            raise TruncatedError(self.path, "its first frame cannot be decoded")
        return _opencv_to_rgb(animation.frames[0])

    # ---- closing ---------------------------------------------------------------------------------

    def close(self) -> None:
        self._closed = True
        if self._container is not None:
            self._container.close()
            self._container = None
        self._packets = None
        self._pending.clear()
        self._animation = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# ---- helpers ---------------------------------------------------------------------------------------

def _next_data_packet(packets):
    """The next packet with data; None at the end (PyAV ends with an empty packet)."""
    for packet in packets:
        if packet.size:
            return packet
        return None
    return None


def _sparse_threads() -> bool:
    """Whether sparse requests decode with slice threads (PyAV's default) rather than frame
    threads: on 2 cores or fewer. There a seek for every frame flushes the frame threads'
    pipeline each time and they cost 20-30% more CPU time than they save (bench/sampling.py,
    16 frames of a 10-minute 360p H.264 file: 230-255 ms of CPU against 190-240 ms)."""
    return (os.cpu_count() or 1) <= 2


def _unique_positions(values: list) -> dict:
    """value -> position for the values that occur exactly once (None left out)."""
    positions = dict(zip(values, range(len(values))))
    if len(positions) == len(values) and None not in positions:
        return positions  # the usual case, made in C: every value once
    positions = {}
    repeated = set()
    for position, value in enumerate(values):
        if value is None:
            continue
        if value in positions:
            repeated.add(value)
        positions[value] = position
    for value in repeated:
        del positions[value]
    return positions


def _fit(rgb: np.ndarray, max_side: int) -> np.ndarray:
    height, width = rgb.shape[:2]
    scale = max_side / max(height, width)
    if scale >= 1:
        return rgb
    import cv2

    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)


def _reduction_factor(width: int, height: int, max_side: int) -> int:
    """The smallest whole factor that brings the longer side to ``max_side`` or under."""
    return max(1, math.ceil(max(width, height) / max_side))


def _box_shrink(rgb: np.ndarray, factor: int) -> np.ndarray:
    """Each side divided by ``factor`` (rounded down, the rest of the rows and columns left
    out), each pixel the mean of a block."""
    if factor == 1:
        return rgb
    import cv2

    height, width = rgb.shape[:2]
    w, h = max(1, width // factor), max(1, height // factor)
    return cv2.resize(rgb[:h * factor, :w * factor], (w, h), interpolation=cv2.INTER_AREA)


def _plane_array(plane) -> np.ndarray | None:
    """A decoded 8-bit plane as a (height, width) view of its buffer; None if its rows run
    backwards or overlap."""
    stride, width, height = plane.line_size, plane.width, plane.height
    if stride < width or height < 1:
        return None
    data = np.frombuffer(plane, np.uint8)
    if data.size < stride * (height - 1) + width:
        return None
    if data.size < stride * height:  # the last row's padding is not there
        data = np.concatenate([data, np.zeros(stride * height - data.size, np.uint8)])
    return data[:stride * height].reshape(height, stride)[:, :width]


@functools.cache
def _yuv_to_rgb_matrix(weights: tuple[float, float], full_range: bool) -> np.ndarray:
    """3x4 affine map (Y, U, V) -> (R, G, B) for ``cv2.transform``, in 8-bit levels."""
    kr, kb = weights
    kg = 1.0 - kr - kb
    to_rgb = np.array([[1.0, 0.0, 2 * (1 - kr)],
                       [1.0, -2 * (1 - kb) * kb / kg, -2 * (1 - kr) * kr / kg],
                       [1.0, 2 * (1 - kb), 0.0]])
    if full_range:
        scale, luma_black = np.array([1.0, 1.0, 1.0]), 0.0
    else:  # luma 16..235, chroma 16..240
        scale, luma_black = np.array([255 / 219, 255 / 224, 255 / 224]), 16.0
    linear = to_rgb * scale[None, :]
    offset = -linear @ np.array([luma_black, 128.0, 128.0])
    return np.hstack([linear, offset[:, None]])


def _display_matrix_bytes(vf) -> bytes | None:
    side_data = vf.side_data
    if not len(side_data):
        return None
    for data in side_data:
        if data.type.name == "DISPLAYMATRIX":
            return bytes(data)
    return None


def _display_transform(matrix: bytes, rotation: int) -> tuple[bool, bool, bool]:
    """(transpose, flip_x, flip_y) that show a decoded picture as its display matrix says.

    The matrix maps a source pixel (x, y) to (a*x + c*y, b*x + d*y) with y pointing down,
    as FFmpeg's autorotate reads it; so a matrix PyAV reports as rotation +90 (counter-
    clockwise) turns the picture a quarter counter-clockwise, and ``media.probe`` calls it 270
    (clockwise). Angles that are not quarter turns round to the nearest one, unmirrored."""
    m = np.frombuffer(matrix, dtype=np.int32).astype(np.float64) if len(matrix) == 36 else np.zeros(9)
    a, b, c, d = m[0], m[1], m[3], m[4]
    biggest = max(abs(a), abs(b), abs(c), abs(d))
    if biggest > 0:
        def sign(v: float) -> int:
            return 0 if abs(v) < biggest / 2 else (1 if v > 0 else -1)

        a_, b_, c_, d_ = sign(a), sign(b), sign(c), sign(d)
        if b_ == 0 and c_ == 0 and a_ and d_:
            return False, a_ < 0, d_ < 0
        if a_ == 0 and d_ == 0 and b_ and c_:
            # transpose (x <-> y), then x' = c*y and y' = b*x
            return True, c_ < 0, b_ < 0
    quarter_turns = round((rotation or 0) / 90) % 4  # counter-clockwise
    return {0: (False, False, False), 1: (True, False, True),
            2: (False, True, True), 3: (True, True, False)}[quarter_turns]


def _read_webp_animation(path: str, count: int | None = None):
    import cv2  # OpenCV reads animated WebP, which FFmpeg cannot decode

    previous = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    try:
        if count is None:
            return cv2.imreadanimation(path)
        return cv2.imreadanimation(path, 0, count)
    except cv2.error as err:
        raise TruncatedError(path, "its frames cannot be decoded") from err
    finally:
        cv2.utils.logging.setLogLevel(previous)


def _opencv_to_rgb(image: np.ndarray) -> np.ndarray:
    import cv2

    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2RGB)
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


# ---- one-shot helpers -----------------------------------------------------------------------------

def frame_at(path: str | Path, index: int) -> Frame:
    with FrameReader(path) as reader:
        return reader.frame_at(index)


def sample(path: str | Path, count: int | None = None, fps: float | None = None,
           start_s: float | None = None, end_s: float | None = None) -> list[Frame]:
    with FrameReader(path) as reader:
        return reader.sample(count=count, fps=fps, start_s=start_s, end_s=end_s)


def thumbnail(path: str | Path, max_side: int = 160) -> np.ndarray:
    with FrameReader(path) as reader:
        return reader.thumbnail(max_side)
