"""Tiny stand-ins for every registry model, laid out file for file as its Hugging Face repo
publishes it (notes: /tmp/layouts.md, from the hub's own listings), with random weights.

``REPO_BUILDERS[model_id](cache)`` puts the repos a registry entry needs into a Hugging Face hub
cache folder (``put_in_hub_cache``: blobs, snapshot symlinks, refs/main), as `studio models pull`
leaves them: each repo's published listing filtered through Studio's own download patterns
(``loading.download_patterns`` / ``ignore_patterns``), so a pattern that missed a file the model
needs (a ``spiece.model``, a shard) fails the load. Returns the snapshot ``resolve`` should find.

What is mimicked, and what is not:

- Names: every file and folder name of the real repo (README.md and .gitattributes too, which a
  pull leaves out), sharded weights where the real repo shards them (``model-0000N-of-0000M``
  and ``diffusion_pytorch_model-0000N-of-0000M`` + the ``.safetensors.index.json``), single
  files where it does not.
- model_index.json: the class and components the real repo names (LTX-Video 0.9.5:
  ``LTXPipeline`` with a slow ``T5Tokenizer``; 0.9.7-dev and 0.9.8-13B-distilled:
  ``LTXConditionPipeline``; CogVideoX-2b: ``CogVideoXPipeline`` with ``CogVideoXDDIMScheduler``;
  Wan 2.1: ``WanPipeline`` with ``UMT5EncoderModel``, ``T5TokenizerFast``,
  ``UniPCMultistepScheduler``).
- Tokenizers: T5's as LTX-Video and CogVideoX ship it (``spiece.model``, ``tokenizer_config.json``,
  ``special_tokens_map.json``, ``added_tokens.json``; no ``tokenizer.json``), Wan's UMT5 one
  (``spiece.model`` + ``tokenizer.json`` + the two configs), SmolVLM2's byte-level BPE
  (``tokenizer.json``, ``vocab.json``, ``merges.txt``, ``added_tokens.json``,
  ``special_tokens_map.json``, ``tokenizer_config.json``) with ``chat_template.json`` (no
  ``.jinja``) and ``processor_config.json``. The ``spiece.model`` is a real SentencePiece
  unigram model trained here (T5's ids: pad 0, eos 1, unk 2, no bos), over a few hundred words.
- Single files: LTX-Video 2B distilled 0.9.8 as one checkpoint in Lightricks' original key
  layout (transformer under ``model.diffusion_model.``, VAE under ``vae.``: the inverse of
  diffusers' conversion, tests/inference/test_single_file.py), and the 0.9.8 spatial upscaler
  (tests/inference/ltx_upsampler.py), both in ``Lightricks/LTX-Video``. The LTX-2 dev models'
  distilled LoRAs where registry.LoraFile says (Lightricks/LTX-2's root; Lightricks/LTX-2.3),
  in diffusers' LoRA layout, not Lightricks' original one.
- Sizes: tiny (diffusers' own pipeline tests' component sizes; Studio's demo LTX-Video), so the
  shapes differ from the real models'; CogVideoX's transformer keeps the real 90 x 60 latent
  grid (720 x 480 video) its rules fix. The LTX VAE is the tiny 0.9.0-style one of diffusers'
  tests (4x compression in time and space, no timestep conditioning).

Everything is built once per session (``functools.cache``) and kept as bytes.
"""

from __future__ import annotations

import functools
import io
import json
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from studio.inference import loading, registry
from tests.inference.test_loading import put_in_hub_cache

Files = dict[str, bytes]  # path in the repo -> content
Repos = dict[str, Files]  # hub repo id -> its files

LTX_2B_DISTILLED = registry.LTX_2B_DISTILLED_ID
LTX_095 = "Lightricks/LTX-Video-0.9.5"
LTX_13B_DISTILLED = "Lightricks/LTX-Video-0.9.8-13B-distilled"
LTX_097_DEV = "Lightricks/LTX-Video-0.9.7-dev"
COGVIDEOX_2B = "THUDM/CogVideoX-2b"
WAN_13B = "Wan-AI/Wan2.1-T2V-1.3B-Diffusers"
SMOL_256M = "HuggingFaceTB/SmolVLM2-256M-Video-Instruct"
SMOL_500M = "HuggingFaceTB/SmolVLM2-500M-Video-Instruct"
SMOL_2B = "HuggingFaceTB/SmolVLM2-2.2B-Instruct"

