"""Start-up: the first-paint hook (what --exit-after-show and bench/startup.py time), the
captioner module loaded after the window is painted, the garbage collector (off during start-up,
back on once the window is up), PySide6's feature marks, and behaviour kept by the changes that
keep Qt types off start-up."""

from __future__ import annotations

import os
import subprocess
import sys

from PySide6.QtWidgets import QWidget

from studio.ui import caption_panel
from studio.ui.caption_panel import CaptionPanel
from studio.ui.first_paint import process_age_s, when_first_painted
from studio.ui.project_model import ProjectModel


class PaintCounter(QWidget):
    def __init__(self):
        super().__init__()
        self.paints = 0

    def paintEvent(self, event):
        self.paints += 1


def test_callback_comes_after_the_window_is_painted_and_only_once(qtbot):
    widget = PaintCounter()
    qtbot.addWidget(widget)
    seen = []
    when_first_painted(widget, lambda: seen.append(widget.paints))
    assert seen == []
    widget.show()
    assert seen == []  # show() alone paints nothing yet
    qtbot.waitUntil(lambda: bool(seen), timeout=5000)
    assert seen[0] >= 1
    widget.repaint()
    qtbot.wait(50)  # a later paint calls nothing: the hook is gone
    assert len(seen) == 1


def test_a_window_deleted_right_after_its_first_paint_calls_nothing(qtbot):
    """The call is made from the event loop after the paint; a window deleted in between
    (a test, a quick quit) takes the call with it instead of raising in the event loop."""
    import shiboken6
    from PySide6.QtCore import QRect
    from PySide6.QtGui import QPaintEvent

    from studio.ui.first_paint import _FirstPaintWatcher

    widget = PaintCounter()
    seen = []
    when_first_painted(widget, lambda: seen.append(True))
    watcher = widget.findChild(_FirstPaintWatcher, _FirstPaintWatcher.NAME)
    watcher.eventFilter(widget, QPaintEvent(QRect(0, 0, 10, 10)))  # as the paint would
    shiboken6.delete(widget)  # the window and its watcher go before the loop runs the call
    qtbot.wait(50)  # the event loop runs: an exception raised in it fails the test
    assert seen == []


def test_process_age_is_positive_and_grows():
    first = process_age_s()
    assert first > 0
    assert process_age_s() >= first


def test_caption_api_loads_after_the_first_paint(qtbot, tmp_path, monkeypatch):
    from studio.core.library import Project

    monkeypatch.setattr(caption_panel, "API_LOAD_FALLBACK_MS", 60000)
    with Project(tmp_path / "p") as project:
        panel = CaptionPanel(ProjectModel(project))
        qtbot.addWidget(panel)
        qtbot.wait(300)  # the event loop runs, but nothing is painted: no import competes
        assert panel.api is None
        panel.show()
        qtbot.waitUntil(lambda: panel.api is not None, timeout=20000)
        assert panel.preset_combo.count() > 1
        panel.shutdown()


def test_caption_api_loads_even_if_the_panel_is_never_shown(qtbot, tmp_path, monkeypatch):
    from studio.core.library import Project

    monkeypatch.setattr(caption_panel, "API_LOAD_FALLBACK_MS", 30)
    with Project(tmp_path / "p") as project:
        panel = CaptionPanel(ProjectModel(project))
        qtbot.addWidget(panel)
        qtbot.waitUntil(lambda: panel.api is not None, timeout=20000)
        panel.shutdown()


def state_at_first_paint(tmp_path, probe: str, after: str = "None"):
    """Start the window (offscreen, ``--exit-after-show``) in a process of its own and return
    (the Python expression ``probe`` evaluated at the first paint, ``after`` evaluated once the
    window has gone)."""
    import os
    import subprocess
    import sys

    code = (
        "import gc, sys\n"
        "from studio.ui import app\n"
        "seen = []\n"
        "orig = app.FirstPaintReporter.painted\n"
        "def painted(self):\n"
        f"    seen.append({probe})\n"
        "    orig(self)\n"
        "app.FirstPaintReporter.painted = painted\n"
        "rc = app.run_gui(exit_after_show=True)\n"
        f"print('STATE', repr((seen, {after})))\n"
        "sys.exit(rc)\n"
    )
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", XDG_DATA_HOME=str(tmp_path / "d"),
               XDG_CONFIG_HOME=str(tmp_path / "c"), XDG_CACHE_HOME=str(tmp_path / "k"))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    line = next(x for x in out.stdout.splitlines() if x.startswith("STATE"))
    return eval(line.split("STATE", 1)[1])


