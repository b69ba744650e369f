"""The demo takes a chat's system prompt and settings in every dialect: it
ignores the sampling and reasoning ones without error and honours the limit,
under whichever name the dialect gives it."""

from __future__ import annotations

import pytest

from desktop.core.events import Finished, StreamEvent, TextDelta
from desktop.core.models import (
    ChatRequest,
    ChatTurn,
    GenerationParams,
    ProviderConfig,
    ProviderKind,
)
from desktop.core.states import FinishReason, Role
from desktop.providers.demo import DemoServer
from desktop.providers.demo.replies import demo_reply
from desktop.providers.factory import create_provider
from tests.support import collect
from tests.support.aio import run

KINDS = [ProviderKind.OPENAI_CHAT, ProviderKind.OPENAI_RESPONSES, ProviderKind.ANTHROPIC]
EVERYTHING = GenerationParams(
    temperature=0.7,
    top_p=0.97,
    max_output_tokens=4000,
    reasoning_effort="medium",
    thinking_budget=2048,
)


def reply(server: DemoServer, kind: ProviderKind, request: ChatRequest) -> list[StreamEvent]:
    base = server.anthropic_base_url if kind is ProviderKind.ANTHROPIC else server.openai_base_url
    provider = create_provider(ProviderConfig(kind, base, read_timeout=5.0))

    async def main() -> list[StreamEvent]:
        try:
            return await collect(provider.stream(request))
        finally:
            await provider.aclose()

    return run(main(), timeout=30)


def text_of(events: list[StreamEvent]) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


@pytest.mark.parametrize("kind", KINDS)
def test_every_setting_is_taken_and_the_reply_is_whole(
    server: DemoServer, kind: ProviderKind
) -> None:
    request = ChatRequest(
        model="demo",
        turns=(ChatTurn(Role.USER, "Hi"),),
        system="Answer in French.",
        params=EVERYTHING,
    )
    events = reply(server, kind, request)
    assert isinstance(events[-1], Finished), events
    assert events[-1].finish is FinishReason.STOP
    assert text_of(events) == demo_reply("Hi", 20)


@pytest.mark.parametrize("kind", KINDS)
def test_the_chats_limit_cuts_the_reply(server: DemoServer, kind: ProviderKind) -> None:
    # 16 is the least the Responses API takes; the demo's reply is 20 tokens.
    request = ChatRequest(
        model="demo",
        turns=(ChatTurn(Role.USER, "Hi"),),
        params=GenerationParams(max_output_tokens=16),
    )
    events = reply(server, kind, request)
    assert isinstance(events[-1], Finished), events
    assert events[-1].finish is FinishReason.LENGTH
    assert demo_reply("Hi", 20).startswith(text_of(events))
    assert len(text_of(events)) < len(demo_reply("Hi", 20))
