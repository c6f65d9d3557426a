"""Whether a model can enhance its prompt (LTX-2's opt-in prompt enhancement), and if not, why:
what the prompt panel says beside its "Enhance prompt" box before anything is loaded.

LTX-2 and LTX-2.3 enhance with their own text encoder: Gemma 3 doubles as the enhancer
(diffusers' LTX2Pipeline.enhance_prompt falls back to ``text_encoder``; Lightricks'
ltx-pipelines: "--prompt-enhancer-gemma-root ... Ignored for gemma3 encode roots"), through a
``Gemma3Processor``, which the published diffusers repos keep in ``tokenizer/`` (its
processor_config.json). LTX-2.5's text encoder is a Gemma 4 fine-tuned for LTX and "isn't
trained for enhancement" (diffusers): its pipeline needs a separate ``prompt_enhancer``, a
generative Gemma 4 (``google/gemma-4-E2B-it`` in diffusers' utils and Lightricks'
``--prompt-enhancer-gemma-root``), which Lightricks' repos do not ship.

Pure Python: reads a folder's model_index.json and text_encoder/config.json, nothing else.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from studio.core.params import read_json_object, rules_for

NEEDS_ENHANCER = (
    "LTX-2.5's text encoder is not trained to enhance prompts: enhancement needs a separate "
    "prompt_enhancer model (a generative Gemma 4, google/gemma-4-E2B-it), which Lightricks' "
    "repos do not ship")


class Enhancement(NamedTuple):
    applies: bool  # the model has the setting at all (LTX-2)
    available: bool
    reason: str  # how it enhances, or why it cannot


def prompt_enhancement(model: str | None) -> Enhancement:
    """Whether ``model`` (a model id or a diffusers folder) enhances prompts, and how or why
    not. A hub id is judged by its rules (its files may not be here yet); a folder by its
    files."""
    rules = rules_for(model)
    if rules.family != "ltx2":
        return Enhancement(False, False, f"{rules.title} has no prompt enhancement")
    folder = Path(str(model)) if model else None
    if folder is not None and _is_file(folder / "model_index.json"):
        return _from_folder(folder)
    if rules.id == "ltx2.5":
        return Enhancement(True, False, NEEDS_ENHANCER)
    return Enhancement(True, True, _GEMMA3)


_GEMMA3 = ("the Gemma 3 text encoder rewrites the prompt before the run, with Lightricks' "
           "system prompts (it may take a while)")


def _from_folder(folder: Path) -> Enhancement:
    index = read_json_object(folder / "model_index.json")
    if _named(index.get("prompt_enhancer")):
        return Enhancement(True, True, "the model's own prompt enhancer rewrites the prompt "
                                       "before the run (it may take a while)")
    encoder = read_json_object(folder / "text_encoder" / "config.json").get("model_type", "")
    if encoder != "gemma3":
        return Enhancement(True, False, NEEDS_ENHANCER if str(encoder).startswith("gemma4")
                           else f"its text encoder ({encoder or 'unknown'}) cannot enhance")
    if not (_named(index.get("processor"))
            or _is_file(folder / "tokenizer" / "processor_config.json")):
        return Enhancement(True, False, f"{folder / 'tokenizer'} has no processor_config.json "
                                        "(the Gemma 3 processor enhancement needs)")
    return Enhancement(True, True, _GEMMA3)


def _named(entry) -> bool:
    """A model_index.json entry that names a component ([library, class], neither null)."""
    return isinstance(entry, list) and len(entry) == 2 and all(entry)


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False
