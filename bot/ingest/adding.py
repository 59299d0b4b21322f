"""Sources → corpus files: `python -m bot add SOURCE...` and the feeds a running bot follows.

A source is a web address, a saved web page, a PDF, an RSS/Atom feed (address or file: each
item's article is added) or a folder of these. Every source ends in `Outcome`s, one line each:
added, already in the corpus, no article text, or failed (and whether trying again later may
help). One bad source never stops the others, and a file is written whole or not at all.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from bot.corpus.articles import DocumentFormatError, parse_document
from bot.ingest.corpus_files import (
    CorpusLedger,
    NameTaken,
    NewArticle,
    free_name,
    normal_address,
    write_new_file,
)
from bot.ingest.extracted import Extracted, require_article_text
from bot.ingest.feeds import Feed, FeedItem, parse_feed
from bot.ingest.fetching import Fetcher, FetchLimits
from bot.ingest.pdfs import extract_pdf
from bot.ingest.sources import (
    FILE_SUFFIXES,
    Kind,
    NoArticle,
    SourceProblem,
    is_web_address,
    looks_like_address,
    sniff,
)
from bot.ingest.web_pages import extract_web_page

Status = Literal["added", "duplicate", "no article", "failed"]
Progress = Callable[[int, int], None]  # (done, total): sources and feed items handled so far

_WRITE_ATTEMPTS = 5  # another writer may take a name between choosing and writing it


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one source, or one item of a feed."""

    source: str  # the address or file, as given (for a feed item: its link)
    status: Status
    message: str  # one line: what happened, and what to do if something is to be done
    path: Path | None = None  # the corpus file written (or, in a dry run, that would be)
    article: NewArticle | None = None
    transient: bool = False  # a failure that trying again later may cure
    feed: str | None = None  # the feed a feed item came from

    def line(self, *, dry_run: bool = False) -> str:
        where = f" (in feed {self.feed})" if self.feed else ""
        if self.status == "added":
            return f"{'would add' if dry_run else 'added'} {self.path}: {self.message}, from {self.source}{where}"
        if self.status == "duplicate":
            return f"already in the corpus: {self.source}{where}: {self.message}"
        if self.status == "no article":
            return f"skipped {self.source}{where}: {self.message}"
        return f"failed {self.source}{where}: {self.message}"


@dataclass(frozen=True, slots=True)
class _Origin:
    """Where an article came from, for the header's blanks and the report."""

    source: str
    addresses: tuple[str, ...] = ()  # every address it was fetched under (before and after redirects)
    feed: str | None = None
    feed_title: str | None = None
    item: FeedItem | None = None
    file: Path | None = None


