"""In-store pay's pure rules: the local discount, what a counter takes, the fee, and settlement days
whose parts add up to their totals in the minor unit."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shopfest.core.errors import InvalidInput
from shopfest.core.money import Money
from shopfest.local.model import ShopKind
from shopfest.local.pay_rules import (
    LOCAL_DISCOUNT,
    BadPayAmount,
    InStorePayment,
    PayStatus,
    VoucherSale,
    payment_fee,
    read_pay_amount,
    settle_day,
    settlement_days,
)
from shopfest.local.settlement import CSV_COLUMNS, settlement_csv

NOON = datetime(2027, 11, 11, 4, tzinfo=UTC)


def cny(text: str) -> Money:
    return Money.parse(text, "CNY")


def test_spend_30_save_5_at_small_shops_three_times_a_day_while_the_sale_is_on() -> None:
    def off(amount: str, kind: ShopKind = ShopKind.GROCERY, uses: int = 0, sale_open: bool = True) -> Money:
        return LOCAL_DISCOUNT.off(cny(amount), kind=kind, uses_today=uses, sale_open=sale_open)

    assert off("30.00") == cny("5.00") and off("999.99") == cny("5.00")
    assert off("29.99") == cny("0")
    assert off("30.00", uses=2) == cny("5.00") and off("30.00", uses=3) == cny("0")
    small = (ShopKind.STREET_STALL, ShopKind.RESTAURANT, ShopKind.SALON)
    assert all(off("30", kind=k) == cny("5") for k in small)
    assert off("30", kind=ShopKind.CAR_DEALER) == cny("0")
    assert off("30", sale_open=False) == cny("0")
    usd = LOCAL_DISCOUNT.off(Money(3000, "USD"), kind=ShopKind.GROCERY, uses_today=0, sale_open=True)
    assert usd == Money(0, "USD")  # the rule is the home market's, in CNY


def test_a_counter_takes_a_typed_amount_in_its_currency_more_than_nothing_up_to_a_cap() -> None:
    assert read_pay_amount("30", "CNY") == cny("30.00")
    assert read_pay_amount(" 30.5 ", "CNY") == cny("30.50")
    for bad in ("0", "-1", "30.001", "1e3", "NaN", "", "100000.01", "9" * 30, "３０"):
        with pytest.raises(BadPayAmount):
            read_pay_amount(bad, "CNY")
    assert read_pay_amount("100000", "CNY") == cny("100000")


def test_the_fee_is_0_6_percent_rounded_half_even_per_payment() -> None:
    assert payment_fee(cny("100.00")) == cny("0.60")
    assert payment_fee(Money(250, "CNY")) == Money(2, "CNY")  # 1.5 -> 2
    assert payment_fee(Money(2750, "CNY")) == Money(16, "CNY")  # 16.5 -> 16
    assert payment_fee(Money(1, "CNY")) == Money(0, "CNY")


def _payment(i: int, amount: int, discount: int) -> InStorePayment:
    return InStorePayment(i, 1, 7, 3, Money(amount, "CNY"), Money(discount, "CNY"),
                          Money(amount - discount, "CNY"), PayStatus.PAID, NOON, NOON)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 10**9), st.booleans()), max_size=30),
       st.lists(st.tuples(st.integers(1, 5), st.integers(0, 10**8)), max_size=10))
def test_a_settlement_days_parts_add_up_to_its_totals_in_the_minor_unit(
        paid: list[tuple[int, bool]], sold: list[tuple[int, int]]) -> None:
    payments = [_payment(i, amount + 500 * off, 500 * off) for i, (amount, off) in enumerate(paid)]
    sales = [VoucherSale(NOON, n, Money(minor, "CNY")) for n, minor in sold]
    day = settle_day(merchant_id=7, day=NOON.date(), currency="CNY", sales=sales, redeemed=2,
                     payments=payments)
    fees = (sum(payment_fee(p.to_pay).minor for p in payments)
            + sum(payment_fee(s.amount).minor for s in sales))
    assert day.qr_payments == len(payments) and day.vouchers_sold == sum(n for n, _ in sold)
    assert day.qr_gross.minor == sum(p.amount.minor for p in payments)
    assert day.qr_gross == day.qr_paid_by_shoppers + day.platform_discounts
    assert day.platform_discounts.minor == 500 * sum(off for _, off in paid)
    assert day.fees.minor == fees
    assert day.net_payout == day.vouchers_sold_amount + day.qr_gross - day.fees
    assert day.net_payout.minor == sum(minor for _, minor in sold) + day.qr_gross.minor - fees
    back = list(csv.DictReader(io.StringIO(settlement_csv([day]))))
    assert [Money.parse(back[0][name], "CNY") for name in ("qr_gross", "fees", "net_payout")] == [
        day.qr_gross, day.fees, day.net_payout]


def test_the_csv_has_a_header_and_a_row_per_day_with_exact_amounts() -> None:
    days = [settle_day(merchant_id=7, day=d, currency="CNY", sales=[], redeemed=0,
                       payments=[_payment(1, 3000, 500)] if d.day == 11 else []) for d in
            settlement_days(date(2027, 11, 10), date(2027, 11, 12))]
    rows = list(csv.reader(io.StringIO(settlement_csv(days))))
    assert tuple(rows[0]) == CSV_COLUMNS and len(rows) == 4
    eleventh = dict(zip(CSV_COLUMNS, rows[2], strict=True))
    assert eleventh["day"] == "2027-11-11" and eleventh["qr_gross"] == "30.00"
    assert eleventh["platform_discounts"] == "5.00" and eleventh["fees"] == "0.15"  # 0.6 % of 25.00
    assert eleventh["net_payout"] == "29.85"


def test_a_settlement_runs_forward_for_at_most_93_days() -> None:
    assert settlement_days(date(2027, 11, 11), date(2027, 11, 11)) == [date(2027, 11, 11)]
    with pytest.raises(InvalidInput):
        settlement_days(date(2027, 11, 12), date(2027, 11, 11))
    with pytest.raises(InvalidInput):
        settlement_days(date(2027, 1, 1), date(2027, 12, 31))
