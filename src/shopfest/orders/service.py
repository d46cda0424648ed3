"""Order use cases after checkout: read, cancel, pay, fulfil, refund, and let unpaid orders expire."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from shopfest.catalog import service as catalog
from shopfest.catalog.model import Fulfilment, SkuForSale
from shopfest.core.actor import Actor, Role, require_merchant_staff, require_role
from shopfest.core.errors import Conflict, InvalidInput, NotFound
from shopfest.core.events import DomainEvent
from shopfest.core.money import Money
from shopfest.core.uow import UnitOfWork
from shopfest.inventory import service as inventory
from shopfest.inventory.hot_path import StockGate
from shopfest.inventory.model import Claim, Shortfall
from shopfest.orders import store as store_lists
from shopfest.orders.drafting import PlaceOrder, check_lines, draft_order
from shopfest.orders.model import (
    HOLDING_STOCK,
    MAX_ADDRESSES,
    RECEIVABLE,
    VOUCHER_KINDS,
    AddressNeeded,
    DeliveryAddress,
    MerchantOrder,
    Order,
    OrderStatus,
    ReturnRequest,
    Shipment,
    StatusChange,
    Voucher,
    changes_between,
    check_unshipped,
    moved,
    received,
    returns_asked,
)
from shopfest.orders.receipts import receipt
from shopfest.orders.shelf import ShelfMemory
from shopfest.orders.store import (
    AddressBook,
    OrderStore,
    add_status_changes,
    line_vouchers,
    move_voucher,
    received_before,
    shipments_of,
    shopper_order_ids,
    shopper_vouchers,
    status_changes_of,
    voucher_of_code,
)
from shopfest.payments import service as payments
from shopfest.payments.model import IntentStatus, PaymentDeclined
from shopfest.payments.provider import Provider
from shopfest.payments.service import PaymentSucceeded
from shopfest.promotions import service as promotions
from shopfest.promotions.model import Priced

log = logging.getLogger(__name__)

# Which orders a succeeded payment of each purpose moves on.
PAYABLE = {
    "full": frozenset({OrderStatus.AWAITING_PAYMENT}),
    "deposit": frozenset({OrderStatus.AWAITING_DEPOSIT}),
    "balance": frozenset({OrderStatus.DEPOSIT_PAID, OrderStatus.AWAITING_BALANCE}),
}


class OrderExpired(Conflict):
    code = "order-expired"
    title = "The order was not paid in time"


class PaymentInFlight(Conflict):
    code = "payment-in-flight"
    title = "A payment of the order is being processed"


def _claims(order: Order) -> list[Claim]:
    return [Claim(line.sku_id, line.qty, order.shopper_id, line.flash_sale_id)
            for child in order.children for line in child.lines]


def _readable(store: OrderStore, actor: Actor | None, order_id: int, *, lock: bool = False) -> Order:
    """The order, if `actor` may see it: its shopper, staff of one of its merchants, an operator."""
    actor = require_role(actor, Role.SHOPPER, Role.MERCHANT, Role.OPERATOR)
    own = actor.user_id if actor.role is Role.SHOPPER else None  # a shopper's order is on their shard
    order = store.get(order_id, lock=lock, shopper_id=own)
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
    child_ids = [c.id for c in order.children if c.id is not None]
    return receipt(order, vouchers=store.vouchers_of(child_ids), merchant_id=merchant_id,
                   returns=store.returns_of(child_ids))


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
    """What a cart would cost now, as checkout would price it: the order it would make, the
    engine's explanation (adjustments, applied, hints), and per SKU what checkout would refuse."""

    order: Order
    priced: Priced
    skus: dict[int, SkuForSale]
    shortfalls: dict[int, Shortfall] = field(default_factory=dict)


def quote_cart(uow: UnitOfWork, lines: Sequence[tuple[int, int]], *,
               shopper_id: int | None = None) -> CartQuote:
    """Price a cart as checkout would for this shopper now, with the promotions on and, for a
    shopper, every coupon free in their wallet; and tell which lines checkout would refuse: more
    units than are left, than a flash sale has left, or than its per-shopper limit still lets them
    take (a flash sale's SKU sells only through it while it is on). Nothing is reserved or held.
    Raises InvalidInput."""
    command = PlaceOrder(shopper_id or 0, check_lines(lines))
    with uow:
        now = uow.clock.now()
        shelf = ShelfMemory().shelf(uow, sorted(sku for sku, _ in command.lines), now)
        free = promotions.free_coupons(uow, shopper_id) if shopper_id is not None else []
        offered = promotions.coupons_offered(uow, shopper_id, free, set()) if free and shopper_id else {}
        draft = draft_order(command, shelf=shelf, now=now, minutes=0, offered=offered)
        shortfalls = inventory.shortfalls(uow, draft.claims)
    assert draft.priced is not None
    return CartQuote(draft.order, draft.priced, shelf.skus, shortfalls)


