"""Answers rendered for a terminal (plain text) and for programs (JSON)."""

from __future__ import annotations

from typing import Any

from bot.answers import HEDGED_NOTE, Answer, Excerpt
from bot.corpus.articles import citation

NOT_IN_CORPUS = "The corpus has nothing on that. Try other words, or run 'python -m bot sources' to see what it covers."
NO_TERMS = "Ask a question with a few specific words in it, for example: Why did Russia deploy border guards in Syunik?"
_BOLD, _RESET = "\033[1m", "\033[0m"


def render_answer(answer: Answer, *, color: bool = False) -> str:
    if not answer.terms:
        return NO_TERMS
    if not answer.excerpts:
        return NOT_IN_CORPUS
    blocks = [HEDGED_NOTE] if answer.hedged else []
    for number, excerpt in enumerate(answer.excerpts, start=1):
        quote = _marked(excerpt) if color else excerpt.text
        lines = [f"[{number}] {quote}", f"    — {citation(excerpt.document, excerpt.passage.number)}"]
        if excerpt.document.url:
            lines.append(f"      {excerpt.document.url}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def _marked(excerpt: Excerpt) -> str:
    text, pieces, position = excerpt.text, [], 0
    for start, end in excerpt.marks:
        pieces += [text[position:start], _BOLD, text[start:end], _RESET]
        position = end
    pieces.append(text[position:])
    return "".join(pieces)


def answer_json(answer: Answer) -> dict[str, Any]:
    """The documented JSON shape (README: 'ask --json')."""
    return {
        "question": answer.question,
        "answered": answer.answered,
        "hedged": answer.hedged,
        "excerpts": [
            {
                "text": e.text,
                "doc_id": e.document.doc_id,
                "title": e.document.title,
                "publisher": e.document.publisher,
                "published": e.document.published,
                "url": e.document.url,
                "passage_id": e.passage.passage_id,
                "passage_number": e.passage.number,
                "score": round(e.score, 6),
                "match": round(e.match, 4),
                "marks": [list(mark) for mark in e.marks],
            }
            for e in answer.excerpts
        ],
    }
