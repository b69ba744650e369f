"""Sidestream's own export, imported: the round trip is exact.

"Exact" means: exporting the chats imported from an export gives that export
again, field for field (titles, texts, roles, statuses, errors and reasons,
reasoning and its seconds, finish, usage, models, muted, times, system
prompt, parameters, the tree and the path shown), but for the chats' and
messages' ids, which are the new store's own: there the comparison puts
each id's place in its list (``without_ids``). A reply that was still
streaming is the one exception (it comes back ``interrupted``).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from desktop.core.models import GenerationParams
from desktop.core.states import FinishReason, InterruptReason, MessageStatus, Role
from desktop.export import export_json
from desktop.importer import read_import_file
from desktop.importer.fields import from_iso
from desktop.importer.sidestream import STILL_STREAMING
from desktop.store import Store, StreamFlush
from tests.unit.importer.helpers import dump, exported, import_path, without_ids, write_json


def fill(store: Store) -> None:
    """Chats with all an export carries: branches, every terminal status, reasoning,
    usage, parameters; ids with gaps and two chats' messages interleaved."""
    trip = store.create_session(
        "Trip plans",
        model="gpt-4o-mini",
        system_prompt="You are a terse travel agent.",
        params=GenerationParams(temperature=0.7, max_output_tokens=500, reasoning_effort="low"),
    )
    other = store.create_session("Other chat")
    gone = store.add_message(trip.id, Role.USER, "deleted before the export")
    store.delete_message(gone.id)
    ask = store.add_message(trip.id, Role.USER, "Where should I go in May?")
    store.add_message(other.id, Role.USER, "A message of another chat, in between")
    reply = store.add_message(trip.id, Role.ASSISTANT, status=MessageStatus.STREAMING)
    store.finish_message(
        reply.id,
        "Lisbon: mild, sunny, and before the crowds.",
        MessageStatus.COMPLETE,
        input_tokens=31,
        output_tokens=12,
        model="gpt-4o-mini",
        reasoning="The user wants spring. Lisbon in May is ideal.",
        finish=FinishReason.STOP,
        reasoning_seconds=3.25,
    )
    retry = store.add_message(
        trip.id, Role.ASSISTANT, status=MessageStatus.STREAMING, parent_id=ask.id
    )
    store.finish_message(retry.id, "Porto, or", MessageStatus.STOPPED)
    longer = store.add_message(
        trip.id, Role.ASSISTANT, status=MessageStatus.STREAMING, parent_id=ask.id
    )
    store.finish_message(
        longer.id, "A long list: 1. Lisbon 2.", MessageStatus.COMPLETE, finish=FinishReason.LENGTH
    )
    edited = store.add_message(trip.id, Role.USER, "Where should I go in June?", parent_id=None)
    failed = store.add_message(trip.id, Role.ASSISTANT, status=MessageStatus.STREAMING)
    store.finish_message(
        failed.id, "", MessageStatus.FAILED, error="HTTP 429: Rate limit reached. Retry later."
    )
    cut = store.add_message(
        trip.id, Role.ASSISTANT, status=MessageStatus.STREAMING, parent_id=edited.id
    )
    store.finish_message(
        cut.id, "Norway's fjords are", MessageStatus.INTERRUPTED, reason=InterruptReason.EVICTED
    )
    follow = store.add_message(
        trip.id, Role.USER, "Thanks!\n\nWhat about the food?", parent_id=reply.id
    )
    store.set_active_leaf(trip.id, follow.id)  # not the newest path
    store.set_muted(trip.id, True)
    store.create_session("An empty chat")
    system = store.create_session("With a system turn")
    store.add_message(system.id, Role.SYSTEM, "Old-style system message")
    store.add_message(system.id, Role.USER, "Émojis 🎉 and\u2028odd separators")


