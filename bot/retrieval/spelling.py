"""Spelling correction for question terms the corpus does not contain.

Readers misspell names ("Lavorv", "Dvornikv", "Pashinyn"). A question term that
is not in the index is replaced by the index term one edit away (insertion,
deletion, substitution or swap of neighbours), the most frequent one if
several are. Works on analyzed terms, after transliteration folding, so it
only has to catch true typos. Candidates are generated, not searched for, so
the cost does not grow with the vocabulary.

A word that English knows is not a typo, even when the corpus lacks it: "classify" must not
become "clarify", nor "complaining" "complaint". `is_english` asks the English word-frequency
dictionary that ships with pyspellchecker (from OpenSubtitles; names of people and places are
rare or absent there), loaded once, on the first question that needs it.
"""

from __future__ import annotations

import functools
import string
from collections.abc import Callable, Mapping

MIN_LENGTH = 4  # shorter terms have too many neighbours (a real word, "paint", is kept by is_english)
MAX_LENGTH = 30  # longer "words" are not typos of a word; their ~54n variants would cost n^2 memory
_LETTERS = string.ascii_lowercase
COMMON_WORD_COUNT = 100  # seen this often in the dictionary's source: an English word, not a typo
EVERYDAY_WORD_COUNT = 1000  # seen this often: an everyday word ("news", "times"), not a name ("Reuters")


def correct(term: str, vocabulary: Mapping[str, int]) -> str | None:
    """The vocabulary term that `term` most likely misspells, or None.

    `vocabulary` maps each index term to its document frequency.
    """
    if term in vocabulary or not MIN_LENGTH <= len(term) <= MAX_LENGTH or not term.isalpha():
        return None
    best: tuple[int, str] | None = None
    for candidate in one_edit(term):
        frequency = vocabulary.get(candidate, 0)
        if frequency and (best is None or (frequency, candidate) > best):
            best = (frequency, candidate)
    return best[1] if best else None


def respell(word: str, vocabulary: Mapping[str, int], term_of: Callable[[str], str]) -> str | None:
    """The English word that `word` most likely misspells, if the corpus can use it, or None:
    "villge" is "village", whose term the corpus holds; "abuot" is "about", a stop word (which
    every text holds). `correct` works on terms, and a typo's term can differ from its word's by
    more than one edit ("villge" is folded as a name would be, to "vilg", while "village" stays
    "villag"); nor can it see typos of stop words. Among several, the most frequent in English."""
    word = word.casefold()
    if not MIN_LENGTH <= len(word) <= MAX_LENGTH or not word.isalpha() or is_english(word):
        return None
    counts = _english_counts()
    best: tuple[int, str] | None = None
    for candidate in one_edit(word):
        seen = counts.get(candidate, 0)
        if seen >= COMMON_WORD_COUNT and (best is None or (seen, candidate) > best):
            term = term_of(candidate)
            if not term or term in vocabulary:
                best = (seen, candidate)
    return best[1] if best else None


def one_edit(term: str) -> set[str]:
    """Every string one insertion, deletion, substitution or swap of neighbours from `term`."""
    letters = set(_LETTERS) | set(term)
    splits = [(term[:i], term[i:]) for i in range(len(term) + 1)]
    deletes = {left + right[1:] for left, right in splits if right}
    swaps = {left + right[1] + right[0] + right[2:] for left, right in splits if len(right) > 1}
    replaces = {left + c + right[1:] for left, right in splits if right for c in letters}
    inserts = {left + c + right for left, right in splits for c in letters}
    return deletes | swaps | replaces | inserts


def is_english(word: str, *, seen: int = COMMON_WORD_COUNT) -> bool:
    """Whether `word` is an English word seen at least `seen` times (see the module docstring)."""
    return _english_counts().get(word.casefold(), 0) >= seen


@functools.cache
def _english_counts() -> Mapping[str, int]:
    from spellchecker import SpellChecker  # imported when first needed: loading takes ~0.3 s

    return SpellChecker(language="en", distance=1).word_frequency.dictionary
