"""Command line: ``sidestream [options]`` runs the app; subcommands do the rest.

sidestream [--data-dir DIR] [--demo] [--provider KIND --base-url URL --model M]
sidestream export [--format json|markdown] [--chat ID] [--output FILE]
sidestream import FILE
sidestream demo-server [--port N] [--rate R] [--tokens N]
sidestream --self-test
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from desktop import __version__
from desktop.core.presets import COMMAND_LINE_PROVIDERS

log = logging.getLogger("sidestream.cli")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sidestream",
        description="A desktop LLM chat client whose replies keep streaming in the background.",
    )
    parser.add_argument("--version", action="version", version=f"sidestream {__version__}")
    parser.add_argument(
        "--data-dir", type=Path, help="where chats are stored (default: platform data dir)"
    )
    parser.add_argument("--demo", action="store_true", help="use the built-in demo provider")
    parser.add_argument(
        "--provider",
        choices=sorted(COMMAND_LINE_PROVIDERS),
        help=(
            "add or select a provider of this kind (OPENAI_API_KEY / ANTHROPIC_API_KEY are used "
            "for the provider's own service, or the *_BASE_URL they name)"
        ),
    )
    parser.add_argument(
        "--base-url", help="base URL for --provider (e.g. http://127.0.0.1:11434/v1)"
    )
    parser.add_argument("--model", help="model for --provider")
    parser.add_argument(
        "--self-test", action="store_true", help="check this build offscreen; exit 0 or 1"
    )
    parser.add_argument("--log-level", default="WARNING", help="DEBUG, INFO, WARNING (default)")
    sub = parser.add_subparsers(dest="command")

    export = sub.add_parser("export", help="write chats as JSON or Markdown")
    export.add_argument("--format", choices=["json", "markdown"], default="json")
    export.add_argument("--chat", type=int, action="append", help="only this chat id (repeatable)")
    export.add_argument(
        "--output", "-o", type=Path, help="file to write (default: standard output)"
    )
    export.add_argument("--data-dir", type=Path, dest="export_data_dir", help=argparse.SUPPRESS)

    imp = sub.add_parser(
        "import",
        help="add chats from a Sidestream JSON export or a ChatGPT data export (.json or .zip)",
    )
    imp.add_argument("file", type=Path, help="the export file")
    imp.add_argument("--data-dir", type=Path, dest="import_data_dir", help=argparse.SUPPRESS)

    demo = sub.add_parser("demo-server", help="run the demo provider alone on 127.0.0.1")
    demo.add_argument("--port", type=int, default=0)
    demo.add_argument("--rate", type=float, default=40.0, help="tokens per second per reply")
    demo.add_argument("--tokens", type=int, default=300, help="reply length in tokens")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    level = getattr(logging, str(args.log_level).upper(), logging.WARNING)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.command == "demo-server":
        from desktop.providers.demo import run_cli

        demo_argv = [
            "--port",
            str(args.port),
            "--rate",
            str(args.rate),
            "--tokens",
            str(args.tokens),
        ]
        return int(run_cli(demo_argv))
    if args.command == "export":
        from desktop.export import export_main

        data_dir = args.export_data_dir or args.data_dir
        return export_main(data_dir, args.format, args.chat, args.output)
    if args.command == "import":
        from desktop.importer.command import import_main

        return import_main(args.import_data_dir or args.data_dir, args.file)
    if args.self_test:
        from desktop.selftest import self_test

        return int(self_test())
    try:
        from desktop.app import run_app
    except ImportError as exc:  # Qt's system libraries missing, typically
        sys.stderr.write(f"sidestream: cannot start the window: {exc}\n")
        return 1
    return run_app(args)
