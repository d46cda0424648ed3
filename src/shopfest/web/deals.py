"""The festival's discounts as the pages show them: a SKU's festival price, and the shopper's cart
priced as checkout would, with every adjustment and the "add more to save" hints."""

from __future__ import annotations

import time
from dataclasses import dataclass

from shopfest.catalog import service as catalog
from shopfest.core.errors import DomainError
from shopfest.core.money import Money
from shopfest.inventory.model import Buyer, Shortfall
from shopfest.orders import service as orders
from shopfest.orders.checkout import Answer
from shopfest.orders.drafting import PlaceOrder
from shopfest.orders.model import DeliveryAddress, Order
from shopfest.orders.service import CartQuote
from shopfest.payments import idempotency as keys
from shopfest.promotions.model import Applied, Hint, Priced
from shopfest.runtime import Runtime
from shopfest.web.forms import problem_message
from shopfest.web.sellers import SellerView, seller_view
from shopfest.web.viewer import Viewer

MAX_CART_LINES = 100
CART_COOKIE = "shopfest_cart"
# A second post of one checkout form waits this long, at most, for the first to be decided.
PLACING_WAIT_SECONDS = 0.05
PLACING_WAITS = 200


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
    problem: str | None = None  # why checkout would refuse even one unit to this shopper now
    pay_now: str = ""  # what placing the order asks to be paid now: the whole price, or a deposit
    pay_later: str | None = None  # a pre-sale's balance, and when it is paid


@dataclass(frozen=True)
class CartLineView:
    sku_id: int
    title: str
    qty: int
    unit_price: str
    subtotal: str
    total: str
    adjustments: list[Saving]
    problem: str | None = None  # why checkout would refuse the line now
    option: str = ""  # the option in the viewer's language
    seller: SellerView | None = None
    product_id: int = 0


@dataclass(frozen=True)
class CartView:
    lines: list[CartLineView]
    subtotal: str
    discount: str
    total: str
    savings: list[Saving]
    nudges: list[Nudge]
    coupons_used: list[int]
    blocked: bool = False  # a line checkout would refuse: the shopper fixes it before checking out
    pay_now: str = ""
    pay_later: str | None = None


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


@dataclass(frozen=True)
class Payments:
    now: str
    later: str | None


def payments(order: Order, viewer: Viewer, zone_name: str) -> Payments:
    """What the order checkout would place asks to be paid now, by the rule paying follows
    (Order.amount_due): the whole price; or in a pre-sale the deposit now and the balance later,
    in its window on the festival's clocks."""
    _, now = order.amount_due(order.placed_at)
    if order.presale is None:
        return Payments(viewer.t("pay.now_whole", amount=viewer.money(now)), None)
    window = viewer.span(order.presale.balance_from, order.presale.balance_until, zone_name)
    return Payments(viewer.t("pay.now_deposit", amount=viewer.money(now)),
                    viewer.t("pay.later_balance", amount=viewer.money(order.to_pay - now), when=window))


def deal_of(runtime: Runtime, sku_id: int, viewer: Viewer, *, zone_name: str,
            shopper_id: int | None = None) -> Deal | None:
    """One unit of the SKU priced as checkout would for this shopper now, and what is paid when;
    None when it cannot be priced."""
    try:
        quote = orders.quote_cart(runtime.uow(), [(sku_id, 1)], shopper_id=shopper_id)
    except DomainError:
        return None
    priced = quote.priced
    saving = _money(priced.discount, priced.currency, viewer) if priced.discount else None
    paid = payments(quote.order, viewer, zone_name)
    return Deal(_money(priced.total, priced.currency, viewer), saving,
                savings(priced.applied, priced.currency, viewer),
                nudges(priced.hints, priced.currency, viewer),
                _problem(quote.shortfalls.get(sku_id), viewer, where="deal"), paid.now, paid.later)


def unit_price_now(runtime: Runtime, sku_id: int, *, shopper_id: int | None = None) -> Money | None:
    """What checkout would charge for one unit of the SKU now (as deal_of prices it); None when it
    cannot be priced, or checkout would refuse the unit (a flash sale sold out, its limit used)."""
    try:
        quote = orders.quote_cart(runtime.uow(), [(sku_id, 1)], shopper_id=shopper_id)
    except DomainError:
        return None
    if sku_id in quote.shortfalls:
        return None
    return Money(quote.priced.total, quote.priced.currency)


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


