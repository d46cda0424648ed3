"""The festival's discounts as the pages show them: a SKU's festival price, and the shopper's cart
priced as checkout would, with every adjustment and the "add more to save" hints."""

from __future__ import annotations

from dataclasses import dataclass

from shopfest.core.errors import DomainError
from shopfest.core.money import Money
from shopfest.deps import Runtime
from shopfest.orders import service as orders
from shopfest.orders.service import CartQuote
from shopfest.promotions.model import Applied, Hint, Priced
from shopfest.web.viewer import Viewer

MAX_CART_LINES = 100
CART_COOKIE = "shopfest_cart"


@dataclass(frozen=True)
class Saving:
    label: str  # what took it off: "Store promotion", "Across stores", …
    amount: str
    funded_by: str


@dataclass(frozen=True)
class Nudge:
    text: str  # "Add ¥12.00 more to save ¥40.00"


@dataclass(frozen=True)
class Deal:
    """What the festival makes of one unit of a SKU now."""

    price: str
    saving: str | None
    savings: list[Saving]
    nudges: list[Nudge]


@dataclass(frozen=True)
class CartLineView:
    sku_id: int
    title: str
    qty: int
    unit_price: str
    subtotal: str
    total: str
    adjustments: list[Saving]


@dataclass(frozen=True)
class CartView:
    lines: list[CartLineView]
    subtotal: str
    discount: str
    total: str
    savings: list[Saving]
    nudges: list[Nudge]
    coupons_used: list[int]


def _money(minor: int, currency: str, viewer: Viewer) -> str:
    return viewer.money(Money(minor, currency))


def _label(kind: str, viewer: Viewer) -> str:
    return viewer.t(f"deal.{kind}")


def savings(applied: tuple[Applied, ...], currency: str, viewer: Viewer) -> list[Saving]:
    return [Saving(_label(a.kind, viewer), _money(a.amount, currency, viewer),
                   viewer.t(f"deal.by_{a.funded_by}")) for a in applied]


def nudges(hints: tuple[Hint, ...], currency: str, viewer: Viewer) -> list[Nudge]:
    return [Nudge(viewer.t("deal.hint", missing=_money(h.missing, currency, viewer),
                           save=_money(h.would_save, currency, viewer))) for h in hints]


def deal_of(runtime: Runtime, sku_id: int, viewer: Viewer) -> Deal | None:
    """One unit of the SKU priced with the promotions on now; None when it cannot be priced."""
    try:
        quote = orders.quote_cart(runtime.uow(), [(sku_id, 1)])
    except DomainError:
        return None
    priced = quote.priced
    saving = _money(priced.discount, priced.currency, viewer) if priced.discount else None
    return Deal(_money(priced.total, priced.currency, viewer), saving,
                savings(priced.applied, priced.currency, viewer),
                nudges(priced.hints, priced.currency, viewer))


def parse_cart(cookie: str | None) -> dict[int, int]:
    """The cart kept in the browser: "sku:qty,sku:qty"; anything malformed is dropped."""
    cart: dict[int, int] = {}
    for item in (cookie or "").split(",")[:MAX_CART_LINES]:
        sku, _, qty = item.partition(":")
        if sku.isdigit() and qty.isdigit() and len(sku) <= 18 and 0 < int(qty) <= 999:
            cart[int(sku)] = int(qty)
    return cart


def write_cart(cart: dict[int, int]) -> str:
    return ",".join(f"{sku}:{qty}" for sku, qty in cart.items())


def cart_view(runtime: Runtime, cart: dict[int, int], viewer: Viewer, *,
              shopper_id: int | None) -> CartView:
    """The cart priced as checkout would. Raises InvalidInput (an unknown SKU, mixed currencies)."""
    quote = orders.quote_cart(runtime.uow(), list(cart.items()), shopper_id=shopper_id)
    priced = quote.priced
    return CartView(
        lines=_lines(quote, cart, viewer), subtotal=_money(priced.subtotal, priced.currency, viewer),
        discount=_money(priced.discount, priced.currency, viewer),
        total=_money(priced.total, priced.currency, viewer),
        savings=savings(priced.applied, priced.currency, viewer),
        nudges=nudges(priced.hints, priced.currency, viewer),
        coupons_used=_coupon_ids(priced))


def _lines(quote: CartQuote, cart: dict[int, int], viewer: Viewer) -> list[CartLineView]:
    kinds = {a.source: a.kind for a in quote.priced.applied}
    views = []
    for line in quote.priced.lines:
        sku = quote.skus[int(line.id)]
        views.append(CartLineView(
            sku.sku_id, sku.title, cart[sku.sku_id], viewer.money(sku.price),
            _money(line.subtotal, quote.priced.currency, viewer),
            _money(line.total, quote.priced.currency, viewer),
            [Saving(_label(kinds.get(a.source, "deposit"), viewer),
                    _money(a.amount, quote.priced.currency, viewer), "") for a in line.adjustments]))
    return views


def _coupon_ids(priced: Priced) -> list[int]:
    return [int(source.removeprefix("coupon:")) for source in priced.coupons_used
            if source.startswith("coupon:")]
