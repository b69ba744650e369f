"""Network faults and bad input, each beside a healthy stream (issue 6).

Every case starts a healthy reply, then a reply through the demo server with
one fault knob set, both through one StreamManager on a real store. The
faulty reply must end in the right state with a clear message and its text
kept; the healthy one must complete with exactly the demo's text; and
nothing may be left behind: no task in the manager after shutdown, no
listener, no open connection on the server.
"""

from __future__ import annotations

import time
import tracemalloc
from dataclasses import dataclass, field

import pytest

from desktop.core.models import ProviderConfig, ProviderKind
from desktop.core.states import InterruptReason, MessageStatus
from desktop.providers.demo.options import INVALID_UTF8_TEXT
from desktop.providers.demo.replies import big_event_text, demo_reply_tokens
from desktop.providers.demo.server import DemoServer, demo_reply
from desktop.providers.factory import create_provider
from desktop.providers.sse import MAX_EVENT_CHARS
from desktop.store import Store
from desktop.streaming.events import StreamEnded
from desktop.streaming.manager import StreamManager
from tests.reliability.conftest import Figures
from tests.reliability.helpers import (
    SHORT,
    Ended,
    Recorder,
    connections_for,
    make_provider,
    new_reply,
    request,
    text_sent,
)
from tests.support.aio import run, wait_for
from tests.support.raw_server import RawServer, Reply

SCENARIO = "Network faults and bad input"
READ_TIMEOUT = 0.5
FAULT_TOKENS = 40
HEALTHY_TOKENS = 120
MB = 1024 * 1024

CHAT = ProviderKind.OPENAI_CHAT
RESPONSES = ProviderKind.OPENAI_RESPONSES
ANTHROPIC = ProviderKind.ANTHROPIC


@dataclass(frozen=True)
class Fault:
    """One fault and what the reply must end as.

    ``text``: "none" (no reply text), "sent" (exactly what the server sent
    before the fault), "full" (the whole reply: resumed or recovered),
    ``"expected"`` (the ``expected`` function's text).
    """

    name: str
    kind: ProviderKind
    knobs: dict[str, object]
    status: MessageStatus
    words: tuple[str, ...] = ()
    text: str = "none"
    reason: InterruptReason | None = None
    tokens: int = FAULT_TOKENS
    rate: float = 400
    first_token_wait: float = 600.0
    read_timeout: float = READ_TIMEOUT
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.name}-{SHORT[self.kind]}"


def _status_faults() -> list[Fault]:
    words = {
        401: ("rejected the API key", "HTTP 401"),
        403: ("rejected the API key", "HTTP 403"),
        404: ("does not know this model", "HTTP 404"),
        429: ("Rate limited", "HTTP 429", "Retry after 7 s"),
        500: ("server error", "HTTP 500"),
        503: ("overloaded", "HTTP 503", "Retry after 7 s"),
    }
    return [
        Fault(
            f"http-{status}",
            kind,
            {"status": status, "retry_after": 7},
            MessageStatus.FAILED,
            words[status],
        )
        for status in words
        for kind in (CHAT, RESPONSES, ANTHROPIC)
    ]


