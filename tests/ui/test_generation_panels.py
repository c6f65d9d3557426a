"""The prompt and preview panels with the real engine: live conform changes and field errors,
a real generation through the ModelManager (the tiny demo LTX-Video, 32x32, 9 frames, 2 steps)
whose progress, previews and result reach the preview panel, cancel mid-run, Restore
settings, and Prompt from caption."""

from __future__ import annotations

from pathlib import Path

from studio.core.params import GenerationParams
from studio.ui.project_model import ProjectModel

TINY = dict(width=32, height=32, num_frames=9, steps=2, guidance_scale=1.0, negative_prompt="",
            seed=77, seed_locked=True)


def fill(panel, model, **changes):
    values = dict(model=str(model), prompt="a red ball bouncing", **TINY)
    values.update(changes)
    panel.apply_params(GenerationParams(**values))


def test_the_prompt_and_settings_come_back_in_the_next_session(qtbot, panels, project,
                                                              tiny_ltx, tmp_path):
    """The Generate panel started empty each session: a prompt being written was lost by
    closing Studio. Its fields are now kept in the project as they change."""
    from studio.core.library import Project
    from studio.core.prompts import TemplateStore
    from studio.ui.prompt_panel import PromptPanel

    prompt, _ = panels
    fill(prompt, tiny_ltx, steps=3, seed=42, seed_locked=True)
    prompt.prompt.setPlainText("a paper boat drifting on a still pond, soft mist")
    qtbot.waitUntil(lambda: (project.panel_state("generate") or {}).get("prompt")
                    == "a paper boat drifting on a still pond, soft mist", timeout=5000)
    typed_last = "a paper boat drifting on a still pond, soft mist, dawn"
    prompt.prompt.setPlainText(typed_last)
    prompt.save_state()  # what the window's shutdown does: the last keys, without waiting
    assert project.panel_state("generate")["prompt"] == typed_last

    with Project(project.root) as again:  # the next session
        fresh = PromptPanel(ProjectModel(again), template_store=TemplateStore(tmp_path / "t.json"))
        qtbot.addWidget(fresh)
        p = fresh.params()
        assert (p.prompt, p.model, p.steps, p.seed, p.seed_locked) == \
            (typed_last, str(tiny_ltx), 3, 42, True)
        fresh.save_state()


def test_a_new_session_shows_the_last_generation(qtbot, project, tmp_path):
    """The Preview said "No generation yet" in every new session, beside a project full of
    them; it now shows the last one still on disk, paused, with Restore settings."""
    from studio.core.library import Project
    from studio.core.media import probe
    from studio.ui.preview_panel import PreviewPanel
    from tests.media_factory import make_video

    made = []
    for name, seed in (("first.mp4", 7), ("second.mp4", 8), ("gone.mp4", 9)):
        path = make_video(tmp_path / name, width=32, height=32, frames=9, fps=24)
        params = GenerationParams(model="demo/ltx-video-tiny", prompt=f"a boat {seed}",
                                  **{**TINY, "seed": seed}).to_dict()
        made.append(project.add_generation(path, params, info=probe(path)))
    Path(made[-1].path).unlink()  # the newest is gone from disk: the one before is shown

    empty = PreviewPanel(project=Project(tmp_path / "empty project"))
    qtbot.addWidget(empty)
    assert empty.status.text().startswith("No generation yet")
    assert empty.progress.isHidden()  # no "step 0/100" before anything runs
    empty.shutdown()
    empty.project.close()

    preview = PreviewPanel(project=project)
    qtbot.addWidget(preview)
    try:
        # made by the demo model: labelled so (issue 16)
        assert preview.status.text() == \
            "⚠ demo model: random weights · Last generation: second.mp4 · seed 8"
        assert preview.result_player.path == made[1].path
        assert not preview.result_player.is_playing and preview.progress.isHidden()
        params = preview.restore_settings()
        assert params is not None and params.prompt == "a boat 8" and params.seed == 8
    finally:
        preview.shutdown()


