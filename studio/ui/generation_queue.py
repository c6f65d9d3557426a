"""The generation queue: the project's jobs table, run one job at a time on the ModelManager.

Every generation a person asks for becomes a row of the project's ``jobs`` table (kind
"generate", its ``GenerationParams`` with the seed already drawn) before anything runs, so the
queue survives a crash: on start a job left "running" by a Studio that died comes back as
"interrupted", and queued jobs wait, paused, until the person resumes the queue (a restart
should not start the GPU by surprise). The queue hands the first queued job to the
ModelManager when the previous one has ended; the run's handle reports its end, which the
queue writes back to the table, and a finished run's video is recorded as a generation. Every
write goes through the ``ProjectModel`` (the GUI's one writer).

Views (the queue panel, the prompt panel, the preview panel) subscribe to the signals; none of
them writes the jobs table.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, QTimer, Signal, Slot

log = logging.getLogger(__name__)

GENERATE = "generate"  # the jobs-table kind of a generation
WAITING_STATES = ("queued", "running")
RETRYABLE_STATES = ("failed", "cancelled", "interrupted")


class GenerationQueue(QObject):
    changed = Signal()  # a job was added, removed, edited, moved or changed state
    run_started = Signal(int, object)  # engine job id, GenerationParams of the run (``handle``)
    # engine job id, its GenerateResult, once recorded: ``generation_id`` names the project's
    # new generation, or ``register_error`` says why there is none
    run_finished = Signal(int, object)
    job_started = Signal(int)  # queue (jobs-table) id
    job_ended = Signal(int, str, str)  # queue id, final state, message ("" when done)
    # the running job's steps: engine job id, done, total, seconds left (its handle's progress,
    # on this computer or a cluster)
    progress = Signal(int, int, int, float)
    paused_changed = Signal(bool)
    status_message = Signal(str)

    def __init__(self, model, manager, parent: QObject | None = None) -> None:
        """``model``: the window's ``ProjectModel`` (writes); ``manager``: a ``ModelManager``."""
        super().__init__(parent)
        self.project_model = model
        self.project = model.project  # reads
        self.manager = manager
        self.preview_every: int | None = None  # steps between previews (None: the engine's)
        self._running: tuple[int, int] | None = None  # (queue id, engine job id)
        self._closed = False
        self.interrupted = model.mark_interrupted_jobs()
        # Jobs still queued from an earlier session wait for the person to resume.
        self.left_waiting = [j.id for j in self.jobs() if j.state == "queued"]
        self._paused = bool(self.left_waiting)
        self.handle = None  # the JobHandle of the run going on (its signals are its alone)
        self._cluster_parts = None  # see set_cluster

    def set_cluster(self, cluster_parts) -> None:
        """``cluster_parts()`` gives the window's (``run_on.RunOnChoice``,
        ``cluster_manager.ClusterManager``): each job runs where the choice says when it starts."""
        self._cluster_parts = cluster_parts

    def _runner(self):
        from studio.ui.run_on import chosen_runner

        return chosen_runner(self._cluster_parts, self.manager)

    # -- reading --------------------------------------------------------------------------
    def jobs(self) -> list:
        """The generation jobs in queue order (``studio.core.library.Job``)."""
        return [j for j in self.project.jobs() if j.kind == GENERATE]

    def job(self, queue_id: int):
        return self.project.job(queue_id)

    def params_of(self, queue_id: int):
        """The job's GenerationParams; ParamsError when its stored settings are unreadable."""
        from studio.core.params import GenerationParams

        return GenerationParams.from_dict(self.project.job(queue_id).params)

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def running_id(self) -> int | None:
        """The queue id of the job on the model manager, or None."""
        return None if self._running is None else self._running[0]

    def queue_id_of_run(self, engine_job_id: int) -> int | None:
        if self._running is not None and self._running[1] == engine_job_id:
            return self._running[0]
        return None

    def waiting(self) -> int:
        """How many jobs are queued or running."""
        return sum(j.state in WAITING_STATES for j in self.jobs())

    # -- changing -------------------------------------------------------------------------
    def add(self, params):
        """Queue ``params`` (a GenerationParams whose seed ``for_run`` has drawn) at the end;
        the new Job. It starts at once when nothing runs and the queue is not paused."""
        job = self.project_model.add_job(GENERATE, params.to_dict())
        self.changed.emit()
        self._pump_soon()
        return job

    def update(self, queue_id: int, params):
        """Replace the settings of a job that has not started; ProjectError when it has."""
        job = self.project_model.update_job_params(queue_id, params.to_dict())
        self.changed.emit()
        return job

    def duplicate(self, queue_id: int):
        """A copy of the job at the end of the queue, with a new random seed."""
        params = self.params_of(queue_id).replace(seed=None, seed_locked=False).for_run()
        return self.add(params)

    def retry(self, queue_id: int):
        """Queue a failed, cancelled or interrupted job again, with the same seed."""
        job = self.project_model.requeue_job(queue_id)
        self.changed.emit()
        self._pump_soon()
        return job

    def cancel(self, queue_id: int) -> None:
        """Cancel a queued job at once, or the running one (it ends within a step)."""
        if self.running_id == queue_id:
            self.handle.cancel()  # the model manager's or the cluster's
            return
        if self.project.job(queue_id).state == "queued":
            self.project_model.set_job_state(queue_id, "cancelled")
            self.changed.emit()
            self.job_ended.emit(queue_id, "cancelled", "")

    def cancel_running(self) -> None:
        if self._running is not None and self.handle is not None:
            self.handle.cancel()

    def remove(self, queue_id: int) -> None:
        """Forget a job that is not running (its video, if any, stays in the project)."""
        self.project_model.remove_job(queue_id)
        self.changed.emit()

    def move(self, queue_id: int, offset: int) -> None:
        """Move a job ``offset`` places up (negative) or down the queue."""
        ids = [j.id for j in self.jobs()]
        if queue_id not in ids:
            return
        at = ids.index(queue_id)
        to = max(0, min(len(ids) - 1, at + offset))
        if to == at:
            return
        ids.insert(to, ids.pop(at))
        self.project_model.reorder_jobs(ids)
        self.changed.emit()

    def set_paused(self, paused: bool) -> None:
        """A paused queue finishes the running job and starts no other."""
        if paused == self._paused:
            return
        self._paused = paused
        self.paused_changed.emit(paused)
        self._pump_soon()

    def shutdown(self) -> None:
        """Studio is closing: start nothing more; the running job (which the closing model
        manager stops) is recorded as interrupted, to retry next time."""
        if self._closed:
            return
        self._closed = True
        if self.handle is not None:  # what the closing manager says of it is not the queue's
            for signal, slot in ((self.handle.finished, self._on_finished),
                                 (self.handle.failed, self._on_failed),
                                 (self.handle.cancelled, self._on_cancelled)):
                signal.disconnect(slot)
            self.handle = None
        if self._running is not None:
            queue_id, self._running = self._running[0], None
            self.project_model.set_job_state(queue_id, "interrupted",
                                       error="Studio was closed while this job was running")

    # -- running --------------------------------------------------------------------------
    def _pump_soon(self) -> None:
        # After the caller's own signal handling: a job added from a slot starts once that
        # slot returns, never inside it.
        QTimer.singleShot(0, self, self._pump)

    @Slot()
    def _pump(self) -> None:
        """Start the first queued job when nothing runs and the queue is not paused."""
        from studio.core.params import ParamsError
        from studio.inference.engine import GenerateJob, new_job_id

        while self._running is None and not self._paused and not self._closed:
            job = self.project.next_job(GENERATE)
            if job is None:
                return
            try:
                params = self.params_of(job.id)
            except ParamsError as err:  # a row a newer or broken Studio wrote
                self._end(job.id, "failed", f"job #{job.id}: unreadable settings: {err}")
                continue
            self.project_model.set_job_state(job.id, "running")
            # register=False: the engine writes the video; the queue records it (_on_finished)
            run = GenerateJob(new_job_id(), params, project_root=str(self.project.root),
                              preview_every=self.preview_every, queue_job_id=job.id,
                              register=False)
            try:
                self.handle = handle = self._runner().submit(run)
            except RuntimeError as err:  # the manager is shutting down: Studio is closing
                self.project_model.set_job_state(job.id, "queued")
                log.info("generation queue stopped: %s", err)
                return
            handle.progress.connect(self.progress)
            handle.finished.connect(self._on_finished)
            handle.failed.connect(self._on_failed)
            handle.cancelled.connect(self._on_cancelled)
            self._running = (job.id, run.job_id)
            self.changed.emit()
            self.job_started.emit(job.id)
            self.run_started.emit(run.job_id, params)

    def _end(self, queue_id: int, state: str, message: str) -> None:
        self.project_model.set_job_state(queue_id, state, error=message or None)
        self.changed.emit()
        self.job_ended.emit(queue_id, state, message)

    def _run_ended(self, engine_job_id: int, state: str, message: str = "") -> None:
        queue_id = self.queue_id_of_run(engine_job_id)
        if queue_id is None:
            return  # a run the queue has let go of already
        self._running = None
        self.handle = None
        self._end(queue_id, state, message)
        if state == "failed":
            self.status_message.emit(f"Generation job #{queue_id} failed: {message}")
        self._pump_soon()

    @Slot(int, object)
    def _on_finished(self, engine_job_id: int, result) -> None:
        """Its own run's result: an engine GenerateResult, recorded as a generation."""
        queue_id = self.queue_id_of_run(engine_job_id)
        if queue_id is None:
            return
        self._record(queue_id, result)
        self._run_ended(engine_job_id, "done", result.register_error or "")
        self.run_finished.emit(engine_job_id, result)
        note = ((result.record or {}).get("model") or {}).get("dtype_note")
        if note:  # e.g. a GPU without bfloat16: say what the video was made in
            self.status_message.emit(f"{result.record['model'].get('id', 'The model')}: {note}")

    def _record(self, queue_id: int, result) -> None:
        """The finished video in the project's generations (the file is on disk whatever
        happens here; a failure is the result's ``register_error``)."""
        p = result.params or {}
        try:
            generation = self.project_model.add_generation(
                result.output, p, kind=p.get("mode"), model=p.get("model"),
                prompt=p.get("prompt"), info=result.media_info,
                source_clip_id=p.get("source_clip_id"), job_id=queue_id)
        except Exception as err:  # noqa: BLE001 - e.g. its source clip removed meanwhile
            log.warning("recording generation %s failed", result.output, exc_info=True)
            result.register_error = f"{self.project.root}: could not record the video " \
                                    f"({type(err).__name__}: {err})"
        else:
            result.generation_id = generation.id

    @Slot(int, str)
    def _on_failed(self, engine_job_id: int, message: str) -> None:
        self._run_ended(engine_job_id, "failed", message)

    @Slot(int)
    def _on_cancelled(self, engine_job_id: int) -> None:
        self._run_ended(engine_job_id, "cancelled")
