"""Order use cases after checkout: read, cancel, pay, fulfil, refund, and let unpaid orders expire."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from shopfest.catalog.model import SkuForSale
from shopfest.core.actor import Actor, Role, require_role
from shopfest.core.errors import Conflict, InvalidInput, NotFound
from shopfest.core.uow import UnitOfWork
from shopfest.inventory import service as inventory
from shopfest.inventory.hot_path import StockGate
from shopfest.inventory.model import Claim
from shopfest.orders.checkout import PlaceOrder, check_lines, draft_order
from shopfest.orders.model import Order, OrderStatus, moved
from shopfest.orders.receipts import receipt
from shopfest.orders.shelf import ShelfMemory
from shopfest.orders.store import OrderStore
from shopfest.payments import service as payments
from shopfest.payments.model import IntentStatus, PaymentDeclined
from shopfest.payments.provider import Provider
from shopfest.payments.service import PaymentSucceeded
from shopfest.promotions import service as promotions
from shopfest.promotions.model import Priced

VOUCHER_KINDS = frozenset({"deposit_voucher", "service_voucher"})
# Which orders a succeeded payment of each purpose moves on.
PAYABLE = {
    "full": frozenset({OrderStatus.AWAITING_PAYMENT}),
    "deposit": frozenset({OrderStatus.AWAITING_DEPOSIT}),
    "balance": frozenset({OrderStatus.DEPOSIT_PAID, OrderStatus.AWAITING_BALANCE}),
}


class OrderExpired(Conflict):
    code = "order-expired"
    title = "The order was not paid in time"


def _claims(order: Order) -> list[Claim]:
    return [Claim(line.sku_id, line.qty, order.shopper_id, line.flash_sale_id)
            for child in order.children for line in child.lines]


def _readable(store: OrderStore, actor: Actor | None, order_id: int, *, lock: bool = False) -> Order:
    """The order, if `actor` may see it: its shopper, staff of one of its merchants, an operator."""
    actor = require_role(actor, Role.SHOPPER, Role.MERCHANT, Role.OPERATOR)
    order = store.get(order_id, lock=lock)
    if order is None or not _may_read(actor, order):
        raise NotFound(f"no order {order_id}", order_id=order_id)
    return order


def _may_read(actor: Actor, order: Order) -> bool:
    if actor.role is Role.SHOPPER:
        return order.shopper_id == actor.user_id
    if actor.role is Role.MERCHANT:
        return any(c.merchant_id == actor.merchant_id for c in order.children)
    return actor.is_operator


def _own(store: OrderStore, actor: Actor | None, order_id: int) -> Order:
    """The signed-in shopper's own order, locked for a change. Raises Unauthenticated, Forbidden, NotFound."""
    shopper = require_role(actor, Role.SHOPPER)
    return _readable(store, shopper, order_id, lock=True)


def view(store: OrderStore, actor: Actor | None, order: Order) -> dict[str, Any]:
    merchant_id = actor.merchant_id if actor is not None and actor.role is Role.MERCHANT else None
    vouchers = store.vouchers_of([c.id for c in order.children if c.id is not None])
    return receipt(order, vouchers=vouchers, merchant_id=merchant_id)


def get_order(uow: UnitOfWork, actor: Actor | None, order_id: int) -> dict[str, Any]:
    """An order as its reader may see it; merchant staff see only their merchant's part.

    Raises Unauthenticated, Forbidden, NotFound.
    """
    with uow:
        store = OrderStore(uow.conn)
        return view(store, actor, _readable(store, actor, order_id))


def list_orders(uow: UnitOfWork, actor: Actor | None, *, after_id: int | None,
                limit: int) -> list[dict[str, Any]]:
    """A shopper's own orders, or the orders holding a merchant's children; newest first."""
    actor = require_role(actor, Role.SHOPPER, Role.MERCHANT)
    with uow:
        store = OrderStore(uow.conn)
        if actor.role is Role.SHOPPER:
            found = store.of_shopper(actor.user_id, after_id=after_id, limit=limit)
        else:
            found = store.of_merchant(actor.merchant_id or 0, after_id=after_id, limit=limit)
        return [view(store, actor, order) for order in found]


@dataclass(frozen=True)
class CartQuote:
    """What a cart would cost now, as checkout would price it: the order it would make and the
    engine's explanation (adjustments, applied, hints)."""

    order: Order
    priced: Priced
    skus: dict[int, SkuForSale]


