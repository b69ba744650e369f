"""The settings dialog on a real SettingsService, a real store and the real demo server.

Async work runs on a qasync loop registered as running (ENVIRONMENT.md, pattern
1): tasks advance whenever Qt spins, e.g. inside ``qtbot.waitUntil``.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import keyring
import keyring.backends.fail
import PySide6.QtWidgets  # noqa: F401  (import PySide6 before qasync)
import pytest
import qasync
from PySide6.QtCore import Qt
from PySide6.QtGui import Qt as GuiQt
from PySide6.QtWidgets import QLabel
from pytestqt.qtbot import QtBot

from desktop.core.models import ProviderKind
from desktop.core.presets import PRESETS
from desktop.providers.demo.server import DemoOptions, DemoServer
from desktop.services import Services
from desktop.services.settings import ProviderView, SettingsService
from desktop.store import KeyStore, Store
from desktop.ui.provider_editor import KEY_HINT, NO_KEYRING_HINT, ProviderEditor
from desktop.ui.settings_dialog import SettingsDialog
from tests.support.aio import run_on_qloop
from tests.support.raw_server import RawServer, Reply
from tests.support.services import MemoryKeyring, services_on

WAIT_MS = 10_000


@pytest.fixture(autouse=True)
def no_provider_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The demo is the only provider the services start with (autouse: before they are built)."""
    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def service(services: Services) -> SettingsService:
    return services.settings


@pytest.fixture
def dialog(service: SettingsService, qtbot: QtBot) -> Iterator[SettingsDialog]:
    widget = SettingsDialog(service)
    qtbot.addWidget(widget)
    widget.show()
    yield widget
    widget.close()


def row_texts(dialog: SettingsDialog) -> list[list[str]]:
    tree = dialog.provider_list
    rows = []
    for i in range(tree.topLevelItemCount()):
        item = tree.topLevelItem(i)
        assert item is not None
        rows.append([item.text(c) for c in range(tree.columnCount())])
    return rows


def by_name(service: SettingsService, name: str) -> ProviderView:
    found = [p for p in service.providers() if p.name == name]
    assert found, [p.name for p in service.providers()]
    return found[0]


def new_editor(
    dialog: SettingsDialog, *, name: str, base_url: str, key: str = "", model: str = ""
) -> ProviderEditor:
    editor = dialog.add_provider(None)
    editor.name_edit.setText(name)
    editor.base_url_edit.setText(base_url)
    editor.key_edit.setText(key)
    editor.model_combo.setCurrentText(model)
    return editor


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def status_of(label: Any) -> Callable[[], str]:
    return lambda: label.text() if label.isVisible() else ""


# ------------------------------------------------------------------ providers
def test_lists_the_demo_provider_as_default(dialog: SettingsDialog) -> None:
    assert row_texts(dialog) == [["Demo (default)", "Demo", "Not needed", "sidestream-demo"]]
    assert dialog.selected_provider() is not None
    assert not dialog.remove_button.isEnabled()  # keep at least one provider
    assert not dialog.default_button.isEnabled()
    names = [a.text() for a in dialog.add_menu.actions() if not a.isSeparator()]
    assert names == [p.name for p in PRESETS] + ["Custom OpenAI-compatible server…"]


def test_add_a_custom_provider_with_a_key(
    dialog: SettingsDialog,
    service: SettingsService,
    demo: DemoServer,
    memory_keyring: MemoryKeyring,
    qtbot: QtBot,
) -> None:
    editor = new_editor(
        dialog, name="Local", base_url=demo.url + "/v1", key="sk-local", model="sidestream-demo"
    )
    assert editor.isVisible() and editor.kind() is ProviderKind.OPENAI_CHAT
    with qtbot.waitSignal(dialog.providers_changed, timeout=WAIT_MS):
        editor.buttons.accepted.emit()  # the Save button
    qtbot.waitUntil(lambda: not editor.isVisible(), timeout=WAIT_MS)
    local = by_name(service, "Local")
    assert local.has_key and not local.is_demo and local.base_url == demo.url + "/v1"
    # A real provider is preferred over the demo until a default is chosen.
    assert row_texts(dialog) == [
        ["Demo", "Demo", "Not needed", "sidestream-demo"],
        ["Local (default)", "OpenAI-compatible", "Set", "sidestream-demo"],
    ]
    assert memory_keyring.passwords[("Sidestream", "Local")] == "sk-local"
    assert not dialog.banner.isVisible()
    assert dialog.selected_provider() == local


