"""The festival control room for operators: calendar, brands and luxury approval, merchants and staff,
categories, platform campaigns, the overview. Every page asks the services, which check that the
signed-in account is an operator; a shopper or a merchant's staff get the 403 page."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from shopfest.accounts import service as accounts
from shopfest.accounts.model import PASSWORD_MAX, PASSWORD_MIN, CommonPassword, EmailTaken
from shopfest.catalog import service as catalog
from shopfest.catalog.model import BrandTier, Category, MerchantKind
from shopfest.core.actor import Actor, Role, require_role
from shopfest.core.clock import HOME_ZONE
from shopfest.core.errors import Conflict, DomainError, NotFound, UnknownCurrency
from shopfest.deps import RuntimeDep, actor_of
from shopfest.festival import service as festival_service
from shopfest.festival.model import Festival, Phase, PhaseKind, eleven_eleven
from shopfest.payments import idempotency as keys
from shopfest.payments import service as payments
from shopfest.runtime import Runtime
from shopfest.web import control_campaign_pages
from shopfest.web import control_overview as overview_rows
from shopfest.web.forms import FormErrors
from shopfest.web.layout import current_festival, phase_name, render
from shopfest.web.prices import HOME_CURRENCY
from shopfest.web.routing import PageRoute
from shopfest.web.viewer import Viewer, viewer_of

router = APIRouter(include_in_schema=False, route_class=PageRoute)
router.include_router(control_campaign_pages.router)  # /control/campaigns

PAGE = 20  # rows of a list page
WAITING = 50  # luxury brands waiting, shown at once
STAFF_SHOWN = 100
BRANDS_SHOWN = 30  # of one merchant's brands, by name

Text = Annotated[str, Form(max_length=400)]


def operator(request: Request, runtime: Runtime) -> Actor:
    """The signed-in operator. Raises Unauthenticated (a GET goes to sign in), Forbidden (the 403 page)."""
    return require_role(actor_of(request, runtime), Role.OPERATOR)


def _zone(festival: Festival | None) -> str:
    return festival.timezone if festival else HOME_ZONE


def _after(text: str | None) -> int | None:
    """A page's cursor: the last id of the page before; anything else starts at the top."""
    return int(text) if text and text.isdigit() and len(text) <= 18 else None


def _see_other(path: str) -> Response:
    return RedirectResponse(path, status_code=303)


# --- the overview ---------------------------------------------------------------------------

@router.get("/control", response_class=HTMLResponse)
def overview(request: Request, runtime: RuntimeDep) -> HTMLResponse:
    actor = operator(request, runtime)
    viewer, festival = viewer_of(request), current_festival(runtime)
    now = runtime.clock.now()
    on_now = festival.phase_at(now) if festival else None
    return render(request, runtime, "control/overview.html", section="overview",
                  festival_name=festival.name if festival else None,
                  phase_now=phase_name(on_now, viewer.t) if on_now else viewer.t("phase.between"),
                  sales=overview_rows.sales_rows(runtime, actor, festival, viewer),
                  flash=overview_rows.flash_rows(runtime, actor, viewer, _zone(festival)),
                  stock=overview_rows.stock_rows(runtime, actor, viewer))


# --- the calendar ---------------------------------------------------------------------------

@dataclass(frozen=True)
class CalendarRow:
    key: str
    name: str
    kind: str
    local: str
    utc: str
    state: str


def _kind_of(phase: Phase, festival: Festival, viewer: Viewer) -> str:
    if phase.kind is PhaseKind.DEPOSIT:
        return viewer.t("control.calendar.kind.deposit", wave=phase.wave)
    pays_balances = any(p.kind is PhaseKind.DEPOSIT and p.wave == phase.wave for p in festival.phases)
    return viewer.t("control.calendar.kind.balance" if pays_balances else "control.calendar.kind.sale",
                    wave=phase.wave)


