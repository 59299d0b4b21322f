"""Who may use the bot, and how fast: allow-lists, admins, per-user question limits.

Plain Python (no `telegram` import): the handlers pass ids in and act on the verdict.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass


class AccessPolicy:
    """Allow-lists of chats and users, and the admins.

    With no allow-list set, everyone may ask. With one or both set, a person gets
    answers when they are an allowed user or an admin (anywhere), or when they write
    in an allowed chat. Inline queries and private chats have no other chat than
    the user's own, whose id is the user id, so listing a user id in either list
    admits that person there.
    """

    def __init__(self, allowed_chat_ids: Iterable[int], allowed_user_ids: Iterable[int], admin_ids: Iterable[int]):
        self.allowed_chat_ids = frozenset(allowed_chat_ids)
        self.allowed_user_ids = frozenset(allowed_user_ids)
        self.admin_ids = frozenset(admin_ids)

    @property
    def restricted(self) -> bool:
        return bool(self.allowed_chat_ids or self.allowed_user_ids)

    def allows(self, user_id: int | None, chat_id: int | None) -> bool:
        if not self.restricted:
            return True
        if user_id is not None and (user_id in self.allowed_user_ids or user_id in self.admin_ids):
            return True
        if chat_id is not None and chat_id in self.allowed_chat_ids:
            return True
        return user_id is not None and chat_id is None and user_id in self.allowed_chat_ids

    def is_admin(self, user_id: int | None) -> bool:
        return user_id is not None and user_id in self.admin_ids


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    retry_in: float = 0.0  # seconds until the next event would be allowed
    first_refusal: bool = False  # the first refusal since the last allowed event: say so once


class RateLimit:
    """At most `count` events per `period` seconds for each key (a sliding window)."""

    SWEEP_EVERY = 10_000  # keys; forget idle ones when this many are tracked

    def __init__(self, count: int, period: float = 60.0, *, clock: Callable[[], float] = time.monotonic):
        if count < 1 or period <= 0:
            raise ValueError("a rate limit needs count >= 1 and period > 0")
        self.count = count
        self.period = period
        self._clock = clock
        self._events: dict[int, deque[float]] = {}
        self._refused: set[int] = set()

    def check(self, key: int) -> Verdict:
        """Record one event for `key` if allowed, and say whether it was."""
        now = self._clock()
        events = self._events.get(key)
        if events is None:
            if len(self._events) >= self.SWEEP_EVERY:
                self._sweep(now)
            events = self._events[key] = deque()
        while events and events[0] <= now - self.period:
            events.popleft()
        if len(events) < self.count:
            events.append(now)
            self._refused.discard(key)
            return Verdict(True)
        first = key not in self._refused
        self._refused.add(key)
        return Verdict(False, retry_in=events[0] + self.period - now, first_refusal=first)

    def _sweep(self, now: float) -> None:
        for key in [k for k, events in self._events.items() if not events or events[-1] <= now - self.period]:
            del self._events[key]
            self._refused.discard(key)
