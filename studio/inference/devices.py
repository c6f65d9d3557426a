"""Where models run: CUDA in bf16 when present, Apple MPS where present, else CPU in fp32.

torch is imported inside the functions: importing this module costs nothing.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DeviceChoice:
    device: str  # "cuda", "mps" or "cpu"
    dtype_name: str  # "bfloat16", "float16" or "float32"

    @property
    def dtype(self):
        import torch

        return getattr(torch, self.dtype_name)

    def describe(self) -> str:
        return f"{self.device} ({self.dtype_name})"


def pick_device(prefer: str | None = None) -> DeviceChoice:
    """``prefer``: "cuda", "mps" or "cpu" to force one (falls back to CPU if absent)."""
    import torch

    if prefer in (None, "cuda") and torch.cuda.is_available():
        return DeviceChoice("cuda", "bfloat16")
    mps = getattr(torch.backends, "mps", None)
    if prefer in (None, "mps") and mps is not None and mps.is_available():
        return DeviceChoice("mps", "float16")
    return DeviceChoice("cpu", "float32")


def free_memory(device: str) -> None:
    """Give memory of unloaded models back to the device (call after dropping references)."""
    import gc

    gc.collect()
    if device == "cuda":
        import torch

        torch.cuda.empty_cache()
