"""Training sets and sound (issue 17, item 3). The copy layouts (diffusion-pipe, musubi-tuner)
hand the trainer the clips as they are: a clip cut to its marks keeps its sound, cut to the same
range, as an uncut copy keeps it (musubi-tuner's LTX-2 audio-video mode and Lightricks'
LTX-2 trainer read the sound from the video files; video-only trainers ignore the stream). The
re-encoding presets are for video-only trainers and drop it: ltx-train for the LTX-Video 0.9
trainer (video latents only), wan-train for Wan 2.1 / HunyuanVideo trainers."""

from __future__ import annotations

import av
import pytest

from studio.core.dataset import DatasetItem, write_training_set
from tests.media_factory import make_video

FPS = 24


@pytest.fixture(scope="module")
def tone_clip(tmp_path_factory):
    return make_video(tmp_path_factory.mktemp("sound") / "drum.mp4", frames=48, fps=FPS,
                      audio=True)


def durations(path) -> tuple[float, float, int]:
    """(video seconds, sound seconds, sample rate); sound 0 when there is none."""
    with av.open(str(path)) as container:
        video_s = sum(float(f.duration * f.time_base) for f in container.decode(video=0))
        if not container.streams.audio:
            return video_s, 0.0, 0
        container.seek(0)
        rate = container.streams.audio[0].codec_context.sample_rate
        samples = sum(f.samples for f in container.decode(audio=0))
        return video_s, samples / rate, rate


@pytest.mark.parametrize("layout", ["diffusion-pipe", "musubi"])
def test_a_cut_copy_keeps_its_sound_cut_to_the_same_range(tone_clip, tmp_path, layout):
    report = write_training_set([DatasetItem(str(tone_clip), "a drum", 12, 35)], tmp_path,
                                layout)
    (cut,) = report.exported
    assert not cut.copied and cut.frames == 24
    video_s, sound_s, rate = durations(cut.output)
    assert rate, "the cut copy has no sound"
    assert video_s == pytest.approx(1.0, abs=1e-3)
    assert abs(sound_s - video_s) <= 1 / FPS + 1024 / rate  # within a frame (and AAC priming)


def test_an_uncut_copy_is_the_file_itself_sound_and_all(tone_clip, tmp_path):
    report = write_training_set([DatasetItem(str(tone_clip), "a drum")], tmp_path, "musubi")
    (copy,) = report.exported
    assert copy.copied
    assert durations(copy.output)[1] > 1.9


@pytest.mark.parametrize("layout", ["ltx-train", "wan-train"])
def test_the_video_only_trainer_presets_drop_the_sound(tone_clip, tmp_path, layout):
    report = write_training_set([DatasetItem(str(tone_clip), "a drum")], tmp_path, layout)
    (written,) = report.exported
    assert durations(written.output)[1] == 0.0