def _calendar_rows(festival: Festival | None, runtime: Runtime, viewer: Viewer) -> list[CalendarRow]:
    if festival is None:
        return []
    now = runtime.clock.now()
    return [CalendarRow(p.key, phase_name(p, viewer.t), _kind_of(p, festival, viewer),
                        viewer.span(p.starts_at, p.ends_at, festival.timezone),
                        viewer.span(p.starts_at, p.ends_at, "UTC"),
                        "on" if p.contains(now) else "done" if p.ends_at <= now else "coming")
            for p in festival.phases]


def _calendar(request: Request, runtime: Runtime, *, year: str, zone_name: str,
              errors: FormErrors | None = None, status: int = 200) -> HTMLResponse:
    festival = current_festival(runtime)
    viewer = viewer_of(request)
    return render(request, runtime, "control/calendar.html", status=status, section="calendar",
                  festival=festival, rows=_calendar_rows(festival, runtime, viewer), year=year,
                  zone_name=zone_name, errors=errors or FormErrors(),
                  scheduled=request.query_params.get("scheduled") == "1")


@router.get("/control/calendar", response_class=HTMLResponse)
def calendar(request: Request, runtime: RuntimeDep) -> HTMLResponse:
    operator(request, runtime)
    festival = current_festival(runtime)
    year = runtime.clock.now().year + (1 if festival is not None else 0)
    return _calendar(request, runtime, year=str(year), zone_name=HOME_ZONE)


@router.post("/control/calendar", response_class=HTMLResponse)
def schedule(request: Request, runtime: RuntimeDep, year: Text = "", zone: Text = HOME_ZONE) -> Response:
    """Schedule the two-wave 11.11 of a year on the zone's wall clocks."""
    actor = operator(request, runtime)
    t, errors = viewer_of(request).t, FormErrors()
    zone = zone.strip() or HOME_ZONE
    if not (year.strip().isdigit() and 2000 <= int(year) <= 2100):
        errors.by_field["year"] = t("control.calendar.bad_year")
        return _calendar(request, runtime, year=year, zone_name=zone, errors=errors, status=422)
    try:
        festival_service.schedule_festival(runtime.uow(), actor, eleven_eleven(int(year), zone))
    except Conflict:
        errors.by_field["year"] = t("control.calendar.taken")
    except DomainError:  # the one rule left to break: a zone nobody knows
        errors.by_field["zone"] = t("control.calendar.bad_zone")
    if errors:
        return _calendar(request, runtime, year=year, zone_name=zone, errors=errors, status=422)
    return _see_other("/control/calendar?scheduled=1")


# --- brands ---------------------------------------------------------------------------------

@dataclass
class BrandForm:
    name: str = ""
    name_zh: str = ""
    tier: str = BrandTier.REGULAR.value


def _tier_or_none(text: str | None) -> BrandTier | None:
    return BrandTier(text) if text in {tier.value for tier in BrandTier} else None


def _brands(request: Request, runtime: Runtime, actor: Actor, *, form: BrandForm | None = None,
            errors: FormErrors | None = None, status: int = 200) -> HTMLResponse:
    query = request.query_params
    words, tier_text = (query.get("q") or "")[:100], query.get("tier") or ""
    tier = _tier_or_none(tier_text)
    errors = errors or FormErrors()
    if tier_text and tier is None:
        errors.by_field["tier_filter"] = viewer_of(request).t("control.brands.bad_tier")
        status = 422
    found = catalog.find_brands(runtime.uow(read_only=True), actor, words=words, tier=tier,
                                after_id=_after(query.get("after")), limit=PAGE)
    waiting = catalog.brands_awaiting_approval(runtime.uow(read_only=True), actor, limit=WAITING)
    more = None
    if len(found) == PAGE:
        more = "?" + urlencode({"q": words, "tier": tier_text, "after": found[-1].id})
    return render(request, runtime, "control/brands.html", status=status, section="brands",
                  brands=found, waiting=waiting, words=words, tier_filter=tier_text, tiers=list(BrandTier),
                  next_query=more, form=form or BrandForm(), errors=errors,
                  notice=_brand_notice(request, runtime))


