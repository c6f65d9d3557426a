"""Video generation with diffusers: LTX-Video text-, image- and video-to-video, extend, and
conditions at chosen frames; other DiT video models (CogVideoX, Wan 2.1) text-to-video through
``DiffusionPipeline``.

A :class:`Generator` holds one pipeline's weights. ``generate(params)`` runs one
:class:`~studio.core.params.GenerationParams` (conformed to the model's rules first) and
returns the frames with everything needed to make them again; :func:`save_generation` writes
them atomically as H.264 (or PNG frames) with a JSON sidecar and the same JSON in the comment
tag.

- Modes: t2v uses the pipeline the folder names (``LTXPipeline`` or ``LTXConditionPipeline``);
  i2v ``LTXImageToVideoPipeline``; v2v, extend and condition ``LTXConditionPipeline`` with
  ``LTXVideoCondition``. Switching modes builds the other pipeline with ``from_pipe`` over the
  same modules: the weights are loaded once. LTX-2 (video with sound): t2v ``LTX2Pipeline``, i2v
  ``LTX2ImageToVideoPipeline``, extend and condition ``LTX2ConditionPipeline``, its two-stage
  recipe and prompt enhancement (studio.inference.ltx2_modes).
- Faithful: the seed drives ``torch.Generator(device).manual_seed(seed)`` and the pipeline is
  called with the model's own schedule; with the same settings the frames equal a plain
  diffusers call's (tests/inference/test_generator.py checks it).
- Progress and cancel: ``callback_on_step_end`` reports each step with an ETA and raises
  ``Cancelled`` when the token is cancelled, so a cancelled run never reaches the VAE decode.
- Preview: every few steps the current latent is turned into small RGB frames by a linear map
  (see :class:`LatentPreview`): no VAE decode, well under 10% of a run.
- Memory: on CUDA (bf16), offload (model, group or sequential), VAE tiling and, for LTX-2,
  fp8 storage of the transformer and text encoder left automatic are chosen before each run
  by ``core.params.memory_plan`` from the free GPU memory; weights that do not fit at load
  stay in CPU memory for it to offload. A part of the model that cannot be on the GPU even
  alone is refused before the run (:func:`plan_before_loading`, which the engine calls before
  loading), naming the part, its size and the settings that would fit. A GGUF transformer
  file (``params.transformer_file``) replaces the model's transformer at load. The plan
  applied is in the record (``memory``).

torch and diffusers are imported inside the functions: importing this module is cheap.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import os
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from studio.core.cancel import CancelToken
from studio.core.generation_record import GENERATION_KIND
from studio.core.params import (
    MODE_TITLES,
    Change,
    Conformed,
    GenerationParams,
    MemoryPlan,
    ParamsError,
    conform,
    memory_plan,
    rules_for,
)
from studio.inference.pipeline_parts import (  # noqa: F401 - also read from here by others
    GenerationError,
    _fit,
    _ModeInputs,
    _quiet,
    _to_pil,
    _to_uint8,
)
from studio.inference.registry import DEMO_LABEL

log = logging.getLogger(__name__)

ProgressCallback = Callable[[int, int, float], None]  # done, total, ETA seconds (-1: unknown)
PreviewCallback = Callable[[int, np.ndarray], None]  # step, (T, H, W, 3) uint8 RGB frames
PassCallback = Callable[[int, int, int, int], None]  # pass, passes, first step, its steps

LTX_CLASSES = ("LTXPipeline", "LTXConditionPipeline", "LTXImageToVideoPipeline")
# LTX-2 (video with sound): loaded as LTX2Pipeline; its other modes' pipelines from_pipe over it
LTX2_CLASSES = ("LTX2Pipeline", "LTX2ImageToVideoPipeline", "LTX2ConditionPipeline")
# the pipelines of an LTXPipeline model's other modes
MODE_PIPELINES = {"i2v": "LTXImageToVideoPipeline", "v2v": "LTXConditionPipeline",
                  "extend": "LTXConditionPipeline", "condition": "LTXConditionPipeline"}
# every LTX call: LTXConditionPipeline's default, and what LTX-Video's own inference uses; the
# other LTX pipelines default to 128 tokens, which cuts a long caption used as a prompt
LTX_MAX_SEQUENCE_LENGTH = 256
PREVIEW_LONG_SIDE = 256  # previews are scaled to this long side at most (the output's, if smaller)
SIDECAR_KIND = GENERATION_KIND  # what read_generation_record accepts
# the dtype names cost() and memory_plan() take, by torch dtype name
_PLAN_DTYPES = {"bfloat16": "bf16", "float16": "fp16", "float32": "fp32"}

SIDECAR_VERSION = 1


@dataclass
class GenerationOutput:
    """What one run made. ``frames``: (F, H, W, 3) uint8 RGB. ``params``: the settings as run
    (conformed, with the seed). ``changes``: what was conformed, including a frame count cut
    to a short source."""

    frames: np.ndarray
    params: GenerationParams
    changes: tuple[Change, ...]
    seed: int
    timings: dict[str, float]
    pipeline: str  # the diffusers class that ran
    source: dict | None = None  # v2v/extend: the frames of the source clip used
    image: dict | None = None  # i2v: where the picture came from
    overlap_frames: int = 0  # extend: output frames that repeat the end of the source
    preview_s: float = 0.0  # time spent making previews (included in the timings)
    previews: int = 0
    memory: dict | None = None  # the memory settings applied (core.params.MemoryPlan.as_dict)
    # every pipeline call in the order run: {"pipeline": class name, "kwargs": {...}}
    # (describe_call); and each denoising pass's size and steps
    calls: list[dict] = dataclasses.field(default_factory=list)
    passes: list[dict] = dataclasses.field(default_factory=list)
    # the sound track (LTX-2): float32 (channels, samples) at ``sample_rate``, as long as the
    # video; ``audio_info`` says what the vocoder made and how it was fitted
    audio: np.ndarray | None = None
    sample_rate: int | None = None
    audio_info: dict | None = None
    # LTX-2 with enhance_prompt: the prompt the model wrote, which the run used
    enhanced_prompt: str | None = None

    @property
    def fps(self) -> float:
        return float(self.params.fps)


# ---- loading ------------------------------------------------------------------------------------

def plan_before_loading(params: GenerationParams, device=None) -> MemoryPlan | None:
    """The memory plan of a run of ``params`` on ``device`` ("cuda", "cpu", a DeviceChoice or
    None: the default), made before its model loads, from the model's rules and the device's
    free memory (with what this process holds); None where the device reports no memory
    figure (a CPU). Raises ``GenerationError`` when a part of the model cannot be on the GPU
    even alone: the message names it, its size, the free memory and the settings that would
    fit, and nothing has been loaded."""
    from studio.inference.devices import DeviceChoice, device_memory, pick_device

    choice = device if isinstance(device, DeviceChoice) else pick_device(device)
    memory = device_memory(choice.device)
    if memory is None:
        return None
    rules = rules_for(params.model)
    plan = memory_plan(conform(params, rules).params, rules, memory.usable_gb,
                       dtype=_PLAN_DTYPES.get(choice.dtype_name, "fp32"),
                       offload_available=_has_accelerate())
    if plan.refusal:
        raise GenerationError(f"{params.model}: {plan.refusal}")
    return plan


def _cast_to_fp8(module) -> None:
    """``module``'s weights stored in float8_e4m3fn and computed in their present dtype:
    ``enable_layerwise_casting`` for a diffusers model (it skips the layers its class names),
    diffusers' ``apply_layerwise_casting`` for another (a transformers text encoder), with
    diffusers' default patterns left out (norms, positional and patch embeddings)."""
    import torch

    compute = next(module.parameters()).dtype
    if hasattr(module, "enable_layerwise_casting"):
        module.enable_layerwise_casting(storage_dtype=torch.float8_e4m3fn, compute_dtype=compute)
        return
    from diffusers.hooks import apply_layerwise_casting
    from diffusers.hooks.layerwise_casting import DEFAULT_SKIP_MODULES_PATTERN

    apply_layerwise_casting(module, torch.float8_e4m3fn, compute, DEFAULT_SKIP_MODULES_PATTERN)


#: Pipeline parts group offload leaves on the device: the VAEs and vocoder are small (LTX-2's
#: 2.5 GB in all), and a VAE group-offloaded with CUDA streams may go wrong when it first runs
#: tiled (diffusers warns of it).
GROUP_OFFLOAD_KEPT = ("vae", "audio_vae", "vocoder")


