"""The operator's view, end to end: the real Application long-polls the fake Bot API on
127.0.0.1 with the question log on a real SQLite file, and the tests look at what readers see
(the 👍/👎 buttons, the notices, the reason prompt), what the log holds, what /stats says, and
what /healthz and /metrics answer over HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import socket
import sqlite3
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.operations.question_log import FEEDBACK_REASONS, MAX_QUESTION_ID
from bot.telegram import messages as th
from bot.telegram.service import start_instruments
from fake_telegram import FakeTelegram
from telegram_harness import QUESTION, config_for, serving

ADMIN = 1
GROUP = -1001234567890


@pytest.fixture
async def tg():
    async with FakeTelegram() as fake:
        yield fake


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "data" / "questions.sqlite3"


def rows(path: Path, sql: str = "SELECT * FROM question_log") -> list[dict]:
    with contextlib.closing(sqlite3.connect(path)) as connection:
        connection.row_factory = sqlite3.Row
        return [dict(r) for r in connection.execute(sql)]


def buttons(call) -> list[dict]:
    return [b for row in call.params.get("reply_markup", {}).get("inline_keyboard", []) for b in row]


def vote_button(call, label: str) -> str:
    [data] = [b["callback_data"] for b in buttons(call) if b["text"] == label]
    return data


async def press(tg: FakeTelegram, user: int, data: str, message) -> str | None:
    """Press a button; the notice the bot answers the press with."""
    before = len(tg.sent("answerCallbackQuery"))
    tg.callback_query(user, data, message)
    calls = await tg.wait_for_async("answerCallbackQuery", before + 1)
    return calls[before].params.get("text")


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


async def fetch(url: str) -> tuple[int, str]:
    return await asyncio.to_thread(get, url)


async def until(url: str, status: int, timeout: float = 20.0) -> str:
    """Fetch `url` until it answers `status` (a state change in the bot, not a timing): its body."""
    deadline = time.monotonic() + timeout
    while True:
        got, body = await fetch(url)
        if got == status:
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"{url} still answers {got} {body!r}, not {status}")
        await asyncio.sleep(0.05)


def metric_values(text: str) -> dict[tuple, float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


# --- Feedback ------------------------------------------------------------------------------------


async def test_each_answer_gets_thumbs_and_its_row_in_the_log(tg, library, db):
    async with serving(tg, library, question_log=db) as bot:
        question = tg.private_message(7, QUESTION)
        [answer] = await bot.replies_to(question)
        nothing = tg.private_message(7, "Who painted the Mona Lisa?")
        [refusal] = await bot.replies_to(nothing)
        no_words = tg.private_message(7, "???")
        [hint] = await bot.replies_to(no_words)
        await bot.drain()
    keyboard = answer.params["reply_markup"]["inline_keyboard"]
    assert [b["text"] for b in keyboard[-1]] == ["👍", "👎"]  # the last row, under the passage buttons
    assert all(len(b["callback_data"].encode()) <= 64 for b in buttons(answer))
    assert [b["text"] for b in buttons(refusal)] == ["👍", "👎"]  # a refusal can be wrong too
    assert buttons(hint) == []  # "ask in words" is not an answer
    logged = {r["question"]: r for r in rows(db)}
    assert set(logged) == {QUESTION, "Who painted the Mona Lisa?", "???"}
    row = logged[QUESTION]
    assert row["chat_type"] == "private" and row["outcome"] == "answered" and row["latency_ms"] > 0
    quoted = json.loads(row["passage_ids"])
    assert quoted and all(re.fullmatch(r".+:\d+", p) for p in quoted)
    assert logged["Who painted the Mona Lisa?"]["outcome"] == "refused"
    assert vote_button(answer, "👍") == f"fb:{row['id']}:u"  # the buttons name this row, nothing else
    assert len({r["user_hash"] for r in logged.values()}) == 1 and row["user_hash"] != "7"


async def test_one_vote_per_person_changeable_with_a_reason_and_it_survives_a_restart(tg, library, db):
    async with serving(tg, library, question_log=db) as bot:
        question = tg.private_message(7, QUESTION)
        [answer] = await bot.replies_to(question)
        up, down = vote_button(answer, "👍"), vote_button(answer, "👎")
        assert await press(tg, 7, up, answer) == "Thanks! Noted: 👍"
        assert await press(tg, 7, up, answer) == "You gave this answer 👍 already."
        assert await press(tg, 7, down, answer) == "Changed to 👎. Thanks!"
        [prompt] = await bot.replies_to(answer.result)  # in a private chat: what was wrong?
        assert prompt.result["text"] == th.REASON_PROMPT
        assert [b["text"] for b in buttons(prompt)] == [r.capitalize() for r in FEEDBACK_REASONS]
        assert await press(tg, 7, buttons(prompt)[0]["callback_data"], prompt) is None
        await tg.wait_for_async("editMessageText", chat_id=7)
        assert tg.get_message(7, prompt.result["message_id"])["text"] == "Thanks, noted: wrong quote."
        assert await press(tg, 8, down, answer) == "Thanks! Noted: 👎"  # someone else (in a shared chat)
        await bot.drain()
    assert sorted((f["vote"], f["reason"] or "") for f in rows(db, "SELECT * FROM question_feedback")) == [
        (-1, ""), (-1, "wrong quote")]
    async with serving(tg, library, question_log=db) as bot:  # a new process: the buttons still work
        assert await press(tg, 7, up, answer) == "Changed to 👍. Thanks!"
        await bot.drain()
    assert sorted((f["vote"], f["reason"] or "") for f in rows(db, "SELECT * FROM question_feedback")) == [
        (-1, ""), (1, "")]


async def test_a_reason_in_the_readers_words_is_a_reply_to_the_prompt(tg, library, db):
    async with serving(tg, library, question_log=db) as bot:
        [answer] = await bot.replies_to(tg.private_message(7, QUESTION))
        await press(tg, 7, vote_button(answer, "👎"), answer)
        [prompt] = await bot.replies_to(answer.result)
        tg.private_message(7, "It quotes the 2020 war,\n not the border crisis", reply_to=prompt.result["message_id"])
        await tg.wait_for_async("editMessageText", chat_id=7)
        edited = tg.get_message(7, prompt.result["message_id"])
        assert edited["text"] == "Thanks, noted: It quotes the 2020 war, not the border crisis."
        assert "reply_markup" not in edited or not edited["reply_markup"].get("inline_keyboard")
        # The prompt has done its job: a further reply to it is a question again.
        follow_up = tg.private_message(7, "Who painted the Mona Lisa?", reply_to=prompt.result["message_id"])
        [reply] = await bot.replies_to(follow_up)
        await bot.drain()
    assert reply.result["text"] == th.NOT_IN_CORPUS
    assert [f["reason"] for f in rows(db, "SELECT * FROM question_feedback")] == [
        "It quotes the 2020 war, not the border crisis"]


async def test_feedback_keeps_the_per_user_limit_of_presses_and_says_so_each_time(tg, library, db):
    """👍/👎 and reason presses count as other presses do (BOT_USER_QUESTIONS_PER_MINUTE a minute); one
    over the limit is not recorded, and its presser is told to wait, every time: none is lost quietly."""
    async with serving(tg, library, question_log=db, user_questions_per_minute=3) as bot:
        [answer] = await bot.replies_to(tg.private_message(7, QUESTION))
        up, down = vote_button(answer, "👍"), vote_button(answer, "👎")
        assert await press(tg, 7, down, answer) == "Thanks! Noted: 👎"
        [prompt] = await bot.replies_to(answer.result)
        reason = buttons(prompt)[1]["callback_data"]
        assert await press(tg, 7, up, answer) == "Changed to 👍. Thanks!"
        passage = buttons(answer)[0]["callback_data"]
        assert await press(tg, 7, passage, answer) is None  # the third press this minute: a Passage
        for data, message in [(down, answer), (reason, prompt), (up, answer)]:
            notice = await press(tg, 7, data, message)
            assert notice is not None and notice.startswith("You're asking faster than I can keep up"), data
        assert await press(tg, 8, down, answer) == "Thanks! Noted: 👎"  # another person has a limit of their own
        await bot.drain()
    alerts = [c.params.get("show_alert") for c in tg.sent("answerCallbackQuery")]
    assert alerts[3:6] == [True] * 3  # as a refused Passage press: a notice that stays until dismissed
    assert sorted((f["vote"], f["reason"] or "") for f in rows(db, "SELECT * FROM question_feedback")) == [
        (-1, ""), (1, "")]  # 7's 👍 stands; the refused 👎 and reason changed nothing


async def test_a_typed_reason_and_stats_count_as_commands_do(tg, library, db):
    async with serving(tg, library, question_log=db, user_questions_per_minute=1, admin_ids=(ADMIN,)) as bot:
        [answer] = await bot.replies_to(tg.private_message(7, QUESTION))
        assert await press(tg, 7, vote_button(answer, "👎"), answer) == "Thanks! Noted: 👎"  # 7's one this minute
        [prompt] = await bot.replies_to(answer.result)
        typed = tg.private_message(7, "It quotes the wrong year", reply_to=prompt.result["message_id"])
        [wait] = await bot.replies_to(typed)
        [stats] = await bot.replies_to(tg.private_message(ADMIN, "/stats"))
        [stats_again] = await bot.replies_to(tg.private_message(ADMIN, "/stats"))
        await bot.drain()
    assert wait.result["text"].startswith("You're asking faster than I can keep up")
    assert [f["reason"] for f in rows(db, "SELECT * FROM question_feedback")] == [None]
    assert stats.result["text"].startswith("Last 14 days: 1 question")
    assert stats_again.result["text"].startswith("You're asking faster than I can keep up")


async def test_a_thumbs_down_in_a_group_asks_nothing_more(tg, library, db):
    async with serving(tg, library, question_log=db) as bot:
        question = tg.group_message(GROUP, 7, f"/ask {QUESTION}")
        [answer] = await bot.replies_to(question)
        assert await press(tg, 9, vote_button(answer, "👎"), answer) == "Thanks! Noted: 👎"
        await bot.drain()
    assert len(tg.sent("sendMessage", chat_id=GROUP)) == 1  # the answer only: no prompt in the group
    assert rows(db)[0]["chat_type"] == "supergroup"


async def test_forged_expired_and_unlisted_presses_get_a_notice_not_a_traceback(tg, library, db, caplog):
    caplog.set_level(logging.INFO)
    async with serving(tg, library, question_log=db, allowed_user_ids=(7,)) as bot:
        [answer] = await bot.replies_to(tg.private_message(7, QUESTION))
        forged = ["fb:abc:u", "fb:0:u", f"fb:{MAX_QUESTION_ID}:u", "fb:12:x", "fb:12", "fr:12:9", "fr::0",
                  "fb:١٢:u", "fb:" + "9" * 40 + ":d", "fb:-5:u"]
        for data in forged:
            assert await press(tg, 7, data, answer) == th.BUTTON_EXPIRED, data
        assert await press(tg, 7, "fb:123456789:u", answer) == th.VOTE_TOO_OLD.format(days=90)  # not in the log
        assert await press(tg, 666, vote_button(answer, "👎"), answer) == th.NOT_ALLOWED  # not on the allow-list
        await bot.drain()
    assert rows(db, "SELECT * FROM question_feedback") == []
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


async def test_a_press_on_an_answer_older_than_the_retention(tg, library, db):
    async with serving(tg, library, question_log=db) as bot:
        [answer] = await bot.replies_to(tg.private_message(7, QUESTION))
        await bot.drain()
    with contextlib.closing(sqlite3.connect(db)) as connection, connection:
        connection.execute("UPDATE question_log SET asked_at = asked_at - 3 * 86400")  # three days pass
    async with serving(tg, library, question_log=db, log_days=2) as bot:  # retention is applied at start
        assert await press(tg, 7, vote_button(answer, "👍"), answer) == th.VOTE_TOO_OLD.format(days=2)
        await bot.drain()
    assert rows(db) == [] and rows(db, "SELECT * FROM question_feedback") == []


async def test_with_the_log_off_there_are_no_buttons_and_no_stats(tg, library, db):
    async with serving(tg, library, admin_ids=(ADMIN,)) as bot:
        [answer] = await bot.replies_to(tg.private_message(7, QUESTION))
        [stats] = await bot.replies_to(tg.private_message(ADMIN, "/stats"))
        assert await press(tg, 7, "fb:123456789:u", answer) == th.BUTTON_EXPIRED
        await bot.drain()
    assert not any(b["text"] in ("👍", "👎") for b in buttons(answer))
    assert stats.result["text"] == th.STATS_OFF
    assert not db.exists()


# --- /stats -----------------------------------------------------------------------------------------


async def test_stats_for_admins_only(tg, library, db):
    async with serving(tg, library, question_log=db, admin_ids=(ADMIN,)) as bot:
        for user, question in [(8, QUESTION.lower()), (7, QUESTION), (9, "Who painted the Mona Lisa?")]:
            [answer] = await bot.replies_to(tg.private_message(user, question))
        await press(tg, 9, vote_button(answer, "👎"), answer)
        [refused] = await bot.replies_to(tg.private_message(7, "/stats"))
        [stats] = await bot.replies_to(tg.private_message(ADMIN, "/stats 30"))
        await bot.drain()
    assert refused.result["text"] == th.ADMINS_ONLY
    text = stats.result["text"]
    assert stats.params["parse_mode"] == "HTML" and "pre" in [e["type"] for e in stats.result["entities"]]
    for shown in ("Last 30 days: 3 questions from 3 people", "answered 67% (2)", "refused 33% (1)", "👎 1",
                  f"2×  {QUESTION}", "Most refused:\n  1×  Who painted the Mona Lisa?"):
        assert shown in text, shown
    assert "/stats" not in {c["command"] for c in tg.sent("setMyCommands")[-1].params["commands"]}


# --- Faults in the log ---------------------------------------------------------------------------


async def test_a_corrupt_log_does_not_stop_answers_or_presses_and_is_reported_once(tg, library, db, caplog):
    db.parent.mkdir(parents=True)
    db.write_bytes(b"not a database " * 1000)
    caplog.set_level(logging.WARNING, "bot.operations.question_log")
    async with serving(tg, library, question_log=db, admin_ids=(ADMIN,)) as bot:
        answers = []
        for n in range(5):
            [answer] = await bot.replies_to(tg.private_message(7, QUESTION if n % 2 else "Who met in Moscow?"))
            answers.append(answer)
        assert await press(tg, 7, vote_button(answers[0], "👍"), answers[0]) == "Thanks! Noted: 👍"  # queued
        [stats] = await bot.replies_to(tg.private_message(ADMIN, "/stats"))
        await bot.drain()
    assert all(a.result["text"] and buttons(a) for a in answers)
    assert "damaged or not a question log" in stats.result["text"]
    warnings = [r.getMessage() for r in caplog.records if "damaged or not a question log" in r.getMessage()]
    assert len([w for w in warnings if "Answers go on" in w]) == 1  # said once (and once more when stopping)
    assert db.read_bytes().startswith(b"not a database")  # never overwritten


# --- Metrics and health ----------------------------------------------------------------------------


async def test_metrics_count_questions_outcomes_latency_feedback_send_errors_and_the_index(tg, library, db):
    async with serving(tg, library, question_log=db, health_port=0) as bot:
        url = bot.instruments.server.url
        [answer] = await bot.replies_to(tg.private_message(7, QUESTION))
        await bot.replies_to(tg.private_message(7, "Who painted the Mona Lisa?"))
        await press(tg, 7, vote_button(answer, "👎"), answer)
        await bot.replies_to(answer.result)  # the reason prompt
        tg.block(8)
        tg.private_message(8, QUESTION)
        await tg.wait_for_async("sendMessage", chat_id=8, include_failed=True)
        await bot.drain()
        status, body = await fetch(url + "/metrics")
    assert status == 200
    value = metric_values(body)
    assert value[("corpus_bot_questions_total", (("chat_type", "private"),))] == 3
    assert value[("corpus_bot_answers_total", (("outcome", "answered"),))] == 2  # one could not be delivered
    assert value[("corpus_bot_answers_total", (("outcome", "refused"),))] == 1
    assert value[("corpus_bot_answer_latency_seconds_count", ())] == 3
    assert value[("corpus_bot_feedback_total", (("vote", "down"),))] == 1
    assert value[("corpus_bot_send_errors_total", (("kind", "blocked"),))] == 1
    assert value[("corpus_bot_index_passages", ())] == len(library.passages)
    assert value[("corpus_bot_index_articles", ())] == len(library.documents)
    assert value[("corpus_bot_question_log_ok", ())] == 1


async def test_healthz_over_http_index_not_loaded_then_ok_then_polling_stalled(tg, library, db):
    config = config_for(tg, health_port=0, health_stall_after=2.0)
    instruments = start_instruments(config)  # as `run` does: before the index is loaded
    try:
        url = instruments.server.url + "/healthz"
        assert await fetch(url) == (503, "the index is not loaded yet\n")
    finally:
        instruments.close()
    async with serving(tg, library, health_port=0, health_stall_after=2.0) as bot:
        url = bot.instruments.server.url + "/healthz"
        assert await until(url, 200) == "ok\n"
        tg.fail_next("getUpdates", "502", times=10_000)  # the Bot API stops answering long polls
        reason = await until(url, 503)
        assert reason.startswith("the Bot API has not answered a long poll for")
        tg.clear_faults()
        assert await until(url, 200) == "ok\n"
        reloaded = tg.private_message(7, QUESTION)
        await bot.replies_to(reloaded)
        await bot.stop()  # as SIGTERM does; the endpoint answers until the instruments close
        assert await fetch(url) == (503, "stopping: no longer receiving updates\n")


async def test_healthz_reports_a_stuck_event_loop(tg, library):
    async with serving(tg, library, health_port=0, health_stall_after=1.0) as bot:
        url = bot.instruments.server.url + "/healthz"
        await until(url, 200)
        # Block the loop itself (as a runaway computation would) and ask from another thread meanwhile.
        answer = asyncio.get_running_loop().run_in_executor(None, _get_after, url, 1.5)
        time.sleep(4)
        status, body = await answer
        assert status == 503 and body.startswith("the event loop has not run for")
        await until(url, 200)


def _get_after(url: str, delay: float) -> tuple[int, str]:
    time.sleep(delay)
    return get(url)


def test_run_serves_health_metrics_and_logs_questions(tmp_path):
    """`python -m bot run` as an operator starts it: the endpoint on a free port, the log in the
    working directory's data/ (the default), JSON log lines."""
    from test_telegram_run import BotProcess, free_port

    port = free_port()
    with FakeTelegram() as fake:
        env = {"BOT_TOKEN": fake.token, "BOT_API_BASE_URL": fake.base_url, "BOT_HEALTH_PORT": str(port),
               "BOT_LOG_FORMAT": "json"}
        with BotProcess(tmp_path, env, "run") as bot:
            bot.wait_for_output("serving as @")
            question = fake.private_message(7, QUESTION)
            fake.wait_for("sendMessage", chat_id=7, timeout=20)
            status, body = get(f"http://127.0.0.1:{port}/healthz")
            assert (status, body) == (200, "ok\n")
            deadline = time.monotonic() + 20  # the answer is counted once its message is sent
            while metric_values(get(f"http://127.0.0.1:{port}/metrics")[1])[
                    ("corpus_bot_answers_total", (("outcome", "answered"),))] != 1:
                assert time.monotonic() < deadline, "the answer was never counted"
                time.sleep(0.05)
            assert bot.stop() == 0
        log_lines = [json.loads(line) for line in bot.stderr_path.read_text("utf-8").splitlines() if line.strip()]
    assert any("serving as @" in line["message"] for line in log_lines)
    assert fake.token.split(":")[1] not in bot.output()
    [row] = rows(tmp_path / "data" / "questions.sqlite3")
    assert row["question"] == question["message"]["text"]
    assert (tmp_path / "data" / "questions.sqlite3.salt").stat().st_mode & 0o777 == 0o600


