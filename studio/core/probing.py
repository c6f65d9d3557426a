"""The PyAV side of ``studio.core.media.probe``: kept apart so that importing the media types
(``MediaInfo``, ``MediaError``) costs no PyAV import at start-up."""

from __future__ import annotations

import os
import stat
import struct

import av

from studio.core.media import (
    AudioOnlyError,
    EmptyFileError,
    MediaError,
    MediaInfo,
    MissingFileError,
    NotMediaError,
    TruncatedError,
    UnreadableFileError,
    UnsupportedCodecError,
)

# Counting a stream's packets (no decoding) gives an exact frame count where the container
# does not store one, but it reads the whole file: above these sizes the count is estimated
# from duration x fps instead. probe runs for every file dropped on the bin.
COUNT_MAX_BYTES = 128 * 2**20
COUNT_MAX_PACKETS = 20_000
# Packets fed to the decoder before giving up on a first frame.
FIRST_FRAME_MAX_PACKETS = 500

# FFmpeg demuxers of single pictures and of image animations.
_IMAGE_FORMATS = frozenset({"image2", "image2pipe", "gif", "apng", "webp"})
# FFmpeg renders any file named .txt/.nfo/.asc/... as ANSI-art "video": it is text, not media.
_TEXT_FORMATS = frozenset({"tty", "bin", "xbin", "adf", "idf"})
_ATTACHED_PIC = int(av.stream.Disposition.attached_pic)


def probe_file(name: str) -> MediaInfo:
    """Probe ``name``; may raise any exception (``media.probe`` wraps the unforeseen ones)."""
    file_size = _check_file(name)
    head = _read_head(name)
    signature = _sniff(head)
    if signature == "webp" and _webp_is_animated(head):
        return _probe_animated_webp(name, file_size)
    try:
        # absolute: FFmpeg would read a relative "pipe:1.mp4" or "http:x.mp4" as a protocol URL
        container = av.open(os.path.abspath(name), metadata_errors="ignore")
    except PermissionError as err:
        raise UnreadableFileError(name, "permission denied") from err
    except (av.FFmpegError, OSError, ValueError) as err:
        raise _open_failure(name, signature, file_size) from err
    with container:
        return _probe_container(name, container, signature, file_size)


def _check_file(name: str) -> int:
    try:
        st = os.stat(name)
    except FileNotFoundError as err:
        raise MissingFileError(name) from err
    except NotADirectoryError as err:
        raise MissingFileError(name, "a folder on its path is a file") from err
    except PermissionError as err:
        raise UnreadableFileError(name, "permission denied") from err
    except (OSError, ValueError) as err:
        raise UnreadableFileError(name, getattr(err, "strerror", None) or str(err)) from err
    if stat.S_ISDIR(st.st_mode):
        raise NotMediaError(name, "it is a folder")
    if not stat.S_ISREG(st.st_mode):
        # a pipe or device would block or stream forever
        raise NotMediaError(name, "not a regular file")
    if st.st_size == 0:
        raise EmptyFileError(name, "0 bytes")
    return st.st_size


def _read_head(name: str, size: int = 512) -> bytes:
    try:
        with open(name, "rb") as f:
            return f.read(size)
    except PermissionError as err:
        raise UnreadableFileError(name, "permission denied") from err
    except OSError as err:
        raise UnreadableFileError(name, err.strerror or str(err)) from err


def _sniff(head: bytes) -> str | None:
    """The media family a file's first bytes claim, or None. Used to tell a damaged media file
    (TruncatedError) from something that never was media (NotMediaError)."""
    if head[4:8] in (b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"pnot"):
        return "isobmff"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "matroska"
    if head[:4] == b"RIFF":
        return {b"AVI ": "avi", b"WEBP": "webp", b"WAVE": "audio"}.get(head[8:12])
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    if head.startswith((b"OggS", b"FLV\x01", b"\x00\x00\x01\xba", b"\x00\x00\x01\xb3",
                        b"\x30\x26\xb2\x75\x8e\x66\xcf\x11")):
        return "container"
    if len(head) > 376 and head[0] == head[188] == head[376] == 0x47:
        return "container"  # MPEG-TS sync bytes
    if head.startswith((b"ID3", b"fLaC", b"#!AMR")):
        return "audio"
    if len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:
        return "audio"  # MPEG audio / ADTS frame sync
    return None


