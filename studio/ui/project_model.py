"""The GUI's one writer to the project: ``ProjectModel``, a QObject in front of
``studio.core.library.Project`` (DESIGN.md, data flow).

Every change to the project made in the GUI process goes through a method here, which writes to
``Project`` in the GUI thread and then emits a typed signal; panels subscribe to the signals and
never to each other. Work done on other threads (probing imports, generating, captioning) hands
its results back to a GUI-thread slot, which calls the model. Undo commands (``ui.edits``) act
on the model too, so an undo reaches every panel showing the clip the way the edit did.

Reads go straight to ``model.project`` (``clips()``, ``captions_for()``…): they change nothing.
A write that fails raises what ``Project`` raises (``ProjectError`` and its kinds, among them
``ReadOnlyProjectError`` for a project opened read-only; ``ValueError`` for marks that do not
fit) and emits nothing. What only keeps the view as it was (drafts, panel state) is not kept in
a project open read-only, and says nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from studio.core.library import Caption, Clip, FileInspection, Generation, Job, Project


class ProjectModel(QObject):
    """The project as the GUI sees it: writes, and a signal for each kind of change."""

    clips_added = Signal(list)  # [Clip]: new in the project (an import)
    clips_restored = Signal(list)  # [Clip]: back after an undone removal
    clips_changed = Signal(list)  # [Clip]: a file, probe result or in/out changed
    clips_removed = Signal(list)  # [int]: clip ids taken out of the project
    caption_changed = Signal(int)  # clip id: its current caption (a version added or removed)
    # clip id, state ("queued", "captioning", "failed", or "" when over), message: a caption
    # run's progress over a clip. Not stored: it lasts as long as the run.
    caption_state_changed = Signal(int, str, str)
    generation_added = Signal(object)  # Generation
    jobs_changed = Signal(list)  # [int]: queue job ids added, edited, moved, removed or re-stated
    current_clip_changed = Signal(object)  # Clip | None: the clip the panels follow
    selection_changed = Signal(list)  # [Clip]: the clips chosen in the bin (Caption, Export…)

    def __init__(self, project: Project, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.project = project
        self._current: Clip | None = None
        self._selection: list[int] = []  # clip ids, in the order the bin lists them
        self._clips: dict[int, Clip] | None = None  # the listed clips, read on first use

    # -- what the panels list and select ----------------------------------------------------
    def clips(self, *, fresh: bool = False) -> list[Clip]:
        """The project's clips as the last change left them (read from the project once, or
        again with ``fresh``; the model's own changes keep it current), in the order they
        were added."""
        if self._clips is None or fresh:
            self._clips = {clip.id: clip for clip in self.project.clips()}
        return list(self._clips.values())

    def clip(self, clip_id: int) -> Clip | None:
        return self._listed().get(clip_id)

    def set_selection(self, clips: list[Clip]) -> None:
        self._selection = [clip.id for clip in clips]
        self.selection_changed.emit(self.selected_clips())

    def selected_clips(self) -> list[Clip]:
        listed = self._listed()
        return [listed[i] for i in self._selection if i in listed]

    def _listed(self) -> dict[int, Clip]:
        if self._clips is None:
            self.clips()
        return self._clips

    def _keep(self, clips: list[Clip]) -> None:
        if self._clips is not None:
            self._clips.update((clip.id, clip) for clip in clips)

    # -- the clip the panels follow -------------------------------------------------------
    @property
    def read_only(self) -> bool:
        return bool(getattr(self.project, "read_only", False))

    @property
    def current_clip(self) -> Clip | None:
        return self._current

    def set_current_clip(self, clip: Clip | None) -> None:
        self._current = clip
        self.current_clip_changed.emit(clip)

    # -- clips ----------------------------------------------------------------------------
    def add_clips(self, found: Iterable[FileInspection]) -> list[tuple[Clip, bool]]:
        """Record files a worker probed and stamped (``inspect_file``), in one transaction;
        returns (clip, created) for each. New and revived clips are ``clips_added``, known
        ones whose file or probe changed ``clips_changed``."""
        results = self.project.add_clips(found)
        self._keep([clip for clip, _ in results])
        added = [clip for clip, created in results if created]
        known = [clip for clip, created in results if not created]
        if added:
            self.clips_added.emit(added)
        if known:
            self.clips_changed.emit(known)
        return results

    def set_in_out(self, clip_id: int, in_frame: int | None, out_frame: int | None) -> Clip:
        clip = self.project.set_in_out(clip_id, in_frame, out_frame)
        self._keep([clip])
        self.clips_changed.emit([clip])
        return clip

    def remove_clips(self, clip_ids: Iterable[int]) -> None:
        """Take clips out of the project (undoable in this session; files are never touched)."""
        ids = list(clip_ids)
        self.project.remove_clips(ids)
        for clip_id in ids:
            self._listed().pop(clip_id, None)
        self.clips_removed.emit(ids)

    def restore_clips(self, clip_ids: Iterable[int]) -> list[Clip]:
        clips = self.project.restore_clips(clip_ids)
        self._keep(clips)
        self.clips_restored.emit(clips)
        return clips

    def relink(self, clip_id: int, new_path: str | Path) -> Clip:
        clip = self.project.relink(clip_id, new_path)
        self._keep([clip])
        self.clips_changed.emit([clip])
        return clip

    # -- captions -------------------------------------------------------------------------
    def add_caption(self, clip_id: int, text: str, *, source: str = "model",
                    model: str | None = None, prompt: str | None = None,
                    params: dict | None = None) -> Caption:
        """A new caption version (the current caption when the text is unchanged)."""
        caption = self.project.add_caption(clip_id, text, source=source, model=model,
                                           prompt=prompt, params=params)
        self.caption_changed.emit(clip_id)
        return caption

    def remove_caption(self, clip_id: int, caption_id: int) -> None:
        self.project.remove_caption(caption_id)
        self.caption_changed.emit(clip_id)

    def set_caption_state(self, clip_id: int, state: str, message: str = "") -> None:
        self.caption_state_changed.emit(clip_id, state, message)

    def set_caption_draft(self, clip_id: int, text: str) -> None:
        """Keep text being typed, so a crash does not lose it (only its editor shows it)."""
        if not self.read_only:
            self.project.set_caption_draft(clip_id, text)

    def clear_caption_draft(self, clip_id: int) -> None:
        if not self.read_only:
            self.project.clear_caption_draft(clip_id)

    def save_panel_state(self, name: str, state: dict) -> None:
        if not self.read_only:
            self.project.save_panel_state(name, state)

    # -- generations ----------------------------------------------------------------------
    def add_generation(self, path: str | Path, params: dict | None = None,
                       **fields) -> Generation:
        """Record a written video (``Project.add_generation``'s fields)."""
        generation = self.project.add_generation(path, params, **fields)
        self.generation_added.emit(generation)
        return generation

    # -- the generation queue (the jobs table) ---------------------------------------------
    def add_job(self, kind: str, params: dict | None = None) -> Job:
        return self._job_changed(self.project.add_job(kind, params))

    def update_job_params(self, job_id: int, params: dict) -> Job:
        return self._job_changed(self.project.update_job_params(job_id, params))

    def set_job_state(self, job_id: int, state: str, error: str | None = None) -> Job:
        return self._job_changed(self.project.set_job_state(job_id, state, error=error))

    def requeue_job(self, job_id: int) -> Job:
        return self._job_changed(self.project.requeue_job(job_id))

    def remove_job(self, job_id: int) -> None:
        self.project.remove_job(job_id)
        self.jobs_changed.emit([job_id])

    def reorder_jobs(self, job_ids: list[int]) -> None:
        self.project.reorder_jobs(job_ids)
        self.jobs_changed.emit(list(job_ids))

    def mark_interrupted_jobs(self) -> list[int]:
        """Jobs a Studio that died left running become "interrupted"; their ids."""
        ids = self.project.mark_interrupted_jobs()
        if ids:
            self.jobs_changed.emit(ids)
        return ids

    def _job_changed(self, job: Job) -> Job:
        self.jobs_changed.emit([job.id])
        return job
