"""Fixtures for the Qt tests: a project in a temporary folder and clips made with PyAV."""

from __future__ import annotations

import pytest

from studio.ui.project_model import ProjectModel
from tests.media_factory import make_bad, make_gif, make_image, make_video


@pytest.fixture(scope="session")
def clip_folder(tmp_path_factory):
    """A folder as a person drops it: clips in subfolders, a GIF, a still, a broken file and notes."""
    root = tmp_path_factory.mktemp("drop") / "shoot"
    (root / "day1").mkdir(parents=True)
    (root / "day2" / "b-roll").mkdir(parents=True)
    make_video(root / "day1" / "a_walk.mp4", width=96, height=64, frames=30, fps=30)
    make_video(root / "day1" / "b_pan.mp4", width=64, height=96, frames=20, fps=24)
    make_video(root / "day2" / "b-roll" / "c_city.webm", width=64, height=48, frames=12,
               codec="libvpx-vp9")
    make_gif(root / "day2" / "d_loop.gif", frames=6)
    make_image(root / "day2" / "e_still.png")
    make_bad(root / "day2", "text", name="f_broken.mp4")
    (root / "day2" / "notes.txt").write_text("not media, skipped inside folders")
    (root / ".hidden").mkdir()
    make_video(root / ".hidden" / "ignored.mp4", frames=2)
    return root


@pytest.fixture(scope="session", autouse=True)
def gui_thread_gc(qapp):
    """As in the window (studio.ui.app): garbage is collected in the GUI thread only, never in
    a worker's (where a cycle holding Qt objects must not be destroyed)."""
    from studio.ui.gui_gc import GuiThreadCollector

    collector = GuiThreadCollector(qapp)
    yield collector
    collector.stop()


@pytest.fixture
def project(tmp_path):
    from studio.core.library import Project

    p = Project(tmp_path / "project")
    yield p
    p.close()


@pytest.fixture(scope="session")
def tiny_ltx(tiny_ltx_dir):
    """The tiny LTX-Video folder (32x32 runs take a second or two on a CPU)."""
    return tiny_ltx_dir


@pytest.fixture(scope="module")
def manager():
    """A ModelManager on the CPU, shared by a module's tests (torch loads once)."""
    from studio.ui.model_manager import ModelManager

    m = ModelManager(device="cpu", freeze_heap=False)
    yield m
    assert m.shutdown(20_000)


@pytest.fixture
def panels(qtbot, project, manager, tmp_path):
    """A Generate panel and a Preview panel wired as the main window wires them (the bin's
    selection is ``prompt.selected``)."""
    from studio.core.prompts import TemplateStore
    from studio.ui.preview_panel import PreviewPanel
    from studio.ui.prompt_panel import PromptPanel

    selected: list = []
    prompt = PromptPanel(ProjectModel(project), manager=manager, clip_source=lambda: selected,
                         template_store=TemplateStore(tmp_path / "templates.json"))
    preview = PreviewPanel(project=project)
    preview.follow_queue(prompt.queue)
    preview.restore_requested.connect(prompt.restore)
    qtbot.addWidget(prompt)
    qtbot.addWidget(preview)
    prompt.selected = selected
    yield prompt, preview
    preview.shutdown()
