"""`studio frames FILE --count N [--start S] [--end E] --out DIR`: writes DIR/frame_{index:06d}.png
for the exact frames sample() picks, prints their indices as JSON, and turns every bad input
into a message and an exit status, never a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from studio.cli import main
from tests.media_factory import frame_number_of

ROOT = Path(__file__).resolve().parents[2]


def sequential(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [vf.to_ndarray(format="rgb24") for vf in container.decode(video=0)]


def read_png(path: Path) -> np.ndarray:
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert bgr is not None, f"{path} is not a readable PNG"
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main(["frames", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


def test_writes_exact_frames_and_prints_their_indices(media, tmp_path, capsys):
    path = media["h264_cfr"]  # 48 frames at 24 fps
    out_dir = tmp_path / "out" / "nested"
    code, out, err = run(capsys, path, "--count", 4, "--out", out_dir)
    assert code == 0, err
    indices = json.loads(out)
    assert indices == [0, 16, 31, 47]  # round(linspace(0, 47, 4))
    assert sorted(p.name for p in out_dir.iterdir()) == [f"frame_{i:06d}.png" for i in indices]
    reference = sequential(path)
    for i in indices:
        assert np.array_equal(read_png(out_dir / f"frame_{i:06d}.png"), reference[i])


def test_start_and_end_in_seconds(media, tmp_path, capsys):
    code, out, err = run(capsys, media["h264_cfr"], "--count", 3, "--start", 0.5, "--end", 1.5,
                         "--out", tmp_path)
    assert code == 0, err
    assert json.loads(out) == [12, 24, 36]
    for i in (12, 24, 36):
        assert frame_number_of(read_png(tmp_path / f"frame_{i:06d}.png")) == i


def test_rotated_video_is_written_upright(media, tmp_path, capsys):
    code, out, err = run(capsys, media["h264_rot90"], "--count", 2, "--out", tmp_path)
    assert code == 0, err
    for i in json.loads(out):
        image = read_png(tmp_path / f"frame_{i:06d}.png")
        assert image.shape == (64, 48, 3)  # coded 64x48, shown turned a quarter
        assert frame_number_of(image, rotation=90) == i


def test_still_image_gives_its_one_frame(media, tmp_path, capsys):
    code, out, err = run(capsys, media["png"], "--count", 5, "--out", tmp_path)
    assert code == 0, err
    assert json.loads(out) == [0]
    assert read_png(tmp_path / "frame_000000.png").shape == (30, 40, 3)


@pytest.mark.parametrize("name, words", [("missing", "file not found"), ("random", "not a media file"),
                                         ("audio_m4a", "audio only"),
                                         ("truncated_mp4", "truncated")])
def test_unusable_file_is_a_message(media, tmp_path, capsys, name, words):
    out_dir = tmp_path / "out"
    code, out, err = run(capsys, media[name], "--count", 2, "--out", out_dir)
    assert code == 1
    row = json.loads(out)  # one JSON line, as the other verbs print (issue 14, item 8)
    assert row["ok"] is False and row["file"] == str(media[name]) and words in row["error"]
    assert str(media[name]) in err and words in err
    assert "Traceback" not in err
    assert not out_dir.exists()


@pytest.mark.parametrize("args, words", [
    (["--count", "0"], "--count must be at least 1"),
    (["--count", "2", "--start", "1.5", "--end", "0.5"], "--start (1.5 s) is after --end (0.5 s)"),
    (["--count", "2", "--start", "-1"], "--start must be a time"),
    (["--count", "2", "--end", "nan"], "--end must be a time"),
])
def test_bad_arguments_are_a_message(media, tmp_path, capsys, args, words):
    code, out, err = run(capsys, media["h264_cfr"], *args, "--out", tmp_path / "out")
    assert code == 2
    assert words in err and out == ""
    assert not (tmp_path / "out").exists()


def test_output_that_is_a_file_is_a_message(media, tmp_path, capsys):
    blocker = tmp_path / "taken"
    blocker.write_text("a file where the folder should go")
    code, out, err = run(capsys, media["h264_cfr"], "--count", 2, "--out", blocker)
    assert code == 1 and json.loads(out)["ok"] is False
    assert "cannot write" in err and str(blocker) in err
    assert "Traceback" not in err


def test_python_dash_m_studio_frames(media, tmp_path):
    """The real entry point, in a fresh interpreter."""
    result = subprocess.run(
        [sys.executable, "-m", "studio", "frames", str(media["gif_anim"]), "--count", "3",
         "--out", str(tmp_path)],
        check=False, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    indices = json.loads(result.stdout)
    assert indices == [0, 5, 9]  # linspace(0, 9, 3) = 0, 4.5, 9: halves round up
    for i in indices:
        assert frame_number_of(read_png(tmp_path / f"frame_{i:06d}.png")) == i


# ---- hostile input (issue 14, items 4, 6 and 8) ---------------------------------------------

def test_never_overwrites_frames_already_there(media, tmp_path, capsys):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    mine = out_dir / "frame_000000.png"
    mine.write_bytes(b"a file of the user's")
    code, out, err = run(capsys, media["h264_cfr"], "--count", 3, "--out", out_dir)
    assert code == 1 and json.loads(out)["ok"] is False
    assert str(mine) in err and "never overwrites" in err
    assert mine.read_bytes() == b"a file of the user's"
    assert sorted(p.name for p in out_dir.iterdir()) == ["frame_000000.png"]  # nothing else


@pytest.mark.parametrize("count", [10**9, 2**70])
def test_a_huge_count_gives_each_frame_once_at_once(media, tmp_path, capsys, count):
    code, out, _err = run(capsys, media["h264_cfr"], "--count", count, "--start", "0.5",
                          "--end", "0.6", "--out", tmp_path / "out")
    assert code == 0
    indices = json.loads(out)
    assert indices == list(range(indices[0], indices[-1] + 1)) and len(indices) <= 4


@pytest.mark.parametrize("flag", ["--start", "--end"])
def test_a_time_past_the_end_is_an_error(media, tmp_path, capsys, flag):
    code, out, err = run(capsys, media["h264_cfr"], "--count", 2, flag, "100",
                         "--out", tmp_path / "out")
    assert code == 1 and json.loads(out)["ok"] is False
    assert f"{flag} 100 s is past the end" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()
