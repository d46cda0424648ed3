from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest

from shopfest.core.clock import parse_instant
from shopfest.core.errors import InvalidInput
from shopfest.core.money import ExchangeRate, Money
from shopfest.orders.model import (
    IllegalTransition,
    MerchantOrder,
    Order,
    OrderLine,
    OrderStatus,
    OutsideBalanceWindow,
    Presale,
    RefundTooLarge,
    moved,
)

S = OrderStatus
MIDNIGHT = parse_instant("2027-11-11T00:00:00+08:00")


def cny(amount: str) -> Money:
    return Money.parse(amount, "CNY")


def line(total: str, qty: int) -> OrderLine:
    return OrderLine(sku_id=1, product_id=1, title="Aurora scarf", fulfilment="shipped", qty=qty,
                     unit_price=cny("100.00"), total=cny(total))


def an_order(status: OrderStatus = S.AWAITING_PAYMENT, presale: Presale | None = None,
             rate: str = "1") -> Order:
    child = MerchantOrder(1, status, (line("100.00", 1),), cny("100.00"))
    return Order(shopper_id=8, status=status, children=(child,), placed_at=MIDNIGHT,
                 expires_at=MIDNIGHT + timedelta(minutes=15),
                 pay_rate=ExchangeRate("CNY", "USD" if rate != "1" else "CNY", Decimal(rate)),
                 presale=presale)


@pytest.mark.parametrize(("current", "to"), [(S.CANCELLED, S.PAID), (S.PAID, S.AWAITING_PAYMENT),
                                             (S.REFUNDED, S.PARTIALLY_REFUNDED),
                                             (S.AWAITING_DEPOSIT, S.PAID)])
def test_an_illegal_transition_is_its_own_error(current: OrderStatus, to: OrderStatus) -> None:
    with pytest.raises(IllegalTransition):
        moved(current, to)


def test_refunds_of_units_add_up_to_exactly_what_the_line_cost() -> None:
    # three units that cost 100.00 after discounts: 33.33 + 33.33 + 33.34
    bought = line("100.00", 3)
    first = bought.after_refund(1)
    second = first.after_refund(1)
    assert bought.refund_amount(1) == cny("33.33") and first.refund_amount(1) == cny("33.33")
    assert second.refund_amount(1) == cny("33.34")
    with pytest.raises(RefundTooLarge):
        second.refund_amount(2)


def test_a_refund_moves_only_the_children_it_touches_and_pays_back_what_they_cost() -> None:
    # a paid order of two children: 100.00 for 3 units, and 80.00 for 1
    scarves = MerchantOrder(1, S.PAID, (line("100.00", 3),), cny("100.00"))
    gloves = MerchantOrder(2, S.PAID, (line("80.00", 1),), cny("80.00"))
    order = replace(an_order(S.PAID), children=(scarves, gloves))
    once, paid_back = order.refunding({(0, 0): 2})
    assert paid_back == cny("66.66")
    assert (once.status, once.children[0].status, once.children[1].status) == (
        S.PARTIALLY_REFUNDED, S.PARTIALLY_REFUNDED, S.PAID)
    whole, rest = once.refunding({(0, 0): 1, (1, 0): 1})
    assert rest == cny("113.34")  # 33.34 + 80.00: together exactly the 180.00 paid
    assert {whole.status, *(c.status for c in whole.children)} == {S.REFUNDED}
    with pytest.raises(RefundTooLarge):
        whole.refunding({(1, 0): 1})
    with pytest.raises(InvalidInput, match="nothing left to refund"):
        whole.refunding({})


def test_an_unpaid_order_lapses_into_cancelled_and_a_pre_sale_into_forfeited() -> None:
    later = MIDNIGHT + timedelta(minutes=16)
    assert an_order().lapsed(MIDNIGHT) is None
    assert an_order().lapsed(later) is S.CANCELLED
    presale = Presale(cny("10.00"), MIDNIGHT, MIDNIGHT + timedelta(days=1))
    held = an_order(S.AWAITING_DEPOSIT, presale).with_status(S.DEPOSIT_PAID)
    assert held.expires_at == presale.balance_until and held.lapsed(later) is None
    assert held.lapsed(presale.balance_until) is S.DEPOSIT_FORFEITED


def test_a_pre_sale_pays_its_deposit_then_its_balance_in_the_window() -> None:
    presale = Presale(cny("10.00"), MIDNIGHT, MIDNIGHT + timedelta(days=1))
    waiting = an_order(S.AWAITING_DEPOSIT, presale)
    assert waiting.amount_due(MIDNIGHT - timedelta(days=3)) == ("deposit", cny("10.00"))
    held = waiting.paid_for("deposit")
    with pytest.raises(OutsideBalanceWindow):
        held.amount_due(MIDNIGHT - timedelta(seconds=1))
    assert held.amount_due(MIDNIGHT) == ("balance", cny("90.00"))
    assert held.paid_for("balance").status is S.PAID


def test_the_shopper_pays_in_their_currency_at_the_recorded_rate() -> None:
    assert an_order(rate="0.1389").to_pay == Money.parse("13.89", "USD")
