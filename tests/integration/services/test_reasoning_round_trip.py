"""Reasoning through the app's services: stored, sent back to Anthropic unchanged,
exported; and the first-token wait as a setting (issue 15).

The real services run on a real Store against the demo server, which signs
its thinking blocks and refuses (HTTP 400, as the Messages API does) a
thinking block that comes back changed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import keyring.backends.null
import pytest

from desktop.core.models import ProviderKind, ReasoningBlock
from desktop.core.states import FinishReason, MessageStatus, Role
from desktop.export import export_json, export_markdown
from desktop.providers.demo.options import DemoOptions
from desktop.providers.demo.replies import demo_reasoning, thinking_signature
from desktop.providers.demo.server import DemoServer
from desktop.services import Services, build_services
from desktop.services.settings import SettingsError
from desktop.store import KeyStore, Store
from desktop.streaming.events import Callbacks, StreamEnded
from tests.support.aio import run, wait_for


@pytest.fixture
def services(demo: DemoServer, store: Store) -> Iterator[Services]:
    built = build_services(store, KeyStore(keyring.backends.null.Keyring()), demo=demo)
    built.demo = None  # the session's demo server outlives the test
    yield built


async def reply_to(services: Services, session_id: int, text: str) -> StreamEnded:
    ends: list[StreamEnded] = []
    listener = Callbacks(ended=ends.append)
    services.manager.attach(None, listener)
    try:
        await services.chat.send(session_id, text)
        await wait_for(lambda: bool(ends), 20, "the reply")
    finally:
        services.manager.detach(None, listener)
    return ends[0]


def test_anthropic_thinking_goes_back_signed_in_the_next_turn(
    demo: DemoServer, services: Services
) -> None:
    demo.defaults = DemoOptions(rate=0, tokens=15, reasoning=12)
    store = services.store
    stored = store.add_provider(
        "Claude (demo)", ProviderKind.ANTHROPIC, demo.anthropic_base_url, "sidestream-demo"
    )
    chat = services.chat.create_chat("thinking", stored.id, "sidestream-demo")

    async def scenario() -> tuple[StreamEnded, StreamEnded]:
        try:
            first = await reply_to(services, chat.id, "What is 17 × 23?")
            demo.clear_log()
            second = await reply_to(services, chat.id, "And 17 × 24?")
            return first, second
        finally:
            await services.manager.shutdown()
            await services.directory.aclose()

    first, second = run(scenario())
    reasoning = demo_reasoning("What is 17 × 23?", 12)
    assert first.status is MessageStatus.COMPLETE and first.reasoning == reasoning
    message = store.get_message(first.message_id)
    assert message is not None
    block = ReasoningBlock.signed(reasoning, thinking_signature(reasoning))
    assert message.reasoning_blocks == (block,)

    # The next request carries the block, unchanged, before the reply's text;
    # the demo checked its signature and answered.
    [sent] = [r for r in demo.requests if r.path == "/v1/messages"]
    assistant = sent.body["messages"][1]
    assert assistant == {
        "role": "assistant",
        "content": [block.to_json(), {"type": "text", "text": message.content}],
    }
    assert second.status is MessageStatus.COMPLETE, second.error


def test_a_changed_thinking_block_is_refused_as_the_api_does(
    demo: DemoServer, services: Services
) -> None:
    demo.defaults = DemoOptions(rate=0, tokens=10, reasoning=5)
    store = services.store
    stored = store.add_provider(
        "Claude (demo)", ProviderKind.ANTHROPIC, demo.anthropic_base_url, "sidestream-demo"
    )
    chat = services.chat.create_chat("tampered", stored.id, "sidestream-demo")

    async def scenario() -> StreamEnded:
        try:
            first = await reply_to(services, chat.id, "Think.")
            # Someone edits the stored reasoning block: its signature no longer fits.
            store._db.execute_sql(
                "UPDATE messages SET reasoning_blocks = replace(reasoning_blocks, 'The', 'A')"
                " WHERE id = ?",
                (first.message_id,),
            )
            return await reply_to(services, chat.id, "Again.")
        finally:
            await services.manager.shutdown()
            await services.directory.aclose()

    second = run(scenario())
    assert second.status is MessageStatus.FAILED
    assert second.error is not None and "Invalid `signature`" in second.error


def test_reasoning_finish_and_usage_are_exported(demo: DemoServer, services: Services) -> None:
    demo.defaults = DemoOptions(rate=0, tokens=12, reasoning=6, finish="length")
    chat = services.chat.create_chat()  # the demo provider (Responses)

    async def scenario() -> StreamEnded:
        try:
            return await reply_to(services, chat.id, "Export me")
        finally:
            await services.manager.shutdown()
            await services.directory.aclose()

    ended = run(scenario())
    assert ended.finish is FinishReason.LENGTH
    exported = json.loads(export_json(services.store))
    [exported_chat] = exported["chats"]
    reply = exported_chat["messages"][-1]
    assert reply["reasoning"] == demo_reasoning("Export me", 6)
    assert reply["finish"] == "length"
    assert reply["usage"] == {"input_tokens": ended.input_tokens, "output_tokens": 18}
    assert "reasoning_seconds" in reply
    user = exported_chat["messages"][0]
    assert user["role"] == "user" and "reasoning" not in user and "finish" not in user

    markdown = export_markdown(services.store)
    assert "<summary>Thought for" in markdown
    assert "> " + demo_reasoning("Export me", 6) in markdown
    assert "> Finished: length. The reply was cut off at its length limit (max tokens)." in (
        markdown
    )
    assert f"_{ended.input_tokens} input tokens, 18 output tokens_" in markdown


def test_the_first_token_wait_is_a_setting_every_new_reply_uses(
    services: Services,
) -> None:
    settings = services.settings
    assert settings.first_token_wait == 600.0
    provider, _ = services.directory.provider(None)
    assert provider.config.first_token_wait == 600.0
    settings.set_first_token_wait(90)
    assert settings.first_token_wait == 90.0
    provider, _ = services.directory.provider(None)
    assert provider.config.first_token_wait == 90.0
    assert services.store.get_setting("first_token_wait") == 90.0
    for wrong in (0, 5, 2 * 24 * 3600):
        with pytest.raises(SettingsError):
            settings.set_first_token_wait(wrong)
    run(services.directory.aclose())


def test_a_stored_reply_of_another_model_goes_without_its_blocks(
    demo: DemoServer, services: Services
) -> None:
    demo.defaults = DemoOptions(rate=0, tokens=8, reasoning=4)
    store = services.store
    stored = store.add_provider(
        "Claude (demo)", ProviderKind.ANTHROPIC, demo.anthropic_base_url, "sidestream-demo"
    )
    chat = services.chat.create_chat("switch", stored.id, "sidestream-demo")

    async def scenario() -> StreamEnded:
        try:
            await reply_to(services, chat.id, "First.")
            services.chat.set_chat_model(chat.id, stored.id, "sidestream-demo-mini")
            demo.clear_log()
            return await reply_to(services, chat.id, "Second.")
        finally:
            await services.manager.shutdown()
            await services.directory.aclose()

    second = run(scenario())
    assert second.status is MessageStatus.COMPLETE
    [sent] = [r for r in demo.requests if r.path == "/v1/messages"]
    assistant = sent.body["messages"][1]
    assert assistant["role"] == Role.ASSISTANT.value
    assert isinstance(assistant["content"], str)  # another model's signatures stay home
