"""The app's providers against llmock, a chaos mock that judges the client (issue 15).

Every dialect the app speaks is pointed at a real ``llmock serve`` on
loopback: Chat Completions, Responses and Anthropic Messages. Batches of
replies go through the real provider, the real StreamManager and a real
SQLite store while llmock breaks them: HTTP errors (400 to 529) and stream
faults (disconnect, truncate, stall, malformed), scripted per reply (each
reply asks for a model of its own and its fault is matched on it), then at
random (``serve --error-rate ... --stream-fault ...``). Then both sides:

* the app's: every reply ended, none left streaming; in the state its fault
  calls for, with a message saying what happened; the text that came kept,
  the same on disk as told to the listeners;
* llmock's: ``llmock report --json``, which judges every call from the
  journal (llmock/verdict.py). A call is one request and its retries: the
  same method, path and body sent again after a failure. Its errors:
  ``retried_non_retryable`` (a 400, 401, 403, 404 or 422 sent again),
  ``retry_after_ignored``, ``retry_storm`` (over 10 attempts) and
  ``truncated_stream_accepted``; its warnings: ``gave_up`` (a 429, 5xx or
  drop never retried), ``malformed_chunk_ignored``, ``no_backoff`` and
  ``no_read_timeout``.

The app must earn none of them but three, which are llmock's guesses from the
wire that the app's side settles (:data:`SETTLED_BY_THE_APP`): a stream cut
short, or one with a malformed chunk, that was its call's last attempt
(llmock cannot see that the app refused it: each such reply must have ended
failed or interrupted, saying why) and ``gave_up`` (the app never sends a
reply's request again by itself, Retry is the user's: each such reply must
have ended saying why). So ``llmock report`` exits 1 whenever a stream was
truncated, and only for that.

Stalls are short: 0.75 s of silence after the first token is a stall, 1.5 s
without one the first-token wait; llmock stalls for 3 s.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from desktop.core.models import ChatRequest, ChatTurn, ProviderConfig, ProviderKind
from desktop.core.states import InterruptReason, MessageStatus, Role
from desktop.providers.base import Provider
from desktop.providers.factory import create_provider
from desktop.store import Store
from desktop.streaming.events import StreamEnded, StreamListener
from desktop.streaming.manager import StreamManager
from tests.integration.providers.llmock_server import LLMockServer, Report, llmock_server
from tests.support.aio import run, wait_for

READ_TIMEOUT = 0.75
FIRST_TOKEN_WAIT = 1.5
STALL = 3.0
# Events before the first token, per dialect: Chat Completions' role chunk;
# Responses' created, in_progress, output_item.added, content_part.added;
# Anthropic's message_start, content_block_start, ping.
FIRST_TOKEN_CHUNK = {
    ProviderKind.OPENAI_CHAT: 1,
    ProviderKind.OPENAI_RESPONSES: 4,
    ProviderKind.ANTHROPIC: 3,
}
# What came before a fault two events after the first token, in every dialect.
PARTIAL = "Hello! You "
WHOLE = "<the whole echo>"  # Expect.text: the whole reply

CUT = "The connection to the provider failed: the connection to {host} was cut"
ENDED_EARLY = (
    "The connection to the provider failed: the stream ended before the reply was complete"
)
STALLED = f"The provider stopped sending data: no data for {READ_TIMEOUT:g} s"
NO_FIRST_TOKEN = (
    f"The model sent nothing for {FIRST_TOKEN_WAIT:g} s, the longest Sidestream waits for "
    "a reply to begin (the first-token wait, in Settings)."
)
MALFORMED = "The provider sent a reply Sidestream could not read: malformed event data: "
# A Responses reply cut short is resumed: llmock has no GET /v1/responses/{id}.
NOT_RESUMED = "; the provider could not resume the reply (HTTP {status})"

# (status, the provider's own message or None, what the user reads)
HTTP_ERRORS: tuple[tuple[int, str | None, str], ...] = (
    (400, None, "The provider rejected the request (HTTP 400): Bad request."),
    (
        400,
        "prompt is too long: 9000 tokens > 8192 maximum",
        "The provider rejected the request (HTTP 400): prompt is too long: "
        "9000 tokens > 8192 maximum",
    ),
    (401, None, "The provider rejected the API key (HTTP 401): Unauthorized."),
    (403, None, "The provider rejected the API key (HTTP 403): Forbidden."),
    (
        404,
        None,
        "The provider does not know this model or endpoint (HTTP 404): Resource not found.",
    ),
    (422, None, "The provider rejected the request (HTTP 422): Unprocessable entity."),
    (429, None, "Rate limited by the provider (HTTP 429): Rate limit exceeded. Retry after 0.5 s."),
    (500, None, "The provider had a server error (HTTP 500): Internal server error."),
    (502, None, "The provider had a server error (HTTP 502): Bad gateway."),
    (503, None, "The provider is overloaded (HTTP 503): Service unavailable. Retry after 1 s."),
    (529, None, "The provider is overloaded (HTTP 529): Service overloaded. Retry after 1 s."),
)

# Findings the app's side settles (see the module docstring); any other fails the test.
SETTLED_BY_THE_APP = frozenset({"truncated_stream_accepted", "malformed_chunk_ignored", "gave_up"})


# --- one reply and what became of it -------------------------------------------------


@dataclass(frozen=True)
class Expect:
    status: MessageStatus
    error: str | None = None
    text: str = ""
    reason: InterruptReason | None = None
    error_is_prefix: bool = False


@dataclass
class Reply:
    """One reply: its dialect, its own model (what llmock matches its fault on) and prompt."""

    name: str
    kind: ProviderKind
    model: str
    prompt: str
    behaviors: tuple[dict[str, Any], ...] = ()
    expect: Expect | None = None
    message_id: int = 0
    ended: StreamEnded | None = None
    cursor: str | None = None

    @property
    def whole(self) -> str:
        """llmock's echo reply to the prompt."""
        return "Hello! You said: " + " ".join(self.prompt.split())[:120]

    @property
    def response_id(self) -> str | None:
        return self.cursor.rpartition(":")[0] if self.cursor else None


