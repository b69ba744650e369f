"""ChatGPT's data export (``conversations.json``), as Sidestream chats.

Each conversation's ``mapping`` is its message tree: nodes keyed by id,
each with its ``message`` (null for the root) and its ``parent``;
``current_node`` is the end of the path ChatGPT showed. Edited questions and
regenerated answers are branches, and stay branches here.

Not every node is a message a person saw, and Sidestream has no tool turns:

* the root (no message), hidden messages (``is_visually_hidden_from_
  conversation``), empty ones, tool results (role ``tool``) and the
  assistant's calls to tools (``recipient`` other than ``all``) are left
  out; what followed them follows their nearest kept ancestor;
* a reasoning model's ``thoughts`` become the reasoning of the reply they
  led to, and its ``reasoning_recap``'s duration how long it reasoned;
* custom instructions (``user_editable_context``, or an older export's
  ``is_user_system_message``) become the chat's system prompt;
* images and other attachments are not in the file's text: a part that was
  one reads "[image]" or "[attachment]"; a voice message's transcript is kept.

The chat shows the path to ``current_node`` (its nearest kept ancestor).
ChatGPT's model names (``model_slug``) are kept on each reply, but the chat
itself uses the default model of Sidestream's provider.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from desktop.core.imported import ImportedChat, ImportedMessage
from desktop.core.states import FinishReason, MessageStatus, Role
from desktop.importer import fields as f
from desktop.importer.errors import BadData
from desktop.importer.tree import parents_first

log = logging.getLogger("sidestream.import")

UNTITLED = "Untitled ChatGPT chat"
UNFINISHED = "It was unfinished in the ChatGPT export."
_ROLES = {"user": Role.USER, "assistant": Role.ASSISTANT, "system": Role.SYSTEM}
_FINISH = {"stop": FinishReason.STOP, "max_tokens": FinishReason.LENGTH}
_AUDIO = ("audio_asset_pointer", "real_time_user_audio_video_asset_pointer")


@dataclass(frozen=True, slots=True)
class Conversations:
    """What a ChatGPT export gives: its chats, and how many of its messages
    were left out (hidden, tool calls and results, empty ones)."""

    chats: list[ImportedChat]
    left_out: int
    empty: int  # conversations with no message to show, not imported


@dataclass(frozen=True, slots=True)
class _Node:
    """One node of the mapping, read: a message to keep, or what it carries on."""

    message: ImportedMessage | None = None  # None: left out
    reasoning: str = ""  # a reasoning model's thoughts, for the reply they lead to
    seconds: float | None = None
    instructions: str = ""  # custom instructions: the chat's system prompt
    counted: bool = False  # a message left out that the report counts


def read_conversations(conversations: list[Any], name: str) -> Conversations:
    chats: list[ImportedChat] = []
    left_out = empty = 0
    for index, raw in enumerate(conversations, 1):
        chat, skipped = _conversation(raw, f"Conversation {index}")
        left_out += skipped
        if chat is None:
            empty += 1
        else:
            chats.append(chat)
    if not chats:
        raise BadData(f"{name} holds no conversation with a message to import.")
    return Conversations(chats, left_out, empty)


def _conversation(raw: object, where: str) -> tuple[ImportedChat | None, int]:
    data = f.obj(raw, where)
    title = f.text(data, "title", where, default=None)
    if title is not None:
        where = f"{where} (“{title}”)"
    if "mapping" not in data:
        raise BadData(f"{where} has no “mapping” (its messages).")
    mapping = f.obj(data["mapping"], f"{where}: “mapping”")
    keys = list(mapping)
    parent_of: dict[str, str | None] = {}
    nodes: dict[str, dict[str, Any]] = {}
    for key in keys:
        raw_node = f.obj(mapping[key], f"{where}, node {key}")
        parent_of[key] = f.text(raw_node, "parent", f"{where}, node {key}", default=None)
        nodes[key] = raw_node
    ordered = parents_first(_by_time(keys, nodes), parent_of, where)
    created = f.number(data, "create_time", where, default=None)
    start = None if created is None else f.from_epoch(created, "create_time", where)
    # A message without a time takes its parent's; the first ones the chat's,
    # else the earliest in the file, else the chat's last update.
    earliest = _earliest(nodes) or f.number(data, "update_time", where, default=None)
    known = start or (None if earliest is None else f.from_epoch(earliest, "create_time", where))

    messages: list[ImportedMessage] = []
    anchor: dict[str, int | None] = {}  # node -> index of its nearest kept ancestor-or-self
    carried: dict[str, _Node] = {}  # node -> reasoning on its way down to a reply
    times: dict[str, datetime | None] = {}
    instructions = ""
    left_out = 0
    for key in ordered:
        parent = parent_of[key]
        above = None if parent is None else anchor[parent]
        fallback = known if parent is None else times[parent]
        node = _read_node(nodes[key], f"{where}, message {key}", fallback)
        times[key] = fallback if node.message is None else node.message.created_at
        instructions = instructions or node.instructions
        left_out += node.counted
        before = _Node() if parent is None else carried[parent]
        if node.message is None:
            anchor[key] = above
            carried[key] = _Node(
                reasoning=_joined(before.reasoning, node.reasoning),
                seconds=node.seconds if node.seconds is not None else before.seconds,
            )
            continue
        message = replace(node.message, parent=above)
        if message.role is Role.ASSISTANT and (before.reasoning or before.seconds is not None):
            message = replace(message, reasoning=before.reasoning, reasoning_seconds=before.seconds)
        anchor[key] = len(messages)
        carried[key] = _Node()
        messages.append(message)
    if not messages:
        return None, left_out
    active = _active(data, anchor, messages, where)
    first = min(m.created_at for m in messages)
    last = max(m.updated_at or m.created_at for m in messages)
    updated = f.number(data, "update_time", where, default=None)
    return (
        ImportedChat(
            title=title or UNTITLED,
            created_at=start or first,
            updated_at=last if updated is None else f.from_epoch(updated, "update_time", where),
            messages=tuple(messages),
            active=active,
            system_prompt=instructions,
            # Without a time of its own, a copy here is looked for by its title.
            same_as=() if start is None else (start,),
        ),
        left_out,
    )


def _earliest(nodes: dict[str, dict[str, Any]]) -> float | None:
    times = [
        _real(node["message"].get("create_time"))
        for node in nodes.values()
        if isinstance(node.get("message"), dict)
    ]
    found = [t for t in times if t is not None]
    return min(found) if found else None


def _by_time(keys: list[str], nodes: dict[str, dict[str, Any]]) -> list[str]:
    """The nodes by when they were written (siblings: the older version first);
    nodes without a time keep their place ahead of the others."""

    def when(key: str) -> float:
        message = nodes[key].get("message")
        value = _real(message.get("create_time")) if isinstance(message, dict) else None
        return float("-inf") if value is None else value

    return sorted(keys, key=when)


def _active(
    data: dict[str, Any], anchor: dict[str, int | None], messages: list[ImportedMessage], where: str
) -> int:
    current = f.text(data, "current_node", where, default=None)
    if current is not None and current in anchor:
        shown = anchor[current]
        if shown is not None:
            return shown
    elif current is not None:
        # Debug: ``where`` holds the chat's title, which is the user's text.
        log.debug(
            "%s: current_node %s is not in its mapping; showing the newest path", where, current
        )
    return len(messages) - 1  # the last one placed has nothing after it: a leaf


def _read_node(node: dict[str, Any], where: str, fallback: datetime | None) -> _Node:
    raw = node.get("message")
    if raw is None:
        return _Node()
    message = f.obj(raw, where)
    author = f.obj(message.get("author"), f"{where}: “author”")
    role = f.text(author, "role", where)
    content = f.obj(message.get("content"), f"{where}: “content”")
    kind = f.text(content, "content_type", where)
    metadata = message.get("metadata")
    metadata = metadata if isinstance(metadata, dict) else {}
    if kind == "user_editable_context":
        return _Node(instructions=_instructions(content))
    if kind == "thoughts":
        return _Node(reasoning=_thoughts(content))
    if kind == "reasoning_recap":
        seconds = _real(metadata.get("finished_duration_sec"))
        return _Node(seconds=seconds if seconds is not None and seconds >= 0 else None)
    if role == "system" and metadata.get("is_user_system_message"):
        return _Node(instructions=_text(kind, content))
    recipient = message.get("recipient")
    to_tool = role == "assistant" and recipient not in (None, "all")
    hidden = bool(metadata.get("is_visually_hidden_from_conversation"))
    text = "" if to_tool or hidden or role not in _ROLES else _text(kind, content)
    if not text.strip():
        return _Node(counted=True)
    created = f.number(message, "create_time", where, default=None)
    updated = f.number(message, "update_time", where, default=None)
    created_at = fallback if created is None else f.from_epoch(created, "create_time", where)
    if created_at is None:
        created_at = datetime.now(UTC).replace(tzinfo=None)
    status, finish, reason = _ending(_ROLES[role], message, metadata)
    model = metadata.get("model_slug")
    return _Node(
        ImportedMessage(
            parent=None,
            role=_ROLES[role],
            content=text,
            created_at=created_at,
            updated_at=None if updated is None else f.from_epoch(updated, "update_time", where),
            status=status,
            reason=reason,
            finish=finish,
            model=model if isinstance(model, str) and role == "assistant" else None,
        )
    )


def _ending(
    role: Role, message: dict[str, Any], metadata: dict[str, Any]
) -> tuple[MessageStatus, FinishReason | None, str | None]:
    """A reply's status, why the model ended it, and why it was cut short."""
    if role is not Role.ASSISTANT:
        return MessageStatus.COMPLETE, None, None
    details = metadata.get("finish_details")
    ended = details.get("type") if isinstance(details, dict) else None
    status = message.get("status")
    if ended == "interrupted" or status == "finished_partial_completion":
        return MessageStatus.STOPPED, None, None
    if status == "in_progress":
        return MessageStatus.INTERRUPTED, None, UNFINISHED
    return MessageStatus.COMPLETE, _FINISH.get(ended) if isinstance(ended, str) else None, None


