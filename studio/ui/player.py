"""The player panel: the selected clip's frames, transport controls, timeline, in/out points.

Decoding happens in a ``FrameDecoder`` on its own thread; this panel only asks for frame
indices and paints whatever arrives. Playback is paced by wall time: each timer tick works
out which frame *should* be on screen now and asks for that one, so a slow decoder makes
playback skip frames instead of drifting behind the clock.
"""

from __future__ import annotations

import math
import time

from PySide6.QtCore import (
    QCoreApplication,
    QEvent,
    QObject,
    QRectF,
    QSize,
    Qt,
    QThread,
    QTimer,
    Signal,
    Slot,
)
from PySide6.QtGui import (
    QAction,
    QColor,
    QFont,
    QFontDatabase,
    QIcon,
    QImage,
    QKeySequence,
    QPainter,
    QPainterPath,
    QPaintEvent,
    QPen,
    QPixmap,
    QResizeEvent,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from studio.ui.audio_controls import PlayerSound, SoundControls
from studio.ui.elided_label import FittingTextLabel
from studio.ui.frame_decoder import FrameDecoder
from studio.ui.side_by_side import SideBySide
from studio.ui.theme import video_palette
from studio.ui.timeline import TimelineWidget, fill_rect

PLACEHOLDER_TEXT = "Select a clip in the bin"
VIDEO_BACKGROUND = QColor("#0e0f12")
MESSAGE_COLOR = QColor("#8b93a1")
ERROR_COLOR = QColor("#ff8a80")
FLOW_OPACITY = 0.7  # of the flow overlay over the frame

TIMECODE_MILLISECONDS = "ms"  # HH:MM:SS.mmm
TIMECODE_FRAMES = "frames"  # HH:MM:SS:FF (non-drop, at the nominal rate)


def format_timecode(index: int, fps: float, style: str = TIMECODE_MILLISECONDS) -> str:
    """The start time of frame ``index`` as ``HH:MM:SS.mmm`` or ``HH:MM:SS:FF``."""
    if fps <= 0:
        return "--:--:--.---" if style == TIMECODE_MILLISECONDS else "--:--:--:--"
    if style == TIMECODE_FRAMES:
        nominal = max(1, round(fps))
        seconds, ff = divmod(max(0, index), nominal)
        h, rest = divmod(seconds, 3600)
        m, s = divmod(rest, 60)
        return f"{h:02d}:{m:02d}:{s:02d}:{ff:02d}"
    millis = int(round(max(0, index) / fps * 1000))
    seconds, ms = divmod(millis, 1000)
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}"


def _icon(kind: str) -> QIcon:
    """Transport icons drawn here, so they look the same under every style and platform."""
    icon = QIcon()
    icon.addPixmap(_icon_pixmap(kind, QColor("#d7dbe2")), QIcon.Mode.Normal)
    icon.addPixmap(_icon_pixmap(kind, QColor("#ffffff")), QIcon.Mode.Active)
    icon.addPixmap(_icon_pixmap(kind, QColor("#7fb3ff")), QIcon.Mode.Normal, QIcon.State.On)
    icon.addPixmap(_icon_pixmap(kind, QColor("#4a505a")), QIcon.Mode.Disabled)
    return icon


def _icon_pixmap(kind: str, color: QColor, size: int = 44) -> QPixmap:
    pm = QPixmap(size, size)
    pm.fill(Qt.GlobalColor.transparent)
    p = QPainter(pm)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(color)
    s = size / 32

    def tri(x0: float, x1: float) -> None:  # a triangle pointing right if x1 > x0
        path = QPainterPath()
        path.moveTo(x0 * s, 8 * s)
        path.lineTo(x1 * s, 16 * s)
        path.lineTo(x0 * s, 24 * s)
        path.closeSubpath()
        p.drawPath(path)

    def bar(x: float, w: float = 3) -> None:
        p.drawRect(QRectF(x * s, 8 * s, w * s, 16 * s))

    if kind == "play":
        tri(10, 24)
    elif kind == "pause":
        bar(10, 4)
        bar(18, 4)
    elif kind == "step-forward":
        tri(10, 19)
        bar(20)
    elif kind == "step-back":
        tri(22, 13)
        bar(9)
    elif kind == "to-end":
        tri(7, 16)
        tri(15, 24)
        bar(24)
    elif kind == "to-start":
        tri(25, 16)
        tri(17, 8)
        bar(5)
    elif kind == "loop":
        pen = QPen(color, 2.4 * s)
        p.setPen(pen)
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.drawArc(QRectF(7 * s, 9 * s, 18 * s, 14 * s), 30 * 16, 300 * 16)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(color)
        path = QPainterPath()
        path.moveTo(20 * s, 7 * s)
        path.lineTo(27 * s, 11 * s)
        path.lineTo(20 * s, 14 * s)
        path.closeSubpath()
        p.drawPath(path)
    p.end()
    return pm


