"""LTX-Video 2B at full size on an NVIDIA GPU: the transformer, VAE and T5-XXL text encoder of
Lightricks/LTX-Video 0.9.5 built from their real configs with random weights, in bf16 on CUDA
(the same shapes, so the same compute and memory as the real weights), one 768x512, 121-frame,
8-step text-to-video run through diffusers' ``LTXPipeline``, timed stage by stage: text
encoding, every denoising step, the VAE decode, with the peak GPU memory of each.

Nothing is downloaded: the configs are written below (from diffusers'
scripts/convert_ltx_to_diffusers.py, version 0.9.5, and google/t5-v1_1-xxl's config.json) and
the models are built directly on the GPU in bf16, never on the CPU. The tokenizer is Studio's
small demo T5 tokenizer: the pipeline pads every prompt to 128 tokens, so T5-XXL does the same
work as with the real one. 0.9.6-distilled (8 steps, guidance 1) has the same architecture.

Without CUDA it stops at once (exit 2) with one line saying so. ``--tiny`` runs the same code
with tiny configs on whatever device there is (the CPU here): a check of this script, not a
benchmark.

    .venv/bin/python bench/gpu_ltx.py [--steps 8] [--guidance 1.0] [--vae-tiling]
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# LTXVideoTransformer3DModel, LTX-Video 0.9.5 (and 0.9.1, 0.9.6): 28 layers, 32 heads x 64
TRANSFORMER_CONFIG = {
    "in_channels": 128, "out_channels": 128, "patch_size": 1, "patch_size_t": 1,
    "num_attention_heads": 32, "attention_head_dim": 64, "cross_attention_dim": 2048,
    "num_layers": 28, "activation_fn": "gelu-approximate", "qk_norm": "rms_norm_across_heads",
    "norm_elementwise_affine": False, "norm_eps": 1e-6, "caption_channels": 4096,
    "attention_bias": True, "attention_out_bias": True,
}
# AutoencoderKLLTXVideo, LTX-Video 0.9.5: 32x spatial, 8x temporal, timestep-conditioned decoder
VAE_CONFIG = {
    "in_channels": 3, "out_channels": 3, "latent_channels": 128,
    "block_out_channels": (128, 256, 512, 1024, 2048),
    "down_block_types": ("LTXVideo095DownBlock3D",) * 4,
    "decoder_block_out_channels": (256, 512, 1024),
    "layers_per_block": (4, 6, 6, 2, 2), "decoder_layers_per_block": (5, 5, 5, 5),
    "spatio_temporal_scaling": (True, True, True, True),
    "decoder_spatio_temporal_scaling": (True, True, True),
    "decoder_inject_noise": (False, False, False, False),
    "downsample_type": ("spatial", "temporal", "spatiotemporal", "spatiotemporal"),
    "upsample_residual": (True, True, True), "upsample_factor": (2, 2, 2),
    "timestep_conditioning": True, "patch_size": 4, "patch_size_t": 1,
    "resnet_norm_eps": 1e-6, "scaling_factor": 1.0, "encoder_causal": True,
    "decoder_causal": False, "spatial_compression_ratio": 32, "temporal_compression_ratio": 8,
}
# T5EncoderModel of google/t5-v1_1-xxl (T5 1.1: gated GELU, untied embeddings)
T5_CONFIG = {
    "vocab_size": 32128, "d_model": 4096, "d_kv": 64, "d_ff": 10240, "num_layers": 24,
    "num_heads": 64, "relative_attention_num_buckets": 32,
    "relative_attention_max_distance": 128, "dropout_rate": 0.1, "layer_norm_epsilon": 1e-6,
    "feed_forward_proj": "gated-gelu", "tie_word_embeddings": False,
    "pad_token_id": 0, "eos_token_id": 1, "decoder_start_token_id": 0,
}
# --tiny: the same code path with models of a few MB (a check of the script, on any device)
TINY_TRANSFORMER = {**TRANSFORMER_CONFIG, "in_channels": 8, "out_channels": 8,
                    "num_attention_heads": 2, "attention_head_dim": 8, "cross_attention_dim": 16,
                    "num_layers": 1, "caption_channels": 32}
TINY_VAE = {**VAE_CONFIG, "latent_channels": 8, "block_out_channels": (4, 8, 16, 32, 64),
            "decoder_block_out_channels": (8, 16, 32), "layers_per_block": (1, 1, 1, 1, 1),
            "decoder_layers_per_block": (1, 1, 1, 1)}
TINY_T5 = {**T5_CONFIG, "d_model": 32, "d_kv": 8, "d_ff": 64, "num_layers": 2, "num_heads": 4,
           "relative_attention_num_buckets": 8}

PROMPT = ("A woman with long brown hair walks along a beach at sunset, waves rolling in, the "
          "camera tracking beside her, warm golden light, cinematic")
NEGATIVE = "worst quality, inconsistent motion, blurry, jittery, distorted"


class Refused(Exception):
    """Why the bench cannot run here: one line for a person."""


def build(factory, device, dtype):
    """``factory()`` with its parameters made on ``device`` in ``dtype`` from the start: no
    full-size copy on the CPU, no float32 copy on the GPU."""
    import torch

    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.device(device):
            model = factory()
    finally:
        torch.set_default_dtype(previous)
    if any(p.dtype != dtype for p in model.parameters()):  # made with an explicit dtype
        model = model.to(dtype=dtype)
    return model.eval().requires_grad_(False)


def build_pipeline(device, dtype, tiny: bool):
    from diffusers import (
        AutoencoderKLLTXVideo,
        FlowMatchEulerDiscreteScheduler,
        LTXPipeline,
        LTXVideoTransformer3DModel,
    )
    from transformers import T5Config, T5EncoderModel

    from studio.inference.demo_ltx import _make_tokenizer

    built = {}
    for name, factory in (
            ("transformer", lambda: LTXVideoTransformer3DModel(
                **(TINY_TRANSFORMER if tiny else TRANSFORMER_CONFIG))),
            ("vae", lambda: AutoencoderKLLTXVideo(**(TINY_VAE if tiny else VAE_CONFIG))),
            ("text_encoder", lambda: T5EncoderModel(T5Config(**(TINY_T5 if tiny else T5_CONFIG))))):
        began = time.perf_counter()
        built[name] = build(factory, device, dtype)
        count = sum(p.numel() for p in built[name].parameters())
        print(f"built {name}: {count / 1e9:.3f}B parameters in {time.perf_counter() - began:.1f} s",
              flush=True)
    pipe = LTXPipeline(scheduler=FlowMatchEulerDiscreteScheduler(use_dynamic_shifting=False),
                       tokenizer=_make_tokenizer(), **built)
    pipe.set_progress_bar_config(disable=True)
    return pipe


class Clock:
    """Wall time and peak memory of GPU work (synchronised at each reading)."""

    def __init__(self, device):
        import torch

        self.cuda = device.type == "cuda"
        self.torch = torch

    def sync(self) -> float:
        if self.cuda:
            self.torch.cuda.synchronize()
        return time.perf_counter()

    def reset_peak(self) -> None:
        if self.cuda:
            self.torch.cuda.reset_peak_memory_stats()

    def peak_gb(self) -> float:
        return self.torch.cuda.max_memory_allocated() / 2**30 if self.cuda else float("nan")


def run_once(pipe, clock: Clock, args, steps: int) -> dict:
    """One generation: text encoding, then ``steps`` denoising steps and the VAE decode in one
    pipeline call, the boundaries taken from the step callback."""
    import torch

    device = pipe._execution_device
    cfg = args.guidance > 1.0
    clock.reset_peak()
    began = clock.sync()
    with torch.inference_mode():
        embeds, mask, negative_embeds, negative_mask = pipe.encode_prompt(
            PROMPT, NEGATIVE, do_classifier_free_guidance=cfg, max_sequence_length=128,
            device=device)
    encoded = clock.sync()
    timing = {"encode_s": encoded - began, "encode_peak_gb": clock.peak_gb(), "steps_s": []}
    marks = [encoded]

    def on_step(pipeline, i, t, kwargs):
        marks.append(clock.sync())
        if i + 1 == steps:  # the decode's peak apart from the denoiser's
            timing["denoise_peak_gb"] = clock.peak_gb()
            clock.reset_peak()
        return {}

    clock.reset_peak()
    start = clock.sync()
    marks[0] = start
    with torch.inference_mode():
        video = pipe(prompt_embeds=embeds, prompt_attention_mask=mask,
                     negative_prompt_embeds=negative_embeds if cfg else None,
                     negative_prompt_attention_mask=negative_mask if cfg else None,
                     width=args.width, height=args.height, num_frames=args.frames,
                     frame_rate=24, num_inference_steps=steps, guidance_scale=args.guidance,
                     decode_timestep=0.05, decode_noise_scale=0.025,
                     generator=torch.Generator(device).manual_seed(0), output_type="pt",
                     callback_on_step_end=on_step).frames
    done = clock.sync()
    timing["steps_s"] = [b - a for a, b in itertools.pairwise(marks)]
    timing["decode_s"] = done - marks[-1]
    timing["decode_peak_gb"] = clock.peak_gb()
    timing["total_s"] = done - began
    timing["shape"] = tuple(video.shape)
    return timing


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--width", type=int, default=768)
    parser.add_argument("--height", type=int, default=512)
    parser.add_argument("--frames", type=int, default=121)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--guidance", type=float, default=1.0,
                        help="above 1 runs classifier-free guidance (twice the denoiser's batch)")
    parser.add_argument("--warmup-steps", type=int, default=2,
                        help="steps of an untimed first run (kernel loading, autotuning)")
    parser.add_argument("--vae-tiling", action="store_true")
    parser.add_argument("--tiny", action="store_true",
                        help="tiny configs on any device: checks this script, measures nothing")
    args = parser.parse_args(argv)
    try:
        return run(args)
    except Refused as err:
        print(f"bench/gpu_ltx.py: {err}", file=sys.stderr)
        return 2


def refuse_early() -> None:
    """What says there is no usable GPU without importing torch (seconds on a busy machine):
    no torch, a CPU-only torch build, or CUDA_VISIBLE_DEVICES hiding every GPU."""
    import importlib.util
    from importlib import metadata

    if importlib.util.find_spec("torch") is None:
        raise Refused("torch is not installed; nothing was run.")
    version = metadata.version("torch")
    if version.endswith("+cpu"):
        raise Refused(f"needs an NVIDIA GPU with CUDA, and torch {version} is a CPU-only build; "
                      "nothing was run.")
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) in ("", "-1"):
        raise Refused("needs an NVIDIA GPU with CUDA, and CUDA_VISIBLE_DEVICES hides every "
                      "GPU; nothing was run.")


def run(args) -> int:
    if not args.tiny:
        refuse_early()
    try:
        import torch
    except ImportError:
        raise Refused("torch is not installed; nothing was run.") from None
    if not args.tiny and not torch.cuda.is_available():
        raise Refused(f"needs an NVIDIA GPU with CUDA, and torch {torch.__version__} sees none "
                      f"(torch.cuda.is_available() is False); nothing was run.")
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if args.tiny:
        args.width, args.height, args.frames = 64, 64, 9
        args.steps, args.warmup_steps = min(args.steps, 2), 1
    import diffusers

    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU (--tiny)"
    print(f"{name}; torch {torch.__version__}, diffusers {diffusers.__version__}; "
          f"{args.width}x{args.height}, {args.frames} frames, {args.steps} steps, guidance "
          f"{args.guidance}, bf16{', VAE tiling' if args.vae_tiling else ''}", flush=True)
    stage = "building the models"
    try:
        pipe = build_pipeline(device, torch.bfloat16, args.tiny)
        if args.vae_tiling:
            pipe.vae.enable_tiling()
        clock = Clock(device)
        weights_gb = clock.peak_gb()
        stage = "the warm-up run"
        if args.warmup_steps:
            run_once(pipe, clock, args, args.warmup_steps)
        stage = "the timed run"
        timing = run_once(pipe, clock, args, args.steps)
    except torch.cuda.OutOfMemoryError:
        total = torch.cuda.get_device_properties(device).total_memory
        raise Refused(f"out of GPU memory in {stage} ({total / 2**30:.0f} GiB on {name}); try "
                      "--vae-tiling, or fewer frames") from None

    steps = timing["steps_s"]
    denoise = sum(steps)
    print(f"weights on the GPU: {weights_gb:.1f} GiB")
    print(f"text encoding (T5-XXL, 128 tokens): {timing['encode_s']:.3f} s, "
          f"peak {timing['encode_peak_gb']:.1f} GiB")
    print(f"denoising: {denoise:.3f} s for {len(steps)} steps; per step "
          + ", ".join(f"{s:.3f}" for s in steps)
          + f" s (the first includes preparing the latents); peak "
          f"{timing.get('denoise_peak_gb', float('nan')):.1f} GiB")
    print(f"VAE decode (and post-processing on the GPU): {timing['decode_s']:.3f} s, "
          f"peak {timing['decode_peak_gb']:.1f} GiB")
    print(f"total: {timing['total_s']:.3f} s; output {timing['shape']} (batch, frames, "
          f"channels, height, width)")
    median_step = sorted(steps)[len(steps) // 2]
    print(f"RESULTS.md row: | {name} | {args.width}x{args.height}x{args.frames}, {args.steps} "
          f"steps, cfg {args.guidance} | {timing['encode_s']:.2f} s | {denoise:.2f} s "
          f"({median_step:.3f} s/step) | {timing['decode_s']:.2f} s | {timing['total_s']:.2f} s | "
          f"{max(timing['encode_peak_gb'], timing.get('denoise_peak_gb', 0), timing['decode_peak_gb']):.1f} GiB |")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    sys.exit(main())
