"""Captioning many clips N at a time on one device (issue 18, item 1).

``caption_many`` prepares each clip (frames sampled with PyAV, the prompt built, the image
processor run), then runs the model on N prepared clips at once (``Captioner.generate_batch``:
left padding, attention masks), and hands each clip's result or failure to its caller in the
clips' order. With N = 1 a clip's text streams as it is generated (``on_text``), as
``Captioner.caption`` does.

N is given, or chosen from the device's free memory (``auto_batch_size``): what one clip's
generation holds (its key/value cache for the longest prompt the settings allow plus the new
tokens, the activations of its prefill and of the vision encoder over its frames), twice over
for safety, into 80% of the free memory. A batch that still runs out of memory is split in
two and tried again, down to one clip; later batches keep the smaller size.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from studio.core.cancel import Cancelled, CancelToken

if TYPE_CHECKING:
    from studio.inference.captioner import Captioner, CaptionResult, CaptionSettings, PreparedInput

# The most clips one forward pass takes: beyond this the prefill of a GPU is saturated and a
# failure (one bad batch) costs more.
MAX_BATCH = 32
# On a CPU memory is rarely the limit and every core is busy with one clip already: more
# than a few clips at once only delays the first result.
MAX_CPU_BATCH = 8
_SAFETY = 2.0  # an estimate of one clip's memory is doubled
_USABLE = 0.8  # of the free memory
_PROMPT_TOKENS = 200  # the chat template, the intro sentence and "Frame from MM:SS:" lines
_STILL_IMAGES = 17  # a still split into 4 x 4 tiles plus the whole image


@dataclass
class ClipInput:
    """One clip to caption, within its in/out frames (inclusive; None: the whole clip)."""

    path: str
    in_frame: int | None = None
    out_frame: int | None = None


@dataclass
class BatchCallbacks:
    """What ``caption_many`` reports, by the clip's position in its input list. ``failed``
    receives the exception (a MediaError, a ValueError naming the file, an error of the
    model); cancelling and KeyboardInterrupt are raised instead."""

    started: Callable[[int], None] | None = None
    frames: Callable[[int, list], None] | None = None
    text: Callable[[int, str], None] | None = None  # only with a batch size of 1
    finished: Callable[[int, CaptionResult], None] | None = None
    failed: Callable[[int, BaseException], None] | None = None


def parse_batch_size(text: str) -> int | None:
    """``auto`` -> None (chosen from free memory), else a whole number from 1 to MAX_BATCH
    (ValueError otherwise)."""
    text = str(text).strip().lower()
    if text == "auto":
        return None
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"must be auto or a whole number from 1 to {MAX_BATCH}, "
                         f"not {text!r}") from None
    if not 1 <= value <= MAX_BATCH:
        raise ValueError(f"must be auto or a whole number from 1 to {MAX_BATCH}, not {value}")
    return value


def free_bytes(device: str) -> int | None:
    """Free memory where a model on ``device`` runs: CUDA's free plus this process's
    reserved cache; the host's available memory for the CPU; None when unknown."""
    from studio.inference.devices import device_memory

    if str(device).startswith("cuda"):
        memory = device_memory(device)
        return None if memory is None else int(memory.usable_gb * 1024 ** 3)
    if str(device).startswith("mps"):
        import torch

        try:
            return int(torch.mps.recommended_max_memory() - torch.mps.driver_allocated_memory())
        except (AttributeError, RuntimeError):
            return None
    return _host_available_bytes()