def test_conform_changes_are_shown_before_the_run(panels, tiny_ltx):
    prompt, _ = panels
    fill(prompt, tiny_ltx, num_frames=10, width=40)
    text = prompt.changes_label.text()
    assert "num_frames 10 → 9" in text and "4k+1" in text
    assert "width 40 → 32" in text
    assert prompt.error is None and prompt.generate_button.isEnabled()
    assert "N = " in prompt.cost_label.text() and "Latent 8×3×8×8" in prompt.cost_label.text()
    assert prompt.duration.text() == "= 0.38 s (9 frames)"  # as conformed, at 24 fps
    fill(prompt, tiny_ltx)
    assert prompt.changes_label.text() == ""


def test_a_field_error_names_the_field_and_disables_generate(qtbot, panels, tiny_ltx):
    prompt, _ = panels
    fill(prompt, tiny_ltx, steps=0)
    assert prompt.error_label.text().startswith("steps:")
    assert not prompt.generate_button.isEnabled()
    assert prompt.generate() is None
    prompt.steps.setValue(2)
    qtbot.waitUntil(lambda: prompt.generate_button.isEnabled())
    # No prompt yet is not a mistake: a hint (the Generate dock opened on "prompt: the
    # prompt is empty" in red), and Generate waits for one.
    prompt.prompt.setPlainText("   ")
    qtbot.waitUntil(lambda: prompt.error is not None and prompt.error.field == "prompt")
    assert prompt.error_label.text() == "" and prompt.error_label.isHidden()
    assert prompt.cost_label.text() == "Write a prompt to generate."
    assert not prompt.generate_button.isEnabled()


def test_generate_runs_a_real_job_and_the_preview_plays_the_result(qtbot, panels, tiny_ltx,
                                                                   project):
    prompt, preview = panels
    fill(prompt, tiny_ltx)
    with qtbot.waitSignal(prompt.manager.job_finished, timeout=120_000) as finished:
        job_id = prompt.generate()
        assert job_id is not None and prompt.cancel_button.isEnabled()
        assert prompt.generate_button.isEnabled()  # more can be queued meanwhile
        assert project.job(job_id).state in ("queued", "running")
    result = finished.args[1]
    # each receiver gets the worker's signal as its own queued event: wait for the panels'
    qtbot.waitUntil(lambda: preview.result is result and prompt.job_id is None)
    assert project.job(job_id).state == "done"
    assert preview.progress_log and preview.progress_log[-1] == (2, 2)
    assert preview.progress.value() == 2
    assert preview.result is result and Path(result.output).is_file()
    assert result.seed == 77 and prompt.seed_used.text() == "Seed used: 77"
    assert prompt.generate_button.isEnabled() and not prompt.cancel_button.isEnabled()
    gen = project.generation(result.generation_id)  # recorded in the project
    assert Path(gen.path) == Path(result.output) and gen.prompt == "a red ball bouncing"
    assert gen.job_id == job_id
    assert f"generation #{result.generation_id}" in preview.record_label.text()
    # the result loops in the preview's player: frames get painted, past the last one
    player = preview.result_player
    assert player.is_playing and player.loop
    qtbot.waitUntil(lambda: player.displayed_index is not None, timeout=10_000)
    image = player.displayed_image
    assert image is not None and (image.width(), image.height()) == (32, 32)
    preview.grab().save("/tmp/generate_preview_panel.png")
    preview.track(10_000, None)  # the next run: the hidden result stops decoding
    assert not player.is_playing


def test_previews_arrive_and_loop(qtbot, panels, tiny_ltx):
    prompt, preview = panels
    fill(prompt, tiny_ltx, steps=3)
    prompt.queue.preview_every = 1
    seen = []
    prompt.manager.preview.connect(lambda j, s, f: seen.append(s))
    with qtbot.waitSignal(prompt.manager.job_finished, timeout=120_000):
        prompt.generate()
    assert seen and preview.preview_step == seen[-1]
    assert preview.preview_frames and preview.preview_frames[0].width() > 0


