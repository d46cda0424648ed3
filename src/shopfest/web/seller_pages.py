"""The seller centre's products and stock: a merchant's own products, their SKUs and images, stock intake
and corrections."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from shopfest.catalog import service as catalog
from shopfest.catalog.images import MAX_UPLOAD_BYTES, ImageTooHeavy, check_key
from shopfest.catalog.model import MAX_SKUS, Fulfilment, Product, ProductDraft, SkuDraft
from shopfest.core.actor import Actor, require_merchant_staff
from shopfest.core.clock import HOME_ZONE, zone
from shopfest.core.errors import DomainError, NotFound
from shopfest.core.ids import encode_cursor
from shopfest.core.money import Money
from shopfest.deps import RuntimeDep, actor_of
from shopfest.inventory import service as inventory
from shopfest.problems import status_of
from shopfest.runtime import Runtime
from shopfest.web.forms import FormErrors
from shopfest.web.layout import current_festival, render
from shopfest.web.prices import VIEWER_CURRENCIES
from shopfest.web.routing import PageRoute
from shopfest.web.viewer import Viewer, viewer_of

router = APIRouter(include_in_schema=False, route_class=PageRoute)

SKU_ROWS = 3  # option rows on the new-product form (more than one needs no script)
PAGE_SIZE = 20


def _staff(request: Request, runtime: Runtime) -> Actor:
    """The signed-in staff of a merchant; anyone else is sent to sign in (GET) or refused 403."""
    actor, _ = require_merchant_staff(actor_of(request, runtime))
    return actor


def _product_id(text: str) -> int:
    # Taken as text so /seller/products/abc/edit is the same friendly 404 as another merchant's id.
    if not text.isdigit() or len(text) > 18:
        raise NotFound(f"no product {text}")
    return int(text)


def _zone(runtime: Runtime) -> str:
    festival = current_festival(runtime)
    return festival.timezone if festival else HOME_ZONE


# --- the overview ---------------------------------------------------------------------------------

@router.get("/seller", response_class=HTMLResponse)
def overview(request: Request, runtime: RuntimeDep) -> HTMLResponse:
    staff = _staff(request, runtime)
    viewer = viewer_of(request)
    merchant = catalog.merchant_of_staff(runtime.uow(read_only=True), staff)
    counts = catalog.merchant_counts(runtime.uow(read_only=True), staff)
    low = inventory.low_on_stock(runtime.uow(read_only=True), counts.sku_ids)
    return render(request, runtime, "seller/overview.html", section="home", merchant=merchant.name,
                  products=viewer.count(counts.products), skus=viewer.count(len(counts.sku_ids)),
                  low=viewer.count(low), at_most=inventory.LOW_STOCK)


# --- the products list ----------------------------------------------------------------------------

@dataclass(frozen=True)
class ProductRow:
    id: int
    title: str
    options: int
    price: str
    picture: str | None


def _rows(runtime: Runtime, products: list[Product], viewer: Viewer) -> list[ProductRow]:
    pictures = catalog.product_images(runtime.uow(read_only=True), [p.id or 0 for p in products])
    return [ProductRow(p.id or 0, viewer.name(p.title, p.title_zh), len(p.skus), viewer.money(p.from_price),
                       f"/media/{pictures[p.id or 0].card_key}" if (p.id or 0) in pictures else None)
            for p in products]


@router.get("/seller/products", response_class=HTMLResponse)
def products(request: Request, runtime: RuntimeDep) -> HTMLResponse:
    staff = _staff(request, runtime)
    q = request.query_params.get("q", "")[:200]
    cursor = request.query_params.get("cursor") or None
    page = catalog.merchant_products(runtime.uow(read_only=True), staff, q=q, cursor=cursor, limit=PAGE_SIZE)
    more = f"/seller/products?{_query(q=q, cursor=encode_cursor(page.next_after_id))}" \
        if page.next_after_id else None
    return render(request, runtime, "seller/products.html", section="products", q=q,
                  rows=_rows(runtime, page.items, viewer_of(request)), more=more, paged=cursor is not None)


def _query(**values: str) -> str:
    return urlencode({k: v for k, v in values.items() if v})


# --- creating and editing a product ---------------------------------------------------------------

@dataclass
class ProductForm:
    """What the product form shows and was sent: text as typed, so a refused form comes back as it was."""

    title: str = ""
    title_zh: str = ""
    brand_id: str = ""
    category: str = ""
    fulfilment: str = Fulfilment.SHIPPED.value
    debut_at: str = ""
    currency: str = "CNY"
    skus: list[tuple[str, str, str]] = field(default_factory=lambda: [("", "", "")] * SKU_ROWS)


async def _product_form(request: Request) -> ProductForm:
    form = await request.form()

    def text(name: str, default: str = "") -> str:
        value = form.get(name)
        return value.strip()[:400] if isinstance(value, str) else default

    skus = [(text(f"sku_{i}_code"), text(f"sku_{i}_price"), text(f"sku_{i}_stock"))
            for i in range(min(MAX_SKUS, SKU_ROWS))]
    return ProductForm(title=text("title"), title_zh=text("title_zh"), brand_id=text("brand_id"),
                       category=text("category"), fulfilment=text("fulfilment", Fulfilment.SHIPPED.value),
                       debut_at=text("debut_at"), currency=text("currency", "CNY").upper(), skus=skus)


def _form_page(request: Request, runtime: Runtime, staff: Actor, *, form: ProductForm,
               errors: FormErrors | None = None, product: Product | None = None, status: int = 200,
               notice: str | None = None, image_error: str | None = None) -> HTMLResponse:
    viewer = viewer_of(request)
    uow = runtime.uow
    brands = catalog.merchant_brands(uow(read_only=True), staff)
    picture = catalog.product_images(uow(read_only=True), [product.id or 0]).get(product.id or 0) \
        if product else None
    return render(
        request, runtime, "seller/product_form.html", status=status, section="products", form=form,
        errors=errors or FormErrors(), product=product, notice=notice, image_error=image_error,
        title=viewer.name(product.title, product.title_zh) if product else "",
        brands=[(b.id, viewer.name(b.name, b.name_zh)) for b in brands],
        categories=[(c.slug, viewer.name(c.name, c.name_zh))
                    for c in catalog.all_categories(uow(read_only=True))],
        fulfilments=list(Fulfilment), price_currencies=VIEWER_CURRENCIES, zone=_zone(runtime),
        picture=f"/media/{picture.page_key}" if picture else None,
        sku_rows=[(s.code, viewer.money(s.price)) for s in product.skus] if product else [],
        max_mb=MAX_UPLOAD_BYTES // (1024 * 1024),
    )


@router.get("/seller/products/new", response_class=HTMLResponse)
def new_product(request: Request, runtime: RuntimeDep) -> HTMLResponse:
    return _form_page(request, runtime, _staff(request, runtime), form=ProductForm())


@router.post("/seller/products/new", response_class=HTMLResponse)
async def create_product(request: Request, runtime: RuntimeDep) -> Response:
    """Listed as the API's POST /products lists; refused, the form comes back with each reason beside
    its field."""
    form = await _product_form(request)
    return await run_in_threadpool(_create, request, runtime, form)


def _create(request: Request, runtime: Runtime, form: ProductForm) -> Response:
    staff, t = _staff(request, runtime), viewer_of(request).t
    errors = FormErrors()
    draft = _draft(runtime, form, errors, t)
    if draft is not None:
        try:
            product = catalog.list_product(runtime.uow(), staff, draft)
        except DomainError as refused:
            _file(errors, refused, t)
        else:
            return RedirectResponse(f"/seller/products/{product.id}/edit?created=1", status_code=303)
    errors.by_field.setdefault("", t("seller.form.problem"))
    return _form_page(request, runtime, staff, form=form, errors=errors, status=422)


def _file(errors: FormErrors, refused: DomainError, t: Any) -> None:
    """A refusal beside the field it is about: the one its data names, or the field its data points at."""
    data = refused.data
    where = data.get("field") if isinstance(data.get("field"), str) else (
        "brand_id" if "brand_id" in data else "category" if "category" in data
        else "skus" if "code" in data or "codes" in data else "")
    errors.add(refused, t, field_name=str(where) or None)


def _draft(runtime: Runtime, form: ProductForm, errors: FormErrors, t: Any) -> ProductDraft | None:
    """The form as a draft to list, or None with every field's trouble filed in `errors`."""
    skus = _sku_drafts(form, errors, t)
    brand_id = int(form.brand_id) if form.brand_id.isdigit() and len(form.brand_id) <= 18 else None
    if brand_id is None:
        errors.by_field["brand_id"] = t("seller.error.choose")
    if form.fulfilment not in {f.value for f in Fulfilment}:
        errors.by_field["fulfilment"] = t("seller.error.choose")
    category_id = _category_id(runtime, form.category, errors, t)
    debut = _debut(runtime, form.debut_at, errors, t)
    if errors or brand_id is None or category_id is None:
        return None
    try:
        return ProductDraft(title=form.title, title_zh=form.title_zh or None, brand_id=brand_id,
                            category_id=category_id, fulfilment=Fulfilment(form.fulfilment),
                            debut_at=debut or runtime.clock.now(), skus=tuple(skus))
    except DomainError as refused:
        _file(errors, refused, t)
        return None


