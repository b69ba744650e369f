"""API keys: in the OS keyring, from the environment, or for this process only.

Keys never touch SQLite or a log; log lines name the provider, never the key.

A provider's own key (keyring or session) comes first. An environment key
belongs only to the endpoint it was made for: ``OPENAI_API_KEY`` to OpenAI's
API (``OPENAI_BASE_URL`` when that is set), ``ANTHROPIC_API_KEY`` to
Anthropic's (``ANTHROPIC_BASE_URL``); a provider elsewhere never receives it,
so a local server or a third-party gateway cannot collect the user's key.
When the OS has no usable keyring (a headless box, a minimal desktop), a key
is kept in memory for this run and :meth:`KeyStore.set_key` says so, so that
the UI can tell the user it will be asked for again next time.
"""

from __future__ import annotations

import enum
import logging
import os
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from desktop.core.models import ProviderKind

if TYPE_CHECKING:
    import keyring.backend

# keyring itself is imported on first use: it finds its backends through
# package metadata, which costs ~60 ms of start-up for a key that the demo
# provider never asks for.

log = logging.getLogger("sidestream.store")

SERVICE = "Sidestream"


class KeyPersistence(enum.StrEnum):
    KEYRING = "keyring"
    SESSION_ONLY = "session_only"


@dataclass(frozen=True, slots=True)
class EnvironmentKey:
    """An environment variable holding a key, and the endpoint it is for."""

    key_var: str
    base_url_var: str
    default_base_url: str

    def base_url(self) -> str:
        return os.environ.get(self.base_url_var) or self.default_base_url


OPENAI_ENV = EnvironmentKey("OPENAI_API_KEY", "OPENAI_BASE_URL", "https://api.openai.com/v1")
ANTHROPIC_ENV = EnvironmentKey(
    "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "https://api.anthropic.com"
)
ENVIRONMENT_KEYS = {
    ProviderKind.OPENAI_CHAT: OPENAI_ENV,
    ProviderKind.OPENAI_RESPONSES: OPENAI_ENV,
    ProviderKind.ANTHROPIC: ANTHROPIC_ENV,
}


def _endpoint(url: str) -> tuple[str, str, int | None, str] | None:
    """What makes two base URLs one endpoint: scheme, host, port and path,
    without a trailing slash or ``/v1`` (Anthropic's base may carry it or not)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        return None
    if port is None:
        port = 443 if scheme == "https" else 80
    path = parts.path.rstrip("/")
    path = path.removesuffix("/v1")
    return scheme, parts.hostname.lower(), port, path


def same_endpoint(a: str, b: str) -> bool:
    """True when two base URLs address the same API (so may share a key)."""
    left = _endpoint(a)
    return left is not None and left == _endpoint(b)


def environment_key(kind: ProviderKind, base_url: str) -> str | None:
    """The environment's key for a provider of ``kind`` at ``base_url``: only
    when the provider is at the endpoint that variable was made for."""
    source = ENVIRONMENT_KEYS.get(kind)
    if source is None:
        return None
    key = os.environ.get(source.key_var)
    if not key or not same_endpoint(base_url, source.base_url()):
        return None
    return key


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

    def keyring_available(self) -> bool:
        """Whether the keyring a key would be written to keeps it (asked
        without storing anything); False when none can even be chosen."""
        try:
            return _usable(self._keyring())
        except Exception as exc:  # a broken keyring configuration keeps nothing
            log.warning("No keyring could be chosen: %s", exc)
            return False

    def _keyring(self) -> keyring.backend.KeyringBackend:
        if self._backend is not None:
            return self._backend
        import keyring

        return keyring.get_keyring()

    def key_for(self, provider_name: str, kind: ProviderKind, base_url: str) -> str | None:
        """The key a provider sends: its own stored key, else the environment's
        key when the provider is at the endpoint that variable is for."""
        return self.get_key(provider_name) or environment_key(kind, base_url)

    def get_key(self, provider_name: str, env_var: str | None = None) -> str | None:
        """The stored key of a provider, else ``env_var``'s value if set and non-empty.

        ``env_var`` is read whatever the provider's address: callers that
        build a provider use :meth:`key_for`, which checks it.
        """
        key = self._stored_key(provider_name)
        if key is None and env_var:
            key = os.environ.get(env_var) or None
        return key

    def _stored_key(self, provider_name: str) -> str | None:
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
