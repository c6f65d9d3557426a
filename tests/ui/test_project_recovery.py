"""A project that cannot be opened at start: a message naming what is wrong and a choice
(try again, another folder, quit), with real damaged, empty and busy project databases; the
damaged file is never touched."""

from __future__ import annotations

import sqlite3

import pytest

from studio.core import library
from studio.core.library import Project
from studio.ui.project_recovery import (
    OTHER_FOLDER,
    QUIT,
    RETRY,
    RecoveryDialog,
    open_with_recovery,
    recovery_choices,
)


@pytest.fixture
def empty_project(tmp_path):
    root = tmp_path / "broken"
    root.mkdir()
    (root / "project.sqlite").write_bytes(b"")
    return root


def test_a_damaged_project_offers_another_folder_or_quit(qtbot, empty_project, tmp_path):
    with pytest.raises(library.DamagedProjectError) as info:
        Project(empty_project)
    dialog = RecoveryDialog(empty_project, info.value)
    qtbot.addWidget(dialog)
    assert "damaged" in dialog.text() and str(empty_project) in dialog.informativeText()
    assert dialog.button(RETRY) is None
    assert dialog.button(OTHER_FOLDER).text() == "Open Another Folder…"
    dialog.button(QUIT).click()
    assert dialog.choice() == QUIT

    asked = []

    def choose(root, err):
        asked.append((root, type(err).__name__))
        return OTHER_FOLDER, tmp_path / "fresh"

    project = open_with_recovery(empty_project, choose)
    try:
        assert project.root == tmp_path / "fresh"
        assert asked == [(empty_project, "DamagedProjectError")]
    finally:
        project.close()
    assert (empty_project / "project.sqlite").read_bytes() == b""  # never touched


def test_quit_opens_nothing(empty_project):
    assert open_with_recovery(empty_project, lambda root, err: (QUIT, None)) is None


def test_a_busy_project_can_be_tried_again_once_the_other_program_lets_go(tmp_path,
                                                                          monkeypatch):
    monkeypatch.setattr(library, "LOCK_TIMEOUT_S", 0.2)
    root = tmp_path / "busy"
    Project(root).close()
    other = sqlite3.connect(root / "project.sqlite", isolation_level=None)
    other.execute("PRAGMA journal_mode = DELETE")  # its lock then blocks readers as well
    other.execute("BEGIN EXCLUSIVE")
    choices = []

    def choose(where, err):
        choices.append(recovery_choices(err))
        other.execute("ROLLBACK")  # the other program is done
        other.close()
        return RETRY, None

    project = open_with_recovery(root, choose)
    try:
        assert project is not None and choices == [(RETRY, OTHER_FOLDER, QUIT)]
    finally:
        project.close()
