"""The searchable library: documents split into passages, indexed, and searched.

`Library` is made over a `PassageIndex` (built from documents now, or opened from the index
cache: `load_library` does either) and never changes; a reload builds a new one and swaps it in
whole.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import re
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypeVar, get_args, overload

import numpy as np

from bot.corpus.articles import CorpusProblem, Document, load_corpus, raise_if_unusable
from bot.corpus.passages import Passage, parse_passage_id, passage_id
from bot.retrieval import analysis, index_arrays, spelling
from bot.retrieval.bm25_reference import Bm25Ranker, Ranker
from bot.retrieval.bm25_sparse import SparseBm25
from bot.retrieval.index_arrays import PassageIndex, TermLookup, key_number

# Re-exported: the key a button or inline result carries, which `Library.passage_by_key` reads back.
from bot.retrieval.index_arrays import passage_key as passage_key


@dataclass(frozen=True, slots=True)
class Query:
    """A question as the index sees it."""

    text: str
    terms: tuple[str, ...]  # analyzed, misspellings corrected, repeats kept
    weights: Mapping[str, float]  # idf of each distinct term (unknown terms weigh the most)
    corrections: Mapping[str, str]  # misspelled term -> corpus term used instead
    unknown: frozenset[str] = frozenset()  # terms no passage holds
    respelled: Mapping[str, str] = dataclasses.field(default_factory=dict)  # typed word -> English word meant

    @property
    def total_weight(self) -> float:
        return sum(self.weights.values())


@dataclass(frozen=True, slots=True)
class Hit:
    passage: Passage
    score: float  # BM25+ score above the no-match baseline


class PassageList(Sequence[Passage]):
    """The library's passages in order, made into `Passage` objects only when asked for."""

    __slots__ = ("_library",)

    def __init__(self, library: Library) -> None:
        self._library = library

    def __len__(self) -> int:
        return self._library._index.size

    @overload
    def __getitem__(self, i: int) -> Passage: ...
    @overload
    def __getitem__(self, i: slice) -> list[Passage]: ...
    def __getitem__(self, i: int | slice) -> Passage | list[Passage]:
        if isinstance(i, slice):
            return [self._library._passage(j) for j in range(*i.indices(len(self)))]
        n = len(self)
        if not -n <= i < n:
            raise IndexError("passage index out of range")
        return self._library._passage(i % n)

    def __iter__(self) -> Iterator[Passage]:
        return (self._library._passage(i) for i in range(len(self)))


class DocumentMap(Mapping[str, Document]):
    """doc_id -> Document over the index's arrays: each Document (with its text) is made when
    asked for; the most recently used ones are kept, so asking twice gives the same object."""

    __slots__ = ("_positions", "_load")

    def __init__(self, positions: Mapping[str, int], load: Callable[[int], Document]) -> None:
        self._positions = positions
        self._load = load

    def __getitem__(self, doc_id: str) -> Document:
        return self._load(self._positions[doc_id])

    def __contains__(self, doc_id: object) -> bool:
        return doc_id in self._positions

    def __iter__(self) -> Iterator[str]:
        return iter(self._positions)

    def __len__(self) -> int:
        return len(self._positions)


Engine = Literal["auto", "rank-bm25", "sparse"]
_Value = TypeVar("_Value")
ENGINES: tuple[str, ...] = get_args(Engine)
DEFAULT_ENGINE: Engine = "auto"
SPARSE_FROM = 2_000  # `auto` uses the sparse engine from this many passages (see README, Performance)


