"""The three wire formats the demo speaks, byte for byte as the real APIs do.

* OpenAI Chat Completions: ``data: {chat.completion.chunk}`` lines ending with
  ``data: [DONE]``; a ``usage`` chunk when ``stream_options.include_usage``.
* OpenAI Responses: ``event: <type>`` + ``data: {.., "sequence_number": n}``.
* Anthropic Messages: ``event: <type>`` + ``data: {"type": <type>, ..}``.

A reply may reason first, in each dialect's shape: Chat Completions'
``delta.reasoning_content`` / ``delta.reasoning`` / ``<think>`` in the
content; a Responses reasoning item with a streamed summary; an Anthropic
``thinking`` block closed by its ``signature_delta``. A refusal is
``delta.refusal``, a ``refusal`` content part, or text ending with
``stop_reason: "refusal"``.

An encoder turns one generated reply into SSE frames (``bytes``). The text
delta frames are built from pre-encoded prefixes so that the server can push
well over 100k events a second; everything else goes through ``json.dumps``.
JSON is written compact and with raw UTF-8 (``ensure_ascii=False``) as the real
services do, so multi-byte characters cross the wire unescaped.
"""

from __future__ import annotations

import enum
import functools
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from desktop.providers.demo.replies import thinking_signature

__all__ = [
    "CHAT_REASONING_FORMATS",
    "DEMO_MODELS",
    "TEXT_ONLY_MODEL",
    "AnthropicEncoder",
    "ChatEncoder",
    "Dialect",
    "ResponseMeta",
    "ResponsesEncoder",
    "StreamEncoder",
    "anthropic_message",
    "chat_completion",
    "error_body",
    "html_page",
    "model_info",
    "models_body",
    "new_id",
    "response_object",
]

#: A model that reads no images: a request to it with one is refused (400),
#: as a text-only model's API refuses it.
TEXT_ONLY_MODEL = "sidestream-demo-text-only"
DEMO_MODELS = ("sidestream-demo", "sidestream-demo-mini", TEXT_ONLY_MODEL)
DEFAULT_MODEL = DEMO_MODELS[0]


class Dialect(enum.StrEnum):
    CHAT = "openai_chat"
    RESPONSES = "openai_responses"
    ANTHROPIC = "anthropic"

    @property
    def is_openai(self) -> bool:
        return self is not Dialect.ANTHROPIC


def new_id(prefix: str) -> str:
    return prefix + secrets.token_hex(12)


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


# Tokens longer than this (``big_event``) are encoded without the cache, so
# that a megabyte-sized delta is not kept alive by it after its reply.
_CACHED_TOKEN_LIMIT = 256


@functools.lru_cache(maxsize=8192)
def _cached_json_string(text: str) -> bytes:
    return json.dumps(text, ensure_ascii=False).encode("utf-8")


def _json_string(text: str) -> bytes:
    if len(text) > _CACHED_TOKEN_LIMIT:
        return json.dumps(text, ensure_ascii=False).encode("utf-8")
    return _cached_json_string(text)


def _raw_json_string(raw: bytes) -> bytes:
    """A JSON string literal holding ``raw`` as is (for bytes that are not UTF-8)."""
    return b'"' + raw + b'"'


def _sse(event: str | None, data: Any) -> bytes:
    payload = data if isinstance(data, str) else dumps(data)
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {payload}\n\n".encode()


# --- errors -------------------------------------------------------------------------

