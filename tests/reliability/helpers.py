"""Shared pieces of the reliability tests: providers with demo knobs, listeners, server logs."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from desktop.core.models import ChatRequest, ChatTurn, ProviderConfig, ProviderKind
from desktop.core.states import MessageStatus, Role
from desktop.providers.base import Provider
from desktop.providers.demo.ledger import ConnectionRecord
from desktop.providers.demo.server import DemoServer
from desktop.providers.factory import create_provider
from desktop.store import Store
from desktop.streaming.events import Callbacks, StreamEnded, StreamListener, StreamSnapshot
from desktop.streaming.manager import StreamManager
from tests.support.aio import wait_for

ALL_KINDS = (ProviderKind.OPENAI_CHAT, ProviderKind.OPENAI_RESPONSES, ProviderKind.ANTHROPIC)
SHORT = {
    ProviderKind.OPENAI_CHAT: "chat",
    ProviderKind.OPENAI_RESPONSES: "responses",
    ProviderKind.ANTHROPIC: "anthropic",
}


def options_header(**knobs: object) -> tuple[tuple[str, str], ...]:
    value = ";".join(f"{k}={v}" for k, v in knobs.items())
    return (("X-Demo-Options", value),) if value else ()


def make_provider(
    demo: DemoServer,
    kind: ProviderKind,
    *,
    read_timeout: float = 30.0,
    first_token_wait: float = 600.0,
    api_key: str = "test-key",
    **knobs: object,
) -> Provider:
    """A provider of ``kind`` on the demo server; ``knobs`` go in X-Demo-Options."""
    base = demo.anthropic_base_url if kind is ProviderKind.ANTHROPIC else demo.openai_base_url
    return create_provider(
        ProviderConfig(
            kind=kind,
            base_url=base,
            api_key=api_key,
            default_model="sidestream-demo",
            extra_headers=options_header(**knobs),
            read_timeout=read_timeout,
            first_token_wait=first_token_wait,
        )
    )


def request(prompt: str) -> ChatRequest:
    return ChatRequest(model="sidestream-demo", turns=(ChatTurn(Role.USER, prompt),))


def new_reply(store: Store, prompt: str) -> tuple[int, int]:
    """A chat with the user's prompt and an empty assistant message streaming."""
    session = store.create_session(prompt)
    store.add_message(session.id, Role.USER, prompt)
    message = store.add_message(session.id, Role.ASSISTANT, "", status=MessageStatus.STREAMING)
    return session.id, message.id


@dataclass(eq=False)
class Recorder(StreamListener):
    """A listener that rebuilds the reply's text from what the manager tells it."""

    snapshot_text: str = ""
    deltas: list[str] = field(default_factory=list)
    statuses: list[MessageStatus] = field(default_factory=list)
    #: The text of the last terminal snapshot (a reply completed from the
    #: provider's stored response gets its whole text there, not as deltas).
    final_text: str | None = None

    def start_from(self, snapshot: StreamSnapshot | None) -> None:
        self.snapshot_text = snapshot.text if snapshot else ""
        self.deltas.clear()

    def on_stream_started(self, snapshot: StreamSnapshot) -> None:
        self.start_from(snapshot)

    def on_stream_delta(self, message_id: int, text: str) -> None:
        self.deltas.append(text)

    def on_stream_reasoning(self, message_id: int, text: str) -> None:
        pass

    def on_stream_status(self, snapshot: StreamSnapshot) -> None:
        self.statuses.append(snapshot.status)
        if snapshot.status.is_terminal:
            self.final_text = snapshot.text

    @property
    def text(self) -> str:
        return self.snapshot_text + "".join(self.deltas)


class Ended:
    """Collects the manager's terminal announcements."""

    def __init__(self, manager: StreamManager) -> None:
        self.events: dict[int, StreamEnded] = {}
        manager.attach(None, Callbacks(ended=self._on_ended))

    def _on_ended(self, event: StreamEnded) -> None:
        assert event.message_id not in self.events, f"message {event.message_id} ended twice"
        self.events[event.message_id] = event

    def of(self, message_id: int) -> StreamEnded | None:
        return self.events.get(message_id)

    async def wait(self, message_id: int, timeout: float = 20.0) -> StreamEnded:
        await wait_for(lambda: message_id in self.events, timeout, f"message {message_id} to end")
        return self.events[message_id]


def prompt_of(body: Any) -> str | None:
    """The last user turn of a request body in any dialect (what the demo seeds on)."""
    if not isinstance(body, dict):
        return None
    turns = body.get("messages")
    if turns is None:
        turns = body.get("input")
        if isinstance(turns, str):
            return turns
    if not isinstance(turns, list):
        return None
    for turn in reversed(turns):
        if isinstance(turn, dict) and turn.get("role") == "user":
            content = turn.get("content")
            return content if isinstance(content, str) else json.dumps(content)
    return None


def connections_for(demo: DemoServer, prompt: str) -> list[ConnectionRecord]:
    """Every connection that carried the reply to ``prompt``, oldest first.

    The connection of the request itself, and for a Responses reply every
    later one that resumed it (same response id).
    """
    with demo.lock:
        requests = demo.requests
        connections = demo.connections
    ids = {r.connection_id for r in requests if r.method == "POST" and prompt_of(r.body) == prompt}
    first = [c for c in connections if c.id in ids]
    response_ids = {c.response_id for c in first if c.response_id}
    return [
        c
        for c in connections
        if c.id in ids or (c.response_id is not None and c.response_id in response_ids)
    ]


def text_sent(records: Iterable[ConnectionRecord]) -> str:
    """The reply's text as the server wrote it, stitched over resumed connections."""
    text = ""
    delivered = 0
    for record in sorted(records, key=lambda c: c.opened_at):
        if not record.text_parts:
            continue
        skip = delivered - record.first_delta  # a resume may replay what was delivered
        parts = record.text_parts[max(0, skip) :]
        text += "".join(parts)
        delivered = max(delivered, record.first_delta + len(record.text_parts))
    return text
