"""The ViewFeed: at most one budgeted update per frame, pulled from where it left off.

The feed reads a reply's text from the manager at each frame. Here the manager
is a :class:`Replies` stand-in that keeps each reply in a real
:class:`ReplyState` (the manager's own fold) and calls the listener exactly as
the manager does, so that a test controls when text arrives.
"""

from __future__ import annotations

import itertools
import time

from pytestqt.qtbot import QtBot

from desktop.core.events import ReasoningDelta, TextDelta, UsageReport
from desktop.core.states import FinishReason, MessageStatus
from desktop.streaming.accumulate import ReplyState, accumulate
from desktop.streaming.events import (
    MessageUpdate,
    StreamListener,
    StreamProgress,
    StreamSnapshot,
)
from desktop.ui.bridge import FLOOD_FRAME_MS, FRAME_MS, ViewFeed


class Replies:
    """What the feed needs of the StreamManager, over real reply states."""

    def __init__(self) -> None:
        self.listeners: list[StreamListener] = []
        self.on_screen: list[StreamListener] = []
        self.live: dict[int, ReplyState] = {}  # by message id; one chat (session 1)
        self.started_at: dict[int, float] = {}  # when each reply began waiting
        self.reasoned_at: dict[int, float] = {}  # its first reasoning
        self.answered_at: dict[int, float] = {}  # its first text

    # -- the manager's side, as the feed calls it
    def attach(self, session_id: int, listener: StreamListener, *, on_screen: bool) -> object:
        if listener not in self.listeners:
            self.listeners.append(listener)
        if on_screen and listener not in self.on_screen:
            self.on_screen.append(listener)
        elif not on_screen and listener in self.on_screen:
            self.on_screen.remove(listener)
        return self._snapshot(next(reversed(self.live), None))

    def detach(self, session_id: int, listener: StreamListener) -> None:
        for group in (self.listeners, self.on_screen):
            if listener in group:
                group.remove(listener)

    def read_text(self, session_id: int, message_id: int, start: int, limit: int) -> str | None:
        state = self.live.get(message_id)
        return None if state is None else state.text_between(start, start + limit)

    def text_length(self, session_id: int, message_id: int) -> int | None:
        state = self.live.get(message_id)
        return None if state is None else state.length

    def read_reasoning(
        self, session_id: int, message_id: int, start: int, limit: int
    ) -> str | None:
        state = self.live.get(message_id)
        return None if state is None else state.reasoning_between(start, start + limit)

    def snapshots(self, session_id: int) -> tuple[StreamSnapshot, ...]:
        found = (self._snapshot(message_id) for message_id in self.live)
        return tuple(snapshot for snapshot in found if snapshot is not None)

    def progress(self, session_id: int, message_id: int | None = None) -> StreamProgress | None:
        if message_id is None:
            message_id = next(reversed(self.live), None)
        if message_id is None or message_id not in self.live:
            return None
        state = self.live[message_id]
        return StreamProgress(
            message_id,
            state.status,
            state.length,
            state.reasoning_length,
            waiting_since=self._waiting_since(message_id),
            reasoning_started_at=self.reasoned_at.get(message_id),
            reasoning_seconds=self._reasoning_seconds(message_id),
            input_tokens=state.input_tokens,
            output_tokens=state.output_tokens,
        )

    # -- what the test makes happen
    def start(self, message_id: int, text: str = "") -> None:
        self.live[message_id] = ReplyState.starting(text)
        self.started_at[message_id] = time.time()
        snapshot = self._snapshot(message_id)
        assert snapshot is not None
        for listener in list(self.listeners):
            listener.on_stream_started(snapshot)

    def delta(self, message_id: int, text: str) -> None:
        accumulate(self.live[message_id], TextDelta(text))
        self.answered_at.setdefault(message_id, time.time())
        for listener in list(self.listeners):
            listener.on_stream_delta(message_id, text)

    def reason(self, message_id: int, text: str) -> None:
        accumulate(self.live[message_id], ReasoningDelta(text))
        self.reasoned_at.setdefault(message_id, time.time())
        for listener in list(self.listeners):
            listener.on_stream_reasoning(message_id, text)

    def usage(self, message_id: int, input_tokens: int, output_tokens: int) -> None:
        accumulate(self.live[message_id], UsageReport(input_tokens, output_tokens))

    def end(
        self,
        message_id: int,
        status: MessageStatus = MessageStatus.COMPLETE,
        finish: FinishReason | None = None,
    ) -> None:
        state = self.live.pop(message_id)
        snapshot = StreamSnapshot(
            1,
            message_id,
            status,
            state.text(),
            reasoning=state.reasoning(),
            finish=finish,
            input_tokens=state.input_tokens,
            output_tokens=state.output_tokens,
            reasoning_seconds=self._reasoning_seconds(message_id),
        )
        for listener in list(self.listeners):
            listener.on_stream_status(snapshot)

    def _waiting_since(self, message_id: int) -> float | None:
        if message_id in self.reasoned_at or message_id in self.answered_at:
            return None
        return self.started_at[message_id]

    def _reasoning_seconds(self, message_id: int) -> float | None:
        started = self.reasoned_at.get(message_id)
        answered = self.answered_at.get(message_id)
        if started is None or answered is None:
            return None
        return answered - started

    def _snapshot(self, message_id: int | None) -> StreamSnapshot | None:
        if message_id is None:
            return None
        state = self.live[message_id]
        return StreamSnapshot(
            1,
            message_id,
            state.status,
            state.text(),
            reasoning=state.reasoning(),
            waiting_since=self._waiting_since(message_id),
        )


