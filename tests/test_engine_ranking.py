"""The sparse BM25+ engine ranks exactly as the rank-bm25 reference (`Bm25Ranker`).

On a 10,000-passage synthetic corpus: for every question, the same top-10 passages with
the same scores (to 1e-6), ties aside: where the two lists differ, the passages swapped
have equal reference scores. Also every passage's score over the whole corpus, and the
same answers on the seed question set.
"""

from __future__ import annotations

import numpy as np
import pytest

from bot.answers import answer_question
from bot.bench import synthetic_corpus
from bot.corpus.articles import load_corpus
from bot.retrieval import analysis, index_arrays
from bot.retrieval.bm25_reference import Bm25Ranker
from bot.retrieval.bm25_sparse import SparseBm25
from bot.retrieval.library import Library
from conftest import CORPUS, DEFAULTS, QUESTIONS, make_library, questions

TOLERANCE = 1e-6
TIE = 1e-9


@pytest.fixture(scope="module")
def engines(tmp_path_factory: pytest.TempPathFactory) -> tuple[Bm25Ranker, SparseBm25, list[str]]:
    folder = synthetic_corpus.write_corpus(tmp_path_factory.mktemp("corpus-10k"), 10_000, seed_corpus=CORPUS)
    documents = load_corpus(folder, max_file_bytes=10_000_000).documents
    index = index_arrays.build(documents)
    assert index.size == 10_000
    reference = Bm25Ranker(list(index_arrays.iter_passage_terms(index)))
    sparse = SparseBm25(index)
    asked = synthetic_corpus.questions(folder, 400, seed_questions=QUESTIONS)
    return reference, sparse, asked


def assert_same_top(reference: Bm25Ranker, sparse: SparseBm25, query_terms: list[str], k: int) -> None:
    expected = reference.top(query_terms, k)
    got = sparse.top(query_terms, k)
    assert len(got) == len(expected), query_terms
    all_scores = reference.scores(query_terms)
    for (want_id, want_score), (got_id, got_score) in zip(expected, got, strict=True):
        assert abs(got_score - want_score) <= TOLERANCE, (query_terms, want_id, got_id)
        if got_id != want_id:  # allowed only between tied passages
            assert abs(all_scores[got_id] - want_score) <= TIE, (query_terms, want_id, got_id)


def test_same_top_10_with_the_same_scores_as_rank_bm25_on_10k_passages(engines):
    reference, sparse, asked = engines
    differing = 0
    for question in asked:
        query_terms = analysis.terms(question)
        assert_same_top(reference, sparse, query_terms, 10)
        differing += [i for i, _ in reference.top(query_terms, 10)] != [i for i, _ in sparse.top(query_terms, 10)]
    assert differing < len(asked) / 2  # ties are the exception, not the rule


def test_repeated_and_unknown_terms_and_other_k(engines):
    reference, sparse, _ = engines
    for query_terms in (["armenia", "armenia", "border"], ["russia"] * 3, ["zzzunknown", "putin"], ["zzzunknown"], []):
        for k in (1, 16, 200):
            assert_same_top(reference, sparse, query_terms, k)


def test_every_passage_score_matches(engines):
    reference, sparse, asked = engines
    for question in asked[:50]:
        query_terms = analysis.terms(question)
        np.testing.assert_allclose(sparse.scores(query_terms), reference.scores(query_terms), rtol=0, atol=TOLERANCE)


def test_idf_and_document_frequency_match(engines):
    reference, sparse, _ = engines
    assert sparse.size == reference.size
    assert dict(sparse.document_frequency.items()) == dict(reference.document_frequency)
    for term in ("armenia", "putin", "notaterm"):
        assert sparse.idf(term) == pytest.approx(reference.idf(term), abs=1e-12)


def test_the_seed_corpus_gets_the_same_answers_from_both_engines():
    documents = load_corpus(CORPUS, max_file_bytes=DEFAULTS.max_file_bytes).documents
    by_engine = {engine: Library.from_documents(documents, engine=engine) for engine in ("rank-bm25", "sparse")}
    for question in questions():
        answers = [answer_question(library, question, limit=3, min_match=DEFAULTS.min_match)
                   for library in by_engine.values()]
        assert [(e.passage.passage_id, e.start, e.end) for e in answers[0].excerpts] == \
               [(e.passage.passage_id, e.start, e.end) for e in answers[1].excerpts], question


def test_auto_uses_rank_bm25_for_small_corpora_and_sparse_for_large_ones():
    library = make_library({"a": "Russia deployed border guards in Syunik."})
    assert library.engine == "rank-bm25"
    assert Library.from_documents(list(library.documents.values()), sparse_from=1).engine == "sparse"
    with pytest.raises(ValueError, match="unknown engine"):
        Library.from_documents(list(library.documents.values()), engine="fast")


def test_one_passage_corpus_with_the_sparse_engine():
    library = make_library({"only": "Russia deployed border guards in Syunik."})
    sparse = Library.from_documents(list(library.documents.values()), engine="sparse")
    hits = sparse.search(sparse.query("Why are there border guards in Syunik?"), 10)
    assert [h.passage.passage_id for h in hits] == ["only:1"] and hits[0].score > 0
    assert sparse.search(sparse.query("Who painted the Mona Lisa?"), 10) == []
