"""Progress on stderr (issue 19, item 1): ``--progress json`` lines that parse and end at their
total, stdout the same with and without them, nothing with ``-q`` or when stderr is not a
terminal, a tqdm bar when it is (a real pty) or with ``--progress bar``, and a bar that ends
on its own line before ``interrupted``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from studio.cli import main
from studio.progress import Progress, json_lines
from tests.media_factory import make_video

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli-progress")
    return {"a": str(make_video(folder / "a.mp4", width=64, height=48, frames=24, fps=24)),
            "b": str(make_video(folder / "b.mp4", width=64, height=48, frames=12, fps=24))}


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main([*map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


def ends_at_total(lines: list[dict], verb: str) -> None:
    assert lines, "no progress lines"
    assert all(line["verb"] == verb for line in lines)
    assert set(lines[0]) == {"verb", "file", "done", "total", "unit", "eta_s"}
    last = lines[-1]
    assert last["total"] is not None and last["done"] == last["total"] > 0, last
    dones = [line["done"] for line in lines]
    assert dones == sorted(dones)


def test_export_json_lines_end_at_the_batch_total(clips, tmp_path, capsys):
    code, out, err = run(capsys, "export", clips["a"], clips["b"], "-o", tmp_path / "j",
                         "--progress", "json")
    assert code == 0, err
    lines = json_lines(err)
    assert len(lines) == len(err.splitlines())  # nothing else on stderr
    ends_at_total(lines, "export")
    assert lines[-1]["total"] == 36 and lines[-1]["unit"] == "frames"
    assert lines[-1]["file"] == clips["b"]
    assert {line["file"] for line in lines} <= {clips["a"], clips["b"]}
    code, plain, err = run(capsys, "export", clips["a"], clips["b"], "-o", tmp_path / "p")
    assert code == 0 and err == ""

    def steady(text: str) -> list[dict]:  # what differs from run to run: the time, the folder
        rows = [json.loads(line) for line in text.splitlines()]
        for row in rows:
            row.pop("elapsed_s")
            row["output"] = Path(row["output"]).name
        return rows

    assert steady(out) == steady(plain)


def rounded(text: str):
    def walk(value):
        if isinstance(value, float):
            return round(value, 6)
        if isinstance(value, list):
            return [walk(v) for v in value]
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items()}
        return value

    return [walk(json.loads(line)) for line in text.splitlines()]


@pytest.mark.parametrize("verb", ["analyze", "probe", "frames"])
def test_stdout_is_the_same_with_json_progress(verb, clips, tmp_path, capsys):
    def argv(tag: str) -> list:
        if verb == "analyze":
            return ["analyze", clips["a"], clips["b"], "--json"]
        if verb == "probe":
            return ["probe", clips["a"], clips["b"], "--json"]
        return ["frames", clips["a"], "--count", "5", "--out", tmp_path / tag]

    code, plain, err = run(capsys, *argv("plain"))
    assert code == 0 and err == ""
    code, out, err = run(capsys, *argv("json"), "--progress", "json")
    if verb == "analyze":  # OpenCV's flow differs in its last bits from run to run
        assert code == 0 and rounded(out) == rounded(plain)
    else:
        assert code == 0 and out == plain
    lines = json_lines(err)
    assert len(lines) == len(err.splitlines())
    if verb == "analyze":  # a task per file, each ending at its pairs
        for name, pairs in ((clips["a"], 23), (clips["b"], 11)):
            ends_at_total([line for line in lines if line["file"] == name], verb)
            assert [line for line in lines if line["file"] == name][-1]["total"] == pairs
    else:
        ends_at_total(lines, verb)
        assert lines[-1]["total"] == {"probe": 2, "frames": 5}[verb]


def test_the_flags_go_before_or_after_the_verb(clips, capsys):
    code, _out, err = run(capsys, "--progress", "json", "probe", clips["a"], clips["b"])
    assert code == 0 and json_lines(err)[-1]["done"] == 2
    code, _out, err = run(capsys, "--progress=json", "probe", clips["a"], clips["b"])
    assert code == 0 and json_lines(err)[-1]["done"] == 2


@pytest.mark.parametrize("flags", [["-q"], ["--quiet", "--progress", "json"],
                                   ["--progress", "bar", "-q"], ["--progress", "none"], []])
def test_quiet_or_no_terminal_prints_nothing_on_stderr(flags, clips, tmp_path, capsys):
    """capsys' stderr is not a terminal: auto prints nothing there either."""
    code, out, err = run(capsys, "export", clips["a"], clips["b"], "-o", tmp_path, *flags)
    assert code == 0 and err == "" and len(out.splitlines()) == 2


