"""The shopper's account in Chromium: sign up on the page, read the festival in Chinese from the
settings, keep a delivery address, check out shipped goods to it, change the password and sign out
everywhere."""

from __future__ import annotations

import json
import uuid

import pytest
from playwright.sync_api import expect
from sqlalchemy import create_engine, text

from tests.browser.harness import Shopper

pytestmark = pytest.mark.browser

PASSWORD, NEW_PASSWORD = "paper-lanterns-at-dusk", "moon-cakes-by-the-river"
NARROW = {"width": 390, "height": 844}


def shipped_product(database_url: str) -> tuple[int, int]:
    """(product, SKU) of shipped goods with plenty left and no flash sale or pre-sale on it."""
    engine = create_engine(database_url)
    with engine.connect() as conn:
        row = conn.execute(text(
            "SELECT p.id, s.id FROM products p JOIN skus s ON s.product_id = p.id "
            "JOIN stock_levels l ON l.sku_id = s.id WHERE p.fulfilment = 'shipped' AND s.currency = 'CNY' "
            "AND l.on_hand - l.reserved - l.sold >= 20 AND s.id NOT IN (SELECT sku_id FROM flash_sales) "
            "ORDER BY s.id DESC LIMIT 1")).one()
    engine.dispose()
    return row[0], row[1]


def delivered_to(database_url: str, email: str) -> list[dict[str, str]]:
    """The addresses the orders of the account with this email keep."""
    engine = create_engine(database_url)
    with engine.connect() as conn:
        kept = conn.execute(text(
            "SELECT d.address FROM order_deliveries d JOIN orders o ON o.id = d.order_id "
            "JOIN users u ON u.id = o.shopper_id WHERE u.email = :e"), {"e": email}).scalars().all()
    engine.dispose()
    return [json.loads(k) if isinstance(k, str) else k for k in kept]


def fits_a_phone(shopper: Shopper, name: str) -> None:
    """At 390 px wide nothing of the page's own content reaches past the screen's edge (the header
    is the storefront's: issue 17's "Mobile" item); kept as a screenshot too."""
    page = shopper.page
    page.set_viewport_size(NARROW)
    past_the_edge = page.evaluate(
        "[...document.querySelectorAll('main *')].filter(e => e.getBoundingClientRect().right > "
        f"{NARROW['width']} + 0.5).map(e => e.tagName + '.' + e.className)")
    assert past_the_edge == []
    shopper.screenshot(f"{name}-390")
    page.set_viewport_size({"width": 1280, "height": 900})


def test_a_new_shopper_signs_up_reads_chinese_keeps_an_address_checks_out_and_signs_out_everywhere(
        shopper: Shopper, demo_database: str) -> None:
    page = shopper.page
    email = f"lin-{uuid.uuid4().hex[:8]}@shoppers.test"

    # given the sign-up page, reached from the sign-in page
    shopper.goto("/login?next=/account")
    page.get_by_role("link", name="New to ShopFest? Create an account").click()
    page.wait_for_url(f"{shopper.base_url}/signup?next=/account")
    expect(page.locator(".signup .notice")).to_contain_text("We will send a mail to this address")
    shopper.look("account-1-signup")
    fits_a_phone(shopper, "account-1-signup")

    # when a too short password is tried first, the page says why beside it
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill("short")
    page.get_by_role("button", name="Create account").click()
    expect(page.locator("#e-password")).to_have_text("A password is 10 to 256 characters.")
    shopper.look("account-2-signup-refused")

    # then with a good one the shopper is signed in, on the settings page asked for
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    page.wait_for_url(f"{shopper.base_url}/account", timeout=60_000)  # the password is hashed on a busy CI
    expect(page.locator(".who-am-i")).to_have_text(f"Signed in as {email}")
    expect(page.locator(".unverified")).to_contain_text("check your inbox")
    shopper.look("account-3-settings")
    fits_a_phone(shopper, "account-3-settings")

    # when Chinese is chosen in the settings, the pages read Chinese
    page.locator("#f-language").select_option("zh")
    page.locator("form[action='/account/profile'] button[type=submit]").click()
    page.wait_for_url(f"{shopper.base_url}/account?saved=profile")
    expect(page.locator("h1")).to_have_text("账户设置")
    expect(page.locator(".notice[role=status]")).to_have_text("已保存：页面将按您选择的语言和币种显示。")
    shopper.look("account-4-settings-zh")
    shopper.goto("/")
    expect(page.locator("nav.account")).to_contain_text("我的订单")

    # a delivery address, kept in the address book
    shopper.goto("/account/addresses")
    expect(page.locator(".empty")).to_have_text("还没有收货地址，请为需要配送的商品添加一个。")
    shopper.look("account-5-addresses-empty")
    page.get_by_label("收货人姓名").fill("林小雨")
    page.get_by_label("手机号（含国家区号）").fill("+86 139 0000 1111")
    page.get_by_label("城市").fill("杭州")
    page.get_by_label("详细地址").fill("文一西路 969 号")
    page.get_by_label("邮政编码（选填）").fill("311121")
    page.get_by_role("button", name="保存地址").click()
    page.wait_for_url(f"{shopper.base_url}/account/addresses?saved=added")
    expect(page.locator(".address")).to_contain_text("林小雨")
    shopper.look("account-6-addresses")
    fits_a_phone(shopper, "account-6-addresses")

    # shipped goods in the cart: the checkout form asks where they go, and the order keeps it
    product_id, sku_id = shipped_product(demo_database)
    shopper.goto(f"/products/{product_id}")
    page.locator(f"tr[data-sku='{sku_id}'] .add-to-cart button").click()
    page.wait_for_url(f"{shopper.base_url}/cart")
    choice = page.get_by_label("配送至")
    expect(choice).to_be_visible()
    expect(choice.locator("option")).to_have_text(["林小雨, 文一西路 969 号, 杭州 CN"])
    shopper.look("account-7-cart-address")
    choice.select_option(index=0)
    page.locator("button.checkout").click()
    expect(page.locator(".placed")).to_be_visible()
    shopper.look("account-8-placed")
    [kept] = delivered_to(demo_database, email)
    assert (kept["name"], kept["line1"], kept["city"]) == ("林小雨", "文一西路 969 号", "杭州")

    # the password changed: this browser stays signed in
    shopper.goto("/account")
    page.get_by_label("当前密码").fill(PASSWORD)
    page.get_by_label("新密码", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("再次输入新密码").fill(NEW_PASSWORD)
    page.get_by_role("button", name="修改密码").click()
    page.wait_for_url(f"{shopper.base_url}/account?saved=password", timeout=60_000)
    expect(page.locator(".notice[role=status]")).to_have_text("密码已修改，其他设备均已退出登录。")
    shopper.look("account-9-password-changed")

    # signing out everywhere ends this session too: the account asks for a sign-in again
    page.get_by_role("button", name="在所有设备上退出登录").click()
    page.wait_for_url(f"{shopper.base_url}/login")
    shopper.look("account-10-signed-out")
    shopper.goto("/account")
    page.wait_for_url(f"{shopper.base_url}/login?next=%2Faccount")
    shopper.sign_in((email, NEW_PASSWORD), then="/account")
    expect(page.locator("h1")).to_have_text("账户设置")
