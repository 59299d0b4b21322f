"""The corpus on disk: article files in a folder, read into `Document` values.

File format (UTF-8, ``.md`` or ``.txt``), documented in README.md::

    ---
    title: Putin, Pashinian Discuss Armenian-Azeri Border Crisis
    publisher: Azatutyun (RFE/RL Armenian Service)
    published: 2021-05-14
    url: https://www.azatutyun.am/a/31255136.html
    ---

    First paragraph of the article, verbatim.

    Second paragraph.

The header is optional. Without it the title is the file's first line when that
line is a heading (``# Title``, or a short line without closing punctuation and a
blank line after it), else the file name. The text
after the header is stored exactly as written: every excerpt the bot quotes is a
substring of it.

Loading never stops at the first bad file: each problem becomes a
`CorpusProblem` naming the file and what to do, and the good files still load.

Which files are articles, in which order, and with which problems is decided here once
(`list_corpus`, then `select_articles`), for the plain loader (`load_corpus`) and for the
index cache (`bot.retrieval.index_cache`, which reads only the files that changed) alike.
Entries that are not articles come back as `SkippedFile` notes with a `SkipReason`.
"""

from __future__ import annotations

import datetime as dt
import enum
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

SUFFIXES = (".md", ".txt")
HEADER_KEYS = ("title", "publisher", "published", "url", "note")
HEADING_MAX_CHARS = 80  # in the text, a line this short without closing punctuation is a section heading
TITLE_MAX_CHARS = 150  # a file's first line may be as long as a headline and still be its title
_CLOSING = frozenset(".!?…:\"”’»)]")  # a line ending in one of these is a sentence, not a heading
_HEADER_LINE = re.compile(r"^([A-Za-z_]+)\s*:\s*(.*)$")


@dataclass(frozen=True, slots=True)
class Document:
    """One article: its metadata and its verbatim text."""

    doc_id: str  # the file name without its suffix; stable across restarts
    title: str
    publisher: str
    published: str | None  # ISO date (YYYY-MM-DD) or None when unknown
    url: str | None
    text: str
    note: str | None = None


UNKNOWN_DATE = "date unknown"  # said wherever an undated article's date would be


def citation(
    document: Document, passage_number: int, *, title: Callable[[str], str] = str, text: Callable[[str], str] = str
) -> str:
    """How every answer cites its source, in the terminal and in Telegram alike:
    ``Title. Publisher, date, passage n``. `title` renders the title and `text` the other fields
    (to escape, shorten or link them)."""
    date = document.published or UNKNOWN_DATE
    return f"{title(document.title)}. {text(document.publisher)}, {text(date)}, passage {passage_number}"


@dataclass(frozen=True, slots=True)
class CorpusProblem:
    """Something wrong with one corpus file (or the folder), in words a user can act on."""

    path: str
    message: str
    fatal: bool = False  # fatal problems mean nothing could be loaded at all

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


@dataclass(frozen=True, slots=True)
class LoadedCorpus:
    documents: tuple[Document, ...]
    problems: tuple[CorpusProblem, ...]  # files that are articles but cannot be loaded; a fatal one
    skipped: tuple[SkippedFile, ...] = ()  # folder entries that are not articles

    @property
    def usable(self) -> bool:
        return bool(self.documents)


class CorpusError(Exception):
    """The corpus holds nothing usable; the message is one line for the user."""


class DocumentFormatError(ValueError):
    """A file's header is malformed; the message says what to fix."""


