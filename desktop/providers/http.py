"""Shared HTTP plumbing for the wire dialects.

Builds the httpx client from a :class:`ProviderConfig`, turns httpx exceptions
and HTTP error answers into :class:`ProviderError` values (with the provider's
own words where it gave any), and runs one streamed SSE exchange through a
dialect's :class:`EventParser`, guaranteeing the provider contract: the
response is closed however the iteration ends, and every failure ends it with
exactly one :class:`Failed` event.

Every error leaves through :func:`stream_exchange` or :func:`get_json`, and
both take the configured key (and auth-like extra header values) out of it
first: a provider that echoes the key in its error must not get it into the
database, a log line or the window.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import functools
import html
import json
import logging
import re
import secrets
import ssl
import threading
import time
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from typing import Any, Protocol, cast
from urllib.parse import urlsplit

import httpx

from desktop.core.errors import ErrorKind, ProviderError
from desktop.core.events import Failed, ReasoningDelta, RedactedReasoning, StreamEvent, TextDelta
from desktop.core.models import ProviderConfig, RemoteStatus
from desktop.providers.sse import EventTooLarge, SSEDecoder, SSEEvent
from desktop.providers.watchdog import Watchdog

log = logging.getLogger("sidestream.provider")

USER_AGENT = "Sidestream/0.1"
# An error page is read only this far: enough for any provider's JSON error.
ERROR_BODY_LIMIT = 64 * 1024
SNIPPET_LIMIT = 200
# A provider's own message is shown whole unless it is absurdly long.
DETAIL_LIMIT = 1000


def timeout_for(config: ProviderConfig, *, streaming: bool = False) -> httpx.Timeout:
    """The timeouts of a request. A plain request's read timeout is the configured
    one; a stream has none, its :class:`~desktop.providers.watchdog.Watchdog`
    keeps both of its waits (the first token, then stalls)."""
    return httpx.Timeout(
        connect=config.connect_timeout,
        read=None if streaming else config.read_timeout,
        write=30.0,
        pool=30.0,
    )


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    # Loading the CA bundle costs ~40 ms; every provider can share one context.
    return httpx.create_ssl_context()


def prewarm() -> threading.Thread:
    """Load the CA bundle on a worker thread, so that the first reply's
    request does not hold the event loop (and the window) for it."""
    thread = threading.Thread(target=_ssl_context, name="sidestream-ssl-prewarm", daemon=True)
    thread.start()
    return thread


def build_client(config: ProviderConfig) -> httpx.AsyncClient:
    """A client for one provider; timeouts and headers are also sent per request,
    so a client shared between providers behaves the same."""
    return httpx.AsyncClient(
        verify=_ssl_context(),
        timeout=timeout_for(config),
        headers={"User-Agent": USER_AGENT},
        # A POST must not be silently turned into a GET by a 301/302.
        follow_redirects=False,
    )


def build_headers(config: ProviderConfig, auth: Mapping[str, str]) -> dict[str, str]:
    """Request headers: the dialect's auth headers, then the user's extra headers
    (last, so they can override anything, e.g. a gateway's own auth header)."""
    headers = {"User-Agent": USER_AGENT, **auth}
    for name, value in config.extra_headers:
        headers[name] = value
    return headers


def join_url(base_url: str, path: str) -> str:
    return base_url.rstrip("/") + path


def host_of(url: str | httpx.URL) -> str:
    """``host[:port]`` of a URL, without any user info."""
    parts = urlsplit(str(url))
    if not parts.hostname:
        return str(url)
    return parts.hostname if parts.port is None else f"{parts.hostname}:{parts.port}"


def loggable(url: str | httpx.URL) -> str:
    """A URL fit for a log line: no user info and no query (either may hold a key)."""
    parts = urlsplit(str(url))
    return f"{parts.scheme}://{host_of(url)}{parts.path}"


# Extra headers whose name says they carry a credential (a gateway's own
# auth, Azure's api-key): their values are secrets like the key.
_SECRET_HEADER_WORDS = ("auth", "key", "token", "secret", "cookie", "password")


def secrets_of(config: ProviderConfig) -> tuple[str, ...]:
    """What a provider's answer must never repeat back to the user: the key,
    and the values of auth-like extra headers (with and without their scheme)."""
    found = [config.api_key or ""]
    for name, value in config.extra_headers:
        if any(word in name.lower() for word in _SECRET_HEADER_WORDS):
            found.append(value)
            found.append(value.partition(" ")[2].strip())
    return tuple(secret for secret in found if secret)


def scrubbed(events: Sequence[StreamEvent], secrets: tuple[str, ...]) -> Sequence[StreamEvent]:
    """``events`` with ``secrets`` taken out of any failure among them."""
    if not secrets:
        return events
    return [Failed(e.error.redacted(*secrets)) if isinstance(e, Failed) else e for e in events]


# --- exceptions -----------------------------------------------------------------


def error_from_exception(exc: httpx.HTTPError, read_timeout: float) -> ProviderError:
    """Map a transport-level httpx exception to a ProviderError."""
    try:
        host = host_of(exc.request.url)
    except RuntimeError:  # an exception raised before a request existed
        host = "the provider"
    if isinstance(exc, httpx.ConnectTimeout | httpx.ConnectError):
        return ProviderError(ErrorKind.CONNECTION, f"could not connect to {host}")
    if isinstance(exc, httpx.ReadTimeout):
        return ProviderError(ErrorKind.STALLED, f"no data for {read_timeout:g} s")
    if isinstance(exc, httpx.WriteTimeout):
        return ProviderError(ErrorKind.CONNECTION, f"timed out sending the request to {host}")
    if isinstance(exc, httpx.PoolTimeout):
        return ProviderError(ErrorKind.CONNECTION, "no free connection to the provider")
    if isinstance(exc, httpx.UnsupportedProtocol):
        return ProviderError(
            ErrorKind.CONNECTION, f"not an http(s) URL: {loggable(exc.request.url)}"
        )
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError):
        return ProviderError(ErrorKind.CONNECTION, f"the connection to {host} was cut")
    if isinstance(exc, httpx.DecodingError):
        return ProviderError(ErrorKind.PROTOCOL, f"undecodable response body: {exc}")
    if isinstance(exc, httpx.TooManyRedirects):
        return ProviderError(ErrorKind.PROTOCOL, "too many redirects")
    return ProviderError(ErrorKind.CONNECTION, f"{type(exc).__name__}: {exc}"[:DETAIL_LIMIT])


