"""The background export queue: exports run one at a time, first in first out, on the shared
worker pool (``core.export.export_clips`` in a superqt worker, ``studio.ui.workers``) while
the person keeps working.

- ``ExportQueue`` (a GUI-thread QObject) holds the jobs, starts the next one when the one
  running ends, and tells the panels what changed. Its worker talks to it only through
  signals connected to its bound slots.
- ``ExportQueuePanel``: the Exports dock: a row per job (progress, state, result or error,
  Cancel, Show in Folder) under an overall progress bar.
- ``ExportStatusWidget``: the status-bar summary while exports are queued or running;
  clicking it shows the dock.

Nothing is half-written: ``core.export`` writes to hidden temporary files and publishes
each file whole, so a cancel or a failure leaves no file under a final name; files that
were finished before a cancel stay.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from PySide6.QtCore import QObject, Qt, QUrl, Signal, Slot
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from studio.core.cancel import CancelToken
from studio.core.export import ExportOptions, ExportResult
from studio.ui.elided_label import ElidedLabel
from studio.ui.status_progress import StatusProgress
from studio.ui.workers import Workers

QUEUED, RUNNING, CANCELLING, DONE, FAILED, CANCELLED = (
    "queued", "running", "cancelling", "done", "failed", "cancelled")
ACTIVE_STATES = (QUEUED, RUNNING, CANCELLING)
_PROGRESS_INTERVAL_S = 0.05  # at most ~20 progress signals a second from a worker


@dataclass
class ExportJob:
    """One press of Export: several sources, one preset, one folder."""

    id: int
    title: str
    folder: str
    options: ExportOptions  # the preset, overwrite, ... (each item may add its range, name)
    items: list[tuple[str, ExportOptions]]  # (source path, its options)
    labels: list[str]  # a name per item, for the person
    total_frames: int = 0  # planned; the worker's own count replaces it when it runs
    done_frames: int = 0
    state: str = QUEUED
    results: list[ExportResult] = field(default_factory=list)
    manifest: str | None = None
    error: str | None = None  # a failure of the job as a whole
    cancel: CancelToken = field(default_factory=CancelToken)
    queued_at: float = field(default_factory=time.time)
    started_at: float | None = None
    finished_at: float | None = None

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES

    @property
    def outputs(self) -> list[str]:
        paths = [r.output for r in self.results if r.ok and r.output]
        if self.manifest:
            paths.append(self.manifest)
        return paths

    @property
    def failures(self) -> list[ExportResult]:
        return [r for r in self.results if not r.ok]

    @property
    def current_label(self) -> str | None:
        """The item being exported now (the first without a result)."""
        if self.state not in (RUNNING, CANCELLING) or len(self.results) >= len(self.labels):
            return None
        return self.labels[len(self.results)]

    def summary(self) -> str:
        """One line for a person: what happened, or what is happening."""
        n = len(self.items)
        written = sum(1 for r in self.results if r.ok)
        if self.state == QUEUED:
            return f"Waiting · {n} {_plural(n, 'clip')}"
        if self.state in (RUNNING, CANCELLING):
            head = "Cancelling" if self.state == CANCELLING else "Exporting"
            current = self.current_label
            frames = (f" · {self.done_frames}/{self.total_frames} frames"
                      if self.total_frames else "")
            return (f"{head} {min(len(self.results) + 1, n)} of {n}"
                    + (f" · {current}" if current else "") + frames)
        if self.state == CANCELLED:
            return (f"Cancelled · {written} of {n} {_plural(n, 'file')} written"
                    if written else "Cancelled · nothing written")
        failed = self.failures
        if self.error:
            return f"Failed: {self.error}"
        if failed:
            first = failed[0].error or "failed"
            if written:
                return f"{written} of {n} written · {len(failed)} failed: {first}"
            return f"Failed: {first}" if n == 1 else f"All {n} failed: {first}"
        seconds = sum(r.seconds for r in self.results if r.ok)
        elapsed = (self.finished_at or 0) - (self.started_at or 0)
        return (f"Done · {written} {_plural(written, 'file')}, {_duration(seconds)} of video "
                f"in {_duration(elapsed)}")

    def details(self) -> str:
        """Every output and every error, one a line (a tooltip)."""
        lines = [f"Folder: {self.folder}"]
        lines += [f"✓ {r.output}" for r in self.results if r.ok]
        if self.manifest:
            lines.append(f"✓ {self.manifest}")
        lines += [f"✗ {r.error}" for r in self.failures]
        lines += [f"⚠ {Path(r.output or '').name}: {w}" for r in self.results for w in r.warnings]
        if self.error:
            lines.append(f"✗ {self.error}")
        return "\n".join(lines)


def _duration(seconds: float) -> str:
    if seconds < 10:
        return f"{seconds:.2f} s"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes}:{rest:02d} min" if minutes < 60 else f"{minutes // 60}:{minutes % 60:02d} h"


def _plural(n: int, word: str) -> str:
    return word if n == 1 else word + "s"


# ---------------------------------------------------------------------------------------
# The worker


class _Progress(NamedTuple):
    job_id: int
    done: int  # frames
    total: int


class _SourceDone(NamedTuple):
    job_id: int
    result: ExportResult  # each source as it ends


class _Ended(NamedTuple):
    job_id: int
    batch: object = None  # the ExportBatch, or None when the job failed
    error: str = ""


def _export_job(job_id: int, items: list, folder, options, cancel: CancelToken, *,
                report) -> _Ended:
    """A pool thread (``Workers.run(..., reports=True)``): export ``items``, reporting
    ``_Progress`` (at most every _PROGRESS_INTERVAL_S) and ``_SourceDone``. Plain data only:
    the worker never touches the job object the GUI reads."""
    from studio.core.export import ExportError, export_clips

    last = 0.0

    def progress(done: int, total: int) -> None:
        nonlocal last
        now = time.monotonic()
        if done >= total or now - last >= _PROGRESS_INTERVAL_S:
            last = now
            report(_Progress(job_id, done, total))

    def on_result(result: ExportResult) -> None:
        report(_SourceDone(job_id, result))

    try:
        batch = export_clips(items, folder, options, progress=progress, cancel=cancel,
                             on_result=on_result)
    except ExportError as err:
        return _Ended(job_id, error=str(err))
    except Exception as err:  # noqa: BLE001 - shown in the queue, never a traceback
        return _Ended(job_id, error=f"{folder}: export failed ({type(err).__name__}: {err})")
    return _Ended(job_id, batch)


# ---------------------------------------------------------------------------------------
# The queue


class ExportQueue(QObject):
    """Runs export jobs one at a time in the order they were submitted."""

    job_added = Signal(object)  # ExportJob
    job_changed = Signal(object)  # ExportJob: state, progress or a result changed
    job_finished = Signal(object)  # ExportJob: done, failed or cancelled
    job_removed = Signal(int)  # job id (cleared from the list)
    active_changed = Signal(bool)  # some job is queued or running

    def __init__(self, parent=None):
        super().__init__(parent)
        self._jobs: list[ExportJob] = []
        self._next_id = 1
        self._running: ExportJob | None = None
        self._was_active = False
        self._batch_ids: set[int] = set()  # jobs since the queue was last idle
        self._pool = Workers(self, limit=1, long=True)
        self._shut_down = False

    # -- reading ------------------------------------------------------------------------
    def jobs(self) -> list[ExportJob]:
        return list(self._jobs)

    def job(self, job_id: int) -> ExportJob | None:
        return next((j for j in self._jobs if j.id == job_id), None)

    @property
    def running_job(self) -> ExportJob | None:
        return self._running

    @property
    def active(self) -> bool:
        return any(j.active for j in self._jobs)

    def active_jobs(self) -> list[ExportJob]:
        return [j for j in self._jobs if j.active]

    def overall_progress(self) -> tuple[int, int]:
        """(frames done, frames total) over the jobs queued or running now, and those that
        ended since the queue was last idle."""
        jobs = [j for j in self._jobs if j.active or j.id in self._batch_ids]
        total = sum(j.total_frames for j in jobs if j.state != CANCELLED)
        done = sum(j.total_frames if j.state in (DONE, FAILED) else j.done_frames
                   for j in jobs if j.state != CANCELLED)
        return done, total

    # -- changing -----------------------------------------------------------------------
    def submit(self, items: list[tuple[str, ExportOptions]], folder: str | os.PathLike,
               options: ExportOptions, *, labels: list[str] | None = None,
               title: str | None = None, total_frames: int = 0) -> ExportJob:
        """Queue an export of ``items`` (source path, options) into ``folder``; it starts
        when the jobs before it have ended."""
        if self._shut_down:
            raise RuntimeError("the export queue is shut down")
        if not items:
            raise ValueError("nothing to export")
        labels = labels or [Path(s).name for s, _ in items]
        if title is None:
            what = labels[0] if len(items) == 1 else f"{len(items)} clips"
            title = f"{what} → {options.preset} in {Path(folder).name or folder}"
        job = ExportJob(self._next_id, title, os.fspath(folder), options, list(items), labels,
                        total_frames=total_frames)
        self._next_id += 1
        if not self.active:
            self._batch_ids = set()  # a new run of work: the overall bar starts again
        self._batch_ids.add(job.id)
        self._jobs.append(job)
        self.job_added.emit(job)
        self._start_next()
        self._update_active()
        return job

    @Slot(int)
    def cancel(self, job_id: int) -> None:
        """Stop a running job (what it finished stays) or drop a waiting one."""
        job = self.job(job_id)
        if job is None or not job.active:
            return
        job.cancel.cancel()
        if job.state == QUEUED:
            job.state = CANCELLED
            job.finished_at = time.time()
            self.job_changed.emit(job)
            self.job_finished.emit(job)
            self._update_active()
        elif job.state == RUNNING:
            job.state = CANCELLING
            self.job_changed.emit(job)

    @Slot()
    def cancel_all(self) -> None:
        for job in list(reversed(self._jobs)):  # the waiting ones first: none starts next
            self.cancel(job.id)

    @Slot()
    def clear_finished(self) -> None:
        for job in [j for j in self._jobs if not j.active]:
            self._jobs.remove(job)
            self._batch_ids.discard(job.id)
            self.job_removed.emit(job.id)

    def shutdown(self, timeout_ms: int = 15000) -> bool:
        """Cancel everything and wait for the worker; True when it stopped in time."""
        self._shut_down = True
        self.cancel_all()
        return self._pool.waitForDone(timeout_ms)

    # -- running ------------------------------------------------------------------------
    def _start_next(self) -> None:
        if self._running is not None or self._shut_down:
            return
        job = next((j for j in self._jobs if j.state == QUEUED), None)
        if job is None:
            return
        job.state = RUNNING
        job.started_at = time.time()
        self._running = job
        self.job_changed.emit(job)
        self._pool.run(_export_job, job.id, list(job.items), job.folder, job.options, job.cancel,
                       reports=True, yielded=self._on_report, returned=self._on_ended)

    def _update_active(self) -> None:
        active = self.active
        if active != self._was_active:
            self._was_active = active
            self.active_changed.emit(active)

    @Slot(object)
    def _on_report(self, report) -> None:
        job = self.job(report.job_id)
        if job is None:
            return
        if isinstance(report, _Progress):
            job.done_frames, job.total_frames = report.done, report.total
        else:
            job.results.append(report.result)
        self.job_changed.emit(job)

    @Slot(object)
    def _on_ended(self, ended: _Ended) -> None:
        job = self.job(ended.job_id)
        if job is None:
            return
        if ended.batch is None:
            job.error = ended.error
            job.state = CANCELLED if job.cancel.cancelled else FAILED
            self._end(job)
            return
        batch = ended.batch
        job.manifest = batch.manifest
        if batch.cancelled:
            job.state = CANCELLED
        elif batch.results and all(not r.ok for r in batch.results):
            job.state = FAILED
        else:
            job.state = DONE  # some may have failed: the summary says which
        self._end(job)

    def _end(self, job: ExportJob) -> None:
        job.finished_at = time.time()
        if self._running is job:
            self._running = None
        self.job_changed.emit(job)
        self.job_finished.emit(job)
        self._start_next()
        self._update_active()


def show_in_folder(path: str | os.PathLike) -> bool:
    """Open the folder holding ``path`` (or ``path`` itself when it is a folder) in the
    desktop's file manager."""
    target = Path(path)
    folder = target if target.is_dir() and not target.suffix else target.parent
    return QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))


