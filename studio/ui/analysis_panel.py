"""The analysis panel: what a video's motion looks like, frame pair by frame pair.

For the selected clip (within its in/out points), or a generation the project made (every
frame; Analyse in the Generations list), ``core.metrics.analyze`` measures each pair
of consecutive frames on the shared pool (``analysis_worker.analyse_clip``): the warp error (how
badly the flow explains the next frame), the motion and the flicker. The panel plots the
three series against the frame index, painted with QPainter, and keeps them in step with the
player: a click (or a drag) on a plot seeks the player to that frame, the player's position
is a red line across the plots, and hovering shows every series' value at that frame. Below
the plots, the worst pairs by warp error as pictures of both frames; a click seeks there.

A second video can be picked to compare, a clip or a generation: its series are drawn on the
same axes, aligned at the first analysed frame (a clip's in point), with a legend. The list
offers the nearest first: a generation's source clip and the other seeds of its prompt, or
the generations made from a clip. Results are kept for the session per video and in/out
range, so going back to one shows its plots at once.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from PySide6.QtCore import QEvent, QPointF, QRectF, QSize, Qt, Signal, Slot
from PySide6.QtGui import (
    QAction,
    QColor,
    QFont,
    QKeySequence,
    QLinearGradient,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPen,
    QPixmap,
    QPolygonF,
)
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QSizePolicy,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from studio.core.cancel import CancelToken
from studio.ui.analysis_worker import (
    AnalysisEnd,
    AnalysisProgress,
    AnalysisResult,
    WorstPair,
    analyse_clip,
)
from studio.ui.elided_label import ElidedLabel, breakable
from studio.ui.theme import plot_colors
from studio.ui.wheel_guard import ComboBox
from studio.ui.workers import Workers

AXIS_TEXT = QColor("#8b93a1")
MARKER = QColor("#ff5a4f")  # the timeline's playhead colour
SERIES_COLORS = (QColor("#4fb3ff"), QColor("#ffb547"))  # the clip, the clip compared
ERROR_TEXT = QColor("#ff8a80")
WORST_PAIRS = 5
LINE_RUN = 16  # points per drawPolyline call (see MetricPlot._paint_series)


@dataclass(frozen=True)
class MetricSpec:
    key: str  # the PairMetrics attribute
    title: str
    unit: str  # appended to values ("" for none)
    tip: str


METRICS = (
    MetricSpec("warp_error", "Warp error", "",
               "Mean squared RGB error of the next frame predicted by warping this one along "
               "the optical flow (occluded pixels left out). High: the motion does not explain "
               "the change — boiling textures, objects popping, cuts."),
    MetricSpec("motion_px", "Motion", " px",
               "Mean optical flow length from this frame to the next, in pixels of the frame."),
    MetricSpec("flicker", "Flicker", "",
               "Change of mean brightness (0..1) from this frame to the next."),
)


def format_value(value: float, unit: str = "") -> str:
    """A value with about three significant digits, e.g. 0.0123, 2.35, 41.2, 1250."""
    if value is None or not math.isfinite(value):
        return "–"
    magnitude = abs(value)
    if magnitude == 0:
        text = "0"
    elif magnitude >= 100:
        text = f"{value:.0f}"
    elif magnitude >= 10:
        text = f"{value:.1f}"
    elif magnitude >= 1:
        text = f"{value:.2f}"
    elif magnitude >= 0.001:
        text = f"{value:.3g}" if magnitude < 0.01 else f"{value:.3f}"
    else:
        text = f"{value:.1e}"
    return text + unit


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 times a power of ten that is at least ``value``."""
    if not value > 0 or not math.isfinite(value):
        return 1.0
    exponent = math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        top = step * 10.0 ** exponent
        if top >= value * (1 - 1e-9):
            return top
    return 10.0 ** (exponent + 1)


def nice_step(span: float, count: int) -> int:
    """A whole tick step (1, 2, 5 times a power of ten) giving at most ``count`` ticks."""
    if span <= 0 or count <= 0:
        return 1
    raw = span / count
    exponent = math.floor(math.log10(raw)) if raw > 0 else 0
    for step in (1, 2, 5, 10):
        value = step * 10 ** exponent
        if value >= raw:
            return max(1, round(value))
    return max(1, int(10 ** (exponent + 1)))


@dataclass
class Series:
    """One line of a plot. ``xs`` are on the plot's axis (the analysed clip's frame indices),
    ``frames`` the series' own frame index of each pair's first frame."""

    label: str
    color: QColor
    xs: list[int]
    ys: list[float]
    frames: list[int]
    _lookup: dict[int, int] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._lookup = {x: k for k, x in enumerate(self.xs)}

    def position_of(self, x: int) -> int | None:
        return self._lookup.get(x)

    def value_at(self, x: int) -> float | None:
        k = self._lookup.get(x)
        return None if k is None else self.ys[k]


# ---- the plots ---------------------------------------------------------------------------------

def column_envelope(px, py):
    """The indices of the points (``px`` increasing) that a line needs at one pixel per
    column: the first, lowest, highest and last of each column, in order. An 18,000-pair clip
    on a 600 px plot draws about 2,400 segments instead of 18,000, and looks the same."""
    import numpy as np

    columns = np.floor(px).astype(np.int64)
    starts = np.flatnonzero(np.r_[True, columns[1:] != columns[:-1]])
    ends = np.r_[starts[1:], len(px)] - 1
    by_height = np.lexsort((py, columns))  # within each column, lowest y first
    return np.unique(np.concatenate((starts, ends, by_height[starts], by_height[ends])))


