"""core.frames on real files written by PyAV: every frame ``frame_at`` returns is pixel-identical
to sequential decoding (B-frames, VFR, open GOP, edit lists, GIF, odd starts), whatever order it
is asked in; sampling picks the documented indices; sequential access reuses the decoder
without seeking; rotation, stills, thumbnails and bad files behave."""

from __future__ import annotations

import random
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from studio.core import frames as frames_mod
from studio.core.frames import Frame, FrameReader
from studio.core.media import (
    AudioOnlyError,
    EmptyFileError,
    MediaError,
    MissingFileError,
    NotMediaError,
    TruncatedError,
    UnsupportedCodecError,
    probe,
)
from tests.media_factory import (
    EXPECTED,
    EXPECTED_ERRORS,
    VFR_PTS,
    frame_image,
    frame_number_of,
    make_gif,
    make_video,
)

# ---- files this module needs beyond the shared media set ------------------------------------------


def _encode(path: Path, frames: int, codec: str, options: dict, width: int = 64, height: int = 48,
            fps: int = 24, pts: list[int] | None = None, time_base: Fraction | None = None,
            pix_fmt: str = "yuv420p", display_matrix: list[int] | None = None) -> Path:
    """Numbered frames (media_factory.frame_image) through any encoder and options."""
    with av.open(str(path), "w") as out:
        kwargs = {"time_base": time_base} if time_base else {}
        stream = out.add_stream(codec, rate=fps, options=options, **kwargs)
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        if display_matrix is not None:
            stream.set_display_matrix(display_matrix)
        tb = time_base or Fraction(1, fps)
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(frame_image(i, width, height), format="rgb24")
            frame.pts = pts[i] if pts is not None else i
            frame.time_base = tb
            for packet in stream.encode(frame.reformat(format=pix_fmt)):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def _remux(src: Path, dst: Path, from_keyframe: int, zero_at_frame: int | None) -> Path:
    """Copy the packets from the ``from_keyframe``-th keyframe on (as a cut with stream copy
    does). ``zero_at_frame``: shift timestamps so that frame (by presentation index in the
    source) is at 0, making earlier ones negative (an MP4 edit list then hides them);
    None keeps the timestamps."""
    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        stream = inp.streams.video[0]
        packets = [p for p in inp.demux(stream) if p.size]
        keys = [i for i, p in enumerate(packets) if p.is_keyframe]
        shift = sorted(p.pts for p in packets)[zero_at_frame] if zero_at_frame is not None else 0
        out_stream = out.add_stream_from_template(stream)
        for packet in packets[keys[from_keyframe]:]:
            packet.pts -= shift
            packet.dts -= shift
            packet.stream = out_stream
            out.mux(packet)
    return dst


def _raw_h264(src: Path, dst: Path) -> Path:
    """The bare H.264 stream: no container, so no timestamps at all."""
    with av.open(str(src)) as inp, av.open(str(dst), "w", format="h264") as out:
        stream = inp.streams.video[0]
        out_stream = out.add_stream_from_template(stream)
        for packet in inp.demux(stream):
            if packet.size:
                packet.stream = out_stream
                out.mux(packet)
    return dst


X264_OPEN_GOP = {"x264-params": "keyint=8:min-keyint=8:bframes=3:open-gop=1:scenecut=0"}
X265_OPEN_GOP = {"x265-params": "keyint=8:min-keyint=8:bframes=3:open-gop=1:scenecut=0:log-level=error"}
# Irregular frame times in ms (a phone's variable frame rate), starting at 0.
VFR_MS = [0, 33, 50, 117, 150, 233, 250, 300, 400, 433, 450, 517, 600, 617, 700, 733, 800, 850,
          933, 1000, 1017, 1100, 1133, 1200]


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("frames")
    f: dict[str, Path] = {}
    f["vfr_bframes_mkv"] = _encode(d / "vfr_bframes.mkv", len(VFR_MS), "libx264",
                                   {"x264-params": "keyint=6:min-keyint=6:bframes=2:scenecut=0"},
                                   pts=VFR_MS, time_base=Fraction(1, 1000))
    f["open_gop_mp4"] = _encode(d / "open_gop.mp4", 40, "libx264", X264_OPEN_GOP)
    f["open_gop_mkv"] = _encode(d / "open_gop.mkv", 40, "libx264", X264_OPEN_GOP)
    f["hevc_open_gop"] = _encode(d / "hevc_open_gop.mkv", 40, "libx265", X265_OPEN_GOP)
    # Cut at a CRA keyframe: its leading (RASL) pictures are in the file, the decoder drops them.
    f["hevc_cut_at_cra"] = _remux(f["hevc_open_gop"], d / "hevc_cut_at_cra.mkv", 1, None)
    # Cut three frames after an open-GOP keyframe: an MP4 edit list hides the frames before.
    f["edit_list_mp4"] = _remux(f["open_gop_mp4"], d / "edit_list.mp4", 2, 19)
    # Cut at the second open-GOP keyframe (frame 8) of a Matroska file: its leading pictures get
    # negative times, which Matroska stores as none at all.
    f["cut_at_open_gop_mkv"] = _remux(f["open_gop_mkv"], d / "cut_open_gop.mkv", 1, 8)
    f["raw_h264"] = _raw_h264(f["open_gop_mp4"], d / "raw.h264")
    f["mpeg4_bframes_avi"] = _encode(d / "mpeg4_bframes.avi", 30, "mpeg4", {"bf": "2", "g": "7"})
    f["first_pts_not_zero_mkv"] = make_video(d / "late_start.mkv", frames=12, fps=25,
                                             vfr_pts=[1.5 + i / 25 for i in range(12)], bframes=2)
    f["first_pts_not_zero_ts"] = make_video(d / "late_start.ts", frames=20, fps=25, gop=5, bframes=2)
    f["long_gop10"] = make_video(d / "long_gop10.mp4", width=32, height=24, frames=240, fps=24,
                                 gop=10, bframes=2, preset="ultrafast")
    f["gif_120"] = make_gif(d / "anim120.gif", frames=12, fps=10)
    return f


