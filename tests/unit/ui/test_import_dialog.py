"""File, Import offscreen: a bad file gets a plain warning and changes nothing;
a good one a summary and the ids of the chats it added."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QWidget
from pytestqt.qtbot import QtBot

from desktop.services import Services
from desktop.ui.import_dialog import ChatImporter
from tests.unit.importer.helpers import CHATGPT


def importer_in(qtbot: QtBot, services: Services) -> ChatImporter:
    window = QWidget()
    qtbot.addWidget(window)
    return ChatImporter(services.imports, window)


def test_a_bad_file_is_a_plain_warning_and_changes_nothing(
    qtbot: QtBot, services: Services, tmp_path: Path
) -> None:
    importer = importer_in(qtbot, services)
    bad = tmp_path / "<b>notes.json"
    bad.write_text('{"hello": "<img src=file:///dev/zero>"}')
    with qtbot.waitSignal(importer.failed, timeout=10_000) as failed:
        importer.import_file(bad)
    box = importer.message
    assert box is not None and box.isVisible()
    assert box.icon() == QMessageBox.Icon.Warning
    assert box.textFormat() == Qt.TextFormat.PlainText  # a file name is not markup
    assert box.text() == "<b>notes.json was not imported."
    assert box.informativeText() == failed.args[0]
    assert "not a chat export Sidestream knows" in failed.args[0]
    assert failed.args[0].endswith("Nothing was imported.")
    assert services.chat.chats() == []
    qtbot.waitUntil(lambda: not importer.running)
    box.accept()


def test_a_good_file_says_what_came_in_and_names_the_chats(
    qtbot: QtBot, services: Services
) -> None:
    importer = importer_in(qtbot, services)
    with qtbot.waitSignal(importer.imported, timeout=10_000) as imported:
        importer.import_file(CHATGPT)
    assert sorted(imported.args[0]) == sorted(s.id for s in services.chat.chats())
    assert len(imported.args[0]) == 2
    box = importer.message
    assert box is not None and box.icon() == QMessageBox.Icon.Information
    assert box.text().startswith("Imported 2 chats (9 messages) from a ChatGPT export.")
    # Again: nothing new, and the box says so (the first box makes room for it).
    with qtbot.waitSignal(importer.imported, timeout=10_000) as again:
        importer.import_file(CHATGPT)
    assert again.args[0] == []
    assert importer.message is not None and importer.message is not box
    assert importer.message.text().startswith("Nothing new in a ChatGPT export.")
    importer.message.accept()
