"""Closing the loop: the disliked and refused questions of the question log, written as an
evaluation question file (`python -m bot feedback export FILE`) for a person to complete.

Each line is what `python -m bot eval` reads, ``{"question": ..., "answers": []}``, plus what
helps to fill in `answers` (strings a correct excerpt contains, or null for a question the
corpus cannot answer): why it is there (``"outcome"``, ``"asked"``, ``"disliked"``, the
readers' ``"reasons"``) and the passages last quoted (``"quoted"``). `eval` ignores those
keys, and refuses a line whose `answers` is still empty, naming it.

Exporting again into the same file keeps every line already there (answers filled in
included) and appends only questions it does not hold yet: nothing a person wrote is lost.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict

from bot.operations.question_log import DOWN, QuestionLogError, open_for_reading, question_key


class ReviewLine(TypedDict):
    """One line of the exported file: what `eval` reads, and what helps a person fill in `answers`."""

    question: str
    answers: list[str]  # empty: for a person to fill in
    outcome: str  # the latest: answered, hedged or refused
    asked: int
    refused: int
    disliked: int
    reasons: list[str]
    quoted: list[str]  # the passages quoted the last time


@dataclass(frozen=True, slots=True)
class Exported:
    added: int  # questions appended to the file
    already: int  # questions the file held already (left as they were)


def export_feedback(log_path: Path, out_path: Path, *, days: int | None = None, now: float | None = None) -> Exported:
    """Append the disliked and refused questions of the last `days` days (all kept, if None) to
    `out_path`. Raises QuestionLogError for a log that cannot be read, ValueError for an existing
    file that is not a question file."""
    known = _questions_in(out_path)
    since = 0.0 if days is None else (time.time() if now is None else now) - days * 86400
    db = open_for_reading(log_path)
    try:
        rows = _disliked_and_refused(db, since)
    finally:
        db.close()
    fresh = [row for row in rows if question_key(row["question"]) not in known]
    if fresh:
        needs_newline = out_path.is_file() and out_path.stat().st_size > 0 and not out_path.read_bytes().endswith(b"\n")
        with open(out_path, "a", encoding="utf-8") as file:
            if needs_newline:
                file.write("\n")
            for row in fresh:
                file.write(json.dumps(row, ensure_ascii=False) + "\n")
            file.flush()
            os.fsync(file.fileno())
    return Exported(len(fresh), len(rows) - len(fresh))


def _questions_in(path: Path) -> set[str]:
    if not path.exists():
        return set()
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise ValueError(f"{path}: cannot read it ({error}); export to a new file") from None
    known = set()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            known.add(question_key(json.loads(line)["question"]))
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError):
            raise ValueError(f"{path}:{number}: not a question file line ({{\"question\": ...}}); "
                             "export to a new file, or fix that line") from None
    return known


def _disliked_and_refused(db: sqlite3.Connection, since: float) -> list[ReviewLine]:
    """One entry per distinct question (folded), most disliked first, then most refused."""
    try:
        rows = db.execute(
            """
            WITH votes AS (
                SELECT q.question_key, COUNT(*) AS disliked, json_group_array(f.reason) AS reasons
                FROM question_feedback AS f JOIN question_log AS q ON q.id = f.question_id
                WHERE f.vote = ? AND q.asked_at >= ? GROUP BY q.question_key
            ), asked AS (
                SELECT question_key, question, passage_ids, outcome, MAX(asked_at) AS last,
                       COUNT(*) AS asked, SUM(outcome = 'refused') AS refused
                FROM question_log WHERE asked_at >= ? GROUP BY question_key
            )
            SELECT a.question, a.outcome, a.asked, a.refused, COALESCE(v.disliked, 0), v.reasons, a.passage_ids
            FROM asked AS a LEFT JOIN votes AS v ON v.question_key = a.question_key
            WHERE v.disliked > 0 OR a.refused > 0
            ORDER BY COALESCE(v.disliked, 0) DESC, a.refused DESC, a.last DESC
            """,
            (DOWN, since, since),
        ).fetchall()
    except sqlite3.Error as error:
        raise QuestionLogError(f"cannot read the question log: {error}") from None
    entries: list[ReviewLine] = []
    for question, outcome, asked, refused, disliked, reasons, passage_ids in rows:
        entries.append({
            "question": question,
            "answers": [],
            "outcome": outcome,
            "asked": asked,
            "refused": refused,
            "disliked": disliked,
            "reasons": sorted({r for r in json.loads(reasons or "[]") if r}),
            "quoted": json.loads(passage_ids),
        })
    return entries
