"""A project that cannot be opened at start: a message naming what is wrong and a choice
(open read-only, make a copy, try again, a new project elsewhere, quit), with real damaged,
empty, read-only and busy project databases; the damaged file is never touched."""

from __future__ import annotations

import hashlib
import os
import re
import sqlite3
from pathlib import Path

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QProgressDialog

from studio.core import library
from studio.core.library import Project
from studio.ui.project_recovery import (
    COPY,
    OTHER_FOLDER,
    QUIT,
    READ_ONLY,
    RETRY,
    ChoiceFailed,
    RecoveryDialog,
    open_with_recovery,
    recovery_choices,
    wait_for_lock,
    wait_visibly,
)
from tests.core.test_library import write_file
from tests.core.test_project_read_only import damage_an_index


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
    assert dialog.button(OTHER_FOLDER).text() == "Start a New Project Elsewhere…"
    assert dialog.button(READ_ONLY) is None and dialog.button(COPY) is None  # nothing to read
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
        assert project is not None
        assert choices == [(RETRY, READ_ONLY, COPY, OTHER_FOLDER, QUIT)]
    finally:
        project.close()


# ---- open read-only, make a copy, wait for a lock (issue 14, item 3) -------------------------

def digest(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.fixture
def damaged(tmp_path):
    """A project of 40 clips whose index page is damaged (SQLite's check fails, the tables
    still read)."""
    root = tmp_path / "damaged"
    files = tmp_path / "media"
    files.mkdir()
    with Project(root) as p:
        for i in range(40):
            p.add_clip(write_file(files / f"clip{i:02d}.mp4", seed=i))
    damage_an_index(root)
    return root


def fake_read_only_folder(monkeypatch, root):
    """The folder cannot be written (the tests run as root, who may write anything)."""
    real = os.access
    monkeypatch.setattr(os, "access", lambda path, mode: (
        False if Path(path) == root and mode & os.W_OK else real(path, mode)))


def error_of(root, **kwargs):
    with pytest.raises(library.ProjectError) as info:
        Project(root, **kwargs)
    return info.value


def test_the_choices_follow_what_is_wrong(qtbot, damaged, empty_project, tmp_path,
                                          monkeypatch):
    healthy = tmp_path / "healthy"
    Project(healthy).close()
    other = sqlite3.connect(healthy / "project.sqlite", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        locked = error_of(healthy, lock_timeout_s=0.05)
    finally:
        other.execute("ROLLBACK")
        other.close()
    fake_read_only_folder(monkeypatch, healthy)
    read_only = error_of(healthy)
    expected = {
        "damaged": (error_of(damaged), [READ_ONLY, COPY, OTHER_FOLDER, QUIT]),
        "empty": (error_of(empty_project), [OTHER_FOLDER, QUIT]),
        "read-only": (read_only, [READ_ONLY, COPY, RETRY, OTHER_FOLDER, QUIT]),
        "locked": (locked, [RETRY, READ_ONLY, COPY, OTHER_FOLDER, QUIT]),
        "copy failed": (ChoiceFailed(read_only, COPY, library.ProjectError("full")),
                        [READ_ONLY, COPY, RETRY, OTHER_FOLDER, QUIT]),
        "read-only failed": (ChoiceFailed(locked, READ_ONLY, library.ProjectError("no")),
                             [RETRY, COPY, OTHER_FOLDER, QUIT]),
    }
    titles = {READ_ONLY: "Open Read-Only", COPY: "Make a Copy…", RETRY: "Try Again",
              OTHER_FOLDER: "Start a New Project Elsewhere…", QUIT: "Quit"}
    for kind, (err, choices) in expected.items():
        dialog = RecoveryDialog(healthy, err)
        qtbot.addWidget(dialog)
        assert dialog.choices() == choices, kind
        assert [dialog.button(c).text() for c in choices] == [titles[c] for c in choices]
        assert str(err).splitlines()[0] in dialog.informativeText()
    assert "The copy could not be made" in RecoveryDialog(
        healthy, expected["copy failed"][0]).text()


def test_open_read_only_shows_a_damaged_project_without_writing_it(damaged):
    before = digest(damaged / "project.sqlite")
    asked = []

    def choose(root, err):
        asked.append(recovery_choices(err))
        return READ_ONLY, None

    project = open_with_recovery(damaged, choose)
    try:
        assert project.read_only and project.root == damaged and len(project.clips()) == 40
        assert asked == [(READ_ONLY, COPY, OTHER_FOLDER, QUIT)]
        with pytest.raises(library.ReadOnlyProjectError, match="is open read-only"):
            project.add_job("generate")
    finally:
        project.close()
    assert digest(damaged / "project.sqlite") == before


def test_make_a_copy_opens_the_copy_and_refuses_a_folder_with_a_project(damaged, tmp_path):
    before = digest(damaged / "project.sqlite")
    Project(tmp_path / "taken").close()
    answers = iter([(COPY, tmp_path / "taken"), (COPY, tmp_path / "rescued")])
    asked = []

    def choose(root, err):
        asked.append(err)
        return next(answers)

    project = open_with_recovery(damaged, choose)
    try:
        assert project.root == tmp_path / "rescued" and not project.read_only
        assert len(project.clips()) == 40
        project.add_job("generate")  # the copy is writable
    finally:
        project.close()
    first, second = asked
    assert isinstance(first, library.DamagedProjectError)
    assert isinstance(second, ChoiceFailed) and second.original is first
    assert "already holds a project" in str(second)
    assert digest(damaged / "project.sqlite") == before


def test_a_lock_is_waited_for_visibly_then_reported(qtbot, tmp_path, monkeypatch):
    """Another program holds the lock: a progress dialog counts the seconds while Studio
    tries again; the lock outlasting the wait is reported with the time waited, and the
    project can then be opened read-only beside it."""
    monkeypatch.setattr(library, "LOCK_TIMEOUT_S", 0.8)
    root = tmp_path / "busy"
    Project(root).close()
    other = sqlite3.connect(root / "project.sqlite", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    labels, asked = [], []

    def waiter(where, attempt):
        def watch():
            dialog = QApplication.activeModalWidget()
            if isinstance(dialog, QProgressDialog):
                labels.append(dialog.labelText())

        timer = QTimer()
        timer.timeout.connect(watch)
        timer.start(50)
        try:
            return wait_visibly(where, attempt)
        finally:
            timer.stop()

    def choose(where, err):
        asked.append((type(err), str(err)))
        return (READ_ONLY if len(asked) == 1 else QUIT), None

    try:
        project = open_with_recovery(root, choose, waiter=waiter)
        try:
            assert project.read_only
        finally:
            project.close()
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert labels and "Waited" in labels[-1] and "of 0.8 s" in labels[-1]
    ((kind, message),) = asked
    assert kind is library.ProjectLockedError
    assert re.search(r"held its lock for all the \d+ s Studio waited", message)


def test_wait_for_lock_opens_once_the_lock_is_let_go(tmp_path):
    root = tmp_path / "busy"
    Project(root).close()
    other = sqlite3.connect(root / "project.sqlite", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    waits = []

    def on_wait(waited):
        waits.append(waited)
        if len(waits) == 3 and other.in_transaction:
            other.execute("ROLLBACK")
        return True

    project = wait_for_lock(root, lambda: Project(root, lock_timeout_s=0.05), limit_s=30,
                            on_wait=on_wait)
    other.close()
    try:
        assert not project.read_only and len(waits) == 3 and waits == sorted(waits)
    finally:
        project.close()
    stopped = sqlite3.connect(root / "project.sqlite", isolation_level=None)
    stopped.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(library.ProjectLockedError, match="Studio waited"):
            wait_for_lock(root, lambda: Project(root, lock_timeout_s=0.05), limit_s=30,
                          on_wait=lambda waited: waited < 0.1)  # Stop Waiting
    finally:
        stopped.execute("ROLLBACK")
        stopped.close()


def test_the_window_of_a_read_only_project_says_so_and_writes_nothing(qtbot, damaged):
    from studio.ui.main_window import MainWindow

    before = digest(damaged / "project.sqlite")
    project = Project(damaged, read_only=True)
    window = MainWindow(project)
    qtbot.addWidget(window)
    try:
        window.show()
        qtbot.waitExposed(window)
        assert window.windowTitle() == "Studio — damaged (read-only)"
        label = window._status_read_only
        assert label.isVisible() and label.text() == "Read-only: project.sqlite is damaged"
        assert "SQLite's check" in label.toolTip()
        assert window.generation_queue.interrupted == []  # built: nothing marked
    finally:
        window.shutdown()
        project.close()
    assert digest(damaged / "project.sqlite") == before


def test_the_app_start_offers_the_choices_and_opens_read_only(qtbot, damaged):
    """studio.ui.app's open: the real dialog, its Open Read-Only button clicked."""
    from studio.ui.app import _open_project

    clicked = []

    def click_read_only():
        dialog = QApplication.activeModalWidget()
        if not isinstance(dialog, RecoveryDialog):
            QTimer.singleShot(20, click_read_only)
            return
        clicked.append(dialog.choices())
        dialog.button(READ_ONLY).click()

    QTimer.singleShot(0, click_read_only)
    project = _open_project(damaged, exit_after_show=False)
    try:
        assert project.read_only and project.damage
        assert clicked == [[READ_ONLY, COPY, OTHER_FOLDER, QUIT]]
    finally:
        project.close()
