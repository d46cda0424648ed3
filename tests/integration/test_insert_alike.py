"""`insert_alike` writes rows that read back exactly as given, on SQLite and through PostgreSQL's COPY."""

from __future__ import annotations

from datetime import UTC, datetime

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


def test_rows_alike_read_back_exactly(database_url: str) -> None:
    engine = make_engine(database_url, pool_size=1)
    scratch.create_all(engine)
    at = datetime(2027, 11, 11, 0, 0, 1, 250000, tzinfo=UTC)
    row = {"id": 0, "who": 0, "note": TRICKY, "data": {"lines": [{"title": TRICKY, "qty": 2}]},
           "noted_at": at, "flag": True, "absent": None}
    try:
        with engine.begin() as conn:
            insert_alike(conn, notes, bound(conn, notes, row), ("id", "who"),
                         [(n, 1000 + n) for n in range(1, 4)])
        with engine.connect() as conn:
            stored = conn.execute(select(notes).order_by(notes.c.id)).all()
    finally:
        scratch.drop_all(engine)
        engine.dispose()
    assert [(r.id, r.who) for r in stored] == [(1, 1001), (2, 1002), (3, 1003)]
    for r in stored:
        assert (r.note, r.data, r.noted_at, r.flag, r.absent) == (TRICKY, row["data"], at, True, None)
