"""The question log on a real SQLite file: what it stores (and never stores), votes, retention,
and the faults an operator meets (a missing folder, another process's lock, a corrupt file, a
full or read-only disk): the log says once what is wrong, keeps the rows and writes them when it
can again, and `inspect` (what `check` prints) names the problem."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot.answers import Answer
from bot.operations import question_log as ql
from bot.operations.question_log import (
    ANSWERED,
    DOWN,
    HEDGED,
    REFUSED,
    UP,
    Asked,
    QuestionLog,
    VoteResult,
    inspect,
    outcome_of,
    salt_path,
)

USER = 987654321


@pytest.fixture(autouse=True)
def _quick_retries(monkeypatch):
    monkeypatch.setattr(ql, "RETRY_AFTER", 0.05)
    monkeypatch.setattr(ql, "BUSY_TIMEOUT", 0.05)


def asked(question: str = "Who met in Moscow?", *, user: int = USER, outcome: str = ANSWERED, at: float | None = None,
          latency: float = 0.02, question_id: int | None = None) -> Asked:
    return Asked(question_id or QuestionLog.new_question_id(), time.time() if at is None else at, "private", user,
                 question, outcome, ("putin-pashinian:10", "border:3") if outcome == ANSWERED else (), latency)


@contextlib.contextmanager
def running(path: Path, keep_days: int = 30, **kwargs):
    log = QuestionLog(path, keep_days=keep_days, **kwargs)
    log.start()
    try:
        yield log
    finally:
        log.close()


def rows(path: Path, table: str = "question_log") -> list[dict]:
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.row_factory = sqlite3.Row
        return [dict(r) for r in db.execute(f"SELECT * FROM {table}")]


def test_a_row_holds_time_chat_type_hashed_user_question_outcome_passages_and_latency(tmp_path):
    path = tmp_path / "log" / "questions.sqlite3"  # the folder does not exist yet
    entry = asked(latency=0.0421)
    with running(path) as log:
        log.record(entry)
        assert log.flush(10)
    [row] = rows(path)
    assert row["id"] == entry.question_id and row["asked_at"] == pytest.approx(entry.asked_at)
    assert (row["chat_type"], row["question"], row["outcome"]) == ("private", "Who met in Moscow?", "answered")
    assert json.loads(row["passage_ids"]) == ["putin-pashinian:10", "border:3"]
    assert row["latency_ms"] == pytest.approx(42.1)
    # The user is a salted hash: not the id, and not a hash of the id without the salt.
    assert str(USER) not in json.dumps(row) and len(row["user_hash"]) == 16
    with running(path) as log:  # the same person hashes the same after a restart (the salt is kept)
        log.record(asked("Another question?"))
    assert len({r["user_hash"] for r in rows(path)}) == 1
    salt = salt_path(path)
    assert salt.is_file() and salt.stat().st_mode & 0o777 == 0o600
    assert salt.read_text().strip() not in path.read_bytes().decode("latin-1")
    with contextlib.closing(sqlite3.connect(path)) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_the_outcome_comes_from_the_answer(library):
    from bot.answers import answer_question

    def outcome(question: str) -> str:
        return outcome_of(answer_question(library, question, limit=3, min_match=0.3))

    assert outcome("Why did Russia deploy border guards in Syunik?") == ANSWERED
    assert outcome("Who painted the Mona Lisa?") == REFUSED
    answer = answer_question(library, "Why did Russia deploy border guards in Syunik?", limit=3, min_match=0.3)
    assert outcome_of(dataclasses.replace(answer, hedged=True)) == HEDGED  # the closest passages, labelled so
    assert outcome_of(Answer("", (), ())) == REFUSED


def test_one_vote_per_user_per_answer_changeable_with_a_reason_after_thumbs_down(tmp_path):
    path = tmp_path / "questions.sqlite3"
    entry = asked()
    with running(path) as log:
        log.record(entry)
        qid = entry.question_id
        assert log.vote(qid, USER, UP).result(10) is VoteResult.RECORDED
        assert log.vote(qid, USER, UP).result(10) is VoteResult.UNCHANGED
        assert log.give_reason(qid, USER, "no reason for a 👍").result(10) is False
        assert log.vote(qid, USER, DOWN).result(10) is VoteResult.CHANGED
        assert log.give_reason(qid, USER, "  the quote\nis   about another meeting ").result(10) is True
        assert log.vote(qid, 5, DOWN).result(10) is VoteResult.RECORDED  # someone else
        assert log.vote(12345, USER, UP).result(10) is VoteResult.UNKNOWN  # no such answer
    feedback = sorted(rows(path, "question_feedback"), key=lambda r: r["vote"])
    assert [(f["vote"], f["reason"]) for f in feedback] == [
        (DOWN, "the quote is about another meeting"), (DOWN, None)] or [(f["vote"], f["reason"]) for f in feedback] == [
        (DOWN, None), (DOWN, "the quote is about another meeting")]
    with running(path) as log:  # changing the vote again clears the reason
        assert log.vote(entry.question_id, USER, UP).result(10) is VoteResult.CHANGED
    assert sorted((f["vote"], f["reason"]) for f in rows(path, "question_feedback")) == [(DOWN, None), (UP, None)]


def test_questions_older_than_the_retention_go_with_their_feedback(tmp_path):
    path = tmp_path / "questions.sqlite3"
    old, recent = asked("Old question?", at=time.time() - 31 * 86400), asked("Recent question?")
    with running(path, keep_days=60) as log:
        log.record(old)
        log.record(recent)
        log.vote(old.question_id, USER, DOWN).result(10)
    with running(path, keep_days=30) as log:  # retention is applied at start (and hourly)
        assert log.flush(10)
        assert log.vote(old.question_id, USER, UP).result(10) is VoteResult.UNKNOWN
    assert [r["question"] for r in rows(path)] == ["Recent question?"]
    assert rows(path, "question_feedback") == []


def test_a_corrupt_file_is_reported_once_and_the_rows_wait_until_it_is_moved_away(tmp_path, caplog):
    path = tmp_path / "questions.sqlite3"
    path.write_bytes(b"this is not a database, but a text file someone put here\n" * 100)
    caplog.set_level(logging.WARNING, "bot.operations.question_log")
    with running(path) as log:
        for n in range(5):
            log.record(asked(f"Question {n}?"))
        assert not log.flush(0.5)
        assert "damaged or not a question log" in log.problem and "move it away" in log.problem
        assert inspect(path, 30).problem and "damaged" in inspect(path, 30).problem
        path.rename(tmp_path / "questions.sqlite3.broken")
        log.record(asked("Question 5?"))
        assert log.flush(10)
        assert log.problem is None
    assert sorted(r["question"] for r in rows(path)) == [f"Question {n}?" for n in range(6)]
    warnings = [r.getMessage() for r in caplog.records if "damaged" in r.getMessage()]
    assert len(warnings) == 1, warnings  # said once, not at every retry
    assert any("works again" in r.getMessage() for r in caplog.records)


LOCKER = """
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.readline()
db.execute("ROLLBACK")
"""


def test_a_database_locked_by_another_process_loses_no_row(tmp_path, caplog):
    path = tmp_path / "questions.sqlite3"
    with running(path) as log:  # the log exists, in WAL mode
        log.record(asked("Before the lock?"))
    caplog.set_level(logging.WARNING, "bot.operations.question_log")
    locker = subprocess.Popen([sys.executable, "-c", LOCKER, str(path)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert locker.stdout.readline().strip() == "locked"
        assert "locked by another process" in (inspect(path, 30).problem or "")
        with running(path) as log:
            for n in range(20):
                log.record(asked(f"During the lock {n}?"))
            assert not log.flush(0.5)
            assert "locked by another process" in log.problem
            locker.communicate("\n", timeout=10)
            assert log.flush(10)
            assert log.problem is None
    finally:
        if locker.poll() is None:
            locker.kill()
    assert len(rows(path)) == 21
    assert len([r for r in caplog.records if "locked by another process" in r.getMessage()]) == 1


def test_a_full_disk_is_reported_and_the_rows_written_once_there_is_room(tmp_path, monkeypatch):
    path = tmp_path / "questions.sqlite3"
    with running(path) as log:
        log.record(asked("Before the disk filled up?"))
    real_connect = ql._connect
    full = {"on": True}

    def connect_to_a_full_disk(database: Path) -> sqlite3.Connection:
        db = real_connect(database)
        if full["on"]:  # SQLite may not grow the file: its real SQLITE_FULL error, as on a full disk
            pages = db.execute("PRAGMA page_count").fetchone()[0]
            db.execute(f"PRAGMA max_page_count = {pages}")
        return db

    monkeypatch.setattr(ql, "_connect", connect_to_a_full_disk)
    with running(path) as log:
        for n in range(300):
            log.record(asked(f"A long question to fill pages {n} " + "x" * 500))
        assert not log.flush(0.5)
        assert log.problem == "the disk is full; free space on it"
        full["on"] = False
        assert log.flush(10)
    assert len(rows(path)) == 301


def _make_read_only(path: Path) -> contextlib.AbstractContextManager:
    """The file and its folder read-only for this process: by permissions, or as root (whom
    permissions do not stop) by the immutable attribute."""

    @contextlib.contextmanager
    def read_only():
        targets = [path.parent, path, *path.parent.glob(path.name + "-*")]
        if os.geteuid() != 0:
            modes = {t: t.stat().st_mode for t in targets}
            for t in reversed(targets):
                t.chmod(0o555 if t.is_dir() else 0o444)
            try:
                yield
            finally:
                for t, mode in modes.items():
                    t.chmod(mode)
            return
        done = []
        try:
            for t in reversed(targets):
                if subprocess.run(["chattr", "+i", str(t)], capture_output=True).returncode != 0:
                    pytest.skip("running as root where files cannot be made immutable")
                done.append(t)
            yield
        finally:
            for t in done:
                subprocess.run(["chattr", "-i", str(t)], check=True)

    return read_only()


def test_a_read_only_disk_is_reported_and_nothing_is_lost_meanwhile(tmp_path, caplog):
    path = tmp_path / "log" / "questions.sqlite3"
    with running(path) as log:
        log.record(asked("Before?"))
    caplog.set_level(logging.WARNING, "bot.operations.question_log")
    with _make_read_only(path):  # the bot starts on a disk mounted read-only
        problem = inspect(path, 30).problem
        assert problem and ("cannot be written" in problem or "cannot be opened" in problem), problem
        log = QuestionLog(path, keep_days=30)
        log.start()
        log.record(asked("While read-only?"))
        assert not log.flush(0.5)
        assert "cannot be written" in log.problem or "cannot be opened" in log.problem
    assert log.flush(10)  # writable again: the row kept meanwhile is written
    log.close()
    assert sorted(r["question"] for r in rows(path)) == ["Before?", "While read-only?"]
    assert len([r for r in caplog.records if "cannot be" in r.getMessage()]) == 1


def test_a_folder_that_cannot_be_made_is_reported_by_inspect(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with running(blocker / "questions.sqlite3") as log:
        log.record(asked())
        assert not log.flush(0.5)
        assert "cannot be opened" in log.problem


def test_inspect_summarises_a_healthy_log(tmp_path):
    path = tmp_path / "questions.sqlite3"
    assert "not there yet" in inspect(path, 30).summary and inspect(path, 30).problem is None
    with running(path) as log:
        log.record(asked(at=time.time() - 2 * 86400))
        log.record(asked())
    found = inspect(path, 30)
    assert found.problem is None and "2 questions" in found.summary and "kept 30 days" in found.summary
    other = tmp_path / "other.sqlite3"
    with contextlib.closing(sqlite3.connect(other)) as db:
        db.execute("CREATE TABLE notes (x)")
    assert "not a question log" in inspect(other, 30).problem


def test_recording_after_close_is_ignored_and_never_raises(tmp_path):
    log = QuestionLog(tmp_path / "q.sqlite3", keep_days=30)
    log.start()
    log.close()
    log.record(asked())
    assert log.vote(1, USER, UP).cancelled()


def test_a_log_deleted_while_the_bot_runs_is_started_anew_and_loses_no_later_row(tmp_path, caplog):
    path = tmp_path / "questions.sqlite3"
    caplog.set_level(logging.WARNING, "bot.operations.question_log")
    with running(path) as log:
        log.record(asked("Before?"))
        assert log.flush(10)
        for companion in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            companion.unlink(missing_ok=True)  # an operator "clears the log"
        log.record(asked("After?"))
        assert log.flush(10)
    assert [r["question"] for r in rows(path)] == ["After?"]
    assert any("was removed while the bot ran" in r.getMessage() for r in caplog.records)
