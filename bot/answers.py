"""From ranked passages to an answer: the sentences that answer, quoted verbatim, with citations.

**The excerpt.** In each candidate passage, the quote is a window of one or two consecutive
sentences. A window may reach one sentence into the neighbouring paragraph when the two
sentences belong together: the second opens with a quotation mark or a pronoun ("He added",
"They accused ..."), or the first ends with a colon. News text puts the answer right after the
sentence that names its subject ("Peskov was asked whether ... “I can't tell you for sure”"), so
the sentence holding the question's words is often not the answer on its own. Windows are
scored by the question weight they hold (idf of the question terms in them), plus a bonus when
they hold the kind of thing the question asks for (`bot.questions`), minus a little for length.
A window never runs past `MAX_EXCERPT_CHARS`; an excerpt is always a span of the article text.

**The answer type.** "When" wants a time, "how many" a number, "who" a name, "why" a reason,
"what did X say" a quotation or reported speech. The thing must be *new*: a number or date the
question already gave does not count ("killed in September 2022" is not answered by "2022").

**Order.** Excerpts are ordered by the share of question weight they hold, plus the passage's
BM25 score relative to the best (`SCORE_WEIGHT`), plus `TYPE_WEIGHT` when the answer type holds.

**Confidence.** An answer is *confident* (`Answer.answered`) when its best excerpt holds at
least `min_match` of the question's weight and two of its terms (one for a one-word
question), holds the asked type, and every name the question mentions (a capitalised word
inside the question, such as a person, place or organisation) stands in the excerpt's passage.
When the best evidence falls short of that but still holds `HEDGE_MATCH` of the weight and two
terms, the answer is *hedged*: the closest passages are shown, labelled as possibly not answering
(`Answer.hedged`). Below that the bot says the corpus has nothing on it. Unknown terms weigh the
most, so "Who painted the Mona Lisa?" shares nothing with the corpus and is refused outright.
The thresholds were calibrated on the development set (README: "Answer quality").
"""

from __future__ import annotations

import bisect
import dataclasses
import functools
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from bot.corpus.articles import Document, is_heading
from bot.corpus.passages import Passage, passage_id, sentence_spans
from bot.questions import Asked, Wanted, question_word_meant, shape
from bot.retrieval import analysis, spelling
from bot.retrieval.library import Hit, Library, Query

# Said above a hedged answer, in the terminal and in Telegram alike.
HEDGED_NOTE = "Nothing in the corpus answers that for certain. The closest passages, which may not answer it:"

MIN_MATCH = 0.4  # the default of BOT_MIN_MATCH: a confident answer's share of the question's weight
MIN_MATCHED_TERMS = 2  # an excerpt must hold two of the question's terms (or its only one)
SCORE_WEIGHT = 0.75  # excerpts are ordered by match + SCORE_WEIGHT * (passage score / best score) ...
TYPE_WEIGHT = 0.25  # ... + TYPE_WEIGHT when the excerpt holds what the question asks for
# (for a time, a count or a duration, whose presence a pattern tells for sure, STRICT_TYPE_WEIGHT:
# an excerpt without a number does not answer "how many" however many of the question's words it holds)
STRICT_TYPE_WEIGHT = 1.0
FOCUS_WEIGHT = 0.5  # ... + FOCUS_WEIGHT times the share of the asked thing's words it holds
CONTEXT_WEIGHT = 0.4  # a word only the question's scene-setting clause holds counts this much
BACKWARD_COST = 0.03  # a window whose second sentence holds more of the question than its first ranks lower:
# news text puts the answer after the sentence that names its subject, not before
HEDGE_MATCH = 0.2  # below this share of the question's weight, not even a hedged answer
CANDIDATES_PER_EXCERPT = 3  # passages ranked per excerpt wanted, to survive de-duplication
FIRST_POOL = 12  # the best passages, among which confident excerpts lead (the default answer's own pool;
# 16 gave the same answers on the development and seed sets, at a quarter more excerpt work)
DUPLICATE_OVERLAP = 0.8  # excerpts sharing this share of the shorter one's terms are shown once
MAX_EXCERPT_CHARS = 600  # a two-sentence window longer than this is not quoted whole
RECENT_SHARE = 0.3  # "the latest": the newest article's passages gain this share of the best score
STALE_COST = 0.5  # an article published before the month a question asks about cannot report it
LENGTH_COST = 0.02  # score lost per 100 characters of a window, so that a sentence more must earn its place
FUNCTION_WORD_WEIGHT = 0.02  # a window gains this per meaningful stop word of the question it repeats
NEW_WORDS = 3  # for a "what"/"which" question, a window telling fewer words than this beyond its own ...
RESTATED_COST = 0.1  # ... ranks this much lower (it restates the question; the answer follows it)
UNFINISHED_COST = 0.1  # a window that does not end a sentence (a caption, a heading) ranks this much lower


