"""Tiny random-weight models in the real on-disk layout, built offline.

``make_demo_captioner(dir)`` writes a SmolVLM2 folder that loads through exactly the code a
downloaded SmolVLM2 goes through (``from_pretrained`` on the folder): ``config.json``,
``generation_config.json``, ``model.safetensors``, the tokenizer files, ``preprocessor_config.json``
(with ``video_sampling``), ``processor_config.json`` and ``chat_template.jinja``. Its weights are
random, so its captions are word salad; anything made with it is labelled
``registry.DEMO_LABEL``.

Deterministic: the same files (the same weights, the same tokenizer) on every build.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable

from studio.inference.loading import DEMO_MARKER
from studio.inference.registry import DEMO_LABEL

DEMO_CAPTIONER_ID = "demo/smolvlm2-tiny"

# Sizes of the tiny model. Frames are squashed to 32x32 (the vision encoder's image size) and
# cut into 8x8 patches: 16 patches, merged 2x2 by the connector into 4 image tokens per frame.
_IMAGE_SIZE = 32
_PATCH_SIZE = 8
_SCALE_FACTOR = 2
_IMAGE_SEQ_LEN = (_IMAGE_SIZE // _PATCH_SIZE) ** 2 // _SCALE_FACTOR ** 2
_SEED = 20250301

# The tokens SmolVLMProcessor and its chat template write into a prompt.
_GRID = 6  # <row_i_col_j> for a split image of up to 6 x 6 tiles, as the real vocabulary has
_SPECIAL = [
    "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<end_of_utterance>",
    "<fake_token_around_image>", "<global-img>", "<image>", "<video>",
    *(f"<row_{r}_col_{c}>" for r in range(1, _GRID + 1) for c in range(1, _GRID + 1)),
]
_EXTRA_SPECIAL = {  # tokenizer attributes SmolVLMProcessor reads (tokenizer.image_token, ...)
    "image_token": "<image>",
    "fake_image_token": "<fake_token_around_image>",
    "global_image_token": "<global-img>",
    "end_of_utterance_token": "<end_of_utterance>",
    "video_token": "<video>",
}
# What the tokenizer learns its merges from: caption-like English, so that a random model
# still emits whole words separated by spaces (and its captions stream word by word).
_CORPUS = [
    "A person walks along a beach at sunset while the camera pans slowly to the left.",
    "The video shows a red car driving down a quiet street in the rain.",
    "A cat sits on a windowsill and watches birds fly past the garden.",
    "Close-up of hands kneading dough on a wooden table, warm light, shallow depth of field.",
    "Aerial shot of a green forest with a river winding through the valley.",
    "Two people talk in a busy kitchen; the camera is handheld and moves between them.",
    "A timelapse of clouds moving over mountains, wide angle, cinematic colour grading.",
    "Describe this video in detail. Describe this image in one short sentence.",
    "You are provided the following series of frames from a video. Frame from the start.",
    "User: Assistant: the subject, what happens, the camera movement and the visual style.",
]


def build_folder(directory: str | os.PathLike, write: Callable[[Path], None]) -> Path:
    """Run ``write(folder)`` on a new folder beside ``directory``, then rename it into place
    (replacing an older copy), so a reader never sees half a model under the final name."""
    final = Path(directory)
    final.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
    try:
        write(work)
        if final.exists():
            old = final.with_name(f".{final.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            final.rename(old)
            work.rename(final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            work.rename(final)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return final


def make_demo_captioner(directory: str | os.PathLike) -> Path:
    """Build the tiny SmolVLM2 into ``directory`` (created; its files replaced) and return it.

    The folder is written next to its final place and renamed into it, so a reader never sees
    half a model under the final name.
    """
    return build_folder(directory, _write_captioner)


def _write_captioner(folder: Path) -> None:
    import torch
    from transformers import (
        GenerationConfig,
        SmolVLMConfig,
        SmolVLMForConditionalGeneration,
    )
    from transformers.models.smolvlm.processing_smolvlm import DEFAULT_CHAT_TEMPLATE

    tokenizer = _make_tokenizer()
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in _SPECIAL}
    config = SmolVLMConfig(
        vision_config={
            "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
            "num_attention_heads": 2, "image_size": _IMAGE_SIZE, "patch_size": _PATCH_SIZE,
        },
        text_config={
            "model_type": "llama", "vocab_size": len(tokenizer), "hidden_size": 64,
            "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
            "num_key_value_heads": 2, "max_position_embeddings": 2048,
            "bos_token_id": ids["<|im_start|>"], "eos_token_id": ids["<end_of_utterance>"],
            "pad_token_id": ids["<|endoftext|>"], "tie_word_embeddings": False,
        },
        scale_factor=_SCALE_FACTOR,
        image_token_id=ids["<image>"],
        pad_token_id=ids["<|endoftext|>"],
    )
    # A fixed seed without disturbing the caller's random state.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(_SEED)
        model = SmolVLMForConditionalGeneration(config)
    # Random weights would mostly emit lone bytes (half UTF-8 characters, shown as "�") and
    # control tokens. Zero logits for those leave the learned words on top: the demo's
    # captions are word salad that streams word by word and runs to max_new_tokens.
    quiet = [i for token, i in tokenizer.get_vocab().items() if len(token) == 1 or token in ids]
    with torch.no_grad():
        model.lm_head.weight[quiet] = 0.0
    model.generation_config = GenerationConfig(
        bos_token_id=ids["<|im_start|>"], eos_token_id=ids["<end_of_utterance>"],
        pad_token_id=ids["<|endoftext|>"],
    )
    from studio.inference.captioner import quiet_progress

    with quiet_progress():
        model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)

    # SmolVLMProcessor cannot be built without torchvision here, so its files are written as a
    # hub folder has them. SmolVLMImageProcessorPil reads preprocessor_config.json.
    preprocessor = {
        "image_processor_type": "SmolVLMImageProcessor",
        "processor_class": "SmolVLMProcessor",
        "do_convert_rgb": True,
        "do_resize": True,
        "size": {"longest_edge": 2 * _IMAGE_SIZE},  # a still is cut into up to 2 x 2 tiles
        "max_image_size": {"longest_edge": _IMAGE_SIZE},
        "do_image_splitting": True,
        "resample": 1,  # LANCZOS
        "do_rescale": True,
        "rescale_factor": 1 / 255,
        "do_normalize": True,
        "image_mean": [0.5, 0.5, 0.5],
        "image_std": [0.5, 0.5, 0.5],
        "do_pad": True,
        "video_sampling": {"fps": 1, "max_frames": 64,
                           "video_size": {"longest_edge": _IMAGE_SIZE}},
    }
    _write_json(folder / "preprocessor_config.json", preprocessor)
    _write_json(folder / "processor_config.json",
                {"image_seq_len": _IMAGE_SEQ_LEN, "processor_class": "SmolVLMProcessor"})
    (folder / "chat_template.jinja").write_text(DEFAULT_CHAT_TEMPLATE, encoding="utf-8")
    # The label loading.resolve reads: anything this model makes says "demo model".
    _write_json(folder / DEMO_MARKER, {"id": DEMO_CAPTIONER_ID, "kind": "captioner",
                                       "label": DEMO_LABEL})
    (folder / "README.md").write_text(
        "# Demo captioner (random weights)\n\n"
        "A tiny SmolVLM2 built offline by `studio models make-demo`. Its weights are random: "
        "it exercises the captioning pipeline, its captions mean nothing.\n", encoding="utf-8")


def _make_tokenizer():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE(unk_token=None))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=600, special_tokens=_SPECIAL, show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),  # any byte can be encoded
    )
    bpe.train_from_iterator(_CORPUS, trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        bos_token="<|im_start|>", eos_token="<end_of_utterance>", pad_token="<|endoftext|>",
        unk_token="<|endoftext|>",
        additional_special_tokens=[t for t in _SPECIAL if t.startswith("<row_")],
        extra_special_tokens=_EXTRA_SPECIAL,
        model_max_length=2048,
        padding_side="left",
    )


def _write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
