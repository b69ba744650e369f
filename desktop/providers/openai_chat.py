"""OpenAI-compatible Chat Completions (``POST {base}/chat/completions``).

Spoken by OpenAI, Ollama, llama.cpp, vLLM, LM Studio, OpenRouter, Groq and
more; ``base_url`` includes the ``/v1``. Not resumable. The parser copes with
each server's dialect quirks: Ollama's ``delta.reasoning``, DeepSeek/vLLM's
``delta.reasoning_content``, ``<think>…</think>`` at the start of the content
(older Ollama builds), refusals in ``delta.refusal``, vLLM's
``finish_reason: "abort"``, llama.cpp's legacy ``error:`` line, error objects
sent after HTTP 200, ``[DONE]`` with white space around it, chunks of other
choices (``n`` > 1) and a missing ``[DONE]``.

The system prompt is the first message; the chat's settings are top-level
fields, the reply's limit named ``max_completion_tokens`` at OpenAI and
``max_tokens`` elsewhere (:func:`limit_key_for`). A user turn with files
attached sends its content as a list of parts (:func:`user_content`).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncGenerator, Sequence
from typing import Any
from urllib.parse import urlsplit

import httpx

from desktop.core.errors import ErrorKind, ProviderError
from desktop.core.events import (
    Failed,
    Finished,
    ReasoningDelta,
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

# Plain OpenAI rejects ``continue_final_message``, so Continue asks in words.
CONTINUE_PROMPT = (
    "Your previous reply was cut off. Continue it exactly where it stopped, "
    "without repeating anything you already wrote and without any preamble."
)

_NOTHING: tuple[StreamEvent, ...] = ()
# Finish reasons that mean the reply failed rather than ended.
_FAILING_FINISH = {
    "abort": "the server aborted the generation",  # vLLM
    "error": "the provider reported an error mid-reply",  # OpenRouter, without an error object
}


def user_content(turn: ChatTurn) -> str | list[dict[str, Any]]:
    """A turn's ``content``: its text, or for a user turn with files a list of
    parts: the text (when there is any), then each file in the order attached,
    a text file or PDF as a named text part, an image as an ``image_url`` part
    holding a ``data:`` URL."""
    if not turn.files or turn.role is not Role.USER:
        return turn.content
    parts: list[dict[str, Any]] = []
    if turn.content.strip():
        parts.append({"type": "text", "text": turn.content})
    for file in turn.files:
        if file.is_image:
            parts.append({"type": "image_url", "image_url": {"url": file.data_url()}})
        else:
            parts.append({"type": "text", "text": file.framed_text()})
    return parts


def build_messages(request: ChatRequest) -> list[dict[str, Any]]:
    """The ``messages`` array: system first, then the turns, then (for Continue)
    a user turn asking to go on from the partial assistant turn."""
    messages: list[dict[str, Any]] = []
    if request.system:
        messages.append({"role": "system", "content": request.system})
    messages.extend(
        {"role": str(turn.role), "content": user_content(turn)} for turn in request.turns
    )
    if request.continue_partial:
        if request.turns and request.turns[-1].role is Role.ASSISTANT:
            messages.append({"role": "user", "content": CONTINUE_PROMPT})
        else:
            log.debug("continue_partial without a final assistant turn; sent as is")
    return messages


# OpenAI's own API names the reply's limit ``max_completion_tokens`` (it counts
# the reasoning tokens too) and refuses ``max_tokens`` for its reasoning
# models; the OpenAI-compatible servers (Ollama, llama.cpp, vLLM, LM Studio,
# OpenRouter, Groq, ...) all take ``max_tokens``, and not all of them know
# the newer name. So the host decides.
OPENAI_LIMIT_KEY = "max_completion_tokens"
COMPATIBLE_LIMIT_KEY = "max_tokens"


def limit_key_for(base_url: str) -> str:
    """The name of the reply's token limit at ``base_url``: OpenAI's own
    (``api.openai.com`` and its regional ``*.api.openai.com``) or everyone else's."""
    try:
        host = (urlsplit(base_url).hostname or "").lower()
    except ValueError:  # unusable: the request itself will say so
        return COMPATIBLE_LIMIT_KEY
    if host == "api.openai.com" or host.endswith(".api.openai.com"):
        return OPENAI_LIMIT_KEY
    return COMPATIBLE_LIMIT_KEY


