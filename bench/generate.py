"""Generation overhead, on the CPU with a small random-weight LTX-Video built here (offline):

(a) Studio's generation against the plain diffusers pipeline call, same loaded pipeline, same
    settings and seed (the frames are checked equal). Target: ratio <= 1.05.
(b) Live preview on (about four a run, as the GUI asks) against off. Target: ratio <= 1.10.

"Studio" is ``Generator.generate`` called as the engine calls it: conforming the settings to the
model's rules, picking the mode's pipeline, the seeded ``torch.Generator``, the step callback
(cancel check, progress with ETA, previews when asked), the frames converted to uint8 and the
timings. "Plain" is ``pipe(...)`` with ``output_type="np"`` and nothing else. Writing the video
(H.264 and sidecar) is not generation: the engine's whole job is timed apart, for information.

The sides alternate (the first side swaps every round) and each runs on one worker thread, as
the engine's jobs do: bench/caption.py found torch's CPU thread pool far slower on the main
thread of this busy machine. The ratio is the median of the per-round ratios.

``--threads 1`` for figures on a shared 2-core machine: with torch's default of one thread a
core, another process on either core makes torch's two threads wait for each other at every
operation (spinning: the CPU time grows with the wall time), and single runs vary 2-10x.

    .venv/bin/python bench/generate.py [--rounds 7] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PROMPT = "a dog running on the beach, cinematic"
# 192x128, 25 frames: the VAE compresses 8x in space and time, so 4 x 16 x 24 latent tokens
SETTINGS = {"width": 192, "height": 128, "num_frames": 25, "steps": 8, "guidance_scale": 1.0,
            "negative_prompt": "", "fps": 24.0}


def make_bench_ltx(directory: str | os.PathLike) -> Path:
    """An LTX-Video pipeline about 8 MB in size (transformer 8 heads x 32, 4 layers; VAE with 8x
    spatial and temporal compression; 2-layer T5 of width 64), random weights, written with
    ``save_pretrained`` in the real diffusers layout. One 8-step run of ``SETTINGS`` takes 2-3
    s on 2 CPU cores, most of it in the transformer, as on a GPU with the real model."""
    from studio.inference.demo import build_folder

    def write(folder: Path) -> None:
        import torch
        from diffusers import (
            AutoencoderKLLTXVideo,
            FlowMatchEulerDiscreteScheduler,
            LTXPipeline,
            LTXVideoTransformer3DModel,
        )
        from transformers import T5Config, T5EncoderModel

        from studio.inference.demo_ltx import _make_tokenizer

        tokenizer = _make_tokenizer()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(7)
            transformer = LTXVideoTransformer3DModel(
                in_channels=32, out_channels=32, patch_size=1, patch_size_t=1,
                num_attention_heads=8, attention_head_dim=32, cross_attention_dim=256,
                num_layers=4, caption_channels=64)
            scaling = (True, True, True, False)
            vae = AutoencoderKLLTXVideo(
                latent_channels=32, block_out_channels=(8, 16, 32, 32),
                decoder_block_out_channels=(8, 16, 32, 32),
                layers_per_block=(1, 1, 1, 1, 1), decoder_layers_per_block=(1, 1, 1, 1, 1),
                spatio_temporal_scaling=scaling, decoder_spatio_temporal_scaling=scaling,
                decoder_inject_noise=(False,) * 5, upsample_residual=(False,) * 4,
                upsample_factor=(1,) * 4, patch_size=1, patch_size_t=1,
                encoder_causal=True, decoder_causal=False)
            text_encoder = T5EncoderModel(T5Config(
                vocab_size=len(tokenizer), d_model=64, d_kv=16, d_ff=128, num_layers=2,
                num_heads=4, relative_attention_num_buckets=8, dropout_rate=0.0,
                pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
                decoder_start_token_id=tokenizer.pad_token_id))
        pipe = LTXPipeline(scheduler=FlowMatchEulerDiscreteScheduler(), vae=vae,
                           text_encoder=text_encoder, tokenizer=tokenizer,
                           transformer=transformer)
        pipe.save_pretrained(folder, safe_serialization=True)

    return build_folder(directory, write)


def bench_params(model: str | os.PathLike, **changes):
    from studio.core.params import GenerationParams

    values = dict(model=str(model), prompt=PROMPT, seed=1234, seed_locked=True, **SETTINGS)
    values.update(changes)
    return GenerationParams(**values)


_WORKER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bench-worker")


def on_worker(fn):
    """``fn()`` on the one worker thread (the engine runs every job on one thread too); returns
    (wall s, CPU s, result). CPU: every thread of the process (torch's pool included)."""

    def run():
        began, cpu = time.perf_counter(), time.process_time()
        result = fn()
        return time.perf_counter() - began, time.process_time() - cpu, result

    return _WORKER.submit(run).result()


def interleaved(first, second, rounds: int):
    """Per-round (wall, CPU) seconds of both sides, alternating which goes first."""
    a, b = [], []
    for i in range(rounds):
        order = ((first, a), (second, b)) if i % 2 == 0 else ((second, b), (first, a))
        for fn, times in order:
            wall, cpu, _ = on_worker(fn)
            times.append((wall, cpu))
    return a, b


def summary(name_a: str, a: list, name_b: str, b: list, target: float) -> float:
    """Prints both sides and their ratios; returns the median of the per-round wall ratios.
    Under load noise only adds time, so the ratio of the minimums is printed too."""
    wall_a, wall_b = [w for w, _ in a], [w for w, _ in b]
    ratio = statistics.median(x / y for x, y in zip(wall_a, wall_b))
    cpu = statistics.median(x[1] / y[1] for x, y in zip(a, b))
    for name, walls in ((name_a, wall_a), (name_b, wall_b)):
        print(f"  {name}: median {statistics.median(walls) * 1000:.0f} ms "
              f"(min {min(walls) * 1000:.0f})")
    print(f"  ratio: {ratio:.3f}x median of per-round ratios (target <= {target:.2f}x); "
          f"{min(wall_a) / min(wall_b):.3f}x of minimums; {cpu:.3f}x CPU time")
    return ratio


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--threads", type=int, default=0,
                        help="torch CPU threads (0: torch's default, as Studio runs)")
    args = parser.parse_args()

    import numpy as np
    import torch

    from studio.core.cancel import CancelToken
    from studio.inference.engine import Engine, EngineEvents, GenerateJob, new_job_id
    from studio.inference.generator import Generator, _quiet

    if args.threads:
        torch.set_num_threads(args.threads)
    work = Path(tempfile.mkdtemp(prefix="studio-bench-generate-"))
    with _quiet():
        folder = make_bench_ltx(work / "bench-ltx")
    generator = Generator.load(str(folder), "cpu")
    params = bench_params(folder)
    conformed = generator.conform(params)
    assert not conformed.changes, conformed.changes  # both sides run exactly these settings
    pipe = generator.pipeline("t2v")
    progress = []

    def studio(**preview):
        token = CancelToken()
        return generator.generate(params, cancel=token, **preview,
                                  on_progress=lambda done, total, eta: progress.append(done))

    def studio_preview():
        return studio(on_preview=lambda step, frames: None)

    def plain():
        return pipe(prompt=PROMPT, negative_prompt="", width=params.width, height=params.height,
                    num_frames=params.num_frames, num_inference_steps=params.steps,
                    guidance_scale=params.guidance_scale, frame_rate=params.fps,
                    decode_timestep=params.decode_timestep,
                    decode_noise_scale=params.decode_noise_scale, output_type="np",
                    max_sequence_length=256,  # Studio's, for every LTX call
                    generator=torch.Generator("cpu").manual_seed(params.seed))

    # warm up every path (the preview map is fitted on the first preview run, once a model)
    out = on_worker(studio)[2]
    with_preview = on_worker(studio_preview)[2]
    reference = on_worker(plain)[2]
    np.testing.assert_array_equal(out.frames, (reference.frames[0] * 255).round().astype(np.uint8))
    np.testing.assert_array_equal(out.frames, with_preview.frames)

    print(f"LTX-Video, random weights ({sum(p.numel() for p in pipe.transformer.parameters()) / 1e6:.1f}M "
          f"transformer), CPU, torch threads {torch.get_num_threads()}: {params.width}x{params.height}, "
          f"{params.num_frames} frames, {params.steps} steps, guidance {params.guidance_scale}; "
          f"{args.rounds} interleaved rounds; load average {os.getloadavg()[0]:.1f}")
    print(f"  Studio's timings of one run: {out.timings}")
    print("(a) Studio's generation against the plain pipeline call")
    a, b = interleaved(studio, plain, args.rounds)
    ratio_a = summary("studio Generator.generate", a, "plain pipe(...)          ", b, 1.05)

    print("(b) live preview on (about four a run) against off")
    previews = on_worker(studio_preview)[2]
    c, d = interleaved(studio_preview, studio, args.rounds)
    ratio_b = summary("preview on ", c, "preview off", d, 1.10)
    made = previews.preview_s / previews.timings["total_s"]
    print(f"  {previews.previews} previews a run, {previews.preview_s * 1000:.1f} ms making them "
          f"in a {previews.timings['total_s'] * 1000:.0f} ms run: {1 / (1 - made):.3f}x by "
          f"Studio's own account (the map's fit, once a model: "
          f"{generator._preview.fit_s * 1000:.0f} ms, is in no timed run)")

    # the engine's whole job, for information: generating plus writing H.264 and the sidecar
    engine = Engine(EngineEvents(), device="cpu",
                    load_generator=lambda model, device, allow_download=False: generator)

    def job():
        return engine.run(GenerateJob(new_job_id(), params, output=str(work / "out"),
                                      register=False), CancelToken())

    seconds = [on_worker(job)[0] for _ in range(3)]
    print(f"(info) the engine's whole GenerateJob (generate + H.264 + sidecar): median "
          f"{statistics.median(seconds) * 1000:.0f} ms; load average {os.getloadavg()[0]:.1f}")
    print(f"RESULT generate {ratio_a:.3f}x (<= 1.05) preview {ratio_b:.3f}x (<= 1.10)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