class View:
    """Rebuilds each message from the updates, as ChatView.reconcile does; costs
    ``cost_us`` per character handed over (a 1 MB update at 1 µs: a second)."""

    def __init__(self, feed: ViewFeed, cost_us: float = 0.0) -> None:
        self.texts: dict[int, str] = {}
        self.reasonings: dict[int, str] = {}
        self.updates: list[MessageUpdate] = []
        self.times: list[float] = []
        self.cost_us = cost_us
        feed.updated.connect(self._on_updated)

    def _on_updated(self, update: MessageUpdate) -> None:
        held = self.texts.get(update.message_id, "")
        assert update.offset <= len(held), "a gap in the text"
        self.texts[update.message_id] = held[: update.offset] + update.text
        reasoning = self.reasonings.get(update.message_id, "")
        assert update.reasoning_offset <= len(reasoning), "a gap in the reasoning"
        self.reasonings[update.message_id] = reasoning[: update.reasoning_offset] + update.reasoning
        self.updates.append(update)
        self.times.append(time.monotonic())
        chars = len(update.text) + len(update.reasoning)
        end = time.perf_counter() + chars * self.cost_us / 1_000_000
        while time.perf_counter() < end:
            pass

    def statuses(self) -> list[MessageStatus]:
        return [u.status for u in self.updates if u.status is not None]


def feed_for(replies: Replies) -> ViewFeed:
    return ViewFeed(replies, session_id=1)  # type: ignore[arg-type]


def test_a_burst_of_deltas_is_coalesced_to_one_update_per_frame(qtbot: QtBot) -> None:
    replies = Replies()
    feed = feed_for(replies)
    feed.attach()
    view = View(feed)
    replies.start(7, "so far ")
    sent = "so far "
    deadline = time.monotonic() + 1.0
    i = 0
    while time.monotonic() < deadline:  # ~2,000 tokens/s for one second
        token = f"t{i} "
        sent += token
        replies.delta(7, token)
        i += 1
        qtbot.wait(2 if i % 4 == 0 else 0)  # let Qt run its timers now and then
    qtbot.waitUntil(lambda: view.texts.get(7) == sent, timeout=2000)
    # The throttle never fires early (a precise timer, rounded up): no flake.
    gaps = [b - a for a, b in itertools.pairwise(view.times)]
    assert len(view.updates) <= 1.0 / (FRAME_MS / 1000) + 2
    assert min(gaps) >= FRAME_MS / 1000 * 0.98, min(gaps)
    assert feed.updates == len(view.updates)
    assert view.statuses()[0] is MessageStatus.STREAMING


