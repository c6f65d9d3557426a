"""Finding a model on disk before anything loads it: a local folder, a demo model, or a hub id
in the Hugging Face cache (downloaded only when asked). Every failure is a ``ModelError`` whose
message a person can act on; callers never see a huggingface_hub or OS traceback.

Light to import: huggingface_hub is imported inside the functions, torch never.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from studio import settings
from studio.inference import registry

# What `studio models pull` fetches: weights as safetensors, configs, tokenizers, templates.
# Never pickle weights (.bin/.pt/.ckpt): unpickling can run code.
HUB_PATTERNS = ("*.safetensors", "*.json", "*.txt", "*.jinja", "*.model")
# Diffusers repos often keep multi-GB single-file checkpoints at the top level beside the
# pipeline folders; a pipeline needs only model_index.json and the component folders.
DIFFUSERS_PATTERNS = ("model_index.json", "*/*.safetensors", "*/*.json", "*/*.txt",
                      "*/*.jinja", "*/*.model")

DEMO_MARKER = "studio-demo.json"  # written into every folder `studio models make-demo` builds
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl")
_MAX_SAFETENSORS_HEADER = 100 * 1024 * 1024  # safetensors' own limit


class ModelError(Exception):
    """A model cannot be found or used; ``str(err)`` is the message for a person."""


class ModelNotAvailableError(ModelError):
    """Not on this computer, and it cannot be (or may not be) downloaded now."""


class ModelIncompleteError(ModelNotAvailableError):
    """Partly downloaded: `studio models pull` finishes it."""


class ModelFolderError(ModelError):
    """A folder that is not a model of the expected kind, or a damaged one."""


class NotEnoughSpaceError(ModelError):
    """A download that does not fit on the disk of the Hugging Face cache; nothing was fetched."""

    def __init__(self, message: str, *, needed_bytes: int, free_bytes: int, folder: Path):
        super().__init__(message)
        self.needed_bytes = needed_bytes
        self.free_bytes = free_bytes
        self.folder = folder


@dataclass(frozen=True)
class ResolvedModel:
    id: str  # the hub or demo id; for a local folder, the folder as given
    path: Path  # the folder to pass to from_pretrained
    demo: bool  # random weights: anything it makes is labelled registry.DEMO_LABEL
    revision: str | None  # the commit of a cached hub snapshot; None otherwise
    # A registry model published as one original-layout checkpoint (registry.SingleFile): the
    # file, its snapshot's commit, and the components whose weights it holds (``path`` is then
    # the base repo's snapshot, without those components' weights).
    single_file: Path | None = None
    single_file_revision: str | None = None
    single_file_components: tuple[str, ...] = ()


@dataclass(frozen=True)
class CachedModel:
    id: str
    path: Path
    size_bytes: int
    demo: bool = False


@dataclass(frozen=True)
class DemoModel:
    id: str
    kind: str  # "captioner" | "generator"
    folder: str  # the folder name under models_dir()/demo
    builder: str  # "module:function", the function takes the target folder, returns it


DEMO_MODELS: dict[str, DemoModel] = {
    d.id: d for d in (
        DemoModel("demo/smolvlm2-tiny", "captioner", "smolvlm2-tiny",
                  "studio.inference.demo:make_demo_captioner"),
        DemoModel("demo/ltx-video-tiny", "generator", "ltx-video-tiny",
                  "studio.inference.demo_ltx:make_demo_ltx"),
        DemoModel("demo/ltx2-tiny", "generator", "ltx2-tiny",
                  "studio.inference.demo_ltx2:make_demo_ltx2"),
        # the same with a tiny distilled LoRA: the dev two-stage recipe (core.params.DEMO_LTX2_DEV)
        DemoModel("demo/ltx2-dev-tiny", "generator", "ltx2-dev-tiny",
                  "studio.inference.demo_ltx2:make_demo_ltx2_dev"),
    )
}


def demo_root() -> Path:
    return settings.models_dir() / "demo"


# --- resolving --------------------------------------------------------------------------------

def resolve(model: str, *, allow_download: bool = False, revision: str | None = None,
            expect: str | None = None) -> ResolvedModel:
    """Where ``model`` is on disk.

    ``model``: a local folder, a demo id (``demo/...``, under ``models_dir()/demo``) or a hub id,
    looked up in the Hugging Face cache; the hub is asked only with ``allow_download=True``.
    ``expect`` ("captioner" or "generator"): also check the folder with ``check_folder``.
    Raises ``ModelNotAvailableError``, ``ModelFolderError`` or ``ModelError``.
    """
    model = str(model).strip()
    if not model:
        raise ModelError("No model given: pass a model id (see `studio models list`) or a folder.")
    folder = Path(model).expanduser()
    try:
        local = folder.exists()
    except (OSError, ValueError):  # a name the OS refuses (too long, a NUL): no such folder
        raise ModelFolderError(f"{model[:200]}: no such folder, and not a model id.") from None
    if local:
        found = _resolve_folder(model, folder)
    elif model.startswith(registry.DEMO_PREFIX):
        found = _resolve_demo(model)
    elif _looks_like_path(model):
        raise ModelFolderError(f"{model}: no such folder.")
    elif (spec := _single_file_spec(model)) is not None:
        found = _resolve_single_file(spec, allow_download=allow_download)
    else:
        found = _resolve_hub(model, allow_download=allow_download, revision=revision)
    if expect is not None:
        check_folder(found.path, expect=expect, model_id=None if local else found.id,
                     provided=found.single_file_components)
        if found.single_file is not None:
            try:
                check_safetensors(found.single_file)
            except ModelFolderError as err:
                raise ModelFolderError(f"{err} Download it again with: "
                                       f"studio models pull {found.id}") from None
    return found


def _looks_like_path(model: str) -> bool:
    return (model.startswith(("/", "./", "../", "~", ".\\")) or model.count("/") > 1
            or "\\" in model or model.endswith("/") or re.match(r"^[A-Za-z]:[\\/]", model) is not None)


def _resolve_folder(given: str, folder: Path) -> ResolvedModel:
    if not folder.is_dir():
        raise ModelFolderError(f"{given}: not a folder. A model is a folder holding config.json "
                               "and .safetensors weights (as saved by save_pretrained).")
    marker = _read_marker(folder)
    return ResolvedModel(id=given, path=folder.resolve(), demo=marker is not None, revision=None)


def _read_marker(folder: Path) -> dict | None:
    try:
        data = json.loads((folder / DEMO_MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _resolve_demo(model_id: str) -> ResolvedModel:
    name = model_id[len(registry.DEMO_PREFIX):]
    folder = demo_root() / name
    if not name or "/" in name or not folder.is_dir():
        known = ", ".join(DEMO_MODELS)
        hint = "" if model_id in DEMO_MODELS else f" (demo models: {known})"
        raise ModelNotAvailableError(
            f"Demo model {model_id} is not built yet{hint}. Build the demo models (tiny, random "
            f"weights, no download) with: studio models make-demo")
    return ResolvedModel(id=model_id, path=folder.resolve(), demo=True, revision=None)


OFFLINE_VARIABLES = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")


def hub_offline() -> bool:
    """HF_HUB_OFFLINE (or TRANSFORMERS_OFFLINE) as set now. huggingface_hub reads the variable
    once, at import; Studio honours it whenever it is set."""
    from huggingface_hub import constants

    return offline_variable() is not None or constants.is_offline_mode()


def offline_variable() -> str | None:
    """The first of OFFLINE_VARIABLES that switches the hub off now, or None."""
    for name in OFFLINE_VARIABLES:
        if os.environ.get(name, "").strip().upper() in {"1", "ON", "YES", "TRUE"}:
            return name
    return None


def download_patterns(model_id: str) -> list[str]:
    """The files of ``model_id`` that Studio downloads (and expects in a complete copy); for a
    single-file model, those of its base repo."""
    spec = registry.get(model_id)
    patterns = getattr(spec, "allow_patterns", None)
    if patterns:
        return list(patterns)
    if spec is not None and spec.kind == "generator":
        return list(DIFFUSERS_PATTERNS)
    return list(HUB_PATTERNS)


def ignore_patterns(model_id: str) -> list[str] | None:
    """Files of ``model_id``'s repo left out although ``download_patterns`` matches them: for a
    single-file model, the base repo's weights of the components the file holds."""
    spec = _single_file_spec(model_id)
    if spec is None:
        return None
    return [f"{name}/{pattern}" for name in spec.single_file.components
            for pattern in ("*.safetensors", "*.safetensors.index.json")]