def test_cancel_mid_run(qtbot, panels, tiny_ltx, monkeypatch):
    prompt, preview = panels
    fill(prompt, tiny_ltx, steps=50)
    with qtbot.waitSignal(prompt.manager.job_cancelled, timeout=120_000):
        with qtbot.waitSignal(prompt.manager.progress, timeout=120_000):
            prompt.generate()
        prompt.cancel_button.click()
    qtbot.waitUntil(lambda: prompt.job_id is None
                    and preview.status.text().startswith("Cancelled"))
    assert prompt.generate_button.isEnabled()
    assert "(cancelled)" in prompt.seed_used.text()
    assert preview.status.text().startswith("Cancelled")
    assert preview.progress_log[-1][0] < 50


def test_restore_settings_refills_the_panel(qtbot, panels, tiny_ltx):
    prompt, preview = panels
    fill(prompt, tiny_ltx, seed=None, seed_locked=False, num_frames=13, steps=2)
    with qtbot.waitSignal(prompt.manager.job_finished, timeout=120_000) as finished:
        prompt.generate()
    seed = finished.args[1].seed
    qtbot.waitUntil(lambda: preview.result is finished.args[1])
    fill(prompt, tiny_ltx, prompt="something else", num_frames=5, seed=None, seed_locked=False)
    preview.restore_button.click()
    p = prompt.params()
    assert p.prompt == "a red ball bouncing" and p.num_frames == 13
    assert p.seed == seed and p.seed_locked  # the same seed makes the same video again
    assert p.model == str(tiny_ltx)


def test_prompt_from_caption(panels, project, tiny_ltx, tmp_path):
    from tests.media_factory import make_video

    prompt, _ = panels
    fill(prompt, tiny_ltx)
    assert not prompt.prompt_from_caption()  # nothing selected
    assert "captioned clip" in prompt.error_label.text()
    clip, _ = project.import_file(make_video(tmp_path / "walk.mp4", frames=5))
    project.add_caption(clip.id, "a woman walks along a beach at sunset", source="edit")
    prompt.selected.append(project.clip(clip.id))
    prompt.template.setCurrentIndex(prompt.template.findData("camera-quality"))
    assert prompt.prompt_from_caption()
    text = prompt.prompt.toPlainText()
    assert text.startswith("a woman walks along a beach at sunset. The camera holds")
    p = prompt.params()
    assert p.caption == "a woman walks along a beach at sunset"
    assert p.template_id == "camera-quality" and p.source_clip_id == clip.id


def test_the_window_docks_the_panels_and_generates(qtbot, project, tiny_ltx, tmp_path):
    from studio.ui.main_window import MainWindow
    from studio.ui.model_manager import ModelManager
    window = MainWindow(project, model_manager=ModelManager(device="cpu", freeze_heap=False))
    qtbot.addWidget(window)
    try:
        window.resize(1280, 800)
        window.show()
        qtbot.waitExposed(window)
        assert window._prompt_panel is None  # built when first shown
        window.generate_dock.toggleViewAction().trigger()
        prompt = window.prompt_panel
        assert window.generate_dock.widget() is prompt and prompt.isVisible()
        fill(prompt, tiny_ltx, prompt="a paper boat drifting on a pond", num_frames=10)
        with qtbot.waitSignal(window.model_manager.job_finished, timeout=120_000):
            prompt.generate()
        assert window.generation_preview_dock.isVisible()
        # The Preview dock, shown by the run, leaves the clip player most of the column (its
        # size hint took 550 px of 800 and left the player 170).
        qtbot.waitUntil(lambda: window.player.height() > window.generation_preview_dock.height(),
                        timeout=5000)
        player = window.preview_panel.result_player
        qtbot.waitUntil(lambda: player.displayed_index is not None, timeout=10_000)
        window.resize(1400, 900)
        fill(prompt, tiny_ltx, prompt="a paper boat drifting on a pond", num_frames=10)
        window.grab().save("/tmp/generate.png")
    finally:
        window.close()


