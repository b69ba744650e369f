"""API keys: in the OS keyring, from the environment, or for this process only.

Keys never touch SQLite or a log; log lines name the provider, never the key.
When the OS has no usable keyring (a headless box, a minimal desktop), a key
is kept in memory for this run and :meth:`KeyStore.set_key` says so, so that
the UI can tell the user it will be asked for again next time.
"""

from __future__ import annotations

import enum
import logging
import os
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import keyring.backend

# keyring itself is imported on first use: it finds its backends through
# package metadata, which costs ~60 ms of start-up for a key that the demo
# provider, or a provider keyed by an environment variable, never asks for.

log = logging.getLogger("sidestream.store")

SERVICE = "Sidestream"


class KeyPersistence(enum.StrEnum):
    KEYRING = "keyring"
    SESSION_ONLY = "session_only"


def _usable(backend: keyring.backend.KeyringBackend) -> bool:
    import keyring.backends.chainer
    import keyring.backends.fail
    import keyring.backends.null

    if isinstance(backend, keyring.backends.fail.Keyring | keyring.backends.null.Keyring):
        return False
    if isinstance(backend, keyring.backends.chainer.ChainerBackend):
        # An empty chain accepts set_password and silently stores nothing.
        return bool(backend.backends)
    return True


class KeyStore:
    """Where provider API keys live; the username of a keyring entry is the provider name.

    ``backend`` pins a keyring backend (tests); by default the one keyring
    selects at the time of each call is used.
    """

    def __init__(self, backend: keyring.backend.KeyringBackend | None = None) -> None:
        self._backend = backend
        self._session_keys: dict[str, str] = {}
        self._lock = threading.Lock()

    def _keyring(self) -> keyring.backend.KeyringBackend:
        if self._backend is not None:
            return self._backend
        import keyring

        return keyring.get_keyring()

    def get_key(self, provider_name: str, env_var: str | None = None) -> str | None:
        """The key for a provider: ``env_var`` if set and non-empty, else the stored one."""
        if env_var:
            from_env = os.environ.get(env_var)
            if from_env:
                return from_env
        with self._lock:
            if provider_name in self._session_keys:
                return self._session_keys[provider_name]
        backend = self._keyring()
        if not _usable(backend):
            return None
        try:
            key = backend.get_password(SERVICE, provider_name)
        except Exception as exc:
            # Keyring backends raise more than KeyringError (D-Bus errors,
            # a locked collection the user refused to unlock).
            log.warning("Could not read the API key of %r from the keyring: %s", provider_name, exc)
            return None
        return key if isinstance(key, str) and key else None

    def set_key(self, provider_name: str, key: str) -> KeyPersistence:
        """Store a key; KEYRING if the OS keyring has it, SESSION_ONLY if only memory does."""
        if not key:
            raise ValueError("an empty API key cannot be stored; use delete_key")
        backend = self._keyring()
        if _usable(backend):
            try:
                backend.set_password(SERVICE, provider_name, key)
                # Read back: some backends accept a key and keep nothing.
                stored = backend.get_password(SERVICE, provider_name) == key
            except Exception as exc:
                log.warning(
                    "Could not save the API key of %r in the keyring: %s", provider_name, exc
                )
                stored = False
            if stored:
                with self._lock:
                    self._session_keys.pop(provider_name, None)
                return KeyPersistence.KEYRING
        log.info(
            "No usable keyring (%s): the API key of %r is kept for this session only",
            type(backend).__name__,
            provider_name,
        )
        with self._lock:
            self._session_keys[provider_name] = key
        return KeyPersistence.SESSION_ONLY

    def delete_key(self, provider_name: str) -> None:
        """Forget a provider's key, in memory and in the keyring (no error if absent)."""
        with self._lock:
            self._session_keys.pop(provider_name, None)
        backend = self._keyring()
        if not _usable(backend):
            return
        import keyring.errors

        try:
            backend.delete_password(SERVICE, provider_name)
        except keyring.errors.PasswordDeleteError:
            pass  # there was none
        except Exception as exc:
            log.warning(
                "Could not delete the API key of %r from the keyring: %s", provider_name, exc
            )
