"""Answers: verbatim excerpts with citations, question words marked, refusals when the corpus
has nothing, paging, and no duplicates."""

from __future__ import annotations

import itertools
import time

import pytest

from bot import answers
from bot.answers import HEDGE_MATCH, HEDGED_NOTE, MAX_EXCERPT_CHARS, Answer, answer_question
from bot.corpus.articles import Document
from bot.retrieval import analysis, spelling
from bot.retrieval.library import Library
from conftest import CORPUS, DEFAULTS, make_library, questions

SYUNIK_SENTENCE = (
    "Russia deployed soldiers and border guards in Syunik during and after the Karabakh war to help the "
    "Armenian military defend the region against possible Azerbaijani attacks."
)

HOSTILE = [
    "",
    " ",
    "\n\t\r\n",
    "\x00\x01\x02",
    "?",
    "???!!!...",
    "🙂🙂🙂 🇦🇲",
    "the of and what is who",
    "What is it?",
    "\u0301\u0301 combining marks alone \u200b\u200b",
    "\u202eRight-to-left override Pashinian\u202c",
    "\ud800 lone surrogate Pashinian",
    ".*[(\\ regex ) characters | ^$ Syunik",
    "<b>Pashinian</b> <script>alert(1)</script>",
    "Robert'); DROP TABLE articles;-- border",
    "Пашинян Путин граница",
    "Փաշինյան Պուտին",
    "PASHINIAN PASHINIAN PASHINIAN border border",
    "Pashinian " * 400,
    "Syunik" + "!" * 3000,
    "Mr. U.S. J. R. e.g. i.e.",
    "2,000 1,250 1997 44-day 30,000",
    "Gyumri’s “base” — Gumri, ‘Choucha’…",
    "ｂｏｒｄｅｒ ｇｕａｒｄｓ",
    "a" * 5000,
]


def ask(library: Library, question: str, **options) -> Answer:
    options.setdefault("limit", DEFAULTS.top_k)
    options.setdefault("min_match", DEFAULTS.min_match)
    return answer_question(library, question, **options)


def raw_file_text(document) -> str:
    """The article file as written on disk (for the seed corpus), else the text given to the library."""
    paths = [p for p in CORPUS.iterdir() if p.stem == document.doc_id]
    return paths[0].read_text(encoding="utf-8") if paths else document.text


def assert_verbatim(library: Library, answer: Answer) -> None:
    for excerpt in answer.excerpts:
        document = excerpt.document
        assert document == library.documents[excerpt.passage.doc_id]
        assert excerpt.text == document.text[excerpt.start : excerpt.end]
        assert excerpt.text in raw_file_text(document)  # exactly as the article file has it
        assert excerpt.text == excerpt.text.strip() != ""
        passage = excerpt.passage
        # Within its passage, or reaching one sentence into the paragraph before or after it.
        assert excerpt.start < passage.end and excerpt.end > passage.start
        before = library.passage(f"{passage.doc_id}:{passage.number - 1}")
        after = library.passage(f"{passage.doc_id}:{passage.number + 1}")
        assert excerpt.start >= passage.start or (before is not None and excerpt.start >= before.start)
        assert excerpt.end <= passage.end or (after is not None and excerpt.end <= after.end)
        assert len(excerpt.text) <= MAX_EXCERPT_CHARS or excerpt.text == passage.text


def assert_marks_point_at_question_terms(answer: Answer) -> None:
    for excerpt in answer.excerpts:
        text = excerpt.text
        assert excerpt.marks, "an answering excerpt holds at least one question word"
        assert list(excerpt.marks) == sorted(excerpt.marks)
        for (_, end), (next_start, _) in itertools.pairwise(excerpt.marks):
            assert end <= next_start
        for start, end in excerpt.marks:
            assert 0 <= start < end <= len(text)
            word_terms = analysis.terms(text[start:end])  # a word, or a hyphenated compound
            assert word_terms and set(word_terms) & set(answer.terms), text[start:end]


# --- verbatim excerpts and marks, over every question and some hostile strings ----------------


