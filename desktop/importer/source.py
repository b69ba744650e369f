"""The file a person picked, as JSON: a ``.json`` file, or ChatGPT's ``.zip``.

A ZIP archive is recognised by its first bytes, whatever its name, and
must hold ChatGPT's ``conversations.json`` (or, in newer exports, its parts
``conversations-000.json``, ``conversations-001.json``...), at its top or
in one folder. A file is read whole into memory, so its size (in a ZIP,
the unpacked size, checked before unpacking) is capped.
"""

from __future__ import annotations

import json
import os
import re
import stat
import zipfile
import zlib
from pathlib import Path, PurePosixPath
from typing import Any

from desktop.importer.errors import FileTooLarge, NotJson, UnknownFormat, UnreadableFile

MAX_IMPORT_BYTES = 512 * 1024 * 1024
"""The largest file (or unpacked ZIP content) read: JSON takes several times
its size in memory once parsed."""

_ZIP_MAGIC = b"PK\x03\x04"
_SHARD = re.compile(r"conversations-\d+\.json")


def load_json(path: Path, max_bytes: int = MAX_IMPORT_BYTES) -> list[tuple[str, Any]]:
    """The JSON documents in ``path``: one, or a ChatGPT archive's parts in order.

    Each comes with the name to use in messages about it.
    """
    try:
        # Checked before opening: opening a pipe would wait for a writer.
        if path.is_dir():
            raise UnreadableFile(f"{path} is a folder; choose the export file in it.")
        if not stat.S_ISREG(path.stat().st_mode):
            raise UnreadableFile(f"{path} is not a file Sidestream can import.")
        with path.open("rb") as handle:
            head = handle.read(len(_ZIP_MAGIC))
            if head == _ZIP_MAGIC:
                return _from_zip(path, max_bytes)
            size = os.fstat(handle.fileno()).st_size
            if size > max_bytes:
                raise FileTooLarge(_too_large(path.name, size, max_bytes))
            data = head + handle.read(max_bytes + 1 - len(head))
    except FileNotFoundError:
        raise UnreadableFile(f"There is no file {path}.") from None
    except PermissionError:
        raise UnreadableFile(f"Sidestream may not read {path} (permission denied).") from None
    except OSError as exc:
        raise UnreadableFile(f"Sidestream cannot read {path}: {exc.strerror or exc}.") from exc
    if len(data) > max_bytes:  # it grew while being read
        raise FileTooLarge(_too_large(path.name, len(data), max_bytes))
    return [(path.name, parse_json(data, path.name))]


def parse_json(data: bytes, name: str) -> Any:
    try:
        return json.loads(data)
    except UnicodeDecodeError:
        raise NotJson(f"{name} is not a JSON file (it is not text).") from None
    except json.JSONDecodeError as exc:
        # A string never closed, or an error at the very end: the text stops
        # before the JSON does.
        if exc.msg.startswith("Unterminated string") or exc.pos >= len(exc.doc.rstrip()):
            raise NotJson(
                f"{name} ends before its JSON does: the file is cut short or was not "
                "completely saved."
            ) from None
        raise NotJson(
            f"{name} is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})."
        ) from None
    except RecursionError:
        raise NotJson(f"{name} is JSON nested too deeply to be a chat export.") from None


def _from_zip(path: Path, max_bytes: int) -> list[tuple[str, Any]]:
    try:
        with zipfile.ZipFile(path) as archive:
            members = _conversation_members(archive, path.name)
            unpacked = sum(member.file_size for member in members)
            if unpacked > max_bytes:
                raise FileTooLarge(_too_large(path.name, unpacked, max_bytes, unpacked=True))
            documents = []
            for member in members:
                with archive.open(member) as handle:
                    data = handle.read(max_bytes + 1)
                if len(data) > member.file_size:  # a header that lies about the size
                    raise NotJson(f"{path.name} is a damaged ZIP archive.")
                name = f"{path.name}: {member.filename}"
                documents.append((name, parse_json(data, name)))
            return documents
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise NotJson(f"{path.name} is a damaged ZIP archive ({exc}).") from None
    except (NotImplementedError, RuntimeError) as exc:  # an unknown compression, a password
        raise NotJson(f"Sidestream cannot unpack {path.name}: {exc}.") from None
    except OSError as exc:
        raise UnreadableFile(f"Sidestream cannot read {path}: {exc.strerror or exc}.") from exc


def _conversation_members(archive: zipfile.ZipFile, name: str) -> list[zipfile.ZipInfo]:
    """``conversations.json``, else its numbered parts, from the shallowest folder."""
    files = [
        info
        for info in archive.infolist()
        if not info.is_dir() and not info.filename.startswith("__MACOSX/")
    ]
    for wanted in (
        lambda base: base == "conversations.json",
        lambda base: _SHARD.fullmatch(base) is not None,
    ):
        found = [info for info in files if wanted(PurePosixPath(info.filename).name)]
        if found:
            top = min(len(PurePosixPath(info.filename).parts) for info in found)
            shallow = [info for info in found if len(PurePosixPath(info.filename).parts) == top]
            return sorted(shallow, key=lambda info: info.filename)
    raise UnknownFormat(
        f"{name} is a ZIP archive without conversations.json: Sidestream imports the ZIP of "
        "ChatGPT's data export (Settings, Data controls, Export data)."
    )


def _too_large(name: str, size: int, limit: int, *, unpacked: bool = False) -> str:
    what = "unpacks to" if unpacked else "is"
    return (
        f"{name} {what} {_megabytes(size)}; Sidestream imports at most {_megabytes(limit)} at once."
    )


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):,.0f} MB" if size >= 1024 * 1024 else f"{size:,} bytes"
