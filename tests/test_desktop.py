"""Desktop integration (issue 19, item 4): one reverse-DNS id for the desktop entry, the icon,
the AppStream id and the window's desktop file name; ``studio desktop install`` and
``uninstall`` round trip into a temporary XDG_DATA_HOME, validated by the freedesktop tools
where they are installed."""

from __future__ import annotations

import configparser
import json
import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from studio import desktop
from studio.cli import main
from studio.resources import ICON_SIZES, read_bytes
from studio.settings import APP_ID

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "studio" / "resources" / "desktop"


def entry_of(path: Path) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str
    parser.read(path, encoding="utf-8")
    return parser["Desktop Entry"]


def run(capsys, *argv) -> tuple[int, dict, str]:
    code = main(["desktop", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, json.loads(out), err


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A private XDG_DATA_HOME, and a PATH without the cache tools (tests that want them add
    them back)."""
    share = tmp_path / "share"
    monkeypatch.setenv("XDG_DATA_HOME", str(share))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", str(bin_dir))
    return share


def test_one_id_names_the_entry_the_icon_the_metainfo_and_the_window():
    assert APP_ID == "io.github.studio_app.Studio"
    entry = entry_of(SHIPPED / f"{APP_ID}.desktop")
    assert entry["Icon"] == APP_ID
    meta = ET.parse(SHIPPED / f"{APP_ID}.metainfo.xml").getroot()
    assert meta.findtext("id") == APP_ID
    assert meta.find("launchable").text == f"{APP_ID}.desktop"
    app_source = (ROOT / "studio" / "ui" / "app.py").read_text()
    assert "setDesktopFileName(APP_ID)" in app_source
    assert not re.search(r"setDesktopFileName\(\s*['\"]", app_source)  # no second name


def test_install_and_uninstall_round_trip(home, capsys):
    code, row, err = run(capsys, "install", "--user")
    assert code == 0 and err == "", err
    assert row["ok"] and row["action"] == "install" and row["app_id"] == APP_ID
    assert row["share"] == str(home)
    placed = {Path(f) for f in row["files"]}
    assert home / "applications" / f"{APP_ID}.desktop" in placed
    assert home / "metainfo" / f"{APP_ID}.metainfo.xml" in placed
    for size in ICON_SIZES:
        icon = home / "icons" / "hicolor" / f"{size}x{size}" / "apps" / f"{APP_ID}.png"
        assert icon.read_bytes() == read_bytes("icons", "hicolor", f"{size}x{size}", "apps",
                                               "studio.png")
    assert (home / "icons" / "hicolor" / "scalable" / "apps" / f"{APP_ID}.svg").exists()
    assert {p for p in home.rglob("*") if p.is_file()} == placed  # no tools: no caches
    entry = entry_of(home / "applications" / f"{APP_ID}.desktop")
    assert "video/mp4" in entry["MimeType"].split(";") and entry["Icon"] == APP_ID
    assert entry["Exec"].endswith(" %F") and row["exec"] == entry["Exec"]
    assert row["caches"] == {"update-desktop-database": "not installed",
                             "gtk-update-icon-cache": "not installed"}
    code, row, err = run(capsys, "uninstall")
    assert code == 0 and err == "" and {Path(f) for f in row["files"]} == placed
    assert not [p for p in home.rglob("*") if p.is_file()]
    code, row, _err = run(capsys, "uninstall")  # again: nothing to remove, not an error
    assert code == 0 and row["files"] == []


def test_the_caches_are_refreshed_with_the_tools_that_exist(home, tmp_path, capsys):
    log = tmp_path / "calls"
    tool = tmp_path / "bin" / "update-desktop-database"
    tool.write_text(f'#!/bin/sh\necho "$0 $*" >> {log}\n')
    tool.chmod(0o755)
    code, row, _err = run(capsys, "install")
    assert code == 0
    assert row["caches"] == {"update-desktop-database": "refreshed",
                             "gtk-update-icon-cache": "not installed"}
    assert log.read_text().split()[1:] == ["-q", str(home / "applications")]
    tool.write_text("#!/bin/sh\necho 'no room' >&2\nexit 3\n")
    code, row, _err = run(capsys, "uninstall")
    assert code == 0 and row["caches"]["update-desktop-database"] == "failed: no room"


def test_an_unwritable_place_is_a_message_and_leaves_nothing(tmp_path, capsys, monkeypatch):
    blocker = tmp_path / "afile"
    blocker.write_text("a file, not a folder")
    monkeypatch.setattr(desktop, "SYSTEM_SHARE", str(blocker / "share"))
    code, row, err = run(capsys, "install", "--system")
    assert code == 1 and not row["ok"] and str(blocker) in row["error"]
    assert err.startswith("studio desktop install: cannot write to ")
    # a half install is taken back: metainfo cannot be written after the entry was
    share = tmp_path / "half"
    (share / "metainfo").parent.mkdir(parents=True)
    (share / "metainfo").write_text("in the way")
    code, row, err = run(capsys, "install", "--prefix", share)
    assert code == 1 and not (share / "applications" / f"{APP_ID}.desktop").exists()


def test_exec_quotes_paths_as_the_desktop_entry_spec_asks():
    assert desktop.exec_value(["studio"]) == "studio %F"
    assert desktop.exec_value(["/opt/my apps/bin/studio"]) == '"/opt/my apps/bin/studio" %F'
    assert desktop.exec_value(["/a$b/py", "-m", "studio"]) == '"/a\\\\$b/py" -m studio %F'
    assert desktop.exec_value(["/100%/studio"]) == "/100%%/studio %F"


def test_the_launcher_is_the_studio_that_installs(monkeypatch, tmp_path):
    script = tmp_path / "venv" / "bin" / "studio"
    script.parent.mkdir(parents=True)
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    monkeypatch.setattr("sys.argv", [str(script), "desktop", "install"])
    monkeypatch.setenv("PATH", "/nonexistent")
    assert desktop.launch_command() == [str(script)]  # not on PATH: its full path
    monkeypatch.setenv("PATH", str(script.parent))
    assert desktop.launch_command() == ["studio"]
    monkeypatch.setattr("sys.argv", ["/x/studio/__main__.py"])
    assert desktop.launch_command()[1:] == ["-m", "studio"]


@pytest.mark.skipif(shutil.which("desktop-file-validate") is None,
                    reason="desktop-file-validate (Debian: desktop-file-utils) is not installed")
def test_the_installed_entry_validates(tmp_path):
    share = tmp_path / "share"
    desktop.install(prefix=share, command=["/opt/Studio Apps/bin/studio"])
    result = subprocess.run(["desktop-file-validate", str(share / "applications" /
                                                          f"{APP_ID}.desktop")],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr


@pytest.mark.skipif(shutil.which("appstreamcli") is None,
                    reason="appstreamcli (Debian: appstream) is not installed")
def test_the_installed_tree_validates_with_appstream(tmp_path):
    """validate-tree: the metainfo and the desktop entry it launches, as installed."""
    desktop.install(prefix=tmp_path / "root" / "usr" / "share")
    result = subprocess.run(["appstreamcli", "validate-tree", "--no-net",
                             str(tmp_path / "root")], capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.skipif(shutil.which("xdg-mime") is None
                    or shutil.which("update-desktop-database") is None,
                    reason="xdg-mime and update-desktop-database (Debian: xdg-utils, "
                    "desktop-file-utils) are not both installed")
def test_xdg_mime_names_studio_for_video_after_install(tmp_path, monkeypatch):
    share = tmp_path / "share"
    env = {**os.environ, "XDG_DATA_HOME": str(share), "XDG_CONFIG_HOME": str(tmp_path / "cfg"),
           "XDG_DATA_DIRS": str(tmp_path / "none"), "XDG_CURRENT_DESKTOP": "X-Generic"}
    monkeypatch.setenv("XDG_DATA_HOME", str(share))
    row = desktop.install()
    assert row["caches"]["update-desktop-database"] == "refreshed"
    result = subprocess.run(["xdg-mime", "query", "default", "video/mp4"], env=env,
                            capture_output=True, text=True, check=False)
    assert result.stdout.strip() == f"{APP_ID}.desktop", result.stdout + result.stderr
