"""Chat titles from the model, on the real services and the demo server."""

from __future__ import annotations

from pathlib import Path

import keyring.backends.null

from desktop.core.models import ProviderKind, StoredProvider
from desktop.providers.demo.server import DemoOptions, DemoServer, demo_reply
from desktop.services import Services
from desktop.services.chat import title_from
from desktop.services.directory import DEMO_BASE_URL
from desktop.services.titles import PROMPT, clean_title, costs_nothing
from desktop.store import KeyStore, Store
from tests.support.aio import run, wait_for
from tests.support.services import services_on


def open_services(tmp_path: Path, demo: DemoServer) -> Services:
    keys = KeyStore(backend=keyring.backends.null.Keyring())  # type: ignore[no-untyped-call]
    return services_on(demo, Store.open(tmp_path / "data"), keys)


def provider(base_url: str) -> StoredProvider:
    return StoredProvider(1, "p", ProviderKind.OPENAI_CHAT, base_url, "m")


def test_only_local_servers_cost_nothing() -> None:
    for url in ("http://127.0.0.1:8080/v1", "http://localhost:11434/v1", "http://192.168.1.5/v1"):
        assert costs_nothing(provider(url)), url
    for url in ("https://api.openai.com/v1", "https://api.anthropic.com", DEMO_BASE_URL):
        assert not costs_nothing(provider(url)), url


def test_the_models_answer_is_made_a_plain_short_title() -> None:
    assert clean_title('"**Sourdough** basics."\nmore') == "Sourdough basics"
    assert clean_title("Title: Rust lifetimes") == "Rust lifetimes"
    assert clean_title("\n\n") == ""
    assert len(clean_title("word " * 40)) == 48


def test_a_chat_is_named_by_its_model_after_its_first_reply_when_asked(
    tmp_path: Path, demo: DemoServer
) -> None:
    demo.defaults = DemoOptions(rate=0, tokens=8)
    services = open_services(tmp_path, demo)
    chat, titles = services.chat, services.titles
    renamed: list[int] = []
    titles.subscribe(renamed.append)

    async def scenario() -> None:
        # The default: never asked (and no task started).
        quiet = chat.create_chat()
        await chat.send(quiet.id, "How do I bake bread?")
        await wait_for(lambda: not services.manager.is_live(quiet.id), 20, "the reply")
        assert titles.pending() == 0
        assert chat.chat(quiet.id).title == "How do I bake bread?"  # type: ignore[union-attr]

        titles.set_choice("always")
        session = chat.create_chat()
        await chat.send(session.id, "Explain **FTS5** briefly")
        await wait_for(lambda: bool(renamed), 20, "the model's title")
        expected = clean_title(demo_reply(PROMPT + "Explain **FTS5** briefly", 8))
        assert chat.chat(session.id).title == expected  # type: ignore[union-attr]
        assert renamed == [session.id]
        # Only the first exchange: a second reply leaves the title alone.
        await chat.send(session.id, "And more?")
        await wait_for(lambda: not services.manager.is_live(session.id), 20, "the reply")
        await wait_for(lambda: titles.pending() == 0, 20, "the title task")
        assert renamed == [session.id]

        # A chat the user renamed before its reply ended keeps the user's title.
        mine = chat.create_chat()
        await chat.send(mine.id, "Name me not")
        chat.rename_chat(mine.id, "My own title")
        await wait_for(lambda: not services.manager.is_live(mine.id), 20, "the reply")
        await wait_for(lambda: titles.pending() == 0, 20, "the title task")
        assert chat.chat(mine.id).title == "My own title"  # type: ignore[union-attr]
        assert title_from("Name me not") != "My own title"

        # "local": the demo's scripted replies are not asked.
        titles.set_choice("local")
        local = chat.create_chat()
        await chat.send(local.id, "Scripted?")
        await wait_for(lambda: not services.manager.is_live(local.id), 20, "the reply")
        await wait_for(lambda: titles.pending() == 0, 20, "the title task")
        assert chat.chat(local.id).title == "Scripted?"  # type: ignore[union-attr]
        await services.aclose()

    run(scenario())