def parse_document(doc_id: str, raw: str, notes: list[str] | None = None) -> Document:
    """Parse one file's text (header optional) into a Document. A header key the bot does not use
    (`author:`...) is passed over, not an error: a note on it is added to `notes` if given."""
    raw = raw.removeprefix("\ufeff")
    meta: dict[str, str] = {}
    body = raw
    # Blank lines before the header are a slip, not article text: the header still counts.
    first_line, _, rest = raw.lstrip(" \t\r\n").partition("\n")
    if first_line.strip() == "---":
        header, sep, after = ("\n" + rest).partition("\n---")  # "\n" + : an empty header closes at once
        header = header[1:]
        if not sep:
            raise DocumentFormatError(
                "the header opened with '---' is never closed; add a line '---' after the last header line"
            )
        for number, line in enumerate(header.splitlines(), start=2):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            match = _HEADER_LINE.match(line.strip())
            if not match:
                raise DocumentFormatError(
                    f"header line {number} is not 'key: value': {line.strip()[:60]!r}; fix or remove the line"
                )
            key, value = match.group(1).lower(), match.group(2).strip()
            if key not in HEADER_KEYS:
                if notes is not None:
                    notes.append(f"header line {number} has key {key!r}, which the bot does not use (it reads "
                                 f"{', '.join(HEADER_KEYS)}); the article is loaded; rename the key or leave it")
                continue
            meta[key] = value
        # Drop the rest of the closing '---' line and the blank lines after it.
        body = after.partition("\n")[2].lstrip("\r\n")
    title = meta.get("title") or ""
    if not title:
        title, body = _title_from_text(doc_id, body)
    published = meta.get("published") or None
    if published is not None:
        try:
            published = dt.date.fromisoformat(published).isoformat()
        except ValueError:
            raise DocumentFormatError(
                f"'published: {published}' is not a date; write it as YYYY-MM-DD or leave the line out"
            ) from None
    body = body.rstrip()
    if not body.strip():
        raise DocumentFormatError(
            "the file has a header but no article text after it; add the text after the closing '---' line"
        )
    return Document(
        doc_id=doc_id,
        title=title,
        publisher=meta.get("publisher") or "unknown publisher",
        published=published,
        url=meta.get("url") or None,
        text=body,
        note=meta.get("note") or None,
    )


def _title_from_text(doc_id: str, body: str) -> tuple[str, str]:
    """Title from the first line when it is a heading (Markdown '#', or a heading by `is_heading`
    followed by a blank line), which then leaves the text; else the file name."""
    first, _, rest = body.lstrip().partition("\n")
    markdown = first.lstrip().startswith("#")
    candidate = first.strip().lstrip("#").strip()
    titled = bool(candidate) and len(candidate) <= TITLE_MAX_CHARS and (
        markdown or (is_heading(candidate, max_chars=TITLE_MAX_CHARS) and rest.lstrip(" \t\r").startswith("\n"))
    )
    if titled and rest.strip():
        return candidate, rest.lstrip("\r\n")
    return doc_id.replace("_", " ").replace("-", " ").strip() or doc_id, body


def is_heading(line: str, *, max_chars: int = HEADING_MAX_CHARS) -> bool:
    """A short line without closing punctuation: a title or section heading, not a sentence.
    (`bot.corpus.passages` joins such a paragraph to the one it introduces; a file's first line
    is its title when it is one, up to TITLE_MAX_CHARS.)"""
    return bool(line) and len(line) <= max_chars and "\n" not in line and line[-1] not in _CLOSING


# --- the corpus folder: which files are articles, in which order, with which problems ---------


class SkipReason(enum.Enum):
    """Why a folder entry is not read as an article (`SkippedFile`)."""

    UNSUPPORTED_TYPE = "not an article file: only .md and .txt files are read"
    SUBFOLDER = "a subfolder: only the files directly in the corpus folder are read"
    UNREADABLE_NAME = "its name is not valid UTF-8, so it is left out; rename it"


@dataclass(frozen=True, slots=True)
class SkippedFile:
    """A folder entry that is not an article, and why: a note for the user, not a problem."""

    path: str
    reason: SkipReason

    def __str__(self) -> str:
        return f"{self.path}: skipped, {self.reason.value}"


@dataclass(frozen=True, slots=True)
class ArticleFile:
    """A file in the corpus folder that counts as an article (it may still fail to load)."""

    path: Path
    size: int  # as listed (-1: unknown)
    mtime_ns: int  # as listed (-1: unknown)
    is_link: bool  # a link's target can change while the folder listing stays the same
    ctime_ns: int = -1  # status change time, as listed (-1: unknown): the system sets it on every write
    # and permission change, and tools that restore a modification time (touch -r, cp -p) cannot

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def doc_id(self) -> str:
        """The article's id: the file name without its suffix (a.md and a.txt would clash)."""
        return self.path.stem


