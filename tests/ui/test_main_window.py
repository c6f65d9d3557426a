"""The main window end to end: import, select, play, set in/out, close, reopen, all as left."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from studio.core.library import Project
from studio.ui.bin_panel import COL_CAPTION, COLUMNS
from studio.ui.main_window import MainWindow
from tests.media_factory import make_video
from tests.ui.test_bin import drop_paths


@pytest.fixture
def windows(qtbot):
    made: list[MainWindow] = []

    def open_window(project: Project) -> MainWindow:
        window = MainWindow(project)
        qtbot.addWidget(window)
        window.show()
        qtbot.waitExposed(window)
        made.append(window)
        return window

    yield open_window
    for window in made:
        window.shutdown()


def test_session_round_trip(qtbot, tmp_path, windows):
    (tmp_path / "media").mkdir()
    clip_path = make_video(tmp_path / "media" / "walk.mp4", width=96, height=64, frames=40, fps=20)
    root = tmp_path / "project"
    project = Project(root)
    window = windows(project)
    window.resize(window.minimumSizeHint().width(), 533)  # the offscreen screen is 800x800
    window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, window.bin_dock)
    window.bin.view.horizontalHeader().resizeSection(COL_CAPTION, 123)

    with qtbot.waitSignal(window.bin.import_finished, timeout=60000):
        drop_paths(window.bin.view.viewport(), [clip_path])
    clip = project.clips()[0]
    window.bin.select_clip(clip.id)
    player = window.player
    qtbot.waitUntil(lambda: player.position == 0 and player.clip_id == clip.id, timeout=10000)

    window.activateWindow()
    player.setFocus()
    for _ in range(5):
        qtbot.keyClick(player, Qt.Key.Key_Right)
    qtbot.waitUntil(lambda: player.position == 5, timeout=10000)
    qtbot.keyClick(player, Qt.Key.Key_I)
    for _ in range(10):
        qtbot.keyClick(player, Qt.Key.Key_Right)
    qtbot.waitUntil(lambda: player.position == 15, timeout=10000)
    qtbot.keyClick(player, Qt.Key.Key_O)
    assert (project.clip(clip.id).in_frame, project.clip(clip.id).out_frame) == (5, 15)
    assert window.bin.model.index(0, 5).data() == "5–15"

    # Edit > Undo takes back the out point, in the project, the bin and the player alike.
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert (project.clip(clip.id).in_frame, project.clip(clip.id).out_frame) == (5, None)
    assert player.in_out == (5, None)
    assert window.bin.model.index(0, 5).data() == "5–39"
    window.redo_action.trigger()
    assert (project.clip(clip.id).in_frame, project.clip(clip.id).out_frame) == (5, 15)
    assert player.in_out == (5, 15)

    window.close()  # saves the layout and stops the workers
    project.close()

    project = Project(root)
    again = windows(project)
    assert again.size().height() == 533
    assert again.dockWidgetArea(again.bin_dock) == Qt.DockWidgetArea.RightDockWidgetArea
    assert again.bin.column_widths[COL_CAPTION] == 123  # shown when the bin is wide enough
    clips = project.clips()
    assert [Path(c.path).name for c in clips] == ["walk.mp4"]
    assert (clips[0].in_frame, clips[0].out_frame) == (5, 15)
    assert again.bin.model.rowCount() == 1
    project.close()


def test_selecting_an_unusable_file_clears_the_player_and_says_why(qtbot, tmp_path, windows):
    bad = tmp_path / "notes.mp4"
    bad.write_text("not a video")
    project = Project(tmp_path / "project")
    window = windows(project)
    with qtbot.waitSignal(window.bin.import_finished, timeout=60000):
        window.bin.import_paths([str(bad)])
    window.bin.select_clip(project.clips()[0].id)
    assert window.player.clip_id is None
    assert "not a media file" in window.statusBar().currentMessage()
    project.close()


def test_arrow_keys_step_the_player_while_the_bin_has_focus(qtbot, tmp_path, windows):
    # Found using the app in a real window: Right scrolled the bin sideways instead of stepping.
    (tmp_path / "media").mkdir()
    clip_path = make_video(tmp_path / "media" / "walk.mp4", width=96, height=64, frames=20, fps=20)
    project = Project(tmp_path / "project")
    window = windows(project)
    with qtbot.waitSignal(window.bin.import_finished, timeout=60000):
        window.bin.import_paths([str(clip_path)])
    window.activateWindow()
    window.bin.view.setFocus()
    window.bin.select_clip(project.clips()[0].id)
    player = window.player
    qtbot.waitUntil(lambda: player.clip_id is not None and player.displayed_index == 0, timeout=10000)
    qtbot.keyClick(window.bin.view, Qt.Key.Key_Right)
    qtbot.keyClick(window.bin.view, Qt.Key.Key_Right)
    qtbot.waitUntil(lambda: player.position == 2, timeout=10000)
    assert window.bin.view.horizontalScrollBar().value() == 0
    qtbot.keyClick(window.bin.view, Qt.Key.Key_Left)
    qtbot.waitUntil(lambda: player.position == 1, timeout=10000)
    project.close()


def test_keys_drive_the_player_from_the_start_and_after_a_click_on_the_picture(qtbot, tmp_path, windows):
    # Found in a real window: the filter box had focus at start, so Space typed into it.
    (tmp_path / "media").mkdir()
    clip_path = make_video(tmp_path / "media" / "walk.mp4", width=96, height=64, frames=20, fps=20)
    project = Project(tmp_path / "project")
    window = windows(project)
    window.activateWindow()
    assert QApplication.focusWidget() is not window.bin.filter_box
    with qtbot.waitSignal(window.bin.import_finished, timeout=60000):
        window.bin.import_paths([str(clip_path)])
    window.bin.select_clip(project.clips()[0].id)
    player = window.player
    qtbot.waitUntil(lambda: player.clip_id is not None and player.displayed_index == 0, timeout=10000)
    window.bin.filter_box.setFocus()
    qtbot.mouseClick(player.view, Qt.MouseButton.LeftButton)
    assert QApplication.focusWidget() is player.view
    qtbot.keyClick(player.view, Qt.Key.Key_Right)
    qtbot.waitUntil(lambda: player.position == 1, timeout=10000)
    assert window.bin.filter_box.text() == ""
    project.close()


def test_closing_the_window_keeps_the_last_keys_typed_in_the_generate_panel(qtbot, tmp_path,
                                                                           windows):
    project = Project(tmp_path / "project")
    window = windows(project)
    window.generate_dock.show()
    window.prompt_panel.prompt.setPlainText("waves on a pebble beach")
    window.close()  # at once: the panel's own keeping of its fields had not come yet
    assert project.panel_state("generate")["prompt"] == "waves on a pebble beach"


def test_a_file_dropped_on_the_player_is_imported_and_plays(qtbot, tmp_path, windows):
    """Only the bin took dropped files; a clip dropped on the player (or the caption panel)
    did nothing. Anywhere the panels do not take it, it opens as `studio FILE` opens it."""
    clip_path = make_video(tmp_path / "dropped.mp4", width=64, height=48, frames=12, fps=12)
    project = Project(tmp_path / "project")
    window = windows(project)
    player = window.player
    with qtbot.waitSignal(window.files_opened, timeout=60_000):
        drop_paths(window, [clip_path])  # the drop reaches the window, past the player
    clip = project.clip_for_path(clip_path)
    assert clip is not None and clip.ok
    qtbot.waitUntil(lambda: player.clip_id == clip.id and player.displayed_index == 0,
                    timeout=10_000)
    assert window.statusBar().currentMessage().startswith("Imported 1 new of 1")


def test_the_docks_get_the_widths_they_ask_for_at_1280_px(qtbot, tmp_path, windows):
    """At 1280 px the player's one-row transport bar (about 620 px at least) took width from
    both docks: the bin got 351 px of 440 and its Caption column was cut off. The bar now
    wraps into two rows instead."""
    project = Project(tmp_path / "project")
    project.import_file(make_video(tmp_path / "walk.mp4", width=96, height=64, frames=4))
    window = windows(project)
    window.resize(1280, 800)
    view = window.bin.view
    qtbot.waitUntil(lambda: window.width() == 1280 and view.isVisible()
                    and view.viewport().width() > 300, timeout=5000)
    QApplication.processEvents()
    assert (window.bin_dock.width(), window.caption_dock.width()) == (440, 380)
    assert window.player.controls.is_stacked()
    header = view.horizontalHeader()
    caption_column = COLUMNS.index("Caption")
    assert header.sectionViewportPosition(caption_column) + header.sectionSize(caption_column) \
        <= view.viewport().width()


def test_the_docks_keep_their_widths_when_a_clip_opens_and_plays(qtbot, tmp_path, windows):
    """The player's transport bar does not grow with its texts ("frame 9 / 24" to "frame 10 /
    24"): the window kept the player at its minimum width and narrowed both docks instead, at
    the first clip and again as the frame number got a digit."""
    (tmp_path / "media").mkdir()
    clip_path = make_video(tmp_path / "media" / "walk.mp4", width=96, height=64, frames=120,
                           fps=24)
    project = Project(tmp_path / "project")
    project.import_file(clip_path)
    window = windows(project)
    window.resize(1280, 800)
    qtbot.waitUntil(lambda: window.bin_dock.width() > 0, timeout=5000)
    QApplication.processEvents()
    widths = (window.bin_dock.width(), window.caption_dock.width())
    window.bin.select_clip(project.clips()[0].id)
    player = window.player
    qtbot.waitUntil(lambda: player.clip_id is not None and player.position == 0, timeout=10000)
    for target in (9, 10, 100, 119):
        player.seek(target)
        qtbot.waitUntil(lambda t=target: player.position == t, timeout=10000)
        QApplication.processEvents()
        assert (window.bin_dock.width(), window.caption_dock.width()) == widths, target

    # A clip of 1000 frames or more may take a little width when it opens, then keeps it.
    long_path = make_video(tmp_path / "media" / "long.mp4", width=32, height=32, frames=1200,
                           fps=24, preset="ultrafast")
    long_clip = project.import_file(long_path)[0]
    window.bin.reload()
    window.bin.select_clip(long_clip.id)
    qtbot.waitUntil(lambda: player.clip_id == long_clip.id and player.position == 0,
                    timeout=10000)
    QApplication.processEvents()
    widths = (window.bin_dock.width(), window.caption_dock.width())
    for target in (9, 10, 100, 1000, 1199):
        player.seek(target)
        qtbot.waitUntil(lambda t=target: player.position == t, timeout=10000)
        QApplication.processEvents()
        assert (window.bin_dock.width(), window.caption_dock.width()) == widths, target


def test_export_training_set_needs_clips_in_the_bin(qtbot, tmp_path):
    """Issue 16: with an empty bin, File › Export Training Set… was enabled."""
    project = Project(tmp_path / "project")
    window = MainWindow(project)
    qtbot.addWidget(window)
    try:
        window.show()
        qtbot.waitExposed(window)
        assert not window.export_dataset_action.isEnabled()
        assert not window.bin.remove_action.isEnabled()
        video = make_video(tmp_path / "video.mp4", width=64, height=48, frames=4)
        with qtbot.waitSignal(window.files_opened, timeout=60_000):
            window.open_files([str(video)])
        assert window.export_dataset_action.isEnabled()
        assert window.bin.remove_action.isEnabled()  # the opened file is selected
        window.bin.remove_action.trigger()
        qtbot.waitUntil(lambda: not project.clips(), timeout=5000)
        assert not window.export_dataset_action.isEnabled()
        assert not window.bin.remove_action.isEnabled()
    finally:
        window.close()
        project.close()
