"""Fixtures for inference tests: the tiny SmolVLM2, built once per session in the real on-disk
layout (studio.inference.demo) and loaded through the same code as a download."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def tiny_captioner(tiny_captioner_dir):
    """The tiny SmolVLM2 loaded on the CPU, once per session. Do not unload it."""
    from studio.inference.captioner import Captioner

    return Captioner.load(str(tiny_captioner_dir), "cpu")


@pytest.fixture(scope="session")
def tiny_generator(tiny_ltx_dir):
    """The tiny LTX-Video loaded on the CPU, once per session. Do not unload it; undo any
    fault injected into it (monkeypatch does)."""
    from studio.inference.generator import Generator

    return Generator.load(str(tiny_ltx_dir), "cpu")
