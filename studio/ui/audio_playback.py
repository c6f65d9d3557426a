"""The player's sound: ``AudioPlayback`` decodes a clip's audio on a thread of its own and
plays it through ``audio_output``'s device, from wherever the player starts it.

The GUI thread only states wishes (``open``, ``play``, ``stop``, ``set_gain``): each is stored
under a lock and the audio thread is woken; it opens the file (PyAV, ``core.audio``), opens
the device (miniaudio, imported there on the first play), and keeps about half a second decoded
ahead of what the device has asked for. The player reads ``clock()``, the time of the sample
heard now, and shows the frame due then; each ``play`` is a new run, so a clock reading that
still belongs to the run before a seek is told apart.

What the thread has to say reaches the GUI thread as signals of this object, which lives there
(DESIGN.md: cross-thread traffic is signals, to bound slots): ``opened`` (whether the clip has
sound), ``output_failed`` (no device: the picture plays on, and the transport bar says why),
``failed`` (the sound cannot be decoded). Every ``open`` begins a new generation, which each
signal carries.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from PySide6.QtCore import QObject, Signal

AHEAD_S = 0.5  # decoded ahead of the device
TOP_UP_S = 0.02  # how often the thread tops the buffer up while playing
STOP_TIMEOUT_S = 5.0


@dataclass
class _Wishes:
    """What the GUI thread asked for, for the audio thread (guarded by the lock)."""

    generation: int = 0
    path: str | None = None
    run: int = 0  # the play being asked for; 0: stopped
    start_s: float = 0.0
    gain: float = 1.0
    changed: bool = False
    closing: bool = False


class AudioPlayback(QObject):
    """A clip's sound, played from a thread of its own; see the module's docstring."""

    opened = Signal(int, object)  # generation, AudioInfo, or None: the clip has no sound
    output_failed = Signal(int, str)  # generation, why nothing can be heard
    failed = Signal(int, str)  # generation, why the sound cannot be played

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._cond = threading.Condition()
        self._wishes = _Wishes()
        # The audio thread's own state.
        self._generation = 0
        self._source = None
        self._blocks = None
        self._fed = 0  # the clip sample the next decoded block begins at
        self._run = 0
        self._device = None
        self._buffer = None
        self._thread = threading.Thread(target=self._loop, name="studio-player-audio",
                                        daemon=True)
        self._thread.start()

    # ---- the GUI thread's wishes -------------------------------------------------------

    def open(self, path: str | None) -> int:
        """Switch to ``path``'s sound (None: none). Returns the new generation."""
        with self._cond:
            wishes = self._wishes
            wishes.generation += 1
            wishes.path = None if path is None else str(path)
            wishes.run = 0
            wishes.changed = True
            self._cond.notify()
            return wishes.generation

    def play(self, start_s: float, run: int) -> None:
        """Play from ``start_s`` seconds on the player's clock, as run ``run`` (> 0): a new
        number for every start, seek and loop."""
        with self._cond:
            self._wishes.run, self._wishes.start_s = run, float(start_s)
            self._wishes.changed = True
            self._cond.notify()

    def stop(self) -> None:
        with self._cond:
            if self._wishes.run:
                self._wishes.run = 0
                self._wishes.changed = True
                self._cond.notify()

    def set_gain(self, gain: float) -> None:
        """0 (muted) to 1: applied to the next samples the device takes."""
        with self._cond:
            self._wishes.gain = float(gain)
            buffer = self._buffer
        if buffer is not None:
            buffer.set_gain(gain)

    def clock(self) -> tuple[int, float] | None:
        """(run, seconds on the player's clock) of the sound heard now, or None while nothing
        plays (stopped, starting, no device)."""
        buffer = self._buffer
        if buffer is None or not self._wishes.run:
            return None
        return buffer.clock()

    def handed(self):
        """(clip sample of the first, float32 samples) of the last half second given to the
        device, after the volume, or None: what a level meter (or a test) reads."""
        buffer = self._buffer
        return None if buffer is None else buffer.handed_since()

    @property
    def rate(self) -> int | None:
        buffer = self._buffer
        return None if buffer is None else buffer.rate

    def shutdown(self) -> None:
        """Stop the sound and the thread; safe to call twice."""
        with self._cond:
            self._wishes.closing = True
            self._cond.notify()
        self._thread.join(STOP_TIMEOUT_S)

    # ---- the audio thread --------------------------------------------------------------

    def _loop(self) -> None:
        try:
            while True:
                wishes = self._next_wishes()
                if wishes is None:
                    return
                if wishes.generation != self._generation:
                    self._switch(wishes.generation, wishes.path)
                if wishes.run and wishes.run != self._run:
                    self._start(wishes)
                elif not wishes.run and self._run:
                    self._halt()
                if self._run:
                    self._top_up()
        finally:
            self._halt()
            self._close()

    def _next_wishes(self) -> _Wishes | None:
        """Wait for a wish (or, while playing, the next top-up) and copy the wishes."""
        with self._cond:
            if not self._wishes.changed and not self._wishes.closing:
                self._cond.wait(TOP_UP_S if self._run else None)
            if self._wishes.closing:
                return None
            self._wishes.changed = False
            return _Wishes(**vars(self._wishes))

    def _switch(self, generation: int, path: str | None) -> None:
        """Close the last clip's sound; open ``path``'s and, when it has sound, a device for
        it, so the transport bar can say before the first play whether anything is heard."""
        self._halt()
        self._close()
        self._generation = generation
        if path is None:
            return
        from studio.core.audio import AudioSource
        from studio.ui.frame_decoder import describe_error

        try:
            self._source = AudioSource(path)
        except Exception as err:  # noqa: BLE001 - any failure becomes a message
            self.failed.emit(generation, describe_error(path, err))
            return
        info = self._source.info
        if info is not None:
            self._open_device(info)  # first: a failure is told before the sound is
        self.opened.emit(generation, info)

    def _open_device(self, info) -> None:
        from studio.ui.audio_output import NoAudioOutput, PcmBuffer, open_device

        try:
            device = open_device(info.rate, info.channels)
        except NoAudioOutput as err:
            self.output_failed.emit(self._generation, str(err))
            return
        with self._cond:
            self._device = device
            self._buffer = PcmBuffer(info.rate, info.channels)
            self._buffer.set_gain(self._wishes.gain)

    def _start(self, wishes: _Wishes) -> None:
        """Play from ``wishes.start_s``: a fresh buffer at that sample, the device running."""
        self._halt()
        self._run = wishes.run
        if self._device is None:  # no sound, or nowhere to play it: the picture runs alone
            return
        from studio.ui.audio_output import feed

        rate = self._buffer.rate
        self._fed = round(wishes.start_s * rate)
        self._blocks = self._source.blocks_from(wishes.start_s)
        self._buffer.reset(self._fed, wishes.run)
        self._top_up()
        self._device.start(feed(self._buffer))

    def _top_up(self) -> None:
        """Decode until ``AHEAD_S`` is buffered; samples the device already passed (it ran dry
        and played silence) are dropped, so the sound stays on the clock."""
        buffer, blocks = self._buffer, self._blocks
        if buffer is None or blocks is None:
            return
        ahead = int(AHEAD_S * buffer.rate)
        try:
            while buffer.buffered < ahead:
                block = next(blocks, None)
                if block is None:
                    self._blocks = None  # the end: the device gets silence from here on
                    return
                late = buffer.next_sample() - self._fed
                self._fed += len(block)
                if late >= len(block):
                    continue
                buffer.push(block[max(0, late):])
        except Exception as err:  # noqa: BLE001 - a damaged track stops the sound only
            self._blocks = None
            self.failed.emit(self._generation, f"{self._source.path}: the sound stops: {err}")

    def _halt(self) -> None:
        if self._device is not None:
            self._device.stop()
        self._blocks = None
        self._run = 0

    def _close(self) -> None:
        with self._cond:
            device, self._device, self._buffer = self._device, None, None
        if device is not None:
            device.close()
        source, self._source = self._source, None
        if source is not None:
            source.close()
