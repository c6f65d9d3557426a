"""The frames a captioning model saw, as the caption panel keeps and shows them: small
pixmaps with their index and time. Shared by studio.ui.caption_panel and its widgets in
studio.ui.caption_widgets."""

from __future__ import annotations

from typing import NamedTuple

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QPixmap

FRAME_THUMB = QSize(88, 50)


def format_time(seconds: float) -> str:
    """"1:02.5": minutes and seconds to a tenth."""
    m, s = divmod(max(seconds, 0.0), 60)
    return f"{int(m)}:{s:04.1f}"


def frames_span(times: list[float]) -> str:
    """How many frames, and when: "1 frame, 0:00.1" or "8 frames, 0:00.1–0:05.0"."""
    if len(times) == 1:
        return f"1 frame, {format_time(times[0])}"
    return f"{len(times)} frames, {format_time(times[0])}–{format_time(times[-1])}"


class FrameThumb(NamedTuple):  # NamedTuples are made faster than dataclasses at import
    index: int
    time_s: float
    pixmap: QPixmap


def frame_thumbs(frames) -> list[FrameThumb]:
    """Small pixmaps of ``core.frames.Frame`` objects (the model's frames can be 512 px; only
    thumbnails are kept)."""
    from studio.ui.frame_decoder import fit_within, rgb_to_qimage

    thumbs = []
    for frame in frames:
        image = fit_within(frame.image, FRAME_THUMB.width() * 2, FRAME_THUMB.height() * 2)
        pixmap = QPixmap.fromImage(rgb_to_qimage(image)).scaled(
            FRAME_THUMB, Qt.AspectRatioMode.KeepAspectRatio,
            Qt.TransformationMode.SmoothTransformation)
        thumbs.append(FrameThumb(int(frame.index), float(frame.time_s), pixmap))
    return thumbs
