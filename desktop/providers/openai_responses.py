"""OpenAI Responses (``POST {base}/responses``), the resumable dialect.

Replies run as stored background responses, so a cut stream can be picked up
again with ``GET {base}/responses/{id}?stream=true&starting_after=N``, its
status asked with ``GET {base}/responses/{id}`` and the generation stopped with
``POST {base}/responses/{id}/cancel``.

Cursor format: ``"{response_id}:{sequence_number}"``, the sequence number of
the last event the consumer has seen; resuming from it replays nothing and
skips nothing (``"{response_id}:"`` when the server's numbers cannot be
resumed from).

A server's refusal about a stored response holds for the requests about it
that follow (:mod:`~desktop.providers.holds`): after a 404 (or 401, 403, 410)
its status is not asked, after a Retry-After not before that passes.

A refusal (``response.refusal.delta``) is the reply's text and ends it as
``refusal``; ``incomplete_details.reason`` says why an incomplete reply
ended (``max_output_tokens`` -> length, ``content_filter``); a reply that
calls a client-side tool ends as ``tool_calls``. Reasoning summaries stream
as reasoning.

A user turn with files attached is an input message whose content is a list
of ``input_text`` and ``input_image`` parts (:func:`input_content`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
from collections.abc import AsyncGenerator, Sequence
from typing import Any
from urllib.parse import quote

import httpx

from desktop.core.errors import ErrorKind, ProviderError
from desktop.core.events import (
    CursorUpdate,
    Failed,
    Finished,
    ReasoningDelta,
    StreamEvent,
    TextDelta,
    UsageReport,
)
from desktop.core.models import ChatRequest, ChatTurn, ProviderConfig, RemoteStatus
from desktop.core.states import FinishReason, Role
from desktop.providers.holds import Holds
from desktop.providers.http import (
    HttpProvider,
    error_data_to_error,
    error_from_payload,
    get_json,
    join_url,
    malformed,
    stream_exchange,
)
from desktop.providers.openai_chat import CONTINUE_PROMPT, model_ids
from desktop.providers.sse import SSEEvent
from desktop.providers.sse import loads as sse_loads

log = logging.getLogger("sidestream.provider")

_NOTHING: tuple[StreamEvent, ...] = ()
_REASONING_DELTAS = frozenset(
    {"response.reasoning_text.delta", "response.reasoning_summary_text.delta"}
)
# Events that repeat text the deltas already gave. Each carries the whole
# text so far, so for a huge reply each is a huge JSON document to parse on
# the event loop; named by the SSE ``event:`` line, they are skipped unread.
_REPEATS = frozenset(
    {
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.reasoning_text.done",
        "response.reasoning_summary_text.done",
        "response.reasoning_summary_part.done",
    }
)
_SKIP_UNREAD_CHARS = 64_000


def make_cursor(response_id: str, sequence_number: int | None) -> str:
    """``"{id}:{seq}"``; ``"{id}:"`` names the response but no position in it
    (a server whose sequence numbers cannot be resumed from)."""
    return f"{response_id}:{'' if sequence_number is None else sequence_number}"


def parse_cursor(cursor: str) -> tuple[str, int | None]:
    """Split a cursor into (response id, sequence number or None); ValueError if malformed."""
    response_id, sep, seq = cursor.rpartition(":")
    if not sep or not response_id:
        raise ValueError(f"not a Responses cursor: {cursor!r}")
    return response_id, int(seq) if seq else None


# The Responses API refuses a smaller ``max_output_tokens`` (a 400).
MIN_OUTPUT_TOKENS = 16


def input_content(turn: ChatTurn) -> str | list[dict[str, Any]]:
    """An input message's ``content``: the turn's text, or for a user turn with
    files a list of parts: the text (when there is any), then each file in the
    order attached, a text file or PDF as a named ``input_text``, an image as
    an ``input_image`` holding a ``data:`` URL."""
    if not turn.files or turn.role is not Role.USER:
        return turn.content
    parts: list[dict[str, Any]] = []
    if turn.content.strip():
        parts.append({"type": "input_text", "text": turn.content})
    for file in turn.files:
        if file.is_image:
            parts.append({"type": "input_image", "image_url": file.data_url()})
        else:
            parts.append({"type": "input_text", "text": file.framed_text()})
    return parts


def build_body(request: ChatRequest) -> dict[str, Any]:
    """The request body: the system prompt as ``instructions``, the chat's
    settings as ``temperature``, ``top_p``, ``max_output_tokens`` and
    ``reasoning.effort``, each left out when unset."""
    items: list[dict[str, Any]] = [
        {"role": str(turn.role), "content": input_content(turn)} for turn in request.turns
    ]
    if request.continue_partial:
        if request.turns and request.turns[-1].role is Role.ASSISTANT:
            items.append({"role": "user", "content": CONTINUE_PROMPT})
        else:
            log.debug("continue_partial without a final assistant turn; sent as is")
    body: dict[str, Any] = {
        "model": request.model,
        "input": items,
        "stream": True,
        # Background + stored is what makes the reply resumable and pollable.
        "background": True,
        "store": True,
    }
    if request.system:
        body["instructions"] = request.system
    params = request.params
    if params.temperature is not None:
        body["temperature"] = params.temperature
    if params.top_p is not None:
        body["top_p"] = params.top_p
    limit = request.output_limit
    if limit is not None:
        if limit < MIN_OUTPUT_TOKENS:
            log.info(
                "max_output_tokens %d raised to the API's minimum of %d", limit, MIN_OUTPUT_TOKENS
            )
            limit = MIN_OUTPUT_TOKENS
        body["max_output_tokens"] = limit
    if params.reasoning_effort is not None:
        body["reasoning"] = {"effort": params.reasoning_effort}
    return body


# incomplete_details.reason -> why the reply ended.
_INCOMPLETE = {
    "max_output_tokens": FinishReason.LENGTH,
    "content_filter": FinishReason.CONTENT_FILTER,
}
# Output items that ask the client to act (a tool of its own): a reply made of
# them ended to call a tool. Built-in tools (web search, ...) run server-side.
_CLIENT_CALLS = frozenset({"function_call", "custom_tool_call", "local_shell_call"})


class ResponsesParser:
    """Responses stream events -> stream events, dropping replays by sequence number.

    Within one connection sequence numbers only grow; an event numbered at
    or below the resume point is a replay, and an exact repeat of the last
    event is one too. A server whose numbers do not grow (every event ``0``,
    say) cannot be resumed from them: its events are all kept, and the
    cursor stops naming a position (``"{id}:"``), so the reply is not resumed
    but its status can still be asked.
    """

    __slots__ = (
        "_last_data",
        "_resume_after",
        "called",
        "done",
        "last_seq",
        "model",
        "numbered",
        "refused",
        "response_id",
    )

    def __init__(self, response_id: str | None = None, last_seq: int = -1) -> None:
        self.done = False
        self.response_id = response_id
        self.last_seq = last_seq
        self._resume_after = last_seq
        self._last_data = ""
        self.numbered = True  # sequence numbers grow, so a cursor can resume
        self.model: str | None = None
        self.refused = False
        self.called = False  # an output item asked for a client-side tool

    def _cursor(self) -> str | None:
        if self.response_id is None:
            return None
        return make_cursor(self.response_id, self.last_seq if self.numbered else None)

    def _fail(self, error: ProviderError) -> tuple[StreamEvent, ...]:
        self.done = True
        return (Failed(error),)

    def _replayed(self, seq: int, data: str) -> bool:
        """Whether the event numbered ``seq`` was delivered before (rare path)."""
        if seq <= self._resume_after:
            return True  # replayed after a reconnect
        if seq == self.last_seq and data == self._last_data and self.numbered:
            return True  # the same event twice (a proxy's retry)
        if self.numbered:
            log.info(
                "response %s: sequence numbers do not grow (%d after %d); "
                "it cannot be resumed from them",
                self.response_id,
                seq,
                self.last_seq,
            )
            self.numbered = False
        return False

    def feed(self, sse: SSEEvent) -> Sequence[StreamEvent]:
        data = sse.data
        if len(data) > _SKIP_UNREAD_CHARS and sse.event in _REPEATS:
            # Its sequence number stays unrecorded: replayed after a resume,
            # it is skipped again.
            return _NOTHING
        try:
            payload = sse_loads(data)
        except ValueError as exc:
            if sse.event == "error":
                return self._fail(error_data_to_error(data))
            if not data.strip() or data.strip() == "[DONE]":
                return _NOTHING
            self.done = True
            return (malformed(data, exc),)
        if not isinstance(payload, dict):
            return _NOTHING
        seq = payload.get("sequence_number")
        if isinstance(seq, int):
            if seq <= self.last_seq and self._replayed(seq, data):
                return _NOTHING
            if seq > self.last_seq:
                self.last_seq = seq
            self._last_data = data
        kind = payload.get("type") or sse.event
        if kind == "response.output_text.delta":
            delta = payload.get("delta")
            return (TextDelta(delta, self._cursor()),) if delta else _NOTHING
        if kind in _REASONING_DELTAS:
            delta = payload.get("delta")
            if not delta:
                return _NOTHING
            # ReasoningDelta carries no cursor; without this update a resume
            # would replay the reasoning after the last text delta.
            cursor = self._cursor()
            if cursor is None:
                return (ReasoningDelta(delta),)
            return (ReasoningDelta(delta), CursorUpdate(cursor))
        if kind == "response.reasoning_summary_part.added":
            index = payload.get("summary_index")
            if not isinstance(index, int) or index <= 0:
                return _NOTHING
            # A summary's parts are paragraphs: set the next one apart.
            cursor = self._cursor()
            separator = ReasoningDelta("\n\n")
            return (separator,) if cursor is None else (separator, CursorUpdate(cursor))
        if kind == "response.refusal.delta":
            delta = payload.get("delta")
            if not delta:
                return _NOTHING
            self.refused = True
            return (TextDelta(delta, self._cursor()),)
        if kind == "response.output_item.added":
            item = payload.get("item") or {}
            if item.get("type") in _CLIENT_CALLS:
                self.called = True
            return _NOTHING
        if kind == "response.created":
            response = payload.get("response") or {}
            self.response_id = response.get("id") or self.response_id
            self.model = response.get("model") or self.model
            cursor = self._cursor()
            return (CursorUpdate(cursor),) if cursor else _NOTHING
        if kind == "response.completed":
            return self._completed(payload.get("response") or {})
        if kind == "response.incomplete":
            return self._incomplete(payload.get("response") or {})
        if kind == "response.failed":
            response = payload.get("response") or {}
            error = response.get("error")
            if error:
                return self._fail(error_from_payload(error))
            return self._fail(ProviderError(ErrorKind.SERVER, "the reply failed on the server"))
        if kind == "response.cancelled":
            return self._fail(
                ProviderError(ErrorKind.SERVER, "the reply was cancelled on the server")
            )
        if kind == "error" or sse.event == "error":
            return self._fail(error_from_payload(payload))
        return _NOTHING

    def _usage(self, response: dict[str, Any]) -> list[StreamEvent]:
        self.model = response.get("model") or self.model
        usage = response.get("usage")
        if not usage:
            return []
        return [UsageReport(usage.get("input_tokens"), usage.get("output_tokens"))]

    def _completed(self, response: dict[str, Any]) -> Sequence[StreamEvent]:
        events = self._usage(response)
        finish = FinishReason.STOP
        if self.refused or _has_part(response, "refusal"):
            finish = FinishReason.REFUSAL
        elif self.called or _has_item(response, _CLIENT_CALLS):
            finish = FinishReason.TOOL_CALLS
        events.append(Finished(finish, self.model))
        self.done = True
        return events

    def _incomplete(self, response: dict[str, Any]) -> Sequence[StreamEvent]:
        # Running out of max_output_tokens (or a content filter) ends the reply
        # like Chat Completions' "length": finished, with the reason kept.
        events = self._usage(response)
        details = response.get("incomplete_details") or {}
        finish = _INCOMPLETE.get(str(details.get("reason")), FinishReason.OTHER)
        events.append(Finished(finish, self.model))
        self.done = True
        return events

    def end(self) -> StreamEvent:
        self.done = True
        return Failed(
            ProviderError(ErrorKind.CONNECTION, "the stream ended before the reply was complete")
        )


def _items(response: dict[str, Any]) -> list[Any]:
    output = response.get("output")
    return output if isinstance(output, list) else []


def _has_item(response: dict[str, Any], types: frozenset[str]) -> bool:
    return any(isinstance(item, dict) and item.get("type") in types for item in _items(response))


def _has_part(response: dict[str, Any], part_type: str) -> bool:
    for item in _items(response):
        if isinstance(item, dict) and item.get("type", "message") == "message":
            for part in item.get("content") or ():
                if isinstance(part, dict) and part.get("type") == part_type:
                    return True
    return False


async def _failing(error: ProviderError) -> AsyncGenerator[StreamEvent, None]:
    yield Failed(error)


def output_text(response: Any) -> str | None:
    """The reply text of a stored response: its message items' text (or refusal) parts."""
    if not isinstance(response, dict) or not isinstance(response.get("output"), list):
        return None
    parts: list[str] = []
    for item in response["output"]:
        if not isinstance(item, dict) or item.get("type", "message") != "message":
            continue
        for part in item.get("content") or ():
            if isinstance(part, dict) and part.get("type") == "output_text":
                parts.append(str(part.get("text") or ""))
            elif isinstance(part, dict) and part.get("type") == "refusal":
                parts.append(str(part.get("refusal") or ""))
    return "".join(parts)