def test_the_end_arrives_after_all_text_and_nothing_follows_it(qtbot: QtBot) -> None:
    replies = Replies()
    feed = feed_for(replies)
    feed.attach()
    view = View(feed)
    replies.start(7, "a")
    replies.delta(7, "b")
    replies.delta(7, "c")
    replies.end(7)
    last = view.updates[-1]
    assert (last.status, view.texts[7]) == (MessageStatus.COMPLETE, "abc")
    assert [u.status for u in view.updates if u.status is not None and u.status.is_terminal] == [
        MessageStatus.COMPLETE
    ]
    count = len(view.updates)
    qtbot.wait(FRAME_MS * 2)
    assert len(view.updates) == count


def test_a_huge_delta_arrives_over_many_frames_each_within_the_budget(qtbot: QtBot) -> None:
    replies = Replies()
    feed = feed_for(replies)
    feed.attach()  # on screen: a 12 ms budget every frame
    view = View(feed, cost_us=1.0)
    huge = "0123456789" * 50_000  # 500 KB in one event
    replies.start(7, "start ")
    replies.delta(7, huge)
    replies.end(7)
    assert MessageStatus.COMPLETE not in view.statuses()  # not before its text
    qtbot.waitUntil(lambda: MessageStatus.COMPLETE in view.statuses(), timeout=15_000)
    assert view.texts[7] == "start " + huge
    assert view.updates[-1].status is MessageStatus.COMPLETE
    pieces = [len(u.text) for u in view.updates if u.text]
    # 12 ms at 1 µs a character is 12,000 characters a frame once learnt.
    assert len(pieces) >= 20, pieces
    assert max(pieces[2:]) <= 30_000, pieces


def test_text_faster_than_the_view_gets_fewer_fuller_updates_until_the_end(qtbot: QtBot) -> None:
    """A local model at full speed: the view does not take the thread from the
    stream (an update every FLOOD_FRAME_MS), then catches up at the frame pace."""
    replies = Replies()
    feed = feed_for(replies)
    feed.attach()
    view = View(feed, cost_us=1.0)
    replies.start(7)
    block = "x" * 4_000  # 12,000 characters a frame fit the budget: far more arrive
    sent = 0
    deadline = time.monotonic() + 1.2
    while time.monotonic() < deadline:
        replies.delta(7, block)
        sent += len(block)
        qtbot.wait(5)
    ended_at = len(view.times)
    replies.end(7)
    qtbot.waitUntil(lambda: MessageStatus.COMPLETE in view.statuses(), timeout=20_000)
    live_gaps = [b - a for a, b in itertools.pairwise(view.times[1:ended_at])]
    assert live_gaps and min(live_gaps) >= FLOOD_FRAME_MS / 1000 * 0.98, live_gaps
    after = [b - a for a, b in itertools.pairwise(view.times[ended_at:])]
    assert after and max(after) < FLOOD_FRAME_MS / 1000, after
    assert view.texts[7] == "x" * sent


def test_a_return_to_the_screen_goes_on_from_where_the_feed_left_off(qtbot: QtBot) -> None:
    replies = Replies()
    feed = feed_for(replies)
    feed.attach()
    view = View(feed)
    replies.start(7, "x" * 1000)
    qtbot.waitUntil(lambda: len(view.texts.get(7, "")) == 1000, timeout=2000)
    feed.follow_in_background()
    for _ in range(50):
        replies.delta(7, "y" * 100)
    count = len(view.updates)
    assert feed.attach() is True
    qtbot.waitUntil(lambda: len(view.texts[7]) == 6000, timeout=2000)
    # Only what the view lacked, never the 1,000 characters it had.
    assert all(u.offset >= 1000 for u in view.updates[count:])
    assert view.texts[7] == "x" * 1000 + "y" * 5000


