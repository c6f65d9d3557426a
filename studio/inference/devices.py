"""Where models run: CUDA in bf16 when present, Apple MPS where present, else CPU in fp32;
how much memory a CUDA device has free.

torch is imported inside the functions: importing this module costs nothing.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DeviceChoice:
    device: str  # "cuda", "mps" or "cpu"
    dtype_name: str  # "bfloat16", "float16" or "float32"
    note: str | None = None  # why the dtype is not the usual one, for the status line
    # components kept in another dtype than dtype_name (Wan's VAE in float32)
    component_dtypes: tuple[tuple[str, str], ...] = ()

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
        if _bf16_supported(torch):
            return DeviceChoice("cuda", "bfloat16")
        return DeviceChoice("cuda", "float16", note=NO_BF16_NOTE)
    mps = getattr(torch.backends, "mps", None)
    if prefer in (None, "mps") and mps is not None and mps.is_available():
        return DeviceChoice("mps", "float16")
    return DeviceChoice("cpu", "float32")


NO_BF16_NOTE = "this GPU has no bfloat16 support: the model runs in float16 instead"


def _bf16_supported(torch) -> bool:
    """Native bfloat16 on the current CUDA device (pre-Ampere cards only emulate it, slowly)."""
    try:
        return bool(torch.cuda.is_bf16_supported(including_emulation=False))
    except TypeError:  # an older torch without the argument
        return bool(torch.cuda.is_bf16_supported())


def model_dtypes(choice: DeviceChoice, *, cuda_dtype: str | None = None,
                 component_dtypes: dict[str, str] | None = None) -> DeviceChoice:
    """``choice`` with a model's own dtypes, as its docs give them: ``cuda_dtype`` on CUDA
    (CogVideoX-2b: float16, its model card's), ``component_dtypes`` on a GPU (Wan's VAE:
    float32, diffusers' Wan docs; on the CPU everything is float32 already)."""
    dtype, note = choice.dtype_name, choice.note
    if choice.device == "cuda" and cuda_dtype and dtype != cuda_dtype:
        dtype, note = cuda_dtype, None
    components = tuple(sorted({**dict(choice.component_dtypes),
                               **(component_dtypes or {})}.items()))
    if choice.device == "cpu" and dtype == "float32":
        components = ()
    return DeviceChoice(choice.device, dtype, note, components)


def leave_a_core_free(device: str) -> int | None:
    """On the CPU, run torch on all cores but one, for the GUI thread: with every core busy
    torch's workers spin-wait on each other whenever the GUI runs (bench/generate_gui.py on
    2 cores: GUI gaps of 105-146 ms and jobs 2x slower with 2 threads; 14-30 ms with 1).
    The number of threads set, or None when ``device`` is not the CPU."""
    if device != "cpu":
        return None
    import torch

    from studio.settings import cores_but_one

    threads = cores_but_one()
    torch.set_num_threads(threads)
    return threads


def free_memory(device: str) -> None:
    """Give memory of unloaded models back to the device (call after dropping references)."""
    import gc

    gc.collect()
    if device == "cuda":
        import torch

        torch.cuda.empty_cache()


@dataclass(frozen=True)
class DeviceMemory:
    """Memory of a CUDA device, in GiB: ``free`` and ``total`` as the driver reports them
    (every process counted), ``reserved`` held by this process's caching allocator (its
    models' weights and cached blocks, which its next run can reuse)."""

    free_gb: float
    total_gb: float
    reserved_gb: float = 0.0

    @property
    def usable_gb(self) -> float:
        """What a run of this process may count on: the free memory plus its own."""
        return self.free_gb + self.reserved_gb


def device_memory(device: str) -> DeviceMemory | None:
    """Free and total memory of a CUDA device (``torch.cuda.mem_get_info``); None on a CPU or
    MPS, or when CUDA is not available (no figure to plan with)."""
    if not str(device).startswith("cuda"):
        return None
    import torch

    if not torch.cuda.is_available():
        return None
    free, total = torch.cuda.mem_get_info(device)
    gib = 1024 ** 3
    return DeviceMemory(free / gib, total / gib, torch.cuda.memory_reserved(device) / gib)
