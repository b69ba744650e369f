"""A long wait for the first token, through the StreamManager and the demo server.

Issue 15, defect 2: with the read timeout as the only limit, a model that
said nothing for longer before its first token (a reasoning model, a local
server reading a long prompt) ended ``failed`` as stalled. The first token
now has its own wait (``first_token_wait``); the live state says the reply
is waiting, and since when, so the chat can show "Waiting for the model…";
Stop works throughout; the stall limit applies again once a token came.
"""

from __future__ import annotations

import time

import pytest

from desktop.core.models import ChatRequest, ChatTurn, ProviderConfig, ProviderKind
from desktop.core.states import InterruptReason, MessageStatus, Role
from desktop.providers.base import Provider
from desktop.providers.demo.server import DemoServer, demo_reply
from desktop.providers.factory import create_provider
from desktop.store import Store
from desktop.streaming.events import Callbacks, StreamEnded
from desktop.streaming.manager import StreamManager
from tests.support.aio import run, wait_for

ALL_KINDS = [ProviderKind.OPENAI_CHAT, ProviderKind.OPENAI_RESPONSES, ProviderKind.ANTHROPIC]


def make_provider(
    demo: DemoServer,
    kind: ProviderKind,
    *,
    read_timeout: float,
    first_token_wait: float,
    **knobs: object,
) -> Provider:
    base = demo.anthropic_base_url if kind is ProviderKind.ANTHROPIC else demo.openai_base_url
    value = ";".join(f"{k}={v}" for k, v in knobs.items())
    return create_provider(
        ProviderConfig(
            kind=kind,
            base_url=base,
            api_key="test-key",
            extra_headers=(("X-Demo-Options", value),),
            read_timeout=read_timeout,
            first_token_wait=first_token_wait,
        )
    )


def new_reply(store: Store, prompt: str) -> tuple[int, int]:
    session = store.create_session(prompt)
    store.add_message(session.id, Role.USER, prompt)
    message = store.add_message(session.id, Role.ASSISTANT, "", status=MessageStatus.STREAMING)
    return session.id, message.id


def request(prompt: str) -> ChatRequest:
    return ChatRequest(model="demo", turns=(ChatTurn(Role.USER, prompt),))


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_a_long_silence_before_the_first_token_is_waited_for_and_shown(
    demo: DemoServer, store: Store, kind: ProviderKind
) -> None:
    prompt = f"patience {kind}"
    sid, mid = new_reply(store, prompt)
    # 1.2 s of silence (Anthropic pings every 0.4 s, as it does) with a 0.4 s
    # read timeout: "failed, stalled" before issue 15.
    provider = make_provider(
        demo,
        kind,
        read_timeout=0.4,
        first_token_wait=10.0,
        first_token_delay=1.2,
        keepalive=0.4,
        tokens=20,
        rate=0,
    )

    async def scenario() -> tuple[StreamEnded, float | None, float | None]:
        manager = StreamManager(store)
        ends: list[StreamEnded] = []
        manager.attach(None, Callbacks(ended=ends.append))
        before = time.time()
        manager.start_reply(sid, mid, provider, request(prompt))
        await wait_for(lambda: manager.snapshot(sid) is not None, 5)
        await wait_for(lambda: time.time() - before > 0.6, 5)
        waiting = manager.snapshot(sid)
        assert waiting is not None and waiting.status is MessageStatus.STREAMING
        progress = manager.progress(sid)
        assert progress is not None and progress.waiting_since == waiting.waiting_since
        await wait_for(lambda: bool(ends), 20, "the end")
        await manager.shutdown()
        await provider.aclose()
        return ends[0], waiting.waiting_since, before

    ended, since, before = run(scenario())
    assert since is not None and before is not None and abs(since - before) < 0.5
    assert ended.status is MessageStatus.COMPLETE, ended.error
    assert ended.text == demo_reply(prompt, 20)


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_the_first_token_wait_passing_fails_the_reply_clearly(
    demo: DemoServer, store: Store, kind: ProviderKind
) -> None:
    sid, mid = new_reply(store, f"too long {kind}")
    # Pings every 0.2 s do not extend the wait (they only prove the line is up).
    provider = make_provider(
        demo, kind, read_timeout=0.3, first_token_wait=1.0, first_token_delay=30, keepalive=0.2
    )

    async def scenario() -> tuple[StreamEnded, float]:
        manager = StreamManager(store)
        ends: list[StreamEnded] = []
        manager.attach(None, Callbacks(ended=ends.append))
        started = time.monotonic()
        manager.start_reply(sid, mid, provider, request("too long"))
        await wait_for(lambda: bool(ends), 20, "the end")
        took = time.monotonic() - started
        await manager.shutdown()
        await provider.aclose()
        return ends[0], took

    ended, took = run(scenario())
    assert 1.0 <= took < 5.0
    assert ended.status is MessageStatus.FAILED
    assert ended.error == (
        "The model sent nothing for 1 s, the longest Sidestream waits for a reply to begin "
        "(the first-token wait, in Settings)."
    )
    stored = store.get_message(mid)
    assert stored is not None and stored.error == ended.error
    assert demo.wait_until(lambda: demo.open_connections == 0, 3.0)
    if kind is ProviderKind.OPENAI_RESPONSES:
        # Given up on here, it is not left generating in the background there.
        [response_id] = demo.response_ids()[-1:]
        assert demo.wait_until(lambda: demo.response_status(response_id) == "cancelled", 3.0)


