"""``sidestream import FILE`` as a process: a one-line summary and exit 0, or the
reason on standard error and exit 1 with nothing changed; never beside a
running Sidestream on the same data folder (one writer per database)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from desktop.core.states import Role
from desktop.store import Store
from tests.unit.importer.helpers import CHATGPT

ROOT = Path(__file__).resolve().parents[2]


def sidestream(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "desktop", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_import_prints_one_line_and_a_second_run_adds_nothing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = sidestream("import", str(CHATGPT), "--data-dir", str(data))
    assert first.returncode == 0, first.stderr
    assert first.stderr == ""
    assert first.stdout.count("\n") == 1
    assert first.stdout.startswith("Imported 2 chats (9 messages) from a ChatGPT export.")
    # --data-dir before the subcommand works too, as for export.
    again = sidestream("--data-dir", str(data), "import", str(CHATGPT))
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith("Nothing new in a ChatGPT export. 2 chats were here already.")
    exported = sidestream("export", "--data-dir", str(data))
    titles = [chat["title"] for chat in json.loads(exported.stdout)["chats"]]
    assert titles == ["Sourdough starter help", "Plot a sine wave"]


def test_a_bad_file_exits_1_with_the_reason_and_touches_no_data_folder(tmp_path: Path) -> None:
    data = tmp_path / "data"
    bad = tmp_path / "conversations.json"
    bad.write_bytes(CHATGPT.read_bytes()[:5000])
    result = sidestream("import", str(bad), "--data-dir", str(data))
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith("sidestream import: conversations.json ends before its JSON")
    assert result.stderr.endswith("Nothing was imported.\n")
    assert "Traceback" not in result.stderr
    assert not data.exists(), "the file is checked before the data folder is touched"
    missing = sidestream("import", str(tmp_path / "nope.json"), "--data-dir", str(data))
    assert missing.returncode == 1 and "There is no file" in missing.stderr


# A running Sidestream's store in a process of its own: it holds the data
# folder's lock as the app does, and waits for "count" and "close".
HOLDER = """
import sys
from pathlib import Path
from desktop.core.states import Role
from desktop.store import Store
from desktop.store.lock import DataDirLock
data = Path(sys.argv[1])
lock = DataDirLock(data)
lock.acquire()
store = Store.open(data)
store.create_session("the running app's chat")
print("ready", flush=True)
for line in sys.stdin:
    if line.strip() == "count":
        print(store.count_sessions(), flush=True)
    elif line.strip() == "close":
        store.close()
        lock.release()
        print("closed", flush=True)
        break
"""


def test_beside_a_running_sidestream_it_refuses_and_says_where_to_import(
    tmp_path: Path,
) -> None:
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
        result = sidestream("import", str(CHATGPT), "--data-dir", str(data))
        assert result.returncode == 1, result
        assert result.stdout == ""
        assert f"Sidestream is running with the data folder {data}" in result.stderr
        assert "Use File, Import in its window" in result.stderr
        assert result.stderr.endswith("Nothing was imported.\n")
        holder.stdin.write("count\n")
        holder.stdin.flush()
        assert holder.stdout.readline().strip() == "1"
        holder.stdin.write("close\n")
        holder.stdin.flush()
        assert holder.stdout.readline().strip() == "closed"
        assert holder.wait(30) == 0
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait(30)
    # Once it has quit, the same command imports.
    after = sidestream("import", str(CHATGPT), "--data-dir", str(data))
    assert after.returncode == 0, after.stderr
    with Store.open(data) as store:
        assert store.count_sessions() == 3


def test_a_damaged_database_is_reported_and_left_as_it_is(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with Store.open(data) as store:
        session = store.create_session("chat")
        for i in range(200):
            store.add_message(session.id, Role.USER, f"message {i} " + "y" * 300)
    path = data / "sidestream.db"
    raw = bytearray(path.read_bytes())
    raw[4096:] = b"\xa5" * (len(raw) - 4096)
    path.write_bytes(bytes(raw))
    result = sidestream("import", str(CHATGPT), "--data-dir", str(data))
    assert result.returncode == 1, result
    assert "is damaged" in result.stderr and "Nothing was imported." in result.stderr
    assert "keeps it aside as a backup" in result.stderr
    assert "Traceback" not in result.stderr
    assert path.read_bytes() == bytes(raw), "the damaged file is left exactly as it was"