def sequential(path: Path) -> list[np.ndarray]:
    """Every frame as plain sequential decoding gives it: the reference for exactness."""
    with av.open(str(path)) as container:
        return [vf.to_ndarray(format="rgb24") for vf in container.decode(video=0)]


EXACT_FROM_MEDIA = ["h264_cfr", "h264_vfr", "gif_anim", "vp9_webm", "mjpeg_avi", "hevc_10bit",
                    "odd_101x57", "h264_audio", "h264_one_frame"]
EXACT_FROM_HERE = ["vfr_bframes_mkv", "open_gop_mp4", "open_gop_mkv", "hevc_open_gop",
                   "hevc_cut_at_cra", "edit_list_mp4", "cut_at_open_gop_mkv", "raw_h264",
                   "mpeg4_bframes_avi",
                   "first_pts_not_zero_mkv", "first_pts_not_zero_ts", "gif_120"]


def _path(name: str, media, files) -> Path:
    return media[name] if name in media else files[name]


@pytest.mark.parametrize("name", EXACT_FROM_MEDIA + EXACT_FROM_HERE)
def test_frame_at_equals_sequential_decoding_in_any_order(name, media, files):
    path = _path(name, media, files)
    reference = sequential(path)
    with FrameReader(path) as reader:
        assert reader.frame_count == len(reference)
        n = len(reference)
        orders = {
            "forward": list(range(n)),
            "backward": list(range(n - 1, -1, -1)),
            "random": random.Random(name).sample(range(n), n),
        }
        for order_name, order in orders.items():
            for i in order:
                frame = reader.frame_at(i)
                assert frame.index == i
                assert frame.image.dtype == np.uint8 and frame.image.shape == reference[i].shape
                assert np.array_equal(frame.image, reference[i]), f"{order_name}: frame {i} differs"


@pytest.mark.parametrize("name", EXACT_FROM_MEDIA + EXACT_FROM_HERE)
def test_an_index_read_from_the_cache_gives_the_same_exact_frames(name, media, files, tmp_path):
    """A second reader takes the index the first stored (core.frame_index_cache) instead of
    building it, and every frame is still the one sequential decoding gives."""
    from studio.core.frame_index_cache import FrameIndexCache

    path = _path(name, media, files)
    cache = FrameIndexCache(tmp_path / "index-cache")
    reference = sequential(path)
    with FrameReader(path, index_cache=cache) as built:
        assert built.frame_count == len(reference)
        assert built.index_source == "built"
        times = [built.time_of(i) for i in range(built.frame_count)]
        duration = built.duration_s
    with FrameReader(path, index_cache=cache) as reader:
        assert reader.frame_count == len(reference)
        assert reader.index_source == "cache"
        assert [reader.time_of(i) for i in range(reader.frame_count)] == times
        assert reader.duration_s == duration
        for i in random.Random(name).sample(range(len(reference)), len(reference)):
            assert np.array_equal(reader.frame_at(i).image, reference[i]), f"frame {i} differs"


@pytest.mark.parametrize("name", ["h264_cfr", "vfr_bframes_mkv", "open_gop_mp4", "hevc_open_gop",
                                  "mpeg4_bframes_avi", "gif_anim"])
def test_frame_index_is_the_encoded_frame_number(name, media, files):
    """The index counts frames in presentation order: frame i carries the number i."""
    path = _path(name, media, files)
    with FrameReader(path) as reader:
        numbers = [frame_number_of(reader.frame_at(i).image) for i in range(reader.frame_count)]
    assert numbers == list(range(len(numbers)))


