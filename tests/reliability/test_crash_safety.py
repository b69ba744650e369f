"""kill -9 during five concurrent streams, over and over on one data folder (issue 6).

Each run starts :mod:`tests.reliability.crash_driver` (the app's services in a
process, exactly as the app builds them, minus the window) on the same data
folder, waits until its five new replies stream, waits a random moment and
kills it with SIGKILL. The demo server runs here, in the test process, so it
outlives every kill and its log says what it sent, and when.

After every kill, on a copy of the folder as the kill left it (database and
write-ahead log; the copy leaves the real folder untouched for the next start):

* the database opens as is (no "damaged, moved aside") and ``PRAGMA
  integrity_check`` says ok; the next start also opens it, takes the data
  folder's lock and reports integrity ok;
* every reply's stored text is a prefix of the text the server generated for
  it (no corruption, no duplicate, no gap), and a finished one is complete;
* nothing older than the flush interval is lost: of the text the killed
  process had been sent, only what the server sent in the last
  ``LOSS_BOUND`` seconds before the kill may be missing (see below);
* on the next start, each reply the kill cut is resumed (Responses: its
  cursor, the response id, is written as soon as it arrives, then with every
  flush) or marked ``interrupted`` with its text exactly as it was on disk
  (Chat Completions, which cannot resume; also a Responses reply killed in
  the millisecond between its first event and the write of its cursor).

A last, clean run lets every resumed reply finish: each Responses reply is
then complete with exactly the demo's text.

The loss bound: the manager writes new text every 250 ms (the flush
interval). A delta the server wrote at time t reaches the driver's loop
within milliseconds, waits at most one interval in memory, and is on disk
(committed to the WAL, which a kill -9 cannot take back: the OS has it) once
that flush's write returns. So everything the server sent before
``t_kill - LOSS_BOUND`` must be on disk, with LOSS_BOUND = the flush interval
+ a margin of 150 ms for loopback delivery, the driver's event loop getting
to the bytes, the flush's own write on the writer thread and the time the
kill takes to land. The worst loss seen is printed with the figures.
"""

from __future__ import annotations

import functools
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from queue import Empty, Queue
from typing import Any, Protocol

from desktop.core.models import ProviderKind
from desktop.core.states import InterruptReason, MessageStatus, Role
from desktop.providers.demo.replies import demo_reply_tokens
from desktop.providers.demo.server import DemoOptions, DemoServer, demo_reply
from desktop.store import DB_FILENAME, Store
from desktop.streaming.manager import DEFAULT_FLUSH_INTERVAL, StreamManager
from tests.reliability.conftest import Figures
from tests.reliability.helpers import connections_for, make_provider, new_reply, request
from tests.support.aio import run, wait_for

SCENARIO = "Crash safety (kill -9)"
RUNS = 30
STREAMS = 5
RESUMABLE_PER_RUN = 3
TOKENS = 150
RATE = 100.0  # tokens/s: a reply streams for 1.5 s
KILL_WINDOW = 1.2  # the kill lands uniformly in [0, KILL_WINDOW] s after the streams are live
MARGIN = 0.15
LOSS_BOUND = DEFAULT_FLUSH_INTERVAL + MARGIN
DEFAULT_SEED = 6_2026
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Reply:
    message_id: int
    session_id: int
    kind: str
    prompt: str
    run: int

    @functools.cached_property
    def full(self) -> str:
        return demo_reply(self.prompt, TOKENS)


@dataclass
class Tally:
    kills: int = 0
    kills_ok: int = 0
    opens: int = 0
    integrity_ok: int = 0
    checked: int = 0  # reply states checked after kills
    cut: int = 0  # replies left live on disk by a kill
    resumed: int = 0
    interrupted_with_text: int = 0
    interrupted_without_cursor: int = 0
    complete_exact: int = 0
    losses: list[float] = field(default_factory=list)  # seconds of sent text not on disk
    lost_tokens: list[int] = field(default_factory=list)
    # Replies a start resumed (must end complete), and the text each reply a
    # start marked interrupted had on disk (must stay exactly that).
    resumed_ids: set[int] = field(default_factory=set)
    interrupted_text: dict[int, str] = field(default_factory=dict)


