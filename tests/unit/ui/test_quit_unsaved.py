"""Quit while the disk is full: the app says what is not on disk, waits and retries,
or quits anyway when told to, saying what is lost (issue 13, item 6).

Real services and window (as in ``test_tray.py``); the full disk is SQLite's
page limit on the writer thread's connection, as in the reliability suite.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from desktop.app import QuitChoice, SidestreamApp
from desktop.core.states import InterruptReason, MessageStatus, Role
from desktop.providers.demo.server import DemoOptions, DemoServer
from desktop.services import Services
from desktop.store import Store
from desktop.ui.main_window import MainWindow
from tests.support.aio import run_on_qloop
from tests.unit.ui.conftest import WAIT_MS, Asker, has_text, start_reply

FAST = DemoOptions(rate=2000, tokens=40_000)
# Held in memory before Quit: far more than the pages the final write frees
# by dropping the reply's chunks, so that it cannot fit on the full disk either.
HELD = 40_000


def fill_disk(services: Services) -> None:
    def fill() -> None:  # on the writer thread, whose connection writes
        db = services.store._db
        pages = db.execute_sql("PRAGMA page_count").fetchone()[0]
        db.execute_sql(f"PRAGMA max_page_count = {pages}")

    run_on_qloop(services.manager.run_store(fill))


def free_disk(services: Services) -> None:
    def free() -> None:
        services.store._db.execute_sql("PRAGMA max_page_count = 1073741823")

    run_on_qloop(services.manager.run_store(free))


def stored_reply(data: Path, session_id: int) -> tuple[MessageStatus, str, str | None]:
    with Store.open(data) as store:
        [reply] = [m for m in store.list_messages(session_id) if m.role is Role.ASSISTANT]
        return reply.status, reply.content, reply.reason


def quit_while_the_disk_is_full(
    qtbot: QtBot, app: SidestreamApp, services: Services, window: MainWindow, asker: Asker
) -> tuple[int, str]:
    """A reply streams, the disk fills, Quit (stop and quit): the dialog is up."""
    current = window.current_tab()
    assert current is not None
    start_reply(services, current.session_id)
    qtbot.waitUntil(lambda: has_text(services, current.session_id, 200), timeout=WAIT_MS)
    fill_disk(services)
    qtbot.waitUntil(lambda: services.manager.store_refusal is not None, timeout=WAIT_MS)

    def held() -> int:
        return sum(r.unsaved for r in services.manager.unsaved_replies())

    qtbot.waitUntil(lambda: held() > HELD, timeout=WAIT_MS)
    asker.answer = QuitChoice.QUIT
    app.request_quit()
    assert asker.asked, "the replies were still streaming: Quit asks about them first"
    qtbot.waitUntil(lambda: app.unsaved_dialog is not None, timeout=WAIT_MS)
    dialog = app.unsaved_dialog
    assert dialog is not None
    qtbot.waitUntil(dialog.isVisible, timeout=WAIT_MS)
    assert not app.quit_confirmed, "it must not quit while text is not on disk"
    snapshot_text = dialog.headline.text()
    return current.session_id, snapshot_text


@pytest.fixture(autouse=True)
def fast_demo(demo: DemoServer) -> None:
    demo.defaults = FAST


def test_quit_on_a_full_disk_waits_says_what_is_unsaved_and_quits_once_it_is_written(
    qtbot: QtBot,
    app: SidestreamApp,
    services: Services,
    window: MainWindow,
    asker: Asker,
    tmp_path: Path,
) -> None:
    session_id, headline = quit_while_the_disk_is_full(qtbot, app, services, window, asker)
    [unsaved] = services.manager.unsaved_replies()
    assert f"{unsaved.unsaved:,} characters of 1 reply are not on disk yet." == headline
    dialog = app.unsaved_dialog
    assert dialog is not None
    assert "the disk is full" in dialog.problem.text()
    title = services.chat.chat(session_id).title  # type: ignore[union-attr]
    assert f"“{title}” would keep only its first {unsaved.saved:,} characters" in (
        dialog.loss.text()
    )
    qtbot.waitUntil(lambda: "Tried 2 times" in dialog.attempts.text(), timeout=WAIT_MS)
    assert not app.quit_confirmed

    free_disk(services)
    qtbot.waitUntil(lambda: app.quit_confirmed, timeout=WAIT_MS)
    assert app.unsaved_dialog is None
    assert services.manager.unsaved_replies() == []
    text = unsaved.saved + unsaved.unsaved
    run_on_qloop(app.shutdown())
    status, content, reason = stored_reply(tmp_path / "data", session_id)
    assert (status, reason) == (MessageStatus.INTERRUPTED, InterruptReason.APP_QUIT.value)
    assert len(content) >= text


def test_quit_anyway_on_a_full_disk_quits_keeping_what_was_saved(
    qtbot: QtBot,
    app: SidestreamApp,
    services: Services,
    window: MainWindow,
    asker: Asker,
    tmp_path: Path,
) -> None:
    session_id, _ = quit_while_the_disk_is_full(qtbot, app, services, window, asker)
    [unsaved] = services.manager.unsaved_replies()
    dialog = app.unsaved_dialog
    assert dialog is not None
    dialog.quit_button.click()
    qtbot.waitUntil(lambda: app.quit_confirmed, timeout=WAIT_MS)
    run_on_qloop(app.shutdown())
    status, content, _ = stored_reply(tmp_path / "data", session_id)
    # What was named as kept is what is on disk; the next start marks it interrupted.
    assert status is MessageStatus.STREAMING
    assert len(content) == unsaved.saved


def test_keep_open_on_a_full_disk_cancels_the_quit_and_saves_later(
    qtbot: QtBot,
    app: SidestreamApp,
    services: Services,
    window: MainWindow,
    asker: Asker,
) -> None:
    session_id, _ = quit_while_the_disk_is_full(qtbot, app, services, window, asker)
    dialog = app.unsaved_dialog
    assert dialog is not None
    dialog.keep_button.click()
    qtbot.waitUntil(lambda: app.unsaved_dialog is None, timeout=WAIT_MS)
    assert not app.quitting and not app.quit_confirmed
    free_disk(services)
    qtbot.waitUntil(lambda: not services.manager.unsaved_replies(), timeout=WAIT_MS)
    message = services.chat.messages(session_id)[-1]
    assert message.status is MessageStatus.INTERRUPTED
