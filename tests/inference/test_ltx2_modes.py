"""LTX-2's modes beyond text to video, its two-stage recipe and its prompt enhancement (issue
17, item 2), with the tiny LTX-2 (studio.inference.demo_ltx2: the real architecture at tiny
size, its Gemma3Processor beside the tokenizer and a tiny latent upsampler in
latent_upsampler/, saved with save_pretrained) loaded through Studio's loading path.

Every run's recorded calls (``settings.calls``) are made again with plain diffusers: pipelines
from_pretrained from the folder (the other modes' with from_pipe), the upsampler from its
subfolder, pictures and clips read back from the files the record names, each latent input the
output of the call the record names. The frames and the sound equal Studio's."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import av
import numpy as np
import pytest

from studio.cli import main
from studio.core.params import (
    LTX2_DEV_TWO_STAGE,
    LTX2_DISTILLED_SIGMAS,
    LTX2_STAGE_2_SIGMAS,
    LTX2_TWO_STAGE,
    Condition,
    GenerationParams,
    conform,
    rules_for,
)
from studio.inference.demo_ltx2 import DEMO_LTX2_ID, SAMPLE_RATE
from tests.media_factory import make_image, make_video

PROMPT = "a dog barks at the waves on a windy beach"
DEV_ID = "demo/ltx2-dev-tiny"  # the demo's rules as a dev model's (core.params.DEMO_LTX2_DEV)


def params(model, **changes) -> GenerationParams:
    """One pass unless asked: the tiny folder's own rules have no recipe (a folder's never
    do); runs that name the demo's id take its two stages."""
    values = {"prompt": PROMPT, "seed": 11, "seed_locked": True, "steps": 2, **changes}
    return GenerationParams.defaults(str(model), **values)


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    """A picture and a 25-frame clip at the demo's 64x64 (so nothing is cropped or scaled and a
    replay reads them back as they are)."""
    folder = tmp_path_factory.mktemp("ltx2-sources")
    return {"picture": make_image(folder / "still.png", width=64, height=64, index=3),
            "other": make_image(folder / "other.png", width=64, height=64, index=9),
            "clip": make_video(folder / "walk.mp4", width=64, height=64, frames=25)}


# ---- a plain diffusers replay -------------------------------------------------------------------

def _picture(described: dict):
    import PIL.Image

    return PIL.Image.open(described["path"]).convert("RGB")


def _clip(described: dict) -> list:
    """The clip's frames first_frame..last_frame, decoded with PyAV."""
    import PIL.Image

    with av.open(described["path"]) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    return [PIL.Image.fromarray(f) for f in
            frames[described["first_frame"]:described["last_frame"] + 1]]


def _condition(described: dict):
    from diffusers.pipelines.ltx2.pipeline_ltx2_condition import LTX2VideoCondition

    frames = _picture(described["image"]) if "image" in described else _clip(described["video"])
    return LTX2VideoCondition(frames=frames, index=described["index"],
                              strength=described["strength"])


def replay(folder: Path, calls: list[dict]) -> list:
    """Each recorded call made again, with plain diffusers, from the record alone."""
    import diffusers
    import torch
    from diffusers.pipelines.ltx2.latent_upsampler import LTX2LatentUpsamplerModel
    from transformers import AutoProcessor

    calls = json.loads(json.dumps(calls))  # as a sidecar holds them
    base = diffusers.LTX2Pipeline.from_pretrained(str(folder))
    pipes = {"LTX2Pipeline": base}
    outputs = []
    for call in calls:
        name = call["pipeline"]
        if name == "LTX2LatentUpsamplePipeline":
            upsampler = LTX2LatentUpsamplerModel.from_pretrained(str(folder / "latent_upsampler"))
            pipe = diffusers.LTX2LatentUpsamplePipeline(vae=base.vae, latent_upsampler=upsampler)
        else:
            pipe = pipes.setdefault(name, getattr(diffusers, name).from_pipe(base))
        if "lora" in call:  # stage 2 of a dev model, as diffusers' docs load the distilled LoRA
            lora = call["lora"]
            pipe.load_lora_weights(str(Path(lora["path"]).parent),
                                   weight_name=lora["weight_name"],
                                   adapter_name=lora["adapter_name"])
            pipe.set_adapters(lora["adapter_name"], lora["scale"])
        if "scheduler" in call:
            changed = call["scheduler"]
            pipe.scheduler = getattr(diffusers, changed["class"]).from_config(
                pipe.scheduler.config, **changed["from_config"])
        if "processor" in call:
            processor = AutoProcessor.from_pretrained(str(folder / call["processor"]["subfolder"]))
            pipe.register_modules(processor=processor)
        kwargs = dict(call["kwargs"])
        seed = kwargs.pop("generator")["manual_seed"]
        for key in ("latents", "audio_latents"):
            if key in kwargs:
                made = outputs[kwargs[key]["output_of_call"]]
                kwargs[key] = getattr(made, kwargs[key]["field"])
        if "image" in kwargs:
            kwargs["image"] = _picture(kwargs["image"])
        if "conditions" in kwargs:
            kwargs["conditions"] = [_condition(c) for c in kwargs["conditions"]]
        run = getattr(pipe, call.get("method", "__call__"))
        with torch.inference_mode():
            outputs.append(run(**kwargs, generator=torch.Generator("cpu").manual_seed(seed)))
    return outputs


