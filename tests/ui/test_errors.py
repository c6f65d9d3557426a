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


def test_help_open_log_folder_opens_the_log_folder(qtbot, tmp_path):
    """Help › Open Log Folder hands the desktop the folder the error line names."""
    from PySide6.QtCore import QObject, Slot
    from PySide6.QtGui import QDesktopServices

    from studio import logs
    from studio.core.library import Project
    from studio.ui.main_window import MainWindow

    class Catcher(QObject):
        urls: list = []

        @Slot("QUrl")
        def open(self, url) -> None:
            self.urls.append(url.toLocalFile())

    catcher = Catcher()
    QDesktopServices.setUrlHandler("file", catcher, "open")
    project = Project(tmp_path / "p")
    window = MainWindow(project)
    qtbot.addWidget(window)
    try:
        menus = {m.text(): m.menu() for m in window.menuBar().actions() if m.menu()}
        assert window.open_log_action in menus["&Help"].actions()
        window.open_log_action.trigger()
        assert catcher.urls == [str(logs.log_dir())]
        assert logs.log_dir().is_dir()
    finally:
        QDesktopServices.unsetUrlHandler("file")
        window.close()
        project.close()
