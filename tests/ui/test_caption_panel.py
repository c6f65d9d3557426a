"""The caption panel: editing with undo, history, clip switching, the bin's caption state, the
training-set export dialog, and (with the real model manager and the tiny demo captioner)
streamed captions, batches, cancel, failures and closing mid-caption."""

from __future__ import annotations

import json
import time

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QUndoStack
from PySide6.QtWidgets import QWidget

from studio.ui.bin_panel import COL_CAPTION, COL_NAME
from studio.ui.caption_frames import frames_span
from studio.ui.caption_panel import CaptionPanel, format_eta
from studio.ui.project_model import ProjectModel
from tests.media_factory import make_bad, make_video


@pytest.fixture(scope="module")
def clip_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("caption-clips")
    return [make_video(folder / f"{name}.mp4", width=64, height=48, frames=24, fps=12)
            for name in ("alpha", "bravo", "charlie")]


@pytest.fixture
def clips(project, clip_files):
    return [project.import_file(path)[0] for path in clip_files]


@pytest.fixture
def panel(qtbot, project):
    stack = QUndoStack()
    panel = CaptionPanel(ProjectModel(project), undo_stack=stack)
    panel.undo_stack_owner = stack  # keep it alive as long as the panel
    qtbot.addWidget(panel)
    panel.resize(420, 700)
    panel.show()
    qtbot.waitExposed(panel)
    qtbot.waitUntil(lambda: panel.api is not None, timeout=20000)  # presets loaded in a thread
    yield panel
    panel.shutdown()


def type_into(qtbot, panel, text: str, replace: bool = True) -> None:
    panel.editor.setFocus()
    if replace:
        panel.editor.selectAll()
    qtbot.keyClicks(panel.editor, text)


def texts(project, clip_id):
    return [(c.text, c.source) for c in project.captions_for(clip_id)]


# --- editing -------------------------------------------------------------------------------------

# Types a caption into a caption panel on the project, waits until the panel has kept the
# draft, then kills its own process: no focus-out, no close, no save.
TYPE_THEN_DIE = r"""
import os, signal, sys
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication
app = QApplication(sys.argv[:1])
from studio.core.library import Project
from studio.ui.caption_panel import CaptionPanel
from studio.ui.project_model import ProjectModel
project = Project(sys.argv[1])
clip = project.clip(int(sys.argv[2]))
panel = CaptionPanel(ProjectModel(project))
panel.show()
panel.show_clip(clip)
panel.editor.selectAll()
QTest.keyClicks(panel.editor, sys.argv[3])
for _ in range(3000):  # a minute at most
    if project.caption_draft(clip.id) == sys.argv[3]:
        os.kill(os.getpid(), signal.SIGKILL)
    QTest.qWait(20)
sys.exit(f"no draft kept: {project.caption_draft(clip.id)!r}")
"""


def test_a_caption_being_typed_survives_a_killed_process(qtbot, panel, project, clips):
    """Unsaved typing lived only in the editor until focus-out, Ctrl+S, another clip or a
    clean close: a crash lost it. It is now kept as a draft as it is typed and comes back,
    unsaved, when the clip is shown again."""
    import signal
    import subprocess
    import sys

    clip = clips[0]
    project.add_caption(clip.id, "A clip.", model="demo/x")
    typed = "A red square glides to the right"
    died = subprocess.run([sys.executable, "-c", TYPE_THEN_DIE, str(project.root),
                           str(clip.id), typed], capture_output=True, text=True, timeout=120)
    assert died.returncode == -signal.SIGKILL, died.stderr
    assert texts(project, clip.id) == [("A clip.", "model")]  # nothing was saved

    said: list[str] = []
    panel.status_message.connect(said.append)
    panel.show_clip(clip)
    assert panel.editor.toPlainText() == typed and panel.dirty
    assert "unsaved" in panel.save_label.text() and said and "is back" in said[-1]
    panel.save_action.trigger()
    assert texts(project, clip.id) == [("A clip.", "model"), (typed, "edit")]
    assert project.caption_draft(clip.id) is None and not panel.dirty

    # Typed, then typed back to the saved text, or reverted: no draft is left behind.
    type_into(qtbot, panel, "Something else")
    qtbot.waitUntil(lambda: project.caption_draft(clip.id) == "Something else", timeout=5000)
    panel.revert_edit()
    assert project.caption_draft(clip.id) is None and panel.editor.toPlainText() == typed


