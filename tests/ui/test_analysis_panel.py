"""The analysis panel and the player's flow overlay, on real clips: a texture translating by
(3, -2) px a frame, a static scene whose brightness jumps every other frame, and a longer clip of
media_factory's moving pattern. Analyses run on the panel's pool thread through core.metrics,
as in the app."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QImage
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from studio.core.media import probe
from tests.media_factory import make_video, smooth_texture, write_lossless

WAIT_MS = 20_000  # two slow cores, other tests running beside


# ---- clips -------------------------------------------------------------------------------------

def write_translating_video(path, width=96, height=64, frames=30, dx=3, dy=-2, seed=0):
    """A window over a large texture; the content moves by (dx, dy) each frame."""
    margin = 8
    big = smooth_texture(width + abs(dx) * frames + 2 * margin, height + abs(dy) * frames + 2 * margin,
                  seed)
    x0, y0 = margin + max(dx, 0) * frames, margin + max(dy, 0) * frames
    images = [big[y0 - dy * i:y0 - dy * i + height, x0 - dx * i:x0 - dx * i + width]
              for i in range(frames)]
    return write_lossless(path, images)


def write_flicker_video(path, width=96, height=64, frames=24, jump=40):
    """A still texture whose brightness rises by ``jump`` levels on every odd frame."""
    still = smooth_texture(width, height, seed=3)
    brighter = np.clip(still.astype(np.int16) + jump, 0, 255).astype(np.uint8)
    return write_lossless(path, [brighter if i % 2 else still for i in range(frames)])


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("analysis")
    return {
        "moving": write_translating_video(folder / "moving.mp4"),
        "flicker": write_flicker_video(folder / "flicker.mp4", frames=20),
        "long": make_video(folder / "long.mp4", width=128, height=96, frames=300, fps=24,
                           preset="ultrafast"),
    }


@pytest.fixture
def add_clip(project):
    def add(path, in_frame=None, out_frame=None):
        clip, _ = project.add_clip(path, probe(path))
        if in_frame is not None or out_frame is not None:
            project.set_in_out(clip.id, in_frame, out_frame)
            clip = project.clip(clip.id)
        return clip

    return add


@pytest.fixture
def rig(qtbot, project):
    """A player and an analysis panel attached to it, shown in one window."""
    from PySide6.QtWidgets import QVBoxLayout, QWidget

    from studio.ui.analysis_panel import AnalysisPanel
    from studio.ui.player import PlayerPanel

    window = QWidget()
    qtbot.addWidget(window)
    player = PlayerPanel(window)
    panel = AnalysisPanel(window, player=player)
    panel.set_clip_source(project.clips)
    layout = QVBoxLayout(window)
    layout.addWidget(player, 1)
    layout.addWidget(panel, 1)
    window.resize(900, 800)
    window.show()
    window.activateWindow()
    assert QTest.qWaitForWindowActive(window)

    class Rig:
        pass

    r = Rig()
    r.window, r.player, r.panel, r.project = window, player, panel, project

    def select(clip):  # what the main window does on the bin's clip_selected
        player.set_clip(clip.id, clip.path, clip.info.frame_count, clip.info.fps,
                        clip.in_frame, clip.out_frame)
        panel.show_clip(clip)
        qtbot.waitUntil(lambda: player.displayed_index is not None, timeout=WAIT_MS)

    def analyse(clip):
        select(clip)
        panel.analyse()
        qtbot.waitUntil(lambda: panel.analysis is not None and not panel.is_busy,
                        timeout=WAIT_MS)
        return panel.analysis

    r.select, r.analyse = select, analyse
    yield r
    panel.shutdown()
    player.shutdown()
    assert panel.pool.activeThreadCount() == 0


def qimage_to_rgb(image: QImage) -> np.ndarray:
    image = image.convertToFormat(QImage.Format.Format_RGB888)
    h, w, stride = image.height(), image.width(), image.bytesPerLine()
    buf = np.frombuffer(image.constBits(), np.uint8, count=h * stride).reshape(h, stride)
    return buf[:, : w * 3].reshape(h, w, 3).copy()


# ---- analysing ------------------------------------------------------------------------------------

def test_analysing_plots_one_point_per_frame_pair_within_in_out(rig, clips, add_clip):
    clip = add_clip(clips["moving"], 3, 20)
    rig.select(clip)
    panel = rig.panel
    assert panel.pair_count() == 0 and "Analyse moving.mp4" in panel.message
    assert panel.message_button.isVisible()

    analysis = rig.analyse(clip)
    assert (analysis.first_frame, analysis.last_frame) == (3, 20)
    assert panel.pair_count() == 17
    for plot in panel.plots:
        (series,) = plot.series
        assert series.xs == list(range(3, 20))
        assert series.ys == pytest.approx([getattr(p, plot.spec.key) for p in analysis.pairs])
        assert plot.x_range == (3, 19)
    # The texture moves (3, -2) px a frame: the motion plot says so.
    assert np.mean(panel.motion_plot.series[0].ys) == pytest.approx(np.hypot(3, -2), abs=0.3)
    # The worst pairs: marked on the warp error plot, and pictured with both frames.
    assert panel.warp_plot.highlights == analysis.worst_pairs(5)
    strip = panel.worst_strip.pairs
    assert [p.index for p in strip] == analysis.worst_pairs(5)
    assert all(p.first is not None and p.second is not None and not p.first.isNull()
               for p in strip)
    assert not panel.progress.isVisible() and not panel.analyse_action.isEnabled()


def test_flicker_clip_plots_high_flicker_and_low_motion(rig, clips, add_clip):
    rig.analyse(add_clip(clips["flicker"]))
    panel = rig.panel
    flicker = panel.flicker_plot.series[0].ys
    motion = panel.motion_plot.series[0].ys
    assert len(flicker) == 19
    assert min(flicker) > 0.1  # 40 levels of 255 up and down every frame
    assert max(motion) < 0.5
    moving = add_clip(clips["moving"])
    rig.analyse(moving)
    assert max(panel.flicker_plot.series[0].ys) < min(flicker) / 3


def test_results_are_kept_per_clip_and_range(rig, clips, add_clip, project):
    moving = add_clip(clips["moving"])
    first = rig.analyse(moving)
    flicker = rig.analyse(add_clip(clips["flicker"]))
    assert rig.panel.analysis is flicker
    rig.panel.show_clip(project.clip(moving.id))
    assert not rig.panel.is_busy and rig.panel.analysis is first  # at once, from the cache
    assert rig.panel.pair_count() == 29
    # New in/out points are another range: measured again when asked.
    rig.panel.set_in_out(moving.id, 5, 15)
    assert rig.panel.analysis is None and "frames 5–15" in rig.panel.message
    rig.panel.analyse()
    assert rig.panel.is_busy


# ---- in step with the player ------------------------------------------------------------------

def test_clicking_a_plot_point_seeks_the_player(qtbot, rig, clips, add_clip):
    clip = add_clip(clips["moving"], 2, None)
    rig.analyse(clip)
    player, plot = rig.player, rig.panel.motion_plot
    for k in (0, 9, 20):
        target = plot.series[0].xs[k]
        QTest.mouseClick(plot, Qt.MouseButton.LeftButton, pos=plot.point_at(0, k).toPoint())
        qtbot.waitUntil(lambda t=target: player.position == t and player.displayed_index == t,
                        timeout=WAIT_MS)
    # Dragging along a plot scrubs.
    start, end = plot.point_at(0, 3).toPoint(), plot.point_at(0, 12).toPoint()
    QTest.mousePress(rig.panel.warp_plot, Qt.MouseButton.LeftButton, pos=start)
    QTest.mouseMove(rig.panel.warp_plot, end)
    QTest.mouseRelease(rig.panel.warp_plot, Qt.MouseButton.LeftButton, pos=end)
    assert player.position == plot.series[0].xs[12]
    # A tile of the worst pairs shows its first frame.
    strip = rig.panel.worst_strip
    second = strip.pairs[1].index
    QTest.mouseClick(strip, Qt.MouseButton.LeftButton,
                     pos=strip.tile_rects()[1].center().toPoint())
    qtbot.waitUntil(lambda: player.position == second, timeout=WAIT_MS)


def test_the_position_marker_follows_the_player(qtbot, rig, clips, add_clip):
    rig.analyse(add_clip(clips["moving"]))
    player, panel = rig.player, rig.panel
    assert [p.marker for p in panel.plots] == [0, 0, 0]
    player.seek(17)
    assert [p.marker for p in panel.plots] == [17, 17, 17]
    player.setFocus()
    QTest.keyClick(rig.window, Qt.Key.Key_Right)
    qtbot.waitUntil(lambda: player.position == 18, timeout=WAIT_MS)
    assert [p.marker for p in panel.plots] == [18, 18, 18]
    # The marker is drawn: the pixels at the marker's x are the marker's colour.
    image = panel.motion_plot.grab().toImage()
    x = round(panel.motion_plot.x_to_px(18))
    y = round(panel.motion_plot.plot_rect().center().y())
    colors = [image.pixelColor(x + dx, y) for dx in (-1, 0, 1)]
    assert any(c.red() > 200 and c.green() < 140 for c in colors)
    # Another clip in the player: no marker on these plots.
    rig.player.set_clip(None, None, 0, 0)
    assert [p.marker for p in panel.plots] == [None, None, None]


def test_hovering_a_plot_shows_the_values_of_that_pair_in_every_plot(rig, clips, add_clip):
    rig.analyse(add_clip(clips["moving"]))
    plot = rig.panel.flicker_plot
    QTest.mouseMove(plot, plot.point_at(0, 7).toPoint())
    assert [p.hover for p in rig.panel.plots] == [7, 7, 7]
    with_box = rig.panel.warp_plot.grab().toImage()
    QApplication.sendEvent(plot, QEvent(QEvent.Type.Leave))  # the pointer leaves
    assert [p.hover for p in rig.panel.plots] == [None, None, None]
    assert rig.panel.warp_plot.grab().toImage() != with_box  # the value box went away


# ---- cancel, failures ---------------------------------------------------------------------------

def test_cancel_stops_the_worker(qtbot, rig, clips, add_clip):
    clip = add_clip(clips["long"])
    rig.select(clip)
    panel = rig.panel
    panel.analyse()
    assert panel.is_busy and panel.cancel_button.isVisible()
    qtbot.waitUntil(lambda: panel.progress.value() > 0, timeout=WAIT_MS)
    panel.cancel_action.trigger()
    qtbot.waitUntil(lambda: not panel.is_busy, timeout=WAIT_MS)
    assert panel.pool.waitForDone(5000) and panel.pool.activeThreadCount() == 0
    assert panel.analysis is None
    measured = panel.pair_count()
    assert 0 < measured < 299  # it stopped part-way; the part measured stays on show
    assert "Cancelled after" in panel.message and not panel.progress.isVisible()
    assert panel.analyse_action.isEnabled()


def test_selecting_another_clip_cancels_the_analysis_no_longer_shown(qtbot, rig, clips,
                                                                     add_clip):
    long_clip = add_clip(clips["long"])
    rig.select(long_clip)
    rig.panel.analyse()
    qtbot.waitUntil(lambda: rig.panel.progress.value() > 0, timeout=WAIT_MS)
    flicker = rig.analyse(add_clip(clips["flicker"]))
    assert flicker.frames == 20
    rig.panel.show_clip(long_clip)
    assert rig.panel.analysis is None  # the long one was cancelled, not cached


def test_a_file_that_cannot_be_decoded_shows_a_message_naming_it(qtbot, rig, clips, add_clip,
                                                                 tmp_path):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(clips["moving"].read_bytes())
    clip = add_clip(broken)
    broken.write_bytes(b"not a video at all " * 500)  # changed after import
    rig.panel.show_clip(clip)
    rig.panel.analyse()
    qtbot.waitUntil(lambda: not rig.panel.is_busy, timeout=WAIT_MS)
    assert rig.panel.message_is_error
    assert str(broken) in rig.panel.message and "Traceback" not in rig.panel.message
    assert rig.panel.message_label.isVisible()
    assert rig.panel.pair_count() == 0


def test_a_clip_that_is_not_media_is_not_analysed(rig, tmp_path, project):
    notes = tmp_path / "notes.mp4"
    notes.write_text("shot list")
    from studio.core.library import inspect_file

    found = inspect_file(str(notes))
    clip, _ = project.add_clip(found.path, found.info, found.error, found.stamp)
    rig.panel.show_clip(clip)
    assert rig.panel.message_is_error and str(notes) in rig.panel.message
    rig.panel.analyse()
    assert not rig.panel.is_busy and not rig.panel.analyse_action.isEnabled()


# ---- compare ------------------------------------------------------------------------------------

def test_compare_draws_both_clips_on_the_same_axes_with_a_legend(qtbot, rig, clips, add_clip):
    moving = add_clip(clips["moving"], 4, None)
    add_clip(clips["flicker"], 1, None)
    rig.analyse(moving)
    panel = rig.panel
    panel._fill_compare_combo()
    names = [panel.compare_combo.itemText(i) for i in range(panel.compare_combo.count())]
    assert "flicker.mp4" in names and "moving.mp4" not in names
    panel.compare_combo.setCurrentIndex(names.index("flicker.mp4"))
    panel.compare_combo.activated.emit(names.index("flicker.mp4"))
    qtbot.waitUntil(lambda: panel.compare_analysis is not None and not panel.is_busy,
                    timeout=WAIT_MS)
    for plot in panel.plots:
        mine, other = plot.series
        assert mine.label == "moving.mp4" and other.label == "flicker.mp4"
        assert mine.color != other.color
        # Aligned at the first analysed frame: flicker's frame 1 is drawn at moving's 4.
        assert other.xs[0] == 4 and other.frames[0] == 1 and len(other.xs) == 18
    assert min(panel.flicker_plot.series[1].ys) > 5 * max(panel.flicker_plot.series[0].ys)
    assert panel.legend_entries() == ["moving.mp4", "flicker.mp4"]
    # Both series are painted: the compare colour is on screen.
    image = panel.flicker_plot.grab().toImage()
    other_color = panel.flicker_plot.series[1].color
    found = any(_close(image.pixelColor(x, y), other_color)
                for x in range(0, image.width(), 2) for y in range(0, image.height(), 2))
    assert found
    panel.set_compare_clip(None)
    assert all(len(p.series) == 1 for p in panel.plots) and panel.legend_entries() == []


def test_a_narrow_panel_shows_both_legend_entries(qtbot, rig, clips, add_clip):
    """In a narrow dock the legend's second entry was cut off (one line, ignored width); it
    now goes under the first."""
    from studio.ui.analysis_panel import SERIES_COLORS

    moving = add_clip(clips["moving"], 4, None)
    add_clip(clips["flicker"], 1, None)
    rig.analyse(moving)
    panel = rig.panel
    panel.set_compare_clip(next(c.id for c in rig.project.clips() if c.id != moving.id))
    qtbot.waitUntil(lambda: panel.compare_analysis is not None and not panel.is_busy,
                    timeout=WAIT_MS)
    label = panel.legend_label

    def painted(color) -> bool:
        image = label.grab().toImage()
        return any(_close(image.pixelColor(x, y), color, tolerance=20)
                   for x in range(image.width()) for y in range(image.height()))

    narrowest = rig.window.minimumSizeHint().width()
    rig.window.resize(narrowest, 800)
    qtbot.waitUntil(lambda: rig.window.width() == narrowest, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: label.height() >= label.heightForWidth(label.width()),
                    timeout=WAIT_MS)
    assert painted(SERIES_COLORS[0]) and painted(SERIES_COLORS[1])


def _close(a, b, tolerance=12):
    return (abs(a.red() - b.red()) <= tolerance and abs(a.green() - b.green()) <= tolerance
            and abs(a.blue() - b.blue()) <= tolerance)


# ---- the flow overlay ---------------------------------------------------------------------------

def test_flow_overlay_draws_the_flow_over_the_frame_with_a_legend(qtbot, rig, clips, add_clip):
    clip = add_clip(clips["moving"])
    rig.select(clip)
    player = rig.player
    player.seek(6)
    qtbot.waitUntil(lambda: player.displayed_index == 6, timeout=WAIT_MS)
    plain = qimage_to_rgb(player.view.grab().toImage())
    assert player.flow_overlay is None

    player.setFocus()
    QTest.keyClick(rig.window, Qt.Key.Key_F)  # the shortcut
    assert player.flow_overlay_on
    qtbot.waitUntil(lambda: player.flow_overlay is not None, timeout=WAIT_MS)
    overlay = player.flow_overlay
    assert overlay.index == 6 and overlay.scale_px > 0
    assert (overlay.image.width(), overlay.image.height()) == (96, 64)
    shown = qimage_to_rgb(player.view.grab().toImage())
    rect = player.view.image_rect().toRect()
    inside = (slice(rect.top() + 2, rect.bottom() - 2), slice(rect.left() + 2, rect.right() - 2))
    changed = np.abs(shown[inside].astype(int) - plain[inside].astype(int)).max(axis=2) > 24
    assert changed.mean() > 0.5  # the flow covers the picture
    # The legend's colour wheel sits in the bottom-right corner: saturated colours of many hues.
    corner = shown[rect.bottom() - 90:rect.bottom() - 8, rect.right() - 200:rect.right() - 8]
    hsv_max = corner.max(axis=2).astype(int)
    hsv_min = corner.min(axis=2).astype(int)
    assert ((hsv_max - hsv_min) > 120).sum() > 200

    # Stepping asks for the next pair's flow.
    QTest.keyClick(rig.window, Qt.Key.Key_Right)
    qtbot.waitUntil(lambda: player.flow_overlay is not None and player.flow_overlay.index == 7,
                    timeout=WAIT_MS)
    # The last frame has no next frame: a note, no flow.
    player.go_to_end()
    qtbot.waitUntil(lambda: player.displayed_index == 29, timeout=WAIT_MS)
    assert player.flow_overlay is None and "last frame" in player.view.flow_note
    # Off again: the plain picture.
    player.seek(6)
    qtbot.waitUntil(lambda: player.displayed_index == 6, timeout=WAIT_MS)
    player.flow_overlay_action.trigger()
    assert not player.flow_overlay_on and player.flow_overlay is None
    assert np.array_equal(qimage_to_rgb(player.view.grab().toImage()), plain)


def test_flow_overlay_of_a_still_scene_is_pale(qtbot, rig, clips, add_clip):
    """No motion is white on the wheel: the flicker clip's overlay is nearly colourless."""
    clip = add_clip(clips["flicker"])
    rig.select(clip)
    rig.player.set_flow_overlay(True)
    qtbot.waitUntil(lambda: rig.player.flow_overlay is not None, timeout=WAIT_MS)
    rgb = qimage_to_rgb(rig.player.flow_overlay.image)
    saturation = rgb.max(axis=2).astype(int) - rgb.min(axis=2)
    assert np.median(saturation) < 60