_FAMILY_NAMES = {"matroska": "a Matroska/WebM video", "avi": "an AVI video", "webp": "a WebP image",
                 "gif": "a GIF", "png": "a PNG image", "jpeg": "a JPEG image", "tiff": "a TIFF image",
                 "container": "a video file"}


def _open_failure(name: str, signature: str | None, file_size: int) -> MediaError:
    if signature == "isobmff":
        return TruncatedError(name, _isobmff_damage(name, file_size))
    if signature == "audio":
        return AudioOnlyError(name, "and FFmpeg cannot read it")
    if signature is not None:
        return TruncatedError(name, f"it starts like {_FAMILY_NAMES.get(signature, 'a media file')} "
                                    "but FFmpeg cannot read it")
    return NotMediaError(name, "FFmpeg does not recognise its format")


def _isobmff_damage(name: str, file_size: int) -> str:
    """Why an MP4/MOV that FFmpeg cannot open is damaged, from its top-level boxes."""
    boxes: list[bytes] = []
    try:
        with open(name, "rb") as f:
            pos = 0
            while pos + 8 <= file_size and len(boxes) < 10_000:
                f.seek(pos)
                size, kind = struct.unpack(">I4s", f.read(8))
                if size == 1:
                    size = struct.unpack(">Q", f.read(8))[0]
                elif size == 0:
                    size = file_size - pos
                if size < 8:
                    return "its box structure is broken"
                boxes.append(kind)
                if pos + size > file_size:
                    if b"moov" not in boxes or kind == b"moov":
                        return ("the file ends early and its index (moov atom) is missing: "
                                "a cut-off copy or a recording that never finished")
                    return "the file ends early"
                pos += size
    except (OSError, struct.error):
        pass
    if b"moov" not in boxes:
        return "its index (moov atom) is missing: a cut-off copy or a recording that never finished"
    return "FFmpeg cannot read its index (moov atom)"


def _probe_container(name: str, container, signature: str | None, file_size: int) -> MediaInfo:
    fmt = container.format.name
    stream, has_audio = _video_stream(name, container, fmt, signature)
    ctx = _video_decoder(name, stream)
    codec = ctx.name
    is_image_format = fmt in _IMAGE_FORMATS or fmt.endswith("_pipe")
    _check_not_damaged(name, stream, fmt, file_size)

    avg_fps = _positive(stream.average_rate) or _positive(stream.guessed_rate)
    declared_s = _stream_seconds(stream, stream.duration)
    container_s = container.duration / av.time_base if container.duration and container.duration > 0 else 0.0
    known_frames = _trusted_frame_count(stream, fmt)
    estimate = round((declared_s or container_s) * avg_fps) if avg_fps else 0
    count = not known_frames and (
        is_image_format or not estimate
        or (file_size <= COUNT_MAX_BYTES and estimate <= COUNT_MAX_PACKETS))

    first, packets, end_s = _scan(name, container, stream, codec, signature, count)
    if count:
        _check_all_present(name, container, stream, fmt, is_image_format, packets, end_s,
                           container_s, avg_fps)

    if known_frames:
        frame_count, estimated = known_frames, False
    elif count:
        frame_count, estimated = packets, False
    else:
        frame_count, estimated = max(1, estimate), True

    rotation = _clockwise_rotation(first)
    coded_w, coded_h = first.width, first.height
    width, height = (coded_h, coded_w) if rotation in (90, 270) else (coded_w, coded_h)
    pix_fmt = first.format.name if first.format is not None else (ctx.pix_fmt or "")

    if is_image_format and frame_count == 1:
        kind, fps, duration_s = "image", 0.0, 0.0
    else:
        kind = "video"
        fps, duration_s = _video_rate_and_duration(stream, container, frame_count, estimated,
                                                   avg_fps, declared_s, container_s, end_s)
    return MediaInfo(
        path=name, kind=kind, width=width, height=height, coded_width=coded_w,
        coded_height=coded_h, rotation=rotation, fps=float(fps), duration_s=float(duration_s),
        frame_count=int(frame_count), frame_count_estimated=estimated, codec=codec,
        pix_fmt=pix_fmt, has_audio=has_audio,
    )


