"""A clip's sound, decoded with PyAV: its samples from any time on (what the player plays,
``ui.audio_playback``) and its peaks (what the timeline's waveform strip draws). The player's
audio thread and a pool worker call it, never the GUI thread.

Times are on the player's clock: 0 is the clip's first video frame (frame ``i`` is at
``i / fps``). A sound track that starts later than the picture is silence until it does.
"""

from __future__ import annotations

import math
import os
import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass

import av
import numpy as np

from studio.core.media import MediaError

# AAC and Opus frames overlap their neighbours: the first frame decoded after a seek lacks its
# predecessor's half and comes out wrong. Decoding starts this long before the time asked for
# and drops what comes before it, so the samples from that time on are the ones a decode from
# the start of the file gives.
PREROLL_S = 0.1
PEAK_BUCKET_S = 0.01  # the waveform's resolution: one peak per 10 ms of sound
MAX_PLAYED_CHANNELS = 2  # more are mixed down to stereo
GAP_S = 0.002  # timestamps further apart than their samples by more: silence between


@dataclass(frozen=True)
class AudioInfo:
    """A clip's sound as the player plays it: ``rate`` samples a second, ``channels`` (1 or 2)
    float32 channels, starting at ``start_s`` on the player's clock and lasting ``duration_s``
    (0 when the container does not say)."""

    rate: int
    channels: int
    start_s: float
    duration_s: float


@dataclass(frozen=True)
class Waveform:
    """``peaks[k]``: the loudest sample (0 to 1, over every channel) of the sound from
    ``start_s + k * bucket_s`` to the next bucket, on the player's clock."""

    peaks: np.ndarray
    start_s: float
    bucket_s: float

    @property
    def end_s(self) -> float:
        return self.start_s + len(self.peaks) * self.bucket_s


def _audio_stream(container, path: str):
    """The first audio stream this FFmpeg can decode, or None."""
    for stream in container.streams.audio:
        if stream.codec_context is not None and stream.codec_context.sample_rate:
            return stream
    return None


def _video_start_s(container) -> float:
    """The time of the first frame of the first video stream (the player's 0)."""
    for stream in container.streams.video:
        if stream.start_time is not None and stream.time_base is not None:
            return float(stream.start_time * stream.time_base)
    return 0.0


def _as_float(frame) -> np.ndarray:
    """A decoded audio frame as float32 (samples, channels), the channels as they are."""
    data = frame.to_ndarray()
    channels = len(frame.layout.channels)
    if frame.format.is_planar:
        data = data.T
    else:
        data = data.reshape(-1, channels)
    if data.dtype.kind == "f":
        return np.asarray(data, dtype=np.float32)
    if data.dtype == np.uint8:  # unsigned 8-bit PCM centres on 128
        return (data.astype(np.float32) - 128.0) / 128.0
    return data.astype(np.float32) / float(np.iinfo(data.dtype).max + 1)


def _played_channels(samples: np.ndarray) -> np.ndarray:
    """Mono and stereo as they are; more channels mixed down to stereo (the first two get
    the average of the rest)."""
    if samples.shape[1] <= MAX_PLAYED_CHANNELS:
        return samples
    rest = samples[:, 2:].mean(axis=1, keepdims=True)
    return np.clip((samples[:, :2] + rest) / 2.0, -1.0, 1.0).astype(np.float32)


