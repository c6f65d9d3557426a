"""The official multi-scale recipe of distilled LTX-Video 0.9.8, the default for those models:
a first pass at about 2/3 of the size to a latent, Lightricks' spatial latent upsampler (loaded
from its original single file), a refine pass at twice the first size, the frames resized to
the size asked for; every pipeline call recorded in ``calls`` and replayable as recorded."""

from __future__ import annotations

import json

import numpy as np
import pytest

from studio.cli import main
from studio.core.params import LTX_098_MULTISCALE, MultiScale, cost, rules_for
from studio.inference import registry
from studio.inference.loading import ModelNotAvailableError
from tests.inference.ltx_upsampler import tiny_upsampler, write_upsampler_file
from tests.inference.test_loading import offline, put_in_hub_cache  # noqa: F401 (fixture)
from tests.inference.test_single_file import (  # noqa: F401 (fixtures)
    DEFAULT,
    SPEC,
    checkpoint_file,
    pulled,
    reference,
    reference_dir,
    tiny_params,
)


@pytest.fixture
def with_upsampler(pulled, offline, checkpoint_file, tmp_path):  # noqa: F811 (fixture)
    """The default model as `studio models pull` leaves it: base, checkpoint and upsampler."""
    upsampler = write_upsampler_file(tmp_path / SPEC.upsampler.filename)
    assert SPEC.upsampler.repo == SPEC.single_file.repo  # beside the checkpoint
    put_in_hub_cache(offline, SPEC.upsampler.repo,
                     {SPEC.upsampler.filename: upsampler.read_bytes()})
    return pulled


@pytest.fixture
def default_generator(with_upsampler):
    from studio.inference.generator import Generator

    return Generator.load(DEFAULT, "cpu")


def test_the_recipe_is_the_docs_and_applies_to_the_098_distilled_models():
    recipe = rules_for(DEFAULT).multiscale
    assert recipe == LTX_098_MULTISCALE
    assert recipe.refine_timesteps == (1000, 909, 725, 421, 0)
    assert (recipe.refine_strength, recipe.adain_factor,
            recipe.tone_map_compression_ratio) == (0.999, 1.0, 0.6)
    assert recipe.refine_steps() == 4  # "effectively 4 inference steps out of 5"
    assert recipe.first_timesteps == registry.LTX_DISTILLED_TIMESTEPS  # one schedule, twice
    assert recipe.first_size(832, 480, 32) == (544, 320)  # the docs' 480x832 example
    assert recipe.refine_size(832, 480, 32) == (1088, 640)
    assert rules_for("Lightricks/LTX-Video-0.9.8-13B-distilled").multiscale == recipe
    for one_pass in ("Lightricks/LTX-Video-0.9.5", "Lightricks/LTX-Video-0.9.7-dev",
                     "THUDM/CogVideoX-2b", "demo/ltx-video-tiny"):
        assert rules_for(one_pass).multiscale is None
    for spec in registry.models("generator"):
        if rules_for(spec.id).family == "ltx":  # LTX-2's upsampler is in its own folder
            assert (spec.upsampler is not None) == (rules_for(spec.id).multiscale is not None)


def test_the_estimate_covers_both_passes():
    from studio.core.params import GenerationParams

    p = GenerationParams.defaults(DEFAULT, prompt="a")
    two, one = cost(p, rules_for(DEFAULT)), cost(p.replace(multiscale=False), rules_for(DEFAULT))
    assert two.breakdown_gb["upsampler_weights"] > 0
    assert two.latent_shape == (128, 16, 20, 32)  # the refine pass: 1024x640
    assert two.peak_memory_estimate_gb > one.peak_memory_estimate_gb


def test_the_default_run_takes_two_passes_at_the_size_asked_for(default_generator):
    steps, passes = [], []
    out = default_generator.generate(
        tiny_params(DEFAULT, width=96, height=64, steps=8, guidance_scale=1.0),
        on_progress=lambda done, total, eta: steps.append((done, total)),
        on_pass=lambda *a: passes.append(a))
    assert out.frames.shape == (9, 64, 96, 3) and out.frames.std() > 0
    first, up, refine = out.calls
    assert [c["pipeline"] for c in out.calls] == [
        "LTXConditionPipeline", "LTXLatentUpsamplePipeline", "LTXConditionPipeline"]
    # 2/3 of 96x64 is 64x42, rounded down to multiples of 32: 64x32; the refine pass 128x64
    assert (first["kwargs"]["width"], first["kwargs"]["height"]) == (64, 32)
    assert first["kwargs"]["timesteps"] == list(registry.LTX_DISTILLED_TIMESTEPS)
    assert first["kwargs"]["output_type"] == "latent"
    assert up["kwargs"]["latents"] == {"output_of_call": 0, "shape": [1, 8, 3, 8, 16]}
    assert up["kwargs"]["adain_factor"] == 1.0
    assert up["kwargs"]["tone_map_compression_ratio"] == 0.6
    assert (refine["kwargs"]["width"], refine["kwargs"]["height"]) == (128, 64)
    assert refine["kwargs"]["timesteps"] == [1000, 909, 725, 421, 0]
    assert refine["kwargs"]["denoise_strength"] == 0.999
    assert refine["kwargs"]["latents"] == {"output_of_call": 1, "shape": [1, 8, 3, 16, 32]}
    for call in (first, refine):
        assert call["kwargs"]["max_sequence_length"] == 256
        assert call["kwargs"]["guidance_rescale"] == 0.7
        assert call["kwargs"]["image_cond_noise_scale"] == 0.0
        assert call["kwargs"]["generator"] == {"device": "cpu", "manual_seed": 77}
    assert passes == [(1, 2, 0, 8), (2, 2, 8, 4)]
    assert steps == [(n, 12) for n in range(1, 13)]
    assert [(q["width"], q["height"], q["steps"]) for q in out.passes] == [(64, 32, 8),
                                                                          (128, 64, 4)]
    assert out.timings["upsample_s"] > 0
    assert default_generator.model_record()["upsampler"]["path"].endswith(SPEC.upsampler.filename)


