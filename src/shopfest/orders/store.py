"""Order tables and their repository. Lines live inside their child order, as the merchant sees them."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Connection,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    case,
    func,
    select,
    text,
    update,
)

from shopfest.core.citus import on_citus
from shopfest.core.db import Id, UtcDateTime, bound, bulk_insert, id_in, insert_alike_together, metadata
from shopfest.core.money import ExchangeRate, Money
from shopfest.orders.model import (
    HOLDING_STOCK,
    VOUCHER_KINDS,
    Copies,
    DeliveryAddress,
    MerchantOrder,
    Order,
    OrderLine,
    OrderStatus,
    Presale,
    ReturnRequest,
    ReturnStatus,
    Shipment,
    StatusChange,
    Voucher,
)

orders = Table(
    "orders",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("shopper_id", Id, nullable=False),
    Column("status", String(24), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("total_minor", BigInteger, nullable=False),
    Column("pay_currency", String(3), nullable=False),
    Column("pay_rate", String(40), nullable=False),
    Column("pay_total_minor", BigInteger, nullable=False),
    Column("placed_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=True),  # when it lets go of its units, if unpaid
    Column("deposit_minor", BigInteger, nullable=True),  # pre-sale orders only, and the window:
    Column("balance_from", UtcDateTime, nullable=True),
    Column("balance_until", UtcDateTime, nullable=True),
    Index("ix_orders_shopper", "shopper_id", "id"),
    Index("ix_orders_expiry", "status", "expires_at"),
)

# Where an order was placed from, for the sales attributed to it (`live:12`: a live event's room); the
# orders placed in the store have no row, so the rows checkout writes at the peak stay as they were.
order_sources = Table(
    "order_sources",
    metadata,
    Column("order_id", Id, primary_key=True, autoincrement=False),
    Column("source", String(40), nullable=False),
    # The units the order holds, so that a room counts what it sold without reading order lines
    # (migration 0020).
    Column("units", Integer, nullable=False, server_default="0"),
    Index("ix_order_sources_source", "source", "order_id"),
)

RECEIVABLE_SQL = "status IN ('fulfilled', 'partially_refunded')"  # model.RECEIVABLE

merchant_orders = Table(
    "merchant_orders",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    # No foreign key: a child is only written with its parent, and checking it per row cost more than
    # writing the row at the peak (migration 0004).
    Column("order_id", Id, nullable=False, index=True),
    Column("merchant_id", Id, nullable=False),
    Column("status", String(24), nullable=False),
    Column("total_minor", BigInteger, nullable=False),
    Column("settlement_currency", String(3), nullable=False),
    Column("settlement_minor", BigInteger, nullable=False),
    Column("lines", JSON, nullable=False),
    Index("ix_merchant_orders_merchant", "merchant_id", "id"),
    # Only parts shipped and not yet completed or refunded, for the sweeper that completes them
    # (migration 0015): a part placed at the peak is awaiting payment, outside it, so checkout
    # writes nothing more into it.
    Index("ix_merchant_orders_receivable", "id", sqlite_where=text(RECEIVABLE_SQL),
          postgresql_where=text(RECEIVABLE_SQL)),
)

shipments = Table(
    "shipments",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("merchant_order_id", Id, ForeignKey("merchant_orders.id"), nullable=False, index=True),
    Column("carrier", String(80), nullable=False),
    Column("tracking", String(80), nullable=False),
    Column("shipped_at", UtcDateTime, nullable=False),
)

vouchers = Table(
    "vouchers",
    metadata,
    Column("code", String(40), primary_key=True),
    Column("merchant_order_id", Id, ForeignKey("merchant_orders.id"), nullable=False, index=True),
    Column("sku_id", Id, nullable=False),
    Column("kind", String(20), nullable=False),
    Column("status", String(12), nullable=False),
    Column("issued_at", UtcDateTime, nullable=False),
)


# When each part moved to a state, written by the services that move it after checkout (migration
# 0011); a part's placing is its order's placed_at, so checkout writes no row here.
status_changes = Table(
    "status_changes",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("merchant_order_id", Id, ForeignKey("merchant_orders.id"), nullable=False, index=True),
    Column("status", String(24), nullable=False),
    Column("at", UtcDateTime, nullable=False),
)


# A shopper's request to send shipped units back, and the merchant's answer (migration 0007).
order_returns = Table(
    "order_returns",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("order_id", Id, nullable=False, index=True),
    Column("merchant_order_id", Id, ForeignKey("merchant_orders.id"), nullable=False, index=True),
    Column("status", String(12), nullable=False),
    Column("lines", JSON, nullable=False),  # [{"line": index in the child, "qty": units}]
    Column("reason", String(500), nullable=False),
    Column("requested_at", UtcDateTime, nullable=False),
    Column("decided_at", UtcDateTime, nullable=True),
    Column("goods_back", Boolean, nullable=True),
    Column("rejection", String(500), nullable=True),
    Column("refunded_minor", BigInteger, nullable=True),  # in the shopper's currency:
    Column("refunded_currency", String(3), nullable=True),
)


@lru_cache(maxsize=4096)
def _lines_json(lines: tuple[OrderLine, ...]) -> list[dict[str, Any]]:
    # At the peak thousands of orders hold the very same lines: write them out once.
    return [_line_json(line) for line in lines]


def _line_json(line: OrderLine) -> dict[str, Any]:
    # A field at its default is left out (`_line` reads it back as the default): every order row
    # at the peak carries its lines, and the database reads every byte of them.
    data: dict[str, Any] = {
        "sku_id": line.sku_id, "product_id": line.product_id, "title": line.title,
        "fulfilment": line.fulfilment, "qty": line.qty, "unit_minor": line.unit_price.minor,
        "total_minor": line.total.minor}
    if line.flash_sale_id is not None:
        data["flash_sale_id"] = line.flash_sale_id
    if line.refunded_qty:
        data["refunded_qty"] = line.refunded_qty
    if line.refunded is not None:
        data["refunded_minor"] = line.refunded.minor
    if line.adjustments:
        data["adjustments"] = [{"source": source, "minor": minor} for source, minor in line.adjustments]
    return data


def _line(data: dict[str, Any], currency: str) -> OrderLine:
    refunded = data.get("refunded_minor")
    return OrderLine(
        sku_id=data["sku_id"], product_id=data["product_id"], title=data["title"],
        fulfilment=data["fulfilment"], qty=data["qty"], unit_price=Money(data["unit_minor"], currency),
        total=Money(data["total_minor"], currency), flash_sale_id=data.get("flash_sale_id"),
        refunded_qty=data.get("refunded_qty", 0),
        refunded=None if refunded is None else Money(refunded, currency),
        adjustments=tuple((a["source"], a["minor"]) for a in data.get("adjustments", ())))


def _order_row(order: Order) -> dict[str, Any]:
    return {"id": order.id, "shopper_id": order.shopper_id, "status": order.status.value,
            "currency": order.total.currency, "total_minor": order.total.minor,
            "pay_currency": order.pay_rate.quote, "pay_rate": str(order.pay_rate.rate),
            "pay_total_minor": order.to_pay.minor, "placed_at": order.placed_at,
            "expires_at": order.expires_at,
            "deposit_minor": order.presale.deposit.minor if order.presale else None,
            "balance_from": order.presale.balance_from if order.presale else None,
            "balance_until": order.presale.balance_until if order.presale else None}


def _child_row(order_id: int, child: MerchantOrder) -> dict[str, Any]:
    return {"id": child.id, "order_id": order_id, "merchant_id": child.merchant_id,
            "status": child.status.value, "total_minor": child.total.minor,
            "settlement_currency": child.settlement.currency, "settlement_minor": child.settlement.minor,
            "lines": _lines_json(child.lines)}


# On PostgreSQL a value drawn from the order or child order sequence starts a block of this many ids
# for whoever drew it: the sequences step by it (migration 0005).
ID_BLOCK = 100


# Ids a process drew and left unused are given out for this long, then drawn afresh: orders listed
# newest first (by id) are then out of order across processes by at most this.
SPARE_SECONDS = 1.0


def _ids_of_blocks(starts: Sequence[int]) -> list[int]:
    """Every id of the blocks starting at `starts`."""
    return [start + k for start in starts for k in range(ID_BLOCK)]


class SpareIds:
    """Order and child order ids of blocks this process drew from PostgreSQL's sequences and has not
    used yet: the next batches take them before drawing again. At a few orders a batch (over HTTP)
    drawing was a tenth of what a batch cost."""

    def __init__(self) -> None:
        self.orders: list[int] = []
        self.children: list[int] = []
        self.drawn_at = 0.0

    def take(self, n_orders: int, n_children: int) -> tuple[list[int], list[int]]:
        orders, children = self.orders[:n_orders], self.children[:n_children]
        del self.orders[:n_orders], self.children[:n_children]
        return orders, children

    def forget(self) -> None:
        """After a batch that failed: its ids may clash (a database restored under the server)."""
        self.orders.clear()
        self.children.clear()


class OrderStore:
    def __init__(self, conn: Connection, *, spare: SpareIds | None = None) -> None:
        self.conn = conn
        self.spare = spare or SpareIds()

    def add_alike(self, order: Order, shopper_ids: Sequence[int]) -> Copies:
        """Store one copy of `order` per shopper (at the peak thousands of orders are the same cart)."""
        width = len(order.children)
        order_ids, child_ids = self._new_ids(len(shopper_ids), len(shopper_ids) * width)
        insert_alike_together(self.conn, [
            (orders, bound(self.conn, orders, _order_row(order)),
             {"id": order_ids, "shopper_id": shopper_ids}),
            *((merchant_orders, bound(self.conn, merchant_orders, _child_row(0, child)),
               {"id": child_ids[k::width], "order_id": order_ids})
              for k, child in enumerate(order.children)),  # the k-th child of every copy
        ])
        return Copies(order_ids, child_ids, width)

    def _new_ids(self, n_orders: int, n_children: int) -> tuple[Sequence[int], Sequence[int]]:
        if self.conn.dialect.name == "postgresql":
            spare = self.spare
            if time.monotonic() - spare.drawn_at > SPARE_SECONDS:
                spare.forget()
            self._draw(-(-max(0, n_orders - len(spare.orders)) // ID_BLOCK),
                       -(-max(0, n_children - len(spare.children)) // ID_BLOCK))
            return spare.take(n_orders, n_children)
        # SQLite: the batch holds the database's write lock, so max + 1 onwards is ours.
        last_order = self.conn.scalar(select(func.max(orders.c.id))) or 0
        last_child = self.conn.scalar(select(func.max(merchant_orders.c.id))) or 0
        return (range(last_order + 1, last_order + 1 + n_orders),
                range(last_child + 1, last_child + 1 + n_children))

    def _draw(self, order_blocks: int, child_blocks: int) -> None:
        """Blocks of ids from both sequences in one round trip, one value per block (migration 0005)."""
        if not order_blocks and not child_blocks:
            return
        row = self.conn.execute(text(
            "SELECT (SELECT array_agg(nextval('orders_id_seq')) FROM generate_series(1, :a)), "
            "(SELECT array_agg(nextval('merchant_orders_id_seq')) FROM generate_series(1, :b)), "
            "(SELECT array_agg(seqincrement) FROM pg_sequence WHERE seqrelid IN "
            "('orders_id_seq'::regclass, 'merchant_orders_id_seq'::regclass))"),
            {"a": order_blocks, "b": child_blocks}).one()
        if set(row[2]) != {ID_BLOCK}:  # blocks would overlap: the batch fails before writing
            raise RuntimeError(f"the order id sequences step by {sorted(set(row[2]))}, not "
                               f"{ID_BLOCK}: run `shopfest db upgrade`")
        self.spare.orders += _ids_of_blocks(row[0] or [])
        self.spare.children += _ids_of_blocks(row[1] or [])
        self.spare.drawn_at = time.monotonic()

    def get(self, order_id: int, *, lock: bool = False, shopper_id: int | None = None) -> Order | None:
        """The order; `shopper_id`, when given, must own it (and on Citus names its shard)."""
        if lock and shopper_id is None and on_citus(self.conn):
            # Citus locks rows only on one shard: find it first (an order's shopper never changes).
            shopper_id = self.conn.scalar(select(orders.c.shopper_id).where(orders.c.id == order_id))
            if shopper_id is None:
                return None
        found = self.by_ids([order_id], lock=lock, shopper_id=shopper_id)
        return found[0] if found else None

    def by_ids(self, order_ids: Sequence[int], *, lock: bool = False,
               shopper_id: int | None = None) -> list[Order]:
        if not order_ids:
            return []
        query = (select(orders, order_sources.c.source)
                 .outerjoin(order_sources, order_sources.c.order_id == orders.c.id)
                 .where(id_in(orders.c.id, order_ids)).order_by(orders.c.id))
        if shopper_id is not None:
            query = query.where(orders.c.shopper_id == shopper_id)
        if lock and self.conn.dialect.name == "postgresql":
            query = query.with_for_update(of=orders)  # not the source's row: it may be none
        rows = self.conn.execute(query).all()
        child_rows = self.conn.execute(select(merchant_orders).where(
            id_in(merchant_orders.c.order_id, [r.id for r in rows])).order_by(merchant_orders.c.id))
        children: dict[int, list[MerchantOrder]] = {}
        currency = {r.id: r.currency for r in rows}
        for c in child_rows:
            children.setdefault(c.order_id, []).append(_child(c, currency[c.order_id]))
        return [_order(r, tuple(children.get(r.id, []))) for r in rows]

    def of_shopper(self, shopper_id: int, *, after_id: int | None, limit: int) -> list[Order]:
        query = select(orders.c.id).where(orders.c.shopper_id == shopper_id)
        if after_id is not None:
            query = query.where(orders.c.id < after_id)
        ids = list(self.conn.scalars(query.order_by(orders.c.id.desc()).limit(limit)))
        return sorted(self.by_ids(ids, shopper_id=shopper_id), key=lambda o: -(o.id or 0))

    def of_merchant(self, merchant_id: int, *, after_id: int | None, limit: int) -> list[Order]:
        """Orders holding a child of this merchant, newest first."""
        query = select(merchant_orders.c.order_id).where(merchant_orders.c.merchant_id == merchant_id)
        if after_id is not None:
            query = query.where(merchant_orders.c.order_id < after_id)
        ids = list(self.conn.scalars(query.order_by(merchant_orders.c.order_id.desc()).limit(limit)))
        return sorted(self.by_ids(ids), key=lambda o: -(o.id or 0))

    def lapsed(self, now: datetime, *, limit: int) -> list[int]:
        """Orders holding units whose time is up: unpaid ones, pre-sales whose balance is overdue."""
        rows = self.conn.scalars(select(orders.c.id).where(
            orders.c.status.in_([s.value for s in HOLDING_STOCK]),
            orders.c.expires_at <= now).order_by(orders.c.expires_at).limit(limit))
        return list(rows)

    def balances_opening(self, now: datetime, *, limit: int) -> list[int]:
        """Pre-sales whose deposit is paid and whose balance window has opened."""
        rows = self.conn.scalars(select(orders.c.id).where(
            orders.c.status == OrderStatus.DEPOSIT_PAID.value, orders.c.balance_from <= now).limit(limit))
        return list(rows)

    def save(self, order: Order) -> None:
        """Write back the states and lines of an order and its children."""
        self.conn.execute(update(orders).where(  # the shopper names the order's shard on Citus
            orders.c.id == order.id, orders.c.shopper_id == order.shopper_id).values(
            status=order.status.value, expires_at=order.expires_at))
        for child in order.children:
            self.conn.execute(update(merchant_orders).where(merchant_orders.c.id == child.id).values(
                status=child.status.value, lines=_lines_json(child.lines)))

    def add_shipment(self, *, merchant_order_id: int, carrier: str, tracking: str, at: datetime) -> None:
        self.conn.execute(shipments.insert().values(merchant_order_id=merchant_order_id, carrier=carrier,
                                                    tracking=tracking, shipped_at=at))

    def shipped(self, child_ids: Sequence[int]) -> set[int]:
        """Which of these child orders were shipped."""
        return set(self.conn.scalars(select(shipments.c.merchant_order_id).distinct()
                                     .where(id_in(shipments.c.merchant_order_id, child_ids))))

    def add_return(self, request: ReturnRequest) -> ReturnRequest:
        new_id = self.conn.execute(order_returns.insert().values(
            order_id=request.order_id, merchant_order_id=request.merchant_order_id,
            requested_at=request.requested_at, **_return_columns(request))).inserted_primary_key
        assert new_id is not None
        return replace(request, id=new_id[0])

    def save_return(self, request: ReturnRequest) -> None:
        self.conn.execute(update(order_returns).where(order_returns.c.id == request.id)
                          .values(**_return_columns(request)))

    def returns_of(self, child_ids: Sequence[int]) -> dict[int, list[ReturnRequest]]:
        """The returns asked of each of these child orders, oldest first."""
        found: dict[int, list[ReturnRequest]] = {}
        for r in self.conn.execute(select(order_returns).where(
                id_in(order_returns.c.merchant_order_id, child_ids)).order_by(order_returns.c.id)):
            found.setdefault(r.merchant_order_id, []).append(_return(r))
        return found

    def add_vouchers(self, rows: list[dict[str, Any]]) -> None:
        bulk_insert(self.conn, vouchers, rows)

    def page_after(self, after_id: int, *, limit: int) -> list[Order]:
        ids = list(self.conn.scalars(select(orders.c.id).where(orders.c.id > after_id)
                                     .order_by(orders.c.id).limit(limit)))
        return self.by_ids(ids)

    def voucher_counts(self) -> dict[tuple[int, int], int]:
        rows = self.conn.execute(select(vouchers.c.merchant_order_id, vouchers.c.sku_id, func.count())
                                 .group_by(vouchers.c.merchant_order_id, vouchers.c.sku_id))
        return {(r[0], r[1]): r[2] for r in rows}

    def vouchers_of(self, child_ids: Sequence[int]) -> dict[int, list[str]]:
        found: dict[int, list[str]] = {}
        for r in self.conn.execute(select(vouchers.c.merchant_order_id, vouchers.c.code)
                                   .where(id_in(vouchers.c.merchant_order_id, child_ids))):
            found.setdefault(r.merchant_order_id, []).append(r.code)
        return found


def _child(row: Any, currency: str) -> MerchantOrder:
    return MerchantOrder(merchant_id=row.merchant_id, status=OrderStatus(row.status),
                         lines=tuple(_line(d, currency) for d in row.lines),
                         settlement=Money(row.settlement_minor, row.settlement_currency), id=row.id)


def _order(row: Any, children: tuple[MerchantOrder, ...]) -> Order:
    presale = None
    if row.deposit_minor is not None:
        presale = Presale(Money(row.deposit_minor, row.currency), row.balance_from, row.balance_until)
    return Order(shopper_id=row.shopper_id, status=OrderStatus(row.status), children=children,
                 placed_at=row.placed_at, expires_at=row.expires_at,
                 pay_rate=ExchangeRate(row.currency, row.pay_currency, Decimal(row.pay_rate)), id=row.id,
                 presale=presale, source=getattr(row, "source", None))


def _return_columns(request: ReturnRequest) -> dict[str, Any]:
    refunded = request.refunded
    return {"status": request.status.value, "reason": request.reason, "decided_at": request.decided_at,
            "lines": [{"line": j, "qty": qty} for j, qty in request.lines],
            "goods_back": request.goods_back, "rejection": request.rejection,
            "refunded_minor": None if refunded is None else refunded.minor,
            "refunded_currency": None if refunded is None else refunded.currency}


def _return(row: Any) -> ReturnRequest:
    refunded = None
    if row.refunded_minor is not None:
        refunded = Money(row.refunded_minor, row.refunded_currency)
    return ReturnRequest(order_id=row.order_id, merchant_order_id=row.merchant_order_id,
                         lines=tuple((d["line"], d["qty"]) for d in row.lines), reason=row.reason,
                         requested_at=row.requested_at, status=ReturnStatus(row.status), id=row.id,
                         decided_at=row.decided_at, goods_back=row.goods_back, rejection=row.rejection,
                         refunded=refunded)


def shipments_of(conn: Connection, child_ids: Sequence[int]) -> dict[int, list[Shipment]]:
    """The shipments of each of these child orders, oldest first."""
    found: dict[int, list[Shipment]] = {}
    for r in conn.execute(select(shipments).where(id_in(shipments.c.merchant_order_id, child_ids))
                          .order_by(shipments.c.id)):
        found.setdefault(r.merchant_order_id, []).append(
            Shipment(r.merchant_order_id, r.carrier, r.tracking, r.shipped_at))
    return found


def shopper_order_ids(conn: Connection, shopper_id: int, *, before: int | None, after: int | None,
                      limit: int) -> list[int]:
    """Up to `limit` of a shopper's order ids, newest first: those older than `before`, or the
    oldest of those newer than `after` (the page before, going back towards the newest)."""
    query = select(orders.c.id).where(orders.c.shopper_id == shopper_id)
    if after is not None:
        ids = conn.scalars(query.where(orders.c.id > after).order_by(orders.c.id).limit(limit))
        return sorted(ids, reverse=True)
    if before is not None:
        query = query.where(orders.c.id < before)
    return list(conn.scalars(query.order_by(orders.c.id.desc()).limit(limit)))


def shopper_vouchers(conn: Connection, shopper_id: int, *, limit: int) -> list[Voucher]:
    """The vouchers of a shopper's orders, newest first, each named by the title of its line."""
    rows = conn.execute(
        select(vouchers, merchant_orders.c.order_id, merchant_orders.c.merchant_id, merchant_orders.c.lines)
        .join(merchant_orders, merchant_orders.c.id == vouchers.c.merchant_order_id)
        .join(orders, orders.c.id == merchant_orders.c.order_id)
        .where(orders.c.shopper_id == shopper_id)
        .order_by(vouchers.c.issued_at.desc(), vouchers.c.merchant_order_id.desc(), vouchers.c.code)
        .limit(limit))
    return [_voucher(r) for r in rows]


