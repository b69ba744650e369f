"""A chat's system prompt and parameters, presets, and plain titles, on the real
services and the demo server (what reaches the wire is read from the server's log)."""

from __future__ import annotations

import json
from pathlib import Path

import keyring.backends.null
import pytest

from desktop.core.models import GenerationParams
from desktop.providers.demo.server import DemoServer
from desktop.services import Services
from desktop.services.chat import ChatActionError
from desktop.services.chat_presets import PresetError
from desktop.store import KeyStore, Store
from tests.support.aio import run, wait_for
from tests.support.services import services_on


def open_services(tmp_path: Path, demo: DemoServer) -> Services:
    keys = KeyStore(backend=keyring.backends.null.Keyring())  # type: ignore[no-untyped-call]
    return services_on(demo, Store.open(tmp_path / "data"), keys)


def last_body(demo: DemoServer) -> dict:  # type: ignore[type-arg]
    posts = [r for r in demo.requests if r.method == "POST"]
    body = posts[-1].body
    return body if isinstance(body, dict) else json.loads(body)  # type: ignore[no-any-return]


def test_a_chats_system_prompt_and_parameters_reach_the_wire(
    tmp_path: Path, demo: DemoServer
) -> None:
    services = open_services(tmp_path, demo)
    chat = services.chat

    async def scenario() -> None:
        session = chat.create_chat()
        chat.set_chat_settings(
            session.id,
            "  You answer in haiku.  ",
            GenerationParams(temperature=0.3, top_p=0.9, max_output_tokens=50),
        )
        with pytest.raises(ChatActionError, match=r"[Tt]emperature"):
            chat.set_chat_settings(session.id, "", GenerationParams(temperature=5))
        await chat.send(session.id, "Write about rain")
        await wait_for(lambda: not services.manager.is_live(session.id), 20, "the reply")
        body = last_body(demo)  # the demo provider speaks Responses
        assert body["instructions"] == "You answer in haiku."
        assert (body["temperature"], body["top_p"], body["max_output_tokens"]) == (0.3, 0.9, 50)
        stored = chat.chat(session.id)
        assert stored is not None and stored.params.temperature == 0.3
        await services.aclose()

    run(scenario())


def test_a_new_chat_starts_from_the_default_preset_and_a_chat_becomes_one(
    tmp_path: Path, demo: DemoServer
) -> None:
    services = open_services(tmp_path, demo)
    presets, chat = services.presets, services.chat

    async def scenario() -> None:
        plain = chat.create_chat()
        assert (plain.system_prompt, plain.preset_id) == ("", None)
        tutor = presets.add(
            "Tutor", "Explain like a patient teacher.", None, "", GenerationParams(temperature=0.2)
        )
        with pytest.raises(PresetError, match="already a preset"):
            presets.add("tutor")
        with pytest.raises(PresetError, match="needs a name"):
            presets.add("   ")
        presets.set_default(tutor.id)
        started = chat.create_chat()
        assert started.system_prompt == "Explain like a patient teacher."
        assert started.params.temperature == 0.2 and started.preset_id == tutor.id
        assert started.provider_id == services.directory.default_provider().id

        chat.set_chat_settings(started.id, "Be brief.", GenerationParams(max_output_tokens=99))
        kept = presets.from_chat(started.id, "Brief")
        assert (kept.system_prompt, kept.params.max_output_tokens) == ("Be brief.", 99)
        assert [p.name for p in presets.presets()] == ["Brief", "Tutor"]

        await presets.remove(tutor.id)  # the default: new chats start from none again
        assert presets.default_preset() is None
        with pytest.raises(PresetError, match="no longer exists"):
            presets.update(tutor)  # an editor still open on it is told, not silently ignored
        assert [p.name for p in presets.presets()] == ["Brief"]
        again = services.store.get_session(started.id)
        assert again is not None and again.preset_id is None and again.system_prompt == "Be brief."
        assert chat.create_chat().system_prompt == ""
        await services.aclose()

    run(scenario())


@pytest.mark.parametrize(
    ("first", "title"),
    [
        ("**Bold** idea with `code`", "Bold idea with code"),
        ("# A heading\nand more", "A heading and more"),
        ("[the docs](https://example.com) say so", "the docs say so"),
    ],
)
def test_a_chat_is_titled_in_plain_text(
    tmp_path: Path, demo: DemoServer, first: str, title: str
) -> None:
    services = open_services(tmp_path, demo)
    chat = services.chat

    async def scenario() -> None:
        session = chat.create_chat()
        await chat.send(session.id, first)
        await wait_for(lambda: not services.manager.is_live(session.id), 20, "the reply")
        titled = chat.chat(session.id)
        assert titled is not None and titled.title == title
        await services.aclose()

    run(scenario())
