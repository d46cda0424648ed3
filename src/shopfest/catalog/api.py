"""HTTP routes of the catalog: brands, merchants, categories, products and the search."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from shopfest.catalog import service
from shopfest.catalog.model import (
    Brand,
    BrandTier,
    Category,
    Fulfilment,
    Merchant,
    MerchantKind,
    Product,
    ProductDraft,
    ProductSort,
    SkuDraft,
)
from shopfest.core.ids import decode_cursor, encode_cursor
from shopfest.core.money import Money
from shopfest.deps import AccountFirstRoute, Cursor, Limit, ReadUowDep, RuntimeDep, SignedInActor, UowDep
from shopfest.problems import problem_responses
from shopfest.rate_limits import client_address
from shopfest.runtime import Runtime
from shopfest.schemas import Id, IdParam, InputModel, Instant, MoneyJson

router = APIRouter(prefix="/api/v1", tags=["catalog"], responses=problem_responses(422),
                   route_class=AccountFirstRoute)
WRITE = problem_responses(401, 403, 404, 409)


# --- brands ---------------------------------------------------------------------------------

class BrandIn(InputModel):
    name: str = Field(min_length=1, max_length=200, examples=["Lumen Atelier"])
    tier: BrandTier = BrandTier.REGULAR
    name_zh: str | None = Field(None, max_length=200, examples=["流明工坊"])


class BrandJson(BaseModel):
    id: int
    name: str
    name_zh: str | None
    tier: BrandTier
    approved: bool

    @classmethod
    def of(cls, brand: Brand) -> BrandJson:
        return cls(id=brand.id or 0, name=brand.name, name_zh=brand.name_zh, tier=brand.tier,
                   approved=brand.approved)


class BrandPage(BaseModel):
    data: list[BrandJson]
    next_cursor: str | None


@router.post("/brands", status_code=201, response_model=BrandJson, responses=WRITE)
def create_brand(body: BrandIn, uow: UowDep, actor: SignedInActor) -> BrandJson:
    """Operators add a brand; a luxury brand waits for approval before it can be listed."""
    return BrandJson.of(service.create_brand(uow, actor, name=body.name, tier=body.tier,
                                             name_zh=body.name_zh))


@router.post("/brands/{brand_id}/approve", response_model=BrandJson, responses=WRITE)
def approve_brand(brand_id: IdParam, uow: UowDep, actor: SignedInActor) -> BrandJson:
    """Operators approve a luxury brand into the pavilion."""
    return BrandJson.of(service.approve_brand(uow, actor, brand_id))


@router.get("/brands", response_model=BrandPage)
def list_brands(uow: ReadUowDep, tier: BrandTier | None = None, cursor: Cursor = None,
                limit: Limit = 20) -> BrandPage:
    found = service.list_brands(uow, tier=tier, after_id=decode_cursor(cursor), limit=limit + 1)
    more = len(found) > limit
    page = found[:limit]
    return BrandPage(data=[BrandJson.of(b) for b in page],
                     next_cursor=encode_cursor(page[-1].id or 0) if more else None)


@router.get("/brands/{brand_id}", response_model=BrandJson, responses=problem_responses(404))
def get_brand(brand_id: IdParam, uow: ReadUowDep) -> BrandJson:
    return BrandJson.of(service.get_brand(uow, brand_id))


# --- merchants ------------------------------------------------------------------------------

class MerchantIn(InputModel):
    name: str = Field(min_length=1, max_length=200)
    kind: MerchantKind
    settlement_currency: str = Field(min_length=3, max_length=3, examples=["CNY"])
    brand_ids: list[Id] = Field(default_factory=list, max_length=1000)
    city: str | None = Field(None, max_length=100)


class MerchantJson(BaseModel):
    id: int
    name: str
    kind: MerchantKind
    settlement_currency: str
    brand_ids: list[int]
    city: str | None

    @classmethod
    def of(cls, merchant: Merchant) -> MerchantJson:
        return cls(id=merchant.id or 0, name=merchant.name, kind=merchant.kind,
                   settlement_currency=merchant.settlement_currency,
                   brand_ids=sorted(merchant.brand_ids), city=merchant.city)


@router.post("/merchants", status_code=201, response_model=MerchantJson, responses=WRITE)
def create_merchant(body: MerchantIn, uow: UowDep, actor: SignedInActor) -> MerchantJson:
    """Operators admit a merchant with the brands it sells."""
    merchant = service.create_merchant(
        uow, actor, name=body.name, kind=body.kind,
        settlement_currency=body.settlement_currency.upper(), brand_ids=body.brand_ids,
        city=body.city,
    )
    return MerchantJson.of(merchant)


@router.get("/merchants/{merchant_id}", response_model=MerchantJson,
            responses=problem_responses(404))
def get_merchant(merchant_id: IdParam, uow: ReadUowDep) -> MerchantJson:
    return MerchantJson.of(service.get_merchant(uow, merchant_id))


# --- categories -----------------------------------------------------------------------------

class CategoryIn(InputModel):
    slug: str = Field(min_length=1, max_length=60, examples=["automobiles"])
    name: str = Field(min_length=1, max_length=200)
    name_zh: str | None = Field(None, max_length=200)
    parent: str | None = Field(None, description="slug of the parent category")


class CategoryJson(BaseModel):
    id: int
    slug: str
    name: str
    name_zh: str | None
    parent_id: int | None

    @classmethod
    def of(cls, category: Category) -> CategoryJson:
        return cls(id=category.id or 0, slug=category.slug, name=category.name,
                   name_zh=category.name_zh, parent_id=category.parent_id)


@router.get("/categories", response_model=list[CategoryJson])
def list_categories(uow: ReadUowDep) -> list[CategoryJson]:
    """The whole category tree, parents before children."""
    return [CategoryJson.of(c) for c in service.all_categories(uow)]


@router.post("/categories", status_code=201, response_model=CategoryJson, responses=WRITE)
def create_category(body: CategoryIn, uow: UowDep, actor: SignedInActor) -> CategoryJson:
    return CategoryJson.of(service.create_category(
        uow, actor, slug=body.slug, name=body.name, name_zh=body.name_zh, parent=body.parent))


# --- products -------------------------------------------------------------------------------

class SkuIn(InputModel):
    code: str = Field(min_length=1, max_length=64)
    price: MoneyJson
    stock: int = Field(strict=True, ge=0, le=1_000_000_000)
    name_zh: str | None = Field(None, max_length=64, description="the option's Chinese name")


class ProductIn(InputModel):
    title: str = Field(min_length=1, max_length=200)
    title_zh: str | None = Field(None, max_length=200)
    brand_id: Id
    category: str = Field(description="category slug", examples=["automobiles"])
    fulfilment: Fulfilment = Fulfilment.SHIPPED
    debut_at: Instant | None = Field(None, description="now when left out")
    skus: list[SkuIn] = Field(min_length=1, max_length=50)


class ProductPatch(InputModel):
    title: str | None = Field(None, min_length=1, max_length=200)
    title_zh: str | None = Field(None, max_length=200)
    category: str | None = None
    debut_at: Instant | None = None


class SkuJson(BaseModel):
    id: int
    code: str
    price: MoneyJson
    stock: int = Field(description="units available to buy now")
    name_zh: str | None = None


class ProductJson(BaseModel):
    id: int
    title: str
    title_zh: str | None
    merchant_id: int
    brand_id: int
    tier: BrandTier
    category: str
    fulfilment: Fulfilment
    debut_at: datetime
    new: bool = Field(description="debuted this festival")
    price: MoneyJson = Field(description="the lowest SKU price")
    skus: list[SkuJson]


class ProductPage(BaseModel):
    data: list[ProductJson]
    next_cursor: str | None


def products_json(runtime: Runtime, products: list[Product]) -> list[ProductJson]:
    """Products with their category slugs, stock and the festival's 'new' flag."""
    listed = service.listed(runtime.uow(read_only=True), products, stock_of=runtime.ports.available_stock,
                            festival_start=runtime.ports.festival_start)
    return [_product_json(shown) for shown in listed]


