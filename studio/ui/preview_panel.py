"""The preview panel: a generation's progress (step n/N, ETA; "step n/N of pass k/2" within
the pass of a two-pass, multi-scale run), its latent previews looping as
they arrive, then the result video looping in a PlayerPanel (decoded on the player's worker,
never in the GUI thread) with its sound (an LTX-2 generation's; mute and volume in its transport
bar), beside its source clip (shown without sound) for image- and video-to-video (for
conditions at frames: the first condition it can show). "Restore settings" hands the
result's settings back (``restore_requested``) for the prompt panel. Errors show as text."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from studio.inference.registry import DEMO_LABEL, DEMO_PREFIX  # a light module (no torch)
from studio.ui.elided_label import ElidedLabel
from studio.ui.player import PlayerPanel
from studio.ui.side_by_side import SideBySide

PREVIEW_INTERVAL_MS = 120
STEP_FORMAT = "step %v/%m"  # the progress bar's text outside a pass of a multi-pass run


def rgb_to_qimage(frame: np.ndarray) -> QImage:
    frame = np.ascontiguousarray(frame[..., :3], dtype=np.uint8)
    h, w = frame.shape[:2]
    return QImage(frame.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


def _titled(title: QLabel, player: PlayerPanel) -> QWidget:
    """``player`` under ``title``, a line that wraps rather than widen the dock."""
    title.setWordWrap(True)
    title.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
    box = QWidget()
    column = QVBoxLayout(box)
    column.setContentsMargins(0, 0, 0, 0)
    column.setSpacing(2)
    column.addWidget(title)
    column.addWidget(player, 1)
    return box


def _total_steps(params) -> int:
    """The steps a run of ``params`` (GenerationParams or None) takes over all its passes, as
    its progress will count them: a multi-scale run adds its refine pass's."""
    steps = getattr(params, "steps", 1) or 1
    if params is None:
        return steps
    from studio.core.params import multiscale_recipe, rules_for

    recipe = multiscale_recipe(params, rules_for(params.model))  # progress then says exactly
    return steps + (recipe.refine_steps() if recipe is not None else 0)


def _source_title(mode: str, params: dict, clip) -> str:
    """What the source player shows for a v2v, extend or i2v result."""
    if mode == "i2v" and params.get("image_frame") is None:  # a still
        return f"Source: {Path(params['image_path']).name}"
    if mode == "i2v":
        return f"Source: frame {params['image_frame']} of {clip.name}"
    verb = "Extended" if mode == "extend" else "Source"
    return f"{verb}: " + _frames_of(clip.name, params.get("source_in_frame"),
                                    params.get("source_out_frame"), clip.info.frame_count)


def _frames_of(name: str, first: int | None, last: int | None, count: int) -> str:
    """"walk.mp4, frames 4–15": a clip's inclusive range (None: from the start, to the end)."""
    return f"{name}, frames {first or 0}–{count - 1 if last is None else last}"



def _demo_first(status: str, demo: bool) -> str:
    """``status`` with the demo label in front when a demo model made the video: first, so
    that a long file name elides and the label stays (issue 16: the Preview's "Finished"
    line had none)."""
    return f"⚠ {DEMO_LABEL} · {status}" if demo else status

