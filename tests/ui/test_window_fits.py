"""The window fits a small screen however it is used (issue 16): every panel open, in any
order, with long texts in its labels, the main window's minimum size stays within 1280x720;
no two docks overlap; View > Reset Layout; a saved layout too big for the screen does not come
back."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QRect, Qt
from PySide6.QtWidgets import QApplication, QDockWidget

from studio.core.library import Project
from studio.ui import main_window as main_window_module
from studio.ui.main_window import MainWindow
from tests.media_factory import make_video

SCREENS = ((1280, 800), (1366, 768), (1280, 720))
LONG_NAME = "a_clip_with_a_very_long_name_" * 4 + "take_0001_seed_1234567890.mp4"
OPENERS = {
    "queue": lambda w: w.show_queue(),
    "generate": lambda w: w.generate_dock.toggleViewAction().trigger(),
    "generations": lambda w: w.generations_dock.show(),
    "exports": lambda w: w.show_exports(),
    "analysis": lambda w: w.show_analysis(),
    "preview": lambda w: w.generation_preview_dock.show(),
}
ORDERS = (tuple(OPENERS), tuple(reversed(OPENERS)),
          ("preview", "exports", "analysis", "generate", "queue", "generations"))


def open_window(qtbot, tmp_path, folder: str, clip_name: str) -> MainWindow:
    """A 1280x800 window on a new project in ``folder`` holding a clip ``clip_name``,
    selected and shown in the player."""
    project = Project(tmp_path / folder)
    clip = project.import_file(make_video(tmp_path / clip_name, width=64, height=48,
                                          frames=4))[0]
    made = MainWindow(project)
    qtbot.addWidget(made)
    made.resize(1280, 800)
    made.show()
    qtbot.waitExposed(made)
    made.bin.select_clip(clip.id)
    qtbot.waitUntil(lambda: made.player.clip_id == clip.id, timeout=10_000)
    return made


@pytest.fixture
def window(qtbot, tmp_path):
    # a long project folder (its path is in the status bar) and a clip with a long name,
    # selected: the Caption and Analysis panels name it
    made = open_window(qtbot, tmp_path, "a_project_folder_with_a_long_name_" * 3, LONG_NAME)
    yield made
    made.shutdown()
    made.project.close()


def _settle() -> None:
    for _ in range(3):
        QApplication.processEvents()


def _long_texts(window: MainWindow) -> None:
    """Long file names where the panels show them: the Preview's status and record lines,
    the Generate panel's seed line, the Queue's summary, the Caption panel's clip name."""
    preview = window.preview_panel
    preview.status.setText(f"Finished: {LONG_NAME} · seed 1234567890")
    preview.record_label.setText(f"Recorded in the project as generation #12\n/tmp/{LONG_NAME}")
    window.prompt_panel.seed_used.setText(f"Seed: 1234567890 (job #4, queued) {LONG_NAME}")
    window.queue_panel.summary.setText(f"running job #3 · 12 queued · {LONG_NAME}")
    window.export_queue  # noqa: B018 -- builds the Exports panel
    window.captions.title_label.setText(LONG_NAME)


def _assert_fits(window: MainWindow, when: str) -> None:
    _settle()
    hint, minimum = window.minimumSizeHint(), window.minimumSize()
    for width, height in SCREENS:
        assert hint.width() <= width and hint.height() <= height, (when, hint.toTuple())
        assert minimum.width() <= width and minimum.height() <= height, (when, minimum.toTuple())


def _shown_docks(window: MainWindow) -> list[QDockWidget]:
    """The docks a person sees: shown, and the front tab of their tab group."""
    return [d for d in window.findChildren(QDockWidget)
            if d.isVisible() and not d.visibleRegion().isEmpty()]


@pytest.mark.parametrize("order", ORDERS, ids=("menu-order", "reversed", "mixed"))
def test_every_panel_open_in_any_order_fits_a_small_screen(qtbot, window, order):
    """Queue, Generate, Generations, Exports, Analysis and Preview opened one after another
    made the window's minimum 1879x635 (each bottom dock beside the others, one-line labels
    and button rows as wide as their texts); long file names made it wider still."""
    _assert_fits(window, "at start")
    for name in order:
        OPENERS[name](window)
        _assert_fits(window, name)
    _long_texts(window)
    _assert_fits(window, "long texts")
    qtbot.waitUntil(lambda: window.width() == 1280 and window.height() == 800, timeout=5000)


def test_no_dock_overlaps_another_at_1280x800(qtbot, window):
    for name, opener in OPENERS.items():
        if name != "generate":
            opener(window)
    OPENERS["generate"](window)
    _long_texts(window)
    window.resize(1280, 800)
    _settle()
    assert (window.width(), window.height()) == (1280, 800)
    docks = _shown_docks(window)
    assert {window.bin_dock, window.generate_dock} <= set(docks)  # Generate opened last
    boxes = [(d.objectName(), d.geometry()) for d in docks]
    boxes.append(("player", window.player.geometry()))
    for i, (name, box) in enumerate(boxes):
        assert window.rect().contains(box), name
        for other, other_box in boxes[i + 1:]:
            assert not box.intersects(other_box), (name, other)
    for dock in docks:  # each has the room its panel needs: nothing squashed or painted over
        need = dock.minimumSizeHint()
        assert dock.width() >= need.width() and dock.height() >= need.height(), dock.objectName()


def test_long_labels_are_elided_with_the_whole_text_in_the_tooltip(window):
    window.generation_preview_dock.show()
    _long_texts(window)
    _settle()
    status = window.preview_panel.status
    assert status.width() < status.fontMetrics().horizontalAdvance(status.text())
    assert status.is_elided() and LONG_NAME in status.toolTip()
    assert "…" in status.shown_lines()[0]