def _voucher(row: Any) -> Voucher:  # noqa: ANN401  # a row of vouchers with its part's order, merchant and lines
    title = next((line["title"] for line in row.lines if line["sku_id"] == row.sku_id), "")
    return Voucher(row.code, row.kind, row.status, row.issued_at, row.order_id, row.merchant_id, row.sku_id,
                   title)


# What counts as sold in the festival's figures: parts paid for, shipped or done, partly refunded.
PAID_PARTS = (OrderStatus.PAID, OrderStatus.FULFILLED, OrderStatus.COMPLETED, OrderStatus.PARTIALLY_REFUNDED)


def paid_parts(conn: Connection, spans: Sequence[tuple[Any, Any]]) -> list[tuple[str, list[tuple[int, int]]]]:
    """Per currency, the count and sum of the paid parts: in all first, then placed within each span
    (start, end) in turn; one pass over the parts, whatever the number of spans."""
    paid = merchant_orders.c.status.in_([s.value for s in PAID_PARTS])
    columns: list[Any] = [func.count(), func.coalesce(func.sum(merchant_orders.c.total_minor), 0)]
    for start, end in spans:
        inside = (orders.c.placed_at >= start) & (orders.c.placed_at < end)
        columns += [func.coalesce(func.sum(case((inside, 1), else_=0)), 0),
                    func.coalesce(func.sum(case((inside, merchant_orders.c.total_minor), else_=0)), 0)]
    rows = conn.execute(select(orders.c.currency, *columns)
                        .join(orders, orders.c.id == merchant_orders.c.order_id)
                        .where(paid).group_by(orders.c.currency).order_by(orders.c.currency))
    return [(row[0], [(int(row[i]), int(row[i + 1])) for i in range(1, len(row), 2)]) for row in rows]