def invalid_url(exc: httpx.InvalidURL) -> ProviderError:
    return ProviderError(ErrorKind.CONNECTION, f"invalid base URL: {exc}")


# --- HTTP error answers -----------------------------------------------------------


def kind_for_status(status: int) -> ErrorKind:
    if status in (401, 403):
        return ErrorKind.AUTH
    if status == 404:
        return ErrorKind.NOT_FOUND
    if status == 429:
        return ErrorKind.RATE_LIMIT
    if status in (503, 529):
        return ErrorKind.OVERLOADED
    if status >= 500:
        return ErrorKind.SERVER
    if 300 <= status < 400:
        return ErrorKind.NOT_FOUND
    return ErrorKind.BAD_REQUEST


def parse_retry_after(headers: httpx.Headers, now: float | None = None) -> float | None:
    """Seconds to wait, from ``retry-after-ms`` (OpenAI) or ``Retry-After``
    (delta-seconds or an HTTP date)."""
    value = headers.get("retry-after-ms")
    if value is not None:
        try:
            return max(0.0, float(value) / 1000.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # an HTTP date is GMT by definition
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


_TAG_RE = re.compile(r"<[^>]*>")
_INVISIBLE_RE = re.compile(r"<(script|style)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_SPACE_RE = re.compile(r"\s+")


def snippet(text: str, limit: int = SNIPPET_LIMIT) -> str:
    """A short, single-line excerpt of a body, with HTML tags stripped."""
    if "<" in text:
        text = _TAG_RE.sub(" ", _INVISIBLE_RE.sub(" ", text))
        text = html.unescape(text)
    text = _SPACE_RE.sub(" ", text).strip()
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text


def _clip(text: str) -> str:
    text = text.strip()
    return text if len(text) <= DETAIL_LIMIT else text[: DETAIL_LIMIT - 1] + "…"


def message_from_payload(payload: Any) -> str | None:
    """The provider's own words from a JSON error body, whichever shape it uses.

    Handles ``{"error": {"message": ..}}`` (OpenAI, llama.cpp, OpenRouter),
    ``{"error": ".."}`` (Ollama), ``{"type": "error", "error": {"type": ..,
    "message": ..}}`` (Anthropic), ``{"detail": ..}`` (FastAPI, incl. its 422
    list), ``{"message": ..}`` (vLLM, Responses ``error`` events) and a list
    wrapping any of these.
    """
    if isinstance(payload, list):
        messages = [m for m in map(message_from_payload, payload[:5]) if m]
        return "; ".join(messages) or None
    if isinstance(payload, str):
        return _clip(payload) or None
    if not isinstance(payload, dict):
        return None
    error = payload.get("error")
    if error is not None:
        found = message_from_payload(error)
        if found:
            return found
    for key in ("message", "detail", "msg", "error_description"):
        value = payload.get(key)
        if isinstance(value, str) and value.strip():
            return _clip(value)
        if isinstance(value, list | dict):
            found = message_from_payload(value)
            if found:
                return found
    return None


_TYPE_KINDS = {
    "authentication_error": ErrorKind.AUTH,
    "permission_error": ErrorKind.AUTH,
    "invalid_api_key": ErrorKind.AUTH,
    "rate_limit_error": ErrorKind.RATE_LIMIT,
    "rate_limit_exceeded": ErrorKind.RATE_LIMIT,
    "insufficient_quota": ErrorKind.RATE_LIMIT,
    "overloaded_error": ErrorKind.OVERLOADED,
    "server_is_overloaded": ErrorKind.OVERLOADED,
    "not_found_error": ErrorKind.NOT_FOUND,
    "model_not_found": ErrorKind.NOT_FOUND,
    "invalid_request_error": ErrorKind.BAD_REQUEST,
    "request_too_large": ErrorKind.BAD_REQUEST,
    "context_length_exceeded": ErrorKind.BAD_REQUEST,
}


def kind_from_payload(payload: Any, default: ErrorKind = ErrorKind.SERVER) -> ErrorKind:
    """Classify an error object sent inside a stream (no HTTP status to go by)."""
    if not isinstance(payload, dict):
        return default
    inner = payload.get("error")
    if isinstance(inner, dict):
        return kind_from_payload(inner, default)
    for key in ("type", "code"):
        value = payload.get(key)
        if isinstance(value, str) and value in _TYPE_KINDS:
            return _TYPE_KINDS[value]
        if isinstance(value, int) and 400 <= value < 600:
            return kind_for_status(value)
    return default


def error_from_payload(payload: Any, default: ErrorKind = ErrorKind.SERVER) -> ProviderError:
    """A ProviderError for an error object received after HTTP 200."""
    detail = message_from_payload(payload) or snippet(json.dumps(payload))
    return ProviderError(kind_from_payload(payload, default), detail)


def error_data_to_error(data: str, default: ErrorKind = ErrorKind.SERVER) -> ProviderError:
    """An error event's data, JSON or not."""
    try:
        payload = json.loads(data)
    except ValueError:
        return ProviderError(default, snippet(data) or "the provider reported an error")
    return error_from_payload(payload, default)


def detail_from_body(body: bytes, content_type: str) -> str:
    text = body.decode("utf-8", "replace")
    if "json" in content_type or text.lstrip()[:1] in ("{", "["):
        try:
            found = message_from_payload(json.loads(text))
        except ValueError:
            found = None
        if found:
            return found
    return snippet(text)


def error_from_status(status: int, headers: httpx.Headers, body: bytes) -> ProviderError:
    """Map an HTTP error answer to a ProviderError carrying the provider's words."""
    content_type = headers.get("content-type", "")
    detail = detail_from_body(body, content_type)
    if 300 <= status < 400:
        location = headers.get("location")
        if location:
            detail = f"redirected to {location}; check the base URL"
    return ProviderError(
        kind_for_status(status), detail, status=status, retry_after=parse_retry_after(headers)
    )


async def read_capped(response: httpx.Response, limit: int = ERROR_BODY_LIMIT) -> bytes:
    """Read at most ``limit`` bytes of a (streamed) body."""
    parts: list[bytes] = []
    size = 0
    # aclosing: leaving the loop early must not leave httpx's generator to the GC.
    async with contextlib.aclosing(
        cast("AsyncGenerator[bytes, None]", response.aiter_bytes())
    ) as chunks:
        async for chunk in chunks:
            parts.append(chunk)
            size += len(chunk)
            if size >= limit:
                break
    return b"".join(parts)[:limit]


async def check_response(response: httpx.Response) -> ProviderError | None:
    """The error an answer to a streaming request stands for, if any."""
    status = response.status_code
    if not 200 <= status < 300:
        return error_from_status(status, response.headers, await read_capped(response))
    content_type = response.headers.get("content-type", "")
    if content_type.partition(";")[0].strip().lower() != "text/event-stream":
        body = await read_capped(response, 16 * 1024)
        shown = content_type.partition(";")[0].strip() or "no content type"
        detail = detail_from_body(body, content_type)
        return ProviderError(
            ErrorKind.PROTOCOL,
            f"expected an event stream, got {shown}: {detail}" if detail else shown,
            status=status,
        )
    return None


async def get_json(
    client: httpx.AsyncClient,
    url: str,
    *,
    config: ProviderConfig,
    headers: Mapping[str, str],
    method: str = "GET",
) -> Any:
    """A plain JSON request; raises ProviderError (without the key) on any failure."""
    try:
        return await _get_json(client, url, config=config, headers=headers, method=method)
    except ProviderError as exc:
        raise exc.redacted(*secrets_of(config)) from exc.__cause__


async def _get_json(
    client: httpx.AsyncClient,
    url: str,
    *,
    config: ProviderConfig,
    headers: Mapping[str, str],
    method: str,
) -> Any:
    try:
        response = await client.request(
            method,
            url,
            headers={**headers, "Accept": "application/json"},
            timeout=timeout_for(config),
        )
    except httpx.HTTPError as exc:
        raise error_from_exception(exc, config.read_timeout) from exc
    except httpx.InvalidURL as exc:
        raise invalid_url(exc) from exc
    if not 200 <= response.status_code < 300:
        raise error_from_status(
            response.status_code, response.headers, response.content[:ERROR_BODY_LIMIT]
        )
    try:
        return response.json()
    except ValueError as exc:
        raise ProviderError(
            ErrorKind.PROTOCOL, f"expected JSON, got: {snippet(response.text)}"
        ) from exc


# --- one streamed exchange ---------------------------------------------------------


class EventParser(Protocol):
    """Turns one dialect's SSE events into stream events (a pure state machine)."""

    @property
    def done(self) -> bool:
        """True once a terminal event has been returned."""
        ...

    def feed(self, sse: SSEEvent) -> Sequence[StreamEvent]: ...

    def end(self) -> StreamEvent:
        """The terminal event for a stream that ended without one of its own."""
        ...


def malformed(data: str, exc: ValueError | None = None) -> Failed:
    """PROTOCOL failure for event data that is not JSON, quoting the spot that broke."""
    text = data
    pos = getattr(exc, "pos", None)
    if len(text) > 100 and isinstance(pos, int):
        start = max(0, pos - 70)
        text = ("…" if start else "") + text[start : pos + 20]
    return Failed(ProviderError(ErrorKind.PROTOCOL, f"malformed event data: {snippet(text, 100)}"))


DRAIN_TIMEOUT = 1.0
LARGE_EVENT_CHARS = 1_000_000
# The events that make the first token (the first-token wait ends with them).
_TOKENS = (TextDelta, ReasoningDelta, RedactedReasoning)


def too_large(exc: EventTooLarge) -> ProviderError:
    size = f"{exc.limit / (1024 * 1024):g} MB"
    return ProviderError(
        ErrorKind.PROTOCOL,
        f"the provider sent an event larger than {size}, the most Sidestream accepts "
        "in one event; reading stopped there",
    )


def empty_reply(status: int) -> ProviderError:
    """An event stream that ended without a single event."""
    return ProviderError(
        ErrorKind.EMPTY_REPLY,
        "not one event. The prompt is probably longer than the model's context window "
        "(llama.cpp answers so): shorten the chat or start a new one, or give the model "
        "a larger context (llama.cpp: --ctx-size).",
        status=status,
    )


async def _drain(chunks: AsyncGenerator[bytes, None]) -> None:
    """Read what follows the terminal event, up to the body's end.

    httpx nests several async generators under ``aiter_bytes``; closing the
    outer one mid-body leaves the inner ones suspended, to be finalized by the
    garbage collector on the loop at some later time (or never, if the loop
    has closed by then). Servers end the body right after the terminal event,
    so letting it end costs nothing; the bound covers one that does not.
    It runs after the terminal event went out, never before it.
    """
    with contextlib.suppress(httpx.HTTPError, TimeoutError):
        async with asyncio.timeout(DRAIN_TIMEOUT):
            async for _ in chunks:
                pass


# A string longer than this is encoded in pieces of it (see json_bytes).
_PIECE = 1 << 18


def json_bytes(body: Any) -> bytes:
    """A body as httpx's ``json=`` encodes it (the same bytes), for a worker thread.

    ``json.dumps`` holds the GIL for the whole of one call: 27 MB of base64
    in one string would keep the loop's thread from running for tens of
    milliseconds, thread or no thread. Long strings are taken out, the rest
    encoded, and each long one encoded in pieces of 256 KB spliced back in
    (escaping is per character, so the pieces give the same bytes), letting
    the loop run between pieces.
    """
    long: list[str] = []
    nonce = secrets.token_hex(8)

    def swap(value: Any) -> Any:
        if isinstance(value, str) and len(value) > _PIECE:
            long.append(value)
            return f"\0{nonce}:{len(long) - 1}\0"
        if isinstance(value, dict):
            return {key: swap(item) for key, item in value.items()}
        if isinstance(value, list):
            return [swap(item) for item in value]
        return value

    text = json.dumps(swap(body), ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    if not long:
        return text.encode()
    parts = re.split(rf'"\\u0000{nonce}:(\d+)\\u0000"', text)
    out: list[bytes] = []
    for index, part in enumerate(parts):
        if index % 2 == 0:
            out.append(part.encode())
            continue
        value = long[int(part)]
        out.append(b'"')
        for start in range(0, len(value), _PIECE):
            piece = json.dumps(value[start : start + _PIECE], ensure_ascii=False)
            out.append(piece[1:-1].encode())
        out.append(b'"')
    return b"".join(out)


async def stream_exchange(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    config: ProviderConfig,
    headers: Mapping[str, str],
    parser: EventParser,
    json_body: Any = None,
    started: bool = False,
    encode_off_loop: bool = False,
    body_of: Callable[[], Any] | None = None,
) -> AsyncGenerator[StreamEvent, None]:
    """Perform one streamed request and yield the parser's events.

    ``encode_off_loop``: the body is big (attached files: a 20 MB image is
    27 MB of base64), so it is built (``body_of``, when given, instead of
    ``json_body``) and encoded to JSON in a worker thread, not on the loop
    that streams every other reply and paints the window.

    ``started``: the reply had its first token before (a resume), so the
    stall limit applies from the start rather than the first-token wait.

    The response is closed on every way out (the ``async with``), so closing
    this generator or cancelling the task iterating it closes the connection
    at once. Nothing but Failed leaves it on error; CancelledError is never
    caught, but for the :class:`~desktop.providers.watchdog.Watchdog`'s own
    (the first-token wait, or a stall). No failure carries the configured key
    (see :func:`secrets_of`). The terminal event goes out as soon as it is
    read; what follows it in the body is read afterwards (:func:`_drain`).
    """
    ended = False  # a terminal event went out: nothing may follow it
    secrets = secrets_of(config)
    watchdog = Watchdog(config.first_token_wait, config.read_timeout)
    if started:
        watchdog.token()
    sent_headers = {**headers, "Accept": "text/event-stream", "Cache-Control": "no-store"}
    content: bytes | None = None
    try:
        if encode_off_loop:
            made = json_body
            content = await asyncio.to_thread(
                lambda: json_bytes(body_of() if body_of is not None else made)
            )
            sent_headers["Content-Type"] = "application/json"
            json_body = None
        elif body_of is not None:
            json_body = body_of()
        async with client.stream(
            method,
            url,
            json=json_body,
            content=content,
            headers=sent_headers,
            # No read timeout: the watchdog keeps both waits.
            timeout=timeout_for(config, streaming=True),
        ) as response:
            error = await check_response(response)
            if error is not None:
                watchdog.disarm()
                error = error.redacted(*secrets)
                log.info("%s %s failed: %s", method, loggable(url), error.message)
                ended = True
                yield Failed(error)
                return
            decoder = SSEDecoder()
            feed = parser.feed
            oversized: EventTooLarge | None = None
            waiting = not started  # for the first token
            seen = False  # any event at all
            # aclosing: returning mid-stream must not leave httpx's generator
            # for the GC to finalize on the loop later.
            async with contextlib.aclosing(
                cast("AsyncGenerator[bytes, None]", response.aiter_bytes())
            ) as chunks:
                async for chunk in chunks:
                    watchdog.reading = False
                    watchdog.chunk()
                    try:
                        batch = decoder.feed(chunk)
                    except EventTooLarge as exc:
                        # The events before it still count; then stop reading
                        # (no drain: the line may never end) and close.
                        batch, oversized = exc.events, exc
                    if batch:
                        seen = True
                    for sse in batch:
                        if len(sse.data) > LARGE_EVENT_CHARS:
                            # Let the window paint between decoding a huge
                            # event and parsing its JSON: two pauses, not one.
                            await asyncio.sleep(0)
                        events = feed(sse)
                        if waiting and any(isinstance(e, _TOKENS) for e in events):
                            waiting = False
                            watchdog.token()
                        if parser.done:
                            ended = True
                            watchdog.disarm()
                            try:
                                for event in scrubbed(events, secrets):
                                    yield event
                            finally:
                                if oversized is None:
                                    await _drain(chunks)
                            return
                        for event in events:
                            yield event
                    if oversized is not None:
                        watchdog.disarm()
                        error = too_large(oversized)
                        log.info("stream from %s failed: %s", loggable(url), error.message)
                        ended = True
                        yield Failed(error)
                        return
                    watchdog.reading = True
            watchdog.disarm()
            for sse in decoder.flush():
                seen = True
                events = feed(sse)
                if parser.done:
                    ended = True
                    events = scrubbed(events, secrets)
                for event in events:
                    yield event
                if ended:
                    return
            event = parser.end() if seen else Failed(empty_reply(response.status_code))
            if isinstance(event, Failed):
                event = Failed(event.error.redacted(*secrets))
                log.info("stream from %s ended early: %s", loggable(url), event.error.message)
            ended = True
            yield event
    except asyncio.CancelledError:
        if ended or not watchdog.claim():
            raise
        error = watchdog.error()
        log.info("stream from %s failed: %s", loggable(url), error.message)
        ended = True
        yield Failed(error)
    except httpx.HTTPError as exc:
        error = error_from_exception(exc, config.read_timeout).redacted(*secrets)
        log.info("stream from %s failed: %s (%s)", loggable(url), error.message, type(exc).__name__)
        if not ended:
            yield Failed(error)
    except httpx.InvalidURL as exc:
        yield Failed(invalid_url(exc).redacted(*secrets))
    except (KeyError, TypeError, AttributeError, IndexError, ValueError) as exc:
        # A shape no dialect parser expected: report it as unreadable rather
        # than crash the stream task, but keep the traceback for the bug report.
        log.warning("unexpected event shape from %s", loggable(url), exc_info=True)
        if not ended:
            error = ProviderError(ErrorKind.PROTOCOL, f"unexpected event shape ({exc!r})"[:200])
            yield Failed(error.redacted(*secrets))
    finally:
        watchdog.disarm()


# --- the common provider skeleton ---------------------------------------------------


class HttpProvider:
    """What every HTTP dialect shares: the client it may own, and the defaults of a
    provider that cannot resume, tell status or cancel remotely."""

    def __init__(self, config: ProviderConfig, *, client: httpx.AsyncClient | None = None) -> None:
        self.config = config
        self._owns_client = client is None
        self.client = client if client is not None else build_client(config)

    def headers_with(self, auth: Mapping[str, str]) -> dict[str, str]:
        return build_headers(self.config, auth)

    @property
    def resumable(self) -> bool:
        return False

    def resume(self, cursor: str, *, started: bool = False) -> AsyncGenerator[StreamEvent, None]:
        raise NotImplementedError(f"{type(self).__name__} cannot resume a stream")

    async def status(self, cursor: str) -> RemoteStatus | None:
        return None

    async def cancel(self, cursor: str) -> None:
        return None

    async def aclose(self) -> None:
        """Close the client if this provider created it (a passed-in one is the caller's)."""
        if self._owns_client:
            await self.client.aclose()
