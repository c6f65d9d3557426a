"""SmolVLM2 captions for clips and stills.

Frames come from ``studio.core.frames`` (PyAV), sampled by SmolVLM2's own rule within a clip's
in/out range; the prompt is built exactly as ``SmolVLMProcessor`` builds it for a video and the
frames go through the model's PIL image processor, so no torchvision or torchcodec is needed.

How SmolVLMProcessor handles a video, and what is reproduced here:

* Sampling (``SmolVLMVideoProcessor.sample_frames``): ``round(fps * duration)`` frames, at most
  ``max_frames``, spread by ``linspace`` over the video; a video longer than
  ``max_frames / fps + 2`` seconds first loses one second at each end. The clip's in/out range
  is the video here. ``fps`` and ``max_frames`` default to the folder's ``video_sampling``.
* Frames: resized keeping their aspect to the video processor's longest edge, then squashed to
  the vision encoder's square (``max_image_size``), as one image each with no splitting. The
  longest edge is what SmolVLMVideoProcessor itself uses: the config's ``size`` when the config
  also has ``video_sampling`` (its backward-compatible rule), else ``video_sampling.video_size``.
* Text: the chat template renders ``<video>`` in the user turn, which becomes "You are provided
  the following series of {n in words} frames from a {H:MM:SS} [H:MM:SS] video." and, per frame,
  "Frame from MM:SS:" with that frame's ``<fake_token_around_image><global-img><image>...``
  run; timestamps are ``frame index / fps`` within the clip.

A still image goes the processor's image path: the folder's chat template with ``<image>``, the
image processor's own settings (with tile splitting), and ``<row_i_col_j>`` runs per tile.

torch and transformers are imported on the first ``Captioner.load``, never at import time.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import json
import math
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from studio.core.cancel import Cancelled, CancelToken

if TYPE_CHECKING:  # core.frames imports PyAV and numpy; the CLI's parser imports this module
    from studio.core.frames import Frame

PROMPT_PRESETS: dict[str, str] = {
    "detailed": "Describe this video in detail.",
    "short": "Describe this video in one short sentence.",
    "training": ("Write a caption for training a video model: the subject, what happens, "
                 "the camera movement and the visual style, in one paragraph."),
}
# The same presets for a still image (a custom prompt is used as written).
IMAGE_PROMPT_PRESETS: dict[str, str] = {
    "detailed": "Describe this image in detail.",
    "short": "Describe this image in one short sentence.",
    "training": ("Write a caption for training an image model: the subject, the composition, "
                 "the lighting and the visual style, in one paragraph."),
}
DEFAULT_PRESET = "detailed"

# SmolVLMVideoProcessor's defaults, for a folder whose config leaves them out.
DEFAULT_FPS = 1.0
DEFAULT_MAX_FRAMES = 64
DEFAULT_FRAME_SIZE = 4 * 364
DEFAULT_MAX_IMAGE_SIZE = 364
SKIP_SECONDS = 1  # trimmed from each end of a long video (sample_frames' skip_secs)


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

    def prompt_text(self, still: bool = False) -> str:
        if self.preset == "custom":
            if not (self.prompt or "").strip():
                raise ValueError("prompt: a custom prompt needs some text")
            return self.prompt.strip()
        if self.preset not in PROMPT_PRESETS:
            raise ValueError(f"preset: unknown preset {self.preset!r}; "
                             f"one of {', '.join([*PROMPT_PRESETS, 'custom'])}")
        return (IMAGE_PROMPT_PRESETS if still else PROMPT_PRESETS)[self.preset]

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first setting out of range."""
        self.prompt_text()

        def bad(name: str, rule: str, value) -> ValueError:
            return ValueError(f"{name}: must be {rule}, not {value!r}")

        if isinstance(self.max_new_tokens, bool) or not isinstance(self.max_new_tokens, int) \
                or not 1 <= self.max_new_tokens <= MAX_NEW_TOKENS:
            raise bad("max_new_tokens", f"a whole number from 1 to {MAX_NEW_TOKENS}",
                      self.max_new_tokens)
        if self.do_sample:
            if not (isinstance(self.temperature, (int, float)) and self.temperature > 0
                    and math.isfinite(self.temperature)):
                raise bad("temperature", "a number above 0", self.temperature)
            if not (isinstance(self.top_p, (int, float)) and 0 < self.top_p <= 1):
                raise bad("top_p", "a number above 0 and at most 1", self.top_p)
        if self.fps is not None and not (isinstance(self.fps, (int, float))
                                         and math.isfinite(self.fps) and self.fps > 0):
            raise bad("fps", "a number of frames per second above 0", self.fps)
        if self.fps is not None and self.fps > MAX_FPS:
            raise bad("fps", f"at most {MAX_FPS} frames per second", self.fps)
        for name, most in (("max_frames", MAX_FRAMES), ("frame_size", MAX_FRAME_SIZE)):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                      or not 1 <= value <= most):
                raise bad(name, f"a whole number from 1 to {most}", value)

    def to_dict(self) -> dict:
        return asdict(self)


