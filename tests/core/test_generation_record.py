"""core.generation_record: a generation's settings read back from its mp4's comment tag, else
its sidecar, or from the sidecar itself; everything else is a NoGenerationRecord or a
GenerationRecordError naming the file."""

from __future__ import annotations

import json
import shutil

import av
import numpy as np
import pytest

from studio.core.export import ExportOptions, write_frames
from studio.core.generation_record import (
    GENERATION_KIND,
    GenerationRecordError,
    NoGenerationRecord,
    read_generation_params,
    read_generation_record,
)
from studio.core.params import Condition, GenerationParams
from tests.media_factory import make_video

PARAMS = GenerationParams(mode="condition", model="demo/ltx-video", prompt="a kite over a hill",
                          width=32, height=32, num_frames=9, seed=5, seed_locked=True,
                          conditions=[Condition("/media/kite.png", 0, 0.9)])


def frames(n=3):
    return [np.full((32, 32, 3), 40 * i, np.uint8) for i in range(n)]


def record():
    return {"kind": GENERATION_KIND, "version": 1, "prompt": PARAMS.prompt, "seed": 5,
            "params": PARAMS.to_dict()}


@pytest.fixture
def generation(tmp_path):
    """An mp4 with the record in its comment tag and in its sidecar (as save_generation
    writes them)."""
    result = write_frames(frames(), tmp_path / "kite.mp4", 24.0,
                          ExportOptions(metadata=record(), audio=False))
    assert result.sidecars == [str(tmp_path / "kite.json")]
    return tmp_path / "kite.mp4"


def test_from_the_comment_tag_alone(generation, tmp_path):
    alone = tmp_path / "alone"
    alone.mkdir()
    copy = shutil.copy(generation, alone / "copy.mp4")
    assert read_generation_record(copy) == record()
    assert read_generation_params(copy) == PARAMS


def test_from_the_sidecar_when_the_video_has_no_tag(generation, tmp_path):
    video = make_video(tmp_path / "plain.mp4", frames=3, width=32, height=32)
    shutil.copy(generation.with_suffix(".json"), tmp_path / "plain.json")
    assert read_generation_params(video) == PARAMS
    assert read_generation_params(tmp_path / "plain.json") == PARAMS  # the sidecar itself
    (tmp_path / "bare.json").write_text(json.dumps(record()))  # a record without the wrapper
    assert read_generation_params(tmp_path / "bare.json") == PARAMS


def comment_video(path, comment: str):
    with av.open(str(path), "w") as out:
        out.metadata["comment"] = comment
        stream = out.add_stream("libx264", rate=24)
        stream.width = stream.height = 32
        stream.pix_fmt = "yuv420p"
        for image in frames():
            out.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        out.mux(stream.encode())
    return path


def test_another_tools_comment_is_not_a_record(tmp_path):
    path = comment_video(tmp_path / "phone.mp4", "shot on a phone")
    with pytest.raises(NoGenerationRecord, match=r"phone\.mp4: not a Studio generation"):
        read_generation_record(path)
    shutil.copy(tmp_path / "phone.mp4", tmp_path / "phone2.mp4")
    (tmp_path / "phone2.json").write_text(json.dumps({"settings": record()}))
    assert read_generation_params(tmp_path / "phone2.mp4") == PARAMS  # then the sidecar


def test_a_plain_export_is_not_a_generation(tmp_path):
    write_frames(frames(), tmp_path / "export.mp4", 24.0, ExportOptions(audio=False))
    with pytest.raises(NoGenerationRecord):
        read_generation_record(tmp_path / "export.mp4")


def test_bad_files_are_named(tmp_path, generation):
    noise = tmp_path / "noise.mp4"
    noise.write_bytes(np.random.default_rng(1).bytes(4096))
    with pytest.raises(NoGenerationRecord, match="noise.mp4"):
        read_generation_record(noise)
    with pytest.raises(GenerationRecordError, match="gone.mp4: file not found") as err:
        read_generation_record(tmp_path / "gone.mp4")
    assert not isinstance(err.value, NoGenerationRecord)

    video = make_video(tmp_path / "damaged.mp4", frames=3, width=32, height=32)
    (tmp_path / "damaged.json").write_text('{"settings": ')
    with pytest.raises(GenerationRecordError, match=r"damaged\.json: not valid JSON \(line 1"):
        read_generation_record(video)
    (tmp_path / "latin.json").write_bytes(b"\xff\xfe{}")
    with pytest.raises(GenerationRecordError, match="latin.json: not a Studio sidecar"):
        read_generation_record(tmp_path / "latin.json")
    (tmp_path / "list.json").write_text("[1, 2]")
    with pytest.raises(GenerationRecordError, match="list.json: not a Studio generation record"):
        read_generation_record(tmp_path / "list.json")
    (tmp_path / "noparams.json").write_text(json.dumps({"kind": GENERATION_KIND}))
    with pytest.raises(GenerationRecordError, match="has no settings"):
        read_generation_record(tmp_path / "noparams.json")

    bad = record()
    bad["params"]["num_frames"] = "many"
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    with pytest.raises(GenerationRecordError, match=r"bad\.json: .*num_frames"):
        read_generation_params(tmp_path / "bad.json")


# ---- hostile records (issue 14, items 1 and 8) -----------------------------------------------



def test_a_huge_record_in_the_comment_tag_is_refused_unread(tmp_path):
    huge = {**record(), "prompt": "a" * (20 * 2**20)}
    video = comment_video(tmp_path / "huge.mp4", json.dumps({"settings": huge}))
    with pytest.raises(GenerationRecordError, match=r"huge\.mp4: .* too large"):
        read_generation_record(video)


def test_a_huge_sidecar_is_refused(tmp_path):
    video = make_video(tmp_path / "big.mp4", frames=3, width=32, height=32)
    (tmp_path / "big.json").write_text(json.dumps({"settings": {
        **record(), "prompt": "a" * (2 * 2**20)}}))
    with pytest.raises(GenerationRecordError, match=r"big\.json: too large"):
        read_generation_record(video)


def test_a_prompt_too_long_for_studio_is_a_damaged_setting(tmp_path):
    """Under the file limit, over the prompt limit: refused naming the field, never shown."""
    long = {**record(), "params": {**PARAMS.to_dict(), "prompt": "a" * 500_000}}
    (tmp_path / "long.json").write_text(json.dumps(long))
    with pytest.raises(GenerationRecordError, match=r"long\.json: its settings are damaged "
                                                    r"\(prompt: 500,000 characters"):
        read_generation_params(tmp_path / "long.json")


def test_json_nested_too_deeply_is_a_message(tmp_path):
    (tmp_path / "deep.json").write_text("[" * 200_000 + "]" * 200_000)
    with pytest.raises(GenerationRecordError, match=r"deep\.json: .*nested too deeply"):
        read_generation_record(tmp_path / "deep.json")
