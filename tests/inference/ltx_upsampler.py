"""A tiny spatial latent upsampler written as Lightricks publishes theirs: one safetensors file
in the original layout (``ltxv-spatial-upscaler-0.9.8.safetensors``: the LatentUpsampler's own
weight names, its config in the file's metadata), for the tiny LTX-Video's 8 latent channels."""

from __future__ import annotations

import json
from pathlib import Path

UPSAMPLER_CONFIG = {"_class_name": "LatentUpsampler", "in_channels": 8, "mid_channels": 32,
                    "num_blocks_per_stage": 1, "dims": 3, "spatial_upsample": True,
                    "temporal_upsample": False}


def tiny_upsampler(seed: int = 5):
    """The tiny upsampler as diffusers' ``LTXLatentUpsamplerModel`` (random weights)."""
    import torch
    from diffusers.pipelines.ltx.modeling_latent_upsampler import LTXLatentUpsamplerModel

    config = {k: v for k, v in UPSAMPLER_CONFIG.items() if not k.startswith("_")}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return LTXLatentUpsamplerModel(**config).eval()


def write_upsampler_file(path: Path, model=None) -> Path:
    """``model``'s weights (default: :func:`tiny_upsampler`) as an original-layout file."""
    from safetensors.torch import save_file

    model = model if model is not None else tiny_upsampler()
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(path), metadata={"config": json.dumps(UPSAMPLER_CONFIG)})
    return path