def cancel_order(uow: UnitOfWork, gate: StockGate, actor: Actor | None, order_id: int) -> dict[str, Any]:
    """A shopper cancels an unpaid order; its units go back on sale at once. Not while a payment of
    it is with the gateway: money captured for a cancelled order would be kept.

    Raises Unauthenticated, Forbidden, NotFound, IllegalTransition, PaymentInFlight.
    """
    with uow:
        store = OrderStore(uow.conn)
        order = _own(store, actor, order_id)
        cancelled = order.with_status(OrderStatus.CANCELLED)
        # The order row is locked: no charge starts (pay_order locks it too) until this commits.
        if any(i.status is IntentStatus.PROCESSING for i in payments.intents_of(uow, order_id)):
            raise PaymentInFlight(f"a payment of order {order_id} is being processed; once it fails the "
                                  "order can be cancelled, once it succeeds refunded", order_id=order_id)
        gate.release(uow, _claims(order))
        promotions.give_back_coupons(uow, [order_id])
        _save(store, order, cancelled, at=uow.clock.now())
        uow.commit()
        return view(store, actor, cancelled)


def release_lapsed(uow: UnitOfWork, gate: StockGate, *, limit: int = 1000,
                   complete_after: timedelta | None = None) -> int:
    """The sweeper: unpaid orders past their expiry are cancelled, pre-sales whose balance window
    closed unpaid forfeit their deposit; either way their units go back on sale. Pre-sales whose
    balance window opened now await their balance. Given `complete_after`, parts shipped that long
    ago and not completed or refunded are completed, as if their shopper said they had them. How
    many orders let go of their units.

    Each order moves in a transaction of its own: one that fails (the database refuses it, or it
    cannot be read) is logged and stays as it is, and every other one moves.
    """
    now = uow.clock.now()
    released = _one_by_one(uow, lambda store, n: store.lapsed(now, limit=n),
                           partial(_let_go, uow, gate, now=now), page=limit)
    _one_by_one(uow, lambda store, n: store.balances_opening(now, limit=n),
                partial(_open_balance, uow), page=limit)
    if complete_after is not None:
        cutoff = now - complete_after
        _one_by_one(uow, lambda store, n: received_before(store.conn, cutoff, limit=n),
                    partial(_complete_shipped, uow, cutoff=cutoff), page=limit)
    return released


def _one_by_one(uow: UnitOfWork, due: Callable[[OrderStore, int], list[int]],
                move: Callable[[int], bool], *, page: int) -> int:
    """`move` each order `due` finds, `page` at a time, until it finds none this sweep has not tried;
    how many moved. An order that fails is logged and passed over: however many fail, they never
    hold up the others (those that moved are no longer due)."""
    tried: set[int] = set()
    moved_orders = 0
    while True:
        with uow:
            found = due(OrderStore(uow.conn), page + len(tried))
        todo = [order_id for order_id in found if order_id not in tried][:page]
        if not todo:
            return moved_orders
        for order_id in todo:
            tried.add(order_id)
            try:
                moved_orders += move(order_id)
            except Exception:  # noqa: BLE001  # one order's failure must not stop the sweep
                log.exception("the sweeper could not move order %s; it stays as it is", order_id)


def _let_go(uow: UnitOfWork, gate: StockGate, order_id: int, *, now: datetime) -> bool:
    """A lapsed order lets go of its units; False if it was paid or cancelled meanwhile."""
    with uow:
        store = OrderStore(uow.conn)
        order = store.get(order_id, lock=True)
        status = None if order is None else order.lapsed(now)
        if order is None or status is None:
            return False
        gate.release(uow, _claims(order))
        promotions.give_back_coupons(uow, [order_id])
        _save(store, order, order.with_status(status), at=uow.clock.now())
        uow.commit()
    return True


def _open_balance(uow: UnitOfWork, order_id: int) -> bool:
    """A pre-sale whose balance window opened awaits its balance; False if it moved meanwhile."""
    with uow:
        store = OrderStore(uow.conn)
        order = store.get(order_id, lock=True)
        if order is None or order.status is not OrderStatus.DEPOSIT_PAID:
            return False
        _save(store, order, order.with_status(OrderStatus.AWAITING_BALANCE), at=uow.clock.now())
        uow.commit()
    return True


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
        return view(store, actor, store.get(order_id, shopper_id=order.shopper_id) or order)


