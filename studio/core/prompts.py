"""Caption -> prompt templates ("Prompt from caption").

A template is text with placeholders: ``{caption}`` (the clip's caption) and named fields such
as ``{camera}``, ``{quality}``, ``{lighting}``, each with a default the template carries and the
panel may override. Filling is one pass over the template, never ``str.format``: a placeholder
nobody filled stays as written, and braces inside a caption or a field value are plain text
(they are never read as placeholders). Whitespace is tidied afterwards, so an empty field
leaves no double space.

Built-in templates ship with Studio; a person's own templates (new ones, and edited copies of
built-ins, which shadow the original until reset) live in ``prompt_templates.json`` under
``settings.config_dir()``, written atomically. :func:`from_caption` returns the raw caption and
the final prompt together, so both can be recorded with a generation.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from studio import settings

FILE_NAME = "prompt_templates.json"
FILE_VERSION = 1
DEFAULT_TEMPLATE = "camera-quality"

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")

#: Camera moves the panel offers for ``{camera}`` (each a full sentence).
CAMERA_MOVES = {
    "static": "The camera holds a steady, static shot.",
    "pan-left": "The camera slowly pans to the left.",
    "pan-right": "The camera slowly pans to the right.",
    "tilt-up": "The camera slowly tilts up.",
    "tilt-down": "The camera slowly tilts down.",
    "zoom-in": "The camera slowly zooms in.",
    "zoom-out": "The camera slowly zooms out.",
    "dolly-in": "The camera dollies forward toward the subject.",
    "tracking": "The camera tracks the subject as it moves.",
    "orbit": "The camera orbits slowly around the subject.",
    "handheld": "The camera is handheld, with slight natural shake.",
}


class PromptError(ValueError):
    """A template that cannot be used or stored; the message names the template or file."""


@dataclass(frozen=True)
class Template:
    id: str
    name: str
    text: str
    fields: Mapping[str, str] = field(default_factory=dict)  # placeholder -> default value
    builtin: bool = False

    def placeholders(self) -> list[str]:
        return placeholders(self.text)

    def to_dict(self) -> dict:
        return {"id": self.id, "name": self.name, "text": self.text, "fields": dict(self.fields)}

    @classmethod
    def from_dict(cls, data: object, *, where: str = "template") -> Template:
        if not isinstance(data, dict):
            raise PromptError(f"{where}: expected an object with id, name and text")
        tid, name, text = data.get("id"), data.get("name"), data.get("text")
        fields = data.get("fields", {}) or {}
        if not isinstance(tid, str) or not _ID.match(tid):
            raise PromptError(f"{where}: id must be 1-64 letters, digits, '-', '_' or '.', "
                              f"got {tid!r}")
        if not isinstance(text, str) or not text.strip():
            raise PromptError(f"{where} {tid!r}: the template text is empty")
        if name is None:
            name = tid
        if not isinstance(name, str):
            raise PromptError(f"{where} {tid!r}: name must be text")
        if not isinstance(fields, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in fields.items()):
            raise PromptError(f"{where} {tid!r}: fields must map names to text")
        return cls(tid, name.strip() or tid, text, dict(fields))


@dataclass(frozen=True)
class FromCaption:
    """What "Prompt from caption" made: both texts are recorded with the generation."""

    caption: str  # the caption exactly as it was
    prompt: str  # the final prompt
    template_id: str | None
    fields: Mapping[str, str] = field(default_factory=dict)  # the values filled in

    def to_dict(self) -> dict:
        return {"caption": self.caption, "prompt": self.prompt, "template_id": self.template_id,
                "fields": dict(self.fields)}


_QUALITY = "High quality, sharp details, natural colors, smooth motion."

BUILTINS: tuple[Template, ...] = (
    Template("caption", "Caption only", "{caption}", {}, builtin=True),
    Template("camera-quality", "Caption, camera, quality",
             "{caption} {camera} {quality}",
             {"camera": CAMERA_MOVES["static"], "quality": _QUALITY}, builtin=True),
    # LTX-Video's prompt guide: the action first, then details, camera, lighting; its examples
    # end with "The scene appears to be real-life footage".
    Template("ltx-cinematic", "LTX-Video cinematic",
             "{caption} {camera} {lighting} The scene appears to be real-life footage.",
             {"camera": "The camera moves slowly and smoothly.",
              "lighting": "The lighting is soft and natural."}, builtin=True),
    Template("animation", "Animation",
             "{caption} {camera} The video is a smooth, colorful 3D animation.",
             {"camera": CAMERA_MOVES["static"]}, builtin=True),
)


def placeholders(text: str) -> list[str]:
    """The placeholder names in ``text``, in order, each once."""
    seen: dict[str, None] = {}
    for m in _PLACEHOLDER.finditer(text):
        seen.setdefault(m.group(1), None)
    return list(seen)


def fill(text: str, values: Mapping[str, str]) -> str:
    """Replace each ``{name}`` in ``text`` whose name is in ``values``; leave the others as
    written. One pass: braces in the values are never read as placeholders."""
    def sub(m: re.Match) -> str:
        name = m.group(1)
        return str(values[name]) if name in values else m.group(0)
    return _PLACEHOLDER.sub(sub, text)


def tidy(text: str) -> str:
    """Collapse runs of spaces and tabs (an empty field leaves none behind), trim each line
    and drop blank lines."""
    lines = []
    for line in text.splitlines():
        line = re.sub(r"[ \t]+", " ", line).strip()
        if line:
            lines.append(line)
    return "\n".join(lines)


def clean_caption(caption: str) -> str:
    """The caption as it goes into a prompt: one line, single spaces, ending in a sentence
    mark (a period is added when it ends without one)."""
    text = " ".join(str(caption).split())
    if text and text[-1] not in ".!?…\"')]":
        text += "."
    return text


def render(template: Template | str, caption: str, **fields: str) -> str:
    """The prompt ``template`` makes from ``caption``. ``template`` is a :class:`Template` or
    template text; ``fields`` override the template's defaults (``camera=""`` leaves the
    camera line out). Placeholders without a value stay literal."""
    tpl = template if isinstance(template, Template) else Template("text", "text", template)
    values = dict(tpl.fields)
    values.update({k: "" if v is None else str(v) for k, v in fields.items()})
    values["caption"] = clean_caption(caption)
    return tidy(fill(tpl.text, values))


def from_caption(template: Template | str, caption: str, **fields: str) -> FromCaption:
    """:func:`render`, with the raw caption, the template id and the filled values, for the
    record."""
    tpl = template if isinstance(template, Template) else None
    values = dict(tpl.fields) if tpl else {}
    values.update({k: "" if v is None else str(v) for k, v in fields.items()})
    used = placeholders(tpl.text if tpl else str(template))
    return FromCaption(caption=caption, prompt=render(template, caption, **fields),
                       template_id=tpl.id if tpl else None,
                       fields={k: values[k] for k in used if k in values})


# --- the user's templates ----------------------------------------------------------------


def default_path() -> Path:
    return settings.config_dir() / FILE_NAME


class TemplateStore:
    """Built-in templates plus the person's own, kept in a JSON file.

    A user template with a built-in's id shadows it (an edited built-in); :meth:`delete` on it
    brings the original back. A file that cannot be read does not stop Studio: the store shows
    the built-ins, :attr:`problem` says what is wrong with the file, and the next save moves the
    bad file aside (``.bad``) rather than losing it silently.
    """

    def __init__(self, path: str | os.PathLike | None = None):
        self.path = Path(path) if path is not None else default_path()
        self.problem: str | None = None
        self._user: dict[str, Template] = {}
        self.reload()

    def reload(self) -> None:
        self.problem = None
        self._user = {}
        try:
            raw = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return
        except OSError as exc:
            self.problem = f"{self.path}: cannot read ({exc.strerror or exc})"
            return
        try:
            data = json.loads(raw)
        except ValueError as exc:
            self.problem = f"{self.path}: not valid JSON ({exc})"
            return
        items = data.get("templates") if isinstance(data, dict) else None
        if not isinstance(items, list):
            self.problem = f"{self.path}: expected an object with a \"templates\" list"
            return
        bad = []
        for i, item in enumerate(items):
            try:
                tpl = Template.from_dict(item, where=f"{self.path}: template {i + 1}")
            except PromptError as exc:
                bad.append(str(exc))
                continue
            self._user[tpl.id] = tpl
        if bad:
            self.problem = "; ".join(bad)

    def templates(self) -> list[Template]:
        """Built-ins first (an edited one in its place), then the person's own by name."""
        out = [self._user.get(b.id, b) for b in BUILTINS]
        builtin_ids = {b.id for b in BUILTINS}
        out += sorted((t for t in self._user.values() if t.id not in builtin_ids),
                      key=lambda t: (t.name.lower(), t.id))
        return out

    def ids(self) -> list[str]:
        return [t.id for t in self.templates()]

    def get(self, template_id: str) -> Template:
        for tpl in self.templates():
            if tpl.id == template_id:
                return tpl
        raise PromptError(f"no prompt template {template_id!r} (known: {', '.join(self.ids())})")

    def is_edited(self, template_id: str) -> bool:
        """Whether ``template_id`` is a built-in the person changed."""
        return template_id in self._user and any(b.id == template_id for b in BUILTINS)

    def save(self, template: Template | Mapping) -> Template:
        """Add or replace a user template (a built-in's id stores an edited copy)."""
        data = template.to_dict() if isinstance(template, Template) else dict(template)
        tpl = Template.from_dict(data)
        self._user[tpl.id] = tpl
        self._write()
        return tpl

    def delete(self, template_id: str) -> None:
        """Remove a user template, or an edited built-in's changes. Built-ins stay."""
        if template_id not in self._user:
            if any(b.id == template_id for b in BUILTINS):
                raise PromptError(f"{template_id!r} is a built-in template; it cannot be removed")
            raise PromptError(f"no prompt template {template_id!r}")
        del self._user[template_id]
        self._write()

    def _write(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.problem is not None and self.path.exists():
            self.path.replace(self.path.with_name(self.path.name + ".bad"))
            self.problem = None
        payload = {"version": FILE_VERSION,
                   "templates": [t.to_dict() for t in self._user.values()]}
        _atomic_write(self.path, json.dumps(payload, indent=2, ensure_ascii=False) + "\n")


def _atomic_write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def builtin(template_id: str) -> Template:
    for tpl in BUILTINS:
        if tpl.id == template_id:
            return tpl
    raise PromptError(f"no built-in prompt template {template_id!r}")

