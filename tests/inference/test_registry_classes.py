"""Every class Studio names (in the registry, or by name in its loading code) imports from the
installed diffusers / transformers / huggingface_hub, and the version floors in pyproject.toml
are at least the releases where those classes first appeared.

The table of first releases was made by reading the released wheels from PyPI (each package's
``__init__.py`` export list and the module files), release by release:
  diffusers    0.29.2 no CogVideoX, 0.30.0 CogVideoXPipeline; 0.31.0 no LTX, 0.32.0 LTXPipeline
               and LTXImageToVideoPipeline; 0.32.2 none of LTXConditionPipeline / Wan, 0.33.0
               LTXConditionPipeline, LTXVideoCondition, WanPipeline, AutoencoderKLWan; 0.33.1
               no latent upsampler, 0.34.0 LTXLatentUpsamplePipeline and
               pipelines/ltx/modeling_latent_upsampler.py (LTXLatentUpsamplerModel); 0.36.0
               no pipelines/ltx2, 0.37.0 LTX2Pipeline, LTX2ImageToVideoPipeline,
               LTX2ConditionPipeline, LTX2TextConnectors, LTX2Vocoder; 0.38.0
               LTX2VocoderWithBWE (LTX-2.3's vocoder).
  transformers 5.0.0 (the first release the <6 pin's major admits) has SmolVLM's model and
               processor; models/smolvlm/image_processing_pil_smolvlm.py (SmolVLMImageProcessorPil)
               is absent from 5.0.0-5.3.0 and first in 5.4.0.
  huggingface_hub errors.IncompleteSnapshotError: absent from 1.21.0, first in 1.22.0.
And one floor that is not a class: diffusers 0.34.0-0.35.1 import
transformers.utils.FLAX_WEIGHTS_NAME, which transformers 5.0 removed, so no diffusers pipeline
imports beside transformers 5; 0.35.2 imports it only for transformers <= 4.56.2. The floors
(transformers 5.4.0, diffusers 0.35.2, huggingface_hub 1.22.0) were run against
tests/inference: they pass, but for test_parity.py, whose reference calls SmolVLMProcessor
methods (replace_image_token, replace_video_token) that transformers has only from 5.15.0.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import inspect
import io
import json
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

from studio.inference import registry

ROOT = Path(__file__).resolve().parents[2]

# (module, class) -> (distribution, the first release holding it); see the module docstring.
FIRST_RELEASE: dict[tuple[str, str], tuple[str, str]] = {
    ("diffusers", "CogVideoXPipeline"): ("diffusers", "0.30.0"),
    ("diffusers", "LTXPipeline"): ("diffusers", "0.32.0"),
    ("diffusers", "LTXImageToVideoPipeline"): ("diffusers", "0.32.0"),
    ("diffusers", "LTXConditionPipeline"): ("diffusers", "0.33.0"),
    ("diffusers.pipelines.ltx.pipeline_ltx_condition", "LTXVideoCondition"):
        ("diffusers", "0.33.0"),
    ("diffusers", "WanPipeline"): ("diffusers", "0.33.0"),
    ("diffusers", "AutoencoderKLWan"): ("diffusers", "0.33.0"),
    ("diffusers", "LTXLatentUpsamplePipeline"): ("diffusers", "0.34.0"),
    ("diffusers", "LTX2Pipeline"): ("diffusers", "0.37.0"),
    ("diffusers", "LTX2ImageToVideoPipeline"): ("diffusers", "0.37.0"),
    ("diffusers", "LTX2ConditionPipeline"): ("diffusers", "0.37.0"),
    ("diffusers", "AutoencoderKLLTX2Video"): ("diffusers", "0.37.0"),
    ("diffusers", "AutoencoderKLLTX2Audio"): ("diffusers", "0.37.0"),
    ("diffusers", "LTX2VideoTransformer3DModel"): ("diffusers", "0.37.0"),
    ("diffusers.pipelines.ltx2", "LTX2TextConnectors"): ("diffusers", "0.37.0"),
    ("diffusers.pipelines.ltx2", "LTX2Vocoder"): ("diffusers", "0.37.0"),
    ("diffusers.pipelines.ltx2", "LTX2VocoderWithBWE"): ("diffusers", "0.38.0"),
    ("diffusers.pipelines.ltx.modeling_latent_upsampler", "LTXLatentUpsamplerModel"):
        ("diffusers", "0.34.0"),
    ("transformers", "SmolVLMForConditionalGeneration"): ("transformers", "5.0.0"),
    ("transformers", "SmolVLMProcessor"): ("transformers", "5.0.0"),
    ("transformers.models.smolvlm.image_processing_pil_smolvlm", "SmolVLMImageProcessorPil"):
        ("transformers", "5.4.0"),
    ("huggingface_hub.errors", "IncompleteSnapshotError"): ("huggingface_hub", "1.22.0"),
}

# Floors for another reason than a class: distribution -> (release, why).
COMPATIBLE_FROM: dict[str, tuple[str, str]] = {
    # 0.35.2: earlier releases import FLAX_WEIGHTS_NAME, gone in transformers 5; 0.36.0:
    # LTXLatentUpsamplePipeline's tone_map_compression_ratio (diffusers #12493, in v0.36.0)
    "diffusers": ("0.36.0", "the 0.9.8 recipe's tone mapping in LTXLatentUpsamplePipeline"),
}

# Also named by Studio, older than any floor: imported, no table row needed.
ALSO_USED = [
    ("diffusers", "DiffusionPipeline"),
    ("diffusers", "AutoencoderKLLTXVideo"),
    ("diffusers", "LTXVideoTransformer3DModel"),
    ("diffusers", "FlowMatchEulerDiscreteScheduler"),
    ("transformers", "T5EncoderModel"),
    ("transformers", "T5TokenizerFast"),
    ("transformers", "AutoTokenizer"),
    ("transformers.models.smolvlm.processing_smolvlm", "DEFAULT_CHAT_TEMPLATE"),
]


def dependencies() -> dict[str, Requirement]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    reqs = [Requirement(r) for r in data["project"]["dependencies"]]
    return {r.name.lower().replace("_", "-"): r for r in reqs}


def floor(req: Requirement) -> Version | None:
    bounds = [Version(s.version) for s in req.specifier if s.operator in (">=", "==", "~=")]
    return max(bounds) if bounds else None


# --- the classes import -----------------------------------------------------------------------

@pytest.mark.parametrize("spec", registry.models(), ids=lambda s: s.id)
def test_every_registry_loader_imports(spec):
    package = "transformers" if spec.kind == "captioner" else "diffusers"
    cls = getattr(importlib.import_module(package), spec.loader)
    assert hasattr(cls, "from_pretrained")


@pytest.mark.parametrize("module,name", [pytest.param(m, n, id=f"{m}.{n}")
                                         for m, n in (*FIRST_RELEASE, *ALSO_USED)])
def test_every_class_studio_names_imports(module, name):
    assert getattr(importlib.import_module(module), name) is not None


def test_the_latent_upsampler_is_the_pipelines_own():
    from diffusers import LTXLatentUpsamplePipeline
    from diffusers.pipelines.ltx.modeling_latent_upsampler import LTXLatentUpsamplerModel

    hint = inspect.signature(LTXLatentUpsamplePipeline.__init__).parameters["latent_upsampler"]
    assert "LTXLatentUpsamplerModel" in str(hint.annotation)
    assert hasattr(LTXLatentUpsamplerModel, "from_pretrained")


def test_a_t5_tokenizer_folder_with_only_spiece_model_loads(tmp_path):
    """As LTX-Video's and CogVideoX's tokenizer folders hold it: spiece.model and a config, no
    tokenizer.json. transformers 5 needs sentencepiece and protobuf for it (without them:
    "`tiktoken` is required")."""
    import google.protobuf  # noqa: F401
    import sentencepiece as spm
    from transformers import AutoTokenizer, T5TokenizerFast

    text = ["a red fox runs through the snowy forest at dawn",
            "the camera pans slowly over a calm lake at dusk"] * 4
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(text), model_writer=model,
                                   vocab_size=40, hard_vocab_limit=False, pad_id=0, eos_id=1,
                                   unk_id=2, bos_id=-1, minloglevel=2)
    folder = tmp_path / "tokenizer"
    folder.mkdir()
    (folder / "spiece.model").write_bytes(model.getvalue())
    (folder / "tokenizer_config.json").write_text(
        json.dumps({"tokenizer_class": "T5Tokenizer", "extra_ids": 0, "model_max_length": 128}))
    for cls in (T5TokenizerFast, AutoTokenizer):
        tokenizer = cls.from_pretrained(folder)
        ids = tokenizer("a red fox").input_ids
        assert ids[-1] == tokenizer.eos_token_id == 1 and tokenizer.unk_token_id not in ids
        assert tokenizer.decode(ids, skip_special_tokens=True) == "a red fox"


# --- the floors -------------------------------------------------------------------------------

@pytest.mark.parametrize("distribution", sorted({d for d, _ in FIRST_RELEASE.values()}))
def test_the_floor_admits_no_release_without_the_classes(distribution):
    req = dependencies().get(distribution.replace("_", "-"))
    assert req is not None, f"{distribution} is not a dependency in pyproject.toml"
    low = floor(req)
    assert low is not None, f"{req}: no lower bound"
    needed = max(Version(v) for d, v in FIRST_RELEASE.values() if d == distribution)
    if distribution in COMPATIBLE_FROM:
        needed = max(needed, Version(COMPATIBLE_FROM[distribution][0]))
    assert low >= needed, f"{req}: the classes Studio uses need {distribution}>={needed}"
    assert req.specifier.contains(needed, prereleases=True), f"{req} excludes {needed}"


@pytest.mark.parametrize("name", ["sentencepiece", "protobuf"])
def test_the_t5_tokenizer_dependencies_are_declared(name):
    assert name in dependencies()


@pytest.mark.parametrize("name", ["diffusers", "transformers", "huggingface-hub",
                                  "sentencepiece", "protobuf"])
def test_what_is_installed_meets_the_requirements(name):
    req = dependencies()[name]
    installed = importlib.metadata.version(req.name)
    assert req.specifier.contains(installed, prereleases=True), f"{name} {installed}: not {req}"


def test_the_upsample_pipeline_takes_the_recipes_arguments():
    """The multi-scale recipe passes these to LTXLatentUpsamplePipeline (diffusers >= 0.36)."""
    import inspect

    from diffusers import LTXLatentUpsamplePipeline

    params = inspect.signature(LTXLatentUpsamplePipeline.__call__).parameters
    assert {"latents", "adain_factor", "tone_map_compression_ratio", "output_type"} <= set(params)
