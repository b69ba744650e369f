"""Damage in the database a start did not read is found once the window shows, and
said plainly (a start checks only the tables it reads first; issue 17's start goal)."""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox

from desktop.app import SidestreamApp
from desktop.core.states import Role
from desktop.services import Services
from tests.support.aio import run_on_qloop


def test_damage_found_after_start_is_said_and_marked_for_the_next_start(
    app: SidestreamApp, services: Services
) -> None:
    store = services.store
    session = services.chat.create_chat()
    for i in range(200):
        store.add_message(session.id, Role.USER, f"message {i} " + "q" * 300)

    def checkpoint() -> None:  # every page in the file itself, none left in the -wal
        store._db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")

    run_on_qloop(services.manager.run_store(checkpoint))
    assert run_on_qloop(app.verify_store()) is None  # a whole file: nothing said

    page_size = 4096
    raw = bytearray(store.path.read_bytes())
    for start in range(page_size, len(raw), page_size):
        if b"q" * 100 in raw[start : start + page_size]:
            raw[start : start + page_size] = b"\xa5" * page_size
    store.path.write_bytes(bytes(raw))

    box = run_on_qloop(app.verify_store())
    assert isinstance(box, QMessageBox) and box.isVisible()
    assert "found damage in its database file" in box.text()
    assert "keeps the damaged file aside" in box.text() and box.detailedText()
    assert store.path.with_name("sidestream.db.check-failed").exists()
    box.close()
