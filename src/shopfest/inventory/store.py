"""Stock tables and their repository: levels per SKU, flash sales, and what each shopper holds of them
and holds unpaid of each SKU."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Connection,
    ForeignKey,
    Index,
    String,
    Table,
    insert,
    select,
)

from shopfest.core.db import Id, UtcDateTime, bulk_insert, id_in, metadata, run_on_driver, writes_sent
from shopfest.core.money import Money
from shopfest.inventory.model import FlashSale, Ledger, StockLevel

stock_levels = Table(
    "stock_levels",
    metadata,
    Column("sku_id", Id, ForeignKey("skus.id"), primary_key=True, autoincrement=False),
    Column("on_hand", BigInteger, nullable=False),
    Column("reserved", BigInteger, nullable=False, default=0),
    Column("sold", BigInteger, nullable=False, default=0),
    # The last guard of the rule the model keeps: the database refuses an oversold row.
    CheckConstraint("reserved >= 0 AND sold >= 0 AND reserved + sold <= on_hand", name="never_oversold"),
)

flash_sales = Table(
    "flash_sales",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("sku_id", Id, ForeignKey("skus.id"), nullable=False),
    Column("price_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("quantity", BigInteger, nullable=False),
    Column("taken", BigInteger, nullable=False, default=0),
    Column("per_shopper_limit", BigInteger, nullable=False),
    Column("starts_at", UtcDateTime, nullable=False),
    Column("ends_at", UtcDateTime, nullable=False),
    Column("requires_verified", Boolean, nullable=False, default=False),
    Column("min_account_age_hours", BigInteger, nullable=False, default=0),
    CheckConstraint("taken >= 0 AND taken <= quantity", name="flash_never_oversold"),
    Index("ix_flash_sales_sku", "sku_id", "starts_at"),
)

flash_buyers = Table(
    "flash_buyers",
    metadata,
    Column("flash_sale_id", Id, ForeignKey("flash_sales.id"), primary_key=True, autoincrement=False),
    Column("shopper_id", Id, primary_key=True, autoincrement=False),
    Column("qty", BigInteger, nullable=False),
    # The sale's limit, copied when the row is first written: the row refuses units past it,
    # whatever the counters in front of it said (migration 0006).
    Column("per_shopper_limit", BigInteger, nullable=False),
    CheckConstraint("qty >= 0", name="flash_buyer_qty"),
    CheckConstraint("qty <= per_shopper_limit", name="flash_buyer_within_limit"),
)

# Units each shopper holds in unpaid orders (awaiting payment, or a pre-sale not paid in full) per
# SKU: written with the stock rows on reserve, release and sale, and so kept within the cap that
# refuses hoarding, whatever the counters in front of the rows said.
unpaid_units = Table(
    "unpaid_units",
    metadata,
    Column("shopper_id", Id, primary_key=True, autoincrement=False),
    Column("sku_id", Id, primary_key=True, autoincrement=False),
    Column("qty", BigInteger, nullable=False),
    # The cap (SHOPFEST_MAX_UNPAID_UNITS) when units were last added.
    Column("most", BigInteger, nullable=False),
    CheckConstraint("qty >= 0", name="unpaid_units_qty"),
    CheckConstraint("qty <= most", name="unpaid_within_cap"),
)

UnpaidQty = Iterable[tuple[int, int, int]]  # (shopper, SKU, units)


def _sku_totals(rows: Iterable[tuple[int, int]]) -> list[dict[str, int]]:
    totals: dict[int, int] = {}
    for sku_id, qty in rows:
        totals[sku_id] = totals.get(sku_id, 0) + qty
    # In SKU order: concurrent batches (writer lanes, server processes) lock the rows in one order,
    # so they queue instead of deadlocking.
    return [{"sku_id": k, "n": v} for k, v in sorted(totals.items())]


def _held_totals(rows: UnpaidQty) -> list[dict[str, int]]:
    totals: dict[tuple[int, int], int] = {}
    for shopper_id, sku_id, qty in rows:
        totals[(shopper_id, sku_id)] = totals.get((shopper_id, sku_id), 0) + qty
    # In key order, as the SKUs above: concurrent batches lock the rows in one order.
    return [{"s": s, "k": k, "n": n} for (s, k), n in sorted(totals.items())]


class InventoryStore:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    @property
    def locks_rows(self) -> bool:
        # SQLite already holds the whole database's write lock (BEGIN IMMEDIATE).
        return self.conn.dialect.name == "postgresql"

    def receive(self, on_hand: Mapping[int, int]) -> None:
        rows = [{"sku_id": k, "on_hand": v, "reserved": 0, "sold": 0} for k, v in on_hand.items()]
        bulk_insert(self.conn, stock_levels, rows)

    def levels(self, sku_ids: Sequence[int], *, lock: bool = False) -> dict[int, StockLevel]:
        if not sku_ids:
            return {}
        query = select(stock_levels).where(id_in(stock_levels.c.sku_id, sku_ids))
        if lock and self.locks_rows:
            query = query.order_by(stock_levels.c.sku_id).with_for_update()
        return {r.sku_id: StockLevel(r.sku_id, r.on_hand, r.reserved, r.sold)
                for r in self.conn.execute(query)}

    def ledger(self, sku_ids: Sequence[int], flash_ids: Sequence[int], shopper_ids: Sequence[int], *,
               holders: Sequence[int] = (), max_unpaid: int | None = None, lock: bool = True) -> Ledger:
        """The counters a batch decides on, locked until its transaction ends (unless only read): the
        SKUs', the flash sales' and what `shopper_ids` hold of them, and what `holders` hold unpaid of
        the SKUs (their rows change only under the SKUs' locks)."""
        levels = self.levels(sku_ids, lock=lock)
        ledger = Ledger({k: v.available for k, v in levels.items()}, max_unpaid=max_unpaid)
        if flash_ids:
            query = select(flash_sales.c.id, flash_sales.c.quantity, flash_sales.c.taken,
                           flash_sales.c.per_shopper_limit).where(id_in(flash_sales.c.id, flash_ids))
            if lock and self.locks_rows:
                query = query.order_by(flash_sales.c.id).with_for_update()
            for r in self.conn.execute(query):
                ledger.flash_left[r.id] = r.quantity - r.taken
                ledger.flash_limit[r.id] = r.per_shopper_limit
            held = self.conn.execute(
                select(flash_buyers).where(id_in(flash_buyers.c.flash_sale_id, flash_ids),
                                           id_in(flash_buyers.c.shopper_id, shopper_ids)))
            ledger.bought = {(r.flash_sale_id, r.shopper_id): r.qty for r in held}
        if holders and sku_ids:
            ledger.unpaid = self.unpaid_of(sku_ids, holders)
        return ledger

    def unpaid_of(self, sku_ids: Sequence[int],
                  shopper_ids: Sequence[int] | None = None) -> dict[tuple[int, int], int]:
        """Units held unpaid per (shopper, SKU) of these SKUs, by these shoppers (None: by anyone)."""
        query = select(unpaid_units.c.shopper_id, unpaid_units.c.sku_id, unpaid_units.c.qty).where(
            id_in(unpaid_units.c.sku_id, sku_ids))
        if shopper_ids is not None:
            query = query.where(id_in(unpaid_units.c.shopper_id, shopper_ids))
        return {(r.shopper_id, r.sku_id): r.qty for r in self.conn.execute(query)}

    def all_unpaid(self) -> dict[tuple[int, int], int]:
        """Units held unpaid per (shopper, SKU), of every SKU."""
        rows = self.conn.execute(select(unpaid_units.c.shopper_id, unpaid_units.c.sku_id, unpaid_units.c.qty))
        return {(r.shopper_id, r.sku_id): r.qty for r in rows}

    def buyers_of(self, flash_sale_id: int) -> dict[int, int]:
        """Units each shopper holds of a flash sale."""
        rows = self.conn.execute(select(flash_buyers.c.shopper_id, flash_buyers.c.qty)
                                 .where(flash_buyers.c.flash_sale_id == flash_sale_id))
        return {r.shopper_id: r.qty for r in rows}

    def reserve(self, *, sku_qty: Iterable[tuple[int, int]], flash_qty: Iterable[tuple[int, int, int]],
                unpaid_qty: UnpaidQty = (), max_unpaid: int = 0) -> None:
        """Add reserved units per SKU, taken units per flash sale and its shoppers, and units each
        shopper holds unpaid (refused by the rows past `max_unpaid`)."""
        self._change("UPDATE stock_levels SET reserved = reserved + :n WHERE sku_id = :sku_id",
                     _sku_totals(sku_qty))
        self._change_flash(flash_qty, sign=1)
        self._change(
            "INSERT INTO unpaid_units (shopper_id, sku_id, qty, most) VALUES (:s, :k, :n, :m) "
            "ON CONFLICT (shopper_id, sku_id) DO UPDATE SET qty = unpaid_units.qty + excluded.qty, "
            "most = excluded.most",
            [{**row, "m": max_unpaid} for row in _held_totals(unpaid_qty)])
        writes_sent(self.conn)  # the rows' refusal (their CHECKs) is raised here, not at the commit

    def release(self, *, sku_qty: Iterable[tuple[int, int]],
                flash_qty: Iterable[tuple[int, int, int]], unpaid_qty: UnpaidQty = ()) -> None:
        self._change("UPDATE stock_levels SET reserved = reserved - :n WHERE sku_id = :sku_id",
                     _sku_totals(sku_qty))
        self._change_flash(flash_qty, sign=-1)
        self._unhold(unpaid_qty)

    def sell(self, sku_qty: Iterable[tuple[int, int]], unpaid_qty: UnpaidQty = ()) -> None:
        self._change("UPDATE stock_levels SET reserved = reserved - :n, sold = sold + :n "
                     "WHERE sku_id = :sku_id", _sku_totals(sku_qty))
        self._unhold(unpaid_qty)

    def _unhold(self, unpaid_qty: UnpaidQty) -> None:
        # An UPDATE, never a row of negative units (a CHECK would refuse it before any conflict);
        # then the rows left at none go, so the table holds only what shoppers hold.
        totals = _held_totals(unpaid_qty)
        self._change("UPDATE unpaid_units SET qty = qty - :n WHERE shopper_id = :s AND sku_id = :k", totals)
        self._change("DELETE FROM unpaid_units WHERE shopper_id = :s AND sku_id = :k AND qty = 0",
                     [{"s": row["s"], "k": row["k"]} for row in totals])

    def take_back(self, sku_qty: Iterable[tuple[int, int]], *, back_on_shelf: bool) -> None:
        shelf = "" if back_on_shelf else ", on_hand = on_hand - :n"
        self._change(f"UPDATE stock_levels SET sold = sold - :n{shelf} WHERE sku_id = :sku_id",
                     _sku_totals(sku_qty))

    def _change_flash(self, flash_qty: Iterable[tuple[int, int, int]], *, sign: int) -> None:
        per_sale: dict[int, int] = {}
        per_buyer: dict[tuple[int, int], int] = {}
        for flash_id, shopper_id, qty in flash_qty:
            per_sale[flash_id] = per_sale.get(flash_id, 0) + qty
            per_buyer[(flash_id, shopper_id)] = per_buyer.get((flash_id, shopper_id), 0) + qty
        if not per_sale:
            return
        self._change("UPDATE flash_sales SET taken = taken + :n WHERE id = :id",
                     [{"id": k, "n": sign * v} for k, v in sorted(per_sale.items())])
        buyers = [{"f": f, "s": s, "n": v} for (f, s), v in sorted(per_buyer.items())]
        if sign < 0:
            # Units given back come off the buyer's row, which taking them wrote. Never as an upsert
            # of a negative row: SQLite checks the row proposed for insertion (qty >= 0) before it
            # looks for the conflict, and refused every release of a flash unit.
            self._change("UPDATE flash_buyers SET qty = qty - :n "
                         "WHERE flash_sale_id = :f AND shopper_id = :s", buyers)
            return
        self._change(
            "INSERT INTO flash_buyers (flash_sale_id, shopper_id, qty, per_shopper_limit) "
            "SELECT :f, :s, :n, per_shopper_limit FROM flash_sales WHERE id = :f "
            "ON CONFLICT (flash_sale_id, shopper_id) DO UPDATE SET qty = flash_buyers.qty + excluded.qty",
            buyers)

    def _change(self, statement: str, rows: list[dict[str, Any]]) -> None:
        if rows:  # one row executed alone (psycopg sends many in a pipeline of their own)
            run_on_driver(self.conn, statement, rows[0] if len(rows) == 1 else rows)

    def all_levels(self) -> dict[int, tuple[int, int, int]]:
        """(on hand, reserved, sold) of every SKU."""
        rows = self.conn.execute(select(stock_levels.c.sku_id, stock_levels.c.on_hand,
                                        stock_levels.c.reserved, stock_levels.c.sold))
        return {r.sku_id: (r.on_hand, r.reserved, r.sold) for r in rows}

    def flash_counts(self) -> tuple[dict[int, int], dict[tuple[int, int], int]]:
        """Units taken of every flash sale, and per shopper."""
        taken = {r.id: r.taken for r in self.conn.execute(select(flash_sales.c.id, flash_sales.c.taken))}
        bought = {(r.flash_sale_id, r.shopper_id): r.qty for r in self.conn.execute(
            select(flash_buyers.c.flash_sale_id, flash_buyers.c.shopper_id, flash_buyers.c.qty))}
        return taken, bought

    def add_flash_sale(self, sale: FlashSale) -> FlashSale:
        new_id = self.conn.execute(insert(flash_sales).values(
            sku_id=sale.sku_id, price_minor=sale.price.minor, currency=sale.price.currency,
            quantity=sale.quantity, taken=0, per_shopper_limit=sale.per_shopper_limit,
            starts_at=sale.starts_at, ends_at=sale.ends_at, requires_verified=sale.requires_verified,
            min_account_age_hours=sale.min_account_age_hours,
        )).inserted_primary_key
        assert new_id is not None
        return replace(sale, id=new_id[0])

    def flash_sales_of(self, sku_ids: Sequence[int]) -> list[FlashSale]:
        if not sku_ids:
            return []
        rows = self.conn.execute(select(flash_sales).where(id_in(flash_sales.c.sku_id, sku_ids))
                                 .order_by(flash_sales.c.id))
        return [_flash_sale(r) for r in rows]


def _flash_sale(r: Any) -> FlashSale:
    return FlashSale(sku_id=r.sku_id, price=Money(r.price_minor, r.currency), quantity=r.quantity,
                     starts_at=r.starts_at, ends_at=r.ends_at, per_shopper_limit=r.per_shopper_limit,
                     taken=r.taken, id=r.id, requires_verified=r.requires_verified,
                     min_account_age_hours=r.min_account_age_hours)


def flash_sales_ahead(conn: Connection, now: datetime, *, limit: int) -> list[FlashSale]:
    """Flash sales on at `now` or coming, soonest first."""
    rows = conn.execute(select(flash_sales).where(flash_sales.c.ends_at > now)
                        .order_by(flash_sales.c.starts_at, flash_sales.c.id).limit(limit))
    return [_flash_sale(r) for r in rows]


def flash_bought_by(conn: Connection, shopper_id: int, flash_sale_ids: Sequence[int]) -> dict[int, int]:
    """Units the shopper holds of each of these flash sales, paid or not."""
    if not flash_sale_ids:
        return {}
    rows = conn.execute(select(flash_buyers.c.flash_sale_id, flash_buyers.c.qty).where(
        flash_buyers.c.shopper_id == shopper_id, id_in(flash_buyers.c.flash_sale_id, flash_sale_ids)))
    return {r.flash_sale_id: r.qty for r in rows}


# The control room asks which flash sales are on now: those ending after now, the soonest first.
Index("ix_flash_sales_ends", flash_sales.c.ends_at)


def flash_sales_running(conn: Connection, at: Any, *, limit: int) -> list[FlashSale]:
    """Flash sales on at `at`, ending soonest first."""
    rows = conn.execute(select(flash_sales).where(flash_sales.c.ends_at > at, flash_sales.c.starts_at <= at)
                        .order_by(flash_sales.c.ends_at, flash_sales.c.id).limit(limit))
    return [_flash_sale(r) for r in rows]


def most_sold(conn: Connection, *, limit: int) -> list[StockLevel]:
    """The SKUs with the most units sold. `sold` has no index on purpose: it changes with every
    sale on the hot path, and an index would cost each of those writes (and PostgreSQL's HOT
    updates); this scan is the control room's, a page load at a time."""
    rows = conn.execute(select(stock_levels).where(stock_levels.c.sold > 0)
                        .order_by(stock_levels.c.sold.desc(), stock_levels.c.sku_id).limit(limit))
    return [StockLevel(r.sku_id, r.on_hand, r.reserved, r.sold) for r in rows]


# Every intake and stock-take correction a merchant's staff made: what changed, why, by whom.
stock_adjustments = Table(
    "stock_adjustments",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("sku_id", Id, ForeignKey("skus.id"), nullable=False),
    Column("kind", String(20), nullable=False),  # "intake" or "correction"
    Column("change", BigInteger, nullable=False),  # units added to on hand (less than 0: taken off)
    Column("on_hand", BigInteger, nullable=False),  # on hand after it
    Column("reason", String(200), nullable=False),
    Column("staff_id", Id, nullable=False),
    Column("made_at", UtcDateTime, nullable=False),
    Index("ix_stock_adjustments_sku", "sku_id", "id"),
)


class AdjustmentStore:
    """Changes to a SKU's units on hand by its merchant, and their record."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def change_on_hand(self, sku_id: int, change: int) -> None:
        # The row's CHECK refuses on hand below reserved + sold, whatever the caller read before.
        self.conn.execute(stock_levels.update().where(stock_levels.c.sku_id == sku_id)
                          .values(on_hand=stock_levels.c.on_hand + change))

    def record(self, *, sku_id: int, kind: str, change: int, on_hand: int, reason: str, staff_id: int,
               at: Any) -> None:
        self.conn.execute(insert(stock_adjustments).values(
            sku_id=sku_id, kind=kind, change=change, on_hand=on_hand, reason=reason, staff_id=staff_id,
            made_at=at))


def flash_sale_by_id(conn: Connection, flash_sale_id: int) -> FlashSale | None:
    row = conn.execute(select(flash_sales).where(flash_sales.c.id == flash_sale_id)).first()
    return None if row is None else _flash_sale(row)