def test_edit_undo_redo_round_trips_through_the_project(qtbot, panel, project, clips):
    clip = clips[0]
    project.add_caption(clip.id, "A clip.", model="demo/x", params={"preset": "short"})
    panel.show_clip(clip)
    assert panel.editor.toPlainText() == "A clip." and panel.state == "captioned"

    type_into(qtbot, panel, "A red square moves right.")
    assert panel.dirty and "unsaved" in panel.save_label.text()
    assert texts(project, clip.id) == [("A clip.", "model")]  # typing alone stores nothing
    panel.save_action.trigger()
    assert texts(project, clip.id) == [("A clip.", "model"), ("A red square moves right.", "edit")]
    assert not panel.dirty and panel.state == "edited"
    assert panel.undo_stack.undoText() == "Edit caption of alpha.mp4"

    panel.undo_stack.undo()
    assert texts(project, clip.id) == [("A clip.", "model")]
    assert panel.editor.toPlainText() == "A clip." and panel.state == "captioned"
    panel.undo_stack.redo()
    assert project.current_caption(clip.id).text == "A red square moves right."
    assert panel.editor.toPlainText() == "A red square moves right." and panel.state == "edited"

    # Saving the same text again adds no version and no undo step.
    steps = panel.undo_stack.count()
    panel.commit_edit()
    assert panel.undo_stack.count() == steps and len(project.captions_for(clip.id)) == 2


def test_focus_out_saves(qtbot, panel, project, clips):
    panel.show_clip(clips[0])
    type_into(qtbot, panel, "typed, then clicked elsewhere")
    panel.prompt_edit.setFocus()
    qtbot.waitUntil(lambda: not panel.editor.hasFocus())
    assert texts(project, clips[0].id) == [("typed, then clicked elsewhere", "edit")]


def test_switching_clips_keeps_an_unsaved_edit(qtbot, panel, project, clips):
    a, b = clips[0], clips[1]
    project.add_caption(b.id, "bravo's caption")
    panel.show_clip(a)
    assert panel.editor.toPlainText() == "" and panel.state == "none"
    type_into(qtbot, panel, "alpha, typed and not saved")
    panel.show_clip(b)  # the bin selected another clip
    assert panel.editor.toPlainText() == "bravo's caption"
    assert texts(project, a.id) == [("alpha, typed and not saved", "edit")]
    panel.show_clip(a)
    assert panel.editor.toPlainText() == "alpha, typed and not saved"
    panel.undo_stack.undo()  # the switch saved it as one undoable edit
    assert project.current_caption(a.id) is None and panel.editor.toPlainText() == ""


def test_revert_drops_unsaved_text(qtbot, panel, project, clips):
    project.add_caption(clips[0].id, "kept")
    panel.show_clip(clips[0])
    type_into(qtbot, panel, "thrown away")
    panel.revert_action.trigger()
    assert panel.editor.toPlainText() == "kept" and not panel.dirty
    panel.show_clip(clips[1])
    assert texts(project, clips[0].id) == [("kept", "model")]


def test_history_lists_versions_and_restores_one(qtbot, panel, project, clips):
    clip = clips[0]
    first = project.add_caption(clip.id, "model words", model="HuggingFaceTB/SmolVLM2-256M-Video-Instruct",
                                prompt="Describe this video in detail.",
                                params={"preset": "detailed", "do_sample": False,
                                        "max_new_tokens": 64, "frame_times": [0.0, 1.0]})
    project.add_caption(clip.id, "my words", source="edit")
    panel.show_clip(clip)
    history = panel.history_list
    assert history.count() == 2
    assert history.item(0).text().startswith("v2 · edited")
    assert history.item(1).text().startswith("v1 · SmolVLM2 256M (video)")
    assert "Describe" not in history.item(1).text() and "model words" in history.item(1).text()

    history.setCurrentRow(0)
    assert not panel.restore_button.isEnabled()  # the current version
    history.setCurrentRow(1)
    assert panel.restore_button.isEnabled()
    panel.restore_button.click()
    restored = project.current_caption(clip.id)
    assert restored.id != first.id
    assert (restored.text, restored.source, restored.model, restored.prompt, restored.params) == (
        first.text, "model", first.model, first.prompt, first.params)
    assert panel.state == "captioned" and panel.editor.toPlainText() == "model words"
    assert "SmolVLM2 256M" in panel.meta_label.text() and "greedy" in panel.meta_label.text()
    assert panel.history_list.count() == 3

    panel.undo_stack.undo()
    assert project.current_caption(clip.id).text == "my words" and panel.state == "edited"