class Driver:
    """One run of the crash driver; reads its JSON lines on a thread."""

    def __init__(self, data_dir: Path, demo_url: str, args: list[str], log: Path) -> None:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.endswith("_API_KEY") and not k.startswith("SIDESTREAM_")
        }
        env["PYTHONPATH"] = str(ROOT)
        self.started_at = time.monotonic()
        self._stderr = log.open("ab")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.reliability.crash_driver",
                "--data-dir",
                str(data_dir),
                "--demo-url",
                demo_url,
                *args,
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
        )
        self.events: Queue[dict[str, Any]] = Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.events.put(json.loads(line))
        self.events.put({"event": "exit"})

    def until(self, event: str, timeout: float = 30.0) -> list[dict[str, Any]]:
        """Every event up to and including the first ``event``."""
        seen: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while True:
            try:
                item = self.events.get(timeout=max(0.0, deadline - time.monotonic()))
            except Empty:
                raise AssertionError(f"no {event!r} from the driver; got {seen}") from None
            seen.append(item)
            if item["event"] == event:
                return seen
            if item["event"] == "exit":
                raise AssertionError(f"the driver exited before {event!r}: {seen}")

    def kill(self) -> float:
        at = time.monotonic()
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        return at

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self._reader.join(5)
        self._stderr.close()


def one(events: list[dict[str, Any]], name: str) -> dict[str, Any]:
    found = [e for e in events if e["event"] == name]
    assert len(found) == 1, (name, events)
    return found[0]


@dataclass
class Stored:
    status: MessageStatus
    content: str
    cursor: str | None
    reason: str | None


def copy_as_left(data: Path, into: Path) -> Path:
    """The database and its WAL exactly as the kill left them.

    The -shm index is left out: SQLite rebuilds it from the WAL, so the copy
    shows what is durably in the log, not what a dead process had cached.
    """
    if into.exists():
        shutil.rmtree(into)
    into.mkdir(mode=0o700)
    for name in (DB_FILENAME, DB_FILENAME + "-wal"):
        source = data / name
        if source.exists():
            shutil.copy2(source, into / name)
    return into


def token_count(prompt: str, text: str) -> int:
    """How many of the reply's tokens ``text`` holds; it must end on a token boundary."""
    joined = ""
    for count, token in enumerate(demo_reply_tokens(prompt, TOKENS)):
        if joined == text:
            return count
        joined += token
    assert joined == text, "the stored text is not made of whole deltas of the reply"
    return TOKENS


def loss_seconds(demo: DemoServer, reply: Reply, stored_tokens: int, since: float, t_kill: float):
    """How long before the kill the server sent the first delta that is not on disk.

    Only connections of the killed process count (opened after it started):
    a delta an earlier run was sent and lost is sent again by the resume.
    Returns (seconds, tokens sent by the kill but not stored); seconds is
    None when every delta sent to the killed process is on disk.
    """
    first_missing: float | None = None
    sent_by_kill = stored_tokens
    for record in connections_for(demo, reply.prompt):
        if record.opened_at < since:
            continue
        for at, count in record.sent_log:
            absolute = record.first_delta + count
            if at <= t_kill:
                sent_by_kill = max(sent_by_kill, absolute)
            if absolute > stored_tokens and (first_missing is None or at < first_missing):
                first_missing = at
    if first_missing is None or first_missing > t_kill:
        return None, max(0, sent_by_kill - stored_tokens)
    return t_kill - first_missing, sent_by_kill - stored_tokens


