"""Models Studio knows: id, kind, the class that loads it, and its defaults.

Ids are hub ids ("HuggingFaceTB/SmolVLM2-256M-Video-Instruct"); demo models built offline by
``studio models make-demo`` have ids under ``demo/`` and random weights. Anything made with a
demo model is labelled "demo model: random weights".
"""

from __future__ import annotations

from dataclasses import dataclass, field

DEMO_PREFIX = "demo/"
DEMO_LABEL = "demo model: random weights"


@dataclass(frozen=True)
class ModelSpec:
    id: str
    kind: str  # "captioner" | "generator"
    title: str
    loader: str  # the transformers / diffusers class that loads it
    defaults: dict = field(default_factory=dict)
    size_gb: float = 0.0  # download size, roughly, for `studio models list`

    @property
    def demo(self) -> bool:
        return self.id.startswith(DEMO_PREFIX)


CAPTIONERS = (
    ModelSpec("HuggingFaceTB/SmolVLM2-256M-Video-Instruct", "captioner", "SmolVLM2 256M (video)",
              "SmolVLMForConditionalGeneration", {"max_new_tokens": 256}, 0.5),
    ModelSpec("HuggingFaceTB/SmolVLM2-500M-Video-Instruct", "captioner", "SmolVLM2 500M (video)",
              "SmolVLMForConditionalGeneration", {"max_new_tokens": 256}, 1.0),
    ModelSpec("HuggingFaceTB/SmolVLM2-2.2B-Instruct", "captioner", "SmolVLM2 2.2B",
              "SmolVLMForConditionalGeneration", {"max_new_tokens": 256}, 4.5),
    ModelSpec("demo/smolvlm2-tiny", "captioner", "Demo captioner (tiny, random weights)",
              "SmolVLMForConditionalGeneration", {"max_new_tokens": 24}, 0.0),
)

DEFAULT_CAPTIONER = CAPTIONERS[0].id

MODELS: dict[str, ModelSpec] = {m.id: m for m in CAPTIONERS}


def get(model_id: str) -> ModelSpec | None:
    """The registry entry for ``model_id``, or None (a local folder or an unknown hub id)."""
    return MODELS.get(model_id)


def models(kind: str | None = None) -> list[ModelSpec]:
    return [m for m in MODELS.values() if kind is None or m.kind == kind]
