"""Video generation with the tiny LTX-Video (random weights, the real diffusers layout, loaded
through the same code as a download): every mode writes a probeable H.264 file with its
settings; modes share one set of weights; cancel stops before the VAE decode; an out-of-memory
error inside the pipeline fails the job and the next job runs; same seed, same frames, equal
to a plain diffusers call; previews cost little."""

from __future__ import annotations

import json
import struct
import time
from pathlib import Path

import numpy as np
import pytest

from studio.core.cancel import Cancelled, CancelToken
from studio.core.params import Condition, GenerationParams, rules_for
from studio.inference import registry
from studio.inference.engine import (
    Engine,
    EngineEvents,
    GenerateJob,
    GenerateResult,
    new_job_id,
)

PROMPT = "a dog running on the beach, cinematic"
TINY = {"width": 32, "height": 32, "num_frames": 9, "steps": 2, "guidance_scale": 3.0,
        "negative_prompt": ""}


def tiny_params(model, **changes) -> GenerationParams:
    values = dict(model=str(model), prompt=PROMPT, seed=1234, seed_locked=True, **TINY)
    values.update(changes)
    return GenerationParams(**values)


class Recorder(EngineEvents):
    def __init__(self):
        self.events: list[tuple] = []

    def __getattribute__(self, name):
        if name in ("started", "progress", "finished", "failed", "cancelled", "preview"):
            events = object.__getattribute__(self, "events")
            return lambda *args: events.append((name, *args))
        return object.__getattribute__(self, name)

    def of(self, kind):
        return [e for e in self.events if e[0] == kind]


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """A 25-frame 48x40 clip at 25 fps whose frame i is a flat grey of level 8*i (so a frame's
    index can be read back from its colour), written by Studio's own H.264 writer."""
    from studio.core.export import ExportOptions, write_frames

    frames = [np.full((40, 48, 3), 8 * i + 4, np.uint8) for i in range(25)]
    folder = tmp_path_factory.mktemp("clip")
    return Path(write_frames(frames, folder / "greys.mp4", 25.0, ExportOptions()).output)


@pytest.fixture(scope="module")
def picture(tmp_path_factory):
    import cv2

    path = tmp_path_factory.mktemp("picture") / "red.png"
    image = np.zeros((30, 40, 3), np.uint8)
    image[..., 2] = 220  # BGR: red
    cv2.imwrite(str(path), image)
    return path


@pytest.fixture()
def engine(tiny_generator):
    """An engine whose generator is the session's tiny one (already loaded)."""
    loads = []

    def load(model, device, allow_download=False):
        loads.append(model)
        return tiny_generator

    eng = Engine(Recorder(), device="cpu", load_generator=load)
    eng.loads = loads
    yield eng
    eng._generator = None  # the session's generator stays loaded for the other tests


def mp4_boxes(path: Path) -> list[str]:
    names, data = [], path.read_bytes()
    offset = 0
    while offset + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[offset:offset + 8])
        names.append(kind.decode("latin-1"))
        if size < 8:
            break
        offset += size
    return names


def decode_frames(path: Path) -> np.ndarray:
    from studio.core.frames import FrameReader

    with FrameReader(path) as reader:
        return np.stack([f.image for f in reader.iter_frames(range(reader.frame_count))])


# ---- registry ---------------------------------------------------------------------------------

def test_registry_lists_the_generators_with_their_defaults():
    generators = {m.id: m for m in registry.models("generator")}
    assert registry.DEFAULT_GENERATOR in generators
    from studio.core import params

    assert params.DEFAULT_GENERATOR == registry.DEFAULT_GENERATOR  # core cannot import the registry
    assert {"THUDM/CogVideoX-2b", "Wan-AI/Wan2.1-T2V-1.3B-Diffusers", "demo/ltx-video-tiny",
            "Lightricks/LTX-Video-0.9.8-13B-distilled"} <= set(generators)
    assert generators["Wan-AI/Wan2.1-T2V-1.3B-Diffusers"].loader == "DiffusionPipeline"
    assert generators["THUDM/CogVideoX-2b"].loader == "DiffusionPipeline"
    for spec in generators.values():
        # the registry and core.params' rules agree on every default they both state
        d = rules_for(spec.id).defaults
        for key in ("width", "height", "num_frames", "fps", "steps", "guidance_scale"):
            assert spec.defaults[key] == getattr(d, key), (spec.id, key)
    distilled = generators["Lightricks/LTX-Video-0.9.8-13B-distilled"].defaults
    assert (distilled["steps"], distilled["guidance_scale"]) == (8, 1.0)
    assert distilled["decode_timestep"] == 0.05 and distilled["decode_noise_scale"] == 0.025


