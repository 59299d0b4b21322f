"""The bot's own log lines: text for people (the default), or one JSON object a line for a log
collector (`BOT_LOG_FORMAT=json`), with the same fields: time, level, logger, message, and the
traceback (`exception`) when there is one.

Secrets are redacted before formatting, by a filter on the handler (`bot.telegram.service.
SecretFilter`), which also stores the redacted traceback in the record's `exc_text`; the JSON
lines use that text rather than formatting the traceback again from the exception.
"""

from __future__ import annotations

import logging
import sys
from typing import Literal

from pythonjsonlogger.json import JsonFormatter

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
LogFormat = Literal["text", "json"]


class JsonLines(JsonFormatter):
    def __init__(self) -> None:
        super().__init__(
            "{asctime}{levelname}{name}{message}", style="{", json_ensure_ascii=False,
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger", "exc_info": "exception",
                           "stack_info": "stack"},
        )

    def format(self, record: logging.LogRecord) -> str:
        if record.exc_info and record.exc_text:  # a traceback already formatted (and redacted): use it
            record = logging.makeLogRecord({**record.__dict__, "exc_info": None})
        return super().format(record)


def formatter(log_format: LogFormat) -> logging.Formatter:
    return JsonLines() if log_format == "json" else logging.Formatter(TEXT_FORMAT)


def configure_logging(level: str, log_format: LogFormat) -> None:
    """The root logger writes to stderr at `level`, as text or JSON lines."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(log_format))
    logging.basicConfig(level=level, handlers=[handler])