def _sku_drafts(form: ProductForm, errors: FormErrors, t: Any) -> list[SkuDraft]:
    drafts = []
    for i, (code, price, stock) in enumerate(form.skus):
        if not (code or price or stock):
            continue
        try:
            money = Money.parse(price, form.currency)
        except DomainError:
            errors.by_field[f"sku_{i}_price"] = t("seller.error.price")
            continue
        if not stock.isdigit() or len(stock) > 10:
            errors.by_field[f"sku_{i}_stock"] = t("seller.error.stock")
            continue
        drafts.append(SkuDraft(code, money, int(stock)))
    if not drafts and not errors:
        errors.by_field["sku_0_code"] = t("seller.error.no_sku")
    return drafts


def _category_id(runtime: Runtime, slug: str, errors: FormErrors, t: Any) -> int | None:
    try:
        return catalog.category_id_for(runtime.uow(read_only=True), slug)
    except DomainError:
        errors.by_field["category"] = t("seller.error.choose")
        return None


def _debut(runtime: Runtime, text: str, errors: FormErrors, t: Any) -> datetime | None:
    """A debut typed as the festival's wall clock (a datetime-local field), or None for now."""
    if not text:
        return None
    try:
        return datetime.fromisoformat(text).replace(tzinfo=zone(_zone(runtime)))
    except ValueError:
        errors.by_field["debut_at"] = t("seller.error.debut")
        return None


