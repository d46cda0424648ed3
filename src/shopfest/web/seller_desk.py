"""The seller centre's festival tools and orders: flash sales, pre-sales, store promotions and coupons with
a preview, parts to ship, returns to decide, the CSV export."""

from __future__ import annotations

import csv
import io
import secrets
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool

from shopfest.core.actor import Actor, require_merchant_staff
from shopfest.core.clock import HOME_ZONE
from shopfest.core.errors import Conflict, DomainError, InvalidInput, NotFound
from shopfest.deps import RuntimeDep, actor_of
from shopfest.inventory import service as inventory
from shopfest.inventory.model import MAX_ACCOUNT_AGE_HOURS, FlashSale
from shopfest.orders import service as orders
from shopfest.orders.model import OrderStatus, ReturnStatus
from shopfest.orders.preview import OfferPreview, preview_offer
from shopfest.payments import idempotency as keys
from shopfest.payments import service as payments
from shopfest.problems import status_of
from shopfest.promotions import service as promotions
from shopfest.promotions.offers import MERCHANT_PROMOTIONS, Campaign, CouponIssue, Period
from shopfest.runtime import Runtime
from shopfest.web import desk_forms as forms
from shopfest.web import desk_views as views
from shopfest.web.desk_forms import FormReader
from shopfest.web.forms import FormErrors, problem_message
from shopfest.web.layout import current_festival, render
from shopfest.web.routing import PageRoute
from shopfest.web.viewer import viewer_of

router = APIRouter(include_in_schema=False, route_class=PageRoute)

PROMOTION_KINDS = ("percent_off", "multi_buy", "store_threshold")
TIERS = 3  # threshold tiers a store promotion's form offers
NOT_FINGERPRINTED = frozenset({"csrf_token", "action", "form_key"})


def staff_of(request: Request, runtime: Runtime) -> Actor:
    """The signed-in staff of a merchant. Raises Unauthenticated (a GET goes to sign in), Forbidden."""
    staff, _ = require_merchant_staff(actor_of(request, runtime))
    return staff


def zone_of(runtime: Runtime) -> str:
    festival = current_festival(runtime)
    return festival.timezone if festival else HOME_ZONE


async def posted(request: Request) -> dict[str, str]:
    form = await request.form()  # read once already by the CSRF check, kept by Starlette
    return {name: value for name, value in form.items() if isinstance(value, str)}


def number(text: str) -> int:
    """An id from the address: anything but one is the same 404 as an id that does not exist."""
    if not text.isascii() or not text.isdigit() or len(text) > 18:
        raise NotFound(f"no such thing as {text[:40]!r}")
    return int(text)


def put_on_once(runtime: Runtime, staff: Actor, form: dict[str, str], what: str,
                run: Callable[[], int]) -> int:
    """Save what the form asks once per form: its hidden key makes a second post (a double click,
    a resend) get the first answer. Raises InvalidInput (no key), KeyReused, KeyInUse, and what
    `run` raises."""
    if not form.get("form_key"):  # not a form this centre served (or one from before keys)
        raise InvalidInput("the form is out of date: look it over and post it again", stale_form=True)
    fields = sorted((k, v) for k, v in form.items() if k not in NOT_FINGERPRINTED)
    key = keys.key_of(f"user:{staff.user_id}", form.get("form_key", ""), "seller-desk", what, fields)
    answer = payments.once(runtime.uow, key=key, run=lambda: {"id": run()}, status_code=201)
    return int(answer.response["id"])


def tool_page(request: Request, runtime: Runtime, template: str, *, staff: Actor, form: dict[str, str],
              reader: FormReader | None = None, status: int = 200, **context: Any) -> HTMLResponse:
    """A festival tool's form, with what was posted, the messages beside its fields, a preview."""
    context.setdefault("preview", None)
    context.setdefault("zone", zone_of(runtime))
    return render(request, runtime, template, status=status, form=form,
                  errors=reader.errors if reader else FormErrors(),
                  skus=inventory.merchant_skus(runtime.uow(read_only=True), staff),
                  sample_rows=range(1, forms.SAMPLE_ROWS + 1), **context)


