"""LTX-2's memory options applied for real (issue 17, item 4), on the tiny LTX-2 on the CPU:
fp8 storage of the transformer and text encoder (diffusers' layerwise casting), diffusers'
group offload (on a CPU the hooks move weights from the CPU to the CPU: the same code path as
on a GPU, without the CUDA streams), a GGUF transformer file loaded through the same loader a
downloaded one goes through, and a run refused before its model loads when a part of it
cannot be on the GPU (the free memory is injected: this machine has no GPU)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from studio.cli import main
from studio.core.params import GenerationParams
from studio.inference.devices import DeviceMemory
from studio.inference.generator import Generator
from studio.inference.loading import ModelFolderError
from tests.inference.gguf_files import original_name, write_gguf_transformer

PROMPT = "a dog barks at the waves on a windy beach"


def params(model, **changes) -> GenerationParams:
    values = {"prompt": PROMPT, "seed": 11, "seed_locked": True, "steps": 2, **changes}
    return GenerationParams.defaults(str(model), **values)


def sidecar_of(capsys) -> dict:
    out, err = capsys.readouterr()
    row = json.loads(out.strip().splitlines()[-1])
    assert row["ok"], (row, err)
    return json.loads(open(row["sidecar"], encoding="utf-8").read())


@pytest.fixture(scope="module")
def tiny_gguf(tiny_ltx2_dir, tmp_path_factory):
    """The tiny LTX-2's transformer as a Q8_0 GGUF file in Lightricks' tensor names."""
    from diffusers import LTX2VideoTransformer3DModel

    model = LTX2VideoTransformer3DModel.from_pretrained(str(tiny_ltx2_dir), subfolder="transformer")
    path, quantised = write_gguf_transformer(
        model.state_dict(), tmp_path_factory.mktemp("gguf") / "ltx-2-tiny-Q8_0.gguf")
    assert quantised > 0
    return path


def test_fp8_storage_keeps_weights_in_float8_and_the_run_completes(tiny_ltx2_dir):
    import torch

    generator = Generator.load(str(tiny_ltx2_dir), "cpu")  # its own: the cast stays
    out = generator.generate(params(tiny_ltx2_dir, transformer_dtype="fp8",
                                    text_encoder_dtype="fp8"))
    pipe = generator.pipeline("t2v")
    for part in (pipe.transformer, pipe.text_encoder):
        # every linear layer of its blocks (diffusers leaves its input and output projections
        # and the norms in the compute dtype)
        linear = [m.weight for name, m in part.named_modules() if isinstance(m, torch.nn.Linear)
                  and ("transformer_blocks." in name or ".layers." in name)]
        assert linear and {w.dtype for w in linear} == {torch.float8_e4m3fn}, type(part)
    assert out.frames.shape == (9, 64, 64, 3) and out.audio is not None
    assert (out.memory["transformer_dtype"], out.memory["text_encoder_dtype"]) == ("fp8", "fp8")
    assert generator.model_record()["weights"] == {"transformer": "fp8", "text_encoder": "fp8"}
    # fp8 weights cannot be cast back: a run asking for bf16 needs the model loaded again
    assert generator.holds(params(tiny_ltx2_dir))  # automatic: fp8 is kept
    assert not generator.holds(params(tiny_ltx2_dir, transformer_dtype="bf16"))


def grouped_hook(module):
    """diffusers' group offload hook on ``module``, or None."""
    registry = getattr(module, "_diffusers_hook", None)
    return registry.get_hook("group_offloading") if registry is not None else None


def test_group_offload_is_applied_and_runs_as_without_it(tiny_ltx2, tiny_ltx2_dir):
    plain = tiny_ltx2.generate(params(tiny_ltx2_dir))
    generator = Generator.load(str(tiny_ltx2_dir), "cpu")
    grouped = generator.generate(params(tiny_ltx2_dir, offload="group"))
    pipe = generator.pipeline("t2v")
    hooked = {name for name, module in pipe.components.items()
              if hasattr(module, "modules") and any(grouped_hook(m) for m in module.modules())}
    assert {"transformer", "text_encoder", "connectors"} <= hooked
    assert not hooked & {"vae", "audio_vae", "vocoder"}  # kept on the device
    assert grouped.memory["offload"] == "group" and generator.memory_saving[0] == "group"
    assert np.array_equal(grouped.frames, plain.frames)
    assert np.allclose(grouped.audio, plain.audio)
    # the next run without offload takes the hooks off and still makes the same video
    again = generator.generate(params(tiny_ltx2_dir, offload="none"))
    assert not any(grouped_hook(m) for m in pipe.transformer.modules())
    assert np.array_equal(again.frames, plain.frames)


def test_the_gguf_file_names_lightricks_tensors_that_diffusers_converts_back(tiny_ltx2_dir):
    from diffusers import LTX2VideoTransformer3DModel
    from diffusers.loaders.single_file_utils import convert_ltx2_transformer_to_diffusers

    names = LTX2VideoTransformer3DModel.from_pretrained(
        str(tiny_ltx2_dir), subfolder="transformer").state_dict()
    originals = {original_name(k): k for k in names}
    assert "model.diffusion_model.patchify_proj.weight" in originals
    assert "model.diffusion_model.adaln_single.linear.weight" in originals
    converted = convert_ltx2_transformer_to_diffusers({k: None for k in originals})
    assert set(converted) == set(names)


