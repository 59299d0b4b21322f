"""Telegram HTML: every message is valid for Telegram's parser, escapes corpus and user text,
and never exceeds 4096 UTF-16 code units, split between excerpts, never inside markup."""

from __future__ import annotations

import dataclasses

import pytest

from bot.answers import HEDGED_NOTE, Answer, Excerpt, answer_question
from bot.corpus.articles import Document
from bot.corpus.passages import Passage
from bot.telegram import messages as th
from conftest import DEFAULTS
from fake_telegram import parse_text

HOSTILE_TITLE = 'Tom & Jerry <script>alert("x")</script> &amp; </blockquote>'
HOSTILE_URL = "https://example.org/a?b=1&c='2'&amp;d"


def valid(message_html: str) -> tuple[str, list[dict]]:
    """Telegram's verdict on a message: (text as shown, entities), or an AssertionError naming the fault."""
    assert th.utf16_length(message_html) <= th.MAX_MESSAGE, "the HTML source is over 4096 UTF-16 units"
    try:
        return parse_text(message_html, "HTML")  # strict: also rejects a bare '&' or unknown tags
    except Exception as error:  # report what Telegram would say
        raise AssertionError(f"Telegram would reject this message: {error}\n{message_html[:500]}") from None


def document(doc_id: str = "doc", text: str = "", **fields: object) -> Document:
    values = {"title": f"Title of {doc_id}", "publisher": "Test Wire", "published": "2021-05-14",
              "url": f"https://example.org/{doc_id}", "text": text}
    values.update(fields)
    return Document(doc_id=doc_id, **values)  # type: ignore[arg-type]


def excerpt_of(text: str, marks: tuple[tuple[int, int], ...] = (), *, doc: Document | None = None,
               number: int = 1) -> Excerpt:
    doc = doc or document(text=text)
    if doc.text != text:
        doc = Document(doc.doc_id, doc.title, doc.publisher, doc.published, doc.url, text, doc.note)
    passage = Passage(f"{doc.doc_id}:{number}", doc.doc_id, number, 0, len(text), text)
    values = {f.name: 0 for f in dataclasses.fields(Excerpt)}  # fields added to Excerpt later default to 0
    values.update(document=doc, passage=passage, start=0, end=len(text), score=1.0, match=1.0, marks=marks)
    return Excerpt(**values)


def bold_words(message_html: str) -> list[str]:
    text, entities = valid(message_html)
    encoded = text.encode("utf-16-le")
    return [
        encoded[2 * e["offset"] : 2 * (e["offset"] + e["length"])].decode("utf-16-le")
        for e in entities if e["type"] == "bold"
    ]


def test_a_hedged_answer_says_so_above_its_quotes(library):
    answer = answer_question(library, "Why did Russia deploy border guards in Syunik?", limit=DEFAULTS.top_k,
                             min_match=DEFAULTS.min_match)
    hedged = dataclasses.replace(answer, hedged=True)
    chunks = th.answer_messages(hedged)
    text, _entities = valid(chunks[0].html)
    assert text.startswith(HEDGED_NOTE)
    assert [number for chunk in chunks for number, _ in chunk.excerpts] == [1, 2, 3][: len(answer.excerpts)]
    assert all(excerpt.text in text for excerpt in answer.excerpts)
    more = th.answer_messages(hedged, first_number=4)  # "More quotes" pages carry no second note
    assert HEDGED_NOTE not in valid(more[0].html)[0]


