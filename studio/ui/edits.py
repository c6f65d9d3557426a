"""Undoable edits (QUndoCommand): every change a person makes to the project goes through here.

A command's first redo() runs when it is pushed; redo/undo only call the panels' own apply
methods, so undoing does exactly what the edit did, backwards.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtGui import QUndoCommand

if TYPE_CHECKING:
    from studio.ui.bin_panel import BinPanel
    from studio.ui.caption_panel import CaptionPanel
    from studio.ui.main_window import MainWindow


def _marks(in_frame, out_frame) -> str:
    if in_frame is None and out_frame is None:
        return "none"
    return f"{'start' if in_frame is None else in_frame}–{'end' if out_frame is None else out_frame}"


class SetInOutCommand(QUndoCommand):
    def __init__(self, window: "MainWindow", clip_id: int, name: str, before, after):
        super().__init__(f"In/out of {name}: {_marks(*after)}")
        self._window = window
        self._clip_id = clip_id
        self._before = tuple(before)
        self._after = tuple(after)

    def redo(self) -> None:
        self._window.apply_in_out(self._clip_id, *self._after)

    def undo(self) -> None:
        self._window.apply_in_out(self._clip_id, *self._before)


class RemoveClipsCommand(QUndoCommand):
    def __init__(self, bin_panel: "BinPanel", clip_ids: list[int], names: list[str]):
        text = f"Remove {Path(names[0]).name}" if len(names) == 1 else f"Remove {len(names)} clips"
        super().__init__(text)
        self._bin = bin_panel
        self._clip_ids = list(clip_ids)

    def redo(self) -> None:
        self._bin.apply_remove(self._clip_ids)

    def undo(self) -> None:
        self._bin.apply_restore(self._clip_ids)


class SetCaptionCommand(QUndoCommand):
    """A caption version a person adds: typed text (source "edit") or an earlier version
    restored from the history (with that version's origin). Undo removes the version again."""

    def __init__(self, panel: CaptionPanel, clip_id: int, name: str, text: str, *,
                 source: str = "edit", model: str | None = None, prompt: str | None = None,
                 params: dict | None = None, label: str | None = None):
        super().__init__(label or f"Edit caption of {name}")
        self._panel = panel
        self._clip_id = clip_id
        self._text = text
        self._origin = {"source": source, "model": model, "prompt": prompt, "params": params}
        self._caption_id: int | None = None  # the version redo added; None if it added none

    def redo(self) -> None:
        caption = self._panel.apply_caption(self._clip_id, self._text, **self._origin)
        self._caption_id = None if caption is None else caption.id

    def undo(self) -> None:
        if self._caption_id is not None:
            self._panel.remove_caption(self._clip_id, self._caption_id)