def _brand_notice(request: Request, runtime: Runtime) -> str | None:
    """What the last post did, named by the brand it did it to."""
    t, query = viewer_of(request).t, request.query_params
    for event in ("approved", "created"):
        brand_id = _after(query.get(event))
        if brand_id is None:
            continue
        try:
            brand = catalog.get_brand(runtime.uow(read_only=True), brand_id)
        except NotFound:
            return None
        waits = event == "created" and not brand.approved
        return t("control.brands.created_luxury" if waits else f"control.brands.{event}", name=brand.name)
    return None


@router.get("/control/brands", response_class=HTMLResponse)
def brands(request: Request, runtime: RuntimeDep) -> HTMLResponse:
    return _brands(request, runtime, operator(request, runtime))


@router.post("/control/brands", response_class=HTMLResponse)
def create_brand(request: Request, runtime: RuntimeDep, name: Text = "", name_zh: Text = "",
                 tier: Text = "") -> Response:
    """A regular brand is open at once; a luxury one waits for approval in the list above the form."""
    actor = operator(request, runtime)
    t, errors = viewer_of(request).t, FormErrors()
    form = BrandForm(name, name_zh, tier)
    chosen = _tier_or_none(tier)
    if chosen is None:
        errors.by_field["tier"] = t("control.brands.bad_tier")
    if not name.strip():
        errors.by_field["name"] = t("control.required")
    if errors:
        return _brands(request, runtime, actor, form=form, errors=errors, status=422)
    try:
        brand = catalog.create_brand(runtime.uow(), actor, name=name, tier=chosen or BrandTier.REGULAR,
                                     name_zh=name_zh.strip() or None)
    except Conflict:
        errors.by_field["name"] = t("control.brands.name_taken")
        return _brands(request, runtime, actor, form=form, errors=errors, status=409)
    except DomainError:  # a name too long, in either language
        errors.by_field["name_zh" if len(name.strip()) <= 200 else "name"] = t("control.brands.bad_name")
        return _brands(request, runtime, actor, form=form, errors=errors, status=422)
    return _see_other(f"/control/brands?created={brand.id}")


@router.post("/control/brands/{brand_id}/approve")
def approve_brand(request: Request, runtime: RuntimeDep, brand_id: int) -> Response:
    """Open a luxury brand to the pavilion: its merchants may list its goods from now on."""
    catalog.approve_brand(runtime.uow(), operator(request, runtime), brand_id)
    return _see_other(f"/control/brands?approved={brand_id}")


# --- merchants and their staff --------------------------------------------------------------

@dataclass
class MerchantForm:
    name: str = ""
    kind: str = MerchantKind.ONLINE.value
    settlement_currency: str = HOME_CURRENCY
    brand_ids: str = ""
    city: str = ""
    key: str = field(default_factory=lambda: secrets.token_urlsafe(18))  # posted twice, one merchant


def _merchants(request: Request, runtime: Runtime, actor: Actor, *, form: MerchantForm | None = None,
               errors: FormErrors | None = None, status: int = 200) -> HTMLResponse:
    found = catalog.list_merchants(runtime.uow(read_only=True), actor,
                                   after_id=_after(request.query_params.get("after")), limit=PAGE)
    more = f"?after={found[-1].id}" if len(found) == PAGE else None
    return render(request, runtime, "control/merchants.html", status=status, section="merchants",
                  merchants=found, next_query=more, kinds=list(MerchantKind), form=form or MerchantForm(),
                  errors=errors or FormErrors())


@router.get("/control/merchants", response_class=HTMLResponse)
def merchants(request: Request, runtime: RuntimeDep) -> HTMLResponse:
    return _merchants(request, runtime, operator(request, runtime))


def _brand_ids(text: str) -> list[int] | None:
    parts = [part.strip() for part in text.replace("，", ",").split(",") if part.strip()]
    if len(parts) > 200 or not all(part.isdigit() and len(part) <= 18 for part in parts):
        return None
    return sorted({int(part) for part in parts})


