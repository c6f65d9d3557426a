"""What the command line's verbs share (``studio.cli`` and the modules of its verbs): help
text with examples, the verb's progress reporter, and text written atomically beside an
output. The bottom of the command line: it imports none of its other modules.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def _examples(examples: list[str]) -> str:
    return "examples:\n" + "".join(f"  {e}\n" for e in examples)


class _HelpFormatter(argparse.HelpFormatter):
    """argparse's wrapping, except for texts written in lines (the examples), kept as they
    are, as RawDescriptionHelpFormatter keeps them."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if "\n" in text:
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)


def _progress(args: argparse.Namespace):
    """The verb's progress reporter (``_run_verb`` makes it; a silent one otherwise)."""
    from studio.progress import Progress

    report = getattr(args, "report", None)
    if report is None:
        report = args.report = Progress(getattr(args, "verb", "studio"), "none")
    return report


def _progress_mode(args: argparse.Namespace) -> str:
    return "none" if getattr(args, "quiet", False) else getattr(args, "progress", "auto")


def _write_text_sidecar(final: Path, text: str, overwrite: bool) -> None:
    """Write ``text`` to a temporary file beside ``final``, then move it there: a crash never
    leaves half a file under the final name. Without ``overwrite`` an existing ``final`` is
    kept and ``FileExistsError`` raised (a hard link fails when the name is taken)."""
    import os
    import secrets

    temp = final.with_name(f".{final.name}.{secrets.token_hex(4)}.part")
    # O_EXCL: never someone else's file; mode 0o666 less the umask, as a plain open() makes
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        if overwrite:
            os.replace(temp, final)
            return
        try:
            os.link(temp, final)
        except FileExistsError:
            raise
        except OSError:  # no hard links here: check, then move
            if final.exists():
                raise FileExistsError(17, "exists", str(final)) from None
            os.replace(temp, final)
    finally:
        temp.unlink(missing_ok=True)