# ---- modes ------------------------------------------------------------------------------------

def test_text_to_video_into_the_project_with_sidecar_comment_and_record(engine, tmp_path,
                                                                        tiny_ltx_dir):
    import av

    from studio.core.library import Project
    from studio.core.media import probe

    project = tmp_path / "project"
    Project(project).close()
    params = tiny_params(tiny_ltx_dir, caption="a dog on a beach", seed=77)
    result = engine.run(GenerateJob(new_job_id(), params, project_root=str(project)))
    assert isinstance(result, GenerateResult), engine.events.events
    out = Path(result.output)
    assert out.parent == project / "generations" and out.suffix == ".mp4"
    assert out.name.startswith("a_dog_running_on_the_beach")
    info = probe(out)
    assert (info.frame_count, info.width, info.height) == (9, 32, 32)
    assert info.codec == "h264" and info.pix_fmt == "yuv420p"
    boxes = mp4_boxes(out)
    assert boxes.index("moov") < boxes.index("mdat")  # faststart
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]  # no temp files

    sidecar = json.loads(Path(result.sidecar).read_text())
    with av.open(str(out)) as container:
        comment = json.loads(container.metadata["comment"])
    assert comment == sidecar  # the same JSON in both places
    record = sidecar["settings"]
    assert record == result.record
    assert record["prompt"] == PROMPT and record["negative_prompt"] == ""
    assert record["seed"] == 77 and record["params"]["seed"] == 77
    assert GenerationParams.from_dict(record["params"]) == params  # every setting, restorable
    assert record["caption"] == "a dog on a beach"
    assert record["model"]["id"] == str(tiny_ltx_dir) and record["model"]["revision"] is None
    assert len(record["model"]["folder_hash"]) == 64
    assert record["demo"] == "demo model: random weights" and result.demo
    for lib in ("torch", "diffusers", "transformers", "studio"):
        assert record["versions"][lib]
    assert record["timings"]["total_s"] > 0 and "load_s" in record["timings"]
    assert (record["frames"], record["fps"]) == (9, 24.0)

    events = [e[0] for e in engine.events.events]
    assert events[0] == "started" and events[-1] == "finished"
    assert engine.resident_models == [str(tiny_ltx_dir)]
    assert engine.loaded_device == "cpu (float32)"
    steps = [e[2:4] for e in engine.events.of("progress")]
    assert steps[0] == (0, 2) and steps[-1] == (2, 2)

    with Project(project) as opened:
        (gen,) = opened.generations()
    assert gen.id == result.generation_id and Path(gen.path) == out
    assert gen.kind == "t2v" and gen.prompt == PROMPT and gen.model == str(tiny_ltx_dir)
    assert GenerationParams.from_dict(gen.params) == params
    assert gen.info is not None and gen.info.frame_count == 9


def test_image_to_video_from_a_file_and_from_a_player_frame(tiny_generator, tiny_ltx_dir,
                                                            picture, tmp_path):
    from studio.core.media import probe
    from studio.inference.generator import generation_record, save_generation

    params = tiny_params(tiny_ltx_dir, mode="i2v", image_path=str(picture))
    out = tiny_generator.generate(params)
    assert out.pipeline == "LTXImageToVideoPipeline" and out.frames.shape == (9, 32, 32, 3)
    assert out.image["path"] == str(picture) and (out.image["width"], out.image["height"]) == (40, 30)
    written = save_generation(out, tmp_path / "i2v.mp4", generation_record(out, tiny_generator))
    assert probe(written.output).frame_count == 9

    frame = np.zeros((48, 64, 3), np.uint8)
    frame[..., 2] = 220  # RGB: blue (the file is red)
    from_array = tiny_generator.generate(params.replace(image_path=None), image=frame)
    assert from_array.frames.shape == (9, 32, 32, 3) and from_array.image["array"]
    # the picture conditions the video: another picture, other frames (same seed)
    assert not np.array_equal(from_array.frames, out.frames)


