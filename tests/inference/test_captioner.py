"""Captioner on the tiny SmolVLM2 (random weights, real layout) and real clips made with PyAV:
streaming, cancel, determinism, in/out ranges, SmolVLM2's frame sampling, stills, bad media,
missing and damaged model folders."""

from __future__ import annotations

import json
import shutil
import threading
import time

import pytest

from studio.core.cancel import Cancelled, CancelToken
from studio.core.frames import FrameReader
from studio.core.media import AudioOnlyError, MediaError, NotMediaError
from studio.inference.captioner import (
    Captioner,
    CaptionSettings,
    number_words,
    sample_frame_indices,
)
from studio.inference.loading import ModelError, ModelFolderError
from studio.inference.registry import DEMO_PREFIX
from tests.media_factory import (
    frame_number_of,
    make_audio_only,
    make_bad,
    make_image,
    make_video,
)

FEW = 8  # new tokens per caption: enough to stream in pieces, quick on a CPU


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("caption-clips")
    return {
        # 6 s at 10 fps: SmolVLM2's 1 fps rule picks 6 frames
        "video": make_video(folder / "walk.mp4", frames=60, fps=10, gop=10),
        # 8 s at 10 fps: longer than max_frames / fps + 2 s when max_frames is 4
        "long": make_video(folder / "long.mp4", frames=80, fps=10, gop=20),
        "still": make_image(folder / "still.png", width=80, height=60),
        "big": make_video(folder / "big.mp4", width=1280, height=720, frames=10, fps=5),
        "random": make_bad(folder, "random"),
        "audio": make_audio_only(folder / "tone.m4a"),
    }


def few(**kw) -> CaptionSettings:
    return CaptionSettings(max_new_tokens=kw.pop("max_new_tokens", FEW), **kw)


# ---- SmolVLM2's rules ------------------------------------------------------------------------

def test_number_words_are_what_the_official_processor_writes():
    # SmolVLMProcessor needs num2words for "You are provided the following series of ..."
    assert [number_words(n) for n in (1, 21, 64, 120)] == [
        "one", "twenty-one", "sixty-four", "one hundred and twenty"]


def test_sampling_rule_matches_smolvlm_video_processor():
    """sample_frame_indices against transformers' own SmolVLMVideoProcessor.sample_frames
    (called unbound: building the processor needs torchvision)."""
    from types import SimpleNamespace

    from transformers.models.smolvlm.video_processing_smolvlm import (
        SmolVLMVideoProcessor,
    )
    from transformers.video_utils import VideoMetadata

    official = SmolVLMVideoProcessor.sample_frames
    cases = 0
    for total in (1, 2, 7, 24, 60, 80, 250, 1000, 3001):
        for video_fps in (8.0, 23.976, 25.0, 30.0, 60.0):
            duration = total / video_fps
            for fps, max_frames in ((1, 64), (1, 4), (2, 8), (0.5, 3), (4, 64), (1, 1)):
                meta = VideoMetadata(total_num_frames=total, fps=video_fps, duration=duration)
                want = official(SimpleNamespace(num_frames=max_frames, fps=fps), meta,
                                num_frames=max_frames, fps=fps).tolist()
                got = sample_frame_indices(total, video_fps, duration, fps=fps,
                                           max_frames=max_frames)
                assert got == want, (total, video_fps, fps, max_frames)
                cases += 1
    assert cases == 9 * 5 * 6


# ---- captions --------------------------------------------------------------------------------

def test_caption_streams_text_in_pieces_after_the_frames(tiny_captioner, tiny_captioner_dir,
                                                        clips):
    events: list[tuple[str, object]] = []
    result = tiny_captioner.caption(
        str(clips["video"]), few(max_new_tokens=12),
        on_text=lambda chunk: events.append(("text", chunk)),
        on_frames=lambda frames: events.append(("frames", frames)))
    kinds = [k for k, _ in events]
    assert kinds[0] == "frames" and kinds.count("frames") == 1
    chunks = [c for k, c in events if k == "text"]
    assert len(chunks) >= 3  # arrived piece by piece, not at the end
    assert "".join(chunks).strip() == result.text and result.text
    # 6 s at 1 fps: 6 frames spread over the clip, exactly those frames
    assert result.frame_indices == [0, 11, 23, 35, 47, 59]
    frames = events[0][1]
    assert [f.index for f in frames] == result.frame_indices
    assert [frame_number_of(f.image) for f in frames] == result.frame_indices
    with FrameReader(clips["video"]) as reader:
        assert result.frame_times == pytest.approx([reader.time_of(i) for i in result.frame_indices])
    assert result.model_id == str(tiny_captioner_dir)
    assert result.demo  # the demo builder marks its folder
    assert result.prompt == "Describe this video in detail."
    assert result.settings["fps"] == 1 and result.settings["max_frames"] == 64
    assert result.settings["max_new_tokens"] == 12 and result.settings["do_sample"] is False
    assert result.seconds > 0