@dataclass
class Listener(StreamListener):
    """Of each chat: the text each reply was told in, and how it ended."""

    told: dict[int, str] = field(default_factory=dict)
    ended: dict[int, StreamEnded] = field(default_factory=dict)

    def on_stream_delta(self, message_id: int, text: str) -> None:
        self.told[message_id] = self.told.get(message_id, "") + text

    def on_stream_ended(self, ended: StreamEnded) -> None:
        self.ended[ended.message_id] = ended


def base_url(server: LLMockServer, kind: ProviderKind) -> str:
    return server.url + ("/anthropic" if kind is ProviderKind.ANTHROPIC else "/v1")


def providers_for(server: LLMockServer) -> dict[ProviderKind, Provider]:
    return {
        kind: create_provider(
            ProviderConfig(
                kind=kind,
                base_url=base_url(server, kind),
                api_key="sk-llmock-test-key",
                read_timeout=READ_TIMEOUT,
                first_token_wait=FIRST_TOKEN_WAIT,
            )
        )
        for kind in FIRST_TOKEN_CHUNK
    }


def stream_replies(store: Store, server: LLMockServer, replies: Sequence[Reply]) -> float:
    """The replies, all at once, through the app's real providers and StreamManager
    into ``store``; returns how long they took."""

    async def scenario() -> float:
        providers = providers_for(server)
        manager = StreamManager(store, resume_backoff=(0.05, 0.1))
        manager.set_limit(len(replies))  # all at once, none evicted
        listener = Listener()
        started = time.monotonic()
        try:
            for reply in replies:
                session = store.create_session(reply.name)
                store.add_message(session.id, Role.USER, reply.prompt)
                message = store.add_message(
                    session.id, Role.ASSISTANT, "", status=MessageStatus.STREAMING
                )
                reply.message_id = message.id
                # Deltas are told to a chat's own listeners (a view), not to those of every chat.
                manager.attach(session.id, listener, on_screen=False)
                request = ChatRequest(reply.model, (ChatTurn(Role.USER, reply.prompt),))
                manager.start_reply(session.id, message.id, providers[reply.kind], request)
            await wait_for(lambda: len(listener.ended) == len(replies), 20, "every reply's end")
            took = time.monotonic() - started
        finally:
            await manager.shutdown()
            for provider in providers.values():
                await provider.aclose()
        for reply in replies:
            reply.ended = listener.ended[reply.message_id]
            stored = store.get_message(reply.message_id)
            assert stored is not None
            reply.cursor = stored.cursor
            # What the listeners were told is what is on disk, and what the end says.
            assert (stored.status, stored.content, stored.error, stored.reason) == (
                reply.ended.status,
                reply.ended.text,
                reply.ended.error,
                reply.ended.reason,
            ), reply.name
            assert listener.told.get(reply.message_id, "") == stored.content, reply.name
        return took

    took = run(scenario(), timeout=60)
    live = (MessageStatus.PENDING, MessageStatus.STREAMING, MessageStatus.RESUMING)
    assert store.messages_with_status(live) == [], "a reply was left live"
    return took


