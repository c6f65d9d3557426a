"""The player's timeline: the whole clip as a bar, the in/out range shaded, a playhead, a
time ruler, click-and-drag scrubbing and, for a clip with sound, a waveform strip under the bar.

Frame ``i`` owns the horizontal cell ``[i, i + 1) * width / frame_count`` of the bar; the
playhead sits in the middle of its cell, and the in/out shading covers the in cell through
the out cell, so a one-frame range is still visible. The waveform strip is drawn from the peaks
given to ``set_waveform`` (computed once per clip, off the GUI thread), reduced to one peak a
pixel column once per width.
"""

from __future__ import annotations

import math

from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QMouseEvent, QPainter, QPainterPath, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

# The timeline is dark whatever the application palette, like the video area above it.
BACKGROUND = QColor("#15171b")
TRACK = QColor("#2a2e36")
TRACK_OUTSIDE_RANGE = QColor("#1f2228")
RANGE_FILL = QColor(74, 144, 226, 110)
RANGE_EDGE = QColor("#5aa2f0")
PLAYHEAD = QColor("#ff5a4f")
HOVER = QColor(255, 255, 255, 60)
TICK = QColor("#6b7280")
TICK_LABEL = QColor("#9aa3b0")
WAVE = QColor("#4cc38a")
WAVE_OUTSIDE_RANGE = QColor(76, 195, 138, 90)

# Candidate ruler steps in seconds; the smallest one giving labels room is used.
_TICK_STEPS_S = (0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200)
_TICK_STEPS_FRAMES = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 100000)
_MIN_LABEL_SPACING_PX = 64


def fill_rect(painter: QPainter, rect, color: QColor) -> None:
    """``painter.fillRect(rect, color)``: the same pixels, without PySide6 building
    ``QGradient``'s Python enums on the first call (resolving ``fillRect``'s overloads tries
    ``QGradient.Preset``), which the first paint of the window would pay. Leaves the pen and
    brush set."""
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(color)
    painter.drawRect(rect)


def ruler_label(seconds: float) -> str:
    """Short ruler text: ``0:05``, ``1:30``, ``1:00:00``, ``0:00.5``."""
    whole = int(math.floor(seconds + 1e-9))
    frac = seconds - whole
    h, rest = divmod(whole, 3600)
    m, s = divmod(rest, 60)
    text = f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"
    if frac > 1e-6:
        text += f".{int(round(frac * 10)) % 10}"
    return text


