"""Fetching web addresses with httpx: a clear User-Agent, a timeout for the whole download, a
size limit checked while reading, and redirects followed up to a limit. Every failure becomes
one `SourceProblem` line; a network fault or a server error is marked transient."""

from __future__ import annotations

import time
from dataclasses import dataclass
from importlib import metadata
from urllib.parse import urlsplit

import httpx

from bot.ingest.sources import SourceProblem

MAX_REDIRECTS = 5


def _user_agent() -> str:
    try:
        version = metadata.version("corpus-answer-bot")
    except metadata.PackageNotFoundError:
        version = "dev"
    return f"corpus-answer-bot/{version} (adds news articles to a question-answering corpus; httpx)"


USER_AGENT = _user_agent()


@dataclass(frozen=True, slots=True)
class FetchLimits:
    timeout: float = 20.0  # seconds for the whole download, connecting included
    max_bytes: int = 20_000_000
    max_redirects: int = MAX_REDIRECTS


@dataclass(frozen=True, slots=True)
class Fetched:
    url: str  # the address asked for
    final_url: str  # after redirects
    content_type: str | None  # the MIME type, without parameters
    charset: str | None  # from the Content-Type header, if it names one
    body: bytes


class Fetcher:
    """One HTTP client for a run of `add` or a feed check (connections are reused)."""

    def __init__(self, limits: FetchLimits = FetchLimits()) -> None:
        self.limits = limits
        self._client = httpx.Client(
            headers={"User-Agent": USER_AGENT, "Accept": "text/html, application/xhtml+xml, application/pdf, "
                     "application/rss+xml, application/atom+xml, application/xml;q=0.9, */*;q=0.5"},
            timeout=limits.timeout,
            follow_redirects=True,
            max_redirects=limits.max_redirects,
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get(self, url: str) -> Fetched:
        limits = self.limits
        deadline = time.monotonic() + limits.timeout
        try:
            with self._client.stream("GET", url) as response:
                if response.status_code >= 400:
                    raise _status_problem(response)
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > limits.max_bytes:
                    raise _too_large(int(declared), limits.max_bytes)
                chunks: list[bytes] = []
                size = 0
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    if size > limits.max_bytes:
                        raise _too_large(None, limits.max_bytes)
                    if time.monotonic() > deadline:  # a server trickling bytes never trips the read timeout
                        raise SourceProblem(f"did not finish downloading within {limits.timeout:g} s "
                                            "(BOT_FETCH_TIMEOUT); try again later", transient=True)
                    chunks.append(chunk)
                content_type = response.headers.get("content-type")
                return Fetched(
                    url=url,
                    final_url=str(response.url),
                    content_type=content_type.split(";")[0].strip().lower() if content_type else None,
                    charset=response.charset_encoding,
                    body=b"".join(chunks),
                )
        except httpx.TooManyRedirects:
            raise SourceProblem(f"redirects more than {limits.max_redirects} times (a redirect loop?); "
                                "open it in a browser to find the article's own address") from None
        except httpx.TimeoutException:
            raise SourceProblem(f"timed out: no answer within {limits.timeout:g} s (BOT_FETCH_TIMEOUT); "
                                "try again later", transient=True) from None
        except httpx.ConnectError as error:
            host = urlsplit(url).netloc
            raise SourceProblem(f"cannot connect to {host} ({_reason(error)}); check the address, or try again "
                                "later", transient=True) from None
        except httpx.DecodingError:
            raise SourceProblem("the server sent a body that cannot be decompressed; try again later",
                                transient=True) from None
        except (httpx.UnsupportedProtocol, httpx.InvalidURL) as error:
            raise SourceProblem(f"is not an address that can be fetched ({error}); use an http:// or "
                                "https:// address") from None
        except httpx.TransportError as error:  # the connection broke mid-way, a protocol error...
            raise SourceProblem(f"the download failed ({_reason(error)}); try again later", transient=True) from None


def _reason(error: Exception) -> str:
    text = str(error) or type(error).__name__
    # "[Errno 111] Connection refused" -> "connection refused"
    return text.split("] ", 1)[-1].strip().rstrip(".").lower()[:120]


def _status_problem(response: httpx.Response) -> SourceProblem:
    status = response.status_code
    phrase = f"HTTP {status}" + (f" {response.reason_phrase}" if response.reason_phrase else "")
    if status in (408, 425, 429) or status >= 500:
        return SourceProblem(f"the server answered {phrase}; try again later", transient=True)
    if status in (401, 403):
        return SourceProblem(f"the server refused access ({phrase}): a login or a paywall? Save the page from a "
                             "browser where you are logged in and add the saved .html file")
    if status in (404, 410):
        return SourceProblem(f"there is no page at this address ({phrase}); check the address")
    return SourceProblem(f"the server answered {phrase}; check the address")


def _too_large(size: int | None, limit: int) -> SourceProblem:
    what = f"is {size:,} bytes" if size is not None else f"is larger than {limit:,} bytes"
    return SourceProblem(f"{what}, over the {limit:,}-byte limit (BOT_FETCH_MAX_BYTES); stopped reading it")
