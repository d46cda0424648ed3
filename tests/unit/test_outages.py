"""Which store errors are outages (503 `unavailable`, 507 `storage-full`) and which stay errors."""

from __future__ import annotations

import sqlite3

import psycopg.errors
import pytest
import redis.exceptions
import sqlalchemy.exc

from shopfest.core.errors import StorageFull, Unavailable
from shopfest.outages import outage_of


def sqlite_error(*statements: str) -> sqlite3.Error:
    """The error SQLite itself raises for the last of `statements`, on a database in memory."""
    db = sqlite3.connect(":memory:")
    with pytest.raises(sqlite3.Error) as raised:
        for statement in statements:
            db.execute(statement)
    return raised.value


def test_a_full_database_is_storage_full_whoever_raises_it() -> None:
    full = sqlite_error("PRAGMA max_page_count = 2", "CREATE TABLE a (x)", "CREATE TABLE b (x)",
                        "INSERT INTO a VALUES (zeroblob(100000))")
    assert isinstance(outage_of(full), StorageFull)
    wrapped = sqlalchemy.exc.DBAPIError.instance("INSERT ...", {}, full, sqlite3.Error)  # as SQLAlchemy does
    assert isinstance(wrapped, sqlalchemy.exc.OperationalError)
    assert isinstance(outage_of(wrapped), StorageFull)
    found = outage_of(psycopg.errors.DiskFull("could not extend file"))
    assert isinstance(found, StorageFull) and found.data["retry_after"] > 0


def test_a_store_out_of_reach_is_unavailable() -> None:
    for error in (redis.exceptions.ConnectionError("Connection refused"), redis.exceptions.TimeoutError(),
                  psycopg.OperationalError("server closed the connection unexpectedly"),
                  sqlalchemy.exc.TimeoutError("QueuePool limit reached")):
        found = outage_of(error)
        assert isinstance(found, Unavailable) and found.data["retry_after"] > 0, error
    assert "Redis" in outage_of(redis.exceptions.ConnectionError()).detail  # type: ignore[union-attr]


def test_a_wrong_statement_or_a_broken_rule_stays_an_error() -> None:
    assert outage_of(sqlite_error("SELECT * FROM no_such_table")) is None
    assert outage_of(psycopg.errors.UniqueViolation("duplicate key")) is None
    assert outage_of(ValueError("not a store's")) is None