class TimelineWidget(QWidget):
    """Signals: ``scrubbed(index)`` on press and on every drag move that changes frame;
    ``scrub_started`` / ``scrub_finished`` around a drag (the player pauses meanwhile)."""

    scrubbed = Signal(int)
    scrub_started = Signal()
    scrub_finished = Signal()

    MARGIN_X = 10
    RULER_HEIGHT = 16
    TRACK_HEIGHT = 22
    WAVE_HEIGHT = 22  # the waveform strip, under the track, for a clip with sound

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._frame_count = 0
        self._fps = 0.0
        self._position = 0
        self._in: int | None = None
        self._out: int | None = None
        self._hover_x: float | None = None
        self._dragging = False
        self._waveform = None  # core.audio.Waveform of the clip's sound, or None
        self._wave_columns: tuple[tuple, object] | None = None  # (key, peaks a pixel column)
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setMinimumWidth(120)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setToolTip("Click or drag to move the playhead")

    # ---- state -------------------------------------------------------------------------

    def _height(self) -> int:
        strip = self.WAVE_HEIGHT + 4 if self._waveform is not None else 0
        return self.RULER_HEIGHT + self.TRACK_HEIGHT + 12 + strip

    def sizeHint(self) -> QSize:
        return QSize(480, self._height())

    def minimumSizeHint(self) -> QSize:
        return QSize(120, self._height())

    @property
    def frame_count(self) -> int:
        return self._frame_count

    @property
    def position(self) -> int:
        return self._position

    @property
    def in_out(self) -> tuple[int | None, int | None]:
        return self._in, self._out

    def set_range(self, frame_count: int, fps: float) -> None:
        self._frame_count = max(0, int(frame_count))
        self._fps = float(fps) if fps and fps > 0 else 0.0
        self._position = min(self._position, max(0, self._frame_count - 1))
        self.update()

    def set_position(self, index: int) -> None:
        if index != self._position:
            self._position = index
            self.update()

    def set_in_out(self, in_frame: int | None, out_frame: int | None) -> None:
        self._in, self._out = in_frame, out_frame
        self.update()

    @property
    def waveform(self):
        """The peaks the strip is drawn from (``core.audio.Waveform``), or None: no strip."""
        return self._waveform

    def set_waveform(self, waveform) -> None:
        """Draw a strip of ``waveform``'s peaks under the track (None: no strip)."""
        if waveform is not None and len(waveform.peaks) == 0:
            waveform = None
        if waveform is self._waveform:
            return
        had = self._waveform is not None
        self._waveform = waveform
        self._wave_columns = None
        if had != (waveform is not None):
            self.updateGeometry()  # the strip adds to the height
        self.update()

    # ---- geometry ----------------------------------------------------------------------

    def _track_rect(self) -> QRectF:
        top = self.RULER_HEIGHT + 4
        return QRectF(self.MARGIN_X, top, max(1.0, self.width() - 2 * self.MARGIN_X),
                      self.TRACK_HEIGHT)

    def _cell_width(self) -> float:
        return self._track_rect().width() / max(1, self._frame_count)

    def x_of_frame_start(self, index: int) -> float:
        return self._track_rect().left() + index * self._cell_width()

    def x_of_frame(self, index: int) -> float:
        """The playhead's x for ``index``: the middle of its cell."""
        return self.x_of_frame_start(index) + self._cell_width() / 2

    def waveform_rect(self) -> QRectF:
        """Where the strip is drawn; empty without a waveform."""
        if self._waveform is None:
            return QRectF()
        track = self._track_rect()
        return QRectF(track.left(), track.bottom() + 4, track.width(), self.WAVE_HEIGHT)

    def waveform_columns(self):
        """The strip's peak (0 to 1) in each pixel column of the track, from the cached
        waveform; computed again only when the width or the clip's length changes."""
        import numpy as np

        wave = self._waveform
        track = self._track_rect()
        columns = max(1, int(track.width()))
        key = (columns, self._frame_count, self._fps)
        if self._wave_columns is not None and self._wave_columns[0] == key:
            return self._wave_columns[1]
        if wave is None or self._fps <= 0 or self._frame_count <= 0:
            values = np.zeros(columns, np.float32)
        else:
            values = _column_peaks(wave, columns, self._frame_count / self._fps)
        self._wave_columns = (key, values)
        return values

    def index_at_x(self, x: float) -> int:
        if self._frame_count <= 0:
            return 0
        track = self._track_rect()
        index = math.floor((x - track.left()) / track.width() * self._frame_count)
        return max(0, min(self._frame_count - 1, index))

    # ---- mouse -------------------------------------------------------------------------

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() != Qt.MouseButton.LeftButton or self._frame_count <= 0:
            super().mousePressEvent(event)
            return
        self._dragging = True
        self.scrub_started.emit()
        self._scrub_to(event.position().x(), force=True)
        event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        self._hover_x = event.position().x()
        if self._dragging:
            self._scrub_to(self._hover_x, force=False)
        self.update()
        event.accept()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._dragging and event.button() == Qt.MouseButton.LeftButton:
            self._scrub_to(event.position().x(), force=False)
            self._dragging = False
            self.scrub_finished.emit()
            event.accept()
            return
        super().mouseReleaseEvent(event)

    def leaveEvent(self, event) -> None:
        self._hover_x = None
        self.update()
        super().leaveEvent(event)

    def _scrub_to(self, x: float, force: bool) -> None:
        index = self.index_at_x(x)
        if force or index != self._position:
            self.set_position(index)
            self.scrubbed.emit(index)

    # ---- painting ----------------------------------------------------------------------

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        fill_rect(p, self.rect(), BACKGROUND)
        track = self._track_rect()
        n = self._frame_count

        has_range = n > 0 and (self._in is not None or self._out is not None)
        p.setBrush(TRACK_OUTSIDE_RANGE if has_range else TRACK)
        p.drawRoundedRect(track, 4, 4)
        if n <= 0:
            p.end()
            return

        self._paint_ruler(p, track)

        if has_range:
            first = self._in if self._in is not None else 0
            last = self._out if self._out is not None else n - 1
            first = max(0, min(first, n - 1))
            last = max(first, min(last, n - 1))
            x0 = self.x_of_frame_start(first)
            x1 = self.x_of_frame_start(last + 1)
            clip_path = QPainterPath()
            clip_path.addRoundedRect(track, 4, 4)
            p.save()
            p.setClipPath(clip_path)
            p.fillRect(QRectF(x0, track.top(), x1 - x0, track.height()), TRACK)
            p.fillRect(QRectF(x0, track.top(), x1 - x0, track.height()), RANGE_FILL)
            p.restore()
            if self._in is not None:
                self._paint_bracket(p, x0, track, opening=True)
            if self._out is not None:
                self._paint_bracket(p, x1, track, opening=False)

        if self._waveform is not None:
            self._paint_waveform(p)
        if self._hover_x is not None and track.left() <= self._hover_x <= track.right():
            p.setPen(QPen(HOVER, 1))
            p.drawLine(QPointF(self._hover_x, track.top()), QPointF(self._hover_x, track.bottom()))

        self._paint_playhead(p, track)
        p.end()

    def _paint_waveform(self, p: QPainter) -> None:
        """One vertical line a pixel column, as tall as its peak, mirrored about the strip's
        middle; dimmer outside the in/out range."""
        rect = self.waveform_rect()
        peaks = self.waveform_columns()
        first_x = last_x = None
        if self._in is not None or self._out is not None:
            n = self._frame_count
            first_x = self.x_of_frame_start(max(0, self._in or 0))
            last_x = self.x_of_frame_start(min(n, (self._out if self._out is not None
                                                   else n - 1) + 1))
        mid, half = rect.center().y(), rect.height() / 2
        p.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        inside, outside = QPen(WAVE, 1), QPen(WAVE_OUTSIDE_RANGE, 1)
        for column, peak in enumerate(peaks.tolist()):
            x = rect.left() + column + 0.5
            p.setPen(outside if first_x is not None and not first_x <= x < last_x else inside)
            h = max(0.5, peak * half)
            p.drawLine(QPointF(x, mid - h), QPointF(x, mid + h))
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)

    def _paint_bracket(self, p: QPainter, x: float, track: QRectF, opening: bool) -> None:
        """``[`` at the in point, ``]`` at the out point, so the two read apart at a glance."""
        arm = 5 if opening else -5
        pen = QPen(RANGE_EDGE, 2)
        pen.setCapStyle(Qt.PenCapStyle.FlatCap)
        p.setPen(pen)
        top, bottom = track.top() - 2, track.bottom() + 2
        p.drawLine(QPointF(x, top), QPointF(x, bottom))
        p.drawLine(QPointF(x, top + 1), QPointF(x + arm, top + 1))
        p.drawLine(QPointF(x, bottom - 1), QPointF(x + arm, bottom - 1))

    def _paint_playhead(self, p: QPainter, track: QRectF) -> None:
        x = self.x_of_frame(max(0, min(self._position, self._frame_count - 1)))
        p.setPen(QPen(PLAYHEAD, 2))
        bottom = self.waveform_rect().bottom() if self._waveform is not None else track.bottom()
        p.drawLine(QPointF(x, track.top() - 3), QPointF(x, bottom + 3))
        head = QPainterPath()
        y = track.top() - 3
        head.moveTo(x - 5, y - 6)
        head.lineTo(x + 5, y - 6)
        head.lineTo(x, y)
        head.closeSubpath()
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(PLAYHEAD)
        p.drawPath(head)

    def _paint_ruler(self, p: QPainter, track: QRectF) -> None:
        n = self._frame_count
        if n < 2:
            return
        width = track.width()
        if self._fps > 0:
            duration = n / self._fps
            steps = [s for s in _TICK_STEPS_S if s * self._fps >= 1] or [1 / self._fps]
            unit_frames = self._fps
            label = ruler_label
        else:
            duration = float(n)
            steps = list(_TICK_STEPS_FRAMES)
            unit_frames = 1.0
            label = lambda v: str(int(v))  # noqa: E731 - a frame number as it is
        px_per_unit = width / duration
        step = next((s for s in steps if s * px_per_unit >= _MIN_LABEL_SPACING_PX), steps[-1])
        if step * px_per_unit < _MIN_LABEL_SPACING_PX / 2:
            return  # too long a clip for the candidates: no ruler rather than a smear

        font = QFont(self.font())
        font.setPointSizeF(max(7.0, font.pointSizeF() * 0.8))
        p.setFont(font)
        minor = step / 5
        draw_minor = minor * px_per_unit >= 6
        baseline = track.top() - 4
        k = 0
        while True:
            value = k * (minor if draw_minor else step)
            if value > duration + 1e-9:
                break
            x = self.x_of_frame_start(0) + value * unit_frames * self._cell_width()
            is_major = not draw_minor or k % 5 == 0
            p.setPen(QPen(TICK, 1))
            p.drawLine(QPointF(x, baseline - (6 if is_major else 3)), QPointF(x, baseline))
            if is_major and x + 40 <= self.width():
                p.setPen(TICK_LABEL)
                p.drawText(QPointF(x + 3, baseline - 4), label(value))
            k += 1


def _column_peaks(wave, columns: int, duration_s: float):
    """The loudest of ``wave``'s peaks within each of ``columns`` equal spans of
    ``duration_s`` seconds from the clip's start (0 where there is no sound)."""
    import numpy as np

    peaks = wave.peaks
    edges = np.arange(columns + 1) * (duration_s / columns)
    index = np.floor((edges - wave.start_s) / wave.bucket_s).astype(np.int64)
    count = len(peaks)
    starts = np.clip(index[:-1], 0, count)
    padded = np.append(peaks, np.float32(0))  # index ``count``: past the sound's end
    values = np.maximum.reduceat(padded, np.append(starts, count))[:-1]
    values[(edges[1:] <= wave.start_s) | (edges[:-1] >= wave.end_s)] = 0.0  # no sound there
    return values.astype(np.float32)
