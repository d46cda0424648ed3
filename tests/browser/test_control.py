"""The control room in Chromium: the demo's operator looks over the festival, adds a luxury brand and
approves it, admits a merchant with a staff account, grows the category tree, previews and puts on a
cross-store promotion, and a shopper's cart then shows its discount."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from contextlib import AbstractContextManager

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser.harness import OPERATOR, SHOPPER, Shopper

pytestmark = pytest.mark.browser

# Late on 11.11, in a window of its own: the promotion put on here reaches no other test's moment.
LATE_IN_THE_SALE = "2027-11-11T21:30:00+08:00"
WINDOW = ("2027-11-11T21:10", "2027-11-11T21:50")
PRICE = "150.00"  # two make 300.00: "every 100.00, 60.00 off" takes 180.00 (the demo's takes 40.00)


def test_an_operator_approves_a_luxury_brand_and_puts_on_a_promotion_the_cart_shows(
        open_tab: Callable[..., Shopper], start_server: Callable[..., AbstractContextManager[str]]) -> None:
    with start_server(clock=LATE_IN_THE_SALE) as base_url:
        operator = open_tab(base_url)
        tag = secrets.token_hex(3)
        looks_over_the_festival(operator)
        adds_and_approves_a_luxury_brand(operator, f"Maison Lumière {tag}")
        category = grows_the_category_tree(operator, f"lumiere-{tag}")
        staff_email = admits_a_merchant_with_staff(operator, tag)
        product_id, sku_id = staff_lists_a_product(base_url, staff_email, category=category, tag=tag)
        previews_and_puts_on_a_cross_store_promotion(operator, sku_id)
        the_shoppers_cart_shows_it(open_tab(base_url), product_id, sku_id)


def looks_over_the_festival(operator: Shopper) -> None:
    operator.sign_in(OPERATOR, then="/control")
    page = operator.page
    expect(page.locator("h1")).to_have_text("Festival overview")
    expect(page.locator("table.sales tbody tr").first).to_contain_text("The whole festival so far")
    operator.look("control-1-overview")
    operator.goto("/control/calendar")
    expect(page.locator("tr[data-phase='wave2-sale'] .state")).to_have_text("On now")
    operator.look("control-2-calendar")


def adds_and_approves_a_luxury_brand(operator: Shopper, name: str) -> None:
    page = operator.page
    operator.goto("/control/brands")
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Tier", exact=True).last.select_option("luxury")
    page.get_by_role("button", name="Add brand").click()
    expect(page.locator(".notice")).to_have_text(f"{name} is added and waits for approval below.")
    waiting = page.locator(".waiting-list li", has_text=name)
    expect(waiting).to_be_visible()
    operator.look("control-3-brand-waiting")
    waiting.get_by_role("button", name=f"Approve {name}").click()
    expect(page.locator(".notice")).to_have_text(f"{name} is approved.")
    expect(page.locator(".waiting-list li", has_text=name)).to_have_count(0)
    page.get_by_label("Name contains").fill(name)
    page.get_by_role("button", name="Find").click()
    expect(page.locator("table.brands tbody tr")).to_have_count(1)
    expect(page.locator("table.brands tbody tr .state")).to_have_text("Approved")
    operator.look("control-4-brand-approved")


def grows_the_category_tree(operator: Shopper, slug: str) -> str:
    page = operator.page
    operator.goto("/control/categories")
    page.get_by_label("Slug (lower-case words joined by hyphens)").fill(slug)
    page.get_by_label("Name", exact=True).fill("Lumière lamps")
    page.get_by_role("button", name="Add category").click()
    expect(page.locator(f"li[data-slug='{slug}']")).to_contain_text("Lumière lamps")
    operator.look("control-5-categories")
    return slug


def admits_a_merchant_with_staff(operator: Shopper, tag: str) -> str:
    """A merchant selling a regular brand of its own, and a staff account for it."""
    page = operator.page
    operator.goto("/control/brands")
    page.get_by_label("Name", exact=True).fill(f"Lumière Lamps {tag}")
    page.get_by_role("button", name="Add brand").click()
    expect(page.locator(".notice")).to_have_text(f"Lumière Lamps {tag} is added.")
    page.get_by_label("Name contains").fill(f"Lumière Lamps {tag}")
    page.get_by_role("button", name="Find").click()
    expect(page.locator("table.brands tbody tr")).to_have_count(1)
    brand_id = page.locator("table.brands tbody tr").get_attribute("data-brand")
    operator.goto("/control/merchants")
    operator.look("control-6-merchants")
    page.get_by_label("Name", exact=True).fill(f"Lumière Boutique {tag}")
    page.get_by_label("Brands it sells (brand IDs, separated by commas)").fill(f"{brand_id}")
    page.get_by_role("button", name="Admit merchant").click()
    expect(page.locator(".notice")).to_have_text("The merchant is admitted.")
    email = f"staff-{tag}@lumiere.test"
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password (10 characters or more, not a common one)").fill("lumiere-staff-secret")
    page.get_by_role("button", name="Add staff account").click()
    expect(page.locator("ul.staff li")).to_have_text(email)
    expect(page.locator(".merchant-facts")).to_contain_text(f"Lumière Lamps {tag} ({brand_id})")
    operator.look("control-7-merchant")
    return email


def staff_lists_a_product(base_url: str, email: str, *, category: str, tag: str) -> tuple[int, int]:
    """The merchant's staff list a lamp through the API (the seller centre's pages are another's)."""
    with httpx.Client(base_url=base_url) as api:
        token = api.post("/api/v1/auth/token", json={"email": email, "password": "lumiere-staff-secret"})
        assert token.status_code == 200, token.text
        me = {"Authorization": f"Bearer {token.json()['access_token']}"}
        merchant_id = api.get("/api/v1/me", headers=me).json()["merchant_id"]
        brand_id = sorted(api.get(f"/api/v1/merchants/{merchant_id}", headers=me).json()["brand_ids"])[0]
        listed = api.post("/api/v1/products", headers=me, json={
            "title": f"Lumière desk lamp {tag}", "brand_id": brand_id, "category": category,
            "fulfilment": "shipped",
            "skus": [{"code": "std", "price": {"amount": PRICE, "currency": "CNY"}, "stock": 20}]})
        assert listed.status_code == 201, listed.text
        product = listed.json()
    return int(product["id"]), int(product["skus"][0]["id"])