@pytest.mark.parametrize("name", ["open_gop_mp4", "hevc_open_gop", "h264_cfr", "vfr_bframes_mkv"])
def test_each_jump_back_costs_one_seek(name, media, files):
    """Going backwards frame by frame, every frame needs one seek, to the right keyframe the
    first time: for a leading picture of an open GOP that is the keyframe of the GOP before
    (from its own keyframe the decoder drops it or shows it broken)."""
    path = _path(name, media, files)
    with FrameReader(path) as reader:
        n = reader.frame_count
        reader.frame_at(n - 1)
        for i in range(n - 2, -1, -1):
            seeks = reader.seek_count
            reader.frame_at(i)
            assert reader.seek_count == seeks + 1, f"frame {i}"


def test_leading_frames_dropped_by_the_decoder_are_not_counted(files):
    """Cut at an HEVC CRA: the packets promise the leading pictures, decoding never shows them.
    frame_count says what decoding gives from the first look."""
    path = files["hevc_cut_at_cra"]
    with av.open(str(path)) as container:
        packets = sum(1 for p in container.demux(video=0) if p.size)
    reference = sequential(path)
    assert len(reference) < packets  # the case this test is about
    with FrameReader(path) as reader:
        assert reader.frame_count == len(reference)
        assert frame_number_of(reader.frame_at(0).image) == frame_number_of(reference[0])


def test_packets_without_timestamps(files):
    """Leading pictures with no pts: frames are learnt by decoding once, and still found by
    seeking. A bare stream with no timestamps at all: frames are counted from the start."""
    path = files["cut_at_open_gop_mkv"]
    with av.open(str(path)) as container:
        assert None in [p.pts for p in container.demux(video=0) if p.size]
    numbers = [frame_number_of(image) for image in sequential(path)]
    with FrameReader(path) as reader:
        assert frame_number_of(reader.frame_at(reader.frame_count - 1).image) == 39
        seeks = reader.seek_count
        assert frame_number_of(reader.frame_at(20).image) == numbers[20]
        assert reader.seek_count == seeks + 1
    with FrameReader(files["raw_h264"]) as reader:
        assert reader.frame_count == 40
        assert [frame_number_of(reader.frame_at(i).image) for i in (39, 3, 4)] == [39, 3, 4]
        assert reader.fps > 0


def test_edit_list_hides_the_frames_before_the_cut(files):
    with FrameReader(files["edit_list_mp4"]) as reader:
        assert frame_number_of(reader.frame_at(0).image) == 19
        assert reader.time_of(0) == 0.0
        assert reader.frame_count == 40 - 19


# ---- time and index ----------------------------------------------------------------------------


def test_times_of_a_constant_rate_file(media):
    with FrameReader(media["h264_cfr"]) as reader:
        assert reader.fps == pytest.approx(24.0)
        assert reader.duration_s == pytest.approx(2.0)
        for i in range(reader.frame_count):
            assert reader.time_of(i) == pytest.approx(i / 24, abs=1e-6)
            assert reader.index_at(reader.time_of(i)) == i
            assert reader.index_at(reader.time_of(i) + 0.5 / 24) == i  # half a frame later
        assert reader.index_at(-1.0) == 0
        assert reader.index_at(1000.0) == reader.frame_count - 1
        assert reader.frame_at(5).time_s == pytest.approx(5 / 24, abs=1e-6)


def test_times_of_a_variable_rate_file(media, files):
    with FrameReader(media["h264_vfr"]) as reader:
        assert [reader.time_of(i) for i in range(reader.frame_count)] == pytest.approx(VFR_PTS, abs=1e-4)
        assert reader.index_at(0.139) == 2  # 0.06 is still shown until 0.14
        assert reader.index_at(0.14) == 3
        # frames / duration, the last frame lasting 1/25 s (the file's nominal rate)
        assert reader.duration_s == pytest.approx(VFR_PTS[-1] + 1 / 25)
        assert reader.fps == pytest.approx(len(VFR_PTS) / (VFR_PTS[-1] + 1 / 25))
    with FrameReader(files["vfr_bframes_mkv"]) as reader:
        assert [reader.time_of(i) for i in range(reader.frame_count)] == \
            pytest.approx([t / 1000 for t in VFR_MS], abs=1e-6)


@pytest.mark.parametrize("name", ["first_pts_not_zero_mkv", "first_pts_not_zero_ts"])
def test_time_counts_from_the_first_frame(name, files):
    with av.open(str(files[name])) as container:
        first_pts = next(p.pts for p in container.demux(video=0) if p.size)
    assert first_pts != 0  # the case this test is about
    with FrameReader(files[name]) as reader:
        assert reader.time_of(0) == 0.0
        assert reader.time_of(1) == pytest.approx(1 / 25, abs=1e-3)
        assert reader.index_at(0.0) == 0


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fps_and_duration_agree_with_probe(media, name):
    info = probe(media[name])
    with FrameReader(media[name]) as reader:
        assert reader.frame_count == info.frame_count
        assert reader.duration_s == pytest.approx(info.duration_s, abs=0.011)
        assert reader.fps == pytest.approx(info.fps, rel=0.01)


