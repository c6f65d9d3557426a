"""`studio models pull` fetches an LTX-2 dev model's distilled LoRA (registry.LoraFile: at
the root of Lightricks/LTX-2, in Lightricks/LTX-2.3 for LTX-2.3) with the model, with the same
progress and messages; `studio models list` says whether it is here; the generator's stage 2
then finds it (ltx2_modes.distilled_lora_file).

The hub cannot be reached here: huggingface_hub's two download functions are replaced by a hub
on this computer that serves the published-layout stand-ins (tests/inference/published.py)
into the test's own Hugging Face cache, laid out as a real download leaves them."""

from __future__ import annotations

import json
import shutil

import pytest

from studio.cli import main
from studio.inference import loading, registry
from studio.inference.loading import ModelError, ModelNotAvailableError, NotEnoughSpaceError
from tests.inference import published
from tests.inference.test_loading import COMMIT, offline, put_in_hub_cache  # noqa: F401
from tests.inference.test_pull_space import (  # noqa: F401 (fixtures)
    GB,
    disk,
    hub_calls,
    online,
    put_sparse,
)

DEV_IDS = [m.id for m in registry.models("generator") if m.distilled_lora is not None]


class Progress:
    """A tqdm class stand-in that records the files it is made for (huggingface_hub makes one
    bar a file)."""

    made: list[str] = []

    def __init__(self, *args, desc=None, **kwargs):
        Progress.made.append(desc)


@pytest.fixture
def hub(online, monkeypatch):
    """The published repos of ``hub.serve(model_id)`` downloadable: ``snapshot_download``
    lays the files its patterns select out in the cache (a look in the cache is huggingface_hub's
    own), ``hf_hub_download`` one file (a
    file the repo lacks: the hub's 404); each call is recorded with its progress class. The
    disk has room for the registry's sizes. ``hub.down``: the hub stops answering for files
    (an unreachable hub's error, as huggingface_hub raises it)."""
    import httpx2
    import huggingface_hub
    from huggingface_hub import errors
    from huggingface_hub.utils import filter_repo_objects

    class Hub:
        repos: dict[str, dict[str, bytes]] = {}
        calls: list[tuple] = []
        down = False

        @staticmethod
        def serve(model_id: str) -> None:
            Hub.repos.update(published.published(model_id))

    real_snapshot_download = huggingface_hub.snapshot_download

    def snapshot_download(repo_id, *, allow_patterns=None, ignore_patterns=None,
                          tqdm_class=None, local_files_only=False, **kw):
        if local_files_only:  # a look in the cache (resolve, loading), no download
            return real_snapshot_download(repo_id, allow_patterns=allow_patterns,
                                          ignore_patterns=ignore_patterns,
                                          local_files_only=True, **kw)
        Hub.calls.append(("snapshot", repo_id, tqdm_class))
        files = Hub.repos[repo_id]
        kept = filter_repo_objects(list(files), allow_patterns=allow_patterns,
                                   ignore_patterns=ignore_patterns)
        return str(fetch(repo_id, {n: files[n] for n in kept}))

    def fetch(repo_id, files):
        """``files`` into the cache but those already there, as huggingface_hub fetches only
        what its cache lacks; the repo's snapshot."""
        snapshot = online / f"models--{repo_id.replace('/', '--')}" / "snapshots" / COMMIT
        return put_in_hub_cache(online, repo_id, {
            name: data for name, data in files.items() if not (snapshot / name).exists()})

    def hf_hub_download(repo_id, filename, *, tqdm_class=None, **kw):
        Hub.calls.append(("file", repo_id, filename, tqdm_class))
        if Hub.down:
            raise errors.LocalEntryNotFoundError("no network (test)")
        if filename not in Hub.repos.get(repo_id, {}):
            url = f"https://huggingface.co/{repo_id}/resolve/main/{filename}"
            raise errors.RemoteEntryNotFoundError(
                f"404 Client Error: {filename} not found",
                response=httpx2.Response(404, request=httpx2.Request("HEAD", url)))
        return str(fetch(repo_id, {filename: Hub.repos[repo_id][filename]}) / filename)

    Hub.repos, Hub.calls = {}, []
    monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot_download)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", hf_hub_download)
    monkeypatch.setattr(shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(
        10**15, 0, 10**15))
    return Hub


def list_rows(capsys) -> dict[str, dict]:
    capsys.readouterr()
    assert main(["models", "list", "--json"]) == 0
    return {r["id"]: r for r in json.loads(capsys.readouterr().out)}


def test_the_dev_models_name_their_lora_in_the_repos_lightricks_publish():
    assert DEV_IDS == ["Lightricks/LTX-2", "diffusers/LTX-2.3-Diffusers"]
    assert loading.side_files("Lightricks/LTX-2") == [
        ("Lightricks/LTX-2", "ltx-2-19b-distilled-lora-384.safetensors")]
    assert loading.side_files("diffusers/LTX-2.3-Diffusers") == [
        ("Lightricks/LTX-2.3", "ltx-2.3-22b-distilled-lora-384-1.1.safetensors")]
    # the LoRA at Lightricks/LTX-2's root is not in the snapshot's patterns: fetched as a file
    assert not loading.download_patterns("Lightricks/LTX-2").count("*.safetensors")
    assert loading.side_files("diffusers/LTX-2.3-Distilled-Diffusers") == []


