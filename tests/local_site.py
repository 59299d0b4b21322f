"""A web site on 127.0.0.1 serving what a test puts in it: pages, PDFs, feeds, redirects, errors,
a server that never answers, and one that sends far too much. Nothing reaches the internet."""

from __future__ import annotations

import http.server
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Response:
    body: bytes = b""
    status: int = 200
    content_type: str | None = "text/html; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)


Route = Response | Callable[[http.server.BaseHTTPRequestHandler], None]


class LocalSite:
    """`site.put("/a.html", Response(...))`, then `site.url("/a.html")`. `site.requests` lists the
    paths asked for, in order."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[str] = []
        self.user_agents: list[str] = []
        self._stop = threading.Event()
        site = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # the http.server name
                site.requests.append(self.path)
                site.user_agents.append(self.headers.get("User-Agent", ""))
                route = site.routes.get(self.path)
                if route is None:
                    route = Response(b"<html><body><h1>Not found</h1></body></html>", status=404)
                if callable(route):
                    route(self)
                    return
                self.send_response(route.status)
                if route.content_type:
                    self.send_header("Content-Type", route.content_type)
                for name, value in route.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(route.body)))
                self.end_headers()
                self.wfile.write(route.body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def base(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, path: str) -> str:
        return self.base + path

    def put(self, path: str, route: Route) -> str:
        self.routes[path] = route
        return self.url(path)

    def redirect(self, path: str, to: str, status: int = 302) -> str:
        return self.put(path, Response(b"", status=status, content_type=None, headers={"Location": to}))

    def stall(self, path: str, seconds: float = 30.0) -> str:
        """A server that takes the request and answers nothing (until the test ends)."""
        def handler(request: http.server.BaseHTTPRequestHandler) -> None:
            self._stop.wait(seconds)
        return self.put(path, handler)

    def flood(self, path: str, declared: int | None, chunk: int = 64 * 1024, limit: int = 60_000_000) -> str:
        """An endless-looking page: `declared` as its Content-Length (None: none given), then bytes
        until the client hangs up (at most `limit`)."""
        def handler(request: http.server.BaseHTTPRequestHandler) -> None:
            request.send_response(200)
            request.send_header("Content-Type", "text/html")
            if declared is not None:
                request.send_header("Content-Length", str(declared))
            request.send_header("Connection", "close")
            request.end_headers()
            sent = 0
            block = b"<p>" + b"x" * (chunk - 7) + b"</p>\n"
            try:
                while sent < limit and not self._stop.is_set():
                    request.wfile.write(block)
                    sent += len(block)
            except OSError:
                pass  # the client stopped reading, as it should
            request.close_connection = True
        return self.put(path, handler)

    def close(self) -> None:
        self._stop.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        if isinstance(sys.exc_info()[1], OSError):
            return  # a client that hung up (as `add` does on a page over the size limit): expected here
        super().handle_error(request, client_address)  # type: ignore[arg-type]

