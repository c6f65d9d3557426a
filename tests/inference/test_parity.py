"""Studio's SmolVLM2 inputs against transformers' own SmolVLMProcessor.

Here (no torchvision, no torchcodec) SmolVLMProcessor cannot be built, but its prompt code can
run: the processor's own ``apply_chat_template`` (without tokenizing), ``replace_video_token``,
``replace_image_token`` and ``get_text_with_replacements`` on a processor object given only the
attributes they read, with frame indices from SmolVLMVideoProcessor.sample_frames. The prompt
text and input_ids Studio builds must be identical.

Where torchvision and torchcodec import, the whole official processor runs on the same files:
input_ids identical, pixel values within one uint8 step.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from studio.core.frames import FrameReader
from studio.inference.captioner import CaptionSettings
from tests.media_factory import make_image, make_video

# num2words, which SmolVLMProcessor needs for "{n in words}", is not installed here: the words
# of the frame counts these tests meet, as num2words writes them.
NUM2WORDS = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 8: "eight",
             10: "ten", 12: "twelve"}


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    folder = tmp_path_factory.mktemp("parity")
    return {
        "video": make_video(folder / "walk.mp4", frames=60, fps=10, gop=10),
        "long": make_video(folder / "long.mp4", frames=100, fps=12.5, gop=25),
        "still": make_image(folder / "still.png", width=80, height=60),
        "wide": make_image(folder / "wide.png", width=120, height=30),
    }


def official_processor(captioner, monkeypatch):
    """A SmolVLMProcessor holding what its prompt methods read (its __init__ needs
    torchvision for the video processor)."""
    from transformers.models.smolvlm import processing_smolvlm

    if not hasattr(processing_smolvlm.SmolVLMProcessor, "replace_video_token"):
        # these prompt methods came in transformers 5.15; Studio's floor (5.4) does not use
        # them, only this reference does
        pytest.skip("this transformers' SmolVLMProcessor has no replace_video_token (< 5.15)")

    if processing_smolvlm.num2words is None:
        monkeypatch.setattr(processing_smolvlm, "num2words", NUM2WORDS.__getitem__)
    tokenizer = captioner.tokenizer
    proc = object.__new__(processing_smolvlm.SmolVLMProcessor)
    # as SmolVLMProcessor.__init__ sets them
    proc.fake_image_token = getattr(tokenizer, "fake_image_token", "<fake_token_around_image>")
    proc.image_token = getattr(tokenizer, "image_token", "<image>")
    proc.image_token_id = tokenizer.convert_tokens_to_ids(proc.image_token)
    proc.end_of_utterance_token = getattr(tokenizer, "end_of_utterance_token", "<end_of_utterance>")
    proc.global_image_token = getattr(tokenizer, "global_image_token", "<global-img>")
    proc.image_seq_len = captioner.image_seq_len
    proc.video_token = getattr(tokenizer, "video_token", "<video>")
    proc.tokenizer = tokenizer
    proc.image_processor = captioner.image_processor
    proc.chat_template = (captioner.path / "chat_template.jinja").read_text(encoding="utf-8")
    sampling = captioner.sampling
    proc.video_processor = SimpleNamespace(num_frames=sampling.max_frames, fps=sampling.fps)
    return proc


def official_video_text(proc, path, prompt, *, fps, max_frames, in_frame=None, out_frame=None):
    """The text SmolVLMProcessor builds for ``path`` (its in/out range taken as the video)."""
    import torch
    from transformers.models.smolvlm.video_processing_smolvlm import (
        SmolVLMVideoProcessor,
    )
    from transformers.video_utils import VideoMetadata

    with FrameReader(path) as reader:
        first = in_frame or 0
        last = reader.frame_count - 1 if out_frame is None else out_frame
        total = last - first + 1
        video_fps = reader.fps
    meta = VideoMetadata(total_num_frames=total, fps=video_fps, duration=total / video_fps)
    indices = SmolVLMVideoProcessor.sample_frames(
        SimpleNamespace(num_frames=max_frames, fps=fps), meta, num_frames=max_frames, fps=fps)
    meta.frames_indices = indices
    conversation = [{"role": "user", "content": [{"type": "video", "path": str(path)},
                                                 {"type": "text", "text": prompt}]}]
    chat = proc.apply_chat_template(conversation, add_generation_prompt=True)
    replacement = proc.replace_video_token(
        {"pixel_values": torch.zeros((1, len(indices), 3, 1, 1)), "video_metadata": [meta]},
        video_idx=0)
    text = proc.get_text_with_replacements([chat], videos_replacements=[replacement])[0][0]
    return text, [first + int(i) for i in indices]


def official_ids(tokenizer, text):
    # as SmolVLMProcessor.apply_chat_template(tokenize=True) calls the tokenizer
    bos = tokenizer.bos_token
    add_special = not (bos is not None and text.startswith(bos))
    return tokenizer(text, add_special_tokens=add_special)["input_ids"]


@pytest.mark.parametrize("name, settings, in_out", [
    ("video", CaptionSettings(), (None, None)),
    ("video", CaptionSettings(), (20, 39)),
    ("video", CaptionSettings(fps=2, max_frames=8), (5, 54)),
    ("long", CaptionSettings(max_frames=4), (None, None)),  # trimmed a second at each end
    ("long", CaptionSettings(preset="custom", prompt="What moves?"), (None, None)),
    ("long", CaptionSettings(preset="training", fps=0.5), (13, 99)),
])
def test_video_prompt_and_ids_match_smolvlm_processor(tiny_captioner, media, monkeypatch,
                                                      name, settings, in_out):
    proc = official_processor(tiny_captioner, monkeypatch)
    in_frame, out_frame = in_out
    prepared = tiny_captioner.prepare(str(media[name]), settings, in_frame=in_frame,
                                      out_frame=out_frame)
    text, indices = official_video_text(
        proc, media[name], prepared.prompt, fps=prepared.settings.fps,
        max_frames=prepared.settings.max_frames, in_frame=in_frame, out_frame=out_frame)
    assert prepared.frame_indices == indices
    assert prepared.text == text
    assert prepared.tensors["input_ids"][0].tolist() == official_ids(tiny_captioner.tokenizer, text)
    assert prepared.tensors["attention_mask"].all()


@pytest.mark.parametrize("name", ["still", "wide"])
def test_image_prompt_ids_and_pixels_match_smolvlm_processor(tiny_captioner, media, monkeypatch,
                                                             name):
    from PIL import Image

    proc = official_processor(tiny_captioner, monkeypatch)
    prepared = tiny_captioner.prepare(str(media[name]))
    image = Image.open(media[name]).convert("RGB")
    conversation = [{"role": "user", "content": [{"type": "image"},
                                                 {"type": "text", "text": prepared.prompt}]}]
    chat = proc.apply_chat_template(conversation, add_generation_prompt=True)
    # SmolVLMProcessor._process_images: the image processor with its images_kwargs
    processed = proc.image_processor([[image]], return_row_col_info=True, return_tensors="pt")
    replacement = proc.replace_image_token(processed, image_idx=0)
    text = proc.get_text_with_replacements([chat], images_replacements=[replacement])[0][0]
    assert prepared.text == text
    assert prepared.tensors["input_ids"][0].tolist() == official_ids(tiny_captioner.tokenizer, text)
    assert np.array_equal(prepared.tensors["pixel_values"].numpy(),
                          processed["pixel_values"].numpy())


# ---- the whole official processor, where it can be built ---------------------------------------

@pytest.fixture(scope="module")
def full_processor(tiny_captioner_dir):
    pytest.importorskip("torchvision")
    pytest.importorskip("torchcodec")
    pytest.importorskip("num2words")
    from transformers import AutoProcessor

    return AutoProcessor.from_pretrained(tiny_captioner_dir)


# One uint8 step after rescaling (1/255) and normalising (std 0.5 in the tiny model's config).
ONE_STEP = (1 / 255) / 0.5 + 1e-6


@pytest.mark.parametrize("name", ["video", "long"])
def test_official_processor_video_parity(full_processor, tiny_captioner, media, name):
    prepared = tiny_captioner.prepare(str(media[name]))
    conversation = [{"role": "user", "content": [{"type": "video", "path": str(media[name])},
                                                 {"type": "text", "text": prepared.prompt}]}]
    official = full_processor.apply_chat_template(
        conversation, add_generation_prompt=True, tokenize=True, return_dict=True,
        return_tensors="pt")
    assert prepared.tensors["input_ids"].tolist() == official["input_ids"].tolist()
    ours, theirs = prepared.tensors["pixel_values"], official["pixel_values"]
    assert tuple(ours.shape) == tuple(theirs.shape)
    assert float((ours.float() - theirs.float()).abs().max()) <= ONE_STEP


@pytest.mark.parametrize("name", ["still", "wide"])
def test_official_processor_image_parity(full_processor, tiny_captioner, media, name):
    prepared = tiny_captioner.prepare(str(media[name]))
    conversation = [{"role": "user", "content": [{"type": "image", "path": str(media[name])},
                                                 {"type": "text", "text": prepared.prompt}]}]
    official = full_processor.apply_chat_template(
        conversation, add_generation_prompt=True, tokenize=True, return_dict=True,
        return_tensors="pt")
    assert prepared.tensors["input_ids"].tolist() == official["input_ids"].tolist()
    ours, theirs = prepared.tensors["pixel_values"], official["pixel_values"]
    assert tuple(ours.shape) == tuple(theirs.shape)
    assert float((ours.float() - theirs.float()).abs().max()) <= ONE_STEP
