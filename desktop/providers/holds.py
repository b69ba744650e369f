"""A server's refusal about one of its resources, kept while it still holds.

The Responses dialect makes up to three requests about one stored response
after its stream was cut: the resume, the status, the cancel. When the server
refuses one, its answer often holds for the next: a 404 or 410 (it has no such
response), a 401 or 403 (this key may not have it), or a Retry-After (not
before then). Asking again at once is refused the same way, and after a 429
counts against the very limit the server asked us to respect (llmock's verdict
calls these "retried a non-retryable error" and "ignored Retry-After").

Other refusals do not carry over: a 400 or 422 is about the request (the
resume's query, say), not the resource, and a 5xx without Retry-After may
pass; the next, different request is still worth making.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from desktop.core.errors import ProviderError

__all__ = ["FINAL_STATUSES", "Holds"]

# The resource cannot be had with this key, for as long as the provider lives.
FINAL_STATUSES = frozenset({401, 403, 404, 410})
# Refused resources remembered at most (the oldest is forgotten first).
MAX_HOLDS = 256


@dataclass(frozen=True, slots=True)
class _Hold:
    error: ProviderError
    until: float  # on the clock of Holds; math.inf: for good


class Holds:
    """Per resource key (a response id), the refusal that holds and until when."""

    __slots__ = ("_clock", "_holds")

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._holds: dict[str, _Hold] = {}

    def note(self, key: str, error: ProviderError) -> None:
        """Remember the server's answer ``error`` about ``key`` if it holds for later requests."""
        if error.status in FINAL_STATUSES:
            until = math.inf
        elif error.retry_after is not None and error.retry_after > 0:
            until = self._clock() + error.retry_after
        else:
            return
        self._holds.pop(key, None)
        self._holds[key] = _Hold(error, until)
        if len(self._holds) > MAX_HOLDS:
            del self._holds[next(iter(self._holds))]

    def held(self, key: str) -> ProviderError | None:
        """The refusal about ``key`` that still holds; None once asking is worth it."""
        hold = self._holds.get(key)
        if hold is None:
            return None
        if self._clock() >= hold.until:
            del self._holds[key]
            return None
        return hold.error
