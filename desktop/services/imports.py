"""ImportService: bring chats in from an export file while the app runs (Qt-free).

The file is read and checked on a worker thread (a large ChatGPT export
takes seconds to parse, and the event loop must not wait), then written on
the StreamManager's writer thread in one transaction, ordered with the
replies' writes (the rule in :mod:`desktop.services`). Either way it
fails, a bad file (found before anything is written) or a store that cannot
take the chats (the transaction keeps nothing of them), it raises
:class:`ImportFailed` with the words to show.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from desktop.importer import (
    MAX_IMPORT_BYTES,
    NOTHING_IMPORTED,
    ImportBatch,
    ImportFileError,
    ImportReport,
    import_batch,
    read_import_file,
)
from desktop.store import Store, StoreError
from desktop.streaming.manager import StreamManager

log = logging.getLogger("sidestream.import")


class ImportFailed(RuntimeError):
    """An import that did not happen; ``str()`` says why, for the user (nothing was
    imported). The file's or the store's own error is its ``__cause__``."""


class ImportService:
    def __init__(
        self, store: Store, manager: StreamManager, *, max_bytes: int = MAX_IMPORT_BYTES
    ) -> None:
        self._store = store
        self._manager = manager
        self._max_bytes = max_bytes

    async def import_file(self, path: Path) -> ImportReport:
        """Import the chats in ``path``; what it did, for the user (``report.summary()``).

        Raises :class:`ImportFailed`.
        """
        try:
            batch: ImportBatch = await asyncio.to_thread(
                read_import_file, Path(path), max_bytes=self._max_bytes
            )
        except ImportFileError as exc:
            log.debug("Not imported: %s", exc)  # its words may hold a chat title
            raise ImportFailed(str(exc)) from exc
        try:
            report: ImportReport = await self._manager.run_store(import_batch, self._store, batch)
        except StoreError as exc:
            log.warning("Import of %s failed: %s", path, exc.message)
            raise ImportFailed(f"{exc.message} {NOTHING_IMPORTED}") from exc
        return report
