"""Connecting to a Ray cluster. Ray is imported here, and only when a cluster is used.

Addresses:

- ``local``: a Ray started by this process on this computer, on 127.0.0.1 only, shut down at
  the end of the run;
- ``auto``: the cluster ``ray start`` runs on this computer (or the one ``RAY_ADDRESS`` names);
- ``ray://HOST:PORT``: a cluster's head reached through Ray Client (``ray start --head``
  listens on port 10001 for it).

A process already connected to Ray (``ray.init`` called before, by a test or a window that
keeps its connection) uses that connection and leaves it open.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

log = logging.getLogger(__name__)

ADDRESS_FORMS = "auto, local or ray://HOST:PORT"
_CLIENT_ADDRESS = re.compile(r"ray://[^\s/:]+(:\d{1,5})?")
INSTALL_HINT = "pip install 'studio[cluster]'"


class ClusterError(Exception):
    """The cluster cannot be used (not installed, not reachable, no worker could start); the
    message says what to do."""


def check_address(address: str) -> str:
    """``address`` as Studio takes it (auto, local, ray://HOST[:PORT]); ValueError naming the
    forms otherwise."""
    text = str(address).strip()
    if text in ("auto", "local"):
        return text
    client = _CLIENT_ADDRESS.fullmatch(text)
    if client and (client.group(1) is None or 0 < int(client.group(1)[1:]) < 65536):
        return text  # Ray Client's port is 10001 when none is given
    raise ValueError(f"must be {ADDRESS_FORMS} (e.g. ray://head-node:10001), not {address!r}")


@dataclass(frozen=True)
class Slots:
    """What the cluster can run now: whole free GPUs and CPUs over its nodes."""

    gpus: int
    cpus: int
    nodes: int


def free_slots(ray) -> Slots:
    free = ray.available_resources()
    nodes = sum(1 for node in ray.nodes() if node.get("Alive"))
    return Slots(gpus=int(free.get("GPU", 0)), cpus=int(free.get("CPU", 0)), nodes=nodes)


def import_ray(address: str):
    """The ray module; ClusterError when Ray (or Ray Client, for ray://) is not installed."""
    if address == "local":
        # Ray binds a local cluster to every interface unless told that this is not a
        # cluster node (the switch Ray itself uses on macOS and Windows); read at import.
        # With Ray already imported the switch comes too late, but Ray's token
        # authentication still guards the ports.
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    try:
        import ray
    except ImportError:
        raise ClusterError(f"Ray is not installed, so there is no cluster to run on: "
                           f"{INSTALL_HINT}") from None
    if address.startswith("ray://"):
        try:
            import grpc  # noqa: F401 - Ray Client talks gRPC
        except ImportError:
            raise ClusterError(f"a ray:// address needs Ray Client: {INSTALL_HINT}") from None
    return ray


@contextmanager
def connect(address: str, *, num_cpus: int | None = None,
            object_store_bytes: int | None = None) -> Iterator:
    """Connect to the cluster at ``address`` for the time of the ``with`` block and give the
    ray module. ``num_cpus`` and ``object_store_bytes`` bound a ``local`` Ray (None: Ray's
    own choice). Raises ClusterError with what to do when it cannot connect."""
    address = check_address(address)
    ray = import_ray(address)
    if ray.is_initialized():
        yield ray
        return
    _init(ray, address, num_cpus, object_store_bytes)
    try:
        yield ray
    finally:
        ray.shutdown()


def _init(ray, address: str, num_cpus: int | None, object_store_bytes: int | None) -> None:
    options = {"logging_level": logging.WARNING, "log_to_driver": False}
    if address == "local":
        options.update(address="local", include_dashboard=False, num_cpus=num_cpus,
                       object_store_memory=object_store_bytes)
    else:
        options["address"] = address
    try:
        ray.init(**options)
    except ConnectionError as err:
        raise ClusterError(_connection_advice(address, err)) from None
    except (RuntimeError, ValueError, OSError) as err:
        raise ClusterError(f"cannot start or reach the Ray cluster at {address}: "
                           f"{_first_line(err)}") from None
    log.info("connected to the Ray cluster at %s", address)


def _connection_advice(address: str, err: BaseException) -> str:
    if address == "auto":
        return ("no Ray cluster runs on this computer: start one with `ray start --head` "
                "(or give --cluster local, or the head's ray://HOST:10001)")
    return (f"cannot reach the Ray cluster at {address} ({_first_line(err)}): is "
            f"`ray start --head` running there, and its port open to this computer?")


def _first_line(err: BaseException) -> str:
    lines = str(err).strip().splitlines()
    return lines[0] if lines else type(err).__name__