def test_video_to_video_uses_the_clip_range_and_strength(tiny_generator, tiny_ltx_dir, clip,
                                                         tmp_path):
    from studio.core.media import probe
    from studio.inference.generator import generation_record, save_generation

    params = tiny_params(tiny_ltx_dir, mode="v2v", source_path=str(clip), source_clip_id=None,
                         source_in_frame=5, source_out_frame=20, denoise_strength=0.5)
    out = tiny_generator.generate(params)
    assert out.pipeline == "LTXConditionPipeline" and out.frames.shape == (9, 32, 32, 3)
    assert (out.source["first_frame"], out.source["last_frame"]) == (5, 13)
    assert out.source["available"] == 16
    written = save_generation(out, tmp_path, generation_record(out, tiny_generator))
    assert probe(written.output).frame_count == 9
    record = json.loads(Path(written.sidecars[0]).read_text())["settings"]
    assert record["source"]["path"] == str(clip) and record["source"]["in_frame"] == 5
    assert record["params"]["denoise_strength"] == 0.5

    # strength matters: 1.0 ignores the source (the same as text-to-video with that seed)
    full = tiny_generator.generate(params.replace(denoise_strength=1.0))
    assert not np.array_equal(full.frames, out.frames)

    # a range shorter than the frames asked for: the frame count follows the range (8k+1)
    short = tiny_generator.generate(params.replace(source_in_frame=0, source_out_frame=6,
                                                   num_frames=17))
    assert short.frames.shape[0] == 5
    assert any(c.field == "num_frames" and c.after == 5 for c in short.changes)


def test_extend_conditions_on_the_last_frames_and_conditions_at_frames(tiny_generator,
                                                                      tiny_ltx_dir, clip,
                                                                      picture):
    params = tiny_params(tiny_ltx_dir, mode="extend", source_path=str(clip), num_frames=17,
                         source_out_frame=20)
    out = tiny_generator.generate(params)
    assert out.frames.shape == (17, 32, 32, 3) and out.pipeline == "LTXConditionPipeline"
    assert out.source["last_frame"] == 20 and out.source["first_frame"] == 20 - out.overlap_frames + 1
    assert out.overlap_frames == 9

    cond = tiny_params(tiny_ltx_dir, mode="condition", num_frames=17,
                       conditions=[Condition(path=str(picture), frame_index=8, strength=0.8),
                                   Condition(path=str(clip), frame_index=0, in_frame=0,
                                             out_frame=8)])
    made = tiny_generator.generate(cond)
    assert made.frames.shape == (17, 32, 32, 3)


def test_switching_modes_reuses_the_weights(tiny_ltx_dir, picture, monkeypatch):
    import diffusers

    from studio.inference.generator import Generator

    calls = []
    original = diffusers.DiffusionPipeline.from_pretrained.__func__

    def counting(cls, *args, **kwargs):
        calls.append(cls.__name__)
        return original(cls, *args, **kwargs)

    monkeypatch.setattr(diffusers.DiffusionPipeline, "from_pretrained", classmethod(counting))
    generator = Generator.load(str(tiny_ltx_dir), "cpu")
    assert calls == ["LTXPipeline"]
    t2v = generator.pipeline("t2v")
    for mode in ("i2v", "v2v", "extend", "condition", "t2v", "i2v"):
        pipe = generator.pipeline(mode)
        assert pipe.transformer is t2v.transformer and pipe.vae is t2v.vae
        assert pipe.text_encoder is t2v.text_encoder
    generator.generate(tiny_params(tiny_ltx_dir, mode="i2v", image_path=str(picture)))
    generator.generate(tiny_params(tiny_ltx_dir))
    assert calls == ["LTXPipeline"]  # loaded once, never again
    assert sorted(generator.pipelines) == ["LTXConditionPipeline", "LTXImageToVideoPipeline",
                                           "LTXPipeline"]
    generator.unload()
    assert not generator.loaded


# ---- cancel, failures -------------------------------------------------------------------------

