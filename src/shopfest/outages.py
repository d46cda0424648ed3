"""When a store fails under the server: the database or Redis out of reach, or the database's disk
full. The request is answered with a problem (503 `/problems/unavailable` or 507
`/problems/storage-full`, both with Retry-After), never a 500; the CLI prints a message."""

from __future__ import annotations

import sqlite3
from typing import Any

import psycopg
import redis.exceptions
import sqlalchemy.exc
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from shopfest.core.errors import DomainError, StorageFull, Unavailable
from shopfest.problems import refusal

RETRY_AFTER_SECONDS = 1  # a restarted database or Redis is back within seconds; a pool reconnects at once
FULL_RETRY_AFTER_SECONDS = 30  # space is freed by hand

# SQLite's primary result codes that say the file could not be written or read for now, not that
# the statement is wrong (https://sqlite.org/rescode.html): BUSY, LOCKED, IOERR, CANTOPEN.
_SQLITE_OUT_OF_REACH = {5, 6, 10, 14}
_SQLITE_FULL = 13
_PG_DISK_FULL = "53100"

# What a store that fails raises: SQLAlchemy's wrappers, and the drivers' own errors where a fast
# path writes on the driver's cursor (core.db.insert_alike's COPY), and redis-py's.
OUTAGE_ERRORS: tuple[type[Exception], ...] = (
    sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError, sqlalchemy.exc.DisconnectionError,
    sqlalchemy.exc.TimeoutError, psycopg.OperationalError, psycopg.InterfaceError, sqlite3.OperationalError,
    redis.exceptions.ConnectionError, redis.exceptions.TimeoutError,
)


def outage_of(error: BaseException) -> DomainError | None:
    """What the caller is told when `error` says a store is out of reach or out of space; None when
    it says something else (a bug, a broken constraint), which stays an error."""
    cause: Any = getattr(error, "orig", None) or error  # SQLAlchemy wraps the driver's error
    if _disk_full(cause):
        return StorageFull("the database's disk is full: nothing was written; try again once space is "
                           "freed", retry_after=FULL_RETRY_AFTER_SECONDS)
    if isinstance(cause, sqlite3.Error):
        if getattr(cause, "sqlite_errorcode", 0) & 0xFF not in _SQLITE_OUT_OF_REACH:
            return None
    elif not isinstance(error, OUTAGE_ERRORS) and not isinstance(cause, OUTAGE_ERRORS):
        return None
    store = "Redis" if isinstance(cause, redis.exceptions.RedisError) else "the database"
    return Unavailable(f"{store} is out of reach: nothing was done; try again shortly",
                       retry_after=RETRY_AFTER_SECONDS)


def _disk_full(cause: Any) -> bool:
    if isinstance(cause, sqlite3.Error):
        return getattr(cause, "sqlite_errorcode", 0) & 0xFF == _SQLITE_FULL
    return isinstance(cause, psycopg.Error) and cause.sqlstate == _PG_DISK_FULL


def install(app: FastAPI) -> None:
    """Answer the outages a route meets as problems (the checkout lane answers its own, orders/lane.py)."""
    for kind in OUTAGE_ERRORS:
        app.add_exception_handler(kind, _outage)


async def _outage(_request: Request, error: Exception) -> JSONResponse:
    refused = outage_of(error)
    if refused is None:  # not an outage: a 500, as any error nobody expected
        raise error
    return refusal(refused)
