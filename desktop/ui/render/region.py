"""One message's part of the transcript document, and the marks on its blocks.

A :class:`Region` keeps where a message starts in the document and how long
each of its parts is (header, files, thinking, done, tail, status), so that a change to one
message moves everything after it by a known delta. The renderer marks the
blocks it writes itself with a :class:`BlockKind` (``BLOCK_KIND``) and the
message they belong to (``BLOCK_MESSAGE``); :class:`RenderStats` counts its
work for the tests and the benchmark.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from PySide6.QtGui import QTextFormat

from desktop.core.models import Attachment, Message
from desktop.core.states import FinishReason, MessageStatus, Role
from desktop.ui.render.blocks import BlockSplitter, Fence, TableSpan
from desktop.ui.render.status import StatusLine
from desktop.ui.render.tables import TablePlan, plan_text
from desktop.ui.render.versions import VersionMark

# A message's first MARKDOWN_LIMIT characters are rendered as Markdown (about
# 0.3 s of layout at most); the rest is shown as plain text, up to
# DISPLAY_LIMIT characters in all. Copy and export always take the whole text.
MARKDOWN_LIMIT = 100_000
DISPLAY_LIMIT = 1_000_000

_P = QTextFormat.Property
CODE_LANGUAGE = _P.BlockCodeLanguage
CODE_FENCE = _P.BlockCodeFence
BLOCK_KIND = _P.UserProperty.value + 1
BLOCK_MESSAGE = _P.UserProperty.value + 2


class BlockKind(enum.IntEnum):
    """What the renderer put in a block (the ``BLOCK_KIND`` property)."""

    HEADER = 1
    STATUS = 2
    CODE_LABEL = 3
    EARLIER = 4
    TABLE_TEXT = 5  # a table shown as text: its label and its lines
    THINKING_LINE = 6  # "Thinking…" / "Thought for 12 s ▸" above a reply
    THINKING = 7  # the reasoning shown in an open Thinking section
    FILES = 8  # the files attached to a user message (render.attachments)


@dataclass
class RenderStats:
    """Counters the tests and the benchmark read."""

    updates: int = 0  # public calls that changed the document
    markdown_imports: int = 0  # Markdown fragments imported
    markdown_chars: int = 0  # characters of Markdown imported
    plain_appends: int = 0  # tail updates done by appending plain text
    body_rebuilds: int = 0  # message bodies re-rendered from scratch
    loads: int = 0
    bulk_fallbacks: int = 0
    table_cells: int = 0  # cells of tables laid out, outside the one-text import
    text_tables: int = 0  # tables inserted whole as text (not those grown row by row)
    text_table_chars: int = 0  # characters of those
    thinking_renders: int = 0  # Thinking sections written whole (line and reasoning)
    thinking_appends: int = 0  # reasoning appended to an open Thinking section
    thinking_chars: int = 0  # characters of reasoning put in the document
    header_renders: int = 0  # headers written again (their version switcher changed)


@dataclass(eq=False)
class TailTable:
    """The tail ends in a table shown as text that may still grow."""

    start: int  # where the table starts in the message text
    shown_to: int  # the message text up to here is shown
    column: int  # characters in the last line shown


@dataclass(eq=False)
class ThinkingPart:
    """The Thinking section of a reply in the document (see
    :mod:`desktop.ui.render.thinking`): its line, and while it is open the
    reasoning shown as plain text."""

    line_chars: int = 0  # the line, with its leading paragraph separator
    body_chars: int = 0  # the reasoning shown, with its leading separator
    shown: int = 0  # characters of the reasoning shown
    column: int = 0  # characters in the last line shown
    open: bool = False  # the reasoning is shown
    line: tuple[str, str] = ("", "")  # what the line says: (label, note)
    pinned: bool | None = None  # opened or closed by the user (None: as the reply goes)

    @property
    def chars(self) -> int:
        return self.line_chars + self.body_chars


@dataclass(eq=False)
class Region:
    """One message's part of the document (positions in document units)."""

    message_id: int
    session_id: int
    role: Role
    text: str
    status: MessageStatus
    error: str | None = None
    reason: str | None = None
    model: str | None = None
    reasoning: str = ""
    finish: FinishReason | None = None
    reasoning_seconds: float | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    # While a live reply waits for its first token: since when (time.time()).
    waiting_since: float | None = None
    attachments: tuple[Attachment, ...] = ()
    start: int = 0
    header_chars: int = 0
    files_chars: int = 0  # the files line under a user message's header (0: none)
    thinking: ThinkingPart = field(default_factory=ThinkingPart)
    done_chars: int = 0
    tail_chars: int = 0
    status_chars: int = 0
    code_blocks: int = 0  # code blocks labelled in the done part
    splitter: BlockSplitter | None = None  # None: the body was rendered whole
    tail_plain: bool = False
    tail_fence: Fence | None = None
    plain_column: int = 0  # characters in the last line of a plain tail
    table_cells: int = 0  # cells of the done part's tables laid out as tables
    text_tables: list[TableSpan] = field(default_factory=list)  # done, shown as text
    tail_tables: tuple[TableSpan, ...] = ()  # the tail's tables shown as text
    tail_code_blocks: int = 0  # code blocks labelled in the tail
    tail_table: TailTable | None = None
    table_plan: tuple[int, int, TablePlan] | None = None  # see table_plan()
    # Past MARKDOWN_LIMIT: text[plain_from:shown_to] is the tail, as plain text.
    overflow: bool = False
    plain_from: int = 0
    shown_to: int = 0
    status_shown: StatusLine = field(default_factory=StatusLine)
    versions: VersionMark | None = None  # the header's switcher (None: one version)
    in_document: bool = False

    @classmethod
    def from_message(cls, message: Message) -> Region:
        return cls(
            message_id=message.id,
            session_id=message.session_id,
            role=message.role,
            text=message.content,
            status=message.status,
            error=message.error,
            reason=message.reason,
            model=message.model,
            reasoning=message.reasoning,
            finish=message.finish,
            reasoning_seconds=message.reasoning_seconds,
            input_tokens=message.input_tokens,
            output_tokens=message.output_tokens,
            attachments=message.attachments,
        )

    def to_message(self) -> Message:
        return Message(
            id=self.message_id,
            session_id=self.session_id,
            role=self.role,
            content=self.text,
            status=self.status,
            error=self.error,
            reason=self.reason,
            model=self.model,
            reasoning=self.reasoning,
            finish=self.finish,
            reasoning_seconds=self.reasoning_seconds,
            input_tokens=self.input_tokens,
            output_tokens=self.output_tokens,
            attachments=self.attachments,
        )

    @property
    def length(self) -> int:
        return (
            self.header_chars
            + self.files_chars
            + self.thinking.chars
            + self.done_chars
            + self.tail_chars
            + self.status_chars
        )

    @property
    def end(self) -> int:
        """Position just after the region's last character."""
        return self.start + self.length

    @property
    def files_start(self) -> int:
        """The end of the header: the files line (if any) follows it."""
        return self.start + self.header_chars

    @property
    def thinking_start(self) -> int:
        """The end of the files line: the Thinking section follows it."""
        return self.files_start + self.files_chars

    @property
    def body_start(self) -> int:
        return self.thinking_start + self.thinking.chars

    @property
    def done_end(self) -> int:
        return self.body_start + self.done_chars

    @property
    def tail_end(self) -> int:
        return self.done_end + self.tail_chars

    @property
    def hidden_chars(self) -> int:
        """Characters of the text past DISPLAY_LIMIT, which the view does not show."""
        return len(self.text) - self.shown_to if self.overflow else 0


def table_plan(region: Region) -> TablePlan:
    """The plan for the tables of a message's Markdown part (kept while its text is)."""
    text = region.text
    cached = region.table_plan
    if cached is not None and cached[:2] == (len(text), hash(text)):
        return cached[2]
    plan = plan_text(text[:MARKDOWN_LIMIT])
    region.table_plan = (len(text), hash(text), plan)
    return plan


def renders_alone(region: Region) -> bool:
    """Whether a message is rendered on its own, outside the one-text import:
    it is too long, or it holds a table shown as text."""
    return len(region.text) > MARKDOWN_LIMIT or bool(table_plan(region).as_text)


def forget_tables(region: Region) -> None:
    region.table_cells = 0
    region.text_tables = []
    forget_tail_tables(region)


def forget_tail_tables(region: Region) -> None:
    region.tail_tables = ()
    region.tail_code_blocks = 0
    region.tail_table = None