class Library:
    """Documents, their passages and a ranking engine, built once and never changed.

    The content lives in a `PassageIndex` (numpy arrays, possibly memory-mapped from the
    index cache); Passage objects are made on demand. `engine` picks the ranking engine:
    "rank-bm25" (the reference), "sparse" (`bot.retrieval.bm25_sparse`, same scores) or "auto" (the
    sparse engine from `sparse_from` passages on).
    """

    def __init__(
        self,
        index: PassageIndex,
        *,
        engine: str = DEFAULT_ENGINE,
        sparse_from: int = SPARSE_FROM,
        weights: np.ndarray | None = None,
    ) -> None:
        """A library over `index` (`weights`: the sparse engine's posting weights, if stored)."""
        if engine not in ENGINES:
            raise ValueError(f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")
        if index.document_count == 0:
            raise ValueError("the library needs at least one document")
        self._index = index
        doc_ids = index.doc_ids.all()
        self._positions = {doc_id: d for d, doc_id in enumerate(doc_ids)}  # a repeated id: the last one
        self._repeated: dict[str, list[int]] = {}  # only an index built from documents can repeat an id
        if len(self._positions) < len(doc_ids):
            for d, doc_id in enumerate(doc_ids):
                self._repeated.setdefault(doc_id, []).append(d)
            self._repeated = {k: v for k, v in self._repeated.items() if len(v) > 1}
        self._document_at: Callable[[int], Document] = functools.lru_cache(maxsize=_DOCUMENTS_KEPT)(index.document)
        self.documents: Mapping[str, Document] = DocumentMap(self._positions, self._document_at)
        self._sorted_keys = index.passage_key[index.key_order]
        use_sparse = engine == "sparse" or (engine == "auto" and index.size >= sparse_from)
        self.engine = "sparse" if use_sparse else "rank-bm25"
        if index.size == 0:
            self._ranker: Ranker = Bm25Ranker([])  # raises the empty-corpus error
        elif use_sparse:
            self._ranker = SparseBm25(index, weights)
        else:
            self._ranker = Bm25Ranker(_passage_terms(index))

    @classmethod
    def from_documents(
        cls,
        documents: Sequence[Document],
        *,
        engine: str = DEFAULT_ENGINE,
        sparse_from: int = SPARSE_FROM,
        progress: Callable[[int, int], None] | None = None,
    ) -> Library:
        """A library over documents in memory: their index is built now (`progress`: told
        (documents analyzed, documents) as it goes)."""
        if not documents:
            raise ValueError("the library needs at least one document")
        return cls(index_arrays.build(documents, progress), engine=engine, sparse_from=sparse_from)

    @property
    def passages(self) -> Sequence[Passage]:
        """All passages in order, made on demand. (A property, not an attribute: an attribute
        would make a reference cycle, which only the cycle collector frees, and the service
        freezes the collector's view of its first library.)"""
        return PassageList(self)

    def catalog(self) -> list[Document]:
        """Every document's metadata, with empty text: for listings, without reading any article."""
        return [self._index.document(d, with_text=False) for d in range(self._index.document_count)]

    @functools.cached_property
    def publishers(self) -> Mapping[str, frozenset[str]]:
        """The index term naming each publisher -> the ids of its articles, so that "according to
        Reuters" can narrow a question down to Reuters' articles. A publisher is named by the first
        word of its name that is not an everyday English word ("Reuters (via National Post)":
        reuters; "BBC News": bbc; "The Guardian": guardian), if the articles' own text seldom uses that
        word (a newspaper named after its country does not claim every mention of the country)."""
        index = self._index
        common = max(3, index.size // 20)  # a word in more passages than this names no one publisher
        articles: dict[str, list[int]] = {}  # publisher -> its articles (a corpus has few publishers)
        for d in range(index.document_count):
            articles.setdefault(json.loads(index.doc_meta.raw(d))[1], []).append(d)
        by_key: dict[str, set[str]] = {}
        for publisher, positions in articles.items():
            name = publisher.split("(")[0]
            key = next((token.term for token in analysis.tokens(name)
                        if not spelling.is_english(name[token.start : token.end], seen=spelling.EVERYDAY_WORD_COUNT)),
                       None)
            if key and self._ranker.document_frequency.get(key, 0) <= common:
                by_key.setdefault(key, set()).update(index.doc_ids[d] for d in positions)
        return {key: frozenset(ids) for key, ids in by_key.items()}

    @property
    def index(self) -> PassageIndex:
        return self._index

    def _passage(self, i: int) -> Passage:
        index = self._index
        d = int(index.passage_doc[i])
        document = self._document_at(d)
        number = i - int(index.doc_passages[d]) + 1
        start, end = int(index.passage_start[i]), int(index.passage_end[i])
        return Passage(passage_id(document.doc_id, number), document.doc_id, number, start, end,
                       document.text[start:end])

    def passage(self, passage_id: str) -> Passage | None:
        parsed = parse_passage_id(passage_id)
        d = self._positions.get(parsed[0]) if parsed else None
        if parsed is None or d is None:
            return None
        first, last = int(self._index.doc_passages[d]), int(self._index.doc_passages[d + 1])
        i = first + parsed[1] - 1
        return self._passage(i) if first <= i < last else None

    def passage_by_key(self, key: str) -> Passage | None:
        """The passage whose `passage_key` is `key`, if the corpus still has it."""
        number = key_number(key)
        if number is None:
            return None
        at = int(np.searchsorted(self._sorted_keys, np.uint64(number)))
        if at >= len(self._sorted_keys) or int(self._sorted_keys[at]) != number:
            return None
        passage = self._passage(int(self._index.key_order[at]))
        return passage if passage_key(passage.passage_id) == key else None

    def passages_of(self, doc_id: str) -> list[Passage]:
        d = self._positions.get(doc_id)
        positions = self._repeated.get(doc_id) or ([] if d is None else [d])
        return [self._passage(i) for d in positions
                for i in range(int(self._index.doc_passages[d]), int(self._index.doc_passages[d + 1]))]

    def in_document(self, doc_id: str, term: str) -> bool:
        """Whether the document holds `term` anywhere, from the postings (no article is read)."""
        d = self._positions.get(doc_id)
        term_id = self._term_id(term)
        if d is None or term_id is None:
            return False
        index = self._index
        postings = index.posting_passage[int(index.term_postings[term_id]) : int(index.term_postings[term_id + 1])]
        first = int(np.searchsorted(postings, index.doc_passages[d]))  # postings increase within a term
        return first < len(postings) and int(postings[first]) < int(index.doc_passages[d + 1])

    def spelling_of(self, term: str, word: str | None = None) -> str | None:
        """How the corpus writes `word` (a word of `term`; None: any word of it) within a sentence,
        by most of its uses in the first `_CASE_SAMPLE` passages holding it: "CSTO" for
        "csto", "Putin" for "putin", "Armenia’s" for "armenias", "troops" for "troops"; None if it
        never does. Case and apostrophes are what may differ, and a capital where a sentence
        starts says nothing. A question typed all in lower case gets its names back from this."""
        key = (term, word and _unquoted(word))
        return self._remembered("_spellings", key, lambda: self._usual_spelling(term, key[1]))

    def _usual_spelling(self, term: str, word: str | None) -> str | None:
        term_id = self._term_id(term)
        uses: dict[str, int] = {}
        if term_id is not None:
            index = self._index
            first, last = int(index.term_postings[term_id]), int(index.term_postings[term_id + 1])
            picks = slice(first, min(last, first + _CASE_SAMPLE))  # together: one page of postings to read
            # The word itself is found by a regular expression (its letters, any case, an apostrophe
            # allowed between them), which is far cheaper than analyzing every word of the passages.
            same_word = word and re.compile(
                r"(?<![\w'’])" + "['’]?".join(map(re.escape, word)) + r"(?![\w'’])", re.IGNORECASE)
            for i in index.posting_passage[picks].tolist():
                text = self._passage(int(i)).text
                spans = ([found.span() for found in same_word.finditer(text)] if same_word
                         else [(start, end) for start, end, _ in analysis.spans_of(text, (term,))])
                for start, end in spans:
                    before = text[max(0, start - 8) : start].rstrip(_OPENERS)
                    if start > 8 and before and before[-1] not in _SENTENCE_ENDS:
                        used = text[start:end]
                        uses[used] = uses.get(used, 0) + 1
        return max(uses, key=lambda used: (uses[used], used.islower()), default=None)

    def _remembered(self, table: str, key: Hashable, compute: Callable[[], _Value]) -> _Value:
        """compute(), remembered for `key` in the library's `table`: a plain bounded dict, not a
        cache on the method, which would keep every library ever loaded alive. Answers run in
        threads: the value is returned as computed, never read back from a table another
        thread may have cleared in between."""
        known: dict[Hashable, _Value] = self.__dict__.setdefault(table, {})
        try:
            return known[key]
        except KeyError:
            value = compute()
        if len(known) >= _TERM_IDS_KEPT:
            known.clear()
        known[key] = value
        return value

    def _term_id(self, term: str) -> int | None:
        """The term's id, remembered."""
        return self._remembered("_term_ids", term, lambda: self._term_lookup.id(term))

    @functools.cached_property
    def _term_lookup(self) -> TermLookup:
        engine_lookup = getattr(self._ranker, "_lookup", None)
        return engine_lookup if isinstance(engine_lookup, TermLookup) else TermLookup(self._index)

    def query(self, text: str) -> Query:
        vocabulary = self._ranker.document_frequency
        terms: list[str] = []
        corrections: dict[str, str] = {}
        respelled: dict[str, str] = {}
        tries = 0
        candidates: dict[str, str | None] = {}  # each distinct term is looked up once ("% % % ...")
        for token in analysis.tokens(text):
            term, word = token.term, text[token.start : token.end]
            if term not in vocabulary and analysis.is_compound(word):
                continue  # "go-between" as one word, which the corpus never writes: its parts stand for it
            if term not in candidates:
                candidates[term] = None if term in vocabulary else spelling.correct(term, vocabulary)
            fixed = candidates[term]
            if fixed and spelling.is_english(word):
                fixed = None  # a real word the corpus lacks, not a typo of one it has
            if not fixed and term not in vocabulary and tries < _MAX_RESPELLED and not spelling.is_english(word):
                tries += 1
                english = self._respelling(word)
            else:
                english = None
            if english:
                respelled[word.casefold()] = english  # "wich": which, "villge": village
                fixed = analysis.term_of(english)
                if not fixed:
                    continue  # a stop word, as the word meant is
            if fixed:
                corrections[term] = fixed
            terms.append(fixed or term)
        terms += [acronym for acronym in analysis.acronym_terms(text) if acronym in vocabulary and acronym not in terms]
        weights = {term: self._ranker.idf(term) for term in terms}
        return Query(text, tuple(terms), weights, corrections, frozenset(t for t in terms if t not in vocabulary),
                     respelled)

    def _respelling(self, word: str) -> str | None:
        key = word.casefold()
        return self._remembered(
            "_respellings", key, lambda: spelling.respell(key, self._ranker.document_frequency, analysis.term_of))

    def search(self, query: Query, k: int) -> list[Hit]:
        return [Hit(self._passage(i), score) for i, score in self._ranker.top(query.terms, k)]


_DOCUMENTS_KEPT = 512
# Unknown words of a question looked up as typos of English words, at most: a question has a few
# typos, and a message of hundreds of unknown words is noise, on which each look costs ~0.3 ms.
_MAX_RESPELLED = 8
_CASE_SAMPLE = 8  # passages read to tell how the corpus writes a word
# Where a sentence starts a capital says nothing about the word: near the passage's start, after
# what ends a sentence, or after what opens a quote (the opening marks and spaces are skipped).
_SENTENCE_ENDS = ".!?:;\n"
_APOSTROPHES = dict.fromkeys(map(ord, "'\u2019"))


def _unquoted(word: str) -> str:
    return word.translate(_APOSTROPHES).casefold()

_OPENERS = " \t\u00a0\"'(\u201c\u2018\u00ab-\u2013\u2014"
_TERM_IDS_KEPT = 65_536



def _passage_terms(index: PassageIndex) -> list[list[str]]:
    """Each passage's terms (each repeated as often as it occurs), from the postings: what
    rank-bm25 needs, without analyzing the texts again (term order does not change BM25)."""
    terms = index.terms.all()
    term_of = np.repeat(np.arange(len(terms)), np.diff(index.term_postings))
    order = np.argsort(index.posting_passage, kind="stable")
    bounds = np.searchsorted(index.posting_passage[order], np.arange(index.size + 1))
    counts = index.posting_count[order].tolist()
    term_ids = term_of[order].tolist()
    out = []
    for p in range(index.size):
        a, b = int(bounds[p]), int(bounds[p + 1])
        out.append([terms[t] for t, c in zip(term_ids[a:b], counts[a:b], strict=True) for _ in range(c)])
    return out


@dataclass(frozen=True, slots=True)
class LibrarySource:
    """Where a library comes from and how it is indexed (the settings, as plain values),
    so that start-up and every reload build it the same way."""

    folder: Path
    max_file_bytes: int
    cache_dir: Path | None = None
    engine: str = DEFAULT_ENGINE
    sparse_from: int = SPARSE_FROM

    def load(self, progress: Callable[[int, int], None] | None = None) -> tuple[Library, tuple[CorpusProblem, ...]]:
        return load_library(
            self.folder, max_file_bytes=self.max_file_bytes, cache_dir=self.cache_dir, engine=self.engine,
            sparse_from=self.sparse_from, progress=progress,
        )


def load_library(
    folder: Path,
    *,
    max_file_bytes: int,
    cache_dir: Path | None = None,
    engine: str = DEFAULT_ENGINE,
    sparse_from: int = SPARSE_FROM,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[Library, tuple[CorpusProblem, ...]]:
    """Load the corpus folder and index it; raise CorpusError (one line) when nothing is usable.

    With `cache_dir`, the index is kept there (`bot.retrieval.index_cache`): a restart with an unchanged
    corpus reads no article, and a changed corpus analyzes only the changed files. `progress` is
    told (articles analyzed, articles to analyze) while articles are analyzed.
    """
    if cache_dir is not None:
        from bot.retrieval import index_cache  # it needs the modules this one imports

        opened = index_cache.open_index(folder, max_file_bytes=max_file_bytes, cache_dir=cache_dir, progress=progress)
        library = Library(opened.index, engine=engine, sparse_from=sparse_from, weights=opened.weights)
        problems = opened.problems
    else:
        loaded = load_corpus(folder, max_file_bytes=max_file_bytes)
        raise_if_unusable(loaded.problems)
        library = Library.from_documents(loaded.documents, engine=engine, sparse_from=sparse_from, progress=progress)
        problems = loaded.problems
    library.publishers  # noqa: B018 - worked out now, not on the first question (0.1 s per 10,000 articles)
    analysis.load_tables()  # likewise
    return library, problems
