"""A tiny LTX-2 pipeline (video and sound) with random weights, built offline in the real
diffusers layout (model_index.json naming LTX2Pipeline; transformer/, vae/, audio_vae/,
vocoder/, connectors/, text_encoder/ (Gemma 3), tokenizer/, scheduler/; safetensors), so tests
and `studio models make-demo` load it through the same ``from_pretrained`` a download goes
through. What it makes is noise, with a noise sound track: it is labelled a demo model.

Sizes follow diffusers' own LTX-2 pipeline tests (tests/pipelines/ltx2/test_ltx2.py), except:
the text encoder is a Gemma 3 built from a tiny config here (the tests download
hf-internal-testing/tiny-gemma3), the video VAE has two levels (4x in time and space, so a
64x64 video is a 16x16 latent), and the vocoder upsamples 240x as the real one does (6, 5, 2,
2, 2), so that 100 mel frames a second become 24000 samples a second: its
``output_sampling_rate``, a rate AAC takes.

Beside the pipeline's own folders, as the published LTX-2 repos have them: ``tokenizer/`` also
holds a ``Gemma3Processor`` (processor_config.json, preprocessor_config.json, a Gemma chat
template), which prompt enhancement needs (LTX-2's Gemma 3 text encoder writes the enhanced
prompt, diffusers' ``enhance_prompt``); and ``latent_upsampler/`` holds a tiny
``LTX2LatentUpsamplerModel`` (x2 in space, as diffusers' docs load Lightricks/LTX-2's with
``subfolder="latent_upsampler"``), so the demo runs the two-stage recipe. torch, diffusers and
transformers are imported inside the functions.

The dev shape (:func:`make_demo_ltx2_dev`): the same folder with a tiny distilled LoRA for the
tiny transformer at its root, where Lightricks/LTX-2 keeps ``ltx-2-19b-distilled-lora-384.
safetensors``, written by peft and diffusers' ``save_lora_weights``: stage 2 of a dev model's
two-stage recipe runs with it.
"""

from __future__ import annotations

import os
import string
from pathlib import Path

DEMO_LTX2_ID = "demo/ltx2-tiny"
SAMPLE_RATE = 24000  # the real LTX-2 vocoder's (LTX2Pipeline's docstring: "should be 24000")
_SEED = 20250317
_TEXT_DIM = 32  # Gemma's hidden size == the connectors' width == the transformer's caption_channels
_TEXT_LAYERS = 2
_SPECIALS = ("<pad>", "<eos>", "<bos>", "<unk>", "<mask>")
# Gemma 3's chat and image tokens (its tokenizer's names), atomic in the demo's tokenizer
_TURNS = ("<start_of_turn>", "<end_of_turn>")
_IMAGE_TOKENS = {"boi_token": "<start_of_image>", "eoi_token": "<end_of_image>",
                 "image_token": "<image_soft_token>"}
_IMAGE_SIDE = 32  # the vision tower's input (gemma3_config's vision_config.image_size)
_IMAGE_TOKENS_PER_IMAGE = 4  # gemma3_config's mm_tokens_per_image
# Gemma 3's chat layout, short: turns of "user" and "model", a system message folded into a
# user turn, a picture as <start_of_image> (Gemma3Processor expands it to the image tokens)
CHAT_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}"
    "{% set role = 'model' if message['role'] == 'assistant' else 'user' %}"
    "<start_of_turn>{{ role }}\n"
    "{% if message['content'] is string %}{{ message['content'] | trim }}"
    "{% else %}{% for item in message['content'] %}"
    "{% if item['type'] == 'image' %}<start_of_image>"
    "{% elif item['type'] == 'text' %}{{ item['text'] | trim }}{% endif %}"
    "{% endfor %}{% endif %}<end_of_turn>\n{% endfor %}"
    "{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}")

TRANSFORMER_CONFIG = dict(
    in_channels=4, out_channels=4, patch_size=1, patch_size_t=1, num_attention_heads=2,
    attention_head_dim=8, cross_attention_dim=16, audio_in_channels=4, audio_out_channels=4,
    audio_num_attention_heads=2, audio_attention_head_dim=4, audio_cross_attention_dim=8,
    num_layers=2, qk_norm="rms_norm_across_heads", caption_channels=_TEXT_DIM,
    rope_double_precision=False, rope_type="split")
