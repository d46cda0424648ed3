"""Tables of in-store QR pay: each payment at a shop's counter, and per shopper and day how many
local discounts they hold (the counter row a conditional update takes a use from)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Connection,
    Date,
    Index,
    Integer,
    String,
    Table,
    UniqueConstraint,
    and_,
    insert,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from shopfest.core.db import Id, UtcDateTime, metadata
from shopfest.core.money import Money
from shopfest.local.pay_rules import InStorePayment, PayStatus

local_payments = Table(
    "local_payments",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("shop_id", Id, nullable=False),
    Column("merchant_id", Id, nullable=False),
    Column("shopper_id", Id, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("discount_minor", BigInteger, nullable=False),
    Column("to_pay_minor", BigInteger, nullable=False),
    Column("status", String(12), nullable=False),
    Column("discount_day", Date, nullable=True),  # the shop's local day whose discount use it holds
    Column("idempotency_key", String(255), nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("paid_at", UtcDateTime, nullable=True),
    UniqueConstraint("shopper_id", "idempotency_key"),
    CheckConstraint("amount_minor > 0 AND discount_minor >= 0 AND to_pay_minor > 0 "
                    "AND amount_minor = discount_minor + to_pay_minor", name="payment_adds_up"),
    Index("ix_local_payments_merchant_paid", "merchant_id", "paid_at"),
    Index("ix_local_payments_shopper_status", "shopper_id", "status"),
)

local_discount_uses = Table(
    "local_discount_uses",
    metadata,
    Column("shopper_id", Id, primary_key=True, autoincrement=False),
    Column("day", Date, primary_key=True),
    Column("uses", Integer, nullable=False),
    CheckConstraint("uses >= 0", name="uses_not_negative"),
)


def payment_of(row: Any) -> InStorePayment:
    def money(minor: int) -> Money:
        return Money(minor, row.currency)
    return InStorePayment(id=row.id, shop_id=row.shop_id, merchant_id=row.merchant_id,
                          shopper_id=row.shopper_id, amount=money(row.amount_minor),
                          discount=money(row.discount_minor), to_pay=money(row.to_pay_minor),
                          status=PayStatus(row.status), created_at=row.created_at, paid_at=row.paid_at)


class PayStore:
    """The repository of in-store payments and discount uses, on the unit of work's connection."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, row: dict[str, Any]) -> InStorePayment:
        added = self.conn.execute(insert(local_payments).values(row))
        payment_id = int(added.inserted_primary_key[0])  # type: ignore[index]  # one row has its key
        return self.get(payment_id) or _gone(payment_id)

    def get(self, payment_id: int, *, lock: bool = False) -> InStorePayment | None:
        query = select(local_payments).where(local_payments.c.id == payment_id)
        if lock and self.conn.dialect.name == "postgresql":
            query = query.with_for_update()
        row = self.conn.execute(query).first()
        return payment_of(row) if row else None

    def by_key(self, shopper_id: int, key: str) -> tuple[InStorePayment, str] | None:
        """The payment a shopper started under an Idempotency-Key, with the fingerprint of its request."""
        row = self.conn.execute(select(local_payments).where(
            local_payments.c.shopper_id == shopper_id, local_payments.c.idempotency_key == key)).first()
        return (payment_of(row), row.fingerprint) if row else None

    def discount_day(self, payment_id: int) -> date | None:
        day: date | None = self.conn.scalar(select(local_payments.c.discount_day)
                                            .where(local_payments.c.id == payment_id))
        return day

    def move(self, payment_id: int, *, before: frozenset[PayStatus], to: PayStatus,
             paid_at: datetime | None = None) -> bool:
        """Move a payment to `to` if it is in one of `before`; whether it moved (a conditional update,
        so two movers never both win)."""
        values: dict[str, Any] = {"status": to.value}
        if paid_at is not None:
            values["paid_at"] = paid_at
        moved = self.conn.execute(update(local_payments).where(
            local_payments.c.id == payment_id, local_payments.c.status.in_([s.value for s in before]))
            .values(values))
        return moved.rowcount == 1

    def stale(self, shopper_id: int, *, started_before: datetime) -> list[int]:
        """A shopper's payments started before `started_before` and never charged."""
        return list(self.conn.scalars(select(local_payments.c.id).where(
            local_payments.c.shopper_id == shopper_id, local_payments.c.status == PayStatus.STARTED.value,
            local_payments.c.created_at < started_before)))

    def uses(self, shopper_id: int, day: date) -> int:
        used: int | None = self.conn.scalar(select(local_discount_uses.c.uses).where(
            local_discount_uses.c.shopper_id == shopper_id, local_discount_uses.c.day == day))
        return used or 0

    def take_use(self, shopper_id: int, day: date, *, per_day: int) -> bool:
        """Take one of the shopper's discount uses of `day` if fewer than `per_day` are taken: a
        conditional update on the day's counter row, which concurrent takers wait on in turn."""
        dialect = postgresql if self.conn.dialect.name == "postgresql" else sqlite
        self.conn.execute(dialect.insert(local_discount_uses).values(shopper_id=shopper_id, day=day, uses=0)
                          .on_conflict_do_nothing(index_elements=["shopper_id", "day"]))
        taken = self.conn.execute(update(local_discount_uses).where(_use_row(shopper_id, day),
                                                                    local_discount_uses.c.uses < per_day)
                                  .values(uses=local_discount_uses.c.uses + 1))
        return taken.rowcount == 1

    def give_use_back(self, shopper_id: int, day: date) -> None:
        self.conn.execute(update(local_discount_uses).where(_use_row(shopper_id, day),
                                                            local_discount_uses.c.uses > 0)
                          .values(uses=local_discount_uses.c.uses - 1))

    def paid_of(self, merchant_id: int, *, start: datetime, end: datetime) -> list[InStorePayment]:
        """A merchant's payments paid from `start` until before `end`."""
        rows = self.conn.execute(select(local_payments).where(
            local_payments.c.merchant_id == merchant_id, local_payments.c.status == PayStatus.PAID.value,
            local_payments.c.paid_at >= start, local_payments.c.paid_at < end).order_by(local_payments.c.id))
        return [payment_of(r) for r in rows]


def _use_row(shopper_id: int, day: date) -> Any:  # noqa: ANN401  # a SQL condition
    return and_(local_discount_uses.c.shopper_id == shopper_id, local_discount_uses.c.day == day)


def _gone(payment_id: int) -> InStorePayment:
    raise RuntimeError(f"payment {payment_id} vanished inside its own transaction")


def paid_after(conn: Connection, after_id: int, *, limit: int) -> list[InStorePayment]:
    """The paid in-store payments after `after_id`, by id (what the insights figures count)."""
    rows = conn.execute(select(local_payments).where(local_payments.c.id > after_id,
                                                     local_payments.c.status == PayStatus.PAID.value)
                        .order_by(local_payments.c.id).limit(limit))
    return [payment_of(r) for r in rows]
