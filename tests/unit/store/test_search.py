"""Full-text search in the store (schema version 6, issue 17): the index is
built for an existing store, follows every write, and no query text raises."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from desktop.core.imported import ImportedChat, ImportedMessage
from desktop.core.search import split_marked
from desktop.core.states import MessageStatus, Role
from desktop.store import Store, StreamFlush
from desktop.store.database import connect
from desktop.store.migrations import CURRENT_VERSION, migrate

NOW = "2026-01-02 03:04:05.000000"


def v5_store(data: Path) -> None:
    """A version 5 file with two chats and a reply left streaming."""
    data.mkdir()
    path = data / "sidestream.db"
    db = connect(path)
    try:
        assert migrate(db, path, target=5) == 5
        for title in ("Recipes", "Holiday plans"):
            db.execute_sql(
                "INSERT INTO sessions (title, model, muted, created_at, updated_at)"
                " VALUES (?, 'm', 0, ?, ?)",
                (title, NOW, NOW),
            )
        rows = [
            (1, "user", "How long should a crème brûlée bake?", "complete"),
            (1, "assistant", "About forty minutes in a water bath.", "complete"),
            (2, "user", "Trains from Zürich to Milan?", "complete"),
            (2, "assistant", "", "streaming"),
        ]
        for session_id, role, content, status in rows:
            db.execute_sql(
                "INSERT INTO messages (session_id, role, content, status, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (session_id, role, content, status, NOW, NOW),
            )
        db.execute_sql(
            "INSERT INTO message_chunks (message_id, text) VALUES (4, 'The Gotthard line')"
        )
    finally:
        db.close_all()


def hits(store: Store, query: str) -> list[tuple[int, int | None]]:
    return [(hit.session_id, hit.message_id) for hit in store.search(query, 20)]


def test_a_v5_store_migrates_and_its_messages_and_titles_are_found(tmp_path: Path) -> None:
    data = tmp_path / "data"
    v5_store(data)
    with Store.open(data) as store:
        assert store.schema_version() == CURRENT_VERSION == 7
        assert store.integrity_check() == "ok"
        assert hits(store, "forty") == [(1, 2)]
        assert hits(store, "creme brulee") == [(1, 1)]
        assert hits(store, "holiday") == [(2, None)]
        [hit] = store.search("zurich", 20)
        assert (hit.title, split_marked(hit.snippet)) == (
            "Holiday plans",
            ("Trains from Zürich to Milan?", [(12, 18)]),
        )
        # The reply left streaming is in chunks, not yet in the index.
        assert hits(store, "gotthard") == []
        store.finish_message(4, "The Gotthard line", MessageStatus.INTERRUPTED)
        assert hits(store, "gotthard") == [(2, 4)]
        db = connect(store.path)
        try:
            check = db.execute_sql(
                "INSERT INTO messages_fts (messages_fts, rank) VALUES ('integrity-check', 1)"
            )
            assert check is not None
        finally:
            db.close_all()


def test_a_reply_is_found_once_it_finishes_not_while_it_streams(store: Store) -> None:
    chat = store.create_session("Streams")
    store.add_message(chat.id, Role.USER, "Tell me about rivers")
    reply = store.add_message(chat.id, Role.ASSISTANT, "", status=MessageStatus.STREAMING)
    store.flush_streaming([StreamFlush(reply.id, "The Danube flows ")])
    store.flush_streaming([StreamFlush(reply.id, "through Vienna.")])
    assert hits(store, "danube") == []
    store.finish_message(reply.id, "The Danube flows through Vienna.", MessageStatus.COMPLETE)
    assert hits(store, "danube") == hits(store, "vienna") == [(chat.id, reply.id)]
    # A Continue appends to the same message: the new end is found when it ends.
    store.update_message_status(reply.id, MessageStatus.STREAMING)
    store.flush_streaming([StreamFlush(reply.id, " Then Budapest.")])
    assert hits(store, "budapest") == []
    store.finish_message(
        reply.id, "The Danube flows through Vienna. Then Budapest.", MessageStatus.STOPPED
    )
    assert hits(store, "budapest") == hits(store, "danube") == [(chat.id, reply.id)]


def test_prefixes_case_and_diacritics_match_as_a_person_types(store: Store) -> None:
    chat = store.create_session("Notes")
    message = store.add_message(chat.id, Role.USER, "Streaming in the Café, naïve façade")
    for query in ("s", "st", "stre", "STREAMING", "cafe", "CAFÉ", "naive", "fac", "stre caf"):
        assert hits(store, query) == [(chat.id, message.id)], query
    assert hits(store, "streamer") == []
    assert hits(store, "stre zebra") == [], "every word must match"
    [hit] = store.search("fac", 5)
    text, ranges = split_marked(hit.snippet)
    assert [text[a:b] for a, b in ranges] == ["façade"]


def test_titles_follow_renames_and_deleted_chats_are_gone(store: Store) -> None:
    chat = store.create_session("Old name")
    message = store.add_message(chat.id, Role.USER, "unique zanzibar words")
    assert hits(store, "old") == [(chat.id, None)]
    store.rename_session(chat.id, "Brand new")
    assert hits(store, "old") == []
    assert hits(store, "brand") == [(chat.id, None)]
    store.delete_message(message.id)
    assert hits(store, "zanzibar") == []
    other = store.add_message(chat.id, Role.USER, "zanzibar again")
    store.delete_session(chat.id)
    assert hits(store, "zanzibar") == hits(store, "brand") == []
    assert store.get_message(other.id) is None
    assert store.integrity_check() == "ok"


def test_search_chat_lists_a_chats_matching_messages_in_order(store: Store) -> None:
    first = store.create_session("One")
    second = store.create_session("Two")
    ids = [store.add_message(first.id, Role.USER, f"apple number {n}").id for n in range(3)]
    store.add_message(first.id, Role.ASSISTANT, "pears only")
    store.add_message(second.id, Role.USER, "apple elsewhere")
    assert store.search_chat(first.id, "app") == ids
    assert store.search_chat(first.id, "") == []
    assert store.search_chat(second.id, "pears") == []


def test_titles_first_then_messages_newest_first_and_the_limit_holds(store: Store) -> None:
    chat = store.create_session("Kiwi chat")
    often = store.add_message(chat.id, Role.USER, "kiwi kiwi kiwi")
    once = store.add_message(chat.id, Role.USER, "a kiwi among many other words here")
    found = store.search("kiwi", 20)
    assert [(h.session_id, h.message_id) for h in found] == [
        (chat.id, None),
        (chat.id, once.id),
        (chat.id, often.id),
    ]
    assert found[2].rank < found[1].rank  # bm25: the denser hit scores better
    assert len(store.search("kiwi", 1)) == 2  # one title, one message


HOSTILE = [
    '"',
    '"unbalanced',
    "AND",
    "OR",
    "NOT",
    "a AND",
    "*",
    "stre*",
    "NEAR(",
    "NEAR(a b",
    "-",
    "-word",
    "col:",
    "content:x",
    "title:x",
    "^",
    "()",
    "(",
    ")",
    "{a b}:c",
    "''",
    "a\x00b",
    "\ue000",
    "   ",
    "",
    "+",
    ":",
    "x" * 5000,
]


@pytest.mark.parametrize("query", HOSTILE)
def test_no_query_text_raises(store: Store, query: str) -> None:
    chat = store.create_session("AND OR NOT near col")
    store.add_message(chat.id, Role.USER, "word content title near col stre x a b c")
    store.search(query, 10)
    store.search_chat(chat.id, query)


def test_words_of_operators_are_searched_as_words(store: Store) -> None:
    chat = store.create_session("plain")
    message = store.add_message(chat.id, Role.USER, "Near the river AND the sea")
    assert hits(store, "NEAR(") == [(chat.id, message.id)]
    assert hits(store, '"and') == [(chat.id, message.id)]
    assert hits(store, "-sea") == [(chat.id, message.id)]


def test_imported_chats_are_found(store: Store) -> None:
    when = datetime(2025, 5, 6, 7, 8, 9)
    chat = ImportedChat(
        title="Imported astronomy",
        created_at=when,
        updated_at=when,
        messages=(
            ImportedMessage(None, Role.USER, "What is a quasar?", when),
            ImportedMessage(0, Role.ASSISTANT, "A very luminous galactic nucleus.", when),
        ),
        active=1,
    )
    [result] = store.import_chats([chat])
    found = store.search("quasar", 10) + store.search("luminous", 10)
    assert {hit.session_id for hit in found} == {result.session_id}
    assert [hit.message_id is not None for hit in found] == [True, True]
    assert hits(store, "astro") == [(result.session_id, None)]