@pytest.mark.parametrize("question", questions() + HOSTILE)
def test_every_excerpt_is_an_exact_substring_with_marks_on_question_words(library, question):
    answer = ask(library, question)
    assert answer.question == question
    assert answer.answered == (bool(answer.excerpts) and not answer.hedged)
    assert answer.outcome == ("refused" if not answer.excerpts else "hedged" if answer.hedged else "answered")
    assert len(answer.excerpts) <= DEFAULTS.top_k
    assert_verbatim(library, answer)
    assert_marks_point_at_question_terms(answer)
    for excerpt in answer.excerpts:
        assert 0 < excerpt.match <= 1 + 1e-9
        assert excerpt.match >= HEDGE_MATCH
        assert excerpt.score > 0
    if answer.answered:  # a confident answer leads with an excerpt that clears the bar
        assert answer.excerpts[0].match >= DEFAULTS.min_match


@pytest.mark.parametrize("question", questions())
def test_an_answer_never_quotes_the_same_text_twice(library, question):
    texts = [e.text for e in ask(library, question, limit=10).excerpts]
    assert len(texts) == len(set(texts))


def _long_word() -> str:
    import random
    import string

    rng = random.Random(7)
    word = "".join(rng.choice(string.ascii_lowercase) for _ in range(3000))
    assert len(analysis.terms(word)[0]) > 1000  # still one long term after analysis
    return word


@pytest.mark.parametrize(
    "message",
    [_long_word(), "Lavorv " * 580, "%" * 4000, "Central Electoral Commission " * 140,
     " ".join(sorted({word.strip("?,.'’") for q in questions() for word in q.lower().split()}))],
    ids=["one long word", "580 capitalised names (initials of every run)", "4,000 percent signs",
         "a name repeated 140 times", "every word of the question set in lower case"],
)
def test_a_message_as_long_as_telegram_allows_is_answered_quickly(library, message):
    """A Telegram message can hold 4,096 characters; no shape of it may stall the bot."""
    started = time.perf_counter()
    ask(library, message[:4096])
    assert time.perf_counter() - started < 0.25


def test_a_long_random_word_is_not_answered(library):
    assert not ask(library, _long_word()).answered


# --- the reference question ------------------------------------------------------------------


def test_why_did_russia_deploy_border_guards_in_syunik(library):
    answer = ask(library, "Why did Russia deploy border guards in Syunik?")
    assert answer.answered
    first = answer.excerpts[0]
    assert SYUNIK_SENTENCE in first.text
    document = first.document
    assert document.title == "Putin, Pashinian Discuss Armenian-Azeri Border Crisis"
    assert document.publisher.startswith("Azatutyun")
    assert document.published == "2021-05-14"
    assert document.url == "https://www.azatutyun.am/a/31255136.html"
    marked = {first.text[s:e] for s, e in first.marks}
    assert {"Russia", "deployed", "border", "guards", "Syunik"} <= marked


@pytest.mark.parametrize(
    "question",
    [
        "why did russia deploy border guards in syunik",
        "Why did Russia deploy border guards in Syunik???",
        "WHY DID RUSSIA DEPLOY BORDER GUARDS IN SYUNIK?",
        "Why did Russia  deploy\tborder guards in Syunik?",
    ],
)
def test_case_spacing_and_punctuation_do_not_change_the_answer(library, question):
    assert SYUNIK_SENTENCE in ask(library, question).excerpts[0].text


def test_transliterated_name_finds_the_other_spelling(library):
    """The AFP story spells him Pachinian and Pashinian; others Pashinyan. Any spelling finds all."""
    for name in ("Pashinian", "Pashinyan", "Pachinian"):
        excerpts = ask(library, f"What did {name} ask Putin for?", limit=10).excerpts
        doc_ids = {e.document.doc_id for e in excerpts}
        assert len(doc_ids) >= 2, (spelling, doc_ids)


# --- refusals and questions without words ------------------------------------------------------


@pytest.mark.parametrize("question", ["Who painted the Mona Lisa?", "What is the exchange rate of the euro?"])
def test_questions_the_corpus_cannot_answer_are_refused(library, question):
    answer = ask(library, question)
    assert not answer.answered
    assert answer.excerpts == ()
    assert answer.terms  # it had words; the corpus just has nothing on them
    assert not answer.more


@pytest.mark.parametrize("question", ["", "   ", "the of and is what who", "🙂🙂🙂", "?!?!", "…", "— – -"])
def test_question_without_words_is_handled(library, question):
    answer = ask(library, question)
    assert answer.terms == ()
    assert not answer.answered and answer.excerpts == () and not answer.more


# --- limit, offset and more -------------------------------------------------------------------