def test_an_answer_quotes_marks_and_cites(library):
    answer = answer_question(library, "Why did Russia deploy border guards in Syunik?", limit=DEFAULTS.top_k,
                             min_match=DEFAULTS.min_match)
    assert answer.answered
    [chunk] = th.answer_messages(answer)
    text, entities = valid(chunk.html)
    for number, excerpt in enumerate(answer.excerpts, start=1):
        assert excerpt.text in text  # verbatim
        assert f"[{number}] {excerpt.document.title}. {excerpt.document.publisher}" in text
        assert f"passage {excerpt.passage.number}" in text
    quotes = [e for e in entities if e["type"] in ("blockquote", "expandable_blockquote")]
    assert len(quotes) == len(answer.excerpts)
    links = {e["url"] for e in entities if e["type"] == "text_link"}
    assert links == {e.document.url for e in answer.excerpts if e.document.url}
    assert {w.lower() for w in bold_words(chunk.html)} >= {"syunik", "guards"}
    assert [number for number, _ in chunk.excerpts] == list(range(1, len(answer.excerpts) + 1))


def test_corpus_text_and_metadata_are_escaped():
    quote = "He said <b>no</b> & left; 2 < 3 > 1 &amp; \"quoted\""
    doc = document(title=HOSTILE_TITLE, publisher="A&B <Wire>", url=HOSTILE_URL, text=quote)
    block = th.excerpt_block(excerpt_of(quote, ((3, 7),), doc=doc), 1)
    text, entities = valid(block)
    assert quote in text and HOSTILE_TITLE in text and "A&B <Wire>" in text
    assert bold_words(block) == ["said"]
    [link] = [e for e in entities if e["type"] == "text_link"]
    assert link["url"] == HOSTILE_URL


def test_a_citation_without_an_http_address_has_no_link():
    for url in (None, "javascript:alert(1)", "ftp://example.org/x", "https://exa mple.org",
                'https://example.org/"><b>x</b>'):
        block = th.excerpt_block(excerpt_of("Some quoted text.", doc=document(url=url, published=None)), 2)
        text, entities = valid(block)
        assert not [e for e in entities if e["type"] == "text_link"]
        assert "[2] Title of doc. Test Wire, date unknown, passage 1" in text


def test_long_quotes_are_expandable_short_ones_are_not():
    short = th.excerpt_block(excerpt_of("A short sentence."), 1)
    long = th.excerpt_block(excerpt_of("A long sentence, " * 40 + "end."), 1)
    assert "<blockquote>" in short and "expandable" not in short
    assert "<blockquote expandable>" in long
    assert [e["type"] for e in valid(long)[1] if "blockquote" in e["type"]] == ["expandable_blockquote"]


def test_marks_overlapping_or_out_of_range_still_give_valid_html():
    text = "Russia deployed border guards."
    block = th.excerpt_block(excerpt_of(text, ((0, 6), (3, 15), (16, 22), (25, 99), (-5, 0))), 1)
    assert bold_words(block) == ["Russia deployed", "border", "ards."]


def test_many_long_excerpts_split_between_excerpts_within_the_limit():
    emoji_sentence = "🇦🇲 Border talks & <ceasefire> went on; " * 25  # flags are 4 UTF-16 units each
    excerpts = tuple(
        excerpt_of(f"Excerpt {n}: {emoji_sentence}", ((0, 7),), doc=document(f"d{n}"), number=n) for n in range(10)
    )
    answer = Answer("question", ("border",), excerpts, more=True)
    chunks = th.answer_messages(answer, first_number=4)
    assert len(chunks) > 1
    shown = []
    for chunk in chunks:
        text, entities = valid(chunk.html)
        quotes = [e for e in entities if "blockquote" in e["type"]]
        assert len(quotes) == len(chunk.excerpts)  # whole excerpts only: each quote with its citation
        assert text.count("Border talks") == 25 * len(chunk.excerpts)
        shown += [number for number, _ in chunk.excerpts]
    assert shown == list(range(4, 14))


def test_an_excerpt_too_long_for_one_message_is_cut_between_words():
    giant = ("word&<i> " * 900) + "🙂" * 900  # no sentence break: one 'sentence' of ~10,000 characters
    block = th.excerpt_block(excerpt_of(giant, ((0, 4), (9000, 9400))), 1)
    text, _ = valid(block)
    assert th.ELLIPSIS in text and "[1] Title of doc" in text
    assert text.startswith("word&<i> word")