# ---- sample --------------------------------------------------------------------------------------


def test_sample_count_picks_rounded_linspace(media):
    reference = sequential(media["h264_cfr"])  # 48 frames at 24 fps
    with FrameReader(media["h264_cfr"]) as reader:
        # linspace(0, 47, 5) = 0, 11.75, 23.5, 35.25, 47
        assert reader.sample_indices(count=5) == [0, 12, 24, 35, 47]
        frames = reader.sample(count=5)
        assert [f.index for f in frames] == [0, 12, 24, 35, 47]
        for f in frames:
            assert isinstance(f, Frame)
            assert f.time_s == pytest.approx(f.index / 24, abs=1e-6)
            assert np.array_equal(f.image, reference[f.index])
        # the range is the frames shown at start_s and end_s: 12 (0.5 s) to 36 (1.5 s)
        assert reader.sample_indices(count=3, start_s=0.5, end_s=1.5) == [12, 24, 36]
        assert reader.sample_indices(count=3, start_s=0.52, end_s=1.5) == [12, 24, 36]
        assert reader.sample_indices(count=1) == [0]
        assert reader.sample_indices(count=4, start_s=1.0) == [24, 32, 39, 47]
        # more wanted than the range holds: each frame once
        assert reader.sample_indices(count=10, start_s=0.0, end_s=3 / 24) == [0, 1, 2, 3]
        assert reader.sample_indices(count=2, end_s=100.0) == [0, 47]


def test_sample_fps_picks_the_frame_shown_at_each_tick(media):
    with FrameReader(media["h264_cfr"]) as reader:
        # ticks 0, 0.25, ..., 1.75 (the last frame starts at 47/24 = 1.958 s)
        assert reader.sample_indices(fps=4) == [0, 6, 12, 18, 24, 30, 36, 42]
        assert reader.sample_indices(fps=2, start_s=0.5, end_s=1.5) == [12, 24, 36]
        # faster than the file: each frame once
        assert reader.sample_indices(fps=100, end_s=0.1) == [0, 1, 2]
    with FrameReader(media["h264_vfr"]) as reader:
        # VFR_PTS = 0, .04, .06, .14, .18, .30, .32, .40, .52, .54, .60, .70
        ticks = [k / 10 for k in range(8)]
        expected = sorted({max(i for i, t in enumerate(VFR_PTS) if t <= tick + 1e-9) for tick in ticks})
        assert reader.sample_indices(fps=10) == expected
        frames = reader.sample(fps=10)
        assert [f.index for f in frames] == expected
        assert [f.time_s for f in frames] == pytest.approx([VFR_PTS[i] for i in expected], abs=1e-4)


@pytest.mark.parametrize("kwargs, message", [
    ({}, "exactly one"),
    ({"count": 2, "fps": 1.0}, "exactly one"),
    ({"count": 0}, "at least 1"),
    ({"fps": 0.0}, "positive"),
    ({"fps": float("nan")}, "positive"),
    ({"count": 2, "start_s": 1.0, "end_s": 0.5}, "after"),
    ({"count": 2, "start_s": -1.0}, ">= 0"),
])
def test_sample_rejects_bad_arguments(media, kwargs, message):
    with FrameReader(media["h264_cfr"]) as reader, pytest.raises(ValueError, match=message):
        reader.sample(**kwargs)


def test_sample_decodes_about_a_gop_per_frame(files):
    """240 frames, a keyframe every 10: each of 8 evenly spaced exact frames costs at most a
    GOP and the decoder's reordering delay, not the frames between them."""
    path = files["long_gop10"]
    reference = sequential(path)
    with FrameReader(path) as reader:
        frames = reader.sample(count=8)
        assert [f.index for f in frames] == [0, 34, 68, 102, 137, 171, 205, 239]
        for f in frames:
            assert np.array_equal(f.image, reference[f.index])
        assert reader.decoded_count <= 8 * (10 + 6)
        assert reader.seek_count <= 8


def test_sample_within_one_gop_does_not_seek(files):
    with FrameReader(files["long_gop10"]) as reader:
        reader.frame_at(50)  # keyframes at 0, 10, 20, ...
        seeks = reader.seek_count
        frames = reader.sample(count=4, start_s=51 / 24, end_s=59 / 24)
        assert [f.index for f in frames] == [51, 54, 56, 59]
        assert reader.seek_count == seeks


# ---- reuse of the open container ---------------------------------------------------------------


@pytest.mark.parametrize("name", ["h264_cfr", "open_gop_mp4", "vfr_bframes_mkv", "gif_anim"])
def test_sequential_access_decodes_each_frame_once_without_seeking(name, media, files):
    path = _path(name, media, files)
    with FrameReader(path) as reader:
        n = reader.frame_count
        reader.frame_at(0)
        seeks = reader.seek_count
        for i in range(1, n):
            reader.frame_at(i)
        assert reader.seek_count == seeks
        assert reader.decoded_count == n


