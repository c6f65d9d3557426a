"""GUI start-up: QApplication, the project, the main window.

The order is chosen for how soon the window is on screen (bench/startup.py):

- once loaded, PySide6 reads the source of each module the first time an import statement
  names it (its ``__feature__`` check, looking for "PySide6" in the text), which finds nothing
  in most and costs start-up time. So the project's pure-Python modules (sqlite3, json,
  dataclasses) load before PySide6, and the modules loaded by then (the standard library,
  mostly) are marked as PySide6 would mark them, without reading them; so are Studio's own
  modules, by where they sit (only ``studio.ui`` uses PySide6);
- the cyclic garbage collector is off until the window has first been painted: start-up
  allocates a great deal (PySide6 builds each Qt enum as a Python enum on first use) and
  frees almost nothing, so collections there are wasted time; the objects made by then are
  frozen out of later collections too;
- Fusion is chosen with the ``-style`` argument rather than ``setStyle``, which would wrap the
  style in Python (building ``QStyle``'s dozen enums) for nothing.
"""

from __future__ import annotations

import gc
import importlib
import os
import sys
from pathlib import Path

GC_FALLBACK_MS = 3000  # the collector comes back even if the window is never painted
# Loaded before PySide6 with the project (see above): the caption panel's model list, where
# the icon files are (studio.resources), the workers' cancel tokens.
PURE_PYTHON_NEEDED_BY_THE_WINDOW = ("studio.core.cancel", "studio.inference.registry",
                                    "studio.resources")


_collector = None  # the GuiThreadCollector, from the first paint on


def _restore_gc() -> None:
    """At the first paint (or after GC_FALLBACK_MS): what start-up made lives as long as the
    window, so it is frozen (never scanned again); from then on garbage is collected in the
    GUI thread only (``ui.gui_gc``: a collection on a worker thread can destroy Qt objects
    there)."""
    global _collector
    if _collector is not None or gc.isenabled():
        return
    from PySide6.QtWidgets import QApplication

    from studio.ui.gui_gc import GuiThreadCollector

    gc.freeze()
    app = QApplication.instance()
    if app is None:
        gc.enable()
        return
    _collector = GuiThreadCollector(app)


def _end_gc() -> None:
    """The window is gone: the automatic collector again."""
    global _collector
    if _collector is not None:
        _collector.stop()
        _collector = None
    gc.enable()


def mark_loaded_modules_featureless() -> list[str]:
    """Tell PySide6 that the modules loaded before it (the standard library, mostly) do not
    use its ``__feature__`` switches, as it would find by reading each one's source at its
    next import statement; returns the names marked. Studio's own modules are left to
    PySide6's check. Does nothing if PySide6's feature table is not where 6.x keeps it."""
    table = _pyside_feature_table()
    if table is None:
        return []
    marked = []
    for name in list(sys.modules):
        if name not in table and name.split(".")[0] not in _LEFT_TO_PYSIDE_CHECK:
            table[name] = -1  # PySide6's mark for "does not use PySide"
            marked.append(name)
    return marked


def _pyside_feature_table() -> dict | None:
    """PySide6's table of modules and their ``__feature__`` marks, where 6.x keeps it."""
    table = getattr(sys.modules.get("shibokensupport.feature"), "pyside_feature_dict", None)
    return table if isinstance(table, dict) else None


_LEFT_TO_PYSIDE_CHECK = {"__main__", "studio", "PySide6", "shiboken6", "shibokensupport"}


def mark_own_modules() -> list[str]:
    """Give each of Studio's modules, loaded or not, the mark PySide6 would give it on reading
    its source: the GUI's (``studio.ui.*``) use PySide6, the rest never do (import-linter keeps
    Qt out of them); returns the names marked. Does nothing if the table is not there."""
    table = _pyside_feature_table()
    if table is None:
        return []
    marked = []
    packages = [("studio", os.path.dirname(__import__("studio").__file__))]
    while packages:
        package, folder = packages.pop()
        for entry in os.scandir(folder):
            name = entry.name
            if not name.endswith(".py"):  # a subpackage (not __pycache__ nor icon folders)?
                if entry.is_dir() and os.path.isfile(os.path.join(entry.path, "__init__.py")):
                    packages.append((f"{package}.{name}", entry.path))
                continue
            module = package if name == "__init__.py" else f"{package}.{name[:-3]}"
            if module not in table:
                table[module] = 0 if module.startswith("studio.ui.") else -1
                marked.append(module)
    return marked


