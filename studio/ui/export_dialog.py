"""File > Export…: export the selected clips with a preset into a folder.

The dialog shows, before anything runs, what each clip will become: its range (in/out
points, to the frame), the output name (from a pattern, sanitised by ``core.export``'s
rules, with the numbered suffix an existing file would cause), frames, size and duration
(``core.export.plan_export``, worked out on the shared worker pool) and any problem (a missing
source, a clip too short for a training preset, no caption). Export hands the job to the
``ExportQueue``: it runs in the background, after the exports queued before it. The training
presets are ``core.dataset``'s layouts of the same names, written by its one writer; their
captions are the project's saved ones (``sources_for_clips``), not the caption editor's.

Remembered in QSettings: the folder, preset, name pattern, fit, speed and each preset's
CRF. Never remembered: "replace existing files" (off every time).
"""

from __future__ import annotations

import os
import string
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import NamedTuple

from PySide6.QtCore import (
    QSettings,
    Qt,
    QTimer,
    Signal,
    Slot,
)
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from studio.core.cancel import CancelToken
from studio.core.dataset import LAYOUTS, MANIFEST_NAME
from studio.core.export import (
    ENCODER_SPEEDS,
    PRESETS,
    ExportOptions,
    check_options,
    sanitize_name,
    with_range,
)
from studio.ui.export_queue import ExportQueue
from studio.ui.wheel_guard import ComboBox, DoubleSpinBox, SpinBox
from studio.ui.workers import Workers

PRESET_DESCRIPTIONS = {
    "mp4": "Plays anywhere: browsers, phones, editors. H.264 with the clip's audio as AAC.",
    "webm": "Smaller files for the web: VP9 with Opus audio.",
    "gif": "A looping animation for chats and docs: 15 fps and 480 px unless you choose.",
    "png": "A folder of numbered lossless PNG frames per clip (no audio).",
    "ltx-train": "LTX-Video training set: 8k+1 frames, sides ×32, 24 fps, caption .txt "
                 "beside each clip and a metadata.jsonl manifest. No audio: its trainer "
                 "learns from the picture only.",
    "wan-train": "Wan 2.1 / HunyuanVideo training set: 4k+1 frames, sides ×16, 16 fps, "
                 "caption .txt beside each clip and a metadata.jsonl manifest. No audio: "
                 "their trainers learn from the picture only.",
}
PATTERN_FIELDS = ("name", "in", "out", "preset", "date")
# The file's name as it was (a.mp4, a.webm; a_2.mp4 when taken): the suffix says the format.
# "{name}_{preset}", the default before (a_mp4.mp4), is read as this one when remembered.
DEFAULT_PATTERN = "{name}"
OLD_DEFAULT_PATTERNS = ("{name}_{preset}",)
SETTINGS_GROUP = "export"
_ERROR = "#e0604f"
_NOTE = "palette(mid)"
_PLAN_DELAY_MS = 150  # options settle before the clips are planned again
_QUALITY_PRESETS = ("mp4", "webm")  # CRF and speed apply to these


@dataclass
class ExportSource:
    """One thing to export: a clip (or a generation: ``metadata`` then holds its settings)."""

    path: str
    label: str  # shown in the list
    stem: str  # the {name} field
    in_frame: int | None = None
    out_frame: int | None = None
    frame_count: int | None = None
    caption: str | None = None
    metadata: dict | None = None

    @property
    def first(self) -> int:
        return self.in_frame if self.in_frame is not None else 0

    @property
    def last(self) -> int | None:
        if self.out_frame is not None:
            return self.out_frame
        return self.frame_count - 1 if self.frame_count else None


def sources_for_clips(project, clip_ids: list[int]) -> list[ExportSource]:
    """The project's clips as export sources: their in/out marks and saved captions (never
    a caption editor's unsaved text: an export depends on the project alone)."""
    sources = []
    for clip_id in clip_ids:
        clip = project.clip(clip_id)
        caption = project.current_caption(clip_id)
        sources.append(ExportSource(
            path=clip.path, label=clip.name, stem=Path(clip.path).stem,
            in_frame=clip.in_frame, out_frame=clip.out_frame,
            frame_count=clip.info.frame_count if clip.info is not None else None,
            caption=caption.text if caption is not None and caption.text.strip() else None))
    return sources