# --- a merchant's parts, as the seller centre lists them (orders/service.py merchant_parts) -------

def _part(row: Any) -> tuple[MerchantOrder, int, datetime]:
    return _child(row, row.currency), row.order_id, row.placed_at


def parts_of_merchant(conn: Connection, merchant_id: int, *, status: str | None, before_id: int | None,
                      limit: int) -> list[tuple[MerchantOrder, int, datetime]]:
    """A merchant's child orders, newest first, with their order's id and time placed."""
    query = (select(merchant_orders, orders.c.currency, orders.c.placed_at)
             .join(orders, orders.c.id == merchant_orders.c.order_id)
             .where(merchant_orders.c.merchant_id == merchant_id))
    if status is not None:
        query = query.where(merchant_orders.c.status == status)
    if before_id is not None:
        query = query.where(merchant_orders.c.id < before_id)
    return [_part(r) for r in conn.execute(query.order_by(merchant_orders.c.id.desc()).limit(limit))]


def part_of_merchant(conn: Connection, merchant_id: int,
                     part_id: int) -> tuple[MerchantOrder, int, datetime] | None:
    row = conn.execute(select(merchant_orders, orders.c.currency, orders.c.placed_at)
                       .join(orders, orders.c.id == merchant_orders.c.order_id)
                       .where(merchant_orders.c.id == part_id,
                              merchant_orders.c.merchant_id == merchant_id)).first()
    return None if row is None else _part(row)


