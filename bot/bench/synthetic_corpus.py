"""Reproducible synthetic corpora and questions for the benchmark and the engine tests.

Articles are English-like: each paragraph recombines sentences of the seed corpus
(``corpus/``), and about a third of their longer words are replaced by words
drawn from a large vocabulary with Zipf-like frequencies (rank r drawn with
probability ~ 1/(r + 2.7)^1.1; the first ranks are the seed corpus's own words
by frequency, the rest pronounceable made-up words). So the text keeps English
function words and sentence shapes, its vocabulary grows with its size as real
text does (Heaps' law), and common terms have long postings while most terms are
rare. Everything is drawn from one seeded generator: the same size and seed give
the same files, byte for byte.

Every paragraph is one passage (shorter than `MAX_PASSAGE_CHARS`, ends with a
sentence), so a corpus of ``passages`` passages is exactly that size.

Questions mix the seed question set (about the seed corpus's topics, whose terms
are the most common in these corpora: the slow case) with questions made from a
random passage's words (rarer terms, some misspelled).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import numpy as np

from bot.corpus.articles import load_corpus
from bot.corpus.passages import MAX_PASSAGE_CHARS, sentence_spans, split_passages
from bot.retrieval.analysis import STOP_WORDS

PASSAGES_PER_ARTICLE = (4, 16)  # drawn uniformly
SENTENCES_PER_PASSAGE = (1, 4)
REPLACED_SHARE = 0.35  # of words of 4+ letters
ZIPF_EXPONENT = 1.1
ZIPF_SHIFT = 2.7
MADE_UP_WORDS = 2_000_000
PUBLISHERS = ("Caucasus Wire", "Yerevan Daily", "Baku Observer", "Moscow Desk", "Regional Monitor")
_WORD = re.compile(r"[A-Za-z]{4,}")
_MARKER = ".synthetic.json"  # written last: the corpus is complete (dot files are not articles)
_SYLLABLES_START = "b br c ch d dr f g gr h j k kr l m n p pr r s sh st t tr v z".split()
_VOWELS = "a e i o u ia io ou ai".split()
_SYLLABLES_END = "n r s l k t m nd rt st sk v".split()


def seed_sentences(seed_corpus: Path) -> list[str]:
    """The seed corpus's sentences that can stand in a paragraph (end punctuation, 40-400 chars)."""
    loaded = load_corpus(seed_corpus, max_file_bytes=10_000_000)
    sentences = []
    for document in loaded.documents:
        for passage in split_passages(document):
            for start, end in sentence_spans(document.text, passage.start, passage.end):
                sentence = document.text[start:end]
                if 40 <= len(sentence) <= 400 and sentence[-1] in ".!?\"”" and "\n" not in sentence:
                    sentences.append(sentence)
    if not sentences:
        raise ValueError(f"{seed_corpus} holds no usable sentences")
    return sentences


def _vocabulary(sentences: list[str]) -> tuple[list[str], np.ndarray]:
    """Seed words by frequency (the first ranks), and the cumulative probability of each rank."""
    seed_words = Counter(w.lower() for s in sentences for w in _WORD.findall(s))
    words = [w for w, _ in seed_words.most_common()]
    ranks = np.arange(len(words) + MADE_UP_WORDS, dtype=np.float64)
    probability = 1.0 / (ranks + ZIPF_SHIFT) ** ZIPF_EXPONENT
    cumulative = np.cumsum(probability)
    return words, cumulative / cumulative[-1]


