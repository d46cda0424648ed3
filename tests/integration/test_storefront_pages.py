"""The storefront as a shopper reads it: cards with the festival price and a sold-out badge, a cart
whose quantities are edited, the seller named, a search counted, sorted and paged both ways, and
everything in Chinese on the Chinese pages, refusals included."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from shopfest.app import create_app
from shopfest.catalog import service as catalog
from shopfest.catalog.model import Brand, BrandTier, Merchant, MerchantKind, Product, ProductDraft, SkuDraft
from shopfest.core.money import Money
from shopfest.demo import hot_item, seed_categories
from shopfest.runtime import Runtime
from tests.integration.helpers import token_in
from tests.integration.test_cart_pages import check_out, signed_in_tab, with_cart


@pytest.fixture
def client(runtime: Runtime) -> TestClient:
    return TestClient(create_app(runtime=runtime))


Option = tuple[str, str | None, str, int]  # code, Chinese name, price, stock


def listing(runtime: Runtime, name: str, *, options: tuple[Option, ...] = (("std", "标准款", "100.00", 5),),
            kind: MerchantKind = MerchantKind.ONLINE, city: str | None = None,
            title_zh: str | None = None, debut_days_ago: float = 1) -> Product:
    """A product of a merchant of its own, listed now."""
    categories = seed_categories(runtime)
    brand = catalog.import_catalog(runtime.uow(),
                                   brands=[Brand(f"{name} Brand", BrandTier.REGULAR, True)])[0][0]
    merchant = catalog.import_catalog(runtime.uow(), merchants=[Merchant(
        f"{name} Shop", kind, "CNY", frozenset({brand.id or 0}), city)])[1][0]
    return catalog.import_products(runtime.uow(), [(merchant.id or 0, ProductDraft(
        title=f"{name} lantern", title_zh=title_zh, brand_id=brand.id or 0,
        category_id=categories["home-decoration"].id or 0, fulfilment=_fulfilment(kind),
        debut_at=runtime.clock.now() - timedelta(days=debut_days_ago),
        skus=tuple(SkuDraft(code, Money.parse(price, "CNY"), stock, zh)
                   for code, zh, price, stock in options),
    ))])[0]


def _fulfilment(kind: MerchantKind) -> catalog.Fulfilment:
    return catalog.Fulfilment.SERVICE_VOUCHER if kind is MerchantKind.LOCAL else catalog.Fulfilment.SHIPPED


def text_of(page: str) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))


def card_of(page: str, product_id: int) -> str:
    found = re.search(rf'<li class="card">\s*<a href="/products/{product_id}">(.*?)</li>', page, re.S)
    assert found is not None, page
    return found.group(1)


def cart_line(page: str, sku_id: int) -> str:
    found = re.search(rf'<tr data-sku="{sku_id}"[^>]*>(.*?)</tr>', page, re.S)
    assert found is not None, page
    return found.group(1)


def post(client: TestClient, path: str, **form: str | int) -> object:
    token = token_in(client.get("/login").text)
    return client.post(path, data={"csrf_token": token, **form}, follow_redirects=False)


def cart_of(client: TestClient) -> dict[int, int]:
    """The cart's lines as its page shows them: SKU and the quantity in its box."""
    lines = re.findall(r'<tr data-sku="(\d+)".*?name="qty" value="(\d+)"', client.get("/cart").text, re.S)
    return {int(sku): int(qty) for sku, qty in lines}


def sku_of(product: Product, i: int = 0) -> int:
    return product.skus[i].id or 0


# --- cards -----------------------------------------------------------------------------------

def test_a_card_shows_the_festival_price_a_unit_costs_now_beside_the_list_price(
        client: TestClient, runtime: Runtime) -> None:
    # given a phone at 5999.00 in a flash sale at half price, and one at full price
    flash = hot_item(runtime, stock=5, flash_quantity=3, name="Quasar")
    plain = hot_item(runtime, stock=5, name="Quasarplain")
    page = client.get("/search?q=quasar").text
    flash_card = text_of(card_of(page, _product_of(runtime, flash.sku_id)))
    plain_card = text_of(card_of(page, _product_of(runtime, plain.sku_id)))
    # then the flash one's card says the festival price, as the product page and the cart charge it
    assert "Festival price CN¥2,999.50" in flash_card and "List price CN¥5,999.00" in flash_card
    assert "Festival price" not in plain_card and "CN¥5,999.00" in plain_card


