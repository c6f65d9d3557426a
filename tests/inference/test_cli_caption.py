"""`studio caption`: JSON lines per file, bad files in the middle of a run, .txt sidecars and
the JSONL manifest, model errors without tracebacks; once through a real `python -m studio`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from studio.cli import main
from tests.media_factory import make_bad, make_image, make_video

KEYS = {"path", "ok", "caption", "model", "demo", "frame_times", "seconds", "error"}


@pytest.fixture(scope="module")
def originals(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli-caption")
    return {
        "video": make_video(folder / "walk.mp4", frames=30, fps=10),
        "still": make_image(folder / "still.png", width=40, height=30),
        "bad": make_bad(folder, "random"),
    }


@pytest.fixture
def files(originals, tmp_path):
    """Private copies: --txt writes beside its inputs."""
    out = {}
    for name, path in originals.items():
        copy = tmp_path / path.name
        copy.write_bytes(path.read_bytes())
        out[name] = copy
    return out


def lines_of(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_one_json_line_per_file_and_the_run_goes_on(tiny_captioner_dir, files, capsys):
    argv = ["caption", str(files["video"]), str(files["bad"]), str(files["still"]),
            "--model", str(tiny_captioner_dir), "--max-new-tokens", "4"]
    assert main(argv) == 1  # one file failed
    captured = capsys.readouterr()
    video, bad, still = lines_of(captured.out)
    assert all(set(row) == KEYS for row in (video, bad, still))
    assert video["path"] == str(files["video"]) and video["ok"] and video["caption"]
    assert video["error"] is None and video["model"] == str(tiny_captioner_dir)
    assert video["demo"] is True
    assert video["frame_times"] == pytest.approx([0.0, 1.4, 2.9])  # 3 s at 1 fps
    assert video["seconds"] > 0
    assert still["ok"] and still["frame_times"] == [0.0]
    assert not bad["ok"] and bad["caption"] is None and bad["frame_times"] == []
    assert str(files["bad"]) in bad["error"] and "not a media file" in bad["error"]
    assert "Traceback" not in captured.err


def test_batch_size_gives_the_captions_of_one_at_a_time(tiny_captioner_dir, files, tmp_path,
                                                        capsys):
    """--batch-size N runs N clips per forward pass: the same greedy captions as --batch-size 1,
    one line per file in the order of the files, a bad file failing alone."""
    more = make_video(tmp_path / "longer.mp4", frames=55, fps=10, quality=30)
    names = [str(files["video"]), str(files["bad"]), str(files["still"]), str(more)]
    runs = {}
    for size in ("1", "3", "auto"):
        assert main(["caption", *names, "--model", str(tiny_captioner_dir),
                     "--max-new-tokens", "12", "--batch-size", size]) == 1
        runs[size] = lines_of(capsys.readouterr().out)
    for rows in runs.values():
        assert [row["path"] for row in rows] == names
        assert [row["ok"] for row in rows] == [True, False, True, True]
        assert [row["caption"] for row in rows] == [row["caption"] for row in runs["1"]]
        assert [row["frame_times"] for row in rows] == [row["frame_times"] for row in runs["1"]]
    for bad in ("0", "many", "33"):
        assert main(["caption", names[0], "--model", str(tiny_captioner_dir),
                     "--batch-size", bad]) == 2
        assert "--batch-size" in capsys.readouterr().err


def test_settings_reach_the_captioner(tiny_captioner_dir, files, capsys):
    argv = ["caption", str(files["video"]), "--model", str(tiny_captioner_dir),
            "--fps", "2", "--max-frames", "4", "--max-new-tokens", "3",
            "--prompt", "Who is there?"]
    assert main(argv) == 0
    (row,) = lines_of(capsys.readouterr().out)
    assert row["ok"] and len(row["frame_times"]) == 4  # 3 s at 2 fps, at most 4 frames


def test_greedy_by_default_the_same_caption_twice(tiny_captioner_dir, files, capsys):
    argv = ["caption", str(files["video"]), "--model", str(tiny_captioner_dir),
            "--max-new-tokens", "6"]
    assert main(argv) == 0 and main(argv) == 0
    first, second = lines_of(capsys.readouterr().out)
    assert first["caption"] == second["caption"]


def test_txt_sidecars_and_jsonl_manifest(tiny_captioner_dir, files, tmp_path, capsys):
    manifest = tmp_path / "out" / "train.jsonl"
    manifest.parent.mkdir()
    manifest.write_text("old manifest\n")
    argv = ["caption", str(files["video"]), str(files["bad"]), str(files["still"]),
            "--model", str(tiny_captioner_dir), "--max-new-tokens", "4",
            "--txt", "--jsonl", str(manifest)]
    assert main(argv) == 1
    rows = {Path(r["path"]).name: r for r in lines_of(capsys.readouterr().out)}
    walk_txt = files["video"].with_suffix(".txt")
    assert walk_txt.read_text(encoding="utf-8") == rows["walk.mp4"]["caption"] + "\n"
    assert rows["walk.mp4"]["txt"] == str(walk_txt)
    assert files["still"].with_suffix(".txt").read_text(encoding="utf-8").strip() == \
        rows["still.png"]["caption"]
    assert not files["bad"].with_suffix(".txt").exists()
    entries = lines_of(manifest.read_text(encoding="utf-8"))
    assert entries == [
        {"video_path": files["video"].resolve().as_posix(), "caption": rows["walk.mp4"]["caption"]},
        {"video_path": files["still"].resolve().as_posix(), "caption": rows["still.png"]["caption"]},
    ]
    # nothing half-written is left behind
    leftovers = [p.name for p in list(tmp_path.iterdir()) + list(manifest.parent.iterdir())
                 if p.name.endswith(".part")]
    assert leftovers == []
    if os.name == "posix":
        assert walk_txt.stat().st_mode & 0o044 == 0o044 & ~_umask()  # an ordinary file's mode


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_existing_txt_is_kept_unless_overwrite(tiny_captioner_dir, files, capsys):
    sidecar = files["video"].with_suffix(".txt")
    sidecar.write_text("my own notes\n")
    base = ["caption", str(files["video"]), "--model", str(tiny_captioner_dir),
            "--max-new-tokens", "3", "--txt"]
    assert main(base) == 1
    (row,) = lines_of(capsys.readouterr().out)
    assert not row["ok"] and row["caption"] and "--overwrite" in row["error"]
    assert sidecar.read_text() == "my own notes\n"
    assert main([*base, "--overwrite"]) == 0
    (row,) = lines_of(capsys.readouterr().out)
    assert row["ok"] and sidecar.read_text() == row["caption"] + "\n"


def test_all_ok_exits_zero(tiny_captioner_dir, files, capsys):
    argv = ["caption", str(files["still"]), "--model", str(tiny_captioner_dir),
            "--max-new-tokens", "2"]
    assert main(argv) == 0
    assert lines_of(capsys.readouterr().out)[0]["ok"]


def test_missing_model_is_a_message_not_a_traceback(files, tmp_path, capsys):
    assert main(["caption", str(files["video"]), "--model", str(tmp_path / "nowhere")]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "nowhere" in captured.err and "Traceback" not in captured.err


def test_default_model_not_here_names_models_pull(files, capsys, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(files["video"].parent / "hf-home"))
    assert main(["caption", str(files["video"])]) == 1
    err = capsys.readouterr().err
    assert "studio models pull HuggingFaceTB/SmolVLM2-256M-Video-Instruct" in err
    assert "--model /path/to/folder" in err


def test_bad_settings_exit_2(tiny_captioner_dir, files, capsys):
    for extra, flag in ((["--fps", "0"], "--fps"), (["--max-frames", "0"], "--max-frames"),
                        (["--max-new-tokens", "0"], "--max-new-tokens"),
                        # issue 14 item 6: no limit was a run of a billion tokens
                        (["--max-new-tokens", "1000000000"], "--max-new-tokens"),
                        (["--max-frames", "100000"], "--max-frames"),
                        (["--fps", "1e9"], "--fps"),
                        (["--prompt", " "], "--prompt"),
                        (["--prompt", "x", "--preset", "short"], "--prompt"),
                        (["--jsonl", str(files["video"].parent / "no" / "m.jsonl")], "--jsonl")):
        assert main(["caption", str(files["video"]), "--model", str(tiny_captioner_dir),
                     *extra]) == 2
        assert flag in capsys.readouterr().err


def test_python_m_studio_caption(tiny_captioner_dir, files):
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    done = subprocess.run(
        [sys.executable, "-m", "studio", "caption", str(files["video"]), str(files["bad"]),
         "--model", str(tiny_captioner_dir), "--max-new-tokens", "3"],
        capture_output=True, text=True, timeout=120, env=env, check=False)
    assert done.returncode == 1, done.stderr
    video, bad = lines_of(done.stdout)
    assert video["ok"] and video["caption"] and not bad["ok"]
    assert "Traceback" not in done.stderr
    assert done.stderr.strip() == ""  # no progress bars or warnings on a clean run


def test_a_name_that_is_not_utf8_prints_on_a_strict_utf8_terminal(tiny_captioner_dir, files,
                                                                   tmp_path):
    """Its JSON row held the name as surrogates: a UnicodeEncodeError traceback on a desktop
    terminal. The row escapes it instead, and json.loads gives the same name back."""
    import shutil

    bad = os.fsdecode(os.fsencode(tmp_path) + b"/walk\xff.mp4")
    shutil.copyfile(files["video"], bad)
    env = {**os.environ, "PYTHONIOENCODING": "utf-8:strict",
           "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    done = subprocess.run(
        [sys.executable, "-m", "studio", "caption", bad, "--model", str(tiny_captioner_dir),
         "--max-new-tokens", "2"], capture_output=True, env=env, timeout=300)
    assert done.returncode == 0 and b"Traceback" not in done.stderr, done.stderr[-800:]
    (row,) = [json.loads(line) for line in done.stdout.decode("utf-8").splitlines()]
    assert row["ok"] and row["path"] == bad
