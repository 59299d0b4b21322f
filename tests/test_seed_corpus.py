"""The five seed articles in corpus/ are faithful to the raw scrapes: right metadata, no page chrome,
captions once, and every word of article text exactly as scraped.

The raw scrapes and SOURCES.md live outside the repository (``../shared/seeds``, or the folder
named by SEEDS_DIR); the verbatim checks against them are skipped when they are not there.
The metadata below is copied from SOURCES.md.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from bot.corpus.articles import Document, load_corpus
from bot.corpus.passages import sentence_spans
from conftest import CORPUS, DEFAULTS, ROOT

SEED_DIRS = [Path(os.environ["SEEDS_DIR"])] if os.environ.get("SEEDS_DIR") else []
SEED_DIRS += [ROOT / "shared" / "seeds", ROOT.parent / "shared" / "seeds"]
SEEDS = next((d for d in SEED_DIRS if (d / "SOURCES.md").is_file()), None)

# seed number -> (corpus file, title, publisher, published, url), as in SOURCES.md
EXPECTED = {
    "000": (
        "azatutyun-2021-05-14-putin-pashinian-discuss-border-crisis",
        "Putin, Pashinian Discuss Armenian-Azeri Border Crisis",
        "Azatutyun (RFE/RL Armenian Service)",
        "2021-05-14",
        "https://www.azatutyun.am/a/31255136.html",
    ),
    "001": (
        "azatutyun-2021-05-17-defense-chiefs-again-discuss-border-crisis",
        "Russian, Armenian Defense Chiefs Again Discuss Border Crisis",
        "Azatutyun (RFE/RL Armenian Service)",
        "2021-05-17",
        "https://www.azatutyun.am/a/31259698.html",
    ),
    "002": (
        "bloomberg-2021-05-14-armenia-asks-putin-for-military-aid",
        "Armenia Asks Putin for Military Aid in Azerbaijan Border Dispute",
        "Bloomberg (via BloombergQuint)",
        "2021-05-14",
        "https://www.bloombergquint.com/politics/putin-macron-drawn-into-tensions-over-armenia-azerbaijan-border",
    ),
    "003": (
        "afp-2020-10-31-russia-ready-to-help-yerevan",
        "Russia ready to help Yerevan if fighting spreads to Armenian territory",
        "AFP wire story, republished (site unknown)",
        "2020-10-31",
        None,  # "unknown"
    ),
    "004": (
        "jamnews-2021-07-07-putin-pashinyan-meeting",
        "Putin-Pashinyan meeting: border tensions and speculations about Russian peacekeepers' deployment",
        "JAMnews",
        "2021-07-07",
        "https://jam-news.net/putin-pashinyan-meeting-border-tensions-and-speculations-about-russian-peacekeepers-deployment",
    ),
}

CHROME = [
    "Մատչելիության հղումներ",
    "By admin",
    "Photo of author",
    "Leave a Comment",
    "©2021 Bloomberg L.P.",
    "BQ Install",
    "Bloomberg Quint",
    "Add BloombergQuint App to Home screen.",
    "New incident at the Armenian-Azerbaijani border highlights Armenia’s defense shortcomings",
    "Nagorno-Karabakh prepares for long-term presence of Russian peacekeepers",
]
SIZE_SWITCHER = {"XS", "SM", "MD", "LG"}
CAPTIONS = [
    "Armenian Prime Minister Nikol Pashinian and Russian President Vladimir Putin meet at the Kremlin in Moscow, "
    "April 7, 2021",
    "Armenia - General Alexander Dvornikov (C), commander of Russia's Southern Military District, meets with "
    "Armenian Defense Minister Vagharshak Harutiunian",
    "Armenia - Armenian soldiers take up positions on the border with Azerbaijan, May 17, 2021.",
]


@pytest.fixture(scope="module")
def documents() -> dict[str, Document]:
    loaded = load_corpus(CORPUS, max_file_bytes=DEFAULTS.max_file_bytes)
    assert loaded.problems == ()
    by_id = {d.doc_id: d for d in loaded.documents}
    return {seed: by_id[expected[0]] for seed, expected in EXPECTED.items() if expected[0] in by_id}


def _raw(seed: str) -> str:
    if SEEDS is None:
        pytest.skip("the raw seed files are not here (set SEEDS_DIR to the folder holding SOURCES.md)")
    (path,) = SEEDS.glob(f"{seed}_*.txt")
    return path.read_text(encoding="utf-8")


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def test_corpus_holds_exactly_the_five_seed_articles(documents):
    assert sorted(p.stem for p in CORPUS.iterdir() if p.suffix in (".md", ".txt")) == sorted(
        e[0] for e in EXPECTED.values()
    )
    assert set(documents) == set(EXPECTED)


@pytest.mark.parametrize("seed", list(EXPECTED))
def test_metadata_is_the_one_in_sources_md(documents, seed):
    _, title, publisher, published, url = EXPECTED[seed]
    document = documents[seed]
    assert (document.title, document.publisher, document.published, document.url) == (title, publisher,
                                                                                        published, url)


def test_sources_md_still_says_what_the_tests_expect():
    """If SOURCES.md is here, the metadata copied above must still match its table."""
    if SEEDS is None:
        pytest.skip("SOURCES.md is not here")
    table = (SEEDS / "SOURCES.md").read_text(encoding="utf-8")
    for seed, (_, title, publisher, published, url) in EXPECTED.items():
        row = next(line for line in table.splitlines() if line.startswith(f"| {seed}_"))
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        assert cells[1:3] == [title, publisher]
        assert cells[3].startswith(published)
        assert cells[4] == (url or "unknown")


@pytest.mark.parametrize("seed", list(EXPECTED))
def test_no_page_chrome_remains(documents, seed):
    text = documents[seed].text
    for chrome in CHROME:
        assert chrome not in text, chrome
    lines = _lines(text)
    assert not SIZE_SWITCHER & set(lines), "page-size switcher XS/SM/MD/LG left in"
    assert not [line for line in lines if line.startswith("- ")], "links to other articles left in"
    assert not re.search(r"(?m)^#", text), "a Markdown heading marker is not article text"


@pytest.mark.parametrize("seed", list(EXPECTED))
def test_no_paragraph_is_repeated(documents, seed):
    lines = _lines(documents[seed].text)
    repeated = {line for line in lines if lines.count(line) > 1}
    assert not repeated, repeated


def test_photo_captions_appear_exactly_once(documents):
    text = "\n".join(d.text for d in documents.values())
    for caption in CAPTIONS:
        assert text.count(caption) == 1, caption


def test_paragraphs_are_separated_by_blank_lines(documents):
    """004 was scraped with single line breaks; in the corpus every article uses blank lines."""
    for seed, document in documents.items():
        assert "\n" not in document.text.replace("\n\n", ""), seed


@pytest.mark.parametrize("seed", list(EXPECTED))
def test_every_line_of_text_is_a_line_of_the_raw_scrape_in_order(documents, seed):
    raw_lines = _lines(_raw(seed))
    position = 0
    for line in _lines(documents[seed].text):
        assert line in raw_lines[position:], f"not verbatim (or out of order): {line[:80]!r}"
        position = raw_lines.index(line, position) + 1


@pytest.mark.parametrize("seed", list(EXPECTED))
def test_every_sentence_is_verbatim_in_the_raw_scrape(documents, seed):
    raw = _raw(seed)
    text = documents[seed].text
    sentences = [text[start:end] for start, end in sentence_spans(text)]
    assert len(sentences) > 10
    for sentence in sentences:
        assert sentence in raw, sentence


@pytest.mark.parametrize("seed", list(EXPECTED))
def test_no_article_text_was_lost(documents, seed):
    """Every raw line is in the corpus text, except the title (now metadata), chrome and repeated captions."""
    text = documents[seed].text
    title = EXPECTED[seed][1]
    dropped = {title, *CHROME, *SIZE_SWITCHER} | {f"- {link}" for link in CHROME}
    missing = [line for line in _lines(_raw(seed)) if line not in dropped and line not in text]
    assert not missing, missing