def record_payment(uow: UnitOfWork, event: PaymentSucceeded, *, provider: Provider, gate: StockGate) -> None:
    """A payment that succeeded moves its order once: a deposit holds the units; a whole payment or
    a balance sells them (its shopper holds them unpaid no more) and issues the vouchers.

    Money captured for an order that can no longer take it (cancelled or forfeited while the gateway
    was still processing) goes back in full through `provider`, once whatever repeats the news.
    """
    if event.purpose not in PAYABLE:
        return  # not an order's payment (an in-store payment is the local context's)
    store = OrderStore(uow.conn)
    order = store.get(event.order_id, lock=True)
    if order is None:
        return  # an intent opened outside any order (payments on their own)
    if order.status not in PAYABLE[event.purpose]:
        payments.refund_intent(uow, provider, intent_id=event.intent_id,
                               refund_key=unwanted_payment_key(event.intent_id))
        return
    paid = order.paid_for(event.purpose)
    _save(store, order, paid, at=uow.clock.now())
    if paid.status is not OrderStatus.PAID:
        return
    gate.sell(uow, _claims(order))
    promotions.spend_coupons(uow, [order.id or 0])
    _issue_vouchers(store, paid, at=uow.clock.now())


def unwanted_payment_key(intent_id: int) -> str:
    """The refund key of the money an intent captured for an order that could not take it: one per
    intent, so it is paid back once."""
    return f"auto:intent:{intent_id}"


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
        if actor.role is Role.SHOPPER:
            check_unshipped(order, wanted, store.shipped([c.id or 0 for c in order.children]))
        on_shelf = back_on_shelf or actor.role is Role.SHOPPER  # a shopper's goods never left
        after, _ = _refund(uow, provider, order, wanted, back_on_shelf=on_shelf, refund_key=refund_key)
        _save(store, order, after, at=uow.clock.now())
        uow.commit()
        return view(store, actor, after)


def _refund(uow: UnitOfWork, provider: Provider, order: Order, wanted: dict[tuple[int, int], int], *,
            back_on_shelf: bool, refund_key: str) -> tuple[Order, Money]:
    """The order once the `wanted` units are refunded: the money goes back, the units leave `sold`
    (back on sale, or written off), and a whole refund frees its coupons. The caller saves it."""
    after, amount = order.refunding(wanted)
    uow.emit(refunded_event(order, after, wanted, at=uow.clock.now()))
    _void_vouchers(uow, order, wanted)
    claims = [Claim(order.children[i].lines[j].sku_id, qty, order.shopper_id)
              for (i, j), qty in wanted.items()]
    amount = _pay_back(uow, provider, after, amount, refund_key=refund_key)
    inventory.take_back(uow, claims, back_on_shelf=back_on_shelf)
    if after.status is OrderStatus.REFUNDED:  # refunded in full: the coupons are the shopper's again
        promotions.give_back_coupons(uow, [order.id or 0])
    return after, amount


def _pay_back(uow: UnitOfWork, provider: Provider, after: Order, amount: Money, *, refund_key: str) -> Money:
    """Give `amount` back through payments, and say what went back: the refund that leaves nothing of
    the order unrefunded takes exactly what its payments still hold; units worth less than the paying
    currency's minor unit give nothing back."""
    order_id = after.id or 0
    if after.status is OrderStatus.REFUNDED:
        amount = payments.left_to_refund(uow, order_id=order_id, currency=amount.currency)
    if amount.minor > 0:
        payments.refund(uow, provider, order_id=order_id, amount=amount, refund_key=refund_key)
    return amount


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
        # A part its shopper received before the last one shipped is completed, and was shipped too.
        if all(c.status in (OrderStatus.FULFILLED, OrderStatus.COMPLETED) for c in children):
            after = replace(after, status=moved(order.status, OrderStatus.FULFILLED))
        _save(store, order, after, at=uow.clock.now())
        uow.commit()
        return view(store, staff, after)


def ask_for_return(uow: UnitOfWork, actor: Actor | None, *, order_id: int, lines: Sequence[tuple[int, int]],
                   reason: str) -> dict[str, Any]:
    """The shopper asks to send shipped units back, with a reason: one request per merchant part,
    which its staff accept or reject; nothing moves until then.

    Raises Unauthenticated, Forbidden, NotFound, InvalidInput, NotShipped, ReturnTooLarge.
    """
    with uow:
        store = OrderStore(uow.conn)
        order = _own(store, actor, order_id)
        child_ids = [c.id or 0 for c in order.children]
        open_returns = [r for found in store.returns_of(child_ids).values() for r in found]
        for request in returns_asked(order, check_lines(lines), shipped=store.shipped(child_ids),
                                     open_returns=open_returns, reason=reason, at=uow.clock.now()):
            store.add_return(request)
        uow.commit()
        return view(store, actor, order)