def test_settings_presets_and_custom_prompt(qtbot, panel):
    api = panel.api
    keys = [panel.preset_combo.itemData(i) for i in range(panel.preset_combo.count())]
    assert keys == [*api.PROMPT_PRESETS, "custom"]
    assert panel.preset_combo.currentData() == api.DEFAULT_PRESET
    assert panel.prompt_edit.toPlainText() == api.PROMPT_PRESETS[api.DEFAULT_PRESET]
    settings = panel.settings()
    assert settings.preset == api.DEFAULT_PRESET and not settings.do_sample

    # Typing into a preset's prompt makes it a custom prompt.
    panel.prompt_edit.setFocus()
    panel.prompt_edit.selectAll()
    qtbot.keyClicks(panel.prompt_edit, "Name the colours.")
    assert panel.preset_combo.currentData() == "custom"
    panel.max_tokens_spin.setValue(40)
    panel.sample_check.setChecked(True)
    settings = panel.settings()
    assert (settings.preset, settings.prompt, settings.max_new_tokens, settings.do_sample) == (
        "custom", "Name the colours.", 40, True)
    assert settings.prompt_text() == "Name the colours."
    panel.prompt_edit.clear()
    with pytest.raises(ValueError):
        panel.settings()


def test_frames_span_counts_one_frame_as_one():
    """A short in/out range gives the model one frame: it said "1 frames"."""
    assert frames_span([0.125]) == "1 frame, 0:00.1"
    assert frames_span([0.125, 2.5, 65.0]) == "3 frames, 0:00.1–1:05.0"


def test_format_eta():
    assert [format_eta(x) for x in (-1.0, float("nan"), 4.4, 65, 3723)] == [
        "", "", "4 s", "1:05", "1:02:03"]


# --- in the main window ------------------------------------------------------------------------

@pytest.fixture
def window(qtbot, project):
    from studio.ui.main_window import MainWindow

    made = []

    def open_window(manager=None):
        w = MainWindow(project, model_manager=manager)
        qtbot.addWidget(w)
        w.resize(1280, 780)
        w.show()
        qtbot.waitExposed(w)
        made.append(w)
        return w

    yield open_window
    for w in made:
        w.shutdown()


def caption_cell(window, clip_id):
    row = window.bin.model.row_of(clip_id)
    return window.bin.model.index(row, COL_CAPTION)


def test_bin_shows_caption_state_and_filters_by_caption(qtbot, window, project, clips):
    project.add_caption(clips[1].id, "a model caption about a red square")
    project.add_caption(clips[2].id, "typed by hand", source="edit")
    w = window()
    states = [caption_cell(w, c.id).data() for c in clips]
    assert states == ["none", "captioned", "edited"]
    assert "red square" in caption_cell(w, clips[1].id).data(Qt.ItemDataRole.ToolTipRole)
    header = w.bin.view.horizontalHeader()
    assert header.visualIndex(COL_CAPTION) == header.visualIndex(COL_NAME) + 1

    # An edit in the panel shows in the bin at once, and so does its undo.
    w.bin.select_clip(clips[0].id)
    qtbot.waitUntil(lambda: w.captions.clip is not None and w.captions.clip.id == clips[0].id)
    type_into(qtbot, w.captions, "hand made")
    w.captions.save_action.trigger()
    assert caption_cell(w, clips[0].id).data() == "edited"
    w.undo_action.trigger()
    assert caption_cell(w, clips[0].id).data() == "none"

    w.bin.filter_box.setText("red squ")
    assert w.bin.proxy.rowCount() == 1
    w.bin.filter_box.setText("")

    # Sorting by state groups them.
    w.bin.view.sortByColumn(COL_CAPTION, Qt.SortOrder.AscendingOrder)
    names = [w.bin.proxy.index(r, COL_CAPTION).data() for r in range(3)]
    assert names == ["none", "edited", "captioned"]


