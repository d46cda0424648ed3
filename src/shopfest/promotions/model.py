"""How a cart is priced. Until the promotion engine lands: list prices, and flash prices inside a slot."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from shopfest.core.errors import CurrencyMismatch, InvalidInput
from shopfest.core.money import Money


@dataclass(frozen=True, slots=True)
class DepositTerms:
    """A SKU on pre-sale in a deposit window: the deposit that holds one unit, and when the
    balance is due."""

    deposit: Money
    balance_from: datetime
    balance_until: datetime


def check_deposit(deposit: Money, price: Money) -> Money:
    """A deposit is above zero, in the SKU's currency, and less than its price. Raises InvalidInput."""
    if deposit.currency != price.currency:
        raise CurrencyMismatch(f"the SKU sells in {price.currency}")
    if not 0 < deposit.minor < price.minor:
        raise InvalidInput("a deposit is above zero and below the price")
    return deposit


@dataclass(frozen=True, slots=True)
class CartLine:
    """One line to price: `qty` units of a SKU at its list `unit_price`, or its `flash_price`."""

    id: str
    sku_id: int
    merchant_id: int
    unit_price: Money
    qty: int
    flash_price: Money | None = None


@dataclass(frozen=True, slots=True)
class Adjustment:
    source: str
    amount: Money


@dataclass(frozen=True, slots=True)
class PricedLine:
    id: str
    subtotal: Money
    total: Money
    adjustments: tuple[Adjustment, ...] = ()

    @property
    def discount(self) -> Money:
        return self.subtotal - self.total


@dataclass(frozen=True, slots=True)
class PricedCart:
    currency: str
    lines: tuple[PricedLine, ...]

    @property
    def subtotal(self) -> Money:
        return _sum((line.subtotal for line in self.lines), self.currency)

    @property
    def total(self) -> Money:
        return _sum((line.total for line in self.lines), self.currency)


def _sum(amounts: Iterable[Money], currency: str) -> Money:
    total = Money.zero(currency)
    for amount in amounts:
        total = total + amount
    return total


def price_cart(lines: tuple[CartLine, ...]) -> PricedCart:
    """Every line at its unit price (the flash price where one is on), in one currency.

    Raises InvalidInput for an empty cart or duplicate line ids, CurrencyMismatch for mixed currencies.
    """
    if not lines:
        raise InvalidInput("a cart needs at least one line")
    if len({line.id for line in lines}) != len(lines):
        raise InvalidInput("line ids must be unique")
    currency = lines[0].unit_price.currency
    priced = tuple(_priced(line, currency) for line in lines)
    return PricedCart(currency, priced)


def _priced(line: CartLine, currency: str) -> PricedLine:
    if line.unit_price.currency != currency:
        raise CurrencyMismatch(f"SKU {line.sku_id} is priced in {line.unit_price.currency}, "
                               f"the cart in {currency}", sku_id=line.sku_id)
    subtotal = line.unit_price * line.qty
    if line.flash_price is None:
        return PricedLine(line.id, subtotal, subtotal)
    total = line.flash_price * line.qty
    return PricedLine(line.id, subtotal, total, (Adjustment("flash_sale", subtotal - total),))
