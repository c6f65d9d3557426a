"""The project library: a folder holding ``project.sqlite``, ``generations/``, ``exports/``
and ``thumbnails/``.

SQLite in WAL mode, schema versioned with ``PRAGMA user_version`` and forward migrations.
Clips are referenced by path, size, mtime and a partial hash; Studio never modifies or
deletes a file it did not write. A ``Project`` is used from one thread (the GUI thread in
the app); slow per-file work (probing, hashing) happens before ``add_clip`` in workers,
through ``inspect_file`` which needs no ``Project``.
"""

from __future__ import annotations

import json
import operator
import os
import sqlite3
import stat as stat_module
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

from studio.core.media import MediaError, MediaInfo, MissingFileError, NotMediaError, probe
from studio.core.paths import clean_stale_parts, db_path, display_path, os_path

DB_NAME = "project.sqlite"
PARTIAL_HASH_CHUNK = 64 * 1024

CAPTION_SOURCES = ("model", "edit")
JOB_STATES = ("queued", "running", "done", "failed", "cancelled", "interrupted")
# "interrupted": the job was running when Studio stopped (crashed or killed); it can be retried.
FINISHED_JOB_STATES = ("done", "failed", "cancelled", "interrupted")


class ProjectError(Exception):
    """A project folder or database Studio cannot use, or a request it refuses.
    ``str(err)`` is a complete message for a person."""


class DamagedProjectError(ProjectError):
    """The project's database is empty or damaged; Studio left it exactly as it was.
    ``readable``: SQLite may still read some of it (``Project(root, read_only=True)``,
    ``project_copy.copy_project``)."""

    readable = False


class ReadOnlyProjectError(ProjectError):
    """The project's database or folder cannot be written; nothing was tried."""


class ProjectLockedError(ProjectError):
    """Another program held the project's write lock for longer than Studio waits."""


# How long a write waits for another program's write lock before ProjectLockedError.
LOCK_TIMEOUT_S = 10.0
# One try of an open that shows its wait for a lock (the GUI's), over LOCK_TIMEOUT_S in all.
OPEN_LOCK_TRY_S = 0.25

# The roots of the projects open read-only in this process: a worker's connection beside one
# (``forget_removed=False``) is read-only too. A list: appends and removes are atomic.
_READ_ONLY_SESSIONS: list[Path] = []


def _read_only_here(root: Path) -> bool:
    return root in _READ_ONLY_SESSIONS


def connect_read_only(db: Path, timeout: float) -> sqlite3.Connection:
    """A connection to the SQLite file ``db`` that never writes it: ``mode=ro``, or
    ``immutable=1`` where the file or its folder cannot be written and no -wal file holds
    changes (SQLite could not make its -shm file there, nor lock); ``query_only`` on top."""
    wal = db.with_name(db.name + "-wal")
    try:
        wal_holds_changes = wal.stat().st_size > 0
    except OSError:
        wal_holds_changes = False
    writable = os.access(db, os.W_OK) and os.access(db.parent, os.W_OK)
    mode = "mode=ro" if writable or wal_holds_changes else "immutable=1"
    conn = sqlite3.connect(f"{db.absolute().as_uri()}?{mode}", uri=True, isolation_level=None,
                           timeout=timeout)
    try:
        conn.execute("PRAGMA query_only = ON")
    except BaseException:
        conn.close()
        raise
    return conn


class UnknownIdError(ProjectError, LookupError):
    """No clip, caption, generation or job with that id in this project."""


class RelinkError(ProjectError, ValueError):
    """``Project.relink`` refused: no usable file at the new path, or it is another clip."""


# ---------------------------------------------------------------------------------------
# File identity


class FileStamp(NamedTuple):  # immutable records are NamedTuples: made faster at import
    size: int
    mtime: float
    partial_hash: str  # hex blake2b of the size, the first and the last 64 KiB


def _partial_hash(f, size: int) -> str:
    import hashlib  # here, not at import: loading it (OpenSSL) slows start-up

    h = hashlib.blake2b(digest_size=16)
    h.update(size.to_bytes(8, "little"))
    h.update(f.read(PARTIAL_HASH_CHUNK))
    if size > PARTIAL_HASH_CHUNK:
        # Under 128 KiB the tail overlaps the head; still a function of the content.
        f.seek(size - PARTIAL_HASH_CHUNK)
        h.update(f.read(PARTIAL_HASH_CHUNK))
    return h.hexdigest()


def stamp(path: str | Path) -> FileStamp:
    """Size, mtime and a partial hash of ``path``. Reads at most 128 KiB, whatever the size.
    Raises ``OSError`` (``FileNotFoundError``, ``PermissionError``, ...) as ``open`` does."""
    with open(path, "rb") as f:
        st = os.fstat(f.fileno())
        return FileStamp(size=st.st_size, mtime=st.st_mtime, partial_hash=_partial_hash(f, st.st_size))


def _resolve(path: str | Path) -> Path:
    return Path(path).expanduser().resolve()




class FileInspection(NamedTuple):
    """What ``inspect_file`` learned: the resolved path, its stamp, and either the probe
    result or the ``MediaError`` saying why the file is not usable."""

    path: Path
    stamp: FileStamp
    info: MediaInfo | None
    error: MediaError | None


def inspect_file(path: str | Path) -> FileInspection:
    """Probe and stamp ``path``. Thread-safe and slow: run it in a worker, then hand the
    result to ``Project.add_clip`` in the thread that owns the project.

    Unusable media is reported in ``error``, not raised. Raises ``MediaError`` only when
    there is no file to record: ``MissingFileError`` for a path that does not exist,
    ``NotMediaError`` for a folder or device, ``MediaError`` when it cannot be opened.
    """
    resolved = _resolve(path)
    file_stamp = _stamp_or_media_error(resolved)
    try:
        info: MediaInfo | None = probe(resolved)
        error: MediaError | None = None
    except MediaError as err:
        info, error = None, err
    return FileInspection(resolved, file_stamp, info, error)


def _stamp_or_media_error(path: Path) -> FileStamp:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise MissingFileError(path) from None
    except OSError as err:
        raise MediaError(path, err.strerror or str(err)) from None
    if not stat_module.S_ISREG(st.st_mode):
        raise NotMediaError(path, "a folder" if stat_module.S_ISDIR(st.st_mode) else "not a regular file")
    try:
        return stamp(path)
    except FileNotFoundError:
        raise MissingFileError(path) from None
    except OSError as err:
        raise MediaError(path, err.strerror or str(err)) from None


def _stamp_or_placeholder(path: Path) -> tuple[FileStamp, MediaError | None]:
    """The file's stamp, or, when it cannot be read, what ``os.stat`` still tells (size -1
    when even that fails) with an empty hash, and the error saying why."""
    try:
        return _stamp_or_media_error(path), None
    except MediaError as err:
        try:
            st = os.stat(path)
            return FileStamp(st.st_size, st.st_mtime, ""), err
        except (OSError, ValueError):
            return FileStamp(-1, 0.0, ""), err