def fresh_form(defaults: dict[str, str]) -> dict[str, str]:
    return {**defaults, "form_key": secrets.token_urlsafe(18)}


def refused(request: Request, runtime: Runtime, template: str, *, staff: Actor, form: dict[str, str],
            reader: FormReader, error: DomainError | None = None, **context: Any) -> HTMLResponse:
    """The form again, with why it was refused, and a 4xx."""
    if error is not None and error.data.get("stale_form"):
        reader.errors.by_field[""] = reader.viewer.t("desk.form.stale")
        form["form_key"] = secrets.token_urlsafe(18)
    elif error is not None:
        reader.refused(error)
    status = status_of(error) if error is not None else 422
    return tool_page(request, runtime, template, staff=staff, form=form, reader=reader, status=status,
                     **context)


# --- flash sales ------------------------------------------------------------------------------

@router.get("/seller/flash-sales", response_class=HTMLResponse)
def flash_sales(request: Request, runtime: RuntimeDep) -> HTMLResponse:
    staff = staff_of(request, runtime)
    sales = inventory.flash_sales_of_merchant(runtime.uow(read_only=True), staff)
    return render(request, runtime, "seller/flash_sales.html", section="flash", zone=zone_of(runtime),
                  sales=sales, saved=request.query_params.get("saved"))


@router.get("/seller/flash-sales/new", response_class=HTMLResponse)
def new_flash_sale(request: Request, runtime: RuntimeDep) -> HTMLResponse:
    staff = staff_of(request, runtime)
    skus = inventory.merchant_skus(runtime.uow(read_only=True), staff)
    start = runtime.clock.now().replace(second=0, microsecond=0) + timedelta(hours=1)
    defaults = {"sku_id": str(skus[0].sku_id) if skus else "", "quantity": "100", "per_shopper_limit": "1",
                "min_account_age_hours": "0", **forms.sample_defaults(skus),
                **forms.window_defaults(start, start + timedelta(hours=2), zone_of(runtime))}
    return tool_page(request, runtime, "seller/flash_sale_form.html", staff=staff, form=fresh_form(defaults),
                     section="flash", max_age=MAX_ACCOUNT_AGE_HOURS)


@router.post("/seller/flash-sales/new", response_class=HTMLResponse)
async def post_flash_sale(request: Request, runtime: RuntimeDep) -> Response:
    form = await posted(request)
    return await run_in_threadpool(_flash_sale_posted, request, runtime, form)


def _flash_sale_of(runtime: Runtime, staff: Actor, reader: FormReader) -> FlashSale | None:
    """The flash sale the form asks for, or None when a field is wrong. Raises NotFound (not the
    staff's SKU), InvalidInput."""
    sku_id = reader.sku()
    if not sku_id:
        return None
    sku = inventory.own_skus(runtime.uow(read_only=True), staff, [sku_id])[sku_id]
    price = reader.money("price", sku.price.currency)
    quantity = reader.count("quantity")
    limit = reader.count("per_shopper_limit", high=forms.MAX_QTY)
    age = reader.count("min_account_age_hours", low=0, high=MAX_ACCOUNT_AGE_HOURS)
    window = reader.window(zone_of(runtime))
    if reader.errors or price is None or window is None:
        return None
    return FlashSale(sku_id=sku_id, price=price, quantity=quantity, starts_at=window[0], ends_at=window[1],
                     per_shopper_limit=limit, requires_verified=reader.flag("requires_verified"),
                     min_account_age_hours=age)


