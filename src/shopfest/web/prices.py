"""Prices as the viewer reads them: Babel formatting, and ≈ figures in the viewer's own currency."""

from __future__ import annotations

from babel.numbers import format_currency, format_decimal

from shopfest.core.errors import UnknownCurrency
from shopfest.core.money import ExchangeRate, Money
from shopfest.payments import fx

HOME_CURRENCY = "CNY"  # what the demo catalog is priced in, and the bounds of the price filter

# The currencies a viewer may read prices in, in the order the switch lists them. Their rates are
# checkout's own (payments.fx), so a "≈" figure is what paying in that currency charges now.
VIEWER_CURRENCIES = ("CNY", "USD", "EUR", "GBP", "HKD", "SGD", "JPY", "KRW", "AUD")


def currency_or_none(value: str | None) -> str | None:
    cleaned = (value or "").strip().upper()
    return cleaned if cleaned in VIEWER_CURRENCIES else None


def display_rate(base: str, quote: str) -> ExchangeRate | None:
    """The rate checkout charges from `base` to `quote` now; None if either is unknown."""
    try:
        return fx.rate(base, quote)
    except UnknownCurrency:
        return None


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
