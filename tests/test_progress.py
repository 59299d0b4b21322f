"""Progress bars: indexing, `add` and `bench` show a bar with counts and rate on a terminal, and
nothing when standard error is not a terminal or under --quiet."""

from __future__ import annotations

import io
import re

import pytest

from bot import cli
from bot.bench import benchmark
from conftest import CORPUS, run_bot

SEED_ARTICLES = len(list(CORPUS.glob("*.md")))


class Terminal(io.StringIO):
    """Standard error as a terminal: a bar is drawn on it."""

    def isatty(self) -> bool:
        return True


def terminal_stderr(monkeypatch) -> Terminal:
    """Standard error replaced by a terminal. (Called in the test itself: capsys sets its own
    standard error when the test starts, after the fixtures.)"""
    stream = Terminal()
    monkeypatch.setattr("sys.stderr", stream)
    return stream


@pytest.fixture
def seed_corpus(workdir, monkeypatch):
    monkeypatch.setenv("BOT_CORPUS_DIR", str(CORPUS))
    monkeypatch.setenv("BOT_INDEX_CACHE_DIR", str(workdir / "cache"))  # empty: the index is built


def test_indexing_shows_a_bar_with_counts_and_rate_on_a_terminal(seed_corpus, capsys, monkeypatch):
    terminal = terminal_stderr(monkeypatch)
    assert cli.main(["check"]) == 0
    drawn = terminal.getvalue()
    assert "indexing" in drawn
    assert f"{SEED_ARTICLES}/{SEED_ARTICLES}" in drawn and "articles/s" in drawn
    assert "corpus: 5 articles" in capsys.readouterr().out  # the output itself is untouched


def test_no_bar_under_quiet(seed_corpus, capsys, monkeypatch):
    terminal = terminal_stderr(monkeypatch)
    assert cli.main(["check", "--quiet"]) == 0
    assert terminal.getvalue() == ""


def test_no_bar_when_standard_error_is_not_a_terminal(workdir):
    result = run_bot("check", cwd=workdir, env={"BOT_CORPUS_DIR": str(CORPUS),
                                                "BOT_INDEX_CACHE_DIR": str(workdir / "cache")})
    assert result.returncode == 0 and result.stderr == ""


def test_an_unchanged_cached_corpus_draws_no_bar(seed_corpus, capsys, monkeypatch):
    terminal = terminal_stderr(monkeypatch)
    assert cli.main(["check"]) == 0  # builds the cache
    terminal.seek(0)
    terminal.truncate()
    assert cli.main(["check"]) == 0  # nothing to analyze: nothing to show
    assert terminal.getvalue() == ""


def test_add_shows_a_bar_of_sources(workdir, capsys, monkeypatch, tmp_path):
    terminal = terminal_stderr(monkeypatch)
    pytest.importorskip("trafilatura")
    from ingest_fixtures import SEVAN, news_page

    monkeypatch.setenv("BOT_CORPUS_DIR", str(workdir / "corpus"))
    for n in range(3):
        (tmp_path / f"page{n}.html").write_text(news_page(SEVAN).replace("23 centimetres", f"{n} centimetres"),
                                                encoding="utf-8")
    assert cli.main(["add", str(tmp_path / "page0.html"), str(tmp_path / "page1.html"),
                     str(tmp_path / "page2.html")]) == 0
    drawn = terminal.getvalue()
    assert "adding" in drawn and "3/3" in drawn and "sources/s" in drawn
    assert capsys.readouterr().out.count("added ") == 3


def test_bench_shows_a_bar_of_its_steps(workdir, capsys, monkeypatch, tmp_path):
    terminal = terminal_stderr(monkeypatch)
    ran = []

    def phase(name: str, params: dict) -> dict:  # the phases' own figures are tests/test_bench.py's business
        ran.append((name, params["engine"]))
        figures = {"startup": 0.5, "build": 0.1, "documents": 1, "terms": 1, "postings": 1, "how": "cached",
                   "retrieval_ms": {"p50": 0.1, "p99": 0.2}, "answer_ms": {"p50": 1.0, "p99": 2.0},
                   "answers_per_s": 900.0, "peak_rss_mb": 80.0, "add_s": 0.1, "add_steps": {}, "remove_s": 0.1,
                   "stall_ms": {k: {"worst_ms": 1.0, "p99_ms": 0.5} for k in ("to_thread_x4_one", "bot_one",
                                                                                 "idle_one")}}
        return figures

    monkeypatch.setattr(benchmark, "_run_phase", phase)
    code = cli.main(["bench", "--sizes", "300", "--questions", "5", "--reference-up-to", "300",
                     "--workdir", str(tmp_path)])
    assert code == 0
    steps = 1 + len(ran)  # the corpus, then each phase
    assert steps == 6
    drawn = terminal.getvalue()
    assert "bench" in drawn and f"{steps}/{steps}" in drawn and "steps/s" in drawn
    out = capsys.readouterr().out
    assert "# 300 passages: corpus ready" in out and re.search(r"^\| 300 \| sparse \|", out, re.M)
