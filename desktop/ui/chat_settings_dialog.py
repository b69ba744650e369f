"""The settings of one chat: its system prompt and parameters, from a preset or its own.

OK saves them through :meth:`ChatService.set_chat_settings` (used from the
chat's next reply on); a value refused is shown in the dialog, which stays
open with everything as typed. Cancel saves nothing (and asks first when
something was edited). "Start from preset" fills the fields from a preset,
and offers to switch the chat to the preset's model as well; "Save as
preset…" keeps what the fields say as a new preset, without saving the chat.
"""

from __future__ import annotations

import dataclasses
import logging

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QKeyEvent, QKeySequence, QShortcut, QShowEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from desktop.core.models import GenerationParams, Preset, Session
from desktop.services.chat import DEFAULT_TITLE, ChatService
from desktop.services.chat_presets import PresetService
from desktop.ui import style
from desktop.ui.action_errors import failure_text
from desktop.ui.editor_dialog import EditorDialog
from desktop.ui.params_form import ParamsForm, ParamsInputError
from desktop.ui.plain import plain_label, tooltip

log = logging.getLogger("sidestream.ui")

OWN_SETTINGS_TEXT = "This chat's own settings"
PROMPT_PLACEHOLDER = (
    "Instructions the model follows in every reply of this chat, e.g. "
    "“Answer briefly, in British English.” Leave empty for none."
)
_ENTER_KEYS = (Qt.Key.Key_Return, Qt.Key.Key_Enter)


