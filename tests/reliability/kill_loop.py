"""The kill -9 loop of the crash tests, and what they check after every kill.

Both crash tests run the same loop on one data folder: start the program (the
services in a process, :mod:`tests.reliability.test_crash_safety`, or the
windowed app, :mod:`tests.reliability.test_crash_safety_app`), wait until its
new replies stream, wait a seeded random moment, send SIGKILL; then check a
copy of the folder as the kill left it (:meth:`KillLoop.inspect`); repeat. A
last, clean start (each test's own) lets the resumed replies end, and
:meth:`KillLoop.check_settled` checks every reply's final state.

The loss bound: the manager writes new text every 250 ms (the flush
interval). A delta the server wrote at time t reaches the killed program's
loop within milliseconds, waits at most one interval in memory, and is on
disk (committed to the WAL, which a kill -9 cannot take back: the OS has it)
once that flush's write returns. So everything the server sent before
``t_kill - LOSS_BOUND`` must be on disk, with LOSS_BOUND = the flush interval
+ a margin of 150 ms for loopback delivery, the program's event loop getting
to the bytes, the flush's own write on the writer thread and the time the
kill takes to land. The demo server runs in the test process, so it outlives
every kill and its log says what it sent, and when.
"""

from __future__ import annotations

import functools
import os
import random
import shutil
import signal
import statistics
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from desktop.core.models import Session
from desktop.core.states import InterruptReason, MessageStatus, Role
from desktop.providers.demo.replies import demo_reply_tokens
from desktop.providers.demo.server import DemoServer, demo_reply
from desktop.store import DB_FILENAME, Store
from desktop.streaming.manager import DEFAULT_FLUSH_INTERVAL
from tests.reliability.conftest import Figures
from tests.reliability.helpers import connections_for

KILL_WINDOW = 1.2  # the kill lands uniformly in [0, KILL_WINDOW] s after the streams are live
MARGIN = 0.15
LOSS_BOUND = DEFAULT_FLUSH_INTERVAL + MARGIN
DEFAULT_SEED = 6_2026


def crash_seed(label: str) -> int:
    """The seed of the kill moments (``$SIDESTREAM_CRASH_SEED`` or the default), said aloud."""
    seed = int(os.environ.get("SIDESTREAM_CRASH_SEED", DEFAULT_SEED))
    print(f"{label} seed {seed} (set SIDESTREAM_CRASH_SEED to repeat another)")
    return seed


@dataclass
class Reply:
    """One reply a run asked for; its ids are learnt from the program or from the disk."""

    prompt: str
    run: int
    tokens: int
    kind: str = "responses"
    session_id: int = 0
    message_id: int = 0

    @functools.cached_property
    def full(self) -> str:
        return demo_reply(self.prompt, self.tokens)


@dataclass
class Stored:
    status: MessageStatus
    content: str
    cursor: str | None
    reason: str | None


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


class Program:
    """A started process the loop kills: the driver of the services, or the app.

    Subclasses start ``proc`` and note ``started_at`` (the program's server
    connections are those opened after it).
    """

    proc: subprocess.Popen[bytes]
    started_at: float

    def kill(self) -> float:
        """SIGKILL the process and reap it; returns the moment of the kill."""
        at = time.monotonic()
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        return at

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


P = TypeVar("P", bound=Program)


