from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shopfest.core.clock import parse_instant
from shopfest.core.errors import InvalidInput, NotFound
from shopfest.core.money import ExchangeRate, Money
from shopfest.orders.model import (
    AlreadyReceived,
    IllegalTransition,
    MerchantOrder,
    NotReceivable,
    NotShipped,
    Order,
    OrderLine,
    OrderStatus,
    OutsideBalanceWindow,
    Presale,
    RefundTooLarge,
    ReturnDecided,
    ReturnStatus,
    ReturnTooLarge,
    ShippedGoodsComeBack,
    StatusChange,
    changes_between,
    check_unshipped,
    moved,
    received,
    returns_asked,
)
from shopfest.payments import fx
from shopfest.payments.model import IntentStatus, PaymentIntent

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


def paid_order(lines: list[list[OrderLine]], rate: ExchangeRate) -> Order:
    children = tuple(MerchantOrder(k + 1, S.PAID, tuple(ls), Money(sum(x.total.minor for x in ls), "CNY"))
                     for k, ls in enumerate(lines))
    return Order(shopper_id=8, status=S.PAID, children=children, placed_at=MIDNIGHT, expires_at=None,
                 pay_rate=rate)


def test_refunds_in_another_currency_add_up_to_what_was_paid_unit_by_unit() -> None:
    # 3 units of 3.37 CNY paid as 1.43 USD: 0.48 + 0.47 + 0.48, not 0.48 + 0.48 and then too little left
    order = paid_order([[line("10.11", 3)]], ExchangeRate("CNY", "USD", Decimal(1) / Decimal("7.085")))
    assert order.to_pay == Money.parse("1.43", "USD")
    given_back = []
    for _ in range(3):
        order, amount = order.refunding({(0, 0): 1})
        given_back.append(amount.amount)
    assert given_back == ["0.48", "0.47", "0.48"] and order.status is S.REFUNDED


def test_the_same_units_give_back_the_same_whatever_the_steps() -> None:
    bought = line("100.01", 3)
    assert bought.refund_amount(2) == bought.after_refund(1).refund_amount(1) + bought.refund_amount(1)
    assert bought.after_refund(2).refunded == cny("66.67")


# Yuan into the three kinds of minor unit: cents, none (yen), thousandths (dinar).
def rates_into(quote: str, low: str, high: str) -> st.SearchStrategy[ExchangeRate]:
    return st.decimals(Decimal(low), Decimal(high), places=7).map(lambda r: ExchangeRate("CNY", quote, r))


RATES = st.one_of(
    rates_into("USD", "0.1", "0.2"), rates_into("JPY", "15", "30"), rates_into("KWD", "0.03", "0.06"),
    st.sampled_from([fx.rate("CNY", c) for c in ("USD", "JPY", "EUR", "KRW")]),
)


