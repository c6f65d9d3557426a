"""Two players in one window (the main player and the generation preview) must not share
window-wide shortcuts: Qt fires neither of two enabled actions with the same key."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMainWindow, QVBoxLayout, QWidget

from studio.ui.player import PlayerPanel
from tests.media_factory import make_video


def test_a_second_player_keeps_its_keys_to_itself(qtbot, tmp_path):
    clip = make_video(tmp_path / "clip.mp4", frames=10, fps=10)
    window = QMainWindow()
    body = QWidget()
    layout = QVBoxLayout(body)
    main = PlayerPanel(body)
    preview = PlayerPanel(body, keyboard_shortcuts=False)
    layout.addWidget(main)
    layout.addWidget(preview)
    window.setCentralWidget(body)
    qtbot.addWidget(window)
    try:
        window.show()
        qtbot.waitExposed(window)
        for clip_id, player in ((1, main), (2, preview)):
            player.set_clip(clip_id, str(clip), 10, 10.0, None, None)
            qtbot.waitUntil(lambda p=player: p.displayed_index == 0, timeout=10000)
        fired = []
        main.loop_action.toggled.connect(lambda on: fired.append(("main", on)))
        preview.loop_action.toggled.connect(lambda on: fired.append(("preview", on)))
        window.activateWindow()
        body.setFocus()
        qtbot.keyClick(body, Qt.Key.Key_L)  # Loop: only the main player's action takes it
        assert fired == [("main", True)]
        preview.setFocus()
        qtbot.keyClick(preview, Qt.Key.Key_L)  # focus in the preview: the keys still drive the main player
        assert fired == [("main", True), ("main", False)]
    finally:
        main.shutdown()
        preview.shutdown()
