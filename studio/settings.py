"""Where Studio keeps things, and its typed defaults. Pure Python: no Qt, no torch.

Paths come from platformdirs, so they honour XDG_DATA_HOME / XDG_CONFIG_HOME / XDG_CACHE_HOME
(tests point those at a temporary folder).
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "studio"


def data_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def config_dir() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))


def cache_dir() -> Path:
    return Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False))


def models_dir() -> Path:
    """Models Studio builds itself (``studio models make-demo``: ``models_dir()/demo/<name>``).
    Downloaded models stay in the Hugging Face cache (HF_HOME / HF_HUB_CACHE)."""
    return data_dir() / "models"


def default_project_dir() -> Path:
    return data_dir() / "default-project"


def ui_settings_path() -> Path:
    """The INI file behind QSettings (window geometry, dock layout, bin columns)."""
    return config_dir() / "ui.ini"


def has_display() -> bool:
    """Whether Qt can open a window here: a display server, or a platform chosen explicitly."""
    if os.environ.get("QT_QPA_PLATFORM"):
        return True
    if os.name == "nt" or os.uname().sysname == "Darwin":
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