@st.composite
def paid_orders(draw: st.DrawFn) -> Order:
    """A paid order of 10.00 to 1,999.99 CNY in one to three lines over one or two merchants."""
    total = draw(st.integers(1000, 199_999))
    qtys = draw(st.lists(st.integers(1, 12), min_size=1, max_size=3))
    cuts = sorted(draw(st.lists(st.integers(1, total - 1), min_size=len(qtys) - 1,
                                max_size=len(qtys) - 1, unique=True)))
    minors = [b - a for a, b in zip([0, *cuts], [*cuts, total], strict=True)]
    lines = [OrderLine(sku_id=k + 1, product_id=k + 1, title="scarf", fulfilment="shipped", qty=q,
                       unit_price=Money(m // q, "CNY"), total=Money(m, "CNY"))
             for k, (q, m) in enumerate(zip(qtys, minors, strict=True))]
    split = draw(st.integers(1, len(lines)))
    return paid_order([lines[:split], lines[split:]] if split < len(lines) else [lines], draw(RATES))


@settings(max_examples=300, deadline=None)
@given(order=paid_orders(), data=st.data())
def test_refunds_in_any_steps_sum_to_exactly_what_was_paid_and_never_more(
        order: Order, data: st.DataObject) -> None:
    # the payment the refunds draw on refuses anything beyond what it captured
    payment = PaymentIntent(1, 1, "full", order.to_pay, IntentStatus.SUCCEEDED, "sandbox", "pi-1")
    unrefunded = {(i, j): ln.qty for i, c in enumerate(order.children) for j, ln in enumerate(c.lines)}
    one_by_one = data.draw(st.booleans())
    while unrefunded:
        spot = data.draw(st.sampled_from(sorted(unrefunded)))
        qty = 1 if one_by_one else data.draw(st.integers(1, unrefunded[spot]))
        unrefunded[spot] -= qty
        if not unrefunded[spot]:
            del unrefunded[spot]
        order, amount = order.refunding({spot: qty})
        assert amount.currency == order.to_pay.currency and not amount.is_negative
        if amount.minor:
            payment = payment.refunded(amount)  # raises RefundExceedsPayment if it overshoots
        assert payment.refunded_minor == order.pay_rate.convert(order.refunded).minor
    assert order.status is S.REFUNDED and payment.status is IntentStatus.REFUNDED
    assert payment.refunded_minor == order.to_pay.minor


def shipped_and_not(rate: str = "1") -> Order:
    """A paid order whose first part (child 11: 3 scarves, 2 of them a flash line) was shipped and
    whose second (child 12: gloves) was not."""
    scarves = MerchantOrder(1, S.FULFILLED, (replace(line("60.00", 2), flash_sale_id=5), line("45.00", 1)),
                            cny("105.00"), id=11)
    gloves = MerchantOrder(2, S.PAID, (replace(line("80.00", 1), sku_id=2),), cny("80.00"), id=12)
    return replace(an_order(S.PAID, rate=rate), id=7, children=(scarves, gloves))


def test_a_shopper_refunds_unshipped_goods_only() -> None:
    order = shipped_and_not()
    check_unshipped(order, {(1, 0): 1}, {11})
    with pytest.raises(ShippedGoodsComeBack):
        check_unshipped(order, {(0, 1): 1, (1, 0): 1}, {11})


def test_a_return_asks_for_shipped_units_not_refunded_or_asked_yet() -> None:
    order = shipped_and_not()
    # the scarf SKU sits on two lines of the shipped part: three units may be asked back
    (first,) = returns_asked(order, [(1, 2)], shipped={11}, open_returns=[], reason="too warm", at=MIDNIGHT)
    assert (first.merchant_order_id, first.lines, first.status) == (11, ((0, 2),), ReturnStatus.REQUESTED)
    (second,) = returns_asked(order, [(1, 1)], shipped={11}, open_returns=[first], reason="r", at=MIDNIGHT)
    assert second.lines == ((1, 1),)
    with pytest.raises(ReturnTooLarge):
        returns_asked(order, [(1, 1)], shipped={11}, open_returns=[first, second], reason="r", at=MIDNIGHT)
    with pytest.raises(NotShipped):
        returns_asked(order, [(2, 1)], shipped={11}, open_returns=[], reason="r", at=MIDNIGHT)
    with pytest.raises(InvalidInput):
        returns_asked(order, [(99, 1)], shipped={11}, open_returns=[], reason="r", at=MIDNIGHT)
    refunded, _ = order.refunding({(0, 0): 2, (0, 1): 1})
    with pytest.raises(ReturnTooLarge):
        returns_asked(refunded, [(1, 1)], shipped={11}, open_returns=[], reason="r", at=MIDNIGHT)


def test_a_rejected_return_frees_its_units_and_a_return_is_decided_once() -> None:
    order = shipped_and_not()
    (asked,) = returns_asked(order, [(1, 3)], shipped={11}, open_returns=[], reason="r", at=MIDNIGHT)
    rejected = asked.rejected(reason="worn", at=MIDNIGHT)
    assert returns_asked(order, [(1, 3)], shipped={11}, open_returns=[rejected], reason="r", at=MIDNIGHT)
    after, amount = order.refunding(asked.wanted(0))
    accepted = asked.accepted(goods_back=True, refunded=amount, at=MIDNIGHT)
    assert amount == cny("105.00") and after.children[0].status is S.REFUNDED
    for decided in (rejected, accepted):
        with pytest.raises(ReturnDecided):
            decided.accepted(goods_back=False, refunded=amount, at=MIDNIGHT)
        with pytest.raises(ReturnDecided):
            decided.rejected(reason="again", at=MIDNIGHT)


def test_a_received_part_completes_and_the_order_with_its_last_part() -> None:
    order = shipped_and_not()
    first = received(order, 11, shipped={11})
    assert [c.status for c in first.children] == [S.COMPLETED, S.PAID] and first.status is S.PAID
    assert changes_between(order, first, MIDNIGHT) == [StatusChange(11, S.COMPLETED, MIDNIGHT)]
    with pytest.raises(AlreadyReceived):
        received(first, 11, shipped={11})
    with pytest.raises(NotReceivable):  # the gloves were not shipped
        received(first, 12, shipped={11})
    with pytest.raises(NotFound):
        received(first, 99, shipped={11})
    gloves = replace(first.children[1], status=S.FULFILLED)
    gloves_shipped = replace(first, children=(first.children[0], gloves))
    last = received(gloves_shipped, 12, shipped={11, 12})
    assert last.status is S.COMPLETED  # from paid, by way of fulfilled: every part is completed


def test_a_refunded_part_is_not_received_and_a_completed_one_is_still_refunded() -> None:
    order = shipped_and_not()
    refunded, _ = order.refunding({(0, 0): 2, (0, 1): 1})
    with pytest.raises(NotReceivable):
        received(refunded, 11, shipped={11})
    completed = received(order, 11, shipped={11})
    after, _ = completed.refunding({(0, 0): 1})
    assert after.children[0].status is S.PARTIALLY_REFUNDED
