"""`python -m bot eval QUESTIONS --ablation`: what each answer mechanism adds.

Runs a question file with the bot as it is, with one mechanism at a time switched off, and with
plain BM25 (BM25Okapi, whitespace tokens, the whole passage quoted) over the same passages, and
prints hit@1 / hit@3 by question kind plus the refusals: the ablation table in README ("Answer
quality").

A mechanism is switched off by setting the constants of `bot.answers` that carry it to their
neutral value, so the table measures the code that runs, not a copy of it. The analyzer's
additions (hyphen compounds, number words, agent nouns) change the index, so they are measured
by building the index again with `bot.retrieval.analysis` patched back.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from unittest import mock

from bot import answers, questions
from bot.evaluation import Case, Report, evaluate, plain_bm25_asker
from bot.retrieval import analysis
from bot.retrieval.library import Library

TOP_K = 3


def _patched(module: object = answers, **constants: object) -> Callable[[], contextlib.AbstractContextManager[object]]:
    def patch() -> contextlib.AbstractContextManager[object]:
        stack = contextlib.ExitStack()
        for name, value in constants.items():
            stack.enter_context(mock.patch.object(module, name, value))
        return stack
    return patch


def _all(*patches: Callable[[], contextlib.AbstractContextManager[object]]
         ) -> Callable[[], contextlib.AbstractContextManager[object]]:
    def patch() -> contextlib.AbstractContextManager[object]:
        stack = contextlib.ExitStack()
        for each in patches:
            stack.enter_context(each())
        return stack
    return patch


@contextlib.contextmanager
def _plain_analyzer() -> Iterator[None]:
    """The analyzer without hyphen compounds, number words, agent nouns, British spellings and the
    demonym table (the -ian suffix rule stays)."""
    plain_tokens = analysis.tokens

    def tokens(text: str) -> Iterator[analysis.Token]:
        return (t for t in plain_tokens(text) if not any(h in text[t.start : t.end] for h in "-\u2010\u2011"))

    with mock.patch.object(analysis, "_NUMBER_WORDS", {}), mock.patch.object(analysis, "_AGENT", _NEVER), \
            mock.patch.object(analysis, "tokens", tokens), mock.patch.object(analysis, "_HYPHENS", ""), \
            mock.patch.object(analysis, "BRITISH_ENGLISH_SPELLINGS", {}), \
            mock.patch.object(analysis, "_country_of", lambda word: word):
        analysis.term_of.cache_clear()
        try:
            yield
        finally:
            analysis.term_of.cache_clear()


class _Never:
    def match(self, _: str) -> None:
        return None

    def search(self, _: str) -> None:
        return None


_NEVER = _Never()

# (name, what is switched off) -> how
VARIANTS: dict[str, Callable[[], contextlib.AbstractContextManager[object]]] = {
    "the bot": _patched(),
    "- answer types (time, count, quote ...)": _patched(TYPE_WEIGHT=0.0, STRICT_TYPE_WEIGHT=0.0),
    "- the asked thing's words (focus)": _patched(FOCUS_WEIGHT=0.0),
    "- the speaker as a quote's focus": _patched(questions, _SPEAKER=_NEVER),
    "- \"how long\": its adjective not searched": _patched(questions, _DEGREE=_NEVER),
    "- meaningful stop words (\"only after\") choosing the window": _patched(FUNCTION_WORD_WEIGHT=0.0),
    "- a window restating the question ranks lower": _patched(RESTATED_COST=0.0),
    "- a compound the corpus never writes as one word left to its parts": _patched(analysis,
                                                                                   is_compound=lambda _: False),
    "- scene and date words counting less": _patched(CONTEXT_WEIGHT=1.0),
    "- windows across paragraphs (quotes, pronouns, colons)": _patched(_neighbour_sentence=lambda *_: None),
    "- capitals from the corpus (questions typed in lower case)": _patched(
        _as_meant=lambda library, question, query: question),
    "- typos of English words read as the word meant (villge, waht)": _all(
        _patched(Library, _respelling=lambda self, word: None), _patched(question_word_meant=lambda word: None)),
    "- names checked in the article (hedging)": _patched(_names=lambda question, query: ()),
    "- captions rank lower": _patched(UNFINISHED_COST=0.0),
}


def _row(name: str, report: Report, kinds: list[str]) -> str:
    cells = []
    for kind in kinds:
        part = report.by_kind().get(kind)
        if part is None or not part.wrong_refusals[1]:
            continue
        cells.append(f"{part.hit_at(1):.0%} / {part.hit_at(3):.0%}")
    right, unanswerable = report.correct_refusals
    wrong, answerable = report.wrong_refusals
    total = f"**{report.hit_at(1):.1%} / {report.hit_at(3):.1%}**"
    return f"| {name} | {total} | " + " | ".join(cells) + f" | {right} of {unanswerable} | {wrong} of {answerable} |"


def ablation_table(cases: list[Case], build: Callable[[], Library], *, top_k: int, min_match: float) -> str:
    """The ablation table (Markdown) for `cases` over the library `build` makes (called again,
    with the analyzer patched, for the analyzer's row)."""
    kinds = sorted({c.kind for c in cases if c.answers is not None})
    library = build()

    def bot(on: Library) -> Report:
        return evaluate(cases, lambda q: answers.answer_question(on, q, limit=top_k, min_match=min_match))

    lines = ["| | hit@1 / hit@3 | " + " | ".join(kinds) + " | unanswerable refused | answerable refused |",
             "|---|---|" + "---|" * len(kinds) + "---|---|",
             _row("plain BM25 (BM25Okapi, whitespace tokens, whole passage)",
                  evaluate(cases, plain_bm25_asker(library, top_k)), kinds)]
    for name, variant in VARIANTS.items():
        with variant():
            lines.append(_row(name, bot(library), kinds))
    with _plain_analyzer():
        lines.append(_row("- hyphen compounds, number words, agent nouns, British spellings, demonyms in the analyzer",
                          bot(build()), kinds))
    return "\n".join(lines)
