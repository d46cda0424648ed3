"""The festival's discounts in Chromium: a product's festival price and nudge, the cart's breakdown,
and checking the cart out."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager

import pytest
from playwright.sync_api import expect
from sqlalchemy import create_engine, text

from tests.browser.harness import Shopper

pytestmark = pytest.mark.browser

EVERY, OFF = 30000, 4000  # the demo's cross-store promotion: every 300.00, 40.00 off
IN_THE_SALE = "2027-11-11T00:30:00+08:00"


def yuan(minor: int) -> str:
    return f"CN¥{minor / 100:,.2f}"


def plain_sku(database_url: str) -> tuple[int, int, int]:
    """(product, SKU, price) of a regular brand's shipped SKU under 300.00 whose store runs no
    promotion of its own: only the demo's cross-store promotion reaches it."""
    engine = create_engine(database_url)
    with engine.connect() as conn:
        row = conn.execute(text(
            "SELECT p.id, s.id, s.price_minor FROM products p JOIN skus s ON s.product_id = p.id "
            "WHERE p.brand_tier = 'regular' AND p.fulfilment = 'shipped' AND s.currency = 'CNY' "
            "AND s.price_minor BETWEEN 15001 AND 29900 AND p.merchant_id NOT IN "
            "(SELECT merchant_id FROM promotions WHERE merchant_id IS NOT NULL) ORDER BY s.id LIMIT 1")).one()
    engine.dispose()
    return row[0], row[1], row[2]


def test_the_festival_price_nudges_and_the_cart_explains_every_discount(
        open_tab: Callable[..., Shopper], start_server: Callable[..., AbstractContextManager[str]],
        demo_database: str) -> None:
    # given a server half an hour into 11.11: the demo's promotions are on in the sale only
    with start_server(clock=IN_THE_SALE) as base_url:
        festival_price_nudges_and_the_cart_explains_every_discount(open_tab(base_url), demo_database)


def festival_price_nudges_and_the_cart_explains_every_discount(shopper: Shopper, demo_database: str) -> None:
    product_id, sku_id, price = plain_sku(demo_database)
    page = shopper.page
    # given the product page: one unit does not reach 300.00, so it costs its list price, and the
    # page says how much more would save 40.00
    shopper.goto(f"/products/{product_id}")
    row = page.locator(f"tr[data-sku='{sku_id}']")
    expect(row.locator(".festival-price")).to_have_text(yuan(price))
    expect(row.locator(".hint")).to_have_text(f"Add {yuan(EVERY - price)} more to save {yuan(OFF)} more")

    # when two go into the cart (over 300.00, under 600.00), then the cart takes 40.00 off
    row.locator("input[name=qty]").fill("2")
    row.locator(".add-to-cart button").click()
    page.wait_for_url(shopper.base_url + "/cart")
    expect(page.locator(".cart-lines .qty input[name=qty]")).to_have_value("2")
    expect(page.locator(".cart-totals .subtotal")).to_have_text(yuan(2 * price))
    expect(page.locator(".cart-totals .total")).to_have_text(yuan(2 * price - OFF))
    expect(page.locator(".cart ul.savings li")).to_have_text(f"Across stores −{yuan(OFF)} (from the store)")
    expect(page.locator(".cart-lines .adjustments li")).to_have_text(f"Across stores −{yuan(OFF)}")
    shopper.screenshot("9-cart")

    # and checking out asks a shopper to sign in first; signed in, the cart becomes an order
    expect(page.locator(".sign-in-first")).to_be_visible()
    shopper.goto("/login")
    page.locator("input[name=email]").fill("shopper@shopfest.demo")
    page.locator("input[name=password]").fill("festival-shopper")
    page.locator(".login button[type=submit]").click()
    page.wait_for_url(shopper.base_url + "/")
    shopper.goto("/cart")
    page.locator("button.checkout").click()
    expect(page.locator(".placed")).to_contain_text(f"is placed: {yuan(2 * price - OFF)}")
    expect(page.locator(".cart .empty")).to_be_visible()


def test_a_cart_over_the_units_left_says_so_on_the_line_and_will_not_check_out(
        shopper: Shopper, demo_database: str) -> None:
    engine = create_engine(demo_database)
    with engine.connect() as conn:
        product_id, sku_id, left = conn.execute(text(
            "SELECT s.product_id, s.id, l.on_hand - l.reserved - l.sold FROM skus s "
            "JOIN stock_levels l ON l.sku_id = s.id WHERE l.on_hand - l.reserved - l.sold BETWEEN 1 AND 20 "
            "ORDER BY s.id LIMIT 1")).one()
    engine.dispose()
    page = shopper.page
    # given a product with a few units left, when one more than that goes into the cart
    shopper.goto(f"/products/{product_id}")
    row = page.locator(f"tr[data-sku='{sku_id}']")
    row.locator("input[name=qty]").fill(str(left + 1))
    row.locator(".add-to-cart button").click()
    page.wait_for_url(shopper.base_url + "/cart")
    # then the line says how many are left, and checking out waits until it is lowered
    expect(page.locator(f"tr[data-sku='{sku_id}'] .line-problem")).to_have_text(
        f"Only {left} left: lower the quantity to check out.")
    shopper.screenshot("10-cart-over-stock")
