"""Rendering of chat transcripts: Markdown block splitting, code highlighting,
and the incrementally updated transcript document behind ``ChatView``."""
