"""The caption panel: editing with undo, history, clip switching, the bin's caption state, the
training-set export dialog, and (with the real model manager and the tiny demo captioner)
streamed captions, batches, cancel, failures and closing mid-caption."""

from __future__ import annotations

import json

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QUndoStack

from studio.ui.bin_panel import COL_CAPTION, COL_NAME
from studio.ui.caption_panel import CaptionPanel, format_eta
from tests.media_factory import make_video


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
    panel = CaptionPanel(project, undo_stack=stack)
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
    assert (out / "alpha_2.txt").read_text() == "alpha caption"
    blocker = tmp_path / "a file"
    blocker.write_text("")
    dialog.folder_edit.setText(str(blocker / "sub"))
    with qtbot.waitSignal(dialog.export_finished, timeout=30000) as failed:
        dialog.export_button.click()
    assert failed.args[0] is None
    assert "a file/sub" in dialog.result_label.text() and "cannot create" in dialog.result_label.text()
    dialog.close()
