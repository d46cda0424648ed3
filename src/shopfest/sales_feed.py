"""The sales the insights context counts, told by the contexts that make them: a paid order, a refund.
Insights depends on core only (DESIGN.md), so the composition root subscribes this feed to the others'
events (app.make_bus): in the very transaction that makes each fact it emits the sale event
(insights/events.py) to the outbox. `recorded_sales` makes the same events again from the rows, through
the same payload builders, for `shopfest insights rebuild`.

A product is a debut when its debut_at falls within the festival on at the sale (its first phase's
start to its last phase's end). Luxury is the brand's tier. Amounts stay in the order's (catalog)
currency; the payload names the rate to the reporting one: the order's own recorded rate when the
shopper paid in the reporting currency, 1 when the order is in it, else the reference rate (fx.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from shopfest.accounts import service as accounts
from shopfest.catalog import service as catalog
from shopfest.core.uow import UnitOfWork
from shopfest.festival import service as festival
from shopfest.insights.events import (
    InStorePaidCounted,
    OrderPaidCounted,
    OrderRefundCounted,
    SaleCounted,
    VoucherRedeemedCounted,
)
from shopfest.local import instore, vouchers
from shopfest.local.pay_rules import InStorePayment, PayStatus
from shopfest.local.vouchers import VoucherRedeemed
from shopfest.orders import service as orders
from shopfest.orders.model import Order, OrderStatus
from shopfest.orders.service import OrderRefunded
from shopfest.payments import fx
from shopfest.payments import service as payments
from shopfest.payments.model import IntentStatus
from shopfest.payments.service import PaymentSucceeded

# The payments that make an order paid in full (a deposit alone does not).
PAYING = frozenset({"full", "balance"})
# Every order in these states was paid in full once, whatever came after.
WAS_PAID = frozenset({OrderStatus.PAID, OrderStatus.FULFILLED, OrderStatus.COMPLETED,
                      OrderStatus.PARTIALLY_REFUNDED, OrderStatus.REFUNDED})
# (child index, line index, refunded minor units before, after, units refunded)
RefundedLine = tuple[int, int, int, int, int]


class SalesFeed:
    """Turns the others' events into sale events in their transaction, and rings `wake` once that
    transaction is durable (the insights pump then relays it at once)."""

    def __init__(self, reporting: str, *, wake: Callable[[], None] | None = None) -> None:
        self.reporting = reporting
        self.wake = wake

    def on_payment(self, uow: UnitOfWork, event: PaymentSucceeded) -> None:
        """After orders.record_payment: an order now paid in full by this very payment counts (not
        one cancelled meanwhile, whose money went back, nor a second payment of a paid order)."""
        if event.purpose == instore.PURPOSE:
            self._paid_in_store(uow, event)
            return
        if event.purpose not in PAYING:
            return
        order = orders.order_in(uow, event.order_id)
        if order is None or order.status is not OrderStatus.PAID:
            return
        if not _still_taken(uow, event):
            return
        at = _paid_at(uow, order) or uow.clock.now()  # the very time a rebuild reads back
        self._emit(uow, paid_event(uow, order, at=at, reporting=self.reporting))

    def on_refund(self, uow: UnitOfWork, event: OrderRefunded) -> None:
        """Units of a counted order refunded: what goes back leaves the figures."""
        order = orders.order_in(uow, event.order_id)
        if order is not None:
            self._emit(uow, refund_event(uow, order, event.lines, at=event.at, reporting=self.reporting))

    def on_redeemed(self, uow: UnitOfWork, event: VoucherRedeemed) -> None:
        """A voucher redeemed (or its redemption undone) counts among local sales."""
        self._emit(uow, redeemed_event(event, reporting=self.reporting))

    def _paid_in_store(self, uow: UnitOfWork, event: PaymentSucceeded) -> None:
        """After instore.record_paid: a payment it moved to paid counts (not one whose money went back)."""
        payment = instore.payment_in(uow, -event.order_id)
        if payment is not None and payment.status is PayStatus.PAID and _still_taken(uow, event):
            self._emit(uow, instore_event(uow, payment, reporting=self.reporting))

    def _emit(self, uow: UnitOfWork, event: SaleCounted) -> None:
        uow.emit(event)
        if self.wake is not None:
            uow.after_commit(self.wake)


def _still_taken(uow: UnitOfWork, event: PaymentSucceeded) -> bool:
    """The payment's money was kept: not given back at once as unwanted (a cancelled order's)."""
    intent = next((i for i in payments.intents_of(uow, event.order_id) if i.id == event.intent_id), None)
    return intent is not None and intent.status is IntentStatus.SUCCEEDED


def rate_to(order: Order, reporting: str) -> Decimal:
    """What one unit of the order's currency counts as in `reporting`."""
    if order.pay_rate.quote == reporting:
        return order.pay_rate.rate
    return fx.rate(order.total.currency, reporting).rate  # 1 when the order is in `reporting`


def paid_event(uow: UnitOfWork, order: Order, *, at: datetime, reporting: str) -> OrderPaidCounted:
    """The sale of a paid order, at the instant it was paid."""
    describe = _describer(uow, order, at=at)
    lines = tuple({**describe(i, j), "qty": line.qty, "total": line.total.minor,
                   "adjustments": [list(a) for a in line.adjustments]}
                  for i, child in enumerate(order.children) for j, line in enumerate(child.lines))
    return OrderPaidCounted(**_heading(uow, order, at=at, reporting=reporting), lines=lines)


