"""The audit: read every context's figures in one snapshot and report the rows that break an invariant."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from shopfest.audit.model import (
    Breach,
    CouponsSay,
    OrdersSay,
    StockSays,
    coupon_breaches,
    money_breaches,
    stock_breaches,
    voucher_breaches,
)
from shopfest.core.uow import UnitOfWork
from shopfest.inventory import service as inventory
from shopfest.orders import service as orders
from shopfest.orders.model import HOLDING_STOCK, PAID_FOR, VOUCHER_KINDS, Order, coupon_stage, money_kept
from shopfest.payments import service as payments
from shopfest.promotions import service as promotions

ORDERS_A_PAGE = 500


def audit(uow: UnitOfWork, *, progress: Callable[[int], None] | None = None) -> list[Breach]:
    """Every breach of the money, stock, coupon and voucher invariants, read in one snapshot."""
    with uow:
        said = what_orders_say(uow, progress=progress)
        breaches = list(money_breaches(said.kept, payments.kept_by_order(uow)))
        breaches += [Breach("refund-recorded", f"payment {intent_id}",
                            f"{on_intent} refunded on the payment, {in_rows} in its refund rows")
                     for intent_id, on_intent, in_rows in payments.refunds_unlike_rows(uow)]
        figures = inventory.stock_figures(uow)
        stock = StockSays(dict(figures.levels), Counter(figures.flash_taken), Counter(figures.flash_bought),
                          Counter(figures.unpaid))
        breaches += stock_breaches(said, stock)
        claimed, grants, stages = promotions.coupon_figures(uow)
        breaches += coupon_breaches(said, CouponsSay(claimed, Counter(grants), stages))
        breaches += voucher_breaches(said)
    return breaches


def what_orders_say(uow: UnitOfWork, *, progress: Callable[[int], None] | None = None) -> OrdersSay:
    said, after_id = OrdersSay(), 0
    while page := orders.orders_after(uow, after_id, limit=ORDERS_A_PAGE):
        for order in page:
            _tell(said, order)
        after_id = page[-1].id or 0
        if progress is not None:
            progress(len(page))
    said.vouchers_issued.update(orders.voucher_counts(uow))
    return said


def _tell(said: OrdersSay, order: Order) -> None:
    assert order.id is not None
    said.kept[order.id] = money_kept(order)
    said.coupon_stage[order.id] = coupon_stage(order)
    holding = order.status in HOLDING_STOCK
    for child in order.children:
        paid = child.status in PAID_FOR
        for line in child.lines:
            if holding:
                said.reserved[line.sku_id] += line.qty
                said.unpaid[(order.shopper_id, line.sku_id)] += line.qty
            elif paid:
                said.sold[line.sku_id] += line.qty - line.refunded_qty
            if line.flash_sale_id is not None and (holding or paid):
                said.flash_taken[line.flash_sale_id] += line.qty
                said.flash_bought[(line.flash_sale_id, order.shopper_id)] += line.qty
            if paid and line.fulfilment in VOUCHER_KINDS:
                said.vouchers_due[(child.id or 0, line.sku_id)] += line.qty