def _enable_group_offload(pipe, device: str) -> None:
    """diffusers' group offload over ``pipe``: the transformer by blocks (one at a time, the
    next copied ahead on a CUDA stream), the text encoder and the other large parts leaf by
    leaf (a transformers model has no block list diffusers knows), the parts in
    :data:`GROUP_OFFLOAD_KEPT` on the device. Weights wait in CPU memory."""
    import torch
    from diffusers.hooks import apply_group_offloading

    onload, offload = torch.device(device), torch.device("cpu")
    stream = device == "cuda"
    for name, module in pipe.components.items():
        if not isinstance(module, torch.nn.Module):
            continue
        if name in GROUP_OFFLOAD_KEPT:
            module.to(onload)
        elif name == "transformer" and getattr(module, "_supports_group_offloading", False):
            module.enable_group_offload(onload, offload, offload_type="block_level",
                                        num_blocks_per_group=1, use_stream=stream)
        else:
            apply_group_offloading(module, onload_device=onload, offload_device=offload,
                                   offload_type="leaf_level", use_stream=stream)


def _remove_group_offload(pipe) -> None:
    """Take diffusers' group offload hooks off every part of ``pipe`` (the weights stay in
    CPU memory, where the hooks keep them between uses)."""
    import torch
    from diffusers.hooks import HookRegistry

    for module in pipe.components.values():
        if isinstance(module, torch.nn.Module):
            registry = HookRegistry.check_if_exists_or_initialize(module)
            for name in ("group_offloading", "layer_execution_tracker",
                         "lazy_prefetch_group_offloading"):
                registry.remove_hook(name, recurse=True)
            module.to("cpu")


def _import_diffusers() -> None:
    """torch + diffusers' LTX pipelines, with the heap frozen after them (as the captioner does:
    a full collection of the torch heap holds the GIL for hundreds of ms)."""
    import gc
    import sys

    if "diffusers.pipelines.ltx.pipeline_ltx_condition" in sys.modules:
        return
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        import torch  # noqa: F401
        from diffusers.pipelines.ltx import pipeline_ltx, pipeline_ltx_condition  # noqa: F401
    finally:
        gc.freeze()
        if was_enabled:
            gc.enable()


def _has_accelerate() -> bool:
    """diffusers' model and sequential CPU offload need accelerate (not a Studio dependency)."""
    import importlib.util

    return importlib.util.find_spec("accelerate") is not None


def _weights_fit(pipe, device: str) -> bool:
    """Whether the pipeline's weights fit in ``device``'s free memory with the memory plan's
    headroom to spare (True when there is no figure). A pipeline that does not fit stays in
    CPU memory at load, for its first run's memory plan to offload."""
    import torch

    from studio.core.params import MEMORY_HEADROOM, MEMORY_HEADROOM_MIN_GB
    from studio.inference.devices import device_memory

    memory = device_memory(device)
    if memory is None:
        return True
    size = 0
    for module in pipe.components.values():
        if isinstance(module, torch.nn.Module):
            size += sum(t.numel() * t.element_size()
                        for t in (*module.parameters(), *module.buffers()))
    usable = memory.usable_gb
    return size / 1024 ** 3 <= usable - max(MEMORY_HEADROOM_MIN_GB, MEMORY_HEADROOM * usable)


def folder_hash(folder: str | os.PathLike) -> str:
    """A fingerprint of a model folder, for sidecars of models that have no hub revision:
    SHA-256 over every file's relative path and size, the bytes of its small files (configs,
    tokenizers, up to 1 MB) and the header of each safetensors file (tensor names, dtypes,
    shapes, offsets). Weights themselves are not read (seconds per GB); a retrained model of
    the same shapes and sizes is told apart by its configs and metadata only."""
    root = Path(folder)
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix()
        if rel.startswith(".") or "/." in rel:
            continue
        size = path.stat().st_size
        digest.update(f"{rel}\0{size}\0".encode())
        with open(path, "rb") as f:
            if path.suffix == ".safetensors":
                head = f.read(8)
                n = int.from_bytes(head, "little") if len(head) == 8 else 0
                digest.update(head + f.read(min(n, 100 * 1024 * 1024)))
            elif size <= 1024 * 1024:
                digest.update(f.read())
    return digest.hexdigest()


