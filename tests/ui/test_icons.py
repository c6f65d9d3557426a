"""Action icons (studio.ui.icons) and the main toolbar that shows them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QIcon, QImage
from PySide6.QtWidgets import QApplication, QMenu, QToolBar

from studio.core.library import Project
from studio.ui import icons
from studio.ui.main_window import MainWindow
from studio.ui.theme import dark_palette, light_palette, theme_manager

ACTIONS_DIR = Path(icons.__file__).resolve().parents[1] / "resources" / "icons" / "actions"


def _pixels(pixmap) -> np.ndarray:
    image = pixmap.toImage().convertToFormat(QImage.Format.Format_RGBA8888)
    width, height = image.width(), image.height()
    return np.frombuffer(image.constBits(), np.uint8).reshape(height, image.bytesPerLine())[
        :, :width * 4].reshape(height, width, 4).copy()  # the image is freed on return


def test_every_icon_file_is_listed_and_every_listed_icon_exists():
    on_disk = {p.stem for p in ACTIONS_DIR.glob("*.svg")}
    assert on_disk == set(icons.NAMES)
    for name in icons.NAMES:
        text = (ACTIONS_DIR / f"{name}.svg").read_text()
        assert 'viewBox="0 0 24 24"' in text, name
        assert "currentColor" in text, name  # one colour, set at render time


@pytest.mark.parametrize("palette_factory", [light_palette, dark_palette], ids=["light", "dark"])
def test_every_icon_renders_non_empty_in_the_theme_text_colour(qapp, palette_factory):
    palette = palette_factory()
    text = palette.color(palette.ColorGroup.Active, palette.ColorRole.WindowText)
    for name in icons.NAMES:
        icon = icons.icon(name, palette)
        assert not icon.isNull(), name
        for size in (16, 24):
            pixels = _pixels(icon.pixmap(size, size))
            assert pixels.shape[:2] == (size, size), (name, size)
            alpha = pixels[..., 3]
            drawn = alpha > 60
            # Line art: some, not all, of the square is drawn...
            assert 0.04 < drawn.mean() < 0.7, (name, size, drawn.mean())
            # ... in the palette's text colour (the opaque pixels are all of that colour).
            opaque = alpha > 200
            assert opaque.sum() >= size // 2, (name, size)
            rgb = pixels[opaque][:, :3].astype(int)
            expected = np.array([text.red(), text.green(), text.blue()])
            assert np.abs(rgb - expected).max() <= 2, (name, size)


def test_disabled_icons_use_the_disabled_text_colour(qapp):
    palette = dark_palette()
    disabled = palette.color(palette.ColorGroup.Disabled, palette.ColorRole.WindowText)
    pixmap = icons.icon("export", palette).pixmap(24, 24, QIcon.Mode.Disabled)
    pixels = _pixels(pixmap)
    rgb = pixels[pixels[..., 3] > 200][:, :3].astype(int)
    assert len(rgb)
    assert np.abs(rgb - [disabled.red(), disabled.green(), disabled.blue()]).max() <= 2


def test_unknown_icon_names_the_missing_file(qapp):
    with pytest.raises(icons.IconError, match="no-such-icon"):
        icons.icon("no-such-icon")


def _toolbar_color(window: MainWindow) -> QColor:
    pixels = _pixels(window.import_files_action.icon().pixmap(24, 24))
    r, g, b, _ = pixels[pixels[..., 3] > 200][0]
    return QColor(int(r), int(g), int(b))


def test_main_toolbar_holds_the_menu_actions_and_follows_the_theme(qtbot, tmp_path):
    manager = theme_manager()
    manager.set_mode("dark")
    project = Project(tmp_path / "project")
    window = MainWindow(project)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    try:
        toolbar = window.findChild(QToolBar, "MainToolBar")
        assert toolbar is window.main_toolbar
        expected = [window.import_files_action, window.captions.caption_action,
                    window.generate_dock.toggleViewAction(), window.export_action,
                    window.analyse_action]
        assert toolbar.actions() == expected
        assert [a.iconText() for a in toolbar.actions()] == [
            "Import", "Caption", "Generate", "Export", "Analyse"]
        menu_actions = {a for menu in window.menuBar().findChildren(QMenu) for a in menu.actions()}
        for action in expected:
            assert not action.icon().isNull()
            assert action in menu_actions  # the same QAction the menus use
        assert _toolbar_color(window).lightness() > 180  # light lines on the dark theme
        manager.set_mode("light")
        assert _toolbar_color(window).lightness() < 80  # re-tinted at once
        # Generate shows the prompt panel.
        window.generate_dock.toggleViewAction().trigger()
        qtbot.waitUntil(window.generate_dock.isVisible)
    finally:
        manager.set_mode("system")
        window.shutdown()
        project.close()


def test_toolbar_position_is_restored_by_the_saved_layout(qtbot, tmp_path):
    project = Project(tmp_path / "project")
    window = MainWindow(project)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    assert window.toolBarArea(window.main_toolbar) == Qt.ToolBarArea.TopToolBarArea
    window.addToolBar(Qt.ToolBarArea.LeftToolBarArea, window.main_toolbar)
    window.main_toolbar.hide()
    window.close()  # saves the layout
    window.shutdown()

    again = MainWindow(project)
    qtbot.addWidget(again)
    again.show()
    qtbot.waitExposed(again)
    try:
        assert again.toolBarArea(again.main_toolbar) == Qt.ToolBarArea.LeftToolBarArea
        assert not again.main_toolbar.isVisible()
        assert not again.main_toolbar.toggleViewAction().isChecked()
    finally:
        again.shutdown()
        project.close()
    QApplication.processEvents()
