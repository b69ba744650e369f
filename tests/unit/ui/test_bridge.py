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
