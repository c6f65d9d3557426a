"""LTX-2's rules in core.params (issue 17): found by name and from a folder's configs, and
conformed like LTX-Video's (frames 8k+1, sizes in multiples of 32)."""

from __future__ import annotations

import json

import pytest

from studio.core.params import (
    LTX2_DEV,
    LTX2_NEGATIVE_PROMPT,
    GenerationParams,
    ParamsError,
    conform,
    cost,
    rules_for,
)


@pytest.mark.parametrize("model, rules_id", [
    ("Lightricks/LTX-2", "ltx2-19b-dev"),
    ("diffusers/LTX-2.3-Diffusers", "ltx2.3-22b-dev"),
    ("diffusers/LTX-2.3-Distilled-Diffusers", "ltx2.3-22b-distilled"),
    ("Lightricks/LTX-2.5-Diffusers", "ltx2.5"),
    ("demo/ltx2-tiny", "demo-ltx2"),
    # LTX-Video's names stay LTX-Video's: "ltx-2b" and "ltxv-2b" are its 2B models
    ("Lightricks/LTX-Video:ltxv-2b-0.9.8-distilled", "ltx-2b-0.9.8-distilled"),
    ("someone/ltx-2b-distilled-copy", "ltx-2b-distilled"),
    ("demo/ltx-video-tiny", "demo-ltx"),
])
def test_ltx2_rules_by_name(model, rules_id):
    assert rules_for(model).id == rules_id


def test_ltx2_rules_say_it_makes_sound_and_ltx_video_does_not():
    assert rules_for("Lightricks/LTX-2").audio
    assert rules_for("Lightricks/LTX-2").family == "ltx2"
    assert not rules_for("Lightricks/LTX-Video-0.9.5").audio


def test_ltx2_defaults_are_the_docs():
    p = GenerationParams.defaults("Lightricks/LTX-2", prompt="x")
    assert (p.width, p.height, p.num_frames, p.fps, p.steps, p.guidance_scale) == (
        768, 512, 121, 24.0, 30, 3.0)
    assert p.negative_prompt == LTX2_NEGATIVE_PROMPT
    distilled = GenerationParams.defaults("diffusers/LTX-2.3-Distilled-Diffusers", prompt="x")
    assert (distilled.steps, distilled.guidance_scale) == (8, 1.0)


def test_ltx2_conform_moves_frames_to_8k_plus_1_and_sizes_to_multiples_of_32():
    p = GenerationParams.defaults("Lightricks/LTX-2", prompt="a dog barks", width=770,
                                  height=500, num_frames=100, seed=1)
    done = conform(p)
    assert (done.params.width, done.params.height, done.params.num_frames) == (768, 512, 97)
    assert {c.field for c in done.changes} == {"width", "height", "num_frames"}
    assert "LTX-2 19B makes 8k+1 frames" in str(done.changes[-1])


def test_ltx2_refuses_modes_it_does_not_have_yet():
    p = GenerationParams.defaults("Lightricks/LTX-2", prompt="x", mode="v2v",
                                  source_path="/clip.mp4")
    with pytest.raises(ParamsError) as err:
        conform(p)
    assert err.value.field == "mode"


def test_ltx2_cost_uses_its_latent_and_weights():
    c = cost(GenerationParams.defaults("Lightricks/LTX-2", prompt="x"), LTX2_DEV)
    assert c.latent_shape == (128, 16, 16, 24)
    # 19B transformer + Gemma 3 12B in bf16 alone are over 55 GB
    assert c.breakdown_gb["weights"] > 55


def test_ltx2_rules_from_a_folder_read_its_configs(tmp_path):
    folder = tmp_path / "my-video-model"  # the name says nothing: the pipeline class does
    (folder / "transformer").mkdir(parents=True)
    (folder / "vae").mkdir()
    (folder / "model_index.json").write_text(json.dumps({"_class_name": "LTX2Pipeline"}))
    (folder / "transformer" / "config.json").write_text(json.dumps(
        {"num_attention_heads": 2, "attention_head_dim": 8, "num_layers": 2, "patch_size": 1,
         "patch_size_t": 1}))
    (folder / "vae" / "config.json").write_text(json.dumps(
        {"_class_name": "AutoencoderKLLTX2Video", "latent_channels": 4, "patch_size": 1,
         "patch_size_t": 1, "spatio_temporal_scaling": [True, True], "spatial_compression_ratio":
         None}))
    rules = rules_for(folder)
    assert rules.family == "ltx2" and rules.audio
    assert (rules.vae_spatial, rules.vae_temporal, rules.frame_step) == (4, 4, 4)
    assert (rules.hidden, rules.layers, rules.latent_channels) == (16, 2, 4)
