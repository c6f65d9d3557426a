"""core.params: settings, model rules, conform and the cost estimate (pure Python)."""

from __future__ import annotations

import json
import struct

import pytest

from studio.core import params as P
from studio.core.params import (
    Condition,
    GenerationParams,
    ParamsError,
    conform,
    cost,
    rules_for,
)

LTX = P.LTX_2B_DISTILLED


def ltx(**kw) -> GenerationParams:
    return GenerationParams.defaults("ltx-2b-distilled", prompt="a red fox in the snow", **kw)


# --- conform: nearest valid values, every change listed -----------------------------------


@pytest.mark.parametrize("frames, expected", [
    (100, 97), (121, 121), (1, 1), (2, 1), (5, 9), (4, 1), (10, 9), (13, 17), (125, 129),
    (116, 113), (300, 297), (1000, 1001 - 8)])
def test_frames_move_to_the_nearest_8k_plus_1(frames, expected):
    result = conform(ltx(num_frames=frames), LTX)
    assert result.params.num_frames == expected
    assert (expected - 1) % 8 == 0
    changed = [c for c in result.changes if c.field == "num_frames"]
    if frames == expected:
        assert not changed
    else:
        assert len(changed) == 1
        assert (changed[0].before, changed[0].after) == (frames, expected)
        assert "8k+1" in changed[0].reason


def test_size_moves_to_the_nearest_multiples_of_32_and_lists_both():
    result = conform(ltx(width=770, height=500, seed=1), LTX)
    assert (result.params.width, result.params.height) == (768, 512)
    assert [(c.field, c.before, c.after) for c in result.changes] == [
        ("width", 770, 768), ("height", 500, 512)]
    assert all("multiples of 32" in c.reason for c in result.changes)
    assert result.as_dict() == {"width": [770, 768], "height": [500, 512]}


def test_nearest_not_floor_and_never_zero():
    result = conform(ltx(width=785, height=20, seed=1), LTX)
    assert (result.params.width, result.params.height) == (800, 32)  # 785 is nearer 800 than 768


def test_valid_settings_are_left_alone_and_params_not_modified():
    p = ltx(width=704, height=480, num_frames=161, seed=7)
    result = conform(p, LTX)
    assert result.changes == ()
    assert result.params == p
    q = ltx(num_frames=100, seed=7)
    conform(q, LTX)
    assert q.num_frames == 100  # the input stays as it was


def test_wan_rules_are_4k_plus_1_and_multiples_of_16():
    wan = rules_for("Wan-AI/Wan2.1-T2V-1.3B-Diffusers")
    assert wan.id == "wan-1.3b"
    p = GenerationParams.defaults("Wan-AI/Wan2.1-T2V-1.3B-Diffusers", prompt="x", num_frames=80,
                                  width=830, height=470, seed=3)
    out = conform(p).params
    assert (out.num_frames, out.width, out.height) == (81, 832, 464)


def test_cogvideox_takes_its_fixed_size_and_at_most_49_frames():
    cog = rules_for("THUDM/CogVideoX-2b")
    p = GenerationParams.defaults("THUDM/CogVideoX-2b", prompt="x", width=768, height=512,
                                  num_frames=81, seed=3)
    result = conform(p, cog)
    assert (result.params.width, result.params.height, result.params.num_frames) == (720, 480, 49)
    assert {c.field for c in result.changes} == {"width", "height", "num_frames"}
    assert "720x480" in result.changes[0].reason


def test_condition_frame_moves_into_the_video():
    p = ltx(mode="condition", num_frames=97, seed=1,
            conditions=[Condition("/a.png", frame_index=0), Condition("/b.png", frame_index=200)])
    result = conform(p, LTX)
    assert result.params.conditions[1].frame_index == 96
    assert result.as_dict() == {"conditions[1].frame_index": [200, 96]}
    assert p.conditions[1].frame_index == 200


