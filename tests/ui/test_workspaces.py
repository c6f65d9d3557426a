"""Workspaces (issue 16, item 1): named dock layouts for the stages of the work, switched from a
tab bar or View › Workspace (Ctrl+1…4), each remembering its own arrangement across switches and
restarts; a bad or oversized saved arrangement falls back to that workspace's default; View ›
Reset Layout resets the current workspace only."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QByteArray, QRect, Qt
from PySide6.QtWidgets import QApplication, QDockWidget, QTabBar

from studio.core.library import Project
from studio.ui import main_window as main_window_module
from studio.ui.main_window import MainWindow
from studio.ui.workspaces import WORKSPACES


@pytest.fixture
def screen(monkeypatch):
    """A 1600x1000 screen (the offscreen platform's is 800x800)."""
    monkeypatch.setattr(main_window_module, "available_geometry",
                        lambda _widget: QRect(0, 0, 1600, 1000))


def _open(qtbot, tmp_path) -> tuple[MainWindow, Project]:
    project = Project(tmp_path / "project")
    window = MainWindow(project)
    qtbot.addWidget(window)
    window.resize(1280, 800)
    window.show()
    qtbot.waitExposed(window)
    return window, project


def _close(window: MainWindow, project: Project) -> None:
    window.close()
    project.close()


def _shown(window: MainWindow) -> set[str]:
    QApplication.processEvents()
    return {d.objectName() for d in window.findChildren(QDockWidget) if d.isVisible()}


def test_each_workspace_shows_its_panels_with_the_bin_and_the_player(qtbot, tmp_path, screen):
    window, project = _open(qtbot, tmp_path)
    try:
        tabs = window.workspaces.tab_bar
        assert [tabs.tabText(i) for i in range(tabs.count())] == \
            ["Media && Captions", "Generate", "Analyse", "Deliver"]
        assert tabs.isVisible() and window.workspace_toolbar.isVisible()
        expected = {w.key: set(w.docks) for w in WORKSPACES}
        for index, space in enumerate(WORKSPACES):
            tabs.setCurrentIndex(index)
            assert window.workspaces.current == space.key
            assert _shown(window) == expected[space.key]
            assert "BinDock" in _shown(window) and window.player.isVisible()
        assert window.generation_preview_dock.widget() is window.preview_panel
    finally:
        _close(window, project)


def test_view_menu_and_ctrl_digits_switch_workspaces(qtbot, tmp_path, screen):
    window, project = _open(qtbot, tmp_path)
    try:
        view = [a for a in window.menuBar().actions() if a.text() == "&View"][0].menu()
        menu = [a for a in view.actions() if a.text() == "&Workspace"][0].menu()
        shortcuts = [a.shortcut().toString() for a in menu.actions()]
        assert shortcuts == ["Ctrl+1", "Ctrl+2", "Ctrl+3", "Ctrl+4"]
        menu.actions()[2].trigger()
        assert window.workspaces.current == "analyse"
        assert window.workspaces.tab_bar.currentIndex() == 2
        assert window.analysis_dock.isVisible()
        window.activateWindow()
        qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=5000)
        qtbot.keyClick(window, Qt.Key.Key_4, Qt.KeyboardModifier.ControlModifier)
        qtbot.waitUntil(lambda: window.workspaces.current == "deliver", timeout=5000)
        assert menu.actions()[3].isChecked() and window.exports_dock.isVisible()
    finally:
        _close(window, project)


def test_a_workspace_remembers_its_arrangement_across_switches_and_restarts(
        qtbot, tmp_path, screen):
    window, project = _open(qtbot, tmp_path)
    try:
        window.workspaces.switch("generate")
        window.queue_dock.hide()  # this workspace without its queue
        window.generations_dock.show()
        window.workspaces.switch("media")
        assert _shown(window) == {"BinDock", "CaptionDock"}
        window.analysis_dock.show()  # and the media workspace with the analysis
        window.workspaces.switch("generate")
        shown = _shown(window)
        assert "QueueDock" not in shown and {"GenerationsDock", "GenerateDock"} <= shown
        assert "AnalysisDock" not in shown
    finally:
        _close(window, project)
    window, project = _open(qtbot, tmp_path)  # a restart: back in the Generate workspace
    try:
        qtbot.waitUntil(lambda: "GenerateDock" in _shown(window), timeout=5000)
        assert window.workspaces.current == "generate"
        assert window.workspaces.tab_bar.currentIndex() == 1
        shown = _shown(window)
        assert "QueueDock" not in shown and "GenerationsDock" in shown
        window.workspaces.switch("media")
        assert _shown(window) == {"BinDock", "CaptionDock", "AnalysisDock"}
    finally:
        _close(window, project)


