"""Statistics and the feedback export, read from a real question log, and their commands
(`python -m bot stats`, `python -m bot feedback export FILE`) as an operator runs them."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from bot.evaluation import QuestionFileError, read_cases
from bot.operations.feedback_export import export_feedback
from bot.operations.question_log import ANSWERED, DOWN, REFUSED, UP, Asked, QuestionLog
from bot.operations.statistics import read_statistics, report
from conftest import run_bot

NOW = time.mktime((2026, 5, 20, 12, 0, 0, 0, 0, 0)) - time.timezone  # noon UTC
DAY = 86400


def write_log(path: Path, entries: list[tuple], votes: list[tuple] = ()) -> dict[str, int]:
    """entries: (question, outcome, days ago, latency ms, user); votes: (question, user, vote, reason).
    Returns the id of each question's last entry."""
    ids: dict[str, int] = {}
    log = QuestionLog(path, keep_days=3650)
    log.start()
    try:
        for question, outcome, days_ago, latency_ms, user in entries:
            ids[question] = QuestionLog.new_question_id()
            log.record(Asked(ids[question], NOW - days_ago * DAY, "private", user, question, outcome,
                             ("doc:1",) if outcome == ANSWERED else (), latency_ms / 1000))
        for question, user, vote, reason in votes:
            log.vote(ids[question], user, vote).result(10)
            if reason:
                assert log.give_reason(ids[question], user, reason).result(10)
    finally:
        log.close()
    return ids


@pytest.fixture
def log_file(tmp_path: Path) -> Path:
    path = tmp_path / "questions.sqlite3"
    entries = []
    for n in range(10):  # asked ten times over the last three days, 10..100 ms, the last time as n = 9 words it
        entries.append(("Who met in Moscow?" if n % 2 else "who met in moscow", ANSWERED, n % 3 + (9 - n) / 1000,
                        10 * (n + 1), n))
    entries += [("Who painted the Mona Lisa?", REFUSED, 0, 5, 1), ("Who painted the Mona Lisa", REFUSED, 1, 5, 2),
                ("What is the euro rate?", REFUSED, 0, 5, 3),
                ("Why did Russia deploy border guards?", ANSWERED, 0, 1000, 4),
                ("An old question?", ANSWERED, 40, 7, 5)]
    votes = [("Why did Russia deploy border guards?", 4, DOWN, "wrong quote"),
             ("Why did Russia deploy border guards?", 7, DOWN, None),
             ("Who met in Moscow?", 1, UP, None), ("Who met in Moscow?", 2, DOWN, "outdated")]
    write_log(path, entries, votes)
    return path


def test_the_figures_an_operator_asks_for(log_file):
    stats = read_statistics(log_file, days=14, now=NOW)
    assert stats.questions == 14  # the 40-day-old one is outside the window
    assert dict(stats.per_day) == {"2026-05-20": 4 + 3, "2026-05-19": 3 + 1, "2026-05-18": 3}
    assert dict(stats.outcomes) == {"answered": 11, "hedged": 0, "refused": 3}
    assert (stats.up, stats.down) == (1, 3)
    # 14 latencies: 5, 5, 5, 10, 20 ... 100, 1000 ms: nearest-rank median is the 7th, p95 the 14th
    assert stats.latency_median_ms == 40 and stats.latency_p95_ms == 1000
    assert [(r.question, r.count) for r in stats.most_asked][:2] == [("Who met in Moscow?", 10),
                                                                     ("Who painted the Mona Lisa?", 2)]
    assert [(r.question, r.down, r.up, r.reasons) for r in stats.most_disliked] == [
        ("Why did Russia deploy border guards?", 2, 0, ("wrong quote",)),
        ("Who met in Moscow?", 1, 1, ("outdated",)),
    ]
    assert [(r.question, r.count) for r in stats.most_refused] == [("Who painted the Mona Lisa?", 2),
                                                                   ("What is the euro rate?", 1)]
    text = "\n\n".join(report(stats))
    for shown in ("14 questions", "answered 79% (11)", "refused 21% (3)", "👍 1", "👎 3", "median 40 ms",
                  "p95 1,000 ms", "2026-05-18", "10×  Who met in Moscow?",
                  "Why did Russia deploy border guards? (wrong quote)"):
        assert shown in text, shown


def test_an_empty_log_reports_zeros_not_errors(tmp_path):
    path = tmp_path / "questions.sqlite3"
    write_log(path, [])
    stats = read_statistics(path, now=NOW)
    assert stats.questions == 0 and stats.latency_median_ms is None
    assert "0 questions" in "\n".join(report(stats))


