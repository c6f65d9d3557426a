"""The project library on a real SQLite file in a temporary folder, with real files on disk."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from studio.core import library
from studio.core.library import (
    PARTIAL_HASH_CHUNK,
    SCHEMA_VERSION,
    Project,
    ProjectError,
    RelinkError,
    UnknownIdError,
    stamp,
)
from studio.core.media import MediaInfo, MissingFileError, NotMediaError
from tests import media_factory


def media_info(path: str | Path, frame_count: int = 24, **changes) -> MediaInfo:
    fields = dict(path=str(path), kind="video", width=64, height=48, coded_width=64,
                  coded_height=48, rotation=0, fps=24.0, duration_s=frame_count / 24,
                  frame_count=frame_count, frame_count_estimated=False, codec="h264",
                  pix_fmt="yuv420p", has_audio=False)
    fields.update(changes)
    return MediaInfo(**fields)


def write_file(path: Path, size: int = 3000, seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes((i * 7 + seed) % 251 for i in range(size)))
    return path


def file_state(path: Path) -> tuple[bytes, int]:
    return path.read_bytes(), path.stat().st_mtime_ns


@pytest.fixture
def project(tmp_path):
    with Project(tmp_path / "proj") as p:
        yield p


@pytest.fixture
def files_dir(tmp_path):
    """A folder of plain files for this test (not the session media set)."""
    d = tmp_path / "files"
    d.mkdir()
    return d


# --- stamp -------------------------------------------------------------------------------


def test_stamp_hashes_size_head_and_tail(tmp_path):
    big = write_file(tmp_path / "big.bin", size=5 * PARTIAL_HASH_CHUNK + 123)
    data = big.read_bytes()
    s = stamp(big)
    expected = hashlib.blake2b(digest_size=16)
    expected.update(len(data).to_bytes(8, "little"))
    expected.update(data[:PARTIAL_HASH_CHUNK])
    expected.update(data[-PARTIAL_HASH_CHUNK:])
    assert s.partial_hash == expected.hexdigest()
    assert s.size == len(data)
    assert s.mtime == big.stat().st_mtime

    # The tail counts; the middle of a big file does not (that is what makes it fast).
    changed = bytearray(data)
    changed[-1] ^= 0xFF
    (tmp_path / "tail.bin").write_bytes(changed)
    assert stamp(tmp_path / "tail.bin").partial_hash != s.partial_hash
    changed = bytearray(data)
    changed[len(data) // 2] ^= 0xFF
    (tmp_path / "middle.bin").write_bytes(changed)
    assert stamp(tmp_path / "middle.bin").partial_hash == s.partial_hash


def test_stamp_small_and_empty_files_differ_by_content_and_size(tmp_path):
    a = stamp(write_file(tmp_path / "a", size=10, seed=1))
    b = stamp(write_file(tmp_path / "b", size=10, seed=2))
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    assert a.partial_hash != b.partial_hash
    assert stamp(empty).size == 0 and stamp(empty).partial_hash != a.partial_hash


def test_stamp_is_fast_on_a_huge_file(tmp_path):
    huge = tmp_path / "huge.bin"
    with open(huge, "wb") as f:  # sparse: 20 GiB that take no disk space
        f.truncate(20 * 1024**3)
    start = time.perf_counter()
    s = stamp(huge)
    assert time.perf_counter() - start < 1.0
    assert s.size == 20 * 1024**3


# --- the project folder and its database --------------------------------------------------


def test_new_project_creates_its_folder_layout(tmp_path):
    root = tmp_path / "deep" / "proj"
    with Project(root) as p:
        assert p.root == root
        assert p.db_path == root / "project.sqlite"
        assert p.generations_dir == root / "generations"
        assert p.exports_dir == root / "exports"
        assert p.thumbnails_dir == root / "thumbnails"
        for folder in (p.generations_dir, p.exports_dir, p.thumbnails_dir):
            assert folder.is_dir()
        assert p.db_path.is_file()
        assert p.schema_version == SCHEMA_VERSION
        assert p.clips() == []
    raw = sqlite3.connect(root / "project.sqlite")
    assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    tables = {r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"clips", "captions", "generations", "jobs"} <= tables
    raw.close()


def test_database_is_in_wal_mode_with_foreign_keys(project):
    raw = sqlite3.connect(project.db_path)
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"  # persistent, seen by all
    raw.close()
    assert project._db.execute("PRAGMA foreign_keys").fetchone()[0] == 1


def test_reopen_keeps_clips_and_in_out(tmp_path, files_dir):
    f = write_file(files_dir / "a.mp4")
    with Project(tmp_path / "proj") as p:
        clip, created = p.add_clip(f, media_info(f, frame_count=50))
        p.set_in_out(clip.id, 5, 40)
    with Project(tmp_path / "proj") as p:
        (again,) = p.clips()
        assert (again.id, again.path, again.in_frame, again.out_frame) == (clip.id, str(f), 5, 40)
        assert again.info == media_info(f, frame_count=50)
        assert again.size == f.stat().st_size and again.partial_hash == stamp(f).partial_hash
        assert not again.missing and again.ok


def test_a_project_from_a_newer_studio_is_refused_untouched(tmp_path):
    root = tmp_path / "future"
    root.mkdir()
    raw = sqlite3.connect(root / "project.sqlite")
    raw.execute("CREATE TABLE clips (id INTEGER PRIMARY KEY, mystery TEXT)")
    raw.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    raw.commit()
    raw.close()
    before = (root / "project.sqlite").read_bytes()
    with pytest.raises(ProjectError) as err:
        Project(root)
    assert str(root) in str(err.value) and "newer" in str(err.value)
    assert (root / "project.sqlite").read_bytes() == before


def test_a_file_that_is_not_sqlite_is_refused(tmp_path):
    root = tmp_path / "proj"
    root.mkdir()
    (root / "project.sqlite").write_text("these are not the tables you are looking for\n" * 100)
    before = (root / "project.sqlite").read_bytes()
    with pytest.raises(ProjectError) as err:
        Project(root)
    assert str(root) in str(err.value) and "not an SQLite database" in str(err.value)
    assert (root / "project.sqlite").read_bytes() == before


def test_another_programs_sqlite_database_is_refused(tmp_path):
    root = tmp_path / "proj"
    root.mkdir()
    raw = sqlite3.connect(root / "project.sqlite")
    raw.execute("CREATE TABLE accounts (id INTEGER PRIMARY KEY)")
    raw.commit()
    raw.close()
    before = (root / "project.sqlite").read_bytes()
    with pytest.raises(ProjectError, match="made by something else") as err:
        Project(root)
    assert str(root) in str(err.value)
    assert (root / "project.sqlite").read_bytes() == before  # not even switched to WAL


def test_a_file_in_place_of_the_folder_is_refused(tmp_path):
    not_a_folder = write_file(tmp_path / "proj")
    with pytest.raises(ProjectError, match="not a project folder") as err:
        Project(not_a_folder)
    assert str(not_a_folder) in str(err.value)


def test_an_empty_database_file_is_refused_and_left_untouched(tmp_path):
    """Issue 14 item 3: it silently became a new, empty project (a project lost its clips
    without a word). Studio never leaves one itself: a new database is built whole first."""
    root = tmp_path / "proj"
    root.mkdir()
    (root / "project.sqlite").write_bytes(b"")
    with pytest.raises(library.DamagedProjectError, match=r"project\.sqlite is empty"):
        Project(root)
    assert (root / "project.sqlite").read_bytes() == b""
    assert sorted(p.name for p in root.iterdir()) == ["project.sqlite"]


def test_a_new_project_database_appears_whole(tmp_path):
    root = tmp_path / "new"
    with Project(root) as p:
        assert p.schema_version == SCHEMA_VERSION
    assert not [p for p in root.iterdir() if p.name.endswith(".part")]
    with Project(root) as p:  # and opens again as itself
        assert p.schema_version == SCHEMA_VERSION


def test_forward_migration_upgrades_and_keeps_data(tmp_path, files_dir, monkeypatch):
    f = write_file(files_dir / "a.mp4")
    with Project(tmp_path / "proj") as p:
        clip, _ = p.add_clip(f, media_info(f))
    monkeypatch.setattr(library, "MIGRATIONS", [
        *library.MIGRATIONS,
        "ALTER TABLE clips ADD COLUMN rating INTEGER; UPDATE clips SET rating = 3;"])
    with Project(tmp_path / "proj") as p:
        assert p.schema_version == SCHEMA_VERSION + 1
        assert p.clip(clip.id).path == str(f)
        assert p._db.execute("SELECT rating FROM clips").fetchall() == [(3,)]


def test_a_failing_migration_leaves_the_project_as_it_was(tmp_path, files_dir, monkeypatch):
    f = write_file(files_dir / "a.mp4")
    with Project(tmp_path / "proj") as p:
        p.add_clip(f, media_info(f))
    monkeypatch.setattr(library, "MIGRATIONS", [
        *library.MIGRATIONS,
        "ALTER TABLE clips ADD COLUMN rating INTEGER; ALTER TABLE no_such_table ADD COLUMN x;"])
    with pytest.raises(ProjectError, match="no_such_table"):
        Project(tmp_path / "proj")
    monkeypatch.undo()
    with Project(tmp_path / "proj") as p:
        assert p.schema_version == SCHEMA_VERSION
        assert [c.path for c in p.clips()] == [str(f)]
        columns = {r[1] for r in p._db.execute("PRAGMA table_info(clips)")}
        assert "rating" not in columns


def test_two_projects_on_one_folder_see_each_others_writes(tmp_path, files_dir):
    f = write_file(files_dir / "a.mp4")
    with Project(tmp_path / "proj") as gui, Project(tmp_path / "proj") as cli:
        clip, _ = cli.add_clip(f, media_info(f))
        assert [c.id for c in gui.clips()] == [clip.id]


def test_a_closed_project_says_so(tmp_path):
    p = Project(tmp_path / "proj")
    p.close()
    p.close()  # twice is harmless
    with pytest.raises(ProjectError, match="closed"):
        p.clips()


# --- clips ---------------------------------------------------------------------------------


def test_the_same_file_twice_is_one_clip(project, files_dir, monkeypatch):
    f = write_file(files_dir / "a.mp4")
    link = files_dir / "link.mp4"
    link.symlink_to(f)
    first, created = project.add_clip(f, media_info(f))
    assert created
    monkeypatch.chdir(files_dir)
    for spelling in ("a.mp4", files_dir / "sub" / ".." / "a.mp4", link):
        again, created = project.add_clip(spelling, media_info(f))
        assert not created and again.id == first.id
    assert len(project.clips()) == 1
    assert project.clip_for_path(link).id == first.id
    assert project.clip_for_path(files_dir / "other.mp4") is None


def test_readding_a_changed_file_updates_its_stamp_and_probe(project, files_dir):
    f = write_file(files_dir / "a.mp4", size=3000)
    clip, _ = project.add_clip(f, media_info(f, frame_count=100))
    project.set_in_out(clip.id, 10, 90)
    added_at = clip.added_at

    write_file(f, size=5000, seed=3)  # re-encoded in place, now longer
    again, created = project.add_clip(f, media_info(f, frame_count=200))
    assert not created and again.id == clip.id
    assert again.size == 5000 and again.partial_hash == stamp(f).partial_hash
    assert again.info.frame_count == 200
    assert (again.in_frame, again.out_frame) == (10, 90)  # still fit
    assert again.added_at == added_at and not again.missing

    write_file(f, size=4000, seed=4)  # now shorter than the marks
    again, _ = project.add_clip(f, media_info(f, frame_count=50))
    assert (again.in_frame, again.out_frame) == (None, None)


def test_readding_an_unchanged_file_without_a_probe_changes_nothing(project, files_dir):
    f = write_file(files_dir / "a.mp4")
    clip, _ = project.add_clip(f, media_info(f))
    again, created = project.add_clip(f)
    assert not created and again == clip


def test_an_unusable_file_is_recorded_with_its_error(project, files_dir):
    f = write_file(files_dir / "notes.mp4")
    error = NotMediaError(f, "no video stream")
    clip, created = project.add_clip(f, error=error)
    assert created
    assert clip.info is None and not clip.ok and not clip.missing
    assert clip.error == str(error) and str(f) in clip.error
    assert clip.error_kind == "NotMediaError"
    # in/out are not checked against a frame count nobody knows
    assert project.set_in_out(clip.id, 3, 1000).out_frame == 1000


def test_stored_media_details_from_another_version_do_not_break_listing(project, files_dir):
    f = write_file(files_dir / "a.mp4")
    clip, _ = project.add_clip(f, media_info(f))
    with project._write() as db:  # as if MediaInfo had gained a field since
        db.execute("UPDATE clips SET info_json = ? WHERE id = ?", ('{"path": "x"}', clip.id))
    (listed,) = project.clips()
    assert listed.info is None and not listed.ok and not listed.missing
    assert listed.error_kind == "StoredInfoError" and "relink" in listed.error
    assert str(f) in listed.error


def test_a_file_gone_before_it_is_added_is_recorded_as_missing(project, files_dir):
    gone = files_dir / "gone.mp4"
    clip, created = project.add_clip(gone)  # a worker saw it; it vanished since
    assert created and clip.missing and not clip.ok
    assert clip.error_kind == "MissingFileError" and str(gone) in clip.error


def test_readding_a_vanished_clip_keeps_what_was_recorded(project, files_dir):
    f = write_file(files_dir / "a.mp4")
    clip, _ = project.add_clip(f, media_info(f))
    f.unlink()
    again, created = project.add_clip(f, error=MissingFileError(f))  # dropped again, stale
    assert not created and again.missing
    assert (again.info, again.partial_hash, again.size) == (clip.info, clip.partial_hash, clip.size)


def test_a_vanished_file_is_listed_as_missing(project, files_dir):
    keep = write_file(files_dir / "keep.mp4")
    gone = write_file(files_dir / "gone.mp4", seed=1)
    kept, _ = project.add_clip(keep, media_info(keep))
    lost, _ = project.add_clip(gone, media_info(gone))
    gone.unlink()
    by_id = {c.id: c for c in project.clips()}
    assert not by_id[kept.id].missing
    assert by_id[lost.id].missing and not by_id[lost.id].ok
    assert project.clip(lost.id).missing
    gone.mkdir()  # a folder where the file was is not the file either
    assert project.clip(lost.id).missing


def test_touched_but_same_content_is_not_missing_changed_content_is(project, files_dir):
    f = write_file(files_dir / "a.mp4", size=3000)
    clip, _ = project.add_clip(f, media_info(f))
    os.utime(f, (time.time() + 100, time.time() + 100))  # copied back, same bytes
    assert not project.clip(clip.id).missing
    write_file(f, size=3000, seed=9)  # same size, different bytes
    assert project.clip(clip.id).missing


def test_relink_refuses_another_clips_file_and_nothing(project, files_dir):
    a = write_file(files_dir / "a.mp4")
    b = write_file(files_dir / "b.mp4", seed=1)
    clip_a, _ = project.add_clip(a, media_info(a))
    clip_b, _ = project.add_clip(b, media_info(b))
    with pytest.raises(RelinkError) as err:
        project.relink(clip_a.id, b)
    assert str(b) in str(err.value) and f"id {clip_b.id}" in str(err.value)
    assert isinstance(err.value, ValueError)  # the bin catches ValueError
    with pytest.raises(RelinkError, match="file not found") as err:
        project.relink(clip_a.id, files_dir / "nothing.mp4")
    assert str(files_dir / "nothing.mp4") in str(err.value)
    with pytest.raises(RelinkError, match="a folder"):
        project.relink(clip_a.id, files_dir)
    assert project.clip(clip_a.id).path == str(a)
    with pytest.raises(UnknownIdError):
        project.relink(9999, a)


def test_find_moved_finds_a_missing_clips_file_elsewhere(project, files_dir, tmp_path):
    a = write_file(files_dir / "a.mp4", size=5000)
    b = write_file(files_dir / "b.mp4", size=5000, seed=1)
    clip_a, _ = project.add_clip(a, media_info(a))
    clip_b, _ = project.add_clip(b, media_info(b))
    new_home = tmp_path / "new" / "deeper"
    new_home.mkdir(parents=True)
    a.rename(new_home / "renamed.mp4")
    write_file(tmp_path / "new" / "decoy.mp4", size=5000, seed=2)  # same size, other bytes
    found = project.find_moved([tmp_path / "new"])
    assert found == {clip_a.id: new_home / "renamed.mp4"}
    assert clip_b.id not in found


def test_set_in_out_accepts_valid_marks(project, files_dir):
    f = write_file(files_dir / "a.mp4")
    clip, _ = project.add_clip(f, media_info(f, frame_count=10))
    assert (project.set_in_out(clip.id, 0, 9).in_frame, project.clip(clip.id).out_frame) == (0, 9)
    assert project.set_in_out(clip.id, 4, 4).out_frame == 4
    only_in = project.set_in_out(clip.id, 3, None)
    assert (only_in.in_frame, only_in.out_frame) == (3, None)
    cleared = project.set_in_out(clip.id, None, None)
    assert (cleared.in_frame, cleared.out_frame) == (None, None)


@pytest.mark.parametrize("in_frame, out_frame, field", [
    (-1, 5, "in_frame"),
    (0, -2, "out_frame"),
    (10, None, "in_frame"),  # past the last frame (9)
    (0, 10, "out_frame"),
    (6, 5, "in_frame"),
    (1.5, None, "in_frame"),
    (None, "7", "out_frame"),
    (True, None, "in_frame"),
])
def test_set_in_out_rejects_bad_marks_naming_the_field(project, files_dir, in_frame, out_frame, field):
    f = write_file(files_dir / "a.mp4")
    clip, _ = project.add_clip(f, media_info(f, frame_count=10))
    project.set_in_out(clip.id, 1, 8)
    with pytest.raises(ValueError, match=field):
        project.set_in_out(clip.id, in_frame, out_frame)
    kept = project.clip(clip.id)
    assert (kept.in_frame, kept.out_frame) == (1, 8)


def test_unknown_clip_ids(project):
    with pytest.raises(UnknownIdError, match="no clip with id 42"):
        project.clip(42)
    with pytest.raises(UnknownIdError):
        project.set_in_out(42, None, None)
    with pytest.raises(LookupError):
        project.add_caption(42, "text")


def test_remove_forgets_clips_and_captions_never_the_files(project, files_dir):
    a = write_file(files_dir / "a.mp4")
    b = write_file(files_dir / "b.mp4", seed=1)
    before = {p: file_state(p) for p in (a, b)}
    clip_a, _ = project.add_clip(a, media_info(a))
    clip_b, _ = project.add_clip(b, media_info(b))
    project.add_caption(clip_a.id, "first")
    project.add_caption(clip_a.id, "second", source="edit")
    gen = project.add_generation(project.generations_dir / "g.mp4", source_clip_id=clip_a.id)

    project.remove_clips([clip_a.id, 12345])
    assert [c.id for c in project.clips()] == [clip_b.id]
    assert project.clip_for_path(a) is None
    # Undo brings it back whole, captions included.
    assert [c.id for c in project.restore_clips([clip_a.id])] == [clip_a.id]
    assert [c.text for c in project.captions_for(clip_a.id)] == ["first", "second"]
    project.remove_clips([clip_a.id, clip_b.id])
    assert project.clips() == []
    # Re-importing a removed file revives it, and counts as new for the bin.
    again, created = project.add_clip(b, media_info(b))
    assert created and again.id == clip_b.id
    project.remove_clips([clip_b.id])

    root = project.root
    project.close()
    with Project(root) as reopened:  # the next session forgets removed clips for good
        assert reopened.clips() == []
        assert reopened._db.execute("SELECT count(*) FROM clips").fetchone()[0] == 0
        assert reopened._db.execute("SELECT count(*) FROM captions").fetchone()[0] == 0
        assert reopened.generation(gen.id).source_clip_id is None  # the generation stays
    assert {p: file_state(p) for p in (a, b)} == before


# --- captions, generations, jobs --------------------------------------------------------------


def test_a_caption_being_typed_is_kept_until_saved_or_dropped(tmp_path, files_dir):
    """The draft of a caption (what a person is typing) survives the process: a new Project
    on the same folder, as after a crash, finds it. One per clip; a removed clip's goes with
    it."""
    f = write_file(files_dir / "a.mp4")
    g = write_file(files_dir / "b.mp4", seed=1)
    with Project(tmp_path / "proj") as project:
        clip, _ = project.add_clip(f, media_info(f))
        other, _ = project.add_clip(g, media_info(g))
        assert project.caption_draft(clip.id) is None
        project.set_caption_draft(clip.id, "A cat")
        project.set_caption_draft(clip.id, "A cat on a so")
        project.set_caption_draft(other.id, "A dog")
        project.set_caption_draft(9999, "nobody's")  # no such clip: ignored
        assert project.caption_draft(9999) is None
    with Project(tmp_path / "proj") as project:  # the process ended without saving
        assert project.caption_draft(clip.id) == "A cat on a so"
        assert project.current_caption(clip.id) is None  # a draft is not a version
        project.clear_caption_draft(clip.id)
        assert project.caption_draft(clip.id) is None
        project.remove_clips([other.id])
    with Project(tmp_path / "proj") as project:  # removed clips are forgotten on open
        assert project.caption_draft(other.id) is None


def test_a_panels_state_is_kept_by_name(tmp_path):
    with Project(tmp_path / "proj") as project:
        assert project.panel_state("generate") is None
        project.save_panel_state("generate", {"prompt": "a boat", "steps": 8})
        project.save_panel_state("generate", {"prompt": "a paper boat", "steps": 8})
        project.save_panel_state("other", {"x": [1, 2]})
    with Project(tmp_path / "proj") as project:
        assert project.panel_state("generate") == {"prompt": "a paper boat", "steps": 8}
        assert project.panel_state("other") == {"x": [1, 2]}


def test_caption_history(project, files_dir):
    f = write_file(files_dir / "a.mp4")
    clip, _ = project.add_clip(f, media_info(f))
    assert project.current_caption(clip.id) is None and project.captions_for(clip.id) == []

    first = project.add_caption(clip.id, "A cat on a sofa.", model="smolvlm2-256m",
                                prompt="Describe the video.", params={"max_new_tokens": 64})
    edited = project.add_caption(clip.id, "A grey cat asleep on a sofa.", source="edit")
    same = project.add_caption(clip.id, "A grey cat asleep on a sofa.", source="edit")
    assert same.id == edited.id  # an edit that changes nothing adds no version

    history = project.captions_for(clip.id)
    assert [(c.text, c.source) for c in history] == [
        ("A cat on a sofa.", "model"), ("A grey cat asleep on a sofa.", "edit")]
    assert history[0].model == "smolvlm2-256m" and history[0].params == {"max_new_tokens": 64}
    assert history[0].prompt == "Describe the video."
    assert project.current_caption(clip.id) == edited
    assert first.created_at <= edited.created_at

    again = project.add_caption(clip.id, "A cat on a sofa.", model="smolvlm2-256m")
    assert project.current_caption(clip.id) == again and len(project.captions_for(clip.id)) == 3
    with pytest.raises(ValueError, match="source"):
        project.add_caption(clip.id, "x", source="guess")

    # Undoing an edit removes exactly that version; the one before is current again.
    project.remove_caption(again.id)
    assert project.current_caption(clip.id) == edited and len(project.captions_for(clip.id)) == 2
    project.remove_caption(again.id)  # already gone: nothing happens
    assert len(project.captions_for(clip.id)) == 2


def test_generations_are_stored_relative_to_a_movable_project(tmp_path, files_dir):
    f = write_file(files_dir / "a.mp4")
    with Project(tmp_path / "proj") as p:
        clip, _ = p.add_clip(f, media_info(f))
        out = p.generations_dir / "0001.mp4"
        gen = p.add_generation(out, {"steps": 8, "seed": 42}, kind="v2v", model="ltx-2b",
                               prompt="a cat", info=media_info(out, frame_count=25),
                               source_clip_id=clip.id)
        outside = p.add_generation(tmp_path / "elsewhere.mp4")
        assert gen.path == str(out) and gen.params == {"steps": 8, "seed": 42}
    (tmp_path / "proj").rename(tmp_path / "moved")
    with Project(tmp_path / "moved") as p:
        moved = p.generation(gen.id)
        assert moved.path == str(tmp_path / "moved" / "generations" / "0001.mp4")
        assert (moved.kind, moved.model, moved.prompt, moved.source_clip_id) == (
            "v2v", "ltx-2b", "a cat", clip.id)
        assert moved.info.frame_count == 25
        assert p.generation(outside.id).path == str(tmp_path / "elsewhere.mp4")
        assert [g.id for g in p.generations()] == [gen.id, outside.id]
        with pytest.raises(UnknownIdError):
            p.generation(999)


def test_job_queue_order_and_states(project):
    a = project.add_job("caption", {"clip_id": 1})
    b = project.add_job("generate", {"prompt": "a cat"})
    c = project.add_job("export")
    assert [j.id for j in project.jobs()] == [a.id, b.id, c.id]
    assert a.state == "queued" and a.params == {"clip_id": 1}
    assert project.next_job().id == a.id

    project.reorder_jobs([c.id])
    assert [j.id for j in project.jobs()] == [c.id, a.id, b.id]

    running = project.set_job_state(c.id, "running")
    assert running.started_at is not None and running.finished_at is None
    failed = project.set_job_state(c.id, "failed", error="out of memory")
    assert failed.error == "out of memory" and failed.finished_at >= failed.started_at
    assert project.next_job().id == a.id
    assert [j.id for j in project.jobs(states=["failed"])] == [c.id]
    with pytest.raises(ValueError, match="state"):
        project.set_job_state(a.id, "exploded")
    with pytest.raises(UnknownIdError):
        project.job(999)


def test_job_edit_remove_requeue_and_kind(project):
    cap = project.add_job("caption")
    a = project.add_job("generate", {"prompt": "a cat", "seed": 1})
    b = project.add_job("generate", {"prompt": "a dog", "seed": 2})
    assert project.next_job("generate").id == a.id and project.next_job().id == cap.id
    assert project.update_job_params(a.id, {"prompt": "a lion", "seed": 1}).params["prompt"] == \
        "a lion"
    project.set_job_state(a.id, "running")
    with pytest.raises(ProjectError, match="only a queued job"):
        project.update_job_params(a.id, {"prompt": "too late"})
    with pytest.raises(ProjectError, match="cancel it first"):
        project.remove_job(a.id)
    with pytest.raises(ProjectError, match="already running"):
        project.requeue_job(a.id)
    project.set_job_state(a.id, "failed", error="boom")
    retried = project.requeue_job(a.id)
    assert retried.state == "queued" and retried.error is None and retried.started_at is None
    assert [j.id for j in project.jobs(states=["queued"])][-1] == a.id  # at the end
    assert project.next_job("generate").id == b.id
    project.remove_job(b.id)
    assert [j.id for j in project.jobs()] == [cap.id, a.id]
    with pytest.raises(UnknownIdError):
        project.remove_job(b.id)


def test_running_jobs_of_a_dead_process_come_back_interrupted(tmp_path):
    root = tmp_path / "p"
    code = ("import os, sys\n"
            "from studio.core.library import Project\n"
            "p = Project(sys.argv[1])\n"
            "j = p.add_job('generate', {'prompt': 'a cat'})\n"
            "p.add_job('generate', {'prompt': 'next'})\n"
            "p.set_job_state(j.id, 'running')\n"
            "os._exit(9)  # killed mid-run: no close, no cleanup\n")
    done = subprocess.run([sys.executable, "-c", code, str(root)], timeout=60)
    assert done.returncode == 9
    with Project(root) as p:
        running = p.jobs(states=["running"])
        assert [j.params["prompt"] for j in running] == ["a cat"]
        assert p.mark_interrupted_jobs() == [running[0].id]
        job = p.job(running[0].id)
        assert job.state == "interrupted" and "stopped" in job.error
        assert p.next_job("generate").params["prompt"] == "next"
        assert p.requeue_job(job.id).state == "queued"
        assert p.mark_interrupted_jobs() == []


def test_split_sql_keeps_statements_whole():
    assert library._split_sql("CREATE TABLE a (x TEXT DEFAULT 'p;q'); \n  SELECT 1;\n") == [
        "CREATE TABLE a (x TEXT DEFAULT 'p;q');", "SELECT 1;"]


# --- import and relink on real media (probe) ---------------------------------------------------


@pytest.fixture(scope="module")
def real_media(tmp_path_factory):
    folder = tmp_path_factory.mktemp("library-media")
    made = media_factory.build_media_set(folder, ["text", "directory"])
    made["video24"] = media_factory.make_video(folder / "video24.mp4", frames=24)
    made["video12"] = media_factory.make_video(folder / "video12.mp4", frames=12)
    return made


def test_import_file_probes_stamps_and_dedupes(project, real_media, tmp_path):
    video = media_factory.copy_media(real_media["video24"], tmp_path)
    before = file_state(video)
    clip, created = project.import_file(video)
    assert created and clip.ok and clip.error is None
    assert clip.info.frame_count == 24 and clip.info.kind == "video"
    assert (clip.size, clip.partial_hash) == (video.stat().st_size, stamp(video).partial_hash)
    again, created = project.import_file(video)
    assert not created and again.id == clip.id and len(project.clips()) == 1
    project.remove_clips([clip.id])
    assert file_state(video) == before  # Studio never writes to a user's file


def test_import_file_records_unusable_files(project, real_media):
    clip, created = project.import_file(real_media["text"])
    assert created and clip.info is None and not clip.ok
    assert clip.error_kind == media_factory.EXPECTED_ERRORS["text"]
    assert str(real_media["text"]) in clip.error


def test_import_file_refuses_what_is_not_a_file(project, real_media, files_dir):
    with pytest.raises(MissingFileError) as err:
        project.import_file(files_dir / "nothing.mp4")
    assert str(files_dir / "nothing.mp4") in str(err.value)
    with pytest.raises(NotMediaError):
        project.import_file(real_media["directory"])
    assert project.clips() == []


def test_inspect_in_a_worker_then_add_in_the_owning_thread(project, real_media):
    import threading

    found = []
    worker = threading.Thread(target=lambda: found.append(library.inspect_file(real_media["video12"])))
    worker.start()
    worker.join()
    clip, created = project.add_clip(found[0].path, found[0].info, found[0].error, found[0].stamp)
    assert created and clip.info.frame_count == 12 and not clip.missing


def test_relink_keeps_id_marks_and_captions(project, real_media, tmp_path):
    video = media_factory.copy_media(real_media["video24"], tmp_path)
    clip, _ = project.import_file(video)
    project.set_in_out(clip.id, 2, 20)
    project.add_caption(clip.id, "a red square moves")
    moved = tmp_path / "elsewhere" / "renamed.mp4"
    moved.parent.mkdir()
    video.rename(moved)
    assert project.clip(clip.id).missing and [c.missing for c in project.clips()] == [True]

    relinked = project.relink(clip.id, moved)
    assert relinked.id == clip.id and relinked.path == str(moved)
    assert not relinked.missing and relinked.ok
    assert relinked.info.path == str(moved) and relinked.info.frame_count == 24
    assert (relinked.in_frame, relinked.out_frame) == (2, 20)
    assert [c.text for c in project.captions_for(clip.id)] == ["a red square moves"]
    assert [c.id for c in project.clips()] == [clip.id]


def test_relink_to_shorter_media_clears_marks_that_no_longer_fit(project, real_media, tmp_path):
    video = media_factory.copy_media(real_media["video24"], tmp_path)
    clip, _ = project.import_file(video)
    project.set_in_out(clip.id, 2, 20)
    video.unlink()
    shorter = media_factory.copy_media(real_media["video12"], tmp_path)
    relinked = project.relink(clip.id, shorter)
    assert relinked.info.frame_count == 12
    assert (relinked.in_frame, relinked.out_frame) == (None, None)


def test_relink_to_an_unusable_file_records_why(project, real_media, tmp_path):
    video = media_factory.copy_media(real_media["video24"], tmp_path)
    clip, _ = project.import_file(video)
    video.unlink()
    relinked = project.relink(clip.id, real_media["text"])
    assert relinked.id == clip.id and not relinked.missing and not relinked.ok
    assert relinked.info is None
    assert relinked.error_kind == media_factory.EXPECTED_ERRORS["text"]
    assert str(real_media["text"]) in relinked.error


def test_a_version_1_project_migrates_and_keeps_its_clips(tmp_path, files_dir):
    from studio.core.library import MIGRATIONS

    a = write_file(files_dir / "a.mp4")
    root = tmp_path / "old project"
    root.mkdir()
    raw = sqlite3.connect(root / "project.sqlite")
    raw.executescript(MIGRATIONS[0])
    raw.execute("INSERT INTO clips (path, size, mtime, partial_hash, in_frame, out_frame, added_at)"
                " VALUES (?, 1, 0, 'x', 2, 5, 0)", (str(a.resolve()),))
    raw.execute("PRAGMA user_version = 1")
    raw.commit()
    raw.close()
    with Project(root) as project:
        assert project.schema_version == SCHEMA_VERSION >= 2
        clips = project.clips()
        assert [(c.path, c.in_frame, c.out_frame) for c in clips] == [(str(a.resolve()), 2, 5)]
        project.remove_clips([clips[0].id])  # the column migration 2 added is usable
        assert project.clips() == []


# ---- file names that are not UTF-8 (issue 14, item 2) --------------------------------------

def test_a_file_name_that_is_not_utf8_is_a_clip_like_any_other(project, media, tmp_path):
    """Linux takes any bytes in a name; Python gives such a name with surrogate escapes, which
    SQLite text cannot hold (it raised UnicodeEncodeError and stopped the whole import)."""
    import shutil

    folder = os.fsencode(tmp_path / "in")
    os.mkdir(folder)
    bad = os.fsdecode(os.path.join(folder, b"bad\xff name.mp4"))
    shutil.copyfile(media["h264_cfr"], bad)
    good = os.path.join(os.fsdecode(folder), "good.mp4")
    shutil.copyfile(media["h264_cfr"], good)
    clip, created = project.import_file(bad)
    assert created and clip.path == bad and not clip.missing and clip.info is not None
    assert project.import_file(good)[1]
    assert project.clip_for_path(bad).id == clip.id
    assert project.import_file(bad) == (project.clip(clip.id), False)  # the same clip again
    assert [c.path for c in project.clips()] == [bad, good]
    root = project.root
    project.close()
    with Project(root) as again:  # stored as it was
        assert [c.path for c in again.clips()] == [bad, good]
        assert not again.clips()[0].missing


@pytest.mark.parametrize("name", ["plain.mp4", "é ü 漢字.mp4", "fsbytes:odd.mp4"])
def test_paths_that_are_utf8_are_stored_as_they_are(name):
    path = f"/videos/{name}"
    assert library.db_path(path) == path and library.os_path(path) == path


def test_the_stored_form_of_a_bytes_name_goes_back_to_the_same_name():
    path = os.fsdecode(b"/videos/\xff\xfe%41 fsbytes:.mp4")
    stored = library.db_path(path)
    stored.encode("utf-8")  # SQLite can hold it
    assert stored != path and library.os_path(stored) == path
    assert library.display_path(path) == "/videos/\ufffd\ufffd%41 fsbytes:.mp4"


# ---- database faults (issue 14, item 3) -----------------------------------------------------

def test_a_damaged_index_page_is_refused_at_open_and_left_untouched(tmp_path, files_dir):
    """It opened silently; imports then failed with "database disk image is malformed"."""
    root = tmp_path / "proj"
    with Project(root) as p:
        for i in range(40):
            f = write_file(files_dir / f"clip{i:02d}.mp4", seed=i)
            p.add_clip(f, media_info(f))
    db = root / "project.sqlite"
    conn = sqlite3.connect(db)
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    (rootpage,) = conn.execute("SELECT rootpage FROM sqlite_master WHERE type = 'index' AND "
                               "tbl_name = 'clips' LIMIT 1").fetchone()
    conn.close()
    data = bytearray(db.read_bytes())
    start = (rootpage - 1) * page_size
    data[start + 8:start + page_size] = bytes(range(256)) * ((page_size - 8) // 256)
    db.write_bytes(bytes(data))
    before = db.read_bytes()
    with pytest.raises(library.DamagedProjectError) as info:
        Project(root)
    assert "damaged" in str(info.value) and str(root) in str(info.value)
    assert db.read_bytes() == before  # never rewritten


def test_a_read_only_database_is_refused_before_any_write(tmp_path, monkeypatch):
    """It opened, then failed at close ("attempt to write a readonly database"). The test
    runs as root, who may write anything: the OS's answer is what is replaced."""
    root = tmp_path / "proj"
    Project(root).close()
    before = (root / "project.sqlite").read_bytes()
    real = os.access
    for blocked, what in ((root / "project.sqlite", "project.sqlite"), (root, "the folder")):
        monkeypatch.setattr(os, "access", lambda path, mode, blocked=blocked: (
            False if Path(path) == blocked and mode & os.W_OK else real(path, mode)))
        with pytest.raises(library.ReadOnlyProjectError) as info:
            Project(root)
        assert f"read-only ({what} cannot be written)" in str(info.value)
        assert "not a Studio project" not in str(info.value)
    assert (root / "project.sqlite").read_bytes() == before


