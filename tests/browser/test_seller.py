"""The seller centre in Chromium: the demo merchant signs in, lists a product with two options, gives it
a picture, receives stock, finds it on the storefront with that picture and puts a flash sale on it; then
a shopper new to ShopFest signs up, finds the flash sale and buys it at the flash price."""

from __future__ import annotations

import io
import secrets
from collections.abc import Callable
from contextlib import AbstractContextManager

import pytest
from PIL import Image
from playwright.sync_api import expect
from sqlalchemy import create_engine, text

from tests.browser.harness import MERCHANT, Shopper, add_a_delivery_address

pytestmark = pytest.mark.browser
IN_THE_SALE = "2027-11-11T10:00:00+08:00"


def approved_brand_of_the_demo_merchant(database_url: str) -> int:
    engine = create_engine(database_url)
    with engine.connect() as conn:
        brand_id = conn.execute(text(
            "SELECT b.id FROM merchant_brands mb JOIN brands b ON b.id = mb.brand_id "
            "WHERE mb.merchant_id = 1 AND b.approved ORDER BY b.id LIMIT 1")).scalar_one()
    engine.dispose()
    return int(brand_id)


def lantern_photo() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (800, 600), (230, 120, 20)).save(out, "PNG")
    return out.getvalue()


def test_a_merchant_lists_a_product_with_a_picture_stock_and_a_flash_sale_and_a_shopper_buys_it_in_the_sale(
        open_tab: Callable[..., Shopper], start_server: Callable[..., AbstractContextManager[str]],
        demo_database: str) -> None:
    # a server inside the 11.11 sale: no phase flips (and reloads the page) while the journey runs
    with start_server(clock=IN_THE_SALE) as base_url:
        merchant = open_tab(base_url)
        title, red_sku = merchant_journey(merchant, demo_database)
        sale_id = flash_sale_on(merchant, red_sku, title)
        shopper_buys_in_the_flash_sale(open_tab(base_url), sale_id, title)


def merchant_journey(shopper: Shopper, demo_database: str) -> tuple[str, str]:
    """The product listed, its picture and stock; its title and the id of its red option's SKU."""
    page = shopper.page
    word = f"lantern{secrets.token_hex(3)}"
    title = f"Paper Festival Lantern {word}"
    # given the demo merchant's staff, signed in: the overview names their merchant
    shopper.sign_in(MERCHANT, then="/seller")
    expect(page.locator("h1 .merchant-name")).not_to_be_empty()
    shopper.look("seller-overview")
    shopper.goto("/seller/products")
    expect(page.locator("table.seller-products tbody tr").first).to_be_visible()
    shopper.look("seller-products")

    # when they list a product with two options
    page.get_by_role("link", name="List a new product").first.click()
    page.wait_for_url(f"{shopper.base_url}/seller/products/new")
    shopper.look("seller-product-new")
    page.get_by_label("Title (English)").fill(title)
    page.get_by_label("Title (Chinese, optional)").fill("纸灯笼")
    page.get_by_label("Brand").select_option(str(approved_brand_of_the_demo_merchant(demo_database)))
    page.get_by_label("Category").select_option("home-decoration")
    # debuted before the festival: no "new" badge, whose contrast is the storefront's (site.css) to fix
    page.get_by_label("Debut").fill("2027-10-01T10:00")
    page.get_by_label("Option 1: name").fill("red")
    page.get_by_label("Option 1: price").fill("88.00")
    page.get_by_label("Option 1: units in stock").fill("6")
    page.get_by_label("Option 2: name").fill("gold")
    page.get_by_label("Option 2: price").fill("98.00")
    page.get_by_label("Option 2: units in stock").fill("2")
    page.get_by_role("button", name="List the product").click()
    expect(page.get_by_role("status")).to_contain_text("The product is listed")
    product_path = page.url.split(shopper.base_url, 1)[1].split("?")[0]
    product_id = product_path.split("/")[3]
    shopper.look("seller-product-listed")

    # a file that is not a picture is refused beside the field
    page.get_by_label("Picture file").set_input_files(
        {"name": "notes.png", "mimeType": "image/png", "buffer": b"not a picture at all\n" * 30})
    page.get_by_role("button", name="Upload the picture").click()
    expect(page.locator("#image-error")).to_contain_text("not a JPEG, PNG or WebP")
    shopper.look("seller-product-bad-picture")

    # and a picture is taken, made into thumbnails and shown
    page.get_by_label("Picture file").set_input_files(
        {"name": "lantern.png", "mimeType": "image/png", "buffer": lantern_photo()})
    page.get_by_role("button", name="Upload the picture").click()
    expect(page.get_by_role("status")).to_contain_text("The picture is saved")
    expect(page.locator("img.seller-picture")).to_have_js_property("naturalWidth", 800)
    shopper.look("seller-product-picture")

    # when they receive 10 more of the gold option on the stock page
    shopper.goto("/seller/stock")
    shopper.look("seller-stock")
    gold = page.locator("tr[data-sku]", has_text=title).filter(has_text="gold")
    gold.get_by_label("Units received for gold").fill("10")
    gold.get_by_role("button", name="Receive").click()
    expect(page.get_by_role("status")).to_contain_text("Received 10 units of gold: 12 on hand")
    gold = page.locator("tr[data-sku]", has_text=title).filter(has_text="gold")
    expect(gold.locator("[data-figure=available]")).to_have_text("12")
    shopper.look("seller-stock-received")
    red_sku = page.locator("tr[data-sku]", has_text=title).filter(has_text="red").get_attribute("data-sku")
    assert red_sku

    # then shoppers find it with its picture, on the search's cards and on its page
    shopper.goto(f"/search?q={word}")
    card = page.locator(f"li.card a[href='/products/{product_id}']")
    expect(card.locator("img.tile")).to_have_js_property("naturalWidth", 480)
    shopper.look("storefront-card-with-picture")
    card.click()
    expect(page.locator("img.product-photo")).to_have_js_property("naturalWidth", 800)
    expect(page.locator(".product-title")).to_have_text(title)
    shopper.look("storefront-product-with-picture")
    return title, red_sku


