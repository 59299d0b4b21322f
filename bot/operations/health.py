"""Health and metrics over HTTP, for a supervisor and Prometheus (README, "Health and metrics").

`GET /healthz` answers 200 `ok` while the bot is doing its job, and 503 with the reason
otherwise: the index is not loaded (yet), the bot is still starting (connecting, handling the
updates an earlier run left) or stopping, the Bot API has not answered a long poll for
`stall_after` seconds, the webhook server is not running, or the event loop has not run for
`stall_after` seconds. `GET /metrics` is the Prometheus text format.

The server runs in a thread of its own (the standard library's WSGI server), so it answers
even when the event loop is stuck, which is then what `/healthz` says. The Telegram side
reports to `Health` (`polling`, `updates_polled`, `webhook`, `stopping`, `loop_beat`,
`index_loaded`); nothing here
knows about Telegram.
"""

from __future__ import annotations

import logging
import socketserver
import threading
import time
from collections.abc import Callable, Iterable
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

from prometheus_client import make_wsgi_app

from bot.operations.metrics import BotMetrics

log = logging.getLogger(__name__)

STALL_AFTER = 60.0  # seconds: six long polls without an answer, or a loop that long without a turn


class Health:
    def __init__(self, *, stall_after: float = STALL_AFTER, clock: Callable[[], float] = time.monotonic):
        self.stall_after = stall_after
        self._clock = clock
        self._index_loaded = False
        self._mode: str | None = None
        self._last_poll: float | None = None
        self._webhook_serving: Callable[[], bool] = lambda: False
        self._last_beat: float | None = None

    def index_loaded(self, loaded: bool = True) -> None:
        self._index_loaded = loaded

    def polling(self) -> None:
        """Updates come by long polling: healthy while getUpdates answers."""
        self._mode = "polling"

    def updates_polled(self) -> None:
        """The Bot API answered a getUpdates call (with updates or without)."""
        self._last_poll = self._clock()

    def webhook(self, serving: Callable[[], bool]) -> None:
        """Updates come by webhook: healthy while `serving()` says the webhook server runs."""
        self._mode = "webhook"
        self._webhook_serving = serving

    def stopping(self) -> None:
        """The bot stops receiving updates (SIGTERM, or a token refused while running)."""
        self._mode = "stopping"

    def loop_beat(self) -> None:
        self._last_beat = self._clock()

    def problem(self) -> str | None:
        """Why the bot is not healthy, or None."""
        now = self._clock()
        if not self._index_loaded:
            return "the index is not loaded yet"
        if self._last_beat is not None and now - self._last_beat > self.stall_after:
            return f"the event loop has not run for {now - self._last_beat:.0f} s"
        if self._mode is None:
            return "not receiving updates yet (starting)"
        if self._mode == "stopping":
            return "stopping: no longer receiving updates"
        if self._mode == "webhook":
            return None if self._webhook_serving() else "the webhook server is not running"
        if self._last_poll is None:
            return "the Bot API has not answered a long poll yet"
        if now - self._last_poll > self.stall_after:
            return (f"the Bot API has not answered a long poll for {now - self._last_poll:.0f} s "
                    "(network down, Telegram unreachable, or another instance polling?)")
        return None


class _Server(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # a scrape every 15 s is not news
        log.debug("health endpoint: " + format, *args)


class HealthServer:
    """`/healthz` and `/metrics` on `listen`:`port` (port 0: any free port; see `.port`)."""

    def __init__(self, listen: str, port: int, health: Health, metrics: BotMetrics):
        self.health = health
        self._listen = listen
        self._metrics_app: WSGIApplication = make_wsgi_app(metrics.registry)
        self._server = make_server(listen, port, self._app, server_class=_Server, handler_class=_QuietHandler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="health-server", daemon=True)

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://{self._listen}:{self.port}"

    def start(self) -> HealthServer:
        self._thread.start()
        return self

    def close(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join()
        self._server.server_close()

    def _app(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/metrics":
            return self._metrics_app(environ, start_response)
        if path == "/healthz":
            problem = self.health.problem()
            status, body = ("200 OK", "ok\n") if problem is None else ("503 Service Unavailable", problem + "\n")
        else:
            status, body = "404 Not Found", "not found: try /healthz or /metrics\n"
        data = body.encode()
        start_response(status, [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(data))),
                                ("Cache-Control", "no-store")])
        return [data]