def cart_view(runtime: Runtime, cart: dict[int, int], viewer: Viewer, *, shopper_id: int | None,
              zone_name: str, refused: DomainError | None = None) -> CartView:
    """The cart priced as checkout would for this shopper now, each line checkout would refuse
    flagged with the reason (and `refused`, a checkout just refused, on its line). Raises
    InvalidInput (an unknown SKU, mixed currencies)."""
    quote = orders.quote_cart(runtime.uow(), list(cart.items()), shopper_id=shopper_id)
    priced = quote.priced
    merchants = catalog.merchants_by_id(runtime.uow(read_only=True),
                                        sorted({s.merchant_id for s in quote.skus.values()}))
    sellers = {m: seller_view(merchant, viewer) for m, merchant in merchants.items()}
    lines = _lines(quote, cart, viewer, refused, sellers)
    paid = payments(quote.order, viewer, zone_name)
    return CartView(
        lines=lines, subtotal=_money(priced.subtotal, priced.currency, viewer),
        discount=_money(priced.discount, priced.currency, viewer),
        total=_money(priced.total, priced.currency, viewer),
        savings=savings(priced.applied, priced.currency, viewer),
        nudges=nudges(priced.hints, priced.currency, viewer),
        coupons_used=_coupon_ids(priced), blocked=any(line.problem for line in lines),
        pay_now=paid.now, pay_later=paid.later)


def _lines(quote: CartQuote, cart: dict[int, int], viewer: Viewer, refused: DomainError | None,
           sellers: dict[int, SellerView | None]) -> list[CartLineView]:
    kinds = {a.source: a.kind for a in quote.priced.applied}
    refused_sku = refused.data.get("sku_id") if refused is not None else None
    views = []
    for line in quote.priced.lines:
        sku = quote.skus[int(line.id)]
        problem = _problem(quote.shortfalls.get(sku.sku_id), viewer)
        if problem is None and refused is not None and refused_sku == sku.sku_id:
            # refused for a reason gone by now (units given back meanwhile)
            problem = problem_message(refused, viewer.t)
        views.append(CartLineView(
            sku.sku_id, viewer.name(sku.title, sku.title_zh), cart[sku.sku_id], viewer.money(sku.price),
            _money(line.subtotal, quote.priced.currency, viewer),
            _money(line.total, quote.priced.currency, viewer),
            [Saving(_label(kinds.get(a.source, "deposit"), viewer),
                    _money(a.amount, quote.priced.currency, viewer), "") for a in line.adjustments],
            problem=problem, option=viewer.name(sku.option, sku.option_zh),
            seller=sellers.get(sku.merchant_id), product_id=sku.product_id))
    return views


def _problem(short: Shortfall | None, viewer: Viewer, *, where: str = "cart") -> str | None:
    """Why checkout would refuse a line, in the viewer's words, with what would go through."""
    if short is None:
        return None
    if short.most == 0:
        return viewer.t(f"{where}.none.{short.reason}")
    return viewer.t(f"{where}.most.{short.reason}", most=viewer.count(short.most))


def _coupon_ids(priced: Priced) -> list[int]:
    return [int(source.removeprefix("coupon:")) for source in priced.coupons_used
            if source.startswith("coupon:")]


def place_cart(runtime: Runtime, cart: dict[int, int], *, shopper_id: int, key: str,
               buyer: Buyer | None = None,
               delivery: DeliveryAddress | None = None) -> tuple[Answer, CartQuote]:
    """Place the cart as one order, with the coupons its pricing chose from the shopper's wallet.
    `key` is the checkout form's: the same form posted again (a double click, a second tab's
    resend) gets the first order's answer, never a second order.

    Returns checkout's answer and the quote it was placed on. Raises InvalidInput, KeyReused (the
    key came with another cart), KeyInUse (the first post is still being placed after a wait), and
    checkout's refusals (SoldOut, LimitExceeded, ...).
    """
    lines = tuple(cart.items())
    idempotency = keys.key_of(f"user:{shopper_id}", key, "POST /cart/checkout", sorted(lines))
    quote = orders.quote_cart(runtime.uow(), lines, shopper_id=shopper_id)
    command = PlaceOrder(shopper_id, lines, idempotency=idempotency, coupons=tuple(_coupon_ids(quote.priced)),
                         buyer=buyer, delivery=delivery)
    for _ in range(PLACING_WAITS):
        try:
            return runtime.checkout.place(command).result(timeout=30), quote
        except keys.KeyInUse:
            time.sleep(PLACING_WAIT_SECONDS)  # the first post is being placed: its answer is ours
    raise keys.KeyInUse("the first post of this checkout is still being placed")
