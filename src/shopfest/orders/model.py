"""Orders: one parent per checkout, one child per merchant, and the states they may pass through."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum

from shopfest.core.errors import Conflict, InvalidInput
from shopfest.core.money import ExchangeRate, Money

RESERVATION_MINUTES = 15


class OrderStatus(StrEnum):
    AWAITING_PAYMENT = "awaiting_payment"
    PAID = "paid"
    FULFILLED = "fulfilled"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"
    PARTIALLY_REFUNDED = "partially_refunded"
    AWAITING_DEPOSIT = "awaiting_deposit"
    DEPOSIT_PAID = "deposit_paid"
    AWAITING_BALANCE = "awaiting_balance"
    DEPOSIT_FORFEITED = "deposit_forfeited"


S = OrderStatus
TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    S.AWAITING_PAYMENT: frozenset({S.PAID, S.CANCELLED}),
    S.AWAITING_DEPOSIT: frozenset({S.DEPOSIT_PAID, S.CANCELLED}),
    S.DEPOSIT_PAID: frozenset({S.AWAITING_BALANCE, S.DEPOSIT_FORFEITED}),
    S.AWAITING_BALANCE: frozenset({S.PAID, S.DEPOSIT_FORFEITED}),
    S.PAID: frozenset({S.FULFILLED, S.REFUNDED, S.PARTIALLY_REFUNDED}),
    S.PARTIALLY_REFUNDED: frozenset({S.FULFILLED, S.COMPLETED, S.REFUNDED, S.PARTIALLY_REFUNDED}),
    S.FULFILLED: frozenset({S.COMPLETED, S.REFUNDED, S.PARTIALLY_REFUNDED}),
    S.COMPLETED: frozenset({S.REFUNDED, S.PARTIALLY_REFUNDED}),
    S.CANCELLED: frozenset(),
    S.REFUNDED: frozenset(),
    S.DEPOSIT_FORFEITED: frozenset(),
}
UNPAID = frozenset({S.AWAITING_PAYMENT, S.AWAITING_DEPOSIT})
HOLDING_STOCK = frozenset({S.AWAITING_PAYMENT, S.AWAITING_DEPOSIT, S.DEPOSIT_PAID, S.AWAITING_BALANCE})


class IllegalTransition(Conflict):
    code = "illegal-transition"
    title = "The order cannot move to that state"


class RefundTooLarge(InvalidInput):
    code = "refund-too-large"
    title = "More than was paid"


def moved(current: OrderStatus, to: OrderStatus) -> OrderStatus:
    """`to`, if an order in `current` may move there. Raises IllegalTransition."""
    if to not in TRANSITIONS[current]:
        raise IllegalTransition(f"an order that is {current.value} cannot become {to.value}",
                                status=current.value, to=to.value)
    return to


@dataclass(frozen=True, slots=True)
class OrderLine:
    """Units of one SKU in a child order, and what the shopper pays for them after every discount."""

    sku_id: int
    product_id: int
    title: str
    fulfilment: str
    qty: int
    unit_price: Money
    total: Money
    flash_sale_id: int | None = None
    refunded_qty: int = 0
    refunded: Money | None = None

    def refund_amount(self, qty: int) -> Money:
        """What `qty` more units of this line give back: their share of the paid total, the last
        units taking what rounding left so a whole refund returns exactly the total."""
        if not 0 < qty <= self.qty - self.refunded_qty:
            raise RefundTooLarge(f"SKU {self.sku_id} has {self.qty - self.refunded_qty} units to refund",
                                 sku_id=self.sku_id)
        already = self.refunded or Money.zero(self.total.currency)
        if self.refunded_qty + qty == self.qty:
            return self.total - already
        return Money(self.total.minor * qty // self.qty, self.total.currency)

    def after_refund(self, qty: int) -> OrderLine:
        amount = self.refund_amount(qty)
        already = self.refunded or Money.zero(self.total.currency)
        return replace(self, refunded_qty=self.refunded_qty + qty, refunded=already + amount)


@dataclass(frozen=True, slots=True)
class MerchantOrder:
    """The part of an order one merchant fulfils, also in the merchant's settlement currency."""

    merchant_id: int
    status: OrderStatus
    lines: tuple[OrderLine, ...]
    settlement: Money
    id: int | None = None
    total: Money = field(init=False)

    def __post_init__(self) -> None:
        currency = self.lines[0].total.currency
        object.__setattr__(self, "total", Money(sum(line.total.minor for line in self.lines), currency))


@dataclass(frozen=True, slots=True)
class Order:
    """What one checkout bought, paid by one payment in the shopper's currency at a recorded rate."""

    shopper_id: int
    status: OrderStatus
    children: tuple[MerchantOrder, ...]
    placed_at: datetime
    expires_at: datetime | None
    pay_rate: ExchangeRate
    id: int | None = None
    total: Money = field(init=False)  # in the catalog's currency
    to_pay: Money = field(init=False)  # in the shopper's, at the rate recorded when it was placed

    def __post_init__(self) -> None:
        currency = self.children[0].total.currency
        total = Money(sum(child.total.minor for child in self.children), currency)
        object.__setattr__(self, "total", total)
        object.__setattr__(self, "to_pay", self.pay_rate.convert(total))

    def is_expired(self, now: datetime) -> bool:
        return self.status in UNPAID and self.expires_at is not None and now >= self.expires_at


def expiry(placed_at: datetime, *, minutes: int = RESERVATION_MINUTES) -> datetime:
    return placed_at + timedelta(minutes=minutes)
