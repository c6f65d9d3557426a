"""A generated sound track written beside generated frames (issue 17): core.export.write_frames
with AudioSamples, decoded back with PyAV."""

from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np
import pytest

from studio.core.export import AudioSamples, ExportOptions, write_frames


def _frames(count: int = 9, size: int = 32) -> list[np.ndarray]:
    return [np.full((size, size, 3), 20 * i, np.uint8) for i in range(count)]


def _tone(seconds: float, rate: int, channels: int = 2) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    wave = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    return np.stack([wave] * channels)


def _streams(path: str) -> dict:
    with av.open(path) as c:
        video, audio = c.streams.video[0], c.streams.audio[0]
        info = {"codec": audio.codec_context.name, "rate": audio.codec_context.sample_rate,
                "channels": audio.codec_context.channels,
                "video_s": float(video.duration * video.time_base) if video.duration else None}
        info["samples"] = sum(f.samples for f in c.decode(audio))
        info["peak"] = 0.0
    with av.open(path) as c:
        for frame in c.decode(c.streams.audio[0]):
            info["peak"] = max(info["peak"], float(np.abs(frame.to_ndarray()).max()))
    return info


@pytest.mark.parametrize("rate", [24000, 16000])
def test_mp4_gets_an_aac_track_at_the_samples_rate_as_long_as_the_video(tmp_path, rate):
    fps, frames = 24.0, _frames(9)
    audio = AudioSamples(_tone(9 / fps, rate), rate)
    result = write_frames(frames, tmp_path, fps, ExportOptions(name="gen", metadata={"a": 1}),
                          audio=audio)
    info = _streams(result.output)
    assert (info["codec"], info["rate"], info["channels"]) == ("aac", rate, 2)
    assert info["video_s"] == pytest.approx(9 / fps)
    # the decoder may hand back the encoder's priming frame too: within one video frame + it
    assert abs(info["samples"] / rate - 9 / fps) <= 1 / fps + 1024 / rate
    assert info["peak"] > 0.2  # the tone, not silence
    sidecar = json.loads(Path(result.sidecars[0]).read_text())
    assert sidecar["audio"] == {"codec": "aac", "sample_rate": rate, "channels": 2,
                                "seconds": pytest.approx(9 / fps)}
    assert not list(tmp_path.glob("*.part*"))


def test_mono_samples_make_a_mono_track_and_webm_gets_opus(tmp_path):
    audio = AudioSamples(_tone(0.5, 24000, channels=1)[0], 24000)
    mp4 = write_frames(_frames(12), tmp_path, 24.0, ExportOptions(name="mono"), audio=audio)
    assert _streams(mp4.output)["channels"] == 1
    webm = write_frames(_frames(12), tmp_path, 24.0, ExportOptions(preset="webm", name="w"),
                        audio=audio)
    info = _streams(webm.output)
    assert info["codec"] == "opus" and info["rate"] == 48000


def test_no_audio_when_the_options_say_so_or_the_preset_has_none(tmp_path):
    audio = AudioSamples(_tone(0.375, 24000), 24000)
    silent = write_frames(_frames(), tmp_path, 24.0, ExportOptions(name="s", audio=False),
                          audio=audio)
    with av.open(silent.output) as c:
        assert not c.streams.audio
    gif = write_frames(_frames(), tmp_path, 24.0, ExportOptions(preset="gif", name="g"),
                       audio=audio)
    assert Path(gif.output).suffix == ".gif"
