"""The invariants over plain figures: each breach names its row and its figures."""

from __future__ import annotations

from collections import Counter

from shopfest.audit.model import (
    CouponsSay,
    OrdersSay,
    StockSays,
    coupon_breaches,
    money_breaches,
    stock_breaches,
    voucher_breaches,
)
from shopfest.core.money import Money


def usd(amount: str) -> Money:
    return Money.parse(amount, "USD")


def test_an_order_whose_payments_kept_what_it_says_breaks_nothing() -> None:
    assert list(money_breaches({1: usd("1.43"), 2: usd("0.00")}, {1: usd("1.43")})) == []


def test_a_cent_too_many_refunded_is_a_breach_of_that_order() -> None:
    [breach] = money_breaches({1: usd("0.47")}, {1: usd("0.46")})
    assert (breach.invariant, breach.subject) == ("money-kept", "order 1")
    assert "0.47 USD" in breach.detail and "0.46 USD" in breach.detail


def test_money_kept_for_a_cancelled_order_is_a_breach() -> None:
    [breach] = money_breaches({7: Money.zero("CNY")}, {7: Money.parse("3.37", "CNY")})
    assert breach.subject == "order 7"


def test_payments_of_no_order_are_a_breach_unless_nothing_is_left() -> None:
    assert [b.subject for b in money_breaches({}, {9: usd("1.00"), 10: usd("0.00")})] == ["order 9"]


def test_stock_rows_must_hold_and_sell_what_the_orders_do() -> None:
    said = OrdersSay(reserved=Counter({42: 2}), sold=Counter({42: 1}))
    assert list(stock_breaches(said, StockSays(levels={42: (5, 2, 1)}))) == []
    found = list(stock_breaches(said, StockSays(levels={42: (5, 3, 1), 43: (9, 0, 1)})))
    assert [(b.invariant, b.subject) for b in found] == [
        ("stock-reserved", "SKU 42"), ("stock-sold", "SKU 43")]


def test_a_flash_buyer_row_must_match_the_orders_of_that_shopper() -> None:
    said = OrdersSay(flash_taken=Counter({3: 2}), flash_bought=Counter({(3, 101): 2}))
    stock = StockSays(flash_taken=Counter({3: 2}), flash_bought=Counter({(3, 101): 1}))
    [breach] = stock_breaches(said, stock)
    assert (breach.invariant, breach.subject) == ("flash-bought", "flash sale 3, shopper 101")


def test_a_coupon_claimed_once_more_than_granted_or_spent_by_a_cancelled_order() -> None:
    said = OrdersSay(coupon_stage={5: "free", 6: "spent"})
    coupons = CouponsSay(claimed={1: 3}, grants=Counter({1: 2}),
                         stage_of_grant=[(10, 5, "spent"), (11, 6, "spent")])
    assert [(b.invariant, b.subject) for b in coupon_breaches(said, coupons)] == [
        ("coupon-claimed", "coupon 1"), ("coupon-spent", "grant 10")]


def test_a_paid_voucher_line_has_one_voucher_per_unit() -> None:
    said = OrdersSay(vouchers_due=Counter({(4, 8): 2}), vouchers_issued=Counter({(4, 8): 3}))
    [breach] = voucher_breaches(said)
    assert breach.subject == "child order 4, SKU 8" and "3 recorded, 2 expected" in breach.detail


def test_a_shoppers_unpaid_units_row_must_match_their_unpaid_orders() -> None:
    said = OrdersSay(unpaid=Counter({(101, 42): 3}))
    assert list(stock_breaches(said, StockSays(unpaid=Counter({(101, 42): 3})))) == []
    [breach] = stock_breaches(said, StockSays(unpaid=Counter({(101, 42): 2, (102, 42): 0})))
    assert (breach.invariant, breach.subject) == ("unpaid-held", "shopper 101, SKU 42")
