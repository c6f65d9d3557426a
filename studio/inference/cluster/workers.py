"""What runs in a cluster's workers (Ray actors, one per GPU or CPU slot): the captioner and
the engine Studio runs on this computer, loaded once per worker. Plain classes: Ray wraps them
(``ray.remote``) on the driver, and nothing here imports Ray.

Every call returns outcomes, one per item, never raising for an item: a clip that cannot be
read, a generation that fails, is an outcome with a message naming the file and the node.
"""

from __future__ import annotations

import dataclasses
import os
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studio.core.media import MediaError
from studio.inference.engine import EngineEvents


@dataclass(frozen=True)
class WorkerInfo:
    """A worker that has loaded its model (or could not: ``error``)."""

    node: str  # the host name of the machine it runs on
    pid: int
    device: str = ""  # e.g. "cuda (bfloat16)", "cpu (float32)"
    threads: int = 0  # torch's CPU threads
    unit_size: int = 1  # items per call: the clips of one forward pass, one generation
    model_id: str = ""
    demo: bool = False
    defaults: dict = field(default_factory=dict)  # the captioner's fps, max_frames, frame_size
    error: str | None = None


@dataclass(frozen=True)
class Outcome:
    """One item's end: ``result`` (a CaptionResult or GenerateResult) or ``error`` (a message
    naming the file and the node). ``inspection``: the clip's ``core.library.FileInspection``,
    when asked for, so the driver records it without reading the file."""

    index: int
    result: Any = None
    error: str | None = None
    inspection: Any = None


def node_name() -> str:
    return socket.gethostname() or "unknown host"


def on_node(message: str, node: str) -> str:
    """``message`` saying which machine it comes from."""
    return f"{message.rstrip('. ')} (on {node})"


def _torch_threads() -> int:
    import torch

    return torch.get_num_threads()


class CaptionWorker:
    """Captions clips with the same code as ``studio caption``: ``Captioner.load`` once, then
    ``inference.batching.caption_many``, a call's clips in one forward pass."""

    def __init__(self, model: str, device: str | None, settings, batch_size: int | None,
                 clips: int, keep_frames: bool = False, inspect: bool = False) -> None:
        self.model, self.device, self.settings = model, device, settings
        self.batch_size, self.clips = batch_size, clips
        self.keep_frames, self.inspect = keep_frames, inspect
        self.captioner = None
        self.node = node_name()

    def ready(self) -> WorkerInfo:
        """Load the model; the worker's description (or why it cannot load)."""
        from studio.inference.batching import auto_batch_size
        from studio.inference.captioner import Captioner
        from studio.inference.engine import describe_failure

        try:
            self.captioner = captioner = Captioner.load(self.model, self.device)
            size = self.batch_size or auto_batch_size(captioner, self.settings, self.clips)
        except Exception as err:  # noqa: BLE001 - the driver says why, naming the node
            return WorkerInfo(self.node, os.getpid(), error=on_node(
                describe_failure(f"loading {self.model}", err), self.node))
        sampling = captioner.sampling
        return WorkerInfo(
            self.node, os.getpid(), device=f"{captioner.device} ({captioner.dtype_name})",
            threads=_torch_threads(), unit_size=size, model_id=captioner.model_id,
            demo=captioner.demo, defaults={"fps": sampling.fps, "max_frames": sampling.max_frames,
                                           "frame_size": sampling.frame_size})

    def run(self, items: list[tuple[int, Any]]) -> list[Outcome]:
        """Caption ``items`` ((index, ClipInput) pairs) in one pass (halved on running out of
        memory); their outcomes in the same order."""
        from studio.inference.batching import BatchCallbacks, caption_many

        ended: dict[int, Outcome] = {}

        def finished(position: int, result) -> None:
            index, clip = items[position]
            if not self.keep_frames:
                result = dataclasses.replace(result, frames=[])
            ended[position] = Outcome(index, result=result, inspection=self._inspect(clip.path))

        def failed(position: int, err: BaseException) -> None:
            index, clip = items[position]
            ended[position] = Outcome(index, error=self._message(clip.path, err))

        caption_many(self.captioner, [clip for _, clip in items], self.settings,
                     batch_size=len(items), callbacks=BatchCallbacks(finished=finished,
                                                                     failed=failed))
        return [ended[position] for position in range(len(items))]

    def _inspect(self, path: str):
        if not self.inspect:
            return None
        from studio.core.library import inspect_file

        try:
            return inspect_file(path)
        except MediaError:  # gone since it was captioned: the caption stands, unrecorded
            return None

    def _message(self, path: str, err: BaseException) -> str:
        from studio.inference.engine import describe_failure

        return on_node(describe_failure(f"captioning {Path(path).name}", err, path), self.node)


class ProgressBoard:
    """The latest steps of each item running, put by the workers as they go and taken by the
    driver a poll at a time (a small actor of its own: a worker busy in a generation answers
    no call, and a second thread in it breaks the model's loading)."""

    def __init__(self) -> None:
        self.latest: dict[int, tuple] = {}

    def put(self, index: int, done: int, total: int, eta_s: float, node: str) -> None:
        self.latest[index] = (index, done, total, eta_s, node)

    def take(self) -> list[tuple]:
        taken, self.latest = list(self.latest.values()), {}
        return taken


class _JobReport(EngineEvents):
    """What the engine says of the job running: each step, put on the run's ``board``, and,
    when it fails, its message."""

    def __init__(self, index: int, board, node: str) -> None:
        self.index, self.board, self.node = index, board, node
        self.message: str | None = None

    def progress(self, job_id: int, done: int, total: int, eta_s: float) -> None:
        if self.board is not None:
            self.board.put.remote(self.index, done, total, float(eta_s), self.node)

    def failed(self, job_id: int, message: str) -> None:
        self.message = message


class GenerateWorker:
    """Runs ``studio generate`` jobs (``engine.GenerateJob``) through the same ``Engine`` as
    the command line, which writes each video and its sidecar atomically; the generator
    stays loaded from one job to the next."""

    def __init__(self, device: str | None) -> None:
        self.device = device
        self.engine = None
        self.node = node_name()

    def ready(self) -> WorkerInfo:
        from studio.inference.devices import pick_device
        from studio.inference.engine import Engine

        self.engine = Engine(device=self.device)
        choice = pick_device(self.device)  # imports torch; the model loads with its first job
        return WorkerInfo(self.node, os.getpid(), device=f"{choice.device} ({choice.dtype_name})",
                          threads=_torch_threads())

    def run(self, items: list[tuple[int, Any]], board=None) -> list[Outcome]:
        """Run each (index, GenerateJob) in turn; their outcomes in the same order. Each step
        goes on ``board`` (a ``ProgressBoard`` actor), when there is one."""
        outcomes = []
        for index, job in items:
            self.engine.events = failure = _JobReport(index, board, self.node)
            result = self.engine.run(job)
            if result is None:
                message = failure.message or "the generation did not finish"
                outcomes.append(Outcome(index, error=on_node(message, self.node)))
            else:
                outcomes.append(Outcome(index, result=result))
        return outcomes
