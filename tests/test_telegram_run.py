"""`python -m bot run` as an operator runs it: a real process against the fake Bot API on 127.0.0.1.

Token handling (none, wrong, never in the output at any log level), graceful stop on SIGTERM
with questions already received answered, SIGHUP reload, and the webhook with its secret."""

from __future__ import annotations

import fcntl
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

from bot.retrieval.index_cache import cache_place
from fake_telegram import FakeTelegram
from kill_in_a_burst import kill_in_a_burst
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
            assert refused_before_the_body_is_read(port, "/tg-hook") == 403
            assert post(url, genuine, secret) == 200
            [answer] = tg.wait_for("sendMessage", chat_id=9)
            assert bot.stop(signal.SIGINT) == 0
            output = bot.output()
        assert not tg.sent("sendMessage", chat_id=8) and not tg.sent("getUpdates")
    assert "[1] " in answer.result["text"]
    assert_no_secret(output, tg.token, secret)
    refusals = [line for line in output.splitlines() if "webhook: refused a request from 127.0.0.1" in line]
    assert len(refusals) == 3 and "no secret header" in refusals[0] and "a wrong secret" in refusals[1]


def refused_before_the_body_is_read(port: int, path: str) -> int:
    """Announce a 10 MB body without the secret, send 1 kB of it, and read the answer: a server that
    reads the whole body before checking the secret never answers (the socket times out)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(f"POST {path} HTTP/1.1\r\nHost: bot\r\nContent-Type: application/json\r\n"
                           f"Content-Length: {10_000_000}\r\n\r\n".encode() + b"x" * 1000)
        try:
            head = connection.recv(100).decode("latin-1")
        except TimeoutError:
            return 0
    return int(head.split()[1]) if head.startswith("HTTP/1.1 ") else 0


# --- No question is lost --------------------------------------------------------------------------------


def test_a_kill_in_a_burst_loses_no_question_and_answers_again_only_what_was_being_sent(tmp_path):
    """kill -9 after 30 of 300 questions were answered, then a restart (tests/kill_in_a_burst.py prints the
    figures): every question is answered; the only ones answered twice are those whose answer was on its
    way at the instant of the kill (sent, not yet marked handled: Telegram cannot be asked whether it
    arrived), never one the store had marked handled."""
    figures = kill_in_a_burst(tmp_path, questions=300, kill_after=30)
    print(figures)
    assert figures.lost == 0
    assert figures.answered_twice_not_in_flight == 0
    assert figures.answered_twice <= figures.in_flight <= figures.answered_before_kill
    assert figures.exit_status_after == 0


def test_sighup_during_start_up_does_not_kill_the_bot_and_reloads_once_serving(tmp_path):
    """`systemctl reload` while the corpus loads (here: while another process holds the index cache,
    so the load waits for it) must not end the process."""
    cache = tmp_path / "cache"
    place = cache_place(cache, ROOT / "corpus")
    place.mkdir(parents=True)
    with FakeTelegram() as tg, open(place / ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # the bot's corpus load waits for this lock
        env = {"BOT_TOKEN": tg.token, "BOT_API_BASE_URL": tg.base_url, "BOT_INDEX_CACHE_DIR": str(cache)}
        with BotProcess(tmp_path, env, "run") as bot:
            bot.wait_for_output("loading the corpus")
            bot.process.send_signal(signal.SIGHUP)  # by default, SIGHUP ends a process
            fcntl.flock(lock, fcntl.LOCK_UN)
            bot.wait_for_output("SIGHUP: corpus reloaded")  # fails at once if the process has ended
            question = tg.private_message(7, QUESTION)
            [answer] = tg.wait_for("sendMessage", chat_id=7, timeout=20)
            assert bot.stop(signal.SIGTERM) == 0
            output = bot.output()
    assert "SIGHUP arrived during start-up" in output
    assert answer.params["reply_parameters"]["message_id"] == question["message"]["message_id"]


def test_sigterm_during_a_long_flood_wait_stops_soon_and_the_question_is_answered_after_the_restart(tmp_path):
    """Telegram asks to wait an hour before the answer may be sent; SIGTERM must not wait that hour. The
    question stays in the update store and is answered at the next start."""
    with FakeTelegram() as tg:
        env = {"BOT_TOKEN": tg.token, "BOT_API_BASE_URL": tg.base_url, "BOT_STOP_TIMEOUT": "1",
               "BOT_LOG_LEVEL": "INFO"}
        tg.fail_next("sendMessage", "429", retry_after=3600)
        with BotProcess(tmp_path, env, "run") as bot:
            bot.wait_for_output("Application started")
            question = tg.private_message(7, QUESTION)
            tg.wait_for(lambda: tg.failed("sendMessage"))  # told to wait an hour
            bot.wait_for_output("Telegram asks to wait 3600 s")
            assert bot.stop(signal.SIGTERM) == 0  # BotProcess.wait gives up after 30 s
            first_run = bot.output()
        assert not tg.sent("sendMessage")
        with BotProcess(tmp_path, env, "run") as bot:
            [answer] = tg.wait_for("sendMessage", chat_id=7, timeout=20)
            assert bot.stop(signal.SIGTERM) == 0
            second_run = bot.output()
    assert "1 updates not handled within 1 s are kept for the next start" in first_run
    assert "handling 1 updates received before the last stop" in second_run
    assert answer.params["reply_parameters"]["message_id"] == question["message"]["message_id"]
    assert "Traceback" not in first_run + second_run


# --- Never die quietly, never restart forever -------------------------------------------------------------


def test_a_token_revoked_while_running_stops_the_bot_with_the_token_rejected_status(tmp_path):
    with FakeTelegram() as tg:
        env = {"BOT_TOKEN": tg.token, "BOT_API_BASE_URL": tg.base_url}
        with BotProcess(tmp_path, env, "run") as bot:
            tg.private_message(7, QUESTION)
            tg.wait_for("sendMessage", chat_id=7, timeout=20)  # serving
            tg.token = "123456:REVOKED-abcdefghijklmnopqrstuvwxyz"  # BotFather: /revoke
            assert bot.wait() == 2
            output = bot.output()
    assert "error: the token was rejected by the Bot API" in output and "while running" in output
    assert "Traceback" not in output
    assert_no_secret(output, env["BOT_TOKEN"])


def start_up_fault_output(tmp_path: Path, env: dict[str, str], *faults: tuple) -> tuple[int, str]:
    with FakeTelegram() as tg:
        for fault in faults:
            tg.fail_next(*fault[:2], **(fault[2] if len(fault) > 2 else {}))
        values = {"BOT_TOKEN": tg.token, "BOT_API_BASE_URL": tg.base_url, "BOT_LOG_LEVEL": "INFO"}
        values.update({k: v.replace("{base}", tg.base_url).replace("{token}", tg.token) for k, v in env.items()})
        with BotProcess(tmp_path, values, "run") as bot:
            status = bot.wait()
            output = bot.output()
        assert_no_secret(output, tg.token)
    return status, output


@pytest.mark.parametrize("env, faults, status, says", [
    ({}, [("getMe", "500", {"times": 3})], 1, "error: cannot use the Bot API at http://127.0.0.1"),
    ({}, [("getMe", "502", {"times": 3})], 1, "Bad Gateway"),
    ({"BOT_API_BASE_URL": "http://127.0.0.1:9"}, [], 1, "error: cannot use the Bot API at http://127.0.0.1:9"),
    ({"BOT_TOKEN": WRONG_TOKEN}, [], 2, "error: the token was rejected by the Bot API"),
    ({"BOT_API_BASE_URL": "{base}/api"}, [], 2, "answered 404 Not Found: BOT_API_BASE_URL is not the root"),
], ids=["getMe 500", "not JSON", "unreachable", "wrong token", "404 not a Bot API server"])
def test_a_start_up_fault_is_one_clear_line_without_a_traceback(tmp_path, env, faults, status, says):
    got, output = start_up_fault_output(tmp_path, env, *faults)
    assert got == status, output[-3000:]
    assert says in output
    assert "Traceback" not in output and "File \"" not in output
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, output[-3000:]


@pytest.mark.parametrize("env, says", [
    ({"BOT_API_BASE_URL": "not a url"}, "BOT_API_BASE_URL must be a full http:// or https:// address"),
    ({"BOT_API_BASE_URL": "{base}/bot"}, "BOT_API_BASE_URL ends in /bot"),
    ({"BOT_API_BASE_URL": "{base}/bot{token}"}, "BOT_API_BASE_URL holds the bot token"),
    ({"BOT_TOKEN": "{token}\n"}, "BOT_TOKEN holds spaces or a line break"),
    ({"BOT_WEBHOOK_URL": "https://bot.example.org/hook", "BOT_WEBHOOK_SECRET": "s3cret",
      "BOT_WEBHOOK_LISTEN": "999.1.1.1"}, "BOT_WEBHOOK_LISTEN must be an IP address or host name"),
    ({"BOT_WEBHOOK_URL": "https://bot.example.org:9443/hook", "BOT_WEBHOOK_SECRET": "s3cret"},
     "Telegram only posts to ports 443, 80, 88 and 8443"),
], ids=["base URL not a URL", "base URL ends in /bot", "base URL holds the token", "token with a newline",
        "bad listen address", "webhook port Telegram refuses"])
def test_a_setting_to_fix_exits_2_in_one_line_and_check_says_so_too(tmp_path, env, says):
    status, output = start_up_fault_output(tmp_path, env)
    assert status == 2, output[-3000:]
    assert says in output and "Traceback" not in output
    with FakeTelegram() as tg:
        values = {"BOT_TOKEN": tg.token, "BOT_API_BASE_URL": tg.base_url}
        values.update({k: v.replace("{base}", tg.base_url).replace("{token}", tg.token) for k, v in env.items()})
        with BotProcess(tmp_path, values, "check") as check:
            assert check.wait() == 2
            checked = check.output()
        assert says in checked
        assert_no_secret(checked, tg.token)


def test_a_webhook_address_the_bot_cannot_listen_on_exits_2(tmp_path):
    env = {"BOT_WEBHOOK_URL": "https://bot.example.org/hook", "BOT_WEBHOOK_SECRET": "s3cret",
           "BOT_WEBHOOK_LISTEN": "192.0.2.1", "BOT_WEBHOOK_PORT": str(free_port())}  # not this machine's
    status, output = start_up_fault_output(tmp_path, env)
    assert status == 2, output[-3000:]
    assert "cannot listen on 192.0.2.1:" in output and "BOT_WEBHOOK_LISTEN" in output
    assert "Traceback" not in output


def test_an_update_store_that_cannot_be_opened_exits_2(tmp_path):
    (tmp_path / "store-is-a-folder").mkdir()
    status, output = start_up_fault_output(tmp_path, {"BOT_UPDATE_STORE": str(tmp_path / "store-is-a-folder")})
    assert status == 2, output[-3000:]
    assert "error: cannot use the update store" in output and "Traceback" not in output