def check_ended_as_expected(replies: Sequence[Reply]) -> None:
    wrong = []
    for reply in replies:
        ended, expect = reply.ended, reply.expect
        assert ended is not None and expect is not None
        text = reply.whole if expect.text == WHOLE else expect.text
        error_ok = (
            ended.error is not None and ended.error.startswith(expect.error or "")
            if expect.error_is_prefix
            else ended.error == expect.error
        )
        got = (ended.status, ended.text, ended.reason)
        wanted = (expect.status, text, expect.reason.value if expect.reason else None)
        if got != wanted or not error_ok:
            wrong.append(
                f"{reply.name}: {got} {ended.error!r}\n  expected {wanted} {expect.error!r}"
            )
    assert not wrong, "\n".join(wrong)


# --- llmock's side -----------------------------------------------------------------------


def journal(server: LLMockServer, replies: Sequence[Reply]) -> list[dict[str, Any]]:
    """The journal once every reply's first request is in it (a stall llmock serves
    on after the app hung up ends later, and only then is recorded)."""
    deadline = time.monotonic() + 3 * STALL
    models = {reply.model for reply in replies}
    while True:
        records = server.requests()  # waits up to 2 s for requests in flight
        if models <= {r["model"] for r in records}:
            return records
        assert time.monotonic() < deadline, (
            f"llmock's journal lacks {models - {r['model'] for r in records}}"
        )


def owner_of(replies: Sequence[Reply]) -> Callable[[dict[str, Any]], Reply]:
    """The reply a journal record was a request of: by its model (the reply's own
    request) or by the response it asked about (Responses: resume, status, cancel)."""
    by_model = {reply.model: reply for reply in replies}
    by_response = {reply.response_id: reply for reply in replies if reply.response_id}

    def owner(record: dict[str, Any]) -> Reply:
        if record["model"] in by_model:
            return by_model[record["model"]]
        response_id = record["path"].removeprefix("/v1/responses/").partition("/")[0]
        assert response_id in by_response, f"a request of no reply: {record}"
        return by_response[response_id]

    return owner


