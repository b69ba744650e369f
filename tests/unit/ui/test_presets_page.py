"""The Presets page of the settings dialog and the preset editor, on the real
services, a real store and the real demo server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import Qt as GuiQt
from PySide6.QtWidgets import QLabel
from pytestqt.qtbot import QtBot

from desktop.core.models import GenerationParams, ProviderKind, StoredProvider
from desktop.providers.demo.server import DemoServer
from desktop.services import Services
from desktop.services.settings import ProviderView
from desktop.ui.preset_editor import DEFAULT_PROVIDER_TEXT, PresetEditor
from desktop.ui.presets_page import PresetsPage
from desktop.ui.settings_dialog import SettingsDialog
from tests.support.aio import run_on_qloop

WAIT_MS = 10_000


@pytest.fixture(autouse=True)
def no_provider_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The demo is the only provider the services start with (autouse: before they are built)."""
    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def dialog(services: Services, qtbot: QtBot) -> Iterator[SettingsDialog]:
    widget = SettingsDialog(services.settings, presets=services.presets)
    qtbot.addWidget(widget)
    widget.show()
    yield widget
    widget.close()


@pytest.fixture
def page(dialog: SettingsDialog) -> PresetsPage:
    assert dialog.presets_page is not None
    dialog.tabs.setCurrentWidget(dialog.presets_page)
    return dialog.presets_page


@pytest.fixture
def local(services: Services, demo: DemoServer) -> StoredProvider:
    stored, _ = services.settings.add_provider(
        "Local", ProviderKind.OPENAI_CHAT, demo.url + "/v1", "local-default"
    )
    return stored


def rows(page: PresetsPage) -> list[list[str]]:
    tree = page.preset_list
    found = []
    for i in range(tree.topLevelItemCount()):
        item = tree.topLevelItem(i)
        assert item is not None
        found.append([item.text(c) for c in range(tree.columnCount())])
    return found


def demo_provider(services: Services) -> ProviderView:
    return next(p for p in services.settings.providers() if p.is_demo)


def choose_provider(editor: PresetEditor, provider_id: int | None) -> None:
    index = editor.provider_combo.findData(provider_id)
    assert index >= 0
    editor.provider_combo.setCurrentIndex(index)


# ------------------------------------------------------------------ the page
def test_the_page_is_there_only_with_a_preset_service(
    services: Services, dialog: SettingsDialog, page: PresetsPage, qtbot: QtBot
) -> None:
    without = SettingsDialog(services.settings)
    qtbot.addWidget(without)
    assert without.presets_page is None and without.tabs.count() == 2
    assert [dialog.tabs.tabText(i) for i in range(dialog.tabs.count())] == [
        "&Providers",
        "&Streaming",
        "Pr&esets",
    ]
    assert rows(page) == [] and page.empty_label.isVisible()
    assert not page.edit_button.isEnabled() and not page.remove_button.isEnabled()
    assert not page.default_button.isEnabled() and not page.no_default_button.isEnabled()


def test_add_a_preset_keeps_its_provider_model_prompt_and_parameters(
    services: Services,
    dialog: SettingsDialog,
    page: PresetsPage,
    local: StoredProvider,
    qtbot: QtBot,
) -> None:
    page.refresh()  # the provider was added after the dialog opened
    editor = page.add_preset()
    assert editor.windowTitle() == "Add a preset"
    assert editor.provider_combo.currentText() == DEFAULT_PROVIDER_TEXT
    assert not editor.model_combo.isEnabled()  # the default provider's model is not known ahead
    editor.name_edit.setText("  Code   reviewer ")
    editor.prompt_edit.setPlainText("Review Python code for bugs.")
    choose_provider(editor, local.id)
    assert editor.model_combo.isEnabled()
    line = editor.model_combo.lineEdit()
    assert line is not None and line.placeholderText() == "Its default model (local-default)"
    editor.model_combo.setEditText("coder-7b")
    editor.params_form.temperature_edit.setText("0.2")
    editor.params_form.effort_combo.setCurrentIndex(
        editor.params_form.effort_combo.findData("medium")
    )
    with qtbot.waitSignal(dialog.presets_changed):
        editor.save_button.click()
    assert not editor.isVisible()
    [preset] = services.presets.presets()
    assert preset.name == "Code reviewer"
    assert preset.system_prompt == "Review Python code for bugs."
    assert (preset.provider_id, preset.model) == (local.id, "coder-7b")
    assert preset.params == GenerationParams(temperature=0.2, reasoning_effort="medium")
    assert rows(page) == [
        [
            "Code reviewer",
            "Local · coder-7b",
            "temperature 0.2 · reasoning medium",
            "Review Python code for bugs.",
        ]
    ]
    assert page.selected_preset() == preset and not page.empty_label.isVisible()


