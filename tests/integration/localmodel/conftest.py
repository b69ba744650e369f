"""One llama.cpp server with Gemma 3 270M for the module (tests/support/llama_server.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.llama_server import (
    LlamaServer,
    MissingLocalModel,
    llama_server,
    require_installed,
)


@pytest.fixture(scope="module")
def llama_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    try:
        require_installed()
    except MissingLocalModel as exc:
        # packaging/dev.sh installs it: a machine without it must not pass quietly.
        pytest.fail(str(exc))
    with llama_server(tmp_path_factory.mktemp("llama") / "server.log") as server:
        yield server


@pytest.fixture
def llama(llama_process: LlamaServer) -> LlamaServer:
    """The module's server, running (again, if a test killed it) and idle."""
    llama_process.ensure_running()
    llama_process.wait_idle()
    return llama_process