class PreviewPanel(QWidget):
    restore_requested = Signal(object)  # GenerationParams of the shown result

    def __init__(self, parent: QWidget | None = None, *, project=None):
        super().__init__(parent)
        self.project = project  # for the source clip's size beside the result
        self._followed = None  # the GenerationQueue of follow_queue
        self._jobs: set[int] = set()
        self._job_id: int | None = None
        self._preview: list[QImage] = []
        self._preview_index = 0
        self._preview_step: int | None = None
        self.result = None  # the last GenerateResult shown
        self._shown_params: dict | None = None  # the settings "Restore settings" gives
        self.progress_log: list[tuple[int, int]] = []  # (done, total) of the current job
        # the pass the current job is in: (index, count, steps before it, its steps)
        self._pass: tuple[int, int, int, int] | None = None

        # One line each, elided (the whole text in the tooltip): a long file name in them
        # widened the dock, and the window with it, past the screen.
        self.status = ElidedLabel("No generation yet: write a prompt and click Generate.")
        self.error_label = QLabel()
        self.error_label.setWordWrap(True)
        self.error_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.error_label.setStyleSheet("color: #d33;")
        self.error_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error_label.setAccessibleName("Generation error")
        self.progress = QProgressBar()
        self.progress.setFormat(STEP_FORMAT)
        self.progress.setValue(0)
        self.progress.setVisible(False)  # until a generation runs: "step 0/100" said nothing
        self.eta = QLabel()

        self.preview_label = QLabel()
        self.preview_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.preview_label.setMinimumSize(160, 120)
        self.preview_label.setSizePolicy(QSizePolicy.Policy.Expanding,
                                         QSizePolicy.Policy.Expanding)
        self.result_player = PlayerPanel(
            self, keyboard_shortcuts=False)  # the main player keeps the keys
        self.result_player.set_loop(True)
        self.source_player = PlayerPanel(  # the main player keeps the keys; the result the sound
            self, keyboard_shortcuts=False, sound=False)
        self.source_player.set_loop(True)
        self.source_player.setVisible(False)
        # Each under a title once the source is shown (which is which, and what the source
        # is); side by side, or the source above the result in a narrow dock.
        self.source_title = QLabel()
        self.result_title = QLabel("Result")
        self._source_box = _titled(self.source_title, self.source_player)
        self._source_box.setVisible(False)
        self.result_title.setVisible(False)  # a title only beside a source
        players = SideBySide([self._source_box, _titled(self.result_title, self.result_player)],
                             spacing=6, stacked_spacing=6, stretches=(1, 1))
        self.stack = QStackedWidget()
        self.stack.addWidget(self.preview_label)
        self.stack.addWidget(players)

        self.restore_button = QPushButton("Restore settings")
        self.restore_button.setEnabled(False)
        self.restore_button.clicked.connect(self.restore_settings)
        self.record_label = ElidedLabel()

        top = QHBoxLayout()
        top.addWidget(self.progress, 1)
        top.addWidget(self.eta)
        bottom = QHBoxLayout()
        bottom.addWidget(self.record_label, 1)
        bottom.addWidget(self.restore_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.status)
        layout.addLayout(top)
        layout.addWidget(self.stack, 1)
        layout.addWidget(self.error_label)
        layout.addLayout(bottom)

        self._timer = QTimer(self)
        self._timer.setInterval(PREVIEW_INTERVAL_MS)
        self._timer.timeout.connect(self._next_preview_frame)
        self._show_latest_generation()

    # -- state ----------------------------------------------------------------------------
    def follow_queue(self, queue) -> None:
        """Follow every run ``queue`` (a ``GenerationQueue``) starts, and show each result
        once the queue has recorded it in the project (``run_finished``)."""
        self._followed = queue
        queue.run_started.connect(self._on_run_started)
        queue.run_finished.connect(self._on_finished)

    @Slot(int, object)
    def _on_run_started(self, job_id: int, params) -> None:
        self.track(job_id, params, self._followed.handle)

    def track(self, job_id: int, params=None, handle=None) -> None:
        """Follow ``job_id``, a generation run: its ``handle`` (``ModelManager.submit``'s)
        says how it goes, failed or cancelled. A run followed already is left as it is."""
        if job_id in self._jobs:
            return
        if handle is not None:
            handle.started.connect(self._on_started)
            handle.progress.connect(self._on_progress)
            handle.pass_started.connect(self._on_pass_started)
            handle.preview.connect(self._on_preview)
            handle.failed.connect(self._on_failed)
            handle.cancelled.connect(self._on_cancelled)
        self._jobs.add(job_id)
        self._job_id = job_id
        self._params = params
        # the last result stops looping: hidden, it would decode for nobody during the run
        self.result_player.pause()
        self.source_player.pause()
        self.progress_log = []
        self.error_label.setText("")
        self.progress.setVisible(True)
        self._pass = None
        self.progress.setFormat(STEP_FORMAT)
        self.progress.setRange(0, max(1, _total_steps(params)))
        self.progress.setValue(0)
        self.eta.setText("")
        self.status.setText(f"Queued: {getattr(params, 'prompt', '')[:80]}")
        # the last result is no longer shown: its record line and settings go with it
        self.record_label.setText("")
        self._shown_params = None
        self.restore_button.setEnabled(False)
        self._preview = []
        self._preview_step = None
        self.preview_label.setText("Waiting for the first preview…")
        self.stack.setCurrentIndex(0)

    @property
    def preview_frames(self) -> list[QImage]:
        return list(self._preview)

    @property
    def preview_step(self) -> int | None:
        return self._preview_step

    @Slot(int, str)
    def _on_started(self, job_id: int, description: str) -> None:
        if job_id in self._jobs:
            self.status.setText(f"Generating: {description}")

    @Slot(int, int, int, float)
    def _on_progress(self, job_id: int, done: int, total: int, eta_s: float) -> None:
        if job_id != self._job_id:
            return
        self.progress_log.append((done, total))
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(done)
        self._show_step(done)
        self.eta.setText(f"ETA {eta_s:.0f} s" if eta_s >= 0 else "ETA …")

    @Slot(int, int, int, int, int)
    def _on_pass_started(self, job_id: int, index: int, count: int, first_step: int,
                         steps: int) -> None:
        """A denoising pass of the job began: the bar's text counts that pass's steps."""
        if job_id != self._job_id:
            return
        self._pass = (index, count, first_step, steps)
        self._show_step(first_step)

    def _show_step(self, done: int) -> None:
        """The bar's text: "step n/N" over the run, or "step n/N of pass k/2" within the
        pass of a multi-pass run (the bar itself fills over every pass)."""
        if self._pass is None or self._pass[1] < 2:
            self.progress.setFormat(STEP_FORMAT)
            return
        index, count, first_step, steps = self._pass
        n = min(max(done - first_step, 0), steps)
        self.progress.setFormat(f"step {n}/{steps} of pass {index}/{count}")

    def _run_over(self) -> None:
        """The job ended (done, failed, cancelled): no pass text is left behind."""
        self._pass = None
        self.progress.setFormat(STEP_FORMAT)

    @Slot(int, int, object)
    def _on_preview(self, job_id: int, step: int, frames) -> None:
        if job_id != self._job_id:
            return
        self._preview = [rgb_to_qimage(f) for f in np.asarray(frames)]
        self._preview_step = step
        self._preview_index = 0
        self.stack.setCurrentIndex(0)
        if not self._timer.isActive():
            self._timer.start()
        self._next_preview_frame()

    def _next_preview_frame(self) -> None:
        if not self._preview:
            return
        image = self._preview[self._preview_index % len(self._preview)]
        self._preview_index += 1
        size = self.preview_label.size()
        self.preview_label.setPixmap(QPixmap.fromImage(image).scaled(
            size, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.FastTransformation))

    @Slot(int, object)
    def _on_finished(self, job_id: int, result) -> None:
        if job_id not in self._jobs:
            return
        self._jobs.discard(job_id)
        if job_id == self._job_id:
            self._run_over()
        self.show_result(result)

    def show_result(self, result) -> None:
        """Loop ``result`` (a GenerateResult), with its source clip for i2v/v2v."""
        self.result = result
        self.progress.setVisible(True)
        self.progress.setValue(self.progress.maximum())
        self.eta.setText(f"{result.seconds:.1f} s")
        record = (f"Recorded in the project as generation #{result.generation_id}"
                  if result.generation_id is not None else
                  f"Not recorded in the project: {result.register_error}"
                  if result.register_error else "Written to disk")
        self._show(result.output, result.frames, result.fps, result.params or {},
                   _demo_first(f"Finished: {Path(result.output).name} · seed {result.seed}",
                               result.demo),
                   f"{record}\n{result.output}", play=True)

    def _show_latest_generation(self) -> None:
        """A new session: the project's last generation that is still on disk, if any."""
        if self.project is None:
            return
        for generation in reversed(self.project.generations()):
            if generation.info is not None and os.path.isfile(generation.path):
                self.show_generation(generation)
                return

    def show_generation(self, generation) -> None:
        """Show ``generation`` (a project record) at its first frame, paused, beside its
        source; Restore settings gives its settings."""
        params = generation.params or {}
        seed = params.get("seed")
        self.progress.setVisible(False)  # nothing running: no step count to show
        self._run_over()
        self.eta.setText("")
        demo = str(params.get("model") or getattr(generation, "model", "") or "")
        self._show(generation.path, generation.info.frame_count, generation.info.fps, params,
                   _demo_first(f"Last generation: {Path(generation.path).name}"
                               + (f" · seed {seed}" if seed is not None else ""),
                               demo.startswith(DEMO_PREFIX)),
                   f"Generation #{generation.id} in the project\n{generation.path}",
                   play=False)

    def _show(self, path: str, frames: int, fps: float, params: dict, status: str,
              record: str, *, play: bool) -> None:
        """A finished video in the result player, its source beside it, looping (``play``)
        or paused at its first frame; Restore settings gives ``params``."""
        self._timer.stop()
        self._shown_params = params
        self.status.setText(status)
        self.record_label.setText(record)
        self.stack.setCurrentIndex(1)
        self._show_source(params)
        self.result_player.set_clip(None, path, frames, fps)
        if play:
            self.result_player.play()
        else:
            self.source_player.pause()
        self.restore_button.setEnabled(True)

    def _show_source(self, params: dict) -> None:
        """The source beside the result: the v2v or extended clip looping within its in/out, the i2v
        frame of a clip, or the i2v still. Sizes come from the project's records (no probing
        in the GUI thread); a source it does not know is left out."""
        mode = params.get("mode")
        player = self.source_player
        shown = False
        clip = None
        if mode in ("v2v", "extend", "i2v") and params.get("source_clip_id") is not None \
                and self.project is not None:
            try:
                clip = self.project.clip(params["source_clip_id"])
            except Exception:  # noqa: BLE001 - removed since: no side view
                clip = None
        if clip is not None and clip.ok and mode in ("v2v", "extend"):
            player.set_clip(clip.id, clip.path, clip.info.frame_count, clip.info.fps,
                            params.get("source_in_frame"), params.get("source_out_frame"))
            player.play()
            shown = True
        elif mode == "i2v" and clip is not None and clip.ok \
                and params.get("image_frame") is not None:
            player.set_clip(clip.id, clip.path, clip.info.frame_count, clip.info.fps)
            player.seek(params["image_frame"])
            shown = True
        elif mode == "i2v" and params.get("image_path") and params.get("image_frame") is None:
            player.set_clip(None, params["image_path"], 1, 0.0)  # a still
            shown = True
        elif mode == "condition":
            shown = self._show_condition(params.get("conditions") or [])
        if not shown:
            player.set_clip(None, None, 0, 0.0)
            self.source_title.setText("")
        elif mode != "condition":
            self.source_title.setText(_source_title(mode, params, clip))
        player.setToolTip(self.source_title.text())
        player.setVisible(shown)
        self._source_box.setVisible(shown)
        self.result_title.setVisible(shown)

    def _show_condition(self, conditions: list) -> bool:
        """The first condition it can show beside the result: a still, or a clip the project
        knows at its frame (looping over its frames when it has several). Its title says
        which condition of how many it is and where the result shows it."""
        from studio.core.media import IMAGE_EXTENSIONS

        player = self.source_player
        for number, condition in enumerate(conditions, 1):
            path = condition.get("path") if isinstance(condition, dict) else None
            if not path:
                continue
            clip = self.project.clip_for_path(path) if self.project is not None else None
            if clip is not None and clip.ok:
                clip_id, count, fps = clip.id, clip.info.frame_count, clip.info.fps
            elif Path(path).suffix.lower() in IMAGE_EXTENSIONS - {".gif"}:
                clip_id, count, fps = None, 1, 0.0  # a still the project need not know
            else:
                continue  # a clip it has no size for: probing is not for the GUI thread
            first, last = condition.get("in_frame"), condition.get("out_frame")
            if first is not None and first == last:
                player.set_clip(clip_id, path, count, fps)
                player.seek(first)
                what = f"frame {first} of {Path(path).name}"
            else:
                player.set_clip(clip_id, path, count, fps, first, last)
                player.play()
                what = Path(path).name if count <= 1 else \
                    _frames_of(Path(path).name, first, last, count)
            self.source_title.setText(f"Condition {number} of {len(conditions)}: {what}, at "
                                      f"frame {condition.get('frame_index', 0)} of the result")
            return True
        return False

    @Slot(int, str)
    def _on_failed(self, job_id: int, message: str) -> None:
        if job_id not in self._jobs:
            return
        self._jobs.discard(job_id)
        if job_id == self._job_id:
            self._run_over()
        self._timer.stop()
        self.status.setText("Generation failed")
        self.error_label.setText(message)
        if job_id == self._job_id:
            self._ended_without_result("Generation failed: no video was written")

    @Slot(int)
    def _on_cancelled(self, job_id: int) -> None:
        if job_id not in self._jobs:
            return
        self._jobs.discard(job_id)
        if job_id == self._job_id:
            self._run_over()
        self._timer.stop()
        self.status.setText("Cancelled: nothing was written")
        if job_id == self._job_id:
            self._ended_without_result("Cancelled: nothing was written")

    def _ended_without_result(self, text: str) -> None:
        """No "Waiting for the first preview…" or ETA is left behind by a run that ended
        without a video; its last preview, if any, stays."""
        self.eta.setText("")
        if not self._preview:
            self.preview_label.setText(text)

    def restore_settings(self):
        """Emit the shown result's settings (GenerationParams); the params, or None."""
        if self._shown_params is None:
            return None
        from studio.core.params import GenerationParams, ParamsError

        try:
            params = GenerationParams.from_dict(self._shown_params)
        except ParamsError as exc:
            self.error_label.setText(f"Cannot restore the settings: {exc}")
            return None
        self.restore_requested.emit(params)
        return params

    def shutdown(self) -> None:
        self._timer.stop()
        self.result_player.shutdown()
        self.source_player.shutdown()
