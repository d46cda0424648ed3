"""How the server's log lines read: one JSON object a line (SHOPFEST_LOG_FORMAT=json, what `serve` writes
unless told otherwise) or plain text, each with the id of the request it was written for."""

from __future__ import annotations

import functools
import logging
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

import orjson

LOG_FORMATS = ("json", "text")
# The id of the request being answered, for every line written while it is (request_watch.py sets it).
REQUEST_ID: ContextVar[str | None] = ContextVar("request_id", default=None)
# What a request's line carries besides the message (request_watch.py passes them as `extra`).
REQUEST_FIELDS = ("method", "route", "status", "duration_ms", "client")


def request_id_of(record: logging.LogRecord) -> str | None:
    found = getattr(record, "request_id", None)
    return found if isinstance(found, str) else REQUEST_ID.get()


@functools.lru_cache(maxsize=4)
def _second_text(second: int) -> str:
    return datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")


def _utc_text(created: float) -> str:
    """2026-11-11T00:00:00.123Z; the second's text made once a second, not once a line."""
    second = int(created)
    return f"{_second_text(second)}.{int((created - second) * 1000):03d}Z"


class JsonFormatter(logging.Formatter):
    """A record as one JSON object: time (UTC), level, logger, message, request_id, the request's
    fields, and the traceback of an error."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": _utc_text(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if (request_id := request_id_of(record)) is not None:
            line["request_id"] = request_id
        for name in REQUEST_FIELDS:
            if (value := getattr(record, name, None)) is not None:
                line[name] = value
        if record.exc_info:
            line["traceback"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


class TextFormatter(logging.Formatter):
    """A record as a line of text, with the request's id in brackets."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        record.request_id = request_id_of(record) or "-"
        return super().format(record)


def uvicorn_log_config(log_format: str) -> dict[str, Any]:
    """The logging set-up each `serve` worker applies (uvicorn's `log_config`): ShopFest's, uvicorn's and
    every library's lines in one format on stderr; ShopFest's request lines at INFO."""
    formatter = "shopfest.logs.JsonFormatter" if log_format == "json" else "shopfest.logs.TextFormatter"
    handler = ["stderr"]
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"shopfest": {"()": formatter}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "shopfest",
                                "stream": "ext://sys.stderr"}},
        "loggers": {
            "shopfest": {"handlers": handler, "level": "INFO", "propagate": False},
            "uvicorn": {"handlers": handler, "level": "INFO", "propagate": False},
        },
        "root": {"handlers": handler, "level": "WARNING"},
    }
