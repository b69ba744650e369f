"""llmock on loopback, as a process of its own: a chaos mock of the app's providers
that records every request and judges how the client coped.

llmock (PyPI; pinned in the ``localmodel`` extra, which ``packaging/dev.sh
test`` installs) mocks Chat Completions (``{url}/v1/chat/completions``),
Responses (``POST {url}/v1/responses`` only: it cannot resume a response or
tell its status, ``GET /v1/responses/{id}`` is a 404) and Anthropic Messages
(``{url}/anthropic/v1/messages``). With ``--response-style echo`` a reply is
``Hello! You said: <the prompt>``, streamed a word per event.

Faults are asked for two ways: per request, as scripted behaviours
(``POST /_llmock/scenario``, e.g. ``{"type": "stream_fault", "kind":
"disconnect", "after_chunks": 1, "match": {"model": "m-7"}}``), or at random,
with ``serve``'s ``--error-rate STATUS=P`` and ``--stream-fault KIND=P``.
The journal (``GET /_llmock/requests``) says what each request got; the
verdict (``llmock report --json``) judges the client from it.

A missing install raises :class:`MissingLLMock`; the tests turn it into a
failure, not a skip, so a machine where ``dev.sh`` did not install it cannot
pass quietly.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.support.raw_server import unused_port

START_TIMEOUT = 30.0
# The command line, run by this interpreter (the venv's `llmock` script runs the same).
COMMAND = (sys.executable, "-m", "llmock.cli")
INSTALL_HINT = (
    "install the project's 'localmodel' extra (packaging/dev.sh test does it: "
    "pip install -e '.[dev,localmodel]')"
)


class MissingLLMock(RuntimeError):
    """llmock is not installed."""


def require_installed() -> None:
    if importlib.util.find_spec("llmock") is None:
        raise MissingLLMock(f"missing llmock: {INSTALL_HINT}")


@dataclass(frozen=True)
class Report:
    """``llmock report``: its exit code, its JSON and its text."""

    exit_code: int
    verdict: dict[str, Any]
    text: str

    @property
    def findings(self) -> list[dict[str, Any]]:
        findings: list[dict[str, Any]] = self.verdict["findings"]
        return findings


class LLMockServer:
    """``llmock serve`` on 127.0.0.1 with ``options`` (random chaos, say)."""

    def __init__(self, log_path: Path, options: Sequence[str] = ()) -> None:
        self.log_path = log_path
        self.options = tuple(options)
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:] if self.log_path.exists() else ""

    # ------------------------------------------------------------- lifetime
    def start(self) -> None:
        require_installed()
        for _ in range(3):  # the free port can be taken before the server binds it
            self.port = unused_port()
            with open(self.log_path, "wb") as log:
                self.proc = subprocess.Popen(
                    [
                        *COMMAND,
                        "serve",
                        "--host",
                        "127.0.0.1",
                        "--port",
                        str(self.port),
                        "--log-level",
                        "warning",
                        "--response-style",
                        "echo",
                        *self.options,
                    ],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            if self._wait_ready():
                return
        raise AssertionError(f"llmock did not start:\n{self.log()}")

    def _wait_ready(self) -> bool:
        """True once ``/health`` answers; False if the port was taken."""
        assert self.proc is not None
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                if "address already in use" in self.log().lower():
                    return False
                raise AssertionError(f"llmock exited with {self.proc.returncode}:\n{self.log()}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1.0).status_code == 200:
                    return True
            except httpx.HTTPError:
                pass
            time.sleep(0.05)  # polling a process that is starting: nothing to wait on
        raise AssertionError(f"llmock did not answer within {START_TIMEOUT} s:\n{self.log()}")

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)

    # ------------------------------------------------------------ control API
    def reset(self) -> None:
        """Forget the requests and the scripted behaviours still waiting."""
        httpx.post(f"{self.url}/_llmock/reset", timeout=10).raise_for_status()

    def script(self, behaviors: Sequence[dict[str, Any]]) -> None:
        """Queue behaviours for the requests to come (each fires once unless told)."""
        answer = httpx.post(
            f"{self.url}/_llmock/scenario", json={"behaviors": list(behaviors)}, timeout=10
        )
        assert answer.status_code == 201, answer.text

    def pending(self) -> list[dict[str, Any]]:
        answer = httpx.get(f"{self.url}/_llmock/scenario", timeout=10)
        pending: list[dict[str, Any]] = answer.json()["pending"]
        return pending

    def requests(self) -> list[dict[str, Any]]:
        """The journal: every request served and how, oldest first (in-flight
        requests are waited for up to 2 s, then left out)."""
        answer = httpx.get(f"{self.url}/_llmock/requests", timeout=30)
        records: list[dict[str, Any]] = answer.json()["requests"]
        return records

    def report(self) -> Report:
        """``llmock report --url URL --json`` (exit 1: the client misbehaved), and its text."""
        done = subprocess.run(
            [*COMMAND, "report", "--url", self.url, "--json"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode in (0, 1), done.stderr
        text = httpx.get(f"{self.url}/_llmock/verdict", params={"format": "text"}, timeout=30)
        return Report(done.returncode, json.loads(done.stdout), text.text)


@contextmanager
def llmock_server(log_path: Path, options: Sequence[str] = ()) -> Iterator[LLMockServer]:
    server = LLMockServer(log_path, options)
    try:
        server.start()
        yield server
    finally:
        server.stop()
