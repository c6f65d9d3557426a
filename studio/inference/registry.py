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

# Video generators, all in the diffusers layout (model_index.json + component folders), loaded
# with ``from_pretrained``. ``loader`` is the class in the repo's model_index.json; LTX-Video's
# other modes come from the same weights through ``from_pipe``. Defaults are the model cards'
# (and diffusers' docs): distilled LTX checkpoints ~8 steps at guidance 1, decode_timestep 0.05
# and decode_noise_scale 0.025 for LTX-Video 0.9.1+ (its VAE is timestep-conditioned).
# Lightricks publishes LTX-Video 2B 0.9.6/0.9.8 distilled only as single-file checkpoints
# (ltxv-2b-0.9.8-distilled.safetensors in Lightricks/LTX-Video), which from_pretrained cannot
# load; the 2B entry is LTX-Video 0.9.5 (2B, the newest 2B in the diffusers layout).
_LTX = {"negative_prompt": "worst quality, inconsistent motion, blurry, jittery, distorted",
        "width": 768, "height": 512, "num_frames": 121, "fps": 24.0,
        "decode_timestep": 0.05, "decode_noise_scale": 0.025, "frame_step": 8,
        "size_multiple": 32}
GENERATORS = (
    ModelSpec("Lightricks/LTX-Video-0.9.5", "generator", "LTX-Video 2B (0.9.5)",
              "LTXConditionPipeline", {**_LTX, "steps": 40, "guidance_scale": 3.0}, 15.0),
    ModelSpec("Lightricks/LTX-Video-0.9.8-13B-distilled", "generator",
              "LTX-Video 13B distilled (0.9.8)", "LTXConditionPipeline",
              {**_LTX, "steps": 8, "guidance_scale": 1.0}, 38.0),
    ModelSpec("Lightricks/LTX-Video-0.9.7-dev", "generator", "LTX-Video 13B dev (0.9.7)",
              "LTXConditionPipeline", {**_LTX, "steps": 30, "guidance_scale": 3.0}, 38.0),
    # THUDM's repos moved to zai-org on the hub; the hub redirects the old id.
    ModelSpec("THUDM/CogVideoX-2b", "generator", "CogVideoX 2B", "DiffusionPipeline",
              {"negative_prompt": "", "width": 720, "height": 480, "num_frames": 49, "fps": 8.0,
               "steps": 50, "guidance_scale": 6.0, "frame_step": 4, "size_multiple": 16}, 13.0),
    ModelSpec("Wan-AI/Wan2.1-T2V-1.3B-Diffusers", "generator", "Wan 2.1 text-to-video 1.3B",
              "DiffusionPipeline",
              {"width": 832, "height": 480, "num_frames": 81, "fps": 16.0, "steps": 50,
               "guidance_scale": 5.0, "frame_step": 4, "size_multiple": 16}, 17.0),
    ModelSpec("demo/ltx-video-tiny", "generator", "Demo LTX-Video (tiny, random weights)",
              "LTXPipeline",
              {**_LTX, "width": 64, "height": 64, "num_frames": 9, "steps": 4,
               "guidance_scale": 1.0, "frame_step": 4}, 0.0),
)

DEFAULT_GENERATOR = GENERATORS[0].id

MODELS: dict[str, ModelSpec] = {m.id: m for m in (*CAPTIONERS, *GENERATORS)}


def get(model_id: str) -> ModelSpec | None:
    """The registry entry for ``model_id``, or None (a local folder or an unknown hub id)."""
    return MODELS.get(model_id)


def models(kind: str | None = None) -> list[ModelSpec]:
    return [m for m in MODELS.values() if kind is None or m.kind == kind]
