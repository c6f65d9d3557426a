"""``studio probe FILE... [--json]``: in-process through studio.cli.main and once as a real
``python -m studio`` process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from studio.cli import main
from studio.core.media import MediaInfo, probe

INFO_FIELDS = [f for f in MediaInfo._fields if f != "path"]
ROOT = Path(__file__).resolve().parents[2]


def _rows(capsys) -> list[dict]:
    out = capsys.readouterr().out
    rows = json.loads(out)
    assert isinstance(rows, list)
    return rows


def test_json_all_ok_exits_0(media, capsys):
    files = [str(media[n]) for n in ("h264_cfr", "h264_rot90", "gif_still")]
    assert main(["probe", *files, "--json"]) == 0
    rows = _rows(capsys)
    assert [r["path"] for r in rows] == files
    for row, name in zip(rows, files):
        assert set(row) == {"path", "ok", "error", *INFO_FIELDS}
        assert row["ok"] is True and row["error"] is None
        want = probe(name).to_dict()
        assert {k: row[k] for k in INFO_FIELDS} == {k: want[k] for k in INFO_FIELDS}
    assert (rows[1]["width"], rows[1]["height"], rows[1]["rotation"]) == (48, 64, 90)
    assert rows[2]["kind"] == "image"


def test_json_with_bad_files_exits_1(media, capsys):
    files = [str(media["vp9_webm"]), str(media["text"]), str(media["missing"]), str(media["audio_m4a"])]
    assert main(["probe", *files, "--json"]) == 1
    rows = _rows(capsys)
    assert [r["ok"] for r in rows] == [True, False, False, False]
    assert rows[0]["codec"] == "vp9" and rows[0]["frame_count"] == 12
    for row, reason in zip(rows[1:], ("not a media file", "file not found", "audio only")):
        assert row["error"].startswith(f"{row['path']}: {reason}")
        assert all(row[k] is None for k in INFO_FIELDS)


def test_text_output_one_line_per_file(media, capsys):
    files = [str(media["h264_audio"]), str(media["truncated_mp4"]), str(media["png"]),
             str(media["h264_rot90"])]
    assert main(["probe", *files]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4
    assert lines[0] == f"{files[0]}: video 64x48, h264 yuv420p, 25.000 fps, 1.000 s, 25 frames, audio"
    assert lines[1].startswith(f"{files[1]}: truncated or damaged")
    assert lines[2] == f"{files[2]}: image 40x30, png rgb24"
    assert lines[3].startswith(f"{files[3]}: video 48x64, rotated 90°, h264")


def test_subprocess_json(media):
    files = [str(media["mjpeg_avi"]), str(media["random"])]
    proc = subprocess.run([sys.executable, "-m", "studio", "probe", *files, "--json"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    rows = json.loads(proc.stdout)
    assert [r["path"] for r in rows] == files
    assert rows[0]["ok"] is True and rows[0]["codec"] == "mjpeg" and rows[0]["frame_count"] == 12
    assert rows[1]["ok"] is False and rows[1]["error"].startswith(f"{files[1]}: not a media file")

    good = subprocess.run([sys.executable, "-m", "studio", "probe", files[0], "--json"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert good.returncode == 0, good.stderr
    assert json.loads(good.stdout)[0]["ok"] is True


@pytest.mark.parametrize("verb", [["analyze"], ["analyze", "--json"], ["probe"],
                                  ["probe", "--json"]])
def test_names_that_are_not_utf8_print_on_a_strict_utf8_terminal(media, tmp_path, verb):
    """A desktop terminal's stdout is strict UTF-8 (this machine's C.UTF-8 locale escapes):
    `studio analyze` and `probe` printed such a name with a UnicodeEncodeError traceback."""
    import os
    import shutil
    import subprocess
    import sys

    bad = os.fsdecode(os.fsencode(tmp_path) + b"/clip\xff.mp4")
    shutil.copyfile(media["h264_cfr"], bad)
    gone = os.fsdecode(os.fsencode(tmp_path) + b"/gone\xfe.mp4")
    env = {**os.environ, "PYTHONIOENCODING": "utf-8:strict",
           "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    done = subprocess.run([sys.executable, "-m", "studio", *verb, bad, gone],
                          capture_output=True, env=env, timeout=120)
    assert done.returncode == 1 and b"Traceback" not in done.stderr, done.stderr[-800:]
    assert b"clip" in done.stdout and b"gone" in done.stdout
