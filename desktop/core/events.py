"""The typed events a provider turns one HTTP exchange into.

Every provider yields these and nothing else; the last event of a stream is
always :class:`Finished` or :class:`Failed` (the provider never raises
:class:`~desktop.core.errors.ProviderError` out of its iterator).
"""

from __future__ import annotations

from dataclasses import dataclass

from desktop.core.errors import ProviderError


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
    text: str


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
    finish_reason: str | None = None
    model: str | None = None


@dataclass(frozen=True, slots=True)
class Failed:
    error: ProviderError


StreamEvent = TextDelta | ReasoningDelta | UsageReport | CursorUpdate | Finished | Failed
TerminalEvent = Finished | Failed
