"""The bin as a person uses it: drop a folder, see rows and thumbnails, filter, sort, remove."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from studio.ui.bin_panel import COL_DURATION, COL_NAME, BinPanel
from studio.ui.project_model import ProjectModel
from tests.media_factory import make_video
from tests.ui.columns import assert_columns_fit


def drop_paths(widget, paths) -> None:
    """Deliver a real drag-enter and drop of file URLs, as a file manager does."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    pos = widget.rect().center()
    enter = QDragEnterEvent(pos, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, enter)
    assert enter.isAccepted()
    drop = QDropEvent(pos.toPointF(), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                      Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, drop)


@pytest.fixture
def bin_panel(qtbot, project):
    panel = BinPanel(ProjectModel(project))
    qtbot.addWidget(panel)
    panel.resize(900, 600)
    panel.show()
    yield panel
    panel.shutdown()


def names(panel) -> list[str]:
    proxy = panel.proxy
    return [Path(panel.model.clip_at(proxy.mapToSource(proxy.index(r, 0)).row()).path).name
            for r in range(proxy.rowCount())]


def import_and_wait(qtbot, panel, paths, target=None):
    with qtbot.waitSignal(panel.import_finished, timeout=60000):
        drop_paths(target or panel.view.viewport(), paths)


def test_drop_folder_imports_media_recursively_and_marks_bad_files(qtbot, bin_panel, clip_folder):
    messages: list[str] = []
    bin_panel.status_message.connect(messages.append)  # same thread: a plain callable is fine
    import_and_wait(qtbot, bin_panel, [clip_folder])
    got = sorted(names(bin_panel))
    assert got == ["a_walk.mp4", "b_pan.mp4", "c_city.webm", "d_loop.gif", "e_still.png",
                   "f_broken.mp4"]
    clips = {Path(c.path).name: c for c in bin_panel.project.clips()}
    assert len(clips) == 6  # written to the project, not only shown
    broken = clips["f_broken.mp4"]
    assert broken.info is None and "not a media file" in broken.error
    row = bin_panel.model.row_of(broken.id)
    tooltip = bin_panel.model.index(row, COL_NAME).data(Qt.ItemDataRole.ToolTipRole)
    assert "f_broken.mp4" in tooltip and "not a media file" in tooltip
    walk = clips["a_walk.mp4"]
    row = bin_panel.model.row_of(walk.id)
    assert bin_panel.model.index(row, COL_DURATION).data() == "0:01.00"
    # f_broken.mp4 has its row, which says why, but is not counted as imported (issue 16)
    assert any("Imported 5 new of 6 file(s); 1 is not media (f_broken.mp4)" in m
               and "skipped 1 non-media" in m for m in messages), messages
    # Thumbnails arrive from the pool and are cached on disk for next time.
    qtbot.waitUntil(lambda: len(list(bin_panel.project.thumbnails_dir.glob("*.jpg"))) == 5,
                    timeout=30000)
    qtbot.waitUntil(lambda: bin_panel.model.thumbnail(walk.id) is not None, timeout=30000)
    assert not bin_panel.empty_hint.isVisible()


def test_dropping_the_same_files_twice_does_not_duplicate(qtbot, bin_panel, clip_folder):
    import_and_wait(qtbot, bin_panel, [clip_folder])
    import_and_wait(qtbot, bin_panel, [clip_folder / "day1", clip_folder / "day1" / "a_walk.mp4"])
    assert len(names(bin_panel)) == 6
    assert len(bin_panel.project.clips()) == 6


def test_drop_on_the_empty_hint_works_too(qtbot, bin_panel, clip_folder):
    assert bin_panel.empty_hint.isVisible()
    import_and_wait(qtbot, bin_panel, [clip_folder / "day1" / "b_pan.mp4"], target=bin_panel)
    assert names(bin_panel) == ["b_pan.mp4"]


def test_filter_and_sort(qtbot, bin_panel, clip_folder):
    import_and_wait(qtbot, bin_panel, [clip_folder])
    qtbot.keyClicks(bin_panel.filter_box, "day1")
    assert sorted(names(bin_panel)) == ["a_walk.mp4", "b_pan.mp4"]
    bin_panel.filter_box.clear()
    qtbot.keyClicks(bin_panel.filter_box, "city")
    assert names(bin_panel) == ["c_city.webm"]
    bin_panel.filter_box.clear()
    qtbot.keyClicks(bin_panel.filter_box, "GIF  Day2")  # every word, any order and case
    assert names(bin_panel) == ["d_loop.gif"]
    bin_panel.filter_box.clear()
    qtbot.keyClicks(bin_panel.filter_box, "a_walk.mp4 (")  # regex characters are literal
    assert names(bin_panel) == []
    bin_panel.filter_box.clear()
    bin_panel.view.sortByColumn(COL_DURATION, Qt.SortOrder.DescendingOrder)
    assert names(bin_panel)[0] == "a_walk.mp4"  # 1.0 s, the longest
    bin_panel.view.sortByColumn(COL_NAME, Qt.SortOrder.AscendingOrder)
    assert names(bin_panel) == sorted(names(bin_panel))