def test_playback_that_skips_frames_does_not_seek(files):
    with FrameReader(files["long_gop10"]) as reader:
        reader.frame_at(0)
        seeks = reader.seek_count
        for i in range(2, 120, 3):  # a player behind the clock drops frames
            reader.frame_at(i)
        assert reader.seek_count == seeks
        assert reader.decoded_count <= 121


def test_going_back_or_far_ahead_seeks(files):
    with FrameReader(files["long_gop10"]) as reader:
        reader.frame_at(100)
        seeks = reader.seek_count
        reader.frame_at(30)
        assert reader.seek_count == seeks + 1
        decoded = reader.decoded_count
        reader.frame_at(200)  # ten GOPs ahead: seek instead of decoding 170 frames
        assert reader.seek_count == seeks + 2
        assert reader.decoded_count - decoded < 25


@pytest.mark.parametrize("cores, sparse_threads", [(2, "slice"), (1, "slice"), (8, "frame")])
def test_sparse_requests_on_few_cores_decode_with_slice_threads(files, monkeypatch, cores,
                                                                sparse_threads):
    """A sample whose frames each need a seek decodes with slice threads on 2 cores or fewer
    (frame threads' pipeline is flushed at every seek); a run of frames keeps frame threads.
    The frames are exact either way."""
    path = files["long_gop10"]
    reference = sequential(path)
    monkeypatch.setattr(frames_mod.os, "cpu_count", lambda: cores)
    with FrameReader(path) as reader:
        assert reader.decoder_threads is None
        frames = reader.sample(count=6)  # about 48 frames apart: a seek each
        assert reader.decoder_threads == sparse_threads
        assert all(np.array_equal(f.image, reference[f.index]) for f in frames)
        for i in range(100, 110):  # then playback, on the same decoder
            assert np.array_equal(reader.frame_at(i).image, reference[i])
    with FrameReader(path) as reader:
        frames = list(reader.iter_frames(range(20, 30)))  # one run: frame threads
        assert reader.decoder_threads == "frame"
        assert all(np.array_equal(f.image, reference[f.index]) for f in frames)


def test_same_index_again_is_free(media):
    with FrameReader(media["h264_cfr"]) as reader:
        first = reader.frame_at(20)
        decoded, seeks = reader.decoded_count, reader.seek_count
        again = reader.frame_at(20)
        assert np.array_equal(first.image, again.image)
        assert (reader.decoded_count, reader.seek_count) == (decoded, seeks)


# ---- rotation -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name, clockwise", [("h264_rot90", 90), ("h264_rot180", 180),
                                             ("h264_rot270", 270)])
def test_rotation_from_the_display_matrix(media, name, clockwise):
    info = probe(media[name])
    assert info.rotation == clockwise
    reference = sequential(media[name])  # as coded, unrotated
    with FrameReader(media[name]) as reader:
        for i in (0, 5, 11):
            image = reader.frame_at(i).image
            assert image.shape == (info.height, info.width, 3)
            # np.rot90 turns counter-clockwise: k = -1 is a quarter turn clockwise
            assert np.array_equal(image, np.rot90(reference[i], k=-clockwise // 90))
            assert frame_number_of(image, rotation=info.rotation) == i
        thumb = reader.thumbnail(32)
        assert thumb.shape[:2] == ((32, 24) if clockwise in (90, 270) else (24, 32))


def _matrix(a: int, b: int, c: int, d: int) -> list[int]:
    one = 1 << 16
    return [a * one, b * one, 0, c * one, d * one, 0, 0, 0, 1 << 30]


@pytest.mark.parametrize("abcd, expected", [
    # (a, b, c, d) maps a pixel (x, y) to (a*x + c*y, b*x + d*y), y down, as FFmpeg reads it
    ((-1, 0, 0, 1), lambda img: img[:, ::-1]),  # mirrored left-right
    ((1, 0, 0, -1), lambda img: img[::-1]),  # upside down
    ((0, 1, 1, 0), lambda img: img.transpose(1, 0, 2)),  # FFmpeg's transpose=cclock_flip
    ((0, -1, -1, 0), lambda img: img.transpose(1, 0, 2)[::-1, ::-1]),  # transpose=clock_flip
])
def test_mirroring_display_matrices(tmp_path, abcd, expected):
    path = _encode(tmp_path / "mirrored.mp4", 3, "libx264", {}, display_matrix=_matrix(*abcd))
    reference = sequential(path)
    with FrameReader(path) as reader:
        for i in range(3):
            assert np.array_equal(reader.frame_at(i).image, expected(reference[i]))


# ---- stills -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name, size", [("png", (30, 40)), ("jpeg", (30, 40)), ("webp", (30, 40)),
                                        ("gif_still", (32, 48))])