class Importer:
    """Adds sources to one corpus folder. Keeps what the folder holds in a `CorpusLedger`, so an
    article given twice in one run (or found in two feeds) is added once."""

    def __init__(
        self,
        corpus_dir: Path,
        *,
        max_file_bytes: int,
        limits: FetchLimits = FetchLimits(),
        dry_run: bool = False,
        publisher: str | None = None,
        fetcher: Fetcher | None = None,
        ledger: CorpusLedger | None = None,
        skip_addresses: set[str] | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.corpus_dir = corpus_dir
        self.max_file_bytes = max_file_bytes
        self.limits = limits
        self.dry_run = dry_run
        self.publisher = publisher
        self._fetcher = fetcher
        self.ledger = ledger or CorpusLedger(corpus_dir)
        self._skip = skip_addresses if skip_addresses is not None else set()
        self._progress = progress
        self._done = 0
        self._total = 0

    @property
    def fetcher(self) -> Fetcher:
        if self._fetcher is None:
            self._fetcher = Fetcher(self.limits)
        return self._fetcher

    def close(self) -> None:
        if self._fetcher is not None:
            self._fetcher.close()

    # --- sources ------------------------------------------------------------------------------

    def add(self, sources: Iterable[str]) -> Iterator[Outcome]:
        """One outcome per article (or reason for none), as each is done."""
        self.ledger.refresh()
        work: list[str | Path | Outcome] = []
        for source in sources:
            work.extend(self._expand(source))
        self._total += len(work)
        self._tick(0)
        for item in work:
            if isinstance(item, Outcome):
                yield item
            elif isinstance(item, Path):
                yield from self._file(item)
            elif is_web_address(item):
                yield from self._address(item, _Origin(item, (item,)))
            elif looks_like_address(item):
                yield Outcome(item, "failed", "only http:// and https:// addresses can be fetched")
            else:
                yield Outcome(item, "failed", "no such file or folder; check the name (a web address starts with "
                              "http:// or https://)")
            self._tick(1)

    def _expand(self, source: str) -> list[str | Path | Outcome]:
        """A folder becomes its files (searched in subfolders too); other sources stay as given."""
        if is_web_address(source) or looks_like_address(source):
            return [source]
        path = Path(source)
        if path.is_file():
            return [path]
        if not path.is_dir():
            return [source]
        files: list[Path] = []
        others: list[Path] = []
        for folder, subfolders, names in os.walk(path):
            subfolders[:] = sorted(d for d in subfolders if not d.startswith("."))
            for name in sorted(names):
                if name.startswith("."):
                    continue
                file = Path(folder) / name
                (files if file.suffix.lower() in FILE_SUFFIXES else others).append(file)
        found: list[str | Path | Outcome] = list(files)
        if others:
            example = others[0].relative_to(path)
            several = len(others) > 1
            found.append(Outcome(str(path), "no article", f"left out {len(others)} file{'s' if several else ''} "
                                 f"that {'are' if several else 'is'} not a web page, a PDF or a feed "
                                 f"(such as {example}); add only {', '.join(FILE_SUFFIXES)} files"))
        if not files and not others:
            found.append(Outcome(str(path), "no article", "the folder is empty"))
        return found

    def _file(self, path: Path) -> Iterator[Outcome]:
        source = str(path)
        try:
            size = path.stat().st_size
            if size > self.limits.max_bytes:
                raise SourceProblem(f"is {size:,} bytes, over the {self.limits.max_bytes:,}-byte limit "
                                    "(BOT_FETCH_MAX_BYTES)")
            if size == 0:
                raise SourceProblem("is empty")
            body = path.read_bytes()
            kind = sniff(body)
        except OSError as error:
            yield Outcome(source, "failed", f"cannot be read ({error.strerror or error}); check its permissions")
            return
        except SourceProblem as problem:
            yield _problem(source, problem)
            return
        if kind == "feed":
            yield from self._feed(source, body, base_url=None)
            return
        yield self._article(kind, body, None, None, _Origin(source, file=path))

    def _address(self, url: str, origin: _Origin) -> Iterator[Outcome]:
        if normal_address(url) in self._skip:
            return  # a following bot already reported this address as unusable
        known = self.ledger.by_address(url)
        if known:
            yield Outcome(origin.source, "duplicate", f"same address as {known}", feed=origin.feed)
            return
        try:
            fetched = self.fetcher.get(url)
            kind = sniff(fetched.body, fetched.content_type)
        except SourceProblem as problem:
            yield _problem(origin.source, problem, origin.feed)
            return
        if kind == "feed":
            if origin.feed is not None:
                yield Outcome(origin.source, "failed", "links to another feed, not to an article", feed=origin.feed)
                return
            yield from self._feed(url, fetched.body, base_url=fetched.final_url)
            return
        addresses = tuple(dict.fromkeys((*origin.addresses, url, fetched.final_url)))
        yield self._article(kind, fetched.body, fetched.final_url, fetched.charset,
                            _Origin(origin.source, addresses, origin.feed, origin.feed_title, origin.item))

    def _feed(self, source: str, body: bytes, *, base_url: str | None) -> Iterator[Outcome]:
        try:
            feed: Feed = parse_feed(body, base_url=base_url)
        except SourceProblem as problem:
            yield _problem(source, problem)
            return
        if feed.flaw:
            yield Outcome(source, "failed", feed.flaw + "; the others are added")
        if not feed.items:
            yield Outcome(source, "no article", "the feed has no items")
            return
        self._total += len(feed.items)
        self._tick(0)
        for item in feed.items:
            label = f"item {item.title!r}" if item.title else "an item without a title"
            if not item.link:
                yield Outcome(label, "failed", "has no link to an article; skipped", feed=source)
            elif not is_web_address(item.link):
                yield Outcome(label, "failed", f"links to {item.link!r}, not an http(s) address; skipped", feed=source)
            else:
                yield from self._address(item.link, _Origin(item.link, (item.link,), source, feed.title, item))
            self._tick(1)

    # --- one article --------------------------------------------------------------------------

    def _article(self, kind: Kind, body: bytes, url: str | None, charset: str | None, origin: _Origin) -> Outcome:
        try:
            extracted = extract_pdf(body) if kind == "pdf" else extract_web_page(body, url=url, charset=charset)
            require_article_text(extracted)
        except SourceProblem as problem:
            return _problem(origin.source, problem, origin.feed)
        return self._store(self._new_article(extracted, url, origin), origin)

    def _new_article(self, extracted: Extracted, url: str | None, origin: _Origin) -> NewArticle:
        """The header's fields: the source's own first, then the feed's, then what the address says."""
        item = origin.item
        if url is None and extracted.url and is_web_address(extracted.url):
            url = extracted.url  # a saved page's own (canonical) address
        host = (urlsplit(url).hostname or "").removeprefix("www.") if url else ""
        publisher = self.publisher or extracted.publisher or origin.feed_title or host or None
        title = extracted.title or (item.title if item else None) or _title_from_name(origin.file, url)
        return NewArticle(
            title=title,
            publisher=publisher,
            published=extracted.published or (item.published if item else None),
            url=url,
            text=extracted.text,
            note=extracted.note,
        )

    def _store(self, article: NewArticle, origin: _Origin) -> Outcome:
        source, feed = origin.source, origin.feed
        for address in (article.url, *origin.addresses):
            known = self.ledger.by_address(address)
            if known:
                return Outcome(source, "duplicate", f"same address as {known}", feed=feed)
        known = self.ledger.by_text(article.text)
        if known:
            for address in origin.addresses:
                self.ledger.also_known_as(address, known)
            return Outcome(source, "duplicate", f"same text as {known}, which came from another address", feed=feed)
        text = article.file_text()
        size = len(text.encode("utf-8"))
        if size > self.max_file_bytes:
            return Outcome(source, "failed", f"the article is {size:,} bytes, over the {self.max_file_bytes:,}-byte "
                           "limit for corpus files (BOT_MAX_FILE_BYTES); raise it to add this one", feed=feed)
        stem = article.stem()
        try:  # what the corpus will read back must be exactly what was extracted
            readback = parse_document(stem, text)
        except DocumentFormatError as error:
            return Outcome(source, "failed", f"the article cannot be stored ({error})", feed=feed)
        if readback.text != article.text.strip() or readback.title != article.title:
            return Outcome(source, "failed", "the article's text would not read back unchanged from a corpus "
                           "file; nothing written", feed=feed)
        for _ in range(_WRITE_ATTEMPTS):
            name = free_name(self.ledger, stem)
            if self.dry_run:
                break
            try:
                write_new_file(self.corpus_dir, name, text)
                break
            except NameTaken:
                self.ledger.refresh()
            except OSError as error:
                return Outcome(source, "failed", f"cannot write {self.corpus_dir / name} "
                               f"({error.strerror or error}); nothing written", feed=feed)
        else:
            return Outcome(source, "failed", "other files keep taking the name; try again", feed=feed, transient=True)
        self.ledger.record(name, article)
        for address in origin.addresses:
            self.ledger.also_known_as(address, name)
        renamed = f" (as {name}: {stem}.md holds another article)" if name != stem + ".md" else ""
        paragraphs = article.text.count("\n\n") + 1
        summary = (f"{article.title!r}; {article.publisher or 'publisher unknown'}, "
                   f"{article.published or 'date unknown'}; {paragraphs} paragraph{'s' if paragraphs > 1 else ''}, "
                   f"{len(article.text.split()):,} words{renamed}")
        return Outcome(source, "added", summary, path=self.corpus_dir / name, article=article, feed=feed)

    def _tick(self, step: int) -> None:
        self._done += step
        if self._progress is not None:
            self._progress(self._done, self._total)


def _problem(source: str, problem: SourceProblem, feed: str | None = None) -> Outcome:
    status: Status = "no article" if isinstance(problem, NoArticle) else "failed"
    return Outcome(source, status, str(problem), transient=problem.transient, feed=feed)


def _title_from_name(file: Path | None, url: str | None) -> str:
    """A title when the source names none: the file's name, or the address's last part, in words."""
    if file is not None:
        name = file.stem
    elif url:
        name = Path(urlsplit(url).path.rstrip("/")).stem
    else:
        name = ""
    return " ".join(name.replace("_", " ").replace("-", " ").split()) or "Untitled article"
