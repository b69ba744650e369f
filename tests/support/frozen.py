"""The frozen build for tests: ``packaging/build.py``'s helpers, and which app to run.

``packaging/`` is deliberately not a package (a top-level ``packaging`` would
shadow the PyPI library pip and pytest use), so the script is loaded by path.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = ROOT / "packaging" / "build.py"


def load_build_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("sidestream_build", BUILD_SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def app_command() -> tuple[list[str], str]:
    """The command that runs Sidestream: the frozen build if it is up to date, else the source.

    Returns the command and ``"frozen"`` or ``"source"``.
    """
    build = load_build_script()
    if build.is_fresh():
        return [str(build.cli_executable())], "frozen"
    return [sys.executable, "-m", "desktop"], "source"