def _text(kind: str, content: dict[str, Any]) -> str:
    """The words of a message's content (a code block as a fenced block)."""
    if kind == "code":
        code = content.get("text")
        if not isinstance(code, str):
            return ""
        language = content.get("language")
        fence = language if isinstance(language, str) and language != "unknown" else ""
        return f"```{fence}\n{code.rstrip()}\n```"
    parts = content.get("parts")
    if isinstance(parts, list):
        return _joined(*(_part(part) for part in parts))
    value = content.get("text")
    return value if isinstance(value, str) else ""


def _part(part: object) -> str:
    if isinstance(part, str):
        return part
    if not isinstance(part, dict):
        return ""
    kind = part.get("content_type")
    if kind == "image_asset_pointer":
        return "[image]"
    if kind in _AUDIO:
        return ""  # the words are in its transcription part
    words = part.get("text")
    if isinstance(words, str):
        return words
    return "[attachment]"


def _thoughts(content: dict[str, Any]) -> str:
    thoughts = content.get("thoughts")
    if not isinstance(thoughts, list):
        return ""
    texts = []
    for thought in thoughts:
        if isinstance(thought, dict):
            summary, body = thought.get("summary"), thought.get("content")
            texts.append(
                _joined(
                    summary if isinstance(summary, str) else "",
                    body if isinstance(body, str) else "",
                )
            )
    return _joined(*texts)


def _instructions(content: dict[str, Any]) -> str:
    values = (content.get("user_profile"), content.get("user_instructions"))
    return _joined(*(value for value in values if isinstance(value, str)))


def _real(value: object) -> float | None:
    """A finite number, or None (JSON's true and false are no numbers here)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _joined(*texts: str) -> str:
    return "\n\n".join(text for text in texts if text.strip())