def _single_file_spec(model_id: str) -> registry.ModelSpec | None:
    spec = registry.get(model_id)
    return spec if spec is not None and spec.single_file is not None else None


def _not_available(model_id: str, reason: str) -> ModelNotAvailableError:
    return ModelNotAvailableError(
        f"Model {model_id} is not on this computer and {reason}. Download it once with:\n"
        f"    studio models pull {model_id}\n"
        "or use a folder that holds the model, e.g. studio caption --model /path/to/folder")


def _resolve_hub(model_id: str, *, allow_download: bool, revision: str | None,
                 for_id: str | None = None) -> ResolvedModel:
    """``model_id``'s snapshot in the cache. ``for_id``: the registry model it is a part of
    (a single-file model's base repo): the one messages name, and whose patterns apply."""
    from huggingface_hub import errors, snapshot_download
    from huggingface_hub.utils import validate_repo_id

    try:
        validate_repo_id(model_id)
    except errors.HFValidationError:
        raise ModelError(f"{model_id}: not a folder, and not a model id (hub ids look like "
                         "owner/name; `studio models list` shows the known ones).") from None
    name = for_id or model_id
    local_only = not allow_download or hub_offline()
    try:
        path = snapshot_download(model_id, revision=revision, local_files_only=local_only,
                                 allow_patterns=download_patterns(name),
                                 ignore_patterns=ignore_patterns(name))
    except Exception as err:  # noqa: BLE001 - every hub/OS failure becomes a message
        raise _resolve_error(name, err, allow_download=allow_download) from None
    path = Path(path)
    return ResolvedModel(id=model_id, path=path, demo=False, revision=_commit_of(path))


