"""Replies from a real local model: llama.cpp's server with Gemma 3 270M on loopback.

The provider is the app's own OpenAI-compatible Chat Completions provider, built
by ``create_provider``; the replies go through the real StreamManager into a
real SQLite store. The server is a process of its own, so a test can freeze it
(SIGSTOP) or kill it (SIGKILL) mid-reply, as a hung or crashed local server
would behave. The model decodes ~28 tokens/s on 2 cores, one request at a
time: the prompts are short and the replies capped.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from desktop.core.models import ChatRequest, ChatTurn, ProviderConfig, ProviderKind
from desktop.core.states import InterruptReason, MessageStatus, Role
from desktop.providers.factory import create_provider
from desktop.store import Store
from desktop.streaming.events import StreamEnded, StreamListener, StreamSnapshot
from desktop.streaming.manager import StreamManager
from tests.support.aio import run, wait_for
from tests.support.llama_server import MODEL_ALIAS, LlamaServer, client_ports
from tests.support.wire_tap import WireTap, sse_data

pytestmark = pytest.mark.localmodel

SHORT_PROMPT = "Say hello in five words."
SHORT_MAX_TOKENS = 40
# Long enough that the reply is still streaming when the test acts on it
# (~7 s at full length); the test acts after its first words.
LONG_PROMPT = "Count from 1 to 100, one number per line."
LONG_MAX_TOKENS = 200
STALL_TIMEOUT = 2.0


@dataclass
class Recorder(StreamListener):
    """A listener of one chat: the text as the manager told it, and how it ended."""

    text: str = ""
    deltas: int = 0
    ended: StreamEnded | None = None
    statuses: list[MessageStatus] = field(default_factory=list)

    def on_stream_started(self, snapshot: StreamSnapshot) -> None:
        self.text = snapshot.text

    def on_stream_delta(self, message_id: int, text: str) -> None:
        self.text += text
        self.deltas += 1

    def on_stream_status(self, snapshot: StreamSnapshot) -> None:
        self.statuses.append(snapshot.status)

    def on_stream_ended(self, ended: StreamEnded) -> None:
        self.ended = ended


@dataclass
class Reply:
    message_id: int
    recorder: Recorder


Act = Callable[[StreamManager, int, Recorder], Awaitable[None]]


def provider_config(base_url: str, read_timeout: float = 30.0) -> ProviderConfig:
    return ProviderConfig(
        kind=ProviderKind.OPENAI_CHAT,
        base_url=base_url,
        default_model=MODEL_ALIAS,
        read_timeout=read_timeout,
    )


def ask(
    store: Store,
    config: ProviderConfig,
    prompt: str,
    max_tokens: int,
    act: Act | None = None,
    timeout: float = 60.0,
) -> Reply:
    """One reply through the real manager into ``store``; ``act`` runs while it streams."""
    session = store.create_session(prompt)
    store.add_message(session.id, Role.USER, prompt)
    message = store.add_message(session.id, Role.ASSISTANT, "", status=MessageStatus.STREAMING)
    request = ChatRequest(
        model=MODEL_ALIAS, turns=(ChatTurn(Role.USER, prompt),), max_tokens=max_tokens
    )
    recorder = Recorder()

    async def scenario() -> None:
        provider = create_provider(config)
        manager = StreamManager(store)
        try:
            manager.attach(session.id, recorder)
            manager.start_reply(session.id, message.id, provider, request)
            if act is not None:
                await act(manager, session.id, recorder)
            await wait_for(lambda: recorder.ended is not None, timeout, "the reply to end")
        finally:
            await manager.shutdown()
            await provider.aclose()

    run(scenario(), timeout=timeout + 30)
    return Reply(message.id, recorder)


async def first_words(recorder: Recorder) -> None:
    await wait_for(lambda: recorder.deltas >= 3, 30, "the reply's first words")


def stored_text_kept(store: Store, reply: Reply, status: MessageStatus) -> str:
    """The stored reply has ``status`` and exactly the text the listeners were told."""
    stored = store.get_message(reply.message_id)
    assert stored is not None
    assert stored.status is status, (stored.status, stored.error, stored.reason)
    assert stored.content, "the partial text was not kept"
    assert stored.content == reply.recorder.text
    ended = reply.recorder.ended
    assert ended is not None and ended.status is status
    assert ended.text == stored.content
    return stored.content


def wire_reply(body: bytes) -> tuple[str, list[dict[str, Any]]]:
    """The text a Chat Completions event stream carries, and its chunks."""
    data = list(sse_data(body))
    assert data and data[-1] == "[DONE]", data[-3:]
    chunks = [json.loads(d) for d in data[:-1]]
    text = "".join(
        choice["delta"].get("content") or ""
        for chunk in chunks
        for choice in chunk.get("choices") or ()
    )
    return text, chunks


def test_a_reply_completes_with_exactly_the_text_the_server_sent(
    llama: LlamaServer, store: Store
) -> None:
    """What is stored is byte for byte what the server sent, read off the wire.

    The server samples at temperature 0.8 unless the request says otherwise,
    and the app's request sets no temperature or seed: the same prompt sent ten
    times here got replies of different lengths. A second request to compare
    with would test luck. Instead a
    TCP relay (``WireTap``) sits between the provider and the server and keeps
    the bytes of this very exchange; they are de-chunked with h11 and read with
    an event-stream reader of the test's own, none of the app's decoding. The
    stored text, the text the manager's listeners were told and the text on the
    wire must be the same non-empty string.
    """
    tap = WireTap(llama.port)
    tap.start()
    try:
        base_url = f"http://127.0.0.1:{tap.port}/v1"
        reply = ask(store, provider_config(base_url), SHORT_PROMPT, SHORT_MAX_TOKENS)
    finally:
        tap.close()

    [exchange] = tap.exchanges()
    assert (exchange.method, exchange.target) == ("POST", "/v1/chat/completions")
    sent = json.loads(exchange.request_body)
    assert sent["stream"] is True and sent["max_tokens"] == SHORT_MAX_TOKENS
    assert sent["messages"] == [{"role": "user", "content": SHORT_PROMPT}]
    assert exchange.status == 200 and exchange.complete
    assert exchange.headers["content-type"].startswith("text/event-stream")
    wire_text, chunks = wire_reply(exchange.body)
    # Gemma with the wrong chat format answers with nothing: a real reply has words.
    assert wire_text.strip(), chunks
    finish = [c["finish_reason"] for chunk in chunks for c in chunk.get("choices") or ()]
    assert finish[-1] in ("stop", "length"), finish

    stored = store.get_message(reply.message_id)
    assert stored is not None
    assert stored.status is MessageStatus.COMPLETE, (stored.error, stored.reason)
    assert stored.content == wire_text
    assert reply.recorder.text == wire_text
    assert reply.recorder.ended is not None and reply.recorder.ended.text == wire_text
    # llama-cpp-python 0.3.36 sends no usage chunk, though the app asks for one
    # (stream_options.include_usage); a later one that does must be believed.
    usage = [chunk["usage"] for chunk in chunks if chunk.get("usage")]
    if usage:
        assert stored.output_tokens == usage[-1]["completion_tokens"]


def test_stop_ends_the_reply_as_stopped_and_closes_the_connection(
    llama: LlamaServer, store: Store
) -> None:
    """Stop mid-reply: ``stopped`` with its text kept, and the connection really closed.

    From both ends, with psutil: the reply's socket in this process is gone,
    and the server closes its side of it (it notices the client left at its
    next token and says so in its log), so it is free for the next request.
    """
    seen: dict[str, Any] = {}

    async def stop_mid_reply(manager: StreamManager, session_id: int, recorder: Recorder) -> None:
        await first_words(recorder)
        [port] = client_ports(llama.port)
        assert llama.connections_from(port) == ["ESTABLISHED"]
        seen["port"] = port
        seen["text_before"] = recorder.text
        assert manager.stop(session_id), "the reply ended before Stop"

    reply = ask(
        store, provider_config(llama.base_url), LONG_PROMPT, LONG_MAX_TOKENS, act=stop_mid_reply
    )
    text = stored_text_kept(store, reply, MessageStatus.STOPPED)
    assert text.startswith(seen["text_before"])
    port = seen["port"]
    assert port not in client_ports(llama.port), "the client kept its connection"
    # llama_cpp.server prints it when the client's close cancels the reply.
    notice = f"Disconnected from client (via refresh/close) Address(host='127.0.0.1', port={port})"
    deadline = time.monotonic() + 10
    while llama.connections_from(port) or notice not in llama.log(None):
        assert time.monotonic() < deadline, (llama.connections_from(port), llama.log())
        time.sleep(0.05)


def test_a_frozen_server_ends_the_reply_as_stalled_with_its_text_kept(
    llama: LlamaServer, store: Store
) -> None:
    """SIGSTOP mid-reply: no byte comes any more, and after the read timeout the
    reply is ``interrupted`` (stalled) with the text that came before."""
    frozen_at: list[float] = []

    async def freeze(manager: StreamManager, session_id: int, recorder: Recorder) -> None:
        await first_words(recorder)
        os.kill(llama.pid, signal.SIGSTOP)
        frozen_at.append(time.monotonic())

    try:
        reply = ask(
            store,
            provider_config(llama.base_url, read_timeout=STALL_TIMEOUT),
            LONG_PROMPT,
            LONG_MAX_TOKENS,
            act=freeze,
        )
        ended_at = time.monotonic()
    finally:
        os.kill(llama.pid, signal.SIGCONT)
    stored_text_kept(store, reply, MessageStatus.INTERRUPTED)
    stored = store.get_message(reply.message_id)
    assert stored is not None and stored.reason == InterruptReason.STALLED.value
    # Bytes already on their way may land just after the stop; none can come later.
    waited = ended_at - frozen_at[0]
    assert STALL_TIMEOUT - 0.5 < waited < STALL_TIMEOUT + 10, waited
    assert llama.alive(), "the server did not survive the freeze"


def test_a_killed_server_ends_the_reply_as_interrupted_with_its_text_kept(
    llama: LlamaServer, store: Store
) -> None:
    """SIGKILL mid-reply: the connection drops, and the reply is ``interrupted``
    (connection lost) with the text that came before. (The next test gets a new
    server from the fixture.)"""

    async def kill(manager: StreamManager, session_id: int, recorder: Recorder) -> None:
        await first_words(recorder)
        os.kill(llama.pid, signal.SIGKILL)

    reply = ask(store, provider_config(llama.base_url), LONG_PROMPT, LONG_MAX_TOKENS, act=kill)
    assert llama.proc is not None and llama.proc.wait(timeout=10) == -signal.SIGKILL
    stored_text_kept(store, reply, MessageStatus.INTERRUPTED)
    stored = store.get_message(reply.message_id)
    assert stored is not None and stored.reason == InterruptReason.CONNECTION_LOST.value
