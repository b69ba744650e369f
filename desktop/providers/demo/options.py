"""The demo server's knobs: speed, length and the faults it can inject.

Server-wide defaults live in one mutable :class:`DemoOptions`; a request can
override any field with the header ``X-Demo-Options: key=value;key=value``
(e.g. ``rate=0;tokens=20;cut_after=5``). Values are parsed by the field's type:
numbers as numbers, booleans from ``1/0/true/false/yes/no/on/off``, and
``none`` (or an empty value) for "not set" on optional fields; a value holding
``;`` goes in double quotes.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass

__all__ = [
    "INVALID_UTF8",
    "INVALID_UTF8_TEXT",
    "OPTIONS_HEADER",
    "DemoOptions",
    "OptionsError",
    "parse_options_header",
]

OPTIONS_HEADER = "x-demo-options"

#: The text of the ``invalid_utf8_after`` delta as bytes on the wire: "naïve "
#: in Latin-1, where 0xEF followed by "v" is not UTF-8.
INVALID_UTF8 = b"na\xefve "
#: What a client reads from it when it decodes with replacement, as the SSE
#: spec requires (WHATWG "UTF-8 decode"): U+FFFD where the bad byte was.
INVALID_UTF8_TEXT = INVALID_UTF8.decode("utf-8", "replace")


@dataclass(slots=True)
class DemoOptions:
    """How the demo server answers.

    Counts of "deltas" are text deltas (one token each). A knob given as
    ``*_after = N`` fires right after the reply's N-th text delta; ``N = 0``
    fires just before the first one (after the response headers and the
    opening events). Positions count from the start of the reply, also on a
    resumed Responses stream, and each fault fires at most once per reply: a
    stream resumed after a cut is not cut again at the same place.
    """

    #: Tokens per second per stream; 0 sends as fast as the client reads.
    rate: float = 40.0
    #: Reply length in tokens (a request's max_tokens can cut it shorter).
    tokens: int = 300
    #: Seconds between the opening events and the first token (reasoning or text).
    first_token_delay: float = 0.0
    #: While silent before the first token, a keep-alive every this many seconds
    #: where the real API sends one: Anthropic's ``event: ping`` (OpenAI's APIs
    #: send nothing). None: none.
    keepalive: float | None = 15.0
    #: Reason for N tokens before the answer, in the dialect's shape: Anthropic
    #: a signed ``thinking`` block; Responses a reasoning item with a summary;
    #: Chat Completions as ``reasoning_format`` says.
    reasoning: int = 0
    #: Where Chat Completions carries the reasoning: ``reasoning_content``
    #: (DeepSeek, vLLM, llama.cpp), ``reasoning`` (Ollama, OpenRouter) or
    #: ``think`` (``<think>…</think>`` at the start of the content, as older
    #: Ollama builds send it).
    reasoning_format: str = "reasoning_content"
    #: The reply is a refusal, in the dialect's shape: Chat Completions
    #: ``delta.refusal``, Responses a ``refusal`` content part, Anthropic text
    #: ending with ``stop_reason: "refusal"``.
    refusal: bool = False
    #: ``length``: the reply is cut at its token limit (``tokens``) mid-text and
    #: ends with the dialect's length finish (``length``, ``incomplete`` with
    #: ``max_output_tokens``, ``max_tokens``), as a request's max tokens does.
    finish: str | None = None
    #: Close the connection after N text deltas (the body stays unterminated).
    #: For Responses only the connection is cut: generation goes on and a resume
    #: gets the rest.
    cut_after: int | None = None
    #: After N text deltas send nothing for ``stall_seconds`` (None: until the
    #: client closes), then go on with the stream.
    stall_after: int | None = None
    stall_seconds: float | None = None
    #: Send one data line of malformed JSON after N text deltas, then go on.
    malformed_after: int | None = None
    #: After N text deltas send one extra text delta whose data line holds bytes
    #: that are not UTF-8 (:data:`INVALID_UTF8`, Latin-1 text), then go on. A
    #: client decoding as the SSE spec says reads :data:`INVALID_UTF8_TEXT`.
    invalid_utf8_after: int | None = None
    #: Make the reply's first text delta this many bytes of ASCII text
    #: (:func:`~desktop.providers.demo.replies.big_event_text`), sent as one
    #: event; the normal reply follows it.
    big_event: int | None = None
    #: Make the reply one GitHub table of this many body rows and
    #: ``table_columns`` columns (3 if unset), between a sentence before and
    #: after it (:func:`~desktop.providers.demo.replies.table_reply`), in
    #: place of the usual reply; setting either knob makes the table.
    table_rows: int | None = None
    table_columns: int | None = None
    #: Send the dialect's error event after N text deltas and end the stream
    #: (Anthropic ``overloaded_error``, OpenAI ``server_error``).
    error_event_after: int | None = None
    #: Answer every API request with this HTTP status and the dialect's error body.
    status: int | None = None
    #: ``retry-after`` header (seconds) sent with 429, 503 and 529 answers.
    retry_after: float | None = 1.0
    #: Answer 200 with an HTML page served with this content type.
    content_type: str | None = None
    #: Write the response body one byte every ``drip`` seconds.
    drip: float | None = None
    #: Write each event as two HTTP chunks, split inside a multi-byte character
    #: where the event has one.
    chunk_split: bool = False
    #: Read the request, then send nothing (until the client gives up).
    never_answer: bool = False


class OptionsError(ValueError):
    """The ``X-Demo-Options`` header names an unknown knob or a bad value."""


_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})
_NONE = frozenset({"", "none", "null"})


def _field_types() -> dict[str, object]:
    hints = typing.get_type_hints(DemoOptions)
    return {f.name: hints[f.name] for f in dataclasses.fields(DemoOptions)}


_FIELD_TYPES = _field_types()


def _convert(name: str, raw: str) -> object:
    kind = _FIELD_TYPES[name]
    value = raw.strip()
    args = typing.get_args(kind)
    optional = type(None) in args
    if optional:
        if value.lower() in _NONE:
            return None
        kind = next(a for a in args if a is not type(None))
    try:
        if kind is bool:
            lowered = value.lower()
            if lowered in _TRUE:
                return True
            if lowered in _FALSE:
                return False
            raise ValueError(value)
        if kind is int:
            return int(value)
        if kind is float:
            return float(value)
    except ValueError:
        raise OptionsError(f"demo option {name!r}: bad value {raw!r}") from None
    return value


def _split_items(value: str) -> list[str]:
    items: list[str] = []
    current: list[str] = []
    quoted = False
    for char in value:
        if char == '"':
            quoted = not quoted
        elif char == ";" and not quoted:
            items.append("".join(current))
            current = []
        else:
            current.append(char)
    if quoted:
        raise OptionsError("unbalanced quotes in X-Demo-Options")
    items.append("".join(current))
    return [item.strip() for item in items if item.strip()]


def parse_options_header(value: str, base: DemoOptions) -> DemoOptions:
    """``base`` with the fields named in an ``X-Demo-Options`` header replaced.

    Items are separated by ``;``, each ``key=value``; a value holding ``;`` is
    written in double quotes (``content_type="text/html; charset=utf-8"``); a
    bare ``key`` means ``key=true`` for booleans. Raises :class:`OptionsError`.
    """
    changes: dict[str, object] = {}
    for item in _split_items(value):
        key, sep, raw = item.partition("=")
        key = key.strip().replace("-", "_")
        if key not in _FIELD_TYPES:
            raise OptionsError(f"unknown demo option {key!r}")
        if not sep:
            if _FIELD_TYPES[key] is not bool:
                raise OptionsError(f"demo option {key!r} needs a value")
            raw = "true"
        changes[key] = _convert(key, raw)
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]
