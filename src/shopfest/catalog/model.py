"""The catalog's rules: brands and their tiers, merchants, categories, products, SKUs, debuts."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from functools import lru_cache

from shopfest.core.errors import Conflict, InvalidInput
from shopfest.core.money import Money

MAX_SKUS = 50
MAX_STOCK = 1_000_000_000
MAX_TITLE = 200
PAGE_LIMIT_MAX = 100
PAGE_LIMIT_DEFAULT = 20


class BrandTier(StrEnum):
    REGULAR = "regular"
    LUXURY = "luxury"  # the luxury pavilion: curated, approved by an operator


class MerchantKind(StrEnum):
    ONLINE = "online"
    OFFLINE = "offline"  # a shop with a counter, selling with in-store QR payment
    LOCAL = "local"  # a local service provider selling vouchers


class Fulfilment(StrEnum):
    SHIPPED = "shipped"
    DEPOSIT_VOUCHER = "deposit_voucher"  # pay a deposit online, finish the deal at a dealer
    SERVICE_VOUCHER = "service_voucher"  # redeemed at a service provider


class BrandNotApproved(Conflict):
    code = "brand-not-approved"
    title = "The luxury brand awaits an operator's approval"


class BrandNotSold(InvalidInput):
    code = "brand-not-sold"
    title = "The merchant does not sell this brand"


@dataclass(frozen=True, slots=True)
class Brand:
    name: str
    tier: BrandTier
    approved: bool
    name_zh: str | None = None
    id: int | None = None


def new_brand(name: str, tier: BrandTier, *, name_zh: str | None = None) -> Brand:
    """A regular brand is open at once; a luxury brand waits for an operator's approval."""
    return Brand(
        name=_title(name, "brand name"), tier=tier, approved=tier is BrandTier.REGULAR,
        name_zh=_optional_title(name_zh, "Chinese brand name"),
    )


@dataclass(frozen=True, slots=True)
class Merchant:
    name: str
    kind: MerchantKind
    settlement_currency: str
    brand_ids: frozenset[int]
    city: str | None = None
    id: int | None = None

    def sells(self, brand_id: int) -> bool:
        return brand_id in self.brand_ids


@dataclass(frozen=True, slots=True)
class Category:
    slug: str
    name: str
    name_zh: str | None = None
    parent_id: int | None = None
    id: int | None = None


_SLUG = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


def check_slug(slug: str) -> str:
    if not _SLUG.match(slug) or len(slug) > 60:
        raise InvalidInput(f"{slug!r} is not a slug (lower-case words joined by hyphens)")
    return slug


def descendants(categories: list[Category], root_id: int) -> set[int]:
    """`root_id` and every category below it in the tree."""
    children: dict[int | None, list[int]] = {}
    for c in categories:
        if c.id is not None:
            children.setdefault(c.parent_id, []).append(c.id)
    found, frontier = {root_id}, [root_id]
    while frontier:
        for child in children.get(frontier.pop(), []):
            if child not in found:
                found.add(child)
                frontier.append(child)
    return found


@dataclass(frozen=True, slots=True)
class Sku:
    code: str
    price: Money
    id: int | None = None
    name_zh: str | None = None  # the option as a Chinese page names it ("黑色"); the code otherwise


@dataclass(frozen=True, slots=True)
class SkuDraft:
    code: str
    price: Money
    stock: int
    name_zh: str | None = None


@dataclass(frozen=True)
class Product:
    merchant_id: int
    brand_id: int
    category_id: int
    title: str
    fulfilment: Fulfilment
    debut_at: datetime
    skus: tuple[Sku, ...]
    title_zh: str | None = None
    brand_tier: BrandTier = BrandTier.REGULAR
    id: int | None = None

    @property
    def from_price(self) -> Money:
        return min(self.skus, key=lambda s: s.price.minor).price

    def is_new(self, *, since: datetime, now: datetime) -> bool:
        """Debuted this festival: on or after `since` and not in the future."""
        return since <= self.debut_at <= now


@dataclass(frozen=True, slots=True)
class SkuForSale:
    """What checkout needs to know of one SKU: who sells it, what it is, its list price."""

    sku_id: int
    product_id: int
    merchant_id: int
    settlement_currency: str
    brand_id: int
    brand_tier: BrandTier
    category_id: int
    title: str
    fulfilment: Fulfilment
    price: Money
    title_zh: str | None = None
    option: str = ""  # the SKU's code, which names the option
    option_zh: str | None = None


@dataclass(frozen=True)
class ProductDraft:
    """What a merchant lists: checked whole before anything is stored."""

    title: str
    brand_id: int
    category_id: int
    fulfilment: Fulfilment
    debut_at: datetime
    skus: tuple[SkuDraft, ...]
    title_zh: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "title", _title(self.title, "title"))
        object.__setattr__(self, "title_zh", _optional_title(self.title_zh, "Chinese title"))
        check_skus(self.skus)

    @property
    def currency(self) -> str:
        return self.skus[0].price.currency


def revise(
    product: Product, *, title: str | None = None, title_zh: str | None = None,
    debut_at: datetime | None = None, category_id: int | None = None,
) -> Product:
    """The product with the given fields changed, checked as at listing; None keeps a field."""
    return replace(
        product,
        title=_title(title, "title") if title is not None else product.title,
        title_zh=_optional_title(title_zh, "Chinese title") if title_zh is not None
        else product.title_zh,
        debut_at=debut_at or product.debut_at,
        category_id=category_id or product.category_id,
    )


