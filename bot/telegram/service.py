"""The Telegram bot as a long-running service: build the Application, start it (long polling or
a webhook), stop it on SIGTERM/SIGINT within a bounded time, reload the corpus on SIGHUP, keep
every received update on disk until it is handled, and keep the token out of every log line.

`run(ServiceConfig)` is what `python -m bot run` calls, with plain values read once from the
settings; it returns the process exit status (below). `build_application`, `start` and `stop`
are also what the end-to-end tests run.

Exit statuses, for a service manager (README, Deploy):
  0  stopped by SIGTERM/SIGINT;
  1  the Bot API could not be used (unreachable, 5xx, not JSON...): worth restarting;
  2  a setting to fix: no token, a token Telegram rejects (at start or later), a base URL that is
     no Bot API server, a webhook or health address the bot cannot listen on, an unusable update
     store (a port in use is 1: another instance may be stopping).
"""

from __future__ import annotations

import asyncio
import errno
import logging
import re
import signal
import sys
from collections.abc import Awaitable, Callable, Hashable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote, urlsplit

from pydantic import SecretStr
from telegram import BotCommand, Update
from telegram.error import InvalidToken, NetworkError, TelegramError, TimedOut
from telegram.ext import ApplicationBuilder, BaseUpdateProcessor

from bot.corpus.articles import CorpusError
from bot.operations.health import STALL_AFTER, Health
from bot.operations.instruments import Instruments
from bot.retrieval.library import LibrarySource
from bot.telegram.access import AccessPolicy
from bot.telegram.answer_threads import AnswerThreads, settle_for_serving
from bot.telegram.api_requests import WatchedRequest
from bot.telegram.connection import connection_problem
from bot.telegram.flood_control import FloodControl
from bot.telegram.handlers import CorpusBot
from bot.telegram.library_holder import LibraryHolder
from bot.telegram.routing import COMMANDS, BotApplication
from bot.telegram.sending import describe
from bot.telegram.update_store import UpdateStore, UpdateStoreError
from bot.telegram.webhook_server import WebhookServer

log = logging.getLogger(__name__)

MAX_RUNNING_UPDATES = 64  # handlers running at once (most of them wait on Telegram)
MAX_QUEUED_UPDATES = 100_000  # updates admitted to wait for their chat's turn
BOOTSTRAP_RETRIES = 3  # connection attempts at start before giving up (exit 1: the service manager retries)
BOOTSTRAP_INTERVAL = 1.0  # seconds between them
POLL_TIMEOUT = 10  # seconds a getUpdates long poll waits for updates
REQUEST_TIMEOUT = 15.0  # seconds to wait for the Bot API's answer to a request (not getUpdates)
HEARTBEAT_EVERY = 1.0  # seconds between two signs of life from the event loop (for /healthz)
REDACTED = "[REDACTED]"

EXIT_STOPPED, EXIT_RETRY, EXIT_FIX_SETTINGS = 0, 1, 2

NO_TOKEN = """\
error: no Telegram bot token is set, so the bot cannot connect to Telegram.

To get one: in Telegram, open @BotFather, send /newbot and answer its two questions
(a name, then a username ending in "bot"). It replies with a token like
123456789:AAHk3...

Put the token in a file named .env in the folder you start the bot from:

    BOT_TOKEN=123456789:AAHk3...

(or set the environment variable BOT_TOKEN), then run: python -m bot run
Without a token, 'python -m bot chat' answers questions in this terminal."""

TOKEN_REJECTED = (
    "the token was rejected by the Bot API at {server} (401 Unauthorized{when}): it was revoked, regenerated "
    "or mistyped; check BOT_TOKEN (copy it again from @BotFather, /mybots > your bot > API Token)"
)
NOT_FOUND = (
    "the Bot API at {server} answered 404 Not Found{when}: BOT_API_BASE_URL is not the root of a Bot API "
    "server (it should look like https://api.telegram.org, without /bot...), or BOT_TOKEN is not a token "
    "(it looks like 123456789:AAHk3...)"
)