T5_EXTRA_IDS = 100  # T5 v1.1's sentinel tokens <extra_id_0..99> (added_tokens.json)
UMT5_EXTRA_IDS = 300  # UMT5's (google/umt5-xxl, Wan's tokenizer)
TEXT_DIM = 32  # the tiny T5 encoders' d_model == the transformers' caption/text width

# What the SentencePiece model learns from: caption-like English, a few hundred words.
SPIECE_CORPUS = """
A red car drives slowly down a quiet city street at night while rain falls on the pavement.
The camera pans across a wide mountain valley covered in snow, revealing jagged peaks.
A woman in a dark jacket walks away from a white jeep, then climbs a staircase.
Close-up of hands kneading dough on a wooden kitchen table, warm light, shallow depth of field.
Aerial shot of a green forest with a river winding through the valley under a bright morning sky.
Two people talk in a busy restaurant; the handheld camera moves between them as they laugh.
A timelapse of clouds moving over the hills at sunset, golden hour, cinematic colour grading.
A small dog runs across a sandy beach, chasing a ball thrown by a child near the waves.
A cat sits on a windowsill and watches birds fly past the garden fence in the afternoon.
The scene is captured in real-life footage with soft natural lighting and gentle motion.
An old man reads a newspaper on a park bench while pigeons gather around his feet.
Fireworks explode above a harbour, reflecting in the dark water as boats drift slowly.
A chef slices fresh vegetables quickly, the knife flashing under the bright studio lamps.
A train crosses a long stone bridge over a foggy canyon early in the morning.
Children play football on a dusty field, kicking up clouds of orange dust at dusk.
A hot air balloon rises above fields of yellow flowers, drifting toward distant blue mountains.
Waves crash against black rocks, sending white spray high into the cold grey air.
A musician plays guitar on a street corner as people stop, listen and clap their hands.
Snow falls quietly on a village of wooden houses with warm lights glowing in every window.
A robot arm assembles tiny electronic parts on a factory line with precise, repeated movements.
Worst quality, inconsistent motion, blurry, jittery, distorted, bright colors, symbols, graffiti.
The video shows a horse galloping through tall grass, its mane flowing in the wind.
Steam rises from a cup of coffee beside an open book on a rainy afternoon.
A lighthouse stands on a cliff while storm clouds gather over the churning sea.
A skateboarder jumps over a rail in an empty parking lot, landing smoothly.
Lanterns float into the night sky above a crowded festival square full of music.
A butterfly lands on a purple flower; the camera zooms in on its patterned wings.
"""
SPIECE_VOCAB = 256

_README = b"---\nlicense: other\n---\n# tiny stand-in (random weights) for a test\n"
_GITATTRIBUTES = (b"*.safetensors filter=lfs diff=lfs merge=lfs -text\n"
                  b"*.model filter=lfs diff=lfs merge=lfs -text\n")


# ---- laying repos out in a hub cache ----------------------------------------------------------

def pulled_files(model_id: str, files: Files) -> Files:
    """``files`` (a repo's published listing) as `studio models pull ID` fetches them: through
    huggingface_hub's own filter with Studio's patterns for ``model_id``."""
    from huggingface_hub.utils import filter_repo_objects

    kept = filter_repo_objects(list(files), allow_patterns=loading.download_patterns(model_id),
                               ignore_patterns=loading.ignore_patterns(model_id))
    return {name: files[name] for name in kept}


def lay_out(cache: Path, model_id: str, *, class_name: str | None = None) -> Path:
    """Registry entry ``model_id``'s repos in the hub cache ``cache`` as a pull leaves them.
    Returns the snapshot of the diffusers/transformers repo (a single-file model's base).
    ``class_name``: another ``_class_name`` for its model_index.json."""
    spec = registry.get(model_id)
    repos = published(model_id)
    main = spec.single_file.base if spec.single_file is not None else model_id
    snapshot = None
    for repo_id, files in repos.items():
        if repo_id == main:  # its download, and the side files a pull fetches from it
            files = {**pulled_files(model_id, files),
                     **{name: files[name] for repo, name in loading.side_files(model_id)
                        if repo == main and name in files}}
            if class_name is not None:
                index = json.loads(files["model_index.json"])
                files = {**files, "model_index.json": _json({**index, "_class_name": class_name})}
        path = put_in_hub_cache(cache, repo_id, files)
        if repo_id == main:
            snapshot = path
    assert snapshot is not None, model_id
    return snapshot


