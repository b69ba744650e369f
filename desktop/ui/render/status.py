"""The status line under a message: what it says and the actions it offers (pure).

Besides the state ("streaming…", "Stopped.", "Failed: …") it tells why a
completed reply ended when that deserves a word (its ``finish``), how long a
live reply has been waiting for its first token, and the tokens a reply used.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from desktop.core.states import FinishReason, InterruptReason, MessageStatus, Role
from desktop.services.chat import can_continue

ACTION_SCHEME = "sidestream"


def action_url(action: str, message_id: int, index: int | None = None) -> str:
    """The anchor of a view action: ``sidestream:copy/12``, ``sidestream:copy-code/12/0``."""
    url = f"{ACTION_SCHEME}:{action}/{message_id}"
    return url if index is None else f"{url}/{index}"


@dataclass(frozen=True, slots=True)
class StatusLine:
    """What the status line under a message says, and the actions it offers."""

    text: str = ""
    tone: str = "muted"  # "muted" | "live" | "error"
    actions: tuple[tuple[str, str], ...] = ()  # (label, href)
    usage: str = ""  # "1,234 tokens in · 567 out", shown quietly after the text

    @property
    def is_empty(self) -> bool:
        return not self.text and not self.actions and not self.usage


def status_line(
    message_id: int,
    role: Role,
    status: MessageStatus,
    error: str | None,
    reason: str | None,
    *,
    last_assistant: bool,
    hidden_chars: int = 0,
    total_chars: int = 0,
    text_tables: Sequence[tuple[int, int]] = (),
    finish: FinishReason | None = None,
    waited: float | None = None,
    input_tokens: int | None = None,
    output_tokens: int | None = None,
) -> StatusLine:
    """The status line for a message in this state (pure).

    ``hidden_chars`` of ``total_chars`` are not shown (a huge message), and
    ``text_tables`` (rows, columns) are shown as text: the line says so.
    ``finish`` is why the model ended a completed reply; ``waited`` how many
    seconds a live reply has been waiting for its first token (None: it is not
    waiting); the tokens are the reply's usage, when known.
    """
    line = _status_line(
        message_id,
        role,
        status,
        error,
        reason,
        last_assistant=last_assistant,
        finish=finish,
        waited=waited,
    )
    if role is Role.ASSISTANT:
        usage = usage_text(input_tokens, output_tokens)
        if usage:
            line = StatusLine(line.text, line.tone, line.actions, usage)
    notes: list[str] = []
    if text_tables:
        notes.append(tables_note(text_tables))
    if hidden_chars > 0:
        shown = total_chars - hidden_chars
        notes.append(
            f"Showing the first {human_size(shown)} of {human_size(total_chars)}; "
            "Copy takes the whole message."
        )
    if not notes:
        return line
    text = "  ".join([line.text, *notes] if line.text else notes)
    return StatusLine(text, line.tone, line.actions, line.usage)


def usage_text(input_tokens: int | None, output_tokens: int | None) -> str:
    """A reply's usage as the line under it says it: "1,234 tokens in · 567 out"."""
    if input_tokens is not None and output_tokens is not None:
        return f"{input_tokens:,} tokens in · {output_tokens:,} out"
    if input_tokens is not None:
        return f"{input_tokens:,} tokens in"
    if output_tokens is not None:
        return f"{output_tokens:,} tokens out"
    return ""


def clock(seconds: float) -> str:
    """Elapsed time as a counter shows it: "0:07", "1:23", "1:02:03"."""
    whole = max(0, math.floor(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}:{minutes:02d}:{secs:02d}"
    return f"{minutes}:{secs:02d}"


# What the line says about a completed reply the model ended otherwise than
# as usual, and in what tone.
FINISH_LINES: dict[FinishReason, tuple[str, str]] = {
    FinishReason.LENGTH: ("Cut at the model's token limit.", "muted"),
    FinishReason.REFUSAL: ("The model declined.", "muted"),
    FinishReason.CONTENT_FILTER: ("Stopped by the provider's content filter.", "error"),
    FinishReason.TOOL_CALLS: (
        "The model asked to use a tool, which Sidestream does not run.",
        "muted",
    ),
    FinishReason.OTHER: (
        FinishReason.OTHER.human or "The model stopped for a reason Sidestream does not know.",
        "muted",
    ),
}


def tables_note(tables: Sequence[tuple[int, int]]) -> str:
    """What the status line says about tables too large to lay out (rows, columns)."""
    if len(tables) == 1:
        rows, columns = tables[0]
        return f"A table of {_count(rows, 'row')} × {_count(columns, 'column')} is shown as text."
    return f"{len(tables)} tables too large to lay out are shown as text."


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}{'' if number == 1 else 's'}"


def human_size(chars: int) -> str:
    """A size in characters the way people read it: "812 KB", "10.4 MB"."""
    if chars >= 1_000_000:
        return f"{chars / 1_000_000:.1f} MB"
    return f"{max(1, round(chars / 1000))} KB"


def _status_line(
    message_id: int,
    role: Role,
    status: MessageStatus,
    error: str | None,
    reason: str | None,
    *,
    last_assistant: bool,
    finish: FinishReason | None,
    waited: float | None,
) -> StatusLine:
    if role is not Role.ASSISTANT:
        if status is MessageStatus.FAILED:
            return StatusLine(f"Failed: {error}" if error else "Failed.", "error")
        return StatusLine()
    actions: list[tuple[str, str]] = []
    if last_assistant and status.is_terminal:
        if can_continue(status, finish):
            actions.append(("Continue", action_url("continue", message_id)))
        actions.append(("Retry", action_url("retry", message_id)))
    if status.is_live and waited is not None:
        return StatusLine(f"Waiting for the model… {clock(waited)}", "live")
    if status is MessageStatus.PENDING:
        return StatusLine("waiting for the model…", "live")
    if status is MessageStatus.STREAMING:
        return StatusLine("streaming…", "live")
    if status is MessageStatus.RESUMING:
        return StatusLine("resuming…", "live")
    if status is MessageStatus.STOPPED:
        return StatusLine("Stopped.", "muted", tuple(actions))
    if status is MessageStatus.FAILED:
        return StatusLine(f"Failed: {error}" if error else "Failed.", "error", tuple(actions))
    if status is MessageStatus.INTERRUPTED:
        return StatusLine(f"Interrupted. {human_reason(reason)}".rstrip(), "error", tuple(actions))
    if finish is not None and finish in FINISH_LINES:
        text, tone = FINISH_LINES[finish]
        return StatusLine(text, tone, tuple(actions))
    return StatusLine("", "muted", tuple(actions))


def human_reason(reason: str | None) -> str:
    """The sentence for an interruption reason (its raw text if unknown)."""
    if not reason:
        return ""
    try:
        return InterruptReason(reason).human
    except ValueError:
        return reason