def accept_return(uow: UnitOfWork, provider: Provider, actor: Actor | None, *, order_id: int, return_id: int,
                  goods_back: bool) -> dict[str, Any]:
    """The merchant's staff accept a return of their part, once: what the units cost goes back to the
    shopper, and the units go on sale again only if the goods came back (else they are written off).

    Raises Unauthenticated, Forbidden, NotFound, ReturnDecided, RefundTooLarge, IllegalTransition.
    """
    with uow:
        store = OrderStore(uow.conn)
        order, request, child_index = _staff_return(store, actor, order_id, return_id)
        request.check_open()
        after, amount = _refund(uow, provider, order, request.wanted(child_index), back_on_shelf=goods_back,
                                refund_key=f"return:{return_id}")
        _save(store, order, after, at=uow.clock.now())
        store.save_return(request.accepted(goods_back=goods_back, refunded=amount, at=uow.clock.now()))
        uow.commit()
        return view(store, actor, after)


def reject_return(uow: UnitOfWork, actor: Actor | None, *, order_id: int, return_id: int,
                  reason: str) -> dict[str, Any]:
    """The merchant's staff turn down a return of their part, saying why; nothing moves.

    Raises Unauthenticated, Forbidden, NotFound, ReturnDecided.
    """
    with uow:
        store = OrderStore(uow.conn)
        order, request, _ = _staff_return(store, actor, order_id, return_id)
        store.save_return(request.rejected(reason=reason, at=uow.clock.now()))
        uow.commit()
        return view(store, actor, order)


def _staff_return(store: OrderStore, actor: Actor | None, order_id: int,
                  return_id: int) -> tuple[Order, ReturnRequest, int]:
    """The order (locked), a return of the staff's own part of it, and that part's index; anyone
    else's return is not found. Raises Unauthenticated, Forbidden, NotFound."""
    staff = require_role(actor, Role.MERCHANT)
    order = _readable(store, staff, order_id, lock=True)
    mine = {c.id or 0: i for i, c in enumerate(order.children) if c.merchant_id == staff.merchant_id}
    found = [r for child_id, requests in store.returns_of(list(mine)).items() for r in requests
             if r.id == return_id and child_id in mine]
    if not found:
        raise NotFound(f"no return {return_id} of order {order_id}", return_id=return_id)
    return order, found[0], mine[found[0].merchant_order_id]


def orders_after(uow: UnitOfWork, after_id: int, *, limit: int) -> list[Order]:
    """The next `limit` orders by id after `after_id`, inside the caller's transaction."""
    return OrderStore(uow.conn).page_after(after_id, limit=limit)


def voucher_counts(uow: UnitOfWork) -> dict[tuple[int, int], int]:
    """Vouchers issued per (child order, SKU), inside the caller's transaction."""
    return OrderStore(uow.conn).voucher_counts()


@dataclass(frozen=True)
class OrderFile:
    """One order as its shopper follows it: the order, each part's shipments, returns and voucher
    codes (by child order id), its payments and refunds, and the moment it was read."""

    order: Order
    shipments: dict[int, list[Shipment]]
    returns: dict[int, list[ReturnRequest]]
    vouchers: dict[int, list[str]]
    payments: payments.PaymentRecord
    now: datetime
    changes: dict[int, list[StatusChange]] = field(default_factory=dict)  # by child order id


def shopper_order(uow: UnitOfWork, actor: Actor | None, order_id: int) -> OrderFile:
    """The signed-in shopper's own order and what happened to it; anyone else's is not found.

    Raises Unauthenticated, Forbidden, NotFound.
    """
    shopper = require_role(actor, Role.SHOPPER)
    with uow:
        store = OrderStore(uow.conn)
        order = _readable(store, shopper, order_id)
        child_ids = [c.id or 0 for c in order.children]
        return OrderFile(order, shipments_of(uow.conn, child_ids), store.returns_of(child_ids),
                         store.vouchers_of(child_ids), payments.payment_record(uow, order_id),
                         uow.clock.now(), status_changes_of(uow.conn, child_ids))


@dataclass(frozen=True)
class OrdersPage:
    """A page of a shopper's orders, newest first, and whether newer or older ones lie beyond it."""

    orders: list[Order]
    newer: bool
    older: bool


