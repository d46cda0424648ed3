"""How a cart is priced: the types of the promotion engine (`stages.price`) that stacks the festival's
promotions, coupons and deposits, and the checkout's cart as the engine reads it (`cart_request`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from typing import Literal, NamedTuple

from shopfest.core.errors import CurrencyMismatch, InvalidInput
from shopfest.core.money import Money


@dataclass(frozen=True, slots=True)
class DepositTerms:
    """A SKU on pre-sale in a deposit window: the deposit that holds one unit, and when the
    balance is due."""

    deposit: Money
    balance_from: datetime
    balance_until: datetime
    worth: Money  # what the deposit counts for against the price: at least the deposit


def check_deposit(deposit: Money, price: Money, worth: Money | None = None) -> Money:
    """A deposit is above zero, in the SKU's currency, and less than its price; it is worth at
    least itself and at most the price. Raises InvalidInput."""
    worth = worth or deposit
    if deposit.currency != price.currency or worth.currency != price.currency:
        raise CurrencyMismatch(f"the SKU sells in {price.currency}")
    if not 0 < deposit.minor < price.minor:
        raise InvalidInput("a deposit is above zero and below the price")
    if not deposit.minor <= worth.minor <= price.minor:
        raise InvalidInput("a deposit is worth at least what is paid and at most the price")
    return deposit


# The promotion engine: a festival cart priced through eight stages. Amounts are integer minor
# units of the request's currency; `contract.py` turns them into decimal strings at the boundary.

Kind = Literal["flash_price", "percent_off", "multi_buy", "store_threshold", "store_coupon",
               "cross_store", "platform_coupon", "red_envelope", "deposit"]
Funder = Literal["merchant", "platform"]


class TooManyCoupons(InvalidInput):
    code = "too-many-coupons"
    title = "Too many coupons offered to choose among"


@dataclass(frozen=True, slots=True)
class Window:
    """When a promotion or coupon is on: from `starts` up to, not including, `ends`; None is open."""

    starts: datetime | None = None
    ends: datetime | None = None

    def holds(self, at: datetime) -> bool:
        return (self.starts is None or self.starts <= at) and (self.ends is None or at < self.ends)


ALWAYS = Window()


class PriceLine(NamedTuple):
    """`qty` units of a SKU a shopper puts in the cart, at its list `unit_price`. A named tuple, as the
    parts of a priced cart below are: a festival cart reads a couple of dozen of them."""

    id: str
    sku: str
    merchant: str
    unit_price: int
    qty: int
    brand: str | None = None
    category: str | None = None
    tier: str = "regular"

    @property
    def subtotal(self) -> int:
        return self.unit_price * self.qty


@dataclass(frozen=True, slots=True)
class FlashPrice:
    """Stage 1: the SKU sells at `price`, for the first `per_shopper_limit` units (all when None)."""

    id: str
    sku: str
    price: int
    per_shopper_limit: int | None = None
    window: Window = ALWAYS


@dataclass(frozen=True, slots=True)
class ItemDiscount:
    """Stage 2: `percent` off each line that every filter given (merchant, category, sku) matches; a
    multi-buy needs `min_qty` units on the line."""

    id: str
    kind: Literal["percent_off", "multi_buy"]
    percent: Fraction
    merchant: str | None = None
    category: str | None = None
    sku: str | None = None
    min_qty: int = 1
    window: Window = ALWAYS


@dataclass(frozen=True, slots=True)
class Tier:
    """Spend `spend`, get `off` off."""

    spend: int
    off: int


@dataclass(frozen=True, slots=True)
class StoreThreshold:
    """Stage 3: money off a merchant's lines by tiers of spend; `repeat` is "every spend, off" (one tier)."""

    id: str
    merchant: str
    tiers: tuple[Tier, ...]
    repeat: bool = False
    window: Window = ALWAYS


@dataclass(frozen=True, slots=True)
class CrossStore:
    """Stage 5: `off` for every `every` spent across all merchants, except excluded tiers and categories."""

    id: str
    every: int
    off: int
    exclude_tiers: frozenset[str] = frozenset()
    exclude_categories: frozenset[str] = frozenset()
    window: Window = ALWAYS


Promotion = FlashPrice | ItemDiscount | StoreThreshold | CrossStore


@dataclass(frozen=True, slots=True)
class StoreCoupon:
    """Stage 4: `off` a merchant's lines once they reach `min_spend`; with `skus`, only the merchant's
    lines of those SKUs count and take the cut (a live coupon covers the event's products)."""

    id: str
    merchant: str
    min_spend: int
    off: int
    window: Window = ALWAYS
    skus: frozenset[str] | None = None  # None: every line of the merchant


@dataclass(frozen=True, slots=True)
class PlatformCoupon:
    """Stage 6: `off` the whole cart once it reaches `min_spend`; the platform pays for it."""

    id: str
    min_spend: int
    off: int
    window: Window = ALWAYS


@dataclass(frozen=True, slots=True)
class RedEnvelope:
    """Stage 7: `amount` off the whole cart, whatever it costs; the platform pays for it."""

    id: str
    amount: int
    window: Window = ALWAYS


Coupon = StoreCoupon | PlatformCoupon | RedEnvelope


@dataclass(frozen=True, slots=True)
class Deposit:
    """Stage 8: a pre-sale deposit of `paid` already paid for a line, counting as `worth` against it."""

    line: str
    paid: int
    worth: int