def published(model_id: str) -> Repos:
    """The repos (id -> published files) of registry entry ``model_id``, built once."""
    return _BUILDS[model_id]()


# ---- weights and their files ------------------------------------------------------------------

def _state_bytes(state: dict) -> bytes:
    from safetensors.torch import save

    return save({k: v.detach().contiguous() for k, v in state.items()}, metadata={"format": "pt"})


def shard(weights: bytes, stem: str, count: int) -> Files:
    """One safetensors file's tensors split into ``count`` shards, named and indexed as
    ``save_pretrained`` shards them: ``{stem}-00001-of-0000N.safetensors`` ... and
    ``{stem}.safetensors.index.json`` (total_size, weight_map)."""
    from safetensors.torch import load

    tensors = load(weights)
    names = list(tensors)
    assert len(names) >= count, (stem, len(names), count)
    files: Files = {}
    weight_map = {}
    for i, part in enumerate(np.array_split(np.arange(len(names)), count), start=1):
        shard_name = f"{stem}-{i:05d}-of-{count:05d}.safetensors"
        chunk = {names[j]: tensors[names[j]] for j in part}
        files[shard_name] = _state_bytes(chunk)
        weight_map.update(dict.fromkeys(chunk, shard_name))
    total = sum(t.numel() * t.element_size() for t in tensors.values())
    files[f"{stem}.safetensors.index.json"] = _json({"metadata": {"total_size": total},
                                                     "weight_map": weight_map})
    return files


def _json(data) -> bytes:
    return (json.dumps(data, indent=2, sort_keys=True) + "\n").encode()


def _saved(model, shards: int = 1) -> Files:
    """A diffusers or transformers model's folder as ``save_pretrained`` writes it (config and
    safetensors), its weights in ``shards`` files when the real repo shards them."""
    from transformers import PreTrainedModel

    from studio.inference.captioner import quiet_progress

    with tempfile.TemporaryDirectory() as tmp, quiet_progress():
        folder = Path(tmp) / "m"
        model.save_pretrained(folder, safe_serialization=True)
        files = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    stem = "model" if isinstance(model, PreTrainedModel) else "diffusion_pytorch_model"
    if shards > 1:
        single = files.pop(f"{stem}.safetensors")
        files.update(shard(single, stem, shards))
    return files


def _config_of(config_obj) -> Files:
    """A scheduler's folder: scheduler_config.json."""
    with tempfile.TemporaryDirectory() as tmp:
        config_obj.save_pretrained(tmp)
        return {p.name: p.read_bytes() for p in Path(tmp).iterdir() if p.is_file()}


def _in(folder: str, files: Files) -> Files:
    return {f"{folder}/{name}": data for name, data in files.items()}


def _seeded(seed: int, build: Callable):
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build()


# ---- tokenizers -------------------------------------------------------------------------------

@functools.cache
def spiece_model() -> bytes:
    """A real SentencePiece unigram model (``spiece.model``) with T5's special ids: pad 0,
    eos 1, unk 2, no bos; trained once per session."""
    import sentencepiece as spm

    sentences = [line.strip() for line in SPIECE_CORPUS.strip().splitlines()]
    out = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(sentences), model_writer=out, vocab_size=SPIECE_VOCAB,
        model_type="unigram", pad_id=0, eos_id=1, unk_id=2, bos_id=-1,
        character_coverage=1.0, num_threads=1, minloglevel=2)
    return out.getvalue()


def spiece_processor():
    import sentencepiece as spm

    return spm.SentencePieceProcessor(model_proto=spiece_model())


def _token(content: str) -> dict:
    return {"content": content, "lstrip": False, "normalized": False, "rstrip": False,
            "single_word": False}


