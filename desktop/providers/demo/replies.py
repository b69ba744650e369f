"""The demo provider's replies: deterministic Markdown, split into tokens.

A reply depends only on its *seed* (the text of the last user turn) and its
length in tokens, so a test can compute the exact text a stream must carry:
``demo_reply(prompt, n) == "".join(demo_reply_tokens(prompt, n))``. When the
seed turn came with files, the reply opens with a *note* naming them (one
line, then a blank line) and the rest is the reply to the prompt, the whole
still ``n`` tokens: ``demo_reply(prompt, n, note=...)``.

The text is built block by block (heading, paragraph with bold, italic, inline
code and a link, bullet list, numbered list, fenced code block, table, quote)
and always ends on a whole sentence: when the next block does not fit in the
tokens left, a short closing paragraph of exactly that many tokens ends it. A
code fence is therefore never left open. Non-ASCII text (``—``, ``é``, ``→``,
an emoji) is part of every reply so multi-byte characters cross the wire.

Continuing a reply (see :func:`continuation_tokens`): when the partial text a
client sends back is a prefix of the full reply for the same seed and length,
the demo sends exactly the rest, so ``partial + continuation`` is the full
reply; otherwise it sends a fresh reply seeded by the prompt and the partial
text together.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import random
import re

__all__ = [
    "REFUSAL_TEXT",
    "big_event_text",
    "continuation_tokens",
    "demo_reasoning",
    "demo_reasoning_tokens",
    "demo_reply",
    "demo_reply_tokens",
    "table_reply",
    "thinking_signature",
    "tokenize",
]

_WORDS = (  # noqa: SIM905 - a word list reads better as prose
    "stream token buffer socket event reply model latency cursor resume chunk "
    "frame parser state queue signal thread loop batch flush window render "
    "layout cache index store snapshot delta schema backoff timeout network "
    "client server request header payload decoder encoder pipeline worker"
).split()
_ADJECTIVES = (  # noqa: SIM905 - a word list reads better as prose
    "fast steady careful robust lazy eager tiny large paced quiet durable "
    "incremental deterministic ordered bounded live partial complete"
).split()
_VERBS = (  # noqa: SIM905 - a word list reads better as prose
    "reads writes flushes parses renders buffers resumes cancels batches "
    "persists streams decodes retries measures throttles"
).split()
_TOPICS = (
    ("Streaming replies", "a quick tour"),
    ("Background work", "what keeps running"),
    ("Resuming a stream", "no gap, no duplicate"),
    ("Rendering Markdown", "café-grade typography"),
    ("Pacing tokens", "steady → smooth"),
    ("Handling faults", "cut, stall, retry"),
    ("Persisting text", "naïve vs. batched"),
    ("Notifications", "only when unseen"),
)
_EMOJI = ("🚀", "✨", "📦", "🧭", "⚡")
_LANGS = ("python", "bash", "json", "rust")
_LINKS = (
    ("the SSE spec", "https://html.spec.whatwg.org/multipage/server-sent-events.html"),
    ("asyncio streams", "https://docs.python.org/3/library/asyncio-stream.html"),
    ("the HTTP/1.1 RFC", "https://www.rfc-editor.org/rfc/rfc9112"),
    ("CommonMark", "https://commonmark.org/"),
)

# A run of newlines, or optional spaces and then a non-space run (split later
# into pieces of about four characters), or trailing spaces.
_PIECE_RE = re.compile(r"\n+|[ \t]*[^\s]+|[ \t]+|\s")


def tokenize(text: str) -> list[str]:
    """Split text into word-ish tokens of about four characters, whitespace included.

    Newline runs are tokens of their own; spaces stick to the word after them;
    long words are cut into near-equal pieces. ``"".join(tokenize(t)) == t``.
    """
    tokens: list[str] = []
    append = tokens.append
    for match in _PIECE_RE.finditer(text):
        piece = match.group()
        word = piece.lstrip(" \t")
        if len(word) <= 6 or piece[0] == "\n":
            append(piece)
            continue
        lead = piece[: len(piece) - len(word)]
        count = -(-len(word) // 5)
        size, extra = divmod(len(word), count)
        start = 0
        for k in range(count):
            end = start + size + (1 if k < extra else 0)
            append((lead if k == 0 else "") + word[start:end])
            start = end
    return tokens


def _seed(prompt: str) -> int:
    return int.from_bytes(hashlib.sha256(prompt.encode("utf-8")).digest()[:8], "big")


def _sentence(rng: random.Random, *, words: int) -> str:
    picked = [rng.choice(_WORDS) for _ in range(words)]
    verb = rng.choice(_VERBS)
    adjective = rng.choice(_ADJECTIVES)
    head = f"The {adjective} {picked[0]} {verb} every {picked[1]}"
    rest = " ".join(picked[2:])
    return f"{head}{' and ' + rest if rest else ''}."


class _Blocks:
    """An endless, seeded supply of Markdown blocks; each ends with a blank line."""

    def __init__(self, prompt: str) -> None:
        self._rng = random.Random(_seed(prompt))
        self._prompt = " ".join(prompt.split())[:60] or "your question"
        self._section = 0

    def section(self) -> list[str]:
        rng = self._rng
        self._section += 1
        title, subtitle = rng.choice(_TOPICS)
        if self._section == 1:
            heading = f"## {title} — {subtitle}\n\n"
        else:
            heading = f"### Part {self._section}: {title.lower()} — {subtitle}\n\n"
        body = [
            self._paragraph(),
            self._bullets(),
            self._numbered(),
            self._code(),
            self._table(),
            self._quote(),
        ]
        if self._section > 1:
            # Later sections vary the order; the first shows every element early.
            rng.shuffle(body)
        return [heading, *body]

    def closing(self, n: int) -> list[str]:
        """Exactly ``n`` tokens (n >= 1) of plain sentences ending on a full stop."""
        tokens: list[str] = []
        while len(tokens) < n:
            sentence = tokenize(("" if not tokens else " ") + _sentence(self._rng, words=4))
            tokens.extend(sentence[: n - len(tokens)])
        if not tokens[-1].endswith("."):
            tokens[-1] += "."
        return tokens

    def _paragraph(self) -> str:
        rng = self._rng
        word = rng.choice(_WORDS)
        label, url = rng.choice(_LINKS)
        topic = self._prompt.rstrip(".!?…") or self._prompt  # no "lists.." at its end
        return (
            f"You asked about *{topic}*. {_sentence(rng, words=4)} "
            f"The **{rng.choice(_ADJECTIVES)} {word}** path calls `{word}_{rng.choice(_WORDS)}()` "
            f"and the café's naïve approach does not {rng.choice(_EMOJI)}. "
            f"See [{label}]({url}) for details.\n\n"
        )

    def _bullets(self) -> str:
        rng = self._rng
        items = []
        for _ in range(3 if self._section == 1 else rng.randint(3, 5)):
            items.append(
                f"- **{rng.choice(_WORDS).capitalize()}**: {_sentence(rng, words=3)} "
                f"Use `{rng.choice(_WORDS)}` → _{rng.choice(_ADJECTIVES)}_.\n"
            )
        return "".join(items) + "\n"

    def _numbered(self) -> str:
        rng = self._rng
        steps = [
            f"{i}. {rng.choice(_VERBS).capitalize()} the {rng.choice(_WORDS)} "
            f"({rng.randint(2, 512)} ms).\n"
            for i in range(1, (3 if self._section == 1 else rng.randint(3, 4)) + 1)
        ]
        return "".join(steps) + "\n"

    def _code(self) -> str:
        rng = self._rng
        lang = rng.choice(_LANGS)
        a, b = rng.choice(_WORDS), rng.choice(_WORDS)
        n = rng.randint(2, 99)
        if lang == "python":
            code = (
                f"def {a}_{b}(items: list[str]) -> int:\n"
                f'    """Count the {a}s."""\n'
                f"    return sum(len(x) for x in items) + {n}\n"
            )
        elif lang == "bash":
            code = f'for i in $(seq 1 {n}); do\n  echo "{a} $i → {b}"\ndone\n'
        elif lang == "json":
            code = f'{{\n  "{a}": {n},\n  "{b}": ["é", "—", true]\n}}\n'
        else:
            code = f"fn {a}_{b}(x: u32) -> u32 {{\n    x * {n}\n}}\n"
        return f"```{lang}\n{code}```\n\n"

    def _table(self) -> str:
        rng = self._rng
        rows = [
            f"| `{rng.choice(_WORDS)}` | {rng.randint(1, 999)} | {rng.choice(_ADJECTIVES)} |\n"
            for _ in range(2 if self._section == 1 else rng.randint(2, 4))
        ]
        return "| Name | Value | Notes |\n| --- | ---: | --- |\n" + "".join(rows) + "\n"

    def _quote(self) -> str:
        return f"> {_sentence(self._rng, words=5)}\n\n"


@functools.lru_cache(maxsize=64)
def _reply_tokens(prompt: str, n_tokens: int, note: str = "") -> tuple[str, ...]:
    if note:
        head = tokenize(note + "\n\n")
        if len(head) >= n_tokens:
            return tuple(head[:n_tokens])
        return (*head, *_body_tokens(prompt, n_tokens - len(head)))
    return _body_tokens(prompt, n_tokens)


def _body_tokens(prompt: str, n_tokens: int) -> tuple[str, ...]:
    tokens: list[str] = []
    blocks = _Blocks(prompt)
    while len(tokens) < n_tokens:
        for block in blocks.section():
            pieces = tokenize(block)
            room = n_tokens - len(tokens)
            if len(pieces) > room:
                tokens.extend(blocks.closing(room))
                return tuple(tokens)
            tokens.extend(pieces)
            if len(tokens) == n_tokens:
                return tuple(tokens)
    return tuple(tokens)


def demo_reply_tokens(prompt: str, n_tokens: int, *, note: str = "") -> list[str]:
    """The demo's reply to ``prompt``: exactly ``n_tokens`` tokens (none if n <= 0),
    opening with ``note`` and a blank line when there is one."""
    if n_tokens <= 0:
        return []
    return list(_reply_tokens(prompt, n_tokens, note))


def demo_reply(prompt: str, n_tokens: int, *, note: str = "") -> str:
    """``"".join(demo_reply_tokens(prompt, n_tokens, note=note))``."""
    return "".join(_reply_tokens(prompt, n_tokens, note)) if n_tokens > 0 else ""


def demo_reasoning_tokens(prompt: str, n_tokens: int) -> list[str]:
    """The demo's reasoning before its reply to ``prompt``: exactly ``n_tokens``
    tokens of plain sentences (no Markdown), ending on a full stop."""
    if n_tokens <= 0:
        return []
    return _Blocks("reasoning\0" + prompt).closing(n_tokens)


def demo_reasoning(prompt: str, n_tokens: int) -> str:
    """``"".join(demo_reasoning_tokens(prompt, n_tokens))``."""
    return "".join(demo_reasoning_tokens(prompt, n_tokens))


#: What the demo says when the ``refusal`` knob is set.
REFUSAL_TEXT = "I'm sorry, but I can't help with that request."

_SIGNING_KEY = b"sidestream-demo-thinking"


def thinking_signature(thinking: str) -> str:
    """The signature the demo gives a thinking block (and checks when it comes back)."""
    digest = hmac.new(_SIGNING_KEY, thinking.encode("utf-8"), hashlib.sha256).digest()
    return base64.b64encode(b"demo" + digest).decode("ascii")


_BIG_EVENT_FILL = "A big event fills one delta with plain ASCII text, kept on one line. "


def big_event_text(size: int) -> str:
    """The text of a ``big_event`` delta: ``size`` bytes (and characters) of ASCII."""
    if size <= 0:
        return ""
    repeats = -(-size // len(_BIG_EVENT_FILL))
    return (_BIG_EVENT_FILL * repeats)[:size]


TABLE_DEFAULT_COLUMNS = 3
TABLE_INTRO = "Here is the table you asked for.\n\n"
TABLE_OUTRO = "\n\nThat is the whole table."


def table_reply(rows: int | None, columns: int | None) -> str:
    """A reply made of one GitHub table: ``rows`` body rows (0 if None) and
    ``columns`` columns (``TABLE_DEFAULT_COLUMNS`` if None), with one-letter
    cells, so that each row is ``2 * columns + 1`` characters and a newline;
    a sentence comes before and after it."""
    rows = max(0, rows or 0)
    columns = max(1, columns or TABLE_DEFAULT_COLUMNS)
    letters = "abcdefghijklmnopqrstuvwxyz"
    lines = [
        "|" + "".join(letters[c % 26] + "|" for c in range(columns)),
        "|" + "-|" * columns,
    ]
    for row in range(rows):
        lines.append("|" + "".join(f"{(row + c) % 10}|" for c in range(columns)))
    return TABLE_INTRO + "\n".join(lines) + TABLE_OUTRO


def continuation_tokens(prompt: str, partial: str, n_tokens: int, *, note: str = "") -> list[str]:
    """The tokens that go on from ``partial``, a reply the client already holds.

    If ``partial`` is a prefix of ``demo_reply(prompt, n_tokens, note=note)`` (a
    client may strip trailing whitespace from a prefill; that still is a
    prefix), the result is the rest of that reply, so ``partial +
    "".join(result)`` is the full reply (no tokens when nothing is left).
    Otherwise it is a fresh reply of ``n_tokens`` seeded by ``prompt + "\\n\\n"
    + partial``.
    """
    full = _reply_tokens(prompt, n_tokens, note) if n_tokens > 0 else ()
    if not "".join(full).startswith(partial):
        return demo_reply_tokens(prompt + "\n\n" + partial, n_tokens)
    consumed = 0
    for index, token in enumerate(full):
        if consumed + len(token) > len(partial):
            head = token[len(partial) - consumed :]
            return [head, *full[index + 1 :]]
        consumed += len(token)
    return []
