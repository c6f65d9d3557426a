"""``studio FILE...`` as a file manager runs it (the .desktop file's ``Exec=studio %F``), in a
fresh process: the files land in the project, and what was imported is read back from the
project database after the process has exited."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from studio.core.library import Project
from tests.media_factory import make_bad, make_video


def _env(tmp_path):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    for var in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME"):
        env[var] = str(tmp_path / var.lower())
    return env


def _run(tmp_path, *args, cwd=None):
    result = subprocess.run([sys.executable, "-m", "studio", "--exit-after-show", *args],
                            capture_output=True, text=True, env=_env(tmp_path), timeout=120,
                            cwd=cwd, check=False)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    seconds, status = result.stdout.strip().splitlines()[:2]
    assert 0 < float(seconds) < 60
    return status


def test_files_from_a_file_manager_go_into_the_default_project(tmp_path):
    media = tmp_path / "Videos"
    media.mkdir()
    walk = make_video(media / "walk.mp4", width=64, height=48, frames=10, fps=10)
    pan = make_video(media / "pan.webm", width=48, height=32, frames=6, fps=6,
                     codec="libvpx-vp9")
    # Relative paths, as some file managers pass them, resolve against the working folder.
    status = _run(tmp_path, "walk.mp4", "pan.webm", cwd=media)
    assert status.startswith("Imported 2 new of 2")

    default = tmp_path / "xdg_data_home" / "studio" / "default-project"
    with Project(default) as project:
        clips = {Path(c.path): c for c in project.clips()}
    assert set(clips) == {walk.resolve(), pan.resolve()}
    assert all(c.ok for c in clips.values())
    assert clips[walk.resolve()].info.frame_count == 10


def test_non_media_is_a_marked_row_and_a_missing_path_a_message(tmp_path):
    notes = make_bad(tmp_path, "text", name="notes.mp4")
    clip = make_video(tmp_path / "clip.mp4", width=64, height=48, frames=8, fps=8)
    missing = tmp_path / "nowhere" / "gone.mov"
    project_dir = tmp_path / "my project"
    status = _run(tmp_path, "--project", str(project_dir), str(notes), str(clip), str(missing))
    with Project(project_dir) as project:
        clips = {Path(c.path).name: c for c in project.clips()}
    assert set(clips) == {"notes.mp4", "clip.mp4"}
    assert clips["clip.mp4"].ok
    assert not clips["notes.mp4"].ok and "not a media file" in clips["notes.mp4"].error
    # The first file, selected, is the non-media one: the status line says why, and names
    # the path that does not exist.
    assert clips["notes.mp4"].error in status
    assert status.endswith(f"not found: {missing}")

    status = _run(tmp_path, "--project", str(project_dir), str(missing))
    assert status == f"Not found: {missing}"