def assert_replays(out, folder: Path) -> list:
    """``out``'s calls replayed with plain diffusers give its frames and its sound."""
    outputs = replay(folder, out.calls)
    last = outputs[-1]
    frames = (np.clip(last.frames[0], 0, 1) * 255).round().astype(np.uint8)
    np.testing.assert_array_equal(frames, out.frames)
    sound = last.audio[0].float().numpy()
    n = min(sound.shape[1], out.audio.shape[1])
    assert n > 0 and np.allclose(sound[:, :n], out.audio[:, :n])
    return outputs


# ---- modes ---------------------------------------------------------------------------------------

def test_ltx2_does_every_mode_but_video_to_video():
    assert rules_for("Lightricks/LTX-2").modes == ("t2v", "i2v", "extend", "condition")
    assert rules_for(DEMO_LTX2_ID).modes == rules_for("diffusers/LTX-2.3-Diffusers").modes


def test_modes_share_the_loaded_weights(tiny_ltx2):
    t2v = tiny_ltx2.pipeline("t2v")
    pipes = {mode: tiny_ltx2.pipeline(mode) for mode in ("i2v", "extend", "condition")}
    assert type(pipes["i2v"]).__name__ == "LTX2ImageToVideoPipeline"
    assert type(pipes["extend"]).__name__ == type(pipes["condition"]).__name__ == \
        "LTX2ConditionPipeline"
    for pipe in pipes.values():
        assert pipe.transformer is t2v.transformer and pipe.text_encoder is t2v.text_encoder
        assert pipe.vae is t2v.vae and pipe.vocoder is t2v.vocoder
    from studio.inference.generator import GenerationError

    with pytest.raises(GenerationError, match="does not do video to video"):
        tiny_ltx2.pipeline("v2v")


def test_image_to_video_equals_a_plain_diffusers_call(tiny_ltx2, tiny_ltx2_dir, sources):
    out = tiny_ltx2.generate(params(tiny_ltx2_dir, mode="i2v",
                                    image_path=str(sources["picture"])))
    (call,) = out.calls
    assert call["pipeline"] == out.pipeline == "LTX2ImageToVideoPipeline"
    assert call["kwargs"]["image"]["path"] == str(sources["picture"])
    assert out.frames.shape == (9, 64, 64, 3) and out.audio.shape[0] == 2
    assert_replays(out, tiny_ltx2_dir)
    # the picture conditions the video: another one, other frames (the same seed)
    other = tiny_ltx2.generate(params(tiny_ltx2_dir, mode="i2v", image_path=str(sources["other"])))
    assert not np.array_equal(other.frames, out.frames)


