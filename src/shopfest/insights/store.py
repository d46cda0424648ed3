"""The insights tables: which events were counted (once each), and the big screen's figures kept as
running sums that each batch of sales adds to with a few bulk upserts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BigInteger, Column, Connection, Index, String, Table, delete, func, select, text
from sqlalchemy.dialects import postgresql, sqlite

from shopfest.core.db import Id, metadata
from shopfest.insights.model import Sale, screen_delta

# Every event each consumer counted, by its outbox id: a repeat is skipped, whatever redelivers it.
# Each consumer (the screen's figures, the merchants') counts at its own pace, so each keeps its own.
insights_counted = Table(
    "insights_counted",
    metadata,
    Column("consumer", String(20), primary_key=True),
    Column("event_id", Id, primary_key=True, autoincrement=False),
)

# Running totals by name (gmv, orders, refunded, luxury_gmv, ..., version).
insights_totals = Table(
    "insights_totals",
    metadata,
    Column("name", String(40), primary_key=True),
    Column("value", BigInteger, nullable=False),
)

# Paid orders and their GMV per unix second of payment.
insights_seconds = Table(
    "insights_seconds",
    metadata,
    Column("second", BigInteger, primary_key=True, autoincrement=False),
    Column("orders", BigInteger, nullable=False),
    Column("gmv_minor", BigInteger, nullable=False),
)

# GMV and paid orders per brand, category and shopper country.
insights_breakdowns = Table(
    "insights_breakdowns",
    metadata,
    Column("dimension", String(16), primary_key=True),
    Column("key", String(40), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("gmv_minor", BigInteger, nullable=False),
    Column("orders", BigInteger, nullable=False),
    Index("ix_insights_breakdowns_top", "dimension", "gmv_minor"),
)

# The shoppers with a counted paid order, for the count of paying shoppers.
insights_shoppers = Table(
    "insights_shoppers",
    metadata,
    Column("shopper_id", Id, primary_key=True, autoincrement=False),
)

def _insert(conn: Connection, table: Table) -> Any:  # noqa: ANN401  # a dialect's INSERT ... ON CONFLICT
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


@dataclass(frozen=True, slots=True)
class Upsert:
    """`INSERT ... ON CONFLICT (keys) DO UPDATE SET x = x + excluded.x` for the `added` columns (and
    `x = excluded.x` for the `kept` ones). Rows must have distinct keys (a fold's do). PostgreSQL gets
    every row in one statement, a column an array (`unnest`): row by row, psycopg's executemany wrote
    ~40,000 rows/s here, too slow for a thousand sales in a few milliseconds. SQLite's executemany
    runs in-process and is fast as it is."""

    table: Table
    keys: tuple[str, ...]
    added: tuple[str, ...]
    kept: tuple[str, ...] = ()

    @property
    def columns(self) -> tuple[str, ...]:
        return (*self.keys, *self.kept, *self.added)

    def sql(self, dialect: str) -> str:
        name, columns = self.table.name, self.columns
        sets = [f"{c} = {name}.{c} + excluded.{c}" for c in self.added]
        sets += [f"{c} = excluded.{c}" for c in self.kept]
        if dialect == "postgresql":
            arrays = ", ".join(f"CAST(:{c} AS {_array_type(self.table.c[c])})" for c in columns)
            values = f"SELECT * FROM unnest({arrays})"
        else:  # the driver's own placeholders: `run` hands sqlite3 plain tuples
            values = f"VALUES ({', '.join('?' for _ in columns)})"
        return (f"INSERT INTO {name} ({', '.join(columns)}) {values} "
                f"ON CONFLICT ({', '.join(self.keys)}) DO UPDATE SET {', '.join(sets)}")

    def run(self, conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
        if not rows:
            return
        if conn.dialect.name == "postgresql":
            conn.execute(text(self.sql("postgresql")), {c: [row[c] for row in rows] for c in self.columns})
        else:
            # Straight to sqlite3's executemany: SQLAlchemy's processing of each row's parameters cost
            # more than the upserts (the values are plain ints and strings already).
            conn.exec_driver_sql(self.sql("sqlite"), [tuple(row[c] for c in self.columns) for row in rows])


def _array_type(column: Column[Any]) -> str:
    if isinstance(column.type, String):
        return "text[]"
    return "bigint[]" if isinstance(column.type, BigInteger) else "integer[]"


def newly_counted(conn: Connection, event_ids: Sequence[int], *, consumer: str) -> set[int]:
    """Record `event_ids` as counted by `consumer` and say which were not before, in one statement."""
    if not event_ids:
        return set()
    statement = (_insert(conn, insights_counted)
                 .on_conflict_do_nothing(index_elements=["consumer", "event_id"])
                 .returning(insights_counted.c.event_id))
    # Many rows through one cached statement; RETURNING names only the rows inserted, so two absorbs
    # racing on one event count it once.
    return set(conn.scalars(statement, [{"consumer": consumer, "event_id": i} for i in event_ids]))


def hold_counting(conn: Connection) -> None:
    """Make every absorb wait until this transaction ends (a rebuild): on SQLite a writer is alone."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("LOCK TABLE insights_counted IN EXCLUSIVE MODE")


def count_as_counted(conn: Connection, event_ids: Sequence[int], *, consumers: Sequence[str]) -> None:
    if event_ids:
        marked = (_insert(conn, insights_counted)
                  .on_conflict_do_nothing(index_elements=["consumer", "event_id"]))
        conn.execute(marked, [{"consumer": c, "event_id": i} for c in consumers for i in event_ids])


TOTALS_UPSERT = Upsert(insights_totals, ("name",), ("value",))
SECONDS_UPSERT = Upsert(insights_seconds, ("second",), ("orders", "gmv_minor"))
BREAKDOWNS_UPSERT = Upsert(insights_breakdowns, ("dimension", "key"), ("gmv_minor", "orders"), ("name",))


class ScreenProjection:
    """The big screen's figures (insights.model.ScreenDelta kept in the tables above)."""

    def project(self, conn: Connection, sales: Sequence[Sale]) -> None:
        if not sales:
            return
        # The screen's figures have a version of their own: the screens reload when it moves, and
        # only these figures move it (the merchants' consumer counts the same sales at its own pace).
        bump_version(conn, len(sales))
        delta = screen_delta(sales)
        TOTALS_UPSERT.run(conn, [{"name": name, "value": value}
                                 for name, value in sorted(delta.totals.items())])
        SECONDS_UPSERT.run(conn, [{"second": s, "orders": o, "gmv_minor": g}
                                  for s, (o, g) in sorted(delta.seconds.items())])
        BREAKDOWNS_UPSERT.run(conn, [
            {"dimension": d, "key": k, "name": name[:200], "gmv_minor": g, "orders": o}
            for (d, k), (name, g, o) in sorted(delta.breakdowns.items())])
        if delta.shoppers:
            new = _insert(conn, insights_shoppers).on_conflict_do_nothing(index_elements=["shopper_id"])
            conn.execute(new, [{"shopper_id": s} for s in sorted(delta.shoppers)])

    def clear(self, conn: Connection) -> None:
        for table in (insights_seconds, insights_breakdowns, insights_shoppers):
            conn.execute(delete(table))
        conn.execute(delete(insights_totals).where(insights_totals.c.name != "version"))  # it only grows


def totals(conn: Connection) -> dict[str, int]:
    return {r.name: int(r.value) for r in conn.execute(select(insights_totals))}


def bump_version(conn: Connection, by: int) -> None:
    TOTALS_UPSERT.run(conn, [{"name": "version", "value": by}])


def version(conn: Connection) -> int:
    found = conn.scalar(select(insights_totals.c.value).where(insights_totals.c.name == "version"))
    return int(found or 0)


def busiest_second(conn: Connection) -> tuple[int, int] | None:
    seconds = insights_seconds.c
    row = conn.execute(select(seconds.second, seconds.orders)
                       .order_by(seconds.orders.desc(), seconds.second).limit(1)).first()
    return (int(row.second), int(row.orders)) if row else None


def seconds_from(conn: Connection, first: int, last: int) -> list[tuple[int, int, int]]:
    rows = conn.execute(select(insights_seconds).where(insights_seconds.c.second.between(first, last))
                        .order_by(insights_seconds.c.second))
    return [(int(r.second), int(r.orders), int(r.gmv_minor)) for r in rows]


def top(conn: Connection, dimension: str, *, limit: int) -> list[tuple[str, str, int, int]]:
    kept = insights_breakdowns.c
    rows = conn.execute(select(insights_breakdowns).where(kept.dimension == dimension)
                        .order_by(kept.gmv_minor.desc(), kept.key).limit(limit))
    return [(r.key, r.name, int(r.gmv_minor), int(r.orders)) for r in rows]


def shoppers(conn: Connection) -> int:
    return int(conn.scalar(select(func.count()).select_from(insights_shoppers)) or 0)