def test_closing_the_window_saves_what_was_typed(qtbot, window, project, clips):
    w = window()
    w.bin.select_clip(clips[0].id)
    qtbot.waitUntil(lambda: w.captions.clip is not None)
    w.captions.editor.setFocus()
    qtbot.keyClicks(w.captions.editor, "last words before closing")
    w.close()
    assert project.current_caption(clips[0].id).text == "last words before closing"


def test_export_training_set_dialog(qtbot, window, project, clips, tmp_path):
    project.add_caption(clips[0].id, "alpha caption")
    project.add_caption(clips[1].id, "bravo caption")
    project.set_in_out(clips[1].id, 2, 9)
    w = window()
    w.bin.select_clip(clips[1].id)
    dialog = w.export_training_set_dialog()
    assert dialog.scope_selected.isChecked()
    assert "1 of 1 captioned" in dialog.scope_selected.text()
    assert "All captioned clips (2)" == dialog.scope_all.text()
    out = tmp_path / "dataset"
    dialog.folder_edit.setText(str(out))
    dialog.scope_all.setChecked(True)
    dialog.set_layout("musubi")
    with qtbot.waitSignal(dialog.export_finished, timeout=30000) as finished:
        dialog.export_button.click()
    report = finished.args[0]
    assert report is not None and not report.failed and report.skipped_uncaptioned == 1
    rows = [json.loads(line) for line in (out / "metadata.jsonl").read_text().splitlines()]
    assert [r["caption"] for r in rows] == ["alpha caption", "bravo caption"]
    assert rows[1]["video_path"].endswith("bravo_2-9.mp4")
    assert "Exported 2 clip(s)" in dialog.result_label.text()
    assert dialog.open_button.isVisible()

    # The same export again writes beside, never over, the first one; a read-only folder is
    # a line in the dialog, not a dialog storm.
    dialog.set_layout("diffusion-pipe")
    with qtbot.waitSignal(dialog.export_finished, timeout=30000):
        dialog.export_button.click()
    assert (out / "alpha_2.txt").read_text() == "alpha caption\n"  # one caption rule: a line
    blocker = tmp_path / "a file"
    blocker.write_text("")
    dialog.folder_edit.setText(str(blocker / "sub"))
    with qtbot.waitSignal(dialog.export_finished, timeout=30000) as failed:
        dialog.export_button.click()
    assert failed.args[0] is None
    assert "a file/sub" in dialog.result_label.text() and "cannot create" in dialog.result_label.text()
    dialog.close()


# --- with the real model manager and the tiny demo captioner --------------------------------------

@pytest.fixture(scope="module")
def tiny_model(tiny_captioner_dir):
    return str(tiny_captioner_dir)


@pytest.fixture
def captioning(qtbot, window, tiny_model):
    """A main window with its own model manager, set to the tiny demo captioner."""
    from studio.ui.model_manager import ModelManager

    def open_window(max_new_tokens: int = 24):
        w = window(ModelManager(freeze_heap=False))
        w.captions.set_model(tiny_model)
        w.captions.max_tokens_spin.setValue(max_new_tokens)
        return w

    return open_window


def select(qtbot, w, clip_id):
    w.bin.select_clip(clip_id)
    qtbot.waitUntil(lambda: w.captions.clip is not None and w.captions.clip.id == clip_id)


def no_message_boxes():
    from PySide6.QtWidgets import QApplication, QMessageBox

    return not [t for t in QApplication.topLevelWidgets()
                if isinstance(t, QMessageBox) and t.isVisible()]


