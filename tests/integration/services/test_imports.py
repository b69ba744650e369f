"""ImportService on the real services: chats in through the writer thread; a bad
file or a store that cannot take the chats is one ImportFailed, with the words to
show, and nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest

from desktop.providers.demo.server import DemoServer
from desktop.services.imports import ImportFailed
from desktop.store import Store, StoreError
from tests.support.aio import run
from tests.support.services import MemoryKeyring, services_on
from tests.unit.importer.helpers import CHATGPT, dump


def test_import_then_the_chats_are_there_and_failures_say_why(
    tmp_path: Path, demo: DemoServer, memory_keyring: MemoryKeyring
) -> None:
    services = services_on(demo, Store.open(tmp_path / "data"))
    store = services.store

    async def scenario() -> None:
        report = await services.imports.import_file(CHATGPT)
        assert set(report.session_ids) == {s.id for s in services.chat.chats()}
        before = dump(store)

        bad = tmp_path / "bad.json"
        bad.write_text('{"format": "sidestream-export", "version": 9, "chats": []}')
        with pytest.raises(ImportFailed) as info:
            await services.imports.import_file(bad)
        assert str(info.value) == (
            "bad.json is a Sidestream export of version 9; this Sidestream reads versions 1 "
            "to 3. It was written by a newer Sidestream: update this one. Nothing was imported."
        )

        # The writer thread's connection may grow the file by one page only: a full disk.
        def fill_disk() -> None:
            pages = store._db.execute_sql("PRAGMA page_count").fetchone()[0]
            store._db.execute_sql(f"PRAGMA max_page_count = {pages + 1}")

        def free_disk() -> None:
            store._db.execute_sql("PRAGMA max_page_count = 1073741823")

        await services.manager.run_store(fill_disk)
        try:
            other = tmp_path / "other.json"
            other.write_text(CHATGPT.read_text().replace("How often", "How " * 50_000 + "often"))
            with pytest.raises(ImportFailed) as info:
                await services.imports.import_file(other)
        finally:
            await services.manager.run_store(free_disk)
        assert isinstance(info.value.__cause__, StoreError)
        assert str(info.value).endswith("the disk is full. Nothing was imported.")
        assert dump(store) == before
        await services.aclose()

    run(scenario())