def test_remove_selected_forgets_clips_but_never_touches_files(qtbot, bin_panel, clip_folder):
    import_and_wait(qtbot, bin_panel, [clip_folder])
    victim = clip_folder / "day1" / "a_walk.mp4"
    before = (victim.read_bytes(), os.stat(victim).st_mtime_ns)
    bin_panel.view.setFocus()
    bin_panel.select_clip(next(c.id for c in bin_panel.project.clips() if c.path == str(victim)))
    qtbot.keyClick(bin_panel.view, Qt.Key.Key_Delete)
    assert "a_walk.mp4" not in names(bin_panel)
    assert str(victim) not in [c.path for c in bin_panel.project.clips()]
    assert (victim.read_bytes(), os.stat(victim).st_mtime_ns) == before
    # An import in between (a worker with its own connection) must not cost the undo.
    import_and_wait(qtbot, bin_panel, [clip_folder / "day2" / "e_still.png"])
    bin_panel.undo_stack.undo()  # the same clip comes back, not a new import of it
    assert "a_walk.mp4" in names(bin_panel)
    assert str(victim) in [c.path for c in bin_panel.project.clips()]
    bin_panel.undo_stack.redo()
    assert "a_walk.mp4" not in names(bin_panel)


def test_vanished_file_shows_as_missing_and_can_be_relinked(qtbot, project, tmp_path):
    clip_path = make_video(tmp_path / "moving.mp4", frames=10)
    panel = BinPanel(ProjectModel(project))
    qtbot.addWidget(panel)
    try:
        import_and_wait(qtbot, panel, [clip_path])
    finally:
        panel.shutdown()
    moved = tmp_path / "elsewhere" / "moving.mp4"
    moved.parent.mkdir()
    clip_path.rename(moved)
    panel = BinPanel(ProjectModel(project))  # as on the next start
    qtbot.addWidget(panel)
    try:
        clip = panel.model.clip_at(0)
        assert clip.missing
        tooltip = panel.model.index(0, COL_NAME).data(Qt.ItemDataRole.ToolTipRole)
        assert "missing" in tooltip and "Relink" in tooltip
        assert panel.relink(clip.id, str(moved))
        assert not panel.model.clip_at(0).missing
        assert panel.model.clip_at(0).path == str(moved)
    finally:
        panel.shutdown()


def test_a_second_import_while_the_first_runs_is_counted_together(qtbot, bin_panel, clip_folder):
    with qtbot.waitSignal(bin_panel.import_finished, timeout=60000):
        bin_panel.import_paths([str(clip_folder / "day1")])
        bin_panel.import_paths([str(clip_folder / "day2")])
    assert len(names(bin_panel)) == 6


def test_cancel_stops_an_import_and_keeps_what_was_added(qtbot, bin_panel, tmp_path):
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(80):
        make_video(folder / f"clip_{i:02d}.mp4", frames=2, preset="ultrafast")
    messages: list[str] = []
    bin_panel.status_message.connect(messages.append)
    with qtbot.waitSignal(bin_panel.import_finished, timeout=60000):
        bin_panel.import_paths([str(folder)])
        qtbot.waitUntil(lambda: bin_panel.progress_row.isVisible(), timeout=10000)
        qtbot.mouseClick(bin_panel.cancel_button, Qt.MouseButton.LeftButton)
    assert any("(cancelled)" in m for m in messages), messages
    assert not bin_panel.progress_row.isVisible()
    shown = len(names(bin_panel))
    assert shown < 80
    assert len(bin_panel.project.clips()) == shown  # the bin and the project agree


def test_a_dropped_file_whose_name_is_not_utf8_is_imported_with_the_rest(qtbot, bin_panel,
                                                                          media, tmp_path):
    """Issue 14 item 2: the import hung (UnicodeEncodeError in the project) and the valid
    file dropped with it was not imported either. A file manager sends the name's bytes
    percent-encoded; the bin shows U+FFFD where a byte is not text."""
    import os
    import shutil

    from PySide6.QtCore import QMimeData, QUrl

    from studio.ui.file_drops import dropped_paths

    folder = tmp_path / "drop"
    folder.mkdir()
    bad = os.fsdecode(os.path.join(os.fsencode(folder), b"caf\xe9.mp4"))  # Latin-1 bytes
    shutil.copyfile(media["h264_cfr"], bad)
    good = folder / "good.mp4"
    shutil.copyfile(media["h264_cfr"], good)
    mime = QMimeData()
    mime.setUrls([QUrl.fromEncoded(b"file://" + os.fsencode(folder) + b"/caf%E9.mp4"),
                  QUrl.fromLocalFile(str(good))])
    assert dropped_paths(mime) == [bad, str(good)]
    with qtbot.waitSignal(bin_panel.import_finished, timeout=60000):
        bin_panel.import_paths(dropped_paths(mime))
    clips = bin_panel.project.clips()
    assert sorted(c.path for c in clips) == sorted([bad, str(good)])
    assert all(c.info is not None and not c.missing for c in clips)
    shown = sorted(bin_panel.model.index(r, COL_NAME).data().split("\n")[0]
                   for r in range(bin_panel.model.rowCount()))
    assert shown == ["caf\ufffd.mp4", "good.mp4"]


