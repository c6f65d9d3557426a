"""Fixtures for inference tests: the tiny SmolVLM2, built once per session in the real on-disk
layout (studio.inference.demo) and loaded through the same code as a download."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def tiny_captioner(tiny_captioner_dir):
    """The tiny SmolVLM2 loaded on the CPU, once per session. Do not unload it."""
    from studio.inference.captioner import Captioner

    return Captioner.load(str(tiny_captioner_dir), "cpu")