def _form_of(runtime: Runtime, product: Product) -> ProductForm:
    wall = product.debut_at.astimezone(zone(_zone(runtime))).strftime("%Y-%m-%dT%H:%M")
    slugs = {c.id: c.slug for c in catalog.all_categories(runtime.uow(read_only=True))}
    return ProductForm(title=product.title, title_zh=product.title_zh or "", brand_id=str(product.brand_id),
                       category=slugs.get(product.category_id, ""), fulfilment=product.fulfilment.value,
                       debut_at=wall, currency=product.skus[0].price.currency, skus=[])


@router.get("/seller/products/{product_id}/edit", response_class=HTMLResponse)
def edit_product(request: Request, runtime: RuntimeDep, product_id: str) -> HTMLResponse:
    staff = _staff(request, runtime)
    product = catalog.merchant_product(runtime.uow(read_only=True), staff, _product_id(product_id))
    t = viewer_of(request).t
    said = request.query_params
    notice = t("seller.form.created") if said.get("created") else t("seller.form.saved") \
        if said.get("saved") else t("seller.image.saved") if said.get("image") else None
    return _form_page(request, runtime, staff, form=_form_of(runtime, product), product=product,
                      notice=notice)


@router.post("/seller/products/{product_id}/edit", response_class=HTMLResponse)
async def change_product(request: Request, runtime: RuntimeDep, product_id: str) -> Response:
    """Changed as the API's PATCH /products/{id} changes it: titles, category, debut."""
    form = await _product_form(request)
    return await run_in_threadpool(_change, request, runtime, _product_id(product_id), form)


