"""No stale labels (issue 16): a line naming a job, seed or generation follows what became of
it. After a queued job was removed the Generate panel still said "Seed: … (job #4,
queued)" and Cancel stayed enabled; while a new job ran the Preview still said "Recorded in
the project as generation #1"; after a cancel it said "Waiting for the first preview…"."""

from __future__ import annotations

from types import SimpleNamespace

from tests.media_factory import make_video
from tests.ui.test_generation_panels import fill


def test_removing_the_queued_job_updates_the_seed_line_and_cancel(qtbot, panels, tiny_ltx):
    prompt, _preview = panels
    fill(prompt, tiny_ltx, seed=4242, seed_locked=True)
    prompt.queue.set_paused(True)  # the job waits in the queue
    job = prompt.generate()
    assert prompt.seed_used.text() == f"Seed: 4242 (job #{job}, queued)"
    assert prompt.cancel_button.isEnabled()
    prompt.queue.remove(job)  # the Queue dock's Remove
    assert prompt.seed_used.text() == f"Seed: 4242 (job #{job} removed)"
    assert not prompt.cancel_button.isEnabled() and prompt.job_id is None
    prompt.queue.set_paused(False)


def test_editing_a_job_that_is_removed_stops_the_edit(qtbot, panels, tiny_ltx):
    prompt, _preview = panels
    fill(prompt, tiny_ltx)
    prompt.queue.set_paused(True)
    job = prompt.generate()
    prompt.edit_job(job)
    assert prompt.generate_button.text() == f"Update job #{job}"
    prompt.queue.remove(job)
    assert prompt.editing is None and prompt.generate_button.text() == "Generate"
    assert f"#{job}" in prompt.seed_used.text() and "removed" in prompt.seed_used.text()
    prompt.queue.set_paused(False)


def _result(path, generation_id=1):
    return SimpleNamespace(output=str(path), frames=4, fps=24.0, params={"seed": 1}, seed=1,
                           seconds=1.0, generation_id=generation_id, register_error=None,
                           demo=False)


def test_a_new_run_clears_the_last_results_record_line(qtbot, panels, tmp_path):
    _prompt, preview = panels
    preview.show_result(_result(make_video(tmp_path / "gen1.mp4", frames=4)))
    assert "generation #1" in preview.record_label.text()
    assert preview.restore_button.isEnabled()
    preview.track(3, None)  # the next run starts
    assert "generation #1" not in preview.record_label.text()
    assert not preview.restore_button.isEnabled()  # the settings shown are not this run's


def test_a_cancelled_or_failed_run_does_not_keep_waiting_for_a_preview(qtbot, panels):
    _prompt, preview = panels
    preview.track(7, None)
    assert preview.preview_label.text() == "Waiting for the first preview…"
    preview.eta.setText("ETA 12 s")
    preview._on_cancelled(7)
    assert preview.preview_label.text() == "Cancelled: nothing was written"
    assert preview.eta.text() == ""
    preview.track(8, None)
    preview._on_failed(8, "out of memory")
    assert preview.preview_label.text().startswith("Generation failed")


def test_the_preview_labels_a_demo_result_where_it_shows_it(qtbot, panels, tmp_path):
    """Issue 16: the Preview's "Finished" line had no "demo model: random weights" label."""
    from types import SimpleNamespace

    from studio.inference.registry import DEMO_LABEL
    from tests.media_factory import make_video

    _prompt, preview = panels
    long_name = "a_generation_with_a_long_name_" * 4 + ".mp4"
    video = make_video(tmp_path / long_name, width=64, height=48, frames=4)
    result = SimpleNamespace(output=str(video), frames=4, fps=12.0, params={}, seed=7,
                             seconds=1.0, demo=True, generation_id=1, register_error=None)
    preview.resize(360, 400)
    preview.show()
    preview.show_result(result)
    assert preview.status.text().startswith(f"⚠ {DEMO_LABEL}")
    assert DEMO_LABEL in preview.status.shown_lines()[0]  # elided: the file name gives way
    preview.show_result(SimpleNamespace(**{**vars(result), "demo": False}))
    assert DEMO_LABEL not in preview.status.text()