def test_still_images(media, name, size):
    with FrameReader(media[name]) as reader:
        assert reader.frame_count == 1
        assert reader.fps == 0.0
        assert reader.time_of(0) == 0.0
        frame = reader.frame_at(0)
        assert frame.image.shape == (*size, 3) and frame.image.dtype == np.uint8
        assert frame_number_of(frame.image) == 0
        if name == "png":
            assert np.array_equal(frame.image, frame_image(0, 40, 30))
        assert [f.index for f in reader.sample(count=5)] == [0]
        height, width = size
        assert reader.thumbnail(20).shape == (round(height * 20 / width), 20, 3)
        with pytest.raises(IndexError, match="out of range"):
            reader.frame_at(1)


def test_jpeg_exif_orientation_is_applied(media):
    """Orientation 6 (turn a quarter clockwise), which FFmpeg turns into a display matrix."""
    info = probe(media["jpeg_exif_rot90"])
    with FrameReader(media["jpeg_exif_rot90"]) as reader:
        image = reader.frame_at(0).image
        assert image.shape == (info.height, info.width, 3) == (40, 30, 3)
        upright = np.rot90(frame_image(0, 40, 30), k=-1)  # lossy JPEG: close, not equal
        assert np.abs(image.astype(int) - upright.astype(int)).mean() < 10
        assert reader.thumbnail(20).shape == (20, 15, 3)


def test_animated_webp_reads_like_a_video(media):
    with FrameReader(media["webp_anim"]) as reader:
        assert reader.frame_count == 6
        assert reader.fps == pytest.approx(10.0)
        assert reader.time_of(3) == pytest.approx(0.3)
        for i in (5, 0, 3):
            # lossless: the very pixels written
            assert np.array_equal(reader.frame_at(i).image, frame_image(i, 48, 32))
        assert reader.thumbnail(24).shape == (16, 24, 3)


# ---- out of range and bad files ----------------------------------------------------------------


def test_index_out_of_range(media):
    path = media["h264_cfr"]
    with FrameReader(path) as reader:
        for bad in (-1, 48, 10_000):
            with pytest.raises(IndexError) as err:
                reader.frame_at(bad)
            assert str(path) in str(err.value) and "48 frames" in str(err.value)
        with pytest.raises(IndexError):
            reader.time_of(48)
        with pytest.raises(TypeError):
            reader.frame_at(1.5)
        assert reader.frame_at(np.int64(47)).index == 47


ERROR_CLASSES = {"MissingFileError": MissingFileError, "EmptyFileError": EmptyFileError,
                 "NotMediaError": NotMediaError, "TruncatedError": TruncatedError,
                 "AudioOnlyError": AudioOnlyError, "UnsupportedCodecError": UnsupportedCodecError}


@pytest.mark.parametrize("name", sorted(n for n in EXPECTED_ERRORS if n != "truncated_faststart"))
def test_unusable_files_raise_the_same_error_as_probe(media, name):
    expected = ERROR_CLASSES.get(EXPECTED_ERRORS[name], MediaError)
    for call in (lambda: FrameReader(media[name]).frame_at(0),
                 lambda: frames_mod.thumbnail(media[name]),
                 lambda: frames_mod.sample(media[name], count=3)):
        with pytest.raises(expected) as err:
            call()
        assert str(media[name]) in str(err.value)


def test_cut_off_fast_start_mp4_gives_the_frames_that_are_there(media):
    """The index promises 24 frames; the data of about half is there. Those are served."""
    path = media["truncated_faststart"]
    with FrameReader(path) as reader:
        n = reader.frame_count
        assert 0 < n < 24
        for i in random.Random(1).sample(range(n), n):
            assert frame_number_of(reader.frame_at(i).image) == i
        with pytest.raises(IndexError):
            reader.frame_at(n)
        assert reader.frame_count == n
    # what a player gets: every packet decoded, errors skipped, the decoder drained
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        shown = 0
        for packet in container.demux(stream):
            try:
                shown += len(stream.decode(packet if packet.size else None))
            except av.FFmpegError:
                pass
    assert n == shown


def test_file_removed_while_open(media, tmp_path):
    path = tmp_path / "gone.mp4"
    path.write_bytes(media["h264_cfr"].read_bytes())
    with FrameReader(path) as reader:
        reader.thumbnail(16)
        path.unlink()
        # frames are decoded with other threading than thumbnails: the file is opened again
        with pytest.raises(MissingFileError) as err:
            reader.frame_at(0)
        assert str(path) in str(err.value)


def test_closed_reader_refuses(media):
    reader = FrameReader(media["h264_cfr"])
    reader.close()
    reader.close()  # twice is fine
    with pytest.raises(ValueError, match="closed"):
        reader.frame_at(0)


# ---- thumbnails ---------------------------------------------------------------------------------


