"""The player's decoder: a QObject that lives on its own QThread and owns a FrameReader.

The GUI thread never decodes. It calls ``open(path)`` and ``request(index)``, which only
store the newest wish under a lock and, if the worker is not already due to wake, post one
queued wake-up. The worker then decodes just the newest pending index, so scrubbing or a
slow file never builds a backlog: requests made while a frame decodes collapse into one.

Every ``open`` starts a new *generation*; each signal carries the generation it belongs to,
so the player can drop a frame that was decoded for the clip it showed a moment ago.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtGui import QImage

from studio.core.media import MediaError

if TYPE_CHECKING:  # numpy and PyAV load in the decoder thread, on the first clip: not at start-up
    import numpy as np

    from studio.core.frames import FrameReader


def rgb_to_qimage(rgb: np.ndarray) -> QImage:
    """An RGB uint8 (H, W, 3) array as a QImage that owns a copy of the pixels."""
    import numpy as np

    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    height, width = rgb.shape[:2]
    view = QImage(rgb.data, width, height, rgb.strides[0], QImage.Format.Format_RGB888)
    return view.copy()  # detaches from the numpy buffer, which may be freed or reused


def fit_within(rgb: np.ndarray, max_width: int, max_height: int) -> np.ndarray:
    """Downscale (area filter, keeping aspect) to fit the box; never upscales."""
    height, width = rgb.shape[:2]
    if width <= max_width and height <= max_height:
        return rgb
    import cv2  # only needed for frames larger than the screen area they are shown in

    scale = min(max_width / width, max_height / height)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)


def describe_error(path: str, err: BaseException) -> str:
    """A sentence a person can act on; MediaError messages already name the file."""
    if isinstance(err, MediaError):
        return str(err)
    if isinstance(err, FileNotFoundError):
        return f"{path}: file not found"
    if isinstance(err, PermissionError):
        return f"{path}: permission denied"
    detail = str(err).strip() or type(err).__name__
    return f"{path}: cannot be decoded ({detail})"


class FrameDecoder(QObject):
    """Move to a QThread before use. ``open``, ``request`` and ``set_max_size`` are the
    thread-safe entry points; everything else runs in the worker thread."""

    opened = Signal(int, int, float)  # generation, frame count, fps (as the reader sees them)
    frame_ready = Signal(int, int, QImage)  # generation, frame index, image
    failed = Signal(int, str)  # generation, message for a person

    _wake = Signal()

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        # Shared with the GUI thread, guarded by _lock.
        self._generation = 0
        self._path: str | None = None
        self._pending_index: int | None = None
        self._wake_posted = False
        self._max_size: tuple[int, int] | None = None
        # Worker-thread state.
        self._reader: FrameReader | None = None
        self._reader_generation = 0
        self._frame_count = 0
        # Queued: the slot runs in whichever thread this object lives in when the wake-up
        # is delivered, i.e. the decoder thread after moveToThread.
        self._wake.connect(self._work, Qt.ConnectionType.QueuedConnection)

    # ---- thread-safe requests (GUI thread) ---------------------------------------------

    def open(self, path: str | None) -> int:
        """Switch to ``path`` (None closes the file). Returns the new generation."""
        with self._lock:
            self._generation += 1
            self._path = None if path is None else str(path)
            self._pending_index = None
            generation = self._generation
        self._poke()
        return generation

    def request(self, index: int) -> None:
        """Show frame ``index`` of the current file; replaces any request not yet started."""
        with self._lock:
            self._pending_index = int(index)
        self._poke()

    def set_max_size(self, width: int | None, height: int | None = None) -> None:
        """Frames larger than this are downscaled in the worker; None keeps full size."""
        with self._lock:
            self._max_size = None if not width or not height else (int(width), int(height))

    def _poke(self) -> None:
        with self._lock:
            if self._wake_posted:
                return
            self._wake_posted = True
        self._wake.emit()

    # ---- worker thread -----------------------------------------------------------------

    @Slot()
    def _work(self) -> None:
        with self._lock:
            self._wake_posted = False
            generation, path = self._generation, self._path
            index, self._pending_index = self._pending_index, None
            max_size = self._max_size

        if generation != self._reader_generation:
            self.close_reader()
            self._reader_generation = generation
            if path is None:
                return
            try:
                from studio.core.frames import FrameReader

                self._reader = FrameReader(path)
                self._frame_count = int(self._reader.frame_count)
                fps = float(self._reader.fps or 0.0)
            except Exception as err:  # noqa: BLE001 - any failure becomes a message
                self._reader = None
                self.failed.emit(generation, describe_error(path, err))
                return
            self.opened.emit(generation, self._frame_count, fps)
            with self._lock:  # opening took a while: a newer request supersedes ours
                if self._generation == generation and self._pending_index is not None:
                    index, self._pending_index = self._pending_index, None
                    max_size = self._max_size

        if self._reader is None or index is None or path is None:
            return
        if self._frame_count > 0:
            index = max(0, min(index, self._frame_count - 1))
        try:
            frame = self._reader.frame_at(index)
            rgb = frame.image
            if max_size is not None:
                rgb = fit_within(rgb, *max_size)
            image = rgb_to_qimage(rgb)
        except Exception as err:  # noqa: BLE001 - any failure becomes a message
            self.failed.emit(generation, describe_error(path, err))
            return
        self.frame_ready.emit(generation, int(frame.index), image)

    def close_reader(self) -> None:
        """Worker thread, or any thread once the decoder thread has stopped."""
        reader, self._reader = self._reader, None
        self._frame_count = 0
        if reader is not None:
            try:
                reader.close()
            except Exception:  # noqa: BLE001 - closing a broken file must not raise
                pass