def test_edit_a_preset_round_trips_and_keeps_its_provider_and_model(
    services: Services,
    dialog: SettingsDialog,
    page: PresetsPage,
    local: StoredProvider,
    qtbot: QtBot,
) -> None:
    preset = services.presets.add(
        "Tutor",
        "Be patient.",
        local.id,
        "tutor-3b",
        GenerationParams(temperature=0.4, max_output_tokens=2048),
    )
    page.refresh()
    editor = page.edit_preset(preset.id)
    assert editor is not None
    assert editor.name_edit.text() == "Tutor"
    assert editor.prompt_edit.toPlainText() == "Be patient."
    assert editor.provider_id() == local.id and editor.model() == "tutor-3b"
    assert editor.params_form.params() == preset.params
    assert not editor.is_edited()
    editor.name_edit.setText("Patient tutor")
    editor.params_form.temperature_edit.clear()  # back to the model's default
    editor.params_form.thinking_edit.setText("4096")
    with qtbot.waitSignal(dialog.presets_changed):
        editor.save_button.click()
    [saved] = services.presets.presets()
    assert saved.id == preset.id and saved.name == "Patient tutor"
    assert (saved.provider_id, saved.model) == (local.id, "tutor-3b")
    assert saved.params == GenerationParams(max_output_tokens=2048, thinking_budget=4096)

    # The default provider: no provider, no model kept.
    editor = page.edit_preset(preset.id)
    assert editor is not None
    choose_provider(editor, None)
    with qtbot.waitSignal(dialog.presets_changed):
        editor.save()
    [saved] = services.presets.presets()
    assert (saved.provider_id, saved.model) == (None, "")
    assert rows(page)[0][1] == DEFAULT_PROVIDER_TEXT


def test_a_refused_preset_is_explained_and_the_editor_stays_as_typed(
    services: Services, dialog: SettingsDialog, page: PresetsPage, qtbot: QtBot
) -> None:
    services.presets.add("Tutor")
    page.refresh()
    editor = page.add_preset()
    editor.name_edit.setText("tutor")
    editor.prompt_edit.setPlainText("My long prompt.")
    with qtbot.assertNotEmitted(dialog.presets_changed):
        editor.save()
    assert editor.isVisible()
    assert editor.error_label.text() == "There is already a preset named “Tutor”."
    editor.name_edit.setText("Other")
    editor.params_form.top_p_edit.setText("1.5")
    editor.save()
    assert editor.error_label.text() == "Top-p must be between 0 and 1 (got 1.5)"
    assert editor.focusWidget() is editor.params_form.top_p_edit
    editor.name_edit.setText("  ")
    editor.params_form.top_p_edit.clear()
    editor.save()
    assert editor.error_label.text() == "A preset needs a name."
    assert editor.prompt_edit.toPlainText() == "My long prompt."
    assert [p.name for p in services.presets.presets()] == ["Tutor"]

    asked: list[str] = []

    def discard(_title: str, question: str) -> bool:
        asked.append(question)
        return True

    editor.confirm = discard
    editor.buttons.rejected.emit()  # Cancel: asks, and discards when told so
    assert asked == ["Discard your changes to this preset?"]
    assert not editor.isVisible()


def test_saving_a_preset_removed_meanwhile_says_so_and_keeps_the_editor(
    services: Services, dialog: SettingsDialog, page: PresetsPage, qtbot: QtBot
) -> None:
    preset = services.presets.add("Tutor", "Be patient.")
    page.refresh()
    editor = page.edit_preset(preset.id)
    assert editor is not None
    editor.prompt_edit.setPlainText("Be very patient.")
    run_on_qloop(services.presets.remove(preset.id))
    with qtbot.assertNotEmitted(dialog.presets_changed):
        editor.save()
    assert editor.isVisible()
    assert editor.error_label.text() == "That preset no longer exists."
    assert editor.prompt_edit.toPlainText() == "Be very patient."
    assert services.presets.presets() == []


