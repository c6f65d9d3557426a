"""Tiny GGUF transformer files, written as the community's LTX-2 GGUF quantisations are: the
original (Lightricks) tensor names under ``model.diffusion_model.``, 2-D weights whose rows
hold whole 32-value blocks quantised (Q8_0 or Q4_0), everything else (biases, norms, tables,
weights too narrow for a block) in F32. Written with the ``gguf`` package's own writer and
quantiser; read back by diffusers through Studio's single-file loader."""

from __future__ import annotations

import os
from pathlib import Path

# diffusers' LTX-2 transformer names -> Lightricks' originals: the inverse of diffusers'
# convert_ltx2_transformer_to_diffusers (single_file_utils.py), longest names first
_TO_ORIGINAL = (
    ("audio_proj_in", "audio_patchify_proj"), ("proj_in", "patchify_proj"),
    ("av_cross_attn_video_scale_shift", "av_ca_video_scale_shift_adaln_single"),
    ("av_cross_attn_video_a2v_gate", "av_ca_a2v_gate_adaln_single"),
    ("av_cross_attn_audio_scale_shift", "av_ca_audio_scale_shift_adaln_single"),
    ("av_cross_attn_audio_v2a_gate", "av_ca_v2a_gate_adaln_single"),
    ("video_a2v_cross_attn_scale_shift_table", "scale_shift_table_a2v_ca_video"),
    ("audio_a2v_cross_attn_scale_shift_table", "scale_shift_table_a2v_ca_audio"),
    ("norm_q", "q_norm"), ("norm_k", "k_norm"),
)


def original_name(name: str) -> str:
    """A diffusers LTX2VideoTransformer3DModel tensor name as Lightricks' checkpoints name it."""
    for diffusers_name, original in _TO_ORIGINAL:
        name = name.replace(diffusers_name, original)
    for prefix, original in (("time_embed.", "adaln_single."),
                             ("audio_time_embed.", "audio_adaln_single.")):
        if name.startswith(prefix):
            name = original + name[len(prefix):]
    return "model.diffusion_model." + name


def write_gguf_transformer(state_dict: dict, path: str | os.PathLike,
                           quant: str = "Q8_0") -> tuple[Path, int]:
    """Write ``state_dict`` (diffusers names, torch tensors) as a GGUF file at ``path``, the
    weights that hold whole blocks quantised as ``quant``. Returns the path and how many
    tensors were quantised."""
    import gguf

    kind = gguf.GGMLQuantizationType[quant]
    block = gguf.GGML_QUANT_SIZES[kind][0]
    writer = gguf.GGUFWriter(os.fspath(path), "ltxv")
    quantised = 0
    for name, tensor in state_dict.items():
        array = tensor.detach().float().numpy()
        if array.ndim == 2 and array.shape[-1] % block == 0:
            writer.add_tensor(original_name(name), gguf.quants.quantize(array, kind),
                              raw_dtype=kind)
            quantised += 1
        else:
            writer.add_tensor(original_name(name), array)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return Path(path), quantised
