"""Temporal metrics of a video: optical flow, warp error, motion and flicker.

For consecutive frames x_t and x_{t+1} (RGB in [0, 1], analysed at a reduced size: the frame
shrunk by a whole factor k, box-filtered, so that its longer side is at most
``ANALYSIS_MAX_SIDE``; the last ``size mod k`` rows and columns are left out):

- optical flow with OpenCV's DIS: the forward flow f = f_{t->t+1} on x_t's grid
  (x_t(p) ~ x_{t+1}(p + f(p))) and the backward flow b = f_{t+1->t} on x_{t+1}'s grid;
- warp error: the mean over pixels q of ||x_{t+1}(q) - Warp(x_t, f_{t->t+1})(q)||^2, the
  squared norm over the three channels (so it lies in [0, 3]).

  Which way the warp goes. A prediction of x_{t+1} is an image on x_{t+1}'s grid, so each of
  its pixels q must say where in x_t its content came from. That is the flow expressed on
  the target grid, b(q), and Warp(x_t)(q) = x_t(q + b(q)), sampled bilinearly (``warp``).
  b is f_{t->t+1} carried to where each pixel lands: b(p + f(p)) = -f(p) for a pixel p seen
  in both frames. Sampling x_t at q - f(q) instead would use the forward flow at the wrong
  place (f(q) belongs to the content of x_t at q, not to the content that lands at q), which
  is off wherever the motion is not uniform.

  Only pixels that pass a forward-backward check count: q passes when
  |b(q) + f(q + b(q))|^2 < 0.01 (|b(q)|^2 + |f(q + b(q))|^2) + 0.5 px^2 (Sundaram et al.
  2010, as Ruder et al. 2016 use it to leave out occlusions) and q + b(q) lies inside x_t
  (content entering at an edge cannot be predicted). When fewer than
  ``MIN_CONSISTENT_FRACTION`` of the pixels pass (a cut, noise), every pixel counts and the
  pair says ``fallback``. L_flow = 1/(T-1) sum_t warp_error_t is ``warp_error_mean``;
- motion: the mean length of f and its mean vector, in pixels of the original frame size;
- flicker: |mean brightness(x_{t+1}) - mean brightness(x_t)|, brightness being Rec. 601 luma
  in [0, 1].

``analyze`` decodes a file's frames with ``core.frames.FrameReader`` in order, each once,
within a clip's in/out range, straight to the analysis size (``reduced_frame_at``: for 8-bit
YUV the planes are shrunk before the conversion to RGB, within a level or two of the exact
frame shrunk); a helper thread decodes and shrinks the frames while a few
worker threads measure the pairs (each pair on its own: they are independent), and the
results come back in order. OpenCV's own thread pool is turned off meanwhile: at the
analysis size it adds no speed and busy-waits on the cores the workers need. ``analyze_frames``
takes frames already in memory; ``analyze_generation`` is what the generation code calls on a
finished file (the summary and per-pair series for its sidecar). ``flow_image`` and ``flow_legend`` draw a
pair's flow on the HSV colour wheel for the player. numpy and OpenCV only: no Qt, no torch.
"""

from __future__ import annotations

import contextlib
import math
import operator
import os
import queue
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Self

import cv2
import numpy as np

from studio.core.cancel import CancelToken
from studio.core.media import MediaError

ANALYSIS_MAX_SIDE = 256
# Below this share of pixels passing the forward-backward check the pair is measured over
# all pixels: the few that pass would not describe the frame.
MIN_CONSISTENT_FRACTION = 0.2
WORST_PAIRS = 5  # how many pairs ``worst_pairs`` names
# The forward-backward consistency threshold: |b + f~|^2 < ALPHA (|b|^2 + |f~|^2) + BETA.
_FB_ALPHA = 0.01
_FB_BETA = 0.5  # px^2 at the analysis size
_LUMA = (0.299, 0.587, 0.114)  # Rec. 601, as OpenCV's RGB2GRAY
# DIS needs a few patches per side at its finest pyramid level: smaller frames are enlarged
# to this for the flow only.
_MIN_FLOW_SIDE = 32
# Frames decoded ahead of the flow measurement.
_PREFETCH = 4
# Threads measuring pairs while another decodes: one per core, up to this many.
_MAX_WORKERS = 4

