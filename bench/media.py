"""Source videos the benchmarks make once and keep under bench/out/."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np


def write_h264(path: Path, frames, width: int, height: int, fps: int, options: dict) -> Path:
    """Encode ``frames`` (RGB uint8 arrays) as H.264 yuv420p with libx264 ``options``. Kept
    when it exists; written under a temporary name and renamed, so an interrupted run never
    leaves a short file to be reused."""
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part.mp4")
    with av.open(str(tmp), "w") as out:
        stream = out.add_stream("libx264", rate=fps, options=options)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for i, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, fps)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    tmp.replace(path)
    return path


def make_panning_video(path: Path, width: int, height: int, frames: int, fps: int, *,
                       preset: str, crf: int, gop: int) -> Path:
    """H.264 of a smooth texture (noise blown up from a small grid) moving a few pixels a
    frame: a bitrate like real footage, unlike raw noise, which no encoder can compress.
    A keyframe exactly every ``gop`` frames (see ``write_h264``)."""
    if path.exists():
        return path
    rng = np.random.default_rng(0)
    small = rng.integers(0, 256, ((height + 64) // 16, (width + 64) // 16, 3), dtype=np.uint8)
    texture = cv2.resize(small, (width + 64, height + 64), interpolation=cv2.INTER_CUBIC)

    def pictures():
        for i in range(frames):
            dx, dy = (i * 3) % 64, (i * 2) % 64
            yield texture[dy:dy + height, dx:dx + width]

    return write_h264(path, pictures(), width, height, fps, {
        "preset": preset, "crf": str(crf),
        "x264-params": f"keyint={gop}:min-keyint={gop}:scenecut=0"})
