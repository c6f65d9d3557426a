"""Training-set outputs held byte for byte (issue 15, item 4).

The ``studio export --preset ltx-train|wan-train`` command line and the training-set writer
(diffusion-pipe and musubi-tuner layouts) run on the session's synthetic media, and what they
print and write is compared with ``training_golden.json``, recorded from the code before the
two writers became one: every JSON row and exit status, every file name, the bytes of every
caption, JSON sidecar and manifest, byte copies as byte copies, and for each encoded video
its codec, pixel format, size, frame count, the source frame of every frame, frame times,
audio, the comment tag and the x264 settings. One change was made on purpose when they became
one: the copy layouts' caption .txt files end with a newline, as the presets' always did.

The bitstream bytes of an encoded video are not compared: x264 does not give the same bytes
twice for these tiny synthetic frames, not even in one process with one thread (seen with
PyAV 18.1 / x264 core 165), so two runs of the same code differ there.

``STUDIO_WRITE_GOLDEN=1`` rewrites the file from the code as it is (only on purpose).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from pathlib import Path

import av
import pytest

from studio import __version__
from studio.cli import main
from tests.media_factory import frame_number_of, make_video

GOLDEN = Path(__file__).with_name("training_golden.json")
WRITE = os.environ.get("STUDIO_WRITE_GOLDEN") == "1"


@pytest.fixture(scope="module")
def sources(media, tmp_path_factory) -> Path:
    """Clips with the diffusion-pipe caption sidecars the CLI reads."""
    folder = tmp_path_factory.mktemp("golden-src")
    # 96x64: sides that are multiples of 32 and 16, so the frame numbers survive a conform
    make_video(folder / "walk.mp4", width=96, height=64, frames=48, fps=24, gop=12, bframes=2)
    (folder / "walk.txt").write_text('A person walks. Ünïcode ✓ "quoted"\n', encoding="utf-8")
    shutil.copyfile(media["h264_audio"], folder / "talk clip.mp4")
    (folder / "talk clip.txt").write_text("  Someone talks.\n\n", encoding="utf-8")
    shutil.copyfile(media["h264_vfr"], folder / "bare.mp4")  # no caption
    shutil.copyfile(media["odd_101x57"], folder / "tiny.mp4")
    (folder / "tiny.txt").write_text("Too short.", encoding="utf-8")
    shutil.copyfile(media["h264_rot90"], folder / "rot.mp4")
    shutil.copyfile(media["h264_vfr"], folder / "vfr.mp4")
    shutil.copyfile(media["png"], folder / "still.png")
    shutil.copyfile(media["odd_101x57"], folder / "odd size.mp4")
    (folder / "settings.json").write_text(json.dumps({"seed": 3, "prompt": "a wave"}),
                                          encoding="utf-8")
    _SOURCES[:] = [folder.as_posix()]
    return folder


# ---- normalising ---------------------------------------------------------------------------------

_SOURCES: list[str] = []  # the sources folder of this session


def _text(value: str, root: Path) -> str:
    for folder in _SOURCES:
        value = value.replace(folder, "{src}")
    return value.replace(root.as_posix(), "{root}").replace(f'"{__version__}"', '"{version}"')


def _x264_settings(path: Path) -> str | None:
    data = path.read_bytes()
    start = data.find(b"x264 - core")
    if start < 0:
        return None
    text = data[start:data.index(b"\x00", start)].decode("ascii", "replace")
    text = text.split(" - options: ", 1)[-1]
    # the thread counts follow the machine's cores
    return re.sub(r"\b(threads|lookahead_threads)=\d+", r"\1=N", text)


def describe_video(path: Path, root: Path) -> dict:
    from studio.core.media import probe
    from studio.core.paths import os_path

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = list(container.decode(stream))
        audio = [s.codec_context.name for s in container.streams.audio]
        comment = container.metadata.get("comment")
    numbers = None
    source = json.loads(comment)["source"] if comment else None
    if source is not None:
        info = probe(os_path(source))
        # the source frame of each frame, where its number band was not scaled or cut away
        if abs(info.width - frames[0].width) <= 1 and abs(info.height - frames[0].height) <= 1:
            numbers = [frame_number_of(f.to_ndarray(format="rgb24"), info.rotation)
                       for f in frames]
    return {
        "codec": stream.codec_context.name, "pix_fmt": frames[0].format.name,
        "size": [frames[0].width, frames[0].height], "frames": len(frames),
        "numbers": numbers, "times": [round(float(f.time), 4) for f in frames],
        "audio": audio,
        "comment": None if comment is None else json.loads(_text(comment, root)),
        "x264": _x264_settings(path),
    }


def snapshot(folder: Path, root: Path, sources: Path) -> dict:
    """Every file of ``folder``: text as text, copies as the source they copy, videos as
    ``describe_video``."""
    by_bytes = {hashlib.sha1(p.read_bytes()).hexdigest(): p.name
                for p in sources.iterdir() if p.is_file()}
    files = {}
    for path in sorted(folder.iterdir()):
        data = path.read_bytes()
        copy_of = by_bytes.get(hashlib.sha1(data).hexdigest())
        if copy_of is not None:
            files[path.name] = {"copy_of": copy_of}
        elif path.suffix in (".txt", ".json", ".jsonl"):
            files[path.name] = {"text": _text(data.decode("utf-8"), root)}
        else:
            files[path.name] = describe_video(path, root)
    return files


def check(name: str, got: dict) -> None:
    golden = json.loads(GOLDEN.read_text(encoding="utf-8")) if GOLDEN.exists() else {}
    if WRITE:
        golden[name] = got
        GOLDEN.write_text(json.dumps(golden, ensure_ascii=False, indent=1, sort_keys=True)
                          + "\n", encoding="utf-8")
        return
    expected = golden[name]
    assert sorted(got) == sorted(expected)
    for key in expected:
        assert got[key] == expected[key], key


# ---- the command line ----------------------------------------------------------------------------

def run_cli(capsys, root: Path, *argv) -> dict:
    code = main(["export", *map(str, argv)])
    out, err = capsys.readouterr()
    rows = []
    for line in out.splitlines():
        row = json.loads(_text(line, root))
        row.pop("elapsed_s", None)
        rows.append(row)
    return {"code": code, "rows": rows, "stderr": _text(err, root)}


def test_cli_training_presets_write_what_they_always_wrote(sources, tmp_path, capsys):
    root = tmp_path
    s, out = sources, root / "set"
    runs = [
        run_cli(capsys, root, s / "walk.mp4", s / "talk clip.mp4", s / "bare.mp4",
                s / "tiny.mp4", "--preset", "ltx-train", "-o", out),
        run_cli(capsys, root, s / "walk.mp4", "--preset", "wan-train", "--in", 0.25, "--out",
                1.5, "--width", 48, "--height", 48, "--fit", "crop", "--fps", 12, "--crf", 20,
                "--speed", "fast", "--metadata", s / "settings.json", "-o", out),
        run_cli(capsys, root, s / "rot.mp4", "--preset", "wan-train", "--caption",
                "Turned on its side.", "--name", "../my clip: #1", "-o", out),
        run_cli(capsys, root, s / "walk.mp4", "--preset", "ltx-train", "--overwrite", "-o", out),
        run_cli(capsys, root, s / "vfr.mp4", "--preset", "wan-train", "--in-frame", 2,
                "--out-frame", 9, "--caption", "Variable rate.", "-o", root / "set2"),
        run_cli(capsys, root, s / "bare.mp4", s / "tiny.mp4", "--preset", "ltx-train", "-o",
                root / "never"),
    ]
    assert not (root / "never").exists()  # nothing to write: no folder either
    check("cli", {"runs": runs, "set": snapshot(out, root, sources),
                  "set2": snapshot(root / "set2", root, sources)})


# ---- the training-set writer (the training-set dialog's layouts) --------------------------------

def write_layouts(sources: Path, root: Path) -> dict:
    from studio.core.dataset import DatasetItem, write_training_set

    s = sources
    items = [
        DatasetItem(str(s / "walk.mp4"), "A person walks.\n  ", clip_id=1),
        DatasetItem(str(s / "walk.mp4"), 'says "hi"\nand leaves', 5, 14, clip_id=1),
        DatasetItem(str(s / "still.png"), "A still ✓", clip_id=2),
        DatasetItem(str(s / "odd size.mp4"), "odd", 1, 4, clip_id=3),
        DatasetItem(str(s / "vfr.mp4"), "vfr", 2, None, clip_id=4),
        DatasetItem(str(s / "talk clip.mp4"), "named", name="take-2 final", clip_id=5),
        DatasetItem(str(s / "bare.mp4"), "   ", clip_id=6),
        DatasetItem(str(s / "gone.mp4"), "gone", clip_id=7),
    ]
    got = {}
    for layout in ("diffusion-pipe", "musubi"):
        folder = root / layout
        report = write_training_set(items, folder, layout)
        got[layout] = {
            "exported": [Path(e.output).name for e in report.exported],
            "skipped_uncaptioned": report.skipped_uncaptioned,
            "failed": [[Path(p).name, _text(m, root)] for p, m in report.failed],
            "files": snapshot(folder, root, sources),
        }
    return got


def test_training_set_layouts_write_what_they_always_wrote(sources, tmp_path):
    check("layouts", write_layouts(sources, tmp_path))