def test_add_from_a_preset_prefills_and_picks_a_free_name(
    dialog: SettingsDialog, service: SettingsService, qtbot: QtBot
) -> None:
    ollama = next(p for p in PRESETS if p.name == "Ollama")
    service.add_provider("Ollama", ollama.kind, ollama.base_url, ollama.default_model)
    dialog.refresh()
    editor = dialog.add_provider(ollama)
    assert editor.name_edit.text() == "Ollama 2"
    assert editor.base_url_edit.text() == ollama.base_url
    assert editor.model() == ollama.default_model
    anthropic = next(p for p in PRESETS if p.name == "Anthropic")
    editor = dialog.add_provider(anthropic)  # replaces the open editor
    assert editor.kind() is ProviderKind.ANTHROPIC
    assert editor.name_edit.text() == "Anthropic"


def test_a_refused_setting_shows_the_reason_and_keeps_the_editor_open(
    dialog: SettingsDialog, service: SettingsService, qtbot: QtBot
) -> None:
    editor = new_editor(dialog, name="Demo", base_url="http://127.0.0.1:1/v1")
    with qtbot.assertNotEmitted(dialog.providers_changed):
        editor.save()
    assert editor.isVisible()
    assert editor.error_label.isVisible()
    assert editor.error_label.text() == "There is already a provider called 'Demo'."
    editor.name_edit.setText("Other")
    editor.base_url_edit.setText("ftp://nope")
    editor.save()
    assert editor.error_label.text() == "The base URL must start with http:// or https://."
    assert [p.name for p in service.providers()] == ["Demo"]


def test_key_kept_for_this_session_only_is_announced(
    demo: DemoServer, tmp_path: Path, qloop: qasync.QEventLoop, qtbot: QtBot
) -> None:
    keys = KeyStore(backend=keyring.backends.fail.Keyring())
    built = services_on(demo, Store.open(tmp_path / "data"), keys)
    svc = built.settings
    try:
        dialog = SettingsDialog(svc)
        qtbot.addWidget(dialog)
        dialog.show()
        editor = new_editor(dialog, name="NoKeyring", base_url=demo.url + "/v1", key="sk-x")
        editor.save()
        qtbot.waitUntil(dialog.banner.isVisible, timeout=WAIT_MS)
        text = dialog.banner.text()
        assert "No system keyring is available" in text
        assert "only until Sidestream quits" in text and "NoKeyring" in text
        assert by_name(svc, "NoKeyring").has_key
    finally:
        run_on_qloop(built.aclose())


def test_the_key_field_says_where_a_key_goes_before_save(
    dialog: SettingsDialog, demo: DemoServer, tmp_path: Path, qtbot: QtBot
) -> None:
    editor = new_editor(dialog, name="WithKeyring", base_url=demo.url + "/v1")
    assert editor.key_hint.text() == KEY_HINT
    editor.close()
    keys = KeyStore(backend=keyring.backends.fail.Keyring())
    built = services_on(demo, Store.open(tmp_path / "other"), keys)
    try:
        other = SettingsDialog(built.settings)
        qtbot.addWidget(other)
        other.show()
        editor = new_editor(other, name="NoKeyring", base_url=demo.url + "/v1")
        assert editor.key_hint.isVisible()
        assert editor.key_hint.text() == NO_KEYRING_HINT
        assert "only until Sidestream quits" in editor.key_hint.text()
        assert "Stored in the system keyring" not in editor.key_hint.text()
        other.close()
    finally:
        run_on_qloop(built.aclose())


def test_saving_after_a_failed_test_asks_and_never_makes_it_the_default(
    dialog: SettingsDialog, service: SettingsService, qtbot: QtBot
) -> None:
    demo_id = by_name(service, "Demo").id
    editor = new_editor(dialog, name="Nobody", base_url=f"http://127.0.0.1:{closed_port()}/v1")
    asked: list[str] = []
    answer = False

    def confirm(failure: str) -> bool:
        asked.append(failure)
        return answer

    editor.confirm_failed = confirm
    editor.test_connection()
    qtbot.waitUntil(lambda: not editor.test_busy.is_running(), timeout=WAIT_MS)
    assert editor.test_failed()
    with qtbot.assertNotEmitted(dialog.providers_changed):
        editor.save()  # keep editing
    assert len(asked) == 1 and asked[0].startswith("The connection to the provider failed")
    assert editor.isVisible()
    assert [p.name for p in service.providers()] == ["Demo"]

    answer = True  # save anyway
    with qtbot.waitSignal(dialog.providers_changed, timeout=WAIT_MS):
        editor.save()
    assert len(asked) == 2
    nobody = by_name(service, "Nobody")
    assert not nobody.is_default
    assert service.default_provider_id() == demo_id
    assert dialog.banner.isVisible()
    assert "connection test failed" in dialog.banner.text()


