"""Pipeline components whose weights come from one checkpoint in the original (non-diffusers)
layout, such as Lightricks' LTX-Video single files: loaded with diffusers' ``from_single_file``,
each with the config.json of the same component in a diffusers-layout folder (the base).
A GGUF file (a quantised transformer, as the community publishes LTX-2's for 16-24 GB cards)
loads the same way, its weights kept quantised (diffusers' ``GGUFQuantizationConfig``: each
layer dequantised to the compute dtype as it runs; needs the ``gguf`` package).

``from_single_file`` loads what fits and leaves the rest of a model as initialised (random
weights) when accelerate is missing, with only a log warning. So before any weight is read, the
file's tensor names and shapes (its header) go through diffusers' own key conversion and are
compared with the model the config builds (on the meta device: no memory): a checkpoint that
does not fit the config is refused with a message naming the file and the first misfit.

torch and diffusers are imported inside the functions.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from studio.inference.loading import ModelFolderError, check_safetensors


def load_components(weights: str | os.PathLike, base: str | os.PathLike,
                    names: Iterable[str], dtype=None) -> dict[str, Any]:
    """The pipeline components ``names`` (e.g. "transformer", "vae") of the diffusers folder
    ``base``, built from ``base``'s configs with their weights from the checkpoint ``weights``.
    Returns name -> model, to pass to the pipeline's ``from_pretrained``. ``dtype``: a torch
    dtype (None: the checkpoint's). Raises ``ModelFolderError`` naming the file or folder."""
    from diffusers.loaders.single_file_utils import load_single_file_checkpoint

    weights, base = Path(weights), Path(base)
    plans = {name: _plan(weights, base, name) for name in names}
    # read once, shared: each component's conversion takes its own keys out of the dict
    checkpoint = load_single_file_checkpoint(os.fspath(weights), local_files_only=True)
    loaded = {}
    for name, cls in plans.items():
        loaded[name] = cls.from_single_file(checkpoint, config=os.fspath(base), subfolder=name,
                                            local_files_only=True, torch_dtype=dtype)
    return loaded


def load_gguf_transformer(weights: str | os.PathLike, base: str | os.PathLike, dtype):
    """The transformer of the diffusers folder ``base`` (its config) with its weights from the
    GGUF file ``weights``, quantised as stored there and computed in ``dtype`` (a torch
    dtype). The file's tensors (names and shapes, read from its header) are checked against
    the config first, as a safetensors checkpoint's are. Raises ``ModelFolderError`` naming
    the file."""
    from diffusers import GGUFQuantizationConfig

    weights, base = Path(weights), Path(base)
    cls = _plan(weights, base, "transformer", gguf_shapes(weights))
    try:
        return cls.from_single_file(os.fspath(weights), config=os.fspath(base),
                                    subfolder="transformer", local_files_only=True,
                                    quantization_config=GGUFQuantizationConfig(
                                        compute_dtype=dtype), torch_dtype=dtype)
    except (OSError, ValueError) as err:
        raise ModelFolderError(f"{weights}: cannot be loaded as a GGUF {cls.__name__} "
                               f"({_first_line(err)}).") from None


def gguf_shapes(weights: Path) -> dict[str, list[int]]:
    """Tensor name -> shape (the order torch uses: GGUF lists dimensions innermost first) of
    a GGUF file, from its header alone. A file that is not GGUF, or is cut short, is refused
    with a message naming it; so is a quantisation diffusers cannot dequantise."""
    try:
        import gguf
    except ImportError:
        raise ModelFolderError(f"{weights}: reading a GGUF file needs the gguf package "
                               "(pip install gguf).") from None
    from diffusers.quantizers.gguf.utils import SUPPORTED_GGUF_QUANT_TYPES

    try:
        reader = gguf.GGUFReader(os.fspath(weights))
    except (OSError, ValueError, IndexError, KeyError) as err:
        raise ModelFolderError(f"{weights}: not a readable GGUF file ({_first_line(err)}).") \
            from None
    plain = (gguf.GGMLQuantizationType.F32, gguf.GGMLQuantizationType.F16)
    shapes = {}
    for tensor in reader.tensors:
        kind = tensor.tensor_type
        if kind not in plain and kind not in SUPPORTED_GGUF_QUANT_TYPES:
            raise ModelFolderError(f"{weights}: tensor {tensor.name} is quantised as "
                                   f"{kind.name}, which diffusers cannot dequantise.")
        shapes[tensor.name] = [int(n) for n in reversed(tensor.shape.tolist())]
    return shapes


def component_class(base: Path, name: str):
    """The diffusers class of pipeline component ``name``, as ``base``'s model_index.json names
    it, if diffusers can load it from a single file."""
    import diffusers
    from diffusers.loaders.single_file_model import SINGLE_FILE_LOADABLE_CLASSES

    index_path = base / "model_index.json"
    try:
        entry = json.loads(index_path.read_text(encoding="utf-8")).get(name)
    except (OSError, ValueError) as err:
        raise ModelFolderError(f"{index_path}: cannot read it ({err}).") from None
    if not (isinstance(entry, list) and len(entry) == 2 and entry[0] == "diffusers"):
        raise ModelFolderError(f"{index_path}: the pipeline has no diffusers {name} component.")
    class_name = str(entry[1])
    if class_name not in SINGLE_FILE_LOADABLE_CLASSES or not hasattr(diffusers, class_name):
        raise ModelFolderError(f"{index_path}: its {name} ({class_name}) cannot be loaded from a "
                               "single-file checkpoint by this diffusers.")
    return getattr(diffusers, class_name)


def _plan(weights: Path, base: Path, name: str, header: dict[str, list[int]] | None = None):
    """The class that loads component ``name``, once the checkpoint's header (tensor name ->
    shape; by default the safetensors file's) is known to fit ``base``'s config for it."""
    cls = component_class(base, name)
    expected = _expected_shapes(cls, base, name)
    if header is None:
        header = {key: entry.get("shape") if isinstance(entry, dict) else None
                  for key, entry in check_safetensors(weights).items()}
    found = _converted_shapes(cls, weights, base, name, header)
    if not found:
        raise ModelFolderError(f"{weights}: holds no {name} weights (a {cls.__name__}).")
    ignored = getattr(cls, "_keys_to_ignore_on_load_unexpected", None) or []
    missing = sorted(set(expected) - set(found))
    unexpected = sorted(k for k in set(found) - set(expected)
                        if not any(re.search(pattern, k) for pattern in ignored))
    misshapen = sorted(k for k in set(found) & set(expected) if found[k] != expected[k])
    where = f"{base / name / 'config.json'}"
    if misshapen:
        k = misshapen[0]
        raise ModelFolderError(
            f"{weights}: its {name} does not fit {where}: {len(misshapen)} weights of another "
            f"shape, e.g. {k} is {list(found[k])}, the config makes {list(expected[k])}.")
    if missing:
        raise ModelFolderError(
            f"{weights}: its {name} does not fit {where}: {len(missing)} weights missing, "
            f"e.g. {missing[0]}.")
    if unexpected:
        raise ModelFolderError(
            f"{weights}: its {name} does not fit {where}: {len(unexpected)} weights the config "
            f"has no place for, e.g. {unexpected[0]}.")
    return cls


def _expected_shapes(cls, base: Path, name: str) -> dict[str, tuple[int, ...]]:
    """Parameter and buffer shapes of the model ``base/name/config.json`` builds."""
    import torch

    try:
        config = cls.load_config(os.fspath(base), subfolder=name, local_files_only=True)
    except Exception as err:  # noqa: BLE001 - a missing or bad config, for a person
        raise ModelFolderError(f"{base / name / 'config.json'}: cannot read it "
                               f"({_first_line(err)}).") from None
    with torch.device("meta"):
        model = cls.from_config(config)
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def _converted_shapes(cls, weights: Path, base: Path, name: str,
                      header: dict[str, Any]) -> dict[str, tuple[int, ...]]:
    """The checkpoint's tensors for component ``name`` after diffusers' key conversion, as
    shapes, from the file's header only (the conversion runs on meta tensors)."""
    import torch
    from diffusers.loaders.single_file_model import SINGLE_FILE_LOADABLE_CLASSES

    meta = {}
    for key, shape in header.items():
        if not isinstance(shape, list) or not all(isinstance(n, int) and n >= 0 for n in shape):
            raise ModelFolderError(f"{weights}: damaged, tensor {key!r} has no valid shape.")
        meta[key] = torch.empty(shape, device="meta")
    convert = SINGLE_FILE_LOADABLE_CLASSES[cls.__name__]["checkpoint_mapping_fn"]
    config = dict(cls.load_config(os.fspath(base), subfolder=name, local_files_only=True))
    try:
        converted = convert(checkpoint=meta, config=config)
    except Exception as err:  # noqa: BLE001 - diffusers' converter on a file it does not expect
        raise ModelFolderError(f"{weights}: holds no {name} weights diffusers can convert to a "
                               f"{cls.__name__} ({type(err).__name__}: {_first_line(err)}).") \
            from None
    return {k: tuple(v.shape) for k, v in converted.items()}


def _first_line(err: Exception) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


# ---- the latent upsampler -----------------------------------------------------------------------

def load_latent_upsampler(weights: str | os.PathLike, dtype=None):
    """Lightricks' spatial latent upsampler from its original single file (e.g.
    ``ltxv-spatial-upscaler-0.9.8.safetensors``) as diffusers' ``LTXLatentUpsamplerModel``: the
    two share their weight names (diffusers' conversion script loads the file with
    ``strict=True`` and no renames). The config is read from the tensors' shapes, so any
    upsampler of this architecture loads; one whose names or shapes do not fit is refused with
    a message naming the file. ``dtype``: a torch dtype (None: the file's)."""
    import torch
    from diffusers.pipelines.ltx.modeling_latent_upsampler import LTXLatentUpsamplerModel
    from safetensors.torch import load_file

    weights = Path(weights)
    config = latent_upsampler_config(weights)
    with torch.device("meta"):
        expected = {k: tuple(v.shape)
                    for k, v in LTXLatentUpsamplerModel(**config).state_dict().items()}
    found = {k: tuple(v["shape"]) for k, v in check_safetensors(weights).items()}
    misfit = sorted(set(expected) ^ set(found)) or sorted(
        k for k in expected if expected[k] != found[k])
    if misfit:
        raise ModelFolderError(f"{weights}: not a latent upsampler diffusers can load "
                               f"({len(misfit)} weights do not fit, e.g. {misfit[0]}).")
    model = LTXLatentUpsamplerModel(**config)
    model.load_state_dict(load_file(os.fspath(weights)), strict=True)
    model.eval()
    return model.to(dtype) if dtype is not None else model


def latent_upsampler_config(weights: Path) -> dict[str, Any]:
    """``LTXLatentUpsamplerModel``'s config for the upsampler file ``weights``, from its header:
    channels from the first convolution, the blocks per stage from the residual blocks, 2-D or
    3-D from the convolution's rank, and the kind of upsampling from the upsampling
    convolution's output (4x the channels: spatial, 2x: temporal, 8x: both)."""
    header = check_safetensors(weights)

    def shape(name: str) -> list[int]:
        entry = header.get(name)
        if not isinstance(entry, dict) or not isinstance(entry.get("shape"), list):
            raise ModelFolderError(f"{weights}: not a latent upsampler (no {name}).")
        return entry["shape"]

    first = shape("initial_conv.weight")
    up = shape("upsampler.0.weight")
    mid, channels = first[0], first[1]
    factor = up[0] // mid if mid else 0
    if factor not in (2, 4, 8):
        raise ModelFolderError(f"{weights}: not a latent upsampler (upsampler.0 makes "
                               f"{up[0]} channels from {mid}).")
    blocks = {int(m[1]) for k in header if (m := re.match(r"res_blocks\.(\d+)\.", k))}
    return {"in_channels": channels, "mid_channels": mid, "num_blocks_per_stage": len(blocks),
            "dims": len(first) - 2, "spatial_upsample": factor in (4, 8),
            "temporal_upsample": factor in (2, 8)}
