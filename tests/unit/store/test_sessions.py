"""Sessions, providers and settings: CRUD, ordering, search, cascades."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from desktop.core.models import GenerationParams, ProviderKind, Session, StoredProvider
from desktop.core.states import MessageStatus, Role
from desktop.store import Store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "data") as opened:
        yield opened


def test_create_and_get_session(store: Store) -> None:
    before = datetime.now() - timedelta(seconds=1)
    created = store.create_session("First chat", model="gpt-x")
    assert isinstance(created, Session)
    assert created.title == "First chat"
    assert created.model == "gpt-x"
    assert created.provider_id is None
    assert created.muted is False
    assert created.unread is False
    # Handed out as local time, like the defaults of the core records.
    assert before <= created.created_at <= datetime.now() + timedelta(seconds=1)
    assert store.get_session(created.id) == created
    assert store.get_session(created.id + 100) is None


def test_session_mutators(store: Store) -> None:
    provider = store.add_provider("local", ProviderKind.OPENAI_CHAT, "http://127.0.0.1:1/v1", "m")
    s = store.create_session("old")
    store.rename_session(s.id, "new")
    store.set_session_model(s.id, provider.id, "big-model")
    store.set_muted(s.id, True)
    store.set_unread(s.id, True)
    got = store.get_session(s.id)
    assert got is not None
    assert (got.title, got.provider_id, got.model, got.muted, got.unread) == (
        "new",
        provider.id,
        "big-model",
        True,
        True,
    )
    assert store.is_unread(s.id)
    assert store.unread_session_ids() == {s.id}
    store.set_unread(s.id, False)
    store.set_muted(s.id, False)
    got = store.get_session(s.id)
    assert got is not None and not got.unread and not got.muted
    assert store.unread_session_ids() == set()
    # Unknown ids are a no-op, not an error.
    store.rename_session(9999, "x")
    store.touch_session(9999)


def test_list_sessions_newest_updated_first(store: Store) -> None:
    a = store.create_session("a")
    b = store.create_session("b")
    c = store.create_session("c")
    assert [s.id for s in store.list_sessions()] == [c.id, b.id, a.id]
    store.touch_session(a.id)
    assert [s.id for s in store.list_sessions()] == [a.id, c.id, b.id]
    store.add_message(b.id, Role.USER, "hi")  # a new message is activity too
    assert [s.id for s in store.list_sessions()] == [b.id, a.id, c.id]
    # ... renaming, muting or switching model is not.
    store.set_muted(c.id, True)
    store.rename_session(c.id, "renamed")
    store.set_session_model(c.id, None, "other-model")
    store.set_unread(c.id, True)
    assert [s.id for s in store.list_sessions()] == [b.id, a.id, c.id]
    assert [s.id for s in store.list_sessions(limit=2)] == [b.id, a.id]
    assert store.count_sessions() == 3


def test_search_is_a_case_insensitive_substring(store: Store) -> None:
    store.create_session("Python tips")
    store.create_session("Ärger mit STRAẞE")
    store.create_session("100% sure_thing")

    def titles(query: str) -> list[str]:
        return sorted(s.title for s in store.list_sessions(search=query))

    assert titles("PYTHON") == ["Python tips"]
    assert titles("thon ti") == ["Python tips"]
    assert titles("ärger") == ["Ärger mit STRAẞE"]  # beyond ASCII
    assert titles("strasse") == ["Ärger mit STRAẞE"]  # casefold, not lower
    # LIKE wildcards are plain characters here.
    assert titles("%") == ["100% sure_thing"]
    assert titles("_") == ["100% sure_thing"]
    assert titles("nothing") == []
    assert len(store.list_sessions(search="")) == 3


def test_delete_session_cascades_to_messages_and_chunks(store: Store) -> None:
    from desktop.store import StreamFlush

    keep = store.create_session("keep")
    gone = store.create_session("gone")
    kept = store.add_message(keep.id, Role.USER, "stays")
    store.add_message(gone.id, Role.USER, "q")
    reply = store.add_message(gone.id, Role.ASSISTANT, status=MessageStatus.STREAMING)
    store.flush_streaming([StreamFlush(reply.id, "partial")])
    store.delete_session(gone.id)
    assert store.get_session(gone.id) is None
    assert store.list_messages(gone.id) == []
    assert store.get_message(reply.id) is None
    rows = store._db.execute_sql("SELECT COUNT(*) FROM message_chunks").fetchone()[0]
    assert rows == 0
    assert store.list_messages(keep.id) == [kept]
    assert store.count_sessions() == 1


def test_providers_crud(store: Store) -> None:
    p = store.add_provider(
        "OpenAI", ProviderKind.OPENAI_RESPONSES, "https://api.openai.com/v1", "m1"
    )
    assert isinstance(p, StoredProvider)
    assert (p.name, p.kind, p.base_url, p.default_model) == (
        "OpenAI",
        ProviderKind.OPENAI_RESPONSES,
        "https://api.openai.com/v1",
        "m1",
    )
    q = store.add_provider("Claude", ProviderKind.ANTHROPIC, "https://api.anthropic.com", "c")
    assert store.list_providers() == [p, q]
    assert store.get_provider(q.id) == q
    assert store.get_provider(999) is None
    with pytest.raises(ValueError, match="exists"):
        store.add_provider("OpenAI", ProviderKind.OPENAI_CHAT, "http://x", "")

    updated = store.update_provider(p.id, default_model="m2")
    assert updated == StoredProvider(
        p.id, "OpenAI", ProviderKind.OPENAI_RESPONSES, p.base_url, "m2"
    )
    # Positional, as the settings service calls it.
    updated = store.update_provider(p.id, "Open", ProviderKind.OPENAI_CHAT, "http://h/v1", "m3")
    assert updated == StoredProvider(p.id, "Open", ProviderKind.OPENAI_CHAT, "http://h/v1", "m3")
    assert store.get_provider(p.id) == updated
    assert store.update_provider(999, name="x") is None
    with pytest.raises(ValueError, match="exists"):
        store.update_provider(p.id, name="Claude")


def test_deleting_a_provider_keeps_its_chats(store: Store) -> None:
    p = store.add_provider("demo", ProviderKind.OPENAI_CHAT, "http://127.0.0.1:9/v1", "demo")
    s = store.create_session("chat", p.id, "demo")
    store.delete_provider(p.id)
    assert store.list_providers() == []
    got = store.get_session(s.id)
    assert got is not None and got.provider_id is None and got.model == "demo"


def test_settings_are_json(store: Store) -> None:
    assert store.get_setting("missing") is None
    assert store.get_setting("missing", 5) == 5
    store.set_setting("max_streams", 5)
    store.set_setting("window", {"w": 800, "h": 600, "tabs": [1, 2], "name": "Ünï"})
    store.set_setting("flag", False)
    assert store.get_setting("max_streams") == 5
    assert store.get_setting("window") == {"w": 800, "h": 600, "tabs": [1, 2], "name": "Ünï"}
    assert store.get_setting("flag", True) is False
    store.set_setting("max_streams", 7)
    assert store.get_setting("max_streams") == 7
    store.set_setting("nothing", None)
    assert store.get_setting("nothing", "default") is None  # stored null is not "missing"
    with pytest.raises(TypeError):
        store.set_setting("bad", object())


def test_settings_survive_reopen(tmp_path: Path) -> None:
    with Store.open(tmp_path / "data") as first:
        first.set_setting("k", [1, "two"])
        s = first.create_session("persisted")
    with Store.open(tmp_path / "data") as second:
        assert second.get_setting("k") == [1, "two"]
        assert second.get_session(s.id) == s


def test_the_list_reads_each_chat_as_fetching_it_alone_does(store: Store) -> None:
    """list_sessions builds chats from plain rows (fast at 10,000); get_session
    from peewee's: every field must come out the same."""
    provider = store.add_provider("Local", ProviderKind.OPENAI_CHAT, "http://127.0.0.1:9/v1")
    preset = store.add_preset("Terse", system_prompt="Be brief.")
    full = store.create_session(
        "Everything set",
        provider.id,
        "m1",
        system_prompt="Be kind.",
        params=GenerationParams(temperature=0.3, max_output_tokens=99),
        preset_id=preset.id,
    )
    store.add_message(full.id, Role.USER, "hi")
    store.set_muted(full.id, True)
    store.set_unread(full.id, True)
    store.set_pinned(full.id, True)
    store.set_folder(full.id, "Work")
    bare = store.create_session("Nothing set")
    listed = {s.id: s for s in store.list_sessions()}
    assert listed[full.id] == store.get_session(full.id)
    assert listed[bare.id] == store.get_session(bare.id)
    assert listed[full.id].params.temperature == 0.3 and listed[full.id].active_leaf_id


def test_pinned_lead_the_list_and_archived_leave_it(store: Store) -> None:
    old, middle, new = (store.create_session(t) for t in ("old", "middle", "new"))
    for s in (old, middle, new):
        store.add_message(s.id, Role.USER, "activity")  # updated in this order
    store.set_pinned(old.id, True)
    store.set_archived(middle.id, True)
    store.set_folder(new.id, "Work")
    assert [s.title for s in store.list_sessions()] == ["old", "new"]
    assert [s.title for s in store.list_sessions(archived=True)] == ["middle"]
    assert [s.title for s in store.list_sessions(archived=None)] == ["old", "new", "middle"]
    assert [s.title for s in store.list_sessions(folder="Work")] == ["new"]
    assert [s.title for s in store.list_sessions(folder="")] == ["old"]
    assert store.folders() == ["Work"]
    assert store.rename_folder("Work", "") == 1 and store.folders() == []
