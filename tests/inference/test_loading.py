"""studio.inference.loading: local folders, demo ids and hub ids in a real on-disk Hugging Face
cache, with the hub switched off (it cannot be reached here anyway); folder checks on real
safetensors files; every failure a ModelError with a message naming what to do."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from studio import settings
from studio.inference import loading
from studio.inference.loading import (
    ModelError,
    ModelFolderError,
    ModelIncompleteError,
    ModelNotAvailableError,
    check_folder,
    resolve,
)

SMOL = "HuggingFaceTB/SmolVLM2-256M-Video-Instruct"
COMMIT = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture
def offline(tmp_path, monkeypatch):
    """An empty HF cache and a data folder of this test's own, with the hub switched off.
    huggingface_hub reads HF_HUB_OFFLINE and HF_HUB_CACHE once, at import: set the constants
    too, as a fresh process would have them."""
    from huggingface_hub import constants

    cache = tmp_path / "hf" / "hub"
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    return cache


# --- real files -------------------------------------------------------------------------------

def write_safetensors(path: Path, **tensors) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors or {"w": np.arange(12, dtype=np.float32).reshape(3, 4)}, str(path))
    return path


def write_captioner_folder(folder: Path) -> Path:
    """The files a transformers captioner folder has (weights are real safetensors)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps({"model_type": "smolvlm"}))
    write_safetensors(folder / "model.safetensors")
    (folder / "tokenizer.json").write_text(json.dumps({"version": "1.0"}))
    (folder / "tokenizer_config.json").write_text("{}")
    (folder / "preprocessor_config.json").write_text(json.dumps({"do_resize": True}))
    return folder


def write_generator_folder(folder: Path) -> Path:
    """A diffusers pipeline folder: model_index.json and its component folders."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model_index.json").write_text(json.dumps({
        "_class_name": "LTXPipeline", "_diffusers_version": "0.32.0",
        "transformer": ["diffusers", "LTXVideoTransformer3DModel"],
        "vae": ["diffusers", "AutoencoderKLLTXVideo"],
        "scheduler": ["diffusers", "FlowMatchEulerDiscreteScheduler"],
        "tokenizer": ["transformers", "T5TokenizerFast"],
        "text_encoder": ["transformers", "T5EncoderModel"],
        "feature_extractor": [None, None],
    }))
    for name, weights in (("transformer", "diffusion_pytorch_model.safetensors"),
                          ("vae", "diffusion_pytorch_model.safetensors"),
                          ("text_encoder", "model.safetensors")):
        (folder / name).mkdir()
        (folder / name / "config.json").write_text("{}")
        write_safetensors(folder / name / weights)
    (folder / "scheduler").mkdir()
    (folder / "scheduler" / "scheduler_config.json").write_text("{}")
    (folder / "tokenizer").mkdir()
    (folder / "tokenizer" / "tokenizer.json").write_text("{}")
    return folder


def put_in_hub_cache(cache: Path, repo_id: str, files: dict[str, bytes], *,
                     listed: dict[str, bytes] | None = None) -> Path:
    """Lay files out as huggingface_hub's cache does (blobs, snapshot symlinks, refs/main).
    ``listed``: the repo's full listing, as `snapshot_download` records it before fetching;
    files in it but not in ``files`` are what an interrupted download has not fetched yet."""
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    snapshot = repo / "snapshots" / COMMIT
    for name, data in files.items():
        blob = repo / "blobs" / hashlib.sha256(data).hexdigest()
        blob.parent.mkdir(parents=True, exist_ok=True)
        blob.write_bytes(data)
        link = snapshot / name
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(os.path.relpath(blob, link.parent))
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / "main").write_text(COMMIT)
    if listed is not None:
        # huggingface_hub's own record of the listing (private API: it is what a real pull writes)
        from huggingface_hub._tree_cache import TreeCacheEntry, write_tree_cache

        write_tree_cache(str(repo), COMMIT, {
            name: TreeCacheEntry(size=len(data), blob_id=hashlib.sha1(data).hexdigest())
            for name, data in listed.items()})
    return snapshot


def captioner_files(tmp_path: Path) -> dict[str, bytes]:
    folder = write_captioner_folder(tmp_path / "src")
    return {p.name: p.read_bytes() for p in folder.iterdir()}


# --- hub ids ----------------------------------------------------------------------------------

def test_hub_id_not_cached_names_pull_and_the_folder_option(offline):
    with pytest.raises(ModelNotAvailableError) as info:
        resolve(SMOL)
    message = str(info.value)
    assert f"studio models pull {SMOL}" in message
    assert "--model /path/to/folder" in message
    assert "Traceback" not in message


def test_hub_id_not_cached_with_download_allowed_but_offline(offline):
    with pytest.raises(ModelNotAvailableError) as info:
        resolve(SMOL, allow_download=True)
    assert "HF_HUB_OFFLINE" in str(info.value)
    assert f"studio models pull {SMOL}" in str(info.value)


def test_the_offline_message_names_the_variable_that_is_set(offline, monkeypatch):
    """Issue 19: with only TRANSFORMERS_OFFLINE set, the message said HF_HUB_OFFLINE."""
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    with pytest.raises(ModelNotAvailableError) as info:
        resolve(SMOL, allow_download=True)
    assert "(TRANSFORMERS_OFFLINE is set)" in str(info.value)
    assert "HF_HUB_OFFLINE" not in str(info.value)
    with pytest.raises(ModelNotAvailableError) as info:
        loading.pull(SMOL)
    assert "Unset TRANSFORMERS_OFFLINE" in str(info.value)
    assert "HF_HUB_OFFLINE" not in str(info.value)


def test_offline_set_after_import_is_honoured(offline, monkeypatch):
    """Only the environment says offline (huggingface_hub read it as 'online' at import):
    no network is tried and the message says why."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    assert loading.hub_offline()
    with pytest.raises(ModelNotAvailableError, match="HF_HUB_OFFLINE"):
        loading.pull(SMOL)
    with pytest.raises(ModelNotAvailableError, match="HF_HUB_OFFLINE"):
        resolve(SMOL, allow_download=True)