def test_cancel_mid_run_raises_from_the_callback_and_never_decodes(tiny_generator, tiny_ltx_dir,
                                                                   monkeypatch):
    pipe = tiny_generator.pipeline("t2v")
    decodes = []
    original = pipe.vae.decode
    monkeypatch.setattr(pipe.vae, "decode", lambda *a, **k: decodes.append(1) or original(*a, **k))
    token = CancelToken()
    steps = []

    def progress(done, total, eta):
        steps.append(done)
        if done == 1:
            token.cancel()  # as the GUI would, from another thread, during the run

    with pytest.raises(Cancelled):
        tiny_generator.generate(tiny_params(tiny_ltx_dir, steps=4), on_progress=progress,
                                cancel=token)
    assert steps == [1]  # stopped within one step
    assert decodes == []  # no VAE decode of a cancelled run
    tiny_generator.generate(tiny_params(tiny_ltx_dir))  # and the next run decodes as usual
    assert decodes == [1]


def test_a_cancelled_job_reports_cancelled_and_writes_nothing(engine, tiny_ltx_dir, tmp_path):
    token = CancelToken()

    class CancelAtFirstStep(Recorder):
        def __getattribute__(self, name):
            if name == "progress":
                def progress(job_id, done, total, eta):
                    if done == 1:
                        token.cancel()
                return progress
            return super().__getattribute__(name)

    engine.events = CancelAtFirstStep()
    job = GenerateJob(new_job_id(), tiny_params(tiny_ltx_dir, steps=3),
                      project_root=str(tmp_path / "p"))
    assert engine.run(job, token) is None
    assert [e[0] for e in engine.events.events][-1] == "cancelled"
    assert not list((tmp_path / "p" / "generations").glob("*"))


def test_out_of_memory_in_the_pipeline_fails_the_job_and_the_next_one_runs(engine, tiny_ltx_dir,
                                                                           tmp_path, monkeypatch):
    import torch

    transformer = engine.generator(str(tiny_ltx_dir)).pipeline("t2v").transformer
    original = transformer.forward
    calls = []

    def out_of_memory(*args, **kwargs):
        calls.append(1)
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")

    monkeypatch.setattr(transformer, "forward", out_of_memory)
    first = GenerateJob(new_job_id(), tiny_params(tiny_ltx_dir), project_root=str(tmp_path))
    assert engine.run(first) is None
    ((_, job_id, message),) = engine.events.of("failed")
    assert job_id == first.job_id and calls
    assert "out of GPU memory" in message and "fewer frames" in message
    assert "smaller size" in message and "offload" in message
    assert not list((tmp_path / "generations").glob("*"))

    monkeypatch.setattr(transformer, "forward", original)
    second = GenerateJob(new_job_id(), tiny_params(tiny_ltx_dir), project_root=str(tmp_path))
    result = engine.run(second)
    assert isinstance(result, GenerateResult) and Path(result.output).is_file()
    assert engine.loads == [str(tiny_ltx_dir)]  # the model stayed loaded


def test_bad_settings_fail_naming_the_field_before_loading(engine, tiny_ltx_dir, tmp_path):
    job = GenerateJob(new_job_id(), tiny_params(tiny_ltx_dir, num_frames=0),
                      project_root=str(tmp_path))
    assert engine.run(job) is None
    ((_, _, message),) = engine.events.of("failed")
    assert "num_frames" in message
    assert engine.loads == []

    missing = GenerateJob(new_job_id(), tiny_params(tiny_ltx_dir, mode="v2v",
                                                    source_path=str(tmp_path / "gone.mp4")),
                          project_root=str(tmp_path))
    assert engine.run(missing) is None
    assert "gone.mp4" in engine.events.of("failed")[-1][2]


def test_a_model_that_cannot_load_is_a_message(tmp_path):
    events = Recorder()
    eng = Engine(events, device="cpu")
    job = GenerateJob(new_job_id(), tiny_params(tmp_path / "no-such-model"),
                      project_root=str(tmp_path))
    assert eng.run(job) is None
    ((_, _, message),) = events.of("failed")
    assert "no-such-model" in message and "Traceback" not in message


# ---- reproducibility --------------------------------------------------------------------------