@dataclass
class KillLoop:
    """Start, wait for streams, kill at a seeded random moment, inspect a copy; repeat."""

    demo: DemoServer
    data: Path
    scratch: Path  # where the copy of the folder as left goes
    seed: int
    program: str  # what the figures and assertion messages call the killed program
    streams: int  # new replies a run starts
    figures: Figures
    scenario: str
    tally: Tally = field(default_factory=Tally)
    replies: dict[str, Reply] = field(default_factory=dict)  # by prompt
    left_live: dict[int, Stored] = field(default_factory=dict)  # by the last kill
    started: float = field(default_factory=time.monotonic)
    rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def run(
        self,
        runs: int,
        start: Callable[[int], P],
        stream: Callable[[P, int], None],
        settle: Callable[[int], None],
    ) -> None:
        """``runs`` kills, then a clean start and the final check.

        ``start(run)`` starts the program; ``stream(program, run)`` checks what
        the start recovered, adds the run's replies to :attr:`replies` and
        returns once they all stream; ``settle(runs)`` is the clean start, which
        returns once every reply has ended and the program has quit.
        """
        for run in range(runs):
            program = start(run)
            try:
                stream(program, run)
                # The random moment is the point of the test, not a wait for a condition.
                time.sleep(self.rng.uniform(0.0, KILL_WINDOW))
                t_kill = program.kill()
            finally:
                program.close()
            self.tally.kills += 1
            assert self.demo.wait_until(lambda: self.demo.open_connections == 0, 5.0), (
                f"the server still has connections of the killed program, {self.program}"
            )
            copy = copy_as_left(self.data, self.scratch / "as-left")
            self.left_live = self.inspect(copy, program.started_at, t_kill)
            self.tally.kills_ok += 1
        settle(runs)
        self.check_settled()

    def report(
        self,
        *,
        starts: str,
        recovery: str,
        settled: str,
        timing: str = "",
    ) -> None:
        """The loop's figures, in the reliability summary. The test adds to the line of
        what it ran (``timing``) and says how its starts went, what they recovered and
        how the replies ended."""
        tally = self.tally
        elapsed = time.monotonic() - self.started
        worst = max(tally.losses, default=0.0)
        rate = self.demo.defaults.rate
        self.figures.record(
            self.scenario,
            tally.kills,
            tally.kills_ok,
            f"seed {self.seed}; {tally.kills} kills of {self.program} during {self.streams} "
            f"streams on one data folder, {elapsed:.0f} s{timing}",
            starts,
            f"{tally.checked} reply states checked after kills: every text a prefix of the "
            f"server's; {tally.cut} replies cut mid-stream",
            recovery,
            settled,
            f"text lost by a kill: worst {worst * 1000:.0f} ms of server output, median "
            f"{statistics.median(tally.losses or [0.0]) * 1000:.0f} ms (bound "
            f"{LOSS_BOUND * 1000:.0f} ms = flush {DEFAULT_FLUSH_INTERVAL * 1000:.0f} ms + "
            f"{MARGIN * 1000:.0f} ms); at most {max(tally.lost_tokens, default=0)} tokens at "
            f"{rate:g} tokens/s",
        )

    def by_id(self) -> dict[int, Reply]:
        return {r.message_id: r for r in self.replies.values()}

    def inspect(self, copy: Path, since: float, t_kill: float) -> dict[int, Stored]:
        """Check the folder as the kill left it; return the replies it left live.

        ``since``: when the killed program started (its connections are those
        opened after).
        """
        live: dict[int, Stored] = {}
        tally = self.tally
        with Store.open(copy) as store:
            assert store.recovered_from_corruption is None
            assert store.integrity_check() == "ok"
            sessions = {s.title: s for s in store.list_sessions()}
            for reply in self.replies.values():
                find_on_disk(store, sessions, reply)
                message = store.get_message(reply.message_id)
                assert message is not None, f"reply {reply.message_id} vanished"
                tally.checked += 1
                content = message.content
                assert reply.full.startswith(content), (
                    f"reply {reply.message_id} is not a prefix of what the server generated"
                )
                if message.status is MessageStatus.COMPLETE:
                    assert content == reply.full
                    continue
                if message.status is MessageStatus.INTERRUPTED:
                    self._check_interrupted(reply.message_id, message.reason, content)
                    continue
                assert message.status.is_live, message
                live[reply.message_id] = Stored(
                    message.status, content, message.cursor, message.reason
                )
                tally.cut += 1
                tokens = token_count(reply, content)
                seconds, lost = loss_seconds(self.demo, reply.prompt, tokens, since, t_kill)
                if seconds is not None:
                    assert seconds <= LOSS_BOUND, (
                        f"reply {reply.message_id} lost {lost} tokens the server sent "
                        f"{seconds * 1000:.0f} ms before the kill"
                    )
                    tally.losses.append(seconds)
                tally.lost_tokens.append(lost)
        return live

    def _check_interrupted(self, message_id: int, reason: str | None, content: str) -> None:
        """Recovery marks a reply ``interrupted`` only when it cannot resume it, and
        keeps its text exactly as it was on disk."""
        assert reason == InterruptReason.APP_QUIT.value
        known = self.tally.interrupted_text.get(message_id)
        if known is not None:  # interrupted by an earlier start, or as its start reported
            assert content == known, "recovery kept the text exactly as on disk"
            return
        # Only a reply cut before its cursor reached the disk may end so.
        previous = self.left_live.get(message_id)
        assert previous is not None and previous.cursor is None, (message_id, previous)
        assert content == previous.content, "recovery kept the text exactly as on disk"
        self.tally.interrupted_text[message_id] = content
        self.tally.interrupted_without_cursor += 1

    def check_settled(self) -> None:
        """After the clean last run: every reply in its final state, with its exact text."""
        tally = self.tally
        with Store.open(self.data) as store:
            assert store.recovered_from_corruption is None
            assert store.integrity_check() == "ok"
            for reply in self.replies.values():
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


def find_on_disk(store: Store, sessions: dict[str, Session], reply: Reply) -> None:
    """Check the reply's chat on disk: the prompt, then the one reply.

    A reply whose ids the program did not say is found by its chat's title,
    which is its prompt.
    """
    if not reply.session_id:
        session = sessions.get(reply.prompt)
        assert session is not None, f"the chat {reply.prompt!r} is not on disk"
        reply.session_id = session.id
    turns = store.list_messages(reply.session_id)
    assert [t.role for t in turns] == [Role.USER, Role.ASSISTANT], turns
    assert turns[0].content == reply.prompt, turns
    if not reply.message_id:
        reply.message_id = turns[1].id
    assert turns[1].id == reply.message_id, (turns, reply)


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


def token_count(reply: Reply, text: str) -> int:
    """How many of the reply's tokens ``text`` holds; it must end on a token boundary."""
    joined = ""
    for count, token in enumerate(demo_reply_tokens(reply.prompt, reply.tokens)):
        if joined == text:
            return count
        joined += token
    assert joined == text, "the stored text is not made of whole deltas of the reply"
    return reply.tokens


def loss_seconds(
    demo: DemoServer, prompt: str, stored_tokens: int, since: float, t_kill: float
) -> tuple[float | None, int]:
    """How long before the kill the server sent the first delta that is not on disk.

    Only connections of the killed process count (opened after it started):
    a delta an earlier run was sent and lost is sent again by the resume.
    Returns (seconds, tokens sent by the kill but not stored); seconds is
    None when every delta sent to the killed process is on disk.
    """
    first_missing: float | None = None
    sent_by_kill = stored_tokens
    for record in connections_for(demo, prompt):
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