def test_a_test_that_failed_with_other_settings_does_not_ask(
    dialog: SettingsDialog, service: SettingsService, demo: DemoServer, qtbot: QtBot
) -> None:
    editor = new_editor(dialog, name="Local", base_url=f"http://127.0.0.1:{closed_port()}/v1")
    editor.confirm_failed = lambda failure: pytest.fail("asked although the address changed")
    editor.test_connection()
    qtbot.waitUntil(lambda: not editor.test_busy.is_running(), timeout=WAIT_MS)
    editor.base_url_edit.setText(demo.url + "/v1")  # fixed: the failure is stale
    with qtbot.waitSignal(dialog.providers_changed, timeout=WAIT_MS):
        editor.save()
    assert by_name(service, "Local").is_default  # a real provider, preferred as before


def test_fetch_models_from_the_demo_server_fills_the_combo(
    dialog: SettingsDialog, demo: DemoServer, qtbot: QtBot
) -> None:
    editor = new_editor(dialog, name="Local", base_url=demo.url + "/v1")
    editor.fetch_button.click()
    assert editor.fetch_busy.is_running() and not editor.fetch_button.isEnabled()
    assert editor.model_status.text() == "Fetching models…"
    qtbot.waitUntil(lambda: "available" in status_of(editor.model_status)(), timeout=WAIT_MS)
    items = [editor.model_combo.itemText(i) for i in range(editor.model_combo.count())]
    assert items == ["sidestream-demo", "sidestream-demo-mini", "sidestream-demo-text-only"]
    assert editor.model() == "sidestream-demo"
    assert editor.model_status.text() == "3 models available."
    assert not editor.fetch_busy.is_running() and editor.fetch_button.isEnabled()


def test_fetch_models_of_the_saved_demo_provider(
    dialog: SettingsDialog, service: SettingsService, qtbot: QtBot
) -> None:
    editor = dialog.edit_provider(by_name(service, "Demo").id)
    assert editor is not None
    # The demo's address is chosen at start: it cannot be edited.
    assert not editor.base_url_edit.isEnabled() and editor.base_url_edit.isReadOnly()
    assert not editor.key_edit.isEnabled()
    editor.model_combo.setCurrentText("")
    editor.fetch_models()
    qtbot.waitUntil(lambda: editor.model_combo.count() == 3, timeout=WAIT_MS)
    assert editor.model() == "sidestream-demo"


def test_a_bad_base_url_shows_the_error_text(
    dialog: SettingsDialog, demo: DemoServer, qtbot: QtBot
) -> None:
    editor = new_editor(dialog, name="Wrong", base_url=demo.url + "/not-an-api")
    editor.fetch_models()
    qtbot.waitUntil(lambda: not editor.fetch_busy.is_running(), timeout=WAIT_MS)
    text = editor.model_status.text()
    assert editor.model_status.isVisible()
    assert text.startswith("The provider does not know this model or endpoint (HTTP 404)"), text
    assert "Traceback" not in text
    assert editor.model_combo.count() == 0

    editor.base_url_edit.setText("localhost:8080")
    editor.fetch_models()
    assert editor.model_status.text() == "The base URL must start with http:// or https://."
    assert not editor.tasks.pending()


def test_a_provider_error_status_shows_the_provider_message(
    dialog: SettingsDialog, demo: DemoServer, qtbot: QtBot
) -> None:
    demo.defaults = DemoOptions(rate=0, tokens=60, status=401)
    editor = new_editor(dialog, name="Locked", base_url=demo.url + "/v1", key="sk-wrong")
    editor.test_connection()
    qtbot.waitUntil(lambda: not editor.test_busy.is_running(), timeout=WAIT_MS)
    assert editor.test_status.text().startswith("The provider rejected the API key (HTTP 401)")


