"""The player's sound, on clips with a tone made with PyAV: what the sound device is given for
a position is what PyAV decodes there, the sound's clock follows play, seeks, loops and in/out
points and the picture follows it, mute and volume scale the samples (and are remembered), and
without a sound device the picture plays and the transport bar says so.

The device is miniaudio's null backend (``STUDIO_AUDIO_BACKEND=null``): a real device that
takes samples at a sound card's pace and plays them nowhere, so this runs without a speaker."""

from __future__ import annotations

import av
import numpy as np
import pytest
from PySide6.QtCore import QSettings

from tests.media_factory import make_image, make_video

FPS = 24
FRAMES = 48
RATE = 48000
WAIT_MS = 10_000
SAMPLE_TOLERANCE = 1e-3  # AAC decoded after a seek differs from a decode from the start by <4e-4


@pytest.fixture(autouse=True)
def null_sound_device(monkeypatch):
    from studio.ui.audio_output import BACKEND_VARIABLE

    monkeypatch.setenv(BACKEND_VARIABLE, "null")


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sound")
    return {
        "tone": make_video(folder / "tone.mp4", frames=FRAMES, fps=FPS, gop=8, audio=True),
        # loud for the first half second, quiet for the rest (a quarter each)
        "loud_quiet": make_video(folder / "loud_quiet.mp4", frames=FRAMES, fps=FPS, audio=True,
                                 audio_levels=(0.8, 0.8, 0.05, 0.05)),
        "silent": make_video(folder / "silent.mp4", frames=FRAMES, fps=FPS),
        "still": make_image(folder / "still.png"),
    }


