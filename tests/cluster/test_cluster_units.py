"""The cluster's pieces that need no cluster: addresses, which stored captions a resumed run
keeps, folders of clips, job lines checked before anything runs, and Ray imported only when a
run connects."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from studio.cli import main


@pytest.mark.parametrize("address", ["auto", "local", "ray://head-node:10001", "ray://10.0.0.7",
                                     " local "])
def test_addresses_studio_takes(address):
    from studio.inference.cluster import check_address

    assert check_address(address) == address.strip()


@pytest.mark.parametrize("address", ["", "head:10001", "ray://", "ray://head:0",
                                     "ray://head:99999", "http://head:10001", "ray://a b:1"])
def test_other_addresses_are_refused_naming_the_forms(address):
    from studio.inference.cluster import check_address

    with pytest.raises(ValueError, match="auto, local or ray://HOST:PORT"):
        check_address(address)


def _key(**asked):
    from studio.inference.captioner import CaptionSettings
    from studio.inference.cluster import CaptionKey

    settings = CaptionSettings(**asked)
    return CaptionKey(model="m", asked=settings.to_dict(),
                      defaults={"fps": 1.0, "max_frames": 64, "frame_size": 1456}), settings


def test_a_caption_is_kept_when_its_model_and_settings_are_the_runs():
    key, settings = _key(max_new_tokens=32)
    video = dict(settings.to_dict(), fps=1.0, max_frames=64, frame_size=1456)  # defaults filled
    still = settings.to_dict()  # a still keeps them empty
    assert key.matches("m", video) and key.matches("m", still)
    assert key.matches("m", dict(video, frame_times=[0.0], seconds=1.2, demo=True))  # stored extras
    assert not key.matches("other", video)
    assert not key.matches("m", dict(video, max_new_tokens=64))
    assert not key.matches("m", dict(video, fps=2.0))  # made with another sampling rate
    assert not key.matches("m", dict(video, preset="short"))
    assert not key.matches("m", None) and not key.matches("m", "not a dict")
    asked_fps, _ = _key(max_new_tokens=32, fps=2.0)
    assert asked_fps.matches("m", dict(video, fps=2.0)) and not asked_fps.matches("m", video)
    assert not asked_fps.matches("m", still)  # fps 2 was not asked of that still


def test_folders_give_their_media_files_in_name_order(tmp_path):
    from studio.core.media import scan_media

    (tmp_path / "b").mkdir()
    (tmp_path / ".hidden").mkdir()
    for name in ("b/z.mp4", "a.MOV", "notes.txt", ".x.mp4", ".hidden/y.mp4", "c.png"):
        (tmp_path / name).write_bytes(b"")
    files, skipped = scan_media([str(tmp_path), "given.txt"])
    assert files == [str(tmp_path / "a.MOV"), str(tmp_path / "c.png"),
                     str(tmp_path / "b" / "z.mp4"), "given.txt"]
    assert skipped == 1


def _batch(tmp_path, capsys, *lines, cluster="local"):
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text("\n".join(lines) + "\n", encoding="utf-8")
    argv = ["generate", "--batch", str(jobs)] + (["--cluster", cluster] if cluster else [])
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("line, message", [
    ('{"prompt": "a kite", "frames": "many", "output": "a.mp4"}',
     "line 2: argument --frames: invalid int value"),
    ('{"prompt": "a kite", "output": "a.avi"}', "line 2: -o:"),
    ('{"prompt": "a kite"}', 'line 2: give "output"'),
    ('{"prompt": "a kite", "device": "cpu", "output": "a.mp4"}', 'line 2: "device" is set for'),
    ('{"prompt": "", "output": "a.mp4"}', "line 2: PROMPT: the prompt is empty"),
    ('["a kite"]', "line 2: not a JSON object"),
    ('{"prompt": "a kite", "output": ', "line 2: not a JSON object"),
    ('{"prompt": "a kite", "seed": [1], "output": "a.mp4"}', 'line 2: "seed" must be'),
    ('{"prompt": "a kite", "help": true, "output": "a.mp4"}', 'line 2: "help" is set for'),
])
def test_a_bad_job_line_is_refused_before_anything_runs(tmp_path, capsys, line, message):
    good = json.dumps({"prompt": "a dog", "output": str(tmp_path / "dog.mp4")})
    code, out, err = _batch(tmp_path, capsys, good, line)
    assert code == 2 and out == ""
    assert f"jobs.jsonl {message}" in err and "Traceback" not in err
    assert not (tmp_path / "dog.mp4").exists()


def test_batch_and_cluster_go_together(tmp_path, capsys):
    good = json.dumps({"prompt": "a dog", "output": str(tmp_path / "dog.mp4")})
    code, _, err = _batch(tmp_path, capsys, good, cluster=None)
    assert code == 2 and "--batch runs on a cluster: add --cluster local" in err
    assert main(["generate", "a dog", "-o", str(tmp_path / "d.mp4"), "--cluster", "local"]) == 2
    assert "--cluster runs a --batch of jobs" in capsys.readouterr().err
    code, _, err = _batch(tmp_path, capsys, good, cluster="nowhere")
    assert code == 2 and "--cluster: must be auto, local or ray://HOST:PORT" in err


def test_caption_cluster_flags_are_checked_before_anything_runs(tmp_path, capsys):
    clip = tmp_path / "a.mp4"
    for argv, message in (
            (["--project", str(tmp_path / "p")], "--project goes with --cluster"),
            (["--cluster", "ray:/head"], "--cluster: must be auto, local or ray://HOST:PORT"),
            (["--cluster", "local", "--workers", "0"], "--workers: must be 1 or more")):
        assert main(["caption", str(clip), *argv]) == 2
        assert message in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["caption", str(tmp_path / "empty"), "--cluster", "local"]) == 2
    assert "no media files" in capsys.readouterr().err


def test_ray_is_imported_only_when_a_run_connects():
    """The command line's parsers and help, the cluster package and the window's modules
    load without Ray (its import costs a second and more)."""
    code = (
        "import sys, contextlib, io\n"
        "import studio.cli, studio.cli_cluster, studio.inference.cluster\n"
        "import studio.ui.main_window\n"
        "for verb in ('caption', 'generate'):\n"
        "    with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        "        studio.cli.main([verb, '--help'])\n"
        "print(sorted(m for m in ('ray', 'torch') if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
