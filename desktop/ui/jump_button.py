"""The "↓ Latest" button that floats over a transcript the user scrolled up in
while a reply streams: one click (or Space on it) goes back to the end and
follows the reply again."""

from __future__ import annotations

from PySide6.QtCore import QRect, Qt
from PySide6.QtWidgets import QToolButton, QWidget

JUMP_TEXT = "↓ Latest"
JUMP_NAME = "Jump to latest"
MARGIN_PX = 12


class JumpButton(QToolButton):
    """A small button kept in the bottom-right corner of a rectangle."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("jumpToLatest")
        self.setText(JUMP_TEXT)
        self.setToolTip("Scroll to the newest text and follow the reply")
        self.setAccessibleName(JUMP_NAME)
        self.setAccessibleDescription("Scrolls to the end of the chat and follows the reply")
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.hide()

    def place(self, area: QRect) -> None:
        """Sit in the bottom-right corner of ``area`` (in the parent's coordinates)."""
        self.adjustSize()
        self.move(
            area.right() - self.width() - MARGIN_PX + 1,
            area.bottom() - self.height() - MARGIN_PX + 1,
        )
        self.raise_()
