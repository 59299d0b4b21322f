"""What a running bot keeps for its operator, started together: the metrics, the health state,
the question log (unless off) and the /healthz and /metrics endpoint (unless off).

They start before the index is loaded, so that the endpoint says "not loaded yet" (503) during
a long first start rather than refusing connections, and close after the bot has stopped, so
that the last questions are written.
"""

from __future__ import annotations

import logging
from pathlib import Path

from bot.operations.health import STALL_AFTER, Health, HealthServer
from bot.operations.metrics import BotMetrics
from bot.operations.question_log import QuestionLog

log = logging.getLogger(__name__)


class Instruments:
    def __init__(self, metrics: BotMetrics, health: Health, question_log: QuestionLog | None,
                 server: HealthServer | None) -> None:
        self.metrics = metrics
        self.health = health
        self.question_log = question_log
        self.server = server

    @classmethod
    def start(cls, *, question_log: Path | None, log_days: int, health_listen: str = "127.0.0.1",
              health_port: int | None = None, stall_after: float = STALL_AFTER) -> Instruments:
        """Raises OSError when the health endpoint cannot listen (port in use, address not here)."""
        metrics, health = BotMetrics(), Health(stall_after=stall_after)
        server = HealthServer(health_listen, health_port, health, metrics).start() if health_port is not None else None
        questions = None
        if question_log is not None:
            questions = QuestionLog(question_log, keep_days=log_days)
            questions.start()
            metrics.watch(questions)
        if server is not None:
            log.info("health and metrics at %s/healthz and %s/metrics", server.url, server.url)
        return cls(metrics, health, questions, server)

    def index_loaded(self, articles: int, passages: int) -> None:
        self.metrics.index_loaded(articles, passages)
        self.health.index_loaded()

    def close(self) -> None:
        if self.question_log is not None:
            self.question_log.close()
        if self.server is not None:
            self.server.close()
