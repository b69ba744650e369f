"""A chat's system prompt and settings on the wire, per dialect.

Each request goes through a real provider to a recording server on loopback;
the tests read the body the server received. Set, each setting lands where
its API names it; unset, it is not sent at all (Anthropic's required
``max_tokens`` apart).
"""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest

from desktop.core.events import Finished, StreamEvent
from desktop.core.models import (
    ChatRequest,
    ChatTurn,
    GenerationParams,
    ProviderConfig,
    ProviderKind,
)
from desktop.core.states import Role
from desktop.providers.anthropic import ANTHROPIC_DEFAULT_MAX_TOKENS
from desktop.providers.openai_chat import OpenAIChatProvider, limit_key_for
from tests.support import collect
from tests.support.aio import run
from tests.support.raw_server import RawServer, RecordedRequest, Reply
from tests.unit.providers.replay import chunks, replay

CHAT = ProviderKind.OPENAI_CHAT
RESPONSES = ProviderKind.OPENAI_RESPONSES
ANTHROPIC = ProviderKind.ANTHROPIC

TURNS = (ChatTurn(Role.USER, "Hi"),)
UNSET = GenerationParams()
SYSTEM = "Answer in French."
EVERYTHING = GenerationParams(
    temperature=0.4,
    top_p=0.9,
    max_output_tokens=300,
    reasoning_effort="high",
    thinking_budget=2048,
)
# Every key any dialect uses for a setting; an unset request sends none of
# them (but Anthropic's required max_tokens).
SETTING_KEYS = {
    "temperature",
    "top_p",
    "max_tokens",
    "max_completion_tokens",
    "max_output_tokens",
    "reasoning_effort",
    "reasoning",
    "thinking",
    "instructions",
    "system",
}


def sent(kind: ProviderKind, request: ChatRequest) -> dict[str, Any]:
    """The body the provider sent for ``request``, after checking the reply was read."""
    got = replay(kind, "normal.sse", request)
    assert isinstance(got.events[-1], Finished), got.events
    body: dict[str, Any] = got.request.json()
    return body


def request(params: GenerationParams = UNSET, **fields: Any) -> ChatRequest:
    return ChatRequest(model="m", turns=TURNS, params=params, **fields)


# --- Chat Completions ---------------------------------------------------------------


def test_chat_sends_the_system_prompt_and_every_setting() -> None:
    body = sent(CHAT, request(EVERYTHING, system=SYSTEM))
    assert body["messages"] == [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": "Hi"},
    ]
    assert body["temperature"] == 0.4
    assert body["top_p"] == 0.9
    assert body["max_tokens"] == 300  # not OpenAI's own host: the compatible name
    assert body["reasoning_effort"] == "high"
    assert not {"max_completion_tokens", "max_output_tokens", "reasoning", "thinking"} & set(body)


def test_chat_sends_no_setting_that_is_unset() -> None:
    body = sent(CHAT, request())
    assert not SETTING_KEYS & set(body), body
    assert [m["role"] for m in body["messages"]] == ["user"]


class _ToLoopback(httpx.AsyncBaseTransport):
    """Sends every request to the recording server, whatever host its URL names
    (the Host header keeps the original)."""

    def __init__(self, port: int) -> None:
        self._port = port
        self._inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        request.url = request.url.copy_with(scheme="http", host="127.0.0.1", port=self._port)
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


def sent_to(base_url: str, chat: ChatRequest) -> RecordedRequest:
    """What an OpenAIChatProvider configured for ``base_url`` puts on the wire."""

    async def main(server: RawServer) -> list[StreamEvent]:
        config = ProviderConfig(CHAT, base_url, api_key="sk-test", read_timeout=5.0)
        async with httpx.AsyncClient(transport=_ToLoopback(server.port)) as client:
            provider = OpenAIChatProvider(config, client=client)
            return await collect(provider.stream(chat))

    with RawServer(Reply(chunks=chunks(CHAT, "normal.sse"))) as server:
        events = run(main(server), timeout=30)
        assert isinstance(events[-1], Finished), events
        return server.last_request


def test_chat_at_openai_names_the_limit_max_completion_tokens() -> None:
    got = sent_to("https://api.openai.com/v1", request(EVERYTHING, system=SYSTEM))
    body = got.json()
    assert got.headers["host"] == "api.openai.com"
    assert body["max_completion_tokens"] == 300
    assert "max_tokens" not in body
    assert body["reasoning_effort"] == "high"
    assert body["messages"][0] == {"role": "system", "content": SYSTEM}


def test_chat_at_openai_sends_the_apps_own_cap_under_the_same_name() -> None:
    body = sent_to("https://api.openai.com/v1", request(max_tokens=64)).json()
    assert body["max_completion_tokens"] == 64
    assert "max_tokens" not in body