def quote_cart(uow: UnitOfWork, lines: Sequence[tuple[int, int]], *,
               shopper_id: int | None = None) -> CartQuote:
    """Price a cart as checkout would, with the promotions on and, for a shopper, every coupon free
    in their wallet; nothing is reserved or held. Raises InvalidInput."""
    command = PlaceOrder(shopper_id or 0, check_lines(lines))
    with uow:
        now = uow.clock.now()
        shelf = ShelfMemory().shelf(uow, sorted(sku for sku, _ in command.lines), now)
        free = promotions.free_coupons(uow, shopper_id) if shopper_id is not None else []
        offered = promotions.coupons_offered(uow, shopper_id, free, set()) if free and shopper_id else {}
        draft = draft_order(command, shelf=shelf, now=now, minutes=0, offered=offered)
    assert draft.priced is not None
    return CartQuote(draft.order, draft.priced, shelf.skus)


def cancel_order(uow: UnitOfWork, gate: StockGate, actor: Actor | None, order_id: int) -> dict[str, Any]:
    """A shopper cancels an unpaid order; its units go back on sale at once.

    Raises Unauthenticated, Forbidden, NotFound, IllegalTransition.
    """
    with uow:
        store = OrderStore(uow.conn)
        order = _cancelled(uow, gate, _own(store, actor, order_id))
        store.save(order)
        uow.commit()
        return view(store, actor, order)


def _cancelled(uow: UnitOfWork, gate: StockGate, order: Order) -> Order:
    cancelled = order.with_status(OrderStatus.CANCELLED)
    gate.release(uow, _claims(order))
    promotions.give_back_coupons(uow, [order.id or 0])
    return cancelled


def release_lapsed(uow: UnitOfWork, gate: StockGate, *, limit: int = 1000) -> int:
    """The sweeper: unpaid orders past their expiry are cancelled, pre-sales whose balance window
    closed unpaid forfeit their deposit; either way their units go back on sale. Pre-sales whose
    balance window opened now await their balance."""
    with uow:
        store, now = OrderStore(uow.conn), uow.clock.now()
        lapsed = store.by_ids(store.lapsed(now, limit=limit), lock=True)
        for order in lapsed:
            status = order.lapsed(now)
            if status is not None:
                gate.release(uow, _claims(order))
                promotions.give_back_coupons(uow, [order.id or 0])
                store.save(order.with_status(status))
        for order in store.by_ids(store.balances_opening(now, limit=limit), lock=True):
            store.save(order.with_status(OrderStatus.AWAITING_BALANCE))
        uow.commit()
    return len(lapsed)


def pay_order(uow: UnitOfWork, provider: Provider, actor: Actor | None, *, order_id: int,
              method: str) -> dict[str, Any]:
    """The shopper pays in their currency through the provider: the whole order, or a pre-sale's
    deposit and later, in its window, its balance.

    Raises Unauthenticated, Forbidden, NotFound, OrderExpired, IllegalTransition, OutsideBalanceWindow,
    PaymentDeclined (the order stays unpaid).
    """
    with uow:
        store = OrderStore(uow.conn)
        order = _own(store, actor, order_id)
        if order.is_expired(uow.clock.now()):
            raise OrderExpired(f"order {order_id} expired at {order.expires_at}", order_id=order_id)
        purpose, amount = order.amount_due(uow.clock.now())
        intent = payments.open_intent(uow, order_id=order_id, purpose=purpose, amount=amount)
        assert intent.id is not None
        attempt = payments.charge(uow, provider, intent_id=intent.id, method=method)
        uow.commit()  # a declined attempt is kept too
        if attempt.status is IntentStatus.FAILED:
            raise PaymentDeclined(f"the payment of order {order_id} was declined; pay again",
                                  order_id=order_id)
        return view(store, actor, store.get(order_id) or order)


def record_payment(uow: UnitOfWork, event: PaymentSucceeded, *, gate: StockGate) -> None:
    """A payment that succeeded moves its order once: a deposit holds the units; a whole payment or
    a balance sells them (its shopper holds them unpaid no more) and issues the vouchers.

    Money for an order cancelled meanwhile stays recorded on the intent for a refund.
    """
    store = OrderStore(uow.conn)
    order = store.get(event.order_id, lock=True)
    if order is None or order.status not in PAYABLE[event.purpose]:
        return
    paid = order.paid_for(event.purpose)
    store.save(paid)
    if paid.status is not OrderStatus.PAID:
        return
    gate.sell(uow, _claims(order))
    promotions.spend_coupons(uow, [order.id or 0])
    _issue_vouchers(store, paid, at=uow.clock.now())


