"""The demo festival's data: generated, deterministic and fictional, in English and Chinese."""

from __future__ import annotations

import colorsys
import io
import math
import random
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from shopfest.catalog import service as catalog
from shopfest.catalog.model import (
    Brand,
    BrandTier,
    Category,
    Fulfilment,
    Merchant,
    MerchantKind,
    Product,
    ProductDraft,
    ProductQuery,
    Sku,
    SkuDraft,
)
from shopfest.core.actor import MACHINE, Actor, Role
from shopfest.core.clock import HOME_ZONE, as_utc, zone
from shopfest.core.db import chunks
from shopfest.core.money import Money
from shopfest.festival import service as festival
from shopfest.festival.model import Festival, festival_year_for
from shopfest.inventory import service as inventory
from shopfest.inventory.model import FlashSale
from shopfest.live import service as live
from shopfest.live.model import LiveEvent, Segment, SegmentKind
from shopfest.local import cities
from shopfest.local import service as local
from shopfest.local.model import DAYS, Deal, DealKind, Shop, ShopKind, point
from shopfest.local.model import hours as opening_hours
from shopfest.promotions import service as promotions
from shopfest.promotions.offers import Campaign, CouponIssue, Period
from shopfest.runtime import Runtime

Progress = Callable[[str, int], None]  # (what, how many more done)


@dataclass(frozen=True)
class Shelf:
    """A category and what sells in it: nouns, a price range in CNY, how it is fulfilled."""

    slug: str
    name: str
    name_zh: str
    parent: str | None
    nouns: tuple[tuple[str, str], ...] = ()
    price_range: tuple[int, int] = (0, 0)
    fulfilment: Fulfilment = Fulfilment.SHIPPED


SHELVES = (
    Shelf("apparel", "Apparel", "服饰", None),
    Shelf("womenswear", "Womenswear", "女装", "apparel",
          (("Dress", "连衣裙"), ("Wool Coat", "羊毛大衣"), ("Silk Scarf", "真丝围巾")), (129, 2999)),
    Shelf("menswear", "Menswear", "男装", "apparel",
          (("Jacket", "夹克"), ("Oxford Shirt", "牛津衬衫"), ("Sneakers", "运动鞋")), (99, 1999)),
    Shelf("beauty", "Beauty", "美妆", None),
    Shelf("skincare", "Skincare", "护肤", "beauty",
          (("Serum", "精华液"), ("Night Cream", "晚霜"), ("Sun Lotion", "防晒乳")), (89, 1599)),
    Shelf("makeup", "Makeup", "彩妆", "beauty",
          (("Lipstick", "口红"), ("Eye Palette", "眼影盘")), (69, 899)),
    Shelf("electronics", "Electronics", "数码家电", None),
    Shelf("phones", "Phones", "手机", "electronics",
          (("Smartphone", "智能手机"), ("Earbuds", "无线耳机")), (199, 8999)),
    Shelf("computers", "Computers", "电脑", "electronics",
          (("Laptop", "笔记本电脑"), ("Tablet", "平板电脑")), (1999, 15999)),
    Shelf("appliances", "Appliances", "家电", "electronics",
          (("Robot Vacuum", "扫地机器人"), ("Air Fryer", "空气炸锅")), (299, 4999)),
    Shelf("groceries", "Groceries", "食品生鲜", None,
          (("Oolong Tea", "乌龙茶"), ("Coffee Beans", "咖啡豆"), ("Jasmine Rice", "茉莉香米")),
          (19, 399)),
    Shelf("watches-jewellery", "Watches & Jewellery", "钟表珠宝", None,
          (("Watch", "腕表"), ("Necklace", "项链")), (999, 59999)),
    Shelf("home-decoration", "Home Decoration", "家装", None,
          (("Sofa", "沙发"), ("Floor Lamp", "落地灯"), ("Kitchen Makeover", "厨房翻新")),
          (399, 39999)),
    Shelf("automobiles", "Automobiles", "汽车", None,
          (("Sedan", "轿车"), ("SUV", "越野车"), ("Electric Hatchback", "电动掀背车")),
          (89999, 399999), Fulfilment.DEPOSIT_VOUCHER),
    Shelf("apartments", "Apartments", "房产", None,
          (("Two-Bedroom Apartment", "两居室公寓"), ("Riverside Loft", "江景复式")),
          (1500000, 6800000), Fulfilment.DEPOSIT_VOUCHER),
    Shelf("services", "Local Services", "生活服务", None),
    Shelf("dining", "Dining", "餐饮美食", "services",
          (("Hotpot Set Meal", "火锅套餐"), ("Dim Sum Brunch", "早茶点心")), (59, 599),
          Fulfilment.SERVICE_VOUCHER),
    Shelf("wellness", "Wellness", "休闲养生", "services",
          (("Spa Massage", "水疗按摩"), ("Yoga Class Pass", "瑜伽课卡")), (99, 1999),
          Fulfilment.SERVICE_VOUCHER),
    Shelf("home-services", "Home Services", "家政服务", "services",
          (("Deep Cleaning", "深度保洁"), ("Aircon Service", "空调清洗")), (99, 899),
          Fulfilment.SERVICE_VOUCHER),
)

