"""Training-set export (core.dataset.write_training_set, the one writer of every layout):
copies and trims that decode, sidecars, manifests, safe writes."""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
from pathlib import Path

import av
import pytest

from studio.core.cancel import CancelToken
from studio.core.dataset import DatasetItem, items_from_project, write_training_set
from studio.core.export import sanitize_name
from studio.core.frames import FrameReader
from studio.core.library import Project
from tests.media_factory import frame_number_of, make_image, make_video


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clips")
    return {
        "walk": make_video(folder / "walk.mp4", width=64, height=48, frames=30, fps=30),
        "odd": make_video(folder / "odd size.mp4", width=65, height=49, frames=12, fps=24,
                          pix_fmt="yuv444p"),
        "vfr": make_video(folder / "vfr.mkv", frames=6, vfr_pts=[0, 0.1, 0.15, 0.4, 0.45, 0.9]),
        "still": make_image(folder / "still.png"),
    }


def decoded_frames(path: Path) -> list:
    with av.open(str(path)) as container:
        return list(container.decode(video=0))


def no_temporaries(folder: Path) -> bool:
    return not [p for p in folder.iterdir() if p.name.startswith(".studio-")]


def test_diffusion_pipe_copies_and_sidecars(clips, tmp_path):
    out = tmp_path / "set"
    items = [
        DatasetItem(str(clips["walk"]), "A person walks along a path.", clip_id=1),
        DatasetItem(str(clips["still"]), "  A still frame, ünïcode ✓.\n", clip_id=2),
        DatasetItem(str(clips["walk"]), None, clip_id=3),
        DatasetItem(str(clips["walk"]), "   ", clip_id=4),
    ]
    seen = []
    report = write_training_set(items, out, "diffusion-pipe",
                                on_item=lambda d, t, n: seen.append((d, t, n)))
    assert report.skipped_uncaptioned == 2
    assert not report.failed and not report.cancelled and report.manifest is None
    assert sorted(p.name for p in out.iterdir()) == ["still.png", "still.txt", "walk.mp4", "walk.txt"]
    # An untrimmed clip is a byte copy; the sidecar holds the caption as stored, trimmed,
    # and a newline (as the ltx-train / wan-train presets and `studio caption --txt` write it)
    assert (out / "walk.mp4").read_bytes() == clips["walk"].read_bytes()
    assert (out / "walk.txt").read_text(encoding="utf-8") == "A person walks along a path.\n"
    assert (out / "still.txt").read_text(encoding="utf-8") == "A still frame, ünïcode ✓.\n"
    assert [Path(e.sidecars[0]).name for e in report.exported] == ["walk.txt", "still.txt"]
    assert seen[0] == (0, 2, "walk.mp4") and seen[-1][:2] == (2, 2)
    assert "Exported 2 clip(s)" in report.summary() and "skipped 2" in report.summary()
    # The files get the permissions any new file there gets: a training set was written
    # private to its owner (0600, the temporary file's), unreadable to a trainer running as
    # another user.
    plain = out / "plain"
    plain.write_text("")
    expected = plain.stat().st_mode & 0o777
    assert expected != 0o600
    assert {p.name: p.stat().st_mode & 0o777 for p in out.iterdir() if p != plain} == \
        dict.fromkeys(["still.png", "still.txt", "walk.mp4", "walk.txt"], expected)


def test_trimmed_clip_is_reencoded_frame_exactly(clips, tmp_path):
    report = write_training_set([DatasetItem(str(clips["walk"]), "walking", 5, 14)],
                                 tmp_path, "diffusion-pipe")
    (exported,) = report.exported
    assert not exported.copied and exported.frames == 10
    media = Path(exported.output)
    assert media.name == "walk_5-14.mp4" and Path(exported.sidecars[0]).name == "walk_5-14.txt"
    frames = decoded_frames(media)
    assert len(frames) == 10
    assert frames[0].format.name == "yuv420p"
    assert [frame_number_of(f.to_ndarray(format="rgb24")) for f in frames] == list(range(5, 15))
    assert float(frames[0].time) == 0.0
    assert float(frames[1].time) == pytest.approx(1 / 30, abs=1e-4)
    with av.open(str(media)) as container:
        assert container.streams.video[0].codec_context.name == "h264"


