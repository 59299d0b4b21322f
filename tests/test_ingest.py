"""`python -m bot add`: web addresses, saved pages, PDFs, feeds and folders become corpus files,
each once, written whole; every bad source gets one line and the others are still added.

Everything is served from a local web site on 127.0.0.1 (tests/local_site.py) or written to a
temporary folder; the pages, feeds and PDFs are the tests' own (tests/ingest_fixtures.py)."""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import pytest

from bot import cli
from bot.corpus.articles import load_corpus, parse_document
from bot.ingest import corpus_files
from bot.ingest.corpus_files import NameTaken, write_new_file
from bot.ingest.fetching import USER_AGENT
from conftest import run_bot
from ingest_fixtures import BRIDGE, BUDGET_TEXT, METRO, SEVAN, atom, budget_pdf, news_page, rss
from local_site import LocalSite, Response
from pdf_files import build_pdf, paragraph_lines

pytest.importorskip("trafilatura", reason="the ingest extra is not installed: pip install -e '.[ingest]'")

SEVAN_FILE = "caucasus-ledger-2023-04-18-lake-sevan-water-level-rises.md"


@pytest.fixture
def site():
    site = LocalSite()
    yield site
    site.close()


@pytest.fixture
def corpus(workdir, monkeypatch) -> Path:
    """The corpus folder `add` writes to, in an empty working directory, without an index cache."""
    monkeypatch.setenv("BOT_CORPUS_DIR", str(workdir / "corpus"))
    monkeypatch.setenv("BOT_INDEX_CACHE_DIR", "")
    return workdir / "corpus"