def test_greedy_captions_are_deterministic(tiny_captioner, tiny_captioner_dir, clips):
    first = tiny_captioner.caption(str(clips["video"]), few())
    again = tiny_captioner.caption(str(clips["video"]), few())
    assert first.text == again.text
    fresh = Captioner.load(str(tiny_captioner_dir), "cpu")  # a new load, the same caption
    try:
        assert fresh.caption(str(clips["video"]), few()).text == first.text
    finally:
        fresh.unload()


def test_sampling_is_a_setting(tiny_captioner, clips):
    import torch

    settings = few(max_new_tokens=12, do_sample=True, temperature=1.5, top_p=1.0)
    greedy = tiny_captioner.caption(str(clips["video"]), few(max_new_tokens=12)).text
    texts = []
    for seed in (1, 2, 1):
        torch.manual_seed(seed)
        texts.append(tiny_captioner.caption(str(clips["video"]), settings).text)
    assert texts[0] == texts[2]  # the same random state, the same words
    assert texts[0] != texts[1] or texts[0] != greedy  # sampling does change them


def test_cancel_mid_caption_stops_generation(tiny_captioner, clips):
    token = CancelToken()
    chunks: list[str] = []

    def on_text(chunk):
        chunks.append(chunk)
        token.cancel()

    started = time.perf_counter()
    with pytest.raises(Cancelled):
        tiny_captioner.caption(str(clips["video"]), few(max_new_tokens=200), on_text=on_text,
                               cancel=token)
    assert 1 <= len(chunks) <= 2  # stopped within a token of the cancel, not after 200
    assert time.perf_counter() - started < 3.0
    assert not [t for t in threading.enumerate() if t.name == "studio-caption-generate"]
    # the captioner is fine afterwards
    assert tiny_captioner.caption(str(clips["video"]), few(max_new_tokens=2)).text


def test_cancelled_before_generation_sees_no_frames(tiny_captioner, clips):
    token = CancelToken()
    token.cancel()
    seen = []
    with pytest.raises(Cancelled):
        tiny_captioner.caption(str(clips["video"]), few(), on_frames=seen.append, cancel=token)
    assert seen == []


def test_in_out_range_limits_the_frames(tiny_captioner, clips):
    result = tiny_captioner.caption(str(clips["video"]), few(), in_frame=20, out_frame=39)
    assert result.frame_indices == [20, 39]  # 2 s at 1 fps: 2 frames, first and last
    assert all(2.0 <= t <= 3.9 + 1e-9 for t in result.frame_times)
    prepared = tiny_captioner.prepare(str(clips["video"]), few(), in_frame=20, out_frame=39)
    # the range is the video: its own duration and timestamps from its start
    assert "series of two frames from a 0:00:02 [H:MM:SS] video." in prepared.text
    assert "Frame from 00:00:" in prepared.text and "Frame from 00:01:" in prepared.text
    one = tiny_captioner.caption(str(clips["video"]), few(), in_frame=30, out_frame=30)
    assert one.frame_indices == [30]


def test_bad_ranges_are_refused(tiny_captioner, clips):
    for in_frame, out_frame in ((40, 20), (-1, 5), (0, 60)):
        with pytest.raises(ValueError, match="walk.mp4"):
            tiny_captioner.caption(str(clips["video"]), few(), in_frame=in_frame,
                                   out_frame=out_frame)


