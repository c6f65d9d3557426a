"""The generation queue and its dock, with the real engine (the tiny demo LTX-Video, 32x32,
9 frames, 2 steps): jobs persist in the project's jobs table, run one at a time in queue order,
can be moved, edited before they start, duplicated with a new seed, cancelled, removed and
retried; a job that was running when Studio was killed comes back as interrupted."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from studio.core.params import GenerationParams
from studio.ui.project_model import ProjectModel

TINY = {"width": 32, "height": 32, "num_frames": 9, "steps": 2, "guidance_scale": 1.0,
        "negative_prompt": "", "seed_locked": True}


@pytest.fixture
def rig(qtbot, project, manager):
    from studio.ui.generation_queue import GenerationQueue
    from studio.ui.queue_panel import QueuePanel

    queue = GenerationQueue(ProjectModel(project), manager)
    panel = QueuePanel(queue)
    qtbot.addWidget(panel)
    started: list[int] = []  # engine ids, in the order the manager started them
    running_at_once = []
    manager.job_started.connect(lambda job_id, _d: started.append(job_id))
    queue.job_started.connect(lambda _q: running_at_once.append(
        sum(j.state == "running" for j in queue.jobs())))
    panel.started, panel.running_at_once = started, running_at_once
    yield queue, panel
    queue.set_paused(True)
    if queue.running_id is not None:
        queue.cancel_running()
        qtbot.waitUntil(lambda: queue.running_id is None, timeout=60_000)
    queue.deleteLater()


def params(model, prompt, seed, **changes) -> GenerationParams:
    return GenerationParams(model=str(model), prompt=prompt, seed=seed, **{**TINY, **changes})


def states(queue) -> dict[str, str]:
    return {j.params["prompt"]: j.state for j in queue.jobs()}


def test_jobs_run_one_at_a_time_in_queue_order_after_edits(qtbot, rig, tiny_ltx, project):
    queue, panel = rig
    queue.set_paused(True)
    a = queue.add(params(tiny_ltx, "a lighthouse", 1))
    b = queue.add(params(tiny_ltx, "a boat", 2))
    c = queue.add(params(tiny_ltx, "a gull", 3))
    assert panel.row_ids() == [a.id, b.id, c.id]
    assert panel.summary.text() == "3 queued · paused"
    assert panel.row_text(b.id)[1:6] == ["Queued", "a boat", "ltx-video-tiny", "32×32, 9 f", "2"]

    panel.select([c.id])
    panel.up_button.click()
    assert panel.row_ids() == [a.id, c.id, b.id] and panel.selected_ids() == [c.id]
    queue.update(b.id, params(tiny_ltx, "a sailing boat", 2))
    panel.select([a.id])
    assert panel.remove_button.isEnabled()
    panel.remove_button.click()
    assert panel.row_ids() == [c.id, b.id]
    panel.select([c.id])
    panel.duplicate_button.click()
    copy = panel.selected_ids()[0]
    assert queue.job(copy).params["prompt"] == "a gull"
    assert queue.job(copy).params["seed"] != 3 and panel.row_ids() == [c.id, b.id, copy]

    with qtbot.waitSignal(queue.job_ended, timeout=180_000,
                          check_params_cb=lambda q, s, m: q == copy):
        panel.pause_button.click()  # resume
        assert not queue.paused and panel.pause_button.text() == "Pause"
    assert states(queue) == {"a gull": "done", "a sailing boat": "done"}
    assert [queue.job(i).state for i in (c.id, b.id, copy)] == ["done"] * 3
    assert panel.running_at_once == [1, 1, 1]  # never two at once
    made = {g.job_id: g for g in project.generations()}
    assert [made[i].prompt for i in (c.id, b.id, copy)] == ["a gull", "a sailing boat", "a gull"]
    assert made[c.id].params["seed"] == 3 and made[b.id].params["seed"] == 2
    # they ran in queue order: generation ids rise with the queue
    assert made[c.id].id < made[b.id].id < made[copy].id
    assert panel.row_text(c.id)[1] == "Done" and panel.row_text(c.id)[6].endswith(" s")


def test_clear_done_and_the_status_line(qtbot, rig, tiny_ltx):
    from studio.ui.queue_panel import QueueStatusWidget

    queue, panel = rig
    status = QueueStatusWidget(queue)
    qtbot.addWidget(status)
    assert status.isHidden() and not panel.clear_button.isEnabled()
    queue.set_paused(True)
    first = queue.add(params(tiny_ltx, "first", 1))
    second = queue.add(params(tiny_ltx, "second", 2, steps=300))
    assert status.label.text() == "2 queued (paused)" and not status.isHidden()
    steps = []
    queue.manager.progress.connect(lambda j, d, t, e: steps.append(d))
    with qtbot.waitSignal(queue.job_ended, timeout=120_000):
        queue.set_paused(False)
    qtbot.waitUntil(lambda: status.label.text().startswith(f"Generating job #{second.id} · "))
    assert status.label.text().endswith("/300 steps") and not status.bar.isHidden()
    queue.set_paused(True)
    with qtbot.waitSignal(queue.job_ended, timeout=120_000):
        queue.cancel(second.id)
    assert status.isHidden()  # nothing runs or waits
    assert panel.clear_button.isEnabled()
    with qtbot.waitSignal(status.clicked):
        qtbot.mouseClick(status, Qt.MouseButton.LeftButton)
    panel.clear_button.click()
    assert panel.row_ids() == [second.id]  # the cancelled one stays, to retry
    assert first.id not in [j.id for j in queue.jobs()]
    assert not panel.clear_button.isEnabled()


def test_cancel_a_queued_job_and_the_running_one(qtbot, rig, tiny_ltx):
    queue, panel = rig
    queue.set_paused(True)
    slow = queue.add(params(tiny_ltx, "slow", 5, steps=200))
    waiting = queue.add(params(tiny_ltx, "waiting", 6))
    panel.select([waiting.id])
    panel.cancel_button.click()
    assert queue.job(waiting.id).state == "cancelled"
    assert panel.retry_button.isEnabled() and not panel.edit_button.isEnabled()
    with qtbot.waitSignal(queue.manager.progress, timeout=120_000):
        queue.set_paused(False)
    qtbot.waitUntil(lambda: panel.row_text(slow.id)[1].startswith("Running"))
    panel.select([slow.id])
    assert not panel.remove_button.isEnabled()  # running: cancel it first
    with qtbot.waitSignal(queue.job_ended, timeout=120_000) as ended:
        panel.cancel_button.click()
    assert ended.args[:2] == [slow.id, "cancelled"]
    assert queue.job(slow.id).state == "cancelled" and queue.running_id is None
    # Retry puts it back at the end, with its own seed
    panel.select([waiting.id])
    with qtbot.waitSignal(queue.job_ended, timeout=120_000) as ended:
        panel.retry_button.click()
    assert ended.args[:2] == [waiting.id, "done"]
    assert queue.job(waiting.id).params["seed"] == 6


def test_a_failing_job_shows_why_and_the_next_one_runs(qtbot, rig, tiny_ltx, tmp_path):
    queue, panel = rig
    queue.set_paused(True)
    missing = tmp_path / "no-such-model"
    bad = queue.add(params(missing, "broken", 1))
    good = queue.add(params(tiny_ltx, "fine", 2))
    with qtbot.waitSignal(queue.job_ended, timeout=180_000,
                          check_params_cb=lambda q, s, m: q == good.id):
        queue.set_paused(False)
    failed = queue.job(bad.id)
    assert failed.state == "failed" and str(missing) in failed.error
    assert queue.job(good.id).state == "done"
    row = panel.row_ids().index(bad.id)
    assert "Failed: " in panel.model.item(row, 1).toolTip()


def test_edit_a_queued_job_in_the_prompt_panel(qtbot, rig, tiny_ltx, tmp_path):
    from studio.core.prompts import TemplateStore
    from studio.ui.prompt_panel import PromptPanel

    queue, panel = rig
    queue.set_paused(True)
    prompt = PromptPanel(queue.project_model, queue=queue,
                         template_store=TemplateStore(tmp_path / "t.json"))
    qtbot.addWidget(prompt)
    job = queue.add(params(tiny_ltx, "a red kite", 11))
    panel.edit_requested.connect(prompt.edit_job)
    panel.select([job.id])
    panel.edit_button.click()
    assert prompt.editing == job.id and prompt.generate_button.text() == f"Update job #{job.id}"
    assert prompt.prompt.toPlainText() == "a red kite" and prompt.seed.text() == "11"
    prompt.prompt.setPlainText("a blue kite")
    assert prompt.generate() == job.id
    assert prompt.editing is None and prompt.generate_button.text() == "Generate"
    assert [j.id for j in queue.jobs()] == [job.id]
    assert queue.job(job.id).params["prompt"] == "a blue kite"
    assert queue.job(job.id).params["seed"] == 11
    assert panel.row_text(job.id)[2] == "a blue kite"
    # a job that started meanwhile keeps its settings
    prompt.edit_job(job.id)
    queue.project.set_job_state(job.id, "running")
    assert prompt.generate() is None and "already started" in prompt.error_label.text()
    queue.project.set_job_state(job.id, "cancelled")


_KILLED_MID_RUN = """
import os, signal, sys
from PySide6.QtWidgets import QApplication
from studio.core.library import Project
from studio.core.params import GenerationParams
from studio.ui.main_window import MainWindow
from studio.ui.model_manager import ModelManager

