"""Passages (paragraph-sized pieces of an article) and sentences (the quotable units).

Every passage and sentence is a span ``[start, end)`` of its document's text, so
an excerpt built from them is always an exact substring of the stored article.

Passage ids are ``<doc_id>:<n>`` (`passage_id`, `parse_passage_id`): stable as long as the
article file is not edited, so buttons and caches that carry them survive restarts.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from bot.corpus.articles import Document, is_heading  # a heading paragraph joins the one it introduces

MAX_PASSAGE_CHARS = 900  # a paragraph longer than this is split between sentences

_BLANK_LINES = re.compile(r"\n[ \t\r\f\v]*\n\s*")
_LINE_BREAK = re.compile(r"\n\s*")

# A sentence ends at . ! ? or … (optionally followed by closing quotes/brackets),
# then white space, then something that can start a sentence.
_SENTENCE_END = re.compile(r"[.!?…]+[\"'”’»)\]]*(?=\s+[\"'“‘«(\[]?[A-Z0-9\u0400-\u04ff\u0530-\u058f])")
_ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof gen col lt sgt capt cmdr adm gov sen rep st jr sr inc ltd co corp no vs etc "
    "jan feb mar apr jun jul aug sep sept oct nov dec u.s u.k u.n e.g i.e".split()
)


@dataclass(frozen=True, slots=True)
class Passage:
    passage_id: str
    doc_id: str
    number: int  # 1-based position in the article, as shown to users ("passage 3")
    start: int  # span in the document's text
    end: int
    text: str


def split_passages(document: Document) -> list[Passage]:
    """Split an article into passages: paragraphs, with headings joined to the
    paragraph they introduce and long paragraphs split between sentences."""
    text = document.text
    separator = _BLANK_LINES if _BLANK_LINES.search(text) else _LINE_BREAK
    spans: list[tuple[int, int]] = []
    pending_heading: int | None = None
    for start, end in _paragraph_spans(text, separator):
        if pending_heading is not None:
            start, pending_heading = pending_heading, None
        if is_heading(text[start:end]):
            pending_heading = start
            continue
        spans.extend(_limit_length(text, start, end))
    if pending_heading is not None:  # a heading at the very end stands alone
        spans.append((pending_heading, len(text.rstrip())))
    return [
        Passage(passage_id(document.doc_id, number), document.doc_id, number, start, end, text[start:end])
        for number, (start, end) in enumerate(spans, start=1)
    ]


def passage_id(doc_id: str, number: int) -> str:
    """The id of passage `number` (1-based) of article `doc_id`."""
    return f"{doc_id}:{number}"


def parse_passage_id(passage_id: str) -> tuple[str, int] | None:
    """(doc_id, number) of a passage id, or None if `passage_id` is not one (`passage_id` never
    writes a sign or leading zeros, so they are refused)."""
    doc_id, colon, number = passage_id.rpartition(":")
    if not colon or not (number.isascii() and number.isdigit()) or str(int(number)) != number:
        return None
    return doc_id, int(number)


def _paragraph_spans(text: str, separator: re.Pattern[str]) -> Iterator[tuple[int, int]]:
    position = 0
    for match in separator.finditer(text):
        yield from _trimmed(text, position, match.start())
        position = match.end()
    yield from _trimmed(text, position, len(text))


def _trimmed(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if start < end:
        yield start, end


def _limit_length(text: str, start: int, end: int) -> list[tuple[int, int]]:
    if end - start <= MAX_PASSAGE_CHARS:
        return [(start, end)]
    pieces: list[tuple[int, int]] = []
    piece_start = start
    piece_end = start
    for s_start, s_end in sentence_spans(text, start, end):
        if s_end - piece_start > MAX_PASSAGE_CHARS and piece_end > piece_start:
            pieces.append((piece_start, piece_end))
            piece_start = s_start
        piece_end = s_end
    pieces.append((piece_start, piece_end))
    return pieces


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """The sentences of ``text[start:end]`` as spans of `text`, white space trimmed."""
    end = len(text) if end is None else end
    spans: list[tuple[int, int]] = []
    position = start
    for match in _SENTENCE_END.finditer(text, start, end):
        if _is_abbreviation(text, match.start(), position):
            continue
        spans.extend(_trimmed(text, position, match.end()))
        position = match.end()
    spans.extend(_trimmed(text, position, end))
    # A line break inside a passage (a heading joined to its paragraph) also ends a sentence.
    return [piece for span in spans for piece in _split_lines(text, *span)]


def _split_lines(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    position = start
    for match in _LINE_BREAK.finditer(text, start, end):
        yield from _trimmed(text, position, match.start())
        position = match.end()
    yield from _trimmed(text, position, end)


def _is_abbreviation(text: str, dot: int, sentence_start: int) -> bool:
    if text[dot] != ".":
        return False
    word_start = dot
    while word_start > sentence_start and (text[word_start - 1].isalpha() or text[word_start - 1] == "."):
        word_start -= 1
    word = text[word_start:dot].lower()
    if word in _ABBREVIATIONS:
        return True
    return len(word) == 1 and text[dot - 1].isupper()  # an initial: "J. Smith"
