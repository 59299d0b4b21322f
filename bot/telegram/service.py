"""The Telegram bot as a long-running service: build the Application, run it with long
polling or a webhook, stop gracefully on SIGTERM/SIGINT, reload the corpus on SIGHUP,
and keep the token out of every log line and message.

`run(ServiceConfig)` is what `python -m bot run` calls, with plain values read once
from the settings. `build_application` is also used by the end-to-end tests.
"""

from __future__ import annotations

import asyncio
import logging
import re
import signal
import sys
from collections.abc import Awaitable, Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote, urlsplit

from pydantic import SecretStr
from telegram import BotCommand, Update
from telegram.error import InvalidToken, TelegramError
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder, BaseUpdateProcessor

from bot.telegram.answer_threads import AnswerThreads, settle_for_serving
from bot.corpus.articles import CorpusError
from bot.telegram.library_holder import LibraryHolder
from bot.retrieval.library import LibrarySource
from bot.telegram.webhook import webhook_problem as settings_webhook_problem
from bot.telegram.access import AccessPolicy
from bot.telegram.handlers import CorpusBot
from bot.telegram.routing import COMMANDS
from bot.telegram.sending import describe

log = logging.getLogger(__name__)

MAX_RUNNING_UPDATES = 64  # handlers running at once (most of them wait on Telegram)
MAX_QUEUED_UPDATES = 100_000  # updates admitted to wait for their chat's turn
RATE_LIMIT_RETRIES = 3  # a 429 "retry after N s" is waited out and retried this often
BOOTSTRAP_RETRIES = 3  # connection attempts at start before giving up (systemd restarts us)
POLL_TIMEOUT = 10  # seconds a getUpdates long poll waits for updates
REQUEST_TIMEOUT = 15.0  # seconds to wait for the Bot API's answer to a request (not getUpdates)
REDACTED = "[REDACTED]"

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
    "error: the token was rejected by the Bot API at {server}; check BOT_TOKEN (copy it again from "
    "@BotFather, /mybots > your bot > API Token)."
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
    request_timeout: float = REQUEST_TIMEOUT  # not a setting: the tests shorten it


# --- Keeping secrets out of logs --------------------------------------------------------------


class SecretFilter(logging.Filter):
    """Replaces secrets (the bot token, the webhook secret) in log records, including
    formatted arguments, exception text and stack traces, with [REDACTED].

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
        if self._pattern is None:
            return True
        try:
            message = record.getMessage()
        except Exception:  # a malformed log call: leave it to the formatter to report
            return True
        clean = self.redact(message)
        if clean != message or record.args:
            record.msg, record.args = clean, ()
        if record.exc_info and record.exc_info[0] is not None:
            record.exc_text = self.redact(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


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
    ordered per user.
    """

    def __init__(self, max_running: int = MAX_RUNNING_UPDATES):
        super().__init__(max_concurrent_updates=MAX_QUEUED_UPDATES)
        self._max_running = max_running
        self._running: asyncio.Semaphore | None = None
        self._last: dict[Hashable, asyncio.Future[None]] = {}

    async def initialize(self) -> None:
        self._running = asyncio.Semaphore(self._max_running)

    async def shutdown(self) -> None:
        pass

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
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


# --- Building and running ------------------------------------------------------------------------


