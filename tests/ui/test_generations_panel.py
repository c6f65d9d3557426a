"""The generations list with generations recorded by hand (a small mp4 from media_factory, a
Studio sidecar, Project.add_generation): rows, thumbnails, the demo label, background analysis
into the list and the sidecar (other keys kept), Restore settings into the prompt panel,
Export… with the settings as metadata, Play."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from studio.core.media import probe
from studio.core.params import GenerationParams
from studio.inference.registry import DEMO_LABEL
from studio.ui.generations_panel import (
    COLUMNS,
    ID_ROLE,
    GenerationsPanel,
    write_analysis,
)
from studio.ui.project_model import ProjectModel
from tests.media_factory import make_video

TIMEOUT = 30_000
COL = {name: i for i, name in enumerate(COLUMNS)}


def record(path: Path, project, *, prompt: str, seed: int, model: str, demo: bool,
           sidecar: bool = True):
    """A video and its sidecar written as a run writes them, recorded by ``project`` (a
    ``Project``, or a ``ProjectModel``, which says so to the panels)."""
    make_video(path, width=64, height=48, frames=10, fps=24)
    params = GenerationParams(model=model, prompt=prompt, width=64, height=48, num_frames=9,
                              steps=3, seed=seed, negative_prompt="blurry").to_dict()
    settings = {"kind": "studio.generation", "version": 1, "prompt": prompt, "seed": seed,
                "params": params, "model": {"id": model, "demo": demo},
                "demo": DEMO_LABEL if demo else None}
    if sidecar:
        path.with_suffix(".json").write_text(json.dumps(
            {"studio": "test", "preset": "mp4", "custom": [1, 2], "settings": settings}),
            encoding="utf-8")
    g = project.add_generation(path, params, kind="t2v", model=model, prompt=prompt,
                               info=probe(path))
    return g, settings


@pytest.fixture
def generations(project):
    folder = project.generations_dir
    folder.mkdir(parents=True, exist_ok=True)
    a = record(folder / "a.mp4", project, prompt="a red ball bouncing " * 6, seed=11,
               model="demo/ltx-video-tiny", demo=True)
    b = record(folder / "b.mp4", project, prompt="waves at dusk", seed=22,
               model="Lightricks/LTX-Video", demo=False)
    return a, b


def make_panel(qtbot, project, **kwargs) -> GenerationsPanel:
    panel = GenerationsPanel(ProjectModel(project), **kwargs)
    qtbot.addWidget(panel)
    panel.resize(1150, 300)
    return panel


def cell(panel, gid, name) -> str:
    return panel.model.item(panel._row_of(gid), COL[name]).text()


def wait_analysed(qtbot, panel, ids):
    qtbot.waitUntil(lambda: all(i in panel.analyses for i in ids) and not panel._running,
                    timeout=TIMEOUT)


def test_list_shows_generations_and_analysis_fills_list_and_sidecar(qtbot, project, generations):
    (a, _), (b, _) = generations
    panel = make_panel(qtbot, project)
    try:
        assert panel.model.rowCount() == 2
        assert panel.model.item(0, 0).data(ID_ROLE) == b.id  # newest first
        assert cell(panel, b.id, "Prompt") == "waves at dusk"
        prompt = cell(panel, a.id, "Prompt")
        assert prompt.endswith("…") and len(prompt) <= 80
        assert cell(panel, b.id, "Seed") == "22" and cell(panel, a.id, "Seed") == "11"
        assert cell(panel, b.id, "Size") == "64×48, 10 f"
        assert DEMO_LABEL in cell(panel, a.id, "Model")
        assert DEMO_LABEL not in cell(panel, b.id, "Model")
        qtbot.waitUntil(lambda: panel.thumbnail(a.id) is not None
                        and panel.thumbnail(b.id) is not None, timeout=TIMEOUT)
        wait_analysed(qtbot, panel, [a.id, b.id])
        summary = panel.analyses[a.id]
        assert cell(panel, a.id, "Warp error") == f"{summary['warp_error_mean']:.4f}"
        assert cell(panel, a.id, "Flicker") == f"{summary['flicker']:.4f}"
        data = json.loads(Path(a.path).with_suffix(".json").read_text(encoding="utf-8"))
        assert data["custom"] == [1, 2] and data["studio"] == "test"  # other keys kept
        assert data["settings"]["seed"] == 11
        assert data["analysis"]["warp_error_mean"] == summary["warp_error_mean"]
        assert len(data["analysis"]["series"]["warp_error"]) == 9
        assert not list(Path(a.path).parent.glob(".*.part"))  # no temporaries left
        panel.grab().save("/tmp/generations.png")
    finally:
        panel.shutdown()

    # A second panel reads the summaries from the sidecars and analyses nothing again.
    stamp = Path(a.path).with_suffix(".json").stat().st_mtime_ns
    again = make_panel(qtbot, project)
    try:
        qtbot.waitUntil(lambda: a.id in again.analyses and b.id in again.analyses,
                        timeout=TIMEOUT)
        again.analysis_pool.waitForDone(TIMEOUT)
        assert Path(a.path).with_suffix(".json").stat().st_mtime_ns == stamp
        assert cell(again, a.id, "Warp error") == cell(panel, a.id, "Warp error") != ""
    finally:
        again.shutdown()


def test_a_generation_without_sidecar_is_analysed_but_nothing_is_written(
        qtbot, project, tmp_path):
    project.generations_dir.mkdir(parents=True, exist_ok=True)
    g, _ = record(project.generations_dir / "c.mp4", project, prompt="no sidecar", seed=3,
                  model="Lightricks/LTX-Video", demo=False, sidecar=False)
    panel = make_panel(qtbot, project)
    try:
        wait_analysed(qtbot, panel, [g.id])
        assert cell(panel, g.id, "Warp error") != ""
        assert not Path(g.path).with_suffix(".json").exists()
        assert "no sidecar" in panel.problems[g.id]
    finally:
        panel.shutdown()
    assert write_analysis(g.path, {"x": 1}) is None


def test_a_missing_file_is_named_not_raised(qtbot, project, generations):
    (a, _), _ = generations
    Path(a.path).unlink()
    panel = make_panel(qtbot, project)
    try:
        qtbot.waitUntil(lambda: a.id in panel.problems, timeout=TIMEOUT)
        assert panel.problems[a.id] == f"{a.path}: file not found"
        panel.select(a.id)
        assert panel.play_selected() is False
        assert panel.status.text() == f"{a.path}: file not found"
    finally:
        panel.shutdown()


def test_restore_settings_refills_the_prompt_panel(qtbot, project, generations, tmp_path):
    from studio.core.prompts import TemplateStore
    from studio.ui.prompt_panel import PromptPanel

    _, (b, _) = generations
    prompt = PromptPanel(ProjectModel(project), template_store=TemplateStore(tmp_path / "templates.json"))
    qtbot.addWidget(prompt)
    panel = make_panel(qtbot, project, analyse=False)
    panel.restore_requested.connect(prompt.restore)
    try:
        assert not panel.restore_button.isEnabled()
        assert panel.select(b.id)
        assert panel.restore_button.isEnabled()
        panel.restore_button.click()
        params = prompt.params()
        assert params.prompt == "waves at dusk"
        assert params.seed == 22 and params.seed_locked
        assert params.negative_prompt == "blurry"
        assert (params.width, params.height, params.steps) == (64, 48, 3)
    finally:
        panel.shutdown()


def test_export_from_the_list_passes_the_settings_as_metadata(qtbot, project, generations,
                                                              tmp_path):
    from studio.ui.export_queue import ExportQueue

    (a, settings), _ = generations
    queue = ExportQueue()
    panel = make_panel(qtbot, project, export_queue=lambda: queue, analyse=False)
    try:
        panel.select(a.id)
        dialog = panel.export_selected()
        assert dialog is not None and dialog.isVisible()
        assert dialog.sources[0].path == a.path
        assert dialog.sources[0].metadata == settings
        dialog.folder_edit.setText(str(tmp_path / "out"))
        qtbot.waitUntil(lambda: not dialog.planning, timeout=TIMEOUT)
        with qtbot.waitSignal(queue.job_finished, timeout=TIMEOUT) as finished:
            job = dialog.start_export()
        assert job is not None and finished.args[0] is job
        assert job.items[0][1].metadata == settings
        out = Path(job.results[0].output)
        written = json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))
        assert written["settings"] == settings
    finally:
        panel.shutdown()
        assert queue.shutdown(30_000)


def test_play_emits_the_path_frames_and_rate(qtbot, project, generations):
    (a, _), _ = generations
    panel = make_panel(qtbot, project, analyse=False)
    try:
        panel.select(a.id)
        with qtbot.waitSignal(panel.play_requested, timeout=1000) as played:
            panel.play_button.click()
        assert played.args[0] == a.path and played.args[1] == 10
        assert played.args[2] == pytest.approx(24.0)
    finally:
        panel.shutdown()


def test_the_window_lists_generations_plays_and_restores(qtbot, project, generations):
    from studio.ui.main_window import MainWindow

    (a, _), _ = generations
    window = MainWindow(project)
    qtbot.addWidget(window)
    try:
        assert window._generations_panel is None  # not built at start-up
        generate = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Generate")
        assert window.generations_dock.toggleViewAction() in generate.actions()
        window.show()
        window.generations_dock.toggleViewAction().trigger()
        panel = window._generations_panel
        assert panel is not None and panel.model.rowCount() == 2
        panel.select(a.id)
        panel.play_button.click()
        assert window.player._path == a.path
        panel.restore_button.click()
        assert window.generate_dock.isVisible()
        assert window.prompt_panel.params().seed == 11
        # Add to Bin: the generation becomes a clip, selected (to caption, mark, export)
        with qtbot.waitSignal(window.files_opened, timeout=60_000):
            panel.add_to_bin_button.click()
        clip = project.clip_for_path(a.path)
        assert clip is not None and clip.ok
        assert [c.id for c in window.bin.selected_clips()] == [clip.id]
        wait_analysed(qtbot, panel, [a.id])
    finally:
        window.close()


def test_a_finished_generation_is_listed_and_analysed(qtbot, project, generations):
    """A generation recorded through the window's ProjectModel (as the generation queue
    records a finished run): a window whose list was never shown builds it (listing and
    analysing the new video); a built list refreshes."""
    from studio.ui.main_window import MainWindow

    (a, _), _ = generations
    window = MainWindow(project)
    qtbot.addWidget(window)
    try:
        folder = project.generations_dir
        assert window._generations_panel is None
        new, _ = record(folder / "n.mp4", window.project_model, prompt="first new", seed=3,
                        model="Lightricks/LTX-Video", demo=False)
        panel = window._generations_panel
        assert panel is not None and panel.model.rowCount() == 3
        wait_analysed(qtbot, panel, [a.id, new.id])
        c, _ = record(folder / "c.mp4", window.project_model, prompt="new one", seed=5,
                      model="Lightricks/LTX-Video", demo=False)
        assert panel.model.rowCount() == 4 and cell(panel, c.id, "Prompt") == "new one"
        wait_analysed(qtbot, panel, [c.id])
        data = json.loads(Path(c.path).with_suffix(".json").read_text(encoding="utf-8"))
        assert data["analysis"]["flicker"] == panel.analyses[c.id]["flicker"]
    finally:
        window.close()


@pytest.mark.parametrize("width", [300, 520, 900])
def test_the_list_fits_its_panel_without_scrolling_sideways(qtbot, width, tmp_path):
    """Issue 16: the generations list scrolled sideways in its dock ("A paper boat drifting
    across a s…"); the prompt takes the width left, the columns that fit are shown."""
    from studio.core.library import Project
    from studio.ui.generations_panel import COLUMNS, GenerationsPanel
    from studio.ui.project_model import ProjectModel
    from tests.ui.columns import assert_columns_fit

    with Project(tmp_path / "p") as project:
        panel = GenerationsPanel(ProjectModel(project))
        qtbot.addWidget(panel)
        panel.resize(width, 300)
        panel.show()
        qtbot.waitExposed(panel)
        assert_columns_fit(qtbot, panel.view, panel.view.horizontalHeader(), COLUMNS,
                           [COLUMNS.index("Video"), COLUMNS.index("Prompt")], width)
        panel.shutdown()
