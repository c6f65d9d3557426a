"""Studio's one pool policy for short background tasks (DESIGN.md, threading rules).

Probes, thumbnails, analyses, export plans, exports and dataset writes run as superqt workers
(``superqt.utils.create_worker``: a plain function, or a generator whose yields arrive as the
worker's ``yielded``) on ONE shared ``QThreadPool`` of ``cores - 1`` threads: the GUI thread
keeps a core (on 2 cores two busy Python workers starved it: bench/RESULTS.md, "Dropping 500
clips"). The model manager's long-lived ``QThread`` is no part of this.

A panel (or dialog) owns a ``Workers``: its lane on the shared pool. It keeps QThreadPool's
names for what a panel needs of a pool, ``start`` (with a priority), ``clear`` (drop what has
not started), ``waitForDone`` (shutdown, close, tests) and ``activeThreadCount``, plus ``limit``:
how many of the lane's tasks run at once (one analysis at a time; the bin's ``min(2, cores -
1)``), the rest waiting in the lane by priority; and ``long``: a lane whose tasks take minutes
(the export queue, a training-set export, analyses) gets a thread added to the pool for each
one running, so that thumbnails, plans and probes never wait behind an export (on 2 cores
the pool has one thread). No panel makes a ``QThreadPool`` of its own (tests/ui/test_workers.py
looks).

``run(func, *args, returned=..., yielded=..., errored=..., finished=...)`` makes the worker and
connects its signals to the slots given, which must be bound methods (``@Slot``) of QObjects
that live in the calling (GUI) thread: in PySide6 a lambda or plain function connected to a
worker signal runs in the worker thread, so anything else is refused with ``TypeError``. A
worker's signals ``QObject`` is made in the GUI thread (superqt makes it in the worker's
``__init__``), is a child of the lane and is deleted there (``deleteLater``) once the worker
has finished, never from a pool thread. With no ``errored`` slot an unexpected exception goes
to ``sys.excepthook``, as a ``QRunnable``'s did.

Importing superqt costs about 250 ms (qtpy star-imports PySide6's modules, which makes every
lazily loaded type), so it is kept off start-up and off the GUI thread: the first ``run`` loads
it on the shared pool and the workers asked for meanwhile are made once it has loaded
(``waitForDone`` loads it at once). Two things of superqt's ``WorkerBase.run`` are left out:
it swaps the process-wide warning filters and ``warnings.showwarning`` while a worker runs (not
thread-safe: two workers at once leave ``showwarning`` on the worker that finished first), and
a generator that raised ``RuntimeError`` never emitted ``finished``.
"""

from __future__ import annotations

import contextlib
import inspect
import itertools
import sys
import threading
import time
from collections.abc import Callable

from PySide6.QtCore import QObject, QRunnable, QThread, QThreadPool, QTimer, Signal, Slot

from studio.settings import cores_but_one

_SUPERQT = "superqt.utils._qthreading"
_LOAD_PRIORITY = 100  # before any task: every deferred worker waits for it
BURST_MS = 8  # the longest the GUI thread makes deferred workers before it lets events in

_pool: QThreadPool | None = None
_classes: dict | None = None
_classes_lock = threading.Lock()
_grow_lock = threading.Lock()
_loader: _Loader | None = None


def pool_size() -> int:
    """The shared pool's threads: every core but one, which the GUI thread keeps."""
    return cores_but_one()


def shared_pool() -> QThreadPool:
    """The one pool every ``Workers`` lane runs on, made on first use."""
    global _pool
    if _pool is None:
        _pool = QThreadPool()
        _pool.setObjectName("StudioWorkers")
        _pool.setMaxThreadCount(pool_size())
    return _pool


def superqt_loaded() -> bool:
    return _SUPERQT in sys.modules


def _worker_classes() -> dict:
    """superqt's worker classes with Studio's ``run`` (see the module's docstring); importing
    superqt here if it has not been."""
    global _classes
    with _classes_lock:
        if _classes is None:
            _classes = _make_worker_classes()
        return _classes


def _make_worker_classes() -> dict:
    from superqt.utils import FunctionWorker, GeneratorWorker, WorkerBase
    from superqt.utils._qthreading import GeneratorWorkerSignals

    class _Run:
        def run(self) -> None:
            self._running = True
            try:
                _emit(self, "started")
                result = self.work()
                if isinstance(result, Exception):  # GeneratorWorker returns what it caught
                    raise result
                if not self.abort_requested:
                    _emit(self, "returned", result)
            except Exception as exc:  # noqa: BLE001 - reported, as superqt does
                _emit(self, "errored", exc)
            finally:
                self._running = False
                _emit(self, "finished")

    class StudioFunctionWorker(_Run, FunctionWorker):
        pass

    class StudioGeneratorWorker(_Run, GeneratorWorker):
        pass

    class StudioReportingWorker(_Run, WorkerBase):
        """A plain function given ``report``, which emits the worker's ``yielded``: for work
        that reports from a callback (``core.metrics.analyze``'s progress, say)."""

        def __init__(self, func, *args, **kwargs):
            super().__init__(SignalsClass=GeneratorWorkerSignals)
            self._func, self._args, self._kwargs = func, args, kwargs

        def work(self):
            return self._func(*self._args, report=self.signals.yielded.emit, **self._kwargs)

    return {"function": StudioFunctionWorker, "generator": StudioGeneratorWorker,
            "reporting": StudioReportingWorker}


