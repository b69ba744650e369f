"""The preset editor: add or edit one preset (name, system prompt, provider and
model, parameters).

Saving goes through :class:`PresetService`; a refusal (a name taken, a value
out of range) is shown in the editor, which stays open with everything as
typed. The model list can be fetched from the chosen provider, as in the
provider editor; that runs as a task the editor keeps and cancels when it
closes.
"""

from __future__ import annotations

import asyncio
import logging

import shiboken6
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut, QShowEvent
from PySide6.QtWidgets import (
    QComboBox,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop.core.models import Preset
from desktop.core.tasks import TaskKeeper
from desktop.services.chat_presets import PresetError, PresetService
from desktop.services.settings import ProviderView, SettingsService
from desktop.ui import style
from desktop.ui.action_errors import failure_text
from desktop.ui.editor_dialog import EditorDialog
from desktop.ui.params_form import ParamsForm, ParamsInputError
from desktop.ui.plain import plain_label, tooltip
from desktop.ui.provider_editor import BusyIndicator, error_text, model_combo

log = logging.getLogger("sidestream.ui")

DEFAULT_PROVIDER_TEXT = "Default provider"
DEFAULT_PROVIDER_TIP = (
    "The provider that is the default when a chat starts, with its default model."
)
PROMPT_PLACEHOLDER = (
    "Instructions the model follows in every reply of a chat started from this "
    "preset, e.g. “You are a patient tutor: explain step by step.”"
)


class PresetEditor(EditorDialog):
    """Add (``preset`` None) or edit one preset.

    Emits ``saved(preset_id)`` and closes once the service accepted it.
    """

    saved = Signal(int)
    discard_question = "Discard your changes to this preset?"

    def __init__(
        self,
        presets: PresetService,
        settings: SettingsService,
        *,
        preset: Preset | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.tasks = TaskKeeper(log)
        self._presets = presets
        self._settings = settings
        self._preset = preset
        self._providers: dict[int, ProviderView] = {}
        self._loaded: tuple[object, ...] = ()
        self.setObjectName("presetEditor")
        self.setWindowTitle(f"Edit preset “{preset.name}”" if preset else "Add a preset")
        self.setMinimumWidth(580)
        self._build()
        self._fill(preset)
        self._loaded = self._snapshot()
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        for keys in ("Ctrl+Return", "Ctrl+Enter"):
            QShortcut(QKeySequence(keys), self).activated.connect(self.save)
        self.provider_combo.currentIndexChanged.connect(self._on_provider_combo_index_changed)
        self.fetch_button.clicked.connect(self.fetch_models)

    # ------------------------------------------------------------ building
    def _build(self) -> None:
        self.name_edit = QLineEdit(self)
        self.name_edit.setObjectName("presetName")
        self.name_edit.setPlaceholderText("e.g. Tutor, Code reviewer, Translator")
        self.prompt_edit = QPlainTextEdit(self)
        self.prompt_edit.setObjectName("presetSystemPrompt")
        self.prompt_edit.setPlaceholderText(PROMPT_PLACEHOLDER)
        self.prompt_edit.setTabChangesFocus(True)
        self.prompt_edit.setAccessibleName("System prompt")
        self.prompt_edit.setMinimumHeight(self.fontMetrics().lineSpacing() * 8)

        self.provider_combo = QComboBox(self)
        self.provider_combo.setObjectName("presetProvider")
        self.model_combo = model_combo(self, "presetModel")
        self.fetch_button = QPushButton("F&etch models", self)
        self.fetch_button.setObjectName("presetFetchModels")
        self.fetch_button.setAutoDefault(False)
        self.fetch_busy = BusyIndicator(self)
        self.model_status = plain_label(parent=self)  # a provider's own words
        self.model_status.setObjectName("presetModelStatus")
        self.model_status.setWordWrap(True)
        self.model_status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.model_status.hide()

        self.params_form = ParamsForm(self)
        params_box = QGroupBox("Parameters", self)
        QVBoxLayout(params_box).addWidget(self.params_form)

        self.error_label = plain_label(parent=self)
        self.error_label.setObjectName("presetEditorError")
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet(style.banner_stylesheet("error", self.palette()))
        self.error_label.hide()
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel, self
        )
        self.save_button = self.buttons.button(QDialogButtonBox.StandardButton.Save)
        self.save_button.setToolTip("Save (Ctrl+Enter)")

        labels = {}
        for text, buddy in (
            ("&Name:", self.name_edit),
            ("&System prompt:", self.prompt_edit),
            ("P&rovider:", self.provider_combo),
            ("M&odel:", self.model_combo),
        ):
            labels[text] = plain_label(text, self)
            labels[text].setBuddy(buddy)
        model_row = QHBoxLayout()
        model_row.addWidget(self.model_combo, 1)
        model_row.addWidget(self.fetch_button)
        model_row.addWidget(self.fetch_busy)
        form = QFormLayout()
        form.addRow(labels["&Name:"], self.name_edit)
        form.addRow(labels["P&rovider:"], self.provider_combo)
        form.addRow(labels["M&odel:"], model_row)
        form.addRow("", self.model_status)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(labels["&System prompt:"])
        layout.addWidget(self.prompt_edit, 1)
        layout.addWidget(params_box)
        layout.addWidget(self.error_label)
        layout.addWidget(self.buttons)

    def _fill(self, preset: Preset | None) -> None:
        try:
            providers = self._settings.providers()
        except Exception as exc:
            self._show_error(failure_text(exc, "Could not list the providers"))
            providers = []
        self._providers = {p.id: p for p in providers}
        self.provider_combo.addItem(DEFAULT_PROVIDER_TEXT, None)
        self.provider_combo.setItemData(0, DEFAULT_PROVIDER_TIP, Qt.ItemDataRole.ToolTipRole)
        for p in providers:
            self.provider_combo.addItem(p.name, p.id)
            index = self.provider_combo.count() - 1
            self.provider_combo.setItemData(index, tooltip(p.base_url), Qt.ItemDataRole.ToolTipRole)
        if preset is None:
            self._provider_chosen()
            return
        self.name_edit.setText(preset.name)
        self.prompt_edit.setPlainText(preset.system_prompt)
        index = self.provider_combo.findData(preset.provider_id)
        self.provider_combo.setCurrentIndex(max(0, index))
        self._provider_chosen()
        if preset.provider_id is not None:
            self.model_combo.setEditText(preset.model)
        self.params_form.set_params(preset.params)

    # -------------------------------------------------------------- reading
    @property
    def preset(self) -> Preset | None:
        return self._preset

    def provider_id(self) -> int | None:
        data = self.provider_combo.currentData()
        return data if isinstance(data, int) else None

    def model(self) -> str:
        """The model typed or picked; "" is the provider's default (and always so
        with the default provider, whose model cannot be known ahead)."""
        return self.model_combo.currentText().strip() if self.provider_id() is not None else ""

    def busy(self) -> bool:
        return bool(self.tasks.pending())

    def is_edited(self) -> bool:
        return self._snapshot() != self._loaded

    def _snapshot(self) -> tuple[object, ...]:
        return (
            self.name_edit.text(),
            self.prompt_edit.toPlainText(),
            self.provider_id(),
            self.model(),
            self.params_form.raw(),
        )

    # -------------------------------------------------------------- actions
    def save(self) -> None:
        """Save the preset and close, or say why not (the editor stays as typed)."""
        try:
            params = self.params_form.params()
        except ParamsInputError as exc:
            self._show_error(str(exc))
            self.params_form.focus_field(exc.field)
            return
        name, prompt = self.name_edit.text(), self.prompt_edit.toPlainText()
        try:
            if self._preset is None:
                saved = self._presets.add(name, prompt, self.provider_id(), self.model(), params)
                preset_id = saved.id
            else:
                preset_id = self._preset.id
                self._presets.update(
                    Preset(preset_id, name, prompt, self.provider_id(), self.model(), params)
                )
        except Exception as exc:
            self._show_error(failure_text(exc, "Could not save the preset"))
            if isinstance(exc, PresetError):  # the fields passed: it is the name
                self.name_edit.setFocus()
            return
        log.info("Saved preset %d", preset_id)
        self._loaded = self._snapshot()
        self.saved.emit(preset_id)
        self.accept()

    def fetch_models(self) -> None:
        """Fill the model list from the chosen provider (errors shown under it)."""
        provider_id = self.provider_id()
        if provider_id is None or self.fetch_busy.is_running():
            return
        self._set_status("Fetching models…", "info")
        self.fetch_button.setEnabled(False)
        self.fetch_busy.start()
        self.tasks.spawn(self._fetch(provider_id), "presets: fetch models")

    async def _fetch(self, provider_id: int) -> None:
        try:
            models = await self._settings.fetch_models(provider_id)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if shiboken6.isValid(self):
                self._fetch_done()
                self._set_status(error_text(exc), "error")
            return
        if not shiboken6.isValid(self):
            return
        self._fetch_done()
        if self.provider_id() != provider_id:
            return  # another provider was chosen meanwhile: these are not its models
        typed = self.model_combo.currentText()
        self.model_combo.clear()
        self.model_combo.addItems(models)
        self.model_combo.setEditText(typed)
        count = len(models)
        if count:
            self._set_status(f"{count} model{'s' if count != 1 else ''} available.", "success")
        else:
            self._set_status("The provider listed no models.", "warning")

    def _fetch_done(self) -> None:
        self.fetch_busy.stop()
        self.fetch_button.setEnabled(self.provider_id() is not None)

    # --------------------------------------------------------------- display
    def _provider_chosen(self) -> None:
        """Fit the model field to the provider chosen."""
        provider = self._providers.get(self.provider_id() or -1)
        self.model_combo.clear()
        self.model_combo.setEditText("")
        self.model_combo.setEnabled(provider is not None)
        self.fetch_button.setEnabled(provider is not None and not self.fetch_busy.is_running())
        if provider is None:
            placeholder = "The default provider's default model"
        elif provider.default_model:
            placeholder = f"Its default model ({provider.default_model})"
        else:
            placeholder = "Its default model"
        line = self.model_combo.lineEdit()
        if line is not None:  # always: the combo is editable
            line.setPlaceholderText(placeholder)
        self.model_status.hide()

    def _set_status(self, text: str, kind: str) -> None:
        self.model_status.setText(text)
        self.model_status.setStyleSheet(style.status_stylesheet(kind, self.palette()))
        self.model_status.setVisible(bool(text))

    def _show_error(self, text: str | None) -> None:
        self.error_label.setText(text or "")
        self.error_label.setVisible(bool(text))

    # ---------------------------------------------------------------- slots
    def _on_provider_combo_index_changed(self, _index: int) -> None:
        self._provider_chosen()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.name_edit.setFocus()

    def done(self, result: int) -> None:
        self.tasks.cancel_all()  # fetches only: saving is one quick call
        super().done(result)
