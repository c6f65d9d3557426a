"""The tiny LTX-Video demo: built offline in the real diffusers layout, loaded by
LTXPipeline.from_pretrained, and a short text-to-video run on the CPU gives frames of the
asked-for shape."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from studio.inference import loading
from studio.inference.demo_ltx import DEMO_LTX_ID, make_demo_ltx


@pytest.fixture(scope="module")
def ltx_dir(tmp_path_factory):
    return make_demo_ltx(tmp_path_factory.mktemp("demo") / "ltx-video-tiny")


def test_layout_is_a_diffusers_pipeline_in_safetensors(ltx_dir):
    index = json.loads((ltx_dir / "model_index.json").read_text())
    assert index["_class_name"] == "LTXPipeline"
    for name in ("transformer", "vae", "text_encoder", "tokenizer", "scheduler"):
        assert (ltx_dir / name).is_dir(), name
    assert (ltx_dir / "transformer" / "diffusion_pytorch_model.safetensors").is_file()
    assert (ltx_dir / "vae" / "diffusion_pytorch_model.safetensors").is_file()
    assert (ltx_dir / "text_encoder" / "model.safetensors").is_file()
    files = [p.name for p in ltx_dir.rglob("*") if p.is_file()]
    assert not [f for f in files if f.endswith(loading.PICKLE_SUFFIXES)]
    assert not [p for p in ltx_dir.parent.iterdir() if p.name.startswith(".")]  # no leftovers
    loading.check_folder(ltx_dir, "generator")


def test_loads_and_generates_frames_of_the_right_shape(ltx_dir):
    import numpy as np
    import torch
    from diffusers import LTXPipeline

    pipe = LTXPipeline.from_pretrained(ltx_dir)
    pipe.set_progress_bar_config(disable=True)

    def run(seed: int):
        return pipe(prompt="a dog running on the beach, cinematic", negative_prompt="",
                    num_inference_steps=2, num_frames=9, height=32, width=32, guidance_scale=3.0,
                    max_sequence_length=16, output_type="np",
                    generator=torch.Generator().manual_seed(seed)).frames

    frames = run(0)
    assert frames.shape == (1, 9, 32, 32, 3)
    assert np.isfinite(frames).all() and frames.min() >= 0.0 and frames.max() <= 1.0
    assert frames.std() > 0  # random weights give noise, not a blank
    np.testing.assert_array_equal(frames, run(0))  # same seed, same video


def test_rebuilding_replaces_the_folder(ltx_dir, tmp_path):
    target = tmp_path / "ltx"
    make_demo_ltx(target)
    (target / "stale.txt").write_text("from an earlier build")
    assert make_demo_ltx(target) == target
    assert not (target / "stale.txt").exists()
    assert (target / "model_index.json").is_file()


def test_make_demo_models_puts_it_where_the_demo_id_finds_it(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    built = loading.make_demo_models(ids=[DEMO_LTX_ID])
    found = loading.resolve(DEMO_LTX_ID, expect="generator")
    assert found.path == built[DEMO_LTX_ID].resolve() and found.demo
    marker = json.loads((found.path / loading.DEMO_MARKER).read_text())
    assert marker["id"] == DEMO_LTX_ID and marker["label"] == "demo model: random weights"


def _build_that_cannot_read_a_library_file(target):
    """A demo builder whose library misses a data file (as a bundle without kernels'
    python_depends.json did): the failure is a read outside the target folder."""
    raise FileNotFoundError(2, "No such file or directory",
                            "/opt/studio/_internal/kernels/_internals/python_depends.json")


def _build_that_cannot_write(target):
    raise PermissionError(13, "Permission denied", str(Path(target) / "model_index.json"))


@pytest.mark.parametrize("builder,said", [
    ("_build_that_cannot_read_a_library_file",
     "cannot build the demo model: /opt/studio/_internal/kernels/_internals/python_depends.json "
     "cannot be read (No such file or directory); the installation is incomplete."),
    ("_build_that_cannot_write", "cannot write the demo model (Permission denied)."),
])
def test_a_failed_demo_build_names_the_real_cause(tmp_path, monkeypatch, builder, said):
    """Issue 19: any OSError, a library's missing data file too, was "cannot write the demo
    model", which sent people to check the wrong folder."""
    demo = loading.DEMO_MODELS[DEMO_LTX_ID]
    monkeypatch.setitem(loading.DEMO_MODELS, DEMO_LTX_ID, loading.DemoModel(
        demo.id, demo.kind, demo.folder, f"{__name__}:{builder}"))
    with pytest.raises(loading.ModelError) as raised:
        loading.make_demo_models(tmp_path / "models", ids=[DEMO_LTX_ID])
    assert str(raised.value).endswith(said)
    assert not any((tmp_path / "models").iterdir())  # no half-built folder left
