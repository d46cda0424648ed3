"""The insights tables: which events were counted (once each), and the big screen's figures kept as
running sums that each batch of sales adds to with a few bulk upserts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import BigInteger, Column, Connection, Index, String, Table, delete, func, select
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


def add_up(conn: Connection, table: Table, rows: Sequence[dict[str, Any]], *, keys: Sequence[str],
           sums: Sequence[str], latest: Sequence[str] = ()) -> None:
    """Add each row's `sums` to the row of its `keys` (made at the row's values when new), and set
    its `latest` columns, in one statement."""
    if not rows:
        return
    statement = _insert(conn, table)
    changes = {c: table.c[c] + statement.excluded[c] for c in sums}
    changes.update({c: statement.excluded[c] for c in latest})
    conn.execute(statement.on_conflict_do_update(index_elements=list(keys), set_=changes), list(rows))


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


class ScreenProjection:
    """The big screen's figures (insights.model.ScreenDelta kept in the tables above)."""

    def project(self, conn: Connection, sales: Sequence[Sale]) -> None:
        if not sales:
            return
        # The screen's figures have a version of their own: the screens reload when it moves, and
        # only these figures move it (the merchants' consumer counts the same sales at its own pace).
        bump_version(conn, len(sales))
        delta = screen_delta(sales)
        totals = [{"name": name, "value": value} for name, value in sorted(delta.totals.items())]
        add_up(conn, insights_totals, totals, keys=["name"], sums=["value"])
        add_up(conn, insights_seconds, [{"second": s, "orders": o, "gmv_minor": g}
                                        for s, (o, g) in sorted(delta.seconds.items())],
               keys=["second"], sums=["orders", "gmv_minor"])
        add_up(conn, insights_breakdowns,
               [{"dimension": d, "key": k, "name": name[:200], "gmv_minor": g, "orders": o}
                for (d, k), (name, g, o) in sorted(delta.breakdowns.items())],
               keys=["dimension", "key"], sums=["gmv_minor", "orders"], latest=["name"])
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
    add_up(conn, insights_totals, [{"name": "version", "value": by}], keys=["name"], sums=["value"])


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