def test_kill_9_during_five_streams_loses_nothing_older_than_a_flush(
    tmp_path: Path, figures: Figures
) -> None:
    seed = int(os.environ.get("SIDESTREAM_CRASH_SEED", DEFAULT_SEED))
    rng = random.Random(seed)
    print(f"crash test seed {seed} (set SIDESTREAM_CRASH_SEED to repeat another)")
    data = tmp_path / "data"
    log = tmp_path / "driver.log"
    replies: dict[int, Reply] = {}
    tally = Tally()
    started = time.monotonic()
    # What the previous kill left on disk, for the checks after the next start.
    left_live: dict[int, Stored] = {}

    try:
        with DemoServer(defaults=DemoOptions(rate=RATE, tokens=TOKENS)) as demo:
            for run in range(RUNS + 1):
                settle = run == RUNS
                kinds = ["responses"] * RESUMABLE_PER_RUN + ["chat"] * (STREAMS - RESUMABLE_PER_RUN)
                rng.shuffle(kinds)
                args = ["--settle"] if settle else ["--kinds", ",".join(kinds)]
                args += ["--prompt-prefix", f"crash {seed} run {run}"]
                driver = Driver(data, demo.url, args, log)
                try:
                    events = driver.until("settled" if settle else "live")
                    opened = one(events, "open")
                    tally.opens += 1
                    assert opened["recovered_from_corruption"] is None, opened
                    assert opened["integrity"] == "ok", opened
                    tally.integrity_ok += 1
                    check_recovery(one(events, "recovered"), left_live, replies, tally)
                    if settle:
                        assert driver.proc.wait(30) == 0
                        break
                    for chat in (e for e in events if e["event"] == "chat"):
                        replies[chat["message"]] = Reply(
                            chat["message"], chat["session"], chat["kind"], chat["prompt"], run
                        )
                    # The random moment is the point of the test, not a wait for a condition.
                    time.sleep(rng.uniform(0.0, KILL_WINDOW))
                    t_kill = driver.kill()
                finally:
                    driver.close()
                tally.kills += 1
                assert demo.wait_until(lambda: demo.open_connections == 0, 5.0), (
                    "the server still has connections of the killed process"
                )
                copy = copy_as_left(data, tmp_path / "as-left")
                left_live = inspect_after_kill(
                    copy, demo, replies, driver.started_at, t_kill, tally
                )
                tally.kills_ok += 1

        check_settled(data, replies.values(), tally)
    finally:  # the figures, also of a run that failed part-way
        elapsed = time.monotonic() - started
        worst = max(tally.losses, default=0.0)
        figures.record(
            SCENARIO,
            tally.kills,
            tally.kills_ok,
            f"seed {seed}; {tally.kills} kills of the services process during {STREAMS} streams "
            f"on one data folder, {elapsed:.0f} s",
            f"{tally.integrity_ok}/{tally.opens} starts opened the folder as left (lock free, no "
            f"corruption recovery); integrity_check ok on {tally.integrity_ok} starts and "
            f"{tally.kills_ok} post-kill copies",
            f"{tally.checked} reply states checked after kills: every text a prefix of the "
            f"server's; {tally.cut} replies cut mid-stream",
            f"cut replies on the next start: {tally.resumed} resumed (Responses), "
            f"{tally.interrupted_with_text} interrupted with their text intact (Chat "
            f"Completions), {tally.interrupted_without_cursor} Responses replies interrupted "
            f"for want of a cursor on disk",
            f"{tally.complete_exact} replies complete with exactly the demo's text after the "
            f"final clean start",
            f"text lost by a kill: worst {worst * 1000:.0f} ms of server output, median "
            f"{statistics.median(tally.losses or [0.0]) * 1000:.0f} ms (bound "
            f"{LOSS_BOUND * 1000:.0f} ms = flush {DEFAULT_FLUSH_INTERVAL * 1000:.0f} ms + "
            f"{MARGIN * 1000:.0f} ms); at most {max(tally.lost_tokens, default=0)} tokens at "
            f"{RATE:g} tokens/s",
        )
    assert tally.kills == RUNS and tally.kills_ok == RUNS


def inspect_after_kill(
    copy: Path,
    demo: DemoServer,
    replies: dict[int, Reply],
    since: float,
    t_kill: float,
    tally: Tally,
) -> dict[int, Stored]:
    """Check the folder as the kill left it; return the replies it left live."""
    live: dict[int, Stored] = {}
    with Store.open(copy) as store:
        assert store.recovered_from_corruption is None
        assert store.integrity_check() == "ok"
        for reply in replies.values():
            turns = store.list_messages(reply.session_id)
            assert [t.content for t in turns if t.role is Role.USER] == [reply.prompt]
            message = store.get_message(reply.message_id)
            assert message is not None, f"reply {reply.message_id} vanished"
            tally.checked += 1
            content = message.content
            assert reply.full.startswith(content), (
                f"reply {reply.message_id} is not a prefix of what the server generated"
            )
            stored = Stored(message.status, content, message.cursor, message.reason)
            if message.status is MessageStatus.COMPLETE:
                assert content == reply.full
                continue
            if message.status is MessageStatus.INTERRUPTED:
                assert message.reason == InterruptReason.APP_QUIT.value
                assert content == tally.interrupted_text[reply.message_id], (
                    "recovery kept the text exactly as it was on disk"
                )
                continue
            assert message.status.is_live, message
            live[reply.message_id] = stored
            tally.cut += 1
            tokens = token_count(reply.prompt, content)
            seconds, lost = loss_seconds(demo, reply, tokens, since, t_kill)
            if seconds is not None:
                assert seconds <= LOSS_BOUND, (
                    f"reply {reply.message_id} lost {lost} tokens the server sent "
                    f"{seconds * 1000:.0f} ms before the kill"
                )
                tally.losses.append(seconds)
            tally.lost_tokens.append(lost)
    return live