ProgressCallback = Callable[[int, int], None]  # (pairs done, pairs total)


class TooFewFramesError(MediaError):
    reason = "too few frames to analyse"


# ---- results --------------------------------------------------------------------------------

@dataclass(frozen=True)
class PairMetrics:
    """The measures of one pair of consecutive frames (``index``, ``index + 1``)."""

    index: int  # frame index of x_t in the file (for a clip: not counted from its in point)
    warp_error: float  # mean squared RGB error of the warped prediction, in [0, 3]
    motion_px: float  # mean flow length, pixels of the original frame size
    flow_dx: float  # mean flow vector, original pixels (x right, y down)
    flow_dy: float
    flicker: float  # |change of mean brightness|, brightness in [0, 1]
    brightness_change: float  # the same change with its sign
    consistent_pixels: int  # pixels that passed the forward-backward check
    pixels: int  # pixels of the analysed frame
    fallback: bool  # too few passed: the warp error is over all pixels

    def to_dict(self) -> dict:
        return {"index": self.index, "warp_error": self.warp_error, "motion_px": self.motion_px,
                "flow_dx": self.flow_dx, "flow_dy": self.flow_dy, "flicker": self.flicker,
                "brightness_change": self.brightness_change,
                "consistent_pixels": self.consistent_pixels, "pixels": self.pixels,
                "fallback": self.fallback}


@dataclass(frozen=True)
class Analysis:
    """Per-pair measures of frames ``first_frame..last_frame`` (inclusive) and their summary.
    There is at least one pair."""

    path: str | None  # None for frames analysed from memory
    first_frame: int
    last_frame: int
    width: int  # original frame size
    height: int
    analysis_width: int
    analysis_height: int
    pairs: tuple[PairMetrics, ...]

    @property
    def frames(self) -> int:
        return self.last_frame - self.first_frame + 1

    @property
    def warp_errors(self) -> np.ndarray:
        return np.array([p.warp_error for p in self.pairs], dtype=np.float64)

    @property
    def motions_px(self) -> np.ndarray:
        return np.array([p.motion_px for p in self.pairs], dtype=np.float64)

    @property
    def flickers(self) -> np.ndarray:
        return np.array([p.flicker for p in self.pairs], dtype=np.float64)

    @property
    def warp_error_mean(self) -> float:
        """L_flow = 1/(T-1) sum_t warp_error_t."""
        return float(self.warp_errors.mean())

    @property
    def warp_error_p95(self) -> float:
        return float(np.percentile(self.warp_errors, 95))

    @property
    def warp_error_max(self) -> float:
        return float(self.warp_errors.max())

    @property
    def flow_mean_px(self) -> float:
        return float(self.motions_px.mean())

    @property
    def flow_p95_px(self) -> float:
        return float(np.percentile(self.motions_px, 95))

    @property
    def flow_max_px(self) -> float:
        return float(self.motions_px.max())

    @property
    def flow_mean_dx(self) -> float:
        return float(np.mean([p.flow_dx for p in self.pairs]))

    @property
    def flow_mean_dy(self) -> float:
        return float(np.mean([p.flow_dy for p in self.pairs]))

    @property
    def flicker(self) -> float:
        """The mean over pairs of |change of mean brightness|."""
        return float(self.flickers.mean())

    @property
    def flicker_p95(self) -> float:
        return float(np.percentile(self.flickers, 95))

    @property
    def flicker_max(self) -> float:
        return float(self.flickers.max())

    @property
    def fallback_pairs(self) -> int:
        return sum(p.fallback for p in self.pairs)

    def worst_pairs(self, count: int = WORST_PAIRS) -> list[int]:
        """Frame indices (x_t of each pair) of the ``count`` highest warp errors, worst first."""
        ranked = sorted(self.pairs, key=lambda p: (-p.warp_error, p.index))
        return [p.index for p in ranked[:count]]

    def summary(self) -> dict:
        """The figures as JSON-ready numbers (for the CLI, a sidecar, the generations list)."""
        return {
            "frames": self.frames,
            "first_frame": self.first_frame,
            "last_frame": self.last_frame,
            "analysis_size": [self.analysis_width, self.analysis_height],
            "flow_mean_px": self.flow_mean_px,
            "flow_p95_px": self.flow_p95_px,
            "flow_max_px": self.flow_max_px,
            "flow_mean_dx": self.flow_mean_dx,
            "flow_mean_dy": self.flow_mean_dy,
            "warp_error_mean": self.warp_error_mean,
            "warp_error_p95": self.warp_error_p95,
            "warp_error_max": self.warp_error_max,
            "flicker": self.flicker,
            "flicker_p95": self.flicker_p95,
            "flicker_max": self.flicker_max,
            "fallback_pairs": self.fallback_pairs,
            "consistent_fraction_mean": float(np.mean(
                [p.consistent_pixels / p.pixels for p in self.pairs])),
            "worst_pairs": self.worst_pairs(),
        }

    def to_dict(self) -> dict:
        """``path``, ``summary()`` and ``per_pair``: every measure of every pair."""
        return {"path": self.path, **self.summary(),
                "per_pair": [p.to_dict() for p in self.pairs]}


