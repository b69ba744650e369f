"""Edit, regenerate and switch versions on the real services and the demo server:
nothing is replaced, every version stays one switch away, and each reply is
generated from exactly the path above it."""

from __future__ import annotations

from pathlib import Path

import keyring.backends.null
import pytest

from desktop.core.states import MessageStatus, Role
from desktop.providers.demo.options import DemoOptions
from desktop.providers.demo.server import DemoServer, demo_reply
from desktop.services import Services
from desktop.services.chat import ChatActionError
from desktop.store import KeyStore, Store
from tests.support.aio import run, wait_for
from tests.support.services import services_on


def open_services(tmp_path: Path, demo: DemoServer) -> Services:
    keys = KeyStore(backend=keyring.backends.null.Keyring())  # type: ignore[no-untyped-call]
    return services_on(demo, Store.open(tmp_path / "data"), keys)


async def settled(services: Services, session_id: int) -> None:
    await wait_for(lambda: not services.manager.is_live(session_id), 20, "the reply to end")


def test_regenerate_edit_and_switch_keep_every_version(tmp_path: Path, demo: DemoServer) -> None:
    services = open_services(tmp_path, demo)
    chat = services.chat

    async def scenario() -> None:
        session = chat.create_chat()
        await chat.send(session.id, "first question")
        await settled(services, session.id)
        question, reply = chat.messages(session.id)

        again = await chat.retry(reply.id)
        await settled(services, session.id)
        third = await chat.retry(again.id)
        await settled(services, session.id)
        path = chat.messages(session.id)
        assert [m.id for m in path] == [question.id, third.id]
        assert chat.versions(session.id)[third.id] == (reply.id, again.id, third.id)
        for version in (reply.id, again.id, third.id):
            stored = chat.message(version)
            assert stored is not None and stored.status is MessageStatus.COMPLETE
            assert stored.content == demo_reply("first question", 60)

        # A follow-up, then edit the first question: a new branch from the top.
        await chat.send(session.id, "second question")
        await settled(services, session.id)
        edited = await chat.edit(question.id, "first question, edited")
        await settled(services, session.id)
        path = chat.messages(session.id)
        assert path[0].content == "first question, edited"
        assert len(path) == 2 and path[1].parent_id == edited.parent_id == path[0].id
        assert path[1].content == demo_reply("first question, edited", 60)
        assert chat.versions(session.id)[path[0].id] == (question.id, path[0].id)

        # Back to the original question: its newest path, follow-up included.
        await chat.switch_version(path[0].id, question.id)
        shown = [m.content for m in chat.messages(session.id)]
        assert shown[0] == "first question" and shown[2] == "second question"
        assert chat.messages(session.id)[1].id == third.id

        # Each version was generated from the path above it, no other branch.
        requests = [r for r in demo.requests if r.method == "POST"]
        bodies = [r.body for r in requests[-2:]]
        assert b"second question" not in bodies[-1]  # the edit saw only its own path
        await services.aclose()

    run(scenario())


def test_only_your_own_messages_can_be_edited(tmp_path: Path, demo: DemoServer) -> None:
    services = open_services(tmp_path, demo)
    chat = services.chat

    async def scenario() -> None:
        session = chat.create_chat()
        await chat.send(session.id, "q")
        await settled(services, session.id)
        reply = chat.messages(session.id)[-1]
        assert reply.role is Role.ASSISTANT
        for bad in (lambda: chat.edit(reply.id, "x"), lambda: chat.edit(reply.id, " ")):
            try:
                await bad()
            except Exception as exc:
                assert "own messages" in str(exc) or "Type a message" in str(exc)
            else:
                raise AssertionError("an assistant reply was edited")
        await services.aclose()

    run(scenario())


def test_edit_while_the_reply_streams_keeps_both_replies(tmp_path: Path, demo: DemoServer) -> None:
    """An edit while the original's reply still streams: both replies stream at
    once, each on its own branch, both complete and are kept; Stop and Send act
    on the branch shown, never on the hidden one."""
    demo.defaults = DemoOptions(rate=100, tokens=150)
    services = open_services(tmp_path, demo)
    chat = services.chat
    manager = services.manager

    async def scenario() -> None:
        session = chat.create_chat()
        first = await chat.send(session.id, "the question")
        question = chat.messages(session.id)[0]
        await wait_for(lambda: (manager.text_length(session.id, first.id) or 0) > 0, 20, "text")

        second = await chat.edit(question.id, "the question, better put")
        assert manager.live_messages(session.id) == [first.id, second.id]
        assert chat.live_on_path(session.id) == second.id
        # The branch shown has a live reply: a send waits for it.
        with pytest.raises(ChatActionError, match="still streaming"):
            await chat.send(session.id, "too soon")

        await settled(services, session.id)
        for reply, asked in ((first, "the question"), (second, "the question, better put")):
            stored = chat.message(reply.id)
            assert stored is not None and stored.status is MessageStatus.COMPLETE
            assert stored.content == demo_reply(asked, 150)
        path = chat.messages(session.id)
        assert [m.id for m in path] == [path[0].id, second.id]
        await chat.switch_version(path[0].id, question.id)
        assert [m.id for m in chat.messages(session.id)] == [question.id, first.id]
        await services.aclose()

    run(scenario())


def test_stop_and_send_act_on_the_branch_shown(tmp_path: Path, demo: DemoServer) -> None:
    demo.defaults = DemoOptions(rate=50, tokens=2000)
    services = open_services(tmp_path, demo)
    chat = services.chat
    manager = services.manager

    async def scenario() -> None:
        session = chat.create_chat()
        hidden = await chat.send(session.id, "a long one")
        question = chat.messages(session.id)[0]
        shown = await chat.edit(question.id, "another long one")
        # Stop stops the reply shown; the hidden branch goes on.
        assert chat.stop(session.id)
        await wait_for(lambda: not manager.is_message_live(shown.id), 20, "the stop")
        assert manager.is_message_live(hidden.id)
        assert chat.live_on_path(session.id) is None
        # Nothing streams on the path shown: a follow-up may go, beside the hidden reply.
        follow_up = await chat.send(session.id, "and then?")
        assert manager.live_messages(session.id) == [hidden.id, follow_up.id]
        # Some of its text first (a loaded machine may not have sent a token yet).
        await wait_for(
            lambda: (manager.text_length(session.id, hidden.id) or 0) > 0, 20, "hidden text"
        )
        assert chat.stop(session.id, hidden.id)
        await wait_for(lambda: not manager.is_message_live(hidden.id), 20, "the stop")
        assert manager.live_messages(session.id) == [follow_up.id]
        assert chat.stop(session.id)
        await settled(services, session.id)
        stored = chat.message(hidden.id)
        assert stored is not None and stored.status is MessageStatus.STOPPED
        assert stored.content  # its text is kept
        await services.aclose()

    run(scenario())