def test_a_long_passage_is_split_over_several_valid_messages():
    paragraph = "Sentence & <tag> number {}. " * 600
    text = paragraph.format(*range(600)) if "{}" in paragraph else paragraph
    doc = document(text=text)
    passage = Passage("doc:7", "doc", 7, 0, len(text), text)
    messages = th.passage_messages(doc, passage)
    assert len(messages) > 1
    shown = [valid(m)[0] for m in messages]
    assert "passage 7" in shown[-1] and all("passage 7" not in s for s in shown[:-1])
    joined = " ".join(s.removeprefix("Full passage:\n").split("\nTitle of doc")[0] for s in shown)
    assert " ".join(joined.split()) == " ".join(text.split())


def test_refusals_are_short_and_friendly():
    refused = th.answer_messages(Answer("Who painted the Mona Lisa?", ("paint", "mona", "lisa"), ()))
    assert len(refused) == 1 and len(valid(refused[0].html)[0]) < 120 and "nothing" in refused[0].html
    no_words = th.answer_messages(Answer("???", (), ()), examples=["Who is <Kopyrkin> & co?"])
    text, _ = valid(no_words[0].html)
    assert "Who is <Kopyrkin> & co?" in text


def test_start_help_and_sources(library):
    view = th.overview(library.documents.values(), len(library.passages))
    start, _ = valid(th.start_text(view, ["Why <did> Russia act?", "b", "c"], "corpus_test_bot"))
    assert f"{len(library.documents)} articles" in start
    assert "2020-10-31" in start and "2021-07-07" in start  # which dates
    assert all(d.title in start for d in library.documents.values())  # about what
    assert "Why <did> Russia act?" in start
    help_, _ = valid(th.help_text("corpus_test_bot", ["An example?"]))
    assert "/ask" in help_ and "@corpus_test_bot" in help_ and "groups" in help_
    [sources] = th.sources_messages(view)
    text, entities = valid(sources)
    for doc in library.documents.values():
        assert doc.title in text and doc.publisher in text and (doc.published or "date unknown") in text
    assert {e["url"] for e in entities if e["type"] == "text_link"} == {
        d.url for d in library.documents.values() if d.url
    }


def test_a_large_corpus_lists_the_newest_articles_over_several_messages_and_counts_the_rest():
    docs = [document(f"d{n}", "text", title=f"{HOSTILE_TITLE} number {n}", url=HOSTILE_URL) for n in range(300)]
    view = th.overview(docs, 300)
    messages = th.sources_messages(view)
    assert len(messages) > 1
    listed = "".join(valid(m)[0] for m in messages)
    assert all(f"number {n}\n" in listed for n in range(th.SOURCES_LISTED))
    assert f"number {th.SOURCES_LISTED}\n" not in listed
    assert f"and {300 - th.SOURCES_LISTED} older ones" in listed
    start, _ = valid(th.start_text(view, [], None))
    assert "and 295 more" in start


def test_inline_items_are_plain_titles_and_valid_html(library):
    question = 'What did <b>Putin</b> & "Pashinian" discuss? 🙂'
    answer = answer_question(library, question, limit=5, min_match=DEFAULTS.min_match)
    items = th.inline_items(answer)
    assert items
    for item, excerpt in zip(items, answer.excerpts, strict=True):
        text, _ = valid(item.html)
        assert text.startswith(question) and excerpt.text in text
        assert len(item.title) <= th.INLINE_TITLE_CHARS and "<" not in item.title.replace("<b>", "")
        assert item.description.startswith(excerpt.document.title)


def test_plain_text_fallback_keeps_the_words_and_addresses():
    block = th.excerpt_block(excerpt_of("He said <no> & left.", ((3, 7),), doc=document(url=HOSTILE_URL)), 1)
    plain = th.plain_text(block)
    assert "<" not in plain.replace("<no>", "")
    assert "He said <no> & left." in plain and f"({HOSTILE_URL})" in plain
    assert parse_text(plain, None)[0]