# ---- sizes, flow and warping ------------------------------------------------------------------

def analysis_factor(width: int, height: int, max_side: int = ANALYSIS_MAX_SIDE) -> int:
    """The whole factor k a frame is shrunk by: the smallest with max(width, height) / k at
    most ``max_side`` (1: a small frame is not enlarged)."""
    max_side = operator.index(max_side)
    if max_side < 8:
        raise ValueError(f"max_side must be at least 8, not {max_side}")
    return max(1, math.ceil(max(width, height) / max_side))


def analysis_size(width: int, height: int, max_side: int = ANALYSIS_MAX_SIDE) -> tuple[int, int]:
    """(width, height) a frame is analysed at: each side divided by ``analysis_factor``,
    rounded down."""
    k = analysis_factor(width, height, max_side)
    return max(1, width // k), max(1, height // k)


def _new_dis():
    # ULTRAFAST's patch search down to the half-size level (the preset stops at a quarter),
    # a patch every 5 px (the preset: 4), no variational refinement. Measured at 256x170
    # against known motion: translations within 0.05 px; on zooms and rotations a warp error
    # floor 1.4x that of a patch every 4 px (0.5x with refinement, FAST or MEDIUM) for 55% of
    # its time (a third of theirs). A patch every 6 px saved little more and doubled the floor.
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST)
    dis.setFinestScale(1)
    dis.setPatchStride(5)
    return dis


def compute_flow(image0: np.ndarray, image1: np.ndarray) -> np.ndarray:
    """Dense optical flow from ``image0`` to ``image1`` (DIS), float32 (H, W, 2) in pixels:
    image0(p) ~ image1(p + flow(p)). Images: uint8, RGB (H, W, 3) or grey (H, W), same size."""
    g0, g1 = _grey(image0), _grey(image1)
    if g0.shape != g1.shape:
        raise ValueError(f"the images differ in size: {g0.shape[::-1]} and {g1.shape[::-1]}")
    return _flow(_new_dis(), g0, g1)


