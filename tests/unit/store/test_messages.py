"""Messages, and the streaming write path: append chunks, read merged, compact at the end."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from desktop.core.models import Message
from desktop.core.states import InterruptReason, MessageStatus, Role
from desktop.store import Store, StreamFlush

DEADLINE_S = 10.0


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "data") as opened:
        yield opened


def chunk_rows(store: Store) -> int:
    return int(store._db.execute_sql("SELECT COUNT(*) FROM message_chunks").fetchone()[0])


class StatementLog:
    """Every SQL statement the calling thread's connection runs while active."""

    def __init__(self, store: Store) -> None:
        self.conn = store._db.connection()
        self.statements: list[str] = []

    def __enter__(self) -> StatementLog:
        self.conn.set_trace_callback(self.statements.append)
        return self

    def __exit__(self, *exc: object) -> None:
        self.conn.set_trace_callback(None)

    def count(self, verb: str) -> int:
        return sum(1 for s in self.statements if s.lstrip().upper().startswith(verb))


def test_add_get_list_messages(store: Store) -> None:
    s = store.create_session("chat")
    q = store.add_message(s.id, Role.USER, "What is 2+2?")
    a = store.add_message(s.id, Role.ASSISTANT, "4", model="demo-1")
    assert isinstance(q, Message)
    assert (q.session_id, q.role, q.content, q.status) == (
        s.id,
        Role.USER,
        "What is 2+2?",
        MessageStatus.COMPLETE,
    )
    assert a.model == "demo-1"
    assert store.get_message(q.id) == q
    assert store.get_message(9999) is None
    assert store.list_messages(s.id) == [q, a]
    assert store.list_messages(9999) == []


def test_add_message_to_missing_chat_raises_lookup_error(store: Store) -> None:
    with pytest.raises(LookupError):
        store.add_message(42, Role.USER, "orphan")


def test_status_updates_and_queries(store: Store) -> None:
    s = store.create_session("chat")
    m1 = store.add_message(s.id, Role.ASSISTANT, status=MessageStatus.STREAMING)
    m2 = store.add_message(s.id, Role.ASSISTANT, status=MessageStatus.PENDING)
    store.add_message(s.id, Role.USER, "done")
    live = [MessageStatus.PENDING, MessageStatus.STREAMING, MessageStatus.RESUMING]
    assert [m.id for m in store.messages_with_status(live)] == [m1.id, m2.id]
    assert store.messages_with_status([]) == []

    store.update_message_status(m1.id, MessageStatus.FAILED, error="HTTP 500: boom")
    store.update_message_status(
        m2.id, MessageStatus.INTERRUPTED, reason=InterruptReason.EVICTED.value
    )
    got1, got2 = store.get_message(m1.id), store.get_message(m2.id)
    assert got1 is not None and got2 is not None
    assert (got1.status, got1.error, got1.reason) == (MessageStatus.FAILED, "HTTP 500: boom", None)
    assert (got2.status, got2.reason) == (MessageStatus.INTERRUPTED, "evicted")
    assert store.messages_with_status(live) == []
    assert [m.id for m in store.messages_with_status({MessageStatus.FAILED})] == [m1.id]

    store.delete_message(m2.id + 1)
    assert store.get_message(m2.id + 1) is None
    assert [m.id for m in store.list_messages(s.id)] == [m1.id, m2.id]
    store.delete_message(m1.id)  # a message goes with everything below it in its chat's tree
    assert store.list_messages(s.id) == []


def test_flush_appends_chunks_and_reads_merge_them(store: Store) -> None:
    s = store.create_session("chat")
    m = store.add_message(s.id, Role.ASSISTANT, status=MessageStatus.PENDING)
    assert store.flush_streaming([StreamFlush(m.id, "Hel", cursor="c1", model="m-1")]) == set()
    got = store.get_message(m.id)
    assert got is not None
    assert (got.content, got.status, got.cursor, got.model) == (
        "Hel",
        MessageStatus.STREAMING,
        "c1",
        "m-1",
    )
    store.flush_streaming([StreamFlush(m.id, "lo, ", input_tokens=7)])
    store.flush_streaming([StreamFlush(m.id, "wörld", output_tokens=3)])
    got = store.get_message(m.id)
    assert got is not None
    assert got.content == "Hello, wörld"
    # None leaves what a previous flush saved: no cursor is lost.
    assert (got.cursor, got.model, got.input_tokens, got.output_tokens) == ("c1", "m-1", 7, 3)
    assert chunk_rows(store) == 3
    # messages.content is not rewritten while streaming: only chunks grow.
    raw = store._db.execute_sql("SELECT content FROM messages WHERE id = ?", (m.id,)).fetchone()
    assert raw[0] == ""
    assert store.list_messages(s.id)[-1].content == "Hello, wörld"
    assert store.messages_with_status([MessageStatus.STREAMING])[0].content == "Hello, wörld"


