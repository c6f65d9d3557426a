"""Thread-pool work for the bin: scanning dropped paths, probing files, making thumbnails.

Everything here runs as superqt workers on the shared worker pool (``studio.ui.workers``): the
import as a generator (``import_files``) whose reports reach a bound slot as they come,
thumbnails as a plain function (``load_thumbnail``) whose answer comes back to a bound slot
(see DESIGN.md, threading rules). The GUI thread never probes or decodes.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPixmap

from studio.core.cancel import CancelToken
from studio.core.media import MediaError, scan_media
from studio.ui.frame_decoder import rgb_to_qimage

THUMB_W, THUMB_H = 96, 54  # a row's picture in the bin and the generations list


def thumbnail_pixmap(image: QImage) -> QPixmap:
    """GUI thread: ``image`` (a ``load_thumbnail``'s) scaled to fit THUMB_W x THUMB_H, centred
    on a dark canvas of that size, so every row's picture has the same shape."""
    scaled = image.scaled(THUMB_W, THUMB_H, Qt.AspectRatioMode.KeepAspectRatio,
                          Qt.TransformationMode.SmoothTransformation)
    canvas = QPixmap(THUMB_W, THUMB_H)
    canvas.fill(QColor(20, 20, 22))
    painter = QPainter(canvas)
    painter.drawImage((THUMB_W - scaled.width()) // 2, (THUMB_H - scaled.height()) // 2, scaled)
    painter.end()
    return canvas


def scan_paths(paths: list[str]) -> tuple[list[str], int]:
    """Files to import from dropped files and folders, as absolute paths; returns (files,
    skipped): ``core.media.scan_media``'s rules."""
    files, skipped = scan_media(paths)
    return [os.path.abspath(f) for f in files], skipped


class Scanned(NamedTuple):
    """``import_files``' first report: how many files it will import, how many it skipped."""

    files: int
    skipped: int


class Inspected(NamedTuple):
    """A batch of ``import_files``: [FileInspection] probed and stamped, for the GUI thread to
    record (``ProjectModel.add_clips``); [MediaError] for paths with no file to record."""

    found: list
    failed: list


BATCH_SECONDS = 0.05  # about this much probing between two reports


def import_files(paths: list[str], cancel: CancelToken) -> Iterator[Scanned | Inspected]:
    """A superqt generator worker (``Workers.run``): scan, probe and stamp files, reporting
    them in batches. It writes nothing: the GUI thread records each batch through the
    ``ProjectModel`` in one transaction (DESIGN.md: the GUI process's one writer)."""
    from studio.core.library import inspect_file

    files, skipped = scan_paths(paths)
    yield Scanned(len(files), skipped)
    found: list = []
    failed: list = []
    due = time.monotonic() + BATCH_SECONDS
    for path in files:
        if cancel.cancelled:
            break
        try:
            found.append(inspect_file(path))
        except MediaError as err:  # no file to record: gone, or a device
            failed.append(err)
        if time.monotonic() >= due:
            yield Inspected(found, failed)
            found, failed = [], []
            due = time.monotonic() + BATCH_SECONDS
    if found or failed:
        yield Inspected(found, failed)


class Thumbnail(NamedTuple):
    """A ``load_thumbnail``'s answer: the picture, or why there is none."""

    key: int  # the clip's (or generation's) id
    image: QImage | None
    error: str = ""


def load_thumbnail(key: int, path: str, cache_file: Path, max_side: int) -> Thumbnail:
    """A pool thread (``Workers.run``): the thumbnail of ``path``, from the disk cache, or
    decoded (nearest keyframe) and cached."""
    # Pixels stay numpy arrays and JPEG goes through OpenCV: Qt's image plugins, loaded
    # on first use from two pool threads at once, crashed the process now and then.
    rgb = _load_cached(cache_file)
    if rgb is None:
        from studio.core.frames import thumbnail

        try:
            rgb = thumbnail(path, max_side)
        except (MediaError, OSError, IndexError) as err:
            return Thumbnail(key, None, str(err))
        _save(cache_file, rgb)
    return Thumbnail(key, rgb_to_qimage(rgb))


def _load_cached(cache_file: Path):
    import cv2
    import numpy as np

    try:
        data = np.frombuffer(cache_file.read_bytes(), np.uint8)
    except OSError:
        return None
    bgr = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    return None if bgr is None else cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def _save(cache_file: Path, rgb) -> None:
    import cv2

    # Written under a temporary name and renamed: a crash never leaves half a JPEG in the cache.
    tmp = cache_file.with_name(f".{cache_file.name}.{threading.get_ident()}.part")
    try:
        ok, data = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR),
                                [cv2.IMWRITE_JPEG_QUALITY, 85])
        if ok:
            cache_file.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_bytes(data.tobytes())
            os.replace(tmp, cache_file)
    except OSError:
        pass  # a cache that cannot be written only costs a decode next time
    finally:
        tmp.unlink(missing_ok=True)
