"""The question log: a SQLite file with one row per question the bot answered, and the readers'
👍/👎 on the answers. `python -m bot stats`, `/stats` and `python -m bot feedback export` read it.

What a row holds, and why (README, "What the bot stores"): when (Unix time), the kind of chat,
a salted hash of the asker's Telegram id (so that one person's repeated question and their vote
count once, without storing who they are), the question, its outcome (answered, hedged,
refused), the passage ids quoted, and how long the answer took. Feedback rows hold the
question's id, the voter's salted hash, the vote and an optional one-line reason. Rows older
than `keep_days` are deleted, with their feedback.

The salt is 32 random bytes in a file of its own beside the database (`<database>.salt`, mode
600), made on first use: a copy of the database alone cannot be turned back into user ids by
hashing every possible id. Deleting the salt file unlinks all later hashes from the earlier ones.

Writing never holds up an answer. The event loop only puts an entry in a queue (never waiting
for a lock the writer holds: on a busy machine the OS may pause the writer while it holds one);
one writer thread owns the connection, writes what has queued in one transaction (WAL mode, so readers
such as `stats` never block it), and deletes expired rows once an hour. When the database
cannot be written (missing folder, locked by another process, corrupt, disk full or read-only)
the writer says so once in the log, keeps the rows in memory (up to `MAX_PENDING`), tries again
every `RETRY_AFTER` seconds and says when it works again; answers go on meanwhile.
"""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import enum
import errno
import hashlib
import itertools
import json
import logging
import os
import queue
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.answers import Answer

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
ANSWERED, HEDGED, REFUSED = "answered", "hedged", "refused"
OUTCOMES = (ANSWERED, HEDGED, REFUSED)
UP, DOWN = 1, -1
FEEDBACK_REASONS = ("wrong quote", "not answered", "outdated")  # the ready-made reasons after a 👎
MAX_REASON_CHARS = 200  # a reason is one line
MAX_QUESTION_CHARS = 4096  # Telegram's own limit on a message; nothing longer is stored
BUSY_TIMEOUT = 2.0  # seconds a write waits for another process's lock before the writer retries later
RETRY_AFTER = 5.0  # seconds between two attempts while the database cannot be written
PRUNE_EVERY = 3600.0  # seconds between two deletions of expired rows
MAX_PENDING = 50_000  # jobs kept in memory while the database cannot be written; older ones are dropped
MAX_QUESTION_ID = 2**62  # ids are random below this: unguessable, so feedback buttons cannot be forged
SALT_BYTES = 32

_SCHEMA = """
CREATE TABLE IF NOT EXISTS question_log_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS question_log (
    id INTEGER PRIMARY KEY,      -- random: the feedback buttons under the answer carry it
    asked_at REAL NOT NULL,      -- Unix time, seconds
    chat_type TEXT NOT NULL,     -- private, group, supergroup
    user_hash TEXT NOT NULL,     -- keyed BLAKE2b of the user id, salt beside the database
    question TEXT NOT NULL,
    question_key TEXT NOT NULL,  -- the question folded (case, spaces, end punctuation): repeats count together
    outcome TEXT NOT NULL,       -- answered, hedged, refused
    passage_ids TEXT NOT NULL,   -- JSON list of the passages quoted, best first
    latency_ms REAL NOT NULL     -- from taking the question to the last message of the answer sent
);
CREATE INDEX IF NOT EXISTS question_log_by_time ON question_log (asked_at);
CREATE INDEX IF NOT EXISTS question_log_by_key ON question_log (question_key);
CREATE TABLE IF NOT EXISTS question_feedback (
    question_id INTEGER NOT NULL,
    user_hash TEXT NOT NULL,
    vote INTEGER NOT NULL,       -- 1: 👍, -1: 👎
    reason TEXT,                 -- after a 👎, optional
    voted_at REAL NOT NULL,
    PRIMARY KEY (question_id, user_hash)
) WITHOUT ROWID;
"""


class QuestionLogError(Exception):
    """The question log cannot be read; the message says why and what to do."""


def outcome_of(answer: Answer) -> str:
    """The outcome of an answer, as logged and counted (`Answer.outcome` decides it)."""
    outcome = answer.outcome
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown answer outcome {outcome!r}; the question log knows {OUTCOMES}")
    return outcome