def test_empty_append_inserts_no_chunk(store: Store) -> None:
    s = store.create_session("chat")
    m = store.add_message(s.id, Role.ASSISTANT, status=MessageStatus.STREAMING)
    store.flush_streaming([StreamFlush(m.id, "", status=MessageStatus.RESUMING, cursor="c9")])
    assert chunk_rows(store) == 0
    got = store.get_message(m.id)
    assert got is not None
    assert (got.content, got.status, got.cursor) == ("", MessageStatus.RESUMING, "c9")


def test_flush_batch_is_one_transaction_and_skips_deleted_messages(store: Store) -> None:
    a_chat, b_chat = store.create_session("a"), store.create_session("b")
    a = store.add_message(a_chat.id, Role.ASSISTANT, status=MessageStatus.STREAMING)
    b = store.add_message(b_chat.id, Role.ASSISTANT, status=MessageStatus.STREAMING)
    gone = store.add_message(b_chat.id, Role.ASSISTANT, status=MessageStatus.STREAMING)
    store.delete_message(gone.id)  # e.g. its chat was deleted mid-stream
    with StatementLog(store) as log:
        missing = store.flush_streaming(
            [StreamFlush(a.id, "A1"), StreamFlush(b.id, "B1"), StreamFlush(gone.id, "lost")]
        )
    assert missing == {gone.id}
    assert log.count("BEGIN") == 1 and log.count("COMMIT") == 1
    assert log.count("INSERT") == 1, "all chunks of a batch go in one INSERT"
    assert store.flush_streaming([]) == set()
    store.flush_streaming([StreamFlush(a.id, "A2"), StreamFlush(a.id, "A3")])
    got_a, got_b = store.get_message(a.id), store.get_message(b.id)
    assert got_a is not None and got_b is not None
    assert (got_a.content, got_b.content) == ("A1A2A3", "B1")


def test_finish_compacts_chunks(store: Store) -> None:
    s = store.create_session("chat")
    m = store.add_message(s.id, Role.ASSISTANT, status=MessageStatus.STREAMING)
    store.flush_streaming([StreamFlush(m.id, "part one, ", cursor="c1")])
    store.flush_streaming([StreamFlush(m.id, "part two")])
    assert chunk_rows(store) == 2
    with StatementLog(store) as log:
        found = store.finish_message(
            m.id,
            "part one, part two.",
            MessageStatus.COMPLETE,
            input_tokens=10,
            output_tokens=20,
            model="m-final",
        )
    assert found
    assert log.count("BEGIN") == 1 and log.count("COMMIT") == 1
    assert chunk_rows(store) == 0
    got = store.get_message(m.id)
    assert got is not None
    assert (got.content, got.status, got.cursor) == ("part one, part two.", "complete", "c1")
    assert (got.input_tokens, got.output_tokens, got.model) == (10, 20, "m-final")
    assert not store.finish_message(9999, "x", MessageStatus.COMPLETE)


def test_finish_with_error_and_reason(store: Store) -> None:
    s = store.create_session("chat")
    m = store.add_message(s.id, Role.ASSISTANT, status=MessageStatus.STREAMING)
    store.flush_streaming([StreamFlush(m.id, "partial")])
    store.finish_message(
        m.id, "partial", MessageStatus.INTERRUPTED, reason=InterruptReason.STALLED.value
    )
    got = store.get_message(m.id)
    assert got is not None
    assert (got.content, got.status, got.reason, got.error) == (
        "partial",
        MessageStatus.INTERRUPTED,
        "stalled",
        None,
    )


def test_continue_appends_to_a_finished_message(store: Store) -> None:
    s = store.create_session("chat")
    m = store.add_message(s.id, Role.ASSISTANT, status=MessageStatus.STREAMING)
    store.finish_message(m.id, "Once upon", MessageStatus.STOPPED)
    store.update_message_status(m.id, MessageStatus.STREAMING)
    store.flush_streaming([StreamFlush(m.id, " a time")])
    got = store.get_message(m.id)
    assert got is not None and got.content == "Once upon a time"
    store.finish_message(m.id, "Once upon a time.", MessageStatus.COMPLETE)
    got = store.get_message(m.id)
    assert got is not None and got.content == "Once upon a time." and chunk_rows(store) == 0


