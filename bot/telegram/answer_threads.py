"""Answering questions off the event loop without stalling it.

Answering is mostly Python (analysis, excerpt choice, rendering), so it holds the
GIL. Run from `asyncio.to_thread` (a pool of many threads), several answers compete
with the event loop for the GIL, and single loop callbacks were measured at 6-17 ms
(README, Performance); with two threads answering side by side, up to 9 ms at a
million passages; with one, under 1 ms. So:

* one thread answers, question after question (an answer takes a few ms);
* a spare thread takes the next question only while the first has been busy with
  one question for `SPARE_AFTER`: a slow question does not hold up other chats,
  and in normal operation only one thread competes with the loop for the GIL;
* a 1 ms GIL switch interval (Python's default is 5 ms), so the loop waits at most
  about that long for a worker to let go of the GIL;
* `gc.freeze()` once the library is loaded: the start-up objects leave the
  garbage collector's work, so its pauses stay short.

The Telegram bot and the benchmark (`python -m bot bench`) both use this module,
so the benchmark measures what the bot does.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import functools
import gc
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

SPARE_AFTER = 0.05  # seconds the first thread is busy with one question before the spare helps
SWITCH_INTERVAL = 0.001  # seconds

P = ParamSpec("P")
T = TypeVar("T")
_Job = tuple[concurrent.futures.Future[Any], Callable[[], Any]]


class AnswerThreads:
    """The threads that answer questions for an event loop: one, and a spare for slow questions."""

    condition_type = threading.Condition  # a class attribute so that a test can force interleavings

    def __init__(self, spare_after: float = SPARE_AFTER) -> None:
        self._spare_after = spare_after
        self._jobs: collections.deque[_Job] = collections.deque()
        self._changed = self.condition_type()
        self._busy_since: float | None = None  # when the first thread took its current question
        self._closed = False
        self._threads = [
            threading.Thread(target=self._first, name="answer", daemon=True),
            threading.Thread(target=self._spare, name="answer-spare", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    async def run(self, function: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """`function(*args, **kwargs)` in an answer thread; the event loop stays free meanwhile."""
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        with self._changed:
            if self._closed:
                raise RuntimeError("the answer threads are closed")
            self._jobs.append((future, functools.partial(function, *args, **kwargs)))
            self._changed.notify_all()
        return await asyncio.wrap_future(future)

    def close(self) -> None:
        """Answer the questions already given, then stop the threads."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()
        for thread in self._threads:
            thread.join()

    def _first(self) -> None:
        while (job := self._take(spare=False)) is not None:
            _do(job)
            with self._changed:
                self._busy_since = None
                self._changed.notify_all()

    def _spare(self) -> None:
        while (job := self._take(spare=True)) is not None:
            _do(job)

    def _take(self, *, spare: bool) -> _Job | None:
        """The next question for this thread, or None once closed with nothing left."""
        with self._changed:
            while True:
                if spare:
                    busy = self._busy_since
                    waited = None if busy is None else time.monotonic() - busy
                    if self._jobs and waited is not None and waited >= self._spare_after:
                        return self._jobs.popleft()
                    if self._closed and not self._jobs:
                        return None
                    # Look again when the first thread will have been busy long enough.
                    timeout = None if waited is None or not self._jobs else self._spare_after - waited
                    self._changed.wait(timeout)
                else:
                    if self._jobs:
                        self._busy_since = time.monotonic()
                        # A spare that saw the first thread idle waits without a timeout: wake it to
                        # look again, or a question queued behind this one waits for this one.
                        self._changed.notify_all()
                        return self._jobs.popleft()
                    if self._closed:
                        return None
                    self._changed.wait()


def _do(job: _Job) -> None:
    future, call = job
    if not future.set_running_or_notify_cancel():
        return
    try:
        future.set_result(call())
    except BaseException as error:  # handed to the awaiting coroutine
        future.set_exception(error)


def settle_for_serving() -> None:
    """Call once the library is loaded, before serving: the GIL switch interval and gc.freeze()."""
    sys.setswitchinterval(SWITCH_INTERVAL)
    gc.freeze()
