"""The Linux desktop integration files stay valid and agree with the package."""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# shipped in the wheel and placed by `studio desktop install` (tests/test_desktop.py)
DESKTOP = ROOT / "studio" / "resources" / "desktop" / "io.github.studio_app.Studio.desktop"
METAINFO = ROOT / "studio" / "resources" / "desktop" / "io.github.studio_app.Studio.metainfo.xml"


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
    assert (ROOT / "studio" / "resources" / "icons" / "studio.svg").exists()
    assert entry["Icon"] == "io.github.studio_app.Studio"  # installed under that name
    mime = [m for m in entry["MimeType"].split(";") if m]
    assert {"video/mp4", "video/webm", "video/x-matroska", "video/quicktime", "image/gif"} <= set(mime)


def test_icon_sizes_are_rendered():
    for size in (16, 32, 48, 128, 256, 512):
        icons = ROOT / "studio" / "resources" / "icons" / "hicolor"
        assert (icons / f"{size}x{size}" / "apps" / "studio.png").exists()


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


def test_start_up_reads_the_same_files_without_importlib_resources():
    """file_path/read_bytes (used at start-up) agree with importlib.resources, and say plainly
    when a file is not there."""
    import os

    from studio.resources import file_path, read_bytes, resource

    for parts in (("icons", "studio.svg"), ("icons", "actions", "import.svg"),
                  ("icons", "hicolor", "16x16", "apps", "studio.png")):
        assert read_bytes(*parts) == resource(*parts).read_bytes(), parts
        assert os.path.samefile(file_path(*parts), str(resource(*parts)))
    assert file_path("icons", "no-such.svg") is None
    with pytest.raises(FileNotFoundError):
        read_bytes("icons", "no-such.svg")


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
    assert {"studio/resources/desktop/io.github.studio_app.Studio.desktop",
            "studio/resources/desktop/io.github.studio_app.Studio.metainfo.xml"} <= names
    for size in ICON_SIZES:
        assert f"studio/resources/icons/hicolor/{size}x{size}/apps/studio.png" in names
    actions = sorted(p.name for p in (ROOT / "studio" / "resources" / "icons" / "actions").glob("*.svg"))
    assert actions  # the toolbar's icons (studio.ui.icons)
    for name in actions:
        assert f"studio/resources/icons/actions/{name}" in names
    assert "studio/cli.py" in names and "studio/ui/main_window.py" in names


# --- the PyInstaller bundle: packaging/studio.spec and packaging/build.sh ----------------------
# The build itself is slow (minutes, gigabytes) and not run here; these checks keep the spec and
# the script in step with the package.

SPEC = ROOT / "packaging" / "studio.spec"
BUILD = ROOT / "packaging" / "build.sh"


def spec_constants() -> dict:
    """The spec's upper-case literal assignments (ENTRY_POINT, DATAS, ...), without running it."""
    import ast

    tree = ast.parse(SPEC.read_text(), filename=str(SPEC))
    found = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            name = getattr(node.targets[0], "id", "")
            if name.isupper():
                try:
                    found[name] = ast.literal_eval(node.value)
                except ValueError:
                    pass
    return found


def test_spec_entry_point_is_the_installed_command_and_importable():
    import importlib

    spec = spec_constants()
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts[spec["APP_NAME"]] == spec["ENTRY_POINT"]
    module, func = spec["ENTRY_POINT"].split(":")
    assert callable(getattr(importlib.import_module(module), func))


def test_spec_data_files_exist_and_cover_the_package_resources():
    datas = spec_constants()["DATAS"]
    assert datas
    for src, dest in datas:
        assert (ROOT / src).exists(), src
        # Same place inside the bundle as inside the package: importlib.resources finds them.
        assert dest == src and src.startswith("studio/"), (src, dest)
    resources = ROOT / "studio" / "resources"
    shipped = [p for p in resources.rglob("*")
               if p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts]
    assert shipped
    for path in shipped:
        rel = path.relative_to(ROOT).as_posix()
        assert any(rel == src or rel.startswith(src + "/") for src, _ in datas), \
            f"{rel} is package data but studio.spec's DATAS does not bundle it"


def _module_file_exists(name: str) -> bool:
    """Whether ``name`` is a module or package of an installed distribution, found from its
    top-level package's folder (no import: transformers' takes seconds)."""
    import importlib.util

    top, *rest = name.split(".")
    found = importlib.util.find_spec(top)
    if found is None:
        return False
    if not rest:
        return True
    base = Path(found.origin).parent.joinpath(*rest)
    return base.with_suffix(".py").exists() or (base / "__init__.py").exists()


