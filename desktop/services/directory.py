"""Which provider serves which chat: stored provider rows + keys -> live Provider objects."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable

from desktop.core.models import ProviderConfig, ProviderKind, StoredProvider
from desktop.providers.base import Provider
from desktop.providers.factory import create_provider
from desktop.store import KeyStore, Store
from desktop.store.secrets import ANTHROPIC_ENV, OPENAI_ENV

log = logging.getLogger("sidestream.provider")

# A stored provider whose base URL is this placeholder talks to the embedded
# demo server, wherever it listens in this run.
DEMO_BASE_URL = "demo:"
DEMO_NAME = "Demo"
DEMO_MODEL = "sidestream-demo"

FIRST_TOKEN_WAIT_KEY = "first_token_wait"
"""The setting: how long a reply may take to its first token, in seconds."""
DEFAULT_FIRST_TOKEN_WAIT = 600.0


class UnknownProviderError(LookupError):
    pass


class ProviderDirectory:
    """Builds and caches one Provider per stored provider row."""

    def __init__(
        self,
        store: Store,
        keys: KeyStore,
        *,
        demo_url: Callable[[], str] | None = None,
        read_timeout: float = 60.0,
        first_token_wait: float | None = None,
    ) -> None:
        self._store = store
        self._keys = keys
        self._demo_url = demo_url
        self._read_timeout = read_timeout
        # None: the setting (FIRST_TOKEN_WAIT_KEY), else this, whatever the setting.
        self._first_token_wait = first_token_wait
        self._cache: dict[int, Provider] = {}
        self._retired: list[Provider] = []

    @property
    def keys(self) -> KeyStore:
        return self._keys

    def ensure_defaults(self) -> bool:
        """First run: add the demo and any provider the environment configures.

        Returns True when only the demo is configured (the UI shows a hint).
        """
        stored = self._store.list_providers()
        if not stored:
            # At the address each key is for: only there is it sent (KeyStore.key_for).
            if os.environ.get(OPENAI_ENV.key_var):
                base = OPENAI_ENV.base_url().rstrip("/")
                model = os.environ.get("OPENAI_MODEL", "gpt-4o-mini")
                self._store.add_provider("OpenAI", ProviderKind.OPENAI_CHAT, base, model)
            if os.environ.get(ANTHROPIC_ENV.key_var):
                base = ANTHROPIC_ENV.base_url().rstrip("/")
                model = os.environ.get("ANTHROPIC_MODEL", "claude-sonnet-4-5")
                self._store.add_provider("Anthropic", ProviderKind.ANTHROPIC, base, model)
            self._store.add_provider(
                DEMO_NAME, ProviderKind.OPENAI_RESPONSES, DEMO_BASE_URL, DEMO_MODEL
            )
            stored = self._store.list_providers()
        return all(p.base_url == DEMO_BASE_URL for p in stored)

    def default_provider(self) -> StoredProvider:
        stored = self._store.list_providers()
        if not stored:
            self.ensure_defaults()
            stored = self._store.list_providers()
        chosen = self._store.get_setting("default_provider_id")
        for p in stored:
            if p.id == chosen:
                return p
        real = [p for p in stored if p.base_url != DEMO_BASE_URL]
        return (real or stored)[0]

    def first_token_wait(self) -> float:
        """How long a reply may take to its first token (the setting, or its default)."""
        if self._first_token_wait is not None:
            return self._first_token_wait
        value = self._store.get_setting(FIRST_TOKEN_WAIT_KEY, DEFAULT_FIRST_TOKEN_WAIT)
        if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
            return float(value)
        return DEFAULT_FIRST_TOKEN_WAIT

    def reconfigure(self) -> None:
        """A setting every provider uses changed: build each afresh at its next use.

        The old ones may still carry a reply; they are closed at exit.
        """
        self._retired.extend(self._cache.values())
        self._cache.clear()

    def config_for(self, stored: StoredProvider) -> ProviderConfig:
        """The live settings of a stored provider; its key is its own, or the
        environment's only at the address that variable is for."""
        base_url = stored.base_url
        if base_url == DEMO_BASE_URL:
            if self._demo_url is None:
                raise UnknownProviderError("the demo provider is not running")
            base_url = self._demo_url()
            key = "demo"
        else:
            key = self._keys.key_for(stored.name, stored.kind, base_url) or ""
        return ProviderConfig(
            kind=stored.kind,
            base_url=base_url,
            api_key=key,
            default_model=stored.default_model,
            name=stored.name,
            read_timeout=self._read_timeout,
            first_token_wait=self.first_token_wait(),
        )

    def provider(self, provider_id: int | None) -> tuple[Provider, StoredProvider]:
        """The live provider for a chat's provider id (None: the default one)."""
        stored = self._store.get_provider(provider_id) if provider_id is not None else None
        if stored is None:
            stored = self.default_provider()
        cached = self._cache.get(stored.id)
        if cached is None:
            cached = self._cache[stored.id] = create_provider(self.config_for(stored))
        return cached, stored

    async def invalidate(self, provider_id: int) -> None:
        """Drop a cached provider after its settings or key changed."""
        provider = self._cache.pop(provider_id, None)
        if provider is not None:
            # A reply may still be streaming through it: close it at exit.
            self._retired.append(provider)

    async def aclose(self) -> None:
        for provider in [*self._cache.values(), *self._retired]:
            try:
                await provider.aclose()
            except Exception:
                log.exception("closing a provider failed")
        self._cache.clear()
        self._retired.clear()