def _issue_vouchers(store: OrderStore, order: Order, *, at: datetime) -> None:
    rows = [{"code": secrets.token_urlsafe(18), "merchant_order_id": child.id, "sku_id": line.sku_id,
             "kind": line.fulfilment, "status": "issued", "issued_at": at}
            for child in order.children for line in child.lines if line.fulfilment in VOUCHER_KINDS
            for _ in range(line.qty)]
    store.add_vouchers(rows)


def refund_order(uow: UnitOfWork, provider: Provider, actor: Actor | None, *, order_id: int,
                 lines: Sequence[tuple[int, int]] | None, back_on_shelf: bool,
                 refund_key: str) -> dict[str, Any]:
    """Give back what was paid for whole lines or some units of them, after every discount.

    The shopper refunds their own order (units go back on the shelf); a merchant's staff refund
    their own child order and choose whether units go back on the shelf.
    Raises Unauthenticated, Forbidden, NotFound, RefundTooLarge, IllegalTransition.
    """
    actor = require_role(actor, Role.SHOPPER, Role.MERCHANT)
    with uow:
        store = OrderStore(uow.conn)
        order = _readable(store, actor, order_id, lock=True)
        wanted = _refund_lines(order, actor, lines)
        after, amount = order.refunding(wanted)
        claims = [Claim(order.children[i].lines[j].sku_id, qty, order.shopper_id)
                  for (i, j), qty in wanted.items()]
        rate = order.pay_rate
        payments.refund(uow, provider, order_id=order_id, amount=rate.convert(amount),
                        refund_key=refund_key)
        inventory.take_back(uow, claims, back_on_shelf=back_on_shelf or actor.role is Role.SHOPPER)
        if after.status is OrderStatus.REFUNDED:  # refunded in full: the coupons are the shopper's again
            promotions.give_back_coupons(uow, [order_id])
        store.save(after)
        uow.commit()
        return view(store, actor, after)


def _refund_lines(order: Order, actor: Actor,
                  lines: Sequence[tuple[int, int]] | None) -> dict[tuple[int, int], int]:
    """(child index, line index) → units to refund, within the reader's reach."""
    mine = [i for i, c in enumerate(order.children)
            if actor.role is Role.SHOPPER or c.merchant_id == actor.merchant_id]
    if lines is None:
        return {(i, j): line.qty - line.refunded_qty for i in mine
                for j, line in enumerate(order.children[i].lines) if line.qty > line.refunded_qty}
    wanted: dict[tuple[int, int], int] = {}
    for sku_id, qty in lines:
        spot = next(((i, j) for i in mine for j, line in enumerate(order.children[i].lines)
                     if line.sku_id == sku_id), None)
        if spot is None:
            raise InvalidInput(f"SKU {sku_id} is not in this order", sku_id=sku_id)
        wanted[spot] = wanted.get(spot, 0) + qty
    return wanted


def ship(uow: UnitOfWork, actor: Actor | None, *, order_id: int, carrier: str,
         tracking: str) -> dict[str, Any]:
    """A merchant's staff ship their paid child order: a shipment is recorded and it is fulfilled.

    Raises Unauthenticated, Forbidden, NotFound, IllegalTransition.
    """
    staff = require_role(actor, Role.MERCHANT)
    with uow:
        store = OrderStore(uow.conn)
        order = _readable(store, staff, order_id, lock=True)
        children = []
        for child in order.children:
            if child.merchant_id == staff.merchant_id:
                store.add_shipment(merchant_order_id=child.id or 0, carrier=carrier, tracking=tracking,
                                   at=uow.clock.now())
                child = replace(child, status=moved(child.status, OrderStatus.FULFILLED))
            children.append(child)
        after = replace(order, children=tuple(children))
        if all(c.status is OrderStatus.FULFILLED for c in children):
            after = replace(after, status=moved(order.status, OrderStatus.FULFILLED))
        store.save(after)
        uow.commit()
        return view(store, staff, after)


