"""`kill -9` in the middle of a burst of questions, then a restart: how many questions were lost,
and how many answered twice? Run it to print the figures:

    .venv/bin/python tests/kill_in_a_burst.py [--questions 300] [--kill-after 30] [--runs 1]

The bot runs as `python -m bot run` against the fake Bot API (tests/fake_telegram.py) with its
update store in a temporary folder; `tests/test_telegram_run.py` asserts the same figures.
"""

from __future__ import annotations

import argparse
import collections
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fake_telegram import FakeTelegram

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = (
    "Why did Russia deploy border guards in Syunik?",
    "Who is the commander of Russia's Southern Military District?",
    "When did Pashinyan and Putin meet in Moscow?",
)
USERS = 30


@dataclass(frozen=True)
class Figures:
    questions: int
    answered_before_kill: int  # answers the fake had received when the bot was killed
    in_flight: int  # questions answered before the kill but not yet marked handled in the store
    lost: int  # questions never answered
    answered_twice: int  # questions answered more than once
    answered_twice_not_in_flight: int  # of those, the ones the store had marked handled: must be 0
    exit_status_after: int  # of the restarted bot, stopped by SIGTERM

    def __str__(self) -> str:
        return (f"{self.questions} questions, kill -9 after {self.answered_before_kill} answers "
                f"({self.in_flight} of them sent but not yet marked handled), restart: {self.lost} lost, "
                f"{self.answered_twice} answered twice ({self.answered_twice_not_in_flight} of them not in flight); "
                f"exit status {self.exit_status_after} after SIGTERM")


def start_bot(workdir: Path, tg: FakeTelegram, log: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BOT_")}
    env.update(
        PYTHONIOENCODING="utf-8", BOT_TOKEN=tg.token, BOT_API_BASE_URL=tg.base_url,
        BOT_CORPUS_DIR=str(ROOT / "corpus"), BOT_UPDATE_STORE=str(workdir / "updates.sqlite3"),
        BOT_USER_QUESTIONS_PER_MINUTE="1000", BOT_LOG_LEVEL="INFO",
    )
    with open(log, "ab") as out:
        return subprocess.Popen([sys.executable, "-m", "bot", "run"], cwd=workdir, env=env, stdout=out, stderr=out)


def wait_until(condition, what: str, process: subprocess.Popen, log: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if process.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"{what} never happened:\n{log.read_text('utf-8')[-3000:]}")
        time.sleep(0.005)


def kill_in_a_burst(workdir: Path, questions: int = 300, kill_after: int = 30) -> Figures:
    log = workdir / "bot.log"
    with FakeTelegram() as tg:
        bot = start_bot(workdir, tg, log)
        try:
            wait_until(lambda: "Application started" in log.read_text("utf-8"), "start-up", bot, log)
            asked = [tg.private_message(1000 + n % USERS, QUESTIONS[n % len(QUESTIONS)]) for n in range(questions)]
            wait_until(lambda: len(tg.sent("sendMessage")) >= kill_after, f"{kill_after} answers", bot, log)
            bot.send_signal(signal.SIGKILL)
            bot.wait()
            pending = pending_in_store(workdir / "updates.sqlite3")
            calls_before_restart = len(tg.calls)

            bot = start_bot(workdir, tg, log)
            keys = {(u["message"]["chat"]["id"], u["message"]["message_id"]) for u in asked}

            def replies() -> collections.Counter:
                return collections.Counter(reply_key(c) for c in tg.sent("sendMessage"))

            wait_until(lambda: keys <= set(replies()), "every question answered", bot, log)
            bot.send_signal(signal.SIGTERM)
            status = bot.wait(60)
        finally:
            if bot.poll() is None:
                bot.kill()
                bot.wait()
        counts = replies()
    # The killed bot's last requests may still be read by the fake after `wait()` returns (their bytes
    # are in its sockets); its answers are therefore the ones recorded before the restarted bot's first
    # request (getMe), which comes only after the corpus has loaded.
    calls = tg.calls
    restart = next(n for n in range(calls_before_restart, len(calls)) if calls[n].method == "getMe")
    answered_before = {reply_key(c) for c in calls[:restart] if c.method == "sendMessage" and c.ok}
    by_update = {u["update_id"]: (u["message"]["chat"]["id"], u["message"]["message_id"]) for u in asked}
    in_flight = answered_before & {by_update[u] for u in pending if u in by_update}
    twice = {key for key in keys if counts[key] > 1}
    return Figures(
        questions=questions,
        answered_before_kill=len(answered_before),
        in_flight=len(in_flight),
        lost=sum(1 for key in keys if counts[key] == 0),
        answered_twice=len(twice),
        answered_twice_not_in_flight=len(twice - in_flight),
        exit_status_after=status,
    )


def reply_key(call) -> tuple[int, int]:
    """(chat, message id) of the question a sent message answers."""
    return call.params["chat_id"], call.params["reply_parameters"]["message_id"]


def pending_in_store(path: Path) -> set[int]:
    """Update ids the store holds as not handled (read as the restarted bot will)."""
    with sqlite3.connect(path) as db:
        return {row[0] for row in db.execute("SELECT update_id FROM updates WHERE handled IS NULL")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", type=int, default=300)
    parser.add_argument("--kill-after", type=int, default=30)
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory() as folder:
            print(kill_in_a_burst(Path(folder), args.questions, args.kill_after), flush=True)


if __name__ == "__main__":
    main()
