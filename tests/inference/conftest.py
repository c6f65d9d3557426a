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


@pytest.fixture(scope="session")
def tiny_ltx2_dir(tmp_path_factory):
    """The tiny random-weight LTX-2 pipeline with sound (studio.inference.demo_ltx2), built
    once per session in the real diffusers layout with Studio's demo marker. Shared: copy it
    before changing it."""
    from studio.inference.demo_ltx2 import DEMO_LTX2_ID
    from studio.inference.loading import make_demo_models

    built = make_demo_models(tmp_path_factory.mktemp("models"), ids=[DEMO_LTX2_ID])
    return built[DEMO_LTX2_ID]


@pytest.fixture(scope="session")
def tiny_ltx2(tiny_ltx2_dir):
    """The tiny LTX-2 loaded on the CPU, once per session. Do not unload it."""
    from studio.inference.generator import Generator

    return Generator.load(str(tiny_ltx2_dir), "cpu")
