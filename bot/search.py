"""The searchable library: documents split into passages, indexed, and searched.

`Library` is built once from loaded documents and never changes; a reload
builds a new one and swaps it in whole.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from bot import analysis, spelling
from bot.corpus import CorpusError, CorpusProblem, Document, load_corpus
from bot.passages import Passage, split_passages
from bot.ranking import Bm25Ranker


@dataclass(frozen=True, slots=True)
class Query:
    """A question as the index sees it."""

    text: str
    terms: tuple[str, ...]  # analyzed, misspellings corrected, repeats kept
    weights: Mapping[str, float]  # idf of each distinct term (unknown terms weigh the most)
    corrections: Mapping[str, str]  # misspelled term -> corpus term used instead

    @property
    def total_weight(self) -> float:
        return sum(self.weights.values())


@dataclass(frozen=True, slots=True)
class Hit:
    passage: Passage
    score: float  # BM25+ score above the no-match baseline


def passage_key(passage_id: str) -> str:
    """A short (12-character) stable key for a passage id, for places with tight limits
    such as Telegram's 64-byte button data."""
    return hashlib.blake2b(passage_id.encode(), digest_size=9).hexdigest()[:12]


class Library:
    def __init__(self, documents: Sequence[Document]) -> None:
        if not documents:
            raise ValueError("the library needs at least one document")
        self.documents: Mapping[str, Document] = {d.doc_id: d for d in documents}
        self.passages: tuple[Passage, ...] = tuple(p for d in documents for p in split_passages(d))
        self._by_id = {p.passage_id: p for p in self.passages}
        self._by_key = {passage_key(p.passage_id): p for p in self.passages}
        self._ranker = Bm25Ranker([analysis.terms(p.text) for p in self.passages])

    def passage(self, passage_id: str) -> Passage | None:
        return self._by_id.get(passage_id)

    def passage_by_key(self, key: str) -> Passage | None:
        """The passage whose `passage_key` is `key`, if the corpus still has it."""
        return self._by_key.get(key)

    def passages_of(self, doc_id: str) -> list[Passage]:
        return [p for p in self.passages if p.doc_id == doc_id]

    def query(self, text: str) -> Query:
        vocabulary = self._ranker.document_frequency
        terms: list[str] = []
        corrections: dict[str, str] = {}
        for term in analysis.terms(text):
            fixed = spelling.correct(term, vocabulary)
            if fixed:
                corrections[term] = fixed
            terms.append(fixed or term)
        weights = {term: self._ranker.idf(term) for term in terms}
        return Query(text, tuple(terms), weights, corrections)

    def search(self, query: Query, k: int) -> list[Hit]:
        return [Hit(self.passages[i], score) for i, score in self._ranker.top(query.terms, k)]


def load_library(folder: Path, *, max_file_bytes: int) -> tuple[Library, tuple[CorpusProblem, ...]]:
    """Load the corpus folder and index it; raise CorpusError (one line) when nothing is usable."""
    loaded = load_corpus(folder, max_file_bytes=max_file_bytes)
    if not loaded.usable:
        fatal = next((p for p in loaded.problems if p.fatal), None) or loaded.problems[-1]
        raise CorpusError(str(fatal))
    return Library(loaded.documents), loaded.problems