def _flash_sale_posted(request: Request, runtime: Runtime, form: dict[str, str]) -> Response:
    staff, viewer = staff_of(request, runtime), viewer_of(request)
    reader = FormReader(form, viewer)
    page: dict[str, Any] = {"template": "seller/flash_sale_form.html", "staff": staff, "form": form,
                            "reader": reader, "section": "flash", "max_age": MAX_ACCOUNT_AGE_HOURS}
    try:
        sale = _flash_sale_of(runtime, staff, reader)
        sample = reader.sample()
        if sale is None or reader.errors:
            return refused(request, runtime, **page)
        if form.get("action") != "put_on":
            found = inventory.preview_flash_sale(runtime.uow(read_only=True), staff, sale, sample)
            at = viewer.when(sale.starts_at, zone_of(runtime))
            return tool_page(request, runtime, **page | {"reader": None},
                             preview=forms.flash_preview(found, viewer, at))
        saved = put_on_once(runtime, staff, form, "flash-sale",
                            lambda: _schedule(runtime, staff, sale, sample))
    except (InvalidInput, Conflict) as error:
        return refused(request, runtime, **page, error=error)
    return RedirectResponse(f"/seller/flash-sales?saved={saved}", status_code=303)


def _schedule(runtime: Runtime, staff: Actor, sale: FlashSale, sample: list[tuple[int, int]]) -> int:
    # Previewed first: the same checks as scheduling, each refusal naming the field it is about.
    inventory.preview_flash_sale(runtime.uow(read_only=True), staff, sale, sample)
    return inventory.schedule_flash_sale(runtime.uow(), staff, sale).id or 0


# --- pre-sales --------------------------------------------------------------------------------

@router.get("/seller/presales", response_class=HTMLResponse)
def presales(request: Request, runtime: RuntimeDep) -> HTMLResponse:
    staff = staff_of(request, runtime)
    skus = inventory.merchant_skus(runtime.uow(read_only=True), staff)
    terms = promotions.presales_of(runtime.uow(read_only=True), staff, [s.sku_id for s in skus])
    viewer = viewer_of(request)
    return render(request, runtime, "seller/presales.html", section="presales",
                  rows=views.presale_rows(skus, terms, viewer),
                  waves=forms.presale_waves(current_festival(runtime), viewer),
                  saved=request.query_params.get("saved"))


@router.get("/seller/presales/new", response_class=HTMLResponse)
def new_presale(request: Request, runtime: RuntimeDep) -> HTMLResponse:
    staff = staff_of(request, runtime)
    skus = inventory.merchant_skus(runtime.uow(read_only=True), staff)
    defaults = {"sku_id": str(skus[0].sku_id) if skus else ""}
    return tool_page(request, runtime, "seller/presale_form.html", staff=staff, form=fresh_form(defaults),
                     section="presales", waves=forms.presale_waves(current_festival(runtime),
                                                                   viewer_of(request)))


@router.post("/seller/presales/new", response_class=HTMLResponse)
async def post_presale(request: Request, runtime: RuntimeDep) -> Response:
    form = await posted(request)
    return await run_in_threadpool(_presale_posted, request, runtime, form)


def _presale_posted(request: Request, runtime: Runtime, form: dict[str, str]) -> Response:
    staff, viewer = staff_of(request, runtime), viewer_of(request)
    reader = FormReader(form, viewer)
    page: dict[str, Any] = {"template": "seller/presale_form.html", "staff": staff, "form": form,
                            "reader": reader, "section": "presales",
                            "waves": forms.presale_waves(current_festival(runtime), viewer)}
    try:
        sku_id = reader.sku()
        if not sku_id:
            return refused(request, runtime, **page)
        sku = inventory.own_skus(runtime.uow(read_only=True), staff, [sku_id])[sku_id]
        deposit = reader.money("deposit", sku.price.currency)
        worth = reader.money("worth", sku.price.currency, optional=True)
        if deposit is None or reader.errors:
            return refused(request, runtime, **page)
        found = promotions.preview_presale(runtime.uow(read_only=True), staff, sku_id=sku_id,
                                           deposit=deposit, worth=worth)
        if form.get("action") != "put_on":
            return tool_page(request, runtime, **page | {"reader": None},
                             preview=views.presale_preview(found, viewer))
        put_on_once(runtime, staff, form, "presale", lambda: _offer(runtime, staff, sku_id, deposit, worth))
    except (InvalidInput, Conflict) as error:
        return refused(request, runtime, **page, error=error)
    return RedirectResponse(f"/seller/presales?saved={sku_id}", status_code=303)