def open_returns_of_merchant(conn: Connection, merchant_id: int, *, limit: int) -> list[ReturnRequest]:
    """Returns asked of a merchant's parts and not decided yet, oldest first."""
    rows = conn.execute(select(order_returns)
                        .join(merchant_orders, merchant_orders.c.id == order_returns.c.merchant_order_id)
                        .where(merchant_orders.c.merchant_id == merchant_id,
                               order_returns.c.status == ReturnStatus.REQUESTED.value)
                        .order_by(order_returns.c.id).limit(limit))
    return [_return(r) for r in rows]


# --- delivery addresses: the shopper's address book, and the copy each order keeps (migration 0013) ---

delivery_addresses = Table(
    "delivery_addresses",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("shopper_id", Id, nullable=False, index=True),
    Column("name", String(80), nullable=False),
    Column("phone", String(16), nullable=False),
    Column("country", String(2), nullable=False),
    Column("city", String(80), nullable=False),
    Column("line1", String(120), nullable=False),
    Column("line2", String(120), nullable=False),
    Column("postcode", String(12), nullable=False),
)

# Only orders of shipped goods placed from the pages (or with an address id over the API) have one:
# a table of its own keeps the order rows, written by the thousand at the peak, as narrow as before.
order_deliveries = Table(
    "order_deliveries",
    metadata,
    Column("order_id", Id, primary_key=True, autoincrement=False),
    Column("address", JSON, nullable=False),  # DeliveryAddress.snapshot() at checkout
)


