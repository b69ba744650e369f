"""The StreamManager against the real demo server on loopback and a real SQLite file."""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from desktop.core.models import ChatRequest, ChatTurn, ProviderConfig, ProviderKind
from desktop.core.states import InterruptReason, MessageStatus, Role
from desktop.providers.demo.server import DemoServer, demo_reply
from desktop.providers.factory import create_provider
from desktop.store import Store
from desktop.streaming.events import Callbacks, StreamEnded, StreamListener, StreamSnapshot
from desktop.streaming.manager import StreamManager
from tests.support.aio import run, wait_for


def options_header(**knobs: object) -> tuple[tuple[str, str], ...]:
    value = ";".join(f"{k}={v}" for k, v in knobs.items())
    return (("X-Demo-Options", value),) if value else ()


def make_provider(
    demo: DemoServer,
    kind: ProviderKind,
    read_timeout: float = 30.0,
    first_token_wait: float = 600.0,
    **knobs: object,
):  # type: ignore[no-untyped-def]
    base = demo.anthropic_base_url if kind is ProviderKind.ANTHROPIC else demo.openai_base_url
    return create_provider(
        ProviderConfig(
            kind=kind,
            base_url=base,
            api_key="test-key",
            default_model="demo",
            extra_headers=options_header(**knobs),
            read_timeout=read_timeout,
            first_token_wait=first_token_wait,
        )
    )


def request(prompt: str) -> ChatRequest:
    return ChatRequest(model="demo", turns=(ChatTurn(Role.USER, prompt),))


def new_reply(store: Store, prompt: str) -> tuple[int, int]:
    session = store.create_session(prompt)
    store.add_message(session.id, Role.USER, prompt)
    message = store.add_message(session.id, Role.ASSISTANT, "", status=MessageStatus.STREAMING)
    return session.id, message.id


@dataclass
class Recorder(StreamListener):
    """A listener that rebuilds the text from what the manager tells it."""

    snapshot_text: str = ""
    deltas: list[str] = field(default_factory=list)
    statuses: list[MessageStatus] = field(default_factory=list)

    def on_stream_started(self, snapshot: StreamSnapshot) -> None:
        self.snapshot_text = snapshot.text
        self.deltas.clear()

    def on_stream_delta(self, message_id: int, text: str) -> None:
        self.deltas.append(text)

    def on_stream_reasoning(self, message_id: int, text: str) -> None:
        pass

    def on_stream_status(self, snapshot: StreamSnapshot) -> None:
        self.statuses.append(snapshot.status)

    @property
    def text(self) -> str:
        return self.snapshot_text + "".join(self.deltas)


class Ended:
    def __init__(self, manager: StreamManager) -> None:
        self.events: list[StreamEnded] = []
        manager.attach(None, Callbacks(ended=self.events.append))

    def of(self, message_id: int) -> StreamEnded | None:
        return next((e for e in self.events if e.message_id == message_id), None)


async def wait_ended(ended: Ended, message_id: int, timeout: float = 20.0) -> StreamEnded:
    await wait_for(lambda: ended.of(message_id) is not None, timeout, f"message {message_id}")
    result = ended.of(message_id)
    assert result is not None
    return result