# --- refusals name the field --------------------------------------------------------------


@pytest.mark.parametrize("field, value", [
    ("num_frames", 0), ("num_frames", 1001), ("width", 4097), ("height", 0), ("steps", 0),
    ("steps", 501), ("guidance_scale", -0.1), ("guidance_scale", 50.5), ("denoise_strength", 1.2),
    ("denoise_strength", -0.01), ("fps", 0.0), ("seed", -1), ("num_frames", 12.5),
    ("steps", "8"), ("guidance_scale", float("nan")), ("width", True),
    ("decode_timestep", 2.0)])
def test_out_of_range_values_are_refused_naming_the_field(field, value):
    with pytest.raises(ParamsError) as info:
        conform(ltx(**{field: value}), LTX)
    assert info.value.field == field
    assert str(info.value).startswith(f"{field}: ")


@pytest.mark.parametrize("prompt", ["", "   \n\t"])
def test_an_empty_prompt_is_refused(prompt):
    with pytest.raises(ParamsError) as info:
        conform(ltx().replace(prompt=prompt), LTX)
    assert info.value.field == "prompt"


@pytest.mark.parametrize("mode, field", [("i2v", "image_path"), ("v2v", "source_path"),
                                         ("extend", "source_path"), ("condition", "conditions"),
                                         ("zoom", "mode")])
def test_modes_need_their_source(mode, field):
    with pytest.raises(ParamsError) as info:
        conform(ltx(mode=mode), LTX)
    assert info.value.field == field


def test_a_mode_the_model_lacks_is_refused():
    p = GenerationParams.defaults("THUDM/CogVideoX-2b", prompt="x", mode="i2v",
                                  image_path="/a.png")
    with pytest.raises(ParamsError, match="CogVideoX 2B does not do image to video") as info:
        conform(p)
    assert info.value.field == "mode"


def test_in_after_out_is_refused():
    p = ltx(mode="v2v", source_path="/c.mp4", source_in_frame=50, source_out_frame=10)
    with pytest.raises(ParamsError) as info:
        conform(p, LTX)
    assert info.value.field == "source_in_frame"


def test_condition_strength_is_checked():
    p = ltx(mode="condition", conditions=[Condition("/a.png", 0, strength=1.5)])
    with pytest.raises(ParamsError) as info:
        conform(p, LTX)
    assert info.value.field == "conditions[0].strength"


# --- seeds ---------------------------------------------------------------------------------


def test_unlocked_seed_is_drawn_per_run_and_locked_seed_kept():
    p = ltx(seed=1234, seed_locked=False)
    seeds = {p.for_run().seed for _ in range(5)}
    assert len(seeds) > 1 and all(0 <= s <= P.SEED_MAX for s in seeds)
    locked = ltx(seed=1234, seed_locked=True)
    assert locked.for_run().seed == 1234
    assert ltx(seed=None, seed_locked=True).for_run().seed is not None


def test_conform_draws_a_missing_seed_and_lists_it():
    result = conform(ltx(seed=None), LTX)
    assert isinstance(result.params.seed, int)
    assert [c.field for c in result.changes] == ["seed"]


# --- defaults and rules lookup -------------------------------------------------------------


def test_defaults_follow_the_model():
    distilled = GenerationParams.defaults("ltx-2b-distilled")
    assert (distilled.steps, distilled.guidance_scale) == (8, 1.0)
    assert distilled.negative_prompt == P.LTX_NEGATIVE_PROMPT
    assert (distilled.decode_timestep, distilled.decode_noise_scale) == (0.05, 0.025)
    dev = GenerationParams.defaults("Lightricks/LTX-Video")
    assert (dev.steps, dev.guidance_scale) == (40, 3.0)
    assert dev.model == "Lightricks/LTX-Video"
    wan = GenerationParams.defaults("Wan-AI/Wan2.1-T2V-14B-Diffusers", steps=20)
    assert wan.negative_prompt == P.WAN_NEGATIVE_PROMPT and wan.steps == 20
    assert GenerationParams().negative_prompt == \
        "worst quality, inconsistent motion, blurry, jittery, distorted"


