"""Typed provider errors: HTTP and protocol trouble as values with a human message."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class ErrorKind(enum.StrEnum):
    AUTH = "auth"
    RATE_LIMIT = "rate_limit"
    OVERLOADED = "overloaded"
    SERVER = "server"
    BAD_REQUEST = "bad_request"
    NOT_FOUND = "not_found"
    PROTOCOL = "protocol"
    CONNECTION = "connection"
    STALLED = "stalled"

    @property
    def retryable_by_resume(self) -> bool:
        """A resumable stream may reconnect from its cursor after these."""
        return self in (ErrorKind.CONNECTION, ErrorKind.STALLED)


_TITLES = {
    ErrorKind.AUTH: "The provider rejected the API key",
    ErrorKind.RATE_LIMIT: "Rate limited by the provider",
    ErrorKind.OVERLOADED: "The provider is overloaded",
    ErrorKind.SERVER: "The provider had a server error",
    ErrorKind.BAD_REQUEST: "The provider rejected the request",
    ErrorKind.NOT_FOUND: "The provider does not know this model or endpoint",
    ErrorKind.PROTOCOL: "The provider sent a reply Sidestream could not read",
    ErrorKind.CONNECTION: "The connection to the provider failed",
    ErrorKind.STALLED: "The provider stopped sending data",
}


@dataclass(frozen=True, slots=True)
class ProviderError(Exception):
    """Anything that went wrong talking to a provider.

    ``detail`` is the provider's own words where it gave any; ``message`` is
    what the user reads.
    """

    kind: ErrorKind
    detail: str = ""
    status: int | None = None
    retry_after: float | None = None

    @property
    def message(self) -> str:
        title = _TITLES[self.kind]
        parts = [title]
        if self.status is not None:
            parts[0] = f"{title} (HTTP {self.status})"
        if self.detail:
            parts.append(self.detail)
        if self.retry_after is not None:
            parts.append(f"Retry after {self.retry_after:g} s.")
        return ": ".join(parts[:2]) + ("" if len(parts) < 3 else " " + parts[2])

    def __str__(self) -> str:
        return self.message