class VideoView(QWidget):
    """Paints the current frame scaled to fit (aspect kept, letterboxed) on a dark ground,
    or a message (placeholder or error) when there is no frame to show."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._image: QImage | None = None
        self._message = PLACEHOLDER_TEXT
        self._message_is_error = False
        self._flow = None  # a FlowOverlay drawn over the frame
        self._flow_note = ""  # shown in the legend's place when there is no flow to draw
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(160, 90)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setAccessibleName("Video")
        self.setAccessibleDescription("The clip's current frame. Space plays and pauses; the "
                                      "arrow keys step one frame")

    def sizeHint(self) -> QSize:
        return QSize(640, 360)

    @property
    def image(self) -> QImage | None:
        return self._image

    @property
    def message(self) -> str:
        return self._message

    @property
    def message_is_error(self) -> bool:
        return self._message_is_error

    def set_image(self, image: QImage | None) -> None:
        self._image = image
        if image is not None:
            self._message = ""
            self._message_is_error = False
        self.update()

    def set_message(self, text: str, error: bool = False) -> None:
        self._image = None
        self._message = text
        self._message_is_error = error
        self.update()

    @property
    def flow_overlay(self):
        """The ``FlowOverlay`` drawn over the frame, or None."""
        return self._flow

    @property
    def flow_note(self) -> str:
        return self._flow_note

    def set_flow_overlay(self, overlay, note: str = "") -> None:
        """Draw ``overlay`` (a ``FlowOverlay``) over the frame with its colour-wheel legend, or
        only ``note`` in the legend's corner; None and "" draw neither."""
        self._flow = overlay
        self._flow_note = note
        self.update()

    def image_rect(self) -> QRectF:
        if self._image is None or self._image.isNull():
            return QRectF()
        iw, ih = self._image.width(), self._image.height()
        scale = min(self.width() / iw, self.height() / ih)
        w, h = iw * scale, ih * scale
        return QRectF((self.width() - w) / 2, (self.height() - h) / 2, w, h)

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        fill_rect(p, self.rect(), VIDEO_BACKGROUND)
        if self._image is not None and not self._image.isNull():
            p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
            p.drawImage(self.image_rect(), self._image)
            if self._flow is not None or self._flow_note:
                self._paint_flow(p, self.image_rect())
        elif self._message:
            p.setPen(ERROR_COLOR if self._message_is_error else MESSAGE_COLOR)
            font = QFont(self.font())
            font.setPointSizeF(font.pointSizeF() * 1.1)
            p.setFont(font)
            box = self.rect().adjusted(24, 24, -24, -24)
            p.drawText(box, int(Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap),
                       self._message)
        p.end()

    def _paint_flow(self, p: QPainter, rect: QRectF) -> None:
        flow = self._flow
        if flow is not None:
            cover = QRectF(rect.x(), rect.y(), rect.width() * flow.cover_width,
                           rect.height() * flow.cover_height)
            p.setOpacity(FLOW_OPACITY)
            p.drawImage(cover, flow.image)
            p.setOpacity(1.0)
        # The legend: the colour wheel and what its rim stands for, in the bottom-right corner.
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        font = QFont(self.font())
        font.setPointSizeF(font.pointSizeF() * 0.9)
        p.setFont(font)
        metrics = p.fontMetrics()
        line = metrics.height()
        if flow is not None:
            lines = ["Optical flow", f"frame {flow.index} → {flow.index + 1}",
                     f"rim = {flow.scale_px:.1f} px"]
            wheel = max(40, min(72, int(min(rect.width(), rect.height()) * 0.18)))
        else:
            lines = [self._flow_note]
            wheel = 0
        limit = int(rect.width() * 0.7) - (wheel + 30)
        lines = [metrics.elidedText(t, Qt.TextElideMode.ElideMiddle, max(40, limit))
                 for t in lines]
        text_w = max(metrics.horizontalAdvance(t) for t in lines)
        pad = 8
        gap = 10 if wheel else 0
        box_w = pad * 2 + wheel + gap + text_w
        box_h = pad * 2 + max(wheel, line * len(lines))
        margin = 10
        box = QRectF(rect.right() - box_w - margin, rect.bottom() - box_h - margin, box_w, box_h)
        if box.left() < rect.left() + 2 or box.top() < rect.top() + 2:  # a tiny view: no legend
            return
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QColor(12, 13, 16, 200))
        p.drawRoundedRect(box, 6, 6)
        if wheel:
            wheel_rect = QRectF(box.left() + pad, box.top() + (box_h - wheel) / 2, wheel, wheel)
            p.drawImage(wheel_rect, flow.legend)
            p.setPen(QPen(QColor(255, 255, 255, 90), 1))
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawEllipse(wheel_rect)
            centre = wheel_rect.center()
            p.setBrush(QColor("#202227"))
            p.setPen(Qt.PenStyle.NoPen)
            p.drawEllipse(centre, 1.5, 1.5)
        text_x = box.left() + pad + wheel + gap
        text_y = box.top() + (box_h - line * len(lines)) / 2
        for i, text in enumerate(lines):
            p.setPen(QColor("#ffffff") if i == 0 else QColor("#c3c8d1"))
            p.drawText(QRectF(text_x, text_y + i * line, text_w + 1, line),
                       int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter), text)


