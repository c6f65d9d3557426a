"""Generate and Cancel stay put (issue 16): a second click where Generate was, half a second
after the first, queues another run; it never cancels the first. The panel's new texts (the
drawn seed, "job #1, queued") widened the Generate dock and the window with it, and Cancel
came to lie where Generate had been."""

from __future__ import annotations

from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QApplication

from studio.ui.main_window import MainWindow
from tests.ui.test_generation_panels import fill


def _click_at(qtbot, window, point: QPoint):
    """A left click at ``point`` of ``window`` (window coordinates), on whatever is there."""
    target = window.childAt(point)
    assert target is not None
    qtbot.mouseClick(target, Qt.MouseButton.LeftButton, pos=target.mapFrom(window, point))
    return target


def test_a_second_click_on_generate_does_not_cancel_the_run(qtbot, project, tiny_ltx):
    from studio.ui.model_manager import ModelManager

    window = MainWindow(project, model_manager=ModelManager(device="cpu", freeze_heap=False))
    qtbot.addWidget(window)
    try:
        window.resize(1280, 800)
        window.show()
        qtbot.waitExposed(window)
        # every panel open, as in a session: the window is as narrow as it may be
        for show in (window.show_queue, window.show_exports, window.show_analysis,
                     window.generate_dock.toggleViewAction().trigger):
            show()
        window.resize(1280, 800)
        prompt = window.prompt_panel
        fill(prompt, tiny_ltx, steps=20, seed=None, seed_locked=False)  # a long drawn seed
        qtbot.waitUntil(lambda: prompt.generate_button.isEnabled(), timeout=5000)
        QApplication.processEvents()
        button = prompt.generate_button
        where = button.mapTo(window, button.rect().center())
        cancels = []
        window.generation_queue.job_ended.connect(
            lambda job, state, _m: cancels.append(job) if state == "cancelled" else None)

        with qtbot.waitSignal(window.generation_queue.run_started, timeout=60_000):
            assert _click_at(qtbot, window, where) is button
        first = prompt.job_id
        assert first is not None
        # The run began: the Preview dock opened, the panel said which job runs. A second
        # click half a second after the first lands on Generate again, not on Cancel.
        qtbot.waitUntil(lambda: window.generation_preview_dock.isVisible(), timeout=5000)
        QApplication.processEvents()
        second = _click_at(qtbot, window, where)
        assert second is not prompt.cancel_button
        assert second is button and prompt.job_id != first  # a second job was queued
        qtbot.waitUntil(lambda: project.job(first).state not in ("queued", "running"),
                        timeout=120_000)
        assert first not in cancels and project.job(first).state == "done"
    finally:
        window.close()


def test_cancel_right_after_a_click_on_generate_is_ignored(qtbot, panels, tiny_ltx):
    """A double click begun on Generate never cancels, wherever Cancel is: a click on Cancel
    within half a second of pressing Generate is taken for its second click. Later, Cancel
    cancels."""
    prompt, _preview = panels
    fill(prompt, tiny_ltx, steps=50)
    qtbot.mouseClick(prompt.generate_button, Qt.MouseButton.LeftButton)
    job = prompt.job_id
    assert job is not None and prompt.cancel_button.isEnabled()
    qtbot.mouseClick(prompt.cancel_button, Qt.MouseButton.LeftButton)
    assert prompt.queue.project.job(job).state in ("queued", "running")
    prompt._generate_pressed_at -= 1.0  # as if a second had passed
    with qtbot.waitSignal(prompt.queue.job_ended, timeout=120_000) as ended:
        qtbot.mouseClick(prompt.cancel_button, Qt.MouseButton.LeftButton)
    assert ended.args[:2] == [job, "cancelled"]
