"""Whether the optional extra `ingest` is installed, found without importing it (importing
trafilatura alone takes about 0.2 s, which the bot's start-up should not pay)."""

from __future__ import annotations

from importlib.util import find_spec

EXTRA = "ingest"
# import name -> distribution name, for the message
MODULES = {
    "trafilatura": "trafilatura",
    "lxml_html_clean": "lxml_html_clean",
    "pdfminer": "pdfminer.six",
    "feedparser": "feedparser",
    "tld": "tld",
    "charset_normalizer": "charset-normalizer",
    "httpx": "httpx",
}


class MissingExtra(Exception):
    """The ingest libraries are not installed; the message says how to install them."""


def missing() -> list[str]:
    """Distribution names of the ingest libraries that cannot be imported."""
    absent = []
    for module, distribution in MODULES.items():
        try:
            found = find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            absent.append(distribution)
    return absent


def require(what: str) -> None:
    """Raise MissingExtra naming the extra when any of its libraries is missing."""
    absent = missing()
    if absent:
        raise MissingExtra(
            f"{what} needs the optional '{EXTRA}' libraries ({', '.join(absent)} not installed); install them "
            f"with: .venv/bin/pip install -e '.[{EXTRA}]'"
        )
