"""The command line on a Ray cluster (issue 18): ``studio caption FILES|DIRS --cluster ADDRESS``
and ``studio generate --batch JOBS.jsonl --cluster ADDRESS``.

The runs are ``studio.inference.cluster``'s; this module reads the command line, says what
is already done, and writes what comes back: JSON lines on stdout as they end (in the order
they end; each names its file), ``--txt`` sidecars and the ``--jsonl`` manifest as local
``studio caption`` writes them, and ``--project`` rows. It reuses the command line's own
parsers and writers (``studio.cli``) instead of copying them, and imports neither Ray nor
torch itself.

Resuming: a ``--jsonl OUT`` run keeps a record beside OUT (``.OUT.record``, one JSON line
per caption, written as each arrives) naming the model and settings of each caption; with
``--project`` the project's captions say the same. A clip that every output asked for already
holds, made by the same model with the same settings, is skipped.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from studio.core.paths import json_text

RECORD_LINE_LIMIT = 1 << 20  # a record line of more than 1 MB is not Studio's: ignored


def add_caption_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("on a Ray cluster (pip install 'studio[cluster]')")
    group.add_argument("--cluster", default=None, metavar="ADDRESS",
                       help="caption on a Ray cluster: local (a Ray of this computer's own, "
                       "on 127.0.0.1), auto (the cluster `ray start` runs here) or "
                       "ray://HOST:PORT (a head node, Ray Client's port 10001); one worker "
                       "per GPU, else per CPU; lines come as clips end. Workers read the clips "
                       "and the model at the same paths")
    group.add_argument("--workers", type=int, default=None, metavar="N",
                       help="with --cluster: at most N workers (default: every free GPU, else "
                       "every free CPU)")
    group.add_argument("--project", type=Path, default=None, metavar="DIR",
                       help="with --cluster: add the clips and their captions to the project "
                       "(as the window's Caption does); clips it holds captions of by the same "
                       "model and settings are skipped, as are those in --jsonl's record")


class _Usage(ValueError):
    """A command line that cannot run: exit status 2."""


def _check_cluster_flags(args: argparse.Namespace, verb: str) -> str:
    """The cluster address (checked); _Usage for flags that do not go together."""
    from studio.inference.cluster import check_address

    if args.cluster is None:
        if verb == "caption":
            raise _Usage("--project goes with --cluster (the window records captions made on "
                         "this computer)")
        raise _Usage("--batch runs on a cluster: add --cluster local (this computer), auto or "
                     "ray://HOST:PORT")
    if args.workers is not None and args.workers < 1:
        raise _Usage(f"--workers: must be 1 or more, not {args.workers}")
    try:
        return check_address(args.cluster)
    except ValueError as err:
        raise _Usage(f"--cluster: {err}") from None


# ---- studio caption --cluster -----------------------------------------------------------------

def caption(args: argparse.Namespace, settings, batch_size: int | None) -> int:
    """``studio caption`` with --cluster (``args.files``: the files, folders expanded)."""
    from studio.core.library import ProjectError
    from studio.inference.cluster import ClusterError, caption_on_cluster

    try:
        address = _check_cluster_flags(args, "caption")
        out = _CaptionOutput(args)
    except _Usage as err:
        print(f"studio caption: {err}", file=sys.stderr)
        return 2
    except ProjectError as err:
        print(f"studio caption: --project: {err}", file=sys.stderr)
        return 1
    status = 0
    try:
        with out.report:
            out.report.start(len(args.files), file=args.files[0], unit="clips")
            for event in caption_on_cluster(
                    address, out.clips(), args.model, settings, batch_size=batch_size,
                    workers=args.workers, device=args.device, inspect=out.project is not None,
                    done_before=out.done_before):
                out.handle(event)
    except ClusterError as err:
        print(f"studio caption: --cluster {args.cluster}: {err}", file=sys.stderr)
        status = 1
    except KeyboardInterrupt:
        print("studio caption: interrupted", file=sys.stderr)
        status = 130
    finally:
        out.close()
    return out.finish(status)


class _CaptionOutput:
    """Where a cluster caption run's results go: stdout, --txt, --jsonl (with its record),
    --project."""

    def __init__(self, args: argparse.Namespace) -> None:
        from studio import cli_common
        from studio.core.library import Project

        self.args, self.files = args, list(args.files)
        self.report = cli_common._progress(args)
        self.captions: dict[int, str] = {}  # for the manifest: index -> caption
        self.failed = 0
        self.model, self.demo = args.model, False
        self.record = _Record(args.jsonl) if args.jsonl is not None else None
        self.project = Project(args.project.expanduser()) if args.project is not None else None
        self.stored: dict[int, dict] = {}  # done before: index -> its record
        self.ended_any = False  # a clip ended (or was skipped): the manifest is written

    def clips(self) -> list:
        """The clips to caption, within their in/out points where the project has them."""
        from studio.inference.batching import ClipInput

        clips = []
        for name in self.files:
            clip = self.project.clip_for_path(name) if self.project is not None else None
            clips.append(ClipInput(name, clip.in_frame, clip.out_frame) if clip is not None
                         else ClipInput(name))
        return clips

    def done_before(self, key) -> set[int]:
        """The clips every output asked for holds a caption of, made as ``key`` says."""
        found = []
        if self.record is not None:
            found.append(self.record.done(key, self.files))
        if self.project is not None:
            found.append(_project_done(self.project, key, self.files))
        if not found:
            return set()
        done = set(found[0]).intersection(*found[1:])
        self.stored = {index: found[0][index] for index in done}
        return done

    def handle(self, event) -> None:
        from studio.inference.cluster import ItemDone, ItemFailed, ItemSkipped, WorkerStarted

        self.ended_any = self.ended_any or isinstance(event, (ItemDone, ItemFailed, ItemSkipped))
        if isinstance(event, WorkerStarted):
            self.model, self.demo = event.model, event.demo
        elif isinstance(event, ItemDone):
            self._done(event)
        elif isinstance(event, ItemFailed):
            self.failed += 1
            self._print(event.index, error=event.message)
        elif isinstance(event, ItemSkipped):
            stored = self.stored[event.index]
            self.captions[event.index] = stored["caption"]
            self._print(event.index, ok=True, caption=stored["caption"],
                        demo=bool(stored.get("demo")), frame_times=stored.get("frame_times") or [],
                        skipped=True)

    def _done(self, event) -> None:
        result, name = event.result, self.files[event.index]
        row = {"ok": True, "caption": result.text, "model": result.model_id, "demo": result.demo,
               "frame_times": result.frame_times, "seconds": round(result.seconds, 3),
               "node": event.node}
        if self.args.txt:
            row.update(_write_txt(name, result.text, self.args.overwrite))
        if self.record is not None:
            self.record.add(name, result)
        if self.project is not None:
            warning = _record_in_project(self.project, event.inspection, result)
            if warning:
                row["warning"] = warning
        if row["ok"]:
            self.captions[event.index] = result.text
        else:
            self.failed += 1
        self._print(event.index, **row)

    def _print(self, index: int, **fields) -> None:
        row = {"path": self.files[index], "ok": False, "caption": None, "model": self.model,
               "demo": self.demo, "frame_times": [], "seconds": None, "error": None}
        row.update(fields)
        self.report.advance(file=self.files[index])
        print(json_text(row), flush=True)

    def close(self) -> None:
        if self.project is not None:
            self.project.close()

    def finish(self, status: int) -> int:
        """Write the --jsonl manifest (also after an interruption: what is done is kept);
        the exit status."""
        from studio import cli_common

        if self.args.jsonl is not None and self.ended_any:  # else an earlier one stays
            lines = "".join(json_text({"video_path": Path(self.files[i]).resolve().as_posix(),
                                       "caption": self.captions[i]}) + "\n"
                            for i in sorted(self.captions))
            try:
                cli_common._write_text_sidecar(self.args.jsonl, lines, overwrite=True)
            except OSError as err:
                print(f"studio caption: cannot write {self.args.jsonl}: "
                      f"{err.strerror or err}", file=sys.stderr)
                return status or 1
        if status:
            return status
        return 1 if self.failed or len(self.captions) < len(self.files) else 0


def _write_txt(name: str, text: str, overwrite: bool) -> dict:
    """The .txt sidecar beside ``name``, as local ``studio caption --txt`` writes it."""
    from studio import cli_common

    sidecar = Path(name).with_suffix(".txt")
    try:
        cli_common._write_text_sidecar(sidecar, text + "\n", overwrite)
    except FileExistsError:
        return {"ok": False, "txt": None, "error": f"{sidecar}: exists; not replaced (use "
                "--overwrite to replace it)"}
    except OSError as err:
        return {"ok": False, "txt": None,
                "error": f"{sidecar}: cannot write it ({err.strerror or err})"}
    return {"txt": str(sidecar)}


def _project_done(project, key, files: list[str]) -> dict[int, dict]:
    """The files whose clip in ``project`` has a model caption made as ``key`` says (the
    newest such; a person's later edit stays the current caption)."""
    done = {}
    for index, name in enumerate(files):
        clip = project.clip_for_path(name)
        if clip is None:
            continue
        for caption in reversed(project.captions_for(clip.id)):
            if caption.source == "model" and key.matches(caption.model, caption.params):
                done[index] = {"caption": caption.text, "demo": caption.params.get("demo"),
                               "frame_times": caption.params.get("frame_times")}
                break
    return done


def _record_in_project(project, inspection, result) -> str | None:
    """Add the clip (as the worker saw it) and its caption to the project; what went wrong,
    or None."""
    from studio.core.library import ProjectError
    from studio.inference.caption_record import caption_params

    if inspection is None:
        return "not recorded in the project: the file could not be read again after captioning"
    try:
        clip, _created = project.add_clip(inspection.path, inspection.info, inspection.error,
                                          inspection.stamp)
        project.add_caption(clip.id, result.text, source="model", model=result.model_id,
                            prompt=result.prompt, params=caption_params(result))
    except (ProjectError, OSError) as err:
        return f"not recorded in the project: {err}"
    return None


class _Record:
    """The record beside a --jsonl manifest: one line per caption made, with its model and
    settings, appended (and flushed to the disk) as each arrives, so a run that is stopped in
    any way can be resumed."""

    def __init__(self, manifest: Path) -> None:
        self.path = manifest.with_name(f".{manifest.name}.record")

    def done(self, key, files: list[str]) -> dict[int, dict]:
        """The files the record holds a caption of made as ``key`` says (the last such)."""
        wanted = {Path(name).resolve().as_posix(): index for index, name in enumerate(files)}
        done = {}
        for entry in self._entries():
            index = wanted.get(entry.get("video_path"))
            if index is not None and isinstance(entry.get("caption"), str) \
                    and key.matches(entry.get("model"), entry.get("settings")):
                done[index] = entry
        return done

    def _entries(self):
        try:
            with open(self.path, encoding="utf-8", errors="replace") as f:
                for line in f:
                    if len(line) > RECORD_LINE_LIMIT:
                        continue
                    try:
                        entry = json.loads(line)
                    except ValueError:  # a line cut short when a run was killed
                        continue
                    if isinstance(entry, dict):
                        yield entry
        except FileNotFoundError:
            return

    def add(self, name: str, result) -> None:
        entry = {"video_path": Path(name).resolve().as_posix(), "caption": result.text,
                 "model": result.model_id, "settings": result.settings,
                 "frame_times": result.frame_times, "demo": result.demo}
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json_text(entry) + "\n")
            f.flush()
            os.fsync(f.fileno())


