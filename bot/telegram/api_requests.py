"""The bot's HTTP requests to the Bot API, watched for the operator.

PTB sends every call through a request object; the bot gives it two of its own (one for
getUpdates, one for everything else) that do what PTB's default `HTTPXRequest` does and also
report: a long poll answered (so /healthz knows updates are being received), each call
Telegram refused or that failed on the way, by kind (`corpus_bot_send_errors_total`), and a
401 or 404 (the token or the address refused: the service stops rather than stay up answering
nothing, which is what PTB would do). Retries count once each: a 429 waited out and sent again
is one `rate_limited`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from telegram.error import NetworkError, TimedOut
from telegram.request import HTTPXRequest


def error_kind(status: int, payload: bytes) -> str:
    """Which of `bot.operations.metrics.SEND_ERROR_KINDS` an unsuccessful Bot API answer is."""
    if status == 403:
        return "blocked"  # the user blocked the bot, or it was removed from the group
    if status == 429:
        return "rate_limited"
    if status == 400:
        try:
            parameters = json.loads(payload).get("parameters") or {}
        except (ValueError, AttributeError):
            parameters = {}
        return "chat_migrated" if "migrate_to_chat_id" in parameters else "bad_request"
    if status >= 500:
        return "server_error"
    return "other"


class WatchedRequest(HTTPXRequest):
    """`HTTPXRequest`, telling `on_answer` of each successful call, `on_error(kind)` of each failed one,
    and `on_rejected(status, url)` of each 401 or 404 answer."""

    def __init__(self, *, on_answer: Callable[[], None] = lambda: None,
                 on_error: Callable[[str], None] = lambda kind: None,
                 on_rejected: Callable[[int, str], None] = lambda status, url: None, **options: Any) -> None:
        super().__init__(**options)
        self._on_answer = on_answer
        self._on_error = on_error
        self._on_rejected = on_rejected

    async def do_request(self, url: str, method: str, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        try:
            status, payload = await super().do_request(url, method, *args, **kwargs)
        except TimedOut:
            self._on_error("timeout")
            raise
        except NetworkError:
            self._on_error("network")
            raise
        if status == 200:
            self._on_answer()
        else:
            self._on_error(error_kind(status, payload))
            if status in (401, 404):
                self._on_rejected(status, url)
        return status, payload
