"""From ranked passages to an answer: the best sentences, quoted verbatim, with citations.

For each top passage the excerpt is the window of one or two consecutive
sentences that holds the most of the question's weight (idf of the question
terms it contains). An excerpt is a span of the article text, never rewritten.

Refusal: an excerpt is quoted only when it holds at least `min_match` of the
question's total term weight, and at least two distinct question terms (one
for a one-word question). A question with no such excerpt is refused. Terms the corpus has never
seen weigh the most, so "Who painted the Mona Lisa?" (no corpus term at all)
and "What is the exchange rate of the euro?" (one weak term) are refused. The
default threshold was calibrated on tests/data/questions.jsonl: see
`python -m bot eval tests/data/questions.jsonl`.

Answer types: a "when" question is answered only by an excerpt that names a
time (a date, a year, a weekday...), a "how many" question only by one that
holds a number. "When was the CSTO founded?" matches "its founding treaty"
word for word, but that sentence gives no date, so the bot says it does not know.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.retrieval import analysis
from bot.corpus.articles import Document
from bot.corpus.passages import Passage, is_heading, sentence_spans
from bot.retrieval.library import Hit, Library, Query

MAX_SENTENCES = 2
MIN_MATCHED_TERMS = 2  # an excerpt must hold two of the question's terms (or its only one)
SCORE_WEIGHT = 1.0  # excerpts are ordered by match + SCORE_WEIGHT * (passage score / best score)
CANDIDATES_PER_EXCERPT = 4  # passages ranked per excerpt wanted, to survive de-duplication
DUPLICATE_OVERLAP = 0.8  # excerpts sharing this share of the shorter one's terms are shown once


@dataclass(frozen=True, slots=True)
class Excerpt:
    document: Document
    passage: Passage
    start: int  # span of the document's text
    end: int
    score: float  # the passage's BM25+ score
    match: float  # share of the question's term weight this excerpt holds, 0..1
    matched: int  # how many distinct question terms the excerpt holds
    marks: tuple[tuple[int, int], ...]  # spans of question terms, relative to `text`

    @property
    def text(self) -> str:
        return self.document.text[self.start : self.end]


@dataclass(frozen=True, slots=True)
class Answer:
    question: str
    terms: tuple[str, ...]
    excerpts: tuple[Excerpt, ...]
    more: bool = False  # further excerpts exist beyond these (ask with a larger offset)

    @property
    def answered(self) -> bool:
        return bool(self.excerpts)


# What some questions ask for, and what an excerpt must hold to answer them.
_ASKS_WHEN = re.compile(r"\b(when|what (year|date|day|month|time)|how long ago)\b", re.IGNORECASE)
_ASKS_COUNT = re.compile(r"\bhow (many|much)\b", re.IGNORECASE)
_TIME = re.compile(
    r"\b(1[5-9]\d\d|20\d\d|\d{1,2}(st|nd|rd|th)|January|February|March|April|May|June|July|August|September|"
    r"October|November|December|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept?|Oct|Nov|Dec|Monday|Tuesday|Wednesday|"
    r"Thursday|Friday|Saturday|Sunday|yesterday|today|tonight|tomorrow|morning|evening|night|ago|"
    r"(day|week|month|year|decade|centur(y|ie))s?|1990s|\d{4}s)\b",
    re.IGNORECASE,
)
_NUMBER = re.compile(
    r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|hundreds?|"
    r"thousands?|millions?|billions?|dozens?|several|few|single|once|twice|half)\b",
    re.IGNORECASE,
)


def _fits(question: str) -> re.Pattern[str] | None:
    """For 'when' and 'how many' questions, the pattern an answering excerpt must contain."""
    if _ASKS_WHEN.search(question):
        return _TIME
    if _ASKS_COUNT.search(question):
        return _NUMBER
    return None


def answer_question(
    library: Library, question: str, *, limit: int, min_match: float, offset: int = 0
) -> Answer:
    """Up to `limit` excerpts answering `question`, best first, skipping the first `offset`."""
    query = library.query(question)
    if not query.terms:
        return Answer(question, (), ())
    wanted = offset + limit + 1  # one more than shown tells whether there is more
    hits = library.search(query, wanted * CANDIDATES_PER_EXCERPT)
    candidates = [_best_excerpt(library, hit, query) for hit in hits]
    needed = _fits(question)
    if needed is not None:
        candidates = [e for e in candidates if needed.search(e.text)]
    top_score = hits[0].score if hits else 1.0
    candidates.sort(key=lambda e: -(e.match + SCORE_WEIGHT * e.score / top_score))
    excerpts: list[Excerpt] = []
    seen: list[frozenset[str]] = []
    for excerpt in candidates:
        if excerpt.match < min_match or excerpt.matched < min(MIN_MATCHED_TERMS, len(query.weights)):
            continue
        excerpt_terms = frozenset(analysis.terms(excerpt.text))
        if any(_overlap(excerpt_terms, other) >= DUPLICATE_OVERLAP for other in seen):
            continue
        seen.append(excerpt_terms)
        excerpts.append(excerpt)
        if len(excerpts) == wanted:
            break
    shown = excerpts[offset : offset + limit]
    return Answer(question, query.terms, tuple(shown), more=len(excerpts) > offset + limit)


def _best_excerpt(library: Library, hit: Hit, query: Query) -> Excerpt:
    document = library.documents[hit.passage.doc_id]
    text, offset = document.text, hit.passage.start
    sentences = sentence_spans(text, offset, hit.passage.end)
    sentences = [s for s in sentences if not is_heading(text[s[0] : s[1]])] or sentences
    # The question's terms in the passage, as spans of the document's text.
    found = [
        (t.start + offset, t.end + offset, t.term)
        for t in analysis.tokens(hit.passage.text)
        if t.term in query.weights
    ]

    def inside(start: int, end: int) -> list[tuple[int, int, str]]:
        return [f for f in found if start <= f[0] and f[1] <= end]

    best: tuple[float, int, int, int] | None = None  # (weight, -length, start, end)
    for first in range(len(sentences)):
        for last in range(first, min(first + MAX_SENTENCES, len(sentences))):
            start, end = sentences[first][0], sentences[last][1]
            weight = sum(query.weights[term] for term in {f[2] for f in inside(start, end)})
            candidate = (round(weight, 9), -(end - start), start, end)
            if best is None or candidate[:2] > best[:2]:
                best = candidate
    assert best is not None  # a passage always has at least one sentence
    weight, _, start, end = best
    held = inside(start, end)
    marks = tuple((f_start - start, f_end - start) for f_start, f_end, _ in held)
    matched = len({term for _, _, term in held})
    share = weight / (query.total_weight or 1.0)
    return Excerpt(document, hit.passage, start, end, hit.score, share, matched, marks)


def _overlap(a: frozenset[str], b: frozenset[str]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / min(len(a), len(b))