# ---- in the main window ---------------------------------------------------------------------------

def test_main_window_view_analysis_shows_the_dock_and_analyses_the_selected_clip(
        qtbot, project, clips, tmp_path):
    from studio.ui.main_window import MainWindow

    window = MainWindow(project)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    try:
        assert not window.analysis_dock.isVisible()
        menus = {m.text(): m.menu() for m in window.menuBar().actions() if m.menu()}
        view = menus["&View"].actions()
        assert window.analysis_dock.toggleViewAction() in view
        assert window.analysis.analyse_action in view
        assert window.player.flow_overlay_action in menus["&Playback"].actions()
        with qtbot.waitSignal(window.bin.import_finished, timeout=WAIT_MS):
            window.bin.import_paths([str(clips["moving"])])
        clip = project.clips()[0]
        window.bin.select_clip(clip.id)
        qtbot.waitUntil(lambda: window.analysis.clip is not None
                        and window.analysis.clip.id == clip.id, timeout=WAIT_MS)
        window.analysis.analyse_action.trigger()
        assert window.analysis_dock.isVisible()
        qtbot.waitUntil(lambda: window.analysis.analysis is not None, timeout=WAIT_MS)
        assert window.analysis.pair_count() == 29
        plot = window.analysis.warp_plot
        QTest.mouseClick(plot, Qt.MouseButton.LeftButton, pos=plot.point_at(0, 11).toPoint())
        qtbot.waitUntil(lambda: window.player.position == 11, timeout=WAIT_MS)
        # New marks in the player are a new range for the panel.
        window.project_model.set_in_out(clip.id, 2, 12)
        assert window.analysis.analysis is None
    finally:
        window.shutdown()
    assert window.analysis.pool.activeThreadCount() == 0



