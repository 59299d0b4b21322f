"""Telegram faults and bugs in one update: each is handled, none stops the bot, nothing is
sent twice on purpose, and the user gets a short apology where one makes sense."""

from __future__ import annotations

import logging

import pytest

import fake_telegram
from bot.telegram import handlers
from bot.telegram import messages as th
from bot.telegram.update_store import UpdateStore
from fake_telegram import FakeTelegram
from telegram_harness import QUESTION, reply_ids, serving, texts

GROUP = -4001
OTHER_QUESTION = "Who is the commander of Russia's Southern Military District?"


@pytest.fixture
async def tg():
    async with FakeTelegram() as fake:
        yield fake


def attempts(tg: FakeTelegram, update: dict, *, apologies: bool = False) -> list[fake_telegram.Call]:
    """Every sendMessage request (failed or not) replying to the message in `update`: the answer's
    (or, with `apologies`, the apology's)."""
    message = update["message"]
    return [
        c for c in tg.sent("sendMessage", include_failed=True)
        if (c.params.get("reply_parameters") or {}).get("message_id") == message["message_id"]
        and c.params["chat_id"] == message["chat"]["id"]
        and (c.params["text"] == th.APOLOGY) == apologies
    ]


QUOTE = "Syunik"  # in every excerpt answering QUESTION


@pytest.mark.parametrize("fault", ["500", "502", "drop"])
async def test_a_failed_send_is_not_repeated_the_user_gets_an_apology_and_the_bot_goes_on(tg, library, fault,
                                                                                          caplog):
    tg.fail_next("sendMessage", fault)
    async with serving(tg, library) as bot:
        first = tg.private_message(7, QUESTION)
        [apology] = await bot.replies_to(first)
        second = tg.private_message(7, OTHER_QUESTION)
        [answer] = await bot.replies_to(second)
        await bot.drain()
    assert apology.result["text"] == th.APOLOGY
    assert len(attempts(tg, first)) == 1  # the failed answer was not sent again
    assert "[1] " in answer.result["text"]
    [logged] = [r for r in caplog.records if r.name == "bot.telegram.sending" and r.levelno >= logging.WARNING]
    message = logged.getMessage()
    assert f"update {first['update_id']} failed" in message and QUESTION not in message


async def test_a_message_delivered_but_unconfirmed_is_not_sent_again(tg, library):
    tg.fail_next("sendMessage", "drop_after")  # Telegram delivered it, then the connection broke
    async with serving(tg, library) as bot:
        first = tg.private_message(7, QUESTION)
        await bot.replies_to(first, 2)
        await bot.drain()
    delivered = [m for m in tg.messages(7, from_bot=True) if QUOTE in m["text"]]
    assert len(delivered) == 1 and len(attempts(tg, first)) == 1


async def test_a_timed_out_send_is_not_repeated_and_the_bot_goes_on(tg, library):
    tg.fail_next("sendMessage", "slow", seconds=1.5)
    async with serving(tg, library, request_timeout=0.5) as bot:
        first = tg.private_message(7, QUESTION)
        second = tg.private_message(8, OTHER_QUESTION)
        [answer] = await bot.replies_to(second)
        await bot.replies_to(first)  # the slow request still arrives, late
        await bot.drain()
    assert "[1] " in answer.result["text"]
    assert len(attempts(tg, first)) == 1
    assert not attempts(tg, first, apologies=True)  # it may have been delivered: no apology on top


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # PTB's own RetryAfter.retry_after
async def test_flood_control_429_is_waited_out_and_sent_once(tg, library):
    tg.fail_next("sendMessage", "429", retry_after=1)
    async with serving(tg, library) as bot:
        first = tg.private_message(7, QUESTION)
        [answer] = await bot.replies_to(first)
        await bot.drain()
    tries = attempts(tg, first)
    assert [c.status for c in tries] == [429, 200]
    assert tries[1].time - tries[0].time >= 1.0  # waited as told
    assert answer is tries[1] or answer.params == tries[1].params


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # PTB's own RetryAfter.retry_after
async def test_one_chat_told_to_wait_does_not_hold_up_the_others(tg, library, tmp_path):
    """A 429 "retry after 3600" for one chat's answer: the other chats are answered meanwhile; the
    waiting answer is kept in the update store when the bot stops before the hour is over."""
    tg.fail_next("sendMessage", "429", retry_after=3600)
    async with serving(tg, library, store=tmp_path / "updates.sqlite3") as bot:
        first = tg.private_message(7, QUESTION)
        await tg.wait_for_async(lambda: tg.failed("sendMessage"))
        other = tg.private_message(8, OTHER_QUESTION)
        [answer] = await bot.replies_to(other)
        await tg.wait_for_async(lambda: not tg.pending_updates())
        cut_short = await bot.stop(timeout=0)
    assert "[1] " in answer.result["text"]
    assert [c.status for c in attempts(tg, first)] == [429]
    assert cut_short == 1
    store = await UpdateStore.open(tmp_path / "updates.sqlite3", tg.bot_id)
    try:
        assert [p.update_id for p in await store.pending()] == [first["update_id"]]
    finally:
        await store.close()