# Limits on settings that come from outside (the command line, a project): a caption is a few
# hundred tokens (SmolVLM2's context is 8192, shared with the frames); a video prompt of more
# than a few hundred frames fills that context many times over
MAX_NEW_TOKENS = 4096
MAX_FRAMES = 512
MAX_FRAME_SIZE = 4096
MAX_FPS = 240.0


@dataclass
class CaptionResult:
    text: str
    model_id: str
    prompt: str
    settings: dict  # CaptionSettings.to_dict(); for a video, fps, max_frames and frame_size filled in
    frame_indices: list[int]
    frame_times: list[float]  # seconds from the start of the file
    seconds: float  # wall time of the whole caption
    demo: bool = False  # made by a demo model (random weights)
    # the frames the model saw, shrunk to fit PREVIEW_SIZE (for the strip under a caption)
    frames: list[Frame] = field(default_factory=list, repr=False)


TextCallback = Callable[[str], None]  # receives each new piece of text as it streams
FramesCallback = Callable[[list["Frame"]], None]  # receives the sampled frames before generation


@dataclass
class PreparedInput:
    """What goes into ``model.generate`` for one clip, before it runs."""

    text: str  # the full prompt, image tokens expanded
    prompt: str  # the user's request (a preset's text or the custom prompt)
    still: bool
    frames: list[Frame]  # previews (PREVIEW_SIZE), not the full-size frames
    frame_indices: list[int]
    frame_times: list[float]
    tensors: dict  # input_ids, attention_mask, pixel_values, pixel_attention_mask (on the device)
    settings: CaptionSettings  # with fps / max_frames / frame_size resolved


# ---- SmolVLMProcessor's rules, without torch ------------------------------------------------------

def number_words(n: int) -> str:
    """``n`` in English words, as SmolVLMProcessor writes a video's frame count (num2words:
    "twenty-one", "one hundred and five")."""
    from num2words import num2words

    return num2words(int(n))


def sample_frame_indices(total_frames: int, video_fps: float, duration_s: float, *,
                         fps: float, max_frames: int, skip_secs: float = SKIP_SECONDS) -> list[int]:
    """Indices (0-based, within the video) that ``SmolVLMVideoProcessor.sample_frames`` picks
    for a video of ``total_frames`` frames at ``video_fps`` lasting ``duration_s`` seconds."""
    import numpy as np

    desired = max(1, min(round(fps * duration_s), max_frames))
    start, end = 0, total_frames - 1
    if skip_secs > 0 and (duration_s - 2 * skip_secs) > (max_frames * fps):
        start = int(skip_secs * video_fps)
        end = int(total_frames - skip_secs * video_fps)
    start = max(0, start)
    end = min(end, total_frames - 1)
    if start >= end:
        start, end = 0, total_frames - 1
    return [int(i) for i in np.unique(np.linspace(start, end, desired, dtype=int))]


def image_run(image_seq_len: int, tokens: PromptTokens) -> str:
    """One frame (or one untiled image) as SmolVLMProcessor writes it."""
    return (tokens.fake_image + tokens.global_image + tokens.image * image_seq_len
            + tokens.fake_image)


def tiled_image_run(rows: int, cols: int, image_seq_len: int, tokens: PromptTokens) -> str:
    """A still cut into rows x cols tiles plus the whole image (SmolVLMProcessor's
    ``get_image_prompt_string``); 0 x 0 is an untiled image."""
    if rows == 0 and cols == 0:
        return image_run(image_seq_len, tokens)
    text = ""
    for r in range(rows):
        for c in range(cols):
            text += tokens.fake_image + f"<row_{r + 1}_col_{c + 1}>" + tokens.image * image_seq_len
        text += "\n"
    return text + "\n" + image_run(image_seq_len, tokens)


