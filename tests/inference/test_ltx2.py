"""LTX-2, video with sound (issue 17): the tiny LTX-2 (studio.inference.demo_ltx2, the real
architecture at tiny size, saved with save_pretrained) loads through Studio's loading path,
generates frames and a sound track equal to a plain diffusers call's, and the mp4 it writes
holds an AAC track at the vocoder's rate as long as the video (decoded back with PyAV)."""

from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np
import pytest

from studio.cli import main
from studio.core.params import GenerationParams
from studio.inference import registry
from studio.inference.demo_ltx2 import DEMO_LTX2_ID, SAMPLE_RATE

PROMPT = "a dog barks at the waves on a windy beach"


def params(model, **changes) -> GenerationParams:
    values = {"prompt": PROMPT, "seed": 11, "seed_locked": True, "steps": 2, **changes}
    return GenerationParams.defaults(str(model), **values)


def streams(path) -> dict:
    with av.open(str(path)) as c:
        video, audio = c.streams.video, c.streams.audio
        info = {"video": len(video), "audio": len(audio)}
        v, a = video[0], audio[0]
        info.update(codec=a.codec_context.name, rate=a.codec_context.sample_rate,
                    channels=a.codec_context.channels,
                    video_s=float(v.duration * v.time_base))
        info["frames"] = sum(1 for _ in c.decode(v))
    with av.open(str(path)) as c:
        info["audio_s"] = sum(f.samples for f in c.decode(c.streams.audio[0])) / info["rate"]
    return info


def test_the_tiny_ltx2_loads_as_ltx2pipeline_in_the_published_layout(tiny_ltx2, tiny_ltx2_dir):
    index = json.loads((tiny_ltx2_dir / "model_index.json").read_text())
    assert index["_class_name"] == "LTX2Pipeline"
    for part in ("transformer", "vae", "audio_vae", "vocoder", "connectors", "text_encoder"):
        assert list((tiny_ltx2_dir / part).glob("*.safetensors")), part
    assert not list(tiny_ltx2_dir.rglob("*.bin"))
    assert tiny_ltx2.class_name == "LTX2Pipeline" and tiny_ltx2.family == "ltx2"
    assert tiny_ltx2.demo
    pipe = tiny_ltx2.pipeline("t2v")
    assert type(pipe.text_encoder).__name__ == "Gemma3ForConditionalGeneration"
    assert pipe.vocoder.config.output_sampling_rate == SAMPLE_RATE


def test_frames_and_sound_equal_a_plain_diffusers_call(tiny_ltx2, tiny_ltx2_dir):
    import torch
    from diffusers import LTX2Pipeline

    out = tiny_ltx2.generate(params(tiny_ltx2_dir))
    assert out.frames.shape == (9, 64, 64, 3) and out.pipeline == "LTX2Pipeline"
    assert out.sample_rate == SAMPLE_RATE
    assert out.audio.shape == (2, round(9 / 24 * SAMPLE_RATE)) and out.audio.dtype == np.float32
    info = out.audio_info
    assert info["samples"] == out.audio.shape[1] and 0 < info["samples_generated"] <= 9000
    # the recorded call, replayed with plain diffusers
    (call,) = out.calls
    assert call["pipeline"] == "LTX2Pipeline"
    kwargs = dict(call["kwargs"])
    seed = kwargs.pop("generator")["manual_seed"]
    plain = LTX2Pipeline.from_pretrained(str(tiny_ltx2_dir), use_safetensors=True)
    plain.set_progress_bar_config(disable=True)
    result = plain(**kwargs, generator=torch.Generator("cpu").manual_seed(seed))
    frames = (np.clip(result.frames[0], 0, 1) * 255).round().astype(np.uint8)
    assert np.array_equal(frames, out.frames)
    sound = result.audio[0].float().numpy()
    n = min(sound.shape[1], out.audio.shape[1])
    assert np.allclose(sound[:, :n], out.audio[:, :n])
    assert not out.audio[:, n:].any()  # padded with silence to the video's length


def test_the_mp4_has_one_video_and_one_aac_stream_of_the_same_length(tiny_ltx2, tiny_ltx2_dir,
                                                                      tmp_path):
    from studio.inference.generator import generation_record, save_generation

    out = tiny_ltx2.generate(params(tiny_ltx2_dir, num_frames=17, fps=25.0))
    written = save_generation(out, tmp_path / "dog.mp4", generation_record(out, tiny_ltx2))
    info = streams(written.output)
    assert (info["video"], info["audio"], info["frames"]) == (1, 1, 17)
    assert (info["codec"], info["rate"], info["channels"]) == ("aac", SAMPLE_RATE, 2)
    assert info["video_s"] == pytest.approx(17 / 25)
    # within one frame (the decoder may add the AAC encoder's 1024-sample priming)
    assert abs(info["audio_s"] - info["video_s"]) <= 1 / 25 + 1024 / SAMPLE_RATE
    sidecar = json.loads(Path(written.sidecars[0]).read_text())
    settings = sidecar["settings"]
    assert settings["audio"]["sample_rate"] == SAMPLE_RATE
    assert settings["audio"]["seconds"] == pytest.approx(17 / 25)
    assert settings["calls"][0]["kwargs"]["frame_rate"] == 25.0
    assert sidecar["audio"]["codec"] == "aac"
    assert not list(tmp_path.glob("*.part*"))


def test_studio_generate_writes_video_with_sound(capsys, tiny_ltx2_dir, tmp_path):
    target = tmp_path / "out.mp4"
    code = main(["generate", PROMPT, "--model", str(tiny_ltx2_dir), "--steps", "2",
                 "--seed", "5", "-o", str(target)])
    out, err = capsys.readouterr()
    assert code == 0, err
    row = json.loads(out.strip().splitlines()[-1])
    assert row["ok"] and row["demo"] is True
    info = streams(target)
    assert (info["video"], info["audio"], info["codec"]) == (1, 1, "aac")
    assert abs(info["audio_s"] - info["video_s"]) <= 1 / 24 + 1024 / SAMPLE_RATE


def test_the_registry_names_ltx2_models_and_their_call_settings():
    demo = registry.get(DEMO_LTX2_ID)
    assert demo.loader == "LTX2Pipeline" and demo.defaults["audio"]
    distilled = registry.get("diffusers/LTX-2.3-Distilled-Diffusers")
    assert distilled.defaults["call_kwargs"]["sigmas"] == list(registry.LTX2_DISTILLED_SIGMAS)
    from diffusers.pipelines.ltx2.utils import DISTILLED_SIGMA_VALUES

    assert list(registry.LTX2_DISTILLED_SIGMAS) == DISTILLED_SIGMA_VALUES
    assert registry.get("Lightricks/LTX-2").defaults["call_kwargs"]["use_cross_timestep"] is False
