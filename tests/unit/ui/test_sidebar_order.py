"""The sidebar's order controls: the scope selector above the list, the chat
menu's Pin / Archive / Move to folder, and the keys that open the menus."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMenu
from pytestqt.qtbot import QtBot

from desktop.ui.chat_list import IdRole
from desktop.ui.chat_scope import ALL_CHATS, ARCHIVED, ChatScope
from desktop.ui.sidebar import Sidebar
from tests.unit.ui.test_chat_list_order import chat
from tests.unit.ui.test_sidebar import show_active


@pytest.fixture
def sidebar(qtbot: QtBot) -> Iterator[Sidebar]:
    widget = Sidebar()
    qtbot.addWidget(widget)
    widget.resize(320, 520)
    widget.model.set_chats(
        [
            chat(1, 1, title="Rust lifetimes", folder="Code"),
            chat(2, 2, title="Dinner recipes", folder="Home"),
            chat(3, 3, title="Rust async", folder="Code", archived=True),
            chat(4, 4, title="Trip to Lisbon", pinned=True),
            chat(5, 5, title="Old notes", archived=True),
        ]
    )
    yield widget


def shown(sidebar: Sidebar) -> list[int]:
    proxy = sidebar.proxy
    return [proxy.index(r, 0).data(IdRole) for r in range(proxy.rowCount())]


def combo_texts(sidebar: Sidebar) -> list[str]:
    combo = sidebar.selector.combo
    return [combo.itemText(i) for i in range(combo.count()) if combo.itemText(i)]


def actions(menu: QMenu) -> dict[str, object]:
    return {a.text(): a for a in menu.actions() if not a.isSeparator()}


# -------------------------------------------------------------------- selector
def test_the_selector_lists_every_scope_with_its_count(sidebar: Sidebar) -> None:
    assert combo_texts(sidebar) == ["All chats (3)", "Code (1)", "Home (1)", "Archived (2)"]
    assert sidebar.selector.combo.currentText() == "All chats (3)"
    assert shown(sidebar) == [4, 1, 2]
    # A chat moving in or out changes the counts at once.
    sidebar.model.upsert(chat(2, 2, title="Dinner recipes", folder="Code"))
    assert combo_texts(sidebar) == ["All chats (3)", "Code (2)", "Archived (2)"]
    sidebar.model.upsert(chat(1, 1, title="Rust lifetimes", folder="Code", archived=True))
    assert combo_texts(sidebar) == ["All chats (2)", "Code (1)", "Archived (3)"]


def test_choosing_a_scope_in_the_combo_filters_the_list(sidebar: Sidebar, qtbot: QtBot) -> None:
    show_active(qtbot, sidebar)
    combo = sidebar.selector.combo
    combo.setFocus()
    with qtbot.waitSignal(sidebar.scope_changed) as changed:
        qtbot.keyClick(combo, Qt.Key.Key_Down)  # the next entry: the folder "Code"
    assert changed.args == [ChatScope.in_folder("Code")]
    assert shown(sidebar) == [1]
    assert sidebar.scope == ChatScope.in_folder("Code")
    assert not sidebar.view.chat_delegate.show_folders  # every row is in "Code"
    with qtbot.waitSignal(sidebar.scope_changed) as changed:
        qtbot.keyClick(combo, Qt.Key.Key_End)
    assert changed.args == [ARCHIVED]
    assert shown(sidebar) == [3, 5]
    # The title filter works within the scope shown.
    qtbot.keyClicks(sidebar.search, "rust")
    assert shown(sidebar) == [3]
    sidebar.search.setText("lisbon")
    assert shown(sidebar) == []
    assert sidebar.view.empty_text == "No chats in the archive match “lisbon”"
    sidebar.search.clear()
    sidebar.set_scope(ALL_CHATS)
    assert shown(sidebar) == [4, 1, 2] and sidebar.view.chat_delegate.show_folders
    assert combo.currentText() == "All chats (3)"


def test_empty_scopes_say_so(sidebar: Sidebar) -> None:
    sidebar.set_scope(ChatScope.in_folder("Home"))
    sidebar.model.upsert(chat(2, 2, title="Dinner recipes"))
    assert shown(sidebar) == []
    # The folder shown stays offered (with 0) while it is shown.
    assert "Home (0)" in combo_texts(sidebar)
    assert sidebar.view.empty_text.startswith("No chats in “Home”.")
    sidebar.set_scope(ALL_CHATS)
    assert "Home (0)" not in combo_texts(sidebar)
    sidebar.model.set_chats([chat(5, 5, archived=True)])
    assert sidebar.view.empty_text.startswith("Every chat is archived.")
    sidebar.model.set_chats([])
    sidebar.set_scope(ARCHIVED)
    assert sidebar.view.empty_text.startswith("No archived chats.")


def test_the_folder_menu_renames_and_dissolves_the_folder_shown(
    sidebar: Sidebar, qtbot: QtBot
) -> None:
    selector = sidebar.selector
    assert not selector.rename_action.isEnabled() and not selector.button.isEnabled()
    sidebar.set_scope(ChatScope.in_folder("Code"))
    assert selector.rename_action.isEnabled() and selector.dissolve_action.isEnabled()
    with qtbot.waitSignal(sidebar.rename_folder_requested) as renamed:
        selector.rename_action.trigger()
    assert renamed.args == ["Code"]
    with qtbot.waitSignal(sidebar.dissolve_folder_requested) as dissolved:
        selector.dissolve_action.trigger()
    assert dissolved.args == ["Code"]
    # From the keyboard: Shift+F10 (or the menu key) on the combo opens it.
    show_active(qtbot, sidebar)
    selector.combo.setFocus()
    qtbot.keyClick(selector.combo, Qt.Key.Key_F10, Qt.KeyboardModifier.ShiftModifier)
    qtbot.waitUntil(selector.menu.isVisible, timeout=2000)
    selector.menu.close()


# ------------------------------------------------------------------ chat menu
def test_pin_and_archive_in_the_chat_menu(sidebar: Sidebar, qtbot: QtBot) -> None:
    menu = sidebar.context_menu(1)
    assert menu is not None
    found = actions(menu)
    with qtbot.waitSignal(sidebar.pin_toggled) as pinned:
        found["Pin"].trigger()  # type: ignore[attr-defined]
    assert pinned.args == [1, True]
    with qtbot.waitSignal(sidebar.archive_toggled) as archived:
        found["Archive"].trigger()  # type: ignore[attr-defined]
    assert archived.args == [1, True]
    menu = sidebar.context_menu(4)  # pinned
    assert menu is not None
    with qtbot.waitSignal(sidebar.pin_toggled) as unpinned:
        actions(menu)["Unpin"].trigger()  # type: ignore[attr-defined]
    assert unpinned.args == [4, False]
    menu = sidebar.context_menu(5)  # archived
    assert menu is not None
    with qtbot.waitSignal(sidebar.archive_toggled) as unarchived:
        actions(menu)["Unarchive"].trigger()  # type: ignore[attr-defined]
    assert unarchived.args == [5, False]


def test_move_to_folder_offers_the_folders_a_new_one_and_out(
    sidebar: Sidebar, qtbot: QtBot
) -> None:
    menu = sidebar.context_menu(1)  # in "Code"
    assert menu is not None
    sub = menu.findChild(QMenu, "moveToFolderMenu")
    assert sub is not None
    found = actions(sub)
    assert list(found) == ["Code", "Home", "&New folder…", "&Remove from folder"]
    code = found["Code"]
    assert code.isChecked() and not code.isEnabled()  # type: ignore[attr-defined]
    with qtbot.waitSignal(sidebar.folder_chosen) as chosen:
        found["Home"].trigger()  # type: ignore[attr-defined]
    assert chosen.args == [1, "Home"]
    with qtbot.waitSignal(sidebar.folder_chosen) as removed:
        found["&Remove from folder"].trigger()  # type: ignore[attr-defined]
    assert removed.args == [1, ""]
    with qtbot.waitSignal(sidebar.new_folder_requested) as new:
        found["&New folder…"].trigger()  # type: ignore[attr-defined]
    assert new.args == [1]
    # A chat in no folder cannot be taken out of one; "&" in a name is no mnemonic.
    sidebar.model.upsert(chat(2, 2, title="Dinner recipes", folder="R&D"))
    menu = sidebar.context_menu(4)
    assert menu is not None
    sub = menu.findChild(QMenu, "moveToFolderMenu")
    assert sub is not None
    found = actions(sub)
    assert "R&&D" in found
    assert not found["&Remove from folder"].isEnabled()  # type: ignore[attr-defined]
    with qtbot.waitSignal(sidebar.folder_chosen) as chosen:
        found["R&&D"].trigger()  # type: ignore[attr-defined]
    assert chosen.args == [4, "R&D"]


@pytest.mark.parametrize(
    ("key", "modifier"),
    [
        (Qt.Key.Key_Menu, Qt.KeyboardModifier.NoModifier),
        (Qt.Key.Key_F10, Qt.KeyboardModifier.ShiftModifier),
    ],
)
def test_the_menu_key_and_shift_f10_open_the_chat_menu(
    sidebar: Sidebar, qtbot: QtBot, key: Qt.Key, modifier: Qt.KeyboardModifier
) -> None:
    show_active(qtbot, sidebar)
    view = sidebar.view
    view.setFocus()
    view.setCurrentIndex(sidebar.proxy.index(1, 0))  # chat 1
    with qtbot.waitSignal(view.context_menu_requested) as requested:
        qtbot.keyClick(view, key, modifier)
    assert requested.args[0] == 1
    menu = sidebar._menu
    assert menu is not None
    qtbot.waitUntil(menu.isVisible, timeout=2000)
    assert "Pin" in actions(menu)
    menu.close()
