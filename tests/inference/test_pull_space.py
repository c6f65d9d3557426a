"""`studio models pull` checks the free space of the Hugging Face cache's disk first: a registry
model whose download does not fit is refused, with the figures, before the hub is asked anything.

The free space is injected (``shutil.disk_usage`` replaced); the hub calls are replaced by ones
that record being called, so a refusal is seen to come before any network traffic. The hub is
switched on for these tests (HF_HUB_OFFLINE unset, the endpoint on the discard port)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from studio.cli import main
from studio.inference import loading, registry
from studio.inference.loading import ModelError, ModelNotAvailableError, NotEnoughSpaceError
from tests.inference.test_loading import COMMIT, SMOL, offline  # noqa: F401 (fixture)

GB = 1000 ** 3
LTX_DEV = "Lightricks/LTX-Video-0.9.5"  # 25 GB in the registry
DISTILLED = registry.LTX_2B_DISTILLED_ID  # single file + 0.9.5's base repo


@pytest.fixture
def online(offline, monkeypatch):
    """The hub switched on (as with no HF_HUB_OFFLINE) but unreachable; the HF cache empty."""
    from huggingface_hub import constants

    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens on the discard port
    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")
    assert not loading.hub_offline()
    return offline


@pytest.fixture
def hub_calls(monkeypatch):
    """snapshot_download / hf_hub_download replaced: each call is recorded, then fails as an
    unreachable hub does."""
    import huggingface_hub
    from huggingface_hub import errors

    calls = []

    def fake(name):
        def call(*args, **kwargs):
            calls.append((name, args))
            raise errors.LocalEntryNotFoundError("no network (test)")
        return call

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake("snapshot_download"))
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake("hf_hub_download"))
    return calls


@pytest.fixture
def disk(monkeypatch):
    """The cache's disk, as shutil.disk_usage reports it: set ``disk.free``; ``disk.asked``
    lists the folders measured. ``disk.free = None``: the call fails."""

    class Disk:
        free: int | None = 100 * GB
        asked: list[Path] = []

        @staticmethod
        def usage(path):
            Disk.asked.append(Path(path))
            if Disk.free is None:
                raise PermissionError(13, "Permission denied", str(path))
            return shutil._ntuple_diskusage(1000 * GB, 1000 * GB - Disk.free, Disk.free)

    Disk.asked = []
    monkeypatch.setattr(shutil, "disk_usage", Disk.usage)
    return Disk


def put_sparse(cache: Path, repo_id: str, files: dict[str, int], *, partial: int = 0) -> Path:
    """A repo in the HF cache layout whose files have the given sizes (sparse: no disk used);
    ``partial``: the size of an interrupted download's ``.incomplete`` blob."""
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    snapshot = repo / "snapshots" / COMMIT
    (repo / "blobs").mkdir(parents=True, exist_ok=True)
    for i, (name, size) in enumerate(files.items()):
        blob = repo / "blobs" / f"{i:064x}"
        with open(blob, "wb") as f:
            f.truncate(size)
        link = snapshot / name
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(os.path.relpath(blob, link.parent))
    if partial:
        with open(repo / "blobs" / f"{'f' * 64}.incomplete", "wb") as f:
            f.truncate(partial)
    (repo / "refs").mkdir(exist_ok=True)
    (repo / "refs" / "main").write_text(COMMIT)
    return snapshot


def size_of(model_id: str) -> int:
    return int(registry.get(model_id).size_gb * GB)


def gb(n: int) -> str:
    return f"{n / GB:.1f} GB"


# --- refused ----------------------------------------------------------------------------------

def test_pull_that_does_not_fit_is_refused_before_the_hub_is_asked(online, disk, hub_calls):
    disk.free = 3 * GB
    with pytest.raises(NotEnoughSpaceError) as info:
        loading.pull(LTX_DEV)
    assert hub_calls == []  # no download started, no network
    err = info.value
    message = str(err)
    assert isinstance(err, ModelError)
    assert LTX_DEV in message
    assert f"needs about {gb(size_of(LTX_DEV))}" in message and "3.0 GB free" in message
    assert str(online) in message  # the cache folder
    assert "HF_HUB_CACHE" in message and "Free some space" in message
    assert f"studio models pull {LTX_DEV}" in message
    assert err.needed_bytes == size_of(LTX_DEV) and err.free_bytes == 3 * GB
    assert err.folder == online


