"""Split streaming Markdown into finished blocks and an open tail (pure, Qt-free).

A block is *finished* once a blank line outside any fenced code block is
followed by a line that starts in column 0: nothing that arrives later can
change how the text before that point renders (short of link reference
definitions, which a chat reply practically never uses). Everything after
the last such point is the open *tail*, the only part a renderer has to redo
while a reply streams in.

Two choices keep the splitter safe rather than clever:

- A blank line followed by an indented line is not a boundary: the indented
  line may continue a list item (``- item\\n\\n  more``) or an indented code
  block, and splitting there would pull it out of its container.
- Fence detection errs on the side of "inside a fence": a ```` ``` ```` or
  ``~~~`` line is taken as an opener even behind list markers, quote markers
  or deep indentation. Wrongly thinking a fence is open only delays splitting;
  wrongly thinking it closed would split a code block in two.

``BlockSplitter.feed`` is incremental: each call costs time proportional to
the new text plus the open tail, never to the whole reply.

The splitter also notes where GitHub tables are (:class:`TableSpan`), line
by line as it classifies them, so that a renderer can tell a table too large
to lay out before handing it to the Markdown importer. It errs on the side
of "a table": any line but a heading or a fence followed by a delimiter row
starts one (the importer also wants the header to start a paragraph), and
every following non-blank line of the same quote level is a row until a
blank line, a fence or a heading ends it, as the importer reads them (see
:func:`end_tables_before_blocks`). A table the importer would not see is at
worst shown as text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Container prefixes a fence may sit behind: indentation, quote markers and
# list markers, in any nesting.
_OPENER_PREFIX = re.compile(r"(?:[ \t]*(?:>|[-+*](?=[ \t])|\d{1,9}[.)](?=[ \t])))*[ \t]*")
# Closing fences never follow a list marker (that would be a new list item).
_CLOSER_PREFIX = re.compile(r"(?:[ \t]*>)*[ \t]*")
_BACKTICK_OPENER = re.compile(r"(`{3,})([^`]*)$")
_TILDE_OPENER = re.compile(r"(~{3,})(.*)$")
_CLOSER = re.compile(r"(`{3,}|~{3,})[ \t]*$")
_LIST_MARKER = re.compile(r"[-+*]|\d{1,9}[.)]")
# Any line that might open or close a fence (checked precisely afterwards).
_FENCE_LINE = re.compile(r"^[ \t>*+\-\d.)]*(?:`{3,}|~{3,}).*$", re.MULTILINE)

_BLANK_CHARS = " \t\r"

# The same with any indentation (a table in a list item), once quote markers are off.
_DELIMITER_ROW = re.compile(r"[ \t]*\|?[ \t]*:?-+:?[ \t]*(?:\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*\r?")
_DELIMITER_CELL = re.compile(r":?-+:?")
_QUOTE_PREFIX = re.compile(r"(?:[ \t]*>)*")
_ATX_HEADING = re.compile(r" {0,3}#{1,6}(?:[ \t]|\r?$)")


@dataclass(frozen=True, slots=True)
class TableSpan:
    """A table in the text fed to a splitter: ``text[start:end]``, from its
    header row to the end of its last row (without that row's newline)."""

    start: int
    end: int
    columns: int
    rows: int  # body rows, below the delimiter row
    open: bool = False  # the last table of the text so far: more rows may come

    @property
    def cells(self) -> int:
        """Cells the importer makes: the header row's and every body row's."""
        return (self.rows + 1) * self.columns

    @property
    def chars(self) -> int:
        return self.end - self.start


@dataclass(frozen=True, slots=True)
class Fence:
    """An open fenced code block: its marker character, length and container prefix."""

    char: str
    length: int
    prefix: str
    info: str = ""

    @property
    def closer(self) -> str:
        """A line that closes this fence inside the same container."""
        return self.prefix + self.char * self.length


def fence_opener(line: str) -> Fence | None:
    """The fence this line opens, or None."""
    prefix_match = _OPENER_PREFIX.match(line)
    prefix_end = prefix_match.end() if prefix_match else 0
    rest = line[prefix_end:].rstrip("\r")
    match = _BACKTICK_OPENER.match(rest) or _TILDE_OPENER.match(rest)
    if match is None:
        return None
    marker = match.group(1)
    # Keep only quote markers and indentation: list markers belong to the
    # item's first line, not to the lines that continue it.
    prefix = _LIST_MARKER.sub(lambda m: " " * len(m.group()), line[:prefix_end])
    return Fence(marker[0], len(marker), prefix, match.group(2).strip())


def closes_fence(line: str, fence: Fence) -> bool:
    """Whether this line closes ``fence``."""
    prefix_match = _CLOSER_PREFIX.match(line)
    rest = line[prefix_match.end() if prefix_match else 0 :].rstrip("\r")
    match = _CLOSER.match(rest)
    if match is None:
        return False
    marker = match.group(1)
    return marker[0] == fence.char and len(marker) >= fence.length


def is_blank(line: str) -> bool:
    return not line.strip(_BLANK_CHARS)


def _quote_level(line: str) -> tuple[int, str]:
    """How many quote markers lead the line, and the line without them."""
    prefix = _QUOTE_PREFIX.match(line)
    end = prefix.end() if prefix else 0
    return line.count(">", 0, end), line[end:]


def table_columns(line: str) -> int:
    """The columns of a table whose delimiter row this line is; 0 if it is none.

    A delimiter row needs a pipe (``---`` alone underlines a heading).
    """
    if "|" not in line or "-" not in line:
        return 0
    _level, body = _quote_level(line)
    if "|" not in body or _DELIMITER_ROW.fullmatch(body) is None:
        return 0
    return len(_DELIMITER_CELL.findall(body))


class BlockSplitter:
    """Incremental splitter: feed text as it arrives, collect finished blocks.

    Invariant: ``"".join(every block returned so far) + tail`` is exactly the
    text fed so far. A finished block keeps its trailing blank lines.
    """

    __slots__ = (
        "_done_length",
        "_fence",
        "_has_content",
        "_header",
        "_pending",
        "_scan",
        "_table",
        "_tables",
        "_tail",
    )

    def __init__(self) -> None:
        self._tail = ""
        self._scan = 0  # start of the first line of the tail not yet classified
        self._fence: Fence | None = None
        self._has_content = False  # the tail has a non-blank line outside leading blanks
        self._pending = False  # a blank line outside a fence ended the last line
        self._done_length = 0
        self._tables: list[TableSpan] = []  # tables that ended, in order
        self._table: _OpenTable | None = None  # the table the last line belongs to
        self._header = -1  # where the last line starts, if it may head a table

    @property
    def tail(self) -> str:
        """The open tail: text after the last finished block."""
        return self._tail

    @property
    def done_length(self) -> int:
        """How many characters of the fed text are in finished blocks."""
        return self._done_length

    @property
    def fence(self) -> Fence | None:
        """The fence open at the end of the text fed so far, if any."""
        return self._fence

    def tables_in(self, start: int, end: int | None = None) -> list[TableSpan]:
        """The tables that start in ``start..end`` of the text fed so far, in order.

        The last table may still be open: its unfinished last line counts as
        a row if, read as it is, it would be one. Costs O(tables found), the
        latest being cheapest.
        """
        found: list[TableSpan] = []
        table = self._table
        if table is not None and table.start >= start and (end is None or table.start < end):
            rows, stop = table.rows, table.end
            partial = self._tail[self._scan :]
            maybe_fence = "```" in partial or "~~~" in partial
            if partial and _continues_table(partial, table.quotes, maybe_fence):
                rows += 1
                stop = self._done_length + len(self._tail)
            found.append(TableSpan(table.start, stop, table.columns, rows, open=True))
        for span in reversed(self._tables):
            if span.start < start:
                break
            if end is None or span.start < end:
                found.append(span)
        found.reverse()
        return found

    def feed(self, text: str) -> list[str]:
        """Add ``text``; return the blocks it finished (often none)."""
        if not text:
            return []
        self._tail += text
        finished: list[str] = []
        tail = self._tail
        while True:
            if self._pending and self._scan < len(tail) and tail[self._scan] not in " \t\r\n":
                # A column-0 line after a blank line: everything before it is final.
                finished.append(tail[: self._scan])
                self._done_length += self._scan
                tail = tail[self._scan :]
                self._scan = 0
                self._pending = False
                self._has_content = False
            newline = tail.find("\n", self._scan)
            if newline < 0:
                break
            self._classify(tail[self._scan : newline], self._done_length + self._scan)
            self._scan = newline + 1
        self._tail = tail
        return finished

    def _classify(self, line: str, start: int) -> None:
        """Classify one complete line (without its newline) starting at ``start``."""
        # Only a line holding a run of three fence characters can open or
        # close a fence: most lines skip the regular expressions.
        maybe_fence = "```" in line or "~~~" in line
        if self._fence is not None:
            if maybe_fence and closes_fence(line, self._fence):
                self._fence = None
            return
        table = self._table
        if table is not None:
            if _continues_table(line, table.quotes, maybe_fence):
                table.rows += 1
                table.end = start + len(line)
                return
            self._tables.append(TableSpan(table.start, table.end, table.columns, table.rows))
            self._table = None
        if is_blank(line):
            self._header = -1
            if self._has_content:
                self._pending = True
            return
        # Non-blank: if a blank line came before, this line is indented (a
        # column-0 line would have been split off already), so it continues
        # the block above.
        self._pending = False
        self._has_content = True
        self._fence = fence_opener(line) if maybe_fence else None
        columns = table_columns(line) if self._header >= 0 else 0
        if columns:
            quotes, _body = _quote_level(line)
            self._table = _OpenTable(self._header, start + len(line), columns, quotes)
            self._header = -1
        elif self._fence is None and ("#" not in line or not _is_heading(line)):
            self._header = start
        else:
            self._header = -1


@dataclass(slots=True)
class _OpenTable:
    start: int
    end: int  # end of its last complete row
    columns: int
    quotes: int  # quote level of its delimiter row
    rows: int = 0


def _continues_table(line: str, quotes: int, maybe_fence: bool) -> bool:
    """Whether a line is one more row of a table (see the module docstring)."""
    if is_blank(line):
        return False
    level, body = _quote_level(line)
    if level != quotes or is_blank(body):
        return False
    if maybe_fence and fence_opener(body) is not None:
        return False
    return "#" not in body or _ATX_HEADING.match(body) is None


def _is_heading(line: str) -> bool:
    return _ATX_HEADING.match(_quote_level(line)[1]) is not None


# A GitHub table's delimiter row: cells of dashes with optional colons, split by pipes.
_TABLE_DELIMITER = re.compile(r" {0,3}\|?[ \t]*:?-+:?[ \t]*(?:\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*\r?")


def end_tables_before_blocks(text: str) -> str:
    """Put a blank line between a table and a code fence or heading right below it.

    On GitHub a fence or an ATX heading ends a table. Qt's Markdown importer
    (md4c) reads either as one more table row, so the code ends up in a table
    cell. The blank line makes both read the text alike; the message's text
    itself is never changed, only what the importer is given.
    """
    if "|" not in text:
        return text
    out: list[str] = []
    fence: Fence | None = None
    in_table = False
    previous = ""
    for line in text.split("\n"):
        if fence is not None:
            if closes_fence(line, fence):
                fence = None
        elif is_blank(line):
            in_table = False
        else:
            opener = fence_opener(line) if "```" in line or "~~~" in line else None
            if in_table and (opener is not None or _ATX_HEADING.match(line)):
                out.append("")
                in_table = False
            elif not in_table and "|" in previous and "-" in line:
                in_table = _TABLE_DELIMITER.fullmatch(line) is not None
            fence = opener
        out.append(line)
        previous = "" if is_blank(line) else line
    return "\n".join(out)


# A list item with nothing in it yet: a marker alone on a line.
_EMPTY_ITEM = re.compile(r"(?:[ \t]*>)*[ \t]*(?:[-+*]|\d{1,9}[.)])")


def drop_empty_list_start(text: str) -> str:
    """Leave out a last line that starts a list with an empty item.

    Qt's Markdown importer makes a list whose items are all empty out of the
    block *before* it (``QTextCursor::createList`` where no item inserted
    one), so while a list starts streaming in (``1.``, ``- ``) the paragraph
    or table row above showed a list marker, and kept it when that block
    stayed. GitHub shows an empty item as nothing but its marker, and only
    for a moment: the importer is not given it. Only an item that can start
    a list counts (first line, or after a blank line); ``Title\n-`` is a
    heading in the making, ``- a\n- `` a list that has its items.
    """
    end = len(text.rstrip(_BLANK_CHARS + "\n"))
    cut = text.rfind("\n", 0, end) + 1
    if not end or _EMPTY_ITEM.fullmatch(text, cut, end) is None:
        return text
    if cut and not is_blank(_quote_level(text[text.rfind("\n", 0, cut - 1) + 1 : cut - 1])[1]):
        return text
    return text[:cut]


def importable(text: str) -> str:
    """The Markdown to give Qt's importer for ``text``: read as GitHub reads it."""
    return drop_empty_list_start(end_tables_before_blocks(text))


def find_tables(text: str) -> list[TableSpan]:
    """The tables in a whole text, as a splitter fed it would see them."""
    if "|" not in text:
        return []
    splitter = BlockSplitter()
    splitter.feed(text)
    return splitter.tables_in(0)


def split_blocks(text: str) -> tuple[list[str], str]:
    """Split a whole text at once: (finished blocks, open tail)."""
    splitter = BlockSplitter()
    blocks = splitter.feed(text)
    return blocks, splitter.tail


def open_fence(text: str) -> Fence | None:
    """The fence still open at the end of ``text`` (its last line may lack a newline).

    Only fence lines change the fence state, so only they are examined.
    """
    fence: Fence | None = None
    for match in _FENCE_LINE.finditer(text):
        line = match.group()
        if fence is None:
            fence = fence_opener(line)
        elif closes_fence(line, fence):
            fence = None
    return fence
