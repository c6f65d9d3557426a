"""Files Studio ships beside its code: the application icon (SVG and the freedesktop PNG
sizes rendered from it by packaging/make_icons.py), the action icons and, later, stylesheets
and templates.

They are package data: ``pip install .`` puts them in the wheel (pyproject.toml,
``[tool.setuptools.package-data]``) and the PyInstaller bundle carries them
(packaging/studio.spec). ``resource`` finds them through ``importlib.resources``, the same way in a
source checkout, an installed wheel and a bundle. Start-up reads them with ``read_bytes`` and
``file_path``, which take the plain file when the package is a folder on disk (as it is
installed) and only otherwise load ``importlib.resources``, whose import costs start-up time.
Pure Python: no Qt here.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

ICON_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
# This package's folder when it is one on disk (not inside a zip or an archive).
_FOLDER = os.path.dirname(__file__) if os.path.isfile(__file__) else None


def resource(*parts: str) -> Traversable:
    """The packaged file or folder ``parts`` (e.g. ``resource("icons", "studio.svg")``)."""
    from importlib.resources import files

    node = files(__name__)
    for part in parts:
        node = node / part
    return node


def file_path(*parts: str) -> str | None:
    """The packaged file ``parts`` as a path on disk, or None when it is not a plain file
    there (missing, or the package lives in an archive: use ``resource``)."""
    if _FOLDER is None:
        return None
    path = os.path.join(_FOLDER, *parts)
    return path if os.path.isfile(path) else None


def read_bytes(*parts: str) -> bytes:
    """The packaged file ``parts``'s bytes; raises OSError (FileNotFoundError) if absent."""
    path = file_path(*parts)
    if path is not None:
        with open(path, "rb") as f:
            return f.read()
    return resource(*parts).read_bytes()


def app_icon_svg() -> Traversable:
    return resource("icons", "studio.svg")


def app_icon_png_parts(size: int) -> tuple[str, ...]:
    """Where the application icon rendered at ``size`` x ``size`` (one of ``ICON_SIZES``) is,
    for ``resource``, ``file_path`` and ``read_bytes``."""
    return ("icons", "hicolor", f"{size}x{size}", "apps", "studio.png")


def app_icon_png(size: int) -> Traversable:
    """The application icon rendered at ``size`` x ``size`` (one of ``ICON_SIZES``)."""
    return resource(*app_icon_png_parts(size))
