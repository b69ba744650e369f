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


class BlockSplitter:
    """Incremental splitter: feed text as it arrives, collect finished blocks.

    Invariant: ``"".join(every block returned so far) + tail`` is exactly the
    text fed so far. A finished block keeps its trailing blank lines.
    """

    __slots__ = ("_done_length", "_fence", "_has_content", "_pending", "_scan", "_tail")

    def __init__(self) -> None:
        self._tail = ""
        self._scan = 0  # start of the first line of the tail not yet classified
        self._fence: Fence | None = None
        self._has_content = False  # the tail has a non-blank line outside leading blanks
        self._pending = False  # a blank line outside a fence ended the last line
        self._done_length = 0

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
            self._classify(tail[self._scan : newline])
            self._scan = newline + 1
        self._tail = tail
        return finished

    def _classify(self, line: str) -> None:
        # Only a line holding a run of three fence characters can open or
        # close a fence: most lines skip the regular expressions.
        maybe_fence = "```" in line or "~~~" in line
        if self._fence is not None:
            if maybe_fence and closes_fence(line, self._fence):
                self._fence = None
            return
        if is_blank(line):
            if self._has_content:
                self._pending = True
            return
        # Non-blank: if a blank line came before, this line is indented (a
        # column-0 line would have been split off already), so it continues
        # the block above.
        self._pending = False
        self._has_content = True
        self._fence = fence_opener(line) if maybe_fence else None


# A GitHub table's delimiter row: cells of dashes with optional colons, split by pipes.
_TABLE_DELIMITER = re.compile(r" {0,3}\|?[ \t]*:?-+:?[ \t]*(?:\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*\r?")
_ATX_HEADING = re.compile(r" {0,3}#{1,6}(?:[ \t]|\r?$)")


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
