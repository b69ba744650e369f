"""Qt test support: a qasync loop that runs while Qt spins, and a memory keyring.

The loop follows ENVIRONMENT.md's pattern 1: registered as the running loop
without ``exec()``, so tasks advance whenever the test spins Qt
(``qtbot.wait*``). Teardown cancels leftover tasks and fails on any
exception a task left unretrieved.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import keyring
import keyring.backend
import keyring.errors
import PySide6.QtWidgets  # noqa: F401  (import PySide6 before qasync)
import qasync
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from desktop.ui.event_loop import new_event_loop

T = TypeVar("T")


class MemoryKeyring(keyring.backend.KeyringBackend):
    """A keyring that keeps passwords in a dict (the OS keyring stays untouched)."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.passwords: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.passwords.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.passwords[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.passwords.pop((service, username), None) is None:
            raise keyring.errors.PasswordDeleteError(username)


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
        complete(qapp, loop.shutdown_asyncgens())
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


def complete(qapp: QApplication, coro: Coroutine[Any, Any, T], timeout: float = 20.0) -> T:
    """Run a coroutine to the end on the running qasync loop, spinning Qt meanwhile."""
    task = asyncio.ensure_future(coro)
    loop = asyncio.get_event_loop()
    deadline = loop.time() + timeout
    while not task.done():
        if loop.time() > deadline:
            task.cancel()
            raise AssertionError(f"{coro} did not finish within {timeout} s")
        QTest.qWait(5)
    return task.result()