def _t5_tokenizer_configs(extra_ids: int, model_max_length: int) -> tuple[dict, dict, dict]:
    """tokenizer_config.json, special_tokens_map.json and added_tokens.json of a T5 tokenizer
    as transformers 4 saved them (the hub repos' files): sentinels <extra_id_N> at the top of
    the vocabulary, counting down."""
    vocab = SPIECE_VOCAB
    extras = [f"<extra_id_{i}>" for i in range(extra_ids)]
    added = {token: vocab + extra_ids - 1 - i for i, token in enumerate(extras)}
    decoder = {str(i): {**_token(t), "special": True}
               for i, t in ((0, "<pad>"), (1, "</s>"), (2, "<unk>"))}
    for token, i in sorted(added.items(), key=lambda item: item[1]):
        decoder[str(i)] = {**_token(token), "special": True}
    config = {"add_prefix_space": True, "added_tokens_decoder": decoder,
              "additional_special_tokens": extras, "clean_up_tokenization_spaces": True,
              "eos_token": "</s>", "extra_ids": extra_ids, "legacy": True,
              "model_max_length": model_max_length, "pad_token": "<pad>", "sp_model_kwargs": {},
              "tokenizer_class": "T5Tokenizer", "unk_token": "<unk>"}
    special = {"additional_special_tokens": extras, "eos_token": _token("</s>"),
               "pad_token": _token("<pad>"), "unk_token": _token("<unk>")}
    return config, special, added


def t5_tokenizer_files(model_max_length: int = 128) -> Files:
    """T5 v1.1's tokenizer folder as LTX-Video and CogVideoX publish it: the SentencePiece
    model and three JSON files, no tokenizer.json (transformers converts the slow one)."""
    config, special, added = _t5_tokenizer_configs(T5_EXTRA_IDS, model_max_length)
    return {"added_tokens.json": _json(added), "special_tokens_map.json": _json(special),
            "spiece.model": spiece_model(), "tokenizer_config.json": _json(config)}


@functools.cache
def umt5_tokenizer_files() -> Files:
    """UMT5's tokenizer folder as Wan 2.1 publishes it: spiece.model, tokenizer.json (the fast
    tokenizer converted from it), special_tokens_map.json, tokenizer_config.json."""
    from transformers import AutoTokenizer

    config, special, _ = _t5_tokenizer_configs(UMT5_EXTRA_IDS, 512)
    config.update(add_prefix_space=None, legacy=None, spaces_between_special_tokens=False)
    config = {k: v for k, v in config.items() if v is not None}
    files = {"spiece.model": spiece_model(), "special_tokens_map.json": _json(special),
             "tokenizer_config.json": _json(config)}
    with tempfile.TemporaryDirectory() as tmp:
        for name, data in files.items():
            (Path(tmp) / name).write_bytes(data)
        tokenizer = AutoTokenizer.from_pretrained(tmp)
        tokenizer.backend_tokenizer.save(str(Path(tmp) / "tokenizer.json"))
        files["tokenizer.json"] = (Path(tmp) / "tokenizer.json").read_bytes()
    return files


def t5_vocab_size(extra_ids: int) -> int:
    return SPIECE_VOCAB + extra_ids


# ---- text encoders ----------------------------------------------------------------------------

def tiny_t5_encoder(seed: int, *, extra_ids: int = T5_EXTRA_IDS, umt5: bool = False):
    """T5 v1.1's encoder (gated GELU, untied embeddings), or UMT5's, at tiny size."""
    from transformers import T5Config, T5EncoderModel, UMT5Config, UMT5EncoderModel

    sizes = dict(vocab_size=t5_vocab_size(extra_ids), d_model=TEXT_DIM, d_kv=8, d_ff=37,
                 num_layers=2, num_heads=4, relative_attention_num_buckets=8, dropout_rate=0.0,
                 feed_forward_proj="gated-gelu", tie_word_embeddings=False, pad_token_id=0,
                 eos_token_id=1, decoder_start_token_id=0)
    if umt5:
        return _seeded(seed, lambda: UMT5EncoderModel(UMT5Config(**sizes)).eval())
    return _seeded(seed, lambda: T5EncoderModel(T5Config(**sizes)).eval())


# ---- LTX-Video --------------------------------------------------------------------------------

def tiny_ltx_transformer(seed: int, layers: int = 1):
    """LTX-Video's transformer at the demo's size (8 latent channels, width 32); the 13B
    stand-ins have a second block."""
    from diffusers import LTXVideoTransformer3DModel

    from studio.inference.demo_ltx import TRANSFORMER_CONFIG

    return _seeded(seed, lambda: LTXVideoTransformer3DModel(
        **{**TRANSFORMER_CONFIG, "num_layers": layers, "caption_channels": TEXT_DIM}).eval())