def test_caption_streams_into_the_panel_and_is_stored_with_its_settings(
        qtbot, captioning, project, clips, tiny_model):
    w = captioning(max_new_tokens=30)
    panel = w.captions
    clip = clips[0]
    project.add_caption(clip.id, "an older caption", source="edit")
    w.bin.refresh_caption_state(clip.id)
    select(qtbot, w, clip.id)
    seen: list[str] = []
    panel.editor.textChanged.connect(lambda: seen.append(panel.editor.toPlainText()))

    panel.caption_action.trigger()  # Caption > Caption Selected Clips (Ctrl+Enter)
    assert panel.state == "captioning" and panel.editor.isReadOnly()
    assert caption_cell(w, clip.id).data() == "captioning…"
    assert panel.progress_row.isVisible() and panel.cancel_button.isEnabled()
    qtbot.waitUntil(lambda: not panel.running, timeout=60000)

    caption = project.current_caption(clip.id)
    assert caption.source == "model" and caption.model == tiny_model
    assert caption.prompt == panel.api.PROMPT_PRESETS[panel.api.DEFAULT_PRESET]
    assert caption.params["max_new_tokens"] == 30 and caption.params["do_sample"] is False
    assert caption.params["demo"] is True and caption.params["frame_times"]
    # Word by word: the box grew through several partial texts, each a prefix of the caption.
    partial = [t for t in seen if t and t != caption.text]
    assert len(partial) >= 3, seen
    assert all(caption.text.startswith(t) for t in partial)
    assert panel.editor.toPlainText() == caption.text and not panel.editor.isReadOnly()
    assert panel.state == "captioned" and caption_cell(w, clip.id).data() == "captioned"
    assert panel.demo_label.isVisible()
    # The frames the model saw, with their times; a click shows one in the player.
    assert panel.frame_strip.count() == len(caption.params["frame_times"])
    assert panel.frame_strip.times == pytest.approx(caption.params["frame_times"], abs=1e-3)
    assert panel.frames_label.text().startswith("The model saw ")
    last = panel.frame_strip.item(panel.frame_strip.count() - 1)
    panel.frame_strip.itemClicked.emit(last)
    qtbot.waitUntil(lambda: w.player.position == caption.params["frame_indices"][-1])
    # The earlier caption stays in the history.
    assert [c.text for c in project.captions_for(clip.id)] == ["an older caption", caption.text]
    assert not panel.progress_row.isVisible()


def test_caption_all_uncaptioned_skips_captioned_clips_and_cancels(
        qtbot, captioning, project, clips, clip_files, tmp_path):
    extra = [project.import_file(make_video(tmp_path / f"more{i}.mp4", width=64, height=48,
                                            frames=24, fps=12))[0] for i in range(2)]
    project.add_caption(clips[1].id, "already captioned")
    w = captioning(max_new_tokens=200)
    panel = w.captions
    select(qtbot, w, clips[2].id)

    job_id = panel.caption_uncaptioned()
    assert panel.job_clip_ids(job_id) == [clips[0].id, clips[2].id, extra[0].id, extra[1].id]
    # The clip on screen waits for one other; the bin tells waiting clips from the one at work.
    assert panel.state == "queued" and "1 clip ahead" in panel.meta_label.text()
    assert not panel.editor.isReadOnly()
    assert caption_cell(w, clips[0].id).data() == "captioning…"
    assert caption_cell(w, extra[1].id).data() == "queued"
    qtbot.waitUntil(lambda: "/4" in panel.progress_bar.format(), timeout=60000)
    qtbot.waitUntil(lambda: project.current_caption(clips[0].id) is not None, timeout=60000)
    # The second clip is the one on screen: its caption streams into the box.
    qtbot.waitUntil(lambda: panel.editor.toPlainText() != "", timeout=60000)
    assert panel.state == "captioning"
    assert "2/4" in panel.progress_bar.format()

    panel.cancel_button.click()
    qtbot.waitUntil(lambda: not panel.running, timeout=10000)
    assert not panel.progress_row.isVisible()
    assert project.current_caption(clips[2].id) is None  # cancelled mid-caption: nothing stored
    assert [c.text for c in project.captions_for(clips[1].id)] == ["already captioned"]
    states = [caption_cell(w, c.id).data() for c in (clips[0], clips[1], clips[2], *extra)]
    assert states == ["captioned", "captioned", "none", "none", "none"]
    assert panel.state == "none" and panel.editor.toPlainText() == "" and not panel.editor.isReadOnly()
    assert "cancelled" in w.statusBar().currentMessage()

    # The next run picks up where it stopped (and the manager's thread lives on).
    w.captions.max_tokens_spin.setValue(8)
    job_id = panel.caption_uncaptioned()
    assert panel.job_clip_ids(job_id) == [clips[2].id, extra[0].id, extra[1].id]
    qtbot.waitUntil(lambda: not panel.running, timeout=60000)
    assert all(caption_cell(w, c.id).data() == "captioned" for c in (*clips, *extra))
    assert panel.caption_uncaptioned() is None  # nothing left to do
    assert "Every clip in the bin has a caption" in w.statusBar().currentMessage()


