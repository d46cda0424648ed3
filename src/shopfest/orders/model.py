"""Orders: one parent per checkout, one child per merchant, and the states they may pass through."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum

from shopfest.core.errors import Conflict, InvalidInput, NotFound
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
    source: str | None = None  # where it was placed from (`live:12`), for the sales attributed to it
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


class ShippedGoodsComeBack(Conflict):
    code = "shipped-goods-come-back-by-return"
    title = "Shipped goods are refunded through a return the merchant accepts"


class NotShipped(Conflict):
    code = "return-not-shipped"
    title = "Only shipped goods are returned; goods not shipped yet are refunded"


class ReturnTooLarge(InvalidInput):
    code = "return-too-large"
    title = "More units than were shipped and not yet refunded or asked back"


class ReturnDecided(Conflict):
    code = "return-decided"
    title = "The return was accepted or rejected already"


def check_unshipped(order: Order, wanted: Mapping[tuple[int, int], int], shipped: AbstractSet[int]) -> None:
    """A shopper refunds goods not shipped yet; shipped goods come back through a return the merchant
    accepts, who alone says whether they are back on sale. Raises ShippedGoodsComeBack."""
    for i, _ in wanted:
        child = order.children[i]
        if child.id in shipped:
            raise ShippedGoodsComeBack(f"merchant {child.merchant_id} shipped their part: ask for a return",
                                       merchant_order_id=child.id)


class ReturnStatus(StrEnum):
    REQUESTED = "requested"
    ACCEPTED = "accepted"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class ReturnRequest:
    """Shipped units of one merchant's part that the shopper asks to send back, and why; the
    merchant's staff accept it (money goes back, and the units go on sale if the goods came back)
    or reject it. `lines` are (line index in the child, units)."""

    order_id: int
    merchant_order_id: int
    lines: tuple[tuple[int, int], ...]
    reason: str
    requested_at: datetime
    status: ReturnStatus = ReturnStatus.REQUESTED
    id: int | None = None
    decided_at: datetime | None = None
    goods_back: bool | None = None
    rejection: str | None = None
    refunded: Money | None = None

    def wanted(self, child_index: int) -> dict[tuple[int, int], int]:
        """The units to refund, as Order.refunding takes them."""
        return {(child_index, j): qty for j, qty in self.lines}

    def accepted(self, *, goods_back: bool, refunded: Money, at: datetime) -> ReturnRequest:
        """Raises ReturnDecided."""
        self.check_open()
        return replace(self, status=ReturnStatus.ACCEPTED, goods_back=goods_back, refunded=refunded,
                       decided_at=at)

    def rejected(self, *, reason: str, at: datetime) -> ReturnRequest:
        """Raises ReturnDecided."""
        self.check_open()
        return replace(self, status=ReturnStatus.REJECTED, rejection=reason, decided_at=at)

    def check_open(self) -> None:
        """A return is accepted or rejected once. Raises ReturnDecided."""
        if self.status is not ReturnStatus.REQUESTED:
            raise ReturnDecided(f"return {self.id} was {self.status.value} already", return_id=self.id)


def returns_asked(order: Order, lines: Sequence[tuple[int, int]], *, shipped: AbstractSet[int],
                  open_returns: Sequence[ReturnRequest], reason: str,
                  at: datetime) -> list[ReturnRequest]:
    """One request per merchant part for the (SKU, units) `lines`: units of a shipped part, not yet
    refunded nor asked back in a request still open. Raises InvalidInput, NotShipped, ReturnTooLarge."""
    left = _returnable(order, shipped, open_returns)
    asked: dict[int, dict[int, int]] = {}
    for sku_id, qty in lines:
        spots = [(i, j) for i, child in enumerate(order.children) for j, line in enumerate(child.lines)
                 if line.sku_id == sku_id]
        if not spots:
            raise InvalidInput(f"SKU {sku_id} is not in this order", sku_id=sku_id)
        if not any(order.children[i].id in shipped for i, _ in spots):
            raise NotShipped(f"SKU {sku_id} was not shipped yet: refund it instead", sku_id=sku_id)
        for i, j in spots:  # a SKU may sit on two lines of a part (a flash unit and full-price ones)
            take = min(qty, left.get((i, j), 0))
            left[(i, j)] = left.get((i, j), 0) - take
            units = asked.setdefault(i, {})
            units[j] = units.get(j, 0) + take
            qty -= take
        if qty:
            raise ReturnTooLarge(f"{qty} more units of SKU {sku_id} than may be returned", sku_id=sku_id)
    return [ReturnRequest(order.id or 0, order.children[i].id or 0,
                          tuple((j, q) for j, q in sorted(units.items()) if q), reason, at)
            for i, units in sorted(asked.items()) if any(units.values())]


def _returnable(order: Order, shipped: AbstractSet[int],
                open_returns: Sequence[ReturnRequest]) -> dict[tuple[int, int], int]:
    """(child index, line index) → units shipped and neither refunded nor asked back yet."""
    left = {(i, j): line.qty - line.refunded_qty for i, child in enumerate(order.children)
            if child.id in shipped for j, line in enumerate(child.lines)}
    index = {child.id: i for i, child in enumerate(order.children)}
    for request in open_returns:
        if request.status is ReturnStatus.REQUESTED:
            for j, qty in request.lines:
                spot = (index[request.merchant_order_id], j)
                left[spot] = left.get(spot, 0) - qty
    return left


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


PAID_FOR = frozenset({S.PAID, S.FULFILLED, S.COMPLETED, S.PARTIALLY_REFUNDED, S.REFUNDED})
DEPOSIT_KEPT = frozenset({S.DEPOSIT_PAID, S.AWAITING_BALANCE, S.DEPOSIT_FORFEITED})


def money_kept(order: Order) -> Money:
    """What an order says its shopper's payments left with the festival, in the paying currency: nothing
    unpaid or cancelled, the deposit of a pre-sale not yet (or never) paid in full, else what was
    paid less what was refunded."""
    if order.status in DEPOSIT_KEPT and order.presale is not None:
        return order.pay_rate.convert(order.presale.deposit)
    if order.status not in PAID_FOR:
        return Money.zero(order.to_pay.currency)
    refunded = Money(sum(line.refunded.minor for child in order.children for line in child.lines
                         if line.refunded is not None), order.total.currency)
    return order.to_pay - order.pay_rate.convert(refunded)


def coupon_stage(order: Order) -> str:
    """Where the coupons an order used should be: held while it holds units, spent once it is paid,
    free (back in the wallet) once it is cancelled, forfeited or refunded in full."""
    if order.status in HOLDING_STOCK:
        return "held"
    if order.status in PAID_FOR and order.status is not S.REFUNDED:
        return "spent"
    return "free"


@dataclass(frozen=True, slots=True)
class Shipment:
    """A merchant's part on its way: the carrier, its tracking number and when it left."""

    merchant_order_id: int
    carrier: str
    tracking: str
    shipped_at: datetime


