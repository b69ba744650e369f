"""The provider interface every wire dialect implements."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol

from desktop.core.events import StreamEvent
from desktop.core.models import ChatRequest, ProviderConfig, RemoteStatus


class Provider(Protocol):
    """One configured endpoint speaking one wire dialect.

    ``stream`` and ``resume`` are async generators: iterating them performs the
    HTTP exchange; closing them (``aclose()``, or cancelling the task that
    iterates) closes the HTTP response at once. They yield
    :data:`~desktop.core.events.StreamEvent` values and end with exactly one
    ``Finished`` or ``Failed``; no ``ProviderError`` escapes them.
    """

    config: ProviderConfig

    @property
    def resumable(self) -> bool:
        """True when a cut stream can be resumed from a ``CursorUpdate`` cursor."""
        ...

    def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]: ...

    def resume(self, cursor: str, *, started: bool = False) -> AsyncIterator[StreamEvent]:
        """Go on from ``cursor`` with no gap and no duplicate (resumable only).

        ``started``: the reply had its first token before it was cut, so the
        stall limit applies from the start (else the first-token wait does).
        """
        ...

    async def status(self, cursor: str) -> RemoteStatus | None:
        """Ask the provider how the reply behind ``cursor`` stands; None if it cannot tell."""
        ...

    async def cancel(self, cursor: str) -> None:
        """Ask the provider to stop generating the reply behind ``cursor`` (best effort)."""
        ...

    async def list_models(self) -> list[str]: ...

    async def aclose(self) -> None: ...