def test_import_files_reports_the_scan_then_batches_and_stops_when_cancelled(clip_folder):
    """The bin's import worker (a superqt generator): its first report counts the files and
    what the scan skipped, the rest are probed batches; a cancelled one probes nothing more."""
    from studio.core.cancel import CancelToken
    from studio.ui.media_workers import Inspected, Scanned, import_files

    reports = list(import_files([str(clip_folder)], CancelToken()))
    assert reports[0] == Scanned(6, 1)  # five media files and a broken one; notes.txt skipped
    batches = reports[1:]
    assert batches and all(isinstance(r, Inspected) for r in batches)
    assert sum(len(r.found) + len(r.failed) for r in batches) == 6
    cancelled = CancelToken()
    cancelled.cancel()
    assert list(import_files([str(clip_folder)], cancelled)) == [Scanned(6, 1)]


def test_a_big_project_shows_its_first_rows_at_once_and_the_rest_after(qtbot, tmp_path,
                                                                         monkeypatch):
    """Start-up that does not grow with the project (issue 19, item 6): the bin makes the
    first rows before the window paints and the rest a few at a time from the event loop; a
    clip removed before its row was made gets none."""
    import shutil

    from studio.core.library import Project
    from studio.ui import bin_panel
    from studio.ui.bin_panel import BinPanel
    from studio.ui.project_model import ProjectModel
    from tests.media_factory import make_video

    monkeypatch.setattr(bin_panel, "FIRST_ROWS", 3)
    monkeypatch.setattr(bin_panel, "ROWS_PER_TICK", 2)
    first = make_video(tmp_path / "c0.mp4", frames=4)
    for i in range(1, 8):
        shutil.copy(first, tmp_path / f"c{i}.mp4")
    with Project(tmp_path / "p") as project:
        ids = [project.import_file(tmp_path / f"c{i}.mp4")[0].id for i in range(8)]
        model = ProjectModel(project)
        panel = BinPanel(model)
        qtbot.addWidget(panel)
        try:
            assert panel.model.rowCount() == 3 and panel.loading_rows
            model.remove_clips([ids[6]])
            panel.show()
            qtbot.waitUntil(lambda: not panel.loading_rows, timeout=10_000)
            assert [c.id for c in panel.model.clips()] == ids[:6] + ids[7:]
        finally:
            panel.shutdown()


def test_import_counts_say_how_many_files_were_usable(qtbot, bin_panel, tmp_path):
    """Issue 16: a video and a file that is not media said "Imported 2 new of 2 file(s)"."""
    video = make_video(tmp_path / "video.mp4", width=64, height=48, frames=4)
    notes = tmp_path / "notes.mp4"
    notes.write_text("not a video")
    messages: list[str] = []
    bin_panel.status_message.connect(messages.append)
    import_and_wait(qtbot, bin_panel, [video, notes])
    assert messages[-1] == "Imported 1 new of 2 file(s); 1 is not media (notes.mp4)"
    other = tmp_path / "other.txt"
    other.write_text("neither")
    import_and_wait(qtbot, bin_panel, [notes, other])
    assert messages[-1] == "Imported 0 new of 2 file(s); 2 are not media (notes.mp4 and 1 more)"


def test_remove_from_project_needs_a_selection(qtbot, bin_panel, tmp_path):
    """Issue 16: with an empty bin, Remove from Project was enabled."""
    assert not bin_panel.remove_action.isEnabled()
    video = make_video(tmp_path / "video.mp4", width=64, height=48, frames=4)
    import_and_wait(qtbot, bin_panel, [video])
    bin_panel.view.clearSelection()
    assert not bin_panel.remove_action.isEnabled()
    clip = bin_panel.project.clips()[0]
    bin_panel.select_clip(clip.id)
    assert bin_panel.remove_action.isEnabled()
    bin_panel.remove_action.trigger()
    qtbot.waitUntil(lambda: bin_panel.model.rowCount() == 0, timeout=5000)
    assert not bin_panel.remove_action.isEnabled()


@pytest.mark.parametrize("width", [185, 300, 480, 760, 1400])
def test_no_column_title_is_cut_off_at_any_bin_width(qtbot, bin_panel, clip_folder, width):
    """Issue 16: a narrow bin showed "Durati" at its edge and scrolled sideways; it shows
    the columns that fit beside the name, each as wide as its title at least."""
    from studio.ui.bin_panel import COLUMNS

    import_and_wait(qtbot, bin_panel, [clip_folder / "day1" / "a_walk.mp4"])
    bin_panel.resize(width, 400)
    bin_panel.show()
    qtbot.waitExposed(bin_panel)
    view = bin_panel.view
    shown = assert_columns_fit(qtbot, view, view.horizontalHeader(), COLUMNS, [COL_NAME], width)
    if width >= 1400:
        assert len(shown) == len(COLUMNS)
    if width >= 480:
        assert COL_DURATION in shown