# Keys the player binds window-wide that a focused widget of these kinds uses itself: the
# bin's list needs Home/End (and a grid Left/Right), a slider or spin box its arrows, a
# button Space. Text fields already claim their keys through ShortcutOverride. The kinds are
# Qt class names, checked with QObject.inherits: no Python type has to be built for them.
_KEYS_KEPT_BY_FOCUSED = (
    (("QAbstractItemView", "QAbstractSlider", "QAbstractSpinBox"),
     {Qt.Key.Key_Left, Qt.Key.Key_Right, Qt.Key.Key_Home, Qt.Key.Key_End}),
    (("QAbstractButton", "QComboBox"), {Qt.Key.Key_Space}),
)


def _is_a(widget: QObject, class_names: tuple[str, ...]) -> bool:
    return any(widget.inherits(name) for name in class_names)


def focused_widget_keeps_key(widget: QObject, key: int, modifiers) -> bool:
    if modifiers & ~Qt.KeyboardModifier.KeypadModifier:
        return False
    if (key in (Qt.Key.Key_Left, Qt.Key.Key_Right) and isinstance(widget, QAbstractItemView)
            and widget.selectionBehavior() == QAbstractItemView.SelectionBehavior.SelectRows):
        return False  # a row list (the bin) has no use for Left/Right: they step the player
    return any(_is_a(widget, kinds) and key in keys for kinds, keys in _KEYS_KEPT_BY_FOCUSED)


class _FocusedWidgetKeys(QObject):
    """Installed on the focus widget only (not on the application, which would run Python
    for every event): claims the ShortcutOverride so the widget receives the key."""

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if (event.type() == QEvent.Type.ShortcutOverride
                and focused_widget_keeps_key(watched, event.key(), event.modifiers())):
            event.accept()
            return True
        return False


class TransportBar(SideBySide):
    """The player's controls in one row when the player is wide enough for it, else in two:
    playback and time above, in/out points and overlays below. Its minimum width is the
    two-row one, so the window can give the docks beside the player the widths they ask
    for; a wider player gets the single row back."""

    def __init__(self, parent: QWidget | None = None):
        playback_row, marks_row = QWidget(), QWidget()
        super().__init__([playback_row, marks_row], parent, spacing=12, stacked_spacing=0,
                         margins=(6, 2, 6, 4), stretches=(0, 1),
                         left_when_stacked=[playback_row])
        self.playback_row, self.marks_row = playback_row, marks_row