def _is_missing(path: str, size: int, mtime: float, partial_hash: str) -> bool:
    """Whether the file at ``path`` is no longer the one recorded. Never raises."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return True
    if not stat_module.S_ISREG(st.st_mode) or st.st_size != size:
        return True
    if st.st_mtime == mtime:
        return False
    # Touched (copied back, restored from a backup, ...): the content decides.
    try:
        return stamp(path).partial_hash != partial_hash
    except (OSError, ValueError):
        return True


# ---------------------------------------------------------------------------------------
# Records: snapshots of rows, immutable (NamedTuples, which are made faster than dataclasses
# when the module loads at start-up)


class Clip(NamedTuple):
    id: int
    path: str
    size: int
    mtime: float
    partial_hash: str
    info: MediaInfo | None  # None when the file is not usable media
    error: str | None  # the MediaError message when it is not
    error_kind: str | None  # the MediaError subclass name
    in_frame: int | None
    out_frame: int | None
    added_at: float
    missing: bool = False  # the file is gone or changed since import; see Project.relink

    @property
    def ok(self) -> bool:
        return self.info is not None and not self.missing

    @property
    def name(self) -> str:
        """The file name, for display."""
        return Path(self.path).name


class Caption(NamedTuple):
    """One version of a clip's caption. The newest version (highest id) is the current one."""

    id: int
    clip_id: int
    text: str
    source: str  # "model" (written by a captioner) or "edit" (typed by a person)
    model: str | None
    prompt: str | None
    params: dict
    created_at: float


class Generation(NamedTuple):
    id: int
    path: str  # absolute; stored relative to the project folder when inside it
    kind: str | None  # "t2v", "i2v", "v2v"
    model: str | None
    prompt: str | None
    params: dict
    info: MediaInfo | None
    source_clip_id: int | None  # None when there was none, or it was removed
    job_id: int | None
    created_at: float


class Job(NamedTuple):
    id: int
    kind: str
    params: dict
    state: str  # one of JOB_STATES
    position: int  # queue order, ascending
    created_at: float
    started_at: float | None
    finished_at: float | None
    error: str | None


# ---------------------------------------------------------------------------------------
# Schema. MIGRATIONS[i] takes a database from user_version i to i + 1. Only ever append.

_MIGRATION_1 = """
CREATE TABLE clips (
    id           INTEGER PRIMARY KEY,
    path         TEXT NOT NULL UNIQUE,
    size         INTEGER NOT NULL,
    mtime        REAL NOT NULL,
    partial_hash TEXT NOT NULL,
    info_json    TEXT,
    error        TEXT,
    error_kind   TEXT,
    in_frame     INTEGER,
    out_frame    INTEGER,
    added_at     REAL NOT NULL
);
CREATE INDEX clips_identity ON clips (size, partial_hash);

CREATE TABLE captions (
    id          INTEGER PRIMARY KEY,
    clip_id     INTEGER NOT NULL REFERENCES clips (id) ON DELETE CASCADE,
    text        TEXT NOT NULL,
    source      TEXT NOT NULL,
    model       TEXT,
    prompt      TEXT,
    params_json TEXT NOT NULL DEFAULT '{}',
    created_at  REAL NOT NULL
);
CREATE INDEX captions_by_clip ON captions (clip_id, id);

CREATE TABLE jobs (
    id          INTEGER PRIMARY KEY,
    kind        TEXT NOT NULL,
    params_json TEXT NOT NULL DEFAULT '{}',
    state       TEXT NOT NULL DEFAULT 'queued',
    position    INTEGER NOT NULL,
    created_at  REAL NOT NULL,
    started_at  REAL,
    finished_at REAL,
    error       TEXT
);
CREATE INDEX jobs_by_position ON jobs (position);

CREATE TABLE generations (
    id             INTEGER PRIMARY KEY,
    path           TEXT NOT NULL,
    kind           TEXT,
    model          TEXT,
    prompt         TEXT,
    params_json    TEXT NOT NULL DEFAULT '{}',
    info_json      TEXT,
    source_clip_id INTEGER REFERENCES clips (id) ON DELETE SET NULL,
    job_id         INTEGER REFERENCES jobs (id) ON DELETE SET NULL,
    created_at     REAL NOT NULL
);
CREATE INDEX generations_by_clip ON generations (source_clip_id);
"""

# Removing a clip hides it (undo can bring it back, captions and all); the next open of the
# project forgets hidden clips for good.
_MIGRATION_2 = """
ALTER TABLE clips ADD COLUMN removed_at REAL;
"""

# Work in progress, kept as it is done so that closing Studio, a crash or a killed process
# loses none of it: a caption being typed (one per clip, gone once it is saved as a version or
# thrown away), and what a panel holds (the Generate panel's settings and prompt, by name).
_MIGRATION_3 = """
CREATE TABLE caption_drafts (
    clip_id  INTEGER PRIMARY KEY REFERENCES clips (id) ON DELETE CASCADE,
    text     TEXT NOT NULL,
    saved_at REAL NOT NULL
);
CREATE TABLE panel_states (
    name       TEXT PRIMARY KEY,
    state_json TEXT NOT NULL,
    saved_at   REAL NOT NULL
);
"""

MIGRATIONS: list[str] = [_MIGRATION_1, _MIGRATION_2, _MIGRATION_3]
SCHEMA_VERSION = len(MIGRATIONS)  # of this code; the code reads len(MIGRATIONS) so tests can extend it

_CLIP_COLUMNS = ("id, path, size, mtime, partial_hash, info_json, error, error_kind, "
                 "in_frame, out_frame, added_at")
_CAPTION_COLUMNS = "id, clip_id, text, source, model, prompt, params_json, created_at"
_GENERATION_COLUMNS = ("id, path, kind, model, prompt, params_json, info_json, source_clip_id, "
                       "job_id, created_at")
_JOB_COLUMNS = ("id, kind, params_json, state, position, created_at, started_at, finished_at, "
                "error")


def _info_to_json(info: MediaInfo | None) -> str | None:
    return None if info is None else json.dumps(info.to_dict())


def _info_from_json(text: str | None) -> MediaInfo | None:
    return None if text is None else MediaInfo.from_dict(json.loads(text))


def _frame_arg(name: str, value) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a frame number, got {value!r}")
    try:
        number = operator.index(value)
    except TypeError:
        raise ValueError(f"{name} must be a whole frame number, got {value!r}") from None
    if number < 0:
        raise ValueError(f"{name} must be 0 or more, got {number}")
    return number


def _in_out_valid(info: MediaInfo | None, in_frame: int | None, out_frame: int | None) -> bool:
    try:
        _check_in_out(info, in_frame, out_frame)
    except ValueError:
        return False
    return True


def _check_in_out(info: MediaInfo | None, in_frame, out_frame) -> tuple[int | None, int | None]:
    in_frame = _frame_arg("in_frame", in_frame)
    out_frame = _frame_arg("out_frame", out_frame)
    if info is not None and info.frame_count > 0:
        last = info.frame_count - 1
        if in_frame is not None and in_frame > last:
            raise ValueError(f"in_frame {in_frame} is past the last frame ({last})")
        if out_frame is not None and out_frame > last:
            raise ValueError(f"out_frame {out_frame} is past the last frame ({last})")
    if in_frame is not None and out_frame is not None and in_frame > out_frame:
        raise ValueError(f"in_frame {in_frame} is after out_frame {out_frame}")
    return in_frame, out_frame


