"""Background work for the analysis panel and the player's flow overlay.

``analyse_clip`` measures a clip's frame pairs (``core.metrics.analyze``) on the shared worker
pool (a superqt worker, ``studio.ui.workers``), reporting the pairs as they come
(``AnalysisProgress``, the worker's ``yielded``), then decodes small pictures of the worst
pairs and returns an ``AnalysisEnd``. ``draw_flow`` draws one pair's optical flow on the
colour wheel. Their answers come back to bound slots of GUI-thread objects (DESIGN.md,
threading rules); they build their ``QImage``s from numpy arrays (no Qt image I/O off the GUI
thread). ``core.metrics`` is imported inside them: it loads OpenCV, which the GUI thread never
needs.

``FlowOverlayController`` lives in the GUI thread and keeps at most one ``draw_flow`` in
flight: requests made meanwhile collapse into the newest, so stepping or playing through a
clip never builds a backlog.
"""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtGui import QImage

from studio.core.cancel import Cancelled, CancelToken
from studio.core.media import MediaError
from studio.ui.frame_decoder import fit_within, rgb_to_qimage
from studio.ui.workers import Workers

# How often a running analysis reports (progress and new pairs) to the GUI thread, seconds.
REPORT_INTERVAL_S = 0.1
THUMBNAIL_SIZE = (192, 108)  # the largest a worst-pair picture is decoded at
# The flow overlay's colour scale: the rim of the wheel is the 99th percentile of the vector
# lengths of the pair, but never less than this (sub-pixel noise stays pale).
MIN_FLOW_SCALE_PX = 1.0


def describe_failure(path: str, err: BaseException) -> str:
    """A sentence naming the file that a person can act on."""
    text = str(err).strip()
    if isinstance(err, MediaError):
        return text
    if isinstance(err, FileNotFoundError):
        return f"{path}: file not found"
    if isinstance(err, PermissionError):
        return f"{path}: permission denied"
    if isinstance(err, (ValueError, IndexError)) and text.startswith(str(path)):
        return text  # core.metrics' own messages already name the file
    return f"{path}: cannot be analysed ({text or type(err).__name__})"


@dataclass
class WorstPair:
    """One of the worst frame pairs, with small pictures of both frames (None if they could
    not be decoded)."""

    index: int  # x_t's frame index
    warp_error: float
    first: QImage | None = None
    second: QImage | None = None


@dataclass
class AnalysisResult:
    analysis: object  # core.metrics.Analysis (typed loosely: core.metrics loads OpenCV)
    worst: list[WorstPair] = field(default_factory=list)


# ---- clip analysis ---------------------------------------------------------------------------

class AnalysisProgress(NamedTuple):
    """What an analysis reports as it goes (at most every REPORT_INTERVAL_S)."""

    job: int
    done: int  # pairs measured
    total: int
    pairs: list  # [PairMetrics] measured since the last report


class AnalysisEnd(NamedTuple):
    """How an analysis ended: a result, a message naming the file, or cancelled."""

    job: int
    result: AnalysisResult | None = None
    error: str = ""
    cancelled: bool = False


def analyse_clip(job: int, path: str, in_frame: int | None, out_frame: int | None,
                 cancel: CancelToken, worst_count: int = 5, *, report) -> AnalysisEnd:
    """A pool thread (``Workers.run(..., reports=True)``): analyse frames
    ``in_frame..out_frame`` of ``path`` (None: the file's ends), calling ``report`` with an
    ``AnalysisProgress`` as the pairs come."""
    path = str(path)
    if cancel.cancelled:
        return AnalysisEnd(job, cancelled=True)
    reporter = _Reporter(job, report)
    try:
        from studio.core import metrics

        analysis = metrics.analyze(path, in_frame, out_frame, progress=reporter.progress,
                                   on_pair=reporter.pending.append, cancel=cancel)
        reporter.flush()
        worst = _worst_pairs(path, analysis, worst_count, cancel)
    except Cancelled:
        return AnalysisEnd(job, cancelled=True)
    except Exception as err:  # noqa: BLE001 - every failure becomes a message
        return AnalysisEnd(job, error=describe_failure(path, err))
    return AnalysisEnd(job, AnalysisResult(analysis, worst))


