"""Promotion tables: pre-sale offers, promotions, coupons and the coupons in shoppers' wallets."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Column,
    Connection,
    ForeignKey,
    Index,
    String,
    Table,
    delete,
    func,
    or_,
    select,
    update,
)

from shopfest.core.db import Id, UtcDateTime, id_in, metadata
from shopfest.core.money import Money
from shopfest.promotions.offers import Campaign, CouponIssue, Grant, GrantState, Period

presale_offers = Table(
    "presale_offers",
    metadata,
    Column("sku_id", Id, primary_key=True, autoincrement=False),
    Column("deposit_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("worth_minor", BigInteger, nullable=True),  # None: worth what it costs
)

promotions = Table(
    "promotions",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("kind", String(20), nullable=False),
    Column("merchant_id", Id, ForeignKey("merchants.id"), nullable=True),  # None: the platform's
    Column("currency", String(3), nullable=False),
    Column("rule", JSON, nullable=False),
    Column("starts_at", UtcDateTime, nullable=False),
    Column("ends_at", UtcDateTime, nullable=False),
    Index("ix_promotions_window", "ends_at", "starts_at"),
)

coupons = Table(
    "coupons",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("kind", String(20), nullable=False),
    Column("merchant_id", Id, ForeignKey("merchants.id"), nullable=True),
    Column("currency", String(3), nullable=False),
    Column("min_spend_minor", BigInteger, nullable=False),
    Column("off_minor", BigInteger, nullable=False),
    Column("quantity", BigInteger, nullable=False),
    Column("claimed", BigInteger, nullable=False, default=0),
    Column("per_shopper_limit", BigInteger, nullable=False),
    Column("starts_at", UtcDateTime, nullable=False),
    Column("ends_at", UtcDateTime, nullable=False),
    # A live coupon's scope: the SKUs it applies to (None: the whole store), and the room it dropped in.
    Column("sku_ids", JSON, nullable=True),
    Column("live_event_id", Id, nullable=True),
    # The last guard: never more claimed than there are.
    CheckConstraint("claimed >= 0 AND claimed <= quantity", name="never_overclaimed"),
)

coupon_grants = Table(
    "coupon_grants",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("coupon_id", Id, ForeignKey("coupons.id"), nullable=False),
    Column("shopper_id", Id, nullable=False),
    Column("state", String(10), nullable=False),
    Column("order_id", Id, nullable=True),
    Column("claimed_at", UtcDateTime, nullable=False),
    Index("ix_coupon_grants_shopper", "shopper_id", "coupon_id"),
    Index("ix_coupon_grants_order", "order_id"),
)


def _promotion(r: Any) -> Campaign:
    return Campaign(r.kind, r.merchant_id, r.currency, dict(r.rule), Period(r.starts_at, r.ends_at), r.id)


def _coupon(r: Any) -> CouponIssue:
    return CouponIssue(r.kind, r.merchant_id, r.currency, r.min_spend_minor, r.off_minor, r.quantity,
                  r.per_shopper_limit, Period(r.starts_at, r.ends_at), r.claimed, r.id,
                  None if r.sku_ids is None else tuple(r.sku_ids), r.live_event_id)


def _grant(r: Any) -> Grant:
    return Grant(r.coupon_id, r.shopper_id, GrantState(r.state), r.claimed_at, r.order_id, r.id)


class PromotionStore:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def offer_presale(self, sku_id: int, deposit: Money, worth: Money) -> None:
        self.conn.execute(delete(presale_offers).where(presale_offers.c.sku_id == sku_id))
        self.conn.execute(presale_offers.insert().values(sku_id=sku_id, deposit_minor=deposit.minor,
                                                         currency=deposit.currency, worth_minor=worth.minor))

    def deposits(self, sku_ids: Sequence[int]) -> dict[int, tuple[Money, Money]]:
        """The deposit of one unit of each SKU sold on pre-sale, and what it is worth."""
        if not sku_ids:
            return {}
        rows = self.conn.execute(select(presale_offers).where(id_in(presale_offers.c.sku_id, sku_ids)))
        return {r.sku_id: (Money(r.deposit_minor, r.currency),
                           Money(r.worth_minor if r.worth_minor is not None else r.deposit_minor, r.currency))
                for r in rows}

    def add_promotion(self, p: Campaign) -> int:
        return int(self.conn.execute(promotions.insert().values(
            kind=p.kind, merchant_id=p.merchant_id, currency=p.currency, rule=p.rule,
            starts_at=p.window.starts_at, ends_at=p.window.ends_at)).inserted_primary_key[0])  # type: ignore[index]  # set by every INSERT

    def promotions_on(self, now: datetime, merchant_ids: Sequence[int]) -> list[Campaign]:
        """Promotions on at `now` of these merchants, and the platform's, in the order put on."""
        rows = self.conn.execute(select(promotions).where(
            promotions.c.starts_at <= now, promotions.c.ends_at > now,
            or_(promotions.c.merchant_id.is_(None), id_in(promotions.c.merchant_id, merchant_ids)))
            .order_by(promotions.c.id))
        return [_promotion(r) for r in rows]

    def promotions_of(self, merchant_id: int | None) -> list[Campaign]:
        owner = (promotions.c.merchant_id.is_(None) if merchant_id is None
                 else promotions.c.merchant_id == merchant_id)
        return [_promotion(r) for r in self.conn.execute(select(promotions).where(owner)
                                                         .order_by(promotions.c.id))]

    def add_coupon(self, c: CouponIssue) -> int:
        return int(self.conn.execute(coupons.insert().values(
            kind=c.kind, merchant_id=c.merchant_id, currency=c.currency, min_spend_minor=c.min_spend,
            off_minor=c.off, quantity=c.quantity, claimed=0, per_shopper_limit=c.per_shopper_limit,
            starts_at=c.window.starts_at, ends_at=c.window.ends_at,
            sku_ids=None if c.sku_ids is None else list(c.sku_ids),
            live_event_id=c.live_event_id)).inserted_primary_key[0])  # type: ignore[index]  # set by every INSERT

    def coupon(self, coupon_id: int) -> CouponIssue | None:
        row = self.conn.execute(select(coupons).where(coupons.c.id == coupon_id)).first()
        return None if row is None else _coupon(row)

    def coupons_by_ids(self, coupon_ids: Sequence[int]) -> dict[int, CouponIssue]:
        if not coupon_ids:
            return {}
        rows = self.conn.execute(select(coupons).where(id_in(coupons.c.id, coupon_ids)))
        return {r.id: _coupon(r) for r in rows}

    def coupons_on(self, now: datetime, merchant_id: int | None) -> list[CouponIssue]:
        """A merchant's (or the platform's) coupons claimable at `now`; live coupons are the room's."""
        owner = (coupons.c.merchant_id.is_(None) if merchant_id is None
                 else coupons.c.merchant_id == merchant_id)
        rows = self.conn.execute(select(coupons).where(owner, coupons.c.starts_at <= now,
                                                       coupons.c.ends_at > now,
                                                       coupons.c.live_event_id.is_(None))  # live: in the room
                                 .order_by(coupons.c.id))
        return [_coupon(r) for r in rows]

    def count_claim(self, coupon_id: int) -> bool:
        """Count one more claimed, if one is left; the row stays locked until the transaction ends."""
        return self.conn.execute(update(coupons).where(
            coupons.c.id == coupon_id, coupons.c.claimed < coupons.c.quantity)
            .values(claimed=coupons.c.claimed + 1)).rowcount == 1

    def held_by(self, coupon_id: int, shopper_id: int) -> int:
        """How many of this coupon the shopper has claimed, used or not."""
        return self.conn.scalar(select(func.count()).select_from(coupon_grants).where(
            coupon_grants.c.coupon_id == coupon_id, coupon_grants.c.shopper_id == shopper_id)) or 0

    def add_grant(self, g: Grant) -> int:
        return int(self.conn.execute(coupon_grants.insert().values(
            coupon_id=g.coupon_id, shopper_id=g.shopper_id, state=g.state.value, order_id=g.order_id,
            claimed_at=g.claimed_at)).inserted_primary_key[0])  # type: ignore[index]  # set by every INSERT

    def wallet(self, shopper_id: int) -> list[Grant]:
        rows = self.conn.execute(select(coupon_grants).where(coupon_grants.c.shopper_id == shopper_id)
                                 .order_by(coupon_grants.c.id))
        return [_grant(r) for r in rows]

    def free_grants(self, shopper_id: int, coupon_ids: Sequence[int], *,
                    lock: bool = False) -> dict[int, int]:
        """For each coupon among `coupon_ids` the shopper holds unused, one of its grants (the
        oldest); with `lock`, PostgreSQL keeps them from other transactions until this one ends."""
        if not coupon_ids:
            return {}
        query = select(coupon_grants.c.coupon_id, coupon_grants.c.id).where(
            coupon_grants.c.shopper_id == shopper_id, coupon_grants.c.state == GrantState.CLAIMED.value,
            id_in(coupon_grants.c.coupon_id, coupon_ids)).order_by(coupon_grants.c.id.desc())
        if lock and self.conn.dialect.name == "postgresql":
            query = query.with_for_update()
        return {coupon_id: grant_id for coupon_id, grant_id in self.conn.execute(query)}  # oldest last

    def lock_wallets(self, shopper_ids: Sequence[int]) -> None:
        """Lock the free grants of these shoppers, by shopper then grant, on PostgreSQL."""
        if self.conn.dialect.name != "postgresql":
            return
        self.conn.execute(select(coupon_grants.c.id).where(
            id_in(coupon_grants.c.shopper_id, shopper_ids),
            coupon_grants.c.state == GrantState.CLAIMED.value)
            .order_by(coupon_grants.c.shopper_id, coupon_grants.c.id).with_for_update()).all()

    def hold(self, grant_id: int, order_id: int) -> bool:
        """Hold a free grant for an order; False when it is no longer free."""
        return self.conn.execute(update(coupon_grants).where(
            coupon_grants.c.id == grant_id, coupon_grants.c.state == GrantState.CLAIMED.value)
            .values(state=GrantState.HELD.value, order_id=order_id)).rowcount == 1

    def spend(self, order_ids: Sequence[int]) -> None:
        self._move(order_ids, GrantState.HELD, GrantState.SPENT, keep_order=True)

    def give_back(self, order_ids: Sequence[int]) -> None:
        """Grants held or spent by these orders return to their shoppers' wallets."""
        self._move(order_ids, GrantState.HELD, GrantState.CLAIMED, keep_order=False)
        self._move(order_ids, GrantState.SPENT, GrantState.CLAIMED, keep_order=False)

    def claim_counts(self) -> tuple[dict[int, int], dict[int, int]]:
        """Each coupon's claimed counter, and how many grants it has."""
        claimed = {r.id: r.claimed for r in self.conn.execute(select(coupons.c.id, coupons.c.claimed))}
        grants = {r[0]: r[1] for r in self.conn.execute(
            select(coupon_grants.c.coupon_id, func.count()).group_by(coupon_grants.c.coupon_id))}
        return claimed, grants

    def grants_in_orders(self) -> list[tuple[int, int, str]]:
        """(grant, order, state) of every grant an order holds or spent."""
        rows = self.conn.execute(select(coupon_grants.c.id, coupon_grants.c.order_id, coupon_grants.c.state)
                                 .where(coupon_grants.c.order_id.is_not(None)).order_by(coupon_grants.c.id))
        return [(r.id, r.order_id, r.state) for r in rows]

    def _move(self, order_ids: Sequence[int], frm: GrantState, to: GrantState, *, keep_order: bool) -> None:
        if not order_ids:
            return
        values: dict[str, Any] = {"state": to.value}
        if not keep_order:
            values["order_id"] = None
        self.conn.execute(update(coupon_grants).where(
            id_in(coupon_grants.c.order_id, order_ids), coupon_grants.c.state == frm.value).values(**values))

    def every_coupon_on(self, now: datetime, *, limit: int) -> list[CouponIssue]:
        """Coupons claimable at `now`, the platform's and every merchant's: the platform's first."""
        rows = self.conn.execute(select(coupons).where(coupons.c.starts_at <= now, coupons.c.ends_at > now,
                                                       coupons.c.live_event_id.is_(None))  # live: in the room
                                 .order_by(coupons.c.merchant_id.is_not(None), coupons.c.id).limit(limit))
        return [_coupon(r) for r in rows]

    def coupons_of(self, merchant_id: int) -> list[CouponIssue]:
        """Every coupon a merchant put on, latest first, with how many were claimed."""
        rows = self.conn.execute(select(coupons).where(coupons.c.merchant_id == merchant_id)
                                 .order_by(coupons.c.id.desc()))
        return [_coupon(r) for r in rows]


def platform_offers_until(conn: Connection, after: datetime, *,
                          limit: int) -> tuple[list[Campaign], list[CouponIssue]]:
    """The platform's promotions and coupons (no merchant) that end after `after`, by start."""
    found = conn.execute(select(promotions)
                         .where(promotions.c.merchant_id.is_(None), promotions.c.ends_at > after)
                         .order_by(promotions.c.starts_at, promotions.c.id).limit(limit))
    issued = conn.execute(select(coupons).where(coupons.c.merchant_id.is_(None), coupons.c.ends_at > after)
                          .order_by(coupons.c.starts_at, coupons.c.id).limit(limit))
    return [_promotion(r) for r in found], [_coupon(r) for r in issued]