def build_body(request: ChatRequest, *, limit_key: str = COMPATIBLE_LIMIT_KEY) -> dict[str, Any]:
    """The request body; each unset parameter is left out (the server's default).

    ``reasoning_effort`` is top level, as OpenAI takes it; OpenRouter, Groq,
    vLLM and Ollama read the same field, other servers ignore it (it is sent
    only when the chat sets it).
    """
    body: dict[str, Any] = {
        "model": request.model,
        "messages": build_messages(request),
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    params = request.params
    if params.temperature is not None:
        body["temperature"] = params.temperature
    if params.top_p is not None:
        body["top_p"] = params.top_p
    limit = request.output_limit
    if limit is not None:
        body[limit_key] = limit
    if params.reasoning_effort is not None:
        body["reasoning_effort"] = params.reasoning_effort
    return body


# finish_reason -> why the reply ended. "eos"/"eos_token" come from TGI and
# other servers that name the end-of-sequence token.
_FINISH = {
    "stop": FinishReason.STOP,
    "eos": FinishReason.STOP,
    "eos_token": FinishReason.STOP,
    "stop_sequence": FinishReason.STOP,
    "length": FinishReason.LENGTH,
    "content_filter": FinishReason.CONTENT_FILTER,
    "tool_calls": FinishReason.TOOL_CALLS,
    "function_call": FinishReason.TOOL_CALLS,
}


def finish_of(finish_reason: str | None, *, refused: bool = False) -> FinishReason:
    """Chat Completions' ``finish_reason`` as a :class:`FinishReason`."""
    if refused:
        return FinishReason.REFUSAL
    if finish_reason is None:
        return FinishReason.STOP
    return _FINISH.get(finish_reason, FinishReason.OTHER)


class ThinkTags:
    """Splits ``<think>…</think>`` at the very start of the content off as reasoning.

    Older Ollama builds (and models served without a reasoning parser) put the
    reasoning in the content, wrapped in think tags. Only a reply that begins
    with the tag (after white space) is split; a tag may arrive cut across any
    number of deltas. Once the reply is known not to start with one, or the
    closing tag went by, :attr:`active` is False and the parser stops asking.
    """

    OPEN = "<think>"
    CLOSE = "</think>"
    __slots__ = ("_held", "_inside", "_opened", "_strip", "active")

    def __init__(self) -> None:
        self.active = True
        self._held = ""  # text that may still be (the start of) a tag
        self._inside = False
        self._opened = False  # just inside: drop the white space after <think>
        self._strip = False  # drop the white space between </think> and the answer

    def feed(self, text: str) -> list[StreamEvent]:
        if not self.active:
            return [TextDelta(text)] if text else []
        text = self._held + text
        self._held = ""
        if self._strip:
            text = text.lstrip()
            if not text:
                return []
            self._strip = False
            self.active = False
            return [TextDelta(text)]
        if not self._inside:
            start = text.lstrip()
            if self.OPEN.startswith(start):  # "", "<", "<th", ... "<think>" itself
                if start == self.OPEN:
                    self._inside = self._opened = True
                    return []
                self._held = text
                return []
            if not start.startswith(self.OPEN):
                self.active = False
                return [TextDelta(text)]
            self._inside = self._opened = True
            text = start[len(self.OPEN) :]
        if self._opened:
            text = text.lstrip()
            if not text:
                return []
            self._opened = False
        end = text.find(self.CLOSE)
        if end >= 0:
            events: list[StreamEvent] = []
            last = text[:end].rstrip()  # the white space before </think> is no reasoning
            if last:
                events.append(ReasoningDelta(last))
            answer = text[end + len(self.CLOSE) :].lstrip()
            self._inside = False
            if answer:
                self.active = False
                events.append(TextDelta(answer))
            else:
                self._strip = True
            return events
        # Hold back a tail that may be the start of the closing tag, and the
        # white space before it (no reasoning, if the tag follows).
        keep = 0
        for size in range(min(len(self.CLOSE) - 1, len(text)), 0, -1):
            if self.CLOSE.startswith(text[-size:]):
                keep = size
                break
        cut = len(text) - keep
        cut = len(text[:cut].rstrip())
        self._held = text[cut:]
        shown = text[:cut]
        return [ReasoningDelta(shown)] if shown else []

    def flush(self) -> list[StreamEvent]:
        """The stream ends: what was held back is reasoning (inside) or text."""
        held, self._held = self._held, ""
        self.active = False
        if not held:
            return []
        if self._inside:
            return [ReasoningDelta(held)] if held.strip() else []
        return [] if self._strip else [TextDelta(held)]


class ChatParser:
    """Chat Completions chunks -> stream events.

    Only choice 0 is the reply (a request with ``n`` > 1 interleaves chunks of
    the others). A refusal (``delta.refusal``) is the reply's text, and the
    reply finishes as ``refusal``.
    """

    __slots__ = ("_think", "done", "finish_reason", "model", "refused")

    def __init__(self) -> None:
        self.done = False
        self.finish_reason: str | None = None
        self.model: str | None = None
        self.refused = False
        self._think: ThinkTags | None = ThinkTags()

    def _fail(self, error: ProviderError) -> tuple[StreamEvent, ...]:
        self.done = True
        return (Failed(error),)

    def _finished(self) -> tuple[StreamEvent, ...]:
        """The end of the reply: what the think-tag splitter still holds, then Finished."""
        self.done = True
        held = self._flush_think()
        return (*held, Finished(finish_of(self.finish_reason, refused=self.refused), self.model))

    def _flush_think(self) -> list[StreamEvent]:
        think, self._think = self._think, None
        return think.flush() if think is not None else []

    def feed(self, sse: SSEEvent) -> Sequence[StreamEvent]:
        data = sse.data
        if sse.event == "error":
            return self._fail(error_data_to_error(data))
        if data == "[DONE]":
            return self._finished()
        try:
            chunk = sse_loads(data)
        except ValueError as exc:
            if not data.strip():
                return _NOTHING
            if data.strip() == "[DONE]":  # white space around it ("data: [DONE] ")
                return self._finished()
            self.done = True
            return (malformed(data, exc),)
        if not isinstance(chunk, dict):
            return _NOTHING
        if chunk.get("error"):
            return self._fail(error_from_payload(chunk))
        model = chunk.get("model")
        if model:
            self.model = model
        events: list[StreamEvent] = []
        choices = chunk.get("choices")
        if choices:
            choice = choices[0]
            if choice.get("index", 0) != 0:
                choice = next((c for c in choices if c.get("index", 0) == 0), None)
            if choice is not None:
                self._choice(choice, events)
                if self.done:
                    return events
        usage = chunk.get("usage")
        if usage:
            events.append(UsageReport(usage.get("prompt_tokens"), usage.get("completion_tokens")))
        return events

    def _choice(self, choice: dict[str, Any], events: list[StreamEvent]) -> None:
        delta = choice.get("delta")
        if delta:
            content = delta.get("content")
            if not content or len(delta) > 1:
                # DeepSeek and vLLM say reasoning_content; Ollama says reasoning.
                reasoning = delta.get("reasoning_content") or delta.get("reasoning")
                if reasoning:
                    events.append(ReasoningDelta(reasoning))
                refusal = delta.get("refusal")
                if refusal:
                    self.refused = True
                    events.append(TextDelta(refusal))
            if content:
                if self._think is None:
                    events.append(TextDelta(content))
                else:
                    events.extend(self._think.feed(content))
                    if not self._think.active:
                        self._think = None
        finish_reason = choice.get("finish_reason")
        if finish_reason:
            events.extend(self._flush_think())
            if finish_reason in _FAILING_FINISH:
                events.append(
                    Failed(ProviderError(ErrorKind.SERVER, _FAILING_FINISH[finish_reason]))
                )
                self.done = True
                return
            self.finish_reason = finish_reason

    def end(self) -> StreamEvent:
        self.done = True
        if self.finish_reason is not None:
            # Some servers (older llama.cpp, proxies) never send [DONE].
            return Finished(finish_of(self.finish_reason, refused=self.refused), self.model)
        return Failed(
            ProviderError(ErrorKind.CONNECTION, "the stream ended before the reply was complete")
        )


class OpenAIChatProvider(HttpProvider):
    """An OpenAI-compatible Chat Completions endpoint."""

    def __init__(self, config: ProviderConfig, *, client: httpx.AsyncClient | None = None) -> None:
        super().__init__(config, client=client)
        auth = {"Authorization": f"Bearer {config.api_key}"} if config.api_key else {}
        self._headers = self.headers_with(auth)
        self._limit_key = limit_key_for(config.base_url)

    def stream(self, request: ChatRequest) -> AsyncGenerator[StreamEvent, None]:
        return stream_exchange(
            self.client,
            "POST",
            join_url(self.config.base_url, "/chat/completions"),
            config=self.config,
            headers=self._headers,
            parser=ChatParser(),
            body_of=functools.partial(build_body, request, limit_key=self._limit_key),
            encode_off_loop=request.has_files,
        )

    async def list_models(self) -> list[str]:
        """Model ids from ``GET {base}/models``, sorted; raises ProviderError."""
        payload = await get_json(
            self.client,
            join_url(self.config.base_url, "/models"),
            config=self.config,
            headers=self._headers,
        )
        return model_ids(payload)


def model_ids(payload: Any) -> list[str]:
    """``data[].id`` of an OpenAI-style model list."""
    data = payload.get("data") if isinstance(payload, dict) else None
    if not isinstance(data, list):
        raise ProviderError(ErrorKind.PROTOCOL, "the model list has no data array")
    return sorted(
        {item["id"] for item in data if isinstance(item, dict) and isinstance(item.get("id"), str)}
    )
