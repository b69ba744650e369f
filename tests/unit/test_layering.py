"""The import contract: the layers below ui/ never import Qt, and ui/ never
reaches into providers/ or store/ directly (it talks to services)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "desktop"
QT_FREE = ["core", "providers", "streaming", "store"]
QT_MODULES = ("PySide6", "shiboken6", "qasync", "PyQt5", "PyQt6")


def imported_modules(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


@pytest.mark.parametrize("layer", QT_FREE)
def test_layer_imports_no_qt(layer: str) -> None:
    files = sorted((ROOT / layer).rglob("*.py"))
    assert files, f"desktop/{layer} has no modules"
    offenders = [
        f"{path.relative_to(ROOT)}: {name}"
        for path in files
        for name in imported_modules(path)
        if name.split(".")[0] in QT_MODULES
    ]
    assert not offenders, offenders


def test_ui_does_not_import_providers_or_store_directly() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}: {name}"
        for path in sorted((ROOT / "ui").rglob("*.py"))
        for name in imported_modules(path)
        if name.startswith(("desktop.providers", "desktop.store"))
    ]
    assert not offenders, offenders


def test_importing_the_qt_free_layers_loads_no_qt() -> None:
    """Also catches Qt pulled in indirectly, through a third-party import."""
    code = (
        "import sys\n"
        + "".join(f"import desktop.{layer}\n" for layer in QT_FREE)
        + "import desktop.streaming.manager, desktop.streaming.chat, desktop.store.store\n"
        + "import desktop.providers.factory, desktop.providers.demo.server\n"
        + f"bad = [m for m in sys.modules if m.split('.')[0] in {QT_MODULES!r}]\n"
        + "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_start_up_leaves_keyring_unloaded() -> None:
    """keyring costs ~60 ms to import (it finds its backends through package
    metadata) and is needed only for a stored key; start-up must not wait."""
    code = (
        "import sys, desktop.app\n"
        "from desktop.store import KeyStore\n"
        "KeyStore()\n"
        "print(sorted(m for m in ('keyring',) if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT.parent,
        env={"QT_QPA_PLATFORM": "offscreen", "PATH": "/usr/bin:/bin"},
        check=True,
    )
    assert result.stdout.strip() == "[]", result.stdout + result.stderr
