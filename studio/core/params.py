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
from typing import Any

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
                  "model": 4096, "source_path": 4096, "image_path": 4096, "template_id": 200}
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
    offload: str | None = None  # None | "none" | "model" | "sequential"
    vae_tiling: bool | None = None
    # the model's multi-scale recipe (distilled LTX-Video 0.9.8: a first pass at 2/3 size, the
    # latent upsampler, a refine pass) where it has one; False: one pass at full size
    multiscale: bool = True

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


@dataclass(frozen=True)
class MultiScale:
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

    def refine_steps(self) -> int:
        """Steps the refine pass takes: diffusers' LTXConditionPipeline.get_timesteps keeps
        the last int(n * strength) of the n timesteps."""
        n = len(self.refine_timesteps)
        return min(n, int(n * self.refine_strength))


LTX_098_MULTISCALE = MultiScale()


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
#   hidden size, text_proj_in_factor 49 its 48 layers + 1); 12B parameters.
# - video VAE, audio VAE and vocoder 1.5B together: a guess (not on a listing Studio could read).
# - defaults 768x512, 121 frames at 24 fps, 30 steps, guidance 3.0: LTX2Pipeline's docstring
#   example (and its __call__ defaults); decode_timestep 0 (its default). Presets: Lightricks'
#   LTX-2.3 space's "low" canvas sizes (768x512, 512x768, 768x768, 768x576, 576x768, 768x384)
#   and two of its "high" ones.
# - distilled checkpoints: 8 steps at guidance 1 (the LTX-2.3 distilled model cards: "8 steps
#   with CFG = 1"), the schedule diffusers' ltx2/utils.py DISTILLED_SIGMA_VALUES.
_LTX2_PRESETS = ((768, 512), (512, 768), (768, 768), (768, 576), (576, 768), (768, 384),
                 (1536, 1024), (1024, 1536))
LTX2_DEV = ModelRules(
    id="ltx2-19b-dev", family="ltx2", title="LTX-2 19B",
    defaults=Defaults(768, 512, 121, 24.0, 30, 3.0, LTX2_NEGATIVE_PROMPT, 0.0, 0.0),
    frame_step=8, size_multiple=32, presets=_LTX2_PRESETS, modes=("t2v",),
    vae_temporal=8, vae_spatial=32, latent_channels=128, patch_t=1, patch_s=1,
    hidden=4096, layers=48, transformer_b=19.0, text_encoder_b=12.0, vae_b=1.5,
    vae_elems_per_pixel=8.0, audio=True)
LTX2_3_DEV = dataclasses.replace(LTX2_DEV, id="ltx2.3-22b-dev", title="LTX-2.3 22B",
                                 transformer_b=22.0)
LTX2_3_DISTILLED = dataclasses.replace(
    LTX2_3_DEV, id="ltx2.3-22b-distilled", title="LTX-2.3 22B distilled", distilled=True,
    defaults=Defaults(768, 512, 121, 24.0, 8, 1.0, LTX2_NEGATIVE_PROMPT, 0.0, 0.0))
# LTX-2.5: the same shapes as 2.3 is a guess (diffusers names the repo, Lightricks/LTX-2.5-
# Diffusers, in its DFR pipeline's example; Studio has read no listing of it)
LTX2_5 = dataclasses.replace(LTX2_3_DEV, id="ltx2.5", title="LTX-2.5")

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
    defaults=Defaults(64, 64, 9, 24.0, 4, 1.0, LTX2_NEGATIVE_PROMPT, 0.0, 0.0),
    frame_step=4, presets=((64, 64), (96, 64), (64, 96), (32, 32)),
    vae_temporal=4, vae_spatial=4, latent_channels=4, hidden=16, layers=2,
    transformer_b=0.00003, text_encoder_b=0.00003, vae_b=0.00002, vae_elems_per_pixel=0.5)