ADJECTIVES = (("Aurora", "极光"), ("Cloud", "云朵"), ("Jade", "翡翠"), ("Midnight", "午夜"),
              ("Lotus", "莲花"), ("Harbour", "港湾"), ("Summit", "峰顶"), ("Velvet", "丝绒"),
              ("Ember", "余烬"), ("Tide", "潮汐"), ("Bamboo", "竹影"), ("Comet", "彗星"))
EDITIONS = (("", ""), (" Pro", "专业版"), (" Lite", "轻享版"), (" 11.11 Edition", "双十一限定"),
            (" Classic", "经典款"), (" Max", "旗舰版"))
SYLLABLES = ("lu", "mi", "ra", "so", "ka", "no", "va", "ori", "te", "zen", "ar", "bri", "cai", "do",
             "eli", "fen", "ga", "ha", "iri", "jas", "ko", "lin", "mar", "nel", "pa", "qi", "ros",
             "sa", "tu", "wei")
HANZI = ("露", "米", "拉", "索", "卡", "诺", "瓦", "奥", "特", "禅", "阿", "布", "彩", "朵",
         "依", "芬", "嘉", "哈", "艾", "佳", "柯", "林", "玛", "妮", "帕", "奇", "蔷", "莎", "途",
         "薇")
SUFFIXES = (("", ""), (" Atelier", "工坊"), (" Labs", "实验室"), (" Home", "家居"),
            (" & Co", "商行"), (" Studio", "工作室"), (" Maison", "之家"), (" Outfitters", "服饰"),
            (" Works", "制造"), (" Garden", "花园"))
CITIES = ("Shanghai", "Hangzhou", "Beijing", "Shenzhen", "Chengdu", "Guangzhou", "Wuhan", "Xi'an")
LUXURY_SHARE = 100  # one brand in a hundred is luxury (about 200 of the real festival's brands)


