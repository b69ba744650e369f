"""The chat settings dialog on the real services, a real store and the real demo server."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import Qt as GuiQt
from PySide6.QtWidgets import QDialog, QLabel
from pytestqt.qtbot import QtBot

from desktop.core.models import GenerationParams, ProviderKind, Session
from desktop.providers.demo.server import DemoServer
from desktop.services import Services
from desktop.ui.chat_settings_dialog import OWN_SETTINGS_TEXT, ChatSettingsDialog
from tests.support.aio import run_on_qloop

WAIT_MS = 10_000


@pytest.fixture(autouse=True)
def no_provider_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The demo is the only provider the services start with (autouse: before they are built)."""
    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def session(services: Services) -> Session:
    return services.chat.create_chat()


@pytest.fixture
def open_dialog(
    services: Services, session: Session, qtbot: QtBot
) -> Iterator[Callable[[], ChatSettingsDialog]]:
    """Opens the dialog of ``session`` as the window would (shown and active)."""

    def make() -> ChatSettingsDialog:
        dialog = ChatSettingsDialog(services.chat, services.presets, session.id)
        qtbot.addWidget(dialog)
        with qtbot.waitActive(dialog, timeout=5000):
            dialog.show()
            dialog.activateWindow()
        return dialog

    yield make


@pytest.fixture
def dialog(open_dialog: Callable[[], ChatSettingsDialog]) -> ChatSettingsDialog:
    return open_dialog()


def stored(services: Services, session: Session) -> Session:
    found = services.chat.chat(session.id)
    assert found is not None
    return found


def never_asked(_title: str, question: str) -> bool:
    raise AssertionError(f"asked: {question}")


# ------------------------------------------------------------------ saving
def test_ok_saves_the_system_prompt_and_temperature(
    dialog: ChatSettingsDialog, services: Services, session: Session, qtbot: QtBot
) -> None:
    assert dialog.prompt_edit.hasFocus()
    assert dialog.model_label.text() == "Model: Demo · sidestream-demo"
    assert dialog.preset_combo.currentText() == OWN_SETTINGS_TEXT
    assert dialog.params_form.temperature_edit.placeholderText() == "Model default"
    dialog.prompt_edit.setPlainText("  Answer in haiku.  ")
    dialog.params_form.temperature_edit.setText("0.7")
    dialog.confirm = never_asked
    with qtbot.waitSignal(dialog.settings_changed) as changed:
        dialog.ok_button.click()
    assert changed.args == [session.id]
    assert dialog.result() == QDialog.DialogCode.Accepted and not dialog.isVisible()
    saved = stored(services, session)
    assert saved.system_prompt == "Answer in haiku."
    assert saved.params == GenerationParams(temperature=0.7)


def test_the_fields_show_the_saved_settings_and_a_field_can_be_unset(
    services: Services,
    session: Session,
    open_dialog: Callable[[], ChatSettingsDialog],
    qtbot: QtBot,
) -> None:
    services.chat.set_chat_settings(
        session.id,
        "Be terse.",
        GenerationParams(
            temperature=0.2,
            top_p=0.9,
            max_output_tokens=4096,
            reasoning_effort="high",
            thinking_budget=2048,
        ),
    )
    dialog = open_dialog()
    form = dialog.params_form
    assert dialog.prompt_edit.toPlainText() == "Be terse."
    shown = (form.temperature_edit.text(), form.top_p_edit.text(), form.max_tokens_edit.text())
    assert shown == ("0.2", "0.9", "4096")
    assert form.effort_combo.currentData() == "high"
    assert form.thinking_edit.text() == "2048"
    assert not dialog.is_edited()

    form.temperature_edit.clear()
    form.effort_combo.setCurrentIndex(0)
    assert form.effort_combo.currentText() == "Model default"
    form.max_tokens_edit.setText("8,192")  # a thousands separator is fine
    with qtbot.waitSignal(dialog.settings_changed):
        dialog.ok_button.click()
    assert stored(services, session).params == GenerationParams(
        top_p=0.9, max_output_tokens=8192, thinking_budget=2048
    )


