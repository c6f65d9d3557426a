"""`studio generate --batch JOBS.jsonl --cluster local`: each job's video written with its
sidecar by the engine local `studio generate` uses, one JSON line per job; a job into a
project is recorded there (by the driver, not the worker)."""

from __future__ import annotations

import json
import socket

from studio.cli import main

TINY = {"width": 32, "height": 32, "frames": 9, "steps": 2}


def test_a_batch_writes_each_output_with_its_sidecar(local_cluster, tiny_ltx_dir, tmp_path,
                                                      capsys):
    from studio.core.library import Project
    from studio.core.media import probe

    model = str(tiny_ltx_dir)
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text("\n".join([
        json.dumps({"prompt": "a red kite", "model": model, "seed": 7, **TINY,
                    "output": str(tmp_path / "out" / "kite.mp4")}),
        "",  # blank lines are allowed
        json.dumps({"prompt": "a blue boat", "model": model, "seed": 8, **TINY,
                    "vae_tiling": False, "project": str(tmp_path / "project")}),
    ]) + "\n", encoding="utf-8")
    assert main(["generate", "--batch", str(jobs), "--cluster", "local"]) == 0
    out, err = capsys.readouterr()
    rows = {row["line"]: row for row in map(json.loads, out.splitlines())}

    assert sorted(rows) == [1, 3] and all(row["ok"] for row in rows.values()), err
    kite, boat = rows[1], rows[3]
    assert kite["output"] == str(tmp_path / "out" / "kite.mp4")
    assert kite["sidecar"] == str(tmp_path / "out" / "kite.json")
    assert boat["output"].startswith(str(tmp_path / "project" / "generations"))
    for row, seed in ((kite, 7), (boat, 8)):
        assert row["node"] == socket.gethostname() and row["demo"] is True
        assert row["seed"] == seed and row["params"]["seed"] == seed
        assert row["conformed"] == {} and row["frames"] == 9
        assert probe(row["output"]).frame_count == 9
        record = json.loads(open(row["sidecar"], encoding="utf-8").read())["settings"]
        assert record["params"] == row["params"] and record["prompt"] == row["params"]["prompt"]
    assert boat["params"]["vae_tiling"] is False
    with Project(tmp_path / "project") as project:
        (generation,) = project.generations()
        assert generation.id == boat["generation_id"] and generation.path == boat["output"]
        assert generation.params["seed"] == 8 and generation.kind == "t2v"
    leftovers = [p.name for p in (tmp_path / "out").iterdir() if p.name.startswith(".")]
    assert leftovers == []  # no temporary file left behind