def test_off_screen_the_feed_updates_once_a_second_and_on_screen_again_per_frame(
    qtbot: QtBot,
) -> None:
    replies = Replies()
    feed = feed_for(replies)
    assert feed.follow_in_background() is False
    assert len(replies.listeners) == 1 and replies.on_screen == []
    view = View(feed)
    replies.start(7, "a")
    sent = "a"
    deadline = time.monotonic() + 2.5
    while time.monotonic() < deadline:
        sent += "tok "
        replies.delta(7, "tok ")
        qtbot.wait(5)
    qtbot.waitUntil(lambda: view.texts.get(7) == sent, timeout=3000)
    gaps = [b - a for a, b in itertools.pairwise(view.times)]
    assert len(view.updates) <= 4 and min(gaps) >= 0.98, gaps
    # On screen again: frames at the screen pace.
    assert feed.attach() is True
    assert replies.on_screen == [feed]
    count = len(view.updates)
    replies.delta(7, "more")
    qtbot.waitUntil(lambda: len(view.updates) == count + 1, timeout=FRAME_MS * 4)
    feed.detach()
    assert replies.listeners == []


def test_a_new_reply_hands_the_older_one_over_whole_first(qtbot: QtBot) -> None:
    replies = Replies()
    feed = feed_for(replies)
    feed.attach()
    view = View(feed, cost_us=0.1)
    old = "o" * 300_000
    replies.start(7)
    replies.delta(7, old)
    replies.end(7, MessageStatus.STOPPED)
    replies.start(8, "new")
    # Everything of message 7 and its end came before anything of message 8.
    assert view.texts[7] == old and view.updates[-1].status is MessageStatus.STOPPED
    qtbot.waitUntil(lambda: view.texts.get(8) == "new", timeout=2000)
    ids = [u.message_id for u in view.updates]
    assert ids == sorted(ids)


def test_background_updates_wait_for_the_middle_between_two_screen_frames() -> None:
    from desktop.ui import bridge

    saved = bridge._screen_frame[0]
    try:
        now = time.monotonic()
        bridge._screen_frame[0] = now - 1.0  # nothing on screen is updating
        assert bridge._between_screen_frames_ms() == 0
        bridge._screen_frame[0] = now - 0.025  # half-way: go
        assert bridge._between_screen_frames_ms() == 0
        bridge._screen_frame[0] = now - 0.005  # just after a screen update: wait ~20 ms
        assert 15 <= bridge._between_screen_frames_ms() <= 21
        bridge._screen_frame[0] = now - 0.045  # just before the next one: wait ~30 ms
        assert 25 <= bridge._between_screen_frames_ms() <= 31
    finally:
        bridge._screen_frame[0] = saved


# ------------------------------------------------------------------ reasoning


def test_reasoning_is_handed_over_before_the_text_and_with_the_reply_details(
    qtbot: QtBot,
) -> None:
    replies = Replies()
    feed = feed_for(replies)
    feed.attach()
    view = View(feed)
    replies.start(7)
    # Waiting for the first token: the view is told since when.
    qtbot.waitUntil(lambda: bool(view.updates), timeout=2000)
    first = view.updates[0]
    assert first.waiting_since == replies.started_at[7]
    assert first.status is MessageStatus.STREAMING
    replies.reason(7, "Let me think. ")
    replies.reason(7, "Two and two…")
    qtbot.waitUntil(lambda: view.reasonings.get(7) == "Let me think. Two and two…", timeout=2000)
    reasoning_update = next(u for u in view.updates if u.reasoning)
    assert reasoning_update.waiting_since is None  # the first token ended the wait
    assert reasoning_update.reasoning_seconds is None  # still reasoning
    replies.delta(7, "Four.")
    replies.usage(7, 1234, 567)
    qtbot.waitUntil(lambda: view.texts.get(7) == "Four.", timeout=2000)
    answered = next(u for u in view.updates if u.text)
    assert answered.reasoning_seconds is not None and answered.reasoning_seconds >= 0
    replies.end(7, finish=FinishReason.LENGTH)
    last = view.updates[-1]
    assert last.status is MessageStatus.COMPLETE and last.finish is FinishReason.LENGTH
    assert (last.input_tokens, last.output_tokens) == (1234, 567)
    assert view.reasonings[7] == "Let me think. Two and two…"


