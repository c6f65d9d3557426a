"""core.prompts: caption -> prompt templates, safe filling, the user's templates on disk."""

from __future__ import annotations

import json

import pytest

from studio.core import prompts
from studio.core.prompts import (
    PromptError,
    Template,
    TemplateStore,
    from_caption,
    render,
)


def test_builtin_template_puts_caption_camera_and_quality_in_order():
    tpl = prompts.builtin("camera-quality")
    out = render(tpl, "A dog runs along a beach", camera=prompts.CAMERA_MOVES["pan-left"])
    assert out == ("A dog runs along a beach. The camera slowly pans to the left. "
                   + tpl.fields["quality"])


def test_braces_in_the_caption_are_text_not_placeholders():
    caption = "A sign reads {camera} and {0} and {caption} and {} and {a.b} and {{x}} }{"
    out = render(prompts.builtin("camera-quality"), caption, camera="CAM")
    assert out.startswith(caption)
    assert out.count("CAM") == 1  # only the template's own {camera} was filled


def test_unknown_placeholders_stay_literal_and_values_are_not_reexpanded():
    out = render("{caption} {mood} {camera}", "x", camera="turns {caption} {quality}")
    assert out == "x. {mood} turns {caption} {quality}"
    # str.format would have raised or looked up attributes here
    assert render("{caption} {0} {__class__} {caption.upper}", "y") == \
        "y. {0} {__class__} {caption.upper}"


def test_an_empty_field_leaves_no_gap_and_caption_whitespace_is_tidied():
    out = render(prompts.builtin("camera-quality"), "  A cat\n sleeps  ", camera="",
                 quality="Sharp.")
    assert out == "A cat sleeps. Sharp."


def test_caption_keeps_its_own_final_mark():
    assert render("{caption} Next.", "Is it raining?") == "Is it raining? Next."
    assert render("{caption}", "") == ""


def test_from_caption_records_raw_caption_final_prompt_and_template():
    raw = "a woman walks\nthrough a {market}"
    result = from_caption(prompts.builtin("ltx-cinematic"), raw, lighting="Neon light.")
    assert result.caption == raw  # exactly as captioned
    assert result.prompt.startswith("a woman walks through a {market}. ")
    assert result.prompt.endswith("The scene appears to be real-life footage.")
    assert "Neon light." in result.prompt
    assert result.template_id == "ltx-cinematic"
    assert result.fields["lighting"] == "Neon light."
    assert set(result.to_dict()) == {"caption", "prompt", "template_id", "fields"}


def test_placeholders_lists_names_once_in_order():
    assert prompts.placeholders("{a} {b} {a} {0} {c_d}") == ["a", "b", "c_d"]


# --- the store -----------------------------------------------------------------------------


def test_user_templates_persist_across_stores(tmp_path):
    path = tmp_path / "cfg" / "prompt_templates.json"
    store = TemplateStore(path)
    store.save(Template("my-style", "My style", "{caption} Shot on 16mm film. {camera}",
                        {"camera": "Handheld."}))
    assert path.is_file()
    again = TemplateStore(path)
    tpl = again.get("my-style")
    assert tpl.name == "My style" and tpl.fields == {"camera": "Handheld."}
    assert render(tpl, "A {boat}") == "A {boat}. Shot on 16mm film. Handheld."
    assert again.ids()[:len(prompts.BUILTINS)] == [b.id for b in prompts.BUILTINS]
    assert "my-style" in again.ids()
    assert again.problem is None
    assert not list(path.parent.glob("*.tmp"))  # written atomically, nothing left behind


def test_default_path_is_under_the_config_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    store = TemplateStore()
    assert store.path == tmp_path / "studio" / "prompt_templates.json"
    store.save({"id": "t1", "name": "T1", "text": "{caption}!"})
    assert json.loads(store.path.read_text())["templates"][0]["id"] == "t1"


def test_editing_a_builtin_shadows_it_and_delete_restores_it(tmp_path):
    path = tmp_path / "t.json"
    store = TemplateStore(path)
    original = prompts.builtin("camera-quality")
    store.save(Template("camera-quality", "Mine", "{caption} {camera}",
                        {"camera": "Static."}))
    edited = TemplateStore(path)
    assert edited.get("camera-quality").text == "{caption} {camera}"
    assert edited.is_edited("camera-quality")
    assert edited.ids().count("camera-quality") == 1
    edited.delete("camera-quality")
    assert TemplateStore(path).get("camera-quality") == original
    with pytest.raises(PromptError, match="built-in"):
        TemplateStore(path).delete("camera-quality")


def test_unknown_template_is_a_clear_error(tmp_path):
    with pytest.raises(PromptError, match="no prompt template 'nope'"):
        TemplateStore(tmp_path / "t.json").get("nope")


@pytest.mark.parametrize("data, words", [
    ({"id": "", "name": "x", "text": "{caption}"}, "id"),
    ({"id": "bad id!", "name": "x", "text": "{caption}"}, "id"),
    ({"id": "ok", "name": "x", "text": "  "}, "empty"),
    ({"id": "ok", "name": "x", "text": "{caption}", "fields": {"camera": 3}}, "fields"),
])
def test_invalid_templates_are_refused(tmp_path, data, words):
    store = TemplateStore(tmp_path / "t.json")
    with pytest.raises(PromptError, match=words):
        store.save(data)
    assert not (tmp_path / "t.json").exists()


def test_a_broken_file_shows_builtins_names_the_file_and_is_kept_aside(tmp_path):
    path = tmp_path / "prompt_templates.json"
    path.write_text("{ not json")
    store = TemplateStore(path)
    assert store.problem is not None and str(path) in store.problem
    assert [t.id for t in store.templates()] == [b.id for b in prompts.BUILTINS]
    store.save(Template("new", "New", "{caption}"))
    assert (tmp_path / "prompt_templates.json.bad").read_text() == "{ not json"
    assert TemplateStore(path).get("new").text == "{caption}"


def test_one_bad_entry_does_not_hide_the_good_ones(tmp_path):
    path = tmp_path / "t.json"
    path.write_text(json.dumps({"version": 1, "templates": [
        {"id": "good", "name": "Good", "text": "{caption} good"},
        {"id": "bad", "name": "Bad"}]}))
    store = TemplateStore(path)
    assert store.get("good").text == "{caption} good"
    assert "template 2" in store.problem and "'bad'" in store.problem
