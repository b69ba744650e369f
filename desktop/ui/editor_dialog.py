"""A dialog that asks before the user's edits are thrown away.

Cancel, Esc and the title bar's close button ask "Discard changes?" when
something was edited (:meth:`EditorDialog.is_edited`). A close that comes
from the program instead (the window or the app going away, a test's
teardown) is not the user's choice and asks nothing: a modal question then
would block the quit.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QDialog, QMessageBox, QWidget

from desktop.ui.plain import ask


class EditorDialog(QDialog):
    """Subclasses say what was edited (:meth:`is_edited`) and how to ask
    (:attr:`discard_question`)."""

    discard_question = "Discard your changes?"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._ask_before_discarding = True
        # Asks before edits are thrown away; tests replace it.
        self.confirm: Callable[[str, str], bool] = self._ask

    def is_edited(self) -> bool:
        return False

    def reject(self) -> None:
        if (
            self._ask_before_discarding
            and self.is_edited()
            and not self.confirm("Discard changes", self.discard_question)
        ):
            return
        super().reject()

    def closeEvent(self, event: QCloseEvent) -> None:
        # QDialog's closeEvent rejects; only the user's own close asks first.
        self._ask_before_discarding = event.spontaneous()
        try:
            super().closeEvent(event)
        finally:
            self._ask_before_discarding = True

    def _ask(self, title: str, question: str) -> bool:
        answer = ask(
            self,
            title,
            question,
            QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel,
        )
        return answer == QMessageBox.StandardButton.Discard
