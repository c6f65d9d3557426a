"""Shared test set-up. Qt must be offscreen before any QApplication exists, and every
path Studio writes (data, config, cache) points into a temporary folder."""

from __future__ import annotations

import os
import tempfile

os.environ["QT_QPA_PLATFORM"] = "offscreen"
# Sound goes to miniaudio's null device (a real device that plays nothing, at a sound card's
# pace): no test makes a noise on a developer's machine or waits on a missing sound server.
os.environ["STUDIO_AUDIO_BACKEND"] = "null"
_HOME = tempfile.mkdtemp(prefix="studio-test-home-")
for _var in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME"):
    os.environ[_var] = os.path.join(_HOME, _var.lower())



# --- synthetic media, built once per session (tests/media_factory.py) ---------------------------
import pytest  # noqa: E402


@pytest.fixture(scope="session")
def media(tmp_path_factory):
    """name -> Path of one file of every valid and bad kind (media_factory.EXPECTED and
    EXPECTED_ERRORS), built once per session. Shared: copy a file (media_factory.copy_media)
    before changing it."""
    from tests.media_factory import build_media_set

    return build_media_set(tmp_path_factory.mktemp("media"))


@pytest.fixture(scope="session")
def media_dir(media):
    """The folder holding the files of ``media``."""
    return media["h264_cfr"].parent


@pytest.fixture(scope="session")
def tiny_captioner_dir(tmp_path_factory):
    """A folder holding the tiny random-weight SmolVLM2 (config.json, model.safetensors,
    tokenizer, preprocessor/processor configs, chat template, demo marker). Shared: copy it
    (shutil.copytree) before changing it."""
    from studio.inference.demo import make_demo_captioner

    return make_demo_captioner(tmp_path_factory.mktemp("models") / "smolvlm2-tiny")


@pytest.fixture(scope="session")
def tiny_ltx_dir(tmp_path_factory):
    """The tiny random-weight LTX-Video pipeline (studio.inference.demo_ltx), built once per
    session in the real diffusers layout with Studio's demo marker (so what it makes is
    labelled a demo). Shared: copy it before changing it."""
    from studio.inference.demo_ltx import DEMO_LTX_ID
    from studio.inference.loading import make_demo_models

    built = make_demo_models(tmp_path_factory.mktemp("models"), ids=[DEMO_LTX_ID])
    return built[DEMO_LTX_ID]


@pytest.fixture(autouse=True)
def fresh_ui_settings(tmp_path_factory, monkeypatch):
    """Each test gets its own config folder, so a window layout, theme or panel setting saved by
    one test never shapes the next (QSettings files live under XDG_CONFIG_HOME)."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("config")))
