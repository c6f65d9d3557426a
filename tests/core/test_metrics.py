"""core.metrics on videos made here with known content: a texture translating by a fixed
(dx, dy) per frame, a static scene, independent noise, a static scene whose brightness jumps
every other frame. Encoded with PyAV as lossless H.264 (crf 0, yuv444p)."""

from __future__ import annotations

import threading

import cv2
import numpy as np
import pytest

from studio.core import metrics
from studio.core.cancel import Cancelled, CancelToken
from studio.core.media import MediaError, MissingFileError
from tests.media_factory import make_image, smooth_texture, write_lossless

FRAMES = 8


# ---- video makers -----------------------------------------------------------------------------

def translating(width, height, dx, dy, frames=FRAMES, seed=0):
    """Frames of a window over a large texture; the content moves by (dx, dy) each frame."""
    margin = 8
    big = smooth_texture(width + abs(dx) * frames + 2 * margin, height + abs(dy) * frames + 2 * margin,
                  seed)
    x0, y0 = margin + max(dx, 0) * frames, margin + max(dy, 0) * frames
    return [big[y0 - dy * i:y0 - dy * i + height, x0 - dx * i:x0 - dx * i + width]
            for i in range(frames)]


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("metrics")
    rng = np.random.default_rng(7)
    still = smooth_texture(160, 120, seed=3)
    brighter = np.clip(still.astype(np.int16) + 40, 0, 255).astype(np.uint8)
    made = {
        # no scaling: analysed at full size
        "shift_3_-2": (translating(160, 120, 3, -2), (3, -2)),
        # 512x320 is analysed at 256x160: motion must come back in original pixels
        "shift_-6_4": (translating(512, 320, -6, 4, seed=1), (-6, 4)),
        # 3x smaller at 213x120, the last column left out
        "shift_5_3": (translating(640, 360, 5, 3, seed=2), (5, 3)),
        "static": ([still] * FRAMES, (0, 0)),
        "noise": ([rng.integers(0, 256, (120, 160, 3), dtype=np.uint8) for _ in range(FRAMES)],
                  None),
        "flicker": ([brighter if i % 2 else still for i in range(FRAMES)], (0, 0)),
    }
    return {name: (write_lossless(folder / f"{name}.mp4", images), images, motion)
            for name, (images, motion) in made.items()}


@pytest.fixture(scope="module")
def analyses(videos):
    return {name: metrics.analyze(path) for name, (path, _, _) in videos.items()}


# ---- known motion -----------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["shift_3_-2", "shift_-6_4", "shift_5_3"])
def test_translation_gives_its_mean_flow_in_original_pixels(videos, analyses, name):
    _, _, (dx, dy) = videos[name]
    result = analyses[name]
    assert abs(result.flow_mean_dx - dx) < 0.25, result.flow_mean_dx
    assert abs(result.flow_mean_dy - dy) < 0.25, result.flow_mean_dy
    for pair in result.pairs:  # every pair, not only on average
        assert abs(pair.flow_dx - dx) < 0.35 and abs(pair.flow_dy - dy) < 0.35, pair
    assert abs(result.flow_mean_px - np.hypot(dx, dy)) < 0.35
    # The warp predicts the next frame: the error stays near the static level.
    assert result.warp_error_mean < 5e-3
    assert result.fallback_pairs == 0
    assert all(p.consistent_pixels > 0.8 * p.pixels for p in result.pairs)
    assert result.flicker < 0.01


def test_sizes_and_pair_indices(analyses):
    result = analyses["shift_-6_4"]
    assert (result.width, result.height) == (512, 320)
    assert (result.analysis_width, result.analysis_height) == (256, 160)
    assert (result.first_frame, result.last_frame, result.frames) == (0, FRAMES - 1, FRAMES)
    assert [p.index for p in result.pairs] == list(range(FRAMES - 1))
    assert all(p.pixels == 256 * 160 for p in result.pairs)
    odd = analyses["shift_5_3"]
    assert (odd.analysis_width, odd.analysis_height) == (213, 120)  # 640 // 3, 360 // 3


def test_static_video_has_no_warp_error_motion_or_flicker(analyses):
    result = analyses["static"]
    assert result.warp_error_mean < 1e-5
    assert result.warp_error_max < 1e-5
    assert result.flow_mean_px < 0.05
    assert result.flicker < 1e-4