def library_versions() -> dict[str, str]:
    from importlib import metadata

    from studio import __version__

    versions = {"studio": __version__, "python": platform.python_version()}
    for name in ("torch", "diffusers", "transformers", "numpy", "av"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return versions


def ltx_pipeline_class(index: dict, spec, *, distilled: bool) -> str | None:
    """The LTX pipeline class Studio loads a model with, or None when the model is not
    LTX-Video (its own class, through DiffusionPipeline). Chosen from the model, never taken
    from the repo's model_index.json alone (LTX-Video 0.9.5's names LTXPipeline, though its
    conditions need LTXConditionPipeline): distilled models and the registry's LTX entries
    load as LTXConditionPipeline (so the distilled timesteps apply in every mode); other
    LTX folders as the class they name, LTXPipeline for an image-to-video one."""
    named = str(index.get("_class_name", ""))
    transformer = index.get("transformer")
    if named in LTX2_CLASSES or (isinstance(transformer, list) and len(transformer) == 2
                                 and transformer[1] == "LTX2VideoTransformer3DModel"):
        return "LTX2Pipeline"
    is_ltx = named in LTX_CLASSES or (isinstance(transformer, list) and len(transformer) == 2
                                      and transformer[1] == "LTXVideoTransformer3DModel")
    if not is_ltx:
        return None
    if distilled:
        return "LTXConditionPipeline"
    if spec is not None and spec.loader in ("LTXPipeline", "LTXConditionPipeline"):
        return spec.loader
    return named if named in ("LTXPipeline", "LTXConditionPipeline") else "LTXPipeline"


def _model_dtypes(choice, spec, found):
    """The device choice with the model's own dtypes (devices.model_dtypes): the registry's
    ``cuda_dtype`` and ``component_dtypes``; any Wan model's VAE in float32."""
    from studio.core.params import rules_for
    from studio.inference.devices import model_dtypes

    defaults = spec.defaults if spec is not None else {}
    components = defaults.get("component_dtypes")
    if components is None and rules_for(str(found.id if spec else found.path)).family == "wan":
        components = {"vae": "float32"}
    return model_dtypes(choice, cuda_dtype=defaults.get("cuda_dtype"),
                        component_dtypes=components)


def _single_file_parts(found, folder: Path, dtype, transformer_file: str | None) -> dict:
    """Components whose weights come from single files rather than ``folder``: those of a
    registry model published as one checkpoint, and a GGUF transformer file (which takes the
    transformer's place)."""
    from studio.inference.single_file import load_components, load_gguf_transformer

    parts = {}
    if found.single_file is not None:
        names = [n for n in found.single_file_components
                 if not (transformer_file and n == "transformer")]
        parts = load_components(found.single_file, folder, names, dtype)
    if transformer_file is not None:
        parts["transformer"] = load_gguf_transformer(transformer_file, folder, dtype)
    return parts


def _distilled(found, spec) -> bool:
    """A guidance- and timestep-distilled model: a registry entry with the distilled
    timesteps, or another model whose name says "distilled" (never a demo model)."""
    if spec is not None:
        return bool(spec.defaults.get("timesteps"))
    return not found.demo and "distilled" in str(found.id).lower()


class Generator:
    """One diffusers video pipeline's weights on one device, and the pipelines of every mode
    built over them. Not thread-safe: one run at a time (the engine guarantees it)."""

    def __init__(self, pipe, *, model_id: str, path: Path, demo: bool, revision: str | None,
                 device: str, dtype_name: str, class_name: str) -> None:
        self.model_id = model_id
        self.path = path
        self.demo = demo
        self.revision = revision
        self.device = device
        self.dtype_name = dtype_name
        self.class_name = class_name  # of the loaded pipeline: Studio's choice for LTX
        self.family = ("ltx" if class_name in LTX_CLASSES else
                       "ltx2" if class_name in LTX2_CLASSES else "other")
        self._pipes: dict[str, Any] = {type(pipe).__name__: pipe}
        self._base = pipe
        self._folder_hash: str | None = None
        self._preview: LatentPreview | None = None
        # where the weights are: "device" (all on it), "cpu" (not placed yet: they did not
        # fit at load), "model"/"sequential" (offload hooks on _offload_pipe); the VAE's tiling
        self._placement = "device"
        self._offload_pipe = None
        self._tiling: bool | None = None
        # a registry model published as one checkpoint: the file and its hub commit
        self.single_file: Path | None = None
        self.single_file_revision: str | None = None
        # the latent upsampler of the model's multi-scale recipe (registry.UpsamplerFile),
        # loaded on the first multi-scale run, and the file it came from
        self.upsampler = None
        self.upsampler_path: Path | None = None
        self.component_dtypes: dict[str, str] = {}  # those not in dtype_name
        # how the transformer and text encoder are stored: "bf16" (the compute dtype), "fp8"
        # (layerwise casting, applied by a run's memory plan) or "gguf" (from transformer_file)
        self.storage = {"transformer": "bf16", "text_encoder": "bf16"}
        self.transformer_file: Path | None = None
        self.dtype_note: str | None = None  # why the dtype is not the usual one
        self._upsample_pipe = None
        # LTX-2 dev: the distilled LoRA loaded (disabled but for stage 2) into the transformer
        self.stage_2_lora: Path | None = None

    # ---- loading ----

    @classmethod
    def load(cls, model: str, device: str | None = None, *,
             allow_download: bool = False, transformer_file: str | None = None) -> Generator:
        """``model``: a registry/hub id, a ``demo/...`` id or a local diffusers folder.
        ``device``: "cuda", "mps" or "cpu" to prefer one. ``transformer_file``: a GGUF file
        whose (quantised) weights replace the model's transformer. Raises
        ``studio.inference.loading.ModelError`` with a message a person can act on."""
        from studio.inference.devices import DeviceChoice, pick_device
        from studio.inference.loading import ModelError, ModelFolderError, resolve

        found = resolve(str(model), expect="generator", allow_download=allow_download)
        folder = Path(found.path)
        choice = device if isinstance(device, DeviceChoice) else pick_device(device)
        try:
            index = json.loads((folder / "model_index.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise ModelFolderError(f"{folder / 'model_index.json'}: cannot read it ({err}).") \
                from None
        class_name = str(index.get("_class_name", ""))
        _import_diffusers()
        import diffusers
        import torch

        from studio.inference import registry

        spec = registry.get(found.id)
        ltx_class = ltx_pipeline_class(index, spec, distilled=_distilled(found, spec))
        pipe_class = getattr(diffusers, ltx_class) if ltx_class else diffusers.DiffusionPipeline
        choice = _model_dtypes(choice, spec, found)
        dtype = choice.dtype
        if choice.component_dtypes:
            dtype = {"default": choice.dtype, **{name: getattr(torch, value)
                                                 for name, value in choice.component_dtypes}}
        try:
            from diffusers.pipelines.pipeline_utils import _resolve_dtype  # noqa: F401
            dtype_kw = "dtype"  # diffusers >= 0.36 deprecates torch_dtype
        except ImportError:
            dtype_kw = "torch_dtype"
        try:
            with _quiet():
                parts = _single_file_parts(found, folder, choice.dtype, transformer_file)
                pipe = pipe_class.from_pretrained(
                    os.fspath(folder), use_safetensors=True, local_files_only=True,
                    **parts, **{dtype_kw: dtype})
                placement = "device"
                if choice.device == "cuda" and not _weights_fit(pipe, choice.device):
                    placement = "cpu"  # generate()'s memory plan offloads them
                elif choice.device != "cpu":
                    pipe.to(choice.device)
        except ModelError:
            raise
        except torch.cuda.OutOfMemoryError:
            raise ModelError(f"{found.id}: does not fit in the GPU's memory ({choice.describe()})"
                             "; use a smaller model, or free the GPU and try again.") from None
        except Exception as err:
            detail = (str(err).strip().splitlines() or [type(err).__name__])[0]
            raise ModelFolderError(f"{folder}: cannot be loaded as a diffusers video pipeline "
                                   f"({class_name or 'no _class_name'}): {detail}") from err
        pipe.set_progress_bar_config(disable=True)
        generator = cls(pipe, model_id=found.id, path=folder, demo=bool(found.demo),
                        revision=found.revision, device=choice.device,
                        dtype_name=choice.dtype_name, class_name=type(pipe).__name__)
        generator._placement = placement
        generator.single_file = found.single_file
        generator.single_file_revision = found.single_file_revision
        generator.upsampler = spec.upsampler if spec is not None else None
        generator.component_dtypes = dict(choice.component_dtypes)
        if transformer_file is not None:
            generator.transformer_file = Path(transformer_file).resolve()
            generator.storage["transformer"] = "gguf"
        generator.dtype_note = choice.note
        if choice.note:
            log.warning("%s: %s", found.id, choice.note)
        return generator

    def unload(self) -> None:
        from studio.inference.devices import free_memory

        if self._base is None:
            return
        self._pipes.clear()
        self._base = None
        self._preview = None
        self._upsample_pipe = None
        free_memory(self.device)

    @property
    def loaded(self) -> bool:
        return self._base is not None

    @property
    def memory_saving(self) -> tuple[str, bool]:
        """Where the weights run from now ("device", "cpu", or the offload: "model",
        "sequential") and whether VAE tiling is on: what an out-of-memory message can still
        suggest."""
        return self._placement, bool(self._tiling)

    @property
    def pipelines(self) -> list[str]:
        """Class names of the pipelines built so far (all over the same weights)."""
        return list(self._pipes)

    def pipeline(self, mode: str):
        """The pipeline for ``mode``, built with ``from_pipe`` over the loaded modules the
        first time (no weights are loaded or copied). A model loaded as LTXConditionPipeline
        (every registry LTX-Video 0.9.5+, and every distilled one) runs each mode through it:
        text-to-video with no condition, image-to-video as a condition at frame 0; others
        (LTXPipeline folders, the demo) take LTXImageToVideoPipeline for i2v."""
        self._check_loaded()
        if self.family == "ltx2":
            return self._ltx2_pipeline(mode)
        if mode == "t2v" or self.class_name == "LTXConditionPipeline":
            if mode != "t2v" and self.family != "ltx":
                raise GenerationError(f"{self.model_id}: only text-to-video with this model "
                                      f"({self.class_name}); {mode} needs an LTX-Video model.")
            return self._base
        if self.family != "ltx":
            raise GenerationError(f"{self.model_id}: only text-to-video with this model "
                                  f"({self.class_name}); {mode} needs an LTX-Video model.")
        return self._pipe_of(MODE_PIPELINES[mode])

    def _ltx2_pipeline(self, mode: str):
        from studio.inference.ltx2_modes import LTX2_MODE_PIPELINES

        if mode not in LTX2_MODE_PIPELINES:
            raise GenerationError(f"{self.model_id}: LTX-2 does not do "
                                  f"{MODE_TITLES.get(mode, mode).lower()} (it does: "
                                  f"{', '.join(MODE_TITLES[m].lower() for m in LTX2_MODE_PIPELINES)})")
        name = LTX2_MODE_PIPELINES[mode]
        return self._base if name == self.class_name else self._pipe_of(name)

    def _pipe_of(self, class_name: str):
        pipe = self._pipes.get(class_name)
        if pipe is None:
            import diffusers

            with _quiet():
                pipe = getattr(diffusers, class_name).from_pipe(self._base)
            pipe.set_progress_bar_config(disable=True)
            self._pipes[class_name] = pipe
        return pipe

    def _check_loaded(self) -> None:
        if self._base is None:
            raise RuntimeError("the generator has been unloaded")

    # ---- identity ----

    def model_record(self) -> dict:
        """Which model made a video: id, revision (hub snapshots) or folder hash, demo flag."""
        from studio.inference.loading import snapshot_commit

        if self._folder_hash is None and self.revision is None:
            self._folder_hash = folder_hash(self.path)
        record = {"id": self.model_id, "revision": self.revision,
                  "folder_hash": self._folder_hash, "path": str(self.path),
                  "pipeline": self.class_name, "demo": self.demo, "device": self.device,
                  "dtype": self.dtype_name}
        if self.single_file is not None:
            record["single_file"] = {"path": str(self.single_file),
                                     "revision": self.single_file_revision}
        if self.component_dtypes:
            record["component_dtypes"] = dict(self.component_dtypes)
        if self.transformer_file is not None:
            record["transformer_file"] = str(self.transformer_file)
        record["weights"] = dict(self.storage)
        if self.dtype_note:
            record["dtype_note"] = self.dtype_note
        if self.upsampler_path is not None:
            record["upsampler"] = {"path": str(self.upsampler_path),
                                   "revision": snapshot_commit(self.upsampler_path.parent)}
        return record

    # ---- generating ----

    def conform(self, params: GenerationParams) -> Conformed:
        """``params`` checked against this model's rules (ParamsError names a bad field)."""
        return conform(params, rules_for(self._rules_key(params)))

    def _rules_key(self, params: GenerationParams) -> str:
        """The model whose rules apply: ``params.model`` (a folder's rules come from its own
        configs, a hub id's from its name), else the loaded one."""
        return params.model if params.model else self.model_id

    def generate(self, params: GenerationParams, *, image: np.ndarray | None = None,
                 on_progress: ProgressCallback | None = None,
                 on_preview: PreviewCallback | None = None, preview_every: int | None = None,
                 cancel: CancelToken | None = None,
                 on_pass: PassCallback | None = None) -> GenerationOutput:
        """Run ``params`` (conformed first; a missing seed is drawn and recorded).

        ``image``: an RGB uint8 array (a player frame) for i2v instead of ``params.image_path``.
        ``on_progress(done, total, eta_s)`` after each denoising step, counted over every pass
        of the run; ``on_pass(index, count, first_step, steps)`` as each denoising pass begins
        (a multi-scale run has two: ``index`` 1 and 2 of ``count`` 2; its steps are
        ``first_step + 1 .. first_step + steps`` of the run's total); ``on_preview(step,
        frames)`` every ``preview_every`` steps (default: about four previews a pass; LTX
        only); ``cancel``: checked before the run and after every step (raises ``Cancelled``:
        nothing is decoded). Raises ``ParamsError`` (a field), ``GenerationError``,
        ``ModelError`` (a missing upsampler) or ``MediaError`` (a source file) with a message
        a person can act on.
        """
        self._check_loaded()
        started = time.perf_counter()
        conformed = self._conform_with(params, image)
        p = conformed.params
        changes = list(conformed.changes)
        if cancel is not None:
            cancel.raise_if_cancelled()
        pipe = self.pipeline(p.mode)
        rules = rules_for(self._rules_key(p))
        recipe = self._recipe(p, rules, changes)
        if any(c.field == "multiscale" for c in changes):  # no upsampler: one pass, recorded
            p = p.replace(multiscale=False)
        memory = self._apply_memory_settings(pipe, p, rules)
        inputs = self._mode_inputs(pipe, p, image, rules.frame_step, changes)
        p = inputs.params
        run = _Run(self, pipe, p, cancel, on_progress, on_preview, preview_every, on_pass)
        frames_out = self._denoise(run, inputs, recipe, rules.size_multiple)
        finished = time.perf_counter()
        last_step = run.last_step_at or run.prepared
        timings = {"prepare_s": run.prepared - started,
                   "denoise_s": last_step - run.prepared,  # text encoding and every step
                   "decode_s": finished - last_step,  # VAE decode and post-processing
                   "preview_s": run.preview_s,
                   "total_s": finished - started}
        if run.upsample_s:
            timings["upsample_s"] = run.upsample_s
        sound = fit_audio(run.audio, self._base, frames_out.shape[0], p.fps)
        return GenerationOutput(**sound,
            frames=frames_out, params=p, changes=tuple(changes), seed=int(p.seed),
            timings={k: round(v, 4) for k, v in timings.items()},
            pipeline=type(pipe).__name__, source=inputs.source, image=inputs.image_info,
            overlap_frames=inputs.overlap, preview_s=run.preview_s, previews=run.previews,
            memory=memory.as_dict(), calls=run.calls, passes=run.passes,
            enhanced_prompt=run.enhanced_prompt)

    def _denoise(self, run: _Run, inputs: _ModeInputs, recipe, multiple: int) -> np.ndarray:
        """The run's pipeline calls: LTX-2's prompt enhancement first when asked for (its
        output is the prompt the denoising calls take), then one pass, LTX-Video's multi-scale
        recipe or LTX-2's two stages; the frames."""
        if run.p.enhance_prompt and self.family == "ltx2":
            from studio.inference.ltx2_modes import enhance

            run.enhanced_prompt = enhance(run, inputs)
            run.p = run.p.replace(prompt=run.enhanced_prompt)
        run.prepared = time.perf_counter()
        if recipe is None:
            return run.single_pass(inputs, self._timesteps(run.pipe, run.p))
        if self.family == "ltx2":
            from studio.inference.ltx2_modes import two_stage

            return two_stage(run, inputs, recipe, multiple)
        return run.multiscale(inputs, recipe, multiple)

    def _conform_with(self, params: GenerationParams, image: np.ndarray | None) -> Conformed:
        if image is not None and params.mode == "i2v" and not params.image_path:
            # a picture from memory (the player's frame): nothing to name in image_path
            conformed = self.conform(params.replace(image_path="(picture in memory)"))
            return Conformed(conformed.params.replace(image_path=None), conformed.changes)
        return self.conform(params)

    def _recipe(self, p: GenerationParams, rules, changes: list[Change]):
        """The multi-scale recipe this run follows (core.params.multiscale_recipe), or None:
        one pass. A model with a recipe but no latent upsampler known to Studio (a local folder)
        runs one pass, and the change says why; so does an LTX-2 dev model without its
        distilled LoRA (studio.inference.ltx2_modes.one_pass_reason)."""
        from studio.core.params import multiscale_recipe

        recipe = multiscale_recipe(p, rules) if self.family in ("ltx", "ltx2") else None
        if recipe is not None and self.family == "ltx2":
            from studio.inference.ltx2_modes import one_pass_reason

            reason = one_pass_reason(self, p, recipe)
            if reason is not None:
                changes.append(Change("multiscale", True, False, reason))
                return None
            return recipe
        if recipe is not None and self.upsampler is None:
            changes.append(Change("multiscale", True, False, "no latent upsampler is known for "
                                  f"{self.model_id}: one pass at full size"))
            return None
        return recipe

    def _mode_inputs(self, pipe, p: GenerationParams, image: np.ndarray | None, step: int,
                     changes: list[Change]) -> _ModeInputs:
        """The pipeline's inputs for ``p.mode`` (a picture, conditions, a source latent), with
        what each is, for the record. LTXConditionPipeline takes i2v's picture as a condition
        at frame 0 (strength 1.0), as diffusers' docs do."""
        if self.family == "ltx2":
            from studio.inference.ltx2_modes import mode_inputs

            return mode_inputs(self, pipe, p, image, step)
        inputs = _ModeInputs(params=p)
        conditioned = type(pipe).__name__ == "LTXConditionPipeline"
        if p.mode == "i2v":
            picture, inputs.image_info = self._input_picture(p, image)
            picture = _fit(picture, p.width, p.height)
            if conditioned:
                inputs.add_condition(self._condition(image=picture, frame_index=0, strength=1.0),
                                     {"image": inputs.image_info})
            else:
                inputs.kwargs["image"] = _to_pil(picture)
                inputs.described["image"] = inputs.image_info
        elif p.mode == "v2v":
            frames, inputs.source = self._source_frames(p, p.num_frames, step, first=True)
            if len(frames) < p.num_frames:
                changes.append(Change("num_frames", p.num_frames, len(frames),
                                      f"the source range has {inputs.source['available']} "
                                      "frames"))
                p = inputs.params = dataclasses.replace(p, num_frames=len(frames))
            latents = self._encode_video(pipe, frames, p)
            inputs.kwargs.update(latents=latents, denoise_strength=float(p.denoise_strength))
            inputs.described["latents"] = {"encoded_from": inputs.source,
                                           "shape": list(latents.shape)}
        elif p.mode == "extend":
            cap = max(1, min(2 * step + 1, p.num_frames // 2 + 1))
            frames, inputs.source = self._source_frames(p, cap, step, first=False)
            inputs.overlap = len(frames)
            inputs.add_condition(self._condition(video=frames, frame_index=0, strength=1.0),
                                 {"video": inputs.source})
        if p.mode in ("condition", "v2v", "extend") and p.conditions:
            for cond in p.conditions:
                made, what = self._condition_from(cond, p, step)
                inputs.add_condition(made, what)
        return inputs

    def _timesteps(self, pipe, p: GenerationParams) -> list[float] | None:
        """The registry's own schedule for this model (a distilled LTX-Video's, from diffusers'
        docs) when the run takes as many steps as it has. LTXConditionPipeline only: it always
        passes timesteps (its own schedule otherwise); the other pipelines would shift them."""
        from studio.inference import registry

        spec = registry.get(self.model_id)
        schedule = spec.defaults.get("timesteps") if spec is not None else None
        if not schedule or len(schedule) != p.steps or \
                type(pipe).__name__ != "LTXConditionPipeline":
            return None
        return [float(t) for t in schedule]

    def call_kwargs(self, pipe, p: GenerationParams, *, width: int, height: int) -> dict:
        """The keyword arguments every denoising call of ``p`` passes (less the mode's inputs
        and the generator): the prompt, size, frames, steps, guidance, LTX's frame rate,
        decode noise and ``max_sequence_length`` 256 (LTXPipeline's own default, 128, would
        cut a long caption used as a prompt), and the model's own extra settings (distilled
        LTX-Video: image_cond_noise_scale 0, guidance_rescale 0.7, as diffusers' docs)."""
        from studio.inference import registry

        kwargs: dict[str, Any] = dict(
            prompt=p.prompt, negative_prompt=p.negative_prompt, height=height, width=width,
            num_frames=p.num_frames, num_inference_steps=p.steps,
            guidance_scale=p.guidance_scale)
        spec = registry.get(self.model_id)
        if self.family == "ltx":
            kwargs.update(frame_rate=p.fps, decode_timestep=p.decode_timestep,
                          decode_noise_scale=p.decode_noise_scale,
                          max_sequence_length=LTX_MAX_SEQUENCE_LENGTH)
            if spec is not None and type(pipe).__name__ == "LTXConditionPipeline":
                kwargs.update(spec.defaults.get("call_kwargs", {}))
        elif self.family == "ltx2":
            # LTX-2: its own guidance settings (registry), the sigmas of a distilled model
            # only when the run takes as many steps
            kwargs.update(frame_rate=p.fps, decode_timestep=p.decode_timestep)
            extra = dict(spec.defaults.get("call_kwargs", {})) if spec is not None else {}
            if len(extra.get("sigmas", ())) != p.steps:
                extra.pop("sigmas", None)
            kwargs.update(extra)
        return kwargs

    def torch_generator(self, seed: int):
        """A fresh ``torch.Generator`` seeded with ``seed``, on the device the pipeline draws
        noise on (the CPU for MPS); each pipeline call of a run gets its own, as in diffusers'
        multi-scale example, so any call can be replayed alone."""
        import torch

        return torch.Generator(device=self.generator_device).manual_seed(int(seed))

    @property
    def generator_device(self) -> str:
        return "cpu" if self.device == "mps" else self.device

    def upsample_pipeline(self):
        """The latent upsampling pipeline over this model's VAE, with the upsampler loaded
        from its single file the first time (raises ``ModelError`` when it is not here);
        LTX-2's from the model folder's latent_upsampler/ (studio.inference.ltx2_modes)."""
        if self._upsample_pipe is None:
            if self.family == "ltx2":
                from studio.inference.ltx2_modes import load_upsampler

                pipe, model, path = load_upsampler(self)
            else:
                pipe, model, path = self._load_ltx_upsampler()
            pipe.set_progress_bar_config(disable=True)
            if self.device != "cpu":
                model.to(self.device)
            self._upsample_pipe, self.upsampler_path = pipe, path
        return self._upsample_pipe

    def _load_ltx_upsampler(self):
        """LTX-Video's (pipeline, upsampler, its single file): the registry's file, found in
        the cache (``ModelError`` when it is not here)."""
        import diffusers

        from studio.inference.loading import resolve_upsampler
        from studio.inference.single_file import load_latent_upsampler

        path = resolve_upsampler(self.model_id, self.upsampler)
        model = load_latent_upsampler(path, self._dtype())
        with _quiet():
            pipe = diffusers.LTXLatentUpsamplePipeline(vae=self._base.vae,
                                                       latent_upsampler=model)
        return pipe, model, path

    def _dtype(self):
        import torch

        return getattr(torch, self.dtype_name)

    # ---- memory ----

    def _apply_memory_settings(self, pipe, p: GenerationParams, rules) -> MemoryPlan:
        """The memory plan of this run, applied to ``pipe``: fp8 storage of the transformer
        and text encoder, VAE tiling (the VAE is shared by every pipeline of the model) and
        offload (accelerate's hooks move to whichever pipeline runs; group offload's stay on
        the modules). A plan that refuses the run raises ``GenerationError`` before anything
        moves. Returns the plan, for the record."""
        plan = self._memory_plan(p, rules)
        log.info("memory: %s", plan.reason)
        if plan.refusal:
            raise GenerationError(f"{self.model_id}: {plan.refusal}")
        self._store_weights(pipe, plan)
        vae = getattr(pipe, "vae", None)
        if plan.vae_tiling != self._tiling and vae is not None and hasattr(vae, "enable_tiling"):
            (vae.enable_tiling if plan.vae_tiling else vae.disable_tiling)()
            self._tiling = plan.vae_tiling
        self._place(pipe, "device" if plan.offload == "none" else plan.offload)
        return plan

    def _memory_plan(self, p: GenerationParams, rules) -> MemoryPlan:
        """``memory_plan`` for ``p`` with the weights as this generator stores them (fp8 once
        cast stays fp8; a run that asks for bf16 gets the model loaded again, see
        :meth:`holds`). Where the device reports its memory (CUDA), settings left automatic
        are chosen against the free memory plus what this process holds already (its weights
        and cached blocks); given ones are kept. Elsewhere nothing is automatic, and of the
        offloads only group offload applies (model and sequential offload move weights to a
        GPU and back)."""
        from studio.inference.devices import device_memory

        dtype = _PLAN_DTYPES.get(self.dtype_name, "fp32")
        if self.transformer_file is not None:
            p = p.replace(transformer_file=str(self.transformer_file), transformer_dtype=None)
        if self.storage["transformer"] == "fp8":
            p = p.replace(transformer_dtype="fp8")
        if self.storage["text_encoder"] == "fp8":
            p = p.replace(text_encoder_dtype="fp8")
        memory = device_memory(self.device)
        if memory is not None:
            return memory_plan(p, rules, memory.usable_gb, dtype=dtype,
                               offload_available=_has_accelerate())
        offload = "group" if p.offload == "group" else "none"
        return memory_plan(p.replace(offload=offload), rules, None, dtype=dtype)

    def holds(self, params: GenerationParams) -> bool:
        """Whether this generator's weights are the ones ``params`` asks for: the same GGUF
        transformer file (or none), and no part stored in fp8 that ``params`` asks for in
        bf16 (cast weights cannot be cast back: the engine loads the model again)."""
        wanted = Path(params.transformer_file).resolve() if params.transformer_file else None
        if wanted != self.transformer_file:
            return False
        return not any(getattr(params, f"{part}_dtype") == "bf16" and how == "fp8"
                       for part, how in self.storage.items())

    def _store_weights(self, pipe, plan: MemoryPlan) -> None:
        """The transformer and text encoder in fp8 where the plan says so (diffusers' layerwise
        casting: weights stored in float8_e4m3fn, each layer cast to its compute dtype as it
        runs; norms and embeddings of the patches stay as they are). Offload hooks come off
        first (they hold the weights they move) and go back on after."""
        import torch

        wanted = {"transformer": plan.transformer_dtype, "text_encoder": plan.text_encoder_dtype}
        parts = [name for name, how in wanted.items() if how == "fp8"
                 and self.storage[name] != "fp8" and isinstance(getattr(pipe, name, None),
                                                                torch.nn.Module)]
        if not parts:
            return
        if self.device == "mps":
            raise GenerationError(f"{self.model_id}: fp8 weights need a CUDA GPU or the CPU "
                                  "(Apple's MPS has no float8); choose bf16 weights")
        if self._placement in ("model", "sequential", "group"):
            self._remove_offload()
        for name in parts:
            _cast_to_fp8(getattr(pipe, name))
            self.storage[name] = "fp8"

    def _place(self, pipe, placement: str) -> None:
        """The weights where ``placement`` puts them: "device", or offloaded by "model",
        "group" or "sequential" offload (switching takes the previous hooks off first)."""
        same_hooks = placement in ("device", "group") or pipe is self._offload_pipe
        if placement == self._placement and same_hooks:
            return
        self._remove_offload()
        if placement == "device":
            pipe.to(self.device)  # out of memory here is the engine's message, as in a run
        elif placement == "group":
            _enable_group_offload(pipe, self.device)
        else:
            try:
                if placement == "model":
                    pipe.enable_model_cpu_offload(device=self.device)
                else:
                    pipe.enable_sequential_cpu_offload(device=self.device)
            except (ImportError, RuntimeError, ValueError) as err:
                raise GenerationError(f"offload {placement}: not available here ({err}); "
                                      "install accelerate, or choose offload none") from None
            self._offload_pipe = pipe
        self._placement = placement

    def _remove_offload(self) -> None:
        """Take offload hooks off: the weights stay where the hooks left them (the CPU)."""
        if self._offload_pipe is not None:
            self._offload_pipe.remove_all_hooks()  # weights back where they were loaded
            self._offload_pipe = None
            self._placement = "cpu"
        elif self._placement == "group":
            _remove_group_offload(self._base)
            self._placement = "cpu"

    # ---- inputs ----

    def _input_picture(self, p: GenerationParams, image: np.ndarray | None
                       ) -> tuple[np.ndarray, dict]:
        if image is not None:
            array = np.asarray(image)
            if array.ndim != 3 or array.shape[2] != 3 or array.dtype != np.uint8:
                raise ParamsError("image", f"expected an RGB uint8 array (H, W, 3), got "
                                           f"{array.dtype} {array.shape}")
            return array, {"path": p.image_path, "frame": p.image_frame, "array": True,
                           "width": int(array.shape[1]), "height": int(array.shape[0])}
        from studio.core.frames import FrameReader

        with FrameReader(p.image_path) as reader:
            frame = reader.frame_at(p.image_frame or 0)
        return frame.image, {"path": os.path.abspath(p.image_path), "frame": p.image_frame,
                             "width": int(frame.image.shape[1]),
                             "height": int(frame.image.shape[0])}

    def _source_frames(self, p: GenerationParams, count: int, step: int, *, first: bool
                       ) -> tuple[list[np.ndarray], dict]:
        """``count`` consecutive frames of the source range, cropped and scaled to the output
        size: the first ones (v2v) or the last ones (extend), cut to ``step*k + 1``."""
        return self._clip_frames(p.source_path, p.source_in_frame, p.source_out_frame, count,
                                 step, p.width, p.height, first=first, clip_id=p.source_clip_id)

    def _clip_frames(self, path: str, in_frame: int | None, out_frame: int | None, count: int,
                     step: int, width: int, height: int, *, first: bool,
                     clip_id: int | None = None) -> tuple[list[np.ndarray], dict]:
        from studio.core.frames import FrameReader

        with FrameReader(path) as reader:
            total = reader.frame_count
            lo = 0 if in_frame is None else in_frame
            hi = total - 1 if out_frame is None else min(out_frame, total - 1)
            if lo > hi:
                raise GenerationError(f"{path}: in frame {lo} is past the end of the clip "
                                      f"({total} frames)")
            available = hi - lo + 1
            n = min(count, available)
            n = (n - 1) // step * step + 1  # the model's frame rule
            indices = list(range(lo, lo + n)) if first else list(range(hi - n + 1, hi + 1))
            frames = [_fit(f.image, width, height) for f in reader.iter_frames(indices)]
            fps = reader.fps
        info = {"path": os.path.abspath(path), "clip_id": clip_id, "in_frame": in_frame,
                "out_frame": out_frame, "first_frame": indices[0], "last_frame": indices[-1],
                "frames": len(frames), "available": available, "fps": fps}
        return frames, info

    def _condition(self, *, image=None, video=None, frame_index: int, strength: float):
        from diffusers.pipelines.ltx.pipeline_ltx_condition import LTXVideoCondition

        return LTXVideoCondition(image=None if image is None else _to_pil(image),
                                 video=None if video is None else [_to_pil(f) for f in video],
                                 frame_index=int(frame_index), strength=float(strength))

    def _condition_from(self, cond, p: GenerationParams, step: int) -> tuple[Any, dict]:
        """A condition of "condition" mode as the pipeline takes it, and what it is (the
        picture or the clip's frames used) for the record."""
        frames, what = self.condition_frames(cond, p, step)
        if "image" in what:
            return self._condition(image=frames[0], frame_index=cond.frame_index,
                                   strength=cond.strength), what
        return self._condition(video=frames, frame_index=cond.frame_index,
                               strength=cond.strength), what

    def condition_frames(self, cond, p: GenerationParams,
                         step: int) -> tuple[list[np.ndarray], dict]:
        """A condition's picture (a still, or one frame of a clip: a list of one) or its
        clip's frames, fitted to the output size, and what it is for the record
        (``{"image": ...}`` or ``{"video": ...}``)."""
        from studio.core.frames import FrameReader

        with FrameReader(cond.path) as reader:
            still = reader.frame_count == 1 or (cond.in_frame is not None
                                                and cond.in_frame == cond.out_frame)
            if still:
                picture = reader.frame_at(cond.in_frame or 0).image
        if still:
            what = {"image": {"path": os.path.abspath(cond.path), "frame": cond.in_frame,
                              "width": int(picture.shape[1]), "height": int(picture.shape[0])}}
            return [_fit(picture, p.width, p.height)], what
        room = max(1, p.num_frames - cond.frame_index)
        frames, info = self._clip_frames(cond.path, cond.in_frame, cond.out_frame, room, step,
                                         p.width, p.height, first=True)
        return frames, {"video": info}

    def _encode_video(self, pipe, frames: list[np.ndarray], p: GenerationParams):
        """The source frames as the normalised latent LTXConditionPipeline denoises from (the
        mode of the VAE's latent distribution: no random draw, so the seed drives the same noise
        as in a run without a source)."""
        import torch
        from diffusers.pipelines.ltx.pipeline_ltx_condition import retrieve_latents

        vae = pipe.vae
        device = pipe._execution_device
        video = pipe.video_processor.preprocess_video([_to_pil(f) for f in frames],
                                                      p.height, p.width)
        with torch.inference_mode():
            latents = retrieve_latents(vae.encode(video.to(device, dtype=vae.dtype)),
                                       sample_mode="argmax")
            latents = pipe._normalize_latents(latents, vae.latents_mean, vae.latents_std,
                                              vae.config.scaling_factor)
        return latents.to(torch.float32)

    # ---- previews ----

    def _latent_preview(self, pipe) -> LatentPreview:
        if self._preview is None:
            self._preview = LatentPreview.fit(pipe)
        return self._preview


# ---- one run's calls ----------------------------------------------------------------------------

class _Run:
    """The pipeline calls of one generation: each call's keyword arguments are recorded as
    they were passed (``calls``), denoising steps are counted over every pass for progress,
    and previews and cancel go through the step callback."""

    def __init__(self, generator: Generator, pipe, p: GenerationParams,
                 cancel: CancelToken | None, on_progress: ProgressCallback | None,
                 on_preview: PreviewCallback | None, preview_every: int | None,
                 on_pass: PassCallback | None) -> None:
        self.generator, self.pipe, self.p = generator, pipe, p
        self.cancel, self.on_progress, self.on_pass = cancel, on_progress, on_pass
        self.on_preview, self.preview_every = on_preview, preview_every
        self.calls: list[dict] = []
        self.passes: list[dict] = []
        self.prepared = time.perf_counter()
        self.last_step_at: float | None = None
        self.preview_s = 0.0
        self.previews = 0
        self.upsample_s = 0.0
        self.audio = None  # the sound track of the last decoding call (LTX-2)
        self.enhanced_prompt: str | None = None  # LTX-2's prompt enhancement's output

    def single_pass(self, inputs: _ModeInputs, timesteps: list[float] | None) -> np.ndarray:
        p = self.p
        kwargs = {**inputs.kwargs, **self.generator.call_kwargs(self.pipe, p, width=p.width,
                                                                 height=p.height)}
        if timesteps is not None:
            kwargs["timesteps"] = timesteps
        video = self.denoise(kwargs, inputs.described, output_type="np",
                             pass_index=1, passes=1, first_step=0, total=None)
        return _to_uint8(video)

    def multiscale(self, inputs: _ModeInputs, recipe, multiple: int) -> np.ndarray:
        """Lightricks' multi-scale recipe (core.params.MultiScale): a first pass at the smaller
        size to a latent, the latent upsampler, a refine pass at twice the first size from the
        upsampled latent, then the frames resized to the size asked for."""
        import cv2

        p, gen = self.p, self.generator
        (w1, h1), (w2, h2) = (recipe.first_size(p.width, p.height, multiple),
                              recipe.refine_size(p.width, p.height, multiple))
        first = {**inputs.kwargs, **gen.call_kwargs(self.pipe, p, width=w1, height=h1)}
        if p.steps == len(recipe.first_timesteps):
            first["timesteps"] = [float(t) for t in recipe.first_timesteps]
        refine_steps = recipe.refine_steps()
        total = p.steps + refine_steps
        later = refine_steps * (w2 * h2) / (w1 * h1)  # a refine step costs about its area
        latents = self.denoise(first, inputs.described, output_type="latent", pass_index=1,
                               passes=2, first_step=0, total=total, later_steps=later)
        if self.cancel is not None:
            self.cancel.raise_if_cancelled()
        began = time.perf_counter()
        upsampler = gen.upsample_pipeline()
        up = {"latents": latents, "adain_factor": recipe.adain_factor,
              "tone_map_compression_ratio": recipe.tone_map_compression_ratio,
              "output_type": "latent"}
        upsampled = self.call(upsampler, up, {"latents": self._latent_of(0, latents)}).frames
        self.upsample_s = time.perf_counter() - began
        refine = {**inputs.kwargs, **gen.call_kwargs(self.pipe, p, width=w2, height=h2),
                  "latents": upsampled, "denoise_strength": recipe.refine_strength,
                  "num_inference_steps": len(recipe.refine_timesteps),
                  "timesteps": [float(t) for t in recipe.refine_timesteps]}
        video = self.denoise(refine, {**inputs.described,
                                      "latents": self._latent_of(1, upsampled)},
                             output_type="np", pass_index=2, passes=2, first_step=p.steps,
                             total=total)
        frames = _to_uint8(video)
        if (w2, h2) == (p.width, p.height):
            return frames
        # the docs' last step: the refined frames resized to the size asked for
        return np.stack([cv2.resize(f, (p.width, p.height), interpolation=cv2.INTER_AREA)
                         for f in frames])

    def denoise(self, kwargs: dict, described: dict, *, output_type: str, pass_index: int,
                passes: int, first_step: int, total: int | None, later_steps: float = 0.0,
                whole: bool = False):
        """One denoising call of ``self.pipe``, its steps counted from ``first_step`` of
        ``total`` (None: the call's own count). ``whole``: the pipeline's output as it is
        (LTX-2's latents: video and audio), not its frames."""
        p = self.p
        pass_p = p.replace(width=kwargs["width"], height=kwargs["height"])
        steps = len(kwargs["timesteps"]) if "timesteps" in kwargs else (
            len(kwargs["sigmas"]) if "sigmas" in kwargs else
            kwargs.get("num_inference_steps", p.steps))
        if "denoise_strength" in kwargs:
            steps = min(steps, int(steps * kwargs["denoise_strength"]))
        self.passes.append({"pass": pass_index, "of": passes, "width": kwargs["width"],
                            "height": kwargs["height"], "steps": steps})
        if self.on_pass is not None:
            self.on_pass(pass_index, passes, first_step, steps)
        preview = None
        fit_began = time.perf_counter()
        if self.on_preview is not None and self.generator.family == "ltx":
            preview = self.generator._latent_preview(self.pipe)  # fitted once per model
        callback = _StepCallback(self.pipe, self.cancel, self.on_progress, self.on_preview,
                                 preview, self.preview_every, pass_p, offset=first_step,
                                 total=total, later_steps=later_steps)
        callback.preview_s = time.perf_counter() - fit_began  # previews' cost includes the fit
        kwargs = {**kwargs, "output_type": output_type, "callback_on_step_end": callback}
        result = self.call(self.pipe, kwargs, described)
        if getattr(result, "audio", None) is not None and output_type != "latent":
            self.audio = result.audio[0]  # LTX-2: (channels, samples), the vocoder's
        self.last_step_at = callback.last_step_at or self.last_step_at
        self.preview_s += callback.preview_s
        self.previews += callback.previews
        if whole:
            return result
        if output_type == "latent":
            return result.frames
        return result.frames[0] if not isinstance(result, tuple) else result[0][0]

    def record(self, pipe, kwargs: dict, described: dict, *, method: str | None = None) -> dict:
        """Add a call of ``pipe`` (of its ``method``, not the pipeline itself, when given) to
        ``calls``, its arguments as ``describe_call`` writes them; the record, to add to."""
        call = {"pipeline": type(pipe).__name__}
        if method is not None:
            call["method"] = method
        call["kwargs"] = describe_call(kwargs, described, device=self.generator.generator_device,
                                       seed=int(self.p.seed))
        self.calls.append(call)
        return call

    def call(self, pipe, kwargs: dict, described: dict):
        """``pipe(**kwargs)`` with a fresh generator seeded with the run's seed, recorded."""
        import torch

        kwargs = {**kwargs, "generator": self.generator.torch_generator(self.p.seed)}
        self.record(pipe, kwargs, described)
        # quiet: LTXConditionPipeline's own timesteps make the scheduler warn on every call
        with torch.inference_mode(), _quiet():
            return pipe(**kwargs)

    @staticmethod
    def _latent_of(call: int, latents) -> dict:
        return {"output_of_call": call, "shape": list(latents.shape)}


def describe_call(kwargs: dict, described: dict, *, device: str, seed: int) -> dict:
    """A pipeline call's keyword arguments as JSON: every value JSON can hold as it is
    (tuples as lists), the generator as its device and seed, the step callback left out, and
    pictures, videos, conditions and latents as ``described`` says what they are."""
    out: dict[str, Any] = {}
    for name, value in kwargs.items():
        if name == "callback_on_step_end":
            continue
        if name in described:
            out[name] = described[name]
        elif name == "generator":
            out[name] = {"device": device, "manual_seed": seed}
        elif _json_value(value):
            out[name] = list(value) if isinstance(value, tuple) else value
        else:
            out[name] = {"type": type(value).__name__}
    return out


def _json_value(value) -> bool:
    if value is None or isinstance(value, (str, bool, int)):
        return True
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, (list, tuple)):
        return all(_json_value(v) for v in value)
    return False


# ---- step callback ------------------------------------------------------------------------------

class _StepCallback:
    """diffusers' ``callback_on_step_end``: cancel, progress with ETA, previews."""

    def __init__(self, pipe, cancel: CancelToken | None, on_progress: ProgressCallback | None,
                 on_preview: PreviewCallback | None, preview: LatentPreview | None,
                 every: int | None, p: GenerationParams, *, offset: int = 0,
                 total: int | None = None, later_steps: float = 0.0) -> None:
        # offset: steps of the run before this call's; total: the run's steps (None: this
        # call's); later_steps: steps of later passes, in this call's step time (for the ETA)
        self.offset, self.total, self.later_steps = offset, total, later_steps
        self.cancel = cancel
        self.on_progress = on_progress
        self.on_preview = on_preview if preview is not None else None
        self.preview = preview
        self.every = every
        self.p = p
        self.call_started = time.perf_counter()
        self.first_step_at: float | None = None
        self.last_step_at: float | None = None
        self.preview_s = 0.0
        self.previews = 0
        self._prev = None  # latents after the previous step (for the clean-latent estimate)
        self._prev_step = -2

    def __call__(self, pipe, i: int, t, kwargs: dict) -> dict:
        now = time.perf_counter()
        if self.cancel is not None:
            self.cancel.raise_if_cancelled()  # before anything else: no decode follows
        total = int(getattr(pipe, "_num_timesteps", 0) or self.p.steps)  # this call's
        done = i + 1
        if self.first_step_at is None:
            self.first_step_at = now
        self.last_step_at = now
        if done > 1:
            per_step = (now - self.first_step_at) / (done - 1)
        else:
            per_step = now - self.call_started  # includes the text encoder: an over-estimate
        eta = per_step * (total - done + self.later_steps)
        if self.on_progress is not None:
            self.on_progress(self.offset + done, self.total or total, float(eta))
        if self.on_preview is not None:
            every = self.every or max(1, math.ceil(total / 4))
            latents = kwargs.get("latents")
            if latents is not None and done < total:
                if done % every == 0:
                    began = time.perf_counter()
                    frames = self.preview.frames(pipe, latents, self.p, previous=(
                        self._prev if self._prev_step == i - 1 else None))
                    self.preview_s += time.perf_counter() - began
                    self.previews += 1
                    self.on_preview(done, frames)
                if (done + 1) % every == 0 and done + 1 < total:
                    began = time.perf_counter()
                    self._prev = latents.detach().clone()
                    self._prev_step = i
                    self.preview_s += time.perf_counter() - began
        self.last_step_at = time.perf_counter()
        return {}


# ---- latent preview -----------------------------------------------------------------------------

@dataclass
class LatentPreview:
    """A linear map from an LTX latent (normalised, as the denoiser sees it) to RGB: RGB =
    [latent, 1] @ ``matrix`` with ``matrix`` (channels + 1) x 3, so 129 x 3 for LTX-Video's 128
    channels.

    The map is fitted once per loaded model, from the model's own VAE: a few synthetic
    pictures (flat colours, colour ramps and smooth random fields) are encoded, and a ridge
    least-squares fit maps each latent pixel to the mean colour of the image area it covers.
    That costs one small VAE encode (well under a second on a GPU; the tiny demo model's in
    milliseconds) and works for any LTX VAE, the random-weight demo included (where the
    "colours" are as meaningless as its video). A preview shows the estimate of the clean
    latent, ``x - sigma * v`` with ``v`` from the last two steps (flow matching), falling back
    to the current latent when the previous one was not kept.
    """

    matrix: np.ndarray  # (C + 1, 3) float32
    fit_s: float = 0.0
    channels: int = 0

    @classmethod
    def fit(cls, pipe, *, size_latents: int = 4, ridge: float = 1e-2) -> LatentPreview:
        import torch
        from diffusers.pipelines.ltx.pipeline_ltx_condition import retrieve_latents

        began = time.perf_counter()
        vae = pipe.vae
        ratio = int(pipe.vae_spatial_compression_ratio)
        side = ratio * size_latents
        pictures = _calibration_pictures(side)  # (N, side, side, 3) float in [0, 1]
        x = torch.from_numpy(pictures).permute(0, 3, 1, 2).unsqueeze(2)  # N, 3, 1, S, S
        x = (x * 2 - 1).to(pipe._execution_device, dtype=vae.dtype)
        with torch.inference_mode():
            latents = retrieve_latents(vae.encode(x), sample_mode="argmax")
            latents = pipe._normalize_latents(latents, vae.latents_mean, vae.latents_std,
                                              vae.config.scaling_factor)
        lat = latents[:, :, 0].float().cpu().numpy()  # N, C, s, s
        n, c, s, _ = lat.shape
        features = lat.transpose(0, 2, 3, 1).reshape(-1, c)
        targets = pictures.reshape(n, s, side // s, s, side // s, 3).mean(axis=(2, 4))
        targets = targets.reshape(-1, 3)
        design = np.concatenate([features, np.ones((features.shape[0], 1))], axis=1)
        gram = design.T @ design + ridge * np.eye(c + 1)
        matrix = np.linalg.solve(gram, design.T @ targets).astype(np.float32)
        return cls(matrix=matrix, fit_s=time.perf_counter() - began, channels=c)

    def frames(self, pipe, latents, p: GenerationParams, previous=None) -> np.ndarray:
        """(T', H, W, 3) uint8 frames of ``latents`` (packed, as the step callback gets them),
        scaled up to the preview size."""
        import cv2
        import torch

        t_lat = (p.num_frames - 1) // pipe.vae_temporal_compression_ratio + 1
        h_lat = p.height // pipe.vae_spatial_compression_ratio
        w_lat = p.width // pipe.vae_spatial_compression_ratio
        ps, pt = pipe.transformer_spatial_patch_size, pipe.transformer_temporal_patch_size
        tokens = (t_lat // pt) * (h_lat // ps) * (w_lat // ps)
        with torch.inference_mode():
            x = latents[:, -tokens:].float()  # conditioning tokens come first; ours are last
            if previous is not None:
                sched = pipe.scheduler
                k = getattr(sched, "step_index", None)
                sigmas = getattr(sched, "sigmas", None)
                if k is not None and sigmas is not None and 1 <= k < len(sigmas):
                    s_now, s_before = float(sigmas[k]), float(sigmas[k - 1])
                    if s_before != s_now:
                        v = (x - previous[:, -tokens:].float()) / (s_now - s_before)
                        x = x - s_now * v
            x = pipe._unpack_latents(x, t_lat, h_lat, w_lat, ps, pt)[0]  # C, T, H, W
            x = x.permute(1, 2, 3, 0).reshape(-1, x.shape[0]).cpu().numpy()
        rgb = x @ self.matrix[:-1] + self.matrix[-1]
        rgb = (np.clip(rgb, 0.0, 1.0) * 255 + 0.5).astype(np.uint8).reshape(t_lat, h_lat, w_lat, 3)
        scale = min(PREVIEW_LONG_SIDE, max(p.width, p.height)) / max(w_lat, h_lat)
        if scale <= 1:
            return rgb
        size = (max(1, round(w_lat * scale)), max(1, round(h_lat * scale)))
        return np.stack([cv2.resize(f, size, interpolation=cv2.INTER_LINEAR) for f in rgb])


def _calibration_pictures(side: int) -> np.ndarray:
    """Flat colours (the RGB cube's corners and greys), ramps and smooth random fields."""
    rng = np.random.default_rng(1234)
    pics = []
    for r in (0.0, 1.0):
        for g in (0.0, 1.0):
            for b in (0.0, 1.0):
                pics.append(np.broadcast_to(np.array([r, g, b]), (side, side, 3)))
    for v in (0.25, 0.5, 0.75):
        pics.append(np.full((side, side, 3), v))
    ramp = np.linspace(0.0, 1.0, side)
    for c in range(3):
        pic = np.full((side, side, 3), 0.3)
        pic[..., c] = ramp[None, :]
        pics.append(pic)
        pic = np.full((side, side, 3), 0.6)
        pic[..., c] = ramp[:, None]
        pics.append(pic)
    for _ in range(12):
        coarse = rng.random((4, 4, 3))
        import cv2

        pics.append(cv2.resize(coarse, (side, side), interpolation=cv2.INTER_CUBIC).clip(0, 1))
    return np.stack([np.ascontiguousarray(p) for p in pics]).astype(np.float32)


# ---- pictures -----------------------------------------------------------------------------------

def fit_audio(audio, pipe, frames: int, fps: float) -> dict:
    """The GenerationOutput fields of a run's sound track: the vocoder's waveform (a tensor,
    (channels, samples)) as float32 at its ``output_sampling_rate``, cut or padded with
    silence to exactly ``frames / fps`` seconds (LTX-2's causal audio VAE decodes a little
    short of the video: 7928 samples for 9000 in the demo), and what was done. Empty without
    a sound track."""
    if audio is None:
        return {}
    rate = int(pipe.vocoder.config.output_sampling_rate)
    made = audio.detach().float().cpu().numpy()
    made = made[None] if made.ndim == 1 else made
    want = round(frames / fps * rate)
    fitted = np.zeros((made.shape[0], want), np.float32)
    fitted[:, :min(want, made.shape[1])] = made[:, :want]
    info = {"sample_rate": rate, "channels": int(made.shape[0]),
            "samples_generated": int(made.shape[1]), "samples": want,
            "seconds": round(want / rate, 6),
            "vocoder": type(pipe.vocoder).__name__}
    return {"audio": fitted, "sample_rate": rate, "audio_info": info}


# ---- results ------------------------------------------------------------------------------------

def generation_record(output: GenerationOutput, generator: Generator | None = None, *,
                      model: dict | None = None, load_s: float | None = None) -> dict:
    """The JSON a generation's sidecar and comment tag hold: prompt, negative prompt, seed,
    every setting (``GenerationParams.to_dict``), what was conformed, the model (id and hub
    revision or folder hash), library versions, the source clip and range, the caption,
    timings, the memory settings applied (offload, VAE tiling, whether chosen automatically,
    the free memory and the estimate), and the demo label when a demo model made it."""
    p = output.params
    model = model if model is not None else (generator.model_record() if generator else {})
    timings = dict(output.timings)
    if load_s is not None:
        timings["load_s"] = round(load_s, 4)
    frames, height, width = (int(output.frames.shape[0]), int(output.frames.shape[1]),
                             int(output.frames.shape[2]))
    return {
        "kind": SIDECAR_KIND, "version": SIDECAR_VERSION,
        "prompt": p.prompt, "negative_prompt": p.negative_prompt, "seed": output.seed,
        "mode": p.mode, "params": p.to_dict(),
        "conformed": {c.field: [c.before, c.after] for c in output.changes},
        "model": model,
        "demo": DEMO_LABEL if model.get("demo") else None,
        "pipeline": output.pipeline,
        "versions": library_versions(),
        "source": output.source, "image": output.image,
        "overlap_frames": output.overlap_frames,
        "caption": p.caption, "template_id": p.template_id,
        "frames": frames, "width": width, "height": height, "fps": output.fps,
        "timings": timings,
        "memory": output.memory,
        "calls": output.calls, "passes": output.passes,
        "audio": output.audio_info,
        "enhanced_prompt": output.enhanced_prompt,
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def save_generation(output: GenerationOutput, target: str | os.PathLike, record: dict, *,
                    preset: str = "mp4", name: str | None = None, overwrite: bool = False,
                    cancel: CancelToken | None = None):
    """Write ``output``'s frames atomically to ``target`` (a folder, a ``.mp4`` file name, or
    for ``preset="png"`` a folder of lossless ``frame_{index:06d}.png``), with ``record`` in a
    ``.json`` sidecar and in the comment tag. H.264 yuv420p, faststart (core.export's mp4
    preset). Returns ``studio.core.export.ExportResult``; raises ``ExportError``."""
    from studio.core.export import PRESETS, ExportOptions, name_from_prompt, write_frames

    if name is None and Path(target).suffix.lower() != PRESETS[preset].suffix and \
            preset != "png":
        name = name_from_prompt(output.params.prompt)
    from studio.core.export import AudioSamples

    sound = None if output.audio is None else AudioSamples(output.audio, output.sample_rate)
    options = ExportOptions(preset=preset, name=name, metadata=record, sidecar=True,
                            audio=sound is not None, overwrite=overwrite)
    return write_frames(iter(output.frames), target, output.fps, options,
                        frame_count=int(output.frames.shape[0]), cancel=cancel, audio=sound)


def read_record(path: str | os.PathLike) -> dict:
    """The generation record of a Studio video or its sidecar (its comment tag, else the
    sidecar: ``studio.core.generation_record``). Raises ValueError naming the file."""
    from studio.core.generation_record import read_generation_record

    return read_generation_record(path)


__all__ = ["GenerationError", "GenerationOutput", "Generator", "LatentPreview",
           "folder_hash", "generation_record", "library_versions", "read_record",
           "save_generation"]
