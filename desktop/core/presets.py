"""Providers known by name: the settings' one-click presets and ``--provider KIND``.

Both the command line (``desktop.cli``) and the composition root
(``desktop.app``) read the command-line table, so it lives here, below both.
"""

from __future__ import annotations

from dataclasses import dataclass

from desktop.core.models import ProviderKind


@dataclass(frozen=True, slots=True)
class ProviderPreset:
    """A provider a user can add by name: from the settings with one click, or
    with ``--provider`` on the command line."""

    name: str
    kind: ProviderKind
    base_url: str
    default_model: str


OPENAI = ProviderPreset(
    "OpenAI", ProviderKind.OPENAI_CHAT, "https://api.openai.com/v1", "gpt-4o-mini"
)
OPENAI_RESPONSES = ProviderPreset(
    "OpenAI (Responses)", ProviderKind.OPENAI_RESPONSES, "https://api.openai.com/v1", "gpt-4o-mini"
)
ANTHROPIC = ProviderPreset(
    "Anthropic", ProviderKind.ANTHROPIC, "https://api.anthropic.com", "claude-sonnet-4-5"
)

PRESETS: tuple[ProviderPreset, ...] = (
    OPENAI,
    OPENAI_RESPONSES,
    ANTHROPIC,
    ProviderPreset("Ollama", ProviderKind.OPENAI_CHAT, "http://127.0.0.1:11434/v1", "llama3.2"),
    ProviderPreset("llama.cpp", ProviderKind.OPENAI_CHAT, "http://127.0.0.1:8080/v1", "default"),
)
"""The settings' presets, in the order its menu shows them."""

COMMAND_LINE_PROVIDERS: dict[str, ProviderPreset] = {
    "openai": OPENAI,
    "openai-compatible": ProviderPreset(
        "OpenAI-compatible", ProviderKind.OPENAI_CHAT, "http://127.0.0.1:8080/v1", "default"
    ),
    "openai-responses": OPENAI_RESPONSES,
    "anthropic": ANTHROPIC,
}
"""``--provider KIND``: the provider it adds; ``--base-url`` and ``--model`` override."""
