"""An error nothing else caught (a bug in a slot or a thread) leaves the window usable: a
status line says what went wrong and where the details are; the traceback goes to a log."""

from __future__ import annotations

import threading

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QMainWindow

from studio.ui.errors import log_path, report_errors_in


@pytest.fixture
def window(qtbot, monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    w = QMainWindow()
    qtbot.addWidget(w)
    reporter = report_errors_in(w)
    yield w
    reporter.uninstall()


def _explode() -> None:
    raise ValueError("the frame index went negative")


@pytest.mark.qt_no_exception_capture
def test_an_error_in_a_slot_is_a_status_line_and_a_log_entry(qtbot, window):
    QTimer.singleShot(0, _explode)
    qtbot.waitUntil(lambda: "the frame index went negative" in
                    window.statusBar().currentMessage(), timeout=5000)
    message = window.statusBar().currentMessage()
    assert message.startswith("Something went wrong (ValueError: the frame index went "
                              "negative); Studio carries on.")
    assert str(log_path()) in message
    logged = log_path().read_text()
    assert "Traceback (most recent call last)" in logged and "_explode" in logged


@pytest.mark.qt_no_exception_capture
def test_an_error_in_a_thread_reaches_the_window_too(qtbot, window):
    def work():
        raise OSError("disk full while writing the cache")

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    qtbot.waitUntil(lambda: "disk full" in window.statusBar().currentMessage(), timeout=5000)
    assert "OSError" in log_path().read_text()
