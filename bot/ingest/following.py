"""Following feeds from a running bot (`BOT_FEEDS`): each check adds the new items' articles to
the corpus folder as `python -m bot add` would, and logs one line per article added.

Nothing is lost while a feed or a site is down: a check that cannot reach a feed, or an article
that fails for a reason that may pass (a timeout, a server error), is logged and simply tried
again at the next check, since an item counts as done only once its article is in the corpus
folder. An item that cannot be added at all (no article text, not a web page) is reported once
and then left alone. The service decides when to check and swaps in the new index
(`bot.telegram.service`); this module only writes files."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from bot.ingest.fetching import FetchLimits

if TYPE_CHECKING:  # imported in check(): the ingest libraries load with the first check, not at start-up
    from bot.ingest.corpus_files import CorpusLedger

log = logging.getLogger(__name__)


class FeedFollower:
    """`check()` adds what is new in the feeds and returns how many articles it added; `stop()`
    asks a check under way to stop after the article it is on (each file is written whole)."""

    def __init__(self, feeds: Sequence[str], *, corpus_dir: Path, max_file_bytes: int,
                 limits: FetchLimits = FetchLimits()) -> None:
        self.feeds = tuple(feeds)
        self.corpus_dir = corpus_dir
        self.max_file_bytes = max_file_bytes
        self.limits = limits
        self._given_up: set[str] = set()  # addresses that cannot be added: reported once
        self._stopping = threading.Event()
        self._ledger: CorpusLedger | None = None  # what the corpus folder holds, kept between checks and refreshed
        self._lock = threading.Lock()  # one check at a time

    def stop(self) -> None:
        self._stopping.set()

    def check(self) -> int:
        """One round over every feed (run it in a worker thread: it downloads)."""
        from bot.ingest.adding import Importer  # the ingest libraries, loaded with the first check
        from bot.ingest.corpus_files import CorpusLedger, normal_address

        with self._lock:
            if self._ledger is None:
                self._ledger = CorpusLedger(self.corpus_dir)
            importer = Importer(self.corpus_dir, max_file_bytes=self.max_file_bytes, limits=self.limits,
                                ledger=self._ledger, skip_addresses=self._given_up)
            added = 0
            try:
                for outcome in importer.add(self.feeds):
                    if outcome.status == "added":
                        added += 1
                        log.info("feeds: %s", outcome.line())
                    elif outcome.status != "duplicate":
                        again = "; trying again at the next check" if outcome.transient else ""
                        log.warning("feeds: %s%s", outcome.line(), again)
                        is_item = outcome.feed is not None and outcome.source.startswith(("http://", "https://"))
                        if is_item and not outcome.transient:
                            self._given_up.add(normal_address(outcome.source))
                    if self._stopping.is_set():
                        break
            finally:
                importer.close()
            return added