def test_a_gguf_transformer_loads_quantised_and_generates(tiny_ltx2_dir, tiny_gguf):
    from diffusers.quantizers.gguf.utils import GGUFParameter

    from studio.inference.single_file import gguf_shapes

    shapes = gguf_shapes(tiny_gguf)
    assert shapes["model.diffusion_model.patchify_proj.weight"] == [16, 4]  # torch's order
    generator = Generator.load(str(tiny_ltx2_dir), "cpu", transformer_file=str(tiny_gguf))
    pipe = generator.pipeline("t2v")
    quantised = [p for p in pipe.transformer.parameters() if isinstance(p, GGUFParameter)]
    assert quantised and {p.quant_type.name for p in quantised} == {"Q8_0"}
    out = generator.generate(params(tiny_ltx2_dir, transformer_file=str(tiny_gguf)))
    assert out.frames.shape == (9, 64, 64, 3) and out.audio is not None
    assert out.memory["transformer_dtype"] == "gguf"
    record = generator.model_record()
    assert record["transformer_file"] == str(tiny_gguf.resolve())
    assert record["weights"]["transformer"] == "gguf"
    assert generator.holds(params(tiny_ltx2_dir, transformer_file=str(tiny_gguf)))
    assert not generator.holds(params(tiny_ltx2_dir))  # the folder's own transformer


def test_studio_generate_takes_a_gguf_file_and_records_it(capsys, tiny_ltx2_dir, tiny_gguf,
                                                          tmp_path):
    code = main(["generate", PROMPT, "--model", str(tiny_ltx2_dir), "--steps", "2",
                 "--seed", "5", "--transformer-file", str(tiny_gguf),
                 "--text-encoder-dtype", "fp8", "-o", str(tmp_path / "out.mp4")])
    assert code == 0
    sidecar = sidecar_of(capsys)
    settings = sidecar["settings"]
    assert settings["params"]["transformer_file"] == str(tiny_gguf)
    assert settings["params"]["text_encoder_dtype"] == "fp8"
    assert settings["memory"]["transformer_dtype"] == "gguf"
    assert settings["memory"]["text_encoder_dtype"] == "fp8"
    assert settings["model"]["transformer_file"] == str(tiny_gguf.resolve())


def test_studio_generate_with_group_offload_and_fp8_records_them(capsys, tiny_ltx2_dir,
                                                                 tmp_path):
    code = main(["generate", PROMPT, "--model", str(tiny_ltx2_dir), "--steps", "2",
                 "--seed", "5", "--offload", "group", "--transformer-dtype", "fp8",
                 "-o", str(tmp_path / "out.mp4")])
    assert code == 0
    settings = sidecar_of(capsys)["settings"]
    assert settings["params"]["offload"] == "group"
    assert settings["params"]["transformer_dtype"] == "fp8"
    memory = settings["memory"]
    assert (memory["offload"], memory["transformer_dtype"]) == ("group", "fp8")
    assert "group offload" in memory["reason"] and "fp8 transformer" in memory["reason"]


def test_a_damaged_or_misfit_gguf_file_is_refused_naming_it(tiny_ltx2_dir, tiny_gguf,
                                                            tmp_path):
    import torch

    from studio.inference.single_file import load_gguf_transformer

    cut = tmp_path / "cut.gguf"
    cut.write_bytes(tiny_gguf.read_bytes()[:200])
    with pytest.raises(ModelFolderError) as err:
        load_gguf_transformer(cut, tiny_ltx2_dir, torch.float32)
    assert str(cut) in str(err.value) and "GGUF" in str(err.value)
    # a transformer of other shapes than the folder's config
    other = tmp_path / "other"
    shutil.copytree(tiny_ltx2_dir, other)
    config = json.loads((other / "transformer" / "config.json").read_text())
    config["num_layers"] = 3
    (other / "transformer" / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelFolderError) as err:
        load_gguf_transformer(tiny_gguf, other, torch.float32)
    assert str(tiny_gguf) in str(err.value) and "weights missing" in str(err.value)


def test_a_part_that_cannot_fit_is_refused_before_the_model_loads(capsys, monkeypatch,
                                                                  tmp_path):
    """A device reporting 24 GB free (injected: no GPU here, so the CPU, computing in fp32)
    and LTX-2 with no offload: the transformer alone is 70.8 GB in fp32 (35.4 in bf16).
    Lightricks/LTX-2 is not downloaded here: had Studio tried to load it, the message would
    say so instead."""
    from studio.inference import devices

    monkeypatch.setattr(devices, "device_memory", lambda device: DeviceMemory(24.0, 24.0))
    code = main(["generate", PROMPT, "--model", "Lightricks/LTX-2", "--offload", "none",
                 "--transformer-dtype", "bf16", "--text-encoder-dtype", "bf16",
                 "-o", str(tmp_path / "out.mp4")])
    out, err = capsys.readouterr()
    assert code == 1
    error = json.loads(out.strip().splitlines()[-1])["error"]
    assert error.startswith("Lightricks/LTX-2: transformer: 70.8 GB in fp32 does not fit"), error
    assert "24.0 GB is free" in error
    assert "choose --offload model --vae-tiling --transformer-dtype fp8" in error
    assert "studio models pull" not in error and "Traceback" not in err
    assert not (tmp_path / "out.mp4").exists()
    # left automatic, the plan fits (fp8 weights, model offload): the load is tried, and the
    # message is the missing download's
    code = main(["generate", PROMPT, "--model", "Lightricks/LTX-2",
                 "-o", str(tmp_path / "out.mp4")])
    out, _ = capsys.readouterr()
    assert code == 1 and "studio models pull" in json.loads(out.strip().splitlines()[-1])["error"]
