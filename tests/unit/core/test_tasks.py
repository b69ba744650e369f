"""TaskKeeper: tasks are kept until they end, and what they fail with is logged."""

from __future__ import annotations

import asyncio
import gc
import logging
import warnings
import weakref
from typing import Any

import pytest

from desktop.core.tasks import TaskKeeper
from tests.support.aio import run

log = logging.getLogger("sidestream.test.tasks")


class Boom(RuntimeError):
    pass


async def fail() -> None:
    await asyncio.sleep(0)
    raise Boom("it broke")


async def wait_forever() -> None:
    # A future only this coroutine holds: without the keeper nothing would
    # keep the task alive while it waits.
    await asyncio.get_running_loop().create_future()


def loop_reports(loop: asyncio.AbstractEventLoop) -> list[dict[str, Any]]:
    reports: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, context: reports.append(context))
    return reports


def test_a_task_is_kept_until_it_ends() -> None:
    async def scenario() -> None:
        reports = loop_reports(asyncio.get_running_loop())
        keeper = TaskKeeper(log)
        keeper.spawn(wait_forever())
        gc.collect()
        await asyncio.sleep(0.01)
        (task,) = keeper.pending()
        assert not task.done()
        await keeper.cancel_and_wait()
        assert task.cancelled() and keeper.pending() == []
        assert reports == []  # nothing was destroyed while pending

    run(scenario())


def test_a_result_is_the_task_s_and_the_task_is_let_go() -> None:
    async def answer() -> int:
        return 42

    async def scenario() -> None:
        keeper = TaskKeeper(log)
        task = keeper.spawn(answer())
        assert keeper.pending() == [task]
        assert await task == 42
        assert keeper.pending() == []
        ended = weakref.ref(task)
        del task
        await asyncio.sleep(0)  # the loop drops the handles that ran the done callbacks
        gc.collect()
        assert ended() is None  # the keeper let go of it

    run(scenario())


def test_an_exception_is_logged_with_its_traceback_and_handed_to_the_callback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    seen: list[BaseException] = []

    async def scenario() -> None:
        reports = loop_reports(asyncio.get_running_loop())
        keeper = TaskKeeper(log, on_error=seen.append)
        task = keeper.spawn(fail(), name="the failing one")
        await asyncio.wait([task])
        await asyncio.sleep(0)  # done callbacks run on the next turn
        del task
        gc.collect()
        assert reports == []  # retrieved: no "Task exception was never retrieved"

    with caplog.at_level(logging.ERROR, logger=log.name):
        run(scenario())
    assert [type(exc) for exc in seen] == [Boom]
    (record,) = [r for r in caplog.records if r.name == log.name]
    assert record.getMessage() == "task the failing one failed"
    assert record.exc_info is not None and record.exc_info[1] is seen[0]


def test_the_default_name_is_the_coroutine_s(caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> None:
        keeper = TaskKeeper(log)
        task = keeper.spawn(fail())
        assert task.get_name() == "fail"
        await asyncio.wait([task])
        await asyncio.sleep(0)

    with caplog.at_level(logging.ERROR, logger=log.name):
        run(scenario())
    assert [r.getMessage() for r in caplog.records if r.name == log.name] == ["task fail failed"]


def test_a_cancelled_task_is_neither_logged_nor_reported(caplog: pytest.LogCaptureFixture) -> None:
    seen: list[BaseException] = []

    async def scenario() -> None:
        keeper = TaskKeeper(log, on_error=seen.append)
        tasks = [keeper.spawn(wait_forever()) for _ in range(3)]
        await asyncio.sleep(0)
        assert len(keeper.pending()) == 3
        keeper.cancel_all()
        await asyncio.wait(tasks)
        assert all(task.cancelled() for task in tasks)
        assert keeper.pending() == []

    with caplog.at_level(logging.DEBUG, logger=log.name):
        run(scenario())
    assert seen == [] and not [r for r in caplog.records if r.name == log.name]


def test_cancel_and_wait_from_a_kept_task_does_not_wait_for_itself() -> None:
    async def scenario() -> None:
        keeper = TaskKeeper(log)
        other = keeper.spawn(wait_forever())

        async def closer() -> None:
            await keeper.cancel_and_wait()

        await asyncio.wait_for(keeper.spawn(closer()), 5)
        assert other.cancelled()

    run(scenario())


def test_without_a_running_loop_spawn_raises_and_closes_the_coroutine() -> None:
    keeper = TaskKeeper(log)
    coro = wait_forever()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "coroutine ... was never awaited" would be one
        with pytest.raises(RuntimeError):
            keeper.spawn(coro)
        assert coro.cr_frame is None  # closed
        del coro
        gc.collect()
    assert keeper.pending() == []


def test_wait_waits_for_every_task_without_cancelling_it() -> None:
    keeper = TaskKeeper(logging.getLogger("test"))
    done: list[str] = []

    async def work(name: str, seconds: float) -> None:
        await asyncio.sleep(seconds)
        done.append(name)

    async def scenario() -> None:
        keeper.spawn(work("quick", 0.01))
        keeper.spawn(work("slow", 0.05))
        await keeper.wait()
        assert sorted(done) == ["quick", "slow"] and keeper.pending() == []
        keeper.spawn(work("too slow", 10))
        await keeper.wait(within=0.01)  # gives up waiting, cancels nothing
        assert len(keeper.pending()) == 1
        await keeper.cancel_and_wait()

    run(scenario())