@pytest.mark.parametrize(
    ("base_url", "key"),
    [
        ("https://api.openai.com/v1", "max_completion_tokens"),
        ("https://API.OpenAI.com/v1/", "max_completion_tokens"),
        ("https://eu.api.openai.com/v1", "max_completion_tokens"),
        ("http://localhost:11434/v1", "max_tokens"),  # Ollama
        ("http://127.0.0.1:8080/v1", "max_tokens"),  # llama.cpp, vLLM, LM Studio
        ("https://openrouter.ai/api/v1", "max_tokens"),
        ("https://api.groq.com/openai/v1", "max_tokens"),
        ("https://api.openai.com.example.net/v1", "max_tokens"),
        ("https://proxy.example/api.openai.com/v1", "max_tokens"),
        ("http://[::1/v1", "max_tokens"),  # unusable; the request will say so
    ],
)
def test_limit_key_follows_the_host(base_url: str, key: str) -> None:
    assert limit_key_for(base_url) == key


# --- Responses ----------------------------------------------------------------------


def test_responses_sends_the_system_prompt_and_every_setting() -> None:
    body = sent(RESPONSES, request(EVERYTHING, system=SYSTEM))
    assert body["instructions"] == SYSTEM
    assert body["input"] == [{"role": "user", "content": "Hi"}]
    assert body["temperature"] == 0.4
    assert body["top_p"] == 0.9
    assert body["max_output_tokens"] == 300
    assert body["reasoning"] == {"effort": "high"}
    assert not {"max_tokens", "max_completion_tokens", "reasoning_effort", "thinking"} & set(body)
    assert not {"system"} & set(body)


def test_responses_sends_no_setting_that_is_unset() -> None:
    body = sent(RESPONSES, request())
    assert not SETTING_KEYS & set(body), body
    assert body["background"] is True and body["store"] is True  # resumability stays


def test_responses_raises_a_limit_below_the_apis_minimum(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, "sidestream.provider"):
        body = sent(RESPONSES, request(GenerationParams(max_output_tokens=5)))
    assert body["max_output_tokens"] == 16
    assert "minimum" in caplog.text


# --- The chat's limit and the app's cap, every dialect --------------------------------

LIMIT_KEYS = {CHAT: "max_tokens", RESPONSES: "max_output_tokens", ANTHROPIC: "max_tokens"}


@pytest.mark.parametrize("kind", [CHAT, RESPONSES, ANTHROPIC])
def test_the_chats_limit_wins_over_the_apps_cap(kind: ProviderKind) -> None:
    body = sent(kind, request(GenerationParams(max_output_tokens=200), max_tokens=64))
    assert body[LIMIT_KEYS[kind]] == 200


@pytest.mark.parametrize("kind", [CHAT, RESPONSES, ANTHROPIC])
def test_the_apps_cap_applies_when_the_chat_sets_none(kind: ProviderKind) -> None:
    assert sent(kind, request(max_tokens=64))[LIMIT_KEYS[kind]] == 64


# --- Anthropic ----------------------------------------------------------------------


def test_anthropic_sends_the_system_prompt_and_sampling() -> None:
    params = GenerationParams(temperature=0.4, max_output_tokens=300, reasoning_effort="high")
    body = sent(ANTHROPIC, request(params, system=SYSTEM))
    assert body["system"] == SYSTEM
    assert body["messages"] == [{"role": "user", "content": "Hi"}]
    assert body["temperature"] == 0.4
    assert body["max_tokens"] == 300
    # OpenAI's names and its effort have no place here.
    assert not {"max_completion_tokens", "max_output_tokens", "reasoning_effort"} & set(body)
    assert not {"reasoning", "thinking", "instructions", "top_p"} & set(body)


def test_anthropic_sends_top_p() -> None:
    body = sent(ANTHROPIC, request(GenerationParams(top_p=0.8)))
    assert body["top_p"] == 0.8
    assert "temperature" not in body