def test_test_connection_against_a_closed_port_shows_a_clear_error(
    dialog: SettingsDialog, qtbot: QtBot
) -> None:
    editor = new_editor(dialog, name="Nobody", base_url=f"http://127.0.0.1:{closed_port()}/v1")
    editor.test_button.click()
    assert editor.test_status.text() == "Testing the connection…"
    qtbot.waitUntil(lambda: not editor.test_busy.is_running(), timeout=WAIT_MS)
    text = editor.test_status.text()
    assert text.startswith("The connection to the provider failed"), text
    assert "Traceback" not in text and editor.test_button.isEnabled()


def test_test_connection_succeeds_against_the_demo(
    dialog: SettingsDialog, demo: DemoServer, qtbot: QtBot
) -> None:
    editor = new_editor(dialog, name="Local", base_url=demo.url + "/v1", key="k")
    editor.test_connection()
    qtbot.waitUntil(lambda: not editor.test_busy.is_running(), timeout=WAIT_MS)
    assert editor.test_status.text() == "Connected: the provider answered with 3 models."
    assert editor.model_combo.count() == 3  # filled when it was empty


def test_closing_the_editor_cancels_a_fetch_in_flight(dialog: SettingsDialog, qtbot: QtBot) -> None:
    # A server that accepts connections and never answers.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        editor = new_editor(dialog, name="Silent", base_url=f"http://127.0.0.1:{port}/v1")
        editor.fetch_models()
        tasks = editor.tasks.pending()
        assert len(tasks) == 1
        qtbot.wait(50)  # let the request reach the socket
        editor.reject()
        qtbot.waitUntil(lambda: all(t.done() for t in tasks), timeout=WAIT_MS)
        assert tasks[0].cancelled()


def test_edit_a_provider_renames_it_and_keeps_its_key(
    dialog: SettingsDialog,
    service: SettingsService,
    demo: DemoServer,
    memory_keyring: MemoryKeyring,
    qtbot: QtBot,
) -> None:
    service.add_provider(
        "Local", ProviderKind.OPENAI_CHAT, demo.url + "/v1", "sidestream-demo", "sk-1"
    )
    dialog.refresh()
    local = by_name(service, "Local")
    editor = dialog.edit_provider(local.id)
    assert editor is not None
    assert editor.key_edit.text() == "" and "A key is set" in editor.key_edit.placeholderText()
    assert editor.forget_key_check.isVisible()
    editor.name_edit.setText("Local LLM")
    editor.model_combo.setCurrentText("sidestream-demo-mini")
    with qtbot.waitSignal(dialog.providers_changed, timeout=WAIT_MS):
        editor.save()
    renamed = by_name(service, "Local LLM")
    assert renamed.id == local.id and renamed.default_model == "sidestream-demo-mini"
    assert renamed.has_key
    assert memory_keyring.passwords == {("Sidestream", "Local LLM"): "sk-1"}
    assert ["Local LLM (default)", "OpenAI-compatible", "Set", "sidestream-demo-mini"] in (
        row_texts(dialog)
    )

    # Forget the key.
    editor = dialog.edit_provider(local.id)
    assert editor is not None
    editor.forget_key_check.setChecked(True)
    assert not editor.key_edit.isEnabled() and editor.api_key() == ""
    with qtbot.waitSignal(dialog.providers_changed, timeout=WAIT_MS):
        editor.save()
    assert not by_name(service, "Local LLM").has_key
    assert memory_keyring.passwords == {}


def test_an_edit_refused_by_the_service_shows_the_reason(
    dialog: SettingsDialog, service: SettingsService, demo: DemoServer, qtbot: QtBot
) -> None:
    service.add_provider("Local", ProviderKind.OPENAI_CHAT, demo.url + "/v1", "m")
    dialog.refresh()
    editor = dialog.edit_provider(by_name(service, "Local").id)
    assert editor is not None
    editor.name_edit.setText("Demo")
    editor.save()
    qtbot.waitUntil(editor.error_label.isVisible, timeout=WAIT_MS)
    assert editor.error_label.text() == "There is already a provider called 'Demo'."
    assert editor.isVisible() and editor.save_button.isEnabled()