def shopper_orders(uow: UnitOfWork, actor: Actor | None, *, before: int | None = None,
                   after: int | None = None, limit: int = 10) -> OrdersPage:
    """The signed-in shopper's orders, newest first: older than `before`, or the page just newer
    than `after`. Raises Unauthenticated, Forbidden."""
    shopper = require_role(actor, Role.SHOPPER)
    with uow:
        store = OrderStore(uow.conn)
        ids = shopper_order_ids(uow.conn, shopper.user_id, before=before, after=after, limit=limit)
        if not ids:
            return OrdersPage([], newer=after is not None, older=before is not None)
        newer = shopper_order_ids(uow.conn, shopper.user_id, before=None, after=ids[0], limit=1)
        older = shopper_order_ids(uow.conn, shopper.user_id, before=ids[-1], after=None, limit=1)
        mine = store.by_ids(ids, shopper_id=shopper.user_id)  # one shard on Citus
        return OrdersPage(sorted(mine, key=lambda o: -(o.id or 0)), bool(newer), bool(older))


def refund_part(uow: UnitOfWork, provider: Provider, actor: Actor | None, *, order_id: int,
                merchant_order_id: int, refund_key: str) -> dict[str, Any]:
    """The shopper takes back one merchant's part not shipped yet: what they paid for every unit of
    it not refunded before goes back, after every discount, and the units go back on sale.

    Raises Unauthenticated, Forbidden, NotFound, InvalidInput, ShippedGoodsComeBack, IllegalTransition.
    """
    with uow:
        store = OrderStore(uow.conn)
        order = _own(store, actor, order_id)
        index = next((i for i, c in enumerate(order.children) if c.id == merchant_order_id), None)
        if index is None:
            raise NotFound(f"no part {merchant_order_id} in order {order_id}",
                           merchant_order_id=merchant_order_id)
        wanted = {(index, j): line.qty - line.refunded_qty
                  for j, line in enumerate(order.children[index].lines) if line.qty > line.refunded_qty}
        check_unshipped(order, wanted, store.shipped([c.id or 0 for c in order.children]))
        after, _ = _refund(uow, provider, order, wanted, back_on_shelf=True, refund_key=refund_key)
        _save(store, order, after, at=uow.clock.now())
        uow.commit()
        return view(store, actor, after)


@dataclass(frozen=True)
class SalesFigure:
    """Paid parts of orders and what they sold for, in one currency."""

    parts: int
    sold: Money


@dataclass(frozen=True)
class FestivalSales:
    """The festival's sales so far, per currency: in all, and per span asked for (its phases)."""

    overall: dict[str, SalesFigure]
    per_span: list[dict[str, SalesFigure]]


def festival_sales(uow: UnitOfWork, actor: Actor | None, *,
                   spans: Sequence[tuple[datetime, datetime]] = ()) -> FestivalSales:
    """Operators read the count and sum of paid order parts, in all and placed within each span.
    Raises Unauthenticated, Forbidden."""
    require_role(actor, Role.OPERATOR)
    with uow:
        rows = store_lists.paid_parts(uow.conn, spans)
    per_span = [{currency: SalesFigure(figures[n][0], Money(figures[n][1], currency))
                 for currency, figures in rows} for n in range(len(spans) + 1)]
    return FestivalSales(per_span[0], per_span[1:])


# --- the seller centre's orders (web/seller_desk.py) ----------------------------------------

@dataclass(frozen=True)
class MerchantPart:
    """One merchant's part of an order as its staff see it: the order it belongs to, when it was
    placed, its shipment, the returns asked of it, and (read one part at a time) where it goes."""

    order_id: int
    placed_at: datetime
    part: MerchantOrder
    shipment: Shipment | None = None
    returns: tuple[ReturnRequest, ...] = ()
    delivery: DeliveryAddress | None = None

    @property
    def id(self) -> int:
        return self.part.id or 0


def _parts(uow: UnitOfWork, found: Sequence[tuple[MerchantOrder, int, datetime]]) -> list[MerchantPart]:
    child_ids = [child.id or 0 for child, _, _ in found]
    shipped = shipments_of(uow.conn, child_ids)
    returns = OrderStore(uow.conn).returns_of(child_ids)
    return [MerchantPart(order_id, placed_at, child,
                         shipped[child.id or 0][-1] if (child.id or 0) in shipped else None,
                         tuple(returns.get(child.id or 0, ())))
            for child, order_id, placed_at in found]


