"""The Presets page of the settings dialog: the presets chats start from.

A list (the default marked), Add, Edit, Remove (asked first), Make default
and No default. Adding or editing one happens in the
:class:`~desktop.ui.preset_editor.PresetEditor`. Everything goes through the
:class:`PresetService` handed in; removing runs as a task of the dialog's
keeper (it clears the preset from the chats that started from it).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import shiboken6
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont, QKeyEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop.core.models import Preset
from desktop.core.tasks import TaskKeeper
from desktop.services.chat_presets import PresetService
from desktop.services.settings import SettingsService
from desktop.ui import style
from desktop.ui.action_errors import failure_text
from desktop.ui.params_form import describe
from desktop.ui.plain import plain_label, tooltip
from desktop.ui.preset_editor import DEFAULT_PROVIDER_TEXT, PresetEditor

log = logging.getLogger("sidestream.ui")

PRESETS_TEXT = (
    "A preset is a system prompt, a model and parameters to start chats from. "
    "New chats start from the default preset; a chat's own settings can start "
    "from any preset, or be kept as a new one."
)
NO_PRESETS_TEXT = "No presets yet: Add one here, or keep a chat's settings with Save as preset…"


class _PresetList(QTreeWidget):
    """The list; Delete asks to remove the selected preset."""

    delete_pressed = Signal()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Delete and self.selectedItems():
            self.delete_pressed.emit()
            return
        super().keyPressEvent(event)


class PresetsPage(QWidget):
    """The presets: add, edit, remove, default. Emits ``presets_changed()`` after each change."""

    presets_changed = Signal()

    def __init__(
        self,
        presets: PresetService,
        settings: SettingsService,
        *,
        tasks: TaskKeeper,
        confirm: Callable[[str, str], bool],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._presets = presets
        self._settings = settings
        self._tasks = tasks
        self._confirm = confirm
        self._by_id: dict[int, Preset] = {}
        self._default_id: int | None = None
        self.editor: PresetEditor | None = None
        self._build()
        self.preset_list.itemSelectionChanged.connect(self._update_buttons)
        self.preset_list.itemActivated.connect(self._on_preset_list_item_activated)
        self.preset_list.delete_pressed.connect(self._on_remove_button_clicked)
        self.add_button.clicked.connect(self._on_add_button_clicked)
        self.edit_button.clicked.connect(self._on_edit_button_clicked)
        self.remove_button.clicked.connect(self._on_remove_button_clicked)
        self.default_button.clicked.connect(self._on_default_button_clicked)
        self.no_default_button.clicked.connect(self._on_no_default_button_clicked)
        self.refresh()

    def _build(self) -> None:
        self.preset_list = _PresetList(self)
        self.preset_list.setObjectName("presetList")
        self.preset_list.setHeaderLabels(["Name", "Model", "Parameters", "System prompt"])
        self.preset_list.setRootIsDecorated(False)
        self.preset_list.setUniformRowHeights(True)
        self.preset_list.setAllColumnsShowFocus(True)
        self.preset_list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.preset_list.setAccessibleName("Presets")
        header = self.preset_list.header()
        for column in (0, 1, 2):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        header.setStretchLastSection(False)

        self.add_button = QPushButton("&Add…", self)
        self.add_button.setObjectName("addPreset")
        self.edit_button = QPushButton("&Edit…", self)
        self.edit_button.setObjectName("editPreset")
        self.remove_button = QPushButton("Re&move", self)
        self.remove_button.setObjectName("removePreset")
        self.default_button = QPushButton("Make &default", self)
        self.default_button.setObjectName("makeDefaultPreset")
        self.default_button.setToolTip("New chats start from the default preset")
        self.no_default_button = QPushButton("&No default", self)
        self.no_default_button.setObjectName("noDefaultPreset")
        self.no_default_button.setToolTip(
            "New chats start from no preset: the default provider's default model, "
            "no system prompt, the model's own parameters"
        )
        buttons = QVBoxLayout()
        for button in (
            self.add_button,
            self.edit_button,
            self.remove_button,
            self.default_button,
            self.no_default_button,
        ):
            button.setAutoDefault(False)
            buttons.addWidget(button)
        buttons.addStretch(1)

        explanation = plain_label(PRESETS_TEXT, self)
        explanation.setWordWrap(True)
        explanation.setStyleSheet(style.status_stylesheet("info", self.palette()))
        self.empty_label = plain_label(NO_PRESETS_TEXT, self)
        self.empty_label.setObjectName("noPresets")
        self.empty_label.setWordWrap(True)
        self.banner = plain_label(parent=self)
        self.banner.setObjectName("presetsBanner")
        self.banner.setWordWrap(True)
        self.banner.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.banner.hide()

        row = QHBoxLayout()
        row.addWidget(self.preset_list, 1)
        row.addLayout(buttons)
        layout = QVBoxLayout(self)
        layout.addWidget(explanation)
        layout.addLayout(row, 1)
        layout.addWidget(self.empty_label)
        layout.addWidget(self.banner)

    # ---------------------------------------------------------------- state
    def refresh(self) -> None:
        """Reload the presets from the service, keeping the selection."""
        selected = self.selected_preset()
        keep = selected.id if selected is not None else None
        try:
            presets = self._presets.presets()
            default = self._presets.default_preset()
            providers = {p.id: p for p in self._settings.providers()}
        except Exception as exc:
            self.show_message(failure_text(exc, "Could not list the presets"))
            presets, default, providers = [], None, {}
        self._by_id = {p.id: p for p in presets}
        self._default_id = default.id if default is not None else None
        self.preset_list.clear()
        for p in presets:
            is_default = p.id == self._default_id
            provider = providers.get(p.provider_id) if p.provider_id is not None else None
            if provider is None:
                model = DEFAULT_PROVIDER_TEXT
            else:
                model = f"{provider.name} · {p.model or provider.default_model or 'its default'}"
            prompt = " ".join(p.system_prompt.split())
            item = QTreeWidgetItem(
                [
                    f"{p.name} (default)" if is_default else p.name,
                    model,
                    describe(p.params),
                    prompt or "None",
                ]
            )
            item.setData(0, Qt.ItemDataRole.UserRole, p.id)
            details = tooltip(
                f"{p.name}\nModel: {model}\nParameters: {describe(p.params)}\n"
                f"System prompt: {p.system_prompt[:1000] or 'None'}"
            )
            for column in range(self.preset_list.columnCount()):
                item.setToolTip(column, details)
            if is_default:
                font = QFont(item.font(0))
                font.setBold(True)
                item.setFont(0, font)
            self.preset_list.addTopLevelItem(item)
        if keep is None or not self.select_preset(keep):
            first = self.preset_list.topLevelItem(0)
            if first is not None:
                self.preset_list.setCurrentItem(first)
        self.empty_label.setVisible(not presets)
        self._update_buttons()

    def presets(self) -> list[Preset]:
        return list(self._by_id.values())

    def selected_preset(self) -> Preset | None:
        items = self.preset_list.selectedItems()
        if not items:
            return None
        value = items[0].data(0, Qt.ItemDataRole.UserRole)
        return self._by_id.get(value) if isinstance(value, int) else None

    def select_preset(self, preset_id: int) -> bool:
        for i in range(self.preset_list.topLevelItemCount()):
            item = self.preset_list.topLevelItem(i)
            if item is not None and item.data(0, Qt.ItemDataRole.UserRole) == preset_id:
                self.preset_list.setCurrentItem(item)
                return True
        return False

    def _update_buttons(self) -> None:
        p = self.selected_preset()
        self.edit_button.setEnabled(p is not None)
        self.remove_button.setEnabled(p is not None)
        self.default_button.setEnabled(p is not None and p.id != self._default_id)
        self.no_default_button.setEnabled(self._default_id is not None)

    def show_message(self, text: str | None, kind: str = "error") -> None:
        """A banner under the list; None hides it."""
        self.banner.setText(text or "")
        self.banner.setStyleSheet(style.banner_stylesheet(kind, self.palette()))
        self.banner.setVisible(bool(text))

    # -------------------------------------------------------------- actions
    def add_preset(self) -> PresetEditor:
        """Open the editor for a new preset."""
        return self._open_editor(PresetEditor(self._presets, self._settings, parent=self))

    def edit_preset(self, preset_id: int | None = None) -> PresetEditor | None:
        """Open the editor for a preset (the selected one by default)."""
        p = self._by_id.get(preset_id) if preset_id is not None else self.selected_preset()
        if p is None:
            return None
        return self._open_editor(PresetEditor(self._presets, self._settings, preset=p, parent=self))

    def remove_preset(self, preset_id: int | None = None) -> None:
        """Remove a preset (the selected one by default), once the user said yes."""
        p = self._by_id.get(preset_id) if preset_id is not None else self.selected_preset()
        if p is None:
            return
        question = (
            f"Remove the preset “{p.name}”? Chats that started from it keep their "
            "system prompt, parameters and model."
        )
        if p.id == self._default_id:
            question += " New chats will start from no preset."
        if not self._confirm("Remove preset", question):
            return
        self._tasks.spawn(self._remove(p.id, p.name), "settings: remove a preset")

    async def _remove(self, preset_id: int, name: str) -> None:
        try:
            await self._presets.remove(preset_id)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if shiboken6.isValid(self):
                self.show_message(failure_text(exc, f"Could not remove the preset “{name}”"))
            return
        log.info("Removed preset %d", preset_id)
        if shiboken6.isValid(self):
            self.show_message(None)
            self.refresh()
            self.presets_changed.emit()

    def make_default(self, preset_id: int | None) -> None:
        """New chats start from this preset (None: from no preset)."""
        try:
            self._presets.set_default(preset_id)
        except Exception as exc:
            self.show_message(failure_text(exc, "Could not change the default preset"))
            self.refresh()  # a preset removed elsewhere leaves the list
            return
        self.show_message(None)
        self.refresh()
        self.presets_changed.emit()

    def close_editor(self) -> None:
        """Close an open editor without asking (its parent is going)."""
        if self.editor is not None and shiboken6.isValid(self.editor):
            self.editor.done(QDialog.DialogCode.Rejected)

    def _open_editor(self, editor: PresetEditor) -> PresetEditor:
        self.close_editor()
        self.editor = editor
        editor.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        editor.saved.connect(self._on_editor_saved)
        editor.open()  # window-modal, no nested event loop
        return editor

    # ---------------------------------------------------------------- slots
    def _on_editor_saved(self, preset_id: int) -> None:
        self.show_message(None)
        self.refresh()
        self.select_preset(preset_id)
        self.presets_changed.emit()

    def _on_preset_list_item_activated(self, item: QTreeWidgetItem, _column: int) -> None:
        value = item.data(0, Qt.ItemDataRole.UserRole)
        if isinstance(value, int):
            self.edit_preset(value)

    def _on_add_button_clicked(self) -> None:
        self.add_preset()

    def _on_edit_button_clicked(self) -> None:
        self.edit_preset()

    def _on_remove_button_clicked(self) -> None:
        self.remove_preset()

    def _on_default_button_clicked(self) -> None:
        p = self.selected_preset()
        if p is not None:
            self.make_default(p.id)

    def _on_no_default_button_clicked(self) -> None:
        self.make_default(None)