def test_a_card_is_badged_sold_out_when_no_option_has_a_unit_left(client: TestClient,
                                                                  runtime: Runtime) -> None:
    gone = listing(runtime, "Ember", options=(("s", "小号", "50.00", 0), ("l", "大号", "60.00", 0)))
    left = listing(runtime, "Emberleft", options=(("s", "小号", "50.00", 0), ("l", "大号", "60.00", 1)))
    page = client.get("/search?q=ember").text
    assert "data-sold-out" in card_of(page, gone.id or 0)
    assert "data-sold-out" not in card_of(page, left.id or 0)
    assert "已售罄" in card_of(client.get("/search?q=ember&lang=zh").text, gone.id or 0)


def _product_of(runtime: Runtime, sku_id: int) -> int:
    with runtime.uow(read_only=True) as uow:
        return catalog.skus_for_sale(uow, [sku_id])[sku_id].product_id


# --- the cart --------------------------------------------------------------------------------

def test_the_cart_changes_a_lines_quantity_and_zero_takes_it_out(client: TestClient,
                                                                 runtime: Runtime) -> None:
    lamp = listing(runtime, "Lumen", options=(("std", None, "100.00", 10),))
    other = listing(runtime, "Lumenother")
    post(client, "/cart/add", sku_id=sku_of(lamp), qty=1)
    post(client, "/cart/add", sku_id=sku_of(other), qty=1)

    changed = post(client, "/cart/update", sku_id=sku_of(lamp), qty=3)
    assert changed.status_code == 303  # type: ignore[attr-defined]
    assert cart_of(client) == {sku_of(lamp): 3, sku_of(other): 1}
    page = client.get("/cart").text
    assert 'value="3"' in cart_line(page, sku_of(lamp)) and "CN¥300.00" in cart_line(page, sku_of(lamp))

    post(client, "/cart/update", sku_id=sku_of(lamp), qty=0)
    assert cart_of(client) == {sku_of(other): 1}


@pytest.mark.parametrize("typed", ["abc", "-1", "1000", "2.5", "", "１"])
def test_a_quantity_that_is_not_a_whole_number_up_to_999_changes_nothing(
        client: TestClient, runtime: Runtime, typed: str) -> None:
    lamp = listing(runtime, "Glow")
    post(client, "/cart/add", sku_id=sku_of(lamp), qty=2)
    refused = post(client, "/cart/update?lang=zh", sku_id=sku_of(lamp), qty=typed)
    assert refused.status_code == 422  # type: ignore[attr-defined]
    assert "请输入 0 到 999 之间的整数" in refused.text  # type: ignore[attr-defined]
    assert cart_of(client) == {sku_of(lamp): 2}


def test_more_than_is_left_is_kept_and_flagged_as_checkout_would_refuse_it(
        client: TestClient, runtime: Runtime) -> None:
    lamp = listing(runtime, "Flare", options=(("std", "标准款", "100.00", 2),))
    post(client, "/cart/add", sku_id=sku_of(lamp), qty=1)
    post(client, "/cart/update", sku_id=sku_of(lamp), qty=5)
    assert "Only 2 left: lower the quantity to check out." in text_of(cart_line(client.get("/cart").text,
                                                                                 sku_of(lamp)))
    assert "仅剩 2 件" in text_of(client.get("/cart?lang=zh").text)


def test_an_edit_of_a_line_not_in_the_cart_adds_nothing(client: TestClient, runtime: Runtime) -> None:
    lamp, stranger = listing(runtime, "Spark"), listing(runtime, "Sparkother")
    post(client, "/cart/add", sku_id=sku_of(lamp), qty=1)
    post(client, "/cart/update", sku_id=sku_of(stranger), qty=4)
    assert cart_of(client) == {sku_of(lamp): 1}


def test_a_cart_edit_needs_the_pages_form_token(client: TestClient, runtime: Runtime) -> None:
    lamp = listing(runtime, "Beam")
    post(client, "/cart/add", sku_id=sku_of(lamp), qty=1)
    forged = client.post("/cart/update", data={"sku_id": sku_of(lamp), "qty": 0}, follow_redirects=False)
    assert forged.status_code == 403
    assert cart_of(client) == {sku_of(lamp): 1}


# --- the seller ------------------------------------------------------------------------------