def tiny_ltx_vae(seed: int):
    """The LTX VAE of diffusers' LTX tests and Studio's demo (4x in time and space)."""
    from diffusers import AutoencoderKLLTXVideo

    from studio.inference.demo_ltx import VAE_CONFIG

    return _seeded(seed, lambda: AutoencoderKLLTXVideo(**VAE_CONFIG).eval())


def ltx_scheduler_files() -> Files:
    from diffusers import FlowMatchEulerDiscreteScheduler

    # diffusers' conversion script for 0.9.5 and 0.9.7: use_dynamic_shifting=False
    return _config_of(FlowMatchEulerDiscreteScheduler(use_dynamic_shifting=False))


def ltx_model_index(class_name: str, version: str) -> bytes:
    return _json({"_class_name": class_name, "_diffusers_version": version,
                  "scheduler": ["diffusers", "FlowMatchEulerDiscreteScheduler"],
                  "text_encoder": ["transformers", "T5EncoderModel"],
                  "tokenizer": ["transformers", "T5Tokenizer"],
                  "transformer": ["diffusers", "LTXVideoTransformer3DModel"],
                  "vae": ["diffusers", "AutoencoderKLLTXVideo"]})


def ltx_repo(class_name: str, version: str, *, seed: int, layers: int,
             transformer_shards: int) -> Files:
    """An LTX-Video diffusers repo: model_index.json, scheduler/, text_encoder/ (four shards:
    the 19 GB fp32 T5-XXL encoder), tokenizer/ (spiece), transformer/ (sharded as published),
    vae/ (one file)."""
    files: Files = {"model_index.json": ltx_model_index(class_name, version),
                    "README.md": _README, ".gitattributes": _GITATTRIBUTES}
    files.update(_in("scheduler", ltx_scheduler_files()))
    files.update(_in("text_encoder", _saved(tiny_t5_encoder(seed), shards=4)))
    files.update(_in("tokenizer", t5_tokenizer_files()))
    files.update(_in("transformer", _saved(tiny_ltx_transformer(seed + 1, layers),
                                           shards=transformer_shards)))
    files.update(_in("vae", _saved(tiny_ltx_vae(seed + 2))))
    return files


@functools.cache
def ltx_095_files() -> Files:
    """Lightricks/LTX-Video-0.9.5: model_index names LTXPipeline (the hub's tag); the 2B
    transformer in two shards (as Lightricks/LTX-Video's diffusers folders: UNCONFIRMED for
    this repo)."""
    return ltx_repo("LTXPipeline", "0.33.0.dev0", seed=95, layers=1, transformer_shards=2)


@functools.cache
def upsampler_file() -> bytes:
    from tests.inference.ltx_upsampler import write_upsampler_file

    with tempfile.TemporaryDirectory() as tmp:
        return write_upsampler_file(Path(tmp) / "up.safetensors").read_bytes()


@functools.cache
def ltx_2b_distilled_checkpoint() -> bytes:
    """ltxv-2b-0.9.8-distilled.safetensors: the transformer and VAE of 0.9.5's configs (other
    weights than 0.9.5's own) in the original key layout, with a config in the metadata as
    Lightricks' files carry one (its content here is a stand-in)."""
    from safetensors.torch import save

    from tests.inference.test_single_file import original_checkpoint

    transformer, vae = tiny_ltx_transformer(981, 1), tiny_ltx_vae(982)
    checkpoint = original_checkpoint(transformer, vae)
    config = {"transformer": dict(transformer.config), "vae": dict(vae.config),
              "allowed_inference_steps": [1.0, 0.9937, 0.9875, 0.9812, 0.975, 0.9094, 0.725]}
    return save(checkpoint, metadata={"config": json.dumps(config, default=list)})


def _ltx_2b_distilled() -> Repos:
    single = registry.get(LTX_2B_DISTILLED).single_file
    upsampler = registry.get(LTX_2B_DISTILLED).upsampler
    assert upsampler.repo == single.repo
    return {single.base: ltx_095_files(),
            single.repo: {single.filename: ltx_2b_distilled_checkpoint(),
                          upsampler.filename: upsampler_file()}}