CONNECTORS_CONFIG = dict(
    caption_channels=_TEXT_DIM, text_proj_in_factor=_TEXT_LAYERS + 1,
    video_connector_num_attention_heads=4, video_connector_attention_head_dim=8,
    video_connector_num_layers=1, video_connector_num_learnable_registers=None,
    audio_connector_num_attention_heads=4, audio_connector_attention_head_dim=8,
    audio_connector_num_layers=1, audio_connector_num_learnable_registers=None,
    connector_rope_base_seq_len=32, rope_theta=10000.0, rope_double_precision=False,
    causal_temporal_positioning=False, rope_type="split")
VAE_CONFIG = dict(
    in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(8, 8),
    decoder_block_out_channels=(8, 8), layers_per_block=(1, 1), decoder_layers_per_block=(1, 1, 1),
    spatio_temporal_scaling=(True, True), decoder_spatio_temporal_scaling=(True, True),
    decoder_inject_noise=(False, False, False), downsample_type=("spatiotemporal", "spatiotemporal"),
    upsample_residual=(False, False), upsample_factor=(1, 1), timestep_conditioning=False,
    patch_size=1, patch_size_t=1, encoder_causal=True, decoder_causal=False)
AUDIO_VAE_CONFIG = dict(
    base_channels=4, output_channels=2, ch_mult=(1,), num_res_blocks=1, attn_resolutions=None,
    in_channels=2, resolution=32, latent_channels=2, norm_type="pixel", causality_axis="height",
    dropout=0.0, mid_block_add_attention=False, sample_rate=16000, mel_hop_length=160,
    is_causal=True, mel_bins=8)
VOCODER_CONFIG = dict(
    in_channels=2 * 8, hidden_channels=32, out_channels=2, upsample_kernel_sizes=[12, 10, 4, 4, 4],
    upsample_factors=[6, 5, 2, 2, 2], resnet_kernel_sizes=[3], resnet_dilations=[[1, 3, 5]],
    leaky_relu_negative_slope=0.1, output_sampling_rate=SAMPLE_RATE)
# LTX2LatentUpsamplerModel's defaults (x2 in space, the rational resampler) at tiny width: the
# VAE's 4 latent channels, 32 wide (GroupNorm's 32 groups), one block a stage (the real one: 128
# channels, 1024 wide, 4 blocks)
UPSAMPLER_CONFIG = dict(in_channels=4, mid_channels=32, num_blocks_per_stage=1, dims=3,
                        spatial_upsample=True, temporal_upsample=False)
UPSAMPLER_FOLDER = "latent_upsampler"
# the tiny LoRA: rank 4 on the attention projections (Lightricks' distilled LoRAs: rank 384),
# its name matching studio.inference.ltx2_modes.DISTILLED_LORA_GLOB as Lightricks' names do
DEMO_DISTILLED_LORA = "ltx-2-tiny-distilled-lora-4.safetensors"
_LORA_RANK = 4
_LORA_TARGETS = ("to_q", "to_k", "to_v", "to_out.0")


def make_demo_ltx2(directory: str | os.PathLike) -> Path:
    """Build the tiny LTX-2 pipeline into ``directory`` (created; its files replaced) and
    return it. Written beside its final place and renamed in, so a reader never sees half of it."""
    from studio.inference.demo import build_folder

    return build_folder(directory, write_demo_ltx2)


def write_demo_ltx2(folder: Path) -> None:
    """The tiny pipeline's files in ``folder``: the pipeline's folders (save_pretrained), the
    Gemma3Processor beside its tokenizer and the latent upsampler."""
    pipe = build_demo_ltx2_pipeline()
    pipe.save_pretrained(folder, safe_serialization=True)
    make_processor(pipe.tokenizer).save_pretrained(Path(folder) / "tokenizer")
    build_demo_upsampler().save_pretrained(Path(folder) / UPSAMPLER_FOLDER,
                                           safe_serialization=True)


def make_demo_ltx2_dev(directory: str | os.PathLike) -> Path:
    """The tiny LTX-2 with its tiny distilled LoRA (a dev model's folder shape) in
    ``directory``, built beside it and renamed in."""
    from studio.inference.demo import build_folder

    return build_folder(directory, write_demo_ltx2_dev)


def write_demo_ltx2_dev(folder: Path) -> None:
    write_demo_ltx2(folder)
    write_demo_distilled_lora(folder)


def write_demo_distilled_lora(folder: Path) -> Path:
    """A LoRA for the tiny transformer (random weights, fixed seed: both of its matrices, so
    that it changes what the transformer makes), saved as diffusers saves an LTX-2 LoRA."""
    import torch
    from diffusers import LTX2Pipeline, LTX2VideoTransformer3DModel
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(_SEED + 2)
        transformer = LTX2VideoTransformer3DModel(**TRANSFORMER_CONFIG)
        transformer.add_adapter(LoraConfig(r=_LORA_RANK, lora_alpha=_LORA_RANK,
                                           target_modules=list(_LORA_TARGETS),
                                           init_lora_weights=False))
    LTX2Pipeline.save_lora_weights(folder, transformer_lora_layers=get_peft_model_state_dict(
        transformer), weight_name=DEMO_DISTILLED_LORA)
    return Path(folder) / DEMO_DISTILLED_LORA


