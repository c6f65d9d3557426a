"""A project open read-only in the main window (issue 14): nothing a person does writes to it
or raises; each refused edit says why and leaves no undo step, and typed text stays."""

from __future__ import annotations

import hashlib

from studio.core.library import Project
from tests.media_factory import make_video


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_edits_on_a_read_only_project_are_refused_with_a_message(qtbot, tmp_path):
    from studio.ui.main_window import MainWindow

    with Project(tmp_path / "p") as writable:
        clip, _ = writable.import_file(make_video(tmp_path / "a.mp4", frames=12))
    database = tmp_path / "p" / "project.sqlite"
    before = digest(database)
    project = Project(tmp_path / "p", read_only=True)
    window = MainWindow(project)
    qtbot.addWidget(window)
    try:
        window.show()
        qtbot.waitExposed(window)
        window.bin.select_clip(clip.id)
        qtbot.waitUntil(lambda: window.captions.clip is not None, timeout=10_000)
        window.captions.editor.setPlainText("typed on a read-only project")
        assert window.captions.commit_edit() is False
        assert window.captions.dirty  # the text stays, unsaved
        assert "Caption not saved" in window.statusBar().currentMessage()
        window.bin.remove_selected()
        assert "Not removed" in window.statusBar().currentMessage()
        assert window.bin.model.rowCount() == 1
        window.player.seek(3)
        window.player.set_in_point()
        assert "read-only" in window.statusBar().currentMessage()
        assert window.undo_stack.count() == 0  # no step that did nothing
        window.bin.import_paths([str(make_video(tmp_path / "b.mp4", frames=6))])
        assert "Nothing imported" in window.statusBar().currentMessage()
        window.generate_dock.toggleViewAction().trigger()
        window.prompt_panel.save_state()  # what a timer does after each change: no error
    finally:
        window.close()
        project.close()
    assert digest(database) == before
