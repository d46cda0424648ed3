"""The server's figures, counted where things happen: requests, latency, checkout batches, stock
refusals, Redis and database errors (prometheus-client). Written out at GET /metrics (shopfest/scrape.py).
Under `serve --workers N` each worker writes its figures to files in PROMETHEUS_MULTIPROC_DIR, which
`serve` sets before the workers start (prometheus-client's multiprocess mode), and a scrape adds them up."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy import Engine, event
from sqlalchemy.engine import ExceptionContext

from shopfest.core.errors import DomainError

# prometheus-client picks its way of counting (in memory, or in files for several processes) when it is
# first imported, from this variable: /metrics reads the same way.
MULTIPROCESS_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
# A label takes few values, whatever a client sends: an unknown method is counted as "other".
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# The stock gate's refusals, by the code of the problem the shopper gets.
STOCK_REFUSALS = {"sold-out": "sold-out", "limit-exceeded": "flash-limit", "too-many-unpaid": "unpaid-cap"}
STATEMENTS = frozenset({"select", "insert", "update", "delete", "with", "begin", "commit", "rollback",
                        "savepoint", "release", "lock", "set", "create", "alter", "drop", "truncate"})

REQUESTS = Counter("shopfest_http_requests", "HTTP requests answered, by route template, method and status",
                   ["route", "method", "status"])
SECONDS = (.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10)
LATENCY = Histogram("shopfest_http_request_duration_seconds", "Time to answer an HTTP request, by route "
                    "template", ["route"], buckets=SECONDS)
IN_FLIGHT = Gauge("shopfest_http_requests_in_flight", "HTTP requests being answered now",
                  multiprocess_mode="livesum")
BATCH_SIZE = Histogram("shopfest_checkout_batch_size", "Orders in one checkout batch (one group commit)",
                       buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000))
BATCH_SECONDS = Histogram("shopfest_checkout_batch_seconds", "Time to decide, store and commit one "
                          "checkout batch", buckets=(.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5))
COMMIT_SECONDS = Histogram("shopfest_checkout_commit_seconds", "Time for a checkout batch's durable commit",
                           buckets=(.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1))
BATCH_FAILURES = Counter("shopfest_checkout_batch_failures", "Checkout batches that failed whole (every "
                         "order in them told so), by error kind", ["kind"])
STOCK_REFUSED = Counter("shopfest_stock_refusals", "Orders the stock gate refused, by reason "
                        "(sold-out, flash-limit, unpaid-cap)", ["reason"])
REDIS_ERRORS = Counter("shopfest_redis_errors", "Redis calls that failed, by operation and error kind",
                       ["operation", "kind"])
DATABASE_ERRORS = Counter("shopfest_database_errors", "Database statements that failed, by statement "
                          "kind and error kind", ["operation", "kind"])
UNHANDLED = Counter("shopfest_unhandled_errors", "Requests answered 500 by an unexpected error, by kind "
                    "(redis, database, other)", ["kind"])

_request_children: dict[tuple[str, str, int], Any] = {}
_latency_children: dict[str, Any] = {}


def request_done(route: str, method: str, status: int, seconds: float) -> None:
    """Count an answered request; the labels' children are kept, since looking them up costs more than
    counting."""
    method = method if method in METHODS else "other"
    key = (route, method, status)
    counter = _request_children.get(key)
    if counter is None:
        counter = _request_children[key] = REQUESTS.labels(route, method, str(status))
    counter.inc()
    latency = _latency_children.get(route)
    if latency is None:
        latency = _latency_children[route] = LATENCY.labels(route)
    latency.observe(seconds)


def checkout_batch(size: int, seconds: float, outcomes: Sequence[object] | BaseException) -> None:
    """A checkout batch of `size` orders took `seconds`: its orders' stock refusals counted by reason,
    or, when it failed whole, the kind of failure."""
    BATCH_SIZE.observe(size)
    BATCH_SECONDS.observe(seconds)
    if isinstance(outcomes, BaseException):
        BATCH_FAILURES.labels(error_kind(outcomes)).inc()
        return
    refused: dict[str, int] = {}
    for outcome in outcomes:
        if isinstance(outcome, DomainError) and outcome.code in STOCK_REFUSALS:
            refused[outcome.code] = refused.get(outcome.code, 0) + 1
    for code, count in refused.items():
        STOCK_REFUSED.labels(STOCK_REFUSALS[code]).inc(count)


def stock_refused(code: str) -> None:
    """An order refused from this process's memory (the SKU sold out a moment ago), without a batch."""
    STOCK_REFUSED.labels(STOCK_REFUSALS.get(code, code)).inc()


@contextmanager
def commit_timed() -> Iterator[None]:
    """Time a checkout batch's commit."""
    started = time.perf_counter()
    yield
    COMMIT_SECONDS.observe(time.perf_counter() - started)


def redis_error(operation: str, error: BaseException) -> None:
    REDIS_ERRORS.labels(operation, type(error).__name__).inc()


def unhandled(error: BaseException) -> None:
    UNHANDLED.labels(error_kind(error)).inc()


def error_kind(error: BaseException) -> str:
    """redis, database or other, by where the error's class comes from."""
    module = type(error).__module__.partition(".")[0]
    return {"redis": "redis", "sqlalchemy": "database", "psycopg": "database",
            "sqlite3": "database"}.get(module, "other")


def watch_engine(engine: Engine) -> None:
    """Count every error the database answers on `engine`, by statement kind and the driver's error."""
    if not event.contains(engine, "handle_error", _database_error):  # a runtime made again on it (tests)
        event.listen(engine, "handle_error", _database_error)


def _database_error(context: ExceptionContext) -> None:
    words = (context.statement or "commit").lstrip().split(None, 1)
    verb = words[0].lower() if words else "other"
    DATABASE_ERRORS.labels(verb if verb in STATEMENTS else "other",
                           type(context.original_exception).__name__).inc()
