"""Themes (light, dark, following the desktop), the window icon, Help > About and Help >
Keyboard Shortcuts, and opening files as a file manager does (``MainWindow.open_files``)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence, QPalette
from PySide6.QtWidgets import QApplication

from studio.core.library import Project
from studio.ui.help_dialogs import NOT_LOADED, AboutDialog, ShortcutsDialog
from studio.ui.main_window import MainWindow
from studio.ui.theme import SETTINGS_KEY, ThemeManager, is_dark, settings, theme_manager
from tests.media_factory import make_bad, make_video

ROOT = Path(__file__).resolve().parents[2]


def system_scheme(scheme: Qt.ColorScheme) -> None:
    """What the desktop does when a person switches its dark mode (the offscreen platform has
    no desktop theme to switch, so the hint's change signal is emitted as Qt would)."""
    QGuiApplication.styleHints().colorSchemeChanged.emit(scheme)


@pytest.fixture
def follow_system(qapp):
    """The theme in its default state (follow the desktop, desktop light) before and after."""
    manager = theme_manager()
    system_scheme(Qt.ColorScheme.Unknown)
    manager.set_mode("system")
    yield manager
    system_scheme(Qt.ColorScheme.Unknown)
    manager.set_mode("system")


@pytest.fixture
def window(qtbot, tmp_path, follow_system):
    project = Project(tmp_path / "project")
    w = MainWindow(project)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    yield w
    w.shutdown()
    project.close()


def window_color(widget) -> QPalette:
    return widget.palette().color(QPalette.ColorRole.Window)


def mean_lightness(widget) -> float:
    image = widget.grab().toImage()
    step = max(1, min(image.width(), image.height()) // 16)
    values = [image.pixelColor(x, y).lightness()
              for x in range(0, image.width(), step) for y in range(0, image.height(), step)]
    return sum(values) / len(values)


# --- themes ------------------------------------------------------------------------------------

def test_theme_follows_the_desktop_at_run_time_and_the_player_stays_dark(qtbot, window):
    app = QApplication.instance()
    manager = window.theme
    assert app.style().name().lower() == "fusion"
    assert manager.mode == "system" and manager.theme == "light"
    assert not is_dark(app.palette()) and not is_dark(window.bin.palette())
    menu = window.theme_menu
    assert menu.mode_actions["system"].isChecked()
    assert "now light" in menu.mode_actions["system"].text()

    system_scheme(Qt.ColorScheme.Dark)  # the desktop switches to dark while Studio runs
    assert manager.theme == "dark" and is_dark(app.palette())
    qtbot.waitUntil(lambda: is_dark(window.bin.view.palette()))
    assert "now dark" in menu.mode_actions["system"].text()
    dark_bin = mean_lightness(window.bin)

    system_scheme(Qt.ColorScheme.Light)
    qtbot.waitUntil(lambda: not is_dark(window.bin.view.palette()))
    assert mean_lightness(window.bin) > dark_bin + 60
    # The player (video, transport bar) is dark in the light palette too.
    assert window_color(window.player.controls).lightness() < 60
    assert mean_lightness(window.player) < 60


def test_view_theme_overrides_the_desktop_and_is_remembered(qtbot, window):
    app = QApplication.instance()
    menu = window.theme_menu
    system_scheme(Qt.ColorScheme.Light)
    menu.mode_actions["dark"].trigger()  # View > Theme > Dark
    assert window.theme.mode == "dark" and is_dark(app.palette())
    assert menu.mode_actions["dark"].isChecked() and not menu.mode_actions["system"].isChecked()
    system_scheme(Qt.ColorScheme.Light)  # the desktop no longer decides
    assert is_dark(app.palette())
    assert settings().value(SETTINGS_KEY) == "dark"

    # The next start reads it (a second manager stands in for the next process).
    restarted = ThemeManager(app)
    try:
        assert restarted.mode == "dark" and restarted.theme == "dark"
    finally:
        restarted.setParent(None)
        restarted.deleteLater()

    menu.mode_actions["light"].trigger()
    assert not is_dark(app.palette()) and settings().value(SETTINGS_KEY) == "light"
    system_scheme(Qt.ColorScheme.Dark)
    assert not is_dark(app.palette())
    menu.mode_actions["system"].trigger()  # back to following the desktop, which is dark now
    assert is_dark(app.palette()) and settings().value(SETTINGS_KEY) == "system"


def _text_contrast(button) -> float:
    """The lightness between a section header's text and the panel behind it, as painted."""
    fg = button.palette().color(button.foregroundRole()).lightness()
    bg = button.window().palette().color(QPalette.ColorRole.Window).lightness()
    return abs(fg - bg)


def test_section_headers_stay_readable_when_the_theme_changes(qtbot, window):
    """Issue 16: in the dark theme the History, Settings and Advanced headers were nearly
    invisible: they kept the light theme's dark text (a widget with a style sheet kept the
    palette it was first polished with)."""
    captions = window.captions
    captions.show_clip(None)
    headers = [captions.history_section.toggle, captions.settings_section.toggle]
    window.generate_dock.show()
    headers.append(window.prompt_panel.advanced_toggle)
    for scheme, dark in ((Qt.ColorScheme.Dark, True), (Qt.ColorScheme.Light, False),
                         (Qt.ColorScheme.Dark, True)):
        system_scheme(scheme)
        qtbot.waitUntil(lambda d=dark: is_dark(window.bin.view.palette()) == d)
        for header in headers:
            assert _text_contrast(header) > 120, (header.text(), scheme)


def test_analysis_plots_follow_the_theme(qtbot, window):
    """Issue 16: the analysis plots were dark in the light theme."""
    from studio.ui.analysis_panel import METRICS, MetricPlot

    window.show_analysis()
    plot = MetricPlot(METRICS[0])  # as the panel shows it once a clip is analysed
    qtbot.addWidget(plot)
    plot.resize(320, 120)
    plot.show()
    system_scheme(Qt.ColorScheme.Light)
    qtbot.waitUntil(lambda: not is_dark(plot.palette()))
    assert mean_lightness(plot) > 180
    system_scheme(Qt.ColorScheme.Dark)
    qtbot.waitUntil(lambda: is_dark(plot.palette()))
    assert mean_lightness(plot) < 70
    assert mean_lightness(window.analysis) < 90
    system_scheme(Qt.ColorScheme.Light)
    qtbot.waitUntil(lambda: not is_dark(plot.palette()))
    assert mean_lightness(window.analysis) > 180


def test_unknown_theme_names_are_refused(follow_system):
    with pytest.raises(ValueError, match="unknown theme 'blue'"):
        follow_system.set_mode("blue")
    assert follow_system.mode == "system"


def test_window_icon_comes_from_the_packaged_resources(window):
    sizes = {s.width() for s in window.windowIcon().availableSizes()}
    assert {16, 32, 48, 256} <= sizes
    image = window.windowIcon().pixmap(48, 48).toImage()
    assert image.pixelColor(24, 24).alpha() > 0  # not an empty icon


# --- Help > About ------------------------------------------------------------------------------

def test_about_lists_the_versions_from_the_installed_packages(qtbot, window):
    window.about_action.trigger()  # Help > About Studio
    dialog = QApplication.activeModalWidget()
    qtbot.waitUntil(lambda: isinstance(QApplication.activeModalWidget(), AboutDialog))
    dialog = QApplication.activeModalWidget()
    rows = dict(dialog.rows)
    from studio import __version__

    assert rows["Studio"] == __version__
    for name in ("torch", "diffusers", "transformers"):
        assert rows[name] == metadata.version(name)
    import PySide6

    assert rows["PySide6"] == PySide6.__version__ and rows["Qt"].count(".") == 2
    assert rows["Device"] == NOT_LOADED  # nothing has run on the model manager
    table = [(dialog.table.item(r, 0).text(), dialog.table.item(r, 1).text())
             for r in range(dialog.table.rowCount())]
    assert table == dialog.rows
    dialog.copy_to_clipboard()
    assert f"torch: {metadata.version('torch')}" in QGuiApplication.clipboard().text()
    dialog.close()


def test_about_names_the_device_once_a_model_has_loaded(qtbot, qapp, tmp_path, tiny_captioner_dir):
    from studio.inference.captioner import CaptionSettings
    from studio.inference.engine import CaptionJob, new_job_id
    from studio.ui.model_manager import ModelManager

    clip = make_video(tmp_path / "clip.mp4", width=48, height=32, frames=8, fps=8)
    manager = ModelManager(device="cpu")
    try:
        assert dict(AboutDialog(None, manager).rows)["Device"] == NOT_LOADED
        job = CaptionJob(new_job_id(), 1, str(clip), CaptionSettings(max_new_tokens=2),
                         str(tiny_captioner_dir))
        with qtbot.waitSignal(manager.job_finished, timeout=120_000):
            manager.submit(job)
        dialog = AboutDialog(None, manager)
        assert dict(dialog.rows)["Device"] == "cpu (float32)"
        dialog.deleteLater()
    finally:
        assert manager.shutdown()


def test_about_reads_versions_without_importing_the_ml_stack(tmp_path):
    code = (
        "import sys\n"
        "from PySide6.QtWidgets import QApplication\n"
        "app = QApplication([])\n"
        "from studio.ui.help_dialogs import AboutDialog\n"
        "rows = dict(AboutDialog().rows)\n"
        "print(rows['torch'], rows['transformers'])\n"
        "print([m for m in ('torch', 'diffusers', 'transformers') if m in sys.modules])\n"
    )
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=env, cwd=ROOT, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    versions, heavy = result.stdout.strip().splitlines()[-2:]
    assert versions == f"{metadata.version('torch')} {metadata.version('transformers')}"
    assert heavy == "[]"


# --- Help > Keyboard Shortcuts -----------------------------------------------------------------

def native(seq) -> str:
    return QKeySequence(seq).toString(QKeySequence.SequenceFormat.NativeText)


def test_shortcuts_lists_every_shortcut_of_the_window_and_never_goes_stale(qtbot, window):
    window.shortcuts_action.trigger()  # Help > Keyboard Shortcuts
    dialog = window.findChild(ShortcutsDialog)
    assert dialog is not None and dialog.isVisible()
    rows = dialog.rows
    assert ("File", "Import Files…", native("Ctrl+I")) in rows
    assert ("Playback", "Play", native(Qt.Key.Key_Space)) in rows
    assert ("Help", "Keyboard Shortcuts", native("Ctrl+/")) in rows
    # Every action of the window that has a shortcut is listed, once.
    bound = {(re.sub("&(.)", r"\1", a.text()), native(a.shortcut()))  # "&&" is one "&"
             for a in window.findChildren(QAction) if not a.shortcut().isEmpty()}
    listed = [(command, keys.split(", ")[0]) for _, command, keys in rows]
    assert bound == set(listed) and len(listed) == len(set(listed))
    table = [tuple(dialog.table.item(r, c).text() for c in range(3))
             for r in range(dialog.table.rowCount())]
    assert table == rows

    # A new action and a changed shortcut show the next time the dialog opens.
    extra = QAction("&Frobnicate", window)
    extra.setShortcut(QKeySequence("Ctrl+Alt+F"))
    window.menuBar().actions()[0].menu().addAction(extra)
    window.import_files_action.setShortcut(QKeySequence("Ctrl+Shift+O"))
    window.show_shortcuts()
    assert ("File", "Frobnicate", native("Ctrl+Alt+F")) in dialog.rows
    assert ("File", "Import Files…", native("Ctrl+Shift+O")) in dialog.rows
    assert ("File", "Import Files…", native("Ctrl+I")) not in dialog.rows

    dialog.filter_box.setText("frob")
    assert dialog.visible_rows() == [("File", "Frobnicate", native("Ctrl+Alt+F"))]


# --- opening files (studio FILE...) ------------------------------------------------------------

def test_open_files_imports_them_and_selects_the_first(qtbot, window, tmp_path):
    media = tmp_path / "media"
    media.mkdir()
    first = make_video(media / "first.mp4", width=64, height=48, frames=10, fps=10)
    second = make_video(media / "second.mp4", width=48, height=32, frames=6, fps=6)
    with qtbot.waitSignal(window.files_opened, timeout=60_000):
        window.open_files([str(first), str(second)])
    clips = {Path(c.path).name: c for c in window.project.clips()}
    assert set(clips) == {"first.mp4", "second.mp4"}
    assert [c.id for c in window.bin.selected_clips()] == [clips["first.mp4"].id]
    qtbot.waitUntil(lambda: window.player.clip_id == clips["first.mp4"].id, timeout=10_000)
    assert window.statusBar().currentMessage().startswith("Imported 2 new of 2")


def test_an_opened_folder_selects_its_first_clip_that_plays(qtbot, window, tmp_path):
    """A folder whose first file (in scan order) is not usable opened on that file's error;
    it now opens on its first clip that plays, the bad file still marked in the bin."""
    media = tmp_path / "shoot"
    media.mkdir()
    make_bad(media, "empty", name="a_empty.mp4")
    make_video(media / "b_walk.mp4", width=64, height=48, frames=10, fps=10)
    make_video(media / "c_pan.mp4", width=48, height=32, frames=6, fps=6)
    with qtbot.waitSignal(window.files_opened, timeout=60_000):
        window.open_files([str(media)])
    clips = {Path(c.path).name: c for c in window.project.clips()}
    assert set(clips) == {"a_empty.mp4", "b_walk.mp4", "c_pan.mp4"}
    assert not clips["a_empty.mp4"].ok
    assert [c.id for c in window.bin.selected_clips()] == [clips["b_walk.mp4"].id]
    qtbot.waitUntil(lambda: window.player.clip_id == clips["b_walk.mp4"].id, timeout=10_000)


def test_open_files_marks_non_media_and_names_missing_paths(qtbot, window, tmp_path):
    notes = make_bad(tmp_path, "text", name="notes.mp4")
    video = make_video(tmp_path / "walk.mp4", width=64, height=48, frames=10, fps=10)
    missing = tmp_path / "gone.mp4"
    with qtbot.waitSignal(window.files_opened, timeout=60_000):
        window.open_files([str(notes), str(video), str(missing)])
    clips = {Path(c.path).name: c for c in window.project.clips()}
    assert set(clips) == {"notes.mp4", "walk.mp4"}
    bad = clips["notes.mp4"]
    assert not bad.ok and bad.error
    # The non-media file is selected, its row marked with the reason, as after a drop.
    assert [c.id for c in window.bin.selected_clips()] == [bad.id]
    row = window.bin.model.row_of(bad.id)
    assert bad.error.split(": ", 1)[1] in window.bin.model.index(row, 0).data()
    message = window.statusBar().currentMessage()
    assert bad.error in message and f"not found: {missing}" in message
    # The player says why too (it asked for a clip to be selected, with one selected).
    assert window.player.view.message == f"Cannot play: {bad.error}"
    assert window.player.view.message_is_error
    window.bin.select_clip(clips["walk.mp4"].id)
    qtbot.waitUntil(lambda: window.player.displayed_index == 0, timeout=10_000)
    window.bin.select_clip(bad.id)
    qtbot.waitUntil(lambda: window.player.view.message == f"Cannot play: {bad.error}",
                    timeout=10_000)
    assert window.player.clip_id is None and window.player.displayed_image is None

    with qtbot.waitSignal(window.files_opened, timeout=10_000):
        window.open_files([str(missing)])
    assert window.statusBar().currentMessage() == f"Not found: {missing}"
    assert len(window.project.clips()) == 2