class _Reporter:
    """Batches an analysis' pairs into an ``AnalysisProgress`` every REPORT_INTERVAL_S."""

    def __init__(self, job: int, report) -> None:
        self._job, self._report = job, report
        self.pending: list = []
        self._done = self._total = 0
        self._due = time.monotonic() + REPORT_INTERVAL_S

    def progress(self, done: int, total: int) -> None:
        self._done, self._total = done, total
        now = time.monotonic()
        if now >= self._due or done == total:
            self._due = now + REPORT_INTERVAL_S
            self.flush(always=True)

    def flush(self, always: bool = False) -> None:
        if self.pending or always:
            batch, self.pending = self.pending, []
            self._report(AnalysisProgress(self._job, self._done, self._total, batch))


def _worst_pairs(path: str, analysis, count: int, cancel: CancelToken) -> list[WorstPair]:
    errors = {p.index: p.warp_error for p in analysis.pairs}
    worst = [WorstPair(i, errors[i]) for i in analysis.worst_pairs(count)]
    try:
        from studio.core.frames import FrameReader

        reader = FrameReader(path)
    except Exception:  # noqa: BLE001 - pictures are a nicety; the figures stand
        return worst
    try:
        for pair in sorted(worst, key=lambda w: w.index):  # decode forward, in order
            cancel.raise_if_cancelled()
            try:
                pair.first = _thumbnail(reader.frame_at(pair.index).image)
                pair.second = _thumbnail(reader.frame_at(pair.index + 1).image)
            except (MediaError, IndexError, OSError):
                continue
    finally:
        reader.close()
    return worst


def _thumbnail(rgb) -> QImage:
    return rgb_to_qimage(fit_within(rgb, *THUMBNAIL_SIZE))


# ---- the flow of one pair ------------------------------------------------------------------

@dataclass
class FlowOverlay:
    """The flow from frame ``index`` to ``index + 1`` drawn on the colour wheel."""

    path: str
    index: int
    image: QImage  # RGB, at the analysis size
    legend: QImage  # the colour wheel, RGBA, transparent outside the disc
    scale_px: float  # the length, in pixels of the frame, that the wheel's rim stands for
    # The share of the frame's width and height the image covers, from the top left (the
    # analysis leaves out the last few rows and columns when the frame is shrunk).
    cover_width: float = 1.0
    cover_height: float = 1.0