def flash_sale_on(merchant: Shopper, sku_id: str, title: str) -> str:
    """The red option at 66.00 instead of 88.00 from 10:00 to 22:00 of 11.11, its rules left at none
    (anyone may buy), previewed and put on; the flash sale's id."""
    page = merchant.page
    merchant.goto("/seller/flash-sales")
    page.get_by_role("link", name="Schedule a flash sale").click()
    page.get_by_label("SKU", exact=True).select_option(sku_id)
    page.get_by_label("Flash price").fill("66.00")
    page.get_by_label("Quantity", exact=True).fill("5")
    page.get_by_label("Starts").fill("2027-11-11T10:00")
    page.get_by_label("Ends").fill("2027-11-11T22:00")
    page.get_by_label("Sample line 1").select_option(sku_id)
    page.get_by_label("Quantity, line 1").fill("1")
    page.get_by_label("Sample line 2").select_option("")
    page.get_by_role("button", name="Preview").click()
    expect(page.locator("[data-preview] .total-before")).to_have_text("CN¥88.00")
    expect(page.locator("[data-preview] .total-after")).to_have_text("CN¥66.00")
    merchant.look("seller-flash-sale-preview")
    page.get_by_role("button", name="Put on").click()
    expect(page.locator(".notice")).to_contain_text("is scheduled")
    sale_id = page.url.rsplit("saved=", 1)[1]
    expect(page.locator(f"tr[data-flash='{sale_id}']")).to_contain_text(title)
    merchant.look("seller-flash-sale-on")
    return sale_id


def shopper_buys_in_the_flash_sale(shopper: Shopper, sale_id: str, title: str) -> None:
    """A new account from the sign-up page, the flash sale on /deals/flash, the cart at the flash price,
    an address, checkout, the sandbox's approved card, and the order paid at the flash price."""
    page = shopper.page
    shopper.goto("/signup?next=/deals/flash")
    page.get_by_label("Email").fill(f"flash-{secrets.token_hex(5)}@shoppers.test")
    page.get_by_label("Password").fill("flash-shopper-11")
    page.get_by_role("button", name="Create account").click()
    page.wait_for_url(f"{shopper.base_url}/deals/flash", timeout=60_000)  # a password hashed on a busy CI
    card = page.locator(f"li.flash-card[data-flash-sale='{sale_id}']")
    expect(card).to_have_attribute("data-state", "on")
    expect(card.locator(".flash-price")).to_have_text("CN¥66.00")
    shopper.look("seller-flash-1-deals")
    card.get_by_role("button", name=f"Add to cart: {title}").click()
    page.wait_for_url(f"{shopper.base_url}/cart")
    add_a_delivery_address(shopper)
    line = page.locator("tbody tr", has_text=title)
    expect(line.locator(".adjustments")).to_have_text("Flash price −CN¥22.00")
    expect(line.locator(".line-total")).to_have_text("CN¥66.00")
    shopper.look("seller-flash-2-cart")
    page.locator("button.checkout").click()
    expect(page.locator(".placed")).to_contain_text("is placed")
    page.locator("a.pay-now-link").click()
    page.wait_for_url(f"{shopper.base_url}/account/orders/*/pay")
    order_id = page.url.rsplit("/", 2)[-2]
    page.get_by_label("Test card — approved", exact=True).check()
    shopper.look("seller-flash-3-pay")
    page.locator("button.pay-button").click()
    expect(page.locator(".pay-page .paid")).to_have_text("Paid — thank you.")
    shopper.goto("/account/orders")
    row = page.locator(f".order-row[data-order='{order_id}']")
    expect(row.locator(".status")).to_have_text("Paid")
    expect(row.locator(".items")).to_contain_text(title)
    expect(row.locator(".amount")).to_contain_text("CN¥66.00")
    shopper.look("seller-flash-4-my-orders")
