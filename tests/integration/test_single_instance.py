"""Two starts on one data folder: the second hands over to the first; never two writers."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from desktop.store.lock import DataDirLock, DataDirLocked
from desktop.ui.single_instance import InstanceServer

DEADLINE = 30.0


def test_the_lock_refuses_a_second_holder_and_frees_on_release(tmp_path: Path) -> None:
    first = DataDirLock(tmp_path)
    first.acquire()
    second = DataDirLock(tmp_path)
    with pytest.raises(DataDirLocked, match="already using the data folder"):
        second.acquire()
    first.release()
    second.acquire()
    assert second.held
    second.release()


def test_a_killed_holder_leaves_no_stale_lock(tmp_path: Path) -> None:
    code = (
        "import sys, time; from pathlib import Path; from desktop.store.lock import DataDirLock;"
        f"lock = DataDirLock(Path({str(tmp_path)!r})); lock.acquire();"
        "print('held', flush=True); time.sleep(60)"
    )
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(DataDirLocked):
            DataDirLock(tmp_path).acquire()
    finally:
        holder.kill()
        holder.wait(10)
    lock = DataDirLock(tmp_path)
    lock.acquire()  # the OS dropped the dead process's lock
    lock.release()


class Output:
    """Collects a process's stderr lines on a thread, to wait on them."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        assert proc.stderr is not None
        stream = proc.stderr
        self._thread = threading.Thread(target=lambda: self.lines.extend(iter(stream.readline, "")))
        self._thread.daemon = True
        self._thread.start()

    def wait_for(self, text: str, timeout: float = DEADLINE) -> None:
        deadline = time.monotonic() + timeout
        while not any(text in line for line in list(self.lines)):
            if time.monotonic() > deadline:
                raise AssertionError(f"never saw {text!r} in:\n{''.join(self.lines)}")
            time.sleep(0.02)


def test_second_start_raises_the_first_window_and_exits(tmp_path: Path) -> None:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "SIDESTREAM_DEMO_OPTIONS": "rate=0"}
    cmd = [sys.executable, "-m", "desktop", "--data-dir", str(tmp_path), "--demo"]
    first = subprocess.Popen(
        [*cmd, "--log-level", "INFO"], env=env, stderr=subprocess.PIPE, text=True
    )
    try:
        out = Output(first)
        out.wait_for("listening for other starts")
        second = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=DEADLINE)
        assert second.returncode == 0, second.stderr
        assert "already using the data folder" in second.stderr
        assert "brought to the front" in second.stderr
        out.wait_for("asked to show the window")
        assert first.poll() is None  # the first one runs on, the only writer
    finally:
        first.terminate()
        first.wait(DEADLINE)


def app_env() -> dict[str, str]:
    return {**os.environ, "QT_QPA_PLATFORM": "offscreen", "SIDESTREAM_DEMO_OPTIONS": "rate=0"}


def app_cmd(data_dir: Path) -> list[str]:
    return [sys.executable, "-m", "desktop", "--data-dir", str(data_dir), "--demo"]


def stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(DEADLINE)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(DEADLINE)


def test_a_second_start_waits_for_a_first_that_holds_the_lock_but_is_still_starting(
    tmp_path: Path, qtbot: QtBot
) -> None:
    """The race of two starts at one moment, made deterministic.

    This test is the first instance at its slowest: it holds the data
    folder's lock and listens only after the second start has found the lock
    taken and nobody listening. The second must wait for it, not give up.
    """
    first_lock = DataDirLock(tmp_path)
    first_lock.acquire()
    server = InstanceServer(tmp_path)
    second = subprocess.Popen(
        [*app_cmd(tmp_path), "--log-level", "INFO"],
        env=app_env(),
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        out = Output(second)
        out.wait_for("is still starting")  # it tried, found nobody, and waits
        assert second.poll() is None, "".join(out.lines)
        with qtbot.waitSignal(server.raise_requested, timeout=int(DEADLINE * 1000)):
            assert server.listen()
        assert second.wait(DEADLINE) == 0, "".join(out.lines)
        out.wait_for("brought to the front")
    finally:
        stop(second)
        server.close()
        first_lock.release()


TRIES = 3


def report_end(proc: subprocess.Popen[str], index: int, ended: queue.Queue[int]) -> None:
    proc.wait()
    ended.put(index)


def test_two_starts_at_the_same_moment_hand_over_every_time(tmp_path: Path) -> None:
    """Two real apps started together, TRIES times: one runs, the other raises it, exit 0."""
    handed_over = 0
    for attempt in range(TRIES):
        data_dir = tmp_path / f"try-{attempt}"
        procs = [
            subprocess.Popen(
                [*app_cmd(data_dir), "--log-level", "INFO"],
                env=app_env(),
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        outputs = [Output(p) for p in procs]
        ended: queue.Queue[int] = queue.Queue()
        for index, proc in enumerate(procs):
            waiter = threading.Thread(target=report_end, args=(proc, index, ended))
            waiter.daemon = True
            waiter.start()
        try:
            try:
                second = ended.get(timeout=DEADLINE)
            except queue.Empty:
                logs = "\n---\n".join("".join(o.lines) for o in outputs)
                raise AssertionError(f"try {attempt}: neither start ended:\n{logs}") from None
            first = 1 - second
            assert procs[second].returncode == 0, "".join(outputs[second].lines)
            outputs[second].wait_for("brought to the front")
            outputs[first].wait_for("asked to show the window")
            assert procs[first].poll() is None, "the first runs on, the only writer"
            handed_over += 1
        finally:
            for proc in procs:
                stop(proc)
    assert handed_over == TRIES
