"""bench/gpu_ltx.py stays ready for a GPU machine: without CUDA it stops at once with one clear
line and exit status 2, before building anything; its full-size configs are the ones the
installed diffusers and transformers accept (built on the meta device: no memory), with the
sizes of LTX-Video 2B, T5-XXL and the 0.9.8 latent upsampler; and its whole path runs with tiny
models on the CPU: the plain diffusers baseline, then Studio's own generator in one pass and
with the distilled 0.9.8 multi-scale recipe (the upsampler found in a temporary hub cache),
with the estimate-against-measured memory line."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "bench" / "gpu_ltx.py"


@pytest.mark.parametrize("script", ["gpu_ltx.py", "gpu_ltx2.py"])
def test_without_cuda_it_stops_at_once_with_one_clear_line(script):
    """Both GPU benches (LTX-Video, LTX-2): CUDA_VISIBLE_DEVICES="" hides any GPU, so this
    holds on a GPU machine too."""
    path = ROOT / "bench" / script
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    code = ("import runpy, sys\n"
            f"sys.argv = [{str(path)!r}]\n"
            "try:\n"
            f"    runpy.run_path({str(path)!r}, run_name='__main__')\n"
            "except SystemExit as stop:\n"
            "    loaded = sorted(m for m in ('torch', 'diffusers', 'transformers') if m in sys.modules)\n"
            "    print('loaded:', ','.join(loaded) or '-')\n"
            "    raise\n")
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=60, cwd=ROOT, check=False)
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"bench/{script}: needs an NVIDIA GPU with CUDA")
    assert lines[0].endswith("nothing was run.")
    assert done.stdout.strip() == "loaded: -"  # refused before importing torch or any model


def test_the_script_itself_exits_2_without_cuda():
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run([sys.executable, str(SCRIPT)], env=env, capture_output=True, text=True,
                          timeout=60, cwd=ROOT, check=False)
    assert done.returncode == 2
    assert "CUDA" in done.stderr and done.stdout == ""


def test_the_full_size_configs_are_ltx_video_2b_and_t5_xxl():
    import torch
    from diffusers import AutoencoderKLLTXVideo, LTXVideoTransformer3DModel
    from transformers import T5Config, T5EncoderModel

    from bench import gpu_ltx

    def count(model):
        assert {p.device.type for p in model.parameters()} == {"meta"}
        assert {p.dtype for p in model.parameters()} == {torch.bfloat16}
        return sum(p.numel() for p in model.parameters())

    transformer = gpu_ltx.build(
        lambda: LTXVideoTransformer3DModel(**gpu_ltx.TRANSFORMER_CONFIG), "meta", torch.bfloat16)
    assert 1.9e9 < count(transformer) < 2.0e9
    text_encoder = gpu_ltx.build(lambda: T5EncoderModel(T5Config(**gpu_ltx.T5_CONFIG)), "meta",
                                 torch.bfloat16)
    assert 4.7e9 < count(text_encoder) < 4.8e9  # T5-XXL's encoder
    vae = gpu_ltx.build(lambda: AutoencoderKLLTXVideo(**gpu_ltx.VAE_CONFIG), "meta",
                        torch.bfloat16)
    count(vae)
    assert (vae.spatial_compression_ratio, vae.temporal_compression_ratio) == (32, 8)
    assert torch.get_default_dtype() == torch.float32  # restored after building


def test_the_full_size_upsampler_is_the_published_one():
    import torch
    from diffusers.pipelines.ltx.modeling_latent_upsampler import LTXLatentUpsamplerModel

    from bench import gpu_ltx

    upsampler = gpu_ltx.build(lambda: LTXLatentUpsamplerModel(**gpu_ltx.UPSAMPLER_CONFIG), "meta",
                              torch.float32)
    config = {k: upsampler.config[k] for k in ("in_channels", "mid_channels",
                                               "num_blocks_per_stage", "dims",
                                               "spatial_upsample", "temporal_upsample")}
    assert config == {"in_channels": 128, "mid_channels": 512, "num_blocks_per_stage": 4,
                      "dims": 3, "spatial_upsample": True, "temporal_upsample": False}
    assert 0.12e9 < sum(p.numel() for p in upsampler.parameters()) < 0.13e9
    assert gpu_ltx.TINY_UPSAMPLER["in_channels"] == gpu_ltx.TINY_VAE["latent_channels"]


def test_the_tiny_run_goes_through_every_stage(capsys, monkeypatch):
    """Plain diffusers, then Studio's generator in one pass and in two (2/3-size pass, the
    latent upsampler, refine pass), with a peak memory to set against the estimate (no CUDA
    here: the clock's peak is made up, 3 GiB, to check the line a GPU run prints)."""
    from huggingface_hub import constants

    from bench import gpu_ltx

    before = (os.environ.get("HF_HUB_CACHE"), os.environ.get("HF_HUB_OFFLINE"),
              constants.HF_HUB_CACHE, constants.HF_HUB_OFFLINE)
    monkeypatch.setattr(gpu_ltx.Clock, "peak_gb", lambda self: 3.0)
    assert gpu_ltx.main(["--tiny"]) == 0
    out = capsys.readouterr().out
    for stage in ("text encoding", "denoising: ", "VAE decode", "RESULTS.md row: | CPU (--tiny)",
                  "RESULTS.md Studio row: | CPU (--tiny)"):
        assert stage in out, out
    assert "(1, 9, 3, 64, 64)" in out  # 9 frames of 64x64 came out of the VAE
    # Studio's one-pass run, with the registry's distilled timesteps, against the baseline
    assert "Studio one pass" in out and "  pass 1 of 1: 64x64, 8 steps" in out, out
    assert "call 1: LTXConditionPipeline (64x64, 8 steps, timesteps [1000.0, 993.0" in out
    assert re.search(r"overhead: Studio one pass / plain diffusers .*total [\d.]+ / [\d.]+ s = "
                     r"[\d.]+x", out), out
    # the multi-scale run: two passes, the upsampler found in the temporary cache and called
    assert "latent upsampler: ltxv-spatial-upscaler-0.9.8.safetensors" in out, out
    multi = out[out.index("Studio multi-scale"):]
    assert "(9, 64, 64, 3)" in multi  # the size asked for
    calls = re.findall(r"  call (\d): (\w+)", multi)
    assert calls == [("1", "LTXConditionPipeline"), ("2", "LTXLatentUpsamplePipeline"),
                     ("3", "LTXConditionPipeline")], multi
    assert "  pass 1 of 2: 32x32, 8 steps" in multi, multi  # 2/3 of 64, rounded down to 32
    assert "  pass 2 of 2: 64x64, 4 steps" in multi, multi  # [1000, 909, 725, 421, 0] at 0.999
    assert "  latent upsampler (LTXLatentUpsamplePipeline" in multi
    steps = re.findall(r"pass \d of 2: .* per step ([\d., ]+) s", multi)
    assert [len(s.split(",")) for s in steps] == [8, 4], multi
    memory = re.findall(r"memory: estimate ([\d.]+) GB .*, measured peak 3\.00 GB \(ratio "
                        r"([\d.]+)\); the plan applied: offload none", out)
    assert len(memory) == 2, out  # one for each Studio run
    for estimate, ratio in memory:
        assert float(ratio) == round(3.0 / float(estimate), 2)
    # the temporary hub cache was Studio's only while it ran
    assert before == (os.environ.get("HF_HUB_CACHE"), os.environ.get("HF_HUB_OFFLINE"),
                      constants.HF_HUB_CACHE, constants.HF_HUB_OFFLINE)


def test_the_tiny_run_without_multiscale_has_one_studio_pass(capsys):
    from bench import gpu_ltx

    assert gpu_ltx.main(["--tiny", "--no-multiscale", "--warmup-steps", "0"]) == 0
    out = capsys.readouterr().out
    assert "Studio one pass" in out and "Studio multi-scale" not in out, out
    assert "upsampl" not in out.lower(), out
    assert "measured peak n/a (no CUDA" in out  # a CPU has no peak to set against it
