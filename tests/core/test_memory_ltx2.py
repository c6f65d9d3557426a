"""LTX-2's memory plan (issue 17, item 4): the transformer (19B, 22B), the Gemma 3 12B text
encoder, the text connectors and the VAEs weighed part by part, with model, group and
sequential offload and fp8 or GGUF weights, so that 80, 24, 16 and 12 GB cards each get a plan
whose estimate fits, or a refusal naming the part that cannot fit and the settings that would."""

from __future__ import annotations

import json

import pytest

from studio.core import params as P
from studio.core.params import GenerationParams, ParamsError, conform, cost

LTX2_RULES = (P.LTX2_DEV, P.LTX2_3_DEV, P.LTX2_3_DISTILLED)


def ltx2(rules=P.LTX2_DEV, **changes) -> GenerationParams:
    p = GenerationParams.defaults(rules.id, prompt="a dog barks at the waves", seed=1,
                                  **changes)
    return conform(p, rules).params


@pytest.mark.parametrize("rules", LTX2_RULES, ids=lambda r: r.id)
@pytest.mark.parametrize("free_gb", [80.0, 24.0, 16.0, 12.0])
def test_each_card_gets_a_plan_that_fits_or_a_refusal(rules, free_gb):
    plan = P.memory_plan(ltx2(rules), rules, free_gb)
    if plan.refusal is None:
        assert plan.fits and plan.estimate_gb <= P.usable_gb(free_gb)
        assert plan.estimate_gb == cost(ltx2(rules), rules,
                                        **plan.option.cost_kwargs()).peak_memory_estimate_gb
    else:
        assert not plan.fits and "does not fit" in plan.refusal


def test_the_plans_of_ltx2_19b_by_card():
    p = ltx2()
    plans = {gb: P.memory_plan(p, P.LTX2_DEV, gb) for gb in (80.0, 24.0, 16.0, 12.0)}
    assert plans[80.0].option == ("none", False, "bf16", "bf16")  # 67 GB, all resident
    # 24 GB: the transformer (17.7 GB) and Gemma (11.4 GB) in fp8, one at a time
    assert plans[24.0].option == ("model", True, "fp8", "fp8")
    assert plans[24.0].estimate_gb < 21.6 < cost(p, P.LTX2_DEV, offload="model", vae_tiling=True,
                                                 text_encoder_dtype="fp8").peak_memory_estimate_gb
    # 16 and 12 GB: the fp8 transformer alone is over the free memory: group offload
    for gb in (16.0, 12.0):
        assert plans[gb].option == ("group", True, "fp8", "fp8") and plans[gb].fits
    assert all(plan.refusal is None for plan in plans.values())
    assert "fp8 transformer, fp8 text encoder" in plans[24.0].reason
    assert plans[24.0].as_dict()["transformer_dtype"] == "fp8"


def test_the_parts_are_weighed_as_counted():
    c = cost(ltx2(), P.LTX2_DEV)
    parts = c.breakdown_gb
    assert parts["transformer_weights"] == pytest.approx(19.0e9 * 2 / 2**30, abs=0.01)
    assert parts["text_encoder_weights"] == pytest.approx(12.2e9 * 2 / 2**30, abs=0.01)
    assert 22 < parts["text_encoder_weights"] < 25  # "Gemma 3 12B is 24-27 GB in bf16"
    assert parts["connectors_weights"] == pytest.approx(1.43e9 * 2 / 2**30, abs=0.01)
    fp8 = cost(ltx2(), P.LTX2_DEV, transformer_dtype="fp8", text_encoder_dtype="fp8").breakdown_gb
    assert fp8["transformer_weights"] == pytest.approx(parts["transformer_weights"] / 2)
    assert fp8["text_encoder_weights"] == pytest.approx(parts["text_encoder_weights"] / 2)
    assert (fp8["transformer_dtype"], fp8["text_encoder_dtype"]) == ("fp8", "fp8")
    # group offload holds two of the 48 blocks and the parts outside them, not the model
    group = cost(ltx2(), P.LTX2_DEV, offload="group", vae_tiling=True)
    model = cost(ltx2(), P.LTX2_DEV, offload="model", vae_tiling=True)
    assert group.peak_memory_estimate_gb < model.peak_memory_estimate_gb / 4
    sequential = cost(ltx2(), P.LTX2_DEV, offload="sequential", vae_tiling=True)
    assert sequential.peak_memory_estimate_gb < group.peak_memory_estimate_gb


def test_settings_given_are_kept_and_a_part_that_cannot_fit_is_refused():
    plan = P.memory_plan(ltx2(offload="none", transformer_dtype="bf16",
                              text_encoder_dtype="bf16"), P.LTX2_DEV, 24.0)
    assert plan.option[::2] == ("none", "bf16")
    assert plan.refusal.startswith("transformer: 35.4 GB in bf16 does not fit on the GPU "
                                   "beside the rest of the model")
    assert "24.0 GB is free" in plan.refusal
    assert plan.refusal.endswith("choose --offload model --vae-tiling --transformer-dtype fp8 "
                                 "--text-encoder-dtype fp8 (estimate 19.4 GB)")
    # model offload with Gemma in bf16 on a 24 GB card: the text encoder is the part
    gemma = P.memory_plan(ltx2(offload="model", text_encoder_dtype="bf16"), P.LTX2_DEV, 24.0)
    assert gemma.refusal.startswith("text encoder: 22.7 GB in bf16 does not fit on the GPU")
    # LTX-2.3's transformer in fp8 (20.5 GB) on a 16 GB card: group offload would fit
    big = P.memory_plan(ltx2(P.LTX2_3_DEV, offload="model"), P.LTX2_3_DEV, 16.0)
    assert big.refusal.startswith("transformer: 20.5 GB in fp8 does not fit")
    assert "choose --offload group" in big.refusal
    # a card too small for anything says what else would help
    tiny = P.memory_plan(ltx2(offload="model"), P.LTX2_DEV, 4.0)
    assert tiny.refusal.endswith("fewer frames or a smaller size would help, or a GPU with "
                                 "more memory")


