"""The caption panel's own widgets: the caption box, the strip of frames a model saw, a
folding section, a rule.

They are only needed once the panel shows a clip (studio.ui.caption_panel builds its body on
first use), so their Qt classes are not loaded to show the window at start-up.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from studio.ui.caption_frames import FRAME_THUMB, FrameThumb, format_time


class CaptionEdit(QPlainTextEdit):
    """The caption text box; says when the person moves on from it (the focus goes to another
    widget), so the panel can save the edit. Another window coming to the front (a dialog,
    another program) or a popup (a context menu) is not moving on: the text stays unsaved, a
    draft in the project, and an export opened meanwhile takes the saved caption."""

    focus_lost = Signal()

    def focusOutEvent(self, event) -> None:
        super().focusOutEvent(event)
        if event.reason() not in (Qt.FocusReason.ActiveWindowFocusReason,
                                  Qt.FocusReason.PopupFocusReason):
            self.focus_lost.emit()


class FrameStrip(QListWidget):
    """A row of small thumbnails with their times: the frames a model saw."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("CaptionFrameStrip")
        self.setViewMode(QListWidget.ViewMode.IconMode)
        self.setFlow(QListWidget.Flow.LeftToRight)
        self.setWrapping(False)
        self.setMovement(QListWidget.Movement.Static)
        self.setResizeMode(QListWidget.ResizeMode.Adjust)
        self.setIconSize(FRAME_THUMB)
        self.setSpacing(2)
        self.setUniformItemSizes(True)
        self.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setFixedHeight(FRAME_THUMB.height() + 40)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self._shown: list[FrameThumb] | None = None

    def set_frames(self, thumbs: list[FrameThumb]) -> None:
        if thumbs is self._shown:
            return
        self._shown = thumbs
        self.clear()
        for thumb in thumbs:
            item = QListWidgetItem(thumb.pixmap, format_time(thumb.time_s))
            item.setToolTip(f"frame {thumb.index} at {thumb.time_s:.3f} s; click to show it "
                            "in the player")
            item.setData(Qt.ItemDataRole.UserRole, thumb.index)
            item.setTextAlignment(Qt.AlignmentFlag.AlignHCenter)
            self.addItem(item)

    def clear_frames(self) -> None:
        self._shown = None
        self.clear()

    @property
    def times(self) -> list[float]:
        return [t.time_s for t in self._shown or []]


class Section(QWidget):
    """A titled part of the panel that folds away (history, settings)."""

    def __init__(self, title: str, body: QWidget, expanded: bool, parent=None):
        super().__init__(parent)
        self.toggle = QToolButton(self)
        self.toggle.setText(title)
        self.toggle.setCheckable(True)
        self.toggle.setChecked(expanded)
        self.toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.toggle.setAutoRaise(True)
        self.toggle.setStyleSheet("QToolButton { font-weight: 600; border: none; }")
        self.summary = QLabel(self)
        self.summary.setStyleSheet("color: palette(mid);")
        self.summary.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.body = body
        head = QHBoxLayout()
        head.setContentsMargins(0, 0, 0, 0)
        head.addWidget(self.toggle)
        head.addWidget(self.summary, 1)
        head.addStretch(0)
        self.toggle.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(head)
        layout.addWidget(body)
        self.toggle.toggled.connect(self._on_toggled)
        self._on_toggled(expanded)

    @Slot(bool)
    def _on_toggled(self, expanded: bool) -> None:
        self.toggle.setArrowType(Qt.ArrowType.DownArrow if expanded else Qt.ArrowType.RightArrow)
        self.body.setVisible(expanded)
        self.summary.setVisible(not expanded)


def rule(parent) -> QFrame:
    """A thin horizontal line between parts of the panel."""
    line = QFrame(parent)
    line.setFrameShape(QFrame.Shape.HLine)
    line.setStyleSheet("color: palette(midlight);")
    return line