ALL_KINDS = [ProviderKind.OPENAI_CHAT, ProviderKind.OPENAI_RESPONSES, ProviderKind.ANTHROPIC]


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_reply_persists_with_no_subscriber_and_grows_while_streaming(
    demo: DemoServer, store: Store, tmp_path: Path, kind: ProviderKind
) -> None:
    prompt = f"persist {kind}"
    sid, mid = new_reply(store, prompt)
    reader = Store.open(tmp_path / "data")  # a second connection, as another process would

    async def scenario() -> None:
        manager = StreamManager(store, flush_interval=0.05)
        ended = Ended(manager)
        provider = make_provider(demo, kind, rate=200, tokens=120)
        manager.start_reply(sid, mid, provider, request(prompt))
        seen: list[int] = []

        def stored_length() -> int:
            message = reader.get_message(mid)
            assert message is not None
            if message.status is MessageStatus.STREAMING:
                seen.append(len(message.content))
            return len(message.content)

        await wait_for(lambda: stored_length() > 0 and len(set(seen)) >= 3, 20, "growth")
        result = await wait_ended(ended, mid)
        assert result.status is MessageStatus.COMPLETE
        await manager.shutdown()
        await provider.aclose()

    run(scenario())
    final = reader.get_message(mid)
    assert final is not None
    assert final.status is MessageStatus.COMPLETE
    assert final.content == demo_reply(prompt, 120)
    assert final.output_tokens
    reader.close()


def test_attach_mid_stream_gets_all_text_then_every_delta_once(
    demo: DemoServer, store: Store
) -> None:
    prompt = "attach mid-stream"
    sid, mid = new_reply(store, prompt)

    async def scenario() -> Recorder:
        manager = StreamManager(store)
        ended = Ended(manager)
        provider = make_provider(demo, ProviderKind.OPENAI_CHAT, rate=300, tokens=150)
        manager.start_reply(sid, mid, provider, request(prompt))
        await wait_for(lambda: len((manager.snapshot(sid) or _EMPTY).text) > 40, 10, "text")
        recorder = Recorder()
        snap = manager.attach(sid, recorder)
        assert snap is not None and snap.text
        recorder.snapshot_text = snap.text
        await wait_ended(ended, mid)
        manager.detach(sid, recorder)
        assert manager.listener_count() == 0
        await manager.shutdown()
        await provider.aclose()
        return recorder

    recorder = run(scenario())
    assert recorder.text == demo_reply(prompt, 150)
    assert recorder.statuses[-1] is MessageStatus.COMPLETE


_EMPTY = StreamSnapshot(0, 0, MessageStatus.PENDING, "")


def test_sixth_stream_evicts_oldest_not_on_screen_and_closes_its_connection(
    demo: DemoServer, store: Store
) -> None:
    async def scenario() -> None:
        manager = StreamManager(store, limit=5, flush_interval=0.05)
        ended = Ended(manager)
        provider = make_provider(demo, ProviderKind.OPENAI_CHAT, rate=30, tokens=2000)
        replies = [new_reply(store, f"evict {i}") for i in range(6)]
        watcher = Recorder()
        first_conns = len(demo.connections)
        for i, (sid, mid) in enumerate(replies[:5]):
            manager.start_reply(sid, mid, provider, request(f"evict {i}"))
            if i == 0:
                manager.attach(sid, watcher)  # the chat on screen: never evicted
        await wait_for(
            lambda: all(len((manager.snapshot(s) or _EMPTY).text) > 5 for s, _ in replies[:5]),
            10,
            "five streams producing text",
        )
        with demo.lock:
            victim_conn = [c for c in demo.connections[first_conns:] if c.closed_at is None]
        assert len(victim_conn) == 5
        # Connections open in start order; the second one belongs to replies[1].
        victim_record = sorted(victim_conn, key=lambda c: c.opened_at)[1]
        sid6, mid6 = replies[5]
        t0 = time.monotonic()
        manager.start_reply(sid6, mid6, provider, request("evict 5"))
        assert manager.live_count() == 5
        assert not manager.is_live(replies[1][0])
        assert manager.is_live(replies[0][0])
        await wait_for(
            lambda: victim_record.closed_at is not None, 2.0, "the server to see the close"
        )
        assert victim_record.closed_at is not None
        closed_after = victim_record.closed_at - t0
        assert closed_after < 0.1, f"server saw the close after {closed_after * 1000:.0f} ms"
        result = await wait_ended(ended, replies[1][1])
        assert result.status is MessageStatus.INTERRUPTED
        assert result.reason == InterruptReason.EVICTED.value
        await manager.stop_all()
        await manager.shutdown()
        await provider.aclose()

    run(scenario())
    victim = store.get_message(replies_mid(store, "evict 1"))
    assert victim is not None
    assert victim.status is MessageStatus.INTERRUPTED
    assert victim.reason == InterruptReason.EVICTED.value
    assert victim.content and demo_reply("evict 1", 2000).startswith(victim.content)