def test_spec_hidden_imports_and_metadata_exist():
    import ast
    from importlib import metadata

    spec = spec_constants()
    engine = ast.parse((ROOT / "studio" / "inference" / "engine.py").read_text())
    ml_modules = next(ast.literal_eval(n.value) for n in engine.body if isinstance(n, ast.Assign)
                      and getattr(n.targets[0], "id", None) == "_ML_MODULES")
    for name in [*spec["HIDDEN_PACKAGES"], *spec["HIDDEN_MODULES"], *ml_modules]:
        assert _module_file_exists(name), name
    for dist in spec["METADATA"]:
        metadata.distribution(dist)  # raises PackageNotFoundError
    assert "studio" in spec["METADATA"] and {"torch", "diffusers", "transformers"} <= set(spec["METADATA"])


def test_spec_uses_the_contrib_hooks_not_its_own():
    text = SPEC.read_text()
    compile(text, str(SPEC), "exec")
    assert "hookspath=[]" in text
    assert not list((ROOT / "packaging").rglob("hook-*.py"))


def test_build_script_builds_the_spec_and_smoke_tests_the_bundle():
    import os

    text = BUILD.read_text()
    app = spec_constants()["APP_NAME"]
    assert os.access(BUILD, os.X_OK)
    assert 'SPEC="$HERE/studio.spec"' in text and '--workpath "$WORK/work" "$SPEC"' in text
    assert "pyinstaller-hooks-contrib" in text and '-m venv "$VENV"' in text
    assert 'pip install ${PIP_ARGS:-} "$ROOT"' in text  # the project itself, not editable
    assert f'APP="$DIST/{app}/{app}"' in text
    assert "run --version" in text and "run --exit-after-show" in text
    assert "QT_QPA_PLATFORM=offscreen" in text
    from studio.cli import VERBS

    smoked = {line.split()[2] for line in text.splitlines() if line.strip().startswith("verb ")}
    assert smoked >= set(VERBS), f"build.sh's smoke run skips {set(VERBS) - smoked}"
    result = subprocess.run(["bash", "-n", str(BUILD)], check=False, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


# Runs Studio's verbs in one process and lists the non-code files it opened from the installed
# libraries (sys.addaudithook's "open" events): what a bundle must carry beside their code.
DATA_FILES_READ = r"""
import json, os, sys, sysconfig

libraries = {os.path.realpath(sysconfig.get_paths()[k]) for k in ("purelib", "platlib")}
opened = set()

def audit(event, args):
    if event != "open" or not isinstance(args[0], str):
        return
    path = os.path.realpath(args[0])
    for root in libraries:
        if path.startswith(root + os.sep) and ".dist-info" not in path and "__pycache__" not in path \
                and not path.endswith((".py", ".pyc", ".so", ".pth")):
            opened.add(os.path.relpath(path, root))

sys.addaudithook(audit)
from studio.cli import main
for argv in json.loads(sys.argv[1]):
    code = main(argv)
    assert code == 0, (argv, code)
print(json.dumps(sorted(opened)))
"""


def test_every_library_data_file_the_verbs_read_is_bundled(tmp_path, tiny_captioner_dir,
                                                          tiny_ltx_dir):
    """Issue 19: the bundle failed `studio models make-demo` because transformers imports
    kernels, which reads kernels/_internals/python_depends.json, and no hook collected it.
    Every verb runs here once (the demo models' building included); each library data file
    they read must come from a package the spec collects data files of (DATA_PACKAGES)."""
    import json
    import subprocess
    import sys

    from tests.media_factory import make_video

    video = str(make_video(tmp_path / "a.mp4", frames=12))
    verbs = [["probe", video], ["frames", video, "--count", "2", "--out", str(tmp_path / "f")],
             ["export", video, "--preset", "mp4", "-o", str(tmp_path / "e.mp4")],
             ["analyze", video], ["models", "list"],
             ["models", "make-demo", str(tmp_path / "models")],
             ["caption", video, "--model", str(tiny_captioner_dir), "--max-new-tokens", "2"],
             ["generate", "--model", str(tiny_ltx_dir), "--prompt", "a", "--width", "32",
              "--height", "32", "--frames", "9", "--steps", "1", "-o", str(tmp_path / "g.mp4")]]
    env = dict(os.environ, HF_HUB_OFFLINE="1", XDG_DATA_HOME=str(tmp_path / "data"))
    done = subprocess.run([sys.executable, "-c", DATA_FILES_READ, json.dumps(verbs)], env=env,
                          capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    read = json.loads(done.stdout.strip().splitlines()[-1])
    collected = spec_constants()["DATA_PACKAGES"]
    missing = [f for f in read if f.replace(os.sep, "/").split("/")[0] not in collected]
    assert missing == [], f"library data files the bundle would lack: {missing}"
    assert "kernels/_internals/python_depends.json" in read  # the audit sees what it should
