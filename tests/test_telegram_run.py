"""`python -m bot run` as an operator runs it: a real process against the fake Bot API on 127.0.0.1.

Token handling (none, wrong, never in the output at any log level), graceful stop on SIGTERM
with questions already received answered, SIGHUP reload, and the webhook with its secret."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from fake_telegram import FakeTelegram
from telegram_harness import QUESTION

ROOT = Path(__file__).resolve().parent.parent
WRONG_TOKEN = "123456:WRONG-token-zyxwvutsrqponmlkjihgfedcba"

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


class BotProcess:
    """`python -m bot [args]` in a clean environment, output captured to files."""

    def __init__(self, workdir: Path, env: dict[str, str], *args: str):
        clean = {k: v for k, v in os.environ.items() if not k.startswith("BOT_")}
        clean.update(PYTHONIOENCODING="utf-8", BOT_CORPUS_DIR=str(ROOT / "corpus"), BOT_LOG_LEVEL="DEBUG")
        clean.update(env)
        self.stdout_path, self.stderr_path = workdir / "stdout.txt", workdir / "stderr.txt"
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bot", *args], cwd=workdir, env=clean, stdout=out, stderr=err
            )

    def output(self) -> str:
        return self.stdout_path.read_text("utf-8") + self.stderr_path.read_text("utf-8")

    def wait(self, timeout: float = 30) -> int:
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise AssertionError(f"the bot did not exit:\n{self.output()[-3000:]}") from None

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.wait()

    def wait_for_output(self, text: str, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.output():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"{text!r} never appeared:\n{self.output()[-3000:]}")
            time.sleep(0.02)

    def __enter__(self) -> BotProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def assert_no_secret(output: str, *secrets: str) -> None:
    for secret in secrets:
        assert secret not in output
        if ":" in secret:
            assert secret.partition(":")[2] not in output


def test_without_a_token_run_says_how_to_get_one(tmp_path):
    with BotProcess(tmp_path, {}, "run") as bot:
        assert bot.wait() == 2
        output = bot.output()
    assert "@BotFather" in output and "/newbot" in output and "BOT_TOKEN=" in output and ".env" in output


def test_a_wrong_token_is_a_clear_error_that_does_not_show_it(tmp_path):
    with FakeTelegram() as tg:
        env = {"BOT_TOKEN": WRONG_TOKEN, "BOT_API_BASE_URL": tg.base_url}
        (tmp_path / ".env").write_text(f"BOT_TOKEN={WRONG_TOKEN}\n")  # `python -m bot` alone runs the bot
        with BotProcess(tmp_path, env) as bot:
            assert bot.wait() == 2
            output = bot.output()
    assert "the token was rejected" in output and "check BOT_TOKEN" in output
    assert_no_secret(output, WRONG_TOKEN)


def test_polling_service_answers_reloads_and_stops_gracefully_without_leaking_the_token(tmp_path):
    with FakeTelegram() as tg:
        env = {"BOT_TOKEN": tg.token, "BOT_API_BASE_URL": tg.base_url}
        with BotProcess(tmp_path, env, "run") as bot:
            bot.wait_for_output("Application started")
            start = tg.private_message(7, "/start")
            tg.wait_for("sendMessage", chat_id=7)

            # another instance polls with the same token: Telegram ends the bot's long poll with 409
            while "409 Conflict" not in bot.output():
                assert bot.process.poll() is None, bot.output()[-3000:]
                urllib.request.build_opener(urllib.request.ProxyHandler({})).open(
                    f"{tg.api_url}{tg.token}/getUpdates?timeout=0", timeout=10).close()
                time.sleep(0.05)

            bot.process.send_signal(signal.SIGHUP)
            bot.wait_for_output("corpus reloaded")

            tg.fail_next("sendMessage", "slow", seconds=1.5)  # still sending when SIGTERM arrives
            question = tg.private_message(7, QUESTION)
            tg.wait_for(lambda: not tg.pending_updates())  # received (and confirmed) by the bot
            assert bot.stop(signal.SIGTERM) == 0
            output = bot.output()
        replies = [c.params["reply_parameters"]["message_id"] for c in tg.sent("sendMessage", chat_id=7)]
    assert replies == [start["message"]["message_id"], question["message"]["message_id"]]
    assert "[REDACTED]" in output  # DEBUG logging did try to print the API address
    assert_no_secret(output, tg.token)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(url: str, update: dict, secret: str | None) -> int:
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["X-Telegram-Bot-Api-Secret-Token"] = secret
    request = urllib.request.Request(url, data=json.dumps(update).encode(), headers=headers, method="POST")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # 127.0.0.1 directly, whatever the env
    deadline = time.monotonic() + 20
    while True:
        try:
            with opener.open(request, timeout=10) as response:
                return response.status
        except urllib.error.HTTPError as error:
            return error.code
        except urllib.error.URLError as error:  # PTB registers the webhook, then starts listening
            if not isinstance(error.reason, ConnectionRefusedError) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def test_a_webhook_needs_its_secret(tmp_path):
    env = {"BOT_TOKEN": "123:abcdefghijklmnop", "BOT_WEBHOOK_URL": "https://bot.example.org/hook"}
    with BotProcess(tmp_path, env, "run") as bot:
        assert bot.wait() == 2
        output = bot.output()
    assert "BOT_WEBHOOK_SECRET" in output
    assert_no_secret(output, "123:abcdefghijklmnop")


def test_webhook_service_checks_the_secret_answers_and_stops_gracefully(tmp_path):
    port, secret = free_port(), "s3cret_webhook-TOKEN_42"
    with FakeTelegram() as tg:
        env = {
            "BOT_TOKEN": tg.token, "BOT_API_BASE_URL": tg.base_url,
            "BOT_WEBHOOK_URL": "https://bot.example.org/tg-hook", "BOT_WEBHOOK_LISTEN": "127.0.0.1",
            "BOT_WEBHOOK_PORT": str(port), "BOT_WEBHOOK_SECRET": secret,
        }
        with BotProcess(tmp_path, env, "run") as bot:
            [registered] = tg.wait_for("setWebhook", timeout=30)
            assert registered.params["url"] == "https://bot.example.org/tg-hook"
            assert registered.params["secret_token"] == secret
            url = f"http://127.0.0.1:{port}/tg-hook"
            forged = tg.private_message(8, QUESTION, push=False) | {"update_id": 1}
            genuine = tg.private_message(9, QUESTION, push=False) | {"update_id": 2}
            assert post(url, forged, None) == 403
            assert post(url, forged, "not-the-secret") == 403
            assert post(url, genuine, secret) == 200
            [answer] = tg.wait_for("sendMessage", chat_id=9)
            assert bot.stop(signal.SIGINT) == 0
            output = bot.output()
        assert not tg.sent("sendMessage", chat_id=8) and not tg.sent("getUpdates")
    assert "[1] " in answer.result["text"]
    assert_no_secret(output, tg.token, secret)