class MetricPlot(QWidget):
    """One measure against the frame index, for one or two series. See ``set_series``."""

    frame_clicked = Signal(int)  # the frame (x) under a click or drag
    hovered = Signal(int)  # the frame (x) under the pointer; -1 when it leaves

    LEFT, RIGHT, TOP = 54, 12, 22

    def __init__(self, spec: MetricSpec, parent: QWidget | None = None,
                 show_x_labels: bool = False):
        super().__init__(parent)
        self.spec = spec
        self._series: list[Series] = []
        self._x_range: tuple[int, int] = (0, 1)
        self._y_top = 1.0
        self._marker: int | None = None
        self._hover: int | None = None
        self._highlights: list[int] = []
        self._summary: list[tuple[str, QColor]] = []
        self._show_x_labels = show_x_labels
        self._dragging = False
        # The static part (frame, title, grid, lines, highlights), drawn once per data change;
        # a paint for a new playhead or hover copies it and draws those alone on top.
        self._static: QPixmap | None = None
        self.static_draws = 0  # how many times the static part was drawn (tests, bench)
        self.setMouseTracking(True)
        self.setMinimumHeight(52)  # three plots and the strip fit a short Analysis dock
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.setToolTip(spec.tip)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)

    def sizeHint(self) -> QSize:
        return QSize(600, 96 if self._show_x_labels else 80)

    # ---- state -------------------------------------------------------------------------

    @property
    def series(self) -> list[Series]:
        return list(self._series)

    @property
    def marker(self) -> int | None:
        return self._marker

    @property
    def hover(self) -> int | None:
        return self._hover

    @property
    def x_range(self) -> tuple[int, int]:
        return self._x_range

    @property
    def y_top(self) -> float:
        return self._y_top

    @property
    def highlights(self) -> list[int]:
        return list(self._highlights)

    def set_series(self, series: list[Series], x_range: tuple[int, int] | None = None) -> None:
        self._series = list(series)
        xs = [x for s in self._series for x in s.xs]
        if x_range is None:
            x_range = (min(xs), max(xs)) if xs else (0, 1)
        self._x_range = (int(x_range[0]), int(max(x_range[1], x_range[0])))
        top = max((y for s in self._series for y in s.ys if math.isfinite(y)), default=0.0)
        self._y_top = nice_ceiling(top * 1.05) if top > 0 else 1.0
        self.invalidate_static()

    def set_summary(self, runs: list[tuple[str, QColor]]) -> None:
        """The figures shown right of the title, as (text, colour) runs."""
        self._summary = list(runs)
        self.invalidate_static()

    def set_marker(self, x: int | None) -> None:
        if x != self._marker:
            self._marker = x
            self.update()

    def set_hover(self, x: int | None) -> None:
        if x != self._hover:
            self._hover = x
            self.update()

    def set_highlights(self, xs: list[int]) -> None:
        """Frames marked on the first series (the worst pairs), in rank order."""
        self._highlights = list(xs)
        self.invalidate_static()

    def invalidate_static(self) -> None:
        """Draw the static part again at the next paint: its data, size or colours changed."""
        self._static = None
        self.update()

    def resizeEvent(self, event) -> None:
        self._static = None
        super().resizeEvent(event)

    def changeEvent(self, event: QEvent) -> None:
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.StyleChange,
                            QEvent.Type.FontChange):
            self._static = None  # the theme's colours and the title's font are in it
        super().changeEvent(event)

    # ---- geometry ----------------------------------------------------------------------

    def plot_rect(self) -> QRectF:
        bottom = 20 if self._show_x_labels else 6
        return QRectF(self.LEFT, self.TOP, max(1, self.width() - self.LEFT - self.RIGHT),
                      max(1, self.height() - self.TOP - bottom))

    def x_to_px(self, x: float) -> float:
        rect = self.plot_rect()
        x0, x1 = self._x_range
        if x1 <= x0:  # one pair: in the middle
            return rect.center().x()
        inset = min(6.0, rect.width() / 20)
        return rect.left() + inset + (x - x0) / (x1 - x0) * (rect.width() - 2 * inset)

    def px_to_x(self, px: float) -> float:
        rect = self.plot_rect()
        x0, x1 = self._x_range
        if x1 <= x0:
            return float(x0)
        inset = min(6.0, rect.width() / 20)
        return x0 + (px - rect.left() - inset) / max(1.0, rect.width() - 2 * inset) * (x1 - x0)

    def y_to_px(self, y: float) -> float:
        rect = self.plot_rect()
        inset = 3.0
        return rect.bottom() - inset - (y / self._y_top) * (rect.height() - 2 * inset)

    def point_at(self, series: int, k: int) -> QPointF:
        """Where the ``k``-th point of a series is drawn, in widget coordinates."""
        s = self._series[series]
        return QPointF(self.x_to_px(s.xs[k]), self.y_to_px(s.ys[k]))

    def frame_at(self, px: float) -> int | None:
        """The frame (x) nearest a horizontal position, within the frames that have points."""
        xs = [x for s in self._series for x in (s.xs[:1] + s.xs[-1:])]
        if not xs:
            return None
        x = round(self.px_to_x(px))
        return max(min(xs), min(max(xs), x))

    # ---- mouse -------------------------------------------------------------------------

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            x = self.frame_at(event.position().x())
            if x is not None:
                self._dragging = True
                self.frame_clicked.emit(x)
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        x = self.frame_at(event.position().x())
        self.hovered.emit(-1 if x is None else x)
        if self._dragging and x is not None and x != self._marker:
            self.frame_clicked.emit(x)
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        self._dragging = False
        super().mouseReleaseEvent(event)

    def leaveEvent(self, event) -> None:
        self.hovered.emit(-1)
        super().leaveEvent(event)

    # ---- painting ----------------------------------------------------------------------

    def _colors(self):
        """The theme's plot colours, kept for this paint (``self._c``)."""
        self._c = plot_colors(self.palette())
        return self._c

    def _small_font(self) -> QFont:
        small = QFont(self.font())
        small.setPointSizeF(max(6.5, small.pointSizeF() * 0.82))
        return small

    def paintEvent(self, event: QPaintEvent) -> None:
        static = self._static if self._static is not None else self._draw_static()
        p = QPainter(self)
        p.drawPixmap(0, 0, static)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        p.setFont(self._small_font())
        rect = self.plot_rect()
        p.save()
        p.setClipRect(rect)
        self._paint_marker(p, rect)
        p.restore()
        self._paint_hover(p, rect)
        p.end()

    def _draw_static(self) -> QPixmap:
        """The plot without its playhead and hover, kept in ``self._static``."""
        ratio = self.devicePixelRatioF()
        pixmap = QPixmap(self.size() * ratio)
        pixmap.setDevicePixelRatio(ratio)
        p = QPainter(pixmap)
        p.fillRect(self.rect(), self._colors().panel)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        rect = self.plot_rect()
        self._paint_title(p)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(self._c.plot)
        p.drawRoundedRect(rect, 4, 4)
        p.setFont(self._small_font())
        self._paint_grid(p, rect)
        p.setClipRect(rect)
        for i in reversed(range(len(self._series))):  # the clip's own series on top
            self._paint_series(p, self._series[i], filled=(i == 0))
        self._paint_highlights(p)
        p.end()
        self._static = pixmap
        self.static_draws += 1
        return pixmap

    def _paint_title(self, p: QPainter) -> None:
        title_font = QFont(self.font())
        title_font.setBold(True)
        title_font.setPointSizeF(title_font.pointSizeF() * 0.92)
        p.setFont(title_font)
        p.setPen(self._c.title)
        band = QRectF(self.LEFT, 2, self.width() - self.LEFT - self.RIGHT, self.TOP - 4)
        p.drawText(band, int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter),
                   self.spec.title)
        title_w = p.fontMetrics().horizontalAdvance(self.spec.title)
        summary_font = QFont(self.font())
        summary_font.setPointSizeF(summary_font.pointSizeF() * 0.85)
        p.setFont(summary_font)
        metrics = p.fontMetrics()
        x = band.right()
        for text, color in reversed(self._summary):
            w = metrics.horizontalAdvance(text)
            if x - w < band.left() + title_w + 16:
                break
            p.setPen(color)
            p.drawText(QRectF(x - w, band.top(), w, band.height()),
                       int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter), text)
            x -= w

    def _paint_grid(self, p: QPainter, rect: QRectF) -> None:
        metrics = p.fontMetrics()
        for fraction in (0.0, 0.5, 1.0):
            y = self.y_to_px(self._y_top * fraction)
            p.setPen(QPen(self._c.grid, 1))
            p.drawLine(QPointF(rect.left(), y), QPointF(rect.right(), y))
            p.setPen(self._c.axis)
            label = format_value(self._y_top * fraction)
            p.drawText(QRectF(0, y - metrics.height() / 2, self.LEFT - 6, metrics.height()),
                       int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter), label)
        x0, x1 = self._x_range
        if not self._series:
            return
        step = nice_step(x1 - x0, max(1, int(rect.width() / 70)))
        first = math.ceil(x0 / step) * step
        for x in range(first, x1 + 1, step):
            px = self.x_to_px(x)
            p.setPen(QPen(self._c.grid, 1, Qt.PenStyle.DotLine))
            p.drawLine(QPointF(px, rect.top()), QPointF(px, rect.bottom()))
            if self._show_x_labels:
                p.setPen(self._c.axis)
                p.drawText(QRectF(px - 30, rect.bottom() + 2, 60, 16),
                           int(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop), str(x))

    def _paint_series(self, p: QPainter, series: Series, filled: bool) -> None:
        if not series.xs:
            return
        points = self._line_points(series)
        color = QColor(series.color)
        if filled and len(points) > 1:
            base = self.y_to_px(0)
            area = QPolygonF([QPointF(points[0].x(), base), *points,
                              QPointF(points[-1].x(), base)])
            gradient = QLinearGradient(0, self.plot_rect().top(), 0, base)
            top, bottom = QColor(color), QColor(color)
            top.setAlpha(95)
            bottom.setAlpha(12)
            gradient.setColorAt(0, top)
            gradient.setColorAt(1, bottom)
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(gradient)
            p.drawPolygon(area)
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.setPen(QPen(color, 1.6, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap,
                      Qt.PenJoinStyle.RoundJoin))
        # in short runs: Qt strokes one long antialiased polyline several times slower
        for start in range(0, len(points) - 1, LINE_RUN):
            p.drawPolyline(QPolygonF(points[start:start + LINE_RUN + 1]))
        spacing = self.plot_rect().width() / max(1, len(points))
        if spacing >= 7 or len(points) == 1:
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(color)
            for point in points:
                p.drawEllipse(point, 2.2, 2.2)

    def _line_points(self, series: Series) -> list[QPointF]:
        """Where the series' points are drawn (``x_to_px``, ``y_to_px`` for all at once),
        thinned to what one pixel column shows when there are more points than pixels."""
        import numpy as np

        rect = self.plot_rect()
        (x0, x1), xs = self._x_range, np.asarray(series.xs, dtype=np.float64)
        if x1 <= x0:
            px = np.full(len(xs), rect.center().x())
        else:
            inset = min(6.0, rect.width() / 20)
            px = rect.left() + inset + (xs - x0) / (x1 - x0) * (rect.width() - 2 * inset)
        py = rect.bottom() - 3.0 - (np.asarray(series.ys, dtype=np.float64) / self._y_top
                                    * (rect.height() - 6.0))
        if len(px) > 2 * rect.width():
            kept = column_envelope(px, py)
            px, py = px[kept], py[kept]
        return [QPointF(x, y) for x, y in zip(px.tolist(), py.tolist())]

    def _paint_highlights(self, p: QPainter) -> None:
        if not self._highlights or not self._series:
            return
        series = self._series[0]
        badge_font = QFont(self.font())
        badge_font.setPointSizeF(max(6.0, badge_font.pointSizeF() * 0.7))
        badge_font.setBold(True)
        p.setFont(badge_font)
        for rank, x in enumerate(self._highlights, start=1):
            y = series.value_at(x)
            if y is None:
                continue
            point = QPointF(self.x_to_px(x), self.y_to_px(y))
            p.setPen(QPen(self._c.outline, 1.4))
            p.setBrush(series.color)
            p.drawEllipse(point, 3.6, 3.6)
            badge = QRectF(point.x() - 7, point.y() - 19, 14, 12)
            badge.moveTop(max(self.plot_rect().top() + 1, badge.top()))
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(self._c.badge)
            p.drawRoundedRect(badge, 3, 3)
            p.setPen(self._c.badge_text)
            p.drawText(badge, int(Qt.AlignmentFlag.AlignCenter), str(rank))

    def _paint_marker(self, p: QPainter, rect: QRectF) -> None:
        if self._marker is None or not self._series:
            return
        x0, x1 = self._x_range
        if not x0 - 0.5 <= self._marker <= x1 + 1.5:
            return
        px = self.x_to_px(self._marker)
        p.setPen(QPen(MARKER, 1.5))
        p.drawLine(QPointF(px, rect.top()), QPointF(px, rect.bottom()))
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(MARKER)
        p.drawPolygon(QPolygonF([QPointF(px - 4.5, rect.top()), QPointF(px + 4.5, rect.top()),
                                 QPointF(px, rect.top() + 6)]))

    def _paint_hover(self, p: QPainter, rect: QRectF) -> None:
        if self._hover is None or not self._series:
            return
        x = self._hover
        px = self.x_to_px(x)
        p.setPen(QPen(self._c.hover_line, 1, Qt.PenStyle.DashLine))
        p.drawLine(QPointF(px, rect.top()), QPointF(px, rect.bottom()))
        lines: list[tuple[str, QColor | None]] = []
        for series in self._series:
            k = series.position_of(x)
            if k is None:
                continue
            y = series.ys[k]
            p.setPen(QPen(self._c.outline, 1.2))
            p.setBrush(series.color)
            p.drawEllipse(QPointF(px, self.y_to_px(y)), 3.2, 3.2)
            frame = series.frames[k]
            lines.append((f"{frame}→{frame + 1}  {format_value(y, self.spec.unit)}",
                          series.color))
        if not lines:
            return
        metrics = p.fontMetrics()
        swatch = 8
        w = max(metrics.horizontalAdvance(t) for t, _ in lines) + swatch + 18
        h = metrics.height() * len(lines) + 8
        left = px + 10 if px + 10 + w <= rect.right() else px - 10 - w
        box = QRectF(max(rect.left(), left), rect.top() + 4, w, h)
        p.setPen(QPen(self._c.hover_border, 1))
        p.setBrush(self._c.hover_box)
        p.drawRoundedRect(box, 4, 4)
        for i, (text, color) in enumerate(lines):
            row = QRectF(box.left() + 6, box.top() + 4 + i * metrics.height(), w - 12,
                         metrics.height())
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(color)
            p.drawRoundedRect(QRectF(row.left(), row.center().y() - swatch / 2, swatch, swatch),
                              2, 2)
            p.setPen(self._c.title)
            p.drawText(row.adjusted(swatch + 6, 0, 0, 0),
                       int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter), text)


