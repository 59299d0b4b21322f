"""Articles → corpus files: the file name (`publisher-YYYY-MM-DD-slug.md`), the file's text in the
format `bot.corpus.articles` reads, what the corpus folder already holds (to add an article
once), and writing a file whole or not at all."""

from __future__ import annotations

import hashlib
import ipaddress
import os
import re
import tempfile
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from tld import get_tld

from bot.corpus.articles import SUFFIXES, DocumentFormatError, parse_document

SUFFIX = ".md"
MAX_SLUG_WORDS = 6
MAX_SLUG_CHARS = 60
UNDATED = "undated"
_TRAILING_SMALL_WORDS = {"a", "an", "the", "of", "in", "on", "at", "to", "for", "and", "or", "with", "after", "from",
                         "by", "as", "is", "its", "over", "into"}  # in a file name, where YYYY-MM-DD would be
# Query parameters that only track where a reader came from: the same article either way.
_TRACKING = re.compile(r"^(?:utm_.*|fbclid|gclid|mc_cid|mc_eid|ref|cmpid|ocid|at_medium|at_campaign)$", re.I)


@dataclass(frozen=True, slots=True)
class NewArticle:
    """An article ready to be written: the corpus header's fields and the text."""

    title: str
    publisher: str | None
    published: str | None  # YYYY-MM-DD
    url: str | None
    text: str
    note: str | None = None

    def file_text(self) -> str:
        header = [("title", self.title), ("publisher", self.publisher), ("published", self.published),
                  ("url", self.url), ("note", self.note)]
        lines = [f"{key}: {' '.join(value.split())}" for key, value in header if value and value.strip()]
        return "---\n" + "\n".join(lines) + "\n---\n\n" + self.text.strip() + "\n"

    def stem(self) -> str:
        """`publisher-YYYY-MM-DD-slug`, the corpus's naming convention (without a number to make it unique)."""
        return f"{publisher_slug(self.url, self.publisher)}-{self.published or UNDATED}-{title_slug(self)}"


def slugify(text: str, max_words: int = MAX_SLUG_WORDS) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    words = re.findall(r"[a-z0-9]+", ascii_text.lower().replace("'", "").replace("’", ""))
    kept: list[str] = []
    for word in words[:max_words]:
        if sum(len(w) + 1 for w in kept) + len(word) > MAX_SLUG_CHARS:
            break
        kept.append(word)
    while len(kept) > 1 and kept[-1] in _TRAILING_SMALL_WORDS:  # "...-rises-after" reads cut off
        kept.pop()
    return "-".join(kept)


def publisher_slug(url: str | None, publisher: str | None) -> str:
    """The site's registered name from the address (www.azatutyun.am → azatutyun, news.bbc.co.uk →
    bbc); for an address without one (an IP address, localhost) or no address, the publisher's name."""
    host = (urlsplit(url).hostname or "") if url else ""
    if host and not _is_ip_or_local(host):
        found = get_tld(f"http://{host}", as_object=True, fail_silently=True)
        domain = getattr(found, "domain", "") or host.split(".")[0]
        slug = slugify(domain, 3)
        if slug:
            return slug
    name = re.split(r"[(|,:–—]", publisher or "")[0]  # "Azatutyun (RFE/RL Armenian Service)" → azatutyun
    return slugify(name, 3) or "unknown"


