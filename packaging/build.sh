#!/usr/bin/env bash
# Build Studio as a one-folder bundle with PyInstaller and smoke-test it.
#
#     packaging/build.sh
#
# Makes a fresh virtual environment (build/pyinstaller/venv), installs Studio into it (a normal,
# non-editable install, so the bundle holds exactly what a wheel holds) with PyInstaller and
# pyinstaller-hooks-contrib (its torch hook), runs packaging/studio.spec and writes
# dist/studio/: the `studio` executable and its libraries. Then runs the bundle with an empty
# environment: `studio --version`, `studio --exit-after-show` offscreen, then every verb once
# (the ML ones with the tiny demo models: torch, transformers and diffusers inside the bundle).
#
# Environment:
#   PYTHON      the Python to build with (default python3): 3.11+, built with a shared libpython
#   VENV        the build environment (default build/pyinstaller/venv; reused when present)
#   PIP_ARGS    extra pip arguments, e.g. "--extra-index-url https://download.pytorch.org/whl/cpu"
#               for a CPU-only torch
#   SKIP_ML_SMOKE=1   skip the verbs that load the demo models
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
SPEC="$HERE/studio.spec"
PYTHON="${PYTHON:-python3}"
WORK="$ROOT/build/pyinstaller"
VENV="${VENV:-$WORK/venv}"
DIST="$ROOT/dist"
APP="$DIST/studio/studio"

say() { printf '\n== %s\n' "$*"; }

"$PYTHON" - <<'EOF' || exit 1
import sys, sysconfig
if sys.version_info < (3, 11):
    sys.exit(f"build.sh: Python 3.11+ is needed, this is {sys.version.split()[0]} (set PYTHON)")
if not sysconfig.get_config_var("Py_ENABLE_SHARED"):
    sys.exit("build.sh: this Python has no shared libpython, which PyInstaller needs "
             "(pyenv: PYTHON_CONFIGURE_OPTS=--enable-shared pyenv install ...)")
EOF

say "virtual environment: $VENV"
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
# shellcheck disable=SC2086
"$VENV/bin/python" -m pip install ${PIP_ARGS:-} "$ROOT" "pyinstaller>=6.10" \
    "pyinstaller-hooks-contrib>=2024.8"

say "pyinstaller $(basename "$SPEC")"
rm -rf "$DIST/studio"
( cd "$ROOT" && "$VENV/bin/pyinstaller" --noconfirm --clean --distpath "$DIST" \
    --workpath "$WORK/work" "$SPEC" )

say "smoke tests (empty environment: no Python, no venv on PATH)"
SMOKE="$(mktemp -d)"
trap 'rm -rf "$SMOKE"' EXIT
run() {
    env -i PATH=/usr/bin:/bin HOME="$SMOKE/home" LANG=C.UTF-8 QT_QPA_PLATFORM=offscreen \
        XDG_DATA_HOME="$SMOKE/data" XDG_CONFIG_HOME="$SMOKE/config" XDG_CACHE_HOME="$SMOKE/cache" \
        HF_HUB_OFFLINE=1 "$APP" "$@"
}
version="$(run --version)"
expected="studio $("$VENV/bin/python" -c 'import studio; print(studio.__version__)')"
[ "$version" = "$expected" ] || { echo "--version said '$version', expected '$expected'"; exit 1; }
echo "--version: $version"
seconds="$(run --exit-after-show | head -n1)"
[[ "$seconds" =~ ^[0-9]+\.[0-9]+$ ]] || { echo "--exit-after-show printed '$seconds'"; exit 1; }
echo "--exit-after-show: window shown after $seconds s"
[ -f "$SMOKE/data/studio/default-project/project.sqlite" ] || { echo "no default project"; exit 1; }

# Every verb once, as a person would run them, in the bundle: media (probe, frames, export,
# analyze), the models (list, make-demo), the demo models (caption, generate: torch,
# transformers and diffusers inside the bundle) and the desktop entry.
verb() {
    local name="$1"; shift
    run "$@" >"$SMOKE/$name.out" 2>"$SMOKE/$name.err" || {
        echo "studio $*: failed"; tail -n 20 "$SMOKE/$name.err"; exit 1; }
    echo "studio $1: ok"
}
icon="$(find "$DIST/studio" -path '*studio/resources/icons/hicolor/64x64/apps/*.png' | head -n1)"
verb probe probe "$icon"
verb frames frames "$icon" --count 1 --out "$SMOKE/frames"
verb export export "$icon" --preset png -o "$SMOKE/export"
verb models-list models list
verb desktop desktop install --prefix "$SMOKE/share"
if [ "${SKIP_ML_SMOKE:-0}" != 1 ]; then
    verb make-demo models make-demo "$SMOKE/models"
    verb caption caption --model "$SMOKE/models/smolvlm2-tiny" --max-new-tokens 4 "$icon"
    grep -q '"ok": true' "$SMOKE/caption.out" || { echo "caption in the bundle failed"; exit 1; }
    verb generate generate --model "$SMOKE/models/ltx-video-tiny" --prompt "a boat" --width 32 \
        --height 32 --frames 9 --steps 1 -o "$SMOKE/generated.mp4"
    verb analyze analyze "$SMOKE/generated.mp4"
    verb generate-sound generate --model "$SMOKE/models/ltx2-tiny" --prompt "a bell" \
        --width 32 --height 32 --frames 9 --steps 1 -o "$SMOKE/with-sound.mp4"
fi

say "done: $APP ($(du -sh "$DIST/studio" | cut -f1))"