@pytest.mark.parametrize("limit", [1, 2, 3, 5, 10])
def test_limit_is_respected(library, limit):
    for question in ("Pashinian", "border guards", "Why did Russia deploy border guards in Syunik?"):
        assert len(ask(library, question, limit=limit).excerpts) <= limit


def test_broad_question_fills_the_limit_and_says_there_is_more(library):
    answer = ask(library, "Pashinian", limit=2)
    assert len(answer.excerpts) == 2
    assert answer.more


@pytest.mark.parametrize("question", ["Pashinian", "border", "Why did Russia deploy border guards in Syunik?"])
def test_paging_with_offset_continues_where_the_last_page_stopped(library, question):
    everything = [(e.passage.passage_id, e.start) for e in ask(library, question, limit=9).excerpts]
    paged, offset = [], 0
    while True:
        page = ask(library, question, limit=2, offset=offset)
        assert len(page.excerpts) <= 2
        paged += [(e.passage.passage_id, e.start) for e in page.excerpts]
        if not page.more:
            break
        assert len(page.excerpts) == 2  # "more" is only said when a full page was shown
        offset += 2
        assert offset < 50
    assert paged[: len(everything)] == everything
    assert len(paged) == len(set(paged))  # no excerpt shown twice across pages
    assert ask(library, question, limit=2, offset=offset + 2).excerpts == ()


def test_offset_past_the_end_is_empty_not_an_error(library):
    answer = ask(library, "Syunik", offset=500)
    assert answer.excerpts == () and not answer.more


# --- near-duplicates and small corpora ---------------------------------------------------------


def test_near_duplicate_excerpts_are_shown_once():
    library = make_library({
        "wire-a": "Russia deployed soldiers and border guards in Syunik to help defend the region.\n\n"
                  "The weather was warm in Yerevan.",
        "wire-b": "Russia deployed soldiers and border guards in Syunik to help defend the region, officials said."
                  "\n\nMarkets were calm.",
        "other": "Armenian border guards patrol near Syunik every night since the clashes began.\n\n"
                 "The talks in Geneva failed.",
    })
    answer = ask(library, "Why did Russia deploy border guards in Syunik?", limit=5)
    texts = [e.text for e in answer.excerpts]
    assert sum("Russia deployed soldiers and border guards in Syunik" in t for t in texts) == 1
    assert any(t.startswith("Armenian border guards patrol") for t in texts)
    assert_verbatim(library, answer)


def test_seed_photo_caption_is_not_quoted_twice(library):
    texts = [e.text for e in ask(library, "Pashinian Putin Kremlin meet April 7", limit=10).excerpts]
    caption = "meet at the Kremlin in Moscow, April 7, 2021"
    assert sum(caption in t for t in texts) <= 1


def test_one_article_corpus_answers_and_refuses():
    library = make_library({"only": "Russia deployed border guards in Syunik.\n\nThe talks in Geneva failed."})
    answer = ask(library, "Where did Russia deploy border guards?")
    assert [e.text for e in answer.excerpts] == ["Russia deployed border guards in Syunik."]
    assert answer.excerpts[0].document.url == "https://example.org/only"
    assert not ask(library, "Who painted the Mona Lisa?").answered


def test_excerpt_is_at_most_two_sentences_of_its_passage():
    long = " ".join(f"Sentence {i} mentions nothing special." for i in range(8))
    library = make_library({"doc": long + " Russia deployed border guards in Syunik. " + long})
    (excerpt,) = ask(library, "Russia border guards Syunik").excerpts
    assert excerpt.text.startswith("Russia deployed border guards in Syunik.") or excerpt.text.endswith(
        "Russia deployed border guards in Syunik."
    )
    assert len(excerpt.text) < len(excerpt.passage.text)


# --- quotes that contain the answer -------------------------------------------------------------


def test_the_quote_follows_the_subject_sentence_into_the_quotation_after_it():
    library = make_library({
        "kremlin": "Peskov was asked on Monday whether Putin had received Pashinyan's letter. "
                   "\u201cI can't tell you for sure, but all these issues were discussed,\u201d he said.\n\n"
                   "The weather in Moscow was mild.",
        "other": "Pashinyan wrote a letter to Putin asking for help with the border crisis.",
    })
    answer = ask(library, "What did Peskov say when asked whether Putin had received Pashinyan's letter?")
    assert "I can't tell you for sure" in answer.excerpts[0].text
    assert answer.excerpts[0].text.startswith("Peskov was asked")  # the subject stays, for context