def video_run(timestamps_s: list[float], duration_s: float, image_seq_len: int,
              tokens: PromptTokens) -> str:
    """What SmolVLMProcessor puts in place of ``<video>``: the intro sentence, then per frame
    "Frame from MM:SS:" and its image run, then a blank line."""
    duration = timedelta(seconds=int(duration_s))
    text = (f"You are provided the following series of {number_words(len(timestamps_s))} frames "
            f"from a {duration} [H:MM:SS] video.\n")
    for t in timestamps_s:
        text += f"\nFrame from {int(t // 60):02d}:{int(t % 60):02d}:" + image_run(image_seq_len, tokens)
    return text + "\n\n"


@dataclass(frozen=True)
class PromptTokens:
    image: str = "<image>"
    fake_image: str = "<fake_token_around_image>"
    global_image: str = "<global-img>"
    video: str = "<video>"

    @classmethod
    def of(cls, tokenizer) -> PromptTokens:
        """The tokens a tokenizer names (SmolVLMProcessor reads the same attributes)."""
        return cls(image=getattr(tokenizer, "image_token", None) or cls.image,
                   fake_image=getattr(tokenizer, "fake_image_token", None) or cls.fake_image,
                   global_image=getattr(tokenizer, "global_image_token", None) or cls.global_image,
                   video=getattr(tokenizer, "video_token", None) or cls.video)


# ---- the folder's processor settings ---------------------------------------------------------------

@dataclass(frozen=True)
class VideoSampling:
    """A folder's video defaults, as SmolVLMVideoProcessor reads them."""

    fps: float = DEFAULT_FPS
    max_frames: int = DEFAULT_MAX_FRAMES
    frame_size: int = DEFAULT_FRAME_SIZE  # longest edge before the squash to max_image_size
    max_image_size: int = DEFAULT_MAX_IMAGE_SIZE
    overrides: dict = field(default_factory=dict)  # image-processor settings of the video config

    @classmethod
    def from_folder(cls, folder: Path) -> VideoSampling:
        image_cfg = _read_json_or_empty(folder / "preprocessor_config.json")
        video_path = folder / "video_preprocessor_config.json"
        video_cfg = _read_json_or_empty(video_path) if video_path.is_file() else image_cfg
        sampling = video_cfg.get("video_sampling") or image_cfg.get("video_sampling") or {}
        size = None
        if "size" in video_cfg and "video_sampling" in video_cfg:
            size = _longest_edge(video_cfg["size"])  # SmolVLMVideoProcessor.__init__'s rule
        if size is None:
            size = _longest_edge(sampling.get("video_size"))
        max_image = _longest_edge(video_cfg.get("max_image_size")) or DEFAULT_MAX_IMAGE_SIZE
        overrides = {k: video_cfg[k] for k in ("resample", "do_rescale", "rescale_factor",
                                               "do_normalize", "image_mean", "image_std",
                                               "do_convert_rgb") if k in video_cfg}
        return cls(fps=float(sampling.get("fps") or DEFAULT_FPS),
                   max_frames=int(sampling.get("max_frames") or DEFAULT_MAX_FRAMES),
                   frame_size=int(size or DEFAULT_FRAME_SIZE), max_image_size=int(max_image),
                   overrides=overrides)


def _longest_edge(size) -> int | None:
    if isinstance(size, dict):
        if size.get("longest_edge"):
            return int(size["longest_edge"])
        if size.get("height") and size.get("width"):
            return max(int(size["height"]), int(size["width"]))
    if isinstance(size, int) and not isinstance(size, bool) and size > 0:
        return size
    return None


