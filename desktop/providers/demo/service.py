"""The demo server on an asyncio loop: listening socket, routing and endpoints.

Endpoints (OpenAI base URL ``<url>/v1``, Anthropic base URL ``<url>``):

* ``POST /v1/chat/completions`` (``stream`` true or false)
* ``POST /v1/responses`` (streamed or not, ``background`` or not)
* ``GET /v1/responses/{id}`` (status), ``GET /v1/responses/{id}?stream=true&starting_after=N``
  (resume), ``POST /v1/responses/{id}/cancel``, ``DELETE /v1/responses/{id}``
* ``POST /v1/messages`` (Anthropic, ``stream`` true or false)
* ``GET /v1/models`` and ``GET /v1/models/{id}`` (Anthropic's shape when the
  request carries ``anthropic-version``)

Anything else is a 404 with a JSON error. Every request is logged in the
:class:`~desktop.providers.demo.ledger.Ledger`, whatever its path.

Streams are sent with chunked encoding and ``Connection: close`` (one stream,
one connection, one ledger record); other answers keep the connection alive.
A Chat Completions or Anthropic reply stops when its client goes away. A
Responses reply is stored and generated on its own task: with ``background:
true`` a disconnect does not stop it (a plain streamed one is cancelled with
its connection). Cancelling a response ends its live streams with a properly
terminated body and no further event; its status then says ``cancelled``.
The fault knobs ``status``, ``content_type``, ``never_answer`` and ``drip``
apply to every API endpoint; the stream faults to streams (and, where they
make sense, to the non-streamed replies of Chat Completions and Anthropic).
The shape knobs ``reasoning``, ``refusal`` and ``finish=length`` shape
streamed replies (``refusal`` and ``finish`` the non-streamed ones too).
Thinking blocks an Anthropic request sends back must carry the signature the
demo gave them, else it answers 400 as the Messages API does. Files attached
to the prompt are named in the reply's first line; ``sidestream-demo-text-only`` answers
a request holding an image with 400, as a model that reads no images does.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from desktop.core.tasks import TaskKeeper
from desktop.providers.demo import conversation
from desktop.providers.demo.connection import Connection, StreamCut
from desktop.providers.demo.dialects import (
    CHAT_REASONING_FORMATS,
    DEFAULT_MODEL,
    DEMO_MODELS,
    TEXT_ONLY_MODEL,
    AnthropicEncoder,
    ChatEncoder,
    Dialect,
    ResponseMeta,
    ResponsesEncoder,
    StreamEncoder,
    anthropic_message,
    chat_completion,
    dumps,
    error_body,
    html_page,
    model_info,
    models_body,
    new_id,
    response_object,
)
from desktop.providers.demo.generation import Generation, GenerationStatus
from desktop.providers.demo.http import HttpError, HttpRequest, response_head
from desktop.providers.demo.ledger import ClosedBy, Ledger, LoggedRequest
from desktop.providers.demo.options import (
    OPTIONS_HEADER,
    DemoOptions,
    OptionsError,
    parse_options_header,
)
from desktop.providers.demo.replies import (
    REFUSAL_TEXT,
    big_event_text,
    demo_reasoning_tokens,
    table_reply,
    thinking_signature,
    tokenize,
)

__all__ = ["DemoService", "ResponseJob"]

log = logging.getLogger("sidestream.demo")

# Stored Responses replies beyond this many are forgotten, oldest finished first.
MAX_STORED_RESPONSES = 200
_RETRY_STATUSES = frozenset({429, 503, 529})
_JSON = ("content-type", "application/json")
_SERVER = ("server", "sidestream-demo")


@dataclass(slots=True)
class ResponseJob:
    """A stored Responses reply: what it is, its frames, and the task producing them."""

    meta: ResponseMeta
    generation: Generation
    task: asyncio.Task[None] | None = None

    def snapshot(self) -> dict[str, Any]:
        gen = self.generation
        status = gen.status
        text = gen.text if gen.frame_count else None
        reasoning = gen.reasoning_text if gen.frame_count else None
        if status is GenerationStatus.QUEUED:
            text = reasoning = None
        usage = gen.output_tokens if status.is_terminal else None
        error = None
        if status is GenerationStatus.FAILED:
            error = {"code": "server_error", "message": "The server had an error."}
        return response_object(self.meta, status.value, text, usage, error, reasoning)


Handler = Callable[[Connection, HttpRequest, Any, DemoOptions, list[str]], Awaitable[bool]]


@dataclass(frozen=True, slots=True)
class _Route:
    method: str
    pattern: re.Pattern[str]
    dialect: Dialect | None  # None: OpenAI unless the request says anthropic-version
    handler: str
    needs_body: bool = False  # a JSON object body is required


_ROUTES = (
    _Route("POST", re.compile(r"/v1/chat/completions"), Dialect.CHAT, "_chat", True),
    _Route("POST", re.compile(r"/v1/responses"), Dialect.RESPONSES, "_responses_create", True),
    _Route("GET", re.compile(r"/v1/responses/([^/]+)"), Dialect.RESPONSES, "_responses_get"),
    _Route(
        "POST", re.compile(r"/v1/responses/([^/]+)/cancel"), Dialect.RESPONSES, "_responses_cancel"
    ),
    _Route("DELETE", re.compile(r"/v1/responses/([^/]+)"), Dialect.RESPONSES, "_responses_delete"),
    _Route("POST", re.compile(r"/v1/messages"), Dialect.ANTHROPIC, "_messages", True),
    _Route("GET", re.compile(r"/v1/models"), None, "_models"),
    _Route("GET", re.compile(r"/v1/models/([^/]+)"), None, "_model"),
)


def _limit(body: dict[str, Any], *keys: str) -> int | None:
    for key in keys:
        value = body.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
    return None


def _reply_tokens(convo: conversation.Conversation, options: DemoOptions) -> list[str]:
    """The reply's tokens (a table's, with the table knobs; a refusal's; one cut
    mid-text with ``finish=length``), led by one ``big_event`` token when that
    knob is set."""
    if options.refusal:
        return tokenize(REFUSAL_TEXT)
    if options.table_rows is not None or options.table_columns is not None:
        tokens = tokenize(table_reply(options.table_rows, options.table_columns))
    elif options.finish == "length":
        # A longer reply, cut at the limit: mid-text, as a token limit cuts.
        tokens = convo.reply_tokens(2 * options.tokens + 8)[: options.tokens]
    else:
        tokens = convo.reply_tokens(options.tokens)
    if options.big_event:
        return [big_event_text(options.big_event), *tokens]
    return tokens


def _truncate(tokens: list[str], limit: int | None, options: DemoOptions) -> tuple[list[str], bool]:
    if limit is not None and limit < len(tokens):
        return tokens[:limit], True
    return tokens, options.finish == "length" and not options.refusal


def _reasoning_tokens(convo: conversation.Conversation, options: DemoOptions) -> list[str]:
    return demo_reasoning_tokens(convo.prompt, options.reasoning)


def _knob_problem(options: DemoOptions) -> str | None:
    """Why the knobs cannot make a reply (a 400), or None."""
    if options.finish not in (None, "length"):
        return f"demo option 'finish': {options.finish!r} is not one of: length"
    if options.reasoning_format not in CHAT_REASONING_FORMATS:
        return (
            f"demo option 'reasoning_format': {options.reasoning_format!r} is not one of: "
            + ", ".join(CHAT_REASONING_FORMATS)
        )
    return None


def _image_refusal(model: str, convo: conversation.Conversation) -> str | None:
    """What a model that reads no images says to a request holding one, or None."""
    if model != TEXT_ONLY_MODEL or not convo.images:
        return None
    return f"{model} does not accept images: remove the image, or pick a model that reads images."


def _bad_signature(body: dict[str, Any]) -> str | None:
    """The Messages API's complaint about a thinking block that did not come back
    as the demo sent it (its signature does not match its text), or None."""
    messages = body.get("messages")
    if not isinstance(messages, list):
        return None
    for m_index, message in enumerate(messages):
        content = message.get("content") if isinstance(message, dict) else None
        if not isinstance(content, list):
            continue
        for c_index, block in enumerate(content):
            if not isinstance(block, dict) or block.get("type") != "thinking":
                continue
            thinking, signature = block.get("thinking"), block.get("signature")
            if not isinstance(thinking, str) or signature != thinking_signature(thinking):
                return (
                    f"messages.{m_index}.content.{c_index}: Invalid `signature` in `thinking` block"
                )
    return None


class DemoService:
    """The demo provider running on the current asyncio loop.

    ``defaults`` is read at every request, so changing it (or its fields) takes
    effect for the next request; ``X-Demo-Options`` overrides it per request.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        defaults: DemoOptions | None = None,
        ledger: Ledger | None = None,
    ) -> None:
        self.host = host
        self.requested_port = port
        self.defaults = defaults if defaults is not None else DemoOptions()
        self.ledger = ledger if ledger is not None else Ledger()
        self.errors: list[BaseException] = []
        self.responses: dict[str, ResponseJob] = {}
        self._server: asyncio.Server | None = None
        self._connections: set[Connection] = set()
        self._tasks = TaskKeeper(log, on_error=self.errors.append)
        self._closed = False
        self.port = 0
        #: Replies being generated right now (tests check that a disconnect stops one).
        self.generating = 0

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._on_connect, self.host, self.requested_port, limit=1 << 20
        )
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("demo provider listening on %s", self.url)

    async def serve_forever(self) -> None:
        if self._server is None:
            await self.start()
        assert self._server is not None
        await self._server.serve_forever()

    async def aclose(self) -> None:
        """Stop listening, close every connection and stop every generation."""
        if self._closed:
            return
        self._closed = True
        if self._server is not None:
            self._server.close()
        for conn in list(self._connections):
            self._close(conn, "server", abort=True)
        for job in self.responses.values():
            if job.task is not None:
                job.task.cancel()
        await self._tasks.cancel_and_wait()
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 1.0)
        log.info("demo provider on %s stopped", self.url)

    # --- tasks and connections --------------------------------------------------------

    def _start_generation(self, generation: Generation, name: str) -> asyncio.Task[None]:
        self.generating += 1
        task = self._tasks.spawn(generation.run(), name)
        task.add_done_callback(self._generation_done)
        return task

    def _generation_done(self, task: asyncio.Task[None]) -> None:
        self.generating -= 1

    async def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        peer_text = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        record = self.ledger.open_connection(peer_text)
        conn = Connection(reader, writer, record, self._on_client_gone)
        if self._closed:
            self._close(conn, "server", abort=True)
            return
        self._connections.add(conn)
        conn.reader_task = self._tasks.spawn(conn.read_loop(), f"demo-read-{record.id}")
        conn.handler_task = self._tasks.spawn(self._handle(conn), f"demo-conn-{record.id}")

    def _on_client_gone(self, conn: Connection) -> None:
        if self._close(conn, "client", abort=True):
            log.debug("connection %d closed by the client", conn.record.id)

    def _close(self, conn: Connection, by: ClosedBy, *, abort: bool) -> bool:
        """Close ``conn`` once; stop its handler. True when this call closed it."""
        closed = self.ledger.close_connection(conn.record, by)
        self._connections.discard(conn)
        current = asyncio.current_task()
        for task in (conn.handler_task, conn.reader_task):
            if task is not None and task is not current and not task.done():
                task.cancel()
        transport = conn.writer.transport
        if not transport.is_closing():
            if abort:
                transport.abort()
            else:
                transport.close()
        return closed

    async def _handle(self, conn: Connection) -> None:
        abort = False
        try:
            while True:
                request = await conn.read_request()
                if request is None:
                    break
                if not await self._dispatch(conn, request):
                    break
        except HttpError as exc:
            body = error_body(Dialect.CHAT, exc.status, exc.message)
            head = response_head(
                exc.status,
                [_JSON, _SERVER, ("content-length", str(len(body))), ("connection", "close")],
            )
            conn.write(head + body)
            with contextlib.suppress(ConnectionError):
                await conn.flush_all()
        except StreamCut:
            log.debug("connection %d cut on purpose", conn.record.id)
            abort = True
        except (ConnectionError, OSError):
            abort = True
        finally:
            # Reached by cancellation too (the client went away, or aclose()).
            self._close(conn, "server", abort=abort)

    # --- dispatch ---------------------------------------------------------------------

    def _route(self, request: HttpRequest) -> tuple[_Route | None, list[str], bool]:
        """The route, its path parameters, and whether the path exists at all."""
        known = False
        for route in _ROUTES:
            match = route.pattern.fullmatch(request.path)
            if match is None:
                continue
            known = True
            if route.method == request.method:
                return route, list(match.groups()), True
        return None, [], known

    async def _dispatch(self, conn: Connection, request: HttpRequest) -> bool:
        """Answer one request; True to keep the connection open for the next."""
        body: Any = None
        bad_json = False
        try:
            body = request.json()
        except (ValueError, UnicodeDecodeError):
            bad_json = True
        record = conn.record
        record.method, record.path = request.method, request.path
        record.requests += 1
        self.ledger.log_request(
            LoggedRequest(
                request.method,
                request.path,
                dict(request.headers),
                body,
                dict(request.query),
                record.id,
            )
        )
        log.debug("connection %d: %s %s", record.id, request.method, request.target)
        keep_alive = request.keep_alive
        route, params, known = self._route(request)
        anthropic = "anthropic-version" in request.headers
        dialect = route.dialect if route and route.dialect else None
        if dialect is None:
            dialect = Dialect.ANTHROPIC if anthropic else Dialect.CHAT
        if route is None:
            status = 405 if known else 404
            message = (
                f"Method {request.method} not allowed for {request.path}."
                if known
                else f"Unknown path {request.path!r}: the demo provider serves /v1/chat/"
                "completions, /v1/responses, /v1/messages and /v1/models."
            )
            await self._send_error(conn, dialect, status, message, DemoOptions(), keep_alive)
            return keep_alive
        try:
            options = self._options_for(request)
        except OptionsError as exc:
            await self._send_error(conn, dialect, 400, str(exc), DemoOptions(), keep_alive)
            return keep_alive
        problem = _knob_problem(options)
        if problem is not None:
            await self._send_error(conn, dialect, 400, problem, DemoOptions(), keep_alive)
            return keep_alive
        if options.never_answer:
            log.debug("connection %d: never answering", record.id)
            await asyncio.Event().wait()
        if options.status is not None:
            await self._send_error(conn, dialect, options.status, None, options, keep_alive)
            return keep_alive
        if options.content_type is not None:
            await conn.send_response(
                200,
                [("content-type", options.content_type), _SERVER],
                html_page(),
                options,
                keep_alive,
            )
            return keep_alive
        if bad_json or (route.needs_body and not isinstance(body, dict)):
            message = "We could not parse the JSON body of your request."
            await self._send_error(conn, dialect, 400, message, options, keep_alive)
            return keep_alive
        handler: Handler = getattr(self, route.handler)
        return await handler(conn, request, body, options, params)

    def _options_for(self, request: HttpRequest) -> DemoOptions:
        base = dataclasses.replace(self.defaults)
        header = request.headers.get(OPTIONS_HEADER)
        return base if header is None else parse_options_header(header, base)

    async def _send_error(
        self,
        conn: Connection,
        dialect: Dialect,
        status: int,
        message: str | None,
        options: DemoOptions,
        keep_alive: bool,
        code: str | None = None,
    ) -> None:
        headers = [_JSON, _SERVER, self._request_id(dialect)]
        if status in _RETRY_STATUSES and options.retry_after is not None:
            headers.append(("retry-after", f"{options.retry_after:g}"))
        body = error_body(dialect, status, message, code)
        await conn.send_response(status, headers, body, options, keep_alive)

    async def _refused_images(
        self,
        conn: Connection,
        dialect: Dialect,
        model: str,
        convo: conversation.Conversation,
        options: DemoOptions,
        keep_alive: bool,
    ) -> bool:
        """Answer 400 if ``model`` reads no images and the request holds one;
        True when it did."""
        refusal = _image_refusal(model, convo)
        if refusal is None:
            return False
        await self._send_error(
            conn, dialect, 400, refusal, options, keep_alive, code="image_not_supported"
        )
        return True

    @staticmethod
    def _request_id(dialect: Dialect) -> tuple[str, str]:
        name = "request-id" if dialect is Dialect.ANTHROPIC else "x-request-id"
        return name, new_id("req_")

    async def _send_json(
        self,
        conn: Connection,
        dialect: Dialect,
        body: bytes,
        options: DemoOptions,
        keep_alive: bool,
        status: int = 200,
    ) -> bool:
        headers = [_JSON, _SERVER, self._request_id(dialect)]
        await conn.send_response(status, headers, body, options, keep_alive)
        return keep_alive

    # --- generation helpers -------------------------------------------------------------

    async def _stream(
        self,
        conn: Connection,
        generation: Generation,
        start: int,
        options: DemoOptions,
        dialect: Dialect,
    ) -> bool:
        """Answer with an SSE stream of ``generation`` from frame ``start``; closes after."""
        head = response_head(
            200,
            [
                ("content-type", "text/event-stream; charset=utf-8"),
                ("cache-control", "no-cache"),
                ("transfer-encoding", "chunked"),
                ("connection", "close"),
                _SERVER,
                self._request_id(dialect),
            ],
        )
        conn.write(head)
        await conn.pump(generation, start, options)
        await conn.flush_all()
        return False

    async def _own_stream(
        self,
        conn: Connection,
        generation: Generation,
        options: DemoOptions,
        dialect: Dialect,
    ) -> bool:
        """Stream a reply that belongs to this connection and dies with it."""
        task = self._start_generation(generation, f"demo-gen-{conn.record.id}")
        try:
            return await self._stream(conn, generation, 0, options, dialect)
        finally:
            task.cancel()

    async def _complete(
        self,
        conn: Connection,
        dialect: Dialect,
        tokens: list[str],
        options: DemoOptions,
    ) -> str | None:
        """Wait as long as generating ``tokens`` would take, then apply the non-stream
        faults. Returns None when the request was answered (or cut) here."""
        delay = options.first_token_delay
        if options.rate > 0 and tokens:
            delay += (len(tokens) - 1) / options.rate
        if delay > 0:
            await asyncio.sleep(delay)
        if options.stall_after is not None:
            if options.stall_seconds is None:
                await asyncio.Event().wait()
            else:
                await asyncio.sleep(options.stall_seconds)
        if options.cut_after is not None:
            raise StreamCut
        if options.error_event_after is not None:
            status = 529 if dialect is Dialect.ANTHROPIC else 500
            await self._send_error(conn, dialect, status, None, options, True)
            return None
        return "".join(tokens)

    async def _send_malformed(
        self, conn: Connection, dialect: Dialect, options: DemoOptions, keep_alive: bool
    ) -> bool:
        return await self._send_json(
            conn, dialect, b'{"id": "broken", "choices": [', options, keep_alive
        )

    # --- endpoints ----------------------------------------------------------------------

    async def _chat(
        self,
        conn: Connection,
        request: HttpRequest,
        body: dict[str, Any],
        options: DemoOptions,
        params: list[str],
    ) -> bool:
        convo = conversation.from_chat(body)
        model = str(body.get("model") or DEFAULT_MODEL)
        if await self._refused_images(
            conn, Dialect.CHAT, model, convo, options, request.keep_alive
        ):
            return request.keep_alive
        tokens, truncated = _truncate(
            _reply_tokens(convo, options),
            _limit(body, "max_completion_tokens", "max_tokens"),
            options,
        )
        if body.get("stream") is True:
            stream_options = body.get("stream_options")
            include_usage = isinstance(stream_options, dict) and bool(
                stream_options.get("include_usage")
            )
            reasoning = _reasoning_tokens(convo, options)
            encoder: StreamEncoder = ChatEncoder(
                model,
                convo.input_tokens,
                include_usage,
                reasoning=bool(reasoning),
                refusal=options.refusal,
                reasoning_format=options.reasoning_format,
            )
            generation = self._generation(encoder, tokens, options, truncated, reasoning)
            return await self._own_stream(conn, generation, options, Dialect.CHAT)
        return await self._answer_whole(
            conn,
            Dialect.CHAT,
            tokens,
            options,
            request.keep_alive,
            lambda text: chat_completion(model, text, convo.input_tokens, len(tokens), truncated),
        )

    async def _messages(
        self,
        conn: Connection,
        request: HttpRequest,
        body: dict[str, Any],
        options: DemoOptions,
        params: list[str],
    ) -> bool:
        convo = conversation.from_anthropic(body)
        model = str(body.get("model") or DEFAULT_MODEL)
        bad = _bad_signature(body)
        if bad is not None:
            await self._send_error(conn, Dialect.ANTHROPIC, 400, bad, options, request.keep_alive)
            return request.keep_alive
        if await self._refused_images(
            conn, Dialect.ANTHROPIC, model, convo, options, request.keep_alive
        ):
            return request.keep_alive
        tokens, truncated = _truncate(
            _reply_tokens(convo, options), _limit(body, "max_tokens"), options
        )
        if body.get("stream") is True:
            reasoning = _reasoning_tokens(convo, options)
            encoder = AnthropicEncoder(
                model, convo.input_tokens, reasoning=bool(reasoning), refusal=options.refusal
            )
            generation = self._generation(encoder, tokens, options, truncated, reasoning)
            return await self._own_stream(conn, generation, options, Dialect.ANTHROPIC)
        return await self._answer_whole(
            conn,
            Dialect.ANTHROPIC,
            tokens,
            options,
            request.keep_alive,
            lambda text: anthropic_message(model, text, convo.input_tokens, len(tokens), truncated),
        )

    async def _answer_whole(
        self,
        conn: Connection,
        dialect: Dialect,
        tokens: list[str],
        options: DemoOptions,
        keep_alive: bool,
        payload: Callable[[str], bytes],
    ) -> bool:
        """A reply that is not streamed: paced like a stream, then one JSON answer."""
        text = await self._complete(conn, dialect, tokens, options)
        if text is None:
            return keep_alive
        if options.malformed_after is not None:
            return await self._send_malformed(conn, dialect, options, keep_alive)
        return await self._send_json(conn, dialect, payload(text), options, keep_alive)

    @staticmethod
    def _generation(
        encoder: StreamEncoder,
        tokens: list[str],
        options: DemoOptions,
        truncated: bool,
        reasoning: list[str] | None = None,
    ) -> Generation:
        return Generation(
            encoder,
            tokens,
            rate=options.rate,
            first_token_delay=options.first_token_delay,
            error_after=options.error_event_after,
            truncated=truncated,
            reasoning=reasoning,
            keepalive=options.keepalive,
        )

    def _store(self, job: ResponseJob) -> None:
        self.responses[job.meta.id] = job
        if len(self.responses) > MAX_STORED_RESPONSES:
            for key, old in list(self.responses.items()):
                if old.generation.done:
                    del self.responses[key]
                    if len(self.responses) <= MAX_STORED_RESPONSES:
                        break

    async def _responses_create(
        self,
        conn: Connection,
        request: HttpRequest,
        body: dict[str, Any],
        options: DemoOptions,
        params: list[str],
    ) -> bool:
        convo = conversation.from_responses(body)
        model = str(body.get("model") or DEFAULT_MODEL)
        if await self._refused_images(
            conn, Dialect.RESPONSES, model, convo, options, request.keep_alive
        ):
            return request.keep_alive
        limit = _limit(body, "max_output_tokens")
        tokens, truncated = _truncate(_reply_tokens(convo, options), limit, options)
        reasoning = _reasoning_tokens(convo, options)
        instructions = body.get("instructions")
        meta = ResponseMeta(
            model=model,
            background=body.get("background") is True,
            input_tokens=convo.input_tokens,
            instructions=instructions if isinstance(instructions, str) else None,
            max_output_tokens=limit,
            reasoning=bool(reasoning),
            refusal=options.refusal,
        )
        generation = self._generation(ResponsesEncoder(meta), tokens, options, truncated, reasoning)
        job = ResponseJob(meta, generation)
        self._store(job)
        conn.record.response_id = meta.id
        job.task = self._start_generation(generation, f"demo-response-{meta.id}")
        log.debug("response %s started (background=%s)", meta.id, meta.background)
        keep_alive = request.keep_alive
        if body.get("stream") is True:
            try:
                return await self._stream(conn, generation, 0, options, Dialect.RESPONSES)
            finally:
                # The real background mode outlives its connection; a plain
                # streamed response stops with it.
                if not meta.background and not generation.done:
                    job.task.cancel()
        if meta.background:
            return await self._send_job(conn, job, options, keep_alive)
        try:
            await asyncio.wait([job.task])
        finally:
            if not generation.done:  # the client went away before the answer
                job.task.cancel()
        return await self._send_job(conn, job, options, keep_alive)

    async def _send_job(
        self, conn: Connection, job: ResponseJob, options: DemoOptions, keep_alive: bool
    ) -> bool:
        payload = dumps(job.snapshot()).encode()
        return await self._send_json(conn, Dialect.RESPONSES, payload, options, keep_alive)

    async def _job_or_404(
        self, conn: Connection, request: HttpRequest, options: DemoOptions, response_id: str
    ) -> ResponseJob | None:
        job = self.responses.get(response_id)
        if job is None:
            message = f"Response with id '{response_id}' not found."
            await self._send_error(
                conn, Dialect.RESPONSES, 404, message, options, request.keep_alive
            )
        return job

    async def _responses_get(
        self,
        conn: Connection,
        request: HttpRequest,
        body: Any,
        options: DemoOptions,
        params: list[str],
    ) -> bool:
        job = await self._job_or_404(conn, request, options, params[0])
        if job is None:
            return request.keep_alive
        conn.record.response_id = job.meta.id
        if request.query.get("stream", "").lower() not in ("true", "1"):
            return await self._send_job(conn, job, options, request.keep_alive)
        try:
            after = int(request.query.get("starting_after", "-1"))
        except ValueError:
            await self._send_error(
                conn,
                Dialect.RESPONSES,
                400,
                "Invalid 'starting_after': expected an integer.",
                options,
                request.keep_alive,
            )
            return request.keep_alive
        log.debug("response %s resumed after event %d", job.meta.id, after)
        return await self._stream(
            conn, job.generation, max(0, after + 1), options, Dialect.RESPONSES
        )

    async def _responses_cancel(
        self,
        conn: Connection,
        request: HttpRequest,
        body: Any,
        options: DemoOptions,
        params: list[str],
    ) -> bool:
        job = await self._job_or_404(conn, request, options, params[0])
        if job is None:
            return request.keep_alive
        if job.task is not None and not job.task.done():
            job.task.cancel()
            await asyncio.wait([job.task])
            log.debug("response %s cancelled", job.meta.id)
        return await self._send_job(conn, job, options, request.keep_alive)

    async def _responses_delete(
        self,
        conn: Connection,
        request: HttpRequest,
        body: Any,
        options: DemoOptions,
        params: list[str],
    ) -> bool:
        job = await self._job_or_404(conn, request, options, params[0])
        if job is None:
            return request.keep_alive
        if job.task is not None:
            job.task.cancel()
        del self.responses[job.meta.id]
        payload = dumps({"id": job.meta.id, "object": "response", "deleted": True}).encode()
        return await self._send_json(conn, Dialect.RESPONSES, payload, options, request.keep_alive)

    async def _models(
        self,
        conn: Connection,
        request: HttpRequest,
        body: Any,
        options: DemoOptions,
        params: list[str],
    ) -> bool:
        anthropic = "anthropic-version" in request.headers
        dialect = Dialect.ANTHROPIC if anthropic else Dialect.CHAT
        return await self._send_json(
            conn, dialect, models_body(anthropic), options, request.keep_alive
        )

    async def _model(
        self,
        conn: Connection,
        request: HttpRequest,
        body: Any,
        options: DemoOptions,
        params: list[str],
    ) -> bool:
        anthropic = "anthropic-version" in request.headers
        dialect = Dialect.ANTHROPIC if anthropic else Dialect.CHAT
        model = params[0]
        if model not in DEMO_MODELS:
            message = f"The model '{model}' does not exist."
            await self._send_error(conn, dialect, 404, message, options, request.keep_alive)
            return request.keep_alive
        payload = dumps(model_info(model, anthropic)).encode()
        return await self._send_json(conn, dialect, payload, options, request.keep_alive)
