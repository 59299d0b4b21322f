"""A burst of questions from many people, with 👍/👎 presses, against the real bot and the fake
Bot API: does the question log lose a row, and does it hold up the event loop?

    .venv/bin/python tests/question_log_burst.py [--questions 200] [--users 50] [--rounds 3]

runs the burst three ways, round after round: the question log off (the bot's answers alone:
the baseline), on without presses (the same traffic, plus the log), and on with a 👍 or 👎 on
every answer and a reason after each 👎 (twice the Bot API traffic). For each it prints:
answers delivered, rows, votes and reasons in the log, the event loop's callbacks (their number,
the longest in wall time and in CPU time, the CPU p99.9), how late 1 ms sleeps on the loop woke
up (worst, p99) and the burst's wall time. The fake Bot API and the driver run in a process of
their own, so the loop's figures are the bot's. `tests/test_telegram_operations.py` runs the
same burst in one process and checks that nothing is lost (no timings there).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bot.bench.benchmark import LoopCallTimer
from bot.operations.question_log import QuestionLog
from bot.retrieval.library import Library, load_library

sys.path.insert(0, str(Path(__file__).resolve().parent))  # run as a script: tests/ on the path, as pytest puts it

from fake_telegram import FakeTelegram
from telegram_harness import serving

ROOT = Path(__file__).resolve().parent.parent
TICK = 0.001
MODES = {(False, False): "off", (True, False): "on, no presses", (True, True): "on, with presses"}


@dataclass(frozen=True, slots=True)
class Figures:
    log: bool
    questions: int
    answered: int  # answers delivered
    rows: int  # questions in the log
    presses: int  # 👍/👎 pressed
    votes: int  # votes in the log
    reasons: int  # reasons in the log
    longest_call_ms: float
    longest_cpu_ms: float  # the most CPU time one callback used on the loop
    cpu_p999_ms: float
    callbacks: int
    log_calls: int  # entries handed to the question log on the loop
    log_call_median_us: float  # CPU time of a hand-over: the median
    log_call_longest_us: float  # and the most one took
    late_worst_ms: float
    late_p99_ms: float
    seconds: float


def question_set() -> list[str]:
    import json

    lines = (ROOT / "tests" / "data" / "questions.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["question"] for line in lines if line.strip()]


async def burst(tg: FakeTelegram, library: Library, *, questions: int, users: int, log_path: Path | None,
                timeout: float = 120.0) -> Figures:
    """`questions` questions from `users` people in private chats, pushed at once; each answer gets
    a 👍 or 👎 from its asker as soon as it arrives, and each 👎 prompt a reason. The fake and the
    driver share this process (what the tests use; `measured_burst` keeps them apart)."""
    return await _run(tg, library, lambda: _drive(tg, question_set(), questions, users, timeout), questions, log_path)


async def _run(fake, library: Library, drive: Callable[[], tuple[int, int]], questions: int,
               log_path: Path | None) -> Figures:
    """Serve `fake` while `drive()` runs in a thread; time the event loop meanwhile."""
    lateness: list[float] = []
    done = False

    async def ticker() -> None:
        while not done:
            t0 = time.perf_counter()
            await asyncio.sleep(TICK)
            lateness.append(time.perf_counter() - t0 - TICK)

    put_times: list[float] = []  # the CPU time of each hand-over to the question log on the loop
    original_put = QuestionLog._put

    def timed_put(self: QuestionLog, *args: object) -> None:
        t0 = time.thread_time()
        original_put(self, *args)
        put_times.append(time.thread_time() - t0)

    async with serving(fake, library, question_log=log_path, user_questions_per_minute=1000) as bot:
        QuestionLog._put = timed_put  # type: ignore[method-assign]
        probe = asyncio.create_task(ticker())
        await asyncio.sleep(0.05)
        started = time.perf_counter()
        try:
            with LoopCallTimer(cpu=True) as calls:
                replies, pressed = await asyncio.to_thread(drive)
            seconds = time.perf_counter() - started
            done = True
            await probe
            await bot.stop()  # every update received is handled (the last answers are handed to the log)
        finally:
            QuestionLog._put = original_put  # type: ignore[method-assign]
        if bot.instruments.question_log is not None:
            await asyncio.to_thread(bot.instruments.question_log.flush, 30)
    rows = votes = reasons = 0
    if log_path is not None:
        with contextlib.closing(sqlite3.connect(log_path)) as db:
            rows = db.execute("SELECT COUNT(*) FROM question_log").fetchone()[0]
            votes, reasons = db.execute("SELECT COUNT(*), COUNT(reason) FROM question_feedback").fetchone()
    late, cpu = sorted(lateness), sorted(calls.cpu_times or [0.0])
    return Figures(
        log=log_path is not None, questions=questions, answered=replies, rows=rows, presses=pressed, votes=votes,
        reasons=reasons, longest_call_ms=calls.longest * 1000, longest_cpu_ms=max(cpu) * 1000,
        cpu_p999_ms=cpu[int(len(cpu) * 0.999)] * 1000, callbacks=len(cpu),
        log_calls=len(put_times), log_call_median_us=statistics.median(put_times or [0.0]) * 1e6,
        log_call_longest_us=max(put_times, default=0.0) * 1e6, late_worst_ms=late[-1] * 1000,
        late_p99_ms=late[int(len(late) * 0.99)] * 1000, seconds=seconds,
    )


def _drive(tg: FakeTelegram, asked: list[str], questions: int, users: int, timeout: float, presses: bool = True
           ) -> tuple[int, int]:
    """Push the questions at once, press 👍 or 👎 under each answer as it arrives and a reason under each
    "What was wrong?"; return (answers, presses) when every answer is delivered and every press answered."""
    for n in range(questions):
        tg.private_message(1000 + n % users, asked[n % len(asked)])
    seen: set[tuple[int, int]] = set()  # (chat, message) of the answers pressed
    pressed = prompted = downs = 0
    deadline = time.monotonic() + timeout
    while True:
        sent = tg.sent("sendMessage")
        prompts = [c for c in sent if c.result.get("text", "").startswith("Thanks for the 👎")]
        thumbed = [c for c in sent if _thumbs(c)] if presses else []
        for call in thumbed:
            key = (call.result["chat"]["id"], call.result["message_id"])
            if key not in seen:
                seen.add(key)
                thumbs = _thumbs(call)[len(seen) % 2]  # 👍, 👎, 👍 ...
                tg.callback_query(int(call.params["chat_id"]), thumbs["callback_data"], call.result)
                pressed += 1
                downs += thumbs["text"] == "👎"
        for call in prompts[prompted:]:
            reason = call.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
            tg.callback_query(int(call.params["chat_id"]), reason, call.result)
        prompted = len(prompts)
        replies, presses_answered = len(sent) - len(prompts), len(tg.sent("answerCallbackQuery"))
        if replies >= questions and prompted >= downs and presses_answered >= pressed + prompted:
            return replies, pressed
        if time.monotonic() > deadline:
            raise AssertionError(f"burst not finished: {replies} answers, {presses_answered} presses answered")
        time.sleep(0.02)


def _thumbs(call) -> list[dict]:
    """The 👍 👎 row under a message the bot sent, or []."""
    rows = (call.params.get("reply_markup") or {}).get("inline_keyboard") or []
    return rows[-1] if rows and rows[-1][0].get("text") == "👍" else []


class _RemoteFake:
    """A FakeTelegram in a process of its own, driven there: the bot's process then runs only the bot,
    so its event-loop figures are the bot's, not the fake's or the driver's (they would share its GIL)."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        self._pipe, child = context.Pipe()
        self._process = context.Process(target=_fake_process, args=(child,), daemon=True)
        self._process.start()
        self.token, self.base_url = self._pipe.recv()

    def drive(self, questions: int, users: int, timeout: float, presses: bool) -> tuple[int, int]:
        self._pipe.send((questions, users, timeout, presses))
        result = self._pipe.recv()
        if isinstance(result, str):
            raise AssertionError(result)
        return result

    def close(self) -> None:
        self._pipe.send(None)
        self._process.join(30)


