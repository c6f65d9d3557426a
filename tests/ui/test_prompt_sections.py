"""The prompt panel is built from section widgets (``studio.ui.prompt_sections``) that read as
the one form they replaced: the panel's field attributes are the sections' widgets, every
section's fields start at the same x, a mode's hidden rows leave no gap, and a section's
changes reach the panel's live check."""

from __future__ import annotations

import pytest

MODES = ("t2v", "i2v", "v2v", "extend", "condition")


@pytest.fixture
def panel(qtbot, project, tmp_path):
    from studio.core.prompts import TemplateStore
    from studio.ui.project_model import ProjectModel
    from studio.ui.prompt_panel import PromptPanel

    p = PromptPanel(ProjectModel(project), template_store=TemplateStore(tmp_path / "templates.json"))
    qtbot.addWidget(p)
    p.resize(440, 900)
    p.show()
    qtbot.waitExposed(p)
    return p


def test_the_panels_fields_are_its_sections_widgets(panel):
    from studio.ui.prompt_sections import FormSection

    assert [type(s).__name__ for s in panel.sections] == [
        "ModelSection", "SourceSection", "PromptSection", "SizeSection", "AdvancedSection"]
    for name, fields in panel.SECTION_FIELDS.items():
        section = getattr(panel, name)
        assert isinstance(section, FormSection)
        for field in fields:
            widget = getattr(panel, field)
            assert widget is getattr(section, field), field
            assert section.isAncestorOf(widget), field
    assert panel._image_row is panel.source_section.image_row
    assert panel._video_row is panel.source_section.video_row


def _field_x(panel, widget) -> int:
    return widget.mapTo(panel, widget.rect().topLeft()).x()


@pytest.mark.parametrize("expanded", [False, True])
def test_the_sections_fields_line_up_in_every_mode(qtbot, panel, expanded):
    panel.advanced_toggle.setChecked(expanded)
    for mode in MODES:
        panel.mode.setCurrentIndex(panel.mode.findData(mode))
        panel.revalidate()
        qtbot.wait(1)
        fields = [panel.model, panel.mode, panel.prompt, panel.negative, panel.template,
                  panel.size_preset, panel.frames, panel.steps, panel.guidance, panel.seed]
        fields += {"i2v": [panel._image_row], "v2v": [panel.strength, panel._video_row],
                   "extend": [panel._video_row]}.get(mode, [])
        if expanded:
            fields += [panel.offload, panel.vae_tiling, panel.advanced_section.decode_row]
        assert all(w.isVisible() for w in fields), mode
        assert len({_field_x(panel, w) for w in fields}) == 1, mode


def test_text_to_video_shows_no_source_rows_and_leaves_no_gap(qtbot, panel):
    panel.mode.setCurrentIndex(panel.mode.findData("t2v"))
    panel.revalidate()
    qtbot.wait(1)
    assert panel.source_section.isHidden()  # none of its rows is shown
    spacing = panel.model_section.form.verticalSpacing()
    mode_bottom = panel.mode.mapTo(panel, panel.mode.rect().bottomLeft()).y()
    assert panel.prompt.mapTo(panel, panel.prompt.rect().topLeft()).y() == mode_bottom + 1 + spacing
    panel.mode.setCurrentIndex(panel.mode.findData("i2v"))
    panel.revalidate()
    assert panel._image_row.isVisible() and not panel.source_section.isHidden()


def test_a_sections_change_is_checked_live(qtbot, panel):
    panel.prompt.setPlainText("a fox in the snow")
    qtbot.waitUntil(lambda: panel.error is None, timeout=2000)
    panel.frames.setValue(0)  # the size section's change reaches the panel's check
    qtbot.waitUntil(lambda: panel.error is not None, timeout=2000)
    assert panel.error.field == "num_frames"
    assert not panel.generate_button.isEnabled()
