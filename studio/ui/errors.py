"""The last net for errors nothing else caught (a bug in a slot, in a pool task): the window
stays usable, its status bar says what went wrong in one line and where the details are, and
the traceback goes to a log file instead of a terminal a person never sees.

Jobs, imports and exports report their own errors with a message a person can act on; this
is for the ones that slipped through.
"""

from __future__ import annotations

import logging
import sys
import threading
from pathlib import Path

from PySide6.QtCore import QObject, Signal, Slot

MESSAGE_MS = 20_000  # how long the status bar shows the error


def log_path() -> Path | None:
    """Studio's log file (``studio.logs``), configured now if it was not; None when there is
    no folder to write one in."""
    from studio import logs

    return logs.setup()


class ErrorReporter(QObject):
    """Installed as ``sys.excepthook`` and ``threading.excepthook``: each unhandled error is
    written to ``log_path()`` and announced with ``reported`` (text for a status bar), from
    whatever thread raised it; connect ``reported`` to a bound slot in the GUI thread."""

    reported = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._previous = (sys.excepthook, threading.excepthook)

    def install(self) -> None:
        sys.excepthook = self._on_exception
        threading.excepthook = self._on_thread_exception

    def uninstall(self) -> None:
        sys.excepthook, threading.excepthook = self._previous

    def _on_thread_exception(self, args) -> None:
        if args.exc_type is SystemExit:
            return
        self._on_exception(args.exc_type, args.exc_value, args.exc_traceback)

    def _on_exception(self, exc_type, exc_value, exc_traceback) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            self._previous[0](exc_type, exc_value, exc_traceback)
            return
        where = self._write_log(exc_type, exc_value, exc_traceback)
        summary = f"{exc_type.__name__}: {exc_value}".strip().rstrip(":")
        summary = summary.splitlines()[0] if summary else exc_type.__name__
        self.reported.emit(f"Something went wrong ({summary}); Studio carries on. {where}")

    @staticmethod
    def _write_log(exc_type, exc_value, exc_traceback) -> str:
        path = log_path()
        logging.getLogger("studio.errors").error(  # the file, and stderr where there is one
            "unhandled error", exc_info=(exc_type, exc_value, exc_traceback))
        return f"Details: {path}" if path is not None else \
            "Details could not be written to a log."


def report_errors_in(window) -> ErrorReporter:
    """Install an ``ErrorReporter`` whose reports show in ``window``'s status bar."""
    reporter = ErrorReporter(window)
    reporter.reported.connect(_StatusBarSink(window).show)
    reporter.install()
    return reporter


class _StatusBarSink(QObject):
    def __init__(self, window) -> None:
        super().__init__(window)
        self._window = window

    @Slot(str)
    def show(self, text: str) -> None:
        self._window.statusBar().showMessage(text, MESSAGE_MS)