def test_progress_bar_draws_tqdm_on_stderr(clips, capsys):
    code, out, err = run(capsys, "analyze", clips["a"], "--progress", "bar")
    assert code == 0 and "|" in err and "23/23" in err and "pairs" in err
    assert err.endswith("\n") and "23/23" not in out


def test_a_bar_ends_on_its_own_line_before_interrupted(clips, tmp_path, capsys, monkeypatch):
    from studio.core import export

    def interrupted(items, target, options, *, progress, on_result, **_):
        progress(3, 36)
        raise KeyboardInterrupt

    monkeypatch.setattr(export, "export_clips", interrupted)
    code, out, err = run(capsys, "export", clips["a"], clips["b"], "-o", tmp_path,
                         "--progress", "bar")
    assert code == 130 and out == ""
    assert "3/36" in err and err.endswith("\nstudio export: interrupted\n"), err


def test_a_terminal_on_stderr_gets_a_bar(clips, tmp_path):
    """auto: a real pty on stderr, as a person's terminal; stdout still only the JSON rows."""
    import fcntl
    import pty
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "studio", "export", clips["a"], "-o",
                             str(tmp_path)], stdout=subprocess.PIPE, stderr=slave,
                            stdin=subprocess.DEVNULL, env=env)
    os.close(slave)
    seen = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # the child closed its end
            break
        if not chunk:
            break
        seen += chunk
    os.close(master)
    out = proc.stdout.read().decode()
    assert proc.wait(timeout=60) == 0
    text = seen.decode("utf-8", "replace")
    assert "export a.mp4" in text and "100%" in text and "24/24" in text, text
    assert json.loads(out)["ok"] is True and len(out.splitlines()) == 1


def test_json_lines_are_throttled_but_the_first_and_last_come(capsys):
    now = [0.0]
    report = Progress("export", "json", interval=0.1, clock=lambda: now[0])
    report.start(100, file="x.mp4")
    for done in range(1, 101):
        now[0] += 0.01  # 100 updates a second
        report.update(done)
    report.end()
    lines = json_lines(capsys.readouterr().err)
    dones = [line["done"] for line in lines]
    assert dones[0] == 0 and dones[-1] == 100 and 10 <= len(dones) <= 12, dones
    assert all(9 <= b - a <= 11 for a, b in zip(dones[1:-2], dones[2:-1])), dones
    assert lines[-1]["eta_s"] == 0.0 and lines[0]["eta_s"] is None
    middle = lines[len(lines) // 2]  # at 100 a second
    assert middle["eta_s"] == pytest.approx((100 - middle["done"]) / 100, abs=0.02)


def test_a_throttled_last_update_is_sent_when_the_task_ends(capsys):
    now = [0.0]
    report = Progress("analyze", "json", clock=lambda: now[0])
    report.start(None, file="x.mp4", unit="pairs")
    report.update(1, 10)  # within the interval of the first line: held back
    now[0] = 0.05
    report.update(2, 10)  # still within it
    report.end()
    lines = json_lines(capsys.readouterr().err)
    assert [(line["done"], line["total"]) for line in lines] == [(0, None), (2, 10)]
    report.end()  # once
    assert capsys.readouterr().err == ""
