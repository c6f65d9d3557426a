"""A tiny LTX-Video pipeline with random weights, built offline in the real diffusers layout
(model_index.json; transformer/, vae/, text_encoder/, tokenizer/, scheduler/; safetensors), so
tests and `studio models make-demo` load it through the same ``LTXPipeline.from_pretrained``
a downloaded model goes through. What it makes is noise: it is labelled a demo model.

Sizes follow diffusers' own LTX pipeline tests (tests/pipelines/ltx/test_ltx.py). The tokenizer
is a T5 Unigram tokenizer over a few hundred pieces, so no sentencepiece file or download is
needed. torch, diffusers and transformers are imported inside the function.
"""

from __future__ import annotations

import os
import string
from pathlib import Path

DEMO_LTX_ID = "demo/ltx-video-tiny"
_SEED = 20250302
_TEXT_DIM = 32  # T5 d_model == the transformer's caption_channels
_WORDS = ("a the of and in on with at to from is are camera slowly moves pans zooms shot close "
          "wide view video scene person man woman dog cat car street city forest sea sky sun "
          "light night day walking running dancing sitting red blue green white black bright "
          "dark soft cinematic style realistic animation water tree house road mountain").split()


# The tiny transformer and VAE (diffusers' own LTX tests' sizes); tests build their published-repo
# stand-ins from the same configs. 4x spatial and 4x temporal compression; the decoder mirrors
# the encoder (its defaults are the full-size 128..512 channels).
TRANSFORMER_CONFIG = dict(
    in_channels=8, out_channels=8, patch_size=1, patch_size_t=1, num_attention_heads=4,
    attention_head_dim=8, cross_attention_dim=32, num_layers=1, caption_channels=_TEXT_DIM)
VAE_CONFIG = dict(
    latent_channels=8, block_out_channels=(8, 8, 8, 8), decoder_block_out_channels=(8, 8, 8, 8),
    layers_per_block=(1, 1, 1, 1, 1), decoder_layers_per_block=(1, 1, 1, 1, 1),
    spatio_temporal_scaling=(True, True, False, False),
    decoder_spatio_temporal_scaling=(True, True, False, False),
    decoder_inject_noise=(False, False, False, False, False),
    upsample_residual=(False, False, False, False), upsample_factor=(1, 1, 1, 1),
    patch_size=1, patch_size_t=1, encoder_causal=True, decoder_causal=False)


def make_demo_ltx(directory: str | os.PathLike) -> Path:
    """Build the tiny LTX-Video pipeline into ``directory`` (created; its files replaced) and
    return it. Written beside its final place and renamed in, so a reader never sees half of it."""
    from studio.inference.demo import build_folder

    return build_folder(directory, lambda folder: build_demo_ltx_pipeline().save_pretrained(
        folder, safe_serialization=True))


def build_demo_ltx_pipeline():
    """The tiny ``LTXPipeline`` in memory (random weights, fixed seed)."""
    import torch
    from diffusers import (
        AutoencoderKLLTXVideo,
        FlowMatchEulerDiscreteScheduler,
        LTXPipeline,
        LTXVideoTransformer3DModel,
    )
    from transformers import T5Config, T5EncoderModel

    tokenizer = _make_tokenizer()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(_SEED)
        transformer = LTXVideoTransformer3DModel(**TRANSFORMER_CONFIG)
        vae = AutoencoderKLLTXVideo(**VAE_CONFIG)
        text_encoder = T5EncoderModel(T5Config(
            vocab_size=len(tokenizer), d_model=_TEXT_DIM, d_kv=8, d_ff=37, num_layers=2,
            num_heads=4, relative_attention_num_buckets=8, dropout_rate=0.0,
            pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
            decoder_start_token_id=tokenizer.pad_token_id))
    scheduler = FlowMatchEulerDiscreteScheduler()
    return LTXPipeline(scheduler=scheduler, vae=vae, text_encoder=text_encoder,
                       tokenizer=tokenizer, transformer=transformer)


def _make_tokenizer():
    """A T5 (Unigram, Metaspace) tokenizer over single letters, digits and a few words: every
    prompt tokenizes, unknown words letter by letter."""
    from transformers import T5TokenizerFast

    pieces = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("\u2581", -2.0)]
    pieces += [("\u2581" + w, -5.0) for w in _WORDS]
    chars = string.ascii_lowercase + string.ascii_uppercase + string.digits + string.punctuation
    pieces += [(c, -8.0) for c in chars]
    pieces += [("\u2581" + c, -8.5) for c in chars if c not in _WORDS]  # "a" is a word already
    return T5TokenizerFast(vocab=pieces, extra_ids=0, model_max_length=128)