app = QApplication([])
window = MainWindow(Project(sys.argv[1]), model_manager=ModelManager(device="cpu",
                                                                     freeze_heap=False))
queue = window.generation_queue
queue.add(GenerationParams(model=sys.argv[2], prompt="interrupted run", seed=4, seed_locked=True,
                           width=32, height=32, num_frames=9, steps=60, guidance_scale=1.0,
                           negative_prompt=""))
queue.add(GenerationParams(model=sys.argv[2], prompt="still waiting", seed=5, seed_locked=True,
                           width=32, height=32, num_frames=9, steps=2, guidance_scale=1.0,
                           negative_prompt=""))
def step(job_id, done, total, eta):
    if done >= 2:  # mid-run: killed, no clean-up of any kind
        os.kill(os.getpid(), signal.SIGKILL)
window.model_manager.progress.connect(step)
app.exec()
"""


def test_a_job_running_when_studio_was_killed_comes_back_interrupted(qtbot, tiny_ltx,
                                                                      tmp_path):
    from studio.core.library import Project
    from studio.ui.main_window import MainWindow
    from studio.ui.model_manager import ModelManager

    root = tmp_path / "project"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(_KILLED_MID_RUN), str(root),
                           str(tiny_ltx)], env=env, timeout=300, capture_output=True,
                          check=False)
    assert done.returncode == -signal.SIGKILL, done.stderr.decode()[-2000:]

    project = Project(root)
    window = MainWindow(project, model_manager=ModelManager(device="cpu", freeze_heap=False))
    qtbot.addWidget(window)
    try:
        window.show()
        qtbot.waitUntil(lambda: window.queue_dock.isVisible(), timeout=10_000)
        queue = window.generation_queue
        assert states(queue) == {"interrupted run": "interrupted", "still waiting": "queued"}
        assert queue.paused  # nothing starts by surprise after a restart
        assert "1 job waiting" in window.statusBar().currentMessage()
        assert "1 interrupted" in window.statusBar().currentMessage()
        panel = window.queue_panel
        interrupted = panel.row_ids()[0]
        assert panel.row_text(interrupted)[1] == "Interrupted"
        window.resize(1300, 850)
        window.grab().save(str(Path("/tmp") / "queue_after_restart.png"))
        job = queue.job(interrupted)
        with qtbot.waitSignal(queue.job_ended, timeout=180_000,
                              check_params_cb=lambda q, s, m: q == interrupted):
            panel.select([interrupted])
            panel.retry_button.click()
            assert queue.job(interrupted).state == "queued"
            panel.pause_button.click()  # resume
        assert queue.job(interrupted).state == "done"
        assert job.params["seed"] == 4
    finally:
        window.close()
        project.close()


def test_closing_studio_mid_run_keeps_the_job_to_retry(qtbot, tiny_ltx, project):
    from studio.ui.main_window import MainWindow
    from studio.ui.model_manager import ModelManager

    window = MainWindow(project, model_manager=ModelManager(device="cpu", freeze_heap=False))
    qtbot.addWidget(window)
    window.show()
    queue = window.generation_queue
    with qtbot.waitSignal(window.model_manager.progress, timeout=120_000,
                          check_params_cb=lambda j, done, total, eta: done >= 1):
        job = queue.add(params(tiny_ltx, "long run", 9, steps=400))
    window.close()
    closed = project.job(job.id)
    assert closed.state == "interrupted" and "closed" in closed.error


def test_jobs_queued_in_this_session_are_not_reported_as_left_over(qtbot, tiny_ltx, project):
    from studio.ui.main_window import MainWindow
    from studio.ui.model_manager import ModelManager

    window = MainWindow(project, model_manager=ModelManager(device="cpu", freeze_heap=False))
    qtbot.addWidget(window)
    try:
        queue = window.generation_queue  # before the start-up check runs
        queue.set_paused(True)
        queue.add(params(tiny_ltx, "made now", 1))
        window.show()
        qtbot.waitExposed(window)
        window._restore_generation_queue()  # what the start-up timer runs
        assert "Generation queue" not in window.statusBar().currentMessage()
        assert window.queue_dock.isHidden()
    finally:
        window.close()


@pytest.mark.parametrize("width", [280, 460, 900])
def test_the_queue_list_fits_its_panel_without_scrolling_sideways(qtbot, project, width):
    """The Queue's list scrolled sideways in its dock (a 240 px prompt column and six others):
    the prompt takes the width left, the columns that fit are shown, no title cut."""
    from studio.ui.generation_queue import GenerationQueue
    from studio.ui.model_manager import ModelManager
    from studio.ui.project_model import ProjectModel
    from studio.ui.queue_panel import COLUMNS, QueuePanel
    from tests.ui.columns import assert_columns_fit

    manager = ModelManager(freeze_heap=False)
    queue = GenerationQueue(ProjectModel(project), manager)
    panel = QueuePanel(queue)
    qtbot.addWidget(panel)
    panel.resize(width, 300)
    panel.show()
    qtbot.waitExposed(panel)
    assert_columns_fit(qtbot, panel.view, panel.view.header(), COLUMNS,
                       [COLUMNS.index(n) for n in ("#", "State", "Prompt")], width)
    queue.shutdown()
    manager.shutdown()