def _address(row: Any) -> DeliveryAddress:
    return DeliveryAddress(row.name, row.phone, row.country, row.city, row.line1, row.line2, row.postcode,
                           row.id)


class AddressBook:
    """A shopper's delivery addresses; every read and write names the shopper, so one never reaches
    another's."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def of_shopper(self, shopper_id: int) -> list[DeliveryAddress]:
        rows = self.conn.execute(select(delivery_addresses).where(
            delivery_addresses.c.shopper_id == shopper_id).order_by(delivery_addresses.c.id))
        return [_address(r) for r in rows]

    def get(self, shopper_id: int, address_id: int) -> DeliveryAddress | None:
        row = self.conn.execute(select(delivery_addresses).where(
            delivery_addresses.c.id == address_id, delivery_addresses.c.shopper_id == shopper_id)).first()
        return _address(row) if row else None

    def count(self, shopper_id: int) -> int:
        return int(self.conn.scalar(select(func.count()).select_from(delivery_addresses).where(
            delivery_addresses.c.shopper_id == shopper_id)) or 0)

    def add(self, shopper_id: int, address: DeliveryAddress) -> DeliveryAddress:
        new_id = self.conn.execute(delivery_addresses.insert().values(
            shopper_id=shopper_id, **address.snapshot())).inserted_primary_key
        assert new_id is not None
        return replace(address, id=new_id[0])

    def change(self, shopper_id: int, address: DeliveryAddress) -> bool:
        done = self.conn.execute(update(delivery_addresses).where(
            delivery_addresses.c.id == address.id, delivery_addresses.c.shopper_id == shopper_id)
            .values(**address.snapshot()))
        return bool(done.rowcount)

    def remove(self, shopper_id: int, address_id: int) -> bool:
        done = self.conn.execute(delivery_addresses.delete().where(
            delivery_addresses.c.id == address_id, delivery_addresses.c.shopper_id == shopper_id))
        return bool(done.rowcount)

    def record_deliveries(self, deliveries: Sequence[tuple[int, DeliveryAddress]]) -> None:
        """Each order's copy of the address its shipped goods go to."""
        bulk_insert(self.conn, order_deliveries,
                    [{"order_id": order_id, "address": a.snapshot()} for order_id, a in deliveries])

    def delivery_of(self, order_id: int) -> DeliveryAddress | None:
        found = self.conn.scalar(select(order_deliveries.c.address)
                                 .where(order_deliveries.c.order_id == order_id))
        return DeliveryAddress(**found) if found else None


