"""Test helpers: read a demo stream with plain httpx and split it into SSE events."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

CHAT = "/v1/chat/completions"
RESPONSES = "/v1/responses"
MESSAGES = "/v1/messages"


@dataclass
class Event:
    event: str | None
    data: str

    def json(self) -> Any:
        return json.loads(self.data)


@dataclass
class Streamed:
    status: int
    headers: httpx.Headers
    raw: bytes
    pieces: list[bytes]
    error: Exception | None
    elapsed: float
    first_piece_at: float | None
    events: list[Event] = field(default_factory=list)

    @property
    def text(self) -> str:
        return self.raw.decode("utf-8")


def parse_sse(text: str) -> list[Event]:
    events = []
    for block in text.split("\n\n"):
        if not block.strip():
            continue
        name = None
        data = []
        for line in block.split("\n"):
            if line.startswith("event: "):
                name = line[len("event: ") :]
            elif line.startswith("data: "):
                data.append(line[len("data: ") :])
        events.append(Event(name, "\n".join(data)))
    return events


def stream(
    url: str,
    body: dict[str, Any] | None = None,
    *,
    method: str = "POST",
    options: str | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 5.0,
) -> Streamed:
    """One request read to its end (or its failure) with a fresh httpx client."""
    all_headers = dict(headers or {})
    if options is not None:
        all_headers["X-Demo-Options"] = options
    pieces: list[bytes] = []
    error: Exception | None = None
    status = 0
    got_headers = httpx.Headers()
    first = None
    start = time.monotonic()
    with httpx.Client(timeout=timeout) as client:
        try:
            with client.stream(method, url, json=body, headers=all_headers) as response:
                status = response.status_code
                got_headers = response.headers
                for piece in response.iter_raw():
                    if first is None:
                        first = time.monotonic() - start
                    pieces.append(piece)
        except httpx.HTTPError as exc:
            error = exc
    raw = b"".join(pieces)
    result = Streamed(status, got_headers, raw, pieces, error, time.monotonic() - start, first)
    result.events = parse_sse(raw.decode("utf-8", errors="replace"))
    return result


def chat_body(prompt: str = "hello", **extra: Any) -> dict[str, Any]:
    return {
        "model": "sidestream-demo",
        "messages": [{"role": "user", "content": prompt}],
        "stream": True,
        **extra,
    }


def responses_body(prompt: str = "hello", **extra: Any) -> dict[str, Any]:
    return {"model": "sidestream-demo", "input": prompt, "stream": True, **extra}


def messages_body(prompt: str = "hello", **extra: Any) -> dict[str, Any]:
    return {
        "model": "sidestream-demo",
        "max_tokens": 1024,
        "messages": [{"role": "user", "content": prompt}],
        "stream": True,
        **extra,
    }


def chat_text(events: list[Event]) -> str:
    parts = []
    for event in events:
        if event.data == "[DONE]":
            continue
        for choice in event.json().get("choices", []):
            parts.append(choice["delta"].get("content") or "")
    return "".join(parts)


def responses_text(events: list[Event]) -> str:
    return "".join(e.json()["delta"] for e in events if e.event == "response.output_text.delta")


def messages_text(events: list[Event]) -> str:
    return "".join(e.json()["delta"]["text"] for e in events if e.event == "content_block_delta")