# ---------------------------------------------------------------------------------------
# Widgets

_STATE_COLOURS = {FAILED: "#e0604f", CANCELLED: "palette(mid)", DONE: "#4caf50"}


class _JobRow(QFrame):
    def __init__(self, job: ExportJob, panel: ExportQueuePanel):
        super().__init__(panel)
        self.job_id = job.id
        self._panel = panel
        self.setObjectName(f"ExportJob{job.id}")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.title = ElidedLabel(parent=self)  # was cut off ("Colour_ba"): now elided
        self.title.setObjectName("ExportJobTitle")
        font = self.title.font()
        font.setBold(True)
        self.title.setFont(font)
        self.state_label = QLabel(self)
        self.state_label.setObjectName("ExportJobState")
        self.state_label.setWordWrap(True)
        self.state_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.state_label.setSizePolicy(QSizePolicy.Policy.Ignored,
                                       QSizePolicy.Policy.Preferred)
        self.progress = QProgressBar(self)
        self.progress.setObjectName("ExportJobProgress")
        self.progress.setMaximumHeight(14)
        self.progress.setTextVisible(False)
        self.cancel_button = QToolButton(self)
        self.cancel_button.setText("Cancel")
        self.cancel_button.setToolTip("Stop this export (files already finished stay)")
        self.cancel_button.clicked.connect(self._cancel)
        self.show_button = QToolButton(self)
        self.show_button.setText("Show in Folder")
        self.show_button.setToolTip("Open the folder of the exported files")
        self.show_button.clicked.connect(self._show)

        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.title, 1)
        top.addWidget(self.show_button)
        top.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        layout.setSpacing(2)
        layout.addLayout(top)
        layout.addWidget(self.progress)
        layout.addWidget(self.state_label)
        self.update_from(job)

    def update_from(self, job: ExportJob) -> None:
        self.title.setText(job.title)
        self.title.setToolTip(job.folder)
        self.state_label.setText(job.summary())
        self.state_label.setToolTip(job.details())
        colour = _STATE_COLOURS.get(job.state)
        if job.state == DONE and job.failures:
            colour = "#e0a040"
        self.state_label.setStyleSheet(f"color: {colour};" if colour else "")
        if job.state == QUEUED:
            self.progress.setRange(0, 1)
            self.progress.setValue(0)
        elif job.state in (RUNNING, CANCELLING):
            if job.total_frames > 0:
                self.progress.setRange(0, job.total_frames)
                self.progress.setValue(min(job.done_frames, job.total_frames))
            else:
                self.progress.setRange(0, 0)  # busy until the first frame
        else:
            self.progress.setRange(0, 1)
            self.progress.setValue(1 if job.state in (DONE, FAILED) else 0)
        self.progress.setVisible(job.active)
        self.cancel_button.setVisible(job.active)
        self.cancel_button.setEnabled(job.state != CANCELLING)
        self.show_button.setVisible(bool(job.outputs))

    @Slot()
    def _cancel(self) -> None:
        self._panel.queue.cancel(self.job_id)

    @Slot()
    def _show(self) -> None:
        job = self._panel.queue.job(self.job_id)
        if job is not None and job.outputs:
            show_in_folder(job.outputs[0])


