"""The Telegram bot's parts on their own: routing of group messages, allow-lists, per-user limits,
token redaction in logs, per-chat ordering, webhook settings, and the architecture rule."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import logging
import random
from pathlib import Path

import pytest
from pydantic import SecretStr
from telegram import Update

from bot.cli import service_config
from bot.telegram.access import AccessPolicy, RateLimit
from bot.telegram.routing import (
    EmptyAsk,
    MoreQuotes,
    Question,
    ShowPassage,
    UnknownCommand,
    parse_button,
    question_text,
    route,
)
from bot.telegram.service import ChatOrderedProcessor, SecretFilter, ServiceConfig, config_problem
from conftest import DEFAULTS

TOKEN = "123456789:AAHk3-secretPART_abcdefghijklmnop"
ROOT = Path(__file__).resolve().parent.parent


# --- Routing -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "private", "replying", "expected"),
    [
        ("Who met?", True, False, Question("Who met?")),
        ("Who met?", False, False, None),
        ("Who met?", False, True, Question("Who met?")),
        ("@Corpus_Test_Bot who met?", False, False, Question("who met?")),
        ("who met, @corpus_test_bot?", False, False, Question("who met, ?")),
        ("@corpus_test_bottle who met?", False, False, None),
        ("/ask who met?", False, False, Question("who met?")),
        ("/ask@corpus_test_bot who met?", False, False, Question("who met?")),
        ("/ASK@CORPUS_TEST_BOT who met?", True, False, Question("who met?")),
        ("/ask@other_bot who met?", False, False, None),
        ("/ask@other_bot who met?", True, False, None),
        ("/ask", False, False, EmptyAsk()),
        ("/ask   @corpus_test_bot ", False, False, EmptyAsk()),
        ("/asking who", True, False, UnknownCommand("asking")),
        ("/foo", True, False, UnknownCommand("foo")),
        ("/foo", False, False, None),
        ("/foo@corpus_test_bot", False, False, UnknownCommand("foo")),
        ("/start@other_bot", False, True, None),
        ("   ", True, False, Question("")),
    ],
)
def test_route(text, private, replying, expected):
    assert route(text, private=private, bot_username="corpus_test_bot", replying_to_bot=replying) == expected


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ("p:0a1b2c3d4e5f", ShowPassage("0a1b2c3d4e5f")),
        ("p:", ShowPassage("")),  # a passage no corpus has: "no longer in the corpus"
        ("more:3", MoreQuotes(3)),
        ("more:200", MoreQuotes(200)),
        ("more:201", None),  # past any offset the bot makes
        ("more:0", None),
        ("more:-1", None),
        ("more:x", None),
        ("garbage", None),
        ("", None),
        (None, None),
    ],
)
def test_button_data_is_read_back_or_refused(data, expected):
    assert parse_button(data) == expected


def test_button_data_round_trips_and_fits_telegram():
    for button in (ShowPassage("0a1b2c3d4e5f"), MoreQuotes(3), MoreQuotes(200)):
        assert parse_button(button.data) == button
        assert len(button.data.encode()) <= 64  # Telegram's limit for callback_data


def test_question_text_strips_the_command_and_mentions_only():
    assert question_text("/ask@corpus_test_bot  What about /ask? ", "corpus_test_bot") == "What about /ask?"
    assert question_text("Why? @corpus_test_bot", "corpus_test_bot") == "Why?"
    assert question_text("email me@corpus_test_bots.org", "corpus_test_bot") == "email me@corpus_test_bots.org"


# --- Access and limits -----------------------------------------------------------------------------------


def test_without_allow_lists_everyone_may_ask():
    policy = AccessPolicy((), (), (5,))
    assert not policy.restricted and policy.allows(1, 1) and policy.allows(None, None)
    assert policy.is_admin(5) and not policy.is_admin(1) and not policy.is_admin(None)


def test_allow_lists_admit_listed_users_anywhere_and_anyone_in_listed_chats():
    policy = AccessPolicy((-100, 42), (7,), (9,))
    assert policy.allows(7, -555)  # allowed user in any chat
    assert policy.allows(9, 9)  # admins too
    assert policy.allows(3, -100)  # anyone in an allowed group
    assert policy.allows(42, 42) and policy.allows(42, None)  # a listed private chat is that user (inline)
    assert not policy.allows(3, 3) and not policy.allows(3, None) and not policy.allows(3, -555)
    assert not policy.allows(None, None)


def test_rate_limit_slides_and_says_so_once():
    now = [0.0]
    limit = RateLimit(3, 60.0, clock=lambda: now[0])
    assert [limit.check(1).allowed for _ in range(3)] == [True] * 3
    refused = limit.check(1)
    assert not refused.allowed and refused.first_refusal and refused.retry_in == pytest.approx(60.0)
    assert not limit.check(1).first_refusal  # told once
    assert limit.check(2).allowed  # others unaffected
    now[0] = 30.0
    assert limit.check(1).retry_in == pytest.approx(30.0)
    now[0] = 60.0
    assert limit.check(1).allowed  # the first of the three fell out of the window
    now[0] = 1000.0
    assert limit.check(1).allowed


def test_rate_limit_forgets_idle_users():
    now = [0.0]
    limit = RateLimit(1, 60.0, clock=lambda: now[0])
    limit.SWEEP_EVERY = 100
    for user in range(100):
        limit.check(user)
    now[0] = 61.0
    limit.check(1000)
    assert len(limit._events) == 1


# --- Secrets in logs -------------------------------------------------------------------------------------


def logged(record_args: tuple, exc: BaseException | None = None, msg: str = "%s") -> str:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(SecretFilter([TOKEN, "webhook-secret_1"]))
    logger = logging.getLogger("test.secret.filter")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.error(msg, *record_args, exc_info=exc, stack_info=exc is not None)
    finally:
        logger.removeHandler(handler)
    return stream.getvalue()


def test_the_token_is_redacted_from_messages_arguments_tracebacks_and_urls():
    from urllib.parse import quote

    try:
        raise RuntimeError(f"The token `{TOKEN}` was rejected by the server.")
    except RuntimeError as error:
        out = logged((f"POST https://api.telegram.org/bot{TOKEN}/getMe",), error)
    out += logged((quote(TOKEN, safe=""), "AAHk3-secretPART_abcdefghijklmnop", "webhook-secret_1"), msg="%s %s %s")
    out += logged((), msg=f"%% literal {TOKEN} 100%%")
    assert "AAHk3-secretPART" not in out and "webhook-secret_1" not in out
    assert out.count("[REDACTED]") >= 6
    assert "https://api.telegram.org/bot[REDACTED]/getMe" in out and "RuntimeError" in out


# --- Ordering -----------------------------------------------------------------------------------------------


def update(update_id: int, chat_id: int) -> Update:
    return Update.de_json({
        "update_id": update_id,
        "message": {"message_id": update_id, "date": 0, "text": "hi",
                    "chat": {"id": chat_id, "type": "private"}, "from": {"id": chat_id, "is_bot": False,
                                                                         "first_name": "U"}},
    }, None)


async def test_updates_of_one_chat_run_in_order_and_chats_run_concurrently():
    processor = ChatOrderedProcessor(max_running=8)
    await processor.initialize()
    done: list[tuple[int, int]] = []
    running: dict[int, int] = {}
    overlap = []
    rng = random.Random(3)

    async def handle(chat: int, n: int) -> None:
        running[chat] = running.get(chat, 0) + 1
        assert running[chat] == 1, "two updates of one chat at once"
        overlap.append(sum(1 for v in running.values() if v))
        await asyncio.sleep(rng.random() / 200)
        running[chat] -= 1
        done.append((chat, n))

    tasks = []
    for n in range(20):
        for chat in range(5):
            tasks.append(asyncio.create_task(processor.process_update(update(n * 5 + chat, chat), handle(chat, n))))
    await asyncio.gather(*tasks)
    for chat in range(5):
        assert [n for c, n in done if c == chat] == list(range(20))
    assert max(overlap) > 1  # chats did run side by side


# --- Webhook settings -------------------------------------------------------------------------------------


def test_webhook_settings_are_checked():
    def config(**changes) -> ServiceConfig:
        return dataclasses.replace(service_config(DEFAULTS), token=SecretStr(TOKEN), **changes)

    assert config_problem(config()) is None
    assert "BOT_WEBHOOK_SECRET" in config_problem(config(webhook_url="https://x.org/hook"))
    spaced = config(webhook_url="https://x.org/hook", webhook_secret=SecretStr("has space"))
    assert "only hold" in config_problem(spaced)
    assert "full https://" in config_problem(config(webhook_url="x.org/hook", webhook_secret=SecretStr("ok")))
    assert config_problem(config(webhook_url="https://x.org/hook", webhook_secret=SecretStr("A-z_09"))) is None


def test_the_service_gets_every_setting_it_uses():
    """ServiceConfig has no defaults of its own: each value comes from the settings."""
    settings = DEFAULTS.model_copy(update={"top_k": 7, "min_match": 0.55, "webhook_port": 9000,
                                           "user_questions_per_minute": 5, "admin_ids": (3,)})
    config = service_config(settings)
    assert (config.top_k, config.min_match, config.webhook_port, config.user_questions_per_minute,
            config.admin_ids) == (7, 0.55, 9000, 5, (3,))
    assert config.corpus.folder == settings.corpus_dir and config.corpus.engine == settings.engine
    required = [f.name for f in dataclasses.fields(ServiceConfig) if f.default is dataclasses.MISSING]
    not_settings = {"request_timeout", "health_stall_after"}  # timings the tests shorten
    assert set(required) == {f.name for f in dataclasses.fields(ServiceConfig)} - not_settings
