"""Passages and sentences: spans of the document text, stable ids, sensible boundaries."""

from __future__ import annotations

import itertools

import pytest

from bot.corpus.articles import Document
from bot.corpus.passages import MAX_PASSAGE_CHARS, parse_passage_id, passage_id, sentence_spans, split_passages


def document(text: str, doc_id: str = "doc") -> Document:
    return Document(doc_id=doc_id, title="T", publisher="P", published=None, url=None, text=text)


def sentences(text: str) -> list[str]:
    return [text[start:end] for start, end in sentence_spans(text)]


LONG_PARAGRAPH = " ".join(f"Sentence number {i} says that Armenia and Russia talked again." for i in range(60))
ARTICLE = (
    "First paragraph about the border. It has two sentences.\n\n"
    "Risky intervention\n\n"
    "Carey Cavanaugh, a former US ambassador, believes that intervention is not in Moscow’s interest.\n\n"
    + LONG_PARAGRAPH
    + "\n\n“A quoted paragraph,” he said.\n"
)


def test_passages_are_exact_spans_of_the_document_text(library):
    documents = [document(ARTICLE), *library.documents.values()]
    for doc in documents:
        for passage in split_passages(doc):
            assert passage.text == doc.text[passage.start : passage.end]
            assert passage.text == passage.text.strip() != ""


def test_passages_cover_every_word_in_order(library):
    for doc in [document(ARTICLE), *library.documents.values()]:
        passages = split_passages(doc)
        assert [p.start for p in passages] == sorted(p.start for p in passages)
        assert all(a.end <= b.start for a, b in itertools.pairwise(passages))
        assert " ".join(p.text for p in passages).split() == doc.text.split()  # nothing lost or repeated


def test_passage_ids_are_stable_and_numbered_from_one():
    first = split_passages(document(ARTICLE, "afp-2020"))
    again = split_passages(document(ARTICLE, "afp-2020"))
    assert [p.passage_id for p in first] == [p.passage_id for p in again]
    assert [p.passage_id for p in first] == [f"afp-2020:{n}" for n in range(1, len(first) + 1)]
    assert [p.number for p in first] == list(range(1, len(first) + 1))
    assert {p.doc_id for p in first} == {"afp-2020"}


def test_seed_passage_ids_are_unique(library):
    ids = [p.passage_id for p in library.passages]
    assert len(ids) == len(set(ids))


def test_long_paragraphs_are_split_between_sentences():
    passages = split_passages(document(LONG_PARAGRAPH))
    assert len(passages) >= 2
    for passage in passages:
        assert len(passage.text) <= MAX_PASSAGE_CHARS
        assert passage.text.startswith("Sentence number ")
        assert passage.text.endswith("talked again.")


def test_a_heading_joins_the_paragraph_after_it():
    passages = split_passages(document(ARTICLE))
    texts = [p.text for p in passages]
    assert "Risky intervention" not in texts
    (joined,) = [t for t in texts if t.startswith("Risky intervention")]
    assert joined.endswith("not in Moscow’s interest.")
    assert texts[0] == "First paragraph about the border. It has two sentences."
    assert texts[-1] == "“A quoted paragraph,” he said."


def test_seed_headings_join_their_paragraphs(library):
    texts = [p.text for p in library.passages]
    for heading in ("Risky intervention", "Russian peacekeepers", "Expert opinion", "What is known about the meeting"):
        assert heading not in texts
        assert any(t.startswith(heading + "\n") for t in texts), heading


def test_paragraphs_separated_by_single_line_breaks_are_still_paragraphs():
    text = "First paragraph here.\nSecond paragraph here.\nThird one."
    assert [p.text for p in split_passages(document(text))] == [
        "First paragraph here.",
        "Second paragraph here.",
        "Third one.",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Mr. Pachinian said on Saturday that fighting neared. Russia answered.",
         ["Mr. Pachinian said on Saturday that fighting neared.", "Russia answered."]),
        ("The U.S. is closely following developments. Russia is too.",
         ["The U.S. is closely following developments.", "Russia is too."]),
        ("The U.S. State Department urged restraint. Baku did not comment.",
         ["The U.S. State Department urged restraint.", "Baku did not comment."]),
        ("Thomas J. Smith wrote on Twitter. It looks worrying.",
         ["Thomas J. Smith wrote on Twitter.", "It looks worrying."]),
        ("Dr. Gen. Lt. Col. Ivanov arrived. He left!",
         ["Dr. Gen. Lt. Col. Ivanov arrived.", "He left!"]),
        ("Is it over? “No,” he said. Then 2,000 troops came…",
         ["Is it over?", "“No,” he said.", "Then 2,000 troops came…"]),
        ("“There have been no gunshots,” Lavrov said. “They sat down.” Talks went on.",
         ["“There have been no gunshots,” Lavrov said.", "“They sat down.”", "Talks went on."]),
        ("It costs 1.5 billion euros. Done.", ["It costs 1.5 billion euros.", "Done."]),
    ],
)
def test_sentence_splitting(text, expected):
    assert sentences(text) == expected


def test_sentence_spans_are_exact_spans_within_the_given_range():
    text = "Heading\nFirst sentence. Second one. Third."
    spans = sentence_spans(text, 8, len(text))
    assert [text[a:b] for a, b in spans] == ["First sentence.", "Second one.", "Third."]
    assert all(8 <= a < b <= len(text) for a, b in spans)


def test_a_heading_joined_to_its_paragraph_is_its_own_sentence():
    assert sentences("Risky intervention\nCarey Cavanaugh believes it. He said so.") == [
        "Risky intervention",
        "Carey Cavanaugh believes it.",
        "He said so.",
    ]


def test_a_passage_id_is_written_and_read_in_one_way():
    assert passage_id("azatutyun-2021:x", 3) == "azatutyun-2021:x:3"
    assert parse_passage_id(passage_id("azatutyun-2021:x", 3)) == ("azatutyun-2021:x", 3)
    for written_otherwise in ("doc:03", "doc:+3", "doc:-1", "doc:3.0", "doc:\u00b2", "doc:", "doc"):
        assert parse_passage_id(written_otherwise) is None, written_otherwise