def test_cached_hub_id_resolves_to_its_snapshot(offline, tmp_path):
    snapshot = put_in_hub_cache(offline, SMOL, captioner_files(tmp_path))
    found = resolve(SMOL, expect="captioner")
    assert found.path == snapshot
    assert found.id == SMOL and found.revision == COMMIT and not found.demo


def test_interrupted_download_is_incomplete_and_says_pull_again(offline, tmp_path):
    files = captioner_files(tmp_path)
    partial = {k: v for k, v in files.items() if k != "model.safetensors"}
    put_in_hub_cache(offline, SMOL, partial, listed=files)
    with pytest.raises(ModelIncompleteError) as info:
        resolve(SMOL)
    assert "incomplete" in str(info.value)
    assert f"studio models pull {SMOL}" in str(info.value)


def test_cached_copy_missing_weights_fails_the_check(offline, tmp_path):
    files = captioner_files(tmp_path)
    del files["model.safetensors"]
    put_in_hub_cache(offline, SMOL, files)  # no listing recorded: only the folder check sees it
    assert resolve(SMOL).path.is_dir()
    with pytest.raises(ModelFolderError) as info:
        resolve(SMOL, expect="captioner")
    assert "no model weights" in str(info.value)
    assert f"studio models pull {SMOL}" in str(info.value)


@pytest.mark.parametrize("bad", ["bad..id", "a--b", "x" * 100])
def test_not_an_id_nor_a_folder(offline, bad):
    with pytest.raises(ModelError) as info:
        resolve(bad)
    assert "not a model id" in str(info.value)


def test_pull_refuses_demo_ids_and_folders(offline, tmp_path):
    with pytest.raises(ModelError, match="studio models make-demo"):
        loading.pull("demo/smolvlm2-tiny")
    with pytest.raises(ModelError, match="not a folder"):
        loading.pull(str(tmp_path))


def test_pull_with_the_hub_unreachable_names_the_folder_option(offline, monkeypatch):
    """Online mode, but no network: huggingface_hub's connection error becomes a message."""
    from huggingface_hub import constants

    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens on the discard port
    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")
    with pytest.raises(ModelNotAvailableError) as info:
        loading.pull(SMOL)
    assert "cannot be reached" in str(info.value)
    assert "--model /path/to/folder" in str(info.value)


def test_hub_errors_become_messages():
    import httpx2
    from huggingface_hub import errors

    response = httpx2.Response(404, request=httpx2.Request("GET", "https://huggingface.co/x"))
    gated = errors.GatedRepoError("gated", response=response)
    missing = errors.RepositoryNotFoundError("nope", response=response)
    assert "hf auth login" in str(loading._hub_error("a/b", gated))
    assert "no such model" in str(loading._hub_error("a/b", missing))
    disk = loading._hub_error("a/b", OSError(28, "No space left on device", "/cache/x"))
    assert "No space left on device" in str(disk) and "/cache/x" in str(disk)