def format_name(pattern: str, source: ExportSource, preset: str, date: str) -> str:
    """The output stem of ``source`` for ``pattern``, sanitised (``core.export.sanitize_name``).
    ``ValueError`` naming the problem when the pattern is not valid."""
    if not pattern.strip():
        raise ValueError("the name pattern is empty; e.g. {name} or {name}_{preset}")
    try:
        parsed = list(string.Formatter().parse(pattern))
    except ValueError as err:
        raise ValueError(f"the name pattern is not valid ({err}); write a brace as {{{{ "
                         f"or }}}}") from None
    for _text, field_name, _spec, _conversion in parsed:
        if field_name is None:
            continue
        if field_name not in PATTERN_FIELDS:
            shown = "{" + field_name + "}"
            raise ValueError(f"unknown field {shown} in the name pattern; use "
                             + ", ".join("{" + f + "}" for f in PATTERN_FIELDS))
    last = source.last
    values = {"name": source.stem, "in": source.first,
              "out": last if last is not None else "end", "preset": preset, "date": date}
    try:
        text = pattern.format_map(values)
    except (ValueError, TypeError) as err:
        raise ValueError(f"the name pattern is not valid ({err})") from None
    return sanitize_name(text, fallback="clip")


def folder_problem(text: str) -> tuple[str | None, str | None]:
    """(problem, note) for an export folder typed by a person: a problem stops the export;
    a note only informs (the folder will be created)."""
    text = text.strip()
    if not text:
        return "Choose a folder to export into.", None
    path = Path(text).expanduser()
    if not path.is_absolute():
        return f"{text}: give the full path of a folder.", None
    if path.exists() and not path.is_dir():
        return f"{path} is a file, not a folder.", None
    existing = path
    while not existing.exists():
        if existing.parent == existing:
            break
        existing = existing.parent
    if not existing.is_dir():
        return f"{path} cannot be created: {existing} is a file, not a folder.", None
    try:
        read_only = bool(os.statvfs(existing).f_flag & os.ST_RDONLY)
    except OSError:
        read_only = False
    if read_only:
        return f"{existing}: the folder is on a read-only file system.", None
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"{existing}: permission denied (you cannot write in this folder).", None
    if existing != path:
        return None, f"{path.name} will be created in {existing}."
    return None, None


def predict_outputs(folder: Path, stems: list[str | None], suffixes: list[str],
                    overwrite: bool) -> list[tuple[str | None, bool]]:
    """The names ``core.export`` will publish (first suffix only) and whether each was
    renumbered: the first of ``stem``, ``stem_2``, ... none of whose names (one per
    suffix) exists in ``folder`` or was taken by an earlier stem of the list."""
    taken: set[str] = set()
    names: list[tuple[str | None, bool]] = []
    for stem in stems:
        if stem is None:
            names.append((None, False))
            continue
        n = 1
        while True:
            base = stem if n == 1 else f"{stem}_{n}"
            candidates = [base + s for s in suffixes]
            if overwrite or not (any(c.lower() in taken for c in candidates)
                                 or any(os.path.lexists(folder / c) for c in candidates)):
                break
            n += 1
        taken.update(c.lower() for c in candidates)
        names.append((base + suffixes[0], n > 1))
    return names


# ---------------------------------------------------------------------------------------
# Planning on the shared worker pool


class _Planned(NamedTuple):
    pass_id: int
    row: int
    plan: object  # ExportPlan, or None
    problem: str  # '' when planned


def _plan_rows(pass_id: int, work: list[tuple[int, str, ExportOptions]], cancel: CancelToken):
    """A pool thread (a superqt worker, ``Workers.run``): plan each (row, path, options),
    yielding a ``_Planned`` per row."""
    from studio.core.export import plan_export
    from studio.core.media import MediaError

    for row, path, options in work:
        if cancel.cancelled:
            return
        try:
            plan = plan_export(path, options)
        except (MediaError, ValueError) as err:
            yield _Planned(pass_id, row, None, str(err))
        except Exception as err:  # noqa: BLE001 - a row's message, never a traceback
            yield _Planned(pass_id, row, None, f"cannot be planned ({type(err).__name__}: {err})")
        else:
            yield _Planned(pass_id, row, plan, "")


# ---------------------------------------------------------------------------------------
# The dialog

COLUMNS = ("Clip", "Range", "Output", "Frames", "Size", "Duration", "Status")