def test_replaying_the_recorded_calls_gives_the_same_frames(default_generator):
    """Every argument of each call is in the record: the three calls made again from it alone
    (the latents each takes are the output of the call it names) give the same frames."""
    import cv2
    import torch

    out = default_generator.generate(tiny_params(DEFAULT, width=96, height=64, steps=8,
                                                 guidance_scale=1.0, seed=7))
    calls = json.loads(json.dumps(out.calls))  # as the sidecar holds them
    pipes = {"LTXConditionPipeline": default_generator.pipeline("t2v"),
             "LTXLatentUpsamplePipeline": default_generator.upsample_pipeline()}
    outputs = []
    for call in calls:
        kwargs = dict(call["kwargs"])
        seed = kwargs.pop("generator")["manual_seed"]
        if "latents" in kwargs:
            kwargs["latents"] = outputs[kwargs["latents"]["output_of_call"]]
        with torch.inference_mode():
            result = pipes[call["pipeline"]](generator=torch.Generator("cpu").manual_seed(seed),
                                             **kwargs)
        outputs.append(result.frames)
    video = (np.asarray(outputs[-1][0]) * 255).round().astype(np.uint8)
    video = np.stack([cv2.resize(f, (96, 64), interpolation=cv2.INTER_AREA) for f in video])
    np.testing.assert_array_equal(out.frames, video)


def test_no_multiscale_runs_one_pass_at_full_size(default_generator):
    out = default_generator.generate(tiny_params(DEFAULT, width=96, height=64, steps=8,
                                                 multiscale=False))
    assert [c["pipeline"] for c in out.calls] == ["LTXConditionPipeline"]
    kwargs = out.calls[0]["kwargs"]
    assert (kwargs["width"], kwargs["height"], kwargs["output_type"]) == (96, 64, "np")
    assert out.frames.shape == (9, 64, 96, 3) and not out.params.multiscale


def test_image_to_video_conditions_both_passes_on_the_picture(default_generator, media):
    out = default_generator.generate(tiny_params(
        DEFAULT, mode="i2v", image_path=str(media["png"]), width=96, height=64, steps=8))
    first, _up, refine = out.calls
    for call in (first, refine):
        (condition,) = call["kwargs"]["conditions"]
        assert condition["frame_index"] == 0 and condition["strength"] == 1.0
        assert condition["image"]["path"] == str(media["png"])
    assert out.frames.shape == (9, 64, 96, 3)


def test_a_missing_upsampler_says_how_to_get_it_or_run_one_pass(pulled, offline):  # noqa: F811
    from studio.inference.generator import Generator

    generator = Generator.load(DEFAULT, "cpu")
    with pytest.raises(ModelNotAvailableError) as info:
        generator.generate(tiny_params(DEFAULT, steps=8))
    message = str(info.value)
    assert SPEC.upsampler.filename in message and f"studio models pull {DEFAULT}" in message
    assert "--no-multiscale" in message
    assert generator.generate(tiny_params(DEFAULT, steps=8, multiscale=False)).frames.size


def test_a_local_folder_runs_one_pass(reference_dir,
                                                                       tmp_path):
    import shutil

    from studio.inference.generator import Generator

    folder = tmp_path / "LTX-Video-0.9.8-2B-distilled"  # the recipe's model, by its name
    shutil.copytree(reference_dir, folder)
    # a folder has no upsampler Studio knows of: its rules say one pass (so the panel does)
    assert rules_for(str(folder)).multiscale is None and rules_for(str(folder)).distilled
    generator = Generator.load(str(folder), "cpu")
    out = generator.generate(tiny_params(folder, steps=8))
    assert [c["pipeline"] for c in out.calls] == ["LTXConditionPipeline"]
    # a model with the recipe but no upsampler (none here today) falls back and says so
    changes = []
    assert generator._recipe(tiny_params(DEFAULT), rules_for(DEFAULT), changes) is None
    assert [(c.field, c.after) for c in changes] == [("multiscale", False)]


