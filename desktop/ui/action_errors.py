"""What the user reads when saving a chat's settings or a preset fails.

A refusal the services explain (:class:`ChatActionError`, :class:`PresetError`)
is shown as it is. Anything else (the store refusing to write, a bug) is
logged with its traceback and shown as one sentence that says what failed,
with the error's own words: nothing the user typed is lost, the dialog stays
open for another try.
"""

from __future__ import annotations

import logging

from desktop.services.chat import ChatActionError
from desktop.services.chat_presets import PresetError

log = logging.getLogger("sidestream.ui")


def failure_text(exc: BaseException, what: str) -> str:
    """The message for ``exc``; ``what`` says what failed ("Could not save the preset")."""
    if isinstance(exc, ChatActionError | PresetError):
        return str(exc)
    log.error("%s", what, exc_info=exc)
    detail = (str(exc) or type(exc).__name__).rstrip(".")
    return f"{what}: {detail}. Nothing you typed is lost; the details are in the log."