# --- A burst ------------------------------------------------------------------------------------------


async def test_a_burst_of_200_questions_from_50_people_with_presses_loses_no_row(tg, library, db):
    """The burst `tests/question_log_burst.py` measures (figures in its output, none here)."""
    from question_log_burst import burst

    figures = await burst(tg, library, questions=200, users=50, log_path=db)
    assert figures.answered == 200 and figures.presses == 200
    assert (figures.rows, figures.votes, figures.reasons) == (200, 200, 100)
    per_person = rows(db, "SELECT user_hash, COUNT(*) AS n FROM question_log GROUP BY user_hash")
    assert len(per_person) == 50 and {r["n"] for r in per_person} == {4}


def test_the_log_and_health_settings_reach_the_service(tmp_path):
    from bot.cli import service_config
    from conftest import DEFAULTS

    on = service_config(DEFAULTS.model_copy(update={"log_db": tmp_path / "q.sqlite3", "log_days": 7,
                                                    "health_port": 9108, "health_listen": "0.0.0.0"}))
    assert (on.question_log, on.log_days, on.health_port, on.health_listen) == (tmp_path / "q.sqlite3", 7, 9108,
                                                                                  "0.0.0.0")
    assert service_config(DEFAULTS).question_log == DEFAULTS.log_db and service_config(DEFAULTS).health_port is None
    assert service_config(DEFAULTS.model_copy(update={"log_questions": False})).question_log is None