class BranchView(StreamListener):
    """A view on screen that shows one branch of its chat."""

    def __init__(self, shown: set[int]) -> None:
        self.shown = shown

    def shows(self, message_id: int) -> bool:
        return message_id in self.shown


def test_a_reply_on_a_branch_not_shown_is_hidden_for_eviction(
    demo: DemoServer, store: Store
) -> None:
    """Two replies live in one chat on screen: the one on the branch the view
    does not show is evicted like a hidden chat's; the one shown never is."""

    async def scenario() -> None:
        manager = StreamManager(store, limit=2, flush_interval=0.05)
        ended = Ended(manager)
        provider = make_provider(demo, ProviderKind.OPENAI_CHAT, rate=30, tokens=2000)
        sid, old = new_reply(store, "branching")
        question = store.list_messages(sid)[0]
        store.add_message(sid, Role.USER, "edited", parent_id=question.parent_id)
        new = store.add_message(sid, Role.ASSISTANT, "", status=MessageStatus.STREAMING).id
        view = BranchView({new})
        manager.attach(sid, view)
        manager.start_reply(sid, old, provider, request("the old branch"))
        manager.start_reply(sid, new, provider, request("the new branch"))
        assert manager.live_messages(sid) == [old, new]
        assert [s.message_id for s in manager.snapshots(sid)] == [old, new]
        newest = manager.snapshot(sid)
        assert newest is not None and newest.message_id == new
        other_sid, other = new_reply(store, "another chat")
        manager.start_reply(other_sid, other, provider, request("another chat"))
        result = await wait_ended(ended, old)
        assert result.status is MessageStatus.INTERRUPTED
        assert result.reason == InterruptReason.EVICTED.value
        assert manager.live_messages(sid) == [new]
        assert manager.is_live(sid)

        # Now the view shows the old branch: the new one is the hidden one.
        view.shown = {old}
        third_sid, third = new_reply(store, "a third chat")
        manager.start_reply(third_sid, third, provider, request("a third chat"))
        assert (await wait_ended(ended, new)).reason == InterruptReason.EVICTED.value
        assert not manager.is_live(sid)
        await manager.stop_all()
        await manager.shutdown()
        await provider.aclose()

    run(scenario())


def replies_mid(store: Store, title: str) -> int:
    session = next(s for s in store.list_sessions() if s.title == title)
    return next(m.id for m in store.list_messages(session.id) if m.role is Role.ASSISTANT)


def test_stop_closes_the_connection_and_stores_stopped(demo: DemoServer, store: Store) -> None:
    prompt = "stop me"
    sid, mid = new_reply(store, prompt)

    async def scenario() -> None:
        manager = StreamManager(store)
        ended = Ended(manager)
        provider = make_provider(demo, ProviderKind.ANTHROPIC, rate=50, tokens=1000)
        before = len(demo.connections)
        manager.start_reply(sid, mid, provider, request(prompt))
        await wait_for(lambda: len((manager.snapshot(sid) or _EMPTY).text) > 10, 10, "text")
        with demo.lock:
            record = next(c for c in demo.connections[before:] if c.path.endswith("/messages"))
        assert manager.stop(sid)
        await wait_for(lambda: record.closed_at is not None, 1.0, "the server to see the close")
        result = await wait_ended(ended, mid)
        assert result.status is MessageStatus.STOPPED
        await manager.shutdown()
        await provider.aclose()

    run(scenario())
    message = store.get_message(mid)
    assert message is not None
    assert message.status is MessageStatus.STOPPED
    assert message.content and demo_reply(prompt, 1000).startswith(message.content)