def test_a_bad_file_in_a_batch_fails_alone(qtbot, captioning, project, clips, tmp_path):
    doomed = make_video(tmp_path / "doomed.mp4", width=64, height=48, frames=24, fps=12)
    vanished = project.import_file(doomed)[0]
    broken = project.import_file(make_bad(tmp_path, "text", name="broken.mp4"))[0]
    w = captioning(max_new_tokens=8)
    panel = w.captions
    doomed.unlink()  # gone after the bin listed it: only the captioner finds out
    select(qtbot, w, clips[0].id)

    w.bin.view.selectAll()
    job_id = panel.caption_selected()
    assert job_id is not None
    # Not media at all: failed at once, without bothering the model.
    assert caption_cell(w, broken.id).data() == "failed"
    assert panel.job_clip_ids(job_id) == [*[c.id for c in clips], vanished.id]
    qtbot.waitUntil(lambda: not panel.running, timeout=60000)

    assert [caption_cell(w, c.id).data() for c in clips] == ["captioned"] * 3
    assert caption_cell(w, vanished.id).data() == "failed"
    assert "doomed.mp4" in caption_cell(w, vanished.id).data(Qt.ItemDataRole.ToolTipRole)
    assert project.current_caption(vanished.id) is None
    assert panel.error_label.isVisible() and "doomed.mp4" in panel.error_label.text()
    assert no_message_boxes()
    select(qtbot, w, vanished.id)
    assert panel.state == "failed" and "doomed.mp4" in panel.error_label.text()

    # A missing model fails the job with a message in the panel; the clips keep their state.
    panel.set_model(str(tmp_path / "no-such-model"))
    select(qtbot, w, clips[0].id)
    panel.caption_selected()
    qtbot.waitUntil(lambda: not panel.running, timeout=60000)
    assert "no-such-model" in panel.error_label.text()
    assert caption_cell(w, clips[0].id).data() == "failed"  # a single clip fails with its job
    assert caption_cell(w, clips[1].id).data() == "captioned"
    assert no_message_boxes()


def test_caption_is_off_when_nothing_selected_can_be_captioned(qtbot, window, project,
                                                              clips, tmp_path):
    """Caption on a file that is not media only marked it "failed" in the bin, beside the
    panel already saying it cannot be captioned; it is now off until a usable clip is in
    the selection."""
    broken = project.import_file(make_bad(tmp_path, "text", name="broken.mp4"))[0]
    w = window()
    panel = w.captions
    w.bin.reload()
    select(qtbot, w, broken.id)
    assert panel.meta_label.text().startswith("Cannot be captioned: ")
    assert not panel.caption_action.isEnabled() and not panel.caption_button.isEnabled()
    assert panel.caption_selected() is None  # called anyway: nothing marked, nothing run
    assert caption_cell(w, broken.id).data() == "none"
    assert w.statusBar().currentMessage() == f"Nothing to caption: {broken.error}"

    w.bin.view.selectAll()  # with usable clips: on again
    qtbot.waitUntil(lambda: panel.caption_button.isEnabled(), timeout=5000)
    assert panel.caption_action.isEnabled()
    select(qtbot, w, clips[0].id)
    assert panel.caption_button.isEnabled()


def test_closing_the_window_during_a_caption_exits_cleanly(qtbot, captioning, project, clips):
    w = captioning(max_new_tokens=4000)
    panel = w.captions
    select(qtbot, w, clips[0].id)
    panel.caption_selected()
    qtbot.waitUntil(lambda: len(panel.editor.toPlainText().split()) >= 3, timeout=60000)
    started = time.monotonic()
    w.close()
    assert time.monotonic() - started < 2.0
    assert w.model_manager.thread_finished
    assert project.current_caption(clips[0].id) is None  # a cut-off caption is not stored


