"""Generation settings, the rules each video model puts on them, and what a run will cost.

Pure Python (no torch): the prompt panel, the queue, the CLI and the generator all share it.

- :class:`GenerationParams` is every setting of one generation; ``to_dict``/``from_dict`` is
  what jobs, sidecars and the mp4 comment tag store (keys a newer Studio wrote are ignored).
- :class:`ModelRules` is a video model's rules as data: its frame rule (``step*k + 1``), the
  multiple its width and height must be (or its fixed sizes), its VAE's compression, its
  transformer's patch size, sizes for the cost estimate, and its defaults.
  :func:`rules_for` finds the rules of a model id or a diffusers folder.
- :func:`conform` moves values that break a model's rules to the nearest valid ones and lists
  every change (shown before the run); values outside any sane range raise :class:`ParamsError`
  naming the field.
- :func:`cost` is the latent shape, the transformer's token count and an estimate of peak GPU
  memory; :func:`memory_plan` picks model CPU offload and VAE tiling from it when they are
  automatic (None) and the free GPU memory is known.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

MODES = ("t2v", "i2v", "v2v", "extend", "condition")
MODE_TITLES = {
    "t2v": "Text to video",
    "i2v": "Image to video",
    "v2v": "Video to video",
    "extend": "Extend clip",
    "condition": "Conditions at frames",
}

#: The negative prompt LTX-Video's own examples use (diffusers' LTXPipeline, LTXImageToVideo-
#: Pipeline and LTXConditionPipeline docstrings; LTX-Video's inference script).
LTX_NEGATIVE_PROMPT = "worst quality, inconsistent motion, blurry, jittery, distorted"
DEFAULT_NEGATIVE_PROMPT = LTX_NEGATIVE_PROMPT

#: Wan 2.1's negative prompt, as its diffusers pipeline examples give it (the English version of
#: the Chinese default in Wan's own repository).
WAN_NEGATIVE_PROMPT = (
    "Bright tones, overexposed, static, blurred details, subtitles, style, works, paintings, "
    "images, static, overall gray, worst quality, low quality, JPEG compression residue, ugly, "
    "incomplete, extra fingers, poorly drawn hands, poorly drawn faces, deformed, disfigured, "
    "misshapen limbs, fused fingers, still picture, messy background, three legs, many people "
    "in the background, walking backwards")

SEED_MAX = 2**32 - 1  # seeds Studio draws are 32-bit; any 0..2**64-1 is accepted

# Sane ranges: outside them a value is refused, not conformed.
LIMITS = {
    "num_frames": (1, 1000),
    "width": (8, 4096),
    "height": (8, 4096),
    "fps": (1.0, 240.0),
    "steps": (1, 500),
    "guidance_scale": (0.0, 50.0),
    "denoise_strength": (0.0, 1.0),
    "decode_timestep": (0.0, 1.0),
    "decode_noise_scale": (0.0, 1.0),
    "seed": (0, 2**64 - 1),
}
# Text read from outside (a dropped sidecar, a comment tag, the command line): a prompt is a
# few hundred words (LTX-Video reads 256 tokens, Wan 512); a page of text is already far more.
# Longer text is refused, never shown (a 500 kB prompt froze the prompt panel for seconds).
MAX_TEXT_CHARS = {"prompt": 10_000, "negative_prompt": 10_000, "caption": 10_000,
                  "model": 4096, "source_path": 4096, "image_path": 4096, "template_id": 200,
                  "transformer_file": 4096}
MAX_CONDITIONS = 64

#: The generator a new GenerationParams names. studio.inference.registry owns the model list;
#: this equals its default generator entry (a test checks it): LTX-Video 2B distilled 0.9.8,
#: published as one checkpoint file in Lightricks/LTX-Video (the id names repo and file).
DEFAULT_GENERATOR = "Lightricks/LTX-Video:ltxv-2b-0.9.8-distilled"


class ParamsError(ValueError):
    """A setting outside any sane range (or of the wrong type). ``field`` names it."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


# --- settings ----------------------------------------------------------------------------


@dataclass
class Condition:
    """A picture or clip the model must show at ``frame_index`` of the output ("condition"
    mode; LTX-Video 0.9.5+). ``in_frame``/``out_frame``: inclusive frame range of a clip."""

    path: str
    frame_index: int = 0
    strength: float = 1.0
    in_frame: int | None = None
    out_frame: int | None = None

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Condition:
        """The inverse of :meth:`to_dict`; a field of the wrong type raises ParamsError."""
        values = _known(cls, data, "conditions")
        path = values.get("path")
        if not isinstance(path, str) or len(path) > MAX_TEXT_CHARS["source_path"]:
            raise ParamsError("conditions.path", "a condition needs the path of a picture or clip")
        for name in ("frame_index", "in_frame", "out_frame"):
            value = values.get(name)
            if isinstance(value, float) and value.is_integer():
                value = values[name] = int(value)
            if name in values and (value is not None or name == "frame_index") and not (
                    _is_int(value) and 0 <= value <= 2**63 - 1):
                raise ParamsError(f"conditions.{name}", f"must be a frame index, got {value!r}")
        strength = values.get("strength", 1.0)
        if not _is_number(strength) or not 0.0 <= strength <= 1.0:
            raise ParamsError("conditions.strength", f"must be between 0 and 1, got {strength!r}")
        return cls(**values)


@dataclass
class GenerationParams:
    """Every setting of one generation.

    ``seed`` is the seed of the run: :meth:`for_run` draws a fresh one unless ``seed_locked``,
    and the drawn seed is what gets recorded. ``negative_prompt`` is used as given: an empty
    string is an empty negative prompt (``GenerationParams.defaults(model)`` fills in the
    model's own default negative prompt).

    Source of image/video modes: ``image_path`` (+ ``image_frame``, a frame index of a video to
    take the picture from; None for a still) for i2v; ``source_path`` with the inclusive
    ``source_in_frame``/``source_out_frame`` range and ``denoise_strength`` for v2v and extend;
    ``conditions`` for "condition". ``source_clip_id``, ``caption`` and ``template_id`` record
    where a prompt came from when "Prompt from caption" made it.
    """

    mode: str = "t2v"
    model: str = DEFAULT_GENERATOR
    prompt: str = ""
    negative_prompt: str = DEFAULT_NEGATIVE_PROMPT
    width: int = 768
    height: int = 512
    num_frames: int = 121
    fps: float = 24.0
    steps: int = 8
    guidance_scale: float = 1.0
    seed: int | None = None
    seed_locked: bool = False
    decode_timestep: float = 0.05
    decode_noise_scale: float = 0.025
    denoise_strength: float = 0.6
    source_path: str | None = None
    source_clip_id: int | None = None
    source_in_frame: int | None = None
    source_out_frame: int | None = None
    image_path: str | None = None
    image_frame: int | None = None
    conditions: list[Condition] = field(default_factory=list)
    caption: str | None = None
    template_id: str | None = None
    # memory settings (None: automatic, from the device's free memory; see memory_plan)
    offload: str | None = None  # None | "none" | "model" | "group" | "sequential"
    vae_tiling: bool | None = None
    # how the transformer's and the text encoder's weights are stored (None: automatic):
    # "bf16", the run's compute dtype (float32 on a CPU), or "fp8" (float8_e4m3fn storage,
    # each layer cast to the compute dtype as it runs: diffusers' layerwise casting)
    transformer_dtype: str | None = None
    text_encoder_dtype: str | None = None
    # a GGUF file holding the transformer's weights (quantised), in place of the model's own
    transformer_file: str | None = None
    # the model's multi-scale recipe (distilled LTX-Video 0.9.8: a first pass at 2/3 size, the
    # latent upsampler, a refine pass) where it has one; False: one pass at full size
    multiscale: bool = True
    # LTX-2: the pipeline's own prompt enhancement (its Gemma text encoder, or the model's
    # prompt_enhancer, rewrites the prompt before the run); opt-in, as in Lightricks' pipelines
    enhance_prompt: bool = False

    @classmethod
    def defaults(cls, model: str | os.PathLike | None = None, **overrides) -> GenerationParams:
        """Settings with ``model``'s own defaults (size, frames, fps, steps, guidance, negative
        prompt, decode timestep), then ``overrides``."""
        model_id = str(model) if model is not None else DEFAULT_GENERATOR
        rules = rules_for(model_id)
        d = rules.defaults
        values = {"model": model_id, "width": d.width, "height": d.height,
                  "num_frames": d.num_frames, "fps": d.fps, "steps": d.steps,
                  "guidance_scale": d.guidance_scale, "negative_prompt": d.negative_prompt,
                  "decode_timestep": d.decode_timestep,
                  "decode_noise_scale": d.decode_noise_scale, **overrides}
        return cls(**values)

    @property
    def duration_s(self) -> float:
        return self.num_frames / self.fps if self.fps else 0.0

    def for_run(self) -> GenerationParams:
        """A copy with the seed this run uses: a new random one unless the seed is locked (or
        a locked seed is missing). Call it once per run, when the job is queued."""
        if self.seed_locked and self.seed is not None:
            return dataclasses.replace(self, conditions=list(self.conditions))
        return dataclasses.replace(self, seed=new_seed(), conditions=list(self.conditions))

    def replace(self, **changes) -> GenerationParams:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        """Plain JSON-able values, every field."""
        data = dataclasses.asdict(self)
        data["conditions"] = [c.to_dict() for c in self.conditions]
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict) -> GenerationParams:
        """The inverse of :meth:`to_dict`. Keys this version does not know (a newer Studio's
        sidecar) are ignored; missing keys take their defaults; a value of the wrong type
        raises :class:`ParamsError` naming the field."""
        if not isinstance(data, dict):
            raise ParamsError("params", f"expected a JSON object, got {type(data).__name__}")
        values = _known(cls, data, "params")
        for name, value in list(values.items()):
            values[name] = _coerce(name, value)
            _check_stored(name, values[name])
        return cls(**values)


@dataclass(frozen=True)
class Change:
    """One value :func:`conform` changed, and why (for the panel and the CLI's ``conformed``)."""

    field: str
    before: Any
    after: Any
    reason: str

    def __str__(self) -> str:
        return f"{self.field}: {self.before!r} -> {self.after!r} ({self.reason})"


@dataclass(frozen=True)
class Conformed:
    params: GenerationParams
    changes: tuple[Change, ...] = ()

    def as_dict(self) -> dict[str, list]:
        """``{field: [before, after]}``, as ``studio generate`` prints it."""
        return {c.field: [c.before, c.after] for c in self.changes}


# --- model rules -------------------------------------------------------------------------


@dataclass(frozen=True)
class Defaults:
    width: int
    height: int
    num_frames: int
    fps: float
    steps: int
    guidance_scale: float
    negative_prompt: str
    decode_timestep: float = 0.0
    decode_noise_scale: float = 0.0


#: The timesteps of the guidance- and timestep-distilled LTX-Video 0.9.7 and 0.9.8 models (8
#: steps), as diffusers' LTX-Video docs pass them to LTXConditionPipeline.
LTX_DISTILLED_TIMESTEPS = (1000, 993, 987, 981, 975, 909, 725, 0.03)


