"""Where Studio keeps things, and its typed defaults. Pure Python: no Qt, no torch.

On Linux and the BSDs the folders follow the XDG base directory spec (XDG_DATA_HOME /
XDG_CONFIG_HOME / XDG_CACHE_HOME, else ~/.local/share, ~/.config, ~/.cache), read here
directly as platformdirs does: importing platformdirs is a noticeable part of start-up.
Elsewhere (Windows, macOS, Android) platformdirs decides. Tests point the XDG variables at a
temporary folder.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

APP_NAME = "studio"
# The one reverse-DNS id of the desktop entry's file name, the icon's name, the AppStream id and
# the window's desktop file name (Wayland's app_id): studio/resources/desktop, studio.desktop.
APP_ID = "io.github.studio_app.Studio"

_XDG_DEFAULTS = {"data": ("XDG_DATA_HOME", "~/.local/share"),
                 "config": ("XDG_CONFIG_HOME", "~/.config"),
                 "cache": ("XDG_CACHE_HOME", "~/.cache"),
                 "state": ("XDG_STATE_HOME", "~/.local/state")}


def _user_dir(kind: str) -> Path:
    if sys.platform in ("win32", "darwin") or hasattr(sys, "getandroidapilevel"):
        import platformdirs

        return Path(getattr(platformdirs, f"user_{kind}_dir")(APP_NAME, appauthor=False))
    variable, default = _XDG_DEFAULTS[kind]
    base = os.environ.get(variable, "")
    if not os.path.isabs(base):  # unset, empty or relative: the spec says use the default
        base = os.path.expanduser(default)
    return Path(base) / APP_NAME


def data_dir() -> Path:
    return _user_dir("data")


def config_dir() -> Path:
    return _user_dir("config")


def cache_dir() -> Path:
    return _user_dir("cache")


def log_dir() -> Path:
    """The log folder: XDG state's ``studio/log`` where the base directory spec applies
    (``~/.local/state/studio/log``, as platformdirs' ``user_log_dir`` says), platformdirs'
    own elsewhere."""
    if sys.platform in ("win32", "darwin") or hasattr(sys, "getandroidapilevel"):
        return _user_dir("log")
    return _user_dir("state") / "log"


def models_dir() -> Path:
    """Models Studio builds itself (``studio models make-demo``: ``models_dir()/demo/<name>``).
    Downloaded models stay in the Hugging Face cache (HF_HOME / HF_HUB_CACHE)."""
    return data_dir() / "models"


def default_project_dir() -> Path:
    return data_dir() / "default-project"


def ui_settings_path() -> Path:
    """The INI file behind QSettings (window geometry, dock layout, bin columns)."""
    return config_dir() / "ui.ini"


def cores_but_one() -> int:
    """The cores Studio's busy workers may take: all but one, kept for the GUI thread (at
    least one). With every core busy the GUI waits for a core and the GIL (bench/bin_drop.py,
    bench/generate_gui.py on 2 cores)."""
    return max(1, (os.cpu_count() or 1) - 1)


def has_display() -> bool:
    """Whether Qt can open a window here: a display server, or a platform chosen explicitly."""
    if os.environ.get("QT_QPA_PLATFORM"):
        return True
    if os.name == "nt" or os.uname().sysname == "Darwin":
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
