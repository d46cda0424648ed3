"""Prices as the viewer reads them: Babel formatting, and ≈ figures in the viewer's own currency."""

from __future__ import annotations

from decimal import Decimal

from babel.numbers import format_currency, format_decimal

from shopfest.core.money import ExchangeRate, Money

HOME_CURRENCY = "CNY"  # what the demo catalog is priced in, and the bounds of the price filter

# Indicative display rates: yuan for one unit of each currency, rounded, for the "≈" figures
# only. Orders snapshot real rates from the payments context; these are never charged.
DISPLAY_RATES_IN_CNY: dict[str, Decimal] = {
    "CNY": Decimal("1"),
    "USD": Decimal("7.20"),
    "EUR": Decimal("7.80"),
    "GBP": Decimal("9.10"),
    "HKD": Decimal("0.92"),
    "SGD": Decimal("5.35"),
    "JPY": Decimal("0.048"),
    "KRW": Decimal("0.0052"),
    "AUD": Decimal("4.70"),
}
VIEWER_CURRENCIES = tuple(DISPLAY_RATES_IN_CNY)


def currency_or_none(value: str | None) -> str | None:
    cleaned = (value or "").strip().upper()
    return cleaned if cleaned in DISPLAY_RATES_IN_CNY else None


def display_rate(base: str, quote: str) -> ExchangeRate | None:
    """The indicative rate from `base` to `quote`, crossed through the yuan; None if either is unknown."""
    if base not in DISPLAY_RATES_IN_CNY or quote not in DISPLAY_RATES_IN_CNY:
        return None
    return ExchangeRate(base, quote, DISPLAY_RATES_IN_CNY[base] / DISPLAY_RATES_IN_CNY[quote])


def format_money(money: Money, locale: str) -> str:
    return format_currency(money.decimal, money.currency, locale=locale)


def approximately(money: Money, *, currency: str, locale: str) -> str | None:
    """'≈ US$27.55' when the viewer reads another currency than the price's; else None."""
    if money.currency == currency:
        return None
    rate = display_rate(money.currency, currency)
    return f"≈ {format_money(rate.convert(money), locale)}" if rate else None


def format_count(count: int, locale: str) -> str:
    return format_decimal(count, locale=locale)
