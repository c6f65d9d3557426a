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
