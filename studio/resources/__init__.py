"""Files Studio ships beside its code: the application icon (SVG and the freedesktop PNG
sizes rendered from it by packaging/make_icons.py) and, later, stylesheets and templates.

They are package data: ``pip install .`` puts them in the wheel (pyproject.toml,
``[tool.setuptools.package-data]``) and the PyInstaller bundle carries them
(packaging/studio.spec). Read them through ``importlib.resources`` so they are found the same way
in a source checkout, an installed wheel and a bundle. Pure Python: no Qt here.
"""

from __future__ import annotations

from importlib.resources import files
from importlib.resources.abc import Traversable

ICON_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)


def resource(*parts: str) -> Traversable:
    """The packaged file or folder ``parts`` (e.g. ``resource("icons", "studio.svg")``)."""
    node = files(__name__)
    for part in parts:
        node = node / part
    return node


def app_icon_svg() -> Traversable:
    return resource("icons", "studio.svg")


def app_icon_png(size: int) -> Traversable:
    """The application icon rendered at ``size`` x ``size`` (one of ``ICON_SIZES``)."""
    return resource("icons", "hicolor", f"{size}x{size}", "apps", "studio.png")
