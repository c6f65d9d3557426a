"""What the generator and its LTX-2 modes (``studio.inference.ltx2_modes``) share: the error a
run raises, a mode's pipeline inputs, pictures fitted to the output, diffusers' frames as uint8,
and diffusers' and transformers' chatter kept quiet. A module of its own, below both, so that
neither imports the other for them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from studio.core.params import GenerationParams


class GenerationError(Exception):
    """A generation that cannot run as asked (a mode the model lacks, an unreadable source);
    ``str(err)`` is the message for a person."""


class _quiet:
    """diffusers' and transformers' progress bars and chatter ("Loading pipeline components",
    "accelerate was not found", casting notes of from_pipe) off inside; restored after."""

    def __enter__(self):
        from diffusers.utils import logging as dl
        from transformers.utils import logging as tl

        self._state = (dl.get_verbosity(), tl.get_verbosity(), tl.is_progress_bar_enabled(),
                       dl.is_progress_bar_enabled())
        dl.set_verbosity_error()
        tl.set_verbosity_error()
        tl.disable_progress_bar()
        dl.disable_progress_bar()
        return self

    def __exit__(self, *exc):
        from diffusers.utils import logging as dl
        from transformers.utils import logging as tl

        dv, tv, bars, dbars = self._state
        dl.set_verbosity(dv)
        tl.set_verbosity(tv)
        if bars:
            tl.enable_progress_bar()
        if dbars:
            dl.enable_progress_bar()
        return False


@dataclass
class _ModeInputs:
    """A mode's inputs to the pipeline call (``kwargs``: image, conditions, latents, denoise
    strength) and, under the same keys, what each is for the record (``described``)."""

    params: GenerationParams
    kwargs: dict = dataclasses.field(default_factory=dict)
    described: dict = dataclasses.field(default_factory=dict)
    source: dict | None = None
    image_info: dict | None = None
    overlap: int = 0

    def add_condition(self, condition, what: dict) -> None:
        self.kwargs.setdefault("conditions", []).append(condition)
        self.described.setdefault("conditions", []).append(
            {**what, "frame_index": int(condition.frame_index),
             "strength": float(condition.strength)})


def _fit(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """``image`` cut to the output's aspect ratio (the middle kept) and scaled to it."""
    import cv2

    h, w = image.shape[:2]
    if (w, h) == (width, height):
        return image
    target = width / height
    if w / h > target:  # too wide
        cw = max(1, round(h * target))
        x0 = (w - cw) // 2
        image = image[:, x0:x0 + cw]
    elif w / h < target:
        ch = max(1, round(w / target))
        y0 = (h - ch) // 2
        image = image[y0:y0 + ch]
    shrink = image.shape[1] > width
    return cv2.resize(np.ascontiguousarray(image), (width, height),
                      interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC)


def _to_pil(image: np.ndarray):
    import PIL.Image

    return PIL.Image.fromarray(np.ascontiguousarray(image), "RGB")


def _to_uint8(video) -> np.ndarray:
    """diffusers' float frames in [0, 1] as uint8, rounded as its ``numpy_to_pil`` does."""
    array = np.asarray(video)
    if array.dtype == np.uint8:
        return array
    return (np.clip(array, 0.0, 1.0) * 255).round().astype(np.uint8)