class FeedFollowing(Protocol):
    """What follows feeds for the bot (`bot.ingest.following.FeedFollower`, made by the command
    line): `check()` adds the feeds' new articles to the corpus folder and returns how many;
    `stop()` asks a check under way to stop soon."""

    def check(self) -> int: ...

    def stop(self) -> None: ...


@dataclass(frozen=True, slots=True)
class ServiceConfig:
    """Everything the service needs, as plain values: the settings (`bot.settings` holds their
    defaults and meaning; `bot.cli.service_config` makes this from them), so no default here."""

    token: SecretStr | None
    api_base_url: str
    corpus: LibrarySource
    top_k: int
    min_match: float
    allowed_chat_ids: tuple[int, ...]
    allowed_user_ids: tuple[int, ...]
    admin_ids: tuple[int, ...]
    user_questions_per_minute: int
    example_questions: tuple[str, ...]
    webhook_url: str | None
    webhook_listen: str
    webhook_port: int
    webhook_secret: SecretStr | None
    feeds: FeedFollowing | None  # with BOT_FEEDS
    feed_interval: float  # seconds between two feed checks
    startup_progress: Callable[[int, int], None] | None  # not a setting: a terminal's bar for indexing at start
    update_store: Path | None  # SQLite file of received updates; None: kept in memory only
    stop_timeout: float  # seconds after SIGTERM to finish what is being answered
    question_log: Path | None  # the question log's SQLite file; None: no log, no feedback buttons, no /stats
    log_days: int
    health_listen: str
    health_port: int | None  # None: no health endpoint; 0: any free port (tests)
    request_timeout: float = REQUEST_TIMEOUT  # not a setting: the tests shorten it
    health_stall_after: float = STALL_AFTER  # not a setting: seconds without a long poll answered before 503


# --- Keeping secrets out of logs --------------------------------------------------------------


