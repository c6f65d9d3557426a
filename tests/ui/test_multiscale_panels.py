"""Multi-scale in the Generate and Preview panels: the "Multi-scale" box of the Advanced
section (only for a model with the recipe, in a mode that follows it), the passes named on the
cost line before the run, the setting kept in the project's panel state and given back by
Restore settings, and "step n/N of pass k/2" in the preview while a two-pass run goes, from
the manager's own signals and from a real two-pass generation of the tiny default model (in an
offline hub cache with its upsampler, as tests/inference/test_multiscale.py lays it out)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QObject, Slot

from studio.core.params import GenerationParams, rules_for
from studio.inference import registry
from studio.ui.project_model import ProjectModel
from tests.inference.test_loading import offline  # noqa: F401 (fixture)
from tests.inference.test_multiscale import with_upsampler  # noqa: F401 (fixture)
from tests.inference.test_single_file import (  # noqa: F401 (fixtures)
    checkpoint_file,
    pulled,
    reference,
    reference_dir,
)

DEFAULT = registry.DEFAULT_GENERATOR
ONE_PASS_MODELS = ("demo/ltx-video-tiny", "Lightricks/LTX-Video-0.9.5")
SMALL = dict(prompt="a red car on a street at night", negative_prompt="", width=96, height=64,
             num_frames=9, steps=8, guidance_scale=1.0, seed=77, seed_locked=True)


@pytest.fixture
def panels(qtbot, panels):
    """tests/ui/conftest.py's panels, the Generate panel shown at a dock's size."""
    prompt, _preview = panels
    prompt.resize(440, 900)
    prompt.show()
    qtbot.waitExposed(prompt)
    return panels


def _expanded(prompt) -> None:
    if not prompt.advanced_toggle.isChecked():
        prompt.advanced_toggle.click()


def test_the_multiscale_box_is_there_only_for_models_with_the_recipe(panels):
    prompt, _ = panels
    assert rules_for(DEFAULT).multiscale is not None
    assert prompt.current_model() == DEFAULT  # the panel starts on the default model
    _expanded(prompt)
    box = prompt.multiscale
    assert box.text() == "Multi-scale (two passes with the latent upsampler)"
    assert box.isVisible() and box.isEnabled() and box.isChecked()  # the recipe by default
    assert prompt.params().multiscale is True

    for model in ONE_PASS_MODELS:
        assert rules_for(model).multiscale is None
        prompt.apply_params(GenerationParams.defaults(model, prompt="a fox"))
        assert prompt.current_model() == model
        assert not box.isVisible() and not box.isEnabled(), model

    prompt.apply_params(GenerationParams.defaults(DEFAULT, prompt="a fox"))
    assert box.isVisible() and box.isEnabled()
    prompt.mode.setCurrentIndex(prompt.mode.findData("v2v"))  # one pass over the source
    assert not box.isVisible() and not box.isEnabled()
    prompt.mode.setCurrentIndex(prompt.mode.findData("t2v"))
    assert box.isVisible() and box.isEnabled()

    prompt.advanced_toggle.click()  # folded: the row folds with the rest of Advanced
    assert not box.isVisible()


def test_unchecking_runs_one_pass_and_the_panel_says_so(qtbot, panels):
    prompt, _ = panels
    prompt.apply_params(GenerationParams.defaults(DEFAULT, prompt="a fox"))  # 768x512
    cost = prompt.cost_label.text()
    assert cost.startswith("2 passes: 512×320 (8 steps), then 1024×640 (upsampled, 4 steps), "
                           "shown at 768×512\n")
    assert "Latent 128×16×20×32 · N = 10,240 tokens" in cost  # the refine pass's latent
    assert "multi-scale" not in prompt.advanced_summary.text()

    _expanded(prompt)
    prompt.multiscale.click()
    assert prompt.params().multiscale is False
    qtbot.waitUntil(lambda: not prompt.cost_label.text().startswith("2 passes"))
    assert prompt.cost_label.text().startswith("Latent 128×16×16×24 · N = 6,144 tokens")
    prompt.advanced_toggle.click()  # folded, the summary says what is off
    assert prompt.advanced_summary.text().startswith("multi-scale off · offload automatic")
    # what Generate queues (the queue paused: nothing runs here): one pass
    prompt.queue.set_paused(True)
    job = prompt.generate()
    assert job is not None and prompt.queue.params_of(job).multiscale is False
    prompt.cancel()
    assert prompt.job_id is None
    prompt.queue.set_paused(False)

    # video to video is one pass whatever the box says: no passes line, no "off"
    prompt.multiscale.setChecked(True)
    prompt.apply_params(GenerationParams.defaults(DEFAULT, prompt="a fox", multiscale=False,
                                                  mode="v2v"))
    assert "multi-scale" not in prompt.advanced_summary.text()


def test_multiscale_is_kept_with_the_panels_fields(qtbot, panels, project, tmp_path):
    from studio.core.library import Project
    from studio.core.prompts import TemplateStore
    from studio.ui.prompt_panel import PromptPanel

    prompt, _ = panels
    prompt.apply_params(GenerationParams.defaults(DEFAULT, prompt="a paper boat"))
    _expanded(prompt)
    prompt.multiscale.click()
    prompt.save_state()
    assert project.panel_state("generate")["multiscale"] is False

    with Project(project.root) as again:  # the next session
        fresh = PromptPanel(ProjectModel(again), template_store=TemplateStore(tmp_path / "t.json"))
        qtbot.addWidget(fresh)
        assert not fresh.multiscale.isChecked()
        assert fresh.params().multiscale is False and fresh.params().prompt == "a paper boat"
        assert fresh.advanced_summary.text().startswith("multi-scale off")
        fresh.multiscale.setChecked(True)
        fresh.save_state()
        assert again.panel_state("generate")["multiscale"] is True

    # Restore settings of a one-pass generation unchecks it; of a two-pass one checks it
    prompt.multiscale.setChecked(True)
    prompt.restore(GenerationParams.defaults(DEFAULT, prompt="x", seed=3, multiscale=False))
    assert not prompt.multiscale.isChecked() and prompt.params().multiscale is False
    prompt.restore(GenerationParams.defaults(DEFAULT, prompt="x", seed=3))
    assert prompt.multiscale.isChecked() and prompt.params().multiscale is True


def test_the_preview_says_which_pass_from_its_runs_signals(qtbot, manager):
    """The signals as a run's handle sends them for a two-pass run (8 + 4 steps), then a
    one-pass run: "step n/N of pass k/2" counts within the pass; one pass keeps "step n/N";
    another job's signals change nothing; a cancelled run leaves no pass text behind."""
    from studio.ui.model_manager import JobHandle
    from studio.ui.preview_panel import PreviewPanel

    preview = PreviewPanel()
    qtbot.addWidget(preview)
    try:
        job, other = 9_001, 9_002
        run, another = JobHandle(job, manager), JobHandle(other, manager)
        preview.track(job, GenerationParams.defaults(DEFAULT, prompt="a fox"), run)
        assert preview.progress.maximum() == 12  # both passes' steps from the start
        run.progress.emit(job, 0, 12, -1.0)
        assert preview.progress.text() == "step 0/12"
        run.pass_started.emit(job, 1, 2, 0, 8)
        run.progress.emit(job, 3, 12, 9.0)
        assert preview.progress.text() == "step 3/8 of pass 1/2"
        another.pass_started.emit(other, 2, 2, 8, 4)  # not the panel's job
        another.progress.emit(other, 9, 12, 1.0)
        assert preview.progress.text() == "step 3/8 of pass 1/2"
        run.progress.emit(job, 8, 12, 4.0)
        assert preview.progress.text() == "step 8/8 of pass 1/2"
        run.pass_started.emit(job, 2, 2, 8, 4)
        assert preview.progress.text() == "step 0/4 of pass 2/2"
        run.progress.emit(job, 10, 12, 2.0)
        assert preview.progress.text() == "step 2/4 of pass 2/2"
        assert preview.progress.value() == 10  # the bar fills over both passes
        run.cancelled.emit(job)
        assert preview.status.text().startswith("Cancelled")
        assert "pass" not in preview.progress.text()

        one = 9_003  # a one-pass run, as today
        single = JobHandle(one, manager)
        preview.track(one, GenerationParams.defaults(DEFAULT, prompt="a fox", multiscale=False),
                      single)
        assert preview.progress.text() == "step 0/8"
        single.pass_started.emit(one, 1, 1, 0, 8)
        single.progress.emit(one, 5, 8, 3.0)
        assert preview.progress.text() == "step 5/8"
    finally:
        preview.shutdown()


