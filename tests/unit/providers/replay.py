"""Replaying a recorded stream through a real provider over loopback, any dialect."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

from desktop.core.events import StreamEvent
from desktop.core.models import ChatRequest, ChatTurn, ProviderConfig, ProviderKind
from desktop.core.states import Role
from desktop.providers.factory import create_provider
from tests.support import fixture_bytes
from tests.support.aio import run
from tests.support.raw_server import RawServer, RecordedRequest, Reply, split_events

REQUEST = ChatRequest(model="m", turns=(ChatTurn(Role.USER, "Hi"),), max_tokens=64)
FOLDERS = {
    ProviderKind.OPENAI_CHAT: "openai_chat",
    ProviderKind.OPENAI_RESPONSES: "openai_responses",
    ProviderKind.ANTHROPIC: "anthropic",
}


def config(kind: ProviderKind, server: RawServer, **overrides: Any) -> ProviderConfig:
    base = server.base_url if kind is ProviderKind.ANTHROPIC else server.base_url + "/v1"
    values: dict[str, Any] = {
        "kind": kind,
        "base_url": base,
        "api_key": "sk-test-key",
        "read_timeout": 5.0,
    }
    values.update(overrides)
    return ProviderConfig(**values)


def chunks(kind: ProviderKind, name: str) -> list[bytes]:
    """A recorded stream, one network chunk per event (as servers flush them)."""
    return split_events(fixture_bytes(FOLDERS[kind], name))


@dataclass
class Timed:
    """Events with the time each arrived, counted from the request."""

    events: list[StreamEvent]
    at: list[float]
    request: RecordedRequest


async def timed(events: AsyncIterator[StreamEvent]) -> tuple[list[StreamEvent], list[float]]:
    started = time.monotonic()
    got: list[StreamEvent] = []
    at: list[float] = []
    async for event in events:
        got.append(event)
        at.append(time.monotonic() - started)
    return got, at


def replay(
    kind: ProviderKind,
    stream: str | Sequence[bytes],
    request: ChatRequest = REQUEST,
    *,
    config_overrides: dict[str, Any] | None = None,
    **reply: Any,
) -> Timed:
    """Serve ``stream`` (a fixture's name, or chunks) once and read it with a real provider."""
    body = chunks(kind, stream) if isinstance(stream, str) else list(stream)

    async def main(server: RawServer) -> tuple[list[StreamEvent], list[float]]:
        provider = create_provider(config(kind, server, **(config_overrides or {})))
        try:
            return await timed(provider.stream(request))
        finally:
            await provider.aclose()

    with RawServer(Reply(chunks=body, **reply)) as server:
        events, at = run(main(server), timeout=30)
        return Timed(events, at, server.last_request)
