"""`studio export FILE... --preset P [--in S] [--out S] [--width W] [--height H] [--fps R]
[--crf N] -o DIR_OR_FILE`: one JSON object per output, exit status 0 only when all are ok,
usage errors as messages (status 2), never a traceback."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import av
import pytest

from studio.cli import main
from tests.media_factory import frame_number_of, make_video

ROOT = Path(__file__).resolve().parents[2]
KEYS = ["source", "output", "ok", "error", "frames", "seconds"]


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli-export-src")
    return {
        "a": make_video(folder / "a.mp4", width=64, height=48, frames=24, fps=24),
        "b": make_video(folder / "b clip.mp4", width=64, height=48, frames=30, fps=30,
                        audio=True),
    }


def run(capsys, *argv) -> tuple[int, list[dict], str]:
    code = main(["export", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, [json.loads(line) for line in out.splitlines()], err


def numbers(path: str) -> list[int]:
    with av.open(path) as c:
        return [frame_number_of(f.to_ndarray(format="rgb24")) for f in c.decode(video=0)]


def test_one_json_object_per_output_and_status_0(clips, tmp_path, capsys):
    code, rows, err = run(capsys, clips["a"], clips["b"], "--in", 0.25, "--out", 0.5,
                          "-o", tmp_path / "out")
    assert code == 0, err
    assert [list(r)[:6] for r in rows] == [KEYS, KEYS]
    a, b = rows
    assert (a["source"], a["ok"], a["error"]) == (str(clips["a"]), True, None)
    assert Path(a["output"]).parent == tmp_path / "out"
    # the frames shown at the in and out points, both included: 24 fps, frames 6..12
    assert (a["frames"], a["seconds"]) == (7, pytest.approx(7 / 24, abs=1e-6))
    assert numbers(a["output"]) == list(range(6, 13))
    # 30 fps: frame 7 is shown at 0.25 s (0.233-0.267), frame 15 at 0.5 s
    assert b["frames"] == 9 and numbers(b["output"]) == list(range(7, 16))
    assert b["seconds"] == pytest.approx(9 / 30, abs=1e-6)
    assert Path(b["output"]).name == "b_clip_7-15.mp4"


def test_a_failed_file_is_a_row_with_its_message_and_status_1(clips, tmp_path, capsys):
    missing = tmp_path / "nope.mp4"
    code, rows, _err = run(capsys, missing, clips["a"], "--preset", "gif", "-o", tmp_path)
    assert code == 1
    assert rows[0] == {**rows[0], "source": str(missing), "output": None, "ok": False,
                       "frames": 0}
    assert rows[0]["error"] == f"{missing}: file not found"
    assert rows[1]["ok"] and rows[1]["output"].endswith("a.gif")


@pytest.mark.parametrize("argv, words", [
    (["--crf", "99"], "crf"),
    (["--in", "1", "--out", "0.5"], "is before the in point"),
    (["--fps", "0"], "frame rate"),
    (["--width", "1"], "width"),
    (["--name", "x"], "one FILE"),
])
def test_usage_errors_are_messages_with_status_2(clips, tmp_path, capsys, argv, words):
    code, rows, err = run(capsys, clips["a"], clips["b"], *argv, "-o", tmp_path)
    assert code == 2 and rows == []
    assert err.startswith("studio export: ") and words in err
    assert list(tmp_path.iterdir()) == []


def test_width_height_fps_and_crf_reach_the_file(clips, tmp_path, capsys):
    code, rows, err = run(capsys, clips["b"], "--width", 32, "--height", 32, "--fit", "crop",
                          "--fps", 10, "--crf", 30, "--preset", "webm", "-o", tmp_path)
    assert code == 0, err
    row = rows[0]
    assert (row["width"], row["height"], row["fps"], row["frames"]) == (32, 32, 10.0, 10)
    with av.open(row["output"]) as c:
        assert c.streams.video[0].codec_context.name == "vp9"
        assert (c.streams.video[0].width, c.streams.video[0].height) == (32, 32)
        assert json.loads(c.metadata["COMMENT"])["crf"] == 30


def test_a_file_name_output_and_no_clobbering(clips, tmp_path, capsys):
    target = tmp_path / "final.mp4"
    outputs = []
    for extra in ([], [], ["--overwrite"]):
        code, rows, err = run(capsys, clips["a"], "-o", target, *extra)
        assert code == 0, err
        outputs.append(Path(rows[0]["output"]).name)
    assert outputs == ["final.mp4", "final_2.mp4", "final.mp4"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["final.mp4", "final_2.mp4"]


def test_training_sets_take_captions_from_sidecars_and_print_the_manifest(clips, tmp_path,
                                                                          capsys):
    source = tmp_path / "src"
    source.mkdir()
    clip = Path(shutil.copy(clips["b"], source / "dance.mp4"))
    (source / "dance.txt").write_text("Two people dance.\n", encoding="utf-8")
    bare = Path(shutil.copy(clips["a"], source / "bare.mp4"))
    code, rows, _err = run(capsys, clip, bare, "--preset", "wan-train", "-o", tmp_path / "set")
    assert code == 1  # bare.mp4 has no caption
    dance, missing, manifest = rows
    assert dance["ok"] and dance["frames"] == 13  # 1 s at 16 fps = 16 -> 4k+1 = 13
    assert Path(dance["sidecars"][0]).read_text(encoding="utf-8") == "Two people dance.\n"
    assert not missing["ok"] and "caption" in missing["error"] and str(bare) in missing["error"]
    assert manifest["manifest"] is True
    assert [json.loads(x) for x in Path(manifest["output"]).read_text().splitlines()] == [
        {"video_path": dance["output"], "caption": "Two people dance."}]

    code, rows, err = run(capsys, bare, "--preset", "ltx-train", "--caption", "A still clip.",
                          "-o", tmp_path / "set2")
    assert code == 0, err
    assert rows[0]["frames"] == 17  # 1 s at 24 fps = 24 -> 8k+1 = 17


def test_metadata_file_goes_into_the_comment_and_a_sidecar(clips, tmp_path, capsys):
    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps({"seed": 3, "prompt": "a wave"}), encoding="utf-8")
    code, rows, err = run(capsys, clips["a"], "--metadata", settings, "-o", tmp_path / "o")
    assert code == 0, err
    sidecar = json.loads(Path(rows[0]["sidecars"][0]).read_text(encoding="utf-8"))
    assert sidecar["settings"] == {"seed": 3, "prompt": "a wave"}
    settings.write_text("[1, 2]", encoding="utf-8")
    code, rows, err = run(capsys, clips["a"], "--metadata", settings, "-o", tmp_path / "o")
    assert code == 2 and "JSON object" in err


def test_the_command_line_never_shows_a_traceback(clips, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    done = subprocess.run([sys.executable, "-m", "studio", "export", str(clips["a"]),
                           str(tmp_path / "missing.mp4"), "-o", str(blocker / "out")],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr + done.stdout
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(rows) == 2 and not any(r["ok"] for r in rows)
    assert "not a folder" in rows[0]["error"]  # found before any export started


def test_a_file_name_that_is_not_utf8_is_exported_with_the_rest(media, tmp_path, capsys):
    """Issue 14 item 2: the name reached FFmpeg's metadata and the JSON row as surrogates and
    the export died there, before the next file."""
    import os
    import shutil

    folder = tmp_path / "in"
    folder.mkdir()
    bad = os.fsdecode(os.path.join(os.fsencode(folder), b"bad\xff.mp4"))
    good = folder / "good.mp4"
    for target in (bad, good):
        shutil.copyfile(media["h264_cfr"], target)
    code, rows, err = run(capsys, bad, good, "--preset", "mp4", "-o", tmp_path / "out")
    assert code == 0 and "Traceback" not in err
    assert [r["ok"] for r in rows] == [True, True]
    assert rows[0]["source"].endswith("bad\ufffd.mp4")  # shown readable
    import av

    from studio.core.paths import os_path

    with av.open(rows[0]["output"]) as container:  # recorded reversibly in the comment tag
        comment = json.loads(container.metadata["comment"])
    assert os_path(comment["source"]) == bad


def test_ctrl_c_during_an_export_exits_130_without_a_traceback(tmp_path):
    """Issue 14 item 8: a real SIGINT to a real `python -m studio export`, sent once the
    export is writing (its hidden .part file exists)."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from tests.media_factory import make_video

    source = make_video(tmp_path / "long.mp4", width=320, height=240, frames=480)
    out = tmp_path / "out"
    out.mkdir()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = subprocess.Popen([sys.executable, "-m", "studio", "export", str(source), "--preset",
                             "mp4", "--speed", "veryslow", "--crf", "0", "-o", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 60
    while not any(p.name.endswith(".part") for p in out.iterdir()):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the export never started writing"
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    _stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr and "interrupted" in stderr
    assert not (out / "long.mp4").exists()  # nothing half-written under the final name


def test_an_output_that_cannot_be_written_fails_before_any_export(media, tmp_path, capsys,
                                                                  monkeypatch):
    """Issue 14: outputs are checked before work starts (a path through a file, a full disk)."""
    import shutil

    blocker = tmp_path / "file"
    blocker.write_text("a file where the folder should be")
    code, rows, err = run(capsys, media["h264_cfr"], "--preset", "mp4", "-o", blocker / "out")
    assert code == 1 and str(blocker) in err and "not a folder" in err
    assert [r["ok"] for r in rows] == [False] and "not a folder" in rows[0]["error"]
    monkeypatch.setattr(shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(
        10**9, 10**9 - 10, 10))
    code, rows, err = run(capsys, media["h264_cfr"], "--preset", "mp4", "-o", tmp_path / "out")
    assert code == 1 and "not enough space" in err and rows[0]["ok"] is False
    assert not (tmp_path / "out").exists()


def test_a_manifest_that_cannot_be_written_is_a_message(clips, tmp_path, capsys):
    """A folder where metadata.jsonl should go (fault: the name taken by a folder): the clips
    are written and listed, the manifest failure is a line, not a traceback."""
    out = tmp_path / "set"
    out.mkdir()
    (out / "metadata.jsonl").mkdir()
    code, rows, err = run(capsys, clips["b"], "--preset", "wan-train", "--caption", "A dance.",
                          "--overwrite", "-o", out)
    assert code == 1 and "Traceback" not in err
    assert rows[0]["ok"] and "metadata.jsonl" in err
