"""Start-up, tested as a user meets it: in a fresh process."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


def _env(tmp_path, **extra):
    env = dict(os.environ)
    for var in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME"):
        env[var] = str(tmp_path / var.lower())
    env.update(extra)
    return env


def test_exit_after_show_prints_startup_seconds_and_imports_no_ml_stack(tmp_path):
    code = (
        "import sys\n"
        "from studio.cli import main\n"
        "rc = main(['--exit-after-show'])\n"
        "heavy = [m for m in ('torch', 'diffusers', 'transformers', 'ray') if m in sys.modules]\n"
        "print('CAPTION BODY', 'studio.ui.caption_widgets' in sys.modules)\n"
        "print('HEAVY', heavy)\n"
        "sys.exit(rc)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=_env(tmp_path, QT_QPA_PLATFORM="offscreen"), timeout=120)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    seconds = float(lines[0])
    assert 0 < seconds < 60
    assert lines[-1] == "HEAVY []"
    # Nothing is selected at start-up: the caption panel's body is not built (or loaded).
    assert lines[-2] == "CAPTION BODY False"
    # The default project was created in the user data folder.
    assert (tmp_path / "xdg_data_home" / "studio" / "default-project" / "project.sqlite").exists()


def test_project_option_opens_the_given_folder(tmp_path):
    project = tmp_path / "my project"
    result = subprocess.run([sys.executable, "-m", "studio", "--project", str(project),
                             "--exit-after-show"], capture_output=True, text=True,
                            env=_env(tmp_path, QT_QPA_PLATFORM="offscreen"), timeout=120)
    assert result.returncode == 0, result.stderr
    assert (project / "project.sqlite").exists()
    assert (project / "generations").is_dir() and (project / "exports").is_dir()


@pytest.mark.skipif(sys.platform != "linux", reason="display detection differs off Linux")
def test_no_display_prints_one_line_and_exits_nonzero(tmp_path):
    env = _env(tmp_path)
    for var in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        env.pop(var, None)
    result = subprocess.run([sys.executable, "-m", "studio"], capture_output=True, text=True,
                            env=env, timeout=60)
    assert result.returncode != 0
    assert result.returncode not in (-6, 134)  # never a Qt abort
    out = (result.stdout + result.stderr).strip().splitlines()
    assert len(out) == 1, out
    assert "xvfb-run -a studio" in out[0]


def test_version(tmp_path):
    from studio import __version__

    result = subprocess.run([sys.executable, "-m", "studio", "--version"], capture_output=True,
                            text=True, env=_env(tmp_path), timeout=60)
    assert result.returncode == 0
    assert result.stdout.strip() == f"studio {__version__}"


def test_unusable_project_folder_is_a_message_not_a_traceback(tmp_path):
    not_a_folder = tmp_path / "file.txt"
    not_a_folder.write_text("I am a file")
    result = subprocess.run([sys.executable, "-m", "studio", "--project", str(not_a_folder),
                             "--exit-after-show"], capture_output=True, text=True,
                            env=_env(tmp_path, QT_QPA_PLATFORM="offscreen"), timeout=120)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert str(not_a_folder) in result.stderr
