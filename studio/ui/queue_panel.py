"""The Queue dock: the project's generation jobs, in the order they run.

A row per job (number, state, prompt, model, size and frames, seed, time). Queued jobs can be
moved up and down, edited in the prompt panel (``edit_requested``), cancelled or removed;
any job can be duplicated with a new seed; a failed, cancelled or interrupted job can be
retried with its own seed. Pause stops the queue after the running job. The panel only reads
the jobs table; every change goes through the ``GenerationQueue``.
"""

from __future__ import annotations

import time

from PySide6.QtCore import QItemSelectionModel, Qt, Signal, Slot
from PySide6.QtGui import QKeySequence, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from studio.ui.column_fit import ColumnFit, FittedTreeView
from studio.ui.elided_label import ElidedLabel
from studio.ui.generation_queue import RETRYABLE_STATES
from studio.ui.side_by_side import SideBySide
from studio.ui.status_progress import StatusProgress

COLUMNS = ("#", "State", "Prompt", "Model", "Size", "Seed", "Time")
JOB_ID_ROLE = Qt.ItemDataRole.UserRole + 1
_STATE_TITLES = {"queued": "Queued", "running": "Running", "done": "Done", "failed": "Failed",
                 "cancelled": "Cancelled", "interrupted": "Interrupted"}


def _model_name(model: str) -> str:
    from studio.inference.registry import MODELS

    spec = MODELS.get(model)
    return spec.title if spec is not None else model.rstrip("/").rsplit("/", 1)[-1]


def _time_text(job) -> str:
    if job.state == "interrupted" and job.started_at is not None:  # ended when Studio did
        return time.strftime("from %H:%M", time.localtime(job.started_at))
    if job.started_at is not None and job.finished_at is not None:
        return f"{job.finished_at - job.started_at:.1f} s"
    return time.strftime("%H:%M", time.localtime(job.created_at))