def test_a_bad_saved_arrangement_falls_back_to_the_workspaces_default(qtbot, tmp_path, screen):
    window, project = _open(qtbot, tmp_path)
    _close(window, project)
    settings = MainWindow.settings()
    settings.setValue("workspaces/current", "analyse")
    settings.setValue("workspaces/analyse", QByteArray(b"\x00\x01not a state"))
    settings.setValue("workspaces/deliver", QByteArray(b""))
    settings.sync()
    window, project = _open(qtbot, tmp_path)
    try:
        assert window.workspaces.current == "analyse"
        assert _shown(window) == set(WORKSPACES[2].docks)
        window.workspaces.switch("deliver")
        assert _shown(window) == set(WORKSPACES[3].docks)
    finally:
        _close(window, project)


def test_an_oversized_saved_arrangement_falls_back_to_the_default(qtbot, tmp_path, monkeypatch):
    monkeypatch.setattr(main_window_module, "available_geometry",
                        lambda _widget: QRect(0, 0, 3000, 2000))
    window, project = _open(qtbot, tmp_path)
    window.workspaces.switch("deliver")
    for dock in (window.generation_preview_dock, window.queue_dock, window.generations_dock,
                 window.exports_dock, window.analysis_dock):  # side by side: too wide
        window.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, dock, Qt.Orientation.Horizontal)
        dock.show()
    window.resize(2400, 1400)
    QApplication.processEvents()
    assert window.minimumSizeHint().width() > 1280
    window.workspaces.switch("media")
    _close(window, project)
    monkeypatch.setattr(main_window_module, "available_geometry",
                        lambda _widget: QRect(0, 0, 1280, 800))
    window, project = _open(qtbot, tmp_path)
    try:
        window.workspaces.switch("deliver")
        QApplication.processEvents()
        assert _shown(window) == set(WORKSPACES[3].docks)
        assert window.minimumSizeHint().width() <= 1280
    finally:
        _close(window, project)


def test_reset_layout_resets_the_current_workspace_only(qtbot, tmp_path, screen):
    window, project = _open(qtbot, tmp_path)
    try:
        window.analysis_dock.show()  # media, changed
        window.workspaces.switch("generate")
        window.queue_dock.hide()
        window.exports_dock.show()
        window.reset_layout_action.trigger()
        assert window.workspaces.current == "generate"
        assert _shown(window) == set(WORKSPACES[1].docks)
        window.workspaces.switch("media")
        assert _shown(window) == {"BinDock", "CaptionDock", "AnalysisDock"}
    finally:
        _close(window, project)


def _dock_tab_bars_on_window(window: MainWindow) -> list[set[str]]:
    """The tabs of each dock tab bar shown on the window (Qt parks unused ones off it)."""
    QApplication.processEvents()
    bars = window.findChildren(QTabBar, options=Qt.FindChildOption.FindDirectChildrenOnly)
    return [{bar.tabText(i) for i in range(bar.count())} for bar in bars
            if bar.isVisible() and window.rect().intersects(bar.geometry())]


def _tab_groups(window: MainWindow) -> list[set[str]]:
    """The tab groups of two or more shown docks."""
    groups = []
    for dock in window.findChildren(QDockWidget):
        if dock.isHidden() or dock.isFloating():
            continue
        group = {dock.windowTitle()} | {d.windowTitle() for d in window.tabifiedDockWidgets(dock)
                                        if not d.isHidden()}
        if len(group) > 1 and group not in groups:
            groups.append(group)
    return groups


def test_no_tab_bar_is_left_behind_by_a_switch(qtbot, tmp_path, screen):
    """Qt left the tab bars of earlier layouts shown after restoreState: a "Caption |
    Generate" bar over the Media workspace's player, "Generations | Exports" over its buttons."""
    window, project = _open(qtbot, tmp_path)
    try:
        for key in ("generate", "media", "analyse", "deliver", "media", "generate", "deliver",
                    "generate", "analyse", "media"):
            window.workspaces.switch(key)
            if key == "generate":
                window.reset_layout_action.trigger()
            bars = _dock_tab_bars_on_window(window)
            groups = _tab_groups(window)
            assert len(bars) == len(groups) and all(b in groups for b in bars), (key, bars)
    finally:
        _close(window, project)
