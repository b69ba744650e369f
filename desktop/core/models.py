"""Plain records passed between layers: requests, chats, messages, provider configs."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime

from desktop.core.states import MessageStatus, Role


class ProviderKind(enum.StrEnum):
    OPENAI_CHAT = "openai_chat"
    OPENAI_RESPONSES = "openai_responses"
    ANTHROPIC = "anthropic"


@dataclass(frozen=True, slots=True)
class ChatTurn:
    role: Role
    content: str


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """One reply to generate.

    When ``continue_partial`` is true the last turn is an assistant turn whose
    text the model should go on from (Anthropic prefill; OpenAI-compatible
    ``continue_final_message`` where supported, else a follow-up turn).
    """

    model: str
    turns: tuple[ChatTurn, ...]
    system: str | None = None
    # None leaves the length to the provider (Anthropic requires one: it gets
    # ANTHROPIC_DEFAULT_MAX_TOKENS).
    max_tokens: int | None = None
    continue_partial: bool = False


@dataclass(frozen=True, slots=True)
class ProviderConfig:
    kind: ProviderKind
    base_url: str
    api_key: str | None = None
    default_model: str = ""
    name: str = ""
    extra_headers: tuple[tuple[str, str], ...] = ()
    connect_timeout: float = 10.0
    # No bytes for this long means the stream stalled (the watchdog).
    read_timeout: float = 60.0


@dataclass(frozen=True, slots=True)
class RemoteStatus:
    """What a provider that can tell says about a reply it is generating."""

    status: str  # "in_progress" | "completed" | "failed" | "cancelled" | "queued" ...
    text: str | None = None


@dataclass(slots=True)
class Session:
    id: int
    title: str
    provider_id: int | None
    model: str
    muted: bool
    created_at: datetime
    updated_at: datetime
    unread: bool = False


@dataclass(slots=True)
class Message:
    id: int
    session_id: int
    role: Role
    content: str
    status: MessageStatus
    error: str | None = None
    reason: str | None = None
    cursor: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    model: str | None = None
    created_at: datetime = field(default_factory=datetime.now)
    updated_at: datetime = field(default_factory=datetime.now)


@dataclass(slots=True)
class StoredProvider:
    id: int
    name: str
    kind: ProviderKind
    base_url: str
    default_model: str
