"""Composition root: builds the services and the window, runs the qasync loop.

This is the one place that connects the layers: store, providers and the
stream manager (Qt-free) to the window, the tray and notifications (Qt).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import faulthandler
import functools
import gc
import io
import logging
import os
import signal
import sys
from collections.abc import Callable

import PySide6  # noqa: F401  (imported before qasync so qasync picks PySide6)
from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import QApplication, QMessageBox

os.environ.setdefault("QT_API", "pyside6")
from desktop import APP_NAME, __version__
from desktop.core.presets import COMMAND_LINE_PROVIDERS
from desktop.core.states import InterruptReason, MessageStatus
from desktop.core.tasks import TaskKeeper
from desktop.providers import http
from desktop.ready_probe import install_ready_probe
from desktop.services import Services, build_services
from desktop.store import Store, StoreError, resolve_data_dir
from desktop.store.lock import DataDirLock, DataDirLocked, held_by_another_process
from desktop.streaming.events import StreamEnded, StreamListener
from desktop.streaming.stream import UnsavedReply
from desktop.ui.collector import GuiThreadCollector
from desktop.ui.event_loop import new_event_loop
from desktop.ui.icons import app_icon
from desktop.ui.main_window import MainWindow
from desktop.ui.notifications import (
    DesktopNotifier,
    FallbackNotifier,
    NotificationService,
    Notifier,
    TrayBalloonNotifier,
)
from desktop.ui.plain import warn
from desktop.ui.quit_question import QuitChoice, QuitQuestion
from desktop.ui.single_instance import InstanceServer, ask_running_instance_to_raise
from desktop.ui.tray import Tray
from desktop.ui.unsaved_dialog import UnsavedText, UnsavedTextDialog

log = logging.getLogger("sidestream.app")

UNSAVED_RETRY_S = 1.0
"""How often Quit retries writing text the store refused, while it asks."""


AskQuit = Callable[[int, bool], QuitChoice]
"""``ask(live_count, tray_available) -> QuitChoice``; a dialog, or a stub in tests."""

TRAY_HINT_KEY = "tray_close_hint_shown"


class SidestreamApp(StreamListener):
    """One running app: services, window, tray, notifications and the quit sequence.

    Closing the window (invariant 11): with replies streaming and a system
    tray, the window hides and the replies go on (the first time a balloon
    says so; that it was said is persisted); with nothing streaming, closing
    quits; with no tray, closing asks like Quit does. Quit (Ctrl+Q, the
    tray's Quit) with replies streaming asks: keep running, stop and quit, or
    cancel. Quitting interrupts the replies and flushes every partial text.
    """

    def __init__(
        self,
        services: Services,
        window: MainWindow,
        *,
        tray: Tray | None = None,
        notifier: Notifier | None = None,
        ask_quit: AskQuit | None = None,
    ) -> None:
        self.services = services
        self.window = window
        self._quit = asyncio.Event()
        self._quitting = False
        self._asking = False
        self._tasks = TaskKeeper(log)
        if tray is None:
            tray = Tray(services.manager.streaming_count, window.unread_count)
        self.tray = tray
        if notifier is None:
            notifier = FallbackNotifier(DesktopNotifier(), TrayBalloonNotifier(self.tray))
        self.notifications = NotificationService(
            services.manager,
            services.chat,
            services.settings,
            notifier,
            window.visible_session,
            shows_message=window.shows_message,
        )
        self._ask_quit = ask_quit or self._ask_quit_dialog
        self.unsaved_dialog: UnsavedTextDialog | None = None
        """Shown while Quit waits for text the store refused to be written."""
        self.quit_question: QuitQuestion | None = None
        """The quit question while it is open: its count follows the replies."""
        self._connect_signals()

    def _connect_signals(self) -> None:
        window, tray, notifications = self.window, self.tray, self.notifications
        window.quit_requested.connect(self.request_quit)
        window.close_requested.connect(self._on_window_close_requested)
        window.visibility_changed.connect(tray.refresh)
        window.visibility_changed.connect(lambda: notifications.seen(window.visible_session()))
        self.services.manager.attach(None, self)  # live changes, refused writes
        notifications.finished_unseen.connect(self._on_notifications_finished_unseen)
        notifications.clicked.connect(self.show_chat)
        notifications.reply_clicked.connect(self._on_notifications_reply_clicked)
        self.services.titles.subscribe(window.refresh_chat)  # a chat named by its model
        tray.show_requested.connect(self._on_tray_show_requested)
        tray.new_chat_requested.connect(self._on_tray_new_chat_requested)
        tray.stop_all_requested.connect(self.stop_all)
        tray.quit_requested.connect(self.request_quit)
        tray.do_not_disturb_toggled.connect(notifications.set_do_not_disturb)
        tray.set_do_not_disturb(notifications.do_not_disturb)

    @property
    def quit_confirmed(self) -> bool:
        """Nothing holds the quit back any more: :meth:`run` shuts down now."""
        return self._quit.is_set()

    @property
    def quitting(self) -> bool:
        """Quit was decided; :meth:`run` is shutting down."""
        return self._quitting

    # ---------------------------------------------------------------- events
    def on_live_changed(self, session_id: int, live: bool) -> None:
        self.tray.refresh()
        self._update_quit_question()

    def on_stream_ended(self, ended: StreamEnded) -> None:
        self._update_quit_question()

    def _update_quit_question(self) -> None:
        if self.quit_question is not None:
            self.quit_question.set_live(self.services.manager.streaming_count())

    def on_store_refused(self, error: StoreError) -> None:
        self.window.show_store_problem(error.message)

    def _on_notifications_finished_unseen(self, session_id: int) -> None:
        """A reply ended while its chat was not visible: mark it unread."""
        self.window.mark_unread(session_id, True)

    def _on_tray_show_requested(self) -> None:
        self.window.show_and_raise()

    def _on_tray_new_chat_requested(self) -> None:
        self.window.show_and_raise()
        self.window.new_chat()

    def _on_window_close_requested(self) -> None:
        if self._quitting or self._asking:
            return
        live = self.services.manager.streaming_count()
        if not live:
            self.request_quit()  # nothing would keep running: closing quits
        elif self.tray.available:
            self.hide_to_tray()
        else:
            self._ask_then_quit(live)

    # --------------------------------------------------------------- actions
    def show_chat(self, session_id: int) -> None:
        """A notification was clicked: the window, on that chat, its unread mark cleared."""
        if self.services.chat.chat(session_id) is None:
            self.window.show_and_raise()
            return
        self.window.show_and_raise(session_id)
        self.window.mark_unread(session_id, False)

    def _on_notifications_reply_clicked(self, session_id: int, message_id: int) -> None:
        # After show_chat: the chat's tab is open; show the reply's branch.
        tab = self.window.tab_for(session_id)
        if tab is not None:
            tab.show_reply(message_id)

    def stop_all(self) -> None:
        """The tray's Stop all: every live reply ends as ``stopped``."""
        self._tasks.spawn(self.services.manager.stop_all())

    def hide_to_tray(self) -> None:
        """Hide the window; replies go on (invariant 3). Said once, the first time."""
        self.window.hide()
        if self.services.settings.get(TRAY_HINT_KEY, False):
            return
        self.services.settings.set(TRAY_HINT_KEY, True)
        live = self.services.manager.streaming_count()
        what = f"{live} {'reply keeps' if live == 1 else 'replies keep'} streaming"
        self.tray.show_message(
            f"{APP_NAME} is still running",
            f"{what} in the background. Click the tray icon to come back; Quit is in its menu.",
        )

    def request_quit(self) -> None:
        """Quit, asking first when replies are still streaming (invariant 11)."""
        if self._quitting or self._asking:
            return
        live = self.services.manager.streaming_count()
        if live:
            self._ask_then_quit(live)
            return
        self._quit_now()

    def _ask_then_quit(self, live: int) -> None:
        self._asking = True
        try:
            choice = self._ask_quit(live, self.tray.available)
        finally:
            self._asking = False
        if choice is QuitChoice.QUIT:
            self._quit_now()
        elif choice is QuitChoice.KEEP_RUNNING:
            if self.tray.available:
                self.hide_to_tray()
            else:
                self.window.showMinimized()

    def _quit_now(self) -> None:
        # End the replies first, and quit only once their text is on disk, or
        # when the user accepts to lose it (the disk may have filled up while
        # they streamed; whether the last write went through says little: a
        # write that needs no new page succeeds on a full disk).
        self._quitting = True
        self._tasks.spawn(self._save_then_quit())

    async def _save_then_quit(self) -> None:
        manager = self.services.manager
        await manager.stop_all(MessageStatus.INTERRUPTED, InterruptReason.APP_QUIT)
        await manager.retry_saving()
        if not manager.unsaved_replies():
            self._quit.set()
            return
        dialog = UnsavedTextDialog(self.window if self.window.isVisible() else None)
        self.unsaved_dialog = dialog
        answer: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        dialog.quit_anyway.connect(lambda: _settle(answer, True))
        dialog.kept_open.connect(lambda: _settle(answer, False))
        tries = 0
        try:
            while unsaved := manager.unsaved_replies():
                refusal = manager.store_refusal
                dialog.show_state(
                    [self._unsaved_text(reply) for reply in unsaved],
                    refusal.message if refusal else "The text could not be written.",
                    tries,
                )
                if not dialog.isVisible():
                    dialog.open()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(UNSAVED_RETRY_S):
                        await asyncio.shield(answer)
                if answer.done():
                    break
                tries += 1
                await manager.retry_saving()
        finally:
            self.unsaved_dialog = None
            dialog.accept()
            dialog.deleteLater()
        if answer.done() and not answer.result():
            log.info("quit cancelled: text is not on disk yet")
            self._quitting = False
            return
        self._quit.set()

    def _unsaved_text(self, reply: UnsavedReply) -> UnsavedText:
        chat = self.services.chat.chat(reply.session_id)
        return UnsavedText(chat.title if chat else "a deleted chat", reply.unsaved, reply.saved)

    def quit_for_signal(self, name: str) -> None:
        """SIGINT, SIGTERM or SIGHUP (Ctrl+C in a terminal, logout, ``systemctl
        stop``, a package upgrade): quit as Quit does, without asking. The
        replies end ``interrupted`` (app quit) with all their text on disk."""
        log.info("%s received: quitting", name)
        if self._quit.is_set():
            return
        modal = QApplication.activeModalWidget()
        if modal is not None:
            modal.close()  # the quit question, say: nobody is there to answer it
        self._quitting = True
        self._quit.set()

    def _ask_quit_dialog(self, live: int, tray_available: bool) -> QuitChoice:
        parent = self.window if self.window.isVisible() else None
        question = QuitQuestion(live, tray_available, parent)
        self.quit_question = question
        try:
            return question.ask()
        finally:
            self.quit_question = None
            question.box.deleteLater()

    # -------------------------------------------------------------- lifecycle
    async def run(self) -> int:
        await self.services.recover()
        self.tray.refresh()
        self.tray.show()
        self.window.show()
        install_ready_probe(self.window, self.request_quit)
        self._tasks.spawn(self._sweep_files())
        self._tasks.spawn(self.verify_store())
        await self._quit.wait()
        await self.shutdown()
        return 0

    async def verify_store(self) -> QMessageBox | None:
        """Check the whole database file once the window shows (a worker thread;
        a start checks only what it reads first); damage found is said at once,
        and the next start keeps the file aside. Returns the warning shown."""
        problems = await asyncio.to_thread(self.services.store.verify)
        if not problems:
            return None
        box = QMessageBox(
            QMessageBox.Icon.Warning,
            APP_NAME,
            "Sidestream found damage in its database file. What you see now stays as it is"
            " while Sidestream runs; the next time it starts, it keeps the damaged file aside"
            f" as a backup in {self.services.store.path.parent} (nothing is deleted) and"
            " starts a new, empty one.",
            QMessageBox.StandardButton.Ok,
            self.window,
        )
        box.setDetailedText("\n".join(problems[:20]))
        box.open()
        return box

    async def _sweep_files(self) -> None:
        """Remove files attached a day ago or more and never sent (a worker thread)."""
        try:
            removed = await self.services.attachments.sweep()
        except Exception as exc:  # a store problem is reported where it matters
            log.warning("could not sweep unsent attached files: %s", exc)
            return
        if removed:
            log.info("removed %d attached files that were never sent", removed)

    async def shutdown(self) -> None:
        """Every partial text is flushed before the process exits."""
        self.window.save_geometry()  # while the store is open
        self.window.allow_close = True
        self.window.hide()
        self.tray.hide()
        await self.notifications.aclose()
        await self._tasks.cancel_and_wait()
        await self.services.aclose(interrupt=True)
        self.window.close()


def _settle(future: asyncio.Future[bool], value: bool) -> None:
    if not future.done():
        future.set_result(value)


def start_window(services: Services, args: argparse.Namespace) -> MainWindow:
    """The main window, once the command line's provider is in place: the demo
    hint shows only when the demo is still the one provider there is."""
    _apply_provider_args(services, args)
    demo_only = all(p.is_demo for p in services.settings.providers())
    return MainWindow(
        services.chat,
        services.settings,
        demo_only=demo_only,
        presets=services.presets,
        imports=services.imports,
        search=services.search,
        attachments=services.attachments,
    )


def _apply_provider_args(services: Services, args: argparse.Namespace) -> None:
    """``--provider KIND [--base-url URL] [--model M]``: add or select that provider."""
    if args.demo:
        for p in services.settings.providers():
            if p.is_demo:
                services.settings.set_default_provider(p.id)
        return
    if not args.provider:
        return
    preset = COMMAND_LINE_PROVIDERS[args.provider]
    kind, name = preset.kind, preset.name
    base_url = args.base_url or preset.base_url
    model = args.model or preset.default_model
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
        warn(None, APP_NAME, message, critical=True)
    else:
        sys.stderr.write(f"sidestream: {message}\n")
    return 1


def _dump_stacks_on_sigusr1() -> None:
    """``kill -USR1 <pid>`` writes every thread's Python stack to stderr (for a hang)."""
    if not hasattr(signal, "SIGUSR1") or sys.stderr is None:
        return
    try:
        faulthandler.register(signal.SIGUSR1, file=sys.stderr, all_threads=True)
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        log.debug("no stack dump on SIGUSR1: stderr has no file descriptor")


def _quit_on_signals(loop: asyncio.AbstractEventLoop, sidestream: SidestreamApp) -> None:
    """Route the signals that ask a program to end through the quit sequence.

    Python's default SIGINT handler raises KeyboardInterrupt wherever the
    interpreter happens to be, here inside a Qt callback (a crash in
    ``app.exec``); the default SIGTERM kills without a flush. The loop's
    handlers run as ordinary callbacks, woken through its self-pipe.
    """
    for name in ("SIGINT", "SIGTERM", "SIGHUP"):
        number = getattr(signal, name, None)
        if number is None:
            continue
        try:
            loop.add_signal_handler(number, sidestream.quit_for_signal, name)
        except (NotImplementedError, RuntimeError, ValueError) as exc:  # e.g. Windows
            log.debug("no handler for %s: %s", name, exc)


def run_app(args: argparse.Namespace) -> int:
    _dump_stacks_on_sigusr1()
    QCoreApplication.setApplicationName(APP_NAME)
    QCoreApplication.setOrganizationName(APP_NAME)
    QCoreApplication.setApplicationVersion(__version__)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    app.setWindowIcon(app_icon())
    app.setQuitOnLastWindowClosed(False)
    app.setDesktopFileName("sidestream")

    data_dir = resolve_data_dir(args.data_dir)
    lock = DataDirLock(data_dir)
    for attempt in range(2):
        try:
            lock.acquire()
            break
        except DataDirLocked as exc:
            # Never two writers: hand over to the running instance, or say why not.
            still_held = functools.partial(held_by_another_process, data_dir)
            if ask_running_instance_to_raise(data_dir, still_held=still_held):
                log.info("Sidestream already runs on %s: its window was raised", data_dir)
                if sys.stderr is not None:
                    sys.stderr.write(f"sidestream: {exc} Its window was brought to the front.\n")
                return 0
            if attempt or still_held():
                return _fatal(
                    f"{exc}\n\nClose it first, or start this one with another --data-dir."
                )
            # The other one ended while this one waited for it: take the folder.
        except OSError as exc:
            return _fatal(f"Sidestream cannot use its data folder {data_dir}:\n\n{exc}")
    try:
        store = Store.open(data_dir)
    except StoreError as exc:
        return _fatal(f"Sidestream cannot open its data.\n\n{exc.message}")
    if store.recovered_from_corruption is not None:
        warn(
            None,
            APP_NAME,
            "The chat database was damaged and could not be opened. It was kept aside as\n"
            f"{store.recovered_from_corruption}\nand a new, empty one was created.",
        )

    # Cycles holding Qt objects must be collected on this thread, never in the
    # store's writer or the demo server's thread (see desktop.ui.collector).
    collector = GuiThreadCollector()
    collector.start()
    http.prewarm()
    loop = new_event_loop(app)
    asyncio.set_event_loop(loop)
    try:
        with loop:
            services = build_services(store)
            window = start_window(services, args)
            sidestream = SidestreamApp(services, window)
            _quit_on_signals(loop, sidestream)
            instance = InstanceServer(data_dir, window)
            instance.raise_requested.connect(window.show_and_raise)
            instance.listen()
            if not window.tab_session_ids():  # no tab restored from the last run
                sessions = services.chat.chats(limit=1)
                if sessions:
                    window.open_chat(sessions[0].id)
                else:
                    window.new_chat()
            return int(loop.run_until_complete(sidestream.run()))
    finally:
        # Collect what the run left while Qt is still whole, and leave
        # automatic collection off: one firing inside a Qt destructor at exit
        # was seen to deadlock on Qt's own lock.
        gc.collect()
        collector.stop(reenable=False)
        lock.release()
