"""What a source is: a web address or a file, and whether its bytes are a web page, a PDF or a
feed; and `SourceProblem`, the one-line reason a source added nothing."""

from __future__ import annotations

import re
from typing import Literal
from urllib.parse import urlsplit

Kind = Literal["html", "pdf", "feed"]

# Files a folder source is searched for; anything else in it is reported and left alone.
FILE_SUFFIXES = (".html", ".htm", ".xhtml", ".pdf", ".xml", ".rss", ".atom")

_XML_PROLOGUE = re.compile(rb"^(?:\s|<\?xml[^>]*\?>|<!--.*?-->|<!DOCTYPE[^>]*>)*", re.S | re.I)
_FEED_ROOT = re.compile(rb"<(?:rss|feed|rdf:RDF)[\s>]", re.I)
_HTML_START = re.compile(rb"<(?:!doctype\s+html|html|head|body|meta|title|p|div|article|h[1-6])[\s>/]", re.I)
_HTML_TYPES = ("text/html", "application/xhtml+xml")
_FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/rdf+xml", "application/feed+json")


class SourceProblem(Exception):
    """Why a source (or one item of a feed) added nothing, in one line a user can act on.

    `transient` problems (a host down, a timeout, a server error) may go away by themselves:
    trying again later can help. The others need the source or the settings changed."""

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


class NoArticle(SourceProblem):
    """The source was read, but holds no article text (a paywall, a login or an index page...)."""


def is_web_address(source: str) -> bool:
    return urlsplit(source).scheme.lower() in ("http", "https")


def looks_like_address(source: str) -> bool:
    """Something with a scheme (ftp://, file://...), which is not a file name either."""
    return bool(re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", source))


def sniff(body: bytes, content_type: str | None = None) -> Kind:
    """The kind of a source from its first bytes, and the server's Content-Type when there is one.

    The bytes decide where they are clear (a PDF behind a `.html` address is a PDF); a body
    that is none of the three raises SourceProblem naming what it seems to be."""
    head = body[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    mime = (content_type or "").split(";")[0].strip().lower()
    if head.startswith(b"%PDF-"):
        return "pdf"
    if mime == "application/pdf":
        raise SourceProblem("says it is a PDF (Content-Type application/pdf) but does not start like one; "
                            "the file is damaged or is something else")
    if b"\x00" in head:
        if head.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16 text: decode and look again
            text = body[:8192].decode("utf-16", "replace").encode("utf-8")
            return sniff(text, content_type)
        what = f" ({mime})" if mime else ""
        raise SourceProblem(f"is binary data{what}, not a web page, a PDF or a feed; nothing to add")
    after_prologue = head[_XML_PROLOGUE.match(head).end():]  # type: ignore[union-attr]
    if _FEED_ROOT.match(after_prologue) or mime in _FEED_TYPES:
        return "feed"
    if mime in _HTML_TYPES or _HTML_START.search(head[:1024]):
        return "html"
    if mime.startswith(("image/", "audio/", "video/", "font/")) or mime in ("application/zip", "application/json",
                                                                             "application/octet-stream"):
        raise SourceProblem(f"is {mime}, not a web page, a PDF or a feed; nothing to add")
    if mime in ("text/xml", "application/xml") or after_prologue.startswith(b"<"):
        raise SourceProblem("is XML but neither an RSS nor an Atom feed, nor a web page; nothing to add")
    described = f"{mime} text" if mime else "plain text without HTML tags"
    raise SourceProblem(f"is {described}, not a web page, a PDF or a feed; for a plain-text article, put it in "
                        "the corpus folder as a .md file (README: Corpus format)")
