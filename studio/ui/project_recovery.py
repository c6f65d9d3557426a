"""A project that cannot be opened at start (damaged, empty, read-only, busy with another
program): what is wrong, and a choice of what to do (try again, open another folder, quit)
instead of an error and an exit. The damaged file is never touched: Studio only reads it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from studio.core.library import (
    DamagedProjectError,
    Project,
    ProjectError,
    ProjectLockedError,
    ReadOnlyProjectError,
)

RETRY, OTHER_FOLDER, QUIT = "retry", "folder", "quit"
_TITLES = {RETRY: "Try Again", OTHER_FOLDER: "Open Another Folder…", QUIT: "Quit"}


def recovery_choices(err: Exception) -> tuple[str, ...]:
    """What a person can do about ``err``: try again where they can fix the cause outside
    Studio (a lock another program holds, permissions), always another folder or quit."""
    if isinstance(err, (ProjectLockedError, ReadOnlyProjectError)):
        return RETRY, OTHER_FOLDER, QUIT
    return OTHER_FOLDER, QUIT


def open_with_recovery(root: Path, choose: Callable[[Path, Exception], tuple[str, Path | None]],
                       opener: Callable[[Path], Project] = Project) -> Project | None:
    """``opener(root)``; while it fails, ``choose(root, err)`` says what next: (RETRY, None),
    (OTHER_FOLDER, folder) or (QUIT, None). Returns the project opened, or None."""
    while True:
        try:
            return opener(root)
        except (ProjectError, OSError) as err:
            choice, folder = choose(root, err)
            if choice == OTHER_FOLDER and folder is not None:
                root = Path(folder)
            elif choice != RETRY:
                return None


class RecoveryDialog(QMessageBox):
    """The message and the choices for one failed open."""

    def __init__(self, root: Path, err: Exception, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Studio")
        self.setIcon(QMessageBox.Icon.Warning)
        heading = ("The project is damaged" if isinstance(err, DamagedProjectError) else
                   "The project is busy" if isinstance(err, ProjectLockedError) else
                   "The project is read-only" if isinstance(err, ReadOnlyProjectError) else
                   "Studio cannot open the project")
        self.setText(f"<b>{heading}</b>")
        self.setInformativeText(f"{err}")
        self._choices = {}
        for choice in recovery_choices(err):
            role = (QMessageBox.ButtonRole.RejectRole if choice == QUIT else
                    QMessageBox.ButtonRole.AcceptRole)
            self._choices[self.addButton(_TITLES[choice], role)] = choice

    def button(self, choice: str):
        """The button of ``choice`` (None when it is not offered)."""
        return next((b for b, c in self._choices.items() if c == choice), None)

    def choice(self) -> str:
        return self._choices.get(self.clickedButton(), QUIT)


def ask(root: Path, err: Exception) -> tuple[str, Path | None]:
    """The dialog, run modally; for another folder, a folder picker."""
    dialog = RecoveryDialog(root, err)
    dialog.exec()
    choice = dialog.choice()
    if choice != OTHER_FOLDER:
        return choice, None
    folder = QFileDialog.getExistingDirectory(None, "Open or Create a Project Folder",
                                              str(root.parent))
    return (OTHER_FOLDER, Path(folder)) if folder else (RETRY, None)