@pytest.mark.parametrize("model_id", DEV_IDS)
def test_pull_fetches_the_lora_and_the_generator_finds_it(model_id, hub, capsys):
    from studio.inference.generator import Generator
    from studio.inference.ltx2_modes import distilled_lora_file

    lora = registry.get(model_id).distilled_lora
    hub.serve(model_id)
    snapshot = loading.pull(model_id, progress=Progress)
    assert hub.calls == [("snapshot", model_id, Progress),
                         ("file", lora.repo, lora.filename, Progress)]  # one progress for all
    path = loading.distilled_lora_here(model_id)
    assert path is not None and path.name == lora.filename
    assert path.read_bytes() == published.distilled_lora_file()
    if lora.repo == model_id:  # at the repo's root: in the model's own snapshot
        assert path == snapshot / lora.filename
    generator = Generator.load(model_id, "cpu")
    found, _ = distilled_lora_file(generator, model_id)
    assert found is not None and found.resolve() == path.resolve()

    row = list_rows(capsys)[model_id]
    assert row["status"] == "ready"
    assert row["distilled_lora"] == {"repo": lora.repo, "filename": lora.filename,
                                     "here": True, "path": str(path)}


def test_list_says_a_dev_model_without_its_lora_is_here_but_needs_a_pull(hub, capsys):
    """A pull the hub stopped answering after the model's own files: the model is here and
    runs one pass; the list says so and the pull names the way on."""
    model_id = "diffusers/LTX-2.3-Diffusers"
    hub.serve(model_id)
    hub.down = True
    with pytest.raises(ModelNotAvailableError) as info:
        loading.pull(model_id)
    message = str(info.value)
    assert message.startswith(f"Cannot download {model_id}: the Hugging Face hub cannot be "
                              "reached") and "resumes where it stopped" in message
    rows = list_rows(capsys)
    assert rows[model_id]["status"] == "ready"
    assert rows[model_id]["distilled_lora"]["here"] is False
    assert rows[model_id]["distilled_lora"]["path"] is None
    assert main(["models", "list"]) == 0
    (line,) = [x for x in capsys.readouterr().out.splitlines() if x.startswith(model_id + " ")]
    assert "here, no LoRA (pull)" in line

    hub.down = False  # pulled again: the LoRA comes, counted in the model's size
    loading.pull(model_id)
    rows = list_rows(capsys)
    assert rows[model_id]["distilled_lora"]["here"] is True
    assert "Lightricks/LTX-2.3" not in rows  # the LoRA's repo is no model of its own
    lora_size = len(published.distilled_lora_file())
    (cached,) = [m for m in loading.cached_models() if m.id == model_id]
    assert loading.distilled_lora_bytes(model_id) == lora_size
    assert cached.size_bytes == sum(
        p.stat().st_size for p in (offline_cache(cached.path) / "blobs").iterdir()) + lora_size
    assert main(["models", "list"]) == 0
    (line,) = [x for x in capsys.readouterr().out.splitlines() if x.startswith(model_id + " ")]
    assert "here, no LoRA" not in line and " here " in line


def offline_cache(snapshot):
    """The repo folder (models--owner--name) of a snapshot folder."""
    return snapshot.parent.parent


def test_a_lora_the_hub_does_not_have_is_the_hubs_error_naming_the_model(hub):
    model_id = "Lightricks/LTX-2"
    hub.serve(model_id)
    del hub.repos[model_id][registry.get(model_id).distilled_lora.filename]
    with pytest.raises(ModelError) as info:
        loading.pull(model_id)
    assert str(info.value).startswith(
        f"The Hugging Face hub answered with an error for {model_id}: 404 Client Error")
    assert loading.distilled_lora_here(model_id) is None


def test_a_damaged_lora_in_the_cache_is_not_here(hub):
    model_id = "Lightricks/LTX-2"
    lora = registry.get(model_id).distilled_lora
    hub.serve(model_id)
    hub.repos[model_id][lora.filename] = published.distilled_lora_file()[:-10]  # cut short
    loading.pull(model_id)
    assert loading.distilled_lora_here(model_id) is None


def test_an_interrupted_lora_download_counts_as_here_in_the_space_check(online, disk,
                                                                        hub_calls):
    """LTX-2.3's LoRA half-fetched in its own repo: the pull needs only the rest, so a disk
    that could not hold the whole model takes it."""
    model_id = "diffusers/LTX-2.3-Diffusers"
    whole = int(registry.get(model_id).size_gb * GB)
    disk.free = whole - 2 * GB
    with pytest.raises(NotEnoughSpaceError):
        loading.pull(model_id)
    assert hub_calls == []
    put_sparse(online, "Lightricks/LTX-2.3", {}, partial=3 * GB)
    with pytest.raises(ModelNotAvailableError, match="cannot be reached"):
        loading.pull(model_id)  # it fits now: the hub is asked (and cannot be reached)
    assert [name for name, _ in hub_calls] == ["snapshot_download"]
