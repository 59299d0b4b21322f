"""Answering questions off the event loop without stalling it.

Answering is mostly Python (analysis, excerpt choice, rendering), so it holds the
GIL. Run from `asyncio.to_thread` (a pool of many threads) several answers compete
with the event loop for the GIL, and single loop callbacks were measured at 6-15 ms
(README, Performance). What keeps the loop's calls under 5 ms:

* a small dedicated pool (`WORKERS` threads): a slow question does not hold up
  the others, and few threads compete for the GIL;
* a 1 ms GIL switch interval (Python's default is 5 ms), so the loop waits at most
  about that long for a worker to let go;
* `gc.freeze()` once the library is loaded: the start-up objects leave the
  garbage collector's work, so its pauses stay short.

The Telegram bot and the benchmark (`python -m bot bench`) both use this module,
so the benchmark measures what the bot does.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

WORKERS = 2
SWITCH_INTERVAL = 0.001  # seconds

P = ParamSpec("P")
T = TypeVar("T")


class AnswerThreads:
    """The threads that answer questions for an event loop."""

    def __init__(self, workers: int = WORKERS) -> None:
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="answer")

    async def run(self, function: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """`function(*args, **kwargs)` in one of the threads; the event loop stays free meanwhile."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(function, *args, **kwargs))

    def close(self) -> None:
        """Let running answers finish, then stop the threads."""
        self._executor.shutdown(wait=True)


def settle_for_serving() -> None:
    """Call once the library is loaded, before serving: the GIL switch interval and gc.freeze()."""
    sys.setswitchinterval(SWITCH_INTERVAL)
    gc.freeze()