def _video_stream(name: str, container, fmt: str, signature: str | None):
    """The first video stream that is not an attached picture, and whether there is audio;
    raises the error that says why a file without one is no clip."""
    if fmt in _TEXT_FORMATS:
        raise NotMediaError(name, "it is text")
    videos = [s for s in container.streams.video if not int(s.disposition) & _ATTACHED_PIC]
    has_audio = bool(container.streams.audio)
    if not videos:
        if has_audio:
            raise AudioOnlyError(name)
        if not container.streams and signature is not None:
            raise TruncatedError(name, f"it starts like {_FAMILY_NAMES.get(signature, 'a media file')} "
                                       "but no stream in it can be read")
        raise NotMediaError(name, "it has no video or image stream")
    return videos[0], has_audio


def _video_decoder(name: str, stream):
    """The stream's codec context, set to decode on one thread; raises when there is none."""
    ctx = stream.codec_context
    if ctx is None:
        raise UnsupportedCodecError(name, "this FFmpeg build has no decoder for its video codec")
    ctx.thread_count = 1  # the first frame comes out of the first packets, no frame-thread delay
    return ctx


def _check_not_damaged(name: str, stream, fmt: str, file_size: int) -> None:
    """Raise ``TruncatedError`` for a damaged index or a GIF without its end marker."""
    damage = _index_damage(stream, fmt, file_size)
    if damage:
        raise TruncatedError(name, damage)
    if fmt == "gif" and not _gif_has_trailer(name, file_size):
        raise TruncatedError(name, "the GIF ends without its end marker")


def _trusted_frame_count(stream, fmt: str) -> int:
    """The frame count the header states, or 0 when it states none or cannot be trusted."""
    # AVI headers state a frame count that a cut-off file no longer has; trust it only when
    # the index agrees.
    known_frames = stream.frames if stream.frames > 0 else 0
    if fmt == "avi" and known_frames and len(stream.index_entries) != known_frames:
        known_frames = 0
    return known_frames


def _check_all_present(name: str, container, stream, fmt: str, is_image_format: bool,
                       packets: int, end_s: float, container_s: float, avg_fps: float) -> None:
    """After a counting scan: raise ``TruncatedError`` when fewer frames or seconds are
    present than the file declares."""
    if fmt == "avi" and stream.frames > packets:
        raise TruncatedError(name, f"only {packets} of its {stream.frames} frames are present")
    if not is_image_format and end_s:
        expected_s = _declared_stream_seconds(stream, container, container_s)
        slack = max(0.25, 3 / avg_fps if avg_fps else 0.25)
        if expected_s and end_s < expected_s - slack:
            raise TruncatedError(name, f"only {end_s:.2f} s of its {expected_s:.2f} s of video are present")


def _video_rate_and_duration(stream, container, frame_count: int, estimated: bool,
                             avg_fps: float, declared_s: float, container_s: float,
                             end_s: float) -> tuple[float, float]:
    """A video's frame rate and duration (seconds)."""
    duration_s = (declared_s or _declared_stream_seconds(stream, container, container_s)
                  or end_s or container_s)
    if not estimated and duration_s > 0:
        # the true average, also for variable frame rates where the header's rate is nominal
        fps = frame_count / duration_s
    else:
        fps = avg_fps
    if not duration_s and fps:
        duration_s = frame_count / fps
    return fps, duration_s