def _is_ip_or_local(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return host == "localhost" or "." not in host


def title_slug(article: NewArticle) -> str:
    slug = slugify(article.title)
    if not slug and article.url:  # a title in another script: the address's last part often has Latin words
        slug = slugify(re.sub(r"\.\w{2,5}$", "", urlsplit(article.url).path.rstrip("/").rsplit("/", 1)[-1]))
    return slug or "article-" + text_digest(article.text)[:8]


def text_digest(text: str) -> str:
    """The same text whatever its spacing and case: two addresses serving one article match."""
    return hashlib.sha256(" ".join(text.split()).casefold().encode("utf-8")).hexdigest()


def normal_address(url: str) -> str:
    """An address without what does not change the article: the #fragment, tracking parameters,
    a default port, a trailing slash, the case of the scheme and host."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    port = parts.port
    netloc = host if port is None or (scheme, port) in (("http", 80), ("https", 443)) else f"{host}:{port}"
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _TRACKING.match(k)])
    return urlunsplit((scheme, netloc, parts.path.rstrip("/") or "/", query, ""))


@dataclass(slots=True)
class _Entry:
    signature: tuple[int, int]  # size, mtime_ns: the file is read again only when these change
    url: str | None
    digest: str | None


@dataclass(slots=True)
class CorpusLedger:
    """What the corpus folder holds, by address and by text, so that an article is added once.

    `refresh()` reads only files that are new or changed since the last look, so a running bot
    that follows feeds can check it cheaply before every round."""

    folder: Path
    _entries: dict[str, _Entry] = field(default_factory=dict)  # file name -> what it holds
    _by_url: dict[str, str] = field(default_factory=dict)
    _by_digest: dict[str, str] = field(default_factory=dict)

    def refresh(self) -> None:
        seen: dict[str, _Entry] = {}
        if self.folder.is_dir():
            for path in self.folder.iterdir():
                if path.name.startswith(".") or path.suffix.lower() not in SUFFIXES:
                    continue
                try:
                    stat = path.stat()
                except OSError:
                    continue
                signature = (stat.st_size, stat.st_mtime_ns)
                entry = self._entries.get(path.name)
                if entry is None or entry.signature != signature:
                    entry = _read_entry(path, signature)
                seen[path.name] = entry
        self._entries = seen
        self._by_url = {entry.url: name for name, entry in sorted(seen.items()) if entry.url}
        self._by_digest = {entry.digest: name for name, entry in sorted(seen.items()) if entry.digest}

    def by_address(self, url: str | None) -> str | None:
        """The file already holding the article at this address, if any."""
        return self._by_url.get(normal_address(url)) if url else None

    def by_text(self, text: str) -> str | None:
        return self._by_digest.get(text_digest(text))

    def name_taken(self, name: str) -> bool:
        stem = Path(name).stem.casefold()
        taken = any(Path(existing).stem.casefold() == stem for existing in self._entries)
        return taken or (self.folder / name).exists()

    def record(self, name: str, article: NewArticle) -> None:
        """Note a file just written (or that a dry run would write)."""
        entry = _Entry((-1, -1), normal_address(article.url) if article.url else None, text_digest(article.text))
        self._entries[name] = entry
        if entry.url:
            self._by_url.setdefault(entry.url, name)
        if entry.digest:
            self._by_digest.setdefault(entry.digest, name)

    def also_known_as(self, url: str, name: str) -> None:
        """Another address (a feed's link, the address before redirects) of an article in `name`."""
        self._by_url.setdefault(normal_address(url), name)


def _read_entry(path: Path, signature: tuple[int, int]) -> _Entry:
    try:
        raw = path.read_bytes().decode("utf-8")
        document = parse_document(path.stem, raw)
    except (OSError, UnicodeDecodeError, DocumentFormatError):
        return _Entry(signature, None, None)  # the loader reports such files; its name is still taken
    return _Entry(signature, normal_address(document.url) if document.url else None, text_digest(document.text))


def free_name(ledger: CorpusLedger, stem: str) -> str:
    """`stem.md`, or `stem-2.md`, `stem-3.md`... when another article already has that name."""
    name, n = stem + SUFFIX, 1
    while ledger.name_taken(name):
        n += 1
        name = f"{stem}-{n}{SUFFIX}"
    return name


class NameTaken(Exception):
    """Another file appeared under the name between choosing it and writing it."""


def write_new_file(folder: Path, name: str, text: str) -> Path:
    """Write `folder/name` whole or not at all, and never over an existing file: the text goes to a
    hidden temporary file in the same folder (which the corpus loader skips), is flushed to disk,
    then linked under its name, which fails if the name exists (NameTaken)."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / name
    handle, temporary = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        try:
            os.link(temporary, target)
        except FileExistsError:
            raise NameTaken(name) from None
        except OSError:  # a file system without hard links: rename, after checking the name is free
            if target.exists():
                raise NameTaken(name) from None
            os.replace(temporary, target)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    return target
