"""The default generator, LTX-Video 2B distilled, is published as one checkpoint in the original
(non-diffusers) layout. Here a tiny one is made from the tiny LTX-Video (its diffusers weights
renamed back to the original layout: the inverse of diffusers' own conversion), laid out in a
real on-disk Hugging Face cache as `studio models pull` leaves it (the file, and the base repo
without the transformer and VAE weights), and loaded through the same code as the real model,
with the hub switched off: the weights equal the tiny model's, and so do the frames."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from studio.cli import main
from studio.core import params as core_params
from studio.core.params import GenerationParams, rules_for
from studio.inference import loading, registry
from studio.inference.loading import ModelFolderError, ModelNotAvailableError, resolve
from tests.inference.test_loading import COMMIT, offline, put_in_hub_cache  # noqa: F401 (fixture)

DEFAULT = registry.DEFAULT_GENERATOR
SPEC = registry.get(DEFAULT)
PROMPT = "a red car on a street at night, cinematic"

# diffusers' LTX transformer conversion renames these (single_file_utils.
# convert_ltx_transformer_checkpoint_to_diffusers) and drops the "model.diffusion_model." prefix
TRANSFORMER_TO_ORIGINAL = {"proj_in": "patchify_proj", "time_embed": "adaln_single",
                           "norm_q": "q_norm", "norm_k": "k_norm"}
# diffusers' LTX-Video 0.9.0 VAE renames (convert_ltx_vae_checkpoint_to_diffusers), inverted for
# the tiny VAE's blocks: four levels of one resnet each, down/up-sampling at the first two, no
# channel changes between levels (so no conv_in/conv_out there)
VAE_TO_ORIGINAL = (
    (r"^encoder\.down_blocks\.(\d)\.downsamplers\.0", {"0": "1", "1": "4", "2": "7"},
     "encoder.down_blocks.{}"),
    (r"^encoder\.down_blocks\.(\d)\.resnets", {"0": "0", "1": "3", "2": "6", "3": "8"},
     "encoder.down_blocks.{}.res_blocks"),
    (r"^encoder\.mid_block\.resnets", None, "encoder.down_blocks.9.res_blocks"),
    (r"^decoder\.mid_block\.resnets", None, "decoder.up_blocks.0.res_blocks"),
    (r"^decoder\.up_blocks\.(\d)\.upsamplers\.0", {"1": "2", "2": "5", "3": "8"},
     "decoder.up_blocks.{}"),
    (r"^decoder\.up_blocks\.(\d)\.resnets", {"0": "1", "1": "3", "2": "6", "3": "9"},
     "decoder.up_blocks.{}.res_blocks"),
    (r"^latents_mean$", None, "per_channel_statistics.mean-of-means"),
    (r"^latents_std$", None, "per_channel_statistics.std-of-means"),
)


def original_transformer_key(key: str) -> str:
    for diffusers_name, original in TRANSFORMER_TO_ORIGINAL.items():
        key = key.replace(diffusers_name, original)
    return "model.diffusion_model." + key


def original_vae_key(key: str) -> str:
    for pattern, blocks, template in VAE_TO_ORIGINAL:
        match = re.match(pattern, key)
        if match:
            block = template.format(blocks[match[1]]) if blocks else template
            return "vae." + block + key[match.end():]
    return "vae." + key


def original_checkpoint(transformer, vae) -> dict:
    """The tiny model's transformer and VAE weights as one LTX-Video single-file checkpoint:
    transformer under "model.diffusion_model.", VAE under "vae.", with the VAE statistics the
    original files carry and diffusers drops."""
    import torch

    checkpoint = {original_transformer_key(k): v.detach().clone().contiguous()
                  for k, v in transformer.state_dict().items()}
    checkpoint.update({original_vae_key(k): v.detach().clone().contiguous()
                       for k, v in vae.state_dict().items()})
    channels = vae.config.latent_channels
    checkpoint["vae.per_channel_statistics.channel"] = torch.arange(channels, dtype=torch.float32)
    checkpoint["vae.per_channel_statistics.mean-of-stds"] = torch.ones(channels)
    return checkpoint


def save_checkpoint(checkpoint: dict, path: Path) -> Path:
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(checkpoint, str(path))
    return path


def as_ltx_condition_pipeline(folder: Path) -> Path:
    """``folder``'s pipeline class set to LTXConditionPipeline, as LTX-Video 0.9.5's repo (the
    default's base) names it."""
    index_path = folder / "model_index.json"
    index = json.loads(index_path.read_text())
    index["_class_name"] = "LTXConditionPipeline"
    index_path.write_text(json.dumps(index, indent=2))
    return folder


@pytest.fixture(scope="module")
def reference_dir(tiny_ltx_dir, tmp_path_factory):
    """The tiny LTX-Video in the diffusers layout, as an LTXConditionPipeline (a copy)."""
    folder = tmp_path_factory.mktemp("reference") / "ltx-tiny"
    shutil.copytree(tiny_ltx_dir, folder)
    (folder / loading.DEMO_MARKER).unlink()
    return as_ltx_condition_pipeline(folder)


@pytest.fixture(scope="module")
def reference(reference_dir):
    from studio.inference.generator import Generator

    return Generator.load(str(reference_dir), "cpu")


@pytest.fixture(scope="module")
def checkpoint_file(reference, tmp_path_factory):
    pipe = reference.pipeline("t2v")
    path = tmp_path_factory.mktemp("single") / SPEC.single_file.filename
    return save_checkpoint(original_checkpoint(pipe.transformer, pipe.vae), path)


def base_files(reference_dir: Path) -> dict[str, bytes]:
    """The base repo's files as `studio models pull` fetches them for the default (its
    patterns, through huggingface_hub's own filter): no transformer or VAE weights."""
    from huggingface_hub.utils import filter_repo_objects

    names = [p.relative_to(reference_dir).as_posix() for p in reference_dir.rglob("*")
             if p.is_file()]
    kept = filter_repo_objects(names, allow_patterns=loading.download_patterns(DEFAULT),
                               ignore_patterns=loading.ignore_patterns(DEFAULT))
    return {name: (reference_dir / name).read_bytes() for name in kept}


@pytest.fixture
def pulled(offline, reference_dir, checkpoint_file):  # noqa: F811 (fixture)
    """The default model in the (empty, offline) hub cache as a pull leaves it."""
    base = put_in_hub_cache(offline, SPEC.single_file.base, base_files(reference_dir))
    put_in_hub_cache(offline, SPEC.single_file.repo,
                     {SPEC.single_file.filename: checkpoint_file.read_bytes()})
    return base


def tiny_params(model, **changes) -> GenerationParams:
    values = {"model": str(model), "prompt": PROMPT, "negative_prompt": "", "width": 32,
              "height": 32, "num_frames": 9, "steps": 2, "guidance_scale": 3.0, "seed": 77,
              "seed_locked": True}
    values.update(changes)
    return GenerationParams(**values)


# ---- the registry entry ----------------------------------------------------------------------

def test_the_default_is_ltx_video_2b_distilled_from_its_single_file():
    assert core_params.DEFAULT_GENERATOR == DEFAULT == registry.GENERATORS[0].id
    assert SPEC.single_file == registry.SingleFile(
        "Lightricks/LTX-Video", "ltxv-2b-0.9.8-distilled.safetensors",
        base="Lightricks/LTX-Video-0.9.5", components=("transformer", "vae"))
    assert SPEC.loader == "LTXConditionPipeline" and "distilled" in SPEC.title
    d = SPEC.defaults
    assert (d["steps"], d["guidance_scale"]) == (8, 1.0)
    assert (d["decode_timestep"], d["decode_noise_scale"]) == (0.05, 0.025)
    assert list(d["timesteps"]) == [1000, 993, 987, 981, 975, 909, 725, 0.03]
    assert rules_for(DEFAULT).id == "ltx-2b-0.9.8-distilled"
    assert rules_for(DEFAULT).multiscale is not None and SPEC.upsampler is not None
    assert GenerationParams().model == DEFAULT and GenerationParams.defaults().steps == 8
    # 0.9.5 is the full model, named so
    assert "dev" in registry.get("Lightricks/LTX-Video-0.9.5").title


def test_pull_fetches_the_base_without_the_weights_the_file_replaces():
    from huggingface_hub.utils import filter_repo_objects

    listing = ["model_index.json", "README.md", "scheduler/scheduler_config.json",
               "text_encoder/config.json", "text_encoder/model-00001-of-00004.safetensors",
               "text_encoder/model.safetensors.index.json", "tokenizer/spiece.model",
               "tokenizer/tokenizer_config.json", "transformer/config.json",
               "transformer/diffusion_pytorch_model-00001-of-00002.safetensors",
               "transformer/diffusion_pytorch_model.safetensors.index.json", "vae/config.json",
               "vae/diffusion_pytorch_model.safetensors", "ltx-video-2b-v0.9.5.safetensors"]
    kept = set(filter_repo_objects(listing, allow_patterns=loading.download_patterns(DEFAULT),
                                   ignore_patterns=loading.ignore_patterns(DEFAULT)))
    assert kept == {"model_index.json", "scheduler/scheduler_config.json",
                    "text_encoder/config.json", "text_encoder/model-00001-of-00004.safetensors",
                    "text_encoder/model.safetensors.index.json", "tokenizer/spiece.model",
                    "tokenizer/tokenizer_config.json", "transformer/config.json",
                    "vae/config.json"}
    assert loading.ignore_patterns("Lightricks/LTX-Video-0.9.5") is None  # the dev model: all


# ---- not here --------------------------------------------------------------------------------

def test_not_downloaded_names_pull_with_its_id(offline):  # noqa: F811 (fixture)
    from studio.inference.generator import Generator

    for attempt in (lambda: resolve(DEFAULT, expect="generator"),
                    lambda: Generator.load(DEFAULT, "cpu")):
        with pytest.raises(ModelNotAvailableError) as info:
            attempt()
        assert f"studio models pull {DEFAULT}" in str(info.value)
        assert "Traceback" not in str(info.value)


def test_half_here_names_pull_with_its_id(offline, reference_dir, checkpoint_file):  # noqa: F811
    """The base repo without the file, then the file without the base: either way, the pull of
    the model (not of one of its repos) is what fixes it."""
    put_in_hub_cache(offline, SPEC.single_file.base, base_files(reference_dir))
    with pytest.raises(ModelNotAvailableError, match=re.escape(f"studio models pull {DEFAULT}")):
        resolve(DEFAULT)
    shutil.rmtree(offline)
    put_in_hub_cache(offline, SPEC.single_file.repo,
                     {SPEC.single_file.filename: checkpoint_file.read_bytes()})
    with pytest.raises(ModelNotAvailableError, match=re.escape(f"studio models pull {DEFAULT}")):
        resolve(DEFAULT)


def test_a_cut_short_checkpoint_says_pull_again(offline, reference_dir,  # noqa: F811
                                                checkpoint_file):
    put_in_hub_cache(offline, SPEC.single_file.base, base_files(reference_dir))
    data = checkpoint_file.read_bytes()
    put_in_hub_cache(offline, SPEC.single_file.repo,
                     {SPEC.single_file.filename: data[:len(data) - 100]})
    assert resolve(DEFAULT).single_file.name == SPEC.single_file.filename
    with pytest.raises(ModelFolderError) as info:
        resolve(DEFAULT, expect="generator")
    assert "cut short" in str(info.value) and SPEC.single_file.filename in str(info.value)
    assert f"studio models pull {DEFAULT}" in str(info.value)


# ---- here ------------------------------------------------------------------------------------

def test_resolves_offline_to_the_base_snapshot_and_the_file(pulled):
    found = resolve(DEFAULT, expect="generator")
    assert found.id == DEFAULT and not found.demo
    assert found.path == pulled and found.revision == COMMIT
    assert not list((found.path / "transformer").glob("*.safetensors"))  # never fetched
    assert found.single_file.name == SPEC.single_file.filename
    assert found.single_file.is_file() and found.single_file_revision == COMMIT
    assert found.single_file_components == ("transformer", "vae")


def test_loads_the_weights_of_the_file(pulled, reference):
    import torch

    from studio.inference.generator import Generator

    generator = Generator.load(DEFAULT, "cpu")
    assert generator.class_name == "LTXConditionPipeline" and not generator.demo
    pipe, ref = generator.pipeline("t2v"), reference.pipeline("t2v")
    for name in ("transformer", "vae", "text_encoder"):
        got, want = getattr(pipe, name).state_dict(), getattr(ref, name).state_dict()
        assert set(got) == set(want), name
        for key in want:
            assert torch.equal(got[key], want[key]), (name, key)
    record = generator.model_record()
    assert record["id"] == DEFAULT and record["revision"] == COMMIT
    assert record["single_file"]["revision"] == COMMIT
    assert record["single_file"]["path"].endswith(SPEC.single_file.filename)


def test_generates_what_the_diffusers_layout_model_generates(pulled, reference, reference_dir):
    from studio.inference.generator import Generator

    generator = Generator.load(DEFAULT, "cpu")
    # guidance 1: the registry model's guidance_rescale (0.7, diffusers' docs) acts only with
    # classifier-free guidance, which the reference folder has no registry entry to ask for
    out = generator.generate(tiny_params(DEFAULT, multiscale=False, guidance_scale=1.0))
    want = reference.generate(tiny_params(reference_dir, multiscale=False, guidance_scale=1.0))
    assert out.changes == want.changes
    assert out.params.replace(model=None) == want.params.replace(model=None)
    assert out.pipeline == want.pipeline == "LTXConditionPipeline"
    np.testing.assert_array_equal(out.frames, want.frames)
    assert out.frames.shape == (9, 32, 32, 3) and out.frames.std() > 0


def test_eight_steps_take_the_distilled_schedule(pulled, reference_dir):
    """At the default 8 steps the run uses the docs' timesteps for distilled LTX-Video: its
    frames equal a plain diffusers call with those timesteps, and not one without them."""
    import torch
    from diffusers import LTXConditionPipeline

    from studio.inference.generator import Generator

    generator = Generator.load(DEFAULT, "cpu")
    out = generator.generate(tiny_params(DEFAULT, steps=8, guidance_scale=1.0,
                                         multiscale=False))
    plain = LTXConditionPipeline.from_pretrained(reference_dir)
    plain.set_progress_bar_config(disable=True)

    def call(**schedule):
        video = plain(prompt=PROMPT, negative_prompt="", height=32, width=32, num_frames=9,
                      num_inference_steps=8, guidance_scale=1.0, frame_rate=24.0,
                      decode_timestep=0.05, decode_noise_scale=0.025, output_type="np",
                      max_sequence_length=256, image_cond_noise_scale=0.0,
                      guidance_rescale=0.7,
                      generator=torch.Generator("cpu").manual_seed(77), **schedule).frames[0]
        return (video * 255).round().astype(np.uint8)

    np.testing.assert_array_equal(
        out.frames, call(timesteps=[float(t) for t in registry.LTX_DISTILLED_TIMESTEPS]))
    assert not np.array_equal(out.frames, call())


def test_a_checkpoint_that_does_not_fit_the_config_is_refused(reference, reference_dir,
                                                              tmp_path):
    """Through the loader with a local base folder: a file missing a transformer weight, one
    with a weight of another shape, and one without the VAE are each named, before any weight
    is loaded (diffusers alone would leave such weights random, with a log warning)."""
    import torch

    from studio.inference.single_file import load_components

    pipe = reference.pipeline("t2v")
    whole = original_checkpoint(pipe.transformer, pipe.vae)
    assert set(load_components(save_checkpoint(whole, tmp_path / "whole.safetensors"),
                               reference_dir, ["transformer", "vae"])) == {"transformer", "vae"}

    missing = dict(whole)
    del missing["model.diffusion_model.proj_out.weight"]
    bad = save_checkpoint(missing, tmp_path / "missing.safetensors")
    with pytest.raises(ModelFolderError, match="1 weights missing, e.g. proj_out.weight") as info:
        load_components(bad, reference_dir, ["transformer", "vae"])
    assert str(bad) in str(info.value)

    wrong = dict(whole)
    wrong["model.diffusion_model.proj_out.weight"] = torch.zeros(3, 3)
    bad = save_checkpoint(wrong, tmp_path / "wrong.safetensors")
    with pytest.raises(ModelFolderError, match="another shape, e.g. proj_out.weight is \\[3, 3\\]"):
        load_components(bad, reference_dir, ["transformer"])

    transformer_only = {k: v for k, v in whole.items() if not k.startswith("vae.")}
    bad = save_checkpoint(transformer_only, tmp_path / "no-vae.safetensors")
    assert set(load_components(bad, reference_dir, ["transformer"])) == {"transformer"}
    with pytest.raises(ModelFolderError, match="holds no vae weights"):
        load_components(bad, reference_dir, ["transformer", "vae"])


# ---- studio models list ----------------------------------------------------------------------

def models_list(capsys) -> dict[str, dict]:
    assert main(["models", "list", "--json"]) == 0
    return {row["id"]: row for row in json.loads(capsys.readouterr().out)}


def test_models_list_shows_it_missing_then_here(offline, reference_dir, checkpoint_file,  # noqa: F811
                                                capsys):
    row = models_list(capsys)[DEFAULT]
    assert row["kind"] == "generator" and row["status"] == "missing"
    assert row["download_gb"] == SPEC.size_gb > 0

    base = put_in_hub_cache(offline, SPEC.single_file.base, base_files(reference_dir))
    put_in_hub_cache(offline, SPEC.single_file.repo,
                     {SPEC.single_file.filename: checkpoint_file.read_bytes()})
    rows = models_list(capsys)
    row = rows[DEFAULT]
    assert row["status"] == "ready" and row["path"] == str(base)
    assert row["size_bytes"] == checkpoint_file.stat().st_size + sum(
        len(data) for data in base_files(reference_dir).values())
    # the repo the file comes from holds many checkpoints, never all here: not a model row
    assert SPEC.single_file.repo not in rows

    assert main(["models", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    line = next(ln for ln in lines if ln.startswith(DEFAULT + " "))
    assert "here" in line and str(base) in line
    # the base repo, pulled without the weights the file replaces, is not "incomplete"
    assert rows[SPEC.single_file.base]["status"] == "incomplete"
    base_line = next(ln for ln in lines if ln.startswith(SPEC.single_file.base + " "))
    assert "shared parts only" in base_line and "pull again" not in base_line