# ---- generations ----------------------------------------------------------------------------------

PROMPT = "a fox trotting across a snowy field at dawn, slow pan"


@pytest.fixture
def generations(project, clips, add_clip):
    """Real videos registered as the project's generations (as the engine records them):
    two seeds of one prompt made from the moving clip (the content moves (3, -2) and (1, 1)
    px a frame), and one of another prompt."""
    folder = project.generations_dir
    folder.mkdir(parents=True, exist_ok=True)
    source = add_clip(clips["moving"])
    add_clip(clips["flicker"])

    def register(name, prompt, seed, source_clip_id, **motion):
        path = write_translating_video(folder / name, frames=24, seed=seed, **motion)
        return project.add_generation(path, {"prompt": prompt, "seed": seed, "num_frames": 24},
                                      kind="v2v" if source_clip_id else "t2v",
                                      model="demo/ltx-video-tiny", prompt=prompt,
                                      info=probe(path), source_clip_id=source_clip_id)

    first = register("fox_1.mp4", PROMPT, 1, source.id, dx=3, dy=-2)
    second = register("fox_2.mp4", PROMPT, 2, source.id, dx=1, dy=1)
    other = register("waves_3.mp4", "waves at dusk", 3, None, dx=-2, dy=0)
    return source, first, second, other