def _commit_of(snapshot: Path) -> str | None:
    return snapshot.name if re.fullmatch(r"[0-9a-f]{40}", snapshot.name) else None


def _resolve_error(model_id: str, err: Exception, *, allow_download: bool) -> ModelError:
    from huggingface_hub import errors

    if isinstance(err, errors.IncompleteSnapshotError):
        return ModelIncompleteError(
            f"The download of {model_id} is incomplete (it was interrupted). Finish it with:\n"
            f"    studio models pull {model_id}\n"
            "or use a folder that holds the model, e.g. studio caption --model /path/to/folder")
    if isinstance(err, errors.LocalEntryNotFoundError):
        if hub_offline():
            reason = (f"the Hugging Face hub is switched off "
                      f"({offline_variable() or 'HF_HUB_OFFLINE'} is set)")
        elif not allow_download:
            reason = "Studio does not download models by itself"
        else:
            reason = "the Hugging Face hub cannot be reached (no network?)"
        return _not_available(model_id, reason)
    return _hub_error(model_id, err)


def _resolve_single_file(spec: registry.ModelSpec, *, allow_download: bool) -> ResolvedModel:
    """A registry model published as one checkpoint: its base repo's snapshot (configs, text
    encoder, tokenizer, scheduler) and the checkpoint file, both from the cache (downloaded
    only with ``allow_download``). Every failure names `studio models pull <spec.id>`."""
    from huggingface_hub import hf_hub_download

    single = spec.single_file
    base = _resolve_hub(single.base, allow_download=allow_download, revision=None,
                        for_id=spec.id)
    try:
        weights = Path(hf_hub_download(single.repo, single.filename,
                                       local_files_only=not allow_download or hub_offline()))
    except Exception as err:  # noqa: BLE001
        raise _resolve_error(spec.id, err, allow_download=allow_download) from None
    return ResolvedModel(id=spec.id, path=base.path, demo=False, revision=base.revision,
                         single_file=weights, single_file_revision=_commit_of(weights.parent),
                         single_file_components=tuple(single.components))


def resolve_upsampler(model_id: str, upsampler) -> Path:
    """The latent upsampler file of ``model_id``'s multi-scale recipe (a
    ``registry.UpsamplerFile``) in the Hugging Face cache, checked; never downloaded here.
    Raises ``ModelNotAvailableError`` naming `studio models pull` and the one-pass option."""
    from huggingface_hub import hf_hub_download

    try:
        path = Path(hf_hub_download(upsampler.repo, upsampler.filename, local_files_only=True))
    except Exception:  # noqa: BLE001 - not here, whatever the hub library says
        raise ModelNotAvailableError(
            f"The latent upsampler of {model_id} ({upsampler.filename}) is not on this "
            f"computer. Download it with:\n    studio models pull {model_id}\nor run one pass "
            "at full size: --no-multiscale (Advanced › Multi-scale in the Generate panel)") \
            from None
    try:
        check_safetensors(path)
    except ModelFolderError as err:
        raise ModelFolderError(f"{err} Download it again with: studio models pull {model_id}") \
            from None
    return path


def snapshot_commit(path: Path) -> str | None:
    """The hub commit of a file's or folder's cache snapshot folder, if it is one."""
    return _commit_of(path)


