"""The Qt-free services of one running Sidestream, built in one place.

What a person does with chats (:mod:`.chat`), the presets chats start from
(:mod:`.chat_presets`), providers and settings (:mod:`.settings`), which
provider serves which chat (:mod:`.directory`), chats imported from
export files (:mod:`.imports`), and full-text search (:mod:`.search`),
over the store and the stream manager. ``app.py`` builds these for the
window; tests and ``--self-test`` build the same objects without a window.

Which thread writes to the store:

* Everything a reply writes, and every write that must be ordered with a
  reply's writes (send, edit, regenerate, continue, switch versions, delete a
  chat or a message, remove a provider or a preset, whose chats lose it,
  import chats from a file), runs on the StreamManager's writer thread
  (:meth:`StreamManager.run_store`), in order.
* The GUI thread writes only single-row edits a person makes and waits for
  (create a chat, rename, change its model, system prompt or parameters,
  mute, mark read, add or edit a preset, provider and app settings): one
  short IMMEDIATE transaction each, which SQLite's WAL lets run
  beside the writer thread, waiting at most for one of its short transactions
  (busy_timeout).
* Start-up (opening the store, the first run's provider rows, the command
  line's provider) writes on the thread that builds the services, before any
  reply runs.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass

from desktop.core.models import Message
from desktop.providers.base import Provider
from desktop.providers.demo.options import OptionsError, parse_options_header
from desktop.providers.demo.server import DemoOptions, DemoServer
from desktop.services.attachments import AttachmentService
from desktop.services.chat import ChatService
from desktop.services.chat_presets import PresetService
from desktop.services.directory import ProviderDirectory
from desktop.services.imports import ImportService
from desktop.services.search import SearchService
from desktop.services.settings import MAX_STREAMS_KEY, SettingsService
from desktop.services.titles import TitleService
from desktop.store import KeyStore, Store
from desktop.streaming.manager import DEFAULT_LIMIT, StreamManager
from desktop.streaming.stream import RecoveryReport

log = logging.getLogger("sidestream.app")

DEMO_DEFAULTS = DemoOptions(rate=40, tokens=320)
DEMO_OPTIONS_ENV = "SIDESTREAM_DEMO_OPTIONS"
"""Overrides the demo's defaults, in the ``X-Demo-Options`` header's syntax
(e.g. ``rate=50;tokens=60``): end-to-end tests make replies short and fast."""


def demo_defaults() -> DemoOptions:
    """:data:`DEMO_DEFAULTS`, with :data:`DEMO_OPTIONS_ENV` applied when set."""
    raw = os.environ.get(DEMO_OPTIONS_ENV, "").strip()
    if not raw:
        return DEMO_DEFAULTS
    try:
        return parse_options_header(raw, DEMO_DEFAULTS)
    except OptionsError as exc:
        log.warning("ignoring %s: %s", DEMO_OPTIONS_ENV, exc)
        return DEMO_DEFAULTS


@dataclass
class Services:
    store: Store
    keys: KeyStore
    demo: DemoServer | None
    directory: ProviderDirectory
    manager: StreamManager
    chat: ChatService
    settings: SettingsService
    demo_only: bool
    presets: PresetService
    imports: ImportService
    search: SearchService
    titles: TitleService
    attachments: AttachmentService

    async def recover(self) -> RecoveryReport:
        """Resume or settle replies a quit or crash left streaming (invariant 9)."""

        def provider_for(message: Message) -> Provider | None:
            session = self.store.get_session(message.session_id)
            try:
                provider, _ = self.directory.provider(session.provider_id if session else None)
            except Exception as exc:
                log.warning("no provider to recover message %s: %s", message.id, exc)
                return None
            return provider

        report = await self.manager.recover(provider_for)
        if report.resumed or report.interrupted or report.completed:
            log.info(
                "recovered replies: %d resumed, %d completed, %d interrupted",
                len(report.resumed),
                len(report.completed),
                len(report.interrupted),
            )
        return report

    async def aclose(self, *, interrupt: bool = True) -> None:
        """Stop or park every reply, flush, and release everything."""
        await self.titles.aclose()
        await self.manager.shutdown(interrupt=interrupt)
        await self.directory.aclose()
        if self.demo is not None:
            self.demo.stop()
        self.store.close()


def build_services(
    store: Store,
    keys: KeyStore | None = None,
    *,
    start_demo: bool = True,
    demo: DemoServer | None = None,
    demo_url: str | None = None,
    read_timeout: float = 60.0,
    first_token_wait: float | None = None,
) -> Services:
    """Wire store, providers, manager and services together.

    The demo provider is ``demo`` if given, else a demo server already running
    at ``demo_url`` (or ``$SIDESTREAM_DEMO_URL``: tests use one that outlives
    the app), else one started here. ``first_token_wait`` overrides the
    setting of that name (tests).
    """
    keys = keys or KeyStore()
    demo_url = demo_url or os.environ.get("SIDESTREAM_DEMO_URL") or None
    if demo is None and demo_url is None and start_demo:
        demo = DemoServer(defaults=demo_defaults())
        demo.start()
    demo_server = demo
    openai_url: Callable[[], str] | None = None
    if demo_server is not None:
        openai_url = lambda: demo_server.openai_base_url  # noqa: E731
    elif demo_url is not None:
        external = demo_url.rstrip("/")
        openai_url = lambda: external + "/v1"  # noqa: E731
    directory = ProviderDirectory(
        store,
        keys,
        demo_url=openai_url,
        read_timeout=read_timeout,
        first_token_wait=first_token_wait,
    )
    demo_only = directory.ensure_defaults()
    limit = store.get_setting(MAX_STREAMS_KEY, DEFAULT_LIMIT)
    manager = StreamManager(store, limit=int(limit) if isinstance(limit, int) else DEFAULT_LIMIT)
    chat = ChatService(store, manager, directory)
    settings = SettingsService(store, directory, manager)
    presets = PresetService(store, manager)
    imports = ImportService(store, manager)
    search = SearchService(store)
    titles = TitleService(store, manager, directory)
    return Services(
        store,
        keys,
        demo,
        directory,
        manager,
        chat,
        settings,
        demo_only,
        presets,
        imports,
        search,
        titles,
        AttachmentService(store),
    )