RULES: dict[str, ModelRules] = {r.id: r for r in (
    LTX_2B_DISTILLED, LTX_2B_DEV, LTX_13B_DISTILLED, LTX_13B_DEV, LTX_2B_DISTILLED_098,
    LTX_13B_DISTILLED_098, WAN_1_3B, WAN_14B,
    COGVIDEOX_2B, COGVIDEOX_5B, DEMO_LTX, LTX2_DEV, LTX2_3_DEV, LTX2_3_DISTILLED, LTX2_5,
    DEMO_LTX2)}


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
    if name.startswith("demo/") and family in ("ltx", "ltx2"):
        return DEMO_LTX2 if family == "ltx2" else DEMO_LTX
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
    index = _read_json(folder / "model_index.json")
    family = _family_from_name(str(index.get("_class_name", ""))) or \
        _family_from_name(folder.name)
    base = _rules_by_name(folder.name.lower().replace("_", "-"), family)
    tcfg = _read_json(folder / "transformer" / "config.json")
    vcfg = _read_json(folder / "vae" / "config.json")
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
    for name, key in (("transformer", "transformer_b"), ("text_encoder", "text_encoder_b"),
                      ("vae", "vae_b")):
        if counts[name]:
            changes[key] = counts[name] / 1e9
    if counts["transformer"] and counts["transformer"] < 10_000_000:
        demo = DEMO_LTX2 if base.family == "ltx2" else DEMO_LTX
        changes["defaults"] = dataclasses.replace(
            demo.defaults, negative_prompt=base.defaults.negative_prompt)
        changes["presets"] = demo.presets
        changes["vae_elems_per_pixel"] = demo.vae_elems_per_pixel
    return dataclasses.replace(base, **changes)


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


