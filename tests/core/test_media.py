"""probe() on real files written by PyAV (tests/media_factory.py): every valid kind reports the
right fields, every unusable kind raises the right MediaError subclass naming the file, and no
other exception type ever escapes."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np
import pytest

from studio.core import media as media_mod
from studio.core import probing
from studio.core.media import (
    AudioOnlyError,
    MediaError,
    MediaInfo,
    NotMediaError,
    TruncatedError,
    UnreadableFileError,
    probe,
)
from tests.media_factory import (
    EXPECTED,
    EXPECTED_ERRORS,
    VFR_PTS,
    copy_media,
    make_gif,
    make_truncated,
    make_video,
)

FLOAT_FIELDS = {"fps": 1e-3, "duration_s": 0.011}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_valid_media_fields(media, name):
    info = probe(media[name])
    assert isinstance(info, MediaInfo)
    assert info.path == str(media[name])
    for field, want in EXPECTED[name].items():
        got = getattr(info, field)
        if field in FLOAT_FIELDS:
            assert got == pytest.approx(want, abs=FLOAT_FIELDS[field]), field
        else:
            assert got == want, field
    # invariants every valid result keeps
    assert info.kind in ("video", "image")
    assert info.rotation in (0, 90, 180, 270)
    if info.rotation in (90, 270):
        assert (info.width, info.height) == (info.coded_height, info.coded_width)
    else:
        assert (info.width, info.height) == (info.coded_width, info.coded_height)
    assert info.frame_count >= 1 and not info.frame_count_estimated
    assert info.codec and info.pix_fmt
    if info.kind == "image":
        assert (info.fps, info.duration_s, info.frame_count) == (0.0, 0.0, 1)
    else:
        assert info.fps > 0 and info.duration_s > 0


def test_vfr_average_rate_is_frames_over_duration(media, tmp_path):
    # irregular timestamps: the average rate is not the nominal rate the stream was opened with
    info = probe(media["h264_vfr"])
    assert info.fps == pytest.approx(info.frame_count / info.duration_s, rel=1e-3)
    assert info.fps != pytest.approx(25.0, abs=1.0)
    # WebM stores no frame count and a nominal rate: counted frames over the stated length
    webm = probe(make_video(tmp_path / "vfr.webm", frames=len(VFR_PTS), fps=24, vfr_pts=VFR_PTS,
                            codec="libvpx-vp9"))
    assert webm.frame_count == len(VFR_PTS) and not webm.frame_count_estimated
    assert webm.duration_s == pytest.approx(0.74, abs=0.011)
    assert webm.fps == pytest.approx(len(VFR_PTS) / webm.duration_s, rel=1e-3)


def test_rotation_in_matroska_and_mov(tmp_path):
    for suffix in (".mkv", ".mov"):
        info = probe(make_video(tmp_path / f"rot{suffix}", frames=3, rotation=270))
        assert (info.rotation, info.width, info.height) == (270, 48, 64), suffix


def test_cut_off_matroska_with_audio(tmp_path):
    whole = make_video(tmp_path / "av.mkv", frames=48, audio=True)
    assert probe(whole).has_audio
    with pytest.raises(TruncatedError, match="of its 2.00 s of video"):
        probe(make_truncated(whole, tmp_path / "av_cut.mkv", 0.5))


def test_media_info_round_trips_through_dict(media):
    info = probe(media["h264_rot90"])
    assert MediaInfo.from_dict(info.to_dict()) == info
    assert set(info.to_dict()) == set(MediaInfo._fields)


def test_accepts_pathlike_and_str(media):
    assert probe(Path(media["png"])) == probe(str(media["png"]))


@pytest.mark.parametrize("name", sorted(EXPECTED_ERRORS))
def test_unusable_media_raises_named_error(media, name):
    path = media[name]
    expected = getattr(media_mod, EXPECTED_ERRORS[name])
    with pytest.raises(MediaError) as caught:
        probe(path)
    err = caught.value
    assert type(err) is expected, f"{type(err).__name__}: {err}"
    assert err.path == str(path)
    assert str(err).startswith(f"{path}: {expected.reason}")


def test_truncated_mp4_says_the_index_is_missing(media):
    with pytest.raises(TruncatedError, match="moov"):
        probe(media["truncated_mp4"])


def test_truncated_faststart_mp4_says_how_much_is_present(media):
    with pytest.raises(TruncatedError, match=r"only \d+ of its 24 video frames"):
        probe(media["truncated_faststart"])


@pytest.mark.parametrize("source,keep", [("vp9_webm", 0.5), ("mjpeg_avi", 0.5), ("gif_anim", 0.6),
                                         ("h264_cfr", 0.97)])
def test_cut_off_copies_are_truncated(media, tmp_path, source, keep):
    cut = make_truncated(media[source], tmp_path / f"cut_{media[source].name}", keep)
    with pytest.raises(TruncatedError) as caught:
        probe(cut)
    assert str(cut) in str(caught.value)


def test_cut_off_webm_of_a_longer_clip(tmp_path):
    whole = make_video(tmp_path / "long.webm", frames=48, codec="libvpx-vp9")
    assert probe(whole).frame_count == 48
    cut = make_truncated(whole, tmp_path / "cut.webm", 0.6)
    with pytest.raises(TruncatedError, match="s of its 2.00 s of video"):
        probe(cut)


def test_text_file_named_txt_is_not_media(tmp_path):
    # FFmpeg's tty demuxer would render a .txt as ANSI-art "video"
    notes = tmp_path / "notes.txt"
    notes.write_text("Shot list for Saturday: beach, pier, sunset.\n" * 100)
    with pytest.raises(NotMediaError, match="text"):
        probe(notes)


def test_media_header_followed_by_garbage_is_damaged(tmp_path):
    rng = np.random.default_rng(7)
    fake = tmp_path / "fake.avi"
    fake.write_bytes(b"RIFF\x00\x10\x00\x00AVI LIST" + rng.integers(0, 256, 4000, np.uint8).tobytes())
    with pytest.raises(TruncatedError, match="AVI"):
        probe(fake)


def test_audio_error_says_there_is_no_video(media):
    with pytest.raises(AudioOnlyError, match="no video stream"):
        probe(media["audio_m4a"])


def test_fifo_is_not_media_and_does_not_block(tmp_path):
    fifo = tmp_path / "pipe.mp4"
    os.mkfifo(fifo)
    with pytest.raises(NotMediaError, match="not a regular file"):
        probe(fifo)


def test_file_below_a_file_is_missing(media):
    with pytest.raises(media_mod.MissingFileError):
        probe(media["png"] / "child.mp4")


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads any file")
def test_unreadable_file(media, tmp_path):
    locked = copy_media(media["h264_cfr"], tmp_path)
    locked.chmod(0)
    try:
        with pytest.raises(UnreadableFileError, match="permission denied"):
            probe(locked)
    finally:
        locked.chmod(stat.S_IRUSR | stat.S_IWUSR)


def test_one_frame_gif_is_an_image_two_frames_a_video(tmp_path):
    assert probe(make_gif(tmp_path / "one.gif", frames=1)).kind == "image"
    two = probe(make_gif(tmp_path / "two.gif", frames=2))
    assert (two.kind, two.frame_count) == ("video", 2)


def test_large_uncounted_stream_is_estimated(media, monkeypatch):
    # WebM stores no frame count: probe counts packets unless that would be costly, then estimates
    assert probe(media["vp9_webm"]).frame_count_estimated is False
    monkeypatch.setattr(probing, "COUNT_MAX_PACKETS", 5)
    info = probe(media["vp9_webm"])
    assert info.frame_count_estimated is True
    assert info.frame_count == pytest.approx(12, abs=1)


def test_never_another_exception_type(media, tmp_path):
    """Cut and corrupt every valid file in several ways: probe returns a MediaInfo or raises a
    MediaError, nothing else."""
    rng = np.random.default_rng(2024)
    outcomes = []
    for name in sorted(EXPECTED):
        if name == "h264_8k":
            continue  # same code paths as h264_cfr, 800 KB to rewrite ten times
        data = media[name].read_bytes()
        variants = {f"cut{k}": data[: max(1, len(data) * k // 10)] for k in (1, 3, 7, 9)}
        for k in range(3):
            damaged = bytearray(data)
            at = rng.integers(len(data) // 4, len(data))
            damaged[at:at + 64] = rng.integers(0, 256, min(64, len(data) - at), np.uint8).tobytes()
            variants[f"flip{k}"] = bytes(damaged)
        variants["head_only"] = data[:64]
        for label, blob in variants.items():
            path = tmp_path / f"{label}_{media[name].name}"
            path.write_bytes(blob)
            try:
                result = probe(path)
            except MediaError as err:
                assert str(path) in str(err)
                outcomes.append("error")
            else:
                assert isinstance(result, MediaInfo)
                outcomes.append("ok")
    assert "error" in outcomes and "ok" in outcomes


def test_probe_does_not_decode_every_frame(tmp_path, monkeypatch):
    """Probing a long clip decodes only its first frame (counted by wrapping PyAV's decode)."""
    import av.video.stream

    clip = make_video(tmp_path / "long.mkv", frames=120, gop=120)
    decoded = []
    real_decode = av.video.stream.VideoStream.decode

    def counting_decode(self, packet=None):
        frames = real_decode(self, packet)
        decoded.extend(frames)
        return frames

    monkeypatch.setattr(av.video.stream.VideoStream, "decode", counting_decode)
    info = probe(clip)
    assert info.frame_count == 120 and not info.frame_count_estimated
    assert 1 <= len(decoded) <= 2  # the first frame (and at most one more) only


def test_names_that_look_like_ffmpeg_urls_or_patterns(media, tmp_path, monkeypatch):
    # FFmpeg reads "pipe:1" as standard output and "%03d" as an image-sequence pattern
    monkeypatch.chdir(tmp_path)
    copy_media(media["h264_cfr"], tmp_path, "pipe:1.mp4")
    copy_media(media["png"], tmp_path, "shot%03d.png")
    assert probe("pipe:1.mp4").frame_count == 48
    assert probe("shot%03d.png").kind == "image"