def test_conditions_at_frames_equal_a_plain_diffusers_call(tiny_ltx2, tiny_ltx2_dir, sources):
    conditions = [Condition(str(sources["picture"]), 0),
                  Condition(str(sources["other"]), 10, 0.8),  # moved to 9: 4k+1 in the demo
                  Condition(str(sources["clip"]), 13, 1.0, in_frame=2, out_frame=6)]
    out = tiny_ltx2.generate(params(tiny_ltx2_dir, mode="condition", num_frames=17,
                                    conditions=conditions))
    assert [(c.field, c.before, c.after) for c in out.changes if c.field != "seed"] == [
        ("conditions[1].frame_index", 10, 9)]
    (call,) = out.calls
    assert call["pipeline"] == "LTX2ConditionPipeline"
    recorded = call["kwargs"]["conditions"]
    assert [(c["index"], c["frame_index"], c["strength"]) for c in recorded] == [
        (0, 0, 1.0), (3, 9, 0.8), (4, 13, 1.0)]
    assert recorded[2]["video"]["first_frame"] == 2 and recorded[2]["video"]["frames"] == 1
    assert out.frames.shape == (17, 64, 64, 3)
    assert_replays(out, tiny_ltx2_dir)


def test_extend_continues_from_the_clips_last_frames(tiny_ltx2, tiny_ltx2_dir, sources):
    out = tiny_ltx2.generate(params(tiny_ltx2_dir, mode="extend", num_frames=17,
                                    source_path=str(sources["clip"]), source_out_frame=20))
    (condition,) = out.calls[0]["kwargs"]["conditions"]
    assert (condition["index"], condition["frame_index"], condition["strength"]) == (0, 0, 1.0)
    assert out.overlap_frames == 9 == condition["video"]["frames"]
    assert (out.source["first_frame"], out.source["last_frame"]) == (12, 20)
    assert_replays(out, tiny_ltx2_dir)


def test_condition_frames_move_to_the_frames_ltx2_shows_them_at():
    p = GenerationParams.defaults("Lightricks/LTX-2", prompt="x", mode="condition", seed=1,
                                  num_frames=121, conditions=[
                                      Condition("/a.png", 0), Condition("/b.png", 1),
                                      Condition("/c.png", 12), Condition("/d.png", 14),
                                      Condition("/e.png", 120)])
    done = conform(p)
    assert [c.frame_index for c in done.params.conditions] == [0, 1, 9, 17, 113]
    moved = {c.field: (c.before, c.after) for c in done.changes}
    assert moved == {"conditions[2].frame_index": (12, 9), "conditions[3].frame_index": (14, 17),
                     "conditions[4].frame_index": (120, 113)}
    assert "at frame 0 or 8k+1, up to 113" in str(done.changes[0])


# ---- two stages -----------------------------------------------------------------------------------

def test_the_recipe_is_lightricks_distilled_two_stages():
    import diffusers.pipelines.ltx2.utils as utils

    assert list(LTX2_DISTILLED_SIGMAS) == utils.DISTILLED_SIGMA_VALUES
    assert list(LTX2_STAGE_2_SIGMAS) == utils.STAGE_2_DISTILLED_SIGMA_VALUES
    recipe = rules_for("diffusers/LTX-2.3-Distilled-Diffusers").multiscale
    assert recipe is LTX2_TWO_STAGE and rules_for(DEMO_LTX2_ID).multiscale is LTX2_TWO_STAGE
    assert recipe.first_size(768, 512, 32) == (384, 256)  # half, as distilled.py
    assert recipe.refine_size(768, 512, 32) == (768, 512)
    assert recipe.refine_steps() == 3 and recipe.refine_noise_scale == 0.909375
    assert recipe.refine_lora_scale is None and not recipe.refine_unshifted


def test_dev_models_take_two_stages_with_the_distilled_lora():
    from studio.inference import registry

    for dev in ("Lightricks/LTX-2", "diffusers/LTX-2.3-Diffusers"):
        assert rules_for(dev).multiscale is LTX2_DEV_TWO_STAGE
    assert rules_for("Lightricks/LTX-2.5-Diffusers").multiscale is None
    assert registry.get("Lightricks/LTX-2").distilled_lora == (
        "Lightricks/LTX-2", "ltx-2-19b-distilled-lora-384.safetensors")
    assert registry.get("diffusers/LTX-2.3-Diffusers").distilled_lora == (
        "Lightricks/LTX-2.3", "ltx-2.3-22b-distilled-lora-384-1.1.safetensors")
    recipe = LTX2_DEV_TWO_STAGE  # stage 1: the model's own schedule; stage 2 as the distilled
    assert recipe.first_sigmas == () and recipe.refine_sigmas == LTX2_STAGE_2_SIGMAS
    assert recipe.refine_lora_scale == 1.0 and recipe.refine_unshifted
    assert recipe.first_size(768, 512, 32) == (384, 256)