def test_export_writes_disliked_and_refused_questions_as_an_eval_file_a_person_completes(log_file, tmp_path):
    out = tmp_path / "review.jsonl"
    assert export_feedback(log_file, out).added == 4
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [line["question"] for line in lines] == [
        "Why did Russia deploy border guards?",  # most disliked first
        "Who met in Moscow?",
        "Who painted the Mona Lisa?",  # then most refused
        "What is the euro rate?",
    ]
    assert all(line["answers"] == [] for line in lines)
    assert lines[0]["disliked"] == 2 and lines[0]["reasons"] == ["wrong quote"] and lines[0]["quoted"] == ["doc:1"]
    assert lines[2]["refused"] == 2 and lines[2]["outcome"] == "refused"
    with pytest.raises(QuestionFileError, match=r"review.jsonl:1"):  # eval wants the answers filled in
        read_cases(out)
    # A person fills in the answers; exporting again keeps their work and adds only new questions.
    lines[0]["answers"] = ["border guards in Syunik"]
    lines[2]["answers"] = None
    out.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    write_log(log_file, [("A brand new refused question?", REFUSED, 0, 5, 9)])
    again = export_feedback(log_file, out)
    assert (again.added, again.already) == (1, 4)
    kept = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert kept[0]["answers"] == ["border guards in Syunik"] and kept[2]["answers"] is None
    assert kept[-1]["question"] == "A brand new refused question?"
    for line in kept:  # filled in: eval reads it
        line["answers"] = line["answers"] if line["answers"] != [] else None
    out.write_text("".join(json.dumps(line) + "\n" for line in kept), encoding="utf-8")
    assert len(read_cases(out)) == 5


def test_the_stats_and_export_commands(log_file, workdir):
    env = {"BOT_LOG_DB": str(log_file)}
    stats = run_bot("stats", "--days", "3650", cwd=workdir, env=env)
    assert stats.returncode == 0, stats.stderr
    assert "15 questions" in stats.stdout and "Most refused:" in stats.stdout and "Who met in Moscow?" in stats.stdout
    export = run_bot("feedback", "export", "review.jsonl", cwd=workdir, env=env)
    assert export.returncode == 0, export.stderr
    assert "4 questions added" in export.stdout and "python -m bot eval review.jsonl" in export.stdout
    assert len((workdir / "review.jsonl").read_text().splitlines()) == 4


def test_the_commands_explain_a_missing_or_unusable_log(workdir):
    missing = run_bot("stats", cwd=workdir)
    assert missing.returncode == 2 and missing.stderr.startswith("error: there is no question log at")
    assert "BOT_LOG_DB" in missing.stderr and "Traceback" not in missing.stderr
    (workdir / "broken.sqlite3").write_bytes(b"garbage" * 1000)
    broken = run_bot("feedback", "export", "out.jsonl", cwd=workdir, env={"BOT_LOG_DB": "broken.sqlite3"})
    assert broken.returncode == 2 and "damaged or not a question log" in broken.stderr
    assert not (workdir / "out.jsonl").exists()
    days = run_bot("stats", "--days", "0", cwd=workdir)
    assert days.returncode == 2 and "expected a number of days" in days.stderr


def test_export_refuses_to_append_to_a_file_that_is_not_a_question_file(log_file, tmp_path):
    out = tmp_path / "notes.txt"
    out.write_text("my notes\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"notes.txt:1"):
        export_feedback(log_file, out)
    assert out.read_text(encoding="utf-8") == "my notes\n"


def test_check_reports_an_unusable_log_without_failing(workdir):
    from conftest import CORPUS

    (workdir / "data").mkdir()
    (workdir / "data" / "questions.sqlite3").write_bytes(b"garbage" * 1000)
    result = run_bot("check", cwd=workdir, env={"BOT_CORPUS_DIR": str(CORPUS)})
    assert result.returncode == 0, result.stderr  # the bot answers without its log
    assert "warning: question log data/questions.sqlite3: the file is damaged or not a question log" in result.stderr
    assert "move it away" in result.stderr and "Traceback" not in result.stderr
    off = run_bot("check", cwd=workdir, env={"BOT_CORPUS_DIR": str(CORPUS), "BOT_LOG_QUESTIONS": "false"})
    assert off.returncode == 0 and "question log: off" in off.stdout and "warning" not in off.stderr