def test_anthropic_sends_temperature_alone_when_both_are_set(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Claude 4.5 and later refuse the two together.
    with caplog.at_level(logging.INFO, "sidestream.provider"):
        body = sent(ANTHROPIC, request(GenerationParams(temperature=0.3, top_p=0.8)))
    assert body["temperature"] == 0.3
    assert "top_p" not in body
    assert "top_p 0.8 left out" in caplog.text


def test_anthropic_temperature_above_one_is_sent_as_one() -> None:
    body = sent(ANTHROPIC, request(GenerationParams(temperature=1.6)))
    assert body["temperature"] == 1.0


def test_anthropic_sends_only_the_required_max_tokens_when_unset() -> None:
    body = sent(ANTHROPIC, request())
    assert body["max_tokens"] == ANTHROPIC_DEFAULT_MAX_TOKENS
    assert not (SETTING_KEYS - {"max_tokens"}) & set(body), body


def test_anthropic_thinking_with_every_setting(caplog: pytest.LogCaptureFixture) -> None:
    params = GenerationParams(
        temperature=0.4, top_p=0.97, max_output_tokens=6000, thinking_budget=2048
    )
    with caplog.at_level(logging.INFO, "sidestream.provider"):
        body = sent(ANTHROPIC, request(params, system=SYSTEM))
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assert body["max_tokens"] == 6000
    assert body["system"] == SYSTEM
    assert body["top_p"] == 0.97
    assert "temperature" not in body  # the API takes none with thinking on
    assert "temperature 0.4 left out" in caplog.text


def test_anthropic_thinking_without_a_limit_leaves_the_answer_the_default() -> None:
    body = sent(ANTHROPIC, request(GenerationParams(thinking_budget=4096)))
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 4096}
    assert body["max_tokens"] == 4096 + ANTHROPIC_DEFAULT_MAX_TOKENS


def test_anthropic_thinking_raises_a_limit_no_higher_than_the_budget() -> None:
    params = GenerationParams(max_output_tokens=1000, thinking_budget=2048)
    body = sent(ANTHROPIC, request(params))
    assert body["max_tokens"] == 2048 + 1000
    assert body["max_tokens"] > body["thinking"]["budget_tokens"]


def test_anthropic_thinking_raises_a_low_top_p_to_the_least_it_takes() -> None:
    body = sent(ANTHROPIC, request(GenerationParams(top_p=0.5, thinking_budget=2048)))
    assert body["top_p"] == 0.95


def test_anthropic_continue_goes_without_thinking(caplog: pytest.LogCaptureFixture) -> None:
    # A prefill is refused with thinking on; Continue must go on from the text.
    chat = ChatRequest(
        model="m",
        turns=(ChatTurn(Role.USER, "Hi"), ChatTurn(Role.ASSISTANT, "Bonjour, je")),
        continue_partial=True,
        params=GenerationParams(temperature=0.4, max_output_tokens=500, thinking_budget=2048),
    )
    with caplog.at_level(logging.INFO, "sidestream.provider"):
        body = sent(ANTHROPIC, chat)
    assert "thinking" not in body
    assert body["messages"][-1] == {"role": "assistant", "content": "Bonjour, je"}
    assert body["temperature"] == 0.4
    assert body["max_tokens"] == 500
    assert "thinking left out" in caplog.text


# --- The settings themselves ----------------------------------------------------------
# (core's values; here because they exist for these requests)


def test_valid_settings_pass() -> None:
    assert EVERYTHING.validate() is EVERYTHING
    assert GenerationParams().validate().is_unset
    for effort in ("none", "minimal", "low", "medium", "high", "xhigh"):
        GenerationParams(reasoning_effort=effort).validate()
    GenerationParams(temperature=0, top_p=1, max_output_tokens=1).validate()
    GenerationParams(temperature=2.0, top_p=0.0, thinking_budget=1024).validate()


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (GenerationParams(temperature=2.5), "Temperature must be between 0 and 2"),
        (GenerationParams(temperature=-0.1), "Temperature must be between 0 and 2"),
        (GenerationParams(temperature=float("nan")), "Temperature must be between 0 and 2"),
        (GenerationParams(top_p=1.5), "Top-p must be between 0 and 1"),
        (GenerationParams(max_output_tokens=0), "Maximum output tokens must be at least 1"),
        (GenerationParams(reasoning_effort="extreme"), "Reasoning effort must be one of"),
        (GenerationParams(thinking_budget=1000), "Thinking budget must be at least 1024"),
        (GenerationParams(max_output_tokens=True), "must be a whole number"),
        (GenerationParams(temperature="hot"), "must be a number"),  # type: ignore[arg-type]
    ],
)
def test_invalid_settings_are_refused_with_a_message(
    params: GenerationParams, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        params.validate()


def test_settings_round_trip_as_json_and_bad_fields_are_left_unset() -> None:
    assert GenerationParams().to_json() is None
    assert GenerationParams.from_json(EVERYTHING.to_json()) == EVERYTHING
    assert GenerationParams.from_json(None) == GenerationParams()
    assert GenerationParams.from_json("not json") == GenerationParams()
    stored = '{"temperature": 9, "top_p": 0.5, "reasoning_effort": "high", "x": 1}'
    assert GenerationParams.from_json(stored) == GenerationParams(
        top_p=0.5, reasoning_effort="high"
    )