def _emit(worker, name: str, *args) -> None:
    with contextlib.suppress(RuntimeError):  # the lane (and the signals object) is gone
        getattr(worker.signals, name).emit(*args)


def create(func: Callable, *args, reports: bool = False, **kwargs):
    """A superqt worker for ``func(*args, **kwargs)``, not started (``Workers.start`` starts
    it). ``reports``: ``func`` also gets ``report``, a callable that emits ``yielded``. Imports
    superqt if it has not been (in the GUI thread: ``Workers.run`` avoids that)."""
    from superqt.utils import create_worker

    classes = _worker_classes()
    if reports:
        kind = "reporting"
    else:
        kind = "generator" if inspect.isgeneratorfunction(func) else "function"
    return create_worker(func, *args, _start_thread=False, _ignore_errors=True,
                         _worker_class=classes[kind], **kwargs)


class _Loader(QObject):
    """Imports superqt on the shared pool and says so in the GUI thread."""

    loaded = Signal()

    def __init__(self) -> None:
        super().__init__()
        self._started = False

    def start(self) -> None:
        if not self._started:
            self._started = True
            shared_pool().start(self._load, _LOAD_PRIORITY)

    def _load(self) -> None:  # a pool thread
        try:
            _worker_classes()
        finally:
            with contextlib.suppress(RuntimeError):
                self.loaded.emit()


def _the_loader() -> _Loader:
    global _loader
    if _loader is None:
        _loader = _Loader()
    return _loader


def _check_slot(slot) -> None:
    owner = getattr(slot, "__self__", None)
    if not isinstance(owner, QObject) or not inspect.ismethod(slot):
        raise TypeError(f"worker signals connect only to bound @Slot methods of QObjects "
                        f"(DESIGN.md, threading rules), not {slot!r}")
    if owner.thread() != QThread.currentThread():
        raise TypeError(f"{slot!r}: its QObject lives in another thread than the caller")


class _Entry(QRunnable):
    """One task of a lane, on the shared pool: runs it, then tells the lane."""

    def __init__(self, lane: _Lane, task: QRunnable, priority: int):
        super().__init__()
        self.lane = lane
        self.task = task
        self.priority = priority
        self.order = (-priority, next(lane.counter))
        self.running = False
        self.dropped = False

    def __lt__(self, other: _Entry) -> bool:
        return self.order < other.order

    def run(self) -> None:
        started = self.lane.begin(self)  # False: cleared before it started
        try:
            if started:
                self.task.run()
        finally:
            if self.lane.long:
                _grow_pool(-1)  # the thread it was given
            if started:
                self.lane.end(self)


def _grow_pool(threads: int) -> None:
    with _grow_lock, contextlib.suppress(RuntimeError):  # RuntimeError: Python is exiting
        pool = shared_pool()
        pool.setMaxThreadCount(pool.maxThreadCount() + threads)


class _Lane:
    """A lane's tasks, shared by the GUI thread and the pool threads (under ``cond``)."""

    def __init__(self, limit: int | None, long: bool = False):
        self.limit = limit
        self.long = long
        self.cond = threading.Condition()
        self.counter = itertools.count()
        self.waiting: list[_Entry] = []  # a heap: over the limit, by priority then order
        self.started: set[_Entry] = set()  # handed to the pool, not finished

    def submit(self, entry: _Entry) -> None:
        with self.cond:
            go = self.limit is None or len(self.started) < self.limit
            if go:
                self.started.add(entry)
            else:
                import heapq

                heapq.heappush(self.waiting, entry)
        if go:
            self.hand_over(entry)

    def hand_over(self, entry: _Entry) -> None:
        if self.long:
            _grow_pool(1)  # a thread of its own: the short tasks never wait behind it
        with contextlib.suppress(RuntimeError):  # the pool is gone: Python is exiting
            shared_pool().start(entry, entry.priority)

    def begin(self, entry: _Entry) -> bool:
        with self.cond:
            entry.running = not entry.dropped
            return entry.running

    def end(self, entry: _Entry) -> None:
        with self.cond:
            self.started.discard(entry)
            after = None
            if self.waiting and (self.limit is None or len(self.started) < self.limit):
                import heapq

                after = heapq.heappop(self.waiting)
                self.started.add(after)
            self.cond.notify_all()
        if after is not None:
            self.hand_over(after)

    def clear(self) -> list[_Entry]:
        """Drop the tasks that have not started; returns them."""
        with self.cond:
            dropped = [e for e in self.started if not e.running] + self.waiting
            self.waiting = []
            for entry in dropped:
                entry.dropped = True
                self.started.discard(entry)
            self.cond.notify_all()
        return dropped

    def count(self) -> int:
        with self.cond:
            return len(self.started) + len(self.waiting)

    def wait(self, deadline: float | None) -> bool:
        with self.cond:
            while self.started or self.waiting:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self.cond.wait(left)
            return True


