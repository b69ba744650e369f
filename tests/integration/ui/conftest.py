"""The real window on real services: store in tmp_path, the demo server, qasync
(``qloop`` and ``services`` come from ``tests/conftest.py``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pytestqt.qtbot import QtBot

from desktop.services import Services
from desktop.ui.main_window import MainWindow


@pytest.fixture
def window(qtbot: QtBot, services: Services) -> Iterator[MainWindow]:
    win = MainWindow(
        services.chat,
        services.settings,
        demo_only=services.demo_only,
        presets=services.presets,
        imports=services.imports,
        attachments=services.attachments,
    )
    qtbot.addWidget(win)
    win.allow_close = True
    win.show()
    qtbot.waitExposed(win)
    yield win