def add_status_changes(conn: Connection, changes: Sequence[StatusChange]) -> None:
    if changes:
        conn.execute(status_changes.insert(), [{"merchant_order_id": c.merchant_order_id,
                                                "status": c.status.value, "at": c.at} for c in changes])


def status_changes_of(conn: Connection, child_ids: Sequence[int]) -> dict[int, list[StatusChange]]:
    """The recorded state changes of each of these child orders, oldest first."""
    found: dict[int, list[StatusChange]] = {}
    for r in conn.execute(select(status_changes).where(id_in(status_changes.c.merchant_order_id, child_ids))
                          .order_by(status_changes.c.id)):
        found.setdefault(r.merchant_order_id, []).append(
            StatusChange(r.merchant_order_id, OrderStatus(r.status), r.at))
    return found


def received_before(conn: Connection, shipped_before: datetime, *, limit: int) -> list[int]:
    """Orders holding a part shipped before `shipped_before` and neither completed nor refunded yet,
    read through the partial index of such parts."""
    query = (select(merchant_orders.c.order_id).distinct()
             .join(shipments, shipments.c.merchant_order_id == merchant_orders.c.id)
             .where(text(f"merchant_orders.{RECEIVABLE_SQL}"), shipments.c.shipped_at <= shipped_before)
             .order_by(merchant_orders.c.order_id).limit(limit))
    return list(conn.scalars(query))