def test_trim_keeps_variable_timing_and_crops_odd_sizes(clips, tmp_path):
    report = write_training_set([
        DatasetItem(str(clips["vfr"]), "vfr", in_frame=2, out_frame=4),
        DatasetItem(str(clips["odd"]), "odd", in_frame=3, out_frame=None),
    ], tmp_path, "diffusion-pipe")
    assert not report.failed
    vfr, odd = report.exported
    times = [float(f.time) for f in decoded_frames(Path(vfr.output))]
    assert times == pytest.approx([0.0, 0.25, 0.30], abs=1e-3)
    frames = decoded_frames(Path(odd.output))
    assert len(frames) == 9 and (frames[0].width, frames[0].height) == (64, 48)
    assert Path(odd.output).name == "odd_size_3-11.mp4"


def test_marks_covering_the_whole_clip_copy_bytes(clips, tmp_path):
    report = write_training_set([DatasetItem(str(clips["walk"]), "all", 0, 29)], tmp_path)
    assert report.exported[0].copied
    assert Path(report.exported[0].output).read_bytes() == clips["walk"].read_bytes()


def test_musubi_manifest(clips, tmp_path):
    out = tmp_path / "musubi"
    report = write_training_set([
        DatasetItem(str(clips["walk"]), 'says "hi"\nand leaves', clip_id=1),
        DatasetItem(str(clips["walk"]), "trimmed part", 0, 9, clip_id=1),
    ], out, "musubi")
    assert report.manifest == str(out / "metadata.jsonl")
    lines = Path(report.manifest).read_text(encoding="utf-8").splitlines()
    rows = [json.loads(line) for line in lines]
    assert rows == [
        {"video_path": (out / "walk.mp4").as_posix(), "caption": 'says "hi"\nand leaves'},
        {"video_path": (out / "walk_0-9.mp4").as_posix(), "caption": "trimmed part"},
    ]
    assert len(decoded_frames(Path(rows[1]["video_path"]))) == 10
    assert not list(out.glob("*.txt"))


def test_never_overwrites(clips, tmp_path):
    (tmp_path / "walk.txt").write_text("someone else's notes")
    (tmp_path / "metadata.jsonl").write_text("keep me\n")
    report = write_training_set([DatasetItem(str(clips["walk"]), "one"),
                                  DatasetItem(str(clips["walk"]), "two")], tmp_path, "musubi")
    # walk.txt alone makes the musubi copy keep the plain name (no sidecar there) ...
    assert [Path(e.output).name for e in report.exported] == ["walk.mp4", "walk_2.mp4"]
    assert (tmp_path / "walk.txt").read_text() == "someone else's notes"
    assert (tmp_path / "metadata.jsonl").read_text() == "keep me\n"
    assert Path(report.manifest).name == "metadata_2.jsonl"
    # ... while a sidecar layout needs both names free.
    again = write_training_set([DatasetItem(str(clips["walk"]), "three")], tmp_path)
    assert Path(again.exported[0].output).name == "walk_3.mp4"
    assert (tmp_path / "walk_3.txt").read_text() == "three\n"
    assert no_temporaries(tmp_path)


@pytest.fixture
def read_only_folder(tmp_path):
    """A folder nobody may write into: chmod for a user; for root (who ignores modes, as in
    CI containers) the immutable attribute, where the file system and capabilities allow it."""
    folder = tmp_path / "locked"
    folder.mkdir()
    if os.geteuid() != 0:
        folder.chmod(stat.S_IRUSR | stat.S_IXUSR)
        yield folder
        folder.chmod(stat.S_IRWXU)
        return
    if shutil.which("chattr") is None or subprocess.run(
            ["chattr", "+i", str(folder)], capture_output=True, check=False).returncode != 0:
        pytest.skip("cannot make a folder read-only for root here")
    try:
        yield folder
    finally:
        subprocess.run(["chattr", "-i", str(folder)], check=True)


def test_read_only_folder_is_a_clear_error(clips, read_only_folder):
    # The report's error (and each clip's), as export_clips gives it, rather than an
    # exception: one writer, one way to say it.
    folder = read_only_folder
    report = write_training_set([DatasetItem(str(clips["walk"]), "x")], folder)
    assert re.search("locked.*(read-only|permission|not permitted)", report.error)
    assert [r.error for r in report.results] == [report.error] and not report.exported
    assert list(folder.iterdir()) == []
    report = write_training_set([DatasetItem(str(clips["walk"]), "x")], folder / "sub")
    assert "locked/sub: cannot create" in report.error and report.summary() == report.error