def _product_json(shown: service.Listed) -> ProductJson:
    p = shown.product
    return ProductJson(
        id=p.id or 0, title=p.title, title_zh=p.title_zh, merchant_id=p.merchant_id,
        brand_id=p.brand_id, tier=p.brand_tier, category=shown.category,
        fulfilment=p.fulfilment, debut_at=p.debut_at, new=shown.new,
        price=MoneyJson.of(p.from_price),
        skus=[SkuJson(id=s.id or 0, code=s.code, price=MoneyJson.of(s.price),
                      stock=shown.stock[s.id or 0], name_zh=s.name_zh) for s in p.skus],
    )


@router.post("/products", status_code=201, response_model=ProductJson, responses=WRITE)
def create_product(body: ProductIn, runtime: RuntimeDep, actor: SignedInActor) -> ProductJson:
    """Merchant staff list a product of a brand their merchant sells."""
    draft = ProductDraft(
        title=body.title, title_zh=body.title_zh, brand_id=body.brand_id,
        category_id=service.category_id_for(runtime.uow(read_only=True), body.category),
        fulfilment=body.fulfilment,
        debut_at=body.debut_at or runtime.clock.now(),
        skus=tuple(SkuDraft(s.code, s.price.to_money(), s.stock, s.name_zh) for s in body.skus),
    )
    product = service.list_product(runtime.uow(), actor, draft)
    return products_json(runtime, [product])[0]