# ---- studio generate --batch --cluster --------------------------------------------------------

def generate_batch(args: argparse.Namespace) -> int:
    """``studio generate --batch JOBS.jsonl --cluster ADDRESS``: every line checked first, as
    `studio generate` checks its command line; then the jobs run, one JSON line each as they
    end (with its line number and node)."""
    from studio.inference.cluster import ClusterError

    try:
        address = _check_cluster_flags(args, "generate")
        if args.batch is None:
            raise _Usage("--cluster runs a --batch of jobs: give --batch JOBS.jsonl")
        jobs = read_jobs(args.batch)
    except _Usage as err:
        print(f"studio generate: {err}", file=sys.stderr)
        return 2
    except _JobRefused as err:
        print(f"studio generate: {err}", file=sys.stderr)
        return err.status
    try:
        failed = _run_jobs(args, address, jobs)
    except ClusterError as err:
        print(f"studio generate: --cluster {args.cluster}: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("studio generate: interrupted", file=sys.stderr)
        return 130
    return 1 if failed else 0


def _run_jobs(args: argparse.Namespace, address: str, jobs: list) -> int:
    """Run ``jobs`` ((line, GenerateJob, row) triples) and print their rows; how many failed."""
    from studio import cli_common, cli_generate
    from studio.inference.cluster import ItemDone, ItemFailed, generate_on_cluster

    report, failed = cli_common._progress(args), 0
    with report:
        report.start(len(jobs), unit="jobs")
        for event in generate_on_cluster(address, [job for _, job, _ in jobs],
                                         workers=args.workers, device=args.device):
            if not isinstance(event, (ItemDone, ItemFailed)):
                continue
            line, job, row = jobs[event.index]
            row = dict(row, line=line)
            if isinstance(event, ItemDone):
                row = cli_generate.generate_row(row, event.result)
                row.update(seconds=event.result.seconds, node=event.node)
                _register(job, event.result, row)
            else:
                row["error"] = event.message
            failed += not row["ok"]
            report.advance(file=row["output"])
            print(json_text(row), flush=True)
    return failed


def _register(job, result, row: dict) -> None:
    """Record a generation written into a project, here where the project is (the workers
    write its files, never its database: SQLite is not safe over shared storage)."""
    if job.project_root is None:
        return
    from studio.core.library import Project, ProjectError

    params = result.params
    try:
        with Project(job.project_root, forget_removed=False) as project:
            row["generation_id"] = project.add_generation(
                result.output, params, kind=params.get("mode"), model=params.get("model"),
                prompt=params.get("prompt"), info=result.media_info,
                source_clip_id=params.get("source_clip_id")).id
    except (ProjectError, OSError) as err:
        row["warning"] = f"{job.project_root}: could not record the video ({err})"


class _JobRefused(Exception):
    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


# options of the command line that a job line cannot set: they are the whole batch's
NOT_JOB_OPTIONS = {"batch", "cluster", "workers", "device", "quiet", "progress", "q", "help", "h"}


def read_jobs(path: Path) -> list:
    """Each line of ``path`` as a `studio generate` command line, checked as that verb checks
    one: (line number, GenerateJob, row so far) for each. Raises _JobRefused naming the file,
    the line and the option (status 2: bad options, 1: an output that cannot be written)."""
    from studio import cli_generate

    try:
        text = path.expanduser().read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise _JobRefused(f"--batch: cannot read {path}: {getattr(err, 'strerror', None) or err}",
                          2) from None
    parser = _job_parser()
    jobs = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path} line {number}"
        args = _job_args(parser, line, where)
        try:
            job, row = cli_generate.generate_job(args)
        except cli_generate.GenerateRefused as err:
            raise _JobRefused(f"{where}: {err}", err.status) from None
        job.register = False  # into a project: recorded here, see _register
        jobs.append((number, job, row))
    if not jobs:
        raise _JobRefused(f"--batch: {path} holds no jobs", 2)
    return jobs


