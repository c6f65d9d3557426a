"""The caption panel: the selected clip's caption, its state, how it was made and its history;
the captioning controls; the live view of a running caption (streamed text, the frames the
model saw).

Captions are written by the model manager's worker thread and arrive here as signals, always
connected to bound slots of this panel (DESIGN.md, threading rules). A person's edit is saved
(on focus-out, Ctrl+S, before another clip is shown and on close) as a new caption version
through an undoable command; a model caption is saved as a version with its model, prompt and
settings. Earlier versions stay in the history and can be restored.

``studio.inference.captioner`` (prompt presets, settings) pulls in numpy and PyAV, which the
GUI does not load at start-up: a pool thread imports it after the window is up.

Until it first shows a clip (or captions, or its settings are asked for) the panel shows a
title and a hint; its body (studio.ui.caption_widgets and the controls) is built then, so
start-up does not load their Qt classes for a panel that has nothing to show yet.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from PySide6.QtCore import (
    Qt,
    QTimer,
    Signal,
    Slot,
)
from PySide6.QtGui import QAction, QFont, QKeySequence, QUndoStack
from PySide6.QtWidgets import QLabel, QListWidgetItem, QVBoxLayout, QWidget

from studio.core.library import Caption, Clip
from studio.inference import registry
from studio.inference.caption_record import caption_params
from studio.ui.caption_frames import FrameThumb, frame_thumbs, frames_span
from studio.ui.edits import SetCaptionCommand
from studio.ui.first_paint import after_first_paint
from studio.ui.workers import Workers

if TYPE_CHECKING:
    from studio.ui.project_model import ProjectModel

STATE_COLORS = {"none": "#7f7f86", "captioned": "#4fb26c", "edited": "#5f96e8",
                "failed": "#e0604f", "queued": "#b0965f", "captioning": "#e0ac3a"}
PRESET_TITLES = {"detailed": "Detailed description", "short": "Short caption",
                 "training": "Training caption (subject, action, camera, style)",
                 "custom": "Custom prompt"}
FRAMES_KEPT = 64  # clips whose frame strips are kept this session (thumbnails only)
LOCAL_FOLDER = "\0folder"  # the model combo's "Local folder…" entry
API_LOAD_FALLBACK_MS = 1000  # load the captioner module after this if no paint came first
DRAFT_DELAY_MS = 800  # a caption being typed is kept this long after the last key


def format_eta(seconds: float | None) -> str:
    """"12 s", "1:05", "1:02:03"; "" when unknown."""
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return ""
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    m, s = divmod(seconds, 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def caption_state(caption: Caption | None) -> str:
    """none / captioned / edited. A caption a person emptied counts as none."""
    if caption is None or not caption.text.strip():
        return "none"
    return "edited" if caption.source == "edit" else "captioned"


def model_title(model_id: str | None) -> str:
    if not model_id:
        return "unknown model"
    spec = registry.get(model_id)
    if spec is not None:
        return spec.title
    return Path(model_id).name or model_id


def describe_caption(caption: Caption) -> str:
    """How a caption version was made, in one line."""
    when = time.strftime("%b %d %H:%M", time.localtime(caption.created_at))
    if caption.source == "edit":
        return f"Edited by hand · {when}"
    p = caption.params or {}
    parts = [model_title(caption.model)]
    preset = p.get("preset")
    if preset:
        parts.append(PRESET_TITLES.get(preset, preset).split(" (")[0])
    if p.get("do_sample"):
        parts.append(f"sampled (temperature {p.get('temperature', '?')})")
    elif "do_sample" in p:
        parts.append("greedy")
    if p.get("max_new_tokens"):
        parts.append(f"≤{p['max_new_tokens']} tokens")
    times = p.get("frame_times") or []
    if times:
        parts.append(frames_span(times))
    if p.get("seconds"):
        parts.append(f"{p['seconds']:.1f} s")
    parts.append(when)
    return " · ".join(parts)


# ---------------------------------------------------------------------------------------
# Loading the captioner API off the GUI thread


def _import_captioner():
    """A pool thread (``Workers.run``): the studio.inference.captioner module."""
    from studio.inference import captioner

    return captioner


# ---------------------------------------------------------------------------------------


class CaptionTarget(NamedTuple):
    clip_id: int
    path: str
    name: str
    in_frame: int | None
    out_frame: int | None


class CaptionRun:
    """What the panel knows of one submitted job, updated as the job reports. (A plain class:
    a dataclass is made at import, which start-up pays for.)"""

    def __init__(self, job_id: int, targets: list[CaptionTarget], model: str = "",
                 max_new_tokens: int = 0, single: bool = False) -> None:
        self.job_id = job_id
        self.single = single  # a CaptionJob (its result is the caption), not a batch
        self.targets = targets
        self.current = 0  # index of the target being captioned
        self.stream = ""  # text streamed so far for the current target
        self.stored = 0
        self.failed: list[tuple[str, str]] = []  # (name, message)
        self.frames: list = []  # of the current target
        self.model = model
        self.max_new_tokens = max_new_tokens
        self.started = time.monotonic()  # for the time left, until the manager says
        self.item_started = self.started  # the current target's start
        self.handle = None  # the job's JobHandle (of the model manager or the cluster)

    @property
    def target(self) -> CaptionTarget | None:
        return self.targets[self.current] if self.current < len(self.targets) else None


# The widgets CaptionPanel._build_body makes (the body is built on first use): the panel
# keeps each section's widgets (CaptionTextBox.WIDGETS, …) as its own attributes.
_BODY_WIDGETS = frozenset({
    "title_label", "state_label", "meta_label", "demo_label", "editor", "count_label",
    "save_label", "error_label", "frames_label", "frame_strip", "history_list",
    "restore_button", "history_empty", "history_section", "model_combo", "preset_combo",
    "prompt_edit", "max_tokens_spin", "sample_check", "temperature_spin", "settings_section",
    "caption_button", "caption_all_button", "progress_bar", "cancel_button", "progress_row",
    "live_label",
    # the sections themselves (studio.ui.caption_widgets), whose widgets are the ones above
    "caption_box", "history_box", "settings_box", "buttons_box",
})


def _make_title_font(label: QLabel) -> None:
    font = label.font()
    font.setPointSizeF(font.pointSizeF() * 1.15)
    font.setWeight(QFont.Weight.DemiBold)
    label.setFont(font)


class CaptionPanel(QWidget):
    """Caption dock contents. Give it the model manager with ``set_manager``; tell it the
    shown clip with ``show_clip`` and where the bin's clips come from with
    ``set_clip_sources``."""

    status_message = Signal(str)
    frame_clicked = Signal(int, int)  # clip id, frame index: a frame of the strip was clicked
    busy_changed = Signal(bool)

    def __init__(self, model: ProjectModel, parent=None, undo_stack: QUndoStack | None = None):
        super().__init__(parent)
        self.setObjectName("CaptionPanel")
        self.project_model = model  # every write (versions, drafts, run states) goes here
        self.project = model.project  # reads
        model.caption_changed.connect(self._on_caption_changed)
        self.undo_stack = undo_stack if undo_stack is not None else QUndoStack(self)
        self.manager = None
        self.api = None  # studio.inference.captioner, once loaded
        # The bin's selection (Caption selected) and every listed clip (Caption all)
        self._selected_clips = model.selected_clips
        self._all_clips = model.clips
        model.selection_changed.connect(self.selection_changed)
        self.clip: Clip | None = None
        self._baseline = ""  # the stored text the editor started from
        self._loading = False
        self._runs: dict[int, CaptionRun] = {}
        self._failed: dict[int, str] = {}  # clip id -> why its last captioning failed
        # Thumbnails of the frames the model saw, for the clips captioned most recently.
        self._frames_by_clip: OrderedDict[int, list[FrameThumb]] = OrderedDict()
        self._busy = False
        self._model_folder: str | None = None
        self._pool = Workers(self, limit=1)

        self._body_built = False
        self._cluster_parts = None  # see set_cluster
        self._pending_settings: dict | None = None  # restore_settings before the body exists
        self._build_actions()
        self._build_empty()
        # The captioner module loads in a pool thread once the window has been painted (its
        # import would take the GIL from the first paint), or after a while if the panel is
        # never shown.
        self._api_requested = False
        after_first_paint(self, self._load_api, API_LOAD_FALLBACK_MS)

    # -- construction -------------------------------------------------------------------
    def _build_actions(self) -> None:
        """The panel's actions, which the window's menus and toolbar show from the start."""
        self.caption_action = QAction("&Caption Selected Clips", self)
        self.caption_action.setShortcut(QKeySequence("Ctrl+Return"))
        self.caption_action.setToolTip("Caption the clips selected in the bin (Ctrl+Enter)")
        self.caption_action.triggered.connect(self.caption_selected)
        self.caption_all_action = QAction("Caption All &Uncaptioned", self)
        self.caption_all_action.setShortcut(QKeySequence("Ctrl+Shift+Return"))
        self.caption_all_action.setToolTip("Caption every clip in the bin that has no caption yet")
        self.caption_all_action.triggered.connect(self.caption_uncaptioned)
        self.cancel_action = QAction("Ca&ncel Captioning", self)
        self.cancel_action.setEnabled(False)
        self.cancel_action.triggered.connect(self.cancel)
        self.save_action = QAction("&Save Caption", self)
        self.save_action.setShortcut(QKeySequence.StandardKey.Save)
        self.save_action.triggered.connect(self.commit_edit)
        self.revert_action = QAction("&Revert Caption Edit", self)
        self.revert_action.triggered.connect(self.revert_edit)


    def _build_empty(self) -> None:
        """What the panel shows until it first shows a clip: a title and a hint. The body
        (editor, history, settings, buttons) is built on first use; its widgets' Qt classes
        then load, not at start-up."""
        self._empty = QWidget(self)
        self._empty.setObjectName("CaptionPanelEmpty")
        title = QLabel("No clip selected", self._empty)
        title.setObjectName("CaptionClipName")
        _make_title_font(title)
        hint = QLabel("Select a clip in the bin to see and edit its caption.\n\nTo caption "
                      "every clip that has none: Caption › Caption All Uncaptioned "
                      "(Ctrl+Shift+Enter).", self._empty)
        hint.setWordWrap(True)
        hint.setStyleSheet("color: palette(mid);")
        layout = QVBoxLayout(self._empty)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(5)
        layout.addWidget(title)
        layout.addWidget(hint)
        layout.addStretch(1)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self._empty)

    @property
    def body_built(self) -> bool:
        """Whether the panel's body has been built (on first use; see ``_build_empty``)."""
        return self._body_built

    def __getattr__(self, name: str):
        # Only for names not found the usual way: a body widget read before the body exists
        # builds it, so every method may use the widgets as if they had always been there.
        if name in _BODY_WIDGETS and not self.__dict__.get("_body_built", True):
            self._build_body()
            return getattr(self, name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def _build_body(self) -> None:
        """The body, from the sections of studio.ui.caption_widgets: the caption text, the
        history and the settings (both folding), and the buttons. The panel reads each
        section's widgets as its own attributes (``_BODY_WIDGETS``)."""
        from studio.ui.caption_widgets import (
            CaptionButtons,
            CaptionSettingsBox,
            CaptionTextBox,
            HistoryBox,
            Section,
        )

        self._body_built = True
        self._empty.hide()
        self.layout().removeWidget(self._empty)
        self._empty.deleteLater()
        self.caption_box = CaptionTextBox(self)
        self.history_box = HistoryBox(self)
        self.settings_box = CaptionSettingsBox(LOCAL_FOLDER, self)
        self.buttons_box = CaptionButtons(self)
        if self._cluster_parts is not None:
            self._add_run_on()
        for section in (self.caption_box, self.history_box, self.settings_box,
                        self.buttons_box):
            for name in section.WIDGETS:
                setattr(self, name, getattr(section, name))
        _make_title_font(self.title_label)
        self.history_section = Section("History", self.history_box, expanded=False, parent=self)
        self.settings_section = Section("Settings", self.settings_box, expanded=True,
                                        parent=self)
        self.caption_button.setToolTip(self.caption_action.toolTip())
        self.caption_all_button.setToolTip(self.caption_all_action.toolTip())
        self._connect_body()
        self._lay_out_body()
        if self.api is not None:
            self._fill_presets()
        if self._pending_settings is not None:
            self._apply_settings(self._pending_settings)
            self._pending_settings = None
        self._update_settings_summary()
        self._update_actions()
        self.selection_changed()
        self._refresh()

    def _connect_body(self) -> None:
        """What the sections say goes to the panel's slots; the draft timer; the look for
        models that are not here."""
        self.caption_box.text_changed.connect(self._on_text_changed)
        self.caption_box.focus_lost.connect(self._on_editor_focus_lost)
        self.caption_box.frame_clicked.connect(self._on_frame_clicked)
        self.history_box.item_double_clicked.connect(self._on_history_double_clicked)
        self.history_box.restore_clicked.connect(self.restore_selected_version)
        self.settings_box.model_activated.connect(self._on_model_activated)
        self.settings_box.preset_changed.connect(self._on_preset_changed)
        self.settings_box.prompt_edited.connect(self._on_prompt_edited)
        self.settings_box.changed.connect(self._update_settings_summary)
        self.buttons_box.caption_clicked.connect(self.caption_action.trigger)
        self.buttons_box.caption_all_clicked.connect(self.caption_all_action.trigger)
        self.buttons_box.cancel_clicked.connect(self.cancel)
        # What is typed is kept in the project a moment after typing stops (a draft, not a
        # version), so a crash or a killed process loses none of it.
        self._draft_timer = QTimer(self)
        self._draft_timer.setSingleShot(True)
        self._draft_timer.setInterval(DRAFT_DELAY_MS)
        self._draft_timer.timeout.connect(self._keep_draft)
        self._draft_clip: int | None = None  # the clip whose draft the project keeps
        from studio.ui.model_availability import model_availability

        self._availability = model_availability()  # says which models are not here
        self._availability.default_moved.connect(self.status_message)  # and say so
        self._availability.keep_marked(self.model_combo)
        if self.api is not None:  # else once it is: the scan waits for the first paint too
            self._availability.refresh()

    def _lay_out_body(self) -> None:
        """The caption, history and settings in a scroll area: a short dock (a small screen,
        docks stacked) scrolls instead of forcing the whole window taller. Below it, always
        in view, the buttons and a running job's progress."""
        from PySide6.QtWidgets import QFrame, QScrollArea

        from studio.ui.caption_widgets import rule

        inner = QWidget(self)
        inner.setObjectName("CaptionPanelContents")
        scroll = QScrollArea(self)
        scroll.setAccessibleName("Caption panel")
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(inner)
        outer = self.layout()
        outer.addWidget(scroll)
        layout = QVBoxLayout(inner)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(5)
        layout.addWidget(self.caption_box, 3)
        layout.addWidget(self.history_section)
        layout.addWidget(rule(self))
        layout.addWidget(self.settings_section)
        layout.addStretch(0)
        outer.addWidget(self.buttons_box)
        # Shown now, not when the layout gets to it: a job's progress row (which a submit
        # shows straight away) is visible as soon as the panel is, as it was when it sat in
        # the panel itself.
        self.buttons_box.show()

    # -- wiring -------------------------------------------------------------------------
    def set_manager(self, manager) -> None:
        """Connect to a ``studio.ui.model_manager.ModelManager`` (which lives in its own
        thread): every signal goes to a bound slot of this panel."""
        self.manager = manager
        manager.busy_changed.connect(self.on_busy_changed)  # each job: its handle (_follow)
        self._update_actions()

    def set_cluster(self, cluster_parts) -> None:
        """Where caption jobs run: ``cluster_parts()`` gives the window's
        (``run_on.RunOnChoice``, ``cluster_manager.ClusterManager``), asked for when the
        panel's settings are built (after the first paint)."""
        self._cluster_parts = cluster_parts
        if self._body_built:
            self._add_run_on()

    def _add_run_on(self) -> None:
        from studio.ui.run_on import RunOnCombo

        choice, _cluster = self._cluster_parts()
        self.run_on_combo = RunOnCombo(choice, self.settings_box)
        self.settings_box.add_run_on(self.run_on_combo)

    def _runner(self):
        from studio.ui.run_on import chosen_runner

        return chosen_runner(self._cluster_parts, self.manager)

    def _on_cluster(self) -> bool:
        return self._cluster_parts is not None and self._cluster_parts()[0].on_cluster

    def _follow(self, handle) -> None:
        """The signals of a caption job this panel submitted (its JobHandle, GUI thread)."""
        handle.started.connect(self.on_job_started)
        handle.progress.connect(self.on_progress)
        handle.item_started.connect(self.on_item_started)
        handle.text.connect(self.on_text)
        handle.frames.connect(self.on_frames)
        handle.item_finished.connect(self.on_item_finished)
        handle.item_failed.connect(self.on_item_failed)
        handle.finished.connect(self.on_job_finished)
        handle.failed.connect(self.on_job_failed)
        handle.cancelled.connect(self.on_job_cancelled)

    @Slot()
    def selection_changed(self, *_args) -> None:
        """The bin's selection changed: the Caption button says how many clips it takes."""
        selected = self._selected_clips()
        self._update_actions(selected)
        if not self._body_built:
            return  # the body asks when it is built
        count = len(selected)
        self.caption_button.setText(f"Caption {count} clips" if count > 1 else "Caption")

    @Slot()
    def _load_api(self) -> None:
        if self.api is None and not self._api_requested:
            self._api_requested = True
            self._pool.run(_import_captioner, returned=self._on_api_loaded)

    @Slot(object)
    def _on_api_loaded(self, module) -> None:
        if self.api is not None:
            return
        self.api = module
        if self._body_built:
            self._fill_presets()
            self._availability.refresh()

    def _fill_presets(self) -> None:
        module = self.api
        with _blocked(self.preset_combo):
            for key in module.PROMPT_PRESETS:
                self.preset_combo.addItem(PRESET_TITLES.get(key, key.capitalize()), key)
            self.preset_combo.addItem(PRESET_TITLES["custom"], "custom")
        wanted = getattr(self, "_wanted_preset", None) or module.DEFAULT_PRESET
        index = self.preset_combo.findData(wanted)
        self.preset_combo.setCurrentIndex(max(index, 0))
        self._on_preset_changed()
        if getattr(self, "_wanted_prompt", None) and self.preset_combo.currentData() == "custom":
            self.prompt_edit.setPlainText(self._wanted_prompt)

    def _captioner_api(self):
        """``studio.inference.captioner``; imported here if the pool has not done it yet."""
        if self.api is None:
            from studio.inference import captioner

            self._on_api_loaded(captioner)
        return self.api

    # -- the shown clip -------------------------------------------------------------------
    @Slot(object)
    def show_clip(self, clip: Clip | None) -> None:
        """Show ``clip``'s caption (None: nothing). An unsaved edit of the clip shown before
        is saved first."""
        if self.clip is not None and clip is not None and clip.id == self.clip.id:
            self.clip = clip
            return
        if not self._body_built:
            if clip is None:
                return  # the empty view says so already
            self._build_body()
        self.commit_edit()
        self.clip = clip
        self._refresh()

    def _refresh(self, keep_editor: bool = False) -> None:
        """Show the stored state of the shown clip (or the live caption if a model is
        working on it). ``keep_editor``: leave the editor's (unsaved) text as it is."""
        clip = self.clip
        if clip is None:
            self.title_label.setText("No clip selected")
            self._set_state("none", visible=False)
            self.meta_label.setText("Select a clip in the bin to see and edit its caption.")
            self.demo_label.hide()
            self._set_editor_text("", read_only=True)
            self._fill_history(None)
            self._show_frames(None)
            self.error_label.hide()
            self._update_actions()
            return
        self.title_label.setText(clip.name)
        self.title_label.setToolTip(clip.path)
        current = self.project.current_caption(clip.id)
        run = self._run_for_clip(clip.id)
        if run is not None:
            self._set_state("captioning")
            self.meta_label.setText(f"Captioning with {model_title(self._run_model(run))}…")
            self.demo_label.hide()
            self._set_editor_text(run.stream, read_only=True)
        else:
            queued = self._queued_ahead(clip.id)
            if queued is not None:
                self._set_state("queued")
            else:
                self._set_state("failed" if clip.id in self._failed else caption_state(current))
            if not clip.ok:
                self.meta_label.setText("Cannot be captioned: "
                                        + (clip.error or f"{clip.path} is missing"))
                self.demo_label.hide()
            elif current is None:
                self.meta_label.setText("No caption yet." if queued is None else
                                        f"Queued for captioning ({queued} clip"
                                        f"{'s' if queued != 1 else ''} ahead).")
                self.demo_label.hide()
            else:
                self.meta_label.setText(describe_caption(current))
                self.demo_label.setVisible(bool(current.params.get("demo")))
            if not keep_editor:
                self._set_editor_text(current.text if current else "", read_only=False)
                self._baseline = current.text if current else ""
                self._restore_draft(clip, self._baseline)
            self._update_save_label()
        if clip.id in self._failed:
            self.error_label.setText(f"Captioning failed: {self._failed[clip.id]}")
            self.error_label.show()
        else:
            self.error_label.hide()
        self._fill_history(clip.id)
        self._show_frames(clip.id)
        self._update_actions()

    def _set_state(self, state: str, visible: bool = True) -> None:
        text = "captioning…" if state == "captioning" else state
        self.state_label.setText(text)
        color = STATE_COLORS[state]
        self.state_label.setStyleSheet(
            f"QLabel {{ color: {color}; border: 1px solid {color}; border-radius: 9px;"
            f" padding: 1px 8px; font-weight: 600; }}")
        self.state_label.setVisible(visible)
        self.state_label.setProperty("state", state)

    @property
    def state(self) -> str:
        """The shown clip's caption state, as the badge shows it."""
        return self.state_label.property("state") or "none"

    def _set_editor_text(self, text: str, read_only: bool) -> None:
        self._loading = True
        try:
            streamed = self.editor.isReadOnly() and not read_only  # a caption just written
            if self.editor.toPlainText() != text:
                self.editor.setPlainText(text)  # also clears the editor's own undo history
            self.editor.setReadOnly(read_only)
            if streamed:  # its start in view, not the end the stream left it at
                cursor = self.editor.textCursor()
                cursor.movePosition(cursor.MoveOperation.Start)
                self.editor.setTextCursor(cursor)
                self.editor.verticalScrollBar().setValue(0)
        finally:
            self._loading = False
        streaming = read_only and self.clip is not None
        # A warm tint while a model writes into the box: it cannot be typed into then.
        self.editor.setStyleSheet(
            "QPlainTextEdit#CaptionEditor { background: #fbf6e6; color: #3a3320; }"
            if streaming else "")
        self._update_counts()

    def _fill_history(self, clip_id: int | None) -> None:
        self.history_list.clear()
        versions = [] if clip_id is None else self.project.captions_for(clip_id)
        for number, caption in reversed(list(enumerate(versions, start=1))):
            first_line = " ".join(caption.text.split())
            label = "edited" if caption.source == "edit" else model_title(caption.model)
            when = time.strftime("%b %d %H:%M", time.localtime(caption.created_at))
            item = QListWidgetItem(f"v{number} · {label} · {when} — {first_line}")
            item.setData(Qt.ItemDataRole.UserRole, caption.id)
            item.setToolTip(f"{describe_caption(caption)}\n\n{caption.text}")
            if number == len(versions):
                bold = item.font()
                bold.setBold(True)
                item.setFont(bold)
            self.history_list.addItem(item)
        n = len(versions)
        row_height = self.history_list.sizeHintForRow(0) if n else 0
        self.history_list.setFixedHeight(min(max(n, 1), 5) * max(row_height, 18) + 6)
        self.history_list.setVisible(n > 0)
        self.history_empty.setVisible(n == 0)
        self.restore_button.setVisible(n > 1)
        self.history_section.toggle.setText(f"History ({n})" if n else "History")
        self.history_section.summary.setText(
            "" if n < 2 else f"{n - 1} earlier version{'s' if n > 2 else ''}")
        self.restore_button.setEnabled(False)

    def _show_frames(self, clip_id: int | None) -> None:
        frames = self._frames_by_clip.get(clip_id) if clip_id is not None else None
        run = self._run_for_clip(clip_id) if clip_id is not None else None
        if run is not None:
            frames = run.frames
        if frames:
            self.frame_strip.set_frames(frames)
            self.frames_label.setText(
                f"The model saw {frames_span([f.time_s for f in frames])}")
            self.frame_strip.show()
        else:
            self.frame_strip.clear_frames()
            self.frame_strip.hide()
            times = []
            if clip_id is not None:
                current = self.project.current_caption(clip_id)
                if current is not None:
                    times = current.params.get("frame_times") or []
            self.frames_label.setText(f"Captioned from {frames_span(times)}" if times else "")
        self.frames_label.setVisible(bool(self.frames_label.text()))

    @Slot(int)
    def _on_frame_clicked(self, index: int) -> None:
        if self.clip is not None:
            self.frame_clicked.emit(self.clip.id, index)

    # -- editing --------------------------------------------------------------------------
    @property
    def dirty(self) -> bool:
        """Whether the editor holds text that is not saved."""
        return (self.clip is not None and not self.editor.isReadOnly()
                and self.editor.toPlainText() != self._baseline)

    @Slot()
    def _on_text_changed(self) -> None:
        self._update_counts()
        if not self._loading:
            self._update_save_label()
            if self.dirty:
                self._draft_timer.start()
            elif self.clip is not None:  # typed back to the saved text: nothing to keep
                self._drop_draft(self.clip.id)

    @Slot()
    def _keep_draft(self) -> None:
        if self.dirty and not self.project.closed:
            self.project_model.set_caption_draft(self.clip.id, self.editor.toPlainText())
            self._draft_clip = self.clip.id

    def _drop_draft(self, clip_id: int) -> None:
        """Forget the draft kept for ``clip_id`` (saved, reverted or typed back)."""
        self._draft_timer.stop()
        if self._draft_clip == clip_id:
            self.project_model.clear_caption_draft(clip_id)
            self._draft_clip = None

    def _restore_draft(self, clip: Clip, saved: str) -> None:
        """Put back the caption that was being typed for ``clip`` when Studio last stopped
        without saving it (a crash, a killed process): unsaved, in the editor."""
        draft = self.project.caption_draft(clip.id)
        if draft is None:
            return
        self._draft_clip = clip.id  # kept until saved or dropped
        if draft == saved:
            self._drop_draft(clip.id)
            return
        self._set_editor_text(draft, read_only=False)
        self.status_message.emit(f"{clip.name}: the caption being typed when Studio stopped "
                                 "is back, unsaved (Ctrl+S saves it)")

    def _update_counts(self) -> None:
        text = self.editor.toPlainText()
        words = len(text.split())
        self.count_label.setText(f"{words} word{'s' if words != 1 else ''} · {len(text)} "
                                 f"character{'s' if len(text) != 1 else ''}" if text else "")

    def _update_save_label(self) -> None:
        if self.dirty:
            self.save_label.setText("● unsaved · Ctrl+S")
            self.save_label.setStyleSheet("color: #e0ac3a;")
        else:
            self.save_label.setText("")
        self.revert_action.setEnabled(self.dirty)

    @Slot()
    def _on_editor_focus_lost(self) -> None:
        self.commit_edit()

    @Slot()
    def commit_edit(self) -> bool:
        """Save the editor's text as a new caption version (source "edit"), undoable from
        Edit > Undo. Returns whether a version was added."""
        if not self.dirty:
            return False
        clip = self.clip
        text = self.editor.toPlainText()
        self._drop_draft(clip.id)
        if not text.strip() and not self._baseline:
            self._baseline = text
            self._update_save_label()
            return False
        baseline, self._baseline = self._baseline, text  # before the push: its redo refreshes
        command = SetCaptionCommand(self.project_model, clip.id, clip.name, text)
        self.undo_stack.push(command)
        if command.error:  # e.g. a project open read-only: the text stays, unsaved
            self._baseline = baseline
            self._update_save_label()
            self.status_message.emit(f"Caption not saved: {command.error}")
            return False
        return True

    @Slot()
    def revert_edit(self) -> None:
        """Drop the unsaved text; show the stored caption again."""
        if self.dirty:
            self._drop_draft(self.clip.id)
            self._set_editor_text(self._baseline, read_only=False)
            self._update_save_label()

    @Slot(int)
    def _on_caption_changed(self, clip_id: int) -> None:
        """A version was added or taken out (an edit, a model, an undo): a clip with a new
        caption is no longer marked failed."""
        self._failed.pop(clip_id, None)
        if self.clip is not None and self.clip.id == clip_id:
            # A dirty editor keeps its text: what a person typed is never overwritten.
            self._refresh(keep_editor=self.dirty)

    # -- history --------------------------------------------------------------------------
    @Slot(QListWidgetItem)
    def _on_history_double_clicked(self, item: QListWidgetItem) -> None:
        if self.history_list.row(item) > 0:
            self.restore_version(item.data(Qt.ItemDataRole.UserRole))

    @Slot()
    def restore_selected_version(self) -> None:
        item = self.history_list.currentItem()
        if item is not None and self.history_list.row(item) > 0:
            self.restore_version(item.data(Qt.ItemDataRole.UserRole))

    def restore_version(self, caption_id: int) -> None:
        """Make an earlier version current again, as a new version with the same text and
        origin (a model caption stays a model caption). Undoable."""
        if self.clip is None:
            return
        self.commit_edit()
        versions = self.project.captions_for(self.clip.id)
        old = next((c for c in versions if c.id == caption_id), None)
        if old is None or (versions and versions[-1].id == caption_id):
            return
        number = versions.index(old) + 1
        command = SetCaptionCommand(
            self.project_model, self.clip.id, self.clip.name, old.text, source=old.source,
            model=old.model, prompt=old.prompt, params=old.params,
            label=f"Restore caption v{number} of {self.clip.name}")
        self.undo_stack.push(command)
        self.status_message.emit(f"Caption v{number} not restored: {command.error}"
                                 if command.error else
                                 f"Restored caption v{number} of {self.clip.name}")

    # -- settings -------------------------------------------------------------------------
    @Slot(int)
    def _on_model_activated(self, index: int) -> None:
        if self.model_combo.itemData(index) != LOCAL_FOLDER:
            return
        # Imported here: building its Python type slows start-up.
        from PySide6.QtWidgets import QFileDialog

        folder = QFileDialog.getExistingDirectory(self, "A SmolVLM2 model folder")
        if folder:
            self.set_model(folder)
        else:
            self.model_combo.setCurrentIndex(max(0, self.model_combo.findData(
                self._model_folder or registry.DEFAULT_CAPTIONER)))

    def set_model(self, model: str, chosen: bool = True) -> None:
        """Choose the captioner: a registry or hub id, or a local folder. ``chosen``: a
        person's choice, kept even when the model is not here (a remembered one is not: it
        gives way to a model that is, model_availability.choose_present_model)."""
        self.model_combo.setProperty("model_chosen", chosen)
        index = self.model_combo.findData(model)
        if index < 0:
            label = f"Folder: {Path(model).name}" if Path(model).is_dir() else model
            self.model_combo.insertItem(self.model_combo.count() - 1, label, model)
            self.model_combo.setItemData(self.model_combo.count() - 2, model,
                                         Qt.ItemDataRole.ToolTipRole)
            index = self.model_combo.count() - 2
            if Path(model).is_dir():
                self._model_folder = model
        self.model_combo.setCurrentIndex(index)

    @property
    def model(self) -> str:
        data = self.model_combo.currentData()
        return registry.DEFAULT_CAPTIONER if data in (None, LOCAL_FOLDER) else data

    @Slot()
    def _on_preset_changed(self, *_args) -> None:
        key = self.preset_combo.currentData()
        if key is None or self.api is None:
            return
        self._loading = True
        try:
            if key == "custom":
                self.prompt_edit.setReadOnly(False)
                if self.prompt_edit.toPlainText() in self.api.PROMPT_PRESETS.values():
                    self.prompt_edit.selectAll()
            else:
                self.prompt_edit.setPlainText(self.api.PROMPT_PRESETS[key])
                self.prompt_edit.setReadOnly(False)
        finally:
            self._loading = False
        self._update_settings_summary()

    @Slot()
    def _on_prompt_edited(self) -> None:
        """Typing in a preset's prompt makes it a custom prompt."""
        if self._loading or self.api is None:
            return
        key = self.preset_combo.currentData()
        if key != "custom" and self.prompt_edit.toPlainText() != self.api.PROMPT_PRESETS.get(key):
            with _blocked(self.preset_combo):
                self.preset_combo.setCurrentIndex(self.preset_combo.findData("custom"))
        self._update_settings_summary()

    def set_preset(self, key: str, prompt: str | None = None) -> None:
        """Choose a prompt preset (a ``PROMPT_PRESETS`` key or "custom" with ``prompt``)."""
        self._wanted_preset, self._wanted_prompt = key, prompt
        if self.api is None:
            return
        self.preset_combo.setCurrentIndex(max(0, self.preset_combo.findData(key)))
        if key == "custom" and prompt is not None:
            self.prompt_edit.setPlainText(prompt)

    def settings(self):
        """The ``CaptionSettings`` the controls describe. Raises ValueError for an empty
        custom prompt."""
        api = self._captioner_api()
        key = self.preset_combo.currentData() or api.DEFAULT_PRESET
        settings = api.CaptionSettings(
            preset=key, prompt=self.prompt_edit.toPlainText() if key == "custom" else None,
            max_new_tokens=self.max_tokens_spin.value(), do_sample=self.sample_check.isChecked(),
            temperature=self.temperature_spin.value())
        settings.prompt_text()  # raises for an empty custom prompt
        return settings

    @Slot()
    def _update_settings_summary(self, *_args) -> None:
        key = self.preset_combo.currentData() or getattr(self, "_wanted_preset", None) or "detailed"
        parts = [model_title(self.model), PRESET_TITLES.get(key, key).split(" (")[0],
                 f"≤{self.max_tokens_spin.value()} tokens",
                 "sampled" if self.sample_check.isChecked() else "greedy"]
        self.settings_section.summary.setText(" · ".join(parts))

    def save_settings(self, s) -> None:
        """Into a QSettings. Before the body is built nothing can have changed: what
        ``restore_settings`` read stays as it is."""
        if not self._body_built:
            return
        s.setValue("caption/model", self.model)
        key = self.preset_combo.currentData() or getattr(self, "_wanted_preset", None)
        if key:
            s.setValue("caption/preset", key)
        if key == "custom":
            s.setValue("caption/prompt", self.prompt_edit.toPlainText())
        s.setValue("caption/max_new_tokens", self.max_tokens_spin.value())
        s.setValue("caption/do_sample", self.sample_check.isChecked())
        s.setValue("caption/temperature", self.temperature_spin.value())
        s.setValue("caption/settings_open", self.settings_section.toggle.isChecked())
        s.setValue("caption/history_open", self.history_section.toggle.isChecked())

    def restore_settings(self, s) -> None:
        """From a QSettings; applied when the body is built if it is not yet."""
        wanted = {
            "model": s.value("caption/model"), "preset": s.value("caption/preset"),
            "prompt": s.value("caption/prompt"),
            "max_new_tokens": s.value("caption/max_new_tokens", 256, int),
            "do_sample": s.value("caption/do_sample", False, bool),
            "temperature": s.value("caption/temperature", 0.7, float),
            "settings_open": s.value("caption/settings_open", True, bool),
            "history_open": s.value("caption/history_open", False, bool),
        }
        if self._body_built:
            self._apply_settings(wanted)
        else:
            self._pending_settings = wanted

    def _apply_settings(self, wanted: dict) -> None:
        model = wanted["model"]
        if model and (registry.get(model) is not None or Path(model).is_dir()):
            self.set_model(model, chosen=False)
        if wanted["preset"]:
            self.set_preset(wanted["preset"], wanted["prompt"])
        self.max_tokens_spin.setValue(wanted["max_new_tokens"])
        self.sample_check.setChecked(wanted["do_sample"])
        self.temperature_spin.setValue(wanted["temperature"])
        self.settings_section.toggle.setChecked(wanted["settings_open"])
        self.history_section.toggle.setChecked(wanted["history_open"])

    # -- captioning -----------------------------------------------------------------------
    @Slot()
    def caption_selected(self) -> int | None:
        """Caption the clips selected in the bin (the shown clip when none is). Returns the
        job id, or None when nothing was submitted."""
        return self._submit(self._caption_targets(), "Select clips in the bin to caption them.")

    @Slot()
    def caption_uncaptioned(self) -> int | None:
        """Caption every clip in the bin that has no caption yet."""
        self.commit_edit()
        clips = [c for c in self._all_clips()
                 if caption_state(self.project.current_caption(c.id)) == "none"]
        return self._submit(clips, "Every clip in the bin has a caption.")

    def _submit(self, clips: list[Clip], nothing_text: str) -> int | None:
        self.commit_edit()
        if self.manager is None:
            self._show_error("Captioning is not available: no model manager is running.")
            return None
        busy = {t.clip_id for run in self._runs.values() for t in run.targets[run.current:]}
        usable, skipped = [], []
        for clip in clips:
            if clip.id in busy:
                continue
            if clip.ok:
                usable.append(clip)
            else:
                skipped.append(clip)
        if not usable:  # the panel and the bin already say why each cannot be
            if skipped:
                reason = skipped[0].error or f"{skipped[0].path}: file missing"
                self.status_message.emit(
                    f"Nothing to caption: {reason}" if len(skipped) == 1 else
                    f"Nothing to caption: none of the {len(skipped)} clips is usable media "
                    f"(the first: {reason})")
            else:
                self.status_message.emit(nothing_text)
            return None
        # On a cluster the workers read the model from the shared cache: not asked here.
        missing = None if self._on_cluster() else self._missing_model_message()
        if missing is not None:
            # Said at once, and no clip is marked failed for a model that is not here.
            self._show_error(missing)
            self._availability.refresh()  # pulled a moment ago? the next click will know
            return None
        for clip in skipped:  # in a batch with usable clips: failed, each with its reason
            self._mark_failed(clip.id, clip.error or f"{clip.path}: file missing")
        try:
            settings = self.settings()
        except ValueError as err:
            self._show_error(str(err).split(": ", 1)[-1].capitalize())
            self.settings_section.toggle.setChecked(True)
            self.prompt_edit.setFocus()
            return None
        # Cheap: the engine module imports no torch; the manager's thread loads that.
        from studio.inference.engine import (
            CaptionBatchJob,
            CaptionItem,
            CaptionJob,
            new_job_id,
        )

        job_id = new_job_id()
        targets = [CaptionTarget(c.id, c.path, c.name, c.in_frame, c.out_frame) for c in usable]
        if len(targets) == 1:
            t = targets[0]
            job = CaptionJob(job_id=job_id, clip_id=t.clip_id, path=t.path, settings=settings,
                             model=self.model, in_frame=t.in_frame, out_frame=t.out_frame)
        else:
            job = CaptionBatchJob(job_id=job_id, model=self.model, settings=settings, items=[
                CaptionItem(t.clip_id, t.path, t.in_frame, t.out_frame) for t in targets])
        run = CaptionRun(job_id, targets, model=self.model,
                         max_new_tokens=settings.max_new_tokens,
                         single=isinstance(job, CaptionJob))
        self._runs[job_id] = run
        for t in targets:
            self._failed.pop(t.clip_id, None)
            self.project_model.set_caption_state(t.clip_id, "queued")
        self.project_model.set_caption_state(targets[0].clip_id, "captioning")
        self.error_label.hide()
        self._show_progress(run, 0, len(targets), None)
        run.handle = self._runner().submit(job)
        self._follow(run.handle)
        if self.clip is not None and any(t.clip_id == self.clip.id for t in targets):
            self._refresh()
        self._update_actions()
        return job_id

    @Slot()
    def cancel(self) -> None:
        """Stop every caption job of this panel; captions already stored stay."""
        if self._runs:
            for run in list(self._runs.values()):
                if run.handle is not None:
                    run.handle.cancel()
            self.progress_bar.setFormat("Cancelling…")

    def _run_for_clip(self, clip_id: int) -> CaptionRun | None:
        for run in self._runs.values():
            target = run.target
            if target is not None and target.clip_id == clip_id:
                return run
        return None

    def _queued_ahead(self, clip_id: int) -> int | None:
        """How many clips a caption job does before ``clip_id``; None when none waits for it."""
        for run in self._runs.values():
            pending = [t.clip_id for t in run.targets[run.current:]]
            if clip_id in pending:
                return pending.index(clip_id)
        return None

    def _run_model(self, run: CaptionRun) -> str:
        return run.model or self.model

    def _target_of(self, run: CaptionRun, index: int | None) -> CaptionTarget | None:
        if index is not None and 0 <= index < len(run.targets):
            return run.targets[index]
        return run.target

    def _advance(self, run: CaptionRun, index: int) -> None:
        """The item ``index`` is done: the next one (if any) becomes current."""
        finished = self._target_of(run, index)
        before = run.current
        run.current = max(run.current, index + 1)
        run.stream = ""
        if run.current != before:
            run.item_started = time.monotonic()
        run.frames = []
        if run.current != before and run.target is not None:
            self.project_model.set_caption_state(run.target.clip_id, "captioning")
        shown = self.clip.id if self.clip is not None else None
        if shown is not None and shown in {t.clip_id for t in (finished, run.target) if t}:
            self._refresh(keep_editor=self.dirty)

    # -- manager signals (bound slots: they arrive from the worker thread) -----------------
    @Slot(int, str)
    def on_job_started(self, job_id: int, label: str) -> None:
        run = self._runs.get(job_id)
        if run is not None:
            self.live_label.setText(label)

    @Slot(int, int)
    def on_item_started(self, job_id: int, index: int) -> None:
        run = self._runs.get(job_id)
        if run is not None and index > run.current:
            self._advance(run, index - 1)

    @Slot(int, int, int, float)
    def on_progress(self, job_id: int, done: int, total: int, eta_s: float) -> None:
        run = self._runs.get(job_id)
        if run is not None:
            self._show_progress(run, done, total, eta_s)

    def _show_progress(self, run: CaptionRun, done: int, total: int, eta_s) -> None:
        total = max(total, 1)
        self.progress_bar.setRange(0, total)
        self.progress_bar.setValue(min(done, total))
        self.progress_bar.setFormat(self._progress_text(run, done, total, eta_s))
        self.progress_row.show()

    @staticmethod
    def _progress_text(run: CaptionRun, done: int, total: int, eta_s=None) -> str:
        """"Captioning 2/5 · b.mp4 · 0:42 left": the clip's place in the batch, its name and
        the time left (the manager's estimate, else one from the clips done so far, else from
        the words written against the token budget: an upper bound)."""
        now = time.monotonic()
        if eta_s is None or not math.isfinite(eta_s) or eta_s <= 0:
            eta_s = None
            if 0 < done < total:
                eta_s = (now - run.started) / done * (total - done)
            elif run.stream and run.max_new_tokens:
                words = len(run.stream.split())
                per_word = (now - run.item_started) / max(words, 1)
                eta_s = per_word * max(run.max_new_tokens - words, 0) \
                    + (now - run.item_started) * (total - done - 1)
        parts = [f"Captioning {min(done + 1, total)}/{total}"]
        target = run.target
        if target is not None:
            parts.append(target.name)
        eta = format_eta(eta_s)
        parts.append(f"{eta} left" if eta else "estimating the time left")
        return " · ".join(parts)

    @Slot(int, str)
    def on_text(self, job_id: int, chunk: str) -> None:
        """A piece of streamed caption text for the job's current clip."""
        run = self._runs.get(job_id)
        if run is None or run.target is None:
            return
        if not run.stream:
            chunk = chunk.lstrip()  # the model's reply starts with a space
            if not chunk:
                return
        run.stream += chunk
        if len(run.targets) == 1:
            # One clip: the bar follows the words against the token budget (an upper bound).
            self.progress_bar.setRange(0, max(run.max_new_tokens, 1))
            self.progress_bar.setValue(min(len(run.stream.split()), run.max_new_tokens))
            self.progress_bar.setFormat(self._progress_text(run, 0, 1))
        if self.clip is not None and run.target.clip_id == self.clip.id:
            cursor = self.editor.textCursor()
            cursor.movePosition(cursor.MoveOperation.End)  # QTextCursor's type: not at start-up
            self._loading = True
            try:
                cursor.insertText(chunk)
            finally:
                self._loading = False
            self.editor.ensureCursorVisible()
            self.live_label.hide()
        else:
            tail = " ".join(run.stream.split())
            self.live_label.setText(f"{run.target.name}: …{tail[-160:]}")
            self.live_label.show()

    @Slot(int, object)
    def on_frames(self, job_id: int, frames) -> None:
        """The frames the model is about to see, for the job's current clip."""
        run = self._runs.get(job_id)
        if run is None or run.target is None:
            return
        run.frames = frame_thumbs(frames)
        self._keep_frames(run.target.clip_id, run.frames)
        if self.clip is not None and run.target.clip_id == self.clip.id:
            self._show_frames(self.clip.id)

    @Slot(int, int, object)
    def on_item_finished(self, job_id: int, index: int, result) -> None:
        run = self._runs.get(job_id)
        if run is None:
            return
        target = self._target_of(run, index)
        if target is not None:
            self._store_result(target, result, run)
        self._advance(run, index if 0 <= index < len(run.targets) else run.current)

    @Slot(int, int, str)
    def on_item_failed(self, job_id: int, index: int, message: str) -> None:
        run = self._runs.get(job_id)
        if run is None:
            return
        target = self._target_of(run, index)
        if target is not None:
            run.failed.append((target.name, message))
            self._frames_by_clip.pop(target.clip_id, None)  # they made no caption
            self._mark_failed(target.clip_id, message)
        self._advance(run, index if 0 <= index < len(run.targets) else run.current)

    @Slot(int, object)
    def on_job_finished(self, job_id: int, result) -> None:
        run = self._runs.pop(job_id, None)
        if run is None:
            return
        # A single caption job reports only here (no item_finished): its result is the
        # CaptionResult; a batch's is the batch's summary, its captions came item by item.
        if run.single and run.stored == 0 and not run.failed:
            self._store_result(run.targets[0], result, run)
        run.current = len(run.targets)  # a finished job reached every clip
        self._finish(run, cancelled=False)

    @Slot(int, str)
    def on_job_failed(self, job_id: int, message: str) -> None:
        run = self._runs.pop(job_id, None)
        if run is None:
            return
        if len(run.targets) == 1:
            # A single caption fails with its clip (a bad file) or its model: either way the
            # clip has no new caption, and the bin says so.
            run.failed.append((run.targets[0].name, message))
            self._mark_failed(run.targets[0].clip_id, message)
        # A batch fails as a whole only for its model or settings: that is no fault of the
        # clips, which keep their state; the panel shows why.
        self._finish(run, cancelled=False, job_error=message)

    @Slot(int)
    def on_job_cancelled(self, job_id: int) -> None:
        run = self._runs.pop(job_id, None)
        if run is None:
            return
        self._finish(run, cancelled=True)

    @Slot(bool)
    def on_busy_changed(self, busy: bool) -> None:
        self._busy = busy
        self.busy_changed.emit(busy)
        self._update_actions()

    # -- results --------------------------------------------------------------------------
    def _store_result(self, target: CaptionTarget, result, run: CaptionRun) -> None:
        # The frames the model saw are kept first: the model's caption_changed, emitted while
        # the version is added, refreshes the panel, which shows them.
        thumbs = run.frames or (frame_thumbs(result.frames) if result.frames else None)
        earlier = self._frames_by_clip.get(target.clip_id)
        if thumbs:
            self._keep_frames(target.clip_id, thumbs)
        try:
            self.project_model.add_caption(target.clip_id, result.text, source="model",
                                           model=result.model_id, prompt=result.prompt,
                                           params=caption_params(result))
        except Exception as err:  # noqa: BLE001 - a clip removed meanwhile, a database error
            if thumbs:  # they made no caption
                self._frames_by_clip.pop(target.clip_id, None)
                if earlier:
                    self._frames_by_clip[target.clip_id] = earlier
            run.failed.append((target.name, str(err)))
            self._mark_failed(target.clip_id, str(err))
            return
        run.stored += 1
        if self.clip is not None and self.clip.id == target.clip_id and self.dirty:
            self.status_message.emit(
                f"New caption of {target.name} saved to its history; your unsaved edit "
                "stays in the box until you save or revert it")

    def _keep_frames(self, clip_id: int, thumbs: list[FrameThumb]) -> None:
        self._frames_by_clip[clip_id] = thumbs
        self._frames_by_clip.move_to_end(clip_id)
        while len(self._frames_by_clip) > FRAMES_KEPT:
            self._frames_by_clip.popitem(last=False)

    def _mark_failed(self, clip_id: int, message: str) -> None:
        self._failed[clip_id] = message
        self.project_model.set_caption_state(clip_id, "failed", message)
        if self.clip is not None and self.clip.id == clip_id:
            self._refresh(keep_editor=self.dirty)

    def _missing_model_message(self) -> str | None:
        """Why the chosen model cannot caption when the last look found it missing; None when
        it is here, or not known yet (the job then says)."""
        spec = registry.get(self.model)
        if spec is None or self._availability.is_here(spec.id) is not False:
            return None
        if spec.demo:
            return f"{spec.title} is not built yet: studio models make-demo builds it."
        return (f"{spec.title} is not on this computer. Download it once with: "
                f"studio models pull {spec.id} (or choose Local folder… as the model).")

    def _finish(self, run: CaptionRun, cancelled: bool, job_error: str | None = None) -> None:
        if self._body_built:
            self._availability.refresh()  # a model may have come or gone meanwhile
        # Clips the job never reached (or cut off) are no longer "captioning…", and frames
        # that made no caption are not shown as if they had.
        for target in run.targets[run.current:]:
            self._frames_by_clip.pop(target.clip_id, None)
            if target.clip_id not in self._failed:
                self.project_model.set_caption_state(target.clip_id, "")  # not waiting now
        parts = [f"Captioned {run.stored} of {len(run.targets)} clip(s)"]
        if run.failed:
            parts.append(f"{len(run.failed)} failed")
        if cancelled:
            parts.append("cancelled")
        text = "; ".join(parts)
        self.status_message.emit(text)
        if job_error:
            self._show_error(job_error)
        elif run.failed:
            first_message = run.failed[0][1]
            more = f" (and {len(run.failed) - 1} more)" if len(run.failed) > 1 else ""
            self._show_error(f"{first_message}{more}")
            self.error_label.setToolTip("\n".join(m for _, m in run.failed[:30]))
        if not self._runs:
            self.progress_row.hide()
            self.live_label.hide()
            self.live_label.setText(text)
        if self.clip is not None:
            self._refresh(keep_editor=self.dirty)
            if job_error or run.failed:
                self.error_label.show()
        self._update_actions()

    def _show_error(self, text: str) -> None:
        self.error_label.setText(text)
        self.error_label.show()

    @property
    def running(self) -> bool:
        return bool(self._runs)

    def job_clip_ids(self, job_id: int) -> list[int]:
        """The clips a running job of this panel captions, in order ([] when it has ended)."""
        run = self._runs.get(job_id)
        return [] if run is None else [t.clip_id for t in run.targets]

    def _caption_targets(self, selected: list[Clip] | None = None) -> list[Clip]:
        """The clips Caption takes: the bin's selection (``selected``, when already known),
        else the clip shown."""
        selected = self._selected_clips() if selected is None else selected
        return selected or ([self.clip] if self.clip is not None else [])

    def _update_actions(self, selected: list[Clip] | None = None) -> None:
        has_manager = self.manager is not None
        # Caption is off when every clip it would take is unusable (the panel says why):
        # submitted, each was only marked failed.
        targets = self._caption_targets(selected)
        can_caption = has_manager and (not targets or any(c.ok for c in targets))
        self.caption_action.setEnabled(can_caption)
        self.caption_all_action.setEnabled(has_manager)
        self.cancel_action.setEnabled(bool(self._runs))
        self.save_action.setEnabled(self.clip is not None)
        if self._body_built:
            self.caption_button.setEnabled(can_caption)
            self.caption_all_button.setEnabled(has_manager)
            self.cancel_button.setEnabled(bool(self._runs))

    # -- shutdown -------------------------------------------------------------------------
    def shutdown(self) -> None:
        """Save an unsaved edit; stop loading the captioner module. The model manager is
        shut down by its owner."""
        self.commit_edit()
        self._api_requested = True  # no load starts from now on
        self._pool.waitForDone(5000)


class _blocked:
    """``with _blocked(widget):`` no signals from ``widget`` inside."""

    def __init__(self, widget):
        self._widget = widget

    def __enter__(self):
        self._old = self._widget.blockSignals(True)

    def __exit__(self, *exc):
        self._widget.blockSignals(self._old)
