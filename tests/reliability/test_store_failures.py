"""A read-only folder, a full disk and a damaged file, end to end (issue 6).

The store's own tests (tests/unit/store/test_failures.py) cover the store:
read-only folders, SQLITE_FULL via ``max_page_count``, a damaged file moved
aside and kept. These add what sits on top: the ``sidestream export``
command on a read-only folder and on a damaged file, and the StreamManager
streaming on while the disk is full.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from desktop.core.models import ProviderKind
from desktop.core.states import MessageStatus, Role
from desktop.providers.demo.server import DemoServer, demo_reply
from desktop.store import Store, StoreError, StoreErrorKind
from desktop.streaming.events import Callbacks
from desktop.streaming.manager import StreamManager
from tests.reliability.conftest import Figures
from tests.reliability.helpers import Ended, Recorder, make_provider, new_reply, request
from tests.support.aio import run, wait_for

SCENARIO = "Read-only folder, full disk, damaged file"
NOBODY = 65534
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A folder another user can reach (pytest's tmp_path is private to its owner)."""
    path = Path(tempfile.mkdtemp(prefix="sidestream-export-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        for p in [path, *path.rglob("*")]:
            if p.is_dir():
                p.chmod(0o755)
        shutil.rmtree(path)


def export_without_write_access(data: Path, *args: str) -> tuple[int, str, str]:
    """``sidestream export --data-dir data`` as a user who may not write ``data``.

    Root ignores file modes, so under root the command runs in a forked child
    that has become "nobody" (the store tests do the same); the child runs
    the command's own entry point, ``desktop.cli.main``.
    """
    if not hasattr(os, "fork"):
        pytest.skip("needs fork()")
    out_read, out_write = os.pipe()
    err_read, err_write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: never return into pytest
        code = 99
        try:
            os.close(out_read)
            os.close(err_read)
            os.dup2(out_write, 1)
            os.dup2(err_write, 2)
            # pytest's capture replaced sys.stdout/err; the command writes to these.
            sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115
            sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115
            if os.geteuid() == 0:
                os.setgid(NOBODY)
                os.setuid(NOBODY)
            from desktop.cli import main

            code = main(["export", "--data-dir", str(data), *args])
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)
    os.close(out_write)
    os.close(err_write)
    with os.fdopen(out_read, "rb") as out_pipe, os.fdopen(err_read, "rb") as err_pipe:
        stdout = out_pipe.read().decode()
        stderr = err_pipe.read().decode()
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status), status
    return os.WEXITSTATUS(status), stdout, stderr


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_export_on_a_read_only_folder_says_so_and_exits_1(
    shared_dir: Path, figures: Figures
) -> None:
    case = figures.case(SCENARIO, "export on a read-only folder: exit 1, clear message")
    data = shared_dir / "data"
    with Store.open(data) as store:
        store.create_session("can be read, not written")
    if os.geteuid() == 0:  # the folder is the user's own, only read-only
        for path in (data, data / "sidestream.db"):
            os.chown(path, NOBODY, NOBODY)
    (data / "sidestream.db").chmod(0o444)
    data.chmod(0o555)
    before = sorted(p.name for p in data.iterdir())
    code, stdout, stderr = export_without_write_access(data)
    assert code == 1, (code, stdout, stderr)
    assert stdout == ""
    assert stderr.startswith("sidestream export: "), stderr
    assert "read-only" in stderr and str(data) in stderr, stderr
    assert "belongs to" not in stderr, stderr
    assert "Traceback" not in stderr
    assert sorted(p.name for p in data.iterdir()) == before, "nothing was created or moved"
    case.detail += f': "{stderr.strip()}"'


