"""Telegram's flood limits, kept per chat: a "Too Many Requests, retry after N" for one chat holds
up that chat only.

PTB's `AIORateLimiter` keeps the same overall and per-group limits, but waits out a 429 by
stopping every request of the bot: one chat told to wait an hour silenced every other chat for
that hour. Here the wait is the chat's (requests without a chat, such as answering a button
press, wait only for themselves), and a waiting request can be cancelled, which is how the
service stops within its grace period during a long wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
import warnings
from collections.abc import Callable, Coroutine
from typing import Any

from aiolimiter import AsyncLimiter
from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

log = logging.getLogger(__name__)

MESSAGES_PER_SECOND = 30  # Telegram: about 30 messages a second overall
GROUP_MESSAGES_PER_MINUTE = 20  # Telegram: 20 messages a minute in one group
RETRIES = 3  # a request told to wait is sent again at most this often
SLACK = 0.1  # seconds added to Telegram's wait


class FloodControl(BaseRateLimiter[int]):
    def __init__(self, retries: int = RETRIES) -> None:
        self._retries = retries
        self._overall = AsyncLimiter(MESSAGES_PER_SECOND, 1)
        self._groups: dict[int | str, AsyncLimiter] = {}
        self._not_before: dict[int | str | None, float] = {}  # chat -> loop time its wait ends

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        chat = _chat(data.get("chat_id"))
        retries = self._retries if rate_limit_args is None else rate_limit_args
        for attempt in range(retries + 1):
            await self._wait_turn(chat)
            try:
                async with self._limits(chat):
                    return await callback(*args, **kwargs)
            except RetryAfter as error:
                wait = retry_after_seconds(error)
                if attempt == retries:
                    log.warning("Telegram still asks to wait %.0f s before %s to %s; giving up on this message",
                                wait, endpoint, _name(chat))
                    raise
                loop = asyncio.get_running_loop()
                self._not_before[chat] = max(self._not_before.get(chat, 0.0), loop.time() + wait + SLACK)
                log.warning("Telegram asks to wait %.0f s before %s to %s again (flood control); other chats go on",
                            wait, endpoint, _name(chat))
        raise AssertionError("unreachable")  # pragma: no cover

    async def _wait_turn(self, chat: int | str | None) -> None:
        loop = asyncio.get_running_loop()
        while (until := self._not_before.get(chat)) is not None:
            if until <= loop.time():
                self._not_before.pop(chat, None)
                return
            await asyncio.sleep(until - loop.time())

    def _limits(self, chat: int | str | None) -> contextlib.AbstractAsyncContextManager[Any]:
        if chat is None:
            return contextlib.nullcontext()
        if _is_group(chat):
            limiter = self._groups.get(chat)
            if limiter is None:
                if len(self._groups) > 512:  # forget groups whose minute has passed
                    self._groups = {k: v for k, v in self._groups.items() if not v.has_capacity(v.max_rate)}
                limiter = self._groups[chat] = AsyncLimiter(GROUP_MESSAGES_PER_MINUTE, 60)
            return _Both(limiter, self._overall)
        return self._overall


class _Both:
    """Two limiters taken in order: the group's minute first, then the overall second."""

    def __init__(self, first: AsyncLimiter, second: AsyncLimiter) -> None:
        self._first, self._second = first, second

    async def __aenter__(self) -> None:
        await self._first.acquire()
        await self._second.acquire()

    async def __aexit__(self, *exc: object) -> None:
        return None


def retry_after_seconds(error: RetryAfter) -> float:
    """Telegram's wait in seconds (PTB gives an int or a timedelta, depending on its settings)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PTB's deprecation note on reading retry_after as an int
        value = error.retry_after
    return value.total_seconds() if isinstance(value, datetime.timedelta) else float(value)


def _chat(chat_id: object) -> int | str | None:
    if chat_id is None or isinstance(chat_id, int):
        return chat_id
    text = str(chat_id)
    return int(text) if text.lstrip("-").isdigit() else text  # "@channelusername" stays a name


def _is_group(chat: int | str) -> bool:
    return isinstance(chat, str) or chat < 0


def _name(chat: int | str | None) -> str:
    return "this bot" if chat is None else f"chat {chat}"