def _job_args(parser, line: str, where: str) -> argparse.Namespace:
    try:
        options = json.loads(line) if len(line) <= RECORD_LINE_LIMIT else None
    except ValueError as err:
        raise _JobRefused(f"{where}: not a JSON object ({err})", 2) from None
    if not isinstance(options, dict):
        raise _JobRefused(f"{where}: not a JSON object of studio generate options", 2)
    if "output" not in options and "project" not in options:
        raise _JobRefused(f'{where}: give "output" (a file) or "project" (a folder)', 2)
    argv = ["generate"]
    for key, value in options.items():
        argv += _option_argv(str(key), value, where)
    try:
        args = parser.parse_args(argv)
    except _Usage as err:
        raise _JobRefused(f"{where}: {err}", 2) from None
    for name in ("output", "project"):  # workers do not share the current folder
        value = getattr(args, name)
        if value is not None:
            setattr(args, name, value.expanduser().absolute())
    return args


def _option_argv(key: str, value, where: str) -> list[str]:
    name = key.strip().lstrip("-").replace("_", "-")
    if name.replace("-", "_") in NOT_JOB_OPTIONS or name in NOT_JOB_OPTIONS:
        raise _JobRefused(f'{where}: "{key}" is set for the whole batch on the command line, '
                          "not in a job", 2)
    if value is None:
        return []
    if isinstance(value, bool):
        return [f"--{name}"] if value else [f"--no-{name}"]
    if not isinstance(value, (str, int, float)):
        raise _JobRefused(f'{where}: "{key}" must be a string or a number, not '
                          f"{type(value).__name__}", 2)
    return [f"--{name}", str(value)]


class _RaisingParser(argparse.ArgumentParser):
    """An argparse parser whose errors are exceptions (a job line's, not the process's)."""

    def error(self, message: str):
        raise _Usage(message)


def _job_parser() -> argparse.ArgumentParser:
    """`studio generate`'s own parser, for the lines of a batch."""
    from studio import cli_generate

    parser = _RaisingParser(prog="studio", add_help=False)
    sub = parser.add_subparsers(dest="verb", parser_class=_RaisingParser)
    cli_generate._add_generate_parser(sub)
    return parser
