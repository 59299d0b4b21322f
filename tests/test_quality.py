"""The quality bar of issue 2, measured on the question set in tests/data/questions.jsonl.

hit@k: an expected answer string appears inside one of the first k quoted excerpts.
"""

from pathlib import Path

import pytest

from bot.answers import answer_question
from bot.evaluation import evaluate, read_cases
from bot.retrieval.library import load_library
from bot.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = ROOT / "tests" / "data" / "questions.jsonl"


@pytest.fixture(scope="module")
def report():
    defaults = Settings.model_construct()  # the shipped defaults, whatever the environment says
    library, problems = load_library(ROOT / "corpus", max_file_bytes=defaults.max_file_bytes)
    assert not problems
    cases = read_cases(QUESTIONS)
    return evaluate(
        cases, lambda q: answer_question(library, q, limit=defaults.top_k, min_match=defaults.min_match)
    )


def test_question_set_is_big_and_varied_enough():
    cases = read_cases(QUESTIONS)
    assert len(cases) >= 40
    assert sum(case.answers is None for case in cases) >= 6


def test_hit_at_1_is_at_least_90_percent(report):
    assert report.hit_at(1) >= 0.90, [o.case.question for o in report.failures()]


def test_hit_at_3_is_at_least_97_percent(report):
    assert report.hit_at(3) >= 0.97, [o.case.question for o in report.failures()]


def test_every_unanswerable_question_is_refused(report):
    refused, total = report.correct_refusals
    assert refused == total, [o.case.question for o in report.outcomes if o.case.answers is None and not o.refused]


def test_at_most_one_answerable_question_is_refused(report):
    refused, _ = report.wrong_refusals
    assert refused <= 1