class _StepTexts(QObject):
    """Connected to the manager's progress after the preview: reads the preview's bar text as
    each step lands (a bound slot in the GUI thread, as DESIGN.md's threading rules ask)."""

    def __init__(self, preview):
        super().__init__()
        self.preview, self.texts = preview, []

    @Slot(int, int, int, float)
    def step(self, job_id: int, _done: int, _total: int, _eta: float) -> None:
        if job_id == self.preview._job_id:
            self.texts.append(self.preview.progress.text())


def test_a_real_two_pass_run_shows_its_passes(qtbot, panels, with_upsampler):  # noqa: F811
    prompt, preview = panels
    recorder = _StepTexts(preview)
    prompt.manager.progress.connect(recorder.step)
    try:
        prompt.apply_params(GenerationParams(model=DEFAULT, **SMALL))
        assert prompt.cost_label.text().startswith(
            "2 passes: 64×32 (8 steps), then 128×64 (upsampled, 4 steps), shown at 96×64")
        with qtbot.waitSignal(prompt.manager.job_finished, timeout=120_000) as finished:
            assert prompt.generate() is not None
        result = finished.args[1]
        qtbot.waitUntil(lambda: preview.result is result and prompt.job_id is None)
        assert recorder.texts == (["step 0/12"]
                                  + [f"step {n}/8 of pass 1/2" for n in range(1, 9)]
                                  + [f"step {n}/4 of pass 2/2" for n in range(1, 5)])
        assert preview.progress.text() == "step 12/12"  # over: no pass text left
        assert result.params["multiscale"] is True and len(result.record["calls"]) == 3

        # unchecked: one pass, "step n/N" as before; Restore settings gives it back unchecked
        _expanded(prompt)
        prompt.multiscale.click()
        recorder.texts.clear()
        with qtbot.waitSignal(prompt.manager.job_finished, timeout=120_000) as finished:
            assert prompt.generate() is not None
        result = finished.args[1]
        qtbot.waitUntil(lambda: preview.result is result and prompt.job_id is None)
        assert recorder.texts == [f"step {n}/8" for n in range(0, 9)]
        assert result.params["multiscale"] is False and len(result.record["calls"]) == 1
        prompt.multiscale.setChecked(True)
        preview.restore_button.click()
        assert not prompt.multiscale.isChecked() and prompt.params().multiscale is False
    finally:
        prompt.manager.progress.disconnect(recorder.step)