def test_size_presets_follow_the_model_and_set_the_size(panels, tiny_ltx):
    prompt, _ = panels
    fill(prompt, tiny_ltx)
    assert prompt.size_preset.currentText() == "32×32"
    prompt.size_preset.setCurrentIndex(prompt.size_preset.findText("96×64"))
    assert (prompt.width_spin.value(), prompt.height_spin.value()) == (96, 64)
    prompt.width_spin.setValue(100)
    assert prompt.size_preset.currentText() == "Custom"


def test_video_to_video_from_the_selected_clip_shows_its_source(qtbot, panels, project,
                                                                 tiny_ltx, tmp_path):
    from tests.media_factory import make_video

    prompt, preview = panels
    fill(prompt, tiny_ltx)
    prompt.mode.setCurrentIndex(prompt.mode.findData("v2v"))
    prompt.revalidate()
    assert prompt.error is not None and prompt.error.field == "source_path"
    assert not prompt.generate_button.isEnabled()
    clip, _ = project.import_file(make_video(tmp_path / "src.mp4", frames=20, width=48,
                                             height=40))
    clip = project.set_in_out(clip.id, 2, 12)
    prompt.selected.append(clip)
    prompt.strength.setValue(0.5)
    prompt.revalidate()
    assert prompt.error is None and "frames 2..12" in prompt.source_label.text()
    with qtbot.waitSignal(prompt.manager.job_finished, timeout=120_000) as finished:
        prompt.generate()
    params = finished.args[1].params
    qtbot.waitUntil(lambda: preview.result is finished.args[1])
    assert params["mode"] == "v2v" and params["source_path"] == clip.path
    assert (params["source_in_frame"], params["source_out_frame"]) == (2, 12)
    assert params["denoise_strength"] == 0.5
    assert not preview.source_player.isHidden()  # the source loops beside the result
    assert preview.source_title.text() == "Source: src.mp4, frames 2–12"
    assert preview.result_title.isVisibleTo(preview)


def test_an_extended_clip_loops_beside_its_extension(qtbot, panels, project, tiny_ltx,
                                                     tmp_path):
    from tests.media_factory import make_video

    prompt, preview = panels
    fill(prompt, tiny_ltx)
    clip, _ = project.import_file(make_video(tmp_path / "walk.mp4", frames=20, width=32,
                                             height=32))
    clip = project.set_in_out(clip.id, 4, 15)
    prompt.selected.append(clip)
    prompt.mode.setCurrentIndex(prompt.mode.findData("extend"))
    prompt.revalidate()
    assert prompt.error is None, prompt.error
    with qtbot.waitSignal(prompt.manager.job_finished, timeout=120_000) as finished:
        prompt.generate()
    qtbot.waitUntil(lambda: preview.result is finished.args[1])
    params = finished.args[1].params
    assert params["mode"] == "extend" and params["source_clip_id"] == clip.id
    source = preview.source_player
    assert not source.isHidden() and source.clip_id == clip.id  # it was hidden for extend
    assert preview.source_title.text() == "Extended: walk.mp4, frames 4–15"


def test_image_to_video_from_the_players_frame(qtbot, project, manager, tiny_ltx, tmp_path):
    from studio.core.prompts import TemplateStore
    from studio.ui.player import PlayerPanel
    from studio.ui.prompt_panel import PromptPanel
    from tests.media_factory import make_video

    player = PlayerPanel()
    qtbot.addWidget(player)
    path = make_video(tmp_path / "frame.mp4", frames=6, width=48, height=40)
    player.set_clip(1, str(path), 6, 24.0)
    qtbot.waitUntil(lambda: player.displayed_index is not None, timeout=10_000)
    prompt = PromptPanel(ProjectModel(project), manager=manager, player=player,
                         template_store=TemplateStore(tmp_path / "t.json"))
    qtbot.addWidget(prompt)
    try:
        fill(prompt, tiny_ltx)
        prompt.mode.setCurrentIndex(prompt.mode.findData("i2v"))
        prompt.revalidate()
        assert prompt.error is None, prompt.error
        with qtbot.waitSignal(manager.job_finished, timeout=120_000) as finished:
            prompt.generate()
        params = finished.args[1].params
        assert params["mode"] == "i2v" and params["image_frame"] == 0
        assert params["image_path"] == str(path)
        # restored later, with the player elsewhere: the same frame of the same file
        player.seek(3)
        qtbot.waitUntil(lambda: player.displayed_index == 3, timeout=10_000)
        prompt.restore(GenerationParams.from_dict(params))
        again = prompt.params()
        assert (again.image_path, again.image_frame) == (str(path), 0)
        assert prompt.source_label.text() == "Frame 0 of frame.mp4"
    finally:
        player.shutdown()