def test_an_invalid_value_shows_the_error_and_keeps_the_dialog_open(
    dialog: ChatSettingsDialog, services: Services, session: Session, qtbot: QtBot
) -> None:
    form = dialog.params_form
    dialog.prompt_edit.setPlainText("Keep me.")
    form.temperature_edit.setText("3")
    with qtbot.assertNotEmitted(dialog.settings_changed):
        dialog.ok_button.click()
    assert dialog.isVisible()
    assert dialog.error_label.isVisible()
    assert dialog.error_label.text() == "Temperature must be between 0 and 2 (got 3.0)"
    assert dialog.focusWidget() is form.temperature_edit
    assert form.temperature_edit.text() == "3" and dialog.prompt_edit.toPlainText() == "Keep me."

    form.temperature_edit.setText("1,5")  # a decimal comma reads as a point
    form.max_tokens_edit.setText("lots")
    dialog.ok_button.click()
    assert dialog.error_label.text() == (
        "Maximum output tokens must be a whole number of tokens (got “lots”)."
    )
    assert dialog.focusWidget() is form.max_tokens_edit
    form.max_tokens_edit.clear()
    form.thinking_edit.setText("500")
    dialog.ok_button.click()
    assert dialog.error_label.text() == "Thinking budget must be at least 1024 tokens (got 500)"
    assert stored(services, session).system_prompt == ""  # nothing saved yet

    form.thinking_edit.setText("1024")
    with qtbot.waitSignal(dialog.settings_changed):
        dialog.ok_button.click()
    assert not dialog.error_label.isVisible()
    saved = stored(services, session)
    assert saved.system_prompt == "Keep me."
    assert saved.params == GenerationParams(temperature=1.5, thinking_budget=1024)


def test_a_chat_deleted_meanwhile_is_said_so_and_nothing_typed_is_lost(
    dialog: ChatSettingsDialog, services: Services, session: Session, qtbot: QtBot
) -> None:
    dialog.prompt_edit.setPlainText("A long prompt I wrote.")
    run_on_qloop(services.chat.delete_chat(session.id))
    with qtbot.assertNotEmitted(dialog.settings_changed):
        dialog.ok_button.click()
    assert dialog.isVisible()
    assert "no longer exists" in dialog.error_label.text()
    assert dialog.prompt_edit.toPlainText() == "A long prompt I wrote."


