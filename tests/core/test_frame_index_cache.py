"""core.frame_index_cache through FrameReader on real files: a second process reuses the
index, a changed file is indexed again, the folder stays under its bound, and entries that
are damaged, cut short or not ours are rebuilt, never trusted."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from studio.core.frame_index_cache import SUFFIX, FileKey, FrameIndexCache, default_cache
from studio.core.frames import FrameReader
from tests.media_factory import make_video

ROOT = Path(__file__).resolve().parents[2]

# A child process that reads a file's frame count and one frame with the default cache (the
# user cache folder, from XDG_CACHE_HOME) and says where its index came from.
_CHILD = """
import json, sys
from studio.core.frames import FrameReader
with FrameReader(sys.argv[1]) as reader:
    n = reader.frame_count
    image = reader.frame_at(n // 2).image
    print(json.dumps({"source": reader.index_source, "count": n, "sum": int(image.sum())}))
"""


def _read_in_child(path: Path, cache_home: Path) -> dict:
    env = dict(os.environ, XDG_CACHE_HOME=str(cache_home), PYTHONPATH=str(ROOT))
    env.pop("STUDIO_FRAME_INDEX_CACHE", None)
    done = subprocess.run([sys.executable, "-c", _CHILD, str(path)], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=True)
    return json.loads(done.stdout)


@pytest.fixture
def clip(tmp_path) -> Path:
    return make_video(tmp_path / "clip.mp4", frames=30, fps=10, gop=5, bframes=2)


def _source(path: Path, cache: FrameIndexCache) -> tuple[str | None, int]:
    with FrameReader(path, index_cache=cache) as reader:
        count = reader.frame_count
        return reader.index_source, count


def test_a_second_process_reuses_the_index(clip, tmp_path):
    home = tmp_path / "cache-home"
    first = _read_in_child(clip, home)
    second = _read_in_child(clip, home)
    assert first["source"] == "built"
    assert second == {**first, "source": "cache"}
    assert len(list((home / "studio" / "frame-index").glob("*" + SUFFIX))) == 1


def test_the_default_cache_is_in_the_user_cache_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv("STUDIO_FRAME_INDEX_CACHE", raising=False)
    assert default_cache().folder == tmp_path / "studio" / "frame-index"
    monkeypatch.setenv("STUDIO_FRAME_INDEX_CACHE", "0")
    assert default_cache() is None


def test_a_changed_mtime_or_size_builds_the_index_again(tmp_path):
    cache = FrameIndexCache(tmp_path / "cache")
    path = make_video(tmp_path / "clip.mp4", frames=30, fps=10, gop=5)
    assert _source(path, cache) == ("built", 30)
    assert _source(path, cache) == ("cache", 30)
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))  # touched
    assert _source(path, cache) == ("built", 30)
    assert _source(path, cache) == ("cache", 30)
    # Another video under the same name with the old mtime: the size tells.
    st = path.stat()
    make_video(tmp_path / "other.mp4", frames=45, fps=10, gop=5).replace(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert _source(path, cache) == ("built", 45)
    assert _source(path, cache) == ("cache", 45)
    assert len(cache.entries()) == 1  # one entry a path: the new index replaced the old


def test_the_cache_stays_under_its_bound_and_keeps_what_is_not_its_own(tmp_path):
    folder = tmp_path / "cache"
    clips = [make_video(tmp_path / f"clip{i}.mp4", frames=20 + i, fps=10, gop=5) for i in range(6)]
    probe_cache = FrameIndexCache(folder)
    _source(clips[0], probe_cache)
    entry_size = probe_cache.size()
    shutil.rmtree(folder)
    folder.mkdir()
    (folder / "notes.txt").write_bytes(b"x" * 10 * entry_size)  # not an entry: never removed
    cache = FrameIndexCache(folder, max_bytes=int(entry_size * 3.5))
    for path in clips:
        assert _source(path, cache)[0] == "built"
        assert cache.size() <= cache.max_bytes
    kept = {p for _, _, p in cache.entries()}
    assert len(kept) == 3
    assert cache.entry_path(FileKey.of(clips[-1])) in kept  # the newest stays
    assert cache.entry_path(FileKey.of(clips[0])) not in kept  # the oldest went first
    assert (folder / "notes.txt").exists()
    # A hit makes an entry recent: reading clip 3 again keeps it when clip 0 comes back.
    assert _source(clips[3], cache)[0] == "cache"
    assert _source(clips[0], cache)[0] == "built"
    assert _source(clips[3], cache)[0] == "cache"


def test_an_index_bigger_than_the_bound_is_not_kept(clip, tmp_path):
    cache = FrameIndexCache(tmp_path / "cache", max_bytes=100)
    assert _source(clip, cache) == ("built", 30)
    assert _source(clip, cache) == ("built", 30)
    assert cache.entries() == []


def _corruptions(entry: bytes, other: bytes) -> dict[str, bytes]:
    middle = len(entry) // 2
    return {
        "empty": b"",
        "cut short": entry[:middle],
        "a flipped byte": entry[:middle] + bytes([entry[middle] ^ 0xFF]) + entry[middle + 1:],
        "not an index": b"PK\x03\x04" + os.urandom(500),
        "the entry of another file": other,
        "the same length of zeros": bytes(len(entry)),
    }


@pytest.mark.parametrize("damage", ["empty", "cut short", "a flipped byte", "not an index",
                                    "the entry of another file", "the same length of zeros"])
def test_a_damaged_or_foreign_entry_is_rebuilt(clip, tmp_path, damage):
    cache = FrameIndexCache(tmp_path / "cache")
    other = make_video(tmp_path / "other.mp4", frames=12, fps=10, gop=4)
    with FrameReader(clip, index_cache=None) as reader:
        reference = [reader.frame_at(i).image for i in range(reader.frame_count)]
    _source(other, cache)
    _source(clip, cache)
    entry = cache.entry_path(FileKey.of(clip))
    entry.write_bytes(_corruptions(entry.read_bytes(),
                                   cache.entry_path(FileKey.of(other)).read_bytes())[damage])
    with FrameReader(clip, index_cache=cache) as reader:
        assert reader.frame_count == len(reference)
        assert reader.index_source == "built"
        assert all(np.array_equal(reader.frame_at(i).image, reference[i])
                   for i in range(len(reference)))
    assert _source(clip, cache) == ("cache", len(reference))  # written again, whole


def test_a_cache_folder_that_cannot_be_written_is_no_error(clip, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("in the way")
    cache = FrameIndexCache(blocker / "cache")
    assert _source(clip, cache) == ("built", 30)
    assert _source(clip, cache) == ("built", 30)


def test_no_cache(clip):
    assert _source(clip, None) == ("built", 30)
