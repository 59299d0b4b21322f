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
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

SUFFIXES = (".md", ".txt")
HEADER_KEYS = ("title", "publisher", "published", "url", "note")
MAX_TITLE_LINE = 150
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
    problems: tuple[CorpusProblem, ...]

    @property
    def usable(self) -> bool:
        return bool(self.documents)


class CorpusError(Exception):
    """The corpus holds nothing usable; the message is one line for the user."""


class DocumentFormatError(ValueError):
    """A file's header is malformed; the message says what to fix."""


def parse_document(doc_id: str, raw: str) -> Document:
    """Parse one file's text (header optional) into a Document."""
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
                raise DocumentFormatError(
                    f"header line {number} has unknown key {key!r}; use one of {', '.join(HEADER_KEYS)} or remove the line"
                )
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
        raise DocumentFormatError("the file has a header but no article text after it; add the text after the closing '---' line")
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
    """Title from the first line when it is a heading (Markdown '#', or a short line without
    closing punctuation followed by a blank line), which then leaves the text; else the file name."""
    first, _, rest = body.lstrip().partition("\n")
    candidate = first.strip().lstrip("#").strip()
    is_heading = bool(candidate) and len(candidate) <= MAX_TITLE_LINE and (
        first.lstrip().startswith("#")
        or (candidate[-1] not in ".!?…\"”’»" and rest.lstrip(" \t\r").startswith("\n"))
    )
    if is_heading and rest.strip():
        return candidate, rest.lstrip("\r\n")
    return doc_id.replace("_", " ").replace("-", " ").strip() or doc_id, body


def load_corpus(folder: Path, *, max_file_bytes: int) -> LoadedCorpus:
    """Read every article file in `folder` (not recursive); collect problems instead of raising."""
    problems: list[CorpusProblem] = []
    if not folder.exists():
        return LoadedCorpus((), (CorpusProblem(str(folder), "the corpus folder does not exist; create it and "
                                               "put article files (.md or .txt) in it, or set BOT_CORPUS_DIR", True),))
    if not folder.is_dir():
        return LoadedCorpus((), (CorpusProblem(str(folder), "is not a folder; set BOT_CORPUS_DIR to the folder "
                                               "that holds the article files", True),))
    root = folder.resolve()
    documents: list[Document] = []
    loaded_from: dict[str, Path] = {}  # doc_id -> file: ids must be unique (a.md and a.txt clash)
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or path.suffix.lower() not in SUFFIXES:
            continue
        document = _load_file(path, root, max_file_bytes, problems)
        if document is None:
            continue
        if document.doc_id in loaded_from:
            problems.append(CorpusProblem(str(path), f"has the same name as {loaded_from[document.doc_id].name} "
                                          "apart from its suffix, so both would be article "
                                          f"{document.doc_id!r}; rename or remove one of them"))
            continue
        loaded_from[document.doc_id] = path
        documents.append(document)
    if not documents and not problems:
        problems.append(CorpusProblem(str(folder), "the corpus folder has no .md or .txt files; add articles "
                                      "(see 'Corpus format' in README.md)", True))
    elif not documents:
        # One line that names every bad file, since callers may show only this fatal problem.
        files = "; ".join(f"{Path(p.path).name} {p.message}" for p in problems)
        problems.append(CorpusProblem(str(folder), f"no file in the corpus folder could be loaded; fix them: {files}",
                                      True))
    return LoadedCorpus(tuple(documents), tuple(problems))


def _load_file(path: Path, root: Path, max_file_bytes: int, problems: list[CorpusProblem]) -> Document | None:
    def problem(message: str) -> None:
        problems.append(CorpusProblem(str(path), message))

    try:
        resolved = path.resolve(strict=True)
    except (OSError, RuntimeError):
        problem("is a broken link; remove it or point it at a file inside the corpus folder")
        return None
    if not resolved.is_relative_to(root):
        problem(f"is a link to {resolved}, outside the corpus folder; copy the file into the folder instead")
        return None
    if not resolved.is_file():
        problem("is not a regular file; remove it from the corpus folder")
        return None
    size = resolved.stat().st_size
    if size > max_file_bytes:
        problem(f"is {size:,} bytes, over the {max_file_bytes:,}-byte limit; split the article or raise "
                "BOT_MAX_FILE_BYTES")
        return None
    if size == 0:
        problem("is empty; add the article text or delete the file")
        return None
    try:
        raw = resolved.read_bytes().decode("utf-8")
    except UnicodeDecodeError as error:
        problem(f"is not UTF-8 text (bad byte at offset {error.start}); save it as UTF-8")
        return None
    except OSError as error:
        problem(f"cannot be read ({error.strerror}); check its permissions")
        return None
    if "\x00" in raw:
        problem("contains NUL bytes, so it is not a text file; remove it from the corpus folder")
        return None
    if not raw.strip():
        problem("holds only white space; add the article text or delete the file")
        return None
    try:
        return parse_document(path.stem, raw)
    except DocumentFormatError as error:
        problem(str(error))
        return None

