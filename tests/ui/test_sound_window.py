"""Sound end to end in the window (issue 17, item 3): a generation of the tiny LTX-2 (random
weights, the real architecture, made by ``studio generate`` into a project) plays with its sound
in the Preview and, added to the bin, in the player, with a waveform under the timeline; File ›
Export writes it with its sound, as long as the picture, in mp4 and webm.

The sound device is miniaudio's null backend (``STUDIO_AUDIO_BACKEND=null``)."""

from __future__ import annotations

import av
import numpy as np
import pytest

from studio.core.library import Project

WAIT_MS = 20_000
FRAMES = 17
FPS = 24.0
SAMPLE_TOLERANCE = 1e-3


@pytest.fixture(scope="module")
def ltx2_project(tmp_path_factory):
    """A project holding one generation of the tiny LTX-2, with its sound (about 10 s)."""
    from studio.cli import main
    from studio.inference.demo_ltx2 import DEMO_LTX2_ID
    from studio.inference.loading import make_demo_models

    root = tmp_path_factory.mktemp("ltx2-sound")
    model = make_demo_models(root / "models", ids=[DEMO_LTX2_ID])[DEMO_LTX2_ID]
    folder = root / "project"
    code = main(["-q", "generate", "a dog barks twice", "--model", str(model), "--steps", "2",
                 "--seed", "3", "--frames", str(FRAMES), "--fps", str(FPS),
                 "--project", str(folder)])
    assert code == 0
    return folder


@pytest.fixture(autouse=True)
def null_sound_device(monkeypatch):
    from studio.ui.audio_output import BACKEND_VARIABLE

    monkeypatch.setenv(BACKEND_VARIABLE, "null")


def decoded_track(path) -> np.ndarray:
    """PyAV's decode of the whole sound from its start: float32 (samples, channels)."""
    with av.open(str(path)) as container:
        frames = list(container.decode(container.streams.audio[0]))
        assert frames[0].pts == 0
        return np.concatenate([f.to_ndarray() for f in frames], axis=1).T


def streams(path) -> dict:
    with av.open(str(path)) as container:
        video, audio = container.streams.video, container.streams.audio
        video_s = sum(float(f.duration * f.time_base) for f in container.decode(video[0]))
        container.seek(0)
        samples = sum(f.samples for f in container.decode(audio[0])) if audio else 0
        rate = audio[0].codec_context.sample_rate if audio else 0
        return {"video": len(video), "audio": len(audio), "video_s": video_s,
                "audio_s": samples / rate if rate else 0.0, "rate": rate}


def assert_plays_its_sound(qtbot, player, path) -> None:
    """``player`` shows ``path`` with a waveform and hands the device its decoded sound."""
    qtbot.waitUntil(lambda: player.sound_controls.state == "ok", timeout=WAIT_MS)
    qtbot.waitUntil(lambda: player.timeline.waveform is not None, timeout=WAIT_MS)
    assert not player.timeline.waveform_rect().isEmpty()
    reference = decoded_track(path)
    player.pause()
    player.seek(4)
    player.play()
    rate = player.sound.info.rate
    qtbot.waitUntil(lambda: player.sound.playback.handed() is not None
                    and len(player.sound.playback.handed()[1]) >= 0.1 * rate, timeout=WAIT_MS)
    start, samples = player.sound.playback.handed()
    player.pause()
    assert abs(start - round(4 / FPS * rate)) <= 1024
    assert samples.shape[1] == reference.shape[1] == 2  # LTX-2's vocoder: stereo
    np.testing.assert_allclose(samples, reference[start:start + len(samples)],
                               atol=SAMPLE_TOLERANCE)


def test_an_ltx2_generation_plays_with_sound_and_exports_with_it(qtbot, ltx2_project,
                                                                 tmp_path):
    from studio.ui.export_queue import DONE
    from studio.ui.main_window import MainWindow

    project = Project(ltx2_project)
    generation = project.generations()[-1]
    window = MainWindow(project)
    qtbot.addWidget(window)
    window.resize(1280, 800)
    window.show()
    qtbot.waitExposed(window)
    try:
        # the Preview shows the project's last generation: it plays with its sound
        preview = window.preview_panel.result_player
        assert preview.path == generation.path
        assert_plays_its_sound(qtbot, preview, generation.path)

        # added to the bin and selected, the player plays it with its sound
        window.open_files([generation.path])
        qtbot.waitUntil(lambda: window.player.path == generation.path, timeout=WAIT_MS)
        assert_plays_its_sound(qtbot, window.player, generation.path)

        for preset in ("mp4", "webm"):
            window.bin.view.selectAll()
            window.export_action.trigger()
            dialog = window.export_clips_dialog()
            dialog.preset_combo.setCurrentIndex(dialog.preset_combo.findData(preset))
            dialog.folder_edit.setText(str(tmp_path / preset))
            qtbot.waitUntil(lambda d=dialog: not d.planning, timeout=WAIT_MS)
            job = dialog.start_export()
            qtbot.waitUntil(lambda j=job: j.state in (DONE, "failed", "cancelled"),
                            timeout=WAIT_MS)
            assert job.state == DONE
            dialog.close()
            written = list((tmp_path / preset).glob(f"*.{preset}"))
            assert len(written) == 1
            info = streams(written[0])
            assert (info["video"], info["audio"]) == (1, 1)
            assert abs(info["video_s"] - FRAMES / FPS) < 1 / FPS  # timestamps in the file's units
            # the sound as long as the picture, within a frame (and the encoder's priming)
            assert abs(info["audio_s"] - info["video_s"]) <= 1 / FPS + 1024 / info["rate"]
    finally:
        window.close()
        project.close()
