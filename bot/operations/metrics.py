"""The bot's Prometheus metrics (`/metrics` on the health port, README "Health and metrics").

Each running bot has its own registry (not prometheus-client's global one), so that tests and
tools can make as many as they like. Label values are known in advance and created at zero,
so a rate over them exists before the first event.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from bot.operations.question_log import OUTCOMES, QuestionLog

CHAT_TYPES = ("private", "group", "supergroup")
# How a Bot API call (a message sent, a button answered...) failed; `bot.telegram.api_requests` sorts them.
SEND_ERROR_KINDS = ("blocked", "bad_request", "chat_migrated", "rate_limited", "server_error", "timeout", "network",
                    "other")
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)  # seconds
VOTES = ("up", "down")


class BotMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.questions = Counter("corpus_bot_questions", "Questions received in chats (inline queries apart)",
                                 ["chat_type"], registry=r)
        self.inline_queries = Counter("corpus_bot_inline_queries", "Inline queries answered", registry=r)
        self.answers = Counter("corpus_bot_answers", "Answers sent, by outcome", ["outcome"], registry=r)
        self.latency = Histogram("corpus_bot_answer_latency_seconds",
                                 "From taking a question to the answer's last message sent", buckets=LATENCY_BUCKETS,
                                 registry=r)
        self.send_errors = Counter("corpus_bot_send_errors", "Bot API calls that failed (sends, button answers...), "
                                   "by kind of error",
                                   ["kind"], registry=r)
        self.feedback = Counter("corpus_bot_feedback", "👍/👎 presses recorded under answers", ["vote"], registry=r)
        self.index_passages = Gauge("corpus_bot_index_passages", "Passages in the index the bot answers from",
                                    registry=r)
        self.index_articles = Gauge("corpus_bot_index_articles", "Articles in the index the bot answers from",
                                    registry=r)
        self.index_age = Gauge("corpus_bot_index_age_seconds", "Seconds since the index was loaded (start or reload)",
                               registry=r)
        self.log_pending = Gauge("corpus_bot_question_log_pending",
                                 "Question log entries waiting to be written", registry=r)
        self.log_ok = Gauge("corpus_bot_question_log_ok",
                            "1 while the question log is written, 0 while it cannot be (see the bot's log)", registry=r)
        self.log_dropped = Gauge("corpus_bot_question_log_dropped",
                                 "Questions not logged because the database could not be written for too long",
                                 registry=r)
        for chat_type in CHAT_TYPES:
            self.questions.labels(chat_type)
        for outcome in OUTCOMES:
            self.answers.labels(outcome)
        for kind in SEND_ERROR_KINDS:
            self.send_errors.labels(kind)
        for vote in VOTES:
            self.feedback.labels(vote)
        self._loaded_at: float | None = None
        self.index_age.set_function(self._index_age)

    def index_loaded(self, articles: int, passages: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.index_articles.set(articles)
        self.index_passages.set(passages)
        self._loaded_at = clock()

    def _index_age(self) -> float:
        return float("nan") if self._loaded_at is None else time.monotonic() - self._loaded_at

    def watch(self, question_log: QuestionLog) -> None:
        """Report the question log's state at each scrape."""
        self.log_pending.set_function(lambda: question_log.pending)
        self.log_ok.set_function(lambda: 0.0 if question_log.problem else 1.0)
        self.log_dropped.set_function(lambda: question_log.dropped)

    def exposition(self) -> bytes:
        """The metrics in Prometheus's text format."""
        return generate_latest(self.registry)
