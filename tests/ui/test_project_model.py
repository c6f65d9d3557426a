"""The GUI's one writer (issue 15, item 1): in a real main window, an import, a caption edit,
its undo, in/out marks and their undo, a removal and its undo, a generation with the tiny
LTX-Video and an export each arrive as a ``ProjectModel`` signal, and every write to the
``Project`` comes from the model, never from a panel."""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject, Slot

import studio.core.library as library
import studio.ui.project_model as project_model
from studio.core.params import GenerationParams
from studio.ui.project_model import ProjectModel
from tests.media_factory import make_video

WAIT_MS = 120_000
# Every method of core.library.Project that writes to the database.
WRITES = ("add_clip", "add_clips", "set_in_out", "remove_clips", "restore_clips", "relink",
          "add_caption", "remove_caption", "set_caption_draft", "clear_caption_draft",
          "save_panel_state", "add_generation", "add_job", "set_job_state", "update_job_params",
          "remove_job", "requeue_job", "mark_interrupted_jobs", "reorder_jobs")


def spy_on_writes(project) -> list[tuple[str, str]]:
    """(method, calling file) for each write to ``project`` from outside core.library (a
    write that ``Project`` makes of itself, as ``add_clips`` does ``add_clip``, is its own)."""
    calls: list[tuple[str, str]] = []

    def spied(name, original):
        def write(*args, **kwargs):
            caller = sys._getframe(1).f_code.co_filename
            if caller != library.__file__:
                calls.append((name, caller))
            return original(*args, **kwargs)
        return write

    for name in WRITES:
        setattr(project, name, spied(name, getattr(project, name)))
    return calls


class Changes(QObject):
    """The model's change signals, by name, in the order they came."""

    def __init__(self, model: ProjectModel) -> None:
        super().__init__()
        self.seen: list[str] = []
        model.clips_added.connect(self.clips_added)
        model.clips_restored.connect(self.clips_restored)
        model.clips_changed.connect(self.clips_changed)
        model.clips_removed.connect(self.clips_removed)
        model.caption_changed.connect(self.caption_changed)
        model.generation_added.connect(self.generation_added)
        model.jobs_changed.connect(self.jobs_changed)

    def take(self) -> list[str]:
        seen, self.seen = self.seen, []
        return seen

    @Slot(list)
    def clips_added(self, _clips) -> None:
        self.seen.append("clips_added")

    @Slot(list)
    def clips_restored(self, _clips) -> None:
        self.seen.append("clips_restored")

    @Slot(list)
    def clips_changed(self, _clips) -> None:
        self.seen.append("clips_changed")

    @Slot(list)
    def clips_removed(self, _ids) -> None:
        self.seen.append("clips_removed")

    @Slot(int)
    def caption_changed(self, _clip_id) -> None:
        self.seen.append("caption_changed")

    @Slot(object)
    def generation_added(self, _generation) -> None:
        self.seen.append("generation_added")

    @Slot(list)
    def jobs_changed(self, _ids) -> None:
        self.seen.append("jobs_changed")


