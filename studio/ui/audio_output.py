"""The player's sound output: a miniaudio playback device fed from a ``PcmBuffer``.

Why miniaudio (the ``miniaudio`` package, a 0.6 MB wheel with the C library compiled in) and not
QtMultimedia's QAudioSink: PySide6-Addons, which holds QtMultimedia, is a 175 MB wheel (438 MB
unpacked) whose libQt6Multimedia needs the system's libpulse.so.0, and Studio would use one
class of it. miniaudio loads PulseAudio, ALSA, JACK (CoreAudio, WASAPI elsewhere) at run time,
needs none of them to import, and has a null backend: a real device that takes samples at the
pace of a sound card and plays them nowhere, which the tests use where there is no sound card.

The device calls back from its own thread for the next samples; ``PcmBuffer`` hands over what
the player's audio thread decoded ahead, scaled by the volume, and keeps the clock: which sample
is heard now. Nothing here touches Qt. miniaudio is imported by ``open_device``, on the audio
thread, never at start-up.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections import deque

import numpy as np

BACKEND_VARIABLE = "STUDIO_AUDIO_BACKEND"  # "null": the null device (tests), else the system's
PERIOD_MS = 40  # what the device asks for at a time
# The sound the device holds before it is heard (its periods); the clock subtracts it.
LATENCY_S = 2 * PERIOD_MS / 1000
TAP_SECONDS = 0.5  # the last samples handed over, kept for a meter and for the tests


class NoAudioOutput(Exception):
    """No sound can be played here: ``str(err)`` says why, for a person."""


class PcmBuffer:
    """The samples decoded ahead, for the device's thread. ``reset(start_sample)`` begins a
    run (a play or a seek) at that sample of the clip; ``push`` adds decoded samples;
    ``take(n)`` hands the next ``n`` to the device, silence where the decoder fell behind (the
    clock runs on: the sound stays in step with the picture). Thread-safe."""

    def __init__(self, rate: int, channels: int):
        self.rate = rate
        self.channels = channels
        self._lock = threading.Lock()
        self._blocks: deque[np.ndarray] = deque()
        self._buffered = 0
        self._run = 0
        self._start = 0  # the clip sample the run began at
        self._handed = 0  # samples handed to the device in this run
        self._last_take: tuple[float, int] | None = None  # (monotonic time, samples) of the last
        self._gain = 1.0
        self._tap = np.zeros((0, channels), np.float32)
        self._tap_start = 0  # the clip sample of the tap's first sample
        self.underruns = 0

    def reset(self, start_sample: int, run: int) -> None:
        """Drop what is buffered and begin run number ``run`` at ``start_sample``."""
        with self._lock:
            self._blocks.clear()
            self._buffered = 0
            self._run = run
            self._start = int(start_sample)
            self._handed = 0
            self._last_take = None
            self._tap = np.zeros((0, self.channels), np.float32)
            self._tap_start = self._start

    def push(self, block: np.ndarray) -> None:
        with self._lock:
            self._blocks.append(block)
            self._buffered += len(block)

    @property
    def buffered(self) -> int:
        """Samples decoded ahead and not handed over yet."""
        with self._lock:
            return self._buffered

    def set_gain(self, gain: float) -> None:
        with self._lock:
            self._gain = float(gain)

    def take(self, count: int) -> np.ndarray:
        """The next ``count`` samples, float32 (count, channels), the gain applied."""
        out = np.zeros((count, self.channels), np.float32)
        with self._lock:
            filled = 0
            while filled < count and self._blocks:
                block = self._blocks[0]
                n = min(count - filled, len(block))
                out[filled:filled + n] = block[:n]
                filled += n
                if n == len(block):
                    self._blocks.popleft()
                else:
                    self._blocks[0] = block[n:]
            self._buffered -= filled
            if filled < count and self._handed:
                self.underruns += 1
            # The decoder's shortfall is skipped in the source too: the next pushed sample
            # would otherwise be heard late. The audio thread drops what it pushes late.
            if self._gain != 1.0:
                out *= self._gain
            self._keep_tap(out)
            self._handed += count
            self._last_take = (time.monotonic(), count)
        return out

    def _keep_tap(self, out: np.ndarray) -> None:
        self._tap = np.concatenate([self._tap, out])
        limit = int(TAP_SECONDS * self.rate)
        if len(self._tap) > limit:
            self._tap_start += len(self._tap) - limit
            self._tap = self._tap[-limit:]

    def next_sample(self) -> int:
        """The clip sample the next ``take`` hands over first, if nothing is buffered: where
        the audio thread's next push must begin."""
        with self._lock:
            return self._start + self._handed + self._buffered

    def handed_since(self) -> tuple[int, np.ndarray]:
        """(clip sample of the first, samples): the last ``TAP_SECONDS`` handed to the device,
        after the gain."""
        with self._lock:
            return self._tap_start, self._tap.copy()

    def clock(self) -> tuple[int, float] | None:
        """(run, seconds since the clip's sample 0) of the sample heard now, or None before the
        device has asked for any in this run. Between the device's calls it runs on with the
        time since the last, by at most what that call took."""
        with self._lock:
            if self._last_take is None:
                return None
            at, count = self._last_take
            handed_before = self._handed - count
            elapsed = min(count, (time.monotonic() - at) * self.rate)
            heard = handed_before + elapsed - LATENCY_S * self.rate
            return self._run, (self._start + max(0.0, heard)) / self.rate


