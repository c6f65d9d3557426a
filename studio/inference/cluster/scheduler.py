"""The driver's side of a cluster run: items handed to Ray actors a unit at a time, each
item's end streamed back as an event as soon as its unit returns.

The driver keeps every item until a worker has returned it: a worker that dies (its process
killed, its node gone, out of memory) has its units queued again, first in line, for the
others and for a worker started in its place. An item is reported once, when the one call
that returned it is read; a call of a lost worker that had already returned is read, not run
again. A unit that was running on three workers when they died is split into single items,
each tried once more alone, so one item that kills its worker fails alone, with a message,
and never stops the run (units queued behind it on a worker are not held to blame).

The caller iterates ``run_on_workers``; a ``CancelToken`` stops it within ``POLL_S`` (the
workers are killed, ``Cancelled`` raised). Closing the iterator kills the workers too.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from studio.core.cancel import CancelToken
from studio.inference.cluster.connection import ClusterError
from studio.inference.cluster.workers import ProgressBoard, on_node

log = logging.getLogger(__name__)

DEPTH = 2  # calls queued on a worker, so that the next is there when one returns
MAX_ATTEMPTS = 3  # workers a unit may see die while it runs before its items go alone
POLL_S = 0.25  # how often a cancel is looked at while waiting
SETTLE_S = 5.0  # the most a lost worker's calls are waited for, to read what they returned
START_TIMEOUT_S = 900.0  # with nothing running, how long workers may take to start


# ---- events -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class WorkerStarted:
    worker: int  # the run's own number for it
    node: str
    pid: int
    device: str
    unit_size: int
    model: str = ""  # the captioner's id (empty for a generator: its jobs name their models)
    demo: bool = False


@dataclass(frozen=True)
class WorkerLost:
    """A worker died or could not start; the ``requeued`` items it held go to the others."""

    worker: int
    node: str
    message: str
    requeued: tuple[int, ...] = ()


@dataclass(frozen=True)
class ItemDone:
    index: int
    result: Any
    node: str
    worker: int
    done: int  # items ended so far, this one included
    total: int
    inspection: Any = None


@dataclass(frozen=True)
class ItemFailed:
    index: int
    message: str  # names the file and the node
    done: int
    total: int


@dataclass(frozen=True)
class ItemProgress:
    """Steps of an item still running (a generation), when its worker reports them."""

    index: int
    steps_done: int
    steps: int
    eta_s: float
    node: str


@dataclass(frozen=True)
class ItemSkipped:
    """Done before (a resumed run): not run again."""

    index: int
    done: int
    total: int


@dataclass(frozen=True)
class WorkerSpec:
    """The run's workers: a class of ``cluster.workers``, its arguments, Ray's resource
    options for one (``num_gpus``/``num_cpus``), and how many to start."""

    cls: type
    args: tuple
    options: dict
    count: int
    reports_progress: bool = False  # its run() takes a ProgressBoard and puts each step on it


@dataclass
class _Unit:
    items: list[int]
    attempts: int = 0
    alone: bool = False  # a suspect: sent to a worker with nothing else in hand or behind it


@dataclass
class _Worker:
    number: int
    handle: Any
    starting: Any = None  # its ready() call while it starts
    info: Any = None  # its WorkerInfo once started
    calls: dict = field(default_factory=dict)  # call -> _Unit


def run_on_workers(ray, spec: WorkerSpec, items: list, *, cancel: CancelToken | None = None,
                   skip: Callable[[Any], set[int]] | None = None) -> Iterator:
    """Run ``items`` on ``spec``'s workers and yield WorkerStarted, WorkerLost, ItemDone,
    ItemFailed and ItemSkipped events until every item has ended. ``skip(info)``, given the
    first worker's WorkerInfo, names the items done before. Raises ClusterError when no worker
    can start, ``Cancelled`` when ``cancel`` is set."""
    run = _Run(ray, spec, items, cancel or CancelToken(), skip)
    try:
        run.start(spec.count)
        while run.done < run.total:
            run.cancel.raise_if_cancelled()
            yield from run.step()
    finally:
        run.stop()


class _Run:
    def __init__(self, ray, spec: WorkerSpec, items: list, cancel: CancelToken, skip) -> None:
        self.ray, self.spec, self.items, self.cancel, self.skip = ray, spec, items, cancel, skip
        self.total, self.done = len(items), 0
        self.fresh: deque[int] = deque(range(len(items)))
        self.retries: deque[_Unit] = deque()
        self.workers: dict[int, _Worker] = {}
        self.numbers = itertools.count(1)
        self.replacements = 2 * spec.count + 2  # workers started in place of lost ones
        self.first = None  # the first started worker's info
        self.last_loss = ""
        self.quiet_since = time.monotonic()  # nothing running or returned since
        self.remote = ray.remote(spec.cls)
        self.board = self.board_call = None  # a ProgressBoard, for workers that report steps
        if spec.reports_progress:
            self.board = ray.remote(ProgressBoard).options(num_cpus=0).remote()
        errors = ray.exceptions
        # a worker's process, node or results are gone: its units go to the others
        self.lost = tuple(getattr(errors, name) for name in (
            "RayActorError", "WorkerCrashedError", "ObjectLostError", "NodeDiedError",
            "OutOfMemoryError", "ActorUnschedulableError") if hasattr(errors, name))

    # ---- workers ----

    def start(self, count: int) -> None:
        for _ in range(count):
            self._start_one()

    def _start_one(self) -> None:
        handle = self.remote.options(max_restarts=0, max_task_retries=0,
                                     scheduling_strategy="SPREAD",
                                     **self.spec.options).remote(*self.spec.args)
        number = next(self.numbers)
        self.workers[number] = _Worker(number, handle, starting=handle.ready.remote())

    def stop(self) -> None:
        for worker in self.workers.values():
            self._kill(worker)
        self.workers.clear()
        if self.board is not None:
            self.ray.kill(self.board, no_restart=True)
            self.board = None

    def _kill(self, worker: _Worker) -> None:
        try:
            self.ray.kill(worker.handle, no_restart=True)
        except Exception:  # noqa: BLE001 - gone already, or the connection with it
            log.debug("killing worker %s failed", worker.number, exc_info=True)

    # ---- the loop ----

    def step(self) -> Iterator:
        """Wait up to POLL_S for calls to return and handle every one that has."""
        for worker in list(self.workers.values()):  # work queued again goes to idle ones
            if worker.info is not None:
                self._feed(worker)
        waiting = {call: worker for worker in self.workers.values()
                   for call in ([worker.starting] if worker.starting is not None
                                else worker.calls)}
        if not waiting:
            yield from self._fail_rest(f"no worker is left to run it ({self.last_loss})")
            return
        ready, _ = self.ray.wait(list(waiting), num_returns=1, timeout=POLL_S)
        if ready:
            others = [call for call in waiting if call not in ready]
            if others:  # every other call that has returned too, without waiting
                ready += self.ray.wait(others, num_returns=len(others), timeout=0)[0]
            self.quiet_since = time.monotonic()
        for call in ready:
            worker = waiting[call]
            if worker.number not in self.workers:
                continue  # lost while an earlier call was handled; its units are queued
            if worker.starting is not None and call == worker.starting:
                yield from self._started(worker)
            elif call in worker.calls:
                yield from self._returned(worker, call)
        if self.board is not None:
            yield from self._progress()
        self._check_quiet()

    def _progress(self) -> Iterator:
        """The steps the workers put on the board since the last poll, for items still
        running (taken once a poll; a poll never waits for the board's answer)."""
        if self.board_call is not None and self.ray.wait([self.board_call], timeout=0)[0]:
            call, self.board_call = self.board_call, None
            try:
                steps = self.ray.get(call)
            except Exception:  # noqa: BLE001 - the board lost: no more steps, the run goes on
                log.debug("the progress board failed", exc_info=True)
                self.board = None
                return
            running = {i for w in self.workers.values() for u in w.calls.values()
                       for i in u.items}
            for index, done, total, eta_s, node in steps:
                if index in running:
                    yield ItemProgress(index, done, total, eta_s, node)
        if self.board_call is None:
            self.board_call = self.board.take.remote()

    def _check_quiet(self) -> None:
        running = any(worker.calls for worker in self.workers.values())
        if running:
            self.quiet_since = time.monotonic()
        elif time.monotonic() - self.quiet_since > START_TIMEOUT_S:
            raise ClusterError(f"no worker started in {START_TIMEOUT_S:.0f} s: the cluster "
                               f"has no free {self._resource()} for one (`ray status` says "
                               "what it has)")

    def _resource(self) -> str:
        return "GPU" if self.spec.options.get("num_gpus") else "CPU"

    def _started(self, worker: _Worker) -> Iterator:
        call, worker.starting = worker.starting, None
        try:
            info = self.ray.get(call)
        except self.lost as err:
            yield from self._lose(worker, err)
            return
        if info.error:
            yield from self._failed_start(worker, info)
            return
        worker.info = info
        log.info("worker %s started on %s (pid %s, %s)", worker.number, info.node, info.pid,
                 info.device)
        yield WorkerStarted(worker.number, info.node, info.pid, info.device, info.unit_size,
                            info.model_id, info.demo)
        if self.first is None:
            self.first = info
            yield from self._skip_done(info)
        self._feed(worker)

    def _failed_start(self, worker: _Worker, info) -> Iterator:
        """A worker whose model cannot load: the others go on; with none left, the run
        cannot (the same model is asked of every node)."""
        del self.workers[worker.number]
        self._kill(worker)
        self.last_loss = info.error
        log.warning("a worker could not start: %s", info.error)
        yield WorkerLost(worker.number, info.node, info.error)
        if not self.workers:
            raise ClusterError(info.error)

    def _skip_done(self, info) -> Iterator:
        skipped = set(self.skip(info)) if self.skip is not None else set()
        if not skipped:
            return
        self.fresh = deque(i for i in self.fresh if i not in skipped)
        for index in sorted(skipped):
            self.done += 1
            yield ItemSkipped(index, self.done, self.total)

    def _feed(self, worker: _Worker) -> None:
        while len(worker.calls) < DEPTH:
            if any(unit.alone for unit in worker.calls.values()):
                return
            unit = self._next_unit(worker.info.unit_size, busy=bool(worker.calls))
            if unit is None:
                return
            payload = [(index, self.items[index]) for index in unit.items]
            extra = () if self.board is None else (self.board,)
            worker.calls[worker.handle.run.remote(payload, *extra)] = unit

    def _next_unit(self, size: int, busy: bool) -> _Unit | None:
        if self.retries:
            if self.retries[0].alone and busy:
                return None
            return self.retries.popleft()
        if not self.fresh:
            return None
        return _Unit([self.fresh.popleft() for _ in range(min(size, len(self.fresh)))])

    def _returned(self, worker: _Worker, call) -> Iterator:
        try:
            outcomes = self.ray.get(call)
        except self.lost as err:
            yield from self._lose(worker, err)
            return
        except Exception as err:  # noqa: BLE001 - a failure of the worker's code: its items fail
            unit = worker.calls.pop(call)
            message = on_node(_cause(err), worker.info.node)
            for index in unit.items:
                yield self._item_failed(index, message)
        else:
            del worker.calls[call]
            yield from self._outcomes(worker, outcomes)
        self._feed(worker)

    def _outcomes(self, worker: _Worker, outcomes) -> Iterator:
        for outcome in outcomes:
            if outcome.error is not None:
                yield self._item_failed(outcome.index, outcome.error)
            else:
                self.done += 1
                yield ItemDone(outcome.index, outcome.result, worker.info.node, worker.number,
                               self.done, self.total, outcome.inspection)

    def _item_failed(self, index: int, message: str) -> ItemFailed:
        self.done += 1
        return ItemFailed(index, message, self.done, self.total)

    # ---- losing a worker ----

    def _lose(self, worker: _Worker, err: BaseException) -> Iterator:
        """``worker`` is gone: what it returned before is read, the rest queued again, first
        in line, and a worker started in its place while the budget lasts."""
        del self.workers[worker.number]
        node = worker.info.node if worker.info is not None else "a node"
        returned = []
        if worker.calls:  # each resolves soon: to what it returned, or to the worker's death
            returned = self.ray.wait(list(worker.calls), num_returns=len(worker.calls),
                                     timeout=SETTLE_S)[0]
        lost_units = []
        for call, unit in list(worker.calls.items()):
            try:
                outcomes = self.ray.get(call) if call in returned else None
            except Exception:  # noqa: BLE001 - died with the worker
                outcomes = None
            if outcomes is None:
                lost_units.append(unit)
            else:
                yield from self._outcomes(worker, outcomes)
        worker.calls.clear()
        self._kill(worker)
        self.last_loss = f"the worker on {node} stopped: {_cause(err)}"
        requeued = tuple(index for unit in lost_units for index in unit.items)
        log.warning("worker %s on %s lost (%s); %s item(s) queued again", worker.number, node,
                    _cause(err), len(requeued))
        yield WorkerLost(worker.number, node, self.last_loss, requeued)
        # a worker runs its calls in turn: the first not returned was running when it died
        # (or had returned, and its answer died with the process), the others waited behind
        # it and are not to blame
        for position, unit in reversed(list(enumerate(lost_units))):
            yield from self._requeue(unit, node, running=position == 0)
        if self.replacements > 0 and (self.retries or self.fresh):
            self.replacements -= 1
            self._start_one()

    def _requeue(self, unit: _Unit, node: str, running: bool) -> Iterator:
        unit.attempts += running
        if unit.attempts < MAX_ATTEMPTS:
            self.retries.appendleft(unit)
        elif len(unit.items) > 1:  # find the item that kills its workers: each goes alone
            for index in reversed(unit.items):
                self.retries.appendleft(_Unit([index], MAX_ATTEMPTS - 1, alone=True))
        else:
            index = unit.items[0]
            yield self._item_failed(index, f"{self._name(index)}: its worker died "
                                    f"{unit.attempts} times while working on it (last on "
                                    f"{node})")

    def _fail_rest(self, message: str) -> Iterator:
        pending = [index for unit in self.retries for index in unit.items] + list(self.fresh)
        self.retries.clear()
        self.fresh.clear()
        for index in pending:
            yield self._item_failed(index, f"{self._name(index)}: {message}")

    def _name(self, index: int) -> str:
        item = self.items[index]
        return str(getattr(item, "path", None) or getattr(item, "output", None)
                   or f"item {index + 1}")


def _cause(err: BaseException) -> str:
    """The first line of what went wrong in a worker (a RayTaskError carries the worker's own
    exception as its cause)."""
    cause = getattr(err, "cause", None) or err
    lines = str(cause).strip().splitlines()
    detail = lines[0] if lines else ""
    return f"{type(cause).__name__}: {detail}" if detail else type(cause).__name__
