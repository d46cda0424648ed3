from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shopfest.core.errors import CurrencyMismatch, InvalidAmount, UnknownCurrency
from shopfest.core.money import MINOR_UNITS, ExchangeRate, Money


@pytest.mark.parametrize("text, currency, minor, printed", [
    ("199.00", "CNY", 19900, "199.00"),
    ("199", "CNY", 19900, "199.00"),
    ("0.5", "USD", 50, "0.50"),
    ("1500", "JPY", 1500, "1500"),
    ("1.250", "KWD", 1250, "1.250"),
    ("-3.10", "EUR", -310, "-3.10"),
])
def test_decimal_strings_become_exact_minor_units(text: str, currency: str, minor: int,
                                                  printed: str) -> None:
    money = Money.parse(text, currency)
    assert money == Money(minor, currency)
    assert money.amount == printed


@pytest.mark.parametrize("text, currency", [
    ("1.5", "JPY"), ("1.001", "CNY"), ("1.0001", "KWD"), ("abc", "CNY"), ("1e3", "CNY"),
    ("", "CNY"), ("1,000.00", "CNY"), (" ", "USD"), ("NaN", "USD"), ("Infinity", "USD"),
])
def test_amounts_a_currency_cannot_hold_are_refused(text: str, currency: str) -> None:
    with pytest.raises(InvalidAmount):
        Money.parse(text, currency)


@pytest.mark.parametrize("text, currency, minor", [
    ("199.00", "CNY", 19900), ("0.50", "USD", 50), ("1500", "JPY", 1500), ("1.250", "KWD", 1250),
    ("-3.10", "EUR", -310),
])
def test_an_exact_amount_has_exactly_the_currency_places(text: str, currency: str, minor: int) -> None:
    assert Money.exact(text, currency) == Money(minor, currency)
    assert Money.exact(Money(minor, currency).amount, currency) == Money(minor, currency)


@pytest.mark.parametrize("text, currency", [
    ("1.5", "CNY"), ("199", "CNY"), ("1.500", "CNY"), ("15.0", "JPY"), ("1.25", "KWD"),
    ("\uff11\uff12.00", "CNY"), ("\u0661\u0662.\u0660\u0660", "CNY"), (" 12.00", "CNY"), ("12.00 ", "CNY"),
    ("+12.00", "CNY"), ("1,000.00", "CNY"), ("1e3", "JPY"), (".50", "USD"), ("", "CNY"),
])
def test_an_exact_amount_refuses_any_other_writing(text: str, currency: str) -> None:
    with pytest.raises(InvalidAmount, match="exactly|without"):
        Money.exact(text, currency)


def test_unknown_currencies_are_refused() -> None:
    with pytest.raises(UnknownCurrency):
        Money.parse("1.00", "XYZ")
    with pytest.raises(UnknownCurrency):
        Money(100, "cny")


def test_floats_are_not_money() -> None:
    with pytest.raises(InvalidAmount):
        Money(1.5, "CNY")  # type: ignore[arg-type]  # the point of the test
    with pytest.raises(InvalidAmount):
        Money(100, "CNY") * 1.5  # type: ignore[operator]  # as above


def test_arithmetic_is_exact_and_keeps_to_one_currency() -> None:
    price = Money.parse("0.10", "CNY")
    assert sum((price for _ in range(3)), Money.zero("CNY")) == Money.parse("0.30", "CNY")
    assert price * 3 - Money.parse("0.05", "CNY") == Money(25, "CNY")
    assert Money(5, "CNY") < Money(6, "CNY")
    with pytest.raises(CurrencyMismatch):
        _ = Money(5, "CNY") + Money(5, "USD")
    with pytest.raises(CurrencyMismatch):
        _ = Money(5, "CNY") < Money(5, "USD")


def test_conversion_uses_the_recorded_rate_and_rounds_half_up() -> None:
    cny_to_usd = ExchangeRate("CNY", "USD", Decimal("0.1385"))
    assert cny_to_usd.convert(Money.parse("199.00", "CNY")) == Money.parse("27.56", "USD")
    assert cny_to_usd.convert(Money.parse("0.10", "CNY")) == Money.parse("0.01", "USD")  # 0.01385
    to_yen = ExchangeRate("USD", "JPY", Decimal("151.5"))
    assert to_yen.convert(Money.parse("1.00", "USD")) == Money(152, "JPY")  # 151.5 rounds up
    to_dinar = ExchangeRate("USD", "KWD", Decimal("0.30745"))
    assert to_dinar.convert(Money.parse("10.00", "USD")) == Money.parse("3.075", "KWD")
    with pytest.raises(CurrencyMismatch):
        cny_to_usd.convert(Money(1, "EUR"))


@pytest.mark.parametrize("rate", [Decimal(0), Decimal(-1), Decimal("NaN")])
def test_a_rate_must_be_positive(rate: Decimal) -> None:
    with pytest.raises(InvalidAmount):
        ExchangeRate("CNY", "USD", rate)


@given(st.integers(min_value=-10**15, max_value=10**15), st.sampled_from(sorted(MINOR_UNITS)))
def test_printing_and_parsing_round_trip(minor: int, currency: str) -> None:
    money = Money(minor, currency)
    assert Money.parse(money.amount, currency) == money


def test_parts_of_a_running_total_converted_so_add_up_to_the_whole_converted() -> None:
    # 3.37 CNY is 0.4756 USD: on its own each of three would be 0.48, together 1.44 for 1.43 paid
    yuan_to_dollars = ExchangeRate("CNY", "USD", Decimal(1) / Decimal("7.085"))
    unit, nothing = Money.parse("3.37", "CNY"), Money.zero("CNY")
    parts = [yuan_to_dollars.convert_part(before=unit * k, after=unit * (k + 1)) for k in range(3)]
    assert [p.amount for p in parts] == ["0.48", "0.47", "0.48"]
    assert yuan_to_dollars.convert_part(before=nothing, after=unit * 3) == Money.parse("1.43", "USD")