def test_two_stages_record_three_calls_that_replay(tiny_ltx2, tiny_ltx2_dir):
    steps, passes = [], []
    out = tiny_ltx2.generate(params(DEMO_LTX2_ID, seed=5),
                             on_progress=lambda done, total, _eta: steps.append((done, total)),
                             on_pass=lambda *a: passes.append(a))
    first, up, refine = out.calls
    assert [c["pipeline"] for c in out.calls] == [
        "LTX2Pipeline", "LTX2LatentUpsamplePipeline", "LTX2Pipeline"]
    assert (first["kwargs"]["width"], first["kwargs"]["height"]) == (32, 32)
    assert first["kwargs"]["output_type"] == "latent"
    assert up["kwargs"]["latents"] == {"output_of_call": 0, "field": "frames",
                                       "shape": [1, 4, 3, 8, 8]}
    k = refine["kwargs"]
    assert (k["width"], k["height"], k["output_type"]) == (64, 64, "np")
    assert k["sigmas"] == list(LTX2_STAGE_2_SIGMAS) and k["num_inference_steps"] == 3
    assert k["noise_scale"] == 0.909375 and k["guidance_scale"] == 1.0 and k["stg_scale"] == 0.0
    assert k["latents"] == {"output_of_call": 1, "field": "frames", "shape": [1, 4, 3, 16, 16]}
    assert k["audio_latents"]["output_of_call"] == 0 and k["audio_latents"]["field"] == "audio"
    assert passes == [(1, 2, 0, 2), (2, 2, 2, 3)]
    assert steps == [(n, 5) for n in range(1, 6)]
    assert out.frames.shape == (9, 64, 64, 3) and out.sample_rate == SAMPLE_RATE
    assert tiny_ltx2.model_record()["upsampler"]["path"].endswith("latent_upsampler")
    assert_replays(out, tiny_ltx2_dir)
    one = tiny_ltx2.generate(params(DEMO_LTX2_ID, seed=5, multiscale=False))
    assert [c["pipeline"] for c in one.calls] == ["LTX2Pipeline"]


def test_without_its_upsampler_the_model_runs_one_pass_and_says_why(tiny_ltx2_dir, tmp_path):
    from studio.inference.generator import Generator

    folder = tmp_path / "ltx2-tiny"
    shutil.copytree(tiny_ltx2_dir, folder, ignore=shutil.ignore_patterns("latent_upsampler"))
    out = Generator.load(str(folder), "cpu").generate(params(DEMO_LTX2_ID))
    assert [c["pipeline"] for c in out.calls] == ["LTX2Pipeline"]
    (change,) = [c for c in out.changes if c.field == "multiscale"]
    assert str(folder / "latent_upsampler") in change.reason and not out.params.multiscale


@pytest.fixture(scope="module")
def tiny_ltx2_dev_dir(tmp_path_factory):
    """The tiny LTX-2 with its tiny distilled LoRA: a dev model's folder shape."""
    from studio.inference.demo_ltx2 import make_demo_ltx2_dev

    return make_demo_ltx2_dev(tmp_path_factory.mktemp("ltx2-dev") / "ltx2-dev-tiny")