def build_application(config: ServiceConfig, holder: LibraryHolder) -> Application:
    """The PTB Application with all handlers, per-chat ordering and Telegram's flood limits."""
    if not config.token:
        raise ValueError("a token is required")
    base = config.api_base_url.rstrip("/")
    threads = AnswerThreads()
    corpus_bot = CorpusBot(
        holder,
        threads=threads,
        top_k=config.top_k,
        min_match=config.min_match,
        access=AccessPolicy(config.allowed_chat_ids, config.allowed_user_ids, config.admin_ids),
        questions_per_minute=config.user_questions_per_minute,
        example_questions=config.example_questions,
    )

    following: list[asyncio.Task[None]] = []  # the feed-following task, while the bot runs

    async def post_init(application: Application) -> None:
        me = application.bot
        try:
            await me.set_my_commands([BotCommand(name, text) for name, text in COMMANDS])
        except TelegramError as error:
            log.warning("could not set the command menu: %s", describe(error))
        library = holder.library
        log.info("serving as @%s: %d articles, %d passages", me.username, len(library.documents),
                 len(library.passages))
        try:
            asyncio.get_running_loop().add_signal_handler(
                signal.SIGHUP, lambda: application.create_task(_reload_on_signal(holder))
            )
        except (NotImplementedError, AttributeError, RuntimeError, ValueError):
            pass  # no SIGHUP (Windows) or not the main thread (tests)
        if config.feeds is not None:
            # Not application.create_task: the Application waits for those when it stops, and this never ends.
            following.append(asyncio.create_task(_follow_feeds(config.feeds, config.feed_interval, holder)))

    async def post_stop(application: Application) -> None:
        if config.feeds is not None:
            config.feeds.stop()
        for task in following:
            task.cancel()
        await asyncio.gather(*following, return_exceptions=True)
        following.clear()


    application = (
        ApplicationBuilder()
        .token(config.token.get_secret_value())
        .base_url(lambda token: f"{base}/bot{token}")
        .base_file_url(lambda token: f"{base}/file/bot{token}")
        .concurrent_updates(ChatOrderedProcessor())
        .rate_limiter(AIORateLimiter(max_retries=RATE_LIMIT_RETRIES))
        .connect_timeout(10)
        .read_timeout(config.request_timeout)
        .write_timeout(config.request_timeout)
        .pool_timeout(10)
        .post_init(post_init)
        .post_stop(post_stop)
        .post_shutdown(lambda _: asyncio.to_thread(threads.close))
        .build()
    )
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


def _plain(secret: SecretStr | None) -> str | None:
    return secret.get_secret_value() if secret else None


def webhook_problem(config: ServiceConfig) -> str | None:
    """Why the webhook settings cannot work, or None."""
    return settings_webhook_problem(config.webhook_url, config.webhook_secret)


def run(config: ServiceConfig) -> int:
    """Run the bot until SIGTERM/SIGINT; return the process exit code: 0 after a graceful stop,
    2 for settings to fix (no token, a rejected token, webhook without secret), 1 when the Bot API
    cannot be used (unreachable...), which a service manager may retry."""
    if not config.token:
        print(NO_TOKEN, file=sys.stderr)
        return 2
    secrets = protect_logs(*(_plain(s) for s in (config.token, config.webhook_secret)))
    problem = webhook_problem(config)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    library, problems = config.corpus.load(progress=config.startup_progress)
    for corpus_problem in problems:
        log.warning("corpus: %s", corpus_problem)
    holder = LibraryHolder(library, config.corpus.load)
    settle_for_serving()
    server = config.api_base_url.rstrip("/")
    try:
        application = build_application(config, holder)
        if config.webhook_url:
            log.info("receiving updates by webhook at %s (listening on %s:%d)", config.webhook_url,
                     config.webhook_listen, config.webhook_port)
            application.run_webhook(
                listen=config.webhook_listen,
                port=config.webhook_port,
                url_path=urlsplit(config.webhook_url).path.lstrip("/"),
                webhook_url=config.webhook_url,
                secret_token=_plain(config.webhook_secret),
                allowed_updates=Update.ALL_TYPES,
                bootstrap_retries=BOOTSTRAP_RETRIES,
            )
        else:
            log.info("receiving updates by long polling from %s", server)
            application.run_polling(
                allowed_updates=Update.ALL_TYPES, timeout=POLL_TIMEOUT, bootstrap_retries=BOOTSTRAP_RETRIES
            )
    except InvalidToken:  # a settings error like the others (exit 2): restarting will not help
        print(TOKEN_REJECTED.format(server=server), file=sys.stderr)
        return 2
    except TelegramError as error:
        print(f"error: cannot use the Bot API at {server}: {secrets.redact(describe(error))}", file=sys.stderr)
        return 1
    except OSError as error:
        print(f"error: {secrets.redact(str(error))}", file=sys.stderr)
        return 1
    except Exception:  # a bug: report it through the filtered log, not Python's raw traceback
        log.critical("the bot stopped because of an unexpected error", exc_info=True)
        return 1
    log.info("stopped")
    return 0