_OPENAI_ERRORS: dict[int, tuple[str, str, str | None]] = {
    400: ("invalid_request_error", "The request was invalid.", None),
    401: (
        "invalid_request_error",
        "Incorrect API key provided: demo-***. You can find your API key at "
        "https://platform.openai.com/account/api-keys.",
        "invalid_api_key",
    ),
    403: ("invalid_request_error", "You are not allowed to access this model.", None),
    404: ("invalid_request_error", "The requested resource does not exist.", "not_found"),
    429: (
        "requests",
        "Rate limit reached for sidestream-demo in organization org-demo on requests per "
        "min (RPM): Limit 3, Used 3, Requested 1. Please try again in 1s.",
        "rate_limit_exceeded",
    ),
    500: (
        "server_error",
        "The server had an error while processing your request. Sorry about that!",
        None,
    ),
    503: (
        "server_error",
        "The engine is currently overloaded, please try again later.",
        None,
    ),
    529: ("server_error", "The server is overloaded, please try again later.", "overloaded"),
}

_ANTHROPIC_ERRORS: dict[int, tuple[str, str]] = {
    400: ("invalid_request_error", "The request was invalid."),
    401: ("authentication_error", "invalid x-api-key"),
    403: ("permission_error", "Your API key does not have permission to use this resource."),
    404: ("not_found_error", "The requested resource could not be found."),
    413: ("request_too_large", "Request exceeds the maximum allowed number of bytes."),
    429: (
        "rate_limit_error",
        "This request would exceed the rate limit for your organization of 50 requests "
        "per minute. Please try again later.",
    ),
    500: ("api_error", "Internal server error"),
    503: ("api_error", "Service unavailable"),
    529: ("overloaded_error", "Overloaded"),
}


def error_body(
    dialect: Dialect, status: int, message: str | None = None, code: str | None = None
) -> bytes:
    """The JSON error body the real service sends with ``status``; ``code`` is
    OpenAI's ``error.code`` (Anthropic's errors have none)."""
    if dialect is Dialect.ANTHROPIC:
        default_type = "api_error" if status >= 500 else "invalid_request_error"
        kind, text = _ANTHROPIC_ERRORS.get(status, (default_type, f"HTTP {status}"))
        body: dict[str, Any] = {
            "type": "error",
            "error": {"type": kind, "message": message or text},
            "request_id": new_id("req_"),
        }
    else:
        default_kind = "server_error" if status >= 500 else "invalid_request_error"
        kind, text, usual = _OPENAI_ERRORS.get(status, (default_kind, f"HTTP {status}", None))
        error = {"message": message or text, "type": kind, "param": None, "code": code or usual}
        body = {"error": error}
    return dumps(body).encode()


def html_page(status_line: str = "Network login required") -> bytes:
    """What a captive portal or a misconfigured proxy answers instead of JSON."""
    return (
        "<!DOCTYPE html>\n<html><head><title>Sign in to the network</title></head>\n"
        f"<body><h1>{status_line}</h1><p>This page is not the API you were looking for."
        "</p></body></html>\n"
    ).encode()


# --- models -------------------------------------------------------------------------


def model_info(model: str, anthropic: bool) -> dict[str, Any]:
    """One model as ``GET /v1/models/{id}`` describes it, in either shape."""
    if anthropic:
        return {
            "type": "model",
            "id": model,
            "display_name": model.replace("-", " ").title(),
            "created_at": "2025-01-01T00:00:00Z",
        }
    return {"id": model, "object": "model", "created": 1735689600, "owned_by": "sidestream"}


def models_body(anthropic: bool) -> bytes:
    """``GET /v1/models``: OpenAI's list object, or Anthropic's paged list."""
    data = [model_info(m, anthropic) for m in DEMO_MODELS]
    if anthropic:
        page = {
            "data": data,
            "has_more": False,
            "first_id": data[0]["id"],
            "last_id": data[-1]["id"],
        }
        return dumps(page).encode()
    return dumps({"object": "list", "data": data}).encode()


# --- stream encoders ----------------------------------------------------------------


