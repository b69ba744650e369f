"""``sidestream export``: chats as JSON or Markdown, straight from the store (no Qt)."""

from __future__ import annotations

import base64
import json
import logging
import os
import stat
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from desktop.attachments import describe_size
from desktop.core.models import Attachment, Message, Session
from desktop.core.states import MessageStatus, Role
from desktop.store import Store, StoreError, StoreErrorKind, resolve_data_dir

log = logging.getLogger("sidestream.export")

# 2: chats are trees (each message's parent, the active leaf) with a system prompt.
# 3: attached files (each message's "attachments", the files once each in
# "files", base64 under their SHA-256), and pinned, archived, folder.
EXPORT_VERSION = 3

_ROLE_HEADINGS = {Role.USER: "You", Role.ASSISTANT: "Assistant", Role.SYSTEM: "System"}


def _chats(
    store: Store, chat_ids: Sequence[int] | None, *, tree: bool = True
) -> list[tuple[Session, list[Message]]]:
    """The chats and their messages: every branch (``tree``), or the path each shows."""
    if chat_ids:
        sessions = []
        for chat_id in chat_ids:
            session = store.get_session(chat_id)
            if session is None:
                raise LookupError(f"there is no chat with id {chat_id}")
            sessions.append(session)
    else:
        sessions = sorted(store.list_sessions(archived=None), key=lambda s: s.id)
    messages = store.list_messages if tree else store.active_path
    return [(s, messages(s.id)) for s in sessions]


def _message_json(m: Message) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": m.id,
        "parent": m.parent_id,
        "role": m.role.value,
        "content": m.content,
        "status": m.status.value,
        "created_at": m.created_at.isoformat(),
    }
    for key in ("error", "reason", "model", "input_tokens", "output_tokens"):
        value = getattr(m, key)
        if value is not None:
            data[key] = value
    if m.reasoning:
        data["reasoning"] = m.reasoning
    if m.reasoning_seconds is not None:
        data["reasoning_seconds"] = m.reasoning_seconds
    if m.finish is not None:
        data["finish"] = m.finish.value
    if m.input_tokens is not None or m.output_tokens is not None:
        data["usage"] = {"input_tokens": m.input_tokens, "output_tokens": m.output_tokens}
    if m.attachments:
        data["attachments"] = [_attachment_json(a) for a in m.attachments]
    return data


def _attachment_json(a: Attachment) -> dict[str, Any]:
    data: dict[str, Any] = {
        "sha256": a.sha256,
        "name": a.name,
        "mime": a.mime,
        "kind": a.kind.value,
        "size": a.size,
    }
    if a.text is not None:
        data["text"] = a.text
    return data


def _files_json(store: Store, chats: list[tuple[Session, list[Message]]]) -> dict[str, str]:
    """Every attached file of the chats, once, base64 under its SHA-256 (a file
    missing from the data folder is left out; its message still names it)."""
    files: dict[str, str] = {}
    for _, messages in chats:
        for m in messages:
            for a in m.attachments:
                if a.sha256 in files:
                    continue
                try:
                    files[a.sha256] = base64.b64encode(store.files.read(a.sha256)).decode("ascii")
                except OSError:
                    log.warning("attached file %s (%s) is missing", a.sha256[:12], a.name)
    return files


def export_json(store: Store, chat_ids: Sequence[int] | None = None) -> str:
    found = _chats(store, chat_ids)
    chats = [
        {
            "id": s.id,
            "title": s.title,
            "model": s.model,
            "muted": s.muted,
            "created_at": s.created_at.isoformat(),
            "updated_at": s.updated_at.isoformat(),
            "system_prompt": s.system_prompt,
            # The parameters set for the chat ({}: the provider's defaults).
            "params": json.loads(s.params.to_json() or "{}"),
            # The chat is a tree (each message names its parent); it shows the
            # path from its first message to this leaf.
            "active_leaf": s.active_leaf_id,
            "pinned": s.pinned,
            "archived": s.archived,
            "folder": s.folder,
            "messages": [_message_json(m) for m in messages],
        }
        for s, messages in found
    ]
    document: dict[str, Any] = {
        "format": "sidestream-export",
        "version": EXPORT_VERSION,
        "chats": chats,
    }
    files = _files_json(store, found)
    if files:
        document["files"] = files
    return json.dumps(document, indent=2)


