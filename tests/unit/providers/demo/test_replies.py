"""The demo's replies: deterministic, exact in length, rich Markdown, continuable."""

from __future__ import annotations

import re

import pytest

from desktop.providers.demo import continuation_tokens, demo_reply, demo_reply_tokens
from desktop.providers.demo.conversation import from_anthropic, from_chat, from_responses
from desktop.providers.demo.replies import table_reply, tokenize


@pytest.mark.parametrize("n", [1, 2, 3, 7, 20, 60, 300, 2000])
def test_reply_has_exactly_n_tokens_and_joins_to_demo_reply(n: int) -> None:
    tokens = demo_reply_tokens("What is SSE?", n)
    assert len(tokens) == n
    assert all(tokens)
    assert "".join(tokens) == demo_reply("What is SSE?", n)


def test_reply_is_deterministic_and_depends_on_the_prompt() -> None:
    assert demo_reply_tokens("same", 300) == demo_reply_tokens("same", 300)
    assert demo_reply("same", 300) != demo_reply("other", 300)
    assert demo_reply_tokens("x", 0) == [] and demo_reply("x", -1) == ""


def test_a_default_length_reply_shows_every_markdown_element() -> None:
    text = demo_reply("Tell me about streaming", 300)
    assert re.search(r"^## ", text, re.M), "heading"
    assert re.search(r"^- ", text, re.M), "bullet list"
    assert re.search(r"^1\. ", text, re.M), "numbered list"
    assert re.search(r"^```[a-z]+\n.*?^```$", text, re.M | re.S), "fenced code with a language"
    assert re.search(r"^\| --- \|", text, re.M), "table"
    assert re.search(r"\*\*[^*]+\*\*", text), "bold"
    assert re.search(r"(?<!\*)\*[^*\s][^*]*\*(?!\*)|_[a-z]+_", text), "italic"
    assert re.search(r"`[^`\n]+`", text), "inline code"
    assert re.search(r"\[[^\]]+\]\(https://[^)]+\)", text), "link"
    assert re.search(r"[^\x00-\x7f]", text), "non-ASCII text"
    assert text.rstrip().endswith(".")


@pytest.mark.parametrize("n", range(1, 400, 7))
def test_a_reply_never_leaves_a_code_fence_open(n: int) -> None:
    assert demo_reply(f"prompt {n}", n).count("```") % 2 == 0


def test_tokens_are_word_pieces_of_about_four_characters() -> None:
    tokens = demo_reply_tokens("average", 5000)
    mean = sum(map(len, tokens)) / len(tokens)
    assert 3.0 <= mean <= 5.5, mean
    assert max(len(t.strip()) for t in tokens) <= 10


def test_tokenize_round_trips() -> None:
    text = "Hello  wonderful\n\nworld — naïve `code` 🚀\t\tend  "
    assert "".join(tokenize(text)) == text


def test_continuation_of_a_prefix_is_the_rest_of_the_reply() -> None:
    full = demo_reply("go on", 200)
    tokens = demo_reply_tokens("go on", 200)
    for cut in (0, 1, 5, 50, 199):
        partial = "".join(tokens[:cut])
        assert partial + "".join(continuation_tokens("go on", partial, 200)) == full
    # mid-token, and a prefill with its trailing whitespace stripped
    assert "abc" not in full[:7]
    for partial in (full[:7], "".join(tokens[:30]).rstrip()):
        rest = continuation_tokens("go on", partial, 200)
        assert partial + "".join(rest) == full
    assert continuation_tokens("go on", full, 200) == []


def test_continuation_of_foreign_text_is_a_fresh_deterministic_reply() -> None:
    rest = continuation_tokens("go on", "something else entirely", 30)
    assert len(rest) == 30
    assert rest == continuation_tokens("go on", "something else entirely", 30)
    assert "".join(rest) != demo_reply("go on", 30)


def test_seed_is_the_last_user_turn_in_every_dialect() -> None:
    chat = from_chat(
        {
            "messages": [
                {"role": "system", "content": "be brief"},
                {"role": "user", "content": "first"},
                {"role": "assistant", "content": "answer"},
                {"role": "user", "content": [{"type": "text", "text": "second"}]},
            ]
        }
    )
    assert (chat.prompt, chat.partial) == ("second", None)
    assert chat.input_tokens >= 1
    assert from_responses({"input": "plain"}).prompt == "plain"
    items = {"input": [{"role": "user", "content": [{"type": "input_text", "text": "q"}]}]}
    assert from_responses(items).prompt == "q"
    anthropic = from_anthropic({"system": "s", "messages": [{"role": "user", "content": "a"}]})
    assert (anthropic.prompt, anthropic.partial) == ("a", None)


def test_prefill_and_continue_requests_continue_the_partial_reply() -> None:
    prefill = from_anthropic(
        {
            "messages": [
                {"role": "user", "content": "topic"},
                {"role": "assistant", "content": [{"type": "text", "text": "partial"}]},
            ]
        }
    )
    assert (prefill.prompt, prefill.partial) == ("topic", "partial")
    follow_up = from_chat(
        {
            "messages": [
                {"role": "user", "content": "topic"},
                {"role": "assistant", "content": "partial"},
                {"role": "user", "content": "Please continue exactly where you stopped."},
            ]
        }
    )
    assert (follow_up.prompt, follow_up.partial) == ("topic", "partial")
    not_a_continue = from_chat(
        {
            "messages": [
                {"role": "user", "content": "topic"},
                {"role": "assistant", "content": "partial"},
                {"role": "user", "content": "Continuous integration?"},
            ]
        }
    )
    assert (not_a_continue.prompt, not_a_continue.partial) == ("Continuous integration?", None)


@pytest.mark.parametrize(("rows", "columns"), [(0, 1), (3, 4), (1000, 30), (1, 15_000)])
def test_a_table_reply_has_the_shape_asked_for(rows: int, columns: int) -> None:
    text = table_reply(rows, columns)
    intro, table, outro = text.split("\n\n")
    lines = table.split("\n")
    assert len(lines) == rows + 2  # header, delimiter row, body rows
    assert all(len(line) == 2 * columns + 1 and line.count("|") == columns + 1 for line in lines)
    assert set(lines[1]) == {"|", "-"}
    assert intro.endswith(".") and outro.endswith(".")
    assert "".join(tokenize(text)) == text


def test_table_reply_sizes_used_by_the_ui_benchmark() -> None:
    assert 88_000 < len(table_reply(1, 15_000)) < 92_000  # "a 90 KB wide table"
    assert 60_000 < len(table_reply(1000, 30)) < 64_000  # "a 62 KB long table"
    assert table_reply(None, None) == table_reply(0, 3)
