"""The real window with a real local model: a prompt typed, the model's whole reply kept.

llama.cpp's server with Gemma 3 270M (``tests/support/llama_server.py``) on
loopback, behind a TCP relay that keeps the bytes of every exchange
(``tests/support/wire_tap.py``); Sidestream as a process on Xvfb with a private
D-Bus (``tests/support/desktop_session.py``), started as a person would point
it at a local server:

    sidestream --provider openai-compatible --base-url http://127.0.0.1:N/v1 --model gemma

xdotool types a prompt and Enter into the focused window, as a keyboard would.
When the reply is complete, ``sidestream export`` must show it with exactly the
text the server sent (read off the wire by the relay, not by the app). Ctrl+Q
quits. Screenshots and logs go to ``test-artifacts/e2e/local-model/``.

The app asks for no length (no ``max_tokens``), and this small base model
hardly ever ends a turn by itself: the server gives such a request a default
length of 64 tokens (``tests/support/llama_serve.py``), ~3 s on 2 cores.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.desktop_session import (
    PACKAGES,
    DesktopSession,
    desktop_session,
    missing_tools,
    wait_until,
)
from tests.support.frozen import ROOT, app_command
from tests.support.llama_server import (
    MODEL_ALIAS,
    MissingLocalModel,
    llama_server,
    require_installed,
)
from tests.support.wire_tap import WireTap, sse_data

pytestmark = [pytest.mark.e2e, pytest.mark.localmodel]

ARTIFACTS = ROOT / "test-artifacts" / "e2e" / "local-model"
PROMPT = "Write one short sentence about the sea."
WAIT = 30.0
REPLY_WAIT = 120.0  # a cold disk cache, the prompt, 64 tokens, a busy CI core
REPLY_TOKENS = 64


@pytest.fixture
def desktop(tmp_path: Path) -> Iterator[DesktopSession]:
    missing = missing_tools() + [t for t in ("import",) if shutil.which(t) is None]
    if missing:
        # CI installs them (packaging/dev.sh): a machine without them must not pass quietly.
        pytest.fail(
            f"end-to-end tools missing: {', '.join(missing)}; install {PACKAGES} imagemagick"
        )
    try:
        require_installed()
    except MissingLocalModel as exc:
        pytest.fail(str(exc))
    with desktop_session(tmp_path / "desktop", notification_daemon=False, monitor=False) as s:
        yield s


@pytest.fixture
def artifacts() -> Path:
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    return ARTIFACTS


class Window:
    """Sidestream's main window on the desktop session, typed at and read from outside."""

    def __init__(self, desktop: DesktopSession, command: list[str], data_dir: Path) -> None:
        self.desktop = desktop
        self.command = command
        self.data_dir = data_dir
        self.log = desktop.workdir / "app.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.id = ""

    def start(self, base_url: str) -> None:
        self.proc = self.desktop.start(
            [
                *self.command,
                "--data-dir",
                str(self.data_dir),
                "--provider",
                "openai-compatible",
                "--base-url",
                base_url,
                "--model",
                MODEL_ALIAS,
                "--log-level",
                "INFO",
            ],
            "app.log",
            QT_QPA_PLATFORM="xcb",
        )
        found: list[str] = []

        def appeared() -> bool:
            assert self.alive(), f"the app exited:\n{self.output()}"
            ids = self.desktop.run(
                "xdotool", "search", "--onlyvisible", "--name", "^Sidestream", check=False
            ).split()
            found.extend(ids[:1])
            return bool(ids)

        wait_until(appeared, WAIT, "the main window")
        self.id = found[0]

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""

    def title(self) -> str:
        return self.desktop.run("xdotool", "getwindowname", self.id).strip()

    def focus(self) -> None:
        # No window manager runs under bare Xvfb: windowactivate fails.
        self.desktop.run("xdotool", "windowfocus", "--sync", self.id, timeout=WAIT)
        wait_until(
            lambda: self.desktop.run("xdotool", "getwindowfocus").strip() == self.id,
            WAIT,
            "the keyboard focus on the window",
        )

    def type(self, text: str) -> None:
        self.desktop.run("xdotool", "type", "--delay", "20", text, timeout=WAIT)

    def key(self, *keys: str) -> None:
        self.desktop.run("xdotool", "key", "--delay", "30", *keys, timeout=WAIT)

    def screenshot(self, path: Path) -> None:
        self.desktop.run("import", "-window", "root", str(path), timeout=WAIT)

    def export(self, *args: str) -> str:
        done = subprocess.run(
            [*self.command, "export", "--data-dir", str(self.data_dir), *args],
            capture_output=True,
            text=True,
            timeout=WAIT,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    def messages(self) -> list[dict[str, Any]]:
        chats: list[dict[str, Any]] = json.loads(self.export("--format", "json"))["chats"]
        return [m for chat in chats if chat["title"] == PROMPT for m in chat["messages"]]

    def reply_status(self) -> str | None:
        replies = [m for m in self.messages() if m["role"] == "assistant"]
        return str(replies[-1]["status"]) if replies else None


def test_a_prompt_typed_in_the_window_gets_the_local_models_whole_reply(
    desktop: DesktopSession, tmp_path: Path, artifacts: Path
) -> None:
    command, kind = app_command()
    sys.stdout.write(f"\nthe app under test: {kind} ({' '.join(command)})\n")
    window = Window(desktop, command, tmp_path / "data")
    started = time.monotonic()
    with contextlib.ExitStack() as stack:
        llama = stack.enter_context(
            llama_server(tmp_path / "llama.log", default_max_tokens=REPLY_TOKENS)
        )
        tap = WireTap(llama.port)
        tap.start()
        stack.callback(tap.close)
        stack.callback(lambda: shutil.copy(llama.log_path, artifacts / "llama.log"))
        stack.callback(lambda: window.log.exists() and shutil.copy(window.log, artifacts))
        try:
            window.start(f"http://127.0.0.1:{tap.port}/v1")
            window.focus()
            wait_until(lambda: window.title() == "Sidestream — New chat", WAIT, "a new chat")
            window.type(PROMPT)
            window.key("Return")
            wait_until(
                lambda: window.reply_status() not in (None, "pending", "streaming"),
                REPLY_WAIT,
                "the reply to end",
                interval=0.5,  # each look is a process: leave the cores to the model
            )
            window.screenshot(artifacts / "reply.png")
            window.key("ctrl+q")  # nothing streams: it quits without asking
            assert window.proc is not None
            try:
                code = window.proc.wait(timeout=WAIT)
            except subprocess.TimeoutExpired:
                raise AssertionError(f"the app did not quit:\n{window.output()}") from None
            assert code == 0, window.output()
        except BaseException as exc:
            with contextlib.suppress(Exception):
                window.screenshot(artifacts / "failure.png")
            if isinstance(exc, AssertionError):
                raise AssertionError(
                    f"{exc}\n--- the app's log ---\n{window.output()}"
                    f"\n--- the server's log ---\n{llama.log(2000)}"
                ) from exc
            raise
    sys.stdout.write(f"local-model window scenario ({kind}): {time.monotonic() - started:.1f} s\n")

    exported = window.export("--format", "json")
    (artifacts / "export.json").write_text(exported, encoding="utf-8")
    messages = window.messages()
    assert [(m["role"], m["status"]) for m in messages] == [
        ("user", "complete"),
        ("assistant", "complete"),
    ], messages
    assert messages[0]["content"] == PROMPT
    reply = messages[1]["content"]
    assert reply.strip(), "the reply is empty"

    chats = [e for e in tap.exchanges() if e.target.endswith("/chat/completions")]
    assert len(chats) == 1, [(e.method, e.target) for e in tap.exchanges()]
    sent = json.loads(chats[0].request_body)
    assert sent["model"] == MODEL_ALIAS and sent["stream"] is True
    assert sent["messages"][-1] == {"role": "user", "content": PROMPT}
    assert chats[0].status == 200 and chats[0].complete
    data = list(sse_data(chats[0].body))
    assert data[-1] == "[DONE]"
    wire_text = "".join(
        choice["delta"].get("content") or ""
        for chunk in map(json.loads, data[:-1])
        for choice in chunk.get("choices") or ()
    )
    assert reply == wire_text