def _hub_error(model_id: str, err: Exception) -> ModelError:
    from huggingface_hub import errors

    if isinstance(err, errors.GatedRepoError):
        return ModelError(f"{model_id} is gated: accept its licence on "
                          f"https://huggingface.co/{model_id} and log in with `hf auth login`.")
    if isinstance(err, errors.RepositoryNotFoundError):
        return ModelError(f"{model_id}: no such model on the Hugging Face hub (or it is private: "
                          "log in with `hf auth login`).")
    if isinstance(err, errors.RevisionNotFoundError):
        return ModelError(f"{model_id}: the hub has no such revision.")
    if isinstance(err, errors.DisabledRepoError):
        return ModelError(f"{model_id} has been disabled on the Hugging Face hub.")
    if isinstance(err, errors.HfHubHTTPError):
        return ModelNotAvailableError(f"The Hugging Face hub answered with an error for {model_id}: "
                                      f"{_first_line(err)}. Try again later.")
    if isinstance(err, OSError):
        where = err.filename or _hub_cache()
        why = err.strerror or _first_line(err)
        return ModelError(f"{model_id}: cannot write or read the model cache ({where}): {why}.")
    return ModelError(f"{model_id}: {type(err).__name__}: {_first_line(err)}")


def _first_line(err: Exception) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def _hub_cache() -> Path:
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


# --- downloading ------------------------------------------------------------------------------

def pull(model_id: str, progress=None) -> Path:
    """Download ``model_id`` into the Hugging Face cache (safetensors, configs and tokenizers only)
    and return its folder. An interrupted download resumes where it stopped. A single-file
    model (registry.SingleFile): its checkpoint and its base repo less the weights the checkpoint
    replaces; the base repo's folder is returned. Then the single files its recipes use
    (``side_files``: a latent upsampler, a dev model's distilled LoRA), each where its registry
    entry says, in the same cache. A registry model whose download does not fit
    on the cache's disk is refused before anything is fetched (``check_space``).

    ``progress``: a tqdm class for the overall bar (huggingface_hub's own bars when None).
    """
    model_id = str(model_id).strip()
    if model_id.startswith(registry.DEMO_PREFIX):
        raise ModelError(f"{model_id} is a demo model: it is built here, not downloaded. "
                         "Build it with: studio models make-demo")
    if Path(model_id).expanduser().exists() or _looks_like_path(model_id):
        raise ModelError(f"{model_id}: `studio models pull` takes a hub id (owner/name), not a "
                         "folder; a folder can be used as it is.")
    from huggingface_hub import errors, hf_hub_download, snapshot_download
    from huggingface_hub.utils import validate_repo_id

    spec = _single_file_spec(model_id)
    if spec is None:
        try:
            validate_repo_id(model_id)
        except errors.HFValidationError:
            raise ModelError(f"{model_id}: not a model id (hub ids look like owner/name).") \
                from None
    if hub_offline():
        variable = offline_variable() or "HF_HUB_OFFLINE"
        raise ModelNotAvailableError(
            f"Cannot download {model_id}: the Hugging Face hub is switched off ({variable} is "
            f"set). Unset {variable}, or copy the model folder here from another computer and "
            "use it as a folder, e.g. studio caption --model /path/to/folder")
    check_space(model_id)  # before the hub is asked anything
    try:
        if spec is not None:
            single = spec.single_file
            path = snapshot_download(single.base, allow_patterns=download_patterns(model_id),
                                     ignore_patterns=ignore_patterns(model_id),
                                     tqdm_class=progress)
            hf_hub_download(single.repo, single.filename, tqdm_class=progress)
        else:
            path = snapshot_download(model_id, allow_patterns=download_patterns(model_id),
                                     tqdm_class=progress)
        for repo_id, filename in side_files(model_id):
            hf_hub_download(repo_id, filename, tqdm_class=progress)
    except errors.LocalEntryNotFoundError:
        raise ModelNotAvailableError(
            f"Cannot download {model_id}: the Hugging Face hub cannot be reached (no network?). "
            "Try again when online (the download resumes where it stopped), or copy the model "
            "folder here from another computer and use it as a folder, e.g. "
            "studio caption --model /path/to/folder") from None
    except Exception as err:  # noqa: BLE001
        raise _hub_error(model_id, err) from None
    return Path(path)


def side_files(model_id: str) -> list[tuple[str, str]]:
    """The single files (hub repo, file name) `studio models pull` fetches beside
    ``model_id``'s own download: its multi-scale recipe's latent upsampler
    (registry.UpsamplerFile) and the distilled LoRA of a dev model's stage 2
    (registry.LoraFile), either at the root of the model's own repo or in another."""
    spec = registry.get(model_id)
    files = (getattr(spec, "upsampler", None), getattr(spec, "distilled_lora", None))
    return [(f.repo, f.filename) for f in files if f is not None]


