"""The real window on real services: store in tmp_path, the demo server, qasync."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest
import qasync
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from desktop.providers.demo.server import DemoServer
from desktop.services import Services, build_services
from desktop.store import KeyStore, Store
from desktop.ui.main_window import MainWindow
from tests.support.qt import MemoryKeyring, complete, running_qasync_loop


@pytest.fixture
def qloop(qapp: QApplication) -> Iterator[qasync.QEventLoop]:
    with running_qasync_loop(qapp) as loop:
        yield loop


@pytest.fixture
def services(
    qapp: QApplication, qloop: qasync.QEventLoop, demo: DemoServer, tmp_path: Path
) -> Iterator[Services]:
    previous = keyring.get_keyring()
    keyring.set_keyring(MemoryKeyring())
    store = Store.open(tmp_path / "data")
    built = build_services(store, KeyStore(), demo=demo)
    built.demo = None  # the session's demo server outlives this test
    yield built
    complete(qapp, built.aclose())
    keyring.set_keyring(previous)


@pytest.fixture
def window(qtbot: QtBot, services: Services) -> Iterator[MainWindow]:
    win = MainWindow(services.chat, services.settings, demo_only=services.demo_only)
    qtbot.addWidget(win)
    win.allow_close = True
    win.show()
    qtbot.waitExposed(win)
    yield win