class SecretFilter(logging.Filter):
    """Replaces secrets (the bot token, the webhook secret) in log records, including
    formatted arguments, exception text and stack traces, with [REDACTED]; and makes PTB's
    records of Telegram errors one line.

    The token is matched whole, URL-encoded, and by its secret part after the colon, so
    request URLs (`.../bot<token>/getMe`) and PTB's invalid-token message are covered.
    """

    def __init__(self, secrets: Iterable[str | None]):
        super().__init__()
        variants: set[str] = set()
        for secret in secrets:
            if not secret:
                continue
            variants |= {secret, quote(secret, safe=""), quote(secret)}
            _, _, tail = secret.partition(":")
            if len(tail) >= 8:
                variants.add(tail)
        self._pattern = (
            re.compile("|".join(re.escape(v) for v in sorted(variants, key=len, reverse=True))) if variants else None
        )

    def redact(self, text: str) -> str:
        return self._pattern.sub(REDACTED, text) if self._pattern else text

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed log call: leave it to the formatter to report
            return True
        clean = self.redact(message)
        if clean != message or record.args:
            record.msg, record.args = clean, ()
        if record.exc_info and isinstance(record.exc_info[1], (TelegramError, ValueError)) \
                and record.name.startswith("telegram"):
            # PTB logs Telegram's faults (a rejected token, an unreachable server, an answer that is not
            # JSON) with a traceback; the service reports what they mean in one line, so they are one
            # line here too. Tracebacks stay for bugs.
            text = " ".join(f"{record.getMessage()} ({describe(record.exc_info[1])})".split())
            record.msg, record.args = self.redact(shorten(text)), ()
            record.exc_info, record.exc_text = None, None
        elif record.exc_info and record.exc_info[0] is not None:
            record.exc_text = self.redact(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


def shorten(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def protect_logs(*secrets: str | None) -> SecretFilter:
    """Install a SecretFilter on every handler of the root logger (adding a stderr handler if there
    is none, so Python's unfiltered last-resort handler is never used), and quieten the HTTP
    client loggers, whose INFO lines are request URLs with the token in them."""
    secret_filter = SecretFilter(secrets)
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    for handler in root.handlers:
        handler.addFilter(secret_filter)
    logging.captureWarnings(True)  # library warnings go through the same filtered handlers
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)
    return secret_filter


# --- Update ordering ----------------------------------------------------------------------------


class ChatOrderedProcessor(BaseUpdateProcessor):
    """Updates of one chat are handled one after another, in the order Telegram sent them;
    different chats are handled concurrently (at most `max_running` handlers at once).

    An update waits for its chat's previous update before taking a running slot, so a
    busy chat cannot occupy the slots other chats need. Inline queries (no chat) are
    ordered per user. With a store, an update is marked handled once its handler has run
    (answered, or failed and apologised for); one cancelled by `cancel_running` (the service
    stopping) stays pending for the next start.
    """

    def __init__(self, store: UpdateStore | None = None, max_running: int = MAX_RUNNING_UPDATES):
        super().__init__(max_concurrent_updates=MAX_QUEUED_UPDATES)
        self._store = store
        self._max_running = max_running
        self._running: asyncio.Semaphore | None = None
        self._last: dict[Hashable, asyncio.Future[None]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()

    async def initialize(self) -> None:
        self._running = asyncio.Semaphore(self._max_running)

    async def shutdown(self) -> None:
        pass

    def cancel_running(self) -> int:
        """Cancel every update being handled or waiting for its turn; returns how many."""
        tasks = [task for task in self._tasks if not task.done()]
        for task in tasks:
            task.cancel()
        return len(tasks)

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            await self._in_turn(update, coroutine)
        finally:
            if task is not None:
                self._tasks.discard(task)
        if self._store is not None and isinstance(update, Update):
            try:
                await self._store.handled(update.update_id)
            except Exception as error:  # the disk: log it, the answer was sent
                log.error("update %s: cannot mark it handled in the update store: %s", update.update_id,
                          describe(error))

    async def _in_turn(self, update: object, coroutine: Awaitable[Any]) -> None:
        if self._running is None:
            await self.initialize()
        assert self._running is not None
        key = chat_key(update)
        if key is None:
            async with self._running:
                await coroutine
            return
        previous = self._last.get(key)
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._last[key] = done
        started = False
        try:
            if previous is not None:
                await asyncio.wait({previous})  # never cancels `previous`
            async with self._running:
                started = True
                await coroutine
        finally:
            if not started and asyncio.iscoroutine(coroutine):
                coroutine.close()
            done.set_result(None)
            if self._last.get(key) is done:
                del self._last[key]


def chat_key(update: object) -> Hashable | None:
    if isinstance(update, Update):
        if update.effective_chat is not None:
            return update.effective_chat.id
        if update.effective_user is not None:
            return update.effective_user.id
    return None


# --- Building ----------------------------------------------------------------------------------


class DurableQueue(asyncio.Queue[object]):
    """The Application's update queue, writing each update to the store before it is queued.

    Both ways of receiving acknowledge an update only after `put` returns (long polling asks for the
    next batch after queueing this one; the webhook answers 200 after queueing), so an update is on
    disk before Telegram forgets it. An update the store has handled already, or is handling
    (Telegram sent it again), is not queued.
    """

    def __init__(self, store: UpdateStore) -> None:
        super().__init__()
        self.store = store

    async def put(self, item: object) -> None:
        if isinstance(item, Update) and not await self.store.admit(item.update_id, item.to_dict()):
            log.debug("update %s was handled already; not again", item.update_id)
            return
        await super().put(item)


@dataclass(slots=True)
class Rejection:
    """The Bot API refused the token (401) or the address (404) while the bot was serving."""

    status: int
    method: str


@dataclass(slots=True)
class TokenWatch:
    """Told of every 401/404 answer; while serving, the first one stops the service (exit 2)."""

    serving: bool = False
    rejected: asyncio.Future[Rejection] | None = None

    def seen(self, status: int, url: str) -> None:
        if not self.serving or self.rejected is None or self.rejected.done():
            return
        method = url.rstrip("/").rpartition("/")[2]
        self.rejected.set_result(Rejection(status, method))


def start_instruments(config: ServiceConfig) -> Instruments:
    """The question log, metrics, health state and endpoint of a bot run with `config`: started
    before the index is loaded (`build_application` tells them when it is). Raises OSError when
    the health endpoint cannot listen."""
    return Instruments.start(
        question_log=config.question_log, log_days=config.log_days, health_listen=config.health_listen,
        health_port=config.health_port, stall_after=config.health_stall_after,
    )


def build_application(
    config: ServiceConfig, holder: LibraryHolder, instruments: Instruments, store: UpdateStore | None = None,
    watch: TokenWatch | None = None,
) -> BotApplication:
    """The PTB Application with all handlers, per-chat ordering, Telegram's flood limits kept per
    chat, and (with a store) every update kept on disk until handled. `instruments`
    (`start_instruments`) are the caller's to close once the Application has stopped."""
    if not config.token:
        raise ValueError("a token is required")
    base = config.api_base_url.rstrip("/")
    watch = watch or TokenWatch()
    threads = AnswerThreads()
    metrics, health = instruments.metrics, instruments.health
    holder.watch(lambda library: instruments.index_loaded(len(library.documents), len(library.passages)))
    corpus_bot = CorpusBot(
        holder,
        threads=threads,
        top_k=config.top_k,
        min_match=config.min_match,
        access=AccessPolicy(config.allowed_chat_ids, config.allowed_user_ids, config.admin_ids),
        questions_per_minute=config.user_questions_per_minute,
        example_questions=config.example_questions,
        instruments=instruments,
    )
    heartbeat: list[asyncio.Task[None]] = []

    async def beat() -> None:  # /healthz says 503 if the event loop stops turning
        while True:
            health.loop_beat()
            await asyncio.sleep(HEARTBEAT_EVERY)

    following: list[asyncio.Task[None]] = []  # the feed-following task, while the bot runs

    async def post_init(application: BotApplication) -> None:
        me = application.bot
        try:
            await me.set_my_commands([BotCommand(name, text) for name, text in COMMANDS])
        except TelegramError as error:
            log.warning("could not set the command menu: %s", describe(error))
        library = holder.library
        log.info("serving as @%s: %d articles, %d passages", me.username, len(library.documents),
                 len(library.passages))
        heartbeat.append(asyncio.get_running_loop().create_task(beat(), name="health heartbeat"))
        if config.feeds is not None:
            # Not application.create_task: the Application waits for those when it stops, and this never ends.
            following.append(asyncio.create_task(_follow_feeds(config.feeds, config.feed_interval, holder)))

    async def post_stop(application: BotApplication) -> None:
        for task in heartbeat:
            task.cancel()
        if config.feeds is not None:
            config.feeds.stop()
        for task in following:
            task.cancel()
        await asyncio.gather(*following, return_exceptions=True)
        following.clear()

    async def post_shutdown(application: BotApplication) -> None:
        await asyncio.to_thread(threads.close)

    builder = (
        ApplicationBuilder()
        .token(config.token.get_secret_value())
        .base_url(lambda token: f"{base}/bot{token}")
        .base_file_url(lambda token: f"{base}/file/bot{token}")
        # PTB's own request objects, watched: send errors by kind (metrics), long polls answered (health),
        # a token or address refused while serving (stops the service)
        .request(WatchedRequest(
            on_error=lambda kind: metrics.send_errors.labels(kind).inc(), on_rejected=watch.seen,
            connection_pool_size=256, connect_timeout=10, read_timeout=config.request_timeout,
            write_timeout=config.request_timeout, pool_timeout=10,
        ))
        .get_updates_request(WatchedRequest(on_answer=health.updates_polled, on_rejected=watch.seen,
                                            connection_pool_size=1))
        .concurrent_updates(ChatOrderedProcessor(store))
        .rate_limiter(FloodControl())
        .post_init(post_init)
        .post_stop(post_stop)
        .post_shutdown(post_shutdown)
    )
    if store is not None:
        builder = builder.update_queue(DurableQueue(store))
    application = builder.build()
    corpus_bot.register(application)
    return application


async def _follow_feeds(feeds: FeedFollowing, interval: float, holder: LibraryHolder) -> None:
    """Check the feeds now and then every `interval` seconds; when articles were added, swap in the
    new index as /reload does (questions in flight finish on the old one). A reload that fails
    keeps the current corpus and is tried again after the next check: the files are on disk."""
    pending = False  # articles on disk that the index does not have yet
    while True:
        check = asyncio.ensure_future(asyncio.to_thread(feeds.check))
        try:
            added = await asyncio.shield(check)
        except asyncio.CancelledError:  # the bot stops: let the check finish the article it is on
            feeds.stop()
            await asyncio.gather(check, return_exceptions=True)
            raise
        except Exception:  # a bug in one check must not end the following
            log.exception("feeds: the check failed; trying again in %g s", interval)
            added = 0
        if added or pending:
            try:
                reloaded = await holder.reload()
            except (CorpusError, OSError, ValueError) as error:
                pending = True
                log.error("feeds: reloading the corpus failed, keeping the current one (new articles wait on "
                          "disk): %s", error)
            else:
                pending = False
                for problem in reloaded.problems:
                    log.warning("corpus: %s", problem)
                log.info("feeds: %d new article%s; corpus reloaded: %d articles, %d passages", added,
                         "" if added == 1 else "s", len(reloaded.library.documents), len(reloaded.library.passages))
        await asyncio.sleep(interval)


# --- Starting and stopping ---------------------------------------------------------------------------


class Receiver(Protocol):
    """How updates come in (long polling or the webhook server); `stop` ends it."""

    async def stop(self) -> None: ...


class _Polling:
    def __init__(self, application: BotApplication) -> None:
        self._updater = application.updater

    async def stop(self) -> None:
        if self._updater is not None and self._updater.running:
            try:
                await self._updater.stop()  # acknowledges what was fetched: it is in the update store
            except TelegramError as error:  # polling had ended on it (a rejected token): reported already
                log.debug("polling had stopped: %s", describe(error))


async def _retrying(call: Callable[[], Awaitable[Any]], what: str) -> None:
    """`call()`, tried BOOTSTRAP_RETRIES times while the Bot API cannot be reached."""
    for attempt in range(1, BOOTSTRAP_RETRIES + 1):
        try:
            await call()
            return
        except (NetworkError, TimedOut) as error:
            if attempt == BOOTSTRAP_RETRIES:
                raise
            log.warning("cannot %s (%s); trying again in %.0f s", what, describe(error), BOOTSTRAP_INTERVAL)
            await asyncio.sleep(BOOTSTRAP_INTERVAL)


async def start(application: BotApplication, config: ServiceConfig, health: Health | None = None, *,
                poll_interval: float = 0.0, poll_timeout: int = POLL_TIMEOUT) -> Receiver:
    """Connect (getMe, retried BOOTSTRAP_RETRIES times on network faults), set the command menu,
    handle the updates an earlier run left pending, then receive updates. `health` is told how
    they come once they do (until then /healthz says the bot is starting).

    Raises InvalidToken (401/404), TelegramError or OSError (cannot listen) when the bot cannot start."""
    await _retrying(application.initialize, "reach the Bot API")
    if application.post_init:
        await application.post_init(application)
    await application.start()
    await _handle_pending(application)
    webhook_url = config.webhook_url
    if webhook_url:
        secret = _plain(config.webhook_secret) or ""
        log.info("receiving updates by webhook at %s (listening on %s:%d)", webhook_url,
                 config.webhook_listen, config.webhook_port)
        await _retrying(lambda: application.bot.set_webhook(
            url=webhook_url, allowed_updates=Update.ALL_TYPES, secret_token=secret,
        ), "register the webhook")
        server = WebhookServer(config.webhook_listen, config.webhook_port, urlsplit(webhook_url).path,
                               secret, application.update_queue, application.bot)
        server.start()
        if health is not None:
            health.webhook(lambda: server.serving)
        return server
    log.info("receiving updates by long polling from %s", config.api_base_url.rstrip("/"))
    updater = application.updater
    assert updater is not None

    def polling_error(error: TelegramError) -> None:  # as Application.run_polling does: to the bot's error handler
        application.create_task(application.process_error(None, error))

    await updater.start_polling(
        poll_interval=poll_interval, timeout=poll_timeout, allowed_updates=Update.ALL_TYPES,
        bootstrap_retries=BOOTSTRAP_RETRIES, error_callback=polling_error,
    )
    if health is not None:
        health.polling()
    return _Polling(application)


async def _handle_pending(application: BotApplication) -> None:
    """Queue the updates an earlier run received but did not handle (it crashed or was stopped)."""
    queue = application.update_queue
    if not isinstance(queue, DurableQueue):
        return
    pending = await queue.store.pending()
    if not pending:
        return
    log.info("handling %d updates received before the last stop", len(pending))
    for item in pending:
        update = Update.de_json(item.update, application.bot)
        if update.inline_query is not None:  # an inline query is answerable for seconds only
            await queue.store.handled(item.update_id)
            continue
        await queue.put(update)


async def stop(application: BotApplication, timeout: float, receiver: Receiver | None = None,
               health: Health | None = None) -> int:
    """Stop receiving, give the updates being handled `timeout` seconds to finish, cancel the rest
    (they stay pending in the store, for the next start), and shut down. Returns how many were cut short.
    `health` says "stopping" from the start (the endpoint itself answers until the instruments close)."""
    if health is not None:
        health.stopping()
    await (receiver or _Polling(application)).stop()
    cut_short = 0
    if application.running:
        stopping = asyncio.ensure_future(application.stop())
        done, _ = await asyncio.wait({stopping}, timeout=timeout)
        if not done:
            processor = application.update_processor
            if isinstance(processor, ChatOrderedProcessor):
                cut_short = processor.cancel_running()
            if cut_short:
                log.warning("stopping: %d updates not handled within %.0f s are kept for the next start", cut_short,
                            timeout)
        await stopping
        if application.post_stop:
            await application.post_stop(application)
    await application.shutdown()
    if application.post_shutdown:
        await application.post_shutdown(application)
    queue = application.update_queue
    if isinstance(queue, DurableQueue):
        await queue.store.close()
    return cut_short


async def _reload_on_signal(holder: LibraryHolder) -> None:
    try:
        reloaded = await holder.reload()
    except (CorpusError, OSError, ValueError) as error:
        log.error("SIGHUP: reload failed, keeping the current corpus: %s", error)
        return
    for problem in reloaded.problems:
        log.warning("corpus: %s", problem)
    log.info("SIGHUP: corpus reloaded: %d articles, %d passages", len(reloaded.library.documents),
             len(reloaded.library.passages))


def config_problem(config: ServiceConfig) -> str | None:
    """Why these settings cannot connect to Telegram (bot/telegram/connection.py), or None."""
    return connection_problem(config.token, config.api_base_url, config.webhook_url, config.webhook_secret,
                              config.webhook_listen)


def _plain(secret: SecretStr | None) -> str | None:
    return secret.get_secret_value() if secret else None


def bot_id(token: SecretStr) -> int:
    """The bot's id: the number before the token's colon."""
    number = token.get_secret_value().partition(":")[0]
    return int(number) if number.isdigit() else 0


# --- Running ---------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Signals:
    """SIGHUP and SIGTERM/SIGINT as the service sees them. SIGHUP is caught from the start (a
    `systemctl reload` during a long corpus load must not end the process) and acted on once serving."""

    reload_requested: bool = False
    loop: asyncio.AbstractEventLoop | None = None
    stop: asyncio.Future[str] | None = None
    previous: dict[int, Any] = field(default_factory=dict)

    def catch_reload_early(self) -> None:
        if hasattr(signal, "SIGHUP"):
            self.previous[signal.SIGHUP] = signal.signal(signal.SIGHUP, self._early_reload)

    def _early_reload(self, signum: int, frame: object) -> None:
        self.reload_requested = True

    def serve(self, loop: asyncio.AbstractEventLoop, on_reload: Callable[[], None]) -> asyncio.Future[str]:
        self.loop, self.stop = loop, loop.create_future()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._stop, sig.name)
        if hasattr(signal, "SIGHUP"):
            loop.add_signal_handler(signal.SIGHUP, on_reload)
        return self.stop

    def _stop(self, name: str) -> None:
        if self.stop is not None and not self.stop.done():
            self.stop.set_result(name)

    def restore(self) -> None:
        if self.loop is not None:
            for sig in (signal.SIGTERM, signal.SIGINT, getattr(signal, "SIGHUP", None)):
                if sig is not None:
                    self.loop.remove_signal_handler(sig)
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)