def _read_json_or_empty(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


# ---- loading -------------------------------------------------------------------------------------

def _import_heavy() -> None:
    """Import torch and transformers (once), then freeze the heap they made: a full collection
    of the torch heap holds the GIL for 200-350 ms (DESIGN.md), which would freeze the GUI.
    The collector is off during the imports and there is no collection before the freeze,
    for the same reason (as ``engine.import_ml_stack``, which may have done this already)."""
    import sys

    if "transformers.models.smolvlm.modeling_smolvlm" in sys.modules:
        return
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        import torch  # noqa: F401
        import transformers  # noqa: F401
        from transformers.models.smolvlm import (  # noqa: F401
            image_processing_pil_smolvlm,
            modeling_smolvlm,
        )
    finally:
        gc.freeze()
        if was_enabled:
            gc.enable()


@contextlib.contextmanager
def quiet_progress():
    """transformers' progress bars ("Loading weights", "Writing model shards") off inside; the
    previous state is restored. They would litter the CLI's stderr and the logs."""
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    if was_enabled:
        hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


def _resolve(model: str):
    """(id, folder, demo) for ``model``: a local folder, a ``demo/...`` id or a hub id."""
    from studio.inference.loading import resolve

    found = resolve(str(model), expect="captioner")
    return found.id, Path(found.path), bool(found.demo)


def _folder_error(folder: Path, detail: str):
    from studio.inference.loading import ModelFolderError

    return ModelFolderError(f"{folder}: {detail}")


class Captioner:
    """A loaded SmolVLM2 (model, tokenizer, image processor) on one device.

    ``caption()`` may be called many times; the model stays loaded. Not thread-safe: one
    caption at a time (the engine guarantees it).
    """

    def __init__(self, *, model, tokenizer, image_processor, model_id: str, path: Path,
                 demo: bool, device: str, dtype_name: str, sampling: VideoSampling,
                 image_seq_len: int, image_template: str, video_template: str):
        self.model = model
        self.tokenizer = tokenizer
        self.image_processor = image_processor
        self.model_id = model_id
        self.path = path
        self.demo = demo
        self.device = device
        self.dtype_name = dtype_name
        self.sampling = sampling
        self.image_seq_len = image_seq_len
        self.image_template = image_template
        self.video_template = video_template
        self.tokens = PromptTokens.of(tokenizer)

    # ---- loading ----

    @classmethod
    def load(cls, model: str, device=None) -> Captioner:
        """``model``: a registry/hub id, a ``demo/...`` id or a local folder. ``device``:
        "cuda", "mps" or "cpu" to prefer one (default: the best present). Raises
        ``studio.inference.loading.ModelError`` with a message a person can act on."""
        from studio.inference.devices import DeviceChoice, pick_device

        model_id, folder, demo = _resolve(model)
        choice = device if isinstance(device, DeviceChoice) else pick_device(device)
        _import_heavy()
        config = _read_json_or_empty(folder / "config.json")
        model_type = config.get("model_type")
        if model_type != "smolvlm":
            raise _folder_error(folder, f"a {model_type or 'unknown'} model, not SmolVLM2 "
                                "(config.json model_type must be smolvlm). Studio captions "
                                "with SmolVLM2 models: see `studio models list`.")
        try:
            with quiet_progress():
                parts = _load_parts(folder, choice)
        except Exception as err:
            from studio.inference.loading import ModelError

            if isinstance(err, ModelError):
                raise
            raise _folder_error(folder, f"cannot be loaded as a SmolVLM2 model, it looks "
                                f"damaged: {_first_line(err)}") from err
        # The model's own objects are not frozen: unload() can then free them with a
        # collection that never walks the (frozen) torch heap.
        return cls(model_id=model_id, path=folder, demo=demo, device=choice.device,
                   dtype_name=choice.dtype_name, **parts)

    def unload(self) -> None:
        """Drop the weights (and free device memory)."""
        from studio.inference.devices import free_memory

        if self.model is None:
            return
        self.model = None
        self.tokenizer = None
        self.image_processor = None
        free_memory(self.device)

    @property
    def loaded(self) -> bool:
        return self.model is not None

    # ---- captioning ----

    def prepare(self, path: str | Path, settings: CaptionSettings | None = None, *,
                in_frame: int | None = None, out_frame: int | None = None,
                cancel: CancelToken | None = None) -> PreparedInput:
        """Sample the frames of ``path`` (within in_frame..out_frame, both included) and build
        the model's inputs, without generating. Raises ``MediaError`` for a bad file and
        ``ValueError`` for bad settings or a bad range."""
        from studio.core.frames import FrameReader

        self._check_loaded()
        settings = dataclasses.replace(settings or CaptionSettings())
        settings.validate()
        with FrameReader(path) as reader:
            count = reader.frame_count
            still = reader.duration_s <= 0.0  # one frame in an image format
            prompt = settings.prompt_text(still=still)
            self._check_prompt(prompt)
            if still:
                if in_frame not in (None, 0) or out_frame not in (None, 0):
                    raise ValueError(f"{reader.path}: a still image has only frame 0")
                frame = reader.frame_at(0)
                text, tensors = self._image_inputs(frame, prompt)
                return PreparedInput(text=text, prompt=prompt, still=True,
                                     frames=[_preview(frame)], frame_indices=[0],
                                     frame_times=[frame.time_s], tensors=tensors,
                                     settings=settings)
            first, last = _checked_range(reader.path, count, in_frame, out_frame)
            total = last - first + 1
            video_fps = reader.fps
            duration = total / video_fps if video_fps > 0 else 0.0
            settings.fps = settings.fps or self.sampling.fps
            settings.max_frames = settings.max_frames or self.sampling.max_frames
            settings.frame_size = settings.frame_size or self.sampling.frame_size
            relative = sample_frame_indices(total, video_fps, duration, fps=settings.fps,
                                            max_frames=settings.max_frames)
            indices = [first + i for i in relative]
            # One decoded frame in memory at a time: each goes through the image processor
            # as it comes (the same pixels as one batch: frames of one size need no padding)
            # and only a preview of it is kept (64 4K frames would hold 1.6 GB).
            frames, pixels = [], []
            for frame in reader.iter_frames(indices):
                if cancel is not None:
                    cancel.raise_if_cancelled()
                pixels.append(self._frame_pixels(frame, settings))
                frames.append(_preview(frame))
        timestamps = [(i - first) / video_fps for i in indices]
        text, tensors = self._video_inputs(pixels, timestamps, duration, prompt)
        return PreparedInput(text=text, prompt=prompt, still=False, frames=frames,
                             frame_indices=[f.index for f in frames],
                             frame_times=[f.time_s for f in frames], tensors=tensors,
                             settings=settings)

    def caption(self, path: str, settings: CaptionSettings | None = None, *,
                in_frame: int | None = None, out_frame: int | None = None,
                on_text: TextCallback | None = None, on_frames: FramesCallback | None = None,
                cancel: CancelToken | None = None) -> CaptionResult:
        """Caption one clip or still. Raises ``MediaError`` for a bad file and
        ``studio.core.cancel.Cancelled`` when ``cancel`` fires mid-generation."""
        started = time.perf_counter()
        cancel = cancel or CancelToken()
        prepared = self.prepare(path, settings, in_frame=in_frame, out_frame=out_frame,
                                cancel=cancel)
        cancel.raise_if_cancelled()
        if on_frames is not None:
            on_frames(list(prepared.frames))
        cancel.raise_if_cancelled()
        text = self.generate(prepared, on_text=on_text, cancel=cancel)
        return CaptionResult(
            text=text, model_id=self.model_id, prompt=prepared.prompt,
            settings=prepared.settings.to_dict(), frame_indices=prepared.frame_indices,
            frame_times=prepared.frame_times, seconds=time.perf_counter() - started,
            demo=self.demo, frames=prepared.frames)

    def generate(self, prepared: PreparedInput, *, on_text: TextCallback | None = None,
                 cancel: CancelToken | None = None) -> str:
        """Run the model on prepared inputs; stream text to ``on_text``. generate() runs on its
        own thread so that this one can hand the text on as it arrives."""
        from transformers import StoppingCriteriaList, TextIteratorStreamer

        self._check_loaded()
        cancel = cancel or CancelToken()
        settings = prepared.settings
        streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True,
                                        skip_special_tokens=True)
        kwargs: dict[str, Any] = dict(prepared.tensors)
        kwargs.update(max_new_tokens=settings.max_new_tokens, do_sample=settings.do_sample,
                      streamer=streamer,
                      stopping_criteria=StoppingCriteriaList([_cancel_criteria(cancel)]))
        if settings.do_sample:
            kwargs.update(temperature=float(settings.temperature), top_p=float(settings.top_p))
        else:  # the folder's generation_config may carry sampling values; greedy ignores them
            kwargs.update(temperature=None, top_p=None, top_k=None)
        outcome: dict[str, Any] = {}

        def run() -> None:
            try:
                outcome["ids"] = self.model.generate(**kwargs)
            except BaseException as err:  # noqa: BLE001 - handed to the calling thread
                outcome["error"] = err
                streamer.end()  # unblock the reader below

        worker = threading.Thread(target=run, name="studio-caption-generate", daemon=True)
        worker.start()
        try:
            for chunk in streamer:
                if chunk and on_text is not None and not cancel.cancelled:
                    on_text(chunk)
        except BaseException:
            cancel.cancel()  # on_text failed: stop the model before passing the error on
            worker.join()
            raise
        worker.join()
        if "error" in outcome:
            raise outcome["error"]
        if cancel.cancelled:
            raise Cancelled()
        prompt_len = prepared.tensors["input_ids"].shape[1]
        new_ids = outcome["ids"][0, prompt_len:]
        return self.tokenizer.decode(new_ids, skip_special_tokens=True).strip()

    def generate_batch(self, prepared: list[PreparedInput], *,
                       cancel: CancelToken | None = None) -> list[str]:
        """Run the model once on several prepared inputs (one ``generate`` call): prompts
        left-padded to the longest with attention masks, each clip's images padded with
        blank (all-zero) images, which SmolVLM drops before its vision encoder, as
        ``SmolVLMProcessor`` pads a batch. Greedy captions are the ones ``generate`` gives
        one at a time. No streaming: the texts come back together, in order. Raises
        ``Cancelled`` when ``cancel`` fires."""
        from transformers import StoppingCriteriaList

        self._check_loaded()
        if not prepared:
            return []
        cancel = cancel or CancelToken()
        settings = prepared[0].settings
        if any((p.settings.max_new_tokens, p.settings.do_sample)
               != (settings.max_new_tokens, settings.do_sample) for p in prepared):
            raise ValueError("a batch needs the same max_new_tokens and sampling for every clip")
        kwargs: dict[str, Any] = batch_tensors([p.tensors for p in prepared], self.pad_token_id)
        kwargs.update(max_new_tokens=settings.max_new_tokens, do_sample=settings.do_sample,
                      stopping_criteria=StoppingCriteriaList([_cancel_criteria(cancel)]))
        if settings.do_sample:
            kwargs.update(temperature=float(settings.temperature), top_p=float(settings.top_p))
        else:
            kwargs.update(temperature=None, top_p=None, top_k=None)
        cancel.raise_if_cancelled()
        ids = _on_a_thread(lambda: self.model.generate(**kwargs), cancel)
        if cancel.cancelled:
            raise Cancelled()
        new_ids = ids[:, kwargs["input_ids"].shape[1]:]
        return [self.tokenizer.decode(row, skip_special_tokens=True).strip() for row in new_ids]

    @property
    def pad_token_id(self) -> int:
        """The id a left-padded prompt starts with (masked out; never seen by the model)."""
        for owner in (self.tokenizer, getattr(self.model, "generation_config", None),
                      getattr(self.model, "config", None)):
            value = getattr(owner, "pad_token_id", None)
            if isinstance(value, int):
                return value
        return 0

    # ---- inputs ----

    def _frame_pixels(self, frame: Frame, settings: CaptionSettings):
        """One video frame as SmolVLMVideoProcessor prepares it: resized keeping its aspect to
        the frame size, then squashed to the encoder's square; never tiled."""
        from PIL import Image

        return self.image_processor(
            images=[[Image.fromarray(frame.image)]], do_image_splitting=False,
            size={"longest_edge": settings.frame_size},
            max_image_size={"longest_edge": self.sampling.max_image_size},
            return_tensors="pt", **self.sampling.overrides)

    def _video_inputs(self, pixels: list, timestamps: list[float], duration: float,
                      prompt: str):
        import torch

        text = self._render(self.video_template, "video", prompt)
        text = text.replace(self.tokens.video,
                            video_run(timestamps, duration, self.image_seq_len, self.tokens), 1)
        joined = {"pixel_values": torch.cat([p["pixel_values"] for p in pixels], dim=1)}
        if all("pixel_attention_mask" in p for p in pixels):
            joined["pixel_attention_mask"] = torch.cat(
                [p["pixel_attention_mask"] for p in pixels], dim=1)
        return text, self._tensors(text, joined)

    def _image_inputs(self, frame: Frame, prompt: str):
        from PIL import Image

        processed = self.image_processor(images=[[Image.fromarray(frame.image)]],
                                         return_row_col_info=True, return_tensors="pt")
        rows, cols = processed["rows"][0][0], processed["cols"][0][0]
        text = self._render(self.image_template, "image", prompt)
        text = text.replace(self.tokens.image,
                            tiled_image_run(rows, cols, self.image_seq_len, self.tokens), 1)
        return text, self._tensors(text, processed)

    def _render(self, template: str, media: str, prompt: str) -> str:
        from transformers.utils.chat_template_utils import render_jinja_template

        conversation = [{"role": "user", "content": [{"type": media},
                                                     {"type": "text", "text": prompt}]}]
        rendered, _ = render_jinja_template(
            conversations=[conversation], chat_template=template, add_generation_prompt=True,
            **self.tokenizer.special_tokens_map)
        return rendered[0]

    def _tensors(self, text: str, pixels) -> dict:
        import torch

        bos = self.tokenizer.bos_token
        # as SmolVLMProcessor.apply_chat_template: a prompt that starts with BOS gets no more
        encoded = self.tokenizer(text, add_special_tokens=not (bos and text.startswith(bos)),
                                 return_tensors="pt")
        dtype = getattr(torch, self.dtype_name)
        tensors = {"input_ids": encoded["input_ids"], "attention_mask": encoded["attention_mask"],
                   "pixel_values": pixels["pixel_values"].to(dtype)}
        if "pixel_attention_mask" in pixels:
            tensors["pixel_attention_mask"] = pixels["pixel_attention_mask"].to(torch.bool)
        return {k: v.to(self.device) for k, v in tensors.items()}

    def _check_prompt(self, prompt: str) -> None:
        special = [t for t in self.tokenizer.all_special_tokens if t and t in prompt]
        special += [t for t in (self.tokens.image, self.tokens.video) if t in prompt]
        if special:
            raise ValueError(f"prompt: must not contain the model's control token {special[0]}")

    def _check_loaded(self) -> None:
        if self.model is None:
            raise RuntimeError("the captioner was unloaded; load it again")