def test_same_seed_same_frames_and_equal_to_a_plain_diffusers_call(tiny_generator, tiny_ltx_dir):
    import torch
    from diffusers import LTXPipeline

    params = tiny_params(tiny_ltx_dir, seed=2024)
    first = tiny_generator.generate(params, on_preview=lambda *a: None)  # previews change nothing
    again = tiny_generator.generate(params)
    np.testing.assert_array_equal(first.frames, again.frames)
    other = tiny_generator.generate(params.replace(seed=2025))
    assert not np.array_equal(first.frames, other.frames)

    plain = LTXPipeline.from_pretrained(tiny_ltx_dir)
    plain.set_progress_bar_config(disable=True)
    video = plain(prompt=PROMPT, negative_prompt="", height=32, width=32, num_frames=9,
                  num_inference_steps=2, guidance_scale=3.0, frame_rate=24.0,
                  decode_timestep=0.05, decode_noise_scale=0.025, output_type="np",
                  max_sequence_length=256,
                  generator=torch.Generator("cpu").manual_seed(2024)).frames[0]
    np.testing.assert_array_equal(first.frames, (video * 255).round().astype(np.uint8))


def test_every_ltx_call_takes_prompts_of_256_tokens(tiny_generator, tiny_ltx_dir):
    """LTXPipeline's own default is 128 tokens: a long caption used as a prompt was cut."""
    long_prompt = " ".join(["a red car drives slowly on a wet street at night"] * 30)
    pipe = tiny_generator.pipeline("t2v")
    assert len(pipe.tokenizer(long_prompt).input_ids) > 200
    out = tiny_generator.generate(tiny_params(tiny_ltx_dir, prompt=long_prompt))
    assert out.calls[0]["pipeline"] == "LTXPipeline"
    assert out.calls[0]["kwargs"]["max_sequence_length"] == 256


def test_written_frames_are_the_generated_frames(tiny_generator, tiny_ltx_dir, tmp_path):
    from studio.inference.generator import (
        generation_record,
        read_record,
        save_generation,
    )

    out = tiny_generator.generate(tiny_params(tiny_ltx_dir, seed=5))
    record = generation_record(out, tiny_generator)
    png = save_generation(out, tmp_path / "frames", record, preset="png")
    names = sorted(p.name for p in Path(png.output).iterdir())
    assert names == [f"frame_{i:06d}.png" for i in range(9)]
    np.testing.assert_array_equal(decode_frames(Path(png.output) / "frame_000000.png")[0],
                                  out.frames[0])  # lossless
    mp4 = save_generation(out, tmp_path / "video.mp4", record)
    decoded = decode_frames(Path(mp4.output))
    assert decoded.shape == out.frames.shape
    # H.264 at CRF 18: the brightness is kept closely; the colour of random-weight noise at
    # 32x32 is not (yuv420p keeps one chroma sample per 2x2 pixels)
    luma = np.array([0.299, 0.587, 0.114])
    error = np.abs(decoded @ luma - out.frames @ luma).mean()
    other = np.abs(decoded @ luma - out.frames[::-1] @ luma).mean()
    assert error < 8 and error < other / 3, (error, other)
    assert read_record(mp4.output)["seed"] == 5
    Path(mp4.sidecars[0]).unlink()
    assert read_record(mp4.output) == record  # from the comment tag alone


# ---- memory settings --------------------------------------------------------------------------

def test_vae_tiling_asked_on_the_cpu_tiles_the_decode_and_is_recorded(tiny_generator,
                                                                      tiny_ltx_dir):
    """diffusers' VAE tiling works on any device: asked for explicitly, a frame wider than
    one 512 px tile is decoded in two tiles blended over columns 448..511 (their overlap),
    and the record says what was applied. On a CPU nothing is automatic."""
    from studio.inference.generator import generation_record

    params = tiny_params(tiny_ltx_dir, width=544, height=32, num_frames=5, seed=11)
    plain = tiny_generator.generate(params)
    tiled = tiny_generator.generate(params.replace(vae_tiling=True))
    assert tiled.frames.shape == plain.frames.shape == (5, 32, 544, 3)
    differs = np.nonzero((tiled.frames != plain.frames).any(axis=(0, 1, 3)))[0]
    assert len(differs) and differs.min() >= 448 and differs.max() < 512  # only the seam
    assert tiled.memory == {"offload": "none", "vae_tiling": True, "automatic": False,
                            "free_gb": None, "estimate_gb": tiled.memory["estimate_gb"],
                            "fits": None, "reason": tiled.memory["reason"],
                            # not fp8 (weights in the run's dtype: float32 on a CPU)
                            "transformer_dtype": "bf16", "text_encoder_dtype": "bf16"}
    assert tiled.memory["estimate_gb"] > 0 and "VAE tiling" in tiled.memory["reason"]
    assert plain.memory["vae_tiling"] is False and plain.memory["automatic"] is False
    assert generation_record(tiled, tiny_generator)["memory"] == tiled.memory
    assert tiled.params.vae_tiling is True  # the setting as asked, restorable
    # asked off again: the decode is whole again
    again = tiny_generator.generate(params.replace(vae_tiling=False))
    np.testing.assert_array_equal(again.frames, plain.frames)