FAULTS = [
    # A connection reset mid-stream: kept as cut off, or resumed where the dialect can.
    Fault(
        "reset",
        CHAT,
        {"cut_after": 12},
        MessageStatus.INTERRUPTED,
        ("connection to the provider failed", "was cut"),
        text="sent",
        reason=InterruptReason.CONNECTION_LOST,
    ),
    Fault(
        "reset",
        ANTHROPIC,
        {"cut_after": 12},
        MessageStatus.INTERRUPTED,
        ("connection to the provider failed", "was cut"),
        text="sent",
        reason=InterruptReason.CONNECTION_LOST,
    ),
    Fault("reset", RESPONSES, {"cut_after": 12}, MessageStatus.COMPLETE, text="full"),
    # No byte for longer than the read timeout: stalled.
    Fault(
        "stall",
        CHAT,
        {"stall_after": 6},
        MessageStatus.INTERRUPTED,
        ("stopped sending data", f"no data for {READ_TIMEOUT:g} s"),
        text="sent",
        reason=InterruptReason.STALLED,
    ),
    Fault(
        "stall",
        ANTHROPIC,
        {"stall_after": 6},
        MessageStatus.INTERRUPTED,
        ("stopped sending data", f"no data for {READ_TIMEOUT:g} s"),
        text="sent",
        reason=InterruptReason.STALLED,
    ),
    Fault("stall", RESPONSES, {"stall_after": 6}, MessageStatus.COMPLETE, text="full"),
    # One byte every 5 ms with a 0.25 s read timeout: the body takes many read
    # timeouts to arrive, but bytes keep coming, so it is slow, never "stalled".
    Fault(
        "drip",
        ANTHROPIC,
        {"drip": 0.005},
        MessageStatus.COMPLETE,
        text="full",
        tokens=2,
        read_timeout=0.25,
    ),
    # Malformed JSON in an event.
    Fault(
        "malformed-json",
        CHAT,
        {"malformed_after": 5},
        MessageStatus.FAILED,
        ("could not read", "malformed event data"),
        text="sent",
    ),
    Fault(
        "malformed-json",
        ANTHROPIC,
        {"malformed_after": 5},
        MessageStatus.FAILED,
        ("could not read", "malformed event data"),
        text="sent",
    ),
    # Responses: the stream is unreadable, but the stored response can be asked for.
    Fault(
        "malformed-json",
        RESPONSES,
        {"malformed_after": 5, "rate": 0},
        MessageStatus.COMPLETE,
        text="full",
    ),
    # A captive portal's HTML page with 200.
    *[
        Fault(
            "html-200",
            kind,
            {"content_type": "text/html"},
            MessageStatus.FAILED,
            ("could not read", "expected an event stream, got text/html", "Network login"),
        )
        for kind in (CHAT, RESPONSES, ANTHROPIC)
    ],
    *_status_faults(),
    # Bytes that are not UTF-8: replaced by U+FFFD, the reply goes on (see RELIABILITY.md).
    *[
        Fault(
            "invalid-utf8",
            kind,
            {"invalid_utf8_after": 7},
            MessageStatus.COMPLETE,
            text="expected",
        )
        for kind in (CHAT, RESPONSES, ANTHROPIC)
    ],
    # A 10 MB single event.
    *[
        Fault(
            "event-10MB",
            kind,
            {"big_event": 10_000_000, "rate": 0},
            MessageStatus.COMPLETE,
            text="expected",
            read_timeout=10.0,
        )
        for kind in (CHAT, ANTHROPIC)
    ],
    # A 5 MB reply (a 4.9 MB event and 20 000 ordinary tokens), cut in the
    # middle and resumed from its cursor.
    Fault(
        "reply-5MB",
        RESPONSES,
        {"big_event": 4_900_000, "cut_after": 10_000, "rate": 0},
        MessageStatus.COMPLETE,
        text="expected",
        tokens=20_000,
        read_timeout=10.0,
    ),
    # A server that accepts the request and never answers: the first-token
    # wait (here as short as the read timeout; 10 minutes by default) passes.
    *[
        Fault(
            "never-answers",
            kind,
            {"never_answer": 1},
            MessageStatus.FAILED,
            ("The model sent nothing for", "the longest Sidestream waits"),
            first_token_wait=READ_TIMEOUT,
        )
        for kind in (CHAT, RESPONSES, ANTHROPIC)
    ],
]


def expected_text(fault: Fault, prompt: str) -> str:
    reply = demo_reply(prompt, fault.tokens)
    if "invalid_utf8_after" in fault.knobs:
        n = int(str(fault.knobs["invalid_utf8_after"]))
        head = "".join(demo_reply_tokens(prompt, fault.tokens)[:n])
        return head + INVALID_UTF8_TEXT + reply[len(head) :]
    if "big_event" in fault.knobs:
        return big_event_text(int(str(fault.knobs["big_event"]))) + reply
    return reply