def test_a_write_lock_held_too_long_is_a_message_not_a_traceback(tmp_path, monkeypatch):
    """Another process held the write lock past the wait: mark_interrupted_jobs raised
    sqlite3.OperationalError. Here another connection holds it; the wait is shortened."""
    monkeypatch.setattr(library, "LOCK_TIMEOUT_S", 0.2)
    root = tmp_path / "proj"
    Project(root).close()
    other = sqlite3.connect(root / "project.sqlite", isolation_level=None)
    try:
        with Project(root) as p:
            other.execute("BEGIN IMMEDIATE")  # taken after the open, which checks for it
            with pytest.raises(library.ProjectLockedError) as info:
                p.mark_interrupted_jobs()
            assert "busy" in str(info.value) and "nothing was changed" in str(info.value)
    finally:
        other.execute("ROLLBACK")
        other.close()
    with Project(root) as p:  # free again: it works
        assert p.mark_interrupted_jobs() == []


def test_what_killed_runs_left_is_cleaned_at_open_after_a_day(tmp_path):
    """Issue 14 item 8: a killed generation or export leaves a hidden .part file (17-32 MB
    each), never cleaned up. A day old: removed at the next open; fresh (a run of another
    Studio writing now): kept; anything else: never touched."""
    root = tmp_path / "proj"
    Project(root).close()
    day = 24 * 3600
    stale_file = root / "generations" / ".studio-export-abc.mp4.part"
    stale_dir = root / "exports" / ".studio-export-xyz.part"
    fresh = root / "generations" / ".studio-export-new.mp4.part"
    mine = root / "generations" / "notes.part"
    stale_dir.mkdir()
    (stale_dir / "frame_000000.png").write_bytes(b"x")
    for path in (stale_file, fresh, mine):
        path.write_bytes(b"half a video")
    old = time.time() - day - 60
    for path in (stale_file, stale_dir, mine):
        os.utime(path, (old, old))
    Project(root).close()
    assert not stale_file.exists() and not stale_dir.exists()
    assert fresh.exists() and mine.exists()


def test_add_clips_records_a_workers_batch_as_add_clip_would(project, tmp_path):
    """The bin's batches (one transaction): new clips are created, a known one (here removed
    earlier in the session) comes back, a file dropped twice is one clip, and each result is
    the clip ``Project.clip`` reads back."""
    paths = [media_factory.make_video(tmp_path / f"c{i}.mp4", frames=6 + i) for i in range(3)]
    old, _ = project.import_file(paths[0])
    project.remove_clips([old.id])
    found = [library.inspect_file(p) for p in (*paths, paths[1])]
    results = project.add_clips(found)
    assert [created for _, created in results] == [True, True, True, False]
    assert results[0][0].id == old.id  # revived, not a second row
    assert results[1][0].id == results[3][0].id
    assert [clip for clip, _ in results] == [project.clip(c.id) for c, _ in results]
    assert len(project.clips()) == 3
    assert project.add_clips([]) == []