def test_device_memory_is_only_known_for_cuda():
    import torch

    from studio.inference.devices import device_memory

    assert device_memory("cpu") is None and device_memory("mps") is None
    memory = device_memory("cuda")
    if not torch.cuda.is_available():
        assert memory is None
    else:
        assert 0 < memory.free_gb <= memory.total_gb
        assert memory.usable_gb >= memory.free_gb


# ---- previews ---------------------------------------------------------------------------------

def test_previews_come_every_few_steps_and_cost_little(tiny_generator, tiny_ltx_dir):
    import cv2  # noqa: F401 - imported by Studio long before a run; not a preview cost

    params = tiny_params(tiny_ltx_dir, steps=8, num_frames=17, guidance_scale=1.0)
    got = []
    first = tiny_generator.generate(params, on_preview=lambda step, frames: got.append((step, frames)))
    assert [s for s, _ in got] == [2, 4, 6]  # about four a run, none at the last step
    frames = got[0][1]
    assert frames.dtype == np.uint8 and frames.shape == (5, 32, 32, 3)  # one per latent frame
    assert first.previews == 3
    np.testing.assert_array_equal(first.frames, tiny_generator.generate(params).frames)

    # the worst case, a preview after every step, with the map already fitted
    ratios = []
    for _ in range(2):
        began = time.perf_counter()
        out = tiny_generator.generate(params, on_preview=lambda *a: None, preview_every=1)
        total = time.perf_counter() - began
        assert out.previews == 7
        ratios.append(out.preview_s / total)
    assert min(ratios) <= 0.10, ratios


def test_the_preview_map_follows_the_vae(tiny_generator):
    from studio.inference.generator import LatentPreview

    preview = LatentPreview.fit(tiny_generator.pipeline("t2v"))
    assert preview.matrix.shape == (9, 3)  # 8 latent channels + bias -> RGB
    assert np.isfinite(preview.matrix).all()
    assert LatentPreview.fit(tiny_generator.pipeline("t2v")).matrix.tobytes() == \
        preview.matrix.tobytes()  # fixed: fitting again gives the same map


# ---- through the model manager (the GUI's worker thread) ---------------------------------------

def test_the_model_manager_runs_a_generation_and_hands_previews_to_the_gui_thread(
        qtbot, tiny_ltx_dir, tmp_path):
    from PySide6.QtCore import QCoreApplication, QObject, QThread, Slot

    from studio.ui.model_manager import ModelManager

    class Sink(QObject):
        def __init__(self):
            super().__init__()
            self.events, self.wrong_thread = [], []

        def _add(self, *event):
            if QThread.currentThread() is not QCoreApplication.instance().thread():
                self.wrong_thread.append(event[0])
            self.events.append(event)

        @Slot(int, int, object)
        def preview(self, job_id, step, frames): self._add("preview", job_id, step, frames)
        @Slot(int, int, int, float)
        def progress(self, job_id, done, total, eta): self._add("progress", job_id, done, total)
        @Slot(int, object)
        def finished(self, job_id, result): self._add("finished", job_id, result)
        @Slot(int, str)
        def failed(self, job_id, message): self._add("failed", job_id, message)
        @Slot(int, int, int, int, int)
        def passed(self, job_id, *where): self._add("pass", job_id, where)

    manager = ModelManager(device="cpu", freeze_heap=False)
    sink = Sink()
    manager.pass_started.connect(sink.passed)
    manager.preview.connect(sink.preview)
    manager.progress.connect(sink.progress)
    manager.job_finished.connect(sink.finished)
    manager.job_failed.connect(sink.failed)
    try:
        job = GenerateJob(new_job_id(), tiny_params(tiny_ltx_dir, steps=4),
                          project_root=str(tmp_path), preview_every=1)
        manager.submit(job)
        qtbot.waitUntil(lambda: any(e[0] in ("finished", "failed") for e in sink.events),
                        timeout=120_000)
    finally:
        assert manager.shutdown(10_000)
    assert sink.wrong_thread == []
    (done,) = [e for e in sink.events if e[0] in ("finished", "failed")]
    assert done[0] == "finished", done
    assert Path(done[2].output).is_file() and done[2].generation_id is not None
    previews = [e for e in sink.events if e[0] == "preview"]
    assert [e[2] for e in previews] == [1, 2, 3]
    assert [e[2] for e in sink.events if e[0] == "pass"] == [(1, 1, 0, 4)]  # one pass
    assert all(isinstance(e[3], np.ndarray) and e[3].dtype == np.uint8 for e in previews)
    assert [e[3] for e in sink.events if e[0] == "progress"][-1] == 4