def show_generation(qtbot, rig, generation):
    """What the main window does on Generations > Analyse."""
    rig.panel.show_generation(generation)
    subject = rig.panel.subject
    rig.player.set_clip(None, generation.path, subject.frame_count, subject.fps)
    qtbot.waitUntil(lambda: rig.player.displayed_index is not None, timeout=WAIT_MS)


def test_compare_offers_source_and_seeds_first_and_draws_a_seed_on_the_same_axes(
        qtbot, rig, generations):
    source, first, second, other = generations
    panel = rig.panel
    panel.set_generation_source(rig.project.generations)
    show_generation(qtbot, rig, first)
    assert panel.subject.kind == "generation" and panel.clip is None
    assert panel.title_label.text() == "Generation #1 · seed 1 · all 24 frames"
    # Nearest first: its source clip, the other seed of its prompt; then the other clips and
    # generations. Each label tells the videos apart.
    items = panel.compare_items()
    assert items == [
        ("Nothing", None),
        ("Source · moving.mp4", ("clip", source.id)),
        (f"Generation #{second.id} · seed 2 · a fox trotting across a snowy…",
         ("generation", second.id)),
        ("flicker.mp4", ("clip", source.id + 1)),
        (f"Generation #{other.id} · seed 3 · waves at dusk", ("generation", other.id)),
    ]

    panel.analyse()
    qtbot.waitUntil(lambda: panel.analysis is not None and not panel.is_busy, timeout=WAIT_MS)
    assert panel.pair_count() == 23
    labels = [label for label, _ in items]
    panel.compare_combo.setCurrentIndex(panel.compare_combo.findText(labels[2]))
    panel.compare_combo.activated.emit(panel.compare_combo.currentIndex())
    qtbot.waitUntil(lambda: panel.compare_analysis is not None and not panel.is_busy,
                    timeout=WAIT_MS)
    assert panel.compare.ref == ("generation", second.id)
    for plot in panel.plots:
        mine, seed_2 = plot.series
        assert mine.label == "Generation #1 · seed 1" and seed_2.label == "Generation #2 · seed 2"
        assert mine.xs == seed_2.xs == list(range(23))  # one axis: both from frame 0
        top = max(mine.ys + seed_2.ys)
        assert plot.y_top >= top  # one scale holds both
    motion = panel.motion_plot
    assert np.mean(motion.series[0].ys) == pytest.approx(np.hypot(3, 2), abs=0.3)
    assert np.mean(motion.series[1].ys) == pytest.approx(np.hypot(1, 1), abs=0.3)
    assert panel.legend_entries() == ["Generation #1 · seed 1", "Generation #2 · seed 2"]
    # Both lines are painted, each where its own values put it on the shared axes.
    image = motion.grab().toImage()
    image.save("/tmp/analysis_generation_seeds.png")
    rig.window.grab().save("/tmp/analysis_generation_seeds_window.png")
    for k, series in enumerate(motion.series):
        hits = 0
        for i in range(2, len(series.xs) - 2, 4):
            point = motion.point_at(k, i)
            near = [image.pixelColor(round(point.x()) + dx, round(point.y()) + dy)
                    for dx in (-1, 0, 1) for dy in (-1, 0, 1)]
            hits += any(_close(c, series.color, 40) for c in near)
        assert hits >= 3, series.label

    # The player shows the generation: the marker follows it, and a click on a plot seeks it.
    rig.player.seek(9)
    assert [p.marker for p in panel.plots] == [9, 9, 9]
    QTest.mouseClick(motion, Qt.MouseButton.LeftButton, pos=motion.point_at(0, 15).toPoint())
    qtbot.waitUntil(lambda: rig.player.position == 15, timeout=WAIT_MS)
    # Another video in the player: no marker here.
    rig.player.set_clip(None, other.path, 24, 24.0)
    assert [p.marker for p in panel.plots] == [None, None, None]


