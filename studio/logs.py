"""Logging, configured once for the window and the command line (issue 19). Pure Python.

Every module logs through ``logging.getLogger(__name__)`` (the ``studio`` tree). ``setup``
adds two handlers to it, once per process:

- a rotating file, ``log_file()`` (1 MB, three old files kept), at INFO, or DEBUG with ``-vv``:
  model loads, jobs with their timings and every caught failure with its traceback, where a
  person who started Studio from the desktop can find them (Help › Open Log Folder; the
  window's error line names the file). It lives in the platform's log folder: on Linux
  ``$XDG_STATE_HOME/studio/log`` (``~/.local/state/studio/log``), as platformdirs'
  ``user_log_dir`` says (``settings.log_dir``);
- stderr, at WARNING, INFO with ``-v``, DEBUG with ``-vv``; ``STUDIO_LOG_LEVEL`` (a level
  name or number) sets it instead (and the file's, where it is below INFO).

A log folder that cannot be written leaves the stderr handler alone: logging never stops
Studio.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

from studio.settings import APP_NAME, log_dir

LOG_NAME = "studio.log"
MAX_BYTES = 1_000_000
BACKUPS = 3
ENV_LEVEL = "STUDIO_LOG_LEVEL"
FILE_FORMAT = "%(asctime)s %(levelname)-7s %(threadName)s %(name)s: %(message)s"
STDERR_FORMAT = "studio: %(levelname)s: %(name)s: %(message)s"

_configured: dict = {}  # "file": the log file in use (None: stderr only), "stderr": handler


def log_file() -> Path:
    return log_dir() / LOG_NAME


def level_for(verbosity: int) -> int:
    """The stderr level of ``-v`` given ``verbosity`` times, unless ``STUDIO_LOG_LEVEL`` says."""
    named = os.environ.get(ENV_LEVEL, "").strip()
    if named:
        if named.isdigit():
            return int(named)
        level = logging.getLevelName(named.upper())
        if isinstance(level, int):
            return level
    return (logging.WARNING, logging.INFO)[verbosity] if verbosity < 2 else logging.DEBUG


def setup(verbosity: int = 0) -> Path | None:
    """Configure the ``studio`` loggers (the first call; later calls only lower the stderr
    level for more ``-v``). Returns the log file written to, or None where none can be."""
    stderr_level = level_for(verbosity)
    if _configured:
        handler = _configured["stderr"]
        handler.setLevel(min(handler.level, stderr_level))
        return _configured["file"]
    root = logging.getLogger(APP_NAME)
    stderr = _Stderr()
    stderr.setLevel(stderr_level)
    stderr.setFormatter(logging.Formatter(STDERR_FORMAT))
    root.addHandler(stderr)
    file_level = min(logging.INFO, stderr_level)  # the file keeps INFO at least
    path = _add_file_handler(root, file_level)
    root.setLevel(min(stderr_level, file_level))
    root.propagate = False  # a library's basicConfig does not print Studio's lines twice
    _configured.update(file=path, stderr=stderr)
    return path


class _Stderr(logging.StreamHandler):
    """stderr as it is when a line is written (tests and front ends replace ``sys.stderr``)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


def _add_file_handler(root: logging.Logger, level: int) -> Path | None:
    from logging.handlers import RotatingFileHandler

    path = log_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = RotatingFileHandler(path, maxBytes=MAX_BYTES, backupCount=BACKUPS,
                                      encoding="utf-8")
    except OSError:
        return None
    handler.setLevel(level)
    handler.setFormatter(logging.Formatter(FILE_FORMAT))
    root.addHandler(handler)
    return path


def reset() -> None:
    """Remove what ``setup`` added (tests)."""
    root = logging.getLogger(APP_NAME)
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    root.setLevel(logging.NOTSET)
    root.propagate = True
    _configured.clear()