def test_cut_responses_stream_resumes_with_no_gap_and_no_duplicate(
    demo: DemoServer, store: Store
) -> None:
    prompt = "cut and resume"
    sid, mid = new_reply(store, prompt)

    async def scenario() -> Recorder:
        manager = StreamManager(store, resume_backoff=(0.05, 0.1, 0.2))
        ended = Ended(manager)
        recorder = Recorder()
        manager.attach(sid, recorder)
        provider = make_provider(
            demo, ProviderKind.OPENAI_RESPONSES, rate=400, tokens=200, cut_after=40
        )
        manager.start_reply(sid, mid, provider, request(prompt))
        result = await wait_ended(ended, mid)
        assert result.status is MessageStatus.COMPLETE, result
        assert MessageStatus.RESUMING in recorder.statuses
        await manager.shutdown()
        await provider.aclose()
        return recorder

    recorder = run(scenario())
    expected = demo_reply(prompt, 200)
    assert recorder.text == expected
    message = store.get_message(mid)
    assert message is not None and message.content == expected


def test_restart_resumes_a_responses_stream_left_streaming(
    demo: DemoServer, tmp_path: Path
) -> None:
    prompt = "survive a restart"
    first = Store.open(tmp_path / "data")
    sid, mid = new_reply(first, prompt)

    async def before_restart() -> None:
        manager = StreamManager(first, flush_interval=0.05)
        provider = make_provider(demo, ProviderKind.OPENAI_RESPONSES, rate=150, tokens=200)
        manager.start_reply(sid, mid, provider, request(prompt))
        await wait_for(
            lambda: len((first.get_message(mid) or _NOMSG).content) > 30, 10, "flushed text"
        )
        # As after a crash: the reply is left `streaming` with its cursor on disk.
        await manager.shutdown(interrupt=False)
        await provider.aclose()

    run(before_restart())
    first.close()
    second = Store.open(tmp_path / "data")
    left = second.get_message(mid)
    assert left is not None and left.status is MessageStatus.STREAMING and left.cursor

    async def after_restart() -> None:
        manager = StreamManager(second)
        ended = Ended(manager)
        provider = make_provider(demo, ProviderKind.OPENAI_RESPONSES)
        report = await manager.recover(lambda message: provider)
        assert report.resumed == (mid,)
        result = await wait_ended(ended, mid)
        assert result.status is MessageStatus.COMPLETE
        await manager.shutdown()
        await provider.aclose()

    run(after_restart())
    message = second.get_message(mid)
    assert message is not None and message.content == demo_reply(prompt, 200)
    second.close()


_NOMSG = type("M", (), {"content": ""})()


@pytest.mark.parametrize("kind", [ProviderKind.OPENAI_CHAT, ProviderKind.ANTHROPIC])
def test_non_resumable_stream_left_streaming_becomes_interrupted(
    store: Store, demo: DemoServer, kind: ProviderKind
) -> None:
    _, mid = new_reply(store, "cut by a crash")
    store.flush_streaming(
        [
            _flush(mid, "Partial text that was on disk."),
        ]
    )

    async def scenario() -> None:
        manager = StreamManager(store)
        provider = make_provider(demo, kind)
        report = await manager.recover(lambda message: provider)
        assert report.interrupted == (mid,)
        await manager.shutdown()
        await provider.aclose()

    run(scenario())
    message = store.get_message(mid)
    assert message is not None
    assert message.status is MessageStatus.INTERRUPTED
    assert message.reason == InterruptReason.APP_QUIT.value
    assert message.content == "Partial text that was on disk."


def _flush(mid: int, text: str):  # type: ignore[no-untyped-def]
    from desktop.store import StreamFlush

    return StreamFlush(
        message_id=mid,
        append_text=text,
        status=MessageStatus.STREAMING,
        cursor=None,
        input_tokens=None,
        output_tokens=None,
        model=None,
    )


