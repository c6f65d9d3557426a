"""Loads what is published: every registry model, laid out in an offline Hugging Face cache file
for file as its repo publishes it (tests/inference/published.py: the real names, shards,
model_index.json classes and tokenizer folders, tiny random weights), resolves, loads through
the same code a download goes through and runs at tiny size. The acceptance commands of the
issue run through the CLI, and plain diffusers replays what their sidecars record."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from studio.cli import main
from studio.core.params import GenerationParams
from studio.inference import loading, registry
from tests.inference import published
from tests.inference.published import REPO_BUILDERS
from tests.inference.test_loading import COMMIT, offline  # noqa: F401 (fixture)

PROMPT = "a red car drives slowly down a quiet city street at night"
PUBLISHED = [m.id for m in registry.models() if not m.demo]
GENERATORS = [m.id for m in registry.models("generator") if not m.demo]
LTX = [i for i in GENERATORS if i.startswith("Lightricks/LTX-Video")]
LTX2 = list(published.LTX2_IDS)
DISTILLED = [i for i in LTX if registry.get(i).defaults.get("timesteps")]
DISTILLED_TIMESTEPS = [float(t) for t in registry.LTX_DISTILLED_TIMESTEPS]
# the sizes each generator runs at here: LTX and Wan at the smallest their rules allow;
# CogVideoX-2b only at 720x480 (its rules), which its tiny transformer's latent grid matches
SIZES = {published.COGVIDEOX_2B: (720, 480), published.WAN_13B: (32, 32)}
NON_LTX_CLASSES = {published.COGVIDEOX_2B: "CogVideoXPipeline", published.WAN_13B: "WanPipeline"}


def generator_params(model_id: str, **changes) -> GenerationParams:
    width, height = SIZES.get(model_id, (32, 32))
    values = {"prompt": PROMPT, "width": width, "height": height, "num_frames": 9,
              "steps": 8 if model_id in DISTILLED else 2, "seed": 7, "seed_locked": True,
              "multiscale": False}
    values.update(changes)
    return GenerationParams.defaults(model_id, **values)


def assert_spiece_tokenizer(tokenizer, extra_ids: int) -> None:
    """``tokenizer`` is the published spiece.model's: every text encodes to the ids the
    SentencePiece model gives (then </s>), and its vocabulary is that model's plus the
    <extra_id_N> sentinels."""
    sp = published.spiece_processor()
    for text in ("forest", "A red car at night", "zebra quartz", "camera pans, slowly!"):
        assert tokenizer(text).input_ids == sp.encode(text) + [1], text
    assert len(tokenizer) == sp.get_piece_size() + extra_ids
    assert (tokenizer.pad_token_id, tokenizer.eos_token_id, tokenizer.unk_token_id) == (0, 1, 2)
    assert tokenizer.convert_tokens_to_ids("<extra_id_0>") == sp.get_piece_size() + extra_ids - 1


def test_every_registry_model_has_a_published_layout():
    assert set(PUBLISHED) == set(REPO_BUILDERS), "a registry entry without a builder, or a " \
        "builder for an entry that is gone"


@pytest.mark.parametrize("model_id", PUBLISHED)
def test_the_published_layout_resolves_loads_and_runs(model_id, offline, media):  # noqa: F811
    assert model_id in REPO_BUILDERS, f"{model_id}: no builder in tests/inference/published.py"
    snapshot = REPO_BUILDERS[model_id](offline)
    spec = registry.get(model_id)
    found = loading.resolve(model_id, expect=spec.kind)
    assert found.path == snapshot and found.revision == COMMIT and not found.demo
    if spec.kind == "captioner":
        run_captioner(model_id, snapshot, media)
    else:
        run_generator(model_id, snapshot)


def run_captioner(model_id: str, snapshot: Path, media) -> None:
    from tokenizers import Tokenizer

    from studio.inference.captioner import Captioner, CaptionSettings

    assert not (snapshot / "onnx").exists()  # never fetched
    captioner = Captioner.load(model_id, "cpu")
    assert captioner.model_id == model_id and not captioner.demo
    # the tokenizer is the published tokenizer.json, with SmolVLM2's prompt tokens
    text = "Describe this video in detail. <image>"
    want = Tokenizer.from_file(str(snapshot / "tokenizer.json")).encode(
        text, add_special_tokens=False).ids
    assert captioner.tokenizer(text, add_special_tokens=False).input_ids == want
    tokens = captioner.tokens
    assert (tokens.image, tokens.fake_image, tokens.global_image) == (
        "<image>", "<fake_token_around_image>", "<global-img>")
    processor = json.loads((snapshot / "processor_config.json").read_text())
    assert captioner.image_seq_len == processor["image_seq_len"]
    template = json.loads((snapshot / "chat_template.json").read_text())["chat_template"]
    assert captioner.image_template == template
    result = captioner.caption(str(media["h264_cfr"]), CaptionSettings(max_new_tokens=6))
    assert result.model_id == model_id and not result.demo
    assert isinstance(result.text, str) and result.frame_indices
    captioner.unload()


def run_generator(model_id: str, snapshot: Path) -> None:
    from studio.inference.generator import Generator

    generator = Generator.load(model_id, "cpu")
    if model_id in LTX2:
        run_ltx2(generator, model_id, snapshot)
        return
    pipe = generator.pipeline("t2v")
    extra_ids = published.UMT5_EXTRA_IDS if model_id == published.WAN_13B else \
        published.T5_EXTRA_IDS
    assert_spiece_tokenizer(pipe.tokenizer, extra_ids)
    p = generator_params(model_id)
    out = generator.generate(p)
    assert out.frames.shape == (9, p.height, p.width, 3) and out.frames.dtype == np.uint8
    assert out.frames.std() > 0
    assert len(out.calls) == 1
    kwargs = out.calls[0]["kwargs"]
    assert (kwargs["width"], kwargs["height"], kwargs["num_frames"]) == (p.width, p.height, 9)
    assert kwargs["generator"] == {"device": "cpu", "manual_seed": 7}
    if model_id in LTX:
        assert generator.class_name == out.calls[0]["pipeline"] == "LTXConditionPipeline"
        assert kwargs["max_sequence_length"] == 256
        if model_id in DISTILLED:
            assert kwargs["timesteps"] == DISTILLED_TIMESTEPS
        else:
            assert "timesteps" not in kwargs
    else:
        assert out.calls[0]["pipeline"] == NON_LTX_CLASSES[model_id]
    if model_id == published.LTX_2B_DISTILLED:
        # the transformer's weights are the single file's, not the base repo's
        from safetensors import safe_open

        with safe_open(str(generator.single_file), "pt") as f:
            want = f.get_tensor("model.diffusion_model.proj_out.weight")
        got = pipe.transformer.state_dict()["proj_out.weight"]
        assert np.array_equal(got.numpy(), want.numpy())
        assert not (snapshot / "transformer" / "diffusion_pytorch_model.safetensors").exists()
    generator.unload()


def run_ltx2(generator, model_id: str, snapshot: Path) -> None:
    """An LTX-2 repo: LTX2Pipeline with the registry's call settings, video with sound; the
    root's original checkpoints are never fetched."""
    assert not (snapshot / "ltx-2-19b-dev.safetensors").exists()
    p = generator_params(model_id, steps=8 if "Distilled" in model_id else 2)
    out = generator.generate(p)
    assert out.frames.shape == (9, 32, 32, 3) and out.audio.shape[1] == round(9 / 24 * 24000)
    (call,) = out.calls
    assert call["pipeline"] == generator.class_name == "LTX2Pipeline"
    wanted = registry.get(model_id).defaults["call_kwargs"]
    assert {k: call["kwargs"][k] for k in wanted} == wanted
    generator.unload()