def _scan(name, container, stream, codec: str, signature: str | None, count: bool):
    """Demux the video stream: decode until the first frame, then (if ``count``) count the
    remaining packets without decoding. Returns (first frame, packets, end time in seconds)."""
    first = None
    packets = 0
    end_pts = None
    start_pts = None
    decode_error: Exception | None = None
    try:
        for packet in container.demux(stream):
            if packet.size == 0:
                continue  # the empty packet that marks the end of the stream
            packets += 1
            if packet.pts is not None:
                start_pts = packet.pts if start_pts is None else min(start_pts, packet.pts)
                end = packet.pts + (packet.duration or 0)
                end_pts = end if end_pts is None else max(end_pts, end)
            if first is None:
                frames, err = _decode(name, stream, codec, packet)
                decode_error = err or decode_error
                if frames:
                    first = frames[0]
                    if not count:
                        break
                elif packets >= FIRST_FRAME_MAX_PACKETS:
                    break
    except av.FFmpegError as err:
        if first is None:
            raise _unreadable(name, signature, f"reading it failed: {_ffmpeg_reason(err)}") from err
        raise TruncatedError(name, f"damaged after {packets} frames: {_ffmpeg_reason(err)}") from err
    if first is None and packets < FIRST_FRAME_MAX_PACKETS:
        frames, err = _decode(name, stream, codec, None)  # flush: decoders hold frames back
        decode_error = err or decode_error
        first = frames[0] if frames else None
    if first is None:
        if packets == 0:
            raise _unreadable(name, signature, "its video stream has no data")
        detail = "no frame could be decoded"
        if decode_error is not None:
            detail += f": {_ffmpeg_reason(decode_error)}"
        raise _unreadable(name, signature, detail)
    end_s = 0.0
    if count and end_pts is not None and stream.time_base:
        end_s = float((end_pts - (start_pts or 0)) * stream.time_base)
    return first, packets, end_s


def _decode(name: str, stream, codec: str, packet):
    try:
        return stream.decode(packet), None
    except (av.error.DecoderNotFoundError, av.error.PatchWelcomeError) as err:
        raise UnsupportedCodecError(name, f"FFmpeg cannot decode this {codec} stream") from err
    except av.FFmpegError as err:
        return [], err


def _unreadable(name: str, signature: str | None, detail: str) -> MediaError:
    if signature is None:
        return NotMediaError(name, detail)
    return TruncatedError(name, detail)


def _ffmpeg_reason(err: Exception) -> str:
    return getattr(err, "strerror", None) or str(err)


def _index_damage(stream, fmt: str, file_size: int) -> str | None:
    """For MP4/MOV, whose index lists every sample's position: say how much is missing when
    the samples run past the end of the file (an interrupted copy of a fast-start file)."""
    if not fmt.startswith("mov"):
        return None
    entries = stream.index_entries
    n = len(entries)
    if n == 0:
        return None
    tail = entries[max(0, n - 64):n]
    if max(e.pos + e.size for e in tail) <= file_size:
        return None
    present = sum(1 for e in entries if e.pos + e.size <= file_size)
    return f"the file ends early: only {present} of its {n} video frames are present"


def _gif_has_trailer(name: str, file_size: int) -> bool:
    with open(name, "rb") as f:
        f.seek(max(0, file_size - 64))
        tail = f.read().rstrip(b"\x00")
    return tail.endswith(b";")


def _positive(rate) -> float:
    try:
        value = float(rate) if rate is not None else 0.0
    except (TypeError, ZeroDivisionError):
        return 0.0
    return value if value > 0 and value < 10_000 else 0.0