def build_demo_upsampler():
    """The tiny ``LTX2LatentUpsamplerModel`` (random weights, fixed seed)."""
    import torch
    from diffusers.pipelines.ltx2.latent_upsampler import LTX2LatentUpsamplerModel

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(_SEED + 1)
        return LTX2LatentUpsamplerModel(**UPSAMPLER_CONFIG)


def make_processor(tokenizer):
    """Gemma 3's processor over ``tokenizer``: what diffusers' ``enhance_prompt`` builds the
    enhancer's chat prompt (and its picture, in image to video) with."""
    from transformers import Gemma3ImageProcessorPil, Gemma3Processor

    images = Gemma3ImageProcessorPil(size={"height": _IMAGE_SIDE, "width": _IMAGE_SIDE})
    return Gemma3Processor(image_processor=images, tokenizer=tokenizer,
                           chat_template=CHAT_TEMPLATE,
                           image_seq_length=_IMAGE_TOKENS_PER_IMAGE)


def build_demo_ltx2_pipeline():
    """The tiny ``LTX2Pipeline`` in memory (random weights, fixed seed)."""
    import torch
    from diffusers import (
        AutoencoderKLLTX2Audio,
        AutoencoderKLLTX2Video,
        FlowMatchEulerDiscreteScheduler,
        LTX2Pipeline,
        LTX2VideoTransformer3DModel,
    )
    from diffusers.pipelines.ltx2 import LTX2TextConnectors, LTX2Vocoder
    from transformers import Gemma3ForConditionalGeneration

    tokenizer = make_tokenizer()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(_SEED)
        text_encoder = Gemma3ForConditionalGeneration(gemma3_config(tokenizer))
        transformer = LTX2VideoTransformer3DModel(**TRANSFORMER_CONFIG)
        connectors = LTX2TextConnectors(**CONNECTORS_CONFIG)
        vae = AutoencoderKLLTX2Video(**VAE_CONFIG)
        audio_vae = AutoencoderKLLTX2Audio(**AUDIO_VAE_CONFIG)
        vocoder = LTX2Vocoder(**VOCODER_CONFIG)
    return LTX2Pipeline(scheduler=FlowMatchEulerDiscreteScheduler(), vae=vae,
                        audio_vae=audio_vae, text_encoder=text_encoder, tokenizer=tokenizer,
                        connectors=connectors, transformer=transformer, vocoder=vocoder)


def gemma3_config(tokenizer):
    """A Gemma 3 (text + SigLIP vision tower, as LTX-2's text encoder is) at tiny size, its
    image tokens those of ``tokenizer``."""
    from transformers import Gemma3Config

    vocab_size = len(tokenizer)
    return Gemma3Config(
        text_config=dict(vocab_size=vocab_size, hidden_size=_TEXT_DIM, intermediate_size=32,
                         num_hidden_layers=_TEXT_LAYERS, num_attention_heads=2,
                         num_key_value_heads=1, head_dim=8, max_position_embeddings=1024,
                         sliding_window=16, pad_token_id=0, eos_token_id=1, bos_token_id=2),
        vision_config=dict(hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                           num_attention_heads=2, image_size=_IMAGE_SIDE, patch_size=8),
        mm_tokens_per_image=_IMAGE_TOKENS_PER_IMAGE,
        image_token_index=tokenizer.image_token_id, boi_token_index=tokenizer.boi_token_id,
        eoi_token_index=tokenizer.eoi_token_id)


def make_tokenizer():
    """A Gemma tokenizer (BPE, no merges) over single characters and newlines: every prompt
    tokenizes, character by character. Gemma's special tokens: <pad> 0, <eos> 1, <bos> 2; its
    turn and image tokens whole; its chat template (the enhancer's prompt is built with it)."""
    from transformers import GemmaTokenizerFast

    chars = string.ascii_letters + string.digits + string.punctuation
    vocab = {token: i for i, token in enumerate((*_SPECIALS, "\u2581", *chars, "\n"))}
    tokenizer = GemmaTokenizerFast(vocab=vocab, merges=[], model_max_length=1024,
                                   extra_special_tokens=_IMAGE_TOKENS)
    tokenizer.add_tokens([*_TURNS, *_IMAGE_TOKENS.values()], special_tokens=True)
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer
