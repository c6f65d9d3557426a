"""The player's sound: ``SoundControls``, the transport bar's mute button and volume slider,
and ``PlayerSound``, which ties a player to its ``AudioPlayback``, those controls and the
timeline's waveform strip.

Nothing heavy is imported here: ``AudioPlayback`` (its thread) is made for the first clip a
player opens, PyAV and miniaudio load on that thread, the waveform's peaks are computed on the
shared pool (``workers``) once per clip and kept (``core.audio.cached_waveform``).

Volume and mute are remembered in the UI settings (``player/volume``, ``player/muted``) and read
again whenever a clip with sound opens, so every player of the window follows the last change.
"""

from __future__ import annotations

import time

from PySide6.QtCore import QObject, QPointF, QRectF, QSettings, QSize, Qt, Signal, Slot
from PySide6.QtGui import QAction, QColor, QIcon, QPainter, QPainterPath, QPalette, QPen, QPixmap
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSlider, QToolButton, QWidget

VOLUME_KEY = "player/volume"
MUTED_KEY = "player/muted"
DEFAULT_VOLUME = 100
START_GRACE_S = 0.5  # the picture waits this long at most for its sound to start
NO_SOUND_TIP = "This clip has no sound"
NO_OUTPUT_TEXT = "No output"  # in the slider's place; the tooltip says why
DISABLED = QColor("#4a505a")  # as the transport icons' disabled colour


def gain_for(volume: int, muted: bool) -> float:
    """The factor the samples are scaled by: the slider's 0–100 squared, so that equal steps
    sound like equal steps (loudness follows the logarithm of the power)."""
    return 0.0 if muted else (max(0, min(100, volume)) / 100.0) ** 2


def _speaker_pixmap(color: QColor, muted: bool, size: int = 44) -> QPixmap:
    pm = QPixmap(size, size)
    pm.fill(Qt.GlobalColor.transparent)
    p = QPainter(pm)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    s = size / 32
    body = QPainterPath()
    for i, (x, y) in enumerate(((5, 12), (10, 12), (16, 7), (16, 25), (10, 20), (5, 20))):
        body.moveTo(x * s, y * s) if i == 0 else body.lineTo(x * s, y * s)
    body.closeSubpath()
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(color)
    p.drawPath(body)
    pen = QPen(color, 2.2 * s)
    pen.setCapStyle(Qt.PenCapStyle.RoundCap)
    p.setPen(pen)
    p.setBrush(Qt.BrushStyle.NoBrush)
    if muted:  # a cross where the sound waves were
        p.drawLine(QPointF(20 * s, 12 * s), QPointF(27 * s, 20 * s))
        p.drawLine(QPointF(27 * s, 12 * s), QPointF(20 * s, 20 * s))
    else:
        p.drawArc(QRectF(12 * s, 11 * s, 8 * s, 10 * s), -50 * 16, 100 * 16)
        p.drawArc(QRectF(12 * s, 7 * s, 14 * s, 18 * s), -50 * 16, 100 * 16)
    p.end()
    return pm


def speaker_icon() -> QIcon:
    """The mute button's icon: a speaker, crossed out while muted (checked) or disabled."""
    icon = QIcon()
    for state, muted in ((QIcon.State.Off, False), (QIcon.State.On, True)):
        icon.addPixmap(_speaker_pixmap(QColor("#d7dbe2"), muted), QIcon.Mode.Normal, state)
        icon.addPixmap(_speaker_pixmap(QColor("#ffffff"), muted), QIcon.Mode.Active, state)
        icon.addPixmap(_speaker_pixmap(QColor("#4a505a"), True), QIcon.Mode.Disabled, state)
    return icon


class SoundControls(QWidget):
    """A mute button (showing ``mute_action``) and a volume slider. ``changed`` when a person
    moves either. ``state``: "none" (no clip with sound), "ok", or "no-output"."""

    changed = Signal()

    def __init__(self, mute_action: QAction, parent: QWidget | None = None):
        super().__init__(parent)
        self.mute_action = mute_action
        mute_action.setIcon(speaker_icon())
        self.mute_button = QToolButton(self)
        self.mute_button.setDefaultAction(mute_action)
        self.mute_button.setAutoRaise(True)
        self.mute_button.setIconSize(QSize(22, 22))  # as the transport bar's other buttons
        self.mute_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.mute_button.setAccessibleName("Mute")
        self.volume_slider = QSlider(Qt.Orientation.Horizontal, self)
        self.volume_slider.setRange(0, 100)
        self.volume_slider.setPageStep(10)
        self.volume_slider.setValue(DEFAULT_VOLUME)
        self.volume_slider.setFixedWidth(72)
        self.volume_slider.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.volume_slider.setAccessibleName("Volume")
        self.volume_slider.valueChanged.connect(self._on_volume_moved)
        palette = self.volume_slider.palette()  # off, the filled groove is grey, not blue
        palette.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Highlight, DISABLED)
        self.volume_slider.setPalette(palette)
        self.no_output_label = QLabel(NO_OUTPUT_TEXT, self)
        self.no_output_label.setAccessibleName("No audio output")
        self.no_output_label.setEnabled(False)
        self.no_output_label.setMinimumWidth(72)
        self.no_output_label.hide()
        mute_action.toggled.connect(self._on_mute_toggled)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(0)
        row.addWidget(self.mute_button)
        row.addWidget(self.volume_slider)
        row.addWidget(self.no_output_label)
        self.state = ""
        self.show_no_sound()

    @property
    def volume(self) -> int:
        return self.volume_slider.value()

    @property
    def muted(self) -> bool:
        return self.mute_action.isChecked()

    def gain(self) -> float:
        return gain_for(self.volume, self.muted)

    def set_volume(self, volume: int) -> None:
        self.volume_slider.setValue(int(volume))

    def set_muted(self, muted: bool) -> None:
        self.mute_action.setChecked(bool(muted))

    def show_no_sound(self) -> None:
        self._show("none", NO_SOUND_TIP, enabled=False)

    def show_sound(self) -> None:
        self._show("ok", "", enabled=True)

    def show_no_output(self, reason: str) -> None:
        """The clip has sound but none can be heard here: say why, leave the picture be."""
        self._show("no-output", reason[:1].upper() + reason[1:], enabled=False)

    def _show(self, state: str, tip: str, enabled: bool) -> None:
        self.state = state
        self.mute_action.setEnabled(enabled)
        self.volume_slider.setEnabled(enabled)
        self.volume_slider.setVisible(state != "no-output")
        self.no_output_label.setVisible(state == "no-output")
        self.no_output_label.setToolTip(tip)
        key = self.mute_action.shortcut().toString()
        self.mute_action.setToolTip(tip or ("Mute" + (f" ({key})" if key else "")))
        self.volume_slider.setToolTip(tip or f"Volume {self.volume}%")
        self.setToolTip(tip)

    def load_settings(self, settings: QSettings) -> None:
        """The remembered volume and mute, without telling ``changed``."""
        volume = settings.value(VOLUME_KEY, DEFAULT_VOLUME)
        muted = settings.value(MUTED_KEY, False)
        try:
            volume = max(0, min(100, int(volume)))
        except (TypeError, ValueError):  # a hand-edited file: the default
            volume = DEFAULT_VOLUME
        self.blockSignals(True)
        self.set_volume(volume)
        self.set_muted(str(muted).lower() in ("true", "1"))
        self.blockSignals(False)

    def save_settings(self, settings: QSettings) -> None:
        settings.setValue(VOLUME_KEY, self.volume)
        settings.setValue(MUTED_KEY, self.muted)

    @Slot(int)
    def _on_volume_moved(self, value: int) -> None:
        if self.state == "ok":
            self.volume_slider.setToolTip(f"Volume {value}%")
        self.changed.emit()

    @Slot(bool)
    def _on_mute_toggled(self, _muted: bool) -> None:
        self.changed.emit()


def _ui_settings() -> QSettings:
    from studio.settings import ui_settings_path

    return QSettings(str(ui_settings_path()), QSettings.Format.IniFormat)


class PlayerSound(QObject):
    """A player's sound: ``open`` a clip, ``start`` at a time, ``stop``; ``clock()`` is the
    time of the sound heard now in the current run, which the player shows frames by.
    ``ready`` when a clip's sound becomes playable (the player starts it if it plays)."""

    ready = Signal()

    def __init__(self, controls: SoundControls, timeline, parent: QObject | None = None):
        super().__init__(parent)
        self.controls = controls
        self.timeline = timeline
        self.info = None  # AudioInfo of the clip's sound, None: none (or not known yet)
        self.known = False  # the audio thread has looked at the clip for sound
        self.problem: str | None = None  # why nothing is heard although the clip has sound
        self._playback = None  # AudioPlayback, made for the first clip
        self._pool = None  # Workers for the waveform, made for the first clip with sound
        self._generation = 0
        self._path: str | None = None
        self._run = 0
        self._started_at: float | None = None
        controls.changed.connect(self._on_controls_changed)

    @property
    def playback(self):
        return self._playback

    @property
    def audible(self) -> bool:
        """The clip has sound and a device plays it."""
        return self.info is not None and self.problem is None

    def open(self, path: str | None) -> None:
        """Show ``path``'s sound (None: none): until the audio thread has looked, none."""
        self.info, self.problem, self._path, self.known = None, None, path, path is None
        self._started_at = None
        self.controls.show_no_sound()
        self.timeline.set_waveform(None)
        if path is None and self._playback is None:
            return
        self._generation = self._audio().open(path)

    def _audio(self):
        if self._playback is None:
            from studio.ui.audio_playback import AudioPlayback

            self._playback = AudioPlayback(self)
            self._playback.opened.connect(self._on_opened)
            self._playback.output_failed.connect(self._on_output_failed)
            self._playback.failed.connect(self._on_failed)
        return self._playback

    def start(self, position_s: float) -> None:
        """Play the sound from ``position_s`` (a new run); the picture waits for it a moment."""
        if not self.audible:
            return
        self._run += 1
        self._started_at = time.monotonic()
        self._playback.set_gain(self.controls.gain())
        self._playback.play(position_s, self._run)

    def stop(self) -> None:
        self._started_at = None
        if self._playback is not None:
            self._playback.stop()

    def clock(self) -> float | None:
        """Seconds on the player's clock of the sound heard now, in the current run."""
        if self._started_at is None or self._playback is None:
            return None
        reading = self._playback.clock()
        return reading[1] if reading is not None and reading[0] == self._run else None

    def holding(self) -> bool:
        """The current run's sound is starting: the picture waits for it (not for long)."""
        return (self._started_at is not None and self.audible and self.clock() is None
                and time.monotonic() - self._started_at < START_GRACE_S)

    def shutdown(self) -> None:
        if self._pool is not None:
            self._pool.clear()
            self._pool.waitForDone(10_000)
        if self._playback is not None:
            self._playback.shutdown()

    # ---- answers from the audio thread and the pool ------------------------------------

    @Slot(int, object)
    def _on_opened(self, generation: int, info) -> None:
        if generation != self._generation:
            return
        self.known = True
        if info is None:
            return
        self.info = info
        self.controls.load_settings(_ui_settings())
        if self.problem is None:
            self.controls.show_sound()
        self._request_waveform()
        self.ready.emit()

    @Slot(int, str)
    def _on_output_failed(self, generation: int, message: str) -> None:
        if generation == self._generation:
            self.problem = message
            self._started_at = None
            self.controls.show_no_output(message)

    @Slot(int, str)
    def _on_failed(self, generation: int, message: str) -> None:
        if generation == self._generation:
            self.known = True
            self.problem = message
            self._started_at = None
            self.controls.show_no_output(message)

    def _request_waveform(self) -> None:
        from studio.core.audio import cached_waveform
        from studio.ui.workers import Workers

        if self._pool is None:  # long: a two-hour clip's sound takes a while to read
            self._pool = Workers(self, limit=1, long=True)
        self._pool.clear()  # an earlier clip's, not started: nobody wants it now
        self._pool.run(_waveform_of, cached_waveform, self._path, self._generation,
                       returned=self._on_waveform)

    @Slot(object)
    def _on_waveform(self, answer) -> None:
        generation, peaks = answer
        if generation == self._generation:
            self.timeline.set_waveform(peaks)

    @Slot()
    def _on_controls_changed(self) -> None:
        if self._playback is not None:
            self._playback.set_gain(self.controls.gain())
        settings = _ui_settings()
        self.controls.save_settings(settings)


def _waveform_of(compute, path: str, generation: int):
    """A pool thread: (generation, peaks or None); a file that cannot be read has none."""
    try:
        return generation, compute(path)
    except Exception:  # noqa: BLE001 - no strip is drawn; the player says what is wrong
        return generation, None
