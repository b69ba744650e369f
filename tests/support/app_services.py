"""Real services for Qt-layer tests: a qasync loop that finalises async generators,
a store in a temporary folder, the shared demo server, a memory keyring.

The loop is :func:`tests.support.qt.running_qasync_loop` (registered as
running, advancing while Qt spins) plus the async-generator hooks that
``run_forever`` would install: without them an httpx byte stream left
suspended after a reply's last event is closed by the garbage collector
outside the loop ("async generator ignored GeneratorExit"), which pytest
reports as an unraisable exception.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import keyring
import qasync
from PySide6.QtWidgets import QApplication

from desktop.providers.demo.server import DemoServer
from desktop.services import Services, build_services
from desktop.store import KeyStore, Store
from tests.support.qt import MemoryKeyring, complete, running_qasync_loop


@contextmanager
def qasync_loop(qapp: QApplication) -> Iterator[qasync.QEventLoop]:
    with running_qasync_loop(qapp) as loop:
        saved = sys.get_asyncgen_hooks()
        sys.set_asyncgen_hooks(
            firstiter=loop._asyncgen_firstiter_hook,
            finalizer=loop._asyncgen_finalizer_hook,
        )
        try:
            yield loop
            complete(qapp, loop.shutdown_asyncgens())
        finally:
            sys.set_asyncgen_hooks(*saved)


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
