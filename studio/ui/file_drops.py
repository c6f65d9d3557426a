"""Files and folders dropped from a file manager: the local paths a drag carries, and a mixin
for the widgets that take them (the bin, the prompt panel, the main window around them)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from PySide6.QtCore import QMimeData

if TYPE_CHECKING:  # the event types are not built at start-up for annotations alone
    from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent


def dropped_paths(mime: QMimeData | None) -> list[str]:
    """The local files and folders among ``mime``'s URLs."""
    if mime is None or not mime.hasUrls():
        return []
    return [_local_path(url) for url in mime.urls() if url.isLocalFile()]


def _local_path(url) -> str:
    """The path of a file:// URL as the OS names it. Qt decodes a URL's path as UTF-8, so a
    name that is not (file managers send its bytes percent-encoded) came out with U+FFFD in
    place of the bytes, a file that does not exist; such a path is decoded from the bytes."""
    path = url.toLocalFile()
    if "\ufffd" not in path or os.path.lexists(path):
        return path
    from urllib.parse import unquote_to_bytes

    from PySide6.QtCore import QUrl

    raw = unquote_to_bytes(url.path(QUrl.ComponentFormattingOption.FullyEncoded))
    decoded = os.fsdecode(raw)
    return decoded if os.path.lexists(decoded) else path


class FileDropTarget:
    """Mixin (before the Qt class) for a widget that takes dropped files: it accepts a drag
    that carries paths it takes (``paths_it_takes``: every local path, unless narrowed) and
    hands them to ``take_dropped`` on the drop. The widget calls ``setAcceptDrops(True)``."""

    def paths_it_takes(self, mime: QMimeData) -> list[str]:
        return dropped_paths(mime)

    def take_dropped(self, paths: list[str]) -> None:
        raise NotImplementedError

    def dragEnterEvent(self, event: QDragEnterEvent | QDragMoveEvent) -> None:
        if self.paths_it_takes(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        self.dragEnterEvent(event)

    def dropEvent(self, event: QDropEvent) -> None:
        paths = self.paths_it_takes(event.mimeData())
        if not paths:
            event.ignore()
            return
        event.acceptProposedAction()
        self.take_dropped(paths)