def test_a_sentence_ending_in_a_colon_is_quoted_with_what_it_announces():
    library = make_library({
        "envoy": "The ambassador also spoke about the border guards. According to him, there are talks on "
                 "this issue:\n\n\u201cThe guards are already in Syunik and will stay there.\u201d\n\n"
                 "Markets were calm.",
    })
    first = ask(library, "What did the ambassador say about the border guards talks?").excerpts[0]
    assert first.text.endswith("\u201cThe guards are already in Syunik and will stay there.\u201d")
    assert "issue:" in first.text


def test_a_sentence_starting_with_a_pronoun_brings_the_one_naming_its_subject():
    library = make_library({
        "mod": "In a statement on Tuesday, the Defence Ministry said the attacks were a response to provocations."
               "\n\nThey accused Armenian units of planting mines in the Kalbajar district.\n\nNothing else.",
    })
    first = ask(library, "What did the Defence Ministry accuse Armenian units of in its statement?").excerpts[0]
    assert "planting mines" in first.text
    assert "Defence Ministry said" in first.text


def test_quotes_stay_short_even_when_they_cross_a_paragraph():
    long_sentence = "The minister spoke about the border " + "and the region " * 30 + "at length."
    library = make_library({"doc": long_sentence + "\n\n\u201c" + "Quoted words " * 40 + "end.\u201d"})
    for excerpt in ask(library, "What did the minister say about the border?", limit=5).excerpts:
        assert len(excerpt.text) <= MAX_EXCERPT_CHARS or excerpt.text == excerpt.passage.text


# --- what is asked weighs more than the context it restates --------------------------------------


def test_how_many_wants_a_new_number_attached_to_the_asked_thing():
    library = make_library({
        "context": "In September 2020 soldiers were killed in heavy border fighting, the ministry said.",
        "answer": "Officials later said that 42 soldiers were killed in the fighting on the border.",
        "date": "On 13 September soldiers were killed as the fighting spread along the border.",
    })  # the test articles are dated 2021-05-14, after the month asked about
    answer = ask(library, "How many soldiers were killed in the September 2020 border fighting?")
    assert "42 soldiers" in answer.excerpts[0].text


def test_what_share_of_wants_a_number_attached_to_the_counted_thing():
    library = make_library({
        "result": "The Civil Contract party won 53.9% of the votes, the election commission said.",
        "turnout": "Turnout in the elections reached 49.4 percent, and the party thanked voters.",
        "other": "Markets were calm.",
    })
    answer = ask(library, "What percentage of the votes did the Civil Contract party win?")
    assert answer.answered and "53.9% of the votes" in answer.excerpts[0].text


def test_when_wants_a_time_the_question_did_not_give():
    library = make_library({
        "restates": "Putin and Pashinyan met in Moscow to discuss the border and the Russian guards there.",
        "answers": "Putin and Pashinyan met in Moscow on July 7 after the elections.",
    })
    assert "July 7" in ask(library, "When did Putin and Pashinyan meet in Moscow?").excerpts[0].text


def test_the_asked_thing_outweighs_the_restated_context():
    library = make_library({
        "context": "Armenia held snap parliamentary elections on June 20, and the elections were calm in Armenia.",
        "answer": "Turnout in the snap elections in Armenia reached 49.4 percent, officials said.",
    })
    first = ask(library, "What was the turnout in Armenia's June snap elections?").excerpts[0]
    assert "49.4 percent" in first.text


def test_a_scene_setting_clause_counts_less_than_the_question_itself():
    library = make_library({
        "scene": "The 2020 truce put Russian peacekeepers on the Lachin corridor after the war.",
        "answer": "Azerbaijani protesters on the Lachin corridor demand a meeting with the commander of the "
                  "peacekeepers.",
    })
    answer = ask(library, "The 2020 truce put Russian peacekeepers on the Lachin corridor; "
                          "what did the protesters on the corridor demand?")
    assert "demand a meeting" in answer.excerpts[0].text


def test_a_quote_answers_what_someone_said_when_it_is_that_speakers():
    library = make_library({
        "report": "Azerbaijanis calling themselves environmentalists blocked the Lachin corridor to Artsakh on "
                  "December 3. The environmentalists said they wanted to inspect mines. The road was reopened "
                  "later. Artsakh authorities said the environmentalists were in fact secret service operatives.",
        "other": "Markets were calm.",
    })
    answer = ask(library, "What did Artsakh authorities say the environmentalists who blocked the corridor "
                          "on December 3 really were?")
    assert "secret service operatives" in answer.excerpts[0].text


