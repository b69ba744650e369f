"""The real window on real services: store in tmp_path, the demo server, qasync."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import qasync
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from desktop.providers.demo.server import DemoServer
from desktop.services import Services
from desktop.ui.main_window import MainWindow
from tests.support.app_services import real_services
from tests.support.qt import running_qasync_loop


@pytest.fixture
def qloop(qapp: QApplication) -> Iterator[qasync.QEventLoop]:
    with running_qasync_loop(qapp) as loop:
        yield loop


@pytest.fixture
def services(
    qapp: QApplication, qloop: qasync.QEventLoop, demo: DemoServer, tmp_path: Path
) -> Iterator[Services]:
    with real_services(qapp, demo, tmp_path / "data") as built:
        yield built


@pytest.fixture
def window(qtbot: QtBot, services: Services) -> Iterator[MainWindow]:
    win = MainWindow(services.chat, services.settings, demo_only=services.demo_only)
    qtbot.addWidget(win)
    win.allow_close = True
    win.show()
    qtbot.waitExposed(win)
    yield win
