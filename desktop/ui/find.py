"""Finding words in a chat's transcript: the slim find bar and the matching.

The words are matched as the store's full-text index matches them
(:func:`desktop.core.search.find_matches`: whole words starting with a query
word, any case, any accents), in the text the view shows, so that what the
sidebar found is what the view highlights. Highlights are
``QTextEdit.ExtraSelection``\\ s: positions painted over the document, never
a change to its text, so a reply keeps streaming beneath them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QColor, QKeyEvent, QTextCharFormat, QTextCursor, QTextDocument
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QTextEdit,
    QToolButton,
    QWidget,
)

from desktop.core.search import find_matches
from desktop.ui.render.document import BLOCK_KIND, BlockKind
from desktop.ui.render.region import Region

# Blocks the view writes itself (headers, status lines, labels) are not
# message text: nothing in them is a match.
_CHROME = {
    BlockKind.HEADER,
    BlockKind.STATUS,
    BlockKind.CODE_LABEL,
    BlockKind.EARLIER,
    BlockKind.THINKING_LINE,
}

MATCH_COLOR = QColor(255, 221, 87)
CURRENT_COLOR = QColor(255, 150, 50)


@dataclass(frozen=True, slots=True)
class Match:
    """One match in the document: ``start``/``end`` positions, and its message."""

    message_id: int
    start: int
    end: int


def matches_in(document: QTextDocument, regions: Sequence[Region], terms: list[str]) -> list[Match]:
    """Every match of ``terms`` in the message text of the rendered ``regions``, in order."""
    found: list[Match] = []
    if not terms:
        return found
    for region in regions:
        if not region.in_document:
            continue
        block = document.findBlock(region.body_start)
        end = region.end
        while block.isValid() and block.position() < end:
            if block.blockFormat().intProperty(BLOCK_KIND) not in _CHROME:
                base = block.position()
                for start, stop in find_matches(block.text(), terms):
                    found.append(Match(region.message_id, base + start, base + stop))
            block = block.next()
    return found


def selections(
    document: QTextDocument, found: Sequence[Match], current: int
) -> list[QTextEdit.ExtraSelection]:
    """The highlights of ``found``, the ``current`` one (an index) apart."""
    plain = QTextCharFormat()
    plain.setBackground(MATCH_COLOR)
    plain.setForeground(QColor(Qt.GlobalColor.black))
    strong = QTextCharFormat(plain)
    strong.setBackground(CURRENT_COLOR)
    result: list[QTextEdit.ExtraSelection] = []
    for index, match in enumerate(found):
        selection = QTextEdit.ExtraSelection()
        cursor = QTextCursor(document)
        cursor.setPosition(match.start)
        cursor.setPosition(match.end, QTextCursor.MoveMode.KeepAnchor)
        selection.cursor = cursor
        selection.format = strong if index == current else plain
        result.append(selection)
    return result


class _FindField(QLineEdit):
    """The query field: Esc closes the bar (before the window's Esc, which
    stops a reply), Enter goes to the next match, Shift+Enter the previous."""

    escape_pressed = Signal()
    step_requested = Signal(int)

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ShortcutOverride:
            assert isinstance(event, QKeyEvent)
            if event.key() == Qt.Key.Key_Escape:
                event.accept()
                return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Escape:
            self.escape_pressed.emit()
            return
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            shift = event.modifiers() & Qt.KeyboardModifier.ShiftModifier
            self.step_requested.emit(-1 if shift else 1)
            return
        super().keyPressEvent(event)


class FindBar(QWidget):
    """A slim bar at the top of a chat: the words, "3 of 12", ‹ › and ×."""

    query_changed = Signal(str)
    step_requested = Signal(int)  # +1 next, -1 previous
    closed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("findBar")
        self.field = _FindField(self)
        self.field.setObjectName("findField")
        self.field.setPlaceholderText("Find in chat")
        self.field.setAccessibleName("Find in chat")
        self.field.setClearButtonEnabled(True)
        self.count = QLabel(self)
        self.count.setObjectName("findCount")
        self.previous = self._button("‹", "Previous match (Shift+F3)", -1)
        self.next = self._button("›", "Next match (F3)", 1)
        self.close_button = QToolButton(self)
        self.close_button.setText("×")
        self.close_button.setToolTip("Close (Esc)")
        self.close_button.setAccessibleName("Close find")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 3, 6, 3)
        layout.setSpacing(4)
        layout.addWidget(self.field, 1)
        layout.addWidget(self.count)
        layout.addWidget(self.previous)
        layout.addWidget(self.next)
        layout.addWidget(self.close_button)
        self.field.textChanged.connect(self.query_changed)
        self.field.step_requested.connect(self.step_requested)
        self.field.escape_pressed.connect(self.closed)
        self.close_button.clicked.connect(self.closed)

    def _button(self, text: str, tip: str, step: int) -> QToolButton:
        button = QToolButton(self)
        button.setText(text)
        button.setToolTip(tip)
        button.setAccessibleName(tip)
        button.clicked.connect(lambda: self.step_requested.emit(step))
        return button

    def query(self) -> str:
        return self.field.text()

    def set_query(self, text: str) -> None:
        """Show ``text`` without announcing it (the view searched already)."""
        blocked = self.field.blockSignals(True)
        try:
            self.field.setText(text)
        finally:
            self.field.blockSignals(blocked)

    def set_count(self, current: int, total: int) -> None:
        """``current`` is 0-based; -1 with matches: none chosen yet."""
        if not self.field.text().strip():
            text = ""
        elif total == 0:
            text = "No matches"
        else:
            text = f"{max(current, 0) + 1} of {total}"
        self.count.setText(text)
        self.previous.setEnabled(total > 0)
        self.next.setEnabled(total > 0)
