"""What the import contracts cannot see, checked by running Python.

The layers themselves (what may import what, Qt-free layers, ui apart from
providers and store, no import cycles) are import-linter contracts in
``pyproject.toml``, checked by ``lint-imports`` in ``packaging/dev.sh test``:
they follow relative imports, imports inside functions and chains through
other modules, which an AST walk here did not. They stop at a third-party
package, though, and say nothing about what an import costs: these tests
import the modules and look at what got loaded.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "desktop"
QT_FREE = ["core", "providers", "store", "streaming", "importer", "services"]
QT_MODULES = ("PySide6", "shiboken6", "qasync", "PyQt5", "PyQt6")


def test_importing_the_qt_free_layers_loads_no_qt() -> None:
    """Catches Qt pulled in indirectly, through a third-party import."""
    code = (
        "import sys\n"
        + "".join(f"import desktop.{layer}\n" for layer in QT_FREE)
        + "import desktop.streaming.manager, desktop.services.chat, desktop.store.store\n"
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