def test_flushed_text_survives_without_finish(tmp_path: Path) -> None:
    """What a crash leaves: chunks only, no finish; the next start reads all of it."""
    first = Store.open(tmp_path / "data")
    s = first.create_session("chat")
    m = first.add_message(s.id, Role.ASSISTANT, status=MessageStatus.STREAMING)
    first.flush_streaming([StreamFlush(m.id, "kept ", cursor="7")])
    first.flush_streaming([StreamFlush(m.id, "text")])
    # No close(): as after kill -9, the WAL is not checkpointed.
    second = Store.open(tmp_path / "data")
    try:
        [recovered] = second.messages_with_status([MessageStatus.STREAMING])
        assert (recovered.id, recovered.content, recovered.cursor) == (m.id, "kept text", "7")
        assert second.integrity_check() == "ok"
    finally:
        second.close()
        first.close()


def test_list_messages_of_1000_is_three_selects(store: Store) -> None:
    s = store.create_session("long chat")
    other = store.create_session("other")
    texts = [f"message {i} " + "x" * (i % 50) for i in range(1000)]
    ids = [store.add_message(s.id, Role.USER, t).id for t in texts]
    streaming = [ids[10], ids[500], ids[999]]
    for n in range(20):
        store.flush_streaming([StreamFlush(mid, f"<{n}>") for mid in streaming])
    noise = store.add_message(other.id, Role.ASSISTANT, status=MessageStatus.STREAMING)
    store.flush_streaming([StreamFlush(noise.id, "not in this chat")])

    with StatementLog(store) as log:
        started = time.perf_counter()
        messages = store.list_messages(s.id)
        elapsed = time.perf_counter() - started
    assert log.count("SELECT") == 3, log.statements  # messages, chunks, attachments
    assert elapsed < 1.0  # loose: ~0.02 s here; an N+1 would be ~1,000 queries
    assert [m.id for m in messages] == ids
    tail = "".join(f"<{n}>" for n in range(20))
    for m, text in zip(messages, texts, strict=True):
        assert m.content == (text + tail if m.id in streaming else text)


def test_reader_thread_sees_each_flush_while_writer_thread_writes(store: Store) -> None:
    """The UI thread reads while the writer thread flushes: every flush is visible."""
    s = store.create_session("chat")
    m = store.add_message(s.id, Role.ASSISTANT, status=MessageStatus.STREAMING)
    parts = [f"token{i} " for i in range(30)]
    flushed = threading.Semaphore(0)
    read = threading.Semaphore(0)
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            for part in parts:
                store.flush_streaming([StreamFlush(m.id, part)])
                flushed.release()
                if not read.acquire(timeout=DEADLINE_S):
                    raise AssertionError("reader did not keep up")
            store.finish_message(m.id, "".join(parts), MessageStatus.COMPLETE)
            store.close_thread_connection()
        except BaseException as exc:
            errors.append(exc)
            flushed.release()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        for i in range(len(parts)):
            assert flushed.acquire(timeout=DEADLINE_S), "writer did not flush in time"
            assert not errors, errors
            got = store.get_message(m.id)
            assert got is not None and got.content == "".join(parts[: i + 1])
            read.release()
    finally:
        read.release()
        thread.join(timeout=DEADLINE_S)
    assert not thread.is_alive() and not errors, errors
    final = store.get_message(m.id)
    assert final is not None and final.content == "".join(parts)


def test_concurrent_reads_never_see_lost_or_doubled_text(store: Store) -> None:
    """Reads racing flushes and the compaction see a prefix of the text, never more."""
    s = store.create_session("chat")
    m = store.add_message(s.id, Role.ASSISTANT, status=MessageStatus.STREAMING)
    parts = [f"<{i}>" for i in range(200)]
    full = "".join(parts)
    done = threading.Event()
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            text = ""
            for i, part in enumerate(parts):
                store.flush_streaming([StreamFlush(m.id, part)])
                text += part
                if i % 50 == 49:  # compact mid-stream, as finish + Continue would
                    store.finish_message(m.id, text, MessageStatus.STREAMING)
            store.finish_message(m.id, full, MessageStatus.COMPLETE)
        except BaseException as exc:
            errors.append(exc)
        finally:
            store.close_thread_connection()
            done.set()

    thread = threading.Thread(target=writer)
    thread.start()
    seen = 0
    deadline = time.monotonic() + DEADLINE_S
    while not done.is_set():
        assert time.monotonic() < deadline, "writer did not finish in time"
        [got] = store.list_messages(s.id)
        assert full.startswith(got.content), got.content[-40:]
        assert len(got.content) >= seen, "text went backwards"
        seen = len(got.content)
    thread.join(timeout=DEADLINE_S)
    assert not errors, errors
    [final] = store.list_messages(s.id)
    assert final.content == full and final.status is MessageStatus.COMPLETE