ERROR_CASES = [
    # (kind, knobs, expected status, words the message must contain)
    (ProviderKind.OPENAI_CHAT, {"status": 401}, MessageStatus.FAILED, ["API key"]),
    (ProviderKind.ANTHROPIC, {"status": 401}, MessageStatus.FAILED, ["API key"]),
    (
        ProviderKind.OPENAI_CHAT,
        {"status": 429, "retry_after": 7},
        MessageStatus.FAILED,
        ["Rate limited", "7"],
    ),
    (ProviderKind.OPENAI_RESPONSES, {"status": 500}, MessageStatus.FAILED, ["server error"]),
    (ProviderKind.ANTHROPIC, {"status": 529}, MessageStatus.FAILED, ["overloaded"]),
    (ProviderKind.OPENAI_CHAT, {"status": 503}, MessageStatus.FAILED, ["overloaded"]),
    (ProviderKind.OPENAI_CHAT, {"status": 400}, MessageStatus.FAILED, ["rejected the request"]),
    (
        ProviderKind.OPENAI_CHAT,
        {"content_type": "text/html"},
        MessageStatus.FAILED,
        ["could not read", "text/html"],
    ),
    (ProviderKind.OPENAI_CHAT, {"malformed_after": 3}, MessageStatus.FAILED, ["could not read"]),
    (ProviderKind.ANTHROPIC, {"malformed_after": 3}, MessageStatus.FAILED, ["could not read"]),
    (
        ProviderKind.ANTHROPIC,
        {"error_event_after": 5},
        MessageStatus.FAILED,
        ["overloaded"],
    ),
    (ProviderKind.OPENAI_CHAT, {"error_event_after": 5}, MessageStatus.FAILED, []),
    (ProviderKind.OPENAI_CHAT, {"cut_after": 10}, MessageStatus.INTERRUPTED, []),
    (ProviderKind.ANTHROPIC, {"cut_after": 0}, MessageStatus.FAILED, ["connection"]),
    (ProviderKind.OPENAI_CHAT, {"stall_after": 5}, MessageStatus.INTERRUPTED, []),
    # Silent before the first token: the first-token wait, not the read timeout (issue 15).
    (ProviderKind.OPENAI_CHAT, {"stall_after": 0}, MessageStatus.FAILED, ["sent nothing"]),
    (ProviderKind.ANTHROPIC, {"never_answer": 1}, MessageStatus.FAILED, ["sent nothing"]),
]


def test_a_reply_whose_final_state_is_being_written_no_longer_counts_as_streaming(
    demo: DemoServer, store: Store
) -> None:
    """Quitting then cuts nothing: the app asks only about replies still receiving."""
    sid, mid = new_reply(store, "ending")

    async def scenario() -> None:
        manager = StreamManager(store)
        ended = Ended(manager)
        provider = make_provider(demo, ProviderKind.OPENAI_CHAT, tokens=5, rate=0)
        writer_free = threading.Event()
        held = asyncio.ensure_future(manager.run_store(writer_free.wait))  # the writer is busy
        try:
            manager.start_reply(sid, mid, provider, request("ending"))
            assert manager.streaming_count() == 1
            await wait_for(lambda: manager.streaming_count() == 0, 10, "the reply to end")
            assert manager.live_count() == 1 and manager.is_live(sid)  # final write queued
            message = store.get_message(mid)
            assert message is not None and message.status is MessageStatus.STREAMING
        finally:
            writer_free.set()
            await held
        await wait_ended(ended, mid)
        assert manager.live_count() == 0
        message = store.get_message(mid)
        assert message is not None and message.status is MessageStatus.COMPLETE
        await manager.shutdown()
        await provider.aclose()

    run(scenario())


