"""The invariants festival night must keep, checked over the figures each context reports of itself.

- money: for every order, what its payments captured less what they refunded equals what the order
  says it kept, in the order's paying currency, to the minor unit;
- stock: for every SKU, the units reserved and sold are those the orders hold and sold (so on hand =
  sold + reserved + available), each flash sale's units taken, in all and per shopper, are those its
  orders took, and each shopper's unpaid units of a SKU (the anti-hoarding cap's count) are those their
  unpaid orders hold;
- coupons and vouchers: a coupon is claimed as often as it has grants, a grant is held or spent only
  by an order that holds or bought its goods, and a paid line has exactly one voucher per unit.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from shopfest.core.money import Money

K = TypeVar("K")


@dataclass(frozen=True, slots=True)
class Breach:
    """One row that breaks one invariant: `invariant` names it, `subject` the row, `detail` the figures."""

    invariant: str
    subject: str
    detail: str


@dataclass
class OrdersSay:
    """What the orders say they hold, sold, kept and spent."""

    kept: dict[int, Money] = field(default_factory=dict)  # order id → money kept, paying currency
    reserved: Counter[int] = field(default_factory=Counter)  # SKU → units held by unpaid orders
    sold: Counter[int] = field(default_factory=Counter)  # SKU → units sold and not given back
    flash_taken: Counter[int] = field(default_factory=Counter)  # flash sale → units taken
    flash_bought: Counter[tuple[int, int]] = field(default_factory=Counter)  # (sale, shopper) → units
    unpaid: Counter[tuple[int, int]] = field(default_factory=Counter)  # (shopper, SKU) → units unpaid
    coupon_stage: dict[int, str] = field(default_factory=dict)  # order id → "held", "spent" or "free"
    vouchers_due: Counter[tuple[int, int]] = field(default_factory=Counter)  # (child, SKU) → units
    vouchers_issued: Counter[tuple[int, int]] = field(default_factory=Counter)


@dataclass
class StockSays:
    """The stock rows: per SKU (on hand, reserved, sold), per flash sale units taken, per buyer units,
    per (shopper, SKU) units held in orders not paid in full."""

    levels: dict[int, tuple[int, int, int]] = field(default_factory=dict)
    flash_taken: Counter[int] = field(default_factory=Counter)
    flash_bought: Counter[tuple[int, int]] = field(default_factory=Counter)
    unpaid: Counter[tuple[int, int]] = field(default_factory=Counter)


@dataclass
class CouponsSay:
    """Coupons' claimed counters against their grants, and the grants an order holds or spent."""

    claimed: dict[int, int] = field(default_factory=dict)  # coupon → its claimed counter
    grants: Counter[int] = field(default_factory=Counter)  # coupon → grants written
    stage_of_grant: list[tuple[int, int, str]] = field(default_factory=list)  # (grant, order, state)


def money_breaches(kept: Mapping[int, Money], captured: Mapping[int, Money]) -> Iterator[Breach]:
    """Orders whose payments, captured less refunded, differ from what the order says it kept."""
    for order_id in sorted(kept.keys() | captured.keys()):
        said, paid = kept.get(order_id), captured.get(order_id)
        if said is None:
            assert paid is not None
            if paid.minor:
                yield Breach("money-kept", f"order {order_id}", f"payments hold {paid} for no order")
            continue
        if paid is None:
            paid = Money.zero(said.currency)
        if said.currency != paid.currency or said.minor != paid.minor:
            yield Breach("money-kept", f"order {order_id}",
                         f"the order kept {said}, its payments {paid} (captured less refunded)")


def stock_breaches(orders: OrdersSay, stock: StockSays) -> Iterator[Breach]:
    """SKUs and flash sales whose rows differ from what the orders hold and sold."""
    for sku_id in sorted(orders.reserved.keys() | orders.sold.keys() | stock.levels.keys()):
        on_hand, reserved, sold = stock.levels.get(sku_id, (0, 0, 0))
        if reserved != orders.reserved[sku_id]:
            yield Breach("stock-reserved", f"SKU {sku_id}",
                         f"{reserved} reserved in stock, {orders.reserved[sku_id]} held by unpaid orders")
        if sold != orders.sold[sku_id]:
            yield Breach("stock-sold", f"SKU {sku_id}",
                         f"{sold} sold in stock, {orders.sold[sku_id]} sold by orders")
        if reserved + sold > on_hand or min(reserved, sold) < 0:
            yield Breach("stock-on-hand", f"SKU {sku_id}",
                         f"{on_hand} on hand, {reserved} reserved, {sold} sold")
    yield from _counts("flash-taken", "flash sale {}", orders.flash_taken, stock.flash_taken)
    yield from _counts("flash-bought", "flash sale {0[0]}, shopper {0[1]}", orders.flash_bought,
                       stock.flash_bought)
    yield from _counts("unpaid-held", "shopper {0[0]}, SKU {0[1]}", orders.unpaid, stock.unpaid)


def coupon_breaches(orders: OrdersSay, coupons: CouponsSay) -> Iterator[Breach]:
    """Coupons claimed more or less often than granted; grants held or spent by the wrong order."""
    for coupon_id in sorted(coupons.claimed.keys() | coupons.grants.keys()):
        claimed = coupons.claimed.get(coupon_id, 0)
        if claimed != coupons.grants[coupon_id]:
            yield Breach("coupon-claimed", f"coupon {coupon_id}",
                         f"claimed {claimed} times, {coupons.grants[coupon_id]} grants")
    for grant_id, order_id, state in coupons.stage_of_grant:
        stage = orders.coupon_stage.get(order_id, "free")
        if stage != state:
            yield Breach("coupon-spent", f"grant {grant_id}",
                         f"{state} for order {order_id}, which should have it {stage}")


def voucher_breaches(orders: OrdersSay) -> Iterator[Breach]:
    """Paid lines whose vouchers are missing or issued twice; vouchers of lines never paid."""
    yield from _counts("voucher-issued", "child order {0[0]}, SKU {0[1]}", orders.vouchers_due,
                       orders.vouchers_issued)


def _counts(invariant: str, subject: str, expected: Counter[K], found: Counter[K]) -> Iterable[Breach]:
    for key in sorted(expected.keys() | found.keys()):  # type: ignore[type-var]  # ints or int tuples
        if expected[key] != found[key]:
            yield Breach(invariant, subject.format(key), f"{found[key]} recorded, {expected[key]} expected")
