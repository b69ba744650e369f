"""The start-up probe: ``SIDESTREAM_READY_FILE`` times a start to a usable window.

Benchmarks and the frozen-build check start the app as a process with the
environment variable ``SIDESTREAM_READY_FILE=PATH``. Once the main window is
shown, painted, and the event loop has gone idle after that paint, the app
writes ``time.time()`` (as text) to ``PATH`` and quits the ordinary way, so the
caller computes "start to a usable window" as that figure minus the time it
started the process. Without the variable nothing happens.

Just before ``PATH``, the probe writes ``PATH.json``: the same time and the
process's memory at that moment, ``{"ready": 1765000000.5, "rss_kb": 120000,
"peak_rss_kb": 125000}`` (resident set now and at its peak; the memory
figures only where ``/proc/self/status`` exists, i.e. Linux). ``PATH`` itself
stays a bare number, so a reader that only wants the time reads it as before,
and a reader that waits for ``PATH`` finds ``PATH.json`` complete.

``app.py`` calls :func:`install_ready_probe` right after ``window.show()``.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication, QWidget

log = logging.getLogger("sidestream.app")

READY_FILE_ENV = "SIDESTREAM_READY_FILE"


def details_path(path: Path) -> Path:
    """Where the probe writes the details of a ready file ``path``: ``PATH.json``."""
    return path.with_name(path.name + ".json")


def process_memory() -> dict[str, int]:
    """This process's resident set now and at its peak, in KB; empty where unknown.

    Read from ``/proc/self/status`` (``VmRSS``, ``VmHWM``): no dependency, and
    the figures a benchmark's own ``/proc/PID/status`` reading would give.
    """
    try:
        status = Path("/proc/self/status").read_text(encoding="ascii", errors="replace")
    except OSError:
        return {}
    fields = {"VmRSS:": "rss_kb", "VmHWM:": "peak_rss_kb"}
    memory: dict[str, int] = {}
    for line in status.splitlines():
        words = line.split()  # "VmRSS:", "123456", "kB"
        if len(words) >= 2 and words[0] in fields and words[1].isdigit():
            memory[fields[words[0]]] = int(words[1])
    return memory


def _replace_with(path: Path, text: str) -> None:
    # Written to a sibling file and renamed, so a reader never sees half of it.
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)


def write_ready_file(
    path: Path, when: float | None = None, details: dict[str, int] | None = None
) -> None:
    """Write ``when`` (default: now, ``time.time()``) to ``path`` in one step.

    With ``details`` (say :func:`process_memory`), first write them with the
    time to :func:`details_path` as JSON.
    """
    stamp = time.time() if when is None else when
    if details is not None:
        _replace_with(details_path(path), json.dumps({"ready": stamp, **details}))
    _replace_with(path, repr(stamp))


class _ReadyProbe(QObject):
    """Waits for the window's first paint, then for the loop to go idle."""

    def __init__(self, window: QWidget, path: Path, quit_app: Callable[[], None]) -> None:
        super().__init__(window)
        self._window = window
        self._path = path
        self._quit_app = quit_app
        self._painted = False
        app = QApplication.instance()
        assert app is not None, "the probe needs the application"
        self._app = app
        # An application-wide filter sees the paint of any widget of the window
        # (the top-level itself may paint nothing); it is removed at once after.
        app.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if (
            not self._painted
            and event.type() == QEvent.Type.Paint
            and isinstance(watched, QWidget)
            and watched.window() is self._window
        ):
            self._painted = True
            self._app.removeEventFilter(self)
            # A zero timer runs once the events queued behind this paint are done.
            QTimer.singleShot(0, self._on_idle)
        return False

    def _on_idle(self) -> None:
        try:
            write_ready_file(self._path, details=process_memory())
        except OSError as exc:
            log.error("could not write %s=%s: %s", READY_FILE_ENV, self._path, exc)
        else:
            log.info("ready: the window is usable; quitting (%s)", READY_FILE_ENV)
        self._quit_app()


def install_ready_probe(window: QWidget, quit_app: Callable[[], None]) -> bool:
    """If ``SIDESTREAM_READY_FILE`` is set, write the ready time to it and call ``quit_app``.

    Call right after ``window.show()``, with the app's ordinary quit (the one
    Ctrl+Q uses). Returns whether the probe was installed.
    """
    target = os.environ.get(READY_FILE_ENV, "").strip()
    if not target:
        return False
    _ReadyProbe(window, Path(target), quit_app)
    return True