@dataclass(frozen=True, slots=True)
class CorpusListing:
    """What a corpus folder holds: its article files in name order, the entries skipped and why,
    and the fatal problem of a folder that cannot be listed."""

    folder: Path
    files: tuple[ArticleFile, ...]
    skipped: tuple[SkippedFile, ...]
    problems: tuple[CorpusProblem, ...] = ()  # fatal: no folder to list


def list_corpus(folder: Path) -> CorpusListing:
    """The article files of `folder` (not recursive), with size and modification time, and the
    entries that are not articles. Hidden entries (a leading '.') are passed over without a note:
    systems and editors leave them there."""
    if not folder.exists():
        return CorpusListing(folder, (), (), (CorpusProblem(str(folder), "the corpus folder does not exist; create "
                                               "it and put article files (.md or .txt) in it, or set BOT_CORPUS_DIR",
                                               True),))
    if not folder.is_dir():
        return CorpusListing(folder, (), (), (CorpusProblem(str(folder), "is not a folder; set BOT_CORPUS_DIR to "
                                               "the folder that holds the article files", True),))
    files: list[ArticleFile] = []
    skipped: list[SkippedFile] = []
    with os.scandir(folder) as listing:
        for entry in listing:
            name = entry.name
            if name.startswith("."):
                continue
            path = folder / name
            if not _readable_name(name):
                skipped.append(SkippedFile(str(path), SkipReason.UNREADABLE_NAME))
            elif Path(name).suffix.lower() in SUFFIXES:
                files.append(_article_file(path, entry))
            elif _is_dir(entry):
                skipped.append(SkippedFile(str(path), SkipReason.SUBFOLDER))
            else:
                skipped.append(SkippedFile(str(path), SkipReason.UNSUPPORTED_TYPE))
    files.sort(key=lambda f: f.name)
    skipped.sort(key=lambda f: f.path)
    return CorpusListing(folder, tuple(files), tuple(skipped))


def printable(path: str) -> str:
    """A path as text that can be printed and stored: bytes of a name that are not UTF-8 (which arrive as
    lone surrogates) become U+FFFD."""
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _readable_name(name: str) -> bool:
    try:
        name.encode("utf-8")  # a name that is not UTF-8 on disk arrives with lone surrogates
    except UnicodeEncodeError:
        return False
    return True