@pytest.mark.parametrize(
    ("report", "question", "answer", "rule"),
    [
        # the question's meaningful stop words ("only", "after") bring the sentence repeating them
        ("Armenia wants the withdrawal of Azerbaijani forces before any talks, Grigorian told reporters. "
         "“Only after that would conditions be created for such discussions.”",
         "What did Grigorian say would only be possible after the Azerbaijani withdrawal?",
         "Only after that", "FUNCTION_WORD_WEIGHT"),
        # a sentence that only restates the question is quoted with the one after it
        ("Protests broke out in Yerevan overnight. Angry crowds also entered Armenian Parliament to "
         "protest. Speaker Ararat Mirzoyan was hospitalized with injuries.",
         "What befell the head of the Armenian legislature when angry crowds entered parliament?",
         "Mirzoyan was hospitalized", "RESTATED_COST"),
    ],
    ids=["meaningful stop words", "restated question"],
)
def test_a_window_rule_brings_the_answering_sentence_into_the_quote(monkeypatch, report, question, answer, rule):
    library = make_library({"report": report, "other": "Markets were calm."})
    assert answer in ask(library, question).excerpts[0].text
    monkeypatch.setattr(answers, rule, 0.0)  # the same question, the rule switched off
    assert answer not in ask(library, question).excerpts[0].text


def test_a_hyphenated_compound_the_corpus_never_writes_as_one_word_is_found_by_its_parts():
    library = make_library({
        "answer": "Prime Minister Garibashvili of Georgia acted as a go between in the swap of prisoners for maps.",
        "other": "Markets were calm in Tbilisi.",
    })
    answer = ask(library, "Who acted as go-between in the swap?")
    assert answer.answered and "Garibashvili" in answer.excerpts[0].text
    assert "gobetwen" not in answer.terms  # the joined form, which no passage holds, weighs nothing


def test_an_asked_thing_no_passage_names_is_not_answered_with_confidence():
    library = make_library({
        "macron": "French President Emmanuel Macron said Azerbaijan must withdraw its troops.",
        "other": "Markets were calm in Yerevan.",
    })
    assert not ask(library, "Who is the president of France's wife?").answered  # "wife": nowhere in the corpus
    assert ask(library, "Who is the president of France?").answered


def test_how_long_asks_for_a_duration_not_for_the_word_long():
    library = make_library({
        "word": "The peacekeepers in Karabakh ended a decades-long war.",
        "answer": "The peacekeepers will stay in Karabakh for 20 years.",
        "other": "Markets in Yerevan stay calm.",
    })
    answer = ask(library, "How long will the peacekeepers stay in Karabakh?")
    assert "for 20 years" in answer.excerpts[0].text


# --- vocabulary ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "text"),
    [
        ("Who broke the cease-fire?", "Both sides accused each other of breaking the ceasefire near the lake."),
        ("Who broke the ceasefire?", "Both sides accused each other of breaking the cease-fire near the lake."),
        ("Were fifteen prisoners released?", "Azerbaijan released 15 prisoners on Saturday in exchange for maps."),
        ("Who chairs the commission?", "The commission's chairman, Tigran Mukuchyan, signed the protocol."),
        # British and American spellings (the stemmer keeps them apart)
        ("What did the ministry characterise as a provocation?",
         "The ministry said it would characterize the shooting at the border as a provocation."),
        ("Who was in charge of the defence of the city?", "The defense of the city was in the hands of the army."),
        # a demonym and its country (every country: tests/test_analysis.py)
        ("What did France say about the vote?", "The French foreign ministry said the vote was flawed."),
    ],
)
def test_written_variants_of_one_word_meet(question, text):
    library = make_library({"answer": text, "other": "Markets in Yerevan were calm on Monday.",
                            "near": "The ministry of the city called it a provocation, the ministry said in charge."})
    assert ask(library, question).excerpts[0].document.doc_id == "answer"


def test_a_named_organisation_finds_its_initials():
    library = make_library({
        "answer": "CEC Chairman Tigran Mukuchyan announced the results on Monday.",
        "other": "The Central Electoral Commission of Armenia published the preliminary results on Monday.",
    })
    answer = ask(library, "Who chairs Armenia's Central Electoral Commission?")
    assert "cec" in answer.terms  # learned from the corpus: these initials stand in it
    assert any(e.document.doc_id == "answer" for e in answer.excerpts)  # "chair" alone is one word: too few


