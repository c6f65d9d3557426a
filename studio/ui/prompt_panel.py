"""The prompt panel: every setting of a generation, checked live, and Generate / Cancel.

As values change, ``studio.core.params.conform`` runs: the changes it will make are listed
before the run ("frames 100 -> 97 (...)"), a value outside any sane range shows its
``ParamsError`` naming the field and disables Generate, and the cost line shows the latent
shape, the token count N and the peak-memory estimate for the memory settings of the folded
Advanced section (offload and VAE tiling, automatic by default: the GPU's free memory chooses
them before the run; and LTX-Video's decode timestep and noise). A model with a multi-scale
recipe (distilled LTX-Video 0.9.8) runs it unless "Multi-scale" in Advanced is unchecked; the
cost line then names the two passes' sizes and steps. Generate adds the settings, with
the seed drawn, to the ``GenerationQueue`` (the project's jobs table, run one at a time on the
``ModelManager``); Cancel cancels the panel's last job. ``edit_job`` loads a queued job's
settings, and Generate then updates that job instead. "Prompt from caption" fills the prompt
from the selected clip's current caption through a template (``studio.core.prompts``),
recording the raw caption. An LTX-2 model has "Enhance prompt" under it (opt-in: the model
rewrites the prompt, a caption's too, before the run; disabled with the reason where the model
cannot, as LTX-2.5 without a prompt enhancer).

Modes are those the model's rules allow. Video to video and Extend clip start from the bin's
selected clip, the player's clip or a video file, within its in/out range; Conditions at frames
has a list editor (a picture or a clip's frame, the output frame that shows it, a strength).
Dropping a file on the panel: a Studio generation (its mp4, read from the comment tag, else
its sidecar; or the sidecar) refills every field as Restore settings does; a plain picture
becomes the image of image to video, a plain clip the source of video to video (of extend, in
that mode); in Conditions at frames either becomes a new condition. A file it cannot use
gives a message naming it and changes nothing.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from PySide6.QtCore import QEvent, QTimer, Signal, Slot
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from studio.core.paths import display_path
from studio.ui.file_drops import FileDropTarget, dropped_paths
from studio.ui.first_paint import after_first_paint
from studio.ui.prompt_sections import (
    IMAGE_FILE,
    PLAYER_CLIP,
    PLAYER_FRAME,
    SELECTED_CLIP,
    VIDEO_FILE,
    VIDEO_MODES,
    AdvancedSection,
    FormLabel,
    ModelSection,
    PromptSection,
    SizeSection,
    SourceSection,
)
from studio.ui.workers import Workers

_MISSING_VIDEO = {SELECTED_CLIP: "select a clip in the bin",
                  PLAYER_CLIP: "show a clip in the player",
                  VIDEO_FILE: "choose a video file (or drop one here)"}
# Settings the panel has no field for: kept from the last fill (a restore), so a restored
# generation runs exactly as it ran. None today: the Advanced section has the last ones
# (offload, vae_tiling, decode_timestep, decode_noise_scale, multiscale).
HIDDEN_FIELDS: tuple[str, ...] = ()
_DRAG_EVENTS = (QEvent.Type.DragEnter, QEvent.Type.DragMove, QEvent.Type.Drop)


EMPTY_PROMPT_HINT = "Write a prompt to generate."
PANEL_STATE = "generate"  # the name the project keeps this panel's fields under
STATE_DELAY_MS = 500  # the fields are kept this long after the last change
# A click on Cancel this soon after Generate was pressed is the second click of a double
# click on Generate, not a wish to cancel: it is ignored.
CANCEL_GUARD_S = 0.5


def _condition_row_of(field: str) -> int | None:
    """The row of a ``conditions[i]...`` field, or None."""
    match = re.match(r"conditions\[(\d+)\]", field or "")
    return int(match.group(1)) if match else None


class VideoSource(NamedTuple):
    """The clip video to video and extend start from, with its inclusive in/out range."""

    path: str
    clip_id: int | None
    in_frame: int | None
    out_frame: int | None
    name: str


def local_files(mime) -> list[str]:
    """The local files (not folders) among ``mime``'s URLs: what the panel takes in a drop."""
    return [path for path in dropped_paths(mime) if os.path.isfile(path)]


def restore_warnings(params, near: tuple[str, ...] = ()) -> list[str]:
    """What restored settings name that is not here: the picture, the source clip or a
    condition's file missing, a model that is neither a known one nor a folder; and, given the
    folders a person expects the files in (``near``: the dropped file's, the project's), a
    file that is elsewhere (settings from someone else can name any file of this computer,
    which a run would read). The settings are restored all the same (the person may fix the
    path); each is said. Stats files: call it off the GUI thread."""
    from studio.inference import registry

    said = []
    for what, path in (("the picture", params.image_path), ("the source clip", params.source_path),
                       *((f"condition {i + 1}'s file", c.path)
                         for i, c in enumerate(params.conditions))):
        if path and not _exists(path):
            said.append(f"{what} {display_path(path)} is not on this computer")
        elif path and near and not _inside(path, near):
            said.append(f"{what} {display_path(path)} is outside this project and the "
                        "dropped file's folder: check it is the one you mean")
    model = params.model
    if model and registry.get(model) is None and not model.startswith(registry.DEMO_PREFIX) \
            and not _exists(model) and (model.count("/") != 1 or model.startswith("/")):
        said.append(f"the model {display_path(model)} is not one Studio knows, nor a folder "
                    "here")
    return said