def _grey(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise ValueError(f"the flow needs uint8 images, not {image.dtype}")
    if image.ndim == 3:
        return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    return image


def _flow(dis, g0: np.ndarray, g1: np.ndarray) -> np.ndarray:
    h, w = g0.shape
    if min(h, w) >= _MIN_FLOW_SIDE:
        return dis.calc(g0, g1, None)
    # Too small for DIS: measure on an enlarged copy and scale the vectors back.
    k = math.ceil(_MIN_FLOW_SIDE / min(h, w))
    big = [cv2.resize(g, (w * k, h * k), interpolation=cv2.INTER_LINEAR) for g in (g0, g1)]
    flow = dis.calc(big[0], big[1], None)
    return cv2.resize(flow, (w, h), interpolation=cv2.INTER_AREA) * np.float32(1 / k)


def _sample_maps(flow: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Absolute sampling positions q + flow(q), as x and y planes."""
    h, w = flow.shape[:2]
    map_x = flow[..., 0] + np.arange(w, dtype=np.float32)[None, :]
    map_y = flow[..., 1] + np.arange(h, dtype=np.float32)[:, None]
    return map_x, map_y


def warp(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Backward warp: out(q) = image(q + flow(q)), bilinear, edges repeated.

    ``flow`` lives on the output's grid. To predict x_{t+1} from x_t, pass the flow from
    x_{t+1} to x_t (``compute_flow(x_next, x_prev)``): each output pixel then looks up where
    its content was in x_t."""
    map_x, map_y = _sample_maps(np.asarray(flow, dtype=np.float32))
    return cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


# ---- the measures -----------------------------------------------------------------------------

@dataclass
class PreparedFrame:
    """A frame at the analysis size, as the measures use it."""

    index: int
    rgb: np.ndarray  # float32 (h, w, 3) in [0, 1]
    grey: np.ndarray  # uint8 (h, w): what the flow sees
    brightness: float  # mean luma in [0, 1]


class PairAnalyzer:
    """Measures pairs of frames of one size. Thread-safe: each thread measures with its own
    DIS (it keeps state).

    ``width``/``height``: the original frame size; motion is reported in its pixels."""

    def __init__(self, width: int, height: int, max_side: int = ANALYSIS_MAX_SIDE):
        self.width, self.height = int(width), int(height)
        self.factor = analysis_factor(self.width, self.height, max_side)
        self.size = analysis_size(self.width, self.height, max_side)
        w, h = self.size
        # Each pixel's own position: a flow plus this is where it points to.
        self._xs = np.arange(w, dtype=np.float32)[None, :]
        self._ys = np.arange(h, dtype=np.float32)[:, None]
        self._local = threading.local()

    def _dis(self):
        dis = getattr(self._local, "dis", None)
        if dis is None:
            dis = self._local.dis = _new_dis()
        return dis

    def prepare(self, image: np.ndarray, index: int = 0) -> PreparedFrame:
        """Shrink an RGB uint8 frame to the analysis size (a k x k box mean: the exact
        average of each block). A frame already at the analysis size (as
        ``FrameReader.reduced_frame_at`` gives it) is taken as it is."""
        image = np.asarray(image)
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"frames must be RGB uint8 (H, W, 3), not {image.dtype} "
                             f"{image.shape}")
        w, h = self.size
        k = self.factor
        if (image.shape[1], image.shape[0]) == (w, h):
            pass
        elif (image.shape[1], image.shape[0]) == (self.width, self.height):
            if k > 1:
                image = cv2.resize(image[:h * k, :w * k], (w, h), interpolation=cv2.INTER_AREA)
        else:  # a frame of another size in the same stream
            image = cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA)
        rgb = np.multiply(image, np.float32(1 / 255), dtype=np.float32)
        mean_r, mean_g, mean_b, _ = cv2.mean(rgb)
        brightness = _LUMA[0] * mean_r + _LUMA[1] * mean_g + _LUMA[2] * mean_b
        return PreparedFrame(int(index), rgb, cv2.cvtColor(image, cv2.COLOR_RGB2GRAY),
                             brightness)

    def flow(self, prev: PreparedFrame, nxt: PreparedFrame) -> np.ndarray:
        """The forward flow prev -> next at the analysis size, in analysis pixels."""
        return _flow(self._dis(), prev.grey, nxt.grey)

    def measure(self, prev: PreparedFrame, nxt: PreparedFrame) -> PairMetrics:
        """The measures of the pair (prev, nxt); ``prev.index`` names it."""
        dis = self._dis()
        forward = _flow(dis, prev.grey, nxt.grey)  # on prev's grid
        backward = _flow(dis, nxt.grey, prev.grey)  # on next's grid
        h, w = backward.shape[:2]
        bx, by = cv2.split(backward)
        map_x = bx + self._xs  # q + b(q): where q's content was in prev
        map_y = by + self._ys
        # One fixed-point conversion for both lookups (remap would convert each time).
        map1, map2 = cv2.convertMaps(map_x, map_y, cv2.CV_16SC2)
        predicted = cv2.remap(prev.rgb, map1, map2, cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_REPLICATE)
        fx_there, fy_there = cv2.split(cv2.remap(forward, map1, map2, cv2.INTER_LINEAR,
                                                 borderMode=cv2.BORDER_REPLICATE))
        # The forward-backward check on next's grid; the source point must lie inside prev.
        round_x, round_y = bx + fx_there, by + fy_there
        mismatch = round_x * round_x + round_y * round_y
        limit = bx * bx + by * by + fx_there * fx_there + fy_there * fy_there
        limit *= np.float32(_FB_ALPHA)
        limit += np.float32(_FB_BETA)
        consistent = mismatch < limit
        consistent &= (map_x >= 0) & (map_x <= w - 1) & (map_y >= 0) & (map_y <= h - 1)
        mask = consistent.view(np.uint8)
        passed = cv2.countNonZero(mask)
        pixels = h * w
        fallback = passed < MIN_CONSISTENT_FRACTION * pixels
        # The mean over pixels of the sum over channels of the squared error.
        if fallback:
            warp_error = cv2.norm(nxt.rgb, predicted, cv2.NORM_L2SQR) / pixels
        else:
            warp_error = cv2.norm(nxt.rgb, predicted, cv2.NORM_L2SQR, mask) / passed

        fx, fy = cv2.split(forward)
        k = self.factor
        motion = k * cv2.mean(cv2.magnitude(fx, fy))[0]
        mean_dx, mean_dy = cv2.mean(forward)[:2]
        change = nxt.brightness - prev.brightness
        return PairMetrics(index=prev.index, warp_error=warp_error, motion_px=motion,
                           flow_dx=k * mean_dx, flow_dy=k * mean_dy,
                           flicker=abs(change), brightness_change=change,
                           consistent_pixels=passed, pixels=pixels, fallback=bool(fallback))