def check_recovery(
    recovered: dict[str, Any],
    left_live: dict[int, Stored],
    replies: dict[int, Reply],
    tally: Tally,
) -> None:
    """What the start after a kill did with each reply the kill left live."""
    resumed, interrupted = set(recovered["resumed"]), set(recovered["interrupted"])
    assert not recovered["completed"], recovered
    # Replies resumed by an earlier start and cut again are in ``left_live`` too.
    assert resumed | interrupted == set(left_live), (recovered, sorted(left_live))
    for message_id, stored in left_live.items():
        reply = replies[message_id]
        if reply.kind == "responses" and stored.cursor:
            assert message_id in resumed, (message_id, recovered)
            tally.resumed += 1
            tally.resumed_ids.add(message_id)
            continue
        assert message_id in interrupted, (message_id, recovered)
        tally.interrupted_text[message_id] = stored.content
        if stored.cursor is None and reply.kind == "responses":
            tally.interrupted_without_cursor += 1
        else:
            tally.interrupted_with_text += 1


class SettledReply(Protocol):
    @property
    def message_id(self) -> int: ...

    @property
    def full(self) -> str: ...


def check_settled(data: Path, replies: Iterable[SettledReply], tally: Tally) -> None:
    """After the clean last run: every reply in its final state, with its exact text.

    Shared with the kill -9 test of the windowed app.
    """
    with Store.open(data) as store:
        assert store.recovered_from_corruption is None
        assert store.integrity_check() == "ok"
        for reply in replies:
            message = store.get_message(reply.message_id)
            assert message is not None
            if message.status is MessageStatus.COMPLETE:
                assert message.content == reply.full
                tally.complete_exact += 1
                continue
            assert reply.message_id not in tally.resumed_ids, (
                f"resumed reply {reply.message_id} did not complete: {message}"
            )
            assert message.status is MessageStatus.INTERRUPTED, message
            assert message.reason == InterruptReason.APP_QUIT.value
            assert message.content == tally.interrupted_text[reply.message_id]
            assert reply.full.startswith(message.content)


def test_a_resumable_reply_saves_its_cursor_before_the_first_flush_tick(
    demo: DemoServer, store: Store, figures: Figures
) -> None:
    """The first cursor (the response id) is written at once, not at the next tick:
    a crash in a reply's first flush interval must not cost its resumability."""
    case = figures.case(
        "Resumable after a crash", "the response id is on disk before the first flush tick"
    )
    sid, mid = new_reply(store, "cursor first")
    slow_tick = 30.0

    def stored_cursor() -> str | None:
        message = store.get_message(mid)
        assert message is not None
        return message.cursor

    async def scenario() -> float:
        manager = StreamManager(store, flush_interval=slow_tick)
        provider = make_provider(demo, ProviderKind.OPENAI_RESPONSES, rate=20, tokens=200)
        started = time.monotonic()
        manager.start_reply(sid, mid, provider, request("cursor first"))
        await wait_for(lambda: stored_cursor() is not None, 5, "the cursor on disk")
        took = time.monotonic() - started
        await manager.shutdown()
        await provider.aclose()
        return took

    took = run(scenario())
    cursor = stored_cursor()
    assert cursor is not None and cursor.startswith("resp_")
    assert took < 1.0 < slow_tick
    case.detail += f": on disk {took * 1000:.0f} ms after the start (flush tick {slow_tick:g} s)"