@dataclass
class Outcome:
    fault_status: MessageStatus
    seconds: float
    healthy_live_at_fault_start: bool


@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f.id)
def test_fault_beside_a_healthy_stream(
    demo: DemoServer, store: Store, figures: Figures, fault: Fault
) -> None:
    case = figures.case(SCENARIO, f"{fault.id}: {fault.status.value}")
    prompt = f"fault {fault.id}"
    healthy_prompt = f"healthy beside {fault.id}"
    sid, mid = new_reply(store, prompt)
    hsid, hmid = new_reply(store, healthy_prompt)
    knobs = {"tokens": fault.tokens, "rate": fault.rate, **fault.knobs}

    async def scenario() -> Outcome:
        manager = StreamManager(store, resume_backoff=(0.05, 0.1, 0.2))
        ended = Ended(manager)
        healthy_view, fault_view = Recorder(), Recorder()
        manager.attach(hsid, healthy_view)
        manager.attach(sid, fault_view)
        healthy = make_provider(demo, CHAT, rate=300, tokens=HEALTHY_TOKENS)
        faulty = make_provider(
            demo,
            fault.kind,
            read_timeout=fault.read_timeout,
            first_token_wait=fault.first_token_wait,
            **knobs,
        )
        manager.start_reply(hsid, hmid, healthy, request(healthy_prompt))
        await wait_for(lambda: bool(healthy_view.text), 10, "the healthy stream's first text")
        started = time.monotonic()
        live_beside = manager.is_live(hsid)
        manager.start_reply(sid, mid, faulty, request(prompt))
        result = await ended.wait(mid, timeout=30)
        seconds = time.monotonic() - started
        healthy_result = await ended.wait(hmid, timeout=30)
        assert healthy_result.status is MessageStatus.COMPLETE, healthy_result
        # What a view attached throughout saw is what was announced and stored.
        for view, announced in ((healthy_view, healthy_result), (fault_view, result)):
            assert view.final_text == announced.text
            assert announced.text.startswith(view.text), "no delta contradicts the end"
        assert healthy_view.text == healthy_result.text
        manager.detach(hsid, healthy_view)
        manager.detach(sid, fault_view)
        assert manager.live_count() == 0 and manager.listener_count() == 0
        await manager.shutdown()
        assert manager.task_count() == 0, "a task was left behind"
        await healthy.aclose()
        await faulty.aclose()
        return Outcome(result.status, seconds, live_beside)

    outcome = run(scenario(), timeout=90)
    assert demo.wait_until(lambda: demo.open_connections == 0, 3.0), "a connection was left open"

    healthy = store.get_message(hmid)
    assert healthy is not None and healthy.status is MessageStatus.COMPLETE
    assert healthy.content == demo_reply(healthy_prompt, HEALTHY_TOKENS), "the healthy stream"
    assert outcome.healthy_live_at_fault_start, "the two streams ran side by side"

    message = store.get_message(mid)
    assert message is not None
    assert outcome.fault_status is fault.status, (outcome, message.error, message.reason)
    assert message.status is fault.status
    if fault.status in (MessageStatus.FAILED, MessageStatus.INTERRUPTED):
        assert message.error, "a failed or cut reply says why"
        for word in fault.words:
            assert word.lower() in message.error.lower(), (word, message.error)
    else:
        assert message.error is None
    if fault.reason is not None:
        assert message.reason == fault.reason.value
    sent = text_sent(connections_for(demo, prompt))
    if fault.text == "none":
        assert message.content == ""
    elif fault.text == "sent":
        # Exactly the deltas before the fault: all the server sent (it sends
        # nothing after a cut or during a stall, and goes on after a bad line).
        at = next(int(str(v)) for k, v in fault.knobs.items() if k.endswith("_after"))
        head = "".join(demo_reply_tokens(prompt, fault.tokens)[:at])
        assert message.content, "the partial text is kept"
        assert message.content == head
        assert sent.startswith(head)
        if "malformed_after" not in fault.knobs:
            assert message.content == sent
    elif fault.text == "full":
        assert message.content == demo_reply(prompt, fault.tokens)
    else:
        assert message.content == expected_text(fault, prompt)
    if fault.name == "drip":
        # The body took many read timeouts to arrive, and was never judged stalled.
        assert outcome.seconds > 8 * fault.read_timeout, outcome.seconds
    if fault.name == "stall":
        assert outcome.seconds >= fault.read_timeout
    if fault.name == "never-answers":
        assert outcome.seconds >= fault.first_token_wait
    said = f': "{message.error}"' if message.error else ""
    case.detail += f" in {outcome.seconds:.2f} s{said}"
    print(case.detail)


