"""Undoable edits (QUndoCommand): every change a person makes to the project goes through here.

A command's first redo() runs when it is pushed; redo/undo call the ``ProjectModel``, never a
widget: the model writes and says what changed, and every panel showing it follows, so undoing
does exactly what the edit did, backwards.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtGui import QUndoCommand

from studio.core.library import ProjectError

if TYPE_CHECKING:
    from studio.ui.project_model import ProjectModel


class _Edit(QUndoCommand):
    """An edit whose first redo may be refused (a project open read-only, marks that do not
    fit): ``error`` then says why, and the command is obsolete, so pushing it adds no undo
    step that did nothing."""

    error: str | None = None

    def _refused(self, err: Exception) -> None:
        self.error = str(err)
        self.setObsolete(True)


def _marks(in_frame, out_frame) -> str:
    if in_frame is None and out_frame is None:
        return "none"
    return f"{'start' if in_frame is None else in_frame}–{'end' if out_frame is None else out_frame}"


class SetInOutCommand(_Edit):
    def __init__(self, model: ProjectModel, clip_id: int, name: str, before, after):
        super().__init__(f"In/out of {name}: {_marks(*after)}")
        self._model = model
        self._clip_id = clip_id
        self._before = tuple(before)
        self._after = tuple(after)

    def redo(self) -> None:
        try:
            self._model.set_in_out(self._clip_id, *self._after)
        except (ValueError, ProjectError) as err:
            self._refused(err)

    def undo(self) -> None:
        self._model.set_in_out(self._clip_id, *self._before)


class RemoveClipsCommand(_Edit):
    def __init__(self, model: ProjectModel, clip_ids: list[int], names: list[str]):
        text = f"Remove {Path(names[0]).name}" if len(names) == 1 else f"Remove {len(names)} clips"
        super().__init__(text)
        self._model = model
        self._clip_ids = list(clip_ids)

    def redo(self) -> None:
        try:
            self._model.remove_clips(self._clip_ids)
        except ProjectError as err:
            self._refused(err)

    def undo(self) -> None:
        self._model.restore_clips(self._clip_ids)


class SetCaptionCommand(_Edit):
    """A caption version a person adds: typed text (source "edit") or an earlier version
    restored from the history (with that version's origin). Undo removes the version again."""

    def __init__(self, project_model: ProjectModel, clip_id: int, name: str, text: str, *,
                 source: str = "edit", model: str | None = None, prompt: str | None = None,
                 params: dict | None = None, label: str | None = None):
        super().__init__(label or f"Edit caption of {name}")
        self._model = project_model
        self._clip_id = clip_id
        self._text = text
        self._origin = {"source": source, "model": model, "prompt": prompt, "params": params}
        self._caption_id: int | None = None  # the version redo added; None if it added none

    def redo(self) -> None:
        before = self._model.project.current_caption(self._clip_id)
        try:
            caption = self._model.add_caption(self._clip_id, self._text, **self._origin)
        except ProjectError as err:
            self._refused(err)
            return
        unchanged = before is not None and caption.id == before.id  # the same text again
        self._caption_id = None if unchanged else caption.id

    def undo(self) -> None:
        if self._caption_id is not None:
            self._model.remove_caption(self._clip_id, self._caption_id)
