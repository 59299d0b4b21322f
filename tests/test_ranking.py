"""Ranking on tiny and real corpora: matching passages score above zero and above non-matching
ones, and a passage sharing no term with the question is never returned.

Corpora of one, two and three articles are where BM25Okapi goes wrong (a term in exactly half
the passages gets idf 0, in more than half a negative one), so these cases come first.
When the library offers several ranking engines (`bot.retrieval.library.ENGINES`), each test runs on each.
"""

from __future__ import annotations

import pytest

from bot.corpus.articles import load_corpus
from bot.retrieval import analysis
from bot.retrieval.bm25_reference import Bm25Ranker
from bot.retrieval.library import Library
from conftest import CORPUS, DEFAULTS, ENGINES, make_library, questions


@pytest.fixture(params=ENGINES, ids=lambda engine: engine or "default")
def engine(request) -> str | None:
    """Tests that take it run once per ranking engine."""
    return request.param


@pytest.fixture
def build(engine):
    """build({doc_id: text}) -> a Library ranked by this test's engine."""
    return lambda documents: make_library(documents, engine=engine)


_seed_libraries: dict[str | None, Library] = {}


@pytest.fixture
def library(engine) -> Library:
    """The seed corpus, ranked by this test's engine (built once per engine)."""
    if engine not in _seed_libraries:
        documents = load_corpus(CORPUS, max_file_bytes=DEFAULTS.max_file_bytes).documents
        _seed_libraries[engine] = (
            Library.from_documents(documents) if engine is None else Library.from_documents(documents, engine=engine)
        )
    return _seed_libraries[engine]


def search(library: Library, text: str, k: int = 10) -> list[tuple[str, float]]:
    return [(hit.passage.passage_id, hit.score) for hit in library.search(library.query(text), k)]


def assert_well_formed(library: Library, text: str, k: int = 10) -> None:
    hits = library.search(library.query(text), k)
    query_terms = set(library.query(text).terms)
    assert len(hits) <= k
    scores = [hit.score for hit in hits]
    assert scores == sorted(scores, reverse=True)
    for hit in hits:
        assert hit.score > 0
        assert query_terms & set(analysis.terms(hit.passage.text)), (text, hit.passage.text)


# --- one article ------------------------------------------------------------------------------


def test_one_article_one_passage_is_found(build):
    library = build({"only": "Russia deployed border guards in Syunik."})
    ((passage_id, score),) = search(library, "Why are there border guards in Syunik?")
    assert passage_id == "only:1" and score > 0


def test_one_article_one_passage_and_an_unrelated_question(build):
    library = build({"only": "Russia deployed border guards in Syunik."})
    assert search(library, "Who painted the Mona Lisa?") == []


def test_one_article_term_in_exactly_half_of_its_passages(build):
    library = build({"only": "Russia deployed border guards in Syunik.\n\nThe weather in Yerevan was warm."})
    assert [pid for pid, _ in search(library, "Syunik")] == ["only:1"]
    assert [pid for pid, _ in search(library, "weather")] == ["only:2"]
    (_, score), = search(library, "Syunik")
    assert score > 0


# --- two articles -----------------------------------------------------------------------------


def test_two_articles_term_in_one_of_them(build):
    library = build({
        "a": "Russia deployed border guards in Syunik.",
        "b": "Azerbaijan denied invading Armenia.",
    })
    hits = search(library, "Syunik border guards")
    assert [pid for pid, _ in hits] == ["a:1"]
    assert hits[0][1] > 0


def test_two_articles_term_in_both_scores_both_above_zero(build):
    library = build({
        "a": "Russia deployed border guards in Syunik.",
        "b": "Azerbaijan and Armenia dispute the border.",
    })
    hits = search(library, "border")
    assert sorted(pid for pid, _ in hits) == ["a:1", "b:1"]
    assert all(score > 0 for _, score in hits)


def test_two_articles_the_passage_with_more_question_terms_ranks_first(build):
    library = build({
        "a": "Azerbaijan and Armenia dispute the border.",
        "b": "Russia deployed border guards in Syunik.",
    })
    hits = search(library, "border guards")
    assert [pid for pid, _ in hits] == ["b:1", "a:1"]
    assert hits[0][1] > hits[1][1] > 0


# --- three articles ---------------------------------------------------------------------------


THREE = {
    "a": "Russia deployed border guards in Syunik.\n\nGuards patrol the border every day.",
    "b": "Azerbaijan and Armenia dispute the border near Syunik.",
    "c": "The Minsk Group of mediators met in Geneva.",
}


def test_three_articles_term_in_two_of_three_passages_still_counts(build):
    library = build(THREE)
    hits = search(library, "border")  # in 3 of 4 passages: BM25Okapi's idf would be negative
    assert sorted(pid for pid, _ in hits) == ["a:1", "a:2", "b:1"]
    assert all(score > 0 for _, score in hits)


def test_three_articles_ranking_follows_the_matched_terms(build):
    library = build(THREE)
    hits = search(library, "Syunik border guards")
    assert hits[0][0] == "a:1"  # all three terms
    assert {pid for pid, _ in hits} == {"a:1", "a:2", "b:1"}
    assert "c:1" not in {pid for pid, _ in hits}


def test_three_articles_rare_term_outranks_common_term(build):
    library = build(THREE)
    hits = search(library, "Geneva border")
    assert hits[0][0] == "c:1"


@pytest.mark.parametrize("k", [1, 2, 3])
def test_k_limits_the_hits(build, k):
    library = build(THREE)
    assert len(search(library, "border Syunik guards", k)) == min(k, 3)


def test_k_zero_and_no_terms_give_nothing(build):
    library = build(THREE)
    assert search(library, "border", 0) == []
    assert search(library, "what is the", 10) == []


def test_ranking_is_the_same_every_time(build):
    assert search(build(THREE), "border guards") == search(build(THREE), "border guards")


# --- the seed corpus and properties over every question ---------------------------------------


@pytest.mark.parametrize("question", questions())
def test_seed_hits_are_positive_ordered_and_share_a_term(library, question):
    assert_well_formed(library, question)


@pytest.mark.parametrize(
    "text",
    ["border", "Pashinian", "Russia Armenia", "Putin Putin Putin", "Syunik Gyumri Shusha Geneva", "zzzz qqqq"],
)
def test_seed_hits_for_common_and_repeated_terms(library, text):
    assert_well_formed(library, text, k=len(library.passages))


def test_a_term_in_most_seed_passages_still_finds_them_all(library):
    """'Armenia' (with 'Armenian') is in most passages: every one of them must be found, none other."""
    query_terms = set(library.query("Armenia").terms)
    holding = {p.passage_id for p in library.passages if query_terms & set(analysis.terms(p.text))}
    assert len(holding) > len(library.passages) / 2
    found = {pid for pid, _ in search(library, "Armenia", k=len(library.passages))}
    assert found == holding


# --- empty corpus -----------------------------------------------------------------------------


def test_empty_corpus_cannot_be_ranked_and_says_why():
    with pytest.raises(ValueError, match="empty"):
        Bm25Ranker([])


def test_empty_library_is_refused(engine):
    with pytest.raises(ValueError):
        Library.from_documents([]) if engine is None else Library.from_documents([], engine=engine)
