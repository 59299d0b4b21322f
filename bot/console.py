"""Answers rendered for a terminal (plain text) and for programs (JSON)."""

from __future__ import annotations

import os
from typing import Any, TextIO

from bot.answers import HEDGED_NOTE, Answer, Excerpt
from bot.corpus.articles import citation

NOT_IN_CORPUS = "The corpus has nothing on that. Try other words, or run 'python -m bot sources' to see what it covers."
NO_TERMS = "Ask a question with a few specific words in it, for example: Why did Russia deploy border guards in Syunik?"
_BOLD, _RESET = "\033[1m", "\033[0m"
# Control characters an article may hold (ESC starts the sequences that recolour, retitle or clear a
# terminal): shown as visible symbols, one for one, so marks keep their offsets. Tab and newline stay.
_CONTROLS = {
    **{c: chr(0x2400 + c) for c in range(0x20) if chr(c) not in "\t\n"},
    0x7F: "\u2421",
    **dict.fromkeys(range(0x80, 0xA0), "\ufffd"),
}


def for_terminal(text: str) -> str:
    """`text` safe to print: control characters (ESC, BEL, C1 controls...) become visible symbols."""
    return text.translate(_CONTROLS)


def use_color(stream: TextIO) -> bool:
    """Bold marks on a terminal, unless NO_COLOR is set (https://no-color.org)."""
    return stream.isatty() and not os.environ.get("NO_COLOR")


def render_answer(answer: Answer, *, color: bool = False) -> str:
    if not answer.terms:
        return NO_TERMS
    if not answer.excerpts:
        return NOT_IN_CORPUS
    blocks = [HEDGED_NOTE] if answer.hedged else []
    for number, excerpt in enumerate(answer.excerpts, start=1):
        quote = _marked(excerpt) if color else for_terminal(excerpt.text)
        lines = [f"[{number}] {quote}", f"    — {for_terminal(citation(excerpt.document, excerpt.passage.number))}"]
        if excerpt.document.url:
            lines.append(f"      {for_terminal(excerpt.document.url)}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def _marked(excerpt: Excerpt) -> str:
    text, pieces, position = for_terminal(excerpt.text), [], 0
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
