"""Every keyboard shortcut in one table, and the sheet that shows it (F1, Ctrl+/).

The window binds its own keys from :data:`SHORTCUTS` (by ``command``), and the
sheet lists the same rows, so what the sheet says and what the keys do cannot
drift apart; keys that belong to a widget (the message box, the chat view, the
chat list) are listed here and bound there (a test checks each is).
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)


@dataclass(frozen=True, slots=True)
class Shortcut:
    """``keys`` (Qt's portable text, each one binding) do ``action``;
    ``command`` names the window's slot bound to them (None: a widget's own
    key, or keys the sheet only describes, such as Enter)."""

    keys: tuple[str, ...]
    action: str
    command: str | None = None
    note: str = ""  # where the key works, when that is not everywhere

    def keys_text(self) -> str:
        shown = [
            QKeySequence(k).toString(QKeySequence.SequenceFormat.NativeText) or k for k in self.keys
        ]
        text = ", ".join(shown)
        return f"{text} ({self.note})" if self.note else text


SHORTCUTS: tuple[Shortcut, ...] = (
    Shortcut(("Ctrl+N", "Ctrl+T"), "New chat", "new_chat"),
    Shortcut(("Enter",), "Send", note="in the message box"),
    Shortcut(("Shift+Enter",), "New line", note="in the message box"),
    Shortcut(
        ("Esc",),
        "Stop the reply in this chat; while editing a message, cancel the edit",
        "stop",
    ),
    Shortcut(("Ctrl+R",), "Regenerate the newest reply in this chat", "retry"),
    Shortcut(("Up",), "Edit your last message", note="in the empty message box"),
    Shortcut(("Alt+Left",), "Previous version of the newest message that has versions"),
    Shortcut(("Alt+Right",), "Next version of the newest message that has versions"),
    Shortcut(("Ctrl+Shift+S",), "This chat's settings", "chat_settings"),
    Shortcut(("Ctrl+U",), "Attach files to the message"),
    Shortcut(
        ("Ctrl+V",), "Paste an image or copied files as attachments", note="in the message box"
    ),
    Shortcut(("Menu", "Shift+F10"), "The chat's menu", note="in the chat list"),
    Shortcut(("Ctrl+W",), "Close tab (the reply goes on)", "close_tab"),
    Shortcut(("Ctrl+Tab", "Ctrl+PgDown"), "Next tab", "next_tab"),
    Shortcut(("Ctrl+Shift+Tab", "Ctrl+PgUp"), "Previous tab", "previous_tab"),
    Shortcut(("Ctrl+F",), "Search chats: titles and every message", "search"),
    Shortcut(("Ctrl+Shift+F",), "Find in this chat", "find"),
    Shortcut(("F3",), "Next match in this chat", "find_next"),
    Shortcut(("Shift+F3",), "Previous match in this chat", "find_previous"),
    Shortcut(("Ctrl+=", "Ctrl++"), "Zoom in (all chat text)", "zoom_in"),
    Shortcut(("Ctrl+-",), "Zoom out", "zoom_out"),
    Shortcut(("Ctrl+0",), "Reset the zoom", "zoom_reset"),
    Shortcut(("F2",), "Rename chat", "rename"),
    Shortcut(("Ctrl+,",), "Settings", "settings"),
    Shortcut(("F1", "Ctrl+/"), "Keyboard shortcuts (this sheet)", "shortcuts"),
    Shortcut(("Ctrl+Q",), "Quit", "quit"),
)


def shortcut_for(command: str) -> Shortcut:
    for shortcut in SHORTCUTS:
        if shortcut.command == command:
            return shortcut
    raise KeyError(command)


class ShortcutsSheet(QDialog):
    """Every shortcut of :data:`SHORTCUTS`, read-only; Esc or Close closes it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("shortcutsSheet")
        self.setWindowTitle("Keyboard shortcuts")
        self.setWindowModality(Qt.WindowModality.WindowModal)
        self.table = QTableWidget(len(SHORTCUTS), 2, self)
        self.table.setObjectName("shortcutsTable")
        self.table.setAccessibleName("Keyboard shortcuts")
        self.table.setHorizontalHeaderLabels(["Keys", "Action"])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setWordWrap(True)
        for row, shortcut in enumerate(SHORTCUTS):
            for column, text in enumerate((shortcut.keys_text(), shortcut.action)):
                item = QTableWidgetItem(text)
                item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
                self.table.setItem(row, column, item)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addWidget(buttons)
        self.resize(620, 560)

    def rows(self) -> list[tuple[str, str]]:
        """What the sheet shows, row by row (keys, action)."""
        rows = []
        for row in range(self.table.rowCount()):
            keys, action = self.table.item(row, 0), self.table.item(row, 1)
            rows.append((keys.text() if keys else "", action.text() if action else ""))
        return rows