# ---- the worst pairs ---------------------------------------------------------------------------

class WorstPairsStrip(QWidget):
    """The worst frame pairs side by side: both frames, their numbers and the warp error."""

    frame_clicked = Signal(int)

    LABEL_H = 16
    TITLE_W = 74

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._pairs: list[WorstPair] = []
        self._marker: int | None = None
        self._hover: int | None = None  # tile under the pointer
        self.setMouseTracking(True)
        self.setMinimumHeight(64)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.setToolTip("The frame pairs with the highest warp error. Click one to show it.")

    def sizeHint(self) -> QSize:
        return QSize(600, 96)

    @property
    def pairs(self) -> list[WorstPair]:
        return list(self._pairs)

    def set_pairs(self, pairs: list[WorstPair]) -> None:
        self._pairs = list(pairs)
        self._hover = None
        self.update()

    def set_marker(self, x: int | None) -> None:
        if x != self._marker:
            self._marker = x
            self.update()

    def _aspect(self) -> float:
        for pair in self._pairs:
            if pair.first is not None and pair.first.height() > 0:
                return pair.first.width() / pair.first.height()
        return 16 / 9

    def tile_rects(self) -> list[QRectF]:
        n = len(self._pairs)
        if not n:
            return []
        gap = 10
        avail_w = self.width() - self.TITLE_W - 10 - gap * (n - 1)
        thumb_h = max(16.0, self.height() - self.LABEL_H - 8)
        tile_w = 2 * thumb_h * self._aspect() + 2
        if tile_w * n > avail_w:  # shrink to fit the width
            tile_w = max(40.0, avail_w / n)
        tile_h = (tile_w - 2) / (2 * self._aspect()) + self.LABEL_H
        top = (self.height() - tile_h) / 2
        return [QRectF(self.TITLE_W + i * (tile_w + gap), top, tile_w, tile_h) for i in range(n)]

    def tile_at(self, pos: QPointF) -> int | None:
        for i, rect in enumerate(self.tile_rects()):
            if rect.contains(pos):
                return i
        return None

    def mousePressEvent(self, event: QMouseEvent) -> None:
        i = self.tile_at(event.position())
        if event.button() == Qt.MouseButton.LeftButton and i is not None:
            self.frame_clicked.emit(self._pairs[i].index)
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        i = self.tile_at(event.position())
        if i != self._hover:
            self._hover = i
            self.setCursor(Qt.CursorShape.PointingHandCursor if i is not None
                           else Qt.CursorShape.ArrowCursor)
            self.update()
        super().mouseMoveEvent(event)

    def leaveEvent(self, event) -> None:
        self._hover = None
        self.update()
        super().leaveEvent(event)

    def _colors(self):
        """The theme's plot colours, kept for this paint (``self._c``)."""
        self._c = plot_colors(self.palette())
        return self._c

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        p.fillRect(self.rect(), self._colors().panel)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
        title = QFont(self.font())
        title.setBold(True)
        title.setPointSizeF(title.pointSizeF() * 0.92)
        p.setFont(title)
        p.setPen(self._c.title)
        p.drawText(QRectF(6, 0, self.TITLE_W - 10, self.height()),
                   int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
                       | Qt.TextFlag.TextWordWrap), "Worst pairs")
        small = QFont(self.font())
        small.setPointSizeF(max(6.5, small.pointSizeF() * 0.8))
        p.setFont(small)
        for rank, (pair, rect) in enumerate(zip(self._pairs, self.tile_rects()), start=1):
            self._paint_tile(p, rank, pair, rect)
        if not self._pairs:
            p.setPen(self._c.axis)
            p.drawText(QRectF(self.TITLE_W, 0, self.width() - self.TITLE_W, self.height()),
                       int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter),
                       "The pairs with the highest warp error appear here when the analysis "
                       "is done.")
        p.end()

    def _paint_tile(self, p: QPainter, rank: int, pair: WorstPair, rect: QRectF) -> None:
        thumb_w = (rect.width() - 2) / 2
        thumb_h = rect.height() - self.LABEL_H
        for k, image in enumerate((pair.first, pair.second)):
            box = QRectF(rect.left() + k * (thumb_w + 2), rect.top(), thumb_w, thumb_h)
            if image is None or image.isNull():
                p.fillRect(box, self._c.empty_thumb)
            else:
                p.drawImage(box, image)
        current = self._marker is not None and pair.index <= self._marker <= pair.index + 1
        if current or self._hover == rank - 1:
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.setPen(QPen(MARKER if current else self._c.hover_tile, 2))
            p.drawRoundedRect(QRectF(rect.left() - 1, rect.top() - 1, rect.width() + 2,
                                     thumb_h + 2), 3, 3)
        label = QRectF(rect.left(), rect.top() + thumb_h + 1, rect.width(), self.LABEL_H - 1)
        metrics = p.fontMetrics()
        value = format_value(pair.warp_error)
        # The longest label that fits: rank, frames and warp error; frames and error; frames.
        for name, shown_value in ((f"{rank}.  {pair.index} → {pair.index + 1}", value),
                                  (f"{pair.index}→{pair.index + 1}", value),
                                  (f"{pair.index}→{pair.index + 1}", "")):
            needed = metrics.horizontalAdvance(name) + (
                metrics.horizontalAdvance(shown_value) + 6 if shown_value else 0)
            if needed <= label.width():
                break
        p.setPen(self._c.title)
        p.drawText(label, int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter), name)
        if shown_value:
            p.setPen(SERIES_COLORS[0])
            p.drawText(label, int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter),
                       shown_value)