class OpenAIResponsesProvider(HttpProvider):
    """An OpenAI Responses endpoint; replies are resumable."""

    def __init__(self, config: ProviderConfig, *, client: httpx.AsyncClient | None = None) -> None:
        super().__init__(config, client=client)
        auth = {"Authorization": f"Bearer {config.api_key}"} if config.api_key else {}
        self._headers = self.headers_with(auth)
        # What the server refused about a stored response, while it holds.
        self._holds = Holds()

    @property
    def resumable(self) -> bool:
        return True

    def _held(self, response_id: str, what: str) -> ProviderError | None:
        """The server's refusal about ``response_id`` if it still holds (logged: ``what``
        is not asked for)."""
        held = self._holds.held(response_id)
        if held is not None:
            log.info("response %s: not asking %s, the server refused: %s", response_id, what, held)
        return held

    async def _noting(
        self, response_id: str, events: AsyncGenerator[StreamEvent, None]
    ) -> AsyncGenerator[StreamEvent, None]:
        """``events``, remembering the server's refusal among them; closing this
        closes them (and so the response) at once."""
        async with contextlib.aclosing(events):
            async for event in events:
                if isinstance(event, Failed) and event.error.status is not None:
                    self._holds.note(response_id, event.error)
                yield event

    def _url(self, path: str) -> str:
        return join_url(self.config.base_url, path)

    def stream(self, request: ChatRequest) -> AsyncGenerator[StreamEvent, None]:
        return stream_exchange(
            self.client,
            "POST",
            self._url("/responses"),
            config=self.config,
            headers=self._headers,
            parser=ResponsesParser(),
            body_of=functools.partial(build_body, request),
            encode_off_loop=request.has_files,
        )

    def resume(self, cursor: str, *, started: bool = False) -> AsyncGenerator[StreamEvent, None]:
        """Replay the events after ``cursor`` and go on live (``started``: the
        reply had its first token, so a silence is a stall at once)."""
        try:
            response_id, seq = parse_cursor(cursor)
        except ValueError as exc:
            return _failing(ProviderError(ErrorKind.PROTOCOL, str(exc)))
        if seq is None:
            return _failing(
                ProviderError(
                    ErrorKind.PROTOCOL,
                    "the provider's event numbers do not grow, so the reply cannot be resumed",
                )
            )
        held = self._held(response_id, "to resume it")
        if held is not None:
            return _failing(held)
        url = self._url(
            f"/responses/{quote(response_id, safe='')}?stream=true&starting_after={seq}"
        )
        events = stream_exchange(
            self.client,
            "GET",
            url,
            config=self.config,
            headers=self._headers,
            parser=ResponsesParser(response_id, seq),
            started=started,
        )
        return self._noting(response_id, events)

    async def status(self, cursor: str) -> RemoteStatus | None:
        """How the stored response stands; raises ProviderError if the request fails,
        or without a request while the server's refusal of an earlier one holds."""
        try:
            response_id, _ = parse_cursor(cursor)
        except ValueError:
            return None
        held = self._held(response_id, "its status")
        if held is not None:
            raise dataclasses.replace(held)  # a new exception: no traceback of the first
        try:
            payload = await get_json(
                self.client,
                self._url(f"/responses/{quote(response_id, safe='')}"),
                config=self.config,
                headers=self._headers,
            )
        except ProviderError as exc:
            self._holds.note(response_id, exc)
            raise
        if not isinstance(payload, dict) or not isinstance(payload.get("status"), str):
            raise ProviderError(ErrorKind.PROTOCOL, "the response has no status")
        return RemoteStatus(payload["status"], output_text(payload))

    async def cancel(self, cursor: str) -> None:
        """Ask the server to stop generating; failures are logged, never raised."""
        try:
            response_id, _ = parse_cursor(cursor)
        except ValueError:
            log.warning("cannot cancel: malformed cursor")
            return
        if self._held(response_id, "to cancel it") is not None:
            return
        try:
            await get_json(
                self.client,
                self._url(f"/responses/{quote(response_id, safe='')}/cancel"),
                config=self.config,
                headers=self._headers,
                method="POST",
            )
        except ProviderError as exc:
            self._holds.note(response_id, exc)
            log.info("cancelling response %s failed: %s", response_id, exc.message)

    async def list_models(self) -> list[str]:
        """Model ids from ``GET {base}/models``, sorted; raises ProviderError."""
        payload = await get_json(
            self.client, self._url("/models"), config=self.config, headers=self._headers
        )
        return model_ids(payload)
