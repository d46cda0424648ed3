"""Orders: one parent per checkout, one child per merchant, and the states they may pass through."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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


class OutsideBalanceWindow(Conflict):
    code = "outside-balance-window"
    title = "A pre-sale balance is paid only in its balance window"


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
    # What each promotion, coupon or deposit took off the line (source, minor units), from pricing.
    adjustments: tuple[tuple[str, int], ...] = ()

    def refund_amount(self, qty: int) -> Money:
        """What `qty` more units of this line give back: the share of the paid total of every unit
        refunded once they are, less what went back before, so the same units give back the same
        whatever the steps, and a whole refund returns exactly the total."""
        if not 0 < qty <= self.qty - self.refunded_qty:
            raise RefundTooLarge(f"SKU {self.sku_id} has {self.qty - self.refunded_qty} units to refund",
                                 sku_id=self.sku_id)
        already = self.refunded or Money.zero(self.total.currency)
        share = Money(self.total.minor * (self.refunded_qty + qty) // self.qty, self.total.currency)
        return share - already

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

    def refunding(self, line_index: int, qty: int) -> MerchantOrder:
        """The child once `qty` units of one line are refunded: refunded when every unit of every
        line went back, partly refunded otherwise. Raises RefundTooLarge, IllegalTransition."""
        lines = list(self.lines)
        lines[line_index] = lines[line_index].after_refund(qty)
        whole = all(line.refunded_qty == line.qty for line in lines)
        status = OrderStatus.REFUNDED if whole else OrderStatus.PARTIALLY_REFUNDED
        if status is not self.status:
            status = moved(self.status, status)
        return replace(self, status=status, lines=tuple(lines))


@dataclass(frozen=True, slots=True)
class Presale:
    """A pre-sale order's deposit (paid in a deposit window, holding the units) and the window in
    which the balance must be paid, or the deposit is forfeited."""

    deposit: Money
    balance_from: datetime
    balance_until: datetime


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
    presale: Presale | None = None
    total: Money = field(init=False)  # in the catalog's currency
    to_pay: Money = field(init=False)  # in the shopper's, at the rate recorded when it was placed

    def __post_init__(self) -> None:
        currency = self.children[0].total.currency
        total = Money(sum(child.total.minor for child in self.children), currency)
        object.__setattr__(self, "total", total)
        object.__setattr__(self, "to_pay", self.pay_rate.convert(total))

    def is_expired(self, now: datetime) -> bool:
        return self.status in UNPAID and self.expires_at is not None and now >= self.expires_at

    def lapsed(self, now: datetime) -> OrderStatus | None:
        """What an order holding units becomes once its time is up: an unpaid one is cancelled, a
        pre-sale whose balance was not paid in its window forfeits its deposit."""
        if self.status not in HOLDING_STOCK or self.expires_at is None or now < self.expires_at:
            return None
        return OrderStatus.CANCELLED if self.status in UNPAID else OrderStatus.DEPOSIT_FORFEITED

    def amount_due(self, now: datetime) -> tuple[str, Money]:
        """What paying now pays, in the shopper's currency: the whole order, the deposit, or the
        balance (inside its window). Raises IllegalTransition, OutsideBalanceWindow."""
        if self.status is OrderStatus.AWAITING_PAYMENT:
            return "full", self.to_pay
        if self.presale is None:
            moved(self.status, OrderStatus.PAID)
            raise AssertionError("unreachable: only an awaiting order may be paid")
        deposit = self.pay_rate.convert(self.presale.deposit)
        if self.status is OrderStatus.AWAITING_DEPOSIT:
            return "deposit", deposit
        if self.status not in (OrderStatus.DEPOSIT_PAID, OrderStatus.AWAITING_BALANCE):
            moved(self.status, OrderStatus.PAID)
        if not self.presale.balance_from <= now < self.presale.balance_until:
            raise OutsideBalanceWindow(
                f"the balance is paid from {self.presale.balance_from} until {self.presale.balance_until}")
        return "balance", self.to_pay - deposit

    def paid_for(self, purpose: str) -> Order:
        """The order once a payment for `purpose` succeeded. Raises IllegalTransition."""
        if purpose == "deposit":
            return self.with_status(OrderStatus.DEPOSIT_PAID)
        order = self
        if order.status is OrderStatus.DEPOSIT_PAID:
            order = order.with_status(OrderStatus.AWAITING_BALANCE)
        return order.with_status(OrderStatus.PAID)

    @property
    def refunded(self) -> Money:
        """What the refunded units cost, in the catalog's currency."""
        return Money(sum(line.refunded.minor for child in self.children for line in child.lines
                         if line.refunded is not None), self.total.currency)

    def refunding(self, wanted: Mapping[tuple[int, int], int]) -> tuple[Order, Money]:
        """The order once the `wanted` units are refunded ((child index, line index) → units), and
        what they give back in the shopper's currency: everything refunded once they are, converted,
        less everything refunded before, converted. Refunds so add up to exactly `to_pay`, and the
        last takes what is left. Raises InvalidInput, RefundTooLarge, IllegalTransition."""
        if not wanted:
            raise InvalidInput("nothing left to refund in this order")
        children = list(self.children)
        for (i, j), qty in wanted.items():
            children[i] = children[i].refunding(j, qty)
        whole = all(c.status is OrderStatus.REFUNDED for c in children)
        status = OrderStatus.REFUNDED if whole else OrderStatus.PARTIALLY_REFUNDED
        after = replace(self, status=moved(self.status, status), children=tuple(children))
        return after, self.pay_rate.convert_part(before=self.refunded, after=after.refunded)

    def with_status(self, status: OrderStatus) -> Order:
        """The order and all its children moved to `status`. Raises IllegalTransition."""
        children = tuple(replace(c, status=moved(c.status, status)) for c in self.children)
        expires_at = self.expires_at
        if status is OrderStatus.DEPOSIT_PAID and self.presale is not None:
            expires_at = self.presale.balance_until  # the units are held until the balance is due
        elif status not in HOLDING_STOCK:
            expires_at = None
        return replace(self, status=moved(self.status, status), children=children, expires_at=expires_at)


def expiry(placed_at: datetime, *, minutes: int = RESERVATION_MINUTES) -> datetime:
    return placed_at + timedelta(minutes=minutes)


@dataclass(frozen=True, slots=True)
class Copies:
    """Where copies of one order (the same cart, different shoppers) were stored: copy n is order
    `order_ids[n]` and its k-th child is `child_ids[n * width + k]`."""

    order_ids: Sequence[int]
    child_ids: Sequence[int]
    width: int

    def children_of(self, n: int) -> Sequence[int]:
        return self.child_ids[n * self.width:(n + 1) * self.width]