def _is_dir(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir()
    except OSError:
        return False


def _article_file(path: Path, entry: os.DirEntry[str]) -> ArticleFile:
    try:
        is_link = entry.is_symlink()
        status = entry.stat(follow_symlinks=False)
    except OSError:
        return ArticleFile(path, -1, -1, False)
    return ArticleFile(path, status.st_size, status.st_mtime_ns, is_link, status.st_ctime_ns)


Source = TypeVar("Source")


Loaded = TypeVar("Loaded", covariant=True)


@dataclass(frozen=True, slots=True)
class Noted(Generic[Loaded]):
    """An article that loads, with a warning about it (a header key the bot does not use)."""

    source: Loaded
    note: CorpusProblem


@dataclass(frozen=True, slots=True)
class Selection(Generic[Source]):
    """The articles of a listing that load, as whatever the reader made of them, and the problems."""

    files: tuple[ArticleFile, ...]  # the files whose articles load, in order
    sources: tuple[Source, ...]  # what the reader made of each
    problems: tuple[CorpusProblem, ...]

    @property
    def usable(self) -> bool:
        return bool(self.sources)


def select_articles(
    listing: CorpusListing, read: Callable[[ArticleFile], Source | Noted[Source] | CorpusProblem]
) -> Selection[Source]:
    """The rules that decide what a corpus is, whoever reads the files (`read_article`, or the index
    cache, which reads only the changed ones): the listed files in order; a file that fails is a
    problem and the others still load; two files with one id load only the first; and when nothing
    loads, a fatal problem that names every bad file."""
    if listing.problems:
        return Selection((), (), listing.problems)
    files: list[ArticleFile] = []
    sources: list[Source] = []
    # A name that is not UTF-8 (common after unzipping an archive) is likely an article that cannot be
    # loaded: a warning naming it, like every other file that cannot be used, not just a note.
    problems: list[CorpusProblem] = [CorpusProblem(printable(entry.path), entry.reason.value)
                                     for entry in listing.skipped if entry.reason is SkipReason.UNREADABLE_NAME]
    loaded_from: dict[str, ArticleFile] = {}  # doc_id -> file: ids must be unique (a.md and a.txt clash)
    for file in listing.files:
        source = read(file)
        if isinstance(source, CorpusProblem):
            problems.append(source)
            continue
        if isinstance(source, Noted):
            problems.append(source.note)
            source = source.source
        if file.doc_id in loaded_from:
            problems.append(CorpusProblem(str(file.path), f"has the same name as {loaded_from[file.doc_id].name} "
                                          "apart from its suffix, so both would be article "
                                          f"{file.doc_id!r}; rename or remove one of them"))
            continue
        loaded_from[file.doc_id] = file
        files.append(file)
        sources.append(source)
    folder = listing.folder
    if not sources and not problems:
        problems.append(CorpusProblem(str(folder), "the corpus folder has no .md or .txt files; add articles "
                                      "(see 'Corpus format' in README.md)", True))
    elif not sources:
        # One line that names every bad file, since callers may show only this fatal problem.
        names = "; ".join(f"{Path(p.path).name} {p.message}" for p in problems)
        problems.append(CorpusProblem(str(folder), f"no file in the corpus folder could be loaded; fix them: {names}",
                                      True))
    return Selection(tuple(files), tuple(sources), tuple(problems))


def raise_if_unusable(problems: Sequence[CorpusProblem]) -> None:
    """Raise CorpusError, worded by the fatal problem, when `problems` has one."""
    fatal = next((p for p in problems if p.fatal), None)
    if fatal is not None:
        raise CorpusError(str(fatal))


def load_corpus(folder: Path, *, max_file_bytes: int) -> LoadedCorpus:
    """Read every article file in `folder` (not recursive); collect problems instead of raising."""
    listing = list_corpus(folder)
    root = folder.resolve()
    selection = select_articles(listing, lambda file: read_article(file, root, max_file_bytes=max_file_bytes))
    return LoadedCorpus(selection.sources, selection.problems, listing.skipped)


def read_article(file: ArticleFile, root: Path, *, max_file_bytes: int) -> Document | Noted[Document] | CorpusProblem:
    """One article file as a Document, or the problem that keeps it out (`root`: the corpus folder,
    resolved; a link may point only inside it)."""
    path = file.path

    def problem(message: str) -> CorpusProblem:
        return CorpusProblem(str(path), message)

    try:
        resolved = path.resolve(strict=True)
    except (OSError, RuntimeError):
        return problem("is a broken link; remove it or point it at a file inside the corpus folder")
    if not resolved.is_relative_to(root):
        return problem(f"is a link to {resolved}, outside the corpus folder; copy the file into the folder instead")
    if not resolved.is_file():
        return problem("is not a regular file; remove it from the corpus folder")
    size = resolved.stat().st_size
    if size > max_file_bytes:
        return problem(f"is {size:,} bytes, over the {max_file_bytes:,}-byte limit; split the article or raise "
                       "BOT_MAX_FILE_BYTES")
    if size == 0:
        return problem("is empty; add the article text or delete the file")
    try:
        raw = resolved.read_bytes().decode("utf-8")
    except UnicodeDecodeError as error:
        return problem(f"is not UTF-8 text (bad byte at offset {error.start}); save it as UTF-8")
    except OSError as error:
        return problem(f"cannot be read ({error.strerror}); check its permissions")
    if "\x00" in raw:
        return problem("contains NUL bytes, so it is not a text file; remove it from the corpus folder")
    if not raw.strip():
        return problem("holds only white space; add the article text or delete the file")
    notes: list[str] = []
    try:
        document = parse_document(file.doc_id, raw, notes)
    except DocumentFormatError as error:
        return problem(str(error))
    return Noted(document, problem("; ".join(notes))) if notes else document
