"""``studio analyze FILE... [--json]``: in-process through studio.cli.main and once as a real
``python -m studio`` process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from studio.cli import main
from studio.core import metrics
from tests.media_factory import build_media_set, make_video

ROOT = Path(__file__).resolve().parents[2]
FIELDS = ["path", "ok", "error", "frames", "flow_mean_px", "flow_mean_dx", "flow_mean_dy",
          "warp_error_mean", "warp_error_p95", "flicker", "worst_pairs", "per_pair"]
PAIR_FIELDS = ["index", "warp_error", "motion_px", "flicker"]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("analyze")
    made = build_media_set(folder, ["png", "text", "missing", "truncated_mp4"])
    made["moving"] = make_video(folder / "moving.mp4", width=96, height=64, frames=10)
    made["static"] = make_video(folder / "static.mp4", width=96, height=64, frames=6,
                                pattern="flat", quality=0)
    return {name: str(path) for name, path in made.items()}


def _rows(capsys) -> list[dict]:
    lines = capsys.readouterr().out.splitlines()
    return [json.loads(line) for line in lines]  # one object per line


def test_json_one_object_per_file(files, capsys):
    names = [files["moving"], files["static"]]
    assert main(["analyze", *names, "--json"]) == 0
    rows = _rows(capsys)
    assert [r["path"] for r in rows] == names
    for row in rows:
        assert list(row) == FIELDS
        assert row["ok"] is True and row["error"] is None
        want = metrics.analyze(row["path"])
        assert row["frames"] == want.frames
        assert row["flow_mean_px"] == pytest.approx(want.flow_mean_px)
        assert row["flow_mean_dx"] == pytest.approx(want.flow_mean_dx)
        assert row["flow_mean_dy"] == pytest.approx(want.flow_mean_dy)
        assert row["warp_error_mean"] == pytest.approx(want.warp_error_mean)
        assert row["warp_error_p95"] == pytest.approx(want.warp_error_p95)
        assert row["flicker"] == pytest.approx(want.flicker)
        assert row["worst_pairs"] == want.worst_pairs()
        assert [list(p) for p in row["per_pair"]] == [PAIR_FIELDS] * (want.frames - 1)
        assert [p["index"] for p in row["per_pair"]] == list(range(want.frames - 1))
        assert [p["warp_error"] for p in row["per_pair"]] == pytest.approx(
            list(want.warp_errors))
    moving, static = rows
    assert moving["frames"] == 10 and static["frames"] == 6
    # the flat pattern changes only in its frame-number band
    assert moving["flow_mean_px"] > 1 and static["flow_mean_px"] < moving["flow_mean_px"] / 5
    assert static["warp_error_mean"] < moving["warp_error_mean"]


def test_bad_files_do_not_stop_the_run(files, capsys):
    names = [files["text"], files["moving"], files["missing"], files["png"],
             files["truncated_mp4"]]
    assert main(["analyze", *names, "--json"]) == 1
    rows = _rows(capsys)
    assert [r["path"] for r in rows] == names
    assert [r["ok"] for r in rows] == [False, True, False, False, False]
    reasons = {0: "not a media file", 2: "file not found", 3: "too few frames to analyse",
               4: "truncated or damaged"}
    for i, reason in reasons.items():
        row = rows[i]
        assert list(row) == FIELDS
        assert row["error"].startswith(f"{row['path']}: {reason}")
        assert all(row[k] is None for k in FIELDS[3:])
    assert rows[1]["frames"] == 10


def test_range_and_size_options(files, capsys):
    assert main(["analyze", files["moving"], "--json", "--first", "2", "--last", "5",
                 "--max-side", "48"]) == 0
    row = _rows(capsys)[0]
    assert row["frames"] == 4
    assert [p["index"] for p in row["per_pair"]] == [2, 3, 4]
    want = metrics.analyze(files["moving"], 2, 5, max_side=48)
    assert row["warp_error_mean"] == pytest.approx(want.warp_error_mean)
    # a range outside the file is that file's error
    assert main(["analyze", files["moving"], "--json", "--first", "50"]) == 1
    row = _rows(capsys)[0]
    assert row["ok"] is False and "outside the file's frames (0..9)" in row["error"]


@pytest.mark.parametrize("argv, message", [
    (["--first", "-1"], "--first must be a frame index"),
    (["--first", "5", "--last", "2"], "--first (5) is after --last (2)"),
    (["--max-side", "4"], "--max-side must be at least 8"),
])
def test_bad_options_exit_2(files, capsys, argv, message):
    assert main(["analyze", files["moving"], *argv]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert message in captured.err


def test_text_output_one_line_per_file(files, capsys):
    assert main(["analyze", files["moving"], files["missing"]]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(f"{files['moving']}: 10 frames, motion ")
    assert "warp error" in lines[0] and "flicker" in lines[0] and "worst pairs at frames" in lines[0]
    assert lines[1].startswith(f"{files['missing']}: file not found")


def test_real_process(files):
    result = subprocess.run([sys.executable, "-m", "studio", "analyze", files["static"], "--json"],
                            cwd=ROOT, capture_output=True, text=True, timeout=120,
                            check=False)
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == 1 and rows[0]["ok"] is True and rows[0]["frames"] == 6
