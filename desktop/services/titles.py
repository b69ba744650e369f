"""Chat titles written by the model: after a chat's first reply, a short title
is asked of the same model, off the chat's path (Qt-free).

A chat is named from its first message as it is sent (``title_from``); once the
first reply has completed, and if the user has not renamed the chat meanwhile,
the model is asked for a title of a few words, which replaces it. Whether it
is asked is the setting ``AUTO_TITLE_KEY``: ``"never"`` (the default: a
request the user did not ask for is never sent on their account unasked),
``"local"`` asks only models that cost nothing per request (servers on this
machine or the local network; not the demo, whose replies are scripted), and
``"always"`` asks every provider. The request is one small exchange (at most
``TITLE_TOKENS`` tokens); it is not a message of the chat, never stored, and a
failure of it only leaves the title as it was (logged, not shown).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import re
from collections.abc import Callable
from urllib.parse import urlsplit

from desktop.core.events import Failed, Finished, TextDelta
from desktop.core.models import ChatRequest, ChatTurn, GenerationParams, StoredProvider
from desktop.core.states import MessageStatus, Role
from desktop.core.tasks import TaskKeeper
from desktop.services.chat import title_from
from desktop.services.directory import DEMO_BASE_URL, ProviderDirectory
from desktop.store import Store
from desktop.streaming.events import StreamEnded, StreamListener
from desktop.streaming.manager import StreamManager

log = logging.getLogger("sidestream.titles")

AUTO_TITLE_KEY = "auto_title"
AUTO_TITLE_CHOICES = ("local", "always", "never")
TITLE_TOKENS = 32
TITLE_TIMEOUT = 30.0
TITLE_LENGTH = 48
PROMPT = (
    "Write a title of at most six words for a conversation that begins with the"
    " message below. Answer with the title only: no quotes, no full stop.\n\n"
)


def costs_nothing(provider: StoredProvider) -> bool:
    """A server on this machine or the local network (a local model)."""
    if provider.base_url == DEMO_BASE_URL:
        return False  # scripted replies: no title worth asking for
    host = urlsplit(provider.base_url).hostname or ""
    if host == "localhost" or host.endswith(".local"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_private or address.is_link_local


def clean_title(text: str) -> str:
    """The model's answer as a title: its first line, without quotes, Markdown or
    a closing full stop, on one line, at most TITLE_LENGTH characters."""
    line = next((raw.strip() for raw in text.splitlines() if raw.strip()), "")
    line = re.sub(r"^(title\s*:\s*)", "", line, flags=re.IGNORECASE)
    line = title_from(line).strip().strip("\"'“”‘’`").rstrip(".").strip()
    if len(line) > TITLE_LENGTH:
        line = line[: TITLE_LENGTH - 1].rstrip() + "…"
    return line


class TitleService(StreamListener):
    """Names a chat with its model once its first reply completes."""

    def __init__(self, store: Store, manager: StreamManager, directory: ProviderDirectory) -> None:
        self._store = store
        self._manager = manager
        self._directory = directory
        self._tasks = TaskKeeper(log)
        self._subscribers: list[Callable[[int], object]] = []
        self._closed = False
        manager.attach(None, self)

    def subscribe(self, renamed: Callable[[int], object]) -> None:
        """Call ``renamed(session_id)`` after a chat was given the model's title."""
        self._subscribers.append(renamed)

    def choice(self) -> str:
        value = self._store.get_setting(AUTO_TITLE_KEY, "never")
        return value if value in AUTO_TITLE_CHOICES else "never"

    def set_choice(self, choice: str) -> None:
        if choice not in AUTO_TITLE_CHOICES:
            raise ValueError(f"not a title choice: {choice!r}")
        self._store.set_setting(AUTO_TITLE_KEY, choice)

    def asks(self, provider: StoredProvider) -> bool:
        """Whether a chat on this provider is named by its model."""
        choice = self.choice()
        if provider.base_url == DEMO_BASE_URL:
            return choice == "always"
        return choice == "always" or (choice == "local" and costs_nothing(provider))

    def pending(self) -> int:
        return len(self._tasks.pending())

    # ------------------------------------------------------------------ events
    def on_stream_ended(self, ended: StreamEnded) -> None:
        if self._closed or ended.status is not MessageStatus.COMPLETE:
            return
        if self.choice() == "never":
            return  # the default: nothing is asked, no task is started
        self._tasks.spawn(self._name(ended.session_id, ended.message_id), "name a chat")

    async def _name(self, session_id: int, reply_id: int) -> None:
        session = self._store.get_session(session_id)
        if session is None:
            return
        path = self._store.active_path(session_id)
        if [m.id for m in path[1:]] != [reply_id] or path[0].role is not Role.USER:
            return  # not the chat's first exchange
        question = path[0].content
        if session.title != title_from(question):
            return  # renamed by the user (or already named)
        try:
            provider, stored = self._directory.provider(session.provider_id)
        except Exception as exc:
            log.info("no provider to name chat %s: %s", session_id, exc)
            return
        if not self.asks(stored):
            return
        request = ChatRequest(
            model=session.model or stored.default_model,
            turns=(ChatTurn(Role.USER, PROMPT + question[:2000]),),
            params=GenerationParams(max_output_tokens=TITLE_TOKENS),
        )
        text: list[str] = []
        try:
            async with asyncio.timeout(TITLE_TIMEOUT):
                async for event in provider.stream(request):
                    if isinstance(event, TextDelta):
                        text.append(event.text)
                    elif isinstance(event, Failed):
                        log.info("the model did not name chat %s: %s", session_id, event.error)
                        return
                    elif isinstance(event, Finished):
                        break
        except TimeoutError:
            log.info("the model did not name chat %s within %.0f s", session_id, TITLE_TIMEOUT)
            return
        title = clean_title("".join(text))
        if not title:
            return
        latest = self._store.get_session(session_id)
        if latest is None or latest.title != session.title:
            return  # renamed meanwhile: the user's word stands
        await self._manager.run_store(self._store.rename_session, session_id, title)
        log.info("chat %s named by its model", session_id)
        for renamed in self._subscribers:
            try:
                renamed(session_id)
            except Exception:
                log.exception("a title subscriber failed")

    async def aclose(self) -> None:
        self._closed = True
        self._manager.detach(None, self)
        await self._tasks.cancel_and_wait()