@pytest.mark.parametrize(("kind", "knobs", "status", "words"), ERROR_CASES)
def test_each_error_ends_in_a_clear_state(
    demo: DemoServer,
    store: Store,
    kind: ProviderKind,
    knobs: dict[str, object],
    status: MessageStatus,
    words: list[str],
) -> None:
    prompt = f"error {knobs}"
    sid, mid = new_reply(store, prompt)

    async def scenario() -> StreamEnded:
        manager = StreamManager(store, resume_backoff=())
        ended = Ended(manager)
        provider = make_provider(
            demo, kind, read_timeout=0.5, first_token_wait=1.0, rate=200, tokens=50, **knobs
        )
        manager.start_reply(sid, mid, provider, request(prompt))
        result = await wait_ended(ended, mid)
        assert manager.live_count() == 0
        await manager.shutdown()
        await provider.aclose()
        return result

    result = run(scenario())
    assert result.status is status, result
    message = store.get_message(mid)
    assert message is not None and message.status is status
    if status is MessageStatus.FAILED:
        assert message.error
        for word in words:
            assert word.lower() in message.error.lower(), message.error
    else:
        assert message.reason in (
            InterruptReason.CONNECTION_LOST.value,
            InterruptReason.STALLED.value,
        )
        assert message.content and demo_reply(prompt, 50).startswith(message.content)


def test_connection_refused_fails_clearly(store: Store) -> None:
    sid, mid = new_reply(store, "nobody home")

    async def scenario() -> StreamEnded:
        manager = StreamManager(store)
        ended = Ended(manager)
        provider = create_provider(
            ProviderConfig(ProviderKind.OPENAI_CHAT, "http://127.0.0.1:9/v1", api_key="k")
        )
        manager.start_reply(sid, mid, provider, request("hi"))
        result = await wait_ended(ended, mid)
        await manager.shutdown()
        await provider.aclose()
        return result

    result = run(scenario())
    assert result.status is MessageStatus.FAILED
    assert result.error and "connect" in result.error.lower()


def test_shutdown_interrupts_live_streams_and_keeps_their_text(
    demo: DemoServer, store: Store
) -> None:
    sid, mid = new_reply(store, "quit while streaming")

    async def scenario() -> None:
        manager = StreamManager(store)
        provider = make_provider(demo, ProviderKind.OPENAI_CHAT, rate=100, tokens=1000)
        manager.start_reply(sid, mid, provider, request("quit while streaming"))
        await wait_for(lambda: len((manager.snapshot(sid) or _EMPTY).text) > 20, 10, "text")
        text_now = (manager.snapshot(sid) or _EMPTY).text
        await manager.shutdown()
        message = store.get_message(mid)
        assert message is not None
        assert message.content.startswith(text_now)
        assert manager.task_count() == 0
        await provider.aclose()

    run(scenario())
    message = store.get_message(mid)
    assert message is not None
    assert message.status is MessageStatus.INTERRUPTED
    assert message.reason == InterruptReason.APP_QUIT.value
    assert demo.wait_until(lambda: demo.open_connections == 0, timeout=2.0)


def test_many_streams_leave_nothing_behind(demo: DemoServer, store: Store) -> None:
    async def scenario() -> None:
        manager = StreamManager(store, limit=5)
        ended = Ended(manager)
        provider = make_provider(demo, ProviderKind.OPENAI_CHAT, tokens=30)
        mids = []
        for i in range(40):
            sid, mid = new_reply(store, f"many {i}")
            mids.append(mid)
            manager.start_reply(sid, mid, provider, request(f"many {i}"))
            if i % 3 == 0:
                manager.stop(sid)
            await asyncio.sleep(0)
        await wait_for(lambda: all(ended.of(m) for m in mids), 30, "all ended")
        assert manager.live_count() == 0
        assert manager.listener_count() == 0
        await manager.shutdown()
        assert manager.task_count() == 0
        await provider.aclose()

    run(scenario())
    assert demo.wait_until(lambda: demo.open_connections == 0, timeout=3.0)
