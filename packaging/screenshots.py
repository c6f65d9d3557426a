"""Make the README screenshots from demo media, offscreen, so they can be remade after any UI change.

    .venv/bin/python packaging/screenshots.py [--out docs] [--theme light|dark] [--name FILE]
    .venv/bin/python packaging/screenshots.py --workspaces [--out docs]

Builds a few synthetic clips (PyAV), imports them into a throwaway project, selects one, sets
in/out points, runs one generation with the tiny demo LTX-Video (the Preview dock shows it) and
grabs the main window; --analysis also analyses the selected clip. --workspaces does all of it
(a generation, two queued jobs, an analysis, an export) and grabs each workspace at 1280x800
in its default layout: workspace-media.png, workspace-generate.png, workspace-analyse.png,
workspace-deliver.png.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
from fractions import Fraction
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import av  # noqa: E402
import numpy as np  # noqa: E402


def _scene(kind: str, t: float, w: int, h: int) -> np.ndarray:
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    if kind == "sunset":
        sky = np.stack([255 - ys / h * 80, 120 + ys / h * 60, 90 + ys / h * 40], -1)
        cx, cy, r = w * (0.3 + 0.4 * t), h * (0.55 + 0.1 * t), h * 0.16
        sun = ((xs - cx) ** 2 + (ys - cy) ** 2) < r * r
        sky[sun] = (255, 220, 120)
        sea = ys > h * 0.68
        wave = 12 * np.sin(xs / 17 + t * 20 + ys / 5)
        sky[sea] = np.stack([30 + wave, 60 + wave, 110 + wave], -1)[sea]
        return sky.clip(0, 255).astype(np.uint8)
    if kind == "city":
        img = np.stack([20 + ys / h * 40, 24 + ys / h * 40, 60 + ys / h * 60], -1)
        rng = np.random.default_rng(3)
        for i in range(14):
            bx = int((i * w / 12 - t * w * 0.3) % (w + 80)) - 40
            bw, bh = int(rng.integers(30, 70)), int(rng.integers(h // 4, int(h * 0.8)))
            img[h - bh:, max(bx, 0):max(bx + bw, 0)] = (40 + 6 * i, 44 + 5 * i, 58 + 4 * i)
            for wy in range(h - bh + 8, h - 8, 14):
                for wx in range(bx + 6, bx + bw - 6, 12):
                    if 0 <= wx < w - 4 and (wx * 7 + wy * 3 + i) % 5:
                        img[wy:wy + 6, wx:wx + 4] = (250, 215, 120)
        return img.clip(0, 255).astype(np.uint8)
    # "forest": soft green bands drifting, a bright glade
    a = np.sin(xs / 23 + t * 6) + np.sin(ys / 31 - t * 4) + np.sin((xs + ys) / 41 + t * 3)
    img = np.stack([40 + 20 * a, 110 + 35 * a, 50 + 15 * a], -1)
    glow = np.exp(-(((xs - w * (0.5 + 0.2 * math.sin(t * 6))) / (w * 0.25)) ** 2
                    + ((ys - h * 0.4) / (h * 0.3)) ** 2))
    img += glow[..., None] * np.array([120, 110, 60])
    return img.clip(0, 255).astype(np.uint8)


def make_clip(path: Path, kind: str, w=384, h=216, frames=72, fps=24) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps, options={"crf": "20", "preset": "veryfast"})
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(_scene(kind, i / frames, w, h), format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, fps)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


CAPTIONS = {
    "night_drive.mp4": ("A slow lateral pan across a city skyline at night. Lit windows dot the "
                        "towers against a deep blue sky; the camera glides left to right at a "
                        "steady pace. Flat, graphic style with soft edges."),
    "sunset_pan.mp4": ("The sun sinks toward a calm sea under an orange sky; small waves roll "
                       "below the horizon. Static camera, warm palette."),
}


GENERATION_PROMPT = "A paper boat drifting across a still pond at dawn, soft mist, slow push-in."


def generate(window, work: Path, wait) -> None:
    """One generation with the tiny demo LTX-Video (random weights: it makes noise, in seconds
    on a CPU) through the window's prompt panel and ModelManager, like a person would; the
    Preview dock then loops the result; the prompt panel is closed again."""
    from PySide6.QtCore import Qt

    from studio.core.params import GenerationParams
    from studio.inference.demo_ltx import make_demo_ltx

    model = make_demo_ltx(work / "models" / "demo-ltx")
    window.generate_dock.toggleViewAction().trigger()
    prompt = window.prompt_panel
    prompt.apply_params(GenerationParams(
        model=str(model), prompt=GENERATION_PROMPT, negative_prompt="", width=96, height=64,
        num_frames=17, steps=2, guidance_scale=1.0, seed=1234, seed_locked=True))
    if prompt.generate() is None:
        raise SystemExit(f"the demo generation did not start: {prompt.error}")
    # The panel hears the manager (bound slots); its job id clears when the run ends.
    wait(lambda: prompt.job_id is None, 600)
    player = window.preview_panel.result_player
    wait(lambda: player.displayed_index is not None, 30)
    if player.displayed_index is None:
        raise SystemExit(f"the demo generation made no result: {prompt.seed_used.text()}")
    window.generate_dock.hide()  # the prompt panel is wider than the caption's column
    window.generation_preview_dock.show()
    if window.analysis_dock.isVisible():
        # Analysis and Preview side by side along the bottom, under the bin too, so that
        # everything fits 1280 px across (a screenshot-only arrangement of the same docks).
        window.setCorner(Qt.Corner.BottomLeftCorner, Qt.DockWidgetArea.BottomDockWidgetArea)
        window.splitDockWidget(window.analysis_dock, window.generation_preview_dock,
                               Qt.Orientation.Horizontal)
    wait(lambda: False, 0.3)  # the layout settles, then the window gets its size back
    window.resize(1280, 760)
    wait(lambda: window.size().toTuple() == (1280, 760), 5)
    window.resizeDocks([window.caption_dock, window.bin_dock], [340, 260], Qt.Orientation.Horizontal)
    window.resizeDocks([window.generation_preview_dock], [340], Qt.Orientation.Vertical)
    if window.analysis_dock.isVisible():
        window.resizeDocks([window.analysis_dock], [300], Qt.Orientation.Horizontal)
    wait(lambda: False, 0.3)


def show_queue(window, wait) -> None:
    """Two more jobs waiting behind the finished one (the queue paused, so they stay queued),
    one with a new seed, and the Queue dock (a tab beside the Generations list)."""
    from PySide6.QtCore import Qt

    queue = window.generation_queue
    queue.set_paused(True)
    done = queue.jobs()[-1]
    waiting = queue.add(queue.params_of(done.id).replace(
        prompt="Waves rolling onto a pebble beach at dusk, slow dolly in", seed=77))
    queue.duplicate(waiting.id)
    window.generation_preview_dock.hide()  # the queue gets the bottom's width (this shot only)
    window.queue_dock.show()
    window.queue_dock.raise_()
    window.queue_panel.select([waiting.id])
    wait(lambda: False, 0.3)
    window.resize(1280, 760)
    wait(lambda: window.size().toTuple() == (1280, 760), 5)
    window.resizeDocks([window.bin_dock], [260], Qt.Orientation.Horizontal)
    window.resizeDocks([window.queue_dock], [300], Qt.Orientation.Vertical)
    wait(lambda: False, 0.3)


def workspace_shots(window, work: Path, wait, out: Path) -> list[Path]:
    """Work in each workspace as a person would (a generation, two jobs queued behind it, an
    analysis of the selected clip, an export of it), then one PNG per workspace, each in its
    default layout at 1280x800."""
    from studio.core.params import GenerationParams
    from studio.inference.demo_ltx import make_demo_ltx
    from studio.ui.workspaces import WORKSPACES

    window.workspaces.switch("generate")
    prompt = window.prompt_panel
    prompt.apply_params(GenerationParams(
        model=str(make_demo_ltx(work / "models" / "demo-ltx")), prompt=GENERATION_PROMPT,
        negative_prompt="", width=96, height=64, num_frames=17, steps=2, guidance_scale=1.0,
        seed=1234, seed_locked=True))
    if prompt.generate() is None:
        raise SystemExit(f"the demo generation did not start: {prompt.error}")
    wait(lambda: prompt.job_id is None, 600)
    queue = window.generation_queue
    queue.set_paused(True)
    waiting = queue.add(queue.params_of(queue.jobs()[-1].id).replace(
        prompt="Waves rolling onto a pebble beach at dusk, slow dolly in", seed=77))
    queue.duplicate(waiting.id)
    window.workspaces.switch("analyse")
    analysed = []
    window.analysis.analysis_finished.connect(lambda *a: analysed.append(a))
    window.analysis.analyse()
    wait(lambda: analysed)
    window.workspaces.switch("deliver")
    dialog = window.export_clips_dialog()
    wait(lambda: dialog.export_button.isEnabled(), 30)
    job = dialog.start_export()
    wait(lambda: job is not None and not job.active, 120)
    shots = []
    for space in WORKSPACES:
        window.workspaces.switch(space.key)
        window.reset_layout()  # its default layout, at 1280x800
        window.resize(1280, 800)
        wait(lambda: window.size().toTuple() == (1280, 800), 5)
        window.workspaces.apply_default()
        wait(lambda: False, 0.6)  # the panels and the players paint
        target = out / f"workspace-{space.key}.png"
        window.grab().save(str(target))
        shots.append(target)
    return shots


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, default=ROOT / "docs")
    parser.add_argument("--theme", choices=("light", "dark"), default="dark",
                        help="the palette (View > Theme) to show (default: dark)")
    parser.add_argument("--name", default="screenshot.png", help="file name under --out")
    parser.add_argument("--analysis", action="store_true",
                        help="analyse the selected clip and show the analysis panel")
    parser.add_argument("--queue", action="store_true",
                        help="queue two more generations (paused) and show the Queue dock")
    parser.add_argument("--workspaces", action="store_true",
                        help="one PNG per workspace (workspace-KEY.png), after some work in each")
    parser.add_argument("--no-generation", dest="generation", action="store_false",
                        help="skip the demo generation (the Preview dock with its result)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="studio-shots-"))
    for var in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME"):
        os.environ[var] = str(work / var.lower())
    media = work / "Footage"
    make_clip(media / "beach" / "sunset_pan.mp4", "sunset", frames=96)
    make_clip(media / "beach" / "sunset_wide.mp4", "sunset", w=512, h=288, frames=48)
    make_clip(media / "city" / "night_drive.mp4", "city", frames=120)
    make_clip(media / "city" / "skyline.mp4", "city", w=288, h=512, frames=60, fps=30)
    make_clip(media / "forest" / "glade.mp4", "forest", frames=80)
    (media / "forest" / "notes.mp4").write_text("not a video")

    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    app = QApplication(sys.argv[:1])
    from studio.ui.theme import app_icon, theme_manager

    app.setWindowIcon(app_icon())
    theme_manager().set_mode(args.theme)
    from studio.core.library import Project
    from studio.ui.main_window import MainWindow

    project = Project(work / "Demo project")
    # Two clips carry captions a person wrote (the caption panel's edit path), so the bin and
    # the caption panel show what captioned clips look like without a downloaded model.
    for name, text in CAPTIONS.items():
        clip, _ = project.import_file(next(media.rglob(name)))
        project.add_caption(clip.id, text, source="edit")
    window = MainWindow(project)
    window.resize(1280, 760)
    window.show()

    def wait(cond, seconds=60.0):
        loop_timer = QTimer()
        loop_timer.start(10)
        import time

        end = time.time() + seconds
        while not cond() and time.time() < end:
            app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)
        loop_timer.stop()

    finished = []
    window.bin.import_finished.connect(lambda: finished.append(True))
    window.bin.import_paths([str(media)])
    wait(lambda: finished)
    wait(lambda: window.bin.model.thumbnail_count() >= 5)
    clip = next(c for c in project.clips() if c.path.endswith("night_drive.mp4"))
    window.bin.select_clip(clip.id)
    player = window.player
    wait(lambda: player.clip_id == clip.id and player.displayed_index == 0)
    player.seek(18)
    player.set_in_point()
    player.seek(90)
    player.set_out_point()
    player.seek(52)
    wait(lambda: player.displayed_index == 52)
    if args.workspaces:
        args.out.mkdir(parents=True, exist_ok=True)
        for target in workspace_shots(window, work, wait, args.out):
            print(target)
        window.close()
        project.close()
        return 0
    if args.analysis:
        finished_analysis = []
        window.analysis.analysis_finished.connect(lambda *a: finished_analysis.append(a))
        window.show_analysis()
        window.analysis.analyse()
        wait(lambda: finished_analysis)
        wait(lambda: False, 0.5)  # let the plots paint
    if args.generation:
        generate(window, work, wait)
        wait(lambda: False, 0.5)  # let the result player paint
    if args.queue:
        show_queue(window, wait)
    args.out.mkdir(parents=True, exist_ok=True)
    target = args.out / args.name
    window.grab().save(str(target))
    print(target)
    window.close()
    project.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
