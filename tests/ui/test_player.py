"""The player panel, its timeline and its decoder thread, on real files made with PyAV."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QImage
from PySide6.QtTest import QTest

from tests.media_factory import frame_number_of, make_image, make_video

FPS = 24
FRAMES = 48
WAIT_MS = 10_000  # generous: the CI machine has two slow cores


# ---- helpers -------------------------------------------------------------------------------

def qimage_to_rgb(image: QImage) -> np.ndarray:
    image = image.convertToFormat(QImage.Format.Format_RGB888)
    h, w, stride = image.height(), image.width(), image.bytesPerLine()
    buf = np.frombuffer(image.constBits(), np.uint8, count=h * stride).reshape(h, stride)
    return buf[:, : w * 3].reshape(h, w, 3).copy()


def reference_frame(path, index: int) -> np.ndarray:
    from studio.core.frames import FrameReader

    reader = FrameReader(path)
    try:
        return reader.frame_at(index).image
    finally:
        reader.close()


def wait_displayed(qtbot, panel, index: int) -> None:
    qtbot.waitUntil(lambda: panel.displayed_index == index and panel.position == index,
                    timeout=WAIT_MS)


def assert_shows_frame(panel, path, index: int) -> None:
    shown = qimage_to_rgb(panel.displayed_image)
    expected = reference_frame(path, index)
    assert shown.shape == expected.shape
    assert np.array_equal(shown, expected), f"pixels of frame {index} differ"
    assert frame_number_of(shown) == index


# ---- fixtures ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def media(tmp_path_factory):
    folder = tmp_path_factory.mktemp("player-media")
    return {
        # Keyframes every 8 frames, so random access really seeks and decodes forward.
        "video": make_video(folder / "numbered.mp4", width=64, height=48, frames=FRAMES,
                            fps=FPS, gop=8),
        "other": make_video(folder / "other.mp4", width=48, height=64, frames=12, fps=12),
        "still": make_image(folder / "still.png", width=40, height=30, index=7),
    }


@pytest.fixture
def panel(qtbot):
    from studio.ui.player import PlayerPanel

    widget = PlayerPanel()
    qtbot.addWidget(widget)
    widget.resize(800, 500)
    widget.show()
    widget.activateWindow()
    assert QTest.qWaitForWindowActive(widget)  # window shortcuts need an active window
    yield widget
    widget.shutdown()
    assert not widget._decoder_thread.isRunning()


@pytest.fixture
def loaded(panel, media, qtbot):
    panel.set_clip(1, str(media["video"]), FRAMES, FPS, None, None)
    wait_displayed(qtbot, panel, 0)
    return panel


# ---- timecode ------------------------------------------------------------------------------

def test_timecode_formats():
    from studio.ui.player import TIMECODE_FRAMES, format_timecode

    assert format_timecode(0, 24) == "00:00:00.000"
    assert format_timecode(36, 24) == "00:00:01.500"
    assert format_timecode(24 * 3725 + 5, 24) == "01:02:05.208"
    assert format_timecode(36, 24, TIMECODE_FRAMES) == "00:00:01:12"
    assert format_timecode(30 * 61 + 29, 29.97, TIMECODE_FRAMES) == "00:01:01:29"
    assert format_timecode(5, 0) == "--:--:--.---"


# ---- timeline alone ------------------------------------------------------------------------

@pytest.fixture
def timeline(qtbot):
    from studio.ui.timeline import TimelineWidget

    widget = TimelineWidget()
    qtbot.addWidget(widget)
    widget.resize(500, widget.sizeHint().height())
    widget.show()
    return widget


def test_timeline_maps_x_to_frames_and_back(timeline):
    timeline.set_range(100, 25)
    for index in (0, 1, 37, 99):
        assert timeline.index_at_x(timeline.x_of_frame(index)) == index
    assert timeline.index_at_x(-50) == 0
    assert timeline.index_at_x(timeline.width() + 50) == 99


def test_timeline_click_and_drag_scrub(timeline, qtbot):
    timeline.set_range(100, 25)
    y = timeline.height() // 2
    scrubbed = []
    timeline.scrubbed.connect(scrubbed.append)
    with qtbot.waitSignal(timeline.scrub_finished, timeout=1000):
        qtbot.mouseClick(timeline, Qt.MouseButton.LeftButton,
                         pos=QPoint(round(timeline.x_of_frame(40)), y))
    assert scrubbed == [40]
    assert timeline.position == 40

    scrubbed.clear()
    qtbot.mousePress(timeline, Qt.MouseButton.LeftButton, pos=QPoint(round(timeline.x_of_frame(10)), y))
    for index in (20, 30, 30, 60):
        qtbot.mouseMove(timeline, QPoint(round(timeline.x_of_frame(index)), y))
    qtbot.mouseRelease(timeline, Qt.MouseButton.LeftButton,
                       pos=QPoint(round(timeline.x_of_frame(60)), y))
    assert scrubbed == [10, 20, 30, 60]  # no repeat for a move within one frame
    assert timeline.position == 60


@pytest.mark.parametrize("count", [0, 1, 2, 100_000])
def test_timeline_paints_any_length(timeline, qtbot, count):
    timeline.set_range(count, 30)
    timeline.set_in_out(0 if count else None, count - 1 if count else None)
    timeline.set_position(count // 2)
    assert not timeline.grab().isNull()
    scrubbed = []
    timeline.scrubbed.connect(scrubbed.append)
    qtbot.mouseClick(timeline, Qt.MouseButton.LeftButton,
                     pos=QPoint(timeline.width() - 1, timeline.height() // 2))
    assert scrubbed == ([] if count == 0 else [count - 1])


def test_timeline_in_out_shading_is_drawn(timeline):
    timeline.set_range(10, 10)
    y = round(timeline._track_rect().center().y())
    x_inside = round((timeline.x_of_frame_start(4) + timeline.x_of_frame_start(7)) / 2)
    x_outside = round(timeline.x_of_frame(1))
    before = timeline.grab().toImage()
    timeline.set_in_out(4, 6)
    after = timeline.grab().toImage()
    assert after.pixelColor(x_inside, y) != before.pixelColor(x_inside, y)
    assert after.pixelColor(x_inside, y) != after.pixelColor(x_outside, y)


# ---- the panel -----------------------------------------------------------------------------

def test_empty_player_shows_placeholder(panel):
    assert panel.view.message == "Select a clip in the bin"
    assert panel.displayed_image is None
    assert not panel.play_action.isEnabled()
    panel.toggle_play()
    assert not panel.is_playing


def _buttons_by_text(panel) -> dict:
    from PySide6.QtWidgets import QToolButton

    return {b.defaultAction().text(): b for b in panel.controls.findChildren(QToolButton)
            if b.defaultAction() is not None}


def _fully_shown(widget) -> bool:
    """Inside the transport bar, at least as large as it asks to be."""
    bar = widget.parentWidget().parentWidget()
    top_left = widget.mapTo(bar, QPoint(0, 0))
    least = widget.minimumSizeHint()
    return (widget.isVisible() and widget.width() >= least.width()
            and widget.height() >= least.height()
            and top_left.x() >= 0 and top_left.x() + widget.width() <= bar.width()
            and top_left.y() + widget.height() <= bar.height())


def _rows_of(bar, widgets) -> list[list]:
    """The widgets grouped into rows: a widget starts a new row when it lies wholly below
    the ones before it."""
    rows: list[list] = []
    bottom = -1
    for widget in sorted(widgets, key=lambda w: w.mapTo(bar, QPoint(0, 0)).y()):
        top = widget.mapTo(bar, QPoint(0, 0)).y()
        if top >= bottom:
            rows.append([])
        rows[-1].append(widget)
        bottom = max(bottom, top + widget.height())
    return rows


def test_the_transport_bar_wraps_into_two_rows_when_narrow(loaded, qtbot):
    """The transport bar's one row asked about 620 px, which the window took from the docks
    beside the player (the bin's Caption column was cut off at 1280 px wide). Narrower than
    one row, it shows two; wider again, one."""
    panel, bar = loaded, loaded.controls
    assert bar.minimumSizeHint().width() < bar.row_width() - 150
    assert panel.minimumSizeHint().width() == bar.minimumSizeHint().width()

    def rows(width: int) -> set[int]:
        buttons = _buttons_by_text(panel)
        controls = [*buttons.values(), panel.timecode_button, panel.frame_label]
        panel.resize(width, 500)
        # every control whole, once the bar has its new width and height
        qtbot.waitUntil(lambda: bar.width() == width and all(map(_fully_shown, controls)),
                        timeout=WAIT_MS)
        return _rows_of(bar, buttons.values())

    assert len(rows(bar.row_width() + 40)) == 1 and not bar.is_stacked()
    one_row_height = bar.height()
    narrow = rows(bar.minimumSizeHint().width())
    assert len(narrow) == 2 and bar.is_stacked()
    assert bar.height() > one_row_height
    buttons = _buttons_by_text(panel)
    assert buttons["Play"].y() < buttons["Set in point"].mapTo(bar, QPoint(0, 0)).y()
    assert len(rows(bar.row_width())) == 1 and not bar.is_stacked()
    assert len(rows(bar.row_width() - 1)) == 2


def test_the_transport_bar_wraps_before_it_elides_the_in_out_points(loaded, qtbot):
    """With in/out points set, one row at the width that held the bar before them left the
    in/out text a few pixels ("00:0..."); the bar now wraps and shows it whole."""
    panel, bar, label = loaded, loaded.controls, loaded.in_out_label
    width = bar.row_width()
    panel.resize(width, 500)
    qtbot.waitUntil(lambda: bar.width() == width and not bar.is_stacked(), timeout=WAIT_MS)
    panel.seek(10)
    qtbot.waitUntil(lambda: panel.position == 10, timeout=WAIT_MS)
    panel.set_in_point()
    panel.seek(30)
    qtbot.waitUntil(lambda: panel.position == 30, timeout=WAIT_MS)
    panel.set_out_point()
    texts = label._texts
    assert texts and all("…" not in t for t in texts)
    qtbot.waitUntil(lambda: bar.is_stacked() and label.shown_text() in texts, timeout=WAIT_MS)
    assert bar.width() == width
    # wide enough for one row with the in/out text: one row again, nothing elided
    panel.resize(bar.row_width(), 500)
    qtbot.waitUntil(lambda: not bar.is_stacked() and label.shown_text() in texts,
                    timeout=WAIT_MS)


def test_a_longer_clip_may_wrap_the_transport_bar_at_the_same_width(panel, qtbot, tmp_path):
    """The frame counter widens for a clip of 1000 frames or more: at a width that held one
    row just so, the bar wraps instead of cutting a control off."""
    long_path = make_video(tmp_path / "long.mp4", width=32, height=32, frames=1000, fps=FPS,
                           preset="ultrafast")
    bar = panel.controls
    width = bar.row_width()
    panel.resize(width, 500)
    qtbot.waitUntil(lambda: bar.width() == width, timeout=WAIT_MS)
    assert not bar.is_stacked()
    panel.set_clip(1, str(long_path), 1000, FPS, None, None)
    wait_displayed(qtbot, panel, 0)
    qtbot.waitUntil(lambda: bar.is_stacked() and _fully_shown(panel.frame_label),
                    timeout=WAIT_MS)
    assert bar.width() == width


def test_loads_clip_and_steps_with_arrow_keys(loaded, media, qtbot):
    panel = loaded
    assert_shows_frame(panel, media["video"], 0)
    assert "frame 0 / 48" in panel.frame_label.text()

    for expected in (1, 2, 3):
        with qtbot.waitSignal(panel.position_changed, timeout=1000) as sig:
            qtbot.keyClick(panel, Qt.Key.Key_Right)
        assert sig.args == [expected]
        wait_displayed(qtbot, panel, expected)
        assert_shows_frame(panel, media["video"], expected)

    qtbot.keyClick(panel, Qt.Key.Key_Left)
    wait_displayed(qtbot, panel, 2)
    assert_shows_frame(panel, media["video"], 2)

    qtbot.keyClick(panel, Qt.Key.Key_End)
    wait_displayed(qtbot, panel, FRAMES - 1)
    assert_shows_frame(panel, media["video"], FRAMES - 1)
    assert panel.timecode_button.text() == "00:00:01.958"
    assert "Duration 00:00:02.000" in panel.timecode_button.toolTip()
    qtbot.keyClick(panel, Qt.Key.Key_Right)  # stays on the last frame
    assert panel.position == FRAMES - 1

    qtbot.keyClick(panel, Qt.Key.Key_Home)
    wait_displayed(qtbot, panel, 0)
    qtbot.keyClick(panel, Qt.Key.Key_Left)  # stays on the first
    assert panel.position == 0


def test_a_focused_list_keeps_its_navigation_keys(qtbot, media):
    """In the main window the bin's list sits beside the player: Home/End/arrows typed into
    the list move the list, and reach the player again once the list loses focus."""
    from PySide6.QtGui import QStandardItem, QStandardItemModel
    from PySide6.QtWidgets import QHBoxLayout, QListView, QWidget

    from studio.ui.player import PlayerPanel

    window = QWidget()
    qtbot.addWidget(window)
    clips = QListView()
    model = QStandardItemModel()
    for name in ("a", "b", "c", "d"):
        model.appendRow(QStandardItem(name))
    clips.setModel(model)
    panel = PlayerPanel()
    try:
        layout = QHBoxLayout(window)
        layout.addWidget(clips)
        layout.addWidget(panel, 1)
        window.resize(900, 400)
        window.show()
        window.activateWindow()
        assert QTest.qWaitForWindowActive(window)
        panel.set_clip(1, str(media["video"]), FRAMES, FPS, None, None)
        panel.seek(5)

        clips.setFocus()
        clips.setCurrentIndex(model.index(1, 0))
        qtbot.keyClick(clips, Qt.Key.Key_End)
        assert clips.currentIndex().row() == 3
        qtbot.keyClick(clips, Qt.Key.Key_Home)
        assert clips.currentIndex().row() == 0
        qtbot.keyClick(clips, Qt.Key.Key_Right)
        assert panel.position == 5
        qtbot.keyClick(clips, Qt.Key.Key_I)  # letters still reach the player
        assert panel.in_out == (5, None)

        panel.setFocus()
        qtbot.keyClick(panel, Qt.Key.Key_End)
        assert panel.position == FRAMES - 1
    finally:
        panel.shutdown()


def test_random_seeks_show_exact_frames(loaded, media, qtbot):
    for index in (29, 5, 17, 40, 8):  # backwards and across keyframes
        loaded.seek(index)
        wait_displayed(qtbot, loaded, index)
        assert_shows_frame(loaded, media["video"], index)


def test_timecode_toggles_between_milliseconds_and_frames(loaded, qtbot):
    loaded.seek(36)
    assert loaded.timecode_button.text().startswith("00:00:01.500")
    qtbot.mouseClick(loaded.timecode_button, Qt.MouseButton.LeftButton)
    assert loaded.timecode_button.text().startswith("00:00:01:12")


def test_in_out_keys(loaded, qtbot):
    panel = loaded
    changes = []
    panel.in_out_changed.connect(lambda *args: changes.append(args))

    panel.seek(10)
    qtbot.keyClick(panel, Qt.Key.Key_I)
    panel.seek(20)
    qtbot.keyClick(panel, Qt.Key.Key_O)
    assert changes == [(1, 10, None), (1, 10, 20)]
    assert panel.in_out == (10, 20)
    assert panel.timeline.in_out == (10, 20)
    assert "In 00:00:00.417  Out 00:00:00.833" in panel.in_out_label.text()

    panel.seek(5)  # an out point before the in point drops the in point
    qtbot.keyClick(panel, Qt.Key.Key_O)
    assert changes[-1] == (1, None, 5)

    qtbot.keyClick(panel, Qt.Key.Key_X, Qt.KeyboardModifier.AltModifier)
    assert changes[-1] == (1, None, None)
    assert panel.timeline.in_out == (None, None)
    assert panel.in_out_label.text() == ""
    count = len(changes)
    qtbot.keyClick(panel, Qt.Key.Key_X, Qt.KeyboardModifier.AltModifier)  # nothing to clear
    assert len(changes) == count


def test_set_clip_shows_stored_in_out_without_signalling(panel, media, qtbot):
    changes = []
    panel.in_out_changed.connect(lambda *args: changes.append(args))
    panel.set_clip(7, str(media["video"]), FRAMES, FPS, 12, 30)
    wait_displayed(qtbot, panel, 12)  # opens at the in point
    assert panel.in_out == (12, 30)
    assert panel.timeline.in_out == (12, 30)
    assert changes == []


def test_loop_plays_within_in_out(loaded, qtbot):
    panel = loaded
    panel.set_clip(1, panel._path, FRAMES, FPS, 30, 35)
    panel.set_loop(True)
    seen = []
    panel.position_changed.connect(seen.append)
    qtbot.keyClick(panel, Qt.Key.Key_Space)
    assert panel.is_playing

    def wrapped() -> bool:
        return any(b < a for a, b in zip(seen, seen[1:]))

    qtbot.waitUntil(wrapped, timeout=WAIT_MS)
    qtbot.keyClick(panel, Qt.Key.Key_Space)
    assert not panel.is_playing
    assert seen and all(30 <= i <= 35 for i in seen), seen
    assert 35 in seen or 34 in seen  # it got to the end of the range before wrapping
    wait_displayed(qtbot, panel, panel.position)  # and the frames followed


def test_play_without_loop_stops_at_the_end(loaded, qtbot):
    panel = loaded
    panel.seek(FRAMES - 8)
    with qtbot.waitSignal(panel.position_changed, timeout=WAIT_MS):
        panel.play()
    qtbot.waitUntil(lambda: not panel.is_playing, timeout=WAIT_MS)
    assert panel.position == FRAMES - 1
    wait_displayed(qtbot, panel, FRAMES - 1)
    panel.play()  # at the end, play starts over
    assert panel.is_playing and panel.position == 0
    panel.pause()


def test_scrub_on_the_timeline(loaded, media, qtbot):
    panel = loaded
    timeline = panel.timeline
    y = timeline.height() // 2
    qtbot.mouseClick(timeline, Qt.MouseButton.LeftButton,
                     pos=QPoint(round(timeline.x_of_frame(30)), y))
    wait_displayed(qtbot, panel, 30)
    assert_shows_frame(panel, media["video"], 30)

    qtbot.mousePress(timeline, Qt.MouseButton.LeftButton, pos=QPoint(round(timeline.x_of_frame(5)), y))
    for index in range(6, 20):
        qtbot.mouseMove(timeline, QPoint(round(timeline.x_of_frame(index)), y))
    qtbot.mouseRelease(timeline, Qt.MouseButton.LeftButton,
                       pos=QPoint(round(timeline.x_of_frame(19)), y))
    wait_displayed(qtbot, panel, 19)
    assert_shows_frame(panel, media["video"], 19)


def test_still_image(panel, media, qtbot):
    panel.set_clip(3, str(media["still"]), 1, 0.0, None, None)
    wait_displayed(qtbot, panel, 0)
    shown = qimage_to_rgb(panel.displayed_image)
    assert shown.shape == (30, 40, 3)
    assert frame_number_of(shown) == 7
    assert not panel.play_action.isEnabled()
    qtbot.keyClick(panel, Qt.Key.Key_Space)
    qtbot.keyClick(panel, Qt.Key.Key_Right)
    qtbot.keyClick(panel, Qt.Key.Key_I)
    assert not panel.is_playing and panel.position == 0 and panel.in_out == (None, None)
    assert panel.timecode_button.text() == "still image"


def test_vanished_file_shows_error_and_player_recovers(panel, media, qtbot, tmp_path):
    doomed = shutil.copy(media["video"], tmp_path / "doomed.mp4")
    (tmp_path / "doomed.mp4").unlink()
    panel.set_clip(4, str(doomed), FRAMES, FPS, None, None)
    qtbot.waitUntil(lambda: panel.error is not None, timeout=WAIT_MS)
    assert str(doomed) in panel.view.message
    assert panel.view.message_is_error
    assert "Traceback" not in panel.view.message
    assert panel.displayed_image is None
    assert not panel.play_action.isEnabled()

    panel.set_clip(1, str(media["video"]), FRAMES, FPS, None, None)
    wait_displayed(qtbot, panel, 0)
    assert panel.error is None


def test_switching_clips_drops_frames_of_the_previous_one(panel, media, qtbot):
    panel.set_clip(1, str(media["video"]), FRAMES, FPS, None, None)
    panel.seek(40)
    panel.set_clip(2, str(media["other"]), 12, 12.0, None, None)
    wait_displayed(qtbot, panel, 0)
    assert qimage_to_rgb(panel.displayed_image).shape == (64, 48, 3)
    panel.set_clip(None, None, 0, 0.0, None, None)
    assert panel.displayed_image is None
    assert panel.view.message == "Select a clip in the bin"
    assert panel.frame_label.text() == ""


def test_estimated_frame_count_is_corrected_by_the_reader(panel, media, qtbot):
    panel.set_clip(1, str(media["video"]), FRAMES + 10, FPS, None, None)
    qtbot.waitUntil(lambda: panel.frame_count == FRAMES, timeout=WAIT_MS)
    panel.go_to_end()
    wait_displayed(qtbot, panel, FRAMES - 1)


# ---- the decoder on its own thread ---------------------------------------------------------

@pytest.fixture
def decoder(qtbot):
    from PySide6.QtCore import QThread

    from studio.ui.frame_decoder import FrameDecoder

    thread = QThread()
    worker = FrameDecoder()
    worker.moveToThread(thread)
    thread.start()
    yield worker
    thread.quit()
    thread.wait()
    worker.close_reader()


class Collector:
    """Receives the decoder's signals in the GUI thread (a bound method of a GUI object)."""

    def __init__(self, decoder):
        from PySide6.QtCore import QObject, Slot

        class Sink(QObject):
            def __init__(self):
                super().__init__()
                self.frames: list[tuple[int, int, QImage]] = []
                self.errors: list[tuple[int, str]] = []

            @Slot(int, int, QImage)
            def on_frame(self, generation, index, image):
                self.frames.append((generation, index, image))

            @Slot(int, str)
            def on_failed(self, generation, message):
                self.errors.append((generation, message))

        self.sink = Sink()
        decoder.frame_ready.connect(self.sink.on_frame)
        decoder.failed.connect(self.sink.on_failed)


def test_decoder_coalesces_requests(decoder, media, qtbot):
    got = Collector(decoder).sink
    generation = decoder.open(str(media["video"]))
    for index in range(FRAMES):  # faster than any decoder: most requests are superseded
        decoder.request(index)
    qtbot.waitUntil(lambda: bool(got.frames) and got.frames[-1][1] == FRAMES - 1,
                    timeout=WAIT_MS)
    assert all(g == generation for g, _, _ in got.frames)
    assert len(got.frames) <= 3, [i for _, i, _ in got.frames]
    assert np.array_equal(qimage_to_rgb(got.frames[-1][2]),
                          reference_frame(media["video"], FRAMES - 1))


def test_decoder_downscales_to_the_view(decoder, media, qtbot):
    got = Collector(decoder).sink
    decoder.set_max_size(32, 32)
    decoder.open(str(media["video"]))
    decoder.request(3)
    qtbot.waitUntil(lambda: bool(got.frames), timeout=WAIT_MS)
    image = got.frames[0][2]
    assert (image.width(), image.height()) == (32, 24)


def test_decoder_reports_unreadable_files(decoder, qtbot, tmp_path):
    got = Collector(decoder).sink
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"this is not a video" * 100)
    generation = decoder.open(str(junk))
    decoder.request(0)
    qtbot.waitUntil(lambda: bool(got.errors), timeout=WAIT_MS)
    assert got.errors[0][0] == generation
    assert str(junk) in got.errors[0][1]
    assert got.frames == []


def test_shutdown_is_idempotent(panel, media, qtbot):
    panel.set_clip(1, str(media["video"]), FRAMES, FPS, None, None)
    panel.play()
    panel.shutdown()
    panel.shutdown()
    assert not panel._decoder_thread.isRunning()
    assert not panel.is_playing