def test_long_video_loses_a_second_at_each_end(tiny_captioner, clips):
    result = tiny_captioner.caption(str(clips["long"]), few(max_frames=4))
    # 8 s > 4 frames / 1 fps + 2 s: frames from 1 s (10) to 7 s (70)
    assert result.frame_indices == [10, 30, 50, 70]
    assert result.settings["max_frames"] == 4
    short = tiny_captioner.caption(str(clips["long"]), few(max_frames=8))
    assert short.frame_indices == [0, 11, 22, 33, 45, 56, 67, 79]  # 8 s = 8 frames: no trim


def test_fps_setting(tiny_captioner, clips):
    result = tiny_captioner.caption(str(clips["video"]), few(fps=0.5))
    assert result.frame_indices == [0, 29, 59]


def test_frames_are_resized_to_the_encoder_square(tiny_captioner, clips):
    prepared = tiny_captioner.prepare(str(clips["video"]), few())
    pixels = prepared.tensors["pixel_values"]
    assert tuple(pixels.shape) == (1, 6, 3, 32, 32)  # one 32x32 image per frame, no tiles
    ids = prepared.tensors["input_ids"][0].tolist()
    image_id = tiny_captioner.tokenizer.convert_tokens_to_ids("<image>")
    assert ids.count(image_id) == 6 * tiny_captioner.image_seq_len == 24


def test_big_frames_are_processed_one_by_one_and_kept_as_previews(tiny_captioner, clips):
    from PIL import Image

    prepared = tiny_captioner.prepare(str(clips["big"]), few())
    assert prepared.frame_indices == [0, 9]
    assert all(f.image.shape == (288, 512, 3) for f in prepared.frames)
    assert [frame_number_of(f.image) for f in prepared.frames] == [0, 9]
    # the same pixels as the whole batch of full-size frames through the image processor
    with FrameReader(clips["big"]) as reader:
        images = [Image.fromarray(reader.frame_at(i).image) for i in (0, 9)]
    batch = tiny_captioner.image_processor(
        images=[images], do_image_splitting=False, return_tensors="pt",
        size={"longest_edge": prepared.settings.frame_size},
        max_image_size={"longest_edge": tiny_captioner.sampling.max_image_size})
    assert (prepared.tensors["pixel_values"] == batch["pixel_values"]).all()


def test_still_image_is_captioned_as_an_image(tiny_captioner, clips):
    seen = []
    result = tiny_captioner.caption(str(clips["still"]), few(), on_frames=seen.append)
    assert result.text and result.frame_indices == [0] and result.frame_times == [0.0]
    assert result.prompt == "Describe this image in detail."
    assert len(seen) == 1 and seen[0][0].image.shape == (60, 80, 3)
    prepared = tiny_captioner.prepare(str(clips["still"]), few())
    assert "Frame from" not in prepared.text and "video" not in prepared.text
    # 80x60 is cut into 2 x 2 tiles of 32 plus the whole image, as the image processor does
    assert "<row_2_col_2>" in prepared.text and "<global-img>" in prepared.text
    assert prepared.tensors["pixel_values"].shape[1] == 5
    with pytest.raises(ValueError, match="still image"):
        tiny_captioner.caption(str(clips["still"]), few(), in_frame=3, out_frame=4)


def test_bad_media_raise_media_errors_naming_the_file(tiny_captioner, clips):
    with pytest.raises(NotMediaError) as info:
        tiny_captioner.caption(str(clips["random"]), few())
    assert str(clips["random"]) in str(info.value)
    with pytest.raises(AudioOnlyError):
        tiny_captioner.caption(str(clips["audio"]), few())
    with pytest.raises(MediaError, match="not found"):
        tiny_captioner.caption(str(clips["video"].with_name("nothing.mp4")), few())


def test_settings_are_checked(tiny_captioner, clips):
    for bad, field in ((few(max_new_tokens=0), "max_new_tokens"), (few(fps=0), "fps"),
                       (few(max_frames=0), "max_frames"), (few(preset="poem"), "preset"),
                       (few(preset="custom", prompt="  "), "prompt"),
                       (few(do_sample=True, temperature=0), "temperature")):
        with pytest.raises(ValueError, match=field):
            tiny_captioner.caption(str(clips["video"]), bad)
    with pytest.raises(ValueError, match="control token"):
        tiny_captioner.caption(str(clips["video"]),
                               few(preset="custom", prompt="What is in <image>?"))


