"""The provider editor (add or edit one provider: kind, address, key, models) and its helpers.

Network work (fetching models, testing a connection) runs as asyncio tasks on
the running qasync loop, never blocking the UI; a
:class:`~desktop.core.tasks.TaskKeeper` holds a strong reference to each task,
and the ones still running are cancelled when the dialog closes. Every error
reaches the user as a sentence in the dialog (:func:`error_text`); a
traceback only ever goes to the log.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

import shiboken6
from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QPainter, QPaintEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop.core.errors import ProviderError
from desktop.core.models import ProviderKind
from desktop.core.presets import ProviderPreset
from desktop.core.tasks import TaskKeeper
from desktop.services.settings import KeyPersistence, ProviderView, SettingsError, SettingsService
from desktop.ui import icons, style
from desktop.ui.plain import message_box, plain_label

log = logging.getLogger("sidestream.ui")

T = TypeVar("T")

KIND_LABELS: dict[ProviderKind, str] = {
    ProviderKind.OPENAI_CHAT: "OpenAI-compatible (Chat Completions)",
    ProviderKind.OPENAI_RESPONSES: "OpenAI Responses",
    ProviderKind.ANTHROPIC: "Anthropic Messages",
}
KIND_SHORT: dict[ProviderKind, str] = {
    ProviderKind.OPENAI_CHAT: "OpenAI-compatible",
    ProviderKind.OPENAI_RESPONSES: "OpenAI Responses",
    ProviderKind.ANTHROPIC: "Anthropic",
}
KEY_HINT = "Stored in the system keyring, never in Sidestream's database."
NO_KEYRING_HINT = (
    "No system keyring is available: a key typed here is kept only until Sidestream "
    "quits (never in Sidestream's database), and asked for again next time."
)
# KeyPersistence.SESSION_ONLY's value (the enum lives in the store, which ui/ may not import).
DEMO_URL_TEXT = "Built-in demo server (its address is chosen at each start)"


def error_text(exc: BaseException) -> str:
    """What the user reads for an error: the message of a known error, else a short line."""
    if isinstance(exc, ProviderError):
        return exc.message
    if isinstance(exc, SettingsError):
        return str(exc)
    log.error("Unexpected error in the settings dialog", exc_info=exc)
    detail = str(exc) or type(exc).__name__
    return f"Something went wrong: {detail}. The details are in the log."


class BusyIndicator(QWidget):
    """A small spinner; its timer runs only while it is started and shown."""

    def __init__(self, parent: QWidget | None = None, *, side: int = 16) -> None:
        super().__init__(parent)
        self._side = side
        self._phase = 0.0
        self._timer = QTimer(self)
        self._timer.setInterval(60)
        self._timer.timeout.connect(self._on_timer_timeout)
        self.setFixedSize(side, side)
        self.hide()

    def start(self) -> None:
        self.show()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()
        self.hide()

    def is_running(self) -> bool:
        return self._timer.isActive()

    def sizeHint(self) -> QSize:
        return QSize(self._side, self._side)

    def _on_timer_timeout(self) -> None:
        self._phase = (self._phase + 0.06) % 1.0
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        color = self.palette().color(self.foregroundRole())
        icons.paint_spinner(painter, self.rect().toRectF(), self._phase, color)
        painter.end()


class ProviderEditor(QDialog):
    """Add or edit one provider: name, kind, base URL, API key, default model.

    ``provider`` None adds a new one (prefilled from ``preset`` if given).
    Emits ``saved(provider_id, key_session_only, test_failed)`` and closes
    when the service accepted the settings; a refusal stays on screen as a
    message. Saving settings whose Test connection just failed asks first.
    """

    saved = Signal(int, bool, bool)

    def __init__(
        self,
        service: SettingsService,
        *,
        provider: ProviderView | None = None,
        preset: ProviderPreset | None = None,
        suggested_name: str = "",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.tasks = TaskKeeper(log)
        self._service = service
        self._provider = provider
        self._is_demo = provider is not None and provider.is_demo
        self._saving = False
        self._unsaved_key_note = False
        self._keep_default: int | None = None
        self.setObjectName("providerEditor")
        self.setWindowTitle(f"Edit {provider.name}" if provider else "Add a provider")
        self.setMinimumWidth(520)

        self.name_edit = QLineEdit(self)
        self.name_edit.setObjectName("providerName")
        self.kind_combo = QComboBox(self)
        self.kind_combo.setObjectName("providerKind")
        for kind, label in KIND_LABELS.items():
            # Stored as the plain string: a StrEnum does not survive the trip through Qt.
            self.kind_combo.addItem(label, kind.value)
        self.base_url_edit = QLineEdit(self)
        self.base_url_edit.setObjectName("providerBaseUrl")
        self.base_url_edit.setPlaceholderText("https://example.com/v1")
        self.key_edit = QLineEdit(self)
        self.key_edit.setObjectName("providerApiKey")
        self.key_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.key_edit.setAccessibleName("API key")
        self.forget_key_check = QCheckBox("Remove the stored key", self)
        self.forget_key_check.setObjectName("forgetKey")
        self.forget_key_check.hide()
        # Said before Save: where a key goes depends on the system having a keyring.
        keyring = service.keyring_available()
        self.key_hint = plain_label(KEY_HINT if keyring else NO_KEYRING_HINT, self)
        self.key_hint.setObjectName("keyHint")
        self.key_hint.setWordWrap(True)
        self.key_hint.setStyleSheet(
            style.status_stylesheet("info" if keyring else "warning", self.palette())
        )
        # The form (type, address, key) a Test connection last failed with:
        # saving it asks first, and it is not made the default on the way.
        self._failed_test: tuple[ProviderKind, str, str | None] | None = None
        # Asks "save anyway?" after a failed test; tests replace it.
        self.confirm_failed: Callable[[str], bool] = self._ask_save_anyway

        self.model_combo = model_combo(self, "providerModel")
        self.fetch_button = QPushButton("Fetch models", self)
        self.fetch_button.setObjectName("fetchModels")
        self.fetch_button.setAutoDefault(False)
        self.fetch_busy = BusyIndicator(self)
        self.model_status = plain_label(parent=self)  # provider text: never rich
        self.model_status.setObjectName("modelStatus")
        self.model_status.setWordWrap(True)
        self.model_status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.model_status.hide()

        self.test_button = QPushButton("Test connection", self)
        self.test_button.setObjectName("testConnection")
        self.test_button.setAutoDefault(False)
        self.test_busy = BusyIndicator(self)
        self.test_status = plain_label(parent=self)
        self.test_status.setObjectName("testStatus")
        self.test_status.setWordWrap(True)
        self.test_status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.test_status.hide()

        self.error_label = plain_label(parent=self)
        self.error_label.setObjectName("editorError")
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet(style.banner_stylesheet("error", self.palette()))
        self.error_label.hide()

        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel, self
        )
        self.save_button = self.buttons.button(QDialogButtonBox.StandardButton.Save)

        model_row = QHBoxLayout()
        model_row.addWidget(self.model_combo, 1)
        model_row.addWidget(self.fetch_button)
        model_row.addWidget(self.fetch_busy)
        key_box = QVBoxLayout()
        key_box.setSpacing(2)
        key_box.addWidget(self.key_edit)
        key_box.addWidget(self.forget_key_check)
        key_box.addWidget(self.key_hint)
        test_row = QHBoxLayout()
        test_row.addWidget(self.test_button)
        test_row.addWidget(self.test_busy)
        test_row.addStretch(1)

        key_label = QLabel("API &key:", self)
        key_label.setBuddy(self.key_edit)
        model_label = QLabel("Default &model:", self)
        model_label.setBuddy(self.model_combo)
        form = QFormLayout()
        form.addRow("&Name:", self.name_edit)
        form.addRow("&Type:", self.kind_combo)
        form.addRow("Base &URL:", self.base_url_edit)
        form.addRow(key_label, key_box)
        form.addRow(model_label, model_row)
        form.addRow("", self.model_status)
        form.addRow("", test_row)
        form.addRow("", self.test_status)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.error_label)
        layout.addStretch(1)
        layout.addWidget(self.buttons)

        self._fill(provider, preset, suggested_name)

        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        self.fetch_button.clicked.connect(self.fetch_models)
        self.test_button.clicked.connect(self.test_connection)
        self.forget_key_check.toggled.connect(self._on_forget_key_toggled)

    # --------------------------------------------------------------- filling
    def _fill(
        self, provider: ProviderView | None, preset: ProviderPreset | None, suggested: str
    ) -> None:
        if provider is not None:
            self.name_edit.setText(provider.name)
            self._set_kind(provider.kind)
            self.model_combo.setCurrentText(provider.default_model)
            if provider.is_demo:
                self.base_url_edit.setText(DEMO_URL_TEXT)
                self.base_url_edit.setReadOnly(True)
                self.base_url_edit.setEnabled(False)
                self.base_url_edit.setToolTip("The demo server's address cannot be changed.")
                self.key_edit.setEnabled(False)
                self.key_edit.setPlaceholderText("The demo needs no key")
                self.key_hint.hide()
            else:
                self.base_url_edit.setText(provider.base_url)
                if provider.has_key:
                    self.key_edit.setPlaceholderText("A key is set — type a new one to replace it")
                    self.forget_key_check.show()
                else:
                    self.key_edit.setPlaceholderText("Paste the provider's API key")
            return
        self.key_edit.setPlaceholderText("Paste the provider's API key (if it needs one)")
        if preset is not None:
            self.name_edit.setText(suggested or preset.name)
            self._set_kind(preset.kind)
            self.base_url_edit.setText(preset.base_url)
            self.model_combo.setCurrentText(preset.default_model)
        else:
            self.name_edit.setText(suggested or "Custom")
            self._set_kind(ProviderKind.OPENAI_CHAT)

    def _set_kind(self, kind: ProviderKind) -> None:
        index = self.kind_combo.findData(kind.value)
        self.kind_combo.setCurrentIndex(max(0, index))

    # -------------------------------------------------------------- reading
    @property
    def provider(self) -> ProviderView | None:
        return self._provider

    def kind(self) -> ProviderKind:
        data = self.kind_combo.currentData()
        try:
            return ProviderKind(data)
        except ValueError:
            return ProviderKind.OPENAI_CHAT

    def base_url(self) -> str:
        if self._provider is not None and self._is_demo:
            return self._provider.base_url
        return self.base_url_edit.text().strip()

    def api_key(self) -> str | None:
        """The key to save: None keeps the stored one, "" removes it."""
        if self._is_demo:
            return None
        if self.forget_key_check.isChecked():
            return ""
        typed = self.key_edit.text().strip()
        return typed or None

    def model(self) -> str:
        return self.model_combo.currentText().strip()

    def busy(self) -> bool:
        return bool(self.tasks.pending())

    def _uses_saved_settings(self) -> bool:
        """True when the form still matches the saved provider (so its stored key applies)."""
        p = self._provider
        if p is None:
            return False
        if self._is_demo:
            return True
        return (
            self.kind() == p.kind
            and self.base_url().rstrip("/") == p.base_url.rstrip("/")
            and self.api_key() is None
        )

    def _tested_form(self) -> tuple[ProviderKind, str, str | None]:
        return (self.kind(), self.base_url().rstrip("/"), self.api_key())

    def test_failed(self) -> bool:
        """Whether Test connection failed with the form as it is now."""
        return self._failed_test is not None and self._failed_test == self._tested_form()

    # -------------------------------------------------------------- actions
    def save(self) -> None:
        if self._saving:
            return
        self._show_error(None)
        failed = self.test_failed()
        if failed and not self.confirm_failed(self.test_status.text()):
            return  # keep editing
        # A provider that failed its test does not become the default on its
        # way in (a real one is preferred over the demo until one is chosen).
        self._keep_default = self._service.default_provider_id() if failed else None
        if self._provider is None:
            try:
                stored, persistence = self._service.add_provider(
                    self.name_edit.text(),
                    self.kind(),
                    self.base_url(),
                    self.model(),
                    self.api_key(),
                )
            except Exception as exc:
                self._show_error(error_text(exc))
                return
            log.info("Added provider %r", stored.name)
            self._finish_save(stored.id, persistence)
            return
        self._set_saving(True)
        self.tasks.spawn(self._save_existing(self._provider.id), "settings: save a provider")

    async def _save_existing(self, provider_id: int) -> None:
        try:
            persistence = await self._service.update_provider(
                provider_id,
                name=self.name_edit.text(),
                kind=self.kind(),
                base_url=self.base_url(),
                default_model=self.model(),
                api_key=self.api_key(),
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if shiboken6.isValid(self):
                self._set_saving(False)
                self._show_error(error_text(exc))
            return
        log.info("Updated provider %d", provider_id)
        if shiboken6.isValid(self):
            self._set_saving(False)
            self._finish_save(provider_id, persistence)

    def _finish_save(self, provider_id: int, persistence: object) -> None:
        session_only = persistence is KeyPersistence.SESSION_ONLY
        keep = self._keep_default
        untested = keep is not None
        if keep is not None and keep != provider_id:
            try:
                if self._service.default_provider_id() != keep:
                    self._service.set_default_provider(keep)
            except Exception as exc:  # saved all the same; the list shows the default
                log.warning("could not keep the default provider: %s", exc)
        self.saved.emit(provider_id, session_only, untested)
        self.accept()

    def _ask_save_anyway(self, failure: str) -> bool:
        box = message_box(
            self,
            QMessageBox.Icon.Warning,
            "Save a provider that failed its test?",
            "Test connection failed with these settings:",
            f"{failure}\n\nSave it anyway (it will not become the default provider), "
            "or keep editing?",
        )
        save = box.addButton("&Save anyway", QMessageBox.ButtonRole.AcceptRole)
        keep = box.addButton("&Keep editing", QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(keep)
        box.setEscapeButton(keep)
        try:
            box.exec()
            return box.clickedButton() is save
        finally:
            box.deleteLater()

    def fetch_models(self) -> None:
        """Fill the model list from the provider (async; errors shown under the list)."""
        if self.fetch_busy.is_running():
            return
        request = self._model_request()
        if request is None:
            return
        self._set_status(self.model_status, "Fetching models…", "info")
        self.fetch_button.setEnabled(False)
        self.fetch_busy.start()
        self.tasks.spawn(self._run_fetch(request), "settings: fetch models")

    def test_connection(self) -> None:
        """Try the settings in the form (unsaved) by listing the provider's models."""
        if self.test_busy.is_running():
            return
        request = self._model_request()
        if request is None:
            return
        self._set_status(self.test_status, "Testing the connection…", "info")
        self.test_button.setEnabled(False)
        self.test_busy.start()
        self.tasks.spawn(self._run_test(request), "settings: test a connection")

    def _model_request(self) -> Callable[[], Awaitable[list[str]]] | None:
        """How to list models with what the form says now, or None (with a message)."""
        self._unsaved_key_note = False
        if self._uses_saved_settings():
            assert self._provider is not None
            provider_id = self._provider.id
            return lambda: self._service.fetch_models(provider_id)
        base_url = self.base_url()
        if not base_url.startswith(("http://", "https://")):
            message = "The base URL must start with http:// or https://."
            self._set_status(self.model_status, message, "error")
            self._set_status(self.test_status, message, "error")
            return None
        kind, key = self.kind(), self.api_key() or None
        self._unsaved_key_note = (
            self._provider is not None and self._provider.has_key and self.api_key() is None
        )
        return lambda: self._service.test_connection(kind, base_url, key)

    async def _run_fetch(self, request: Callable[[], Awaitable[list[str]]]) -> None:
        models, error = await self._guarded(request)
        if not shiboken6.isValid(self):
            return
        self.fetch_busy.stop()
        self.fetch_button.setEnabled(True)
        if error is not None:
            self._set_status(self.model_status, self._with_key_note(error), "error")
            return
        assert models is not None
        self._fill_models(models)
        count = len(models)
        if count:
            text = f"{count} model{'s' if count != 1 else ''} available."
            self._set_status(self.model_status, text, "success")
        else:
            self._set_status(self.model_status, "The provider listed no models.", "warning")

    async def _run_test(self, request: Callable[[], Awaitable[list[str]]]) -> None:
        tested = self._tested_form()
        models, error = await self._guarded(request)
        if not shiboken6.isValid(self):
            return
        self.test_busy.stop()
        self.test_button.setEnabled(True)
        self._failed_test = tested if error is not None else None
        if error is not None:
            self._set_status(self.test_status, self._with_key_note(error), "error")
            return
        assert models is not None
        if self.model_combo.count() == 0 and models:
            self._fill_models(models)
        n = len(models)
        self._set_status(
            self.test_status,
            f"Connected: the provider answered with {n} model{'s' if n != 1 else ''}.",
            "success",
        )

    @staticmethod
    async def _guarded(
        request: Callable[[], Awaitable[T]],
    ) -> tuple[T | None, str | None]:
        try:
            return await request(), None
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            return None, error_text(exc)

    def _with_key_note(self, error: str) -> str:
        if not self._unsaved_key_note:
            return error
        return (
            f"{error}\n(The stored key is only used with the saved address and type: "
            "type the key again to try new ones before saving.)"
        )

    def _fill_models(self, models: list[str]) -> None:
        current = self.model()
        self.model_combo.clear()
        self.model_combo.addItems(models)
        if current:
            self.model_combo.setCurrentText(current)
        elif models:
            self.model_combo.setCurrentIndex(0)

    # --------------------------------------------------------------- display
    def _set_status(self, label: QLabel, text: str, kind: str) -> None:
        label.setText(text)
        label.setStyleSheet(style.status_stylesheet(kind, self.palette()))
        label.setVisible(bool(text))
        self._grow_to_fit()

    def _show_error(self, text: str | None) -> None:
        self.error_label.setText(text or "")
        self.error_label.setVisible(bool(text))
        self._grow_to_fit()

    def _grow_to_fit(self) -> None:
        """Make room for a long, wrapped message instead of clipping it."""
        layout = self.layout()
        if layout is None:
            return
        layout.activate()
        needed = layout.totalHeightForWidth(self.width())
        if needed > self.height():
            self.resize(self.width(), needed)

    def _set_saving(self, saving: bool) -> None:
        self._saving = saving
        self.save_button.setEnabled(not saving)
        self.buttons.setEnabled(not saving)

    def _on_forget_key_toggled(self, checked: bool) -> None:
        self.key_edit.setEnabled(not checked)
        if checked:
            self.key_edit.clear()

    def done(self, result: int) -> None:
        if self._saving:
            return  # the save finishes (it is quick) and closes the editor itself
        self.tasks.cancel_all()  # fetches and tests only: a save never gets here
        super().done(result)


def model_combo(parent: QWidget, name: str) -> QComboBox:
    """The field for a model's name: typed freely, or picked from what a
    provider lists (Fetch models fills it)."""
    combo = QComboBox(parent)
    combo.setObjectName(name)
    combo.setEditable(True)
    combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
    combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    combo.setMinimumContentsLength(18)
    return combo
