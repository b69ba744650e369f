"""Which chats the sidebar lists: all of them, one folder's, or the archive.

:class:`ChatScope` is the choice (a value the window keeps as a setting);
:class:`ScopeSelector` is the compact row above the chat list that makes it: a
combo box ("All chats (12)", each folder with its count, "Archived (3)") and a
button whose menu renames or dissolves the folder shown. The selector only
says what the user asked for; the sidebar filters, the window writes.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

from PySide6.QtCore import QEvent, QObject, QPoint, Qt, Signal
from PySide6.QtGui import QAction, QKeyEvent
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QMenu,
    QStyle,
    QToolButton,
    QWidget,
)

from desktop.core.models import Session

SCOPE_SETTING = "chat_list_scope"
"""The setting that keeps the scope shown across restarts (:meth:`ChatScope.to_setting`)."""


class ScopeKind(enum.Enum):
    ALL = "all"
    FOLDER = "folder"
    ARCHIVED = "archived"


@dataclass(frozen=True, slots=True)
class ChatScope:
    """What the chat list shows. Archived chats show only in the archive;
    "All chats" holds the chats of every folder too."""

    kind: ScopeKind = ScopeKind.ALL
    folder: str = ""

    @classmethod
    def in_folder(cls, name: str) -> ChatScope:
        return cls(ScopeKind.FOLDER, name)

    @property
    def is_folder(self) -> bool:
        return self.kind is ScopeKind.FOLDER

    @property
    def label(self) -> str:
        if self.kind is ScopeKind.FOLDER:
            return self.folder
        return "Archived" if self.kind is ScopeKind.ARCHIVED else "All chats"

    def accepts(self, session: Session) -> bool:
        if self.kind is ScopeKind.ARCHIVED:
            return session.archived
        if session.archived:
            return False
        return self.kind is ScopeKind.ALL or session.folder == self.folder

    def to_setting(self) -> dict[str, str]:
        return {"show": self.kind.value, "folder": self.folder}

    @classmethod
    def from_setting(cls, value: object) -> ChatScope:
        """The scope a setting holds; "All chats" for anything unreadable."""
        if not isinstance(value, dict):
            return cls()
        try:
            kind = ScopeKind(value.get("show"))
        except ValueError:
            return cls()
        folder = value.get("folder")
        if kind is ScopeKind.FOLDER:
            return cls.in_folder(folder) if isinstance(folder, str) and folder else cls()
        return cls(kind)


ALL_CHATS = ChatScope()
ARCHIVED = ChatScope(ScopeKind.ARCHIVED)


@dataclass(frozen=True, slots=True)
class ScopeCounts:
    """How many chats each scope lists (folders by name, in the order shown)."""

    listed: int = 0
    folders: tuple[tuple[str, int], ...] = ()
    archived: int = 0


class ScopeSelector(QWidget):
    """The row above the chat list: which chats it shows, and the folder's menu."""

    scope_chosen = Signal(object)
    """The user picked a :class:`ChatScope`."""
    rename_folder_requested = Signal(str)
    dissolve_folder_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._scope = ALL_CHATS
        self._counts = ScopeCounts()
        # What each row of the combo stands for (None: a separator).
        self._rows: list[ChatScope | None] = []

        self.combo = QComboBox(self)
        self.combo.setObjectName("chatScope")
        self.combo.setAccessibleName("Show chats")
        self.combo.setToolTip("Which chats the list shows: all, one folder's, or the archived")
        self.combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.combo.setMinimumContentsLength(8)
        self.combo.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.combo.installEventFilter(self)

        self.menu = QMenu(self)
        self.menu.setObjectName("folderMenu")
        self.rename_action = QAction("Rename folder…", self)
        self.rename_action.setObjectName("renameFolder")
        self.dissolve_action = QAction("Dissolve folder…", self)
        self.dissolve_action.setObjectName("dissolveFolder")
        self.dissolve_action.setToolTip("Take every chat out of this folder (no chat is deleted)")
        self.menu.addAction(self.rename_action)
        self.menu.addAction(self.dissolve_action)
        self.button = QToolButton(self)
        self.button.setObjectName("folderMenuButton")
        self.button.setText("⋯")
        self.button.setAccessibleName("Folder actions")
        self.button.setToolTip("Rename or dissolve the folder shown")
        self.button.setAutoRaise(True)
        self.button.setMenu(self.menu)
        self.button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)

        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(self.combo, 1)
        layout.addWidget(self.button)

        self.combo.activated.connect(self._on_combo_activated)
        self.combo.customContextMenuRequested.connect(self._on_combo_context_menu_requested)
        self.rename_action.triggered.connect(self._on_rename_action_triggered)
        self.dissolve_action.triggered.connect(self._on_dissolve_action_triggered)
        self._rebuild()

    # ------------------------------------------------------------------ API
    @property
    def scope(self) -> ChatScope:
        return self._scope

    def set_scope(self, scope: ChatScope) -> None:
        """Show ``scope`` as chosen (no signal)."""
        self._scope = scope
        self._rebuild()

    def set_counts(self, counts: ScopeCounts) -> None:
        if counts != self._counts:
            self._counts = counts
            self._rebuild()

    def scopes(self) -> list[ChatScope]:
        """The scopes offered, in the combo's order."""
        return [s for s in self._rows if s is not None]

    def choose(self, scope: ChatScope) -> None:
        """Choose ``scope`` as the user would (the signal is emitted)."""
        self.set_scope(scope)
        self.scope_chosen.emit(scope)

    # ------------------------------------------------------------- internals
    def _rebuild(self) -> None:
        counts = self._counts
        folders = list(counts.folders)
        # The folder shown stays offered while shown, even once it is empty.
        if self._scope.is_folder and all(name != self._scope.folder for name, _ in folders):
            folders.append((self._scope.folder, 0))
            folders.sort(key=lambda item: item[0].casefold())
        self.combo.blockSignals(True)
        self.combo.clear()
        self._rows = []
        self.combo.addItem(f"All chats ({counts.listed})")
        self._rows.append(ALL_CHATS)
        if folders:
            self.combo.insertSeparator(self.combo.count())
            self._rows.append(None)
        folder_icon = self.style().standardIcon(QStyle.StandardPixmap.SP_DirIcon)
        for name, count in folders:
            self.combo.addItem(folder_icon, f"{name} ({count})")
            self.combo.setItemData(
                self.combo.count() - 1,
                f"Folder {name}, {count} chat{'s' if count != 1 else ''}",
                Qt.ItemDataRole.AccessibleTextRole,
            )
            self._rows.append(ChatScope.in_folder(name))
        self.combo.insertSeparator(self.combo.count())
        self._rows.append(None)
        self.combo.addItem(f"Archived ({counts.archived})")
        self._rows.append(ARCHIVED)
        current = self._rows.index(self._scope) if self._scope in self._rows else 0
        self.combo.setCurrentIndex(current)
        self.combo.blockSignals(False)
        folder = self._scope.is_folder
        self.rename_action.setEnabled(folder)
        self.dissolve_action.setEnabled(folder)
        self.button.setEnabled(folder)

    def _on_combo_activated(self, index: int) -> None:
        scope = self._rows[index] if 0 <= index < len(self._rows) else None
        if scope is not None and scope != self._scope:
            self.choose(scope)

    def _on_combo_context_menu_requested(self, pos: QPoint) -> None:
        if self._scope.is_folder:
            # popup(), not exec(): no nested event loop under qasync.
            self.menu.popup(self.combo.mapToGlobal(pos))

    def _on_rename_action_triggered(self) -> None:
        if self._scope.is_folder:
            self.rename_folder_requested.emit(self._scope.folder)

    def _on_dissolve_action_triggered(self) -> None:
        if self._scope.is_folder:
            self.dissolve_folder_requested.emit(self._scope.folder)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        # The menu key and Shift+F10 open the folder's menu from the combo.
        if watched is self.combo and event.type() == QEvent.Type.KeyPress:
            assert isinstance(event, QKeyEvent)
            if is_menu_key(event) and self._scope.is_folder:
                self._on_combo_context_menu_requested(self.combo.rect().bottomLeft())
                return True
        return super().eventFilter(watched, event)


def is_menu_key(event: QKeyEvent) -> bool:
    """The menu key, or Shift+F10: both open a context menu from the keyboard."""
    modifiers = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
    if event.key() == Qt.Key.Key_Menu and modifiers == Qt.KeyboardModifier.NoModifier:
        return True
    return event.key() == Qt.Key.Key_F10 and modifiers == Qt.KeyboardModifier.ShiftModifier


def folder_counts(folders: Sequence[tuple[str, int]]) -> tuple[tuple[str, int], ...]:
    """Folders sorted as the selector lists them (by name, any case)."""
    return tuple(sorted(folders, key=lambda item: (item[0].casefold(), item[0])))


__all__ = [
    "ALL_CHATS",
    "ARCHIVED",
    "SCOPE_SETTING",
    "ChatScope",
    "ScopeCounts",
    "ScopeKind",
    "ScopeSelector",
    "folder_counts",
    "is_menu_key",
]
