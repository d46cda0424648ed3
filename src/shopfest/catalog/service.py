"""Catalog use cases: brands, merchants, categories, listing and finding products."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from shopfest.catalog import search
from shopfest.catalog import store as store_lists
from shopfest.catalog.images import (
    CONTENT_TYPE,
    ImageStorage,
    ProductImage,
    key_for,
    prepare_image,
)
from shopfest.catalog.model import (
    Brand,
    BrandTier,
    Category,
    Fulfilment,
    Merchant,
    MerchantKind,
    Page,
    Product,
    ProductDraft,
    ProductQuery,
    ProductSort,
    Sku,
    SkuForSale,
    check_listing,
    check_slug,
    descendants,
    new_brand,
    revise,
    search_tokens,
    words_of,
)
from shopfest.catalog.store import CatalogStore, ImageStore, sale_facts_of
from shopfest.core.actor import Actor, Role, require_merchant_staff, require_role
from shopfest.core.errors import Conflict, InvalidInput, NotFound
from shopfest.core.events import DomainEvent
from shopfest.core.ids import decode_cursor, encode_cursor
from shopfest.core.money import Money, minor_units
from shopfest.core.uow import UnitOfWork


@dataclass(frozen=True)
class BrandCreated(DomainEvent):
    brand_id: int
    tier: str


@dataclass(frozen=True)
class MerchantJoined(DomainEvent):
    merchant_id: int
    kind: str


@dataclass(frozen=True)
class SkusListed(DomainEvent):
    """New SKUs and the stock their merchant listed them with (inventory takes it in)."""

    merchant_ids: list[int]
    product_ids: list[int]
    stock: dict[int, int] = field(default_factory=dict)


# --- brands ---------------------------------------------------------------------------------

def create_brand(
    uow: UnitOfWork, actor: Actor | None, *, name: str, tier: BrandTier, name_zh: str | None = None
) -> Brand:
    """Operators add brands; a luxury brand starts unapproved. Raises Forbidden, Conflict."""
    require_role(actor, Role.OPERATOR)
    brand = new_brand(name, tier, name_zh=name_zh)
    with uow:
        store = CatalogStore(uow.conn)
        if store.brand_named(brand.name) is not None:
            raise Conflict(f"a brand named {brand.name!r} exists already", name=brand.name)
        saved = store.add_brands([brand])[0]
        uow.emit(BrandCreated(saved.id or 0, saved.tier.value))
        uow.commit()
    return saved


def approve_brand(uow: UnitOfWork, actor: Actor | None, brand_id: int) -> Brand:
    """An operator opens a luxury brand to the pavilion. Raises Forbidden, NotFound."""
    require_role(actor, Role.OPERATOR)
    with uow:
        store = CatalogStore(uow.conn)
        _brand_or_404(store, brand_id)
        store.approve_brand(brand_id)
        uow.commit()
        return _brand_or_404(store, brand_id)


def get_brand(uow: UnitOfWork, brand_id: int) -> Brand:
    with uow:
        return _brand_or_404(CatalogStore(uow.conn), brand_id)


def list_brands(
    uow: UnitOfWork, *, tier: BrandTier | None, after_id: int | None, limit: int
) -> list[Brand]:
    with uow:
        return CatalogStore(uow.conn).list_brands(tier=tier, after_id=after_id, limit=limit)


def count_brands(uow: UnitOfWork) -> int:
    with uow:
        return CatalogStore(uow.conn).count_brands()


def _brand_or_404(store: CatalogStore, brand_id: int) -> Brand:
    brand = store.brand(brand_id)
    if brand is None:
        raise NotFound(f"no brand {brand_id}", brand_id=brand_id)
    return brand


# --- merchants ------------------------------------------------------------------------------

def create_merchant(
    uow: UnitOfWork, actor: Actor | None, *, name: str, kind: MerchantKind,
    settlement_currency: str, brand_ids: Sequence[int], city: str | None = None,
) -> Merchant:
    """Operators admit merchants with the brands they sell. Raises Forbidden, InvalidInput."""
    require_role(actor, Role.OPERATOR)
    minor_units(settlement_currency)
    merchant = Merchant(name.strip(), kind, settlement_currency, frozenset(brand_ids), city)
    if not merchant.name:
        raise InvalidInput("a merchant needs a name")
    with uow:
        store = CatalogStore(uow.conn)
        unknown = set(brand_ids) - set(store.brands_by_id(brand_ids))
        if unknown:
            raise InvalidInput(f"unknown brands {sorted(unknown)}", brand_ids=sorted(unknown))
        saved = store.add_merchants([merchant])[0]
        uow.emit(MerchantJoined(saved.id or 0, saved.kind.value))
        uow.commit()
    return saved


def get_merchant(uow: UnitOfWork, merchant_id: int) -> Merchant:
    with uow:
        merchant = CatalogStore(uow.conn).merchant(merchant_id)
    if merchant is None:
        raise NotFound(f"no merchant {merchant_id}", merchant_id=merchant_id)
    return merchant


# --- categories -----------------------------------------------------------------------------

def create_category(
    uow: UnitOfWork, actor: Actor | None, *, slug: str, name: str,
    name_zh: str | None = None, parent: str | None = None,
) -> Category:
    """Operators grow the category tree. Raises Forbidden, Conflict, InvalidInput."""
    require_role(actor, Role.OPERATOR)
    check_slug(slug)
    with uow:
        store = CatalogStore(uow.conn)
        if store.category_by_slug(slug) is not None:
            raise Conflict(f"category {slug!r} exists already", slug=slug)
        parent_id = _category_or_422(store, parent).id if parent else None
        saved = store.add_category(Category(slug, name.strip(), name_zh, parent_id))
        uow.commit()
    return saved


def all_categories(uow: UnitOfWork) -> list[Category]:
    with uow:
        return CatalogStore(uow.conn).all_categories()


def _category_or_422(store: CatalogStore, slug: str) -> Category:
    category = store.category_by_slug(slug)
    if category is None or category.id is None:
        raise InvalidInput(f"unknown category {slug!r}", category=slug)
    return category


def category_id_for(uow: UnitOfWork, slug: str) -> int:
    with uow:
        return _category_or_422(CatalogStore(uow.conn), slug).id or 0


# --- products -------------------------------------------------------------------------------

def list_product(uow: UnitOfWork, actor: Actor | None, draft: ProductDraft) -> Product:
    """Merchant staff list a product of a brand their merchant sells, with its SKUs and stock.

    Raises Forbidden, BrandNotSold, BrandNotApproved, InvalidInput.
    """
    _, merchant_id = require_merchant_staff(actor)
    with uow:
        listed = _list(uow, [(merchant_id, draft)])
        uow.commit()
    return listed[0]


def import_catalog(
    uow: UnitOfWork, *, brands: Sequence[Brand] = (), merchants: Sequence[Merchant] = (),
) -> tuple[list[Brand], list[Merchant]]:
    """The seed and bulk-load path for brands and merchants (the machine owner's, no actor)."""
    with uow:
        store = CatalogStore(uow.conn)
        saved_brands = store.add_brands(brands) if brands else []
        saved_merchants = store.add_merchants(merchants) if merchants else []
        uow.commit()
    return saved_brands, saved_merchants


def import_products(uow: UnitOfWork, listings: Sequence[tuple[int, ProductDraft]]) -> list[Product]:
    """The seed and bulk-load path: (merchant id, draft) pairs, checked as listing, one transaction."""
    with uow:
        listed = _list(uow, listings)
        uow.commit()
    return listed


def refresh_search_statistics(uow: UnitOfWork) -> None:
    """After a bulk import: the planner's statistics, so searches pick the right index."""
    with uow:
        CatalogStore(uow.conn).refresh_statistics()
        uow.commit()


def _list(uow: UnitOfWork, listings: Sequence[tuple[int, ProductDraft]]) -> list[Product]:
    store = CatalogStore(uow.conn)
    merchants = store.merchants_by_id(m for m, _ in listings)
    brands = store.brands_by_id(d.brand_id for _, d in listings)
    categories = {c.id: c for c in store.all_categories()}
    pending = []
    for merchant_id, draft in listings:
        merchant, brand = merchants.get(merchant_id), brands.get(draft.brand_id)
        category = categories.get(draft.category_id)
        if merchant is None:
            raise NotFound(f"no merchant {merchant_id}", merchant_id=merchant_id)
        if brand is None:
            raise InvalidInput(f"unknown brand {draft.brand_id}", brand_id=draft.brand_id)
        if category is None:
            raise InvalidInput(f"unknown category {draft.category_id}")
        check_listing(merchant, brand)
        words = words_of(draft.title, draft.title_zh, brand, category)
        pending.append((_product_of(merchant_id, draft, brand), words))
    listed = store.add_products(pending)
    stock = {sku.id or 0: sku_draft.stock
             for product, (_, draft) in zip(listed, listings, strict=True)
             for sku, sku_draft in zip(product.skus, draft.skus, strict=True)}
    uow.emit(SkusListed(sorted({p.merchant_id for p in listed}), [p.id or 0 for p in listed], stock))
    return listed


def _product_of(merchant_id: int, draft: ProductDraft, brand: Brand) -> Product:
    return Product(
        merchant_id=merchant_id, brand_id=draft.brand_id, category_id=draft.category_id,
        title=draft.title, title_zh=draft.title_zh, fulfilment=draft.fulfilment,
        debut_at=draft.debut_at, brand_tier=brand.tier,
        skus=tuple(Sku(s.code, s.price, name_zh=s.name_zh) for s in draft.skus),
    )


def get_product(uow: UnitOfWork, product_id: int) -> Product:
    """Raises NotFound."""
    with uow:
        product = CatalogStore(uow.conn).product(product_id)
    if product is None:
        raise NotFound(f"no product {product_id}", product_id=product_id)
    return product


@dataclass(frozen=True)
class ProductChanges:
    title: str | None = None
    title_zh: str | None = None
    debut_at: datetime | None = None
    category_id: int | None = None


def change_product(
    uow: UnitOfWork, actor: Actor | None, product_id: int, changes: ProductChanges
) -> Product:
    """Staff change only their own merchant's products; another's is not found. Raises NotFound."""
    _, merchant_id = require_merchant_staff(actor)
    with uow:
        store = CatalogStore(uow.conn)
        product = store.product(product_id)
        if product is None or product.merchant_id != merchant_id:
            raise NotFound(f"no product {product_id}", product_id=product_id)
        changed = revise(product, title=changes.title, title_zh=changes.title_zh,
                         debut_at=changes.debut_at, category_id=changes.category_id)
        store.update_product(changed, _search_words(store, changed))
        uow.commit()
    return changed


def _search_words(store: CatalogStore, product: Product) -> str:
    brand = _brand_or_404(store, product.brand_id)
    category = {c.id: c for c in store.all_categories()}.get(product.category_id)
    if category is None:
        raise InvalidInput(f"unknown category {product.category_id}")
    return words_of(product.title, product.title_zh, brand, category)


def merchant_of_sku(uow: UnitOfWork, sku_id: int) -> int | None:
    """The merchant selling a SKU, or None for an unknown SKU (inside the caller's transaction)."""
    owner = CatalogStore(uow.conn).sku_owner(sku_id)
    return owner[1] if owner else None


def skus_for_sale(uow: UnitOfWork, sku_ids: Sequence[int]) -> dict[int, SkuForSale]:
    """Seller, kind and list price of each known SKU among `sku_ids` (inside the caller's transaction)."""
    return CatalogStore(uow.conn).skus_for_sale(sku_ids)


def search_products(uow: UnitOfWork, query: ProductQuery) -> Page:
    """The storefront search: every word and filter must match; newest first; cursor paged."""
    with uow:
        return search.search(uow.conn, query)


def category_ids_under(uow: UnitOfWork, slug: str) -> frozenset[int]:
    """The category named `slug` and all below it. Raises InvalidInput for an unknown slug."""
    with uow:
        store = CatalogStore(uow.conn)
        root = _category_or_422(store, slug)
        return frozenset(descendants(store.all_categories(), root.id or 0))


def new_arrivals(uow: UnitOfWork, *, since: datetime, limit: int) -> tuple[list[Product], int]:
    """Products that debuted this festival up to now, newest debut first, and how many in all."""
    with uow:
        store = CatalogStore(uow.conn)
        now = uow.clock.now()
        return (store.newest_debuts(since=since, until=now, limit=limit),
                store.count_debuts(since=since, until=now))


# What the catalog asks of the rooms that depend on it, handed in by the caller (app.py wires them).
StockOf = Callable[[UnitOfWork, Sequence[int]], dict[int, int]]
FestivalStart = Callable[[UnitOfWork], datetime | None]


@dataclass(frozen=True)
class Listed:
    """A product as the storefront shows it: its category's slug, the units of each SKU available
    now, and whether it debuted this festival."""

    product: Product
    category: str
    stock: dict[int, int]
    new: bool


def listed(uow: UnitOfWork, products: Sequence[Product], *, stock_of: StockOf,
           festival_start: FestivalStart) -> list[Listed]:
    """`products` with what the API and the pages show beside each (shared by both)."""
    slugs = {c.id: c.slug for c in all_categories(uow)}
    stock = stock_of(uow, [s.id or 0 for p in products for s in p.skus])
    since = festival_start(uow)
    now = uow.clock.now()
    return [Listed(p, slugs.get(p.category_id, ""), {s.id or 0: stock.get(s.id or 0, 0) for s in p.skus},
                   new=since is not None and p.is_new(since=since, now=now))
            for p in products]


def product_query(uow: UnitOfWork, *, festival_start: FestivalStart, q: str | None, category: str | None,
                  brand_id: int | None, merchant_id: int | None = None, tier: BrandTier | None,
                  fulfilment: Fulfilment | None, new: bool, min_price: Money | None,
                  max_price: Money | None, cursor: str | None, limit: int,
                  sort: ProductSort = ProductSort.RELEVANCE) -> ProductQuery:
    """The search the storefront's query string asks for (shared by the API and the pages)."""
    since = festival_start(uow) if new else None
    if new and since is None:
        raise InvalidInput("there is no festival to be new in")
    return ProductQuery(
        words=tuple(search_tokens(q or "")),
        category_ids=category_ids_under(uow, category) if category else None,
        brand_id=brand_id, merchant_id=merchant_id, tier=tier, fulfilment=fulfilment,
        debuted_between=(since, uow.clock.now()) if since else None,
        min_price=min_price, max_price=max_price, limit=limit, sort=sort,
        **_after(sort, cursor),
    )


# --- the control room (operators) ------------------------------------------------------------

def find_brands(uow: UnitOfWork, actor: Actor | None, *, words: str | None = None,
                tier: BrandTier | None = None, after_id: int | None = None, limit: int) -> list[Brand]:
    """Operators look brands up by a part of their name and by tier, a page at a time. Raises
    Unauthenticated, Forbidden."""
    require_role(actor, Role.OPERATOR)
    with uow:
        return store_lists.find_brands(uow.conn, words=(words or "").strip() or None, tier=tier,
                                       after_id=after_id, limit=limit)


def brands_awaiting_approval(uow: UnitOfWork, actor: Actor | None, *, limit: int) -> list[Brand]:
    """The luxury brands an operator has yet to open to the pavilion. Raises Unauthenticated, Forbidden."""
    require_role(actor, Role.OPERATOR)
    with uow:
        return store_lists.brands_awaiting_approval(uow.conn, limit=limit)


def list_merchants(uow: UnitOfWork, actor: Actor | None, *, after_id: int | None = None,
                   limit: int) -> list[Merchant]:
    """Operators page through the merchants, by id. Raises Unauthenticated, Forbidden."""
    require_role(actor, Role.OPERATOR)
    with uow:
        store = CatalogStore(uow.conn)
        ids = store_lists.merchant_page(uow.conn, after_id=after_id, limit=limit)
        found = store.merchants_by_id(ids)
    return [found[i] for i in ids if i in found]


def skus_named(uow: UnitOfWork, sku_ids: Sequence[int]) -> dict[int, SkuForSale]:
    """Seller, title and list price of each known SKU among `sku_ids`, in a read of its own."""
    with uow:
        return skus_for_sale(uow, sku_ids)


def sample_skus(uow: UnitOfWork, *, merchants: int, limit: int) -> list[SkuForSale]:
    """A few SKUs on sale, of up to `merchants` sellers, to try offers on: the newest products first."""
    with uow:
        ids = store_lists.newest_skus(uow.conn, limit=limit * 25)
        found = skus_for_sale(uow, ids)
    each = max(1, limit // merchants)
    picked: dict[int, list[SkuForSale]] = {}
    for sku in (found[i] for i in ids if i in found):
        of_seller = picked.get(sku.merchant_id)
        if of_seller is None and len(picked) < merchants:
            picked[sku.merchant_id] = [sku]
        elif of_seller is not None and len(of_seller) < each:
            of_seller.append(sku)
    return [sku for skus in picked.values() for sku in skus][:limit]


def brands_by_ids(uow: UnitOfWork, brand_ids: Sequence[int]) -> list[Brand]:
    """The known brands among `brand_ids`, in their order."""
    with uow:
        found = CatalogStore(uow.conn).brands_by_id(brand_ids)
    return [found[i] for i in brand_ids if i in found]


# --- the seller centre: a merchant's own products and their pictures ---------------------------

def merchant_products(uow: UnitOfWork, actor: Actor | None, *, q: str = "", cursor: str | None = None,
                      limit: int = 20) -> Page:
    """The staff's own merchant's products, newest first, found by title words; cursor paged.

    Raises Unauthenticated, Forbidden, InvalidInput.
    """
    _, merchant_id = require_merchant_staff(actor)
    query = ProductQuery(words=tuple(search_tokens(q)), merchant_id=merchant_id,
                         after_id=decode_cursor(cursor), limit=limit)
    return search_products(uow, query)


def merchant_product(uow: UnitOfWork, actor: Actor | None, product_id: int) -> Product:
    """One of the staff's own merchant's products; another merchant's is not found.

    Raises Unauthenticated, Forbidden, NotFound.
    """
    _, merchant_id = require_merchant_staff(actor)
    with uow:
        product = CatalogStore(uow.conn).product(product_id)
    if product is None or product.merchant_id != merchant_id:
        raise NotFound(f"no product {product_id}", product_id=product_id)
    return product


def merchant_of_staff(uow: UnitOfWork, actor: Actor | None) -> Merchant:
    """The merchant the staff work for. Raises Unauthenticated, Forbidden, NotFound."""
    _, merchant_id = require_merchant_staff(actor)
    return get_merchant(uow, merchant_id)


def merchant_brands(uow: UnitOfWork, actor: Actor | None) -> list[Brand]:
    """The brands the staff's merchant sells, by name. Raises Unauthenticated, Forbidden, NotFound."""
    merchant = merchant_of_staff(uow, actor)
    with uow:
        found = CatalogStore(uow.conn).brands_by_id(merchant.brand_ids)
    return sorted(found.values(), key=lambda b: b.name.casefold())


@dataclass(frozen=True)
class MerchantCounts:
    products: int
    sku_ids: list[int]


def merchant_counts(uow: UnitOfWork, actor: Actor | None) -> MerchantCounts:
    """How many products the staff's merchant lists, and its SKUs. Raises Unauthenticated, Forbidden."""
    _, merchant_id = require_merchant_staff(actor)
    with uow:
        store = ImageStore(uow.conn)
        return MerchantCounts(store.count_products_of(merchant_id), store.all_sku_ids_of(merchant_id))


def merchant_skus(uow: UnitOfWork, actor: Actor | None,
                  product_ids: Sequence[int]) -> list[tuple[int, str, int, str]]:
    """(SKU id, code, product id, title) of the staff's own products among `product_ids`."""
    _, merchant_id = require_merchant_staff(actor)
    with uow:
        return ImageStore(uow.conn).skus_of(merchant_id, product_ids)


def put_product_image(uow: UnitOfWork, actor: Actor | None, product_id: int, data: bytes, *,
                      storage: ImageStorage) -> ProductImage:
    """Staff give their own product a picture (replacing any before): checked, made into thumbnails,
    kept in `storage`. Raises NotFound, ImageNotAllowed, ImageTooHeavy, ImageTooSmall, ImageTooLarge."""
    merchant_product(uow, actor, product_id)
    thumbnails = {t.size: t for t in prepare_image(data)}
    keys = {size: key_for(product_id, size) for size in thumbnails}
    for size, thumbnail in thumbnails.items():
        storage.put(keys[size], thumbnail.data, content_type=CONTENT_TYPE)
    try:
        with uow:
            store = ImageStore(uow.conn)
            before = store.of([product_id]).get(product_id)
            store.put(product_id, card_key=keys["card"], page_key=keys["page"], at=uow.clock.now())
            uow.commit()
    except BaseException:
        for key in keys.values():
            storage.delete(key)
        raise
    for old in before or ():
        storage.delete(old)
    return ProductImage(product_id, keys["card"], keys["page"])


def product_images(uow: UnitOfWork, product_ids: Sequence[int]) -> dict[int, ProductImage]:
    """The picture of each of these products that has one."""
    with uow:
        found = ImageStore(uow.conn).of(product_ids)
    return {pid: ProductImage(pid, card, page) for pid, (card, page) in found.items()}


def import_product_images(uow: UnitOfWork, pictures: Sequence[tuple[int, bytes]], *,
                          storage: ImageStorage) -> list[ProductImage]:
    """The seed path (the machine owner's, no actor): pictures of products, checked as an upload is,
    their rows written in one transaction. Raises ImageNotAllowed, ImageTooHeavy, ImageTooSmall,
    ImageTooLarge."""
    made = []
    for product_id, data in pictures:
        thumbnails = {t.size: t for t in prepare_image(data)}
        keys = {size: key_for(product_id, size) for size in thumbnails}
        for size, thumbnail in thumbnails.items():
            storage.put(keys[size], thumbnail.data, content_type=CONTENT_TYPE)
        made.append(ProductImage(product_id, keys["card"], keys["page"]))
    with uow:
        store = ImageStore(uow.conn)
        for image in made:
            store.put(image.product_id, card_key=image.card_key, page_key=image.page_key, at=uow.clock.now())
        uow.commit()
    return made


def merchants_by_id(uow: UnitOfWork, merchant_ids: Sequence[int]) -> dict[int, Merchant]:
    """The merchants among `merchant_ids` that exist, by id: who sells a product, as the pages name them."""
    with uow:
        return CatalogStore(uow.conn).merchants_by_id(merchant_ids)


def _after(sort: ProductSort, cursor: str | None) -> dict[str, int | None]:
    """Where a page starts: after an id (relevance), or after a sort value and an id. A cursor of
    another order is refused (InvalidInput), as any cursor we did not make."""
    if sort is ProductSort.RELEVANCE or not cursor:
        return {"after_id": decode_cursor(cursor)}
    key, _, after = cursor.partition(".")
    # A price in minor units or a debut in microseconds since 1970: at most 16 digits until 2286.
    if not key.isascii() or not key.isdigit() or len(key) > 16:
        raise InvalidInput(f"{cursor!r} is not a cursor this search gave out")
    return {"after_key": int(key), "after_id": decode_cursor(after)}


def next_cursor(query: ProductQuery, page: Page) -> str | None:
    """The cursor of the page after `page`, in the query's order; None on the last page."""
    if page.next_after_id is None:
        return None
    if query.sort is ProductSort.RELEVANCE:
        return encode_cursor(page.next_after_id)
    return f"{page.next_after_key}.{encode_cursor(page.next_after_id)}"


def count_products(uow: UnitOfWork, query: ProductQuery, *, at_most: int) -> int:
    """How many products the search finds, counted up to `at_most`."""
    with uow:
        return search.count(uow.conn, query, at_most=at_most)


def products_in(uow: UnitOfWork, product_ids: Sequence[int]) -> list[Product]:
    """The known products among `product_ids`, in their order, with their SKUs (inside the caller's
    transaction): a live event's products, which its host's coupons and deals cover."""
    return CatalogStore(uow.conn).products_by_id(product_ids)


def products_by_ids(uow: UnitOfWork, product_ids: Sequence[int]) -> dict[int, Product]:
    """The products among `product_ids` that exist, by id."""
    with uow:
        return {p.id or 0: p for p in products_in(uow, list(dict.fromkeys(product_ids)))}


def settlement_currency_of(uow: UnitOfWork, merchant_id: int) -> str | None:
    """The currency a merchant settles in; None for an unknown merchant (inside the caller's transaction)."""
    merchant = CatalogStore(uow.conn).merchant(merchant_id)
    return merchant.settlement_currency if merchant is not None else None


@dataclass(frozen=True, slots=True)
class SaleFacts:
    """What the figures say of a product sold: its brand, category, the brand's tier, its debut."""

    brand_id: int
    brand: str
    category_id: int
    category: str
    luxury: bool
    debut_at: datetime


def sale_facts(uow: UnitOfWork, product_ids: Sequence[int]) -> dict[int, SaleFacts]:
    """The facts of each known product among `product_ids`, inside the caller's transaction."""
    return {r.id: SaleFacts(brand_id=r.brand_id, brand=r.brand or "", category_id=r.category_id,
                            category=r.category or "", luxury=r.brand_tier == BrandTier.LUXURY.value,
                            debut_at=r.debut_at)
            for r in sale_facts_of(uow.conn, list(dict.fromkeys(product_ids)))}