def merchant_parts(uow: UnitOfWork, actor: Actor | None, *, status: OrderStatus | None = None,
                   before_id: int | None = None, limit: int = 20) -> list[MerchantPart]:
    """The staff's merchant's parts of orders, newest first, of one status if asked, paged by id.
    Raises Unauthenticated, Forbidden."""
    _, merchant_id = require_merchant_staff(actor)
    with uow:
        found = store_lists.parts_of_merchant(uow.conn, merchant_id, status=status.value if status else None,
                                        before_id=before_id, limit=limit)
        return _parts(uow, found)


def merchant_part(uow: UnitOfWork, actor: Actor | None, part_id: int) -> MerchantPart:
    """One part of the staff's own merchant; anyone else's is not found.
    Raises Unauthenticated, Forbidden, NotFound."""
    _, merchant_id = require_merchant_staff(actor)
    with uow:
        found = store_lists.part_of_merchant(uow.conn, merchant_id, part_id)
        if found is None:
            raise NotFound(f"no order part {part_id}", part_id=part_id)
        part = _parts(uow, [found])[0]
        return replace(part, delivery=AddressBook(uow.conn).delivery_of(part.order_id))


@dataclass(frozen=True)
class ReturnToDecide:
    """A return asked of the staff's part, and what accepting it would give back to the shopper."""

    part: MerchantPart
    request: ReturnRequest
    refund: Money


def returns_to_decide(uow: UnitOfWork, actor: Actor | None, *, limit: int = 100) -> list[ReturnToDecide]:
    """The returns asked of the staff's merchant's parts and not decided yet, oldest first.
    Raises Unauthenticated, Forbidden."""
    _, merchant_id = require_merchant_staff(actor)
    with uow:
        requests = store_lists.open_returns_of_merchant(uow.conn, merchant_id, limit=limit)
        orders = {o.id: o for o in OrderStore(uow.conn).by_ids(sorted({r.order_id for r in requests}))}
        found = [store_lists.part_of_merchant(uow.conn, merchant_id, r.merchant_order_id) for r in requests]
        parts = {p.id: p for p in _parts(uow, [f for f in found if f is not None])}
    return [ReturnToDecide(parts[r.merchant_order_id], r, _refund_of(orders[r.order_id], r))
            for r in requests]


def _refund_of(order: Order, request: ReturnRequest) -> Money:
    """What accepting the return would give back, in the shopper's currency."""
    child_index = next(i for i, c in enumerate(order.children) if c.id == request.merchant_order_id)
    _, amount = order.refunding(request.wanted(child_index))
    return amount


# --- delivery addresses -------------------------------------------------------------------------

class AddressBookFull(Conflict):
    code = "address-book-full"
    title = "The address book is full"


def delivery_addresses(uow: UnitOfWork, actor: Actor | None) -> list[DeliveryAddress]:
    """The signed-in shopper's delivery addresses, oldest first. Raises Unauthenticated, Forbidden."""
    shopper = require_role(actor, Role.SHOPPER)
    with uow:
        return AddressBook(uow.conn).of_shopper(shopper.user_id)


def delivery_address(uow: UnitOfWork, actor: Actor | None, address_id: int) -> DeliveryAddress:
    """One of the shopper's own addresses; anyone else's is not found. Raises Unauthenticated,
    Forbidden, NotFound."""
    shopper = require_role(actor, Role.SHOPPER)
    with uow:
        found = AddressBook(uow.conn).get(shopper.user_id, address_id)
    if found is None:
        raise NotFound(f"no address {address_id}", address_id=address_id)
    return found


def add_delivery_address(uow: UnitOfWork, actor: Actor | None, address: DeliveryAddress) -> DeliveryAddress:
    """Keep an address in the shopper's book, up to MAX_ADDRESSES. Raises Unauthenticated,
    Forbidden, AddressBookFull."""
    shopper = require_role(actor, Role.SHOPPER)
    with uow:
        book = AddressBook(uow.conn)
        if book.count(shopper.user_id) >= MAX_ADDRESSES:
            raise AddressBookFull(f"an address book holds {MAX_ADDRESSES} addresses; delete one first",
                                  most=MAX_ADDRESSES)
        saved = book.add(shopper.user_id, address)
        uow.commit()
    return saved


def change_delivery_address(uow: UnitOfWork, actor: Actor | None,
                            address: DeliveryAddress) -> DeliveryAddress:
    """Edit one of the shopper's own addresses; orders placed to it keep their copy. Raises
    Unauthenticated, Forbidden, NotFound."""
    shopper = require_role(actor, Role.SHOPPER)
    with uow:
        if address.id is None or not AddressBook(uow.conn).change(shopper.user_id, address):
            raise NotFound(f"no address {address.id}", address_id=address.id)
        uow.commit()
    return address


