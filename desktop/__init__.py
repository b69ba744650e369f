"""Sidestream: a desktop LLM chat client whose replies stream in the background."""

__version__ = "0.1.0"
APP_NAME = "Sidestream"
