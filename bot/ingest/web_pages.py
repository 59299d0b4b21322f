"""A web page (bytes) → its article: the main text verbatim, without menus, share buttons,
comments or "read more" links, and its title, site name and date (trafilatura, which reads the
page's own metadata: `<title>`, Open Graph, JSON-LD, `<meta>` dates, via htmldate)."""

from __future__ import annotations

import logging
import re
from urllib.parse import urlsplit

import charset_normalizer
import trafilatura
from trafilatura.settings import Document

from bot.ingest.extracted import Extracted, paragraphs_to_text, without_title_line
from bot.ingest.sources import NoArticle

# trafilatura and htmldate log their own guesses at WARNING/ERROR; `add` reports one line per
# source instead.
for _name in ("trafilatura", "htmldate", "justext", "courlan"):
    logging.getLogger(_name).setLevel(logging.CRITICAL)

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_:.-]+)""", re.I)
# Labels the web treats as windows-1252 (the WHATWG Encoding standard): Python's latin-1 would
# turn curly quotes and dashes (bytes 0x80-0x9F) into control characters.
_WINDOWS_1252_LABELS = {"iso-8859-1", "iso8859-1", "latin1", "latin-1", "l1", "ascii", "us-ascii", "cp819",
                        "iso_8859-1", "windows-1252", "cp1252", "x-cp1252"}


def decode_html(body: bytes, declared: str | None = None) -> str:
    """The page's text. A byte-order mark wins; then UTF-8 if the bytes are valid UTF-8 (so a
    server that wrongly says ISO-8859-1 for a UTF-8 page does no harm); then the charset the page
    declares in a <meta> tag, then the one the server declared; then a guess from the bytes."""
    for bom, encoding in ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16")):
        if body.startswith(bom):
            return body.decode(encoding, "replace")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        pass
    meta = _META_CHARSET.search(body[:8192])
    for label in (meta.group(1).decode("ascii", "ignore") if meta else None, declared):
        if not label:
            continue
        label = "cp1252" if label.strip().lower() in _WINDOWS_1252_LABELS else label.strip()
        if label.lower().replace("_", "-") in ("utf-8", "utf8"):
            continue  # tried above: the declaration is wrong
        try:
            return body.decode(label)
        except (LookupError, UnicodeDecodeError):
            continue
    guess = charset_normalizer.from_bytes(body).best()
    if guess is not None:
        return str(guess)
    return body.decode("utf-8", "replace")


def extract_web_page(body: bytes, *, url: str | None, charset: str | None = None) -> Extracted:
    """The article on a page; raises NoArticle when the page has no article text to speak of."""
    html = decode_html(body, charset)
    try:
        found = trafilatura.bare_extraction(
            html,
            url=url,
            with_metadata=True,
            include_comments=False,
            favor_precision=True,  # rather leave out a doubtful block than quote page furniture
            # Dates only from the page's metadata and markup, never guessed from dates in the text
            # (a copyright line, a date the article mentions): no date beats a wrong one.
            date_extraction_params={"extensive_search": False, "original_date": True},
        )
    except (ValueError, TypeError, AttributeError, AssertionError) as error:  # lxml/trafilatura on odd input
        raise NoArticle(f"the page could not be parsed ({type(error).__name__}: {str(error)[:80]}); nothing "
                        "written") from None
    # A Document, or None when there is nothing to extract (a dict comes only with as_dict=True, not asked for).
    if not isinstance(found, Document) or not (text := found.text or "").strip():
        raise NoArticle("no article text on the page (a paywall, a login or an index page?); nothing written")
    title = _clean(found.title)
    # trafilatura falls back to the host name when the page names no site: that is not a name.
    sitename = _clean(found.sitename)
    hosts = {found.hostname or "", urlsplit(url).netloc if url else "", (urlsplit(url).hostname or "") if url else ""}
    if sitename and sitename.lower().removeprefix("www.") in {h.lower().removeprefix("www.") for h in hosts if h}:
        sitename = None
    lines = [line.strip() for line in text.splitlines()]
    paragraphs = without_title_line([line for line in lines if line], title)
    return Extracted(
        title=title,
        publisher=sitename,
        published=found.date or None,
        url=_clean(found.url),
        text=paragraphs_to_text(paragraphs),
    )


def _clean(value: str | None) -> str | None:
    value = " ".join((value or "").split())
    return value or None
