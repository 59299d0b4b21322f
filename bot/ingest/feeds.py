"""An RSS or Atom feed (bytes) → its items' links, titles and dates (feedparser, which reads every
RSS and Atom version and copes with most malformed feeds). The feed is fetched by
`bot.ingest.fetching`, never by feedparser itself, so the same timeout and size limit apply."""

from __future__ import annotations

import calendar
import datetime as dt
import io
import xml.sax
from dataclasses import dataclass

import feedparser

from bot.ingest.sources import SourceProblem


@dataclass(frozen=True, slots=True)
class FeedItem:
    link: str | None
    title: str | None
    published: str | None  # YYYY-MM-DD


@dataclass(frozen=True, slots=True)
class Feed:
    title: str | None
    items: tuple[FeedItem, ...]
    flaw: str | None = None  # what is wrong with a malformed feed whose readable items are still given


def parse_feed(data: bytes, *, base_url: str | None = None) -> Feed:
    """The feed's items, newest first as the feed lists them; raises SourceProblem when the bytes
    are not a feed at all. (A feed with a flaw feedparser can read past still gives its items.)"""
    headers = {"content-location": base_url} if base_url else {}
    parsed = feedparser.parse(io.BytesIO(data), response_headers=headers)
    reason = parsed.get("bozo_exception")
    detail = f" ({str(reason).strip()[:100]})" if reason else ""
    entries = parsed.entries
    broken = 0
    malformed = isinstance(reason, xml.sax.SAXException)  # not a mere charset or Content-Type quibble
    if malformed:  # an entry without a link is then a fragment of the break
        complete = [entry for entry in entries if _link(entry)]
        broken, entries = len(entries) - len(complete), complete
    if not entries and (malformed or not parsed.get("version")):
        raise SourceProblem(f"is not a readable RSS or Atom feed{detail}; check the feed's address, or open it "
                            "in a browser to see what the server sends")
    feed_title = " ".join(str(parsed.feed.get("title") or "").split()) or None
    items = []
    for entry in entries:
        title = " ".join(str(entry.get("title") or "").split()) or None
        items.append(FeedItem(link=_link(entry), title=title, published=_date(entry)))
    flaw = (f"the feed is malformed{detail}: {broken} item{'s' if broken > 1 else ''} could not be read"
            if broken else None)
    return Feed(title=feed_title, items=tuple(items), flaw=flaw)


def _link(entry: feedparser.FeedParserDict) -> str | None:
    link = str(entry.get("link") or "").strip()
    if not link:  # Atom: a link whose rel is not "alternate" still names the article
        link = next((str(other.get("href")).strip() for other in entry.get("links", []) if other.get("href")), "")
    return link or None


def _date(entry: feedparser.FeedParserDict) -> str | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        value = entry.get(key)
        if value:
            return dt.datetime.fromtimestamp(calendar.timegm(value), tz=dt.UTC).date().isoformat()
    return None