def test_thumbnail_is_a_keyframe_near_ten_percent(files):
    path = files["long_gop10"]  # 240 frames: 10% is frame 24, its keyframe is frame 20
    with FrameReader(path) as reader:
        thumb = reader.thumbnail(32)
        assert thumb.shape == (24, 32, 3)  # no enlarging
        assert frame_number_of(thumb) == 20
        assert reader.decoded_count <= 2  # one keyframe, not a GOP
        # the reader still gives exact frames afterwards
        reference = sequential(path)
        assert np.array_equal(reader.frame_at(21).image, reference[21])
        assert np.array_equal(reader.frame_at(3).image, reference[3])


def test_thumbnail_scales_to_fit(media):
    thumb = frames_mod.thumbnail(media["h264_cfr"], max_side=16)
    assert thumb.shape == (12, 16, 3) and thumb.dtype == np.uint8
    thumb = frames_mod.thumbnail(media["odd_101x57"], max_side=50)
    assert thumb.shape == (28, 50, 3)
    assert frames_mod.thumbnail(media["gif_anim"], max_side=160).shape == (32, 48, 3)
    with pytest.raises(ValueError):
        frames_mod.thumbnail(media["h264_cfr"], max_side=0)


def test_thumbnail_does_not_build_the_index(media, monkeypatch):
    def no_index(self):
        raise AssertionError("thumbnail demuxed the whole file")

    monkeypatch.setattr(FrameReader, "_build_packet_index", no_index)
    assert frames_mod.thumbnail(media["h264_cfr"], 32).shape == (24, 32, 3)


# ---- one-shot helpers ---------------------------------------------------------------------------


def test_module_functions(media):
    path = media["h264_cfr"]
    reference = sequential(path)
    assert np.array_equal(frames_mod.frame_at(path, 17).image, reference[17])
    assert np.array_equal(frames_mod.frame_at(str(path), 17).image, reference[17])
    assert [f.index for f in frames_mod.sample(path, count=3)] == [0, 24, 47]
    assert [f.index for f in frames_mod.sample(path, fps=1.0)] == [0, 24]


# ---- reduced frames (for analysis) ----------------------------------------------------------------
# ``reduced_frame_at`` shrinks 8-bit YUV planes before converting to RGB: not exact, but within a
# level or two of the exact frame box-shrunk. Sharp colour edges differ more (frame_image's
# square is pure yellow and its blue wraps from 255 to 0): the exact path interpolates chroma
# before shrinking, so a 4:2:0 chroma sample an edge splits spreads differently (by 2 x 2 blocks,
# one chroma sample each, most). Measured: means 0.7-1.0, maxima up to 48 at such edges. A wrong
# colour matrix is about 5 levels off on average, a wrong range about 9, a block one pixel off
# 1.5 with maxima near 100.
REDUCED_MEAN_LEVELS = 1.25
REDUCED_P99_LEVELS = 8
REDUCED_MAX_LEVELS = 64


def _box_shrunk(image: np.ndarray, k: int) -> np.ndarray:
    """The exact frame shrunk as the analysis did it: the rows and columns past a whole
    number of k x k blocks left out, each block averaged."""
    import cv2

    h, w = image.shape[0] // k, image.shape[1] // k
    return cv2.resize(image[:h * k, :w * k], (w, h), interpolation=cv2.INTER_AREA)


