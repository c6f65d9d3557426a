"""The caption panel's own widgets: the caption box, the strip of frames a model saw, a
folding section, a rule, and the sections its body is built from (the caption text, the
history, the settings, the buttons).

They are only needed once the panel shows a clip (studio.ui.caption_panel builds its body on
first use), so their Qt classes are not loaded to show the window at start-up.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from studio.inference import registry
from studio.ui.caption_frames import FRAME_THUMB, FrameThumb, format_time
from studio.ui.elided_label import ElidedLabel
from studio.ui.wheel_guard import ComboBox, DoubleSpinBox, SpinBox


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


# ---------------------------------------------------------------------------------------
# The sections of the panel's body. Each makes its widgets and says what a person did with
# them through its own signals; the panel (studio.ui.caption_panel) decides what follows.
# ``WIDGETS`` names the widgets the panel reads as its own attributes.


def _column(widget: QWidget, spacing: int, margins=(0, 0, 0, 0)) -> QVBoxLayout:
    layout = QVBoxLayout(widget)
    layout.setContentsMargins(*margins)
    layout.setSpacing(spacing)
    return layout


def _row(*widgets: QWidget, stretch_first: bool = True) -> QHBoxLayout:
    row = QHBoxLayout()
    row.setContentsMargins(0, 0, 0, 0)
    for i, widget in enumerate(widgets):
        row.addWidget(widget, 1 if stretch_first and i == 0 else 0)
    return row


class CaptionTextBox(QWidget):
    """The caption: the clip's name and state badge, how the caption was made, the editor
    with its word count and save state, why captioning failed, the frames the model saw."""

    WIDGETS = ("title_label", "state_label", "meta_label", "demo_label", "editor",
               "count_label", "save_label", "error_label", "frames_label", "frame_strip")
    text_changed = Signal()  # the editor's text, typed or set
    focus_lost = Signal()  # the person moved on from the editor (CaptionEdit.focus_lost)
    frame_clicked = Signal(int)  # the index of a frame of the strip

    def __init__(self, parent=None):
        super().__init__(parent)
        self.title_label = ElidedLabel(parent=self)  # a long name: elided, whole in the tooltip
        self.title_label.setObjectName("CaptionClipName")
        self.state_label = QLabel(self)
        self.state_label.setObjectName("CaptionState")
        self.state_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.meta_label = QLabel(self)
        self.meta_label.setObjectName("CaptionMeta")
        self.meta_label.setWordWrap(True)
        self.meta_label.setStyleSheet("color: palette(mid);")
        self.demo_label = QLabel(f"⚠ {registry.DEMO_LABEL}", self)
        self.demo_label.setObjectName("CaptionDemoLabel")
        self.demo_label.setStyleSheet("color: #e0ac3a; font-weight: 600;")
        self.demo_label.hide()
        self._make_editor()
        self.count_label = QLabel(self)
        self.count_label.setStyleSheet("color: palette(mid);")
        self.save_label = QLabel(self)
        self.save_label.setObjectName("CaptionSaveState")
        self.error_label = QLabel(self)
        self.error_label.setObjectName("CaptionError")
        self.error_label.setAccessibleName("Caption error")
        self.error_label.setWordWrap(True)
        self.error_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error_label.setStyleSheet("color: #e0604f;")
        self.error_label.hide()
        self.frames_label = QLabel(self)
        self.frames_label.setStyleSheet("color: palette(mid);")
        self.frame_strip = FrameStrip(self)
        self.frame_strip.itemClicked.connect(self._on_frame_clicked)
        layout = _column(self, spacing=5)
        layout.addLayout(_row(self.title_label, self.state_label))
        layout.addWidget(self.meta_label)
        layout.addWidget(self.demo_label)
        layout.addWidget(self.editor, 3)
        layout.addLayout(_row(self.count_label, self.save_label))
        layout.addWidget(self.error_label)
        layout.addWidget(self.frames_label)
        layout.addWidget(self.frame_strip)

    def _make_editor(self) -> None:
        self.editor = CaptionEdit(self)
        self.editor.setObjectName("CaptionEditor")
        self.editor.setAccessibleName("Caption")
        self.editor.setAccessibleDescription("The clip's caption; edits are saved as you type "
                                             "and can be undone")
        self.editor.setPlaceholderText("No caption yet. Click Caption, or type one here.")
        self.editor.setTabChangesFocus(True)
        font = self.editor.font()
        font.setPointSizeF(font.pointSizeF() * 1.1)
        self.editor.setFont(font)
        self.editor.setMinimumHeight(90)
        self.editor.textChanged.connect(self.text_changed)
        self.editor.focus_lost.connect(self.focus_lost)

    @Slot(QListWidgetItem)
    def _on_frame_clicked(self, item: QListWidgetItem) -> None:
        self.frame_clicked.emit(item.data(Qt.ItemDataRole.UserRole))


class HistoryBox(QWidget):
    """A caption's every version, newest first; an earlier one (not the first row) can be
    restored by its button or a double click."""

    WIDGETS = ("history_list", "restore_button", "history_empty")
    restore_clicked = Signal()  # the button: restore the selected version
    item_double_clicked = Signal(QListWidgetItem)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.history_list = QListWidget(self)
        self.history_list.setObjectName("CaptionHistory")
        self.history_list.setAccessibleName("Caption history")
        self.history_list.setAccessibleDescription("Every version of the caption, newest first")
        self.history_list.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.history_list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.history_list.setUniformItemSizes(True)
        self.history_list.setAlternatingRowColors(True)
        self.history_list.currentRowChanged.connect(self._on_row)
        self.history_list.itemDoubleClicked.connect(self.item_double_clicked)
        self.restore_button = QPushButton("Restore this version", self)
        self.restore_button.setEnabled(False)
        self.restore_button.clicked.connect(self.restore_clicked)
        self.history_empty = QLabel("No versions yet: a caption's every version is kept here.",
                                    self)
        self.history_empty.setStyleSheet("color: palette(mid);")
        self.history_empty.setWordWrap(True)
        layout = _column(self, spacing=2)
        layout.addWidget(self.history_empty)
        layout.addWidget(self.history_list)
        layout.addWidget(self.restore_button, 0, Qt.AlignmentFlag.AlignRight)

    @Slot(int)
    def _on_row(self, row: int) -> None:
        self.restore_button.setEnabled(row > 0)  # row 0 is the current version


class CaptionSettingsBox(QWidget):
    """How captions are made: the model, the prompt (a preset or the person's own), the
    length, greedy or sampled decoding."""

    WIDGETS = ("model_combo", "preset_combo", "prompt_edit", "max_tokens_spin",
               "sample_check", "temperature_spin")
    model_activated = Signal(int)  # a model chosen from the list (its row)
    preset_changed = Signal(int)
    prompt_edited = Signal()
    changed = Signal()  # anything the settings' one-line summary shows

    def __init__(self, local_folder: str, parent=None):
        super().__init__(parent)
        self.model_combo = ComboBox(self)
        self.model_combo.setObjectName("CaptionModel")
        for spec in registry.models("captioner"):
            self.model_combo.addItem(spec.title, spec.id)
        self.model_combo.addItem("Local folder…", local_folder)
        self.model_combo.setCurrentIndex(max(0, self.model_combo.findData(
            registry.DEFAULT_CAPTIONER)))
        self.model_combo.activated.connect(self.model_activated)
        self.preset_combo = ComboBox(self)
        self.preset_combo.setObjectName("CaptionPreset")
        for combo in (self.model_combo, self.preset_combo):
            # Long model titles must not set the dock's minimum width: the text elides instead.
            combo.setSizeAdjustPolicy(
                QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(10)
        self.preset_combo.currentIndexChanged.connect(self.preset_changed)
        self.prompt_edit = QPlainTextEdit(self)
        self.prompt_edit.setObjectName("CaptionPrompt")
        self.prompt_edit.setAccessibleName("Caption prompt")
        self.prompt_edit.setAccessibleDescription("What the captioning model is asked")
        self.prompt_edit.setPlaceholderText("Your prompt, e.g. Describe the lighting and the "
                                            "camera movement.")
        self.prompt_edit.setTabChangesFocus(True)
        self.prompt_edit.setFixedHeight(self.fontMetrics().lineSpacing() * 3 + 12)
        self.prompt_edit.textChanged.connect(self.prompt_edited)
        self._make_generation_controls()
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("Model", self.model_combo)
        form.addRow("Prompt", self.preset_combo)
        form.addRow("", self.prompt_edit)
        form.addRow("Length", self.max_tokens_spin)
        form.addRow("", self.sample_check)
        form.addRow("", self.temperature_spin)
        self._form = form

    def add_run_on(self, combo: QWidget) -> None:
        """The window's Run on choice (``run_on.RunOnCombo``), under the settings."""
        self._form.addRow("Run on", combo)

    def _make_generation_controls(self) -> None:
        self.max_tokens_spin = SpinBox(self)
        self.max_tokens_spin.setObjectName("CaptionMaxTokens")
        self.max_tokens_spin.setRange(8, 4096)
        self.max_tokens_spin.setSingleStep(32)
        self.max_tokens_spin.setValue(256)
        self.max_tokens_spin.setSuffix(" tokens")
        self.sample_check = QCheckBox("Sample (varied wording)", self)
        self.sample_check.setObjectName("CaptionSample")
        self.sample_check.setToolTip("Off: greedy decoding, so the same clip and settings always "
                                     "give the same caption. On: sampled at the temperature "
                                     "below, different each time.")
        self.temperature_spin = DoubleSpinBox(self)
        self.temperature_spin.setAccessibleName("Sampling temperature")
        self.temperature_spin.setRange(0.05, 2.0)
        self.temperature_spin.setSingleStep(0.05)
        self.temperature_spin.setValue(0.7)
        self.temperature_spin.setPrefix("temperature ")
        self.temperature_spin.setEnabled(False)
        self.sample_check.toggled.connect(self.temperature_spin.setEnabled)
        self.max_tokens_spin.valueChanged.connect(self._on_changed)
        self.sample_check.toggled.connect(self._on_changed)
        self.temperature_spin.valueChanged.connect(self._on_changed)
        self.model_combo.currentIndexChanged.connect(self._on_changed)

    @Slot()
    def _on_changed(self, *_args) -> None:
        self.changed.emit()


class CaptionButtons(QWidget):
    """Always in view below the scrolling part: Caption, Caption all uncaptioned, and a
    running job's progress with its Cancel button and the words of a caption being written
    for another clip."""

    WIDGETS = ("caption_button", "caption_all_button", "progress_bar", "cancel_button",
               "progress_row", "live_label")
    caption_clicked = Signal()
    caption_all_clicked = Signal()
    cancel_clicked = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.caption_button = QPushButton("Caption", self)
        self.caption_button.setObjectName("CaptionButton")
        self.caption_button.setDefault(True)
        self.caption_button.clicked.connect(self.caption_clicked)
        self.caption_button.setStyleSheet(
            "QPushButton#CaptionButton { background: #2f6fd0; color: white; font-weight: 600;"
            " border-radius: 4px; padding: 5px 14px; }"
            "QPushButton#CaptionButton:disabled { background: palette(mid); }")
        self.caption_all_button = QPushButton("Caption all uncaptioned", self)
        self.caption_all_button.setObjectName("CaptionAllButton")
        self.caption_all_button.clicked.connect(self.caption_all_clicked)
        buttons = _row(self.caption_button, self.caption_all_button, stretch_first=False)
        buttons.addStretch(1)
        self.progress_bar = QProgressBar(self)
        self.progress_bar.setObjectName("CaptionProgress")
        self.progress_bar.setTextVisible(True)
        self.cancel_button = QToolButton(self)
        self.cancel_button.setText("Cancel")
        self.cancel_button.setToolTip("Stop captioning (captions already made are kept)")
        self.cancel_button.clicked.connect(self.cancel_clicked)
        self.progress_row = QWidget(self)
        progress = QHBoxLayout(self.progress_row)
        progress.setContentsMargins(0, 0, 0, 0)
        progress.addWidget(self.progress_bar, 1)
        progress.addWidget(self.cancel_button)
        self.progress_row.hide()
        self.live_label = QLabel(self)  # the running caption, when another clip is shown
        self.live_label.setObjectName("CaptionLive")
        self.live_label.setStyleSheet("color: palette(mid); font-style: italic;")
        self.live_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.live_label.hide()
        layout = _column(self, spacing=4, margins=(6, 2, 6, 6))
        layout.addLayout(buttons)
        layout.addWidget(self.progress_row)
        layout.addWidget(self.live_label)