def test_the_folded_advanced_summary_shows_whole_in_a_narrow_panel(qtbot, panels, tiny_ltx):
    """At the Generate dock's width beside the player the summary was cut off mid-value
    ("offload automatic · tiling automatic · decode 0."); it wraps instead."""
    from PySide6.QtCore import QRect, Qt

    prompt, _ = panels
    fill(prompt, tiny_ltx)
    prompt.resize(340, 900)
    prompt.show()
    qtbot.waitExposed(prompt)
    label = prompt.advanced_summary
    assert label.text().endswith("decode 0.05 / 0.025")

    def needed_height() -> int:
        return label.fontMetrics().boundingRect(
            QRect(0, 0, label.width(), 10_000), int(Qt.TextFlag.TextWordWrap),
            label.text()).height()

    qtbot.waitUntil(lambda: label.width() > 0 and label.height() >= needed_height(),
                    timeout=5000)
    assert needed_height() > label.fontMetrics().height()  # it does take two lines here


def test_the_advanced_section_folds_and_its_fields_are_settings(qtbot, panels, tiny_ltx):
    prompt, _ = panels
    prompt.resize(460, 900)
    prompt.show()
    qtbot.waitExposed(prompt)
    fill(prompt, tiny_ltx)
    rows = (prompt.offload, prompt.vae_tiling, prompt.decode_timestep, prompt.decode_noise_scale)
    assert not prompt.advanced_toggle.isChecked()  # folded: the panel stays compact
    assert not any(w.isVisible() for w in rows)
    assert prompt.advanced_summary.text() == \
        "offload automatic · tiling automatic · decode 0.05 / 0.025"
    prompt.advanced_toggle.click()
    assert all(w.isVisible() for w in rows) and not prompt.advanced_summary.isVisible()
    p = prompt.params()
    assert (p.offload, p.vae_tiling, p.decode_timestep, p.decode_noise_scale) == \
        (None, None, 0.05, 0.025)  # automatic, and the model's decode defaults

    prompt.offload.setCurrentIndex(prompt.offload.findText("Model CPU offload"))
    prompt.vae_tiling.setCurrentIndex(prompt.vae_tiling.findText("On"))
    prompt.decode_timestep.setValue(0.07)
    prompt.decode_noise_scale.setValue(0.03)
    p = prompt.params()
    assert (p.offload, p.vae_tiling, p.decode_timestep, p.decode_noise_scale) == \
        ("model", True, 0.07, 0.03)
    prompt.vae_tiling.setCurrentIndex(prompt.vae_tiling.findText("Off"))
    assert prompt.params().vae_tiling is False
    prompt.revalidate()
    assert prompt.cost_label.text().endswith("with model CPU offload, no tiling (estimate)")
    prompt.layout().activate()  # the cost line's new height, before the grab
    prompt.grab().save("/tmp/prompt_panel_advanced.png")

    # a restore refills them, exactly (a value finer than the spin box shows is kept)
    fill(prompt, tiny_ltx, offload="sequential", vae_tiling=True, decode_timestep=0.0375,
         decode_noise_scale=0.0)
    assert prompt.offload.currentText() == "Sequential CPU offload"
    assert prompt.vae_tiling.currentText() == "On"
    p = prompt.params()
    assert (p.offload, p.vae_tiling, p.decode_timestep, p.decode_noise_scale) == \
        ("sequential", True, 0.0375, 0.0)
    prompt.decode_timestep.setValue(0.04)  # edited: the new value
    assert prompt.params().decode_timestep == 0.04
    prompt.restore(GenerationParams(model=str(tiny_ltx), prompt="x", offload="none",
                                    vae_tiling=False, seed=3))
    assert (prompt.offload.currentText(), prompt.vae_tiling.currentText()) == ("Off", "Off")
    assert prompt.params().offload == "none"


