"""The library a running bot answers from, replaced whole when the corpus is reloaded.

Readers take `holder.library` once per question and use that object throughout,
so a question never sees half of an old index and half of a new one. A reload
builds the new Library off the event loop and swaps one reference; when the
corpus fails to load, the old library stays.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from bot.corpus.articles import CorpusProblem
from bot.retrieval.library import Library

Loader = Callable[[], tuple[Library, tuple[CorpusProblem, ...]]]


@dataclass(frozen=True, slots=True)
class Reloaded:
    library: Library
    previous: Library
    problems: tuple[CorpusProblem, ...]


class LibraryHolder:
    def __init__(self, library: Library, loader: Loader):
        self._library = library
        self._loader = loader
        self._lock = asyncio.Lock()  # one reload at a time
        self.generation = 0  # bumped on every swap, for caches derived from the library
        self._watchers: list[Callable[[Library], None]] = []

    def watch(self, callback: Callable[[Library], None]) -> None:
        """Call `callback(library)` now and after every swap (the index metrics follow it so)."""
        self._watchers.append(callback)
        callback(self._library)

    @property
    def library(self) -> Library:
        return self._library

    async def reload(self) -> Reloaded:
        """Load the corpus again (in a worker thread) and swap it in.

        Raises what the loader raises (`bot.corpus.articles.CorpusError` for an unusable
        corpus, OSError...) and then keeps the current library.
        """
        async with self._lock:
            library, problems = await asyncio.to_thread(self._loader)
            previous, self._library = self._library, library
            self.generation += 1
            for callback in self._watchers:
                callback(library)
            return Reloaded(library, previous, problems)