# --- demo ids ---------------------------------------------------------------------------------

def test_demo_id_not_built_names_make_demo(offline):
    with pytest.raises(ModelNotAvailableError) as info:
        resolve("demo/smolvlm2-tiny")
    assert "studio models make-demo" in str(info.value)


def test_demo_id_resolves_under_models_dir(offline):
    folder = write_captioner_folder(settings.models_dir() / "demo" / "smolvlm2-tiny")
    found = resolve("demo/smolvlm2-tiny", expect="captioner")
    assert found.path == folder.resolve() and found.demo and found.id == "demo/smolvlm2-tiny"


def test_unknown_demo_id_lists_the_known_ones(offline):
    with pytest.raises(ModelNotAvailableError) as info:
        resolve("demo/nothing")
    assert "demo/smolvlm2-tiny" in str(info.value) and "make-demo" in str(info.value)


# --- local folders ----------------------------------------------------------------------------

def test_local_folder_resolves_as_is(offline, tmp_path):
    folder = write_captioner_folder(tmp_path / "my model")
    found = resolve(str(folder), expect="captioner")
    assert found.path == folder.resolve() and found.id == str(folder)
    assert not found.demo and found.revision is None


def test_folder_with_the_demo_marker_is_a_demo(offline, tmp_path):
    folder = write_captioner_folder(tmp_path / "copy")
    (folder / loading.DEMO_MARKER).write_text(json.dumps({"id": "demo/smolvlm2-tiny"}))
    assert resolve(str(folder)).demo


def test_missing_folder(offline, tmp_path):
    with pytest.raises(ModelFolderError, match="no such folder"):
        resolve(str(tmp_path / "gone"))


def test_a_file_is_not_a_model(offline, tmp_path):
    f = tmp_path / "clip.mp4"
    f.write_bytes(b"\0" * 10)
    with pytest.raises(ModelFolderError, match="not a folder"):
        resolve(str(f))


def test_folder_that_is_not_a_model(offline, tmp_path):
    (tmp_path / "holiday").mkdir()
    (tmp_path / "holiday" / "notes.txt").write_text("hi")
    with pytest.raises(ModelFolderError) as info:
        resolve(str(tmp_path / "holiday"), expect="captioner")
    assert "config.json is missing" in str(info.value)


def test_pickle_only_weights_are_refused(tmp_path):
    folder = write_captioner_folder(tmp_path / "m")
    (folder / "model.safetensors").unlink()
    (folder / "pytorch_model.bin").write_bytes(b"\x80\x04pickle")
    with pytest.raises(ModelFolderError) as info:
        check_folder(folder, "captioner")
    assert "pytorch_model.bin" in str(info.value) and "safetensors" in str(info.value)


def test_truncated_safetensors_is_named(tmp_path):
    folder = write_captioner_folder(tmp_path / "m")
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-5])
    with pytest.raises(ModelFolderError) as info:
        check_folder(folder, "captioner")
    assert str(weights) in str(info.value) and "cut short" in str(info.value)


@pytest.mark.parametrize("data", [b"", b"\x05", b"not a safetensors file at all",
                                  (30).to_bytes(8, "little") + b"{not json" + b" " * 21])
def test_garbage_safetensors_is_named(tmp_path, data):
    folder = write_captioner_folder(tmp_path / "m")
    (folder / "model.safetensors").write_bytes(data)
    with pytest.raises(ModelFolderError) as info:
        check_folder(folder, "captioner")
    assert "model.safetensors: damaged" in str(info.value)


def test_corrupt_config_json_is_named(tmp_path):
    folder = write_captioner_folder(tmp_path / "m")
    (folder / "config.json").write_text('{"model_type": ')
    with pytest.raises(ModelFolderError) as info:
        check_folder(folder, "captioner")
    assert "config.json: damaged" in str(info.value)


def test_captioner_needs_tokenizer_and_image_processor(tmp_path):
    folder = write_captioner_folder(tmp_path / "m")
    (folder / "preprocessor_config.json").unlink()
    with pytest.raises(ModelFolderError, match="preprocessor_config.json is missing"):
        check_folder(folder, "captioner")
    write_captioner_folder(folder)
    (folder / "tokenizer.json").unlink()
    (folder / "tokenizer_config.json").unlink()
    with pytest.raises(ModelFolderError, match="tokenizer"):
        check_folder(folder, "captioner")