def remove_delivery_address(uow: UnitOfWork, actor: Actor | None, address_id: int) -> None:
    """Delete one of the shopper's own addresses; orders placed to it keep their copy. Raises
    Unauthenticated, Forbidden, NotFound."""
    shopper = require_role(actor, Role.SHOPPER)
    with uow:
        if not AddressBook(uow.conn).remove(shopper.user_id, address_id):
            raise NotFound(f"no address {address_id}", address_id=address_id)
        uow.commit()


def needs_delivery(uow: UnitOfWork, sku_ids: Sequence[int]) -> bool:
    """Whether any of these SKUs is shipped goods, which go to an address (vouchers do not)."""
    with uow:
        skus = catalog.skus_for_sale(uow, sku_ids)
    return any(sku.fulfilment is Fulfilment.SHIPPED for sku in skus.values())


def delivery_for_checkout(uow: UnitOfWork, actor: Actor | None, *, sku_ids: Sequence[int],
                          address_id: int | None, required: bool) -> DeliveryAddress | None:
    """Where a checkout's shipped goods go: the shopper's address `address_id` (another's is not
    found); without one, None, unless `required` (the pages) and the cart holds shipped goods.
    Raises Unauthenticated, Forbidden, NotFound, AddressNeeded."""
    if address_id is not None:
        return delivery_address(uow, actor, address_id)
    require_role(actor, Role.SHOPPER)
    if required and needs_delivery(uow, sku_ids):
        raise AddressNeeded("the cart holds goods to ship: choose the address they go to",
                            field="address_id")
    return None


def delivery_of_order(uow: UnitOfWork, actor: Actor | None, order_id: int) -> DeliveryAddress | None:
    """Where the order's shipped goods go, as it was at checkout; None when it was given none.
    Raises Unauthenticated, Forbidden, NotFound."""
    with uow:
        store = OrderStore(uow.conn)
        _readable(store, actor, order_id)
        return AddressBook(uow.conn).delivery_of(order_id)


def _save(store: OrderStore, before: Order, after: Order, *, at: datetime) -> None:
    """Write back an order that moved, and when each of its parts moved, for the timeline."""
    store.save(after)
    add_status_changes(store.conn, changes_between(before, after, at))


def confirm_receipt(uow: UnitOfWork, actor: Actor | None, *, order_id: int,
                    merchant_order_id: int) -> dict[str, Any]:
    """The shopper says they have received one shipped part of their own order: it is completed,
    once. A completed part may still be returned under the return rules.

    Raises Unauthenticated, Forbidden, NotFound, NotReceivable, AlreadyReceived.
    """
    with uow:
        store = OrderStore(uow.conn)
        order = _own(store, actor, order_id)
        after = received(order, merchant_order_id, shipped=store.shipped([c.id or 0 for c in order.children]))
        _save(store, order, after, at=uow.clock.now())
        uow.commit()
        return view(store, actor, after)


def _complete_shipped(uow: UnitOfWork, order_id: int, *, cutoff: datetime) -> bool:
    """Every part of the order shipped before `cutoff` and still open is completed; False if none was
    (completed or refunded meanwhile)."""
    with uow:
        store = OrderStore(uow.conn)
        order = store.get(order_id, lock=True)
        if order is None:
            return False
        child_ids = [c.id or 0 for c in order.children]
        due = {child_id for child_id, found in shipments_of(uow.conn, child_ids).items()
               if max(s.shipped_at for s in found) <= cutoff}
        after = order
        for child in order.children:
            if child.id in due and child.status in RECEIVABLE:
                after = received(after, child.id or 0, shipped=due)
        if after is order:
            return False
        _save(store, order, after, at=uow.clock.now())
        uow.commit()
    return True


# --- sales attributed to where the orders were placed from (a live event's room) -----------------

# An order counts as sold once paid (shipped, done, partly refunded too); as pending while it holds
# units unpaid (a pre-sale until its balance is paid); a cancelled, refunded or forfeited one not at all.
SOLD = frozenset({OrderStatus.PAID, OrderStatus.FULFILLED, OrderStatus.COMPLETED,
                  OrderStatus.PARTIALLY_REFUNDED})


@dataclass(frozen=True)
class SalesTally:
    orders: int = 0
    units: int = 0
    totals: dict[str, Money] = field(default_factory=dict)  # by the catalog's currency


@dataclass(frozen=True)
class SourceSales:
    """The orders placed from one source: those paid, and those still awaiting payment."""

    paid: SalesTally
    unpaid: SalesTally