@dataclass(frozen=True, slots=True)
class PriceRequest:
    """A cart to price at `at`, with the promotions on offer and the coupons the shopper holds out.

    The order of `promotions` and `coupons` is the request's: it breaks ties.
    """

    currency: str
    at: datetime
    lines: tuple[PriceLine, ...]
    promotions: tuple[Promotion, ...] = ()
    coupons: tuple[Coupon, ...] = ()
    deposits: tuple[Deposit, ...] = ()
    shopper: str | None = None


# A priced cart and what it is made of. Named tuples, not dataclasses: a cart makes a hundred
# adjustments and some forty of the other parts on checkout's hot path, and the engine builds a tuple
# (by tuple.__new__) in a fifth of the time a frozen dataclass takes.


class LineAdjustment(NamedTuple):
    """What one source took off one line."""

    source: str
    amount: int


class LineTotals(NamedTuple):
    id: str
    merchant: str
    subtotal: int
    total: int
    adjustments: tuple[LineAdjustment, ...] = ()

    @property
    def discount(self) -> int:
        return self.subtotal - self.total


class MerchantTotals(NamedTuple):
    merchant: str
    subtotal: int
    total: int

    @property
    def discount(self) -> int:
        return self.subtotal - self.total


class Applied(NamedTuple):
    """A promotion, coupon or deposit that took `amount` off the cart, and who pays for it."""

    source: str
    kind: Kind
    amount: int
    funded_by: Funder


class Hint(NamedTuple):
    """Spend `missing` more and a threshold would take `would_save` more off."""

    source: str
    missing: int
    would_save: int


class Priced(NamedTuple):
    """A priced cart. `balance_due` is `total - deposit_paid`; it is negative only when discounts took a
    line below the deposit already paid for it."""

    currency: str
    subtotal: int
    total: int
    deposit_paid: int
    lines: tuple[LineTotals, ...]
    merchants: tuple[MerchantTotals, ...]
    applied: tuple[Applied, ...] = ()
    hints: tuple[Hint, ...] = ()
    coupons_used: tuple[str, ...] = ()

    @property
    def discount(self) -> int:
        return self.subtotal - self.total

    @property
    def balance_due(self) -> int:
        return self.total - self.deposit_paid


# The checkout's cart: SKUs of the catalog, the flash sales and pre-sale deposits on them, and the
# promotions and coupons of the festival, put into one `PriceRequest`.


@dataclass(frozen=True, slots=True)
class FlashTerms:
    """A flash sale on for a SKU: its price for the first `per_shopper_limit` units."""

    sale_id: int
    price: Money
    per_shopper_limit: int


@dataclass(frozen=True, slots=True)
class CartLine:
    """`qty` units of a SKU at its list `unit_price`, with what the catalog says of it, the flash
    sale on for it, and for a pre-sale the deposit (paid, worth) of the whole line."""

    id: str
    sku_id: int
    merchant_id: int
    unit_price: Money
    qty: int
    brand_id: int | None = None
    category_id: int | None = None
    tier: str = "regular"
    flash: FlashTerms | None = None
    deposit: tuple[Money, Money] | None = None


@dataclass(frozen=True, slots=True)
class OnOffer:
    """A promotion or coupon of the festival with its owner (None: the platform), the currency of
    its amounts, and its `rank` among the others (earlier wins ties)."""

    merchant_id: int | None
    currency: str
    offer: Promotion | Coupon
    rank: int


def cart_request(lines: Sequence[CartLine], *, at: datetime, shopper_id: int | None,
                 promotions: Sequence[OnOffer], coupons: Sequence[OnOffer]) -> PriceRequest:
    """The request that prices a checkout's cart; offers in another currency than the cart's do not
    apply. Raises InvalidInput for an empty cart, CurrencyMismatch for mixed currencies."""
    if not lines:
        raise InvalidInput("a cart needs at least one line")
    currency = lines[0].unit_price.currency
    for line in lines:
        if line.unit_price.currency != currency:
            raise CurrencyMismatch(f"SKU {line.sku_id} is priced in {line.unit_price.currency}, "
                                   f"the cart in {currency}", sku_id=line.sku_id)
    flash = tuple(FlashPrice(f"flash:{line.flash.sale_id}", str(line.sku_id), line.flash.price.minor,
                             line.flash.per_shopper_limit)
                  for line in lines if line.flash is not None and line.flash.price.currency == currency)
    return PriceRequest(
        currency=currency, at=at, lines=tuple(_price_line(line) for line in lines),
        promotions=flash + tuple(o.offer for o in promotions if o.currency == currency),  # type: ignore[misc]
        coupons=tuple(o.offer for o in coupons if o.currency == currency),  # type: ignore[misc]
        deposits=tuple(Deposit(line.id, line.deposit[0].minor, line.deposit[1].minor)
                       for line in lines if line.deposit is not None),
        shopper=None if shopper_id is None else str(shopper_id))


def _price_line(line: CartLine) -> PriceLine:
    return PriceLine(line.id, str(line.sku_id), str(line.merchant_id), line.unit_price.minor, line.qty,
                     brand=None if line.brand_id is None else str(line.brand_id),
                     category=None if line.category_id is None else str(line.category_id), tier=line.tier)