@dataclass(frozen=True, slots=True)
class Excerpt:
    document: Document
    passage: Passage  # the passage the excerpt was found in (the one cited)
    start: int  # span of the document's text
    end: int
    score: float  # the passage's BM25+ score
    match: float  # share of the question's term weight this excerpt holds, 0..1
    matched: int  # how many distinct question terms the excerpt holds
    marks: tuple[tuple[int, int], ...]  # spans of question terms, relative to `text`
    fits: bool = True  # holds the kind of thing the question asks for (a time, a number, a quote ...)
    names_found: bool = True  # every name in the question stands in the excerpt's article
    in_time: bool = True  # the article was not published before a date the question asks about
    focus: float = 1.0  # share of the asked thing's words ("how many *troops*") the excerpt holds

    @property
    def text(self) -> str:
        return self.document.text[self.start : self.end]


@dataclass(frozen=True, slots=True)
class Answer:
    question: str
    terms: tuple[str, ...]
    excerpts: tuple[Excerpt, ...]
    more: bool = False  # further excerpts exist beyond these (ask with a larger offset)
    hedged: bool = False  # the excerpts are the closest passages found, and may not answer it

    @property
    def answered(self) -> bool:
        """A confident answer (hedged ones and refusals are not)."""
        return bool(self.excerpts) and not self.hedged

    @property
    def outcome(self) -> str:
        """"answered", "hedged" or "refused"."""
        return "hedged" if self.hedged and self.excerpts else "answered" if self.excerpts else "refused"


