"""The per-chat provider and model choice."""

from __future__ import annotations

import logging

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QPushButton,
    QWidget,
)

from desktop.core.errors import ProviderError
from desktop.core.models import Session
from desktop.core.tasks import TaskKeeper
from desktop.services.settings import SettingsService
from desktop.ui.plain import plain_label

log = logging.getLogger("sidestream.ui")


class ModelPickerDialog(QDialog):
    """Pick the provider and model one chat uses from now on."""

    def __init__(
        self, settings: SettingsService, session: Session, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Model for “{session.title}”")
        self._settings = settings
        self._tasks = TaskKeeper(log)
        self.provider_combo = QComboBox(self)
        self.model_combo = QComboBox(self)
        self.model_combo.setEditable(True)
        self.model_combo.setMinimumContentsLength(24)
        self.fetch_button = QPushButton("Fetch models", self)
        self.status = plain_label(parent=self)  # it shows the provider's own words
        self.status.setWordWrap(True)
        providers = settings.providers()
        for p in providers:
            self.provider_combo.addItem(p.name, p.id)
        current = next((p for p in providers if p.id == session.provider_id), None)
        if current is None:
            current = next(
                (p for p in providers if p.is_default), providers[0] if providers else None
            )
        if current is not None:
            self.provider_combo.setCurrentIndex(self.provider_combo.findData(current.id))
            self.model_combo.setEditText(session.model or current.default_model)
        model_row = QHBoxLayout()
        model_row.addWidget(self.model_combo, 1)
        model_row.addWidget(self.fetch_button)
        form = QFormLayout(self)
        form.addRow("Provider:", self.provider_combo)
        form.addRow("Model:", model_row)
        form.addRow(self.status)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)
        self.provider_combo.currentIndexChanged.connect(self._on_provider_changed)
        self.fetch_button.clicked.connect(self._on_fetch_clicked)

    def choice(self) -> tuple[int, str]:
        return int(self.provider_combo.currentData()), self.model_combo.currentText().strip()

    def _on_provider_changed(self, index: int) -> None:
        provider_id = self.provider_combo.itemData(index)
        for p in self._settings.providers():
            if p.id == provider_id:
                self.model_combo.clear()
                self.model_combo.setEditText(p.default_model)
        self.status.clear()

    def _on_fetch_clicked(self) -> None:
        self._tasks.spawn(self._fetch())

    async def _fetch(self) -> None:
        provider_id = int(self.provider_combo.currentData())
        self.fetch_button.setEnabled(False)
        self.status.setText("Fetching models…")
        try:
            models = await self._settings.fetch_models(provider_id)
        except (ProviderError, ValueError) as exc:
            self.status.setText(str(exc))
            return
        finally:
            self.fetch_button.setEnabled(True)
        keep = self.model_combo.currentText()
        self.model_combo.clear()
        self.model_combo.addItems(models)
        self.model_combo.setEditText(keep or (models[0] if models else ""))
        self.status.setText(f"{len(models)} models available.")