class PlayerPanel(QWidget):
    """Plays the clip chosen in the bin. See ``set_clip`` and ``actions``."""

    in_out_changed = Signal(int, object, object)  # clip id, in frame or None, out frame or None
    position_changed = Signal(int)
    frame_displayed = Signal(int)  # the index of the frame now painted

    def __init__(self, parent: QWidget | None = None, *, keyboard_shortcuts: bool = True,
                 sound: bool = True):
        """``keyboard_shortcuts``: the main player's keys work anywhere in the window. A second
        player in the same window (the generation preview) passes False: two enabled actions
        sharing Space, the arrows, I and O make Qt fire neither, in any focus. ``sound``: play
        a clip's sound, with mute and volume in the transport bar (a player beside another,
        the Preview's source, passes False: two sounds at once help nobody)."""
        super().__init__(parent)
        self._keyboard_shortcuts = keyboard_shortcuts
        self._sound_wanted = sound
        self._clip_id: int | None = None
        self._path: str | None = None
        self._frame_count = 0
        self._fps = 0.0
        self._in: int | None = None
        self._out: int | None = None
        self._position = 0
        self._displayed_index: int | None = None
        self._requested_index: int | None = None
        self._generation = 0
        self._error: str | None = None
        self._timecode_style = TIMECODE_MILLISECONDS
        self._resume_after_scrub = False
        self._shut_down = False
        # Playback clock: frame ``_anchor_frame`` was due at ``_anchor_time``.
        self._anchor_time = 0.0
        self._anchor_frame = 0

        self._build_widgets()
        self._build_actions()
        self._start_decoder()
        self._refresh()

    # ---- construction ------------------------------------------------------------------

    def _build_widgets(self) -> None:
        self.view = VideoView(self)
        self.view.setFocusPolicy(Qt.FocusPolicy.ClickFocus)  # a click on the picture: keys play
        self.timeline = TimelineWidget(self)
        self.timeline.scrubbed.connect(self._on_scrubbed)
        self.timeline.scrub_started.connect(self._on_scrub_started)
        self.timeline.scrub_finished.connect(self._on_scrub_finished)

        # The transport bar is dark like the video and the timeline, whatever the app palette.
        self.controls = TransportBar(self)
        self.controls.setAutoFillBackground(True)
        self.controls.setPalette(video_palette(self.controls.palette()))

        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        mono.setPointSizeF(max(mono.pointSizeF(), self.font().pointSizeF()) * 1.05)
        self.timecode_button = QToolButton(self.controls)
        self.timecode_button.setFont(mono)
        self.timecode_button.setAutoRaise(True)
        self.timecode_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.timecode_button.setToolTip("Click to switch between milliseconds and frames")
        self.timecode_button.clicked.connect(self.toggle_timecode_style)
        self.frame_label = QLabel(self.controls)
        self.frame_label.setToolTip("Frame index (counting from 0) / frame count")
        self._frame_label_digits = 0
        self._fit_frame_label(0)
        self.in_out_label = FittingTextLabel(self.controls)
        self.in_out_label.setToolTip("In and out points (I, O; Alt+X clears them)")

        self._playback_timer = QTimer(self)
        self._playback_timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._playback_timer.timeout.connect(self._on_tick)

        # Re-decode the current frame at the new size once a resize settles.
        self._resize_timer = QTimer(self)
        self._resize_timer.setSingleShot(True)
        self._resize_timer.setInterval(120)
        self._resize_timer.timeout.connect(self._on_resize_settled)

    def _build_actions(self) -> None:
        def make(text: str, shortcut: str | QKeySequence, slot, icon: str | None = None,
                 checkable: bool = False, auto_repeat: bool = False) -> QAction:
            action = QAction(text, self)
            if self._keyboard_shortcuts:
                action.setShortcut(QKeySequence(shortcut))
                action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            action.setAutoRepeat(auto_repeat)
            action.setCheckable(checkable)
            if icon:
                action.setIcon(_icon(icon))
            key = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
            action.setToolTip(f"{text} ({key})" if key else text)
            if slot is not None:
                action.triggered.connect(slot)
            self.addAction(action)
            return action

        self.play_action = make("Play", Qt.Key.Key_Space, self.toggle_play, "play")
        self.step_back_action = make("Step back", Qt.Key.Key_Left, self.step_back,
                                     "step-back", auto_repeat=True)
        self.step_forward_action = make("Step forward", Qt.Key.Key_Right, self.step_forward,
                                        "step-forward", auto_repeat=True)
        self.to_start_action = make("Go to start", Qt.Key.Key_Home, self.go_to_start, "to-start")
        self.to_end_action = make("Go to end", Qt.Key.Key_End, self.go_to_end, "to-end")
        self.set_in_action = make("Set in point", Qt.Key.Key_I, self.set_in_point)
        self.set_out_action = make("Set out point", Qt.Key.Key_O, self.set_out_point)
        self.clear_in_out_action = make("Clear in/out", "Alt+X", self.clear_in_out)
        self.loop_action = make("Loop", Qt.Key.Key_L, self._on_loop_toggled, "loop",
                                checkable=True)
        self.flow_overlay_action = make("Flow overlay", Qt.Key.Key_F,
                                        self._on_flow_overlay_toggled, checkable=True)
        self.flow_overlay_action.setToolTip(
            "Optical flow to the next frame over the picture, on the colour wheel (F)")
        self._icon_play = self.play_action.icon()
        self._icon_pause = _icon("pause")
        self.mute_action = None
        self.sound_controls = None
        if self._sound_wanted:  # the controls say the rest (SoundControls.mute_action)
            self.mute_action = make("Mute", Qt.Key.Key_M, None, checkable=True)
            self.sound_controls = SoundControls(self.mute_action, self.controls)

        self._lay_out()

    def _tool_button(self, action: QAction, text: str | None = None) -> QToolButton:
        """A transport-bar button showing ``action`` (as ``text`` alone, when given)."""
        b = QToolButton(self.controls)
        if text is not None:
            action.setIconText(text)  # what a tool button shows; the menu keeps text()
        b.setDefaultAction(action)
        b.setAutoRaise(True)
        b.setIconSize(QSize(22, 22))
        b.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        if text is not None:
            b.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        return b

    def _lay_out(self) -> None:
        """The picture, the timeline under it, the transport bar's two rows under that."""
        playback = QHBoxLayout(self.controls.playback_row)
        playback.setContentsMargins(0, 0, 0, 0)
        playback.setSpacing(2)
        for action in (self.to_start_action, self.step_back_action, self.play_action,
                       self.step_forward_action, self.to_end_action):
            playback.addWidget(self._tool_button(action))
        playback.addSpacing(8)
        playback.addWidget(self.timecode_button)
        playback.addSpacing(6)
        playback.addWidget(self.frame_label)
        marks = QHBoxLayout(self.controls.marks_row)
        marks.setContentsMargins(0, 0, 0, 0)
        marks.setSpacing(2)
        marks.addWidget(self.in_out_label, 1)
        marks.addSpacing(6)
        marks.addWidget(self._tool_button(self.set_in_action, "In"))
        marks.addWidget(self._tool_button(self.set_out_action, "Out"))
        marks.addWidget(self._tool_button(self.clear_in_out_action, "Clear"))
        marks.addSpacing(4)
        marks.addWidget(self._tool_button(self.loop_action))
        marks.addWidget(self._tool_button(self.flow_overlay_action, "Flow"))
        if self.sound_controls is not None:
            marks.addSpacing(4)
            marks.addWidget(self.sound_controls)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.timeline)
        layout.addWidget(self.controls)

    def _start_decoder(self) -> None:
        self._decoder_thread = QThread(self)
        self._decoder_thread.setObjectName("studio-player-decoder")
        self._decoder = FrameDecoder()
        self._decoder.moveToThread(self._decoder_thread)
        self._decoder.opened.connect(self._on_opened)
        self._decoder.frame_ready.connect(self._on_frame_ready)
        self._decoder.failed.connect(self._on_failed)
        self._decoder_thread.start()
        app = QCoreApplication.instance()
        if app is not None:  # a running QThread that outlives the app aborts the process
            app.aboutToQuit.connect(self.shutdown)
        self._focus_keys = _FocusedWidgetKeys(self)
        self._filtered_focus_widget: QWidget | None = None
        if isinstance(app, QApplication):
            app.focusChanged.connect(self._on_focus_changed)
        # The flow overlay's pictures are drawn on a pool thread, one pair at a time, by a
        # controller made on first use (its module is not needed to show the window).
        self._flow_controller = None
        self._flow_scale_px: float | None = None
        # The sound: its thread is made for the first clip (PlayerSound.open).
        self._sound = None
        if self.sound_controls is not None:
            self._sound = PlayerSound(self.sound_controls, self.timeline, self)
            self._sound.ready.connect(self._on_sound_ready)

    # ---- public API --------------------------------------------------------------------

    def actions(self) -> list[QAction]:  # noqa: D401 - Qt's name, narrowed to ours
        """The playback actions with their shortcuts, for the main window's menu."""
        actions = [self.play_action, self.step_back_action, self.step_forward_action,
                   self.to_start_action, self.to_end_action, self.set_in_action,
                   self.set_out_action, self.clear_in_out_action, self.loop_action,
                   self.flow_overlay_action]
        return actions + ([self.mute_action] if self.mute_action is not None else [])

    def set_clip(self, clip_id: int | None, path: str | None, frame_count: int, fps: float,
                 in_frame: int | None = None, out_frame: int | None = None) -> None:
        """Show a clip (a still has frame_count 1 and fps 0); a None path clears the player."""
        same_clip = (path is not None and clip_id == self._clip_id and path == self._path
                     and self._error is None)
        self.pause()
        self._clip_id = clip_id if path is not None else None
        self._path = None if path is None else str(path)
        self._frame_count = max(0, int(frame_count or 0)) if path is not None else 0
        self._fps = float(fps) if fps and fps > 0 and math.isfinite(fps) else 0.0
        self._in, self._out = self._clamped_in_out(in_frame, out_frame)
        self.timeline.set_range(self._frame_count, self._fps)
        self.timeline.set_in_out(self._in, self._out)
        if same_clip:
            self._set_position(min(self._position, max(0, self._frame_count - 1)))
            self._refresh()
            return

        self._error = None
        self._displayed_index = None
        self._requested_index = None
        self._clear_flow()
        self.view.set_flow_overlay(None)
        self._generation = self._decoder.open(self._path)
        if self._sound is not None:  # a still has no sound to look for
            self._sound.open(self._path if self._frame_count > 1 and self._fps > 0 else None)
        if self._path is None:
            self.view.set_message(PLACEHOLDER_TEXT)
            self._set_position(0)
        else:
            self.view.set_message("Loading…")
            self._update_decoder_size()
            self._set_position(self._in if self._in is not None else 0)
            self._request(self._position)
        self._refresh()

    def show_unplayable(self, message: str) -> None:
        """Clear the player and say, as an error, why the clip chosen cannot play (a file that
        is not usable media, or missing), instead of asking for a clip to be selected."""
        self.set_clip(None, None, 0, 0.0)
        self.view.set_message(message, error=True)

    @property
    def clip_id(self) -> int | None:
        return self._clip_id

    @property
    def path(self) -> str | None:
        """The file shown (a generation has no clip id), or None."""
        return self._path

    @property
    def position(self) -> int:
        return self._position

    @property
    def frame_count(self) -> int:
        return self._frame_count

    @property
    def in_out(self) -> tuple[int | None, int | None]:
        return self._in, self._out

    @property
    def displayed_index(self) -> int | None:
        """The index of the frame on screen (it trails ``position`` while decoding)."""
        return self._displayed_index

    @property
    def displayed_image(self) -> QImage | None:
        return self.view.image

    @property
    def error(self) -> str | None:
        return self._error

    @property
    def is_playing(self) -> bool:
        return self._playback_timer.isActive()

    @property
    def loop(self) -> bool:
        return self.loop_action.isChecked()

    @property
    def flow_overlay_on(self) -> bool:
        return self.flow_overlay_action.isChecked()

    @property
    def sound(self):
        """The player's ``PlayerSound`` (None for a player made without sound)."""
        return self._sound

    def set_flow_overlay(self, on: bool) -> None:
        self.flow_overlay_action.setChecked(on)
        self._on_flow_overlay_toggled()

    @property
    def flow_overlay(self):
        """The ``FlowOverlay`` drawn over the picture now, or None."""
        return self.view.flow_overlay

    def set_flow_scale(self, scale_px: float | None) -> None:
        """One colour scale for every pair (the wheel's rim, in frame pixels), e.g. a clip's
        largest mean motion; None scales each pair by its own motion."""
        self._flow_scale_px = scale_px
        if self._flow_controller is not None:
            self._flow_controller.set_scale(scale_px)
        if self.flow_overlay_on and self._displayed_index is not None:
            self._request_flow(self._displayed_index)

    def set_loop(self, on: bool) -> None:
        self.loop_action.setChecked(on)
        self._on_loop_toggled()

    @property
    def timecode_style(self) -> str:
        return self._timecode_style

    def set_timecode_style(self, style: str) -> None:
        if style not in (TIMECODE_MILLISECONDS, TIMECODE_FRAMES):
            raise ValueError(f"unknown timecode style {style!r}")
        self._timecode_style = style
        self._refresh()

    @Slot()
    def toggle_timecode_style(self) -> None:
        self.set_timecode_style(TIMECODE_FRAMES if self._timecode_style == TIMECODE_MILLISECONDS
                                else TIMECODE_MILLISECONDS)

    def seek(self, index: int) -> None:
        if not self._can_show():
            return
        index = max(0, min(int(index), self._frame_count - 1))
        if self.is_playing:
            self._anchor(index)
        self._show(index)

    @Slot()
    def play(self) -> None:
        if not self._can_play() or self.is_playing:
            return
        last = self._frame_count - 1
        if self.loop:
            first, end = self._loop_range()
            if not first <= self._position <= end:
                self._show(first)
        elif self._position >= last:
            self._show(self._in if self._in is not None and self._in < last else 0)
        # Ticking at twice the frame rate keeps the shown frame within half a frame of
        # the clock; a tick only asks for a frame when the due index changed.
        self._playback_timer.start(max(1, int(500 / self._fps)))
        self._anchor(self._position)  # playing: the sound starts there too
        self._refresh_play_action()

    @Slot()
    def pause(self) -> None:
        if self._playback_timer.isActive():
            self._playback_timer.stop()
        if self._sound is not None:
            self._sound.stop()
        self._refresh_play_action()

    @Slot()
    def toggle_play(self) -> None:
        if self.is_playing:
            self.pause()
        else:
            self.play()

    @Slot()
    def step_forward(self) -> None:
        self.pause()
        self.seek(self._position + 1)

    @Slot()
    def step_back(self) -> None:
        self.pause()
        self.seek(self._position - 1)

    @Slot()
    def go_to_start(self) -> None:
        self.seek(0)

    @Slot()
    def go_to_end(self) -> None:
        self.pause()
        self.seek(self._frame_count - 1)

    def _mark_frame(self) -> int:
        """The frame a person marks: during playback the one on screen, which trails the
        playhead by the decoding in flight."""
        if self.is_playing and self._displayed_index is not None:
            return self._displayed_index
        return self._position

    @Slot()
    def set_in_point(self) -> None:
        if not self._can_mark():
            return
        mark = self._mark_frame()
        out = self._out if self._out is not None and self._out >= mark else None
        self._change_in_out(mark, out)

    @Slot()
    def set_out_point(self) -> None:
        if not self._can_mark():
            return
        mark = self._mark_frame()
        in_ = self._in if self._in is not None and self._in <= mark else None
        self._change_in_out(in_, mark)

    @Slot()
    def clear_in_out(self) -> None:
        if not self._can_mark() or (self._in is None and self._out is None):
            return
        self._change_in_out(None, None)

    def shutdown(self) -> None:
        """Stop playback and the decoder thread. Safe to call more than once."""
        if self._shut_down:
            return
        self._shut_down = True
        self._playback_timer.stop()
        self._resize_timer.stop()
        self._on_focus_changed(None, None)
        if self._flow_controller is not None:
            self._flow_controller.shutdown()
        self._decoder_thread.quit()
        self._decoder_thread.wait()
        self._decoder.close_reader()  # the thread has stopped: no race on the reader
        if self._sound is not None:
            self._sound.shutdown()

    # ---- internals ---------------------------------------------------------------------

    def _can_show(self) -> bool:
        return self._path is not None and self._frame_count > 0 and not self._shut_down

    def _can_play(self) -> bool:
        return self._can_show() and self._frame_count > 1 and self._fps > 0 and not self._error

    def _can_mark(self) -> bool:
        return self._can_show() and self._frame_count > 1 and self._clip_id is not None

    def _clamped_in_out(self, in_frame, out_frame) -> tuple[int | None, int | None]:
        last = self._frame_count - 1
        if last < 0:
            return None, None
        in_ = None if in_frame is None else max(0, min(int(in_frame), last))
        out = None if out_frame is None else max(0, min(int(out_frame), last))
        if in_ is not None and out is not None and out < in_:
            out = None
        return in_, out

    def _loop_range(self) -> tuple[int, int]:
        first = self._in if self._in is not None else 0
        last = self._out if self._out is not None else self._frame_count - 1
        return first, max(first, last)

    def show_in_out(self, in_frame: int | None, out_frame: int | None) -> None:
        """Show marks changed elsewhere (undo, redo) without emitting ``in_out_changed``."""
        self._change_in_out(in_frame, out_frame, emit=False)

    def _change_in_out(self, in_frame: int | None, out_frame: int | None,
                       emit: bool = True) -> None:
        if (in_frame, out_frame) == (self._in, self._out):
            return
        self._in, self._out = in_frame, out_frame
        self.timeline.set_in_out(in_frame, out_frame)
        if self.is_playing:
            if self.loop:
                first, last = self._loop_range()
                if not first <= self._position <= last:
                    self._show(first)
            self._anchor(self._position)
        self._refresh()
        if emit:
            self.in_out_changed.emit(self._clip_id, in_frame, out_frame)

    def _anchor(self, index: int) -> None:
        """Frame ``index`` is due now; while playing, its sound starts (a new run)."""
        self._anchor_time = time.monotonic()
        self._anchor_frame = index
        if self._sound is not None and self.is_playing:
            self._sound.start(index / self._fps)

    def _follow_sound(self, now: float) -> bool:
        """Set the clock by the sound heard now, when there is any: the picture follows the
        sound card's clock, which no wall clock drifts from. True while the picture waits
        for the sound to start."""
        sound = self._sound
        if sound is None:
            return False
        if sound.holding():
            self._anchor_time = now
            return True
        heard = sound.clock()
        if heard is not None:
            self._anchor_time = now - (heard - self._anchor_frame / self._fps)
        return False

    def _set_position(self, index: int) -> None:
        changed = index != self._position
        self._position = index
        self.timeline.set_position(index)
        self._refresh_position()
        if changed:
            self.position_changed.emit(index)

    def _show(self, index: int) -> None:
        """Move the playhead to ``index`` and ask the decoder for that frame."""
        self._set_position(index)
        if index != self._requested_index or self.view.image is None:
            self._request(index)

    def _request(self, index: int) -> None:
        self._requested_index = index
        self._decoder.request(index)

    def _update_decoder_size(self) -> None:
        ratio = self.view.devicePixelRatioF()
        self._decoder.set_max_size(max(1, round(self.view.width() * ratio)),
                                   max(1, round(self.view.height() * ratio)))

    # ---- slots -------------------------------------------------------------------------

    @Slot()
    def _on_tick(self) -> None:
        if not self._can_play():
            self.pause()
            return
        now = time.monotonic()
        if self._follow_sound(now):
            return
        due = self._anchor_frame + int((now - self._anchor_time) * self._fps + 1e-6)
        if self.loop:
            first, last = self._loop_range()
            if due > last:
                due = first + (due - first) % (last - first + 1)
                if self._sound is not None and self._sound.audible:
                    self._anchor(due)  # the sound starts again with the picture
        elif due >= self._frame_count - 1:
            self._show(self._frame_count - 1)
            self.pause()
            return
        if due != self._position:
            self._show(due)

    @Slot()
    def _on_sound_ready(self) -> None:
        """The clip's sound can play: if the picture already does, the sound joins it."""
        if self.is_playing:
            self._anchor(self._position)

    @Slot(int)
    def _on_scrubbed(self, index: int) -> None:
        self.seek(index)

    @Slot()
    def _on_scrub_started(self) -> None:
        self._resume_after_scrub = self.is_playing
        self.pause()

    @Slot()
    def _on_scrub_finished(self) -> None:
        if self._resume_after_scrub:
            self._resume_after_scrub = False
            self.play()

    @Slot()
    def _on_loop_toggled(self) -> None:
        if self.is_playing and self.loop:
            first, last = self._loop_range()
            if not first <= self._position <= last:
                self._show(first)
            self._anchor(self._position)

    @Slot(int, int, float)
    def _on_opened(self, generation: int, frame_count: int, fps: float) -> None:
        if generation != self._generation:
            return
        # The probe's count may be an estimate; the reader's is what frame_at accepts.
        if frame_count > 0 and frame_count != self._frame_count:
            self._frame_count = frame_count
            self._in, self._out = self._clamped_in_out(self._in, self._out)
            self.timeline.set_range(frame_count, self._fps)
            self.timeline.set_in_out(self._in, self._out)
            if self._position >= frame_count:
                self._show(frame_count - 1)
            self._refresh()

    @Slot(int, int, QImage)
    def _on_frame_ready(self, generation: int, index: int, image: QImage) -> None:
        if generation != self._generation or self._path is None:
            return
        self._displayed_index = index
        self.view.set_image(image)
        if self._error is not None:  # one bad frame failed; this one decoded, so carry on
            self._error = None
            self._refresh()
        if self.flow_overlay_on:
            self._request_flow(index)
        self.frame_displayed.emit(index)

    def _request_flow(self, index: int) -> None:
        if self._path is None:
            return
        if self._frame_count < 2:
            self._clear_flow()
            self.view.set_flow_overlay(None, "No flow: a single frame")
        elif index >= self._frame_count - 1:
            self._clear_flow()
            self.view.set_flow_overlay(None, "No flow: the last frame has no next")
        else:
            self._flow().request(self._path, index)

    def _flow(self):
        """The ``FlowOverlayController``, made on first use."""
        if self._flow_controller is None:
            from studio.ui.analysis_worker import FlowOverlayController

            flow = self._flow_controller = FlowOverlayController(self)
            flow.set_scale(self._flow_scale_px)
            flow.overlay_ready.connect(self._on_flow_ready)
            flow.overlay_failed.connect(self._on_flow_failed)
        return self._flow_controller

    def _clear_flow(self) -> None:
        if self._flow_controller is not None:
            self._flow_controller.clear()

    @Slot()
    def _on_flow_overlay_toggled(self) -> None:
        if self.flow_overlay_on:
            if self._displayed_index is not None:
                self._request_flow(self._displayed_index)
        else:
            self._clear_flow()
            self.view.set_flow_overlay(None)

    @Slot(object)
    def _on_flow_ready(self, overlay) -> None:
        if self.flow_overlay_on and overlay.path == self._path:
            self.view.set_flow_overlay(overlay)

    @Slot(str)
    def _on_flow_failed(self, message: str) -> None:
        if self.flow_overlay_on:
            self.view.set_flow_overlay(None, "No flow: " + message)

    @Slot(int, str)
    def _on_failed(self, generation: int, message: str) -> None:
        if generation != self._generation:
            return
        self.pause()
        self._error = message
        self._displayed_index = None
        self.view.set_message(message, error=True)
        self._refresh()

    @Slot(QWidget, QWidget)
    def _on_focus_changed(self, old: QWidget | None, now: QWidget | None) -> None:
        if self._filtered_focus_widget is not None:
            try:
                self._filtered_focus_widget.removeEventFilter(self._focus_keys)
            except RuntimeError:  # already deleted on the C++ side
                pass
            self._filtered_focus_widget = None
        if now is not None and not self._shut_down and any(
                _is_a(now, kinds) for kinds, _ in _KEYS_KEPT_BY_FOCUSED):
            now.installEventFilter(self._focus_keys)
            self._filtered_focus_widget = now

    @Slot()
    def _on_resize_settled(self) -> None:
        self._update_decoder_size()
        if self._can_show() and not self.is_playing and self._error is None:
            self._request(self._position)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if self._can_show():
            self._resize_timer.start()

    # ---- text and enabled state --------------------------------------------------------

    def _refresh_play_action(self) -> None:
        playing = self.is_playing
        self.play_action.setText("Pause" if playing else "Play")
        self.play_action.setIcon(self._icon_pause if playing else self._icon_play)
        self.play_action.setToolTip(f"{'Pause' if playing else 'Play'} (Space)")

    def _fit_frame_label(self, frame_count: int) -> None:
        """Make the frame counter as wide as the widest count it shows for ``frame_count``
        frames (3 digits at least), so the transport bar, and the docks beside the player,
        keep their widths while a clip plays; a clip under 1000 frames changes nothing."""
        digits = max(3, len(str(frame_count)))
        if digits != self._frame_label_digits:
            self._frame_label_digits = digits
            widest = "8" * digits
            self.frame_label.setMinimumWidth(
                self.frame_label.fontMetrics().horizontalAdvance(f"frame {widest} / {widest}"))

    def _refresh_position(self) -> None:
        n = self._frame_count
        if self._path is None or n <= 0:
            self.timecode_button.setText(format_timecode(0, 0, self._timecode_style))
            self.frame_label.setText("")
            return
        if self._fps <= 0:
            self.timecode_button.setText("still image")
        else:
            self.timecode_button.setText(
                format_timecode(self._position, self._fps, self._timecode_style))
            self.timecode_button.setToolTip(
                f"Duration {format_timecode(n, self._fps, self._timecode_style)}. "
                "Click to switch between milliseconds and frames")
        self._fit_frame_label(n)
        self.frame_label.setText(f"frame {self._position} / {n}")

    def _refresh(self) -> None:
        self._refresh_position()
        self._refresh_play_action()
        can_show, can_play, can_mark = self._can_show(), self._can_play(), self._can_mark()
        movable = can_show and self._frame_count > 1
        self.play_action.setEnabled(can_play)
        self.loop_action.setEnabled(can_play)
        self.flow_overlay_action.setEnabled(can_show and self._frame_count > 1)
        for action in (self.step_back_action, self.step_forward_action, self.to_start_action,
                       self.to_end_action):
            action.setEnabled(movable)
        self.set_in_action.setEnabled(can_mark)
        self.set_out_action.setEnabled(can_mark)
        self.clear_in_out_action.setEnabled(can_mark and (self._in is not None
                                                          or self._out is not None))
        self.timeline.setEnabled(movable)
        if not can_mark or (self._in is None and self._out is None):
            self.in_out_label.set_texts([])
            return
        style = self._timecode_style
        first, last = self._loop_range()
        length = last - first + 1
        span = f"{length / self._fps:.2f} s" if self._fps > 0 else f"{length} frames"
        in_text = format_timecode(first, self._fps, style) if self._in is not None else "start"
        out_text = format_timecode(last, self._fps, style) if self._out is not None else "end"
        self.in_out_label.set_texts([f"In {in_text}  Out {out_text}  ({span})",
                                     f"{in_text} – {out_text} ({span})",
                                     f"{in_text} – {out_text}"])