def _stream_seconds(stream, ticks) -> float:
    if not ticks or ticks <= 0 or not stream.time_base:
        return 0.0
    return float(ticks * stream.time_base)


def _declared_stream_seconds(stream, container, container_s: float) -> float:
    """The video length the file's header promises (to catch a cut-off Matroska/WebM)."""
    tag = stream.metadata.get("DURATION") or stream.metadata.get("duration")
    if tag:
        try:
            h, m, sec = tag.split(":")
            return int(h) * 3600 + int(m) * 60 + float(sec)
        except ValueError:
            pass
    if len(container.streams) == 1:
        return container_s
    return 0.0


def _clockwise_rotation(frame) -> int:
    """The display matrix's rotation as clockwise degrees for display: 0, 90, 180 or 270.
    PyAV reports it counter-clockwise in [-180, 180]."""
    try:
        ccw = float(frame.rotation)
    except (AttributeError, TypeError, ValueError):
        return 0
    return int(round(-ccw / 90.0)) * 90 % 360


# --- animated WebP: FFmpeg decodes only still WebP; OpenCV reads animations ----------------------

def _webp_is_animated(head: bytes) -> bool:
    # VP8X chunk first, with the animation flag (bit 1 of its first byte)
    return head[12:16] == b"VP8X" and len(head) > 20 and bool(head[20] & 0x02)


def _probe_animated_webp(name: str, file_size: int) -> MediaInfo:
    width = height = 0
    frames = 0
    total_ms = 0
    has_alpha = False
    try:
        with open(name, "rb") as f:
            riff_size = struct.unpack("<I", f.read(12)[4:8])[0]
            if riff_size + 8 > file_size:
                raise TruncatedError(name, "the file ends early")
            pos = 12
            while pos + 8 <= file_size:
                f.seek(pos)
                kind, size = struct.unpack("<4sI", f.read(8))
                if pos + 8 + size > file_size:
                    raise TruncatedError(name, "the file ends early")
                if kind == b"VP8X":
                    body = f.read(10)
                    has_alpha = bool(body[0] & 0x10)
                    width = 1 + int.from_bytes(body[4:7], "little")
                    height = 1 + int.from_bytes(body[7:10], "little")
                elif kind == b"ANMF":
                    body = f.read(16)
                    frames += 1
                    total_ms += int.from_bytes(body[12:15], "little")
                pos += 8 + size + (size & 1)
    except OSError as err:
        raise UnreadableFileError(name, err.strerror or str(err)) from err
    except struct.error as err:
        raise TruncatedError(name, "its WebP chunks are broken") from err
    if frames == 0 or width == 0:
        raise TruncatedError(name, "an animated WebP without frames")
    _check_first_webp_frame(name)
    if frames == 1:
        fps = duration_s = 0.0
        kind = "image"
    else:
        kind = "video"
        if total_ms == 0:
            total_ms = 100 * frames  # players show zero-length frames for 100 ms
        duration_s = total_ms / 1000.0
        fps = frames / duration_s
    return MediaInfo(
        path=name, kind=kind, width=width, height=height, coded_width=width, coded_height=height,
        rotation=0, fps=fps, duration_s=duration_s, frame_count=frames,
        frame_count_estimated=False, codec="webp", pix_fmt="bgra" if has_alpha else "bgr24",
        has_audio=False,
    )


def _check_first_webp_frame(name: str) -> None:
    import cv2  # OpenCV >= 4.11 reads animated WebP; imported only for this rare case

    # OpenCV prints its own failure report to stderr; the TruncatedError below says it for us.
    previous = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    try:
        ok, animation = cv2.imreadanimation(name, 0, 1)
    except cv2.error as err:
        raise TruncatedError(name, "its first frame cannot be decoded") from err
    finally:
        cv2.utils.logging.setLogLevel(previous)
    if not ok or not animation.frames:
        raise TruncatedError(name, "its first frame cannot be decoded")
