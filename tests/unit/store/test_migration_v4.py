"""Schema version 4: reasoning, its blocks, the finish and reasoning chunks (issue 15).

A version 3 database (the last release) migrates and keeps every row, the
chunks of a reply it left streaming included; the new columns then hold what
a reply's reasoning, signed blocks, finish and reasoning time are.
"""

from __future__ import annotations

from pathlib import Path

from desktop.core.models import ReasoningBlock
from desktop.core.states import FinishReason, MessageStatus, Role
from desktop.store import Store, StreamFlush
from desktop.store.database import connect
from desktop.store.migrations import migrate, schema_version

NOW = "2025-09-09 09:09:09.000000"


def v3_database(data: Path) -> None:
    """A version 3 file with a finished chat and a reply left streaming in chunks."""
    data.mkdir()
    path = data / "sidestream.db"
    db = connect(path)
    try:
        assert migrate(db, path, target=3) == 3
        db.execute_sql(
            "INSERT INTO sessions (title, model, muted, created_at, updated_at, unread)"
            " VALUES ('v3 chat', 'm', 0, ?, ?, 1)",
            (NOW, NOW),
        )
        rows = [
            ("user", "Hello", "complete", None, None),
            ("assistant", "Hi!", "complete", 12, 3),
            ("user", "More", "complete", None, None),
            ("assistant", "Half", "streaming", None, None),
        ]
        for role, content, status, tin, tout in rows:
            db.execute_sql(
                "INSERT INTO messages (session_id, role, content, status, input_tokens,"
                " output_tokens, cursor, created_at, updated_at)"
                " VALUES (1, ?, ?, ?, ?, ?, 'resp_1:9', ?, ?)",
                (role, content, status, tin, tout, NOW, NOW),
            )
        for text in (" an", " answer"):
            db.execute_sql("INSERT INTO message_chunks (message_id, text) VALUES (4, ?)", (text,))
    finally:
        db.close_all()


def test_a_v3_database_migrates_and_keeps_its_data(tmp_path: Path) -> None:
    data = tmp_path / "data"
    v3_database(data)
    with Store.open(data) as store:
        assert store.schema_version() == 7
        assert store.integrity_check() == "ok"
        [session] = store.list_sessions()
        assert (session.title, session.unread) == ("v3 chat", True)
        messages = store.list_messages(session.id)
        assert [(m.role, m.content, m.status) for m in messages] == [
            (Role.USER, "Hello", MessageStatus.COMPLETE),
            (Role.ASSISTANT, "Hi!", MessageStatus.COMPLETE),
            (Role.USER, "More", MessageStatus.COMPLETE),
            (Role.ASSISTANT, "Half an answer", MessageStatus.STREAMING),
        ]
        assert (messages[1].input_tokens, messages[1].output_tokens) == (12, 3)
        for m in messages:  # nothing known of what v3 did not store
            assert (m.reasoning, m.reasoning_blocks, m.finish, m.reasoning_seconds) == (
                "",
                (),
                None,
                None,
            )
        # The reply left streaming goes on: text and reasoning chunks, then its end.
        store.flush_streaming([StreamFlush(4, " now", append_reasoning="Thinking")])
        live = store.get_message(4)
        assert live is not None
        assert (live.content, live.reasoning) == ("Half an answer now", "Thinking")
        store.finish_message(4, live.content, MessageStatus.COMPLETE, finish=FinishReason.STOP)
        done = store.get_message(4)
        assert done is not None
        assert (done.content, done.reasoning, done.finish) == (
            "Half an answer now",
            "Thinking",
            FinishReason.STOP,
        )
        assert store._db.execute_sql("SELECT COUNT(*) FROM message_chunks").fetchone()[0] == 0


def test_reasoning_streams_in_chunks_apart_from_the_text(tmp_path: Path) -> None:
    with Store.open(tmp_path / "data") as store:
        session = store.create_session("s")
        message = store.add_message(session.id, Role.ASSISTANT, status=MessageStatus.STREAMING)
        store.flush_streaming([StreamFlush(message.id, append_reasoning="Let me ")])
        store.flush_streaming([StreamFlush(message.id, "Sure", append_reasoning="think.")])
        store.flush_streaming([StreamFlush(message.id, ", here.")])
        got = store.get_message(message.id)
        assert got is not None
        assert (got.content, got.reasoning) == ("Sure, here.", "Let me think.")
        # Four rows, each only what was new (a flush costs O(new data)).
        rows = store._db.execute_sql("SELECT kind, text FROM message_chunks ORDER BY id").fetchall()
        assert rows == [(1, "Let me "), (1, "think."), (0, "Sure"), (0, ", here.")]


def test_the_end_of_a_reply_stores_its_reasoning_blocks_finish_and_time(tmp_path: Path) -> None:
    blocks = (ReasoningBlock.signed("Plan.", "c2ln"), ReasoningBlock.redacted("ZGF0YQ=="))
    with Store.open(tmp_path / "data") as store:
        session = store.create_session("s")
        message = store.add_message(session.id, Role.ASSISTANT, status=MessageStatus.STREAMING)
        store.finish_message(
            message.id,
            "Answer.",
            MessageStatus.COMPLETE,
            input_tokens=5,
            output_tokens=9,
            reasoning="Plan.",
            reasoning_blocks=blocks,
            finish=FinishReason.LENGTH,
            reasoning_seconds=12.25,
        )
        got = store.get_message(message.id)
        assert got is not None
        assert got.reasoning == "Plan."
        assert got.reasoning_blocks == blocks
        assert got.finish is FinishReason.LENGTH
        assert got.reasoning_seconds == 12.25
        assert (got.input_tokens, got.output_tokens) == (5, 9)


def test_an_end_without_reasoning_keeps_the_reasoning_streamed_so_far(tmp_path: Path) -> None:
    # Start-up recovery and failed starts write the end with the text only.
    with Store.open(tmp_path / "data") as store:
        session = store.create_session("s")
        message = store.add_message(session.id, Role.ASSISTANT, status=MessageStatus.STREAMING)
        store.flush_streaming([StreamFlush(message.id, "Cut", append_reasoning="Was thinking")])
        store.finish_message(message.id, "Cut", MessageStatus.INTERRUPTED, reason="app quit")
        got = store.get_message(message.id)
        assert got is not None
        assert (got.content, got.reasoning, got.finish) == ("Cut", "Was thinking", None)


def test_an_unknown_finish_from_a_newer_release_reads_as_other(tmp_path: Path) -> None:
    with Store.open(tmp_path / "data") as store:
        session = store.create_session("s")
        message = store.add_message(session.id, Role.ASSISTANT, "x")
        store._db.execute_sql(
            "UPDATE messages SET finish = 'new_reason' WHERE id = ?", (message.id,)
        )
        got = store.get_message(message.id)
        assert got is not None and got.finish is FinishReason.OTHER
        assert schema_version(store._db) == 7
