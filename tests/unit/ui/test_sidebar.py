"""The chat list: model order and updates, search, painting, the spinner timer, the context menu."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from PySide6.QtCore import QEvent, QObject, QPoint, Qt
from PySide6.QtGui import QContextMenuEvent, QImage, QPaintEvent, QRegion
from PySide6.QtWidgets import QMenu, QWidget
from pytestqt.qtbot import QtBot

from desktop.core.models import Session
from desktop.ui.chat_list import (
    ChatListModel,
    IdRole,
    MutedRole,
    SessionRole,
    StreamingRole,
    UnreadRole,
    relative_time,
)
from desktop.ui.sidebar import Sidebar

NOW = datetime(2025, 6, 11, 15, 30, 0)


def show_active(qtbot: QtBot, widget: QWidget) -> None:
    """Show a top-level widget and wait until it is the active window (keyboard focus works)."""
    with qtbot.waitActive(widget, timeout=5000):
        widget.show()
        widget.activateWindow()


def chat(
    session_id: int,
    title: str,
    minutes_ago: float,
    *,
    muted: bool = False,
    unread: bool = False,
) -> Session:
    when = datetime.now() - timedelta(minutes=minutes_ago)
    return Session(
        id=session_id,
        title=title,
        provider_id=None,
        model="sidestream-demo",
        muted=muted,
        created_at=when,
        updated_at=when,
        unread=unread,
    )


def ids(model: ChatListModel) -> list[int]:
    return [model.index(r, 0).data(IdRole) for r in range(model.rowCount())]


@pytest.fixture
def sidebar(qtbot: QtBot) -> Iterator[Sidebar]:
    widget = Sidebar()
    qtbot.addWidget(widget)
    widget.resize(300, 500)
    widget.model.set_chats(
        [
            chat(1, "Rust lifetimes", 300),
            chat(2, "Dinner recipes", 5),
            chat(3, "Trip to Lisbon", 60 * 30),
            chat(4, "rust async traits", 1),
        ]
    )
    yield widget


# ----------------------------------------------------------------------- model
def test_model_passes_the_model_tester_through_inserts_moves_and_removes(
    qtmodeltester: object,
) -> None:
    model = ChatListModel()
    model.set_chats([chat(i, f"Chat {i}", i * 10) for i in range(1, 6)])
    qtmodeltester.check(model)  # type: ignore[attr-defined]
    # The Qt tester stays attached and checks every change below.
    model.upsert(chat(10, "new", 0))  # insert at the top
    model.upsert(chat(11, "old", 10_000))  # insert at the bottom
    model.upsert(chat(3, "Chat 3 touched", 0.5))  # move up
    model.upsert(chat(10, "new, now older", 20_000))  # move down to the end
    model.upsert(chat(2, "Chat 2 renamed", 20))  # update in place
    model.set_streaming(2, True)
    model.set_unread(4, True)
    model.set_muted(5, True)
    model.remove(3)
    model.remove(999)  # unknown: nothing happens
    model.set_chats([chat(7, "after reset", 1)])
    qtmodeltester.check(model)  # type: ignore[attr-defined]


def test_rows_are_newest_first_and_upsert_moves_a_row_to_the_top(sidebar: Sidebar) -> None:
    model = sidebar.model
    assert ids(model) == [4, 2, 1, 3]
    moves: list[tuple[int, int]] = []
    model.rowsMoved.connect(
        lambda _p, start, _e, _d, dest: moves.append((start, dest))  # type: ignore[misc]
    )
    model.upsert(chat(3, "Trip to Lisbon", 0))
    assert ids(model) == [3, 4, 2, 1]
    assert moves == [(3, 0)]
    assert model.row_of(3) == 0 and model.row_of(1) == 3
    assert model.session_at(0) is not None and model.session_at(0).title == "Trip to Lisbon"  # type: ignore[union-attr]
    assert model.session_at(99) is None and model.row_of(99) is None


def test_upsert_inserts_new_chats_in_place_and_updates_in_place(sidebar: Sidebar) -> None:
    model = sidebar.model
    inserted: list[int] = []
    model.rowsInserted.connect(lambda _p, first, _last: inserted.append(first))
    model.upsert(chat(5, "Between", 30))
    assert ids(model) == [4, 2, 5, 1, 3] and inserted == [2]
    changed: list[int] = []
    model.dataChanged.connect(lambda top, _bottom, _roles: changed.append(top.row()))
    model.upsert(chat(5, "Between (renamed)", 30))
    assert ids(model) == [4, 2, 5, 1, 3]
    assert changed == [2]
    assert model.index(2, 0).data() == "Between (renamed)"


def test_state_roles_and_unread_survives_upsert(sidebar: Sidebar) -> None:
    model = sidebar.model
    model.set_streaming(2, True)
    model.set_unread(1, True)
    model.set_muted(3, True)
    index = model.index_of
    assert index(2).data(StreamingRole) is True
    assert index(1).data(UnreadRole) is True and index(1).data(StreamingRole) is False
    assert index(3).data(MutedRole) is True
    session = index(3).data(SessionRole)
    assert isinstance(session, Session) and session.muted and session.id == 3
    # The store's copy does not know about the unread mark yet: the model keeps it.
    model.upsert(chat(1, "Rust lifetimes", 0))
    assert index(1).data(UnreadRole) is True
    model.set_unread(1, False)
    assert index(1).data(UnreadRole) is False
    assert "replying now" in index(2).data(Qt.ItemDataRole.ToolTipRole)


def test_the_model_keeps_its_own_copies_of_sessions(sidebar: Sidebar) -> None:
    original = chat(9, "Mine", 0)
    sidebar.model.upsert(original)
    original.title = "changed behind the model's back"
    assert sidebar.model.index_of(9).data() == "Mine"


def test_streaming_mark_set_before_the_row_exists_shows_when_it_is_added() -> None:
    model = ChatListModel()
    model.set_streaming(42, True)
    assert not model.has_streaming()
    model.upsert(chat(42, "late", 0))
    assert model.has_streaming() and model.streaming_rows() == [0]
    model.remove(42)
    assert not model.has_streaming() and not model.is_streaming(42)


# ---------------------------------------------------------------------- search
def test_search_filters_titles_case_insensitively(sidebar: Sidebar, qtbot: QtBot) -> None:
    proxy = sidebar.proxy
    assert proxy.rowCount() == 4
    qtbot.keyClicks(sidebar.search, "RUST")
    assert [proxy.index(r, 0).data(IdRole) for r in range(proxy.rowCount())] == [4, 1]
    sidebar.search.setText("lisb")
    assert proxy.rowCount() == 1 and proxy.session_at(0).id == 3  # type: ignore[union-attr]
    sidebar.search.setText("nothing like this")
    assert proxy.rowCount() == 0
    assert "nothing like this" in sidebar.view.empty_text
    sidebar.search.clear()
    assert proxy.rowCount() == 4
    # A row that moves while filtered stays filtered correctly.
    sidebar.search.setText("rust")
    sidebar.model.upsert(chat(1, "Rust lifetimes", 0))
    assert [proxy.index(r, 0).data(IdRole) for r in range(proxy.rowCount())] == [1, 4]


def test_focus_search_and_enter_in_search_opens_the_first_match(
    sidebar: Sidebar, qtbot: QtBot
) -> None:
    show_active(qtbot, sidebar)
    sidebar.focus_search()
    assert sidebar.search.hasFocus()
    qtbot.keyClicks(sidebar.search, "dinner")
    with qtbot.waitSignal(sidebar.chat_activated) as blocker:
        qtbot.keyClick(sidebar.search, Qt.Key.Key_Return)
    assert blocker.args == [2]
    qtbot.keyClick(sidebar.search, Qt.Key.Key_Escape)
    assert sidebar.search.text() == ""


# ------------------------------------------------------------------- activation
def test_click_and_enter_activate_a_chat_once(sidebar: Sidebar, qtbot: QtBot) -> None:
    show_active(qtbot, sidebar)
    activated: list[int] = []
    sidebar.chat_activated.connect(activated.append)
    view = sidebar.view
    rect = view.visualRect(sidebar.proxy.index(1, 0))
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert activated == [2]
    view.setFocus()
    view.setCurrentIndex(sidebar.proxy.index(2, 0))
    qtbot.keyClick(view, Qt.Key.Key_Return)
    assert activated == [2, 1]
    with qtbot.waitSignal(sidebar.delete_requested) as deleted:
        qtbot.keyClick(view, Qt.Key.Key_Delete)
    assert deleted.args == [1]
    with qtbot.waitSignal(sidebar.rename_requested) as renamed:
        qtbot.keyClick(view, Qt.Key.Key_F2)
    assert renamed.args == [1]


def test_new_chat_button_emits(sidebar: Sidebar, qtbot: QtBot) -> None:
    with qtbot.waitSignal(sidebar.new_chat_requested):
        qtbot.mouseClick(sidebar.new_button, Qt.MouseButton.LeftButton)


def test_select_chat_highlights_without_activating(sidebar: Sidebar, qtbot: QtBot) -> None:
    with qtbot.assertNotEmitted(sidebar.chat_activated):
        sidebar.select_chat(1)
    assert sidebar.view.currentIndex().data(IdRole) == 1
    sidebar.select_chat(None)
    assert not sidebar.view.selectionModel().hasSelection()


# ------------------------------------------------------------------ context menu
def _action(menu: QMenu, name: str) -> object:
    found = [a for a in menu.actions() if a.objectName() == name]
    assert len(found) == 1, [a.objectName() for a in menu.actions()]
    return found[0]


def test_context_menu_actions_emit_the_right_signals(sidebar: Sidebar, qtbot: QtBot) -> None:
    menu = sidebar.context_menu(2)
    assert menu is not None
    texts = [a.text() for a in menu.actions() if not a.isSeparator()]
    assert texts == [
        "Open",
        "Rename…",
        "Pin",
        "Mute notifications",
        "Move to &folder",
        "Archive",
        "Delete…",
    ]
    with qtbot.waitSignal(sidebar.chat_activated) as opened:
        _action(menu, "openChat").trigger()  # type: ignore[attr-defined]
    assert opened.args == [2]
    with qtbot.waitSignal(sidebar.rename_requested) as renamed:
        _action(menu, "renameChat").trigger()  # type: ignore[attr-defined]
    assert renamed.args == [2]
    with qtbot.waitSignal(sidebar.mute_toggled) as muted:
        _action(menu, "toggleMute").trigger()  # type: ignore[attr-defined]
    assert muted.args == [2, True]
    with qtbot.waitSignal(sidebar.delete_requested) as deleted:
        _action(menu, "deleteChat").trigger()  # type: ignore[attr-defined]
    assert deleted.args == [2]
    # The sidebar only asks; the window mutes and tells the model.
    assert sidebar.model.index_of(2).data(MutedRole) is False

    sidebar.model.set_muted(2, True)
    menu = sidebar.context_menu(2)
    assert menu is not None
    unmute = _action(menu, "toggleMute")
    assert unmute.text() == "Unmute notifications"  # type: ignore[attr-defined]
    with qtbot.waitSignal(sidebar.mute_toggled) as unmuted:
        unmute.trigger()  # type: ignore[attr-defined]
    assert unmuted.args == [2, False]
    assert sidebar.context_menu(12345) is None


def test_right_click_pops_up_the_menu_of_the_chat_under_the_mouse(
    sidebar: Sidebar, qtbot: QtBot
) -> None:
    show_active(qtbot, sidebar)
    view = sidebar.view
    pos = view.visualRect(sidebar.proxy.index(0, 0)).center()
    with qtbot.waitSignal(view.context_menu_requested) as requested:
        event = QContextMenuEvent(
            QContextMenuEvent.Reason.Mouse, pos, view.viewport().mapToGlobal(pos)
        )
        view.contextMenuEvent(event)
    assert requested.args[0] == 4
    menu = sidebar._menu
    assert menu is not None
    qtbot.waitUntil(menu.isVisible, timeout=2000)
    menu.close()
    # Right click on empty space: no menu.
    with qtbot.assertNotEmitted(view.context_menu_requested):
        empty = QPoint(10, view.viewport().height() - 5)
        view.contextMenuEvent(
            QContextMenuEvent(
                QContextMenuEvent.Reason.Mouse, empty, view.viewport().mapToGlobal(empty)
            )
        )


# ------------------------------------------------------------ painting, spinner
def _row_image(sidebar: Sidebar, row: int) -> QImage:
    rect = sidebar.view.visualRect(sidebar.proxy.index(row, 0))
    return sidebar.view.viewport().grab(rect).toImage()


def test_delegate_paints_streaming_unread_and_muted_rows(sidebar: Sidebar, qtbot: QtBot) -> None:
    show_active(qtbot, sidebar)
    plain = _row_image(sidebar, 1)
    sidebar.model.set_streaming(4, True)
    sidebar.model.set_unread(2, True)
    sidebar.model.set_muted(2, True)
    sidebar.model.upsert(chat(5, "A very long title " * 10, 2))
    image = sidebar.grab().toImage()
    assert not image.isNull() and image.width() == sidebar.width()
    # The marks change the pixels of their row.
    assert _row_image(sidebar, 2) != plain  # row 2 is now chat 2 (chat 5 came in above)
    # Two spinner frames differ: the animation is really drawn.
    delegate = sidebar.view.chat_delegate
    delegate.phase = 0.0
    first = _row_image(sidebar, 0)
    delegate.phase = 0.5
    second = _row_image(sidebar, 0)
    assert first != second
    # Empty list paints its hint without error.
    sidebar.model.set_chats([])
    assert not sidebar.grab().toImage().isNull()


def test_delegate_paints_with_a_dark_palette(sidebar: Sidebar, qtbot: QtBot) -> None:
    from PySide6.QtGui import QColor, QPalette

    palette = QPalette()
    for role, color in (
        (QPalette.ColorRole.Window, "#202124"),
        (QPalette.ColorRole.Base, "#1b1b1d"),
        (QPalette.ColorRole.Text, "#e8e8e8"),
        (QPalette.ColorRole.WindowText, "#e8e8e8"),
    ):
        palette.setColor(role, QColor(color))
    sidebar.setPalette(palette)
    sidebar.model.set_streaming(1, True)
    sidebar.model.set_unread(2, True)
    sidebar.model.set_muted(3, True)
    show_active(qtbot, sidebar)
    assert not sidebar.grab().toImage().isNull()


def test_spinner_timer_runs_only_while_something_streams(sidebar: Sidebar, qtbot: QtBot) -> None:
    view = sidebar.view
    show_active(qtbot, sidebar)
    assert not view.spinner_running()
    sidebar.model.set_streaming(2, True)
    assert view.spinner_running()
    # The timer repaints streaming rows: the phase advances.
    start = view.chat_delegate.phase
    qtbot.waitUntil(lambda: view.chat_delegate.phase != start, timeout=2000)
    sidebar.model.set_streaming(1, True)
    sidebar.model.set_streaming(2, False)
    assert view.spinner_running()
    sidebar.model.set_streaming(1, False)
    assert not view.spinner_running()
    # Hidden (window in the tray): no animation even while streaming.
    sidebar.model.set_streaming(3, True)
    assert view.spinner_running()
    sidebar.hide()
    assert not view.spinner_running()
    sidebar.show()
    assert view.spinner_running()
    # Removing the streaming chat stops it too; so does a reset without it.
    sidebar.model.remove(3)
    assert not view.spinner_running()
    sidebar.model.set_streaming(4, True)
    sidebar.model.set_chats([chat(1, "only", 1)])
    assert not view.spinner_running()


def test_a_spinner_tick_repaints_only_the_spinners(sidebar: Sidebar, qtbot: QtBot) -> None:
    view = sidebar.view
    show_active(qtbot, sidebar)
    sidebar.model.set_streaming(1, True)
    sidebar.model.set_streaming(3, True)
    spinners = QRegion()
    for session_id in (1, 3):
        row = sidebar.proxy.mapFromSource(sidebar.model.index_of(session_id))
        mark = view.chat_delegate.mark_rect(view.visualRect(row), view.font())
        spinners |= QRegion(mark.toAlignedRect())
    painted: list[QRegion] = []

    class Spy(QObject):
        def eventFilter(self, watched: QObject, event: QEvent) -> bool:
            if isinstance(event, QPaintEvent):
                painted.append(QRegion(event.region()))
            return False

    spy = Spy()
    qtbot.wait(50)  # the paints of showing the window are over
    view.viewport().installEventFilter(spy)
    qtbot.waitUntil(lambda: len(painted) >= 3, timeout=3000)
    view.viewport().removeEventFilter(spy)
    for region in painted:
        assert region.subtracted(spinners).isEmpty(), region.boundingRect()


def test_a_spinner_painted_alone_looks_as_in_a_full_row(sidebar: Sidebar, qtbot: QtBot) -> None:
    view = sidebar.view
    show_active(qtbot, sidebar)
    sidebar.model.set_streaming(2, True)
    view.spinner_timer.stop()
    delegate = view.chat_delegate
    delegate.phase = 0.3
    row_rect = view.visualRect(sidebar.proxy.mapFromSource(sidebar.model.index_of(2)))
    mark = delegate.mark_rect(row_rect, view.font()).toAlignedRect()
    fast_paints: list[bool] = []
    original = delegate._paint_spinner_only

    def spy(*args: Any) -> bool:
        fast_paints.append(original(*args))
        return fast_paints[-1]

    delegate._paint_spinner_only = spy  # type: ignore[method-assign]
    whole = view.viewport().grab(row_rect).toImage()
    assert fast_paints == [False]  # the whole row exposed: the full paint
    alone = view.viewport().grab(mark).toImage()
    assert fast_paints == [False, True]  # only the spinner exposed
    expected = whole.copy(mark.translated(-row_rect.topLeft()))
    assert alone.convertToFormat(expected.format()) == expected
    delegate.phase = 0.6
    assert view.viewport().grab(mark).toImage() != alone  # and it turns


# ----------------------------------------------------------------- relative time
@pytest.mark.parametrize(
    ("delta", "expected"),
    [
        (timedelta(seconds=-30), "just now"),
        (timedelta(seconds=10), "just now"),
        (timedelta(minutes=2), "2 min ago"),
        (timedelta(minutes=59), "59 min ago"),
        (timedelta(hours=3), "3 h ago"),
        (timedelta(hours=20), "Yesterday"),
        (timedelta(days=3), "Sunday"),
        (timedelta(days=40), "2 May"),
        (timedelta(days=400), "7 May 2024"),
    ],
)
def test_relative_time(delta: timedelta, expected: str) -> None:
    assert relative_time(NOW - delta, NOW) == expected


# ------------------------------------------------- icons (drawn in the sidebar too)
def test_app_and_tray_icons_load_from_resources(qapp: object) -> None:
    from desktop.ui import icons

    assert (icons.resources_dir() / "icons" / "sidestream.svg").is_file()
    sizes = {s.width() for s in icons.app_icon().availableSizes()}
    assert sizes == set(icons.APP_ICON_SIZES)
    idle = icons.tray_icon(False).pixmap(22, 22).toImage()
    live = icons.tray_icon(True).pixmap(22, 22).toImage()
    assert not idle.isNull() and not live.isNull() and idle != live
    assert not icons.tray_icon(True, symbolic=True).isNull()
    for make in (icons.muted_icon, icons.bell_icon, icons.unread_icon, icons.send_icon):
        assert not make().pixmap(16, 16).toImage().isNull()


def test_resources_dir_follows_a_pyinstaller_bundle(
    qapp: object, tmp_path: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys
    from pathlib import Path

    from desktop.ui import icons

    bundle = Path(str(tmp_path))
    (bundle / "resources" / "icons").mkdir(parents=True)
    monkeypatch.setattr(sys, "_MEIPASS", str(bundle), raising=False)
    assert icons.resources_dir() == bundle / "resources"
    # The bundle lacks the files: the icon is drawn instead of missing.
    assert not icons.app_icon().isNull()
    assert not icons.tray_icon(True).isNull()
    monkeypatch.delattr(sys, "_MEIPASS")
    assert icons.resources_dir() == Path(icons.__file__).resolve().parents[2] / "resources"