def refund_event(uow: UnitOfWork, order: Order, refunded: Sequence[Sequence[int]], *, at: datetime,
                 reporting: str) -> OrderRefundCounted:
    """What a refund of `refunded` lines gives back, as each line's cumulative refund before and after."""
    describe = _describer(uow, order, at=_paid_at(uow, order) or at)
    lines = tuple({**describe(i, j), "qty": qty, "before": before, "total": after}
                  for i, j, before, after, qty in refunded)
    return OrderRefundCounted(**_heading(uow, order, at=at, reporting=reporting), lines=lines)


def _heading(uow: UnitOfWork, order: Order, *, at: datetime, reporting: str) -> dict[str, Any]:
    return {"at": at, "order_id": order.id, "shopper_id": order.shopper_id,
            "country": accounts.country_in(uow, order.shopper_id), "source": order.source,
            "currency": order.total.currency, "reporting": reporting,
            "rate": str(rate_to(order, reporting))}


def _describer(uow: UnitOfWork, order: Order, *, at: datetime) -> Callable[[int, int], dict[str, Any]]:
    """Each line's merchant, product, brand, category, tier and debut; debuts are judged at `at`, the
    instant the order was paid, so a refund's lines are what its paid lines were."""
    facts = catalog.sale_facts(uow, [line.product_id for c in order.children for line in c.lines])
    on = festival.festival_at(uow, at)

    def describe(i: int, j: int) -> dict[str, Any]:
        child = order.children[i]
        line = child.lines[j]
        fact = facts.get(line.product_id)
        debut = fact is not None and on is not None and on.starts_at <= fact.debut_at <= on.ends_at
        if fact is None:  # a product gone from the catalog still sold
            return {"merchant": child.merchant_id, "product": line.product_id, "brand": None,
                    "brand_name": "", "category": None, "category_name": "", "luxury": False, "debut": False}
        return {"merchant": child.merchant_id, "product": line.product_id, "brand": fact.brand_id,
                "brand_name": fact.brand, "category": fact.category_id, "category_name": fact.category,
                "luxury": fact.luxury, "debut": debut}
    return describe


def _paid_at(uow: UnitOfWork, order: Order) -> datetime | None:
    paid_at = payments.paid_times_of(uow, order.id or 0)
    return paid_at.get("balance") or paid_at.get("full")


def recorded_sales(uow: UnitOfWork, *, reporting: str, batch: int = 500) -> Iterator[SaleCounted]:
    """Every sale the rows hold, inside the caller's transaction: each order paid in full at its paid
    time, one refund per order for all it refunded (at its last refund's time), each paid in-store
    payment, each redemption not undone."""
    after = 0
    while page := orders.orders_after(uow, after, limit=batch):
        after = page[-1].id or after
        for order in page:
            yield from _sales_of(uow, order, reporting=reporting)
    after = 0
    while paid := instore.paid_payments(uow, after_id=after, limit=batch):
        after = paid[-1].id
        yield from (instore_event(uow, payment, reporting=reporting) for payment in paid)
    after = 0
    while standing := vouchers.standing_redemptions(uow, after_id=after, limit=batch):
        after = standing[-1].redemption_id
        yield from (redeemed_event(redeemed, reporting=reporting) for redeemed in standing)


def instore_event(uow: UnitOfWork, payment: InStorePayment, *, reporting: str) -> InStorePaidCounted:
    """A payment at a shop's counter: what was rung up, the festival's discount named on it."""
    currency = payment.amount.currency
    rate = fx.rate(currency, reporting).rate
    line = {"merchant": payment.merchant_id, "product": None, "brand": None, "category": None, "qty": 1,
            "total": payment.amount.minor, "adjustments": [["local_discount", payment.discount.minor]]}
    return InStorePaidCounted(at=payment.paid_at or payment.created_at, order_id=None,
                              shopper_id=payment.shopper_id,
                              country=accounts.country_in(uow, payment.shopper_id), source=None,
                              currency=currency, reporting=reporting, rate=str(rate), lines=(line,))


def redeemed_event(redeemed: VoucherRedeemed, *, reporting: str) -> VoucherRedeemedCounted:
    """A redemption counts one (an undone one minus one); its voucher's order counted the money."""
    line = {"merchant": redeemed.merchant_id, "product": None, "qty": redeemed.units, "total": 0}
    return VoucherRedeemedCounted(at=redeemed.at, order_id=None, shopper_id=None, country="", source=None,
                                  currency=reporting, reporting=reporting, rate="1", lines=(line,))


def _sales_of(uow: UnitOfWork, order: Order, *, reporting: str) -> Iterator[SaleCounted]:
    if order.status not in WAS_PAID:
        return
    paid_at = _paid_at(uow, order)
    if paid_at is None:
        return
    record = payments.payment_record(uow, order.id or 0)
    yield paid_event(uow, order, at=paid_at, reporting=reporting)
    refunded = [(i, j, 0, line.refunded.minor if line.refunded else 0, line.refunded_qty)
                for i, child in enumerate(order.children) for j, line in enumerate(child.lines)
                if line.refunded_qty]
    if refunded:
        at = record.refunds[-1][0] if record.refunds else paid_at
        yield refund_event(uow, order, refunded, at=at, reporting=reporting)
