"""Captioning on a local Ray cluster (tests/cluster/conftest.py): the captions of a local run,
clip for clip; a path the workers cannot read fails alone, naming the path and the node; a
worker killed mid-batch loses nothing and repeats nothing; a resumed run skips what is done;
a cancel stops the run and frees its workers."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket

import pytest

from studio.cli import main

LOCAL_KEYS = {"path", "ok", "caption", "model", "demo", "frame_times", "seconds", "error"}


def rows_by_path(text: str) -> dict[str, dict]:
    rows = [json.loads(line) for line in text.splitlines() if line.strip()]
    by_path = {row["path"]: row for row in rows}
    assert len(by_path) == len(rows), "a file was reported twice"
    return by_path


def test_captions_equal_a_local_run_and_an_unreadable_path_fails_alone(
        local_cluster, tiny_captioner_dir, clip_folder, tmp_path, capsys):
    missing = tmp_path / "not-mounted" / "clip_9.mp4"
    common = [str(clip_folder), str(missing), "--model", str(tiny_captioner_dir),
              "--max-new-tokens", "12"]
    assert main(["caption", *common, "--jsonl", str(tmp_path / "local.jsonl")]) == 1
    local = rows_by_path(capsys.readouterr().out)
    assert main(["caption", *common, "--cluster", "local", "--batch-size", "2",
                 "--jsonl", str(tmp_path / "cluster.jsonl")]) == 1
    out, err = capsys.readouterr()
    cluster = rows_by_path(out)

    assert set(cluster) == set(local) and len(cluster) == 6  # the folder's five, and one
    for path, row in local.items():
        assert cluster[path]["ok"] == row["ok"]
        assert cluster[path]["caption"] == row["caption"]
        assert cluster[path]["frame_times"] == row["frame_times"]
    done = [row for row in cluster.values() if row["ok"]]
    assert len(done) == 5 and all(set(row) == LOCAL_KEYS | {"node"} for row in done)
    assert {row["node"] for row in done} == {socket.gethostname()}
    bad = cluster[str(missing)]
    assert str(missing) in bad["error"] and f"(on {socket.gethostname()})" in bad["error"]
    assert bad["caption"] is None
    # the manifest is the local run's, line for line
    assert (tmp_path / "cluster.jsonl").read_text() == (tmp_path / "local.jsonl").read_text()
    assert "Traceback" not in err


def _reference_captions(model_dir, paths, settings) -> dict[str, str]:
    """Each clip captioned on its own in this process, as `studio caption --batch-size 1`."""
    from studio.inference.batching import BatchCallbacks, ClipInput, caption_many
    from studio.inference.captioner import Captioner

    captioner = Captioner.load(str(model_dir), "cpu")
    texts = {}
    caption_many(captioner, [ClipInput(p) for p in paths], settings, batch_size=1,
                 callbacks=BatchCallbacks(
                     finished=lambda i, result: texts.__setitem__(paths[i], result.text)))
    captioner.unload()
    return texts


def test_a_worker_killed_mid_batch_loses_nothing_and_repeats_nothing(
        local_cluster, tiny_captioner_dir, clip_folder):
    from studio.inference.batching import ClipInput
    from studio.inference.captioner import CaptionSettings
    from studio.inference.cluster import (
        ItemDone,
        ItemFailed,
        WorkerLost,
        WorkerStarted,
        caption_on_cluster,
    )

    paths = [str(p) for p in sorted(clip_folder.glob("*.mp4"))]
    clips = [ClipInput(p) for p in paths * 2]  # ten items, five units of two
    settings = CaptionSettings(max_new_tokens=32)
    pids, done, lost, killed = {}, [], [], None
    for event in caption_on_cluster("local", clips, str(tiny_captioner_dir), settings,
                                    batch_size=2, workers=2):
        assert not isinstance(event, ItemFailed), event
        if isinstance(event, WorkerStarted):
            pids[event.worker] = event.pid
        elif isinstance(event, WorkerLost):
            lost.append(event)
        elif isinstance(event, ItemDone):
            done.append(event)
            if killed is None:  # its second unit is running now: kill it mid-batch
                killed = event.worker
                os.kill(pids[killed], signal.SIGKILL)

    assert sorted(event.index for event in done) == list(range(len(clips)))  # each once
    assert [event.worker for event in lost] == [killed]
    assert lost[0].requeued  # it died with clips in hand, which the others finished
    assert all(e.worker != killed for e in done if e.index in lost[0].requeued)
    expected = _reference_captions(tiny_captioner_dir, paths, settings)
    assert {e.index: e.result.text for e in done} == \
        {i: expected[clip.path] for i, clip in enumerate(clips)}


def test_a_resumed_run_skips_what_is_done(local_cluster, tiny_captioner_dir, clip_folder,
                                          tmp_path, capsys):
    from studio.core.library import Project

    folder = tmp_path / "clips"
    folder.mkdir()
    for name in ("clip_0.mp4", "clip_1.mp4", "clip_2.mp4"):
        shutil.copy(clip_folder / name, folder / name)
    manifest, project = tmp_path / "captions.jsonl", tmp_path / "project"
    argv = ["caption", str(folder), "--model", str(tiny_captioner_dir), "--max-new-tokens", "8",
            "--cluster", "local", "--jsonl", str(manifest), "--project", str(project)]
    assert main(argv) == 0
    first = rows_by_path(capsys.readouterr().out)
    assert len(first) == 3 and not any(row.get("skipped") for row in first.values())

    record = tmp_path / ".captions.jsonl.record"
    with open(record, "a", encoding="utf-8") as f:
        f.write('{"video_path": "' + str(folder / "clip_3.mp4"))  # a line cut short by a kill
    shutil.copy(clip_folder / "clip_3.mp4", folder / "clip_3.mp4")
    assert main(argv) == 0
    second = rows_by_path(capsys.readouterr().out)

    skipped = {path for path, row in second.items() if row.get("skipped")}
    assert skipped == set(first)
    assert all(second[path]["caption"] == first[path]["caption"] for path in first)
    new = second[str(folder / "clip_3.mp4")]
    assert new["ok"] and new["node"] and "skipped" not in new
    lines = [json.loads(line) for line in manifest.read_text().splitlines()]
    assert [line["video_path"] for line in lines] == \
        [(folder / f"clip_{i}.mp4").as_posix() for i in range(4)]
    with Project(project) as opened:
        clips = opened.clips()
        assert sorted(c.name for c in clips) == [f"clip_{i}.mp4" for i in range(4)]
        for clip in clips:  # one caption each: nothing captioned twice
            (caption,) = opened.captions_for(clip.id)
            assert caption.source == "model" and caption.model == str(tiny_captioner_dir)
            assert caption.text == second[clip.path]["caption"]
            assert caption.params["max_new_tokens"] == 8 and caption.params["frame_times"]
            assert clip.ok  # recorded as the worker probed it


def test_cancel_stops_the_run_and_frees_its_workers(local_cluster, tiny_captioner_dir,
                                                     clip_folder, qtbot):
    from studio.core.cancel import Cancelled, CancelToken
    from studio.inference.batching import ClipInput
    from studio.inference.captioner import CaptionSettings
    from studio.inference.cluster import ItemDone, WorkerStarted, caption_on_cluster

    token = CancelToken()
    clips = [ClipInput(str(p)) for p in sorted(clip_folder.glob("*.mp4"))]
    events = []
    with pytest.raises(Cancelled):
        for event in caption_on_cluster("local", clips, str(tiny_captioner_dir),
                                        CaptionSettings(max_new_tokens=64), batch_size=1,
                                        workers=2, cancel=token):
            events.append(event)
            if isinstance(event, WorkerStarted):
                token.cancel()
    assert not any(isinstance(event, ItemDone) for event in events[1:])
    qtbot.waitUntil(lambda: local_cluster.available_resources().get("CPU") == 2,
                    timeout=30_000)