def test_export_import_export_is_exact(tmp_path: Path) -> None:
    with Store.open(tmp_path / "source") as source:
        fill(source)
        original = json.loads(export_json(source))
    path = write_json(tmp_path / "export.json", original)
    with Store.open(tmp_path / "fresh") as fresh:
        report = import_path(fresh, path)
        assert (report.chats_added, report.messages_added) == (4, 11)
        again = exported(fresh)
    assert without_ids(again) == without_ids(original)
    # The comparison is strict: the fields that matter are all there to compare.
    trip = without_ids(original)["chats"][0]
    assert trip["params"] == {
        "temperature": 0.7,
        "max_output_tokens": 500,
        "reasoning_effort": "low",
    }
    assert trip["active_leaf"] == 7 and trip["muted"] is True
    assert {m["status"] for m in trip["messages"]} == {
        "complete",
        "stopped",
        "failed",
        "interrupted",
    }
    assert [m["parent"] for m in trip["messages"]] == [None, 0, 0, 0, None, 4, 4, 1]
    assert original["chats"][0]["messages"][0]["id"] != 1  # the new store numbers anew


def test_an_export_imported_into_the_store_it_came_from_adds_nothing(store: Store) -> None:
    fill(store)
    path = write_json(store.path.parent.parent / "export.json", exported(store))
    before = dump(store)
    report = import_path(store, path)
    assert (report.chats_added, report.chats_updated, report.chats_unchanged) == (0, 0, 4)
    assert dump(store) == before


def test_importing_twice_adds_nothing_and_copies_are_recognised_both_ways(tmp_path: Path) -> None:
    with Store.open(tmp_path / "a") as a, Store.open(tmp_path / "b") as b:
        b.create_session("b's own chat")  # so the imported chats get other ids in b
        fill(a)
        from_a = write_json(tmp_path / "a.json", exported(a))
        import_path(b, from_a)
        before = dump(b)
        assert import_path(b, from_a).chats_unchanged == 4
        assert dump(b) == before
        # b's copies, exported and brought back to a, are a's own chats.
        from_b = write_json(tmp_path / "b.json", exported(b))
        before_a = exported(a)["chats"]
        report = import_path(a, from_b)
        assert (report.chats_added, report.chats_unchanged) == (1, 4)  # only "b's own chat"
        after_a = exported(a)["chats"]
        assert after_a[:4] == before_a and after_a[4]["title"] == "b's own chat"


def test_a_newer_export_adds_only_the_new_messages_and_moves_on_where_it_was_left(
    tmp_path: Path,
) -> None:
    with Store.open(tmp_path / "a") as a, Store.open(tmp_path / "b") as b:
        chat = a.create_session("Recipes")
        question = a.add_message(chat.id, Role.USER, "Soup?")
        a.add_message(chat.id, Role.ASSISTANT, "Leek and potato.")
        older = write_json(tmp_path / "older.json", exported(a))
        a.add_message(chat.id, Role.USER, "Vegan?")
        a.add_message(chat.id, Role.ASSISTANT, "Use oil instead of butter.")
        a.add_message(chat.id, Role.ASSISTANT, "Or coconut milk.", parent_id=question.id)
        a.set_active_leaf(chat.id, a.list_messages(chat.id)[3].id)
        newer = write_json(tmp_path / "newer.json", exported(a))

        import_path(b, older)
        (copy,) = b.list_sessions()
        b.add_message(copy.id, Role.USER, "Asked here, not in a", parent_id=None)
        b.set_active_leaf(copy.id, b.list_messages(copy.id)[1].id)  # back to the imported path
        report = import_path(b, newer)
        assert (report.chats_updated, report.messages_merged) == (1, 3)
        texts = [m.content for m in b.active_path(copy.id)]
        assert texts == ["Soup?", "Leek and potato.", "Vegan?", "Use oil instead of butter."]
        assert {m.content for m in b.list_messages(copy.id)} == {
            "Soup?",
            "Leek and potato.",
            "Vegan?",
            "Use oil instead of butter.",
            "Or coconut milk.",
            "Asked here, not in a",
        }
        # Where the user had gone elsewhere, the chat stays where it was.
        b.set_active_leaf(copy.id, b.list_messages(copy.id)[2].id)  # "Asked here, not in a"
        a.add_message(chat.id, Role.USER, "Thanks")
        import_path(b, write_json(tmp_path / "newest.json", exported(a)))
        assert [m.content for m in b.active_path(copy.id)] == ["Asked here, not in a"]


