"""API keys: keyring when there is one, this process only when there is not."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import keyring
import keyring.backend
import keyring.backends.fail
import keyring.backends.null
import keyring.core
import keyring.errors
import pytest

from desktop.core.models import ProviderKind
from desktop.store import KeyPersistence, KeyStore, Store
from desktop.store.secrets import SERVICE, environment_key
from tests.support.services import MemoryKeyring

SECRET = "sk-test-0123456789abcdef"


class LockedKeyring(MemoryKeyring):
    """A keyring the user refused to unlock."""

    def get_password(self, service: str, username: str) -> str | None:
        raise keyring.errors.KeyringLocked("collection is locked")

    def set_password(self, service: str, username: str, password: str) -> None:
        raise keyring.errors.KeyringLocked("collection is locked")


Installer = Callable[[keyring.backend.KeyringBackend], None]


@pytest.fixture
def use_keyring(monkeypatch: pytest.MonkeyPatch) -> Iterator[Installer]:
    """Install a backend with keyring.set_keyring; the previous one comes back after."""
    monkeypatch.setattr(keyring.core, "_keyring_backend", keyring.core._keyring_backend)

    def install(backend: keyring.backend.KeyringBackend) -> None:
        keyring.set_keyring(backend)

    yield install


@pytest.fixture(autouse=True)
def no_env_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY"):
        monkeypatch.delenv(name, raising=False)


def test_keyring_round_trip(use_keyring: Installer) -> None:
    backend = MemoryKeyring()
    use_keyring(backend)
    keys = KeyStore()
    assert keys.get_key("OpenAI") is None
    assert keys.set_key("OpenAI", SECRET) is KeyPersistence.KEYRING
    assert backend.passwords == {(SERVICE, "OpenAI"): SECRET}
    assert keys.get_key("OpenAI") == SECRET
    # In the keyring, so a new process (a new KeyStore) finds it too.
    assert KeyStore().get_key("OpenAI") == SECRET
    keys.delete_key("OpenAI")
    assert backend.passwords == {}
    assert keys.get_key("OpenAI") is None
    keys.delete_key("OpenAI")  # absent: no error


def test_a_stored_key_comes_before_the_environment(
    use_keyring: Installer, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_keyring(MemoryKeyring())
    keys = KeyStore()
    keys.set_key("Claude", SECRET)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "from-env")
    assert keys.get_key("Claude", "ANTHROPIC_API_KEY") == SECRET
    assert keys.key_for("Claude", ProviderKind.ANTHROPIC, ANTHROPIC) == SECRET
    assert keys.get_key("Other", "ANTHROPIC_API_KEY") == "from-env"  # no key of its own
    assert keys.get_key("Other") is None  # no variable named
    monkeypatch.setenv("ANTHROPIC_API_KEY", "")
    assert keys.get_key("Other", "ANTHROPIC_API_KEY") is None  # empty is unset


OPENAI = "https://api.openai.com/v1"
ANTHROPIC = "https://api.anthropic.com"
GATEWAY = "https://gateway.example.com/v1"


@pytest.mark.parametrize(
    ("kind", "base_url", "env", "expected"),
    [
        # The environment's key goes to the API it was made for...
        (ProviderKind.OPENAI_CHAT, OPENAI, {}, "env-openai"),
        (ProviderKind.OPENAI_RESPONSES, "https://API.openai.com:443/v1/", {}, "env-openai"),
        (ProviderKind.ANTHROPIC, ANTHROPIC, {}, "env-anthropic"),
        (ProviderKind.ANTHROPIC, ANTHROPIC + "/v1", {}, "env-anthropic"),
        # ... or to the one its base-URL variable names instead,
        (ProviderKind.OPENAI_CHAT, GATEWAY, {"OPENAI_BASE_URL": GATEWAY + "/"}, "env-openai"),
        (ProviderKind.OPENAI_CHAT, OPENAI, {"OPENAI_BASE_URL": GATEWAY}, None),
        (
            ProviderKind.ANTHROPIC,
            "http://127.0.0.1:9000",
            {"ANTHROPIC_BASE_URL": "http://127.0.0.1:9000/v1"},
            "env-anthropic",
        ),
        # ... and nowhere else: another host, port, scheme, path or dialect.
        (ProviderKind.OPENAI_CHAT, GATEWAY, {}, None),
        (ProviderKind.OPENAI_CHAT, "http://127.0.0.1:11434/v1", {}, None),
        (ProviderKind.OPENAI_CHAT, "http://api.openai.com/v1", {}, None),
        (ProviderKind.OPENAI_CHAT, "https://api.openai.com:8443/v1", {}, None),
        (ProviderKind.OPENAI_CHAT, "https://api.openai.com.evil.test/v1", {}, None),
        (ProviderKind.OPENAI_CHAT, "https://gateway.example.com/proxy/api.openai.com/v1", {}, None),
        (ProviderKind.OPENAI_CHAT, ANTHROPIC, {}, None),
        (ProviderKind.ANTHROPIC, OPENAI, {}, None),
        (ProviderKind.OPENAI_CHAT, "not a url", {}, None),
    ],
)
def test_an_environment_key_belongs_only_to_its_endpoint(
    monkeypatch: pytest.MonkeyPatch,
    kind: ProviderKind,
    base_url: str,
    env: dict[str, str],
    expected: str | None,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "env-openai")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "env-anthropic")
    for name in ("OPENAI_BASE_URL", "ANTHROPIC_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert environment_key(kind, base_url) == expected
    keys = KeyStore(MemoryKeyring())
    assert keys.key_for("Provider", kind, base_url) == expected
    keys.set_key("Provider", SECRET)
    assert keys.key_for("Provider", kind, base_url) == SECRET, "its own key first"


def test_an_empty_environment_key_is_no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "")
    monkeypatch.setenv("OPENAI_BASE_URL", "")  # empty: OpenAI's own address
    assert environment_key(ProviderKind.OPENAI_CHAT, OPENAI) is None
    monkeypatch.setenv("OPENAI_API_KEY", "env-openai")
    assert environment_key(ProviderKind.OPENAI_CHAT, OPENAI) == "env-openai"


def test_fail_backend_keeps_the_key_for_this_session_only(use_keyring: Installer) -> None:
    use_keyring(keyring.backends.fail.Keyring())
    keys = KeyStore()
    assert keys.get_key("OpenAI") is None
    assert keys.set_key("OpenAI", SECRET) is KeyPersistence.SESSION_ONLY
    assert keys.get_key("OpenAI") == SECRET
    assert KeyStore().get_key("OpenAI") is None, "a new process does not have it"
    keys.delete_key("OpenAI")
    assert keys.get_key("OpenAI") is None


@pytest.mark.parametrize(
    "backend",
    [LockedKeyring(), keyring.backends.null.Keyring()],
    ids=["keyring-error", "silently-stores-nothing"],
)
def test_unusable_keyrings_fall_back_to_session_only(
    use_keyring: Installer, backend: keyring.backend.KeyringBackend
) -> None:
    use_keyring(backend)
    keys = KeyStore()
    assert keys.set_key("OpenAI", SECRET) is KeyPersistence.SESSION_ONLY
    assert keys.get_key("OpenAI") == SECRET


def test_a_working_keyring_again_replaces_the_session_copy(use_keyring: Installer) -> None:
    keys = KeyStore()
    use_keyring(keyring.backends.fail.Keyring())
    assert keys.set_key("OpenAI", "old") is KeyPersistence.SESSION_ONLY
    backend = MemoryKeyring()
    use_keyring(backend)
    assert keys.set_key("OpenAI", "new") is KeyPersistence.KEYRING
    assert keys.get_key("OpenAI") == "new"


def test_pinned_backend_and_empty_key() -> None:
    backend = MemoryKeyring()
    keys = KeyStore(backend)
    assert keys.set_key("p", SECRET) is KeyPersistence.KEYRING
    assert backend.passwords[(SERVICE, "p")] == SECRET
    with pytest.raises(ValueError):
        keys.set_key("p", "")


def test_keys_reach_neither_logs_nor_the_database(
    use_keyring: Installer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with Store.open(tmp_path / "data") as store:
        store.add_provider("OpenAI", ProviderKind.OPENAI_CHAT, "https://api.openai.com/v1", "m")
        for backend in (MemoryKeyring(), LockedKeyring(), keyring.backends.fail.Keyring()):
            use_keyring(backend)
            keys = KeyStore()
            keys.set_key("OpenAI", SECRET)
            keys.get_key("OpenAI")
            keys.delete_key("OpenAI")
        store.set_setting("unrelated", "value")
    assert caplog.records, "the fallbacks are logged"
    assert SECRET not in caplog.text
    for path in (tmp_path / "data").iterdir():
        assert SECRET.encode() not in path.read_bytes(), path.name


def test_keyring_available_says_whether_a_key_would_outlast_the_run() -> None:
    """Asked before Save (the key field says it), without storing anything."""
    memory = MemoryKeyring()
    assert KeyStore(backend=memory).keyring_available()
    assert not KeyStore(backend=keyring.backends.fail.Keyring()).keyring_available()
    assert not KeyStore(backend=keyring.backends.null.Keyring()).keyring_available()
    assert memory.get_password(SERVICE, "anything") is None  # nothing was written