def test_a_generations_source_clip_can_be_compared(qtbot, rig, generations):
    source, first, _, _ = generations
    panel = rig.panel
    panel.set_generation_source(rig.project.generations)
    show_generation(qtbot, rig, first)
    panel.set_compare(("clip", source.id))
    panel.analyse()
    qtbot.waitUntil(lambda: panel.analysis is not None and panel.compare_analysis is not None
                    and not panel.is_busy, timeout=WAIT_MS)
    mine, clip = panel.motion_plot.series
    assert clip.label == "moving.mp4" and len(clip.xs) == 29 and len(mine.xs) == 23
    assert panel.motion_plot.x_range == (0, 28)  # the axis spans the longer one
    assert panel.legend_entries() == ["Generation #1 · seed 1", "moving.mp4"]


def test_a_clip_offers_the_generations_made_from_it_first(rig, generations):
    source, first, second, other = generations
    panel = rig.panel
    panel.set_generation_source(rig.project.generations)
    panel.show_clip(rig.project.clip(source.id))
    refs = [ref for _, ref in panel.compare_items()]
    assert refs == [None, ("generation", second.id), ("generation", first.id),
                    ("clip", source.id + 1), ("generation", other.id)]


def test_a_generation_whose_file_is_gone_says_so(qtbot, rig, generations, tmp_path):
    _, first, _, _ = generations
    gone = rig.project.add_generation(tmp_path / "gone.mp4", {"seed": 9}, prompt=PROMPT)
    rig.panel.set_generation_source(rig.project.generations)
    rig.panel.show_generation(gone)
    assert rig.panel.message_is_error and str(tmp_path / "gone.mp4") in rig.panel.message
    rig.panel.analyse()
    assert not rig.panel.is_busy and not rig.panel.analyse_action.isEnabled()
    # A broken generations source leaves the clips on offer.
    def broken():
        raise RuntimeError("database is locked")

    rig.panel.set_generation_source(broken)
    rig.panel.show_generation(first)
    assert [ref for _, ref in rig.panel.compare_items()][1:] == [("clip", first.source_clip_id),
                                                                 ("clip", first.source_clip_id + 1)]


