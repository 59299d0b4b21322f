"""A running bot follows feeds (BOT_FEEDS): new articles are added to the corpus folder, the
index is swapped in as /reload does, one log line per article, and nothing is lost while a
feed is down. The real Application long-polls the fake Bot API; the feed and its pages come
from a local web site; both on 127.0.0.1."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bot import cli
from bot.retrieval.library import LibrarySource
from bot.telegram import service
from fake_telegram import FakeTelegram
from telegram_harness import serving, texts

pytest.importorskip("trafilatura", reason="the ingest extra is not installed: pip install -e '.[ingest]'")

# After the skip: these need the extra.
from bot.ingest.fetching import FetchLimits
from bot.ingest.following import FeedFollower
from ingest_fixtures import METRO, SEVAN, news_page, rss
from local_site import LocalSite, Response

FIRST = "---\ntitle: Harvest report\npublisher: Test Wire\n---\n\nThe pomegranate harvest in Ararat was large.\n"


@pytest.fixture
async def tg():
    async with FakeTelegram() as fake:
        yield fake


@pytest.fixture
def site():
    site = LocalSite()
    yield site
    site.close()


def feed_of(*articles_and_urls: tuple) -> Response:
    return Response(rss([(url, article.title, None) for article, url in articles_and_urls]),
                    content_type="application/rss+xml")


async def test_a_running_bot_adds_feed_articles_answers_from_them_and_loses_nothing_while_the_feed_is_down(
        tg, site, tmp_path, caplog):
    caplog.set_level(logging.INFO)
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "harvest.md").write_text(FIRST, encoding="utf-8")
    sevan = site.put("/news/sevan.html", Response(news_page(SEVAN).encode("utf-8")))
    metro = site.put("/news/metro.html", Response(news_page(METRO).encode("utf-8")))
    feed = site.put("/feed.rss", feed_of((SEVAN, sevan)))
    source = LibrarySource(folder, 10**7, cache_dir=tmp_path / "cache")
    library, _ = source.load()
    follower = FeedFollower([feed], corpus_dir=folder, max_file_bytes=10**7, limits=FetchLimits(timeout=5))

    def holds(title: str) -> bool:
        return any(d.title == title for d in bot.holder.library.catalog())

    async with serving(tg, library, corpus=source, feeds=follower, feed_interval=0.05) as bot:
        await tg.wait_for_async(lambda: holds(SEVAN.title), timeout=30)
        asked = tg.private_message(42, "How much did the water level of Lake Sevan rise?")
        [answer] = texts(await bot.replies_to(asked))

        site.put("/feed.rss", Response(b"Service Unavailable", status=503))  # the feed goes down...
        down_from = len(site.requests)
        await tg.wait_for_async(lambda: site.requests[down_from:].count("/feed.rss") >= 2, timeout=30)
        site.put("/feed.rss", feed_of((METRO, metro), (SEVAN, sevan)))  # ...and comes back with a new item
        await tg.wait_for_async(lambda: holds(METRO.title), timeout=30)
        asked_again = tg.private_message(42, "What will the metro fare in Yerevan be?")
        [second] = texts(await bot.replies_to(asked_again))

    assert "23 centimetres" in answer and SEVAN.title in answer
    assert "200 drams" in second and METRO.title in second
    assert sorted(p.name for p in folder.iterdir()) == [
        "caucasus-ledger-2023-04-18-lake-sevan-water-level-rises.md",
        "caucasus-ledger-2023-05-02-yerevan-metro-fares-to-double.md",
        "harvest.md",
    ]  # and no temporary file left behind
    assert site.requests.count("/news/sevan.html") == 1  # an article already in the corpus is not fetched again
    messages = [r.getMessage() for r in caplog.records]
    added = [m for m in messages if m.startswith("feeds: added ")]
    assert len(added) == 2 and sevan in added[0] and metro in added[1]
    down = [m for m in messages if "HTTP 503" in m]
    assert down and all(m == f"feeds: failed {feed}: the server answered HTTP 503 Service Unavailable; try again "
                             "later; trying again at the next check" for m in down)
    reloaded = [m for m in messages if m.startswith("feeds: 1 new article; corpus reloaded: ")]
    assert reloaded[-1].endswith("3 articles, " + reloaded[-1].rsplit(", ", 1)[1])


async def test_an_item_that_cannot_be_added_is_reported_once_not_at_every_check(tg, site, tmp_path, caplog):
    caplog.set_level(logging.INFO)
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "harvest.md").write_text(FIRST, encoding="utf-8")
    login = site.put("/login.html", Response(b"<html><head><title>Sign in</title></head><body><form>"
                                             b"<input type=password></form></body></html>"))
    feed = site.put("/feed.rss", Response(rss([(login, "Members only", None)]), content_type="application/rss+xml"))
    source = LibrarySource(folder, 10**7)
    library, _ = source.load()
    follower = FeedFollower([feed], corpus_dir=folder, max_file_bytes=10**7)
    async with serving(tg, library, corpus=source, feeds=follower, feed_interval=0.05):
        await tg.wait_for_async(lambda: site.requests.count("/feed.rss") >= 3, timeout=30)
    assert site.requests.count("/login.html") == 1
    messages = [r.getMessage() for r in caplog.records]
    skipped = [m for m in messages if m.startswith("feeds: ") and "login" in m]
    assert len(skipped) == 1 and skipped[0].startswith(f"feeds: skipped {login} (in feed {feed}): ")
    assert sorted(p.name for p in folder.iterdir()) == ["harvest.md"]


def test_run_with_feeds_follows_them_with_the_settings(tmp_path, monkeypatch):
    captured = {}
    monkeypatch.setattr(service, "run", lambda config: captured.setdefault("config", config) and 0)
    monkeypatch.setenv("BOT_TOKEN", "123456:ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghi")
    monkeypatch.setenv("BOT_FEEDS", "https://example.org/a.rss https://example.org/b.atom")
    monkeypatch.setenv("BOT_FEED_INTERVAL", "600")
    monkeypatch.setenv("BOT_CORPUS_DIR", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    cli.main(["run"])
    config = captured["config"]
    assert isinstance(config.feeds, FeedFollower) and config.feed_interval == 600
    assert config.feeds.feeds == ("https://example.org/a.rss", "https://example.org/b.atom")
    assert config.feeds.corpus_dir == Path(tmp_path)


def test_run_with_feeds_but_without_the_extra_names_it(tmp_path, monkeypatch, capsys):
    import sys

    monkeypatch.setitem(sys.modules, "feedparser", None)
    monkeypatch.setenv("BOT_TOKEN", "123456:ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghi")
    monkeypatch.setenv("BOT_FEEDS", "https://example.org/a.rss")
    monkeypatch.chdir(tmp_path)
    assert cli.main(["run"]) == 2
    assert capsys.readouterr().err.strip() == (
        "error: BOT_FEEDS (following feeds) needs the optional 'ingest' libraries (feedparser not installed); "
        "install them with: .venv/bin/pip install -e '.[ingest]'")
