"""Writes run on the driver's cursor behave as SQLAlchemy's would: inside the connection's
transaction, refused with SQLAlchemy's errors, and only within a transaction."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import CheckConstraint, Column, Engine, Integer, MetaData, String, Table, select
from sqlalchemy.exc import IntegrityError

from shopfest.core.db import FEW_ROWS, insert_alike, make_engine, run_on_driver, writes_sent, writes_together

scratch = MetaData()
counters = Table(
    "scratch_driver_counters", scratch,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("n", Integer, nullable=False),
    Column("note", String(40), nullable=False),
    CheckConstraint("n >= 0", name="scratch_driver_n_not_negative"),
)
ADD = "UPDATE scratch_driver_counters SET n = n + :n WHERE id = :id"


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url, pool_size=1)
    scratch.create_all(engine)
    with engine.begin() as conn:
        conn.execute(counters.insert(), [{"id": 1, "n": 5, "note": ""}, {"id": 2, "n": 5, "note": ""}])
    yield engine
    scratch.drop_all(engine)
    engine.dispose()


def counted(engine: Engine) -> list[tuple[int, int, str]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(counters).order_by(counters.c.id))]


def test_a_write_on_the_driver_commits_and_rolls_back_with_the_transaction(engine: Engine) -> None:
    with engine.begin() as conn:
        run_on_driver(conn, ADD, {"id": 1, "n": 2})
        run_on_driver(conn, "UPDATE scratch_driver_counters SET note = :note WHERE id = :id",
                      [{"id": 1, "note": "50% off at 12:30"}, {"id": 2, "note": "::"}])
    with engine.connect() as conn:
        conn.begin()
        run_on_driver(conn, ADD, {"id": 2, "n": 100})
        conn.rollback()
    assert counted(engine) == [(1, 7, "50% off at 12:30"), (2, 5, "::")]


@pytest.mark.parametrize("rows", [{"id": 1, "n": -6}, [{"id": 2, "n": 1}, {"id": 1, "n": -6}]],
                         ids=["one row", "many rows"])
def test_a_refused_write_raises_sqlalchemys_error_and_changes_nothing(
        engine: Engine, rows: dict[str, int] | list[dict[str, int]]) -> None:
    refused = pytest.raises(IntegrityError, match="scratch_driver_n_not_negative|CHECK constraint failed")
    with refused, engine.begin() as conn:
        run_on_driver(conn, ADD, rows)
    assert counted(engine) == [(1, 5, ""), (2, 5, "")]


def test_a_write_outside_a_transaction_is_refused(engine: Engine) -> None:
    with engine.connect() as conn, pytest.raises(RuntimeError, match="inside a transaction"):
        run_on_driver(conn, ADD, {"id": 1, "n": 1})
    assert counted(engine) == [(1, 5, ""), (2, 5, "")]


def test_writes_sent_together_are_answered_before_a_read_and_their_refusal_where_they_are_sent(
        engine: Engine) -> None:
    # held back together (PostgreSQL), the writes are sent before a read through SQLAlchemy sees them
    with engine.begin() as conn, writes_together(conn):
        run_on_driver(conn, ADD, {"id": 1, "n": 2})
        assert conn.scalar(select(counters.c.n).where(counters.c.id == 1)) == 7
        run_on_driver(conn, ADD, [{"id": 1, "n": 1}, {"id": 2, "n": 1}])
    # a refused one among them is raised as SQLAlchemy's once sent, and the transaction changes nothing
    refused = pytest.raises(IntegrityError, match="scratch_driver_n_not_negative|CHECK constraint failed")
    with refused, engine.begin() as conn, writes_together(conn):
        run_on_driver(conn, ADD, {"id": 2, "n": 1})
        run_on_driver(conn, ADD, {"id": 1, "n": -100})
        writes_sent(conn)
    # and the pooled connection serves the next transaction as before, a COPY among its writes too
    many = range(10, 11 + FEW_ROWS)
    with engine.begin() as conn, writes_together(conn):
        run_on_driver(conn, ADD, {"id": 2, "n": 1})
        insert_alike(conn, counters, {"id": 0, "n": 0, "note": "copied"}, {"id": many})
        run_on_driver(conn, ADD, {"id": many[-1], "n": 3})
    assert counted(engine)[:2] == [(1, 8, ""), (2, 7, "")]
    assert counted(engine)[2:] == [(i, 3 if i == many[-1] else 0, "copied") for i in many]
