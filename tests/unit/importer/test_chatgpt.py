"""ChatGPT's data export into a real store: the tree kept (an edited question and
a regenerated answer stay branches), hidden and tool turns left out, reasoning
kept, and the same tree back out of ``sidestream export``."""

from __future__ import annotations

import json
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from desktop.core.states import FinishReason, MessageStatus, Role
from desktop.importer import read_import_file
from desktop.importer.chatgpt import UNTITLED
from desktop.store import Store
from tests.unit.importer.helpers import CHATGPT, dump, exported, import_path, tree, write_json

FEED = "How often should I feed my sourdough starter?"
ONCE = "Feed it once a day at room temperature."
COLD = (
    "In a cold kitchen, once every 24 hours is plenty; discard half, then add 50 g flour "
    "and 50 g water."
)
BUBBLY = "[image]\n\nIs this bubbly enough to bake with?"
YES = "Yes: lots of bubbles and a domed top mean it is ready."
DOUBLED = "Is it ready when it has doubled in size?"
MOSTLY = "Mostly, yes: doubling within 4 to 8 hours of a feed means it is ready."
SINE = "Plot sin(x) from 0 to 2π."
HERE = "Here is sin(x) over one period: it starts at 0, peaks at π/2 and returns to 0 at 2π."

# The sourdough chat's tree: (role, text, the text it follows), oldest first.
SOURDOUGH_TREE = [
    ("user", FEED, None),
    ("assistant", ONCE, FEED),  # the first answer...
    ("assistant", COLD, FEED),  # ...and its regenerated version
    ("user", BUBBLY, COLD),  # a question with an image...
    ("assistant", YES, BUBBLY),
    ("user", DOUBLED, COLD),  # ...and its edited version
    ("assistant", MOSTLY, DOUBLED),
]


def fixture() -> list[dict[str, Any]]:
    conversations: list[dict[str, Any]] = json.loads(CHATGPT.read_text(encoding="utf-8"))
    return conversations


def expected_tree(conversation: dict[str, Any]) -> list[tuple[str, str]]:
    """The (text, parent's text) pairs of the messages a person saw, worked out
    from the mapping on its own: visible user and assistant text, each under
    its nearest visible ancestor."""
    mapping = conversation["mapping"]

    def shown(key: str) -> str | None:
        message = mapping[key]["message"]
        if message is None or message["author"]["role"] not in ("user", "assistant"):
            return None
        if message["metadata"].get("is_visually_hidden_from_conversation"):
            return None
        if message.get("recipient", "all") != "all":
            return None
        if message["content"]["content_type"] not in ("text", "multimodal_text"):
            return None
        parts = message["content"]["parts"]
        words = ["[image]" if isinstance(p, dict) else p for p in parts]
        return "\n\n".join(w for w in words if w.strip()) or None

    pairs = []
    for key in mapping:
        text = shown(key)
        if text is None:
            continue
        parent = mapping[key]["parent"]
        while parent is not None and shown(parent) is None:
            parent = mapping[parent]["parent"]
        pairs.append((text, None if parent is None else shown(parent)))
    return sorted(pairs, key=repr)


