"""The Markdown block splitter: where a streaming reply may be frozen."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from desktop.ui.render.blocks import (
    BlockSplitter,
    end_tables_before_blocks,
    open_fence,
    split_blocks,
)


def feed_in_chunks(text: str, size: int) -> tuple[list[str], str]:
    splitter = BlockSplitter()
    blocks: list[str] = []
    for start in range(0, len(text), size):
        blocks.extend(splitter.feed(text[start : start + size]))
    return blocks, splitter.tail


def test_paragraphs_split_once_the_next_block_starts() -> None:
    blocks, tail = split_blocks("First para.\n\nSecond para.\n\nThird")
    assert blocks == ["First para.\n\n", "Second para.\n\n"]
    assert tail == "Third"


def test_a_blank_line_alone_is_not_yet_a_boundary() -> None:
    splitter = BlockSplitter()
    assert splitter.feed("Para one.\n\n") == []
    assert splitter.tail == "Para one.\n\n"
    # The first character of the next line decides.
    assert splitter.feed("N") == ["Para one.\n\n"]
    assert splitter.tail == "N"
    assert splitter.done_length == len("Para one.\n\n")


def test_whitespace_only_lines_count_as_blank_and_crlf_works() -> None:
    blocks, tail = split_blocks("one\r\n  \t\r\ntwo\r\n")
    assert blocks == ["one\r\n  \t\r\n"]
    assert tail == "two\r\n"


def test_leading_blank_lines_do_not_make_empty_blocks() -> None:
    blocks, tail = split_blocks("\n\n\nHello\n\nWorld")
    assert blocks == ["\n\n\nHello\n\n"]
    assert tail == "World"


@pytest.mark.parametrize("marker", ["```", "~~~", "````"])
def test_no_split_inside_a_fenced_code_block(marker: str) -> None:
    text = f"Intro\n\n{marker}python\ndef f():\n\n    return 1\n\n\nx = 2\n{marker}\n\nAfter\n\nEnd"
    blocks, tail = split_blocks(text)
    assert blocks == [
        "Intro\n\n",
        f"{marker}python\ndef f():\n\n    return 1\n\n\nx = 2\n{marker}\n\n",
        "After\n\n",
    ]
    assert tail == "End"


def test_a_fence_closes_only_with_the_same_marker_at_least_as_long() -> None:
    text = "````\na\n\n```\n\nb\n~~~\n\nc\n````\n\nafter\n\nz"
    blocks, tail = split_blocks(text)
    assert blocks == ["````\na\n\n```\n\nb\n~~~\n\nc\n````\n\n", "after\n\n"]
    assert tail == "z"


def test_a_tilde_fence_ignores_backtick_lines() -> None:
    blocks, _tail = split_blocks("~~~\n```\n\ncode\n```\n\n~~~\n\nnext\n\n")
    assert blocks[0] == "~~~\n```\n\ncode\n```\n\n~~~\n\n"


def test_backticks_in_the_info_string_make_no_fence() -> None:
    # "``` a ` b" is inline code, not a fence: the blank line is a boundary.
    blocks, tail = split_blocks("``` a ` b\n\nnext")
    assert blocks == ["``` a ` b\n\n"]
    assert tail == "next"


def test_the_fence_is_open_while_the_code_streams() -> None:
    splitter = BlockSplitter()
    splitter.feed("Look:\n\n```js\nconst a = 1;\n\n")
    assert splitter.fence is not None
    assert splitter.fence.char == "`"
    assert splitter.fence.info == "js"
    splitter.feed("```\n")
    assert splitter.fence is None


def test_nested_list_continuation_stays_in_one_block() -> None:
    text = (
        "- item one\n\n  continues item one\n\n  - nested\n\n    more nested\n\n- item two\n\nAfter"
    )
    blocks, tail = split_blocks(text)
    assert blocks == [
        "- item one\n\n  continues item one\n\n  - nested\n\n    more nested\n\n",
        "- item two\n\n",
    ]
    assert tail == "After"


def test_fence_inside_a_list_item_is_respected() -> None:
    text = "1. Run:\n\n   ```sh\n   make\n\n   make install\n   ```\n\n2. Done\n\nbye"
    blocks, tail = split_blocks(text)
    assert blocks == [
        "1. Run:\n\n   ```sh\n   make\n\n   make install\n   ```\n\n",
        "2. Done\n\n",
    ]
    assert tail == "bye"


def test_fence_right_after_a_list_marker_or_in_a_quote_is_respected() -> None:
    blocks, _ = split_blocks("- ```\n  a\n\n  b\n  ```\n\nx\n\n")
    assert blocks[0] == "- ```\n  a\n\n  b\n  ```\n\n"
    # In Markdown the quote (and its fence) ends at the blank line; the
    # splitter errs on the safe side and keeps the fence open until "> ```".
    blocks, _ = split_blocks("> ```\n> a\n\n> b\n> ```\n\nx\n\n")
    assert blocks[0] == "> ```\n> a\n\n> b\n> ```\n\n"


def test_a_table_is_one_block() -> None:
    text = "| a | b |\n|---|---|\n| 1 | 2 |\n| 3 | 4 |\n\nNext paragraph\n\n"
    blocks, tail = split_blocks(text)
    assert blocks == ["| a | b |\n|---|---|\n| 1 | 2 |\n| 3 | 4 |\n\n"]
    assert tail == "Next paragraph\n\n"


def test_indented_code_after_a_blank_line_continues_the_block() -> None:
    blocks, tail = split_blocks("Para\n\n    code line\n\n    more code\n\nafter")
    assert blocks == ["Para\n\n    code line\n\n    more code\n\n"]
    assert tail == "after"


def test_open_fence() -> None:
    assert open_fence("text\n\n```py\nx = 1\n") is not None
    assert open_fence("```py\nx = 1\n```") is None  # closed on a last line without newline
    assert open_fence("intro\n```") is not None  # opened on the last line
    assert open_fence("no fences at all\n\n- list") is None


PIECES = [
    "word ",
    "text",
    "\n",
    "\n\n",
    "  ",
    "- ",
    "1. ",
    "> ",
    "```",
    "```py",
    "~~~",
    "| a | b |",
    "|---|---|",
    "    ",
    "\t",
    "`",
    "\r\n",
    "# ",
]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from(PIECES), max_size=60).map("".join),
    st.integers(min_value=1, max_value=7),
)
def test_incremental_feeding_matches_splitting_at_once(text: str, chunk: int) -> None:
    whole_blocks, whole_tail = split_blocks(text)
    blocks, tail = feed_in_chunks(text, chunk)
    assert blocks == whole_blocks
    assert tail == whole_tail
    assert "".join(blocks) + tail == text
    for block in blocks:
        assert block.strip()  # never an empty block
    # A finished block never ends inside a fence: the text before the tail
    # leaves no fence open.
    assert open_fence("".join(blocks)) is None


# ------------------------------------------- what the Markdown importer is given
TABLE = "| a | b |\n|---|---|\n| 1 | 2 |\n"


@pytest.mark.parametrize(
    ("after", "expected"),
    [
        ("```python\nx = 1\n```\n", TABLE + "\n```python\nx = 1\n```\n"),
        ("~~~\nx | y\n~~~\n", TABLE + "\n~~~\nx | y\n~~~\n"),
        ("## Next\n", TABLE + "\n## Next\n"),
        ("| 3 | 4 |\n", TABLE + "| 3 | 4 |\n"),  # a row stays a row
        ("plain line\n", TABLE + "plain line\n"),  # GitHub makes it a row too
        ("\n```\nx\n```\n", TABLE + "\n```\nx\n```\n"),  # already apart
    ],
)
def test_a_fence_or_heading_right_below_a_table_is_set_apart(after: str, expected: str) -> None:
    assert end_tables_before_blocks(TABLE + after) == expected


def test_text_without_a_table_or_inside_a_fence_is_left_alone() -> None:
    for text in (
        "No table here.\n```\ncode\n```\n# Heading\n",
        "```\n| a | b |\n|---|---|\n```\n# not after a table\n",
        "a | b but no delimiter row\n```\nx\n```\n",
        "",
    ):
        assert end_tables_before_blocks(text) == text
    # A table inside a code block is code: its "heading" line is too.
    code = "```md\n| a | b |\n|---|---|\n# title\n```\n"
    assert end_tables_before_blocks(code) == code


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            ["| a | b |", "|---|---|", "a|b", "--|--", "```", "~~~", "# h", "text", "", "> q"]
        ),
        max_size=30,
    )
)
def test_only_blank_lines_are_ever_added(lines: list[str]) -> None:
    text = "\n".join(lines)
    out = end_tables_before_blocks(text)
    assert [line for line in out.split("\n") if line] == [line for line in lines if line]
    assert end_tables_before_blocks(out) == out  # once is enough
