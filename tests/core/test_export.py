"""core.export: every preset decodes as promised, trims are exact, writes are atomic and
never clobber, failures name the file and leave nothing under a final name."""

from __future__ import annotations

import errno
import json
import os
import struct
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import av
import numpy as np
import pytest

from studio.core.cancel import Cancelled, CancelToken
from studio.core.export import (
    ExportError,
    ExportOptions,
    conform_frame_count,
    encode_to,
    export_clip,
    export_clips,
    name_from_prompt,
    plan_export,
    sanitize_name,
    write_frames,
)
from tests.media_factory import VFR_PTS, frame_image, frame_number_of, make_image, make_video

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("export-src")
    return {
        # 96x64: sides are multiples of 32 and 16, so training sets keep every pixel
        "cfr": make_video(folder / "walk.mp4", width=96, height=64, frames=48, fps=24, gop=12,
                          bframes=2),
        "audio": make_video(folder / "talk.mp4", width=64, height=48, frames=25, fps=25,
                            audio=True),
        "vfr": make_video(folder / "vfr.mp4", frames=len(VFR_PTS), fps=25, vfr_pts=VFR_PTS,
                          bframes=0),
        "rot90": make_video(folder / "phone.mp4", width=64, height=48, frames=12, rotation=90),
        "odd": make_video(folder / "odd.mp4", width=65, height=49, frames=6, pix_fmt="yuv444p"),
        "still": make_image(folder / "still.png", width=40, height=30),
    }


# ---- helpers -------------------------------------------------------------------------------------