async def test_html_telegram_cannot_parse_is_sent_again_as_plain_text(tg, library):
    tg.fail_next("sendMessage", "parse")
    async with serving(tg, library) as bot:
        first = tg.private_message(7, QUESTION)
        [answer] = await bot.replies_to(first)
        await bot.drain()
    assert "parse_mode" not in answer.params
    shown = answer.result["text"]
    assert "<" not in shown and QUOTE in shown and "(https://" in shown and "[1] " in shown
    assert answer.params["reply_markup"]["inline_keyboard"]  # buttons kept


async def test_a_blocked_bot_logs_and_goes_on(tg, library, caplog):
    tg.block(7)
    async with serving(tg, library) as bot:
        tg.private_message(7, QUESTION)
        tg.private_message(7, "/start")
        other = tg.private_message(8, QUESTION)
        await bot.replies_to(other)
        await bot.drain()
    assert len(tg.sent("sendMessage", include_failed=True, chat_id=7)) == 2  # one try each, no apology
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_group_that_became_a_supergroup_gets_its_answer_there(tg, library):
    async with serving(tg, library) as bot:
        tg.group_message(GROUP, 1, "/start")
        await tg.wait_for_async("sendMessage", chat_id=GROUP)
        new_id = tg.migrate_chat(GROUP)
        asked = tg.group_message(GROUP, 1, f"/ask {QUESTION}")  # sent just before the upgrade
        await tg.wait_for_async("sendMessage", chat_id=new_id)
        tg.group_message(new_id, 1, f"/ask {OTHER_QUESTION}")
        await tg.wait_for_async("sendMessage", 2, chat_id=new_id)
        await bot.drain()
    moved = texts(tg.sent("sendMessage", chat_id=new_id))
    assert QUOTE in moved[0] and "[1] " in moved[1]
    assert [c.params["chat_id"] for c in attempts(tg, asked)] == [GROUP]  # tried once at the old id, then moved


async def test_polling_faults_and_a_second_instance_are_reported_and_survived(tg, library, caplog):
    tg.fail_next("getUpdates", "409")
    tg.fail_next("getUpdates", "drop")
    async with serving(tg, library) as bot:
        question = tg.private_message(7, QUESTION)
        [answer] = await bot.replies_to(question)
        await bot.drain()
    assert "[1] " in answer.result["text"]
    conflict = [r.getMessage() for r in caplog.records if "409 Conflict" in r.getMessage()]
    assert len(conflict) == 1 and "second instance" in conflict[0]


async def test_a_bug_in_one_update_is_logged_apologised_for_and_survived(tg, library, monkeypatch, caplog):
    real = handlers.answer_question

    def answer(library_, question, **kwargs):
        if "explode" in question:
            raise RuntimeError("simulated bug")
        return real(library_, question, **kwargs)

    monkeypatch.setattr(handlers, "answer_question", answer)
    async with serving(tg, library) as bot:
        secret_question = "please explode on my private question about Syunik"
        broken = tg.private_message(7, secret_question)
        [apology] = await bot.replies_to(broken)
        later = tg.private_message(7, QUESTION)
        await bot.replies_to(later)
        group_broken = tg.group_message(GROUP, 2, f"/ask explode {QUESTION}")
        await bot.replies_to(group_broken)
        await bot.drain()
    assert apology.result["text"] == th.APOLOGY
    assert reply_ids(tg, GROUP) == [group_broken["message"]["message_id"]]
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 2
    for record in errors:
        logged = record.getMessage() + (logging.Formatter().formatException(record.exc_info) if record.exc_info else "")
        assert "simulated bug" in logged and "private question" not in logged and "explode on" not in logged
    assert f"update {broken['update_id']}" in errors[0].getMessage()


async def test_a_button_that_fails_is_still_answered(tg, library, monkeypatch):
    async with serving(tg, library) as bot:
        question = tg.private_message(7, QUESTION)
        [answer] = await bot.replies_to(question)
        tg.fail_next("sendMessage", "500")
        button = answer.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
        tg.callback_query(7, button, answer)
        await tg.wait_for_async("answerCallbackQuery")
        await bot.drain()
    [press] = tg.sent("answerCallbackQuery")
    assert press.params.get("text") is None  # answered before the (failing) passage was sent
    assert len(tg.failed("sendMessage")) == 1
    [apology] = tg.sent("sendMessage", chat_id=7, text=th.APOLOGY)
    assert apology.params["reply_parameters"]["message_id"] == answer.result["message_id"]


async def test_a_button_whose_handler_breaks_is_answered_and_apologised_for(tg, library, monkeypatch):
    async def broken(*args, **kwargs):
        raise RuntimeError("simulated bug")

    async with serving(tg, library) as bot:
        question = tg.private_message(7, QUESTION)
        [answer] = await bot.replies_to(question)
        monkeypatch.setattr(handlers.CorpusBot, "_show_passage", broken)
        button = answer.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
        tg.callback_query(7, button, answer)
        await tg.wait_for_async("sendMessage", chat_id=7, text=th.APOLOGY)
        await bot.drain()
    assert len(tg.sent("answerCallbackQuery")) == 1
