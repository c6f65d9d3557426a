"""Studio on a Ray cluster (issue 18): the captioner and the generator Studio runs on this
computer, in Ray actors (one per GPU, or per CPU slot), the results streamed back as they end.

Ray is an optional extra (``pip install 'studio[cluster]'``) and is imported only when a run
connects: importing this package imports neither Ray nor torch.

- ``caption_on_cluster`` / ``generate_on_cluster`` (``runs``): iterators of events, cancelled
  by a ``CancelToken``;
- ``connect``, ``check_address``, ``ClusterError`` (``connection``): the addresses
  ``local``, ``auto`` and ``ray://HOST:PORT``;
- ``CaptionKey`` (``resume``): which stored captions a resumed run keeps;
- the events: ``WorkerStarted``, ``WorkerLost``, ``ItemDone``, ``ItemFailed``, ``ItemSkipped``
  and, for generations, ``ItemProgress`` (the steps of a job running).
"""

from studio.inference.cluster.connection import ClusterError, check_address, connect
from studio.inference.cluster.resume import CaptionKey
from studio.inference.cluster.runs import caption_on_cluster, generate_on_cluster
from studio.inference.cluster.scheduler import (
    ItemDone,
    ItemFailed,
    ItemProgress,
    ItemSkipped,
    WorkerLost,
    WorkerStarted,
)

__all__ = ["CaptionKey", "ClusterError", "ItemDone", "ItemFailed", "ItemProgress", "ItemSkipped",
           "WorkerLost", "WorkerStarted", "caption_on_cluster", "check_address", "connect",
           "generate_on_cluster"]