def test_the_cli_runs_both_passes_by_default_and_one_with_no_multiscale(with_upsampler,
                                                                        tmp_path, capsys):
    for flag, count in (([], 3), (["--no-multiscale"], 1)):
        out = tmp_path / f"run{count}.mp4"
        code = main(["generate", "a red car", "--model", DEFAULT, "--seed", "7", "--width",
                     "64", "--height", "64", "--frames", "9", "--device", "cpu", "-o",
                     str(out), *flag])
        assert code == 0, capsys.readouterr().err
        record = json.loads(out.with_suffix(".json").read_text())["settings"]
        assert len(record["calls"]) == count and record["seed"] == 7
        assert record["params"]["multiscale"] == (count == 3)


def test_the_upsampler_file_loads_as_diffusers_model(tmp_path):
    import torch

    from studio.inference.single_file import latent_upsampler_config, load_latent_upsampler

    want = tiny_upsampler()
    path = write_upsampler_file(tmp_path / "up.safetensors", want)
    assert latent_upsampler_config(path) == {
        "in_channels": 8, "mid_channels": 32, "num_blocks_per_stage": 1, "dims": 3,
        "spatial_upsample": True, "temporal_upsample": False}
    got = load_latent_upsampler(path)
    for key, value in want.state_dict().items():
        assert torch.equal(got.state_dict()[key], value), key


def test_a_file_that_is_not_an_upsampler_is_refused_naming_it(tmp_path, checkpoint_file):  # noqa: F811
    from studio.inference.loading import ModelFolderError
    from studio.inference.single_file import load_latent_upsampler

    with pytest.raises(ModelFolderError) as info:
        load_latent_upsampler(checkpoint_file)
    assert str(checkpoint_file) in str(info.value) and "upsampler" in str(info.value)


def test_multiscale_is_kept_in_the_settings_and_read_back():
    from studio.core.params import GenerationParams, ParamsError

    p = GenerationParams(prompt="a", multiscale=False)
    assert GenerationParams.from_dict(p.to_dict()).multiscale is False
    assert GenerationParams.from_dict({"prompt": "a"}).multiscale is True
    with pytest.raises(ParamsError):
        GenerationParams.from_dict({"prompt": "a", "multiscale": "yes"})
    assert isinstance(MultiScale().first_size(32, 32, 32), tuple)


def test_pull_fetches_the_upsampler_with_the_model(offline, tmp_path, monkeypatch):  # noqa: F811
    """The hub cannot be reached here: its two download functions are replaced by ones that
    record what `studio models pull` asks for."""
    import shutil

    import huggingface_hub
    from huggingface_hub import constants

    from studio.inference import loading

    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(
        10**15, 0, 10**15))
    asked = []
    monkeypatch.setattr(huggingface_hub, "snapshot_download",
                        lambda repo, **kw: asked.append(repo) or str(tmp_path))
    monkeypatch.setattr(huggingface_hub, "hf_hub_download",
                        lambda repo, filename, **kw: asked.append((repo, filename)) or "x")
    for model in (DEFAULT, "Lightricks/LTX-Video-0.9.8-13B-distilled"):
        asked.clear()
        loading.pull(model)
        assert (SPEC.upsampler.repo, SPEC.upsampler.filename) in asked
    asked.clear()
    loading.pull("Lightricks/LTX-Video-0.9.5")
    assert asked == ["Lightricks/LTX-Video-0.9.5"]  # no recipe, no upsampler


def test_a_video_to_video_run_keeps_multiscale_as_asked(default_generator, media):
    """v2v is one pass by the recipe's rule; its record still says multi-scale was on, so
    restoring it and switching to text-to-video runs both passes again."""
    out = default_generator.generate(tiny_params(
        DEFAULT, mode="v2v", source_path=str(media["h264_cfr"]), steps=8))
    assert [c["pipeline"] for c in out.calls] == ["LTXConditionPipeline"]
    assert out.params.multiscale is True
    assert all(c.field != "multiscale" for c in out.changes)


def test_models_list_counts_the_upsampler_with_the_model(with_upsampler, offline,  # noqa: F811
                                                         monkeypatch):
    """The upsampler lives in another repo than the model: a scan of the model's own files
    left its size out of the size on disk."""
    from studio.inference import loading

    def size():
        (model,) = [m for m in loading.cached_models() if m.id == DEFAULT]
        return model.size_bytes

    upsampler = loading.resolve_upsampler(DEFAULT, SPEC.upsampler).stat().st_size
    with_it = size()
    monkeypatch.setattr(loading, "upsampler_bytes", lambda model_id: 0)
    assert upsampler > 0 and with_it - size() == upsampler
