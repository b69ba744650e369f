"""TaskKeeper: start asyncio tasks, hold each until it ends, log what it failed with.

The event loop keeps only a weak reference to a task: one that nobody holds
can be garbage-collected before it finishes, and an exception it ends with
surfaces, if at all, as "Task exception was never retrieved" whenever the
collector happens to run. Whoever starts tasks owns a keeper; the keeper
holds every task until it ends, then logs the exception it ended with
(with its traceback, to the owner's named logger) and hands it to the
owner's error callback, if any. The owner cancels what is left when it
closes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

_T = TypeVar("_T")

ErrorCallback = Callable[[BaseException], None]
"""Called with the exception a task ended with, after it was logged."""


class TaskKeeper:
    """Starts tasks on the running loop and keeps each until it ends."""

    def __init__(self, log: logging.Logger, *, on_error: ErrorCallback | None = None) -> None:
        self._log = log
        self._on_error = on_error
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coro: Coroutine[Any, Any, _T], name: str | None = None) -> asyncio.Task[_T]:
        """Run ``coro`` as a task of the running loop, kept until it ends.

        ``name`` names the task in logs (default: the coroutine's qualified
        name). Raises RuntimeError, and closes ``coro``, when no loop runs.
        """
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            coro.close()  # else Python warns that it was never awaited
            raise
        task = loop.create_task(coro, name=name or getattr(coro, "__qualname__", None))
        self._tasks.add(task)
        task.add_done_callback(self._on_task_done)
        return task

    def pending(self) -> list[asyncio.Task[Any]]:
        """The tasks that have not ended yet."""
        return [task for task in self._tasks if not task.done()]

    def cancel_all(self) -> None:
        """Ask every task to stop (each ends at its next await)."""
        for task in list(self._tasks):
            task.cancel()

    async def cancel_and_wait(self) -> None:
        """Cancel every task and wait until each has ended.

        Tasks started while this waits are not waited for; a kept task that
        calls this does not wait for itself.
        """
        tasks = [task for task in self._tasks if task is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    async def wait(self, within: float | None = None) -> None:
        """Wait until every task started so far has ended (or ``within`` seconds pass)."""
        tasks = [task for task in self._tasks if task is not asyncio.current_task()]
        if tasks:
            await asyncio.wait(tasks, timeout=within)

    def _on_task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()  # retrieved: asyncio no longer reports it at collection
        if exc is None:
            return
        self._log.error("task %s failed", task.get_name(), exc_info=exc)
        if self._on_error is not None:
            self._on_error(exc)
