"""A copy of a project's database in a new folder, made by reading the original only: the
"make a copy" choice for a project that is damaged, read-only or busy (issue 14).

What is copied is ``project.sqlite`` alone, as SQLite's backup API makes it; a damaged one,
which the backup would copy damage and all, is read table by table and row by row instead
(``salvage``), keeping every row SQLite can still read. Nothing else is copied:

- the clips are referenced by path (they live where the person keeps them), so the copy
  refers to the same files;
- the generations under the original's ``generations/`` are the person's videos, often
  gigabytes: the copy keeps referring to them where they are (their paths, stored relative
  to the original folder, are made absolute in the copy) instead of duplicating them, which
  would make the copy slow and could fill the disk; the original folder is never written,
  so they stay there untouched. A person who wants them moved can move the folder and use
  the bin's relink as for any moved file;
- ``exports/`` holds files Studio wrote for the person and never reads back; the copy
  starts with an empty one, as does its ``thumbnails/`` cache.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from studio.core.library import (
    DB_NAME,
    LOCK_TIMEOUT_S,
    MIGRATIONS,
    DamagedProjectError,
    ProjectError,
    ProjectLockedError,
    connect_read_only,
    salvage,
)


def copy_project(source_root: str | Path, target_root: str | Path) -> Path:
    """Copy the project at ``source_root`` into the folder ``target_root`` (made if missing)
    and return that folder, where ``Project`` then opens the copy. The original is only read.

    The copy is written under a hidden temporary name and linked into place whole, so a
    Studio killed halfway leaves no project behind. Raises ``ProjectError`` when there is
    no project to copy or ``target_root`` already holds one (nothing is ever overwritten),
    ``DamagedProjectError`` when nothing can be read, ``ProjectLockedError`` when another
    program's lock keeps it from being read."""
    source = Path(source_root).expanduser().absolute()
    target = Path(target_root).expanduser().absolute()
    _refuse_copy(source, target)
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ProjectError(f"{target}: cannot create the folder for the copy "
                           f"({err.strerror or err})") from None
    temp = target / f".{DB_NAME}.{os.getpid()}.{os.urandom(4).hex()}.part"
    try:
        _copy_database(source, temp)
        _link_into_place(temp, target / DB_NAME)
    except sqlite3.OperationalError as err:
        if "locked" in str(err) or "busy" in str(err):
            raise ProjectLockedError(
                f"{source}: the project is busy: another program holds its lock, so it "
                "cannot be read now. Close that program, or wait, and try again.") from None
        raise ProjectError(f"{source}: cannot copy the project ({err})") from None
    except sqlite3.DatabaseError as err:
        raise DamagedProjectError(f"{source}: nothing could be read from {DB_NAME} ({err}); "
                                  "it was left untouched.") from None
    except OSError as err:
        raise ProjectError(f"{target}: cannot write the copy ({err.strerror or err})") from None
    finally:
        for suffix in ("", "-journal", "-wal", "-shm"):
            Path(f"{temp}{suffix}").unlink(missing_ok=True)
    return target


def _refuse_copy(source: Path, target: Path) -> None:
    source_db = source / DB_NAME
    if not source_db.is_file():
        raise ProjectError(f"{source}: there is no project to copy ({DB_NAME} is missing)")
    if source_db.stat().st_size == 0:
        raise DamagedProjectError(f"{source}: {DB_NAME} is empty (0 bytes); there is nothing "
                                  "to copy.")
    if target.exists() and not target.is_dir():
        raise ProjectError(f"{target}: cannot copy the project there (it is a file)")
    if os.path.lexists(target / DB_NAME):
        raise ProjectError(f"{target} already holds a project; choose another folder for the "
                           "copy (nothing was overwritten).")


def _copy_database(source: Path, temp: Path) -> None:
    """The original's database, read only, into the new file ``temp``: SQLite's backup when
    the result passes SQLite's check, else ``salvage``."""
    original = connect_read_only(source / DB_NAME, LOCK_TIMEOUT_S)
    try:
        version = original.execute("PRAGMA user_version").fetchone()[0]
        if version == 0 or version > len(MIGRATIONS):
            raise ProjectError(f"{source}: {DB_NAME} is not a project this Studio can copy "
                               f"(schema version {version})")
        copy = sqlite3.connect(temp, isolation_level=None)
        try:
            original.backup(copy)
            whole = _passes_check(copy)
        except sqlite3.DatabaseError:
            whole = False
        finally:
            copy.close()
        if not whole:  # damaged: the backup copied the damage too
            for suffix in ("", "-journal"):
                Path(f"{temp}{suffix}").unlink(missing_ok=True)
            copy = sqlite3.connect(temp, isolation_level=None)
            try:
                salvage(original, copy)
                if not _passes_check(copy):
                    raise DamagedProjectError(f"{source}: the copy of {DB_NAME} is damaged "
                                              "too; nothing was kept.")
            finally:
                copy.close()
    finally:
        original.close()
    _refer_to_original_generations(temp, source)


def _passes_check(conn: sqlite3.Connection) -> bool:
    return [row[0] for row in conn.execute("PRAGMA quick_check(1)")] == ["ok"]


def _refer_to_original_generations(database: Path, source: Path) -> None:
    """Generations stored relative to the original folder (inside it) become absolute paths
    into it (see the module's docstring); the copy leaves WAL mode for the plain journal,
    which ``Project`` turns back on when it opens the copy."""
    conn = sqlite3.connect(database, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = DELETE")
        rows = conn.execute("SELECT id, path FROM generations").fetchall()
        moved = [(str(source / path), gid) for gid, path in rows if not os.path.isabs(path)]
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany("UPDATE generations SET path = ? WHERE id = ?", moved)
        conn.execute("COMMIT")
    finally:
        conn.close()


def _link_into_place(temp: Path, database: Path) -> None:
    """``temp`` becomes ``database``, never replacing one made meanwhile."""
    try:
        os.link(temp, database)
    except FileExistsError:
        raise ProjectError(f"{database.parent} already holds a project; choose another folder "
                           "for the copy (nothing was overwritten).") from None
    except OSError:  # a file system without hard links
        if os.path.lexists(database):
            raise ProjectError(f"{database.parent} already holds a project; choose another "
                               "folder for the copy (nothing was overwritten).") from None
        os.replace(temp, database)