def _change(request: Request, runtime: Runtime, product_id: int, form: ProductForm) -> Response:
    staff, t = _staff(request, runtime), viewer_of(request).t
    product = catalog.merchant_product(runtime.uow(read_only=True), staff, product_id)
    errors = FormErrors()
    category_id = _category_id(runtime, form.category, errors, t)
    debut = _debut(runtime, form.debut_at, errors, t)
    if not errors:
        try:
            catalog.change_product(runtime.uow(), staff, product_id, catalog.ProductChanges(
                title=form.title, title_zh=form.title_zh, debut_at=debut, category_id=category_id))
        except DomainError as refused:
            _file(errors, refused, t)
        else:
            return RedirectResponse(f"/seller/products/{product_id}/edit?saved=1", status_code=303)
    errors.by_field.setdefault("", t("seller.form.problem"))
    kept = _form_of(runtime, product)
    form.brand_id, form.fulfilment, form.currency = kept.brand_id, kept.fulfilment, kept.currency
    form.skus = []
    return _form_page(request, runtime, staff, form=form, errors=errors, product=product, status=422)


# --- a product's picture --------------------------------------------------------------------------

@router.post("/seller/products/{product_id}/image", response_class=HTMLResponse)
async def upload_image(request: Request, runtime: RuntimeDep, product_id: str) -> Response:
    """A picture sent from the browser (multipart, the form's token with it); checked by its bytes,
    made into thumbnails and kept in the picture storage. Refused, the edit page says why."""
    picture = (await request.form()).get("image")
    data = await picture.read(MAX_UPLOAD_BYTES + 1) if isinstance(picture, UploadFile) else b""
    return await run_in_threadpool(_put_image, request, runtime, _product_id(product_id), data)


def _put_image(request: Request, runtime: Runtime, product_id: int, data: bytes) -> Response:
    staff, t = _staff(request, runtime), viewer_of(request).t
    product = catalog.merchant_product(runtime.uow(read_only=True), staff, product_id)
    if not data:
        return _image_refused(request, runtime, staff, product, t("seller.image.missing"), 422)
    try:
        catalog.put_product_image(runtime.uow(), staff, product_id, data, storage=runtime.pictures())
    except DomainError as refused:
        errors = FormErrors()
        errors.add(refused, t)
        status = 413 if isinstance(refused, ImageTooHeavy) else status_of(refused)
        return _image_refused(request, runtime, staff, product, errors.of("image") or errors.on_top or "",
                              status)
    return RedirectResponse(f"/seller/products/{product_id}/edit?image=1", status_code=303)


def _image_refused(request: Request, runtime: Runtime, staff: Actor, product: Product, message: str,
                   status: int) -> HTMLResponse:
    return _form_page(request, runtime, staff, form=_form_of(runtime, product), product=product,
                      image_error=message, status=status)


@router.get("/media/{key:path}")
def media(runtime: RuntimeDep, key: str) -> Response:
    """A picture from the storage, by a key of ours only: no `..`, no absolute path, no other folder."""
    found = runtime.pictures().get(check_key(key))
    if found is None:
        raise NotFound("no such picture")
    # Keys are new on every upload, so a picture never changes under its key.
    return Response(found.data, media_type=found.content_type,
                    headers={"Cache-Control": "public, max-age=31536000, immutable"})


# --- stock ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class StockRow:
    sku_id: int
    product: str
    option: str
    on_hand: int
    reserved: int
    sold: int
    available: int


def _stock_rows(runtime: Runtime, staff: Actor, products: list[Product], viewer: Viewer) -> list[StockRow]:
    titles = {p.id: viewer.name(p.title, p.title_zh) for p in products}
    skus = catalog.merchant_skus(runtime.uow(read_only=True), staff, [p.id or 0 for p in products])
    levels = inventory.levels_of_merchant(runtime.uow(read_only=True), staff, [s[0] for s in skus])
    rows = []
    for sku_id, code, product_id, _ in skus:
        level = levels.get(sku_id)
        if level is not None:
            rows.append(StockRow(sku_id, titles.get(product_id, ""), code, level.on_hand, level.reserved,
                                 level.sold, level.available))
    return rows


def _stock_page(request: Request, runtime: Runtime, staff: Actor, *, status: int = 200,
                notice: str | None = None, problem: tuple[int, str, str] | None = None,
                cursor: str | None = None) -> HTMLResponse:
    page = catalog.merchant_products(runtime.uow(read_only=True), staff, cursor=cursor, limit=PAGE_SIZE)
    more = f"/seller/stock?cursor={encode_cursor(page.next_after_id)}" if page.next_after_id else None
    return render(request, runtime, "seller/stock.html", status=status, section="stock", notice=notice,
                  problem=problem, rows=_stock_rows(runtime, staff, page.items, viewer_of(request)),
                  more=more, cursor=cursor or "")