def _ltx_095() -> Repos:
    return {LTX_095: ltx_095_files()}


@functools.cache
def _ltx_13b_distilled() -> Repos:
    upsampler = registry.get(LTX_13B_DISTILLED).upsampler
    return {LTX_13B_DISTILLED: ltx_repo("LTXConditionPipeline", "0.34.0.dev0", seed=98,
                                        layers=2, transformer_shards=6),
            upsampler.repo: {upsampler.filename: upsampler_file()}}


@functools.cache
def _ltx_097_dev() -> Repos:
    return {LTX_097_DEV: ltx_repo("LTXConditionPipeline", "0.34.0.dev0", seed=97, layers=2,
                                  transformer_shards=6)}


# ---- CogVideoX --------------------------------------------------------------------------------

@functools.cache
def _cogvideox_2b() -> Repos:
    """THUDM/CogVideoX-2b: CogVideoXPipeline; text encoder in two shards, transformer and VAE
    one file each; the transformer's latent grid is the real one (sample_width 90 x
    sample_height 60, 49 frames: 720 x 480 video), its widths diffusers' test's. The VAE is
    thinner than the test's (4 channels, one resnet per decoder level): decoding 9 frames of
    720 x 480 with the test's took 20 s on two CPU cores, this one about 4."""
    from diffusers import AutoencoderKLCogVideoX, CogVideoXDDIMScheduler, CogVideoXTransformer3DModel

    transformer = _seeded(21, lambda: CogVideoXTransformer3DModel(
        num_attention_heads=4, attention_head_dim=8, in_channels=16, out_channels=16,
        time_embed_dim=2, text_embed_dim=TEXT_DIM, num_layers=1, sample_width=90,
        sample_height=60, sample_frames=49, patch_size=2, temporal_compression_ratio=4,
        max_text_seq_length=226).eval())
    vae = _seeded(22, lambda: AutoencoderKLCogVideoX(
        in_channels=3, out_channels=3, down_block_types=("CogVideoXDownBlock3D",) * 4,
        up_block_types=("CogVideoXUpBlock3D",) * 4, block_out_channels=(4, 4, 4, 4),
        latent_channels=16, layers_per_block=0, norm_num_groups=2,
        temporal_compression_ratio=4, sample_height=480, sample_width=720,
        scaling_factor=1.15258426).eval())
    # the repo's scheduler_config.json (CogVideoX's v-prediction DDIM, zero-SNR, trailing)
    scheduler = CogVideoXDDIMScheduler(
        beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False,
        set_alpha_to_one=True, steps_offset=0, prediction_type="v_prediction",
        rescale_betas_zero_snr=True, timestep_spacing="trailing", snr_shift_scale=3.0)
    index = {"_class_name": "CogVideoXPipeline", "_diffusers_version": "0.30.0.dev0",
             "scheduler": ["diffusers", "CogVideoXDDIMScheduler"],
             "text_encoder": ["transformers", "T5EncoderModel"],
             "tokenizer": ["transformers", "T5Tokenizer"],
             "transformer": ["diffusers", "CogVideoXTransformer3DModel"],
             "vae": ["diffusers", "AutoencoderKLCogVideoX"]}
    files: Files = {"model_index.json": _json(index), "README.md": _README,
                    "README_zh.md": _README, "LICENSE": b"license\n",
                    ".gitattributes": _GITATTRIBUTES, ".gitignore": b"*.pyc\n"}
    files.update(_in("scheduler", _config_of(scheduler)))
    files.update(_in("text_encoder", _saved(tiny_t5_encoder(23), shards=2)))
    files.update(_in("tokenizer", t5_tokenizer_files(model_max_length=226)))
    files.update(_in("transformer", _saved(transformer)))
    files.update(_in("vae", _saved(vae)))
    return {COGVIDEOX_2B: files}


# ---- Wan 2.1 ----------------------------------------------------------------------------------