def test_the_cli_says_so_without_a_traceback(online, disk, hub_calls, capsys):
    disk.free = 2 * GB
    assert main(["models", "pull", LTX_DEV]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and "Traceback" not in captured.err
    assert captured.err.startswith("studio models pull: Not enough disk space")
    assert gb(size_of(LTX_DEV)) in captured.err and "2.0 GB free" in captured.err
    assert str(online) in captured.err and "HF_HUB_CACHE" in captured.err
    assert hub_calls == []


def test_the_free_space_is_measured_where_the_cache_will_be(online, disk, hub_calls):
    """The cache folder does not exist before the first download: its nearest existing parent
    is measured, and nothing is created."""
    assert not online.exists() and online.parent.parent.is_dir()
    disk.free = 1 * GB
    with pytest.raises(NotEnoughSpaceError):
        loading.pull(LTX_DEV)
    assert disk.asked == [online.parent.parent]
    assert not online.parent.exists()


def test_a_single_file_model_counts_its_checkpoint_and_base(online, disk, hub_calls):
    disk.free = 20 * GB
    with pytest.raises(NotEnoughSpaceError) as info:
        loading.pull(DISTILLED)
    assert info.value.needed_bytes == size_of(DISTILLED)
    assert f"needs about {gb(size_of(DISTILLED))}" in str(info.value)
    assert hub_calls == []


def test_a_small_model_that_fits_goes_to_the_hub(online, disk, hub_calls):
    disk.free = size_of(SMOL) + 1
    with pytest.raises(ModelNotAvailableError, match="cannot be reached"):
        loading.pull(SMOL)
    assert [name for name, _ in hub_calls] == ["snapshot_download"]


def test_one_byte_short_is_refused(online, disk, hub_calls):
    disk.free = size_of(SMOL) - 1
    with pytest.raises(NotEnoughSpaceError):
        loading.pull(SMOL)
    assert hub_calls == []


# --- what is already here is not downloaded again ---------------------------------------------

def test_an_interrupted_download_needs_only_the_rest(online, disk, hub_calls):
    # 0.9.5's text encoder (19 GB) is here, and 3 GB of another file half-downloaded
    put_sparse(online, LTX_DEV, {"model_index.json": 500,
                                 "text_encoder/model-00001-of-00004.safetensors": 19 * GB},
               partial=3 * GB)
    rest = size_of(LTX_DEV) - 22 * GB - 500
    assert rest > 2 * GB
    disk.free = 2 * GB
    with pytest.raises(NotEnoughSpaceError) as info:
        loading.pull(LTX_DEV)
    assert info.value.needed_bytes == rest
    assert f"needs about {gb(rest)} more" in str(info.value)
    assert "22.0 GB of it already here" in str(info.value)
    assert hub_calls == []

    disk.free = rest + GB  # the rest fits: the download goes ahead (and finds no network)
    with pytest.raises(ModelNotAvailableError, match="cannot be reached"):
        loading.pull(LTX_DEV)
    assert [name for name, _ in hub_calls] == ["snapshot_download"]


def test_files_the_model_does_not_use_are_not_counted(online, disk, hub_calls):
    """The distilled model downloads 0.9.5's base less its transformer and VAE weights: those,
    if here (from the dev model), do not make its own checkpoint smaller; nor do the other
    checkpoints in the repo its file comes from."""
    put_sparse(online, "Lightricks/LTX-Video-0.9.5",
               {"transformer/diffusion_pytorch_model.safetensors": 7 * GB,
                "text_encoder/model.safetensors": 19 * GB})
    disk.free = 0
    with pytest.raises(NotEnoughSpaceError) as info:
        loading.pull(DISTILLED)
    assert info.value.needed_bytes == size_of(DISTILLED) - 19 * GB

    spec = registry.get(DISTILLED)
    files = {spec.single_file.filename: 6 * GB, "ltxv-13b-0.9.8-dev.safetensors": 28 * GB}
    here = 19 * GB + 6 * GB
    upsampler = getattr(spec, "upsampler", None)  # fetched with it where the registry says so
    if upsampler is not None and upsampler.repo == spec.single_file.repo:
        files[upsampler.filename] = GB // 4
        here += GB // 4
    put_sparse(online, spec.single_file.repo, files)
    with pytest.raises(NotEnoughSpaceError) as info:
        loading.pull(DISTILLED)
    assert info.value.needed_bytes == size_of(DISTILLED) - here
    assert hub_calls == []


# --- not checked ------------------------------------------------------------------------------

def test_an_unknown_hub_id_has_no_size_and_is_not_checked(online, disk, hub_calls):
    disk.free = 0
    with pytest.raises(ModelNotAvailableError, match="cannot be reached"):
        loading.pull("someone/not-in-the-registry")
    assert [name for name, _ in hub_calls] == ["snapshot_download"]
    assert disk.asked == []


def test_an_unreadable_disk_does_not_stop_the_pull(online, disk, hub_calls):
    disk.free = None
    with pytest.raises(ModelNotAvailableError, match="cannot be reached"):
        loading.pull(SMOL)
    assert [name for name, _ in hub_calls] == ["snapshot_download"]


def test_enough_space_goes_to_the_hub(online, disk, hub_calls):
    disk.free = 100 * GB
    with pytest.raises(ModelNotAvailableError, match="cannot be reached"):
        loading.pull(LTX_DEV)
    assert [name for name, _ in hub_calls] == ["snapshot_download"]


def test_offline_says_offline_first(offline, disk, hub_calls):  # noqa: F811 (fixture)
    """With HF_HUB_OFFLINE set nothing can be downloaded whatever the space: that is the
    message, and no disk is measured."""
    disk.free = 0
    with pytest.raises(ModelNotAvailableError, match="HF_HUB_OFFLINE"):
        loading.pull(LTX_DEV)
    assert disk.asked == [] and hub_calls == []


def test_the_real_free_space_is_read(tmp_path):
    """No fault injected: the helper reports what the operating system says."""
    free = loading._free_bytes(tmp_path / "not" / "yet")
    assert free is not None and abs(free - shutil.disk_usage(tmp_path).free) < 100 * 1000 ** 2