VOUCHER_KINDS = frozenset({"deposit_voucher", "service_voucher"})  # the fulfilments that issue vouchers


@dataclass(frozen=True, slots=True)
class Voucher:
    """One voucher a paid order issued for one unit of a deposit or service voucher line: its code is
    what the dealer or provider scans; `status` is "issued" until it is redeemed."""

    code: str
    kind: str  # "deposit_voucher" or "service_voucher"
    status: str
    issued_at: datetime
    order_id: int
    merchant_id: int
    sku_id: int
    title: str

    @property
    def redeemed(self) -> bool:
        return self.status == "redeemed"


# --- where shipped goods go ---------------------------------------------------------------------

class BadAddress(InvalidInput):
    code = "bad-address"
    title = "The delivery address has a field to fix"


class AddressNeeded(InvalidInput):
    code = "address-needed"
    title = "Shipped goods need a delivery address"


_ADDRESS_PHONE = re.compile(r"^\+[1-9][0-9]{6,14}$")  # E.164, as couriers dial it
_ADDRESS_COUNTRY = re.compile(r"^[A-Z]{2}$")
_POSTCODE = re.compile(r"^[A-Z0-9][A-Z0-9 -]{0,11}$")
# Each text field: (its longest, whether it may be left empty).
_ADDRESS_TEXT = {"name": (80, False), "city": (80, False), "line1": (120, False), "line2": (120, True)}
MAX_ADDRESSES = 20