def test_reset_layout_restores_the_default_docks_and_size(qtbot, window, monkeypatch):
    monkeypatch.setattr(main_window_module, "available_geometry",
                        lambda _widget: QRect(0, 0, 1366, 768))
    for opener in OPENERS.values():
        opener(window)
    window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, window.bin_dock)
    window.resize(1360, 760)
    _settle()
    actions = [a for a in window.menuBar().actions() if a.text() == "&View"][0].menu().actions()
    assert window.reset_layout_action in actions
    window.reset_layout_action.trigger()
    _settle()
    assert window.dockWidgetArea(window.bin_dock) == Qt.DockWidgetArea.LeftDockWidgetArea
    assert {d.objectName() for d in _shown_docks(window)} == {"BinDock", "CaptionDock"}
    assert (window.width(), window.height()) == (1280, 768 - window._frame_extra().height()) \
        or (window.width(), window.height()) == (1280, 768)
    qtbot.waitUntil(lambda: window.bin_dock.width() > 300, timeout=5000)


def test_a_saved_layout_bigger_than_the_screen_does_not_come_back(qtbot, tmp_path, monkeypatch):
    """The window grew past a 1600 px screen and came back that size after a restart: a
    restored window is kept within the screen, and a saved dock layout whose minimum does not
    fit it falls back to the default one."""
    project = Project(tmp_path / "project")
    first = MainWindow(project)
    qtbot.addWidget(first)
    first.show()
    qtbot.waitExposed(first)
    for opener in OPENERS.values():
        opener(first)
    # every bottom dock beside the others, as the old layout had them
    for dock in (first.generation_preview_dock, first.queue_dock, first.generations_dock,
                 first.exports_dock, first.analysis_dock):
        first.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, dock, Qt.Orientation.Horizontal)
        dock.show()
    first.resize(2400, 1400)
    _settle()
    assert first.minimumSizeHint().width() > 1280  # too wide for the small screen
    first.close()
    project.close()

    monkeypatch.setattr(main_window_module, "available_geometry",
                        lambda _widget: QRect(0, 0, 1280, 800), raising=False)
    project = Project(tmp_path / "project")
    again = MainWindow(project)
    qtbot.addWidget(again)
    try:
        again.show()
        qtbot.waitExposed(again)
        qtbot.waitUntil(lambda: again.width() <= 1280 and again.height() <= 800, timeout=5000)
        _settle()
        hint = again.minimumSizeHint()
        assert hint.width() <= 1280 and hint.height() <= 800
        assert QRect(0, 0, 1280, 800).contains(again.frameGeometry())
    finally:
        again.shutdown()
        project.close()


def _assert_no_overlap(window: MainWindow) -> None:
    docks = _shown_docks(window)
    boxes = [(d.objectName(), d.geometry()) for d in docks]
    boxes.append(("player", window.player.geometry()))
    for i, (name, box) in enumerate(boxes):
        assert window.rect().contains(box), name
        for other, other_box in boxes[i + 1:]:
            assert not box.intersects(other_box), (name, other)
    for dock in docks:
        need = dock.minimumSizeHint()
        assert dock.width() >= need.width() and dock.height() >= need.height(), dock.objectName()


@pytest.mark.parametrize("size", ((1280, 800), (1920, 1080)), ids=("1280x800", "1920x1080"))
def test_every_workspace_with_every_panel_open_fits(qtbot, window, monkeypatch, size):
    """Each workspace (issue 16, item 1) at its default, then with every panel opened in it:
    the minimum stays within 1280x720, the docks do not overlap and each has its room."""
    from studio.ui.workspaces import WORKSPACES

    monkeypatch.setattr(main_window_module, "available_geometry",
                        lambda _widget: QRect(0, 0, *size))
    window.resize(*size)
    for space in WORKSPACES:
        window.workspaces.switch(space.key)
        _settle()
        _assert_fits(window, f"{space.key} default")
        qtbot.waitUntil(lambda: window.size().toTuple() == size, timeout=5000)
        _assert_no_overlap(window)
        for name in ORDERS[space.key == "analyse"]:
            OPENERS[name](window)
            _assert_fits(window, f"{space.key}: {name}")
        _long_texts(window)
        _assert_fits(window, f"{space.key}: long texts")
        window.resize(*size)
        qtbot.waitUntil(lambda: window.size().toTuple() == size, timeout=5000)
        _settle()
        _assert_no_overlap(window)


def test_titles_are_whole_at_the_default_size(qtbot, tmp_path):
    """Issue 16: at 1280x800 the Analyse workspace cut its title to "b_audio.mp… frames" and
    the bin's headers to "Durati", and the Generate panel scrolled sideways; with a file name
    of an ordinary length nothing is cut."""
    window = open_window(qtbot, tmp_path, "project", "night_drive.mp4")
    try:
        for space in ("media", "generate", "analyse", "deliver"):
            window.workspaces.switch(space)
            window.show_analysis()
            _settle()
            view = window.bin.view
            assert view.horizontalHeader().length() <= view.viewport().width() + 1, space
            title = window.analysis.title_label
            qtbot.waitUntil(lambda t=title: "night_drive.mp4" in t.text())
            assert not title.is_elided(), (space, title.text(), title.width())
        window.workspaces.switch("generate")  # its form did not fit and scrolled sideways
        _settle()
        scroll = window.prompt_panel.scroll
        assert window.size().toTuple() == (1280, 800)
        assert scroll.viewport().width() >= scroll.widget().minimumSizeHint().width()
    finally:
        window.shutdown()
        window.project.close()
