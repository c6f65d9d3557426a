"""`studio generate`: one JSON object (ok, output, sidecar, seed, params, conformed, seconds,
error), files written atomically with their settings, exit 1 with a clear message on failure,
2 for bad arguments naming the flag."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from studio.cli import main

TINY = ["--width", "32", "--height", "32", "--frames", "10", "--steps", "2"]


def run(capsys, *args) -> tuple[int, dict | None, str]:
    code = main(["generate", *map(str, args)])
    out, err = capsys.readouterr()
    lines = [line for line in out.splitlines() if line.strip()]
    assert len(lines) <= 1, out
    return code, (json.loads(lines[0]) if lines else None), err


def test_writes_an_mp4_and_its_sidecar_and_prints_one_json_object(capsys, tiny_ltx_dir,
                                                                   tmp_path):
    from studio.core.media import probe

    target = tmp_path / "dog.mp4"
    code, row, err = run(capsys, "a dog on the beach", "--model", tiny_ltx_dir, *TINY,
                         "--seed", "42", "--negative", "", "-o", target)
    assert code == 0, err
    assert row["ok"] and row["error"] is None
    assert row["output"] == str(target) and row["sidecar"] == str(tmp_path / "dog.json")
    assert row["seed"] == 42 and row["params"]["seed"] == 42
    assert row["conformed"] == {"num_frames": [10, 9]}  # shown as asked -> used
    assert row["params"]["negative_prompt"] == ""  # --negative "" is an empty negative prompt
    assert row["seconds"] > 0 and row["demo"] is True
    assert probe(target).frame_count == 9
    record = json.loads((tmp_path / "dog.json").read_text())["settings"]
    assert record["seed"] == 42 and record["prompt"] == "a dog on the beach"
    assert record["params"] == row["params"]
    assert record["conformed"] == {"num_frames": [10, 9]}


def test_vae_tiling_can_be_forced_on_or_off_or_left_automatic(capsys, tiny_ltx_dir, tmp_path):
    seen = {}
    for flag in ("--vae-tiling", "--no-vae-tiling", None):
        extra = [flag] if flag else []
        code, row, err = run(capsys, "a kite", "--model", tiny_ltx_dir, *TINY, *extra,
                             "-o", tmp_path / f"{flag or 'auto'}.mp4")
        assert code == 0, err
        seen[flag] = row["params"]["vae_tiling"]
    assert seen == {"--vae-tiling": True, "--no-vae-tiling": False, None: None}


def test_the_default_negative_prompt_and_a_random_seed(capsys, tiny_ltx_dir, tmp_path):
    from studio.core.params import rules_for

    code, row, _ = run(capsys, "--prompt", "a cat", "--model", tiny_ltx_dir, *TINY,
                       "-o", tmp_path / "cat.mp4")
    assert code == 0
    assert row["params"]["negative_prompt"] == rules_for(str(tiny_ltx_dir)).defaults.negative_prompt
    assert isinstance(row["seed"], int) and row["params"]["seed"] == row["seed"]
    assert row["params"]["seed_locked"] is False


def test_png_frames_are_the_frames_of_the_same_seed(capsys, tiny_ltx_dir, tiny_generator,
                                                    tmp_path):
    from studio.core.frames import FrameReader
    from studio.core.params import GenerationParams

    code, row, _ = run(capsys, "a red car", "--model", tiny_ltx_dir, *TINY, "--seed", "9",
                       "-o", tmp_path / "frames")
    assert code == 0
    folder = Path(row["output"])
    assert folder == tmp_path / "frames" and row["sidecar"] == str(tmp_path / "frames.json")
    names = sorted(p.name for p in folder.iterdir())
    assert names == [f"frame_{i:06d}.png" for i in range(9)]
    again = tiny_generator.generate(GenerationParams.from_dict(row["params"]))
    for i in (0, 8):
        with FrameReader(folder / names[i]) as reader:
            np.testing.assert_array_equal(reader.frame_at(0).image, again.frames[i])


def test_into_a_project_records_the_generation(capsys, tiny_ltx_dir, tmp_path):
    from studio.core.library import Project

    project = tmp_path / "project"
    code, row, _ = run(capsys, "a boat", "--model", tiny_ltx_dir, *TINY, "--project", project)
    assert code == 0
    assert Path(row["output"]).parent == project / "generations"
    with Project(project) as opened:
        (gen,) = opened.generations()
    assert gen.id == row["generation_id"] and gen.prompt == "a boat"
    assert gen.params == row["params"]


def test_image_and_video_modes(capsys, tiny_ltx_dir, tmp_path):
    from studio.core.export import ExportOptions, write_frames

    clip = write_frames([np.full((40, 48, 3), 10 * i, np.uint8) for i in range(25)],
                        tmp_path / "clip.mp4", 25.0, ExportOptions()).output
    code, row, err = run(capsys, "a dog", "--model", tiny_ltx_dir, *TINY, "--image", clip,
                         "--image-frame", "3", "-o", tmp_path / "i2v.mp4")
    assert code == 0, err
    assert row["params"]["mode"] == "i2v" and row["params"]["image_frame"] == 3

    code, row, err = run(capsys, "a dog", "--model", tiny_ltx_dir, *TINY, "--video", clip,
                         "--in", "0.2", "--out", "0.8", "--strength", "0.4",
                         "-o", tmp_path / "v2v.mp4")
    assert code == 0, err
    p = row["params"]
    assert p["mode"] == "v2v" and p["denoise_strength"] == 0.4
    assert (p["source_in_frame"], p["source_out_frame"]) == (5, 20)  # shown at 0.2 s, 0.8 s
    record = json.loads(Path(row["sidecar"]).read_text())["settings"]
    assert record["source"]["first_frame"] == 5 and record["source"]["frames"] == 9

    code, row, err = run(capsys, "a dog", "--model", tiny_ltx_dir, *TINY, "--mode", "extend",
                         "--video", clip, "-o", tmp_path / "extend.mp4")
    assert code == 0, err
    assert row["params"]["mode"] == "extend" and row["frames"] == 9


@pytest.mark.parametrize("args, flag", [
    (["--frames", "0"], "--frames"),
    (["--guidance", "-1"], "--guidance"),
    (["--steps", "0"], "--steps"),
    (["--mode", "i2v"], "--image"),
    (["--video", "/nonexistent/clip.mp4"], "--video"),
    (["--strength", "0.5"], "--video"),
])
def test_bad_arguments_exit_2_naming_the_flag(capsys, tiny_ltx_dir, tmp_path, args, flag):
    code, _row, err = run(capsys, "a dog", "--model", tiny_ltx_dir, *args,
                         "-o", tmp_path / "x.mp4")
    assert code == 2 and flag in err and "Traceback" not in err
    assert not (tmp_path / "x.mp4").exists()


def test_an_empty_prompt_and_no_output_are_refused(capsys, tiny_ltx_dir, tmp_path):
    code, _, err = run(capsys, "  ", "--model", tiny_ltx_dir, "-o", tmp_path / "x.mp4")
    assert code == 2 and "prompt" in err
    with pytest.raises(SystemExit) as exit_info:  # neither --project nor -o: argparse says so
        main(["generate", "a dog", "--model", str(tiny_ltx_dir)])
    assert exit_info.value.code == 2
    assert "--project" in capsys.readouterr().err


def test_a_missing_model_exits_1_with_the_message(capsys, tmp_path):
    code, row, err = run(capsys, "a dog", "--model", tmp_path / "no-model", "-o",
                         tmp_path / "x.mp4")
    assert code == 1
    assert row["ok"] is False and "no-model" in row["error"] and "no-model" in err
    assert not (tmp_path / "x.mp4").exists()


def test_runs_as_a_command(tiny_ltx_dir, tmp_path):
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    proc = subprocess.run(
        [sys.executable, "-m", "studio", "generate", "a dog", "--model", str(tiny_ltx_dir),
         *TINY, "--seed", "3", "-o", str(tmp_path / "cmd.mp4")],
        capture_output=True, text=True, env=env, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    row = json.loads(proc.stdout)
    assert row["ok"] and row["seed"] == 3 and Path(row["output"]).is_file()
    assert proc.stderr.strip() == ""  # no progress bars or library chatter


# ---- hostile input (issue 14, item 7) --------------------------------------------------------

def test_a_webm_name_writes_a_webm_video(capsys, tiny_ltx_dir, tmp_path):
    """-o x.webm made a folder of PNG frames named x.webm."""
    import av

    code, row, err = run(capsys, "a fox", "--model", tiny_ltx_dir, *TINY, "-o",
                         tmp_path / "x.webm")
    assert code == 0, err
    assert (tmp_path / "x.webm").is_file() and row["sidecar"] == str(tmp_path / "x.json")
    with av.open(str(tmp_path / "x.webm")) as container:
        assert container.streams.video[0].codec_context.name in ("vp9", "libvpx-vp9")


def test_a_suffix_studio_cannot_write_is_refused_before_the_model_loads(capsys, tmp_path):
    code, row, err = run(capsys, "a fox", "--model", "/no/such/model", *TINY, "-o",
                         tmp_path / "x.mov")
    assert code == 2 and row is None
    assert "-o" in err and ".mov" in err and "Traceback" not in err


def test_an_output_that_cannot_be_written_fails_before_generating(capsys, tmp_path):
    """Checked before the model loads: the model given here does not even exist."""
    blocker = tmp_path / "file"
    blocker.write_text("a file where a folder should be")
    code, _row, err = run(capsys, "a fox", "--model", "/no/such/model", *TINY, "-o",
                          blocker / "x.mp4")
    assert code == 1 and str(blocker) in err and "not a folder" in err
    assert "Traceback" not in err and "/no/such/model" not in err


def test_a_full_disk_fails_before_generating(capsys, tmp_path, monkeypatch):
    import shutil

    monkeypatch.setattr(shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(
        10**9, 10**9 - 1000, 1000))
    code, _row, err = run(capsys, "a fox", "--model", "/no/such/model", *TINY, "-o",
                          tmp_path / "x.mp4")
    assert code == 1 and "not enough space" in err and "/no/such/model" not in err


def test_a_prompt_that_is_not_utf8_is_a_message(capsys, tmp_path):
    code, row, err = run(capsys, os.fsdecode(b"a fox \xff"), *TINY, "-o", tmp_path / "x.mp4")
    assert code == 2 and row is None
    assert "PROMPT" in err and "not valid text" in err and "Traceback" not in err
