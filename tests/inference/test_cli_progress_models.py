"""Progress on stderr for the verbs that run models (issue 19, item 1): caption counts clips,
generate the denoising steps, models pull huggingface_hub's bars as JSON lines or nothing."""

from __future__ import annotations

import json

import pytest

from studio.cli import main
from studio.progress import json_lines
from tests.media_factory import make_image, make_video

TINY = ["--width", "32", "--height", "32", "--frames", "10", "--steps", "2", "--seed", "1"]


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli-progress-models")
    return [str(make_video(folder / "walk.mp4", frames=20, fps=10)),
            str(make_image(folder / "still.png", width=40, height=30))]


def test_caption_counts_clips_and_stdout_is_unchanged(tiny_captioner_dir, clips, capsys):
    argv = ["caption", *clips, "--model", str(tiny_captioner_dir), "--max-new-tokens", "4"]
    assert main(argv) == 0
    plain, err = capsys.readouterr()
    assert err == ""
    assert main([*argv, "--progress", "json"]) == 0
    out, err = capsys.readouterr()
    lines = json_lines(err)
    assert len(lines) == len(err.splitlines())
    assert [(line["done"], line["total"], line["unit"]) for line in lines][-1] == (2, 2, "clips")
    assert {line["verb"] for line in lines} == {"caption"}

    def steady(text):
        return [{k: v for k, v in json.loads(line).items() if k != "seconds"}
                for line in text.splitlines()]

    assert steady(out) == steady(plain)


def test_generate_reports_its_steps(tiny_ltx_dir, tmp_path, capsys):
    code = main(["generate", "a kite", "--model", str(tiny_ltx_dir), *TINY,
                 "-o", str(tmp_path / "kite.mp4"), "--progress", "json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    lines = json_lines(err)
    assert len(lines) == len(err.splitlines())
    assert lines[-1]["done"] == lines[-1]["total"] == 2 and lines[-1]["unit"] == "steps"
    assert lines[-1]["file"] == str(tmp_path / "kite.mp4")
    assert json.loads(out)["ok"] is True


def test_generate_quiet_prints_nothing_on_stderr(tiny_ltx_dir, tmp_path, capsys):
    code = main(["generate", "a kite", "--model", str(tiny_ltx_dir), *TINY,
                 "-o", str(tmp_path / "kite.mp4"), "-q"])
    out, err = capsys.readouterr()
    assert code == 0 and err == "" and json.loads(out)["ok"] is True


def _fake_pull(seen):
    def pull(model_id, progress=None):
        seen.append(progress)
        if progress is not None:  # as huggingface_hub uses a tqdm_class
            bar = progress(total=1000, desc="Downloading bytes", unit="B", unit_scale=True)
            for _ in range(4):
                bar.update(250)
            bar.close()
        return "/somewhere/model"
    return pull


@pytest.mark.parametrize("flags", [["--progress", "json"], ["-q"], []])
def test_models_pull_passes_a_tqdm_class(flags, capsys, monkeypatch):
    from studio.inference import loading

    seen = []
    monkeypatch.setattr(loading, "pull", _fake_pull(seen))
    assert main(["models", "pull", "owner/model", *flags]) == 0
    out, err = capsys.readouterr()
    assert out == "/somewhere/model\n"
    assert seen[0] is not None  # never the hub's own bars on a pipe
    if flags[:1] == ["--progress"]:
        lines = json_lines(err)
        assert len(lines) == len(err.splitlines()) and lines
        assert lines[-1] == {"verb": "models pull", "file": "Downloading bytes", "done": 1000,
                             "total": 1000, "unit": "B", "eta_s": lines[-1]["eta_s"]}
    else:
        assert err == ""


def test_models_pull_with_a_bar_leaves_the_hub_its_own_bars(capsys, monkeypatch):
    from studio.inference import loading

    seen = []
    monkeypatch.setattr(loading, "pull", _fake_pull(seen))
    assert main(["models", "pull", "owner/model", "--progress", "bar"]) == 0
    assert seen == [None]
