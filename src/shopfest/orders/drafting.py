"""Drafting an order: the lines checked, the pre-sale rules, the cart priced with the promotions on
and the coupons offered, and split into one order per merchant. Pure: no I/O, no threads, no tables."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

from shopfest.catalog.model import SkuForSale
from shopfest.core.actor import Actor
from shopfest.core.errors import InvalidInput
from shopfest.core.money import Money
from shopfest.inventory.model import Buyer, Claim, FlashSale, check_quantity
from shopfest.orders.model import (
    DeliveryAddress,
    MerchantOrder,
    Order,
    OrderLine,
    OrderStatus,
    Presale,
    expiry,
)
from shopfest.payments import fx
from shopfest.payments.idempotency import IdempotencyKey
from shopfest.promotions.model import CartLine, DepositTerms, FlashTerms, OnOffer, Priced
from shopfest.promotions.offers import CouponIssue, price_cart

MAX_LINES = 100


class PlaceOrder(NamedTuple):
    """A shopper's checkout: (SKU, units) lines, paid in `currency` (the catalog's when None). A
    named tuple rather than a frozen dataclass: made once per request at the peak, it costs a third."""

    shopper_id: int
    lines: tuple[tuple[int, int], ...]
    currency: str | None = None
    idempotency: IdempotencyKey | None = None
    coupons: tuple[int, ...] = ()  # coupon ids the shopper offers from their wallet
    buyer: Buyer | None = None  # the account's standing, for flash sales that ask (None: unknown)
    delivery: DeliveryAddress | None = None  # where shipped goods go, as the order is to keep it
    source: str | None = None  # where it was placed from (`live:12`: a live event's room), for attribution


def buyer_of(actor: Actor) -> Buyer | None:
    """What a flash sale may ask of a signed-in shopper, as their sign-in told it."""
    return Buyer(actor.verified, actor.joined_at) if actor.joined_at is not None else None


@dataclass(frozen=True, slots=True)
class Shelf:
    """What a batch knows of the SKUs it sells: the SKUs, their flash sales and pre-sale terms now."""

    skus: dict[int, SkuForSale]
    flash: dict[int, FlashSale]
    presales: dict[int, DepositTerms]
    promotions: tuple[OnOffer, ...] = ()


@dataclass(frozen=True, slots=True)
class Draft:
    order: Order
    claims: tuple[Claim, ...]
    grants: tuple[int, ...] = ()  # the wallet coupons the order uses, held once it is stored
    priced: Priced | None = None  # how its cart was priced, with the engine's explanations
    # Only a flash sale's limit asks who claims: without one, every shopper placing this cart makes
    # the same claims.
    anyones: bool = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "anyones", all(c.flash_sale_id is None for c in self.claims))


def check_lines(lines: Sequence[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    """Units per SKU, repeated SKUs added up. Raises InvalidInput."""
    if not 1 <= len(lines) <= MAX_LINES:
        raise InvalidInput(f"an order has 1 to {MAX_LINES} lines")
    merged: dict[int, int] = {}
    for sku_id, qty in lines:
        check_quantity(qty)
        merged[sku_id] = merged.get(sku_id, 0) + qty
    return tuple((sku_id, check_quantity(qty)) for sku_id, qty in merged.items())


# The coupons a command offers that the shopper holds free: coupon id -> (grant id, the coupon).
Offered = Mapping[int, tuple[int, CouponIssue]]


def draft_order(command: PlaceOrder, *, shelf: Shelf, now: datetime, minutes: int,
                offered: Offered | None = None, flash_minutes: int | None = None) -> Draft:
    """The order a command asks for, priced with the promotions on and the coupons offered, and
    split by merchant; with a flash line it holds its units `flash_minutes` at most. Raises
    InvalidInput."""
    presale = _presale(command, shelf)
    cart = tuple(_cart_line(sku_id, qty, shelf, presale) for sku_id, qty in command.lines)
    coupons = [coupon for _, coupon in (offered or {}).values()]
    priced = price_cart(cart, at=now, shopper_id=command.shopper_id,
                       promotions=shelf.promotions, coupons=coupons)
    status = OrderStatus.AWAITING_PAYMENT if presale is None else OrderStatus.AWAITING_DEPOSIT
    children = _children(cart, priced, shelf, status)
    if flash_minutes is not None and any(line.flash is not None for line in cart):
        minutes = min(minutes, flash_minutes)  # a flash unit held unpaid is one a fan does not get
    order = Order(shopper_id=command.shopper_id, status=status, children=children, placed_at=now,
                  expires_at=expiry(now, minutes=minutes),
                  pay_rate=fx.rate(priced.currency, command.currency or priced.currency), presale=presale)
    claims = tuple(Claim(line.sku_id, line.qty, command.shopper_id, line.flash_sale_id)
                   for child in children for line in child.lines)
    used = set(priced.coupons_used)
    grants = tuple(grant for grant, coupon in (offered or {}).values() if coupon.source in used)
    return Draft(order, claims, grants, priced)


def _presale(command: PlaceOrder, shelf: Shelf) -> Presale | None:
    """In a deposit window, a pre-sale SKU is ordered on its own and a deposit holds it."""
    on_presale = [(sku_id, qty) for sku_id, qty in command.lines if sku_id in shelf.presales]
    if not on_presale:
        return None
    if len(command.lines) > 1:
        raise InvalidInput("during a deposit window a pre-sale item is ordered on its own",
                           sku_id=on_presale[0][0])
    sku_id, qty = on_presale[0]
    terms = shelf.presales[sku_id]
    return Presale(terms.deposit * qty, terms.balance_from, terms.balance_until)


def _cart_line(sku_id: int, qty: int, shelf: Shelf, presale: Presale | None) -> CartLine:
    sku = shelf.skus.get(sku_id)
    if sku is None:
        raise InvalidInput(f"no SKU {sku_id} is for sale", sku_id=sku_id)
    sale = shelf.flash.get(sku_id)
    flash = None
    if sale is not None and sale.price.currency == sku.price.currency:
        flash = FlashTerms(sale.id or 0, sale.price, sale.per_shopper_limit)
    terms = shelf.presales.get(sku_id)
    deposit = (terms.deposit * qty, terms.worth * qty) if terms is not None and presale is not None else None
    return CartLine(id=str(sku_id), sku_id=sku_id, merchant_id=sku.merchant_id, unit_price=sku.price,
                    qty=qty, brand_id=sku.brand_id, category_id=sku.category_id, tier=sku.brand_tier.value,
                    flash=flash, deposit=deposit)


def _children(cart: tuple[CartLine, ...], priced: Priced, shelf: Shelf,
              status: OrderStatus) -> tuple[MerchantOrder, ...]:
    by_merchant: dict[int, list[OrderLine]] = {}
    for line, price in zip(cart, priced.lines, strict=True):
        sku = shelf.skus[line.sku_id]
        flash = line.flash  # on: the line draws on the flash sale's units, at its price
        by_merchant.setdefault(line.merchant_id, []).append(OrderLine(
            sku_id=line.sku_id, product_id=sku.product_id, title=sku.title,
            fulfilment=sku.fulfilment.value, qty=line.qty,
            unit_price=flash.price if flash is not None else line.unit_price,
            total=Money(price.total, priced.currency), flash_sale_id=flash.sale_id if flash else None,
            adjustments=tuple((a.source, a.amount) for a in price.adjustments)))
    return tuple(_child(merchant_id, tuple(lines), shelf.skus[lines[0].sku_id].settlement_currency, status)
                 for merchant_id, lines in by_merchant.items())


def _child(merchant_id: int, lines: tuple[OrderLine, ...], settlement_currency: str,
           status: OrderStatus) -> MerchantOrder:
    unsettled = MerchantOrder(merchant_id, status, lines, Money.zero(settlement_currency))
    settlement = fx.rate(unsettled.total.currency, settlement_currency).convert(unsettled.total)
    return MerchantOrder(merchant_id, status, lines, settlement)


def claims_of(draft: Draft, shopper_id: int) -> tuple[Claim, ...]:
    """The draft's claims made by `shopper_id`."""
    if draft.anyones or draft.order.shopper_id == shopper_id:
        return draft.claims
    return tuple(Claim(c.sku_id, c.qty, shopper_id, c.flash_sale_id) for c in draft.claims)