class ReaderCache:
    """One open ``FrameReader``, kept between flow requests for the same file: opening a
    file indexes all its packets, which a request per displayed frame should not repeat.
    Used by one worker at a time (under the lock); ``close`` once none runs."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self._path: str | None = None
        self._reader = None
        self._stale = False

    def invalidate(self) -> None:
        """Open the file afresh on the next request (it may have changed). Any thread."""
        self._stale = True

    def reader(self, path: str):
        """The reader of ``path`` (opened now if another file was open). Hold ``lock``."""
        if self._stale or self._path != path or self._reader is None:
            self._stale = False
            self.close()
            from studio.core.frames import FrameReader

            self._reader = FrameReader(path)
            self._path = path
        return self._reader

    def close(self) -> None:
        reader, self._reader, self._path = self._reader, None, None
        if reader is not None:
            with contextlib.suppress(Exception):  # closing a broken file must not raise
                reader.close()


class FlowAnswer(NamedTuple):
    request: int
    overlay: FlowOverlay | None
    error: str = ""  # a message naming the file, when there is no overlay


def draw_flow(request: int, path: str, index: int, scale_px: float | None = None,
              readers: ReaderCache | None = None) -> FlowAnswer:
    """A pool thread (``Workers.run``): the flow of pair ``index`` of ``path`` on the colour
    wheel, its rim at ``scale_px`` (None: the pair's 99th percentile)."""
    path = str(path)
    try:
        overlay = _draw(path, int(index), scale_px, readers or ReaderCache())
    except Exception as err:  # noqa: BLE001 - every failure becomes a message
        return FlowAnswer(request, None, describe_failure(path, err))
    return FlowAnswer(request, overlay)


def _draw(path: str, index: int, scale_px: float | None, readers: ReaderCache) -> FlowOverlay:
    import numpy as np

    from studio.core import metrics

    with readers.lock:
        try:
            reader = readers.reader(path)
            first, second = metrics.reduced_pair(reader, index)
        except BaseException:
            readers.close()  # a file that failed is opened afresh next time
            raise
    flow = metrics.flow_between(first, second)  # vectors in pixels of the frame
    width, height, k = first.width, first.height, first.factor
    scale = scale_px
    if scale is None or not scale > 0:
        lengths = np.hypot(flow[..., 0], flow[..., 1])
        scale = max(float(np.percentile(lengths, 99)), MIN_FLOW_SCALE_PX)
    rgb = metrics.flow_to_rgb(flow, max_px=scale)
    legend = metrics.flow_legend(128)
    legend_image = QImage(legend.data, legend.shape[1], legend.shape[0],
                          legend.strides[0], QImage.Format.Format_RGBA8888).copy()
    fh, fw = flow.shape[:2]
    return FlowOverlay(path, index, rgb_to_qimage(rgb), legend_image, scale,
                       min(1.0, fw * k / width), min(1.0, fh * k / height))


class FlowOverlayController(QObject):
    """Asks the shared pool for the flow picture of one pair at a time (GUI thread).

    ``request(path, index)`` replaces any request not yet started. ``overlay_ready`` reports
    every answer for the current file, also one a newer request has overtaken (during
    playback the overlay then trails the picture instead of never showing);
    ``overlay_failed`` reports only a failure of the newest request. ``clear()`` forgets the
    file and drops answers still on their way."""

    overlay_ready = Signal(object)  # FlowOverlay
    overlay_failed = Signal(str)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.pool = Workers(self, limit=1)
        self._request = 0  # the newest request's number
        self._first_current = 1  # requests numbered below this are for a cleared file
        self._in_flight: int | None = None
        self._pending: tuple[str, int] | None = None
        self._scale_px: float | None = None
        self._readers = ReaderCache()
        self._shut_down = False

    @property
    def busy(self) -> bool:
        return self._in_flight is not None or self._pending is not None

    @property
    def scale_px(self) -> float | None:
        return self._scale_px

    def set_scale(self, scale_px: float | None) -> None:
        """A fixed colour scale (the rim of the wheel, in frame pixels); None: per pair."""
        self._scale_px = scale_px if scale_px and scale_px > 0 else None

    def request(self, path: str | Path, index: int) -> None:
        if self._shut_down:
            return
        self._request += 1
        self._pending = (str(path), int(index))
        if self._in_flight is None:
            self._start_pending()

    def clear(self) -> None:
        self._request += 1
        self._first_current = self._request + 1
        self._pending = None
        self._readers.invalidate()

    def shutdown(self) -> None:
        self._shut_down = True
        self.clear()
        self.pool.clear()
        self.pool.waitForDone(10000)
        with self._readers.lock:
            self._readers.close()

    def _start_pending(self) -> None:
        if self._pending is None or self._shut_down:
            return
        path, index = self._pending
        self._pending = None
        self._in_flight = self._request
        self.pool.run(draw_flow, self._request, path, index, self._scale_px, self._readers,
                      returned=self._on_answer)

    @Slot(object)
    def _on_answer(self, answer: FlowAnswer) -> None:
        self._in_flight = None
        if answer.overlay is not None:
            if answer.request >= self._first_current and not self._shut_down:
                self.overlay_ready.emit(answer.overlay)
        elif answer.request == self._request and not self._shut_down:
            self.overlay_failed.emit(answer.error)
        self._start_pending()