def check_skus(skus: tuple[SkuDraft, ...]) -> None:
    """1–50 SKUs, unique codes, one currency, prices and stock not negative. Raises InvalidInput."""
    if not 1 <= len(skus) <= MAX_SKUS:
        raise InvalidInput(f"a product has 1 to {MAX_SKUS} SKUs, got {len(skus)}")
    codes = [s.code for s in skus]
    if len(set(codes)) != len(codes):
        raise InvalidInput("SKU codes must be unique within a product", codes=codes)
    if len({s.price.currency for s in skus}) > 1:
        raise InvalidInput("all SKUs of a product are priced in one currency")
    for sku in skus:
        if not sku.code.strip() or len(sku.code) > 64:
            raise InvalidInput("a SKU code is 1 to 64 characters", code=sku.code)
        if sku.name_zh is not None and len(sku.name_zh) > 64:
            raise InvalidInput("a SKU's Chinese name is at most 64 characters", code=sku.code)
        if sku.price.is_negative:
            raise InvalidInput(f"SKU {sku.code} has a negative price", code=sku.code)
        if not 0 <= sku.stock <= MAX_STOCK:
            raise InvalidInput(f"SKU {sku.code} stock must be 0 to {MAX_STOCK}", code=sku.code)


def check_listing(merchant: Merchant, brand: Brand) -> None:
    """A merchant lists only brands it sells, and a luxury brand only once approved."""
    if brand.id is None or not merchant.sells(brand.id):
        raise BrandNotSold(f"{merchant.name} does not sell brand {brand.name}", brand_id=brand.id)
    if not brand.approved:
        raise BrandNotApproved(f"brand {brand.name} is not approved yet", brand_id=brand.id)


# The form field each title is written in, named in its error so a form shows it beside the field.
_TITLE_FIELDS = {"title": "title", "Chinese title": "title_zh"}


def _title(text: str, what: str) -> str:
    cleaned = " ".join(text.split()) if isinstance(text, str) else ""
    if not cleaned or len(cleaned) > MAX_TITLE:
        raise InvalidInput(f"the {what} must be 1 to {MAX_TITLE} characters",
                           **({"field": _TITLE_FIELDS[what]} if what in _TITLE_FIELDS else {}))
    return cleaned


def _optional_title(text: str | None, what: str) -> str | None:
    return None if text is None or not text.strip() else _title(text, what)


# --- search ---------------------------------------------------------------------------------

# A Han character is a word of its own (so any run of Chinese matches); other letters and digits
# form words. The ranges are the CJK unified ideographs, their extensions and compatibility forms.
_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
_TOKEN = re.compile(f"[{_HAN}]|[^\\W_{_HAN}]+")


@lru_cache(maxsize=65_536)
def search_tokens(text: str) -> tuple[str, ...]:
    """Words folded to lower case; Chinese is split into single characters, so any run matches."""
    return tuple(_TOKEN.findall(unicodedata.normalize("NFKC", text).casefold()))


def search_text(*parts: str | None) -> str:
    """The text a product is found by: its titles, brand and category names, tokenised."""
    return " ".join(t for part in parts if part for t in search_tokens(part))


def words_of(title: str, title_zh: str | None, brand: Brand, category: Category) -> str:
    """What a product is found by: its titles, its brand's names and its category's names."""
    return search_text(title, title_zh, brand.name, brand.name_zh, category.name, category.name_zh)


class ProductSort(StrEnum):
    """The orders a search lists in. Relevance is the catalog's own: every word must match (there is
    no ranking), so among the matches the newest listed come first."""

    RELEVANCE = "relevance"
    NEWEST = "newest"  # latest debut first
    PRICE_UP = "price_up"  # lowest list price first
    PRICE_DOWN = "price_down"


@dataclass(frozen=True)
class ProductQuery:
    """A storefront search: words, filters and a cursor. Every product found matches all of them."""

    words: tuple[str, ...] = ()
    category_ids: frozenset[int] | None = None
    brand_id: int | None = None
    tier: BrandTier | None = None
    fulfilment: Fulfilment | None = None
    debuted_between: tuple[datetime, datetime] | None = None
    min_price: Money | None = None
    max_price: Money | None = None
    after_id: int | None = None
    limit: int = PAGE_LIMIT_DEFAULT
    merchant_id: int | None = None
    sort: ProductSort = ProductSort.RELEVANCE
    # A sorted search's cursor: the last product's sort value (price minor units, or debut in
    # microseconds since the epoch) beside its id in after_id.
    after_key: int | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= PAGE_LIMIT_MAX:
            raise InvalidInput(f"limit must be 1 to {PAGE_LIMIT_MAX}", limit=self.limit)
        if self.min_price and self.max_price and self.min_price > self.max_price:
            raise InvalidInput("min_price is above max_price")
        if len(self.words) > 8:
            raise InvalidInput("search with at most 8 words")

    @property
    def price_currency(self) -> str | None:
        bound = self.min_price or self.max_price
        return bound.currency if bound else None


@dataclass(frozen=True)
class Page:
    items: list[Product] = field(default_factory=list)
    next_after_id: int | None = None
    next_after_key: int | None = None  # a sorted search's: see ProductQuery.after_key