def test_a_reply_still_streaming_comes_in_interrupted(tmp_path: Path) -> None:
    with Store.open(tmp_path / "source") as source:
        chat = source.create_session("Live")
        source.add_message(chat.id, Role.USER, "Count to a million")
        live = source.add_message(chat.id, Role.ASSISTANT, status=MessageStatus.STREAMING)
        source.flush_streaming([StreamFlush(live.id, "1, 2, 3", cursor="7")])
        path = write_json(tmp_path / "live.json", exported(source))
    with Store.open(tmp_path / "fresh") as fresh:
        import_path(fresh, path)
        reply = fresh.list_messages(fresh.list_sessions()[0].id)[1]
    assert reply.content == "1, 2, 3"
    assert reply.status is MessageStatus.INTERRUPTED and reply.reason == STILL_STREAMING
    assert reply.cursor is None  # nothing will resume it


def test_version_1_exports_come_in_as_one_path(store: Store, tmp_path: Path) -> None:
    document: dict[str, Any] = {
        "format": "sidestream-export",
        "version": 1,
        "chats": [
            {
                "id": 4,
                "title": "Old export",
                "model": "llama3.2",
                "muted": False,
                "created_at": "2025-03-01T10:00:00.500000",
                "updated_at": "2025-03-01T10:05:00",
                "messages": [
                    {
                        "id": 9,
                        "role": "user",
                        "content": "Hi",
                        "status": "complete",
                        "created_at": "2025-03-01T10:00:01",
                    },
                    {
                        "id": 10,
                        "role": "assistant",
                        "content": "Hello!",
                        "status": "complete",
                        "created_at": "2025-03-01T10:00:02",
                        "usage": {"input_tokens": 3, "output_tokens": 2},
                        "input_tokens": 3,
                        "output_tokens": 2,
                    },
                ],
            }
        ],
    }
    import_path(store, write_json(tmp_path / "v1.json", document))
    (session,) = store.list_sessions()
    path = store.active_path(session.id)
    assert [m.content for m in path] == ["Hi", "Hello!"]
    assert path[1].parent_id == path[0].id and path[1].output_tokens == 2
    assert session.model == "llama3.2"
    assert session.created_at.isoformat() == "2025-03-01T10:00:00.500000"


def test_a_local_time_the_clock_change_repeats_has_both_readings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The export writes local time without an offset: 02:30 on the night summer
    time ends in Berlin happened twice. A copy here may carry either instant."""
    monkeypatch.setenv("TZ", "Europe/Berlin")
    time.tzset()
    try:
        instant, readings = from_iso("2024-10-27T02:30:00", "created_at", "Chat 1")
        assert len(readings) == 2 and instant == readings[0]
        assert (readings[1] - readings[0]).total_seconds() == 3600
        assert from_iso("2024-10-28T02:30:00", "created_at", "Chat 1")[1] == (
            from_iso("2024-10-28T02:30:00", "created_at", "Chat 1")[0],
        )
        aware, (only,) = from_iso("2024-10-27T02:30:00+01:00", "created_at", "Chat 1")
        assert aware == only and aware.hour == 1
    finally:
        monkeypatch.undo()
        time.tzset()


def test_reading_a_file_writes_nothing_anywhere(tmp_path: Path) -> None:
    with Store.open(tmp_path / "source") as source:
        fill(source)
        path = write_json(tmp_path / "export.json", exported(source))
    batch = read_import_file(path)
    assert [chat.title for chat in batch.chats] == [
        "Trip plans",
        "Other chat",
        "An empty chat",
        "With a system turn",
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export.json", "source"]


def test_a_reply_streaming_here_is_recognised_by_its_text_so_far(store: Store) -> None:
    """Its text is partly in chunks while it streams; the match reads them too."""
    chat = store.create_session("Live")
    store.add_message(chat.id, Role.USER, "Count")
    live = store.add_message(chat.id, Role.ASSISTANT, status=MessageStatus.STREAMING)
    store.flush_streaming([StreamFlush(live.id, "1, 2"), StreamFlush(live.id, ", 3")])
    path = write_json(store.path.parent.parent / "live.json", exported(store))
    before = dump(store)
    assert import_path(store, path).chats_unchanged == 1
    assert dump(store) == before