def question_key(question: str) -> str:
    """The question as repeats of it are counted: case-folded, spaces collapsed, end punctuation dropped."""
    return " ".join(question.casefold().split()).strip(" ?!.,;:¿¡…")


def one_line(text: str, limit: int = MAX_REASON_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def salt_path(database: Path) -> Path:
    return database.with_name(database.name + ".salt")


@dataclass(frozen=True, slots=True)
class Asked:
    """One answered question, as the bot reports it. The user id is hashed before it is stored."""

    question_id: int
    asked_at: float  # Unix time
    chat_type: str
    user_id: int | None
    question: str
    outcome: str
    passage_ids: tuple[str, ...]
    latency: float  # seconds


class VoteResult(enum.Enum):
    RECORDED = "recorded"
    CHANGED = "changed"
    UNCHANGED = "unchanged"
    UNKNOWN = "unknown"  # no such answer in the log: older than the retention, or never logged


@dataclass(frozen=True, slots=True)
class _Vote:
    question_id: int
    user_id: int
    vote: int
    voted_at: float


@dataclass(frozen=True, slots=True)
class _Reason:
    question_id: int
    user_id: int
    reason: str


_Job = tuple[Asked | _Vote | _Reason, concurrent.futures.Future[Any] | None]


def describe(error: BaseException) -> str:
    """What is wrong with the database, in words an operator can act on."""
    name = getattr(error, "sqlite_errorname", "") or ""
    number = error.errno if isinstance(error, OSError) else None
    text = str(error) or type(error).__name__
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "locked" in text:
        return "it is locked by another process (a long transaction, or a copy being made?); waiting for it"
    if name == "SQLITE_FULL" or number == errno.ENOSPC:
        return "the disk is full; free space on it"
    if name.startswith("SQLITE_READONLY") or number in (errno.EROFS, errno.EACCES, errno.EPERM):
        return f"it cannot be written ({text}): a read-only disk, or no permission for the bot's user"
    if name in ("SQLITE_NOTADB", "SQLITE_CORRUPT") or "not a database" in text or "malformed" in text:
        return f"the file is damaged or not a question log ({text}); move it away and the bot starts a new one"
    if name.startswith("SQLITE_CANTOPEN") or isinstance(error, OSError):
        return f"it cannot be opened ({text}); check that its folder exists and the bot's user may write there"
    return text


def _connect(path: Path) -> sqlite3.Connection:
    """A connection for the writer: autocommit (transactions are explicit), WAL, waits out short locks."""
    db = sqlite3.connect(path, timeout=BUSY_TIMEOUT, isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")  # in WAL mode: durable across a crash of the bot, not of the OS
    except BaseException:
        db.close()
        raise
    return db


def _read_or_make_salt(path: Path) -> bytes:
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        try:
            salt = bytes.fromhex(path.read_text(encoding="ascii").strip())
        except (UnicodeDecodeError, ValueError):
            salt = b""
        if len(salt) < 16:
            raise OSError(errno.EINVAL, "the salt file is not one this bot wrote; delete it to make a new one "
                          "(the hashes of earlier questions then no longer match their askers)", str(path)) from None
        return salt
    salt = secrets.token_bytes(SALT_BYTES)
    with os.fdopen(descriptor, "w", encoding="ascii") as file:
        file.write(salt.hex() + "\n")
    return salt


def hash_user(salt: bytes, user_id: int | None) -> str:
    return hashlib.blake2b(str(user_id).encode(), key=salt[:64], digest_size=8).hexdigest()


class QuestionLog:
    """The log a running bot writes: `record`, `vote` and `give_reason` return at once (the event
    loop never waits for the disk, nor for a lock the writer holds: it only puts the entry in a
    `queue.SimpleQueue`); the writer thread does the rest."""

    def __init__(self, path: Path, *, keep_days: int, clock: Callable[[], float] = time.time):
        self.path = Path(path)
        self.keep_days = keep_days
        self._clock = clock
        self._inbox: queue.SimpleQueue[tuple[int, _Job] | None] = queue.SimpleQueue()  # None: stop
        self._numbers = itertools.count(1)  # each entry's number, in the order given
        self._given = 0  # the number of the last entry given
        self._backlog: collections.deque[tuple[int, _Job]] = collections.deque()  # the writer's, not yet written
        self._done = 0  # the number of the last entry written (or dropped)
        self._progress = threading.Condition()  # `flush` waits on it; the event loop never takes it
        self._closing = False
        self._thread: threading.Thread | None = None
        self.problem: str | None = None  # what is wrong with the database now, if anything
        self.written = 0  # questions written since start
        self.dropped = 0  # questions given up while the database could not be written

    # --- the event loop's side: never blocks -------------------------------------------------

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._write_forever, name="question-log", daemon=True)
            self._thread.start()

    @staticmethod
    def new_question_id() -> int:
        return secrets.randbelow(MAX_QUESTION_ID - 1) + 1

    def record(self, asked: Asked) -> None:
        self._put(asked, None)

    def vote(self, question_id: int, user_id: int, vote: int) -> concurrent.futures.Future[VoteResult]:
        """👍 (UP) or 👎 (DOWN) on an answer; one per user per answer, the last one counts (a new vote
        clears an earlier reason)."""
        if vote not in (UP, DOWN):
            raise ValueError(f"a vote is {UP} or {DOWN}, not {vote!r}")
        future: concurrent.futures.Future[VoteResult] = concurrent.futures.Future()
        self._put(_Vote(question_id, user_id, vote, self._clock()), future)
        return future

    def give_reason(self, question_id: int, user_id: int, reason: str) -> concurrent.futures.Future[bool]:
        """The reason for this user's 👎 on the answer (one line); True if there was such a 👎."""
        future: concurrent.futures.Future[bool] = concurrent.futures.Future()
        self._put(_Reason(question_id, user_id, one_line(reason)), future)
        return future

    @property
    def pending(self) -> int:
        """Entries given and not written yet."""
        return max(0, self._given - self._done)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything given so far is written; False if that took longer than `timeout`."""
        target = self._given
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._progress:
            while self._done < target:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._progress.wait(remaining)
        return True

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued (one last attempt if the database is failing), then stop."""
        self._closing = True
        self._inbox.put(None)
        if self._thread is not None:
            self._thread.join(timeout)
        if self.pending:
            log.warning("question log %s: %d entries could not be written before stopping: %s",
                        self.path, self.pending, self.problem or "the writer did not finish in time")

    def _put(self, item: Asked | _Vote | _Reason, future: concurrent.futures.Future[Any] | None) -> None:
        if self._closing:
            if future is not None:
                future.cancel()
            return
        number = next(self._numbers)
        self._inbox.put((number, (item, future)))
        self._given = number

    # --- the writer thread ----------------------------------------------------------------------

    def _take(self, timeout: float | None) -> bool:
        """Move what the inbox holds to the backlog, waiting up to `timeout` for the first entry;
        False once the stop mark has been taken."""
        running = True
        try:
            entry = self._inbox.get(timeout=timeout) if timeout is None or timeout > 0 else self._inbox.get_nowait()
            while True:
                if entry is None:
                    running = False
                else:
                    self._backlog.append(entry)
                entry = self._inbox.get_nowait()
        except queue.Empty:
            pass
        self._bound()
        return running

    def _bound(self) -> None:
        """Keep at most MAX_PENDING entries while the database cannot be written: drop the oldest."""
        while len(self._backlog) > MAX_PENDING:
            number, (item, future) = self._backlog.popleft()
            if future is not None:
                future.cancel()
            if isinstance(item, Asked):
                self.dropped += 1
                if self.dropped == 1:
                    log.warning("question log %s: more than %d entries waiting; dropping the oldest",
                                self.path, MAX_PENDING)
            self._finished(number)

    def _finished(self, number: int) -> None:
        with self._progress:
            self._done = max(self._done, number)
            self._progress.notify_all()

    def _write_forever(self) -> None:
        db: sqlite3.Connection | None = None
        opened: os.stat_result | None = None  # the file as it was opened
        salt = b""
        next_prune = 0.0  # at once: open the database at start, so that a problem is told at start
        retry_at = 0.0
        running = True
        while True:
            now = time.monotonic()
            if running:
                if self.problem is not None and now < retry_at:
                    wait: float | None = retry_at - now
                elif self._backlog or now >= next_prune:
                    wait = 0.0
                else:
                    wait = next_prune - now
                running = self._take(wait)
                if self.problem is not None and time.monotonic() < retry_at and running:
                    continue  # entries keep coming meanwhile: take them (bounded), write them later
            if not self._backlog and (not running or (self.problem is None and time.monotonic() < next_prune)):
                if not running:
                    break
                continue
            batch = list(self._backlog)
            try:
                if db is not None and not self._still_there(opened):
                    db.close()
                    db = None
                if db is None:
                    db, salt = self._open()
                    opened = os.stat(self.path)
                if time.monotonic() >= next_prune:
                    self._prune(db)
                    next_prune = time.monotonic() + PRUNE_EVERY
                results = self._write(db, salt, [job for _, job in batch])
            except (sqlite3.Error, OSError, ValueError) as error:
                if db is not None:
                    db.close()
                    db = None
                self._failed(error)
                retry_at = time.monotonic() + RETRY_AFTER
                if not running:  # stopping: that was the last attempt
                    break
                continue
            for _ in batch:
                self._backlog.popleft()
            self.written += sum(isinstance(item, Asked) for _, (item, _) in batch)
            recovered, self.problem = self.problem, None
            if batch:
                self._finished(batch[-1][0])
            for (_, (_, future)), result in zip(batch, results, strict=True):
                if future is not None and not future.done():
                    with contextlib.suppress(concurrent.futures.InvalidStateError):  # cancelled meanwhile: nobody waits
                        future.set_result(result)
            if recovered is not None:
                log.warning("question log %s works again (%d entries kept meanwhile are written)",
                            self.path, len(batch))
        if db is not None:
            db.close()

    def _still_there(self, opened: os.stat_result | None) -> bool:
        """Whether the open database is still the file at `path`: one deleted or replaced while the bot
        runs would take the rows written to it along (SQLite writes on to the old file)."""
        try:
            now = os.stat(self.path)
        except OSError:
            now = None
        if opened is not None and now is not None and (now.st_dev, now.st_ino) == (opened.st_dev, opened.st_ino):
            return True
        log.warning("question log %s was %s while the bot ran; starting a new one there", self.path,
                    "removed" if now is None else "replaced")
        return False

    def _open(self) -> tuple[sqlite3.Connection, bytes]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        salt = _read_or_make_salt(salt_path(self.path))
        db = _connect(self.path)
        try:
            db.executescript("BEGIN IMMEDIATE;" + _SCHEMA)  # the transaction stays open for the version check
            row = db.execute("SELECT value FROM question_log_meta WHERE key = 'schema_version'").fetchone()
            if row is None:
                db.execute("INSERT INTO question_log_meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            elif int(row[0]) > SCHEMA_VERSION:
                raise ValueError(f"it was written by a newer version of the bot (schema {row[0]}); upgrade this one")
            db.execute("COMMIT")
        except BaseException:
            db.close()
            raise
        return db, salt

    def _prune(self, db: sqlite3.Connection) -> None:
        cutoff = self._clock() - self.keep_days * 86400
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute("DELETE FROM question_feedback WHERE question_id IN "
                       "(SELECT id FROM question_log WHERE asked_at < ?)", (cutoff,))
            deleted = db.execute("DELETE FROM question_log WHERE asked_at < ?", (cutoff,)).rowcount
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        if deleted:
            log.info("question log: deleted %d questions older than %d days", deleted, self.keep_days)

    def _write(self, db: sqlite3.Connection, salt: bytes, batch: list[_Job]) -> list[object]:
        results: list[object] = []
        db.execute("BEGIN IMMEDIATE")
        try:
            for item, _ in batch:
                if isinstance(item, Asked):
                    question = item.question[:MAX_QUESTION_CHARS]
                    db.execute(
                        "INSERT INTO question_log VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
                        (item.question_id, item.asked_at, item.chat_type, hash_user(salt, item.user_id), question,
                         question_key(question), item.outcome, json.dumps(list(item.passage_ids)),
                         round(item.latency * 1000, 3)),
                    )
                    results.append(None)
                elif isinstance(item, _Vote):
                    results.append(self._write_vote(db, hash_user(salt, item.user_id), item))
                else:
                    changed = db.execute(
                        "UPDATE question_feedback SET reason = ? WHERE question_id = ? AND user_hash = ? AND vote = ?",
                        (item.reason, item.question_id, hash_user(salt, item.user_id), DOWN),
                    ).rowcount
                    results.append(changed > 0)
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        return results

    @staticmethod
    def _write_vote(db: sqlite3.Connection, user_hash: str, vote: _Vote) -> VoteResult:
        if db.execute("SELECT 1 FROM question_log WHERE id = ?", (vote.question_id,)).fetchone() is None:
            return VoteResult.UNKNOWN
        before = db.execute("SELECT vote FROM question_feedback WHERE question_id = ? AND user_hash = ?",
                            (vote.question_id, user_hash)).fetchone()
        if before is not None and before[0] == vote.vote:
            return VoteResult.UNCHANGED
        db.execute(
            "INSERT INTO question_feedback VALUES (?, ?, ?, NULL, ?) ON CONFLICT (question_id, user_hash) "
            "DO UPDATE SET vote = excluded.vote, reason = NULL, voted_at = excluded.voted_at",
            (vote.question_id, user_hash, vote.vote, vote.voted_at),
        )
        return VoteResult.RECORDED if before is None else VoteResult.CHANGED

    def _failed(self, error: BaseException) -> None:
        problem = describe(error)
        if problem != self.problem:
            log.warning("question log %s: %s. Answers go on; %d entries are kept and written when it works "
                        "again (python -m bot check tells more).", self.path, problem, self.pending)
        self.problem = problem


# --- reading (stats, export, check) -------------------------------------------------------------


def open_for_reading(path: Path) -> sqlite3.Connection:
    """A read-only connection to an existing question log; QuestionLogError says why not."""
    path = Path(path)
    if not path.is_file():
        raise QuestionLogError(
            f"there is no question log at {path} yet (the bot writes it while it runs with BOT_LOG_QUESTIONS "
            "on; BOT_LOG_DB sets where)"
        )
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=BUSY_TIMEOUT)
        db.execute("SELECT 1 FROM question_log LIMIT 1").fetchall()
        return db
    except sqlite3.Error as error:
        raise QuestionLogError(f"cannot read the question log {path}: {describe(error)}") from None


@dataclass(frozen=True, slots=True)
class Inspection:
    summary: str  # one line on what the log holds, or where it will be
    problem: str | None  # what is wrong, and how to fix it


def inspect(path: Path, keep_days: int) -> Inspection:
    """What `python -m bot check` says of the question log: it is read and locked briefly, never changed."""
    path = Path(path)
    if not path.exists():
        folder = next((p for p in (path.parent, *path.parent.parents) if p.exists()), Path("."))
        if not os.access(folder, os.W_OK | os.X_OK):
            return Inspection(f"question log {path}: not there yet",
                              f"question log {path} cannot be made: {folder} is not writable for this user")
        return Inspection(f"question log {path}: not there yet; the bot makes it at start "
                          f"(questions kept {keep_days} days)", None)
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=rw", uri=True, timeout=0.2, isolation_level=None)
    except sqlite3.Error as error:
        return Inspection(f"question log {path}", f"question log {path}: {describe(error)}")
    try:
        verdict = db.execute("PRAGMA quick_check").fetchone()[0]
        if verdict != "ok":
            return Inspection(f"question log {path}", f"question log {path}: the file is damaged ({verdict}); "
                              "move it away and the bot starts a new one")
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if tables and "question_log" not in tables:
            return Inspection(f"question log {path}", f"question log {path}: the file is a SQLite database but not "
                              "a question log; set BOT_LOG_DB to another file")
        count, oldest = (db.execute("SELECT COUNT(*), MIN(asked_at) FROM question_log").fetchone()
                         if tables else (0, None))
        db.execute("BEGIN IMMEDIATE")  # can the bot write? (a lock held elsewhere fails here)
        db.execute("ROLLBACK")
    except sqlite3.Error as error:
        return Inspection(f"question log {path}", f"question log {path}: {describe(error)}")
    finally:
        db.close()
    since = f", since {time.strftime('%Y-%m-%d', time.gmtime(oldest))}" if oldest else ""
    salt = salt_path(path)
    problem = None
    if not os.access(salt, os.R_OK) and salt.exists():
        problem = f"question log salt {salt} is not readable for this user"
    return Inspection(f"question log {path}: {count:,} questions{since} (kept {keep_days} days)", problem)
