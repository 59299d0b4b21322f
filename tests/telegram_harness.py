"""Running the real bot Application in the test's event loop against `FakeTelegram`.

    async with serving(tg, library) as bot:
        question = tg.private_message(42, "Why did Russia deploy border guards in Syunik?")
        [reply] = await bot.replies_to(question)
        ...
        await bot.drain()  # every update fetched so far is handled; the bot is stopped

`drain()` is the barrier that lets tests assert that something did *not* happen without
sleeping: it waits until the fake has handed out every pushed update (and the bot has
confirmed them), then stops the Application, which first finishes every update it received.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from telegram.ext import Application

from bot.cli import service_config
from bot.operations.instruments import Instruments
from bot.retrieval.library import Library, LibrarySource
from bot.telegram import service
from bot.telegram.library_holder import LibraryHolder
from bot.telegram.service import ServiceConfig, build_application, start_instruments
from bot.telegram.update_store import UpdateStore
from conftest import CORPUS, DEFAULTS
from fake_telegram import Call, FakeTelegram

EXAMPLES = (
    "Why did Russia deploy border guards in Syunik?",
    "Who is the commander of Russia's Southern Military District?",
    "When did Pashinyan and Putin meet in Moscow?",
)
QUESTION = "Why did Russia deploy border guards in Syunik?"


class Running:
    def __init__(self, tg: FakeTelegram, application: Application, holder: LibraryHolder, instruments: Instruments):
        self.tg = tg
        self.application = application
        self.holder = holder
        self.instruments = instruments  # the question log, metrics, health (closed when `serving` ends)
        self.receiver: service.Receiver | None = None
        self.stopped = False

    async def replies_to(self, update: dict, count: int = 1, *, timeout: float = 15.0) -> list[Call]:
        """The bot's messages replying to the message in `update` (waits for `count` of them)."""
        message = update.get("message") or update.get("edited_message") or update
        return await self.tg.wait_for_async(
            "sendMessage", count, timeout=timeout, chat_id=message["chat"]["id"],
            reply_parameters=lambda r: isinstance(r, dict) and r.get("message_id") == message["message_id"],
        )

    async def drain(self, timeout: float = 15.0) -> None:
        if self.stopped:
            return
        await self.tg.wait_for_async(lambda: not self.tg.pending_updates(), timeout=timeout)
        await self.stop()

    async def stop(self, timeout: float = 15.0) -> int:
        """Stop as SIGTERM does (`bot.telegram.service.stop`); returns how many updates were cut short."""
        if self.stopped:
            return 0
        self.stopped = True
        return await service.stop(self.application, timeout, self.receiver, self.instruments.health)


def config_for(tg: FakeTelegram, **overrides: Any) -> ServiceConfig:
    """The service configuration `python -m bot run` makes from the default settings, talking to
    the fake, with the seed corpus (no index cache, no update store: `serving(store=...)` opens one)
    and `overrides`."""
    values: dict[str, Any] = {
        "token": SecretStr(tg.token), "api_base_url": tg.base_url, "example_questions": EXAMPLES,
        "corpus": LibrarySource(CORPUS, DEFAULTS.max_file_bytes), "update_store": None,
        "question_log": None,  # no log file in the working directory: a test that wants one passes its own path
    }
    values.update(overrides)
    return dataclasses.replace(service_config(DEFAULTS), **values)


@contextlib.asynccontextmanager
async def serving(
    tg: FakeTelegram,
    library: Library,
    *,
    loader: Callable[[], Any] | None = None,
    store: Path | None = None,
    **overrides: Any,
) -> AsyncIterator[Running]:
    """The bot, long-polling the fake, started and stopped as `python -m bot run` does (with an update
    store when `store` names its file)."""
    config = config_for(tg, **overrides)
    holder = LibraryHolder(library, loader or config.corpus.load)
    instruments = start_instruments(config)
    updates = await UpdateStore.open(store, service.bot_id(config.token)) if store is not None else None
    application = build_application(config, holder, instruments, updates)
    running = Running(tg, application, holder, instruments)
    try:
        running.receiver = await service.start(application, config, instruments.health, poll_timeout=1)
        yield running
    finally:
        await running.stop()
        instruments.close()  # after the bot: its last questions are written; the endpoint answers until here


def reply_ids(tg: FakeTelegram, chat_id: int) -> list[int]:
    """The message ids the bot's messages in `chat_id` reply to, in sending order."""
    return [
        c.params["reply_parameters"]["message_id"]
        for c in tg.sent("sendMessage", chat_id=chat_id)
        if isinstance(c.params.get("reply_parameters"), dict)
    ]


def texts(calls: list[Call]) -> list[str]:
    """What the user sees (plain text after Telegram parsed the HTML)."""
    return [c.result["text"] for c in calls]


def entity_types(call: Call) -> list[str]:
    return [e["type"] for e in call.result.get("entities", [])]