_GB = 1000 ** 3  # registry sizes and messages are in decimal GB, as `studio models list` shows


def check_space(model_id: str) -> None:
    """Raise ``NotEnoughSpaceError`` when what ``model_id`` still has to download (its registry
    size less the files of it already in the cache, partial downloads included) does not fit in
    the free space of the Hugging Face cache's disk. Models without a registry size (hub ids
    Studio does not know) are not checked, nor is a disk whose free space cannot be read."""
    spec = registry.get(model_id)
    if spec is None or spec.size_gb <= 0:
        return
    total = int(spec.size_gb * _GB)
    have = _bytes_here(spec)
    needed = total - have
    if needed <= 0:
        return
    cache = _hub_cache()
    free = _free_bytes(cache)
    if free is None or free >= needed:
        return
    more = (f" more (of ~{spec.size_gb:g} GB in all, {have / _GB:.1f} GB of it already here)"
            if have >= _GB / 20 else "")
    raise NotEnoughSpaceError(
        f"Not enough disk space to download {model_id}: it needs about {needed / _GB:.1f} GB"
        f"{more}, and the Hugging Face cache folder {cache} has {free / _GB:.1f} GB free. "
        "Free some space on that disk, or keep the cache on a "
        "larger disk by setting the HF_HUB_CACHE environment variable to a folder there (e.g. "
        f"export HF_HUB_CACHE=/path/on/larger/disk/hf-cache), then run: "
        f"studio models pull {model_id}",
        needed_bytes=needed, free_bytes=free, folder=cache)


def _free_bytes(folder: Path) -> int | None:
    """Free bytes on the disk that holds ``folder``, measured at its nearest existing parent
    (the cache folder need not exist before the first download); None when unreadable."""
    folder = Path(folder).expanduser().absolute()
    probe = next((p for p in (folder, *folder.parents) if p.exists()), None)
    if probe is None:
        return None
    try:
        return shutil.disk_usage(probe).free
    except OSError:
        return None


def _bytes_here(spec: registry.ModelSpec) -> int:
    """Bytes of ``spec``'s download already in the cache: the files Studio fetches for it
    (whole files in its repos' snapshots, each blob once) and its repos' partial downloads."""
    single = spec.single_file
    if single is None:
        wanted = [(spec.id, download_patterns(spec.id), None)]
    else:
        wanted = [(single.base, download_patterns(spec.id), ignore_patterns(spec.id)),
                  (single.repo, [single.filename], None)]
    wanted += [(repo_id, [filename], None) for repo_id, filename in side_files(spec.id)]
    blobs: dict[Path, int] = {}
    partial = 0
    try:
        for repo_id, allow, ignore in wanted:
            blobs.update(_snapshot_blobs(repo_id, allow, ignore))
        for repo_id in dict.fromkeys(repo_id for repo_id, _, _ in wanted):
            partial += sum(p.stat().st_size
                           for p in (_repo_folder(repo_id) / "blobs").glob("*.incomplete"))
    except OSError:
        return 0  # an unreadable cache: count nothing as here
    return sum(blobs.values()) + partial


def _repo_folder(repo_id: str) -> Path:
    return _hub_cache() / ("models--" + repo_id.replace("/", "--"))


def _snapshot_blobs(repo_id: str, allow: list[str], ignore: list[str] | None) -> dict[Path, int]:
    """The blobs (and their sizes) behind the files of ``repo_id``'s cached snapshots that the
    patterns select."""
    from huggingface_hub.utils import filter_repo_objects

    snapshots = _repo_folder(repo_id) / "snapshots"
    found: dict[Path, int] = {}
    if not snapshots.is_dir():
        return found
    for snapshot in snapshots.iterdir():
        if not snapshot.is_dir():
            continue
        files = [p for p in snapshot.rglob("*") if p.is_file()]
        for p in filter_repo_objects(files, allow_patterns=allow, ignore_patterns=ignore,
                                     key=lambda p, s=snapshot: p.relative_to(s).as_posix()):
            blob = p.resolve()
            found.setdefault(blob, blob.stat().st_size)
    return found


# --- what is here -----------------------------------------------------------------------------