def test_generations_analyse_opens_the_panel_and_new_generations_join_the_compare_list(
        qtbot, project, generations):
    from studio.ui.main_window import MainWindow

    source, first, second, _ = generations
    window = MainWindow(project)
    qtbot.addWidget(window)
    window.resize(1280, 900)
    window.show()
    qtbot.waitExposed(window)
    try:
        window.generations_dock.toggleViewAction().trigger()
        listing = window.generations_panel
        listing.select(first.id)
        assert listing.analyse_button.isEnabled()
        listing.analyse_button.click()
        panel = window.analysis
        assert window.analysis_dock.isVisible()
        assert panel.subject.ref == ("generation", first.id)
        assert window.player.path == first.path and window.player.clip_id is None
        qtbot.waitUntil(lambda: panel.analysis is not None and not panel.is_busy,
                        timeout=WAIT_MS)
        assert panel.pair_count() == 23
        refs = [ref for _, ref in panel.compare_items()]
        assert refs[1:3] == [("clip", source.id), ("generation", second.id)]

        # A generation finishes while the panel is open: it joins the list at once.
        path = write_translating_video(project.generations_dir / "fox_4.mp4", frames=24,
                                       seed=4, dx=2, dy=2)
        fourth = window.project_model.add_generation(  # as the queue records a finished run
            path, {"prompt": PROMPT, "seed": 4}, prompt=PROMPT, info=probe(path),
            source_clip_id=source.id)
        refs = [ref for _, ref in panel.compare_items()]
        assert refs[1:4] == [("clip", source.id), ("generation", fourth.id),
                             ("generation", second.id)]
        panel.set_compare(("generation", fourth.id))
        qtbot.waitUntil(lambda: panel.compare_analysis is not None and not panel.is_busy,
                        timeout=WAIT_MS)
        assert [s.label for s in panel.warp_plot.series] == ["Generation #1 · seed 1",
                                                             "Generation #4 · seed 4"]
        window.grab().save("/tmp/analysis_generation_window.png")
        # Selecting a clip in the bin shows the clip again.
        window.bin.select_clip(source.id)
        qtbot.waitUntil(lambda: panel.clip is not None and panel.clip.id == source.id,
                        timeout=WAIT_MS)
    finally:
        window.shutdown()
    assert window.analysis.pool.activeThreadCount() == 0


