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
    """For --exit-after-show: once the window has painted, print the start-up time and quit."""

    def __init__(self, app: QApplication):
        super().__init__(app)
        self._app = app

    @Slot()
    def report_and_quit(self) -> None:
        print(f"{process_age_s():.3f}")
        sys.stdout.flush()
        self._app.quit()


def run_gui(project_dir: Path | None = None, exit_after_show: bool = False) -> int:
    from studio.core.library import Project, ProjectError
    from studio.settings import default_project_dir

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Studio")
    app.setOrganizationName("Studio")
    app.setApplicationVersion(__import__("studio").__version__)

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
        reporter = FirstPaintReporter(app)
        window.repaint()  # paint once, synchronously, before reporting
        QTimer.singleShot(0, reporter.report_and_quit)
    code = app.exec()
    project.close()
    return code