def test_gc_is_back_on_and_startup_objects_frozen_once_the_window_is_up(tmp_path):
    """From the first paint the collector runs again, in the GUI thread (ui.gui_gc: Python's
    automatic one stays off, it would collect in worker threads too), and what start-up made
    is frozen; after the window, the automatic one is back."""
    at_paint, after = state_at_first_paint(
        tmp_path, "(gc.isenabled(), gc.get_freeze_count(), app._collector is not None)",
        after="gc.isenabled()")
    assert at_paint and at_paint[0][0] is False and at_paint[0][1] > 0 and at_paint[0][2]
    assert after is True


def test_modules_marked_featureless_are_marked_as_pyside_would_mark_them():
    # In a fresh interpreter, as at start-up: core modules, then PySide6, then the marking.
    code = (
        "import sys\n"
        "import studio.core.library, studio.settings\n"
        "from PySide6.QtWidgets import QApplication\n"
        "from studio.ui.app import mark_loaded_modules_featureless\n"
        "marked = mark_loaded_modules_featureless()\n"
        "feature = sys.modules['shibokensupport.feature']\n"
        "wrong = [n for n in marked if feature._mod_uses_pyside(sys.modules[n])]\n"
        "print(len(marked), 'sqlite3' in marked, wrong)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    count, has_sqlite, wrong = out.stdout.split(" ", 2)
    assert int(count) > 50 and has_sqlite == "True"
    assert wrong.strip() == "[]"  # PySide6 would have found no "PySide6" in any of them


def test_studio_modules_are_marked_as_pyside_would_mark_them():
    """Every module of the package, loaded or not, gets the verdict PySide6 would reach by
    reading its source (imported, so a moved or renamed module is checked too)."""
    code = (
        "import importlib, sys\n"
        "from PySide6.QtWidgets import QApplication\n"
        "from studio.ui.app import mark_own_modules\n"
        "marked = mark_own_modules()\n"
        "feature = sys.modules['shibokensupport.feature']\n"
        "table = dict(feature.pyside_feature_dict)\n"
        "wrong = []\n"
        "for name in marked:\n"
        "    if name == 'studio.__main__':\n"
        "        continue  # running it would start Studio; its source says no PySide6\n"
        "    verdict = 0 if feature._mod_uses_pyside(importlib.import_module(name)) else -1\n"
        "    if table[name] != verdict:\n"
        "        wrong.append(name)\n"
        "print(len(marked), 'studio.ui.player' in marked, 'studio.core.library' in marked, wrong)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=False, env=dict(os.environ, QT_QPA_PLATFORM="offscreen"))
    assert out.returncode == 0, out.stderr
    count, player, library, wrong = out.stdout.split(" ", 3)
    assert int(count) > 40 and player == "True" and library == "True"
    assert wrong.strip() == "[]"


def test_focused_widgets_keep_their_keys_by_qt_class_name(qtbot):
    """The player's window-wide keys yield to a focused widget that uses them; the kinds are
    matched by Qt class name (QObject.inherits), subclasses included, without the widgets'
    Python types being needed at start-up."""
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QComboBox, QLineEdit, QPushButton, QSlider, QSpinBox

    from studio.ui.player import focused_widget_keeps_key

    class MySpinBox(QSpinBox):
        pass

    none = Qt.KeyboardModifier.NoModifier
    spin, slider, button, combo, line = (MySpinBox(), QSlider(), QPushButton(), QComboBox(),
                                         QLineEdit())
    for w in (spin, slider, button, combo, line):
        qtbot.addWidget(w)
    assert focused_widget_keeps_key(spin, Qt.Key.Key_Left, none)
    assert focused_widget_keeps_key(slider, Qt.Key.Key_End, none)
    assert not focused_widget_keeps_key(slider, Qt.Key.Key_Space, none)
    assert focused_widget_keeps_key(button, Qt.Key.Key_Space, none)
    assert focused_widget_keeps_key(combo, Qt.Key.Key_Space, none)
    assert not focused_widget_keeps_key(button, Qt.Key.Key_Left, none)
    assert not focused_widget_keeps_key(line, Qt.Key.Key_Space, none)  # ShortcutOverride's job
    assert not focused_widget_keeps_key(spin, Qt.Key.Key_Left, Qt.KeyboardModifier.ShiftModifier)


def test_the_window_is_fusion_with_the_stored_palette_even_if_the_environment_asks_otherwise(
        tmp_path):
    # Fusion comes from QApplication's -style argument now, not setStyle: it must still win
    # over QT_STYLE_OVERRIDE, and the palette must still be the theme's.
    code = (
        "import sys\n"
        "from PySide6.QtGui import QPalette\n"
        "from PySide6.QtWidgets import QApplication\n"
        "from studio.ui import app\n"
        "seen = []\n"
        "orig = app.FirstPaintReporter.painted\n"
        "def painted(self):\n"
        "    a = QApplication.instance()\n"
        "    seen.append((a.style().name(), a.palette().color(QPalette.ColorRole.Window).name()))\n"
        "    orig(self)\n"
        "app.FirstPaintReporter.painted = painted\n"
        "rc = app.run_gui(exit_after_show=True)\n"
        "print('SEEN', seen)\n"
        "sys.exit(rc)\n"
    )
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", QT_STYLE_OVERRIDE="windows",
               XDG_DATA_HOME=str(tmp_path / "d"), XDG_CONFIG_HOME=str(tmp_path / "c"),
               XDG_CACHE_HOME=str(tmp_path / "k"))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    from PySide6.QtGui import QPalette

    from studio.ui.theme import light_palette

    window_color = light_palette().color(QPalette.ColorRole.Window).name()
    assert f"SEEN [('fusion', '{window_color}')]" in out.stdout


def _project_with_a_clip(tmp_path):
    from studio.core.library import Project
    from tests.media_factory import make_video

    project = Project(tmp_path / "p")
    clip = project.import_file(make_video(tmp_path / "walk.mp4", frames=6))[0]
    return project, clip


def test_bin_thumbnails_of_stored_clips_start_after_the_first_paint(qtbot, tmp_path,
                                                                     monkeypatch):
    from studio.ui import bin_panel
    from studio.ui.bin_panel import BinPanel

    monkeypatch.setattr(bin_panel, "THUMBNAILS_FALLBACK_MS", 60000)
    project, clip = _project_with_a_clip(tmp_path)
    panel = BinPanel(ProjectModel(project))
    qtbot.addWidget(panel)
    try:
        assert panel.model.rowCount() == 1  # the row is there at once
        qtbot.wait(300)  # the event loop runs, nothing is painted: no worker competes
        assert panel.model.thumbnail(clip.id) is None and panel.pool.activeThreadCount() == 0
        panel.show()
        qtbot.waitUntil(lambda: panel.model.thumbnail(clip.id) is not None, timeout=30000)
    finally:
        panel.shutdown()
        project.close()


def test_bin_thumbnails_come_even_if_the_bin_is_never_shown(qtbot, tmp_path, monkeypatch):
    from studio.ui import bin_panel
    from studio.ui.bin_panel import BinPanel

    monkeypatch.setattr(bin_panel, "THUMBNAILS_FALLBACK_MS", 30)
    project, clip = _project_with_a_clip(tmp_path)
    panel = BinPanel(ProjectModel(project))
    qtbot.addWidget(panel)
    try:
        qtbot.waitUntil(lambda: panel.model.thumbnail(clip.id) is not None, timeout=30000)
    finally:
        panel.shutdown()
        project.close()


def test_calls_for_one_window_come_in_the_order_asked(qtbot):
    widget = PaintCounter()
    qtbot.addWidget(widget)
    order = []
    when_first_painted(widget, lambda: order.append("first"))
    widget.show()  # a panel inside asks while the window is shown, as the bin does
    when_first_painted(widget, lambda: order.append("second"))
    qtbot.waitUntil(lambda: len(order) == 2, timeout=5000)
    assert order == ["first", "second"]
    when_first_painted(widget, lambda: order.append("after"))  # a new watcher, next paint
    widget.update()
    qtbot.waitUntil(lambda: len(order) == 3, timeout=5000)