def decoded_track(path) -> np.ndarray:
    """PyAV's decode of the whole first audio track from its start, mono float32: sample ``k``
    is at ``k / RATE`` seconds (the clips' sound starts with their picture)."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        frames = list(container.decode(stream))
        assert frames[0].pts == 0
        return np.concatenate([f.to_ndarray() for f in frames], axis=1)[0]


@pytest.fixture
def player(qtbot):
    from studio.ui.player import PlayerPanel

    panel = PlayerPanel()
    qtbot.addWidget(panel)
    panel.resize(900, 500)
    panel.show()
    yield panel
    panel.shutdown()


def open_clip(qtbot, player, path, state="ok"):
    player.set_clip(1, str(path), FRAMES, FPS)
    qtbot.waitUntil(lambda: player.sound_controls.state == state, timeout=WAIT_MS)


def handed(player) -> tuple[int, np.ndarray]:
    start, samples = player.sound.playback.handed()
    return start, samples[:, 0]


def wait_handed(qtbot, player, seconds: float) -> None:
    qtbot.waitUntil(lambda: player.sound.playback.handed() is not None
                    and len(player.sound.playback.handed()[1]) >= seconds * RATE,
                    timeout=WAIT_MS)


def test_the_device_gets_the_sound_pyav_decodes_at_the_position_played(qtbot, player, clips):
    reference = decoded_track(clips["tone"])
    open_clip(qtbot, player, clips["tone"])
    player.seek(12)
    player.play()
    wait_handed(qtbot, player, 0.1)
    start, samples = handed(player)
    assert abs(start - round(12 / FPS * RATE)) <= 1024  # within one AAC packet of the frame
    np.testing.assert_allclose(samples, reference[start:start + len(samples)],
                               atol=SAMPLE_TOLERANCE)
    assert np.abs(samples).max() > 0.15  # the tone itself, not silence

    player.pause()
    assert player.sound.clock() is None
    player.seek(30)  # a seek while paused, then play: the sound starts at the new frame
    player.play()
    qtbot.waitUntil(lambda: handed(player)[0] >= round(29 / FPS * RATE), timeout=WAIT_MS)
    wait_handed(qtbot, player, 0.1)
    start, samples = handed(player)
    assert abs(start - round(30 / FPS * RATE)) <= 1024
    np.testing.assert_allclose(samples, reference[start:start + len(samples)],
                               atol=SAMPLE_TOLERANCE)


def test_the_sound_clock_follows_seeks_and_the_picture_follows_the_sound(qtbot, player, clips):
    open_clip(qtbot, player, clips["tone"])
    player.play()
    qtbot.waitUntil(lambda: (player.sound.clock() or 0) > 0.15, timeout=WAIT_MS)
    target = 36 / FPS
    player.seek(36)  # while playing: a new run, whose clock starts at the frame sought
    readings = []
    qtbot.waitUntil(lambda: readings.append(player.sound.clock()) or readings[-1] is not None,
                    timeout=WAIT_MS)
    assert target <= readings[-1] < target + 0.4
    # the frame shown is the one due at the sound heard (a tick and a decode behind at most)
    qtbot.waitUntil(lambda: player.displayed_index is not None
                    and player.displayed_index >= 36, timeout=WAIT_MS)
    heard_frame = player.sound.clock() * FPS
    assert abs(player.position - heard_frame) <= 3
    player.pause()
    assert not player.is_playing and player.sound.clock() is None


def test_a_loop_within_in_and_out_starts_the_sound_again_at_the_in_point(qtbot, player, clips):
    reference = decoded_track(clips["tone"])
    player.set_clip(1, str(clips["tone"]), FRAMES, FPS, in_frame=6, out_frame=14)
    qtbot.waitUntil(lambda: player.sound_controls.state == "ok", timeout=WAIT_MS)
    player.set_loop(True)
    player.play()
    first_run = player.sound._run
    # past the out point the picture wraps to the in point and the sound starts there again
    qtbot.waitUntil(lambda: player.sound._run > first_run, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: player.sound.clock() is not None, timeout=WAIT_MS)
    assert 6 / FPS <= player.sound.clock() <= 15 / FPS + 0.1
    wait_handed(qtbot, player, 0.05)
    start, samples = handed(player)
    assert abs(start - round(6 / FPS * RATE)) <= 1024
    np.testing.assert_allclose(samples, reference[start:start + len(samples)],
                               atol=SAMPLE_TOLERANCE)


def test_volume_and_mute_scale_the_samples_and_are_remembered(qtbot, player, clips):
    from studio.settings import ui_settings_path
    from studio.ui.audio_controls import MUTED_KEY, VOLUME_KEY

    reference = decoded_track(clips["tone"])
    open_clip(qtbot, player, clips["tone"])
    controls = player.sound_controls
    assert controls.volume_slider.isEnabled() and player.mute_action.isEnabled()
    controls.set_volume(50)  # as a person drags the slider: a quarter of the power
    player.play()
    wait_handed(qtbot, player, 0.1)
    start, samples = handed(player)
    np.testing.assert_allclose(samples, 0.25 * reference[start:start + len(samples)],
                               atol=SAMPLE_TOLERANCE)

    player.mute_action.trigger()  # M, or the speaker button
    assert controls.muted
    qtbot.waitUntil(lambda: not handed(player)[1][-2400:].any(), timeout=WAIT_MS)
    player.pause()

    settings = QSettings(str(ui_settings_path()), QSettings.Format.IniFormat)
    assert int(settings.value(VOLUME_KEY)) == 50
    assert str(settings.value(MUTED_KEY)).lower() == "true"
    from studio.ui.player import PlayerPanel

    other = PlayerPanel()  # the next player (or the next session) starts as they were left
    qtbot.addWidget(other)
    try:
        open_clip(qtbot, other, clips["tone"])
        assert other.sound_controls.volume == 50 and other.sound_controls.muted
    finally:
        other.shutdown()


def test_a_clip_without_sound_has_its_sound_controls_off(qtbot, player, clips):
    open_clip(qtbot, player, clips["tone"])
    player.set_clip(2, str(clips["silent"]), FRAMES, FPS)
    qtbot.waitUntil(lambda: player.sound.known, timeout=WAIT_MS)  # the audio thread looked
    controls = player.sound_controls
    assert controls.state == "none"
    assert not controls.volume_slider.isEnabled() and not player.mute_action.isEnabled()
    assert "no sound" in controls.volume_slider.toolTip()
    player.play()  # the picture plays on the wall clock
    qtbot.waitUntil(lambda: player.position >= 6, timeout=WAIT_MS)
    player.pause()
    player.set_clip(3, str(clips["still"]), 1, 0.0)
    assert controls.state == "none"


def test_without_a_sound_device_the_picture_plays_and_the_bar_says_so(qtbot, player, clips,
                                                                       monkeypatch):
    import miniaudio

    def no_device(*args, **kwargs):  # fault injection: what miniaudio says with no sound card
        raise miniaudio.MiniaudioError("failed to init device", -401)

    monkeypatch.setattr(miniaudio, "PlaybackDevice", no_device)
    open_clip(qtbot, player, clips["tone"], state="no-output")
    controls = player.sound_controls
    # the slider's place says so, its tooltip says why
    assert controls.no_output_label.isVisibleTo(player) and not controls.volume_slider.isVisibleTo(player)
    assert controls.no_output_label.text() == "No output"
    assert controls.no_output_label.toolTip() == (
        "No audio output: no sound device could be opened (failed to init device)")
    assert not player.mute_action.isEnabled()
    player.play()
    qtbot.waitUntil(lambda: player.displayed_index is not None and player.displayed_index >= 12,
                    timeout=WAIT_MS)
    assert player.sound.clock() is None and player.error is None
    player.pause()


def test_the_timeline_draws_a_waveform_strip_only_for_a_clip_with_sound(qtbot, player, clips):
    from studio.core.audio import waveform_cached

    timeline = player.timeline
    open_clip(qtbot, player, clips["loud_quiet"])
    qtbot.waitUntil(lambda: timeline.waveform is not None, timeout=WAIT_MS)
    assert waveform_cached(clips["loud_quiet"])
    assert not timeline.waveform_rect().isEmpty()
    qtbot.waitUntil(lambda: timeline.height() >= timeline.sizeHint().height(), timeout=WAIT_MS)

    columns = timeline.waveform_columns()
    half = len(columns) // 2
    loud, quiet = columns[: half - 4], columns[half + 4:]
    assert loud.min() > 0.6 and quiet.max() < 0.1  # the tone's 0.8, then its 0.05

    # what is painted follows the peaks: tall lines on the left, short ones on the right
    image = timeline.grab().toImage()
    rect = timeline.waveform_rect().toRect()
    lit = _lit_rows_per_column(image, rect)
    assert np.median(lit[: half - 4]) > 3 * max(1, np.median(lit[half + 4:]))

    cached = timeline.waveform
    player.set_clip(2, str(clips["silent"]), FRAMES, FPS)
    qtbot.waitUntil(lambda: player.displayed_index == 0, timeout=WAIT_MS)
    assert timeline.waveform is None and timeline.waveform_rect().isEmpty()
    player.set_clip(1, str(clips["loud_quiet"]), FRAMES, FPS)  # back: the peaks are not made again
    qtbot.waitUntil(lambda: timeline.waveform is not None, timeout=WAIT_MS)
    assert timeline.waveform is cached


def _lit_rows_per_column(image, rect) -> np.ndarray:
    from studio.ui.timeline import WAVE

    counts = []
    for x in range(rect.left(), rect.right()):
        counts.append(sum(1 for y in range(rect.top(), rect.bottom() + 1)
                          if image.pixelColor(x, y).green() > WAVE.green() * 0.6))
    return np.asarray(counts)


def test_the_sound_controls_are_named_for_assistive_technology(player):
    controls = player.sound_controls
    assert controls.mute_button.accessibleName() == "Mute"
    assert controls.volume_slider.accessibleName() == "Volume"
    assert player.mute_action in player.actions()
    assert player.mute_action.shortcut().toString() == "M"


def test_no_sound_machinery_loads_before_the_window_is_painted(tmp_path):
    """The sound's modules (its thread, PyAV's decoding of it, miniaudio) load for the first
    clip, never on the way to the first paint."""
    from tests.ui.test_first_paint import state_at_first_paint

    names = ("miniaudio", "studio.core.audio", "studio.ui.audio_playback",
             "studio.ui.audio_output")
    at_paint, _after = state_at_first_paint(
        tmp_path, f"[n for n in {names!r} if n in sys.modules]")
    assert at_paint == [[]]
