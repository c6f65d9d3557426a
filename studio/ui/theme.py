"""The look: Fusion with a light and a dark palette that follow the desktop's colour scheme,
overridable in View › Theme (System / Light / Dark, remembered in QSettings), and the
application icon.

The desktop's scheme comes from ``QStyleHints.colorScheme()`` (Qt 6.5+); a change while Studio
runs arrives as ``colorSchemeChanged`` and is followed at once in System mode. An unknown scheme
(no desktop theme, the offscreen platform) counts as light. The player's video, transport bar
and timeline stay dark in both palettes (they set their own colours, studio.ui.player).
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QSettings, QSize, Qt, Signal, Slot
from PySide6.QtGui import QAction, QActionGroup, QColor, QIcon, QPalette, QPixmap
from PySide6.QtWidgets import QApplication, QMenu, QWidget

MODES = ("system", "light", "dark")
MODE_TITLES = {"system": "&System", "light": "&Light", "dark": "&Dark"}
SETTINGS_KEY = "ui/theme"

_R = QPalette.ColorRole
_G = QPalette.ColorGroup

_LIGHT = {
    _R.Window: "#eef0f3", _R.WindowText: "#1d2026", _R.Base: "#ffffff",
    _R.AlternateBase: "#f4f5f8", _R.ToolTipBase: "#fffbe6", _R.ToolTipText: "#1d2026",
    _R.PlaceholderText: "#8a9099", _R.Text: "#1d2026", _R.Button: "#e6e8ec",
    _R.ButtonText: "#1d2026", _R.BrightText: "#d92f2f", _R.Light: "#ffffff",
    _R.Midlight: "#f3f4f6", _R.Mid: "#9096a0", _R.Dark: "#a9aeb6", _R.Shadow: "#6b717a",
    _R.Highlight: "#2f6fd0", _R.HighlightedText: "#ffffff", _R.Link: "#1f5fbf",
    _R.LinkVisited: "#7a4fbf", _R.Accent: "#2f6fd0",
}
_LIGHT_DISABLED = {_R.WindowText: "#a3a8b0", _R.Text: "#a3a8b0", _R.ButtonText: "#a3a8b0",
                   _R.Base: "#f4f5f7", _R.Button: "#eceef1", _R.Highlight: "#b7c3d6"}

_DARK = {
    _R.Window: "#26282d", _R.WindowText: "#e3e6eb", _R.Base: "#1c1e22",
    _R.AlternateBase: "#22252a", _R.ToolTipBase: "#33363c", _R.ToolTipText: "#e3e6eb",
    _R.PlaceholderText: "#7d838d", _R.Text: "#e3e6eb", _R.Button: "#30333a",
    _R.ButtonText: "#e3e6eb", _R.BrightText: "#ff6b6b", _R.Light: "#454952",
    _R.Midlight: "#3a3d44", _R.Mid: "#7d838d", _R.Dark: "#17181b", _R.Shadow: "#0b0c0e",
    _R.Highlight: "#3d7fd9", _R.HighlightedText: "#ffffff", _R.Link: "#7fb3ff",
    _R.LinkVisited: "#b59cff", _R.Accent: "#3d7fd9",
}
_DARK_DISABLED = {_R.WindowText: "#6b7079", _R.Text: "#6b7079", _R.ButtonText: "#6b7079",
                  _R.Base: "#222428", _R.Button: "#2b2d32", _R.Highlight: "#3a4352"}


def _palette(colors: dict, disabled: dict) -> QPalette:
    palette = QPalette()
    for role, color in colors.items():
        palette.setColor(role, QColor(color))  # every group
    for role, color in disabled.items():
        palette.setColor(_G.Disabled, role, QColor(color))
    return palette


def light_palette() -> QPalette:
    return _palette(_LIGHT, _LIGHT_DISABLED)


def dark_palette() -> QPalette:
    return _palette(_DARK, _DARK_DISABLED)


# The player's transport bar and timeline stay dark in both themes, as in every video editor:
# the picture sets the tone. (The analysis plots follow the theme: plot_colors.)
_VIDEO = {
    _R.Window: "#15171b", _R.WindowText: "#d7dbe2", _R.Button: "#23262d",
    _R.ButtonText: "#d7dbe2", _R.Text: "#d7dbe2", _R.Base: "#1b1d22", _R.Light: "#3a3f48",
    _R.Midlight: "#2e323a", _R.Mid: "#23262d", _R.Dark: "#0e0f12", _R.Shadow: "#000000",
    _R.Highlight: "#3d7fd9", _R.HighlightedText: "#ffffff",
}
_VIDEO_DISABLED = {_R.WindowText: "#5b616b", _R.ButtonText: "#5b616b", _R.Text: "#5b616b"}


def video_palette(base: QPalette) -> QPalette:
    """``base`` with the video area's dark colours (the player's controls)."""
    palette = QPalette(base)
    for role, color in _VIDEO.items():
        palette.setColor(role, QColor(color))
    for role, color in _VIDEO_DISABLED.items():
        palette.setColor(_G.Disabled, role, QColor(color))
    return palette


def is_dark(palette: QPalette) -> bool:
    return palette.color(_R.Window).lightness() < 128


class PlotColors:
    """The analysis plots' colours for one theme (a plain class: no dataclass at start-up)."""

    def __init__(self, **colors: str | tuple[int, int, int, int]) -> None:
        for name, value in colors.items():
            setattr(self, name, QColor(*value) if isinstance(value, tuple) else QColor(value))


