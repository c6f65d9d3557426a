"""Issue 14, item 3: a project opened read-only, and a copy of a project made by reading it
only; with real SQLite files: a healthy one, one with a damaged page, one another program
holds the lock of, one whose folder cannot be written. The original is hashed before and after:
it is never rewritten."""

from __future__ import annotations

import hashlib
import inspect
import os
import sqlite3
from pathlib import Path

import pytest

from studio.core import library
from studio.core.library import Project, ReadOnlyProjectError
from studio.core.project_copy import copy_project
from tests.core.test_library import media_info, write_file


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def filled(tmp_path):
    """A project of 40 clips, each captioned, a draft, a generation inside the folder, a job,
    a panel's state; closed."""
    root = tmp_path / "proj"
    files = tmp_path / "media"
    files.mkdir()
    with Project(root) as p:
        for i in range(40):
            f = write_file(files / f"clip{i:02d}.mp4", seed=i)
            clip, _ = p.add_clip(f, media_info(f))
            p.add_caption(clip.id, f"caption {i}")
        p.set_caption_draft(1, "typing")
        p.add_generation(root / "generations" / "g.mp4", {"steps": 4}, prompt="a walk")
        p.add_job("generate", {"steps": 4})
        p.save_panel_state("generate", {"prompt": "kept"})
    return root


def damage_an_index(root: Path) -> None:
    """Overwrite the body of the clips' first index page in place (the file keeps its size):
    SQLite's check fails, the tables themselves still read."""
    db = root / "project.sqlite"
    conn = sqlite3.connect(db)
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    (rootpage,) = conn.execute("SELECT rootpage FROM sqlite_master WHERE type = 'index' AND "
                               "tbl_name = 'clips' LIMIT 1").fetchone()
    conn.close()
    data = bytearray(db.read_bytes())
    start = (rootpage - 1) * page_size
    data[start + 8:start + page_size] = (bytes(range(256)) * 64)[:page_size - 8]
    db.write_bytes(bytes(data))


def write_calls(project: Project, tmp_path: Path) -> dict:
    """Every write method of Project, called with arguments that would succeed."""
    f = write_file(tmp_path / "new.mp4", seed=99)
    calls = {
        "add_clip": lambda: project.add_clip(f),
        "import_file": lambda: project.import_file(f),
        "set_in_out": lambda: project.set_in_out(1, 0, 1),
        "remove_clips": lambda: project.remove_clips([1]),
        "restore_clips": lambda: project.restore_clips([1]),
        "relink": lambda: project.relink(1, f),
        "add_caption": lambda: project.add_caption(1, "new"),
        "remove_caption": lambda: project.remove_caption(1),
        "set_caption_draft": lambda: project.set_caption_draft(1, "more"),
        "clear_caption_draft": lambda: project.clear_caption_draft(1),
        "save_panel_state": lambda: project.save_panel_state("generate", {}),
        "add_generation": lambda: project.add_generation(project.generations_dir / "h.mp4"),
        "add_job": lambda: project.add_job("generate"),
        "set_job_state": lambda: project.set_job_state(1, "cancelled"),
        "update_job_params": lambda: project.update_job_params(1, {"steps": 8}),
        "remove_job": lambda: project.remove_job(1),
        "requeue_job": lambda: project.requeue_job(1),
        "reorder_jobs": lambda: project.reorder_jobs([1]),
    }
    calls["add_clips"] = lambda: project.add_clips([library.inspect_file(f)])  # the bin's
    return calls


def test_every_write_method_is_covered(tmp_path):
    """A write method added later is refused too: it is in write_calls (all but the queue's
    start-up, which writes nothing on a read-only project: see below)."""
    writers = {name for name, member in inspect.getmembers(Project, inspect.isfunction)
               if not name.startswith("_") and "self._write()" in inspect.getsource(member)}
    writers.discard("mark_interrupted_jobs")
    with Project(tmp_path / "p") as p:
        assert writers <= set(write_calls(p, tmp_path))