def test_custom_prompt_goes_into_the_chat(tiny_captioner, clips):
    prepared = tiny_captioner.prepare(str(clips["video"]),
                                      few(preset="custom", prompt=" Who walks? "))
    assert prepared.prompt == "Who walks?"
    assert prepared.text.endswith("\n\nWho walks?<end_of_utterance>\nAssistant:")


# ---- loading -------------------------------------------------------------------------------

def test_missing_model_folder(tmp_path):
    with pytest.raises(ModelError) as info:
        Captioner.load(str(tmp_path / "no-model"))
    assert "no-model" in str(info.value)


def test_missing_demo_model_names_make_demo():
    with pytest.raises(ModelError, match="studio models make-demo"):
        Captioner.load(DEMO_PREFIX + "smolvlm2-tiny")


def test_folder_that_is_not_a_model(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ModelFolderError, match="config.json"):
        Captioner.load(str(tmp_path))


@pytest.fixture
def model_copy(tiny_captioner_dir, tmp_path):
    return shutil.copytree(tiny_captioner_dir, tmp_path / "copy")


def test_cut_short_weights(model_copy):
    weights = model_copy / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    with pytest.raises(ModelFolderError, match="model.safetensors"):
        Captioner.load(str(model_copy))


def test_damaged_config(model_copy):
    (model_copy / "config.json").write_text('{"model_type": "smolvlm", ')
    with pytest.raises(ModelFolderError, match="config.json"):
        Captioner.load(str(model_copy))


def test_a_model_of_another_kind(model_copy):
    config = json.loads((model_copy / "config.json").read_text())
    config["model_type"] = "llama"
    (model_copy / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelFolderError, match="not SmolVLM2"):
        Captioner.load(str(model_copy))


def test_weights_missing_from_the_checkpoint(model_copy):
    from safetensors.torch import load_file, save_file

    weights = model_copy / "model.safetensors"
    tensors = load_file(weights)
    dropped = sorted(k for k in tensors if "lm_head" in k)
    assert dropped
    save_file({k: v for k, v in tensors.items() if k not in dropped}, weights,
              metadata={"format": "pt"})
    with pytest.raises(ModelFolderError, match="weights are missing"):
        Captioner.load(str(model_copy))


def test_damaged_tokenizer(model_copy):
    (model_copy / "tokenizer.json").write_text("{ not json")
    with pytest.raises(ModelFolderError, match="damaged"):
        Captioner.load(str(model_copy))


def test_unload_frees_the_model(tiny_captioner_dir, clips):
    captioner = Captioner.load(str(tiny_captioner_dir), "cpu")
    assert captioner.loaded and captioner.device == "cpu" and captioner.dtype_name == "float32"
    captioner.unload()
    assert not captioner.loaded
    with pytest.raises(RuntimeError, match="unloaded"):
        captioner.caption(str(clips["video"]), few())
    captioner.unload()  # twice is harmless


# ---- the demo model ----------------------------------------------------------------------------

def test_demo_captioner_is_deterministic_quick_and_in_the_real_layout(tmp_path,
                                                                      tiny_captioner_dir):
    import torch

    from studio.inference.demo import make_demo_captioner

    torch.manual_seed(5)
    expected_draw = torch.rand(3)
    torch.manual_seed(5)
    started = time.perf_counter()
    again = make_demo_captioner(tmp_path / "again")
    assert time.perf_counter() - started < 5.0
    assert torch.equal(torch.rand(3), expected_draw)  # the caller's random state is untouched
    names = sorted(p.name for p in tiny_captioner_dir.iterdir())
    assert names == sorted(p.name for p in again.iterdir())
    for name in names:  # the same bytes: the same weights and tokenizer every time
        assert (again / name).read_bytes() == (tiny_captioner_dir / name).read_bytes(), name
    assert {"config.json", "generation_config.json", "model.safetensors", "tokenizer.json",
            "tokenizer_config.json", "preprocessor_config.json", "processor_config.json",
            "chat_template.jinja", "studio-demo.json"} <= set(names)
    preprocessor = json.loads((again / "preprocessor_config.json").read_text())
    assert preprocessor["video_sampling"]["fps"] == 1
    assert preprocessor["video_sampling"]["max_frames"] == 64
    # built again over itself: replaced whole, nothing left beside it
    make_demo_captioner(again)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["again"]
