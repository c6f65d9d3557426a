"""What a project stores with a model caption (``Project.add_caption``'s params), made the same
way wherever the caption was made: the window, or a cluster run of ``studio caption``. Cheap
to import (no torch)."""

from __future__ import annotations

from studio.inference import registry


def caption_params(result) -> dict:
    """What is stored with a model caption (a ``CaptionResult``): the settings it was made
    with, the frames the model saw, how long it took, and the demo label for a random-weight
    model."""
    params = dict(result.settings or {})
    params["frame_indices"] = [int(i) for i in result.frame_indices]
    params["frame_times"] = [round(float(t), 4) for t in result.frame_times]
    params["seconds"] = round(float(result.seconds), 3)
    if result.demo:
        params["demo"] = True
        params["label"] = registry.DEMO_LABEL
    return params