def test_out_of_gpu_memory_through_the_model_manager_and_the_next_job_runs(
        qtbot, tiny_ltx_dir, tmp_path, monkeypatch):
    """A CUDA out-of-memory error raised inside the pipeline (injected into diffusers'
    transformer, once) fails its job on the manager's thread with a message that suggests
    fewer frames, a smaller size or offload; the job queued behind it then runs."""
    import torch
    from diffusers import LTXVideoTransformer3DModel
    from PySide6.QtCore import QObject, Slot

    from studio.ui.model_manager import ModelManager

    original = LTXVideoTransformer3DModel.forward
    raised = []

    def forward(self, *args, **kwargs):
        if not raised:
            raised.append(True)
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(LTXVideoTransformer3DModel, "forward", forward)

    class Sink(QObject):
        def __init__(self):
            super().__init__()
            self.ended: dict[int, tuple] = {}

        @Slot(int, object)
        def finished(self, job_id, result): self.ended[job_id] = ("finished", result)
        @Slot(int, str)
        def failed(self, job_id, message): self.ended[job_id] = ("failed", message)

    manager = ModelManager(device="cpu", freeze_heap=False)
    sink = Sink()
    manager.job_finished.connect(sink.finished)
    manager.job_failed.connect(sink.failed)
    first_out, second_out = tmp_path / "first", tmp_path / "second"
    jobs = [GenerateJob(new_job_id(), tiny_params(tiny_ltx_dir, num_frames=13),
                        project_root=str(first_out)),
            GenerateJob(new_job_id(), tiny_params(tiny_ltx_dir), project_root=str(second_out))]
    try:
        for job in jobs:
            manager.submit(job)
        qtbot.waitUntil(lambda: len(sink.ended) == 2, timeout=120_000)
    finally:
        assert manager.shutdown(10_000)
    kind, message = sink.ended[jobs[0].job_id]
    assert kind == "failed" and raised == [True]
    assert message == ("out of GPU memory while generating 13 frames at 32x32: try fewer "
                       "frames, a smaller size, VAE tiling, or model CPU offload")
    assert not (first_out / "generations").exists() or \
        not list((first_out / "generations").iterdir())  # nothing half-written
    kind, result = sink.ended[jobs[1].job_id]
    assert kind == "finished" and Path(result.output).is_file()
    assert result.record["memory"]["offload"] == "none"


def test_a_source_whose_name_is_not_utf8_is_recorded_and_read_back(tiny_generator, tiny_ltx_dir,
                                                                   clip, tmp_path):
    """Issue 14 item 2: the record's source path reached the comment tag and the sidecar as
    surrogates, which neither FFmpeg's metadata nor a UTF-8 file can hold."""
    import os
    import shutil

    from studio.core.generation_record import read_generation_params, read_generation_record
    from studio.inference.generator import generation_record, save_generation

    bad = os.fsdecode(os.fsencode(tmp_path) + b"/clip\xff.mp4")
    shutil.copyfile(clip, bad)
    out = tiny_generator.generate(tiny_params(tiny_ltx_dir, mode="v2v", source_path=bad))
    written = save_generation(out, tmp_path / "made.mp4", generation_record(out, tiny_generator))
    assert read_generation_params(written.output).source_path == bad  # from the comment tag
    assert read_generation_record(written.sidecars[0])["source"]["path"] == bad