def export_markdown(store: Store, chat_ids: Sequence[int] | None = None) -> str:
    out: list[str] = []
    for session, messages in _chats(store, chat_ids, tree=False):
        out.append(f"# {session.title}\n")
        model = session.model or "default model"
        meta = f"_Chat {session.id}, {model}, {session.created_at:%Y-%m-%d %H:%M}_"
        out.append(meta + "\n")
        for m in messages:
            heading = _ROLE_HEADINGS[m.role]
            if m.status is not MessageStatus.COMPLETE:
                heading += f" ({m.status.value}"
                heading += f": {m.reason})" if m.reason else ")"
            out.append(f"## {heading}\n")
            if m.reasoning:
                out.append(_thinking_markdown(m))
            if m.content:
                out.append(m.content.rstrip() + "\n")
            for a in m.attachments:
                out.append(f"> Attached: {a.name} ({a.mime}, {describe_size(a.size)})\n")
            if m.finish is not None and m.finish.human is not None:
                out.append(f"> Finished: {m.finish.value}. {m.finish.human}\n")
            if m.error:
                out.append(f"> Error: {m.error}\n")
            if m.input_tokens is not None or m.output_tokens is not None:
                out.append(f"_{_usage_text(m)}_\n")
        out.append("")
    return "\n".join(out)


def _thinking_markdown(m: Message) -> str:
    """The reasoning as a collapsed "Thinking" section (a quote where <details>
    is not rendered), before the answer."""
    summary = "Thinking"
    if m.reasoning_seconds is not None:
        summary = f"Thought for {max(1, round(m.reasoning_seconds))} s"
    quoted = "\n".join(f"> {line}" if line else ">" for line in m.reasoning.rstrip().splitlines())
    return f"<details>\n<summary>{summary}</summary>\n\n{quoted}\n\n</details>\n"


def _usage_text(m: Message) -> str:
    parts = []
    if m.input_tokens is not None:
        parts.append(f"{m.input_tokens} input tokens")
    if m.output_tokens is not None:
        parts.append(f"{m.output_tokens} output tokens")
    return ", ".join(parts)


EXPORT_MODE = 0o600


def export_main(
    data_dir: Path | None, fmt: str, chat_ids: Sequence[int] | None, output: Path | None
) -> int:
    """``sidestream export``: exit code 0, or 1 with the reason on standard error.

    A file named by ``-o`` is made private (0600) before a chat is in it, and a
    failed export leaves no file it created behind.
    """
    created = False
    try:
        if output is not None:
            created = _private_output(output)
        code = _export(data_dir, fmt, chat_ids, output)
    except OSError as exc:
        code = 1
        sys.stderr.write(f"sidestream export: cannot write {output}: {exc.strerror or exc}\n")
    if code != 0 and created and output is not None:
        output.unlink(missing_ok=True)
    return code


def _private_output(path: Path) -> bool:
    """Create ``path`` 0600, or make the existing file 0600; True if it was created.

    Done before anything is written: chats must never sit in a file that
    others may read, not even for a moment. A link is followed (the user
    named it); a device or pipe (``/dev/stdout``) is left as it is.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, EXPORT_MODE)
    except FileExistsError:
        st = path.stat()
        mode = stat.S_IMODE(st.st_mode)
        if stat.S_ISREG(st.st_mode) and mode & 0o077:
            try:
                path.chmod(mode & EXPORT_MODE)
            except OSError as exc:
                reason = f"cannot make it private ({exc.strerror}); nothing was written"
                raise OSError(exc.errno, reason) from exc
        return False
    os.close(fd)
    path.chmod(EXPORT_MODE)  # the umask may have taken more than group and others
    return True


def _export(
    data_dir: Path | None, fmt: str, chat_ids: Sequence[int] | None, output: Path | None
) -> int:
    try:
        # Exporting only reads: a damaged file is reported and left as it is
        # (the app, on its next start, keeps it aside and starts afresh).
        store = Store.open(resolve_data_dir(data_dir), replace_damaged=False)
    except StoreError as exc:
        hint = ""
        if exc.kind is StoreErrorKind.CORRUPT:
            hint = (
                " Nothing was exported and the file was left as it is: Sidestream keeps"
                " it aside as a backup when it next starts."
            )
        sys.stderr.write(f"sidestream export: {exc.message}{hint}\n")
        return 1
    try:
        text = export_json(store, chat_ids) if fmt == "json" else export_markdown(store, chat_ids)
    except LookupError as exc:
        sys.stderr.write(f"sidestream export: {exc}\n")
        return 1
    finally:
        store.close()
    if output is None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    else:
        output.write_text(text, encoding="utf-8")
    return 0
