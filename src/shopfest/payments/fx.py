"""Reference exchange rates: the snapshot an order records when a shopper pays in another currency."""

from __future__ import annotations

from decimal import Decimal

from shopfest.core.errors import UnknownCurrency
from shopfest.core.money import ExchangeRate

# Yuan for one unit of each currency: reference mid-rates as of 2026-11-30, rounded to the digits
# a bank board shows. A snapshot, not a live feed; a deployment replaces it with its own source.
CNY_PER_UNIT: dict[str, Decimal] = {
    "CNY": Decimal("1"),
    "USD": Decimal("7.0850"),
    "EUR": Decimal("8.2140"),
    "GBP": Decimal("9.4520"),
    "JPY": Decimal("0.046820"),
    "HKD": Decimal("0.91080"),
    "KRW": Decimal("0.0050460"),
    "SGD": Decimal("5.4730"),
    "AUD": Decimal("4.6390"),
}


def rate(base: str, quote: str) -> ExchangeRate:
    """What one `base` buys in `quote`, crossed through the yuan. Raises UnknownCurrency."""
    if base == quote:
        return ExchangeRate(base, quote, Decimal(1))
    for currency in (base, quote):
        if currency not in CNY_PER_UNIT:
            raise UnknownCurrency(f"no reference rate for {currency!r}", currency=currency)
    return ExchangeRate(base, quote, CNY_PER_UNIT[base] / CNY_PER_UNIT[quote])