def test_read_only_reads_everything_and_refuses_every_write(filled, tmp_path):
    before = digest(filled / "project.sqlite")
    with Project(filled, read_only=True) as p:
        assert p.read_only and p.damage is None
        assert len(p.clips()) == 40 and p.clip(3).name == "clip02.mp4"
        assert p.clip_for_path(tmp_path / "media" / "clip05.mp4").id == 6
        assert p.current_caption(7).text == "caption 6"
        assert [c.text for c in p.captions_for(1)] == ["caption 0"]
        assert p.caption_draft(1) == "typing"
        assert p.panel_state("generate") == {"prompt": "kept"}
        (generation,) = p.generations()
        assert generation.path == str(filled / "generations" / "g.mp4")
        assert [j.kind for j in p.jobs()] == ["generate"] and p.next_job().id == 1
        statements = []
        p._conn.set_trace_callback(statements.append)  # SQLite's own record of what ran
        for name, call in write_calls(p, tmp_path).items():
            with pytest.raises(ReadOnlyProjectError) as info:
                call()
            assert f"{filled} is open read-only: " in str(info.value), name
            assert "nothing was changed" in str(info.value), name
        assert statements == []  # refused before touching the database
        assert p.mark_interrupted_jobs() == []  # the queue's start-up: nothing to write
    assert digest(filled / "project.sqlite") == before


def test_a_read_only_folder_opens_immutable_and_creates_nothing(filled, monkeypatch):
    """The folder cannot be written (faked: the tests run as root, who may write anything):
    no -wal or -shm file is made, no folder, no clean-up; the session's reason says why."""
    (filled / "thumbnails").rmdir()
    stale = filled / "generations" / ".studio-export-old.mp4.part"
    stale.write_bytes(b"x")
    os.utime(stale, (0, 0))
    listing = sorted(p.name for p in filled.rglob("*"))
    real = os.access
    monkeypatch.setattr(os, "access", lambda path, mode: (
        False if Path(path) == filled and mode & os.W_OK else real(path, mode)))
    with pytest.raises(ReadOnlyProjectError):
        Project(filled)
    with Project(filled, read_only=True) as p:
        assert len(p.clips()) == 40
        assert p.read_only_reason == "the folder cannot be written"
        with pytest.raises(ReadOnlyProjectError, match="the folder cannot be written"):
            p.add_caption(1, "x")
    assert sorted(p.name for p in filled.rglob("*")) == listing


def test_a_damaged_database_opens_read_only_and_is_never_rewritten(filled, tmp_path):
    damage_an_index(filled)
    db = filled / "project.sqlite"
    before = digest(db)
    with pytest.raises(library.DamagedProjectError) as info:
        Project(filled)
    assert info.value.readable
    with Project(filled, read_only=True) as p:
        assert p.damage.startswith("project.sqlite is damaged (SQLite's check: ")
        assert "*** in database" not in p.damage
        assert len(p.clips()) == 40  # what could be read, which here is everything
        assert p.clip_for_path(tmp_path / "media" / "clip05.mp4").id == 6  # not the bad index
        assert p.current_caption(40).text == "caption 39"
        assert len(p.generations()) == 1
        with pytest.raises(ReadOnlyProjectError, match="is open read-only: project.sqlite is "
                                                       "damaged"):
            p.set_in_out(1, 0, 1)
    assert digest(db) == before


def test_an_unreadable_database_is_still_refused(filled):
    """A file with SQLite's header and garbage after it, and an empty file: nothing can be
    read, so they are refused read-only too, and left as they were."""
    db = filled / "project.sqlite"
    db.write_bytes(b"SQLite format 3\0" + os.urandom(8192))
    before = digest(db)
    with pytest.raises(library.ProjectError) as info:
        Project(filled, read_only=True)
    assert str(filled) in str(info.value)
    assert digest(db) == before
    db.write_bytes(b"")
    with pytest.raises(library.DamagedProjectError, match="empty") as info:
        Project(filled, read_only=True)
    assert not info.value.readable


