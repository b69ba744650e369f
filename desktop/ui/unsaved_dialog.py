"""The question Quit asks when text is not on disk yet (the disk is full, say).

Quitting then would lose that text, so the dialog says how much, and whose,
while the app keeps trying to save it: it closes by itself, and the app quits,
as soon as everything is written. "Quit anyway" quits losing what it named;
"Keep Sidestream open" cancels the quit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QVBoxLayout, QWidget

from desktop import APP_NAME


@dataclass(frozen=True, slots=True)
class UnsavedText:
    """One reply's text not on disk, as the dialog names it."""

    title: str
    unsaved: int
    saved: int


def _plural(count: int, one: str, many: str) -> str:
    return f"{count:,} {one if count == 1 else many}"


def summary(replies: Sequence[UnsavedText]) -> str:
    total = sum(r.unsaved for r in replies)
    return (
        f"{_plural(total, 'character', 'characters')} of "
        f"{_plural(len(replies), 'reply', 'replies')} "
        f"{'is' if total == 1 else 'are'} not on disk yet."
    )


def what_is_lost(replies: Sequence[UnsavedText]) -> str:
    lines = [
        f"“{r.title}” would keep only its first {_plural(r.saved, 'character', 'characters')}"
        f" ({r.unsaved:,} lost)"
        for r in replies
    ]
    return "Quit anyway and that text is lost: " + "; ".join(lines) + "."


class UnsavedTextDialog(QDialog):
    """Non-modal to the event loop (shown with ``open``): saving goes on behind it."""

    quit_anyway = Signal()
    kept_open = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Quit {APP_NAME}")
        self.setModal(True)
        self.headline = QLabel()
        self.headline.setTextFormat(Qt.TextFormat.PlainText)
        font = self.headline.font()
        font.setBold(True)
        self.headline.setFont(font)
        self.problem = QLabel()
        self.loss = QLabel()
        self.attempts = QLabel()
        for label in (self.headline, self.problem, self.loss, self.attempts):
            label.setTextFormat(Qt.TextFormat.PlainText)  # titles and paths come from outside
            label.setWordWrap(True)
        buttons = QDialogButtonBox()
        self.quit_button = buttons.addButton(
            "&Quit anyway", QDialogButtonBox.ButtonRole.DestructiveRole
        )
        self.keep_button = buttons.addButton(
            "&Keep Sidestream open", QDialogButtonBox.ButtonRole.RejectRole
        )
        self.keep_button.setDefault(True)
        self.quit_button.setAccessibleName("Quit anyway, losing the text not on disk")
        layout = QVBoxLayout(self)
        layout.addWidget(self.headline)
        layout.addWidget(self.problem)
        layout.addWidget(self.loss)
        layout.addWidget(self.attempts)
        layout.addWidget(buttons)
        self.quit_button.clicked.connect(self._on_quit_clicked)
        self.keep_button.clicked.connect(self.reject)
        self.rejected.connect(self.kept_open)
        self.setMinimumWidth(460)

    def show_state(self, replies: Sequence[UnsavedText], problem: str, tries: int) -> None:
        self.headline.setText(summary(replies))
        self.problem.setText(
            f"{problem}\n\nSidestream keeps trying to save it and quits by itself as soon "
            "as it is saved: free some space, or wait."
        )
        self.loss.setText(what_is_lost(replies))
        self.attempts.setText(f"Tried {_plural(tries, 'time', 'times')} so far." if tries else "")

    def _on_quit_clicked(self) -> None:
        self.quit_anyway.emit()
        self.accept()