def test_healthz_in_webhook_mode_says_ok_while_the_webhook_is_served(tmp_path):
    from test_telegram_run import BotProcess, free_port, post

    webhook_port, health_port, secret = free_port(), free_port(), "s3cret_webhook-TOKEN_42"
    with FakeTelegram() as fake:
        env = {"BOT_TOKEN": fake.token, "BOT_API_BASE_URL": fake.base_url,
               "BOT_WEBHOOK_URL": "https://bot.example.org/tg-hook", "BOT_WEBHOOK_PORT": str(webhook_port),
               "BOT_WEBHOOK_SECRET": secret, "BOT_HEALTH_PORT": str(health_port), "BOT_LOG_QUESTIONS": "false"}
        with BotProcess(tmp_path, env, "run") as bot:
            fake.wait_for("setWebhook", timeout=30)
            deadline = time.monotonic() + 20
            while get(f"http://127.0.0.1:{health_port}/healthz") != (200, "ok\n"):  # the webhook server starts
                assert time.monotonic() < deadline, get(f"http://127.0.0.1:{health_port}/healthz")
                time.sleep(0.05)
            update = fake.private_message(9, QUESTION, push=False) | {"update_id": 1}
            assert post(f"http://127.0.0.1:{webhook_port}/tg-hook", update, secret) == 200
            fake.wait_for("sendMessage", chat_id=9)
            assert bot.stop() == 0
        assert not fake.sent("getUpdates")
    assert not (tmp_path / "data").exists()  # BOT_LOG_QUESTIONS=false: no log file


