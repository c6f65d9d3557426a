"""File > Export…: the dialog plans what each clip becomes, names follow a pattern and never
clobber, and exports run one at a time in the background queue with progress, cancel and
clear failures."""

from __future__ import annotations

import errno
import os
import subprocess
import threading
from pathlib import Path

import av
import pytest
from PySide6.QtCore import QObject, QSettings, Qt, QTimer, QUrl, Slot
from PySide6.QtGui import QDesktopServices, QImage, QPainter
from PySide6.QtWidgets import QApplication

from studio.core.library import Project
from studio.ui.export_dialog import (
    ExportDialog,
    ExportSource,
    folder_problem,
    format_name,
    sources_for_clips,
)
from studio.ui.export_queue import (
    CANCELLED,
    DONE,
    FAILED,
    QUEUED,
    RUNNING,
    ExportQueue,
    ExportQueuePanel,
    ExportStatusWidget,
)
from tests.media_factory import frame_number_of, make_video

TIMEOUT = 60000


@pytest.fixture(scope="module")
def sources_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("export-ui-src")
    make_video(folder / "walk.mp4", width=96, height=64, frames=30, fps=30, gop=10)
    make_video(folder / "pan.mp4", width=64, height=96, frames=20, fps=24)
    # long enough that a cancel lands while it runs (the tests also hold it on purpose)
    make_video(folder / "long.mp4", width=160, height=96, frames=120, fps=30, gop=30)
    return folder


@pytest.fixture
def queue(qtbot):
    q = ExportQueue()
    yield q
    assert q.shutdown(30000)


