"""SmolVLM2 captions for clips and stills (API outline; the implementation is in progress).

Frames come from ``studio.core.frames`` (PyAV), sampled by SmolVLM2's own rule within a clip's
in/out range; the prompt is built exactly as ``SmolVLMProcessor`` builds it for a video and the
frames go through the model's PIL image processor, so no torchvision or torchcodec is needed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Callable

from studio.core.cancel import CancelToken
from studio.core.frames import Frame

PROMPT_PRESETS: dict[str, str] = {
    "detailed": "Describe this video in detail.",
    "short": "Describe this video in one short sentence.",
    "training": ("Write a caption for training a video model: the subject, what happens, "
                 "the camera movement and the visual style, in one paragraph."),
}
DEFAULT_PRESET = "detailed"


@dataclass
class CaptionSettings:
    preset: str = DEFAULT_PRESET  # a PROMPT_PRESETS key, or "custom"
    prompt: str | None = None  # the text for "custom"
    max_new_tokens: int = 256
    do_sample: bool = False  # greedy by default: the same clip and settings, the same caption
    temperature: float = 0.7
    top_p: float = 0.9
    fps: float | None = None  # None: the model's video_sampling default
    max_frames: int | None = None
    frame_size: int | None = None  # longest edge; None: the model's default

    def prompt_text(self) -> str:
        if self.preset == "custom":
            if not (self.prompt or "").strip():
                raise ValueError("prompt: a custom prompt needs some text")
            return self.prompt.strip()
        if self.preset not in PROMPT_PRESETS:
            raise ValueError(f"preset: unknown preset {self.preset!r}; "
                             f"one of {', '.join([*PROMPT_PRESETS, 'custom'])}")
        return PROMPT_PRESETS[self.preset]

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class CaptionResult:
    text: str
    model_id: str
    prompt: str
    settings: dict
    frame_indices: list[int]
    frame_times: list[float]  # seconds from the start of the file
    seconds: float  # wall time of the whole caption
    demo: bool = False  # made by a demo model (random weights)
    frames: list[Frame] = field(default_factory=list, repr=False)  # what the model saw


TextCallback = Callable[[str], None]  # receives each new piece of text as it streams
FramesCallback = Callable[[list[Frame]], None]  # receives the sampled frames before generation


class Captioner:
    """A loaded SmolVLM2 (model, tokenizer, image processor) on one device.

    ``caption()`` may be called many times; the model stays loaded. Not thread-safe: one
    caption at a time (the engine guarantees it).
    """

    @classmethod
    def load(cls, model: str, device=None) -> "Captioner":
        """``model``: a registry/hub id or a local folder. Raises
        ``studio.inference.loading.ModelError`` with a message a person can act on."""
        raise NotImplementedError

    def caption(self, path: str, settings: CaptionSettings | None = None, *,
                in_frame: int | None = None, out_frame: int | None = None,
                on_text: TextCallback | None = None, on_frames: FramesCallback | None = None,
                cancel: CancelToken | None = None) -> CaptionResult:
        """Caption one clip or still. Raises ``MediaError`` for a bad file and
        ``studio.core.cancel.Cancelled`` when ``cancel`` fires mid-generation."""
        raise NotImplementedError

    def unload(self) -> None:
        """Drop the weights (and free device memory)."""
        raise NotImplementedError