@pytest.mark.parametrize("model, rules_id", [
    ("Lightricks/LTX-Video", "ltx-2b-dev"),
    ("Lightricks/LTX-Video-0.9.5", "ltx-2b-dev"),
    ("Lightricks/LTX-Video-0.9.7-dev", "ltx-13b-dev"),
    ("Lightricks/LTX-Video-0.9.7-distilled", "ltx-13b-distilled"),
    ("Lightricks/LTX-Video-0.9.8-13B-distilled", "ltx-13b-0.9.8-distilled"),
    ("Lightricks/LTX-Video-0.9.8-2B-distilled", "ltx-2b-0.9.8-distilled"),
    ("demo/ltx-video-tiny", "demo-ltx"),
    ("Wan-AI/Wan2.1-T2V-14B-Diffusers", "wan-14b"),
    ("THUDM/CogVideoX-5b", "cogvideox-5b"),
    ("zai-org/CogVideoX-2b", "cogvideox-2b"),
])
def test_rules_for_hub_ids(model, rules_id):
    assert rules_for(model).id == rules_id


def _safetensors(path, shapes):
    header = json.dumps({name: {"dtype": "F32", "shape": shape, "data_offsets": [0, 0]}
                         for name, shape in shapes.items()}).encode()
    path.write_bytes(struct.pack("<Q", len(header)) + header)