@pytest.fixture
def settings(tmp_path):
    return QSettings(str(tmp_path / "ui.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def open_dialog(qtbot, queue, settings, tmp_path):
    made = []

    def open_(sources, folder=None, wait=True) -> ExportDialog:
        dialog = ExportDialog(sources, queue, default_folder=tmp_path / "exports",
                              settings=settings)
        qtbot.addWidget(dialog)
        if folder is not None:
            dialog.folder_edit.setText(str(folder))
        dialog.show()
        made.append(dialog)
        if wait:
            wait_planned(qtbot, dialog)
        return dialog

    yield open_
    for dialog in made:
        dialog.shutdown()


def wait_planned(qtbot, dialog: ExportDialog) -> None:
    qtbot.waitUntil(lambda: not dialog.planning, timeout=TIMEOUT)


def clip_project(tmp_path, sources_dir, names, marks=None) -> tuple[Project, list[int]]:
    project = Project(tmp_path / "project")
    ids = []
    for name in names:
        clip, _ = project.import_file(sources_dir / name)
        ids.append(clip.id)
    for clip_id, (first, last) in (marks or {}).items():
        project.set_in_out(ids[clip_id], first, last)
    return project, ids


def decoded(path: Path) -> tuple[str, int, int, list[int]]:
    """codec, width, height and the frame numbers written into each frame."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        numbers = [frame_number_of(f.to_ndarray(format="rgb24")) for f in container.decode(stream)]
        return stream.codec_context.name, stream.width, stream.height, numbers


def finals(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".studio-export-"))


def wait_job(qtbot, job, states=(DONE, FAILED, CANCELLED)) -> None:
    qtbot.waitUntil(lambda: job.state in states, timeout=TIMEOUT)


class _Gate:
    """Fault injection: holds the encoder on its first frame until released, so a test can
    act while an export is certainly running."""

    def __init__(self, monkeypatch):
        from studio.core import export

        self.entered = threading.Event()
        self.release = threading.Event()
        original = export._conform_image

        def held(*args, **kwargs):
            self.entered.set()
            self.release.wait(30)
            return original(*args, **kwargs)

        monkeypatch.setattr(export, "_conform_image", held)


# ---- names and folders (pure) -------------------------------------------------------------------

def test_name_pattern_fields_and_sanitising():
    source = ExportSource("/m/walk.mp4", "walk.mp4", "walk", in_frame=5, out_frame=14,
                          frame_count=30)
    assert format_name("{name}_{preset}", source, "mp4", "2025-01-02") == "walk_mp4"
    assert format_name("{name}_{in}-{out}_{date}", source, "gif", "2025-01-02") \
        == "walk_5-14_2025-01-02"
    whole = ExportSource("/m/walk.mp4", "walk.mp4", "walk", frame_count=30)
    assert format_name("{name} {in:04d}-{out:04d}", whole, "mp4", "d") == "walk_0000-0029"
    # separators, "..", reserved characters and device names never reach the file system
    assert format_name("../{name}/../x: <y>?", source, "mp4", "d") == "walk_.._x_y"
    assert format_name("con", source, "mp4", "d") == "_con"
    assert format_name("{name}" * 40, source, "mp4", "d").encode().__len__() <= 120
    with pytest.raises(ValueError, match=r"unknown field \{title\}"):
        format_name("{title}", source, "mp4", "d")
    with pytest.raises(ValueError, match="not valid"):
        format_name("{name", source, "mp4", "d")
    with pytest.raises(ValueError, match="empty"):
        format_name("  ", source, "mp4", "d")


def test_folder_problems(tmp_path):
    assert folder_problem("")[0] == "Choose a folder to export into."
    assert folder_problem("relative/dir")[0].endswith("give the full path of a folder.")
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    assert folder_problem(str(a_file))[0] == f"{a_file} is a file, not a folder."
    problem, _ = folder_problem(str(a_file / "sub"))
    assert problem == f"{a_file / 'sub'} cannot be created: {a_file} is a file, not a folder."
    problem, note = folder_problem(str(tmp_path / "new" / "deeper"))
    assert problem is None and note == f"deeper will be created in {tmp_path}."
    assert folder_problem(str(tmp_path)) == (None, None)


# ---- the dialog ---------------------------------------------------------------------------------

def test_dialog_plans_each_clip_and_previews_names(qtbot, tmp_path, sources_dir, open_dialog):
    project, ids = clip_project(tmp_path, sources_dir, ["walk.mp4", "pan.mp4"],
                                marks={0: (5, 14)})
    missing = ExportSource(str(tmp_path / "gone.mp4"), "gone.mp4", "gone", frame_count=10)
    out = tmp_path / "out"
    dialog = open_dialog(sources_for_clips(project, ids) + [missing], folder=out)
    assert dialog.preset_name == "mp4"
    assert dialog.table.item(0, 1).text() == "5–14"
    assert dialog.table.item(1, 1).text() == "whole (0–19)"
    # frames, size, duration per clip from plan_export; the missing source is a problem
    assert dialog.plans[0].frames == 10 and dialog.plans[1].frames == 20
    assert dialog.table.item(0, 3).text().startswith("10 @ 30 fps")
    assert dialog.table.item(0, 4).text() == "96×64"
    assert dialog.table.item(1, 5).text() == "0.83 s"
    assert "gone.mp4" in dialog.problems[2] and "not found" in dialog.problems[2]
    assert "1 clip will be skipped: gone.mp4:" in dialog.problem_label.text()
    assert dialog.summary_label.text().startswith("2 of 3 clips · 30 frames · 1.17 s")
    assert dialog.export_button.isEnabled() and dialog.export_button.text() == \
        "Export 2 of 3 Clips"
    assert dialog.folder_label.text() == f"out will be created in {tmp_path}."

    # the name pattern previews live, per clip, sanitised
    assert dialog.table.item(0, 2).text() == "walk.mp4"
    dialog.pattern_edit.setText("{name} / {in}-{out} : {preset}")
    assert dialog.table.item(0, 2).text() == "walk_5-14_mp4.mp4"
    assert dialog.table.item(1, 2).text() == "pan_0-19_mp4.mp4"
    assert dialog.name_preview.text().startswith("→ walk_5-14_mp4.mp4")
    dialog.pattern_edit.setText("{name}_{speed}")
    assert "Unknown field {speed}" in dialog.name_preview.text()
    assert not dialog.export_button.isEnabled()
    dialog.pattern_edit.setText("{name}")

    # options re-plan: a size and a rate change frames and size; a GIF gets its defaults
    dialog.width_spin.setValue(48)
    dialog.fps_spin.setValue(15)
    wait_planned(qtbot, dialog)
    assert (dialog.plans[0].width, dialog.plans[0].height, dialog.plans[0].frames) == (48, 32, 5)
    dialog.set_preset("gif")
    wait_planned(qtbot, dialog)
    assert not dialog.quality_box.isEnabled()
    assert dialog.table.item(0, 2).text() == "walk.gif"
    assert "loop" in dialog.preset_description.text().lower()

    # training presets take the project's caption; an uncaptioned clip says so
    project.add_caption(ids[1], "a slow pan over a city", source="edit")
    dialog.close()
    dialog = open_dialog(sources_for_clips(project, ids), folder=out)
    dialog.width_spin.setValue(0)
    dialog.fps_spin.setValue(0)
    dialog.set_preset("wan-train")
    wait_planned(qtbot, dialog)
    assert "no caption yet" in dialog.problems[0]
    assert dialog.plans[1].frames == 13  # 20 frames at 24 fps -> 0.83 s at 16 fps: 4k+1
    assert dialog.table.item(1, 6).text() == "“a slow pan over a city”"
    assert "metadata.jsonl" in dialog.name_preview.text()
    project.close()


def test_read_only_or_invalid_folder_is_a_clear_message(qtbot, tmp_path, sources_dir,
                                                         open_dialog):
    project, ids = clip_project(tmp_path, sources_dir, ["walk.mp4"])
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the folder should be")
    dialog = open_dialog(sources_for_clips(project, ids), folder=blocker / "out")
    assert dialog.folder_label.isVisible()
    assert dialog.folder_label.text() == (f"{blocker / 'out'} cannot be created: {blocker} "
                                          "is a file, not a folder.")
    assert dialog.folder_label.text() in dialog.problem_label.text()
    assert not dialog.export_button.isEnabled()
    assert dialog.start_export() is None  # Enter does nothing either

    point = tmp_path / "ro"
    point.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,ro", "tmpfs", str(point)],
                          check=False, capture_output=True)
    if done.returncode == 0:
        try:
            dialog.folder_edit.setText(str(point))
            assert dialog.folder_label.text() == \
                f"{point}: the folder is on a read-only file system."
            assert not dialog.export_button.isEnabled()
        finally:
            subprocess.run(["umount", str(point)], check=False, capture_output=True)
    elif os.geteuid() != 0:
        point.chmod(0o555)
        dialog.folder_edit.setText(str(point))
        assert "permission denied" in dialog.folder_label.text()
        assert not dialog.export_button.isEnabled()
        point.chmod(0o755)
    dialog.folder_edit.setText(str(tmp_path / "fine"))
    assert dialog.export_button.isEnabled()
    project.close()


def test_a_write_refused_during_the_run_is_shown_and_leaves_nothing(
        qtbot, tmp_path, sources_dir, open_dialog, queue, monkeypatch):
    project, ids = clip_project(tmp_path, sources_dir, ["walk.mp4"])
    out = tmp_path / "out"
    dialog = open_dialog(sources_for_clips(project, ids), folder=out)
    panel = ExportQueuePanel(queue)
    qtbot.addWidget(panel)

    def refuse(*args, **kwargs):  # the rename into place fails, as on a folder gone read-only
        raise PermissionError(errno.EACCES, "Permission denied", str(args[-1]))

    monkeypatch.setattr(os, "link", refuse)
    monkeypatch.setattr(os, "replace", refuse)
    job = dialog.start_export()
    wait_job(qtbot, job)
    monkeypatch.undo()
    assert job.state == FAILED
    row = panel.rows[job.id]
    assert row.state_label.text() == (f"Failed: {out / 'walk.mp4'}: cannot write it "
                                      "(permission denied)")
    assert not row.show_button.isVisible() and not row.cancel_button.isVisible()
    assert finals(out) == [] and leftovers(out) == []
    project.close()


def test_two_clips_export_as_mp4_with_exact_trims(qtbot, tmp_path, sources_dir, open_dialog,
                                                  queue, settings):
    project, ids = clip_project(tmp_path, sources_dir, ["walk.mp4", "pan.mp4"],
                                marks={0: (5, 14)})
    out = tmp_path / "out"
    dialog = open_dialog(sources_for_clips(project, ids), folder=out)
    dialog.pattern_edit.setText("{name}_{in}-{out}")
    dialog.speed_combo.setCurrentText("veryfast")
    wait_planned(qtbot, dialog)
    with qtbot.waitSignal(queue.job_finished, timeout=TIMEOUT) as finished:
        qtbot.mouseClick(dialog.export_button, Qt.MouseButton.LeftButton)
    job = finished.args[0]
    assert not dialog.isVisible()  # the dialog closes; the export goes on in the queue
    assert job.state == DONE, job.summary()
    assert finals(out) == ["pan_0-19.mp4", "walk_5-14.mp4"]
    assert decoded(out / "walk_5-14.mp4") == ("h264", 96, 64, list(range(5, 15)))
    assert decoded(out / "pan_0-19.mp4") == ("h264", 64, 96, list(range(20)))
    assert [r.frames for r in job.results] == [10, 20]
    assert job.summary().startswith("Done · 2 files, 1.17 s of video")
    assert job.done_frames == job.total_frames == 30
    # the folder, preset and pattern are remembered; "replace" is not
    assert settings.value("export/folder") == str(out)
    assert settings.value("export/pattern") == "{name}_{in}-{out}"
    again = open_dialog(sources_for_clips(project, ids))
    assert again.folder_edit.text() == str(out)
    assert again.pattern_edit.text() == "{name}_{in}-{out}"
    assert again.speed_combo.currentText() == "veryfast"
    assert not again.overwrite_check.isChecked()
    project.close()


def test_existing_file_is_numbered_unless_replace_is_ticked(qtbot, tmp_path, sources_dir,
                                                            open_dialog):
    project, ids = clip_project(tmp_path, sources_dir, ["walk.mp4"])
    out = tmp_path / "out"
    out.mkdir()
    (out / "walk.mp4").write_bytes(b"precious")
    dialog = open_dialog(sources_for_clips(project, ids), folder=out)
    assert dialog.table.item(0, 2).text() == "walk_2.mp4"
    assert "numbered" in dialog.name_preview.text()
    job = dialog.start_export()
    wait_job(qtbot, job)
    assert job.state == DONE
    assert (out / "walk.mp4").read_bytes() == b"precious"
    assert decoded(out / "walk_2.mp4")[3] == list(range(30))

    dialog = open_dialog(sources_for_clips(project, ids), folder=out)
    assert dialog.table.item(0, 2).text() == "walk_3.mp4"
    dialog.overwrite_check.setChecked(True)
    assert dialog.table.item(0, 2).text() == "walk.mp4"
    assert "replaces the existing file" in dialog.name_preview.text()
    job = dialog.start_export()
    wait_job(qtbot, job)
    assert job.state == DONE
    assert decoded(out / "walk.mp4")[3] == list(range(30))
    assert finals(out) == ["walk.mp4", "walk_2.mp4"]
    project.close()


def test_training_preset_writes_captions_and_a_manifest(qtbot, tmp_path, sources_dir,
                                                        open_dialog):
    project, ids = clip_project(tmp_path, sources_dir, ["walk.mp4", "pan.mp4"])
    project.add_caption(ids[1], "a slow pan over a city", source="edit")
    out = tmp_path / "set"
    dialog = open_dialog(sources_for_clips(project, ids), folder=out)
    dialog.set_preset("wan-train")
    wait_planned(qtbot, dialog)
    assert dialog.export_button.text() == "Export 1 of 2 Clips"  # walk has no caption
    job = dialog.start_export()
    wait_job(qtbot, job)
    assert job.state == DONE and len(job.items) == 1
    assert finals(out) == ["metadata.jsonl", "pan.mp4", "pan.txt"]
    assert (out / "pan.txt").read_text() == "a slow pan over a city\n"
    assert job.outputs == [str(out / "pan.mp4"), str(out / "metadata.jsonl")]
    assert len(decoded(out / "pan.mp4")[3]) == 13  # 4k+1 at 16 fps
    project.close()


# ---- the queue ----------------------------------------------------------------------------------

def test_exports_queue_up_and_run_one_at_a_time_in_order(qtbot, tmp_path, sources_dir,
                                                         open_dialog, queue, monkeypatch):
    project, ids = clip_project(tmp_path, sources_dir, ["long.mp4", "walk.mp4"])
    panel = ExportQueuePanel(queue)
    status = ExportStatusWidget(queue)
    qtbot.addWidget(panel)
    qtbot.addWidget(status)
    gate = _Gate(monkeypatch)
    first = open_dialog(sources_for_clips(project, ids[:1]), folder=tmp_path / "a").start_export()
    assert gate.entered.wait(30)  # the first export is encoding now
    second = open_dialog(sources_for_clips(project, ids[1:]), folder=tmp_path / "b")
    second.set_preset("webm")
    wait_planned(qtbot, second)
    second = second.start_export()
    order = []
    queue.job_changed.connect(lambda job: order.append((job.id, job.state))
                              if job.state in (RUNNING, DONE) else None)
    assert (first.state, second.state) == (RUNNING, QUEUED)
    assert queue.running_job is first
    assert panel.rows[second.id].state_label.text() == "Waiting · 1 clip"
    assert panel.overall_label.text() == "Exporting · 1 running, 1 waiting"
    assert not status.isHidden() and status.label.text().startswith("Exporting · 2 jobs")
    gate.release.set()
    wait_job(qtbot, second)
    assert (first.state, second.state) == (DONE, DONE)
    assert first.finished_at <= second.started_at
    transitions = [t for k, t in enumerate(order) if t not in order[:k]
                   and t != (first.id, RUNNING)]
    assert transitions == [(first.id, DONE), (second.id, RUNNING), (second.id, DONE)]
    assert decoded(tmp_path / "a" / "long.mp4")[3] == list(range(120))
    assert decoded(tmp_path / "b" / "walk.webm")[:3] == ("vp9", 96, 64)
    assert panel.overall_label.text() == "All exports ended · 2 done"
    assert status.isHidden()

    # Show in Folder opens the output's folder
    opened = _UrlCatcher()
    QDesktopServices.setUrlHandler("file", opened, "open")
    try:
        qtbot.mouseClick(panel.rows[second.id].show_button, Qt.MouseButton.LeftButton)
    finally:
        QDesktopServices.unsetUrlHandler("file")
    assert opened.urls == [QUrl.fromLocalFile(str(tmp_path / "b"))]
    panel.queue.clear_finished()
    assert panel.rows == {} and queue.jobs() == []
    project.close()


class _UrlCatcher(QObject):
    def __init__(self):
        super().__init__()
        self.urls = []

    @Slot(QUrl)
    def open(self, url: QUrl) -> None:
        self.urls.append(url)


def test_cancel_stops_a_running_export_and_leaves_no_final_file(qtbot, tmp_path, sources_dir,
                                                                open_dialog, queue,
                                                                monkeypatch):
    project, ids = clip_project(tmp_path, sources_dir, ["long.mp4", "walk.mp4"])
    panel = ExportQueuePanel(queue)
    qtbot.addWidget(panel)
    gate = _Gate(monkeypatch)
    out = tmp_path / "out"
    job = open_dialog(sources_for_clips(project, ids), folder=out).start_export()
    waiting = open_dialog(sources_for_clips(project, ids[1:]), folder=out).start_export()
    assert gate.entered.wait(30)
    qtbot.mouseClick(panel.rows[job.id].cancel_button, Qt.MouseButton.LeftButton)
    assert job.state == "cancelling"
    queue.cancel(waiting.id)  # a waiting job is dropped at once, never started
    assert waiting.state == CANCELLED and waiting.started_at is None
    gate.release.set()
    wait_job(qtbot, job)
    assert job.state == CANCELLED
    assert job.summary() == "Cancelled · nothing written"
    assert finals(out) == [] and leftovers(out) == []
    assert queue.running_job is None and not queue.active
    project.close()


# ---- the main window and a look ------------------------------------------------------------------

def test_file_export_in_the_main_window(qtbot, tmp_path, sources_dir):
    from studio.ui.main_window import MainWindow

    project, _ids = clip_project(tmp_path, sources_dir, ["walk.mp4", "pan.mp4"])
    window = MainWindow(project)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    try:
        qtbot.waitUntil(lambda: window.bin.model.rowCount() == 2, timeout=TIMEOUT)
        assert window.export_action.shortcut().toString() == "Ctrl+E"
        assert not window.export_action.isEnabled()
        window.bin.view.selectAll()
        assert window.export_action.isEnabled()
        window.export_action.trigger()
        dialog = window.export_clips_dialog()  # the same dialog, raised
        assert isinstance(dialog, ExportDialog) and dialog.isVisible()
        assert sorted(s.label for s in dialog.sources) == ["pan.mp4", "walk.mp4"]
        dialog.folder_edit.setText(str(tmp_path / "out"))
        wait_planned(qtbot, dialog)
        job = dialog.start_export()
        assert window.exports_dock.isVisible()
        wait_job(qtbot, job)
        assert job.state == DONE
        assert finals(tmp_path / "out") == ["pan.mp4", "walk.mp4"]
        assert "Done · 2 files" in window.statusBar().currentMessage()
        # the next Export (from the event loop, as a key press runs it) is a fresh dialog
        # remembering the folder; the old one is deleted
        with qtbot.waitSignal(dialog.destroyed, timeout=TIMEOUT):
            QTimer.singleShot(0, window.export_action.trigger)
        fresh = window._clip_export_dialog
        assert fresh is not dialog and fresh.isVisible()
        assert fresh.folder_edit.text() == str(tmp_path / "out")
        fresh.close()
    finally:
        window.shutdown()
    project.close()


def test_screenshot(qtbot, tmp_path, sources_dir, open_dialog, queue, monkeypatch):
    project, ids = clip_project(tmp_path, sources_dir, ["walk.mp4", "pan.mp4", "long.mp4"],
                                marks={0: (5, 14)})
    out = tmp_path / "out"
    out.mkdir()
    (out / "pan.mp4").write_bytes(b"x")
    missing = ExportSource(str(tmp_path / "gone.mp4"), "gone.mp4", "gone", frame_count=10)
    panel = ExportQueuePanel(queue)
    qtbot.addWidget(panel)
    panel.resize(420, 360)
    panel.show()
    done = open_dialog(sources_for_clips(project, ids[:1]), folder=out).start_export()
    wait_job(qtbot, done)
    gate = _Gate(monkeypatch)
    running = open_dialog(sources_for_clips(project, ids[2:]), folder=out).start_export()
    assert gate.entered.wait(30)
    dialog = open_dialog(sources_for_clips(project, ids) + [missing], folder=out)
    dialog.start_export()
    dialog = open_dialog(sources_for_clips(project, ids) + [missing], folder=out)
    qtbot.waitUntil(lambda: len(panel.rows) == 3, timeout=TIMEOUT)
    QApplication.processEvents()  # layouts settle (the Export button's new text)
    left, right = dialog.grab().toImage(), panel.grab().toImage()
    canvas = QImage(left.width() + right.width() + 8, max(left.height(), right.height()),
                    QImage.Format.Format_RGB32)
    canvas.fill(Qt.GlobalColor.darkGray)
    painter = QPainter(canvas)
    painter.drawImage(0, 0, left)
    painter.drawImage(left.width() + 8, 0, right)
    painter.end()
    assert canvas.save("/tmp/export.png")
    gate.release.set()
    wait_job(qtbot, running)
    project.close()


def test_names_are_the_sources_own_and_an_old_default_pattern_gives_way(
        tmp_path, sources_dir, open_dialog, settings):
    """Issue 16: exports were named walk_mp4.mp4 (the pattern {name}_{preset}); the name is
    now the source's (walk.mp4, walk_2.mp4 when taken). A remembered {name}_{preset}, the
    old default, gives way; a pattern a person wrote stays."""
    project, ids = clip_project(tmp_path, sources_dir, ["walk.mp4"])
    settings.setValue("export/pattern", "{name}_{preset}")
    dialog = open_dialog(sources_for_clips(project, ids), folder=tmp_path / "out")
    assert dialog.pattern_edit.text() == "{name}"
    assert dialog.table.item(0, 2).text() == "walk.mp4"
    settings.setValue("export/pattern", "{name}_{in}")
    again = open_dialog(sources_for_clips(project, ids), folder=tmp_path / "out")
    assert again.pattern_edit.text() == "{name}_{in}"
    project.close()