PREVIEW_SIZE = 512  # longest edge of the frames a caption hands back (the strip under it)


def _preview(frame: Frame) -> Frame:
    """``frame`` with its image shrunk to fit PREVIEW_SIZE (kept as it is when smaller)."""
    import numpy as np
    from PIL import Image

    from studio.core.frames import Frame

    height, width = frame.image.shape[:2]
    if max(height, width) <= PREVIEW_SIZE:
        return frame
    scale = PREVIEW_SIZE / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    image = Image.fromarray(frame.image).resize(size, Image.Resampling.BOX)
    return Frame(index=frame.index, time_s=frame.time_s, image=np.asarray(image))


def _on_a_thread(work: Callable[[], Any], cancel: CancelToken) -> Any:
    """``work()`` run on a thread of its own, as ``generate`` runs the model: on a busy CPU
    torch's generate called from the main thread ran 10-15x slower than from a new thread
    (bench/caption_batch.py with the machine's load at 3-4: 2.2-2.9 s against 0.16 s for the
    same batch of 8), as bench/caption.py found for single captions. Interrupted while it
    waits (Ctrl-C), it cancels the work and waits for it to stop before passing that on."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = work()
        except BaseException as err:  # noqa: BLE001 - handed to the calling thread
            outcome["error"] = err

    worker = threading.Thread(target=run, name="studio-caption-batch", daemon=True)
    worker.start()
    try:
        worker.join()
    except BaseException:
        cancel.cancel()
        worker.join()
        raise
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def batch_tensors(items: list[dict], pad_token_id: int) -> dict:
    """The inputs of several prompts as one batch: ``input_ids`` left-padded with
    ``pad_token_id`` (``attention_mask`` 0 there); ``pixel_values`` of shape (batch, images,
    channels, height, width) padded with all-zero images (and zero pixels where sizes differ,
    ``pixel_attention_mask`` False there), which SmolVLM leaves out. One item is returned as
    it is."""
    import torch

    if len(items) == 1:
        return dict(items[0])
    longest = max(t["input_ids"].shape[1] for t in items)
    ids, masks = [], []
    for t in items:
        pad = longest - t["input_ids"].shape[1]
        ids.append(torch.nn.functional.pad(t["input_ids"], (pad, 0), value=pad_token_id))
        masks.append(torch.nn.functional.pad(t["attention_mask"], (pad, 0), value=0))
    shapes = [t["pixel_values"].shape for t in items]
    images, height, width = (max(s[i] for s in shapes) for i in (1, 3, 4))
    pixels, pixel_masks = [], []
    for t in items:
        value = t["pixel_values"]
        _, n, _, h, w = value.shape
        pixels.append(torch.nn.functional.pad(value, (0, width - w, 0, height - h, 0, 0,
                                                      0, images - n)))
        mask = t.get("pixel_attention_mask")
        if mask is None:
            mask = torch.ones((1, n, h, w), dtype=torch.bool, device=value.device)
        pixel_masks.append(torch.nn.functional.pad(mask, (0, width - w, 0, height - h,
                                                          0, images - n), value=False))
    batch = {"input_ids": torch.cat(ids), "attention_mask": torch.cat(masks),
             "pixel_values": torch.cat(pixels)}
    if any("pixel_attention_mask" in t for t in items) or (height, width) != shapes[0][3:]:
        batch["pixel_attention_mask"] = torch.cat(pixel_masks)
    return batch


def _checked_range(path: str, count: int, in_frame: int | None, out_frame: int | None):
    first = 0 if in_frame is None else int(in_frame)
    last = count - 1 if out_frame is None else int(out_frame)
    if not 0 <= first < count:
        raise ValueError(f"{path}: in point frame {first} is outside the file (frames 0..{count - 1})")
    if not 0 <= last < count:
        raise ValueError(f"{path}: out point frame {last} is outside the file (frames 0..{count - 1})")
    if first > last:
        raise ValueError(f"{path}: in point (frame {first}) is after the out point (frame {last})")
    return first, last


def _load_parts(folder: Path, choice) -> dict:
    from transformers import AutoTokenizer, SmolVLMForConditionalGeneration
    from transformers.models.smolvlm.image_processing_pil_smolvlm import (
        SmolVLMImageProcessorPil,
    )
    from transformers.models.smolvlm.processing_smolvlm import DEFAULT_CHAT_TEMPLATE

    tokenizer = AutoTokenizer.from_pretrained(folder, trust_remote_code=False)
    image_processor = SmolVLMImageProcessorPil.from_pretrained(folder)
    model, info = SmolVLMForConditionalGeneration.from_pretrained(
        folder, dtype=choice.dtype, use_safetensors=True, output_loading_info=True)
    missing = sorted(info.get("missing_keys") or [])
    mismatched = info.get("mismatched_keys") or []
    if missing or mismatched:
        what = (f"{len(missing)} weights are missing (e.g. {missing[0]})" if missing else
                f"{len(mismatched)} weights have the wrong shape")
        raise _folder_error(folder, f"damaged or not a SmolVLM2 checkpoint: {what}.")
    model.to(choice.device)
    model.eval()

    processor_cfg = _read_json_or_empty(folder / "processor_config.json")
    seq_len = processor_cfg.get("image_seq_len")
    if not isinstance(seq_len, int) or seq_len < 1:
        cfg = model.config
        vision = cfg.vision_config
        seq_len = (vision.image_size // vision.patch_size) ** 2 // cfg.scale_factor ** 2
    image_template = _folder_chat_template(folder) or tokenizer.chat_template or DEFAULT_CHAT_TEMPLATE
    if isinstance(image_template, dict):
        image_template = image_template.get("default") or DEFAULT_CHAT_TEMPLATE
    return {"model": model, "tokenizer": tokenizer, "image_processor": image_processor,
            "sampling": VideoSampling.from_folder(folder), "image_seq_len": int(seq_len),
            "image_template": image_template,
            # SmolVLMProcessor always renders a video with its default template
            "video_template": DEFAULT_CHAT_TEMPLATE}


def _folder_chat_template(folder: Path) -> str | None:
    jinja = folder / "chat_template.jinja"
    if jinja.is_file():
        return jinja.read_text(encoding="utf-8")
    data = _read_json_or_empty(folder / "chat_template.json")
    template = data.get("chat_template")
    return template if isinstance(template, str) and template else None


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def _cancel_criteria(cancel: CancelToken):
    """A transformers StoppingCriteria that ends generation once ``cancel`` fires; it is
    asked after every token. Built here: transformers is not imported with this module."""
    import torch
    from transformers import StoppingCriteria

    class CancelCriteria(StoppingCriteria):
        def __call__(self, input_ids, scores, **kwargs):
            return torch.full((input_ids.shape[0],), cancel.cancelled, dtype=torch.bool,
                              device=input_ids.device)

    return CancelCriteria()
