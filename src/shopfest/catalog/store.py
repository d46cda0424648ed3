"""Catalog tables and the repository over them. The product search on either database reads them in
`search.py`; the SQLite full-text index is kept here, as the rows it indexes are written."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    ForeignKey,
    Index,
    Row,
    String,
    Table,
    UniqueConstraint,
    func,
    insert,
    select,
    text,
    update,
)

from shopfest.catalog.model import (
    Brand,
    BrandTier,
    Category,
    Fulfilment,
    Merchant,
    MerchantKind,
    Product,
    Sku,
    SkuForSale,
)
from shopfest.core.db import Id, UtcDateTime, bulk_insert, id_in, metadata
from shopfest.core.money import Money

brands = Table(
    "brands",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("name_zh", String(200)),
    Column("tier", String(20), nullable=False, index=True),
    Column("approved", Boolean, nullable=False),
)

merchants = Table(
    "merchants",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("settlement_currency", String(3), nullable=False),
    Column("city", String(100)),
)

merchant_brands = Table(
    "merchant_brands",
    metadata,
    Column("merchant_id", Id, ForeignKey("merchants.id"), primary_key=True),
    Column("brand_id", Id, ForeignKey("brands.id"), primary_key=True, index=True),
)

stores = Table(
    "stores",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("merchant_id", Id, ForeignKey("merchants.id"), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("city", String(100)),
)

categories = Table(
    "categories",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("slug", String(60), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("name_zh", String(200)),
    Column("parent_id", Id, ForeignKey("categories.id")),
)

products = Table(
    "products",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("merchant_id", Id, ForeignKey("merchants.id"), nullable=False),
    Column("brand_id", Id, ForeignKey("brands.id"), nullable=False),
    Column("category_id", Id, ForeignKey("categories.id"), nullable=False),
    Column("title", String(200), nullable=False),
    Column("title_zh", String(200)),
    Column("fulfilment", String(20), nullable=False),
    Column("debut_at", UtcDateTime, nullable=False),
    # Copied from the brand and the SKUs so that a search filters one table.
    Column("brand_tier", String(20), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("price_minor", Id, nullable=False),
    Column("search_text", String(2000), nullable=False),
    Index("ix_products_merchant", "merchant_id", "id"),
    Index("ix_products_brand", "brand_id", "id"),
    Index("ix_products_category", "category_id", "id"),
    Index("ix_products_tier", "brand_tier", "id"),
    Index("ix_products_fulfilment", "fulfilment", "id"),
    Index("ix_products_debut", "debut_at"),
    Index("ix_products_price", "currency", "price_minor"),
    # The storefront's sorted searches walk these, and start a page after a (value, id) cursor.
    Index("ix_products_debut_sort", "debut_at", "id"),
    Index("ix_products_price_sort", "price_minor", "id"),
)

skus = Table(
    "skus",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("product_id", Id, ForeignKey("products.id"), nullable=False, index=True),
    Column("code", String(64), nullable=False),
    Column("price_minor", Id, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("name_zh", String(64)),
    UniqueConstraint("product_id", "code", name="uq_skus_product_code"),
)


def _brand(row: Row[Any]) -> Brand:
    return Brand(row.name, BrandTier(row.tier), row.approved, row.name_zh, row.id)


def _category(row: Row[Any]) -> Category:
    return Category(row.slug, row.name, row.name_zh, row.parent_id, row.id)


class CatalogStore:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    @property
    def dialect(self) -> str:
        return self.conn.dialect.name

    # brands
    def add_brands(self, new: Sequence[Brand]) -> list[Brand]:
        rows = [{"name": b.name, "name_zh": b.name_zh, "tier": b.tier.value, "approved": b.approved}
                for b in new]
        ids = self.conn.scalars(
            insert(brands).returning(brands.c.id, sort_by_parameter_order=True), rows
        ).all()
        return [replace(b, id=i) for b, i in zip(new, ids, strict=True)]

    def count_brands(self) -> int:
        return self.conn.scalar(select(func.count()).select_from(brands)) or 0

    def brand(self, brand_id: int) -> Brand | None:
        row = self.conn.execute(select(brands).where(brands.c.id == brand_id)).first()
        return _brand(row) if row else None

    def brand_named(self, name: str) -> Brand | None:
        row = self.conn.execute(
            select(brands).where(func.lower(brands.c.name) == name.lower())
        ).first()
        return _brand(row) if row else None

    def brands_by_id(self, brand_ids: Iterable[int]) -> dict[int, Brand]:
        ids = list(set(brand_ids))
        rows = self.conn.execute(select(brands).where(id_in(brands.c.id, ids))).all() if ids else []
        return {row.id: _brand(row) for row in rows}

    def list_brands(self, *, tier: BrandTier | None, after_id: int | None, limit: int) -> list[Brand]:
        query = select(brands).order_by(brands.c.id).limit(limit)
        if tier is not None:
            query = query.where(brands.c.tier == tier.value)
        if after_id is not None:
            query = query.where(brands.c.id > after_id)
        return [_brand(row) for row in self.conn.execute(query)]

    def approve_brand(self, brand_id: int) -> None:
        self.conn.execute(update(brands).where(brands.c.id == brand_id).values(approved=True))

    # merchants
    def add_merchants(self, new: Sequence[Merchant]) -> list[Merchant]:
        rows = [{"name": m.name, "kind": m.kind.value, "settlement_currency": m.settlement_currency,
                 "city": m.city} for m in new]
        ids = self.conn.scalars(
            insert(merchants).returning(merchants.c.id, sort_by_parameter_order=True), rows
        ).all()
        saved = [replace(m, id=i) for m, i in zip(new, ids, strict=True)]
        links = [{"merchant_id": m.id, "brand_id": b} for m in saved for b in sorted(m.brand_ids)]
        if links:
            self.conn.execute(insert(merchant_brands), links)
        self.conn.execute(insert(stores), [
            {"merchant_id": m.id, "name": m.name, "kind": m.kind.value, "city": m.city}
            for m in saved
        ])
        return saved

    def merchant(self, merchant_id: int) -> Merchant | None:
        return self.merchants_by_id([merchant_id]).get(merchant_id)

    def merchants_by_id(self, merchant_ids: Iterable[int]) -> dict[int, Merchant]:
        ids = sorted(set(merchant_ids))
        if not ids:
            return {}
        rows = self.conn.execute(select(merchants).where(id_in(merchants.c.id, ids))).all()
        links = self.conn.execute(
            select(merchant_brands).where(id_in(merchant_brands.c.merchant_id, ids))
        ).all()
        sold: dict[int, set[int]] = {}
        for link in links:
            sold.setdefault(link.merchant_id, set()).add(link.brand_id)
        return {
            r.id: Merchant(r.name, MerchantKind(r.kind), r.settlement_currency,
                           frozenset(sold.get(r.id, ())), r.city, r.id)
            for r in rows
        }

    # categories
    def add_category(self, category: Category) -> Category:
        new_id = self.conn.execute(
            insert(categories).values(slug=category.slug, name=category.name,
                                      name_zh=category.name_zh, parent_id=category.parent_id)
        ).inserted_primary_key[0]  # type: ignore[index]  # set by every INSERT
        return Category(category.slug, category.name, category.name_zh, category.parent_id, new_id)

    def all_categories(self) -> list[Category]:
        rows = self.conn.execute(select(categories).order_by(categories.c.id))
        return [_category(row) for row in rows]

    def category_by_slug(self, slug: str) -> Category | None:
        row = self.conn.execute(select(categories).where(categories.c.slug == slug)).first()
        return _category(row) if row else None

    # products
    def add_products(self, listed: Sequence[tuple[Product, str]]) -> list[Product]:
        """Store products with their search text; each comes back with its id and SKU ids."""
        product_id, sku_id = self._next_ids()
        stored: list[Product] = []
        rows: list[dict[str, Any]] = []
        sku_rows: list[dict[str, Any]] = []
        for product, search in listed:
            product_skus = tuple(Sku(s.code, s.price, sku_id + i, s.name_zh)
                                 for i, s in enumerate(product.skus))
            with_ids = replace(product, id=product_id, skus=product_skus)
            stored.append(with_ids)
            rows.append(_product_row(with_ids, search))
            sku_rows.extend(_sku_row(product_id, s) for s in product_skus)
            product_id, sku_id = product_id + 1, sku_id + len(product_skus)
        bulk_insert(self.conn, products, rows)
        bulk_insert(self.conn, skus, sku_rows)
        if self.dialect == "sqlite":
            self.conn.exec_driver_sql(
                "INSERT INTO product_search(rowid, search_text) VALUES (?, ?)",
                [(r["id"], r["search_text"]) for r in rows],
            )
        return stored

    def _next_ids(self) -> tuple[int, int]:
        # A batch takes consecutive ids under the write lock (SQLite) or a table lock
        # (PostgreSQL), so SKUs refer to their product without a round trip per row.
        if self.dialect == "postgresql":
            self.conn.execute(text("LOCK TABLE products, skus IN SHARE ROW EXCLUSIVE MODE"))
        last_product = self.conn.scalar(select(func.max(products.c.id))) or 0
        last_sku = self.conn.scalar(select(func.max(skus.c.id))) or 0
        return last_product + 1, last_sku + 1

    def refresh_statistics(self) -> None:
        """After a bulk load, let the query planner see the new shape of the tables."""
        if self.dialect == "postgresql":
            self.conn.execute(text("ANALYZE products, skus, brands"))
        else:
            self.conn.execute(text("ANALYZE"))

    def product(self, product_id: int) -> Product | None:
        found = self.products_by_id([product_id])
        return found[0] if found else None

    def products_by_id(self, product_ids: Sequence[int]) -> list[Product]:
        if not product_ids:
            return []
        rows = self.conn.execute(select(products).where(products.c.id.in_(product_ids))).all()
        sku_rows = self.conn.execute(
            select(skus).where(skus.c.product_id.in_(product_ids)).order_by(skus.c.id)
        ).all()
        by_product: dict[int, list[Sku]] = {}
        for s in sku_rows:
            by_product.setdefault(s.product_id, []).append(
                Sku(s.code, Money(s.price_minor, s.currency), s.id, s.name_zh))
        found = {row.id: _product(row, by_product.get(row.id, [])) for row in rows}
        return [found[i] for i in product_ids if i in found]

    def update_product(self, product: Product, search: str) -> None:
        assert product.id is not None
        if self.dialect == "sqlite":
            # An external-content FTS5 index forgets a row only when told its old text.
            old = self.conn.scalar(select(products.c.search_text).where(products.c.id == product.id))
            self.conn.execute(
                text("INSERT INTO product_search(product_search, rowid, search_text) "
                     "VALUES ('delete', :id, :old)"),
                {"id": product.id, "old": old},
            )
            self.conn.execute(
                text("INSERT INTO product_search(rowid, search_text) VALUES (:id, :s)"),
                {"id": product.id, "s": search},
            )
        self.conn.execute(
            update(products).where(products.c.id == product.id).values(
                title=product.title, title_zh=product.title_zh, debut_at=product.debut_at,
                category_id=product.category_id, search_text=search,
            )
        )

    def sku_owner(self, sku_id: int) -> tuple[int, int] | None:
        """(product id, merchant id) of a SKU."""
        row = self.conn.execute(
            select(products.c.id, products.c.merchant_id)
            .join(skus, skus.c.product_id == products.c.id)
            .where(skus.c.id == sku_id)
        ).first()
        return (row[0], row[1]) if row else None

    def skus_for_sale(self, sku_ids: Iterable[int]) -> dict[int, SkuForSale]:
        rows = self.conn.execute(
            select(skus.c.id, skus.c.price_minor, skus.c.currency, products.c.id.label("product_id"),
                   products.c.merchant_id, products.c.brand_id, products.c.brand_tier,
                   products.c.category_id, products.c.title, products.c.fulfilment,
                   merchants.c.settlement_currency, products.c.title_zh, skus.c.code, skus.c.name_zh)
            .join(products, products.c.id == skus.c.product_id)
            .join(merchants, merchants.c.id == products.c.merchant_id)
            .where(id_in(skus.c.id, sku_ids))
        )
        return {r.id: SkuForSale(
            sku_id=r.id, product_id=r.product_id, merchant_id=r.merchant_id,
            settlement_currency=r.settlement_currency, brand_id=r.brand_id,
            brand_tier=BrandTier(r.brand_tier), category_id=r.category_id, title=r.title,
            fulfilment=Fulfilment(r.fulfilment), price=Money(r.price_minor, r.currency),
            title_zh=r.title_zh, option=r.code, option_zh=r.name_zh,
        ) for r in rows}

    def count_debuts(self, *, since: Any, until: Any) -> int:
        return self.conn.scalar(
            select(func.count()).select_from(products)
            .where(products.c.debut_at >= since, products.c.debut_at <= until)
        ) or 0

    def newest_debuts(self, *, since: Any, until: Any, limit: int) -> list[Product]:
        ids = self.conn.scalars(
            select(products.c.id)
            .where(products.c.debut_at >= since, products.c.debut_at <= until)
            .order_by(products.c.debut_at.desc(), products.c.id.desc())
            .limit(limit)
        ).all()
        return self.products_by_id(list(ids))


def _sku_row(product_id: int, sku: Sku) -> dict[str, Any]:
    return {"id": sku.id, "product_id": product_id, "code": sku.code,
            "price_minor": sku.price.minor, "currency": sku.price.currency, "name_zh": sku.name_zh}


def _product_row(product: Product, search: str) -> dict[str, Any]:
    price = product.from_price
    return {
        "id": product.id, "merchant_id": product.merchant_id, "brand_id": product.brand_id,
        "category_id": product.category_id, "title": product.title, "title_zh": product.title_zh,
        "fulfilment": product.fulfilment.value, "debut_at": product.debut_at,
        "brand_tier": product.brand_tier.value, "currency": price.currency,
        "price_minor": price.minor, "search_text": search,
    }


def _product(row: Row[Any], product_skus: list[Sku]) -> Product:
    return Product(
        merchant_id=row.merchant_id, brand_id=row.brand_id, category_id=row.category_id,
        title=row.title, fulfilment=Fulfilment(row.fulfilment), debut_at=row.debut_at,
        skus=tuple(product_skus), title_zh=row.title_zh, brand_tier=BrandTier(row.brand_tier),
        id=row.id,
    )


# --- the control room's lists (operators): bounded pages, newest rules untouched above ----------

def find_brands(conn: Connection, *, words: str | None, tier: BrandTier | None, after_id: int | None,
                limit: int) -> list[Brand]:
    """Brands by id, those whose name holds `words` (either language), of one tier."""
    query = select(brands).order_by(brands.c.id).limit(limit)
    if words:
        pattern = "%" + words.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(func.lower(brands.c.name).like(pattern, escape="\\")
                            | func.lower(brands.c.name_zh).like(pattern, escape="\\"))
    if tier is not None:
        query = query.where(brands.c.tier == tier.value)
    if after_id is not None:
        query = query.where(brands.c.id > after_id)
    return [_brand(row) for row in conn.execute(query)]


def brands_awaiting_approval(conn: Connection, *, limit: int) -> list[Brand]:
    """Luxury brands no operator has approved yet, oldest first (the tier's index narrows them)."""
    query = (select(brands).where(brands.c.tier == BrandTier.LUXURY.value, brands.c.approved.is_(False))
             .order_by(brands.c.id).limit(limit))
    return [_brand(row) for row in conn.execute(query)]


def merchant_page(conn: Connection, *, after_id: int | None, limit: int) -> list[int]:
    """The ids of a page of merchants, by id."""
    query = select(merchants.c.id).order_by(merchants.c.id).limit(limit)
    if after_id is not None:
        query = query.where(merchants.c.id > after_id)
    return list(conn.scalars(query))


def newest_skus(conn: Connection, *, limit: int) -> list[int]:
    """The ids of the newest SKUs of regular-tier shipped goods (the storefront's plainest goods)."""
    query = (select(skus.c.id).join(products, products.c.id == skus.c.product_id)
             .where(products.c.brand_tier == BrandTier.REGULAR.value,
                    products.c.fulfilment == Fulfilment.SHIPPED.value)
             .order_by(skus.c.id.desc()).limit(limit))
    return list(conn.scalars(query))


# A product's picture, one per product: the keys of its thumbnails in the picture storage (images.py).
product_images = Table(
    "product_images",
    metadata,
    Column("product_id", Id, ForeignKey("products.id"), primary_key=True, autoincrement=False),
    Column("card_key", String(200), nullable=False),
    Column("page_key", String(200), nullable=False),
    Column("uploaded_at", UtcDateTime, nullable=False),
)


class ImageStore:
    """The rows naming each product's picture."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def of(self, product_ids: Sequence[int]) -> dict[int, tuple[str, str]]:
        """(card key, page key) of each of these products that has a picture."""
        if not product_ids:
            return {}
        rows = self.conn.execute(select(product_images).where(id_in(product_images.c.product_id,
                                                                    list(product_ids))))
        return {r.product_id: (r.card_key, r.page_key) for r in rows}

    def put(self, product_id: int, *, card_key: str, page_key: str, at: Any) -> None:
        self.conn.execute(product_images.delete().where(product_images.c.product_id == product_id))
        self.conn.execute(insert(product_images).values(product_id=product_id, card_key=card_key,
                                                        page_key=page_key, uploaded_at=at))

    def count_products_of(self, merchant_id: int) -> int:
        return self.conn.scalar(select(func.count()).select_from(products)
                                .where(products.c.merchant_id == merchant_id)) or 0

    def skus_of(self, merchant_id: int, product_ids: Sequence[int]) -> list[tuple[int, str, int, str]]:
        """(SKU id, code, product id, title) of the merchant's SKUs among these products."""
        rows = self.conn.execute(
            select(skus.c.id, skus.c.code, products.c.id.label("product_id"), products.c.title)
            .join(products, products.c.id == skus.c.product_id)
            .where(products.c.merchant_id == merchant_id, id_in(products.c.id, list(product_ids)))
            .order_by(products.c.id.desc(), skus.c.id))
        return [(r.id, r.code, r.product_id, r.title) for r in rows]

    def all_sku_ids_of(self, merchant_id: int) -> list[int]:
        return list(self.conn.scalars(
            select(skus.c.id).join(products, products.c.id == skus.c.product_id)
            .where(products.c.merchant_id == merchant_id)))


def sale_facts_of(conn: Connection, product_ids: Sequence[int]) -> list[Row[Any]]:
    """(id, brand_id, brand, brand_tier, category_id, category, debut_at) of the products among
    `product_ids`, in one read: a payment's sale event asks for them inside the payment's transaction."""
    if not product_ids:
        return []
    return list(conn.execute(
        select(products.c.id, products.c.brand_id, brands.c.name.label("brand"), products.c.brand_tier,
               products.c.category_id, categories.c.name.label("category"), products.c.debut_at)
        .select_from(products.outerjoin(brands, brands.c.id == products.c.brand_id)
                     .outerjoin(categories, categories.c.id == products.c.category_id))
        .where(products.c.id.in_(list(product_ids)))))