# ---------------------------------------------------------------------------------------


class Project:
    """An open project folder. Create it with ``Project(root)``; it makes what is missing.

    Use from one thread. Every write is a short transaction of its own.
    """

    def __init__(self, root: str | Path, *, forget_removed: bool = True, read_only: bool = False,
                 lock_timeout_s: float | None = None):
        """``forget_removed``: delete clips removed in an earlier session (no undo can reach
        them any more). A second connection opened beside a live one, as a worker's, passes
        False so that it does not take away what the live session can still undo; it also
        skips the checks the session's open made (the database's quick check, cleaning up
        what killed runs left), which would repeat for every import task and generation, and
        it is read-only when the session beside it in this process is.

        ``read_only``: open without ever writing (see ``_open_read_only``); every write
        method then raises ``ReadOnlyProjectError`` before touching the database.
        ``lock_timeout_s``: how long the open waits for another program's lock (default
        ``LOCK_TIMEOUT_S``, which later writes wait in any case)."""
        self.root = Path(root).expanduser().absolute()
        self._forget_removed_on_open = forget_removed
        self.db_path = self.root / DB_NAME
        self.generations_dir = self.root / "generations"
        self.exports_dir = self.root / "exports"
        self.thumbnails_dir = self.root / "thumbnails"
        self._conn: sqlite3.Connection | None = None
        self._lock_timeout_s = LOCK_TIMEOUT_S if lock_timeout_s is None else lock_timeout_s
        # A worker's connection beside a read-only session is read-only too.
        self.read_only = read_only or (not forget_removed and _read_only_here(self.root))
        self.read_only_reason = ""  # why, for ReadOnlyProjectError's message
        self.damage: str | None = None  # what SQLite's check found, for a damaged project

        if self.root.exists() and not self.root.is_dir():
            raise ProjectError(f"{self.root}: not a project folder (it is a file)")
        if self.db_path.exists() and not self.db_path.is_file():
            raise ProjectError(f"{self.root}: not a Studio project ({DB_NAME} is not a file)")
        if self.read_only:
            self._conn = self._open_read_only()
            _READ_ONLY_SESSIONS.append(self.root)
        else:
            self._conn = self._open_writable()

    def _open_writable(self) -> sqlite3.Connection:
        self._refuse_unusable_file()
        try:
            for folder in (self.root, self.generations_dir, self.exports_dir, self.thumbnails_dir):
                folder.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise ProjectError(f"{self.root}: cannot create the project folder "
                               f"({err.strerror or err})") from None
        try:
            if not self.db_path.exists():
                self._create_database()
            # isolation_level=None: no implicit transactions; _write() opens them explicitly.
            conn = sqlite3.connect(self.db_path, isolation_level=None,
                                   timeout=self._lock_timeout_s)
        except sqlite3.Error as err:
            raise ProjectError(f"{self.root}: cannot open {DB_NAME} ({err})") from None
        if self._forget_removed_on_open:  # the session's own open; a worker's skips it
            for folder in (self.generations_dir, self.exports_dir):
                clean_stale_parts(folder)  # what killed generations and exports left
        self._closing_on_error(conn, self._open)
        conn.execute(f"PRAGMA busy_timeout = {int(LOCK_TIMEOUT_S * 1000)}")  # later writes
        return conn

    def _closing_on_error(self, conn: sqlite3.Connection, check):
        """``check(conn)``'s answer; when it raises, ``conn`` is closed first (an SQLite
        operational error raised as the project's own kind: locked, read-only, ...)."""
        try:
            return check(conn)
        except sqlite3.OperationalError as err:
            conn.close()
            raise self._sqlite_error(err) from None
        except BaseException:
            conn.close()
            raise

    def _open_read_only(self) -> sqlite3.Connection:
        """The database opened without ever writing it (``connect_read_only``): no folder
        made, no migration, no clean-up, no journal mode change, nothing forgotten. A damaged
        database SQLite can still read is read into memory at open, table by table
        (``project_copy.salvage``): what its damaged pages held is missing, and ``damage``
        says what SQLite's check found. One it cannot read at all raises as a writable open
        would."""
        if not self.db_path.is_file():
            raise ProjectError(f"{self.root}: there is no project to open ({DB_NAME} is "
                               "missing)")
        self._refuse_empty_file()
        unwritable = self._unwritable()
        try:
            conn = connect_read_only(self.db_path, self._lock_timeout_s)
        except sqlite3.Error as err:
            raise ProjectError(f"{self.root}: cannot open {DB_NAME} ({err})") from None
        conn = self._closing_on_error(conn, self._check_read_only)
        self.read_only_reason = (
            self.damage or (f"{unwritable} cannot be written" if unwritable else
                            "it was opened read-only, as asked"))
        return conn

    def _check_read_only(self, conn: sqlite3.Connection) -> sqlite3.Connection:
        """The checks of ``_open`` that only read; the connection to read from."""
        version = self._usable_version(conn)
        if version == 0:
            raise DamagedProjectError(f"{self.root}: {DB_NAME} holds no project (an empty "
                                      "SQLite database); it was left untouched.")
        if version < len(MIGRATIONS):
            raise ProjectError(
                f"{self.root}: this project was saved by an older version of Studio (schema "
                f"version {version}); opening it upgrades it, which writes it, so it cannot "
                "be opened read-only. Make a copy and open the copy.")
        conn.execute("PRAGMA foreign_keys = ON")
        if self._forget_removed_on_open:
            found = self._quick_check(conn)
            if found != ["ok"]:
                self.damage = (f"{DB_NAME} is damaged (SQLite's check: {found[0]}); what "
                               "could be read is shown")
                return self._read_into_memory(conn)
        return conn

    def _read_into_memory(self, conn: sqlite3.Connection) -> sqlite3.Connection:
        """What can be read of the damaged database behind ``conn`` (closed here), in an
        in-memory database that is queried instead of it."""
        memory = sqlite3.connect(":memory:", isolation_level=None)
        try:
            salvage(conn, memory)
            memory.execute("PRAGMA foreign_keys = ON")
            memory.execute("PRAGMA query_only = ON")
        except sqlite3.DatabaseError as err:
            memory.close()
            raise DamagedProjectError(
                f"{self.root}: {DB_NAME} is damaged beyond reading ({err}); it was left "
                "untouched. Open a backup of the folder, or start a new project elsewhere.") \
                from None
        finally:
            conn.close()
        return memory

    def _create_database(self) -> None:
        """A new project's database, built whole under a hidden temporary name and linked into
        place: a Studio killed while creating one never leaves an empty project.sqlite (which
        is refused as damaged). Two Studios creating it at once: the first link wins, the
        other opens that one."""
        temp = self.root / f".{DB_NAME}.{os.getpid()}.{os.urandom(4).hex()}.part"
        try:
            conn = sqlite3.connect(temp, isolation_level=None, timeout=LOCK_TIMEOUT_S)
            try:
                self._migrate(conn)
            finally:
                conn.close()
            try:
                os.link(temp, self.db_path)
            except FileExistsError:
                pass  # another Studio made it first
            except OSError:  # a file system without hard links
                if not self.db_path.exists():
                    os.replace(temp, self.db_path)
        except sqlite3.Error as err:
            raise ProjectError(f"{self.root}: cannot create {DB_NAME} ({err})") from None
        finally:
            temp.unlink(missing_ok=True)

    def _refuse_unusable_file(self) -> None:
        """Before SQLite touches anything: an empty database file is not a new project (it
        was one once, or something else wrote it), and a database or folder that cannot be
        written would fail at the first write, halfway through the session."""
        self._refuse_empty_file()
        unwritable = self._unwritable()
        if unwritable:
            raise ReadOnlyProjectError(
                f"{self.root}: the project is read-only ({unwritable} cannot be written), and "
                "Studio writes every change as it happens. Open it read-only, make it "
                "writable, or make a copy somewhere you can write and open the copy.")

    def _unwritable(self) -> str | None:
        """What cannot be written, the database file or the folder ("" when both can)."""
        for what, path in ((DB_NAME, self.db_path), ("the folder", self.root)):
            if path.exists() and not os.access(path, os.W_OK):
                return what
        return ""

    def _refuse_empty_file(self) -> None:
        try:
            size = self.db_path.stat().st_size if self.db_path.exists() else None
        except OSError as err:
            raise ProjectError(f"{self.root}: cannot read {DB_NAME} ({err.strerror or err})") \
                from None
        if size == 0:
            raise DamagedProjectError(
                f"{self.root}: {DB_NAME} is empty (0 bytes), so there is no project in it; it "
                "was left untouched. Move it away to start a new project in this folder, or "
                "open another folder.")

    def _sqlite_error(self, err: sqlite3.Error) -> ProjectError:
        """SQLite's error as a message naming the project and what to do."""
        text = str(err)
        if "locked" in text or "busy" in text:
            return ProjectLockedError(
                f"{self.root}: the project is busy: another program (another Studio?) has "
                f"been writing to it for more than {self._lock_timeout_s:g} s. Close it, or wait, "
                "and try again; nothing was changed.")
        if "readonly" in text or "read-only" in text:
            return ReadOnlyProjectError(f"{self.root}: the project is read-only ({text}).")
        if "malformed" in text or "corrupt" in text or "not a database" in text:
            err = DamagedProjectError(f"{self.root}: {DB_NAME} is damaged ({text}).")
            err.readable = "not a database" not in text
            return err
        return ProjectError(f"{self.root}: cannot use {DB_NAME} ({text})")

    def _usable_version(self, conn: sqlite3.Connection) -> int:
        """The schema version of a database Studio can use (the checks that only read, before
        any write: journal_mode changes the file header, so a database Studio cannot use is
        left exactly as it was); ProjectError for another program's or a newer Studio's."""
        try:
            # The first read makes SQLite look at the file header.
            version = conn.execute("PRAGMA user_version").fetchone()[0]
        except sqlite3.OperationalError:
            raise
        except sqlite3.DatabaseError as err:
            raise ProjectError(f"{self.root}: not a Studio project ({DB_NAME} is not an "
                               f"SQLite database: {err})") from None
        self._refuse_future(version)
        self._refuse_foreign(conn, version)
        return version

    def _open(self, conn: sqlite3.Connection) -> None:
        version = self._usable_version(conn)
        if version and self._forget_removed_on_open:  # once a session, not on each worker's
            self._refuse_damaged(conn)
        try:
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")  # durable enough with WAL, much faster
            self._migrate(conn)
            if self._forget_removed_on_open:
                self._take_write_lock_once(conn)
        except sqlite3.OperationalError:
            raise
        except sqlite3.DatabaseError as err:
            raise ProjectError(f"{self.root}: cannot use {DB_NAME} ({err})") from None

    def _refuse_damaged(self, conn: sqlite3.Connection) -> None:
        """SQLite's quick check of every page (milliseconds for a project of thousands of
        clips): a damaged database is refused at open, not discovered by a failing import."""
        found = self._quick_check(conn)
        if found != ["ok"]:
            err = DamagedProjectError(
                f"{self.root}: {DB_NAME} is damaged (SQLite's check: {found[0]}); it was left "
                "untouched. Open it read-only, make a copy (which keeps what can still be "
                "read), or start a new project elsewhere and import the clips again (the "
                "media files themselves are not affected).")
            err.readable = True
            raise err

    @staticmethod
    def _quick_check(conn: sqlite3.Connection) -> list[str]:
        """SQLite's quick check: ["ok"], or what it found wrong (at most five lines)."""
        try:
            found = [row[0] for row in conn.execute("PRAGMA quick_check(5)")]
        except sqlite3.OperationalError:
            raise
        except sqlite3.DatabaseError as err:
            found = [str(err)]
        lines = [line for text in found for line in text.splitlines()
                 if line.strip() and not line.startswith("*** in database")]
        return lines or found

    @staticmethod
    def _take_write_lock_once(conn: sqlite3.Connection) -> None:
        """The session's open takes the write lock once, so that a lock another program
        holds is found now (ProjectLockedError: the person can wait, or open the project
        read-only) and not at the first change, halfway through the session. Under it, clips
        removed in an earlier session, which no undo can reach any more, are deleted (and, by
        cascade, their captions); an empty transaction writes nothing."""
        conn.execute("BEGIN IMMEDIATE")
        try:
            if conn.execute("SELECT 1 FROM clips WHERE removed_at IS NOT NULL LIMIT 1").fetchone():
                conn.execute("DELETE FROM clips WHERE removed_at IS NOT NULL")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def _refuse_future(self, version: int) -> None:
        if version > len(MIGRATIONS):
            raise ProjectError(
                f"{self.root}: this project was saved by a newer version of Studio (schema "
                f"version {version}; this Studio knows up to {len(MIGRATIONS)}). Open it with "
                f"that newer Studio; it was left untouched.")

    def _refuse_foreign(self, conn: sqlite3.Connection, version: int) -> None:
        if version == 0 and conn.execute(
                "SELECT count(*) FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'").fetchone()[0]:
            raise ProjectError(f"{self.root}: not a Studio project ({DB_NAME} is an SQLite "
                               "database made by something else; it was left untouched)")

    def _migrate(self, conn: sqlite3.Connection) -> None:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version == len(MIGRATIONS):
            return
        # IMMEDIATE takes the write lock at once, so two Studios opening the same new
        # project cannot both run a migration; the version is re-read under the lock.
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            self._refuse_future(version)
            self._refuse_foreign(conn, version)
            for number in range(version, len(MIGRATIONS)):
                for statement in _split_sql(MIGRATIONS[number]):
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {number + 1}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:  # some errors (disk full) already rolled it back
                conn.execute("ROLLBACK")
            raise

    # --- plumbing -----------------------------------------------------------------------

    @property
    def schema_version(self) -> int:
        return self._db.execute("PRAGMA user_version").fetchone()[0]

    @property
    def closed(self) -> bool:
        return self._conn is None

    @property
    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise ProjectError(f"{self.root}: the project is closed")
        return self._conn

    def _refuse_read_only(self) -> None:
        """Before any write (and before the slow work leading to one): a project open
        read-only is never written."""
        if self.read_only:
            raise ReadOnlyProjectError(
                f"{self.root} is open read-only: {self.read_only_reason}; nothing was changed. "
                "Make a copy of the project to work on it.")

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        self._refuse_read_only()
        conn = self._db
        try:
            conn.execute("BEGIN IMMEDIATE")  # waits LOCK_TIMEOUT_S for another writer
        except sqlite3.OperationalError as err:
            raise self._sqlite_error(err) from None
        try:
            yield conn
        except sqlite3.OperationalError as err:
            if conn.in_transaction:  # some errors (disk full) already rolled it back
                conn.execute("ROLLBACK")
            raise self._sqlite_error(err) from None
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
            if self.read_only and self.root in _READ_ONLY_SESSIONS:
                _READ_ONLY_SESSIONS.remove(self.root)

    def __enter__(self) -> "Project":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Project({str(self.root)!r})"

    # --- clips --------------------------------------------------------------------------

    def add_clip(self, path: str | Path, info: MediaInfo | None = None,
                 error: MediaError | None = None, file_stamp: FileStamp | None = None
                 ) -> tuple[Clip, bool]:
        """Record a file; returns (clip, created). The same file twice gives the same clip.

        ``path`` is resolved (absolute, symlinks followed) and is the clip's identity. When
        the file is already a clip and its stamp changed, the stored stamp and probe result
        are replaced (in/out points are kept while they still fit the new media); with an
        unchanged stamp, a given ``info``/``error`` still replaces the stored one. Without
        ``file_stamp`` the file is stamped here (reads 128 KiB). Never raises for a file that
        vanished or cannot be read (a worker saw it a moment ago): it is recorded with that
        error, and shows as missing if it is gone.
        """
        self._refuse_read_only()
        resolved = _resolve(path)
        stamp_error = None
        if file_stamp is None:
            file_stamp, stamp_error = _stamp_or_placeholder(resolved)
            if error is None and info is None:
                error = stamp_error
        with self._write() as db:
            clip_id, created = self._record_file(db, resolved, file_stamp, info, error,
                                                 stamp_error)
        return self.clip(clip_id), created

    def _record_file(self, db, resolved: Path, file_stamp: FileStamp, info: MediaInfo | None,
                     error: MediaError | None, stamp_error: Exception | None
                     ) -> tuple[int, bool]:
        """``add_clip``'s row, inside its transaction: (clip id, created or revived)."""
        info_json = _info_to_json(info)
        error_text = None if error is None else str(error)
        error_kind = None if error is None else type(error).__name__
        row = db.execute(f"SELECT {_CLIP_COLUMNS}, removed_at FROM clips WHERE path = ?",
                         (db_path(resolved),)).fetchone()
        revived = row is not None and row[-1] is not None
        if revived:  # removed earlier in this session: it comes back as it was
            db.execute("UPDATE clips SET removed_at = NULL WHERE id = ?", (row[0],))
        if row is None:
            cur = db.execute(
                "INSERT INTO clips (path, size, mtime, partial_hash, info_json, error, "
                "error_kind, added_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (db_path(resolved), file_stamp.size, file_stamp.mtime, file_stamp.partial_hash,
                 info_json, error_text, error_kind, time.time()))
            clip_id, created = cur.lastrowid, True
        elif stamp_error is not None:
            # A known clip whose file cannot be read now: keep what was recorded (it
            # shows as missing), so relink and find_moved still know the real file.
            clip_id, created = row[0], False
        else:
            clip_id, created = row[0], False
            stamp_changed = (row[2], row[3], row[4]) != (
                file_stamp.size, file_stamp.mtime, file_stamp.partial_hash)
            probed = info is not None or error is not None
            if stamp_changed or probed:
                self._store_file(db, clip_id, row, file_stamp, info, info_json,
                                 error_text, error_kind, keep_probe=not probed)
        return clip_id, created or revived

    def _store_file(self, db, clip_id: int, row, file_stamp: FileStamp, info: MediaInfo | None,
                    info_json, error_text, error_kind, *, keep_probe: bool = False,
                    path: str | None = None) -> None:
        if keep_probe:  # a new stamp but no new probe result: keep what is known
            info_json, error_text, error_kind = row[5], row[6], row[7]
            info = self._load_info(row[5])[0]
        in_frame, out_frame = row[8], row[9]
        if not _in_out_valid(info, in_frame, out_frame):
            in_frame = out_frame = None  # the media changed under the marks
        db.execute(
            "UPDATE clips SET path = ?, size = ?, mtime = ?, partial_hash = ?, info_json = ?, "
            "error = ?, error_kind = ?, in_frame = ?, out_frame = ? WHERE id = ?",
            (path or row[1], file_stamp.size, file_stamp.mtime, file_stamp.partial_hash,
             info_json, error_text, error_kind, in_frame, out_frame, clip_id))

    def add_clips(self, found: Iterable[FileInspection]) -> list[tuple[Clip, bool]]:
        """``add_clip`` for each of ``inspect_file``'s results, in one transaction, with no
        file system call: the GUI thread records a worker's batch with this, and every call
        that releases the GIL can cost it a switch interval while workers run Python. Their
        paths are resolved and their stamps new, so none is missing."""
        self._refuse_read_only()
        found = list(found)
        with self._write() as db:
            recorded = [self._record_file(db, Path(f.path), f.stamp, f.info, f.error, None)
                        for f in found]
            ids = [clip_id for clip_id, _ in recorded]
            rows = {}
            for start in range(0, len(ids), 500):  # SQLite's bound-parameter limit
                part = ids[start:start + 500]
                marks = ",".join("?" * len(part))
                rows.update((r[0], r) for r in db.execute(
                    f"SELECT {_CLIP_COLUMNS} FROM clips WHERE id IN ({marks})", part))
        return [(self._clip_from_row(rows[clip_id], missing=False), created)
                for clip_id, created in recorded]

    def import_file(self, path: str | Path) -> tuple[Clip, bool]:
        """Probe and stamp ``path`` (slow: call off the GUI thread or from the CLI) and add it.

        Unusable media is recorded with its error. Raises ``MediaError`` only when there is
        no file to record (see ``inspect_file``).
        """
        self._refuse_read_only()
        found = inspect_file(path)
        return self.add_clip(found.path, found.info, found.error, found.stamp)

    @staticmethod
    def _load_info(info_json: str | None) -> tuple[MediaInfo | None, str | None]:
        try:
            return _info_from_json(info_json), None
        except (ValueError, KeyError, TypeError):
            # Written by another version of MediaInfo; re-probing (relink) refreshes it.
            return None, "the stored media details cannot be read; relink the file to refresh them"

    def _clip_from_row(self, row, missing: bool | None = None) -> Clip:
        """``missing``: None checks the file (a stat)."""
        info, load_error = self._load_info(row[5])
        error, error_kind = row[6], row[7]
        if load_error is not None:
            error, error_kind = f"{display_path(os_path(row[1]))}: {load_error}", \
                "StoredInfoError"
        path = os_path(row[1])
        return Clip(id=row[0], path=path, size=row[2], mtime=row[3], partial_hash=row[4],
                    info=info, error=error, error_kind=error_kind, in_frame=row[8],
                    out_frame=row[9], added_at=row[10],
                    missing=_is_missing(path, row[2], row[3], row[4]) if missing is None
                    else missing)

    def clips(self) -> list[Clip]:
        """Every clip, in the order they were added. Checks each file (a stat; a partial hash
        only when size or mtime changed), so ``missing`` is current."""
        rows = self._db.execute(f"SELECT {_CLIP_COLUMNS} FROM clips WHERE removed_at IS NULL "
                                "ORDER BY id").fetchall()
        return [self._clip_from_row(r) for r in rows]

    def clip(self, clip_id: int) -> Clip:
        row = self._db.execute(f"SELECT {_CLIP_COLUMNS} FROM clips WHERE id = ?",
                               (clip_id,)).fetchone()
        if row is None:
            raise UnknownIdError(f"{self.root}: no clip with id {clip_id}")
        return self._clip_from_row(row)

    def clip_for_path(self, path: str | Path) -> Clip | None:
        """The clip recorded for ``path`` (resolved), or None."""
        row = self._db.execute(f"SELECT {_CLIP_COLUMNS} FROM clips WHERE path = ? AND "
                               "removed_at IS NULL", (db_path(_resolve(path)),)).fetchone()
        return None if row is None else self._clip_from_row(row)

    def set_in_out(self, clip_id: int, in_frame: int | None, out_frame: int | None) -> Clip:
        """Set both marks; None clears one. Raises ValueError naming the field when a mark is
        negative, not a whole number, after the other, or past the last frame (when known)."""
        with self._write() as db:
            row = db.execute("SELECT info_json FROM clips WHERE id = ?", (clip_id,)).fetchone()
            if row is None:
                raise UnknownIdError(f"{self.root}: no clip with id {clip_id}")
            info = self._load_info(row[0])[0]
            in_frame, out_frame = _check_in_out(info, in_frame, out_frame)
            db.execute("UPDATE clips SET in_frame = ?, out_frame = ? WHERE id = ?",
                       (in_frame, out_frame, clip_id))
        return self.clip(clip_id)

    def remove_clips(self, clip_ids: Iterable[int]) -> None:
        """Take clips out of the project. Never touches the files themselves.

        They are hidden at once and can be brought back, captions and all, with
        ``restore_clips`` until the project is next opened, which forgets them for good
        (their captions with them; generations made from them stay, without a source
        clip). Unknown ids are ignored."""
        now = time.time()
        with self._write() as db:
            db.executemany("UPDATE clips SET removed_at = ? WHERE id = ?",
                           [(now, int(i)) for i in clip_ids])

    def restore_clips(self, clip_ids: Iterable[int]) -> list[Clip]:
        """Undo ``remove_clips`` (in this session); returns the clips back in the project."""
        ids = [int(i) for i in clip_ids]
        with self._write() as db:
            db.executemany("UPDATE clips SET removed_at = NULL WHERE id = ?", [(i,) for i in ids])
        return [self.clip(i) for i in ids]

    def relink(self, clip_id: int, new_path: str | Path) -> Clip:
        """Point a clip (usually a missing one) at ``new_path``: re-stamp and re-probe it,
        keeping the clip's id, captions and in/out points (the marks are cleared if they no
        longer fit the new media). Slow like ``import_file``.

        Raises ``RelinkError`` (a ``ValueError``) if ``new_path`` is already another clip or
        there is no file there. Unusable media is recorded with its error.
        """
        self._refuse_read_only()
        self.clip(clip_id)  # an unknown id or a taken path fail before the slow work
        self._refuse_taken_path(self._db, clip_id, _resolve(new_path))
        try:
            found = inspect_file(new_path)
        except MediaError as err:
            raise RelinkError(f"cannot relink to {err}") from None
        with self._write() as db:
            self._refuse_taken_path(db, clip_id, found.path)
            row = db.execute(f"SELECT {_CLIP_COLUMNS} FROM clips WHERE id = ?",
                             (clip_id,)).fetchone()
            if row is None:
                raise UnknownIdError(f"{self.root}: no clip with id {clip_id}")
            self._store_file(
                db, clip_id, row, found.stamp, found.info, _info_to_json(found.info),
                None if found.error is None else str(found.error),
                None if found.error is None else type(found.error).__name__,
                path=db_path(found.path))
        return self.clip(clip_id)

    @staticmethod
    def _refuse_taken_path(db, clip_id: int, path: Path) -> None:
        other = db.execute("SELECT id FROM clips WHERE path = ? AND id != ?",
                           (db_path(path), clip_id)).fetchone()
        if other is not None:
            raise RelinkError(f"{path} is already in the project as another clip "
                              f"(id {other[0]}); remove that clip first to relink to it")

    def find_moved(self, folders: Iterable[str | Path],
                   clip_ids: Iterable[int] | None = None) -> dict[int, Path]:
        """Look in ``folders`` (recursively) for files with the same size and partial hash as
        missing clips. Returns {clip id: candidate path} for those found; relink is the
        caller's decision. Only files of a wanted size are hashed. Slow on big trees."""
        wanted_ids = None if clip_ids is None else set(clip_ids)
        wanted: dict[tuple[int, str], list[int]] = {}
        known_paths = set()
        for c in self.clips():
            known_paths.add(c.path)
            if c.missing and (wanted_ids is None or c.id in wanted_ids):
                wanted.setdefault((c.size, c.partial_hash), []).append(c.id)
        sizes = {size for size, _ in wanted}
        found: dict[int, Path] = {}
        for folder in folders:
            for dirpath, _dirs, files in os.walk(folder):
                for name in files:
                    candidate = Path(dirpath, name)
                    try:
                        st = candidate.stat()
                        if st.st_size not in sizes or not stat_module.S_ISREG(st.st_mode):
                            continue
                        resolved = candidate.resolve()
                        if str(resolved) in known_paths:
                            continue
                        key = (st.st_size, stamp(resolved).partial_hash)
                    except OSError:
                        continue
                    for cid in wanted.get(key, ()):
                        found.setdefault(cid, resolved)
        return found

    # --- captions -----------------------------------------------------------------------

    def add_caption(self, clip_id: int, text: str, *, source: str = "model",
                    model: str | None = None, prompt: str | None = None,
                    params: dict | None = None) -> Caption:
        """Record a new version of a clip's caption; it becomes the current one.
        ``source`` is "model" for a captioner's output, "edit" for a person's change. An edit
        that leaves the text as it is adds no version and returns the current caption."""
        if source not in CAPTION_SOURCES:
            raise ValueError(f"source must be one of {', '.join(CAPTION_SOURCES)}, got {source!r}")
        with self._write() as db:
            if db.execute("SELECT 1 FROM clips WHERE id = ?", (clip_id,)).fetchone() is None:
                raise UnknownIdError(f"{self.root}: no clip with id {clip_id}")
            if source == "edit":
                current = self._current_caption_row(db, clip_id)
                if current is not None and current[2] == text:
                    return self._caption_from_row(current)
            cur = db.execute(
                "INSERT INTO captions (clip_id, text, source, model, prompt, params_json, "
                "created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (clip_id, text, source, model, prompt, json.dumps(params or {}), time.time()))
            row = db.execute(f"SELECT {_CAPTION_COLUMNS} FROM captions WHERE id = ?",
                             (cur.lastrowid,)).fetchone()
        return self._caption_from_row(row)

    @staticmethod
    def _current_caption_row(db, clip_id: int):
        return db.execute(f"SELECT {_CAPTION_COLUMNS} FROM captions WHERE clip_id = ? "
                          "ORDER BY id DESC LIMIT 1", (clip_id,)).fetchone()

    @staticmethod
    def _caption_from_row(row) -> Caption:
        return Caption(id=row[0], clip_id=row[1], text=row[2], source=row[3], model=row[4],
                       prompt=row[5], params=json.loads(row[6]), created_at=row[7])

    def captions_for(self, clip_id: int) -> list[Caption]:
        """Every version of a clip's caption, oldest first; the last is the current one."""
        rows = self._db.execute(f"SELECT {_CAPTION_COLUMNS} FROM captions WHERE clip_id = ? "
                                "ORDER BY id", (clip_id,)).fetchall()
        return [self._caption_from_row(r) for r in rows]

    def current_caption(self, clip_id: int) -> Caption | None:
        row = self._current_caption_row(self._db, clip_id)
        return None if row is None else self._caption_from_row(row)

    def remove_caption(self, caption_id: int) -> None:
        """Delete one caption version (undoing the edit that added it); the previous version
        becomes current again. Unknown ids are ignored."""
        with self._write() as db:
            db.execute("DELETE FROM captions WHERE id = ?", (int(caption_id),))

    def set_caption_draft(self, clip_id: int, text: str) -> None:
        """Keep ``text``, a caption being typed for ``clip_id`` and not saved yet (one per
        clip: the last replaces the one before). Unknown clips are ignored."""
        with self._write() as db:
            db.execute("INSERT INTO caption_drafts (clip_id, text, saved_at) "
                       "SELECT id, ?, ? FROM clips WHERE id = ? "
                       "ON CONFLICT (clip_id) DO UPDATE SET text = excluded.text, "
                       "saved_at = excluded.saved_at", (text, time.time(), int(clip_id)))

    def caption_draft(self, clip_id: int) -> str | None:
        """The unsaved caption kept for ``clip_id`` (``set_caption_draft``), or None."""
        row = self._db.execute("SELECT text FROM caption_drafts WHERE clip_id = ?",
                               (int(clip_id),)).fetchone()
        return None if row is None else row[0]

    def clear_caption_draft(self, clip_id: int) -> None:
        """Forget the unsaved caption of ``clip_id`` (saved as a version, or thrown away)."""
        with self._write() as db:
            db.execute("DELETE FROM caption_drafts WHERE clip_id = ?", (int(clip_id),))

    # --- panels -------------------------------------------------------------------------

    def save_panel_state(self, name: str, state: dict) -> None:
        """Keep what the panel ``name`` holds (JSON-ready), replacing what was kept before."""
        with self._write() as db:
            db.execute("INSERT INTO panel_states (name, state_json, saved_at) VALUES (?, ?, ?) "
                       "ON CONFLICT (name) DO UPDATE SET state_json = excluded.state_json, "
                       "saved_at = excluded.saved_at", (name, json.dumps(state), time.time()))

    def panel_state(self, name: str) -> dict | None:
        """What ``save_panel_state`` kept for ``name``, or None."""
        row = self._db.execute("SELECT state_json FROM panel_states WHERE name = ?",
                               (name,)).fetchone()
        return None if row is None else json.loads(row[0])

    # --- generations --------------------------------------------------------------------

    def _stored_path(self, path: str | Path) -> str:
        # Inside the project folder: relative, so the folder can be moved whole.
        absolute = Path(path).expanduser().absolute()
        try:
            return absolute.relative_to(self.root).as_posix()
        except ValueError:
            return str(absolute)

    def add_generation(self, path: str | Path, params: dict | None = None, *,
                       kind: str | None = None, model: str | None = None,
                       prompt: str | None = None, info: MediaInfo | None = None,
                       source_clip_id: int | None = None, job_id: int | None = None
                       ) -> Generation:
        """Record a video Studio generated (usually under ``generations_dir``)."""
        with self._write() as db:
            cur = db.execute(
                "INSERT INTO generations (path, kind, model, prompt, params_json, info_json, "
                "source_clip_id, job_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (self._stored_path(path), kind, model, prompt, json.dumps(params or {}),
                 _info_to_json(info), source_clip_id, job_id, time.time()))
        return self.generation(cur.lastrowid)

    def _generation_from_row(self, row) -> Generation:
        return Generation(id=row[0], path=str(self.root / row[1]), kind=row[2], model=row[3],
                          prompt=row[4], params=json.loads(row[5]),
                          info=self._load_info(row[6])[0], source_clip_id=row[7],
                          job_id=row[8], created_at=row[9])

    def generations(self) -> list[Generation]:
        """Every generation, oldest first."""
        rows = self._db.execute(f"SELECT {_GENERATION_COLUMNS} FROM generations ORDER BY id")
        return [self._generation_from_row(r) for r in rows.fetchall()]

    def generation(self, generation_id: int) -> Generation:
        row = self._db.execute(f"SELECT {_GENERATION_COLUMNS} FROM generations WHERE id = ?",
                               (generation_id,)).fetchone()
        if row is None:
            raise UnknownIdError(f"{self.root}: no generation with id {generation_id}")
        return self._generation_from_row(row)

    # --- jobs ---------------------------------------------------------------------------

    @staticmethod
    def _job_from_row(row) -> Job:
        return Job(id=row[0], kind=row[1], params=json.loads(row[2]), state=row[3],
                   position=row[4], created_at=row[5], started_at=row[6], finished_at=row[7],
                   error=row[8])

    def add_job(self, kind: str, params: dict | None = None) -> Job:
        """Queue a job at the end of the queue."""
        with self._write() as db:
            position = db.execute("SELECT coalesce(max(position), 0) + 1 FROM jobs").fetchone()[0]
            cur = db.execute(
                "INSERT INTO jobs (kind, params_json, state, position, created_at) "
                "VALUES (?, ?, 'queued', ?, ?)",
                (kind, json.dumps(params or {}), position, time.time()))
        return self.job(cur.lastrowid)

    def job(self, job_id: int) -> Job:
        row = self._db.execute(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE id = ?",
                               (job_id,)).fetchone()
        if row is None:
            raise UnknownIdError(f"{self.root}: no job with id {job_id}")
        return self._job_from_row(row)

    def jobs(self, states: Iterable[str] | None = None) -> list[Job]:
        """Jobs in queue order, optionally only those in ``states``."""
        rows = self._db.execute(f"SELECT {_JOB_COLUMNS} FROM jobs ORDER BY position, id").fetchall()
        wanted = None if states is None else set(states)
        return [self._job_from_row(r) for r in rows if wanted is None or r[3] in wanted]

    def next_job(self, kind: str | None = None) -> Job | None:
        """The first queued job (of ``kind``, when given), or None."""
        row = self._db.execute(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE state = 'queued' "
                               "AND (? IS NULL OR kind = ?) ORDER BY position, id LIMIT 1",
                               (kind, kind)).fetchone()
        return None if row is None else self._job_from_row(row)

    def set_job_state(self, job_id: int, state: str, error: str | None = None) -> Job:
        """Move a job to ``state``; "running" records the start time, a finished state the
        end time. ``error`` is kept for "failed"."""
        if state not in JOB_STATES:
            raise ValueError(f"state must be one of {', '.join(JOB_STATES)}, got {state!r}")
        now = time.time()
        with self._write() as db:
            if db.execute("SELECT 1 FROM jobs WHERE id = ?", (job_id,)).fetchone() is None:
                raise UnknownIdError(f"{self.root}: no job with id {job_id}")
            if state == "running":
                db.execute("UPDATE jobs SET state = ?, started_at = ?, finished_at = NULL, "
                           "error = NULL WHERE id = ?", (state, now, job_id))
            elif state in FINISHED_JOB_STATES:
                db.execute("UPDATE jobs SET state = ?, finished_at = ?, error = ? WHERE id = ?",
                           (state, now, error, job_id))
            else:
                db.execute("UPDATE jobs SET state = ?, started_at = NULL, finished_at = NULL, "
                           "error = NULL WHERE id = ?", (state, job_id))
        return self.job(job_id)

    def update_job_params(self, job_id: int, params: dict) -> Job:
        """Replace the settings of a job that has not started (state "queued")."""
        with self._write() as db:
            row = db.execute("SELECT state FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None:
                raise UnknownIdError(f"{self.root}: no job with id {job_id}")
            if row[0] != "queued":
                raise ProjectError(f"{self.root}: job {job_id} is {row[0]}; only a queued job "
                                   "can be edited")
            db.execute("UPDATE jobs SET params_json = ? WHERE id = ?",
                       (json.dumps(params), job_id))
        return self.job(job_id)

    def remove_job(self, job_id: int) -> None:
        """Forget a job that is not running (its generations stay, unlinked from it)."""
        with self._write() as db:
            row = db.execute("SELECT state FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None:
                raise UnknownIdError(f"{self.root}: no job with id {job_id}")
            if row[0] == "running":
                raise ProjectError(f"{self.root}: job {job_id} is running; cancel it first")
            db.execute("DELETE FROM jobs WHERE id = ?", (job_id,))

    def requeue_job(self, job_id: int) -> Job:
        """Queue a finished job again (retry), at the end of the queue."""
        with self._write() as db:
            row = db.execute("SELECT state FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None:
                raise UnknownIdError(f"{self.root}: no job with id {job_id}")
            if row[0] in ("queued", "running"):
                raise ProjectError(f"{self.root}: job {job_id} is already {row[0]}")
            position = db.execute("SELECT coalesce(max(position), 0) + 1 FROM jobs").fetchone()[0]
            db.execute("UPDATE jobs SET state = 'queued', position = ?, started_at = NULL, "
                       "finished_at = NULL, error = NULL WHERE id = ?", (position, job_id))
        return self.job(job_id)

    def mark_interrupted_jobs(self) -> list[int]:
        """Jobs left "running" by a Studio that stopped mid-run become "interrupted"; their ids.
        Only the process that runs the queue calls this, at start, before it runs anything.
        A project open read-only runs no queue: nothing is marked, and the ids are [] (the
        one write method that does not raise there, so that opening the queue writes none)."""
        if self.read_only:
            return []
        now = time.time()
        with self._write() as db:
            ids = [r[0] for r in db.execute("SELECT id FROM jobs WHERE state = 'running' "
                                            "ORDER BY position, id")]
            db.executemany("UPDATE jobs SET state = 'interrupted', finished_at = ?, error = ? "
                           "WHERE id = ?",
                           [(now, "Studio stopped while this job was running", i) for i in ids])
        return ids

    def reorder_jobs(self, job_ids: list[int]) -> None:
        """Put the given jobs first, in that order; the others follow in their old order."""
        with self._write() as db:
            first = set(job_ids)
            rest = [r[0] for r in db.execute("SELECT id FROM jobs ORDER BY position, id")
                    if r[0] not in first]
            db.executemany("UPDATE jobs SET position = ? WHERE id = ?",
                           [(n, jid) for n, jid in enumerate([*job_ids, *rest], start=1)])


def _split_sql(script: str) -> list[str]:
    """The statements of a migration script. Migrations hold no ';' inside literals or
    triggers; sqlite3.complete_statement guards that assumption."""
    statements, pending = [], ""
    for piece in script.split(";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            if pending.strip(" \n;"):
                statements.append(pending.strip())
            pending = ""
    if pending.strip(" \n;"):
        raise ValueError("migration script ends in an incomplete statement")
    return statements


# ---------------------------------------------------------------------------------------
# Salvage: the rows a damaged database still gives (a read-only open, project_copy)

_FIRST_ROWID = -(2 ** 63)
_LAST_ROWID = 2 ** 63 - 1


def salvage(source: sqlite3.Connection, target: sqlite3.Connection) -> tuple[int, bool]:
    """Copy every row SQLite can still read from the Studio database ``source`` into the
    empty database ``target``, whose schema is built fresh (indexes included) from Studio's
    migrations; ids are kept. Tables are read in rowid order without their indexes (which
    may be what is damaged), skipping over pages that cannot be read. Returns (rows copied,
    whether every row could be read). Raises ``sqlite3.DatabaseError`` when not even the
    schema can be read. ``source`` is only read."""
    version = source.execute("PRAGMA user_version").fetchone()[0]
    source.execute("SELECT name FROM sqlite_master").fetchall()  # the schema is readable
    version = min(version, len(MIGRATIONS))
    target.execute("BEGIN")
    try:
        for number in range(version):
            for statement in _split_sql(MIGRATIONS[number]):
                target.execute(statement)
        target.execute(f"PRAGMA user_version = {version}")
        copied, whole = 0, True
        tables = [r[0] for r in target.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY rowid")]
        for table in tables:
            columns = [r[1] for r in target.execute(f"PRAGMA table_info({table})")]
            rows, complete = _salvage_table(source, target, table, columns)
            copied, whole = copied + rows, whole and complete
        target.execute("COMMIT")
    except BaseException:
        if target.in_transaction:
            target.execute("ROLLBACK")
        raise
    return copied, whole


def _salvage_table(source: sqlite3.Connection, target: sqlite3.Connection, table: str,
                   columns: list[str]) -> tuple[int, bool]:
    """The readable rows of one table; past a page that cannot be read, the next rowid
    tried doubles its distance each time, so a damaged stretch costs some 64 tries."""
    names = ", ".join(columns)
    select = (f"SELECT rowid, {names} FROM {table} NOT INDEXED WHERE rowid > ? "
              "ORDER BY rowid")
    insert = (f"INSERT OR IGNORE INTO {table} ({names}) "
              f"VALUES ({', '.join('?' * len(columns))})")
    after, step, copied, complete = _FIRST_ROWID, 1, 0, True
    while True:
        try:
            for row in source.execute(select, (after,)):
                target.execute(insert, row[1:])
                after, step, copied = row[0], 1, copied + 1
            return copied, complete
        except sqlite3.OperationalError as err:
            if "no such" in str(err):  # a table or column this database never had
                return copied, complete
            complete = False
        except sqlite3.DatabaseError:
            complete = False
        if after > _LAST_ROWID - step:
            return copied, complete
        after, step = after + step, step * 2
