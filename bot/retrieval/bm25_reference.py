"""BM25 ranking of passages. The only module that imports `rank_bm25`.

Why BM25+ (`rank_bm25.BM25Plus`) and not the other variants:

* BM25Okapi's idf, ``log((N - n + 0.5) / (n + 0.5))``, is zero for a term found in
  exactly half of the passages and negative above that; rank-bm25 then floors
  negative idfs at a fraction of the *average* idf, which is itself negative in
  a corpus of one or two passages, so matching passages score below
  non-matching ones. Small corpora (one article, a freshly started bot) are a
  real case here.
* BM25L and BM25+ use idfs that are positive for every term in the corpus
  (BM25+: ``log((N + 1) / n)``), so a matching term always raises a score.
  BM25+ additionally gives every passage ``delta * idf`` per query term, even
  a passage that shares no term with the question. That part is the same for
  every passage of one query, so we subtract it: the score reported is the
  BM25+ score minus the no-match baseline. The ranking is exactly BM25+'s,
  a passage sharing no term with the question scores 0 and is never returned.
* rank-bm25 divides by the corpus size, so an empty corpus cannot be indexed;
  `Bm25Ranker` refuses it with a clear error instead.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Protocol

import numpy as np
from rank_bm25 import BM25Okapi, BM25Plus

K1 = 1.5
B = 0.75
DELTA = 1.0
NO_MATCH = 1e-9  # scores at or below this share no term with the question


class Ranker(Protocol):
    """What `bot.retrieval.library.Library` needs from a ranking engine. Two engines implement it:
    `Bm25Ranker` (rank-bm25, the reference) and `bot.retrieval.bm25_sparse.SparseBm25` (same scores,
    postings-based, for large corpora)."""

    document_frequency: Mapping[str, int]  # term -> passages holding it (the spelling vocabulary)

    @property
    def size(self) -> int: ...

    def idf(self, term: str) -> float: ...

    def top(self, query_terms: Sequence[str], k: int) -> list[tuple[int, float]]: ...


class Bm25Ranker:
    """BM25+ over a fixed list of tokenized passages (a passage is a list of terms)."""

    def __init__(self, passage_terms: Sequence[Sequence[str]]) -> None:
        if not passage_terms:
            raise ValueError("cannot rank an empty corpus: there are no passages to index")
        self._bm25 = BM25Plus([list(terms) for terms in passage_terms], k1=K1, b=B, delta=DELTA)
        self.document_frequency: Mapping[str, int] = Counter(
            term for terms in passage_terms for term in set(terms)
        )

    @property
    def size(self) -> int:
        return int(self._bm25.corpus_size)

    def idf(self, term: str) -> float:
        """BM25+ idf; for a term the corpus lacks, as if it were in half a passage."""
        return self._bm25.idf.get(term) or math.log((self.size + 1) / 0.5)

    def scores(self, query_terms: Sequence[str]) -> np.ndarray:
        """Every passage's score for the query (repeated terms count again, as in BM25+)."""
        baseline = DELTA * sum(self._bm25.idf.get(term) or 0.0 for term in query_terms)
        scores: np.ndarray = self._bm25.get_scores(list(query_terms))  # rank_bm25 has no type information
        return scores - baseline

    def top(self, query_terms: Sequence[str], k: int) -> list[tuple[int, float]]:
        """The best `k` passages as (position, score), best first; only passages that match."""
        if k <= 0 or not query_terms:
            return []
        scores = self.scores(query_terms)
        k = min(k, len(scores))
        best = np.argpartition(-scores, k - 1)[:k]
        ranked = sorted(best.tolist(), key=lambda i: (-scores[i], i))
        return [(i, float(scores[i])) for i in ranked if scores[i] > NO_MATCH]


class PlainBm25:
    """The baseline answers are judged against (`python -m bot eval --baseline`): rank-bm25's
    BM25Okapi with its default parameters over lowercased whitespace tokens, no analysis at all."""

    def __init__(self, texts: Sequence[str]) -> None:
        if not texts:
            raise ValueError("cannot rank an empty corpus: there are no passages to index")
        self._bm25 = BM25Okapi([text.lower().split() for text in texts])

    def top(self, question: str, k: int) -> list[tuple[int, float]]:
        """The best `k` passages as (position, score), best first (ties: earlier passage first)."""
        scores = self._bm25.get_scores(question.lower().split())
        ranked = sorted(range(len(scores)), key=lambda i: (-scores[i], i))[:k]
        return [(i, float(scores[i])) for i in ranked]