def sales_from(uow: UnitOfWork, source: str) -> SourceSales:
    """What the orders placed from `source` (`live:12`) sold: paid orders, units and totals per
    currency, and the unpaid ones apart. One grouped read of the source's rows with their orders."""
    with uow:
        rows = store_lists.sales_by_status(uow.conn, source)
    return SourceSales(_tally([r for r in rows if r[0] in SOLD]),
                       _tally([r for r in rows if r[0] in HOLDING_STOCK]))


def _tally(rows: Sequence[tuple[str, str, int, int, int]]) -> SalesTally:
    totals: dict[str, Money] = {}
    for _, currency, _, _, minor in rows:
        totals[currency] = totals.get(currency, Money.zero(currency)) + Money(minor, currency)
    return SalesTally(sum(r[2] for r in rows), sum(r[3] for r in rows), totals)


def placed_from(uow: UnitOfWork, source: str) -> tuple[int, int]:
    """Orders placed from `source` and their units, whatever became of them: a room's running count."""
    with uow:
        return store_lists.placed_from(uow.conn, source)


def voucher_sales(uow: UnitOfWork, merchant_id: int, *, start: datetime,
                  end: datetime) -> list[tuple[datetime, int, Money]]:
    """A merchant's voucher sales paid from `start` until before `end`, for its settlement: (when
    paid, vouchers issued, their share of the child order in the merchant's settlement currency)
    (inside the caller's transaction)."""
    return store_lists.voucher_sales(uow.conn, merchant_id, start=start, end=end)


# --- vouchers after the sale: the local context redeems them (through its port, app.py), refunds void them

class VouchersRedeemed(Conflict):
    code = "vouchers-redeemed"
    title = "The vouchers to refund are redeemed already"


def voucher_by_code(uow: UnitOfWork, code: str) -> Voucher | None:
    """A voucher by its code with its merchant, in the caller's transaction."""
    return voucher_of_code(uow.conn, code)


def set_voucher_status(uow: UnitOfWork, code: str, *, was: str, to: str) -> bool:
    """Move a voucher from `was` to `to` in the caller's transaction, if nobody moved it first: of
    two counters redeeming it at once, exactly one sees True."""
    return move_voucher(uow.conn, code, was=was, to=to)


def _void_vouchers(uow: UnitOfWork, order: Order, wanted: dict[tuple[int, int], int]) -> None:
    """Each refunded unit of a voucher line voids one of its vouchers still unredeemed; a line not
    paid yet has none to void. Raises VouchersRedeemed when too few are left unredeemed."""
    for (i, j), qty in wanted.items():
        child, line = order.children[i], order.children[i].lines[j]
        if line.fulfilment not in VOUCHER_KINDS or qty <= 0:
            continue
        held = line_vouchers(uow.conn, child.id or 0, line.sku_id)
        if not held:
            continue
        unused = held.get("issued", [])
        voided = [code for code in unused[:qty]
                  if move_voucher(uow.conn, code, was="issued", to="void")]
        if len(voided) < qty:
            raise VouchersRedeemed(
                f"only {len(voided)} of the {qty} vouchers of SKU {line.sku_id} to refund are unredeemed: a "
                "redeemed voucher was used in the shop and is not refunded", sku_id=line.sku_id,
                unredeemed=len(voided), asked=qty)


def shopper_vouchers_in(uow: UnitOfWork, shopper_id: int, *, limit: int = 200) -> list[Voucher]:
    """The vouchers a shopper's paid orders issued, newest first, in the caller's transaction."""
    return shopper_vouchers(uow.conn, shopper_id, limit=limit)


# --- what the insights context counts (sales_feed.py turns it into a sale event) -----------------

@dataclass(frozen=True)
class OrderRefunded(DomainEvent):
    """Units of a paid order were refunded: `lines` are [child index, line index, the line's
    cumulative refunded minor units before, after (catalog currency), units refunded now]."""

    order_id: int
    at: datetime
    lines: tuple[tuple[int, int, int, int, int], ...]


def refunded_event(before: Order, after: Order, wanted: dict[tuple[int, int], int], *,
                   at: datetime) -> OrderRefunded:
    def refunded(order: Order, i: int, j: int) -> int:
        line = order.children[i].lines[j]
        return line.refunded.minor if line.refunded is not None else 0

    return OrderRefunded(before.id or 0, at, tuple((i, j, refunded(before, i, j), refunded(after, i, j), qty)
                                                   for (i, j), qty in sorted(wanted.items())))


def order_in(uow: UnitOfWork, order_id: int) -> Order | None:
    """An order, inside the caller's transaction."""
    return OrderStore(uow.conn).get(order_id)