def test_an_english_word_the_corpus_lacks_is_not_corrected_to_a_neighbour():
    library = make_library({"doc": "Officials did not clarify the status of the border talks on Monday."})
    query = library.query("How did officials classify the border talks?")
    assert "classify" not in query.corrections and "clasifi" not in query.corrections
    typo = make_library({"doc": "Lavrov met Bayramov in Baku on Tuesday."}).query("Where did Lavorv meet Bayramov?")
    assert typo.corrections  # a typo of a name the corpus has is still corrected


@pytest.mark.parametrize(("typed", "name"), [("Putn", "putin"), ("Alev", "aliev"), ("Lavrv", "lavrov")])
def test_a_typo_in_a_short_name_is_corrected(typed, name):
    library = make_library({"doc": "Putin, Aliyev and Lavrov met in Moscow on Tuesday."})
    assert name in library.query(f"Where did {typed} meet the others?").terms


# --- confident, hedged, refused --------------------------------------------------------------------


def _iran_question() -> Answer:
    """A question about a name (Iran) that no article holds, on articles close to the rest of it."""
    library = make_library({
        "lake": "Azerbaijani troops advanced to Lake Sev in Syunik and set up positions around the lake.",
        "other": "The foreign ministry in Baku said the situation at the lake was calm.",
    })
    return ask(library, "What did Iran's foreign ministry say about the Azerbaijani advance at Lake Sev?")


def test_a_name_the_article_lacks_makes_the_answer_hedged_not_confident():
    answer = _iran_question()
    assert not answer.answered
    assert answer.hedged and answer.excerpts  # the closest passages, labelled as such
    assert answer.outcome == "hedged"


def test_an_article_older_than_the_asked_date_is_not_a_confident_answer():
    library = make_library({"old": "Three soldiers were killed on the border in heavy fighting with the troops."})
    answer = ask(library, "How many soldiers were killed on the border in September 2022?")  # published 2021
    assert not answer.answered


def test_a_confident_answer_is_not_hedged():
    library = make_library({"doc": "Russia deployed border guards in Syunik to help defend the region."})
    answer = ask(library, "Why did Russia deploy border guards in Syunik?")
    assert answer.answered and not answer.hedged and answer.outcome == "answered"


# --- publishers and dates narrow the search -------------------------------------------------------


def _library_of(*articles: tuple[str, str, str, str]) -> Library:
    """(doc id, publisher, date, text) each."""
    return Library.from_documents([
        Document(doc_id, f"Title of {doc_id}", publisher, published, f"https://example.org/{doc_id}", text)
        for doc_id, publisher, published, text in articles
    ])


def test_naming_a_publisher_narrows_to_its_articles_instead_of_refusing():
    library = _library_of(
        ("wire", "Reuters (via National Post)", "2021-05-14",
         "Armenia asked Russia for military help after Azerbaijani troops crossed the border."),
        ("paper", "Bloomberg", "2021-05-14",
         "Armenia asked Russia for military assistance under a 1997 pact, Pashinyan said."),
        ("other", "Civilnet", "2021-05-13", "Markets were calm in Yerevan."),
    )
    answer = ask(library, "What did Bloomberg report about Armenia asking Russia for military help?")
    assert answer.answered  # "Bloomberg" is not a word the quote must hold
    assert answer.excerpts[0].document.doc_id == "paper"
    reuters = ask(library, "According to Reuters, what did Armenia ask Russia for?")
    assert reuters.excerpts[0].document.doc_id == "wire"


def test_a_publisher_named_after_a_common_word_of_the_corpus_does_not_narrow():
    library = _library_of(
        ("radio", "Armenian Radio", "2021-05-14", "Armenia and Armenian officials discussed the border in Armenia."),
        ("wire", "Reuters", "2021-05-14", "Armenian officials said the border talks with Azerbaijan would resume."),
        ("more", "Civilnet", "2021-05-13", "Armenian troops and Armenian villagers watched the Armenian border."),
    )
    assert "armenia" not in library.publishers  # in every article's text: it names no one publisher