class AudioSource:
    """Opens ``path`` and its first decodable audio stream; ``info`` is None when it has none.
    ``blocks_from(t)`` yields the sound from ``t`` on. One thread at a time."""

    def __init__(self, path: str | os.PathLike):
        self.path = os.fspath(path)
        self._offset_s = 0.0
        self._open()
        self.info: AudioInfo | None = None
        if self._stream is not None:
            self._read_info()

    def _open(self) -> None:
        try:
            self._container = av.open(self.path)
        except av.FFmpegError as err:
            raise MediaError(self.path, f"cannot open its sound: {err}") from err
        self._stream = _audio_stream(self._container, self.path)

    def _read_info(self) -> None:
        stream = self._stream
        base = stream.time_base
        audio_start = float(stream.start_time * base) if stream.start_time is not None else 0.0
        self._offset_s = _video_start_s(self._container)
        duration = float(stream.duration * base) if stream.duration and base else 0.0
        channels = min(MAX_PLAYED_CHANNELS, max(1, stream.codec_context.channels or 1))
        self.info = AudioInfo(rate=int(stream.codec_context.sample_rate), channels=channels,
                              start_s=audio_start - self._offset_s, duration_s=duration)

    def close(self) -> None:
        self._container.close()

    def _frames_from(self, t: float) -> Iterator[tuple[float, np.ndarray]]:
        """(time of its first sample, float32 samples) of each frame, from a little before
        ``t`` on (see PREROLL_S)."""
        stream = self._stream
        seek_s = t + self._offset_s - PREROLL_S
        if seek_s > 0 and stream.time_base:
            self._container.seek(int(seek_s / stream.time_base), stream=stream, backward=True)
        else:  # from the start: a fresh decoder trims the encoder's priming, a seek does not
            self._container.close()
            self._open()
            stream = self._stream
        for frame in self._container.decode(stream):
            if frame.pts is None or frame.samples == 0:
                continue
            yield (float(frame.pts * frame.time_base) - self._offset_s,
                   _played_channels(_as_float(frame)))

    def blocks_from(self, t: float) -> Iterator[np.ndarray]:
        """float32 (samples, channels) blocks of the sound from ``t`` seconds on the player's
        clock: silence up to the track's first sample, then the decoded samples, the first
        block starting at the sample due at ``t`` (nearest sample)."""
        info = self.info
        if info is None:
            return
        rate = info.rate
        next_sample = round(t * rate)  # the index, on the player's clock, of the next sample
        for frame_s, samples in self._frames_from(t):
            first = round(frame_s * rate)
            if first - next_sample > rate * GAP_S:  # a gap (or a track that starts late)
                yield np.zeros((first - next_sample, info.channels), np.float32)
                next_sample = first
            skip = max(0, next_sample - first)  # timestamps a sample or two apart run on
            if skip >= len(samples):
                continue
            block = samples[skip:]
            next_sample += len(block)
            yield block


def waveform(path: str | os.PathLike, bucket_s: float = PEAK_BUCKET_S) -> Waveform | None:
    """The peaks of ``path``'s sound (None when it has none), read from start to end."""
    source = AudioSource(path)
    try:
        info = source.info
        if info is None:
            return None
        size = max(1, round(bucket_s * info.rate))
        start = math.floor(info.start_s * info.rate / size) * size  # buckets on a fixed grid
        peaks: list[np.ndarray] = []
        carry = np.zeros(0, np.float32)
        for block in source.blocks_from(start / info.rate):
            level = np.concatenate([carry, np.abs(block).max(axis=1)])
            whole = len(level) // size * size
            if whole:
                peaks.append(level[:whole].reshape(-1, size).max(axis=1))
            carry = level[whole:]
        if len(carry):
            peaks.append(carry.max(keepdims=True))
        values = np.concatenate(peaks) if peaks else np.zeros(0, np.float32)
        return Waveform(np.clip(values, 0.0, 1.0).astype(np.float32), start / info.rate,
                        size / info.rate)
    finally:
        source.close()


_WAVEFORMS: OrderedDict[tuple, Waveform | None] = OrderedDict()
_WAVEFORMS_LOCK = threading.Lock()
WAVEFORM_CACHE_SIZE = 64  # clips; a 10-minute clip's peaks take 240 KB


def cached_waveform(path: str | os.PathLike) -> Waveform | None:
    """``waveform(path)``, computed once per version of the file (its path, size and
    modification time) and kept for the last ``WAVEFORM_CACHE_SIZE`` clips."""
    path = os.fspath(path)
    stat = os.stat(path)
    key = (path, stat.st_size, stat.st_mtime_ns)
    with _WAVEFORMS_LOCK:
        if key in _WAVEFORMS:
            _WAVEFORMS.move_to_end(key)
            return _WAVEFORMS[key]
    peaks = waveform(path)
    with _WAVEFORMS_LOCK:
        _WAVEFORMS[key] = peaks
        while len(_WAVEFORMS) > WAVEFORM_CACHE_SIZE:
            _WAVEFORMS.popitem(last=False)
    return peaks


def waveform_cached(path: str | os.PathLike) -> bool:
    """Whether ``cached_waveform(path)`` would answer from the cache."""
    path = os.fspath(path)
    try:
        stat = os.stat(path)
    except OSError:
        return False
    with _WAVEFORMS_LOCK:
        return (path, stat.st_size, stat.st_mtime_ns) in _WAVEFORMS
