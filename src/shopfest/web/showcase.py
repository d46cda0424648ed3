"""Products as the pages show them: cards in a grid, and the full sheet of one product."""

from __future__ import annotations

from dataclasses import dataclass, replace

from shopfest.catalog import service as catalog
from shopfest.catalog.model import BrandTier, Category, Product
from shopfest.core.money import Money
from shopfest.runtime import Runtime
from shopfest.web.deals import Deal, deal_of, unit_price_now
from shopfest.web.sellers import SellerView, seller_view
from shopfest.web.viewer import Viewer

# Warm festival hues for the cards' title tiles (there are no product photos in the catalog yet);
# site.css has a class for each (.hue-4 ...), since the pages allow no inline style.
TILE_HUES = (4, 18, 28, 345, 12, 34, 355, 24)


@dataclass(frozen=True)
class PriceView:
    text: str
    approx: str | None


@dataclass(frozen=True)
class ProductCard:
    url: str
    title: str
    initial: str
    hue: int
    price: PriceView  # the lowest of its SKUs' prices
    several_options: bool
    category: str
    luxury: bool
    new: bool
    image_url: str | None = None  # its picture's card thumbnail; the letter tile when None
    festival_price: PriceView | None = None  # the lowest a unit costs now, when below the list price
    sold_out: bool = False  # no SKU has a unit left


@dataclass(frozen=True)
class SkuView:
    code: str
    price: PriceView
    stock: int
    id: int = 0
    deal: Deal | None = None  # what the festival's promotions make of one unit now
    option: str = ""  # the option's name in the viewer's language (the code where it has none)


@dataclass(frozen=True)
class ProductSheet:
    id: int
    title: str
    brand: str
    luxury: bool
    category: str
    category_slug: str
    fulfilment: str
    fulfilment_explained: str
    debut: str
    new: bool
    price: PriceView
    skus: list[SkuView]
    image_url: str | None = None  # its picture, as large as the page shows it
    seller: SellerView | None = None


def price_view(money: Money, viewer: Viewer) -> PriceView:
    return PriceView(viewer.money(money), viewer.approx(money))


def categories_by_slug(runtime: Runtime) -> dict[str, Category]:
    return {c.slug: c for c in catalog.all_categories(runtime.uow(read_only=True))}


def product_cards(runtime: Runtime, products: list[Product], viewer: Viewer, *,
                  shopper_id: int | None = None) -> list[ProductCard]:
    if not products:
        return []
    categories = categories_by_slug(runtime)
    pictures = catalog.product_images(runtime.uow(read_only=True), [p.id or 0 for p in products])
    return [_with_festival_price(runtime, replace(_card(shown, categories.get(shown.category), viewer),
                                                  image_url=media_url(pictures[shown.product.id].card_key)
                                                  if shown.product.id in pictures else None),
                                 shown, viewer, shopper_id)
            for shown in listed(runtime, products)]


def media_url(key: str) -> str:
    """Where a picture of the storage is served (web/seller_pages.py, GET /media/{key})."""
    return f"/media/{key}"


def _with_festival_price(runtime: Runtime, card: ProductCard, shown: catalog.Listed, viewer: Viewer,
                         shopper_id: int | None) -> ProductCard:
    """The card with what one unit costs now, priced as the product page and the cart price it
    (the lowest over the SKUs with units left), and whether every SKU is sold out."""
    on_sale = [s for s in shown.product.skus if shown.stock.get(s.id or 0, 0) > 0]
    if not on_sale:
        return replace(card, sold_out=True)
    prices = [p for s in on_sale if (p := unit_price_now(runtime, s.id or 0, shopper_id=shopper_id))]
    lowest = min(prices, key=lambda p: p.minor) if prices else None
    listed_at = min((s.price for s in on_sale), key=lambda p: p.minor)  # of what can be bought
    if lowest is None or lowest.currency != listed_at.currency or lowest.minor >= listed_at.minor:
        return card
    return replace(card, festival_price=price_view(lowest, viewer), price=price_view(listed_at, viewer))


def listed(runtime: Runtime, products: list[Product]) -> list[catalog.Listed]:
    return catalog.listed(runtime.uow(read_only=True), products, stock_of=runtime.ports.available_stock,
                          festival_start=runtime.ports.festival_start)


def _card(shown: catalog.Listed, category: Category | None, viewer: Viewer) -> ProductCard:
    product, product_id = shown.product, shown.product.id or 0
    title = viewer.name(product.title, product.title_zh)
    return ProductCard(
        url=f"/products/{product_id}", title=title, initial=title[:1].upper(),
        hue=TILE_HUES[product_id % len(TILE_HUES)],
        price=price_view(product.from_price, viewer), several_options=len(product.skus) > 1,
        category=viewer.name(category.name, category.name_zh) if category else shown.category,
        luxury=product.brand_tier is BrandTier.LUXURY, new=shown.new,
    )


def product_sheet(runtime: Runtime, product_id: int, *, viewer: Viewer, zone_name: str,
                  shopper_id: int | None = None) -> ProductSheet:
    """Everything the product page shows, its deals priced for the shopper looking. Raises NotFound."""
    uow = runtime.uow(read_only=True)
    shown = listed(runtime, [catalog.get_product(uow, product_id)])[0]
    product = shown.product
    brand = catalog.get_brand(uow, product.brand_id)
    merchant = catalog.merchants_by_id(uow, [product.merchant_id]).get(product.merchant_id)
    category = categories_by_slug(runtime).get(shown.category)
    t = viewer.t
    picture = catalog.product_images(uow, [product_id]).get(product_id)
    return ProductSheet(
        id=product.id or 0, title=viewer.name(product.title, product.title_zh),
        brand=viewer.name(brand.name, brand.name_zh), luxury=product.brand_tier is BrandTier.LUXURY,
        category=viewer.name(category.name, category.name_zh) if category else shown.category,
        category_slug=shown.category,
        fulfilment=t(f"fulfilment.{product.fulfilment.value}"),
        fulfilment_explained=t(f"explain.{product.fulfilment.value}"),
        debut=viewer.when(product.debut_at, zone_name), new=shown.new,
        price=price_view(product.from_price, viewer),
        skus=[SkuView(s.code, price_view(s.price, viewer), shown.stock[s.id or 0], s.id or 0,
                      deal_of(runtime, s.id or 0, viewer, zone_name=zone_name, shopper_id=shopper_id),
                      option=viewer.name(s.code, s.name_zh))
              for s in product.skus],
        image_url=media_url(picture.page_key) if picture else None,
        seller=seller_view(merchant, viewer),
    )
