"""The settings dialog: providers (add, edit, remove, default, keys, models), the
stream limit and the wait for a reply's first token, and the presets chats start
from (:mod:`desktop.ui.presets_page`, when a PresetService is handed in).

Everything goes through the :class:`SettingsService` handed in; the dialog
never talks to the store or a provider itself. Settings apply at once (there
is no Apply button). Adding or editing one provider happens in the
:class:`~desktop.ui.provider_editor.ProviderEditor`. Network work runs as
asyncio tasks that the dialog keeps and cancels when it closes; every error
reaches the user as a sentence in the dialog, a traceback only the log.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import shiboken6
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QMenu,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QTabWidget,
    QToolButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop.core.presets import ProviderPreset
from desktop.core.tasks import TaskKeeper
from desktop.services.chat_presets import PresetService
from desktop.services.settings import MAX_FIRST_TOKEN_WAIT, ProviderView, SettingsService
from desktop.services.titles import AUTO_TITLE_KEY
from desktop.ui import icons, style
from desktop.ui.plain import ask, plain_label, tooltip
from desktop.ui.presets_page import PresetsPage
from desktop.ui.provider_editor import (
    DEMO_URL_TEXT,
    KIND_SHORT,
    ProviderEditor,
    error_text,
)

log = logging.getLogger("sidestream.ui")

EVICTION_TEXT = (
    "At most this many replies stream at the same time, across all chats. "
    "When you start one more, Sidestream stops the reply that has been streaming "
    "the longest in a chat you are not looking at, to make room. Its text so far "
    "is kept, it is marked as interrupted, and Continue or Retry picks it up again. "
    "The chat on screen is never the one stopped."
)
FIRST_TOKEN_TEXT = (
    "A reasoning model, or a local server reading a long prompt, may send nothing "
    "for minutes before its reply begins. Sidestream waits this long for the first "
    "token (text or reasoning), and the chat counts the wait meanwhile; Stop ends "
    "it at any time. Once the reply has begun, 60 seconds without any data count "
    "as a stalled connection. Replies started from now on use the new wait."
)
TITLE_CHOICES = (
    ("From the first message", "never"),
    ("By the model, for models on this machine or network", "local"),
    ("By the model, always (one small extra request)", "always"),
)
TITLES_TOOLTIP = (
    "After a chat's first reply, its model can be asked for a short title. That is "
    "one more small request to the provider, so it is off unless you choose it; a "
    "chat you renamed keeps your title."
)
FIRST_TOKEN_TOOLTIP = (
    "How long a reply may take to begin: between 10 seconds and 24 hours (default 10 minutes)."
)


class SettingsDialog(QDialog):
    """Providers and streaming settings; changes apply at once.

    Signals: ``providers_changed()`` after any provider was added, edited,
    removed or made default; ``max_streams_changed(int)`` after the limit changed;
    ``first_token_wait_changed(float)`` after the first-token wait changed (seconds);
    ``presets_changed()`` after a preset was added, edited or removed, or the
    default preset changed (the Presets page is there only when ``presets`` is given).
    """

    providers_changed = Signal()
    max_streams_changed = Signal(int)
    first_token_wait_changed = Signal(float)
    presets_changed = Signal()

    def __init__(
        self,
        service: SettingsService,
        parent: QWidget | None = None,
        *,
        presets: PresetService | None = None,
    ) -> None:
        super().__init__(parent)
        self.tasks = TaskKeeper(log)
        self._service = service
        self._providers: dict[int, ProviderView] = {}
        self.editor: ProviderEditor | None = None
        # Asks "really?" before removing a provider; tests replace it.
        self.confirm: Callable[[str, str], bool] = self._ask
        self.setObjectName("settingsDialog")
        self.setWindowTitle("Sidestream Settings")
        self.setMinimumSize(640, 420)

        self.tabs = QTabWidget(self)
        self.tabs.addTab(self._build_providers_tab(), "&Providers")
        self.tabs.addTab(self._build_streaming_tab(), "&Streaming")
        self.presets_page: PresetsPage | None = None
        if presets is not None:
            self.presets_page = PresetsPage(
                presets,
                service,
                tasks=self.tasks,
                # Through the attribute: a test replaces ``confirm`` after building.
                confirm=lambda title, question: self.confirm(title, question),
                parent=self,
            )
            self.tabs.addTab(self.presets_page, "Pr&esets")
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(self.buttons)

        self.buttons.rejected.connect(self.reject)
        self.provider_list.itemSelectionChanged.connect(self._update_buttons)
        self.provider_list.itemDoubleClicked.connect(self._on_provider_list_double_clicked)
        self.edit_button.clicked.connect(self._on_edit_button_clicked)
        self.remove_button.clicked.connect(self._on_remove_button_clicked)
        self.default_button.clicked.connect(self._on_default_button_clicked)
        self.streams_spin.valueChanged.connect(self._on_streams_spin_value_changed)
        self.wait_minutes.valueChanged.connect(self._on_wait_spin_value_changed)
        self.wait_seconds.valueChanged.connect(self._on_wait_spin_value_changed)
        self.titles_combo.currentIndexChanged.connect(self._on_titles_combo_index_changed)
        if self.presets_page is not None:
            self.presets_page.presets_changed.connect(self.presets_changed)
            # A provider renamed or removed shows in the presets' model column.
            self.providers_changed.connect(self.presets_page.refresh)
        self.refresh()

    # ------------------------------------------------------------ building
    def _build_providers_tab(self) -> QWidget:
        page = QWidget(self)
        self.provider_list = QTreeWidget(page)
        self.provider_list.setObjectName("providerList")
        self.provider_list.setHeaderLabels(["Name", "Type", "API key", "Default model"])
        self.provider_list.setRootIsDecorated(False)
        self.provider_list.setUniformRowHeights(True)
        self.provider_list.setAllColumnsShowFocus(True)
        self.provider_list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        header = self.provider_list.header()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in (1, 2, 3):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(False)

        self.add_button = QToolButton(page)
        self.add_button.setObjectName("addProvider")
        self.add_button.setText("Add")
        self.add_button.setIcon(icons.new_chat_icon())
        self.add_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.add_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.add_menu = QMenu(self.add_button)
        for preset in self._service.presets:
            action = self.add_menu.addAction(preset.name)
            action.setToolTip(tooltip(preset.base_url))
            action.triggered.connect(lambda _=False, p=preset: self.add_provider(p))
        self.add_menu.addSeparator()
        custom = self.add_menu.addAction("Custom OpenAI-compatible server…")
        custom.triggered.connect(lambda _=False: self.add_provider(None))
        self.add_button.setMenu(self.add_menu)
        self.edit_button = QPushButton("Edit…", page)
        self.edit_button.setObjectName("editProvider")
        self.remove_button = QPushButton("Remove", page)
        self.remove_button.setObjectName("removeProvider")
        self.default_button = QPushButton("Make default", page)
        self.default_button.setObjectName("makeDefault")
        self.default_button.setToolTip("New chats use the default provider")
        for button in (self.edit_button, self.remove_button, self.default_button):
            button.setAutoDefault(False)

        self.banner = plain_label(parent=page)
        self.banner.setObjectName("settingsBanner")
        self.banner.setWordWrap(True)
        self.banner.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.banner.hide()

        buttons = QVBoxLayout()
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.edit_button)
        buttons.addWidget(self.remove_button)
        buttons.addWidget(self.default_button)
        buttons.addStretch(1)
        row = QHBoxLayout()
        row.addWidget(self.provider_list, 1)
        row.addLayout(buttons)
        layout = QVBoxLayout(page)
        layout.addLayout(row, 1)
        layout.addWidget(self.banner)
        return page

    def _build_streaming_tab(self) -> QWidget:
        page = QWidget(self)
        self.streams_spin = QSpinBox(page)
        self.streams_spin.setObjectName("maxStreams")
        self.streams_spin.setRange(1, 50)
        # Apply on Enter, focus-out or the arrows, not on each digit typed.
        self.streams_spin.setKeyboardTracking(False)
        self.streams_spin.setValue(self._service.max_streams)
        self.streams_spin.setAccessibleName("Replies streaming at once")
        explanation = plain_label(EVICTION_TEXT, page)
        explanation.setWordWrap(True)
        explanation.setStyleSheet(style.status_stylesheet("info", self.palette()))
        self.streams_status = plain_label(parent=page)
        self.streams_status.setObjectName("streamsStatus")
        self.streams_status.setWordWrap(True)
        self.streams_status.hide()
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.FieldsStayAtSizeHint)
        streams_label = plain_label("Replies streaming &at once:", page)
        streams_label.setBuddy(self.streams_spin)
        form.addRow(streams_label, self.streams_spin)
        layout = QVBoxLayout(page)
        layout.addLayout(form)
        layout.addWidget(explanation)
        layout.addWidget(self.streams_status)
        layout.addSpacing(12)
        layout.addLayout(self._build_first_token_form(page))
        layout.addSpacing(12)
        layout.addLayout(self._build_titles_form(page))
        layout.addStretch(1)
        return page

    def _build_first_token_form(self, page: QWidget) -> QVBoxLayout:
        """The wait for a reply's first token: minutes and seconds."""
        minutes, seconds = divmod(round(self._service.first_token_wait), 60)
        self.wait_minutes = QSpinBox(page)
        self.wait_minutes.setObjectName("firstTokenMinutes")
        self.wait_minutes.setRange(0, int(MAX_FIRST_TOKEN_WAIT // 60))
        self.wait_minutes.setSuffix(" min")
        self.wait_minutes.setAccessibleName("Wait for the first token, minutes")
        self.wait_seconds = QSpinBox(page)
        self.wait_seconds.setObjectName("firstTokenSeconds")
        self.wait_seconds.setRange(0, 59)
        self.wait_seconds.setSuffix(" s")
        self.wait_seconds.setAccessibleName("Wait for the first token, seconds")
        for spin, value in ((self.wait_minutes, minutes), (self.wait_seconds, seconds)):
            # Apply on Enter, focus-out or the arrows, not on each digit typed.
            spin.setKeyboardTracking(False)
            spin.setValue(value)
            spin.setToolTip(tooltip(FIRST_TOKEN_TOOLTIP))
        fields = QHBoxLayout()
        fields.addWidget(self.wait_minutes)
        fields.addWidget(self.wait_seconds)
        fields.addStretch(1)
        wait_label = plain_label("&Wait for the first token:", page)
        wait_label.setBuddy(self.wait_minutes)
        wait_label.setToolTip(tooltip(FIRST_TOKEN_TOOLTIP))
        form = QFormLayout()
        form.addRow(wait_label, fields)
        explanation = plain_label(FIRST_TOKEN_TEXT, page)
        explanation.setWordWrap(True)
        explanation.setStyleSheet(style.status_stylesheet("info", self.palette()))
        self.wait_status = plain_label(parent=page)
        self.wait_status.setObjectName("firstTokenStatus")
        self.wait_status.setWordWrap(True)
        self.wait_status.hide()
        column = QVBoxLayout()
        column.addLayout(form)
        column.addWidget(explanation)
        column.addWidget(self.wait_status)
        return column

    # ---------------------------------------------------------------- state
    def refresh(self) -> None:
        """Reload the provider list from the service, keeping the selection."""
        selected = self.selected_provider()
        keep = selected.id if selected is not None else None
        try:
            providers = self._service.providers()
        except Exception as exc:
            self.show_message(error_text(exc), "error")
            providers = []
        self.provider_list.clear()
        for p in providers:
            item = QTreeWidgetItem(
                [
                    f"{p.name} (default)" if p.is_default else p.name,
                    "Demo" if p.is_demo else KIND_SHORT.get(p.kind, str(p.kind)),
                    "Not needed" if p.is_demo else ("Set" if p.has_key else "Not set"),
                    p.default_model,
                ]
            )
            item.setData(0, Qt.ItemDataRole.UserRole, p.id)
            item.setToolTip(0, tooltip(DEMO_URL_TEXT if p.is_demo else p.base_url))
            if p.is_default:
                font = QFont(item.font(0))
                font.setBold(True)
                item.setFont(0, font)
            self.provider_list.addTopLevelItem(item)
        self._providers = {p.id: p for p in providers}
        if keep is None or not self.select_provider(keep):
            first = self.provider_list.topLevelItem(0)
            if first is not None:
                self.provider_list.setCurrentItem(first)
        self._update_buttons()

    def providers(self) -> list[ProviderView]:
        return list(self._providers.values())

    def selected_provider(self) -> ProviderView | None:
        items = self.provider_list.selectedItems()
        if not items:
            return None
        value = items[0].data(0, Qt.ItemDataRole.UserRole)
        return self._providers.get(value) if isinstance(value, int) else None

    def select_provider(self, provider_id: int) -> bool:
        for i in range(self.provider_list.topLevelItemCount()):
            item = self.provider_list.topLevelItem(i)
            if item is not None and item.data(0, Qt.ItemDataRole.UserRole) == provider_id:
                self.provider_list.setCurrentItem(item)
                return True
        return False

    def _update_buttons(self) -> None:
        p = self.selected_provider()
        self.edit_button.setEnabled(p is not None)
        self.remove_button.setEnabled(p is not None and len(self._providers) > 1)
        self.remove_button.setToolTip(
            "Keep at least one provider" if len(self._providers) <= 1 else ""
        )
        self.default_button.setEnabled(p is not None and not p.is_default)

    def show_message(self, text: str | None, kind: str = "warning") -> None:
        """A banner under the provider list (warning or error); None hides it."""
        self.banner.setText(text or "")
        self.banner.setStyleSheet(style.banner_stylesheet(kind, self.palette()))
        self.banner.setVisible(bool(text))

    # -------------------------------------------------------------- actions
    def add_provider(self, preset: ProviderPreset | None) -> ProviderEditor:
        """Open the editor for a new provider (from ``preset``, or a custom one)."""
        base = preset.name if preset is not None else "Custom"
        return self._open_editor(
            ProviderEditor(
                self._service,
                preset=preset,
                suggested_name=self._unique_name(base),
                parent=self,
            )
        )

    def edit_provider(self, provider_id: int | None = None) -> ProviderEditor | None:
        """Open the editor for a provider (the selected one by default)."""
        p = self._providers.get(provider_id) if provider_id is not None else None
        p = p or self.selected_provider()
        if p is None:
            return None
        return self._open_editor(ProviderEditor(self._service, provider=p, parent=self))

    def remove_provider(self, provider_id: int | None = None) -> None:
        p = self._providers.get(provider_id) if provider_id is not None else None
        p = p or self.selected_provider()
        if p is None:
            return
        question = (
            f"Remove the provider “{p.name}” and forget its API key? "
            "Chats that use it switch to the default provider."
        )
        if not self.confirm("Remove provider", question):
            return
        self.tasks.spawn(self._remove(p.id, p.name), "settings: remove a provider")

    async def _remove(self, provider_id: int, name: str) -> None:
        try:
            await self._service.remove_provider(provider_id)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if shiboken6.isValid(self):
                self.show_message(error_text(exc), "error")
            return
        log.info("Removed provider %r", name)
        if shiboken6.isValid(self):
            self.show_message(None)
            self.refresh()
            self.providers_changed.emit()

    def make_default(self, provider_id: int | None = None) -> None:
        p = self._providers.get(provider_id) if provider_id is not None else None
        p = p or self.selected_provider()
        if p is None:
            return
        try:
            self._service.set_default_provider(p.id)
        except Exception as exc:
            self.show_message(error_text(exc), "error")
            return
        self.refresh()
        self.providers_changed.emit()

    def _open_editor(self, editor: ProviderEditor) -> ProviderEditor:
        if self.editor is not None and shiboken6.isValid(self.editor):
            self.editor.close()
        self.editor = editor
        editor.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        editor.saved.connect(self._on_editor_saved)
        editor.open()  # window-modal, no nested event loop
        editor.name_edit.setFocus()
        return editor

    def _unique_name(self, base: str) -> str:
        taken = {p.name for p in self._providers.values()}
        if base not in taken:
            return base
        n = 2
        while f"{base} {n}" in taken:
            n += 1
        return f"{base} {n}"

    # ---------------------------------------------------------------- slots
    def _on_editor_saved(self, provider_id: int, session_only: bool, test_failed: bool) -> None:
        self.refresh()
        self.select_provider(provider_id)
        p = self._providers.get(provider_id)
        name = p.name if p is not None else "this provider"
        said: list[str] = []
        if test_failed and p is not None and not p.is_default:
            said.append(
                f"“{name}” was saved although its connection test failed; new chats "
                "still use the default provider. Make it the default once it works."
            )
        if session_only:
            said.append(
                f"No system keyring is available, so the API key of “{name}” is kept "
                "only until Sidestream quits. You will need to enter it again next time "
                "(for OpenAI's or Anthropic's own service, OPENAI_API_KEY or "
                "ANTHROPIC_API_KEY in the environment also works)."
            )
        self.show_message("\n\n".join(said) or None, "warning")
        self.providers_changed.emit()

    def _on_provider_list_double_clicked(self, item: QTreeWidgetItem, column: int) -> None:
        value = item.data(0, Qt.ItemDataRole.UserRole)
        if isinstance(value, int):
            self.edit_provider(value)

    def _on_edit_button_clicked(self) -> None:
        self.edit_provider()

    def _on_remove_button_clicked(self) -> None:
        self.remove_provider()

    def _on_default_button_clicked(self) -> None:
        self.make_default()

    def _on_streams_spin_value_changed(self, value: int) -> None:
        try:
            self._service.set_max_streams(value)
        except Exception as exc:
            self.streams_status.setText(error_text(exc))
            self.streams_status.setStyleSheet(style.status_stylesheet("error", self.palette()))
            self.streams_status.show()
            return
        self.streams_status.hide()
        log.info("Concurrent reply limit set to %d", value)
        self.max_streams_changed.emit(value)

    def _build_titles_form(self, page: QWidget) -> QFormLayout:
        """How a new chat is named: from its first message, or by its model."""
        self.titles_combo = QComboBox(page)
        self.titles_combo.setObjectName("autoTitle")
        for text, choice in TITLE_CHOICES:
            self.titles_combo.addItem(text, choice)
        current = self._service.get(AUTO_TITLE_KEY, "never")
        index = self.titles_combo.findData(current)
        self.titles_combo.setCurrentIndex(max(0, index))
        self.titles_combo.setToolTip(tooltip(TITLES_TOOLTIP))
        label = plain_label("&Name new chats:", page)
        label.setBuddy(self.titles_combo)
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.FieldsStayAtSizeHint)
        form.addRow(label, self.titles_combo)
        return form

    def _on_titles_combo_index_changed(self, _index: int) -> None:
        choice = self.titles_combo.currentData()
        self._service.set(AUTO_TITLE_KEY, choice)
        log.info("new chats are named: %s", choice)

    def first_token_wait_entered(self) -> float:
        """The wait for the first token the fields say, in seconds."""
        return float(self.wait_minutes.value() * 60 + self.wait_seconds.value())

    def _on_wait_spin_value_changed(self, _value: int) -> None:
        seconds = self.first_token_wait_entered()
        try:
            self._service.set_first_token_wait(seconds)
        except Exception as exc:
            self.wait_status.setText(error_text(exc))
            self.wait_status.setStyleSheet(style.status_stylesheet("error", self.palette()))
            self.wait_status.show()
            return
        self.wait_status.hide()
        log.info("First-token wait set to %.0f s", seconds)
        self.first_token_wait_changed.emit(seconds)

    def _ask(self, title: str, question: str) -> bool:
        answer = ask(
            self,
            title,
            question,
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel,
        )
        return answer == QMessageBox.StandardButton.Yes

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.provider_list.setFocus()

    def done(self, result: int) -> None:
        if self.editor is not None and shiboken6.isValid(self.editor):
            self.editor.close()
        if self.presets_page is not None:
            self.presets_page.close_editor()
        # A removal still running is left to finish: it is one quick store call.
        super().done(result)
