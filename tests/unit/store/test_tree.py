"""A chat is a tree of messages: the path it shows, branches, and the active leaf."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from desktop.core.states import MessageStatus, Role
from desktop.store import Store
from desktop.store.database import connect
from desktop.store.migrations import migrate


def texts(messages: list) -> list[str]:  # type: ignore[type-arg]
    return [m.content for m in messages]


def test_messages_added_one_after_another_form_one_path(store: Store) -> None:
    chat = store.create_session("c")
    a = store.add_message(chat.id, Role.USER, "a")
    b = store.add_message(chat.id, Role.ASSISTANT, "b")
    assert (a.parent_id, b.parent_id) == (None, a.id)
    assert texts(store.active_path(chat.id)) == ["a", "b"]
    assert store.get_session(chat.id).active_leaf_id == b.id  # type: ignore[union-attr]


def test_an_edit_and_a_regeneration_are_siblings_and_switching_shows_their_path(
    store: Store,
) -> None:
    chat = store.create_session("c")
    q1 = store.add_message(chat.id, Role.USER, "q1")
    r1 = store.add_message(chat.id, Role.ASSISTANT, "r1")
    q2 = store.add_message(chat.id, Role.USER, "q2")
    r2 = store.add_message(chat.id, Role.ASSISTANT, "r2")
    # Regenerate r2: a sibling under q2.
    r2b = store.add_message(chat.id, Role.ASSISTANT, "r2b", parent_id=q2.id)
    assert texts(store.active_path(chat.id)) == ["q1", "r1", "q2", "r2b"]
    # Edit q2: a sibling under r1, with its own reply.
    q2e = store.add_message(chat.id, Role.USER, "q2 edited", parent_id=r1.id)
    store.add_message(chat.id, Role.ASSISTANT, "r2e")
    assert texts(store.active_path(chat.id)) == ["q1", "r1", "q2 edited", "r2e"]
    branches = store.branches(chat.id)
    assert branches[r1.id] == [q2.id, q2e.id] and branches[q2.id] == [r2.id, r2b.id]
    assert branches[None] == [q1.id]
    # Back to the first version of q2: its newest reply shows.
    store.set_active_leaf(chat.id, store.newest_leaf_under(q2.id))
    assert texts(store.active_path(chat.id)) == ["q1", "r1", "q2", "r2b"]
    store.set_active_leaf(chat.id, r2.id)
    assert texts(store.active_path(chat.id)) == ["q1", "r1", "q2", "r2"]
    assert texts(store.path_to(r2b.id)) == ["q1", "r1", "q2", "r2b"]
    assert len(store.list_messages(chat.id)) == 7  # every branch is kept


def test_deleting_a_branch_deletes_what_is_below_it_and_keeps_a_path_shown(
    store: Store,
) -> None:
    chat = store.create_session("c")
    q = store.add_message(chat.id, Role.USER, "q")
    store.add_message(chat.id, Role.ASSISTANT, "old")
    new = store.add_message(chat.id, Role.ASSISTANT, "new", parent_id=q.id)
    follow = store.add_message(chat.id, Role.USER, "more")
    store.delete_message(new.id)
    assert store.get_message(follow.id) is None  # below it: gone with it
    assert texts(store.active_path(chat.id)) == ["q", "old"]
    store.delete_message(q.id)
    assert store.active_path(chat.id) == []
    assert store.list_messages(chat.id) == []


def test_a_parent_from_another_chat_is_refused(store: Store) -> None:
    one, two = store.create_session("1"), store.create_session("2")
    a = store.add_message(one.id, Role.USER, "a")
    with pytest.raises(LookupError):
        store.add_message(two.id, Role.USER, "b", parent_id=a.id)
    with pytest.raises(LookupError):
        store.set_active_leaf(two.id, a.id)


def test_a_streaming_reply_on_a_path_shows_its_flushed_text(store: Store) -> None:
    from desktop.store import StreamFlush

    chat = store.create_session("c")
    store.add_message(chat.id, Role.USER, "q")
    reply = store.add_message(chat.id, Role.ASSISTANT, "", status=MessageStatus.STREAMING)
    store.flush_streaming([StreamFlush(reply.id, "so far")])
    assert texts(store.active_path(chat.id)) == ["q", "so far"]


def test_v4_chats_become_one_path_each_unchanged(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    path = data / "sidestream.db"
    db = connect(path)
    try:
        migrate(db, path, target=4)
        now = "2025-05-05 05:05:05.000000"
        for title in ("one", "two"):
            db.execute_sql(
                "INSERT INTO sessions (title, model, muted, created_at, updated_at)"
                " VALUES (?, 'm', 0, ?, ?)",
                (title, now, now),
            )
        # Interleaved ids across the two chats, as real use makes them.
        for session_id, content in ((1, "1a"), (2, "2a"), (1, "1b"), (2, "2b"), (1, "1c")):
            db.execute_sql(
                "INSERT INTO messages (session_id, role, content, status, created_at, updated_at)"
                " VALUES (?, 'user', ?, 'complete', ?, ?)",
                (session_id, content, now, now),
            )
        assert migrate(db, path) == 7
    finally:
        db.close_all()
    with Store.open(data) as store:
        assert texts(store.active_path(1)) == ["1a", "1b", "1c"]
        assert texts(store.active_path(2)) == ["2a", "2b"]
        assert store.branches(1) == {None: [1], 1: [3], 3: [5]}
        assert store.integrity_check() == "ok"
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    finally:
        conn.close()
