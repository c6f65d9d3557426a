"""LTX-Video 2B at full size on an NVIDIA GPU: the transformer, VAE and T5-XXL text encoder of
Lightricks/LTX-Video 0.9.5 built from their real configs with random weights, in bf16 on CUDA
(the same shapes, so the same compute and memory as the real weights), and Lightricks' spatial
latent upsampler (0.9.8) the same way. Three timed runs, 768x512, 121 frames, 8 steps:

1. the baseline: one text-to-video run through plain diffusers ``LTXPipeline`` (after an
   untimed warm-up), stage by stage: text encoding, every denoising step, the VAE decode;
2. the same size, frames and steps through Studio's own generator
   (``studio.inference.generator.Generator`` over an ``LTXConditionPipeline`` of the same
   modules, model id ``registry.LTX_2B_DISTILLED_ID``: the distilled timesteps and call
   settings apply) in one pass, and its ratio to the baseline: the generator's overhead;
3. Studio's default distilled 0.9.8 recipe, both passes: a first pass at 2/3 of the size, the
   latent upsampler (its random single file written into a temporary Hugging Face cache, found
   the way Studio finds a downloaded one), a refine pass at twice the first pass's size (no
   warm-up of its own: its shapes are new).

For Studio's runs it prints the seconds per step of each pass and the peak GPU memory of each
phase (``torch.cuda.max_memory_allocated``, reset per phase) against Studio's estimate
(``core.params.cost``) and the memory plan the generator applied: "estimate X GB, measured
peak Y GB (ratio Y/X)". ``--no-multiscale`` leaves out run 3.

Nothing is downloaded: the configs are written below (from diffusers'
scripts/convert_ltx_to_diffusers.py, version 0.9.5, google/t5-v1_1-xxl's config.json, and
diffusers' ``LTXLatentUpsamplerModel`` defaults, the published upsampler's config) and the
models are built directly on the GPU in bf16, never on the CPU (the upsampler in float32, as
published, saved, then loaded by Studio in bf16). The tokenizer is Studio's small
demo T5 tokenizer: the pipelines pad every prompt to 128 (plain) or 256 (Studio) tokens, so
T5-XXL does the same work as with the real one. 0.9.6/0.9.8-distilled (8 steps, guidance 1)
have the same architecture.

Without CUDA it stops at once (exit 2) with one line saying so. ``--tiny`` runs the same code
with tiny configs on whatever device there is (the CPU here, in a few seconds): a check of this
script, not a benchmark (its estimate is the full-size model's).

The GPU run, one command; made to fit in 5 minutes on an H100 (reckoned at 2-3 minutes, most
of it imports, building the models and four VAE decodes; not yet timed on a GPU). It prints as
it goes, so what finished is on the screen even if ``timeout`` stops it:

    timeout 300 .venv/bin/python -u bench/gpu_ltx.py

Options: [--width 768 --height 512 --frames 121] [--steps 8] [--guidance 1.0] [--vae-tiling]
[--no-multiscale] [--tiny]
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import itertools
import math
import os
import sys
import tempfile
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
# LTXLatentUpsamplerModel: its defaults are the published ltxv-spatial-upscaler-0.9.8's config
# (128 latent channels, 512 wide, 4 residual blocks a stage, 3-D, spatial 2x); 0.126B parameters
UPSAMPLER_CONFIG: dict = {}
# in_channels: the tiny VAE's latent channels; 32 wide: its GroupNorms take groups of 32
TINY_UPSAMPLER = {"in_channels": TINY_VAE["latent_channels"], "mid_channels": 32,
                  "num_blocks_per_stage": 1}
# the hub commit the temporary cache's snapshot is filed under (any 40 hex digits)
UPSAMPLER_COMMIT = hashlib.sha1(b"bench/gpu_ltx.py: a random latent upsampler").hexdigest()

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


# ---- Studio's generator ------------------------------------------------------------------------

def write_upsampler(cache: Path, device, tiny: bool) -> Path:
    """A random latent upsampler of the published shapes (tiny ones with ``tiny``) saved as the
    single safetensors file Lightricks publishes (float32, as on the hub), filed in ``cache`` as
    huggingface_hub files a download: ``models--Lightricks--LTX-Video/blobs/<sha256>``, the
    snapshot's file a relative symlink to it, ``refs/main`` naming the snapshot's commit."""
    import torch
    from diffusers.pipelines.ltx.modeling_latent_upsampler import LTXLatentUpsamplerModel
    from safetensors.torch import save

    from studio.inference.registry import LTX_098_UPSAMPLER

    model = build(lambda: LTXLatentUpsamplerModel(**(TINY_UPSAMPLER if tiny else UPSAMPLER_CONFIG)),
                  device, torch.float32)
    data = save({k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()})
    del model
    repo = cache / ("models--" + LTX_098_UPSAMPLER.repo.replace("/", "--"))
    blob = repo / "blobs" / hashlib.sha256(data).hexdigest()
    blob.parent.mkdir(parents=True, exist_ok=True)
    blob.write_bytes(data)
    link = repo / "snapshots" / UPSAMPLER_COMMIT / LTX_098_UPSAMPLER.filename
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(os.path.relpath(blob, link.parent))
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / "main").write_text(UPSAMPLER_COMMIT)
    return link


@contextlib.contextmanager
def hub_cache(cache: Path):
    """The Hugging Face cache is ``cache``, offline, inside (the environment and
    huggingface_hub's constants, read at each lookup); as it was after."""
    from huggingface_hub import constants

    saved_env = {k: os.environ.get(k) for k in ("HF_HUB_CACHE", "HF_HUB_OFFLINE")}
    saved = (constants.HF_HUB_CACHE, constants.HF_HUB_OFFLINE)
    os.environ["HF_HUB_CACHE"] = str(cache)
    os.environ["HF_HUB_OFFLINE"] = "1"
    constants.HF_HUB_CACHE, constants.HF_HUB_OFFLINE = str(cache), True
    try:
        yield cache
    finally:
        constants.HF_HUB_CACHE, constants.HF_HUB_OFFLINE = saved
        for k, v in saved_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def make_generator(pipe, device, where: Path):
    """Studio's generator around an ``LTXConditionPipeline`` of ``pipe``'s modules (no copy of
    the weights), as LTX-Video 2B distilled 0.9.8 with its latent upsampler."""
    from diffusers import LTXConditionPipeline

    from studio.inference.generator import Generator
    from studio.inference.registry import LTX_098_UPSAMPLER, LTX_2B_DISTILLED_ID

    conditioned = LTXConditionPipeline(**pipe.components)
    conditioned.set_progress_bar_config(disable=True)
    generator = Generator(conditioned, model_id=LTX_2B_DISTILLED_ID, path=where, demo=False,
                          revision=None, device=device.type, dtype_name="bfloat16",
                          class_name="LTXConditionPipeline")
    generator.upsampler = LTX_098_UPSAMPLER
    return generator


def studio_params(args, *, multiscale: bool):
    from studio.core.params import GenerationParams
    from studio.inference.registry import LTX_2B_DISTILLED_ID

    return GenerationParams.defaults(
        LTX_2B_DISTILLED_ID, prompt=PROMPT, seed=0, seed_locked=True, width=args.width,
        height=args.height, num_frames=args.frames, steps=args.steps,
        guidance_scale=args.guidance, multiscale=multiscale,
        vae_tiling=True if args.vae_tiling else None)


def run_studio(generator, clock: Clock, params) -> dict:
    """One ``generator.generate(params)``, timed from its callbacks: each pass's steps (a
    pass's first step includes its text encoding and latent preparation), the gap between
    passes (the end of the first pass and the latent upsampler), the decode; the peak memory
    of each of those phases."""
    passes: list[dict] = []
    phases: list[tuple[str, float, float]] = []  # name, seconds, peak GiB
    state = {"phase": "", "since": 0.0}

    def end_phase(name_next: str) -> float:
        now = clock.sync()
        if state["phase"]:
            phases.append((state["phase"], now - state["since"], clock.peak_gb()))
        clock.reset_peak()
        state["phase"], state["since"] = name_next, now
        return now

    def on_pass(index: int, count: int, first_step: int, steps: int) -> None:
        name = f"pass {index} of {count}"
        if index == 1:  # the run's preparation and this pass's text encoding count with it
            state["phase"] = name
            now = clock.sync()
        else:
            now = end_phase(name)
        passes.append({"pass": index, "of": count, "first_step": first_step, "steps": steps,
                       "marks": [now]})

    def on_progress(done: int, total: int, eta: float) -> None:
        now = clock.sync()
        current = passes[-1]
        current["marks"].append(now)
        if done == current["first_step"] + current["steps"]:
            last = current["pass"] == current["of"]
            end_phase("VAE decode" if last else "latent upsampler")

    clock.reset_peak()
    began = clock.sync()
    state["since"] = began
    output = generator.generate(params, on_progress=on_progress, on_pass=on_pass)
    end_phase("")
    done = clock.sync()
    for record, seen in zip(output.passes, passes, strict=True):
        seen.update(width=record["width"], height=record["height"])
        seen["steps_s"] = [b - a for a, b in itertools.pairwise(seen.pop("marks"))]
    return {"output": output, "passes": passes, "phases": phases, "total_s": done - began}


def decode_s(result: dict) -> float:
    return next((seconds for name, seconds, _ in result["phases"] if name == "VAE decode"),
                float("nan"))


def median(values):
    ordered = sorted(values)
    return ordered[len(ordered) // 2] if ordered else float("nan")


def report_studio(title: str, result: dict, *, tiny: bool) -> float:
    """Print one Studio run: its calls, each pass's steps, each phase's time and peak, and
    Studio's memory estimate against the measured peak. Returns the measured peak (GiB)."""
    from studio.core.params import cost, rules_for

    output = result["output"]
    p = output.params
    print(f"Studio {title}: {p.width}x{p.height}, {p.num_frames} frames, {p.steps} steps, "
          f"{len(output.passes)} pass{'es' if len(output.passes) > 1 else ''}, "
          f"{result['total_s']:.3f} s; output {tuple(output.frames.shape)} (frames, height, "
          f"width, channels); Studio's timings " +
          ", ".join(f"{k} {v:.3f}" for k, v in output.timings.items()))
    for i, call in enumerate(output.calls, 1):
        kw = call["kwargs"]
        if "width" in kw:
            what = (f"{kw['width']}x{kw['height']}, {kw['num_inference_steps']} steps, "
                    f"timesteps {kw.get('timesteps', 'its own')}"
                    + (f", denoise_strength {kw['denoise_strength']}"
                       if "denoise_strength" in kw else ""))
        else:
            what = ", ".join(f"{k} {v}" for k, v in kw.items()
                             if k in ("adain_factor", "tone_map_compression_ratio"))
        print(f"  call {i}: {call['pipeline']} ({what})")
    by_name = {name: (seconds, peak) for name, seconds, peak in result["phases"]}
    for seen in result["passes"]:
        name = f"pass {seen['pass']} of {seen['of']}"
        steps = seen["steps_s"]
        seconds, peak = by_name.get(name, (sum(steps), float("nan")))
        print(f"  {name}: {seen['width']}x{seen['height']}, {len(steps)} steps, {seconds:.3f} s;"
              f" per step " + ", ".join(f"{s:.3f}" for s in steps)
              + f" s (the first includes text encoding); median {median(steps):.3f} s/step; "
              f"peak {peak:.2f} GiB")
        if name in by_name and seen["pass"] < seen["of"]:
            seconds, peak = by_name["latent upsampler"]
            print(f"  latent upsampler (LTXLatentUpsamplePipeline call and the first pass's "
                  f"end): {seconds:.3f} s, peak {peak:.2f} GiB")
    if "VAE decode" in by_name:
        seconds, peak = by_name["VAE decode"]
        resized = len(output.passes) > 1 and (result["passes"][-1]["width"], result["passes"][-1]
                                              ["height"]) != (p.width, p.height)
        print(f"  VAE decode, frames to uint8{' and resized' if resized else ''}: {seconds:.3f} s,"
              f" peak {peak:.2f} GiB")
    estimate = cost(p, rules_for(generator_id()), dtype="bf16")
    plan = output.memory or {}
    measured = max((peak for _, _, peak in result["phases"]), default=float("nan"))
    if not math.isnan(measured):
        ratio = measured / estimate.peak_memory_estimate_gb
        seen = f"measured peak {measured:.2f} GB (ratio {ratio:.2f})"
    else:
        seen = "measured peak n/a (no CUDA: torch.cuda.max_memory_allocated)"
    result.update(estimate_gb=estimate.peak_memory_estimate_gb, measured_gb=measured)
    print(f"  memory: estimate {estimate.peak_memory_estimate_gb:.2f} GB (core.params.cost, bf16; "
          f"its peak phase {estimate.breakdown_gb.get('peak_phase')}), {seen}; the plan applied: "
          f"offload {plan.get('offload')}, VAE tiling {plan.get('vae_tiling')}, its estimate "
          f"{plan.get('estimate_gb')} GB, free {plan.get('free_gb')} GB"
          + (" (--tiny: the estimate is the full-size model's)" if tiny else
             " (GB here: GiB, 2**30 bytes, as Studio counts; the estimate includes 0.6 for "
             "the CUDA context, which the measured peak does not)"), flush=True)
    return measured


def generator_id() -> str:
    from studio.inference.registry import LTX_2B_DISTILLED_ID

    return LTX_2B_DISTILLED_ID


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
    parser.add_argument("--vae-tiling", action="store_true",
                        help="VAE tiling in every run (Studio's otherwise from its memory plan)")
    parser.add_argument("--no-multiscale", dest="multiscale", action="store_false",
                        help="leave out Studio's multi-scale run (both passes)")
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
        args.warmup_steps = min(args.warmup_steps, 1)
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
        report_plain(timing, args, name, weights_gb)
        with tempfile.TemporaryDirectory(prefix="gpu_ltx-hub-") as cache, hub_cache(Path(cache)):
            stage = "Studio's one-pass run"
            generator = make_generator(pipe, device, Path(cache))
            one = run_studio(generator, clock, studio_params(args, multiscale=False))
            report_studio("one pass (the registry's distilled 0.9.8 settings, --no-multiscale)",
                          one, tiny=args.tiny)
            steps = timing["steps_s"]
            studio_steps = one["passes"][0]["steps_s"]
            print(f"overhead: Studio one pass / plain diffusers (same size, frames, steps and "
                  f"guidance): total {one['total_s']:.3f} / {timing['total_s']:.3f} s = "
                  f"{one['total_s'] / timing['total_s']:.3f}x; median step "
                  f"{median(studio_steps):.4f} / {median(steps):.4f} s = "
                  f"{median(studio_steps) / median(steps):.3f}x; decode "
                  f"{decode_s(one):.3f} / {timing['decode_s']:.3f} s = "
                  f"{decode_s(one) / timing['decode_s']:.3f}x (Studio's decode includes its uint8 "
                  "frames on the CPU; plain keeps float frames on the device)", flush=True)
            multi = None
            if args.multiscale:
                stage = "writing the latent upsampler"
                began = time.perf_counter()
                path = write_upsampler(Path(cache), device, args.tiny)
                written = time.perf_counter() - began
                began = time.perf_counter()
                generator.upsample_pipeline()  # found in the cache and loaded, as a run does
                print(f"latent upsampler: {path.name} ({path.stat().st_size / 1e6:.1f} MB, "
                      f"random) written to a temporary hub cache in {written:.1f} s; found and "
                      f"loaded by Studio in {time.perf_counter() - began:.1f} s (not in the "
                      "timings below)", flush=True)
                stage = "Studio's multi-scale run"
                multi = run_studio(generator, clock, studio_params(args, multiscale=True))
                report_studio("multi-scale (the distilled 0.9.8 recipe: 2/3-size pass, latent "
                              "upsampler, refine pass)", multi, tiny=args.tiny)
    except torch.cuda.OutOfMemoryError:
        total = torch.cuda.get_device_properties(device).total_memory
        raise Refused(f"out of GPU memory in {stage} ({total / 2**30:.0f} GiB on {name}); try "
                      "--vae-tiling, or fewer frames") from None
    studio = multi or one
    print(f"RESULTS.md Studio row: | {name} | {args.width}x{args.height}x{args.frames}, "
          f"{args.steps} steps | {one['total_s']:.2f} s "
          f"({one['total_s'] / timing['total_s']:.2f}x plain) | "
          + (f"{multi['total_s']:.2f} s" if multi else "-") + " | "
          + " / ".join(f"{p['width']}x{p['height']}: {median(p['steps_s']):.3f}"
                       for p in studio["passes"])
          + f" s/step | {studio['estimate_gb']:.2f} GB | {studio['measured_gb']:.2f} GiB "
          f"({studio['measured_gb'] / studio['estimate_gb']:.2f}) |", flush=True)
    return 0


def report_plain(timing: dict, args, name: str, weights_gb: float) -> None:
    steps = timing["steps_s"]
    denoise = sum(steps)
    print(f"weights on the GPU: {weights_gb:.1f} GiB")
    print("plain diffusers LTXPipeline (the baseline):")
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
    peak = max(timing["encode_peak_gb"], timing.get("denoise_peak_gb", 0),
               timing["decode_peak_gb"])
    print(f"RESULTS.md row: | {name} | {args.width}x{args.height}x{args.frames}, {args.steps} "
          f"steps, cfg {args.guidance} | {timing['encode_s']:.2f} s | {denoise:.2f} s "
          f"({median(steps):.3f} s/step) | {timing['decode_s']:.2f} s | "
          f"{timing['total_s']:.2f} s | {peak:.1f} GiB |", flush=True)

if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    sys.exit(main())
