"""Message states and the reasons a reply can be cut off."""

from __future__ import annotations

import enum


class MessageStatus(enum.StrEnum):
    """Life cycle of a message.

    ``pending -> streaming -> complete | failed | stopped | interrupted``;
    at start-up a message left ``streaming`` goes ``resuming -> streaming``.
    """

    PENDING = "pending"
    STREAMING = "streaming"
    RESUMING = "resuming"
    COMPLETE = "complete"
    FAILED = "failed"
    STOPPED = "stopped"
    INTERRUPTED = "interrupted"

    @property
    def is_live(self) -> bool:
        return self in _LIVE

    @property
    def is_terminal(self) -> bool:
        return not self.is_live

    @property
    def can_continue(self) -> bool:
        """Continue appends to the partial text of a reply that was cut short."""
        return self in (MessageStatus.STOPPED, MessageStatus.INTERRUPTED)


_LIVE = frozenset({MessageStatus.PENDING, MessageStatus.STREAMING, MessageStatus.RESUMING})


class InterruptReason(enum.StrEnum):
    """Why a reply became ``interrupted``; shown to the user."""

    EVICTED = "evicted"
    CONNECTION_LOST = "connection lost"
    STALLED = "stalled"
    APP_QUIT = "app quit"

    @property
    def human(self) -> str:
        return _HUMAN_REASONS[self]


_HUMAN_REASONS = {
    InterruptReason.EVICTED: "Stopped to make room: too many replies were streaming at once.",
    InterruptReason.CONNECTION_LOST: "The connection to the provider was lost.",
    InterruptReason.STALLED: "The provider stopped sending data.",
    InterruptReason.APP_QUIT: "Sidestream quit before the reply finished.",
}


class FinishReason(enum.StrEnum):
    """Why the model ended a reply it completed, whatever the dialect called it.

    Each provider maps its own words onto these (OpenAI ``finish_reason``,
    Anthropic ``stop_reason``, Responses ``incomplete_details.reason`` and
    refusal items); ``STOP`` is the ordinary end, the others deserve a word
    to the user (:attr:`human`).
    """

    STOP = "stop"
    LENGTH = "length"
    REFUSAL = "refusal"
    CONTENT_FILTER = "content_filter"
    TOOL_CALLS = "tool_calls"
    OTHER = "other"

    @property
    def human(self) -> str | None:
        """What to tell the user about a reply that ended so; None for an ordinary end."""
        return _HUMAN_FINISH.get(self)


_HUMAN_FINISH = {
    FinishReason.LENGTH: "The reply was cut off at its length limit (max tokens).",
    FinishReason.REFUSAL: "The model declined to answer.",
    FinishReason.CONTENT_FILTER: "The provider's content filter stopped the reply.",
    FinishReason.TOOL_CALLS: "The model asked to use a tool, which Sidestream does not offer.",
    FinishReason.OTHER: "The model stopped for a reason Sidestream does not know.",
}


class Role(enum.StrEnum):
    SYSTEM = "system"
    USER = "user"
    ASSISTANT = "assistant"
