"""Composition root: builds the services and the window, runs the qasync loop.

This is the one place that connects the layers: store, providers and the
stream manager (Qt-free) to the window, the tray and notifications (Qt).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from typing import Any

import PySide6  # noqa: F401  (imported before qasync so qasync picks PySide6)
from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import QApplication, QMessageBox

os.environ.setdefault("QT_API", "pyside6")
import qasync

from desktop import APP_NAME, __version__
from desktop.cli import PROVIDER_CHOICES
from desktop.core.models import ProviderKind
from desktop.services import Services, build_services
from desktop.store import Store, StoreError, resolve_data_dir
from desktop.streaming.events import StreamEnded
from desktop.ui.icons import app_icon
from desktop.ui.main_window import MainWindow

log = logging.getLogger("sidestream.app")


class SidestreamApp:
    """One running app: services, window, and the quit sequence."""

    def __init__(self, services: Services, window: MainWindow) -> None:
        self.services = services
        self.window = window
        self._quit = asyncio.Event()
        self._quitting = False
        self._tasks: set[asyncio.Task[Any]] = set()
        window.quit_requested.connect(self.request_quit)
        window.close_requested.connect(self._on_window_close_requested)
        services.manager.add_terminal_listener(self._on_stream_ended)

    # ---------------------------------------------------------------- events
    def _on_stream_ended(self, ended: StreamEnded) -> None:
        """A reply ended: mark it unread if nobody saw it end."""
        if ended.status.value not in ("complete", "failed"):
            return
        if self.window.visible_session() != ended.session_id:
            self.window.mark_unread(ended.session_id, True)

    def _on_window_close_requested(self) -> None:
        self.request_quit()

    def request_quit(self) -> None:
        """Quit, asking first when replies are still streaming (invariant 11)."""
        if self._quitting:
            return
        live = self.services.manager.live_count()
        if live:
            answer = QMessageBox.question(
                self.window,
                f"Quit {APP_NAME}",
                f"{live} {'reply is' if live == 1 else 'replies are'} still streaming.\n\n"
                "Quit anyway? The text so far is kept, and you can Continue later.",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
                QMessageBox.StandardButton.Cancel,
            )
            if answer != QMessageBox.StandardButton.Yes:
                return
        self._quitting = True
        self._quit.set()

    async def run(self) -> int:
        await self.services.recover()
        self.window.show()
        await self._quit.wait()
        await self.shutdown()
        return 0

    async def shutdown(self) -> None:
        """Every partial text is flushed before the process exits."""
        self.window.allow_close = True
        self.window.hide()
        await self.services.aclose(interrupt=True)
        self.window.close()


def _apply_provider_args(services: Services, args: argparse.Namespace) -> None:
    """``--provider KIND [--base-url URL] [--model M]``: add or select that provider."""
    if args.demo:
        for p in services.settings.providers():
            if p.is_demo:
                services.settings.set_default_provider(p.id)
        return
    if not args.provider:
        return
    kind = ProviderKind(PROVIDER_CHOICES[args.provider])
    defaults = {
        "openai": ("OpenAI", "https://api.openai.com/v1", "gpt-4o-mini"),
        "openai-responses": ("OpenAI (Responses)", "https://api.openai.com/v1", "gpt-4o-mini"),
        "anthropic": ("Anthropic", "https://api.anthropic.com", "claude-sonnet-4-5"),
        "openai-compatible": ("OpenAI-compatible", "http://127.0.0.1:8080/v1", "default"),
    }
    name, base_url, model = defaults[args.provider]
    base_url = args.base_url or base_url
    model = args.model or model
    for p in services.settings.providers():
        if p.kind is kind and p.base_url == base_url.rstrip("/"):
            services.settings.set_default_provider(p.id)
            return
    if any(p.name == name for p in services.settings.providers()):
        name = f"{name} ({base_url})"
    stored, _ = services.settings.add_provider(name, kind, base_url, model)
    services.settings.set_default_provider(stored.id)


def _fatal(message: str) -> int:
    log.error("%s", message)
    if QApplication.instance() is not None:
        QMessageBox.critical(None, APP_NAME, message)
    else:
        sys.stderr.write(f"sidestream: {message}\n")
    return 1


def run_app(args: argparse.Namespace) -> int:
    QCoreApplication.setApplicationName(APP_NAME)
    QCoreApplication.setOrganizationName(APP_NAME)
    QCoreApplication.setApplicationVersion(__version__)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    app.setWindowIcon(app_icon())
    app.setQuitOnLastWindowClosed(False)
    app.setDesktopFileName("sidestream")

    data_dir = resolve_data_dir(args.data_dir)
    try:
        store = Store.open(data_dir)
    except StoreError as exc:
        return _fatal(f"Sidestream cannot open its data.\n\n{exc.message}")
    if store.recovered_from_corruption is not None:
        QMessageBox.warning(
            None,
            APP_NAME,
            "The chat database was damaged and could not be opened. It was kept aside as\n"
            f"{store.recovered_from_corruption}\nand a new, empty one was created.",
        )

    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    with loop:
        services = build_services(store)
        _apply_provider_args(services, args)
        window = MainWindow(services.chat, services.settings, demo_only=services.demo_only)
        sidestream = SidestreamApp(services, window)
        sessions = services.chat.chats()
        if sessions:
            window.open_chat(sessions[0].id)
        else:
            window.new_chat()
        return int(loop.run_until_complete(sidestream.run()))
