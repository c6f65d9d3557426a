"""The sections the prompt panel is built from: each a QWidget that owns its fields, lays them
out in a form of its own and says through its signals when they change.

``ModelSection`` (model and mode), ``SourceSection`` (the picture of image to video, the clip
of video to video and extend, the conditions of "Conditions at frames"), ``PromptSection``
(prompt, negative prompt, template and "Prompt from caption", LTX-2's "Enhance prompt"),
``SizeSection`` (size preset, width and height, frames and fps, steps, guidance, seed) and
``AdvancedSection`` (folded: the multi-scale recipe, offload, VAE tiling, LTX-Video's decode
timestep and noise). The panel stacks them and checks their values together
(``studio.ui.prompt_panel``). The label column of every section's form is as wide as the
widest label shown in any of them (``align_labels``), so the sections read as the one form
they replaced.

Qt only at import time: the settings' rules (``studio.core.params``) come from the panel.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QRegularExpression, QSize, Qt, Signal, Slot
from PySide6.QtGui import QRegularExpressionValidator
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from studio.ui.elided_label import ElidedLabel
from studio.ui.wheel_guard import ComboBox, DoubleSpinBox, SpinBox

LOCAL_FOLDER = "Local folder…"
PLAYER_FRAME = "Player's current frame"
IMAGE_FILE = "Image file"
CUSTOM_SIZE = "Custom"
MODES = (("t2v", "Text to video"), ("i2v", "Image to video"), ("v2v", "Video to video"),
         ("extend", "Extend clip"), ("condition", "Conditions at frames"))
VIDEO_MODES = ("v2v", "extend")  # the modes that start from a clip
SELECTED_CLIP = "Selected clip"
PLAYER_CLIP = "Player's clip"
VIDEO_FILE = "Video file"
# Advanced: GenerationParams.offload and vae_tiling (None: automatic, from the GPU's free memory)
OFFLOAD_CHOICES = (("Automatic", None), ("Off", "none"), ("Model CPU offload", "model"),
                   ("Group offload", "group"), ("Sequential CPU offload", "sequential"))
TILING_CHOICES = (("Automatic", None), ("On", True), ("Off", False))


def narrow_combo(combo: QComboBox, chars: int) -> None:
    """``combo`` asks for about ``chars`` characters, not its longest item's width: a long
    model name widened the Generate dock, and the window with it."""
    combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    combo.setMinimumContentsLength(chars)


def _is_video_path(path: str) -> bool:
    from studio.core.media import VIDEO_EXTENSIONS

    return Path(path).suffix.lower() in VIDEO_EXTENSIONS | {".gif"}


class ConditionRow:
    """One condition's widgets (a row of the editor's grid): the picture or clip, the frame of
    the clip to show (clips only), the output frame that shows it, and the strength."""

    def __init__(self, editor: ConditionsEditor):
        self.number = QLabel()
        self.path = QLineEdit()
        self.path.setPlaceholderText("a picture or a clip")
        self.path.setAccessibleName("Condition file")
        self.browse = QToolButton()
        self.browse.setText("…")
        self.browse.setToolTip("Choose a picture or a clip")
        self.frame = SpinBox()
        self.frame.setRange(0, 99_999)
        self.frame.setToolTip("The frame of the clip to show")
        self.frame.setAccessibleName("Condition source frame")
        self.at = SpinBox()
        self.at.setRange(0, 9_999)  # past the video's end: conform says where it moves
        self.at.setToolTip("The frame of the new video that shows it")
        self.at.setAccessibleName("Condition at frame")
        self.strength = DoubleSpinBox()
        self.strength.setRange(0.0, 1.0)
        self.strength.setSingleStep(0.05)
        self.strength.setValue(1.0)
        self.strength.setToolTip("How strictly the video keeps to it (1: exactly)")
        self.strength.setAccessibleName("Condition strength")
        self.remove = QToolButton()
        self.remove.setText("✕")
        self.remove.setToolTip("Remove this condition")
        for spin in (self.frame, self.at, self.strength):
            spin.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.path.setMinimumWidth(80)
        self.range: tuple[int | None, int | None] | None = None  # a restored clip range
        self.browse.clicked.connect(lambda: editor.browse(self))
        self.remove.clicked.connect(lambda: editor.remove(self))
        self.path.textChanged.connect(lambda _t: self._path_changed(editor))
        self.frame.valueChanged.connect(lambda _v: self._frame_changed(editor))
        self.at.valueChanged.connect(lambda _v: editor.changed.emit())
        self.strength.valueChanged.connect(lambda _v: editor.changed.emit())

    @property
    def widgets(self) -> tuple[QWidget, ...]:
        return (self.number, self.path, self.browse, self.frame, self.at, self.strength,
                self.remove)

    def _path_changed(self, editor: ConditionsEditor) -> None:
        self._single_frame()
        self.path.setToolTip(self.path.text())
        self.frame.setVisible(_is_video_path(self.path.text().strip()))
        editor.changed.emit()

    def _frame_changed(self, editor: ConditionsEditor) -> None:
        self._single_frame()  # the person chose one frame
        editor.changed.emit()

    def _single_frame(self) -> None:
        if self.range is not None:
            self.range = None
            self.frame.setSuffix("")
            self.frame.setToolTip("The frame of the clip to show")

    def show_range(self, in_frame: int | None, out_frame: int | None) -> None:
        """Keep a clip range (a restored video condition) until a frame is chosen."""
        self.range = (in_frame, out_frame)
        self.frame.setSuffix(f"..{out_frame if out_frame is not None else 'end'}")
        self.frame.setToolTip("These frames of the clip (as restored); choose a frame to use "
                              "that one alone")

    def condition(self, P):
        path = self.path.text().strip()
        in_frame = out_frame = None
        if self.range is not None:
            in_frame, out_frame = self.range
        elif _is_video_path(path):
            in_frame = out_frame = self.frame.value()
        return P.Condition(path=path, frame_index=self.at.value(),
                           strength=round(self.strength.value(), 4), in_frame=in_frame,
                           out_frame=out_frame)


class ConditionsEditor(QWidget):
    """The conditions of "Conditions at frames": each a picture, or one frame of a clip, that
    the new video shows at a chosen frame, with a strength. Rows are added (a file, the
    player's frame, a dropped file) and removed here; the panel checks them live."""

    changed = Signal()
    row_added = Signal(object)  # ConditionRow
    message = Signal(str)  # why a button did nothing

    HEADERS = ("", "Condition: picture or clip", "", "Its frame", "At frame", "Strength", "")

    def __init__(self, player_frame: Callable[[], tuple[str, int] | None],
                 parent: QWidget | None = None):
        super().__init__(parent)
        self._player_frame = player_frame
        self.rows: list[ConditionRow] = []
        self._grid = QGridLayout()
        self._grid.setContentsMargins(0, 0, 0, 0)
        self._grid.setHorizontalSpacing(4)
        self._grid.setColumnStretch(1, 1)
        self._headers = []
        for column, text in enumerate(self.HEADERS):
            label = QLabel(text)
            label.setStyleSheet("color: palette(placeholder-text);")
            self._grid.addWidget(label, 0, column)
            self._headers.append(label)
        self.empty_label = QLabel("No conditions yet: add a picture or a clip's frame, or drop "
                                  "a file on the panel.")
        self.empty_label.setWordWrap(True)
        self.add_file_button = QPushButton("Add picture or clip…")
        self.add_file_button.clicked.connect(self.add_from_file)
        self.add_player_button = QPushButton("Add player's frame")
        self.add_player_button.setToolTip("The frame the player shows, at frame 0 (or at the "
                                          "end when there are conditions already)")
        self.add_player_button.clicked.connect(self.add_player_frame)
        buttons = QHBoxLayout()
        buttons.setContentsMargins(0, 0, 0, 0)
        buttons.addWidget(self.add_file_button)
        buttons.addWidget(self.add_player_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(self._grid)
        layout.addWidget(self.empty_label)
        layout.addLayout(buttons)
        self._relayout()

    def add(self, path: str = "", frame_index: int = 0, strength: float = 1.0,
            in_frame: int | None = None, out_frame: int | None = None) -> ConditionRow:
        """A row for ``path`` shown at ``frame_index``. A clip's ``in_frame`` equal to its
        ``out_frame`` is one frame of it; any other range (None, None included: all of it, as
        ``studio generate`` writes a clip condition) is kept as it is."""
        row = ConditionRow(self)
        row.path.setText(path)
        row.frame.setValue(in_frame or 0)
        row.at.setValue(max(0, frame_index))
        row.strength.setValue(strength)
        if _is_video_path(path) and (in_frame is None or in_frame != out_frame):
            row.show_range(in_frame, out_frame)
        self.rows.append(row)
        self._relayout()
        self.row_added.emit(row)
        self.changed.emit()
        return row

    def remove(self, row: ConditionRow) -> None:
        if row not in self.rows:
            return
        self.rows.remove(row)
        for widget in row.widgets:
            self._grid.removeWidget(widget)
            widget.deleteLater()
        self._relayout()
        self.changed.emit()

    def clear(self) -> None:
        for row in list(self.rows):
            self.remove(row)

    def conditions(self, P) -> list:
        """The rows as ``studio.core.params.Condition`` (``P``: that module)."""
        return [row.condition(P) for row in self.rows]

    def set_conditions(self, conditions) -> None:
        self.clear()
        for c in conditions:
            self.add(c.path, c.frame_index, c.strength, c.in_frame, c.out_frame)

    def next_frame_index(self) -> int:
        """Where a new condition goes: frame 0 first, then the end (the last row's frame + 8,
        at least; conform moves it inside the video)."""
        if not self.rows:
            return 0
        return max(r.at.value() for r in self.rows) + 8

    def add_from_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Picture or clip to show at a frame", "",
            "Pictures and clips (*.png *.jpg *.jpeg *.webp *.bmp *.tif *.tiff *.gif *.mp4 *.mov "
            "*.mkv *.webm *.avi *.m4v);;All files (*)")
        if path:
            first = 0 if _is_video_path(path) else None  # a clip: its first frame
            self.add(path, self.next_frame_index(), 1.0, first, first)

    def add_player_frame(self) -> bool:
        shown = self._player_frame()
        if shown is None:
            self.message.emit("Add player's frame: show a clip or a picture in the player first")
            return False
        path, index = shown
        video = _is_video_path(path)
        self.add(path, self.next_frame_index(), 1.0, index if video else None,
                 index if video else None)
        return True

    def browse(self, row: ConditionRow) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Picture or clip", row.path.text())
        if path:
            row.path.setText(path)

    def _relayout(self) -> None:
        for i, row in enumerate(self.rows):
            row.number.setText(f"{i + 1}")
            row.number.setToolTip(f"conditions[{i}]")
            video = _is_video_path(row.path.text().strip())
            for column, widget in enumerate(row.widgets):
                self._grid.addWidget(widget, i + 1, column)
                # explicitly: a widget added to a shown parent stays hidden otherwise
                widget.setVisible(widget is not row.frame or video)
        for label in self._headers:
            label.setVisible(bool(self.rows))
        self.empty_label.setVisible(not self.rows)


class BoundedTextEdit(QPlainTextEdit):
    """A text box that refuses a paste or a drop of text that would make it longer than
    ``max_chars`` (a 500 kB paste froze the window for seconds: Qt lays out a long line slowly),
    and says so through ``refused``."""

    refused = Signal(str)

    def __init__(self, max_chars: int, what: str) -> None:
        super().__init__()
        self.max_chars, self.what = max_chars, what

    def insertFromMimeData(self, source) -> None:  # noqa: N802 - Qt's name
        incoming = source.text() if source is not None and source.hasText() else ""
        selected = len(self.textCursor().selectedText())
        length = len(self.toPlainText()) - selected + len(incoming)
        if length > self.max_chars:
            self.refused.emit(f"Not pasted: the {self.what} would be {length:,} characters, "
                              f"more than the {self.max_chars:,} Studio takes.")
            return
        super().insertFromMimeData(source)




def _row(*items, margins: bool = False) -> QHBoxLayout:
    """A row of widgets: a widget, or (widget, stretch)."""
    row = QHBoxLayout()
    if not margins:
        row.setContentsMargins(0, 0, 0, 0)
    for item in items:
        widget, stretch = item if isinstance(item, tuple) else (item, 0)
        row.addWidget(QLabel(widget) if isinstance(widget, str) else widget, stretch)
    return row


def _row_widget(*items) -> QWidget:
    """A row of widgets in a widget of its own (a form row that is shown or hidden)."""
    widget = QWidget()
    widget.setLayout(_row(*items))
    return widget


class FormLabel(QLabel):
    """A form row's label, at least as wide as the widest label shown among its ``peers``
    (every section's): the sections' fields line up as in one form."""

    def __init__(self, text: str, peers: list[FormLabel]):
        super().__init__(text)
        self._peers = peers
        peers.append(self)

    def _own_width(self) -> int:
        return super().sizeHint().width()

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        own = super().sizeHint()
        shown = [p._own_width() for p in self._peers if not p.isHidden()]
        return QSize(max([own.width(), *shown]), own.height())

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        return QSize(self.sizeHint().width(), super().minimumSizeHint().height())


class FormSection(QWidget):
    """A section of the panel: a form of its own, no margins, its labels lined up with the
    other sections' (``labels``: the list they share)."""

    changed = Signal()  # a value of the section changed

    def __init__(self, labels: list[FormLabel], parent: QWidget | None = None):
        super().__init__(parent)
        self._labels = labels
        self.form = QFormLayout(self)
        self.form.setContentsMargins(0, 0, 0, 0)

    def add_row(self, text: str, field) -> None:
        label = FormLabel(text, self._labels)
        if isinstance(field, QWidget):
            label.setBuddy(field)  # as QFormLayout.addRow(text, field) does
        label.setAlignment(self.form.labelAlignment() | Qt.AlignmentFlag.AlignVCenter)
        self.form.addRow(label, field)

    def set_row_visible(self, field, visible: bool) -> None:
        self.form.setRowVisible(field, visible)
        align_labels(self._labels)

    def relay(self, *signals) -> None:
        """Each of ``signals`` says that the section changed."""
        for signal in signals:
            signal.connect(self._emit_changed)

    @Slot()
    def _emit_changed(self, *_args) -> None:
        self.changed.emit()


def align_labels(labels: list[FormLabel]) -> None:
    """Lay the forms out again after a label was shown or hidden: the widest may have changed."""
    for label in labels:
        label.updateGeometry()


class ModelSection(FormSection):
    """The model (a known one or a local diffusers folder) and the mode, among those the
    model's rules allow."""

    def __init__(self, labels: list[FormLabel], parent: QWidget | None = None):
        super().__init__(labels, parent)
        from studio.inference import registry

        self.model = ComboBox()
        for spec in registry.models("generator"):
            self.model.addItem(spec.title, spec.id)
        self.model.addItem(LOCAL_FOLDER, None)
        self.model.setCurrentIndex(0)
        narrow_combo(self.model, 14)  # a long model title or folder name: elided, not wider
        self.model.activated.connect(self._on_model_activated)
        self.mode = ComboBox()
        for key, title in MODES:
            self.mode.addItem(title, key)
        self.add_row("Model", self.model)
        self.add_row("Mode", self.mode)

    def set_model(self, model: str) -> None:
        """Select ``model`` (a registry id or a local folder, added to the list)."""
        index = self.model.findData(model)
        if index < 0:
            self.model.insertItem(self.model.count() - 1, Path(model).name or model, model)
            self.model.setItemData(self.model.count() - 2, model, Qt.ItemDataRole.ToolTipRole)
            index = self.model.count() - 2
        self.model.setCurrentIndex(index)

    @Slot(int)
    def _on_model_activated(self, index: int) -> None:
        if self.model.itemText(index) == LOCAL_FOLDER and self.model.itemData(index) is None:
            folder = QFileDialog.getExistingDirectory(self, "Choose a diffusers model folder")
            if folder:
                self.set_model(folder)
            else:
                self.model.setCurrentIndex(0)

    def fill_modes(self, allowed) -> None:
        """Offer the modes in ``allowed`` (a Wan or CogVideoX model: text to video), keeping
        the current one when it is among them; no signal."""
        keys = [key for key, _title in MODES if key in allowed]
        if [self.mode.itemData(i) for i in range(self.mode.count())] == keys:
            return
        current = self.mode.currentData()
        self.mode.blockSignals(True)
        try:
            self.mode.clear()
            for key, title in MODES:
                if key in allowed:
                    self.mode.addItem(title, key)
            index = self.mode.findData(current)
            self.mode.setCurrentIndex(max(index, 0))
        finally:
            self.mode.blockSignals(False)


class SourceSection(FormSection):
    """What a mode starts from: the picture of image to video (the player's frame or a file),
    the strength and clip of video to video and extend (the bin's selection, the player's clip
    or a file), the conditions of "Conditions at frames"; and a line saying which."""

    def __init__(self, labels: list[FormLabel],
                 player_frame: Callable[[], tuple[str, int] | None],
                 parent: QWidget | None = None):
        super().__init__(labels, parent)
        self.image_source = ComboBox()
        self.image_source.addItems([PLAYER_FRAME, IMAGE_FILE])
        self.image_path = QLineEdit()
        self.image_path.setPlaceholderText("an image file")
        self.image_path.setAccessibleName("Image file")
        self.image_browse = QPushButton("Browse…")
        self.image_browse.clicked.connect(self._browse_image)
        self.strength = DoubleSpinBox()
        self.strength.setRange(0.0, 1.0)
        self.strength.setSingleStep(0.05)
        self.strength.setValue(0.6)
        self.strength.setAccessibleName("Denoise strength")
        self.source_label = QLabel()
        self.source_label.setWordWrap(True)
        self.video_source = ComboBox()
        self.video_source.addItems([SELECTED_CLIP, PLAYER_CLIP, VIDEO_FILE])
        self.video_path = QLineEdit()
        self.video_path.setPlaceholderText("a video file")
        self.video_path.setAccessibleName("Video file")
        self.video_browse = QPushButton("Browse…")
        self.video_browse.clicked.connect(self._browse_video)
        self.video_file: tuple = (None, None, None)  # in, out, clip id of a restored source
        self.conditions_editor = ConditionsEditor(player_frame)
        self._lay_out()
        self.relay(self.strength.valueChanged, self.image_path.textChanged,
                   self.image_source.currentIndexChanged)
        self.video_source.currentIndexChanged.connect(self._on_video_source_changed)
        self.relay(self.video_source.currentIndexChanged, self.video_path.textChanged)
        self.video_path.textEdited.connect(self._video_path_edited)
        self.relay(self.conditions_editor.changed)
        self._on_video_source_changed(0)

    def _lay_out(self) -> None:
        self.image_row = _row_widget(self.image_source, (self.image_path, 1), self.image_browse)
        self.video_row = _row_widget(self.video_source, (self.video_path, 1), self.video_browse)
        self.add_row("Image", self.image_row)
        self.add_row("Strength", self.strength)
        self.add_row("Source", self.video_row)
        self.form.addRow(self.conditions_editor)  # the whole width: its rows need it
        self.form.addRow("", self.source_label)  # no width of its own: not a FormLabel

    def show_mode(self, mode: str) -> None:
        """Show the rows ``mode`` uses."""
        self.form.setRowVisible(self.image_row, mode == "i2v")
        self.form.setRowVisible(self.video_row, mode in VIDEO_MODES)
        self.form.setRowVisible(self.strength, mode == "v2v")
        self.form.setRowVisible(self.conditions_editor, mode == "condition")
        self._show_if_any()
        align_labels(self._labels)

    def show_text(self, text: str) -> None:
        """The line under the source saying which it is ("" hides it)."""
        self.source_label.setText(text)
        self.source_label.setVisible(bool(text))
        self._show_if_any()

    def _show_if_any(self) -> None:
        # text to video shows none of the rows: no room, no spacing, as one form's hidden rows
        self.setVisible(not all(widget.isHidden() for widget in (
            self.image_row, self.strength, self.video_row, self.conditions_editor,
            self.source_label)))

    def set_image_file(self, path: str) -> None:
        self.image_source.setCurrentText(IMAGE_FILE)
        self.image_path.setText(path)

    def _browse_image(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Image for image to video", "",
                                              "Images (*.png *.jpg *.jpeg *.webp *.bmp)")
        if path:
            self.set_image_file(path)

    def _browse_video(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Video for video to video or extend", "",
            "Videos (*.mp4 *.mov *.mkv *.webm *.avi *.m4v *.gif);;All files (*)")
        if path:
            self.set_video_file(path)

    def set_video_file(self, path: str, in_out_clip: tuple = (None, None, None)) -> None:
        """The clip of video to video and extend: ``path`` (its in, out and clip id: those of
        a restored source; all of the file by default)."""
        self.video_source.setCurrentText(VIDEO_FILE)
        self.video_file = (None, None, None)
        self.video_path.setText(path)
        self.video_file = in_out_clip

    @Slot(str)
    def _video_path_edited(self, _text: str) -> None:
        self.video_file = (None, None, None)  # a new file: all of it, no clip of the bin

    @Slot(int)
    def _on_video_source_changed(self, _index: int) -> None:
        is_file = self.video_source.currentText() == VIDEO_FILE
        self.video_path.setVisible(is_file)
        self.video_browse.setVisible(is_file)


class PromptSection(FormSection):
    """The prompt, the negative prompt, and the template "Prompt from caption" fills the
    prompt through."""

    refused = Signal(str)  # a paste too long for its box, said
    from_caption = Signal()  # "Prompt from caption" clicked

    def __init__(self, labels: list[FormLabel], limits: dict, templates,
                 parent: QWidget | None = None):
        super().__init__(labels, parent)
        self.prompt = BoundedTextEdit(limits["prompt"], "prompt")
        self.prompt.setPlaceholderText("Describe the video: action, details, camera, lighting")
        self.prompt.setMaximumHeight(90)
        self.negative = BoundedTextEdit(limits["negative_prompt"], "negative prompt")
        self.negative.setMaximumHeight(50)
        for box in (self.prompt, self.negative):
            box.refused.connect(self.refused)
        self.template = ComboBox()
        for tpl in templates.templates():
            self.template.addItem(tpl.name, tpl.id)
        narrow_combo(self.template, 10)
        self.from_caption_button = QPushButton("Prompt from caption")
        self.from_caption_button.clicked.connect(self.from_caption)
        self.add_row("Prompt", self.prompt)
        self.add_row("Negative", self.negative)
        self.add_row("Template", _row((self.template, 1), self.from_caption_button))
        self._build_enhancement()
        self.relay(self.prompt.textChanged, self.negative.textChanged,
                   self.enhance_prompt.toggled)

    def _build_enhancement(self) -> None:
        """GenerationParams.enhance_prompt: LTX-2's own prompt enhancement, opt-in; the row is
        there for LTX-2 models only, and says why when the model cannot do it."""
        self.enhance_prompt = QCheckBox("Enhance prompt (the model rewrites it first)")
        self.enhance_prompt.setAccessibleName("Enhance prompt")
        self.enhance_note = QLabel()  # why it cannot, when it cannot
        self.enhance_note.setWordWrap(True)
        self.enhance_note.setStyleSheet("color: palette(placeholder-text);")
        self.enhance_note.setSizePolicy(QSizePolicy.Policy.Ignored,
                                        QSizePolicy.Policy.Preferred)
        self.enhance_row = QWidget()
        column = QVBoxLayout(self.enhance_row)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(2)
        column.addWidget(self.enhance_prompt)
        column.addWidget(self.enhance_note)
        self.add_row("", self.enhance_row)

    def show_enhancement(self, enhancement, checked: bool) -> None:
        """Show the box for a model whose ``enhancement`` (core.enhancement.Enhancement)
        applies, ticked as ``checked`` where it can; disabled, with the reason, where not."""
        self.set_row_visible(self.enhance_row, enhancement.applies)
        self.enhance_prompt.setEnabled(enhancement.available)
        self.enhance_prompt.setChecked(checked and enhancement.available)
        self.enhance_prompt.setToolTip(
            ("Opt-in: " if enhancement.available else "Not available: ") + enhancement.reason
            + ".\nThe prompt it writes is what the run uses, and is recorded with the video.")
        self.enhance_note.setText("" if enhancement.available
                                  else f"Not available: {enhancement.reason}.")
        self.enhance_note.setVisible(not enhancement.available)

    def enhancing(self) -> bool:
        """Whether the run enhances its prompt: the box is shown, enabled and ticked."""
        return (not self.enhance_row.isHidden() and self.enhance_prompt.isEnabled()
                and self.enhance_prompt.isChecked())


class SizeSection(FormSection):
    """Size (a preset of the model's or width × height), frames at fps (and the duration
    they make), steps, guidance, and the seed (locked or drawn at each run)."""

    def __init__(self, labels: list[FormLabel], parent: QWidget | None = None):
        super().__init__(labels, parent)
        self.size_preset = ComboBox()
        narrow_combo(self.size_preset, 9)
        self.width_spin, self.height_spin = SpinBox(), SpinBox()
        for spin in (self.width_spin, self.height_spin):
            spin.setRange(0, 100_000)
            spin.setSingleStep(32)
        self.size_preset.currentIndexChanged.connect(self._on_preset)
        self.size_preset.setAccessibleName("Size preset")
        self.width_spin.setAccessibleName("Width")
        self.height_spin.setAccessibleName("Height")
        self.frames = SpinBox()
        self.frames.setRange(0, 100_000)
        self.frames.setAccessibleName("Frames")
        self.fps = DoubleSpinBox()
        self.fps.setRange(0.0, 10_000.0)
        self.fps.setDecimals(2)
        self.fps.setAccessibleName("Frame rate")
        self.duration = QLabel()
        self.steps = SpinBox()
        self.steps.setRange(0, 100_000)
        self.steps.setAccessibleName("Steps")
        self.guidance = DoubleSpinBox()
        self.guidance.setRange(0.0, 1000.0)
        self.guidance.setSingleStep(0.5)
        self.guidance.setAccessibleName("Guidance")
        self.seed = QLineEdit()
        self.seed.setPlaceholderText("random")
        self.seed.setAccessibleName("Seed")
        self.seed.setAccessibleDescription("A number for a repeatable run; empty: a new random "
                                           "seed each run")
        self.seed.setValidator(QRegularExpressionValidator(QRegularExpression(r"\d{0,20}")))
        self.seed.setMaximumWidth(120)
        self.seed_locked = QCheckBox("Lock seed")
        self.seed_used = ElidedLabel("Seed: random", mode=Qt.TextElideMode.ElideRight)
        self.seed_used.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.seed_used.setAccessibleName("Seed used")
        self._lay_out()
        self.relay(self.width_spin.valueChanged, self.height_spin.valueChanged,
                   self.frames.valueChanged, self.steps.valueChanged, self.fps.valueChanged,
                   self.guidance.valueChanged, self.seed.textChanged, self.seed_locked.toggled)

    def _lay_out(self) -> None:
        self.add_row("Size", _row(self.size_preset, self.width_spin, "×", self.height_spin,
                                  margins=True))
        self.add_row("Frames", _row(self.frames, "at", self.fps, "fps", (self.duration, 1),
                                    margins=True))
        self.add_row("Steps", self.steps)
        self.add_row("Guidance", self.guidance)
        self.add_row("Seed", _row(self.seed, self.seed_locked, (self.seed_used, 1),
                                  margins=True))

    def fill_presets(self, presets) -> None:
        """The presets offered: ``presets`` ((width, height) each), then Custom; no signal."""
        self.size_preset.blockSignals(True)
        self.size_preset.clear()
        for w, h in presets:
            self.size_preset.addItem(f"{w}×{h}", f"{w}x{h}")
        self.size_preset.addItem(CUSTOM_SIZE, None)
        self.size_preset.blockSignals(False)

    def sync_preset(self) -> None:
        """Show the preset of the width and height, or Custom; no signal."""
        index = self.size_preset.findData(f"{self.width_spin.value()}x{self.height_spin.value()}")
        self.size_preset.blockSignals(True)
        self.size_preset.setCurrentIndex(index if index >= 0 else self.size_preset.count() - 1)
        self.size_preset.blockSignals(False)

    @Slot(int)
    def _on_preset(self, _index: int) -> None:
        size = self.size_preset.currentData()
        if size:
            w, h = (int(v) for v in size.split("x"))
            self.width_spin.setValue(w)
            self.height_spin.setValue(h)


class AdvancedSection(FormSection):
    """Folded away: the memory settings (offload, VAE tiling: automatic by default),
    LTX-Video's decode timestep and noise, and the multi-scale recipe of a model that has one;
    folded, a line sums them up."""

    MULTISCALE_TIP = (
        "The model's multi-scale recipe: a first pass at about 2/3 of the size, the latent "
        "upsampler doubles it, a short refine pass, then the frames are resized to the "
        "size asked for.\nUnchecked: one pass at the full size.")

    def __init__(self, labels: list[FormLabel], multiscale_applies: Callable[[], bool],
                 parent: QWidget | None = None):
        super().__init__(labels, parent)
        self._multiscale_applies = multiscale_applies  # for the model and mode chosen
        self._build_head()
        self.offload = ComboBox()
        for title, value in OFFLOAD_CHOICES:
            self.offload.addItem(title, value)
        self.offload.setToolTip(
            "CUDA only: keep parts of the model in CPU memory while it runs (needs accelerate)."
            "\nAutomatic: chosen before each run from the GPU's free memory.")
        self.vae_tiling = ComboBox()
        for title, value in TILING_CHOICES:
            self.vae_tiling.addItem(title, value)
        self.vae_tiling.setToolTip("Decode the video in 512 px tiles: less memory, a slower "
                                   "decode.\nAutomatic: on when the GPU's free memory needs it.")
        self.decode_timestep = DoubleSpinBox()
        self.decode_timestep.setAccessibleName("Decode timestep")
        self.decode_noise_scale = DoubleSpinBox()
        self.decode_noise_scale.setAccessibleName("Decode noise scale")
        for spin in (self.decode_timestep, self.decode_noise_scale):
            spin.setRange(0.0, 1.0)
            spin.setDecimals(3)
            spin.setSingleStep(0.005)
        self._decode_exact: dict = {}  # spin: the value the last fill gave it, unrounded
        # GenerationParams.multiscale: the model's multi-scale recipe (a first pass at about
        # 2/3 size, the latent upsampler, a refine pass) or one pass at full size; shown only
        # for a model that has the recipe, in a mode that follows it (not video to video)
        self.multiscale = QCheckBox("Multi-scale (two passes with the latent upsampler)")
        self.multiscale.setChecked(True)
        self.multiscale.setToolTip(self.MULTISCALE_TIP)
        self._lay_out()
        self.relay(self.multiscale.toggled, self.offload.currentIndexChanged,
                   self.vae_tiling.currentIndexChanged, self.decode_timestep.valueChanged,
                   self.decode_noise_scale.valueChanged)
        self.advanced_toggle.toggled.connect(self._on_toggled)
        self._on_toggled(False)

    def _build_head(self) -> None:
        self.advanced_toggle = QToolButton()
        self.advanced_toggle.setText("Advanced")
        self.advanced_toggle.setCheckable(True)
        self.advanced_toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.advanced_toggle.setAutoRaise(True)
        self.advanced_toggle.setStyleSheet("QToolButton { font-weight: 600; border: none; }")
        self.advanced_summary = QLabel()
        self.advanced_summary.setStyleSheet("color: palette(mid);")
        self.advanced_summary.setWordWrap(True)  # a narrow dock cut it off ("decode 0.")
        self.advanced_summary.setSizePolicy(QSizePolicy.Policy.Ignored,
                                            QSizePolicy.Policy.Preferred)

    def _lay_out(self) -> None:
        self.form.addRow(_row(self.advanced_toggle, (self.advanced_summary, 1)))
        self.form.addRow(self.multiscale)  # the whole width: its text is long for a narrow dock
        self.add_row("Offload", self.offload)
        self.add_row("VAE tiling", self.vae_tiling)
        self.decode_row = _row_widget("timestep", (self.decode_timestep, 1), "noise",
                                      (self.decode_noise_scale, 1))
        self.add_row("Decode", self.decode_row)
        self.rows = (self.offload, self.vae_tiling, self.decode_row)

    @Slot(bool)
    def _on_toggled(self, expanded: bool) -> None:
        self.advanced_toggle.setArrowType(Qt.ArrowType.DownArrow if expanded
                                          else Qt.ArrowType.RightArrow)
        for row in self.rows:
            self.form.setRowVisible(row, expanded)
        self.show_multiscale()
        self.advanced_summary.setVisible(not expanded)

    def show_multiscale(self) -> None:
        """Show (unfolded) and enable the Multi-scale box only where it means anything: a
        model with the recipe, a mode that follows it."""
        applies = self._multiscale_applies()
        self.multiscale.setEnabled(applies)
        self.form.setRowVisible(self.multiscale, applies and self.advanced_toggle.isChecked())
        align_labels(self._labels)

    def fill(self, params, rules) -> None:
        """The fields from ``params``; decode timestep and noise only for models whose
        ``rules`` use them (LTX-Video 0.9.1+)."""
        for combo, value in ((self.offload, params.offload),
                             (self.vae_tiling, params.vae_tiling)):
            index = combo.findData(value)
            combo.setCurrentIndex(max(index, 0))
        self.multiscale.setChecked(bool(params.multiscale))
        self._decode_exact = {}
        for spin, value in ((self.decode_timestep, params.decode_timestep),
                            (self.decode_noise_scale, params.decode_noise_scale)):
            spin.setValue(value)
            self._decode_exact[spin] = value
        uses = rules.uses_decode_timestep
        for spin in (self.decode_timestep, self.decode_noise_scale):
            spin.setEnabled(uses)
            spin.setToolTip("Noise added to the latent before the VAE decode, and the decoder's "
                            "timestep (LTX-Video 0.9.1+; 0.05 and 0.025 by default)" if uses
                            else f"{rules.title} does not use it")

    def decode_value(self, spin) -> float:
        """The spin's value, or the exact value a fill gave it while it still shows that
        value rounded to its decimals (a restored run must not change by rounding)."""
        exact = self._decode_exact.get(spin)
        shown = 0.5 * 10 ** -spin.decimals() + 1e-9  # half the last digit, and float noise
        if exact is not None and abs(spin.value() - exact) <= shown:
            return exact
        return spin.value()

    def summary_text(self) -> str:
        """The folded line: multi-scale when off (where it applies), offload, tiling, decode."""
        offload = self.offload.currentData()
        parts = ["multi-scale off"] if (self._multiscale_applies()
                                        and not self.multiscale.isChecked()) else []
        parts += [f"offload {({None: 'automatic', 'none': 'off'}).get(offload, offload)}",
                  f"tiling {self.vae_tiling.currentText().lower()}"]
        if self.decode_timestep.isEnabled():
            parts.append(f"decode {self.decode_timestep.value():g} / "
                         f"{self.decode_noise_scale.value():g}")
        return " · ".join(parts)