@pytest.mark.parametrize("text", ["a", "é" * 5000, "🙂" * 3000, "x" * 4096, "\u200b\u202e abc \u202c"])
def test_utf16_length_counts_like_telegram(text):
    assert th.utf16_length(text) == len(text.encode("utf-16-le")) // 2
    assert th.utf16_length("🙂") == 2


def test_reload_messages():
    done, _ = valid(th.reload_done(6, 90, (5, 85), ["corpus/x.md: is empty <really> & truly"]))
    assert "6 articles" in done and "<really>" in done
    failed, _ = valid(th.reload_failed("corpus: the folder <gone> does not exist" * 200, 5))
    assert "Reload failed" in failed and "previous corpus" in failed


# --- Telegram's entity limit ---------------------------------------------------------------------------

MAX_ENTITIES = 100  # Telegram ignores formatting past the 100th entity of a message


def stress_answer(excerpts: int, words_marked: int) -> Answer:
    """An answer of `excerpts` quotes with `words_marked` question words in bold each."""
    text = " ".join(["Syunik guards"] * words_marked) + "."
    marks = tuple((14 * n, 14 * n + 6) for n in range(words_marked))
    quotes = tuple(
        excerpt_of(text, marks, doc=document(f"doc{n}", text=text), number=n + 1) for n in range(excerpts)
    )
    return Answer(question="Syunik?", terms=("syunik",), excerpts=quotes)


@pytest.mark.parametrize("excerpts, words_marked", [(10, 30), (3, 200), (1, 150), (10, 3)])
def test_every_message_keeps_to_100_entities_and_every_citation_keeps_its_link(excerpts, words_marked):
    """Telegram ignores formatting past the 100th entity of a message: the bold marks of question
    words give way first, so that every citation keeps its link (and every quote its block)."""
    chunks = th.answer_messages(stress_answer(excerpts, words_marked))
    counts = []
    for chunk in chunks:
        _text, entities = valid(chunk.html)
        counts.append(len(entities))
        kinds = [e["type"] for e in entities]
        assert len(entities) <= MAX_ENTITIES
        assert kinds.count("text_link") == len(chunk.excerpts)
        assert kinds.count("blockquote") + kinds.count("expandable_blockquote") == len(chunk.excerpts)
        assert kinds.count("bold") >= 1  # marks are thinned, not dropped altogether
    assert sum(len(c.excerpts) for c in chunks) == excerpts
    print(f"{excerpts} excerpts x {words_marked} marked words: entities per message {counts}")


def test_an_answer_with_few_marks_keeps_them_all():
    [chunk] = th.answer_messages(stress_answer(3, 5))
    assert len(bold_words(chunk.html)) == 15


def test_sources_keep_to_100_entities_per_message():
    docs = [document(f"doc{n}", published=f"2021-05-{1 + n % 28:02d}") for n in range(120)]
    view = th.overview(docs, 120)
    for message in th.sources_messages(view):
        _, entities = valid(message)
        assert len(entities) <= MAX_ENTITIES


def test_a_very_long_article_url_does_not_break_an_answer_or_the_sources():
    """An article whose url: is ~4,000 characters: its quotes and /sources still fit Telegram's
    limits; the title is shown without a link that long."""
    url = "https://example.org/" + "a" * 4000
    doc = document("long", text="Syunik guards were deployed.", url=url)
    answer = Answer(question="Syunik?", terms=("syunik",),
                    excerpts=(excerpt_of(doc.text, ((0, 6),), doc=doc),))
    [chunk] = th.answer_messages(answer)
    text, _entities = valid(chunk.html)
    assert "Syunik guards were deployed." in text and "Title of long" in text
    for message in th.sources_messages(th.overview([doc, document("short")], 2)):
        valid(message)
