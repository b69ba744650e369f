"""File, Import: choose an export file, import it, and say what happened.

:class:`ChatImporter` asks for the file (a Sidestream JSON export, ChatGPT's
``conversations.json`` or its data-export ``.zip``), runs the import through
the :class:`~desktop.services.imports.ImportService` (the file is read off
the GUI thread and written on the store's writer thread) and then shows one
message box: the summary, or why nothing was imported. The boxes open
window-modal without a nested event loop (``open``, not ``exec``), so the
replies streaming meanwhile stay live on screen.

Its owner connects :attr:`ChatImporter.imported` (the ids of the chats added
or given new messages) to refresh the chat list and open one of them.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox, QWidget

from desktop.core.tasks import TaskKeeper
from desktop.services.imports import ImportFailed, ImportService
from desktop.ui.plain import message_box

log = logging.getLogger("sidestream.ui")

TITLE = "Import chats"
FILE_FILTER = "Chat exports (*.json *.zip);;All files (*)"


class ChatImporter(QObject):
    """The Import action of a window: one import at a time."""

    imported = Signal(list)  # list[int]: chats added, or given new messages (may be empty)
    failed = Signal(str)  # the message shown: why the file was not imported

    def __init__(self, imports: ImportService, window: QWidget) -> None:
        super().__init__(window)
        self._imports = imports
        self._window = window
        self._tasks = TaskKeeper(log)
        self.message: QMessageBox | None = None  # the last box shown (tests read it)

    @property
    def running(self) -> bool:
        return bool(self._tasks.pending())

    def choose_and_import(self) -> None:
        """Ask for a file, then import it (the menu action's slot)."""
        if self.running:
            return
        chosen, _ = QFileDialog.getOpenFileName(self._window, TITLE, str(Path.home()), FILE_FILTER)
        if chosen:
            self.import_file(Path(chosen))

    def import_file(self, path: Path) -> None:
        """Import ``path`` in the background; ignored while an import runs."""
        if self.running:
            return
        self._tasks.spawn(self._import(path), name="import chats")

    def cancel(self) -> None:
        """Stop waiting for an import (the window closes); a write under way
        still ends as one transaction on the writer thread."""
        self._tasks.cancel_all()

    async def _import(self, path: Path) -> None:
        QApplication.setOverrideCursor(Qt.CursorShape.BusyCursor)
        try:
            report = await self._imports.import_file(path)
        except ImportFailed as exc:
            self._show(QMessageBox.Icon.Warning, f"{path.name} was not imported.", str(exc))
            self.failed.emit(str(exc))
            return
        except Exception as exc:  # a bug: logged with its traceback, told in one sentence
            log.error("Importing %s failed", path, exc_info=exc)
            text = (
                f"Sidestream could not finish importing {path.name}: "
                f"{str(exc) or type(exc).__name__}. The details are in the log."
            )
            self._show(QMessageBox.Icon.Critical, f"Importing {path.name} failed.", text)
            self.failed.emit(text)
            return
        finally:
            QApplication.restoreOverrideCursor()
        self._show(QMessageBox.Icon.Information, report.summary())
        self.imported.emit(list(report.session_ids))

    def _show(self, icon: QMessageBox.Icon, text: str, informative: str = "") -> None:
        if self.message is not None:
            self.message.deleteLater()  # one box at a time: the last import's
        box = message_box(self._window, icon, TITLE, text, informative)
        box.setStandardButtons(QMessageBox.StandardButton.Ok)
        self.message = box
        box.open()