# ---- plots that keep up (issue 16, item 6) -----------------------------------------------------

def _long_plot(qtbot, pairs=18000):
    import math

    from studio.ui.analysis_panel import METRICS, SERIES_COLORS, MetricPlot, Series

    plot = MetricPlot(METRICS[0])
    qtbot.addWidget(plot)
    xs = list(range(pairs))
    ys = [1.0 + 0.8 * math.sin(x / 37.0) + 0.3 * math.sin(x / 3.1) for x in xs]
    plot.set_series([Series("clip", SERIES_COLORS[0], xs, ys, xs)])
    plot.set_highlights([pairs // 5, pairs // 2])
    plot.resize(600, 110)
    plot.show()
    qtbot.waitExposed(plot)
    return plot


def test_a_new_playhead_draws_the_marker_alone_not_every_point(qtbot):
    """The plots drew all 18,000 points of a long clip for every player frame (292 ms for
    three): the static part is drawn once per data change, the playhead on top of it.
    (grab() paints the widget as a repaint does, on any platform.)"""
    plot = _long_plot(qtbot)
    plot.grab()
    drawn = plot.static_draws
    for frame in range(0, 18000, 300):
        plot.set_marker(frame)
        plot.grab()
        plot.set_hover(frame + 7)
        plot.grab()
    assert plot.static_draws == drawn
    plot.set_highlights([5])  # a data change draws it again, once
    plot.grab()
    plot.set_marker(9)
    plot.grab()
    assert plot.static_draws == drawn + 1
    plot.resize(500, 110)  # so does a new size
    plot.grab()
    assert plot.static_draws == drawn + 2


def test_the_kept_plot_looks_as_a_fresh_one(qtbot):
    plot = _long_plot(qtbot)
    plot.set_marker(100)
    plot.grab()
    plot.set_marker(9000)  # moved over the kept static part
    kept = plot.grab().toImage()
    plot.invalidate_static()  # drawn from scratch at the same playhead
    fresh = plot.grab().toImage()
    assert kept == fresh
    marker_column = round(plot.x_to_px(9000))
    assert kept.pixelColor(marker_column, int(plot.plot_rect().center().y())).red() > 200


def test_a_thinned_line_keeps_each_pixel_columns_extremes():
    from studio.ui.analysis_panel import column_envelope

    rng = np.random.default_rng(3)
    px = np.sort(rng.uniform(0, 100, 5000))
    py = rng.normal(50, 20, 5000)
    kept = column_envelope(px, py)
    assert len(kept) <= 4 * 100 and list(kept) == sorted(kept)
    for column in range(100):
        every = py[np.floor(px) == column]
        thinned = py[kept][np.floor(px[kept]) == column]
        assert (every.min(), every.max()) == (thinned.min(), thinned.max())
    assert kept[0] == 0 and kept[-1] == len(px) - 1