def _made_up(number: int) -> str:
    """A pronounceable word for each number (a different word for each number)."""
    pieces = []
    rest = number + 1
    while rest:
        rest, digit = divmod(rest, len(_SYLLABLES_START) * len(_VOWELS))
        pieces.append(_SYLLABLES_START[digit // len(_VOWELS)] + _VOWELS[digit % len(_VOWELS)])
    return "".join(pieces) + _SYLLABLES_END[number % len(_SYLLABLES_END)]


class _Writer:
    def __init__(self, sentences: list[str], seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.sentences = sentences
        self.words, self.cumulative = _vocabulary(sentences)
        self._draws: list[str] = []

    def word(self) -> str:
        if not self._draws:
            seed = len(self.words)
            picks = np.searchsorted(self.cumulative, self.rng.random(65_536)).tolist()
            self._draws = [self.words[i] if i < seed else _made_up(i - seed) for i in picks]
        return self._draws.pop()

    def sentence(self, replace: np.ndarray) -> str:
        sentence = self.sentences[int(self.rng.integers(len(self.sentences)))]
        pieces, position = [], 0
        for n, match in enumerate(_WORD.finditer(sentence)):
            if replace[n % len(replace)]:
                word = self.word()
                if match.group()[0].isupper():
                    word = word.capitalize()
                pieces += [sentence[position : match.start()], word]
                position = match.end()
        pieces.append(sentence[position:])
        return "".join(pieces)

    def paragraph(self) -> str:
        count = int(self.rng.integers(SENTENCES_PER_PASSAGE[0], SENTENCES_PER_PASSAGE[1] + 1))
        replace = self.rng.random(64) < REPLACED_SHARE
        paragraph = ""
        for _ in range(count):
            sentence = self.sentence(replace)
            if paragraph and len(paragraph) + 1 + len(sentence) >= MAX_PASSAGE_CHARS:
                break
            paragraph = f"{paragraph} {sentence}" if paragraph else sentence
            replace = np.roll(replace, 7)
        return paragraph


def write_corpus(folder: Path, passages: int, *, seed: int = 1, seed_corpus: Path = Path("corpus")) -> Path:
    """Write (once) a corpus of exactly `passages` passages into `folder`; reuse it if complete."""
    marker = folder / _MARKER
    wanted = {"passages": passages, "seed": seed, "format": 1}
    if marker.is_file():
        try:
            if json.loads(marker.read_text())["parameters"] == wanted:
                return folder
        except (ValueError, KeyError):
            pass
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("syn-*.md"):
        old.unlink()
    marker.unlink(missing_ok=True)
    writer = _Writer(seed_sentences(seed_corpus), seed)
    rng = writer.rng
    written, number = 0, 0
    while written < passages:
        count = min(int(rng.integers(PASSAGES_PER_ARTICLE[0], PASSAGES_PER_ARTICLE[1] + 1)), passages - written)
        paragraphs = [writer.paragraph() for _ in range(count)]
        title = " ".join(writer.word().capitalize() for _ in range(int(rng.integers(3, 8))))
        day = 1 + int(rng.integers(0, 3650))
        published = np.datetime64("2015-01-01") + np.timedelta64(day, "D")
        number += 1
        text = (
            f"---\ntitle: {title}\npublisher: {PUBLISHERS[number % len(PUBLISHERS)]}\n"
            f"published: {published}\nurl: https://example.org/news/{number}\n---\n\n" + "\n\n".join(paragraphs) + "\n"
        )
        (folder / f"syn-{number:07d}.md").write_text(text, encoding="utf-8")
        written += count
    marker.write_text(json.dumps({"parameters": wanted, "articles": number}))
    return folder


def questions(folder: Path, count: int, *, seed: int = 1, seed_questions: Path | None = None) -> list[str]:
    """`count` questions: the seed question set in turn with questions made from random passages
    of the corpus in `folder` (2-4 of a passage's longer words, one in ten with a typo)."""
    rng = np.random.default_rng(seed + 1_000_003)
    base: list[str] = []
    if seed_questions is not None and seed_questions.is_file():
        base = [json.loads(line)["question"] for line in seed_questions.read_text().splitlines() if line.strip()]
    files = sorted(folder.glob("syn-*.md"))
    templates = ("What did {0} say about {1}?", "Why did {0} {1}?", "What is known about {0} and {1}?",
                 "When did {0} meet {1}?", "How many {0} {1}?", "What happened with {0} in {1}?")
    out: list[str] = []
    while len(out) < count:
        if base and len(out) % 2 == 0:
            out.append(base[(len(out) // 2) % len(base)])
            continue
        path = files[int(rng.integers(len(files)))]
        paragraphs = path.read_text(encoding="utf-8").split("\n---\n", 1)[1].strip().split("\n\n")
        words = [w for w in _WORD.findall(paragraphs[int(rng.integers(len(paragraphs)))])
                 if w.lower() not in STOP_WORDS]
        if len(words) < 2:
            continue
        picks = [words[int(i)] for i in rng.choice(len(words), size=min(len(words), int(rng.integers(2, 5))),
                                                    replace=False)]
        if rng.random() < 0.1 and len(picks[0]) >= 6:  # a typo: drop one letter
            at = int(rng.integers(1, len(picks[0]) - 1))
            picks[0] = picks[0][:at] + picks[0][at + 1 :]
        template = templates[int(rng.integers(len(templates)))]
        out.append(template.format(" ".join(picks[:-1]), picks[-1]))
    return out
