"""The Linux desktop integration files stay valid and agree with the package."""

from __future__ import annotations

import configparser
import shutil
import subprocess
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
    assert (ROOT / "resources" / "icons" / "studio.svg").exists() and entry["Icon"] == "studio"
    mime = [m for m in entry["MimeType"].split(";") if m]
    assert {"video/mp4", "video/webm", "video/x-matroska", "video/quicktime", "image/gif"} <= set(mime)


def test_icon_sizes_are_rendered():
    for size in (16, 32, 48, 128, 256, 512):
        assert (ROOT / "resources" / "icons" / "hicolor" / f"{size}x{size}" / "apps" / "studio.png").exists()


@pytest.mark.skipif(shutil.which("desktop-file-validate") is None,
                    reason="desktop-file-validate (Debian: desktop-file-utils) is not installed")
def test_desktop_file_validates():
    result = subprocess.run(["desktop-file-validate", str(DESKTOP)], capture_output=True, text=True)
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr


@pytest.mark.skipif(shutil.which("appstreamcli") is None,
                    reason="appstreamcli (Debian: appstream) is not installed")
def test_metainfo_validates():
    result = subprocess.run(["appstreamcli", "validate", "--no-net", str(METAINFO)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
