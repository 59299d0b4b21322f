"""Measuring answer quality on a question file.

A question file is JSON lines: ``{"question": str, "answers": [str, ...] | null}``.
``answers`` are strings that a correct excerpt contains verbatim; ``null`` marks
a question the corpus cannot answer, which the bot must refuse.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.answers import Answer


class QuestionFileError(ValueError):
    """The question file is malformed; the message names the line."""


@dataclass(frozen=True, slots=True)
class Case:
    question: str
    answers: tuple[str, ...] | None  # None: the corpus has no answer


@dataclass(frozen=True, slots=True)
class Outcome:
    case: Case
    rank: int | None  # 1-based position of the first excerpt holding an answer string
    refused: bool


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
        cases = self._unanswerable()
        return sum(o.refused for o in cases), len(cases)

    @property
    def wrong_refusals(self) -> tuple[int, int]:
        cases = self._answerable()
        return sum(o.refused for o in cases), len(cases)

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
            if not isinstance(question, str) or not question.strip() or not (
                answers is None
                or (isinstance(answers, list) and answers and all(isinstance(a, str) and a for a in answers))
            ):
                raise TypeError
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError):
            raise QuestionFileError(
                f'{path}:{number}: expected {{"question": "...", "answers": ["...", ...] or null}} '
                "(answers: strings a correct excerpt contains, or null for a question the bot must refuse)"
            ) from None
        cases.append(Case(question, tuple(answers) if answers is not None else None))
    if not cases:
        raise QuestionFileError(f"{path}: the question file holds no questions")
    return cases


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
        outcomes.append(Outcome(case, rank, not answer.answered))
    return Report(tuple(outcomes))
