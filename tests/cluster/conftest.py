"""A local Ray cluster for the cluster tests, started once per session through Studio's own
``connect("local")``: 127.0.0.1 only, two CPUs, a small object store, no dashboard; shut down
at the end. Runs inside the tests (``--cluster local``, ``caption_on_cluster("local", ...)``)
use this connection instead of starting their own.

Token authentication stays on, with a token of the session's own in ``RAY_AUTH_TOKEN``, so
that nothing is written to ~/.ray."""

from __future__ import annotations

import os
import secrets

import pytest

CLUSTER_CPUS = 2
OBJECT_STORE_BYTES = 128 * 1024 * 1024


@pytest.fixture(scope="session")
def local_cluster():
    """The ray module, connected to a local cluster of CLUSTER_CPUS CPUs."""
    from studio.inference.cluster import connect

    os.environ.setdefault("RAY_AUTH_TOKEN", secrets.token_hex(16))
    with connect("local", num_cpus=CLUSTER_CPUS, object_store_bytes=OBJECT_STORE_BYTES) as ray:
        yield ray


@pytest.fixture(scope="module")
def clip_folder(tmp_path_factory):
    """Five short clips of different lengths (so their captions see different frames)."""
    from tests.media_factory import make_video

    folder = tmp_path_factory.mktemp("cluster-clips")
    for i in range(5):
        make_video(folder / f"clip_{i}.mp4", frames=12 + 4 * i, fps=10, quality=30)
    return folder
