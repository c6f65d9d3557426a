"""The prompt panel: every setting of a generation, checked live, and Generate / Cancel.

As values change, ``studio.core.params.conform`` runs: the changes it will make are listed
before the run ("frames 100 -> 97 (...)"), a value outside any sane range shows its
``ParamsError`` naming the field and disables Generate, and the cost line shows the latent
shape, the token count N and the peak-memory estimate. Generate submits an
``studio.inference.engine.GenerateJob`` to the window's ``ModelManager`` with the project folder
for results; Cancel cancels it. "Prompt from caption" fills the prompt from the selected clip's
current caption through a template (``studio.core.prompts``), recording the raw caption.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PySide6.QtCore import QRegularExpression, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QImage, QRegularExpressionValidator
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

LOCAL_FOLDER = "Local folder…"
PLAYER_FRAME = "Player's current frame"
IMAGE_FILE = "Image file"
CUSTOM_SIZE = "Custom"
MODES = (("t2v", "Text to video"), ("i2v", "Image to video"), ("v2v", "Video to video"))


def qimage_to_rgb(image: QImage) -> np.ndarray:
    """An RGB uint8 (H, W, 3) copy of ``image`` (already decoded: no file or codec work)."""
    img = image.convertToFormat(QImage.Format.Format_RGB888)
    w, h, bpl = img.width(), img.height(), img.bytesPerLine()
    data = np.frombuffer(img.constBits(), np.uint8, count=bpl * h).reshape(h, bpl)
    return data[:, :w * 3].reshape(h, w, 3).copy()


class PromptPanel(QWidget):
    job_submitted = Signal(int, object)  # job id, GenerationParams of the run (with its seed)
    status_message = Signal(str)

    def __init__(self, project, parent: QWidget | None = None, *, manager=None, player=None,
                 clip_source: Callable[[], list] | None = None, template_store=None):
        super().__init__(parent)
        from studio.core import params as P
        from studio.core.prompts import TemplateStore

        self._P = P
        self.project = project
        self.manager = None
        self.player = player
        self._clip_source = clip_source or (lambda: [])
        self.templates = template_store if template_store is not None else TemplateStore()
        self._job_id: int | None = None
        self._conformed = None
        self._error = None
        self._caption_record: dict | None = None  # caption, template_id of the last fill
        self._filling = False
        self.preview_every: int | None = None  # steps between latent previews (None: engine's)

        self.model = QComboBox()
        from studio.inference import registry

        for spec in registry.models("generator"):
            self.model.addItem(spec.title, spec.id)
        self.model.addItem(LOCAL_FOLDER, None)
        self.model.setCurrentIndex(0)
        self.model.activated.connect(self._on_model_activated)
        self.model.currentIndexChanged.connect(self._on_model_changed)

        self.mode = QComboBox()
        for key, title in MODES:
            self.mode.addItem(title, key)
        self.mode.currentIndexChanged.connect(self._on_mode_changed)
        self.image_source = QComboBox()
        self.image_source.addItems([PLAYER_FRAME, IMAGE_FILE])
        self.image_path = QLineEdit()
        self.image_path.setPlaceholderText("an image file")
        self.image_browse = QPushButton("Browse…")
        self.image_browse.clicked.connect(self._browse_image)
        self.strength = QDoubleSpinBox()
        self.strength.setRange(0.0, 1.0)
        self.strength.setSingleStep(0.05)
        self.strength.setValue(0.6)
        self.source_label = QLabel()
        self.source_label.setWordWrap(True)

        self.prompt = QPlainTextEdit()
        self.prompt.setPlaceholderText("Describe the video: action, details, camera, lighting")
        self.prompt.setMaximumHeight(90)
        self.negative = QPlainTextEdit()
        self.negative.setMaximumHeight(50)
        self.template = QComboBox()
        for tpl in self.templates.templates():
            self.template.addItem(tpl.name, tpl.id)
        self.from_caption_button = QPushButton("Prompt from caption")
        self.from_caption_button.clicked.connect(self.prompt_from_caption)

        self.size_preset = QComboBox()
        self.width_spin = QSpinBox()
        self.height_spin = QSpinBox()
        for spin in (self.width_spin, self.height_spin):
            spin.setRange(0, 100_000)
            spin.setSingleStep(32)
        self.size_preset.currentIndexChanged.connect(self._on_preset)
        self.frames = QSpinBox()
        self.frames.setRange(0, 100_000)
        self.fps = QDoubleSpinBox()
        self.fps.setRange(0.0, 10_000.0)
        self.fps.setDecimals(2)
        self.duration = QLabel()
        self.steps = QSpinBox()
        self.steps.setRange(0, 100_000)
        self.guidance = QDoubleSpinBox()
        self.guidance.setRange(0.0, 1000.0)
        self.guidance.setSingleStep(0.5)
        self.seed = QLineEdit()
        self.seed.setPlaceholderText("random")
        self.seed.setValidator(QRegularExpressionValidator(QRegularExpression(r"\d{0,20}")))
        self.seed.setMaximumWidth(120)
        self.seed_locked = QCheckBox("Lock seed")
        self.seed_used = QLabel("Seed: random")
        self.seed_used.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

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
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)

        form = QFormLayout()
        form.addRow("Model", self.model)
        form.addRow("Mode", self.mode)
        image_row = QHBoxLayout()
        image_row.addWidget(self.image_source)
        image_row.addWidget(self.image_path, 1)
        image_row.addWidget(self.image_browse)
        self._image_row = QWidget()
        self._image_row.setLayout(image_row)
        image_row.setContentsMargins(0, 0, 0, 0)
        form.addRow("Image", self._image_row)
        form.addRow("Strength", self.strength)
        form.addRow("", self.source_label)
        form.addRow("Prompt", self.prompt)
        form.addRow("Negative", self.negative)
        cap_row = QHBoxLayout()
        cap_row.setContentsMargins(0, 0, 0, 0)
        cap_row.addWidget(self.template, 1)
        cap_row.addWidget(self.from_caption_button)
        form.addRow("Template", cap_row)
        size_row = QHBoxLayout()
        size_row.addWidget(self.size_preset)
        size_row.addWidget(self.width_spin)
        size_row.addWidget(QLabel("×"))
        size_row.addWidget(self.height_spin)
        form.addRow("Size", size_row)
        frames_row = QHBoxLayout()
        frames_row.addWidget(self.frames)
        frames_row.addWidget(QLabel("at"))
        frames_row.addWidget(self.fps)
        frames_row.addWidget(QLabel("fps"))
        frames_row.addWidget(self.duration, 1)
        form.addRow("Frames", frames_row)
        form.addRow("Steps", self.steps)
        form.addRow("Guidance", self.guidance)
        seed_row = QHBoxLayout()
        seed_row.addWidget(self.seed)
        seed_row.addWidget(self.seed_locked)
        seed_row.addWidget(self.seed_used, 1)
        form.addRow("Seed", seed_row)

        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.generate_button)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.changes_label)
        layout.addWidget(self.error_label)
        layout.addWidget(self.cost_label)
        layout.addLayout(buttons)
        layout.addStretch(1)

        # live rules: re-check shortly after any change (one pass per burst of edits)
        self._recheck = QTimer(self)
        self._recheck.setSingleShot(True)
        self._recheck.setInterval(60)
        self._recheck.timeout.connect(self.revalidate)
        for spin in (self.width_spin, self.height_spin, self.frames, self.steps):
            spin.valueChanged.connect(self._changed)
        for spin in (self.fps, self.guidance, self.strength):
            spin.valueChanged.connect(self._changed)
        for edit in (self.prompt, self.negative):
            edit.textChanged.connect(self._changed)
        self.image_path.textChanged.connect(self._changed)
        self.seed.textChanged.connect(self._changed)
        self.image_source.currentIndexChanged.connect(self._changed)
        self.seed_locked.toggled.connect(self._changed)
        self.prompt.textChanged.connect(self._prompt_edited)

        self.apply_params(P.GenerationParams.defaults(self.model.currentData()))
        self._on_mode_changed()
        if manager is not None:
            self.set_manager(manager)

    # -- wiring ---------------------------------------------------------------------------
    def set_manager(self, manager) -> None:
        self.manager = manager
        manager.job_finished.connect(self._on_job_finished)
        manager.job_failed.connect(self._on_job_ended)
        manager.job_cancelled.connect(self._on_job_cancelled)

    @property
    def job_id(self) -> int | None:
        """The job this panel submitted that has not ended yet."""
        return self._job_id

    # -- values ---------------------------------------------------------------------------
    def current_model(self) -> str | None:
        return self.model.currentData()

    def set_model(self, model: str) -> None:
        """Select ``model`` (a registry id or a local folder, added to the list)."""
        index = self.model.findData(model)
        if index < 0:
            from pathlib import Path

            self.model.insertItem(self.model.count() - 1, Path(model).name or model, model)
            self.model.setItemData(self.model.count() - 2, model, Qt.ItemDataRole.ToolTipRole)
            index = self.model.count() - 2
        self.model.setCurrentIndex(index)

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
            denoise_strength=self.strength.value())
        if self._caption_record:
            values.update({k: v for k, v in self._caption_record.items()
                           if not k.startswith("_")})
        if mode == "i2v":
            if self.image_source.currentText() == IMAGE_FILE:
                values["image_path"] = self.image_path.text().strip() or None
            elif self.player is not None and self.player.displayed_image is not None \
                    and self.player.displayed_index is not None:
                # the engine gets the pixels (GenerateJob.image); the path is the record
                values["image_path"] = self._player_path() or "player-frame"
                values["image_frame"] = self.player.displayed_index
                if getattr(self.player, "clip_id", None) is not None:
                    values["source_clip_id"] = self.player.clip_id
        elif mode == "v2v":
            clip = self._selected_clip()
            if clip is not None:
                values["source_path"] = clip.path
                values["source_clip_id"] = clip.id
                values["source_in_frame"] = clip.in_frame
                values["source_out_frame"] = clip.out_frame
        return P.GenerationParams(**values)

    def _player_path(self) -> str | None:
        return getattr(self.player, "_path", None)

    def apply_params(self, params) -> None:
        """Fill every field from ``params`` (a GenerationParams): Restore settings."""
        self._filling = True
        try:
            if params.model:
                self.set_model(params.model)
            index = self.mode.findData(params.mode)
            if index >= 0:
                self.mode.setCurrentIndex(index)
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
            if params.image_path and params.image_frame is None:
                self.image_source.setCurrentText(IMAGE_FILE)
                self.image_path.setText(params.image_path)
            self._caption_record = ({"caption": params.caption,
                                     "template_id": params.template_id,
                                     "source_clip_id": params.source_clip_id}
                                    if params.caption else None)
        finally:
            self._filling = False
        self._on_mode_changed()
        self.revalidate()

    @Slot(object)
    def restore(self, params) -> None:
        """Restore settings: fill from a result's params with its seed locked (the same
        settings and seed make the same video)."""
        self.apply_params(params.replace(seed_locked=params.seed is not None))
        self.seed_used.setText(f"Seed: {params.seed} (restored)")

    def _fill_presets(self, model) -> None:
        rules = self._P.rules_for(model)
        self.size_preset.blockSignals(True)
        self.size_preset.clear()
        for w, h in rules.presets:
            self.size_preset.addItem(f"{w}×{h}", f"{w}x{h}")
        self.size_preset.addItem(CUSTOM_SIZE, None)
        self.size_preset.blockSignals(False)

    def _sync_preset(self) -> None:
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

    @Slot(int)
    def _on_model_activated(self, index: int) -> None:
        if self.model.itemText(index) == LOCAL_FOLDER and self.model.itemData(index) is None:
            folder = QFileDialog.getExistingDirectory(self, "Choose a diffusers model folder")
            if folder:
                self.set_model(folder)
            else:
                self.model.setCurrentIndex(0)

    @Slot(int)
    def _on_model_changed(self, _index: int) -> None:
        model = self.current_model()
        if model is None or self._filling:
            return
        # the new model's own defaults for its sizes and schedule; the prompt stays
        d = self._P.GenerationParams.defaults(model)
        keep = self.params()
        self.apply_params(d.replace(mode=keep.mode, prompt=keep.prompt, seed=keep.seed,
                                    seed_locked=keep.seed_locked))

    @Slot(int)
    def _on_mode_changed(self, *_args) -> None:
        mode = self.mode.currentData()
        self._image_row.setVisible(mode == "i2v")
        self.strength.setVisible(mode == "v2v")
        label = self.layout().itemAt(0).layout().labelForField(self.strength)
        if label is not None:
            label.setVisible(mode == "v2v")
        label = self.layout().itemAt(0).layout().labelForField(self._image_row)
        if label is not None:
            label.setVisible(mode == "i2v")
        self._changed()

    def _browse_image(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Image for image to video", "",
                                              "Images (*.png *.jpg *.jpeg *.webp *.bmp)")
        if path:
            self.image_source.setCurrentText(IMAGE_FILE)
            self.image_path.setText(path)

    def _selected_clip(self):
        clips = self._clip_source() or []
        return clips[0] if clips else None

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
        P = self._P
        p = self.params()
        if p.fps > 0:
            self.duration.setText(f"= {p.num_frames / p.fps:.2f} s")
        else:
            self.duration.setText("")
        self._conformed, self._error = None, None
        try:
            params_error = None
            if p.mode in ("i2v", "v2v") and not (p.image_path or p.source_path):
                raise P.ParamsError(
                    "image_path" if p.mode == "i2v" else "source_path",
                    "choose an image file or show a frame in the player" if p.mode == "i2v"
                    else "select a clip in the bin")
            self._conformed = P.conform(p.replace(seed=p.seed if p.seed_locked and p.seed is not None else 0))
        except P.ParamsError as exc:
            params_error = exc
        if params_error is not None:
            self._error = params_error
            self.error_label.setText(f"{params_error.field}: {params_error.message}")
            self.changes_label.setText("")
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
            cost = P.cost(cp)
            shape = "×".join(str(v) for v in cost.latent_shape)
            self.cost_label.setText(
                f"Latent {shape} · N = {cost.tokens:,} tokens · "
                f"peak memory ≈ {cost.peak_memory_estimate_gb:.1f} GB (estimate)")
        if p.mode == "v2v":
            clip = self._selected_clip()
            self.source_label.setText(
                f"Source: {clip.name} frames {clip.in_frame or 0}..{clip.out_frame if clip.out_frame is not None else 'end'}"
                if clip is not None else "Source: select a clip in the bin")
        elif p.mode == "i2v" and self.image_source.currentText() == PLAYER_FRAME:
            self.source_label.setText(
                f"Frame {p.image_frame} of the player" if p.image_frame is not None
                else "Show a frame in the player")
        else:
            self.source_label.setText("")
        for label in (self.error_label, self.changes_label, self.cost_label, self.source_label):
            label.setVisible(bool(label.text()))
        self._update_buttons()

    @property
    def error(self):
        """The ParamsError of the current values, or None."""
        return self._error

    @property
    def conformed(self):
        return self._conformed

    def _update_buttons(self) -> None:
        running = self._job_id is not None
        self.generate_button.setEnabled(self._error is None and not running
                                        and self.manager is not None)
        self.cancel_button.setEnabled(running)

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
        """Submit the current settings as a GenerateJob; the job id, or None (error shown)."""
        self._recheck.stop()
        self.revalidate()
        if self._error is not None or self.manager is None or self._job_id is not None:
            return None
        from studio.inference.engine import GenerateJob, new_job_id

        p = self.params()
        image = None
        if p.mode == "i2v" and p.image_frame is not None and self.player is not None:
            image = qimage_to_rgb(self.player.displayed_image)
        params = p.replace(**{k: v for k, v in (self._caption_record or {}).items()
                              if not k.startswith("_")}).for_run()
        job = GenerateJob(new_job_id(), params, project_root=str(self.project.root),
                          image=image, preview_every=self.preview_every)
        self._job_id = job.job_id
        self.seed_used.setText(f"Seed: {params.seed} (running)")
        self._update_buttons()
        self.job_submitted.emit(job.job_id, params)
        self.manager.submit(job)
        return job.job_id

    def cancel(self) -> None:
        if self._job_id is not None and self.manager is not None:
            self.manager.cancel(self._job_id)

    @Slot(int, object)
    def _on_job_finished(self, job_id: int, result) -> None:
        if job_id != self._job_id:
            return
        self._job_id = None
        seed = getattr(result, "seed", None)
        self.seed_used.setText(f"Seed used: {seed}")
        self._update_buttons()

    @Slot(int, str)
    def _on_job_ended(self, job_id: int, _message: str = "") -> None:
        if job_id == self._job_id:
            self._job_id = None
            self.seed_used.setText(self.seed_used.text().replace(" (running)", " (failed)"))
            self._update_buttons()

    @Slot(int)
    def _on_job_cancelled(self, job_id: int) -> None:
        if job_id == self._job_id:
            self._job_id = None
            self.seed_used.setText(self.seed_used.text().replace(" (running)", " (cancelled)"))
            self._update_buttons()
