"""SettingsService: providers, keys, default model, the stream limit, the
first-token wait and the tabs left open, Qt-free.

The UI's settings dialog talks to this; keys go to the OS keyring through the
KeyStore and never into the database.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from desktop.core.errors import ProviderError
from desktop.core.models import ProviderKind, StoredProvider
from desktop.core.presets import PRESETS, ProviderPreset
from desktop.providers.factory import create_provider
from desktop.services.directory import DEMO_BASE_URL, FIRST_TOKEN_WAIT_KEY, ProviderDirectory
from desktop.store import KeyPersistence, Store
from desktop.streaming.manager import StreamManager

log = logging.getLogger("sidestream.settings")

MAX_STREAMS_KEY = "max_concurrent_streams"
DEFAULT_PROVIDER_KEY = "default_provider_id"
OPEN_TABS_KEY = "open_tabs"
# The first-token wait may be set between these (seconds).
MIN_FIRST_TOKEN_WAIT = 10.0
MAX_FIRST_TOKEN_WAIT = 24 * 3600.0


class SettingsError(ValueError):
    """A setting the user entered is not acceptable; the message says why."""


@dataclass(frozen=True, slots=True)
class ProviderView:
    """A provider as the settings dialog shows it."""

    id: int
    name: str
    kind: ProviderKind
    base_url: str
    default_model: str
    is_demo: bool
    has_key: bool
    is_default: bool


@dataclass(frozen=True, slots=True)
class SavedTabs:
    """The chats open in tabs, in the tabs' order, and the one shown."""

    ids: tuple[int, ...] = ()
    current: int | None = None


