"""Shared fixtures: the real demo server on loopback, real SQLite stores, and for
the Qt tests the qasync loop (``qloop``) and the app's real services on both."""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator
from pathlib import Path

import keyring
import PySide6.QtWidgets  # noqa: F401  (import PySide6 before qasync)
import pytest
import qasync
from PySide6.QtWidgets import QApplication

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from desktop.providers.demo.server import DemoOptions, DemoServer
from desktop.services import Services
from desktop.store import Store
from tests.support.aio import run_on_qloop
from tests.support.qt import running_qasync_loop
from tests.support.services import MemoryKeyring, services_on


@pytest.fixture(scope="session")
def demo_server() -> Iterator[DemoServer]:
    server = DemoServer(defaults=DemoOptions(rate=0, tokens=60))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def demo(demo_server: DemoServer) -> Iterator[DemoServer]:
    """The shared demo server with its defaults restored after the test."""
    saved = demo_server.defaults
    demo_server.defaults = DemoOptions(rate=0, tokens=60)
    yield demo_server
    demo_server.defaults = saved


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store.open(tmp_path / "data")
    yield s
    s.close()


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    """The process's keyring, in memory for the test (the OS keyring stays untouched)."""
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


@pytest.fixture
def qloop(qapp: QApplication) -> Iterator[qasync.QEventLoop]:
    """The qasync loop, running while the test spins Qt; leftover tasks fail the test."""
    with running_qasync_loop(qapp) as loop:
        yield loop


@pytest.fixture
def services(
    qloop: qasync.QEventLoop, demo: DemoServer, memory_keyring: MemoryKeyring, tmp_path: Path
) -> Iterator[Services]:
    """The app's services on a new store in ``tmp_path / "data"`` and the shared demo server."""
    built = services_on(demo, Store.open(tmp_path / "data"))
    yield built
    run_on_qloop(built.aclose())


@pytest.fixture(autouse=True)
def collect_on_the_main_thread() -> Iterator[None]:
    """Collect cycles here, never in a server or writer thread (see desktop.ui.collector).

    Automatic collection is off for the whole run, as in the app; a cycle
    holding a Qt object collected off the GUI thread would crash.
    """
    gc.disable()
    yield
    gc.collect()
