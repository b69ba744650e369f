"""Reasoning, finish and usage through the real StreamManager, demo server and Store.

Issue 15, defect 1: reasoning was folded and dropped (never stored, never
shown). Defect 4: why a reply ended was lost. Each dialect's demo reply
reasons first here (the ``reasoning`` knob), refuses (``refusal``) or runs
out of tokens (``finish=length``), and the stored message, the live state
and the end announced must say so.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from desktop.core.models import (
    ChatRequest,
    ChatTurn,
    ProviderConfig,
    ProviderKind,
    ReasoningBlock,
)
from desktop.core.states import FinishReason, MessageStatus, Role
from desktop.providers.base import Provider
from desktop.providers.demo.replies import (
    REFUSAL_TEXT,
    demo_reasoning,
    demo_reply,
    demo_reply_tokens,
    thinking_signature,
)
from desktop.providers.demo.server import DemoServer
from desktop.providers.factory import create_provider
from desktop.store import Store
from desktop.streaming.events import Callbacks, StreamEnded, StreamListener, StreamProgress
from desktop.streaming.manager import StreamManager
from tests.support.aio import run, wait_for

ALL_KINDS = [ProviderKind.OPENAI_CHAT, ProviderKind.OPENAI_RESPONSES, ProviderKind.ANTHROPIC]


def make_provider(demo: DemoServer, kind: ProviderKind, **knobs: object) -> Provider:
    base = demo.anthropic_base_url if kind is ProviderKind.ANTHROPIC else demo.openai_base_url
    value = ";".join(f"{k}={v}" for k, v in knobs.items())
    return create_provider(
        ProviderConfig(
            kind=kind,
            base_url=base,
            api_key="test-key",
            extra_headers=(("X-Demo-Options", value),),
            read_timeout=10.0,
        )
    )


def new_reply(store: Store, prompt: str) -> tuple[int, int]:
    session = store.create_session(prompt)
    store.add_message(session.id, Role.USER, prompt)
    message = store.add_message(session.id, Role.ASSISTANT, "", status=MessageStatus.STREAMING)
    return session.id, message.id


def request(prompt: str) -> ChatRequest:
    return ChatRequest(model="demo", turns=(ChatTurn(Role.USER, prompt),))


@dataclass
class Live(StreamListener):
    """What a view attached throughout hears."""

    deltas: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    # The reply's progress when its first reasoning and its first text came.
    at_first_reasoning: StreamProgress | None = None
    at_first_text: StreamProgress | None = None
    manager: StreamManager | None = None
    session_id: int = 0

    def on_stream_delta(self, message_id: int, text: str) -> None:
        if not self.deltas and self.manager is not None:
            self.at_first_text = self.manager.progress(self.session_id)
        self.deltas.append(text)

    def on_stream_reasoning(self, message_id: int, text: str) -> None:
        if not self.reasoning and self.manager is not None:
            self.at_first_reasoning = self.manager.progress(self.session_id)
        self.reasoning.append(text)


@dataclass
class Outcome:
    ended: StreamEnded
    live: Live
    stored_reasoning_while_streaming: list[str]


def stream_reply(
    store: Store,
    prompt: str,
    provider: Provider,
    reader: Store | None = None,
) -> Outcome:
    sid, mid = new_reply(store, prompt)
    ends: list[StreamEnded] = []
    seen: list[str] = []

    async def scenario() -> Outcome:
        manager = StreamManager(store, flush_interval=0.03)
        manager.attach(None, Callbacks(ended=ends.append))
        live = Live(manager=manager, session_id=sid)
        manager.attach(sid, live)
        manager.start_reply(sid, mid, provider, request(prompt))

        def ended() -> bool:
            if reader is not None:
                message = reader.get_message(mid)
                if message is not None and message.status is MessageStatus.STREAMING:
                    seen.append(message.reasoning)
            return bool(ends)

        await wait_for(ended, 30, "the reply to end")
        manager.detach(sid, live)
        await manager.shutdown()
        await provider.aclose()
        return Outcome(ends[0], live, seen)

    return run(scenario())


@pytest.fixture
def reader(tmp_path: Path, store: Store) -> Iterator[Store]:
    """A second connection to the store's file, as another process would read it."""
    other = Store.open(tmp_path / "data")
    yield other
    other.close()


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_reasoning_is_stored_apart_from_the_answer_with_its_duration(
    demo: DemoServer, store: Store, reader: Store, kind: ProviderKind
) -> None:
    prompt = f"reason {kind}"
    provider = make_provider(demo, kind, reasoning=40, tokens=30, rate=200)
    outcome = stream_reply(store, prompt, provider, reader)
    ended = outcome.ended
    reasoning = demo_reasoning(prompt, 40)

    assert ended.status is MessageStatus.COMPLETE
    assert (ended.text, ended.reasoning) == (demo_reply(prompt, 30), reasoning)
    assert ended.finish is FinishReason.STOP
    # 40 reasoning tokens at 200 a second: about 0.2 s of thought.
    assert ended.reasoning_seconds is not None and 0.1 <= ended.reasoning_seconds < 2.0

    stored = store.get_message(ended.message_id)
    assert stored is not None
    assert (stored.content, stored.reasoning) == (ended.text, reasoning)
    assert stored.finish is FinishReason.STOP
    assert stored.reasoning_seconds == ended.reasoning_seconds
    assert stored.input_tokens and stored.output_tokens == 70
    assert (ended.input_tokens, ended.output_tokens) == (stored.input_tokens, 70)
    if kind is ProviderKind.ANTHROPIC:
        # The signed block, to send back unchanged.
        assert stored.reasoning_blocks == (
            ReasoningBlock.signed(reasoning, thinking_signature(reasoning)),
        )
    else:
        assert stored.reasoning_blocks == ()

    # Live: the reasoning reached listeners as it came, before the answer.
    assert "".join(outcome.live.reasoning) == reasoning
    assert "".join(outcome.live.deltas) == ended.text
    first = outcome.live.at_first_reasoning
    assert first is not None and first.waiting_since is None
    assert first.reasoning_started_at is not None and first.reasoning_seconds is None
    answered = outcome.live.at_first_text
    assert answered is not None and answered.reasoning_length == len(reasoning)
    assert answered.reasoning_seconds is not None

    # And it was on disk while the reply streamed, growing.
    partial = [r for r in outcome.stored_reasoning_while_streaming if r]
    assert partial and all(reasoning.startswith(r) for r in partial)
    assert len(set(partial)) >= 2


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_a_refusal_is_the_reply_and_says_so(
    demo: DemoServer, store: Store, kind: ProviderKind
) -> None:
    outcome = stream_reply(store, f"refuse {kind}", make_provider(demo, kind, refusal=1, rate=0))
    stored = store.get_message(outcome.ended.message_id)
    assert stored is not None
    assert (stored.status, stored.content, stored.finish) == (
        MessageStatus.COMPLETE,
        REFUSAL_TEXT,
        FinishReason.REFUSAL,
    )
    assert outcome.ended.finish is FinishReason.REFUSAL


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_a_reply_cut_at_its_token_limit_says_so(
    demo: DemoServer, store: Store, kind: ProviderKind
) -> None:
    prompt = f"long {kind}"
    outcome = stream_reply(
        store, prompt, make_provider(demo, kind, finish="length", tokens=25, rate=0)
    )
    stored = store.get_message(outcome.ended.message_id)
    assert stored is not None
    assert stored.finish is FinishReason.LENGTH and stored.status is MessageStatus.COMPLETE
    # Cut mid-text: the start of a longer reply.
    assert stored.content == "".join(demo_reply_tokens(prompt, 58)[:25])


def test_think_tags_from_a_chat_server_are_reasoning(demo: DemoServer, store: Store) -> None:
    prompt = "older ollama"
    provider = make_provider(
        demo, ProviderKind.OPENAI_CHAT, reasoning=12, reasoning_format="think", rate=0, tokens=20
    )
    ended = stream_reply(store, prompt, provider).ended
    assert ended.reasoning == demo_reasoning(prompt, 12)
    assert ended.text == demo_reply(prompt, 20)


def test_a_reply_without_reasoning_has_none(demo: DemoServer, store: Store) -> None:
    outcome = stream_reply(store, "plain", make_provider(demo, ProviderKind.OPENAI_CHAT, rate=0))
    stored = store.get_message(outcome.ended.message_id)
    assert stored is not None
    assert (stored.reasoning, stored.reasoning_seconds, stored.finish) == (
        "",
        None,
        FinishReason.STOP,
    )
    assert outcome.live.reasoning == []
