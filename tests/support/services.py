"""Real services for tests: a store, the shared demo server, a keyring in memory.

The ``services`` fixture (``tests/conftest.py``) builds them for the Qt tests;
plain asyncio tests call :func:`services_on` themselves.
"""

from __future__ import annotations

import keyring.backend
import keyring.errors

from desktop.providers.demo.server import DemoServer
from desktop.services import Services, build_services
from desktop.store import KeyStore, Store


class MemoryKeyring(keyring.backend.KeyringBackend):
    """A keyring that keeps passwords in a dict (the OS keyring stays untouched)."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.passwords: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.passwords.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.passwords[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.passwords.pop((service, username), None) is None:
            raise keyring.errors.PasswordDeleteError(username)


def services_on(demo: DemoServer, store: Store, keys: KeyStore | None = None) -> Services:
    """The app's services on ``store`` and the (shared) demo server; close with ``aclose``.

    ``keys`` defaults to the process's keyring (tests install a :class:`MemoryKeyring`).
    """
    built = build_services(store, keys or KeyStore(), demo=demo)
    built.demo = None  # the session's demo server outlives the test
    return built
