"""Text analysis: the one analyzer that turns passages and questions into index terms.

Steps, in order, for each word of the text:

1. Unicode: compatibility-normalise (NFKD), drop combining marks (``Baïramov`` ->
   ``bairamov``) and invisible format characters (zero-width joiners, soft hyphens),
   case-fold.
2. Stop words: the Snowball English list plus a few question fillers.
3. Stemming: irregular past forms to their verb (met -> meet), British spellings to American
   ones (characterise -> characterize, defence -> defense, labour -> labor; breame's list of
   1,730 words, since the stemmer keeps them apart), a short list of synonyms news readers use
   interchangeably to one word (truce -> ceasefire), then the Snowball English stemmer (PyStemmer).
4. Transliteration folding, for names only (a word pyspellchecker's English dictionary knows is
   left alone, so that "found" and "fund" stay apart): the articles and their readers spell Armenian,
   Russian and Azerbaijani names differently (Pashinian / Pashinyan / Pachinian,
   Harutiunian / Harutyunyan, Gyumri / Gumri, Shusha / Choucha, Aliev / Aliyev).
   A few spelling rules map all such variants to one key. A demonym is folded onto its country, from countryinfo's
   table of every country (Ukrainians -> Ukraine, Chinese -> China, French ->
   France), so "Russia's defence minister" finds "Russian Defense Minister";
   an -ian/-ani/-ili suffix rule covers the rest (Artsakhian -> Artsakh).

Because questions and passages go through the same steps, a question spelled
one way finds passages spelled another way. Change any rule and bump
`ANALYZER_VERSION` so that cached indexes are rebuilt.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Container, Iterator
from dataclasses import dataclass

import Stemmer
from breame.data.spelling_constants import BRITISH_ENGLISH_SPELLINGS

from bot.retrieval import spelling

ANALYZER_VERSION = "9"

# Snowball's English stop word list (snowballstem.org), plus question fillers and their chat shorthand.
STOP_WORDS = frozenset(
    """
    i me my myself we our ours ourselves you your yours yourself yourselves he him his himself she her hers
    herself it its itself they them their theirs themselves what which who whom this that these those am is are
    was were be been being have has had having do does did doing would should could ought i'm you're he's she's
    it's we're they're i've you've we've they've i'd you'd he'd she'd we'd they'd i'll you'll he'll she'll we'll
    they'll isn't aren't wasn't weren't hasn't haven't hadn't doesn't don't didn't won't wouldn't shan't
    shouldn't can't cannot couldn't mustn't let's that's who's what's here's there's when's where's why's how's
    a an the and but if or because as until while of at by for with about against between into through during
    before after above below to from up down in out on off over under again further then once here there when
    where why how all any both each few more most other some such no nor not only own same so than too very
    s t can will just don should now
    please tell know anything something whether whats whos many much happen happened say says said saying
    u ur r pls plz thx thanks thank hi hello hey
    """.split()
)  # the last line: chat's shorthand for the fillers above ("can u tell me", "pls", "thx")

# Chat drops apostrophes ("didnt", "theyre", "whats"): a contraction typed so is a stop word too,
# unless it spells another English word ("well", "shed", "ill").
STOP_WORDS |= {word.replace("'", "") for word in STOP_WORDS if "'" in word} - {
    "ill", "well", "hell", "shell", "wed", "shed", "id", "lets"}

# The stop words that carry meaning: negation, order in time, degree, quantity, direction (the
# list above, less its pronouns, articles, auxiliaries, question words and plain linkers). They are
# not indexed; the answer path uses them to choose between windows ("would *only* be possible *after*").
MEANINGFUL_STOP_WORDS = frozenset(
    "only not no nor after before again against further once more most few same own other above below up down "
    "out off over under until while because than too very all both each some such then".split()
)

# Ordered rewrite rules applied to a stemmed word (see the module docstring).
_FOLDS = (
    ("ch", "sh"),  # Pachinian, Choucha (French) -> Pashinian, Shousha
    ("ou", "u"),  # Choucha -> Shusha
    ("yu", "u"),  # Gyumri -> Gumri, Harutyunyan -> Harutunyan
    ("iu", "u"),  # Harutiunian -> Harutunian
    ("y", "i"),  # Pashinyan -> Pashinian, Aliyev -> Aliiev, Bayramov -> Bairamov
)
# Irregular past forms, so that "met" finds "meet" and "spoke" finds "speak".
# (The stemmer handles regular forms; ambiguous ones such as "found" and "left" are not listed.)
IRREGULAR_PAST = {
    past: base
    for base, forms in {
        "arise": "arose arisen", "become": "became", "begin": "began begun", "bring": "brought",
        "break": "broke broken", "build": "built", "buy": "bought", "catch": "caught", "choose": "chose chosen",
        "come": "came", "deal": "dealt", "draw": "drew drawn", "drive": "drove driven", "eat": "ate eaten",
        "fall": "fell fallen", "feel": "felt", "fight": "fought", "flee": "fled", "fly": "flew flown",
        "forbid": "forbade forbidden", "freeze": "froze frozen", "get": "got gotten", "give": "gave given",
        "go": "went gone", "grow": "grew grown", "hold": "held", "keep": "kept", "know": "knew known",
        "lay": "laid", "lead": "led", "lose": "lost", "make": "made", "mean": "meant", "meet": "met", "pay": "paid",
        "ride": "rode ridden", "rise": "rose risen", "run": "ran", "say": "said", "see": "saw seen",
        "seek": "sought", "sell": "sold", "send": "sent", "shake": "shook shaken", "shoot": "shot", "sit": "sat",
        "speak": "spoke spoken", "spend": "spent", "stand": "stood", "steal": "stole stolen", "strike": "struck",
        "swear": "swore sworn", "take": "took taken", "teach": "taught", "tell": "told", "tear": "tore torn",
        "think": "thought", "throw": "threw thrown", "understand": "understood", "wake": "woke woken",
        "wear": "wore worn", "win": "won", "withdraw": "withdrew withdrawn", "write": "wrote written",
    }.items()
    for past in forms.split()
}
# Words news readers use for the same thing, folded onto one (before stemming).
# Kept small and unambiguous: each group is a set of interchangeable words, not related ones.
_SYNONYMS = {
    word: group.split()[0]
    for group in (
        "ceasefire truce armistice",
        "document documents paper papers",
        "assure assured assures pledge pledged promise promised promises vow vowed",
        "confidence trust trusted",
        "settle settled resolve resolved solve solved",
        "difficult hard",
        "visit visits visited trip trips journey",
        "foreign abroad overseas",
        "prisoner prisoners pow pows",
        "killed dead died deaths",
        "troops soldiers",
        "talks negotiations",
        "spokesman spokesperson spokeswoman",
        "percent percentage percentages",
    )
    for word in group.split()
}
_DOUBLED = re.compile(r"(.)\1+")  # Aliiev -> Aliev
_HYPHENS = "-\u2010\u2011"  # hyphen-minus, hyphen, non-breaking hyphen
# Number words are written as digits too ("fifteen prisoners", "15 prisoners"). "one" is left
# alone: it is far more often a pronoun ("one of them") than a count.
_NUMBER_WORDS = {
    word: str(value)
    for value, word in enumerate(
        "zero _ two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
        "seventeen eighteen nineteen twenty".split()
    )
    if word != "_"
} | {word: str(10 * tens) for tens, word in enumerate("thirty forty fifty sixty seventy eighty ninety".split(), 3)}
# Agent compounds meet their base word: chairman, chairwoman, chairperson -> chair (the stemmer
# keeps them apart). Only where at least five letters remain, so that names such as Sherman or
# Goldman and words such as human or woman are left alone.
_AGENT = re.compile(r"^([a-z]{5,})(?:man|men|woman|women|person|persons|people)$")

# A word: letters (with combining marks and invisible format characters inside),
# or a number with its thousands separators and decimal point ("2,000", "1.5"),
# with an optional apostrophe part ("Armenia’s", "didn't").
_WORD = re.compile(
    r"%|\d+(?:[.,]\d+)*"
    r"|(?:[^\W\d_]|[\u0300-\u036f\u00ad\u200b-\u200d\u2060\ufeff])+"
    r"(?:['’](?:[^\W\d_]|[\u0300-\u036f])+)*"
)
_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u200b\u200c\u200d\u2060\ufeff"))
_STEMMER = Stemmer.Stemmer("english")


@dataclass(frozen=True, slots=True)
class Token:
    """A word of the text that became an index term, and where it stands."""

    start: int
    end: int
    term: str


def tokens(text: str) -> Iterator[Token]:
    """The index terms of `text`, with their character spans in `text`.

    A hyphenated compound gives its parts and, after them, the joined word ("cease-fire":
    cease, fire, ceasefire), since English writes many compounds both ways (cease-fire and
    ceasefire, Co-operation and cooperation, e-mail and email)."""
    return (Token(start, end, term) for start, end, term in _spans(text, None))


def spans_of(text: str, wanted: Container[str]) -> list[tuple[int, int, str]]:
    """(start, end, term) of each word of `text` whose term is in `wanted` (as `tokens`, without
    making a Token of every other word: the answer path looks for a question's few terms)."""
    return list(_spans(text, wanted))


def spans_and_others(text: str, wanted: Container[str]) -> tuple[list[tuple[int, int, str]], list[int]]:
    """As `spans_of`, plus where each other word that is an index term starts (one pass: the
    answer path also counts the words a sentence tells beyond the question's)."""
    found: list[tuple[int, int, str]] = []
    others: list[int] = []
    if any(h in text for h in _HYPHENS):
        for start, end, term in _spans(text, None):
            if term in wanted:
                found.append((start, end, term))
            else:
                others.append(start)
        return found, others
    for match in _WORD.finditer(text):  # the common case, without a generator: this is the answer path's loop
        term = term_of(match.group())
        if term:
            if term in wanted:
                found.append((*match.span(), term))
            else:
                others.append(match.start())
    return found, others


def _spans(text: str, wanted: Container[str] | None) -> Iterator[tuple[int, int, str]]:
    if not any(h in text for h in _HYPHENS):
        for match in _WORD.finditer(text):
            term = term_of(match.group())
            if term and (wanted is None or term in wanted):
                yield match.start(), match.end(), term
        return
    previous: re.Match[str] | None = None
    for match in _WORD.finditer(text):
        term = term_of(match.group())
        if term and (wanted is None or term in wanted):
            yield match.start(), match.end(), term
        if previous is not None and previous.end() + 1 == match.start() and text[previous.end()] in _HYPHENS:
            joined = term_of(previous.group() + match.group())
            if joined and (wanted is None or joined in wanted):
                yield previous.start(), match.end(), joined
        previous = match


def is_compound(word: str) -> bool:
    """Whether `word` is a hyphenated compound (whose parts are terms of their own too)."""
    return any(h in word for h in _HYPHENS)


def terms(text: str) -> list[str]:
    """The index terms of `text`, in order, repeats kept (BM25 counts them)."""
    if not any(h in text for h in _HYPHENS):
        return [term for word in _WORD.findall(text) if (term := term_of(word))]
    return [token.term for token in tokens(text)]


@functools.lru_cache(maxsize=262_144)
def term_of(word: str) -> str:
    """The index term for one word, or '' when it is a stop word."""
    if word[0].isdigit():
        return word.replace(",", "")
    if word == "%":
        return "percent"  # "49.4%" and "49.4 percent"
    folded = unicodedata.normalize("NFKD", word.translate(_INVISIBLE))
    folded = "".join(c for c in folded if not unicodedata.combining(c)).casefold().replace("’", "'")
    if folded in STOP_WORDS:
        return ""
    folded = folded.removesuffix("'s")
    if folded in STOP_WORDS or not folded:
        return ""
    folded = folded.replace("'", "")
    folded = IRREGULAR_PAST.get(folded, folded)
    if folded in STOP_WORDS:  # "told" -> "tell"
        return ""
    if folded in _NUMBER_WORDS:
        return _NUMBER_WORDS[folded]
    folded = BRITISH_ENGLISH_SPELLINGS.get(folded, folded)  # characterise -> characterize, defence -> defense
    folded = _country_of(folded)  # Ukrainians -> ukraine, Chinese -> china, Kazakh -> kazakhstan
    if folded in _SYNONYMS:
        folded = _SYNONYMS[folded]
    elif agent := _AGENT.match(folded):
        folded = agent.group(1)
    term: str = _STEMMER.stemWord(folded)
    if not spelling.is_english(folded):  # a name: "found" and "fund", "course" and "curse" stay apart
        for before, after in _FOLDS:
            term = term.replace(before, after)
        term = _DOUBLED.sub(r"\1", term)
    # Demonyms meet their countries: Russian -> Russia, Azerbaijani -> Azerbaijan;
    # adverbs meet their adjectives: militarily -> military (the stemmer keeps them apart).
    if len(term) > 5 and term.endswith(("ian", "ani", "ili")):
        term = term[:-1] if term[-1] == "n" or term[-2] == "n" else term[:-2]
    return term


def table_versions() -> dict[str, str]:
    """The versions of the packages whose word tables the analyzer reads: an index built with
    other tables would not meet the questions analyzed with these (the index cache keys on them)."""
    from importlib import metadata

    return {package: metadata.version(package) for package in ("PyStemmer", "pyspellchecker", "breame", "countryinfo")}


def load_tables() -> None:
    """Load the word tables the analyzer reads lazily (the English dictionary, 0.2 s; the demonyms,
    0.04 s), so that a server pays for them at start-up rather than on its first question."""
    spelling.is_english("")
    _demonyms()


def _country_of(word: str) -> str:
    """The country a demonym names (``word`` case-folded), or ``word`` itself."""
    demonyms = _demonyms()
    return demonyms.get(word) or (demonyms.get(word[:-1]) if word.endswith("s") else None) or word


@functools.cache
def _demonyms() -> dict[str, str]:
    """Demonym -> country name, case-folded, for every country countryinfo lists ("ukrainian":
    "ukraine", "french": "france", "south korean": no, only one-word names), plus the people of a
    "-stan" country, which is named as their land ("kazakh": "kazakhstan", "uzbek": "uzbekistan").
    A demonym is taken when it shares at least two first letters with its country (so Martinique's
    "French" does not take France's), and only if no other country claims it as closely."""
    from countryinfo import CountryInfo  # 40 ms of JSON: loaded at the first word analyzed, not at import

    claims: dict[str, list[tuple[int, str]]] = {}
    for info in CountryInfo.all().values():
        name = str(info.get("name") or "").casefold()
        if not name.isalpha():
            continue  # "south korea", "saudi arabia": several words
        people = [p.strip().casefold() for p in str(info.get("demonym") or "").split(",")]
        if name.endswith("stan") and len(name) > 8:
            people.append(name.removesuffix("stan").removesuffix("i"))  # kazakh-stan, uzbek-istan
        for person in dict.fromkeys(people):
            shared = next((i for i, (a, b) in enumerate(zip(person, name, strict=False)) if a != b),
                          min(len(person), len(name)))  # letters the two share at their start
            if person.isalpha() and person != name and shared >= 2:
                claims.setdefault(person, []).append((shared, name))
    table = {}
    for person, countries in claims.items():
        countries.sort(reverse=True)
        if len(countries) == 1 or countries[0][0] > countries[1][0]:
            table[person] = countries[0][1]
    return table


# A name of several capitalised words ("Central Electoral Commission", "Collective Security
# Treaty Organization"); small linking words do not count towards its initials.
_NAME_RUN = re.compile(r"[A-Z][a-z]+(?:\s+(?:(?:of|the|and|for|on|in)\s+)*[A-Z][a-z]+)+")


_MAX_ACRONYM = 8  # letters: initials longer than this name no organisation (and a run of 500 names costs n^2)


def acronym_terms(text: str) -> list[str]:
    """Index terms of the acronyms a question's names could be written as: articles name an
    organisation in full once and by its initials after that ("the Central Electoral Commission
    (CEC) ... CEC Chairman"), while readers ask by either. Every run of two or more of the
    name's words counts ("Security Treaty Organization" → STO as well as CSTO); the library adds
    those the corpus holds to a query."""
    found = []
    for run in _NAME_RUN.finditer(text):
        initials = [word[0] for word in run.group().split() if word[0].isupper()]
        for start in range(len(initials) - 1):
            for end in range(start + 2, min(len(initials), start + _MAX_ACRONYM) + 1):
                term = term_of("".join(initials[start:end]))
                if term and term not in found:
                    found.append(term)
    return found
