"""Exact BM25+ over a sparse term-passage matrix: only passages that share a term
with the question are scored.

The scores are those of `bot.retrieval.bm25_reference.Bm25Ranker` (rank-bm25's BM25Plus minus the
no-match baseline ``delta * sum(idf)``, repeated query terms counted again), to
floating-point rounding; `tests/test_engine_ranking.py` checks it against the reference.

How a question is ranked:

1. Each term's postings (the passages holding it, ascending) carry a precomputed
   float32 weight: the term's BM25+ contribution minus its ``delta * idf``, i.e.
   ``idf * tf * (k1 + 1) / (k1 * (1 - b + b * dl / avgdl) + tf)``.
2. Candidates get approximate (float32) scores: when the question's postings are
   few, over the union of their passages only; otherwise by adding the postings
   into a dense array of all passages. Every step is a numpy call over arrays,
   so the work is a few vector passes instead of a Python loop per passage.
3. The best candidates by approximate score (with a margin for rounding, and all
   near-ties) are scored again exactly, in float64, from the stored term counts,
   and sorted by (score, position) as the reference sorts them.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator, Mapping, Sequence

import numpy as np

from bot.retrieval.bm25_reference import K1, NO_MATCH, B
from bot.retrieval.index_arrays import PassageIndex, TermLookup

UNION_SHARE = 1 / 16  # score the union of postings (not a dense array) when they hold fewer than N/16
_RELATIVE_SLACK = 1e-5  # float32 scores are within ~1e-6 (relative) of exact: candidates this close are rescored


class TermFrequencies(Mapping[str, int]):
    """term -> number of passages holding it (the spelling corrector's vocabulary), over arrays."""

    __slots__ = ("_lookup", "_df")

    def __init__(self, lookup: TermLookup, df: np.ndarray) -> None:
        self._lookup = lookup
        self._df = df

    def __getitem__(self, term: str) -> int:
        i = self._lookup.id(term)
        if i is None:
            raise KeyError(term)
        return int(self._df[i])

    def get(self, term: str, default: int | None = None) -> int | None:  # type: ignore[override]
        i = self._lookup.id(term)
        return default if i is None else int(self._df[i])

    def __contains__(self, term: object) -> bool:
        return isinstance(term, str) and self._lookup.id(term) is not None

    def __iter__(self) -> Iterator[str]:
        return self._lookup.terms()

    def __len__(self) -> int:
        return len(self._lookup)


def posting_weights(
    term_postings: np.ndarray, posting_passage: np.ndarray, posting_count: np.ndarray, passage_length: np.ndarray
) -> np.ndarray:
    """Each posting's BM25+ contribution above the baseline, float32 (see the module docstring)."""
    n = len(passage_length)
    idf = _idf(term_postings, n)
    norm = _norm(passage_length)
    weights = np.empty(len(posting_passage), dtype=np.float32)
    step = 1 << 22  # bounded temporaries at a million passages
    term_of = np.repeat(np.arange(len(idf), dtype=np.int32), np.diff(term_postings))
    for start in range(0, len(weights), step):
        stop = start + step
        tf = posting_count[start:stop].astype(np.float64)
        weights[start:stop] = idf[term_of[start:stop]] * (tf * (K1 + 1) / (norm[posting_passage[start:stop]] + tf))
    return weights


def _idf(term_postings: np.ndarray, n: int) -> np.ndarray:
    return np.log((n + 1) / np.diff(term_postings).astype(np.float64))


def _norm(passage_length: np.ndarray) -> np.ndarray:
    lengths = passage_length.astype(np.float64)
    avgdl = int(passage_length.sum(dtype=np.int64)) / len(lengths)
    return K1 * (1 - B + B * lengths / avgdl)


class SparseBm25:
    """BM25+ over the postings of a `bot.retrieval.index_arrays.PassageIndex`."""

    def __init__(self, index: PassageIndex, weights: np.ndarray | None = None) -> None:
        if index.size == 0:
            raise ValueError("cannot rank an empty corpus: there are no passages to index")
        self._n = index.size
        self._lookup = TermLookup(index)
        self._starts = index.term_postings
        self._passages = index.posting_passage
        self._counts = index.posting_count
        self._idf = _idf(index.term_postings, self._n)
        self._norm = _norm(index.passage_length)
        if weights is None:
            weights = posting_weights(index.term_postings, index.posting_passage, index.posting_count,
                                      index.passage_length)
        if weights.shape != index.posting_passage.shape or weights.dtype != np.float32:
            raise ValueError("posting weights do not fit the postings")
        self._weights = weights
        self.document_frequency: Mapping[str, int] = TermFrequencies(self._lookup, np.diff(index.term_postings))
        # Per thread, reused: a dense score array and a mask over all passages (5 MB at a million
        # passages), instead of allocating and page-faulting them in for every question.
        self._scratch = threading.local()

    @property
    def size(self) -> int:
        return self._n

    def idf(self, term: str) -> float:
        """BM25+ idf; for a term the corpus lacks, as if it were in half a passage."""
        i = self._lookup.id(term)
        return float(self._idf[i]) if i is not None else math.log((self._n + 1) / 0.5)

    def _spans(self, query_terms: Sequence[str]) -> list[tuple[int, int, int, int]]:
        """(term id, first posting, end of postings, times in the query) for each known distinct term."""
        times: dict[int, int] = {}
        for term in query_terms:
            i = self._lookup.id(term)
            if i is not None:
                times[i] = times.get(i, 0) + 1
        return [(i, int(self._starts[i]), int(self._starts[i + 1]), c) for i, c in times.items()]

    def scores(self, query_terms: Sequence[str]) -> np.ndarray:
        """Every passage's exact score (float64); for tests and small corpora."""
        scores = np.zeros(self._n)
        for i, start, end, times in self._spans(query_terms):
            passages = self._passages[start:end]
            tf = self._counts[start:end].astype(np.float64)
            scores[passages] += times * (self._idf[i] * (tf * (K1 + 1) / (self._norm[passages] + tf)))
        return scores

    def top(self, query_terms: Sequence[str], k: int) -> list[tuple[int, float]]:
        """The best `k` passages as (position, score), best first; only passages that match."""
        if k <= 0 or not query_terms:
            return []
        spans = self._spans(query_terms)
        if not spans:
            return []
        total = sum(end - start for _, start, end, _ in spans)
        if total <= self._n * UNION_SHARE:
            candidates, approx = self._union_scores(spans)
            chosen = _near_best(approx, k, np.empty(len(approx), dtype=bool))
        else:
            scores, mask = self._buffers()
            candidates, approx = None, self._dense_scores(spans, scores)
            chosen = _near_best(approx, k, mask)
        passages = chosen if candidates is None else candidates[chosen]
        exact = self._exact(passages, spans)
        order = np.lexsort((passages, -exact))[:k]
        return [(p, s) for p, s in zip(passages[order].tolist(), exact[order].tolist(), strict=True) if s > NO_MATCH]

    def _union_scores(self, spans: list[tuple[int, int, int, int]]) -> tuple[np.ndarray, np.ndarray]:
        """Approximate scores of the passages holding any of the terms (sorted passage numbers, scores)."""
        if len(spans) == 1:
            _, start, end, times = spans[0]
            return self._passages[start:end], self._weights[start:end] * np.float32(times)
        passages = np.concatenate([self._passages[start:end] for _, start, end, _ in spans])
        weights = np.concatenate([
            self._weights[start:end] * np.float32(times) if times > 1 else self._weights[start:end]
            for _, start, end, times in spans
        ])
        candidates, where = np.unique(passages, return_inverse=True)
        return candidates, np.bincount(where, weights=weights, minlength=len(candidates))

    def _buffers(self) -> tuple[np.ndarray, np.ndarray]:
        """This thread's dense score array (zeroed) and mask over all passages."""
        scratch = self._scratch
        scores = getattr(scratch, "scores", None)
        if scores is None:
            scratch.scores = scores = np.zeros(self._n, dtype=np.float32)
            scratch.mask = np.zeros(self._n, dtype=bool)
        else:
            scores.fill(0)
        return scores, scratch.mask

    def _dense_scores(self, spans: list[tuple[int, int, int, int]], scores: np.ndarray) -> np.ndarray:
        for _, start, end, times in spans:
            weights = self._weights[start:end]
            np.add.at(scores, self._passages[start:end], weights * np.float32(times) if times > 1 else weights)
        return scores

    def _exact(self, passages: np.ndarray, spans: list[tuple[int, int, int, int]]) -> np.ndarray:
        """Exact float64 scores of `passages` (term counts looked up in each term's postings)."""
        scores = np.zeros(len(passages))
        norm = self._norm[passages]
        for i, start, end, times in spans:
            postings = self._passages[start:end]
            at = np.minimum(np.searchsorted(postings, passages), len(postings) - 1)
            tf = np.where(postings[at] == passages, self._counts[start + at], 0).astype(np.float64)
            scores += times * (self._idf[i] * (tf * (K1 + 1) / (norm + tf)))
        return scores


def _near_best(approx: np.ndarray, k: int, mask: np.ndarray) -> np.ndarray:
    """Positions whose approximate score may be among the best k: the best k, and every
    positive score within rounding of the k-th (so exact ties are all rescored).

    Found by comparing against shares of the top score (each a fast vector pass) rather
    than partitioning every score: with the many equal scores of real corpora,
    numpy's partition is slow (up to ms at 100k passages)."""
    if len(approx) == 0:
        return np.zeros(0, dtype=np.intp)
    top = float(approx.max())
    if top <= 0:
        return np.zeros(0, dtype=np.intp)
    share = 0.75
    while True:
        cut = top * share
        chosen = np.flatnonzero(np.greater_equal(approx, cut, out=mask))
        if len(chosen) >= k or share < 1e-3:
            break
        share /= 2
    if len(chosen) < k:
        return np.flatnonzero(np.greater(approx, 0, out=mask))
    values = approx[chosen]
    kth = float(np.partition(values, len(values) - k)[len(values) - k]) if len(values) > k else float(values.min())
    floor = max(kth - abs(kth) * _RELATIVE_SLACK - 1e-7, 0.0)
    if floor < cut:  # near-ties below the cut: look again (floor > 0: only passages that match)
        return np.flatnonzero(np.greater_equal(approx, floor, out=mask) if floor > 0
                              else np.greater(approx, 0, out=mask))
    return chosen[values >= floor]