def _inside(path: str, folders: tuple[str, ...]) -> bool:
    try:
        resolved = os.path.realpath(path)
        return any(os.path.commonpath([resolved, os.path.realpath(f)]) == os.path.realpath(f)
                   for f in folders)
    except (OSError, ValueError):
        return False


def _exists(path: str) -> bool:
    try:
        return os.path.exists(path)
    except (OSError, ValueError):
        return False


def read_dropped(path: str, project_root: str | None = None) -> tuple[str, object]:
    """What a dropped file is: ("generation", GenerationParams) for a Studio generation (its
    comment tag, else its sidecar; or the sidecar itself), ("media", MediaInfo) for a plain
    video or picture, or ("error", a message naming the file). Opens the file: call it off the
    GUI thread."""
    from studio.core.generation_record import (
        GenerationRecordError,
        NoGenerationRecord,
        read_generation_params,
    )
    from studio.core.media import MediaError, probe

    try:
        params = read_generation_params(path)
        near = (os.path.dirname(os.path.abspath(path)),
                *((project_root,) if project_root else ()))
        return "generation", (params, restore_warnings(params, near))
    except NoGenerationRecord:
        pass
    except GenerationRecordError as err:
        return "error", f"Cannot restore settings from {err}"
    try:
        return "media", probe(path)
    except MediaError as err:
        reason = err.reason + (f", {err.detail}" if err.detail else "")
        return "error", (f"{path}: neither a Studio generation nor a video or picture Studio "
                         f"can read ({reason})")


def _read_drop(serial: int, path: str, project_root: str) -> tuple[int, str, str, object]:
    """A pool thread (``Workers.run``): (drop serial, path, kind, payload) of ``read_dropped``
    (PyAV opens the file)."""
    try:
        kind, payload = read_dropped(path, project_root)
    except Exception as err:  # noqa: BLE001 - an unforeseen failure is still a message
        kind, payload = "error", f"{path}: cannot be read ({type(err).__name__}: {err})"
    return serial, path, kind, payload


