"""Test helpers shared across the suite: recorded fixtures and collecting a stream.

Running coroutines is :mod:`tests.support.aio`'s job."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def fixture_bytes(*parts: str) -> bytes:
    """The raw bytes of ``tests/fixtures/<parts...>``."""
    return FIXTURES.joinpath(*parts).read_bytes()


async def collect(events: AsyncIterator[T]) -> list[T]:
    return [event async for event in events]