def check_verdict(
    server: LLMockServer, replies: Sequence[Reply]
) -> tuple[Report, list[dict[str, Any]]]:
    """``llmock report --json``: nothing but what the app's side settles, and that settled."""
    records = journal(server, replies)
    report = server.report()
    findings = report.findings
    assert report.verdict["calls"] >= len(replies), report.text
    # The point: never a 400, 401, 403, 404 or 422 asked again.
    assert [f for f in findings if f["code"] == "retried_non_retryable"] == [], report.text
    assert [f for f in findings if f["code"] not in SETTLED_BY_THE_APP] == [], report.text
    # llmock exits 1 for errors only, and the only error left is a truncated stream.
    errors = {f["code"] for f in findings if f["severity"] == "error"}
    assert errors <= {"truncated_stream_accepted"}, report.text
    assert report.exit_code == (1 if errors else 0), report.text

    by_seq = {record["seq"]: record for record in records}
    owner = owner_of(replies)
    for finding in findings:
        record = by_seq[finding["requests"][-1]]
        reply = owner(record)
        ended = reply.ended
        assert ended is not None and ended.error, f"{reply.name} ended saying nothing: {finding}"
        assert ended.status is not MessageStatus.COMPLETE, f"{reply.name} accepted: {finding}"
        if finding["code"] == "truncated_stream_accepted":
            assert record["fault"].startswith("stream:truncate"), record
            assert "the stream ended before the reply was complete" in ended.error, reply.name
            assert reply.whole.startswith(ended.text), f"{reply.name}: text never sent"
        elif finding["code"] == "malformed_chunk_ignored":
            assert ended.status is MessageStatus.FAILED, reply.name
            assert "malformed event data" in ended.error, reply.name
    return report, records


# --- scripted: every fault in every dialect --------------------------------------------


def scripted_replies(host: str) -> list[Reply]:
    """Every HTTP error and stream fault, in each dialect, and two healthy replies;
    ``host``: llmock's, as a cut connection names it."""
    replies: list[Reply] = []
    cut = CUT.format(host=host)

    def add(kind: ProviderKind, name: str, expect: Expect, *behaviors: dict[str, Any]) -> None:
        index = len(replies)
        model = f"m{index}-{kind.value}"
        matched = tuple({**b, "match": {"model": model}} for b in behaviors)
        prompt = f"Reply {index} for {kind.value}: {name}, please say something back"
        replies.append(Reply(f"{kind.value}: {name}", kind, model, prompt, matched, expect))

    for kind, first in FIRST_TOKEN_CHUNK.items():
        resumed = kind is ProviderKind.OPENAI_RESPONSES
        tail = NOT_RESUMED.format(status=404) if resumed else ""
        for status, message, error in HTTP_ERRORS:
            fail: dict[str, Any] = {"type": "fail", "status": status}
            if status == 429:
                fail["retry_after"] = 0.5
            if message:
                fail["message"] = message
            add(kind, f"HTTP {status} {message or ''}", Expect(MessageStatus.FAILED, error), fail)

        def fault(kind_: str, after: int, **extra: Any) -> dict[str, Any]:
            return {"type": "stream_fault", "kind": kind_, "after_chunks": after, **extra}

        after_text = first + 2  # two words through, then the fault
        add(
            kind,
            "disconnect after one event (the issue's scenario)",
            Expect(MessageStatus.FAILED, cut + tail),
            fault("disconnect", 1),
        )
        add(
            kind,
            "disconnect after text",
            Expect(MessageStatus.INTERRUPTED, cut + tail, PARTIAL, InterruptReason.CONNECTION_LOST),
            fault("disconnect", after_text),
        )
        add(
            kind,
            "truncated after text",
            Expect(
                MessageStatus.INTERRUPTED,
                ENDED_EARLY + tail,
                PARTIAL,
                InterruptReason.CONNECTION_LOST,
            ),
            fault("truncate", after_text),
        )
        add(
            kind,
            "stall after text",
            Expect(MessageStatus.INTERRUPTED, STALLED + tail, PARTIAL, InterruptReason.STALLED),
            fault("stall", after_text, stall_seconds=STALL),
        )
        add(
            kind,
            "stall before the first token",
            Expect(MessageStatus.FAILED, NO_FIRST_TOKEN),
            fault("stall", first, stall_seconds=STALL),
        )
        add(
            kind,
            "malformed event after text",
            Expect(MessageStatus.FAILED, MALFORMED, PARTIAL, error_is_prefix=True),
            fault("malformed", after_text),
        )
        add(
            kind,
            "slow first token",
            Expect(MessageStatus.COMPLETE, None, WHOLE),
            {"type": "slow_first_token", "seconds": 0.3},
        )
        add(kind, "no fault", Expect(MessageStatus.COMPLETE, None, WHOLE))
    return replies