def test_the_window_writes_only_through_the_model(qtbot, project, tiny_ltx, tmp_path):
    from studio.ui.export_dialog import ExportDialog  # noqa: F401 -- loads before the spy
    from studio.ui.main_window import MainWindow
    from studio.ui.model_manager import ModelManager

    writes = spy_on_writes(project)
    window = MainWindow(project, model_manager=ModelManager(device="cpu", freeze_heap=False))
    qtbot.addWidget(window)
    changes = Changes(window.project_model)
    try:
        window.show()
        qtbot.waitExposed(window)
        # import: a drop of a file
        video = make_video(tmp_path / "walk.mp4", width=64, height=48, frames=24, fps=24)
        with qtbot.waitSignal(window.files_opened, timeout=WAIT_MS):
            window.open_files([str(video)])
        assert changes.take() == ["clips_added"]
        clip = project.clips()[0]
        qtbot.waitUntil(lambda: window.player.clip_id == clip.id, timeout=WAIT_MS)

        # a caption typed and saved, then undone: the bin's mark follows the model
        window.captions.editor.setPlainText("a person walks along a wall")
        assert window.captions.commit_edit()
        assert changes.take() == ["caption_changed"]
        assert window.bin.caption_state(clip.id) == "edited"
        window.undo_stack.undo()
        assert changes.take() == ["caption_changed"]
        assert project.current_caption(clip.id) is None
        assert window.bin.caption_state(clip.id) == "none"

        # in/out marked in the player, then undone: the bin's row and the player follow
        window.player.seek(4)
        window.player.set_in_point()
        window.player.seek(15)
        window.player.set_out_point()
        assert changes.take() == ["clips_changed", "clips_changed"]
        stored = project.clip(clip.id)
        assert (stored.in_frame, stored.out_frame) == (4, 15)
        assert window.bin.model.clip_by_id(clip.id).out_frame == 15
        window.undo_stack.undo()
        assert changes.take() == ["clips_changed"]
        assert project.clip(clip.id).out_frame is None
        assert window.bin.model.clip_by_id(clip.id).out_frame is None
        assert window.player.in_out == (4, None)

        # removed and brought back
        window.bin.select_clip(clip.id)
        window.bin.remove_selected()
        assert changes.take() == ["clips_removed"] and window.bin.model.rowCount() == 0
        window.undo_stack.undo()
        assert changes.take() == ["clips_restored"] and window.bin.model.rowCount() == 1

        # a generation: the queue's job rows and the recorded video, through the model
        window.generate_dock.toggleViewAction().trigger()
        prompt = window.prompt_panel
        prompt.apply_params(GenerationParams(
            model=str(tiny_ltx), prompt="a paper boat", width=32, height=32, num_frames=9,
            steps=2, guidance_scale=1.0, negative_prompt="", seed=7, seed_locked=True))
        with qtbot.waitSignal(window.project_model.generation_added, timeout=WAIT_MS):
            prompt.generate()
        seen = changes.take()
        assert seen[0] == "jobs_changed" and "generation_added" in seen, seen
        qtbot.waitUntil(lambda: window.generation_queue.running_id is None, timeout=WAIT_MS)
        (generation,) = project.generations()  # recorded once: the engine did not write too
        assert generation.job_id is not None and generation.info is not None
        assert window.preview_panel.record_label.text().startswith(
            f"Recorded in the project as generation #{generation.id}")

        # an export writes files, not the project
        window.bin.view.selectAll()
        window.export_action.trigger()
        dialog = window.export_clips_dialog()
        dialog.folder_edit.setText(str(tmp_path / "out"))
        qtbot.waitUntil(lambda: not dialog.planning, timeout=WAIT_MS)
        job = dialog.start_export()
        qtbot.waitUntil(lambda: job.state in ("done", "failed", "cancelled"), timeout=WAIT_MS)
        assert job.state == "done"
        assert [c for c in changes.take() if c != "jobs_changed"] == []
    finally:
        window.close()
    outside = sorted({(name, caller) for name, caller in writes
                      if caller != project_model.__file__})
    assert outside == []
    assert {name for name, _ in writes} >= {
        "add_clips", "add_caption", "remove_caption", "set_in_out", "remove_clips",
        "restore_clips", "add_job", "set_job_state", "add_generation"}


def test_the_spy_sees_a_write_from_outside_the_model(project):
    writes = spy_on_writes(project)
    ProjectModel(project).save_panel_state("generate", {"prompt": "a"})
    project.save_panel_state("generate", {"prompt": "b"})  # as a panel writing directly
    assert [name for name, _ in writes] == ["save_panel_state", "save_panel_state"]
    assert [caller for _, caller in writes] == [project_model.__file__, __file__]


def test_a_write_that_fails_emits_nothing(project, tmp_path):
    import pytest

    model = ProjectModel(project)
    changes = Changes(model)
    clip, _ = project.import_file(make_video(tmp_path / "a.mp4", frames=10))
    with pytest.raises(ValueError):
        model.set_in_out(clip.id, 8, 2)  # out before in
    with pytest.raises(library.ProjectError):
        model.add_caption(clip.id + 100, "no such clip")
    assert changes.take() == []


def test_the_bins_selection_reaches_the_panels_through_the_model(qtbot, project, tmp_path):
    """The panels read the bin's selection from the model (the window wires no panel to
    another): select all, and the model has both clips and File › Export… is on; an in/out
    change shows in the selected clip the model gives; clear, and Export… is off."""
    from studio.ui.main_window import MainWindow

    first, _ = project.import_file(make_video(tmp_path / "a.mp4", frames=10))
    second, _ = project.import_file(make_video(tmp_path / "b.mp4", frames=12))
    window = MainWindow(project)
    qtbot.addWidget(window)
    try:
        model = window.project_model
        assert not window.export_action.isEnabled()
        window.bin.view.selectAll()
        assert [c.id for c in model.selected_clips()] == [first.id, second.id]
        assert window.export_action.isEnabled()
        model.set_in_out(second.id, 2, 9)
        assert (model.selected_clips()[1].in_frame, model.clip(second.id).out_frame) == (2, 9)
        assert window.captions._caption_targets(None) == model.selected_clips()
        window.bin.view.clearSelection()
        assert model.selected_clips() == [] and not window.export_action.isEnabled()
    finally:
        window.close()
