"""Which captions a resumed run can keep: those made by the same model with the same settings.

A caption's stored settings are its ``CaptionResult.settings``: the settings asked for, with a
video's fps, max_frames and frame_size filled in from the model's defaults when none were
asked (a still keeps them empty). ``CaptionKey`` holds what a run asks for and the model's
defaults, which the workers report once they have loaded the model.
"""

from __future__ import annotations

from dataclasses import dataclass

SAMPLING_FIELDS = ("fps", "max_frames", "frame_size")  # filled from the model's defaults


@dataclass(frozen=True)
class CaptionKey:
    model: str  # the id the workers loaded it as (Captioner.model_id)
    asked: dict  # CaptionSettings.to_dict() of the run
    defaults: dict  # the model's fps, max_frames and frame_size

    @classmethod
    def of(cls, info, settings) -> CaptionKey:
        """The key of a run of ``settings`` on workers like ``info`` (a WorkerInfo)."""
        return cls(model=info.model_id, asked=settings.to_dict(), defaults=dict(info.defaults))

    def matches(self, model: str | None, stored: dict | None) -> bool:
        """Whether a caption made by ``model`` with ``stored`` settings is what this run
        would make."""
        if model != self.model or not isinstance(stored, dict):
            return False
        for name, asked in self.asked.items():
            value = stored.get(name)
            if name in SAMPLING_FIELDS:
                if value is None and asked is None:
                    continue  # a still, captioned with the model's defaults
                if value != (self.defaults.get(name) if asked is None else asked):
                    return False
            elif value != asked:
                return False
        return True