def test_the_tree_comes_in_with_its_branches_and_the_path_chatgpt_showed(store: Store) -> None:
    report = import_path(store, CHATGPT)
    assert (report.chats_added, report.chats_updated, report.chats_unchanged) == (2, 0, 0)
    assert report.messages_added == 9
    # The hidden system message of each chat and the sine chat's tool call and result.
    assert report.left_out == 4
    assert report.empty == 1  # "New chat" had nothing but a hidden system message
    assert report.summary().startswith("Imported 2 chats (9 messages) from a ChatGPT export.")

    by_title = {s.title: s for s in store.list_sessions()}
    assert set(by_title) == {"Sourdough starter help", "Plot a sine wave"}
    sourdough = by_title["Sourdough starter help"]
    assert sourdough.system_prompt == (
        "The user provided the following information about themselves:\n"
        "I bake bread at home in a cold kitchen.\n\n"
        "The user provided the additional info about how they would like you to respond:\n"
        "Answer briefly, in metric units."
    )
    assert sourdough.model == "" and sourdough.provider_id is None
    assert sourdough.created_at == _local(1700000000.123456)
    assert sourdough.updated_at == _local(1700000300.5)

    messages = store.list_messages(sourdough.id)
    text_of = {m.id: m.content for m in messages}
    assert [(m.role.value, m.content, text_of.get(m.parent_id)) for m in messages] == (
        SOURDOUGH_TREE
    )
    # current_node: the reply to the edited question.
    assert [m.content for m in store.active_path(sourdough.id)] == [FEED, COLD, DOUBLED, MOSTLY]
    assert store.branches(sourdough.id)[None] == [messages[0].id]

    first, regenerated, mostly = messages[1], messages[2], messages[6]
    assert first.finish is FinishReason.STOP and first.model == "gpt-4o"
    assert regenerated.finish is FinishReason.LENGTH
    assert first.created_at == _local(1700000010.25)
    # The o3 reply carries the thoughts that led to it and how long they took.
    assert mostly.reasoning == (
        "Checking the doubling rule\n\n"
        "Doubling within 4 to 8 hours after a feed is the usual sign of a strong starter."
    )
    assert mostly.reasoning_seconds == 12.0
    assert mostly.model == "o3" and mostly.updated_at == _local(1700000230.0)
    assert all(m.status is MessageStatus.COMPLETE for m in messages)
    assert all(not m.reasoning for m in messages[:6])
    assert messages[0].model is None  # only replies name a model

    sine = by_title["Plot a sine wave"]
    sine_messages = store.list_messages(sine.id)
    assert [(m.role, m.content) for m in sine_messages] == [
        (Role.USER, SINE),
        (Role.ASSISTANT, HERE),  # the code sent to the tool and its output are left out
    ]
    assert sine_messages[1].parent_id == sine_messages[0].id
    assert sine_messages[1].status is MessageStatus.STOPPED  # finish_details "interrupted"


def test_export_after_import_gives_the_same_tree(store: Store) -> None:
    import_path(store, CHATGPT)
    chats = {chat["title"]: chat for chat in exported(store)["chats"]}
    for conversation in fixture()[:2]:
        chat = chats[conversation["title"]]
        pairs = sorted(((text, parent) for _, text, parent in tree(chat)), key=repr)
        assert pairs == expected_tree(conversation)
    sourdough = chats["Sourdough starter help"]
    assert tree(sourdough) == SOURDOUGH_TREE
    shown = {m["id"]: m for m in sourdough["messages"]}[sourdough["active_leaf"]]
    assert shown["content"] == MOSTLY
    assert shown["reasoning_seconds"] == 12.0 and shown["finish"] == "stop"


def test_importing_the_same_file_twice_adds_nothing(store: Store) -> None:
    import_path(store, CHATGPT)
    before = dump(store)
    again = import_path(store, CHATGPT)
    assert (again.chats_added, again.chats_updated, again.chats_unchanged) == (0, 0, 2)
    assert again.messages_added == 0 and again.session_ids == ()
    assert again.summary().startswith("Nothing new in a ChatGPT export. 2 chats were here already.")
    assert dump(store) == before


def test_a_chat_renamed_and_continued_here_is_still_recognised(store: Store) -> None:
    import_path(store, CHATGPT)
    sourdough = next(s for s in store.list_sessions() if s.title == "Sourdough starter help")
    store.rename_session(sourdough.id, "Bread")
    store.add_message(sourdough.id, Role.USER, "And in summer?")
    before = dump(store)
    assert import_path(store, CHATGPT).chats_added == 0
    assert dump(store) == before


