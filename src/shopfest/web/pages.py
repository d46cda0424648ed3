"""Server-rendered pages of the storefront: home, search, a product, the cart, signing in and out."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool

from shopfest.accounts import service as accounts
from shopfest.accounts.model import BadCredentials, TokenKind
from shopfest.catalog import service as catalog
from shopfest.catalog.model import BrandTier, Fulfilment, Product, ProductSort
from shopfest.core.actor import Role, require_role, shopper_id
from shopfest.core.clock import HOME_ZONE
from shopfest.core.errors import DomainError, NotFound
from shopfest.core.ids import new_secret
from shopfest.core.money import Money
from shopfest.deps import SESSION_COOKIE, RuntimeDep, actor_of
from shopfest.festival.model import Festival
from shopfest.insights.visits import is_bot
from shopfest.orders.drafting import buyer_of
from shopfest.orders.model import AddressNeeded, Order, OrderStatus
from shopfest.payments import idempotency as keys
from shopfest.problems import status_of
from shopfest.rate_limits import client_address, email_key
from shopfest.runtime import Runtime
from shopfest.web import csrf
from shopfest.web.account_pages import checkout_delivery, delivery_choice
from shopfest.web.deals import CART_COOKIE, cart_view, parse_cart, place_cart, write_cart
from shopfest.web.forms import problem_message
from shopfest.web.layout import current_festival, phase_name, render
from shopfest.web.prices import HOME_CURRENCY
from shopfest.web.routing import PageRoute, safe_next
from shopfest.web.search_form import SearchForm, category_groups, category_tree
from shopfest.web.showcase import product_cards, product_sheet
from shopfest.web.viewer import Viewer, follow_profile, viewer_of

SHELF_SIZE = 8
MAX_QTY = 999  # the most of one SKU a cart line holds
COUNT_AT_MOST = 1000  # a search counts its results this far, then says "more than"


router = APIRouter(include_in_schema=False, route_class=PageRoute)


# --- home -----------------------------------------------------------------------------------

@router.get("/", response_class=HTMLResponse)
def home(request: Request, runtime: RuntimeDep) -> HTMLResponse:
    viewer = viewer_of(request)
    festival = current_festival(runtime)
    now = runtime.clock.now()
    new_products, new_count = ([], 0) if festival is None else catalog.new_arrivals(
        runtime.uow(read_only=True), since=festival.starts_at, limit=SHELF_SIZE)
    shopper_id = _shopper_id(request, runtime)
    return render(
        request, runtime, "home.html",
        calendar=_calendar(festival, now, viewer),
        new_arrivals=product_cards(runtime, new_products, viewer, shopper_id=shopper_id),
        new_count=viewer.count(new_count),
        luxury=product_cards(runtime, _luxury_shelf(runtime), viewer, shopper_id=shopper_id),
        category_groups=category_groups(catalog.all_categories(runtime.uow(read_only=True))),
        has_festival=festival is not None,
    )


@dataclass(frozen=True)
class PhaseRow:
    key: str
    name: str
    when: str
    state: str  # "done", "on" or "coming"


def _calendar(festival: Festival | None, now: datetime, viewer: Viewer) -> list[PhaseRow]:
    """Each phase with its local start and end, and whether it is over, on now or coming."""
    if festival is None:
        return []
    return [
        PhaseRow(p.key, phase_name(p, viewer.t), viewer.span(p.starts_at, p.ends_at, festival.timezone),
                 "on" if p.contains(now) else "done" if p.ends_at <= now else "coming")
        for p in festival.phases
    ]


def _luxury_shelf(runtime: Runtime) -> list[Product]:
    query = SearchForm(tier=BrandTier.LUXURY.value).to_query(runtime, limit=SHELF_SIZE)
    return catalog.search_products(runtime.uow(read_only=True), query).items


# --- search ---------------------------------------------------------------------------------

@router.get("/search", response_class=HTMLResponse)
def search(request: Request, runtime: RuntimeDep) -> HTMLResponse:
    """Bad filters come back on the same form with the reason and status 422, never a crash."""
    runtime.limiter.hit("search", address=client_address(request))
    viewer, form = viewer_of(request), SearchForm.of(request.query_params)
    context: dict[str, Any] = {
        "form": form, "categories": category_tree(catalog.all_categories(runtime.uow(read_only=True))),
        "tiers": list(BrandTier), "fulfilments": list(Fulfilment), "price_currency": HOME_CURRENCY,
        "sorts": list(ProductSort), "previous_url": form.previous_url(),
    }
    try:
        query = form.to_query(runtime)
        page = catalog.search_products(runtime.uow(read_only=True), query)
        found = catalog.count_products(runtime.uow(read_only=True), query, at_most=COUNT_AT_MOST + 1)
    except DomainError as error:
        return render(request, runtime, "search.html", status=status_of(error),
                      error=problem_message(error, viewer.t), results=None, next_url=None, found=None,
                      **context)
    after = catalog.next_cursor(query, page)
    return render(request, runtime, "search.html", error=None,
                  next_url=form.next_url(after) if after else None, found=_found(found, viewer),
                  results=product_cards(runtime, page.items, viewer,
                                        shopper_id=_shopper_id(request, runtime)), **context)


def _found(count: int, viewer: Viewer) -> str:
    if count > COUNT_AT_MOST:
        return viewer.t("search.found_over", count=viewer.count(COUNT_AT_MOST))
    return viewer.t("search.found", count=viewer.count(count))


# --- a product ------------------------------------------------------------------------------

@router.get("/products/{product_id}", response_class=HTMLResponse)
def product(request: Request, runtime: RuntimeDep, product_id: str) -> HTMLResponse:
    # Taken as text so /products/abc is the same friendly 404 as an id that does not exist.
    if not product_id.isdigit() or len(product_id) > 18:
        raise NotFound(f"no product {product_id}")
    festival = current_festival(runtime)
    sheet = product_sheet(runtime, int(product_id), viewer=viewer_of(request),
                          zone_name=festival.timezone if festival else HOME_ZONE,
                          shopper_id=_shopper_id(request, runtime))
    if runtime.visits is not None and _a_shopper_looks(request):
        runtime.visits.viewed(sheet.id, runtime.clock.now())
    return render(request, runtime, "product.html", product=sheet)


# --- the cart, kept in the browser and priced as checkout would ------------------------------

@router.get("/cart", response_class=HTMLResponse)
def cart_page(request: Request, runtime: RuntimeDep) -> HTMLResponse:
    return _cart_page(request, runtime, parse_cart(request.cookies.get(CART_COOKIE)))


def _shopper_id(request: Request, runtime: Runtime) -> int | None:
    """The signed-in shopper, whom the pages price for (their flash limits, their coupons)."""
    actor = actor_of(request, runtime)
    return shopper_id(actor)


def _zone(runtime: Runtime) -> str:
    festival = current_festival(runtime)
    return festival.timezone if festival else HOME_ZONE


def _cart_page(request: Request, runtime: Runtime, cart: dict[int, int], *, placed: str | None = None,
               problem: str | None = None, refused: DomainError | None = None,
               status: int = 200, pay_url: str | None = None) -> HTMLResponse:
    """The cart as checkout would take it now; a checkout just refused comes back here, its reason
    on its line. The form carries a fresh key: posted twice, it places one order."""
    viewer, shopper_id = viewer_of(request), _shopper_id(request, runtime)
    view = None
    if cart:
        try:
            view = cart_view(runtime, cart, viewer, shopper_id=shopper_id, zone_name=_zone(runtime),
                             refused=refused)
        except DomainError as refusal:
            problem = problem_message(refusal, viewer.t)
    if refused is not None and view is not None and not view.blocked:
        # a refusal of the whole order (an account rule, a coupon): said on top
        problem = problem_message(refused, viewer.t)
    return render(request, runtime, "cart.html", status=status, cart=view, problem=problem, placed=placed,
                  shopper=shopper_id is not None, checkout_key=secrets.token_urlsafe(18), pay_url=pay_url,
                  delivery=delivery_choice(request, runtime, cart))


def _with_cart(response: Response, cart: dict[int, int]) -> Response:
    response.set_cookie(CART_COOKIE, write_cart(cart), max_age=30 * 24 * 3600, httponly=True,
                        samesite="lax", path="/")
    return response


@router.post("/cart/add")
def add_to_cart(request: Request, runtime: RuntimeDep, sku_id: Annotated[int, Form(ge=1)],
                qty: Annotated[int, Form(ge=1, le=999)] = 1) -> Response:
    cart = parse_cart(request.cookies.get(CART_COOKIE))
    if runtime.visits is not None and _a_shopper_looks(request):
        runtime.visits.carted(sku_id, runtime.clock.now())
    cart[sku_id] = min(999, cart.get(sku_id, 0) + qty)
    return _with_cart(RedirectResponse("/cart", status_code=303), cart)


@router.post("/cart/remove")
def remove_from_cart(request: Request, sku_id: Annotated[int, Form(ge=1)]) -> Response:
    cart = parse_cart(request.cookies.get(CART_COOKIE))
    cart.pop(sku_id, None)
    return _with_cart(RedirectResponse("/cart", status_code=303), cart)


@router.post("/cart/update", response_class=HTMLResponse)
def update_cart(request: Request, runtime: RuntimeDep, sku_id: Annotated[int, Form(ge=1)],
                qty: Annotated[str, Form(max_length=20)] = "") -> Response:
    """A line's new quantity; 0 takes it out. More than is left, or than a flash sale lets this
    shopper take, is kept and flagged on the line as checkout would refuse it. A quantity that is
    not a whole number from 0 to 999 changes nothing and says so."""
    cart = parse_cart(request.cookies.get(CART_COOKIE))
    typed = qty.strip()
    if not (typed.isascii() and typed.isdigit()) or int(typed) > MAX_QTY:
        return _cart_page(request, runtime, cart, status=422,
                          problem=viewer_of(request).t("cart.bad_qty", most=MAX_QTY))
    if sku_id in cart:  # a line not in this cart is not added by an edit
        if int(typed) == 0:
            cart.pop(sku_id)
        else:
            cart[sku_id] = int(typed)
    return _with_cart(RedirectResponse("/cart", status_code=303), cart)


@router.post("/cart/checkout", response_class=HTMLResponse)
def checkout(request: Request, runtime: RuntimeDep,
             checkout_key: Annotated[str, Form(max_length=255)] = "",
             address_id: Annotated[str, Form(max_length=20)] = "") -> Response:
    """Place the cart as one order, once however often its form is posted; refused, the cart comes
    back with the reason on the line."""
    actor = require_role(actor_of(request, runtime), Role.SHOPPER)
    cart = parse_cart(request.cookies.get(CART_COOKIE))
    if not cart:
        return RedirectResponse("/cart", status_code=303)
    viewer = viewer_of(request)
    if not checkout_key:  # a form from before keys, or not ours: show the cart, with a fresh key
        return _cart_page(request, runtime, cart, problem=viewer.t("cart.stale"), status=422)
    try:  # shipped goods go to an address the shopper chose (web/account_pages.py)
        delivery = checkout_delivery(runtime, actor, cart, address_id)
    except AddressNeeded:
        return _cart_page(request, runtime, cart, problem=viewer.t("account.address.needed"), status=422)
    try:
        answer, quote = place_cart(runtime, cart, shopper_id=actor.user_id, key=checkout_key,
                                   buyer=buyer_of(actor), delivery=delivery)
    except keys.KeyInUse:
        return _cart_page(request, runtime, cart, problem=viewer.t("cart.placing"), status=409)
    except DomainError as refusal:
        return _cart_page(request, runtime, cart, problem=viewer.t("cart.not_placed"), refused=refusal,
                          status=status_of(refusal))
    placed = _placed(runtime, viewer, answer.receipt, quote.order)
    pay_url = f"/account/orders/{answer.receipt['id']}/pay"
    return _with_cart(_cart_page(request, runtime, {}, placed=placed, pay_url=pay_url), {})


def _placed(runtime: Runtime, viewer: Viewer, receipt: dict[str, Any], order: Order) -> str:
    """The order placed, and what to pay by when: the whole, or a pre-sale's deposit and balance."""
    total = viewer.money(Money.parse(receipt["total"]["amount"], receipt["total"]["currency"]))
    minutes = runtime.settings.reservation_minutes
    if receipt["status"] != OrderStatus.AWAITING_DEPOSIT.value or order.presale is None:
        return viewer.t("cart.placed", id=receipt["id"], total=total, minutes=minutes)
    _, deposit = order.amount_due(order.placed_at)
    when = viewer.span(order.presale.balance_from, order.presale.balance_until, _zone(runtime))
    return viewer.t("cart.placed_presale", id=receipt["id"], total=total, minutes=minutes,
                    deposit=viewer.money(deposit), balance=viewer.money(order.to_pay - deposit), when=when)