def cached_models() -> list[CachedModel]:
    """Models in the Hugging Face cache, then the demo models built under ``models_dir()/demo``."""
    from huggingface_hub import scan_cache_dir
    from huggingface_hub.errors import CacheNotFound

    found: list[CachedModel] = []
    try:
        # the cache folder as huggingface_hub sees it now (scan_cache_dir's default is bound at import)
        info = scan_cache_dir(_hub_cache())
    except (CacheNotFound, OSError, ValueError):
        info = None
    if info is not None:
        for repo in sorted(info.repos, key=lambda r: r.repo_id.lower()):
            if repo.repo_type != "model" or not repo.revisions:
                continue
            main = [r for r in repo.revisions if "main" in r.refs]
            rev = main[0] if main else max(repo.revisions, key=lambda r: r.last_modified)
            found.append(CachedModel(repo.repo_id, rev.snapshot_path,
                                     repo.size_on_disk + upsampler_bytes(repo.repo_id)
                                     + distilled_lora_bytes(repo.repo_id)))
        found += _cached_single_file_models()
    root = demo_root()
    if root.is_dir():
        for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
            found.append(CachedModel(registry.DEMO_PREFIX + folder.name, folder,
                                     _folder_size(folder), demo=True))
    return found


def _cached_single_file_models() -> list[CachedModel]:
    """The registry's single-file models that are here in full, each as the files it uses: the
    checkpoint and the base repo's files it downloads."""
    from huggingface_hub.utils import filter_repo_objects

    found = []
    for spec in registry.models():
        if spec.single_file is None:
            continue
        try:
            model = resolve(spec.id)
        except ModelError:
            continue
        files = [p for p in model.path.rglob("*") if p.is_file()]
        used = filter_repo_objects(files, allow_patterns=download_patterns(spec.id),
                                   ignore_patterns=ignore_patterns(spec.id),
                                   key=lambda p: p.relative_to(model.path).as_posix())
        try:
            size = model.single_file.stat().st_size + sum(p.stat().st_size for p in used)
        except OSError:
            continue
        found.append(CachedModel(spec.id, model.path, size + upsampler_bytes(spec.id)))
    return found


def upsampler_bytes(model_id: str) -> int:
    """The size of the latent upsampler file of ``model_id``'s multi-scale recipe where it is
    here (it lives in another repo than the model: a scan of the model's repo misses it)."""
    spec = registry.get(model_id)
    upsampler = getattr(spec, "upsampler", None)
    if upsampler is None:
        return 0
    try:
        return resolve_upsampler(model_id, upsampler).stat().st_size
    except (ModelError, OSError):
        return 0


def distilled_lora_here(model_id: str) -> Path | None:
    """The distilled LoRA of dev model ``model_id`` (registry.LoraFile) where `studio models
    pull` puts it, the Hugging Face cache, whole (its header read); None when it is not there or
    the model names none. Never downloads."""
    from huggingface_hub import try_to_load_from_cache

    lora = getattr(registry.get(model_id), "distilled_lora", None)
    if lora is None:
        return None
    cached = try_to_load_from_cache(lora.repo, lora.filename)
    if not isinstance(cached, str):
        return None
    try:
        check_safetensors(Path(cached))
    except (ModelFolderError, OSError):
        return None
    return Path(cached)


def distilled_lora_bytes(model_id: str) -> int:
    """The size of ``model_id``'s distilled LoRA where it is here and in another repo than the
    model's own (a scan of the model's repo misses it; one at its root is counted there)."""
    path = distilled_lora_here(model_id)
    if path is None or registry.get(model_id).distilled_lora.repo == model_id:
        return 0
    try:
        return path.stat().st_size
    except OSError:
        return 0


def lora_sources() -> set[str]:
    """Hub repos the registry's dev models take only their distilled LoRA from (Lightricks/
    LTX-2.3 for LTX-2.3's diffusers repo): in the cache, not a model of their own."""
    return {m.distilled_lora.repo for m in registry.models()
            if m.distilled_lora is not None and registry.get(m.distilled_lora.repo) is None}


def single_file_sources() -> set[str]:
    """Hub repos the registry's single-file models take their checkpoint from (each holds many
    checkpoints; Studio downloads one at a time, so they are never whole here)."""
    return {m.single_file.repo for m in registry.models() if m.single_file is not None}


def _folder_size(folder: Path) -> int:
    total = 0
    for p in folder.rglob("*"):
        try:
            if p.is_file():
                total += p.stat().st_size
        except OSError:
            pass
    return total


# --- checking a folder ------------------------------------------------------------------------

