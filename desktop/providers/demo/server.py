"""The demo provider as a ready-to-use server: on its own thread, or on a running loop.

:class:`DemoServer` runs a :class:`~desktop.providers.demo.service.DemoService`
on a daemon thread with its own event loop; it is what the app's ``--demo``
mode and every test use. It exposes what the server saw (requests, connection
records, generated text) for tests, readable from any thread. :func:`serve`
starts the same service on the caller's loop instead.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, Self

from desktop.providers.demo.ledger import ConnectionRecord, Ledger, LoggedRequest
from desktop.providers.demo.options import DemoOptions
from desktop.providers.demo.replies import demo_reply, demo_reply_tokens
from desktop.providers.demo.service import DemoService

# The replies and options are re-exported: a test needs only this module.
__all__ = ["DemoOptions", "DemoServer", "demo_reply", "demo_reply_tokens", "serve"]

log = logging.getLogger("sidestream.demo")

START_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0


async def serve(
    host: str = "127.0.0.1", port: int = 0, defaults: DemoOptions | None = None
) -> DemoService:
    """Start the demo provider on the running loop and return it, listening.

    Run it until done with ``await service.serve_forever()``; stop it with
    ``await service.aclose()``. ``service.url`` is its address.
    """
    service = DemoService(host, port, defaults)
    await service.start()
    return service


class DemoServer:
    """The demo provider on a background thread.

    ``start()`` returns once the socket listens; ``stop()`` closes every
    connection and ends the thread (idempotent). Use as a context manager.
    ``defaults`` may be replaced or changed at any time; it applies from the
    next request on.
    """

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, defaults: DemoOptions | None = None
    ) -> None:
        self._ledger = Ledger()
        self._service = DemoService(host, port, defaults, self._ledger)
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None
        self._lock = threading.Lock()
        self._stopped = False
        self.errors: list[BaseException] = self._service.errors

    # --- life cycle -------------------------------------------------------------------

    def start(self) -> Self:
        with self._lock:
            if self._thread is not None:
                return self
            if self._stopped:
                raise RuntimeError("a stopped DemoServer cannot be restarted")
            self._thread = threading.Thread(
                target=self._run, name="sidestream-demo-server", daemon=True
            )
            self._thread.start()
        if not self._ready.wait(START_TIMEOUT):
            raise RuntimeError("the demo server did not start in time")
        if self._startup_error is not None:
            raise RuntimeError("the demo server could not start") from self._startup_error
        return self

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        loop.set_exception_handler(self._on_loop_error)
        self._loop = loop
        try:
            try:
                loop.run_until_complete(self._service.start())
            except BaseException as exc:  # reported to start()'s caller
                self._startup_error = exc
                return
            finally:
                self._ready.set()
            loop.run_forever()
            loop.run_until_complete(self._service.aclose())
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()

    def _on_loop_error(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        self.errors.append(exc if isinstance(exc, BaseException) else RuntimeError(str(context)))
        log.error("demo server loop error: %s", context.get("message"), exc_info=exc)

    def stop(self) -> None:
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
            thread, loop = self._thread, self._loop
        if thread is None or loop is None:
            return
        if not loop.is_closed():
            future = asyncio.run_coroutine_threadsafe(self._service.aclose(), loop)
            try:
                future.result(STOP_TIMEOUT)
            except (concurrent.futures.TimeoutError, concurrent.futures.CancelledError):
                log.warning("the demo server did not close in time")
            except RuntimeError:  # the loop stopped meanwhile
                pass
            loop.call_soon_threadsafe(loop.stop)
        thread.join(STOP_TIMEOUT)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # --- addresses --------------------------------------------------------------------

    @property
    def port(self) -> int:
        return self._service.port

    @property
    def url(self) -> str:
        return self._service.url

    @property
    def openai_base_url(self) -> str:
        return self.url + "/v1"

    @property
    def anthropic_base_url(self) -> str:
        return self.url

    @property
    def defaults(self) -> DemoOptions:
        return self._service.defaults

    @defaults.setter
    def defaults(self, value: DemoOptions) -> None:
        self._service.defaults = value

    # --- what the server saw -----------------------------------------------------------

    @property
    def lock(self) -> threading.RLock:
        """Held by the server while it records; hold it to read several records consistently."""
        return self._ledger.lock

    @property
    def open_connections(self) -> int:
        return self._ledger.open_connections

    @property
    def connections(self) -> list[ConnectionRecord]:
        """Every connection since the start (or the last :meth:`clear_log`), oldest first."""
        return self._ledger.connections()

    @property
    def requests(self) -> list[LoggedRequest]:
        """Every request received, oldest first; each unpacks as (method, path, headers, body)."""
        return self._ledger.requests()

    @property
    def generating(self) -> int:
        """How many replies the server is generating right now."""
        return self._service.generating

    def clear_log(self) -> None:
        """Forget logged requests and closed connections."""
        self._ledger.clear()

    def response_ids(self) -> list[str]:
        """Ids of the stored Responses replies, oldest first."""
        return list(self._service.responses)

    def sent_text(self, response_id: str) -> str:
        """The text the server has generated so far for a Responses reply."""
        job = self._service.responses.get(response_id)
        if job is None:
            raise KeyError(response_id)
        return job.generation.text

    def response_status(self, response_id: str) -> str:
        """queued, in_progress, completed, incomplete, failed or cancelled."""
        job = self._service.responses.get(response_id)
        if job is None:
            raise KeyError(response_id)
        return job.generation.status.value

    def last_connection(self, path: str | None = None) -> ConnectionRecord | None:
        """The newest connection record, optionally the newest whose last request hit ``path``."""
        for record in reversed(self._ledger.connections()):
            if path is None or record.path == path:
                return record
        return None

    @staticmethod
    def wait_until(
        predicate: Callable[[], object], timeout: float = 5.0, interval: float = 0.002
    ) -> bool:
        """Poll ``predicate`` until it is true or ``timeout`` seconds pass; its last verdict.

        This blocks the calling thread. Inside a coroutine use
        :meth:`wait_until_async`: blocking the client's own loop would keep it
        from closing its connections, so a predicate about the server seeing a
        close could never come true.
        """
        deadline = time.monotonic() + timeout
        while True:
            if predicate():
                return True
            if time.monotonic() >= deadline:
                return bool(predicate())
            time.sleep(interval)

    @staticmethod
    async def wait_until_async(
        predicate: Callable[[], object],
        timeout: float = 5.0,  # noqa: ASYNC109 - the same signature as wait_until
        interval: float = 0.002,
    ) -> bool:
        """:meth:`wait_until` for coroutines: polls without blocking the caller's loop."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if predicate():
                return True
            if loop.time() >= deadline:
                return bool(predicate())
            await asyncio.sleep(interval)
