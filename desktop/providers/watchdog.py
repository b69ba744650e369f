"""The two waits of one streamed exchange: for the first token, then between bytes.

A reasoning model, or a local server reading a long prompt, may say nothing
for minutes before its first token; after that, a model that goes quiet for
long has stalled. So an exchange has two limits (DESIGN.md, Providers):

* until the first token (text or reasoning) it may take ``first_wait``
  seconds in all, counted from the request. Bytes without a token (pings,
  SSE comments, the opening events) neither end that wait nor extend it;
* after it, ``stall`` seconds without a byte is a stall.

httpx's read timeout can only do the second, and applies it from the first
byte, so the exchange runs with no read timeout and this watchdog instead.
It is built for the hot path: the reading loop only stamps the time of each
network chunk (:meth:`Watchdog.chunk`); one timer looks at that stamp when it
fires and re-arms itself for the next possible deadline, so a stream costs
one timer per ``stall`` seconds, not one per read.

When a limit passes, the watchdog cancels the task reading the stream, but
only while that task waits for the network (:attr:`Watchdog.reading`): it
reads through an async generator, and a cancellation delivered while the
consumer holds an event would land in the consumer's own code. The reader
catches the cancellation and asks :meth:`Watchdog.claim` whether it was the
watchdog's (another cancellation, the user's Stop, is never swallowed).
"""

from __future__ import annotations

import asyncio

from desktop.core.errors import ErrorKind, ProviderError

__all__ = ["Watchdog", "describe_seconds"]

# When a limit passes while the consumer holds an event (it is not the
# provider's silence), look again this much later.
_RECHECK = 0.1


def describe_seconds(seconds: float) -> str:
    """ "10 minutes", "90 s", "1 hour", "0.5 s": a wait as a person says it."""
    if seconds >= 3600 and seconds % 3600 == 0:
        hours = int(seconds // 3600)
        return f"{hours} hour{'s' if hours != 1 else ''}"
    if seconds >= 120 and seconds % 60 == 0:
        return f"{int(seconds // 60)} minutes"
    return f"{seconds:g} s"


class Watchdog:
    """Ends the exchange read by the current task when it waits too long.

    Use: create it in the reading task before the request, call
    :meth:`chunk` for each network chunk and :meth:`token` once the first
    token came, set :attr:`reading` around the waits for the network, and
    :meth:`disarm` it on every way out.
    """

    __slots__ = (
        "_cancelling",
        "_first_wait",
        "_handle",
        "_loop",
        "_stall",
        "_task",
        "fired",
        "last",
        "reading",
        "start",
        "streaming",
    )

    def __init__(self, first_wait: float, stall: float) -> None:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("a Watchdog guards the task that reads the stream")
        self._loop = loop
        self._task = task
        self._first_wait = first_wait
        self._stall = stall
        self._cancelling = task.cancelling()
        self.start = self.last = loop.time()
        self.streaming = False  # the first token came: the stall limit applies
        self.reading = True  # the task waits for the network (not the consumer)
        self.fired: ErrorKind | None = None
        self._handle: asyncio.TimerHandle | None = loop.call_at(
            self.start + first_wait, self._check
        )

    def chunk(self) -> None:
        """A network chunk arrived (the hot path: one clock read)."""
        self.last = self._loop.time()

    def token(self) -> None:
        """The first token came: from now on a stall is ``stall`` seconds without a byte."""
        self.streaming = True
        self.last = self._loop.time()
        if self._handle is not None:
            # The first-token timer may be far off; the stall one is sooner.
            self._handle.cancel()
            self._handle = self._loop.call_at(self.last + self._stall, self._check)

    def disarm(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _check(self) -> None:
        self._handle = None
        now = self._loop.time()
        due = self.last + self._stall if self.streaming else self.start + self._first_wait
        if now < due:
            self._handle = self._loop.call_at(due, self._check)
            return
        if not self.reading or self.fired is not None:
            self._handle = self._loop.call_at(now + _RECHECK, self._check)
            return
        self.fired = ErrorKind.STALLED if self.streaming else ErrorKind.NO_FIRST_TOKEN
        self._task.cancel()

    def claim(self) -> bool:
        """True if the cancellation being handled is the watchdog's, and only its:
        the task is then no longer cancelled and the exchange ends with :meth:`error`."""
        if self.fired is None:
            return False
        return self._task.uncancel() <= self._cancelling

    def error(self) -> ProviderError:
        """What the passed limit means for the user."""
        if self.fired is ErrorKind.NO_FIRST_TOKEN:
            return ProviderError(
                ErrorKind.NO_FIRST_TOKEN,
                f"for {describe_seconds(self._first_wait)}, the longest Sidestream waits "
                "for a reply to begin (the first-token wait, in Settings).",
            )
        return ProviderError(ErrorKind.STALLED, f"no data for {self._stall:g} s")
