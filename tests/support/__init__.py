"""Test helpers shared across the suite: recorded fixtures and running coroutines
with a deadline (the suite does not use pytest-asyncio)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Coroutine
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def fixture_bytes(*parts: str) -> bytes:
    """The raw bytes of ``tests/fixtures/<parts...>``."""
    return FIXTURES.joinpath(*parts).read_bytes()


def run(coro: Coroutine[Any, Any, T], timeout: float = 10.0) -> T:
    """``asyncio.run`` with a deadline, so a hung stream fails the test instead of hanging it."""

    async def bounded() -> T:
        return await asyncio.wait_for(coro, timeout)

    return asyncio.run(bounded())


async def collect(events: AsyncIterator[T]) -> list[T]:
    return [event async for event in events]
