"""The scheduler with workers of the test's own (fault injection: a worker process that exits
whenever its unit holds item 4, as a clip that crashes the decoder would): the other items end
once each, the poison item alone fails with a message, and the run ends."""

from __future__ import annotations

import os
import sys

from studio.inference.cluster import ItemDone, ItemFailed, WorkerLost
from studio.inference.cluster.scheduler import MAX_ATTEMPTS, WorkerSpec, run_on_workers
from studio.inference.cluster.workers import Outcome, WorkerInfo, node_name

POISON = 4


class PoisonedWorker:
    def ready(self) -> WorkerInfo:
        return WorkerInfo(node_name(), os.getpid(), device="cpu", unit_size=3)

    def run(self, items: list) -> list[Outcome]:
        if any(index == POISON for index, _ in items):
            os._exit(1)  # the whole process, as a crash in native code
        return [Outcome(index, result=item * 10) for index, item in items]


def test_an_item_that_kills_every_worker_fails_alone_and_the_rest_end_once(local_cluster):
    local_cluster.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    spec = WorkerSpec(PoisonedWorker, (), {"num_cpus": 1}, count=2)
    events = list(run_on_workers(local_cluster, spec, list(range(8))))

    done = [e for e in events if isinstance(e, ItemDone)]
    failed = [e for e in events if isinstance(e, ItemFailed)]
    assert sorted(e.index for e in done) == [i for i in range(8) if i != POISON]
    assert all(e.result == e.index * 10 for e in done)
    (poison,) = failed
    assert poison.index == POISON and poison.total == 8 and events[-1].done == 8
    assert f"item {POISON + 1}: its worker died {MAX_ATTEMPTS} times" in poison.message
    assert f"(last on {node_name()})" in poison.message
    # its unit killed MAX_ATTEMPTS workers (more when a dying worker took the answer of its
    # call before with it), then it killed one more alone
    assert len([e for e in events if isinstance(e, WorkerLost)]) >= MAX_ATTEMPTS + 1


class SteppingWorker:
    """A job of STEPS steps, STEP_S each, each put on the run's progress board."""

    STEPS, STEP_S = 6, 0.3

    def ready(self) -> WorkerInfo:
        return WorkerInfo(node_name(), os.getpid(), device="cpu", unit_size=1)

    def run(self, items: list, board=None) -> list[Outcome]:
        import time

        (index, item), = items
        for step in range(1, self.STEPS + 1):
            time.sleep(self.STEP_S)
            board.put.remote(index, step, self.STEPS, (self.STEPS - step) * self.STEP_S,
                             node_name())
        return [Outcome(index, result=item)]


def test_a_generation_reports_its_steps_while_it_runs(local_cluster):
    """The window's queue and Preview show a cluster generation's steps as a local one's:
    the worker puts each step on the run's progress board, the driver takes them as it polls."""
    from studio.inference.cluster import ItemProgress

    local_cluster.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    spec = WorkerSpec(SteppingWorker, (), {"num_cpus": 1}, count=1, reports_progress=True)
    events = list(run_on_workers(local_cluster, spec, ["job"]))
    steps = [e for e in events if isinstance(e, ItemProgress)]
    assert len(steps) >= 2, events
    assert [e.steps_done for e in steps] == sorted({e.steps_done for e in steps})
    assert all(e.index == 0 and e.steps == SteppingWorker.STEPS for e in steps)
    assert steps[0].node == node_name()
    assert isinstance(events[-1], ItemDone) and events.index(steps[-1]) < len(events) - 1
