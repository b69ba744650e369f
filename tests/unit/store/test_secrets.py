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
from desktop.store.secrets import SERVICE

SECRET = "sk-test-0123456789abcdef"


class MemoryKeyring(keyring.backend.KeyringBackend):
    """A real keyring backend that keeps its entries in a dict."""

    priority = 1

    def __init__(self) -> None:
        super().__init__()
        self.entries: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        try:
            del self.entries[(service, username)]
        except KeyError:
            raise keyring.errors.PasswordDeleteError("no such password") from None


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
    assert backend.entries == {(SERVICE, "OpenAI"): SECRET}
    assert keys.get_key("OpenAI") == SECRET
    # In the keyring, so a new process (a new KeyStore) finds it too.
    assert KeyStore().get_key("OpenAI") == SECRET
    keys.delete_key("OpenAI")
    assert backend.entries == {}
    assert keys.get_key("OpenAI") is None
    keys.delete_key("OpenAI")  # absent: no error


def test_environment_variable_wins(use_keyring: Installer, monkeypatch: pytest.MonkeyPatch) -> None:
    use_keyring(MemoryKeyring())
    keys = KeyStore()
    keys.set_key("Claude", SECRET)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "from-env")
    assert keys.get_key("Claude", "ANTHROPIC_API_KEY") == "from-env"
    assert keys.get_key("Claude") == SECRET  # no variable named: the stored key
    monkeypatch.setenv("ANTHROPIC_API_KEY", "")
    assert keys.get_key("Claude", "ANTHROPIC_API_KEY") == SECRET  # empty is unset
    assert keys.get_key("Other", "OPENAI_API_KEY") is None


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
    assert backend.entries[(SERVICE, "p")] == SECRET
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
