"""Exact frame access on PyAV.

A frame's *index* is its position in presentation order, counting from 0, exactly as
sequential decoding of the first video stream yields it. ``frame_at`` seeks to the
keyframe at or before the frame and decodes forward, so it returns the same pixels as
sequential decoding. Rotation from the display matrix is applied. Images are RGB uint8
arrays of shape (height, width, 3).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass
class Frame:
    index: int
    time_s: float
    image: np.ndarray  # (H, W, 3) uint8 RGB, rotation applied


class FrameReader:
    """An open file; reuses its container across requests. Not thread-safe: one per thread.

    Sequential requests (index == last + 1, or a little ahead) decode forward without seeking.
    """

    def __init__(self, path: str | Path):
        raise NotImplementedError

    @property
    def frame_count(self) -> int: ...

    @property
    def fps(self) -> float: ...

    def time_of(self, index: int) -> float:
        """Presentation time in seconds (from the stream start) of frame ``index``."""

    def index_at(self, time_s: float) -> int:
        """Index of the frame shown at ``time_s`` (the last frame starting at or before it)."""

    def frame_at(self, index: int) -> Frame: ...

    def sample(self, count: int | None = None, fps: float | None = None,
               start_s: float | None = None, end_s: float | None = None) -> list[Frame]: ...

    def thumbnail(self, max_side: int = 160) -> np.ndarray:
        """Fast, approximate: the first keyframe near 10% in, scaled to fit ``max_side``."""

    def close(self) -> None: ...

    def __enter__(self) -> "FrameReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def frame_at(path: str | Path, index: int) -> Frame:
    with FrameReader(path) as reader:
        return reader.frame_at(index)


def sample(path: str | Path, count: int | None = None, fps: float | None = None,
           start_s: float | None = None, end_s: float | None = None) -> list[Frame]:
    with FrameReader(path) as reader:
        return reader.sample(count=count, fps=fps, start_s=start_s, end_s=end_s)


def thumbnail(path: str | Path, max_side: int = 160) -> np.ndarray:
    with FrameReader(path) as reader:
        return reader.thumbnail(max_side)