class PromptPanel(FileDropTarget, QWidget):
    job_submitted = Signal(int, object)  # job id, GenerationParams of the run (with its seed)
    status_message = Signal(str)
    drop_handled = Signal(bool, str)  # ok, what happened (naming the file)

    # The panel's attributes for the fields of its sections (tests and callers use them).
    SECTION_FIELDS = {
        "model_section": ("model", "mode"),
        "source_section": ("image_source", "image_path", "image_browse", "strength",
                           "source_label", "video_source", "video_path", "video_browse",
                           "conditions_editor"),
        "prompt_section": ("prompt", "negative", "template", "from_caption_button",
                           "enhance_prompt"),
        "size_section": ("size_preset", "width_spin", "height_spin", "frames", "fps",
                         "duration", "steps", "guidance", "seed", "seed_locked", "seed_used"),
        "advanced_section": ("advanced_toggle", "advanced_summary", "offload", "vae_tiling",
                             "decode_timestep", "decode_noise_scale", "multiscale"),
    }

    def __init__(self, model, parent: QWidget | None = None, *, manager=None, player=None,
                 clip_source: Callable[[], list] | None = None, template_store=None,
                 queue=None):
        super().__init__(parent)
        from studio.core import params as P
        from studio.core.prompts import TemplateStore

        self._P = P
        self.project_model = model  # a ProjectModel: its writes (panel state, the queue's jobs)
        self.project = model.project  # reads
        # What the panel holds is kept in the project a moment after each change (each
        # revalidate) and comes back when the panel is made again, in the next session: a
        # prompt being written is lost neither by closing Studio nor by a crash.
        self._state_timer = QTimer(self)
        self._state_timer.setSingleShot(True)
        self._state_timer.setInterval(STATE_DELAY_MS)
        self._state_timer.timeout.connect(self.save_state)
        self.manager = None
        self.queue = None  # the GenerationQueue that Generate adds to
        self.player = player
        self._clip_source = clip_source or (lambda: [])
        self.templates = template_store if template_store is not None else TemplateStore()
        self._job_id: int | None = None  # queue id of the panel's last job, until it ends
        self._job_seed: int | None = None
        self._image_file_frame: tuple[str, int] | None = None  # (video, frame) of a restore
        self._editing: int | None = None  # queue id of the queued job being edited
        self._conformed = None
        self._error = None
        self._caption_record: dict | None = None  # caption, template_id of the last fill
        self._filling = False
        self._hidden: dict = {}  # HIDDEN_FIELDS of the last fill

        self._build_sections()
        self._build_footer()
        self._lay_out()
        self._connect(player)
        self.apply_params(P.GenerationParams.defaults(self.model.currentData()))
        self._on_mode_changed()
        self._restore_state()
        if queue is not None:
            self.set_queue(queue)
        if manager is not None:
            self.set_manager(manager)

    def _build_sections(self) -> None:
        """The sections, in the panel's order; their fields are the panel's attributes too."""
        self._labels: list[FormLabel] = []  # every section's form labels, lined up
        self.model_section = ModelSection(self._labels)
        self._keep_fields("model_section")
        from studio.ui.model_availability import model_availability

        self._availability = model_availability()  # says which models are not here
        self._availability.default_moved.connect(self.status_message)  # and say so
        self._availability.keep_marked(self.model)
        # The first look: its pool thread imports huggingface_hub, so not while the window is
        # first drawn (a layout restored with this dock open builds the panel before that).
        after_first_paint(self, self._availability.refresh)
        self.source_section = SourceSection(self._labels, self._player_frame)
        self._keep_fields("source_section")
        self._image_row, self._video_row = (self.source_section.image_row,
                                            self.source_section.video_row)
        self.prompt_section = PromptSection(self._labels, self._P.MAX_TEXT_CHARS, self.templates)
        self._keep_fields("prompt_section")
        self.size_section = SizeSection(self._labels)
        self._keep_fields("size_section")
        # Advanced (folded away): memory settings, LTX-Video's decode noise, multi-scale
        self.advanced_section = AdvancedSection(self._labels, self._multiscale_applies)
        self._keep_fields("advanced_section")
        self.sections = (self.model_section, self.source_section, self.prompt_section,
                         self.size_section, self.advanced_section)

    def _keep_fields(self, name: str) -> None:
        section = getattr(self, name)
        for field in self.SECTION_FIELDS[name]:
            setattr(self, field, getattr(section, field))

    def _build_footer(self) -> None:
        """What the checks found (changes, error, a drop's notice, the cost) and the buttons."""
        self.notice_label = QLabel()  # what a drop did
        self.notice_label.setWordWrap(True)
        self.notice_label.setVisible(False)
        self.changes_label = QLabel()
        self.changes_label.setWordWrap(True)
        self.changes_label.setObjectName("conformChanges")
        self.error_label = QLabel()
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet("color: #d33;")
        self.cost_label = QLabel()
        self.cost_label.setWordWrap(True)
        self.generate_button = QPushButton("Generate")
        self.generate_button.setDefault(True)
        self.generate_button.clicked.connect(self.generate)
        self.generate_button.pressed.connect(self._on_generate_pressed)
        self._generate_pressed_at = float("-inf")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Cancel the job this panel queued last")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self._on_cancel_clicked)
        self.stop_edit_button = QPushButton("Stop Editing")
        self.stop_edit_button.setToolTip("Leave the queued job as it is; Generate queues a new job")
        self.stop_edit_button.setVisible(False)
        self.stop_edit_button.clicked.connect(self.stop_editing)

    def _lay_out(self) -> None:
        """The sections and what the checks found in a scroll area (a short dock scrolls
        instead of making the window taller); under it, always at the dock's bottom right and
        never moved by the texts above, Generate, with Cancel on its left."""
        from studio.ui.elided_label import VerticalScrollArea

        inner = QWidget(self)
        inner.setObjectName("PromptPanelContents")
        sections = QVBoxLayout(inner)
        sections.setSpacing(self.model_section.form.verticalSpacing())  # as one form's rows
        for section in self.sections:
            sections.addWidget(section)
        for label in (self.changes_label, self.error_label, self.notice_label, self.cost_label):
            # wrapped, and never wider than the dock for a long file name or path in them
            label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
            sections.addWidget(label)
        sections.addStretch(1)
        self.scroll = VerticalScrollArea(inner, self)
        self.scroll.setAccessibleName("Generate settings")
        self.scroll.setObjectName("PromptPanelScroll")
        buttons = QHBoxLayout()
        buttons.setContentsMargins(9, 4, 9, 9)
        buttons.addStretch(1)
        buttons.addWidget(self.stop_edit_button)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.generate_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.scroll, 1)
        layout.addLayout(buttons)

    def _connect(self, player) -> None:
        # live rules: re-check shortly after any change (one pass per burst of edits)
        self._recheck = QTimer(self)
        self._recheck.setSingleShot(True)
        self._recheck.setInterval(60)
        self._recheck.timeout.connect(self.revalidate)
        self.model.currentIndexChanged.connect(self._on_model_changed)
        self.mode.currentIndexChanged.connect(self._on_mode_changed)
        for section in self.sections:
            section.changed.connect(self._changed)
        self.prompt_section.refused.connect(self._say)
        self.prompt_section.from_caption.connect(self.prompt_from_caption)
        self.conditions_editor.row_added.connect(self._on_condition_row_added)
        self.conditions_editor.message.connect(self._say)
        if player is not None and hasattr(player, "in_out_changed"):
            player.in_out_changed.connect(self._changed)
        # drops: a Studio generation restores its settings, a plain file becomes the source
        self.setAcceptDrops(True)
        self._drop_workers = Workers(self)
        self._drop_serial = 0
        self._drop_others = 0
        self._route_drops(self.findChildren(QWidget))
        self.prompt.textChanged.connect(self._prompt_edited)

    # -- wiring ---------------------------------------------------------------------------
    def set_manager(self, manager) -> None:
        """Run generations on ``manager``, through a queue of this panel's own unless
        ``set_queue`` gave one (the window's, shared with its queue panel)."""
        self.manager = manager
        if self.queue is None:
            from studio.ui.generation_queue import GenerationQueue

            self.set_queue(GenerationQueue(self.project_model, manager, self))

    def set_queue(self, queue) -> None:
        self.queue = queue
        self.manager = queue.manager
        queue.job_started.connect(self._on_queue_job_started)
        queue.job_ended.connect(self._on_queue_job_ended)
        self.project_model.jobs_changed.connect(self._on_jobs_changed)
        self._update_buttons()

    @property
    def job_id(self) -> int | None:
        """The queue id of the job this panel queued last, until it ends."""
        return self._job_id

    @property
    def editing(self) -> int | None:
        """The queue id of the queued job whose settings the panel is editing, or None."""
        return self._editing

    # -- values ---------------------------------------------------------------------------
    def current_model(self) -> str | None:
        return self.model.currentData()

    def set_model(self, model: str) -> None:
        """Select ``model`` (a registry id or a local folder, added to the list)."""
        self.model_section.set_model(model)

    def params(self):
        """The settings as entered (not conformed)."""
        P = self._P
        mode = self.mode.currentData()
        values = dict(
            mode=mode, model=self.current_model() or "", prompt=self.prompt.toPlainText(),
            negative_prompt=self.negative.toPlainText(), width=self.width_spin.value(),
            height=self.height_spin.value(), num_frames=self.frames.value(),
            fps=self.fps.value(), steps=self.steps.value(),
            guidance_scale=self.guidance.value(),
            seed=int(self.seed.text()) if self.seed.text() else None,
            seed_locked=self.seed_locked.isChecked(),
            denoise_strength=self.strength.value(),
            offload=self.offload.currentData(), vae_tiling=self.vae_tiling.currentData(),
            decode_timestep=self.advanced_section.decode_value(self.decode_timestep),
            decode_noise_scale=self.advanced_section.decode_value(self.decode_noise_scale),
            multiscale=self.multiscale.isChecked(),
            enhance_prompt=self.prompt_section.enhancing())
        values.update(self._hidden)
        if self._caption_record:
            values.update({k: v for k, v in self._caption_record.items()
                           if not k.startswith("_")})
        if mode == "i2v":
            if self.image_source.currentText() == IMAGE_FILE:
                values["image_path"] = self.image_path.text().strip() or None
                restored = self._image_file_frame
                if restored is not None and restored[0] == values["image_path"]:
                    values["image_frame"] = restored[1]  # a restored run: that frame again
            elif self.player is not None and self.player.displayed_index is not None \
                    and self._player_path():
                # the engine decodes this frame of the file (exact, full size), so a queued
                # job needs nothing but its settings
                values["image_path"] = self._player_path()
                values["image_frame"] = self.player.displayed_index
                if getattr(self.player, "clip_id", None) is not None:
                    values["source_clip_id"] = self.player.clip_id
        elif mode in VIDEO_MODES:
            source = self._video_source()
            if source is not None:
                values.update(source_path=source.path, source_clip_id=source.clip_id,
                              source_in_frame=source.in_frame,
                              source_out_frame=source.out_frame)
        elif mode == "condition":
            values["conditions"] = self.conditions_editor.conditions(P)
        return P.GenerationParams(**values)

    def _player_path(self) -> str | None:
        return getattr(self.player, "_path", None)

    def apply_params(self, params) -> None:
        """Fill every field from ``params`` (a GenerationParams): Restore settings."""
        self._filling = True
        try:
            if params.model:
                self.set_model(params.model)
            self._fill_modes(params.model)
            index = self.mode.findData(params.mode)
            if index >= 0:
                self.mode.setCurrentIndex(index)
            else:
                rules = self._P.rules_for(params.model)
                self.status_message.emit(
                    f"{rules.title} does not do "
                    f"{self._P.MODE_TITLES.get(params.mode, params.mode).lower()}: "
                    f"{self.mode.currentText().lower()} instead")
            self.prompt.setPlainText(params.prompt)
            self.negative.setPlainText(params.negative_prompt)
            self._fill_presets(params.model)
            self.width_spin.setValue(params.width)
            self.height_spin.setValue(params.height)
            self._sync_preset()
            self.frames.setValue(params.num_frames)
            self.fps.setValue(params.fps)
            self.steps.setValue(params.steps)
            self.guidance.setValue(params.guidance_scale)
            self.strength.setValue(params.denoise_strength)
            self.seed.setText("" if params.seed is None else str(params.seed))
            self.seed_locked.setChecked(params.seed_locked)
            self.advanced_section.fill(params, self._P.rules_for(params.model))
            self._show_enhancement(params)
            if params.image_path and params.mode == "i2v":
                # a still, or a frame of a video (a player's frame): the same picture again
                self._image_file_frame = (None if params.image_frame is None else
                                          (params.image_path, params.image_frame))
                self.image_source.setCurrentText(IMAGE_FILE)
                self.image_path.setText(params.image_path)
            if params.mode in VIDEO_MODES and params.source_path:
                self.source_section.set_video_file(
                    params.source_path, (params.source_in_frame, params.source_out_frame,
                                         params.source_clip_id))
            self.conditions_editor.set_conditions(params.conditions)
            self._hidden = {name: getattr(params, name) for name in HIDDEN_FIELDS}
            self._caption_record = ({"caption": params.caption,
                                     "template_id": params.template_id,
                                     "source_clip_id": params.source_clip_id}
                                    if params.caption else None)
        finally:
            self._filling = False
        self._on_mode_changed()
        self.revalidate()

    @Slot()
    def save_state(self) -> None:
        """Keep the fields as they are now in the project (``_restore_state`` brings them
        back); done by itself a moment after each change."""
        self._state_timer.stop()
        if self.project.closed:  # the window is going away after its project
            return
        try:
            state = self.params().to_dict()
        except ValueError:  # ParamsError, half-typed: the last good state stays
            return
        self.project_model.save_panel_state(PANEL_STATE, state)

    def _restore_state(self) -> None:
        state = self.project.panel_state(PANEL_STATE)
        if state is None:
            return
        try:
            params = self._P.GenerationParams.from_dict(state)
        except (ValueError, TypeError):  # ParamsError: kept by another Studio, say
            return
        self.apply_params(params)

    @Slot(object)
    def restore(self, params) -> None:
        """Restore settings: fill from a result's params with its seed locked (the same
        settings and seed make the same video)."""
        self.model.setProperty("model_chosen", True)  # kept, here or not
        self.apply_params(params.replace(seed_locked=params.seed is not None))
        self.seed_used.setText(f"Seed: {params.seed} (restored)")

    def _fill_presets(self, model) -> None:
        self.size_section.fill_presets(self._P.rules_for(model).presets)

    def _sync_preset(self) -> None:
        self.size_section.sync_preset()

    @Slot(int)
    def _on_model_changed(self, _index: int) -> None:
        model = self.current_model()
        if model is None or self._filling:
            return
        # the new model's own defaults for its sizes and schedule; the prompt stays
        d = self._P.GenerationParams.defaults(model)
        keep = self.params()
        self.apply_params(d.replace(mode=keep.mode, prompt=keep.prompt, seed=keep.seed,
                                    seed_locked=keep.seed_locked,
                                    enhance_prompt=self.enhance_prompt.isChecked(),
                                    conditions=self.conditions_editor.conditions(self._P)))

    @Slot(int)
    def _on_mode_changed(self, *_args) -> None:
        self.source_section.show_mode(self.mode.currentData())
        self._show_multiscale()
        self._set_notice("")
        self._changed()

    def _selected_clip(self):
        clips = self._clip_source() or []
        return clips[0] if clips else None

    # -- sources of the video modes and conditions ----------------------------------------
    def _video_source(self) -> VideoSource | None:
        """The clip video to video and extend start from (the bin's selected clip, the
        player's clip or a video file) with its in/out range; None when there is none."""
        choice = self.video_source.currentText()
        if choice == SELECTED_CLIP:
            clip = self._selected_clip()
            if clip is None:
                return None
            return VideoSource(clip.path, clip.id, clip.in_frame, clip.out_frame, clip.name)
        if choice == PLAYER_CLIP:
            path = self._player_path()
            if not path:
                return None
            in_frame, out_frame = getattr(self.player, "in_out", (None, None))
            return VideoSource(path, getattr(self.player, "clip_id", None), in_frame,
                               out_frame, Path(path).name)
        path = self.video_path.text().strip()
        if not path:
            return None
        in_frame, out_frame, clip_id = self.source_section.video_file
        return VideoSource(path, clip_id, in_frame, out_frame, Path(path).name)

    def _video_source_text(self, mode: str) -> str:
        source = self._video_source()
        if source is None:
            return f"Source: {_MISSING_VIDEO[self.video_source.currentText()]}"
        span = (f"frames {source.in_frame or 0}.."
                f"{source.out_frame if source.out_frame is not None else 'end'}")
        if mode == "extend":
            return f"Extends {source.name} ({span}): the new video continues from its last frames"
        return f"Source: {source.name} {span}"

    def _player_frame(self) -> tuple[str, int] | None:
        """The player's file and the index of the frame it shows, or None."""
        path = self._player_path()
        index = getattr(self.player, "displayed_index", None)
        return (path, index) if path and index is not None else None

    @Slot()
    def refresh_sources(self) -> None:
        """Re-read the selected clip and the player's clip (the window calls it when the
        bin's selection changes)."""
        self._changed()

    def _fill_modes(self, model) -> None:
        """Offer the modes ``model``'s rules allow (a Wan or CogVideoX model: text to video)."""
        self.model_section.fill_modes(self._P.rules_for(model).modes)

    # -- advanced -------------------------------------------------------------------------
    def _multiscale_applies(self) -> bool:
        """Whether the Multi-scale box means anything: the model has the recipe and the mode
        follows it (video to video denoises its source's latent in one pass)."""
        return (self._P.rules_for(self.current_model()).multiscale is not None
                and self.mode.currentData() != "v2v")

    def _show_multiscale(self) -> None:
        self.advanced_section.show_multiscale()
        recipe = self._P.rules_for(self.current_model()).multiscale
        if isinstance(recipe, self._P.TwoStage):
            self.multiscale.setToolTip(
                "The model's two-stage recipe: stage 1 at half the size, the latent upsampler "
                f"doubles it, stage 2 refines it ({recipe.refine_steps()} steps) with the "
                "sound.\nUnchecked: one pass at the full size.")
        elif recipe is not None:
            self.multiscale.setToolTip(self.advanced_section.MULTISCALE_TIP)

    def _show_enhancement(self, params) -> None:
        """The Enhance prompt box for ``params``' model: there for LTX-2 only, and disabled
        with the reason where the model cannot enhance (core.enhancement)."""
        from studio.core.enhancement import prompt_enhancement

        self.prompt_section.show_enhancement(prompt_enhancement(params.model),
                                             params.enhance_prompt)

    def _cost_text(self, cp) -> str:
        """The latent, the token count and the peak-memory estimate for the memory settings
        chosen; with automatic ones, from everything on the GPU down to the most frugal
        settings they may take (the GPU's free memory decides before the run)."""
        P = self._P
        options = P.memory_options(cp)
        first = P.cost(cp, **options[0].cost_kwargs())
        shape = "×".join(str(v) for v in first.latent_shape)
        text = (self._passes_text(cp) + f"Latent {shape} · N = {first.tokens:,} tokens · "
                f"peak memory ≈ {first.peak_memory_estimate_gb:.1f} GB")
        if len(options) == 1:
            return text + f" with {P.describe_memory(*options[0])} (estimate)"
        last = P.cost(cp, **options[-1].cost_kwargs())  # with LTX-2's fp8 weights
        if last.peak_memory_estimate_gb == first.peak_memory_estimate_gb:
            return text + " (estimate)"
        return (text + f", {last.peak_memory_estimate_gb:.1f} GB with "
                f"{P.describe_memory(*options[-1])} (estimates; the automatic settings follow "
                "the GPU's free memory)")

    def _passes_text(self, cp) -> str:
        """The passes of a multi-scale run of ``cp`` (conformed), as a line of its own: "2
        passes: 512×320 (8 steps), then 1024×640 (upsampled, 4 steps), shown at 768×512";
        "" for one pass. The latent and tokens after it are the refine pass's."""
        P = self._P
        rules = P.rules_for(cp.model)
        recipe = P.multiscale_recipe(cp, rules)
        if recipe is None:
            return ""
        (w1, h1), (w2, h2) = (recipe.first_size(cp.width, cp.height, rules.size_multiple),
                              recipe.refine_size(cp.width, cp.height, rules.size_multiple))
        shown = "" if (w2, h2) == (cp.width, cp.height) else f", shown at {cp.width}×{cp.height}"
        return (f"2 passes: {w1}×{h1} ({cp.steps} steps), then {w2}×{h2} (upsampled, "
                f"{recipe.refine_steps()} steps){shown}\n")

    def _check_sources(self, p) -> None:
        """A missing source, with what to do about it (conform only says it is missing)."""
        P = self._P
        if p.mode == "i2v" and not p.image_path:
            raise P.ParamsError("image_path", "choose an image file or show a frame in the player")
        if p.mode in VIDEO_MODES and not p.source_path:
            raise P.ParamsError("source_path", _MISSING_VIDEO[self.video_source.currentText()])

    def _check_files(self, p) -> None:
        """Files named by the settings that are not there (a stat each: cheap)."""
        P = self._P
        if p.mode == "i2v" and p.image_path and not os.path.isfile(p.image_path):
            raise P.ParamsError("image_path", f"{p.image_path}: file not found")
        if p.mode in VIDEO_MODES and p.source_path and not os.path.isfile(p.source_path):
            raise P.ParamsError("source_path", f"{p.source_path}: file not found")
        if p.mode == "condition":
            for i, cond in enumerate(p.conditions):
                if not os.path.isfile(cond.path):
                    raise P.ParamsError(f"conditions[{i}].path", f"{cond.path}: file not found")

    def _error_text(self, error) -> str:
        row = _condition_row_of(error.field)
        if row is not None:  # the rows are numbered from 1 on screen
            return f"Condition {row + 1} ({error.field}): {error.message}"
        return f"{error.field}: {error.message}"

    def _mark_condition_rows(self, error) -> None:
        bad = _condition_row_of(error.field) if error is not None else None
        for i, row in enumerate(self.conditions_editor.rows):
            row.number.setStyleSheet("color: #d33; font-weight: bold;" if i == bad else "")

    @Slot(str)
    def _say(self, text: str) -> None:
        """A message about something the person asked for that could not be done."""
        self.error_label.setText(text)
        self.error_label.setVisible(True)
        self.status_message.emit(text)

    def _set_notice(self, text: str) -> None:
        self.notice_label.setText(text)
        self.notice_label.setVisible(bool(text))

    # -- drops ----------------------------------------------------------------------------
    def paths_it_takes(self, mime) -> list[str]:
        return local_files(mime)

    def take_dropped(self, paths: list[str]) -> None:
        self.drop_file(paths[0], others=len(paths) - 1)

    def eventFilter(self, watched, event) -> bool:
        # files dropped on the text fields come to the panel (they would paste the file's URL)
        kind = event.type()
        if kind in _DRAG_EVENTS and local_files(event.mimeData()):
            if kind == QEvent.Type.Drop:
                self.dropEvent(event)
            else:
                event.acceptProposedAction()
            return True
        return super().eventFilter(watched, event)

    def _route_drops(self, widgets) -> None:
        for widget in widgets:
            for w in (widget, *widget.findChildren(QWidget)):
                if w.acceptDrops():
                    w.installEventFilter(self)

    @Slot(object)
    def _on_condition_row_added(self, row) -> None:
        self._route_drops(row.widgets)

    def drop_file(self, path: str, *, others: int = 0) -> None:
        """Take a dropped file: a Studio generation (or its sidecar) refills the panel as
        Restore settings does; a plain picture becomes the image of image to video, a plain
        clip the source of video to video (or of extend, in that mode); in "Conditions at
        frames" either becomes a new condition. The file is read on a pool thread;
        ``drop_handled`` (ok, message) reports the outcome, which the panel also shows. A file
        Studio cannot use changes nothing."""
        self._drop_serial += 1
        self._drop_others = others
        self._set_notice(f"Reading {Path(path).name}…")
        self._drop_workers.run(_read_drop, self._drop_serial, os.fspath(path),
                               str(self.project.root), returned=self._on_drop_read)

    @Slot(object)
    def _on_drop_read(self, read: tuple) -> None:
        serial, path, kind, payload = read
        if serial != self._drop_serial:
            return  # a later drop replaced this one
        warnings = []
        if kind == "generation":
            payload, warnings = payload
            self.restore(payload)
            ok, message = True, f"Restored the settings of {Path(path).name}" + (
                f" (seed {payload.seed})" if payload.seed is not None else "")
        elif kind == "media":
            ok, message = self._use_dropped_media(path, payload)
        else:
            ok, message = False, str(payload)
        if ok and self._drop_others:
            message += (f"; the other {self._drop_others} dropped "
                        f"file{'s' if self._drop_others > 1 else ''} were left alone")
        if ok:
            self._set_notice(message)
            if warnings:  # restored, but what it names is not all here: said in red
                self.error_label.setText("But " + "; ".join(warnings) + ".")
                self.error_label.setVisible(True)
                message += "; but " + "; ".join(warnings)
        else:
            self._set_notice("")
            self.error_label.setText(message)
            self.error_label.setVisible(True)
        self.status_message.emit(message)
        self.drop_handled.emit(ok, message)

    def _use_dropped_media(self, path: str, info) -> tuple[bool, str]:
        P = self._P
        name = Path(path).name
        is_video = info.kind == "video"
        mode = self.mode.currentData()
        if mode == "condition":
            index = 0 if is_video else None
            self.conditions_editor.add(path, self.conditions_editor.next_frame_index(), 1.0,
                                       index, index)
            n = len(self.conditions_editor.rows)
            return True, (f"{name}: condition {n}" + (", its first frame" if is_video else ""))
        target = ("extend" if mode == "extend" else "v2v") if is_video else "i2v"
        rules = P.rules_for(self.current_model())
        if target not in rules.modes:
            return False, (f"{path}: {rules.title} does not do "
                           f"{P.MODE_TITLES[target].lower()}, so this "
                           f"{'clip' if is_video else 'picture'} cannot be its source; nothing "
                           "was changed")
        if is_video:
            self.source_section.set_video_file(path)
        else:
            self.source_section.set_image_file(path)
        self.mode.setCurrentIndex(self.mode.findData(target))
        if target == "i2v":
            return True, f"{name}: image to video from this picture ({info.width}×{info.height})"
        frames = f"{'about ' if info.frame_count_estimated else ''}{info.frame_count} frames"
        if target == "extend":
            return True, f"{name}: extending this clip ({frames})"
        return True, f"{name}: video to video from this clip ({frames})"

    @Slot()
    def _prompt_edited(self) -> None:
        if not self._filling and self._caption_record is not None \
                and self.prompt.toPlainText() != self._caption_record.get("_prompt"):
            # the person rewrote it: keep the record of where it came from, minus the claim
            # that this text is the template's output
            self._caption_record = {k: v for k, v in self._caption_record.items()
                                    if k != "_prompt"}

    # -- live rules -----------------------------------------------------------------------
    @Slot()
    def _changed(self, *_args) -> None:
        if not self._filling:
            self._sync_preset()
            self._recheck.start()

    def revalidate(self) -> None:
        """conform() the current values now: show the changes, the field error or the cost."""
        self._state_timer.start()
        P = self._P
        p = self.params()
        if p.fps > 0:
            self.duration.setText(f"= {p.num_frames / p.fps:.2f} s")
        else:
            self.duration.setText("")
        self._conformed, self._error = None, None
        try:
            params_error = None
            self._check_sources(p)
            conformed = P.conform(p.replace(seed=p.seed if p.seed_locked and p.seed is not None else 0))
            self._check_files(conformed.params)
            self._conformed = conformed
        except P.ParamsError as exc:
            params_error = exc
        if params_error is not None:
            self._error = params_error
            self.changes_label.setText("")
            if params_error.field == "prompt" and not p.prompt.strip():
                # Nothing written yet is not a mistake: a hint, not an error in red.
                self.error_label.setText("")
                self.cost_label.setText(EMPTY_PROMPT_HINT)
            else:
                self.error_label.setText(self._error_text(params_error))
                self.cost_label.setText("")
        else:
            self.error_label.setText("")
            changes = [c for c in self._conformed.changes if c.field != "seed"]
            self.changes_label.setText(
                "\n".join(f"Will change {c.field} {c.before} → {c.after} ({c.reason})"
                          for c in changes))
            cp = self._conformed.params
            if cp.num_frames != p.num_frames and cp.fps > 0:
                self.duration.setText(f"= {cp.num_frames / cp.fps:.2f} s ({cp.num_frames} frames)")
            self.cost_label.setText(self._cost_text(cp))
        self._mark_condition_rows(params_error)
        if p.mode in VIDEO_MODES:
            self.source_label.setText(self._video_source_text(p.mode))
        elif p.mode == "i2v" and self.image_source.currentText() == PLAYER_FRAME:
            self.source_label.setText(
                f"Frame {p.image_frame} of the player" if p.image_frame is not None
                else "Show a frame in the player")
        elif p.mode == "i2v" and p.image_frame is not None:
            self.source_label.setText(f"Frame {p.image_frame} of "
                                      f"{os.path.basename(p.image_path or '')}")
        else:
            self.source_label.setText("")
        for label in (self.error_label, self.changes_label, self.cost_label):
            label.setVisible(bool(label.text()))
        self.source_section.show_text(self.source_label.text())
        self.advanced_summary.setText(self.advanced_section.summary_text())
        self._update_buttons()

    @property
    def error(self):
        """The ParamsError of the current values, or None."""
        return self._error

    @property
    def conformed(self):
        return self._conformed

    def _update_buttons(self) -> None:
        self.generate_button.setEnabled(self._error is None and self.queue is not None)
        self.generate_button.setText("Generate" if self._editing is None
                                     else f"Update job #{self._editing}")
        self.stop_edit_button.setVisible(self._editing is not None)
        self.cancel_button.setEnabled(self._job_id is not None)

    # -- prompt from caption --------------------------------------------------------------
    def prompt_from_caption(self) -> bool:
        """Fill the prompt from the selected clip's current caption; False when there is none."""
        from studio.core.prompts import PromptError, from_caption

        clip = self._selected_clip()
        caption = self.project.current_caption(clip.id) if clip is not None else None
        if caption is None or not caption.text.strip():
            self.status_message.emit("Prompt from caption: select a captioned clip first")
            self.error_label.setText("Prompt from caption: select a captioned clip first")
            self.error_label.setVisible(True)
            return False
        try:
            tpl = self.templates.get(self.template.currentData())
        except PromptError as exc:
            self.error_label.setText(str(exc))
            self.error_label.setVisible(True)
            return False
        made = from_caption(tpl, caption.text)
        self._filling = True
        try:
            self.prompt.setPlainText(made.prompt)
        finally:
            self._filling = False
        self._caption_record = {"caption": made.caption, "template_id": made.template_id,
                                "source_clip_id": clip.id, "_prompt": made.prompt}
        self._changed()
        return True

    # -- run ------------------------------------------------------------------------------
    def generate(self) -> int | None:
        """Queue the current settings (or, while editing a queued job, update that job); the
        job's queue id, or None (the error is shown)."""
        self._recheck.stop()
        self.revalidate()
        if self._error is not None or self.queue is None:
            return None
        from studio.core.library import ProjectError

        params = self.params()
        params = params.replace(**{k: v for k, v in (self._caption_record or {}).items()
                                   if not k.startswith("_")}).for_run()
        if self._editing is not None:
            editing = self._editing
            self.stop_editing()
            try:
                job = self.queue.update(editing, params)
            except ProjectError:
                self.error_label.setText(f"Job #{editing} has already started or left the "
                                         "queue; Generate queues a new job.")
                self.error_label.setVisible(True)
                return None
            self.status_message.emit(f"Job #{job.id} updated (seed {params.seed})")
            return job.id
        try:
            job = self.queue.add(params)
        except ProjectError as err:  # a project open read-only, a full disk
            self.error_label.setText(f"Not queued: {err}")
            self.error_label.setVisible(True)
            return None
        self._job_id, self._job_seed = job.id, params.seed
        self.seed_used.setText(f"Seed: {params.seed} (job #{job.id}, queued)")
        self._update_buttons()
        self.job_submitted.emit(job.id, params)
        return job.id

    def edit_job(self, queue_id: int) -> bool:
        """Load a queued job's settings to edit them; Generate then updates that job."""
        from studio.core.params import ParamsError

        try:
            params = self.queue.params_of(queue_id)
        except ParamsError as err:
            self.status_message.emit(f"Job #{queue_id}: unreadable settings: {err}")
            return False
        self.restore(params)
        self._caption_record = None
        self._editing = queue_id
        self.seed_used.setText(f"Seed: {params.seed} (editing job #{queue_id})")
        self._update_buttons()
        return True

    def stop_editing(self) -> None:
        """Leave editing: Generate queues a new job again."""
        self._editing = None
        self._update_buttons()

    @Slot()
    def _on_generate_pressed(self) -> None:
        self._generate_pressed_at = time.monotonic()

    @Slot()
    def _on_cancel_clicked(self) -> None:
        """Cancel, unless the click is the second of a double click begun on Generate."""
        if time.monotonic() - self._generate_pressed_at < CANCEL_GUARD_S:
            return
        self.cancel()

    def cancel(self) -> None:
        """Cancel the job this panel queued last (queued or running)."""
        if self._job_id is not None and self.queue is not None:
            self.queue.cancel(self._job_id)

    @Slot(list)
    def _on_jobs_changed(self, job_ids: list) -> None:
        """A job this panel names removed from the queue (it ends no other way): the seed
        line says so, Cancel has nothing left to cancel, editing stops."""
        from studio.core.library import UnknownIdError

        for queue_id in {self._job_id, self._editing} & set(job_ids) - {None}:
            try:
                self.project.job(queue_id)
                continue
            except UnknownIdError:
                pass
            if queue_id == self._editing:
                self.stop_editing()
                self.seed_used.setText(f"Job #{queue_id} was removed: Generate queues a new job")
            if queue_id == self._job_id:
                self._job_id = None
                self.seed_used.setText(f"Seed: {self._job_seed} (job #{queue_id} removed)")
                self._update_buttons()

    @Slot(int)
    def _on_queue_job_started(self, queue_id: int) -> None:
        if queue_id == self._job_id:
            self.seed_used.setText(f"Seed: {self._job_seed} (job #{queue_id}, running)")

    @Slot(int, str, str)
    def _on_queue_job_ended(self, queue_id: int, state: str, _message: str) -> None:
        if queue_id == self._editing:
            self.stop_editing()
        if queue_id != self._job_id:
            return
        self._job_id = None
        self._availability.refresh()  # a model may have come or gone meanwhile
        self.seed_used.setText(f"Seed used: {self._job_seed}" if state == "done"
                               else f"Seed: {self._job_seed} ({state})")
        self._update_buttons()