def test_a_refusal_can_point_at_a_gguf_q4_transformer(monkeypatch):
    """With a ladder that stops at model offload (fault injection: LTX-2's has group and
    sequential offload after it), a Q4 quantisation of the transformer is what fits a 16 GB
    card."""
    monkeypatch.setattr(P, "LTX2_MEMORY_LADDER", P.LTX2_MEMORY_LADDER[:5])
    plan = P.memory_plan(ltx2(offload="model"), P.LTX2_DEV, 16.0)
    assert plan.refusal is not None and "a GGUF Q4 transformer (about 10.0 GB) would fit: " \
        "--transformer-file FILE.gguf --offload model --text-encoder-dtype fp8" in plan.refusal


def test_a_gguf_transformer_file_is_weighed_by_its_size(tmp_path):
    gguf = tmp_path / "ltx-2-19b-dev-Q4_K_M.gguf"
    with open(gguf, "wb") as f:
        f.truncate(10 * 2**30)  # sparse: 10 GiB on paper, nothing on the disk
    p = ltx2(transformer_file=str(gguf))
    c = cost(p, P.LTX2_DEV)
    assert c.breakdown_gb["transformer_weights"] == 10.0
    assert c.breakdown_gb["transformer_dtype"] == "gguf"
    assert {o.transformer_dtype for o in P.memory_options(p, P.LTX2_DEV)} == {"gguf"}
    plan = P.memory_plan(p, P.LTX2_DEV, 16.0)
    assert plan.option == ("model", True, "gguf", "fp8") and plan.fits
    assert "GGUF transformer, fp8 text encoder" in plan.reason


def test_memory_settings_are_checked_naming_the_field(tmp_path):
    with pytest.raises(ParamsError) as err:
        conform(ltx2().replace(offload="groups"))
    assert err.value.field == "offload" and "group" in err.value.message
    with pytest.raises(ParamsError) as err:
        conform(ltx2().replace(transformer_dtype="int4"))
    assert err.value.field == "transformer_dtype" and "bf16 or fp8" in err.value.message
    for name, message in (("model.safetensors", "not a .gguf file"),
                          ("missing.gguf", "no such file")):
        with pytest.raises(ParamsError) as err:
            conform(ltx2().replace(transformer_file=str(tmp_path / name)))
        assert err.value.field == "transformer_file" and message in err.value.message
        assert name in err.value.message
    gguf = tmp_path / "t.gguf"
    gguf.write_bytes(b"GGUF")
    with pytest.raises(ParamsError) as err:
        conform(ltx2().replace(transformer_file=str(gguf), transformer_dtype="fp8"))
    assert err.value.field == "transformer_dtype" and "t.gguf" in err.value.message


def test_memory_settings_round_trip_and_wrong_types_name_the_field(tmp_path):
    p = ltx2(offload="group", transformer_dtype="fp8", text_encoder_dtype="bf16")
    again = GenerationParams.from_dict(json.loads(p.to_json()))
    assert (again.offload, again.transformer_dtype, again.text_encoder_dtype) == \
        ("group", "fp8", "bf16")
    with pytest.raises(ParamsError) as err:
        GenerationParams.from_dict({**p.to_dict(), "text_encoder_dtype": 8})
    assert err.value.field == "text_encoder_dtype"


def test_other_models_keep_their_ladder_and_words():
    assert P.memory_ladder(P.LTX_2B_DISTILLED) == P.MEMORY_LADDER
    assert all(o[2:] == ("bf16", "bf16") for o in P.MEMORY_LADDER)
    assert P.describe_memory("group", True, "fp8", "bf16") == \
        "group offload, VAE tiling, fp8 transformer"
    assert P.MemoryOption("group", True, "fp8", "fp8").flags() == \
        "--offload group --vae-tiling --transformer-dtype fp8 --text-encoder-dtype fp8"
    # group offload can be asked for any model
    plan = P.memory_plan(conform(GenerationParams.defaults(prompt="x", offload="group")).params,
                         None, 12.0)
    assert plan.offload == "group" and plan.fits


def test_a_ltx2_folder_counts_its_connectors_and_audio_parts(tmp_path):
    import numpy as np
    from safetensors.numpy import save_file

    folder = tmp_path / "my-model"
    for part, n in (("transformer", 3000), ("text_encoder", 2000), ("vae", 500),
                    ("audio_vae", 100), ("vocoder", 50), ("connectors", 700)):
        (folder / part).mkdir(parents=True)
        save_file({"w": np.zeros(n, np.float32)}, str(folder / part / "model.safetensors"))
    (folder / "model_index.json").write_text(json.dumps({"_class_name": "LTX2Pipeline"}))
    rules = P.rules_for(folder)
    assert rules.family == "ltx2" and rules.quantizable
    assert rules.vae_b * 1e9 == pytest.approx(650)  # video VAE, audio VAE and vocoder
    assert rules.connectors_b * 1e9 == pytest.approx(700)
    assert rules.text_encoder_embed_b / rules.text_encoder_b == pytest.approx(
        P.LTX2_DEV.text_encoder_embed_b / P.LTX2_DEV.text_encoder_b)
