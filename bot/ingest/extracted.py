"""`Extracted`: what a page, a PDF or a feed item yields before it becomes a corpus file, and
the rule for "no article text"."""

from __future__ import annotations

from dataclasses import dataclass

from bot.ingest.sources import NoArticle

# Fewer words than this is not an article: a paywall's teaser, a login form, an index page's
# headline. (The shortest news briefs run to about 50 words.)
MIN_ARTICLE_WORDS = 40


@dataclass(frozen=True, slots=True)
class Extracted:
    """An article as found in its source; any field but the text may be unknown."""

    text: str  # paragraphs separated by a blank line, each exactly as the source has it
    title: str | None = None
    publisher: str | None = None
    published: str | None = None  # YYYY-MM-DD
    url: str | None = None  # the address the source names for itself (a page's canonical link)
    note: str | None = None

    @property
    def words(self) -> int:
        return len(self.text.split())


def paragraphs_to_text(paragraphs: list[str]) -> str:
    return "\n\n".join(p for p in paragraphs if p)


def without_title_line(paragraphs: list[str], title: str | None) -> list[str]:
    """Paragraphs without a leading one that repeats the title (it goes in the header)."""
    if paragraphs and title and " ".join(paragraphs[0].split()).casefold() == " ".join(title.split()).casefold():
        return paragraphs[1:]
    return paragraphs


def require_article_text(extracted: Extracted) -> Extracted:
    """The article itself, or NoArticle when it is too short to be one."""
    words = extracted.words
    if words < MIN_ARTICLE_WORDS:
        raise NoArticle(f"only {words} word{'' if words == 1 else 's'} of article text (fewer than "
                        f"{MIN_ARTICLE_WORDS}; a paywall, a login or an index page?); nothing written")
    return extracted