def answer_question(
    library: Library, question: str, *, limit: int, min_match: float, offset: int = 0
) -> Answer:
    """Up to `limit` excerpts answering `question`, best first, skipping the first `offset`."""
    query = library.query(question)
    if not query.terms:
        return Answer(question, (), ())
    typed, question = question, _as_meant(library, question, query)
    if question != typed:  # the words meant, and the capitals telling names and initials apart
        query = library.query(question)
    asked = shape(question)
    focus = _focus_terms(asked, query)
    wanted = offset + limit + 1  # one more than shown tells whether there is more
    weights = _weights(asked, query)
    # "according to Reuters", "what did Bloomberg report": the publisher narrows the search, and
    # its name need not stand in the quote.
    publishers = [term for term in dict.fromkeys(query.terms) if term in library.publishers]
    for term in publishers:
        weights[term] = 0.0
    pool = max(wanted * CANDIDATES_PER_EXCERPT, FIRST_POOL) * (4 if publishers else 1)
    hits = library.search(dataclasses.replace(query, terms=_search_terms(query, weights)), pool)
    if publishers:
        theirs = frozenset().union(*(library.publishers[term] for term in publishers))
        hits = ([h for h in hits if h.passage.doc_id in theirs] or hits)[: pool // 4]
    if _ASKS_LATEST.search(question):  # "the latest": newer articles first among equals
        hits = _newest_first(library, hits)
    top_score = hits[0].score if hits else 1.0
    asking = asked_text(question, asked)
    names = tuple(name for name in _names(asking, query) if not name.terms <= set(publishers))
    asked_about = _Asked(asked, focus, question.casefold(), weights, sum(weights.values()) or 1.0,
                         _earliest_month(asking),
                         analysis.MEANINGFUL_STOP_WORDS.intersection(_WORDS.findall(asking.casefold())))

    @functools.cache
    def names_in(doc_id: str) -> bool:  # every name the question mentions stands in the article
        return all(name.in_article(library, doc_id) for name in names)

    candidates = [_best_excerpt(library, hit, query, asked_about, names_in) for hit in hits]

    # The asked thing named by a word no passage holds ("the president of France's *wife*"): the
    # corpus cannot say it for certain, however much of the rest of the question a passage holds.
    asked_unknown = asked.names_thing and bool(focus & query.unknown)

    def confident(excerpt: Excerpt) -> bool:
        return (excerpt.match >= min_match and excerpt.fits and excerpt.names_found and excerpt.in_time
                and not asked_unknown)

    # The best FIRST_POOL passages are ordered confident excerpts first, then by score; passages
    # ranked below them follow. Every page ("More quotes") sees the same first pool, so pages
    # continue one another whatever their size.
    head, tail = candidates[:FIRST_POOL], candidates[FIRST_POOL:]
    head.sort(key=lambda e: (not confident(e), -_rank_score(e, top_score, asked.wanted)))
    tail.sort(key=lambda e: -_rank_score(e, top_score, asked.wanted))
    candidates = head + tail
    least_terms = min(MIN_MATCHED_TERMS, len(query.weights))
    excerpts: list[Excerpt] = []
    seen: list[frozenset[str]] = []
    for excerpt in candidates:
        if excerpt.match < HEDGE_MATCH or excerpt.matched < least_terms:
            continue
        excerpt_terms = frozenset(analysis.terms(excerpt.text))
        if any(_overlap(excerpt_terms, other) >= DUPLICATE_OVERLAP for other in seen):
            continue
        seen.append(excerpt_terms)
        excerpts.append(excerpt)
        if len(excerpts) == wanted:
            break
    hedged = bool(excerpts) and not confident(excerpts[0])
    shown = excerpts[offset : offset + limit]
    return Answer(typed, query.terms, tuple(shown), more=len(excerpts) > offset + limit, hedged=hedged)


def _rank_score(excerpt: Excerpt, top_score: float, wanted: Wanted) -> float:
    """How excerpts are ordered (see the module docstring)."""
    type_weight = STRICT_TYPE_WEIGHT if wanted in _STRICT_TYPES else TYPE_WEIGHT
    return (excerpt.match + SCORE_WEIGHT * excerpt.score / top_score + type_weight * excerpt.fits
            - STALE_COST * (not excerpt.in_time)
            + FOCUS_WEIGHT * excerpt.focus - UNFINISHED_COST * (not _FINISHED.search(excerpt.text)))


_STRICT_TYPES = frozenset({Wanted.TIME, Wanted.COUNT, Wanted.DURATION})
_FINISHED = re.compile(r"[.!?…][\"'”’»)\]]*\s*$|[\"”’»]\s*$")


# --- choosing the window in one passage -------------------------------------------------------

# A sentence that continues the one before it: it opens with a quotation mark, a pronoun, a
# definite description of something just named ("The ministry said", "The news service described
# ...": "the" and a common noun, not a name), or a word that links it to what came before.
_CONTINUES = re.compile(  # used with .match(text, at): anchored where the sentence starts
    r"(?:[\"“”«„‘']|(?:He|She|It|They|We|His|Her|Its|Their|Such|Both)\b|(?:The|This|That|These|Those) [a-z]"
    r"|(?:According to|Asked|But|However|Yet|Still|Instead)\b)"
)
_OPENS_QUOTE = re.compile(r"[:]\s*$")
_SPACE = re.compile(r"\s*")
_WORDS = re.compile(r"[a-z]+")


@dataclass(frozen=True, slots=True)
class _Asked:
    """What one question asks, as excerpt choice needs it."""

    shape: Asked
    focus: frozenset[str]  # index terms of the asked thing's words
    question: str  # case-folded, to tell new numbers, dates and names from the question's own
    weights: Mapping[str, float]  # each question term's weight (the scene's words count less)
    total: float  # their sum
    since: str | None = None  # "YYYY-MM": the earliest month the question asks about, if it names one
    function_words: frozenset[str] = frozenset()  # the question's stop words that carry meaning ("only", "after")


def _best_excerpt(library: Library, hit: Hit, query: Query, asked: _Asked, names: Callable[[str], bool]) -> Excerpt:
    document = library.documents[hit.passage.doc_id]
    text, passage = document.text, hit.passage
    sentences = _sentences(text, passage.start, passage.end)
    # One sentence more on each side, from the neighbouring passages, where a window may cross
    # into it (a colon before the gap, or a continuing sentence after it).
    before = after = None
    if _continues(text, passage.start) or text[max(0, passage.start - 8) : passage.start].rstrip().endswith(":"):
        before = _neighbour_sentence(library, passage, -1, text)
    gap = _SPACE.match(text, passage.end)
    if text[sentences[-1][0] : sentences[-1][1]].endswith(":") or (gap and _continues(text, gap.end())):
        after = _neighbour_sentence(library, passage, +1, text)
    spans = ([before] if before else []) + sentences + ([after] if after else [])
    first_own = 1 if before else 0
    last_own = first_own + len(sentences) - 1
    found, others = _terms_found(text, spans[0][0], spans[-1][1], query)
    total = asked.total

    # Per sentence, once: the question terms it holds, their weight, and whether it holds the asked
    # kind of thing (a window holds it when one of its sentences does).
    held_in = [{f[2] for f in found if s <= f[0] and f[1] <= e} for s, e in spans]
    weight_of = [sum(asked.weights[t] for t in held) for held in held_in]
    fits_in = [_fits(asked, text[s:e]) for s, e in spans]
    # Stop words are not indexed, but some carry meaning ("only after", "not", "before"): a
    # sentence repeating them is closer to the question, other things equal.
    said_in = [len(asked.function_words.intersection(_WORDS.findall(text[s:e].casefold())))
               if asked.function_words else 0 for s, e in spans]
    # An answer tells something the question did not: a sentence that only restates the question
    # ("Angry crowds entered parliament" for "What befell the speaker when angry crowds entered
    # parliament?") is where the answer starts, not the answer. (For a question with an answer
    # type, the type check already asks for something new: a place, a number, a date.)
    untyped = asked.shape.wanted is Wanted.ANY
    new_in = [bisect.bisect_left(others, e) - bisect.bisect_left(others, s) for s, e in spans]

    best: tuple[float, int, int, float, bool, float] | None = None  # (score, start, end, weight, fits, focus)
    for i in range(len(spans)):
        for j in (i, i + 1):
            if j >= len(spans) or j < first_own or i > last_own:
                continue  # a window holds at least one sentence of the passage itself
            start, end = spans[i][0], spans[j][1]
            if j > i:
                crosses = i < first_own or j > last_own
                if (crosses and not _belong_together(text, spans[i], spans[j])) or end - start > MAX_EXCERPT_CHARS:
                    continue
            held = held_in[i] | held_in[j]
            weight = sum(asked.weights[t] for t in held)
            focus = len(held & asked.focus) / len(asked.focus) if asked.focus else 1.0
            fits = fits_in[i] or fits_in[j]
            score = (weight / total + TYPE_WEIGHT * fits + FOCUS_WEIGHT * focus
                     + FUNCTION_WORD_WEIGHT * (said_in[i] + (said_in[j] if j > i else 0))
                     - LENGTH_COST * (end - start) / 100)
            if untyped and new_in[i] + (new_in[j] if j > i else 0) < NEW_WORDS:
                score -= RESTATED_COST
            if j > i and weight_of[i] < weight_of[j]:
                score -= BACKWARD_COST
            if best is None or score > best[0] + 1e-9:
                best = (score, start, end, weight, fits, focus)
    assert best is not None  # a passage always has at least one sentence
    _, start, end, weight, fits, focus = best
    # A window ending in a colon announces what follows: quote that too ("According to him: “...”").
    following = next((s for s in spans if s[0] >= end), None)
    if following and text[start:end].rstrip().endswith(":"):
        if following[1] - start > MAX_EXCERPT_CHARS:  # too long with the first sentence: keep the colon's own
            start = max(s[0] for s in spans if s[0] < end)
        if following[1] - start <= MAX_EXCERPT_CHARS:
            end = following[1]
            held = {f[2] for f in found if start <= f[0] and f[1] <= end}
            weight = sum(asked.weights[t] for t in held)
            fits = _fits(asked, text[start:end])
    held_found = [f for f in found if start <= f[0] and f[1] <= end]
    marks = _merged((f_start - start, f_end - start) for f_start, f_end, _ in held_found)
    matched = len({term for _, _, term in held_found})
    names_found = names(passage.doc_id)
    in_time = not (asked.since and document.published and document.published[:7] < asked.since)
    return Excerpt(document, passage, start, end, hit.score, weight / total, matched, marks, fits, names_found,
                   in_time,
                   focus)


def _merged(spans: Iterable[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    """Spans sorted, overlapping ones joined (a compound's parts and the compound itself)."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return tuple(merged)


def _weights(asked: Asked, query: Query) -> dict[str, float]:
    """The question's term weights, with the words that only set the scene counting less: those of
    a scene-setting clause, and dates ("in May 2021"), which narrow down where the answer is
    (the article's date often says it) but need not stand in the quote."""
    asking_text = asked_text(query.text, asked)
    scene = {query.corrections.get(term, term) for term in analysis.terms(asked.context)}
    asking = {query.corrections.get(term, term) for term in analysis.terms(_DATE_WORDS.sub(" ", asking_text))}
    scene |= {term for term in query.weights if term not in asking}
    degree = set(analysis.terms(asked.degree))  # "how long": the question word, not what it asks about
    return {term: 0.0 if term in degree else weight * (CONTEXT_WEIGHT if term in scene and term not in asking else 1.0)
            for term, weight in query.weights.items()}


_ASKS_LATEST = re.compile(r"\b(?:latest|most recent|newest|last|currently|now)\b", re.IGNORECASE)


def _newest_first(library: Library, hits: list[Hit]) -> list[Hit]:
    """Hits scored up by how recent their article is (the newest by RECENT_SHARE of the best score)."""
    if not hits:
        return hits
    dates = sorted({library.documents[h.passage.doc_id].published or "" for h in hits})
    top = hits[0].score
    rank = {date: i / max(1, len(dates) - 1) for i, date in enumerate(dates)}
    boosted = [Hit(h.passage, h.score + RECENT_SHARE * top * rank[library.documents[h.passage.doc_id].published or ""])
               for h in hits]
    return sorted(boosted, key=lambda h: -h.score)


def _search_terms(query: Query, weights: Mapping[str, float]) -> tuple[str, ...]:
    """The terms to rank passages by: the asking words twice when some words only set the scene,
    so that BM25 (which counts a repeated query word again) weighs them two to one."""
    if all(weights[term] == query.weights[term] for term in query.weights):
        return query.terms
    asking = tuple(term for term in dict.fromkeys(query.terms) if weights[term] == query.weights[term])
    return tuple(term for term in query.terms if weights[term] > 0) + asking


def asked_text(question: str, asked: Asked) -> str:
    """The question without its scene-setting clause."""
    at = question.find(asked.context) if asked.context else -1
    return question[:at] + question[at + len(asked.context):] if at >= 0 else question


def _focus_terms(asked: Asked, query: Query) -> frozenset[str]:
    terms = {query.corrections.get(term, term) for word in asked.focus for term in analysis.terms(word)}
    return frozenset(terms & query.weights.keys())


def _sentences(text: str, start: int, end: int) -> list[tuple[int, int]]:
    spans = sentence_spans(text, start, end)
    return [s for s in spans if not is_heading(text[s[0] : s[1]])] or spans


def _neighbour_sentence(library: Library, passage: Passage, step: int, text: str) -> tuple[int, int] | None:
    """The last sentence of the passage before (step -1) or the first of the one after (+1), if
    it is short enough to be quoted with another (only that end of the passage is read)."""
    neighbour = library.passage(passage_id(passage.doc_id, passage.number + step))
    if neighbour is None:
        return None
    if step < 0:
        start = max(neighbour.start, neighbour.end - MAX_EXCERPT_CHARS)
        spans = _sentences(text, start, neighbour.end)
        return spans[-1] if spans and (spans[-1][0] > start or start == neighbour.start) else None
    end = min(neighbour.end, neighbour.start + MAX_EXCERPT_CHARS)
    spans = _sentences(text, neighbour.start, end)
    return spans[0] if spans and (spans[0][1] < end or end == neighbour.end) else None


def _continues(text: str, at: int) -> bool:
    return bool(_CONTINUES.match(text, at))


def _belong_together(text: str, first: tuple[int, int], second: tuple[int, int]) -> bool:
    """Whether `second` continues `first` (see `_CONTINUES`), so one may be quoted with the other."""
    return bool(_OPENS_QUOTE.search(text[first[0] : first[1]]) or _continues(text, second[0]))


def _terms_found(text: str, start: int, end: int, query: Query) -> tuple[list[tuple[int, int, str]], list[int]]:
    """The question's terms in ``text[start:end]``, as spans of the document's text, and where
    each other word (stop words aside) starts: the words a window tells beyond the question."""
    found, others = analysis.spans_and_others(text[start:end], query.weights)
    return [(s + start, e + start, term) for s, e, term in found], [at + start for at in others]


# --- answer types ---------------------------------------------------------------------------

_MONTHS = (r"January|February|March|April|May|June|July|August|September|October|November|December|"
           r"Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept?|Oct|Nov|Dec")
_TIME = re.compile(
    rf"\b(?:1[5-9]\d\d|20\d\d|\d{{1,2}}(?:st|nd|rd|th)|(?:{_MONTHS})\.?\s+\d{{1,2}}|\d{{1,2}}\s+(?:{_MONTHS})|"
    r"\d{1,2}:\d\d|Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday|yesterday|today|tonight|"
    r"tomorrow|(?:last|next|this|earlier|later) (?:week|month|year|day)|ago|(?:19|20)\d0s|"
    rf"(?:in|since|until|by|from) (?:{_MONTHS}))\b"
)
_NUMBER_WORDS = (r"one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|"
                 r"sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|"
                 r"hundreds?|thousands?|millions?|billions?|dozens?|several|half")
_COUNT = re.compile(rf"(?<![\w.,])\d[\d,.]*%?|\b(?:{_NUMBER_WORDS})\b", re.IGNORECASE)
_DURATION = re.compile(
    rf"\b(?:\d[\d,.]*|{_NUMBER_WORDS}|a|an|few|many)[\s-]+(?:\w+[\s-]+)?(?:minute|hour|day|week|month|year|decade)s?\b"
    r"|\b(?:indefinitely|permanently|unconditionally)\b",
    re.IGNORECASE,
)
_NAME = re.compile(r"(?<=[a-z,;:]\s)[A-Z][a-z]+(?:[\s-][A-Z][a-z]+)*|[A-Z][a-z]+\s[A-Z][a-z]+")
_REASON = re.compile(
    r"\b(?:because|due to|owing to|as a result|in order to|so that|so as to|in response to|amid|aimed at|"
    r"in an attempt to|to (?:ensure|prevent|protect|help|avoid|stop|defend|keep)|reasons?|purpose|motive|"
    r"caused by|after)\b",
    re.IGNORECASE,
)
_SPEECH = re.compile(
    r"[\"“”«»]|\b(?:said|says|stated|told|noted|added|stressed|emphasi[sz]ed|described|called|warned|"
    r"claimed|declared|announced|accused|insisted|explained|replied|responded|according to)\b",
    re.IGNORECASE,
)
_TYPE_PATTERNS = {
    Wanted.TIME: _TIME, Wanted.COUNT: _COUNT, Wanted.DURATION: _DURATION, Wanted.PERSON: _NAME,
    Wanted.PLACE: _NAME, Wanted.REASON: _REASON, Wanted.SPEECH: _SPEECH,
}


def _fits(asked: _Asked, excerpt: str) -> bool:
    """Whether `excerpt` holds a thing of the asked kind that the question did not already say;
    for a count, a number attached to the asked thing when the question names it ("how many
    *mines*": "97,000 planted anti-tank and anti-personnel mines")."""
    wanted = asked.shape.wanted
    pattern = _TYPE_PATTERNS.get(wanted)
    if pattern is None:
        return True
    for match in pattern.finditer(excerpt):
        if _LEADING_ARTICLE.sub("", match.group()).casefold() in asked.question:
            continue  # the question's own name ("The Central Electoral Commission" for "... Central Electoral ...")
        if wanted is not Wanted.COUNT:
            return True
        if (_YEAR.fullmatch(match.group()) or _DATE_AROUND.match(excerpt, match.end())
                or _DATE_BEFORE.search(excerpt, 0, match.start())):
            continue  # "June 20", "20 June", "2018": a date, not a count
        following = excerpt[match.end() : match.end() + _COUNTED_WITHIN]
        if not asked.focus or asked.focus & set(analysis.terms(following)):
            return True
    return False


_LONGEST_QUESTION = 400  # characters: about 60 words, more than any question of the question sets


def _as_meant(library: Library, question: str, query: Query) -> str:
    """The question with its misspelt words as meant ("wich georgian leader": which), and, if
    typed without capitals ("what did putin promise the csto"), written as the corpus writes its
    words ("what did Putin promise the CSTO"). Which words ask, the names, initials and the asked
    verb are all told apart on the text; possessives by their apostrophe ("frances wife":
    France’s). A question with a capital beyond its first letter keeps its case, and one longer
    than any question is left as typed (each word costs a look at a few passages: a
    4,096-character message must not cost seconds)."""
    lower = not any(ch.isupper() for ch in question[1:])
    if len(question) > _LONGEST_QUESTION or not (lower or query.respelled or query.unknown):
        return question  # the common case, at no cost: a question typed with capitals and no typo
    pieces = []
    done = 0
    for token in analysis.tokens(question):
        if token.start < done:
            continue  # the joined form of a hyphenated compound, after its parts
        word = written = question[token.start : token.end]
        term = token.term
        if term in query.unknown or word.casefold() in query.respelled:
            meant = question_word_meant(word) or query.respelled.get(word.casefold())
        else:
            meant = None
        if meant:
            written = meant if word.islower() else meant[0].upper() + meant[1:]
            term = analysis.term_of(meant)
        if lower and term:
            as_in_corpus = library.spelling_of(term, written)
            written = as_in_corpus or written
            if as_in_corpus is None and not spelling.is_english(written):  # "shoygu" for Shoigu, "dvornikv"
                like = library.spelling_of(query.corrections.get(term, term))
                if like and like.isupper() and len(like) > 1:
                    written = written.upper()
                elif like and like[0].isupper():
                    written = written[0].upper() + written[1:]
        pieces += [question[done : token.start], written]
        done = token.end
    return "".join(pieces) + question[done:]


_LEADING_ARTICLE = re.compile(r"^(?:The|A|An|This|That|These|Those)\s+")  # capitalised as a sentence opens
_COUNTED_WITHIN = 60  # characters after a number in which the counted thing is named
_DATE_AROUND = re.compile(rf"\s*(?:{_MONTHS})\b|,?\s*(?:19|20)\d\d\b")
_DATE_BEFORE = re.compile(rf"\b(?:{_MONTHS})\.?\s*$")
_YEAR = re.compile(r"(?:19|20)\d\d")


# A name the question mentions: a capitalised word that does not start the question (or a
# sentence in it), or an acronym anywhere.
_QUESTION_NAME = re.compile(
    r"(?:(?<![.?!]\s)(?<!^)\b[A-Z][\w’'-]*|\b[A-Z]{2,}\b)(?:\s+(?:(?:of|the|and|for)\s+)*[A-Z][\w’'-]*)*"
)


_DATE_WORDS = re.compile(rf"\b(?:(?:in|on|since|until|by|during|of)\s+)?(?:(?:{_MONTHS})\.?\s+)?"
                         rf"(?:\d{{1,2}}(?:st|nd|rd|th)?,?\s+)?(?:19|20)\d\d\b|\b(?:{_MONTHS})\.?\s+\d{{1,2}}\b",
                         re.IGNORECASE)
_CALENDAR = re.compile(rf"(?:{_MONTHS}|Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)\.?", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class _Name:
    """A name the question mentions: its words' terms, and the initials it may be written as."""

    terms: frozenset[str]
    acronyms: frozenset[str]

    def in_article(self, library: Library, doc_id: str) -> bool:
        return (all(library.in_document(doc_id, term) for term in self.terms)
                or any(library.in_document(doc_id, acronym) for acronym in self.acronyms))


def _names(question: str, query: Query) -> tuple[_Name, ...]:
    """The names in `question` (misspellings corrected as the query has them)."""
    names = []
    for match in _QUESTION_NAME.finditer(question.strip()):
        words = [w for w in match.group().split() if not _CALENDAR.fullmatch(w)]  # months name no one
        terms = {query.corrections.get(term, term) for word in words for term in analysis.terms(word)}
        terms &= query.weights.keys()
        if terms:
            acronyms = frozenset(analysis.acronym_terms(match.group())) & query.weights.keys()
            names.append(_Name(frozenset(terms), acronyms))
    return tuple(names)


_MONTH_NUMBERS = {name: number for number, names in enumerate(
    ("jan january", "feb february", "mar march", "apr april", "may", "jun june", "jul july", "aug august",
     "sep sept september", "oct october", "nov november", "dec december"), start=1) for name in names.split()}
_MONTH_YEAR = re.compile(rf"\b(?:(?P<month>{_MONTHS})\.?\s+(?:\d{{1,2}},?\s+)?)?(?P<year>(?:19|20)\d\d)\b",
                         re.IGNORECASE)


def _earliest_month(question: str) -> str | None:
    """The earliest "YYYY-MM" the question names ("in September 2022", "in 2021": "2021-01"), or None."""
    months = []
    for found in _MONTH_YEAR.finditer(question):
        month = _MONTH_NUMBERS.get((found.group("month") or "jan").casefold().rstrip("."), 1)
        months.append(f"{found.group('year')}-{month:02d}")
    return min(months, default=None)


def _overlap(a: frozenset[str], b: frozenset[str]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / min(len(a), len(b))
