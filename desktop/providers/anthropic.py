"""Anthropic Messages (``POST {base}/v1/messages``).

``base_url`` is the host without ``/v1`` (e.g. ``https://api.anthropic.com``);
a trailing ``/v1`` is tolerated. Not resumable. Continue sends the partial
reply as an assistant prefill, so the deltas go on from it.

Extended thinking streams as ``thinking_delta`` events, each block closed by a
``signature_delta``, or arrives whole and encrypted as a ``redacted_thinking``
block; the blocks go back, unchanged, in the assistant turns of later
requests (:class:`~desktop.core.models.ReasoningBlock`). ``stop_reason`` is
normalized (``end_turn`` -> stop, ``max_tokens`` -> length, ``refusal``,
``tool_use`` -> tool_calls, ``pause_turn`` -> other).

The system prompt goes in ``system``; the chat's settings are fitted to what
the API accepts, extended thinking's constraints included (:func:`add_params`).
A user turn with files attached sends a list of content blocks, its images
first (:func:`_user_content`).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Sequence
from typing import Any

import httpx

from desktop.core.errors import ErrorKind, ProviderError
from desktop.core.events import (
    Failed,
    Finished,
    ReasoningDelta,
    ReasoningSignature,
    RedactedReasoning,
    StreamEvent,
    TextDelta,
    UsageReport,
)
from desktop.core.models import ChatRequest, ChatTurn, ProviderConfig
from desktop.core.states import FinishReason, Role
from desktop.providers.http import (
    HttpProvider,
    error_data_to_error,
    error_from_payload,
    get_json,
    join_url,
    malformed,
    stream_exchange,
)
from desktop.providers.sse import SSEEvent
from desktop.providers.sse import loads as sse_loads

log = logging.getLogger("sidestream.provider")

# Anthropic requires max_tokens; this is what a chat gets when it sets none.
ANTHROPIC_DEFAULT_MAX_TOKENS = 8192
# With extended thinking on, the API refuses a lower top_p.
THINKING_MIN_TOP_P = 0.95

API_VERSION = "2023-06-01"
_NOTHING: tuple[StreamEvent, ...] = ()
# Anthropic's error types map onto our kinds; anything else is a server error.
_ERROR_KINDS = {
    "overloaded_error": ErrorKind.OVERLOADED,
    "rate_limit_error": ErrorKind.RATE_LIMIT,
    "authentication_error": ErrorKind.AUTH,
    "permission_error": ErrorKind.AUTH,
    "not_found_error": ErrorKind.NOT_FOUND,
    "invalid_request_error": ErrorKind.BAD_REQUEST,
    "request_too_large": ErrorKind.BAD_REQUEST,
}


# stop_reason -> why the reply ended.
_FINISH = {
    "end_turn": FinishReason.STOP,
    "stop_sequence": FinishReason.STOP,
    "max_tokens": FinishReason.LENGTH,
    "model_context_window_exceeded": FinishReason.LENGTH,
    "tool_use": FinishReason.TOOL_CALLS,
    "refusal": FinishReason.REFUSAL,
}


def finish_of(stop_reason: str | None) -> FinishReason:
    """Anthropic's ``stop_reason`` as a :class:`FinishReason` (``pause_turn`` and
    reasons yet to come are ``OTHER``)."""
    if stop_reason is None:
        return FinishReason.STOP
    return _FINISH.get(stop_reason, FinishReason.OTHER)


def api_root(base_url: str) -> str:
    base = base_url.rstrip("/")
    return base[: -len("/v1")] if base.endswith("/v1") else base


def build_body(request: ChatRequest) -> tuple[dict[str, Any], str]:
    """The request body, and the whitespace cut off the end of a prefill.

    Anthropic rejects a final assistant turn that ends in whitespace, so the
    prefill is sent stripped; the caller's copy of the text still has it.
    """
    system_parts = [request.system] if request.system else []
    turns: list[ChatTurn] = []
    for turn in request.turns:
        if turn.role is Role.SYSTEM:
            system_parts.append(turn.content)  # Messages takes no system turns
        else:
            turns.append(turn)
    cut = ""
    if request.continue_partial and turns and turns[-1].role is Role.ASSISTANT:
        # The prefill: the partial text, without its reasoning (a prefill that
        # holds thinking blocks is refused; the model reasons afresh).
        partial = turns[-1].content
        prefill = partial.rstrip()
        cut = partial[len(prefill) :]
        if prefill:
            turns[-1] = ChatTurn(Role.ASSISTANT, prefill)
        else:
            turns.pop()
    messages = [_message(turn) for turn in turns]
    body: dict[str, Any] = {
        "model": request.model,
        "max_tokens": request.output_limit or ANTHROPIC_DEFAULT_MAX_TOKENS,
        "messages": messages,
        "stream": True,
    }
    if system_parts:
        body["system"] = "\n\n".join(system_parts)
    prefilled = bool(turns) and turns[-1].role is Role.ASSISTANT
    add_params(body, request, prefilled=prefilled)
    return body, cut


def add_params(body: dict[str, Any], request: ChatRequest, *, prefilled: bool) -> None:
    """The chat's settings into ``body``, fitted to what the Messages API accepts.

    Each change below is logged; none fails the request.

    - A thinking budget sends ``thinking: {"type": "enabled", "budget_tokens"}``.
      The budget counts within ``max_tokens``, which must exceed it: unset,
      ``max_tokens`` becomes the budget plus the usual default; set no higher
      than the budget, the budget plus it (the answer keeps the room the user
      gave it).
    - With thinking on, the API refuses any temperature but its default (so
      none is sent: the user asked for thinking and gets it) and a top-p
      below 0.95 (sent as 0.95).
    - A prefill (Continue) cannot be sent with thinking on: that request goes
      without thinking, since Continue must go on from the partial text.
    - ``temperature`` runs 0 to 1 here (OpenAI's to 2): above 1 sends 1.
    - Current models (Claude 4.5 on) refuse ``temperature`` and ``top_p``
      together: with both set only the temperature is sent.
    - ``reasoning_effort`` is OpenAI's and is not sent.
    """
    params = request.params
    temperature, top_p = params.temperature, params.top_p
    budget = params.thinking_budget
    if budget is not None and prefilled:
        log.info("thinking left out: the Messages API takes no prefill with thinking on")
        budget = None
    if budget is not None:
        body["thinking"] = {"type": "enabled", "budget_tokens": budget}
        body["max_tokens"] = _limit_with_thinking(request.output_limit, budget)
        if temperature is not None:
            log.info("temperature %s left out: the API takes none with thinking on", temperature)
            temperature = None
        if top_p is not None and top_p < THINKING_MIN_TOP_P:
            log.info("top_p %s raised to %s with thinking on", top_p, THINKING_MIN_TOP_P)
            top_p = THINKING_MIN_TOP_P
    if temperature is not None:
        if temperature > 1.0:
            log.info("temperature %s lowered to 1, the Messages API's maximum", temperature)
        body["temperature"] = min(temperature, 1.0)
        if top_p is not None:
            log.info("top_p %s left out: current models take temperature or top_p", top_p)
            top_p = None
    if top_p is not None:
        body["top_p"] = top_p
    if params.reasoning_effort is not None:
        log.debug(
            "reasoning_effort %s not sent: the Messages API has none", params.reasoning_effort
        )


def _limit_with_thinking(limit: int | None, budget: int) -> int:
    """``max_tokens`` for a thinking budget, which must stay below it."""
    if limit is None:
        return budget + ANTHROPIC_DEFAULT_MAX_TOKENS
    if limit <= budget:
        log.info("max_tokens %d raised to %d, above the thinking budget", limit, budget + limit)
        return budget + limit
    return limit


def _message(turn: ChatTurn) -> dict[str, Any]:
    """One turn as a message; an assistant turn with signed reasoning carries its
    blocks first, unchanged, as the API requires them back."""
    if turn.files and turn.role is Role.USER:
        return {"role": str(turn.role), "content": _user_content(turn)}
    if not turn.reasoning_blocks or turn.role is not Role.ASSISTANT:
        return {"role": str(turn.role), "content": turn.content}
    content: list[dict[str, str]] = [block.to_json() for block in turn.reasoning_blocks]
    if turn.content:
        content.append({"type": "text", "text": turn.content})
    return {"role": str(turn.role), "content": content}


def _user_content(turn: ChatTurn) -> list[dict[str, Any]]:
    """A user turn's files and text as content blocks: the images first (base64,
    as Anthropic advises: images before the text about them), then each text
    file or PDF as a named text block, then the message's text, when there is
    any (the API refuses an empty text block)."""
    blocks: list[dict[str, Any]] = [
        {
            "type": "image",
            "source": {
                "type": "base64",
                "media_type": file.mime,
                "data": file.base64(),
            },
        }
        for file in turn.files
        if file.is_image
    ]
    blocks.extend(
        {"type": "text", "text": file.framed_text()} for file in turn.files if not file.is_image
    )
    if turn.content.strip():
        blocks.append({"type": "text", "text": turn.content})
    return blocks


class MessagesParser:
    """Messages stream events -> stream events."""

    __slots__ = ("_skip_space", "done", "input_tokens", "model", "stop_reason")

    def __init__(self, cut_whitespace: str = "") -> None:
        self.done = False
        self.model: str | None = None
        self.input_tokens: int | None = None
        self.stop_reason: str | None = None
        # The prefill lost this much trailing whitespace, which the caller's text
        # still has; the model's continuation usually re-sends it.
        self._skip_space = len(cut_whitespace)

    def _fail(self, error: ProviderError) -> tuple[StreamEvent, ...]:
        self.done = True
        return (Failed(error),)

    def feed(self, sse: SSEEvent) -> Sequence[StreamEvent]:
        data = sse.data
        try:
            payload = sse_loads(data)
        except ValueError as exc:
            if sse.event == "error":
                return self._fail(error_data_to_error(data))
            if not data.strip():
                return _NOTHING
            self.done = True
            return (malformed(data, exc),)
        if not isinstance(payload, dict):
            return _NOTHING
        kind = payload.get("type") or sse.event
        if kind == "content_block_delta":
            delta = payload.get("delta") or {}
            delta_type = delta.get("type")
            if delta_type == "text_delta":
                text = delta.get("text")
                if text and self._skip_space:
                    text = self._skip_leading_space(text)
                return (TextDelta(text),) if text else _NOTHING
            if delta_type == "thinking_delta":
                thinking = delta.get("thinking")
                return (ReasoningDelta(thinking),) if thinking else _NOTHING
            if delta_type == "signature_delta":
                signature = delta.get("signature")
                return (ReasoningSignature(signature),) if signature else _NOTHING
            return _NOTHING
        if kind == "content_block_start":
            block = payload.get("content_block") or {}
            if block.get("type") == "redacted_thinking" and block.get("data"):
                return (RedactedReasoning(block["data"]),)
            return _NOTHING
        if kind == "message_start":
            message = payload.get("message") or {}
            self.model = message.get("model") or self.model
            usage = message.get("usage") or {}
            self.input_tokens = usage.get("input_tokens", self.input_tokens)
            if self.input_tokens is None:
                return _NOTHING
            # Known now, so that a reply cut before its end still has it.
            return (UsageReport(self.input_tokens, None),)
        if kind == "message_delta":
            delta = payload.get("delta") or {}
            self.stop_reason = delta.get("stop_reason") or self.stop_reason
            usage = payload.get("usage")
            if not usage:
                return _NOTHING
            self.input_tokens = usage.get("input_tokens") or self.input_tokens
            return (UsageReport(self.input_tokens, usage.get("output_tokens")),)
        if kind == "message_stop":
            self.done = True
            return (Finished(finish_of(self.stop_reason), self.model),)
        if kind == "error":
            error = payload.get("error")
            error_type = error.get("type") if isinstance(error, dict) else None
            kind_ = _ERROR_KINDS.get(str(error_type), ErrorKind.SERVER)
            return self._fail(ProviderError(kind_, error_from_payload(payload).detail))
        return _NOTHING  # ping, content_block_stop, and types yet to come

    def _skip_leading_space(self, text: str) -> str:
        """Drop up to the prefill's cut whitespace from the start of the continuation."""
        i = 0
        while i < len(text) and i < self._skip_space and text[i].isspace():
            i += 1
        self._skip_space = 0 if i < len(text) else self._skip_space - i
        return text[i:]

    def end(self) -> StreamEvent:
        self.done = True
        if self.stop_reason is not None:
            return Finished(finish_of(self.stop_reason), self.model)
        return Failed(
            ProviderError(ErrorKind.CONNECTION, "the stream ended before the reply was complete")
        )


