"""Plain records passed between layers: requests, chats, messages, provider configs."""

from __future__ import annotations

import enum
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from desktop.core.states import FinishReason, MessageStatus, Role


class ProviderKind(enum.StrEnum):
    OPENAI_CHAT = "openai_chat"
    OPENAI_RESPONSES = "openai_responses"
    ANTHROPIC = "anthropic"


@dataclass(frozen=True, slots=True)
class ReasoningBlock:
    """One block of a reply's reasoning that must go back to the provider unchanged.

    Anthropic signs its ``thinking`` blocks and encrypts ``redacted_thinking``
    ones; a later assistant turn has to carry them exactly as they came
    (modified, they are refused). Other dialects have none.
    """

    type: str  # "thinking" | "redacted_thinking"
    thinking: str = ""
    signature: str = ""
    data: str = ""

    @classmethod
    def signed(cls, thinking: str, signature: str) -> ReasoningBlock:
        return cls("thinking", thinking=thinking, signature=signature)

    @classmethod
    def redacted(cls, data: str) -> ReasoningBlock:
        return cls("redacted_thinking", data=data)

    def to_json(self) -> dict[str, str]:
        """The block as the Messages API takes it in an assistant turn's content."""
        if self.type == "redacted_thinking":
            return {"type": self.type, "data": self.data}
        return {"type": self.type, "thinking": self.thinking, "signature": self.signature}

    @classmethod
    def from_json(cls, value: Any) -> ReasoningBlock | None:
        if not isinstance(value, dict):
            return None
        kind = value.get("type")
        if kind == "redacted_thinking" and isinstance(value.get("data"), str):
            return cls.redacted(value["data"])
        if kind == "thinking":
            thinking, signature = value.get("thinking"), value.get("signature")
            if isinstance(thinking, str) and isinstance(signature, str):
                return cls.signed(thinking, signature)
        return None


def blocks_to_json(blocks: Iterable[ReasoningBlock]) -> str | None:
    """Reasoning blocks as stored (``messages.reasoning_blocks``); None for none."""
    listed = [block.to_json() for block in blocks]
    return json.dumps(listed, ensure_ascii=False) if listed else None


def blocks_from_json(text: str | None) -> tuple[ReasoningBlock, ...]:
    """The stored blocks back; what cannot be read is left out (never raises)."""
    if not text:
        return ()
    try:
        values = json.loads(text)
    except ValueError:
        return ()
    if not isinstance(values, list):
        return ()
    return tuple(b for b in map(ReasoningBlock.from_json, values) if b is not None)


@dataclass(frozen=True, slots=True)
class ChatTurn:
    """One turn of the transcript a model is sent.

    ``reasoning_blocks`` are an assistant turn's signed reasoning; only the
    Anthropic dialect sends them (back, unchanged), the others leave them out.
    """

    role: Role
    content: str
    reasoning_blocks: tuple[ReasoningBlock, ...] = ()


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
    # Once the first token came, no bytes for this long means the stream
    # stalled (the watchdog).
    read_timeout: float = 60.0
    # How long a reply may take to its first token (text or reasoning), in
    # all: a reasoning model or a local server reading a long prompt can be
    # silent for minutes. Bytes without a token (pings, comments) neither end
    # nor extend it.
    first_token_wait: float = 600.0


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
    # The reasoning apart from the answer, its blocks a provider wants back
    # (Anthropic signatures), why the model ended the reply, and how long it
    # reasoned before answering.
    reasoning: str = ""
    reasoning_blocks: tuple[ReasoningBlock, ...] = ()
    finish: FinishReason | None = None
    reasoning_seconds: float | None = None


@dataclass(slots=True)
class StoredProvider:
    id: int
    name: str
    kind: ProviderKind
    base_url: str
    default_model: str
