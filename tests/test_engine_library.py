"""Library over the array index: passages are made on demand but behave as a tuple of Passages did."""

from __future__ import annotations

import pytest

from bot.corpus.articles import load_corpus
from bot.corpus.passages import split_passages
from bot.retrieval.library import Library, passage_key
from conftest import CORPUS, DEFAULTS


@pytest.fixture(scope="module", params=["rank-bm25", "sparse"])
def pair(request):
    documents = load_corpus(CORPUS, max_file_bytes=DEFAULTS.max_file_bytes).documents
    expected = [p for d in documents for p in split_passages(d)]
    return Library.from_documents(documents, engine=request.param), expected, documents


def test_passages_are_those_of_split_passages_in_order(pair):
    library, expected, _ = pair
    assert len(library.passages) == len(expected)
    assert list(library.passages) == expected
    assert library.passages[0] == expected[0] and library.passages[-1] == expected[-1]
    assert library.passages[2:5] == expected[2:5]
    with pytest.raises(IndexError):
        library.passages[len(expected)]


def test_lookup_by_id_key_and_document(pair):
    library, expected, documents = pair
    for passage in expected:
        assert library.passage(passage.passage_id) == passage
        assert library.passage_by_key(passage_key(passage.passage_id)) == passage
    for document in documents:
        assert library.passages_of(document.doc_id) == [p for p in expected if p.doc_id == document.doc_id]
        assert library.documents[document.doc_id] == document
    for missing in ("nope:1", f"{documents[0].doc_id}:0", f"{documents[0].doc_id}:999", f"{documents[0].doc_id}:01",
                    "no-colon", f"{documents[0].doc_id}:x"):
        assert library.passage(missing) is None
    for bad_key in ("", "zzzzzzzzzzzz", "0" * 12, "abc"):
        assert library.passage_by_key(bad_key) is None
    assert library.passages_of("nope") == []


def test_documents_mapping(pair):
    library, _, documents = pair
    assert list(library.documents) == [d.doc_id for d in documents]
    assert len(library.documents) == len(documents)
    assert "nope" not in library.documents
    assert list(library.documents.values()) == list(documents)


def test_an_empty_library_is_refused():
    with pytest.raises(ValueError):
        Library.from_documents([])


def test_a_repeated_document_id_keeps_the_old_behaviour():
    from bot.corpus.articles import Document

    first = Document("same", "First", "Wire", None, None, "Russia deployed border guards.")
    second = Document("same", "Second", "Wire", None, None, "Armenia asked for help.\n\nA second paragraph here.")
    library = Library.from_documents([first, second])
    assert library.documents["same"] == second and len(library.documents) == 1
    assert [p.text for p in library.passages_of("same")] == [
        "Russia deployed border guards.", "Armenia asked for help.", "A second paragraph here."]
    assert len(library.passages) == 3
