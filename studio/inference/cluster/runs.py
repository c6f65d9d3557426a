"""Captioning and generating on a Ray cluster: what the command line calls, and what a window's
worker thread can call (no Qt): each is an iterator of ``scheduler`` events (workers started
and lost, each item done, failed or skipped, with done/total), stopped by a ``CancelToken``.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterable, Iterator

from studio.core.cancel import CancelToken
from studio.inference.cluster.connection import ClusterError, connect, free_slots
from studio.inference.cluster.resume import CaptionKey
from studio.inference.cluster.scheduler import WorkerSpec, run_on_workers
from studio.inference.cluster.workers import CaptionWorker, GenerateWorker


def caption_on_cluster(address: str, clips: list, model: str, settings, *,
                       batch_size: int | None = None, workers: int | None = None,
                       device: str | None = None, keep_frames: bool = False,
                       inspect: bool = False,
                       done_before: Callable[[CaptionKey], Iterable[int]] | None = None,
                       cancel: CancelToken | None = None, local_cpus: int | None = None
                       ) -> Iterator:
    """Caption ``clips`` (``batching.ClipInput``s, paths the workers can read) with ``model``
    and ``settings`` on the cluster at ``address``, ``batch_size`` clips per forward pass
    (None: each worker chooses from its free memory). ``workers``: at most this many (default:
    one per free GPU, else one per free CPU). ``keep_frames``: results keep the previews of the
    frames the model saw; ``inspect``: each result comes with the clip's ``FileInspection``.
    ``done_before(key)`` names the clips already captioned as ``key`` says; they are skipped.

    Yields the events of ``scheduler.run_on_workers``; ItemDone.result is a CaptionResult.
    Raises ClusterError when the cluster cannot be used, ValueError for bad settings."""
    settings.validate()
    items = [dataclasses.replace(clip, path=os.path.abspath(clip.path)) for clip in clips]
    with connect(address, num_cpus=local_cpus) as ray:
        spec = worker_spec(ray, CaptionWorker, len(items), workers, device, lambda on: (
            model, on, settings, batch_size, len(items), keep_frames, inspect))
        skip = None
        if done_before is not None:
            def skip(info) -> set[int]:
                return set(done_before(CaptionKey.of(info, settings)))
        yield from run_on_workers(ray, spec, items, cancel=cancel, skip=skip)


def generate_on_cluster(address: str, jobs: list, *, workers: int | None = None,
                        device: str | None = None, cancel: CancelToken | None = None,
                        local_cpus: int | None = None) -> Iterator:
    """Run ``jobs`` (``engine.GenerateJob``s whose outputs are paths the workers can write) on
    the cluster at ``address``, one job per worker at a time. Yields the events of
    ``scheduler.run_on_workers``; ItemDone.result is a GenerateResult."""
    with connect(address, num_cpus=local_cpus) as ray:
        spec = worker_spec(ray, GenerateWorker, len(jobs), workers, device, lambda on: (on,))
        # each job's steps come back as they go (ItemProgress events)
        spec = dataclasses.replace(spec, reports_progress=True)
        yield from run_on_workers(ray, spec, list(jobs), cancel=cancel)


def worker_spec(ray, cls: type, items: int, workers: int | None, device: str | None,
                arguments: Callable[[str | None], tuple]) -> WorkerSpec:
    """One worker per free GPU (device None or "cuda"), else one per free CPU, at most
    ``workers`` and ``items``; ``arguments(device)`` gives the class's arguments."""
    slots = free_slots(ray)
    if device in (None, "cuda") and slots.gpus > 0:
        count, options, on = slots.gpus, {"num_gpus": 1, "num_cpus": 1}, device
    elif device == "cuda":
        raise ClusterError(f"--device cuda: the cluster has no free GPU ({slots.cpus} free "
                           f"CPUs on {slots.nodes} node(s))")
    else:
        count, options, on = slots.cpus, {"num_cpus": 1}, device or "cpu"
    count = max(1, min(count, workers or count, items))
    return WorkerSpec(cls, arguments(on), options, count)