def test_the_seller_is_named_on_the_product_page_and_in_the_cart(client: TestClient,
                                                                 runtime: Runtime) -> None:
    online = listing(runtime, "Nova")
    local = listing(runtime, "Tea", kind=MerchantKind.LOCAL, city="Hangzhou")
    nowhere = listing(runtime, "Stall", kind=MerchantKind.OFFLINE)
    assert "Sold by Nova Shop" in text_of(client.get(f"/products/{online.id}").text)
    assert "Sold by Tea Shop · a shop in Hangzhou" in text_of(client.get(f"/products/{local.id}").text)
    assert "Stall Shop · a shop whose city is not on record" in text_of(
        client.get(f"/products/{nowhere.id}").text)

    post(client, "/cart/add", sku_id=sku_of(online), qty=1)
    post(client, "/cart/add", sku_id=sku_of(local), qty=1)
    cart = client.get("/cart").text
    assert "Sold by Nova Shop" in text_of(cart_line(cart, sku_of(online)))
    assert "Sold by Tea Shop · a shop in Hangzhou" in text_of(cart_line(cart, sku_of(local)))
    assert "卖家：Tea Shop · 门店位于Hangzhou" in text_of(client.get("/cart?lang=zh").text)


# --- 中文 -------------------------------------------------------------------------------------

def test_chinese_pages_name_the_product_and_its_option_in_chinese(client: TestClient,
                                                                  runtime: Runtime) -> None:
    scarf = listing(runtime, "Silk", title_zh="真丝围巾", options=(("black", "黑色", "199.00", 5),
                                                                  ("white", None, "199.00", 5)))
    product = text_of(client.get(f"/products/{scarf.id}?lang=zh").text)
    assert "真丝围巾" in product and "黑色" in product and "white" in product  # no Chinese name: the code
    post(client, "/cart/add", sku_id=sku_of(scarf), qty=1)
    cart = text_of(client.get("/cart").text)
    assert "真丝围巾 · 黑色" in cart and "Silk lantern" not in cart
    assert "Silk lantern · black" in text_of(client.get("/cart?lang=en").text)


def test_refusals_read_in_chinese_on_the_chinese_pages(client: TestClient, runtime: Runtime) -> None:
    missing = client.get("/products/999999?lang=zh")
    assert missing.status_code == 404 and "找不到您要的内容" in missing.text
    nowhere = client.get("/no-such-page?lang=zh", headers={"Accept": "text/html"})
    assert nowhere.status_code == 404 and "此网址没有页面" in nowhere.text
    malformed = client.get("/search?q=%00", headers={"Accept": "text/html"})
    assert malformed.status_code == 422 and "文本中含有无法保存的字符" in malformed.text
    bad_search = client.get("/search?min_price=abc&lang=zh")
    assert bad_search.status_code == 422 and "金额无效" in bad_search.text
    unknown = client.get("/search?category=no-such-shelf&lang=en")
    assert unknown.status_code == 422 and "unknown category 'no-such-shelf'" in html.unescape(unknown.text)
    failed = post(client, "/login?lang=zh", email="nobody@shoppers.test", password="wrong-secret-1")
    assert failed.status_code == 401 and "邮箱与密码不匹配" in failed.text  # type: ignore[attr-defined]


# --- search ----------------------------------------------------------------------------------

def shelf_of_lamps(runtime: Runtime, word: str, n: int) -> list[Product]:
    """`n` products found by `word`, at prices 10.00, 11.00, ... and debuts a day apart (the
    cheapest the oldest)."""
    categories = seed_categories(runtime)
    brand = catalog.import_catalog(runtime.uow(),
                                   brands=[Brand(f"{word} Brand", BrandTier.REGULAR, True)])[0][0]
    merchant = catalog.import_catalog(runtime.uow(), merchants=[Merchant(
        f"{word} Shop", MerchantKind.ONLINE, "CNY", frozenset({brand.id or 0}))])[1][0]
    now = runtime.clock.now()
    return catalog.import_products(runtime.uow(), [(merchant.id or 0, ProductDraft(
        title=f"{word} lamp {i}", brand_id=brand.id or 0, category_id=categories["home-decoration"].id or 0,
        fulfilment=catalog.Fulfilment.SHIPPED, debut_at=now - timedelta(days=n - i),
        skus=(SkuDraft("std", Money((10 + i) * 100, "CNY"), 3),))) for i in range(n)])


def ids_on(page: str) -> list[int]:
    return [int(i) for i in re.findall(r'<li class="card">\s*<a href="/products/(\d+)"', page)]


