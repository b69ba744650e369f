"""How replies end when servers misbehave: the StreamManager, a real Store and a
raw loopback server playing recorded streams (issue 15, defects 5, 6 and 8).

5. A Responses server that cannot resume: a stream cut after its first chunk
   (llmock's ``{"type":"stream_fault","kind":"disconnect","after_chunks":1}``)
   is resumed with ``GET /responses/{id}?stream=true&starting_after=N``, then
   asked ``GET /responses/{id}``; both 404. The user read "The provider does
   not know this model or endpoint (HTTP 404)"; the reply was cut.
6. A server that keeps the connection open after its last event held the
   reply's end for a second.
8. llama.cpp answers a prompt longer than its context with HTTP 200 and an
   empty body; the user read "the stream ended before the reply was complete".
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from desktop.core.models import ChatRequest, ChatTurn, ProviderConfig, ProviderKind
from desktop.core.states import InterruptReason, MessageStatus, Role
from desktop.providers.factory import create_provider
from desktop.store import Store, StreamFlush
from desktop.streaming.events import Callbacks, StreamEnded
from desktop.streaming.manager import StreamManager
from tests.support import fixture_bytes
from tests.support.aio import run, wait_for
from tests.support.raw_server import RawServer, RecordedRequest, Reply, Script, split_events

JSON = (("Content-Type", "application/json"),)
NOT_FOUND = Reply(status=404, headers=JSON, chunks=[b'{"error":"Not Found"}'])


def fixture(folder: str, name: str) -> list[bytes]:
    return split_events(fixture_bytes(folder, name))


def new_reply(store: Store) -> tuple[int, int]:
    session = store.create_session("ends")
    store.add_message(session.id, Role.USER, "Hi")
    message = store.add_message(session.id, Role.ASSISTANT, "", status=MessageStatus.STREAMING)
    return session.id, message.id


def stream_through_manager(
    store: Store, kind: ProviderKind, script: Script
) -> tuple[StreamEnded, float, list[RecordedRequest]]:
    """One reply from ``script`` through a real manager; its end and when it came."""
    sid, mid = new_reply(store)

    async def scenario(server: RawServer) -> tuple[StreamEnded, float]:
        base = server.base_url if kind is ProviderKind.ANTHROPIC else server.base_url + "/v1"
        provider = create_provider(
            ProviderConfig(kind=kind, base_url=base, api_key="sk-test", read_timeout=5.0)
        )
        manager = StreamManager(store, resume_backoff=(0.05, 0.1))
        ends: list[StreamEnded] = []
        manager.attach(None, Callbacks(ended=ends.append))
        started = time.monotonic()
        manager.start_reply(sid, mid, provider, ChatRequest("m", (ChatTurn(Role.USER, "Hi"),)))
        await wait_for(lambda: bool(ends), 20, "the end")
        took = time.monotonic() - started
        await manager.shutdown()
        await provider.aclose()
        return ends[0], took

    with RawServer(script) as server:
        ended, took = run(scenario(server))
        return ended, took, list(server.requests)


def cut_then_404(first: Sequence[bytes]) -> Script:
    def route(request: RecordedRequest) -> Reply:
        if request.method == "POST":
            return Reply(chunks=list(first), ending="close")
        return NOT_FOUND  # no GET /responses/{id} here, streamed or not

    return route


# --- 5 ---------------------------------------------------------------------------


def test_a_server_that_cannot_resume_shows_why_the_reply_ended(store: Store) -> None:
    first = fixture("openai_responses", "disconnect_after_first_chunk.sse")
    ended, _, requests = stream_through_manager(
        store, ProviderKind.OPENAI_RESPONSES, cut_then_404(first)
    )
    # It did try: the resume, then the status.
    paths = [(r.method, r.path.split("?")[0]) for r in requests]
    rid = "resp_68b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3"
    assert ("GET", f"/v1/responses/{rid}") in paths
    assert any("starting_after=0" in r.path for r in requests)
    assert ended.status is MessageStatus.FAILED
    assert ended.error is not None
    assert "does not know this model" not in ended.error
    assert ended.error == (
        "The connection to the provider failed: the connection to "
        f"{requests[0].headers['host']} was cut; the provider could not resume the reply "
        "(HTTP 404)"
    )


def test_a_cut_reply_with_text_is_kept_as_cut_off_not_as_a_404(store: Store) -> None:
    events = fixture("openai_responses", "normal.sse")
    first = events[:7]  # created ... the first two text deltas
    ended, _, _ = stream_through_manager(store, ProviderKind.OPENAI_RESPONSES, cut_then_404(first))
    assert ended.status is MessageStatus.INTERRUPTED
    assert ended.reason == InterruptReason.CONNECTION_LOST.value
    assert ended.text == "Hi there"
    assert ended.error is not None and "HTTP 404" in ended.error
    assert ended.error.startswith("The connection to the provider failed")


# --- 6 ---------------------------------------------------------------------------


def test_the_end_is_announced_at_once_though_the_server_keeps_the_connection(
    store: Store,
) -> None:
    body = fixture("openai_chat", "done_then_held_open.sse")
    ended, took, _ = stream_through_manager(
        store, ProviderKind.OPENAI_CHAT, Reply(chunks=body, ending="stall")
    )
    assert ended.status is MessageStatus.COMPLETE and ended.text == "Quick answer."
    assert took < 0.6, took  # 1 s and more before issue 15
    stored = store.get_message(ended.message_id)
    assert stored is not None and stored.status is MessageStatus.COMPLETE


# --- 8 ---------------------------------------------------------------------------


def test_an_empty_answer_says_the_prompt_is_probably_too_long(store: Store) -> None:
    body = fixture("openai_chat", "llamacpp_context_exceeded_empty.sse")
    ended, _, _ = stream_through_manager(store, ProviderKind.OPENAI_CHAT, Reply(chunks=body))
    assert ended.status is MessageStatus.FAILED
    assert ended.error is not None
    assert "the stream ended before the reply was complete" not in ended.error
    assert "longer than the model's context window" in ended.error
    stored = store.get_message(ended.message_id)
    assert stored is not None and stored.error == ended.error


def test_a_reply_recovered_at_start_up_from_a_server_that_cannot_resume(store: Store) -> None:
    # Left streaming by a quit, with its cursor; the server has no GET /responses/{id}.
    session = store.create_session("recovered")
    store.add_message(session.id, Role.USER, "Hi")
    message = store.add_message(session.id, Role.ASSISTANT, "Half", status=MessageStatus.STREAMING)
    store.flush_streaming([StreamFlush(message.id, " an answer", cursor="resp_gone:5")])

    async def scenario(server: RawServer) -> StreamEnded:
        provider = create_provider(
            ProviderConfig(ProviderKind.OPENAI_RESPONSES, server.base_url + "/v1", "sk-test")
        )
        manager = StreamManager(store, resume_backoff=(0.05,))
        ends: list[StreamEnded] = []
        manager.attach(None, Callbacks(ended=ends.append))
        report = await manager.recover(lambda _: provider)
        assert report.resumed == (message.id,)
        await wait_for(lambda: bool(ends), 20, "the end")
        await manager.shutdown()
        await provider.aclose()
        return ends[0]

    with RawServer(NOT_FOUND) as server:
        ended = run(scenario(server))
    assert ended.status is MessageStatus.INTERRUPTED
    assert ended.reason == InterruptReason.APP_QUIT.value
    assert ended.text == "Half an answer"
    assert ended.error == (
        "The connection to the provider failed: Sidestream quit before the reply finished; "
        "the provider could not resume the reply (HTTP 404)"
    )