class FirstPaintReporter:
    """For --exit-after-show: once the window has painted, print the start-up time and quit.
    With files to open, it quits once they are imported and prints the status line too."""

    def __init__(self, app, window, files: bool):
        self._app = app
        self._window = window
        self._files = files
        self._waiting_for_files = files
        self.shown_after_s: float | None = None

    def painted(self) -> None:
        from studio.ui.first_paint import process_age_s

        self.shown_after_s = process_age_s()
        self._maybe_quit()

    def files_opened(self) -> None:
        self._waiting_for_files = False
        self._maybe_quit()

    def _maybe_quit(self) -> None:
        if self.shown_after_s is None or self._waiting_for_files:
            return
        print(f"{self.shown_after_s:.3f}")
        if self._files:
            print(self._window.statusBar().currentMessage())
        sys.stdout.flush()
        self._app.quit()


def run_gui(project_dir: Path | None = None, exit_after_show: bool = False,
            files: list[str] | None = None, verbosity: int = 0) -> int:
    """Open the main window on ``project_dir`` (default: the default project); ``files``:
    paths to import and select, as a file manager passes them (``studio FILE...``);
    ``verbosity``: ``-v`` given that many times (``studio.logs``)."""
    gc.disable()
    try:
        return _run_gui(project_dir, exit_after_show, files, verbosity)
    finally:
        _end_gc()


def _open_project(root: Path, exit_after_show: bool):
    """The project at ``root``, or None. One that cannot be opened is a choice, not an exit
    (``project_recovery``): open it read-only, make a copy, try again (a lock, permissions),
    a new project elsewhere, quit. A lock is waited for visibly first, not blocked on."""
    from studio.core.library import OPEN_LOCK_TRY_S, Project, ProjectError

    try:
        # Without --exit-after-show the open waits only a moment for a lock; the wait for
        # one goes on visibly in project_recovery.
        return Project(root, **({} if exit_after_show else {"lock_timeout_s": OPEN_LOCK_TRY_S}))
    except (ProjectError, OSError) as err:
        first_error = err
    if exit_after_show:
        print(f"Studio cannot open the project folder {root}:\n{first_error}", file=sys.stderr)
        return None
    from studio.ui.project_recovery import ask, open_with_recovery, wait_visibly

    project = open_with_recovery(root, ask, waiter=wait_visibly)  # opens again, then asks
    if project is None:
        print(f"Studio cannot open the project folder {root}:\n{first_error}", file=sys.stderr)
    return project


def _run_gui(project_dir: Path | None, exit_after_show: bool, files: list[str] | None,
             verbosity: int = 0) -> int:
    # Before PySide6 (see the docstring).
    import studio.core.library  # noqa: F401  (the project's modules, before PySide6)
    from studio.settings import APP_ID, default_project_dir

    for name in PURE_PYTHON_NEEDED_BY_THE_WINDOW:
        importlib.import_module(name)

    root = Path(project_dir) if project_dir else default_project_dir()
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    mark_loaded_modules_featureless()
    mark_own_modules()

    app = QApplication.instance()
    style_set = app is None
    if app is None:
        app = QApplication(sys.argv[:1] + ["-style", "Fusion"])
    app.setApplicationName("Studio")
    app.setOrganizationName("Studio")
    app.setApplicationVersion(__import__("studio").__version__)
    # the desktop entry's name (studio/resources/desktop, `studio desktop install`): Wayland's
    # app_id, which finds the window's icon and groups it with its launcher
    app.setDesktopFileName(APP_ID)
    from studio.ui.theme import app_icon, theme_manager

    app.setWindowIcon(app_icon())
    theme_manager(style_set=style_set)  # the light or dark palette, before any widget exists

    project = _open_project(root, exit_after_show)
    if project is None:
        return 1

    from studio.ui.first_paint import when_first_painted
    from studio.ui.main_window import MainWindow

    window = MainWindow(project)
    app.aboutToQuit.connect(window.shutdown)
    reporter = FirstPaintReporter(app, window, files=bool(files)) if exit_after_show else None
    if reporter is not None and files:
        window.files_opened.connect(reporter.files_opened)
    errors = []

    def first_paint() -> None:
        _restore_gc()
        if reporter is not None:
            reporter.painted()
        # From now on a bug in a slot is a status line and a log entry, not a traceback on a
        # terminal nobody sees (set up after the paint: nothing a person does comes before,
        # and logging's file handler imports would slow the first paint).
        from studio import logs
        from studio.ui.errors import report_errors_in

        logs.setup(verbosity)

        errors.append(report_errors_in(window))

    when_first_painted(window, first_paint)
    QTimer.singleShot(GC_FALLBACK_MS, _restore_gc)
    window.show()
    if files:
        window.open_files(list(files))
    code = app.exec()
    for installed in errors:
        installed.uninstall()
    project.close()
    return code
