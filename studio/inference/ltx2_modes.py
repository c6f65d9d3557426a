"""LTX-2's modes, two-stage recipe and prompt enhancement, over the weights a
:class:`~studio.inference.generator.Generator` loaded (issue 17, item 2).

- Modes: text to video through ``LTX2Pipeline``; image to video through
  ``LTX2ImageToVideoPipeline``; extend and conditions at frames through
  ``LTX2ConditionPipeline`` with ``LTX2VideoCondition``s (extend: the source's last frames at
  frame 0). Each is built with ``from_pipe`` over the loaded modules: no second copy of the
  weights. A condition's ``index`` is a latent frame (diffusers: "following the original LTX-2
  code"); ``core.params.conform`` has already moved each condition to the output frame that
  latent shows, and the record keeps both.
- Two stages (:class:`studio.core.params.TwoStage`): stage 1 at half the size to latents, the
  model folder's ``latent_upsampler/`` (``LTX2LatentUpsamplerModel``, loaded as diffusers' docs
  load Lightricks/LTX-2's) doubles the video latent, stage 2 refines it with stage 1's audio
  latent at the full size. Every call is recorded, the latents each takes named by the call
  that made them, so plain diffusers replays the run. A dev model's recipe
  (``TwoStage.refine_lora_scale``) runs stage 1 with its own schedule and guidance and stage 2
  with Lightricks' distilled LoRA (loaded into the transformer once, disabled but for stage 2)
  and the scheduler unshifted, as diffusers' docs; the stage-2 call records both (``lora``,
  ``scheduler``). Without the upsampler, the LoRA or peft: one pass, and the change says why.
- Prompt enhancement: the pipeline's own ``enhance_prompt`` (LTX-2 and 2.3: the Gemma 3 text
  encoder with Lightricks' system prompts, diffusers' ltx2/utils.py T2V_/I2V_DEFAULT_SYSTEM_
  PROMPT; a model with a ``prompt_enhancer``: its own), run once before the denoising calls and
  recorded as a call of its own with its output, the enhanced prompt those calls then take.
  It equals ``enable_prompt_enhancement=True`` in the call: the pipeline runs the same method
  with the same seed first. It needs a ``Gemma3Processor``: the pipeline's, else the one the
  published repos keep beside the tokenizer (``tokenizer/processor_config.json``).

torch and diffusers are imported inside the functions. ``gen`` is always the ``Generator`` and
``run`` its ``_Run``: typed ``Any`` here, since this module sits below ``generator`` (which
calls it) and imports nothing from it; what both need is in ``pipeline_parts``.
"""

from __future__ import annotations

import importlib.util
import time
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from studio.core.params import GenerationParams, ltx2_latent_index

if TYPE_CHECKING:
    from studio.inference.pipeline_parts import _ModeInputs

#: The pipeline of each LTX-2 mode (core.params.LTX2_MODES).
LTX2_MODE_PIPELINES = {"t2v": "LTX2Pipeline", "i2v": "LTX2ImageToVideoPipeline",
                       "extend": "LTX2ConditionPipeline", "condition": "LTX2ConditionPipeline"}
UPSAMPLER_FOLDER = "latent_upsampler"  # in the model's folder, as diffusers' docs load it
PROCESSOR_FOLDER = "tokenizer"  # where the published repos keep the Gemma3Processor
# stage 2 of a dev model's recipe, as diffusers' LTX-2 docs run it: the LoRA's adapter name, and
# the scheduler "to use Stage 2 distilled sigmas as is"
STAGE_2_ADAPTER = "stage_2_distilled"
UNSHIFTED = {"use_dynamic_shifting": False, "shift_terminal": None}
# a folder Studio has no registry entry for: its distilled LoRA by Lightricks' names
# (ltx-2-19b-distilled-lora-384, ltx-2.3-22b-distilled-lora-384-1.1, ...)
DISTILLED_LORA_GLOB = "*distilled-lora*.safetensors"