def _host_available_bytes() -> int | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    import os

    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def clip_bytes(captioner: Captioner, settings: CaptionSettings) -> int:
    """An upper estimate of the memory one clip's generation takes, from the model's sizes and
    the settings' most frames and new tokens."""
    import torch

    config = captioner.model.config
    text, vision = config.text_config, config.vision_config
    size = torch.finfo(getattr(torch, captioner.dtype_name)).bits // 8
    images = max(settings.max_frames or captioner.sampling.max_frames, _STILL_IMAGES)
    tokens = images * (captioner.image_seq_len + 8) + _PROMPT_TOKENS + settings.max_new_tokens
    heads = text.num_attention_heads
    head_dim = getattr(text, "head_dim", None) or text.hidden_size // heads
    kv_heads = getattr(text, "num_key_value_heads", None) or heads
    kv_cache = 2 * text.num_hidden_layers * kv_heads * head_dim * tokens * size
    prefill = tokens * (4 * text.hidden_size + 2 * text.intermediate_size) * size
    logits = tokens * text.vocab_size * size  # a model that keeps every position's logits
    patches = (vision.image_size // vision.patch_size) ** 2
    encoder = images * patches * (4 * vision.hidden_size + 2 * vision.intermediate_size
                                  + vision.num_attention_heads * patches) * size
    return int(kv_cache + prefill + logits + encoder)


def auto_batch_size(captioner: Captioner, settings: CaptionSettings, clips: int) -> int:
    """How many clips to run at once: as many as fit the free memory (see the module's
    docstring), at most ``clips``, MAX_BATCH (MAX_CPU_BATCH on a CPU), at least 1."""
    limit = min(clips, MAX_CPU_BATCH if str(captioner.device) == "cpu" else MAX_BATCH)
    free = free_bytes(str(captioner.device)) if limit > 1 else None
    if free is None:
        return 1
    per_clip = clip_bytes(captioner, settings) * _SAFETY
    return max(1, min(limit, math.floor(free * _USABLE / per_clip)))


def caption_many(captioner: Captioner, clips: list[ClipInput], settings: CaptionSettings, *,
                 batch_size: int | None = 1, cancel: CancelToken | None = None,
                 callbacks: BatchCallbacks | None = None) -> int:
    """Caption ``clips`` ``batch_size`` at a time (None: ``auto_batch_size``), reporting
    through ``callbacks``; returns the batch size used at the start. Clips are prepared one
    by one (one decoded frame in memory at a time); a clip that cannot be prepared fails
    alone, the others of its batch go on."""
    cancel = cancel or CancelToken()
    calls = callbacks or BatchCallbacks()
    size = batch_size or auto_batch_size(captioner, settings, len(clips))
    first_size = size
    position = 0
    while position < len(clips):
        cancel.raise_if_cancelled()
        chunk = list(range(position, min(position + size, len(clips))))
        position = chunk[-1] + 1
        if size == 1:
            _caption_one(captioner, clips[chunk[0]], chunk[0], settings, cancel, calls)
            continue
        prepared = _prepare_chunk(captioner, clips, chunk, settings, cancel, calls)
        size = _generate_chunk(captioner, prepared, cancel, calls, size)
    return first_size


def _caption_one(captioner, clip: ClipInput, index: int, settings, cancel, calls) -> None:
    _call(calls.started, index)
    try:
        result = captioner.caption(
            clip.path, settings, in_frame=clip.in_frame, out_frame=clip.out_frame,
            on_text=(lambda chunk: calls.text(index, chunk)) if calls.text else None,
            on_frames=(lambda frames: calls.frames(index, frames)) if calls.frames else None,
            cancel=cancel)
    except (Cancelled, KeyboardInterrupt):
        raise
    except Exception as err:  # noqa: BLE001 - one bad clip fails alone
        _call(calls.failed, index, err)
    else:
        _call(calls.finished, index, result)


@dataclass
class _Prepared:
    index: int
    input: PreparedInput
    started: float
    seconds: float  # preparing it


def _prepare_chunk(captioner, clips, chunk, settings, cancel, calls) -> list[_Prepared]:
    prepared = []
    for index in chunk:
        cancel.raise_if_cancelled()
        _call(calls.started, index)
        clip, began = clips[index], time.perf_counter()
        try:
            ready = captioner.prepare(clip.path, settings, in_frame=clip.in_frame,
                                      out_frame=clip.out_frame, cancel=cancel)
        except (Cancelled, KeyboardInterrupt):
            raise
        except Exception as err:  # noqa: BLE001 - the clip fails, the batch goes on
            _call(calls.failed, index, err)
            continue
        _call(calls.frames, index, list(ready.frames))
        prepared.append(_Prepared(index, ready, began, time.perf_counter() - began))
    return prepared


def _generate_chunk(captioner, prepared: list[_Prepared], cancel, calls, size: int) -> int:
    """Generate for ``prepared`` in one pass; on running out of memory, in halves. Returns
    the batch size that worked (what later chunks use)."""
    if not prepared:
        return size
    began = time.perf_counter()
    try:
        texts = captioner.generate_batch([p.input for p in prepared], cancel=cancel)
    except (Cancelled, KeyboardInterrupt):
        raise
    except Exception as err:  # noqa: BLE001 - out of memory is retried smaller; else each clip fails
        if len(prepared) > 1 and _out_of_memory(err):
            _free(captioner)
            half = (len(prepared) + 1) // 2
            size = _generate_chunk(captioner, prepared[:half], cancel, calls, half)
            return min(size, _generate_chunk(captioner, prepared[half:], cancel, calls, size))
        for p in prepared:
            _call(calls.failed, p.index, err)
        return size
    share = (time.perf_counter() - began) / len(prepared)
    for p, text in zip(prepared, texts, strict=True):
        _call(calls.finished, p.index, _result(captioner, p, text, share))
    return size


def _result(captioner, prepared: _Prepared, text: str, generate_share: float):
    """A clip's result; its seconds: preparing it plus its share of the batch's generation."""
    from studio.inference.captioner import CaptionResult

    ready = prepared.input
    return CaptionResult(
        text=text, model_id=captioner.model_id, prompt=ready.prompt,
        settings=ready.settings.to_dict(), frame_indices=ready.frame_indices,
        frame_times=ready.frame_times, seconds=prepared.seconds + generate_share,
        demo=captioner.demo, frames=ready.frames)


def _out_of_memory(err: BaseException) -> bool:
    import sys

    torch = sys.modules.get("torch")
    oom_type = getattr(getattr(torch, "cuda", None), "OutOfMemoryError", None)
    if oom_type is not None and isinstance(err, oom_type):
        return True
    text = str(err).lower()
    return isinstance(err, MemoryError) or (isinstance(err, RuntimeError) and (
        "out of memory" in text or "can't allocate memory" in text))


def _free(captioner) -> None:
    from studio.inference.devices import free_memory

    free_memory(str(captioner.device))


def _call(callback: Callable[..., Any] | None, *args: Any) -> None:
    if callback is not None:
        callback(*args)