def check_folder(path: str | os.PathLike, expect: str = "captioner",
                 model_id: str | None = None, provided: Iterable[str] = ()) -> Path:
    """Raise ``ModelFolderError`` (naming the file) unless ``path`` holds a complete model of the
    ``expect``ed kind: "captioner" (a transformers folder: config.json, safetensors weights, a
    tokenizer, preprocessor_config.json) or "generator" (a diffusers pipeline: model_index.json
    and its component folders). ``provided``: pipeline components whose weights come from
    elsewhere (a single-file checkpoint): their folders need their config only. Reads only file
    headers: cheap even for large models."""
    folder = Path(path)
    fix = (f" Download it again with: studio models pull {model_id}"
           if model_id and not model_id.startswith(registry.DEMO_PREFIX) else
           " Build it again with: studio models make-demo" if model_id else "")
    if not folder.is_dir():
        raise ModelFolderError(f"{folder}: no such folder.")
    try:
        if expect == "captioner":
            _check_transformers_folder(folder, processor=True)
        elif expect == "generator":
            _check_diffusers_folder(folder, provided=frozenset(provided))
        else:
            raise ValueError(f"expect: 'captioner' or 'generator', not {expect!r}")
    except ModelFolderError as err:
        raise ModelFolderError(f"{err}{fix}") from None
    except OSError as err:
        raise ModelFolderError(f"{err.filename or folder}: cannot read it "
                               f"({err.strerror or err}).") from None
    return folder


def _read_json(path: Path, what: str) -> dict:
    if not path.is_file():
        raise ModelFolderError(f"{path.parent}: not a {what}: {path.name} is missing.")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as err:
        raise ModelFolderError(f"{path}: damaged, not valid JSON ({err}).") from None
    if not isinstance(data, dict):
        raise ModelFolderError(f"{path}: damaged, not a JSON object.")
    return data


def _check_transformers_folder(folder: Path, *, processor: bool) -> None:
    config = _read_json(folder / "config.json", "model folder")
    if "model_type" not in config and "architectures" not in config:
        raise ModelFolderError(f"{folder / 'config.json'}: not a transformers model config "
                               "(no model_type).")
    _check_weights(folder)
    if not any((folder / n).is_file() for n in ("tokenizer.json", "tokenizer_config.json")):
        raise ModelFolderError(f"{folder}: the tokenizer is missing (tokenizer.json).")
    if processor:
        _read_json(folder / "preprocessor_config.json", "captioning model folder")


def _check_diffusers_folder(folder: Path, provided: frozenset[str] = frozenset()) -> None:
    index = _read_json(folder / "model_index.json", "diffusers pipeline folder")
    if "_class_name" not in index:
        raise ModelFolderError(f"{folder / 'model_index.json'}: not a diffusers pipeline index "
                               "(no _class_name).")
    for name, entry in index.items():
        if name.startswith("_") or not isinstance(entry, list) or len(entry) != 2:
            continue
        if entry[0] is None or entry[1] is None:
            continue  # an optional component left out
        sub = folder / name
        if not sub.is_dir():
            raise ModelFolderError(f"{folder}: the pipeline's {name} folder is missing.")
        if name in provided:
            _read_json(sub / "config.json", f"{name} folder")
        elif (sub / "config.json").exists():
            _read_json(sub / "config.json", f"{name} folder")
            _check_weights(sub)
        elif (sub / "scheduler_config.json").exists():
            _read_json(sub / "scheduler_config.json", f"{name} folder")
        elif not any(p.is_file() for p in sub.iterdir()):
            raise ModelFolderError(f"{sub}: empty; the pipeline's {name} is missing.")


def _check_weights(folder: Path) -> None:
    indexes = sorted(folder.glob("*.safetensors.index.json"))
    singles = sorted(folder.glob("*.safetensors"))
    if indexes:
        for index_path in indexes:
            index = _read_json(index_path, "sharded model")
            weight_map = index.get("weight_map")
            if not isinstance(weight_map, dict) or not weight_map:
                raise ModelFolderError(f"{index_path}: damaged, no weight_map.")
            for shard in sorted(set(map(str, weight_map.values()))):
                shard_path = folder / shard
                if not shard_path.is_file():
                    raise ModelFolderError(f"{shard_path}: missing (listed in {index_path.name}).")
                check_safetensors(shard_path)
        return
    if singles:
        for p in singles:
            check_safetensors(p)
        return
    pickles = sorted(p.name for p in folder.iterdir() if p.suffix in PICKLE_SUFFIXES)
    if pickles:
        raise ModelFolderError(
            f"{folder / pickles[0]}: pickle weights only. Studio loads .safetensors weights only "
            "(loading a pickle file can run code hidden in it); use a copy of the model saved "
            "as safetensors.")
    raise ModelFolderError(f"{folder}: no model weights (.safetensors) in it.")


