"""The typed events a provider turns one HTTP exchange into.

Every provider yields these and nothing else; the last event of a stream is
always :class:`Finished` or :class:`Failed` (the provider never raises
:class:`~desktop.core.errors.ProviderError` out of its iterator).
"""

from __future__ import annotations

from dataclasses import dataclass

from desktop.core.errors import ProviderError
from desktop.core.states import FinishReason


@dataclass(frozen=True, slots=True)
class TextDelta:
    """Text appended to the reply.

    A resumable provider sets ``cursor`` to the position just after this delta,
    so resuming from the last cursor seen yields no gap and no duplicate.
    """

    text: str
    cursor: str | None = None


@dataclass(frozen=True, slots=True)
class ReasoningDelta:
    """Reasoning (thinking, a reasoning summary) appended to the reply's reasoning."""

    text: str


@dataclass(frozen=True, slots=True)
class ReasoningSignature:
    """The thinking block being streamed is complete, and this is its signature.

    Anthropic signs each thinking block; a later turn must send the block back
    unchanged (its text since the previous block, and this signature).
    """

    signature: str


@dataclass(frozen=True, slots=True)
class RedactedReasoning:
    """A reasoning block the provider sent encrypted (Anthropic ``redacted_thinking``):
    nothing to show, but it must be sent back unchanged like a signed one."""

    data: str


@dataclass(frozen=True, slots=True)
class UsageReport:
    input_tokens: int | None = None
    output_tokens: int | None = None


@dataclass(frozen=True, slots=True)
class CursorUpdate:
    """Where a resumable stream stands; opaque to everyone but its provider."""

    cursor: str


@dataclass(frozen=True, slots=True)
class Finished:
    """The reply is complete; ``finish`` says why the model ended it (normalized;
    a plain string is taken as its :class:`FinishReason`, ``OTHER`` if unknown)."""

    finish: FinishReason = FinishReason.STOP
    model: str | None = None

    def __post_init__(self) -> None:
        if type(self.finish) is not FinishReason:
            try:
                finish = FinishReason(self.finish)
            except ValueError:
                finish = FinishReason.OTHER
            object.__setattr__(self, "finish", finish)


@dataclass(frozen=True, slots=True)
class Failed:
    error: ProviderError


StreamEvent = (
    TextDelta
    | ReasoningDelta
    | ReasoningSignature
    | RedactedReasoning
    | UsageReport
    | CursorUpdate
    | Finished
    | Failed
)
TerminalEvent = Finished | Failed