def _offer(runtime: Runtime, staff: Actor, sku_id: int, deposit: Any, worth: Any) -> int:
    promotions.offer_presale(runtime.uow(), staff, sku_id=sku_id, deposit=deposit, worth=worth)
    return sku_id


# --- store promotions -------------------------------------------------------------------------

@router.get("/seller/promotions", response_class=HTMLResponse)
def store_promotions(request: Request, runtime: RuntimeDep) -> HTMLResponse:
    staff = staff_of(request, runtime)
    found = promotions.store_promotions(runtime.uow(read_only=True), staff)
    skus = inventory.merchant_skus(runtime.uow(read_only=True), staff)
    return render(request, runtime, "seller/promotions.html", section="promotions", kinds=PROMOTION_KINDS,
                  rows=views.promotion_rows(found, skus, viewer_of(request), zone_of(runtime),
                                            runtime.clock.now()),
                  saved=request.query_params.get("saved"))


def _kind(text: str | None) -> str:
    if text not in MERCHANT_PROMOTIONS:
        raise NotFound(f"no kind of store promotion {str(text)[:40]!r}")
    return text


def _sale_window(runtime: Runtime) -> dict[str, str]:
    """The sale on now or next, where a store promotion must lie, as the form's default window."""
    now = runtime.clock.now().replace(second=0, microsecond=0)
    sale = forms.next_sale(current_festival(runtime), now)
    start, end = (max(now, sale.starts_at), sale.ends_at) if sale else (now, now + timedelta(days=1))
    return forms.window_defaults(start, end, zone_of(runtime))


@router.get("/seller/promotions/new", response_class=HTMLResponse)
def new_promotion(request: Request, runtime: RuntimeDep) -> HTMLResponse:
    staff = staff_of(request, runtime)
    kind = _kind(request.query_params.get("kind"))
    skus = inventory.merchant_skus(runtime.uow(read_only=True), staff)
    defaults = {"kind": kind, "percent": "10", "min_qty": "2", **forms.sample_defaults(skus),
                **_sale_window(runtime)}
    return tool_page(request, runtime, "seller/promotion_form.html", staff=staff, form=fresh_form(defaults),
                     section="promotions", kind=kind, tiers=range(1, TIERS + 1))


@router.post("/seller/promotions/new", response_class=HTMLResponse)
async def post_promotion(request: Request, runtime: RuntimeDep) -> Response:
    form = await posted(request)
    return await run_in_threadpool(_promotion_posted, request, runtime, form)


def _rule(runtime: Runtime, staff: Actor, kind: str, reader: FormReader, currency: str) -> dict[str, Any]:
    """The pricing contract's fields of the kind, from the form (checked again by the engine)."""
    if kind == "store_threshold":
        tiers = []
        for n in range(1, TIERS + 1):
            if reader.raw(f"spend_{n}") or reader.raw(f"off_{n}") or n == 1:
                spend, off = reader.money(f"spend_{n}", currency), reader.money(f"off_{n}", currency)
                if spend is not None and off is not None:
                    tiers.append({"spend": spend.amount, "off": off.amount})
        return {"tiers": tiers, "repeat": reader.flag("repeat")}
    rule: dict[str, Any] = {"percent": reader.raw("percent")}
    if kind == "multi_buy":
        rule["min_qty"] = reader.count("min_qty", high=forms.MAX_QTY)
    if reader.raw("sku_id"):  # one SKU of the store, or (empty) every line of it
        sku_id = reader.sku()
        if sku_id:
            inventory.own_skus(runtime.uow(read_only=True), staff, [sku_id])
            rule["sku"] = str(sku_id)
    return rule


