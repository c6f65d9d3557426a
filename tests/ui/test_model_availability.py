"""The model lists say which known models are not on this computer (a job on one failed with
"not on this computer" only after Caption or Generate was clicked)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from studio.inference import registry
from studio.ui.project_model import ProjectModel


@pytest.fixture
def models_here(monkeypatch, tmp_path, tiny_captioner_dir):
    """An empty Hugging Face cache and a data folder whose demo captioner is built."""
    import huggingface_hub.constants

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    hub = tmp_path / "hub"
    hub.mkdir()
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(hub))
    from studio.inference.loading import demo_root

    shutil.copytree(tiny_captioner_dir, demo_root() / "smolvlm2-tiny")
    yield
    # the application's answer (these models are here) must not outlive this test's folders:
    # later panels would move to them (model_availability.choose_present_model)
    import studio.ui.model_availability as availability_module

    availability_module._availability = None


def texts(combo) -> dict[str, str]:
    return {combo.itemData(i): combo.itemText(i) for i in range(combo.count())}


def test_the_caption_model_list_says_which_models_are_not_here(qtbot, models_here, project,
                                                              tmp_path):
    import huggingface_hub.constants

    from studio.ui.caption_panel import CaptionPanel
    from studio.ui.model_availability import model_availability

    availability = model_availability()
    with qtbot.waitSignal(availability.changed, timeout=30_000):
        availability.refresh()
    panel = CaptionPanel(ProjectModel(project))
    qtbot.addWidget(panel)
    combo = panel.model_combo  # the body is built on this first read
    qtbot.waitUntil(lambda: texts(combo)[registry.DEFAULT_CAPTIONER].endswith(
        "— not downloaded"), timeout=30_000)
    shown = texts(combo)
    assert shown["demo/smolvlm2-tiny"] == registry.get("demo/smolvlm2-tiny").title
    assert shown["HuggingFaceTB/SmolVLM2-2.2B-Instruct"] == "SmolVLM2 2.2B — not downloaded"
    index = combo.findData(registry.DEFAULT_CAPTIONER)
    assert combo.itemData(index, Qt.ItemDataRole.ToolTipRole) == \
        f"Not on this computer: studio models pull {registry.DEFAULT_CAPTIONER}"
    # nobody chose the default: the panel takes the captioner that is here (issue 16)
    assert panel.model == "demo/smolvlm2-tiny"
    panel.set_model(registry.DEFAULT_CAPTIONER)  # a person's choice stays, here or not

    # Caption with it: said at once, and the clip is not marked failed for a missing model.
    from studio.ui.model_manager import ModelManager
    from tests.media_factory import make_video

    clip, _ = project.import_file(make_video(tmp_path / "walk.mp4", frames=6))
    manager = ModelManager(freeze_heap=False)
    try:
        panel.set_manager(manager)
        panel.show_clip(clip)
        assert panel.caption_selected() is None
        assert panel.error_label.text().startswith("SmolVLM2 256M (video) is not on this "
                                                   "computer. Download it once with: studio "
                                                   "models pull HuggingFaceTB/SmolVLM2-256M")
        assert panel.state == "none" and not panel.running
    finally:
        manager.shutdown()

    # Pulled meanwhile (a terminal): opening the list looks again.
    hub = Path(huggingface_hub.constants.HF_HUB_CACHE)
    snapshot = hub / "models--HuggingFaceTB--SmolVLM2-2.2B-Instruct" / "snapshots" / "abc"
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text("{}")
    (hub / "models--HuggingFaceTB--SmolVLM2-2.2B-Instruct" / "refs").mkdir()
    (hub / "models--HuggingFaceTB--SmolVLM2-2.2B-Instruct" / "refs" / "main").write_text("abc")
    panel.show()
    combo.showPopup()
    qtbot.waitUntil(lambda: texts(combo)["HuggingFaceTB/SmolVLM2-2.2B-Instruct"]
                    == "SmolVLM2 2.2B", timeout=30_000)
    combo.hidePopup()
    panel.shutdown()


def test_the_generator_list_too_and_a_demo_not_built_says_how_to_build_it(
        qtbot, models_here, project, tmp_path):
    from studio.core.prompts import TemplateStore
    from studio.ui.model_availability import model_availability
    from studio.ui.prompt_panel import PromptPanel

    availability = model_availability()
    with qtbot.waitSignal(availability.changed, timeout=30_000):
        availability.refresh()
    panel = PromptPanel(ProjectModel(project), template_store=TemplateStore(tmp_path / "t.json"))
    qtbot.addWidget(panel)
    shown = texts(panel.model)
    assert shown["demo/ltx-video-tiny"].endswith("— not built")
    index = panel.model.findData("demo/ltx-video-tiny")
    assert panel.model.itemData(index, Qt.ItemDataRole.ToolTipRole) == \
        "Not built yet: studio models make-demo"
    assert shown[registry.DEFAULT_GENERATOR].endswith("— not downloaded")


def test_the_panels_default_to_models_on_this_computer_and_say_so(qtbot, models_here, tmp_path,
                                                                  tiny_ltx_dir):
    """Issue 16: after `studio models make-demo` the Caption and Generate panels still
    defaulted to models "— not downloaded"."""
    from studio.core.library import Project
    from studio.inference.loading import demo_root
    from studio.ui.main_window import MainWindow
    from studio.ui.model_availability import model_availability

    shutil.copytree(tiny_ltx_dir, demo_root() / "ltx-video-tiny")
    availability = model_availability()
    project = Project(tmp_path / "project")
    window = MainWindow(project)
    qtbot.addWidget(window)
    try:
        window.show()
        qtbot.waitExposed(window)
        combo = window.captions.model_combo
        with qtbot.waitSignal(availability.changed, timeout=30_000):
            availability.refresh()
        qtbot.waitUntil(lambda: window.captions.model == "demo/smolvlm2-tiny", timeout=30_000)
        assert "on this computer" in combo.toolTip()
        assert "SmolVLM2 256M" in combo.toolTip() and "is not here" in combo.toolTip()
        window.generate_dock.show()  # built after the look: it takes the demo generator
        prompt = window.prompt_panel
        assert prompt.model.currentData() == "demo/ltx-video-tiny"
        assert "Demo LTX-Video" in window.statusBar().currentMessage()
        assert "the only kind on this computer" in window.statusBar().currentMessage()
        # a person's choice stays: the list's own pick of a model that is not here
        index = combo.findData(registry.DEFAULT_CAPTIONER)
        combo.setCurrentIndex(index)
        combo.activated.emit(index)
        with qtbot.waitSignal(availability.changed, timeout=30_000):
            availability.refresh()
        assert window.captions.model == registry.DEFAULT_CAPTIONER
    finally:
        window.close()
        project.close()
