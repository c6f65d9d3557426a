"""LTX-2's transformer at full size on an NVIDIA GPU, against Studio's memory plan: the 19B
``LTX2VideoTransformer3DModel`` (diffusers' default config, which is LTX-2's: 48 blocks, 32
heads x 128, audio blocks of 32 x 64, caption channels 3840) built with random weights
directly on the GPU in bf16, then denoising steps at 768x512, 121 frames (16x16x24 = 6,144
video tokens, 126 audio latent frames, 1,024 text tokens, batch 2 for guidance), in up to
three variants, each as Studio's generator applies it:

1. ``bf16``: the weights on the GPU (about 35 GB);
2. ``fp8``: the same weights stored in float8_e4m3fn, each layer cast to bf16 as it runs
   (diffusers' ``enable_layerwise_casting``, what Studio's plan picks for a 24 GB card);
3. ``group``: bf16 weights in CPU memory, one block at a time on the GPU and the next copied
   ahead on a CUDA stream (diffusers' block-level group offload, what Studio's plan picks for
   16 and 12 GB cards, there in fp8).

For each it prints the seconds of every timed step (after one untimed warm-up step) and the
peak GPU memory (``torch.cuda.max_memory_allocated``) against the plan's estimate for the
transformer alone (``core.params``: its resident weights for that offload, the denoising
activations and the CUDA overhead): "estimate X GB, measured peak Y GB (ratio Y/X)". A
variant that runs out of memory says so and the next one runs. ``--model ltx2.3`` builds a
22B transformer (LTX-2.3's width and depth are not published in a config Studio can read: the
19B config with 56 blocks, 22.0B parameters, stands in for it, and says so).

Nothing is downloaded. Without CUDA it stops at once (exit 2) with one line saying so.
``--tiny`` runs the same code with a tiny transformer on whatever device there is (the CPU
here, in seconds): a check of this script, not a benchmark.

The GPU run, one command, made to fit in 5 minutes on an H100 (reckoned, not yet timed: most
of it building 19B random weights and copying them to the CPU for the group variant):

    timeout 300 .venv/bin/python -u bench/gpu_ltx2.py

Options: [--variants bf16,fp8,group] [--steps 3] [--width 768 --height 512 --frames 121]
[--guidance 3.0] [--model ltx2|ltx2.3] [--tiny]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.gpu_ltx import Refused, refuse_early  # noqa: E402 - the same checks before torch

VARIANTS = ("bf16", "fp8", "group")
TEXT_TOKENS = 1024  # LTX2Pipeline's max_sequence_length
AUDIO_LATENTS_PER_S = 25  # 16 kHz, hop 160 (100 mel frames a second), 4x in time
TINY_CONFIG = dict(
    in_channels=4, out_channels=4, patch_size=1, patch_size_t=1, num_attention_heads=2,
    attention_head_dim=8, cross_attention_dim=16, audio_in_channels=4, audio_out_channels=4,
    audio_num_attention_heads=2, audio_attention_head_dim=4, audio_cross_attention_dim=8,
    num_layers=2, qk_norm="rms_norm_across_heads", caption_channels=32,
    rope_double_precision=False, rope_type="split")


def transformer_config(model: str, tiny: bool) -> dict:
    """The config the transformer is built from: diffusers' defaults (LTX-2 19B), 56 blocks
    for the 22B stand-in, or the tiny one."""
    if tiny:
        return dict(TINY_CONFIG)
    return {"num_layers": 56} if model == "ltx2.3" else {}


def build_transformer(config: dict, device, dtype):
    """The transformer with its parameters made on ``device`` in ``dtype`` from the start."""
    import torch
    from diffusers import LTX2VideoTransformer3DModel

    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.device(device):
            model = LTX2VideoTransformer3DModel(**config)
    finally:
        torch.set_default_dtype(previous)
    if any(p.dtype != dtype for p in model.parameters()):  # made with an explicit dtype
        model = model.to(dtype=dtype)
    return model.eval().requires_grad_(False)


def inputs(model, args, device, dtype) -> dict:
    """A denoising step's keyword arguments, as LTX2Pipeline passes them (random latents and
    text embeddings of the real shapes; coordinates made by the transformer itself)."""
    import torch

    cfg = model.config
    frames = (args.frames - 1) // 8 + 1
    height, width = args.height // 32, args.width // 32
    audio = max(1, round(args.frames / args.fps * AUDIO_LATENTS_PER_S))
    batch = 2 if args.guidance > 1.0 else 1
    text = TEXT_TOKENS if not args.tiny else 16
    g = torch.Generator(device).manual_seed(0)

    def rand(*shape):
        return torch.randn(*shape, generator=g, device=device, dtype=dtype)

    return dict(hidden_states=rand(batch, frames * height * width, cfg.in_channels),
                audio_hidden_states=rand(batch, audio, cfg.audio_in_channels),
                encoder_hidden_states=rand(batch, text, cfg.caption_channels),
                audio_encoder_hidden_states=rand(batch, text, cfg.caption_channels),
                timestep=torch.full((batch,), 500.0, device=device),
                sigma=torch.full((batch,), 0.5, device=device),
                encoder_attention_mask=torch.ones(batch, text, device=device),
                audio_encoder_attention_mask=torch.ones(batch, text, device=device),
                num_frames=frames, height=height, width=width, fps=args.fps,
                audio_num_frames=audio, return_dict=False)


def apply_variant(model, variant: str, device):
    """The variant as Studio's generator applies it (generator._cast_to_fp8 and
    _enable_group_offload do the same calls)."""
    import torch

    if variant == "fp8":
        model.enable_layerwise_casting(storage_dtype=torch.float8_e4m3fn,
                                       compute_dtype=torch.bfloat16)
    elif variant == "group":
        model.to("cpu")
        model.enable_group_offload(device, torch.device("cpu"), offload_type="block_level",
                                   num_blocks_per_group=1, use_stream=device.type == "cuda")
    return model


def estimate_gb(args, variant: str, count: float) -> float:
    """Studio's estimate for the transformer alone in ``variant``: its resident weights
    (core.params.resident_weights_gb, the other parts left out), the denoising activations
    and the CUDA overhead, for a model of ``count`` parameters."""
    from studio.core import params as P

    scale = count / 1e9 / P.LTX2_DEV.transformer_b
    rules = P.dataclasses.replace(P.LTX2_DEV, transformer_b=count / 1e9,
                                  transformer_top_b=P.LTX2_DEV.transformer_top_b * scale)
    p = P.conform(P.GenerationParams.defaults(rules.id, prompt="x", width=args.width,
                                              height=args.height, num_frames=args.frames,
                                              guidance_scale=args.guidance, seed=1), rules).params
    option = P.MemoryOption("group" if variant == "group" else "none", True,
                            "fp8" if variant == "fp8" else "bf16", "bf16")
    weights = {**P.weights_gb(p, rules, "bf16", option), "text_encoder": 0.0,
               "connectors": 0.0, "vae": 0.0}
    resident = P.resident_weights_gb(weights, rules, option.offload)["denoise"]
    activations = P.cost(p, rules, **option.cost_kwargs()).breakdown_gb["denoise_activations"]
    return resident + activations + P.CUDA_OVERHEAD_GB


def peak_gb(torch, device) -> float:
    return torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" \
        else float("nan")


def run_variant(args, variant: str, device) -> dict:
    """Build, apply ``variant``, one warm-up step, ``args.steps`` timed steps."""
    import torch

    began = time.perf_counter()
    model = build_transformer(transformer_config(args.model, args.tiny), device, torch.bfloat16)
    count = sum(p.numel() for p in model.parameters())
    apply_variant(model, variant, device)
    kwargs = inputs(model, args, device, torch.bfloat16)
    print(f"{variant}: built {count / 1e9:.2f}B parameters in "
          f"{time.perf_counter() - began:.1f} s", flush=True)
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats(device)
    seconds = []
    with torch.inference_mode():
        for step in range(args.steps + 1):
            start = time.perf_counter()
            model(**kwargs)
            if device.type == "cuda":
                torch.cuda.synchronize()
            if step:  # the first is the warm-up
                seconds.append(time.perf_counter() - start)
    return {"variant": variant, "count": count, "seconds": seconds,
            "peak_gb": peak_gb(torch, device), "estimate_gb": estimate_gb(args, variant, count)}


def report(result: dict, name: str, args) -> None:
    steps = ", ".join(f"{s:.3f}" for s in result["seconds"])
    mean = sum(result["seconds"]) / len(result["seconds"])
    peak, estimate = result["peak_gb"], result["estimate_gb"]
    measured = ("n/a (no CUDA: a --tiny check)" if peak != peak
                else f"{peak:.2f} GB (ratio {peak / estimate:.2f})")
    print(f"{result['variant']}: seconds per step {steps} (mean {mean:.3f} s)")
    print(f"{result['variant']}: memory: estimate {estimate:.2f} GB, measured peak {measured}")
    print(f"RESULTS.md row: | {name} | {args.model} transformer, {result['variant']} | "
          f"{args.width}x{args.height}x{args.frames}, cfg {args.guidance} | {mean:.3f} s/step | "
          f"{estimate:.1f} GB | {peak:.1f} GB |", flush=True)


def run(args) -> int:
    if not args.tiny:
        refuse_early()
    import torch

    if not args.tiny and not torch.cuda.is_available():
        raise Refused(f"needs an NVIDIA GPU with CUDA, and torch {torch.__version__} sees none "
                      "(torch.cuda.is_available() is False); nothing was run.")
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if args.tiny:
        args.width, args.height, args.frames = 64, 64, 9
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU (--tiny)"
    if args.model == "ltx2.3" and not args.tiny:
        print("ltx2.3: the 19B config with 56 blocks stands in for LTX-2.3's 22B")
    print(f"{name}; torch {torch.__version__}; {args.width}x{args.height}, {args.frames} "
          f"frames, guidance {args.guidance}, {args.steps} timed steps", flush=True)
    for variant in args.variants:
        try:
            report(run_variant(args, variant, device), name, args)
        except torch.cuda.OutOfMemoryError:
            print(f"{variant}: out of GPU memory (peak {peak_gb(torch, device):.1f} GB)",
                  flush=True)
        if device.type == "cuda":
            torch.cuda.empty_cache()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variants", type=lambda text: text.split(","), default=list(VARIANTS),
                        help="any of bf16, fp8, group, comma-separated")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--width", type=int, default=768)
    parser.add_argument("--height", type=int, default=512)
    parser.add_argument("--frames", type=int, default=121)
    parser.add_argument("--fps", type=float, default=24.0)
    parser.add_argument("--guidance", type=float, default=3.0,
                        help="above 1 runs classifier-free guidance (twice the batch)")
    parser.add_argument("--model", choices=("ltx2", "ltx2.3"), default="ltx2")
    parser.add_argument("--tiny", action="store_true",
                        help="a tiny transformer on any device: checks this script, measures "
                             "nothing")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.variants) - set(VARIANTS))
    if unknown:
        parser.error(f"--variants: unknown {', '.join(unknown)} (choose from "
                     f"{', '.join(VARIANTS)})")
    try:
        return run(args)
    except Refused as err:
        print(f"bench/gpu_ltx2.py: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
