"""``python -m llama_cpp.server``, with a default reply length (run by path).

    python tests/support/llama_serve.py --default_max_tokens N [llama_cpp.server args...]

The app asks for no ``max_tokens`` on OpenAI-compatible servers, and Gemma 3
270M is a base model: it hardly ever ends a chat turn by itself, so a reply
runs to the end of the server's context. There llama-cpp-python can fail
mid-stream (when the last tokens are part of one multi-byte character it
decodes past the context and raises), an outcome of chance a test cannot
have. llama.cpp's own ``llama-server`` has ``--n-predict`` for a default
length; llama-cpp-python has none, so this adds one: a chat completion
request without ``max_tokens`` gets ``N``. Everything else is the server
``python -m llama_cpp.server`` runs, unchanged.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class DefaultMaxTokens:
    """ASGI middleware: chat completion requests without ``max_tokens`` get one."""

    def __init__(self, app: ASGIApp, max_tokens: int) -> None:
        self.app = app
        self.max_tokens = max_tokens

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or not scope["path"].endswith("/chat/completions")
        ):
            await self.app(scope, receive, send)
            return
        body = b""
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # gone before its body arrived
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
        try:
            request = json.loads(body)
        except ValueError:
            request = None
        if isinstance(request, dict) and request.get("max_tokens") is None:
            request["max_tokens"] = self.max_tokens
            body = json.dumps(request).encode()
        headers = [(k, v) for k, v in scope["headers"] if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            # Then the real channel: the server must still see the client leave.
            return await receive()

        await self.app({**scope, "headers": headers}, replay, send)


def main() -> None:
    args = sys.argv[1:]
    flag = args.index("--default_max_tokens")
    max_tokens = int(args[flag + 1])
    del args[flag : flag + 2]
    sys.argv = ["llama_cpp.server", *args]

    import llama_cpp.server.__main__ as server

    create_app = server.create_app

    def create_app_with_default_length(**kwargs: Any) -> Any:
        return DefaultMaxTokens(create_app(**kwargs), max_tokens)

    server.create_app = create_app_with_default_length
    server.main()


if __name__ == "__main__":
    main()