def _campaign_of(runtime: Runtime, staff: Actor, kind: str, reader: FormReader) -> Campaign | None:
    skus = inventory.merchant_skus(runtime.uow(read_only=True), staff)
    currency = skus[0].price.currency if skus else "CNY"
    rule = _rule(runtime, staff, kind, reader, currency)
    window = reader.window(zone_of(runtime))
    if reader.errors or window is None:
        return None
    return Campaign(kind, None, currency, rule, Period(*window))


def _promotion_posted(request: Request, runtime: Runtime, form: dict[str, str]) -> Response:
    staff, viewer = staff_of(request, runtime), viewer_of(request)
    kind = _kind(form.get("kind"))
    reader = FormReader(form, viewer)
    page: dict[str, Any] = {"template": "seller/promotion_form.html", "staff": staff, "form": form,
                            "reader": reader, "section": "promotions", "kind": kind,
                            "tiers": range(1, TIERS + 1)}
    try:
        campaign = _campaign_of(runtime, staff, kind, reader)
        sample = reader.sample()
        if campaign is None or reader.errors:
            return refused(request, runtime, **page)
        found = _previewed(runtime, staff, sample, campaign=campaign)
        if form.get("action") != "put_on":
            return tool_page(request, runtime, **page | {"reader": None},
                             preview=forms.offer_preview(found, sample, viewer, zone_of(runtime)))
        saved = put_on_once(runtime, staff, form, "promotion",
                            lambda: promotions.put_on_promotion(runtime.uow(), staff, campaign).id or 0)
    except (InvalidInput, Conflict) as error:
        return refused(request, runtime, **page, error=error)
    return RedirectResponse(f"/seller/promotions?saved={saved}", status_code=303)


def _previewed(runtime: Runtime, staff: Actor, sample: list[tuple[int, int]], *,
               campaign: Campaign | None = None,
               coupon: CouponIssue | None = None) -> OfferPreview:
    """The draft on the sample cart of the staff's own SKUs (another merchant's SKU: 404)."""
    inventory.own_skus(runtime.uow(read_only=True), staff, [sku_id for sku_id, _ in sample])
    return preview_offer(runtime.uow(read_only=True), staff, sample=sample, campaign=campaign,
                         coupon=coupon)


# --- store coupons ----------------------------------------------------------------------------

@router.get("/seller/coupons", response_class=HTMLResponse)
def store_coupons(request: Request, runtime: RuntimeDep) -> HTMLResponse:
    staff = staff_of(request, runtime)
    found = promotions.store_coupons(runtime.uow(read_only=True), staff)
    return render(request, runtime, "seller/coupons.html", section="coupons",
                  rows=views.coupon_rows(found, viewer_of(request), zone_of(runtime), runtime.clock.now()),
                  saved=request.query_params.get("saved"))


@router.get("/seller/coupons/new", response_class=HTMLResponse)
def new_coupon(request: Request, runtime: RuntimeDep) -> HTMLResponse:
    staff = staff_of(request, runtime)
    skus = inventory.merchant_skus(runtime.uow(read_only=True), staff)
    defaults = {"quantity": "1000", "per_shopper_limit": "1", "min_spend": "", **forms.sample_defaults(skus),
                **_sale_window(runtime)}
    return tool_page(request, runtime, "seller/coupon_form.html", staff=staff, form=fresh_form(defaults),
                     section="coupons")


@router.post("/seller/coupons/new", response_class=HTMLResponse)
async def post_coupon(request: Request, runtime: RuntimeDep) -> Response:
    form = await posted(request)
    return await run_in_threadpool(_coupon_posted, request, runtime, form)


