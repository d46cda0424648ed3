"""Local services for shoppers: "near me" (the shops and deals around the browser's location or a
city, with a small map drawn on the server) and the in-store pay page a shop's counter QR code opens.
(The shop console is web/local_console.py; the vouchers in the wallet are web/wallet_pages.py.)"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from shopfest.catalog import service as catalog
from shopfest.core.actor import shopper_id
from shopfest.core.errors import DomainError, InvalidInput, NotFound, Unauthenticated
from shopfest.deps import RuntimeDep, actor_of
from shopfest.local import instore
from shopfest.local import service as local
from shopfest.local.cities import City, festival_cities
from shopfest.local.model import ShopKind, point
from shopfest.local.pay_rules import PayOffer, PayStatus, read_pay_amount
from shopfest.payments.provider import SANDBOX_METHODS
from shopfest.problems import status_of
from shopfest.rate_limits import client_address
from shopfest.runtime import Runtime
from shopfest.web.forms import FormErrors, problem_message
from shopfest.web.layout import render
from shopfest.web.local_map import distance_text, nearby_map
from shopfest.web.routing import PageRoute, sign_in_then
from shopfest.web.viewer import Viewer, viewer_of

router = APIRouter(include_in_schema=False, route_class=PageRoute)

RADII_M = (1000, 3000, 5000, 10000)
DEFAULT_RADIUS_M = 3000
PAGE_SIZE = 10
QUERY_MAX = 200  # a query value longer than this is nobody's location
MAP_VIEW_LEAST_M = 250  # the map shows at least this far around the centre


# --- near me ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class DealLine:
    title: str
    price: str
    url: str


@dataclass(frozen=True)
class ShopCard:
    number: int
    id: int
    name: str
    kind: str
    distance: str
    open_now: bool
    festival_deal: bool
    deals: list[DealLine]


@dataclass
class NearForm:
    """What the page was asked, as typed: the form shows it back."""

    lat: str = ""
    lng: str = ""
    city: str = ""
    radius_m: str = str(DEFAULT_RADIUS_M)
    kind: str = ""
    category: str = ""
    open_now: bool = False
    festival_deal: bool = False
    after: str = ""

    def query_string(self, **changes: str) -> str:
        values = {"lat": self.lat, "lng": self.lng, "city": self.city, "radius_m": self.radius_m,
                  "kind": self.kind, "category": self.category, "open_now": "1" if self.open_now else "",
                  "festival_deal": "1" if self.festival_deal else "", "after": self.after}
        values.update(changes)
        return urlencode({k: v for k, v in values.items() if v})


def _near_form(request: Request) -> NearForm:
    q = request.query_params

    def text(name: str, default: str = "") -> str:
        return (q.get(name) or default).strip()[:QUERY_MAX]

    return NearForm(lat=text("lat"), lng=text("lng"), city=text("city"),
                    radius_m=text("radius_m", str(DEFAULT_RADIUS_M)), kind=text("kind"),
                    category=text("category"), open_now=bool(q.get("open_now")),
                    festival_deal=bool(q.get("festival_deal")), after=text("after"))


def _number(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise InvalidInput(f"the {what} is a number", field=what) from None
    return value


def _whole(text: str, what: str) -> int:
    if not text.isdigit() or len(text) > 18:
        raise InvalidInput(f"the {what} is a whole number", field=what)
    return int(text)


def nearby_query(form: NearForm) -> local.NearbyQuery | None:
    """The search the form asks for; None when it names no place yet. Raises InvalidInput (and the
    model's BadPlace, BadRadius)."""
    place = None
    if form.lat or form.lng:
        place = point(_number(form.lat, "lat"), _number(form.lng, "lng"))
    city_id = _whole(form.city, "city") if form.city and place is None else None
    if place is None and city_id is None:
        return None
    kind = None
    if form.kind:
        if form.kind not in {k.value for k in ShopKind}:
            raise InvalidInput("no such kind of shop", field="kind")
        kind = ShopKind(form.kind)
    return local.NearbyQuery(
        place=place, city_id=city_id, radius_m=_number(form.radius_m, "radius_m"), kind=kind,
        category_id=_whole(form.category, "category") if form.category else None,
        open_now=form.open_now, festival_deal=form.festival_deal, after=form.after or None,
        limit=PAGE_SIZE)


def _shop_card(found: local.NearbyShop, number: int, viewer: Viewer) -> ShopCard:
    t, shop = viewer.t, found.shop
    return ShopCard(
        number=number, id=shop.id or 0, name=viewer.name(shop.name, shop.name_zh),
        kind=t(f"local.kind.{shop.kind.value}"),
        distance=distance_text(found.distance_m, lang=viewer.lang, locale=viewer.locale),
        open_now=found.open_now, festival_deal=shop.festival_deal,
        deals=[DealLine(viewer.name(d.title, d.title_zh), viewer.money(d.price), f"/products/{d.product_id}")
               for d in found.deals])


@dataclass(frozen=True)
class CityChoice:
    id: int
    name: str


def _city_choices(viewer: Viewer) -> list[CityChoice]:
    cities: tuple[City, ...] = festival_cities()
    return sorted((CityChoice(c.id, viewer.name(c.name, c.name_zh)) for c in cities),
                  key=lambda c: c.name)


def _categories(runtime: Runtime, viewer: Viewer) -> list[CityChoice]:
    found = catalog.all_categories(runtime.uow(read_only=True))
    return [CityChoice(c.id or 0, viewer.name(c.name, c.name_zh)) for c in found if c.parent_id is None]


@router.get("/local", response_class=HTMLResponse)
def near_me(request: Request, runtime: RuntimeDep) -> HTMLResponse:
    """The shops and deals around the browser's location or a city's centre, nearest first, with a
    map; a question that cannot be answered comes back beside the form (422), nothing searched."""
    viewer, form = viewer_of(request), _near_form(request)
    page, error, status = None, None, 200
    try:
        query = nearby_query(form)
        if query is not None:
            runtime.limiter.hit("nearby", address=client_address(request))  # the API's budget, shared
            page = local.nearby(runtime.uow(read_only=True), query, now=runtime.clock.now())
    except (InvalidInput, NotFound) as refused:  # a question that cannot be answered; anything else
        # (too many searches from this address) is the router's to say, with its Retry-After
        error, status = problem_message(refused, viewer.t), status_of(refused)
    cards = [_shop_card(s, n, viewer) for n, s in enumerate(page.shops, start=1)] if page else []
    drawing = None
    if page is not None and page.shops:
        farthest = max(s.distance_m for s in page.shops)
        drawing = nearby_map(page.centre, page.radius_m, [s.shop.place for s in page.shops],
                             label=viewer.t("local.map_label", count=len(cards)),
                             view_m=max(MAP_VIEW_LEAST_M, farthest * 1.2))
    return render(request, runtime, "local/near_me.html", status=status, form=form, error=error,
                  cards=cards, drawing=drawing, searched=page is not None,
                  next_url=(f"/local?{form.query_string(after=page.next_cursor)}"
                            if page is not None and page.next_cursor else None),
                  cities=_city_choices(viewer), categories=_categories(runtime, viewer),
                  kinds=[(k.value, viewer.t(f"local.kind.{k.value}")) for k in ShopKind],
                  radii=[(r, distance_text(r, lang=viewer.lang, locale=viewer.locale)) for r in RADII_M])


# --- in-store pay -----------------------------------------------------------------------------

Amount = Annotated[str, Form(max_length=40)]
Key = Annotated[str, Form(max_length=100)]


@dataclass(frozen=True)
class OfferView:
    shop: str
    amount: str | None
    discount: str | None
    to_pay: str | None
    rule: str | None
    uses_left: str | None = None  # for a signed-in shopper, where the shop offers the discount


def _offer_view(offer: PayOffer, viewer: Viewer, *, shopper: bool) -> OfferView:
    t, rule = viewer.t, offer.rule
    return OfferView(
        uses_left=t("local.pay.uses_left", count=offer.discount_uses_left) if shopper and rule else None,
        shop=offer.shop_name, amount=viewer.money(offer.amount) if offer.amount is not None else None,
        discount=viewer.money(offer.discount) if offer.amount is not None else None,
        to_pay=viewer.money(offer.to_pay) if offer.to_pay is not None else None,
        rule=t("local.pay.rule", spend=viewer.money(rule.spend), save=viewer.money(rule.save),
               times=rule.per_day) if rule is not None else None)


def _token(token: str) -> str:
    # Taken as text and bounded, so a mangled QR code is the same friendly 404 as an unknown one.
    return token if 0 < len(token) <= 64 and token.replace("-", "").replace("_", "").isalnum() else "-"


def _shopper_id(request: Request, runtime: Runtime) -> tuple[bool, int | None]:
    actor = actor_of(request, runtime)
    return actor is not None, shopper_id(actor)


def _pay_page(request: Request, runtime: Runtime, token: str, *, amount_text: str,
              errors: FormErrors | None = None, status: int = 200) -> HTMLResponse:
    """The shop, and for the amount typed the discount and what is left; a bad amount beside its field."""
    viewer, now = viewer_of(request), runtime.clock.now()
    signed_in, shopper_id = _shopper_id(request, runtime)
    errors = errors or FormErrors()
    currency, amount = instore.counter_currency(runtime.uow(read_only=True), token), None
    if amount_text.strip() and not errors:
        try:
            amount = read_pay_amount(amount_text.strip(), currency)
        except DomainError as refused:
            errors.add(refused, viewer.t, field_name="amount")
            status = 422
    offer = instore.pay_offer(runtime.uow(read_only=True), pay_token=token, shopper_id=shopper_id,
                              amount=amount, now=now)
    view = _offer_view(offer, viewer, shopper=shopper_id is not None)
    return render(request, runtime, "local/pay.html", status=status, offer=view,
                  token=token, amount=amount_text, errors=errors, methods=SANDBOX_METHODS,
                  signed_in=signed_in, shopper=shopper_id is not None, pay_key=secrets.token_urlsafe(16),
                  sign_in_url=sign_in_then(request))


@router.get("/pay/shop/{token}", response_class=HTMLResponse)
def pay_page(request: Request, runtime: RuntimeDep, token: str) -> HTMLResponse:
    """The page a counter's QR code opens: the shop, an amount, the festival discount, what is left."""
    return _pay_page(request, runtime, _token(token), amount_text=request.query_params.get("amount", "")[:40])


@router.post("/pay/shop/{token}", response_class=HTMLResponse)
def pay_at_shop(request: Request, runtime: RuntimeDep, token: str, amount: Amount = "", method: Amount = "",
                pay_key: Key = "") -> Response:
    """Pay the amount at the shop through the sandbox, then the receipt; signed out: sign in first.
    The form's key makes a second press the same payment, never a second charge."""
    token = _token(token)
    actor = actor_of(request, runtime)
    if actor is None:
        return RedirectResponse(f"/login?next=/pay/shop/{token}", status_code=303)
    viewer, errors, now = viewer_of(request), FormErrors(), runtime.clock.now()
    currency = instore.counter_currency(runtime.uow(read_only=True), token)
    try:
        money = read_pay_amount(amount.strip(), currency)
        if method not in SANDBOX_METHODS:
            raise InvalidInput("choose how to pay", field="method")
        started = instore.start_payment(runtime.uow(), runtime.provider, actor, pay_token=token, amount=money,
                                        key=pay_key or secrets.token_urlsafe(16), now=now)
        paid = instore.pay(runtime.uow(), runtime.provider, actor, payment_id=started.id, method=method)
    except DomainError as refused:
        errors.add(refused, viewer.t)
        return _pay_page(request, runtime, token, amount_text=amount, errors=errors,
                         status=status_of(refused))
    return RedirectResponse(f"/pay/receipts/{paid.id}", status_code=303)


@dataclass(frozen=True)
class Receipt:
    id: int
    shop: str
    amount: str
    discount: str
    paid: str
    status: str
    at: str
    ok: bool


@router.get("/pay/receipts/{payment_id}", response_class=HTMLResponse)
def receipt(request: Request, runtime: RuntimeDep, payment_id: int) -> HTMLResponse:
    """An in-store payment's receipt, for its shopper (and the shop's staff); nobody else's."""
    actor, viewer = actor_of(request, runtime), viewer_of(request)
    if actor is None:
        raise Unauthenticated("sign in to see a receipt")
    found = instore.payment(runtime.uow(read_only=True), actor, payment_id=max(0, min(payment_id, 2**62)))
    shop = local.find_shop(runtime.uow(read_only=True), found.shop_id)
    return render(request, runtime, "local/receipt.html", payment=Receipt(
        id=found.id, shop=viewer.name(shop.name, shop.name_zh), amount=viewer.money(found.amount),
        discount=viewer.money(found.discount), paid=viewer.money(found.to_pay),
        status=viewer.t(f"local.pay.status.{found.status.value}"),
        at=viewer.wall(found.paid_at or found.created_at, shop.zone), ok=found.status is PayStatus.PAID))
