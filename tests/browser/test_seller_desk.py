"""The seller centre's festival tools and orders in Chromium: the demo merchant previews and puts on a
store coupon and a flash sale, ships a part a new shopper placed and paid, and exports the CSV; every
page on the way is checked by axe-core."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect
from sqlalchemy import create_engine, text

from tests.browser.harness import MERCHANT, Shopper

pytestmark = pytest.mark.browser

IN_THE_SALE = "2027-11-11T00:30:00+08:00"


def quiet_sku(database_url: str) -> tuple[int, str, int]:
    """(SKU, title, price) of merchant 1's shipped CNY SKU with stock and no flash sale ever: the
    merchant's to put a flash sale on, and a shopper's to buy at its list price now."""
    engine = create_engine(database_url)
    with engine.connect() as conn:
        row = conn.execute(text(
            "SELECT s.id, p.title, s.price_minor FROM skus s JOIN products p ON p.id = s.product_id "
            "JOIN stock_levels l ON l.sku_id = s.id WHERE p.merchant_id = 1 AND p.fulfilment = 'shipped' "
            "AND s.currency = 'CNY' AND l.on_hand - l.reserved - l.sold >= 5 AND s.price_minor >= 2000 "
            "AND s.id NOT IN (SELECT sku_id FROM flash_sales) ORDER BY s.id DESC LIMIT 1")).one()
    engine.dispose()
    return row[0], row[1], row[2]


def placed_and_paid(base_url: str, sku_id: int) -> int:
    """An order of one unit by a shopper registered through the API, paid in the sandbox."""
    email = f"desk-{secrets.token_hex(4)}@shoppers.test"
    with httpx.Client(base_url=base_url, timeout=30) as api:
        assert api.post("/api/v1/auth/register", json={"email": email, "password": "desk-shopper-9"}
                        ).status_code == 201
        token = api.post("/api/v1/auth/token", json={"email": email, "password": "desk-shopper-9"}
                         ).json()["access_token"]
        who = {"Authorization": f"Bearer {token}"}
        placed = api.post("/api/v1/orders", json={"lines": [{"sku_id": sku_id, "qty": 1}]}, headers=who)
        assert placed.status_code == 201, placed.text
        order_id = int(placed.json()["id"])
        paid = api.post(f"/api/v1/orders/{order_id}/pay", json={"method": "sandbox_ok"}, headers=who)
        assert paid.json()["status"] == "paid", paid.text
    return order_id


def test_the_merchant_puts_on_a_coupon_and_a_flash_sale_ships_a_part_and_exports_the_csv(
        open_tab: Callable[..., Shopper], start_server: Callable[..., AbstractContextManager[str]],
        demo_database: str) -> None:
    with start_server(clock=IN_THE_SALE) as base_url:
        merchant = open_tab(base_url)
        merchant.sign_in(MERCHANT, then="/seller/coupons")
        sku_id, title, price = quiet_sku(demo_database)
        store_coupon(merchant)
        flash_sale(merchant, sku_id, title, price)
        order_id = placed_and_paid(base_url, sku_id)
        ship(merchant, order_id, title)
        export(merchant, order_id)
        the_other_pages(merchant)


def store_coupon(merchant: Shopper) -> None:
    page = merchant.page
    merchant.look("desk-1-coupons")
    page.get_by_role("link", name="Put on a store coupon").click()
    page.get_by_label("Amount off").fill("5.00")
    page.get_by_role("button", name="Preview").click()
    preview = page.locator("[data-preview]")
    expect(preview).to_be_visible()
    expect(preview.locator(".applied")).to_contain_text("Store coupon −CN¥5.00")
    merchant.look("desk-2-coupon-preview")
    page.get_by_role("button", name="Put on").click()
    expect(page.locator(".notice")).to_contain_text("is on")
    expect(page.locator("table.desk-list")).to_contain_text("CN¥5.00 off any order from your store")
    merchant.look("desk-3-coupon-on")


def flash_sale(merchant: Shopper, sku_id: int, title: str, price: int) -> None:
    page = merchant.page
    merchant.goto("/seller/flash-sales")
    merchant.look("desk-4-flash-sales")
    page.get_by_role("link", name="Schedule a flash sale").click()
    page.get_by_label("SKU", exact=True).select_option(str(sku_id))
    page.get_by_label("Flash price").fill(f"{price // 200}.00")  # half price
    page.get_by_label("Quantity", exact=True).fill("20")
    page.get_by_label("Verified accounts only (email or phone)").check()
    page.get_by_label("Sample line 1").select_option(str(sku_id))
    page.get_by_label("Quantity, line 1").fill("1")
    page.get_by_label("Sample line 2").select_option("")
    page.get_by_role("button", name="Preview").click()
    expect(page.locator("[data-preview] .total-before")).to_have_text(f"CN¥{price / 100:,.2f}")
    expect(page.locator("[data-preview] .total-after")).to_have_text(f"CN¥{price // 200:,}.00")
    merchant.look("desk-5-flash-preview")
    page.get_by_role("button", name="Put on").click()
    expect(page.locator(".notice")).to_contain_text("is scheduled")
    expect(page.locator("table.desk-list")).to_contain_text(title)
    merchant.look("desk-6-flash-on")


def ship(merchant: Shopper, order_id: int, title: str) -> None:
    page = merchant.page
    merchant.goto("/seller/orders?status=paid")
    # the whole link's name: "of order 1" is also in "of order 14"
    link = page.get_by_role("link", name=re.compile(rf"^Part \d+ of order {order_id}$"))
    row = page.locator("tr[data-part]").filter(has=link)
    expect(row).to_contain_text(title)
    merchant.look("desk-7-orders")
    row.get_by_role("link").click()
    merchant.look("desk-8-part")
    page.get_by_label("Carrier").fill("SF Express")
    page.get_by_label("Tracking number").fill("SF7001")
    page.get_by_role("button", name="Mark as shipped").click()
    expect(page.locator(".notice")).to_contain_text("Shipped")
    expect(page.locator(".shipped")).to_contain_text("SF Express")
    merchant.look("desk-9-shipped")


def export(merchant: Shopper, order_id: int) -> None:
    page = merchant.page
    merchant.goto("/seller/orders")
    with page.expect_download() as download:
        page.get_by_role("link", name="Export as CSV").click()
    assert download.value.suggested_filename == "shopfest-orders-merchant-1.csv"
    exported = Path(download.value.path()).read_text(encoding="utf-8")
    assert exported.startswith("part_id,order_id,placed_at,status")
    assert f",{order_id}," in exported and "SF7001" in exported


def the_other_pages(merchant: Shopper) -> None:
    for n, path in enumerate(["/seller/returns", "/seller/presales", "/seller/presales/new",
                              "/seller/promotions", "/seller/promotions/new?kind=store_threshold",
                              "/seller/coupons/new?lang=zh"], start=10):
        merchant.goto(path)
        merchant.look(f"desk-{n}-{path.strip('/').replace('/', '-').replace('?', '-')}")
