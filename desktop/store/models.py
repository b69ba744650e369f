"""Peewee models of the current schema, and their conversion to core records.

The schema itself is created by :mod:`desktop.store.migrations`; these models
only describe it for queries (a test checks that the two agree).

The model classes are built per database by :func:`build_models` instead of
being bound to one global database, so that two stores (two files) can be
open in one process without rebinding classes under each other's feet.

Timestamps are stored as naive UTC, so that sorting by them survives DST and
time-zone changes, and handed out as naive local time like the defaults of
the core records.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import peewee

from desktop.core.models import (
    Attachment,
    AttachmentKind,
    GenerationParams,
    Message,
    Preset,
    ProviderKind,
    Session,
    StoredProvider,
    blocks_from_json,
)
from desktop.core.states import FinishReason, MessageStatus, Role


def utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def to_local(stored: datetime) -> datetime:
    # fromtimestamp gives naive local time, with the UTC offset of that
    # instant (DST included), in one C call.
    return datetime.fromtimestamp(stored.replace(tzinfo=UTC).timestamp())


class UtcDateTimeField(peewee.DateTimeField):
    """A naive-UTC timestamp stored as ISO text.

    Parsing with ``fromisoformat`` (C) instead of peewee's list of strptime
    formats keeps reading a 1,000-message chat cheap.
    """

    def db_value(self, value: object) -> object:
        return value.isoformat(" ") if isinstance(value, datetime) else value

    def python_value(self, value: object) -> object:
        return datetime.fromisoformat(value) if isinstance(value, str) else value


# message_chunks.kind: what a chunk appends to.
CHUNK_TEXT = 0
CHUNK_REASONING = 1


@dataclass(frozen=True, slots=True)
class Models:
    """The model classes bound to one database."""

    provider: Any
    session: Any
    message: Any
    chunk: Any
    setting: Any
    preset: Any
    attachment: Any

    @property
    def all(self) -> tuple[Any, ...]:
        return (
            self.provider,
            self.preset,
            self.session,
            self.message,
            self.chunk,
            self.setting,
            self.attachment,
        )


def build_models(db: peewee.Database) -> Models:
    class BaseModel(peewee.Model):
        class Meta:
            database = db
            legacy_table_names = False

    class ProviderRow(BaseModel):
        name = peewee.TextField(unique=True)
        kind = peewee.TextField()
        base_url = peewee.TextField()
        default_model = peewee.TextField(default="")
        created_at = UtcDateTimeField(default=utc_now)

        class Meta:
            table_name = "providers"

    class PresetRow(BaseModel):
        name = peewee.TextField(unique=True)
        system_prompt = peewee.TextField(default="")
        provider = peewee.ForeignKeyField(
            ProviderRow, null=True, on_delete="SET NULL", column_name="provider_id"
        )
        model = peewee.TextField(default="")
        params = peewee.TextField(null=True)  # JSON of GenerationParams
        created_at = UtcDateTimeField(default=utc_now)

        class Meta:
            table_name = "presets"

    class SessionRow(BaseModel):
        title = peewee.TextField()
        provider = peewee.ForeignKeyField(
            ProviderRow, null=True, on_delete="SET NULL", column_name="provider_id"
        )
        model = peewee.TextField(default="")
        muted = peewee.BooleanField(default=False)
        unread = peewee.BooleanField(default=False)
        created_at = UtcDateTimeField(default=utc_now)
        updated_at = UtcDateTimeField(default=utc_now, index=True)
        # The end of the path of the tree the chat shows (no FK: it may point
        # at a message being added in the same transaction).
        active_leaf_id = peewee.IntegerField(null=True)
        system_prompt = peewee.TextField(default="")
        params = peewee.TextField(null=True)  # JSON of GenerationParams
        preset = peewee.ForeignKeyField(
            PresetRow, null=True, on_delete="SET NULL", column_name="preset_id"
        )
        pinned = peewee.BooleanField(default=False)
        archived = peewee.BooleanField(default=False)
        folder = peewee.TextField(default="")

        class Meta:
            table_name = "sessions"

    class MessageRow(BaseModel):
        session = peewee.ForeignKeyField(
            SessionRow, on_delete="CASCADE", column_name="session_id", index=False
        )
        role = peewee.TextField()
        content = peewee.TextField(default="")
        status = peewee.TextField(index=True)
        error = peewee.TextField(null=True)
        reason = peewee.TextField(null=True)
        cursor = peewee.TextField(null=True)
        input_tokens = peewee.IntegerField(null=True)
        output_tokens = peewee.IntegerField(null=True)
        model = peewee.TextField(null=True)
        created_at = UtcDateTimeField(default=utc_now)
        updated_at = UtcDateTimeField(default=utc_now)
        reasoning = peewee.TextField(default="")
        reasoning_blocks = peewee.TextField(null=True)  # JSON list of ReasoningBlock
        finish = peewee.TextField(null=True)
        reasoning_seconds = peewee.FloatField(null=True)
        parent = peewee.ForeignKeyField(
            "self", null=True, on_delete="CASCADE", column_name="parent_id", index=False
        )

        class Meta:
            table_name = "messages"
            indexes = ((("session", "id"), False),)

    class ChunkRow(BaseModel):
        message = peewee.ForeignKeyField(
            MessageRow, on_delete="CASCADE", column_name="message_id", index=False
        )
        text = peewee.TextField()
        kind = peewee.IntegerField(default=CHUNK_TEXT)

        class Meta:
            table_name = "message_chunks"
            indexes = ((("message", "id"), False),)

    class AttachmentRow(BaseModel):
        message = peewee.ForeignKeyField(
            MessageRow, on_delete="CASCADE", column_name="message_id", index=False
        )
        position = peewee.IntegerField()
        sha256 = peewee.TextField(index=True)
        name = peewee.TextField()
        mime = peewee.TextField()
        kind = peewee.TextField()
        size = peewee.IntegerField()
        text = peewee.TextField(null=True)

        class Meta:
            table_name = "attachments"
            indexes = ((("message", "position"), False),)

    class SettingRow(BaseModel):
        key = peewee.TextField(primary_key=True)
        value = peewee.TextField()

        class Meta:
            table_name = "settings"

    return Models(
        ProviderRow, SessionRow, MessageRow, ChunkRow, SettingRow, PresetRow, AttachmentRow
    )


def session_record(row: Any) -> Session:
    return Session(
        id=row.id,
        title=row.title,
        provider_id=row.provider_id,
        model=row.model,
        muted=bool(row.muted),
        created_at=to_local(row.created_at),
        updated_at=to_local(row.updated_at),
        unread=bool(row.unread),
        active_leaf_id=row.active_leaf_id,
        system_prompt=row.system_prompt or "",
        preset_id=row.preset_id,
        params=GenerationParams.from_json(row.params),
        pinned=bool(row.pinned),
        archived=bool(row.archived),
        folder=row.folder or "",
    )


# The columns session_from_row reads, in its order.
SESSION_COLUMNS = (
    "id",
    "title",
    "provider_id",
    "model",
    "muted",
    "created_at",
    "updated_at",
    "unread",
    "active_leaf_id",
    "system_prompt",
    "preset_id",
    "params",
    "pinned",
    "archived",
    "folder",
)


def session_from_row(row: tuple[Any, ...]) -> Session:
    """A session from a plain row of :data:`SESSION_COLUMNS` (no peewee row object:
    the chat list reads thousands)."""
    (sid, title, provider_id, model, muted, created, updated, unread, leaf, prompt, preset) = row[
        :11
    ]
    params, pinned, archived, folder = row[11:]
    return Session(
        id=sid,
        title=title,
        provider_id=provider_id,
        model=model,
        muted=bool(muted),
        created_at=_local_text(created),
        updated_at=_local_text(updated),
        unread=bool(unread),
        active_leaf_id=leaf,
        system_prompt=prompt or "",
        preset_id=preset,
        params=GenerationParams.from_json(params) if params and params != "{}" else _NO_PARAMS,
        pinned=bool(pinned),
        archived=bool(archived),
        folder=folder or "",
    )


_NO_PARAMS = GenerationParams()  # frozen: one shared by every chat without settings


def _local_text(stored: object) -> datetime:
    value = datetime.fromisoformat(stored) if isinstance(stored, str) else stored
    assert isinstance(value, datetime)
    return to_local(value)


def attachment_record(row: tuple[Any, ...]) -> Attachment:
    """An attachment from ``(sha256, name, mime, kind, size, text)``."""
    sha256, name, mime, kind, size, text = row
    try:
        known = AttachmentKind(kind)
    except ValueError:  # written by a newer Sidestream: its text, if any, is still text
        known = AttachmentKind.TEXT
    return Attachment(sha256=sha256, name=name, mime=mime, kind=known, size=size, text=text)


def message_columns(m: Any) -> tuple[Any, ...]:
    """The columns :func:`message_record` reads, in its order (tuples are cheapest)."""
    return (
        m.id,
        m.session,
        m.role,
        m.content,
        m.status,
        m.error,
        m.reason,
        m.cursor,
        m.input_tokens,
        m.output_tokens,
        m.model,
        m.created_at,
        m.updated_at,
        m.reasoning,
        m.reasoning_blocks,
        m.finish,
        m.reasoning_seconds,
        m.parent,
    )


def message_record(
    row: tuple[Any, ...],
    chunks: list[str] | None = None,
    reasoning_chunks: list[str] | None = None,
) -> Message:
    """A message whose content (and reasoning) includes the chunks flushed since
    it was last compacted."""
    head, tail = row[:13], row[13:]
    (mid, session_id, role, content, status, error, reason, cursor, tin, tout, model, ca, ua) = head
    reasoning, blocks, finish, reasoning_seconds, parent_id = tail
    if chunks:
        content = content + "".join(chunks)
    if reasoning_chunks:
        reasoning = reasoning + "".join(reasoning_chunks)
    return Message(
        id=mid,
        session_id=session_id,
        role=Role(role),
        content=content,
        status=MessageStatus(status),
        error=error,
        reason=reason,
        cursor=cursor,
        input_tokens=tin,
        output_tokens=tout,
        model=model,
        created_at=to_local(ca),
        updated_at=to_local(ua),
        reasoning=reasoning or "",
        reasoning_blocks=blocks_from_json(blocks),
        finish=_finish(finish),
        reasoning_seconds=reasoning_seconds,
        parent_id=parent_id,
    )


def _finish(value: str | None) -> FinishReason | None:
    if value is None:
        return None
    try:
        return FinishReason(value)
    except ValueError:  # written by a newer Sidestream
        return FinishReason.OTHER


def preset_record(row: Any) -> Preset:
    return Preset(
        id=row.id,
        name=row.name,
        system_prompt=row.system_prompt or "",
        provider_id=row.provider_id,
        model=row.model or "",
        params=GenerationParams.from_json(row.params),
    )


def provider_record(row: Any) -> StoredProvider:
    return StoredProvider(
        id=row.id,
        name=row.name,
        kind=ProviderKind(row.kind),
        base_url=row.base_url,
        default_model=row.default_model,
    )