class _TwoPassSizes:
    """The sizes of a recipe's two passes, from the recipe's ``downscale`` and ``upsample``."""

    def first_size(self, width: int, height: int, multiple: int) -> tuple[int, int]:
        """The first pass's (width, height): ``downscale`` of the size asked for, rounded down
        to ``multiple`` (at least one multiple), as the docs' round_to_nearest_resolution_-
        acceptable_by_vae does."""
        return (max(multiple, int(width * self.downscale) // multiple * multiple),
                max(multiple, int(height * self.downscale) // multiple * multiple))

    def refine_size(self, width: int, height: int, multiple: int) -> tuple[int, int]:
        """The refine pass's (width, height): the first pass's times ``upsample``."""
        w, h = self.first_size(width, height, multiple)
        return w * self.upsample, h * self.upsample


@dataclass(frozen=True)
class MultiScale(_TwoPassSizes):
    """A multi-scale recipe: a first pass at ``downscale`` of the size (rounded down to the
    model's size multiple), the latent upsampler (``upsample`` times the latent's width and
    height), then a short refine pass over the upsampled latent, denoised from
    ``refine_strength`` with ``refine_timesteps``; the frames are then resized to the size
    asked for. ``adain_factor`` and ``tone_map_compression_ratio`` go to the upsampler.

    Distilled LTX-Video 0.9.8 as diffusers' LTX-Video docs run it (the 0.9.8 example: 2/3,
    timesteps [1000, 909, 725, 421, 0] at denoise_strength 0.999, adain_factor 1.0 and
    tone_map_compression_ratio 0.6, "the default value of 0.6 is recommended"), which follows
    Lightricks' ltxv-2b-0.9.8-distilled.yaml and ltxv-13b-0.9.8-distilled.yaml (downscale
    factor 0.6666666, first pass 7 steps from 1.0 to 0.725, second pass from 0.9094 to 0.4219,
    tone mapping 0.6 on the second pass)."""

    downscale: float = 2 / 3
    upsample: int = 2
    first_timesteps: tuple[float, ...] = LTX_DISTILLED_TIMESTEPS
    refine_timesteps: tuple[float, ...] = (1000, 909, 725, 421, 0)
    refine_strength: float = 0.999
    adain_factor: float = 1.0
    tone_map_compression_ratio: float = 0.6
    upsampler_b: float = 0.13  # the upsampler's parameters, billions (512 channels, 8 blocks)

    def refine_steps(self) -> int:
        """Steps the refine pass takes: diffusers' LTXConditionPipeline.get_timesteps keeps
        the last int(n * strength) of the n timesteps."""
        n = len(self.refine_timesteps)
        return min(n, int(n * self.refine_strength))


LTX_098_MULTISCALE = MultiScale()

#: LTX-2's distilled schedule (diffusers' ltx2/utils.py DISTILLED_SIGMA_VALUES, from Lightricks'
#: ltx-pipelines utils/constants.py, less its terminal 0, which diffusers' scheduler appends) and
#: the stage-2 tail of it (STAGE_2_DISTILLED_SIGMA_VALUES). A test holds them equal to diffusers'.
LTX2_DISTILLED_SIGMAS = (1.0, 0.99375, 0.9875, 0.98125, 0.975, 0.909375, 0.725, 0.421875)
LTX2_STAGE_2_SIGMAS = (0.909375, 0.725, 0.421875)


@dataclass(frozen=True)
class TwoStage(_TwoPassSizes):
    """LTX-2's two-stage recipe, with :class:`MultiScale`'s shape (first_size, refine_size,
    refine_steps, upsampler_b: the cost estimate and the panel read those): stage 1 at
    ``downscale`` of the size (rounded down to the model's size multiple) to a latent, the
    latent upsampler (``upsample`` times wider and higher), stage 2 at the upsampled size from
    the upsampled video latent and stage 1's audio latent, both re-noised to the first of
    ``refine_sigmas`` and denoised on them without guidance; then the frames are resized to the
    size asked for when the refine size is not it.

    Lightricks' DistilledPipeline (ltx-pipelines distilled.py: "Stage 1 generates video at half
    of the target resolution, then Stage 2 upsamples by 2x", stage 2 on STAGE_2_DISTILLED_SIGMAS
    with noise_scale their first, the audio latent carried over; a two-stage size divisible by
    64, so that half of it is a multiple of 32), as diffusers' LTX-2 docs run it ("Distilled
    checkpoint generation": stage 1 on DISTILLED_SIGMA_VALUES to a latent, LTX2LatentUpsample-
    Pipeline with its defaults, adain_factor and tone_map_compression_ratio 0, stage 2 with
    latents, audio_latents, 3 steps, noise_scale and sigmas STAGE_2_DISTILLED_SIGMA_VALUES,
    guidance_scale 1.0)."""

    downscale: float = 0.5
    upsample: int = 2
    first_sigmas: tuple[float, ...] = LTX2_DISTILLED_SIGMAS
    refine_sigmas: tuple[float, ...] = LTX2_STAGE_2_SIGMAS
    adain_factor: float = 0.0
    tone_map_compression_ratio: float = 0.0
    # LTX2LatentUpsamplerModel's default config (128 channels, 1024 wide, 4 blocks a stage),
    # its parameters counted: 0.498B
    upsampler_b: float = 0.5
    # a dev model's recipe: stage 2 runs with the distilled LoRA at this scale on the dev
    # transformer (None: no LoRA, a distilled model), and with the scheduler unshifted, so
    # that it takes refine_sigmas as they are
    refine_lora_scale: float | None = None
    refine_unshifted: bool = False

    def refine_steps(self) -> int:
        return len(self.refine_sigmas)

    @property
    def refine_noise_scale(self) -> float:
        """Stage 2 re-noises its latents to its first sigma (Lightricks: noise_scale=
        stage_2_sigmas[0])."""
        return float(self.refine_sigmas[0])


LTX2_TWO_STAGE = TwoStage()
#: The dev models' two stages: Lightricks' TI2VidTwoStagesPipeline (ltx-pipelines
#: ti2vid_two_stages.py: "Stage 1 generates video at half of the target resolution with CFG
#: guidance ..., then Stage 2 upsamples by 2x and refines using a distilled LoRA"; stage 1 on the
#: model's own schedule at the run's steps, stage 2 on STAGE_2_DISTILLED_SIGMAS with noise_scale
#: their first and no guidance (SimpleDenoiser), the LoRA at DEFAULT_LORA_STRENGTH 1.0), as
#: diffusers' LTX-2 docs run it ("Two-stages Generation": load_lora_weights, set_adapters(...,
#: 1.0), the scheduler from_config(use_dynamic_shifting=False, shift_terminal=None) "to use
#: Stage 2 distilled sigmas as is", 3 steps, guidance_scale 1.0). ``first_sigmas`` empty: stage
#: 1 takes the scheduler's own. Where each model's LoRA lives: studio.inference.registry.
LTX2_DEV_TWO_STAGE = TwoStage(first_sigmas=(), refine_lora_scale=1.0, refine_unshifted=True)


@dataclass(frozen=True)
class ModelRules:
    """A video model's rules, its shapes and its defaults, as data.

    Frames must be ``frame_step * k + 1`` (the VAE keeps the first frame and compresses the rest
    ``vae_temporal`` times), at most ``max_frames`` when the model has a hard limit. Width and
    height must be multiples of ``size_multiple``, or one of ``fixed_sizes`` when the model only
    knows those. Latent: ``latent_channels`` x ((F-1)/vae_temporal + 1) x H/vae_spatial x
    W/vae_spatial; the transformer cuts it into ``patch_t`` x ``patch_s`` x ``patch_s`` patches.
    Sizes in billions of parameters and the transformer's width and depth feed :func:`cost`.
    """

    id: str
    family: str  # "ltx" | "ltx2" | "wan" | "cogvideox"
    title: str
    defaults: Defaults
    frame_step: int = 8
    max_frames: int | None = None
    size_multiple: int = 32
    fixed_sizes: tuple[tuple[int, int], ...] = ()  # (width, height)
    presets: tuple[tuple[int, int], ...] = ()  # (width, height), shown in the panel
    modes: tuple[str, ...] = ("t2v",)
    vae_temporal: int = 8
    vae_spatial: int = 32
    latent_channels: int = 128
    patch_t: int = 1
    patch_s: int = 1
    hidden: int = 2048  # transformer width
    layers: int = 28
    transformer_b: float = 1.9  # parameters, billions
    text_encoder_b: float = 4.76
    vae_b: float = 0.42
    # VAE decode working set: elements per output pixel held by the decoder's widest level
    # (channels / spatial area of that level), over how many output frames at once
    vae_elems_per_pixel: float = 8.0
    vae_decode_frames: int | None = None  # None: every frame at once
    uses_decode_timestep: bool = False
    distilled: bool = False
    multiscale: MultiScale | None = None  # the official multi-scale recipe, where there is one
    audio: bool = False  # it generates a sound track with the video (LTX-2)
    # For the memory plan's offload levels: the text encoder's layers and its biggest single
    # piece (the token embedding, billions), the transformer's parameters outside its blocks,
    # and text connectors run between text encoder and transformer (LTX-2). ``quantizable``:
    # automatic settings may store the transformer and text encoder in fp8 and use group
    # offload (LTX2_MEMORY_LADDER); other models keep MEMORY_LADDER.
    text_encoder_layers: int = 24
    text_encoder_embed_b: float = 0.0
    transformer_top_b: float = 0.0
    connectors_b: float = 0.0
    quantizable: bool = False

    def valid_frames(self, n: int) -> bool:
        return n >= 1 and (n - 1) % self.frame_step == 0 and (
            self.max_frames is None or n <= self.max_frames)

    def valid_size(self, width: int, height: int) -> bool:
        if self.fixed_sizes:
            return (width, height) in self.fixed_sizes
        return width % self.size_multiple == 0 and height % self.size_multiple == 0

    def nearest_frames(self, n: int) -> int:
        """The nearest ``step*k + 1`` to ``n`` (ties go up), within ``1..max_frames`` (or the
        sane limit)."""
        step = self.frame_step
        k = math.floor((n - 1) / step + 0.5)
        best = max(1, k * step + 1)
        most = LIMITS["num_frames"][1] if self.max_frames is None else self.max_frames
        if best > most:
            best = (most - 1) // step * step + 1
        return best

    def nearest_multiple(self, value: int) -> int:
        """The nearest multiple of ``size_multiple`` (ties go up), at least one multiple."""
        m = self.size_multiple
        return max(m, math.floor(value / m + 0.5) * m)

    def nearest_size(self, width: int, height: int) -> tuple[int, int]:
        if self.fixed_sizes:
            return min(self.fixed_sizes,
                       key=lambda s: (abs(s[0] - width) + abs(s[1] - height),
                                      abs(s[0] / s[1] - width / height)))
        return self.nearest_multiple(width), self.nearest_multiple(height)

    def latent_shape(self, width: int, height: int, num_frames: int) -> tuple[int, int, int, int]:
        """(C, T', H', W') of the latent diffusers builds for these (already valid) settings."""
        return (self.latent_channels, (num_frames - 1) // self.vae_temporal + 1,
                height // self.vae_spatial, width // self.vae_spatial)


_LTX_PRESETS = ((768, 512), (512, 768), (704, 480), (480, 704), (1216, 704), (704, 1216),
                (768, 768), (640, 384), (512, 512))
_LTX_MODES = ("t2v", "i2v", "v2v", "extend", "condition")

# LTX-Video: VAE 8x in time, 32x32 in space, 128 latent channels; transformer patches 1x1x1;
# frames 8k+1 (LTX-Video's README: works best below 257, a recommendation, not a limit), sizes
# multiples of 32 (LTXPipeline.check_inputs); 2B: 28 blocks of
# width 2048 (32 heads x 64); 13B: 48 blocks of width 4096; T5-XXL text encoder (4.76B); the
# VAE of 0.9.5 and later (every registry LTX model) 1.25B (its diffusers config, counted).
LTX_2B_DISTILLED = ModelRules(
    id="ltx-2b-distilled", family="ltx", title="LTX-Video 2B distilled",
    defaults=Defaults(768, 512, 121, 24.0, 8, 1.0, LTX_NEGATIVE_PROMPT, 0.05, 0.025),
    frame_step=8, size_multiple=32, presets=_LTX_PRESETS, modes=_LTX_MODES,
    vae_temporal=8, vae_spatial=32, latent_channels=128, patch_t=1, patch_s=1,
    hidden=2048, layers=28, transformer_b=1.9, text_encoder_b=4.76, vae_b=1.25,
    vae_elems_per_pixel=8.0, uses_decode_timestep=True, distilled=True)
LTX_2B_DEV = dataclasses.replace(
    LTX_2B_DISTILLED, id="ltx-2b-dev", title="LTX-Video 2B dev", distilled=False,
    defaults=Defaults(768, 512, 121, 24.0, 40, 3.0, LTX_NEGATIVE_PROMPT, 0.05, 0.025))
LTX_13B_DISTILLED = dataclasses.replace(
    LTX_2B_DISTILLED, id="ltx-13b-distilled", title="LTX-Video 13B distilled",
    hidden=4096, layers=48, transformer_b=13.0)
# The 0.9.8 distilled models: the same shapes, with Lightricks' multi-scale recipe as default
LTX_2B_DISTILLED_098 = dataclasses.replace(
    LTX_2B_DISTILLED, id="ltx-2b-0.9.8-distilled", title="LTX-Video 2B distilled (0.9.8)",
    multiscale=LTX_098_MULTISCALE)
LTX_13B_DISTILLED_098 = dataclasses.replace(
    LTX_13B_DISTILLED, id="ltx-13b-0.9.8-distilled", title="LTX-Video 13B distilled (0.9.8)",
    multiscale=LTX_098_MULTISCALE)
LTX_13B_DEV = dataclasses.replace(
    LTX_13B_DISTILLED, id="ltx-13b-dev", title="LTX-Video 13B dev", distilled=False,
    defaults=Defaults(768, 512, 121, 24.0, 30, 3.0, LTX_NEGATIVE_PROMPT, 0.05, 0.025))

# Wan 2.1: VAE 4x in time, 8x8 in space, 16 channels; transformer patches 1x2x2; sizes multiples
# of 16 (WanPipeline.check_inputs); frames 4k+1 (the pipeline rounds num_frames itself); UMT5-XXL
# text encoder (5.7B); the VAE decodes causally, a latent frame (4 frames) at a time.
WAN_1_3B = ModelRules(
    id="wan-1.3b", family="wan", title="Wan 2.1 1.3B",
    defaults=Defaults(832, 480, 81, 16.0, 50, 5.0, WAN_NEGATIVE_PROMPT),
    frame_step=4, size_multiple=16,
    presets=((832, 480), (480, 832), (624, 624), (1280, 720), (720, 1280)),
    vae_temporal=4, vae_spatial=8, latent_channels=16, patch_t=1, patch_s=2,
    hidden=1536, layers=30, transformer_b=1.3, text_encoder_b=5.7, vae_b=0.13,
    vae_elems_per_pixel=96.0, vae_decode_frames=4)
WAN_14B = dataclasses.replace(
    WAN_1_3B, id="wan-14b", title="Wan 2.1 14B", hidden=5120, layers=40, transformer_b=14.0,
    defaults=Defaults(1280, 720, 81, 16.0, 50, 5.0, WAN_NEGATIVE_PROMPT))

# CogVideoX 1.0: 49 frames (6 s at 8 fps, plus one), 720x480 only (its positional embeddings
# are sized for sample_width 90 x sample_height 60 latents); VAE 4x in time, 8x8 in space,
# 16 channels; transformer patches 2x2 in space; 50 steps, guidance 6 (CogVideoXPipeline's
# defaults); T5-XXL text encoder; the VAE decodes 2 latent frames (8 frames) at a time.
COGVIDEOX_2B = ModelRules(
    id="cogvideox-2b", family="cogvideox", title="CogVideoX 2B",
    defaults=Defaults(720, 480, 49, 8.0, 50, 6.0, ""),
    frame_step=4, max_frames=49, size_multiple=16, fixed_sizes=((720, 480),),
    presets=((720, 480),), vae_temporal=4, vae_spatial=8, latent_channels=16, patch_t=1,
    patch_s=2, hidden=1920, layers=30, transformer_b=1.7, text_encoder_b=4.76, vae_b=0.22,
    vae_elems_per_pixel=128.0, vae_decode_frames=8)
COGVIDEOX_5B = dataclasses.replace(
    COGVIDEOX_2B, id="cogvideox-5b", title="CogVideoX 5B", hidden=3072, layers=42,
    transformer_b=5.6)

#: LTX-2's default negative prompt: diffusers' pipelines/ltx2/utils.py DEFAULT_NEGATIVE_PROMPT,
#: taken from Lightricks' LTX-2 reference (ltx-pipelines utils/constants.py).
LTX2_NEGATIVE_PROMPT = (
    "blurry, out of focus, overexposed, underexposed, low contrast, washed out colors, excessive noise, "
    "grainy texture, poor lighting, flickering, motion blur, distorted proportions, unnatural skin tones, "
    "deformed facial features, asymmetrical face, missing facial features, extra limbs, disfigured hands, "
    "wrong hand count, artifacts around text, inconsistent perspective, camera shake, incorrect depth of "
    "field, background too sharp, background clutter, distracting reflections, harsh shadows, inconsistent "
    "lighting direction, color banding, cartoonish rendering, 3D CGI look, unrealistic materials, uncanny "
    "valley effect, incorrect ethnicity, wrong gender, exaggerated expressions, wrong gaze direction, "
    "mismatched lip sync, silent or muted audio, distorted voice, robotic voice, echo, background noise, "
    "off-sync audio, incorrect dialogue, added dialogue, repetitive speech, jittery movement, awkward "
    "pauses, incorrect timing, unnatural transitions, inconsistent framing, tilted camera, flat lighting, "
    "inconsistent tone, cinematic oversaturation, stylized filters, or AI artifacts.")

# LTX-2 (video and audio from one DiT; diffusers pipelines/ltx2). Where each figure comes from:
# - frames 8k+1, width and height multiples of 32: Lightricks' LTX-2 model card ("Width & height
#   settings must be divisible by 32. Frame count must be divisible by 8 + 1") and LTX2Pipeline.
#   check_inputs (sizes); the video VAE compresses 8x in time and 32x32 in space (the pipeline's
#   fallbacks, vae_temporal/spatial_compression_ratio 8 and 32), 128 latent channels, patches
#   1x1x1 (LTX2VideoTransformer3DModel's defaults: in_channels 128, patch sizes 1).
# - transformer 48 blocks of 32 heads x 128 = 4096 wide (LTX2VideoTransformer3DModel's defaults);
#   19B parameters for LTX-2 ("ltx-2-19b-dev" on the model card), 22B for LTX-2.3 (its
#   checkpoints are named ltx-2.3-22b-*).
# - text encoder Gemma 3 12B (LTX2TextConnectors: caption_channels 3840 is "Gemma-3-12B"'s
#   hidden size, text_proj_in_factor 49 its 48 layers + 1).
# - parameter counts, of the models the installed diffusers and transformers build from their
#   default configs (LTX-2's: diffusers' LTX2 classes default to it) on the meta device:
#   transformer 18.88B (0.34B of it outside its 48 blocks); Gemma 3 12B (hidden 3840, 48
#   layers, vocabulary 262208, its SigLIP tower) 12.2B, 1.0B of it the token embedding;
#   text connectors 1.43B; video VAE 1.22B, audio VAE 0.05B, vocoder 0.06B (LTX-2.3's vocoder
#   with bandwidth extension 0.13B); LTX-2's latent upsampler 0.5B.
# - defaults 768x512, 121 frames at 24 fps, 30 steps, guidance 3.0: LTX2Pipeline's docstring
#   example (and its __call__ defaults); decode_timestep 0 (its default). Presets: Lightricks'
#   LTX-2.3 space's "low" canvas sizes (768x512, 512x768, 768x768, 768x576, 576x768, 768x384)
#   and two of its "high" ones.
# - distilled checkpoints: 8 steps at guidance 1 (the LTX-2.3 distilled model cards: "8 steps
#   with CFG = 1"), the schedule diffusers' ltx2/utils.py DISTILLED_SIGMA_VALUES.
_LTX2_PRESETS = ((768, 512), (512, 768), (768, 768), (768, 576), (576, 768), (768, 384),
                 (1536, 1024), (1024, 1536))
# LTX-2's modes, through diffusers' LTX2 pipelines over one set of weights: text to video
# (LTX2Pipeline), image to video (LTX2ImageToVideoPipeline), and extend and conditions at frames
# (LTX2ConditionPipeline: a clip's last frames, or pictures and clips, as LTX2VideoConditions).
# Not video to video: LTX2ConditionPipeline has no strength to denoise a source from (Lightricks
# does it with IC-LoRAs and its retake pipeline).
LTX2_MODES = ("t2v", "i2v", "extend", "condition")
LTX2_DEV = ModelRules(
    id="ltx2-19b-dev", family="ltx2", title="LTX-2 19B",
    defaults=Defaults(768, 512, 121, 24.0, 30, 3.0, LTX2_NEGATIVE_PROMPT, 0.0, 0.0),
    frame_step=8, size_multiple=32, presets=_LTX2_PRESETS, modes=LTX2_MODES,
    vae_temporal=8, vae_spatial=32, latent_channels=128, patch_t=1, patch_s=1,
    hidden=4096, layers=48, transformer_b=19.0, text_encoder_b=12.2, vae_b=1.33,
    vae_elems_per_pixel=8.0, audio=True, text_encoder_layers=48, text_encoder_embed_b=1.01,
    transformer_top_b=0.34, connectors_b=1.43, quantizable=True,
    multiscale=LTX2_DEV_TWO_STAGE)  # with the latent upsampler and the distilled LoRA
LTX2_3_DEV = dataclasses.replace(LTX2_DEV, id="ltx2.3-22b-dev", title="LTX-2.3 22B",
                                 transformer_b=22.0, vae_b=1.40)
LTX2_3_DISTILLED = dataclasses.replace(
    LTX2_3_DEV, id="ltx2.3-22b-distilled", title="LTX-2.3 22B distilled", distilled=True,
    multiscale=LTX2_TWO_STAGE,  # Lightricks' DistilledPipeline is two-stage
    defaults=Defaults(768, 512, 121, 24.0, 8, 1.0, LTX2_NEGATIVE_PROMPT, 0.0, 0.0))
# LTX-2.5: the same shapes as 2.3 is a guess (diffusers names the repo, Lightricks/LTX-2.5-
# Diffusers, in its DFR pipeline's example; Studio has read no listing of it)
LTX2_5 = dataclasses.replace(LTX2_3_DEV, id="ltx2.5", title="LTX-2.5",
                             multiscale=None)  # Studio knows no layout of its LoRA's repo

# Studio's tiny demo LTX pipeline (studio.inference.demo_ltx): 4x compression in time and
# space, 8 latent channels, one transformer block of width 32. The pipeline still checks that
# width and height are multiples of 32.
DEMO_LTX = dataclasses.replace(
    LTX_2B_DISTILLED, id="demo-ltx", title="Demo LTX-Video (tiny, random weights)",
    defaults=Defaults(64, 64, 9, 24.0, 4, 1.0, LTX_NEGATIVE_PROMPT, 0.05, 0.025),
    frame_step=4, presets=((64, 64), (96, 64), (64, 96), (32, 32)),
    vae_temporal=4, vae_spatial=4, latent_channels=8, hidden=32, layers=1,
    transformer_b=0.00002, text_encoder_b=0.00003, vae_b=0.00002, vae_elems_per_pixel=0.5)

# Studio's tiny demo LTX-2 pipeline (studio.inference.demo_ltx2): 4x compression in time and
# space, 4 latent channels, two transformer blocks of width 16; sizes still multiples of 32
# (LTX2Pipeline.check_inputs).
DEMO_LTX2 = dataclasses.replace(
    LTX2_DEV, id="demo-ltx2", title="Demo LTX-2 (tiny, random weights)",
    multiscale=LTX2_TWO_STAGE,  # runs as a distilled model does (no guidance): two stages
    defaults=Defaults(64, 64, 9, 24.0, 4, 1.0, LTX2_NEGATIVE_PROMPT, 0.0, 0.0),
    frame_step=4, presets=((64, 64), (96, 64), (64, 96), (32, 32)),
    vae_temporal=4, vae_spatial=4, latent_channels=4, hidden=16, layers=2,
    transformer_b=0.00003, text_encoder_b=0.00003, vae_b=0.00002, vae_elems_per_pixel=0.5,
    text_encoder_layers=2, text_encoder_embed_b=0.000004, transformer_top_b=0.00001,
    connectors_b=0.00001)
# The tiny demo run as a dev model (studio.inference.demo_ltx2.make_demo_ltx2_dev: the demo with
# a tiny distilled LoRA): stage 1 with guidance, stage 2 with the LoRA
DEMO_LTX2_DEV = dataclasses.replace(
    DEMO_LTX2, id="demo-ltx2-dev", title="Demo LTX-2 dev (tiny, random weights)",
    multiscale=LTX2_DEV_TWO_STAGE,
    defaults=Defaults(64, 64, 9, 24.0, 4, 3.0, LTX2_NEGATIVE_PROMPT, 0.0, 0.0))

RULES: dict[str, ModelRules] = {r.id: r for r in (
    LTX_2B_DISTILLED, LTX_2B_DEV, LTX_13B_DISTILLED, LTX_13B_DEV, LTX_2B_DISTILLED_098,
    LTX_13B_DISTILLED_098, WAN_1_3B, WAN_14B,
    COGVIDEOX_2B, COGVIDEOX_5B, DEMO_LTX, LTX2_DEV, LTX2_3_DEV, LTX2_3_DISTILLED, LTX2_5,
    DEMO_LTX2, DEMO_LTX2_DEV)}


def rules_for(model: str | os.PathLike | None) -> ModelRules:
    """The rules of a model: a key of :data:`RULES`, a hub id, or a local diffusers folder.

    Hub ids and folder names are matched by what they say (``ltx``/``wan``/``cogvideox``,
    ``13b``/``14b``/``5b``, ``distilled``, ``demo/``). A folder's own configs then give the
    exact shapes (:func:`rules_from_folder`). Unknown models get LTX-Video 2B distilled's rules
    (Studio's default generator)."""
    if model is None:
        return LTX_2B_DISTILLED
    text = str(model)
    if text in RULES:
        return RULES[text]
    path = Path(text)
    if not text.startswith("demo/") and _is_file(path / "model_index.json"):
        return rules_from_folder(path)
    return _rules_by_name(text.lower().replace("_", "-"))


def _is_file(path: Path) -> bool:
    """``path.is_file()``, False where the OS refuses the name (too long, a NUL)."""
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


def _rules_by_name(name: str, family: str | None = None) -> ModelRules:
    family = family or _family_from_name(name)
    if name.startswith("demo/") and family == "ltx2":
        return DEMO_LTX2_DEV if "dev" in name else DEMO_LTX2
    if name.startswith("demo/") and family == "ltx":
        return DEMO_LTX
    if family == "ltx2":
        return _ltx2_by_name(name)
    if family == "wan":
        return WAN_14B if "14b" in name else WAN_1_3B
    if family == "cogvideox":
        return COGVIDEOX_5B if "5b" in name else COGVIDEOX_2B
    # LTX-Video 0.9.7's diffusers repos (dev and distilled) are the 13B transformer
    big = "13b" in name or ("0.9.7" in name and "2b" not in name)
    # LTX: hub repos without "distilled" in their name are the full (dev) models
    if "distilled" in name and "0.9.8" in name:
        return LTX_13B_DISTILLED_098 if big else LTX_2B_DISTILLED_098
    if "distilled" in name or family is None:
        return LTX_13B_DISTILLED if big else LTX_2B_DISTILLED
    return LTX_13B_DEV if big else LTX_2B_DEV


#: "ltx-2", "ltx2", "ltx-2.3", "LTX2Pipeline": LTX-2, never LTX-Video's "ltx-2b" or "ltxv-2b"
_LTX2_NAME = re.compile(r"ltx-?2(?![0-9]*b)")


def _ltx2_by_name(name: str) -> ModelRules:
    """LTX-2's rules by what a name says: 2.5, 2.3 (distilled or not), else LTX-2 19B."""
    if re.search(r"ltx-?2\.5", name):
        return LTX2_5
    if re.search(r"ltx-?2\.3", name):
        return LTX2_3_DISTILLED if "distilled" in name else LTX2_3_DEV
    return LTX2_DEV


def _family_from_name(name: str) -> str | None:
    name = name.lower()
    if "cogvideo" in name:
        return "cogvideox"
    if _LTX2_NAME.search(name):
        return "ltx2"
    if "ltx" in name:
        return "ltx"
    if re.search(r"(^|[^a-z])wan", name):
        return "wan"
    return None


def rules_from_folder(folder: str | os.PathLike) -> ModelRules:
    """Rules for a diffusers folder (``model_index.json`` with ``transformer/`` and ``vae/``):
    the family from its pipeline class (or its name), then the exact shapes from its configs
    (latent channels, VAE compression, patch sizes, transformer width and depth) and parameter
    counts from its safetensors headers. Anything it cannot read keeps the family's value.
    A transformer under 10M parameters (a test or demo model) takes the demo's small defaults."""
    folder = Path(folder)
    index = read_json_object(folder / "model_index.json")
    family = _family_from_name(str(index.get("_class_name", ""))) or \
        _family_from_name(folder.name)
    base = _rules_by_name(folder.name.lower().replace("_", "-"), family)
    tcfg = read_json_object(folder / "transformer" / "config.json")
    vcfg = read_json_object(folder / "vae" / "config.json")
    # a folder has no latent upsampler Studio knows of: one pass, whatever its name says
    changes: dict[str, Any] = {"id": f"folder:{folder.name}", "title": folder.name,
                               "multiscale": None}

    heads, head_dim = tcfg.get("num_attention_heads"), tcfg.get("attention_head_dim")
    if _is_int(heads) and _is_int(head_dim):
        changes["hidden"] = heads * head_dim
    if _is_int(tcfg.get("num_layers")):
        changes["layers"] = tcfg["num_layers"]
    patch = tcfg.get("patch_size")
    if isinstance(patch, list) and len(patch) == 3 and all(_is_int(v) for v in patch):
        changes["patch_t"], changes["patch_s"] = patch[0], patch[1]
    elif _is_int(patch):
        changes["patch_s"] = patch
        pt = tcfg.get("patch_size_t")
        changes["patch_t"] = pt if _is_int(pt) else 1

    channels = vcfg.get("latent_channels", vcfg.get("z_dim"))
    if _is_int(channels):
        changes["latent_channels"] = channels
    spatial, temporal = _vae_compression(vcfg)
    if spatial:
        changes["vae_spatial"] = spatial
    if temporal:
        changes["vae_temporal"] = temporal
        changes["frame_step"] = temporal

    counts = {name: _safetensors_params(folder / name)
              for name in ("transformer", "text_encoder", "vae")}
    changes.update(_counted_sizes(folder, base, counts))
    if counts["transformer"] and counts["transformer"] < 10_000_000:
        demo = DEMO_LTX2 if base.family == "ltx2" else DEMO_LTX
        changes["defaults"] = dataclasses.replace(
            demo.defaults, negative_prompt=base.defaults.negative_prompt)
        changes["presets"] = demo.presets
        changes["vae_elems_per_pixel"] = demo.vae_elems_per_pixel
    return dataclasses.replace(base, **changes)


def _counted_sizes(folder: Path, base: ModelRules, counts: dict[str, int]) -> dict[str, Any]:
    """The sizes a folder's safetensors headers give (billions): transformer, text encoder
    and VAE; for LTX-2 also its text connectors, and its audio VAE and vocoder with the VAE
    (they decode in the same phase). The parts the memory plan keeps resident with group
    offload (the text encoder's embedding, the transformer outside its blocks) are scaled
    with their model from the family's figures."""
    changes: dict[str, Any] = {}
    if base.family == "ltx2":
        extra = sum(_safetensors_params(folder / name) for name in ("audio_vae", "vocoder"))
        counts = {**counts, "vae": counts["vae"] + extra if counts["vae"] else 0,
                  "connectors": _safetensors_params(folder / "connectors")}
    for name, key in (("transformer", "transformer_b"), ("text_encoder", "text_encoder_b"),
                      ("vae", "vae_b"), ("connectors", "connectors_b")):
        if counts.get(name):
            changes[key] = counts[name] / 1e9
    for key, part in (("transformer_b", "transformer_top_b"),
                      ("text_encoder_b", "text_encoder_embed_b")):
        if key in changes and getattr(base, key):
            changes[part] = getattr(base, part) * changes[key] / getattr(base, key)
    return changes


def _vae_compression(cfg: dict) -> tuple[int | None, int | None]:
    spatial = cfg.get("spatial_compression_ratio", cfg.get("scale_factor_spatial"))
    temporal = cfg.get("temporal_compression_ratio", cfg.get("scale_factor_temporal"))
    scaling = cfg.get("spatio_temporal_scaling")
    if isinstance(scaling, list) and cfg.get("_class_name") in ("AutoencoderKLLTXVideo",
                                                                "AutoencoderKLLTX2Video"):
        # AutoencoderKLLTX(2)Video: patch_size * 2**(scaling levels), unless given explicitly
        levels = sum(1 for v in scaling if v)
        if not _is_int(spatial) and _is_int(cfg.get("patch_size", 4)):
            spatial = cfg.get("patch_size", 4) * 2 ** levels
        if not _is_int(temporal) and _is_int(cfg.get("patch_size_t", 1)):
            temporal = cfg.get("patch_size_t", 1) * 2 ** levels
    blocks = cfg.get("block_out_channels")
    if not _is_int(spatial) and cfg.get("_class_name") == "AutoencoderKLCogVideoX" \
            and isinstance(blocks, list) and blocks:
        spatial = 2 ** (len(blocks) - 1)
    return (spatial if _is_int(spatial) else None, temporal if _is_int(temporal) else None)


def read_json_object(path: Path) -> dict:
    """The JSON object in ``path``; {} when it is missing, unreadable or not an object."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _safetensors_params(folder: Path) -> int:
    """Parameters in ``folder``'s ``*.safetensors`` files, from their headers alone (an
    8-byte little-endian length, then a JSON table of tensor shapes). 0 when none is readable."""
    total = 0
    try:
        files = sorted(folder.glob("*.safetensors"))
    except OSError:
        return 0
    for file in files:
        try:
            with open(file, "rb") as fh:
                size = int.from_bytes(fh.read(8), "little")
                if not 0 < size <= 100_000_000:
                    continue
                header = json.loads(fh.read(size))
        except (OSError, ValueError):
            continue
        for name, entry in header.items():
            if name != "__metadata__" and isinstance(entry, dict):
                shape = entry.get("shape")
                if isinstance(shape, list) and all(_is_int(v) for v in shape):
                    total += math.prod(shape)
    return total


# --- conform -----------------------------------------------------------------------------


def conform(params: GenerationParams, rules: ModelRules | None = None) -> Conformed:
    """Check ``params`` against sane ranges and ``rules`` (by default, those of
    ``params.model``).

    Out-of-range or wrongly typed values raise :class:`ParamsError` naming the field. Values
    a model cannot take move to the nearest valid ones (frames to ``step*k + 1``, width and
    height to multiples of the model's size, or its nearest fixed size; a missing seed is drawn)
    and each move is listed in ``changes``, in field order. ``params`` itself is not modified.
    """
    rules = rules or rules_for(params.model)
    p = dataclasses.replace(params, conditions=list(params.conditions))
    _validate(p, rules)
    changes: list[Change] = []

    def change(name: str, after: Any, reason: str) -> None:
        before = getattr(p, name)
        if before != after:
            changes.append(Change(name, before, after, reason))
            setattr(p, name, after)

    width, height = rules.nearest_size(p.width, p.height)
    if rules.fixed_sizes:
        reason = (f"{rules.title} only makes " +
                  " or ".join(f"{w}x{h}" for w, h in rules.fixed_sizes))
        change("width", width, reason)
        change("height", height, reason)
    else:
        reason = f"{rules.title} needs width and height in multiples of {rules.size_multiple}"
        change("width", width, reason)
        change("height", height, reason)
    frames = rules.nearest_frames(p.num_frames)
    reason = f"{rules.title} makes {rules.frame_step}k+1 frames"
    if rules.max_frames is not None and p.num_frames > rules.max_frames:
        reason += f", at most {rules.max_frames}"
    change("num_frames", frames, reason)

    for i, cond in enumerate(p.conditions):
        last = p.num_frames - 1
        index = min(max(cond.frame_index, 0), last)
        if index != cond.frame_index:
            changes.append(Change(f"conditions[{i}].frame_index", cond.frame_index, index,
                                  f"the video has frames 0..{last}"))
            p.conditions[i] = dataclasses.replace(cond, frame_index=index)
    if rules.family == "ltx2":
        changes.extend(_ltx2_condition_frames(p, rules))
    if p.enhance_prompt and rules.family != "ltx2":
        change("enhance_prompt", False, f"{rules.title} has no prompt enhancement (LTX-2 has)")
    if p.seed is None:
        change("seed", new_seed(), "drawn at random")
    return Conformed(p, tuple(changes))


def ltx2_latent_index(frame: int, temporal: int) -> int:
    """The latent frame LTX2ConditionPipeline places a condition of output frame ``frame`` at:
    its ``LTX2VideoCondition.index`` is a latent index ("following the original LTX-2 code"),
    shown from output frame 0 (index 0) or ``(index - 1) * temporal + 1``: the nearest one."""
    if frame <= 0:
        return 0
    return max(1, math.floor((frame - 1) / temporal + 0.5) + 1)


def _ltx2_condition_frames(p: GenerationParams, rules: ModelRules) -> list[Change]:
    """LTX-2's conditions move to the output frames it can show them at: 0, or 1 + a multiple
    of its VAE's time compression up to the last latent frame's (8k+1 of a 121-frame video: 1,
    9, ..., 113). ``p``'s conditions are replaced; the changes say where each went."""
    t = rules.vae_temporal
    last = (p.num_frames - 1) // t  # the last latent frame
    changes = []
    for i, cond in enumerate(p.conditions):
        index = min(ltx2_latent_index(cond.frame_index, t), last)
        frame = 0 if index == 0 else (index - 1) * t + 1
        if frame != cond.frame_index:
            changes.append(Change(f"conditions[{i}].frame_index", cond.frame_index, frame,
                                  f"{rules.title} shows a condition at frame 0 or "
                                  f"{t}k+1, up to {(last - 1) * t + 1 if last else 0}"))
            p.conditions[i] = dataclasses.replace(cond, frame_index=frame)
    return changes


def _validate(p: GenerationParams, rules: ModelRules) -> None:
    if p.mode not in MODES:
        raise ParamsError("mode", f"unknown mode {p.mode!r}; choose one of {', '.join(MODES)}")
    if p.mode not in rules.modes:
        raise ParamsError("mode", f"{rules.title} does not do {MODE_TITLES[p.mode].lower()} "
                                  f"(it does: {', '.join(MODE_TITLES[m].lower() for m in rules.modes)})")
    if not isinstance(p.prompt, str) or not p.prompt.strip():
        raise ParamsError("prompt", "the prompt is empty")
    if not isinstance(p.negative_prompt, str):
        raise ParamsError("negative_prompt", "must be text")
    for name in ("prompt", "negative_prompt"):
        _check_stored(name, getattr(p, name))
    if not isinstance(p.model, str) or not p.model.strip():
        raise ParamsError("model", "no model chosen")
    if any(len(part.encode("utf-8", "replace")) > 255
           for part in p.model.replace("\\", "/").split("/")):
        raise ParamsError("model", "not a model id or folder (a part of it is longer than the "
                                   "255 bytes a file name can have)")
    for name, kind in (("num_frames", int), ("width", int), ("height", int), ("steps", int),
                       ("fps", float), ("guidance_scale", float), ("denoise_strength", float),
                       ("decode_timestep", float), ("decode_noise_scale", float)):
        _check_range(name, getattr(p, name), kind)
    if p.seed is not None:
        _check_range("seed", p.seed, int)
    needs = {"i2v": ("image_path", "an image"), "v2v": ("source_path", "a source clip"),
             "extend": ("source_path", "a clip to extend")}
    if p.mode in needs:
        name, what = needs[p.mode]
        if not getattr(p, name):
            raise ParamsError(name, f"{MODE_TITLES[p.mode].lower()} needs {what}")
    if p.mode == "condition" and not p.conditions:
        raise ParamsError("conditions", "add at least one picture or clip at a frame")
    for name in ("source_in_frame", "source_out_frame", "image_frame"):
        value = getattr(p, name)
        if value is not None and (not _is_int(value) or value < 0):
            raise ParamsError(name, f"must be a frame index (0 or more), got {value!r}")
    if (p.source_in_frame is not None and p.source_out_frame is not None
            and p.source_in_frame > p.source_out_frame):
        raise ParamsError("source_in_frame", f"in frame {p.source_in_frame} is after the out "
                                             f"frame {p.source_out_frame}")
    for i, cond in enumerate(p.conditions):
        if not isinstance(cond, Condition):
            raise ParamsError(f"conditions[{i}]", "not a condition")
        if not cond.path:
            raise ParamsError(f"conditions[{i}].path", "no picture or clip given")
        if not _is_int(cond.frame_index):
            raise ParamsError(f"conditions[{i}].frame_index", "must be a whole number")
        if not _is_number(cond.strength) or not 0.0 <= cond.strength <= 1.0:
            raise ParamsError(f"conditions[{i}].strength",
                              f"must be between 0 and 1, got {cond.strength!r}")
    _validate_memory(p)


def _validate_memory(p: GenerationParams) -> None:
    """The memory settings: a known offload and weight dtypes, and a transformer file that is
    a GGUF file Studio can read (quantised already: no other transformer dtype goes with it)."""
    if p.offload not in (None, *OFFLOADS):
        raise ParamsError("offload", f"unknown offload {p.offload!r}; choose "
                                     f"{', '.join(OFFLOADS[:-1])} or {OFFLOADS[-1]}")
    for name in ("transformer_dtype", "text_encoder_dtype"):
        if getattr(p, name) not in (None, *WEIGHT_DTYPES):
            raise ParamsError(name, f"unknown dtype {getattr(p, name)!r}; choose "
                                    f"{' or '.join(WEIGHT_DTYPES)}")
    if p.transformer_file is None:
        return
    if not p.transformer_file.lower().endswith(".gguf"):
        raise ParamsError("transformer_file", f"{p.transformer_file}: not a .gguf file (a "
                                              "transformer file is a GGUF quantisation)")
    if not _is_file(Path(p.transformer_file)):
        raise ParamsError("transformer_file", f"{p.transformer_file}: no such file")
    if p.transformer_dtype is not None:
        raise ParamsError("transformer_dtype", f"{p.transformer_dtype}: the GGUF file "
                                               f"{Path(p.transformer_file).name} sets the "
                                               "transformer's weights; leave the dtype out")


def _check_range(name: str, value: Any, kind: type) -> None:
    low, high = LIMITS[name]
    ok_type = _is_int(value) if kind is int else _is_number(value)
    if not ok_type:
        what = "a whole number" if kind is int else "a number"
        raise ParamsError(name, f"must be {what}, got {value!r}")
    if not low <= value <= high:
        raise ParamsError(name, f"{value} is outside {low}..{high}")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return isinstance(value, int) or math.isfinite(value)  # an int of any size is finite


def new_seed() -> int:
    """A random seed in 0..2**32-1 (from the OS's generator: independent of any seeded RNG)."""
    return secrets.randbelow(SEED_MAX + 1)


# --- cost --------------------------------------------------------------------------------

BYTES_PER_PARAM = {"bf16": 2, "fp16": 2, "fp32": 4, "fp8": 1}
# Transformer working set, in units of tokens x hidden x bytes, of one block at its peak (the
# feed-forward: its input, the 4x-wide projection and its activation, the residual stream and
# the norm output, ~11, rounded up for allocator slack). Inference keeps no autograd graph, so
# blocks do not add up: the peak is one block's.
ACTIVATION_FACTOR = 12.0
VAE_FACTOR = 4.0  # tensors of the decoder's widest level alive at once (input, norm, conv, skip)
CUDA_OVERHEAD_GB = 0.6  # CUDA context, cuBLAS workspace, caching-allocator slack
# VAE tiling (diffusers' enable_tiling): 512x512 spatial tiles. It does not split the decode in
# time: LTX's VAE has a separate, off-by-default framewise decode; Wan and CogVideoX decode a
# few frames at a time anyway (ModelRules.vae_decode_frames).
TILE_SIZE = 512


@dataclass(frozen=True)
class Cost:
    latent_shape: tuple[int, int, int, int]  # (C, T', H', W')
    tokens: int  # N = (T'/pt) x (H'/ps) x (W'/ps)
    duration_s: float
    peak_memory_estimate_gb: float
    breakdown_gb: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"latent_shape": list(self.latent_shape), "tokens": self.tokens,
                "duration_s": self.duration_s,
                "peak_memory_estimate_gb": self.peak_memory_estimate_gb,
                "breakdown_gb": dict(self.breakdown_gb)}


def cost(params: GenerationParams, rules: ModelRules | None = None, *, dtype: str = "bf16",
         offload: str | None = None, vae_tiling: bool | None = None,
         transformer_dtype: str | None = None, text_encoder_dtype: str | None = None) -> Cost:
    """What a run of ``params`` costs on ``rules``' model: latent shape, token count, duration
    and an ESTIMATE of peak GPU memory. ``params`` should be conformed first (the shapes are
    the ones diffusers builds from valid settings).

    Latent: ``C x ((F-1)//t + 1) x H//s x W//s`` with the VAE's temporal compression t and
    spatial compression s (LTX-Video: 8 and 32, 128 channels: 768x512x121 -> 128x16x16x24).
    Tokens: the transformer cuts the latent into ``pt x ps x ps`` spacetime patches,
    ``N = (T'/pt)(H'/ps)(W'/ps)`` (LTX: patches of 1x1x1, so N = T'H'W' = 6144 above).

    Peak memory is an estimate, derived (not measured) as follows, in three phases, each one
    resident weights plus that phase's working set:

    * weights: parameters x bytes per parameter of ``dtype`` (text encoder, transformer, VAE),
      1 byte for a transformer or text encoder stored in fp8 (``transformer_dtype``,
      ``text_encoder_dtype``: "bf16" is ``dtype`` itself), the GGUF file's size for a
      transformer from ``params.transformer_file``. Without offload all of them stay on the
      GPU; with model CPU offload (``offload="model"``) only the running component does; group
      offload (``"group"``) keeps the transformer's parts outside its blocks and two blocks
      (the one running and the next, copied ahead on a CUDA stream), and of the text encoder
      its biggest piece (the token embedding) and a layer; sequential offload keeps one block.
    * denoising: batch x N x hidden x bytes x :data:`ACTIVATION_FACTOR` (one block's
      feed-forward working set; attention through SDPA/flash kernels is linear in N, not
      quadratic). The batch is 2 when guidance_scale > 1 (classifier-free guidance runs the
      conditional and unconditional passes as one batch), else 1.
    * VAE decode: frames decoded at once x H x W x the elements per output pixel of the
      decoder's widest level x bytes x :data:`VAE_FACTOR`, plus the decoded frames in fp32.
      With tiling the area is capped at diffusers' spatial tile (:data:`TILE_SIZE` squared).

    A multi-scale run (:func:`multiscale_recipe`) costs the larger of its passes: the first
    at its smaller size (no decode), the upsampler, and the refine pass at twice the first
    pass's size (which decodes), each with the upsampler's weights resident beside the rest
    unless offloaded; the latent shape and tokens are the refine pass's.

    plus :data:`CUDA_OVERHEAD_GB`. It ignores the text encoder's activations (small for
    prompts of up to a few hundred tokens) and allocator fragmentation. The factors are
    reasoned from the architectures, not fitted: no GPU run has checked them yet (compare
    with ``torch.cuda.max_memory_allocated`` when one is at hand). On a CPU the same figures
    are RAM, in float32 (``dtype="fp32"``).
    """
    rules = rules or rules_for(params.model)
    option = _option_of(params, offload, vae_tiling, transformer_dtype, text_encoder_dtype)
    offload = option.offload
    if dtype not in BYTES_PER_PARAM:
        raise ParamsError("dtype", f"unknown dtype {dtype!r}; choose {', '.join(BYTES_PER_PARAM)}")
    recipe = multiscale_recipe(params, rules)
    if recipe is None:
        shape, tokens, phases, parts = _pass_cost(params, rules, dtype, option)
    else:  # the first pass stops at its latent; the refine pass (bigger) decodes
        m = rules.size_multiple
        w1, h1 = recipe.first_size(params.width, params.height, m)
        w2, h2 = recipe.refine_size(params.width, params.height, m)
        extra = recipe.upsampler_b * 1e9 * BYTES_PER_PARAM[dtype] / 1024 ** 3
        _, _, first, _ = _pass_cost(params.replace(width=w1, height=h1), rules, dtype, option,
                                    extra_gb=extra)
        shape, tokens, phases, parts = _pass_cost(params.replace(width=w2, height=h2), rules,
                                                  dtype, option, extra_gb=extra)
        # upsampling: what stays resident (which holds the upsampler) or, offloaded, the
        # upsampler alone; its activations are a few latents, small beside either
        phases = {**{f"first_pass_{k}": v for k, v in first.items() if k != "vae_decode"},
                  "upsample": phases["text_encoder"] if offload == "none" else extra,
                  **phases}
        parts["upsampler_weights"] = round(extra, 3)
    peak = max(phases.values()) + CUDA_OVERHEAD_GB
    breakdown = {**parts, "overhead": CUDA_OVERHEAD_GB, "peak_phase": max(phases, key=phases.get),
                 "transformer_dtype": option.transformer_dtype,
                 "text_encoder_dtype": option.text_encoder_dtype}
    return Cost(shape, tokens, params.num_frames / params.fps, round(peak, 2), breakdown)


def multiscale_recipe(params: GenerationParams, rules: ModelRules) -> MultiScale | None:
    """The multi-scale recipe a run of ``params`` follows: the model's, unless the run asks
    for one pass (``multiscale`` False) or is a video-to-video run (it denoises the source's
    own latent at full size)."""
    if rules.multiscale is None or not params.multiscale or params.mode == "v2v":
        return None
    return rules.multiscale


def _pass_cost(params: GenerationParams, rules: ModelRules, dtype: str,
               option: MemoryOption, extra_gb: float = 0.0) -> tuple[tuple, int, dict, dict]:
    """One pipeline pass of :func:`cost`: latent shape, tokens, the peak of each phase and
    the breakdown's parts. ``extra_gb``: weights of another model kept beside the pipeline's
    (the latent upsampler) when nothing is offloaded."""
    act_bytes = 4 if dtype == "fp32" else 2  # fp8 weights still compute in bf16
    gb = 1024 ** 3

    shape = rules.latent_shape(params.width, params.height, params.num_frames)
    _, t, h, w = shape
    tokens = math.ceil(t / rules.patch_t) * math.ceil(h / rules.patch_s) * math.ceil(w / rules.patch_s)

    weights = weights_gb(params, rules, dtype, option)
    batch = 2 if params.guidance_scale > 1.0 else 1
    denoise_act = batch * tokens * rules.hidden * act_bytes * ACTIVATION_FACTOR / gb

    frames = params.num_frames
    area = params.width * params.height
    if rules.vae_decode_frames is not None:
        frames = min(frames, rules.vae_decode_frames)
    if option.vae_tiling:
        area = min(params.width, TILE_SIZE) * min(params.height, TILE_SIZE)
    decode_act = frames * area * rules.vae_elems_per_pixel * act_bytes * VAE_FACTOR / gb
    output = params.num_frames * params.width * params.height * 3 * 4 / gb

    resident = resident_weights_gb(weights, rules, option.offload, extra_gb)
    phases = {"text_encoder": resident["text_encoder"],
              "denoise": resident["denoise"] + denoise_act,
              "vae_decode": resident["vae_decode"] + decode_act + output}
    parts = {"weights": round(sum(weights.values()) + extra_gb, 3),
             "text_encoder_weights": round(weights["text_encoder"], 3),
             "transformer_weights": round(weights["transformer"], 3),
             "vae_weights": round(weights["vae"], 3),
             "denoise_activations": round(denoise_act, 3),
             "vae_decode_activations": round(decode_act + output, 3)}
    if weights["connectors"]:
        parts["connectors_weights"] = round(weights["connectors"], 3)
    return shape, tokens, phases, parts


#: Bytes per parameter of a transformer or text encoder stored otherwise than in the compute
#: dtype: fp8 storage (layerwise casting), and GGUF quantisations Studio suggests (Q8_0: 8.5
#: bits a weight, Q4_K: 4.5; a GGUF file given is weighed by its size instead).
STORAGE_BYTES = {"fp8": 1.0, "gguf-q8": 8.5 / 8, "gguf-q4": 4.5 / 8}


def weights_gb(params: GenerationParams, rules: ModelRules, dtype: str,
               option: MemoryOption) -> dict[str, float]:
    """GiB of weights of each part of the model as ``option`` stores them: "text_encoder",
    "connectors", "transformer", "vae" (with LTX-2's audio VAE and vocoder). ``dtype`` is the
    compute dtype (the VAE and the connectors run in it; "fp32" on a CPU)."""
    gb = 1024 ** 3
    bpp = BYTES_PER_PARAM[dtype]
    act_bytes = 4 if dtype == "fp32" else 2

    def stored(billions: float, how: str) -> float:
        return billions * 1e9 * STORAGE_BYTES.get(how, bpp) / gb

    if option.transformer_dtype == "gguf":
        transformer = _file_gb(params.transformer_file)
    else:
        transformer = stored(rules.transformer_b, option.transformer_dtype)
    return {"text_encoder": stored(rules.text_encoder_b, option.text_encoder_dtype),
            "connectors": rules.connectors_b * 1e9 * act_bytes / gb,
            "transformer": transformer,
            "vae": rules.vae_b * 1e9 * act_bytes / gb}


def _file_gb(path: str | None) -> float:
    """The size of a weights file, GiB (its weights stay as stored in it: GGUF quantisations)."""
    try:
        return os.stat(path).st_size / 1024 ** 3 if path else 0.0
    except (OSError, ValueError):
        raise ParamsError("transformer_file", f"{path}: cannot be read") from None


def resident_weights_gb(weights: dict[str, float], rules: ModelRules, offload: str,
                        extra_gb: float = 0.0) -> dict[str, float]:
    """GiB of weights on the GPU in each phase ("text_encoder", "denoise", "vae_decode") with
    ``offload``. Model offload holds the running model; group offload the transformer's parts
    outside its blocks and two blocks, or the text encoder's biggest piece (its embedding)
    and a layer, with the VAEs kept on the device; sequential offload one block (or piece)
    of the biggest model."""
    text, conn = weights["text_encoder"], weights["connectors"]
    transformer, vae = weights["transformer"], weights["vae"]
    if offload == "none":
        everything = text + conn + transformer + vae + extra_gb
        return {"text_encoder": everything, "denoise": everything, "vae_decode": everything}
    if offload == "model":
        return {"text_encoder": max(text, conn), "denoise": transformer, "vae_decode": vae}
    top = transformer * min(1.0, rules.transformer_top_b / rules.transformer_b) \
        if rules.transformer_b else 0.0
    block = (transformer - top) / max(rules.layers, 1)
    text_layer = text / max(rules.text_encoder_layers, 1)
    embed = text * min(1.0, rules.text_encoder_embed_b / rules.text_encoder_b) \
        if rules.text_encoder_b else 0.0
    if offload == "group":  # the VAEs stay on the device (generator.GROUP_OFFLOAD_KEPT)
        return {"text_encoder": max(embed, text_layer) + text_layer + vae,
                "denoise": top + 2 * block + vae, "vae_decode": vae}
    piece = max(transformer / max(rules.layers, 1), text_layer, embed)  # sequential
    return {"text_encoder": piece, "denoise": piece, "vae_decode": piece}


# --- memory plan -------------------------------------------------------------------------

OFFLOADS = ("none", "model", "group", "sequential")
#: How a transformer or text encoder may be stored: in the compute dtype ("bf16": float16 on a
#: card without bf16, float32 on a CPU) or in fp8 (diffusers' layerwise casting). A GGUF
#: transformer file ("gguf") stores its own quantisation.
WEIGHT_DTYPES = ("bf16", "fp8")


class MemoryOption(NamedTuple):
    """One set of memory settings a run may take: offload, VAE tiling and how the transformer
    and the text encoder are stored ("bf16", "fp8", or "gguf" for a GGUF transformer file)."""

    offload: str
    vae_tiling: bool
    transformer_dtype: str = "bf16"
    text_encoder_dtype: str = "bf16"

    def describe(self) -> str:
        return describe_memory(*self)

    def cost_kwargs(self) -> dict:
        """The keyword arguments of :func:`cost` for this option."""
        return self._asdict()

    def flags(self) -> str:
        """The ``studio generate`` flags that ask for it ("--offload group --vae-tiling
        --transformer-dtype fp8 --text-encoder-dtype fp8")."""
        words = [f"--offload {self.offload}", "--vae-tiling" if self.vae_tiling
                 else "--no-vae-tiling"]
        if self.transformer_dtype in WEIGHT_DTYPES:
            words.append(f"--transformer-dtype {self.transformer_dtype}")
        words.append(f"--text-encoder-dtype {self.text_encoder_dtype}")
        return " ".join(words)


#: What automatic memory settings try, fastest first: everything on the GPU, then VAE tiling
#: (a slower decode), then model CPU offload (each model moves to the GPU when it runs) and
#: sequential offload (one block at a time, several times slower), both with tiling.
MEMORY_LADDER = tuple(MemoryOption(o, t) for o, t in (
    ("none", False), ("none", True), ("model", True), ("sequential", True)))
#: LTX-2's (rules with ``quantizable``): its Gemma 3 12B text encoder is 23 GB in bf16 and its
#: transformer 35-41 GB, so after model offload come the text encoder in fp8, then the
#: transformer too (both halve the CPU memory that offload holds them in, and fp8 is the
#: precision Lightricks publishes for smaller cards), then group offload (two transformer
#: blocks on the GPU at a time, copied ahead on a CUDA stream), then sequential offload.
LTX2_MEMORY_LADDER = tuple(MemoryOption(*o) for o in (
    ("none", False, "bf16", "bf16"), ("none", True, "bf16", "bf16"),
    ("model", True, "bf16", "bf16"), ("model", True, "bf16", "fp8"),
    ("model", True, "fp8", "fp8"), ("group", True, "fp8", "fp8"),
    ("sequential", True, "fp8", "fp8")))
# Room the estimate must leave: its factors are reasoned, not measured, and the allocator
# fragments. A tenth of the free memory, at least half a GB.
MEMORY_HEADROOM = 0.10
MEMORY_HEADROOM_MIN_GB = 0.5
_MEMORY_WORDS = {"none": "no offload", "model": "model CPU offload",
                 "group": "group offload", "sequential": "sequential CPU offload"}
_STORAGE_WORDS = {"fp8": "fp8", "gguf": "GGUF", "gguf-q8": "GGUF Q8_0", "gguf-q4": "GGUF Q4"}


@dataclass(frozen=True)
class MemoryPlan:
    """The memory settings a run uses: ``offload`` ("none", "model", "group" or
    "sequential"), ``vae_tiling`` and how the transformer and text encoder are stored, with
    the peak-memory estimate of that choice (:func:`cost`), the free memory it was weighed
    against (None: no figure, as on a CPU), whether any setting was chosen automatically,
    whether the estimate fits, and why, in words. ``refusal``: why the run must not start,
    when a part of the model cannot be on the GPU even alone (its weights more than the free
    memory), with the settings that would fit; None otherwise."""

    offload: str
    vae_tiling: bool
    estimate_gb: float
    free_gb: float | None
    automatic: bool
    fits: bool | None  # None: no free-memory figure to weigh it against
    reason: str
    transformer_dtype: str = "bf16"
    text_encoder_dtype: str = "bf16"
    refusal: str | None = None

    @property
    def option(self) -> MemoryOption:
        return MemoryOption(self.offload, self.vae_tiling, self.transformer_dtype,
                            self.text_encoder_dtype)

    def describe(self) -> str:
        return describe_memory(*self.option)

    def as_dict(self) -> dict:
        """What a generation's record keeps under ``memory``."""
        return {"offload": self.offload, "vae_tiling": self.vae_tiling,
                "transformer_dtype": self.transformer_dtype,
                "text_encoder_dtype": self.text_encoder_dtype,
                "automatic": self.automatic,
                "free_gb": None if self.free_gb is None else round(self.free_gb, 2),
                "estimate_gb": self.estimate_gb, "fits": self.fits, "reason": self.reason}


def describe_memory(offload: str, vae_tiling: bool, transformer_dtype: str = "bf16",
                    text_encoder_dtype: str = "bf16") -> str:
    """"model CPU offload, VAE tiling", "group offload, VAE tiling, fp8 transformer, fp8 text
    encoder" and so on (weights in the compute dtype are not mentioned)."""
    words = [_MEMORY_WORDS.get(offload, offload), "VAE tiling" if vae_tiling else "no tiling"]
    for part, how in (("transformer", transformer_dtype), ("text encoder", text_encoder_dtype)):
        if how in _STORAGE_WORDS:
            words.append(f"{_STORAGE_WORDS[how]} {part}")
    return ", ".join(words)


def memory_ladder(rules: ModelRules) -> tuple[MemoryOption, ...]:
    """The options automatic settings try for a model, fastest first."""
    return LTX2_MEMORY_LADDER if rules.quantizable else MEMORY_LADDER


def memory_options(params: GenerationParams, rules: ModelRules | None = None, *,
                   offload_available: bool = True) -> tuple[MemoryOption, ...]:
    """The options automatic settings may choose for ``params``, fastest first: the model's
    :func:`memory_ladder` with each setting given explicitly (not None in ``params``) put in
    place of the ladder's, without repeats. A GGUF transformer file stores the transformer
    as "gguf". ``offload_available`` False (no accelerate) leaves out automatic model and
    sequential offload (group offload is diffusers' own)."""
    rules = rules or rules_for(params.model)
    given = {"offload": params.offload, "vae_tiling": params.vae_tiling,
             "transformer_dtype": "gguf" if params.transformer_file else params.transformer_dtype,
             "text_encoder_dtype": params.text_encoder_dtype}
    given = {k: v for k, v in given.items() if v is not None}
    options = tuple(dict.fromkeys(o._replace(**given) for o in memory_ladder(rules)))
    if params.offload is None and not offload_available:
        options = tuple(o for o in options if o.offload in ("none", "group"))
    return options


def _option_of(params: GenerationParams, offload: str | None, vae_tiling: bool | None,
               transformer_dtype: str | None, text_encoder_dtype: str | None) -> MemoryOption:
    """The option :func:`cost` weighs: each setting given to it, else ``params``' own (None
    there: no offload, no tiling, weights in the compute dtype; a GGUF file: "gguf")."""
    stored = "gguf" if params.transformer_file else (params.transformer_dtype or "bf16")
    return MemoryOption(
        offload if offload is not None else (params.offload or "none"),
        vae_tiling if vae_tiling is not None else bool(params.vae_tiling),
        transformer_dtype if transformer_dtype is not None else stored,
        text_encoder_dtype if text_encoder_dtype is not None else
        (params.text_encoder_dtype or "bf16"))


def memory_plan(params: GenerationParams, rules: ModelRules | None = None,
                free_gb: float | None = None, *, dtype: str = "bf16",
                offload_available: bool = True) -> MemoryPlan:
    """The memory settings for a run of ``params`` (conformed) with ``free_gb`` of device
    memory free for it.

    Settings given explicitly are kept as given. Automatic ones (None) take the first of
    :func:`memory_options` whose :func:`cost` estimate, plus a headroom of
    :data:`MEMORY_HEADROOM` of the free memory (at least :data:`MEMORY_HEADROOM_MIN_GB`), fits
    in ``free_gb``. When none fits, the plan is the most frugal option, ``fits`` is False and
    the reason says the estimate exceeds the free memory: the run is still tried (the estimate
    is an estimate), unless a part of the model cannot be on the GPU even alone: then
    ``refusal`` says which, its size, the free memory and the settings that would fit
    (:func:`unfit_part`). ``free_gb`` None (a CPU, or no figure): automatic settings stay off.
    """
    rules = rules or rules_for(params.model)
    automatic = _automatic(params, rules)
    if free_gb is None:
        option = _option_of(params, None, None, None, None)
        estimate = cost(params, rules, dtype=dtype, **option.cost_kwargs()).peak_memory_estimate_gb
        return MemoryPlan(*option[:2], estimate, None, False, None,
                          f"{option.describe()} as set (no free-memory figure for this device)",
                          *option[2:])
    usable = usable_gb(free_gb)
    options = memory_options(params, rules, offload_available=offload_available)
    estimates = [cost(params, rules, dtype=dtype, **o.cost_kwargs()).peak_memory_estimate_gb
                 for o in options]
    chosen = next((i for i, e in enumerate(estimates) if e <= usable), None)
    fits = chosen is not None
    if chosen is None:
        chosen = min(range(len(options)), key=lambda i: (estimates[i], i))
    option, estimate = options[chosen], estimates[chosen]
    reason = _plan_reason(params, option, estimate, free_gb, fits=fits, automatic=automatic,
                          first=(options[0], estimates[0]) if chosen else None,
                          offload_available=offload_available)
    refusal = unfit_part(params, rules, option, free_gb, dtype=dtype)
    return MemoryPlan(*option[:2], estimate, free_gb, automatic, fits, reason, *option[2:],
                      refusal=refusal)


def _automatic(params: GenerationParams, rules: ModelRules) -> bool:
    """Whether a setting the model's ladder varies is left automatic (None) in ``params``."""
    ladder = memory_ladder(rules)
    return any(getattr(params, name) is None and len({getattr(o, name) for o in ladder}) > 1
               and not (name == "transformer_dtype" and params.transformer_file)
               for name in MemoryOption._fields)


def usable_gb(free_gb: float) -> float:
    """What a plan may fill of ``free_gb``: all but the headroom."""
    return free_gb - max(MEMORY_HEADROOM_MIN_GB, MEMORY_HEADROOM * free_gb)


def _plan_reason(params: GenerationParams, option: MemoryOption, estimate: float,
                 free_gb: float, *, fits: bool, automatic: bool,
                 first: tuple[MemoryOption, float] | None, offload_available: bool) -> str:
    """Why a plan is what it is, in words (the record's ``reason``)."""
    words = option.describe()
    if not fits:
        helps = "fewer frames, a smaller size" + (" or offload" if option.offload != "sequential"
                                                  else "")
        reason = (f"{words}: the estimate {estimate:.1f} GB exceeds the {free_gb:.1f} GB free; "
                  f"trying anyway ({helps} would help)")
        if params.offload is None and not offload_available:
            reason += "; offload needs accelerate (pip install accelerate)"
        return reason
    if not automatic:
        return f"{words} as set: the estimate {estimate:.1f} GB fits in {free_gb:.1f} GB free"
    reason = f"{words}: the estimate {estimate:.1f} GB fits in {free_gb:.1f} GB free"
    if first is not None:
        reason += f" ({first[0].describe()} would need about {first[1]:.1f} GB)"
    return reason


_PART_WORDS = {"text_encoder": "text encoder", "connectors": "text connectors",
               "transformer": "transformer", "vae": "VAE"}


def unfit_part(params: GenerationParams, rules: ModelRules, option: MemoryOption,
               free_gb: float, *, dtype: str = "bf16") -> str | None:
    """Why a run with ``option`` must not start on a device with ``free_gb`` free, or None:
    a part of the model whose weights alone, as ``option`` stores and places them, exceed
    what the plan may fill (every part at once without offload; the running model with model
    offload; its resident pieces with group or sequential offload). The message names the
    part, its size, the free memory and the first settings of the model's ladder (with any
    GGUF file given) whose estimate fits, or a GGUF Q4 transformer, or fewer frames."""
    found = _unfit(params, rules, option, free_gb, dtype)
    if found is None:
        return None
    phase, resident, weights, usable = found
    part = (max(weights, key=weights.get) if option.offload == "none" else
            {"text_encoder": "text_encoder", "denoise": "transformer", "vae_decode": "vae"}[phase])
    how = {"transformer": option.transformer_dtype,
           "text_encoder": option.text_encoder_dtype}.get(part, "bf16")
    size = (f"{weights[part]:.1f} GB in {_STORAGE_WORDS.get(how, dtype)}"
            if option.offload in ("none", "model") else
            f"{resident[phase]:.1f} GB of it at a time with {_MEMORY_WORDS[option.offload]}")
    alongside = (f" beside the rest of the model ({resident[phase]:.1f} GB in all, "
                 f"{describe_memory(*option)})" if option.offload == "none" else "")
    return (f"{_PART_WORDS[part]}: {size} does not fit on the GPU{alongside}: "
            f"{free_gb:.1f} GB is free, {max(usable, 0):.1f} GB of it usable for weights; "
            f"{_what_would_fit(params, rules, free_gb, dtype)}")


def _unfit(params: GenerationParams, rules: ModelRules, option: MemoryOption, free_gb: float,
           dtype: str) -> tuple[str, dict, dict, float] | None:
    """The phase whose resident weights (with the CUDA context) exceed what the plan may fill,
    with the resident and stored weights and the room for weights; None when all fit."""
    usable = usable_gb(free_gb) - CUDA_OVERHEAD_GB
    weights = weights_gb(params, rules, dtype, option)
    extra = _upsampler_gb(params, rules, dtype) if option.offload == "none" else 0.0
    resident = resident_weights_gb(weights, rules, option.offload, extra)
    phase = max(resident, key=resident.get)
    return None if resident[phase] <= usable else (phase, resident, weights, usable)


def _upsampler_gb(params: GenerationParams, rules: ModelRules, dtype: str) -> float:
    recipe = multiscale_recipe(params, rules)
    return recipe.upsampler_b * 1e9 * BYTES_PER_PARAM[dtype] / 1024 ** 3 if recipe else 0.0


def _what_would_fit(params: GenerationParams, rules: ModelRules, free_gb: float,
                    dtype: str) -> str:
    """The advice of a refusal: the first option of the model's ladder (the transformer as a
    GGUF file gives it, if one is given) whose estimate fits and whose parts fit, as flags;
    else, for a model that takes quantised weights, a GGUF Q4 transformer; else less work."""
    usable = usable_gb(free_gb)
    stored = {"transformer_dtype": "gguf"} if params.transformer_file else {}
    candidates = [o._replace(**stored) for o in memory_ladder(rules)]
    if rules.quantizable and not params.transformer_file:
        candidates += [MemoryOption("model", True, "gguf-q4", "fp8")]
    for option in dict.fromkeys(candidates):
        estimate = cost(params, rules, dtype=dtype, **option.cost_kwargs()).peak_memory_estimate_gb
        if estimate <= usable and _unfit(params, rules, option, free_gb, dtype) is None:
            if option.transformer_dtype == "gguf-q4":
                gguf = weights_gb(params, rules, dtype, option)["transformer"]
                return (f"a GGUF Q4 transformer (about {gguf:.1f} GB) would fit: "
                        f"--transformer-file FILE.gguf --offload model --text-encoder-dtype fp8 "
                        f"(estimate {estimate:.1f} GB)")
            return f"choose {option.flags()} (estimate {estimate:.1f} GB)"
    return "fewer frames or a smaller size would help, or a GPU with more memory"


# --- helpers -----------------------------------------------------------------------------


def _known(cls, data: dict, what: str) -> dict:
    if not isinstance(data, dict):
        raise ParamsError(what, f"expected a JSON object, got {type(data).__name__}")
    names = {f.name for f in dataclasses.fields(cls)}
    return {k: v for k, v in data.items() if k in names}


_INT_FIELDS = {"width", "height", "num_frames", "steps", "source_clip_id", "source_in_frame",
               "source_out_frame", "image_frame", "seed"}
_FLOAT_FIELDS = {"fps", "guidance_scale", "decode_timestep", "decode_noise_scale",
                 "denoise_strength"}
# fields that never hold None (the others do: None means "not given" or "automatic")
_NOT_NULL = {"mode", "model", "prompt", "negative_prompt", "width", "height", "num_frames", "fps",
             "steps", "guidance_scale", "seed_locked", "decode_timestep", "decode_noise_scale",
             "denoise_strength", "conditions", "multiscale", "enhance_prompt"}
_STR_FIELDS = {"mode", "model", "prompt", "negative_prompt", "source_path", "image_path",
               "caption", "template_id", "offload", "transformer_dtype", "text_encoder_dtype",
               "transformer_file"}


_PATH_FIELDS = {"model", "source_path", "image_path", "transformer_file"}


def _is_text(value: str, *, path: bool) -> bool:
    """Encodable as UTF-8; a path may also hold the OS's escapes of bytes that are not."""
    try:
        value.encode("utf-8", "surrogateescape" if path else "strict")
    except UnicodeEncodeError:
        return False
    return True


def _check_stored(name: str, value: Any) -> None:
    """A stored value (already of its field's type) within what Studio can take: numbers in
    :data:`LIMITS` (a width of 2**70 or 1e308 raised OverflowError in the panel), text no
    longer than :data:`MAX_TEXT_CHARS`, at most :data:`MAX_CONDITIONS` conditions. Frame
    indices and seeds are checked for their type and sign (conform checks them further)."""
    if value is None:
        return
    if name in LIMITS:
        _check_range(name, value, int if name in _INT_FIELDS else float)
    elif name in ("source_clip_id", "source_in_frame", "source_out_frame", "image_frame"):
        if value < 0 or value > 2**63 - 1:
            raise ParamsError(name, f"{value} is outside 0..{2**63 - 1}")
    elif name in MAX_TEXT_CHARS and len(value) > MAX_TEXT_CHARS[name]:
        raise ParamsError(name, f"{len(value):,} characters: more than the "
                                f"{MAX_TEXT_CHARS[name]:,} Studio takes")
    elif name in MAX_TEXT_CHARS and not _is_text(value, path=name in _PATH_FIELDS):
        raise ParamsError(name, "not valid text (it holds a lone surrogate: bytes that are "
                                "not UTF-8)")
    elif name == "conditions" and len(value) > MAX_CONDITIONS:
        raise ParamsError(name, f"{len(value)} conditions: more than the {MAX_CONDITIONS} "
                                "Studio takes")


def _coerce(name: str, value: Any) -> Any:
    """A stored value back to its field's type: JSON has no int/float distinction worth
    trusting (12.0 for 12), and a hand-edited sidecar may hold anything."""
    if value is None:
        if name in _NOT_NULL:
            raise ParamsError(name, "must have a value, got null")
        return None
    if name in _INT_FIELDS:
        if _is_int(value):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise ParamsError(name, f"must be a whole number, got {value!r}")
    if name in _FLOAT_FIELDS:
        if _is_number(value):
            try:
                return float(value)
            except OverflowError:  # an int of 400 digits: no float holds it
                raise ParamsError(name, "a number far too large") from None
        raise ParamsError(name, f"must be a number, got {value!r}")
    if name in _STR_FIELDS:
        if isinstance(value, str):
            return value
        raise ParamsError(name, f"must be text, got {value!r}")
    if name in ("seed_locked", "vae_tiling", "multiscale", "enhance_prompt"):
        if isinstance(value, bool):
            return value
        raise ParamsError(name, f"must be true or false, got {value!r}")
    if name == "conditions":
        if not isinstance(value, list):
            raise ParamsError(name, "must be a list")
        out = []
        for i, item in enumerate(value):
            cond = Condition.from_dict(item) if isinstance(item, dict) else None
            if cond is None:
                raise ParamsError(f"conditions[{i}]", "must be an object")
            out.append(cond)
        return out
    return value