class Workers(QObject):
    """A panel's lane on the shared pool (GUI thread). ``limit``: how many of its tasks run at
    once (None: as many as the pool has threads). ``long``: its tasks take minutes (an export,
    an analysis): each running one has a thread of its own, added to the pool while it runs,
    so that thumbnails, plans and probes never wait behind it (``limit`` bounds them)."""

    def __init__(self, parent: QObject | None = None, *, limit: int | None = None,
                 long: bool = False):
        super().__init__(parent)
        self._lane = _Lane(limit, long)
        self._deferred: list[tuple] = []  # run() calls made before superqt had loaded
        self._awaiting_load = False

    @property
    def limit(self) -> int | None:
        return self._lane.limit

    def run(self, func: Callable, *args, priority: int = 0, reports: bool = False,
            returned=None, yielded=None, errored=None, finished=None, **kwargs) -> None:
        """Run ``func(*args, **kwargs)`` as a superqt worker (``create``) on the shared pool,
        its signals connected to the bound slots given (see the module's docstring)."""
        slots = {"returned": returned, "yielded": yielded, "errored": errored,
                 "finished": finished}
        for slot in slots.values():
            if slot is not None:
                _check_slot(slot)
        request = (func, args, kwargs, priority, reports, slots)
        if _classes is not None:
            self._start_request(request)
            return
        self._deferred.append(request)
        if not self._awaiting_load:
            self._awaiting_load = True
            _the_loader().loaded.connect(self._on_loaded)
        _the_loader().start()

    def start(self, task: QRunnable, priority: int = 0) -> None:
        """Run ``task`` (a superqt worker, or any ``QRunnable``) on the shared pool."""
        self._lane.submit(_Entry(self._lane, task, priority))

    def clear(self) -> None:
        """Tasks that have not started never will (their workers report nothing)."""
        self._deferred = []
        for entry in self._lane.clear():
            signals = getattr(entry.task, "signals", None)
            if isinstance(signals, QObject) and signals.parent() is self:
                signals.deleteLater()

    def waitForDone(self, msecs: int = -1) -> bool:  # noqa: N802 - QThreadPool's name
        """Wait for every task of the lane (``msecs`` < 0: as long as it takes); True when
        none is left. Their signals arrive in the GUI thread's event loop afterwards."""
        deadline = None if msecs < 0 else time.monotonic() + msecs / 1000
        if self._deferred:
            self._start_deferred(None)  # loads superqt here and now
        return self._lane.wait(deadline)

    def activeThreadCount(self) -> int:  # noqa: N802 - QThreadPool's name
        """The lane's tasks not finished yet: running, or waiting for a thread or for superqt.
        (A QThreadPool counts only the running ones.)"""
        return self._lane.count() + len(self._deferred)

    @Slot()
    def _on_loaded(self) -> None:
        """Make the workers asked for while superqt loaded, about BURST_MS' worth at a time:
        500 thumbnails asked for during a drop, made in one go, held the GUI thread 117 ms
        (bench/bin_drop.py); the rest follow from the event loop."""
        self._start_deferred(BURST_MS / 1000)

    def _start_deferred(self, budget_s: float | None) -> None:
        """The deferred requests, all (``budget_s`` None) or for about ``budget_s``."""
        due = None if budget_s is None else time.monotonic() + budget_s
        while self._deferred:
            self._start_request(self._deferred.pop(0))
            if self._deferred and due is not None and time.monotonic() >= due:
                QTimer.singleShot(0, self, self._on_loaded)
                return

    def _start_request(self, request: tuple) -> None:
        func, args, kwargs, priority, reports, slots = request
        worker = create(func, *args, reports=reports, **kwargs)
        signals = worker.signals
        signals.setParent(self)  # deleted in this thread, never by a pool thread's last reference
        if slots["errored"] is None:
            slots["errored"] = self._on_errored
        for name, slot in slots.items():
            if slot is not None:
                getattr(signals, name).connect(slot)
        signals.finished.connect(signals.deleteLater)
        self.start(worker, priority)

    @Slot(object)
    def _on_errored(self, exc) -> None:
        sys.excepthook(type(exc), exc, exc.__traceback__)