def test_sharded_weights(tmp_path):
    folder = write_captioner_folder(tmp_path / "m")
    (folder / "model.safetensors").unlink()
    write_safetensors(folder / "model-00001-of-00002.safetensors", a=np.zeros(3, np.float32))
    write_safetensors(folder / "model-00002-of-00002.safetensors", b=np.zeros(3, np.float32))
    index = {"metadata": {}, "weight_map": {"a": "model-00001-of-00002.safetensors",
                                            "b": "model-00002-of-00002.safetensors"}}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index))
    check_folder(folder, "captioner")
    (folder / "model-00002-of-00002.safetensors").unlink()
    with pytest.raises(ModelFolderError, match="model-00002-of-00002.safetensors: missing"):
        check_folder(folder, "captioner")


def test_generator_folder(tmp_path):
    folder = write_generator_folder(tmp_path / "ltx")
    assert check_folder(folder, "generator") == folder
    with pytest.raises(ModelFolderError, match="model_index.json is missing"):
        check_folder(folder / "vae", "generator")
    (folder / "vae" / "diffusion_pytorch_model.safetensors").rename(
        folder / "vae" / "diffusion_pytorch_model.bin")
    with pytest.raises(ModelFolderError, match="diffusion_pytorch_model.bin: pickle weights"):
        check_folder(folder, "generator")


def test_generator_missing_component_folder(tmp_path):
    folder = write_generator_folder(tmp_path / "ltx")
    import shutil

    shutil.rmtree(folder / "text_encoder")
    with pytest.raises(ModelFolderError, match="text_encoder folder is missing"):
        check_folder(folder, "generator")


def test_generator_components_from_a_single_file_need_their_config_only(tmp_path):
    """The base of a single-file model: the transformer's and VAE's weights come from the
    checkpoint, so their folders hold config.json alone; every other component is checked."""
    folder = write_generator_folder(tmp_path / "ltx")
    for name in ("transformer", "vae"):
        (folder / name / "diffusion_pytorch_model.safetensors").unlink()
    with pytest.raises(ModelFolderError, match="no model weights"):
        check_folder(folder, "generator")
    assert check_folder(folder, "generator", provided=("transformer", "vae")) == folder
    with pytest.raises(ModelFolderError, match="vae.*no model weights"):
        check_folder(folder, "generator", provided=("transformer",))
    (folder / "vae" / "config.json").unlink()
    with pytest.raises(ModelFolderError, match="config.json is missing"):
        check_folder(folder, "generator", provided=("transformer", "vae"))
    (folder / "text_encoder" / "model.safetensors").unlink()
    (folder / "vae" / "config.json").write_text("{}")
    with pytest.raises(ModelFolderError, match="text_encoder.*no model weights"):
        check_folder(folder, "generator", provided=("transformer", "vae"))


def test_a_captioner_is_not_a_generator(tmp_path):
    folder = write_captioner_folder(tmp_path / "m")
    with pytest.raises(ModelFolderError, match="not a diffusers pipeline"):
        check_folder(folder, "generator")


# --- what is here -----------------------------------------------------------------------------

def test_cached_models_lists_hub_cache_and_demos(offline, tmp_path):
    snapshot = put_in_hub_cache(offline, SMOL, captioner_files(tmp_path))
    demo = write_captioner_folder(settings.models_dir() / "demo" / "smolvlm2-tiny")
    found = {m.id: m for m in loading.cached_models()}
    assert set(found) == {SMOL, "demo/smolvlm2-tiny"}
    assert found[SMOL].path == snapshot and not found[SMOL].demo
    expected = sum(len(v) for v in captioner_files(tmp_path).values())
    assert found[SMOL].size_bytes == expected
    assert found["demo/smolvlm2-tiny"].demo and found["demo/smolvlm2-tiny"].path == demo
    assert found["demo/smolvlm2-tiny"].size_bytes == expected


def test_cached_models_with_no_cache_at_all(offline):
    assert loading.cached_models() == []


def test_download_patterns_never_take_pickles():
    for model_id in (SMOL, "someone/anything"):
        patterns = loading.download_patterns(model_id)
        assert "*.safetensors" in patterns
        assert not any(p.endswith((".bin", ".pt", ".ckpt", "*")) for p in patterns)
