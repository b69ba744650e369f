"""Real services for Qt-layer tests: a store in a temporary folder, the shared
demo server, a memory keyring, on the qasync loop of :mod:`tests.support.qt`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import keyring
from PySide6.QtWidgets import QApplication

from desktop.providers.demo.server import DemoServer
from desktop.services import Services, build_services
from desktop.store import KeyStore, Store
from tests.support.qt import MemoryKeyring, complete, running_qasync_loop

qasync_loop = running_qasync_loop


@contextmanager
def real_services(qapp: QApplication, demo: DemoServer, data_dir: Path) -> Iterator[Services]:
    """Services on a new store in ``data_dir`` and the (shared) demo server; closed after."""
    previous = keyring.get_keyring()
    keyring.set_keyring(MemoryKeyring())
    try:
        built = build_services(Store.open(data_dir), KeyStore(), demo=demo)
        built.demo = None  # the session's demo server outlives the test
        try:
            yield built
        finally:
            complete(qapp, built.aclose())
    finally:
        keyring.set_keyring(previous)