def test_decode_fields_only_for_models_that_use_them(panels):
    prompt, _ = panels
    prompt.apply_params(GenerationParams.defaults("wan-1.3b", prompt="a fox"))
    assert not prompt.decode_timestep.isEnabled() and not prompt.decode_noise_scale.isEnabled()
    assert "does not use it" in prompt.decode_timestep.toolTip()
    assert "decode" not in prompt.advanced_summary.text()
    assert prompt.offload.isEnabled() and prompt.vae_tiling.isEnabled()
    prompt.apply_params(GenerationParams.defaults(prompt="a fox"))  # LTX-Video 2B distilled
    assert prompt.decode_timestep.isEnabled() and prompt.decode_noise_scale.isEnabled()
    assert (prompt.decode_timestep.value(), prompt.decode_noise_scale.value()) == (0.05, 0.025)


def test_the_cost_line_follows_the_memory_settings(qtbot, panels):
    from studio.core import params as P

    prompt, _ = panels
    # LTX-Video 2B distilled (0.9.8) at 768x512x121 (bf16), its two passes by default: the
    # passes' sizes, the refine pass's latent, 21.2 GB on the GPU, 3.8 GB at the most frugal
    prompt.apply_params(GenerationParams.defaults(prompt="a fox"))
    text = prompt.cost_label.text()
    assert text.startswith("2 passes: 512×320 (8 steps), then 1024×640 (upsampled, 4 steps), "
                           "shown at 768×512\n")
    assert "Latent 128×16×20×32 · N = 10,240 tokens" in text
    assert "peak memory ≈ 21.2 GB, 3.8 GB with sequential CPU offload, VAE tiling" in text
    # one pass at full size: 18.7 GB on the GPU, 3.4 GB at the most frugal (sequential
    # offload and tiling), 9.5 GB with model offload and tiling
    prompt.apply_params(GenerationParams.defaults(prompt="a fox", multiscale=False))
    text = prompt.cost_label.text()
    assert text.startswith("Latent 128×16×16×24 · N = 6,144 tokens")
    assert "peak memory ≈ 18.7 GB, 3.4 GB with sequential CPU offload, VAE tiling" in text
    assert "automatic" in text
    prompt.offload.setCurrentIndex(prompt.offload.findData("model"))
    prompt.vae_tiling.setCurrentIndex(prompt.vae_tiling.findData(True))
    qtbot.waitUntil(lambda: "9.5 GB" in prompt.cost_label.text())
    assert prompt.cost_label.text().endswith(
        "peak memory ≈ 9.5 GB with model CPU offload, VAE tiling (estimate)")
    assert P.cost(prompt.conformed.params).peak_memory_estimate_gb == 9.47
    prompt.offload.setCurrentIndex(prompt.offload.findData("none"))  # tiling stays on
    qtbot.waitUntil(lambda: "17.8 GB" in prompt.cost_label.text())
    assert "with no offload, VAE tiling (estimate)" in prompt.cost_label.text()


def test_vae_tiling_from_the_panel_reaches_the_run_and_its_record(qtbot, panels, tiny_ltx):
    prompt, _ = panels
    fill(prompt, tiny_ltx, vae_tiling=True)
    with qtbot.waitSignal(prompt.manager.job_finished, timeout=120_000) as finished:
        prompt.generate()
    result = finished.args[1]
    assert result.params["vae_tiling"] is True
    assert result.record["memory"]["vae_tiling"] is True
    assert result.record["memory"]["automatic"] is False  # a CPU: nothing is automatic
    qtbot.waitUntil(lambda: prompt.job_id is None)