def test_every_dialect_copes_with_every_scripted_fault(store: Store, llmock: LLMockServer) -> None:
    replies = scripted_replies(llmock.url.removeprefix("http://"))
    for reply in replies:
        if reply.behaviors:
            llmock.script(reply.behaviors)

    took = stream_replies(store, llmock, replies)

    assert llmock.pending() == [], "a scripted fault found no request"
    check_ended_as_expected(replies)
    report, records = check_verdict(llmock, replies)
    codes = Counter(f["code"] for f in report.findings)
    dialects = len(FIRST_TOKEN_CHUNK)
    # One per dialect: the truncated stream and the malformed event.
    assert codes["truncated_stream_accepted"] == dialects, report.text
    assert codes["malformed_chunk_ignored"] == dialects, report.text
    # The requests the app sent besides the replies' own, each answered 404: the
    # resume of each Responses reply cut short (4), and never then the status of
    # the response the server just said it lacks (before: "retried a 404", 4
    # times); the status of the one whose stream became unreadable (the server
    # may hold it whole); the cancel of the one that never began.
    owner = owner_of(replies)
    later = sorted(
        (owner(r).name.partition(": ")[2], r["method"], r["status"])
        for r in records
        if r["model"] is None
    )
    assert later == [
        ("disconnect after one event (the issue's scenario)", "GET", 404),
        ("disconnect after text", "GET", 404),
        ("malformed event after text", "GET", 404),
        ("stall after text", "GET", 404),
        ("stall before the first token", "POST", 404),
        ("truncated after text", "GET", 404),
    ], later
    assert took < 10, f"{len(replies)} replies took {took:.1f} s"


# --- a Responses reply whose resume is refused ----------------------------------------------


@pytest.mark.parametrize(
    ("status", "retry_after", "status_asked"),
    [
        (401, None, False),
        (403, None, False),
        (429, 0.5, False),
        (503, None, False),
        (500, None, True),
    ],
)
def test_a_refused_resume_is_not_followed_by_a_request_the_refusal_rules_out(
    store: Store, llmock: LLMockServer, status: int, retry_after: float | None, status_asked: bool
) -> None:
    """Cut after text, the reply is resumed; the server refuses the resume. After a
    401, 403 (this key may not have it) or a Retry-After (429; 503 has one of 1 s)
    the status is not asked at once (before: it was, and llmock said "retried a
    401", "Retry-After ignored"); after a 500 it is (a different request)."""
    kind = ProviderKind.OPENAI_RESPONSES
    reply = Reply(
        f"resume refused with {status}",
        kind,
        f"m-resume-{status}",
        f"Resume refused with {status}: please say something back",
    )
    refusal: dict[str, Any] = {"type": "fail", "status": status}
    if retry_after is not None:
        refusal["retry_after"] = retry_after
    llmock.script(
        [
            {
                "type": "stream_fault",
                "kind": "disconnect",
                "after_chunks": FIRST_TOKEN_CHUNK[kind] + 2,
                "match": {"model": reply.model},
            },
            {**refusal, "match": {"path": "/v1/responses/resp_*"}},
        ]
    )
    host = llmock.url.removeprefix("http://")
    reply.expect = Expect(
        MessageStatus.INTERRUPTED,
        CUT.format(host=host) + NOT_RESUMED.format(status=status),
        PARTIAL,
        InterruptReason.CONNECTION_LOST,
    )

    stream_replies(store, llmock, [reply])

    check_ended_as_expected([reply])
    report, records = check_verdict(llmock, [reply])
    asked = [(r["method"], r["path"].count("/")) for r in records if r["model"] is None]
    # The resume, then the status (GET /v1/responses/{id}) only where worth asking.
    assert asked == [("GET", 3)] * (2 if status_asked else 1), records
    # The cut POST and a resume refused with a Retry-After were not retried by
    # the app itself: warnings, each reply interrupted saying why.
    gave_up = 1 + (status in (429, 503))
    assert [f["code"] for f in report.findings] == ["gave_up"] * gave_up, report.text


