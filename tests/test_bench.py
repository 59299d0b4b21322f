"""The benchmark keeps working: a tiny run of `python -m bot bench` prints the full table.

(The real sizes take minutes to hours: README, Performance.)"""

from __future__ import annotations

from bot.bench import benchmark, synthetic_corpus
from bot.corpus.articles import load_corpus
from bot.corpus.passages import split_passages
from conftest import CORPUS, ROOT, run_bot


def test_synthetic_corpus_is_reproducible_and_exactly_the_size_asked(tmp_path):
    first = synthetic_corpus.write_corpus(tmp_path / "a", 500, seed=7, seed_corpus=CORPUS)
    second = synthetic_corpus.write_corpus(tmp_path / "b", 500, seed=7, seed_corpus=CORPUS)
    files = sorted(p.name for p in first.glob("*.md"))
    assert files == sorted(p.name for p in second.glob("*.md"))
    assert all((first / f).read_bytes() == (second / f).read_bytes() for f in files)
    loaded = load_corpus(first, max_file_bytes=10_000_000)
    assert not loaded.problems
    assert sum(len(split_passages(d)) for d in loaded.documents) == 500
    asked = synthetic_corpus.questions(first, 30, seed=7, seed_questions=ROOT / "tests" / "data" / "questions.jsonl")
    assert len(asked) == 30 and asked == synthetic_corpus.questions(
        first, 30, seed=7, seed_questions=ROOT / "tests" / "data" / "questions.jsonl")


def test_a_tiny_benchmark_prints_the_table(tmp_path):
    result = run_bot("bench", "--sizes", "300", "--questions", "12", "--workdir", str(tmp_path),
                     "--reference-up-to", "300", "--json", str(tmp_path / "figures.json"), cwd=ROOT)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert any(line.startswith("Machine: ") for line in lines)
    rows = [line for line in lines if line.startswith("| 300 |")]
    assert [row.split("|")[2].strip() for row in rows] == ["sparse", "rank-bm25"]
    assert all(" ms |" in row and " MB |" in row for row in rows)
    assert (tmp_path / "figures.json").is_file()
    assert "| passages | engine | index build | start-up cold | start-up cached |" in result.stdout


def test_the_table_has_every_column(tmp_path):
    serve = {"startup": 0.5, "retrieval_ms": {"p50": 0.1, "p99": 0.2}, "answer_ms": {"p50": 1.0, "p99": 2.0},
             "answers_per_s": 900.0, "peak_rss_mb": 80.0,
             "stall_ms": {"to_thread_x4_one": {"worst_ms": 4.0, "p99_ms": 1.5, "longest_call_ms": 3.0},
                          "bot_one": {"worst_ms": 2.0, "p99_ms": 1.0, "longest_call_ms": 1.2},
                          "idle_one": {"worst_ms": 0.5, "p99_ms": 0.1}}}
    row = benchmark.Row(100_000, "sparse", {"build": 10.0, "startup": 12.0}, serve, {"add_s": 0.8})
    header, rule, line = benchmark.table([row]).splitlines()
    assert header.count("|") == rule.count("|") == line.count("|")
    assert line == ("| 100,000 | sparse | 10.00 s | 12.00 s | 0.50 s | 0.10 / 0.20 ms | 1.00 / 2.00 ms | 900 | "
                    "80 MB | 3.0 ms; 4.0 (1.5) ms | 1.2 ms; 2.0 (1.0) ms | 0.5 (0.1) ms | 0.80 s |")