def test_a_newer_export_of_a_conversation_that_went_on_adds_only_what_is_new(
    store: Store, tmp_path: Path
) -> None:
    import_path(store, CHATGPT)
    conversations = fixture()
    sourdough = conversations[0]
    last = "b1c0de2a-0000-4000-8000-000000000011"
    sourdough["mapping"][last]["children"] = ["later-question"]
    sourdough["mapping"]["later-question"] = _node(
        "later-question", last, "user", "Thanks! And how warm should it be?", 1700000400.0
    )
    sourdough["current_node"] = "later-question"
    sourdough["update_time"] = 1700000400.0
    report = import_path(store, write_json(tmp_path / "newer.json", conversations))
    assert (report.chats_added, report.chats_updated, report.chats_unchanged) == (0, 1, 1)
    assert report.messages_merged == 1
    assert "1 chat already here got 1 new message." in report.summary()
    session = next(s for s in store.list_sessions() if s.title == "Sourdough starter help")
    path = [m.content for m in store.active_path(session.id)]
    assert path == [FEED, COLD, DOUBLED, MOSTLY, "Thanks! And how warm should it be?"]
    assert session.updated_at == _local(1700000400.0)
    assert report.session_ids == (session.id,)


def test_the_export_zip_is_read_with_its_conversations_in_a_folder_or_in_parts(
    tmp_path: Path,
) -> None:
    conversations = fixture()
    whole = tmp_path / "export.zip"
    with zipfile.ZipFile(whole, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("chatgpt-export/conversations.json", json.dumps(conversations))
        archive.writestr("chatgpt-export/chat.html", "<html>not read</html>")
        archive.writestr("chatgpt-export/user.json", "{}")
        archive.writestr("chatgpt-export/file-7mC1xYzExampleAsset-starter.jpg", b"\xff\xd8")
        archive.writestr("__MACOSX/chatgpt-export/._conversations.json", "junk")
    parts = tmp_path / "parts.zip"
    with zipfile.ZipFile(parts, "w") as archive:
        archive.writestr("conversations-001.json", json.dumps(conversations[1:]))
        archive.writestr("conversations-000.json", json.dumps(conversations[:1]))
    from_json = read_import_file(CHATGPT)
    assert read_import_file(whole) == from_json
    assert read_import_file(parts) == from_json


def test_one_conversation_alone_and_odd_shapes_are_read(tmp_path: Path) -> None:
    """A conversation without a title, a create time or a current node; parts
    that are voice transcripts or unknown attachments; code sent to everyone."""
    conversation: dict[str, Any] = {
        "mapping": {
            "root": {"id": "root", "message": None, "parent": None, "children": ["q"]},
            "q": _node("q", "root", "user", "", None),
            "a": _node("a", "q", "assistant", "", 1700000010.0),
        },
    }
    conversation["mapping"]["q"]["message"]["content"] = {
        "content_type": "multimodal_text",
        "parts": [
            {"content_type": "audio_transcription", "text": "Show me a loop", "direction": "in"},
            {"content_type": "audio_asset_pointer", "asset_pointer": "sediment://file_1"},
            {"content_type": "some_future_part", "id": 3},
        ],
    }
    conversation["mapping"]["a"]["message"]["content"] = {
        "content_type": "code",
        "language": "python",
        "text": "for i in range(3):\n    print(i)\n",
    }
    batch = read_import_file(write_json(tmp_path / "one.json", conversation))
    (chat,) = batch.chats
    assert chat.title == UNTITLED
    assert chat.same_as == ()  # no time of its own: a copy is looked for by title
    assert [m.content for m in chat.messages] == [
        "Show me a loop\n\n[attachment]",
        "```python\nfor i in range(3):\n    print(i)\n```",
    ]
    assert chat.messages[0].created_at == chat.messages[1].created_at  # inherited
    assert chat.active == 1  # no current_node: the newest leaf


def _node(key: str, parent: str, role: str, text: str, when: float | None) -> dict[str, Any]:
    return {
        "id": key,
        "parent": parent,
        "children": [],
        "message": {
            "id": key,
            "author": {"role": role, "name": None, "metadata": {}},
            "create_time": when,
            "update_time": None,
            "content": {"content_type": "text", "parts": [text]},
            "status": "finished_successfully",
            "metadata": {},
            "recipient": "all",
        },
    }


def _local(epoch: float) -> datetime:
    """A time as the store hands it out: naive local time."""
    return datetime.fromtimestamp(epoch, UTC).astimezone().replace(tzinfo=None)
