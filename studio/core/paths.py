"""Paths as the OS gives them, in forms that text-only stores can hold.

A file name need not be valid UTF-8 (Linux takes any bytes); Python gives such a name as a
str with surrogate escapes, which SQLite text, JSON written as UTF-8, FFmpeg's metadata and Qt
cannot hold. :func:`db_path` is a reversible text form for stores (the project database,
sidecars); :func:`display_path` a readable one for people (U+FFFD where a byte is not text).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

# A file name need not be valid UTF-8 (Linux takes any bytes); Python gives it as a str with
# surrogate escapes, which SQLite text cannot hold. Such a path is stored as this prefix and its
# bytes percent-encoded: a resolved path always starts with "/" (or a drive or "\\"), so the
# prefix is never a real path's start and the form is reversible.
_BYTES_PATH = "fsbytes:"
# bytes kept as they are in that form: printable ASCII but "%" (urllib's quoting, without its
# import at start-up)
_PLAIN = frozenset(range(0x20, 0x7F)) - {ord("%")}


def db_path(path: str | os.PathLike) -> str:
    """``path`` as the project database stores it (see :func:`os_path`)."""
    text = os.fspath(path)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _BYTES_PATH + "".join(chr(b) if b in _PLAIN else f"%{b:02X}"
                                     for b in os.fsencode(text))
    return text


def os_path(stored: str) -> str:
    """The path the OS knows, from :func:`db_path`'s form (a str, surrogate-escaped if need be)."""
    if stored.startswith(_BYTES_PATH):
        parts = stored[len(_BYTES_PATH):].split("%")
        data = bytearray(parts[0].encode("ascii", "replace"))
        for part in parts[1:]:
            try:
                data += bytes.fromhex(part[:2]) + part[2:].encode("ascii", "replace")
            except ValueError:  # not an escape Studio wrote: kept as it is
                data += ("%" + part).encode("ascii", "replace")
        return os.fsdecode(bytes(data))
    return stored


def json_text(value, indent: int | None = None) -> str:
    """``value`` as JSON that can be written as UTF-8 (a file, a comment tag): readable text,
    but with escapes where it holds a path whose bytes are not UTF-8 (the OS's surrogate
    escapes), which json.loads gives back as the same path."""
    text = json.dumps(value, ensure_ascii=False, indent=indent)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(value, indent=indent)
    return text


def display_path(path: str | os.PathLike) -> str:
    """``path`` for a person: bytes that are not UTF-8 shown as U+FFFD (Qt and JSON take it)."""
    return os.fsencode(os.fspath(path)).decode("utf-8", "replace")


# Hidden temporary files and folders of Studio's writers (core.export), renamed into place when
# whole; a killed run leaves one behind.
TEMP_PREFIX = ".studio-export-"
STALE_PART_S = 24 * 3600  # a temporary file untouched this long belongs to a killed run


def clean_stale_parts(folder: str | os.PathLike, older_than_s: float = STALE_PART_S
                      ) -> list[Path]:
    """Remove the hidden temporary files and folders Studio's writers leave when killed
    (``.studio-export-*.part``) in ``folder`` (not below it) that nothing has touched for
    ``older_than_s``; a live write keeps its own fresh. Returns what was removed; a file that
    cannot be removed is left (it is hidden and harmless)."""
    removed = []
    limit = time.time() - older_than_s
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        if not (entry.name.startswith(TEMP_PREFIX) and entry.name.endswith(".part")):
            continue
        try:
            if entry.stat(follow_symlinks=False).st_mtime > limit:
                continue
            if entry.is_dir(follow_symlinks=False):
                import shutil  # here: it is not worth its import on the window's start-up

                shutil.rmtree(entry.path)
            else:
                os.unlink(entry.path)
            removed.append(Path(entry.path))
        except OSError:
            continue
    return removed
