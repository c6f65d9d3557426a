"""The caption panel's body is built from section widgets (studio.ui.caption_widgets) that own
their widgets and signals; the panel reads their widgets as its own attributes."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QListWidgetItem

from studio.ui.caption_panel import _BODY_WIDGETS, CaptionPanel
from studio.ui.project_model import ProjectModel


def test_the_panel_reads_each_sections_widgets_as_its_own(qtbot, project):
    panel = CaptionPanel(ProjectModel(project))
    qtbot.addWidget(panel)
    panel._build_body()
    sections = [panel.caption_box, panel.history_box, panel.settings_box, panel.buttons_box]
    names = set()
    for section in sections:
        for name in section.WIDGETS:
            assert getattr(panel, name) is getattr(section, name), name
        names.update(section.WIDGETS)
    names.update({"caption_box", "history_box", "settings_box", "buttons_box",
                  "history_section", "settings_section"})
    assert names == _BODY_WIDGETS
    panel.shutdown()


def test_a_clicked_frame_of_the_strip_says_its_index(qtbot):
    from studio.ui.caption_widgets import CaptionTextBox

    box = CaptionTextBox()
    qtbot.addWidget(box)
    item = QListWidgetItem("0:00.5")
    item.setData(Qt.ItemDataRole.UserRole, 12)
    box.frame_strip.addItem(item)
    with qtbot.waitSignal(box.frame_clicked, timeout=1000) as blocker:
        box.frame_strip.itemClicked.emit(item)
    assert blocker.args == [12]


def test_only_an_earlier_version_can_be_restored(qtbot):
    from studio.ui.caption_widgets import HistoryBox

    box = HistoryBox()
    qtbot.addWidget(box)
    box.history_list.addItems(["v2", "v1"])
    box.history_list.setCurrentRow(1)
    assert box.restore_button.isEnabled()
    box.history_list.setCurrentRow(0)  # the current version
    assert not box.restore_button.isEnabled()


def test_the_settings_say_when_their_summary_changes(qtbot):
    from studio.ui.caption_panel import LOCAL_FOLDER
    from studio.ui.caption_widgets import CaptionSettingsBox

    box = CaptionSettingsBox(LOCAL_FOLDER)
    qtbot.addWidget(box)
    with qtbot.waitSignal(box.changed, timeout=1000):
        box.max_tokens_spin.setValue(300)
    with qtbot.waitSignal(box.changed, timeout=1000):
        box.sample_check.setChecked(True)
    assert box.temperature_spin.isEnabled()
    assert box.model_combo.itemData(box.model_combo.count() - 1) == LOCAL_FOLDER
