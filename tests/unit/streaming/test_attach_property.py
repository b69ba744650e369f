"""Property: whatever the interleaving of attach, detach, deltas and the end,
every listener sees the text so far at attach and then each later delta
exactly once (no gap, no duplicate), and the store ends with the whole text."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from desktop.core.events import Finished, StreamEvent, TextDelta
from desktop.core.models import ChatRequest, ProviderConfig, ProviderKind, RemoteStatus
from desktop.core.states import MessageStatus, Role
from desktop.store import Store
from desktop.streaming.events import StreamListener, StreamSnapshot
from desktop.streaming.manager import StreamManager
from tests.support.aio import run


class SteppedProvider:
    """A provider the test drives one event at a time.

    ``queue.join()`` returns once the manager has fully handled every event
    put so far: the generator marks an event done only when it is asked for
    the next one.
    """

    def __init__(self) -> None:
        self.config = ProviderConfig(ProviderKind.OPENAI_CHAT, "stepped://")
        self.queue: asyncio.Queue[StreamEvent] = asyncio.Queue()

    @property
    def resumable(self) -> bool:
        return False

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        while True:
            event = await self.queue.get()
            try:
                yield event
            finally:
                self.queue.task_done()
            if isinstance(event, Finished):
                return

    def resume(self, cursor: str, *, started: bool = False) -> AsyncIterator[StreamEvent]:
        raise NotImplementedError

    async def status(self, cursor: str) -> RemoteStatus | None:
        return None

    async def cancel(self, cursor: str) -> None:
        return None

    async def list_models(self) -> list[str]:
        return []

    async def aclose(self) -> None:
        return None


class View(StreamListener):
    def __init__(self) -> None:
        self.text = ""
        self.attached = False

    def on_stream_started(self, snapshot: StreamSnapshot) -> None:
        self.text = snapshot.text

    def on_stream_delta(self, message_id: int, text: str) -> None:
        assert self.attached, "a delta reached a detached view"
        self.text += text

    def on_stream_reasoning(self, message_id: int, text: str) -> None:
        pass

    def on_stream_status(self, snapshot: StreamSnapshot) -> None:
        pass


_runs = itertools.count()

ops = st.lists(
    st.one_of(
        st.tuples(st.just("delta"), st.text(min_size=1, max_size=8)),
        st.tuples(st.just("attach"), st.integers(0, 2)),
        st.tuples(st.just("detach"), st.integers(0, 2)),
        st.tuples(st.just("flush"), st.just(0)),
    ),
    max_size=60,
)


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(script=ops)
def test_attach_detach_interleavings_lose_and_repeat_nothing(
    tmp_path: Path, script: list[tuple[str, object]]
) -> None:
    store = Store.open(tmp_path / f"run{next(_runs)}")
    session = store.create_session("property")
    message = store.add_message(session.id, Role.ASSISTANT, "", status=MessageStatus.STREAMING)
    views = [View(), View(), View()]

    async def scenario() -> str:
        manager = StreamManager(store, flush_interval=3600)
        provider = SteppedProvider()
        manager.start_reply(session.id, message.id, provider, _request())
        sent = ""
        for op, arg in script:
            if op == "delta":
                assert isinstance(arg, str)
                sent += arg
                provider.queue.put_nowait(TextDelta(arg))
                await provider.queue.join()
            elif op == "attach":
                assert isinstance(arg, int)
                view = views[arg]
                if not view.attached:
                    view.attached = True
                    snap = manager.attach(session.id, view)
                    assert snap is not None
                    view.text = snap.text
                else:
                    manager.attach(session.id, view)  # idempotent
            elif op == "detach":
                assert isinstance(arg, int)
                view = views[arg]
                manager.detach(session.id, view)
                view.attached = False
            else:
                await manager.flush_now()
            for view in views:
                if view.attached:
                    assert view.text == sent
            assert manager.listener_count() == sum(v.attached for v in views)
        provider.queue.put_nowait(Finished("stop"))
        await provider.queue.join()
        await manager.shutdown()
        return sent

    sent = run(scenario())
    for view in views:
        if view.attached:
            assert view.text == sent
    stored = store.get_message(message.id)
    assert stored is not None
    assert stored.content == sent
    assert stored.status is MessageStatus.COMPLETE
    store.close()


def _request() -> ChatRequest:
    return ChatRequest(model="m", turns=())


@given(st.text(max_size=30), st.text(max_size=30), st.text(max_size=30))
def test_overlap_finds_the_longest_suffix_prefix(a: str, b: str, c: str) -> None:
    from desktop.streaming.stream import overlap

    text, continuation = a + b, b + c
    k = overlap(text, continuation)
    assert k >= len(b)
    assert text.endswith(continuation[:k])
    assert not any(
        text.endswith(continuation[:j]) for j in range(k + 1, min(len(text), len(continuation)) + 1)
    )