# --- llmock's own random chaos ---------------------------------------------------------------

CHAOS = (
    # 400 and 422 are left to the scripted test: llmock keys a call by method, path
    # and body but not the query, so after a refused resume (GET /responses/{id}
    # ?stream=true&starting_after=N) it would take the status request (GET
    # /responses/{id}), which a 400 about the resume's query leaves worth asking,
    # for a retry of it. The statuses below are judged the same either way.
    *("--error-rate", "401=0.05", "--error-rate", "403=0.05", "--error-rate", "404=0.05"),
    *("--error-rate", "429=0.05", "--error-rate", "500=0.05", "--error-rate", "503=0.05"),
    *("--stream-fault", "disconnect=0.12", "--stream-fault", "truncate=0.12"),
    *("--stream-fault", "stall=0.12", "--stream-fault", "malformed=0.12"),
    *("--stream-stall-seconds", str(STALL)),
)
PER_DIALECT = 14


@pytest.fixture
def chaos_server(tmp_path: Path) -> Iterator[LLMockServer]:
    with llmock_server(tmp_path / "llmock-chaos.log", CHAOS) as server:
        yield server


def ended_as_its_chaos_calls_for(reply: Reply, record: dict[str, Any]) -> bool:
    """Whether ``reply`` ended as what llmock did to its request (``record``) calls for."""
    ended, fault = reply.ended, record["fault"] or ""
    assert ended is not None
    if not fault:
        return ended.status is MessageStatus.COMPLETE and ended.text == reply.whole
    if fault.startswith("chaos:"):  # an HTTP error: failed, saying which
        return (ended.status, ended.text) == (MessageStatus.FAILED, "") and (
            f"(HTTP {record['status']})" in (ended.error or "")
        )
    # A stream fault: never complete; the text that came kept (interrupted), but
    # for a malformed event (failed); and why.
    kept = ended.text != "" and not fault.startswith("stream:malformed")
    if fault.startswith("stream:malformed") and MALFORMED not in (ended.error or ""):
        return False
    return (
        ended.status is (MessageStatus.INTERRUPTED if kept else MessageStatus.FAILED)
        and reply.whole.startswith(ended.text)
        and bool(ended.error)
    )


def test_every_dialect_copes_with_random_chaos(store: Store, chaos_server: LLMockServer) -> None:
    replies = [
        Reply(
            f"{kind.value} {index}",
            kind,
            f"chaos{index}-{kind.value}",
            f"Chaos reply {index} in {kind.value}, please answer in kind",
        )
        for kind in FIRST_TOKEN_CHUNK
        for index in range(PER_DIALECT)
    ]

    took = stream_replies(store, chaos_server, replies)

    # What llmock did to each reply's own request, from its journal.
    owner = owner_of(replies)
    first_request: dict[str, dict[str, Any]] = {}
    for record in journal(chaos_server, replies):
        first_request.setdefault(owner(record).model, record)
    wrong = [
        f"{reply.name} ({first_request[reply.model]['fault'] or 'no fault'}): {reply.ended}"
        for reply in replies
        if not ended_as_its_chaos_calls_for(reply, first_request[reply.model])
    ]
    assert not wrong, "\n".join(wrong)
    report, _ = check_verdict(chaos_server, replies)
    assert report.verdict["faults_injected"] > 0, report.text
    assert took < 10, f"{len(replies)} replies took {took:.1f} s"
