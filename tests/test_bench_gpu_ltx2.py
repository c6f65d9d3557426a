"""bench/gpu_ltx2.py stays ready for a GPU machine (it never runs in CI): without CUDA it stops
at once with one clear line and exit status 2, before importing torch (tests/test_bench_gpu.py
holds that for both GPU benches); its full-size
transformer is LTX-2's 19B (built on the meta device: no memory); and its whole path (bf16,
fp8 layerwise casting, group offload, the estimate line) runs with a tiny transformer on the
CPU."""

from __future__ import annotations

import re


def test_the_full_size_transformer_is_ltx2_19b():
    import torch

    from bench import gpu_ltx2

    model = gpu_ltx2.build_transformer(gpu_ltx2.transformer_config("ltx2", False), "meta",
                                       torch.bfloat16)
    assert {p.dtype for p in model.parameters()} == {torch.bfloat16}
    assert 18.8e9 < sum(p.numel() for p in model.parameters()) < 19.0e9
    stand_in = gpu_ltx2.build_transformer(gpu_ltx2.transformer_config("ltx2.3", False), "meta",
                                          torch.bfloat16)
    assert 21.5e9 < sum(p.numel() for p in stand_in.parameters()) < 22.5e9
    assert torch.get_default_dtype() == torch.float32  # restored after building


def test_the_estimates_follow_the_plan():
    import argparse

    from bench import gpu_ltx2

    args = argparse.Namespace(width=768, height=512, frames=121, guidance=3.0)
    bf16, fp8, group = (gpu_ltx2.estimate_gb(args, v, 18.876e9) for v in gpu_ltx2.VARIANTS)
    assert 35 < bf16 < 38 and 18 < fp8 < 20  # 35.2 / 17.6 GB of weights, activations, context
    assert group < 5


def test_the_tiny_run_goes_through_every_variant(capsys):
    from bench import gpu_ltx2

    assert gpu_ltx2.main(["--tiny", "--steps", "2"]) == 0
    out = capsys.readouterr().out
    for variant in gpu_ltx2.VARIANTS:
        steps = re.search(rf"{variant}: seconds per step ([\d., ]+) \(mean", out)
        assert steps and len(steps.group(1).split(",")) == 2, out
        assert re.search(rf"{variant}: memory: estimate [\d.]+ GB, measured peak n/a \(no CUDA",
                         out), out
        assert f"RESULTS.md row: | CPU (--tiny) | ltx2 transformer, {variant} |" in out


def test_unknown_variants_are_refused_naming_them(capsys):
    import pytest

    from bench import gpu_ltx2

    with pytest.raises(SystemExit) as stop:
        gpu_ltx2.main(["--tiny", "--variants", "fp8,int2"])
    assert stop.value.code == 2
    assert "--variants: unknown int2" in capsys.readouterr().err