def _coupon_of(runtime: Runtime, staff: Actor, reader: FormReader) -> CouponIssue | None:
    skus = inventory.merchant_skus(runtime.uow(read_only=True), staff)
    currency = skus[0].price.currency if skus else "CNY"
    off = reader.money("off", currency)
    min_spend = reader.money("min_spend", currency, optional=True)
    quantity = reader.count("quantity")
    limit = reader.count("per_shopper_limit", high=forms.MAX_QTY)
    window = reader.window(zone_of(runtime))
    if limit > quantity and not reader.errors.of("quantity"):
        reader.fail("per_shopper_limit", "desk.bad.limit")
    if reader.errors or off is None or window is None:
        return None
    return CouponIssue("store_coupon", None, currency, min_spend.minor if min_spend else 0, off.minor,
                       quantity, limit, Period(*window))


def _coupon_posted(request: Request, runtime: Runtime, form: dict[str, str]) -> Response:
    staff, viewer = staff_of(request, runtime), viewer_of(request)
    reader = FormReader(form, viewer)
    page: dict[str, Any] = {"template": "seller/coupon_form.html", "staff": staff, "form": form,
                            "reader": reader, "section": "coupons"}
    try:
        coupon = _coupon_of(runtime, staff, reader)
        sample = reader.sample()
        if coupon is None or reader.errors:
            return refused(request, runtime, **page)
        found = _previewed(runtime, staff, sample, coupon=coupon)
        if form.get("action") != "put_on":
            return tool_page(request, runtime, **page | {"reader": None},
                             preview=forms.offer_preview(found, sample, viewer, zone_of(runtime)))
        saved = put_on_once(runtime, staff, form, "coupon",
                            lambda: promotions.put_on_coupon(runtime.uow(), staff, coupon).id or 0)
    except (InvalidInput, Conflict) as error:
        return refused(request, runtime, **page, error=error)
    return RedirectResponse(f"/seller/coupons?saved={saved}", status_code=303)


# --- orders to ship ---------------------------------------------------------------------------

PARTS_PER_PAGE = 20
PARTS_PER_CSV_BATCH = 500


def _status(text: str | None) -> OrderStatus | None:
    """The status filter: none, or one of the order states (anything else: none)."""
    try:
        return OrderStatus(text) if text else None
    except ValueError:
        return None


@router.get("/seller/orders", response_class=HTMLResponse)
def parts_to_ship(request: Request, runtime: RuntimeDep) -> HTMLResponse:
    staff, viewer = staff_of(request, runtime), viewer_of(request)
    status = _status(request.query_params.get("status"))
    before = request.query_params.get("before")
    found = orders.merchant_parts(runtime.uow(read_only=True), staff, status=status,
                                  before_id=number(before) if before else None, limit=PARTS_PER_PAGE + 1)
    more = len(found) > PARTS_PER_PAGE
    rows = [views.part_row(p, viewer, zone_of(runtime)) for p in found[:PARTS_PER_PAGE]]
    query = {"status": status.value} if status else {}
    next_url = f"/seller/orders?{urlencode({**query, 'before': rows[-1].id})}" if more else None
    return render(request, runtime, "seller/orders.html", section="orders", rows=rows, next_url=next_url,
                  statuses=[s.value for s in OrderStatus], chosen=status.value if status else "",
                  csv_url=f"/seller/orders.csv?{urlencode(query)}" if query else "/seller/orders.csv")


