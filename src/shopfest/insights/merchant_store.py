"""The merchant insights' tables, the projection that keeps them from the sales, and their reads.

Every write is one bulk upsert per table (`x = x + excluded.x`, on SQLite and PostgreSQL): a batch
of a thousand sales costs a handful of statements, never one per sale.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BigInteger, Column, Connection, Integer, String, Table, func, select

from shopfest.core.db import Id, metadata
from shopfest.insights.merchant import MerchantFold, Tally, Window, fold
from shopfest.insights.model import Sale
from shopfest.insights.store import Upsert

Minor = BigInteger().with_variant(Integer(), "sqlite")


def _tally_columns() -> list[Column[Any]]:
    return [Column("orders", Integer, nullable=False, server_default="0"),
            Column("units", Integer, nullable=False, server_default="0"),
            Column("gmv_minor", Minor, nullable=False, server_default="0"),
            Column("refunds_minor", Minor, nullable=False, server_default="0"),
            Column("discount_minor", Minor, nullable=False, server_default="0")]


# A merchant's sales by UTC hour (hours since the epoch), shopper country and category (0: none).
merchant_sales = Table(
    "merchant_sales", metadata,
    Column("merchant_id", Id, primary_key=True, autoincrement=False),
    Column("hour", Integer, primary_key=True, autoincrement=False),
    Column("country", String(2), primary_key=True),
    Column("category_id", Id, primary_key=True, autoincrement=False),
    Column("category", String(200), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("merchant_orders", Integer, nullable=False, server_default="0"),
    *_tally_columns(),
)

# The sales of the lines that carried each promotion (its key), and the discount it gave on them.
merchant_promotion_sales = Table(
    "merchant_promotion_sales", metadata,
    Column("merchant_id", Id, primary_key=True, autoincrement=False),
    Column("hour", Integer, primary_key=True, autoincrement=False),
    Column("promotion", String(120), primary_key=True),
    *_tally_columns(),
)

# The sales placed from each source (`live:12`: a live event's room).
merchant_source_sales = Table(
    "merchant_source_sales", metadata,
    Column("merchant_id", Id, primary_key=True, autoincrement=False),
    Column("hour", Integer, primary_key=True, autoincrement=False),
    Column("source", String(80), primary_key=True),
    *_tally_columns(),
)

# Each product's orders by UTC day (days since the epoch): the last step of views -> carts -> orders.
merchant_product_sales = Table(
    "merchant_product_sales", metadata,
    Column("merchant_id", Id, primary_key=True, autoincrement=False),
    Column("day", Integer, primary_key=True, autoincrement=False),
    Column("product_id", Id, primary_key=True, autoincrement=False),
    *_tally_columns(),
)

# Product page views and add-to-cart actions by UTC day, counted in memory and flushed in bulk
# (insights/visits.py). Not a projection of the sales: a rebuild keeps them.
merchant_visits = Table(
    "merchant_visits", metadata,
    Column("merchant_id", Id, primary_key=True, autoincrement=False),
    Column("day", Integer, primary_key=True, autoincrement=False),
    Column("product_id", Id, primary_key=True, autoincrement=False),
    Column("views", Integer, nullable=False, server_default="0"),
    Column("carts", Integer, nullable=False, server_default="0"),
)

PROJECTED = (merchant_sales, merchant_promotion_sales, merchant_source_sales, merchant_product_sales)
TALLY = ("orders", "units", "gmv_minor", "refunds_minor", "discount_minor")


SALES_UPSERT = Upsert(merchant_sales, ("merchant_id", "hour", "country", "category_id"),
                      ("merchant_orders", *TALLY), ("category", "currency"))
PROMOTIONS_UPSERT = Upsert(merchant_promotion_sales, ("merchant_id", "hour", "promotion"), TALLY)
SOURCES_UPSERT = Upsert(merchant_source_sales, ("merchant_id", "hour", "source"), TALLY)
PRODUCTS_UPSERT = Upsert(merchant_product_sales, ("merchant_id", "day", "product_id"), TALLY)
VISITS_UPSERT = Upsert(merchant_visits, ("merchant_id", "day", "product_id"), ("views", "carts"))


def _tally_row(tally: Tally) -> dict[str, int]:
    return {"orders": tally.orders, "units": tally.units, "gmv_minor": tally.gmv,
            "refunds_minor": tally.refunds, "discount_minor": tally.discount}


class MerchantProjection:
    """Each merchant's sales, by hour, country, category, promotion, source and product (a
    `Projection`: the consumer calls it in its transaction, with sales it has not counted before)."""

    def project(self, conn: Connection, sales: Sequence[Sale]) -> None:
        write_fold(conn, fold(sales))

    def clear(self, conn: Connection) -> None:
        for table in PROJECTED:
            conn.execute(table.delete())


def write_fold(conn: Connection, folded: MerchantFold) -> None:
    """One upsert per table of what a batch of sales adds."""
    statements = (
        (SALES_UPSERT, [{"merchant_id": m, "hour": h, "country": c, "category_id": k, "category": b.category,
                         "currency": b.currency, "merchant_orders": b.merchant_orders, **_tally_row(b.tally)}
                        for (m, h, c, k), b in folded.sales.items()]),
        (PROMOTIONS_UPSERT, [{"merchant_id": m, "hour": h, "promotion": p, **_tally_row(t)}
                             for (m, h, p), t in folded.promotions.items()]),
        (SOURCES_UPSERT, [{"merchant_id": m, "hour": h, "source": s, **_tally_row(t)}
                          for (m, h, s), t in folded.sources.items()]),
        (PRODUCTS_UPSERT, [{"merchant_id": m, "day": d, "product_id": p, **_tally_row(t)}
                           for (m, d, p), t in folded.products.items()]),
    )
    for upsert, rows in statements:
        upsert.run(conn, rows)


@dataclass(frozen=True, slots=True)
class Visits:
    """Views and add-to-cart actions of one product on one UTC day (days since the epoch)."""

    merchant_id: int
    product_id: int
    day: int
    views: int = 0
    carts: int = 0


def add_visits(conn: Connection, visits: Sequence[Visits]) -> None:
    VISITS_UPSERT.run(conn, [{"merchant_id": v.merchant_id, "day": v.day, "product_id": v.product_id,
                              "views": v.views, "carts": v.carts} for v in visits])


# --- reads ------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class SalesRow:
    hour: int
    country: str
    category_id: int
    category: str
    merchant_orders: int
    tally: Tally


def _tally_of(row: Any) -> Tally:  # noqa: ANN401  # a result row
    return Tally(int(row.orders), int(row.units), int(row.gmv_minor), int(row.refunds_minor),
                 int(row.discount_minor))


def _sums(table: Table) -> list[Any]:
    return [func.sum(table.c[c]).label(c) for c in TALLY]


class MerchantInsightsStore:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def sales(self, merchant_id: int, window: Window) -> list[SalesRow]:
        t = merchant_sales
        rows = self.conn.execute(select(t).where(t.c.merchant_id == merchant_id,
                                                 t.c.hour >= window.baseline_from,
                                                 t.c.hour < window.festival_until))
        return [SalesRow(r.hour, r.country, r.category_id, r.category, r.merchant_orders, _tally_of(r))
                for r in rows]

    def currency(self, merchant_id: int) -> str | None:
        t = merchant_sales
        return self.conn.scalar(select(t.c.currency).where(t.c.merchant_id == merchant_id).limit(1))

    def promotions(self, merchant_id: int, window: Window) -> list[tuple[str, int, Tally]]:
        """Each promotion's sales over the festival, and on how many UTC days it sold."""
        t = merchant_promotion_sales
        rows = self.conn.execute(
            select(t.c.promotion, func.count(func.distinct(t.c.hour // 24)).label("days"), *_sums(t))
            .where(t.c.merchant_id == merchant_id, t.c.hour >= window.festival_from,
                   t.c.hour < window.festival_until)
            .group_by(t.c.promotion).order_by(func.sum(t.c.gmv_minor).desc(), t.c.promotion))
        return [(r.promotion, int(r.days), _tally_of(r)) for r in rows]

    def sources(self, merchant_id: int, window: Window, *, prefix: str) -> list[tuple[str, Tally]]:
        t = merchant_source_sales
        rows = self.conn.execute(
            select(t.c.source, *_sums(t))
            .where(t.c.merchant_id == merchant_id, t.c.hour >= window.festival_from,
                   t.c.hour < window.festival_until, t.c.source.startswith(prefix, autoescape=True))
            .group_by(t.c.source).order_by(func.sum(t.c.gmv_minor).desc(), t.c.source))
        return [(r.source, _tally_of(r)) for r in rows]

    def funnel(self, merchant_id: int, *, first_day: int, last_day: int) -> list[tuple[int, int, int, int]]:
        """(product, views, carts, orders) of each product seen or sold between the two UTC days."""
        v, s = merchant_visits, merchant_product_sales
        seen = self.conn.execute(
            select(v.c.product_id, func.sum(v.c.views), func.sum(v.c.carts))
            .where(v.c.merchant_id == merchant_id, v.c.day >= first_day, v.c.day <= last_day)
            .group_by(v.c.product_id)).all()
        sold = dict(self.conn.execute(
            select(s.c.product_id, func.sum(s.c.orders))
            .where(s.c.merchant_id == merchant_id, s.c.day >= first_day, s.c.day <= last_day)
            .group_by(s.c.product_id)).all())
        found = {int(p): (int(views), int(carts), int(sold.get(p) or 0)) for p, views, carts in seen}
        for product_id, orders in sold.items():
            found.setdefault(int(product_id), (0, 0, int(orders or 0)))
        return [(p, views, carts, orders) for p, (views, carts, orders) in found.items()]