def run(config: ServiceConfig) -> int:
    """Run the bot until SIGTERM/SIGINT, or until it cannot go on; return the exit status (module docstring)."""
    if not config.token:
        print(NO_TOKEN, file=sys.stderr)
        return EXIT_FIX_SETTINGS
    secrets = protect_logs(*(_plain(s) for s in (config.token, config.webhook_secret)))
    server = secrets.redact(config.api_base_url.rstrip("/"))

    def fail(status: int, message: str) -> int:
        message = secrets.redact(message)
        log.error("%s", message)
        print(f"error: {message}", file=sys.stderr)
        return status

    problem = config_problem(config)
    if problem:
        return fail(EXIT_FIX_SETTINGS, problem)
    try:
        # before the corpus is loaded: during a long first start /healthz says so (503), not "refused"
        instruments = start_instruments(config)
    except OSError as error:
        where = f"{config.health_listen}:{config.health_port}"
        if error.errno == errno.EADDRINUSE:
            return fail(EXIT_RETRY, f"the health endpoint cannot listen on {where}: the port is in use "
                                    "(another instance?)")
        return fail(EXIT_FIX_SETTINGS, f"the health endpoint cannot listen on {where}: {error.strerror or error}; "
                                       "check BOT_HEALTH_LISTEN and BOT_HEALTH_PORT")
    signals = _Signals()
    signals.catch_reload_early()
    try:
        log.info("loading the corpus from %s", config.corpus.folder)
        library, problems = config.corpus.load(progress=config.startup_progress)
        for corpus_problem in problems:
            log.warning("corpus: %s", corpus_problem)
        holder = LibraryHolder(library, config.corpus.load)
        settle_for_serving()
        return asyncio.run(_serve(config, holder, instruments, signals, server, fail))
    except KeyboardInterrupt:
        return EXIT_STOPPED
    except Exception:  # a bug: report it through the filtered log, not Python's raw traceback
        log.critical("the bot stopped because of an unexpected error", exc_info=True)
        return EXIT_RETRY
    finally:
        signals.restore()
        instruments.close()  # after the bot: its last questions are written; the endpoint answers until here