def test_a_locked_project_is_found_at_open_and_opens_read_only(filled):
    """Another program holds the write lock: the writable open says so at once (instead of
    at the first change, ten seconds later); the read-only open reads beside it."""
    other = sqlite3.connect(filled / "project.sqlite", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(library.ProjectLockedError, match="busy"):
            Project(filled, lock_timeout_s=0.1)
        with Project(filled, read_only=True, lock_timeout_s=0.1) as p:
            assert len(p.clips()) == 40
            assert p.read_only_reason == "it was opened read-only, as asked"
    finally:
        other.execute("ROLLBACK")
        other.close()
    with Project(filled) as p:
        assert not p.read_only


def test_a_worker_connection_beside_a_read_only_session_is_read_only(filled):
    """An import task or a generation opens its own connection (forget_removed=False): beside
    a read-only session it must not write either."""
    with Project(filled, read_only=True):
        with Project(filled, forget_removed=False) as worker:
            assert worker.read_only
            with pytest.raises(ReadOnlyProjectError):
                worker.add_job("generate")
    with Project(filled, forget_removed=False) as worker:
        assert not worker.read_only


def test_an_older_schema_cannot_be_opened_read_only(tmp_path):
    root = tmp_path / "old"
    root.mkdir()
    conn = sqlite3.connect(root / "project.sqlite")
    for statement in library._split_sql(library.MIGRATIONS[0]):
        conn.execute(statement)
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()
    with pytest.raises(library.ProjectError, match="older version of Studio"):
        Project(root, read_only=True)
    copy = copy_project(root, tmp_path / "copy")
    with Project(copy) as p:  # the copy is upgraded when it opens
        assert p.schema_version == len(library.MIGRATIONS)


# ---- make a copy ------------------------------------------------------------------------

def test_a_copy_holds_the_rows_and_opens_writable(filled, tmp_path):
    before = digest(filled / "project.sqlite")
    target = copy_project(filled, tmp_path / "copies" / "rescued")
    assert target == tmp_path / "copies" / "rescued"
    assert os.listdir(target) == ["project.sqlite"]  # no temporary file left, nothing else
    with Project(target) as p:
        assert not p.read_only
        assert len(p.clips()) == 40 and p.current_caption(40).text == "caption 39"
        assert p.caption_draft(1) == "typing"
        # the generation stays where it is, in the original folder
        assert p.generations()[0].path == str(filled / "generations" / "g.mp4")
        p.add_caption(1, "written in the copy")
    assert digest(filled / "project.sqlite") == before
    with Project(filled) as p:
        assert p.current_caption(1).text == "caption 0"


def test_a_copy_of_a_damaged_database_keeps_what_can_be_read(filled, tmp_path):
    damage_an_index(filled)
    before = digest(filled / "project.sqlite")
    target = copy_project(filled, tmp_path / "rescued")
    assert digest(filled / "project.sqlite") == before
    with Project(target) as p:  # passes SQLite's check: the index is rebuilt
        assert len(p.clips()) == 40
        assert p.clip_for_path(tmp_path / "media" / "clip05.mp4").id == 6
        assert len(p.generations()) == 1 and p.jobs()[0].kind == "generate"
        p.add_caption(2, "works")


def test_a_copy_never_replaces_a_project(filled, tmp_path):
    other = tmp_path / "other"
    with Project(other) as p:
        p.add_job("kept")
    before = digest(other / "project.sqlite")
    with pytest.raises(library.ProjectError, match="already holds a project"):
        copy_project(filled, other)
    with pytest.raises(library.ProjectError, match="already holds a project"):
        copy_project(filled, filled)
    assert digest(other / "project.sqlite") == before
    assert [n for n in os.listdir(other) if n.endswith(".part")] == []


def test_nothing_to_copy(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "project.sqlite").write_bytes(b"")
    with pytest.raises(library.DamagedProjectError, match="nothing to copy"):
        copy_project(empty, tmp_path / "copy")
    with pytest.raises(library.ProjectError, match="no project to copy"):
        copy_project(tmp_path / "nowhere", tmp_path / "copy")
    assert not (tmp_path / "copy" / "project.sqlite").exists()