class StreamEncoder:
    """Frames for one streamed reply; subclasses speak one dialect.

    A reply may reason first (``reasoning``): the preamble then opens the
    reasoning, :meth:`reasoning_delta_at` carries its tokens and
    :meth:`bridge` closes it and opens the answer. A ``refusal`` reply's text
    deltas are the dialect's refusal.
    """

    dialect: Dialect

    def __init__(
        self, model: str, input_tokens: int, *, reasoning: bool = False, refusal: bool = False
    ) -> None:
        self.model = model
        self.input_tokens = input_tokens
        self.reasoning = reasoning
        self.refusal = refusal

    def preamble(self) -> list[bytes]:
        """The events before the first token (reasoning or text)."""
        raise NotImplementedError

    def delta(self, token: str) -> bytes:
        raise NotImplementedError

    def delta_at(self, seq: int, token: str) -> bytes:
        """The text delta that is the reply's event ``seq`` (only Responses numbers them)."""
        return self.delta(token)

    def reasoning_delta_at(self, seq: int, token: str) -> bytes:
        """The reasoning delta that is the reply's event ``seq``."""
        raise NotImplementedError

    def bridge(self, reasoning: str) -> list[bytes]:
        """The events between the reasoning (its whole text given) and the answer."""
        raise NotImplementedError

    def keepalive(self) -> bytes | None:
        """What the real API sends to keep a silent stream alive (None: nothing)."""
        return None

    def skip_to(self, seq: int) -> None:
        """The next event made is the reply's event ``seq`` (only Responses numbers them)."""

    def finish(self, text: str, output_tokens: int, truncated: bool) -> list[bytes]:
        """The closing events of a reply that ended normally (or hit max tokens)."""
        raise NotImplementedError

    def error(self, text: str, output_tokens: int) -> list[bytes]:
        """The dialect's error event(s) that end a failed stream."""
        raise NotImplementedError

    def malformed(self) -> bytes:
        """One event whose data line is not valid JSON."""
        raise NotImplementedError

    def invalid_utf8(self, raw: bytes) -> bytes:
        """One text delta event whose text is the bytes ``raw``, UTF-8 or not."""
        raise NotImplementedError


#: Where Chat Completions servers put the reasoning (the ``reasoning_format`` knob).
CHAT_REASONING_FORMATS = ("reasoning_content", "reasoning", "think")


