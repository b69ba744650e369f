"""create_provider: dialect by kind, and who owns the HTTP client."""

from __future__ import annotations

import httpx
import pytest

from desktop.core.models import ProviderConfig, ProviderKind
from desktop.providers.anthropic import AnthropicProvider
from desktop.providers.factory import create_provider
from desktop.providers.openai_chat import OpenAIChatProvider
from desktop.providers.openai_responses import OpenAIResponsesProvider
from tests.support.aio import run


@pytest.mark.parametrize(
    ("kind", "cls", "resumable"),
    [
        (ProviderKind.OPENAI_CHAT, OpenAIChatProvider, False),
        (ProviderKind.OPENAI_RESPONSES, OpenAIResponsesProvider, True),
        (ProviderKind.ANTHROPIC, AnthropicProvider, False),
    ],
)
def test_kind_selects_the_dialect(kind: ProviderKind, cls: type, resumable: bool) -> None:
    config = ProviderConfig(kind=kind, base_url="http://127.0.0.1:9")
    provider = create_provider(config)
    assert isinstance(provider, cls)
    assert provider.config is config
    assert provider.resumable is resumable
    run(provider.aclose())


def test_an_owned_client_is_closed_by_aclose() -> None:
    provider = create_provider(ProviderConfig(ProviderKind.OPENAI_CHAT, "http://127.0.0.1:9"))
    assert isinstance(provider, OpenAIChatProvider)
    run(provider.aclose())
    assert provider.client.is_closed


def test_a_passed_client_stays_open_after_aclose() -> None:
    async def main() -> bool:
        async with httpx.AsyncClient() as client:
            provider = create_provider(
                ProviderConfig(ProviderKind.ANTHROPIC, "http://127.0.0.1:9"), client=client
            )
            await provider.aclose()
            return client.is_closed

    assert run(main()) is False
