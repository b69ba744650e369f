"""What the demo reads from a request body: the seed prompt and any partial reply.

The seed is the text of the last user turn. A reply is a *continuation* when

* the last turn is an assistant turn (Anthropic prefill, OpenAI-compatible
  ``continue_final_message``, or a Responses input ending on an assistant
  item): its text is the partial reply and the seed is the user turn before it;
* or the last user turn asks to continue (its text starts with "continue",
  "please continue" or "go on") right after an assistant turn: that assistant
  text is the partial reply and the seed is the user turn before it.

See :func:`~desktop.providers.demo.replies.continuation_tokens` for the text a
continuation gets.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from desktop.providers.demo.replies import continuation_tokens, demo_reply_tokens

__all__ = ["Conversation", "from_anthropic", "from_chat", "from_responses"]

_CONTINUE_RE = re.compile(r"^\s*(please\s+)?(continue|go on)\b", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Conversation:
    prompt: str
    partial: str | None = None
    input_chars: int = 0

    @property
    def input_tokens(self) -> int:
        """A rough count: four characters a token, at least one."""
        return max(1, -(-self.input_chars // 4))

    def reply_tokens(self, n_tokens: int) -> list[str]:
        if self.partial is None:
            return demo_reply_tokens(self.prompt, n_tokens)
        return continuation_tokens(self.prompt, self.partial, n_tokens)


def _text_of(content: Any) -> str:
    """Text of a message's content: a string or a list of text parts/blocks."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, dict) and isinstance(part.get("text"), str):
                parts.append(part["text"])
        return "".join(parts)
    return ""


def _from_turns(turns: list[tuple[str, str]], extra_chars: int) -> Conversation:
    chars = extra_chars + sum(len(text) for _, text in turns)
    if not turns:
        return Conversation("", None, chars)
    last_role, last_text = turns[-1]

    def user_before(index: int) -> str:
        for role, text in reversed(turns[:index]):
            if role == "user":
                return text
        return ""

    if last_role == "assistant":
        return Conversation(user_before(len(turns) - 1), last_text, chars)
    if (
        last_role == "user"
        and _CONTINUE_RE.match(last_text)
        and len(turns) >= 2
        and turns[-2][0] == "assistant"
    ):
        return Conversation(user_before(len(turns) - 2), turns[-2][1], chars)
    return Conversation(user_before(len(turns)), None, chars)


def _turns(messages: Any) -> list[tuple[str, str]]:
    turns = []
    if isinstance(messages, list):
        for message in messages:
            if not isinstance(message, dict):
                continue
            role = message.get("role")
            if role in ("user", "assistant"):
                turns.append((str(role), _text_of(message.get("content"))))
    return turns


def _system_chars(value: Any) -> int:
    return len(_text_of(value))


def from_chat(body: dict[str, Any]) -> Conversation:
    """OpenAI Chat Completions: ``messages`` (system turns only count as input)."""
    messages = body.get("messages")
    system = 0
    if isinstance(messages, list):
        system = sum(
            len(_text_of(m.get("content")))
            for m in messages
            if isinstance(m, dict) and m.get("role") in ("system", "developer")
        )
    return _from_turns(_turns(messages), system)


def from_responses(body: dict[str, Any]) -> Conversation:
    """OpenAI Responses: ``input`` is a string or a list of message items."""
    value = body.get("input")
    extra = _system_chars(body.get("instructions"))
    if isinstance(value, str):
        return _from_turns([("user", value)], extra)
    return _from_turns(_turns(value), extra)


def from_anthropic(body: dict[str, Any]) -> Conversation:
    """Anthropic Messages: ``messages`` plus a separate ``system``."""
    return _from_turns(_turns(body.get("messages")), _system_chars(body.get("system")))