def decode(path: Path, rotation: int = 0) -> dict:
    """What a player sees: codec, pixel format, size, frame numbers, frame times, duration."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = list(container.decode(stream))
        duration = container.duration / 1e6 if container.duration else None
        return {
            "codec": stream.codec_context.name,
            "pix_fmt": frames[0].format.name,
            "size": (frames[0].width, frames[0].height),
            "numbers": [frame_number_of(f.to_ndarray(format="rgb24"), rotation) for f in frames],
            "times": [float(f.time) for f in frames],
            "duration": duration,
            "metadata": {k.lower(): v for k, v in container.metadata.items()},
            "audio": [s.codec_context.name for s in container.streams.audio],
            "side_data": [d.type.name for d in frames[0].side_data],
        }


def top_level_boxes(path: Path) -> list[str]:
    """The MP4 top-level box types in file order."""
    data = path.read_bytes()
    boxes, at = [], 0
    while at + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[at:at + 8])
        if size == 1:
            size = struct.unpack(">Q", data[at + 8:at + 16])[0]
        elif size == 0:
            size = len(data) - at
        assert size >= 8, f"bad box size at {at}"
        boxes.append(kind.decode("latin-1"))
        at += size
    assert at == len(data)
    return boxes


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".studio-export-"))


def finals(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))


def comment_of(path: Path) -> dict:
    with av.open(str(path)) as container:
        tags = {k.lower(): v for k, v in container.metadata.items()}
    return json.loads(tags["comment"])


# ---- presets -------------------------------------------------------------------------------------

def test_mp4_is_faststart_h264_with_every_frame_and_its_source_recorded(clips, tmp_path):
    result = export_clip(clips["cfr"], tmp_path)
    out = Path(result.output)
    assert out == tmp_path / "walk.mp4" and result.ok
    seen = decode(out)
    assert (seen["codec"], seen["pix_fmt"], seen["size"]) == ("h264", "yuv420p", (96, 64))
    assert seen["numbers"] == list(range(48))
    assert seen["duration"] == pytest.approx(2.0, abs=1 / 24)
    assert (result.frames, result.seconds) == (48, pytest.approx(2.0))
    boxes = top_level_boxes(out)
    assert boxes.index("moov") < boxes.index("mdat")
    record = comment_of(out)
    assert record["source"] == str(clips["cfr"])
    assert (record["in_frame"], record["out_frame"], record["preset"]) == (0, 47, "mp4")
    assert leftovers(tmp_path) == []
    assert oct(out.stat().st_mode & 0o777) != oct(0o600)  # not the temp file's private mode


@pytest.mark.parametrize("preset, codec, pix_fmts, size, count", [
    ("webm", "vp9", {"yuv420p"}, (96, 64), 48),
    ("gif", "gif", {"bgra", "pal8"}, (96, 64), 30),  # 15 fps from 24
    ("ltx-train", "h264", {"yuv420p"}, (96, 64), 41),  # 8k+1 at 24 fps
    ("wan-train", "h264", {"yuv420p"}, (96, 64), 29),  # 4k+1 at 16 fps: 32 frames -> 29
])
def test_preset_decodes_with_codec_format_size_and_frame_count(clips, tmp_path, preset, codec,
                                                               pix_fmts, size, count):
    options = ExportOptions(preset=preset, caption="A person walks.")
    result = export_clip(clips["cfr"], tmp_path, options)
    seen = decode(Path(result.output))
    assert seen["codec"] == codec
    assert seen["pix_fmt"] in pix_fmts
    assert seen["size"] == size == (result.width, result.height)
    assert len(seen["numbers"]) == count == result.frames
    if preset == "gif":
        rgb = av.open(result.output).decode(video=0).__next__().to_ndarray(format="rgb24")
        assert len(np.unique(rgb.reshape(-1, 3), axis=0)) <= 256  # a palette
        assert seen["duration"] == pytest.approx(2.0, abs=1 / 15)
        assert seen["numbers"] == [int(k * 24 / 15 + 1e-9) for k in range(30)]
    if preset.endswith("-train"):
        fps = 24 if preset == "ltx-train" else 16
        rule = 8 if preset == "ltx-train" else 4
        assert (count - 1) % rule == 0
        assert size[0] % (32 if rule == 8 else 16) == 0
        # frame k is the source frame shown at k / fps
        assert seen["numbers"] == [int(k * 24 / fps + 1e-9) for k in range(count)]
        assert Path(result.sidecars[0]).read_text(encoding="utf-8") == "A person walks.\n"
        assert seen["audio"] == []


def test_png_sequence_is_a_folder_of_exact_frames(clips, tmp_path):
    result = export_clip(clips["cfr"], tmp_path, ExportOptions(preset="png", in_frame=10,
                                                               out_frame=13))
    folder = Path(result.output)
    assert folder == tmp_path / "walk_10-13" and folder.is_dir()
    files = sorted(folder.iterdir())
    assert [f.name for f in files] == [f"frame_{k:06d}.png" for k in range(4)]
    for k, f in enumerate(files):
        with av.open(str(f)) as c:
            frame = next(c.decode(video=0))
            assert (c.streams.video[0].codec_context.name, frame.format.name) == ("png", "rgb24")
            assert (frame.width, frame.height) == (96, 64)
            # lossless: the pixels are the decoded source frame's
            assert frame_number_of(frame.to_ndarray(format="rgb24")) == 10 + k
    assert leftovers(tmp_path) == []


def test_training_set_has_sidecars_and_a_manifest(clips, tmp_path):
    items = [(clips["cfr"], ExportOptions(preset="ltx-train", caption="Walking.")),
             (clips["cfr"], ExportOptions(preset="ltx-train", caption="Second half.",
                                          in_frame=24)),
             (clips["odd"], ExportOptions(preset="ltx-train", caption="Too short.")),
             (clips["cfr"], ExportOptions(preset="ltx-train", caption=""))]
    batch = export_clips(items, tmp_path / "set", ExportOptions(preset="ltx-train"))
    ok = [r for r in batch.results if r.ok]
    assert len(ok) == 2
    assert [r.frames for r in ok] == [41, 17]  # 48 -> 41; 24 -> 17
    short, uncaptioned = [r for r in batch.results if not r.ok]
    assert str(clips["odd"]) in short.error and "at least 9" in short.error
    assert "caption" in uncaptioned.error
    lines = [json.loads(x) for x in Path(batch.manifest).read_text().splitlines()]
    assert lines == [{"video_path": Path(r.output).as_posix(), "caption": r.caption} for r in ok]
    assert [r.caption for r in ok] == ["Walking.", "Second half."]
    assert finals(tmp_path / "set") == ["metadata.jsonl", "walk.mp4", "walk.txt",
                                        "walk_24-40.mp4", "walk_24-40.txt"]  # frames used
    assert decode(Path(ok[1].output))["numbers"][0] == 24


def test_conform_frame_count():
    assert [conform_frame_count(n, 8) for n in (0, 1, 8, 9, 16, 17, 48)] == [0, 1, 1, 9, 9, 17, 41]
    assert [conform_frame_count(n, 4) for n in (4, 5, 32, 33)] == [1, 5, 29, 33]


# ---- trims, timing, rotation ---------------------------------------------------------------------

def test_trim_by_frame_indices_is_exact(clips, tmp_path):
    result = export_clip(clips["cfr"], tmp_path, ExportOptions(in_frame=5, out_frame=20))
    seen = decode(Path(result.output))
    assert seen["numbers"] == list(range(5, 21))
    assert seen["times"][0] == 0.0
    assert seen["duration"] == pytest.approx(16 / 24, abs=1 / 24)
    assert Path(result.output).name == "walk_5-20.mp4"
    record = comment_of(Path(result.output))
    assert (record["in_frame"], record["out_frame"]) == (5, 20)


def test_trim_in_seconds_keeps_the_frames_shown_at_the_in_and_out_points(clips, tmp_path):
    result = export_clip(clips["cfr"], tmp_path, ExportOptions(preset="webm", in_s=0.2,
                                                               out_s=0.8))
    seen = decode(Path(result.output))
    # 24 fps: frame 4 is shown at 0.2 s (0.167-0.208), frame 19 at 0.8 s (0.792-0.833)
    assert seen["numbers"] == list(range(4, 20))
    assert result.seconds == pytest.approx(16 / 24, abs=0.002)
    assert seen["duration"] == pytest.approx(result.seconds, abs=0.002)


def test_in_and_out_seconds_mean_what_the_players_marks_mean(clips, tmp_path):
    """Issue 16: the player's In 1.000 / Out 3.000 exports frames 24-72 (out included);
    the same times in seconds were 24-71."""
    by_frames = export_clip(clips["cfr"], tmp_path, ExportOptions(in_frame=24, out_frame=36))
    by_seconds = export_clip(clips["cfr"], tmp_path, ExportOptions(in_s=1.0, out_s=1.5))
    assert decode(Path(by_seconds.output))["numbers"] == list(range(24, 37))
    assert decode(Path(by_seconds.output))["numbers"] == decode(Path(by_frames.output))["numbers"]
    one = export_clip(clips["cfr"], tmp_path, ExportOptions(in_s=1.0, out_s=1.0))
    assert decode(Path(one.output))["numbers"] == [24]


def test_constant_frame_rate_picks_the_frame_shown_at_each_tick(clips, tmp_path):
    result = export_clip(clips["cfr"], tmp_path, ExportOptions(fps=10, in_s=0.5, out_s=1.5))
    seen = decode(Path(result.output))
    # to the end of frame 36, the one shown at the out point (1.5-1.542 s): 11 ticks
    assert seen["numbers"] == [int((0.5 + k / 10) * 24 + 1e-9) for k in range(11)]
    assert seen["times"] == pytest.approx([k / 10 for k in range(11)])
    assert seen["duration"] == pytest.approx(1.1, abs=0.1)


def test_variable_frame_rate_keeps_its_frame_times(clips, tmp_path):
    for preset in ("mp4", "webm"):
        result = export_clip(clips["vfr"], tmp_path, ExportOptions(preset=preset))
        seen = decode(Path(result.output))
        assert seen["numbers"] == list(range(len(VFR_PTS)))
        assert seen["times"] == pytest.approx(VFR_PTS, abs=0.0011)
        assert seen["duration"] == pytest.approx(0.74, abs=0.002)
        assert result.seconds == pytest.approx(0.74)
    cut = export_clip(clips["vfr"], tmp_path, ExportOptions(in_frame=3, out_frame=8))
    seen = decode(Path(cut.output))
    assert seen["numbers"] == [3, 4, 5, 6, 7, 8]
    assert seen["times"] == pytest.approx([t - VFR_PTS[3] for t in VFR_PTS[3:9]], abs=0.0011)
    assert seen["duration"] == pytest.approx(VFR_PTS[9] - VFR_PTS[3], abs=0.002)


def test_rotation_is_applied_to_the_pixels(clips, tmp_path):
    result = export_clip(clips["rot90"], tmp_path)
    # displayed upright (48x64 portrait) with no display matrix left to apply
    seen = decode(Path(result.output), rotation=90)
    assert seen["size"] == (48, 64)
    assert "DISPLAYMATRIX" not in seen["side_data"]
    # the number band written along the top of the 64x48 source is now a column on the side
    assert seen["numbers"] == list(range(12))


def decode_one(path: Path, index: int) -> np.ndarray:
    with av.open(str(path)) as c:
        for i, frame in enumerate(c.decode(video=0)):
            if i == index:
                return frame.to_ndarray(format="rgb24")
    raise IndexError(index)


def test_odd_sizes_become_even_for_yuv420p(clips, tmp_path):
    result = export_clip(clips["odd"], tmp_path)
    seen = decode(Path(result.output))
    assert seen["size"] == (64, 48) and seen["pix_fmt"] == "yuv420p"
    assert len(seen["numbers"]) == 6


def test_a_still_image_becomes_a_one_frame_video(clips, tmp_path):
    result = export_clip(clips["still"], tmp_path, ExportOptions(fps=25))
    seen = decode(Path(result.output))
    assert (seen["size"], len(seen["numbers"])) == ((40, 30), 1)
    assert result.seconds == pytest.approx(0.04)


def test_audio_is_kept_and_cut_to_the_same_range(clips, tmp_path):
    result = export_clip(clips["audio"], tmp_path, ExportOptions(in_frame=5, out_frame=14))
    with av.open(result.output) as c:
        audio = c.streams.audio[0]
        assert audio.codec_context.name == "aac"
        samples = sum(f.samples for f in c.decode(audio))
    # 10 frames at 25 fps = 0.4 s; the decoder may return the encoder's priming frame too
    assert 0.4 * 48000 <= samples <= 0.4 * 48000 + 2 * 1024
    assert decode(Path(result.output))["duration"] == pytest.approx(0.4, abs=0.03)
    webm = export_clip(clips["audio"], tmp_path, ExportOptions(preset="webm"))
    assert decode(Path(webm.output))["audio"] == ["libopus"] or \
        decode(Path(webm.output))["audio"] == ["opus"]
    silent = export_clip(clips["audio"], tmp_path, ExportOptions(audio=False))
    assert decode(Path(silent.output))["audio"] == []


def test_resize_pads_or_crops_keeping_the_aspect(clips, tmp_path):
    pad = export_clip(clips["cfr"], tmp_path, ExportOptions(width=64, height=64, fit="pad",
                                                            name="pad"))
    crop = export_clip(clips["cfr"], tmp_path, ExportOptions(width=64, height=64, fit="crop",
                                                             name="crop"))
    one_side = export_clip(clips["cfr"], tmp_path, ExportOptions(width=48, name="half"))
    padded, cropped = decode_one(Path(pad.output), 0), decode_one(Path(crop.output), 0)
    assert padded.shape[:2] == cropped.shape[:2] == (64, 64)
    # 96x64 in 64x64: scaled to 64x43, black bars above and below
    assert padded[:8].max() < 30 and padded[-8:].max() < 30
    assert padded[32].max() > 100
    # cropped: scaled to 96x64 then the middle 64 columns: no bars
    assert cropped[:, :4].mean() > 30 and cropped[:, -4:].mean() > 30
    assert decode(Path(one_side.output))["size"] == (48, 32)


# ---- names and no clobbering ---------------------------------------------------------------------

def test_existing_files_are_never_replaced_unless_asked(clips, tmp_path):
    first = export_clip(clips["cfr"], tmp_path, ExportOptions(in_frame=0, out_frame=3,
                                                              name="take"))
    second = export_clip(clips["cfr"], tmp_path, ExportOptions(in_frame=4, out_frame=7,
                                                               name="take"))
    assert [Path(r.output).name for r in (first, second)] == ["take.mp4", "take_2.mp4"]
    assert decode(Path(first.output))["numbers"] == [0, 1, 2, 3]
    third = export_clip(clips["cfr"], tmp_path, ExportOptions(in_frame=8, out_frame=9,
                                                              name="take", overwrite=True))
    assert third.output == first.output
    assert decode(Path(third.output))["numbers"] == [8, 9]
    assert finals(tmp_path) == ["take.mp4", "take_2.mp4"]


def test_a_file_name_target_is_used_as_given(clips, tmp_path):
    result = export_clip(clips["cfr"], tmp_path / "new" / "Final cut.mp4",
                         ExportOptions(in_frame=0, out_frame=1))
    assert result.output == str(tmp_path / "new" / "Final cut.mp4")
    with pytest.raises(ExportError, match=r"writes \.mp4 files, not \.webm"):
        export_clip(clips["cfr"], tmp_path / "x.webm")
    png = export_clip(clips["cfr"], tmp_path / "frames", ExportOptions(preset="png",
                                                                      out_frame=1))
    assert png.output == str(tmp_path / "frames")
    assert sorted(p.name for p in (tmp_path / "frames").iterdir()) == [
        "frame_000000.png", "frame_000001.png"]


@pytest.mark.parametrize("text, expected", [
    ("A cat, walking on the beach", "A_cat,_walking_on_the_beach"),
    ("../../etc/passwd", "etc_passwd"),
    ("..", "export"),
    ("...", "export"),
    ("", "export"),
    ("a/b\\c:d*e?f\"g<h>i|j", "a_b_c_d_e_f_g_h_i_j"),
    ("-rf --no-preserve-root", "rf_--no-preserve-root"),
    ("CON", "_CON"),
    ("nul.txt", "_nul.txt"),
    ("com1", "_com1"),
    ("console", "console"),
    ("line\nbreak\ttab\x00nul", "line_break_tab_nul"),
    ("trailing dots... ", "trailing_dots"),
    (".hidden", "hidden"),
    ("café ünïcode ✓", "café_ünïcode_✓"),
])
def test_sanitize_name(text, expected):
    assert sanitize_name(text) == expected


def test_sanitized_names_are_capped_in_bytes_and_stay_valid_utf8():
    name = sanitize_name("ö" * 500)
    assert len(name.encode("utf-8")) <= 120 and set(name) == {"ö"}
    assert len(sanitize_name("x" * 1000, max_bytes=50)) == 50


def test_name_from_prompt():
    assert name_from_prompt("A cat, walking on the beach at sunset! 4k, cinematic.") == \
        "A_cat_walking_on_the_beach_at_sunset_4k_cinematic"
    assert name_from_prompt("../../../") == "generation"
    assert len(name_from_prompt("word " * 100).split("_")) == 12


def test_a_name_cannot_leave_the_target_folder(clips, tmp_path):
    target = tmp_path / "out"
    result = export_clip(clips["cfr"], target, ExportOptions(name="../../escape", out_frame=1))
    assert Path(result.output).parent == target
    assert Path(result.output).name == "escape.mp4"


# ---- failures ------------------------------------------------------------------------------------

def test_a_missing_source_is_named_and_nothing_is_written(tmp_path):
    missing = tmp_path / "gone.mp4"
    with pytest.raises(ExportError) as info:
        export_clip(missing, tmp_path / "out")
    assert str(missing) in str(info.value) and "not found" in str(info.value)
    assert not (tmp_path / "out").exists() or finals(tmp_path / "out") == []


def test_a_file_that_is_not_media_is_named_with_the_reason(tmp_path):
    notes = tmp_path / "notes.mp4"
    notes.write_text("holiday notes, not a video\n" * 50, encoding="utf-8")
    with pytest.raises(ExportError) as info:
        export_clip(notes, tmp_path / "out")
    assert str(info.value).startswith(f"{notes}: not a media file")


def test_a_full_disk_inside_the_writer_leaves_nothing(clips, tmp_path, monkeypatch):
    """Fault injection where no tmpfs can be mounted: the PNG writer's fourth file fails with
    ENOSPC (``open`` is the standard library's, refused for that one path)."""
    import builtins

    real_open = builtins.open

    def open_until_full(file, *args, **kwargs):
        if str(file).endswith("frame_000003.png"):
            raise OSError(errno.ENOSPC, "No space left on device", str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", open_until_full)
    with pytest.raises(ExportError) as info:
        export_clip(clips["cfr"], tmp_path, ExportOptions(preset="png"))
    monkeypatch.undo()
    assert str(info.value) == f"{tmp_path / 'walk'}: cannot write it (no space left on the disk)"
    assert finals(tmp_path) == [] and leftovers(tmp_path) == []


def test_options_that_do_not_fit_the_source_say_why(clips, tmp_path):
    cases = [
        (ExportOptions(in_frame=10, out_frame=5), "after the out"),
        (ExportOptions(out_frame=99), "past the last frame (47)"),
        (ExportOptions(in_s=5.0), "past the end of the clip"),
        (ExportOptions(in_s=1.0, out_s=0.5), "is before the in point"),
        (ExportOptions(preset="ltx-train"), "needs a caption"),
        (ExportOptions(crf=80), "crf"),
        (ExportOptions(width=1), "width"),
    ]
    for options, words in cases:
        with pytest.raises(ExportError) as info:
            export_clip(clips["cfr"], tmp_path, options)
        assert words in str(info.value)
        assert str(clips["cfr"]) in str(info.value)
    assert finals(tmp_path) == [] and leftovers(tmp_path) == []


def test_a_folder_whose_parent_is_a_file_is_a_clear_error(clips, tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    with pytest.raises(ExportError) as info:
        export_clip(clips["cfr"], blocker / "out")
    assert str(blocker / "out") in str(info.value)
    assert "cannot create the folder" in str(info.value)


def test_a_refused_rename_leaves_no_file_under_the_final_name(clips, tmp_path, monkeypatch):
    # Root ignores permission bits, so the refusal comes from the rename itself.
    def refuse(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", str(args[-1]))

    monkeypatch.setattr(os, "link", refuse)
    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(ExportError) as info:
        export_clip(clips["cfr"], tmp_path, ExportOptions(out_frame=3))
    assert str(tmp_path / "walk_0-3.mp4") in str(info.value)
    assert "permission denied" in str(info.value)
    monkeypatch.undo()
    assert finals(tmp_path) == [] and leftovers(tmp_path) == []


@pytest.fixture
def tmpfs(tmp_path):
    """mount(size, read_only) -> a fresh tmpfs folder; skips where mounting is not allowed."""
    mounted = []

    def mount(size: str, read_only: bool = False) -> Path:
        point = tmp_path / f"mnt{len(mounted)}"
        point.mkdir()
        options = f"size={size}" + (",ro" if read_only else "")
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(point)],
                              capture_output=True)
        if done.returncode != 0:
            pytest.skip("cannot mount a tmpfs here (needs root in a namespace that allows it)")
        mounted.append(point)
        return point

    yield mount
    for point in mounted:
        subprocess.run(["umount", str(point)], capture_output=True)


def test_a_read_only_file_system_is_a_clear_error(clips, tmpfs):
    folder = tmpfs("1m", read_only=True)
    with pytest.raises(ExportError) as info:
        export_clip(clips["cfr"], folder)
    assert str(folder) in str(info.value) and "read-only" in str(info.value)
    assert list(folder.iterdir()) == []


@pytest.mark.parametrize("preset", ["mp4", "png"])
def test_a_full_disk_is_a_clear_error_and_leaves_nothing(clips, tmpfs, preset):
    folder = tmpfs("64k")
    (folder / "filler").write_bytes(b"\0" * 40 * 1024)
    with pytest.raises(ExportError) as info:
        # lossless, so it cannot fit
        export_clip(clips["cfr"], folder, ExportOptions(preset=preset, crf=0 if preset == "mp4"
                                                        else None))
    assert "no space left" in str(info.value) and str(folder) in str(info.value)
    assert sorted(p.name for p in folder.iterdir()) == ["filler"]


def test_a_file_size_limit_is_a_clear_error(clips, tmp_path):
    """A write refused by the OS (RLIMIT_FSIZE, in a child process) during encoding."""
    script = textwrap.dedent(f"""
        import resource, signal, sys
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (20000, 20000))
        from studio.core.export import ExportError, ExportOptions, export_clip
        try:
            export_clip({str(clips["cfr"])!r}, {str(tmp_path)!r}, ExportOptions(crf=0))
        except ExportError as err:
            print(err)
            sys.exit(3)
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 3, done.stderr
    assert str(tmp_path / "walk.mp4") in done.stdout and "larger than" in done.stdout
    assert finals(tmp_path) == [] and leftovers(tmp_path) == []


def test_a_process_killed_mid_export_leaves_no_file_under_the_final_name(clips, tmp_path):
    script = textwrap.dedent(f"""
        import sys
        from studio.core.export import ExportOptions, export_clip

        def progress(done, total):
            if done == 10:
                print("halfway", flush=True)
                sys.stdin.readline()  # blocks until the parent kills us

        export_clip({str(clips["cfr"])!r}, {str(tmp_path)!r}, ExportOptions(), progress=progress)
        print("finished", flush=True)
    """)
    child = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "halfway"
        child.kill()
    finally:
        child.wait(timeout=30)
    assert finals(tmp_path) == []
    assert len(leftovers(tmp_path)) == 1  # the hidden temporary file, never a final name


# ---- progress, cancel, metadata, batches, generated frames ---------------------------------------

def test_progress_counts_frames_and_cancel_removes_the_partial_file(clips, tmp_path):
    seen = []
    export_clip(clips["cfr"], tmp_path, ExportOptions(out_frame=9),
                progress=lambda done, total: seen.append((done, total)))
    assert seen == [(k, 10) for k in range(1, 11)]

    token = CancelToken()

    def cancel_at_five(done, total):
        if done == 5:
            token.cancel()

    with pytest.raises(Cancelled):
        export_clip(clips["cfr"], tmp_path / "cancelled", progress=cancel_at_five, cancel=token)
    assert finals(tmp_path / "cancelled") == [] and leftovers(tmp_path / "cancelled") == []


def test_metadata_goes_into_the_comment_tag_and_a_sidecar(clips, tmp_path):
    settings = {"model": "ltx-video-2b", "seed": 42, "prompt": "A cat ✓"}
    for preset in ("mp4", "webm"):
        result = export_clip(clips["cfr"], tmp_path, ExportOptions(preset=preset, out_frame=2,
                                                                   metadata=settings))
        assert comment_of(Path(result.output))["settings"] == settings
        sidecar = Path(result.sidecars[0])
        assert sidecar.name == Path(result.output).stem + ".json"
        assert json.loads(sidecar.read_text(encoding="utf-8"))["settings"] == settings


def test_a_batch_reports_each_source_and_counts_progress_over_all(clips, tmp_path):
    seen = []
    results = []
    batch = export_clips([clips["cfr"], tmp_path / "missing.mp4", clips["odd"]], tmp_path / "out",
                         ExportOptions(preset="gif"), progress=lambda d, t: seen.append((d, t)),
                         on_result=results.append)
    assert [r.ok for r in batch.results] == [True, False, True] and not batch.ok
    assert results == batch.results
    assert "missing.mp4: file not found" in batch.results[1].error
    total = batch.results[0].frames + batch.results[2].frames
    assert seen[-1] == (total, total)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_a_file_name_for_several_sources_is_refused(clips, tmp_path):
    batch = export_clips([clips["cfr"], clips["odd"]], tmp_path / "one.mp4")
    assert not any(r.ok for r in batch.results)
    assert "give a folder" in batch.results[0].error


def test_a_gif_too_large_for_memory_is_refused_before_the_run(clips, tmp_path):
    with pytest.raises(ExportError, match=r"too long or too large for a GIF: 30 frames of "
                                          r"8000x5333"):
        export_clip(clips["cfr"], tmp_path, ExportOptions(preset="gif", width=8000))
    assert finals(tmp_path) == []


def test_plan_shows_the_conformed_result_before_the_run(clips):
    plan = plan_export(clips["cfr"], ExportOptions(preset="ltx-train", caption="x", fps=12))
    assert (plan.frames, plan.width, plan.height) == (17, 96, 64)  # 24 frames at 12 -> 17
    assert plan.seconds == pytest.approx(17 / 12)


def test_encode_to_writes_exactly_the_given_path(clips, tmp_path):
    dest = tmp_path / "plain.part"
    result = encode_to(clips["cfr"], dest, ExportOptions(in_frame=2, out_frame=4, audio=False))
    assert result.frames == 3 and finals(tmp_path) == ["plain.part"]
    assert decode(dest)["numbers"] == [2, 3, 4]


def test_write_frames_for_generations(tmp_path):
    frames = (frame_image(i, 64, 48) for i in range(9))
    settings = {"prompt": "A red fox runs through snow", "seed": 7, "steps": 8}
    result = write_frames(frames, tmp_path, fps=24,
                          options=ExportOptions(name=name_from_prompt(settings["prompt"]),
                                                metadata=settings))
    assert Path(result.output).name == "A_red_fox_runs_through_snow.mp4"
    seen = decode(Path(result.output))
    assert seen["numbers"] == list(range(9)) and seen["size"] == (64, 48)
    assert comment_of(Path(result.output))["settings"] == settings
    assert (result.frames, result.seconds) == (9, pytest.approx(9 / 24))
    gif = write_frames([frame_image(i, 64, 48) for i in range(4)], tmp_path / "loop.gif", fps=8,
                       options=ExportOptions(preset="gif"))
    assert decode(Path(gif.output))["numbers"] == [0, 1, 2, 3]
    assert leftovers(tmp_path) == []


def test_a_name_that_is_not_utf8_gives_a_valid_name():
    """Issue 14 item 2: `studio export good.mp4 $'bad\\xff.mp4' img.png` died here."""
    name = sanitize_name(os.fsdecode(b"bad\xff\xfeclip"))
    assert name == "bad_clip"
    name.encode("utf-8")


def test_an_export_cleans_what_killed_exports_left_in_its_folder(tmp_path):
    """Hidden .part files of killed runs in the target folder, a day old, go at the next
    write there; a fresh one (another export running now) stays."""
    from studio.core.paths import TEMP_PREFIX

    out = tmp_path / "out"
    out.mkdir()
    stale = out / f"{TEMP_PREFIX}dead.mp4.part"
    fresh = out / f"{TEMP_PREFIX}live.mp4.part"
    for path in (stale, fresh):
        path.write_bytes(b"half")
    old = time.time() - 2 * 24 * 3600
    os.utime(stale, (old, old))
    write_frames([np.zeros((32, 32, 3), np.uint8)] * 3, out / "clip.mp4", 24.0,
                 ExportOptions(audio=False))
    assert not stale.exists() and fresh.exists() and (out / "clip.mp4").is_file()


def test_a_size_the_encoder_changes_is_a_warning(clips, tmp_path):
    """Issue 16: --width 321 --height 181 wrote 320x180 and said "warnings": []."""
    result = export_clip(clips["cfr"], tmp_path, ExportOptions(width=321, height=181))
    assert (result.width, result.height) == (320, 180)
    assert any("width 321 became 320" in w and "height 181 became 180" in w
               for w in result.warnings), result.warnings
    exact = export_clip(clips["cfr"], tmp_path, ExportOptions(width=320, height=180))
    assert exact.warnings == []