def add(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(["add", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def files(folder: Path) -> dict[str, str]:
    """Every file in the folder (hidden ones too: a temporary file left behind would show)."""
    if not folder.exists():
        return {}
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(folder.iterdir())}


def serve_page(site: LocalSite, article, **options) -> str:
    return site.put(f"/news/{article.slug}.html", Response(news_page(article, **options).encode("utf-8")))


# --- a web page -------------------------------------------------------------------------------


def test_a_web_page_becomes_one_corpus_file_with_its_header_and_only_the_article_text(site, corpus, capsys):
    url = serve_page(site, SEVAN)
    code, out, err = add(capsys, url)
    assert code == 0, err
    assert files(corpus) == {SEVAN_FILE: (
        "---\n"
        f"title: {SEVAN.title}\n"
        f"publisher: {SEVAN.site}\n"
        f"published: {SEVAN.date}\n"
        f"url: {url}\n"
        "---\n\n"
        f"{SEVAN.text}\n"
    )}
    assert f"added {corpus / SEVAN_FILE}" in out and url in out
    text = (corpus / SEVAN_FILE).read_text(encoding="utf-8")
    for furniture in ("Home", "Share on Facebook", "Tweet this", "Read more", "Comments", "guest123",
                      "Most read", "All rights reserved", "Privacy policy", "By Anna Petrosyan"):
        assert furniture not in text
    assert USER_AGENT.startswith("corpus-answer-bot/") and site.user_agents == [USER_AGENT]


def test_an_added_article_is_answered_from_with_a_cited_verbatim_quote(site, corpus, capsys):
    url = serve_page(site, SEVAN)
    assert add(capsys, url)[0] == 0
    code = cli.main(["ask", "--json", "How much did the water level of Lake Sevan rise?"])
    answer = json.loads(capsys.readouterr().out)
    assert code == 0 and answer["answered"]
    best = answer["excerpts"][0]
    assert best["text"] in SEVAN.paragraphs[0] and "23 centimetres" in best["text"]
    assert (best["doc_id"], best["title"], best["publisher"], best["published"], best["url"]) == (
        SEVAN_FILE.removesuffix(".md"), SEVAN.title, SEVAN.site, SEVAN.date, url)


def test_a_saved_page_takes_its_address_from_the_page_itself(corpus, capsys, tmp_path):
    saved = tmp_path / "Kievyan bridge.html"
    saved.write_text(news_page(BRIDGE, canonical="https://www.yerevancourier.am/news/kievyan-bridge"), encoding="utf-8")
    code, _out, err = add(capsys, str(saved))
    assert code == 0, err
    (name, text), = files(corpus).items()
    assert name == "yerevancourier-2022-11-14-kievyan-bridge-reopens-to-traffic.md"
    document = parse_document(Path(name).stem, text)
    assert document.url == "https://www.yerevancourier.am/news/kievyan-bridge"
    assert document.text == BRIDGE.text  # curly apostrophes and the dash kept as they are


def test_a_page_without_a_date_is_named_undated_and_its_text_dates_are_not_taken_for_it(site, corpus, capsys):
    url = serve_page(site, METRO, meta_date=False)  # the text mentions "July 1": not a publication date
    assert add(capsys, url)[0] == 0
    (name, text), = files(corpus).items()
    assert name == "caucasus-ledger-undated-yerevan-metro-fares-to-double.md"
    assert "published:" not in text


@pytest.mark.parametrize("charset, served_as", [
    (None, "text/html"),  # no charset anywhere: guessed from the bytes
    ("windows-1252", "text/html; charset=utf-8"),  # the server's charset is wrong; the page's is right
])
def test_a_page_in_a_legacy_charset_is_decoded_right(site, corpus, capsys, charset, served_as):
    body = news_page(BRIDGE, charset=charset).encode("cp1252")
    url = site.put("/bridge.html", Response(body, content_type=served_as))
    code, _out, err = add(capsys, url)
    assert code == 0, err
    (_name, text), = files(corpus).items()
    assert parse_document("x", text).text == BRIDGE.text


def test_malformed_html_still_gives_its_article(site, corpus, capsys):
    paragraphs = "".join(f"<p>{p}" for p in METRO.paragraphs)  # no closing tags, stray ones, no <html>
    body = (f"<title>{METRO.title}</title><div><div><span>{paragraphs}</span></div></div></div></b></td>"
            "<p class=share><a href=#>Share").encode()
    url = site.put("/broken.html", Response(body))
    code, _out, err = add(capsys, url)
    assert code == 0, err
    (_name, text), = files(corpus).items()
    assert parse_document("x", text).text == METRO.text


# --- PDFs -------------------------------------------------------------------------------------


def test_a_pdf_gives_its_paragraphs_without_running_headers_and_page_numbers(site, corpus, capsys, tmp_path):
    pdf = tmp_path / "budget.pdf"
    pdf.write_bytes(budget_pdf())
    code, _out, err = add(capsys, "--publisher", "Parliament Weekly", str(pdf))
    assert code == 0, err
    (name, text), = files(corpus).items()
    assert name == "parliament-weekly-2023-12-01-parliament-approves-the-2024-budget.md"
    document = parse_document(Path(name).stem, text)
    assert document.text == BUDGET_TEXT
    assert (document.title, document.publisher, document.published) == (
        "Parliament approves the 2024 budget", "Parliament Weekly", "2023-12-01")
    assert document.note == "date taken from the PDF's creation date"


def test_a_pdf_behind_a_web_address_is_read_as_a_pdf_whatever_the_address_says(site, corpus, capsys):
    url = site.put("/budget.html", Response(budget_pdf(), content_type="application/pdf"))
    code, _out, err = add(capsys, url)
    assert code == 0, err
    (name, text), = files(corpus).items()
    document = parse_document(Path(name).stem, text)
    assert document.text == BUDGET_TEXT and document.url == url


# --- feeds ------------------------------------------------------------------------------------


def test_an_rss_feed_adds_the_article_of_each_item(site, corpus, capsys):
    sevan, metro = serve_page(site, SEVAN), serve_page(site, METRO)
    feed = site.put("/feed.xml", Response(rss([(sevan, SEVAN.title, "Tue, 18 Apr 2023 09:30:00 +0400"),
                                               (metro, METRO.title, "Tue, 02 May 2023 10:00:00 +0400")]),
                                          content_type="application/rss+xml"))
    code, out, err = add(capsys, feed)
    assert code == 0, err
    texts = {parse_document("x", t).text for t in files(corpus).values()}
    assert texts == {SEVAN.text, METRO.text}
    assert out.count("added ") == 2 and f"(in feed {feed})" in out


def test_an_atom_feed_file_adds_its_entries_and_fills_the_date_and_publisher_the_page_lacks(site, corpus, capsys,
                                                                                              tmp_path):
    bare = news_page(BRIDGE, meta_date=False).replace('<meta property="og:site_name" content="Yerevan Courier">', "")
    url = site.put("/bridge", Response(bare.encode("utf-8")))
    feed = tmp_path / "courier.atom"
    feed.write_bytes(atom([(url, BRIDGE.title, BRIDGE.date)]))
    code, _out, err = add(capsys, str(feed))
    assert code == 0, err
    (name, text), = files(corpus).items()
    document = parse_document(Path(name).stem, text)
    assert (document.publisher, document.published, document.text) == ("Yerevan Courier", BRIDGE.date, BRIDGE.text)


def test_a_folder_adds_its_pages_pdfs_and_feeds_and_names_what_it_left_out(site, corpus, capsys, tmp_path):
    folder = tmp_path / "saved"
    (folder / "page_files").mkdir(parents=True)
    (folder / "sevan.html").write_text(news_page(SEVAN), encoding="utf-8")
    (folder / "budget.pdf").write_bytes(budget_pdf())
    (folder / "feed.rss").write_bytes(rss([(serve_page(site, METRO), METRO.title, None)]))
    (folder / "page_files" / "app.js").write_text("var x = 1;")
    (folder / "notes.docx").write_bytes(b"PK\x03\x04")
    code, _out, err = add(capsys, str(folder))
    assert code == 0, err
    texts = {parse_document("x", t).text for t in files(corpus).values()}
    assert texts == {SEVAN.text, METRO.text, BUDGET_TEXT}
    left_out = [line for line in err.splitlines() if "left out" in line]
    assert len(left_out) == 1 and str(folder) in left_out[0] and "2 files" in left_out[0]


# --- once only --------------------------------------------------------------------------------


def test_the_same_address_is_added_once_and_not_fetched_again(site, corpus, capsys):
    url = serve_page(site, SEVAN)
    assert add(capsys, url)[0] == 0
    code, out, _err = add(capsys, url + "?utm_source=telegram#comments")
    assert code == 0
    assert f"already in the corpus: {url}?utm_source=telegram#comments: same address as {SEVAN_FILE}" in out
    assert len(files(corpus)) == 1 and site.requests == ["/news/sevan.html"]


def test_the_same_text_under_another_address_is_added_once(site, corpus, capsys):
    first = serve_page(site, SEVAN)
    mirror = site.put("/amp/sevan", Response(news_page(SEVAN).encode("utf-8")))
    code, out, err = add(capsys, first, mirror)
    assert code == 0, err
    assert list(files(corpus)) == [SEVAN_FILE]
    assert f"already in the corpus: {mirror}: same text as {SEVAN_FILE}" in out


def test_a_name_taken_by_another_article_gets_a_number_and_the_other_file_is_left_alone(site, corpus, capsys):
    corpus.mkdir()
    other = "---\ntitle: Something else\n---\n\nAnother article entirely, written by hand.\n"
    (corpus / SEVAN_FILE).write_text(other, encoding="utf-8")
    code, out, err = add(capsys, serve_page(site, SEVAN))
    assert code == 0, err
    numbered = SEVAN_FILE.replace(".md", "-2.md")
    assert files(corpus)[SEVAN_FILE] == other
    assert parse_document("x", files(corpus)[numbered]).text == SEVAN.text
    assert f"as {numbered}: {SEVAN_FILE} holds another article" in out


def test_dry_run_shows_the_file_and_writes_nothing(site, corpus, capsys):
    code, out, err = add(capsys, "--dry-run", serve_page(site, SEVAN))
    assert code == 0, err
    assert not corpus.exists()
    assert f"would add {corpus / SEVAN_FILE}" in out
    assert f"    title: {SEVAN.title}" in out and "    " + SEVAN.paragraphs[0] in out
    assert "1 would add" in out


# --- bad input: one line each, and the others still added ----------------------------------------


def test_every_bad_source_gets_one_line_and_the_good_ones_are_still_added(site, corpus, capsys, tmp_path,
                                                                          monkeypatch):
    monkeypatch.setenv("BOT_FETCH_TIMEOUT", "1")
    monkeypatch.setenv("BOT_FETCH_MAX_BYTES", "200000")
    good = serve_page(site, SEVAN)
    closed = LocalSite()
    unreachable = closed.url("/gone.html")
    closed.close()  # nothing listens there any more
    encrypted, scanned = tmp_path / "locked.pdf", tmp_path / "scan.pdf"
    encrypted.write_bytes(build_pdf([paragraph_lines([["Secret text."]])], encrypted=True))
    scanned.write_bytes(build_pdf(image_only=True))
    bad = {
        unreachable: "cannot connect to",
        site.stall("/slow.html"): "timed out: no answer within 1 s",
        site.put("/missing.html", Response(b"no", status=404)): "there is no page at this address (HTTP 404",
        site.redirect("/loop.html", "/loop.html"): "redirects more than 5 times (a redirect loop?)",
        site.flood("/huge.html", declared=50_000_000): "is 50,000,000 bytes, over the 200,000-byte limit",
        site.flood("/endless.html", declared=None): "is larger than 200,000 bytes, over the 200,000-byte limit",
        site.put("/photo.html", Response(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", content_type="image/png")):
            "is binary data (image/png), not a web page, a PDF or a feed",
        site.put("/data.html", Response(b'{"a": 1}', content_type="application/json")):
            "is application/json, not a web page, a PDF or a feed",
        site.put("/feed.xml", Response(b"<?xml version='1.0'?><rss><channel><item><title>Unclosed",
                                       content_type="application/rss+xml")): "is not a readable RSS or Atom feed",
        str(encrypted): "the PDF is encrypted with a password",
        str(scanned): "the PDF has no text, only images (a scan?); run it through OCR",
        "ftp://example.org/a.html": "only http:// and https:// addresses can be fetched",
        str(tmp_path / "nowhere.html"): "no such file or folder",
    }
    code, out, err = add(capsys, *bad, good)
    assert code == 2  # some sources need fixing; trying again will not help them
    assert list(files(corpus)) == [SEVAN_FILE]
    problem_lines = err.strip().splitlines()
    assert len(problem_lines) == len(bad), err
    for source, reason in bad.items():
        lines = [line for line in problem_lines if line.startswith(f"failed {source}: ")]
        assert len(lines) == 1 and reason in lines[0], (source, reason, err)
    assert f"added {corpus / SEVAN_FILE}" in out
    assert f"1 added, 0 already in the corpus, 0 without article text, {len(bad)} failed" in out


def test_a_feed_item_without_a_link_is_named_and_the_others_are_added(site, corpus, capsys):
    feed = site.put("/feed.rss", Response(rss([(None, "Orphan headline", None),
                                               (serve_page(site, SEVAN), SEVAN.title, None)]),
                                          content_type="application/rss+xml"))
    code, _out, err = add(capsys, feed)
    assert code == 2
    assert f"failed item 'Orphan headline' (in feed {feed}): has no link to an article; skipped" in err
    assert list(files(corpus)) == [SEVAN_FILE]


def test_a_feed_that_breaks_off_still_gives_its_readable_items_and_says_it_is_malformed(site, corpus, capsys):
    whole = rss([(serve_page(site, SEVAN), SEVAN.title, None), (serve_page(site, METRO), METRO.title, None)])
    cut = whole[: whole.rindex(b"<item>") + len(b"<item><title>Yere")]  # breaks off in the second item's title
    feed = site.put("/cut.rss", Response(cut, content_type="application/rss+xml"))
    code, _out, err = add(capsys, feed)
    assert code == 2
    assert list(files(corpus)) == [SEVAN_FILE]
    line, = err.strip().splitlines()
    assert line.startswith(f"failed {feed}: the feed is malformed (") and line.endswith(
        ": 1 item could not be read; the others are added")


def test_failures_that_may_pass_by_themselves_exit_1(site, corpus, capsys):
    url = site.put("/busy.html", Response(b"busy", status=503))
    code, _out, err = add(capsys, url)
    assert code == 1
    assert err.strip() == f"failed {url}: the server answered HTTP 503 Service Unavailable; try again later"


@pytest.mark.parametrize("page, words", [
    ("<html><head><title>Latest news</title></head><body><h1>Latest news</h1><ul>"
     + "".join(f"<li><a href='/n/{i}'>Headline number {i}</a></li>" for i in range(30)) + "</ul></body></html>", None),
    ("<html><head><title>Sign in</title></head><body><h1>Sign in to continue</h1><form><label>Email</label>"
     "<input name=e><label>Password</label><input type=password name=p><button>Log in</button></form>"
     "<p><a href=/forgot>Forgot your password?</a></p></body></html>", None),
    ("<html><head><title>Budget cuts hit schools</title></head><body><article><h1>Budget cuts hit schools</h1>"
     "<p>Schools across the region will lose a fifth of their funding next year, officials said.</p>"
     "<div class='paywall'><p>Subscribe to continue reading. Already a subscriber? Log in.</p></div>"
     "</article></body></html>", "of article text (fewer than 40"),
])
def test_a_page_without_article_text_writes_nothing_and_says_why(site, corpus, capsys, page, words):
    url = site.put("/page.html", Response(page.encode("utf-8")))
    code, _out, err = add(capsys, url)
    assert code == 0  # not a failure: there was nothing to add
    assert not files(corpus)
    line, = err.strip().splitlines()
    assert line.startswith(f"skipped {url}: ") and "nothing written" in line
    assert (words or "paywall, a login or an index page") in line


# --- writing ----------------------------------------------------------------------------------


def test_a_file_is_written_whole_or_not_at_all(tmp_path, monkeypatch):
    folder = tmp_path / "corpus"
    write_new_file(folder, "a.md", "first\n")
    with pytest.raises(NameTaken):
        write_new_file(folder, "a.md", "second\n")  # never over an existing file

    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(corpus_files.os, "fsync", disk_full)
    with pytest.raises(OSError):
        write_new_file(folder, "b.md", "x" * 100_000)
    assert files(folder) == {"a.md": "first\n"}  # no half-written file, no temporary file left


def test_a_file_that_cannot_be_written_is_one_line_and_the_rest_goes_on(site, corpus, capsys, monkeypatch):
    real_link = os.link

    def refuse_one(source, target, *args, **kwargs):
        if "metro" in str(target):
            raise PermissionError(13, "Permission denied")
        return real_link(source, target, *args, **kwargs)

    monkeypatch.setattr(corpus_files.os, "link", refuse_one)
    monkeypatch.setattr(corpus_files.os, "replace", refuse_one)
    code, _out, err = add(capsys, serve_page(site, METRO), serve_page(site, SEVAN))
    assert code == 2
    assert re.search(r"failed .*metro\.html: cannot write .*metro.*\.md \(Permission denied\); nothing written", err)
    assert list(files(corpus)) == [SEVAN_FILE]


def test_what_add_writes_loads_as_the_corpus_without_a_warning(site, corpus, capsys):
    add(capsys, serve_page(site, SEVAN), serve_page(site, METRO), serve_page(site, BRIDGE))
    loaded = load_corpus(corpus, max_file_bytes=2_000_000)
    assert not loaded.problems
    assert {d.text for d in loaded.documents} == {SEVAN.text, METRO.text, BRIDGE.text}


# --- the extra --------------------------------------------------------------------------------


def test_without_the_extra_add_names_it_and_how_to_install_it(corpus, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "trafilatura", None)  # as if it were not installed
    code, _out, err = add(capsys, "https://example.org/a.html")
    assert code == 2
    assert err.strip() == ("error: python -m bot add needs the optional 'ingest' libraries (trafilatura not "
                           "installed); install them with: .venv/bin/pip install -e '.[ingest]'")


def test_the_bots_start_up_does_not_import_the_ingest_libraries(workdir):
    probe = ("import sys, bot.cli, bot.telegram.service; "
             "print(sorted(m for m in ('trafilatura', 'pdfminer', 'feedparser', 'lxml', 'tld', 'tqdm', 'httpx')"
             " if m in sys.modules))")
    result = run_bot_python(probe, workdir)
    assert result == "['httpx']"  # python-telegram-bot's own HTTP client, not ours


def run_bot_python(code: str, cwd: Path) -> str:
    import subprocess

    done = subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=60,
                          env={k: v for k, v in os.environ.items() if not k.startswith("BOT_")})
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_add_is_a_command_of_the_bot(workdir):
    result = run_bot("add", "--help", cwd=workdir)
    assert result.returncode == 0 and "--dry-run" in result.stdout
