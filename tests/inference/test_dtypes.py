"""Dtypes as each model's docs give them: bf16 on CUDA, float16 where a card has no bf16 (with
a line saying so), CogVideoX-2b in float16 on CUDA, Wan's VAE in float32; recorded with the
model. The CUDA cases replace torch.cuda's answers (this machine has no GPU)."""

from __future__ import annotations

import pytest

from studio.inference import devices, registry
from studio.inference.devices import DeviceChoice, model_dtypes


@pytest.fixture
def cuda(monkeypatch):
    """torch.cuda answering as a card with (``bf16=True``) or without native bfloat16."""
    import torch

    def card(bf16: bool):
        monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
        monkeypatch.setattr(torch.cuda, "is_bf16_supported",
                            lambda including_emulation=True: bf16)
    return card


def test_cuda_runs_bf16_and_a_card_without_it_float16_with_a_note(cuda):
    cuda(True)
    assert devices.pick_device() == DeviceChoice("cuda", "bfloat16")
    cuda(False)
    choice = devices.pick_device()
    assert (choice.device, choice.dtype_name) == ("cuda", "float16")
    assert "no bfloat16" in choice.note and "float16" in choice.note


def test_cogvideox_2b_runs_float16_on_cuda_as_its_card_says():
    spec = registry.get("THUDM/CogVideoX-2b")
    got = model_dtypes(DeviceChoice("cuda", "bfloat16"), cuda_dtype=spec.defaults["cuda_dtype"])
    assert got.dtype_name == "float16" and got.note is None
    # the CPU stays float32
    assert model_dtypes(DeviceChoice("cpu", "float32"),
                        cuda_dtype="float16").dtype_name == "float32"


def test_wan_keeps_its_vae_in_float32():
    spec = registry.get("Wan-AI/Wan2.1-T2V-1.3B-Diffusers")
    got = model_dtypes(DeviceChoice("cuda", "bfloat16"),
                       component_dtypes=spec.defaults["component_dtypes"])
    assert got.dtype_name == "bfloat16" and got.component_dtypes == (("vae", "float32"),)
    # float32 everywhere on the CPU: nothing to keep apart
    assert model_dtypes(DeviceChoice("cpu", "float32"),
                        component_dtypes={"vae": "float32"}).component_dtypes == ()


def test_a_model_loaded_in_bf16_keeps_a_float32_component_and_records_it(tiny_ltx_dir):
    """Through the real loading code: the component dtype reaches from_pretrained (here on
    the CPU in bf16, as a CUDA load would be) and the model record."""
    import torch

    from studio.inference.generator import Generator

    choice = model_dtypes(DeviceChoice("cpu", "bfloat16", note="test note"),
                          component_dtypes={"vae": "float32"})
    generator = Generator.load(str(tiny_ltx_dir), choice)
    pipe = generator.pipeline("t2v")
    assert pipe.transformer.dtype == torch.bfloat16 and pipe.vae.dtype == torch.float32
    record = generator.model_record()
    assert record["dtype"] == "bfloat16" and record["component_dtypes"] == {"vae": "float32"}
    assert record["dtype_note"] == "test note"
