"""The status line under a message: what it says and the actions it offers (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from desktop.core.states import InterruptReason, MessageStatus, Role

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

    @property
    def is_empty(self) -> bool:
        return not self.text and not self.actions


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
) -> StatusLine:
    """The status line for a message in this state (pure).

    ``hidden_chars`` of ``total_chars`` are not shown (a huge message), and
    ``text_tables`` (rows, columns) are shown as text: the line says so.
    """
    line = _status_line(message_id, role, status, error, reason, last_assistant=last_assistant)
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
    return StatusLine(text, line.tone, line.actions)


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
) -> StatusLine:
    if role is not Role.ASSISTANT:
        if status is MessageStatus.FAILED:
            return StatusLine(f"Failed: {error}" if error else "Failed.", "error")
        return StatusLine()
    actions: list[tuple[str, str]] = []
    if last_assistant and status.is_terminal:
        if status.can_continue:
            actions.append(("Continue", action_url("continue", message_id)))
        actions.append(("Retry", action_url("retry", message_id)))
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
    return StatusLine("", "muted", tuple(actions))


def human_reason(reason: str | None) -> str:
    """The sentence for an interruption reason (its raw text if unknown)."""
    if not reason:
        return ""
    try:
        return InterruptReason(reason).human
    except ValueError:
        return reason
