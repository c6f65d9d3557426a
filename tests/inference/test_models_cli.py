"""`studio models list | pull | make-demo` on a real on-disk Hugging Face cache with the hub
switched off."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from studio import settings
from studio.cli import main
from studio.inference import loading
from tests.inference.test_loading import (  # noqa: F401 (fixture)
    SMOL,
    captioner_files,
    offline,
    put_in_hub_cache,
    write_captioner_folder,
)

ROOT = Path(__file__).resolve().parents[2]


def list_json(capsys) -> dict[str, dict]:
    assert main(["models", "list", "--json"]) == 0
    return {row["id"]: row for row in json.loads(capsys.readouterr().out)}


def test_list_shows_the_registry_and_the_demos_with_nothing_here(offline, capsys):
    rows = list_json(capsys)
    assert SMOL in rows and "demo/smolvlm2-tiny" in rows and "demo/ltx-video-tiny" in rows
    smol = rows[SMOL]
    assert smol["kind"] == "captioner" and smol["status"] == "missing" and not smol["cached"]
    assert smol["path"] is None and smol["size_bytes"] is None and smol["download_gb"] > 0
    assert rows["demo/ltx-video-tiny"]["kind"] == "generator"
    assert all(r["demo"] == r["id"].startswith("demo/") for r in rows.values())


def test_list_shows_what_is_cached_where_and_its_size(offline, tmp_path, capsys):
    files = captioner_files(tmp_path)
    snapshot = put_in_hub_cache(offline, SMOL, files)
    demo = write_captioner_folder(settings.models_dir() / "demo" / "smolvlm2-tiny")
    put_in_hub_cache(offline, "someone/other-model", {"config.json": b"{}"})
    rows = list_json(capsys)
    assert rows[SMOL]["status"] == "ready" and rows[SMOL]["cached"]
    assert rows[SMOL]["path"] == str(snapshot)
    assert rows[SMOL]["size_bytes"] == sum(len(v) for v in files.values())
    assert rows["demo/smolvlm2-tiny"]["status"] == "ready"
    assert rows["demo/smolvlm2-tiny"]["path"] == str(demo.resolve())
    assert rows["demo/ltx-video-tiny"]["status"] == "missing"
    assert rows["someone/other-model"]["status"] == "ready"  # in the cache, not in the registry

    assert main(["models", "list"]) == 0
    text = capsys.readouterr().out
    line = next(ln for ln in text.splitlines() if ln.startswith(SMOL + " "))
    assert "here" in line and str(snapshot) in line
    line = next(ln for ln in text.splitlines() if ln.startswith("HuggingFaceTB/SmolVLM2-500M"))
    assert "not downloaded" in line and "GB to download" in line


def test_list_marks_an_interrupted_download(offline, tmp_path, capsys):
    files = captioner_files(tmp_path)
    put_in_hub_cache(offline, SMOL, {"config.json": files["config.json"]}, listed=files)
    assert list_json(capsys)[SMOL]["status"] == "incomplete"
    assert main(["models", "list"]) == 0
    assert "incomplete (pull again)" in capsys.readouterr().out


def test_pull_offline_exits_1_with_the_message(offline, capsys):
    assert main(["models", "pull", SMOL]) == 1
    captured = capsys.readouterr()
    assert "HF_HUB_OFFLINE" in captured.err and "--model /path/to/folder" in captured.err
    assert captured.out == ""


def test_pull_a_demo_id_says_make_demo(offline, capsys):
    assert main(["models", "pull", "demo/smolvlm2-tiny"]) == 1
    assert "studio models make-demo" in capsys.readouterr().err


def test_pull_in_a_fresh_process_with_hf_hub_offline(tmp_path):
    """The variable as a person sets it: read by huggingface_hub at import; no traceback."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(tmp_path / "hub"),
           "XDG_DATA_HOME": str(tmp_path / "data")}
    result = subprocess.run([sys.executable, "-m", "studio", "models", "pull", SMOL], cwd=ROOT,
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert f"Cannot download {SMOL}" in result.stderr and "HF_HUB_OFFLINE" in result.stderr


def test_models_needs_a_subcommand(capsys):
    with pytest.raises(SystemExit) as info:
        main(["models"])
    assert info.value.code == 2


def test_make_demo_never_replaces_a_folder_it_did_not_build(offline, tmp_path, capsys):
    mine = tmp_path / "out" / "smolvlm2-tiny"
    mine.mkdir(parents=True)
    (mine / "precious.txt").write_text("keep me")
    assert main(["models", "make-demo", str(tmp_path / "out")]) == 1
    assert "not built by Studio" in capsys.readouterr().err
    assert (mine / "precious.txt").read_text() == "keep me"


def test_make_demo_builds_each_where_the_demo_ids_find_them(offline, capsys):
    from studio.inference.demo_ltx2 import DEMO_DISTILLED_LORA

    assert main(["models", "make-demo"]) == 0
    out = capsys.readouterr().out.splitlines()
    root = settings.models_dir() / "demo"
    assert out == [f"demo/smolvlm2-tiny: {root / 'smolvlm2-tiny'}",
                   f"demo/ltx-video-tiny: {root / 'ltx-video-tiny'}",
                   f"demo/ltx2-tiny: {root / 'ltx2-tiny'}",  # LTX-2 with sound (issue 17)
                   f"demo/ltx2-dev-tiny: {root / 'ltx2-dev-tiny'}"]  # and as a dev model
    assert loading.resolve("demo/ltx2-tiny", expect="generator").demo
    dev = loading.resolve("demo/ltx2-dev-tiny", expect="generator")
    assert dev.demo and loading.check_safetensors(dev.path / DEMO_DISTILLED_LORA)
    assert not list(loading.resolve("demo/ltx2-tiny").path.glob("*lora*"))
    captioner = loading.resolve("demo/smolvlm2-tiny", expect="captioner")
    generator = loading.resolve("demo/ltx-video-tiny", expect="generator")
    assert captioner.demo and generator.demo
    rows = list_json(capsys)
    assert rows["demo/smolvlm2-tiny"]["status"] == "ready"
    assert rows["demo/ltx-video-tiny"]["status"] == "ready"
    assert rows["demo/ltx-video-tiny"]["size_bytes"] > 100_000


def test_make_demo_into_a_folder_of_ones_choice(offline, tmp_path, capsys):
    out_dir = tmp_path / "my demos"
    assert main(["models", "make-demo", str(out_dir)]) == 0
    captured = capsys.readouterr()
    assert f"demo/ltx-video-tiny: {out_dir / 'ltx-video-tiny'}" in captured.out
    assert "use them as folders" in captured.err
    loading.check_folder(out_dir / "smolvlm2-tiny", "captioner")
    loading.check_folder(out_dir / "ltx-video-tiny", "generator")
    assert loading.resolve(str(out_dir / "ltx-video-tiny")).demo  # labelled even as a folder
    assert sorted(p.name for p in out_dir.iterdir()) == ["ltx-video-tiny", "ltx2-dev-tiny",
                                                         "ltx2-tiny", "smolvlm2-tiny"]
