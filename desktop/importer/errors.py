"""Why a file cannot be imported, in words for the person who chose it.

Every error is raised while the file is read and checked, before anything is
written, so each one means the same for the store: nothing was imported.
``str(error)`` is the whole message, that last sentence included.
"""

from __future__ import annotations

NOTHING_IMPORTED = "Nothing was imported."


class ImportFileError(Exception):
    """A file Sidestream cannot import; ``reason`` says why, ``str()`` says it all."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.reason} {NOTHING_IMPORTED}"


class UnreadableFile(ImportFileError):
    """The file is missing, a folder, not ours to read, or the disk failed."""


class FileTooLarge(ImportFileError):
    """Larger than Sidestream reads into memory at once."""


class NotJson(ImportFileError):
    """Not JSON text (cut short, not UTF-8, or something else entirely), or a damaged ZIP."""


class UnknownFormat(ImportFileError):
    """JSON (or a ZIP archive), but no export Sidestream knows."""


class UnsupportedVersion(ImportFileError):
    """A Sidestream export from a newer (or unknown) version."""


class BadData(ImportFileError):
    """A known format with a field missing or of the wrong type, or nothing in it."""


class BrokenTree(BadData):
    """A chat whose messages do not form a tree: a parent missing, or a cycle."""