# ---- the panel -----------------------------------------------------------------------------------

class _CompareCombo(ComboBox):
    """Refreshes its list of clips and generations each time it opens."""

    about_to_open = Signal()

    def showPopup(self) -> None:
        self.about_to_open.emit()
        super().showPopup()


# ---- what is analysed ----------------------------------------------------------------------------

CLIP, GENERATION = "clip", "generation"
PROMPT_START_CHARS = 32  # of a generation's prompt, in the compare list


@dataclass(frozen=True)
class Subject:
    """What the panel measures: a clip of the bin (within its in/out points) or a video the
    project generated (every frame). ``subject_of_clip`` / ``subject_of_generation``."""

    kind: str  # CLIP or GENERATION
    id: int  # the clip's or the generation's id
    path: str
    name: str  # for the title and the legend
    frame_count: int
    fps: float
    in_frame: int | None
    out_frame: int | None
    problem: str | None  # why it cannot be analysed; None when it can
    stamp: tuple  # the file's (size, mtime) when the subject was made
    source_clip_id: int | None = None  # a generation's source clip
    prompt: str = ""  # a generation's prompt
    seed: int | None = None  # a generation's seed

    @property
    def key(self) -> tuple:
        """What a cached result belongs to: the subject, its file and its range."""
        return (self.kind, self.id, self.path, self.stamp, self.in_frame, self.out_frame)

    @property
    def ref(self) -> tuple[str, int]:
        """(kind, id): the compare list's item data."""
        return self.kind, self.id

    def with_in_out(self, in_frame, out_frame) -> Subject:
        from dataclasses import replace

        return replace(self, in_frame=in_frame, out_frame=out_frame)


def subject_of_clip(clip) -> Subject:
    problem = None
    if clip.info is None or clip.missing:
        problem = f"Cannot analyse {clip.path}: " + (clip.error
                                                     or "the file is missing or changed")
    info = clip.info
    return Subject(CLIP, clip.id, clip.path, clip.name,
                   info.frame_count if info is not None else 0,
                   info.fps if info is not None else 0.0,
                   clip.in_frame, clip.out_frame, problem, (clip.size, clip.mtime))


def generation_name(g) -> str:
    """"Generation #12 · seed 42": a name that tells seeds of one prompt apart."""
    seed = g.params.get("seed") if isinstance(g.params, dict) else None
    return f"Generation #{g.id}" + ("" if seed is None else f" · seed {seed}")


