"""The tiny dev LTX-2 `studio models make-demo` builds (demo/ltx2-dev-tiny: the tiny LTX-2 and
a tiny distilled LoRA in its folder) runs the dev models' two-stage recipe by its id, as a
person picks it in the Generate panel: stage 1 with guidance, the latent upsampler, stage 2
with the LoRA found in its folder (core.params.DEMO_LTX2_DEV, ltx2_modes)."""

from __future__ import annotations

from studio.core.params import DEMO_LTX2_DEV, GenerationParams, rules_for
from studio.inference import loading, registry
from tests.inference.test_loading import offline  # noqa: F401 (fixture)

DEV_ID = "demo/ltx2-dev-tiny"


def test_the_dev_demo_is_registered_with_the_dev_rules():
    assert DEV_ID in loading.DEMO_MODELS and registry.get(DEV_ID).demo
    assert registry.get(DEV_ID) in registry.models("generator")  # the Generate panel's list
    assert rules_for(DEV_ID) is DEMO_LTX2_DEV
    assert DEMO_LTX2_DEV.multiscale.refine_lora_scale == 1.0  # stage 2 with the LoRA


def test_the_built_dev_demo_runs_two_stages_with_its_lora(offline):  # noqa: F811
    from studio.inference.demo_ltx2 import DEMO_DISTILLED_LORA
    from studio.inference.generator import Generator

    folder = loading.make_demo_models(ids=[DEV_ID])[DEV_ID]
    assert folder == loading.demo_root() / "ltx2-dev-tiny"
    generator = Generator.load(DEV_ID, "cpu")
    assert generator.demo
    p = GenerationParams.defaults(DEV_ID, prompt="a dog barks at a passing car", seed=3,
                                  seed_locked=True, steps=2)
    out = generator.generate(p)
    first, up, refine = out.calls
    assert [c["pipeline"] for c in out.calls] == [
        "LTX2Pipeline", "LTX2LatentUpsamplePipeline", "LTX2Pipeline"]
    assert out.params.multiscale and not [c for c in out.changes if c.field == "multiscale"]
    # stage 1: a dev model's guidance at half size; stage 2: the LoRA, full size, no guidance
    assert first["kwargs"]["guidance_scale"] == 3.0 and first["kwargs"]["stg_scale"] == 1.0
    assert (first["kwargs"]["width"], refine["kwargs"]["width"]) == (32, 64)
    assert "lora" not in first
    assert refine["lora"]["path"] == str(folder / DEMO_DISTILLED_LORA)
    assert refine["kwargs"]["guidance_scale"] == 1.0 and refine["kwargs"]["stg_scale"] == 0.0
    assert out.frames.shape == (9, 64, 64, 3) and out.audio is not None