def brand_name(index: int) -> tuple[str, str]:
    """A unique fictional brand name for every index, in English and Chinese."""
    n = len(SYLLABLES)
    a, b, c = index % n, (index // n) % n, (index // n // n) % n
    suffix, rest = SUFFIXES[(index // n**3) % len(SUFFIXES)], index // (n**3 * len(SUFFIXES))
    english = (SYLLABLES[a] + SYLLABLES[b] + SYLLABLES[c]).capitalize() + suffix[0]
    chinese = HANZI[a] + HANZI[b] + HANZI[c] + suffix[1]
    if rest:
        english, chinese = f"{english} {rest + 1}", f"{chinese}{rest + 1}"
    return english, chinese


def demo_brands(count: int, *, first: int = 0) -> list[Brand]:
    """`count` brands from name number `first` on; one in a hundred is luxury."""
    brands = []
    for i in range(first, first + count):
        name, name_zh = brand_name(i)
        luxury = i % LUXURY_SHARE == LUXURY_SHARE - 1
        brands.append(Brand(name, BrandTier.LUXURY if luxury else BrandTier.REGULAR,
                            approved=True, name_zh=name_zh))
    return brands


def demo_merchants(brands: list[Brand], seed: int) -> list[Merchant]:
    """About one merchant for every three brands; some offline shops and local providers."""
    rng = random.Random(seed + 1)
    merchants, index = [], 0
    while index < len(brands):
        group = brands[index:index + rng.randint(1, 5)]
        index += len(group)
        roll = rng.random()
        kind = (MerchantKind.ONLINE if roll < 0.8 else
                MerchantKind.OFFLINE if roll < 0.9 else MerchantKind.LOCAL)
        city = rng.choice(CITIES) if kind is not MerchantKind.ONLINE else None
        merchants.append(Merchant(f"{group[0].name} Flagship Store", kind, "CNY",
                                  frozenset(b.id or 0 for b in group), city))
    return merchants


def demo_products(
    count: int, merchants: list[Merchant], categories: dict[str, Category], festival: Festival,
    seed: int,
) -> Iterator[tuple[int, ProductDraft]]:
    """Products spread over merchants and shelves; most debut during the festival."""
    rng = random.Random(seed + 2)
    shelves = [s for s in SHELVES if s.nouns]
    service_shelves = [s for s in shelves if s.fulfilment is Fulfilment.SERVICE_VOUCHER]
    brands_of = {m.id: sorted(m.brand_ids) for m in merchants}
    debut_from = festival.starts_at - timedelta(days=60)
    span = (festival.ends_at - debut_from).total_seconds()
    for i in range(count):
        merchant = merchants[i % len(merchants)]
        shelf = rng.choice(service_shelves if merchant.kind is MerchantKind.LOCAL else shelves)
        adjective, noun, edition = (rng.choice(ADJECTIVES), rng.choice(shelf.nouns),
                                    rng.choice(EDITIONS))
        brand_ids = brands_of[merchant.id]
        low, high = shelf.price_range
        price = (low + int(rng.random() * (high - low + 1))) * 100 + rng.choice((0, 0, 50, 99))
        yield merchant.id or 0, ProductDraft(
            title=f"{adjective[0]} {noun[0]}{edition[0]}",
            title_zh=f"{adjective[1]}{noun[1]}{edition[1]}",
            brand_id=brand_ids[i % len(brand_ids)],
            category_id=categories[shelf.slug].id or 0,
            fulfilment=shelf.fulfilment,
            debut_at=debut_from + timedelta(seconds=rng.random() * span),
            skus=_skus(shelf, price, rng),
        )


# Each option's code and its Chinese name.
VARIANTS = ((("standard", "标准款"),), (("s", "S 码"), ("m", "M 码"), ("l", "L 码")),
            (("black", "黑色"), ("white", "白色")))


def _skus(shelf: Shelf, price_minor: int, rng: random.Random) -> tuple[SkuDraft, ...]:
    variants = rng.choice(VARIANTS) if shelf.fulfilment is Fulfilment.SHIPPED else VARIANTS[0]
    return tuple(
        SkuDraft(code, Money(price_minor + i * 1000, "CNY"), int(rng.random() * 501), name_zh)
        for i, (code, name_zh) in enumerate(variants)
    )


def seed_categories(runtime: Runtime) -> dict[str, Category]:
    """The category tree, created where missing; returns every category by slug."""
    existing = {c.slug: c for c in catalog.all_categories(runtime.uow(read_only=True))}
    for shelf in SHELVES:
        if shelf.slug not in existing:
            existing[shelf.slug] = catalog.create_category(
                runtime.uow(), MACHINE, slug=shelf.slug, name=shelf.name,
                name_zh=shelf.name_zh, parent=shelf.parent)
    return existing


def seed(runtime: Runtime, *, brands: int, products: int, seed: int = 11,
         batch: int = 20_000, progress: Progress | None = None) -> Festival:
    """Schedule the festival and load a generated catalog of the given size."""
    tick = progress or (lambda _what, _n: None)
    year = festival_year_for(runtime.clock.now())
    fest = festival.schedule_eleven_eleven(runtime.uow(), year)
    categories = seed_categories(runtime)
    saved_brands: list[Brand] = []
    first = catalog.count_brands(runtime.uow(read_only=True))
    for brand_batch in chunks(demo_brands(brands, first=first), batch):
        saved_brands += catalog.import_catalog(runtime.uow(), brands=brand_batch)[0]
        tick("brands", len(brand_batch))
    saved_merchants: list[Merchant] = []
    for merchant_batch in chunks(demo_merchants(saved_brands, seed), batch):
        saved_merchants += catalog.import_catalog(runtime.uow(), merchants=merchant_batch)[1]
        tick("merchants", len(merchant_batch))
    listings = demo_products(products, saved_merchants, categories, fest, seed)
    first_store: list[Product] = []
    for product_batch in chunks(listings, batch):
        listed = catalog.import_products(runtime.uow(), product_batch)
        first_store += [p for p in listed if p.merchant_id == saved_merchants[0].id]
        tick("products", len(product_batch))
    catalog.refresh_search_statistics(runtime.uow())
    seed_promotions(runtime, fest, saved_merchants)
    seed_deals(runtime, fest, first_store)
    return fest


def seed_promotions(runtime: Runtime, fest: Festival, merchants: list[Merchant]) -> None:
    """The festival's classic stack, on in each sale (Nov 1-3 and 11.11) and not before: every 300
    off 40 across stores (not the luxury pavilion), "spend 200 save 20, 500 save 60" in one store
    of five, and a platform coupon and a red envelope for shoppers to claim."""
    tiers = {"tiers": [{"spend": "200.00", "off": "20.00"}, {"spend": "500.00", "off": "60.00"}]}
    for sale in fest.sales:
        period = Period(sale.starts_at, sale.ends_at)
        promotions.put_on_promotion(runtime.uow(), MACHINE, Campaign(
            "cross_store", None, "CNY", {"every": "300.00", "off": "40.00", "exclude_tiers": ["luxury"]},
            period))
        for merchant in merchants[::5][:200]:
            promotions.put_on_promotion(runtime.uow(), Actor(0, Role.MERCHANT, merchant.id), Campaign(
                "store_threshold", None, "CNY", tiers, period))
        promotions.put_on_coupon(runtime.uow(), MACHINE, CouponIssue(
            "platform_coupon", None, "CNY", 100000, 10000, 1_000_000, 1, period))
        promotions.put_on_coupon(runtime.uow(), MACHINE, CouponIssue(
            "red_envelope", None, "CNY", 0, 1111, 1_000_000, 1, period))


def seed_deals(runtime: Runtime, fest: Festival, products: list[Product]) -> None:
    """The demo merchant's (the first store's) deals, so the flash zone and a pre-sale have something
    to show: a flash sale on from three hours before 11.11's midnight to two after, one from midnight
    for an hour, each at half price, and a pre-sale taking a tenth of the price as deposit in the
    deposit windows. On SKUs already on sale by then, with units to spare."""
    if not products:
        return
    midnight = fest.sales[-1].starts_at
    staff = Actor(0, Role.MERCHANT, products[0].merchant_id)
    picks = _deal_skus(runtime, products, before=min(midnight, runtime.clock.now()) - timedelta(hours=3))
    for sku, (starts, hours) in zip(picks, ((midnight - timedelta(hours=3), 5), (midnight, 1)), strict=False):
        inventory.schedule_flash_sale(runtime.uow(), staff, FlashSale(
            sku_id=sku.id or 0, price=Money(sku.price.minor // 2, sku.price.currency), quantity=20,
            starts_at=starts, ends_at=starts + timedelta(hours=hours), per_shopper_limit=2))
    if len(picks) > 2:
        presale = picks[2]
        promotions.offer_presale(runtime.uow(), staff, sku_id=presale.id or 0,
                                 deposit=Money(presale.price.minor // 10, presale.price.currency))


def _deal_skus(runtime: Runtime, products: list[Product], *, before: datetime) -> list[Sku]:
    """Up to three SKUs of shipped products that debuted `before`, priced 300.00 or more, each with
    50 units or more left, one per product."""
    candidates = [p.skus[0] for p in products if p.fulfilment is Fulfilment.SHIPPED and p.debut_at < before
                  and p.skus[0].price.minor >= 30000]
    left = inventory.available_stock_in(runtime.uow(read_only=True), [s.id or 0 for s in candidates])
    return [sku for sku in candidates if left.get(sku.id or 0, 0) >= 50][:3]


@dataclass(frozen=True)
class HotItem:
    """One SKU everyone wants at midnight, and the merchant that sells it."""

    merchant_id: int
    sku_id: int
    flash_sale_id: int | None


def hot_item(runtime: Runtime, *, stock: int, price: str = "5999.00", flash_quantity: int | None = None,
             per_shopper_limit: int = 1, fulfilment: Fulfilment = Fulfilment.SHIPPED,
             name: str = "Midnight") -> HotItem:
    """A phone on sale with `stock` units and, when `flash_quantity` is given, a flash sale of them
    at half price that is on for the whole day around the festival clock's now."""
    categories = seed_categories(runtime)
    brand = catalog.import_catalog(runtime.uow(), brands=[Brand(f"{name} Phones", BrandTier.REGULAR,
                                                                True)])[0][0]
    merchant = catalog.import_catalog(runtime.uow(), merchants=[Merchant(
        f"{name} Flagship Store", MerchantKind.ONLINE, "CNY", frozenset({brand.id or 0}))])[1][0]
    now = runtime.clock.now()
    product = catalog.import_products(runtime.uow(), [(merchant.id or 0, ProductDraft(
        title=f"{name} X1 phone", brand_id=brand.id or 0, category_id=categories["electronics"].id or 0,
        fulfilment=fulfilment, debut_at=now - timedelta(days=1),
        skus=(SkuDraft("x1-256", Money.parse(price, "CNY"), stock, "X1 256GB"),)))])[0]
    sku_id = product.skus[0].id or 0
    if flash_quantity is None:
        return HotItem(merchant.id or 0, sku_id, None)
    staff = Actor(0, Role.MERCHANT, merchant.id)
    sale = inventory.schedule_flash_sale(runtime.uow(), staff, FlashSale(
        sku_id=sku_id, price=Money(Money.parse(price, "CNY").minor // 2, "CNY"),
        quantity=flash_quantity, starts_at=now - timedelta(hours=12), ends_at=now + timedelta(hours=12),
        per_shopper_limit=per_shopper_limit))
    return HotItem(merchant.id or 0, sku_id, sale.id)


# --- pictures --------------------------------------------------------------------------------------

DEMO_PICTURES = 40  # products given a drawn picture, so the storefront's shelves look real
PICTURE_SIZE = (960, 720)


def demo_picture(initial: str, hue: int) -> bytes:
    """A warm gradient with a brand's initial in the middle, as a PNG a merchant might upload."""
    from PIL import Image, ImageDraw, ImageFont, ImageOps

    turned = Image.linear_gradient("L").rotate(45, expand=True)  # a diagonal, its corners unfilled
    middle = turned.width // 2
    light = turned.crop((middle - 90, middle - 90, middle + 90, middle + 90)).resize(PICTURE_SIZE)
    dark, bright = _hsl(hue, 0.75, 0.32), _hsl((hue + 24) % 360, 0.9, 0.62)
    picture = ImageOps.colorize(light, black=dark, white=bright)
    draw = ImageDraw.Draw(picture)
    font = ImageFont.load_default(size=360)
    draw.text((PICTURE_SIZE[0] // 2, PICTURE_SIZE[1] // 2), initial, font=font, anchor="mm",
              fill=(255, 255, 255))
    out = io.BytesIO()
    picture.save(out, "PNG", compress_level=1)  # quick to write: the thumbnails are what is kept
    return out.getvalue()


def _hsl(hue: int, saturation: float, lightness: float) -> tuple[int, int, int]:
    red, green, blue = colorsys.hls_to_rgb(hue / 360, lightness, saturation)
    return round(red * 255), round(green * 255), round(blue * 255)


def seed_pictures(runtime: Runtime, *, count: int = DEMO_PICTURES) -> int:
    """Draw a picture for the first `count` products and the newest debuts on the home page, checked
    and made into thumbnails as an upload is; how many were given one."""
    uow = runtime.uow
    newest = catalog.search_products(uow(read_only=True), ProductQuery(limit=1)).items
    ids = list(range(1, min(count, newest[0].id or 0) + 1)) if newest else []
    fest = festival.current_festival(uow(read_only=True))
    ids += [p.id or 0 for p in catalog.new_arrivals(uow(read_only=True), since=fest.starts_at, limit=8)[0]]
    pictures = []
    for product_id in dict.fromkeys(ids):
        product = catalog.get_product(uow(read_only=True), product_id)
        brand = catalog.get_brand(uow(read_only=True), product.brand_id)
        hue = (345 + product_id * 37 % 50) % 360  # the festival's reds and oranges
        pictures.append((product_id, demo_picture(brand.name[:1].upper(), hue)))
    return len(catalog.import_product_images(uow(), pictures, storage=runtime.pictures()))


# --- live shopping ---------------------------------------------------------------------------------

LIVE_POSTER = "/static/live/poster.svg"
LIVE_VIDEO = "/static/live/demo-stream.webm"  # the short stream the room page's module (live-pages) ships
ENGLISH_STREAM = (timedelta(hours=15), timedelta(minutes=90))  # 15:00–16:30 GMT, Nov 10 and 11
STORE_STREAM = (timedelta(hours=20), timedelta(hours=2))  # 20:00–22:00 on the festival's wall clocks
ENGLISH_SEGMENTS = (
    (SegmentKind.EXECUTIVE, "A word from {brand}'s chief executive"),
    (SegmentKind.BRAND_INTERVIEW, "The {brand} story: an interview"),
    (SegmentKind.EXPERT, "An expert's picks for 11.11"),
    (SegmentKind.CELEBRITY, "Celebrity guest: styling {brand}"),
    (SegmentKind.BEHIND_THE_SCENES, "Behind the scenes at {brand}'s studio"),
    (SegmentKind.SHOWCASE, "Showcase: the festival's best buys"),
)


def seed_live(runtime: Runtime, *, host_ids: tuple[int, ...], merchant_id: int = 1) -> list[LiveEvent]:
    """The festival's livestreams, hosted by the demo store's staff and featuring its products: the
    English streams of Nov 10 and 11 (15:00–16:30 GMT), a segment of each kind, and the store's
    Chinese streams each evening of the sale periods (Nov 1–3 and Nov 11)."""
    uow = runtime.uow
    fest = festival.current_festival(uow(read_only=True))
    merchant = catalog.get_merchant(uow(read_only=True), merchant_id)
    shelf = ProductQuery(merchant_id=merchant_id, limit=12)
    products = catalog.search_products(uow(read_only=True), shelf).items
    brand = catalog.brands_by_ids(uow(read_only=True), sorted(merchant.brand_ids))[0]
    planned = [_english_stream(fest, day, brand, products, host_ids) for day in (10, 11)]
    for sale in fest.sales:
        day = sale.starts_at.astimezone(zone(fest.timezone)).replace(hour=0, minute=0)
        while day < sale.ends_at:
            planned.append(_store_stream(day + STORE_STREAM[0], brand, products, host_ids))
            day += timedelta(days=1)
    return [live.plan_event(uow(), MACHINE, replace(event, brand_ids=tuple(sorted(merchant.brand_ids))),
                            account_of=runtime.ports.account_actor) for event in planned]


def _english_stream(fest: Festival, day: int, brand: Brand, products: list[Product],
                    host_ids: tuple[int, ...]) -> LiveEvent:
    year = fest.sales[-1].starts_at.year
    starts = datetime(year, 11, day, tzinfo=UTC) + ENGLISH_STREAM[0]
    step = ENGLISH_STREAM[1] / len(ENGLISH_SEGMENTS)
    segments = tuple(
        Segment(kind, title.format(brand=brand.name), starts + step * n,
                tuple(p.id or 0 for p in products[n * 2 % len(products):][:2]) if products else ())
        for n, (kind, title) in enumerate(ENGLISH_SEGMENTS))
    title = f"11.11 Global Live: {brand.name}, Nov {day}"
    return LiveEvent(title, "en", starts, starts + ENGLISH_STREAM[1], host_ids=host_ids, segments=segments,
                     playback_url=LIVE_VIDEO, poster_url=LIVE_POSTER)


def _store_stream(starts: datetime, brand: Brand, products: list[Product],
                  host_ids: tuple[int, ...]) -> LiveEvent:
    name = brand.name_zh or brand.name
    on_wall = starts.astimezone(zone(HOME_ZONE))
    picks = tuple(p.id or 0 for p in products[:4])
    segments = (Segment(SegmentKind.SHOWCASE, "今晚必买好物", starts, picks),
                Segment(SegmentKind.BRAND_INTERVIEW, f"{name}品牌故事", starts + timedelta(hours=1),
                        picks[:2]))
    return LiveEvent(f"{name}官方旗舰店直播间 · {on_wall.month}月{on_wall.day}日", "zh", as_utc(starts),
                     as_utc(starts) + STORE_STREAM[1], host_ids=host_ids, segments=segments,
                     playback_url=LIVE_VIDEO, poster_url=LIVE_POSTER)


# --- local services: shops near the shoppers, and the deals they sell as vouchers -------------------

@dataclass(frozen=True)
class LocalTrade:
    """A kind of local merchant: what its shops are called, their week, the category they are found
    under, and the deals it sells (title, Chinese title, price in CNY, deal kind, face value)."""

    kind: ShopKind
    words: tuple[tuple[str, str], ...]  # (English, Chinese) shop words, as in "Jade Noodle House"
    week: dict[str, list[str]] | None  # None: open day and night
    shelf: str
    deals: tuple[tuple[str, str, str, DealKind, str | None], ...] = ()
    merchant_kind: MerchantKind = MerchantKind.LOCAL


LOCAL_TRADES = (
    LocalTrade(ShopKind.RESTAURANT, (("Noodle House", "面馆"), ("Hotpot", "火锅"), ("Dim Sum", "茶餐厅")),
               {**{d: ["10:30-14:00", "17:00-22:00"] for d in DAYS}, "fri": ["10:30-23:30"],
                "sat": ["10:30-23:30"]}, "dining",
               (("Pay 50 Get 60 Cash Voucher", "50元抵60元代金券", "50.00", DealKind.CASH, "60.00"),
                ("Set Meal for Two", "双人套餐", "128.00", DealKind.SET_MEAL, None))),
    LocalTrade(ShopKind.STREET_STALL, (("Night Market Skewers", "夜市烧烤"), ("Scallion Pancakes", "葱油饼")),
               {d: ["18:00-02:00"] for d in DAYS}, "dining", merchant_kind=MerchantKind.OFFLINE),
    LocalTrade(ShopKind.GROCERY, (("Corner Grocery", "便利店"), ("Fresh Market", "生鲜超市")), None,
               "groceries",
               (("Pay 50 Get 60 Grocery Voucher", "50元抵60元购物券", "50.00", DealKind.CASH, "60.00"),)),
    LocalTrade(ShopKind.GROCERY, (("Neighbourhood Store", "社区小卖部"),),
               {d: ["07:00-23:00"] for d in DAYS}, "groceries", merchant_kind=MerchantKind.OFFLINE),
    LocalTrade(ShopKind.SALON, (("Hair Studio", "美发工作室"), ("Spa", "养生馆")),
               {d: ["10:00-21:00"] for d in DAYS}, "wellness",
               (("Cut and Wash", "洗剪吹套餐", "68.00", DealKind.SERVICE, None),)),
    LocalTrade(ShopKind.CAR_DEALER, (("Motors", "汽车4S店"),), {d: ["09:00-18:00"] for d in DAYS},
               "automobiles", (("Car Deposit Voucher", "购车定金券", "999.00", DealKind.DEPOSIT, None),)),
    LocalTrade(ShopKind.PROPERTY_DEVELOPER, (("Riverside Residences", "江景售楼处"),),
               {d: ["09:00-18:00"] for d in DAYS}, "apartments",
               (("Apartment Deposit Voucher", "购房定金券", "5000.00", DealKind.DEPOSIT, None),)),
    LocalTrade(ShopKind.HOME_DECORATION, (("Home Design", "家装设计"),),
               {d: ["09:00-19:00"] for d in DAYS[:6]}, "home-services",
               (("Home Decoration Design Service", "全屋家装设计服务", "299.00", DealKind.SERVICE, None),)),
    LocalTrade(ShopKind.OTHER_SERVICES, (("Laundry", "洗衣店"), ("Phone Repair", "手机维修")),
               {d: ["08:00-20:00"] for d in DAYS}, "home-services",
               (("Laundry Card", "洗衣卡", "99.00", DealKind.SERVICE, None),)),
)
LOCAL_MERCHANTS = 150
# Where the demo shopper may stand: a crowd of shops around the centres of Hangzhou and Shanghai and
# around the shopper's address (Wenyi West Road, Hangzhou), then every festival city has some.
HOT_SPOTS = ((1808926, 30.2937, 120.1614, 4000, 450), (1808926, 30.2800, 120.0850, 2500, 250),
             (1796236, 31.2304, 121.4737, 5000, 450), (1796236, 31.2397, 121.4998, 2500, 150))
SHOPS_PER_CITY = 9


def seed_local(runtime: Runtime, *, seed: int = 11) -> int:
    """A few thousand shops across the festival's cities (crowded in Hangzhou and Shanghai), of local
    and offline merchants whose deals are voucher products of the catalog; the id of the demo's local
    merchant (a restaurant chain with shops near the demo shopper)."""
    rng = random.Random(seed + 19)
    categories = seed_categories(runtime)
    trades = [LOCAL_TRADES[i % len(LOCAL_TRADES)] for i in range(LOCAL_MERCHANTS)]
    names = [_local_name(i, rng) for i in range(LOCAL_MERCHANTS)]
    brands, _ = catalog.import_catalog(runtime.uow(), brands=[
        Brand(f"{en} Local", BrandTier.REGULAR, approved=True, name_zh=zh) for en, zh in names])
    _, merchants = catalog.import_catalog(runtime.uow(), merchants=[
        Merchant(f"{en} {trade.words[0][0]}", trade.merchant_kind, "CNY", frozenset({brand.id or 0}))
        for (en, _), trade, brand in zip(names, trades, brands, strict=True)])
    shops = [_local_shop(rng, spot, merchants, trades, names, categories) for spot in _local_spots(rng)]
    local.import_shops(runtime.uow(), shops)
    _seed_local_deals(runtime, merchants, brands, trades, categories)
    return merchants[0].id or 0


def _local_name(index: int, rng: random.Random) -> tuple[str, str]:
    adjective = ADJECTIVES[index % len(ADJECTIVES)]
    english, chinese = brand_name(index * 7 + rng.randrange(7))
    return f"{adjective[0]} {english.split()[0]}", f"{adjective[1]}{chinese[:3]}"


def _seed_local_deals(runtime: Runtime, merchants: list[Merchant], brands: list[Brand],
                      trades: list[LocalTrade], categories: dict[str, Category]) -> None:
    """Each local merchant's deals as voucher products, then as deals; one merchant in two has a
    festival deal."""
    debut = runtime.clock.now() - timedelta(days=30)
    listings = [(m.id or 0, ProductDraft(
        # named by their shop, as a storefront lists them among everyone's products
        title=f"{m.name} · {title}", title_zh=f"{b.name_zh or ''}{title_zh}", brand_id=b.id or 0,
        category_id=categories[trade.shelf].id or 0,
        fulfilment=Fulfilment.DEPOSIT_VOUCHER if kind is DealKind.DEPOSIT else Fulfilment.SERVICE_VOUCHER,
        debut_at=debut, skus=(SkuDraft("voucher", Money.exact(price, "CNY"), 1000, "券"),)))
        for m, b, trade in zip(merchants, brands, trades, strict=True)
        for title, title_zh, price, kind, _ in trade.deals]
    products = catalog.import_products(runtime.uow(), listings)
    kinds = [(kind, face) for trade in trades for _, _, _, kind, face in trade.deals]
    firsts = {p.merchant_id: p.id for p in reversed(products)}
    local.import_deals(runtime.uow(), [
        Deal(p.merchant_id, p.id or 0, p.skus[0].id or 0, kind, 90,
             Money.exact(face, "CNY") if face else None,
             festival=firsts[p.merchant_id] == p.id and p.merchant_id % 2 == 1)
        for p, (kind, face) in zip(products, kinds, strict=True)])


def _local_spots(rng: random.Random) -> Iterator[tuple[int, float, float]]:
    """(city id, lat, lng) for each shop: the hot spots' crowds, then some in every festival city."""
    for city_id, lat, lng, spread, count in HOT_SPOTS:
        for _ in range(count):
            yield city_id, lat + rng.gauss(0, spread) / 111_000, lng + rng.gauss(0, spread) / 96_000
    for town in cities.festival_cities():
        spread = 3000 if town.country == "CN" else 2000
        across = 111_000 * math.cos(math.radians(town.centre.lat))
        for _ in range(SHOPS_PER_CITY if town.country == "CN" else SHOPS_PER_CITY * 4):
            yield (town.id, town.centre.lat + rng.gauss(0, spread) / 111_000,
                   town.centre.lng + rng.gauss(0, spread) / across)


def _local_shop(rng: random.Random, spot: tuple[int, float, float], merchants: list[Merchant],
                trades: list[LocalTrade], names: list[tuple[str, str]],
                categories: dict[str, Category]) -> Shop:
    # The demo's own merchant (the first) has a shop in one spot of eight, so some are near anyone.
    index = 0 if rng.random() < 0.125 else rng.randrange(len(merchants))
    city_id, lat, lng = spot
    town, trade, (en, zh) = cities.city(city_id), trades[index], names[index]
    word = trade.words[rng.randrange(len(trade.words))]
    return Shop(merchant_id=merchants[index].id or 0, name=f"{en} {word[0]}",
                name_zh=f"{zh}{word[1]}·{town.name_zh or town.name}", kind=trade.kind, city_id=city_id,
                place=point(lat, lng), zone=town.zone, hours=opening_hours(trade.week),
                category_id=categories[trade.shelf].id, pay_token=secrets.token_urlsafe(16))
