"""The app's services in a process of their own, for the crash test to kill -9.

    python -m tests.reliability.crash_driver --data-dir D --demo-url URL \
        --kinds responses,chat,... --prompt-prefix TEXT [--settle]

This is what ``desktop.app.run_app`` does minus the window: take the data
folder's lock, open the store, build the services with
:func:`desktop.services.build_services` (the demo provider at ``--demo-url``,
a demo server that lives in the test process so that it outlives every kill),
recover what the last run left streaming, then send one chat per ``--kinds``
entry and stream the replies. The UI is only a subscriber of these services
(DESIGN.md invariant 1): persistence and recovery live below it, so killing
this process cuts exactly what killing the app would cut.

Keys: a KeyStore on keyring's ``fail`` backend (no OS keyring in a test), as
on a machine without one. ``responses`` chats use the stored Demo provider
(OpenAI Responses, resumable); ``chat`` chats use a second stored provider of
kind OPENAI_CHAT on the same demo server (not resumable), added on first run
through the SettingsService as a user would.

Progress goes to stdout as JSON lines, flushed at once:
``open`` (integrity check of the store as opened), ``recovered`` (what
recovery did), ``chat`` (one per chat sent), ``live`` (every new reply has
text) and, with ``--settle`` (recover, wait for every resumed reply to end,
quit cleanly), ``settled``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from pathlib import Path
from typing import Any

import keyring.backends.fail

from desktop.core.models import ProviderKind
from desktop.services import Services, build_services
from desktop.store import KeyStore, Store
from desktop.store.lock import DataDirLock
from tests.support.aio import wait_for

CHAT_PROVIDER_NAME = "Demo (Chat Completions)"
MAX_STREAMS = 50  # resumed replies of earlier runs must not be evicted by new ones
LIVE_TIMEOUT = 20.0
SETTLE_TIMEOUT = 60.0
UNKILLED_TIMEOUT = 60.0


def emit(event: str, **fields: Any) -> None:
    sys.stdout.write(json.dumps({"event": event, **fields}) + "\n")
    sys.stdout.flush()


def provider_ids(services: Services, demo_url: str) -> dict[str, int]:
    """The stored provider for each kind of chat; adds the Chat Completions one once."""
    views = services.settings.providers()
    demo = next(p for p in views if p.is_demo)
    chat = next((p for p in views if p.name == CHAT_PROVIDER_NAME), None)
    if chat is None:
        stored, _ = services.settings.add_provider(
            CHAT_PROVIDER_NAME,
            ProviderKind.OPENAI_CHAT,
            demo_url.rstrip("/") + "/v1",
            "sidestream-demo",
        )
        chat_id = stored.id
    else:
        chat_id = chat.id
    return {"responses": demo.id, "chat": chat_id}


async def drive(args: argparse.Namespace) -> int:
    data_dir = Path(args.data_dir)
    lock = DataDirLock(data_dir)
    lock.acquire()  # a lock left by the killed run must not block this one
    try:
        store = Store.open(data_dir)
        backup = store.recovered_from_corruption
        emit(
            "open",
            integrity=store.integrity_check(),
            recovered_from_corruption=str(backup) if backup else None,
        )
        keys = KeyStore(backend=keyring.backends.fail.Keyring())
        services = build_services(store, keys, demo_url=args.demo_url)
        ids = provider_ids(services, args.demo_url)
        if services.settings.max_streams != MAX_STREAMS:
            services.settings.set_max_streams(MAX_STREAMS)
        report = await services.recover()
        emit(
            "recovered",
            resumed=list(report.resumed),
            completed=list(report.completed),
            interrupted=list(report.interrupted),
        )
        manager = services.manager
        if args.settle:
            await wait_for(lambda: manager.live_count() == 0, SETTLE_TIMEOUT, "replies to end")
            await services.aclose()
            emit("settled")
            return 0
        sessions: list[int] = []
        for index, kind in enumerate(args.kinds.split(",")):
            prompt = f"{args.prompt_prefix} chat {index}"
            session = services.chat.create_chat(provider_id=ids[kind])
            message = await services.chat.send(session.id, prompt)
            sessions.append(session.id)
            emit("chat", session=session.id, message=message.id, kind=kind, prompt=prompt)

        def all_have_text() -> bool:
            snapshots = [manager.snapshot(s) for s in sessions]
            return all(s is None or s.text for s in snapshots)

        await wait_for(all_have_text, LIVE_TIMEOUT, "every new reply's first text")
        emit("live", streams=manager.live_count())
        # Streaming goes on until the test kills this process; if it never
        # does, quit as the app would so that nothing is left running.
        await asyncio.sleep(UNKILLED_TIMEOUT)
        await services.aclose()
        return 3
    finally:
        lock.release()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="crash_driver", description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--demo-url", required=True)
    parser.add_argument("--kinds", default="responses,chat,responses,chat,responses")
    parser.add_argument("--prompt-prefix", default="crash")
    parser.add_argument("--settle", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    return asyncio.run(drive(args))


if __name__ == "__main__":
    sys.exit(main())
