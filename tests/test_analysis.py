"""The analyzer: questions and passages spelled differently must meet on the same index terms."""

from __future__ import annotations

import unicodedata

import pytest

from bot.retrieval.analysis import MEANINGFUL_STOP_WORDS, STOP_WORDS, terms, tokens


def same_terms(a: str, b: str) -> bool:
    return terms(a) == terms(b) != []


# The spellings SOURCES.md says readers will type, and the corpus uses.
VARIANTS = [
    ("Pashinian", "Pashinyan"),
    ("Pashinian", "Pachinian"),
    ("Pashinyan", "Pachinian"),
    ("Harutiunian", "Harutyunyan"),
    ("Gyumri", "Gumri"),
    ("Shusha", "Choucha"),
    ("Aliev", "Aliyev"),
    ("Mnatsakanian", "Mnatsakanyan"),
    ("Baïramov", "Bayramov"),
]


@pytest.mark.parametrize(("a", "b"), VARIANTS, ids=[f"{a}-{b}" for a, b in VARIANTS])
def test_transliteration_variants_meet(a, b):
    assert same_terms(a, b)
    assert same_terms(a.upper(), b.lower())
    assert same_terms(f"{a}’s", b)  # possessive, typographic apostrophe
    assert same_terms(f"{a}'s", b)


@pytest.mark.parametrize(
    ("people", "country"),
    [("Ukrainians", "Ukraine"), ("Israeli", "Israel"), ("Chinese", "China"), ("French", "France"),
     ("Turkish", "Turkey"), ("Kazakh", "Kazakhstan"), ("Kazakhs", "Kazakhstan"), ("Uzbek", "Uzbekistan"),
     ("Azerbaijanis", "Azerbaijan"), ("Russian", "Russia"), ("Greek", "Greece"), ("Swiss", "Switzerland")],
)
def test_a_demonym_meets_its_country(people, country):
    assert same_terms(people, country)
    assert same_terms(f"{country}'s", people.lower())


def test_a_percent_sign_is_the_word_percent():
    assert same_terms("49.4%", "49.4 percent")
    assert same_terms("percentage", "percent")


def test_british_spellings_meet_american_ones():
    for british, american in [("characterise", "characterize"), ("defence", "defense"), ("labour", "labor"),
                              ("centre", "center"), ("organisation", "organization")]:
        assert same_terms(british, american)


def test_transliteration_folds_touch_names_not_english_words():
    for a, b in [("found", "fund"), ("course", "curse"), ("shout", "shut"), ("loose", "lose"), ("chip", "ship")]:
        assert terms(a) != terms(b)


def test_the_meaningful_stop_words_are_stop_words():
    assert MEANINGFUL_STOP_WORDS < STOP_WORDS  # not indexed: the answer path reads them from the text
    assert terms("only after") == []


def test_different_names_stay_apart():
    assert terms("Pashinian") != terms("Putin")
    assert terms("Gyumri") != terms("Syunik")
    assert terms("Aliev") != terms("Lavrov")


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("PUTIN", "Putin"),
        ("putin", "Putin"),
        (unicodedata.normalize("NFD", "Baïramov"), unicodedata.normalize("NFC", "Baïramov")),  # decomposed accent
        ("Baïramov", "Bairamov"),  # accent dropped
        ("Pashi\u200bnian", "Pashinian"),  # zero-width space inside the word
        ("Pashi\u200dnian", "Pashinian"),  # zero-width joiner
        ("Pashi\u00adnian", "Pashinian"),  # soft hyphen
        ("\ufeffPashinian", "Pashinian"),  # stray byte order mark
        ("Ｐａｓｈｉｎｉａｎ", "Pashinian"),  # fullwidth letters
        ("ＰＵＴＩＮ", "putin"),
        ("Moscow’s", "Moscow's"),
    ],
)
def test_case_and_unicode_normalisation(typed, stored):
    assert same_terms(typed, stored)


def test_a_zero_width_character_does_not_split_a_word():
    assert len(terms("Pashi\u200bnian")) == 1


def test_stop_words_are_dropped():
    assert terms("What is the of and who did it") == []
    assert terms("Why did Russia deploy border guards in Syunik?") == terms("Russia deploy border guards Syunik")


@pytest.mark.parametrize("text", ["", "   ", "?!...", "🙂🇦🇲🙏", "— – … « » “ ”", "the a an of to"])
def test_text_without_words_has_no_terms(text):
    assert terms(text) == []
    assert list(tokens(text)) == []


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("peacekeepers", "peacekeeper"),
        ("deployed", "deploy"),
        ("deployment", "deploy"),
        ("negotiating", "negotiate"),
        ("guards", "guard"),
        ("met", "meeting"),  # irregular past form meets its verb
        ("Russian", "Russia"),  # a demonym meets its country
        ("Armenians", "Armenia"),
    ],
)
def test_stemming_brings_word_forms_together(a, b):
    assert same_terms(a, b)


def test_repeats_are_kept_for_term_frequency():
    assert terms("border border border") == terms("border") * 3


def test_numbers_are_terms_and_thousands_separators_do_not_matter():
    assert terms("2,000 peacekeepers")[0] == terms("2000")[0]
    assert terms("1997") == ["1997"]


def test_token_spans_point_at_the_words_in_the_original_text():
    text = "Mr. Pashi\u200bnian’s office: ＰＵＴＩＮ met Baïramov in Gyumri — “urgent” talks, 2,000 troops."
    found = list(tokens(text))
    words = [text[t.start : t.end] for t in found]
    assert words == [
        "Mr", "Pashi\u200bnian’s", "office", "ＰＵＴＩＮ", "met", "Baïramov", "Gyumri", "urgent", "talks", "2,000",
        "troops",
    ]
    for token in found:
        assert token.term == terms(text[token.start : token.end])[0]
    assert [t.term for t in found] == terms(text)


def test_token_spans_survive_decomposed_accents():
    text = "Djeyhoun " + unicodedata.normalize("NFD", "Baïramov") + " arrived."
    (_, bayramov, arrived) = tokens(text)
    assert text[bayramov.start : bayramov.end] == unicodedata.normalize("NFD", "Baïramov")
    assert text[arrived.start : arrived.end] == "arrived"


@pytest.mark.parametrize("typed, written", [("why didnt russia send troops", "why didn't russia send troops"),
                                            ("whats armenias request", "what's armenia's request"),
                                            ("theyre sending troops", "they're sending troops")])
def test_a_contraction_typed_without_its_apostrophe_is_a_stop_word_as_with_it(typed, written):
    assert terms(typed) == terms(written)


@pytest.mark.parametrize("word", ["well", "shed", "ill", "lets"])
def test_an_english_word_that_spells_a_contraction_without_apostrophe_is_kept(word):
    assert terms(word) != []
