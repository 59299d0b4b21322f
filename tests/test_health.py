"""The health and metrics endpoint over real HTTP on 127.0.0.1: what a supervisor and Prometheus
get from /healthz and /metrics in each state (the end-to-end cases with the running bot are in
tests/test_telegram_operations.py). JSON log lines are here too: what a log collector reads."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import urllib.error
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.operations.health import Health, HealthServer
from bot.operations.log_format import JsonLines
from bot.operations.metrics import BotMetrics
from conftest import ROOT


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def get(url: str) -> tuple[int, str, str]:
    """(status, body, content type) of a GET, errors included."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode(), response.headers["Content-Type"]
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(), error.headers["Content-Type"]


@pytest.fixture
def served():
    clock = Clock()
    health, metrics = Health(stall_after=60, clock=clock), BotMetrics()
    server = HealthServer("127.0.0.1", 0, health, metrics).start()
    try:
        yield server, health, metrics, clock
    finally:
        server.close()


def test_healthz_says_503_with_the_reason_until_the_bot_works_then_200(served):
    server, health, _, clock = served
    healthz = server.url + "/healthz"
    assert get(healthz)[:2] == (503, "the index is not loaded yet\n")
    health.index_loaded()
    assert get(healthz)[:2] == (503, "not receiving updates yet (starting)\n")
    health.polling()
    assert get(healthz)[:2] == (503, "the Bot API has not answered a long poll yet\n")
    health.updates_polled()
    health.loop_beat()
    status, body, kind = get(healthz)
    assert (status, body) == (200, "ok\n") and kind.startswith("text/plain")
    clock.now += 59
    health.loop_beat()
    assert get(healthz)[0] == 200
    clock.now += 16  # 75 s since the last long poll was answered
    status, body, _ = get(healthz)
    assert status == 503 and body.startswith("the Bot API has not answered a long poll for 75 s")
    health.updates_polled()
    assert get(healthz)[0] == 200
    health.stopping()  # SIGTERM: the bot no longer receives updates, finishing what it has
    assert get(healthz)[:2] == (503, "stopping: no longer receiving updates\n")


def test_healthz_sees_a_stuck_event_loop_and_a_stopped_webhook(served):
    server, health, _, clock = served
    healthz = server.url + "/healthz"
    health.index_loaded()
    serving = {"on": True}
    health.webhook(lambda: serving["on"])
    health.loop_beat()
    assert get(healthz)[:2] == (200, "ok\n")
    serving["on"] = False
    assert get(healthz)[:2] == (503, "the webhook server is not running\n")
    serving["on"] = True
    clock.now += 61
    assert get(healthz)[:2] == (503, "the event loop has not run for 61 s\n")


def test_metrics_are_in_the_prometheus_text_format(served):
    server, _, metrics, _ = served
    metrics.questions.labels("private").inc(3)
    metrics.answers.labels("refused").inc()
    metrics.latency.observe(0.012)
    metrics.send_errors.labels("blocked").inc()
    metrics.index_loaded(5, 85)
    status, body, kind = get(server.url + "/metrics")
    assert status == 200 and kind.startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(body)}
    value = {(s.name, tuple(sorted(s.labels.items()))): s.value for f in families.values() for s in f.samples}
    assert value[("corpus_bot_questions_total", (("chat_type", "private"),))] == 3
    assert value[("corpus_bot_answers_total", (("outcome", "refused"),))] == 1
    assert value[("corpus_bot_answers_total", (("outcome", "hedged"),))] == 0  # there before the first one
    assert value[("corpus_bot_send_errors_total", (("kind", "blocked"),))] == 1
    assert value[("corpus_bot_answer_latency_seconds_count", ())] == 1
    assert value[("corpus_bot_answer_latency_seconds_bucket", (("le", "0.025"),))] == 1
    assert value[("corpus_bot_index_passages", ())] == 85 and value[("corpus_bot_index_articles", ())] == 5
    assert 0 <= value[("corpus_bot_index_age_seconds", ())] < 60


def test_other_paths_are_not_found(served):
    server, *_ = served
    assert get(server.url + "/")[0] == 404
    assert "/healthz" in get(server.url + "/admin")[1]


def test_a_port_in_use_is_an_os_error_naming_it(served):
    server, health, metrics, _ = served
    with pytest.raises(OSError):
        HealthServer("127.0.0.1", server.port, health, metrics)


TOKEN = "123456:SECRET-token-abcdefghijklmnopqrstuv"


def test_json_log_lines_have_the_text_lines_fields_and_no_token():
    from bot.telegram.service import SecretFilter

    handler = logging.StreamHandler()
    lines: list[str] = []
    handler.emit = lambda record: lines.append(handler.format(record))  # type: ignore[method-assign]
    handler.setFormatter(JsonLines())
    handler.addFilter(SecretFilter([TOKEN]))
    logger = logging.getLogger("bot.test-json")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("calling https://api.example/bot%s/getMe: %d", TOKEN, 3)
        try:
            raise RuntimeError(f"request to /bot{TOKEN}/sendMessage failed")
        except RuntimeError:
            logger.exception("failed ünïcode")
    finally:
        logger.removeHandler(handler)
    first, second = (json.loads(line) for line in lines)
    assert set(first) == {"time", "level", "logger", "message"}
    assert first["level"] == "WARNING" and first["logger"] == "bot.test-json"
    assert first["message"] == "calling https://api.example/bot[REDACTED]/getMe: 3"
    assert second["message"] == "failed ünïcode" and "RuntimeError" in second["exception"]
    assert TOKEN.split(":")[1] not in "".join(lines)


def test_the_cli_logs_json_lines_when_asked(workdir):
    result = subprocess.run(
        [sys.executable, "-m", "bot", "check"], cwd=workdir, capture_output=True, text=True, timeout=60,
        env={"PATH": "/usr/bin:/bin", "BOT_CORPUS_DIR": str(ROOT / "corpus"), "BOT_LOG_FORMAT": "json",
             "BOT_LOG_LEVEL": "DEBUG", "BOT_LOG_DB": str(workdir / "q.sqlite3")},
    )
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stderr.splitlines()]  # every line is one JSON object
    assert any(r["logger"] == "bot.retrieval.index_cache" and "index of" in r["message"] for r in records)
    assert all(set(r) == {"time", "level", "logger", "message"} for r in records)