_DARK_PLOTS = dict(panel="#15171b", plot="#0f1115", grid="#242831", axis="#8b93a1",
                   title="#e3e6eb", hover_line=(255, 255, 255, 110),
                   hover_border=(255, 255, 255, 40), hover_box=(24, 26, 31, 235),
                   outline="#ffffff", badge=(255, 255, 255, 225), badge_text="#15171b",
                   empty_thumb="#23262d", hover_tile=(255, 255, 255, 160))
_LIGHT_PLOTS = dict(panel="#eef0f3", plot="#ffffff", grid="#dde1e7", axis="#5f6670",
                    title="#1d2026", hover_line=(0, 0, 0, 110), hover_border=(0, 0, 0, 50),
                    hover_box=(255, 255, 255, 240), outline="#ffffff",
                    badge=(29, 32, 38, 225), badge_text="#ffffff", empty_thumb="#d5d9e0",
                    hover_tile=(0, 0, 0, 140))
_PLOTS: dict[bool, PlotColors] = {}


def plot_colors(palette: QPalette) -> PlotColors:
    """The analysis plots' colours for ``palette``'s theme: they follow it (they were dark in
    the light theme); the player's video area alone stays dark (``video_palette``)."""
    dark = is_dark(palette)
    if dark not in _PLOTS:
        _PLOTS[dark] = PlotColors(**(_DARK_PLOTS if dark else _LIGHT_PLOTS))
    return _PLOTS[dark]


_ICON: QIcon | None = None


def app_icon() -> QIcon:
    """Studio's icon at every rendered size, read from the package (studio.resources)."""
    global _ICON
    if _ICON is None:
        from studio.resources import ICON_SIZES, app_icon_png_parts, file_path, read_bytes

        icon = QIcon()
        for size in ICON_SIZES:
            parts = app_icon_png_parts(size)
            path = file_path(*parts)
            if path is not None:  # a file on disk: QIcon reads it when that size is drawn
                icon.addFile(path, QSize(size, size))
                continue
            pixmap = QPixmap()  # inside an archive: read now
            if pixmap.loadFromData(read_bytes(*parts), "PNG"):
                icon.addPixmap(pixmap)
        _ICON = icon
    return QIcon(_ICON)


def settings() -> QSettings:
    from studio.settings import ui_settings_path

    return QSettings(str(ui_settings_path()), QSettings.Format.IniFormat)