def test_search_counts_what_it_found(client: TestClient, runtime: Runtime) -> None:
    shelf_of_lamps(runtime, "Orrery", 23)
    assert "23 found" in client.get("/search?q=orrery").text
    assert "共找到 23 件" in client.get("/search?q=orrery&lang=zh").text
    assert "0 found" in client.get("/search?q=orreryless&lang=en").text


@pytest.mark.parametrize(("sort", "order"), [("price_up", 1), ("price_down", -1), ("newest", -1)])
def test_search_sorts_by_price_or_debut_across_pages(client: TestClient, runtime: Runtime, sort: str,
                                                     order: int) -> None:
    lamps = shelf_of_lamps(runtime, "Gimbal", 25)
    by_price = [p.id for p in lamps][::order]  # the cheapest is the oldest
    first = client.get(f"/search?q=gimbal&sort={sort}").text
    next_url = html.unescape(re.search(r'class="next" href="([^"]+)"', first).group(1))  # type: ignore[union-attr]
    second = client.get(next_url).text
    assert ids_on(first) + ids_on(second) == by_price


def test_a_later_page_links_back_to_the_page_before(client: TestClient, runtime: Runtime) -> None:
    shelf_of_lamps(runtime, "Sextant", 45)
    pages, url = [], "/search?q=sextant&sort=price_up"
    while url:
        page = client.get(url).text
        pages.append(page)
        found = re.search(r'class="next" href="([^"]+)"', page)
        url = html.unescape(found.group(1)) if found else ""
    assert [len(ids_on(p)) for p in pages] == [20, 20, 5]
    assert 'rel="prev"' not in pages[0]
    back = [html.unescape(re.search(r'class="previous" href="([^"]+)"', p).group(1))  # type: ignore[union-attr]
            for p in pages[1:]]
    assert [ids_on(client.get(u).text) for u in back] == [ids_on(p) for p in pages[:-1]]


def test_a_bad_sort_or_tampered_cursor_is_a_readable_422(client: TestClient, runtime: Runtime) -> None:
    bad_sort = client.get("/search?sort=cheapest")
    assert bad_sort.status_code == 422 and "is not a sort order" in html.unescape(bad_sort.text)
    for cursor in ("x.y", "99999999999999999999.abc", "abc", "99999999999999999.aWQ6MQ", "-5.aWQ6MQ"):
        tampered = client.get(f"/search?sort=price_up&cursor={cursor}")
        assert tampered.status_code == 422, cursor
    assert client.get("/search?q=x&cursor=aWQ6MQ&back=<script>").status_code == 200
    for sort in ("newest", "price_up", "price_down"):  # the largest key a cursor may carry
        assert client.get(f"/search?sort={sort}&cursor=9999999999999999.aWQ6MQ").status_code == 200


def test_a_card_offers_no_flash_price_to_a_shopper_who_used_the_flash_limit(
        client: TestClient, runtime: Runtime) -> None:
    # given a phone on a flash sale at 2999.50, one per shopper, which ann bought
    phone = hot_item(runtime, stock=10, flash_quantity=5, per_shopper_limit=1, name="Pulsar")
    ann = with_cart(signed_in_tab(client, runtime, "ann"), {phone.sku_id: 1})
    assert "is placed" in check_out(ann).text
    product_id = _product_of(runtime, phone.sku_id)
    # then her card shows no festival price (checkout would refuse it), while bob's still does
    assert "Festival price" not in text_of(card_of(ann.get("/search?q=pulsar&lang=en").text, product_id))
    bob = signed_in_tab(client, runtime, "bob")
    assert "Festival price CN¥2,999.50" in text_of(card_of(bob.get("/search?q=pulsar&lang=en").text,
                                                           product_id))


def test_the_api_sorts_its_product_search_as_the_pages_do(client: TestClient, runtime: Runtime) -> None:
    lamps = shelf_of_lamps(runtime, "Astrolabe", 7)
    seen, cursor = [], None
    while True:
        answer = client.get("/api/v1/products", params={"q": "astrolabe", "sort": "price_down", "limit": 3,
                                                        **({"cursor": cursor} if cursor else {})}).json()
        seen += [p["id"] for p in answer["data"]]
        cursor = answer["next_cursor"]
        if cursor is None:
            break
    assert seen == [p.id for p in reversed(lamps)]
    assert client.get("/api/v1/products?sort=cheapest").status_code == 422
