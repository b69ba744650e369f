"""A reply cut off by a quit or crash is found by its partial text once the
start-up recovery settles it (issue 17: interrupted replies are indexed)."""

from __future__ import annotations

from desktop.core.models import ProviderKind
from desktop.core.states import MessageStatus
from desktop.providers.demo.server import DemoServer
from desktop.store import Store, StreamFlush
from desktop.streaming.manager import StreamManager
from tests.integration.streaming.test_manager import make_provider, new_reply
from tests.support.aio import run


def test_a_reply_interrupted_by_a_crash_is_found_by_its_partial_text(
    store: Store, demo: DemoServer
) -> None:
    session_id, mid = new_reply(store, "cut by a crash")
    store.flush_streaming([StreamFlush(mid, "Partial text about aardvarks")])
    assert store.search("aardvark", 10) == []

    async def scenario() -> None:
        manager = StreamManager(store)
        provider = make_provider(demo, ProviderKind.OPENAI_CHAT)
        report = await manager.recover(lambda message: provider)
        assert report.interrupted == (mid,)
        await manager.shutdown()
        await provider.aclose()

    run(scenario())
    message = store.get_message(mid)
    assert message is not None and message.status is MessageStatus.INTERRUPTED
    assert [(h.session_id, h.message_id) for h in store.search("aardvark", 10)] == [
        (session_id, mid)
    ]
