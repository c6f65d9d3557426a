"""LTX-2 in the Generate panel (issue 17, item 2): the modes LTX-2 does, its two-stage recipe
behind the Multi-scale box, and "Enhance prompt", shown for LTX-2 models only, disabled with
the reason where the model cannot enhance, and reaching the pipeline call: a prompt made from
a caption, enhanced, runs through the queue and the model manager on the tiny LTX-2, and the
record's first call is the enhancement of that prompt."""

from __future__ import annotations

import pytest

from studio.core.enhancement import NEEDS_ENHANCER
from studio.core.params import GenerationParams
from studio.inference.demo_ltx2 import DEMO_LTX2_ID

SMALL = dict(prompt="a kettle whistles on a stove", negative_prompt="", num_frames=9, steps=2,
             guidance_scale=1.0, seed=21, seed_locked=True)


@pytest.fixture(scope="module")
def tiny_ltx2_folder(tmp_path_factory):
    """The tiny LTX-2 as `studio models make-demo` builds it (its processor and upsampler)."""
    from studio.inference.loading import make_demo_models

    return make_demo_models(tmp_path_factory.mktemp("models"), ids=[DEMO_LTX2_ID])[DEMO_LTX2_ID]


@pytest.fixture
def prompt(qtbot, panels):
    """tests/ui/conftest.py's Generate panel, shown at a dock's size."""
    panel, _preview = panels
    panel.resize(440, 900)
    panel.show()
    qtbot.waitExposed(panel)
    return panel


def _box_shown(panel) -> bool:
    return panel.enhance_prompt.isVisibleTo(panel)


def test_enhance_prompt_is_there_for_ltx2_models_only(prompt, tiny_ltx2_folder, tiny_ltx):
    prompt.apply_params(GenerationParams.defaults(str(tiny_ltx2_folder), **SMALL))
    box = prompt.enhance_prompt
    assert _box_shown(prompt) and box.isEnabled() and not box.isChecked()  # opt-in
    assert box.accessibleName() == "Enhance prompt"
    assert prompt.params().enhance_prompt is False
    box.click()
    assert prompt.params().enhance_prompt is True
    # another LTX-2 model keeps the choice; a model without enhancement has no box
    prompt.model.setCurrentIndex(prompt.model.findData("Lightricks/LTX-2"))
    assert _box_shown(prompt) and box.isChecked() and prompt.params().enhance_prompt
    for other in (str(tiny_ltx), "Lightricks/LTX-Video-0.9.5", "THUDM/CogVideoX-2b"):
        prompt.apply_params(GenerationParams.defaults(other, **SMALL, enhance_prompt=True))
        assert not _box_shown(prompt), other
        assert prompt.params().enhance_prompt is False, other


def test_a_model_that_cannot_enhance_shows_the_box_disabled_with_the_reason(prompt):
    prompt.apply_params(GenerationParams.defaults("Lightricks/LTX-2.5-Diffusers", **SMALL,
                                                  enhance_prompt=True))
    box = prompt.enhance_prompt
    assert _box_shown(prompt) and not box.isEnabled() and not box.isChecked()
    note = prompt.prompt_section.enhance_note
    assert note.isVisibleTo(prompt) and note.text() == f"Not available: {NEEDS_ENHANCER}."
    assert box.toolTip().startswith(f"Not available: {NEEDS_ENHANCER}")
    assert prompt.params().enhance_prompt is False


def test_ltx2_offers_its_modes_and_its_two_stages(qtbot, prompt):
    prompt.apply_params(GenerationParams.defaults(DEMO_LTX2_ID, **SMALL))
    modes = [prompt.mode.itemData(i) for i in range(prompt.mode.count())]
    assert modes == ["t2v", "i2v", "extend", "condition"]
    prompt.advanced_toggle.click()
    assert prompt.multiscale.isVisible() and prompt.multiscale.isChecked()
    assert prompt.multiscale.toolTip().startswith("The model's two-stage recipe: stage 1 at half")
    qtbot.waitUntil(lambda: prompt.cost_label.text().startswith(
        "2 passes: 32×32 (2 steps), then 64×64 (upsampled, 3 steps)\n"))
    prompt.multiscale.click()
    qtbot.waitUntil(lambda: not prompt.cost_label.text().startswith("2 passes"))
    assert prompt.params().multiscale is False


def test_an_enhanced_prompt_from_a_caption_reaches_the_pipeline_call(
        qtbot, prompt, project, manager, tiny_ltx2_folder, tmp_path):
    from tests.media_factory import make_video

    prompt.apply_params(GenerationParams.defaults(str(tiny_ltx2_folder), **SMALL))
    clip, _ = project.import_file(make_video(tmp_path / "kettle.mp4", frames=5))
    project.add_caption(clip.id, "steam rises from a kettle on a gas stove", source="edit")
    prompt.selected.append(project.clip(clip.id))
    assert prompt.prompt_from_caption()
    written = prompt.prompt.toPlainText()
    prompt.enhance_prompt.click()
    prompt.revalidate()
    assert prompt.error is None, prompt.error
    with qtbot.waitSignal(manager.job_finished, timeout=180_000) as finished:
        assert prompt.generate() is not None
    result = finished.args[1]
    assert result.params["enhance_prompt"] is True and result.params["prompt"] == written
    assert result.params["caption"] == "steam rises from a kettle on a gas stove"
    enhance, run = result.record["calls"]
    assert enhance["method"] == "enhance_prompt" and enhance["kwargs"]["prompt"] == written
    assert run["kwargs"]["prompt"] == enhance["output"][0] == result.record["enhanced_prompt"]
