"""A child process for tests/test_hostile.py: it opens damaged media with ``probe`` and
``FrameReader``, so that a hang or a crash inside FFmpeg fails one example of one test
instead of stopping the whole run. Plain functions, no pytest.

Protocol: the parent writes one JSON line per file (its path); the child answers one JSON line
``{step: None | failure}`` for the steps probe, open (``FrameReader(path)``), frame_at
(``frame_at(0)``) and sample_indices (``sample_indices(count=3)``). A failure is
``{"type", "media_error", "message", "studio_frame", "traceback"}``.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_STUDIO_DIR = str(ROOT / "studio") + os.sep


def deepest_studio_frame(err: BaseException) -> str | None:
    """The name of the innermost named function of Studio's own code in ``err``'s traceback
    (comprehensions and lambdas are skipped: the function around them names the place)."""
    names = [f.name for f in traceback.extract_tb(err.__traceback__)
             if f.filename.startswith(_STUDIO_DIR) and not f.name.startswith("<")]
    return names[-1] if names else None


def _outcome(call) -> dict | None:
    try:
        call()
    except BaseException as err:  # noqa: BLE001 - every failure is reported to the parent
        from studio.core.media import MediaError

        return {"type": type(err).__name__, "media_error": isinstance(err, MediaError),
                "message": str(err)[:2000], "studio_frame": deepest_studio_frame(err),
                "traceback": "".join(traceback.format_exception(err))[-6000:]}
    return None


def check_media(path: str) -> dict:
    from studio.core.frames import FrameReader
    from studio.core.media import probe

    out: dict = {"probe": _outcome(lambda: probe(path))}
    readers = []
    out["open"] = _outcome(lambda: readers.append(FrameReader(path)))
    if readers:
        reader = readers[0]
        out["frame_at"] = _outcome(lambda: reader.frame_at(0))
        out["sample_indices"] = _outcome(lambda: reader.sample_indices(count=3))
        out["close"] = _outcome(reader.close)
    return out


def serve() -> None:
    """The child's loop: a path a line in, an answer a line out, until stdin closes."""
    # answers go out on a private copy of stdout; anything a library prints goes to stderr
    answers = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    import studio.core.frames  # noqa: F401 - imported once, before the first timed request

    answers.write(json.dumps({"ready": True}) + "\n")
    answers.flush()
    for line in sys.stdin:
        answers.write(json.dumps(check_media(json.loads(line))) + "\n")
        answers.flush()


class WorkerFailed(Exception):
    """The child hung (``hung`` True) or died on a file."""

    def __init__(self, message: str, hung: bool):
        super().__init__(message)
        self.hung = hung


class MediaWorker:
    """The parent's end: ``check(path, timeout)`` returns the child's answer, or raises
    :class:`WorkerFailed` after killing a child that hung or finding one that died (the next
    call starts a fresh child)."""

    def __init__(self, log_path: str | os.PathLike):
        self._log_path = log_path
        self._proc: subprocess.Popen | None = None

    def _start(self) -> subprocess.Popen:
        log = open(self._log_path, "ab")
        try:
            proc = subprocess.Popen(
                [sys.executable, "-c", "from tests._hostile_worker import serve; serve()"],
                cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log)
        finally:
            log.close()
        self._proc = proc
        self._read(proc, 120.0)  # the first import of PyAV and numpy
        return proc

    def _read(self, proc: subprocess.Popen, timeout: float) -> dict:
        ready, _, _ = select.select([proc.stdout], [], [], timeout)
        if not ready:
            self.close()
            raise WorkerFailed(f"no answer within {timeout:g} s (a hang)", hung=True)
        line = proc.stdout.readline()
        if not line:
            code = proc.wait()
            self._proc = None
            raise WorkerFailed(f"the child process died (exit status {code})", hung=False)
        return json.loads(line)

    def check(self, path: str, timeout: float) -> dict:
        proc = self._proc or self._start()
        try:
            proc.stdin.write((json.dumps(str(path)) + "\n").encode())
            proc.stdin.flush()
        except BrokenPipeError:
            code = proc.wait()
            self._proc = None
            raise WorkerFailed(f"the child process died (exit status {code})",
                               hung=False) from None
        return self._read(proc, timeout)

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        for pipe in (proc.stdin, proc.stdout):
            try:
                pipe.close()
            except OSError:
                pass