class ThemeManager(QObject):
    """Applies the palette for the chosen mode to the application and follows the desktop.

    One per application: use ``theme_manager()``. Lives in the GUI thread."""

    # The palette now applied: "light" or "dark"; the mode: "system", "light" or "dark".
    theme_changed = Signal(str)
    mode_changed = Signal(str)

    def __init__(self, app: QApplication, style_set: bool = False) -> None:
        """``style_set``: Fusion is already the style (the application was made with
        ``-style Fusion``, which spares wrapping the style in Python, see studio.ui.app)."""
        super().__init__(app)
        self._app = app
        if not style_set:
            app.setStyle("Fusion")
        hints = app.styleHints()
        self._system = hints.colorScheme()
        hints.colorSchemeChanged.connect(self._on_system_scheme_changed)
        stored = settings().value(SETTINGS_KEY, "system")
        self._mode = stored if stored in MODES else "system"
        self._theme = ""
        self._apply()

    @property
    def mode(self) -> str:
        return self._mode

    @property
    def theme(self) -> str:
        """The palette applied now: "light" or "dark"."""
        return self._theme

    @property
    def system_theme(self) -> str:
        return "dark" if self._system == Qt.ColorScheme.Dark else "light"

    @Slot(str)
    def set_mode(self, mode: str) -> None:
        """"system" (follow the desktop), "light" or "dark"; remembered for the next start."""
        if mode not in MODES:
            raise ValueError(f"unknown theme {mode!r}: expected one of {', '.join(MODES)}")
        s = settings()
        s.setValue(SETTINGS_KEY, mode)
        s.sync()
        if mode != self._mode:
            self._mode = mode
            self.mode_changed.emit(mode)
        self._apply()

    @Slot(Qt.ColorScheme)
    def _on_system_scheme_changed(self, scheme: Qt.ColorScheme) -> None:
        self._system = scheme
        self.mode_changed.emit(self._mode)  # the System entry names the desktop's scheme
        if self._mode == "system":
            self._apply()

    def _apply(self) -> None:
        theme = self.system_theme if self._mode == "system" else self._mode
        if theme == self._theme:
            return
        self._theme = theme
        self._app.setPalette(dark_palette() if theme == "dark" else light_palette())
        # A widget with a style sheet keeps the palette it was polished with (the section
        # headers stayed dark text on the dark theme's background): polished again, it takes
        # the new one, and its sheet's palette(...) colours with it.
        for widget in self._app.allWidgets():
            sheet = widget.styleSheet()
            if sheet:
                widget.setStyleSheet("")
                widget.setStyleSheet(sheet)
        self.theme_changed.emit(theme)


_manager: ThemeManager | None = None


def theme_manager(style_set: bool = False) -> ThemeManager:
    """The application's theme manager, made (and the stored theme applied) on first use;
    ``style_set``: see ``ThemeManager``."""
    global _manager
    import shiboken6

    app = QApplication.instance()
    if app is None:
        raise RuntimeError("theme_manager() needs a QApplication")
    if _manager is None or not shiboken6.isValid(_manager) or _manager.parent() is not app:
        _manager = ThemeManager(app, style_set=style_set)
    return _manager


class ThemeMenu(QMenu):
    """View › Theme: System / Light / Dark, checkable, kept in step with the manager."""

    def __init__(self, manager: ThemeManager, parent: QWidget | None = None) -> None:
        super().__init__("&Theme", parent)
        self.setObjectName("ThemeMenu")
        self._manager = manager
        self.group = QActionGroup(self)
        self.group.setExclusive(True)
        self.mode_actions: dict[str, QAction] = {}
        for mode in MODES:
            action = QAction(MODE_TITLES[mode], self)
            action.setCheckable(True)
            action.setData(mode)
            self.group.addAction(action)
            self.addAction(action)
            self.mode_actions[mode] = action
        self.group.triggered.connect(self._on_triggered)
        manager.mode_changed.connect(self._sync)
        self._sync(manager.mode)

    @Slot(QAction)
    def _on_triggered(self, action: QAction) -> None:
        self._manager.set_mode(action.data())

    @Slot(str)
    def _sync(self, mode: str) -> None:
        self.mode_actions[mode].setChecked(True)
        self.mode_actions["system"].setText(f"&System (now {self._manager.system_theme})")