@router.get("/seller/orders.csv")
def parts_csv(request: Request, runtime: RuntimeDep) -> Response:
    """Every part of the merchant's orders, newest first, streamed a batch at a time."""
    staff = staff_of(request, runtime)
    status = _status(request.query_params.get("status"))
    _, merchant_id = require_merchant_staff(staff)
    filename = f"shopfest-orders-merchant-{merchant_id}.csv"
    return StreamingResponse(_csv_lines(runtime, staff, status), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def _csv_lines(runtime: Runtime, staff: Actor, status: OrderStatus | None) -> Iterator[str]:
    yield _csv_text([list(views.CSV_HEADER)])
    before: int | None = None
    while True:
        found = orders.merchant_parts(runtime.uow(read_only=True), staff, status=status, before_id=before,
                                      limit=PARTS_PER_CSV_BATCH)
        if not found:
            return
        yield _csv_text([views.csv_row(p) for p in found])
        before = found[-1].id


def _csv_text(rows: list[list[str]]) -> str:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue()


def _part_page(request: Request, runtime: Runtime, staff: Actor, part_id: int, *,
               reader: FormReader | None = None, status: int = 200,
               notice: str | None = None) -> HTMLResponse:
    found = orders.merchant_part(runtime.uow(read_only=True), staff, part_id)
    viewer = viewer_of(request)
    open_returns = [r for r in found.returns if r.status is ReturnStatus.REQUESTED]
    return render(request, runtime, "seller/order_part.html", status=status, section="orders",
                  part=views.part_row(found, viewer, zone_of(runtime)), shippable=found.shipment is None
                  and found.part.status in SHIPPABLE, open_returns=open_returns,
                  refundable=found.part.status in REFUNDABLE,
                  errors=reader.errors if reader else FormErrors(),
                  form=reader.form if reader else {}, notice=notice, form_key=secrets.token_urlsafe(18),
                  delivery=found.delivery)


SHIPPABLE = frozenset({OrderStatus.PAID, OrderStatus.PARTIALLY_REFUNDED})


@router.get("/seller/orders/{part_id}", response_class=HTMLResponse)
def order_part(request: Request, runtime: RuntimeDep, part_id: str) -> HTMLResponse:
    staff = staff_of(request, runtime)
    done = next((what for what in ("shipped", "refunded") if request.query_params.get(what)), None)
    notice = viewer_of(request).t(f"desk.orders.{done}_notice") if done else None
    return _part_page(request, runtime, staff, number(part_id), notice=notice)


@router.post("/seller/orders/{part_id}/ship", response_class=HTMLResponse)
async def ship_part(request: Request, runtime: RuntimeDep, part_id: str) -> Response:
    form = await posted(request)
    return await run_in_threadpool(_ship_posted, request, runtime, number(part_id), form)


def _ship_posted(request: Request, runtime: Runtime, part_id: int, form: dict[str, str]) -> Response:
    """Ship the part with its carrier and tracking number; a part already shipped is refused."""
    staff = staff_of(request, runtime)
    found = orders.merchant_part(runtime.uow(read_only=True), staff, part_id)
    reader = FormReader(form, viewer_of(request))
    carrier, tracking = reader.text("carrier"), reader.text("tracking")
    if reader.errors:
        return _part_page(request, runtime, staff, part_id, reader=reader, status=422)
    try:
        orders.ship(runtime.uow(), staff, order_id=found.order_id, carrier=carrier, tracking=tracking)
    except (InvalidInput, Conflict) as error:
        reader.refused(error)
        return _part_page(request, runtime, staff, part_id, reader=reader, status=status_of(error))
    return RedirectResponse(f"/seller/orders/{part_id}?shipped=1", status_code=303)


# --- returns and refunds to decide ------------------------------------------------------------

@router.get("/seller/returns", response_class=HTMLResponse)
def returns(request: Request, runtime: RuntimeDep) -> HTMLResponse:
    return _returns_page(request, runtime, notice=request.query_params.get("decided"))


def _returns_page(request: Request, runtime: Runtime, *, notice: str | None = None,
                  problem: str | None = None, status: int = 200) -> HTMLResponse:
    staff, viewer = staff_of(request, runtime), viewer_of(request)
    found = orders.returns_to_decide(runtime.uow(read_only=True), staff)
    words = viewer.t(f"desk.returns.{notice}") if notice in ("accepted", "rejected") else None
    return render(request, runtime, "seller/returns.html", status=status, section="returns",
                  rows=[views.return_row(r, viewer, zone_of(runtime)) for r in found], notice=words,
                  problem=problem, form_key=secrets.token_urlsafe(18))


@router.post("/seller/returns/{part_id}/{return_id}/{decision}", response_class=HTMLResponse)
async def decide_return(request: Request, runtime: RuntimeDep, part_id: str, return_id: str,
                        decision: str) -> Response:
    if decision not in ("accept", "reject"):
        raise NotFound(f"no way to {decision[:20]!r} a return")
    form = await posted(request)
    return await run_in_threadpool(_decided, request, runtime, number(part_id), number(return_id),
                                   decision, form)


def _decided(request: Request, runtime: Runtime, part_id: int, return_id: int, decision: str,
             form: dict[str, str]) -> Response:
    """Accept (the money goes back once, whatever repeats the post) or reject, saying why."""
    staff, viewer = staff_of(request, runtime), viewer_of(request)
    order_id = orders.merchant_part(runtime.uow(read_only=True), staff, part_id).order_id
    reason = form.get("reason", "").strip()
    if decision == "reject" and not 1 <= len(reason) <= 500:
        return _returns_page(request, runtime, problem=viewer.t("desk.returns.why"), status=422)
    goods_back = form.get("goods_back") == "1"
    try:
        put_on_once(runtime, staff, form, f"return:{return_id}:{decision}", lambda: _decide(
            runtime, staff, order_id, return_id, decision, goods_back=goods_back, reason=reason))
    except (InvalidInput, Conflict) as error:
        return _returns_page(request, runtime, problem=problem_message(error, viewer.t),
                             status=status_of(error))
    return RedirectResponse(f"/seller/returns?decided={decision}ed", status_code=303)


def _decide(runtime: Runtime, staff: Actor, order_id: int, return_id: int, decision: str, *,
            goods_back: bool, reason: str) -> int:
    if decision == "accept":
        orders.accept_return(runtime.uow(), runtime.provider, staff, order_id=order_id, return_id=return_id,
                             goods_back=goods_back)
    else:
        orders.reject_return(runtime.uow(), staff, order_id=order_id, return_id=return_id, reason=reason)
    return return_id


# --- a merchant's refund of their part --------------------------------------------------------

REFUNDABLE = frozenset({OrderStatus.PAID, OrderStatus.PARTIALLY_REFUNDED, OrderStatus.FULFILLED})


@router.post("/seller/orders/{part_id}/refund", response_class=HTMLResponse)
async def refund_part(request: Request, runtime: RuntimeDep, part_id: str) -> Response:
    form = await posted(request)
    return await run_in_threadpool(_refund_posted, request, runtime, number(part_id), form)


def _refund_posted(request: Request, runtime: Runtime, part_id: int, form: dict[str, str]) -> Response:
    """Give back what is left of the part, once per form however often it is posted; the staff say
    whether the units go back on the shelf."""
    staff = staff_of(request, runtime)
    order_id = orders.merchant_part(runtime.uow(read_only=True), staff, part_id).order_id
    back_on_shelf = form.get("back_on_shelf") != "0"
    refund_key = f"refund:{keys.fingerprint(f'user:{staff.user_id}', order_id, form.get('form_key', ''))}"
    try:
        put_on_once(runtime, staff, form, f"refund:{part_id}", lambda: _refund(
            runtime, staff, order_id, back_on_shelf=back_on_shelf, refund_key=refund_key))
    except (InvalidInput, Conflict) as error:
        reader = FormReader(form, viewer_of(request))
        reader.refused(error)
        return _part_page(request, runtime, staff, part_id, reader=reader, status=status_of(error))
    return RedirectResponse(f"/seller/orders/{part_id}?refunded=1", status_code=303)


def _refund(runtime: Runtime, staff: Actor, order_id: int, *, back_on_shelf: bool, refund_key: str) -> int:
    orders.refund_order(runtime.uow(), runtime.provider, staff, order_id=order_id, lines=None,
                        back_on_shelf=back_on_shelf, refund_key=refund_key)
    return order_id
