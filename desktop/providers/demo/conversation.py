"""What the demo reads from a request body: the seed prompt, any partial reply, the files.

The seed is the text of the last user turn. A reply is a *continuation* when

* the last turn is an assistant turn (Anthropic prefill, OpenAI-compatible
  ``continue_final_message``, or a Responses input ending on an assistant
  item): its text is the partial reply and the seed is the user turn before it;
* or the last user turn asks to continue (its text starts with "continue",
  "please continue" or "go on") right after an assistant turn: that assistant
  text is the partial reply and the seed is the user turn before it.

See :func:`~desktop.providers.demo.replies.continuation_tokens` for the text a
continuation gets. Files attached to the seed turn (see
:mod:`~desktop.providers.demo.attachments`) are named in the reply's first
line; the images anywhere in the request are counted (a model that reads no
images refuses them).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from desktop.providers.demo.attachments import Content, attachment_note, read_content
from desktop.providers.demo.replies import continuation_tokens, demo_reply_tokens

__all__ = ["Conversation", "from_anthropic", "from_chat", "from_responses"]

_CONTINUE_RE = re.compile(r"^\s*(please\s+)?(continue|go on)\b", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Conversation:
    prompt: str
    partial: str | None = None
    input_chars: int = 0
    #: The seed turn's files, described, in the order sent.
    files: tuple[str, ...] = ()
    #: Images anywhere in the request.
    images: int = 0

    @property
    def input_tokens(self) -> int:
        """A rough count: four characters a token, at least one."""
        return max(1, -(-self.input_chars // 4))

    @property
    def note(self) -> str:
        """The reply's first line about the seed turn's files ("" for none)."""
        return attachment_note(self.files)

    def reply_tokens(self, n_tokens: int) -> list[str]:
        if self.partial is None:
            return demo_reply_tokens(self.prompt, n_tokens, note=self.note)
        return continuation_tokens(self.prompt, self.partial, n_tokens, note=self.note)


@dataclass(frozen=True, slots=True)
class _Turn:
    role: str
    content: Content

    @property
    def text(self) -> str:
        return self.content.text


def _from_turns(turns: list[_Turn], extra_chars: int) -> Conversation:
    chars = extra_chars + sum(turn.content.chars for turn in turns)
    images = sum(turn.content.images for turn in turns)
    if not turns:
        return Conversation("", None, chars)
    last = turns[-1]

    def seed(index: int, partial: str | None) -> Conversation:
        """The conversation seeded by the last user turn before ``index``."""
        for turn in reversed(turns[:index]):
            if turn.role == "user":
                return Conversation(turn.text, partial, chars, turn.content.files, images)
        return Conversation("", partial, chars, (), images)

    if last.role == "assistant":
        return seed(len(turns) - 1, last.text)
    if (
        last.role == "user"
        and _CONTINUE_RE.match(last.text)
        and len(turns) >= 2
        and turns[-2].role == "assistant"
    ):
        return seed(len(turns) - 2, turns[-2].text)
    return seed(len(turns), None)


def _turns(messages: Any) -> list[_Turn]:
    turns = []
    if isinstance(messages, list):
        for message in messages:
            if not isinstance(message, dict):
                continue
            role = message.get("role")
            if role in ("user", "assistant"):
                turns.append(_Turn(str(role), read_content(message.get("content"))))
    return turns


def _system_chars(value: Any) -> int:
    return read_content(value).chars


def from_chat(body: dict[str, Any]) -> Conversation:
    """OpenAI Chat Completions: ``messages`` (system turns only count as input)."""
    messages = body.get("messages")
    system = 0
    if isinstance(messages, list):
        system = sum(
            _system_chars(m.get("content"))
            for m in messages
            if isinstance(m, dict) and m.get("role") in ("system", "developer")
        )
    return _from_turns(_turns(messages), system)


def from_responses(body: dict[str, Any]) -> Conversation:
    """OpenAI Responses: ``input`` is a string or a list of message items."""
    value = body.get("input")
    extra = _system_chars(body.get("instructions"))
    if isinstance(value, str):
        return _from_turns([_Turn("user", read_content(value))], extra)
    return _from_turns(_turns(value), extra)


def from_anthropic(body: dict[str, Any]) -> Conversation:
    """Anthropic Messages: ``messages`` plus a separate ``system``."""
    return _from_turns(_turns(body.get("messages")), _system_chars(body.get("system")))