def test_make_default_and_remove(
    dialog: SettingsDialog, service: SettingsService, demo: DemoServer, qtbot: QtBot
) -> None:
    service.add_provider("Local", ProviderKind.OPENAI_CHAT, demo.url + "/v1", "m")
    dialog.refresh()
    local = by_name(service, "Local")
    assert dialog.select_provider(local.id)
    # A real provider is preferred over the demo once there is one.
    assert local.is_default
    assert dialog.select_provider(by_name(service, "Demo").id)
    assert dialog.default_button.isEnabled()
    with qtbot.waitSignal(dialog.providers_changed):
        dialog.default_button.click()
    assert by_name(service, "Demo").is_default
    assert [r[0] for r in row_texts(dialog) if "default" in r[0]] == ["Demo (default)"]

    asked: list[str] = []

    def decline(_title: str, question: str) -> bool:
        asked.append(question)
        return False

    dialog.confirm = decline
    dialog.select_provider(local.id)
    dialog.remove_button.click()
    assert len(asked) == 1 and "Local" in asked[0]
    assert by_name(service, "Local")  # declined: still there

    dialog.confirm = lambda _title, _question: True
    with qtbot.waitSignal(dialog.providers_changed, timeout=WAIT_MS):
        dialog.remove_button.click()
    assert [p.name for p in service.providers()] == ["Demo"]
    assert [r[0] for r in row_texts(dialog)] == ["Demo (default)"]
    assert not dialog.remove_button.isEnabled()

    # The service's refusal is shown, not raised.
    dialog.remove_provider(by_name(service, "Demo").id)
    qtbot.waitUntil(dialog.banner.isVisible, timeout=WAIT_MS)
    assert dialog.banner.text() == "Keep at least one provider."


# ------------------------------------------------------------------ streaming
def test_max_streams_spin_box_applies_to_the_manager(
    dialog: SettingsDialog, service: SettingsService, services: Services, qtbot: QtBot
) -> None:
    manager = services.manager
    spin = dialog.streams_spin
    assert (spin.minimum(), spin.maximum()) == (1, 50)
    assert spin.value() == service.max_streams == manager.limit
    with qtbot.waitSignal(dialog.max_streams_changed) as changed:
        spin.setValue(7)
    assert changed.args == [7]
    assert manager.limit == 7 and service.max_streams == 7
    spin.setValue(99)  # clamped by the spin box
    assert manager.limit == 50
    # A new dialog shows the saved value.
    again = SettingsDialog(service)
    qtbot.addWidget(again)
    assert again.streams_spin.value() == 50


def test_the_wait_for_the_first_token_round_trips_and_says_what_it_refuses(
    dialog: SettingsDialog, service: SettingsService, services: Services, qtbot: QtBot
) -> None:
    dialog.tabs.setCurrentIndex(1)  # Streaming
    minutes, seconds = dialog.wait_minutes, dialog.wait_seconds
    assert minutes.isVisible() and seconds.isVisible()
    assert (minutes.value(), seconds.value()) == (10, 0)  # the default: 10 minutes
    assert service.first_token_wait == 600.0
    labels = [w for w in dialog.findChildren(QLabel) if w.buddy() is minutes]
    assert [label.text() for label in labels] == ["&Wait for the first token:"]
    assert labels[0].textFormat() is Qt.TextFormat.PlainText
    assert "24 hours" in minutes.toolTip()
    with qtbot.waitSignal(dialog.first_token_wait_changed) as changed:
        minutes.setValue(2)
    assert changed.args == [120.0]
    seconds.setValue(30)
    assert service.first_token_wait == 150.0
    assert services.directory.first_token_wait() == 150.0  # what new replies get
    # Too short: the reason, plainly; nothing saved.
    minutes.setValue(0)
    assert service.first_token_wait == 30.0
    seconds.setValue(5)
    assert dialog.wait_status.isVisible()
    assert dialog.wait_status.text() == (
        "Wait between 10 seconds and 24 hours for a reply to begin."
    )
    assert dialog.wait_status.textFormat() is Qt.TextFormat.PlainText
    assert service.first_token_wait == 30.0
    seconds.setValue(45)
    assert not dialog.wait_status.isVisible()
    # A new dialog shows what was saved.
    again = SettingsDialog(service)
    qtbot.addWidget(again)
    assert (again.wait_minutes.value(), again.wait_seconds.value()) == (0, 45)


