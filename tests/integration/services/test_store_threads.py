"""Which thread writes to the store (the rule in ``desktop.services``), checked
on the real services against the demo server: a reply's writes and everything
ordered with them run on the writer thread; single-row edits a person makes
run on the caller's (the GUI) thread."""

from __future__ import annotations

import ast
import inspect
import textwrap
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keyring.backends.null
import pytest

from desktop.core.states import MessageStatus, Role
from desktop.providers.demo.server import DemoServer
from desktop.services import Services
from desktop.store import KeyStore, Store
from tests.support.aio import run, wait_for
from tests.support.services import services_on

WRITER_THREAD = "sidestream-store"  # the prefix of the StreamManager's writer thread

STORE_WRITES = (
    "create_session",
    "rename_session",
    "set_session_model",
    "set_session_settings",
    "add_preset",
    "update_preset",
    "delete_preset",
    "set_muted",
    "set_unread",
    "set_pinned",
    "set_archived",
    "set_folder",
    "rename_folder",
    "touch_session",
    "delete_session",
    "add_message",
    "set_active_leaf",
    "show_branch",
    "delete_message",
    "update_message_status",
    "flush_streaming",
    "finish_message",
    "add_provider",
    "update_provider",
    "delete_provider",
    "set_setting",
    "import_chats",
)


def _recorded(name: str) -> Callable[..., Any]:
    original = getattr(Store, name)

    def method(self: RecordingStore, *args: Any, **kwargs: Any) -> Any:
        self.writes.append((name, threading.current_thread().name))
        return original(self, *args, **kwargs)

    return method


class RecordingStore(Store):
    """A store that notes which thread ran each write."""

    writes: list[tuple[str, str]]

    def take(self) -> list[tuple[str, str]]:
        taken, self.writes[:] = list(self.writes), []
        return taken


for _name in STORE_WRITES:
    setattr(RecordingStore, _name, _recorded(_name))


def test_the_recording_store_sees_every_write() -> None:
    """Every Store method that opens a write transaction is in STORE_WRITES."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(Store)))
    (cls,) = tree.body
    assert isinstance(cls, ast.ClassDef)
    writers = {"_write"}
    methods = {f.name: f for f in cls.body if isinstance(f, ast.FunctionDef)}
    grew = True
    while grew:  # methods that call a writer are writers too (rename_session -> _update_session)
        calls = {
            name
            for name, f in methods.items()
            for node in ast.walk(f)
            if isinstance(node, ast.Attribute) and node.attr in writers
        }
        grew = not calls <= writers
        writers |= calls
    public = {name for name in writers if not name.startswith("_")}
    assert public == set(STORE_WRITES)


def _open(
    tmp_path: Path, demo: DemoServer, monkeypatch: pytest.MonkeyPatch
) -> tuple[RecordingStore, Services]:
    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY"):
        monkeypatch.delenv(name, raising=False)  # the demo is the only provider
    store = RecordingStore.open(tmp_path / "data")
    assert isinstance(store, RecordingStore)
    store.writes = []
    keys = KeyStore(backend=keyring.backends.null.Keyring())  # type: ignore[no-untyped-call]
    services = services_on(demo, store, keys)
    assert {name for name, _ in store.take()} == {"add_provider"}  # start-up: the demo's row
    return store, services


async def _settled(services: Services, session_id: int) -> None:
    await wait_for(lambda: not services.manager.is_live(session_id), what="the reply to end")


def _threads(writes: list[tuple[str, str]]) -> set[str]:
    return {"writer" if thread.startswith(WRITER_THREAD) else thread for _, thread in writes}


def test_replies_and_what_is_ordered_with_them_write_on_the_writer_thread(
    tmp_path: Path, demo: DemoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, services = _open(tmp_path, demo, monkeypatch)
    caller = threading.current_thread().name

    async def scenario() -> None:
        chat = services.chat
        session = chat.create_chat()
        assert store.take() == [("create_session", caller)]

        await chat.send(session.id, "Hello there")
        await _settled(services, session.id)
        sent = store.take()
        names = [name for name, _ in sent]
        assert names[:3] == ["add_message", "rename_session", "add_message"], names
        assert "finish_message" in names
        assert _threads(sent) == {"writer"}, sent

        reply = chat.messages(session.id)[-1]
        assert reply.role is Role.ASSISTANT and reply.status is MessageStatus.COMPLETE
        retried = await chat.retry(reply.id)  # a new version: the old one stays
        await _settled(services, session.id)
        writes = store.take()
        assert [name for name, _ in writes][:1] == ["add_message"], writes
        assert _threads(writes) == {"writer"}, writes

        # Editing a message adds a version of it; switching versions moves the leaf.
        user = chat.messages(session.id)[0]
        await chat.edit(user.id, "Hello again")
        await _settled(services, session.id)
        await chat.switch_version(user.id, user.id)
        writes = store.take()
        names = [name for name, _ in writes]
        assert names[:2] == ["add_message", "add_message"] and names[-1] == "set_active_leaf"
        assert _threads(writes) == {"writer"}, writes

        # A stopped reply (the test's own write), then Continue.
        await services.manager.run_store(
            store.finish_message, retried.id, "Partial", MessageStatus.STOPPED
        )
        store.take()
        await chat.continue_reply(retried.id)
        await _settled(services, session.id)
        writes = store.take()
        assert writes[0][0] == "update_message_status", writes
        assert _threads(writes) == {"writer"}, writes

        # Single-row edits a person makes and waits for: on the caller's thread.
        chat.rename_chat(session.id, "Renamed")
        chat.set_muted(session.id, True)
        chat.set_unread(session.id, True)
        chat.set_pinned(session.id, True)
        chat.set_archived(session.id, True)
        chat.set_folder(session.id, "Work")
        provider = services.directory.default_provider()
        chat.set_chat_model(session.id, provider.id, "other-model")
        services.settings.set_max_streams(3)
        services.settings.set_default_provider(provider.id)
        added, _ = services.settings.add_provider(
            "Local", provider.kind, "http://127.0.0.1:9/v1", "m"
        )
        await services.settings.update_provider(
            added.id, name="Local 2", kind=added.kind, base_url=added.base_url, default_model="m"
        )
        edits = store.take()
        assert len(edits) == 11, edits
        assert _threads(edits) == {caller}, edits

        # A folder renamed moves all its chats: the writer thread.
        assert await chat.rename_folder("Work", "Projects") == 1
        writes = store.take()
        assert [name for name, _ in writes] == ["rename_folder"], writes
        assert _threads(writes) == {"writer"}, writes

        # Deletes cascade (a chat's messages, a provider's chats): the writer thread.
        await services.settings.remove_provider(added.id)
        await chat.delete_chat(session.id)
        writes = store.take()
        assert [name for name, _ in writes] == ["delete_provider", "delete_session"], writes
        assert _threads(writes) == {"writer"}, writes

        await services.aclose()

    run(scenario())


def test_an_import_writes_on_the_writer_thread(
    tmp_path: Path, demo: DemoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, services = _open(tmp_path, demo, monkeypatch)
    fixture = Path(__file__).resolve().parents[2] / "fixtures" / "imports"

    async def scenario() -> None:
        report = await services.imports.import_file(fixture / "chatgpt_conversations.json")
        assert report.chats_added == 2
        writes = store.take()
        assert [name for name, _ in writes] == ["import_chats"], writes
        assert _threads(writes) == {"writer"}, writes
        await services.aclose()

    run(scenario())