def iter_pairs(frames: Iterable[tuple[int, np.ndarray]], width: int, height: int, *,
               max_side: int = ANALYSIS_MAX_SIDE,
               cancel: CancelToken | None = None) -> Iterator[PairMetrics]:
    """``PairMetrics`` of consecutive (index, RGB uint8 image) frames of size width x height,
    as they come. ``cancel`` is checked before each frame."""
    analyzer = PairAnalyzer(width, height, max_side)
    prev = None
    for index, image in frames:
        if cancel is not None:
            cancel.raise_if_cancelled()
        current = analyzer.prepare(image, index)
        if prev is not None:
            yield analyzer.measure(prev, current)
        prev = current


def analyze(source: str | Path, in_frame: int | None = None, out_frame: int | None = None, *,
            max_side: int = ANALYSIS_MAX_SIDE, progress: ProgressCallback | None = None,
            cancel: CancelToken | None = None, on_pair: Callable[[PairMetrics], None] | None = None,
            reader=None) -> Analysis:
    """Measure every consecutive pair of frames ``in_frame..out_frame`` (inclusive; the whole
    file when None; ``out_frame`` past the end means the last frame) of a video file,
    decoding each frame once, in order.

    ``progress(done, total)`` and ``on_pair(pair)`` after each pair (from this thread);
    ``cancel`` stops it with ``Cancelled``. ``reader``: an open ``FrameReader`` of the file to
    use; it stays open, and must not be used elsewhere until this returns (a helper thread
    decodes with it).
    Raises ``MediaError`` naming the file (``TooFewFramesError`` for fewer than two frames),
    ``ValueError`` for a range outside the file."""
    from studio.core.frames import FrameReader

    own = reader is None
    if own:
        reader = FrameReader(source)
    try:
        path = reader.path
        count = reader.frame_count
        first = 0 if in_frame is None else operator.index(in_frame)
        last = count - 1 if out_frame is None else min(operator.index(out_frame), count - 1)
        if not 0 <= first < count:
            raise ValueError(f"{path}: the first frame, {first}, is outside the file's frames "
                             f"(0..{count - 1})")
        if first > last:
            raise ValueError(f"{path}: the first frame, {first}, is after the last, {last}")
        if last == first:
            raise TooFewFramesError(path, "one frame; motion needs two")
        # Frames decoded straight to the analysis size: the YUV planes are shrunk before the
        # conversion to RGB, which costs about a third of decoding at full size.
        head = reader.reduced_frame_at(first, max_side=max_side)
        width, height = head.width, head.height
        analyzer = PairAnalyzer(width, height, max_side)

        def prepared() -> Iterator[PreparedFrame]:
            yield analyzer.prepare(head.image, first)
            for frame in reader.iter_reduced_frames(range(first + 1, last + 1), analyzer.factor):
                yield analyzer.prepare(frame.image, frame.index)

        total = last - first
        pairs: list[PairMetrics] = []
        workers = _worker_count()
        with contextlib.ExitStack() as stack:
            stack.enter_context(_opencv_single_threaded())
            frames = stack.enter_context(_Prefetch(prepared(), _PREFETCH, cancel))
            pool = ThreadPoolExecutor(workers, thread_name_prefix="metrics-flow")
            # Pairs not yet measured never start once this block is left (cancel, error).
            stack.callback(pool.shutdown, wait=True, cancel_futures=True)
            measuring: deque[Future] = deque()

            def deliver(pair: PairMetrics) -> None:
                if cancel is not None:
                    cancel.raise_if_cancelled()
                pairs.append(pair)
                if on_pair is not None:
                    on_pair(pair)
                if progress is not None:
                    progress(len(pairs), total)

            prev = next(frames)
            for current in frames:
                measuring.append(pool.submit(analyzer.measure, prev, current))
                prev = current
                if len(measuring) > 2 * workers:  # enough queued: take the oldest
                    deliver(measuring.popleft().result())
            while measuring:
                deliver(measuring.popleft().result())
        if not pairs:  # the decoder gave fewer frames than the index promised
            raise TooFewFramesError(path, "one frame could be decoded; motion needs two")
        last = pairs[-1].index + 1
        w, h = analyzer.size
        return Analysis(path=path, first_frame=first, last_frame=last, width=width,
                        height=height, analysis_width=w, analysis_height=h, pairs=tuple(pairs))
    finally:
        if own:
            reader.close()