def check_safetensors(path: Path) -> dict[str, dict]:
    """Raise ``ModelFolderError`` unless ``path`` has a readable safetensors header and is as long
    as the header says (a cut-short download fails here, before torch sees it). Returns the
    header's tensors: name -> {"dtype", "shape", "data_offsets"}."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) < 8:
            raise ModelFolderError(f"{path}: damaged, not a safetensors file ({size} bytes).")
        n = int.from_bytes(head, "little")
        if n < 2 or n > _MAX_SAFETENSORS_HEADER or 8 + n > size:
            raise ModelFolderError(f"{path}: damaged, not a safetensors file (bad header).")
        raw = f.read(n)
    try:
        header = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ModelFolderError(f"{path}: damaged, not a safetensors file (bad header).") from None
    if not isinstance(header, dict):
        raise ModelFolderError(f"{path}: damaged, not a safetensors file (bad header).")
    end = 0
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        offsets = entry.get("data_offsets") if isinstance(entry, dict) else None
        if (not isinstance(offsets, list) or len(offsets) != 2
                or not all(isinstance(o, int) for o in offsets) or offsets[0] > offsets[1]):
            raise ModelFolderError(f"{path}: damaged, tensor {name!r} has no valid offsets.")
        end = max(end, offsets[1])
    if 8 + n + end > size:
        raise ModelFolderError(f"{path}: cut short ({size} bytes of {8 + n + end}): the copy or "
                               "download was interrupted.")
    return {name: entry for name, entry in header.items() if name != "__metadata__"}


# --- demo models ------------------------------------------------------------------------------

def make_demo_models(root: str | os.PathLike | None = None, ids=None,
                     on_built: Callable[[str, Path], None] | None = None) -> dict[str, Path]:
    """Build the demo models (tiny, random weights, the real on-disk layout) under ``root``
    (default ``models_dir()/demo``), one folder each, replacing an earlier build. Returns
    id -> folder. A folder Studio did not build is never replaced."""
    import importlib

    root = Path(root).expanduser() if root is not None else demo_root()
    built: dict[str, Path] = {}
    for model_id in (ids or DEMO_MODELS):
        demo = DEMO_MODELS.get(model_id)
        if demo is None:
            raise ModelError(f"{model_id}: no such demo model (demo models: {', '.join(DEMO_MODELS)}).")
        final = root / demo.folder
        if final.exists() and _read_marker(final) is None:
            raise ModelFolderError(f"{final}: exists and was not built by Studio; "
                                   "not replacing it. Choose another folder.")
        module_name, func_name = demo.builder.split(":")
        build = getattr(importlib.import_module(module_name), func_name)
        partial = root / f".{demo.folder}.partial"
        try:
            root.mkdir(parents=True, exist_ok=True)
            shutil.rmtree(partial, ignore_errors=True)
            with _quiet_progress_bars():  # "Writing model shards" bars for tiny files
                build(partial)
            (partial / DEMO_MARKER).write_text(json.dumps(
                {"id": model_id, "kind": demo.kind, "label": registry.DEMO_LABEL}, indent=2) + "\n",
                encoding="utf-8")
            # built in full beside the old copy, then swapped in: never a half-built folder
            if final.exists():
                shutil.rmtree(final)
            partial.rename(final)
        except OSError as err:
            raise _demo_build_error(err, root) from None
        finally:
            shutil.rmtree(partial, ignore_errors=True)
        built[model_id] = final
        if on_built is not None:
            on_built(model_id, final)
    return built


def _demo_build_error(err: OSError, root: Path) -> ModelError:
    """What stopped a demo build: a write in ``root`` (disk full, permissions), or a file
    outside it that the libraries could not read while building (an incomplete installation,
    as a bundle without a library's data file was: blamed on a write, it sent people to check
    the wrong folder)."""
    where = err.filename
    if where and not os.path.abspath(os.fspath(where)).startswith(os.path.abspath(root)):
        return ModelError(f"cannot build the demo model: {where} cannot be read "
                          f"({err.strerror or err}); the installation is incomplete.")
    return ModelError(f"{where or root}: cannot write the demo model ({err.strerror or err}).")


class _quiet_progress_bars:
    """transformers' progress bars off for a while, as they were afterwards."""

    def __enter__(self):
        from transformers.utils import logging as tf_logging

        self._was = tf_logging.is_progress_bar_enabled()
        tf_logging.disable_progress_bar()
        return self

    def __exit__(self, *exc):
        from transformers.utils import logging as tf_logging

        if self._was:
            tf_logging.enable_progress_bar()
        return False
