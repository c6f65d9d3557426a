"""A project that cannot be opened at start (damaged, empty, read-only, busy with another
program): what is wrong, and a choice of what to do instead of an error and an exit: open it
read-only, make a copy and open that, try again, start a new project elsewhere, or quit.

The damaged file is never written: a read-only open and a copy only read it. A lock another
program holds is waited for first, visibly (a progress dialog counting the seconds), and only
then reported.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox, QProgressDialog, QWidget

from studio.core import library
from studio.core.library import (
    OPEN_LOCK_TRY_S,
    DamagedProjectError,
    Project,
    ProjectError,
    ProjectLockedError,
    ReadOnlyProjectError,
)
from studio.core.project_copy import copy_project

RETRY, READ_ONLY, COPY, OTHER_FOLDER, QUIT = "retry", "read-only", "copy", "folder", "quit"
_TITLES = {RETRY: "Try Again", READ_ONLY: "Open Read-Only", COPY: "Make a Copy…",
           OTHER_FOLDER: "Start a New Project Elsewhere…", QUIT: "Quit"}
_TIPS = {
    RETRY: "Open the project again, once the cause is fixed outside Studio",
    READ_ONLY: "Look at its clips, captions and generations; nothing in it can be changed",
    COPY: "Copy the project's database into a folder you choose (the original is only read) "
          "and open the copy",
    OTHER_FOLDER: "Open or create a project in another folder",
}


class ChoiceFailed(ProjectError):
    """A choice made for ``original`` (opening read-only, making a copy) failed with
    ``error``: the dialog says both, and offers the other choices."""

    def __init__(self, original: Exception, choice: str, error: Exception) -> None:
        super().__init__(f"{error}\n\n{original}")
        self.original, self.choice, self.error = original, choice, error


def recovery_choices(err: Exception) -> tuple[str, ...]:
    """What a person can do about ``err``: open it read-only where SQLite can still read it
    (a lock, read-only files, a damaged but readable database), make a copy of what can be
    read, try again where the cause can be fixed outside Studio (a lock, permissions);
    always a new project elsewhere, or quit."""
    if isinstance(err, ChoiceFailed):
        return tuple(c for c in recovery_choices(err.original)
                     if c != err.choice or c == COPY)
    if isinstance(err, ProjectLockedError):
        return RETRY, READ_ONLY, COPY, OTHER_FOLDER, QUIT
    if isinstance(err, ReadOnlyProjectError):
        return READ_ONLY, COPY, RETRY, OTHER_FOLDER, QUIT
    if isinstance(err, DamagedProjectError) and err.readable:
        return READ_ONLY, COPY, OTHER_FOLDER, QUIT
    return OTHER_FOLDER, QUIT


Opener = Callable[..., Project]
Waiter = Callable[[Path, Callable[[], Project]], Project]


def open_with_recovery(root: Path, choose: Callable[[Path, Exception], tuple[str, Path | None]],
                       opener: Opener = Project, waiter: Waiter | None = None,
                       copier: Callable[[Path, Path], Path] = copy_project) -> Project | None:
    """``opener(root)``; while it fails, ``choose(root, err)`` says what next: (RETRY, None),
    (READ_ONLY, None), (COPY, folder for the copy), (OTHER_FOLDER, folder) or (QUIT, None).
    Returns the project opened (``project.read_only`` says how), or None.

    With a ``waiter``, each open waits only ``OPEN_LOCK_TRY_S`` for a lock, and a lock still
    held is handed to ``waiter(root, try_again)``, which tries again while it shows the wait
    and raises ``ProjectLockedError`` if the lock outlasts it (see ``wait_for_lock``)."""
    read_only, pending, last = False, None, None
    while True:
        if pending is None:
            try:
                return _open(opener, root, read_only, waiter)
            except (ProjectError, OSError) as err:
                pending = ChoiceFailed(last, READ_ONLY, err) if read_only and last else err
        choice, folder = choose(root, pending)
        last = pending.original if isinstance(pending, ChoiceFailed) else pending
        pending, read_only = None, choice == READ_ONLY
        if choice == COPY and folder is not None:
            try:
                root = Path(copier(root, Path(folder)))
            except (ProjectError, OSError) as err:
                pending = ChoiceFailed(last, COPY, err)
        elif choice == OTHER_FOLDER and folder is not None:
            root = Path(folder)
        elif choice not in (RETRY, READ_ONLY, COPY, OTHER_FOLDER):
            return None


def _open(opener: Opener, root: Path, read_only: bool, waiter: Waiter | None) -> Project:
    kwargs = {"read_only": True} if read_only else {}
    if waiter is None:
        return opener(root, **kwargs)

    def attempt() -> Project:
        return opener(root, lock_timeout_s=OPEN_LOCK_TRY_S, **kwargs)

    try:
        return attempt()
    except ProjectLockedError:
        return waiter(root, attempt)


def wait_for_lock(root: Path, attempt: Callable[[], Project], *, limit_s: float,
                  on_wait: Callable[[float], bool],
                  clock: Callable[[], float] = time.monotonic) -> Project:
    """``attempt()`` again and again while it raises ``ProjectLockedError`` (each try waits
    a moment for the lock itself), calling ``on_wait(seconds waited)`` before each: it shows
    the wait, and returns False to stop waiting. After ``limit_s``, or when stopped, raises
    ``ProjectLockedError`` saying how long Studio waited."""
    start = clock()
    while True:
        waited = clock() - start
        if waited >= limit_s or not on_wait(waited):
            raise ProjectLockedError(
                f"{root}: the project is busy: another program (another Studio?) held its "
                f"lock for all the {waited:.0f} s Studio waited; nothing was changed. Close "
                "that program and try again, or open the project read-only.")
        try:
            return attempt()
        except ProjectLockedError:
            continue


def wait_visibly(root: Path, attempt: Callable[[], Project]) -> Project:
    """``wait_for_lock`` with a progress dialog counting the seconds, and Stop Waiting."""
    limit_s = library.LOCK_TIMEOUT_S
    dialog = QProgressDialog(f"Another program is using the project {root}; waiting for it…",
                             "Stop Waiting", 0, max(1, round(limit_s * 10)))
    dialog.setWindowTitle("Studio")
    dialog.setWindowModality(Qt.WindowModality.ApplicationModal)
    dialog.setMinimumDuration(0)

    def on_wait(waited: float) -> bool:
        dialog.setValue(min(dialog.maximum(), round(waited * 10)))
        dialog.setLabelText(f"Another program is using the project {root}.\nWaited "
                            f"{waited:.0f} s of {limit_s:g} s for it to let go…")
        QApplication.processEvents()
        return not dialog.wasCanceled()

    try:
        return wait_for_lock(root, attempt, limit_s=limit_s, on_wait=on_wait)
    finally:
        dialog.close()
        dialog.deleteLater()


def _heading(err: Exception) -> str:
    if isinstance(err, ChoiceFailed):
        return ("The project could not be opened read-only" if err.choice == READ_ONLY else
                "The copy could not be made")
    return ("The project is damaged" if isinstance(err, DamagedProjectError) else
            "The project is busy" if isinstance(err, ProjectLockedError) else
            "The project is read-only" if isinstance(err, ReadOnlyProjectError) else
            "Studio cannot open the project")


class RecoveryDialog(QMessageBox):
    """The message and the choices for one failed open."""

    def __init__(self, root: Path, err: Exception, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Studio")
        self.setIcon(QMessageBox.Icon.Warning)
        self.setText(f"<b>{_heading(err)}</b>")
        self.setInformativeText(f"{err}")
        self._choices = {}
        for choice in recovery_choices(err):
            role = (QMessageBox.ButtonRole.RejectRole if choice == QUIT else
                    QMessageBox.ButtonRole.AcceptRole)
            button = self.addButton(_TITLES[choice], role)
            button.setToolTip(_TIPS.get(choice, ""))
            self._choices[button] = choice
        first = next(iter(self._choices))
        self.setDefaultButton(first)

    def button(self, choice: str):
        """The button of ``choice`` (None when it is not offered)."""
        return next((b for b, c in self._choices.items() if c == choice), None)

    def choices(self) -> list[str]:
        """The choices offered, in the order of their buttons."""
        return list(self._choices.values())

    def choice(self) -> str:
        return self._choices.get(self.clickedButton(), QUIT)


def ask(root: Path, err: Exception) -> tuple[str, Path | None]:
    """The dialog, run modally; for a copy or another folder, a folder picker (cancelling it
    asks again)."""
    while True:
        dialog = RecoveryDialog(root, err)
        dialog.exec()
        choice = dialog.choice()
        dialog.deleteLater()
        if choice not in (COPY, OTHER_FOLDER):
            return choice, None
        title = ("Choose an Empty Folder for the Copy" if choice == COPY else
                 "Open or Create a Project Folder")
        folder = QFileDialog.getExistingDirectory(None, title, str(root.parent))
        if folder:
            return choice, Path(folder)
