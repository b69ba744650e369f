"""Helpers for async scenarios in tests: a deadline, and waiting on conditions."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T], timeout: float = 60.0) -> T:
    """Run one async scenario with a deadline; leftover tasks fail the test."""

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


async def wait_for(predicate: Callable[[], bool], timeout: float = 10.0, what: str = "") -> None:
    """Poll ``predicate`` on the loop until it holds or the deadline passes."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        await asyncio.sleep(0.005)
