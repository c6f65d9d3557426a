"""Studio's action icons: simple single-colour line SVGs (studio/resources/icons/actions, 24x24
viewBox, ``stroke="currentColor"``) rendered in the palette's text colour, so one set suits the
light and the dark theme.

``icon(name)`` renders an icon for the application's palette now; ``ActionIcons`` gives actions
their icons and renders them again when the theme changes (View › Theme, or the desktop's).
The SVG files are package data (studio.resources), like the application icon.
"""

from __future__ import annotations

from PySide6.QtCore import QByteArray, QObject, QRectF, QSize, Qt, Slot
from PySide6.QtGui import (
    QAction,
    QColor,
    QGuiApplication,
    QIcon,
    QIconEngine,
    QPainter,
    QPalette,
    QPixmap,
)

# Every action icon shipped; a test renders each one.
NAMES = ("import", "import-folder", "export", "caption", "generate", "analyse", "play", "pause",
         "stop", "undo", "redo", "cancel", "remove", "save", "dataset")

_R = QPalette.ColorRole
_G = QPalette.ColorGroup
_svg_cache: dict[str, bytes] = {}


class IconError(LookupError):
    pass


def svg_bytes(name: str) -> bytes:
    """The SVG source of action icon ``name`` (one of ``NAMES``)."""
    data = _svg_cache.get(name)
    if data is None:
        from studio.resources import read_bytes

        try:
            data = read_bytes("icons", "actions", f"{name}.svg")
        except OSError as exc:
            raise IconError(f"no action icon {name!r} (looked for icons/actions/{name}.svg "
                            "in studio.resources)") from exc
        _svg_cache[name] = data
    return data


def render(name: str, size: int, color: QColor | str, device_pixel_ratio: float = 1.0) -> QPixmap:
    """Icon ``name`` drawn ``size`` x ``size`` (logical pixels) in ``color`` on transparency."""
    from PySide6.QtSvg import QSvgRenderer

    hex_color = QColor(color).name(QColor.NameFormat.HexRgb)
    svg = svg_bytes(name).replace(b"currentColor", hex_color.encode())
    renderer = QSvgRenderer(QByteArray(svg))
    if not renderer.isValid():
        raise IconError(f"action icon {name!r} is not a valid SVG")
    pixels = max(1, round(size * device_pixel_ratio))
    pixmap = QPixmap(pixels, pixels)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter, QRectF(0, 0, pixels, pixels))
    painter.end()
    pixmap.setDevicePixelRatio(device_pixel_ratio)
    return pixmap


def mode_color(palette: QPalette, mode: QIcon.Mode) -> QColor:
    """The colour an icon is drawn in for ``mode``: the text colour (Normal, Active), the
    disabled text colour (Disabled), the highlighted text colour (Selected: a menu's hovered
    entry)."""
    if mode == QIcon.Mode.Disabled:
        return palette.color(_G.Disabled, _R.WindowText)
    if mode == QIcon.Mode.Selected:
        return palette.color(_G.Active, _R.HighlightedText)
    return palette.color(_G.Active, _R.WindowText)


class _TintedSvgEngine(QIconEngine):
    """Draws one action icon at the size and in the mode asked for, when asked (nothing is
    rendered at start-up for icons that are never shown), caching each pixmap."""

    def __init__(self, name: str, palette: QPalette | None) -> None:
        super().__init__()
        self._name = name
        self._palette = QPalette(palette) if palette is not None else None
        self._cache: dict[tuple, QPixmap] = {}

    def _pixmap(self, size: QSize, mode: QIcon.Mode, ratio: float) -> QPixmap:
        palette = self._palette if self._palette is not None else QGuiApplication.palette()
        color = mode_color(palette, mode)
        side = max(1, min(size.width(), size.height()))
        key = (side, ratio, color.rgba())
        pixmap = self._cache.get(key)
        if pixmap is None:
            pixmap = render(self._name, side, color, ratio)
            self._cache[key] = pixmap
        return pixmap

    def pixmap(self, size: QSize, mode: QIcon.Mode, state: QIcon.State) -> QPixmap:
        return self._pixmap(size, mode, 1.0)

    def scaledPixmap(self, size: QSize, mode: QIcon.Mode, state: QIcon.State,
                     scale: float) -> QPixmap:
        return self._pixmap(size, mode, scale)

    def paint(self, painter: QPainter, rect, mode: QIcon.Mode, state: QIcon.State) -> None:
        ratio = painter.device().devicePixelRatioF() if painter.device() is not None else 1.0
        painter.drawPixmap(rect, self._pixmap(rect.size(), mode, ratio))

    def actualSize(self, size: QSize, mode: QIcon.Mode, state: QIcon.State) -> QSize:
        side = min(size.width(), size.height())
        return QSize(side, side)

    def clone(self) -> QIconEngine:
        return _TintedSvgEngine(self._name, self._palette)

    def key(self) -> str:
        return "studio-tinted-svg"

    def isNull(self) -> bool:
        return False


def icon(name: str, palette: QPalette | None = None) -> QIcon:
    """Icon ``name`` drawn on demand in the colours of ``palette`` (default: the application's
    palette at the time it is drawn; see ``mode_color``)."""
    svg_bytes(name)  # a wrong name fails here, naming the icon
    return QIcon(_TintedSvgEngine(name, palette))


class ActionIcons(QObject):
    """Gives actions their icons and renders them again when the theme changes.

    ``set(action, name)``; lives in the GUI thread, a child of the window."""

    def __init__(self, parent: QObject, theme_manager=None) -> None:
        super().__init__(parent)
        self._bound: list[tuple[QAction, str]] = []
        if theme_manager is not None:
            theme_manager.theme_changed.connect(self.refresh)

    def set(self, action: QAction, name: str) -> None:
        svg_bytes(name)  # a wrong name fails here, naming the icon
        self._bound.append((action, name))
        action.setIcon(icon(name))

    def names(self) -> dict[QAction, str]:
        return dict(self._bound)

    @Slot()
    @Slot(str)
    def refresh(self, *_theme) -> None:
        """Render every bound icon again in the application's palette now."""
        import shiboken6

        self._bound = [(a, n) for a, n in self._bound if shiboken6.isValid(a)]
        made: dict[str, QIcon] = {}
        for action, name in self._bound:
            if name not in made:
                made[name] = icon(name)
            action.setIcon(made[name])