class ChatSettingsDialog(EditorDialog):
    """A chat's system prompt and parameters.

    Signals: ``settings_changed(int)`` with the chat's id after OK saved its
    settings (or its model, when switched to a preset's); ``presets_changed()``
    after "Save as preset…" added one.
    """

    settings_changed = Signal(int)
    presets_changed = Signal()
    discard_question = "Discard your changes to this chat's system prompt and parameters?"

    def __init__(
        self,
        chat: ChatService,
        presets: PresetService,
        session_id: int,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._chat = chat
        self._presets = presets
        self._session_id = session_id
        self._session: Session | None = chat.chat(session_id)
        self._presets_by_id: dict[int, Preset] = {}
        self._loaded: tuple[object, ...] = ()
        self.setObjectName("chatSettingsDialog")
        title = self._session.title if self._session is not None else "a chat"
        self.setWindowTitle(f"Chat settings — {title}")
        self.setMinimumWidth(580)
        self._build()
        self._connect()
        self._load()

    # ------------------------------------------------------------ building
    def _build(self) -> None:
        self.model_label = plain_label(parent=self)  # a provider's and a model's names
        self.model_label.setObjectName("chatModel")
        self.model_label.setWordWrap(True)
        self.model_label.setStyleSheet(style.status_stylesheet("info", self.palette()))

        self.preset_combo = QComboBox(self)
        self.preset_combo.setObjectName("startFromPreset")
        self.preset_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.preset_combo.setMinimumContentsLength(24)
        self.switch_model_check = QCheckBox(self)
        self.switch_model_check.setObjectName("switchModel")
        self.switch_model_check.hide()
        preset_label = plain_label("Start from &preset:", self)
        preset_label.setBuddy(self.preset_combo)

        self.prompt_edit = QPlainTextEdit(self)
        self.prompt_edit.setObjectName("systemPrompt")
        self.prompt_edit.setPlaceholderText(PROMPT_PLACEHOLDER)
        self.prompt_edit.setTabChangesFocus(True)
        self.prompt_edit.setAccessibleName("System prompt")
        self.prompt_edit.setMinimumHeight(self.fontMetrics().lineSpacing() * 9)
        prompt_label = plain_label("&System prompt:", self)
        prompt_label.setBuddy(self.prompt_edit)

        self.params_form = ParamsForm(self)
        params_box = QGroupBox("Parameters", self)
        box_layout = QVBoxLayout(params_box)
        box_layout.addWidget(self.params_form)

        self.error_label = plain_label(parent=self)  # service messages may quote typed text
        self.error_label.setObjectName("chatSettingsError")
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet(style.banner_stylesheet("error", self.palette()))
        self.error_label.hide()
        self.status_label = plain_label(parent=self)
        self.status_label.setObjectName("chatSettingsStatus")
        self.status_label.setWordWrap(True)
        self.status_label.setStyleSheet(style.status_stylesheet("success", self.palette()))
        self.status_label.hide()

        self.preset_name_edit = QLineEdit(self)
        self.preset_name_edit.setObjectName("presetName")
        self.preset_name_edit.setPlaceholderText("A name for the new preset")
        self.preset_name_edit.installEventFilter(self)
        self.save_preset_confirm = QPushButton("Save preset", self)
        self.save_preset_confirm.setObjectName("savePresetConfirm")
        self.save_preset_confirm.setAutoDefault(False)
        self.close_name_button = QToolButton(self)
        self.close_name_button.setText("✕")
        self.close_name_button.setAccessibleName("Do not save a preset")
        self.close_name_button.setToolTip("Do not save a preset (Esc)")
        name_label = plain_label("Preset &name:", self)
        name_label.setBuddy(self.preset_name_edit)
        self.preset_name_row = QWidget(self)
        name_row = QHBoxLayout(self.preset_name_row)
        name_row.setContentsMargins(0, 0, 0, 0)
        name_row.addWidget(name_label)
        name_row.addWidget(self.preset_name_edit, 1)
        name_row.addWidget(self.save_preset_confirm)
        name_row.addWidget(self.close_name_button)
        self.preset_name_row.hide()

        self.save_preset_button = QPushButton("Sa&ve as preset…", self)
        self.save_preset_button.setObjectName("saveAsPreset")
        self.save_preset_button.setAutoDefault(False)
        self.save_preset_button.setToolTip(
            "Keep this system prompt, these parameters and this chat's model as a preset "
            "to start other chats from (the chat itself is saved by OK)."
        )
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setToolTip("Save (Ctrl+Enter)")

        form = QFormLayout()
        form.addRow(preset_label, self.preset_combo)
        form.addRow("", self.switch_model_check)
        bottom = QHBoxLayout()
        bottom.addWidget(self.save_preset_button)
        bottom.addStretch(1)
        bottom.addWidget(self.buttons)
        layout = QVBoxLayout(self)
        layout.addWidget(self.model_label)
        layout.addLayout(form)
        layout.addWidget(prompt_label)
        layout.addWidget(self.prompt_edit, 1)
        layout.addWidget(params_box)
        layout.addWidget(self.error_label)
        layout.addWidget(self.status_label)
        layout.addWidget(self.preset_name_row)
        layout.addLayout(bottom)

    def _connect(self) -> None:
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        for keys in ("Ctrl+Return", "Ctrl+Enter"):
            shortcut = QShortcut(QKeySequence(keys), self)
            shortcut.activated.connect(self.save)
        self.preset_combo.currentIndexChanged.connect(self._on_preset_combo_index_changed)
        self.save_preset_button.clicked.connect(self._on_save_preset_button_clicked)
        self.save_preset_confirm.clicked.connect(self.save_as_preset)
        self.close_name_button.clicked.connect(self._hide_name_row)

    def _load(self) -> None:
        session = self._session
        if session is None:
            self._show_error("This chat no longer exists.")
            for widget in (self.prompt_edit, self.params_form, self.preset_combo):
                widget.setEnabled(False)
            self.save_preset_button.setEnabled(False)
            self.ok_button.setEnabled(False)
            return
        try:
            self.model_label.setText(f"Model: {self._chat.model_label(session)}")
        except Exception as exc:  # no provider can be built: the settings still can be
            self.model_label.setText(f"No provider is available: {exc}")
        self._fill_presets()
        self._show(session.system_prompt, session.params)
        self._loaded = self._snapshot()

    def _fill_presets(self, keep: int | None = None) -> None:
        """List the presets (the default marked); select ``keep`` without filling."""
        presets = self._presets.presets()
        default = self._presets.default_preset()
        self._presets_by_id = {p.id: p for p in presets}
        self.preset_combo.blockSignals(True)
        try:
            self.preset_combo.clear()
            self.preset_combo.addItem(OWN_SETTINGS_TEXT, None)
            for p in presets:
                marked = default is not None and p.id == default.id
                self.preset_combo.addItem(f"{p.name} (default)" if marked else p.name, p.id)
                if p.system_prompt:
                    index = self.preset_combo.count() - 1
                    self.preset_combo.setItemData(
                        index, tooltip(p.system_prompt[:500]), Qt.ItemDataRole.ToolTipRole
                    )
            self.preset_combo.setCurrentIndex(max(0, self.preset_combo.findData(keep)))
        finally:
            self.preset_combo.blockSignals(False)
        if not presets:
            self.preset_combo.setToolTip(
                "No presets yet: add them in Settings › Presets, or keep these settings "
                "with Save as preset…"
            )
        else:
            self.preset_combo.setToolTip("Fill the fields from a preset (OK saves them)")

    def _show(self, system_prompt: str, params: GenerationParams) -> None:
        self.prompt_edit.setPlainText(system_prompt)
        self.params_form.set_params(params)

    # -------------------------------------------------------------- reading
    @property
    def session_id(self) -> int:
        return self._session_id

    def chosen_preset(self) -> Preset | None:
        data = self.preset_combo.currentData()
        return self._presets_by_id.get(data) if isinstance(data, int) else None

    def model_switch(self) -> tuple[int, str] | None:
        """The provider and model OK switches the chat to (a preset's), if any."""
        preset = self.chosen_preset()
        if (
            preset is None
            or preset.provider_id is None
            or self.switch_model_check.isHidden()
            or not self.switch_model_check.isChecked()
        ):
            return None
        return preset.provider_id, preset.model

    def is_edited(self) -> bool:
        return self._session is not None and self._snapshot() != self._loaded

    def _snapshot(self) -> tuple[object, ...]:
        return (
            self.prompt_edit.toPlainText(),
            self.params_form.raw(),
            self.preset_combo.currentData(),
            self.model_switch(),
        )

    # -------------------------------------------------------------- actions
    def save(self) -> None:
        """OK: save the fields as the chat's settings and close, or say why not."""
        if self._session is None:
            return
        params = self._entered_params()
        if params is None:
            return
        if self._chat.chat(self._session_id) is None:
            self._show_error(
                "This chat no longer exists, so its settings cannot be saved. "
                "Save as preset… still keeps them."
            )
            return
        prompt = self.prompt_edit.toPlainText()
        try:
            self._chat.set_chat_settings(self._session_id, prompt, params)
        except Exception as exc:
            self._show_error(failure_text(exc, "Could not save this chat's settings"))
            return
        log.info("Saved the settings of chat %d", self._session_id)
        switch = self.model_switch()
        if switch is not None:
            try:
                self._chat.set_chat_model(self._session_id, *switch)
            except Exception as exc:
                # The prompt and parameters are saved; say what is not.
                self._loaded = self._snapshot()
                self.settings_changed.emit(self._session_id)
                self._show_error(failure_text(exc, "Saved, but could not switch the model"))
                return
        self._loaded = self._snapshot()
        self.settings_changed.emit(self._session_id)
        self.accept()

    def ask_preset_name(self) -> None:
        """Show the row that asks the new preset's name."""
        if self._session is None:
            return
        if not self.preset_name_edit.text():
            title = self._session.title
            self.preset_name_edit.setText("" if title == DEFAULT_TITLE else title)
        self.status_label.hide()
        self.preset_name_row.show()
        self.preset_name_edit.setFocus()
        self.preset_name_edit.selectAll()

    def save_as_preset(self) -> None:
        """Keep what the fields say, with this chat's model, as a new preset."""
        if self._session is None:
            return
        params = self._entered_params()
        if params is None:
            return
        provider_id, model = self.model_switch() or (self._session.provider_id, self._session.model)
        try:
            preset = self._presets.add(
                self.preset_name_edit.text(),
                self.prompt_edit.toPlainText(),
                provider_id,
                model,
                params,
            )
        except Exception as exc:
            self._show_error(failure_text(exc, "Could not save the preset"))
            self.preset_name_edit.setFocus()
            self.preset_name_edit.selectAll()
            return
        log.info("Saved the settings of chat %d as preset %d", self._session_id, preset.id)
        self._show_error(None)
        self.preset_name_edit.clear()
        self.preset_name_row.hide()
        keep = self.preset_combo.currentData()
        self._fill_presets(keep if isinstance(keep, int) else None)
        self.status_label.setText(f"Saved as the preset “{preset.name}”.")
        self.status_label.show()
        self.save_preset_button.setFocus()
        self.presets_changed.emit()

    def _entered_params(self) -> GenerationParams | None:
        """The parameters as typed, or None after showing why they are refused."""
        try:
            params = self.params_form.params()
        except ParamsInputError as exc:
            self._show_error(str(exc))
            self.params_form.focus_field(exc.field)
            return None
        self._show_error(None)
        return params

    def _hide_name_row(self) -> None:
        self.preset_name_row.hide()
        self.save_preset_button.setFocus()

    def _show_error(self, text: str | None) -> None:
        self.error_label.setText(text or "")
        self.error_label.setVisible(bool(text))
        if text:
            self.status_label.hide()

    # ---------------------------------------------------------------- slots
    def _on_preset_combo_index_changed(self, _index: int) -> None:
        preset = self.chosen_preset()
        session = self._session
        if session is None:
            return
        self.status_label.hide()
        if preset is None:
            self._show(session.system_prompt, session.params)
            self.switch_model_check.hide()
            return
        self._show(preset.system_prompt, preset.params)
        self._offer_model_of(preset, session)

    def _offer_model_of(self, preset: Preset, session: Session) -> None:
        same = preset.provider_id == session.provider_id and preset.model == session.model
        if preset.provider_id is None or same:
            self.switch_model_check.hide()
            return
        chosen = dataclasses.replace(session, provider_id=preset.provider_id, model=preset.model)
        try:
            label = self._chat.model_label(chosen)
        except Exception as exc:
            log.info("The model of preset %d cannot be offered: %s", preset.id, exc)
            self.switch_model_check.hide()
            return
        # A button's text takes "&" for a mnemonic: names keep theirs as "&&".
        self.switch_model_check.setText(f"Also switch this chat to {label.replace('&', '&&')}")
        self.switch_model_check.setChecked(True)
        self.switch_model_check.show()

    def _on_save_preset_button_clicked(self) -> None:
        if not self.preset_name_row.isHidden():
            self.save_as_preset()
        else:
            self.ask_preset_name()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        # Enter in the name field saves the preset (not the chat), Esc closes the row.
        if watched is self.preset_name_edit and event.type() == QEvent.Type.KeyPress:
            assert isinstance(event, QKeyEvent)
            modifiers = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
            if event.key() in _ENTER_KEYS and modifiers == Qt.KeyboardModifier.NoModifier:
                self.save_as_preset()
                return True
            if event.key() == Qt.Key.Key_Escape:
                self._hide_name_row()
                return True
        return super().eventFilter(watched, event)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._session is not None:
            self.prompt_edit.setFocus()
