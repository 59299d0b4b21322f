"""Received updates kept on disk until they are handled, so that a crash loses no question.

Telegram forgets an update once the bot acknowledges it: the next `getUpdates` offset in long
polling, the `200` answer in a webhook. Anything the bot held only in memory at that point (the
questions queued behind others, the answer being computed) was lost with the process on a
`kill -9`, an out-of-memory kill or a power cut. So every update is written here, and the write
committed to disk, before it is acknowledged; it is marked done once it has been handled
(answered, or apologised for); at start, what is still pending is handled first.

Delivery is at least once: an answer whose sending was under way at the instant of a crash (sent,
but not yet marked done) is sent again after the restart. Telegram offers no way to ask whether a
message arrived, so the only alternative would be to risk losing it.

Telegram also sends an update again when the acknowledgement was lost (the crash came between
fetching and acknowledging): the store remembers handled update ids for `KEEP_HANDLED` so those
are recognised and not answered twice.

Plain `sqlite3` from the standard library: one small table, WAL journal, `synchronous=FULL`
(a commit is on disk when it returns). All database work happens in threads of the store's own
(one writes what arrives, one marks what was handled), so the event loop never waits on the disk.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")

KEEP_HANDLED = 2 * 24 * 3600.0  # seconds: Telegram keeps an unacknowledged update for 24 hours
SCHEMA_VERSION = 1
SCHEMA = """
CREATE TABLE IF NOT EXISTS updates (
    bot_id INTEGER NOT NULL,      -- the bot's id (the token's number): one file may serve several bots
    update_id INTEGER NOT NULL,
    received REAL NOT NULL,       -- Unix time the bot received it
    body TEXT,                    -- the update as JSON; NULL once handled
    handled REAL,                 -- Unix time it was handled; NULL while pending
    PRIMARY KEY (bot_id, update_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS pending ON updates (bot_id, update_id) WHERE handled IS NULL;
"""


class UpdateStoreError(Exception):
    """The store cannot be used; the message names the file and what to do."""


@dataclass(frozen=True, slots=True)
class Pending:
    update_id: int
    received: float  # Unix time
    update: dict[str, Any]  # as Telegram sent it


class UpdateStore:
    """The updates of one bot: `admit` before acknowledging, `handled` after, `pending` at start.

    Open it with `await UpdateStore.open(path, bot_id)`; every method runs in the store's thread.
    """

    def __init__(self, path: Path, bot_id: int, *, clock: Callable[[], float] = time.time):
        self.path = path
        self.bot_id = bot_id
        self._clock = clock
        self._thread = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="update-store")
        # Marks have a thread and a connection of their own: in a burst, a hundred updates wait to be
        # written, and a mark queued behind them would leave its answer unmarked (sent again after a
        # crash) for that long. SQLite takes the two writers in turn.
        self._marker = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="update-marks")
        self._db: sqlite3.Connection | None = None
        self._marks_db: sqlite3.Connection | None = None
        self._handling: set[int] = set()  # admitted in this run and not handled yet
        self._to_mark: list[int] = []  # handled, to be marked in the next commit
        self._marking: asyncio.Future[None] | None = None  # that commit, until it takes them
        self._committing = asyncio.Lock()  # one commit of marks at a time; the next one gathers meanwhile

    @classmethod
    async def open(cls, path: Path, bot_id: int, *, clock: Callable[[], float] = time.time) -> UpdateStore:
        """Open (or create) the store at `path`; raise UpdateStoreError when it cannot be used."""
        store = cls(path, bot_id, clock=clock)
        try:
            await store._call(store._connect)
            await store._call(store._connect_marker, thread=store._marker)
        except BaseException:
            store._thread.shutdown(wait=False)
            store._marker.shutdown(wait=False)
            raise
        return store

    async def admit(self, update_id: int, update: dict[str, Any]) -> bool:
        """Record an update before it is acknowledged. True: handle it now; False: it was handled
        already, or is being handled (Telegram sent it again)."""
        if update_id in self._handling:
            return False
        new_or_pending = await self._call(self._insert, update_id, json.dumps(update, ensure_ascii=False))
        if new_or_pending:
            self._handling.add(update_id)
        return new_or_pending

    async def handled(self, update_id: int) -> None:
        """Mark an update handled: it will not be handled again. Updates handled while a commit waits
        for the store's thread are marked in that one commit, so that a burst of answers is marked as
        fast as it is sent (an answer sent but not yet marked is sent again after a crash)."""
        self._handling.discard(update_id)
        self._to_mark.append(update_id)
        if self._marking is None:
            self._marking = asyncio.ensure_future(self._commit_marks())
        await asyncio.shield(self._marking)

    async def _commit_marks(self) -> None:
        async with self._committing:
            ids, self._to_mark, self._marking = self._to_mark, [], None
            await self._call(self._mark_handled, ids, thread=self._marker)

    async def pending(self) -> list[Pending]:
        """Updates received but not handled (by an earlier run that stopped or crashed), oldest first."""
        return await self._call(self._pending)

    async def close(self) -> None:
        if self._marks_db is not None:
            await self._call(self._close_marker, thread=self._marker)
        if self._db is not None:
            await self._call(self._close)
        self._marker.shutdown(wait=True)
        self._thread.shutdown(wait=True)

    # --- in the store's thread --------------------------------------------------------------

    async def _call(self, function: Callable[..., T], *args: Any,
                    thread: concurrent.futures.ThreadPoolExecutor | None = None) -> T:
        return await asyncio.get_running_loop().run_in_executor(thread or self._thread, function, *args)

    def _connect_marker(self) -> None:
        try:
            self._marks_db = sqlite3.connect(self.path, timeout=30)
            self._marks_db.execute("PRAGMA synchronous=FULL")  # per connection
        except sqlite3.Error as error:
            raise UpdateStoreError(f"cannot use the update store {self.path}: {error}") from None

    def _close_marker(self) -> None:
        assert self._marks_db is not None
        self._marks_db.close()
        self._marks_db = None

    def _connect(self) -> None:
        problem = f"cannot use the update store {self.path}"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, timeout=30)  # `with db:` is one transaction
        except (OSError, sqlite3.Error) as error:
            raise UpdateStoreError(f"{problem}: {error}; make its folder writable or set BOT_UPDATE_STORE") from None
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version not in (0, SCHEMA_VERSION):
                raise UpdateStoreError(f"{problem}: it was written by a newer version of the bot (schema {version})")
            db.executescript(SCHEMA)
            db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            with db:
                db.execute("DELETE FROM updates WHERE handled < ?", (self._clock() - KEEP_HANDLED,))
        except sqlite3.Error as error:
            db.close()
            raise UpdateStoreError(
                f"{problem}: {error}; if the file is damaged, move it away (the updates it holds are lost)"
            ) from None
        self._db = db

    def _insert(self, update_id: int, body: str) -> bool:
        assert self._db is not None
        with self._db:  # one transaction, committed (on disk) when the block ends
            inserted = self._db.execute(
                "INSERT INTO updates (bot_id, update_id, received, body) VALUES (?, ?, ?, ?) "
                "ON CONFLICT DO NOTHING",
                (self.bot_id, update_id, self._clock(), body),
            ).rowcount
            if inserted:
                return True
            row = self._db.execute(
                "SELECT handled FROM updates WHERE bot_id = ? AND update_id = ?", (self.bot_id, update_id)
            ).fetchone()
        return row is not None and row[0] is None

    def _mark_handled(self, ids: list[int]) -> None:
        assert self._marks_db is not None
        now = self._clock()
        with self._marks_db:
            self._marks_db.executemany(
                "UPDATE updates SET handled = ?, body = NULL WHERE bot_id = ? AND update_id = ?",
                [(now, self.bot_id, update_id) for update_id in ids],
            )

    def _pending(self) -> list[Pending]:
        assert self._db is not None
        rows = self._db.execute(
            "SELECT update_id, received, body FROM updates WHERE bot_id = ? AND handled IS NULL ORDER BY update_id",
            (self.bot_id,),
        ).fetchall()
        return [Pending(update_id, received, json.loads(body)) for update_id, received, body in rows]

    def _close(self) -> None:
        assert self._db is not None
        self._db.close()
        self._db = None
