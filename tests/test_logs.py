"""Logging configured once for the window and the command line (issue 19, item 2): a rotating
file in the user log folder, stderr at WARNING, -v / -vv / STUDIO_LOG_LEVEL, and the verbs'
and the window's use of it."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from studio import logs
from studio.cli import take_verbosity

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def fresh_logs(tmp_path, monkeypatch):
    """``studio.logs`` unconfigured, its folder under ``tmp_path``; put back afterwards."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.delenv(logs.ENV_LEVEL, raising=False)
    logs.reset()
    yield tmp_path / "state" / "studio" / "log"
    logs.reset()


def test_the_log_file_is_in_the_xdg_state_folder_and_keeps_info(fresh_logs, capsys):
    path = logs.setup()
    assert path == fresh_logs / "studio.log"
    log = logging.getLogger("studio.inference.engine")
    log.info("job 3 finished in 1.2 s")
    log.warning("the model manager thread did not stop")
    err = capsys.readouterr().err
    assert "did not stop" in err and "job 3 finished" not in err  # stderr: WARNING
    text = path.read_text(encoding="utf-8")
    assert "job 3 finished in 1.2 s" in text and "studio.inference.engine" in text
    assert logs.setup() == path and len(logging.getLogger("studio").handlers) == 2  # once


def test_verbosity_and_the_environment_set_the_stderr_level(fresh_logs, monkeypatch, capsys):
    assert [logs.level_for(v) for v in (0, 1, 2, 5)] == [logging.WARNING, logging.INFO,
                                                         logging.DEBUG, logging.DEBUG]
    monkeypatch.setenv(logs.ENV_LEVEL, "debug")
    assert logs.level_for(0) == logging.DEBUG
    monkeypatch.setenv(logs.ENV_LEVEL, "error")
    assert logs.level_for(2) == logging.ERROR
    monkeypatch.setenv(logs.ENV_LEVEL, "10")
    assert logs.level_for(0) == 10
    monkeypatch.setenv(logs.ENV_LEVEL, "loud")  # not a level: -v decides
    assert logs.level_for(1) == logging.INFO
    monkeypatch.delenv(logs.ENV_LEVEL)
    logs.setup(1)
    logging.getLogger("studio.x").info("loading the captioner")
    assert "loading the captioner" in capsys.readouterr().err


def test_a_folder_that_cannot_be_written_leaves_stderr(fresh_logs, tmp_path, monkeypatch):
    blocker = tmp_path / "state"
    blocker.write_text("a file where the folder should be")
    assert logs.setup() is None
    logging.getLogger("studio.x").error("still said")  # no exception


def test_the_log_rotates(fresh_logs, monkeypatch):
    monkeypatch.setattr(logs, "MAX_BYTES", 2_000)
    path = logs.setup()
    for i in range(200):
        logging.getLogger("studio.x").info("line %d %s", i, "x" * 40)
    assert path.stat().st_size <= 2_000
    assert sorted(p.name for p in path.parent.iterdir()) == [
        "studio.log", "studio.log.1", "studio.log.2", "studio.log.3"]


def test_verbose_flags_are_taken_before_or_after_the_verb():
    assert take_verbosity(["-v", "caption", "x.mp4"]) == (1, ["caption", "x.mp4"])
    assert take_verbosity(["caption", "-vv", "x.mp4"]) == (2, ["caption", "x.mp4"])
    assert take_verbosity(["probe", "--", "-v"]) == (0, ["probe", "--", "-v"])
    assert take_verbosity(["--verbose", "a.mp4"]) == (1, ["a.mp4"])


def test_a_verb_with_v_logs_on_stderr_and_in_the_file(tmp_path):
    """In a real process: ``studio -v models list`` says INFO lines on stderr and keeps them
    in the log file; without -v stderr has none, stdout is the same JSON."""
    env = dict(os.environ, XDG_STATE_HOME=str(tmp_path / "state"))
    env.pop(logs.ENV_LEVEL, None)
    code = "import sys; from studio.cli import main; sys.exit(main(sys.argv[1:]))"
    quiet = subprocess.run([sys.executable, "-c", code, "models", "list"], env=env,
                           capture_output=True, text=True, cwd=ROOT, timeout=120)
    loud = subprocess.run([sys.executable, "-c", code, "-v", "models", "list"], env=env,
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert quiet.returncode == loud.returncode == 0, loud.stderr
    assert quiet.stdout == loud.stdout
    assert "INFO" not in quiet.stderr
    assert "studio models started" in loud.stderr and "studio models ended in" in loud.stderr
    log_file = tmp_path / "state" / "studio" / "log" / "studio.log"
    assert log_file.read_text(encoding="utf-8").count("studio models ended in") == 2


def test_the_engine_logs_jobs_with_their_timings(fresh_logs, tmp_path):
    """A job's start and end (and a failure's traceback, or a plain line for an expected
    one) reach the log file, where a person who started Studio from the desktop finds them."""
    from studio.inference.engine import Engine, FramesJob, new_job_id
    from tests.media_factory import make_video

    path = logs.setup()
    engine = Engine(device="cpu")
    video = make_video(tmp_path / "a.mp4", frames=6)
    assert engine.run(FramesJob(new_job_id(), None, str(video), count=2)) is not None
    assert engine.run(FramesJob(new_job_id(), None, str(tmp_path / "gone.mp4"))) is None
    text = path.read_text(encoding="utf-8")
    assert "started: reading frames of a.mp4" in text and " finished in " in text
    assert "failed:" in text and "gone.mp4" in text
