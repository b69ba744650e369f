"""Text the store could not take: surrogates from JSON escapes, and a flush that fails
for a reason other than the disk. The reply is never left streaming unsaved, unstoppable."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from desktop.core.models import ProviderConfig, ProviderKind
from desktop.core.states import MessageStatus
from desktop.core.text import REPLACEMENT
from desktop.providers.factory import create_provider
from desktop.store import Store
from desktop.streaming.manager import StreamManager
from tests.integration.streaming.test_manager import (
    Ended,
    Recorder,
    make_provider,
    new_reply,
    request,
    wait_ended,
)
from tests.support.aio import run, wait_for
from tests.support.raw_server import RawServer, Reply


def chat_events(*contents: str) -> list[bytes]:
    """Chat Completions chunks whose JSON escapes each text exactly as written
    (a lone surrogate stays a lone ``\\udXXX`` escape, as a server sends it)."""
    frames = [
        "data: "
        + json.dumps({"id": "c", "choices": [{"index": 0, "delta": {"content": text}}]})
        + "\n\n"
        for text in contents
    ]
    frames.append('data: {"id":"c","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n')
    frames.append("data: [DONE]\n\n")
    return [f.encode("ascii") for f in frames]


def anthropic_events(*texts: str) -> list[bytes]:
    def frame(name: str, data: dict[str, object]) -> bytes:
        return f"event: {name}\ndata: {json.dumps(data)}\n\n".encode("ascii")

    frames = [
        frame(
            "message_start",
            {
                "type": "message_start",
                "message": {"id": "m", "role": "assistant", "content": [], "model": "x"},
            },
        ),
        frame(
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text"}},
        ),
    ]
    frames += [
        frame(
            "content_block_delta",
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": t}},
        )
        for t in texts
    ]
    frames.append(frame("content_block_stop", {"type": "content_block_stop", "index": 0}))
    frames.append(
        frame("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn"}})
    )
    frames.append(frame("message_stop", {"type": "message_stop"}))
    return frames


CASES = {
    "chat-split-pair": (ProviderKind.OPENAI_CHAT, chat_events, ("Hi ", "\ud83d", "\ude00 done")),
    "chat-lone": (ProviderKind.OPENAI_CHAT, chat_events, ("Hi ", "\ud800", " done")),
    "anthropic-split-pair": (
        ProviderKind.ANTHROPIC,
        anthropic_events,
        ("Hi ", "\ud83d", "\ude00 done"),
    ),
    "anthropic-lone-low": (ProviderKind.ANTHROPIC, anthropic_events, ("Hi \udc00", " done")),
}
EXPECTED = {
    "chat-split-pair": "Hi 😀 done",
    "chat-lone": f"Hi {REPLACEMENT} done",
    "anthropic-split-pair": "Hi 😀 done",
    "anthropic-lone-low": f"Hi {REPLACEMENT} done",
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_surrogates_from_json_escapes_are_mended_and_the_reply_is_saved(
    case: str, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    kind, events, deltas = CASES[case]
    with RawServer(Reply(chunks=events(*deltas), pause=0.02)) as server:
        base = server.base_url + ("/v1" if kind is ProviderKind.OPENAI_CHAT else "")
        provider = create_provider(ProviderConfig(kind, base, api_key="k", default_model="x"))
        manager = StreamManager(store, flush_interval=0.01)
        ended = Ended(manager)
        recorder = Recorder()

        async def scenario() -> None:
            session_id, message_id = new_reply(store, case)
            manager.attach(session_id, recorder)
            manager.start_reply(session_id, message_id, provider, request(case))
            end = await wait_ended(ended, message_id)
            assert end.status is MessageStatus.COMPLETE, end
            assert end.text == EXPECTED[case]
            await manager.shutdown()
            await provider.aclose()

        with caplog.at_level(logging.INFO, logger="sidestream"):
            run(scenario())
    stored = store.list_messages(store.list_sessions()[0].id)[-1]
    assert (stored.content, stored.status) == (EXPECTED[case], MessageStatus.COMPLETE)
    assert recorder.text == EXPECTED[case]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


class _Bug(ValueError):
    pass


def test_a_flush_that_fails_unexpectedly_ends_only_that_reply_visibly(
    demo, store: Store, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:  # type: ignore[no-untyped-def]
    """A write that fails for a reason other than the store refusing it (a bug)
    must not kill the flusher, leave the reply "streaming" forever, or take
    the other replies down with it."""
    provider = make_provider(demo, ProviderKind.OPENAI_CHAT, rate=200, tokens=400)
    manager = StreamManager(store, flush_interval=0.02)
    ended = Ended(manager)
    real_flush = store.flush_streaming
    doomed: set[int] = set()

    def flush_with_a_bug(items):  # type: ignore[no-untyped-def]
        if any(item.message_id in doomed and item.append_text for item in items):
            raise _Bug("secret chat text")  # its message must not reach the log
        return real_flush(items)

    store.flush_streaming = flush_with_a_bug  # type: ignore[method-assign]
    recorder = Recorder()

    async def scenario() -> None:
        bad_session, bad = new_reply(store, "bad")
        good_session, good = new_reply(store, "good")
        manager.attach(bad_session, recorder)
        manager.start_reply(bad_session, bad, provider, request("bad"))
        manager.start_reply(good_session, good, provider, request("good"))
        await wait_for(lambda: len(recorder.deltas) > 5, 10, "text of the doomed reply")
        doomed.add(bad)
        end = await wait_ended(ended, bad, timeout=5)
        assert end.status is MessageStatus.FAILED
        assert end.error is not None and "could not save this reply" in end.error
        assert recorder.statuses[-1] is MessageStatus.FAILED
        assert not manager.is_live(bad_session)
        good_end = await wait_ended(ended, good)
        assert good_end.status is MessageStatus.COMPLETE
        await manager.shutdown()
        await provider.aclose()

    with caplog.at_level(logging.DEBUG, logger="sidestream"):
        run(scenario())
    assert any("_Bug" in r.getMessage() for r in caplog.records)
    assert not any("secret chat text" in r.getMessage() for r in caplog.records)
    messages = {m.session_id: m for s in store.list_sessions() for m in store.list_messages(s.id)}
    assert len(messages) == 2


def test_a_final_write_that_fails_unexpectedly_still_ends_the_reply_on_screen(
    demo, store: Store
) -> None:  # type: ignore[no-untyped-def]
    """Stop must work even when the final write raises something the store
    does not know (before, the listener never heard the end: Esc did nothing)."""
    provider = make_provider(demo, ProviderKind.OPENAI_CHAT, rate=100, tokens=2000)
    manager = StreamManager(store, flush_interval=0.02)
    ended = Ended(manager)
    recorder = Recorder()

    def broken_finish(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise _Bug("secret chat text")

    async def scenario() -> None:
        session_id, message_id = new_reply(store, "stop me")
        manager.attach(session_id, recorder)
        manager.start_reply(session_id, message_id, provider, request("stop me"))
        await wait_for(lambda: len(recorder.deltas) > 3, 10, "text")
        store.finish_message = broken_finish  # type: ignore[method-assign]
        assert manager.stop(session_id)
        end = await wait_ended(ended, message_id, timeout=5)
        assert end.status is MessageStatus.FAILED
        assert end.error is not None and "could not save the end" in end.error
        assert recorder.statuses[-1] is MessageStatus.FAILED
        assert not manager.is_live(session_id)
        await manager.shutdown()
        await provider.aclose()

    run(scenario())
