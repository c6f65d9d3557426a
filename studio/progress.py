"""Progress of a command-line verb on stderr (issue 19, item 1). Pure Python; tqdm loads only
when a bar is drawn.

stdout holds a verb's results and nothing else; progress goes to stderr in one of four modes:

- ``auto`` (the default): a tqdm bar when stderr is a terminal, nothing otherwise, so pipes,
  redirections and CI logs stay clean;
- ``bar``: a tqdm bar even when stderr is not a terminal;
- ``json``: one line per update, for scripts and other front ends::

      {"progress": {"verb": "export", "file": "a.mp4", "done": 12, "total": 48,
                    "unit": "frames", "eta_s": 3.1}}

  ``file`` is the file being worked on (null when the verb has none), ``total`` null while
  unknown, ``eta_s`` the seconds left (null while unknown). Lines come at most every
  ``interval`` seconds (0.1), but the first and the last of each task always come: a task
  that ends sends a line whose ``done`` is its ``total``;
- ``none`` (``-q``/``--quiet``): nothing.

A verb reports through one ``Progress``: ``start(total, file=...)`` begins a task (ending the
one before), ``update(done)`` or ``advance()`` moves it, ``end()`` ends it (flushing a
throttled last update) and ``close()`` ends whatever is left, also after Ctrl+C, so the
``interrupted`` line starts on a line of its own.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable

MODES = ("auto", "bar", "json", "none")
INTERVAL_S = 0.1


def resolve_mode(mode: str, stream=None) -> str:
    """``auto`` becomes ``bar`` when ``stream`` (stderr) is a terminal, else ``none``."""
    if mode != "auto":
        return mode
    stream = sys.stderr if stream is None else stream
    try:
        return "bar" if stream.isatty() else "none"
    except (AttributeError, ValueError, OSError):  # closed or not a real file
        return "none"


class Progress:
    """One verb's progress on stderr; see the module's docstring."""

    def __init__(self, verb: str, mode: str = "auto", *, interval: float = INTERVAL_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if mode not in MODES:
            raise ValueError(f"progress mode must be one of {', '.join(MODES)}, not {mode!r}")
        self.verb, self.mode = verb, resolve_mode(mode)
        self.interval, self.clock = interval, clock
        self._bar = None
        self._task: dict | None = None

    @property
    def shown(self) -> bool:
        return self.mode != "none"

    # ---- tasks -----------------------------------------------------------------------------

    def start(self, total: int | None, file: str | None = None, unit: str = "frames") -> None:
        """Begin a task of ``total`` units (None: not known yet), ending the one before."""
        self.end()
        if not self.shown:
            return
        self._task = {"file": file, "done": 0, "total": total, "unit": unit,
                      "started": self.clock(), "sent": None, "pending": False, "eta_s": None}
        if self.mode == "bar":
            self._bar = self._make_bar(total, file, unit)
        else:
            self._send()

    def update(self, done: int, total: int | None = None, *, file: str | None = None,
               eta_s: float | None = None) -> None:
        """The task has ``done`` units of ``total`` (when given, a new total) done; ``eta_s``:
        the seconds left when the caller knows them better than a straight line."""
        task = self._task
        if task is None:
            return
        if total is not None:
            task["total"] = total
        if file is not None:
            task["file"] = file
        task["done"], task["eta_s"] = done, eta_s
        if self._bar is not None:
            self._update_bar(task)
            return
        finished = task["total"] is not None and done >= task["total"]
        sent = task["sent"]
        if finished or sent is None or self.clock() - sent >= self.interval:
            self._send()
        else:
            task["pending"] = True

    def advance(self, n: int = 1, *, file: str | None = None) -> None:
        if self._task is not None:
            self.update(self._task["done"] + n, file=file)

    def callback(self) -> Callable[[int, int], None]:
        """A ``progress(done, total)`` callback for the core's functions."""
        return lambda done, total: self.update(done, total)

    def end(self) -> None:
        """End the task: a throttled last update is sent, a bar closed on its own line."""
        task, self._task = self._task, None
        if task is not None and task["pending"]:
            self._task = task
            self._send()
            self._task = None
        bar, self._bar = self._bar, None
        if bar is not None:
            bar.close()

    close = end

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ---- output ----------------------------------------------------------------------------

    def _eta(self, task: dict) -> float | None:
        if task["eta_s"] is not None:
            return None if task["eta_s"] < 0 else round(task["eta_s"], 1)
        done, total = task["done"], task["total"]
        first = task.get("first")  # the rate from the first unit done on (not the set-up)
        if first is None:
            if done > 0:
                task["first"] = (self.clock(), done)
            return None
        if total is None or done <= first[1]:
            return None
        rate = (done - first[1]) / max(self.clock() - first[0], 1e-9)
        return round(max(0.0, (total - done) / rate), 1)

    def _send(self) -> None:
        task = self._task
        from studio.core.paths import json_text

        line = {"verb": self.verb, "file": task["file"], "done": task["done"],
                "total": task["total"], "unit": task["unit"], "eta_s": self._eta(task)}
        task["sent"], task["pending"] = self.clock(), False
        try:
            sys.stderr.write(json_text({"progress": line}) + "\n")
            sys.stderr.flush()
        except (OSError, ValueError):  # stderr closed: progress never stops the work
            pass

    def _make_bar(self, total: int | None, file: str | None, unit: str):
        from tqdm import tqdm

        desc = self.verb if file is None else f"{self.verb} {_short(file)}"
        try:  # a terminal that says it has no columns (a bare pty) still gets a bar
            sized = os.get_terminal_size(sys.stderr.fileno()).columns > 0
        except (AttributeError, ValueError, OSError):
            sized = False
        return tqdm(total=total, desc=desc, unit=f" {unit}" if unit else "it",
                    file=sys.stderr, dynamic_ncols=sized, ncols=None if sized else 80,
                    mininterval=self.interval, leave=True)

    def _update_bar(self, task: dict) -> None:
        bar = self._bar
        if task["total"] is not None and bar.total != task["total"]:
            bar.total = task["total"]
        if task["file"] is not None:
            bar.set_description_str(f"{self.verb} {_short(task['file'])}", refresh=False)
        bar.update(task["done"] - bar.n)

    # ---- huggingface_hub -------------------------------------------------------------------

    def tqdm_class(self):
        """A tqdm class for huggingface_hub's downloads (``tqdm_class=``): None (the hub's own
        bars) for ``bar``, a silent one for ``none``, one that sends JSON lines for ``json``."""
        if self.mode == "bar":
            return None
        from tqdm import tqdm

        progress = self

        class _Reported(tqdm):
            def __init__(self, *args, **kwargs):
                self._silent = kwargs["disable"] = progress.mode == "none"
                kwargs["mininterval"] = progress.interval
                kwargs.pop("file", None)
                super().__init__(*args, file=_Discard(), **kwargs)

            def display(self, msg=None, pos=None):
                if self._silent or not (self.total or self.n):  # close() sets disable
                    return True
                said = (self.desc, self.n, self.total)
                if said == getattr(self, "_said", None):  # close() repeats the last
                    return True
                self._said = said
                eta = None
                rate = self.format_dict.get("rate")
                if rate and self.total:
                    eta = round(max(0.0, (self.total - self.n) / rate), 1)
                progress._hub_line(self.desc or None, self.n, self.total, self.unit, eta)
                return True

        return _Reported

    def _hub_line(self, desc, done, total, unit, eta) -> None:
        task, self._task = self._task, {"file": desc, "done": done, "total": total, "unit": unit or "it",
                      "started": self.clock(), "sent": None, "pending": False, "eta_s": eta}
        try:
            self._send()
        finally:
            self._task = task


class _Discard:
    """A file that takes what tqdm writes and keeps nothing."""

    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass


def _short(path: str, width: int = 32) -> str:
    from studio.core.paths import display_path

    name = display_path(str(path).replace("\\", "/").rsplit("/", 1)[-1])
    return name if len(name) <= width else name[: width - 1] + "…"


def json_lines(text: str) -> list[dict]:
    """The progress objects among ``text``'s lines (for tests and front ends)."""
    out = []
    for line in text.splitlines():
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict) and isinstance(value.get("progress"), dict):
            out.append(value["progress"])
    return out