def previews_and_puts_on_a_cross_store_promotion(operator: Shopper, sku_id: int) -> None:
    page = operator.page
    operator.goto("/control/campaigns")
    expect(page.locator(".explain")).to_contain_text("For every full amount of “every”")
    page.get_by_label("Every (spent across stores)").fill("100.00")
    page.get_by_label("Off", exact=True).fill("60.00")
    page.get_by_label("Starts (Asia/Shanghai time)").fill(WINDOW[0])
    page.get_by_label("Ends (Asia/Shanghai time)").fill(WINDOW[1])
    page.get_by_label("SKU ID, line 1").fill(str(sku_id))
    page.get_by_label("Quantity, line 1").fill("2")
    page.get_by_role("button", name="Preview").click()
    expect(page.locator(".says")).to_have_text("Every CN¥100.00 spent across stores takes CN¥60.00 off.")
    # the sample's other lines are the form's own, of other stores: the offer spreads over all of them
    expect(page.locator(f".preview-lines tr[data-sku='{sku_id}']")).to_contain_text("Lumière desk lamp")
    expect(page.locator(".discounts .this-offer")).to_contain_text("Across stores")
    expect(page.locator(".preview-totals .saved")).not_to_have_text("−CN¥0.00")
    operator.look("control-8-campaign-preview")
    page.get_by_role("button", name="Put on").click()
    expect(page.locator(".notice")).to_contain_text("cross-store promotion")
    promotion = page.locator("table.on-promotions tbody tr", has_text="CN¥60.00")
    expect(promotion).to_have_count(1)
    expect(promotion).to_contain_text("Every CN¥100.00 spent across stores takes CN¥60.00 off.")
    operator.look("control-9-campaign-on")


def the_shoppers_cart_shows_it(shopper: Shopper, product_id: int, sku_id: int) -> None:
    shopper.sign_in(SHOPPER, then=f"/products/{product_id}")
    page = shopper.page
    row = page.locator(f"tr[data-sku='{sku_id}']")
    row.locator("input[name=qty]").fill("2")
    row.locator(".add-to-cart button").click()
    page.wait_for_url(shopper.base_url + "/cart")
    expect(page.locator(".cart-totals .subtotal")).to_have_text("CN¥300.00")
    expect(page.locator(".cart ul.savings li")).to_have_text(re.compile(r"Across stores −CN¥180\.00"))
    expect(page.locator(".cart-totals .total")).to_have_text("CN¥120.00")
    shopper.look("control-10-shoppers-cart")
