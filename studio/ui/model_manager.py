"""The model manager: one QObject on one QThread that owns every model (DESIGN.md, threading).

The GUI thread calls ``submit``, ``cancel`` and ``shutdown``; they only touch a queue under a
lock and post a queued wake-up, so they return at once. The worker thread runs the jobs one at
a time, in submission order, through an ``studio.inference.engine.Engine`` that it creates on
the first job: importing torch costs seconds and must never happen at GUI start-up or in the
GUI thread.

Every signal of the manager is emitted from the worker thread. Connect them only to bound
``@Slot`` methods of QObjects that live in the GUI thread: in PySide6 a lambda or plain function
connected to a worker signal runs in the worker thread, even with ``Qt.QueuedConnection``.

``submit`` returns a :class:`JobHandle` whose signals are that job's alone, re-emitted in the
GUI thread: what a panel that starts a job listens to (the caption panel does).
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QCoreApplication, QObject, Qt, QThread, Signal, Slot

from studio.core.cancel import Cancelled, CancelToken

if TYPE_CHECKING:
    from studio.inference.engine import Engine

log = logging.getLogger(__name__)

# QThreads whose job did not stop within shutdown's timeout: a running QThread that Python
# destroys aborts the process, so they are kept until it exits.
_STILL_RUNNING: list[QThread] = []


class _SignalEvents:
    """Engine listener (see ``EngineEvents``) that re-emits every event as a manager signal."""

    def __init__(self, manager: ModelManager) -> None:
        self._m = manager

    def started(self, job_id: int, description: str) -> None:
        self._m.job_started.emit(job_id, description)

    def progress(self, job_id: int, done: int, total: int, eta_s: float) -> None:
        self._m.progress.emit(job_id, done, total, float(eta_s))

    def item_started(self, job_id: int, index: int) -> None:
        self._m.item_started.emit(job_id, index)

    def text(self, job_id: int, chunk: str) -> None:
        self._m.text.emit(job_id, chunk)

    def frames(self, job_id: int, frames: list) -> None:
        self._m.frames.emit(job_id, frames)

    def item_finished(self, job_id: int, index: int, result: Any) -> None:
        self._m.item_finished.emit(job_id, index, result)

    def item_failed(self, job_id: int, index: int, message: str) -> None:
        self._m.item_failed.emit(job_id, index, message)

    def finished(self, job_id: int, result: Any) -> None:
        self._m.job_finished.emit(job_id, result)

    def failed(self, job_id: int, message: str) -> None:
        self._m.job_failed.emit(job_id, message)

    def cancelled(self, job_id: int) -> None:
        self._m.job_cancelled.emit(job_id)

    def preview(self, job_id: int, step: int, frames: Any) -> None:
        self._m.preview.emit(job_id, step, frames)

    def pass_started(self, job_id: int, index: int, count: int, first_step: int,
                     steps: int) -> None:
        self._m.pass_started.emit(job_id, index, count, first_step, steps)


class JobHandle(QObject):
    """One submitted job's own signals, emitted in the GUI thread for that job alone (what
    ``ModelManager.submit`` returns): a listener connects to the handle of the job it started
    and needs no job-id filter and no guess at what a result is. The signals carry the job id
    first, as the manager's do. After ``finished``, ``failed`` or ``cancelled`` the handle says
    nothing more (``done``)."""

    started = Signal(int, str)
    progress = Signal(int, int, int, float)
    item_started = Signal(int, int)
    text = Signal(int, str)
    frames = Signal(int, object)
    item_finished = Signal(int, int, object)
    item_failed = Signal(int, int, str)
    preview = Signal(int, int, object)
    pass_started = Signal(int, int, int, int, int)
    finished = Signal(int, object)
    failed = Signal(int, str)
    cancelled = Signal(int)

    def __init__(self, job_id: int, manager: ModelManager) -> None:
        super().__init__()
        self.job_id = job_id
        self.done = False
        self._manager = manager

    def cancel(self) -> None:
        self._manager.cancel(self.job_id)


class _HandleRouter(QObject):
    """Lives in the GUI thread: takes the manager's signals (from the worker thread) in bound
    slots and re-emits each on the handle of its job."""

    def __init__(self) -> None:
        super().__init__()
        self.handles: dict[int, JobHandle] = {}

    def connect_to(self, manager: ModelManager) -> None:
        for name in ("job_started", "progress", "item_started", "text", "frames",
                     "item_finished", "item_failed", "preview", "pass_started", "job_finished",
                     "job_failed", "job_cancelled"):
            getattr(manager, name).connect(getattr(self, f"_on_{name}"))

    def _emit(self, name: str, job_id: int, *args, last: bool = False) -> None:
        handle = self.handles.pop(job_id, None) if last else self.handles.get(job_id)
        if handle is not None:
            handle.done = handle.done or last
            getattr(handle, name).emit(job_id, *args)

    @Slot(int, str)
    def _on_job_started(self, job_id: int, description: str) -> None:
        self._emit("started", job_id, description)

    @Slot(int, int, int, float)
    def _on_progress(self, job_id: int, done: int, total: int, eta: float) -> None:
        self._emit("progress", job_id, done, total, eta)

    @Slot(int, int)
    def _on_item_started(self, job_id: int, index: int) -> None:
        self._emit("item_started", job_id, index)

    @Slot(int, str)
    def _on_text(self, job_id: int, chunk: str) -> None:
        self._emit("text", job_id, chunk)

    @Slot(int, object)
    def _on_frames(self, job_id: int, frames) -> None:
        self._emit("frames", job_id, frames)

    @Slot(int, int, object)
    def _on_item_finished(self, job_id: int, index: int, result) -> None:
        self._emit("item_finished", job_id, index, result)

    @Slot(int, int, str)
    def _on_item_failed(self, job_id: int, index: int, message: str) -> None:
        self._emit("item_failed", job_id, index, message)

    @Slot(int, int, object)
    def _on_preview(self, job_id: int, step: int, frames) -> None:
        self._emit("preview", job_id, step, frames)

    @Slot(int, int, int, int, int)
    def _on_pass_started(self, job_id: int, index: int, count: int, first: int,
                         steps: int) -> None:
        self._emit("pass_started", job_id, index, count, first, steps)

    @Slot(int, object)
    def _on_job_finished(self, job_id: int, result) -> None:
        self._emit("finished", job_id, result, last=True)

    @Slot(int, str)
    def _on_job_failed(self, job_id: int, message: str) -> None:
        self._emit("failed", job_id, message, last=True)

    @Slot(int)
    def _on_job_cancelled(self, job_id: int) -> None:
        self._emit("cancelled", job_id, last=True)


class _ShutdownOnQuit(QObject):
    """Lives in the GUI thread, so that ``aboutToQuit`` runs ``shutdown`` there (a slot of the
    manager itself would be queued to the worker thread, which is busy or gone)."""

    def __init__(self, manager: ModelManager) -> None:
        super().__init__()
        self._manager = manager

    @Slot()
    def shutdown(self) -> None:
        self._manager.shutdown()


class ModelManager(QObject):
    """Runs inference jobs (``studio.inference.engine`` job objects) one at a time on its own
    thread. Create it in the GUI thread; call ``shutdown`` before the app goes (it is also
    connected to ``QCoreApplication.aboutToQuit``)."""

    job_queued = Signal(int)  # job id (emitted by submit, in the caller's thread)
    job_started = Signal(int, str)  # job id, description
    progress = Signal(int, int, int, float)  # job id, done, total, ETA in seconds (-1: unknown)
    item_started = Signal(int, int)  # job id, index of the batch item
    text = Signal(int, str)  # job id, the next piece of streamed text
    frames = Signal(int, object)  # job id, list[Frame] the model sees
    item_finished = Signal(int, int, object)  # job id, item index, CaptionResult
    item_failed = Signal(int, int, str)  # job id, item index, message
    job_finished = Signal(int, object)  # job id, result
    job_failed = Signal(int, str)  # job id, message for a person
    job_cancelled = Signal(int)  # job id
    preview = Signal(int, int, object)  # job id, step, (T, H, W, 3) uint8 RGB preview frames
    # job id, pass (1-based), passes, steps of the run before it, its steps: a multi-scale
    # generation denoises in two passes; progress counts the steps of both
    pass_started = Signal(int, int, int, int, int)
    busy_changed = Signal(bool)

    _wake = Signal()

    def __init__(self, device: str | None = None, *, freeze_heap: bool = True) -> None:
        super().__init__()
        self._device = device
        self._freeze_heap = freeze_heap
        self._lock = threading.Lock()
        # Shared with the GUI thread, guarded by _lock.
        self._queue: deque[tuple[Any, CancelToken]] = deque()
        self._tokens: dict[int, CancelToken] = {}  # queued and running jobs
        self._closing = False
        # Worker-thread state.
        self._engine: Engine | None = None
        self._busy = False
        self._shut_down = False

        # in the GUI thread, not a child (children move with their parent): jobs' handles
        self._router = _HandleRouter()
        self._router.connect_to(self)
        self._thread = QThread()
        self._thread.setObjectName("studio-model-manager")
        self.moveToThread(self._thread)
        # Queued: delivered in the worker thread, which owns this object after moveToThread.
        self._wake.connect(self._work, Qt.ConnectionType.QueuedConnection)
        self._thread.start()
        self._quit_guard: _ShutdownOnQuit | None = None
        app = QCoreApplication.instance()
        if app is not None:  # a running QThread that outlives the app aborts the process
            self._quit_guard = _ShutdownOnQuit(self)
            app.aboutToQuit.connect(self._quit_guard.shutdown)

    # ---- GUI thread (thread-safe) -----------------------------------------------------------

    def submit(self, job: Any) -> JobHandle:
        """Queue ``job`` (it runs after the jobs queued before it); returns its handle, whose
        signals report this job alone (``handle.job_id`` is its id). Call from the GUI
        thread."""
        token = CancelToken()
        handle = JobHandle(job.job_id, self)
        with self._lock:
            if self._closing:
                raise RuntimeError("the model manager has been shut down")
            if job.job_id in self._tokens:
                raise ValueError(f"job {job.job_id} is already queued or running")
            # before the job can run: its first signal finds its handle
            self._router.handles[job.job_id] = handle
            self._queue.append((job, token))
            self._tokens[job.job_id] = token
        self.job_queued.emit(job.job_id)
        self._wake.emit()  # one wake-up per job: each runs one job
        return handle

    def cancel(self, job_id: int | None = None) -> None:
        """Stop a job, queued or running; None: the running job and everything queued. Each
        cancelled job reports ``job_cancelled`` (a running caption within a token or so)."""
        with self._lock:
            if job_id is None:
                tokens = list(self._tokens.values())
            else:
                tokens = [self._tokens[job_id]] if job_id in self._tokens else []
        for token in tokens:
            token.cancel()

    def pending(self) -> list[int]:
        """Ids of the jobs queued or running, in the order they run."""
        with self._lock:
            return list(self._tokens)

    def shutdown(self, timeout_ms: int = 2000) -> bool:
        """Cancel everything, stop the thread and wait for it. Safe to call more than once.
        Returns whether the thread has finished."""
        if self._shut_down:
            return self._thread.isFinished()
        self._shut_down = True
        with self._lock:
            self._closing = True
            tokens = list(self._tokens.values())
        for token in tokens:
            token.cancel()
        app = QCoreApplication.instance()
        if self._quit_guard is not None and app is not None:
            try:
                app.aboutToQuit.disconnect(self._quit_guard.shutdown)
            except (RuntimeError, TypeError):  # already gone with the app
                pass
        self._thread.quit()  # the event loop ends once the running job returns
        if not self._thread.wait(timeout_ms):
            log.warning("the model manager thread did not stop within %d ms", timeout_ms)
            _STILL_RUNNING.append(self._thread)
            return False
        self._engine = None  # the thread is gone: its models go with the engine
        return True

    @property
    def thread_finished(self) -> bool:
        return self._thread.isFinished()

    def loaded_device(self) -> str | None:
        """Where the loaded model runs (e.g. "cuda (bfloat16)"), for Help › About; None while
        no model is loaded (torch itself may not be imported yet). A snapshot, any thread."""
        engine = self._engine
        return engine.loaded_device if engine is not None else None

    # ---- worker thread ----------------------------------------------------------------------

    @Slot()
    def _work(self) -> None:
        with self._lock:
            if self._closing or not self._queue:
                return
            job, token = self._queue.popleft()
        if not self._busy:
            self._busy = True
            self.busy_changed.emit(True)
        try:
            self._run(job, token)
        finally:  # whatever happened, the job is over and the next one may run
            with self._lock:
                self._tokens.pop(job.job_id, None)
                idle = not self._queue
            if idle:
                self._busy = False
                self.busy_changed.emit(False)

    def _run(self, job: Any, token: CancelToken) -> None:
        try:
            token.raise_if_cancelled()  # a job cancelled in the queue needs no torch
            engine = self._engine_in_this_thread(token)
        except Cancelled:
            self.job_cancelled.emit(job.job_id)
        except Exception as err:  # noqa: BLE001 - e.g. torch missing: the next job tries again
            log.exception("cannot start the inference engine")
            self.job_failed.emit(job.job_id, f"cannot start the inference engine "
                                             f"({type(err).__name__}: {err})")
        else:
            engine.run(job, token)  # reports the job's end itself, whatever happens in it

    def _engine_in_this_thread(self, token: CancelToken) -> Engine:
        if self._engine is None:
            from studio.inference.engine import Engine, import_ml_stack

            # torch + transformers now, with the heap frozen after them (gc.freeze): else a
            # full collection of the torch heap holds the GIL for ~200 ms at random moments.
            # Shutdown cancels every token, so it waits for one module's import at most.
            import_ml_stack(freeze_heap=self._freeze_heap, cancel=token)
            from studio.inference.devices import leave_a_core_free, pick_device

            leave_a_core_free(pick_device(self._device).device)  # the GUI keeps a core
            self._engine = Engine(_SignalEvents(self), device=self._device)
        return self._engine