def mode_inputs(gen: Any, pipe, p: GenerationParams, image: np.ndarray | None,
                step: int) -> _ModeInputs:
    """The LTX-2 pipeline's inputs for ``p.mode``: i2v's picture (fitted to the size) as
    ``image``; extend's last source frames as a condition at frame 0; the conditions of
    "condition" (and extend's own) as ``LTX2VideoCondition``s; each described for the record."""
    from studio.inference.pipeline_parts import _fit, _ModeInputs, _to_pil

    inputs = _ModeInputs(params=p)
    if p.mode == "i2v":
        picture, inputs.image_info = gen._input_picture(p, image)
        inputs.kwargs["image"] = _to_pil(_fit(picture, p.width, p.height))
        inputs.described["image"] = inputs.image_info
    elif p.mode == "extend":
        cap = max(1, min(2 * step + 1, p.num_frames // 2 + 1))
        frames, inputs.source = gen._source_frames(p, cap, step, first=False)
        inputs.overlap = len(frames)
        add_condition(inputs, [_to_pil(f) for f in frames], 0, 1.0, {"video": inputs.source},
                      step)
    if p.mode in ("condition", "extend"):
        for cond in p.conditions:
            frames, what = _condition_frames(gen, cond, p, step)
            add_condition(inputs, frames, cond.frame_index, cond.strength, what, step)
    return inputs


def add_condition(inputs: _ModeInputs, frames, frame_index: int, strength: float, what: dict,
                  temporal: int) -> None:
    """An ``LTX2VideoCondition`` of ``frames`` (a picture, or a list of them) shown from output
    frame ``frame_index``, and its record: what it is, its latent ``index``, the frame."""
    from diffusers.pipelines.ltx2.pipeline_ltx2_condition import LTX2VideoCondition

    index = ltx2_latent_index(frame_index, temporal)
    inputs.kwargs.setdefault("conditions", []).append(
        LTX2VideoCondition(frames=frames, index=index, strength=float(strength)))
    inputs.described.setdefault("conditions", []).append(
        {**what, "index": index, "frame_index": int(frame_index), "strength": float(strength)})


def _condition_frames(gen: Any, cond, p: GenerationParams, step: int):
    """A condition's picture (a still, or one frame of a clip) or its clip's frames, fitted to
    the output size, as the LTX-2 pipelines take them, and what it is for the record."""
    from studio.inference.pipeline_parts import _to_pil

    frames, what = gen.condition_frames(cond, p, step)
    if "image" in what:
        return _to_pil(frames[0]), what
    return [_to_pil(f) for f in frames], what


# ---- prompt enhancement -------------------------------------------------------------------------

def enhance(run: Any, inputs: _ModeInputs) -> str:
    """The run's prompt rewritten by the pipeline's ``enhance_prompt`` (with the mode's picture
    when it has one, as the LTX-2 pipelines pick it), recorded as the run's first call with its
    output. Raises GenerationError when the model cannot enhance (the reason in words)."""
    import torch

    from studio.inference.pipeline_parts import _quiet

    pipe, gen, p = run.pipe, run.generator, run.p
    system, processor_from = _enhancer(gen, pipe)
    picture, described = _enhancement_picture(inputs)
    kwargs: dict[str, Any] = {"prompt": p.prompt, "system_prompt": system,
                              "generator": gen.torch_generator(p.seed)}
    if picture is not None:
        kwargs["image"] = picture
    call = run.record(pipe, kwargs, {"image": described} if described else {},
                      method="enhance_prompt")
    if processor_from is not None:
        call["processor"] = processor_from
    began = time.perf_counter()
    with torch.inference_mode(), _quiet():
        enhanced = pipe.enhance_prompt(**kwargs)
    call["output"] = list(enhanced)
    call["seconds"] = round(time.perf_counter() - began, 4)
    return enhanced[0]


def _enhancer(gen: Any, pipe) -> tuple[str, dict | None]:
    """The system prompt the enhancer takes and where Studio found its processor (None: the
    pipeline had one). A model with a ``prompt_enhancer`` (LTX-2.5) gets diffusers' LTX-2.5
    prompts; a Gemma 3 text encoder (LTX-2, 2.3) Lightricks' ltx-core ones; else it cannot."""
    from diffusers.pipelines.ltx2 import utils

    from studio.inference.pipeline_parts import GenerationError

    picture = type(pipe).__name__ != "LTX2Pipeline"
    if getattr(pipe, "prompt_enhancer", None) is not None:
        system = (utils.LTX2_5_I2V_DEFAULT_SYSTEM_PROMPT if picture
                  else utils.LTX2_5_T2V_DEFAULT_SYSTEM_PROMPT)
    elif getattr(pipe.text_encoder.config, "model_type", "") == "gemma3":
        system = utils.I2V_DEFAULT_SYSTEM_PROMPT if picture else utils.T2V_DEFAULT_SYSTEM_PROMPT
    else:
        from studio.core.enhancement import NEEDS_ENHANCER

        raise GenerationError(f"{gen.model_id}: {NEEDS_ENHANCER}")
    if getattr(pipe, "processor", None) is not None:
        return system, None
    return system, _attach_processor(gen, pipe)


def _attach_processor(gen: Any, pipe) -> dict:
    """Load the Gemma3Processor the model keeps beside its tokenizer into ``pipe`` (the
    pipeline's optional ``processor``); what was loaded, for the record."""
    from studio.inference.pipeline_parts import GenerationError

    folder = Path(gen.path) / PROCESSOR_FOLDER
    if not (folder / "processor_config.json").is_file():
        raise GenerationError(
            f"{gen.model_id}: prompt enhancement needs the Gemma 3 processor (its chat "
            f"template and image settings), and {folder / 'processor_config.json'} is not "
            "there; run without enhancement, or use a copy of the model that has it")
    from transformers import AutoProcessor

    processor = AutoProcessor.from_pretrained(str(folder))
    pipe.register_modules(processor=processor)
    return {"class": type(processor).__name__, "subfolder": PROCESSOR_FOLDER}


def _enhancement_picture(inputs: _ModeInputs):
    """The picture the LTX-2 pipelines enhance a prompt with: i2v's, else the first
    condition's (its first frame, for a clip), as LTX2ConditionPipeline picks it; and its
    record."""
    if "image" in inputs.kwargs:
        return inputs.kwargs["image"], inputs.described["image"]
    for condition, what in zip(inputs.kwargs.get("conditions", ()),
                               inputs.described.get("conditions", ()), strict=True):
        frames = condition.frames
        picture = frames[0] if isinstance(frames, list) else frames
        return picture, {**what, "first_frame_only": isinstance(frames, list)}
    return None, None


# ---- two stages ---------------------------------------------------------------------------------

def upsampler_folder(gen: Any) -> Path:
    return Path(gen.path) / UPSAMPLER_FOLDER


def load_upsampler(gen: Any):
    """(``LTX2LatentUpsamplePipeline`` over the model's VAE, the upsampler, the folder it came
    from): the model folder's ``latent_upsampler/`` (the generator keeps them)."""
    import diffusers
    from diffusers.pipelines.ltx2.latent_upsampler import LTX2LatentUpsamplerModel

    from studio.inference.pipeline_parts import _quiet

    folder = upsampler_folder(gen)
    with _quiet():
        model = LTX2LatentUpsamplerModel.from_pretrained(
            str(folder), use_safetensors=True, local_files_only=True, torch_dtype=gen._dtype())
        pipe = diffusers.LTX2LatentUpsamplePipeline(vae=gen._base.vae, latent_upsampler=model)
    return pipe, model, folder


def one_pass_reason(gen: Any, p: GenerationParams, recipe) -> str | None:
    """Why a run with LTX-2's ``recipe`` runs one pass at full size instead (None: it runs
    both stages): no latent upsampler in the model's folder; for a dev model's recipe, no
    distilled LoRA found, or no peft to load it with."""
    folder = upsampler_folder(gen)
    if not (folder / "config.json").is_file():
        return f"no latent upsampler in {folder}: one pass at full size"
    if recipe.refine_lora_scale is None:
        return None
    path, looked = distilled_lora_file(gen, p.model)
    if path is None:
        return (f"stage 2 needs the distilled LoRA, and Studio found no {looked}: one pass at "
                "full size")
    if importlib.util.find_spec("peft") is None:
        return ("stage 2 loads the distilled LoRA with peft, which is not installed (pip "
                "install peft): one pass at full size")
    return None


def distilled_lora_file(gen: Any, model: str | None) -> tuple[Path | None, str]:
    """The distilled LoRA of a dev model's stage 2 (None: not found) and what Studio looked
    for: the registry's file (registry.LoraFile) in the model's folder, then in the Hugging Face
    cache (never downloaded here); for a model without an entry, the one file in its folder
    named as Lightricks names them (DISTILLED_LORA_GLOB)."""
    from studio.inference import registry

    spec = registry.get(model or "") or registry.get(gen.model_id)
    lora = spec.distilled_lora if spec is not None else None
    folder = Path(gen.path)
    if lora is None:
        found = sorted(folder.glob(DISTILLED_LORA_GLOB))
        return (found[0] if len(found) == 1 else None), f"single {DISTILLED_LORA_GLOB} in {folder}"
    if (folder / lora.filename).is_file():
        return folder / lora.filename, lora.filename
    from huggingface_hub import try_to_load_from_cache

    cached = try_to_load_from_cache(lora.repo, lora.filename)
    if isinstance(cached, str):
        return Path(cached), lora.filename
    model_id = spec.id if spec is not None else gen.model_id
    return None, (f"{lora.filename} in {folder} or the Hugging Face cache (download it with: "
                  f"studio models pull {model_id})")


def _load_distilled_lora(gen: Any, path: Path) -> None:
    """The distilled LoRA in ``path`` loaded into the model's transformer as STAGE_2_ADAPTER,
    disabled (stage 1 and one-pass runs go without it); once per file."""
    from studio.inference.pipeline_parts import GenerationError, _quiet

    pipe = gen._base
    if gen.stage_2_lora == path:
        return
    if gen.stage_2_lora is not None:
        pipe.delete_adapters(STAGE_2_ADAPTER)
        gen.stage_2_lora = None
    try:
        with _quiet():
            pipe.load_lora_weights(str(path.parent), weight_name=path.name,
                                   adapter_name=STAGE_2_ADAPTER, local_files_only=True)
    except Exception as err:  # noqa: BLE001 - any reason a file is not this model's LoRA
        detail = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise GenerationError(f"{path}: cannot be loaded as the distilled LoRA of "
                              f"{gen.model_id} ({detail})") from None
    _lora_modules(pipe, enabled=False)
    gen.stage_2_lora = path


def _lora_modules(pipe, *, enabled: bool) -> None:
    """The LoRA layers of the pipeline's modules that hold one (the transformer; the text
    connectors when the LoRA has theirs) switched on or off."""
    for name in pipe._lora_loadable_modules:
        module = getattr(pipe, name, None)
        if getattr(module, "_hf_peft_config_loaded", False):
            if enabled:
                module.enable_lora()
            else:
                module.disable_lora()


@contextmanager
def _stage_2(run: Any, recipe):
    """Stage 2's weights and scheduler for one call: a dev recipe's distilled LoRA enabled at
    its scale and the scheduler unshifted, as they were afterwards; yields what the call's
    record adds (``lora``: the file, adapter and scale; ``scheduler``: from_config changes)."""
    pipe, added = run.pipe, {}
    scheduler = pipe.scheduler
    if recipe.refine_unshifted:
        pipe.scheduler = type(scheduler).from_config(scheduler.config, **UNSHIFTED)
        added["scheduler"] = {"class": type(scheduler).__name__, "from_config": dict(UNSHIFTED)}
    lora = run.generator.stage_2_lora if recipe.refine_lora_scale is not None else None
    if lora is not None:
        pipe.set_adapters([STAGE_2_ADAPTER], [recipe.refine_lora_scale])
        _lora_modules(pipe, enabled=True)
        added["lora"] = {"path": str(lora), "weight_name": lora.name,
                         "adapter_name": STAGE_2_ADAPTER, "scale": recipe.refine_lora_scale}
    try:
        yield added
    finally:
        if lora is not None:
            _lora_modules(pipe, enabled=False)
        pipe.scheduler = scheduler


def two_stage(run: Any, inputs: _ModeInputs, recipe, multiple: int) -> np.ndarray:
    """Stage 1 at ``recipe.first_size`` to latents, the latent upsampler, stage 2 at the
    refine size from the upsampled video latent and stage 1's audio latent; the frames,
    resized to the size asked for when stage 2's differs (the sound is stage 2's)."""
    import cv2

    from studio.inference import registry

    p, gen = run.p, run.generator
    if recipe.refine_lora_scale is not None:  # loaded before stage 1: a bad file costs no run
        _load_distilled_lora(gen, distilled_lora_file(gen, p.model)[0])
    (w1, h1), (w2, h2) = (recipe.first_size(p.width, p.height, multiple),
                          recipe.refine_size(p.width, p.height, multiple))
    first = {**inputs.kwargs, **gen.call_kwargs(run.pipe, p, width=w1, height=h1)}
    if recipe.first_sigmas and p.steps == len(recipe.first_sigmas):
        first["sigmas"] = [float(s) for s in recipe.first_sigmas]
    refine_steps = recipe.refine_steps()
    total = p.steps + refine_steps
    latents = run.denoise(first, inputs.described, output_type="latent", pass_index=1,
                          passes=2, first_step=0, total=total, whole=True,
                          later_steps=refine_steps * (w2 * h2) / (w1 * h1))
    first_call = len(run.calls) - 1
    if run.cancel is not None:
        run.cancel.raise_if_cancelled()
    began = time.perf_counter()
    up = {"latents": latents.frames, "adain_factor": recipe.adain_factor,
          "tone_map_compression_ratio": recipe.tone_map_compression_ratio,
          "output_type": "latent"}
    upsampled = run.call(gen.upsample_pipeline(), up, {"latents": _latent_of(
        first_call, "frames", latents.frames)}).frames
    run.upsample_s = time.perf_counter() - began
    # stage 2: no guidance of any kind, as Lightricks' SimpleDenoiser and diffusers' docs
    refine = {**inputs.kwargs, **gen.call_kwargs(run.pipe, p, width=w2, height=h2),
              **registry.LTX2_NO_GUIDANCE, "guidance_scale": 1.0,
              "latents": upsampled, "audio_latents": latents.audio,
              "num_inference_steps": refine_steps,
              "sigmas": [float(s) for s in recipe.refine_sigmas],
              "noise_scale": recipe.refine_noise_scale}
    described = {**inputs.described,
                 "latents": _latent_of(len(run.calls) - 1, "frames", upsampled),
                 "audio_latents": _latent_of(first_call, "audio", latents.audio)}
    with _stage_2(run, recipe) as added:
        frames = run.denoise(refine, described, output_type="np", pass_index=2, passes=2,
                             first_step=p.steps, total=total)
    run.calls[-1].update(added)
    from studio.inference.pipeline_parts import _to_uint8

    frames = _to_uint8(frames)
    if (w2, h2) == (p.width, p.height):
        return frames
    return np.stack([cv2.resize(f, (p.width, p.height), interpolation=cv2.INTER_AREA)
                     for f in frames])


def _latent_of(call: int, field: str, latents) -> dict:
    """A call's latent input, named by the call whose output it is (``field``: that output's
    ``frames`` or ``audio``)."""
    return {"output_of_call": call, "field": field, "shape": list(latents.shape)}
