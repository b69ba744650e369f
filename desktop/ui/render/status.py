"""The status line under a message: what it says and the actions it offers (pure)."""

from __future__ import annotations

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
) -> StatusLine:
    """The status line for a message in this state (pure).

    ``hidden_chars`` of ``total_chars`` are not shown (a huge message): the
    line says so.
    """
    line = _status_line(message_id, role, status, error, reason, last_assistant=last_assistant)
    if hidden_chars <= 0:
        return line
    shown = total_chars - hidden_chars
    note = (
        f"Showing the first {human_size(shown)} of {human_size(total_chars)}; "
        "Copy takes the whole message."
    )
    text = f"{line.text}  {note}" if line.text else note
    return StatusLine(text, line.tone, line.actions)


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