@pytest.mark.parametrize("class_name", ["LTXPipeline", "LTXConditionPipeline"])
def test_ltx_095_loads_whichever_class_its_model_index_names(class_name, offline):  # noqa: F811
    """The hub's LTX-Video 0.9.5 names LTXPipeline; Studio runs the registry's LTX models
    through LTXConditionPipeline whatever the index says, and gets the same frames."""
    from studio.inference.generator import Generator

    snapshot = published.lay_out(offline, published.LTX_095, class_name=class_name)
    assert json.loads((snapshot / "model_index.json").read_text())["_class_name"] == class_name
    generator = Generator.load(published.LTX_095, "cpu")
    out = generator.generate(generator_params(published.LTX_095))
    assert generator.class_name == out.pipeline == "LTXConditionPipeline"
    assert [c["pipeline"] for c in out.calls] == ["LTXConditionPipeline"]
    assert out.frames.shape == (9, 32, 32, 3)
    i2v = generator.generate(generator_params(published.LTX_095, mode="i2v"),
                             image=np.full((30, 40, 3), 128, np.uint8))
    assert [c["pipeline"] for c in i2v.calls] == ["LTXConditionPipeline"]
    assert i2v.calls[0]["kwargs"]["conditions"][0]["frame_index"] == 0


# ---- the acceptance commands --------------------------------------------------------

def generate_cli(capsys, *args) -> dict:
    code = main(["generate", *map(str, args)])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out.strip().splitlines()[-1])