def _worker_count() -> int:
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(_MAX_WORKERS, cores))


_opencv_lock = threading.Lock()
_opencv_users = 0
_opencv_threads = 0  # OpenCV's thread count before the first user turned it down


@contextlib.contextmanager
def _opencv_single_threaded():
    """OpenCV's parallel loops on one thread while any analysis runs (counted, so that
    analyses overlapping on several threads restore it once, when the last ends). At 256x170
    a DIS flow takes as long on two threads as on one, but twice the CPU (its pool waits
    busily), CPU the decoding thread and the other workers need."""
    global _opencv_users, _opencv_threads
    with _opencv_lock:
        if _opencv_users == 0:
            _opencv_threads = cv2.getNumThreads()
            cv2.setNumThreads(1)
        _opencv_users += 1
    try:
        yield
    finally:
        with _opencv_lock:
            _opencv_users -= 1
            if _opencv_users == 0:
                cv2.setNumThreads(_opencv_threads)


class _Prefetch:
    """Runs an iterator in a helper thread, ``depth`` items ahead: frames are decoded and
    shrunk there (PyAV and OpenCV release the GIL) while workers measure the flows.
    Its exceptions come out of ``next``; leaving the ``with`` block stops it."""

    _END = object()

    def __init__(self, items: Iterator, depth: int, cancel: CancelToken | None):
        self._items = items
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._cancel = cancel
        self._thread = threading.Thread(target=self._run, name="metrics-decode", daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        while self._thread.is_alive():
            try:  # make room so that a blocked put sees the stop
                self._queue.get(timeout=0.05)
            except queue.Empty:
                pass
        self._thread.join()

    def _put(self, item) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        try:
            for item in self._items:
                if self._stop.is_set() or (self._cancel is not None and self._cancel.cancelled):
                    break
                if not self._put((item, None)):
                    return
        except BaseException as err:  # noqa: BLE001 - handed to the consumer thread
            self._put((self._END, err))
            return
        self._put((self._END, None))

    def __iter__(self) -> Self:
        return self

    def __next__(self):
        item, err = self._queue.get()
        if item is self._END:
            self._queue.put((self._END, err))  # stays ended for a later next()
            if err is not None:
                raise err
            if self._cancel is not None:
                self._cancel.raise_if_cancelled()
            raise StopIteration
        return item


def analyze_frames(images: Iterable[np.ndarray], *, max_side: int = ANALYSIS_MAX_SIDE,
                   progress: ProgressCallback | None = None,
                   cancel: CancelToken | None = None, total: int | None = None) -> Analysis:
    """Measure frames already in memory (RGB uint8 (H, W, 3), in order, indexed from 0), as
    a generation holds them. ``total``: the number of pairs ``progress`` reports against
    (``len(images) - 1`` when ``images`` has a length)."""
    if total is None and hasattr(images, "__len__"):
        total = max(0, len(images) - 1)
    it = iter(images)
    head = next(it, None)
    if head is None:
        raise TooFewFramesError("frames in memory", "no frame; motion needs two")
    head = np.asarray(head)
    if head.ndim != 3:
        raise ValueError(f"frames must be RGB uint8 (H, W, 3), not {head.dtype} {head.shape}")
    height, width = head.shape[:2]

    def frames():
        yield 0, head
        yield from enumerate(it, start=1)

    pairs: list[PairMetrics] = []
    for pair in iter_pairs(frames(), width, height, max_side=max_side, cancel=cancel):
        pairs.append(pair)
        if progress is not None:
            progress(len(pairs), max(total or 0, len(pairs)))
    if not pairs:
        raise TooFewFramesError("frames in memory", "one frame; motion needs two")
    w, h = analysis_size(width, height, max_side)
    return Analysis(path=None, first_frame=0, last_frame=pairs[-1].index + 1, width=width,
                    height=height, analysis_width=w, analysis_height=h, pairs=tuple(pairs))


def analyze_generation(path: str | Path, *, progress: ProgressCallback | None = None,
                       cancel: CancelToken | None = None) -> dict:
    """For a finished generation (every frame of its file): what its sidecar and the
    generations list keep, JSON-ready: ``Analysis.summary()`` plus ``series``, the per-pair
    ``index``, ``warp_error``, ``motion_px`` and ``flicker`` lists for plots."""
    result = analyze(path, progress=progress, cancel=cancel)
    pairs = result.pairs
    return {**result.summary(),
            "analysis_max_side": ANALYSIS_MAX_SIDE,
            "series": {"index": [p.index for p in pairs],
                       "warp_error": [p.warp_error for p in pairs],
                       "motion_px": [p.motion_px for p in pairs],
                       "flicker": [p.flicker for p in pairs]}}


# ---- pictures of the flow -----------------------------------------------------------------------

def pair_flow(source: str | Path, index: int, *, max_side: int = ANALYSIS_MAX_SIDE,
              reader=None) -> np.ndarray:
    """The forward flow from frame ``index`` to ``index + 1``, float32 (h, w, 2) at the
    analysis size, its vectors in pixels of the original frame size."""
    return _pair_flow(source, index, max_side, reader)[0]


def _pair_flow(source, index, max_side, reader) -> tuple[np.ndarray, tuple[int, int]]:
    from studio.core.frames import FrameReader

    own = reader is None
    if own:
        reader = FrameReader(source)
    try:
        first, second = reduced_pair(reader, index, max_side)
    finally:
        if own:
            reader.close()
    return flow_between(first, second, max_side), (first.width, first.height)


def reduced_pair(reader, index: int, max_side: int = ANALYSIS_MAX_SIDE) -> tuple:
    """Frames ``index`` and ``index + 1`` of an open ``FrameReader``, decoded straight to the
    analysis size as ``analyze`` decodes them (``reduced_frame_at``); IndexError when
    ``index`` has no next frame."""
    index = operator.index(index)
    count = reader.frame_count
    if not 0 <= index < count - 1:
        raise IndexError(f"{reader.path}: frame {index} has no next frame to measure the "
                         f"flow to (frames 0..{count - 1})")
    return (reader.reduced_frame_at(index, max_side=max_side),
            reader.reduced_frame_at(index + 1, max_side=max_side))


def flow_between(first, second, max_side: int = ANALYSIS_MAX_SIDE) -> np.ndarray:
    """The forward flow between two frames of ``reduced_pair``, float32 (h, w, 2) at the
    analysis size, its vectors in pixels of the original frame size."""
    analyzer = PairAnalyzer(first.width, first.height, max_side)
    flow = analyzer.flow(analyzer.prepare(first.image, first.index),
                         analyzer.prepare(second.image, second.index))
    flow *= np.float32(analyzer.factor)
    return flow


def flow_to_rgb(flow: np.ndarray, max_px: float | None = None) -> np.ndarray:
    """A flow field as an RGB uint8 picture on the HSV colour wheel: the hue is the direction
    (OpenCV's hue of the angle, y pointing down: right red, down chartreuse, left cyan, up
    violet), the saturation the length up to ``max_px`` (the longest vector when None), the
    value full: no motion is white."""
    flow = np.asarray(flow, dtype=np.float32)
    length, angle = cv2.cartToPolar(np.ascontiguousarray(flow[..., 0]),
                                    np.ascontiguousarray(flow[..., 1]), angleInDegrees=True)
    if max_px is None:
        max_px = float(length.max()) if length.size else 0.0
    scale = 255.0 / max_px if max_px > 0 else 0.0
    hsv = np.empty(flow.shape[:2] + (3,), np.uint8)
    hsv[..., 0] = np.rint(angle * 0.5).astype(np.int32) % 180  # 8-bit hue runs 0..179
    hsv[..., 1] = np.clip(np.rint(length * scale), 0, 255).astype(np.uint8)
    hsv[..., 2] = 255
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)