# --- where orders were placed from (order_sources) ------------------------------------------------

def record_sources(conn: Connection, sourced: Sequence[tuple[int, str, int]]) -> None:
    """Each (order id, source, units) of orders placed from somewhere, in the checkout's transaction."""
    bulk_insert(conn, order_sources, [{"order_id": order_id, "source": source, "units": units}
                                      for order_id, source, units in sourced])


def placed_from(conn: Connection, source: str) -> tuple[int, int]:
    """Orders placed from `source` and the units they hold, whatever became of them since: one read
    of the source's rows, without the orders'."""
    row = conn.execute(select(func.count(), func.coalesce(func.sum(order_sources.c.units), 0))
                       .where(order_sources.c.source == source)).one()
    return int(row[0]), int(row[1])


def sales_by_status(conn: Connection, source: str) -> list[tuple[str, str, int, int, int]]:
    """The orders placed from `source`, per (order status, currency): orders, units, their total."""
    rows = conn.execute(
        select(orders.c.status, orders.c.currency, func.count(),
               func.coalesce(func.sum(order_sources.c.units), 0),
               func.coalesce(func.sum(orders.c.total_minor), 0))
        .join(orders, orders.c.id == order_sources.c.order_id)
        .where(order_sources.c.source == source)
        .group_by(orders.c.status, orders.c.currency).order_by(orders.c.status, orders.c.currency))
    return [(r[0], r[1], int(r[2]), int(r[3]), int(r[4])) for r in rows]


