"""The qasync loop of the Qt tests: it runs while Qt spins.

The loop follows ENVIRONMENT.md's pattern 1: registered as the running loop
without ``exec()``, so tasks advance whenever the test spins Qt
(``qtbot.wait*``, :func:`tests.support.aio.run_on_qloop`). Teardown cancels
leftover tasks and fails on any exception a task left unretrieved. Tests get
it as the ``qloop`` fixture (``tests/conftest.py``).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import PySide6.QtWidgets  # noqa: F401  (import PySide6 before qasync)
import qasync
from PySide6.QtWidgets import QApplication

from desktop.ui.event_loop import new_event_loop
from tests.support.aio import run_on_qloop


@contextmanager
def running_qasync_loop(qapp: QApplication) -> Iterator[qasync.QEventLoop]:
    errors: list[dict[str, Any]] = []
    loop = new_event_loop(qapp)
    loop.set_exception_handler(lambda _loop, context: errors.append(context))
    asyncio.set_event_loop(loop)
    asyncio._set_running_loop(loop)
    # The hooks run_forever would install: without them an httpx byte stream
    # left suspended after a reply's last event is closed by the garbage
    # collector outside the loop ("async generator ignored GeneratorExit").
    saved_hooks = sys.get_asyncgen_hooks()
    sys.set_asyncgen_hooks(
        firstiter=loop._asyncgen_firstiter_hook, finalizer=loop._asyncgen_finalizer_hook
    )
    try:
        yield loop
        run_on_qloop(loop.shutdown_asyncgens())
        leftovers = [t for t in asyncio.all_tasks(loop) if not t.done()]
        for task in leftovers:
            task.cancel()
        deadline = loop.time() + 10
        while any(not t.done() for t in leftovers) and loop.time() < deadline:
            qapp.processEvents()
        assert all(t.done() for t in leftovers), "tasks would not cancel"
        real = [e for e in errors if "async_generator_athrow" not in repr(e.get("task", ""))]
        assert not real, f"unhandled errors in tasks: {real}"
    finally:
        sys.set_asyncgen_hooks(*saved_hooks)
        asyncio._set_running_loop(None)
        asyncio.set_event_loop(None)
        loop.close()
