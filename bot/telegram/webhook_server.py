"""The webhook's HTTP server: Telegram posts each update here (behind the operator's HTTPS proxy).

PTB's own webhook server reads a request's whole body before it looks at the secret header, and
refuses a request without a word in the log. Here the secret is checked as soon as the headers
are in (a request without it is answered 403 and its body never read), refusals are logged
(the first few a minute, then a count), and a body is at most `MAX_BODY` bytes. An update is put
in the Application's queue (which writes it to the update store) before Telegram gets its 200.
"""

from __future__ import annotations

import hmac
import json
import logging
from typing import Any

import tornado.httpserver
import tornado.web
from telegram import Bot, Update

from bot.telegram.access import RateLimit

log = logging.getLogger(__name__)

MAX_BODY = 1_000_000  # bytes; an update is a few kB
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
REFUSALS_LOGGED_PER_MINUTE = 10


class WebhookServer:
    """Listens on `listen`:`port` for POSTs to `path` carrying `secret` in the secret header."""

    def __init__(self, listen: str, port: int, path: str, secret: str, queue: Any, bot: Bot) -> None:
        self.listen, self.port = listen, port
        shared = {"secret": secret.encode(), "queue": queue, "bot": bot, "refusals": _Refusals()}
        app = tornado.web.Application([(rf"/{path.strip('/')}/?", _UpdateHandler, shared)], log_function=_quiet)
        self._server = tornado.httpserver.HTTPServer(app, max_body_size=MAX_BODY, idle_connection_timeout=60)
        self._listening = False

    @property
    def serving(self) -> bool:
        """Whether it listens (from `start` to `stop`); /healthz asks."""
        return self._listening

    def start(self) -> None:
        """Listen; raises OSError when the address cannot be used."""
        self._server.listen(self.port, address=self.listen)
        self._listening = True

    async def stop(self) -> None:
        """Stop taking requests; the ones under way are finished first."""
        if self._listening:
            self._listening = False
            self._server.stop()
            await self._server.close_all_connections()


class _Refusals:
    """Refused requests, logged the first few a minute, then counted."""

    def __init__(self) -> None:
        self._limit = RateLimit(REFUSALS_LOGGED_PER_MINUTE)
        self._unlogged = 0

    def log(self, remote: str | None, why: str) -> None:
        if self._limit.check(0).allowed:
            more = f" ({self._unlogged} more refused since the last one logged)" if self._unlogged else ""
            self._unlogged = 0
            log.warning("webhook: refused a request from %s: %s (403)%s", remote or "?", why, more)
        else:
            self._unlogged += 1


@tornado.web.stream_request_body
class _UpdateHandler(tornado.web.RequestHandler):
    SUPPORTED_METHODS = ("POST",)

    def initialize(self, secret: bytes, queue: Any, bot: Bot, refusals: _Refusals) -> None:
        self._secret, self._queue, self._bot, self._refusals = secret, queue, bot, refusals
        self._body: list[bytes] = []

    def prepare(self) -> None:
        # Called once the headers are in, before any of the body is read.
        given = self.request.headers.get(SECRET_HEADER, "").encode("utf-8", "replace")
        if not hmac.compare_digest(given, self._secret):
            self._refusals.log(self.request.remote_ip, "no secret header" if not given else "a wrong secret")
            raise tornado.web.HTTPError(403)

    def data_received(self, chunk: bytes) -> None:
        self._body.append(chunk)

    async def post(self) -> None:
        try:
            update = Update.de_json(json.loads(b"".join(self._body)), self._bot)
        except Exception as error:  # not JSON, or not an update: Telegram never sends that
            log.warning("webhook: a request with the secret but no update in it (%s: %s); answered 400",
                        type(error).__name__, str(error)[:200])
            raise tornado.web.HTTPError(400) from None
        if update is not None:
            await self._queue.put(update)  # on disk (the update store) before Telegram hears 200
        self.set_status(200)
        self.finish()


def _quiet(handler: tornado.web.RequestHandler) -> None:
    """No access log: refusals are logged above, and accepted updates by the handlers."""