def test_caption_settings_are_remembered(qtbot, window, project, tmp_path):
    folder = tmp_path / "my-model"
    folder.mkdir()
    w = window()
    qtbot.waitUntil(lambda: w.captions.api is not None, timeout=20000)
    w.captions.set_model(str(folder))
    w.captions.set_preset("custom", "Say what the camera does.")
    w.captions.max_tokens_spin.setValue(77)
    w.captions.sample_check.setChecked(True)
    w.captions.history_section.toggle.setChecked(True)
    w.close()

    again = window()
    qtbot.waitUntil(lambda: again.captions.api is not None, timeout=20000)
    panel = again.captions
    assert panel.model == str(folder) and panel.model_combo.currentText() == "Folder: my-model"
    settings = panel.settings()
    assert (settings.preset, settings.prompt, settings.max_new_tokens, settings.do_sample) == (
        "custom", "Say what the camera does.", 77, True)
    assert panel.history_section.toggle.isChecked()
    again.close()


# --- the body, built on first use ----------------------------------------------------------------

def test_the_window_starts_with_the_panel_empty_and_builds_it_for_the_first_clip(
        qtbot, window, project, clips):
    w = window()
    s = w.settings()
    s.setValue("caption/max_new_tokens", 99)  # as a person left it, read at the next start
    s.setValue("caption/settings_open", False)
    w.close()
    w = window()
    panel = w.captions
    assert not panel.body_built  # nothing selected: a title and a hint, no controls
    empty = panel.findChild(QWidget, "CaptionPanelEmpty")
    assert empty is not None and empty.isVisible()
    assert panel.caption_action.isEnabled() and panel.caption_all_action.isEnabled()
    qtbot.waitUntil(lambda: panel.api is not None, timeout=20000)
    assert not panel.body_built  # the presets wait for the body

    w.bin.select_clip(clips[1].id)
    qtbot.waitUntil(lambda: panel.body_built and panel.title_label.text() == "bravo.mp4",
                    timeout=5000)
    assert panel.max_tokens_spin.value() == 99  # the stored settings, applied when built
    assert not panel.settings_section.toggle.isChecked()
    assert panel.preset_combo.count() > 1
    assert panel.caption_button.isEnabled()
    qtbot.waitUntil(lambda: panel.findChild(QWidget, "CaptionPanelEmpty") is None, timeout=5000)
    w.close()
    s = w.settings()
    assert s.value("caption/max_new_tokens", type=int) == 99


def test_settings_stay_as_stored_when_the_panel_was_never_built(qtbot, window, project):
    w = window()
    s = w.settings()
    s.setValue("caption/max_new_tokens", 123)
    s.setValue("caption/history_open", True)
    w.close()
    w = window()
    assert not w.captions.body_built
    w.close()  # saves the layout and the panel's settings
    s = w.settings()
    assert s.value("caption/max_new_tokens", type=int) == 123
    assert s.value("caption/history_open", type=bool) is True


def test_caption_all_from_the_menu_builds_the_panel_to_show_what_happens(qtbot, project, clips):
    panel = CaptionPanel(ProjectModel(project))  # no model manager: captioning is not available
    qtbot.addWidget(panel)
    panel.show()
    assert not panel.body_built
    panel.caption_all_action.setEnabled(True)
    panel.caption_all_action.trigger()
    assert panel.body_built
    qtbot.waitUntil(panel.error_label.isVisible, timeout=5000)  # the new body shows next
    assert "no model manager" in panel.error_label.text()
    assert panel.title_label.text() == "No clip selected"
    panel.shutdown()


def test_the_body_widgets_listed_are_the_ones_the_body_makes(qtbot, project):
    """Reading one of them before the body exists builds it (CaptionPanel.__getattr__): the
    list must name every widget the body makes, and nothing else."""
    from studio.ui.caption_panel import _BODY_WIDGETS

    panel = CaptionPanel(ProjectModel(project))
    qtbot.addWidget(panel)
    before = set(vars(panel))
    assert not panel.body_built and not (before & _BODY_WIDGETS)
    panel._build_body()
    made = {name for name, value in vars(panel).items()
            if name not in before and isinstance(value, QWidget)}
    assert made == _BODY_WIDGETS
    with pytest.raises(AttributeError):
        panel.no_such_widget  # noqa: B018 -- other names are not found, as usual
    panel.shutdown()


