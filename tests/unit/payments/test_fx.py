from __future__ import annotations

from decimal import Decimal

import pytest

from shopfest.core.errors import UnknownCurrency
from shopfest.core.money import Money
from shopfest.payments.fx import CNY_PER_UNIT, rate


def test_a_currency_buys_exactly_itself() -> None:
    assert rate("JPY", "JPY").rate == Decimal(1)
    assert rate("CAD", "CAD").convert(Money(1999, "CAD")) == Money(1999, "CAD")


def test_the_snapshot_covers_the_festivals_viewer_currencies() -> None:
    assert set(CNY_PER_UNIT) == {"CNY", "USD", "EUR", "GBP", "JPY", "HKD", "KRW", "SGD", "AUD"}


def test_a_rate_against_the_yuan_is_the_snapshot_figure() -> None:
    assert rate("USD", "CNY").rate == CNY_PER_UNIT["USD"]
    assert rate("USD", "CNY").convert(Money(10000, "USD")) == Money(70850, "CNY")


def test_cross_rates_go_through_the_yuan() -> None:
    eur_in_gbp = rate("EUR", "GBP")
    assert eur_in_gbp.rate == CNY_PER_UNIT["EUR"] / CNY_PER_UNIT["GBP"]
    assert rate("GBP", "EUR").rate * eur_in_gbp.rate == pytest.approx(Decimal(1))


def test_a_yen_price_becomes_whole_won_rounded_half_up() -> None:
    converted = rate("JPY", "KRW").convert(Money(11111, "JPY"))
    assert converted.currency == "KRW"
    assert converted.minor == int((Decimal(11111) * CNY_PER_UNIT["JPY"] / CNY_PER_UNIT["KRW"])
                                  .quantize(Decimal(1), rounding="ROUND_HALF_UP"))


@pytest.mark.parametrize("base, quote", [("CNY", "CAD"), ("XTS", "CNY"), ("USD", "BTC")])
def test_a_currency_without_a_reference_rate_is_unknown(base: str, quote: str) -> None:
    with pytest.raises(UnknownCurrency):
        rate(base, quote)
