"""The seller centre in Chromium: the demo merchant signs in, lists a product with two options, gives it
a picture, receives stock, and finds it on the storefront with that picture."""

from __future__ import annotations

import io
import secrets
from collections.abc import Callable
from contextlib import AbstractContextManager

import pytest
from PIL import Image
from playwright.sync_api import expect
from sqlalchemy import create_engine, text

from tests.browser.harness import MERCHANT, Shopper

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


def test_a_merchant_lists_a_product_with_a_picture_and_stock_and_shoppers_see_it(
        open_tab: Callable[..., Shopper], start_server: Callable[..., AbstractContextManager[str]],
        demo_database: str) -> None:
    # a server inside the 11.11 sale: no phase flips (and reloads the page) while the journey runs
    with start_server(clock=IN_THE_SALE) as base_url:
        merchant_journey(open_tab(base_url), demo_database)


def merchant_journey(shopper: Shopper, demo_database: str) -> None:
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

    # then shoppers find it with its picture, on the search's cards and on its page
    shopper.goto(f"/search?q={word}")
    card = page.locator(f"li.card a[href='/products/{product_id}']")
    expect(card.locator("img.tile")).to_have_js_property("naturalWidth", 480)
    shopper.look("storefront-card-with-picture")
    card.click()
    expect(page.locator("img.product-photo")).to_have_js_property("naturalWidth", 800)
    expect(page.locator(".product-title")).to_have_text(title)
    shopper.look("storefront-product-with-picture")