@functools.cache
def _wan_13b() -> Repos:
    """Wan-AI/Wan2.1-T2V-1.3B-Diffusers: WanPipeline; UMT5 text encoder in five shards, the
    transformer in two, the VAE one file; sizes of diffusers' Wan test."""
    from diffusers import AutoencoderKLWan, UniPCMultistepScheduler, WanTransformer3DModel

    transformer = _seeded(31, lambda: WanTransformer3DModel(
        patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=12, in_channels=16,
        out_channels=16, text_dim=TEXT_DIM, freq_dim=256, ffn_dim=32, num_layers=2,
        cross_attn_norm=True, qk_norm="rms_norm_across_heads", rope_max_seq_len=32).eval())
    vae = _seeded(32, lambda: AutoencoderKLWan(
        base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1,
        temperal_downsample=[False, True, True]).eval())
    scheduler = UniPCMultistepScheduler(prediction_type="flow_prediction", use_flow_sigmas=True,
                                        flow_shift=3.0, num_train_timesteps=1000)
    index = {"_class_name": "WanPipeline", "_diffusers_version": "0.33.0.dev0",
             "scheduler": ["diffusers", "UniPCMultistepScheduler"],
             "text_encoder": ["transformers", "UMT5EncoderModel"],
             "tokenizer": ["transformers", "T5TokenizerFast"],
             "transformer": ["diffusers", "WanTransformer3DModel"],
             "vae": ["diffusers", "AutoencoderKLWan"]}
    files: Files = {"model_index.json": _json(index), "README.md": _README,
                    ".gitattributes": _GITATTRIBUTES}
    files.update(_in("scheduler", _config_of(scheduler)))
    files.update(_in("text_encoder", _saved(tiny_t5_encoder(33, extra_ids=UMT5_EXTRA_IDS,
                                                            umt5=True), shards=5)))
    files.update(_in("tokenizer", umt5_tokenizer_files()))
    files.update(_in("transformer", _saved(transformer, shards=2)))
    files.update(_in("vae", _saved(vae)))
    return {WAN_13B: files}


# ---- SmolVLM2 ---------------------------------------------------------------------------------

SMOL_EXTRA_TOKENS = {"end_of_utterance_token": "<end_of_utterance>",
                     "fake_image_token": "<fake_token_around_image>",
                     "global_image_token": "<global-img>", "image_token": "<image>"}


@functools.cache
def _smolvlm_base() -> Files:
    """The tiny SmolVLM2 (Studio's demo builder: weights, config, generation config,
    tokenizer.json, preprocessor and processor configs), its files rewritten as the
    HuggingFaceTB repos publish them."""
    from transformers.models.smolvlm.processing_smolvlm import DEFAULT_CHAT_TEMPLATE

    from studio.inference.demo import make_demo_captioner

    with tempfile.TemporaryDirectory() as tmp:
        folder = make_demo_captioner(Path(tmp) / "smol")
        files = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    for name in (loading.DEMO_MARKER, "chat_template.jinja", "README.md", "tokenizer_config.json"):
        files.pop(name, None)
    tokenizer = json.loads(files["tokenizer.json"])
    bpe = tokenizer["model"]
    files["vocab.json"] = json.dumps(bpe["vocab"], ensure_ascii=False).encode()
    files["merges.txt"] = ("#version: 0.2\n" + "".join(
        (" ".join(m) if isinstance(m, list) else m) + "\n" for m in bpe["merges"])).encode()
    added = {t["content"]: t["id"] for t in tokenizer["added_tokens"]}
    files["added_tokens.json"] = _json(added)
    additional = ["<fake_token_around_image>", "<image>", "<end_of_utterance>"]
    files["special_tokens_map.json"] = _json({
        "additional_special_tokens": [_token(t) for t in additional],
        "bos_token": _token("<|im_start|>"), "eos_token": _token("<end_of_utterance>"),
        "pad_token": _token("<|im_end|>"), "unk_token": _token("<|endoftext|>")})
    files["tokenizer_config.json"] = _json({
        "add_prefix_space": False,
        "added_tokens_decoder": {str(t["id"]): {**_token(t["content"]), "special": t["special"]}
                                 for t in tokenizer["added_tokens"]},
        "additional_special_tokens": additional, "bos_token": "<|im_start|>",
        "clean_up_tokenization_spaces": False, "eos_token": "<end_of_utterance>",
        "extra_special_tokens": SMOL_EXTRA_TOKENS, **SMOL_EXTRA_TOKENS,
        "legacy": False, "model_max_length": 8192, "pad_token": "<|im_end|>",
        "processor_class": "SmolVLMProcessor", "tokenizer_class": "GPT2Tokenizer",
        "truncation_side": "left", "unk_token": "<|endoftext|>",
        "vocab_size": len(bpe["vocab"])})
    files["chat_template.json"] = _json({"chat_template": DEFAULT_CHAT_TEMPLATE})
    files["README.md"] = _README
    files[".gitattributes"] = _GITATTRIBUTES
    return files


