"""The ViewFeed: at most one update per frame, on one path for snapshots and deltas."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

from pytestqt.qtbot import QtBot

from desktop.core.states import MessageStatus
from desktop.store import Store
from desktop.streaming.events import StreamSnapshot
from desktop.streaming.manager import StreamManager
from desktop.ui.bridge import FRAME_MS, ViewFeed


def test_a_burst_of_deltas_is_coalesced_to_one_update_per_frame(
    qtbot: QtBot, tmp_path: Path
) -> None:
    store = Store.open(tmp_path)
    feed = ViewFeed(StreamManager(store), session_id=1)
    shown: list[str] = []
    times: list[float] = []
    feed.live.connect(lambda snap: (shown.append(snap.text), times.append(time.monotonic())))
    feed.text_appended.connect(
        lambda _mid, text: (shown.append(text), times.append(time.monotonic()))
    )

    feed.on_stream_started(StreamSnapshot(1, 7, MessageStatus.STREAMING, "so far "))
    sent = "so far "
    deadline = time.monotonic() + 1.0
    i = 0
    while time.monotonic() < deadline:  # ~2,000 tokens/s for one second
        token = f"t{i} "
        sent += token
        feed.on_stream_delta(7, token)
        i += 1
        qtbot.wait(2 if i % 4 == 0 else 0)  # let Qt run its timers now and then
    qtbot.waitUntil(lambda: "".join(shown) == sent, timeout=2000)
    # The throttle never fires early (a precise timer, rounded up): no flake.
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert len(shown) <= 1.0 / (FRAME_MS / 1000) + 2
    assert min(gaps) >= FRAME_MS / 1000 * 0.98, min(gaps)
    assert feed.updates == len(shown)
    store.close()


def test_the_end_arrives_after_all_text_and_carries_the_whole_reply(
    qtbot: QtBot, tmp_path: Path
) -> None:
    store = Store.open(tmp_path)
    feed = ViewFeed(StreamManager(store), session_id=1)
    events: list[tuple[str, str]] = []
    feed.live.connect(lambda snap: events.append(("live", snap.text)))
    feed.text_appended.connect(lambda _mid, text: events.append(("delta", text)))
    feed.status_changed.connect(lambda snap: events.append(("status", snap.status.value)))
    feed.on_stream_started(StreamSnapshot(1, 7, MessageStatus.STREAMING, "a"))
    feed.on_stream_delta(7, "b")
    feed.on_stream_status(StreamSnapshot(1, 7, MessageStatus.COMPLETE, "abc"))
    assert events == [("live", "abc"), ("status", "complete")]
    feed.on_stream_delta(7, "late")  # nothing after the end
    qtbot.wait(FRAME_MS * 2)
    assert events == [("live", "abc"), ("status", "complete")]
    store.close()


class SlowView:
    """A view whose updates cost 1 µs per character (a 1 MB update: one second)."""

    def __init__(self, feed: ViewFeed) -> None:
        self.events: list[tuple[str, str]] = []
        self.held = 0
        feed.live.connect(self._on_live)
        feed.text_appended.connect(self._on_text)
        feed.status_changed.connect(lambda snap: self.events.append(("status", snap.status.value)))

    def _cost(self, chars: int) -> None:
        end = time.perf_counter() + chars / 1_000_000
        while time.perf_counter() < end:
            pass

    def _on_live(self, snapshot: StreamSnapshot) -> None:
        new = snapshot.text[self.held :]
        self._cost(len(new))
        self.held = max(self.held, len(snapshot.text))
        self.events.append(("text", new))

    def _on_text(self, _message_id: int, text: str) -> None:
        self._cost(len(text))
        self.held += len(text)
        self.events.append(("text", text))

    def text(self) -> str:
        return "".join(t for kind, t in self.events if kind == "text")


def test_a_huge_delta_arrives_over_many_frames_each_within_the_budget(
    qtbot: QtBot, tmp_path: Path
) -> None:
    store = Store.open(tmp_path)
    feed = ViewFeed(StreamManager(store), session_id=1)
    feed.attach()  # on screen: a 12 ms budget every 50 ms
    view = SlowView(feed)
    huge = "0123456789" * 50_000  # 500 KB in one event
    feed.on_stream_started(StreamSnapshot(1, 7, MessageStatus.STREAMING, "start "))
    feed.on_stream_delta(7, huge)
    feed.on_stream_status(StreamSnapshot(1, 7, MessageStatus.COMPLETE, "start " + huge))
    assert ("status", "complete") not in view.events  # not before its text
    qtbot.waitUntil(lambda: ("status", "complete") in view.events, timeout=15_000)
    assert view.text() == "start " + huge
    assert view.events[-1] == ("status", "complete")
    pieces = [len(t) for kind, t in view.events if kind == "text"]
    # 12 ms at 1 µs a character is 12,000 characters a frame once learnt.
    assert len(pieces) >= 20, pieces
    assert max(pieces[2:]) <= 30_000, pieces
    store.close()


def test_a_snapshot_only_sends_what_the_view_lacks_then_the_rest(
    qtbot: QtBot, tmp_path: Path
) -> None:
    store = Store.open(tmp_path)
    holder = {"held": 0}
    feed = ViewFeed(StreamManager(store), session_id=1, shown_length=lambda _mid: holder["held"])
    view = SlowView(feed)
    reply = "x" * 200_000
    view.held = holder["held"] = 150_000  # the view kept its document while away
    feed.on_stream_started(StreamSnapshot(1, 7, MessageStatus.STREAMING, reply))
    qtbot.waitUntil(lambda: view.held == len(reply), timeout=10_000)
    first = view.events[0][1]
    assert len(first) <= 20_000  # the first update is the budget, not 200 KB
    assert view.text() == reply[150_000:]
    store.close()


def test_off_screen_the_feed_updates_once_a_second_and_on_screen_again_per_frame(
    qtbot: QtBot, tmp_path: Path
) -> None:
    store = Store.open(tmp_path)
    manager = StreamManager(store)
    feed = ViewFeed(manager, session_id=1)
    assert feed.follow_in_background() is False
    assert manager.listener_count() == 1 and manager.on_screen_count() == 0
    times: list[float] = []
    shown: list[str] = []
    feed.live.connect(lambda snap: (shown.append(snap.text), times.append(time.monotonic())))
    feed.text_appended.connect(lambda _m, t: (shown.append(t), times.append(time.monotonic())))
    feed.on_stream_started(StreamSnapshot(1, 7, MessageStatus.STREAMING, "a"))
    sent = "a"
    deadline = time.monotonic() + 2.5
    while time.monotonic() < deadline:
        sent += "tok "
        feed.on_stream_delta(7, "tok ")
        qtbot.wait(5)
    qtbot.waitUntil(lambda: "".join(shown) == sent, timeout=3000)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert len(shown) <= 4 and min(gaps) >= 0.98, gaps
    # On screen again: frames at the screen pace.
    assert feed.attach() is False
    assert manager.on_screen_count() == 1
    count = len(shown)
    feed.on_stream_delta(7, "more")
    qtbot.waitUntil(lambda: len(shown) == count + 1, timeout=FRAME_MS * 4)
    feed.detach()
    assert manager.listener_count() == 0
    store.close()


def test_a_new_reply_flushes_the_older_ones_backlog_first(qtbot: QtBot, tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    feed = ViewFeed(StreamManager(store), session_id=1)
    view = SlowView(feed)
    messages: list[int] = []
    feed.live.connect(lambda snap: messages.append(snap.message_id))
    feed.text_appended.connect(lambda mid, _t: messages.append(mid))
    old = "o" * 300_000
    feed.on_stream_started(StreamSnapshot(1, 7, MessageStatus.STREAMING, ""))
    feed.on_stream_delta(7, old)
    feed.on_stream_status(StreamSnapshot(1, 7, MessageStatus.STOPPED, old))
    feed.on_stream_started(StreamSnapshot(1, 8, MessageStatus.STREAMING, "new"))
    # Everything of message 7 and its end came before anything of message 8.
    assert view.events[-1] == ("status", "stopped")
    assert "".join(t for k, t in view.events if k == "text") == old
    qtbot.waitUntil(lambda: messages[-1] == 8, timeout=2000)
    assert messages == sorted(messages)
    store.close()


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