def test_reading_a_body_widget_first_builds_the_body(qtbot, project):
    panel = CaptionPanel(ProjectModel(project))
    qtbot.addWidget(panel)
    assert not panel.body_built
    assert panel.editor.isReadOnly()  # built on the read, showing "no clip"
    assert panel.body_built
    panel.shutdown()


def test_exports_take_the_saved_caption_and_leave_the_editor_alone(qtbot, window, project,
                                                                    clips):
    """Issue 15, item 4: File > Export… and File > Export Training Set… read the captions
    from the project; text typed and not saved stays in the editor, unsaved, as a draft."""
    project.add_caption(clips[0].id, "the saved caption")
    w = window()
    w.bin.select_clip(clips[0].id)
    qtbot.waitUntil(lambda: w.captions.clip is not None and w.captions.clip.id == clips[0].id)
    w.captions.editor.setFocus()
    w.captions.editor.selectAll()
    qtbot.keyClicks(w.captions.editor, "typed, not saved")
    assert w.captions.dirty

    dialog = w.export_clips_dialog()
    assert [s.caption for s in dialog.sources] == ["the saved caption"]
    training = w.export_training_set_dialog()
    qtbot.wait(50)  # the dialogs are shown and take the focus
    assert w.captions.dirty and w.captions.editor.toPlainText() == "typed, not saved"
    assert [c.text for c in project.captions_for(clips[0].id)] == ["the saved caption"]
    qtbot.waitUntil(lambda: project.caption_draft(clips[0].id) == "typed, not saved",
                    timeout=5000)  # kept as a draft, as the panel keeps any unsaved text
    dialog.close()
    training.close()


def test_the_caption_box_starts_at_the_top_after_captioning(qtbot, captioning, project, clips):
    """Issue 16: the box scrolled to the end as the caption streamed in and stayed there,
    hiding its start."""
    w = captioning(max_new_tokens=120)
    panel = w.captions
    select(qtbot, w, clips[0].id)
    panel.editor.setFixedHeight(60)  # a long caption does not fit: the box scrolls
    panel.caption_action.trigger()
    qtbot.waitUntil(lambda: panel.editor.verticalScrollBar().value() > 0, timeout=60000)
    qtbot.waitUntil(lambda: not panel.running, timeout=60000)
    assert project.current_caption(clips[0].id).text == panel.editor.toPlainText()
    assert panel.editor.verticalScrollBar().maximum() > 0
    assert panel.editor.verticalScrollBar().value() == 0
    assert panel.editor.textCursor().position() == 0


def test_caption_progress_says_n_of_N_the_clip_and_the_time_left(qtbot, captioning, project,
                                                                 clips):
    """Issue 16: the bar said "Captioning b_audio.mp4", without the n/N and the time left
    the README promises."""
    import re

    w = captioning(max_new_tokens=60)
    panel = w.captions
    select(qtbot, w, clips[0].id)
    panel.caption_action.trigger()
    pattern = rf"^Captioning 1/1 · {re.escape(clips[0].name)} · (\d+ s|\d+:\d\d) left$"
    qtbot.waitUntil(lambda: re.match(pattern, panel.progress_bar.format()) is not None,
                    timeout=60000)
    qtbot.waitUntil(lambda: not panel.running, timeout=60000)
    job_id = panel.caption_uncaptioned()
    assert job_id is not None and len(panel.job_clip_ids(job_id)) >= 2
    total = len(panel.job_clip_ids(job_id))
    pattern = rf"^Captioning 2/{total} · .+ · (\d+ s|\d+:\d\d) left$"
    qtbot.waitUntil(lambda: re.match(pattern, panel.progress_bar.format()) is not None,
                    timeout=60000)
    panel.cancel_button.click()
    qtbot.waitUntil(lambda: not panel.running, timeout=10000)