def test_a_huge_reasoning_arrives_over_many_frames_within_the_budget_text_after_it(
    qtbot: QtBot,
) -> None:
    replies = Replies()
    feed = feed_for(replies)
    feed.attach()
    view = View(feed, cost_us=1.0)
    huge = "thinking " * 50_000  # 450 KB of reasoning in one event
    replies.start(7)
    replies.reason(7, huge)
    replies.delta(7, "The answer.")
    replies.end(7)
    qtbot.waitUntil(lambda: MessageStatus.COMPLETE in view.statuses(), timeout=15_000)
    assert view.reasonings[7] == huge
    assert view.texts[7] == "The answer."
    sizes = [len(u.text) + len(u.reasoning) for u in view.updates]
    # 12 ms at 1 µs a character: about 12,000 characters a frame once learnt,
    # reasoning and text together.
    assert len([s for s in sizes if s]) >= 15, sizes
    assert max(sizes[2:]) <= 30_000, sizes
    # No text before all the reasoning is through.
    first_text = next(i for i, u in enumerate(view.updates) if u.text)
    assert all(not u.reasoning for u in view.updates[first_text + 1 :])
    assert sum(len(u.reasoning) for u in view.updates[: first_text + 1]) == len(huge)


def test_a_return_to_the_screen_goes_on_with_the_reasoning_from_where_it_left_off(
    qtbot: QtBot,
) -> None:
    replies = Replies()
    feed = feed_for(replies)
    feed.attach()
    view = View(feed)
    replies.start(7)
    replies.reason(7, "r" * 1000)
    qtbot.waitUntil(lambda: len(view.reasonings.get(7, "")) == 1000, timeout=2000)
    feed.follow_in_background()
    replies.reason(7, "s" * 500)
    count = len(view.updates)
    feed.attach()
    qtbot.waitUntil(lambda: len(view.reasonings[7]) == 1500, timeout=2000)
    assert all(u.reasoning_offset >= 1000 for u in view.updates[count:])


def test_a_feed_follows_only_the_reply_on_the_branch_its_view_shows(qtbot: QtBot) -> None:
    """Two replies live in one chat (an edit while the first streamed): the
    feed hands over the one its view shows; after a switch it hands over the
    other, from the start, and nothing more of the one it left."""
    replies = Replies()
    shown = {8}
    feed = ViewFeed(replies, session_id=1, shows=shown.__contains__)  # type: ignore[arg-type]
    view = View(feed)
    replies.start(7, "old ")
    feed.attach()
    replies.start(8, "new ")
    replies.delta(7, "branch")
    replies.delta(8, "branch")
    qtbot.waitUntil(lambda: view.texts.get(8) == "new branch", timeout=2000)
    assert 7 not in view.texts
    assert feed.shows(8) and not feed.shows(7)

    # The view switches to the first branch: it dropped reply 8, shows reply 7.
    shown.clear()
    shown.add(7)
    feed.forget(8)
    assert feed.refollow()
    qtbot.waitUntil(lambda: view.texts.get(7) == "old branch", timeout=2000)
    replies.delta(8, " unseen")
    replies.delta(7, " goes on")
    replies.end(8)
    qtbot.waitUntil(lambda: view.texts.get(7) == "old branch goes on", timeout=2000)
    assert view.texts[8] == "new branch"  # nothing of the hidden reply, not even its end
    assert all(u.message_id == 7 for u in view.updates[-2:])

    # Back to the second branch, which ended meanwhile: nothing live is shown.
    shown.clear()
    shown.add(8)
    feed.forget(7)
    assert not feed.refollow()
    replies.end(7)
    count = len(view.updates)
    qtbot.wait(FRAME_MS * 3)
    assert len(view.updates) == count