# --- signing in and out ---------------------------------------------------------------------

@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, runtime: RuntimeDep) -> HTMLResponse:
    return render(request, runtime, "login.html", email="", failed=None,
                  next_url=safe_next(request.query_params.get("next")))


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request, runtime: RuntimeDep, email: Annotated[str, Form()] = "",
                password: Annotated[str, Form()] = "",
                next_url: Annotated[str, Form(alias="next", max_length=2000)] = "/") -> Response:
    """Limited and locked as the API's sign-in; the password is checked in the hashing pool,
    awaited here without holding a request thread. Signed in, the browser goes back where it was."""
    address = client_address(request)
    runtime.limiter.hit("login", account=email_key(email), address=address)
    try:
        issued = await runtime.hashing.run(accounts.sign_in_watched, runtime.uow(), email=email,
                                           password=password, kind=TokenKind.SESSION,
                                           lockout=runtime.limiter.lockout(address))
    except BadCredentials as refusal:
        return await run_in_threadpool(render, request, runtime, "login.html", status=401, email=email,
                                       failed=problem_message(refusal, viewer_of(request).t),
                                       next_url=safe_next(next_url))
    response = RedirectResponse(safe_next(next_url), status_code=303)
    # The lifetime is counted on the festival clock; the browser counts on its own, so give it a span.
    lifetime = int((issued.expires_at - runtime.clock.now()).total_seconds())
    response.set_cookie(SESSION_COOKIE, issued.secret, max_age=lifetime, httponly=True, samesite="lax",
                        secure=request.url.scheme == "https", path="/")
    csrf.keep_token(request, response, new_secret())  # a form token planted before signing in dies here
    await run_in_threadpool(_follow_account, runtime, response, issued.secret)
    return response


def _follow_account(runtime: Runtime, response: Response, secret: str) -> None:
    """Signed in, the pages read in the account's language and currency (its settings)."""
    actor = runtime.ports.actor_for_session(runtime.uow(read_only=True), secret)
    user = accounts.get_user(runtime.uow(read_only=True), actor.user_id)
    if user is not None:
        follow_profile(response, user.profile)


@router.post("/logout")
def logout(request: Request, runtime: RuntimeDep) -> Response:
    secret = request.cookies.get(SESSION_COOKIE)
    if secret:
        accounts.sign_out(runtime.uow(), secret)  # the token dies on the server, not just the cookie
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")
    return response


def _a_shopper_looks(request: Request) -> bool:
    """Whether a request counts in a merchant's views -> carts -> orders: no HEAD, no bot."""
    return request.method != "HEAD" and not is_bot(request.headers.get("user-agent"))
