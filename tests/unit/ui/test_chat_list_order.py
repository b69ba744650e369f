"""The chat list in the store's order (pinned first, newest activity, newest id),
its scopes (all chats, a folder, the archive) and their counts, and the pin mark."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from pytestqt.qtbot import QtBot

from desktop.core.models import Session
from desktop.store import Store
from desktop.ui.chat_list import (
    ArchivedRole,
    ChatFilterModel,
    ChatListModel,
    FolderRole,
    IdRole,
    PinnedRole,
)
from desktop.ui.chat_scope import ALL_CHATS, ARCHIVED, ChatScope, ScopeCounts, ScopeKind
from desktop.ui.sidebar import Sidebar

BASE = datetime(2025, 6, 11, 15, 30, 0)


def chat(
    session_id: int,
    minutes_ago: float,
    *,
    title: str = "",
    pinned: bool = False,
    archived: bool = False,
    folder: str = "",
) -> Session:
    when = BASE - timedelta(minutes=minutes_ago)
    return Session(
        id=session_id,
        title=title or f"Chat {session_id}",
        provider_id=None,
        model="sidestream-demo",
        muted=False,
        created_at=when,
        updated_at=when,
        pinned=pinned,
        archived=archived,
        folder=folder,
    )


def ids(model: ChatListModel | ChatFilterModel) -> list[int]:
    return [model.index(r, 0).data(IdRole) for r in range(model.rowCount())]


def filtered(model: ChatListModel, scope: ChatScope, query: str = "") -> list[int]:
    proxy = ChatFilterModel()
    proxy.setSourceModel(model)
    proxy.set_scope(scope)
    proxy.set_query(query)
    return ids(proxy)


# ----------------------------------------------------------------------- order
def test_pinned_chats_lead_then_newest_activity_then_newest_id() -> None:
    model = ChatListModel()
    model.set_chats(
        [
            chat(1, 10),
            chat(2, 1),
            chat(3, 500, pinned=True),
            chat(4, 10),  # the same instant as 1: the newer id first
            chat(5, 5, pinned=True),
            chat(6, 0),
        ]
    )
    assert ids(model) == [5, 3, 6, 2, 4, 1]
    assert model.index_of(3).data(PinnedRole) is True
    assert model.index_of(1).data(PinnedRole) is False


def test_pinning_moves_a_chat_to_the_top_and_unpinning_back_to_its_place() -> None:
    model = ChatListModel()
    model.set_chats([chat(i, i * 10) for i in range(1, 6)])
    assert ids(model) == [1, 2, 3, 4, 5]
    model.upsert(chat(4, 40, pinned=True))
    assert ids(model) == [4, 1, 2, 3, 5]
    model.upsert(chat(2, 20, pinned=True))
    assert ids(model) == [2, 4, 1, 3, 5]  # among pinned ones, newest activity first
    # New activity in an unpinned chat never passes a pinned one.
    model.upsert(chat(5, 0))
    assert ids(model) == [2, 4, 5, 1, 3]
    model.upsert(chat(4, 40))
    assert ids(model) == [2, 5, 1, 3, 4]
    # A new chat comes in below the pinned ones.
    model.upsert(chat(9, -1))
    assert ids(model) == [2, 9, 5, 1, 3, 4]


def test_the_model_keeps_the_stores_order_through_every_change(store: Store) -> None:
    """The model's own order and the store's query agree, as chats are pinned,
    touched, archived, unpinned and added (ties in time included)."""
    made = [store.create_session(f"chat {i}") for i in range(12)]
    chats = [s.id for s in made]
    rng = random.Random(17)
    model = ChatListModel()
    listed = store.list_sessions(archived=None)
    model.set_chats(rng.sample(listed, len(listed)))  # the model sorts for itself
    assert ids(model) == [s.id for s in listed]
    for step in range(40):
        session_id = rng.choice(chats)
        action = rng.choice(["pin", "unpin", "touch", "archive", "unarchive", "new"])
        if action == "pin":
            store.set_pinned(session_id, True)
        elif action == "unpin":
            store.set_pinned(session_id, False)
        elif action == "touch":
            store.touch_session(session_id)
        elif action == "archive":
            store.set_archived(session_id, True)
        elif action == "unarchive":
            store.set_archived(session_id, False)
        else:
            session_id = store.create_session(f"new {step}").id
            chats.append(session_id)
        session = store.get_session(session_id)
        assert session is not None
        model.upsert(session)
        assert ids(model) == [s.id for s in store.list_sessions(archived=None)], (step, action)
        for scope, archived in ((ALL_CHATS, False), (ARCHIVED, True)):
            expected = [s.id for s in store.list_sessions(archived=archived)]
            assert filtered(model, scope) == expected, (step, action, scope)


def test_the_model_passes_the_model_tester_through_pins_archives_and_folders(
    qtmodeltester: object,
) -> None:
    model = ChatListModel()
    model.set_chats([chat(i, i * 10) for i in range(1, 7)])
    qtmodeltester.check(model)  # type: ignore[attr-defined]
    model.upsert(chat(5, 50, pinned=True))
    model.upsert(chat(2, 20, archived=True))
    model.upsert(chat(3, 30, folder="Work"))
    model.upsert(chat(4, 40, folder="Work", pinned=True))
    model.rename_folder("Work", "Jobs")
    model.rename_folder("Jobs", "")
    model.upsert(chat(5, 50))
    model.remove(1)
    qtmodeltester.check(model)  # type: ignore[attr-defined]


def test_accessible_text_says_pinned_archived_and_the_folder() -> None:
    model = ChatListModel()
    model.set_chats(
        [chat(1, 0, title="Plans", pinned=True, folder="Trips"), chat(2, 1, archived=True)]
    )
    text = model.index_of(1).data(Qt.ItemDataRole.AccessibleTextRole)
    assert text == "Plans — Pinned — in folder Trips"
    assert "Archived" in model.index_of(2).data(Qt.ItemDataRole.AccessibleTextRole)
    assert model.index_of(1).data(Qt.ItemDataRole.ToolTipRole) == text
    assert model.index_of(2).data(ArchivedRole) is True
    assert model.index_of(1).data(FolderRole) == "Trips"


# ---------------------------------------------------------------------- scopes
def test_scopes_filter_the_list_and_the_title_filter_works_within_them() -> None:
    model = ChatListModel()
    model.set_chats(
        [
            chat(1, 1, title="Rust lifetimes", folder="Code"),
            chat(2, 2, title="Rust async", folder="Code", archived=True),
            chat(3, 3, title="Dinner", folder="Home"),
            chat(4, 4, title="rusty bike"),
            chat(5, 5, title="Old rust notes", archived=True),
            chat(6, 6, title="Pinned code", folder="Code", pinned=True),
        ]
    )
    assert filtered(model, ALL_CHATS) == [6, 1, 3, 4]
    assert filtered(model, ChatScope.in_folder("Code")) == [6, 1]
    assert filtered(model, ChatScope.in_folder("Home")) == [3]
    assert filtered(model, ChatScope.in_folder("Nowhere")) == []
    assert filtered(model, ARCHIVED) == [2, 5]
    assert filtered(model, ALL_CHATS, "RUST") == [1, 4]
    assert filtered(model, ChatScope.in_folder("Code"), "rust") == [1]
    assert filtered(model, ARCHIVED, "rust") == [2, 5]
    assert filtered(model, ARCHIVED, "async") == [2]


def test_a_row_leaves_and_joins_the_scope_shown_as_it_changes(qtmodeltester: object) -> None:
    model = ChatListModel()
    model.set_chats([chat(i, i) for i in range(1, 5)])
    proxy = ChatFilterModel()
    proxy.setSourceModel(model)
    qtmodeltester.check(proxy)  # type: ignore[attr-defined]
    model.set_streaming(2, True)
    model.upsert(chat(2, 2, archived=True))
    assert ids(proxy) == [1, 3, 4]
    assert model.is_streaming(2)  # the model still knows it streams
    proxy.set_scope(ARCHIVED)
    assert ids(proxy) == [2]
    model.upsert(chat(2, 2))  # unarchived elsewhere (the Chat menu)
    assert ids(proxy) == []
    proxy.set_scope(ChatScope.in_folder("Work"))
    model.upsert(chat(3, 3, folder="Work"))
    model.upsert(chat(1, 1, folder="Work"))
    assert ids(proxy) == [1, 3]
    model.rename_folder("Work", "Jobs")
    assert ids(proxy) == []
    proxy.set_scope(ChatScope.in_folder("Jobs"))
    assert ids(proxy) == [1, 3]
    qtmodeltester.check(proxy)  # type: ignore[attr-defined]


def test_counts_follow_every_change_and_say_so() -> None:
    model = ChatListModel()
    changes: list[ScopeCounts] = []
    model.counts_changed.connect(lambda: changes.append(model.counts()))
    model.set_chats(
        [
            chat(1, 1, folder="work"),
            chat(2, 2, folder="Home"),
            chat(3, 3, folder="Work", archived=True),
            chat(4, 4),
            chat(5, 5, archived=True),
        ]
    )
    assert model.counts() == ScopeCounts(
        listed=3, folders=(("Home", 1), ("Work", 0), ("work", 1)), archived=2
    )
    assert model.folders() == ["Home", "Work", "work"]
    assert model.folder_size("Work") == 1 and model.folder_size("") == 0
    changes.clear()
    model.upsert(chat(4, 0))  # touched: no count changes
    model.set_unread(4, True)
    assert changes == []
    model.upsert(chat(4, 0, folder="Home"))
    assert changes[-1].folders[0] == ("Home", 2)
    model.upsert(chat(1, 1, folder="work", archived=True))
    assert changes[-1].listed == 2 and changes[-1].archived == 3
    model.rename_folder("Home", "")
    assert changes[-1].folders == (("Work", 0), ("work", 0))
    model.remove(5)
    assert changes[-1].archived == 2
    model.upsert(chat(9, 0, folder="New"))
    assert ("New", 1) in changes[-1].folders and changes[-1].listed == 3


# ---------------------------------------------------------------- the setting
@pytest.mark.parametrize(
    "scope", [ALL_CHATS, ARCHIVED, ChatScope.in_folder("Work"), ChatScope.in_folder("a “b” & c")]
)
def test_a_scope_survives_its_setting(scope: ChatScope) -> None:
    assert ChatScope.from_setting(scope.to_setting()) == scope


@pytest.mark.parametrize(
    "value",
    [
        None,
        "all",
        3,
        [],
        {},
        {"show": "nonsense"},
        {"show": "folder"},
        {"show": "folder", "folder": 1},
    ],
)
def test_an_unreadable_scope_setting_means_all_chats(value: object) -> None:
    assert ChatScope.from_setting(value) == ALL_CHATS


def test_scope_labels() -> None:
    assert ALL_CHATS.label == "All chats" and ARCHIVED.label == "Archived"
    assert ChatScope.in_folder("Work").label == "Work"
    assert ChatScope.in_folder("Work").kind is ScopeKind.FOLDER


# ----------------------------------------------------------------- the pin mark
def _row(sidebar: Sidebar, session_id: int) -> QImage:
    index = sidebar.proxy.mapFromSource(sidebar.model.index_of(session_id))
    return sidebar.view.viewport().grab(sidebar.view.visualRect(index)).toImage()


def test_the_delegate_draws_a_pin_on_pinned_rows_only(qtbot: QtBot) -> None:
    sidebar = Sidebar()
    qtbot.addWidget(sidebar)
    sidebar.resize(300, 400)
    sidebar.model.set_chats([chat(1, 0, title="Same"), chat(2, 0, title="Same")])
    sidebar.show()
    qtbot.waitExposed(sidebar)
    assert _row(sidebar, 1) == _row(sidebar, 2)
    sidebar.model.upsert(chat(1, 0, title="Same", pinned=True))
    mark, plain = _row(sidebar, 1), _row(sidebar, 2)
    assert mark != plain
    # The pin is at the right of the title line; the left (the title) is as before.
    width = mark.width()
    assert mark.copy(0, 0, width // 2, mark.height()) == plain.copy(0, 0, width // 2, mark.height())
    assert mark.copy(width - 40, 0, 40, mark.height() // 2) != plain.copy(
        width - 40, 0, 40, mark.height() // 2
    )