def test_the_latest_prefers_newer_articles_among_equals():
    text = "Russian border guards were deployed in Tavush villages, the ministry said."
    library = _library_of(("old", "Wire A", "2020-11-13", text), ("new", "Wire B", "2021-08-05", text + " "))
    assert ask(library, "What is the latest on Russian border guards in Tavush?").excerpts[0].document.doc_id == "new"


def test_a_hedged_answer_is_labelled_in_the_terminal_and_in_json():
    from bot import console

    answer = _iran_question()
    assert answer.hedged
    shown = console.render_answer(answer)
    assert shown.startswith(HEDGED_NOTE) and answer.excerpts[0].text in shown
    data = console.answer_json(answer)
    assert data["answered"] is False and data["hedged"] is True and data["excerpts"]


def test_the_corpus_tells_how_a_lower_case_word_is_written():
    library = make_library({
        "a": "Troops arrived on Monday. Moscow said Putin told the CSTO that Armenia’s border was calm.\n\n"
             "Later, Putin spoke to the CSTO again, and the troops stayed.",
    })
    assert library.spelling_of("putin", "putin") == "Putin"
    assert library.spelling_of("csto", "csto") == "CSTO"
    assert library.spelling_of(analysis.term_of("armenias"), "armenias") == "Armenia’s"  # typed without "’"
    assert library.spelling_of(analysis.term_of("troops"), "troops") == "troops"  # "Troops" opened a sentence
    assert library.spelling_of("putin") == "Putin"  # any word of the term
    assert library.spelling_of("kremlin", "kremlin") is None


def test_a_question_typed_in_lower_case_is_read_with_the_corpus_capitals():
    """Chat users type "who chairs the central electoral commission": the capitals come back from
    the corpus, and with them the initials the article uses after naming it once (CEC)."""
    library = make_library({
        "cec": "On Monday the Central Electoral Commission (CEC) met in Yerevan to count the votes.\n\n"
               "Tigran Mukuchyan, who chairs the CEC, announced the results on Tuesday.",
    })
    typed = ask(library, "who chairs the central electoral commission")
    cased = ask(library, "Who chairs the Central Electoral Commission?")
    assert any("Mukuchyan" in e.text for e in typed.excerpts)
    assert [e.text for e in typed.excerpts] == [e.text for e in cased.excerpts]
    assert typed.question == "who chairs the central electoral commission"  # shown as typed


def test_a_typo_of_an_english_word_is_read_as_the_word_meant():
    """"villges": the corpus holds "villages", and the typo is not a name to fold; "waht": a
    misspelt question word still asks what was said (the quote, not the visit, comes first)."""
    library = make_library({
        "visit": "The ministry's spokesman visited the border villages on Monday with a delegation of officials.",
        "quote": "“The situation on the border is calm,” the ministry said on Monday.",
        "lake": "Residents of the villages near Lake Sev were evacuated by the troops.",
    })
    assert ask(library, "which villges did the troops evacuate").answered
    typed = ask(library, "waht did the ministry say about the border villages on monday")
    cased = ask(library, "What did the ministry say about the border villages on Monday?")
    assert typed.excerpts[0].text.startswith("“The situation on the border is calm,”")
    assert [e.text for e in typed.excerpts] == [e.text for e in cased.excerpts]


@pytest.mark.parametrize("typed, meant", [("villge", "village"), ("trops", "troops"), ("abuot", "about")])
def test_respelling_finds_the_english_word_a_typo_stands_for(typed, meant):
    vocabulary = {analysis.term_of(word): 1 for word in ("village", "troops", "border")}
    assert spelling.respell(typed, vocabulary, analysis.term_of) == meant


@pytest.mark.parametrize("typed", ["classify", "Pashinyn", "qzxwv", "abc"])
def test_respelling_leaves_english_words_names_and_noise_alone(typed):
    vocabulary = {analysis.term_of(word): 1 for word in ("clarify", "village")}
    assert spelling.respell(typed, vocabulary, analysis.term_of) is None


@pytest.mark.parametrize("question", [
    "pls why did russia deploy border guards in syunik",
    "can u tell me why did russia deploy border guards in syunik",
    "hi, why did russia deploy border guards in syunik? thx",
    "why didnt russia deploy border guards in syunik",
])
def test_chat_fillers_and_contractions_without_apostrophe_do_not_change_the_answer(library, question):
    plain = ask(library, "Why did Russia deploy border guards in Syunik?")
    typed = ask(library, question)
    assert typed.outcome == plain.outcome == "answered"
    assert typed.excerpts[0].text == plain.excerpts[0].text
