"""Measuring answer quality on a question file, by question kind, beside a plain baseline.

A question file is JSON lines: ``{"question": str, "answers": [str, ...] | null, "kind": str}``.
``answers`` are strings that a correct excerpt contains verbatim; ``null`` marks a question the
corpus cannot answer, which the bot must refuse. ``kind`` (optional) groups the figures.

Outcomes: an answerable question is *hit at k* when an answer string stands in one of the first
k excerpts, hedged or not; it is *refused* only when the bot quotes nothing at all (a hedged
answer, "the closest passages, may not answer it", is counted apart). An unanswerable question
is *refused* when the bot gives no confident answer: it quotes nothing, or only hedges.

The baseline (`plain_bm25_asker`) is what every change is judged against: rank-bm25's
BM25Okapi over the same passages, lowercased whitespace tokens, the whole passage as the quote,
never refusing.
"""

from __future__ import annotations

import dataclasses
import json
import random
import re
import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.answers import Answer, Excerpt
from bot.retrieval.bm25_reference import PlainBm25
from bot.retrieval.library import Library


class QuestionFileError(ValueError):
    """The question file is malformed; the message names the line."""


@dataclass(frozen=True, slots=True)
class Case:
    question: str
    answers: tuple[str, ...] | None  # None: the corpus has no answer
    kind: str = ""  # lookup, paraphrase, unanswerable ... ("" when the file does not say)


@dataclass(frozen=True, slots=True)
class Outcome:
    case: Case
    rank: int | None  # 1-based position of the first excerpt holding an answer string
    refused: bool  # no confident answer (nothing quoted, or only a hedged answer)
    hedged: bool = False  # the closest passages were quoted, labelled as possibly not answering


@dataclass(frozen=True, slots=True)
class Report:
    outcomes: tuple[Outcome, ...]

    def _answerable(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.case.answers is not None]

    def _unanswerable(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.case.answers is None]

    def hit_at(self, k: int) -> float:
        cases = self._answerable()
        return sum(1 for o in cases if o.rank is not None and o.rank <= k) / len(cases) if cases else 0.0

    @property
    def mrr(self) -> float:
        cases = self._answerable()
        return sum(1 / o.rank for o in cases if o.rank) / len(cases) if cases else 0.0

    @property
    def correct_refusals(self) -> tuple[int, int]:
        """Unanswerable questions given no confident answer (hedged ones included), of all."""
        cases = self._unanswerable()
        return sum(o.refused for o in cases), len(cases)

    @property
    def wrong_refusals(self) -> tuple[int, int]:
        """Answerable questions answered with nothing at all (not even hedged), of all."""
        cases = self._answerable()
        return sum(o.refused and not o.hedged for o in cases), len(cases)

    @property
    def hedged(self) -> tuple[int, int]:
        """(answerable questions hedged, unanswerable questions hedged)."""
        return sum(o.hedged for o in self._answerable()), sum(o.hedged for o in self._unanswerable())

    def by_kind(self) -> dict[str, Report]:
        kinds: dict[str, list[Outcome]] = {}
        for outcome in self.outcomes:
            kinds.setdefault(outcome.case.kind, []).append(outcome)
        return {kind: Report(tuple(outcomes)) for kind, outcomes in sorted(kinds.items())}

    def failures(self) -> list[Outcome]:
        """Questions answered wrongly: refused when answerable (or the reverse), or not answered first."""
        return [
            o
            for o in self.outcomes
            if (o.case.answers is None) != o.refused or (o.case.answers is not None and o.rank != 1)
        ]


def read_cases(path: Path) -> list[Case]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise QuestionFileError(f"{path}: cannot read the question file ({error})") from None
    cases: list[Case] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            question = record["question"]
            # "answers" is required: a misspelled key must not silently turn a question into
            # one the bot has to refuse. A list needs at least one non-empty string ("" is in
            # every excerpt, and [] could never be hit).
            answers = record["answers"]
            kind = record.get("kind", "")
            if not isinstance(question, str) or not question.strip() or not isinstance(kind, str) or not (
                answers is None
                or (isinstance(answers, list) and answers and all(isinstance(a, str) and a for a in answers))
            ):
                raise TypeError
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError, RecursionError):
            raise QuestionFileError(
                f'{path}:{number}: expected {{"question": "...", "answers": ["...", ...] or null, "kind": "..."}} '
                "(answers: strings a correct excerpt contains, or null for a question the bot must refuse; "
                "kind optional)"
            ) from None
        cases.append(Case(question, tuple(answers) if answers is not None else None, kind))
    if not cases:
        raise QuestionFileError(f"{path}: the question file holds no questions")
    return cases


def as_typed(case: Case) -> Case:
    """The question as chat users often type it: lower case, without its question mark and
    apostrophes ("whats armenias request"), to measure what capitals and punctuation are worth."""
    typed = _TYPED_AWAY.sub("", case.question.casefold()).strip()
    return dataclasses.replace(case, question=typed)


_TYPED_AWAY = re.compile(r"[?'’]")


def with_typo(case: Case, rng: random.Random) -> Case:
    """The question with one typing error in one of its words of five letters or more, chosen
    by `rng`: a letter dropped, added or replaced, or two neighbours swapped (never the first or
    last letter), to measure how the bot copes with typos in any word, not only in names."""
    words = list(_TYPO_WORD.finditer(case.question))
    if not words:
        return case
    found = rng.choice(words)
    word, at = found.group(), rng.randrange(1, len(found.group()) - 1)
    edit = rng.choice("drsi")
    letter = rng.choice(string.ascii_lowercase)
    typo = {"d": word[:at] + word[at + 1 :], "r": word[:at] + letter + word[at + 1 :],
            "s": word[:at] + word[at + 1] + word[at] + word[at + 2 :], "i": word[:at] + letter + word[at:]}[edit]
    return dataclasses.replace(case, question=case.question[: found.start()] + typo + case.question[found.end() :])


_TYPO_WORD = re.compile(r"[A-Za-z]{5,}")


def evaluate(cases: Sequence[Case], ask: Callable[[str], Answer]) -> Report:
    outcomes = []
    for case in cases:
        answer = ask(case.question)
        rank = None
        if case.answers:
            for position, excerpt in enumerate(answer.excerpts, start=1):
                if any(expected in excerpt.text for expected in case.answers):
                    rank = position
                    break
        outcomes.append(Outcome(case, rank, not answer.answered, answer.hedged))
    return Report(tuple(outcomes))


def plain_bm25_asker(library: Library, limit: int) -> Callable[[str], Answer]:
    """The baseline: BM25Okapi over lowercased whitespace tokens of the library's passages, the
    whole passage quoted, nothing ever refused."""
    passages = list(library.passages)
    ranker = PlainBm25([p.text for p in passages])

    def ask(question: str) -> Answer:
        excerpts = []
        for i, score in ranker.top(question, limit):
            passage = passages[i]
            document = library.documents[passage.doc_id]
            excerpts.append(Excerpt(document, passage, passage.start, passage.end, score, 1.0, 0, ()))
        return Answer(question, tuple(question.split()), tuple(excerpts))

    return ask
