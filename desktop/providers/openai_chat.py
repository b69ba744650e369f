"""OpenAI-compatible Chat Completions (``POST {base}/chat/completions``).

Spoken by OpenAI, Ollama, llama.cpp, vLLM, LM Studio, OpenRouter, Groq and
more; ``base_url`` includes the ``/v1``. Not resumable. The parser copes with
each server's dialect quirks: Ollama's ``delta.reasoning``, DeepSeek/vLLM's
``delta.reasoning_content``, vLLM's ``finish_reason: "abort"``, llama.cpp's
legacy ``error:`` line, error objects sent after HTTP 200, and a missing
``[DONE]``.
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
    StreamEvent,
    TextDelta,
    UsageReport,
)
from desktop.core.models import ChatRequest, ProviderConfig
from desktop.core.states import Role
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


def build_messages(request: ChatRequest) -> list[dict[str, str]]:
    """The ``messages`` array: system first, then the turns, then (for Continue)
    a user turn asking to go on from the partial assistant turn."""
    messages: list[dict[str, str]] = []
    if request.system:
        messages.append({"role": "system", "content": request.system})
    messages.extend({"role": str(turn.role), "content": turn.content} for turn in request.turns)
    if request.continue_partial:
        if request.turns and request.turns[-1].role is Role.ASSISTANT:
            messages.append({"role": "user", "content": CONTINUE_PROMPT})
        else:
            log.debug("continue_partial without a final assistant turn; sent as is")
    return messages


def build_body(request: ChatRequest) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": request.model,
        "messages": build_messages(request),
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    if request.max_tokens is not None:
        body["max_tokens"] = request.max_tokens
    return body


class ChatParser:
    """Chat Completions chunks -> stream events."""

    __slots__ = ("done", "finish_reason", "model")

    def __init__(self) -> None:
        self.done = False
        self.finish_reason: str | None = None
        self.model: str | None = None

    def _fail(self, error: ProviderError) -> tuple[StreamEvent, ...]:
        self.done = True
        return (Failed(error),)

    def feed(self, sse: SSEEvent) -> Sequence[StreamEvent]:
        data = sse.data
        if sse.event == "error":
            return self._fail(error_data_to_error(data))
        if data == "[DONE]":
            self.done = True
            return (Finished(self.finish_reason, self.model),)
        try:
            chunk = sse_loads(data)
        except ValueError as exc:
            if not data.strip():
                return _NOTHING
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
            delta = choice.get("delta")
            if delta:
                # DeepSeek and vLLM say reasoning_content; Ollama says reasoning.
                reasoning = delta.get("reasoning_content") or delta.get("reasoning")
                if reasoning:
                    events.append(ReasoningDelta(reasoning))
                content = delta.get("content")
                if content:
                    events.append(TextDelta(content))
            finish_reason = choice.get("finish_reason")
            if finish_reason:
                if finish_reason in _FAILING_FINISH:
                    events.append(
                        Failed(ProviderError(ErrorKind.SERVER, _FAILING_FINISH[finish_reason]))
                    )
                    self.done = True
                    return events
                self.finish_reason = finish_reason
        usage = chunk.get("usage")
        if usage:
            events.append(UsageReport(usage.get("prompt_tokens"), usage.get("completion_tokens")))
        return events

    def end(self) -> StreamEvent:
        self.done = True
        if self.finish_reason is not None:
            # Some servers (older llama.cpp, proxies) never send [DONE].
            return Finished(self.finish_reason, self.model)
        return Failed(
            ProviderError(ErrorKind.CONNECTION, "the stream ended before the reply was complete")
        )


class OpenAIChatProvider(HttpProvider):
    """An OpenAI-compatible Chat Completions endpoint."""

    def __init__(self, config: ProviderConfig, *, client: httpx.AsyncClient | None = None) -> None:
        super().__init__(config, client=client)
        auth = {"Authorization": f"Bearer {config.api_key}"} if config.api_key else {}
        self._headers = self.headers_with(auth)

    def stream(self, request: ChatRequest) -> AsyncGenerator[StreamEvent, None]:
        return stream_exchange(
            self.client,
            "POST",
            join_url(self.config.base_url, "/chat/completions"),
            config=self.config,
            headers=self._headers,
            parser=ChatParser(),
            json_body=build_body(request),
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
