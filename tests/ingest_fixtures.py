"""Articles for the ingest tests, written here: news pages with the usual page furniture around
the article (menus, share buttons, "read more" links, comments, a footer), feeds listing them,
and PDFs. Each article's paragraphs are kept, so tests can check the extracted text verbatim."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from pdf_files import build_pdf, paragraph_lines


@dataclass(frozen=True)
class Article:
    slug: str
    title: str
    site: str
    date: str
    paragraphs: tuple[str, ...]

    @property
    def text(self) -> str:
        return "\n\n".join(self.paragraphs)


SEVAN = Article(
    "sevan",
    "Lake Sevan water level rises after a wet spring",
    "Caucasus Ledger",
    "2023-04-18",
    (
        "The water level of Lake Sevan rose by 23 centimetres between March and May, the Ministry of Environment "
        "said on Tuesday, the largest spring rise recorded in a decade.",
        "Officials attributed the rise to heavy snowfall in the Gegharkunik province and to a sharp cut in the "
        "water drawn from the lake for irrigation in the Ararat valley.",
        "The government also extended a ban on whitefish fishing until the end of 2024, citing a fragile "
        "recovery of the stocks that environmental groups have long warned about.",
    ),
)

METRO = Article(
    "metro",
    "Yerevan metro fares to double in July",
    "Caucasus Ledger",
    "2023-05-02",
    (
        "Yerevan's metro will raise its single fare from 100 to 200 drams on July 1, the city council decided on "
        "Monday after a debate that lasted well into the night.",
        "The mayor's office said the extra revenue would pay for twelve new carriages ordered last year and for "
        "repairs to the ventilation of the Barekamutyun station.",
        "Students and pensioners keep their monthly passes at the old price, the council said.",
    ),
)

BRIDGE = Article(
    "bridge",
    "Kievyan bridge reopens to traffic after repairs",
    "Yerevan Courier",
    "2022-11-14",
    (
        "The Kievyan bridge reopened to traffic on Monday after two years of repairs, the mayor’s office said, "
        "ending long detours for drivers crossing the Hrazdan gorge.",
        "Engineers replaced all of the bridge’s bearings and resurfaced the roadway, which carries about forty "
        "thousand cars a day – twice as many as when it was built in 1956.",
        "Cyclists get a separate lane on the eastern side, a first for the city’s bridges.",
    ),
)


def news_page(article: Article, *, canonical: str | None = None, charset: str | None = "utf-8",
              meta_date: bool = True) -> str:
    """A news page as sites make them: the article between a menu, share buttons, a "read more"
    link, comments and a footer."""
    meta = f'<meta charset="{charset}">' if charset else ""
    date = f'<meta property="article:published_time" content="{article.date}T09:30:00+04:00">' if meta_date else ""
    link = f'<link rel="canonical" href="{canonical}">' if canonical else ""
    paragraphs = "\n".join(f"<p>{escape(p, quote=False)}</p>" for p in article.paragraphs)
    return f"""<!DOCTYPE html>
<html lang="en"><head>{meta}
<title>{escape(article.title)} | {escape(article.site)}</title>
<meta property="og:title" content="{escape(article.title)}">
<meta property="og:site_name" content="{escape(article.site)}">
<meta property="og:type" content="article">
{date}
{link}
</head><body>
<header><nav><a href="/">Home</a> <a href="/politics">Politics</a> <a href="/economy">Economy</a>
<a href="/sport">Sport</a> <a href="/login">Log in</a></nav></header>
<main><article>
<h1>{escape(article.title)}</h1>
<p class="byline">By Anna Petrosyan</p>
{paragraphs}
<div class="share"><a href="https://facebook.invalid/share">Share on Facebook</a> <a href="#">Tweet this</a></div>
<p class="readmore"><a href="/news/other">Read more: Armenia's wine exports reach a record</a></p>
</article>
<section id="comments" class="comments"><h3>Comments</h3>
<div class="comment"><p>Finally some good news for the lake! — guest123</p></div></section>
<aside><h3>Most read</h3><ul><li><a href="/a">Ten things to do in Dilijan</a></li></ul></aside>
</main>
<footer><p>© 2023 {escape(article.site)}. All rights reserved.</p><a href="/privacy">Privacy policy</a></footer>
</body></html>"""


def rss(items: list[tuple[str | None, str | None, str | None]], title: str = "Caucasus Ledger: Latest") -> bytes:
    """An RSS 2.0 feed of (link, title, RFC 822 date) items; a None link leaves <link> out."""
    parts = []
    for link, item_title, date in items:
        parts.append("<item>" + (f"<title>{escape(item_title)}</title>" if item_title else "")
                     + (f"<link>{escape(link)}</link>" if link else "")
                     + (f"<pubDate>{date}</pubDate>" if date else "") + "<description>Summary.</description></item>")
    return (f'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel><title>{escape(title)}</title>'
            f"<link>https://ledger.invalid/</link><description>News</description>{''.join(parts)}</channel></rss>"
            ).encode()


def atom(items: list[tuple[str, str, str]], title: str = "Yerevan Courier") -> bytes:
    """An Atom feed of (link, title, ISO date) entries."""
    entries = "".join(
        f'<entry><title>{escape(t)}</title><link rel="alternate" href="{escape(link)}"/><id>{escape(link)}</id>'
        f"<updated>{date}T08:00:00Z</updated><summary>Summary.</summary></entry>"
        for link, t, date in items
    )
    return (f'<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom"><title>{escape(title)}'
            f"</title><id>urn:courier</id><updated>2022-11-14T08:00:00Z</updated>{entries}</feed>").encode()


BUDGET_PARAGRAPHS = (
    ["Armenia's parliament approved the 2024 state budget on Friday after a long-",
     "running debate, the speaker of the National Assembly told reporters in Yerevan."],
    ["The opposition walked out before the vote, calling the spending plan unrealistic",
     "and warning that it would push public debt above sixty percent of output."],
    ["Officials said the budget raises defence spending by a fifth and doubles the money",
     "set aside for housing people displaced from Nagorno-Karabakh last autumn."],
)
BUDGET_TEXT = "\n\n".join([
    "Armenia's parliament approved the 2024 state budget on Friday after a long-running debate, the speaker of "
    "the National Assembly told reporters in Yerevan.",
    "The opposition walked out before the vote, calling the spending plan unrealistic and warning that it would "
    "push public debt above sixty percent of output.",
    "Officials said the budget raises defence spending by a fifth and doubles the money set aside for housing "
    "people displaced from Nagorno-Karabakh last autumn.",
])


def budget_pdf() -> bytes:
    """Three pages holding the article's paragraphs, each page with a running header and a page
    number, which are not article text."""
    def furniture(number: int) -> list:
        return [(760, "Parliament Weekly Bulletin"), (40, f"Page {number} of 3")]

    pages = [paragraph_lines(list(BUDGET_PARAGRAPHS[:2])) + furniture(1),
             paragraph_lines([BUDGET_PARAGRAPHS[2]]) + furniture(2),
             furniture(3)]
    return build_pdf(pages, title="Parliament approves the 2024 budget", created="D:20231201120000+04'00'")
