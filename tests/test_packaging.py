"""The Linux desktop integration files stay valid and agree with the package."""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DESKTOP = ROOT / "packaging" / "linux" / "studio.desktop"
METAINFO = ROOT / "packaging" / "linux" / "io.github.studio_app.Studio.metainfo.xml"


def desktop_entry() -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # keys are case-sensitive
    parser.read(DESKTOP, encoding="utf-8")
    return parser["Desktop Entry"]


def test_desktop_entry_launches_the_installed_command_with_files():
    entry = desktop_entry()
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    command, *args = entry["Exec"].split()
    assert command in scripts and args == ["%F"]
    assert (ROOT / "studio" / "resources" / "icons" / "studio.svg").exists() and entry["Icon"] == "studio"
    mime = [m for m in entry["MimeType"].split(";") if m]
    assert {"video/mp4", "video/webm", "video/x-matroska", "video/quicktime", "image/gif"} <= set(mime)


def test_icon_sizes_are_rendered():
    for size in (16, 32, 48, 128, 256, 512):
        assert (ROOT / "studio" / "resources" / "icons" / "hicolor" / f"{size}x{size}" / "apps" / "studio.png").exists()


@pytest.mark.skipif(shutil.which("desktop-file-validate") is None,
                    reason="desktop-file-validate (Debian: desktop-file-utils) is not installed")
def test_desktop_file_validates():
    result = subprocess.run(["desktop-file-validate", str(DESKTOP)], check=False,
                            capture_output=True, text=True)
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr


@pytest.mark.skipif(shutil.which("appstreamcli") is None,
                    reason="appstreamcli (Debian: appstream) is not installed")
def test_metainfo_validates():
    result = subprocess.run(["appstreamcli", "validate", "--no-net", str(METAINFO)],
                            check=False, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_resources_are_found_through_importlib_resources():
    from studio.resources import ICON_SIZES, app_icon_png, app_icon_svg

    assert app_icon_svg().read_bytes().lstrip().startswith((b"<?xml", b"<svg"))
    for size in ICON_SIZES:
        assert app_icon_png(size).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", size


def test_built_wheel_ships_the_icons(tmp_path):
    """A non-editable install finds its icons: the wheel carries them as package data."""
    import zipfile

    from studio.resources import ICON_SIZES

    # Build from a copy, so the checkout gets no build/ folder and parallel runs do not collide.
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    shutil.copytree(ROOT / "studio", src / "studio",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", str(src), "--no-deps",
                             "--no-build-isolation", "-q", "-w", str(tmp_path / "dist")],
                            check=False, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    (wheel,) = (tmp_path / "dist").glob("studio-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "studio/resources/__init__.py" in names
    assert "studio/resources/icons/studio.svg" in names
    for size in ICON_SIZES:
        assert f"studio/resources/icons/hicolor/{size}x{size}/apps/studio.png" in names
    assert "studio/cli.py" in names and "studio/ui/main_window.py" in names