def flow_image(source: str | Path, index: int, *, max_px: float | None = None,
               max_side: int = ANALYSIS_MAX_SIDE, full_size: bool = True,
               reader=None) -> np.ndarray:
    """The flow from frame ``index`` to ``index + 1`` as ``flow_to_rgb`` draws it (RGB
    uint8), at the original frame size (``full_size``) so that it lies over the frame, or at
    the analysis size. Pass the same ``max_px`` for every frame (e.g. an analysis'
    ``flow_max_px``) to keep one colour scale, and show ``flow_legend`` beside it."""
    flow, size = _pair_flow(source, index, max_side, reader)
    rgb = flow_to_rgb(flow, max_px)
    if full_size and (rgb.shape[1], rgb.shape[0]) != size:
        rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_LINEAR)
    return rgb


def flow_legend(size: int = 96) -> np.ndarray:
    """The colour wheel of ``flow_to_rgb``, RGBA uint8 (size, size, 4): the centre is no
    motion, the rim a vector of ``max_px`` pointing from the centre to there; transparent
    outside the disc."""
    size = operator.index(size)
    if size < 8:
        raise ValueError(f"size must be at least 8, not {size}")
    radius = (size - 1) / 2
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
    flow = np.dstack([(xs - radius) / radius, (ys - radius) / radius])
    rgb = flow_to_rgb(flow, max_px=1.0)
    inside = np.hypot(flow[..., 0], flow[..., 1]) <= 1.0
    alpha = np.where(inside, 255, 0).astype(np.uint8)
    return np.dstack([rgb, alpha])