def test_noise_warp_error_is_orders_of_magnitude_higher(analyses):
    noise = analyses["noise"].warp_error_mean
    # Independent uniform noise: E||a - b||^2 = 3 * 2 * var = 0.5 per pixel before the
    # bilinear lookup smooths the prediction a little.
    assert 0.2 < noise < 1.0
    for smooth in ("static", "shift_3_-2", "shift_-6_4", "shift_5_3"):
        assert noise > 100 * max(analyses[smooth].warp_error_mean, 1e-5), smooth


def test_brightness_jumps_give_high_flicker_and_low_motion(analyses):
    result = analyses["flicker"]
    jump = 40 / 255  # every channel, so the luma jumps by as much
    assert result.flicker == pytest.approx(jump, abs=0.01)
    signs = [np.sign(p.brightness_change) for p in result.pairs]
    assert signs == [1, -1] * (len(signs) // 2) + [1] * (len(signs) % 2)
    assert result.flow_mean_px < 0.3
    assert result.flicker > 100 * max(analyses["static"].flicker, 1e-5)
    assert result.flicker > 10 * analyses["shift_3_-2"].flicker
    # The warp cannot undo a brightness change: ~3 * jump^2 per pixel.
    assert result.warp_error_mean == pytest.approx(3 * jump ** 2, rel=0.15)


def test_summary_figures(analyses):
    result = analyses["flicker"]
    errors = result.warp_errors
    summary = result.summary()
    assert summary["warp_error_mean"] == pytest.approx(errors.mean())
    assert summary["warp_error_p95"] == pytest.approx(np.percentile(errors, 95))
    assert summary["warp_error_max"] == pytest.approx(errors.max())
    worst = summary["worst_pairs"]
    assert len(worst) == min(metrics.WORST_PAIRS, len(result.pairs))
    by_error = {p.index: p.warp_error for p in result.pairs}
    assert [by_error[i] for i in worst] == sorted((by_error[i] for i in worst), reverse=True)
    assert min(by_error[i] for i in worst) >= max(
        v for i, v in by_error.items() if i not in worst)
    everything = result.to_dict()
    assert len(everything["per_pair"]) == FRAMES - 1
    assert everything["per_pair"][2]["index"] == 2


# ---- the warp direction -------------------------------------------------------------------------

def test_warp_samples_at_q_plus_flow_on_the_target_grid():
    """A zoom: the forward flow f(p) = (s - 1)(p - c) differs from minus the backward flow
    b(q) = (1/s - 1)(q - c). Warp(x_t, b) reproduces x_{t+1}; sampling at q - f(q) does not."""
    size, s = 128, 1.08
    x_t = smooth_texture(size, size, seed=5).astype(np.float32) / 255
    c = (size - 1) / 2
    # x_{t+1}(q) = x_t(c + (q - c) / s): content spreads out from the centre
    zoom = np.array([[1 / s, 0, c - c / s], [0, 1 / s, c - c / s]], np.float32)
    x_next = cv2.warpAffine(x_t, zoom, (size, size), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                            borderMode=cv2.BORDER_REPLICATE)
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
    offset = np.dstack([xs - c, ys - c])
    backward = (1 / s - 1) * offset  # on x_{t+1}'s grid
    forward = (s - 1) * offset  # on x_t's grid
    inner = slice(16, -16)

    def error(prediction):
        return float(((prediction - x_next)[inner, inner] ** 2).sum(axis=2).mean())

    right = error(metrics.warp(x_t, backward))
    wrong = error(metrics.warp(x_t, -forward))
    assert right < 1e-6
    assert wrong > 50 * max(right, 1e-7)


def test_measured_warp_uses_the_flow_on_the_target_grid():
    """The same zoom measured end to end: the warp error is that of the backward-flow warp,
    well below what sampling x_t at q - f(q) with the measured forward flow gives."""
    size, s = 160, 1.1
    x_t = smooth_texture(size, size, seed=5, cell=12)
    c = (size - 1) / 2
    zoom = np.array([[1 / s, 0, c - c / s], [0, 1 / s, c - c / s]], np.float32)
    x_next = cv2.warpAffine(x_t, zoom, (size, size), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                            borderMode=cv2.BORDER_REPLICATE)
    analyzer = metrics.PairAnalyzer(size, size)
    pair = analyzer.measure(analyzer.prepare(x_t, 0), analyzer.prepare(x_next, 1))
    forward = metrics.compute_flow(x_t, x_next)
    wrong = metrics.warp(x_t.astype(np.float32) / 255, -forward)
    wrong_error = float(((x_next.astype(np.float32) / 255 - wrong) ** 2).sum(axis=2).mean())
    assert pair.warp_error < 0.5 * wrong_error
    assert pair.motion_px == pytest.approx(float(np.hypot(*np.mgrid[0:size, 0:size] - c).mean())
                                           * (s - 1), rel=0.1)


def test_flow_direction_is_forward():
    frames = translating(96, 64, 3, -2)
    flow = metrics.compute_flow(frames[0], frames[1])
    assert flow.shape == (64, 96, 2)
    assert np.median(flow[..., 0]) == pytest.approx(3, abs=0.1)
    assert np.median(flow[..., 1]) == pytest.approx(-2, abs=0.1)
    back = metrics.compute_flow(frames[1], frames[0])
    predicted = metrics.warp(frames[0].astype(np.float32), back)
    inner = (slice(8, -8), slice(8, -8))
    assert np.abs(predicted - frames[1])[inner].mean() < 2  # grey levels


def test_occluded_pixels_are_left_out(monkeypatch):
    """A square moving over a static background: the background it uncovers has no source
    in x_t, fails the check and is left out of the warp error."""
    side, jump = 40, 8
    background = smooth_texture(160, 120, seed=8)
    square = smooth_texture(side, side, seed=9)
    a, b = background.copy(), background.copy()
    a[30:30 + side, 30:30 + side] = square
    b[30:30 + side, 30 + jump:30 + jump + side] = square
    analyzer = metrics.PairAnalyzer(160, 120)
    prev, nxt = analyzer.prepare(a, 0), analyzer.prepare(b, 1)
    pair = analyzer.measure(prev, nxt)
    assert not pair.fallback
    assert pair.motion_px == pytest.approx(side * side * jump / (160 * 120), rel=0.25)
    assert pair.pixels - pair.consistent_pixels >= side * jump  # the uncovered strip
    monkeypatch.setattr(metrics, "MIN_CONSISTENT_FRACTION", 1.01)  # every pixel counts
    over_all = analyzer.measure(prev, nxt)
    assert over_all.fallback
    assert pair.warp_error < 0.5 * over_all.warp_error


# ---- ranges, memory, progress, cancel, errors ---------------------------------------------------

def test_in_out_range(videos, analyses):
    path = videos["shift_3_-2"][0]
    result = metrics.analyze(path, in_frame=2, out_frame=5)
    assert (result.first_frame, result.last_frame, result.frames) == (2, 5, 4)
    assert [p.index for p in result.pairs] == [2, 3, 4]
    whole = {p.index: p for p in analyses["shift_3_-2"].pairs}
    for pair in result.pairs:
        assert pair.warp_error == pytest.approx(whole[pair.index].warp_error, rel=1e-6, abs=1e-9)
    assert metrics.analyze(path, out_frame=1000).last_frame == FRAMES - 1
    with pytest.raises(ValueError, match="first frame, 5, is after the last, 2"):
        metrics.analyze(path, in_frame=5, out_frame=2)
    with pytest.raises(ValueError, match="outside the file"):
        metrics.analyze(path, in_frame=FRAMES)
    with pytest.raises(metrics.TooFewFramesError, match="one frame"):
        metrics.analyze(path, in_frame=3, out_frame=3)


def test_frames_in_memory_match_the_file(videos, analyses):
    _, images, _ = videos["shift_-6_4"]
    seen = []
    result = metrics.analyze_frames(images, progress=lambda done, total: seen.append((done, total)))
    assert result.path is None and result.frames == FRAMES
    assert seen == [(i, FRAMES - 1) for i in range(1, FRAMES)]
    from_file = analyses["shift_-6_4"]
    assert result.flow_mean_dx == pytest.approx(from_file.flow_mean_dx, abs=0.05)
    assert result.warp_error_mean == pytest.approx(from_file.warp_error_mean, rel=0.2, abs=1e-4)
    with pytest.raises(metrics.TooFewFramesError):
        metrics.analyze_frames(images[:1])


def test_progress_and_pairs_as_they_come(videos):
    path = videos["static"][0]
    seen, pairs = [], []
    metrics.analyze(path, progress=lambda done, total: seen.append((done, total)),
                    on_pair=pairs.append)
    assert seen == [(i, FRAMES - 1) for i in range(1, FRAMES)]
    assert [p.index for p in pairs] == list(range(FRAMES - 1))


def test_cancel_stops_and_leaves_no_thread(videos):
    path = videos["shift_3_-2"][0]
    token = CancelToken()
    seen = []

    def progress(done, total):
        seen.append(done)
        if done == 2:
            token.cancel()

    with pytest.raises(Cancelled):
        metrics.analyze(path, progress=progress, cancel=token)
    assert seen == [1, 2]
    assert not [t for t in threading.enumerate() if t.name.startswith("metrics-")]
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        metrics.analyze_frames(videos["static"][1], cancel=token)


def test_pairs_measured_on_worker_threads_match_one_thread_and_come_in_order(videos,
                                                                          analyses):
    """analyze measures pairs on several threads; they come back in frame order, each the
    same as measured one after another on one thread (no DIS state shared or carried)."""
    path = videos["shift_-6_4"][0]
    threaded = analyses["shift_-6_4"]
    from studio.core.frames import FrameReader

    with FrameReader(path) as reader:  # analyze decodes them straight to the analysis size
        decoded = [(f.index, f.image) for f in
                   reader.iter_reduced_frames(range(reader.frame_count), 2)]
    one_thread = list(metrics.iter_pairs(decoded, 512, 320))
    assert [p.index for p in threaded.pairs] == list(range(FRAMES - 1))
    for mine, reference in zip(threaded.pairs, one_thread, strict=True):
        assert mine.consistent_pixels == reference.consistent_pixels
        assert mine.warp_error == pytest.approx(reference.warp_error, rel=1e-6, abs=1e-12)
        assert mine.motion_px == pytest.approx(reference.motion_px, rel=1e-6)
        assert mine.flow_dx == pytest.approx(reference.flow_dx, rel=1e-6, abs=1e-9)


@pytest.mark.parametrize("name", ["shift_-6_4", "shift_5_3"])
def test_frames_decoded_to_the_analysis_size_measure_as_the_exact_frames(videos, analyses,
                                                                        name):
    """analyze decodes frames straight to the analysis size (the YUV planes shrunk before the
    conversion to RGB): the figures are those of the exact frames shrunk, within a little."""
    from studio.core.frames import FrameReader

    path, images, _ = videos[name]
    with FrameReader(path) as reader:
        exact = [(f.index, f.image) for f in reader.iter_frames(range(reader.frame_count))]
    height, width = images[0].shape[:2]
    reference = list(metrics.iter_pairs(exact, width, height))
    result = analyses[name]
    assert (result.width, result.height) == (width, height)
    for mine, pair in zip(result.pairs, reference, strict=True):
        assert mine.flow_dx == pytest.approx(pair.flow_dx, abs=0.05)
        assert mine.flow_dy == pytest.approx(pair.flow_dy, abs=0.05)
        assert mine.warp_error == pytest.approx(pair.warp_error, rel=0.25, abs=2e-4)
        assert mine.flicker == pytest.approx(pair.flicker, abs=1e-3)


def test_opencv_threads_are_restored_after_an_analysis(videos, tmp_path):
    """OpenCV's pool is turned down while an analysis runs, and back afterwards, also when
    it fails or is cancelled, and when analyses overlap."""
    before = cv2.getNumThreads()
    seen = []
    metrics.analyze(videos["static"][0], progress=lambda *_: seen.append(cv2.getNumThreads()))
    assert set(seen) == {1} and cv2.getNumThreads() == before
    with pytest.raises(MediaError):
        metrics.analyze(tmp_path / "gone.mp4")
    assert cv2.getNumThreads() == before
    token = CancelToken()
    inner = []

    def overlapping(done, total):
        if done == 1:  # a second analysis starts and ends inside the first
            metrics.analyze(videos["flicker"][0])
            inner.append(cv2.getNumThreads())
            token.cancel()

    with pytest.raises(Cancelled):
        metrics.analyze(videos["shift_3_-2"][0], progress=overlapping, cancel=token)
    assert inner == [1]  # the first one still runs: still one thread
    assert cv2.getNumThreads() == before
    assert not [t for t in threading.enumerate() if t.name.startswith("metrics-")]


def test_bad_files_raise_media_errors_naming_them(tmp_path):
    missing = tmp_path / "gone.mp4"
    with pytest.raises(MissingFileError) as err:
        metrics.analyze(missing)
    assert str(err.value).startswith(f"{missing}: file not found")
    still = make_image(tmp_path / "still.png")
    with pytest.raises(MediaError) as err:
        metrics.analyze(still)
    assert isinstance(err.value, metrics.TooFewFramesError)
    assert str(err.value).startswith(f"{still}: too few frames to analyse")
    text = tmp_path / "notes.mp4"
    text.write_text("not a video\n" * 20)
    with pytest.raises(MediaError, match="not a media file"):
        metrics.analyze(text)


def test_small_frames_are_measured(tmp_path):
    """Below DIS's minimum size the flow is measured on an enlarged copy."""
    frames = translating(48, 24, 2, 1, seed=4)
    result = metrics.analyze(write_lossless(tmp_path / "tiny.mp4", frames))
    assert (result.analysis_width, result.analysis_height) == (48, 24)
    assert abs(result.flow_mean_dx - 2) < 0.5 and abs(result.flow_mean_dy - 1) < 0.5


# ---- pictures of the flow -------------------------------------------------------------------------

def test_flow_colours_and_legend():
    flow = np.zeros((3, 4, 2), np.float32)
    flow[0, 0] = (2, 0)  # right, full length
    flow[0, 1] = (0, 2)  # down
    flow[0, 2] = (-2, 0)  # left
    flow[0, 3] = (1, 0)  # right, half length
    rgb = metrics.flow_to_rgb(flow, max_px=2)
    assert rgb.dtype == np.uint8 and rgb.shape == (3, 4, 3)
    assert tuple(rgb[1, 1]) == (255, 255, 255)  # no motion: white
    assert tuple(rgb[0, 0]) == (255, 0, 0)  # right: red
    assert tuple(rgb[0, 2]) == (0, 255, 255)  # left: cyan
    assert rgb[0, 1, 1] == 255 and rgb[0, 1, 2] == 0  # down: between yellow and green
    assert rgb[0, 3, 0] == 255 and 120 < rgb[0, 3, 1] < 135  # half saturated red
    # None: scaled to the longest vector
    assert tuple(metrics.flow_to_rgb(flow)[0, 3]) == tuple(rgb[0, 3])

    legend = metrics.flow_legend(65)
    assert legend.shape == (65, 65, 4)
    assert tuple(legend[32, 32]) == (255, 255, 255, 255)  # centre: no motion
    assert legend[0, 0, 3] == 0  # corner: outside the disc
    # a point of the wheel has the colour of the vector pointing from the centre to it
    for (y, x), vector in (((32, 64), (2, 0)), ((64, 32), (0, 2)), ((32, 0), (-2, 0))):
        probe = np.array([[vector]], np.float32)
        assert np.abs(legend[y, x, :3].astype(int)
                      - metrics.flow_to_rgb(probe, max_px=2)[0, 0]).max() <= 3


def test_flow_image_of_a_pair(videos):
    path, _, (dx, dy) = videos["shift_-6_4"]
    flow = metrics.pair_flow(path, 2)
    assert flow.shape == (160, 256, 2)
    assert np.median(flow[..., 0]) == pytest.approx(dx, abs=0.3)  # original pixels
    assert np.median(flow[..., 1]) == pytest.approx(dy, abs=0.3)
    image = metrics.flow_image(path, 2, max_px=10)
    assert image.shape == (320, 512, 3) and image.dtype == np.uint8
    small = metrics.flow_image(path, 2, max_px=10, full_size=False)
    assert small.shape == (160, 256, 3)
    expected = metrics.flow_to_rgb(np.array([[[dx, dy]]], np.float32), max_px=10)[0, 0]
    assert np.abs(np.median(small.reshape(-1, 3), axis=0) - expected).max() <= 8
    with pytest.raises(IndexError, match="no next frame"):
        metrics.pair_flow(path, FRAMES - 1)


def test_generation_hook_gives_a_json_ready_record(videos, analyses):
    import json

    path = videos["flicker"][0]
    record = json.loads(json.dumps(metrics.analyze_generation(path)))
    want = analyses["flicker"].summary()
    for key, value in want.items():  # OpenCV's threaded sums may differ in the last digits
        assert record[key] == (value if isinstance(value, list) else pytest.approx(value)), key
    assert record["series"]["index"] == list(range(FRAMES - 1))
    assert record["series"]["flicker"] == pytest.approx(list(analyses["flicker"].flickers))
    assert 0.9 < record["consistent_fraction_mean"] <= 1.0
