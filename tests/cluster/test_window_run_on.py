"""The window runs captions and generations on a Ray cluster (issue 18, item 4): Run on
(in the caption settings and beside the queue's Pause) chooses this computer or the cluster at
an address kept in the settings; Caption all and the generation queue then run there, with the
same progress, results and cancel as a local run."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from studio.core.library import Project
from tests.media_factory import make_video
from tests.ui.test_caption_panel import caption_cell


@pytest.fixture
def project(tmp_path, clip_folder):
    project = Project(tmp_path / "project")
    for path in sorted(clip_folder.glob("clip_*.mp4"))[:3]:
        project.import_file(path)
    yield project
    project.close()


@pytest.fixture
def window(qtbot, project, local_cluster, tiny_captioner_dir):
    from studio.ui.main_window import MainWindow

    made = MainWindow(project)
    qtbot.addWidget(made)
    made.resize(1280, 800)
    made.show()
    qtbot.waitExposed(made)
    made.captions.set_model(str(tiny_captioner_dir))
    made.captions.max_tokens_spin.setValue(12)
    choice, _cluster = made.cluster_parts()
    choice.set_address("local")  # the session's Ray (tests/cluster/conftest.py)
    yield made
    made.shutdown()


def test_run_on_is_one_choice_kept_in_the_settings(qtbot, window):
    choice, _cluster = window.cluster_parts()
    assert choice.on_cluster and choice.address == "local"
    combo = window.queue_panel.run_on_combo
    assert combo.currentText() == "Ray cluster at local"
    assert window.captions.run_on_combo.currentText() == "Ray cluster at local"
    combo.activated.emit(0)  # This computer, chosen beside the queue: the caption panel too
    assert not choice.on_cluster
    assert window.captions.run_on_combo.currentText() == "This computer"
    from studio.ui.run_on import RunOnChoice

    again = RunOnChoice(window.settings)  # what the next start reads
    assert again.address == "local" and not again.on_cluster
    with pytest.raises(ValueError, match="ray://HOST:PORT"):
        choice.set_address("head-node:10001")
    assert choice.address == "local"


def test_caption_all_on_the_cluster_stores_each_clip_as_a_local_run_does(
        qtbot, window, project):
    panel = window.captions
    progress = []
    panel.progress_bar.valueChanged.connect(progress.append)
    panel.caption_all_action.trigger()
    assert panel.running and panel.progress_row.isVisible()
    qtbot.waitUntil(lambda: not panel.running, timeout=180_000)
    captions = [project.current_caption(c.id) for c in project.clips()]
    assert all(c is not None and c.source == "model" and c.text for c in captions), captions
    assert {c.params["demo"] for c in captions} == {True}
    assert all(c.params["frame_times"] for c in captions)
    assert max(progress) == 3  # n/N, clip by clip
    assert all(caption_cell(window, c.id).data() == "captioned" for c in project.clips())


def test_a_clip_the_workers_cannot_read_fails_alone(qtbot, window, project, tmp_path):
    gone = make_video(tmp_path / "gone.mp4", frames=8, fps=10)
    with qtbot.waitSignal(window.bin.import_finished, timeout=30_000):
        window.bin.import_paths([str(gone)])
    clip = next(c for c in project.clips() if c.name == "gone.mp4")
    gone.unlink()  # moved away after the import: the workers cannot read it
    panel = window.captions
    panel.caption_all_action.trigger()
    qtbot.waitUntil(lambda: not panel.running, timeout=180_000)
    assert project.current_caption(clip.id) is None
    assert all(project.current_caption(c.id) is not None
               for c in project.clips() if c.id != clip.id)
    cell = caption_cell(window, clip.id)
    assert cell.data() == "failed"
    assert "gone.mp4" in cell.data(Qt.ItemDataRole.ToolTipRole)


def test_cancel_stops_the_cluster_run(qtbot, window, project):
    panel = window.captions
    panel.max_tokens_spin.setValue(400)
    _choice, cluster = window.cluster_parts()
    panel.caption_all_action.trigger()
    qtbot.waitUntil(lambda: panel.running)
    panel.cancel()
    qtbot.waitUntil(lambda: not panel.running and not cluster.running(), timeout=60_000)


def test_the_generation_queue_runs_its_job_on_the_cluster(qtbot, window, project,
                                                          tiny_ltx_dir):
    from studio.core.media import probe
    from studio.core.params import GenerationParams

    queue = window.generation_queue
    params = GenerationParams(model=str(tiny_ltx_dir), prompt="a kite on the cluster", seed=3,
                              width=32, height=32, num_frames=9, steps=2)
    with qtbot.waitSignal(queue.job_ended, timeout=180_000) as ended:
        job = queue.add(params)
    assert ended.args == [job.id, "done", ""]
    (generation,) = project.generations()
    assert generation.job_id == job.id and generation.params["seed"] == 3
    assert probe(generation.path).frame_count == 9
