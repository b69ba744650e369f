"""The embedded demo provider: a real HTTP server on loopback speaking all three dialects.

It is the app's default provider on a fresh machine (no API key needed) and the
server every test talks to. Replies are deterministic Markdown (see
:func:`demo_reply`), paced at ``DemoOptions.rate`` tokens a second, and the
server can inject faults on request (see :class:`DemoOptions`, settable per
request with the ``X-Demo-Options`` header).
"""

from desktop.providers.demo.cli import run_cli
from desktop.providers.demo.dialects import DEMO_MODELS
from desktop.providers.demo.ledger import ConnectionRecord, LoggedRequest
from desktop.providers.demo.options import (
    OPTIONS_HEADER,
    DemoOptions,
    OptionsError,
    parse_options_header,
)
from desktop.providers.demo.replies import continuation_tokens, demo_reply, demo_reply_tokens
from desktop.providers.demo.server import DemoServer, serve
from desktop.providers.demo.service import DemoService

__all__ = [
    "DEMO_MODELS",
    "OPTIONS_HEADER",
    "ConnectionRecord",
    "DemoOptions",
    "DemoServer",
    "DemoService",
    "LoggedRequest",
    "OptionsError",
    "continuation_tokens",
    "demo_reply",
    "demo_reply_tokens",
    "parse_options_header",
    "run_cli",
    "serve",
]
