"""The two waits of a stream: patience until the first token, then the stall watchdog.

Issue 15, defect 2: a model that said nothing for longer than the read
timeout before its first token failed as stalled. Now the first token has
its own, longer wait; bytes before it (pings, comments) neither end nor
extend that wait; after it, no bytes for the read timeout is a stall.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from desktop.core.errors import ErrorKind
from desktop.core.events import Failed, Finished, StreamEvent, TextDelta
from desktop.core.models import ProviderKind
from desktop.providers.factory import create_provider
from desktop.providers.watchdog import Watchdog, describe_seconds
from tests.support.aio import run
from tests.support.raw_server import RawServer, Reply
from tests.unit.providers.replay import REQUEST, config, replay

CHAT = ProviderKind.OPENAI_CHAT
TOKEN = b'data: {"choices":[{"index":0,"delta":{"content":"late"},"finish_reason":null}]}\n\n'
DONE = (
    b'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n',
    b"data: [DONE]\n\n",
)
PING = b": keep-alive\n\n"


def test_a_first_token_after_a_long_silence_is_waited_for() -> None:
    # 0.9 s without a byte after a comment, with a 0.3 s read timeout:
    # stalled, before issue 15.
    timed = replay(
        CHAT,
        [PING, TOKEN + b"".join(DONE)],
        pause=0.9,
        config_overrides={"read_timeout": 0.3, "first_token_wait": 10.0},
    )
    assert timed.events[0] == TextDelta("late")
    assert isinstance(timed.events[-1], Finished)
    assert timed.at[0] >= 0.8


def test_pings_before_the_first_token_do_not_extend_the_wait() -> None:
    started = time.monotonic()
    timed = replay(
        CHAT,
        [PING],
        pause=0.1,
        repeat=PING,
        repeat_for=5.0,
        config_overrides={"read_timeout": 0.3, "first_token_wait": 0.8},
    )
    waited = time.monotonic() - started
    [failed] = timed.events
    assert isinstance(failed, Failed) and failed.error.kind is ErrorKind.NO_FIRST_TOKEN
    assert failed.error.message.startswith("The model sent nothing for 0.8 s")
    assert 0.8 <= waited < 3.0


def test_after_the_first_token_silence_is_a_stall() -> None:
    timed = replay(
        CHAT,
        [TOKEN],
        ending="stall",
        config_overrides={"read_timeout": 0.3, "first_token_wait": 30.0},
    )
    assert timed.events[0] == TextDelta("late")
    failed = timed.events[1]
    assert isinstance(failed, Failed) and failed.error.kind is ErrorKind.STALLED
    assert failed.error.detail == "no data for 0.3 s"
    assert 0.25 <= timed.at[1] - timed.at[0] < 2.0


def test_bytes_after_the_first_token_keep_it_alive() -> None:
    # A ping every 0.1 s for 1 s with a 0.3 s read timeout: never stalled.
    timed = replay(
        CHAT,
        [TOKEN, *[PING] * 10, *DONE],
        pause=0.1,
        config_overrides={"read_timeout": 0.3, "first_token_wait": 30.0},
    )
    assert isinstance(timed.events[-1], Finished)


def test_stop_works_while_waiting_for_the_first_token() -> None:
    async def main(server: RawServer) -> float:
        provider = create_provider(config(CHAT, server, first_token_wait=600.0))
        started = asyncio.Event()

        async def consume() -> list[StreamEvent]:
            started.set()
            return [e async for e in provider.stream(REQUEST)]

        task = asyncio.create_task(consume())
        await started.wait()
        await asyncio.sleep(0.3)
        stopped_at = time.monotonic()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        took = time.monotonic() - stopped_at
        assert await asyncio.to_thread(server.wait_client_closed, 1, 3.0)
        await provider.aclose()
        return took

    with RawServer(Reply(chunks=[PING], ending="stall")) as server:
        assert run(main(server)) < 0.5


def test_the_watchdog_never_swallows_a_cancellation_that_is_not_its_own() -> None:
    async def main() -> None:
        task = asyncio.current_task()
        assert task is not None
        watchdog = Watchdog(first_wait=0.05, stall=0.05)
        try:
            await asyncio.sleep(0.2)  # the watchdog fires and cancels
        except asyncio.CancelledError:
            assert watchdog.claim()
        watchdog.disarm()
        other = Watchdog(first_wait=60.0, stall=60.0)
        asyncio.get_running_loop().call_later(0.05, task.cancel)  # someone's Stop
        with pytest.raises(asyncio.CancelledError):
            try:
                await asyncio.sleep(1.0)
            except asyncio.CancelledError:
                assert not other.claim()
                raise
        other.disarm()
        task.uncancel()

    run(main())


@pytest.mark.parametrize(
    ("seconds", "words"),
    [(600, "10 minutes"), (3600, "1 hour"), (7200, "2 hours"), (90, "90 s"), (0.5, "0.5 s")],
)
def test_waits_are_said_as_a_person_says_them(seconds: float, words: str) -> None:
    assert describe_seconds(seconds) == words


@pytest.mark.parametrize("started", [True, False])
def test_a_resume_past_the_first_token_is_held_to_the_stall_limit(started: bool) -> None:
    async def main(server: RawServer) -> list[StreamEvent]:
        provider = create_provider(
            config(ProviderKind.OPENAI_RESPONSES, server, read_timeout=0.3, first_token_wait=1.5)
        )
        try:
            return [e async for e in provider.resume("resp_1:7", started=started)]
        finally:
            await provider.aclose()

    with RawServer(Reply(chunks=[PING], ending="stall")) as server:
        started_at = time.monotonic()
        [failed] = run(main(server))
        took = time.monotonic() - started_at
    assert isinstance(failed, Failed)
    if started:
        assert failed.error.kind is ErrorKind.STALLED and took < 1.2
    else:
        assert failed.error.kind is ErrorKind.NO_FIRST_TOKEN and took >= 1.5
