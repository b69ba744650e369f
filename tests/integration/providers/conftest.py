"""One llmock server for the module (tests/integration/providers/llmock_server.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.providers.llmock_server import (
    LLMockServer,
    MissingLLMock,
    llmock_server,
    require_installed,
)


@pytest.fixture(scope="module")
def llmock_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LLMockServer]:
    try:
        require_installed()
    except MissingLLMock as exc:
        # packaging/dev.sh installs it: a machine without it must not pass quietly.
        pytest.fail(str(exc))
    with llmock_server(tmp_path_factory.mktemp("llmock") / "server.log") as server:
        yield server


@pytest.fixture
def llmock(llmock_process: LLMockServer) -> LLMockServer:
    """The module's server with no request in its journal and nothing scripted."""
    llmock_process.reset()
    return llmock_process