class AnthropicProvider(HttpProvider):
    """An Anthropic Messages endpoint."""

    def __init__(self, config: ProviderConfig, *, client: httpx.AsyncClient | None = None) -> None:
        super().__init__(config, client=client)
        auth = {"anthropic-version": API_VERSION}
        if config.api_key:
            auth["x-api-key"] = config.api_key
        self._headers = self.headers_with(auth)
        self._root = api_root(config.base_url)

    def stream(self, request: ChatRequest) -> AsyncGenerator[StreamEvent, None]:
        body, cut = build_body(request)
        return stream_exchange(
            self.client,
            "POST",
            join_url(self._root, "/v1/messages"),
            config=self.config,
            headers=self._headers,
            parser=MessagesParser(cut),
            json_body=body,
            encode_off_loop=request.has_files,
        )

    async def list_models(self) -> list[str]:
        """Model ids from ``GET {base}/v1/models``, sorted; raises ProviderError."""
        payload = await get_json(
            self.client,
            join_url(self._root, "/v1/models?limit=1000"),
            config=self.config,
            headers=self._headers,
        )
        data = payload.get("data") if isinstance(payload, dict) else None
        if not isinstance(data, list):
            raise ProviderError(ErrorKind.PROTOCOL, "the model list has no data array")
        return sorted(
            {
                item["id"]
                for item in data
                if isinstance(item, dict) and isinstance(item.get("id"), str)
            }
        )