def _encode_bt709(path: Path, width: int, height: int, frames: int) -> Path:
    """H.264 flagged BT.709 (matrix, primaries, transfer), as HD cameras and encoders write it."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=24, options={
            "preset": "veryfast", "crf": "12",
            "x264-params": "colormatrix=bt709:colorprim=bt709:transfer=bt709"})
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.colorspace = av.video.reformatter.Colorspace.ITU709
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(frame_image(i, width, height), format="rgb24")
            frame = frame.reformat(format="yuv420p", dst_colorspace="ITU709")
            frame.pts = i
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


@pytest.fixture(scope="module")
def reducible(tmp_path_factory) -> dict[str, Path]:
    """Sizes that leave rows or columns past whole 3 x 3 blocks, some an odd number (the
    chroma samples there are cut)."""
    d = tmp_path_factory.mktemp("reduced")
    return {
        "h264_yuv420p": make_video(d / "h264.mp4", width=194, height=128, frames=4),
        "h264_bt709_hd": _encode_bt709(d / "bt709.mp4", 1280, 720, 3),
        "mjpeg_yuvj420p": make_video(d / "mjpeg.avi", width=192, height=130, frames=4,
                                     codec="mjpeg", pix_fmt="yuvj420p"),
        "h264_yuv422p": make_video(d / "h264_422.mp4", width=194, height=128, frames=3,
                                   pix_fmt="yuv422p"),
        "h264_rot90": make_video(d / "rot90.mp4", width=194, height=130, frames=3, rotation=90),
        "h264_rot270": make_video(d / "rot270.mp4", width=196, height=128, frames=3,
                                  rotation=270),
        "h264_rot180": make_video(d / "rot180.mp4", width=196, height=130, frames=3,
                                  rotation=180),
        "h264_transposed": _encode(d / "transposed.mp4", 3, "libx264", {}, width=194, height=130,
                                   display_matrix=_matrix(0, -1, -1, 0)),
    }


@pytest.mark.parametrize("name, colorspace, full_range", [
    ("h264_yuv420p", 2, False), ("h264_bt709_hd", 1, False), ("mjpeg_yuvj420p", 5, True),
    ("h264_yuv422p", 2, False), ("h264_rot90", 2, False), ("h264_rot270", 2, False),
    ("h264_rot180", 2, False), ("h264_transposed", 2, False)])
def test_reduced_yuv_frames_match_the_exact_frames_shrunk(reducible, monkeypatch, name,
                                                          colorspace, full_range):
    path = reducible[name]
    with av.open(str(path)) as container:  # the file says what the test means it to
        vf = next(container.decode(video=0))
        assert vf.format.name in frames_mod._REDUCIBLE_FORMATS
        assert (int(vf.colorspace), vf.format.name.startswith("yuvj")) == (colorspace, full_range)
    with FrameReader(path) as reader:
        exact = [f.image for f in reader.iter_frames(range(reader.frame_count))]

    def no_full_frames(self, vf):
        raise AssertionError("the reduced path converted a whole frame to RGB")

    monkeypatch.setattr(FrameReader, "_to_rgb", no_full_frames)
    height, width = exact[0].shape[:2]
    for k in (3, 2):
        with FrameReader(path) as reader:
            reduced = list(reader.iter_reduced_frames(range(len(exact)), k))
        assert [f.index for f in reduced] == list(range(len(exact)))
        for frame, image in zip(reduced, exact, strict=True):
            assert (frame.factor, frame.width, frame.height) == (k, width, height)
            expected = _box_shrunk(image, k)
            assert frame.image.shape == expected.shape and frame.image.dtype == np.uint8
            diff = np.abs(frame.image.astype(np.int16) - expected)
            assert diff.mean() < REDUCED_MEAN_LEVELS, (k, frame.index, diff.mean())
            assert np.percentile(diff, 99) < REDUCED_P99_LEVELS, (k, frame.index)
            assert diff.max() < REDUCED_MAX_LEVELS, (k, frame.index, diff.max())


@pytest.mark.parametrize("name", ["hevc_10bit", "gif_anim", "webp_anim", "png"])
def test_other_pixel_formats_shrink_the_exact_frame(media, monkeypatch, name):
    calls = []
    to_rgb = FrameReader._to_rgb

    def counted(self, vf):
        calls.append(vf.format.name)
        return to_rgb(self, vf)

    with FrameReader(media[name]) as reader:
        exact = [f.image for f in reader.iter_frames(range(reader.frame_count))]
    monkeypatch.setattr(FrameReader, "_to_rgb", counted)
    with FrameReader(media[name]) as reader:
        reduced = list(reader.iter_reduced_frames(range(len(exact)), max_side=20))
    for frame, image in zip(reduced, exact, strict=True):
        k = -(-max(image.shape[:2]) // 20)
        assert (frame.factor, frame.width, frame.height) == (k, image.shape[1], image.shape[0])
        assert np.array_equal(frame.image, _box_shrunk(image, k))
    if name != "webp_anim":  # read with OpenCV, not through PyAV frames
        assert len(calls) == len(exact) and "yuv420p" not in calls


def test_reduced_frames_leave_exact_frames_exact(media):
    """Asking for reduced frames between exact ones changes neither; the cached exact frame
    of the same index is shrunk exactly."""
    path = media["h264_cfr"]
    reference = sequential(path)
    with FrameReader(path) as reader:
        for i in (3, 4, 30, 5, 47, 0):
            reduced = reader.reduced_frame_at(i, max_side=32)
            assert (reduced.index, reduced.factor, reduced.image.shape) == (i, 2, (24, 32, 3))
            assert reduced.time_s == reader.time_of(i)
            assert np.array_equal(reader.frame_at(i).image, reference[i])
            again = reader.reduced_frame_at(i, 2)  # from the exact frame just decoded
            assert np.array_equal(again.image, _box_shrunk(reference[i], 2))
        assert [f.index for f in reader.sample(count=3)] == [0, 24, 47]
        assert all(np.array_equal(f.image, reference[f.index]) for f in reader.sample(count=3))


@pytest.mark.parametrize("kwargs, message", [
    ({}, "exactly one of factor and max_side"),
    ({"factor": 2, "max_side": 32}, "exactly one of factor and max_side"),
    ({"factor": 0}, "factor must be at least 1"),
    ({"max_side": 0}, "max_side must be at least 1"),
])
def test_reduced_frame_rejects_bad_arguments(media, kwargs, message):
    with FrameReader(media["h264_cfr"]) as reader, pytest.raises(ValueError, match=message):
        reader.reduced_frame_at(0, **kwargs)
