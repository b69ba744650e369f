"""``sidestream import FILE``: chats from an export file into the data folder.

The file is read and checked first, before the data folder is touched. The
import then takes the data folder's lock, as the app does: Sidestream never
has two writers on one database, so while the app runs on that folder the
command refuses and says to use File, Import in the window instead (the app
would not know of chats written under it, and a second writer would wait on
the app's). A damaged database is reported and left as it is (the app keeps
it aside when it next starts), never replaced by an empty one here.

Exit code 0 with a one-line summary on standard output, or 1 with the reason
on standard error; either way nothing was half done.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from desktop.importer import (
    NOTHING_IMPORTED,
    ImportBatch,
    ImportFileError,
    import_batch,
    read_import_file,
)
from desktop.store import Store, StoreError, StoreErrorKind, resolve_data_dir
from desktop.store.lock import DataDirLock, DataDirLocked

log = logging.getLogger("sidestream.import")

_PREFIX = "sidestream import: "


def import_main(data_dir: Path | None, file: Path) -> int:
    try:
        batch = read_import_file(file)
    except ImportFileError as exc:
        return _fail(str(exc))
    folder = resolve_data_dir(data_dir)
    lock = DataDirLock(folder)
    try:
        lock.acquire()
    except DataDirLocked:
        return _fail(
            f"Sidestream is running with the data folder {folder}. Use File, Import in its "
            f"window, or quit it and run this again. {NOTHING_IMPORTED}"
        )
    except OSError as exc:
        return _fail(f"Sidestream cannot use the data folder {folder}: {exc}. {NOTHING_IMPORTED}")
    try:
        return _import(folder, batch)
    finally:
        lock.release()


def _import(folder: Path, batch: ImportBatch) -> int:
    try:
        store = Store.open(folder, replace_damaged=False)
    except StoreError as exc:
        hint = ""
        if exc.kind is StoreErrorKind.CORRUPT:
            hint = (
                " The file was left as it is: Sidestream keeps it aside as a backup when it"
                " next starts."
            )
        return _fail(f"{exc.message} {NOTHING_IMPORTED}{hint}")
    try:
        report = import_batch(store, batch)
    except StoreError as exc:
        return _fail(f"{exc.message} {NOTHING_IMPORTED}")
    finally:
        store.close()
    sys.stdout.write(report.summary() + "\n")
    return 0


def _fail(message: str) -> int:
    sys.stderr.write(_PREFIX + message + "\n")
    return 1
