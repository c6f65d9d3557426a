"""The GUI while a generation runs: the worst gap between ticks of a 1 ms timer in the GUI
thread while the model manager's thread runs GenerateJobs with live previews, shown in the real
PreviewPanel (each preview becomes QImages, looping on its timer), and the video is written.
Target: worst gap <= 50 ms.

In one fresh process: the first job (importing torch and diffusers, loading the model,
generating, writing H.264), then rounds of three: a job with the model resident (the case a
person sees most), the baseline of the same generation as a plain diffusers call on a Python
thread (no Studio: what any in-process generation costs the GUI on this machine), and the idle
event loop. The model is bench/generate.py's small LTX-Video, built in a child process so that
this one has not imported torch before the measurement.

    .venv/bin/python bench/generate_gui.py [--jobs 3]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from PySide6.QtCore import QEventLoop, QObject, Slot
from PySide6.QtWidgets import QApplication

from bench.gap_meter import GapMeter, spin


class Outcome(QObject):
    def __init__(self):
        super().__init__()
        self.ended: dict[int, str] = {}
        self.generate_s: dict[int, float] = {}  # of the job's seconds, generating (no writing)
        self.previews = 0

    @Slot(int, object)
    def finished(self, job_id, result):
        self.ended[job_id] = "finished"
        self.generate_s[job_id] = result.record["timings"]["total_s"]

    @Slot(int, str)
    def failed(self, job_id, message):
        self.ended[job_id] = f"failed: {message}"

    @Slot(int, int, object)
    def preview(self, job_id, step, frames):
        self.previews += 1


def run_job(app, manager, panel, outcome, params, out_dir) -> tuple[float, float, str]:
    """One GenerateJob from submit to its end; returns (seconds, worst gap ms, outcome)."""
    from studio.inference.engine import GenerateJob, new_job_id

    meter = GapMeter()
    job = GenerateJob(new_job_id(), params, output=str(out_dir), register=False)
    playing = panel.result_player.is_playing  # the last result, looping behind the previews
    meter.start()
    began = time.perf_counter()
    panel.track(job.job_id, params, manager.submit(job))  # the panel follows the run's handle
    while job.job_id not in outcome.ended and time.perf_counter() - began < 600:
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 5)
    ended = outcome.ended.get(job.job_id, "timed out")
    if job.job_id in outcome.generate_s:
        ended += f", {outcome.generate_s[job.job_id]:.1f} s of it generating"
    return time.perf_counter() - began, meter.stop(), ended + (", last result playing" if playing else "")


def plain_run(app, pipe, params) -> float:
    """The same generation as a plain pipeline call on a Python thread; returns the worst gap."""
    import threading

    import torch

    def generate():
        pipe(prompt=params.prompt, negative_prompt=params.negative_prompt, width=params.width,
             height=params.height, num_frames=params.num_frames,
             num_inference_steps=params.steps, guidance_scale=params.guidance_scale,
             frame_rate=params.fps, decode_timestep=params.decode_timestep,
             decode_noise_scale=params.decode_noise_scale, output_type="np",
             max_sequence_length=256,  # Studio's, for every LTX call
             generator=torch.Generator("cpu").manual_seed(params.seed))

    meter = GapMeter()
    worker = threading.Thread(target=generate)
    meter.start()
    worker.start()
    while worker.is_alive():
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 5)
    return meter.stop()


def idle_run(app, seconds: float) -> float:
    meter = GapMeter()
    meter.start()
    spin(app, seconds)
    return meter.stop()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=3, help="rounds with the model resident")
    parser.add_argument("--threads", type=int, default=0,
                        help="torch CPU threads (OMP_NUM_THREADS; 0: torch's default, as Studio)")
    args = parser.parse_args()
    if args.threads:  # read by torch when it starts, in the model manager's first job
        os.environ["OMP_NUM_THREADS"] = str(args.threads)

    app = QApplication(sys.argv[:1])
    from studio.ui.model_manager import ModelManager
    from studio.ui.preview_panel import PreviewPanel

    work = Path(tempfile.mkdtemp(prefix="studio-bench-generate-gui-"))
    subprocess.run([sys.executable, "-c", (
        f"import sys; sys.path.insert(0, {str(ROOT)!r})\n"
        "from bench.generate import make_bench_ltx\n"
        "from studio.inference.generator import _quiet\n"
        f"with _quiet(): make_bench_ltx({str(work / 'model')!r})\n")], check=True)
    assert "torch" not in sys.modules

    from bench.generate import bench_params

    manager = ModelManager(device="cpu")
    panel = PreviewPanel()
    panel.resize(640, 480)
    panel.show()
    outcome = Outcome()
    manager.job_finished.connect(outcome.finished)
    manager.job_failed.connect(outcome.failed)
    manager.preview.connect(outcome.preview)
    params = bench_params(work / "model")

    first = run_job(app, manager, panel, outcome, params, work / "out")
    from diffusers import LTXPipeline

    from studio.inference.generator import _quiet

    with _quiet():
        plain_pipe = LTXPipeline.from_pretrained(str(work / "model"))
    plain_pipe.set_progress_bar_config(disable=True)
    resident, plain, idle = [], [], []
    for _ in range(args.jobs):
        resident.append(run_job(app, manager, panel, outcome, params, work / "out"))
        plain.append(plain_run(app, plain_pipe, params))
        idle.append(idle_run(app, 3.0))
    previews = outcome.previews
    panel.shutdown()
    manager.shutdown(10000)

    load = os.getloadavg()[0]
    import torch

    print(f"{params.width}x{params.height}, {params.num_frames} frames, {params.steps} steps, "
          f"previews shown in the PreviewPanel ({previews} in all), torch threads "
          f"{torch.get_num_threads()}; load average {load:.1f}")
    print(f"first job (import torch + diffusers, load, generate, write): {first[0]:.1f} s, "
          f"worst gap {first[1]:.1f} ms ({first[2]})")
    for i, (seconds, gap, ended) in enumerate(resident):
        print(f"round {i + 1}: Studio job, model resident (generate, write): {seconds:.1f} s, "
              f"worst gap {gap:.1f} ms ({ended}); plain pipeline call on a thread "
              f"{plain[i]:.1f} ms; idle {idle[i]:.1f} ms")
    worst = max([first[1]] + [gap for _, gap, _ in resident])
    print(f"worst GUI event-loop gap in Studio's jobs: {worst:.1f} ms (target <= 50 ms); "
          f"baselines: plain call on a thread {max(plain):.1f} ms, idle {max(idle):.1f} ms; "
          f"load average {os.getloadavg()[0]:.1f}")
    return 0 if all(e.startswith("finished") for e in [first[2]] + [r[2] for r in resident]) \
        else 1


if __name__ == "__main__":
    sys.exit(main())