def test_make_default_no_default_and_remove(
    services: Services, dialog: SettingsDialog, page: PresetsPage, qtbot: QtBot
) -> None:
    tutor = services.presets.add("Tutor", "Be patient.")
    coder = services.presets.add("Coder", "Write Python.")
    page.refresh()
    assert [r[0] for r in rows(page)] == ["Coder", "Tutor"]
    assert page.select_preset(tutor.id)
    with qtbot.waitSignal(dialog.presets_changed):
        page.default_button.click()
    default = services.presets.default_preset()
    assert default is not None and default.id == tutor.id
    assert [r[0] for r in rows(page)] == ["Coder", "Tutor (default)"]
    assert not page.default_button.isEnabled() and page.no_default_button.isEnabled()
    assert services.chat.create_chat().system_prompt == "Be patient."

    with qtbot.waitSignal(dialog.presets_changed):
        page.no_default_button.click()
    assert services.presets.default_preset() is None
    assert [r[0] for r in rows(page)] == ["Coder", "Tutor"]
    assert not page.no_default_button.isEnabled()

    page.make_default(coder.id)
    asked: list[str] = []

    def decline(_title: str, question: str) -> bool:
        asked.append(question)
        return False

    dialog.confirm = decline
    assert page.select_preset(coder.id)
    page.remove_button.click()
    assert len(asked) == 1 and "Coder" in asked[0]
    assert "New chats will start from no preset." in asked[0]
    assert len(services.presets.presets()) == 2  # declined: still there

    dialog.confirm = lambda _title, _question: True
    with qtbot.waitSignal(dialog.presets_changed, timeout=WAIT_MS):
        qtbot.keyClick(page.preset_list, Qt.Key.Key_Delete)
    assert [p.name for p in services.presets.presets()] == ["Tutor"]
    assert services.presets.default_preset() is None
    assert [r[0] for r in rows(page)] == ["Tutor"]
    assert page.selected_preset() is not None


def test_a_removed_provider_leaves_its_presets_on_the_default_provider(
    services: Services,
    dialog: SettingsDialog,
    page: PresetsPage,
    local: StoredProvider,
    qtbot: QtBot,
) -> None:
    services.presets.add("Local one", "", local.id, "m1")
    dialog.refresh()
    page.refresh()
    assert rows(page)[0][1] == "Local · m1"
    dialog.confirm = lambda _title, _question: True
    with qtbot.waitSignal(dialog.providers_changed, timeout=WAIT_MS):
        dialog.remove_provider(local.id)
    assert rows(page)[0][1] == DEFAULT_PROVIDER_TEXT


def test_fetch_models_of_the_chosen_provider(
    services: Services, page: PresetsPage, qtbot: QtBot
) -> None:
    editor = page.add_preset()
    assert not editor.fetch_button.isEnabled()  # the default provider: nothing to fetch from
    choose_provider(editor, demo_provider(services).id)
    assert editor.fetch_button.isEnabled()
    editor.fetch_models()
    qtbot.waitUntil(lambda: not editor.busy(), timeout=WAIT_MS)
    models = [editor.model_combo.itemText(i) for i in range(editor.model_combo.count())]
    assert "sidestream-demo" in models
    assert editor.model_status.text().endswith("available.")
    assert editor.model() == ""  # nothing picked yet: the provider's default


def test_every_label_has_its_field_and_text_from_outside_stays_text(
    services: Services, page: PresetsPage, qtbot: QtBot
) -> None:
    hostile = '<img src="file:///dev/zero"> <b>bold</b>'
    preset = services.presets.add(hostile, hostile)
    page.refresh()
    editor = page.edit_preset(preset.id)
    assert editor is not None
    editor.name_edit.setText("")
    editor.save()
    editor.grab()
    labels = [
        label for label in editor.findChildren(QLabel) if "&" in label.text().replace("&&", "")
    ]
    texts = sorted(label.text() for label in labels)
    assert texts == sorted(
        [
            "&Name:",
            "&System prompt:",
            "P&rovider:",
            "M&odel:",
            "Te&mperature:",
            "&Top-p:",
            "Maximum output to&kens:",
            "Reasoning e&ffort:",
            "Thinking &budget:",
        ]
    )
    for label in labels:
        assert label.buddy() is not None, label.text()
    for label in editor.findChildren(QLabel) + page.findChildren(QLabel):
        if GuiQt.mightBeRichText(label.text()):
            assert label.textFormat() == Qt.TextFormat.PlainText, label.text()