def _read_json(path: Path) -> dict:
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
    if p.seed is None:
        change("seed", new_seed(), "drawn at random")
    return Conformed(p, tuple(changes))


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
    if p.offload not in (None, "none", "model", "sequential"):
        raise ParamsError("offload", f"unknown offload {p.offload!r}; choose none, model or "
                                     "sequential")


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
         offload: str | None = None, vae_tiling: bool | None = None) -> Cost:
    """What a run of ``params`` costs on ``rules``' model: latent shape, token count, duration
    and an ESTIMATE of peak GPU memory. ``params`` should be conformed first (the shapes are
    the ones diffusers builds from valid settings).

    Latent: ``C x ((F-1)//t + 1) x H//s x W//s`` with the VAE's temporal compression t and
    spatial compression s (LTX-Video: 8 and 32, 128 channels: 768x512x121 -> 128x16x16x24).
    Tokens: the transformer cuts the latent into ``pt x ps x ps`` spacetime patches,
    ``N = (T'/pt)(H'/ps)(W'/ps)`` (LTX: patches of 1x1x1, so N = T'H'W' = 6144 above).

    Peak memory is an estimate, derived (not measured) as follows, in three phases, each one
    resident weights plus that phase's working set:

    * weights: parameters x bytes per parameter of ``dtype`` (text encoder, transformer, VAE).
      Without offload all three stay on the GPU; with model CPU offload (``offload="model"``)
      only the running component does; sequential offload keeps one transformer block.
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
    offload = offload if offload is not None else (params.offload or "none")
    tiling = vae_tiling if vae_tiling is not None else bool(params.vae_tiling)
    if dtype not in BYTES_PER_PARAM:
        raise ParamsError("dtype", f"unknown dtype {dtype!r}; choose {', '.join(BYTES_PER_PARAM)}")
    recipe = multiscale_recipe(params, rules)
    if recipe is None:
        shape, tokens, phases, parts = _pass_cost(params, rules, dtype, offload, tiling)
    else:  # the first pass stops at its latent; the refine pass (bigger) decodes
        m = rules.size_multiple
        w1, h1 = recipe.first_size(params.width, params.height, m)
        w2, h2 = recipe.refine_size(params.width, params.height, m)
        extra = recipe.upsampler_b * 1e9 * BYTES_PER_PARAM[dtype] / 1024 ** 3
        _, _, first, _ = _pass_cost(params.replace(width=w1, height=h1), rules, dtype, offload,
                                    tiling, extra_gb=extra)
        shape, tokens, phases, parts = _pass_cost(params.replace(width=w2, height=h2), rules,
                                                  dtype, offload, tiling, extra_gb=extra)
        # upsampling: what stays resident (which holds the upsampler) or, offloaded, the
        # upsampler alone; its activations are a few latents, small beside either
        phases = {**{f"first_pass_{k}": v for k, v in first.items() if k != "vae_decode"},
                  "upsample": phases["text_encoder"] if offload == "none" else extra,
                  **phases}
        parts["upsampler_weights"] = round(extra, 3)
    peak = max(phases.values()) + CUDA_OVERHEAD_GB
    breakdown = {**parts, "overhead": CUDA_OVERHEAD_GB, "peak_phase": max(phases, key=phases.get)}
    return Cost(shape, tokens, params.num_frames / params.fps, round(peak, 2), breakdown)


def multiscale_recipe(params: GenerationParams, rules: ModelRules) -> MultiScale | None:
    """The multi-scale recipe a run of ``params`` follows: the model's, unless the run asks
    for one pass (``multiscale`` False) or is a video-to-video run (it denoises the source's
    own latent at full size)."""
    if rules.multiscale is None or not params.multiscale or params.mode == "v2v":
        return None
    return rules.multiscale


def _pass_cost(params: GenerationParams, rules: ModelRules, dtype: str, offload: str,
               tiling: bool, extra_gb: float = 0.0) -> tuple[tuple, int, dict, dict]:
    """One pipeline pass of :func:`cost`: latent shape, tokens, the peak of each phase and
    the breakdown's parts. ``extra_gb``: weights of another model kept beside the pipeline's
    (the latent upsampler) when nothing is offloaded."""
    bpp = BYTES_PER_PARAM[dtype]
    act_bytes = 4 if dtype == "fp32" else 2  # fp8 weights still compute in bf16
    gb = 1024 ** 3

    shape = rules.latent_shape(params.width, params.height, params.num_frames)
    _, t, h, w = shape
    tokens = math.ceil(t / rules.patch_t) * math.ceil(h / rules.patch_s) * math.ceil(w / rules.patch_s)

    text_w = rules.text_encoder_b * 1e9 * bpp / gb
    transformer_w = rules.transformer_b * 1e9 * bpp / gb
    vae_w = rules.vae_b * 1e9 * act_bytes / gb  # the VAE usually runs in the compute dtype
    batch = 2 if params.guidance_scale > 1.0 else 1
    denoise_act = batch * tokens * rules.hidden * act_bytes * ACTIVATION_FACTOR / gb

    frames = params.num_frames
    area = params.width * params.height
    if rules.vae_decode_frames is not None:
        frames = min(frames, rules.vae_decode_frames)
    if tiling:
        area = min(params.width, TILE_SIZE) * min(params.height, TILE_SIZE)
    decode_act = frames * area * rules.vae_elems_per_pixel * act_bytes * VAE_FACTOR / gb
    output = params.num_frames * params.width * params.height * 3 * 4 / gb

    if offload == "none":
        resident = text_w + transformer_w + vae_w + extra_gb
        phases = {"text_encoder": resident, "denoise": resident + denoise_act,
                  "vae_decode": resident + decode_act + output}
    elif offload == "model":
        phases = {"text_encoder": text_w, "denoise": transformer_w + denoise_act,
                  "vae_decode": vae_w + decode_act + output}
    else:  # sequential: one block (of the biggest model) at a time
        block = max(transformer_w / max(rules.layers, 1), text_w / 24)
        phases = {"text_encoder": block, "denoise": block + denoise_act,
                  "vae_decode": block + decode_act + output}
    parts = {"weights": round(text_w + transformer_w + vae_w + extra_gb, 3),
             "text_encoder_weights": round(text_w, 3),
             "transformer_weights": round(transformer_w, 3), "vae_weights": round(vae_w, 3),
             "denoise_activations": round(denoise_act, 3),
             "vae_decode_activations": round(decode_act + output, 3)}
    return shape, tokens, phases, parts


# --- memory plan -------------------------------------------------------------------------

OFFLOADS = ("none", "model", "sequential")
#: What automatic memory settings try, fastest first: everything on the GPU, then VAE tiling
#: (a slower decode), then model CPU offload (each model moves to the GPU when it runs) and
#: sequential offload (one block at a time, several times slower), both with tiling.
MEMORY_LADDER = (("none", False), ("none", True), ("model", True), ("sequential", True))
# Room the estimate must leave: its factors are reasoned, not measured, and the allocator
# fragments. A tenth of the free memory, at least half a GB.
MEMORY_HEADROOM = 0.10
MEMORY_HEADROOM_MIN_GB = 0.5
_MEMORY_WORDS = {"none": "no offload", "model": "model CPU offload",
                 "sequential": "sequential CPU offload"}


@dataclass(frozen=True)
class MemoryPlan:
    """The memory settings a run uses: ``offload`` ("none", "model" or "sequential") and
    ``vae_tiling``, with the peak-memory estimate of that choice (:func:`cost`), the free
    memory it was weighed against (None: no figure, as on a CPU), whether any setting was
    chosen automatically, whether the estimate fits, and why, in words."""

    offload: str
    vae_tiling: bool
    estimate_gb: float
    free_gb: float | None
    automatic: bool
    fits: bool | None  # None: no free-memory figure to weigh it against
    reason: str

    def describe(self) -> str:
        return describe_memory(self.offload, self.vae_tiling)

    def as_dict(self) -> dict:
        """What a generation's record keeps under ``memory``."""
        return {"offload": self.offload, "vae_tiling": self.vae_tiling,
                "automatic": self.automatic,
                "free_gb": None if self.free_gb is None else round(self.free_gb, 2),
                "estimate_gb": self.estimate_gb, "fits": self.fits, "reason": self.reason}