@router.post("/control/merchants", response_class=HTMLResponse)
def create_merchant(request: Request, runtime: RuntimeDep, name: Text = "", kind: Text = "",
                    settlement_currency: Text = "", brand_ids: Text = "", city: Text = "",
                    merchant_key: Text = "") -> Response:
    """Admit a merchant with the brands it sells, once however often the form is posted; its page
    then opens staff accounts."""
    actor = operator(request, runtime)
    t, errors = viewer_of(request).t, FormErrors()
    form = MerchantForm(name, kind, settlement_currency, brand_ids, city, merchant_key)
    ids = _brand_ids(brand_ids)
    if kind not in {k.value for k in MerchantKind}:
        errors.by_field["kind"] = t("control.merchants.bad_kind")
    if ids is None:
        errors.by_field["brand_ids"] = t("control.merchants.bad_brands")
    if not name.strip():
        errors.by_field["name"] = t("control.required")
    if errors:
        return _merchants(request, runtime, actor, form=form, errors=errors, status=422)
    try:
        merchant_id = _admit_once(runtime, actor, form, ids or [])
    except keys.KeyInUse:
        errors.by_field[""] = t("control.still_saving")
    except keys.KeyReused:
        errors.by_field[""], form.key = t("control.stale_form"), secrets.token_urlsafe(18)
    except UnknownCurrency:
        errors.by_field["settlement_currency"] = t("control.merchants.bad_currency")
    except DomainError as refusal:  # brands nobody has (the name was checked above)
        unknown = refusal.data.get("brand_ids") or []
        errors.by_field["brand_ids"] = t("control.merchants.unknown_brands", ids=", ".join(map(str, unknown)))
    if errors:
        return _merchants(request, runtime, actor, form=form, errors=errors, status=422)
    return _see_other(f"/control/merchants/{merchant_id}?created=1")


def _admit_once(runtime: Runtime, actor: Actor, form: MerchantForm, brand_ids: list[int]) -> int:
    """The merchant's id: admitted now, or by the first post of this form. Raises KeyInUse, KeyReused,
    and what admitting raises (the key then let go, so a corrected form can be sent)."""
    name, currency, city = form.name[:200], form.settlement_currency.strip().upper(), form.city.strip()[:100]
    try:
        key = keys.key_of(f"user:{actor.user_id}", form.key, "POST /control/merchants",
                          [name, form.kind, currency, brand_ids, city])
    except DomainError:  # no key, or not one this page gave out
        raise keys.KeyReused("the form's key is missing or malformed") from None

    def admit() -> dict[str, object]:
        merchant = catalog.create_merchant(runtime.uow(), actor, name=name, kind=MerchantKind(form.kind),
                                           settlement_currency=currency, brand_ids=brand_ids,
                                           city=city or None)
        return {"id": merchant.id}

    return int(payments.once(runtime.uow, key=key, run=admit, status_code=201).response["id"])


def _merchant_page(request: Request, runtime: Runtime, actor: Actor, merchant_id: int, *,
                   email: str = "", errors: FormErrors | None = None, status: int = 200) -> HTMLResponse:
    merchant = catalog.get_merchant(runtime.uow(read_only=True), merchant_id)
    staff = accounts.staff_of(runtime.uow(read_only=True), actor, merchant_id, limit=STAFF_SHOWN)
    shown = sorted(merchant.brand_ids)[:BRANDS_SHOWN]
    brand_names = catalog.brands_by_ids(runtime.uow(read_only=True), shown)
    query = request.query_params
    return render(request, runtime, "control/merchant.html", status=status, section="merchants",
                  merchant=merchant, staff=staff, brands=brand_names, email=email,
                  errors=errors or FormErrors(),
                  created=query.get("created") == "1", added=query.get("added") == "1")


@router.get("/control/merchants/{merchant_id}", response_class=HTMLResponse)
def merchant(request: Request, runtime: RuntimeDep, merchant_id: int) -> HTMLResponse:
    return _merchant_page(request, runtime, operator(request, runtime), merchant_id)