def test_dev_two_stages_run_stage_2_with_the_lora_and_replay(tiny_ltx2_dev_dir):
    from studio.inference.demo_ltx2 import DEMO_DISTILLED_LORA
    from studio.inference.generator import Generator

    generator = Generator.load(str(tiny_ltx2_dev_dir), "cpu")
    out = generator.generate(params(DEV_ID, seed=5))
    first, up, refine = out.calls
    assert up["pipeline"] == "LTX2LatentUpsamplePipeline"
    assert first["kwargs"]["guidance_scale"] == 3.0 and "sigmas" not in first["kwargs"]
    assert (first["kwargs"]["width"], first["kwargs"]["num_inference_steps"]) == (32, 2)
    assert "lora" not in first and "scheduler" not in first
    assert refine["lora"] == {"path": str(tiny_ltx2_dev_dir / DEMO_DISTILLED_LORA),
                              "weight_name": DEMO_DISTILLED_LORA,
                              "adapter_name": "stage_2_distilled", "scale": 1.0}
    assert refine["scheduler"]["from_config"] == {"use_dynamic_shifting": False,
                                                  "shift_terminal": None}
    k = refine["kwargs"]
    assert k["sigmas"] == list(LTX2_STAGE_2_SIGMAS) and k["guidance_scale"] == 1.0
    assert (k["width"], k["noise_scale"]) == (64, 0.909375)
    assert_replays(out, tiny_ltx2_dev_dir)
    # the LoRA made stage 2: the same calls without it make other frames
    without = replay(tiny_ltx2_dev_dir, [first, up, {k: v for k, v in refine.items()
                                                     if k != "lora"}])[-1]
    frames = (np.clip(without.frames[0], 0, 1) * 255).round().astype(np.uint8)
    assert not np.array_equal(frames, out.frames)
    # and it is off again: a one-pass run equals plain diffusers without it
    one = generator.generate(params(DEV_ID, seed=5, multiscale=False))
    assert [c["pipeline"] for c in one.calls] == ["LTX2Pipeline"] and "lora" not in one.calls[0]
    assert_replays(one, tiny_ltx2_dev_dir)


def test_a_dev_model_without_its_lora_runs_one_pass_and_says_why(tiny_ltx2, tiny_ltx2_dir):
    from studio.inference.ltx2_modes import DISTILLED_LORA_GLOB

    out = tiny_ltx2.generate(params(DEV_ID))
    assert [c["pipeline"] for c in out.calls] == ["LTX2Pipeline"]
    (change,) = [c for c in out.changes if c.field == "multiscale"]
    assert "distilled LoRA" in change.reason and DISTILLED_LORA_GLOB in change.reason
    assert str(tiny_ltx2_dir) in change.reason and not out.params.multiscale


# ---- prompt enhancement -------------------------------------------------------------------------

def test_enhancement_is_recorded_and_equals_the_pipelines_own(tiny_ltx2, tiny_ltx2_dir):
    """The enhanced run equals LTX2Pipeline(enable_prompt_enhancement=True) with Lightricks'
    system prompt: the enhancer's output, recorded, is the prompt the run used."""
    import torch
    from diffusers import LTX2Pipeline
    from diffusers.pipelines.ltx2.utils import T2V_DEFAULT_SYSTEM_PROMPT
    from transformers import AutoProcessor

    out = tiny_ltx2.generate(params(tiny_ltx2_dir, enhance_prompt=True))
    enhance, run = out.calls
    assert (enhance["pipeline"], enhance["method"]) == ("LTX2Pipeline", "enhance_prompt")
    assert enhance["kwargs"]["prompt"] == PROMPT
    assert enhance["kwargs"]["system_prompt"] == T2V_DEFAULT_SYSTEM_PROMPT
    assert enhance["processor"] == {"class": "Gemma3Processor", "subfolder": "tokenizer"}
    assert enhance["output"] == [out.enhanced_prompt] and out.enhanced_prompt != PROMPT
    assert run["kwargs"]["prompt"] == out.enhanced_prompt
    assert out.params.prompt == PROMPT and out.params.enhance_prompt  # what the person wrote

    plain = LTX2Pipeline.from_pretrained(str(tiny_ltx2_dir))
    plain.register_modules(processor=AutoProcessor.from_pretrained(
        str(tiny_ltx2_dir / "tokenizer")))
    kwargs = {k: v for k, v in run["kwargs"].items() if k != "generator"}
    result = plain(**{**kwargs, "prompt": PROMPT}, enable_prompt_enhancement=True,
                   system_prompt=T2V_DEFAULT_SYSTEM_PROMPT,
                   generator=torch.Generator("cpu").manual_seed(11))
    frames = (np.clip(result.frames[0], 0, 1) * 255).round().astype(np.uint8)
    np.testing.assert_array_equal(frames, out.frames)
    outputs = assert_replays(out, tiny_ltx2_dir)
    assert outputs[0] == enhance["output"]  # the enhancer writes the same again
    # without the box: no enhancement call, the prompt as written
    assert [c.get("method") for c in tiny_ltx2.generate(params(tiny_ltx2_dir)).calls] == [None]


