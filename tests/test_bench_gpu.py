"""bench/gpu_ltx.py stays ready for a GPU machine: without CUDA it stops at once with one clear
line and exit status 2, before building anything; its full-size configs are the ones the
installed diffusers and transformers accept (built on the meta device: no memory), with the
sizes of LTX-Video 2B and T5-XXL; and its whole path runs with tiny models on the CPU."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "bench" / "gpu_ltx.py"


def test_without_cuda_it_stops_at_once_with_one_clear_line():
    # CUDA_VISIBLE_DEVICES="" hides any GPU, so this holds on a GPU machine too
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    code = ("import runpy, sys\n"
            f"sys.argv = [{str(SCRIPT)!r}]\n"
            "try:\n"
            f"    runpy.run_path({str(SCRIPT)!r}, run_name='__main__')\n"
            "except SystemExit as stop:\n"
            "    loaded = sorted(m for m in ('torch', 'diffusers', 'transformers') if m in sys.modules)\n"
            "    print('loaded:', ','.join(loaded) or '-')\n"
            "    raise\n")
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=60, cwd=ROOT, check=False)
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("bench/gpu_ltx.py: needs an NVIDIA GPU with CUDA")
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


def test_the_tiny_run_goes_through_every_stage(capsys):
    from bench import gpu_ltx

    assert gpu_ltx.main(["--tiny"]) == 0
    out = capsys.readouterr().out
    for stage in ("text encoding", "denoising: ", "VAE decode", "RESULTS.md row: | CPU (--tiny)"):
        assert stage in out, out
    assert "(1, 9, 3, 64, 64)" in out  # 9 frames of 64x64 came out of the VAE
