"""studio.settings reads the XDG folders itself on Linux; they must be the ones platformdirs
(which decides everywhere else) gives, for every way the variables can be set."""

from __future__ import annotations

import sys
from pathlib import Path

import platformdirs
import pytest

from studio import settings

VARIABLES = ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME")


@pytest.mark.skipif(sys.platform in ("win32", "darwin"), reason="XDG folders are Linux/BSD")
@pytest.mark.parametrize("values", [
    {},  # unset: ~/.local/share, ~/.config, ~/.cache
    {"XDG_DATA_HOME": "/x/data", "XDG_CONFIG_HOME": "/x/config", "XDG_CACHE_HOME": "/x/cache"},
    {"XDG_DATA_HOME": "", "XDG_CONFIG_HOME": "relative/path", "XDG_CACHE_HOME": "~/cache"},
])
def test_user_folders_match_platformdirs(monkeypatch, tmp_path, values):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for variable in VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    for variable, value in values.items():
        monkeypatch.setenv(variable, value)
    ours = (settings.data_dir(), settings.config_dir(), settings.cache_dir())
    theirs = tuple(Path(f(settings.APP_NAME, appauthor=False)) for f in (
        platformdirs.user_data_dir, platformdirs.user_config_dir, platformdirs.user_cache_dir))
    assert ours == theirs


def test_settings_does_not_import_platformdirs_on_linux():
    import subprocess

    code = ("import sys, studio.settings as s; s.data_dir(); s.config_dir(); s.cache_dir(); "
            "print('platformdirs' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ("True" if sys.platform in ("win32", "darwin") else "False")