def test_a_health_port_in_use_exits_1_and_an_address_not_here_exits_2(tmp_path):
    """As the webhook's address: a port another process holds may be free after a restart (1); an
    address that is not this machine's is a setting to fix (2). One line each, no traceback."""
    from test_telegram_run import start_up_fault_output

    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        status, output = start_up_fault_output(tmp_path, {"BOT_HEALTH_PORT": str(port)})
    assert status == 1, output[-3000:]
    assert f"error: the health endpoint cannot listen on 127.0.0.1:{port}: the port is in use" in output
    status, output = start_up_fault_output(tmp_path, {"BOT_HEALTH_PORT": "9108", "BOT_HEALTH_LISTEN": "192.0.2.1"})
    assert status == 2, output[-3000:]
    assert "error: the health endpoint cannot listen on 192.0.2.1:9108" in output and "BOT_HEALTH_LISTEN" in output
    assert "Traceback" not in output


def test_long_statistics_are_split_into_messages_telegram_takes():
    from fake_telegram import check_html, utf16_len

    per_day = "Questions per day (UTC):\n" + "\n".join(f"  day {n:04d} <&>  {n:>6,}" for n in range(900))
    texts = th.stats_messages(["Last 900 days: 1 question", per_day], "locked by another process")
    assert len(texts) > 2
    plain = ""
    for text in texts:
        shown, _ = check_html(text)  # Telegram's HTML rules, as the fake applies them
        assert utf16_len(text) <= th.MAX_MESSAGE
        plain += shown + "\n"
    assert all(f"day {n:04d} <&>" in plain for n in range(900))  # nothing lost, escaped on the way
    assert plain.rstrip().endswith("Note: the question log cannot be written right now: locked by another process")