def test_stop_ends_a_reply_that_waits_for_its_first_token(demo: DemoServer, store: Store) -> None:
    sid, mid = new_reply(store, "stop while waiting")
    provider = make_provider(
        demo,
        ProviderKind.ANTHROPIC,
        read_timeout=0.3,
        first_token_wait=600.0,
        first_token_delay=60,
        keepalive=0.1,
    )

    async def scenario() -> tuple[StreamEnded, float]:
        manager = StreamManager(store)
        ends: list[StreamEnded] = []
        manager.attach(None, Callbacks(ended=ends.append))
        manager.start_reply(sid, mid, provider, request("stop while waiting"))
        await wait_for(lambda: demo.open_connections == 1, 5, "the request")
        await wait_for(lambda: (manager.snapshot(sid) or _none()).waiting_since is not None, 5)
        stopped = time.monotonic()
        assert manager.stop(sid)
        await wait_for(lambda: bool(ends), 5, "the end")
        took = time.monotonic() - stopped
        await manager.shutdown()
        await provider.aclose()
        return ends[0], took

    ended, took = run(scenario())
    assert ended.status is MessageStatus.STOPPED and took < 1.0
    assert demo.wait_until(lambda: demo.open_connections == 0, 3.0), "the connection closed"


def test_after_the_first_token_a_silence_is_a_stall_again(demo: DemoServer, store: Store) -> None:
    prompt = "stall after tokens"
    sid, mid = new_reply(store, prompt)
    provider = make_provider(
        demo,
        ProviderKind.OPENAI_CHAT,
        read_timeout=0.4,
        first_token_wait=600.0,
        stall_after=5,
        tokens=30,
        rate=0,
    )

    async def scenario() -> StreamEnded:
        manager = StreamManager(store)
        ends: list[StreamEnded] = []
        manager.attach(None, Callbacks(ended=ends.append))
        manager.start_reply(sid, mid, provider, request(prompt))
        await wait_for(lambda: bool(ends), 10, "the stall")
        await manager.shutdown()
        await provider.aclose()
        return ends[0]

    ended = run(scenario())
    assert ended.status is MessageStatus.INTERRUPTED
    assert ended.reason == InterruptReason.STALLED.value
    assert ended.text == "".join(demo_reply(prompt, 30))[: len(ended.text)] and ended.text


def _none():  # type: ignore[no-untyped-def]
    class Nothing:
        waiting_since = None

    return Nothing()