def test_image_to_video_enhances_with_its_picture_over_two_stages(tiny_ltx2, tiny_ltx2_dir,
                                                                 sources):
    from diffusers.pipelines.ltx2.utils import I2V_DEFAULT_SYSTEM_PROMPT

    out = tiny_ltx2.generate(params(DEMO_LTX2_ID, mode="i2v", enhance_prompt=True,
                                    image_path=str(sources["picture"])))
    enhance = out.calls[0]
    assert [c["pipeline"] for c in out.calls[1:]] == [
        "LTX2ImageToVideoPipeline", "LTX2LatentUpsamplePipeline", "LTX2ImageToVideoPipeline"]
    assert enhance["kwargs"]["system_prompt"] == I2V_DEFAULT_SYSTEM_PROMPT
    assert enhance["kwargs"]["image"]["path"] == str(sources["picture"])
    assert out.calls[1]["kwargs"]["prompt"] == out.calls[3]["kwargs"]["prompt"] == \
        out.enhanced_prompt
    assert out.calls[3]["kwargs"]["latents"]["output_of_call"] == 2
    assert out.calls[3]["kwargs"]["audio_latents"]["output_of_call"] == 1
    outputs = assert_replays(out, tiny_ltx2_dir)
    assert outputs[0] == enhance["output"]


def test_a_model_that_cannot_enhance_says_why(tiny_ltx2_dir, tmp_path):
    from studio.core.enhancement import NEEDS_ENHANCER, prompt_enhancement
    from studio.inference.generator import GenerationError, Generator

    assert prompt_enhancement(str(tiny_ltx2_dir)).available
    assert prompt_enhancement("Lightricks/LTX-2").available
    assert prompt_enhancement("Lightricks/LTX-2.5-Diffusers") == (True, False, NEEDS_ENHANCER)
    assert not prompt_enhancement("demo/ltx-video-tiny").applies
    # a folder without the processor: the box says so, and a run asking for it too
    folder = tmp_path / "no-processor"
    shutil.copytree(tiny_ltx2_dir, folder)
    (folder / "tokenizer" / "processor_config.json").unlink()
    said = prompt_enhancement(str(folder))
    assert said.applies and not said.available and "processor_config.json" in said.reason
    with pytest.raises(GenerationError, match="processor_config.json"):
        Generator.load(str(folder), "cpu").generate(params(folder, enhance_prompt=True))
    # LTX-2.5's folder: a Gemma 4 text encoder and no prompt_enhancer
    config = json.loads((folder / "text_encoder" / "config.json").read_text())
    (folder / "text_encoder" / "config.json").write_text(json.dumps(
        {**config, "model_type": "gemma4_unified"}))
    assert prompt_enhancement(str(folder)).reason == NEEDS_ENHANCER


def test_a_model_without_enhancement_runs_without_it_and_says_so():
    done = conform(GenerationParams.defaults("demo/ltx-video-tiny", prompt="x", seed=1,
                                             enhance_prompt=True))
    assert not done.params.enhance_prompt
    assert [c.field for c in done.changes] == ["enhance_prompt"]
    p = GenerationParams.defaults(DEMO_LTX2_ID, prompt="x", enhance_prompt=True)
    assert GenerationParams.from_dict(json.loads(p.to_json())).enhance_prompt


def test_studio_generate_enhance_prompt_records_the_prompt_it_used(capsys, tiny_ltx2_dir,
                                                                   tmp_path):
    target = tmp_path / "out.mp4"
    code = main(["generate", PROMPT, "--model", str(tiny_ltx2_dir), "--steps", "2",
                 "--seed", "5", "--enhance-prompt", "-o", str(target)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert json.loads(out.strip().splitlines()[-1])["params"]["enhance_prompt"] is True
    settings = json.loads(target.with_suffix(".json").read_text())["settings"]
    assert settings["calls"][0]["method"] == "enhance_prompt"
    assert settings["enhanced_prompt"] == settings["calls"][1]["kwargs"]["prompt"]
    assert settings["prompt"] == PROMPT