def test_trying_a_new_address_without_the_key_says_why_it_may_fail(
    dialog: SettingsDialog, service: SettingsService, demo: DemoServer, qtbot: QtBot
) -> None:
    service.add_provider("Local", ProviderKind.OPENAI_CHAT, demo.url + "/v1", "m", "sk-1")
    dialog.refresh()
    editor = dialog.edit_provider(by_name(service, "Local").id)
    assert editor is not None
    editor.base_url_edit.setText(f"http://127.0.0.1:{closed_port()}/v1")
    editor.test_connection()
    qtbot.waitUntil(lambda: not editor.test_busy.is_running(), timeout=WAIT_MS)
    text = editor.test_status.text()
    assert text.startswith("The connection to the provider failed"), text
    assert "The stored key is only used with the saved address" in text


# ------------------------------------------------------------ hostile text
class FifoWatch:
    """A FIFO that records whether anything opened it for reading.

    Rich text loads an ``<img src="file:///…">`` on the GUI thread: on a FIFO
    that froze the window for as long as nothing wrote to it. Here a writer
    process (not a thread: the GUI thread holds the interpreter lock while Qt
    reads) waits for each reader, notes it in a log and closes at once, so a
    failure shows as ``opened`` instead of a hung test.
    """

    def __init__(self, folder: Path) -> None:
        self.path = folder / "fifo"
        self.log = folder / "opened.log"
        os.mkfifo(self.path)
        script = 'while :; do : > "$1"; echo opened >> "$2"; done'
        self._writer = subprocess.Popen(["sh", "-c", script, "sh", self.path, self.log])

    @property
    def opened(self) -> bool:
        return self.log.exists()

    def close(self) -> None:
        self._writer.kill()
        self._writer.wait(5)


@pytest.fixture
def fifo(tmp_path: Path) -> Iterator[FifoWatch]:
    watch = FifoWatch(tmp_path)
    yield watch
    watch.close()


def test_provider_text_is_shown_as_text_never_as_rich_text(
    dialog: SettingsDialog, service: SettingsService, fifo: FifoWatch, qtbot: QtBot
) -> None:
    hostile = f'Bad gateway <img src="file://{fifo.path}"> <b>bold</b>'
    body = json.dumps({"error": {"message": hostile}}).encode()
    reply = Reply(500, (("Content-Type", "application/json"),), (body,), framing="length")
    with RawServer(reply) as server:
        editor = new_editor(dialog, name="Hostile", base_url=server.base_url + "/v1", key="k")
        editor.test_connection()
        qtbot.waitUntil(lambda: not editor.test_busy.is_running(), timeout=WAIT_MS)
        editor.fetch_models()
        qtbot.waitUntil(lambda: not editor.fetch_busy.is_running(), timeout=WAIT_MS)
        editor.grab()  # lay out and paint every label as the screen would
        shown = [label for label in editor.findChildren(QLabel) if hostile in label.text()]
        assert shown, [label.text() for label in editor.findChildren(QLabel)]
        for label in editor.findChildren(QLabel) + dialog.findChildren(QLabel):
            if GuiQt.mightBeRichText(label.text()):
                assert label.textFormat() == Qt.TextFormat.PlainText, label.text()
    assert not fifo.opened, "a label loaded the image an error message named"


def test_a_provider_is_said_to_have_a_key_only_if_it_will_send_one(
    service: SettingsService, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-the-environment-123456")
    service.add_provider("OpenAI", ProviderKind.OPENAI_CHAT, "https://api.openai.com/v1", "m")
    service.add_provider("Gateway", ProviderKind.OPENAI_CHAT, "https://gw.example/v1", "m")
    service.add_provider("Own", ProviderKind.OPENAI_CHAT, "https://own.example/v1", "m", "sk-own")
    assert by_name(service, "OpenAI").has_key
    assert not by_name(service, "Gateway").has_key  # the environment key is not sent there
    assert by_name(service, "Own").has_key


def test_how_new_chats_are_named_is_a_setting_off_by_default(
    dialog: SettingsDialog, service: SettingsService
) -> None:
    from desktop.services.titles import AUTO_TITLE_KEY

    combo = dialog.titles_combo
    assert combo.currentData() == "never"
    combo.setCurrentIndex(combo.findData("local"))
    assert service.get(AUTO_TITLE_KEY) == "local"
    combo.setCurrentIndex(combo.findData("always"))
    assert service.get(AUTO_TITLE_KEY) == "always"
    again = SettingsDialog(service)
    assert again.titles_combo.currentData() == "always"
    again.deleteLater()