@router.get("/seller/stock", response_class=HTMLResponse)
def stock(request: Request, runtime: RuntimeDep) -> HTMLResponse:
    staff = _staff(request, runtime)
    said = request.query_params
    notice = said.get("done")
    t = viewer_of(request).t
    text = None
    if notice == "intake" and said.get("units", "").isdigit():
        text = t("seller.stock.received", units=said["units"], option=said.get("option", "")[:64],
                 on_hand=said.get("on_hand", ""))
    elif notice == "correction":
        text = t("seller.stock.corrected", option=said.get("option", "")[:64],
                 on_hand=said.get("on_hand", ""))
    return _stock_page(request, runtime, staff, notice=text, cursor=said.get("cursor") or None)


def _sku_id(text: str) -> int:
    if not text.isdigit() or len(text) > 18:
        raise NotFound(f"no SKU {text}")
    return int(text)


def _whole(text: str) -> int | None:
    text = text.strip()
    return int(text) if text.isdigit() and len(text) <= 10 else None


@router.post("/seller/stock/{sku_id}/intake", response_class=HTMLResponse)
def take_in(request: Request, runtime: RuntimeDep, sku_id: str,
            units: Annotated[str, Form(max_length=20)] = "",
            option: Annotated[str, Form(max_length=64)] = "",
            cursor: Annotated[str, Form(max_length=40)] = "") -> Response:
    """Units received go on hand, in the rows and the stock gate alike."""
    staff, t = _staff(request, runtime), viewer_of(request).t
    sku, count = _sku_id(sku_id), _whole(units)
    if count is None:
        return _stock_refused(request, runtime, staff, (sku, "units", t("seller.stock.units_error")), cursor)
    try:
        level = inventory.take_in(runtime.uow(), runtime.gate, staff, sku_id=sku, units=count)
        runtime.checkout.restocked([sku])
    except NotFound:
        raise
    except DomainError as refused:
        return _stock_refused(request, runtime, staff, _problem(sku, refused, t, "units"), cursor,
                              status_of(refused))
    said = _query(done="intake", units=str(count), option=option, on_hand=str(level.on_hand), cursor=cursor)
    return RedirectResponse(f"/seller/stock?{said}", status_code=303)


@router.post("/seller/stock/{sku_id}/correction", response_class=HTMLResponse)
def correct(request: Request, runtime: RuntimeDep, sku_id: str,
            counted: Annotated[str, Form(max_length=20)] = "",
            reason: Annotated[str, Form(max_length=400)] = "",
            option: Annotated[str, Form(max_length=64)] = "",
            cursor: Annotated[str, Form(max_length=40)] = "") -> Response:
    """A stock-take sets on hand to the count, never below what is reserved and sold, with a reason."""
    staff, t = _staff(request, runtime), viewer_of(request).t
    sku, count = _sku_id(sku_id), _whole(counted)
    if count is None:
        problem = (sku, "counted", t("seller.stock.counted_error"))
        return _stock_refused(request, runtime, staff, problem, cursor)
    try:
        level = inventory.correct_count(runtime.uow(), runtime.gate, staff, sku_id=sku, counted=count,
                                        reason=reason)
        runtime.checkout.restocked([sku])
    except NotFound:
        raise
    except DomainError as refused:
        return _stock_refused(request, runtime, staff, _problem(sku, refused, t, "counted"), cursor,
                              status_of(refused))
    said = _query(done="correction", option=option, on_hand=str(level.on_hand), cursor=cursor)
    return RedirectResponse(f"/seller/stock?{said}", status_code=303)


def _problem(sku_id: int, refused: DomainError, t: Any, default_field: str) -> tuple[int, str, str]:
    errors = FormErrors()
    errors.add(refused, t)
    where = next(iter(errors.by_field))
    return sku_id, where or default_field, errors.by_field[where]


def _stock_refused(request: Request, runtime: Runtime, staff: Actor, problem: tuple[int, str, str],
                   cursor: str, status: int = 422) -> HTMLResponse:
    return _stock_page(request, runtime, staff, status=status, problem=problem, cursor=cursor or None,
                       notice=None)
