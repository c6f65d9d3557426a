"""The inference engine: holds the resident models and runs jobs one at a time. No Qt.

The GUI drives it from one worker thread (``studio.ui.model_manager``); the CLI may call it
directly. Whoever calls ``run`` must do so from one thread at a time; ``cancel`` may be
called from any thread.

Importing this module is cheap (no torch, no transformers): the GUI thread builds job objects
from it. torch and transformers load on the first job, or earlier through ``import_ml_stack``.

Every job reports through an ``EngineEvents`` listener, in this order::

    started -> progress(0, N) -> [item_started -> frames -> text* -> item_finished | item_failed
            -> progress(i, N)]* -> finished | failed | cancelled

(a single caption reports frames and text without item events). A ``CaptionBatchJob`` with a
``batch_size`` above 1 prepares the clips of a forward pass first (``item_started -> frames``
for each, or ``item_failed`` for one that cannot be read), then reports each clip's
``item_finished -> progress`` in order, with no text events. Exactly one of finished,
failed and cancelled ends every job, also a job cancelled before it began. An exception in a
job becomes ``failed`` with a message a person can act on; the engine lives on.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from studio.core.cancel import Cancelled, CancelToken
from studio.core.media import MediaError
from studio.inference.registry import DEFAULT_CAPTIONER, DEMO_LABEL, DEMO_PREFIX
from studio.inference.registry import get as registry_entry

if TYPE_CHECKING:
    from studio.core.frames import Frame
    from studio.core.params import GenerationParams
    from studio.inference.captioner import Captioner, CaptionResult, CaptionSettings
    from studio.inference.generator import Generator

log = logging.getLogger(__name__)

_job_ids = itertools.count(1)


def new_job_id() -> int:
    """A job id not handed out before in this process (thread-safe: itertools.count is atomic
    under the GIL)."""
    return next(_job_ids)


# ---- jobs -------------------------------------------------------------------------------------

@dataclass
class CaptionJob:
    """Caption one clip or still, within its in/out frames (inclusive; None: the whole clip)."""

    job_id: int
    clip_id: int | None
    path: str
    settings: CaptionSettings | None = None  # None: CaptionSettings() (the default preset)
    model: str = DEFAULT_CAPTIONER  # a registry or hub id, or a local model folder
    in_frame: int | None = None
    out_frame: int | None = None


@dataclass
class CaptionItem:
    """One clip of a ``CaptionBatchJob``."""

    clip_id: int | None
    path: str
    in_frame: int | None = None
    out_frame: int | None = None


@dataclass
class CaptionBatchJob:
    """Caption many clips with one model, loaded once. ``items`` are ``CaptionItem``s (a
    ``CaptionJob`` works too: its clip, path and in/out are used, its model and settings not).

    ``batch_size``: clips per forward pass (``inference.batching``); None chooses it from the
    free memory. With 1 each clip's text streams (``text`` events); with more, the clips of a
    pass start together and finish together, their results still reported one by one."""

    job_id: int
    items: list[CaptionItem]
    model: str = DEFAULT_CAPTIONER
    settings: CaptionSettings | None = None
    batch_size: int | None = 1


@dataclass
class FramesJob:
    """Sample ``count`` evenly spaced exact frames of a clip within its in/out frames: the strip
    a person sees before (or without) captioning. Needs no model."""

    job_id: int
    clip_id: int | None
    path: str
    count: int = 8
    in_frame: int | None = None
    out_frame: int | None = None


@dataclass
class GenerateJob:
    """Generate one video (``studio.core.params.GenerationParams``: mode, prompt, model, ...)
    and write it, with its sidecar, into ``project_root``'s ``generations/`` folder (or to
    ``output``: a ``.mp4`` file name or a folder; ``preset="png"`` writes a folder of PNG
    frames). With ``register`` the video is recorded in the project (``Project.add_generation``
    through a connection of the worker's own), and the result names the new generation.

    ``image``: an RGB uint8 array for image-to-video (the player's frame) instead of
    ``params.image_path``. ``preview_every``: steps between previews (None: about four a run).
    ``queue_job_id``: the project's jobs-table id, recorded with the generation."""

    job_id: int
    params: GenerationParams
    project_root: str | None = None
    output: str | None = None
    preset: str = "mp4"
    image: Any = None
    preview_every: int | None = None
    register: bool = True
    queue_job_id: int | None = None
    allow_download: bool = False


@dataclass
class GenerateResult:
    """A finished generation: where it is and what made it (``record`` is the sidecar's JSON,
    the same as the mp4's comment tag holds under ``settings``)."""

    job_id: int
    output: str
    sidecar: str | None
    seed: int
    params: dict  # GenerationParams.to_dict() of the run (conformed, with its seed)
    conformed: dict  # {field: [asked, used]}
    record: dict
    frames: int
    width: int
    height: int
    fps: float
    seconds: float  # the whole job: loading, generating, writing
    demo: bool
    generation_id: int | None = None  # the project's new generation, when registered
    register_error: str | None = None  # why it could not be recorded (the files are there)
    # ``core.media.probe`` of the written video (None for PNG frames or a file it cannot
    # read), probed in the worker: what a GUI thread records without reading the file.
    media_info: Any = None


@dataclass
class BatchResult:
    """What a finished batch did. ``results[i]`` is None where item i failed."""

    results: list[Any]
    errors: dict[int, str] = field(default_factory=dict)  # item index -> message
    seconds: float = 0.0

    @property
    def succeeded(self) -> int:
        return sum(r is not None for r in self.results)

    @property
    def failed(self) -> int:
        return len(self.errors)


# ---- events -----------------------------------------------------------------------------------

class EngineEvents:
    """Listener for job events; override what you need (every method here does nothing).

    Called from the thread that runs the job (``text`` possibly from the captioner's
    generation thread): a listener that touches a GUI must hand over to the GUI thread.
    ``eta_s`` is -1.0 while unknown.
    """

    def started(self, job_id: int, description: str) -> None: ...
    def progress(self, job_id: int, done: int, total: int, eta_s: float) -> None: ...
    def item_started(self, job_id: int, index: int) -> None: ...
    def text(self, job_id: int, chunk: str) -> None: ...
    def frames(self, job_id: int, frames: list[Frame]) -> None: ...
    def item_finished(self, job_id: int, index: int, result: Any) -> None: ...
    def item_failed(self, job_id: int, index: int, message: str) -> None: ...
    def finished(self, job_id: int, result: Any) -> None: ...
    def failed(self, job_id: int, message: str) -> None: ...
    def cancelled(self, job_id: int) -> None: ...
    def preview(self, job_id: int, step: int, frames: Any) -> None: ...
    def pass_started(self, job_id: int, index: int, count: int, first_step: int,
                     steps: int) -> None: ...


# ---- failures ---------------------------------------------------------------------------------

class _SettingsError(Exception):
    """Settings a job cannot run with; the message is for a person as it is."""


def _is_model_error(err: BaseException) -> bool:
    try:
        from studio.inference.loading import ModelError
    except ImportError:  # loading.py not present: no ModelError can have been raised
        return False
    return isinstance(err, ModelError)


def _is_gpu_out_of_memory(err: BaseException) -> bool:
    import sys

    torch = sys.modules.get("torch")  # no torch loaded: no torch error
    oom_type = getattr(getattr(torch, "cuda", None), "OutOfMemoryError", None)
    if oom_type is not None and isinstance(err, oom_type):
        return True
    return isinstance(err, RuntimeError) and "out of memory" in str(err).lower()


def _is_host_out_of_memory(err: BaseException) -> bool:
    # torch's CPU allocator raises RuntimeError("DefaultCPUAllocator: can't allocate memory ...").
    return isinstance(err, MemoryError) or (
        isinstance(err, RuntimeError) and "can't allocate memory" in str(err).lower())


def _names_file(err: BaseException, path: str | None) -> bool:
    """A ValueError or IndexError whose message names the file (an in point outside it)."""
    return isinstance(err, (ValueError, IndexError)) and path is not None and str(path) in str(err)


def _is_expected(err: BaseException, path: str | None) -> bool:
    """A failure of the input or the model, not of Studio: no traceback in the log."""
    return (isinstance(err, (MediaError, _SettingsError)) or _is_model_error(err)
            or _names_file(err, path))


def describe_failure(doing: str, err: BaseException, path: str | None = None) -> str:
    """One line a person can act on. ``doing``: what failed, e.g. "captioning clip.mp4";
    ``path``: the file it was about (a ValueError that names it is a message already)."""
    if isinstance(err, (MediaError, _SettingsError)) or _is_model_error(err):
        return str(err)  # they name the file or model and the reason already
    if _names_file(err, path):
        return str(err).strip().splitlines()[0]  # e.g. an in point outside the file
    if _is_gpu_out_of_memory(err):
        return f"out of GPU memory while {doing}: try a smaller model or fewer frames"
    if _is_host_out_of_memory(err):
        return f"out of memory while {doing}: try a smaller model or fewer frames"
    if isinstance(err, OSError) and err.strerror:
        where = f" ({err.filename})" if err.filename else ""
        return f"{doing} failed: {err.strerror}{where}"
    lines = str(err).strip().splitlines()
    detail = lines[0] if lines else ""
    if len(detail) > 200:
        detail = detail[:197] + "..."
    return f"{doing} failed: {type(err).__name__}" + (f": {detail}" if detail else "")


# ---- the ML stack -----------------------------------------------------------------------------

# Imported by ``import_ml_stack``: what the first caption would otherwise import mid-job.
_ML_MODULES = (
    "torch",
    "transformers",
    "transformers.generation",
    "transformers.models.smolvlm.modeling_smolvlm",
    "transformers.models.smolvlm.image_processing_pil_smolvlm",
    "transformers.tokenization_utils_tokenizers",
    "studio.inference.captioner",
    "studio.inference.loading",
)


def _preload_torch_library() -> None:
    """dlopen libtorch_cpu without the GIL (Linux), so its static initialisers (~0.2 s) run
    while other threads keep running Python. ``import torch`` then finds it loaded.

    ``ctypes.CDLL`` and the import system hold the GIL through dlopen; a foreign call through
    ctypes releases it. Best effort: any failure leaves the work to ``import torch``.
    """
    import sys

    if not sys.platform.startswith("linux") or "torch" in sys.modules:
        return
    try:
        import ctypes
        import importlib.util
        import os

        spec = importlib.util.find_spec("torch")
        if spec is None or spec.origin is None:
            return
        library = os.path.join(os.path.dirname(spec.origin), "lib", "libtorch_cpu.so")
        if not os.path.exists(library):
            return
        dlopen = ctypes.CDLL(None).dlopen
        dlopen.restype = ctypes.c_void_p
        dlopen.argtypes = [ctypes.c_char_p, ctypes.c_int]
        dlopen(os.fsencode(library), os.RTLD_NOW | os.RTLD_GLOBAL)
    except Exception:  # noqa: BLE001 - an optimisation only
        log.debug("preloading libtorch_cpu failed", exc_info=True)


def import_ml_stack(freeze_heap: bool = True, cancel: CancelToken | None = None) -> None:
    """Import torch, transformers and the captioner, keeping other threads responsive.

    ``cancel`` is checked between modules (raising ``Cancelled``): a window closed during the
    seconds these imports take waits for one module, not all of them.

    With ``freeze_heap`` the cyclic garbage collector is off during the imports and everything
    they made is then frozen (``gc.freeze``): a full collection of the torch heap holds the GIL
    for 200-350 ms, and an automatic one runs several times during the imports. The usual
    ``gc.collect()`` before freezing is left out on purpose: it is exactly such a collection
    (measured: a 340 ms stall of the GUI thread, for ~10k unreachable objects, a few MB).
    Safe to call again: later calls find the modules imported.
    """
    import gc
    import importlib

    _preload_torch_library()
    was_enabled = gc.isenabled()
    if freeze_heap:
        gc.disable()
    try:
        for name in _ML_MODULES:
            if cancel is not None:
                cancel.raise_if_cancelled()
            try:
                importlib.import_module(name)
            except ImportError as err:
                if name in ("torch", "transformers"):
                    raise
                log.debug("not preloaded: %s (%s)", name, err)
    finally:
        if freeze_heap:
            gc.freeze()
            if was_enabled:
                gc.enable()


# ---- the engine -------------------------------------------------------------------------------

def _load_generator(model: str, device: str | None, allow_download: bool = False,
                    transformer_file: str | None = None) -> Generator:
    from studio.inference.generator import Generator

    with _timed_load("generator", model, device):
        return Generator.load(model, device, allow_download=allow_download,
                              transformer_file=transformer_file)


def _load_captioner(model: str, device: str | None) -> Captioner:
    from studio.inference.captioner import Captioner

    with _timed_load("captioner", model, device):
        return Captioner.load(model, device)


@contextmanager
def _timed_load(kind: str, model: str, device: str | None) -> Iterator[None]:
    """Log a model load and how long it took (the log file: Help › Open Log Folder)."""
    started = time.monotonic()
    log.info("loading the %s %s on %s", kind, model, device or "the default device")
    yield
    log.info("loaded the %s %s in %.1f s", kind, model, time.monotonic() - started)


def _model_title(model: str) -> str:
    """The registry's title; a demo id not in the registry says it is one; a folder, its name."""
    spec = registry_entry(model)
    if spec is not None:
        return spec.title
    if model.startswith(DEMO_PREFIX):
        return f"{model} ({DEMO_LABEL})"
    folder = Path(model)
    try:
        is_folder = folder.is_dir()
    except (OSError, ValueError):  # a name the OS refuses (too long): not a folder
        is_folder = False
    return (folder.name or model) if is_folder else model  # a folder, or a hub id


def _device_kind(device: Any) -> str | None:
    """"cuda", "mps" or "cpu" from a DeviceChoice, a torch.device or a string like "cuda:0"."""
    if device is None:
        return None
    kind = getattr(device, "device", None)  # DeviceChoice
    if isinstance(kind, str):
        return kind.split(":")[0]
    kind = getattr(device, "type", None)  # torch.device
    if isinstance(kind, str):
        return kind
    return str(device).split(":")[0] or None


class Engine:
    """Resident models and the jobs that use them.

    ``device``: None picks CUDA, then MPS, then CPU (``studio.inference.devices``); "cuda",
    "mps" or "cpu" forces one. ``load_captioner(model, device)`` loads a captioner; the
    default is ``Captioner.load``.
    """

    def __init__(self, events: EngineEvents | None = None, device: str | None = None,
                 load_captioner: Callable[[str, str | None], Captioner] | None = None,
                 load_generator: Callable[..., Generator] | None = None) -> None:
        self.events = events if events is not None else EngineEvents()
        self.device = device
        self._load_captioner = load_captioner or _load_captioner
        self._captioner: Captioner | None = None
        self._captioner_model: str | None = None
        self._load_generator = load_generator or _load_generator
        self._generator: Generator | None = None
        self._generator_model: str | None = None
        self._lock = threading.Lock()
        self._running: tuple[int, CancelToken] | None = None
        self._handlers: dict[type, Callable[[Any, CancelToken], Any]] = {
            CaptionJob: self._run_caption,
            CaptionBatchJob: self._run_caption_batch,
            FramesJob: self._run_frames,
            GenerateJob: self._run_generate,
        }

    # ---- models ----------------------------------------------------------------------------

    @property
    def resident_models(self) -> list[str]:
        """Ids (or folders) of the models now loaded."""
        models = [self._captioner_model] if self._captioner is not None else []
        if self._generator is not None:
            models.append(self._generator_model)
        return models

    @property
    def loaded_device(self) -> str | None:
        """Where the resident model runs, e.g. "cuda (bfloat16)"; None when none is loaded.
        A snapshot: safe to read from any thread."""
        model = self._captioner if self._captioner is not None else self._generator
        if model is None:
            return None
        device = _device_kind(getattr(model, "device", None)) or "unknown device"
        dtype = getattr(model, "dtype_name", None)
        return f"{device} ({dtype})" if dtype else device

    def captioner(self, model: str) -> Captioner:
        """The loaded captioner for ``model``; loads it, unloading any other model first (so
        that the device holds one model at a time). Raises ModelError when it cannot load."""
        if self._captioner is not None and self._captioner_model == model:
            return self._captioner
        self.unload()
        self._captioner = self._load_captioner(model, self.device)
        self._captioner_model = model
        return self._captioner

    def generator(self, model: str, allow_download: bool = False,
                  params: Any = None) -> Generator:
        """The loaded video generator for ``model`` (every mode's pipeline shares its weights);
        loads it, unloading any other model first. With ``params``, also loads it again when
        the resident one does not hold the weights they ask for (another GGUF transformer
        file, or bf16 where it stores fp8: ``Generator.holds``). Raises ModelError when it
        cannot load."""
        if self._generator is not None and self._generator_model == model and (
                params is None or getattr(self._generator, "holds", lambda _: True)(params)):
            return self._generator
        self.unload()
        extra = ({"transformer_file": params.transformer_file}
                 if getattr(params, "transformer_file", None) else {})
        self._generator = self._load_generator(model, self.device, allow_download=allow_download,
                                               **extra)
        self._generator_model = model
        return self._generator

    def unload(self) -> None:
        """Drop every resident model and give its memory back to the device."""
        self._drop("generator")
        self._drop("captioner")

    def _drop(self, kind: str) -> None:
        """Unload the resident ``kind`` ("captioner" or "generator") and free its device memory.
        The model is detached here, so this frame holds its last reference when memory is freed."""
        model = getattr(self, f"_{kind}")
        setattr(self, f"_{kind}", None)
        setattr(self, f"_{kind}_model", None)
        if model is None:
            return
        device = _device_kind(getattr(model, "device", None)) or self._device_name()
        try:
            model.unload()
        except Exception:  # noqa: BLE001 - dropping the reference below frees it anyway
            log.warning("unloading a %s failed", kind, exc_info=True)
        del model
        self._free_memory(device)

    def close(self) -> None:
        self.unload()

    def _device_name(self) -> str:
        from studio.inference.devices import pick_device

        return pick_device(self.device).device

    @staticmethod
    def _free_memory(device: str | None) -> None:
        from studio.inference.devices import free_memory

        free_memory(device or "cpu")

    # ---- jobs ------------------------------------------------------------------------------

    def cancel(self, job_id: int | None = None) -> bool:
        """Stop the running job (any thread). ``job_id``: only if that job is the one running.
        Returns whether a job was told to stop."""
        with self._lock:
            running = self._running
        if running is None or (job_id is not None and running[0] != job_id):
            return False
        running[1].cancel()
        return True

    def run(self, job: Any, cancel: CancelToken | None = None) -> Any:
        """Run ``job`` to its end and return its result (None when it failed or was cancelled).

        ``cancel``: a token the caller made beforehand (so a job can be cancelled while it
        waits in a queue); a token that is already cancelled ends the job before it begins.
        """
        token = cancel if cancel is not None else CancelToken()
        job_id = job.job_id
        handler = self._handlers.get(type(job))
        with self._lock:
            self._running = (job_id, token)
        started = time.monotonic()
        log.info("job %s started: %s", job_id, _describe_job(job))
        try:
            if handler is None:
                raise TypeError(f"the engine cannot run a {type(job).__name__}")
            token.raise_if_cancelled()
            result = handler(job, token)
        except Cancelled:
            log.info("job %s cancelled after %.1f s", job_id, time.monotonic() - started)
            self._report("cancelled", job_id)
            return None
        except Exception as err:  # noqa: BLE001 - every failure becomes a message; the engine lives on
            path = getattr(job, "path", None)
            message = describe_failure(_describe_job(job), err, path)
            log.log(logging.INFO if _is_expected(err, path) else logging.ERROR,
                    "job %s failed: %s", job_id, message,
                    exc_info=None if _is_expected(err, path) else err)
            if _is_gpu_out_of_memory(err):
                self._free_memory(self._device_name())
            self._report("failed", job_id, message)
            return None
        finally:
            with self._lock:
                self._running = None
        log.info("job %s finished in %.1f s", job_id, time.monotonic() - started)
        self._report("finished", job_id, result)
        return result

    def _report(self, event: str, *args: Any) -> None:
        """The end of a job is always reported; a failing listener is logged, not raised."""
        try:
            getattr(self.events, event)(*args)
        except Exception:  # noqa: BLE001
            log.exception("listener failed in %s", event)

    def _settings(self, settings: CaptionSettings | None) -> CaptionSettings:
        from studio.inference.captioner import CaptionSettings

        settings = settings if settings is not None else CaptionSettings()
        try:
            settings.validate()
        except ValueError as err:
            raise _SettingsError(f"caption settings: {err}") from None
        return settings

    def _run_caption(self, job: CaptionJob, token: CancelToken) -> CaptionResult:
        settings = self._settings(job.settings)
        events, job_id = self.events, job.job_id
        events.started(job_id, f"Captioning {_name(job.path)} with {_model_title(job.model)}")
        events.progress(job_id, 0, 1, -1.0)
        captioner = self.captioner(job.model)
        token.raise_if_cancelled()
        result = captioner.caption(
            job.path, settings, in_frame=job.in_frame, out_frame=job.out_frame,
            on_text=lambda chunk: events.text(job_id, chunk),
            on_frames=lambda frames: events.frames(job_id, frames),
            cancel=token)
        events.progress(job_id, 1, 1, 0.0)
        return result

    def _run_caption_batch(self, job: CaptionBatchJob, token: CancelToken) -> BatchResult:
        from studio.inference.batching import BatchCallbacks, ClipInput, caption_many

        settings = self._settings(job.settings)
        events, job_id, total = self.events, job.job_id, len(job.items)
        events.started(job_id, f"Captioning {total} clip{'s' if total != 1 else ''} "
                               f"with {_model_title(job.model)}")
        events.progress(job_id, 0, total, -1.0)
        outcome = BatchResult(results=[None] * total)
        if total == 0:
            return outcome
        started = time.monotonic()
        captioner = self.captioner(job.model)  # once for the whole batch

        def ended(index: int, result: Any = None, err: BaseException | None = None) -> None:
            if err is None:
                outcome.results[index] = result
                events.item_finished(job_id, index, result)
            else:
                outcome.errors[index] = self._item_failure(job_id, index, job.items[index], err)
                events.item_failed(job_id, index, outcome.errors[index])
            done = sum(r is not None for r in outcome.results) + len(outcome.errors)
            elapsed = time.monotonic() - started
            events.progress(job_id, done, total, elapsed / done * (total - done))

        caption_many(
            captioner, [ClipInput(i.path, i.in_frame, i.out_frame) for i in job.items], settings,
            batch_size=job.batch_size, cancel=token, callbacks=BatchCallbacks(
                started=lambda index: events.item_started(job_id, index),
                frames=lambda index, frames: events.frames(job_id, frames),
                text=lambda index, chunk: events.text(job_id, chunk),
                finished=ended, failed=lambda index, err: ended(index, err=err)))
        outcome.seconds = time.monotonic() - started
        return outcome

    def _item_failure(self, job_id: int, index: int, item: Any, err: BaseException) -> str:
        """The message for a batch item that failed; logged (with a traceback when the failure
        is Studio's), and device memory freed after running out of it."""
        message = describe_failure(f"captioning {_name(item.path)}", err, item.path)
        expected = _is_expected(err, item.path)
        log.log(logging.INFO if expected else logging.ERROR, "job %s item %s failed: %s",
                job_id, index, message, exc_info=None if expected else err)
        if _is_gpu_out_of_memory(err):
            self._free_memory(self._device_name())
        return message

    def _run_frames(self, job: FramesJob, token: CancelToken) -> list[Frame]:
        from studio.core.frames import FrameReader

        events, job_id = self.events, job.job_id
        if job.count < 1:
            raise _SettingsError(f"frames: the count must be at least 1, not {job.count}")
        events.started(job_id, f"Reading {job.count} frames of {_name(job.path)}")
        events.progress(job_id, 0, job.count, -1.0)
        started = time.monotonic()
        with FrameReader(job.path) as reader:
            start_s = reader.time_of(job.in_frame) if job.in_frame is not None else None
            end_s = reader.time_of(job.out_frame) if job.out_frame is not None else None
            indices = reader.sample_indices(job.count, start_s=start_s, end_s=end_s)
            frames = []
            for frame in reader.iter_frames(indices):
                token.raise_if_cancelled()
                frames.append(frame)
                elapsed = time.monotonic() - started
                events.progress(job_id, len(frames), len(indices),
                                elapsed / len(frames) * (len(indices) - len(frames)))
        events.frames(job_id, frames)
        return frames


    def _run_generate(self, job: GenerateJob, token: CancelToken) -> GenerateResult:
        from studio.core.params import MODE_TITLES, ParamsError, conform, rules_for

        started = time.monotonic()
        events, job_id, params = self.events, job.job_id, job.params
        if job.project_root is None and job.output is None:
            raise _SettingsError("generate: no project and no output given: nowhere to write "
                                 "the video")
        try:
            conform(params, rules_for(params.model))  # a bad field fails before any loading
        except ParamsError as err:
            raise _SettingsError(f"generation settings: {err}") from None
        events.started(job_id, f"{MODE_TITLES.get(params.mode, params.mode)}: "
                               f"{_model_title(params.model)}")
        events.progress(job_id, 0, _total_steps(params), -1.0)
        _check_memory(params, self.device)  # a part that cannot fit: refused before loading
        load_began = time.monotonic()
        before = self._generator
        generator = self.generator(params.model, allow_download=job.allow_download,
                                   params=params)
        resident = generator is before
        load_s = 0.0 if resident else time.monotonic() - load_began
        token.raise_if_cancelled()
        try:
            output = generator.generate(
                params, image=job.image, cancel=token, preview_every=job.preview_every,
                on_progress=lambda done, total, eta: events.progress(job_id, done, total, eta),
                on_preview=lambda step, frames: events.preview(job_id, step, frames),
                on_pass=lambda index, count, first, steps: events.pass_started(
                    job_id, index, count, first, steps))
        except ParamsError as err:
            raise _SettingsError(f"generation settings: {err}") from None
        except Exception as err:
            if _is_gpu_out_of_memory(err) or _is_host_out_of_memory(err):
                self._free_memory(getattr(generator, "device", None) or self._device_name())
                where = "GPU memory" if _is_gpu_out_of_memory(err) else "memory"
                raise _SettingsError(
                    f"out of {where} while generating {params.num_frames} frames at "
                    f"{params.width}x{params.height}: try "
                    f"{_memory_advice(getattr(generator, 'memory_saving', None))}") from None
            from studio.inference.generator import GenerationError

            if isinstance(err, (GenerationError, IndexError)):  # IndexError: names the file
                raise _SettingsError(str(err).strip().splitlines()[0]) from None
            raise
        from studio.inference.generator import generation_record, save_generation

        record = generation_record(output, generator, load_s=load_s)
        target = job.output or str(Path(job.project_root) / "generations")
        written = save_generation(output, target, record, preset=job.preset)
        result = GenerateResult(
            job_id=job_id, output=written.output, sidecar=(written.sidecars or [None])[0],
            seed=output.seed, params=output.params.to_dict(), conformed=record["conformed"],
            record=record, frames=written.frames, width=written.width or 0,
            height=written.height or 0, fps=written.fps or output.fps,
            seconds=0.0, demo=bool(generator.demo), media_info=_probe_output(written.output))
        if job.register and job.project_root is not None:
            try:
                result.generation_id = _register_generation(job, output, result.media_info,
                                                            written.output)
            except Exception as err:  # noqa: BLE001 - the video is on disk whatever happens
                log.warning("recording generation %s failed", written.output, exc_info=True)
                result.register_error = f"{job.project_root}: could not record the video " \
                                        f"({type(err).__name__}: {err})"
        result.seconds = round(time.monotonic() - started, 3)
        return result


def _check_memory(params, device: str | None) -> None:
    """Refuse, before the model loads, a run one of whose parts cannot be on the GPU even
    alone (generator.plan_before_loading): the message names the part, its size, the free
    memory and the settings that would fit."""
    from studio.inference.generator import GenerationError, plan_before_loading

    try:
        plan_before_loading(params, device)
    except GenerationError as err:
        raise _SettingsError(str(err)) from None


def _total_steps(params) -> int:
    """Denoising steps a run of ``params`` takes over all its passes (a multi-scale run adds
    its refine pass's), as the first progress event says before the model loads."""
    from studio.core.params import multiscale_recipe, rules_for

    recipe = multiscale_recipe(params, rules_for(params.model))
    return max(int(params.steps), 1) + (recipe.refine_steps() if recipe is not None else 0)


def _memory_advice(saving: tuple[str, bool] | None) -> str:
    """What to try after running out of memory, given the offload and VAE tiling in use."""
    placement, tiling = saving or ("device", False)
    more = {"model": "sequential CPU offload", "group": "sequential CPU offload",
            "sequential": None}.get(placement, "model CPU offload")
    steps = ["fewer frames", "a smaller size"]
    if not tiling:
        steps.append("VAE tiling")
    if more:
        steps.append(more)
    return ", ".join(steps[:-1]) + ", or " + steps[-1]


def _probe_output(path: str):
    from studio.core.media import probe

    try:
        return probe(path)
    except (MediaError, OSError):  # a folder of PNG frames, a file that cannot be read
        return None


def _register_generation(job: GenerateJob, output: Any, info: Any, path: str) -> int:
    """Record a written generation in the project (its settings as ``GenerationParams.to_dict``,
    so "Restore settings" reads them back with ``from_dict``; the full record is the sidecar),
    through a connection of this thread's own. The CLI's way: the GUI submits jobs with
    ``register=False`` and records the result through its ``ProjectModel``."""
    from studio.core.library import Project

    params = output.params
    with Project(job.project_root, forget_removed=False) as project:
        generation = project.add_generation(
            path, params.to_dict(), kind=params.mode, model=params.model, prompt=params.prompt,
            info=info, source_clip_id=params.source_clip_id, job_id=job.queue_job_id)
    return generation.id


def _name(path: str) -> str:
    return Path(path).name or str(path)


def _describe_job(job: Any) -> str:
    if isinstance(job, CaptionJob):
        return f"captioning {_name(job.path)}"
    if isinstance(job, CaptionBatchJob):
        return f"captioning {len(job.items)} clips"
    if isinstance(job, GenerateJob):
        return f"generating with {_model_title(job.params.model)}"
    if isinstance(job, FramesJob):
        return f"reading frames of {_name(job.path)}"
    return f"job {getattr(job, 'job_id', '?')}"