def _fake_process(pipe) -> None:
    with FakeTelegram() as tg:
        pipe.send((tg.token, tg.base_url))
        while (job := pipe.recv()) is not None:
            try:
                pipe.send(_drive(tg, question_set(), *job))
            except AssertionError as error:
                pipe.send(str(error))
            tg.clear_calls()


async def measured_burst(library: Library, *, questions: int, users: int, log_path: Path | None,
                         presses: bool = True, timeout: float = 180.0) -> Figures:
    """The burst with the fake Bot API and the driver in another process (for the figures)."""
    fake = await asyncio.to_thread(_RemoteFake)
    try:
        return await _run(fake, library, lambda: fake.drive(questions, users, timeout, presses), questions, log_path)
    finally:
        await asyncio.to_thread(fake.close)


async def _main(questions: int, users: int, rounds: int) -> list[Figures]:
    library = load_library(ROOT / "corpus", max_file_bytes=2_000_000)[0]
    results = []
    with tempfile.TemporaryDirectory() as folder:
        for round_ in range(rounds):
            for mode, (with_log, presses) in enumerate([(False, False), (True, False), (True, True)]):
                path = Path(folder) / f"questions-{round_}-{mode}.sqlite3" if with_log else None
                results.append(await measured_burst(library, questions=questions, users=users, log_path=path,
                                                    presses=presses))
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python tests/question_log_burst.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    from bot.telegram.answer_threads import settle_for_serving

    settle_for_serving()  # as `python -m bot run` does
    results = asyncio.run(_main(args.questions, args.users, args.rounds))
    print(f"{args.questions} questions from {args.users} people, seed corpus, {args.rounds} rounds each")
    print("| question log | answers | rows | presses | votes | reasons | hand-overs to the log on the loop: number, "
          "CPU median, most | loop callbacks | longest callback: wall; CPU | callback CPU p99.9 | "
          "1 ms sleep late: worst (p99) | burst |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for f in results:
        dash = "–"
        print(f"| {MODES[(f.log, bool(f.presses))]} | {f.answered} | {f.rows if f.log else dash} | "
              f"{f.presses if f.log else dash} | {f.votes if f.log else dash} | {f.reasons if f.log else dash} | "
              f"{f'{f.log_calls}, {f.log_call_median_us:.0f} µs, {f.log_call_longest_us:.0f} µs' if f.log else dash} | "
              f"{f.callbacks:,} | "
              f"{f.longest_call_ms:.1f} ms; {f.longest_cpu_ms:.1f} ms | {f.cpu_p999_ms:.2f} ms | "
              f"{f.late_worst_ms:.1f} ({f.late_p99_ms:.1f}) ms | {f.seconds:.2f} s |")
    for mode, name in MODES.items():
        chosen = [f for f in results if (f.log, bool(f.presses)) == mode]
        print(f"{name}: longest callback (wall) median "
              f"{statistics.median(f.longest_call_ms for f in chosen):.1f} ms; longest CPU in one callback "
              f"median {statistics.median(f.longest_cpu_ms for f in chosen):.1f} ms, worst "
              f"{max(f.longest_cpu_ms for f in chosen):.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