class ExportDialog(QDialog):
    """Export ``sources`` (``sources_for_clips``) through ``queue``."""

    export_queued = Signal(object)  # the ExportJob
    plans_ready = Signal()  # every row is planned (or has its problem) for these options

    def __init__(self, sources: list[ExportSource], queue: ExportQueue, parent=None,
                 default_folder: str | os.PathLike | None = None,
                 settings: QSettings | None = None):
        super().__init__(parent)
        self.setObjectName("ExportDialog")
        self.setWindowTitle("Export")
        self.sources = list(sources)
        self.queue = queue
        self._settings = settings
        self._init_plan_state()
        s = self._store()

        self._build_preset_section()
        folder_row = self._build_folder_section(s, default_folder)
        pattern_row = self._build_name_section(s)
        size_row = self._build_size_section(s)
        self._build_quality_section(s)
        self._build_overwrite_check()
        form = self._build_form(folder_row, pattern_row, size_row)
        self._build_clip_table()
        self._build_buttons()

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.summary_label)
        layout.addWidget(self.problem_label)
        layout.addWidget(self.buttons)

        self._restore_preset(s)
        self._connect_option_signals()
        self.resize(820, 640)
        self._on_options_changed()

    # -- construction -------------------------------------------------------------------
    def _init_plan_state(self) -> None:
        """The job, the per-row plans and problems, and the planning pool, cache and timer."""
        self.job = None  # the job queued by Export
        self.plans: list = [None] * len(self.sources)  # ExportPlan per row, when planned
        self.problems: list[str | None] = [None] * len(self.sources)
        self.output_names: list[str | None] = [None] * len(self.sources)
        self._cache: dict = {}  # (path, plan-relevant options) -> (plan, problem)
        self._pass_id = 0
        self._pending = 0  # rows of the current pass still being planned
        self._plan_cancel: CancelToken | None = None
        self._option_problem: str | None = None
        self._folder_problem: str | None = None
        self._name_problem: str | None = None
        self._pool = Workers(self, limit=1)
        self._plan_timer = QTimer(self)
        self._plan_timer.setSingleShot(True)
        self._plan_timer.setInterval(_PLAN_DELAY_MS)
        self._plan_timer.timeout.connect(self.replan)

    def _build_preset_section(self) -> None:
        self.preset_combo = ComboBox(self)
        self.preset_combo.setObjectName("ExportPreset")
        for name, preset in PRESETS.items():
            self.preset_combo.addItem(preset.title, name)
            self.preset_combo.setItemData(self.preset_combo.count() - 1,
                                          PRESET_DESCRIPTIONS[name], Qt.ItemDataRole.ToolTipRole)
        self.preset_description = QLabel(self)
        self.preset_description.setObjectName("ExportPresetDescription")
        self.preset_description.setWordWrap(True)
        self.preset_description.setStyleSheet(f"color: {_NOTE};")

    def _build_folder_section(self, s: QSettings,
                              default_folder: str | os.PathLike | None) -> QHBoxLayout:
        """The folder field, its Choose… button and its message; returns the field's row."""
        folder = s.value("folder") or (os.fspath(default_folder) if default_folder else "")
        self.folder_edit = QLineEdit(str(folder), self)
        self.folder_edit.setObjectName("ExportFolder")
        self.folder_edit.setAccessibleName("Export folder")
        browse = QPushButton("Choose…", self)
        browse.clicked.connect(self._browse)
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.folder_edit, 1)
        folder_row.addWidget(browse)
        self.folder_label = QLabel(self)
        self.folder_label.setObjectName("ExportFolderMessage")
        self.folder_label.setWordWrap(True)
        self.folder_label.hide()
        return folder_row

    def _build_name_section(self, s: QSettings) -> QHBoxLayout:
        """The name pattern, its fields and the name preview; returns the pattern's row."""
        remembered = s.value("pattern") or DEFAULT_PATTERN
        if remembered in OLD_DEFAULT_PATTERNS:
            remembered = DEFAULT_PATTERN
        self.pattern_edit = QLineEdit(remembered, self)
        self.pattern_edit.setObjectName("ExportPattern")
        self.pattern_edit.setAccessibleName("File name pattern")
        self.pattern_edit.setToolTip("Fields: " + ", ".join("{" + f + "}" for f in PATTERN_FIELDS)
                                     + ". {in} and {out} are frame numbers; {date} is today.")
        self.pattern_edit.setPlaceholderText(DEFAULT_PATTERN)
        fields = QLabel(" ".join("{" + f + "}" for f in PATTERN_FIELDS), self)
        fields.setStyleSheet(f"color: {_NOTE};")
        pattern_row = QHBoxLayout()
        pattern_row.addWidget(self.pattern_edit, 1)
        pattern_row.addWidget(fields)
        self.name_preview = QLabel(self)
        self.name_preview.setObjectName("ExportNamePreview")
        self.name_preview.setWordWrap(True)
        self.name_preview.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        return pattern_row

    def _build_size_section(self, s: QSettings) -> QHBoxLayout:
        """Width, height and fit (returned as one row), then the frame-rate spin box."""
        self.width_spin = self._size_spin("ExportWidth", "width")
        self.height_spin = self._size_spin("ExportHeight", "height")
        self.fit_combo = ComboBox(self)
        self.fit_combo.setObjectName("ExportFit")
        self.fit_combo.addItem("Pad (black bars)", "pad")
        self.fit_combo.addItem("Crop (fill)", "crop")
        self.fit_combo.setToolTip("When both width and height are given and the aspect ratio "
                                  "differs: keep the whole picture with bars, or fill and cut "
                                  "the edges")
        index = self.fit_combo.findData(s.value("fit") or "pad")
        self.fit_combo.setCurrentIndex(max(index, 0))
        size_row = QHBoxLayout()
        size_row.addWidget(self.width_spin)
        size_row.addWidget(QLabel("×", self))
        size_row.addWidget(self.height_spin)
        size_row.addWidget(self.fit_combo)
        size_row.addStretch(1)
        self.fps_spin = DoubleSpinBox(self)
        self.fps_spin.setObjectName("ExportFps")
        self.fps_spin.setAccessibleName("Frame rate")
        self.fps_spin.setRange(0, 240)
        self.fps_spin.setDecimals(3)
        self.fps_spin.setSingleStep(1)
        self.fps_spin.setSuffix(" fps")
        self.fps_spin.setMinimumWidth(150)
        self.fps_spin.setToolTip("A constant output frame rate; at the lowest value, the "
                                 "source's own frame times (or the preset's rate)")
        return size_row

    def _build_quality_section(self, s: QSettings) -> None:
        """CRF and encoder speed in ``quality_box``."""
        self.crf_spin = SpinBox(self)
        self.crf_spin.setObjectName("ExportCrf")
        self.crf_spin.setAccessibleName("Quality (CRF)")
        self.crf_spin.setToolTip("Constant quality: lower is better and larger (H.264: 18 is "
                                 "visually lossless; VP9: 32 is good)")
        self.speed_combo = ComboBox(self)
        self.speed_combo.setObjectName("ExportSpeed")
        self.speed_combo.addItems(list(ENCODER_SPEEDS))
        self.speed_combo.setCurrentText(s.value("speed") or "medium")
        self.speed_combo.setToolTip("Encoder speed: slower makes smaller files at the same "
                                    "quality")
        quality_row = QHBoxLayout()
        quality_row.addWidget(QLabel("CRF", self))
        quality_row.addWidget(self.crf_spin)
        quality_row.addSpacing(12)
        quality_row.addWidget(QLabel("Speed", self))
        quality_row.addWidget(self.speed_combo)
        quality_row.addStretch(1)
        self.quality_box = QWidget(self)
        quality_row.setContentsMargins(0, 0, 0, 0)
        self.quality_box.setLayout(quality_row)

    def _build_overwrite_check(self) -> None:
        self.overwrite_check = QCheckBox("Replace existing files with the same name", self)
        self.overwrite_check.setObjectName("ExportOverwrite")
        self.overwrite_check.setToolTip("Off: a number is added instead (walk_2.mp4); "
                                        "nothing is ever replaced unasked")

    def _build_form(self, folder_row: QHBoxLayout, pattern_row: QHBoxLayout,
                    size_row: QHBoxLayout) -> QFormLayout:
        """The options form: one labelled row per section."""
        fps_row = QHBoxLayout()
        fps_row.addWidget(self.fps_spin)
        fps_row.addStretch(1)
        form = QFormLayout()
        form.addRow("Preset", _stacked(self, self.preset_combo, self.preset_description))
        form.addRow("Folder", _stacked(self, folder_row, self.folder_label))
        form.addRow("Name", _stacked(self, pattern_row, self.name_preview))
        form.addRow("Size", size_row)
        form.addRow("Frame rate", fps_row)
        form.addRow("Quality", self.quality_box)
        form.addRow("Existing", self.overwrite_check)
        return form

    def _build_clip_table(self) -> None:
        """The clips table (a row per source, its clip and range filled in) and the summary
        and problem labels under it."""
        self.table = QTableWidget(len(self.sources), len(COLUMNS), self)
        self.table.setObjectName("ExportClips")
        self.table.setAccessibleName("Clips to export")
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        for column in range(len(COLUMNS) - 1):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(len(COLUMNS) - 1, QHeaderView.ResizeMode.Stretch)
        for row, source in enumerate(self.sources):
            self._set_cell(row, 0, source.label, source.path)
            self._set_cell(row, 1, self._range_text(source))
        self.summary_label = QLabel(self)
        self.summary_label.setObjectName("ExportSummary")
        self.summary_label.setWordWrap(True)
        self.problem_label = QLabel(self)
        self.problem_label.setObjectName("ExportProblems")
        self.problem_label.setAccessibleName("Export problems")
        self.problem_label.setWordWrap(True)
        self.problem_label.setStyleSheet(f"color: {_ERROR};")
        self.problem_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.problem_label.hide()

    def _build_buttons(self) -> None:
        self.buttons = QDialogButtonBox(self)
        self.export_button = self.buttons.addButton("Export",
                                                    QDialogButtonBox.ButtonRole.AcceptRole)
        self.export_button.setObjectName("ExportButton")
        self.export_button.setDefault(True)
        self.export_button.setEnabled(False)
        self.close_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Close)
        self.export_button.clicked.connect(self.start_export)
        self.close_button.clicked.connect(self.reject)

    def _restore_preset(self, s: QSettings) -> None:
        """Select the remembered preset (mp4 if none) and apply it before any signal is wired."""
        preset = s.value("preset")
        index = self.preset_combo.findData(preset if preset in PRESETS else "mp4")
        self.preset_combo.setCurrentIndex(index)
        self._apply_preset()

    def _connect_option_signals(self) -> None:
        """Option changes replan the rows; folder, pattern and overwrite changes rename them."""
        self.preset_combo.currentIndexChanged.connect(self._on_preset_changed)
        for signal in (self.width_spin.valueChanged, self.height_spin.valueChanged,
                       self.fit_combo.currentIndexChanged, self.fps_spin.valueChanged,
                       self.crf_spin.valueChanged, self.speed_combo.currentIndexChanged):
            signal.connect(self._on_options_changed)
        self.folder_edit.textChanged.connect(self._on_names_changed)
        self.pattern_edit.textChanged.connect(self._on_names_changed)
        self.overwrite_check.toggled.connect(self._on_names_changed)

    # -- widgets ------------------------------------------------------------------------
    def _size_spin(self, name: str, what: str) -> QSpinBox:
        spin = SpinBox(self)
        spin.setObjectName(name)
        spin.setAccessibleName(f"Output {what}")
        spin.setRange(0, 16384)
        spin.setSingleStep(2)
        spin.setSpecialValueText("auto")
        spin.setSuffix(" px")
        spin.setToolTip(f"Output {what}; auto keeps the source's (or follows the other side, "
                        "keeping the aspect ratio)")
        return spin

    def _set_cell(self, row: int, column: int, text: str, tooltip: str | None = None,
                  colour: str | None = None) -> None:
        item = self.table.item(row, column)
        if item is None:
            item = QTableWidgetItem()
            self.table.setItem(row, column, item)
        item.setText(text)
        item.setToolTip(tooltip or text)
        item.setForeground(QColor(colour) if colour else self.palette().text())

    @staticmethod
    def _range_text(source: ExportSource) -> str:
        last = source.last
        if source.in_frame is None and source.out_frame is None:
            return f"whole (0–{last})" if last is not None else "whole"
        return f"{source.first}–{last if last is not None else 'end'}"

    def _store(self) -> QSettings:
        if self._settings is None:
            from studio.settings import ui_settings_path

            self._settings = QSettings(str(ui_settings_path()), QSettings.Format.IniFormat)
        return _Group(self._settings)

    @Slot()
    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export into", self.folder_edit.text())
        if folder:
            self.folder_edit.setText(folder)

    # -- options ------------------------------------------------------------------------
    @property
    def preset_name(self) -> str:
        return self.preset_combo.currentData()

    def set_preset(self, name: str) -> None:
        self.preset_combo.setCurrentIndex(self.preset_combo.findData(name))

    def _apply_preset(self) -> None:
        """The widgets that depend on the preset: description, CRF range, fps wording."""
        preset = PRESETS[self.preset_name]
        self.preset_description.setText(PRESET_DESCRIPTIONS[preset.name])
        quality = preset.name in _QUALITY_PRESETS
        self.quality_box.setEnabled(quality)
        self.quality_box.setToolTip("" if quality else "CRF and speed apply to MP4 and WebM")
        self.crf_spin.blockSignals(True)
        self.crf_spin.setRange(0, 51 if preset.video_codec == "libx264" else 63)
        default = preset.default_crf if preset.default_crf is not None else 18
        self.crf_spin.setValue(int(_Group(self._settings).value(f"crf_{preset.name}")
                                   or default))
        self.crf_spin.blockSignals(False)
        self.fps_spin.setSpecialValueText(
            f"{preset.default_fps:g} fps (preset)" if preset.default_fps else "source")
        self.width_spin.setSingleStep(max(2, preset.size_multiple))
        self.height_spin.setSingleStep(max(2, preset.size_multiple))
        train = preset.kind == "train"
        self.table.setColumnHidden(len(COLUMNS) - 1, False)
        if train:
            self.table.setHorizontalHeaderItem(len(COLUMNS) - 1, QTableWidgetItem("Caption / status"))
        else:
            self.table.setHorizontalHeaderItem(len(COLUMNS) - 1, QTableWidgetItem("Status"))

    @Slot()
    def _on_preset_changed(self) -> None:
        self._apply_preset()
        self._on_options_changed()

    def base_options(self) -> ExportOptions:
        """The options every clip shares (ranges, names and captions come per clip)."""
        preset = PRESETS[self.preset_name]
        quality = preset.name in _QUALITY_PRESETS
        return ExportOptions(
            preset=preset.name,
            width=self.width_spin.value() or None,
            height=self.height_spin.value() or None,
            fit=self.fit_combo.currentData(),
            fps=self.fps_spin.value() or None,
            crf=self.crf_spin.value() if quality else None,
            speed=self.speed_combo.currentText() if quality else "medium",
            overwrite=self.overwrite_check.isChecked())

    def item_options(self, row: int, base: ExportOptions | None = None,
                     name: str | None = None) -> ExportOptions:
        source = self.sources[row]
        base = base or self.base_options()
        options = with_range(base, source.in_frame, source.out_frame)
        train = PRESETS[base.preset].kind == "train"
        return replace(options, name=name, caption=source.caption if train else None,
                       metadata=source.metadata)

    @Slot()
    def _on_options_changed(self, *_args) -> None:
        """Something that changes the plans: check, then plan again after a short pause."""
        both = bool(self.width_spin.value() and self.height_spin.value())
        self.fit_combo.setEnabled(both)
        try:
            check_options(self.base_options(), caption_required=False)
            self._option_problem = None
        except ValueError as err:
            self._option_problem = str(err)[:1].upper() + str(err)[1:] + "."
        self._pass_id += 1  # results of an earlier pass are stale now
        if self._plan_cancel is not None:
            self._plan_cancel.cancel()
        self._pending = len(self.sources)
        for row in range(len(self.sources)):
            self.plans[row] = None
            self.problems[row] = None
            for column in (3, 4, 5):
                self._set_cell(row, column, "…")
            self._set_cell(row, 6, "planning…", colour=_NOTE)
        self._update_names()
        self._update_state()
        self._plan_timer.start()

    @Slot()
    def _on_names_changed(self, *_args) -> None:
        self._update_names()
        self._update_state()

    # -- planning -----------------------------------------------------------------------
    @Slot()
    def replan(self) -> None:
        """Plan every row for the current options (cached rows at once, others on the pool)."""
        pass_id = self._pass_id
        if self._option_problem is not None:
            for row in range(len(self.sources)):
                self._show_row(row, None, "see the options above")
            self._pending = 0
            self._update_state()
            self.plans_ready.emit()
            return
        base = self.base_options()
        preset = PRESETS[base.preset]
        work = []
        for row, source in enumerate(self.sources):
            if preset.kind == "train" and not source.caption:
                self._finish_row(pass_id, row, None,
                                 "no caption yet: caption this clip first (a training set "
                                 "needs one)")
                continue
            options = self.item_options(row, base)
            cached = self._cache.get(self._cache_key(source, options))
            if cached is not None:
                self._finish_row(pass_id, row, *cached)
                continue
            work.append((row, source.path, options))
        if not work:
            self._update_state()
            if self._pending == 0:
                self.plans_ready.emit()
            return
        self._plan_cancel = CancelToken()
        self._pool.run(_plan_rows, pass_id, work, self._plan_cancel, yielded=self._on_planned)

    @staticmethod
    def _cache_key(source: ExportSource, options: ExportOptions):
        return (source.path, replace(options, name=None, overwrite=False, metadata=None))

    @Slot(object)
    def _on_planned(self, planned: _Planned) -> None:
        pass_id, row, plan, problem = planned
        if pass_id != self._pass_id:
            return
        source = self.sources[row]
        self._cache[self._cache_key(source, self.item_options(row))] = (plan, problem or None)
        self._finish_row(pass_id, row, plan, problem or None)
        self._update_state()
        if self._pending == 0:
            self.plans_ready.emit()

    def _finish_row(self, pass_id: int, row: int, plan, problem: str | None) -> None:
        if pass_id != self._pass_id:
            return
        if self.plans[row] is None and self.problems[row] is None:
            self._pending -= 1
        self.plans[row] = plan
        self.problems[row] = None if plan is not None else (problem or "cannot be exported")
        self._show_row(row, plan, self.problems[row])

    def _show_row(self, row: int, plan, problem: str | None) -> None:
        if plan is None:
            for column in (3, 4, 5):
                self._set_cell(row, column, "—")
            self._set_cell(row, 6, _short_problem(self.sources[row], problem or ""), problem,
                           colour=_ERROR)
            return
        self._set_cell(row, 3, f"{plan.frames} @ {float(plan.rate):.4g} fps",
                       f"frames {plan.first}–{plan.last} of the source"
                       + ("" if plan.constant_rate else
                          ", each shown as long as in the source (average rate)"))
        size = f"{plan.width}×{plan.height}"
        if (plan.width, plan.height) != (plan.source_width, plan.source_height):
            size += f" ({plan.fit})" if plan.fit in ("pad", "crop") else ""
        self._set_cell(row, 4, size, f"from {plan.source_width}×{plan.source_height}")
        self._set_cell(row, 5, f"{plan.seconds:.2f} s")
        source = self.sources[row]
        if plan.preset.kind == "train":
            self._set_cell(row, 6, f"“{source.caption}”", source.caption)
        else:
            self._set_cell(row, 6, "ready")

    # -- names --------------------------------------------------------------------------
    def _update_names(self) -> None:
        folder_text = self.folder_edit.text()
        self._folder_problem, note = folder_problem(folder_text)
        if self._folder_problem:
            self.folder_label.setText(self._folder_problem)
            self.folder_label.setStyleSheet(f"color: {_ERROR};")
            self.folder_label.show()
        elif note:
            self.folder_label.setText(note)
            self.folder_label.setStyleSheet(f"color: {_NOTE};")
            self.folder_label.show()
        else:
            self.folder_label.hide()

        preset = PRESETS[self.preset_name]
        date = time.strftime("%Y-%m-%d")
        stems: list[str | None] = []
        self._name_problem = None
        for source in self.sources:
            try:
                stems.append(format_name(self.pattern_edit.text(), source, preset.name, date))
            except ValueError as err:
                self._name_problem = str(err)[:1].upper() + str(err)[1:] + "."
                stems = [None] * len(self.sources)
                break
        training = LAYOUTS.get(preset.name)  # the training presets: core.dataset's layouts
        suffixes = [preset.suffix]
        if training is not None:
            suffixes += training.companion_suffixes
        if self._folder_problem is None and self._name_problem is None:
            predicted = predict_outputs(Path(folder_text.strip()).expanduser(), stems,
                                        suffixes, self.overwrite_check.isChecked())
        else:
            predicted = [(None if s is None else s + preset.suffix, False) for s in stems]
        self.output_names = [name for name, _ in predicted]
        self.stems = stems
        for row, (name, renumbered) in enumerate(predicted):
            shown = (name or "—") + ("/" if preset.kind == "png" and name else "")
            tip = shown
            if renumbered:
                tip = f"{shown}: numbered, a file of that name exists"
            self._set_cell(row, 2, shown, tip, colour=_NOTE if renumbered else None)
        if self._name_problem:
            self.name_preview.setText(self._name_problem)
            self.name_preview.setStyleSheet(f"color: {_ERROR};")
            return
        first, renumbered = predicted[0] if predicted else (None, False)
        text = f"→ {first}" + ("/" if preset.kind == "png" else "")
        if renumbered:
            text += "  (numbered: the name is taken; tick Replace to overwrite)"
        elif self.overwrite_check.isChecked() and first and self._folder_problem is None \
                and os.path.lexists(Path(folder_text.strip()).expanduser()
                                    / (stems[0] + preset.suffix)):
            text += "  (replaces the existing file)"
        if len(predicted) > 1:
            text += f"  and {len(predicted) - 1} more"
        if training is not None and training.manifest:
            text += f"  · plus {MANIFEST_NAME}"
        self.name_preview.setText(text)
        self.name_preview.setStyleSheet("")

    # -- state --------------------------------------------------------------------------
    @property
    def planning(self) -> bool:
        return self._pending > 0 or self._plan_timer.isActive()

    def ready_rows(self) -> list[int]:
        return [row for row, plan in enumerate(self.plans) if plan is not None]

    def _update_state(self) -> None:
        ready = self.ready_rows()
        problems = []
        for message in (self._option_problem, self._folder_problem, self._name_problem):
            if message:
                problems.append(message)
        bad = [(self.sources[r].label, _short_problem(self.sources[r], p))
               for r, p in enumerate(self.problems) if p]
        if self.planning:
            self.summary_label.setText(f"Checking {len(self.sources)} "
                                       f"{'clip' if len(self.sources) == 1 else 'clips'}…")
        else:
            frames = sum(self.plans[r].frames for r in ready)
            seconds = sum(self.plans[r].seconds for r in ready)
            sizes = sorted({f"{self.plans[r].width}×{self.plans[r].height}" for r in ready})
            n = len(self.sources)
            text = (f"{len(ready)} of {n} clips" if len(ready) != n else
                    f"{n} {'clip' if n == 1 else 'clips'}")
            text += f" · {frames} frames · {seconds:.2f} s"
            if sizes:
                text += " · " + ", ".join(sizes[:3]) + (" …" if len(sizes) > 3 else "")
            self.summary_label.setText(text)
            if bad and not self._option_problem:
                skipped = ("it cannot be exported" if len(bad) == len(self.sources) else
                           f"{len(bad)} {'clip' if len(bad) == 1 else 'clips'} will be skipped")
                problems.append(f"{skipped}: " + "; ".join(f"{label}: {p}"
                                                            for label, p in bad[:3])
                                + (" …" if len(bad) > 3 else ""))
        self.problem_label.setText("\n".join(problems))
        self.problem_label.setVisible(bool(problems))
        can = (not self.planning and bool(ready) and not self._option_problem
               and not self._folder_problem and not self._name_problem)
        self.export_button.setEnabled(can)
        n, total = len(ready), len(self.sources)
        self.export_button.setText("Export" if total == 1 or self.planning else
                                   f"Export {n} Clips" if n == total else
                                   f"Export {n} of {total} Clips")

    # -- running ------------------------------------------------------------------------
    @Slot()
    def start_export(self):
        """Queue the export of the clips that can be exported; returns the job (or None)."""
        self._update_names()
        self._update_state()
        if not self.export_button.isEnabled():
            return None
        base = self.base_options()
        rows = self.ready_rows()
        items = [(self.sources[r].path, self.item_options(r, base, name=self.stems[r]))
                 for r in rows]
        labels = [self.sources[r].label for r in rows]
        total = sum(self.plans[r].frames for r in rows)
        folder = os.fspath(Path(self.folder_edit.text().strip()).expanduser())
        job = self.queue.submit(items, folder, base, labels=labels, total_frames=total)
        self.job = job
        self._save_settings()
        self.export_queued.emit(job)
        self.accept()
        return job

    def _save_settings(self) -> None:
        s = _Group(self._settings)
        s.setValue("folder", self.folder_edit.text().strip())
        s.setValue("preset", self.preset_name)
        s.setValue("pattern", self.pattern_edit.text())
        s.setValue("fit", self.fit_combo.currentData())
        s.setValue("speed", self.speed_combo.currentText())
        if self.preset_name in _QUALITY_PRESETS:
            s.setValue(f"crf_{self.preset_name}", self.crf_spin.value())
        self._settings.sync()

    def _stop_planning(self) -> None:
        self._plan_timer.stop()
        self._pass_id += 1  # whatever is still on its way is stale
        if self._plan_cancel is not None:
            self._plan_cancel.cancel()

    def shutdown(self) -> None:
        """Stop planning and wait for the planning worker (before the dialog is deleted)."""
        self._stop_planning()
        self._pool.waitForDone(10000)

    def done(self, result: int) -> None:
        self._stop_planning()  # no wait: a clip being planned ends on its own
        super().done(result)


def _stacked(parent, *parts) -> QWidget:
    """Widgets and layouts one above the other, as one form field."""
    box = QWidget(parent)
    layout = QVBoxLayout(box)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(3)
    for part in parts:
        if isinstance(part, QWidget):
            layout.addWidget(part)
        else:
            layout.addLayout(part)
    return box


def _short_problem(source: ExportSource, problem: str) -> str:
    """A problem without the source's own path in front (its row already names it)."""
    for prefix in (f"{source.path}: ", f"{os.path.abspath(source.path)}: "):
        if problem.startswith(prefix):
            return problem[len(prefix):]
    return problem


class _Group:
    """``QSettings`` values under ``export/`` (QSettings groups are stateful; this is not)."""

    def __init__(self, settings: QSettings):
        self._s = settings

    def value(self, key: str):
        return self._s.value(f"{SETTINGS_GROUP}/{key}")

    def setValue(self, key: str, value) -> None:
        self._s.setValue(f"{SETTINGS_GROUP}/{key}", value)