def test_export_on_a_damaged_file_says_so_exits_1_and_keeps_the_file(
    tmp_path: Path, figures: Figures
) -> None:
    case = figures.case(SCENARIO, "export on a damaged database: exit 1, file left untouched")
    data = tmp_path / "data"
    with Store.open(data) as store:
        session = store.create_session("chat")
        for i in range(200):
            store.add_message(session.id, Role.USER, f"message {i} " + "y" * 300)
    path = data / "sidestream.db"
    page_size = 4096
    raw = bytearray(path.read_bytes())
    raw[page_size:] = b"\xa5" * (len(raw) - page_size)  # the tables, not the header
    path.write_bytes(bytes(raw))
    for fmt in ("json", "markdown"):
        result = subprocess.run(
            [sys.executable, "-m", "desktop", "export", "--format", fmt, "--data-dir", str(data)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 1, result
        assert result.stdout == ""
        assert "is damaged" in result.stderr and str(path) in result.stderr, result.stderr
        assert "Nothing was exported" in result.stderr
        assert "Traceback" not in result.stderr
        assert path.read_bytes() == bytes(raw), "the damaged file is left exactly as it was"
        assert sorted(p.name for p in data.iterdir()) == ["sidestream.db"]
    # The app's start then keeps it aside as a backup, never deletes it.
    with Store.open(data) as store:
        backup = store.recovered_from_corruption
        assert backup is not None and backup.read_bytes() == bytes(raw)
    case.detail += f': "{result.stderr.strip()}"'


def test_disk_full_while_streaming_keeps_the_text_and_writes_it_when_space_returns(
    demo: DemoServer, store: Store, figures: Figures
) -> None:
    case = figures.case(SCENARIO, "disk full mid-stream: streams on, reported, all written later")
    prompt = "a reply while the disk fills up"
    tokens = 5000
    sid, mid = new_reply(store, prompt)
    errors: list[StoreError] = []
    figures_seen: dict[str, int] = {}

    def stored_length() -> int:
        message = store.get_message(mid)
        assert message is not None
        return len(message.content)

    async def scenario() -> None:
        manager = StreamManager(store, flush_interval=0.05)
        manager.attach(None, Callbacks(store_refused=errors.append))
        ended = Ended(manager)
        view = Recorder()
        manager.attach(sid, view)
        provider = make_provider(demo, ProviderKind.OPENAI_CHAT, rate=2000, tokens=tokens)
        manager.start_reply(sid, mid, provider, request(prompt))
        await wait_for(lambda: stored_length() > 0, 10, "the first flush")

        def fill_disk() -> None:  # on the writer thread, whose connection writes
            db = store._db
            pages = db.execute_sql("PRAGMA page_count").fetchone()[0]
            db.execute_sql(f"PRAGMA max_page_count = {pages}")

        def free_disk() -> None:
            store._db.execute_sql("PRAGMA max_page_count = 1073741823")

        await manager.run_store(fill_disk)
        await wait_for(lambda: bool(errors), 10, "the store to report the full disk")
        on_disk = stored_length()
        at_error = len(view.text)
        # Streaming goes on in memory: the view keeps getting text, the store none.
        await wait_for(lambda: len(view.text) > at_error + 4000, 10, "text while the disk is full")
        assert manager.is_live(sid)
        assert stored_length() == on_disk, "a failed flush writes nothing"
        snapshot = manager.snapshot(sid)
        assert snapshot is not None and snapshot.text.startswith(view.text[:on_disk])
        figures_seen.update(held=len(view.text) - on_disk, errors=len(errors))
        await manager.run_store(free_disk)
        result = await ended.wait(mid, timeout=30)
        assert result.status is MessageStatus.COMPLETE, result
        await manager.shutdown()
        assert manager.task_count() == 0
        await provider.aclose()

    run(scenario())
    message = store.get_message(mid)
    assert message is not None and message.status is MessageStatus.COMPLETE
    assert message.content == demo_reply(prompt, tokens), "every token written once space returned"
    assert store.integrity_check() == "ok"
    assert errors and all(e.kind is StoreErrorKind.DISK_FULL for e in errors)
    assert "the disk is full" in errors[0].message and str(store.path) in errors[0].message
    case.detail += (
        f": {figures_seen['errors']} failed flushes reported through on_store_refused "
        f'("{errors[0].message}"), {figures_seen["held"]} characters held in memory, '
        f"then all {len(message.content)} characters written"
    )


def test_disk_full_when_the_reply_ends_writes_its_final_state_once_space_returns(
    demo: DemoServer, store: Store, figures: Figures
) -> None:
    case = figures.case(SCENARIO, "disk full as the reply ends: final state written later")
    prompt = "a reply that ends on a full disk"
    tokens = 3000
    sid, mid = new_reply(store, prompt)
    errors: list[StoreError] = []

    def fill_disk() -> None:
        db = store._db
        pages = db.execute_sql("PRAGMA page_count").fetchone()[0]
        db.execute_sql(f"PRAGMA max_page_count = {pages}")

    def free_disk() -> None:
        store._db.execute_sql("PRAGMA max_page_count = 1073741823")

    def stored() -> tuple[MessageStatus, int]:
        message = store.get_message(mid)
        assert message is not None
        return message.status, len(message.content)

    async def scenario() -> tuple[int, int]:
        manager = StreamManager(store, flush_interval=0.05)
        manager.attach(None, Callbacks(store_refused=errors.append))
        ended = Ended(manager)
        provider = make_provider(demo, ProviderKind.OPENAI_CHAT, rate=2000, tokens=tokens)
        manager.start_reply(sid, mid, provider, request(prompt))
        await wait_for(lambda: stored()[1] > 0, 10, "the first flush")
        await manager.run_store(fill_disk)
        result = await ended.wait(mid, timeout=30)
        assert result.status is MessageStatus.COMPLETE
        failed_so_far = len(errors)
        assert failed_so_far, "the final write failed too"
        status, partial = stored()
        assert status is MessageStatus.STREAMING and partial < len(result.text)
        await manager.run_store(free_disk)
        await wait_for(
            lambda: stored() == (MessageStatus.COMPLETE, len(result.text)),
            5,
            "the final state to be written once there is room",
        )
        await manager.shutdown()
        assert manager.task_count() == 0
        await provider.aclose()
        return failed_so_far, partial

    failed, partial = run(scenario())
    message = store.get_message(mid)
    assert message is not None and message.status is MessageStatus.COMPLETE
    assert message.content == demo_reply(prompt, tokens)
    assert all(e.kind is StoreErrorKind.DISK_FULL for e in errors)
    case.detail += (
        f": {failed} refused writes reported; {partial} characters on disk when the reply "
        f"ended, all {len(message.content)} and status complete once space returned"
    )


# -- permissions, links, another user's files, a lost -wal (issue 13) -----------

PERMISSIONS = "Private files, links, another user's files, a lost -wal"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def sidestream(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "desktop", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.skipif(os.name != "posix", reason="POSIX modes")
def test_export_to_a_file_writes_it_0600_and_tightens_an_existing_one(
    tmp_path: Path, figures: Figures
) -> None:
    case = figures.case(PERMISSIONS, "export -o: new file 0600, existing 0644 file made 0600")
    data = tmp_path / "data"
    with Store.open(data) as store:
        store.create_session("private words")
    old_umask = os.umask(0o022)  # the usual umask, inherited: a plain open would give 0644
    try:
        fresh = tmp_path / "fresh.json"
        result = sidestream("export", "--data-dir", str(data), "-o", str(fresh))
        assert result.returncode == 0, result.stderr
        assert mode(fresh) == 0o600
        assert json.loads(fresh.read_text())["chats"][0]["title"] == "private words"
        existing = tmp_path / "existing.md"
        existing.write_text("old text")
        existing.chmod(0o644)
        result = sidestream(
            "export", "--format", "markdown", "--data-dir", str(data), "-o", str(existing)
        )
        assert result.returncode == 0, result.stderr
        assert mode(existing) == 0o600
        assert "private words" in existing.read_text()
        failed = tmp_path / "failed.json"
        result = sidestream("export", "--data-dir", str(data), "--chat", "999", "-o", str(failed))
        assert result.returncode == 1 and "no chat with id 999" in result.stderr
        assert not failed.exists(), "a failed export leaves no file behind"
        nowhere = tmp_path / "missing-folder" / "out.json"
        result = sidestream("export", "--data-dir", str(data), "-o", str(nowhere))
        assert result.returncode == 1 and f"cannot write {nowhere}" in result.stderr
        assert "Traceback" not in result.stderr
    finally:
        os.umask(old_umask)
    case.detail += ": under umask 022; a failed export leaves no file"


@pytest.mark.skipif(os.name != "posix", reason="POSIX symbolic links")
def test_export_on_a_database_that_links_out_of_the_folder_refuses_it(
    tmp_path: Path, figures: Figures
) -> None:
    case = figures.case(PERMISSIONS, "database is a link out of the folder: refused, untouched")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    target = elsewhere / "empty.db"
    target.write_bytes(b"")
    target.chmod(0o644)
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    (data / "sidestream.db").symlink_to(target)
    result = sidestream("export", "--data-dir", str(data))
    assert result.returncode == 1, result
    assert result.stdout == ""
    expected = f"{data / 'sidestream.db'} is a symbolic link to {target}"
    assert expected in result.stderr, result.stderr
    assert "Sidestream will not follow it out of its data folder" in result.stderr
    assert "Traceback" not in result.stderr
    assert target.read_bytes() == b"" and mode(target) == 0o644, "nothing written through"
    assert sorted(p.name for p in elsewhere.iterdir()) == ["empty.db"]
    case.detail += f': "{result.stderr.strip()}"'


@pytest.mark.skipif(
    os.name != "posix" or os.geteuid() != 0, reason="another user's files need root (chown)"
)
def test_export_on_another_users_database_names_the_owner(
    shared_dir: Path, figures: Figures
) -> None:
    case = figures.case(PERMISSIONS, "another user's 0644 database: the message names its owner")
    data = shared_dir / "data"
    with Store.open(data) as store:
        store.create_session("root's chat")
    (data / "sidestream.db").chmod(0o644)
    os.chown(data, NOBODY, NOBODY)  # nobody's folder, root's database
    code, stdout, stderr = export_without_write_access(data)
    assert code == 1, (code, stdout, stderr)
    assert stdout == ""
    assert "belongs to user root, not to you (nobody)" in stderr, stderr
    assert "read-only" not in stderr, stderr
    case.detail += f': "{stderr.strip()}"'


# A running Sidestream's store in a process of its own: it holds the data
# folder's lock as the app does, writes, and waits for "write" and "close".
HOLDER = """
import sys
from pathlib import Path
from desktop.store import Store
from desktop.store.lock import DataDirLock
data = Path(sys.argv[1])
lock = DataDirLock(data)
lock.acquire()
store = Store.open(data)
for i in range(20):
    store.create_session(f"chat {i}")
print("ready", flush=True)
for line in sys.stdin:
    if line.strip() == "write":
        store.create_session("written after the log was removed")
        print("written", store.count_sessions(), flush=True)
    elif line.strip() == "close":
        store.close()
        lock.release()
        print("closed", flush=True)
        break
"""


def test_export_while_the_wal_was_deleted_under_a_running_sidestream_says_so(
    tmp_path: Path, figures: Figures
) -> None:
    case = figures.case(PERMISSIONS, "-wal deleted under a running Sidestream, then export")
    data = tmp_path / "data"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(data)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdin is not None and holder.stdout is not None
    try:
        assert holder.stdout.readline().strip() == "ready"
        wal = data / "sidestream.db-wal"
        assert wal.stat().st_size > 0, "the last chats are in the log, not yet in the file"
        wal.unlink()
        before = sorted(p.name for p in data.iterdir())
        result = sidestream("export", "--data-dir", str(data))
        assert result.returncode == 1, result
        assert result.stdout == ""
        assert f"write-ahead log {wal} was removed while Sidestream was running" in result.stderr
        assert "Quit that Sidestream normally" in result.stderr
        assert "disk I/O error" not in result.stderr and "Traceback" not in result.stderr
        assert sorted(p.name for p in data.iterdir()) == before, "the export created nothing"
        holder.stdin.write("write\n")
        holder.stdin.flush()
        assert holder.stdout.readline().split() == ["written", "21"]
        holder.stdin.write("close\n")
        holder.stdin.flush()
        assert holder.stdout.readline().strip() == "closed"
        assert holder.wait(30) == 0
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait(30)
    with Store.open(data) as store:  # nothing was damaged or lost
        assert store.integrity_check() == "ok"
        titles = {s.title for s in store.list_sessions()}
    assert titles == {f"chat {i}" for i in range(20)} | {"written after the log was removed"}
    again = sidestream("export", "--data-dir", str(data))
    assert again.returncode == 0, again.stderr
    assert len(json.loads(again.stdout)["chats"]) == 21
    case.detail += f': exit 1, "{result.stderr.strip()}"; after a normal quit all 21 chats there'