_alsa_handler = None  # kept alive: ALSA holds a pointer to it


def _quiet_alsa() -> None:
    """ALSA prints its complaints to stderr from C (a machine without a sound card gets some 40
    lines per device opened), which a person reads as errors; the transport bar says what
    matters. Route them nowhere, once, on Linux."""
    global _alsa_handler
    if _alsa_handler is not None or not sys.platform.startswith("linux"):
        return
    import ctypes

    try:
        alsa = ctypes.CDLL("libasound.so.2")
        # void (*)(const char *file, int line, const char *function, int err, const char *fmt,
        # ...): the variable arguments are never read, so the fixed ones are enough
        handler = ctypes.CFUNCTYPE(None, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                                   ctypes.c_int, ctypes.c_char_p)(_ignore_alsa)
        alsa.snd_lib_error_set_handler(handler)
    except (OSError, AttributeError):  # no ALSA here: nothing to quieten
        return
    _alsa_handler = handler


def _ignore_alsa(*_args) -> None:
    return None


def _backends(miniaudio) -> list | None:
    if os.environ.get(BACKEND_VARIABLE, "").strip().lower() == "null":
        return [miniaudio.Backend.NULL]
    return None  # miniaudio's order for this system


def open_device(rate: int, channels: int):
    """A started-later miniaudio playback device for float32 samples; ``NoAudioOutput`` when
    there is no sound output (no sound card, no sound server, miniaudio not installed)."""
    try:
        import miniaudio
    except ImportError as err:  # an installation without it: the picture still plays
        raise NoAudioOutput(f"no audio output: the miniaudio package is missing ({err})") from err
    _quiet_alsa()
    try:
        return miniaudio.PlaybackDevice(
            output_format=miniaudio.SampleFormat.FLOAT32, nchannels=channels, sample_rate=rate,
            buffersize_msec=PERIOD_MS, backends=_backends(miniaudio), app_name="Studio")
    except miniaudio.MiniaudioError as err:
        detail = err.args[0] if err.args else type(err).__name__
        raise NoAudioOutput(f"no audio output: no sound device could be opened ({detail})"
                            ) from err


def feed(buffer: PcmBuffer):
    """The generator a miniaudio device pulls from: sent a count of samples, it yields them
    from ``buffer``. Started (primed) already, as ``PlaybackDevice.start`` wants it."""

    def pull():
        count = yield b""
        while True:
            count = yield buffer.take(count)

    generator = pull()
    next(generator)
    return generator