class ChatEncoder(StreamEncoder):
    dialect = Dialect.CHAT

    def __init__(
        self,
        model: str,
        input_tokens: int,
        include_usage: bool,
        *,
        reasoning: bool = False,
        refusal: bool = False,
        reasoning_format: str = "reasoning_content",
    ) -> None:
        super().__init__(model, input_tokens, reasoning=reasoning, refusal=refusal)
        if reasoning_format not in CHAT_REASONING_FORMATS:
            raise ValueError(f"unknown reasoning format {reasoning_format!r}")
        self.reasoning_format = reasoning_format
        self.id = new_id("chatcmpl-")
        self.created = int(time.time())
        self.include_usage = include_usage
        head = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": model,
            "system_fingerprint": "fp_sidestream_demo",
        }
        self._head = head
        start = dumps(head)[:-1] + ',"choices":[{"index":0,"delta":{'
        suffix = '},"logprobs":null,"finish_reason":null}]'
        suffix += ',"usage":null}' if include_usage else "}"
        field = '"content":null,"refusal":' if refusal else '"content":'
        self._prefix = b"data: " + (start + field).encode()
        self._suffix = suffix.encode() + b"\n\n"
        if reasoning_format == "think":
            self._reasoning_prefix = b"data: " + (start + '"content":').encode()
        else:
            self._reasoning_prefix = (
                b"data: " + (start + f'"content":null,"{reasoning_format}":').encode()
            )

    def _chunk(self, delta: dict[str, Any], finish_reason: str | None) -> bytes:
        body = dict(self._head)
        body["choices"] = [
            {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        ]
        if self.include_usage:
            body["usage"] = None
        return _sse(None, body)

    def preamble(self) -> list[bytes]:
        if self.refusal:
            frames = [self._chunk({"role": "assistant", "content": None, "refusal": ""}, None)]
        else:
            frames = [self._chunk({"role": "assistant", "content": "", "refusal": None}, None)]
        if self.reasoning and self.reasoning_format == "think":
            frames.append(self.delta_as_content("<think>\n"))
        return frames

    def delta_as_content(self, text: str) -> bytes:
        return self._reasoning_prefix + _json_string(text) + self._suffix

    def delta(self, token: str) -> bytes:
        return self._prefix + _json_string(token) + self._suffix

    def reasoning_delta_at(self, seq: int, token: str) -> bytes:
        return self._reasoning_prefix + _json_string(token) + self._suffix

    def bridge(self, reasoning: str) -> list[bytes]:
        if self.reasoning_format == "think":
            return [self.delta_as_content("\n</think>\n\n")]
        return []

    def usage(self, output_tokens: int) -> dict[str, int]:
        return {
            "prompt_tokens": self.input_tokens,
            "completion_tokens": output_tokens,
            "total_tokens": self.input_tokens + output_tokens,
        }

    def finish(self, text: str, output_tokens: int, truncated: bool) -> list[bytes]:
        frames = [self._chunk({}, "length" if truncated else "stop")]
        if self.include_usage:
            body = dict(self._head)
            body["choices"] = []
            body["usage"] = self.usage(output_tokens)
            frames.append(_sse(None, body))
        frames.append(b"data: [DONE]\n\n")
        return frames

    def error(self, text: str, output_tokens: int) -> list[bytes]:
        return [b"data: " + error_body(Dialect.CHAT, 500) + b"\n\n"]

    def malformed(self) -> bytes:
        return self._prefix + b'"this string never ends\n\n'

    def invalid_utf8(self, raw: bytes) -> bytes:
        return self._prefix + _raw_json_string(raw) + self._suffix


@dataclass(slots=True)
class ResponseMeta:
    """What a stored Responses reply is, apart from its events."""

    model: str
    background: bool
    input_tokens: int
    instructions: str | None = None
    max_output_tokens: int | None = None
    id: str = field(default_factory=lambda: new_id("resp_"))
    item_id: str = field(default_factory=lambda: new_id("msg_"))
    created_at: int = field(default_factory=lambda: int(time.time()))
    #: The reply reasons first (a reasoning item with a summary, output 0).
    reasoning: bool = False
    #: The reply is a refusal (a ``refusal`` content part).
    refusal: bool = False
    reasoning_id: str = field(default_factory=lambda: new_id("rs_"))

    @property
    def output_index(self) -> int:
        """Where the message item is in the output."""
        return 1 if self.reasoning else 0


def response_usage(
    input_tokens: int, output_tokens: int, reasoning_tokens: int = 0
) -> dict[str, Any]:
    return {
        "input_tokens": input_tokens,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": output_tokens,
        "output_tokens_details": {"reasoning_tokens": reasoning_tokens},
        "total_tokens": input_tokens + output_tokens,
    }


def _content_part(meta: ResponseMeta, text: str) -> dict[str, Any]:
    if meta.refusal:
        return {"type": "refusal", "refusal": text}
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def _message_item(meta: ResponseMeta, text: str, status: str) -> dict[str, Any]:
    return {
        "id": meta.item_id,
        "type": "message",
        "status": status,
        "role": "assistant",
        "content": [_content_part(meta, text)],
    }


def _reasoning_item(meta: ResponseMeta, reasoning: str) -> dict[str, Any]:
    return {
        "id": meta.reasoning_id,
        "type": "reasoning",
        "summary": [{"type": "summary_text", "text": reasoning}],
    }


def response_object(
    meta: ResponseMeta,
    status: str,
    text: str | None,
    output_tokens: int | None = None,
    error: dict[str, Any] | None = None,
    reasoning: str | None = None,
) -> dict[str, Any]:
    """The ``response`` object of the Responses API, as GET /responses/{id} returns it.

    ``text`` None means no output item yet; ``output_tokens`` None means no
    usage yet; ``reasoning`` is the reasoning summary so far (None: none yet).
    """
    output: list[dict[str, Any]] = []
    if meta.reasoning and reasoning is not None:
        output.append(_reasoning_item(meta, reasoning))
    if text is not None:
        item_status = {
            "completed": "completed",
            "incomplete": "incomplete",
            "cancelled": "incomplete",
            "failed": "incomplete",
        }.get(status, "in_progress")
        output.append(_message_item(meta, text, item_status))
    usage = None
    if output_tokens is not None:
        usage = response_usage(meta.input_tokens, output_tokens)
    return {
        "id": meta.id,
        "object": "response",
        "created_at": meta.created_at,
        "status": status,
        "background": meta.background,
        "error": error,
        "incomplete_details": ({"reason": "max_output_tokens"} if status == "incomplete" else None),
        "instructions": meta.instructions,
        "max_output_tokens": meta.max_output_tokens,
        "model": meta.model,
        "output": output,
        "parallel_tool_calls": True,
        "previous_response_id": None,
        "reasoning": {"effort": None, "summary": "auto" if meta.reasoning else None},
        "store": True,
        "temperature": 1.0,
        "text": {"format": {"type": "text"}},
        "tool_choice": "auto",
        "tools": [],
        "top_p": 1.0,
        "truncation": "disabled",
        "usage": usage,
        "user": None,
        "metadata": {},
    }


RESPONSES_ERROR = {
    "code": "server_error",
    "message": "The server had an error while processing your request. Sorry about that!",
}


class ResponsesEncoder(StreamEncoder):
    """Responses events; the n-th frame made carries ``sequence_number`` n."""

    dialect = Dialect.RESPONSES

    def __init__(self, meta: ResponseMeta) -> None:
        super().__init__(
            meta.model, meta.input_tokens, reasoning=meta.reasoning, refusal=meta.refusal
        )
        self.meta = meta
        self.seq = 0
        self._reasoning_text = ""
        kind = "response.refusal.delta" if meta.refusal else "response.output_text.delta"
        self._prefix = (
            f"event: {kind}\ndata: ".encode()
            + dumps(
                {
                    "type": kind,
                    "item_id": meta.item_id,
                    "output_index": meta.output_index,
                    "content_index": 0,
                }
            )[:-1].encode()
            + b',"delta":'
        )
        self._reasoning_prefix = (
            b"event: response.reasoning_summary_text.delta\ndata: "
            + dumps(
                {
                    "type": "response.reasoning_summary_text.delta",
                    "item_id": meta.reasoning_id,
                    "output_index": 0,
                    "summary_index": 0,
                }
            )[:-1].encode()
            + b',"delta":'
        )

    def _event(self, event: str, body: dict[str, Any]) -> bytes:
        payload = {"type": event, "sequence_number": self.seq, **body}
        self.seq += 1
        return _sse(event, payload)

    def _part(self, text: str) -> dict[str, Any]:
        return _content_part(self.meta, text)

    def _where(self) -> dict[str, Any]:
        return {
            "item_id": self.meta.item_id,
            "output_index": self.meta.output_index,
            "content_index": 0,
        }

    def _reasoning_where(self) -> dict[str, Any]:
        return {"item_id": self.meta.reasoning_id, "output_index": 0, "summary_index": 0}

    def _object(self, status: str, text: str | None, output_tokens: int | None = None) -> Any:
        reasoning = self._reasoning_text if self.meta.reasoning else None
        return response_object(self.meta, status, text, output_tokens, reasoning=reasoning)

    def _open_message(self) -> list[bytes]:
        meta = self.meta
        return [
            self._event(
                "response.output_item.added",
                {
                    "output_index": meta.output_index,
                    "item": {
                        "id": meta.item_id,
                        "type": "message",
                        "status": "in_progress",
                        "role": "assistant",
                        "content": [],
                    },
                },
            ),
            self._event("response.content_part.added", {**self._where(), "part": self._part("")}),
        ]

    def preamble(self) -> list[bytes]:
        meta = self.meta
        first = "queued" if meta.background else "in_progress"
        frames = [
            self._event("response.created", {"response": response_object(meta, first, None)}),
            self._event(
                "response.in_progress", {"response": response_object(meta, "in_progress", None)}
            ),
        ]
        if not meta.reasoning:
            return frames + self._open_message()
        return [
            *frames,
            self._event(
                "response.output_item.added",
                {
                    "output_index": 0,
                    "item": {"id": meta.reasoning_id, "type": "reasoning", "summary": []},
                },
            ),
            self._event(
                "response.reasoning_summary_part.added",
                {**self._reasoning_where(), "part": {"type": "summary_text", "text": ""}},
            ),
        ]

    def delta(self, token: str) -> bytes:
        seq = self.seq
        self.seq = seq + 1
        return self.delta_at(seq, token)

    def delta_at(self, seq: int, token: str) -> bytes:
        return (
            self._prefix
            + _json_string(token)
            + (
                b',"sequence_number":'
                if self.meta.refusal
                else b',"logprobs":[],"sequence_number":'
            )
            + str(seq).encode()
            + b"}\n\n"
        )

    def reasoning_delta_at(self, seq: int, token: str) -> bytes:
        return (
            self._reasoning_prefix
            + _json_string(token)
            + b',"sequence_number":'
            + str(seq).encode()
            + b"}\n\n"
        )

    def bridge(self, reasoning: str) -> list[bytes]:
        self._reasoning_text = reasoning
        where = self._reasoning_where()
        return [
            self._event("response.reasoning_summary_text.done", {**where, "text": reasoning}),
            self._event(
                "response.reasoning_summary_part.done",
                {**where, "part": {"type": "summary_text", "text": reasoning}},
            ),
            self._event(
                "response.output_item.done",
                {"output_index": 0, "item": _reasoning_item(self.meta, reasoning)},
            ),
            *self._open_message(),
        ]

    def skip_to(self, seq: int) -> None:
        self.seq = seq

    def finish(self, text: str, output_tokens: int, truncated: bool) -> list[bytes]:
        meta = self.meta
        status = "incomplete" if truncated else "completed"
        item_status = "incomplete" if truncated else "completed"
        if meta.refusal:
            done = self._event("response.refusal.done", {**self._where(), "refusal": text})
        else:
            done = self._event(
                "response.output_text.done", {**self._where(), "text": text, "logprobs": []}
            )
        return [
            done,
            self._event("response.content_part.done", {**self._where(), "part": self._part(text)}),
            self._event(
                "response.output_item.done",
                {"output_index": meta.output_index, "item": _message_item(meta, text, item_status)},
            ),
            self._event(
                f"response.{status}",
                {"response": self._object(status, text, output_tokens)},
            ),
        ]

    def error(self, text: str, output_tokens: int) -> list[bytes]:
        return [
            self._event("error", {**RESPONSES_ERROR, "param": None}),
            self._event(
                "response.failed",
                {
                    "response": response_object(
                        self.meta,
                        "failed",
                        text,
                        output_tokens,
                        dict(RESPONSES_ERROR),
                        reasoning=self._reasoning_text if self.meta.reasoning else None,
                    )
                },
            ),
        ]

    def malformed(self) -> bytes:
        # Not counted as an event of the response: it carries no sequence number.
        return self._prefix + b'"this string never ends\n\n'

    def invalid_utf8(self, raw: bytes) -> bytes:
        # Like malformed(): no sequence number, so the response's numbering
        # (and a resume's starting_after) is the same with or without it.
        return self._prefix + _raw_json_string(raw) + b',"logprobs":[]}\n\n'


class AnthropicEncoder(StreamEncoder):
    dialect = Dialect.ANTHROPIC

    def __init__(
        self, model: str, input_tokens: int, *, reasoning: bool = False, refusal: bool = False
    ) -> None:
        super().__init__(model, input_tokens, reasoning=reasoning, refusal=refusal)
        self.id = new_id("msg_")
        # With reasoning, the thinking block is block 0 and the text block 1.
        self.text_index = 1 if reasoning else 0
        self._prefix = (
            b'event: content_block_delta\ndata: {"type":"content_block_delta","index":'
            + str(self.text_index).encode()
            + b',"delta":{"type":"text_delta","text":'
        )

    _THINKING_PREFIX = (
        b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
        b'"delta":{"type":"thinking_delta","thinking":'
    )

    def _block_start(self, index: int, block: dict[str, Any]) -> bytes:
        return _sse(
            "content_block_start",
            {"type": "content_block_start", "index": index, "content_block": block},
        )

    def preamble(self) -> list[bytes]:
        message: dict[str, Any] = {
            "id": self.id,
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {
                "input_tokens": self.input_tokens,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0,
                "output_tokens": 1,
            },
        }
        if self.reasoning:
            block = self._block_start(0, {"type": "thinking", "thinking": "", "signature": ""})
        else:
            block = self._block_start(0, {"type": "text", "text": ""})
        return [
            _sse("message_start", {"type": "message_start", "message": message}),
            block,
            _sse("ping", {"type": "ping"}),
        ]

    def keepalive(self) -> bytes:
        return _sse("ping", {"type": "ping"})

    def delta(self, token: str) -> bytes:
        return self._prefix + _json_string(token) + b"}}\n\n"

    def reasoning_delta_at(self, seq: int, token: str) -> bytes:
        return self._THINKING_PREFIX + _json_string(token) + b"}}\n\n"

    def bridge(self, reasoning: str) -> list[bytes]:
        signature = {"type": "signature_delta", "signature": thinking_signature(reasoning)}
        return [
            _sse(
                "content_block_delta",
                {"type": "content_block_delta", "index": 0, "delta": signature},
            ),
            _sse("content_block_stop", {"type": "content_block_stop", "index": 0}),
            self._block_start(1, {"type": "text", "text": ""}),
        ]

    def finish(self, text: str, output_tokens: int, truncated: bool) -> list[bytes]:
        stop_reason = "max_tokens" if truncated else "end_turn"
        if self.refusal:
            stop_reason = "refusal"
        return [
            _sse("content_block_stop", {"type": "content_block_stop", "index": self.text_index}),
            _sse(
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                    "usage": {"output_tokens": output_tokens},
                },
            ),
            _sse("message_stop", {"type": "message_stop"}),
        ]

    def error(self, text: str, output_tokens: int) -> list[bytes]:
        return [
            _sse(
                "error",
                {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
            )
        ]

    def malformed(self) -> bytes:
        return self._prefix + b'"this string never ends\n\n'

    def invalid_utf8(self, raw: bytes) -> bytes:
        return self._prefix + _raw_json_string(raw) + b"}}\n\n"


# --- non-streamed bodies ------------------------------------------------------------


def chat_completion(
    model: str, text: str, input_tokens: int, output_tokens: int, truncated: bool
) -> bytes:
    return dumps(
        {
            "id": new_id("chatcmpl-"),
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "system_fingerprint": "fp_sidestream_demo",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text, "refusal": None},
                    "logprobs": None,
                    "finish_reason": "length" if truncated else "stop",
                }
            ],
            "usage": {
                "prompt_tokens": input_tokens,
                "completion_tokens": output_tokens,
                "total_tokens": input_tokens + output_tokens,
            },
        }
    ).encode()


def anthropic_message(
    model: str, text: str, input_tokens: int, output_tokens: int, truncated: bool
) -> bytes:
    return dumps(
        {
            "id": new_id("msg_"),
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [{"type": "text", "text": text}],
            "stop_reason": "max_tokens" if truncated else "end_turn",
            "stop_sequence": None,
            "usage": {
                "input_tokens": input_tokens,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0,
                "output_tokens": output_tokens,
            },
        }
    ).encode()