def _smolvlm(model_id: str, *, shards: int = 1, onnx: bool = True) -> Repos:
    files = dict(_smolvlm_base())
    if shards > 1:
        files.update(shard(files.pop("model.safetensors"), "model", shards))
    if onnx:  # the 256M and 500M repos' onnx/ exports (Studio does not fetch them)
        files["onnx/vision_encoder.onnx"] = b"onnx export, not fetched"
    return {model_id: files}


LTX2_IDS = tuple(m.id for m in registry.models("generator")
                 if m.loader == "LTX2Pipeline" and not m.demo)


@functools.cache
def _ltx2_files() -> Files:
    """An LTX-2 repo in the diffusers layout: the tiny LTX-2 (studio.inference.demo_ltx2) as
    ``save_pretrained`` writes it (model_index.json naming LTX2Pipeline; transformer/, vae/,
    audio_vae/, vocoder/, connectors/, text_encoder/ (Gemma 3), tokenizer/ (tokenizer.json),
    scheduler/). The real repos' listings were not read: shard counts and any files beside
    these (Lightricks/LTX-2's original single-file checkpoints at its root, which Studio's
    patterns leave out) are not mimicked."""
    from studio.inference.captioner import quiet_progress
    from studio.inference.demo_ltx2 import build_demo_ltx2_pipeline

    with tempfile.TemporaryDirectory() as tmp, quiet_progress():
        folder = Path(tmp) / "m"
        build_demo_ltx2_pipeline().save_pretrained(folder, safe_serialization=True)
        files = {p.relative_to(folder).as_posix(): p.read_bytes()
                 for p in folder.rglob("*") if p.is_file()}
    return {**files, "README.md": b"# LTX-2\n", "ltx-2-19b-dev.safetensors": b"not fetched"}


@functools.cache
def distilled_lora_file() -> bytes:
    """A distilled LoRA for the tiny LTX-2's transformer (studio.inference.demo_ltx2's, rank 4,
    in diffusers' LoRA layout; Lightricks publishes theirs in the original layout, which
    diffusers' LTX-2 LoRA loader converts on load)."""
    from studio.inference.demo_ltx2 import write_demo_distilled_lora

    with tempfile.TemporaryDirectory() as tmp:
        return write_demo_distilled_lora(Path(tmp)).read_bytes()


def _ltx2_repos(model_id: str) -> Repos:
    """An LTX-2 repo (``_ltx2_files``) and, for a dev model, its distilled LoRA where the
    registry's LoraFile says: at the repo's root (Lightricks/LTX-2) or in a repo of its own
    (LTX-2.3's, in Lightricks/LTX-2.3, with its README)."""
    repos: Repos = {model_id: dict(_ltx2_files())}
    lora = registry.get(model_id).distilled_lora
    if lora is not None:
        repos.setdefault(lora.repo, {"README.md": b"# LTX-2.3\n"})[lora.filename] = \
            distilled_lora_file()
    return repos


_BUILDS: dict[str, Callable[[], Repos]] = {
    LTX_2B_DISTILLED: _ltx_2b_distilled,
    LTX_095: _ltx_095,
    LTX_13B_DISTILLED: _ltx_13b_distilled,
    LTX_097_DEV: _ltx_097_dev,
    COGVIDEOX_2B: _cogvideox_2b,
    WAN_13B: _wan_13b,
    SMOL_256M: functools.cache(lambda: _smolvlm(SMOL_256M)),
    SMOL_500M: functools.cache(lambda: _smolvlm(SMOL_500M)),
    SMOL_2B: functools.cache(lambda: _smolvlm(SMOL_2B, shards=2, onnx=False)),
    **{model_id: functools.partial(_ltx2_repos, model_id) for model_id in LTX2_IDS},
}

# registry id -> lay the entry's repos out in a hub cache folder; returns the main snapshot
REPO_BUILDERS: dict[str, Callable[[Path], Path]] = {
    model_id: functools.partial(lay_out, model_id=model_id) for model_id in _BUILDS}