@dataclass(frozen=True, slots=True)
class DeliveryAddress:
    """Where a shopper's shipped goods go. An order keeps a copy of it as it was at checkout, so a
    later edit of the shopper's address book never rewrites where an order went."""

    name: str
    phone: str
    country: str
    city: str
    line1: str
    line2: str = ""
    postcode: str = ""
    id: int | None = None

    def __post_init__(self) -> None:
        for name, (longest, optional) in _ADDRESS_TEXT.items():
            value = getattr(self, name)
            if not isinstance(value, str) or not (optional or value) or len(value) > longest \
                    or any(ord(c) < 0x20 for c in value):
                raise BadAddress(f"{name} is 1 to {longest} characters of text", field=name)
        if not _ADDRESS_PHONE.match(self.phone):
            raise BadAddress(f"{self.phone!r} is not a phone number like +8613800138000", field="phone")
        if not _ADDRESS_COUNTRY.match(self.country):
            raise BadAddress(f"{self.country!r} is not a country code like CN or GB", field="country")
        if self.postcode and not _POSTCODE.match(self.postcode):
            raise BadAddress(f"{self.postcode!r} is not a postcode", field="postcode")

    @classmethod
    def typed(cls, *, name: str, phone: str, country: str, city: str, line1: str, line2: str = "",
              postcode: str = "", id: int | None = None) -> DeliveryAddress:
        """An address as a person types it: spaces trimmed, the phone's spaces and dashes dropped,
        country and postcode in capitals. Raises BadAddress."""
        return cls(name.strip(), re.sub(r"[\s()-]", "", phone), country.strip().upper(), city.strip(),
                   line1.strip(), line2.strip(), postcode.strip().upper(), id)

    def snapshot(self) -> dict[str, str]:
        """The copy an order keeps (without the address book's id)."""
        return {"name": self.name, "phone": self.phone, "country": self.country, "city": self.city,
                "line1": self.line1, "line2": self.line2, "postcode": self.postcode}


RECEIVABLE = frozenset({S.FULFILLED, S.PARTIALLY_REFUNDED})


class NotReceivable(Conflict):
    code = "part-not-receivable"
    title = "Only a shipped part that is not completed or refunded is received"


class AlreadyReceived(Conflict):
    code = "part-already-received"
    title = "The part was received already"


def received(order: Order, merchant_order_id: int, *, shipped: AbstractSet[int]) -> Order:
    """The order once the shopper has received one shipped part: the part is completed, and the
    order too once every part is. A completed part may still be returned under the return rules.
    Raises NotFound (no such part), AlreadyReceived, NotReceivable."""
    index = next((i for i, c in enumerate(order.children) if c.id == merchant_order_id), None)
    if index is None:
        raise NotFound(f"no part {merchant_order_id} in order {order.id}",
                       merchant_order_id=merchant_order_id)
    child = order.children[index]
    if child.status is S.COMPLETED:
        raise AlreadyReceived(f"part {merchant_order_id} was received already",
                              merchant_order_id=merchant_order_id)
    if child.id not in shipped or child.status not in RECEIVABLE:
        raise NotReceivable(f"part {merchant_order_id} is {child.status.value}, not shipped and open",
                            merchant_order_id=merchant_order_id, status=child.status.value)
    children = list(order.children)
    children[index] = replace(child, status=moved(child.status, S.COMPLETED))
    after = replace(order, children=tuple(children))
    if all(c.status is S.COMPLETED for c in children):
        status = order.status
        if status is S.PAID:  # a part completed before the last one shipped left the order paid
            status = moved(status, S.FULFILLED)
        after = replace(after, status=moved(status, S.COMPLETED))
    return after


@dataclass(frozen=True, slots=True)
class StatusChange:
    """When one merchant's part moved to a state: what its timeline shows the time of."""

    merchant_order_id: int
    status: OrderStatus
    at: datetime


def changes_between(before: Order, after: Order, at: datetime) -> list[StatusChange]:
    """The parts whose state `after` moved, each with the moment it did."""
    was = {c.id: c.status for c in before.children}
    return [StatusChange(c.id or 0, c.status, at) for c in after.children if was.get(c.id) is not c.status]