@router.patch("/products/{product_id}", response_model=ProductJson, responses=WRITE)
def change_product(product_id: IdParam, body: ProductPatch, runtime: RuntimeDep,
                   actor: SignedInActor) -> ProductJson:
    """Merchant staff change their own products; another merchant's product is not found."""
    changes = service.ProductChanges(
        title=body.title, title_zh=body.title_zh,
        debut_at=body.debut_at,
        category_id=service.category_id_for(runtime.uow(read_only=True), body.category)
        if body.category else None,
    )
    product = service.change_product(runtime.uow(), actor, product_id, changes)
    return products_json(runtime, [product])[0]


@router.get("/products/{product_id}", response_model=ProductJson, responses=problem_responses(404))
def get_product(product_id: IdParam, runtime: RuntimeDep) -> ProductJson:
    return products_json(runtime, [service.get_product(runtime.uow(read_only=True), product_id)])[0]


@router.get("/products", response_model=ProductPage, responses=problem_responses(429))
def search_products(
    request: Request,
    runtime: RuntimeDep,
    q: Annotated[str | None, Query(max_length=200, description="words in any order")] = None,
    category: Annotated[str | None, Query(description="slug; includes sub-categories")] = None,
    brand_id: IdParam | None = None,
    merchant_id: IdParam | None = None,
    tier: BrandTier | None = None,
    fulfilment: Fulfilment | None = None,
    new: Annotated[bool, Query(description="only products that debuted this festival")] = False,
    min_price: Annotated[str | None, Query(examples=["100.00"])] = None,
    max_price: Annotated[str | None, Query(examples=["999.00"])] = None,
    currency: Annotated[str, Query(min_length=3, max_length=3,
                                   description="currency of the price bounds")] = "CNY",
    cursor: Cursor = None,
    limit: Limit = 20,
    sort: Annotated[ProductSort, Query(description="relevance (newest listed first), newest debut, "
                                                   "or list price up or down")] = ProductSort.RELEVANCE,
) -> ProductPage:
    """Search the storefront: every word and filter must match; in the order asked (newest listed
    first by default); cursor paged. Too many searches from one address are 429
    `/problems/rate-limited`."""
    runtime.limiter.hit("search", address=client_address(request))
    query = service.product_query(
        runtime.uow(read_only=True), festival_start=runtime.ports.festival_start,
        q=q, category=category, brand_id=brand_id, merchant_id=merchant_id, tier=tier,
        fulfilment=fulfilment, new=new,
        min_price=Money.exact(min_price, currency.upper()) if min_price else None,
        max_price=Money.exact(max_price, currency.upper()) if max_price else None,
        cursor=cursor, limit=limit, sort=sort,
    )
    page = service.search_products(runtime.uow(read_only=True), query)
    return ProductPage(data=products_json(runtime, page.items), next_cursor=service.next_cursor(query, page))
