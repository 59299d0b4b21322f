"""What a question asks for: the answer type from its first words, the asked thing's words, and
a scene-setting clause (bot/questions.py)."""

from __future__ import annotations

import pytest

from bot.questions import Wanted, question_word_meant, shape


@pytest.mark.parametrize(
    ("question", "wanted"),
    [
        ("When did Putin and Pashinyan meet?", Wanted.TIME),
        ("On what date did Pashinian propose deploying border guards?", Wanted.TIME),
        ("And when was the statement signed?", Wanted.TIME),
        ("How many mines did the maps show?", Wanted.COUNT),
        ("Roughly how many troops remained?", Wanted.COUNT),
        ("What share of the vote did the party win?", Wanted.COUNT),
        ("For how long was he ready to guarantee their presence?", Wanted.DURATION),
        ("Who chairs the commission?", Wanted.PERSON),
        ("Where did the exchange take place?", Wanted.PLACE),
        ("Near which village were the soldiers captured?", Wanted.PLACE),
        ("Which countries sent troops?", Wanted.PLACE),
        ("What city hosted the talks?", Wanted.PLACE),
        ("What state of emergency was declared?", Wanted.ANY),
        ("Why did Russia deploy border guards in Syunik?", Wanted.REASON),
        ("What motive did the prime minister ascribe to the incursion?", Wanted.REASON),
        ("What did the Kremlin spokesman say when asked about the letter?", Wanted.SPEECH),
        ("How did the secretary general characterise the standoff?", Wanted.SPEECH),
        ("What did the ministry accuse Armenian units of doing?", Wanted.SPEECH),
        ("What did Putin present to the leaders?", Wanted.ANY),
        ("Which Georgian leader mediated the swap?", Wanted.ANY),
    ],
)
def test_the_first_words_say_what_kind_of_answer_is_wanted(question, wanted):
    assert shape(question).wanted is wanted


def test_when_inside_a_question_is_a_conjunction_not_the_asked_time():
    assert shape("How did Moscow react when Armenia asked for help?").wanted is not Wanted.TIME
    assert shape("What did the spokesman say when asked about the letter?").wanted is Wanted.SPEECH


@pytest.mark.parametrize(
    ("question", "focus"),
    [
        ("How many new posts did the service set up?", ("new", "posts")),
        ("How many ballots were declared invalid?", ("ballots",)),
        ("What was the turnout in the June elections?", ("turnout",)),
        ("Who is the acting mayor of Azatamut village?", ("acting", "mayor")),
        ("In which Tavush border village were guards deployed?", ("border", "village")),
        ("Which Georgian leader acted as go-between?", ("Georgian", "leader")),
        ("Which countries sent troops?", ("countries",)),
        ("Who chairs the Central Electoral Commission?", ("chairs",)),
        ("What did Putin present to the Armenian prime minister?", ("present",)),
        ("What did the spokesman say about the letter?", ("spokesman",)),  # who spoke: the quote must be theirs
        ("What did Artsakh authorities say the activists were?", ("Artsakh", "authorities")),
        ("How did the head of the security pact describe it?", ("head",)),
        ("Is the border closed?", ()),
        ("Who is the president of France's wife?", ("wife",)),  # the possessed thing is the head
        ("What share of the vote did the party win?", ("vote",)),  # the measure is the answer's form
        ("What percentage of voters turned out?", ("voters",)),
        ("What was the turnout in Armenia's elections?", ("turnout",)),  # a possessive after "in" is not
        ("What befell the head of parliament?", ("befell",)),
    ],
)
def test_the_asked_things_words_are_found(question, focus):
    assert shape(question).focus == focus


@pytest.mark.parametrize(
    ("question", "context"),
    [
        ("The 2020 truce put peacekeepers on the corridor; what did the protesters demand?",
         "The 2020 truce put peacekeepers on the corridor"),
        ("After three soldiers were killed on July 28, what did Pashinyan propose?",
         "After three soldiers were killed on July 28"),
        ("Besides Bortnikov and Shoygu, which ministers did Putin meet?", "Besides Bortnikov and Shoygu"),
        ("What did Pashinyan propose after the clashes?", ""),
    ],
)
def test_a_scene_setting_clause_is_told_apart_from_the_question(question, context):
    asked = shape(question)
    assert asked.context == context
    if context:  # the asking part still decides the answer type
        assert shape(question.split(", ", 1)[-1].split("; ", 1)[-1]).wanted is asked.wanted


@pytest.mark.parametrize(
    ("question", "degree"),
    [("For how long will they stay?", "long"), ("How far is the border from the village?", "far"),
     ("How old is the treaty?", "old"), ("How did the long war end?", ""), ("Who is the tall man?", "")],
)
def test_the_adjective_of_how_long_is_part_of_the_question_word(question, degree):
    assert shape(question).degree == degree


@pytest.mark.parametrize(
    ("question", "names_thing"),
    [("Which countries sent troops?", True), ("How many soldiers died?", True),
     ("What befell the head of parliament?", False),  # a verb: a determiner follows it
     ("Who chairs the commission?", False), ("What did the spokesman say?", False)],
)
def test_a_focus_that_names_a_thing_is_told_from_a_verb(question, names_thing):
    assert shape(question).names_thing is names_thing


@pytest.mark.parametrize("typed, meant", [("waht", "what"), ("wich", "which"), ("whne", "when"), ("Hwy", "why"),
                                          ("hwo", None), ("with", None), ("troops", None)])
def test_a_misspelt_question_word_is_read_as_the_one_it_stands_for(typed, meant):
    """Only when a single question word is one edit away: "hwo" is who or how."""
    assert question_word_meant(typed) == meant


@pytest.mark.parametrize("question, wanted", [
    ("csto troops kazakhstan how many?", Wanted.COUNT),
    ("putin pashinyan meeting in sochi when", Wanted.TIME),
    ("border guards syunik why", Wanted.REASON),
    ("What did he say to the man who", Wanted.SPEECH),  # a question word first wins
])
def test_a_question_word_typed_last_still_says_what_is_wanted(question, wanted):
    assert shape(question).wanted is wanted