async def _serve(config: ServiceConfig, holder: LibraryHolder, instruments: Instruments, signals: _Signals,
                 server: str, fail: Callable[[int, str], int]) -> int:
    assert config.token is not None
    store = None
    if config.update_store is not None:
        try:
            store = await UpdateStore.open(config.update_store, bot_id(config.token))
        except UpdateStoreError as error:
            return fail(EXIT_FIX_SETTINGS, str(error))
    loop = asyncio.get_running_loop()
    watch = TokenWatch(rejected=loop.create_future())
    try:
        application = build_application(config, holder, instruments, store, watch)
    except BaseException:
        if store is not None:
            await store.close()
        raise

    def reload() -> None:
        if watch.serving:
            application.create_task(_reload_on_signal(holder))
        else:  # still starting: reload once serving
            signals.reload_requested = True

    stop_requested = signals.serve(loop, reload)
    health = instruments.health
    starting = asyncio.ensure_future(start(application, config, health))
    try:
        first: set[asyncio.Future[Any]] = {starting, stop_requested}
        await asyncio.wait(first, return_when=asyncio.FIRST_COMPLETED)
        if not starting.done():  # SIGTERM during start-up
            starting.cancel()
            await asyncio.gather(starting, return_exceptions=True)
            await _shut_quietly(application)
            log.info("%s received during start-up: stopped", stop_requested.result())
            return EXIT_STOPPED
        receiver = starting.result()
    except InvalidToken as error:
        await _shut_quietly(application)
        return fail(EXIT_FIX_SETTINGS, _rejected_message(error, server, when=""))
    except TelegramError as error:
        await _shut_quietly(application)
        return fail(EXIT_RETRY, f"cannot use the Bot API at {server}: {api_fault(error)}")
    except OSError as error:  # the webhook server cannot listen
        await _shut_quietly(application)
        where = f"{config.webhook_listen}:{config.webhook_port}"
        if error.errno == errno.EADDRINUSE:
            return fail(EXIT_RETRY, f"cannot listen on {where}: the port is in use (another instance?)")
        return fail(EXIT_FIX_SETTINGS, f"cannot listen on {where}: {error.strerror or error}; "
                                       "check BOT_WEBHOOK_LISTEN and BOT_WEBHOOK_PORT")
    watch.serving = True
    if signals.reload_requested:  # during the corpus load, or while connecting
        log.info("SIGHUP arrived during start-up: reading the corpus again")
        reload()
    assert watch.rejected is not None
    ending: set[asyncio.Future[Any]] = {stop_requested, watch.rejected}
    await asyncio.wait(ending, return_when=asyncio.FIRST_COMPLETED)
    if watch.rejected.done():
        rejection = watch.rejected.result()
        await stop(application, 0, receiver, health)
        when = f" to {rejection.method} while running"
        if rejection.status == 401:
            return fail(EXIT_FIX_SETTINGS, TOKEN_REJECTED.format(server=server, when=when))
        return fail(EXIT_FIX_SETTINGS, NOT_FOUND.format(server=server, when=when))
    log.info("%s received: stopping", stop_requested.result())
    await stop(application, config.stop_timeout, receiver, health)
    log.info("stopped")
    return EXIT_STOPPED


def api_fault(error: TelegramError) -> str:
    """What went wrong, in one line: an answer that is not the Bot API's JSON is named, not quoted."""
    text, _, _ = str(error).partition(". Parsing the server response")
    if text != str(error):
        return f"{text}: not a Bot API answer (is BOT_API_BASE_URL right?)"
    return describe(error)


def _rejected_message(error: InvalidToken, server: str, when: str) -> str:
    cause = error.__cause__ if isinstance(error.__cause__, InvalidToken) else error
    if "not found" in str(cause).lower():
        return NOT_FOUND.format(server=server, when=when)
    return TOKEN_REJECTED.format(server=server, when=when)


async def _shut_quietly(application: BotApplication) -> None:
    """Release what a failed start holds (HTTP connections, threads, the store)."""
    try:
        await stop(application, 0)
    except Exception as error:  # already failing: one line, not a second traceback
        log.debug("while shutting down after a failed start: %s", describe(error))