def generation_label(g) -> str:
    """The name and the prompt's start, for the compare list."""
    prompt = " ".join((g.prompt or "").split())
    if len(prompt) > PROMPT_START_CHARS:
        cut = prompt[:PROMPT_START_CHARS - 1]
        if " " in cut[PROMPT_START_CHARS // 2:]:  # at a word's end when one is near
            cut = cut.rsplit(" ", 1)[0]
        prompt = cut.rstrip(" ,;:") + "…"
    return generation_name(g) + (f" · {prompt}" if prompt else "")


def subject_of_generation(g) -> Subject:
    """A generation's subject; the file is looked at now (its stamp, whether it is there)."""
    import os

    params = g.params if isinstance(g.params, dict) else {}
    try:
        stat = os.stat(g.path)
        stamp, problem = (stat.st_size, stat.st_mtime), None
    except OSError:
        stamp, problem = (None, None), f"Cannot analyse {g.path}: file not found"
    info = g.info
    frames = info.frame_count if info is not None else int(params.get("num_frames") or 0)
    fps = info.fps if info is not None else float(params.get("fps") or 0.0)
    seed = params.get("seed")
    return Subject(GENERATION, g.id, g.path, generation_name(g), frames, fps, None, None,
                   problem, stamp, source_clip_id=g.source_clip_id, prompt=g.prompt or "",
                   seed=seed if isinstance(seed, int) else None)


def clip_key(clip) -> tuple:
    """What a cached result of a clip belongs to: the clip, its file and its in/out range."""
    return subject_of_clip(clip).key


def _range_text(subject: Subject) -> str:
    count = subject.frame_count
    first = subject.in_frame if subject.in_frame is not None else 0
    last = subject.out_frame if subject.out_frame is not None else max(0, count - 1)
    whole = subject.in_frame is None and subject.out_frame is None
    return f"all {count} frames" if whole else f"frames {first}–{last}"


@dataclass
class _Job:
    key: tuple
    subject: Subject
    token: CancelToken
    pairs: list = field(default_factory=list)
    done: int = 0
    total: int = 0


class AnalysisPanel(QWidget):
    """Temporal measures of a clip or a generation. ``show_clip`` (from the bin),
    ``show_generation`` (from the generations list), ``analyse``, ``cancel``,
    ``set_compare``; ``attach_player`` keeps the plots and the player in step.
    ``set_clip_source`` and ``set_generation_source`` say what the compare list offers.
    ``shutdown`` before the application quits."""

    status_message = Signal(str)
    analysis_finished = Signal(object, object)  # Subject, core.metrics.Analysis

    def __init__(self, parent: QWidget | None = None, player=None, analyse_action=None):
        """``analyse_action``: a QAction to use as Analyse Clip (a window's, made before the
        panel so that its menus and shortcuts exist early); None makes one."""
        super().__init__(parent)
        self._analyse_action = analyse_action
        self._subject: Subject | None = None
        self._compare: Subject | None = None
        self._cache: dict[tuple, AnalysisResult] = {}
        self._errors: dict[tuple, str] = {}
        self._jobs: dict[int, _Job] = {}
        self._next_job = 1
        self._note = ""  # why the plots are partial (cancelled)
        self._partial: _Job | None = None  # the cancelled job whose pairs are still shown
        self._message = ""
        self._message_is_error = False
        self._player = None
        self._clip_source: Callable[[], list] = list
        self._generation_source: Callable[[], list] = list
        self._shut_down = False

        # One analysis at a time (it keeps the cores busy), on the shared pool.
        self.pool = Workers(self, limit=1, long=True)

        self.setAutoFillBackground(True)
        self._build()
        if player is not None:
            self.attach_player(player)
        self._refresh()

    # ---- construction ------------------------------------------------------------------

    def _build(self) -> None:
        self._build_actions()
        header = self._build_header()
        status = self._build_status_row()
        # Page 0: a message (and the Analyse button); page 1: plots and the worst pairs.
        self.stack = QStackedWidget(self)
        self.stack.addWidget(self._build_message_page())
        self.stack.addWidget(self._build_plots_page())

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(header)
        layout.addLayout(status)
        layout.addWidget(self.stack, 1)

    def _build_actions(self) -> None:
        """Analyse Clip (the window's action when one was given) and Cancel Analysis."""
        self.analyse_action = self._analyse_action
        if self.analyse_action is None:
            self.analyse_action = QAction(self)
        self.analyse_action.setText("Analyse Clip")
        self.analyse_action.setShortcut(QKeySequence("Ctrl+Alt+A"))
        self.analyse_action.setIconText("Analyse")  # what its buttons show
        self.analyse_action.setToolTip("Measure warp error, motion and flicker of the selected "
                                       "clip, within its in/out points (Ctrl+Alt+A)")
        self.analyse_action.triggered.connect(self.analyse)
        self.cancel_action = QAction("Cancel Analysis", self)
        self.cancel_action.setIconText("Cancel")
        self.cancel_action.triggered.connect(self.cancel)

    def _build_header(self) -> QVBoxLayout:
        """Title, legend, the Compare combo and the Analyse button (the Cancel button is made
        here too and sits in the status row)."""
        # elided (was cut off: "b_audio.mp4 · all 90 frame"), the whole title in its tooltip
        self.title_label = ElidedLabel(parent=self)
        title_font = QFont(self.font())
        title_font.setBold(True)
        self.title_label.setFont(title_font)
        self.legend_label = QLabel(self)
        self.legend_label.setTextFormat(Qt.TextFormat.RichText)
        # In a narrow dock the second entry goes under the first (it was cut off): each
        # entry stays on one line, the lines break between entries.
        self.legend_label.setWordWrap(True)
        self.legend_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)

        self.compare_combo = _CompareCombo(self)
        self.compare_combo.setToolTip("Draw a second video's measures on the same axes, aligned "
                                      "at the first frame analysed: a clip, a generation's "
                                      "source, another seed of the same prompt")
        self.compare_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.compare_combo.setMinimumContentsLength(10)  # the title keeps room in a narrow dock
        self.compare_combo.about_to_open.connect(self._fill_compare_combo)
        self.compare_combo.activated.connect(self._on_compare_activated)
        self.analyse_button = QToolButton(self)
        self.analyse_button.setDefaultAction(self.analyse_action)
        self.cancel_button = QToolButton(self)
        self.cancel_button.setDefaultAction(self.cancel_action)

        # The title names the clip (with a comparison the legend names both instead) on a
        # line of its own: beside the Compare box a dock of the default size cut it to
        # "night_d… frames".
        header = QVBoxLayout()
        header.setContentsMargins(8, 6, 8, 2)
        header.setSpacing(4)
        header.addWidget(self.title_label)
        header.addWidget(self.legend_label)
        controls = QHBoxLayout()
        controls.setSpacing(8)
        compare_label = QLabel("Compare", self)
        compare_label.setStyleSheet("color: #8b93a1;")
        controls.addWidget(compare_label)
        controls.addWidget(self.compare_combo, 1)
        controls.addWidget(self.analyse_button)
        header.addLayout(controls)
        return header

    def _build_status_row(self) -> QHBoxLayout:
        """The progress bar, the status text and the Cancel button."""
        self.progress = QProgressBar(self)
        self.progress.setTextVisible(True)
        self.progress.setMaximumHeight(16)
        self.status_label = QLabel(self)
        self.status_label.setStyleSheet("color: #8b93a1;")
        self.status_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        status = QHBoxLayout()
        status.setContentsMargins(8, 0, 8, 0)
        status.setSpacing(8)
        status.addWidget(self.progress, 1)
        status.addWidget(self.status_label, 1)
        status.addWidget(self.cancel_button)
        return status

    def _build_message_page(self) -> QWidget:
        """The stack's page 0: a message and a large Analyse button."""
        message_page = QWidget(self.stack)
        self.message_label = QLabel(message_page)
        self.message_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.message_label.setWordWrap(True)
        self.message_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.message_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message_button = QToolButton(message_page)
        self.message_button.setDefaultAction(self.analyse_action)
        # its label beside the icon (it showed the icon alone)
        self.message_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.message_button.setStyleSheet(
            "QToolButton { background: #3d7fd9; color: white; border-radius: 4px; "
            "padding: 5px 18px; font-weight: bold; }"
            "QToolButton:hover { background: #4a8ce6; }"
            "QToolButton:disabled { background: #2a2e36; color: #5b616b; }")
        page0 = QVBoxLayout(message_page)
        page0.addStretch(1)
        page0.addWidget(self.message_label)
        page0.addWidget(self.message_button, 0, Qt.AlignmentFlag.AlignHCenter)
        page0.addStretch(1)
        return message_page

    def _build_plots_page(self) -> QWidget:
        """The stack's page 1: a plot per metric over the worst-pairs strip; clicks seek."""
        plots_page = QWidget(self.stack)
        self.plots = [MetricPlot(spec, plots_page, show_x_labels=(spec is METRICS[-1]))
                      for spec in METRICS]
        self.warp_plot, self.motion_plot, self.flicker_plot = self.plots
        for plot in self.plots:
            plot.frame_clicked.connect(self._on_frame_clicked)
            plot.hovered.connect(self._on_hovered)
        self.worst_strip = WorstPairsStrip(plots_page)
        self.worst_strip.frame_clicked.connect(self._on_frame_clicked)
        page1 = QVBoxLayout(plots_page)
        page1.setContentsMargins(0, 0, 0, 4)
        page1.setSpacing(2)
        for plot in self.plots:
            page1.addWidget(plot, 1)
        page1.addWidget(self.worst_strip)
        return plots_page

    def sizeHint(self) -> QSize:
        return QSize(760, 440)

    # ---- wiring ------------------------------------------------------------------------

    def attach_player(self, player) -> None:
        """Keep the plots' position marker on ``player``'s position; clicks seek it."""
        self._player = player
        player.position_changed.connect(self._on_player_position)
        self._on_player_position(player.position)

    def set_clip_source(self, clips: Callable[[], list]) -> None:
        """Where the compare list's clips come from: a callable giving the project's clips."""
        self._clip_source = clips
        self._fill_compare_combo()

    def set_generation_source(self, generations: Callable[[], list], model=None) -> None:
        """Where the compare list's generations come from: a callable giving the project's
        generations (``Project.generations``). ``model``: the ``ProjectModel``, whose new
        generations join the list while it is shown."""
        self._generation_source = generations
        if model is not None:
            model.generation_added.connect(self._on_generation_added)
        self._fill_compare_combo()

    # ---- public state --------------------------------------------------------------------

    @property
    def subject(self) -> Subject | None:
        """What is shown: a clip's or a generation's ``Subject``, or None."""
        return self._subject

    @property
    def compare(self) -> Subject | None:
        """What is drawn beside it, or None."""
        return self._compare

    @property
    def clip(self):
        """The shown clip's ``Subject`` (None when nothing, or a generation, is shown)."""
        return self._subject if self._subject is not None and self._subject.kind == CLIP else None

    @property
    def result(self) -> AnalysisResult | None:
        return None if self._subject is None else self._cache.get(self._subject.key)

    @property
    def analysis(self):
        """The shown subject's complete ``core.metrics.Analysis``, or None."""
        result = self.result
        return None if result is None else result.analysis

    @property
    def compare_analysis(self):
        if self._compare is None:
            return None
        result = self._cache.get(self._compare.key)
        return None if result is None else result.analysis

    @property
    def is_busy(self) -> bool:
        return bool(self._jobs)

    @property
    def message(self) -> str:
        """The text shown instead of the plots (or under them), "" when none."""
        return self._message

    @property
    def message_is_error(self) -> bool:
        return self._message_is_error

    def pair_count(self) -> int:
        """Points of the shown subject's series (all three plots have as many)."""
        series = self.warp_plot.series
        return len(series[0].xs) if series and self.stack.currentIndex() == 1 else 0

    def compare_items(self) -> list[tuple[str, tuple[str, int] | None]]:
        """The compare list as (label, (kind, id)), in its order; ("Nothing", None) first."""
        combo = self.compare_combo
        return [(combo.itemText(i), combo.itemData(i)) for i in range(combo.count())
                if combo.itemData(i) is not None or i == 0]

    # ---- actions -----------------------------------------------------------------------

    @Slot(object)
    def show_clip(self, clip) -> None:
        """Show ``clip`` (a ``Clip`` or None): its cached results, or a prompt to analyse."""
        self.show_subject(None if clip is None else subject_of_clip(clip))

    def show_generation(self, generation) -> None:
        """Show a ``Generation`` of the project (every frame of its video)."""
        self.show_subject(subject_of_generation(generation))

    def show_subject(self, subject: Subject | None) -> None:
        if subject is not None and self._subject is not None and subject.key == self._subject.key:
            self._subject = subject
            return
        self._subject = subject
        self._note = ""
        if (self._compare is not None and subject is not None
                and self._compare.ref == subject.ref):
            self._compare = None
        self._cancel_unwanted()
        self._fill_compare_combo()
        self._refresh()

    def set_in_out(self, clip_id: int, in_frame, out_frame) -> None:
        """A clip's marks changed (its range, and so its analysis, is another)."""
        changed = False
        for attr in ("_subject", "_compare"):
            subject = getattr(self, attr)
            if subject is not None and subject.ref == (CLIP, clip_id):
                setattr(self, attr, subject.with_in_out(in_frame, out_frame))
                changed = True
        if changed:
            self._note = ""
            self._cancel_unwanted()
            self._refresh()

    @Slot()
    def analyse(self) -> None:
        """Analyse the shown subject (and the one compared), unless already done."""
        if self._subject is None or self._shut_down:
            return
        self._note = ""
        for subject in (self._subject, self._compare):
            if subject is not None:
                self._errors.pop(subject.key, None)
                self._start(subject)
        self._refresh()

    @Slot()
    def cancel(self) -> None:
        for job in self._jobs.values():
            job.token.cancel()
        self.pool.clear()  # jobs not started yet never run; their slots below still report
        self._refresh()

    def set_compare(self, ref: tuple[str, int] | None) -> None:
        """Compare with the clip or generation ``ref`` = (kind, id) of the sources (None: no
        comparison); it is analysed when the shown subject has been."""
        subject = None if ref is None else self._find(tuple(ref))
        self._compare = subject
        self._cancel_unwanted()
        if subject is not None and (self.result is not None or self._job_for(self._subject)):
            self._start(subject)
        self._fill_compare_combo()
        self._refresh()

    def set_compare_clip(self, clip_id: int | None) -> None:
        """Compare with the clip ``clip_id`` (None: no comparison)."""
        self.set_compare(None if clip_id is None else (CLIP, clip_id))

    def shutdown(self) -> None:
        """Cancel and wait for the analyses; safe to call twice."""
        if self._shut_down:
            return
        self._shut_down = True
        for job in self._jobs.values():
            job.token.cancel()
        self.pool.clear()
        self.pool.waitForDone(10000)

    # ---- the sources -----------------------------------------------------------------------

    def _clips(self) -> list:
        try:
            return list(self._clip_source())
        except Exception:  # noqa: BLE001 - a broken source leaves its part of the list out
            return []

    def _generations(self) -> list:
        try:
            return list(self._generation_source())
        except Exception:  # noqa: BLE001 - a broken database: no generations to offer
            return []

    def _find(self, ref: tuple[str, int]) -> Subject | None:
        kind, item_id = ref
        if kind == CLIP:
            clip = next((c for c in self._clips() if c.id == item_id), None)
            return None if clip is None else subject_of_clip(clip)
        generation = next((g for g in self._generations() if g.id == item_id), None)
        return None if generation is None else subject_of_generation(generation)

    @Slot(object)
    def _on_generation_added(self, _generation) -> None:
        self._fill_compare_combo()

    # ---- jobs --------------------------------------------------------------------------

    def _job_for(self, subject: Subject | None) -> int | None:
        if subject is None:
            return None
        key = subject.key
        return next((j for j, job in self._jobs.items() if job.key == key), None)

    def _start(self, subject: Subject) -> None:
        key = subject.key
        if key in self._cache or self._job_for(subject) is not None:
            return
        if subject.problem is not None:
            self._errors[key] = subject.problem
            return
        job = self._next_job
        self._next_job += 1
        token = CancelToken()
        self._jobs[job] = _Job(key, subject, token)
        self.pool.run(analyse_clip, job, subject.path, subject.in_frame, subject.out_frame,
                      token, WORST_PAIRS, reports=True, yielded=self._on_report,
                      returned=self._on_end)

    def _cancel_unwanted(self) -> None:
        wanted = {s.key for s in (self._subject, self._compare) if s is not None}
        for job in self._jobs.values():
            if job.key not in wanted:
                job.token.cancel()

    @Slot(object)
    def _on_report(self, report: AnalysisProgress) -> None:
        record = self._jobs.get(report.job)
        if record is None:
            return
        if report.pairs:
            record.pairs.extend(report.pairs)
            if self._is_shown(record.key):
                self._refresh()
        record.done, record.total = report.done, report.total
        self._refresh_status()

    @Slot(object)
    def _on_end(self, end: AnalysisEnd) -> None:
        if end.cancelled:
            self._on_cancelled(end.job)
        elif end.result is None:
            self._on_failed(end.job, end.error)
        else:
            self._on_finished(end.job, end.result)

    def _on_finished(self, job: int, result: AnalysisResult) -> None:
        record = self._jobs.pop(job, None)
        if record is None:
            return
        self._cache[record.key] = result
        if self._is_shown(record.key):
            self._refresh()
        else:
            self._refresh_status()
        self.analysis_finished.emit(record.subject, result.analysis)
        analysis = result.analysis
        self.status_message.emit(
            f"Analysed {record.subject.name}: warp error "
            f"{format_value(analysis.warp_error_mean)}, "
            f"motion {format_value(analysis.flow_mean_px, ' px')}, "
            f"flicker {format_value(analysis.flicker)}")

    def _on_failed(self, job: int, message: str) -> None:
        record = self._jobs.pop(job, None)
        if record is None:
            return
        self._errors[record.key] = message
        self._refresh()
        self.status_message.emit(message)

    def _on_cancelled(self, job: int) -> None:
        record = self._jobs.pop(job, None)
        if record is None:
            return
        if (self._subject is not None and record.key == self._subject.key
                and record.pairs):
            self._note = (f"Cancelled after {len(record.pairs)} of {record.total} pairs: "
                          "the plots are partial")
            self._partial = record
        self._refresh()

    def _is_shown(self, key: tuple) -> bool:
        return any(s is not None and s.key == key for s in (self._subject, self._compare))

    # ---- data to series ------------------------------------------------------------------

    def _pairs_of(self, subject: Subject | None) -> tuple[list, bool]:
        """(pairs, complete) of a subject: cached, streaming in, or the part kept on cancel."""
        if subject is None:
            return [], False
        key = subject.key
        result = self._cache.get(key)
        if result is not None:
            return list(result.analysis.pairs), True
        job = self._job_for(subject)
        if job is not None:
            return list(self._jobs[job].pairs), False
        partial = self._partial
        if self._note and partial is not None and partial.key == key:
            return list(partial.pairs), False
        return [], False

    @staticmethod
    def _first_frame(subject: Subject) -> int:
        return subject.in_frame if subject.in_frame is not None else 0

    def _build_series(self, metric: str) -> list[Series]:
        out = []
        pairs, _ = self._pairs_of(self._subject)
        if pairs:
            out.append(Series(self._subject.name, SERIES_COLORS[0], [p.index for p in pairs],
                              [getattr(p, metric) for p in pairs], [p.index for p in pairs]))
        other, _ = self._pairs_of(self._compare)
        if other and pairs:
            shift = self._first_frame(self._subject) - self._first_frame(self._compare)
            out.append(Series(self._compare.name, SERIES_COLORS[1],
                              [p.index + shift for p in other],
                              [getattr(p, metric) for p in other], [p.index for p in other]))
        return out

    def _x_range(self) -> tuple[int, int] | None:
        """The axis: the shown subject's analysed pairs (first frame of each)."""
        subject = self._subject
        if subject is None:
            return None
        count = max(1, subject.frame_count)
        first = self._first_frame(subject)
        last = (subject.out_frame if subject.out_frame is not None else count - 1) - 1
        result = self._cache.get(subject.key)
        if result is not None:
            first, last = result.analysis.first_frame, result.analysis.last_frame - 1
        other, _ = self._pairs_of(self._compare)
        if other:
            shift = first - self._first_frame(self._compare)
            last = max(last, other[-1].index + shift)
        return first, max(first, last)

    # ---- refresh -----------------------------------------------------------------------

    def _title(self, subject: Subject) -> str:
        return f"{subject.name} · {_range_text(subject)}"

    def _refresh(self) -> None:
        subject = self._subject
        key = None if subject is None else subject.key
        pairs, complete = self._pairs_of(subject)
        error = None if key is None else self._errors.get(key)
        if subject is None:
            self.title_label.setText("Analysis")
            self._show_message("Select a clip in the bin, or Analyse a generation in "
                               "Generate > Generations, to measure its warp error, motion "
                               "and flicker frame by frame.")
        elif error is not None and not pairs:
            self.title_label.setText(self._title(subject))
            self._show_message(error, error=True)
        elif subject.problem is not None:
            self.title_label.setText(subject.name)
            self._show_message(subject.problem, error=True)
        elif not pairs:
            self.title_label.setText(self._title(subject))
            if self._job_for(subject) is not None:
                self._show_message(f"Analysing {subject.name}…")
            else:
                self._show_message(f"Analyse {subject.name} ({_range_text(subject)}) to plot "
                                   "its warp error, motion and flicker per frame pair.")
        else:
            self.title_label.setText(self._title(subject))
            self._message = self._note
            self._message_is_error = False
            self.stack.setCurrentIndex(1)
            x_range = self._x_range()
            for plot in self.plots:
                plot.set_series(self._build_series(plot.spec.key), x_range)
            self._refresh_summaries(complete)
        self._refresh_legend()
        self._refresh_status()
        if self._player is not None:
            self._on_player_position(self._player.position)

    def _show_message(self, text: str, error: bool = False) -> None:
        self._message = text
        self._message_is_error = error
        self.message_label.setText(breakable(text))  # a long file name wraps, not widens
        self.message_label.setStyleSheet(f"color: {(ERROR_TEXT if error else QColor('#9aa3b0')).name()};"
                                         " font-size: 11pt;")
        self.stack.setCurrentIndex(0)
        for plot in self.plots:
            plot.set_series([])
            plot.set_highlights([])
            plot.set_summary([])
        self.worst_strip.set_pairs([])

    def _refresh_summaries(self, complete: bool) -> None:
        result = self.result
        compare = self._cache.get(self._compare.key) if self._compare else None
        for plot in self.plots:
            runs: list[tuple[str, QColor]] = []
            if result is not None:
                a = result.analysis
                runs = self._summary_runs(plot.spec.key, a, SERIES_COLORS[0])
                if compare is not None:
                    runs.append(("   vs ", AXIS_TEXT))
                    runs += self._summary_runs(plot.spec.key, compare.analysis, SERIES_COLORS[1],
                                               short=True)
            elif not complete:
                runs = [("measuring…", AXIS_TEXT)]
            plot.set_summary(runs)
        self.warp_plot.set_highlights(result.analysis.worst_pairs(WORST_PAIRS) if result else [])
        self.worst_strip.set_pairs(result.worst if result is not None else [])

    @staticmethod
    def _summary_runs(key: str, a, color: QColor, short: bool = False) -> list:
        grey = AXIS_TEXT
        if key == "warp_error":
            runs = [("mean ", grey), (format_value(a.warp_error_mean), color)]
            if not short:
                runs += [("  p95 ", grey), (format_value(a.warp_error_p95), color),
                         ("  max ", grey), (format_value(a.warp_error_max), color)]
        elif key == "motion_px":
            runs = [("mean ", grey), (format_value(a.flow_mean_px, " px"), color)]
            if not short:
                runs += [("  vector ", grey),
                         (f"({a.flow_mean_dx:+.2f}, {a.flow_mean_dy:+.2f})", color),
                         ("  max ", grey), (format_value(a.flow_max_px, " px"), color)]
        else:
            runs = [("mean ", grey), (format_value(a.flicker), color)]
            if not short:
                runs += [("  max ", grey), (format_value(a.flicker_max), color)]
        return runs

    def _refresh_legend(self) -> None:
        shown = (self._subject is not None and self._compare is not None
                 and self.stack.currentIndex() == 1)
        self.title_label.setVisible(not shown)
        self.legend_label.setVisible(shown)
        if not shown:
            self.legend_label.setText("")
            return
        items = []
        for subject, color in ((self._subject, SERIES_COLORS[0]),
                               (self._compare, SERIES_COLORS[1])):
            state = " · " + _range_text(subject)
            if subject.key in self._errors:
                state = " · failed"
            elif subject.key not in self._cache:
                state = " · measuring…"
            items.append(f'<span style="white-space:nowrap">'
                         f'<span style="color:{color.name()}; font-size:13pt">■</span>'
                         f'&nbsp;<b style="color:#e3e6eb">{_html(subject.name)}</b>'
                         f'<span style="color:#8b93a1">{_html(state)}</span></span>')
        self.legend_label.setText("&nbsp;&nbsp;&nbsp; ".join(items))

    def legend_entries(self) -> list[str]:
        """The names the legend shows (empty without a comparison)."""
        if not self.legend_label.text():
            return []
        return [s.name for s in (self._subject, self._compare) if s is not None]

    def _refresh_status(self) -> None:
        running = [job for job in self._jobs.values() if not job.token.cancelled]
        if running:
            job = running[0]
            self.progress.setVisible(True)
            self.progress.setRange(0, max(1, job.total))
            self.progress.setValue(job.done)
            self.progress.setFormat(f"{job.subject.name}: %v / %m pairs" if job.total else
                                    f"{job.subject.name}: opening…")
            self.status_label.setText(f"{len(running)} analyses queued" if len(running) > 1
                                      else "")
        else:
            self.progress.setVisible(False)
            self.status_label.setText(self._note)
        self.status_label.setVisible(bool(self.status_label.text()))
        self.cancel_button.setVisible(bool(running))
        self.cancel_action.setEnabled(bool(running))
        subject = self._subject
        can = (subject is not None and not self._shut_down and subject.problem is None
               and (subject.key not in self._cache
                    or (self._compare is not None and self._compare.key not in self._cache))
               and self._job_for(subject) is None)
        self.analyse_action.setEnabled(bool(can))
        self.analyse_button.setVisible(self.stack.currentIndex() == 1 and bool(can))
        self.message_button.setVisible(bool(can))

    def _candidates(self) -> list[list[tuple[str, tuple[str, int]]]]:
        """The compare list's groups of (label, ref), nearest first: for a generation its
        source clip, then other seeds of its prompt; for a clip, the generations made from
        it; then the other clips, then the other generations."""
        subject = self._subject
        clips = [c for c in self._clips()
                 if c.info is not None and not c.missing and (c.info.frame_count or 0) >= 2]
        generations = list(reversed(self._generations()))  # newest first
        first: list[tuple[str, tuple[str, int]]] = []
        if subject is not None and subject.kind == GENERATION:
            source = next((c for c in clips if c.id == subject.source_clip_id), None)
            if source is not None:
                first.append((f"Source · {source.name}", (CLIP, source.id)))
            prompt = " ".join(subject.prompt.split())
            if prompt:
                first += [(generation_label(g), (GENERATION, g.id)) for g in generations
                          if g.id != subject.id and " ".join((g.prompt or "").split()) == prompt]
        elif subject is not None:
            first += [(generation_label(g), (GENERATION, g.id)) for g in generations
                      if g.source_clip_id == subject.id]
        taken = {ref for _, ref in first}
        if subject is not None:
            taken.add(subject.ref)
        rest_clips = [(c.name, (CLIP, c.id)) for c in clips if (CLIP, c.id) not in taken]
        rest_generations = [(generation_label(g), (GENERATION, g.id)) for g in generations
                            if (GENERATION, g.id) not in taken]
        return [group for group in (first, rest_clips, rest_generations) if group]

    @Slot()
    def _fill_compare_combo(self) -> None:
        combo = self.compare_combo
        combo.blockSignals(True)
        combo.clear()
        combo.addItem("Nothing", None)
        for group in self._candidates():
            combo.insertSeparator(combo.count())
            for label, ref in group:
                combo.addItem(label, ref)
        index = combo.findData(self._compare.ref) if self._compare is not None else 0
        if index < 0 and self._compare is not None:  # no longer in the bin or the project
            combo.addItem(self._compare.name, self._compare.ref)
            index = combo.count() - 1
        combo.setCurrentIndex(max(0, index))
        combo.setEnabled(self._subject is not None)
        combo.blockSignals(False)

    @Slot(int)
    def _on_compare_activated(self, index: int) -> None:
        self.set_compare(self.compare_combo.itemData(index))

    # ---- player sync ---------------------------------------------------------------------

    def _player_shows_subject(self) -> bool:
        player, subject = self._player, self._subject
        if player is None or subject is None:
            return False
        if subject.kind == CLIP:
            return player.clip_id == subject.id
        return player.clip_id is None and player.path == subject.path

    @Slot(int)
    def _on_frame_clicked(self, frame: int) -> None:
        if not self._player_shows_subject():
            return
        self._player.pause()
        self._player.seek(frame)

    @Slot(int)
    def _on_player_position(self, frame: int) -> None:
        same = self._player_shows_subject()
        for plot in self.plots:
            plot.set_marker(frame if same else None)
        self.worst_strip.set_marker(frame if same else None)

    @Slot(int)
    def _on_hovered(self, frame: int) -> None:
        for plot in self.plots:
            plot.set_hover(None if frame < 0 else frame)


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
