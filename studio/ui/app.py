"""GUI start-up: QApplication, the project, the main window."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Slot
from PySide6.QtWidgets import QApplication, QMessageBox


def process_age_s() -> float:
    """Seconds since this process started (Linux: /proc; elsewhere: since Studio was imported)."""
    try:
        import os

        with open("/proc/self/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        start_ticks = int(fields[19])  # field 22 of stat(5), counted after the comm field
        with open("/proc/uptime", "rb") as f:
            uptime = float(f.read().split()[0])
        return uptime - start_ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        import studio

        return time.time() - studio.IMPORTED_AT


class FirstPaintReporter(QObject):
    """For --exit-after-show: once the window has painted, print the start-up time and quit.
    With files to open, it quits once they are imported and prints the status line too."""

    def __init__(self, app: QApplication, window=None):
        super().__init__(app)
        self._app = app
        self._window = window
        self.shown_after_s: float | None = None

    def mark_shown(self) -> None:
        self.shown_after_s = process_age_s()

    @Slot()
    def report_and_quit(self) -> None:
        seconds = self.shown_after_s if self.shown_after_s is not None else process_age_s()
        print(f"{seconds:.3f}")
        if self._window is not None:
            print(self._window.statusBar().currentMessage())
        sys.stdout.flush()
        self._app.quit()


def run_gui(project_dir: Path | None = None, exit_after_show: bool = False,
            files: list[str] | None = None) -> int:
    """Open the main window on ``project_dir`` (default: the default project); ``files``:
    paths to import and select, as a file manager passes them (``studio FILE...``)."""
    from studio.core.library import Project, ProjectError
    from studio.settings import default_project_dir

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Studio")
    app.setOrganizationName("Studio")
    app.setApplicationVersion(__import__("studio").__version__)
    app.setDesktopFileName("studio")  # packaging/linux/studio.desktop: Wayland's window icon
    from studio.ui.theme import app_icon, theme_manager

    app.setWindowIcon(app_icon())
    theme_manager()  # Fusion with the light or dark palette, before any widget exists

    root = Path(project_dir) if project_dir else default_project_dir()
    try:
        project = Project(root)
    except (ProjectError, OSError) as err:
        message = f"Studio cannot open the project folder {root}:\n{err}"
        print(message, file=sys.stderr)
        if not exit_after_show:
            QMessageBox.critical(None, "Studio", message)
        return 1

    from studio.ui.main_window import MainWindow

    window = MainWindow(project)
    app.aboutToQuit.connect(window.shutdown)
    window.show()
    if exit_after_show:
        reporter = FirstPaintReporter(app, window if files else None)
        window.repaint()  # paint once, synchronously, before reporting
        reporter.mark_shown()
        if files:
            window.files_opened.connect(reporter.report_and_quit)
        else:
            QTimer.singleShot(0, reporter.report_and_quit)
    if files:
        window.open_files(list(files))
    code = app.exec()
    project.close()
    return code