class QueuePanel(QWidget):
    edit_requested = Signal(int)  # queue id of a queued job to load into the prompt panel
    status_message = Signal(str)

    def __init__(self, queue, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.queue = queue
        self._progress: tuple[int, int, int] | None = None  # queue id, done, total

        self.summary = ElidedLabel(mode=Qt.TextElideMode.ElideRight)
        self.pause_button = QPushButton("Pause")
        self.pause_button.setCheckable(True)
        self.pause_button.setToolTip("Finish the running job and start no other")
        self.pause_button.toggled.connect(self._on_pause_toggled)

        self.model = QStandardItemModel(0, len(COLUMNS), self)
        self.model.setHorizontalHeaderLabels(COLUMNS)
        self.view = FittedTreeView()
        self.view.setAccessibleName("Generation queue")
        self.view.setAccessibleDescription("Jobs waiting, running and finished, in order")
        self.view.setModel(self.model)
        self.view.setRootIsDecorated(False)
        self.view.setUniformRowHeights(True)
        self.view.setAlternatingRowColors(True)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.view.customContextMenuRequested.connect(self._context_menu)
        self.view.doubleClicked.connect(lambda _index: self.edit_selected())
        header = self.view.header()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setMinimumSectionSize(24)
        # The prompt takes the width left beside the job's number and state; the other
        # columns are shown as far as they fit (ui.column_fit: it scrolled sideways); every
        # column can be resized.
        self.column_fit = ColumnFit(self.view, COLUMNS, COLUMNS.index("Prompt"), {
            COLUMNS.index(name): width for name, width in (
                ("#", 32), ("State", 96), ("Model", 110), ("Seed", 90), ("Size", 90),
                ("Time", 80))}, main_min_px=140,
            always=(COLUMNS.index("#"), COLUMNS.index("State")))

        self.up_button = self._button("Up", "Move the selected jobs earlier (Ctrl+Up)",
                                      lambda: self.move_selected(-1), "Ctrl+Up")
        self.down_button = self._button("Down", "Move the selected jobs later (Ctrl+Down)",
                                        lambda: self.move_selected(1), "Ctrl+Down")
        self.edit_button = self._button("Edit", "Load the queued job into the prompt panel",
                                        self.edit_selected)
        self.duplicate_button = self._button("Duplicate", "Queue a copy with a new seed",
                                             self.duplicate_selected, "Ctrl+D")
        self.retry_button = self._button("Retry", "Queue the job again with its own seed",
                                         self.retry_selected)
        self.cancel_button = self._button("Cancel", "Cancel the selected queued or running jobs",
                                          self.cancel_selected)
        self.remove_button = self._button("Remove", "Remove the selected jobs from the list "
                                          "(their videos stay)", self.remove_selected, "Delete")
        self.clear_button = self._button("Clear Done", "Remove every finished job from the "
                                         "list (their videos stay)", self.clear_done)

        top = QHBoxLayout()
        top.addWidget(self.summary, 1)
        top.addWidget(self.pause_button)
        buttons = self._button_rows()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        layout.addWidget(self.view, 1)
        layout.addWidget(buttons)

        queue.changed.connect(self.refresh)
        queue.paused_changed.connect(self._on_paused_changed)
        queue.progress.connect(self._on_progress)
        self.view.selectionModel().selectionChanged.connect(self._update_buttons)
        self._on_paused_changed(queue.paused)
        self.refresh()

    def _button_rows(self) -> SideBySide:
        """Two groups of buttons, side by side when the dock is wide enough, else one above
        the other: in one row they made the dock, and the window, 500 px wide at least."""
        groups = []
        for group in ((self.up_button, self.down_button, self.edit_button,
                       self.duplicate_button),
                      (self.retry_button, self.cancel_button, self.remove_button, None,
                       self.clear_button)):
            box = QWidget()
            row = QHBoxLayout(box)
            row.setContentsMargins(0, 0, 0, 0)
            for button in group:
                if button is None:
                    row.addStretch(1)
                else:
                    row.addWidget(button)
            groups.append(box)
        return SideBySide(groups, spacing=6, stacked_spacing=2, stretches=(0, 1),
                          left_when_stacked=groups[:1])

    def add_run_on(self, choice) -> None:
        """The window's Run on choice (``run_on.RunOnChoice``) on a row of its own under the
        summary (beside it, it cut the summary to "2 que…"): where the next job runs."""
        from studio.ui.run_on import RunOnCombo

        self.run_on_combo = RunOnCombo(choice, self)
        row = QHBoxLayout()
        label = QLabel("Run on", self)
        label.setBuddy(self.run_on_combo)
        row.addWidget(label)
        row.addWidget(self.run_on_combo, 1)
        self.layout().insertLayout(1, row)

    def _button(self, text: str, tip: str, slot, shortcut: str | None = None) -> QToolButton:
        # tool buttons: seven of them fit a dock a third of the window wide
        button = QToolButton()
        button.setText(text)
        button.setToolTip(tip)
        button.clicked.connect(slot)
        if shortcut:  # on the list, so the keys act on the selected jobs
            from PySide6.QtGui import QAction

            action = QAction(text, self.view)
            action.setShortcut(QKeySequence(shortcut))
            action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
            action.triggered.connect(slot)
            self.view.addAction(action)
        return button

    # -- reading --------------------------------------------------------------------------
    def row_ids(self) -> list[int]:
        """Queue ids in the order shown."""
        return [self.model.item(r, 0).data(JOB_ID_ROLE) for r in range(self.model.rowCount())]

    def row_text(self, queue_id: int) -> list[str]:
        row = self.row_ids().index(queue_id)
        return [self.model.item(row, c).text() for c in range(len(COLUMNS))]

    def selected_ids(self) -> list[int]:
        rows = sorted({i.row() for i in self.view.selectionModel().selectedRows()})
        return [self.model.item(r, 0).data(JOB_ID_ROLE) for r in rows]

    def select(self, queue_ids: list[int]) -> None:
        selection = self.view.selectionModel()
        selection.clearSelection()
        flags = (QItemSelectionModel.SelectionFlag.Select
                 | QItemSelectionModel.SelectionFlag.Rows)
        for row, queue_id in enumerate(self.row_ids()):
            if queue_id in queue_ids:
                selection.select(self.model.index(row, 0), flags)
        self._update_buttons()

    # -- showing --------------------------------------------------------------------------
    @Slot()
    def refresh(self) -> None:
        """Rebuild the rows from the jobs table (a queue is tens of rows, not thousands)."""
        keep = self.selected_ids()
        jobs = self.queue.jobs()
        self.model.setRowCount(0)
        for job in jobs:
            self.model.appendRow(self._row(job))
        self.select(keep)
        waiting = sum(j.state == "queued" for j in jobs)
        running = self.queue.running_id
        parts = [f"{waiting} queued"]
        if running is not None:
            parts.insert(0, f"running job #{running}")
        if self.queue.paused:
            parts.append("paused")
        self.summary.setText(" · ".join(parts))

    def _row(self, job) -> list[QStandardItem]:
        p = job.params
        state = _STATE_TITLES.get(job.state, job.state)
        if job.state == "running" and self._progress and self._progress[0] == job.id:
            state = f"Running {self._progress[1]}/{self._progress[2]}"
        size = f"{p.get('width', '?')}×{p.get('height', '?')}, {p.get('num_frames', '?')} f"
        texts = [str(job.id), state, " ".join(str(p.get("prompt", "")).split()),
                 _model_name(str(p.get("model", ""))), size, str(p.get("seed", "")),
                 _time_text(job)]
        items = [QStandardItem(t) for t in texts]
        items[0].setData(job.id, JOB_ID_ROLE)
        tip = str(p.get("prompt", ""))
        if job.error:
            tip = f"{tip}\n\n{state}: {job.error}"
        for item in items:
            item.setToolTip(tip)
        return items

    @Slot(int, int, int, float)
    def _on_progress(self, engine_job_id: int, done: int, total: int, _eta: float) -> None:
        queue_id = self.queue.queue_id_of_run(engine_job_id)
        if queue_id is None or queue_id not in self.row_ids():
            return
        self._progress = (queue_id, done, total)
        row = self.row_ids().index(queue_id)
        self.model.item(row, COLUMNS.index("State")).setText(f"Running {done}/{total}")

    @Slot(bool)
    def _on_paused_changed(self, paused: bool) -> None:
        self.pause_button.blockSignals(True)
        self.pause_button.setChecked(paused)
        self.pause_button.blockSignals(False)
        self.pause_button.setText("Resume" if paused else "Pause")
        self.pause_button.setToolTip("Start the queued jobs" if paused
                                     else "Finish the running job and start no other")
        self.refresh()

    @Slot()
    def _update_buttons(self, *_args) -> None:
        states = {j.id: j.state for j in self.queue.jobs()}
        chosen = [states.get(i) for i in self.selected_ids()]
        self.up_button.setEnabled(bool(chosen))
        self.down_button.setEnabled(bool(chosen))
        self.edit_button.setEnabled(chosen == ["queued"])
        self.duplicate_button.setEnabled(bool(chosen))
        self.retry_button.setEnabled(any(s in RETRYABLE_STATES for s in chosen))
        self.cancel_button.setEnabled(any(s in ("queued", "running") for s in chosen))
        self.remove_button.setEnabled(any(s != "running" for s in chosen))
        self.clear_button.setEnabled("done" in states.values())

    # -- acting ---------------------------------------------------------------------------
    @Slot(bool)
    def _on_pause_toggled(self, paused: bool) -> None:
        self.queue.set_paused(paused)

    def move_selected(self, offset: int) -> None:
        chosen = self.selected_ids()
        # moving down, the last one first, so neighbours keep their relative order
        for queue_id in (reversed(chosen) if offset > 0 else chosen):
            self.queue.move(queue_id, offset)
        self.select(chosen)

    def edit_selected(self) -> None:
        chosen = self.selected_ids()
        if len(chosen) == 1 and self.queue.job(chosen[0]).state == "queued":
            self.edit_requested.emit(chosen[0])

    def duplicate_selected(self) -> None:
        made = [self.queue.duplicate(i).id for i in self.selected_ids()]
        if made:
            self.select(made)
            self.status_message.emit(f"Queued {len(made)} "
                                     f"cop{'y' if len(made) == 1 else 'ies'} with new seeds")

    def retry_selected(self) -> None:
        for queue_id in self.selected_ids():
            if self.queue.job(queue_id).state in RETRYABLE_STATES:
                self.queue.retry(queue_id)

    def cancel_selected(self) -> None:
        for queue_id in self.selected_ids():
            self.queue.cancel(queue_id)

    def remove_selected(self) -> None:
        removed = 0
        for queue_id in self.selected_ids():
            if self.queue.job(queue_id).state != "running":
                self.queue.remove(queue_id)
                removed += 1
        if removed:
            self.status_message.emit(f"Removed {removed} job{'s' if removed > 1 else ''} "
                                     "from the queue")

    def clear_done(self) -> None:
        done = [j.id for j in self.queue.jobs() if j.state == "done"]
        for queue_id in done:
            self.queue.remove(queue_id)
        if done:
            self.status_message.emit(f"Cleared {len(done)} finished "
                                     f"job{'s' if len(done) > 1 else ''} from the queue")

    @Slot(object)
    def _context_menu(self, pos) -> None:
        menu = QMenu(self)
        for button in (self.edit_button, self.duplicate_button, self.retry_button,
                       self.cancel_button, self.remove_button):
            action = menu.addAction(button.text(), button.click)
            action.setEnabled(button.isEnabled())
        menu.exec(self.view.viewport().mapToGlobal(pos))


class QueueStatusWidget(StatusProgress):
    """The status bar's line while generations run or wait ("Generating job #4 · 3/8 steps ·
    2 queued"), shown whatever docks are open; a click asks for the Queue dock."""

    def __init__(self, queue, parent: QWidget | None = None) -> None:
        super().__init__("QueueStatus", "Generation queue: click to show it", parent)
        self.queue = queue
        self._steps: tuple[int, int] | None = None
        queue.changed.connect(self.refresh)
        queue.paused_changed.connect(self.refresh)
        queue.progress.connect(self._on_progress)
        self.refresh()

    @Slot(int, int, int, float)
    def _on_progress(self, engine_job_id: int, done: int, total: int, _eta: float) -> None:
        if self.queue.queue_id_of_run(engine_job_id) is not None:
            self._steps = (done, total)
            self.refresh()

    @Slot()
    @Slot(bool)
    def refresh(self, *_args) -> None:
        running = self.queue.running_id
        waiting = sum(j.state == "queued" for j in self.queue.jobs())
        if running is None:
            self._steps = None
        parts = []
        if running is not None:
            parts.append(f"Generating job #{running}")
            if self._steps is not None:
                parts.append(f"{self._steps[0]}/{self._steps[1]} steps")
        if waiting:
            parts.append(f"{waiting} queued" + (" (paused)" if self.queue.paused else ""))
        self.label.setText(" · ".join(parts))
        self.bar.setVisible(self._steps is not None)
        if self._steps is not None:
            self.bar.setRange(0, max(1, self._steps[1]))
            self.bar.setValue(self._steps[0])
        self.setVisible(bool(parts))
