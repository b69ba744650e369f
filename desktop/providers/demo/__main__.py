"""Run the demo provider alone: ``python -m desktop.providers.demo --port N``."""

from desktop.providers.demo.cli import run_cli

raise SystemExit(run_cli())
