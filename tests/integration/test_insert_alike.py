"""`insert_alike` writes rows that read back exactly as given, on SQLite and through PostgreSQL's COPY."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import JSON, Boolean, Column, Integer, MetaData, String, Table, select

from shopfest.core.db import UtcDateTime, bound, insert_alike, make_engine

scratch = MetaData()
notes = Table(
    "scratch_alike_notes", scratch,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("who", Integer, nullable=False),
    Column("note", String(200), nullable=False),
    Column("data", JSON, nullable=False),
    Column("noted_at", UtcDateTime, nullable=False),
    Column("flag", Boolean, nullable=False),
    Column("absent", String(10), nullable=True),
)

TRICKY = "tab\there, new\nline, back\\slash \\N, carriage\rreturn, 中文 é"


def _stored(database_url: str, varying: dict[str, list[int] | range]) -> list[Any]:
    engine = make_engine(database_url, pool_size=1)
    scratch.create_all(engine)
    try:
        with engine.begin() as conn:
            insert_alike(conn, notes, bound(conn, notes, ROW), varying)
        with engine.connect() as conn:
            return list(conn.execute(select(notes).order_by(notes.c.id)).all())
    finally:
        scratch.drop_all(engine)
        engine.dispose()


AT = datetime(2027, 11, 11, 0, 0, 1, 250000, tzinfo=UTC)
ROW = {"id": 0, "who": 0, "note": TRICKY, "data": {"lines": [{"title": TRICKY, "qty": 2}]},
       "noted_at": AT, "flag": True, "absent": None}


def test_rows_alike_read_back_exactly(database_url: str) -> None:
    stored = _stored(database_url, {"id": [1, 2, 3], "who": [1001, 1002, 1003]})

    assert [(r.id, r.who) for r in stored] == [(1, 1001), (2, 1002), (3, 1003)]
    for r in stored:
        assert (r.note, r.data, r.noted_at, r.flag, r.absent) == (TRICKY, ROW["data"], AT, True, None)


def test_ids_handed_out_in_a_row_are_worked_out_from_the_position(database_url: str) -> None:
    assert [(r.id, r.who) for r in _stored(database_url, {"id": range(7, 16, 4), "who": [5, 3, 9]})] == [
        (7, 5), (11, 3), (15, 9)]
    assert [(r.id, r.who) for r in _stored(database_url, {"id": range(20, 23), "who": range(2, 5)})] == [
        (20, 2), (21, 3), (22, 4)]


def test_varying_columns_are_set_by_name_whatever_their_order(database_url: str) -> None:
    assert [(r.id, r.who) for r in _stored(database_url, {"who": [8, 9], "id": range(3, 5)})] == [
        (3, 8), (4, 9)]


@pytest.mark.parametrize(("varying", "problem"), [
    ({"id": [1, 2], "who": [1]}, "one value per row"),
    ({"id": [1], "nobody": [1]}, "some of the template's"),
    ({}, "some of the template's"),
])
def test_varying_columns_that_do_not_fit_are_refused(varying: dict[str, list[int]], problem: str) -> None:
    engine = make_engine("sqlite://", pool_size=1)
    with engine.begin() as conn, pytest.raises(ValueError, match=problem):
        insert_alike(conn, notes, ROW, varying)