# --------------------------------------------------------------- the keyboard
def test_ctrl_enter_saves_and_every_label_has_its_field(
    dialog: ChatSettingsDialog, services: Services, session: Session, qtbot: QtBot
) -> None:
    labels = [
        label for label in dialog.findChildren(QLabel) if "&" in label.text().replace("&&", "")
    ]
    texts = {label.text() for label in labels}
    assert {
        "&System prompt:",
        "Start from &preset:",
        "Te&mperature:",
        "&Top-p:",
        "Maximum output to&kens:",
        "Reasoning e&ffort:",
        "Thinking &budget:",
        "Preset &name:",
    } <= texts
    for label in labels:
        assert label.buddy() is not None, label.text()
    letters = [t[t.index("&") + 1].lower() for t in texts]
    letters.append("v")  # Sa&ve as preset…
    assert len(letters) == len(set(letters)), letters

    # Up and Down step a number field; from "Model default" they start at a usual value.
    temperature = dialog.params_form.temperature_edit
    qtbot.keyClick(temperature, Qt.Key.Key_Up)
    assert temperature.text() == "1"
    qtbot.keyClick(temperature, Qt.Key.Key_Up)
    assert temperature.text() == "1.1"
    for _ in range(30):
        qtbot.keyClick(temperature, Qt.Key.Key_Down)
    assert temperature.text() == "0"  # never below the range
    qtbot.keyClick(dialog.params_form.thinking_edit, Qt.Key.Key_Down)
    assert dialog.params_form.thinking_edit.text() == "4096"
    qtbot.keyClick(dialog.params_form.thinking_edit, Qt.Key.Key_Down)
    assert dialog.params_form.thinking_edit.text() == "3072"
    dialog.params_form.thinking_edit.clear()

    qtbot.keyClicks(dialog.prompt_edit, "Line one")
    qtbot.keyClick(dialog.prompt_edit, Qt.Key.Key_Return)  # Enter is a new line here
    qtbot.keyClicks(dialog.prompt_edit, "Line two")
    with qtbot.waitSignal(dialog.settings_changed):
        qtbot.keyClick(dialog.prompt_edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    saved = stored(services, session)
    assert saved.system_prompt == "Line one\nLine two"
    assert saved.params == GenerationParams(temperature=0.0)


# ------------------------------------------------------------------ cancel
def test_cancel_saves_nothing_and_asks_before_discarding_edits(
    dialog: ChatSettingsDialog, services: Services, session: Session, qtbot: QtBot
) -> None:
    asked: list[str] = []

    def keep_editing(_title: str, question: str) -> bool:
        asked.append(question)
        return False

    dialog.confirm = keep_editing
    dialog.params_form.top_p_edit.setText("0.5")
    dialog.buttons.rejected.emit()  # Cancel
    assert len(asked) == 1 and dialog.isVisible()
    assert dialog.params_form.top_p_edit.text() == "0.5"
    dialog.confirm = lambda _title, _question: True
    with qtbot.assertNotEmitted(dialog.settings_changed):
        dialog.buttons.rejected.emit()
    assert not dialog.isVisible() and dialog.result() == QDialog.DialogCode.Rejected
    assert stored(services, session).params == GenerationParams()


def test_cancel_without_edits_closes_at_once(dialog: ChatSettingsDialog, qtbot: QtBot) -> None:
    dialog.confirm = never_asked
    qtbot.keyClick(dialog.prompt_edit, Qt.Key.Key_Escape)
    assert not dialog.isVisible()


def test_a_close_from_the_program_discards_without_asking(
    dialog: ChatSettingsDialog, services: Services, session: Session
) -> None:
    """The window or the app going away closes the dialog: a modal question then
    would block the quit (only the user's Cancel, Esc or close button asks)."""
    dialog.confirm = never_asked
    dialog.prompt_edit.setPlainText("Unsaved.")
    dialog.close()
    assert not dialog.isVisible()
    assert stored(services, session).system_prompt == ""


# ------------------------------------------------------------------ presets
def test_start_from_a_preset_fills_the_fields_and_can_switch_the_model(
    services: Services,
    session: Session,
    demo: DemoServer,
    open_dialog: Callable[[], ChatSettingsDialog],
    qtbot: QtBot,
) -> None:
    local, _ = services.settings.add_provider(
        "Local & Co", ProviderKind.OPENAI_CHAT, demo.url + "/v1", "local-default"
    )
    plain = services.presets.add("Plain", "Just answer.", None, "", GenerationParams(top_p=0.8))
    coder = services.presets.add(
        "Coder",
        "You write Python.",
        local.id,
        "coder-7b",
        GenerationParams(temperature=0.1, reasoning_effort="low"),
    )
    services.presets.set_default(plain.id)
    services.chat.set_chat_settings(session.id, "Mine.", GenerationParams(temperature=0.9))
    dialog = open_dialog()
    combo = dialog.preset_combo
    assert [combo.itemText(i) for i in range(combo.count())] == [
        OWN_SETTINGS_TEXT,
        "Coder",
        "Plain (default)",
    ]

    combo.setCurrentIndex(combo.findData(plain.id))
    assert dialog.prompt_edit.toPlainText() == "Just answer."
    assert dialog.params_form.params() == GenerationParams(top_p=0.8)
    assert dialog.switch_model_check.isHidden()  # it names no provider: the chat's stays

    combo.setCurrentIndex(combo.findData(coder.id))
    assert dialog.prompt_edit.toPlainText() == "You write Python."
    assert dialog.params_form.params() == GenerationParams(temperature=0.1, reasoning_effort="low")
    check = dialog.switch_model_check
    assert check.isVisible() and check.isChecked()
    assert check.text() == "Also switch this chat to Local && Co · coder-7b"

    combo.setCurrentIndex(0)  # back to the chat's own
    assert dialog.prompt_edit.toPlainText() == "Mine."
    assert dialog.params_form.params() == GenerationParams(temperature=0.9)
    assert check.isHidden()

    combo.setCurrentIndex(combo.findData(coder.id))
    with qtbot.waitSignal(dialog.settings_changed):
        dialog.ok_button.click()
    saved = stored(services, session)
    assert (saved.provider_id, saved.model) == (local.id, "coder-7b")
    assert saved.system_prompt == "You write Python."
    assert saved.params == GenerationParams(temperature=0.1, reasoning_effort="low")


def test_start_from_a_preset_without_switching_the_model(
    services: Services,
    session: Session,
    demo: DemoServer,
    open_dialog: Callable[[], ChatSettingsDialog],
    qtbot: QtBot,
) -> None:
    local, _ = services.settings.add_provider(
        "Local", ProviderKind.OPENAI_CHAT, demo.url + "/v1", "m"
    )
    preset = services.presets.add("Coder", "You write Python.", local.id, "coder-7b")
    dialog = open_dialog()
    dialog.preset_combo.setCurrentIndex(dialog.preset_combo.findData(preset.id))
    dialog.switch_model_check.setChecked(False)
    with qtbot.waitSignal(dialog.settings_changed):
        dialog.ok_button.click()
    saved = stored(services, session)
    assert (saved.provider_id, saved.model) == (session.provider_id, session.model)
    assert saved.system_prompt == "You write Python."


def test_save_as_preset_keeps_the_fields_and_the_chats_model_as_a_new_preset(
    dialog: ChatSettingsDialog, services: Services, session: Session, qtbot: QtBot
) -> None:
    dialog.prompt_edit.setPlainText("Explain like a patient teacher.")
    dialog.params_form.top_p_edit.setText("0.95")
    assert dialog.preset_name_row.isHidden()
    dialog.save_preset_button.click()
    assert dialog.preset_name_row.isVisible()
    assert dialog.preset_name_edit.hasFocus()
    assert dialog.preset_name_edit.text() == ""  # "New chat" is no name for a preset
    qtbot.keyClicks(dialog.preset_name_edit, "Tutor")
    # Enter in the name field saves the preset, not the chat.
    with (
        qtbot.waitSignal(dialog.presets_changed),
        qtbot.assertNotEmitted(dialog.settings_changed),
    ):
        qtbot.keyClick(dialog.preset_name_edit, Qt.Key.Key_Return)
    assert dialog.isVisible()
    [preset] = services.presets.presets()
    assert (preset.name, preset.system_prompt) == ("Tutor", "Explain like a patient teacher.")
    assert preset.params == GenerationParams(top_p=0.95)
    assert (preset.provider_id, preset.model) == (session.provider_id, session.model)
    assert dialog.status_label.text() == "Saved as the preset “Tutor”."
    assert dialog.preset_name_row.isHidden()
    assert dialog.preset_combo.findData(preset.id) > 0
    assert dialog.preset_combo.currentIndex() == 0  # the fields stay as they are
    assert stored(services, session).system_prompt == ""  # the chat waits for OK

    # A name taken: said in the dialog, the row stays with the name as typed.
    dialog.save_preset_button.click()
    dialog.preset_name_edit.setText("tutor")
    with qtbot.assertNotEmitted(dialog.presets_changed):
        dialog.save_preset_confirm.click()
    assert dialog.error_label.text() == "There is already a preset named “Tutor”."
    assert dialog.preset_name_row.isVisible() and dialog.preset_name_edit.text() == "tutor"
    # An invalid value is refused the same way as by OK.
    dialog.params_form.top_p_edit.setText("2")
    dialog.preset_name_edit.setText("Other")
    dialog.save_preset_confirm.click()
    assert dialog.error_label.text() == "Top-p must be between 0 and 1 (got 2.0)"
    assert [p.name for p in services.presets.presets()] == ["Tutor"]
    # Esc in the name field closes the row, not the dialog.
    qtbot.keyClick(dialog.preset_name_edit, Qt.Key.Key_Escape)
    assert dialog.preset_name_row.isHidden() and dialog.isVisible()


def test_save_as_preset_suggests_the_chats_title(
    services: Services, session: Session, open_dialog: Callable[[], ChatSettingsDialog]
) -> None:
    services.chat.rename_chat(session.id, "Spanish practice")
    dialog = open_dialog()
    dialog.save_preset_button.click()
    assert dialog.preset_name_edit.text() == "Spanish practice"
    assert dialog.preset_name_edit.selectedText() == "Spanish practice"


# -------------------------------------------------------------- plain text
def test_names_from_outside_are_shown_as_text(
    services: Services, session: Session, open_dialog: Callable[[], ChatSettingsDialog]
) -> None:
    hostile = '<img src="file:///dev/zero"> <b>bold</b>'
    services.chat.rename_chat(session.id, hostile)
    services.presets.add(hostile, hostile)
    dialog = open_dialog()
    dialog.save_preset_button.click()
    dialog.preset_name_edit.setText(hostile)
    dialog.save_preset_confirm.click()  # taken: the error quotes the name
    assert hostile in dialog.error_label.text()
    dialog.grab()
    for label in dialog.findChildren(QLabel):
        if GuiQt.mightBeRichText(label.text()):
            assert label.textFormat() == Qt.TextFormat.PlainText, label.text()
