"""What the question log says about the bot's use: `python -m bot stats` and `/stats`.

Every figure is one SQL query over the log's last `days` days (its indexes on time and on the
folded question make them cheap; the work happens in SQLite, not in Python), so `/stats`
on a busy bot's log costs the event loop nothing but the report's text.
"""

from __future__ import annotations

import math
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bot.operations.question_log import DOWN, OUTCOMES, UP, open_for_reading

DEFAULT_DAYS = 14
TOP = 5  # questions listed under each "most ..." heading
QUESTION_CHARS = 90  # characters of a question shown in the report


@dataclass(frozen=True, slots=True)
class Ranked:
    """A question (its latest wording) with how often it was asked, liked and disliked, or refused."""

    question: str
    count: int
    up: int = 0
    down: int = 0
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Statistics:
    days: int
    questions: int
    per_day: tuple[tuple[str, int], ...]  # (YYYY-MM-DD in UTC, questions), oldest first, days without any left out
    outcomes: tuple[tuple[str, int], ...]  # (outcome, questions) for each of OUTCOMES
    askers: int  # distinct salted user hashes
    up: int
    down: int
    latency_median_ms: float | None
    latency_p95_ms: float | None
    most_asked: tuple[Ranked, ...]
    most_disliked: tuple[Ranked, ...]
    most_refused: tuple[Ranked, ...]


def read_statistics(path: Path, *, days: int = DEFAULT_DAYS, top: int = TOP, now: float | None = None) -> Statistics:
    """The figures for the last `days` days. Raises QuestionLogError when the log cannot be read."""
    since = (time.time() if now is None else now) - days * 86400
    db = open_for_reading(path)
    try:
        return _read(db, since, days, top)
    finally:
        db.close()


def _read(db: sqlite3.Connection, since: float, days: int, top: int) -> Statistics:
    where = "FROM question_log WHERE asked_at >= ?"
    questions, askers = db.execute(f"SELECT COUNT(*), COUNT(DISTINCT user_hash) {where}", (since,)).fetchone()
    per_day = tuple(db.execute(
        f"SELECT date(asked_at, 'unixepoch') AS day, COUNT(*) {where} GROUP BY day ORDER BY day", (since,)
    ).fetchall())
    counted = dict(db.execute(f"SELECT outcome, COUNT(*) {where} GROUP BY outcome", (since,)).fetchall())
    up, down = db.execute(
        "SELECT COALESCE(SUM(f.vote = ?), 0), COALESCE(SUM(f.vote = ?), 0) FROM question_feedback AS f "
        "JOIN question_log AS q ON q.id = f.question_id WHERE q.asked_at >= ?", (UP, DOWN, since)
    ).fetchone()

    def latency(share: float) -> float | None:  # nearest rank
        if not questions:
            return None
        rank = max(1, math.ceil(share * questions))
        row = db.execute(f"SELECT latency_ms {where} ORDER BY latency_ms LIMIT 1 OFFSET ?",
                         (since, rank - 1)).fetchone()
        return row[0] if row else None

    # With MAX(asked_at), SQLite takes the bare column `question` from that row: the latest wording.
    most_asked = tuple(Ranked(question, count) for question, _, count in db.execute(
        f"SELECT question, MAX(asked_at) AS last, COUNT(*) AS n {where} GROUP BY question_key "
        "ORDER BY n DESC, last DESC LIMIT ?", (since, top)))
    most_refused = tuple(Ranked(question, count) for question, _, count in db.execute(
        f"SELECT question, MAX(asked_at) AS last, COUNT(*) AS n {where} AND outcome = 'refused' "
        "GROUP BY question_key ORDER BY n DESC, last DESC LIMIT ?", (since, top)))
    most_disliked = []
    for key, question, _, asked, liked, disliked in db.execute(
        "SELECT q.question_key, q.question, MAX(q.asked_at) AS last, COUNT(DISTINCT q.id), "
        "SUM(f.vote = ?) AS up, SUM(f.vote = ?) AS down "
        "FROM question_log AS q JOIN question_feedback AS f ON f.question_id = q.id WHERE q.asked_at >= ? "
        "GROUP BY q.question_key HAVING down > 0 ORDER BY down DESC, up ASC, last DESC LIMIT ?",
        (UP, DOWN, since, top),
    ).fetchall():
        reasons = tuple(r for (r,) in db.execute(
            "SELECT f.reason FROM question_feedback AS f JOIN question_log AS q ON q.id = f.question_id "
            "WHERE q.question_key = ? AND q.asked_at >= ? AND f.vote = ? AND f.reason IS NOT NULL "
            "GROUP BY f.reason ORDER BY COUNT(*) DESC LIMIT 3", (key, since, DOWN)))
        most_disliked.append(Ranked(question, asked, liked, disliked, reasons))
    return Statistics(
        days=days, questions=questions, per_day=per_day,
        outcomes=tuple((outcome, counted.get(outcome, 0)) for outcome in OUTCOMES),
        askers=askers, up=up, down=down,
        latency_median_ms=latency(0.5), latency_p95_ms=latency(0.95),
        most_asked=most_asked, most_disliked=tuple(most_disliked), most_refused=most_refused,
    )


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= QUESTION_CHARS else text[: QUESTION_CHARS - 1].rstrip() + "…"


def _share(part: int, whole: int) -> str:
    return f"{part / whole:.0%}" if whole else "–"


def _ms(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:,.0f} ms" if value >= 10 else f"{value:.1f} ms"


def report(stats: Statistics) -> list[str]:
    """The statistics as plain-text sections (one string each: the Telegram side sends them in
    as few messages as fit)."""
    heading = (f"Last {stats.days} days: {stats.questions:,} questions from "
               f"{stats.askers:,} {'person' if stats.askers == 1 else 'people'}")
    outcomes = ", ".join(f"{outcome} {_share(count, stats.questions)} ({count:,})" for outcome, count in stats.outcomes)
    voted = stats.up + stats.down
    sections = [
        "\n".join([
            heading,
            f"Outcomes: {outcomes}",
            f"Feedback: 👍 {stats.up:,}  👎 {stats.down:,}" + (f" ({_share(stats.up, voted)} 👍)" if voted else ""),
            f"Latency: median {_ms(stats.latency_median_ms)}, p95 {_ms(stats.latency_p95_ms)}",
        ]),
        "\n".join(["Questions per day (UTC):"] + [f"  {day}  {count:>6,}" for day, count in stats.per_day]
                  + ([] if stats.per_day else ["  none"])),
    ]
    sections.append(_ranked("Most asked:", stats.most_asked, lambda r: f"{r.count}×"))
    sections.append(_ranked("Most disliked:", stats.most_disliked, lambda r: f"👎 {r.down} 👍 {r.up}",
                            lambda r: f"({'; '.join(r.reasons)})" if r.reasons else ""))
    sections.append(_ranked("Most refused:", stats.most_refused, lambda r: f"{r.count}×"))
    return sections


def _ranked(title: str, rows: tuple[Ranked, ...], figure: Callable[[Ranked], str],
            suffix: Callable[[Ranked], str] = lambda r: "") -> str:
    if not rows:
        return f"{title}\n  none"
    figures = [figure(r) for r in rows]
    width = max(map(len, figures))
    lines = [title]
    for shown, row in zip(figures, rows, strict=True):
        extra = suffix(row)
        lines.append(f"  {shown:>{width}}  {_short(row.question)}" + (f" {_short(extra)}" if extra else ""))
    return "\n".join(lines)