class ExportQueuePanel(QWidget):
    """The Exports dock: every job of this session, newest last."""

    def __init__(self, queue: ExportQueue, parent=None):
        super().__init__(parent)
        self.setObjectName("ExportQueuePanel")
        self.queue = queue
        self.rows: dict[int, _JobRow] = {}

        self.overall_label = QLabel("No exports yet. Select clips and choose File › Export…",
                                    self)
        self.overall_label.setObjectName("ExportOverallLabel")
        self.overall_label.setWordWrap(True)
        self.overall_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.overall = QProgressBar(self)
        self.overall.setObjectName("ExportOverallProgress")
        self.overall.setFormat("%p%")
        self.overall.hide()
        self.cancel_all_button = QPushButton("Cancel All", self)
        self.cancel_all_button.clicked.connect(queue.cancel_all)
        self.clear_button = QPushButton("Clear Finished", self)
        self.clear_button.clicked.connect(queue.clear_finished)

        self._list = QWidget(self)
        self._list_layout = QVBoxLayout(self._list)
        self._list_layout.setContentsMargins(0, 0, 0, 0)
        self._list_layout.setSpacing(4)
        self._list_layout.addStretch(1)
        scroll = QScrollArea(self)
        scroll.setAccessibleName("Exports")
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(self._list)

        buttons = QHBoxLayout()
        buttons.addWidget(self.cancel_all_button)
        buttons.addStretch(1)
        buttons.addWidget(self.clear_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.overall_label)
        layout.addWidget(self.overall)
        layout.addWidget(scroll, 1)
        layout.addLayout(buttons)

        queue.job_added.connect(self._on_job_added)
        queue.job_changed.connect(self._on_job_changed)
        queue.job_removed.connect(self._on_job_removed)
        for job in queue.jobs():
            self._on_job_added(job)
        self._update_overall()

    @Slot(object)
    def _on_job_added(self, job: ExportJob) -> None:
        row = _JobRow(job, self)
        self.rows[job.id] = row
        self._list_layout.insertWidget(self._list_layout.count() - 1, row)
        self._update_overall()

    @Slot(object)
    def _on_job_changed(self, job: ExportJob) -> None:
        row = self.rows.get(job.id)
        if row is not None:
            row.update_from(job)
        self._update_overall()

    @Slot(int)
    def _on_job_removed(self, job_id: int) -> None:
        row = self.rows.pop(job_id, None)
        if row is not None:
            row.setParent(None)
            row.deleteLater()
        self._update_overall()

    def _update_overall(self) -> None:
        jobs = self.queue.jobs()
        active = self.queue.active_jobs()
        done, total = self.queue.overall_progress()
        self.cancel_all_button.setEnabled(bool(active))
        self.clear_button.setEnabled(any(not j.active for j in jobs))
        if not jobs:
            self.overall_label.setText("No exports yet. Select clips and choose "
                                       "File › Export…")
            self.overall.hide()
            return
        if active:
            waiting = sum(1 for j in active if j.state == QUEUED)
            self.overall_label.setText(
                f"Exporting · {len(active) - waiting} running, {waiting} waiting")
            self.overall.setRange(0, max(total, 1))
            self.overall.setValue(min(done, total))
            self.overall.show()
        else:
            ok = sum(1 for j in jobs if j.state == DONE and not j.failures)
            bad = sum(1 for j in jobs if j.state == FAILED or j.failures)
            self.overall_label.setText(f"All exports ended · {ok} done"
                                       + (f", {bad} with errors" if bad else ""))
            self.overall.hide()


class ExportStatusWidget(StatusProgress):
    """The status bar's line and bar while exports run; a click asks for the Exports dock."""

    def __init__(self, queue: ExportQueue, parent=None):
        super().__init__("ExportStatus", "Exports: click to show the queue", parent)
        self.queue = queue
        queue.job_changed.connect(self._refresh)
        queue.job_added.connect(self._refresh)
        queue.active_changed.connect(self._on_active_changed)
        self.setVisible(queue.active)

    @Slot(bool)
    def _on_active_changed(self, active: bool) -> None:
        self.setVisible(active)
        self._refresh()

    @Slot()
    @Slot(object)
    def _refresh(self, *_args) -> None:
        active = self.queue.active_jobs()
        if not active:
            return
        done, total = self.queue.overall_progress()
        running = self.queue.running_job
        current = running.current_label if running is not None else None
        self.label.setText(f"Exporting · {len(active)} {_plural(len(active), 'job')}"
                           + (f" · {current}" if current else ""))
        self.bar.setRange(0, max(total, 1))
        self.bar.setValue(min(done, total))
