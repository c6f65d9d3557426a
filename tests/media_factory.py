"""Synthetic media for tests, written with PyAV, numpy and OpenCV. Plain functions, no pytest.

Every frame is distinct: a pattern that moves with the frame index plus the index itself
written as a row of black/white blocks along the top (``frame_number_of`` reads it back,
robust to lossy codecs). ``build_media_set`` writes one file of every valid and bad kind
and ``EXPECTED`` says what ``probe`` should report for each.
"""

from __future__ import annotations

import shutil
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

NUMBER_BITS = 12  # frame indexes 0..4095 fit in the block row
_WHITE, _BLACK = 235, 16


# --- frame content -------------------------------------------------------------------------------

def _band_height(height: int) -> int:
    return max(4, height // 5)


def _bit_cells(width: int) -> list[tuple[int, int]]:
    """Column spans (x0, x1) of the number blocks, most significant bit first."""
    cell = width / NUMBER_BITS
    return [(round(i * cell), round((i + 1) * cell)) for i in range(NUMBER_BITS)]


def frame_image(index: int, width: int, height: int, pattern: str = "moving") -> np.ndarray:
    """RGB uint8 (height, width, 3) image of frame ``index``.

    ``pattern``: "moving" (gradient and square shifting with the index), "static" (only the
    number band changes), "flat" (one mid-grey colour, number band only).
    """
    if index < 0 or index >= 2**NUMBER_BITS:
        raise ValueError(f"frame index {index} does not fit in {NUMBER_BITS} bits")
    if width < NUMBER_BITS * 2 or height < 8:
        raise ValueError(f"{width}x{height} is too small to carry a frame number")
    shift = 3 * index if pattern == "moving" else 0
    if pattern == "flat":
        img = np.full((height, width, 3), 128, np.uint8)
    else:
        ys, xs = np.ogrid[0:height, 0:width]
        img = np.empty((height, width, 3), np.uint8)
        img[..., 0] = ((xs + shift) * 255 // max(1, width - 1)) % 256
        img[..., 1] = ys * 255 // max(1, height - 1)
        img[..., 2] = ((xs + ys + 2 * shift) * 4) % 256
        if pattern == "moving":
            side = max(2, min(width, height) // 6)
            x0 = (5 * index) % max(1, width - side)
            y0 = _band_height(height) + (3 * index) % max(1, height - _band_height(height) - side)
            img[y0:y0 + side, x0:x0 + side] = (255, 255, 0)
    band = _band_height(height)
    img[:band] = _BLACK
    for bit, (x0, x1) in enumerate(_bit_cells(width)):
        if (index >> (NUMBER_BITS - 1 - bit)) & 1:
            img[:band, x0:x1] = _WHITE
    return img


def frame_number_of(image: np.ndarray, rotation: int = 0) -> int:
    """The frame index written into ``image`` by ``frame_image``.

    ``image`` is RGB (H, W, 3). ``rotation`` is the clockwise rotation that was applied for
    display (as ``MediaInfo.rotation``); it is undone before reading.
    """
    img = np.asarray(image)
    if rotation % 360:
        # np.rot90 turns counter-clockwise; undo a clockwise display rotation.
        img = np.rot90(img, k=(rotation % 360) // 90)
    height, width = img.shape[:2]
    band = _band_height(height)
    luma = img[: band, :, :3].astype(np.float32).mean(axis=2)
    value = 0
    for x0, x1 in _bit_cells(width):
        # the centre of each block: edges bleed under lossy compression
        cx0, cx1 = x0 + (x1 - x0) // 4, x1 - (x1 - x0) // 4
        cy0, cy1 = band // 4, band - band // 4
        value = (value << 1) | int(luma[cy0:max(cy1, cy0 + 1), cx0:max(cx1, cx0 + 1)].mean() > 128)
    return value


# --- writers ---------------------------------------------------------------------------------------

def _container_format(path: Path) -> str | None:
    return {".mov": "mov", ".mp4": "mp4", ".m4v": "mp4", ".mkv": "matroska", ".webm": "webm",
            ".avi": "avi"}.get(path.suffix.lower())


def make_video(
    path: str | Path,
    width: int = 64,
    height: int = 48,
    frames: int = 24,
    fps: float | Fraction = 24,
    codec: str = "libx264",
    pix_fmt: str = "yuv420p",
    gop: int | None = None,
    bframes: int | None = None,
    pattern: str = "moving",
    vfr_pts: list[float] | None = None,
    rotation: int = 0,
    audio: bool = False,
    audio_levels: tuple[float, ...] | None = None,
    faststart: bool = False,
    preset: str = "veryfast",
    quality: int | None = None,
) -> Path:
    """Encode ``frames`` frames into ``path`` (container from the suffix) and return the path.

    ``gop``: keyframe interval (a keyframe exactly every ``gop`` frames, no scene cuts).
    ``bframes``: B-frames between references (libx264/libx265); None keeps the encoder default.
    ``vfr_pts``: presentation time in seconds of each frame (variable frame rate); the stream
    time base is then 1/90000.
    ``rotation``: clockwise degrees a player must rotate the picture for display, written as
    the stream display matrix (what phones write).
    ``faststart``: mp4/mov index (moov) before the media data.
    ``quality``: crf for libx264/libx265/libvpx-vp9, qscale for mjpeg; None is a high quality.
    ``audio``: a 440 Hz AAC tone (48 kHz, mono) as long as the video; ``audio_levels``: its
    amplitude over equal parts of that length (loud then quiet: ``(0.8, 0.05)``), 0.2 if None.
    """
    path = Path(path)
    if vfr_pts is not None and len(vfr_pts) != frames:
        raise ValueError("vfr_pts needs one time per frame")
    fps = Fraction(fps).limit_denominator(1001000)
    fmt = _container_format(path)
    container_options = {"movflags": "+faststart"} if faststart and fmt in ("mp4", "mov") else {}
    with av.open(str(path), "w", format=fmt, options=container_options) as out:
        stream_options: dict[str, str] = {}
        if codec in ("libx264", "libx265"):
            stream_options["preset"] = preset
            stream_options["crf"] = str(12 if quality is None else quality)
            params = []
            if gop is not None:
                params += [f"keyint={gop}", f"min-keyint={gop}", "scenecut=0"]
                if codec == "libx265":
                    params += ["open-gop=0"]
            if bframes is not None:
                params.append(f"bframes={bframes}")
            key = "x264-params" if codec == "libx264" else "x265-params"
            if codec == "libx265":
                params.append("log-level=error")
            if params:
                stream_options[key] = ":".join(params)
        elif codec == "mjpeg":
            # FFmpeg's -q:v: lambda units (FF_QP2LAMBDA = 118) with the qscale flag set below
            stream_options["global_quality"] = str(118 * (2 if quality is None else quality))
        elif codec == "libvpx-vp9":
            stream_options.update({"crf": str(20 if quality is None else quality), "b": "0",
                                   "deadline": "realtime", "cpu-used": "8"})
        kwargs = {}
        if vfr_pts is not None:
            kwargs["time_base"] = Fraction(1, 90000)
        stream = out.add_stream(codec, rate=fps, options=stream_options, **kwargs)
        stream.width = width
        stream.height = height
        stream.pix_fmt = pix_fmt
        if gop is not None:
            stream.codec_context.gop_size = gop
        if codec == "mjpeg":
            stream.codec_context.qscale = True
        if rotation % 360:
            # PyAV's degrees are counter-clockwise; ours are clockwise for display.
            stream.set_display_rotation(-(rotation % 360))
        audio_stream = None
        if audio:
            audio_stream = out.add_stream("aac", rate=48000, layout="mono")
        time_base = stream.codec_context.time_base or Fraction(1) / fps
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(frame_image(i, width, height, pattern), format="rgb24")
            if vfr_pts is not None:
                frame.pts = round(vfr_pts[i] / time_base)
            else:
                frame.pts = round(i / fps / time_base)
            frame.time_base = time_base
            for packet in stream.encode(frame.reformat(format=pix_fmt)):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
        if audio_stream is not None:
            end = (vfr_pts[-1] + 1 / float(fps)) if vfr_pts else frames / float(fps)
            _write_tone(out, audio_stream, end, audio_levels or (0.2,))
    return path


def tone(seconds: float, rate: int = 48000, levels: tuple[float, ...] = (0.2,)) -> np.ndarray:
    """A 440 Hz sine, float32, its amplitude ``levels[i]`` over the i-th of equal parts."""
    total = int(rate * seconds)
    t = np.arange(total) / rate
    amplitude = np.asarray(levels, np.float64)[np.minimum(
        np.arange(total) * len(levels) // max(1, total), len(levels) - 1)]
    return (amplitude * np.sin(2 * np.pi * 440 * t)).astype(np.float32)


def _write_tone(out, audio_stream, seconds: float, levels: tuple[float, ...] = (0.2,)) -> None:
    rate = audio_stream.codec_context.sample_rate
    total = int(rate * seconds)
    samples = tone(seconds, rate, levels)
    chunk = 1024
    for start in range(0, total, chunk):
        part = samples[start:start + chunk]
        frame = av.AudioFrame.from_ndarray(part[None, :], format="fltp", layout="mono")
        frame.sample_rate = rate
        frame.pts = start
        frame.time_base = Fraction(1, rate)
        for packet in audio_stream.encode(frame):
            out.mux(packet)
    for packet in audio_stream.encode():
        out.mux(packet)


def make_gif(path: str | Path, width: int = 48, height: int = 32, frames: int = 10,
             fps: float = 10, pattern: str = "moving") -> Path:
    """An animated GIF (or a still one when ``frames`` == 1), PyAV's gif encoder."""
    path = Path(path)
    with av.open(str(path), "w", format="gif") as out:
        stream = out.add_stream("gif", rate=Fraction(fps).limit_denominator(1000))
        stream.width, stream.height, stream.pix_fmt = width, height, "rgb8"
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(frame_image(i, width, height, pattern), format="rgb24")
            frame.pts = i
            for packet in stream.encode(frame.reformat(format="rgb8")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def make_animated_webp(path: str | Path, width: int = 48, height: int = 32, frames: int = 6,
                       fps: float = 10, pattern: str = "moving") -> Path:
    """An animated WebP (libwebp_anim encoder, webp muxer)."""
    path = Path(path)
    with av.open(str(path), "w", format="webp", options={"loop": "0"}) as out:
        stream = out.add_stream("libwebp_anim", rate=Fraction(fps).limit_denominator(1000),
                                options={"lossless": "1"})
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.pix_fmt = "bgra"
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(frame_image(i, width, height, pattern), format="rgb24")
            frame.pts = i
            for packet in stream.encode(frame.reformat(format="bgra")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def make_image(path: str | Path, width: int = 40, height: int = 30, index: int = 0,
               pattern: str = "moving", exif_orientation: int | None = None) -> Path:
    """A still image; the format follows the suffix (.png, .jpg, .webp, .bmp, .tif).

    ``exif_orientation`` (JPEG only): the EXIF Orientation tag a camera writes, e.g. 6 = the
    picture must be turned 90 degrees clockwise for display, 8 = 270, 3 = 180.
    """
    import cv2

    path = Path(path)
    rgb = frame_image(index, width, height, pattern)
    params: list[int] = []
    if path.suffix.lower() in (".jpg", ".jpeg"):
        params = [cv2.IMWRITE_JPEG_QUALITY, 95]
    elif path.suffix.lower() == ".webp":
        params = [cv2.IMWRITE_WEBP_QUALITY, 95]
    ok, buf = cv2.imencode(path.suffix, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), params)
    if not ok:
        raise ValueError(f"OpenCV cannot write {path.suffix}")
    data = buf.tobytes()
    if exif_orientation is not None:
        if not data.startswith(b"\xff\xd8"):
            raise ValueError("exif_orientation needs a JPEG")
        data = data[:2] + _exif_segment(exif_orientation) + data[2:]
    path.write_bytes(data)
    return path


def _exif_segment(orientation: int) -> bytes:
    """A JPEG APP1 Exif segment whose IFD0 holds only the Orientation tag (0x0112, SHORT)."""
    import struct

    tiff = (b"II*\x00" + struct.pack("<I", 8) + struct.pack("<H", 1)
            + struct.pack("<HHIHH", 0x0112, 3, 1, orientation, 0) + struct.pack("<I", 0))
    body = b"Exif\x00\x00" + tiff
    return b"\xff\xe1" + struct.pack(">H", len(body) + 2) + body


def make_audio_only(path: str | Path, seconds: float = 0.5, cover: bool = False) -> Path:
    """Audio with no video: .m4a (AAC in mp4), .aac (raw ADTS) or .mp3. ``cover`` (.mp3 only)
    adds album art: a PNG video stream marked attached_pic, which is still no video."""
    path = Path(path)
    suffix = path.suffix.lower()
    fmt = {".aac": "adts", ".mp3": "mp3"}.get(suffix, "ipod")
    with av.open(str(path), "w", format=fmt) as out:
        if suffix == ".mp3":
            stream = out.add_stream("mp3", rate=44100, layout="mono")
        else:
            stream = out.add_stream("aac", rate=48000, layout="mono")
        if cover:
            if fmt != "mp3":
                raise ValueError("cover art is written for .mp3 only")
            art = out.add_stream("png", rate=1)
            art.width, art.height, art.pix_fmt = 32, 32, "rgb24"
            art.disposition = av.stream.Disposition.attached_pic
            picture = av.VideoFrame.from_ndarray(frame_image(0, 32, 32), format="rgb24")
            picture.pts = 0
            for packet in art.encode(picture) + art.encode():
                out.mux(packet)
        _write_tone(out, stream, seconds)
    return path


def make_truncated(src: str | Path, dst: str | Path, keep: float = 0.5) -> Path:
    """The first ``keep`` fraction of ``src``'s bytes, as an interrupted download leaves it."""
    data = Path(src).read_bytes()
    dst = Path(dst)
    dst.write_bytes(data[: max(1, int(len(data) * keep))])
    return dst


BAD_KINDS = ("missing", "empty", "random", "text", "directory", "unknown_codec")


def make_bad(folder: str | Path, kind: str, name: str | None = None) -> Path:
    """A path that is not usable media. ``kind``: "missing" (nothing there), "empty" (0 bytes),
    "random" (random bytes), "text" (a text file named .mp4), "directory" (a folder named .mp4),
    "unknown_codec" (a valid MP4 whose video codec tag no decoder knows)."""
    folder = Path(folder)
    path = folder / (name or f"bad_{kind}.mp4")
    if kind == "unknown_codec":
        make_video(path, frames=3)
        data = bytearray(path.read_bytes())
        # the sample entry in the stsd box, not the 'avc1' brand in ftyp
        at = data.index(b"avc1", data.index(b"stsd"))
        data[at:at + 4] = b"zzzz"
        path.write_bytes(bytes(data))
        return path
    if kind == "missing":
        if path.exists():
            path.unlink()
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "random":
        path.write_bytes(np.random.default_rng(1234).integers(0, 256, 64 * 1024, np.uint8).tobytes())
    elif kind == "text":
        path.write_text("These are my holiday notes, not a video.\n" * 50, encoding="utf-8")
    elif kind == "directory":
        path.mkdir(exist_ok=True)
    else:
        raise ValueError(f"unknown bad kind {kind!r}; one of {BAD_KINDS}")
    return path


# --- the standard set --------------------------------------------------------------------------

# What probe must say about each file of build_media_set. Only the keys given are checked.
VFR_PTS = [0.0, 0.040, 0.060, 0.140, 0.180, 0.300, 0.320, 0.400, 0.520, 0.540, 0.600, 0.700]

EXPECTED: dict[str, dict] = {
    "h264_cfr": dict(kind="video", width=64, height=48, coded_width=64, coded_height=48, rotation=0,
                     fps=24.0, duration_s=2.0, frame_count=48, codec="h264", pix_fmt="yuv420p",
                     has_audio=False),
    "h264_audio": dict(kind="video", width=64, height=48, fps=25.0, duration_s=1.0, frame_count=25,
                       codec="h264", has_audio=True),
    "h264_vfr": dict(kind="video", width=64, height=48, frame_count=12, codec="h264",
                     duration_s=0.74, rotation=0),  # last pts 0.70 + one 1/25 s frame
    "h264_rot90": dict(kind="video", width=48, height=64, coded_width=64, coded_height=48,
                       rotation=90, frame_count=12, codec="h264"),
    "h264_rot270": dict(kind="video", width=48, height=64, coded_width=64, coded_height=48,
                        rotation=270, frame_count=12, codec="h264"),
    "h264_rot180": dict(kind="video", width=64, height=48, coded_width=64, coded_height=48,
                        rotation=180, frame_count=12, codec="h264"),
    "h264_one_frame": dict(kind="video", width=64, height=48, frame_count=1, codec="h264"),
    "hevc_10bit": dict(kind="video", width=64, height=48, fps=24.0, frame_count=12, codec="hevc",
                       pix_fmt="yuv420p10le"),
    "vp9_webm": dict(kind="video", width=64, height=48, fps=24.0, frame_count=12, codec="vp9",
                     pix_fmt="yuv420p", duration_s=0.5),
    "mjpeg_avi": dict(kind="video", width=64, height=48, fps=12.0, frame_count=12, codec="mjpeg",
                      duration_s=1.0),
    "odd_101x57": dict(kind="video", width=101, height=57, coded_width=101, coded_height=57,
                       frame_count=6, codec="h264", pix_fmt="yuv444p"),
    "h264_8k": dict(kind="video", width=7680, height=4320, frame_count=2, codec="h264"),
    "gif_anim": dict(kind="video", width=48, height=32, frame_count=10, fps=10.0, duration_s=1.0,
                     codec="gif"),
    "gif_still": dict(kind="image", width=48, height=32, frame_count=1, fps=0.0, duration_s=0.0,
                      codec="gif"),
    "webp_anim": dict(kind="video", width=48, height=32, frame_count=6, fps=10.0, duration_s=0.6,
                      codec="webp"),
    "png": dict(kind="image", width=40, height=30, frame_count=1, fps=0.0, duration_s=0.0,
                codec="png", rotation=0, has_audio=False),
    "jpeg": dict(kind="image", width=40, height=30, frame_count=1, codec="mjpeg"),
    "webp": dict(kind="image", width=40, height=30, frame_count=1, codec="webp"),
    "jpeg_exif_rot90": dict(kind="image", width=30, height=40, coded_width=40, coded_height=30,
                            rotation=90, codec="mjpeg"),
}

# name -> MediaError subclass name probe must raise
EXPECTED_ERRORS: dict[str, str] = {
    "missing": "MissingFileError",
    "empty": "EmptyFileError",
    "random": "NotMediaError",
    "text": "NotMediaError",
    "directory": "NotMediaError",
    "unknown_codec": "UnsupportedCodecError",
    "truncated_mp4": "TruncatedError",
    "truncated_faststart": "TruncatedError",
    "audio_m4a": "AudioOnlyError",
    "audio_aac": "AudioOnlyError",
    "audio_mp3_cover": "AudioOnlyError",
}


def build_media_set(folder: str | Path, names: list[str] | None = None) -> dict[str, Path]:
    """Write the standard files (all of EXPECTED and EXPECTED_ERRORS, or only ``names``)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    builders = {
        "h264_cfr": lambda: make_video(folder / "h264_cfr.mp4", frames=48, fps=24, gop=12, bframes=2),
        "h264_audio": lambda: make_video(folder / "h264_audio.mp4", frames=25, fps=25, audio=True),
        "h264_vfr": lambda: make_video(folder / "h264_vfr.mp4", frames=len(VFR_PTS), fps=25,
                                       vfr_pts=VFR_PTS, bframes=0),
        "h264_rot90": lambda: make_video(folder / "h264_rot90.mp4", frames=12, rotation=90),
        "h264_rot270": lambda: make_video(folder / "h264_rot270.mp4", frames=12, rotation=270),
        "h264_rot180": lambda: make_video(folder / "h264_rot180.mp4", frames=12, rotation=180),
        "h264_one_frame": lambda: make_video(folder / "h264_one_frame.mp4", frames=1),
        "hevc_10bit": lambda: make_video(folder / "hevc_10bit.mp4", frames=12, codec="libx265",
                                         pix_fmt="yuv420p10le"),
        "vp9_webm": lambda: make_video(folder / "vp9_webm.webm", frames=12, codec="libvpx-vp9"),
        "mjpeg_avi": lambda: make_video(folder / "mjpeg_avi.avi", frames=12, fps=12, codec="mjpeg",
                                        pix_fmt="yuvj420p"),
        "odd_101x57": lambda: make_video(folder / "odd_101x57.mp4", width=101, height=57, frames=6,
                                         pix_fmt="yuv444p"),
        "h264_8k": lambda: make_video(folder / "h264_8k.mp4", width=7680, height=4320, frames=2,
                                      pattern="flat", preset="ultrafast", quality=40),
        "gif_anim": lambda: make_gif(folder / "gif_anim.gif", frames=10, fps=10),
        "gif_still": lambda: make_gif(folder / "gif_still.gif", frames=1),
        "webp_anim": lambda: make_animated_webp(folder / "webp_anim.webp", frames=6),
        "png": lambda: make_image(folder / "still.png"),
        "jpeg": lambda: make_image(folder / "still.jpg"),
        "webp": lambda: make_image(folder / "still.webp"),
        "jpeg_exif_rot90": lambda: make_image(folder / "still_exif_rot90.jpg", exif_orientation=6),
        "missing": lambda: make_bad(folder, "missing"),
        "empty": lambda: make_bad(folder, "empty"),
        "random": lambda: make_bad(folder, "random"),
        "text": lambda: make_bad(folder, "text"),
        "directory": lambda: make_bad(folder, "directory"),
        "unknown_codec": lambda: make_bad(folder, "unknown_codec"),
        "truncated_mp4": lambda: make_truncated(
            make_video(folder / "_whole.mp4", frames=24), folder / "truncated.mp4"),
        "truncated_faststart": lambda: make_truncated(
            make_video(folder / "_whole_faststart.mp4", frames=24, faststart=True),
            folder / "truncated_faststart.mp4"),
        "audio_m4a": lambda: make_audio_only(folder / "audio.m4a"),
        "audio_aac": lambda: make_audio_only(folder / "audio.aac"),
        "audio_mp3_cover": lambda: make_audio_only(folder / "audio_cover.mp3", cover=True),
    }
    wanted = names if names is not None else list(builders)
    paths = {name: builders[name]() for name in wanted}
    for helper in ("_whole.mp4", "_whole_faststart.mp4"):
        (folder / helper).unlink(missing_ok=True)
    return paths


def copy_media(path: str | Path, folder: str | Path, name: str | None = None) -> Path:
    """A private copy of a session file, for a test that renames, truncates or deletes it."""
    dst = Path(folder) / (name or Path(path).name)
    if Path(path).is_dir():
        shutil.copytree(path, dst)
    else:
        shutil.copyfile(path, dst)
    return dst


# --- frames given as arrays (analysis tests) ------------------------------------------------------

def write_lossless(path: str | Path, images, fps: int = 24) -> Path:
    """Lossless H.264 (yuv444p, crf 0) of RGB arrays: the pixels analysed are the ones written."""
    height, width = images[0].shape[:2]
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps, options={"preset": "ultrafast", "crf": "0"})
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv444p"
        for i, image in enumerate(images):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, fps)
            for packet in stream.encode(frame.reformat(format="yuv444p")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return Path(path)


def smooth_texture(width: int, height: int, seed: int = 0, cell: int = 8) -> np.ndarray:
    """Smooth random colour blobs (noise on a coarse grid, cubic-interpolated): trackable."""
    import cv2

    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (height // cell + 2, width // cell + 2, 3), dtype=np.uint8)
    size = ((width // cell + 2) * cell, (height // cell + 2) * cell)
    return cv2.resize(small, size, interpolation=cv2.INTER_CUBIC)[:height, :width]


__all__ = [n for n in dir() if not n.startswith("_") and n not in ("annotations", "os")]
