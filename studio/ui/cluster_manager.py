"""Caption and generation jobs run on a Ray cluster from the window (issue 18, item 4).

``ClusterManager`` takes the same jobs as the ``ModelManager`` (``CaptionJob``,
``CaptionBatchJob``, ``GenerateJob``) and returns the same ``JobHandle``, so the caption panel and
the generation queue follow a cluster run exactly as a local one: progress, each clip's result
or failure, the end, cancel. The work is ``studio.inference.cluster``'s iterators
(``caption_on_cluster``, ``generate_on_cluster``), each run on a Python thread of its own (a
run waits on the cluster for minutes; the shared worker pool must not), its events posted to
the GUI thread through ``_event`` and re-emitted there on the job's handle.

Nothing here imports Ray or torch: ``studio.inference.cluster`` does that when a run connects.
"""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot

from studio.core.cancel import Cancelled, CancelToken
from studio.ui.model_manager import JobHandle

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Started:
    label: str


@dataclass(frozen=True)
class _Ended:
    state: str  # "finished" | "failed" | "cancelled"
    message: str = ""
    result: Any = None


class ClusterManager(QObject):
    """Runs jobs on the Ray cluster at ``address()`` (read when each job starts)."""

    status_message = Signal(str)  # a worker lost or started, for the status bar
    _event = Signal(int, object)  # job id, an event of its run (emitted from the run's thread)

    def __init__(self, address, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._address = address
        self._runs: dict[int, tuple[JobHandle, CancelToken, threading.Thread]] = {}
        self._generations: set[int] = set()  # the runs that are generations (their steps)
        self._event.connect(self._on_event)

    def submit(self, job) -> JobHandle:
        """Start ``job`` on the cluster; its handle reports as the model manager's does."""
        handle = JobHandle(job.job_id, self)
        token = CancelToken()
        thread = threading.Thread(target=self._run, args=(job, self._address(), token),
                                  name=f"studio-cluster-{job.job_id}", daemon=True)
        self._runs[job.job_id] = (handle, token, thread)
        if hasattr(job, "params"):  # an engine GenerateJob (a caption job has none)
            self._generations.add(job.job_id)
        thread.start()
        return handle

    def cancel(self, job_id: int | None = None) -> None:
        """Stop one run (``job_id``) or all: the cluster's workers are killed within a second."""
        for key, (_handle, token, _thread) in list(self._runs.items()):
            if job_id is None or key == job_id:
                token.cancel()

    def running(self) -> bool:
        return bool(self._runs)

    def shutdown(self, timeout_s: float = 10.0) -> None:
        self.cancel()
        for _handle, _token, thread in list(self._runs.values()):
            thread.join(timeout_s)

    # -- the run's thread -----------------------------------------------------------------
    def _run(self, job, address: str, token: CancelToken) -> None:
        from studio.inference.cluster import ClusterError
        from studio.inference.engine import GenerateJob

        post = self._event.emit
        try:
            post(job.job_id, _Started(f"on the Ray cluster at {address}"))
            last = None
            for event in _events_of(job, address, token):
                post(job.job_id, event)
                last = event
            token.raise_if_cancelled()
            if isinstance(job, GenerateJob) and not hasattr(last, "result"):
                # one job: its failure is the run's (the queue marks the job failed)
                post(job.job_id, _Ended("failed", getattr(last, "message", "no result")))
            else:
                post(job.job_id, _Ended("finished", result=getattr(last, "result", None)))
        except Cancelled:
            post(job.job_id, _Ended("cancelled"))
        except (ClusterError, ValueError, OSError) as err:
            post(job.job_id, _Ended("failed", str(err)))
        except Exception as err:  # noqa: BLE001 - said in the window, logged with its traceback
            log.exception("cluster job %s failed", job.job_id)
            post(job.job_id, _Ended("failed", f"{type(err).__name__}: {err}"))

    # -- the GUI thread -------------------------------------------------------------------
    @Slot(int, object)
    def _on_event(self, job_id: int, event) -> None:
        from studio.inference import cluster

        entry = self._runs.get(job_id)
        if entry is None:
            return
        handle = entry[0]
        if isinstance(event, _Started):
            handle.started.emit(job_id, event.label)
        elif isinstance(event, cluster.ItemDone):
            handle.item_finished.emit(job_id, event.index, event.result)
            if not self._is_generation(job_id):  # its steps were its progress
                handle.progress.emit(job_id, event.done, event.total, math.nan)
        elif isinstance(event, cluster.ItemFailed):
            handle.item_failed.emit(job_id, event.index, event.message)
            handle.progress.emit(job_id, event.done, event.total, math.nan)
        elif isinstance(event, cluster.ItemProgress):  # a generation's steps
            handle.progress.emit(job_id, event.steps_done, event.steps, event.eta_s)
        elif isinstance(event, cluster.ItemSkipped):
            handle.progress.emit(job_id, event.done, event.total, math.nan)
        elif isinstance(event, cluster.WorkerStarted):
            self.status_message.emit(f"Ray worker {event.worker} ready on {event.node} "
                                     f"({event.device})")
        elif isinstance(event, cluster.WorkerLost):
            self.status_message.emit(f"Ray worker {event.worker} on {event.node} lost: "
                                     f"{event.message}")
        elif isinstance(event, _Ended):
            self._end(job_id, handle, event)

    def _is_generation(self, job_id: int) -> bool:
        return job_id in self._generations

    def _end(self, job_id: int, handle: JobHandle, event: _Ended) -> None:
        del self._runs[job_id]
        self._generations.discard(job_id)
        handle.done = True
        if event.state == "finished":
            handle.finished.emit(job_id, event.result)
        elif event.state == "cancelled":
            handle.cancelled.emit(job_id)
        else:
            handle.failed.emit(job_id, event.message)


def _events_of(job, address: str, token: CancelToken):
    """The cluster run of an engine job: caption jobs as one batch, a generation alone."""
    from studio.inference import cluster
    from studio.inference.batching import ClipInput
    from studio.inference.captioner import CaptionSettings
    from studio.inference.engine import CaptionJob, GenerateJob

    if isinstance(job, GenerateJob):
        return cluster.generate_on_cluster(address, [job], cancel=token)
    items = [job] if isinstance(job, CaptionJob) else job.items
    clips = [ClipInput(item.path, item.in_frame, item.out_frame) for item in items]
    return cluster.caption_on_cluster(address, clips, job.model,
                                      job.settings or CaptionSettings(), keep_frames=True,
                                      cancel=token)
