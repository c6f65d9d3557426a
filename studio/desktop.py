"""Desktop integration on Linux and the BSDs (issue 19, item 4): ``studio desktop install`` and
``studio desktop uninstall``. Pure Python.

One reverse-DNS id, ``settings.APP_ID`` (io.github.studio_app.Studio), names every file placed
under a ``share`` folder (``$XDG_DATA_HOME``, ``~/.local/share`` when it is unset, for
``--user``; ``/usr/local/share`` for ``--system``; or ``--prefix``):

- ``applications/APP_ID.desktop``: the desktop entry, whose ``MimeType`` line makes Studio an
  "Open With" choice for video/mp4, video/webm, video/x-matroska, image/gif and the rest;
  its ``Exec`` names the command that ran the install (``studio`` when that is the one on PATH,
  else its full path, or ``python -m studio``), so an install from a virtual environment works
  from the desktop too;
- ``icons/hicolor/NxN/apps/APP_ID.png`` for every rendered size and
  ``icons/hicolor/scalable/apps/APP_ID.svg``;
- ``metainfo/APP_ID.metainfo.xml``: the AppStream metadata software centres read.

Each file is written under a temporary name and renamed. Then the caches are refreshed with the
tools that exist: ``update-desktop-database`` (the MIME types -> applications cache that
``xdg-mime query default`` and file managers read) and ``gtk-update-icon-cache``; a tool that
is missing is skipped (desktops read the folders themselves as well). Studio defines no MIME
type of its own (video/mp4 and the others are shared-mime-info's), so the MIME database is
left alone, and it never makes itself the default application of a type: that stays the
person's choice. ``uninstall`` removes exactly the files ``install`` places, then refreshes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from studio.resources import ICON_SIZES, app_icon_png_parts, read_bytes
from studio.settings import APP_ID

SYSTEM_SHARE = "/usr/local/share"
CACHE_TOOLS = {"update-desktop-database": "applications",
               "gtk-update-icon-cache": "icons/hicolor"}


class DesktopError(Exception):
    """The integration cannot be installed or removed; the message is for a person."""


def share_dir(scope: str = "user", prefix: str | os.PathLike | None = None) -> Path:
    """The ``share`` folder files go under (see the module's docstring)."""
    if prefix is not None:
        return Path(prefix).expanduser().absolute()
    if scope == "system":
        return Path(SYSTEM_SHARE)
    base = os.environ.get("XDG_DATA_HOME", "")
    if not os.path.isabs(base):  # unset, empty or relative: the spec says use the default
        base = os.path.expanduser("~/.local/share")
    return Path(base)


def placed_files(share: Path) -> dict[Path, tuple[str, ...]]:
    """Where each file goes under ``share``, with the resource it comes from."""
    files = {share / "applications" / f"{APP_ID}.desktop": ("desktop", f"{APP_ID}.desktop"),
             share / "metainfo" / f"{APP_ID}.metainfo.xml": ("desktop", f"{APP_ID}.metainfo.xml")}
    for size in ICON_SIZES:
        files[share / "icons" / "hicolor" / f"{size}x{size}" / "apps" / f"{APP_ID}.png"] = \
            app_icon_png_parts(size)
    files[share / "icons" / "hicolor" / "scalable" / "apps" / f"{APP_ID}.svg"] = \
        ("icons", "studio.svg")
    return files


def launch_command() -> list[str]:
    """The command that starts this Studio from a desktop entry."""
    argv0 = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if getattr(sys, "frozen", False):  # a PyInstaller bundle: its own executable
        return [str(Path(sys.executable).absolute())]
    if argv0 is not None and argv0.name == "studio" and argv0.is_file():
        on_path = shutil.which("studio")
        if on_path and os.path.samefile(on_path, argv0):
            return ["studio"]
        return [str(argv0.absolute())]
    return [str(Path(sys.executable).absolute()), "-m", "studio"]


def exec_value(command: list[str]) -> str:
    """``command`` as a desktop entry's Exec value, quoted as the spec asks, then ``%F``."""
    quoted = []
    for arg in command:
        if any(c in arg for c in " \t\n\"'\\><~|&;$*?#()`"):
            arg = '"' + "".join("\\" + c if c in '"`$\\' else c for c in arg) + '"'
        quoted.append(arg.replace("%", "%%"))
    # the file is parsed with its own escapes too: a backslash is written twice
    return " ".join(quoted).replace("\\", "\\\\") + " %F"


def desktop_entry(command: list[str]) -> str:
    """The packaged desktop entry with ``Exec`` and ``TryExec`` for ``command``."""
    lines = []
    for line in read_bytes("desktop", f"{APP_ID}.desktop").decode("utf-8").splitlines():
        if line.startswith("Exec="):
            line = "Exec=" + exec_value(command)
        elif line.startswith("TryExec="):
            line = "TryExec=" + command[0].replace("\\", "\\\\")
        lines.append(line)
    return "\n".join(lines) + "\n"


def install(scope: str = "user", prefix: str | os.PathLike | None = None,
            command: list[str] | None = None) -> dict:
    """Place the desktop entry, the icons and the metainfo, then refresh the caches; returns
    what was done (``share``, ``files``, ``exec``, ``caches``). DesktopError when a file
    cannot be written; the files already placed are then removed again."""
    share = share_dir(scope, prefix)
    command = command or launch_command()
    written: list[Path] = []
    try:
        for target, parts in placed_files(share).items():
            if parts[-1].endswith(".desktop"):
                data = desktop_entry(command).encode("utf-8")
            else:
                data = read_bytes(*parts)
            _write_atomic(target, data)
            written.append(target)
    except OSError as err:
        for path in written:
            path.unlink(missing_ok=True)
        raise DesktopError(_cannot(err, share, "write to", scope)) from None
    return {"share": str(share), "files": [str(p) for p in written],
            "exec": exec_value(command), "caches": refresh_caches(share)}


def uninstall(scope: str = "user", prefix: str | os.PathLike | None = None) -> dict:
    """Remove the files ``install`` places (those that are there), then refresh the caches."""
    share = share_dir(scope, prefix)
    removed = []
    for target in placed_files(share):
        try:
            target.unlink()
        except FileNotFoundError:
            continue
        except OSError as err:
            raise DesktopError(_cannot(err, share, "remove files from", scope)) from None
        removed.append(str(target))
    return {"share": str(share), "files": removed,
            "caches": refresh_caches(share) if removed else {}}


def refresh_caches(share: Path) -> dict[str, str]:
    """Run each cache tool that exists over its folder under ``share``: tool -> "refreshed",
    "not installed" or "failed: why" (a failed refresh leaves the files in place)."""
    done = {}
    for tool, folder in CACHE_TOOLS.items():
        path = shutil.which(tool)
        if path is None:
            done[tool] = "not installed"
            continue
        args = [path, "-q", str(share / folder)]
        if tool == "gtk-update-icon-cache":  # a user's hicolor folder has no index.theme
            args[1:1] = ["-f", "-t"]
        try:
            result = subprocess.run(args, capture_output=True, text=True, timeout=60,
                                    check=False)
        except (OSError, subprocess.TimeoutExpired) as err:
            done[tool] = f"failed: {err}"
            continue
        message = (result.stderr or result.stdout).strip().splitlines()
        done[tool] = "refreshed" if result.returncode == 0 else \
            f"failed: {message[-1] if message else f'exit status {result.returncode}'}"
    return done


def _write_atomic(final: Path, data: bytes) -> None:
    final.parent.mkdir(parents=True, exist_ok=True)
    temp = final.with_name(f".{final.name}.part")
    try:
        temp.write_bytes(data)
        os.chmod(temp, 0o644)
        os.replace(temp, final)
    finally:
        temp.unlink(missing_ok=True)


def _cannot(err: OSError, share: Path, doing: str, scope: str) -> str:
    where = err.filename or share
    hint = (" (--system needs root: sudo studio desktop ..., or use --user)"
            if scope == "system" and isinstance(err, PermissionError) else "")
    return f"cannot {doing} {where}: {err.strerror or err}{hint}"