def test_rules_from_a_folder_read_its_configs(tmp_path):
    folder = tmp_path / "my-model"  # the name says nothing: the pipeline class does
    (folder / "transformer").mkdir(parents=True)
    (folder / "vae").mkdir()
    (folder / "model_index.json").write_text(json.dumps({"_class_name": "LTXPipeline"}))
    (folder / "transformer" / "config.json").write_text(json.dumps(
        {"num_attention_heads": 4, "attention_head_dim": 8, "num_layers": 1, "patch_size": 1,
         "patch_size_t": 1}))
    (folder / "vae" / "config.json").write_text(json.dumps(
        {"_class_name": "AutoencoderKLLTXVideo", "latent_channels": 8, "patch_size": 1,
         "patch_size_t": 1, "spatio_temporal_scaling": [True, True, False, False]}))
    _safetensors(folder / "transformer" / "diffusion_pytorch_model.safetensors",
                 {"a": [32, 32], "b": [100]})
    rules = rules_for(folder)
    assert rules.family == "ltx"
    assert (rules.vae_spatial, rules.vae_temporal, rules.latent_channels) == (4, 4, 8)
    assert (rules.hidden, rules.layers, rules.frame_step) == (32, 1, 4)
    assert rules.transformer_b == pytest.approx(1124 / 1e9)
    assert rules.defaults.width <= 96  # a tiny model gets small defaults
    p = GenerationParams.defaults(str(folder), prompt="x")
    assert cost(p, rules).latent_shape == (8, (p.num_frames - 1) // 4 + 1, p.height // 4,
                                           p.width // 4)


def test_a_full_size_ltx_vae_config_compresses_8x_and_32x(tmp_path):
    folder = tmp_path / "ltx"
    (folder / "vae").mkdir(parents=True)
    (folder / "model_index.json").write_text(json.dumps({"_class_name": "LTXPipeline"}))
    (folder / "vae" / "config.json").write_text(json.dumps(
        {"_class_name": "AutoencoderKLLTXVideo", "latent_channels": 128, "patch_size": 4,
         "patch_size_t": 1, "spatio_temporal_scaling": [True, True, True, False]}))
    rules = rules_for(folder)
    assert (rules.vae_spatial, rules.vae_temporal, rules.frame_step) == (32, 8, 8)


# --- cost ----------------------------------------------------------------------------------


def test_cost_for_ltx_768x512x121():
    c = cost(ltx(width=768, height=512, num_frames=121), LTX)
    assert c.latent_shape == (128, 16, 16, 24)
    assert c.tokens == 6144 == 16 * 16 * 24
    assert c.duration_s == pytest.approx(121 / 24)
    # weights alone: T5-XXL + the 2B transformer + the VAE in bf16 are over 12 GB
    assert 12 < c.peak_memory_estimate_gb < 40
    assert c.breakdown_gb["weights"] > 12


def test_cost_tokens_use_the_patch_size():
    wan = rules_for("Wan-AI/Wan2.1-T2V-1.3B-Diffusers")
    c = cost(GenerationParams.defaults("Wan-AI/Wan2.1-T2V-1.3B-Diffusers", prompt="x"), wan)
    assert c.latent_shape == (16, 21, 60, 104)
    assert c.tokens == 21 * 30 * 52


def test_memory_estimate_moves_the_right_way():
    base = cost(ltx(), LTX)
    assert cost(ltx(num_frames=257), LTX).peak_memory_estimate_gb > base.peak_memory_estimate_gb
    assert cost(ltx(guidance_scale=3.0), LTX).breakdown_gb["denoise_activations"] == \
        pytest.approx(2 * base.breakdown_gb["denoise_activations"], rel=0.01)
    offloaded = cost(ltx(), LTX, offload="model")
    assert offloaded.peak_memory_estimate_gb < base.peak_memory_estimate_gb
    tiled = cost(ltx(width=1216, height=704, num_frames=257), LTX, vae_tiling=True)
    untiled = cost(ltx(width=1216, height=704, num_frames=257), LTX, vae_tiling=False)
    assert tiled.breakdown_gb["vae_decode_activations"] < \
        untiled.breakdown_gb["vae_decode_activations"]
    assert cost(ltx(), P.LTX_13B_DISTILLED).peak_memory_estimate_gb > \
        base.peak_memory_estimate_gb + 15
    with pytest.raises(ParamsError) as info:
        cost(ltx(), LTX, dtype="int3")
    assert info.value.field == "dtype"


# --- memory plan ---------------------------------------------------------------------------

# LTX-Video 2B distilled at 768x512x121 in bf16, as cost() estimates it: 18.7 GB with
# everything on the GPU, 17.8 GB with VAE tiling, 9.5 GB with model CPU offload (the T5
# encoder's 8.9 GB alone is then the peak), 3.4 GB with sequential offload. (The VAE of
# LTX-Video 0.9.5+ has 1.25B parameters; these were 1.5 GB lower when it was counted as 0.42B.)
@pytest.mark.parametrize("free_gb, offload, tiling", [
    (80.0, "none", False),
    (24.0, "none", False),
    (20.0, "none", True),  # 18.7 GB does not fit in 20 GB less a tenth; 17.8 GB does
    (16.0, "model", True),
    (12.0, "model", True),
    (6.0, "sequential", True),
])
def test_memory_plan_takes_the_fastest_settings_that_fit(free_gb, offload, tiling):
    plan = P.memory_plan(ltx(), LTX, free_gb)
    assert (plan.offload, plan.vae_tiling) == (offload, tiling)
    assert plan.fits and plan.automatic and plan.free_gb == free_gb
    assert plan.estimate_gb == cost(ltx(), LTX, offload=offload,
                                    vae_tiling=tiling).peak_memory_estimate_gb
    assert plan.estimate_gb <= free_gb * (1 - P.MEMORY_HEADROOM)
    assert P.describe_memory(offload, tiling) in plan.reason and "fits" in plan.reason


def test_memory_plan_numbers_for_the_2b_model():
    assert P.memory_plan(ltx(), LTX, 80.0).estimate_gb == 18.7
    assert P.memory_plan(ltx(), LTX, 20.0).estimate_gb == 17.76
    twelve = P.memory_plan(ltx(), LTX, 12.0)
    assert twelve.estimate_gb == 9.47
    assert "18.7 GB" in twelve.reason  # what it would have needed without offload
    assert P.memory_plan(ltx(), LTX, 6.0).estimate_gb == 3.39
    # a long, big run: tiling alone brings 30.9 GB under 26 GB
    big = P.memory_plan(ltx(width=1216, height=704, num_frames=257), LTX, 26.0)
    assert (big.offload, big.vae_tiling, big.estimate_gb) == ("none", True, 21.81)


def test_memory_plan_keeps_explicit_settings():
    plan = P.memory_plan(ltx(offload="none", vae_tiling=False), LTX, 12.0)
    assert (plan.offload, plan.vae_tiling, plan.automatic) == ("none", False, False)
    assert not plan.fits and plan.estimate_gb == 18.7
    assert "exceeds the 12.0 GB free" in plan.reason and "offload" in plan.reason
    # one explicit, the other automatic: only the automatic one moves
    model = P.memory_plan(ltx(offload="model"), LTX, 12.0)
    assert (model.offload, model.vae_tiling, model.automatic) == ("model", False, True)
    tiled = P.memory_plan(ltx(vae_tiling=True), LTX, 12.0)
    assert (tiled.offload, tiled.vae_tiling) == ("model", True)
    untiled = P.memory_plan(ltx(vae_tiling=False), LTX, 20.0)
    assert (untiled.offload, untiled.vae_tiling) == ("model", False)
    assert P.memory_plan(ltx(offload="sequential", vae_tiling=False), LTX, 80.0).offload == \
        "sequential"


def test_when_nothing_fits_the_plan_is_the_most_frugal_and_says_so():
    wan = P.WAN_14B
    p = GenerationParams.defaults("wan-14b", prompt="a red fox in the snow")
    plan = P.memory_plan(p, wan, 6.0)
    frugal = cost(p, wan, offload="sequential", vae_tiling=True).peak_memory_estimate_gb
    assert (plan.offload, plan.vae_tiling, plan.fits) == ("sequential", True, False)
    assert plan.estimate_gb == frugal > 6.0
    assert f"the estimate {frugal:.1f} GB exceeds the 6.0 GB free" in plan.reason
    assert "trying anyway" in plan.reason and "fewer frames" in plan.reason


def test_without_accelerate_automatic_offload_is_left_out():
    plan = P.memory_plan(ltx(), LTX, 12.0, offload_available=False)
    assert (plan.offload, plan.vae_tiling, plan.fits) == ("none", True, False)
    assert "accelerate" in plan.reason
    assert [o[:2] for o in P.memory_options(ltx(), offload_available=False)] == \
        [("none", False), ("none", True)]
    # an explicit offload stays (the generator says what is missing when it applies it)
    assert P.memory_plan(ltx(offload="model"), LTX, 12.0, offload_available=False).offload == \
        "model"


def test_without_a_free_memory_figure_automatic_settings_stay_off():
    plan = P.memory_plan(ltx(), LTX, None, dtype="fp32")
    assert (plan.offload, plan.vae_tiling, plan.automatic, plan.fits) == \
        ("none", False, False, None)
    assert plan.estimate_gb == cost(ltx(), LTX, dtype="fp32").peak_memory_estimate_gb
    asked = P.memory_plan(ltx(vae_tiling=True), LTX, None, dtype="fp32")
    assert asked.vae_tiling and asked.as_dict() == {
        "offload": "none", "vae_tiling": True, "transformer_dtype": "bf16",
        "text_encoder_dtype": "bf16", "automatic": False, "free_gb": None,
        "estimate_gb": asked.estimate_gb, "fits": None, "reason": asked.reason}


# --- to_dict / from_dict -------------------------------------------------------------------


def test_round_trip_through_json():
    p = ltx(mode="condition", seed=42, seed_locked=True, caption="a fox {sleeps}",
            template_id="camera-quality", source_clip_id=3,
            conditions=[Condition("/x.png", 0), Condition("/y.mp4", 16, 0.8, 10, 40)])
    data = json.loads(json.dumps(p.to_dict()))
    back = GenerationParams.from_dict(data)
    assert back == p
    assert isinstance(back.conditions[1], Condition)
    assert GenerationParams.from_dict(json.loads(p.to_json())) == p


def test_from_dict_ignores_unknown_keys_and_fills_missing_ones():
    data = ltx(seed=5).to_dict()
    data["lora_strength"] = 0.7  # a newer Studio's setting
    del data["decode_noise_scale"]
    data["width"] = 768.0  # JSON numbers may come back as floats
    back = GenerationParams.from_dict(data)
    assert back.decode_noise_scale == 0.025 and back.width == 768
    assert isinstance(back.width, int)


@pytest.mark.parametrize("field, value", [("width", "wide"), ("seed_locked", "yes"),
                                          ("conditions", {"path": "x"}), ("prompt", 5),
                                          ("steps", 8.5)])
def test_from_dict_refuses_wrong_types_naming_the_field(field, value):
    data = ltx().to_dict()
    data[field] = value
    with pytest.raises(ParamsError) as info:
        GenerationParams.from_dict(data)
    assert info.value.field == field


def test_from_dict_refuses_a_non_object():
    with pytest.raises(ParamsError):
        GenerationParams.from_dict(["not", "a", "dict"])


# ---- settings read from outside (issue 14, items 1 and 5) ------------------------------------

@pytest.mark.parametrize("field, value", [
    ("width", 2**70), ("width", 1e308), ("height", -5), ("num_frames", 10**9),
    ("fps", float("1e308")), ("steps", 2**64), ("seed", 2**64), ("seed", -1),
    ("image_frame", -3), ("source_in_frame", 2**70),
    ("prompt", "a" * 500_000), ("negative_prompt", "b" * 20_000), ("caption", "c" * 10_001),
    ("conditions", [{"path": "x.png"}] * 65),
])
def test_a_stored_setting_out_of_range_is_refused_naming_the_field(field, value):
    data = {**GenerationParams(prompt="a fox").to_dict(), field: value}
    with pytest.raises(ParamsError) as info:
        GenerationParams.from_dict(data)
    assert info.value.field == field


@pytest.mark.parametrize("condition, field", [
    ({"path": "a.png", "frame_index": "x"}, "conditions.frame_index"),
    ({"path": "a.png", "frame_index": 2**70}, "conditions.frame_index"),
    ({"path": "a.png", "strength": "full"}, "conditions.strength"),
    ({"path": "a.png", "strength": 7}, "conditions.strength"),
    ({"path": "a.png", "in_frame": [1]}, "conditions.in_frame"),
    ({"path": 12}, "conditions.path"),
])
def test_a_condition_of_the_wrong_type_is_refused_naming_the_field(condition, field):
    data = {**GenerationParams(prompt="a fox").to_dict(), "conditions": [condition]}
    with pytest.raises(ParamsError) as info:
        GenerationParams.from_dict(data)
    assert info.value.field == field


def test_settings_within_the_limits_still_read_back():
    p = GenerationParams(prompt="p" * 10_000, seed=2**64 - 1, conditions=[
        P.Condition("a.png", frame_index=8, strength=0.5, in_frame=2, out_frame=9)])
    assert GenerationParams.from_dict(p.to_dict()) == p
    assert GenerationParams.from_dict({**p.to_dict(), "width": 512.0}).width == 512


def test_a_prompt_over_the_limit_is_refused_before_a_run():
    with pytest.raises(ParamsError) as info:
        conform(GenerationParams(prompt="a " * 6000))
    assert info.value.field == "prompt" and "10,000" in str(info.value)