def voucher_sales(conn: Connection, merchant_id: int, *, start: datetime,
                  end: datetime) -> list[tuple[datetime, int, Money]]:
    """A merchant's child orders whose vouchers were issued (they were paid) from `start` until
    before `end`: when, how many vouchers, and the voucher lines' share of what the child settles in
    the merchant's currency (the settlement total prorated by the lines' totals, rounded down)."""
    issued = (select(vouchers.c.merchant_order_id, func.min(vouchers.c.issued_at).label("issued_at"),
                     func.count().label("vouchers"))
              .where(vouchers.c.issued_at >= start, vouchers.c.issued_at < end)
              .group_by(vouchers.c.merchant_order_id).subquery())
    rows = conn.execute(
        select(issued.c.issued_at, issued.c.vouchers, merchant_orders.c.lines, merchant_orders.c.total_minor,
               merchant_orders.c.settlement_minor, merchant_orders.c.settlement_currency)
        .join(merchant_orders, merchant_orders.c.id == issued.c.merchant_order_id)
        .where(merchant_orders.c.merchant_id == merchant_id).order_by(issued.c.issued_at))
    sales = []
    for r in rows:
        share = sum(line["total_minor"] for line in r.lines if line["fulfilment"] in VOUCHER_KINDS)
        settled = r.settlement_minor * share // r.total_minor if r.total_minor else 0
        sales.append((r.issued_at, int(r.vouchers), Money(settled, r.settlement_currency)))
    return sales


# --- vouchers after the sale: redeemed in a shop (the local context, through its port), voided by refunds

def voucher_of_code(conn: Connection, code: str) -> Voucher | None:
    """One voucher by its code, named by its line's title."""
    row = conn.execute(
        select(vouchers, merchant_orders.c.order_id, merchant_orders.c.merchant_id, merchant_orders.c.lines)
        .join(merchant_orders, merchant_orders.c.id == vouchers.c.merchant_order_id)
        .where(vouchers.c.code == code)).first()
    return _voucher(row) if row is not None else None


def move_voucher(conn: Connection, code: str, *, was: str, to: str) -> bool:
    """Move a voucher from status `was` to `to` if it is still in `was`: of two transactions trying
    at once, the second finds it moved (PostgreSQL re-reads the row once the first commits)."""
    moved_now = conn.execute(update(vouchers).where(vouchers.c.code == code, vouchers.c.status == was)
                             .values(status=to))
    return moved_now.rowcount == 1


def line_vouchers(conn: Connection, merchant_order_id: int, sku_id: int) -> dict[str, list[str]]:
    """The codes of one line's vouchers, by status."""
    found: dict[str, list[str]] = {}
    for r in conn.execute(select(vouchers.c.code, vouchers.c.status).where(
            vouchers.c.merchant_order_id == merchant_order_id, vouchers.c.sku_id == sku_id)
            .order_by(vouchers.c.code)):
        found.setdefault(r.status, []).append(r.code)
    return found
