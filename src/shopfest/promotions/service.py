"""The one door through which checkout, pages and refunds learn what a cart costs."""

from __future__ import annotations

from shopfest.promotions.model import CartLine, PricedCart
from shopfest.promotions.model import price_cart as _price


def price_cart(lines: tuple[CartLine, ...]) -> PricedCart:
    """What the shopper pays for each line. Raises InvalidInput, CurrencyMismatch."""
    return _price(lines)