@router.post("/control/merchants/{merchant_id}/staff", response_class=HTMLResponse)
def add_staff(request: Request, runtime: RuntimeDep, merchant_id: int, email: Text = "",
              password: Annotated[str, Form(max_length=1000)] = "") -> Response:
    """A staff account bound to this merchant only, under the sign-up's password policy."""
    actor = operator(request, runtime)
    catalog.get_merchant(runtime.uow(read_only=True), merchant_id)  # no merchant: the 404 page
    t, errors = viewer_of(request).t, FormErrors()
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        errors.by_field["password"] = t("control.merchant.bad_password")
        return _merchant_page(request, runtime, actor, merchant_id, email=email, errors=errors, status=422)
    try:
        accounts.create_account(runtime.uow(), actor, email=email, password=password, role=Role.MERCHANT,
                                merchant_id=merchant_id)
    except CommonPassword:
        errors.by_field["password"] = t("control.merchant.common_password")
    except EmailTaken:
        errors.by_field["email"] = t("control.merchant.email_taken")
    except DomainError:  # the password's length is checked above: what is left is the address
        errors.by_field["email"] = t("control.merchant.bad_email")
    if errors:
        status = 409 if errors.of("email") == t("control.merchant.email_taken") else 422
        return _merchant_page(request, runtime, actor, merchant_id, email=email, errors=errors, status=status)
    return _see_other(f"/control/merchants/{merchant_id}?added=1")


# --- categories -----------------------------------------------------------------------------

@dataclass(frozen=True)
class CategoryRow:
    slug: str
    name: str
    depth: int


def tree_rows(categories: list[Category], viewer: Viewer) -> list[CategoryRow]:
    """The categories depth first, each under its parent."""
    children: dict[int | None, list[Category]] = {}
    for category in categories:
        children.setdefault(category.parent_id, []).append(category)
    rows: list[CategoryRow] = []
    stack = [(c, 0) for c in reversed(children.get(None, []))]
    while stack:
        category, depth = stack.pop()
        rows.append(CategoryRow(category.slug, viewer.name(category.name, category.name_zh), depth))
        stack += [(c, depth + 1) for c in reversed(children.get(category.id, []))]
    return rows


@dataclass
class CategoryForm:
    slug: str = ""
    name: str = ""
    name_zh: str = ""
    parent: str = ""


def _categories(request: Request, runtime: Runtime, *, form: CategoryForm | None = None,
                errors: FormErrors | None = None, status: int = 200) -> HTMLResponse:
    rows = tree_rows(catalog.all_categories(runtime.uow(read_only=True)), viewer_of(request))
    return render(request, runtime, "control/categories.html", status=status, section="categories",
                  rows=rows, form=form or CategoryForm(), errors=errors or FormErrors(),
                  created=request.query_params.get("created") == "1")


@router.get("/control/categories", response_class=HTMLResponse)
def categories(request: Request, runtime: RuntimeDep) -> HTMLResponse:
    operator(request, runtime)
    return _categories(request, runtime)


@router.post("/control/categories", response_class=HTMLResponse)
def create_category(request: Request, runtime: RuntimeDep, slug: Text = "", name: Text = "",
                    name_zh: Text = "", parent: Text = "") -> Response:
    actor = operator(request, runtime)
    t, errors = viewer_of(request).t, FormErrors()
    form = CategoryForm(slug, name, name_zh, parent)
    if not name.strip() or len(name.strip()) > 200:
        errors.by_field["name"] = t("control.required")
    if errors:
        return _categories(request, runtime, form=form, errors=errors, status=422)
    try:
        catalog.create_category(runtime.uow(), actor, slug=slug.strip(), name=name,
                                name_zh=name_zh.strip() or None,
                                parent=parent or None)
    except Conflict:
        errors.by_field["slug"] = t("control.categories.slug_taken")
    except DomainError as refusal:
        wrong = "parent" if "category" in refusal.data else "slug"
        errors.by_field[wrong] = t(f"control.categories.bad_{wrong}")
    if errors:
        return _categories(request, runtime, form=form, errors=errors,
                           status=409 if errors.of("slug") == t("control.categories.slug_taken") else 422)
    return _see_other("/control/categories?created=1")