def describe_memory(offload: str, vae_tiling: bool) -> str:
    """"model CPU offload, VAE tiling", "no offload, no tiling" and so on."""
    return f"{_MEMORY_WORDS.get(offload, offload)}, {'VAE tiling' if vae_tiling else 'no tiling'}"


def memory_options(params: GenerationParams, *, offload_available: bool = True
                   ) -> tuple[tuple[str, bool], ...]:
    """The (offload, vae_tiling) pairs automatic settings may choose for ``params``, fastest
    first. A setting given explicitly (``params.offload``/``params.vae_tiling`` not None) is
    kept; with both automatic it is :data:`MEMORY_LADDER`. ``offload_available`` False (no
    accelerate) leaves out automatic offload."""
    offload, tiling = params.offload, params.vae_tiling
    if offload is None and tiling is None:
        options = MEMORY_LADDER
    elif offload is None:
        options = tuple((o, bool(tiling)) for o in OFFLOADS)
    elif tiling is None:
        options = ((offload, False), (offload, True))
    else:
        options = ((offload, bool(tiling)),)
    if offload is None and not offload_available:
        options = tuple(o for o in options if o[0] == "none")
    return options


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
    is an estimate). ``free_gb`` None (a CPU, or no figure): automatic settings stay off.
    """
    rules = rules or rules_for(params.model)
    automatic = params.offload is None or params.vae_tiling is None
    if free_gb is None:
        offload, tiling = params.offload or "none", bool(params.vae_tiling)
        estimate = cost(params, rules, dtype=dtype, offload=offload,
                        vae_tiling=tiling).peak_memory_estimate_gb
        return MemoryPlan(offload, tiling, estimate, None, False, None,
                          f"{describe_memory(offload, tiling)} as set (no free-memory figure "
                          "for this device)")
    usable = free_gb - max(MEMORY_HEADROOM_MIN_GB, MEMORY_HEADROOM * free_gb)
    options = memory_options(params, offload_available=offload_available)
    estimates = [cost(params, rules, dtype=dtype, offload=o,
                      vae_tiling=t).peak_memory_estimate_gb for o, t in options]
    chosen = next((i for i, e in enumerate(estimates) if e <= usable), None)
    fits = chosen is not None
    if chosen is None:
        chosen = min(range(len(options)), key=lambda i: (estimates[i], i))
    offload, tiling = options[chosen]
    estimate = estimates[chosen]
    words = describe_memory(offload, tiling)
    if not fits:
        helps = "fewer frames, a smaller size" + (" or offload" if offload != "sequential"
                                                  else "")
        reason = (f"{words}: the estimate {estimate:.1f} GB exceeds the {free_gb:.1f} GB free; "
                  f"trying anyway ({helps} would help)")
        if params.offload is None and not offload_available:
            reason += "; offload needs accelerate (pip install accelerate)"
    elif not automatic:
        reason = f"{words} as set: the estimate {estimate:.1f} GB fits in {free_gb:.1f} GB free"
    elif chosen == 0:
        reason = f"{words}: the estimate {estimate:.1f} GB fits in {free_gb:.1f} GB free"
    else:
        reason = (f"{words}: the estimate {estimate:.1f} GB fits in {free_gb:.1f} GB free "
                  f"({describe_memory(*options[0])} would need about {estimates[0]:.1f} GB)")
    return MemoryPlan(offload, tiling, estimate, free_gb, automatic, fits, reason)


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
             "denoise_strength", "conditions", "multiscale"}
_STR_FIELDS = {"mode", "model", "prompt", "negative_prompt", "source_path", "image_path",
               "caption", "template_id", "offload"}


_PATH_FIELDS = {"model", "source_path", "image_path"}


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
    if name in ("seed_locked", "vae_tiling", "multiscale"):
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
