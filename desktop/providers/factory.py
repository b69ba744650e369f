"""Builds the provider for a configured endpoint, by its wire dialect."""

from __future__ import annotations

import httpx

from desktop.core.models import ProviderConfig, ProviderKind
from desktop.providers.anthropic import AnthropicProvider
from desktop.providers.base import Provider
from desktop.providers.openai_chat import OpenAIChatProvider
from desktop.providers.openai_responses import OpenAIResponsesProvider

_PROVIDERS: dict[
    ProviderKind, type[OpenAIChatProvider | OpenAIResponsesProvider | AnthropicProvider]
] = {
    ProviderKind.OPENAI_CHAT: OpenAIChatProvider,
    ProviderKind.OPENAI_RESPONSES: OpenAIResponsesProvider,
    ProviderKind.ANTHROPIC: AnthropicProvider,
}


def create_provider(config: ProviderConfig, *, client: httpx.AsyncClient | None = None) -> Provider:
    """The provider for ``config``.

    Without ``client`` the provider builds and owns one (its ``aclose`` closes
    it); a passed-in client stays the caller's to close.
    """
    return _PROVIDERS[config.kind](config, client=client)
