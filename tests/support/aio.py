"""Running coroutines to completion in tests, in each of the suite's two worlds.

* Plain asyncio tests (providers, streaming, store, reliability): :func:`run`
  starts a fresh loop for one scenario, with a deadline; tasks it leaves
  running fail the test.
* Qt tests, on the qasync loop registered as running (the ``qloop`` fixture,
  ``tests/support/qt.py``): :func:`run_on_qloop` awaits a coroutine as a task
  on that loop and spins Qt until it is done, with a deadline.

Inside a coroutine, :func:`wait_for` polls a condition. The suite does not
use pytest-asyncio.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T], timeout: float = 60.0) -> T:
    """Run one async scenario on a new loop with a deadline; leftover tasks fail the test."""

    async def guarded() -> T:
        try:
            return await asyncio.wait_for(coro, timeout)
        finally:
            current = asyncio.current_task()
            others = [t for t in asyncio.all_tasks() if t is not current]
            # httpx's nested byte-stream generators, left when a provider stops
            # reading after the terminal event, are closed by the loop's
            # async-generator finalizer: those tasks are not ours.
            ours = [t for t in others if type(t.get_coro()).__name__ != "async_generator_athrow"]
            for t in ours:
                t.cancel()
            await asyncio.gather(*others, return_exceptions=True)
            if ours:
                raise AssertionError(
                    f"tasks left running: {[(t.get_name(), t.get_coro()) for t in ours]}"
                )

    return asyncio.run(guarded())


def run_on_qloop(coro: Coroutine[Any, Any, T], timeout: float = 20.0) -> T:
    """Await ``coro`` as a task on the running qasync loop, spinning Qt until it ends."""
    # Imported here so that the plain asyncio tests (and the crash driver's
    # process) do not load Qt.
    from PySide6.QtTest import QTest

    task = asyncio.ensure_future(coro)
    loop = asyncio.get_event_loop()
    deadline = loop.time() + timeout
    while not task.done():
        if loop.time() > deadline:
            task.cancel()
            raise AssertionError(f"{coro} did not finish within {timeout} s")
        QTest.qWait(5)
    return task.result()


async def wait_for(predicate: Callable[[], bool], timeout: float = 10.0, what: str = "") -> None:
    """Poll ``predicate`` on the loop until it holds or the deadline passes."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        await asyncio.sleep(0.005)
