"""``python -m desktop.providers.demo``: run the demo provider alone until interrupted.

Prints one line, the server's base URL (Anthropic clients use it as is, OpenAI
clients append ``/v1``), then serves until Ctrl+C or SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys

from desktop.providers.demo.options import DemoOptions
from desktop.providers.demo.server import serve

__all__ = ["run_cli"]

log = logging.getLogger("sidestream.demo")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m desktop.providers.demo",
        description="Sidestream's demo LLM provider: OpenAI Chat Completions, OpenAI "
        "Responses and Anthropic Messages on loopback, no API key needed.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=0, help="port (default: any free one)")
    parser.add_argument(
        "--rate", type=float, default=40.0, help="tokens per second per stream (0: unpaced)"
    )
    parser.add_argument("--tokens", type=int, default=300, help="reply length in tokens")
    parser.add_argument(
        "--first-token-delay", type=float, default=0.0, help="seconds before the first token"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log every request")
    return parser


async def _main(args: argparse.Namespace) -> None:
    defaults = DemoOptions(
        rate=args.rate, tokens=args.tokens, first_token_delay=args.first_token_delay
    )
    service = await serve(args.host, args.port, defaults)
    sys.stdout.write(service.url + "\n")
    sys.stdout.flush()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await service.aclose()


def run_cli(argv: list[str] | None = None) -> int:
    """Parse ``argv``, serve until interrupted; the exit status."""
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    try:
        asyncio.run(_main(args))
    except KeyboardInterrupt:  # where signal handlers are not available (Windows)
        pass
    except OSError as exc:
        sys.stderr.write(f"demo provider: cannot listen on {args.host}:{args.port}: {exc}\n")
        return 1
    return 0