def fit(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """The picture cut to the output's aspect ratio (the middle kept) and scaled to its size,
    as Studio prepares an i2v picture (generator._fit)."""
    import cv2

    h, w = image.shape[:2]
    if w * height > h * width:
        cw = max(1, round(h * width / height))
        image = image[:, (w - cw) // 2:(w - cw) // 2 + cw]
    elif w * height < h * width:
        ch = max(1, round(w * height / width))
        image = image[(h - ch) // 2:(h - ch) // 2 + ch]
    if image.shape[:2] == (height, width):
        return image
    shrink = image.shape[1] > width
    return cv2.resize(np.ascontiguousarray(image), (width, height),
                      interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC)


def replay(call: dict, snapshot: Path) -> np.ndarray:
    """A recorded LTXConditionPipeline call made again with plain diffusers from the
    snapshot, its arguments from the record alone."""
    import PIL.Image
    import torch
    from diffusers import LTXConditionPipeline
    from diffusers.pipelines.ltx.pipeline_ltx_condition import LTXVideoCondition

    assert call["pipeline"] == "LTXConditionPipeline"
    kwargs = dict(call["kwargs"])
    seed = kwargs.pop("generator")
    assert seed["device"] == "cpu"
    conditions = []
    for cond in kwargs.pop("conditions", []):
        picture = np.asarray(PIL.Image.open(cond["image"]["path"]).convert("RGB"))
        picture = fit(picture, kwargs["width"], kwargs["height"])
        conditions.append(LTXVideoCondition(image=PIL.Image.fromarray(picture),
                                            frame_index=cond["frame_index"],
                                            strength=cond["strength"]))
    if conditions:
        kwargs["conditions"] = conditions
    assert kwargs["output_type"] == "np"
    pipe = LTXConditionPipeline.from_pretrained(snapshot)
    pipe.set_progress_bar_config(disable=True)
    with torch.inference_mode():
        video = pipe(generator=torch.Generator("cpu").manual_seed(seed["manual_seed"]),
                     **kwargs).frames[0]
    return (np.clip(video, 0, 1) * 255).round().astype(np.uint8)


def read_png_frames(folder: Path) -> np.ndarray:
    import cv2

    names = sorted(folder.glob("frame_*.png"))
    return np.stack([cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB) for p in names])


@pytest.mark.parametrize("mode", ["t2v", "i2v"])
def test_acceptance_13b_distilled_one_pass_replays_with_plain_diffusers(
        mode, offline, media, tmp_path, capsys):  # noqa: F811
    model = published.LTX_13B_DISTILLED
    snapshot = REPO_BUILDERS[model](offline)
    picture = ["--mode", "i2v", "--image", media["png"]] if mode == "i2v" else []
    args = ["a prompt", "--model", model, "--no-multiscale", "--seed", "7", "--width", "32",
            "--height", "32", "--frames", "9", *picture, "--device", "cpu"]
    out_mp4 = tmp_path / "out.mp4"
    row = generate_cli(capsys, *args, "-o", out_mp4)
    assert row["output"] == str(out_mp4) and row["frames"] == 9
    assert (row["width"], row["height"]) == (32, 32)
    record = json.loads(out_mp4.with_suffix(".json").read_text())["settings"]
    (call,) = record["calls"]
    assert call["pipeline"] == "LTXConditionPipeline"
    assert call["kwargs"]["timesteps"] == DISTILLED_TIMESTEPS
    assert call["kwargs"]["max_sequence_length"] == 256
    assert record["model"]["id"] == model and record["model"]["revision"] == COMMIT
    assert Path(record["model"]["path"]) == snapshot
    if mode == "i2v":
        (condition,) = call["kwargs"]["conditions"]
        assert condition["image"]["path"] == str(Path(media["png"]).absolute())

    # the same run as lossless PNG frames (H.264 is lossy): the same recorded call
    row = generate_cli(capsys, *args, "-o", tmp_path / "frames")
    lossless = json.loads(Path(row["sidecar"]).read_text())["settings"]
    assert lossless["calls"] == record["calls"]
    frames = read_png_frames(Path(row["output"]))
    assert frames.shape == (9, 32, 32, 3) and frames.std() > 0
    np.testing.assert_array_equal(replay(call, Path(record["model"]["path"])), frames)


def test_the_13b_distilled_default_run_is_two_passes_with_the_upsampler(
        offline, tmp_path, capsys):  # noqa: F811
    model = published.LTX_13B_DISTILLED
    REPO_BUILDERS[model](offline)
    row = generate_cli(capsys, "a prompt", "--model", model, "--seed", "7", "--width", "32",
                       "--height", "32", "--frames", "9", "--device", "cpu",
                       "-o", tmp_path / "frames")
    record = json.loads(Path(row["sidecar"]).read_text())["settings"]
    assert [c["pipeline"] for c in record["calls"]] == [
        "LTXConditionPipeline", "LTXLatentUpsamplePipeline", "LTXConditionPipeline"]
    first, _, refine = record["calls"]
    assert first["kwargs"]["timesteps"] == DISTILLED_TIMESTEPS
    assert refine["kwargs"]["timesteps"] == [1000, 909, 725, 421, 0]
    assert (refine["kwargs"]["width"], refine["kwargs"]["height"]) == (64, 64)
    assert record["params"]["multiscale"] is True
    assert record["model"]["upsampler"]["path"].endswith(
        registry.get(model).upsampler.filename)
    assert read_png_frames(Path(row["output"])).shape == (9, 32, 32, 3)