def _is_id(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


class SettingsService:
    def __init__(self, store: Store, directory: ProviderDirectory, manager: StreamManager) -> None:
        self._store = store
        self._directory = directory
        self._manager = manager

    @property
    def presets(self) -> tuple[ProviderPreset, ...]:
        return PRESETS

    # ---------------------------------------------------------------- providers
    def providers(self) -> list[ProviderView]:
        default = self._directory.default_provider()
        keys = self._directory.keys
        return [
            ProviderView(
                id=p.id,
                name=p.name,
                kind=p.kind,
                base_url=p.base_url,
                default_model=p.default_model,
                is_demo=p.base_url == DEMO_BASE_URL,
                has_key=p.base_url == DEMO_BASE_URL
                or bool(keys.key_for(p.name, p.kind, p.base_url)),
                is_default=p.id == default.id,
            )
            for p in self._store.list_providers()
        ]

    def add_provider(
        self,
        name: str,
        kind: ProviderKind,
        base_url: str,
        default_model: str,
        api_key: str | None = None,
    ) -> tuple[StoredProvider, KeyPersistence | None]:
        name, base_url = name.strip(), base_url.strip().rstrip("/")
        self._validate(name, base_url, exclude_id=None)
        stored = self._store.add_provider(name, kind, base_url, default_model.strip())
        persistence = self._directory.keys.set_key(name, api_key) if api_key else None
        return stored, persistence

    async def update_provider(
        self,
        provider_id: int,
        *,
        name: str,
        kind: ProviderKind,
        base_url: str,
        default_model: str,
        api_key: str | None = None,
    ) -> KeyPersistence | None:
        """Change a provider; ``api_key`` None keeps the key, "" removes it."""
        old = self._store.get_provider(provider_id)
        if old is None:
            raise SettingsError("This provider no longer exists.")
        name, base_url = name.strip(), base_url.strip().rstrip("/")
        if old.base_url == DEMO_BASE_URL:
            base_url = DEMO_BASE_URL  # the demo's address is chosen at each start
        self._validate(name, base_url, exclude_id=provider_id)
        self._store.update_provider(provider_id, name, kind, base_url, default_model.strip())
        keys = self._directory.keys
        persistence = None
        if name != old.name:
            moved = keys.get_key(old.name, None)
            keys.delete_key(old.name)
            if moved and api_key is None:
                persistence = keys.set_key(name, moved)
        if api_key == "":
            keys.delete_key(name)
        elif api_key:
            persistence = keys.set_key(name, api_key)
        await self._directory.invalidate(provider_id)
        return persistence

    async def remove_provider(self, provider_id: int) -> None:
        stored = self._store.get_provider(provider_id)
        if stored is None:
            return
        if len(self._store.list_providers()) <= 1:
            raise SettingsError("Keep at least one provider.")
        self._directory.keys.delete_key(stored.name)
        # Its chats lose their provider with it (ON DELETE SET NULL): more
        # than one row, so on the writer thread (see desktop.services).
        await self._manager.run_store(self._store.delete_provider, provider_id)
        await self._directory.invalidate(provider_id)

    def set_default_provider(self, provider_id: int) -> None:
        self._store.set_setting(DEFAULT_PROVIDER_KEY, provider_id)

    def default_provider_id(self) -> int:
        """The provider new chats use (chosen, or the first real one)."""
        return self._directory.default_provider().id

    def keyring_available(self) -> bool:
        """Whether a key saved now is kept by the system keyring (else only for
        this run): the key field says which before Save, not only after."""
        return self._directory.keys.keyring_available()

    async def fetch_models(self, provider_id: int) -> list[str]:
        """The provider's model list; raises ProviderError with a clear message."""
        stored = self._store.get_provider(provider_id)
        if stored is None:
            raise SettingsError("This provider no longer exists.")
        provider, _ = self._directory.provider(provider_id)
        return await provider.list_models()

    async def test_connection(
        self, kind: ProviderKind, base_url: str, api_key: str | None
    ) -> list[str]:
        """Try unsaved settings: list models with them (raises ProviderError)."""
        from desktop.core.models import ProviderConfig

        provider = create_provider(
            ProviderConfig(kind=kind, base_url=base_url.strip().rstrip("/"), api_key=api_key)
        )
        try:
            return await provider.list_models()
        finally:
            await provider.aclose()

    # ------------------------------------------------------------------ limits
    @property
    def max_streams(self) -> int:
        value = self._store.get_setting(MAX_STREAMS_KEY, self._manager.limit)
        return int(value) if isinstance(value, int | str) else self._manager.limit

    def set_max_streams(self, limit: int) -> None:
        if not 1 <= limit <= 50:
            raise SettingsError("Allow between 1 and 50 replies at once.")
        self._store.set_setting(MAX_STREAMS_KEY, limit)
        self._manager.set_limit(limit)

    @property
    def first_token_wait(self) -> float:
        """How long a reply may take to its first token, in seconds (default 600)."""
        return self._directory.first_token_wait()

    def set_first_token_wait(self, seconds: float) -> None:
        """Set the first-token wait; replies started from now on use it."""
        if not MIN_FIRST_TOKEN_WAIT <= seconds <= MAX_FIRST_TOKEN_WAIT:
            raise SettingsError("Wait between 10 seconds and 24 hours for a reply to begin.")
        self._store.set_setting(FIRST_TOKEN_WAIT_KEY, float(seconds))
        self._directory.reconfigure()

    # -------------------------------------------------------------------- tabs
    def saved_tabs(self) -> SavedTabs:
        """The tabs open when they last changed; nothing for a value that is
        not one (an older or damaged setting is ignored, not an error)."""
        value = self._store.get_setting(OPEN_TABS_KEY, None)
        if not isinstance(value, dict) or not isinstance(value.get("ids"), list):
            return SavedTabs()
        ids = tuple(dict.fromkeys(i for i in value["ids"] if _is_id(i)))
        current = value.get("current")
        return SavedTabs(ids, current if _is_id(current) and current in ids else None)

    def save_tabs(self, tabs: SavedTabs) -> None:
        self._store.set_setting(OPEN_TABS_KEY, {"ids": list(tabs.ids), "current": tabs.current})

    def get(self, key: str, default: object = None) -> object:
        return self._store.get_setting(key, default)

    def set(self, key: str, value: object) -> None:
        self._store.set_setting(key, value)

    def _validate(self, name: str, base_url: str, exclude_id: int | None) -> None:
        if not name:
            raise SettingsError("Give the provider a name.")
        if any(p.name == name and p.id != exclude_id for p in self._store.list_providers()):
            raise SettingsError(f"There is already a provider called {name!r}.")
        if base_url != DEMO_BASE_URL and not base_url.startswith(("http://", "https://")):
            raise SettingsError("The base URL must start with http:// or https://.")


__all__ = [
    "KeyPersistence",
    "ProviderError",
    "ProviderView",
    "SavedTabs",
    "SettingsError",
    "SettingsService",
]