def test_an_endless_line_fails_the_reply_with_bounded_memory(
    demo: DemoServer, store: Store, figures: Figures
) -> None:
    """Issue 13: ``data: {"…content":"`` then 1 MB every 50 ms and no newline.

    Bytes keep coming, so the read timeout never fires: only the size limit
    of one event ends it, with a clear failure, the text before it kept, the
    connection closed at the limit and the memory bounded throughout.
    """
    case = figures.case(SCENARIO, "endless-line-chat: failed")
    healthy_prompt = "healthy beside an endless line"
    sid, mid = new_reply(store, "endless line")
    hsid, hmid = new_reply(store, healthy_prompt)
    first = (
        b'data: {"choices":[{"index":0,"delta":{"content":"kept text"},"finish_reason":null}]}\n\n'
    )
    head = b'data: {"choices":[{"index":0,"delta":{"content":"'
    # At most 15 s (far past the limit); a client that never stops would see it end.
    endless = Reply(chunks=[first, head], repeat=b"y" * MB, pause=0.05, repeat_for=15.0)

    async def scenario(server: RawServer) -> tuple[StreamEnded, StreamEnded, int]:
        manager = StreamManager(store)
        ended = Ended(manager)
        healthy = make_provider(demo, CHAT, rate=300, tokens=HEALTHY_TOKENS)
        faulty = create_provider(
            ProviderConfig(kind=CHAT, base_url=server.base_url, api_key="k", read_timeout=2.0)
        )
        tracemalloc.start()
        try:
            tracemalloc.reset_peak()
            manager.start_reply(hsid, hmid, healthy, request(healthy_prompt))
            manager.start_reply(sid, mid, faulty, request("endless line"))
            result = await ended.wait(mid, timeout=40)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        healthy_result = await ended.wait(hmid, timeout=30)
        await manager.shutdown()
        assert manager.task_count() == 0
        await healthy.aclose()
        await faulty.aclose()
        return result, healthy_result, peak

    started = time.monotonic()
    with RawServer(endless) as server:
        result, healthy_result, peak = run(scenario(server), timeout=60)
        seconds = time.monotonic() - started
        sent = server.body_bytes_sent
        closed = server.wait_client_closed(timeout=5.0)
    assert peak < MAX_EVENT_CHARS + 16 * MB, f"peak {peak / MB:.1f} MB ({sent / MB:.0f} MB sent)"
    assert result.status is MessageStatus.FAILED, result
    message = store.get_message(mid)
    assert message is not None and message.status is MessageStatus.FAILED
    assert message.content == "kept text"
    assert message.error == (
        "The provider sent a reply Sidestream could not read: the provider sent an event "
        "larger than 32 MB, the most Sidestream accepts in one event; reading stopped there"
    )
    assert closed, "the connection was closed at the limit"
    assert healthy_result.status is MessageStatus.COMPLETE
    assert healthy_result.text == demo_reply(healthy_prompt, HEALTHY_TOKENS)
    case.detail += (
        f" in {seconds:.1f} s: {sent / MB:.0f} MB sent, client peak {peak / MB:.1f} MB "
        f'(tracemalloc), connection closed; "{message.error}"'
    )
    print(case.detail)