def test_missing_and_broken_sources_fail_by_name_and_the_rest_go_on(clips, tmp_path):
    broken = tmp_path / "broken.mp4"
    broken.write_text("not a video")
    out = tmp_path / "out"
    report = write_training_set([
        DatasetItem(str(tmp_path / "gone.mp4"), "gone"),
        DatasetItem(str(broken), "broken", in_frame=1, out_frame=3),
        DatasetItem(str(clips["walk"]), "fine"),
        DatasetItem(str(clips["walk"]), "past the end", in_frame=40, out_frame=None),
    ], out)
    assert [Path(e.output).name for e in report.exported] == ["walk.mp4"]
    messages = [m for _, m in report.failed]
    assert len(messages) == 3
    assert "gone.mp4" in messages[0] and "not found" in messages[0]
    assert "broken.mp4" in messages[1]
    assert "walk.mp4" in messages[2] and "40" in messages[2]
    assert sorted(p.name for p in out.iterdir()) == ["walk.mp4", "walk.txt"]


def test_cancel_keeps_finished_pairs_only(clips, tmp_path):
    cancel = CancelToken()

    def progress(done, total, name):
        if done == 1:
            cancel.cancel()

    report = write_training_set([DatasetItem(str(clips["walk"]), "a", name="a"),
                                 DatasetItem(str(clips["walk"]), "b", 0, 20, name="b"),
                                 DatasetItem(str(clips["walk"]), "c", name="c")],
                                tmp_path, "musubi", on_item=progress, cancel=cancel)
    assert report.cancelled
    assert [Path(e.output).name for e in report.exported] == ["a.mp4"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.mp4", "metadata.jsonl"]
    assert len(Path(report.manifest).read_text().splitlines()) == 1


def test_names_follow_the_one_sanitiser():
    # core.export.sanitize_name, the rule of every export: "#" is a character every file
    # system takes, so it stays (the training-set writer's own rule made it "_").
    def name(text):
        return sanitize_name(text, fallback="clip")

    assert name("my clip: take #2") == "my_clip_take_#2"
    assert name("../../etc/passwd") == "etc_passwd"
    assert name(".hidden") == "hidden"
    assert name("CON") == "_CON"
    assert name("été à Paris") == "été_à_Paris"
    assert name("///") == "clip"
    assert len(name("x" * 400)) == 120


def test_items_from_project(clips, tmp_path):
    with Project(tmp_path / "p") as project:
        a, _ = project.import_file(clips["walk"])
        b, _ = project.import_file(clips["still"])
        project.add_caption(a.id, "first")
        project.add_caption(a.id, "second", source="edit")
        project.set_in_out(a.id, 2, 8)
        items = items_from_project(project)
        assert [(i.clip_id, i.caption, i.in_frame, i.out_frame) for i in items] == [
            (a.id, "second", 2, 8), (b.id, None, None, None)]
        assert [i.clip_id for i in items_from_project(project, [b.id])] == [b.id]
        report = write_training_set(items, tmp_path / "out")
        assert report.skipped_uncaptioned == 1
        assert FrameReader(report.exported[0].output).frame_count == 7


def test_the_trainer_presets_are_layouts_of_the_same_writer(clips, tmp_path):
    """ltx-train / wan-train (File > Export…, `studio export --preset`) and the copy layouts
    are options of one writer: the same items, names, caption files and report."""
    from studio.core.dataset import TrainingSetReport
    from studio.core.export import ExportOptions, export_clips

    items = [DatasetItem(str(clips["walk"]), " walking \n", 2, 25, clip_id=7),
             DatasetItem(str(clips["walk"]), None, clip_id=8)]
    report = write_training_set(items, tmp_path / "wan", "wan-train")
    (result,) = report.exported
    assert report.skipped_uncaptioned == 1 and not report.failed
    assert (result.clip_id, result.caption, result.copied) == (7, "walking", False)
    assert result.frames == 13  # 24 frames at 30 fps: 0.8 s at 16 fps -> 4k+1
    assert sorted(p.name for p in (tmp_path / "wan").iterdir()) == [
        "metadata.jsonl", "walk_2-24.mp4", "walk_2-24.txt"]  # the frames used
    assert (tmp_path / "wan" / "walk_2-24.txt").read_text(encoding="utf-8") == "walking\n"
    assert [json.loads(x) for x in Path(report.manifest).read_text().splitlines()] == [
        {"video_path": result.output, "caption": "walking"}]

    batch = export_clips([(clips["walk"], ExportOptions(preset="ltx-train", caption="x"))],
                         tmp_path / "ltx", ExportOptions(preset="ltx-train"))
    assert isinstance(batch, TrainingSetReport) and batch.layout == "ltx-train"
    assert [Path(r.output).name for r in batch.exported] == ["walk.mp4"]
    with pytest.raises(ValueError, match="layout must be one of"):
        write_training_set(items, tmp_path, "kohya")
    with pytest.raises(ValueError, match="ltx-train preset"):
        write_training_set(items, tmp_path, "ltx-train", options=ExportOptions(preset="mp4"))
