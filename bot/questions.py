"""What a question asks for: the kind of answer it wants, and the words that name the asked thing.

English questions say what they want in their first words: "when" wants a time, "how many" a
count, "who" a person, "where" a place, "why" a reason, "what did X say" a quotation or
reported speech. The answer-type check in `bot.answers` then asks that an excerpt hold such a
thing *beyond the question's own words*: "How many soldiers were killed in September 2022?" is
not answered by a sentence whose only number is the 2022 the question already gave.

A "when" inside a question ("How did Moscow react when ...") is a conjunction, not the asked
thing: only a question that starts with it (or "since when", "until when") asks for a time.

These are rules of English question syntax, not of any one corpus; they are deliberately few.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from enum import Enum

from bot.retrieval import spelling
from bot.retrieval.analysis import IRREGULAR_PAST


class Wanted(Enum):
    """The kind of thing an answer must hold."""

    TIME = "time"  # when, what year, what date
    COUNT = "count"  # how many, how much, what number of
    DURATION = "duration"  # how long, for how long
    PERSON = "person"  # who, whom, whose
    PLACE = "place"  # where, in which village
    REASON = "reason"  # why, for what purpose, what motive
    SPEECH = "speech"  # what did X say, how did X describe, what did X call
    ANY = "any"  # what, which, how: nothing to check


@dataclass(frozen=True, slots=True)
class Asked:
    """A question's shape: what it wants, and the words right after the question word that
    name the asked thing ("how many *troops*", "which *countries*"), as they were written."""

    wanted: Wanted
    focus: tuple[str, ...] = ()
    context: str = ""  # a leading clause that sets the scene ("After X happened, ..."; "X happened; ...")
    degree: str = ""  # the adjective of "how long", "how far", "how old": part of the question word, not its topic
    names_thing: bool = False  # the focus is a noun phrase naming the asked thing (not a verb or a speaker)


# The verbs of "what did X say / call / accuse ...": the question wants what someone said.
_SPEECH_VERBS = (
    r"(?:say|said|tell|told|state|stated|declare|declared|describe|described|call|called|characteri[sz]e|"
    r"characteri[sz]ed|respond|responded|react|reacted|reply|replied|comment|commented|claim|claimed|add|added|"
    r"announce|announced|explain|explained|warn|warned|report|reported|accuse|accused)"
)
# Leading words that do not change what is asked ("And when did ...", "So, who ...").
_LEAD = (r"^\W*(?:(?:and|but|so|then|also|ok|okay|please|pls|plz|hi|hello|hey|tell me|do (?:you|u) know|"
         r"(?:can|could) (?:you|u) tell me)\b[\s,]*)*")
_RULES: tuple[tuple[re.Pattern[str], Wanted], ...] = tuple(
    (re.compile(_LEAD + pattern, re.IGNORECASE), wanted)
    for pattern, wanted in (
        (r"(?:since |until |till |by )?when\b", Wanted.TIME),
        (r"(?:in |on |at )?what (?:year|date|day|month|time)\b", Wanted.TIME),
        (r"(?:how long ago)\b", Wanted.TIME),
        (r"(?:for )?how long\b", Wanted.DURATION),
        (r"(?:roughly |approximately |about )?how (?:many|much)\b", Wanted.COUNT),
        (r"(?:what|which) (?:number|share|percentage|proportion) of\b", Wanted.COUNT),
        (r"(?:who|whom|whose)\b", Wanted.PERSON),
        (r"(?:to |from |in |at )?where\b", Wanted.PLACE),
        (r"(?:in |to |from |at |near )(?:which|what) (?:village|town|city|country|countries|province|region|"
         r"district|place|capital|state)\b", Wanted.PLACE),
        (r"(?:which|what) (?:villages?|towns?|city|cities|country|countries|provinces?|regions?|districts?)\b",
         Wanted.PLACE),
        (r"why\b", Wanted.REASON),
        (r"(?:for )?what (?:reason|purpose|motive|justification|grounds?)\b", Wanted.REASON),
        (rf"(?:what|how) (?:did|does|do|has|have|had|will|would|was|is)\b[^?]*?\b{_SPEECH_VERBS}\b", Wanted.SPEECH),
    )
)
# What follows a question word and names the asked thing: "how many *troops* ...", "which
# *country* ...", "what was the *turnout* ...", "who *chairs* ...", "what did Putin *present* ...".
_AUX = (r"(?:is|was|are|were|did|does|do|has|have|had|will|would|could|can|should|may|might)")
_STOP = frozenset(
    "is was are were did does do has have had will would could can should may might be been "
    "the a an of in on at to for from by with about over under into during after before and or "
    "that this these those there it its their his her who whom whose which what when where why how among "
    "between than as".split()
)
_FOCUS_RULES = tuple(
    re.compile(_LEAD + pattern, flags)
    for pattern, flags in (
        (r"(?:roughly |approximately |about )?how (?:many|much)\s+(?P<words>.+)", re.IGNORECASE),
        # "What share *of the vote*": the measure is the answer's form (53.9 %), the counted thing its focus.
        (r"(?:what|which) (?:(?:is|was|are|were) the )?(?:number|share|percentage|proportion|fraction|portion|"
         r"amount) of (?:the |a |an )?(?P<words>.+)", re.IGNORECASE),
        (r"(?:what|who|which) (?:is|was|are|were) (?:the|a|an) (?P<words>.+)", re.IGNORECASE),
        (rf"(?:in |to |from |at |near |for |under )?(?:which|what) (?!{_AUX}\b)(?P<words>.+)", re.IGNORECASE),
        (rf"(?i:who) (?!{_AUX}\b)(?P<verb>[a-z]\w+)", 0),
        # "What did Putin present": the verb after a named subject (capitalised, so case matters here).
        (r"(?i:what|how) (?i:did|does|do|will|would) (?:the )?(?:[A-Z][\w’'.-]*\s+)+(?P<verb>[a-z]\w+)", 0),
    )
)
_MAX_FOCUS_WORDS = 2
_DETERMINERS = frozenset("the a an this that these those his her its their our my your".split())
# A possessive inside the asked noun phrase: what follows it is the asked thing.
_POSSESSED = re.compile(r"[^?]*?\w['’]s\s+(?=\w)")


# "What did *Artsakh authorities* say ...", "How did *the spokesman* describe ...": who spoke.
_SPEAKER = re.compile(
    _LEAD + rf"(?:what|how) (?:did|does|do|has|have|had|will|would) (?:the )?(?P<words>.+?) {_SPEECH_VERBS}\b",
    re.IGNORECASE,
)


def _focus(text: str, wanted: Wanted) -> tuple[tuple[str, ...], bool]:
    """The focus words, and whether they are a noun phrase naming the asked thing."""
    if wanted is Wanted.SPEECH:
        # The speaker: a quote is only an answer when it is theirs. (What was said is the answer
        # type's business.) The speaker's name ends where a preposition begins ("the head *of* ...").
        speaker = _SPEAKER.search(text)
        name = re.findall(r"[\w’'-]+", speaker.group("words")) if speaker else []
        ends = next((i for i, word in enumerate(name) if word.casefold() in _STOP), len(name))
        return tuple(name[:ends][-_MAX_FOCUS_WORDS:]), False
    for rule in _FOCUS_RULES:
        found = rule.search(text)
        if not found:
            continue
        if found.groupdict().get("verb"):
            return (found.group("verb"),), False
        phrase = found.group("words")
        owner = _POSSESSED.match(phrase)
        if owner and not _STOP.difference(("of", "the")).intersection(owner.group().casefold().split()):
            phrase = phrase[owner.end():]  # "the president of France's *wife*": the possessed thing is the head
        words: list[str] = []
        following = ""
        for word in re.findall(r"[\w’'-]+", phrase):
            folded = word.casefold()
            if folded in _STOP or (words and (folded.endswith("ed") or folded in IRREGULAR_PAST)):
                following = folded
                break  # the asked thing's name ends where its verb or a preposition begins
            words.append(word)
        # "What *befell* the head ...": a word followed by a determiner is a verb, not a thing's name.
        names_thing = bool(words) and following not in _DETERMINERS
        return tuple(words[-_MAX_FOCUS_WORDS:]), names_thing  # the head of a noun phrase is its last word
    return (), False


# A question may first set the scene and then ask: "The 2020 truce put peacekeepers on the
# corridor; what did the protesters demand?", "After the war ended, who ...?". The scene is
# context the answer need not restate; the asking clause is what the answer must hold.
_SCENE = re.compile(
    r"^(?P<scene>[^;?]+;)\s*|^(?P<lead>(?:after|before|following|since|once|while|although|though|as|besides|"
    r"apart from|aside from|given that|in the wake of)\b[^,?;]{3,},)\s*",
    re.IGNORECASE,
)


# "How long", "how far", "how old" ...: the adjective measures the answer ("for ten years"); the
# answer need not hold the word itself.
_DEGREE = re.compile(
    _LEAD + r"(?:for |since |until )?how (?P<degree>long|far|old|often|soon|big|large|high|tall|deep|wide|fast|"
    r"close|heavy)\b",
    re.IGNORECASE,
)


QUESTION_WORDS = ("what", "which", "who", "whom", "whose", "when", "where", "why", "how")


def question_word_meant(word: str) -> str | None:
    """The question word a typo stands for ("waht": what, "wich": which), when only one is a
    single edit away ("hwo" could be who or how: None)."""
    near = _question_word_typos().get(word.casefold(), ())
    return near[0] if len(near) == 1 else None


@functools.cache
def _question_word_typos() -> dict[str, tuple[str, ...]]:
    typos: dict[str, tuple[str, ...]] = {}
    for asking in QUESTION_WORDS:
        for typo in spelling.one_edit(asking):
            typos[typo] = (*typos.get(typo, ()), asking)
    return typos


_TRAILING = re.compile(r"\s(how (?:many|much|long)|when|where|who|why)\W*$", re.IGNORECASE)


def shape(question: str) -> Asked:
    """What `question` asks for (see the module docstring)."""
    text = question.strip()
    context = ""
    scene = _SCENE.match(text)
    if scene and text[scene.end():].strip():
        context = (scene.group("scene") or scene.group("lead")).rstrip(";,")
        text = text[scene.end():]
    wanted = next((w for pattern, w in _RULES if pattern.search(text)), Wanted.ANY)
    trailing = _TRAILING.search(text) if wanted is Wanted.ANY else None
    if trailing:  # chat puts the question word last: "csto troops kazakhstan how many?"
        wanted = next((w for pattern, w in _RULES if pattern.search(trailing.group(1))), Wanted.ANY)
    degree = _DEGREE.search(text)
    focus, names_thing = _focus(text, wanted)
    return Asked(wanted, focus, context, degree.group("degree") if degree else "", names_thing)

