"""The shopper's orders in Chromium: a new shopper checks out, pays (declined, then approved), finds the
order in My orders, the merchant ships it in the seller centre, the shopper says it arrived (completed,
with its time), asks for a return, the merchant accepts it in the seller centre and the shopper sees the
refund; and a pre-sale's deposit, then its balance in the balance window. Every page is looked at
(axe-core)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import httpx
import pytest
from playwright.sync_api import Locator, Page, expect
from sqlalchemy import create_engine, text

from tests.browser.harness import MERCHANT, Shopper, add_a_delivery_address

pytestmark = pytest.mark.browser

IN_THE_SALE = "2027-11-11T10:00:00+08:00"
IN_THE_DEPOSIT_WINDOW = "2027-11-05T20:00:00+08:00"
PASSWORD = "orders-secret-1"
NARROW = {"width": 390, "height": 844}


def merchant_one_sku(database_url: str, *, newest: bool) -> tuple[int, int, int]:
    """(product, SKU, price) of a shipped SKU of merchant 1 (the demo merchant's) with units left, on
    no flash sale and no pre-sale: the first of them, or the last (for the pre-sale)."""
    engine = create_engine(database_url)
    with engine.connect() as conn:
        row = conn.execute(text(
            "SELECT p.id, s.id, s.price_minor FROM products p JOIN skus s ON s.product_id = p.id "
            "JOIN stock_levels l ON l.sku_id = s.id WHERE p.merchant_id = 1 AND p.fulfilment = 'shipped' "
            "AND l.on_hand - l.reserved - l.sold >= 5 AND s.price_minor >= 10000 "
            "AND s.id NOT IN (SELECT sku_id FROM flash_sales) "
            "AND s.id NOT IN (SELECT sku_id FROM presale_offers) "
            f"ORDER BY s.id {'DESC' if newest else 'ASC'} LIMIT 1")).one()
    engine.dispose()
    return row[0], row[1], row[2]


def api(base_url: str, method: str, path: str, *, token: str | None = None, json: Any = None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    answer = httpx.request(method, f"{base_url}/api/v1{path}", json=json, headers=headers, timeout=30)
    assert answer.status_code < 300, answer.text
    return answer.json() if answer.content else None


def token_of(base_url: str, account: tuple[str, str]) -> str:
    found = api(base_url, "POST", "/auth/token", json={"email": account[0], "password": account[1]})
    return str(found["access_token"])


def new_shopper(base_url: str) -> tuple[str, str]:
    """A shopper of this test's own, registered through the API (the sign-up page is another's)."""
    email = f"orders-{uuid.uuid4().hex[:10]}@shoppers.test"
    api(base_url, "POST", "/auth/register", json={"email": email, "password": PASSWORD})
    return email, PASSWORD


def fits_narrow_screen(shopper: Shopper, name: str) -> None:
    """At 390 px the order's content needs no sideways scroll."""
    page = shopper.page
    page.set_viewport_size(NARROW)
    overflow = page.evaluate("() => { const m = document.querySelector('.side-main');"
                             " return m.scrollWidth - m.clientWidth; }")
    right = page.evaluate("() => document.querySelector('.side-main').getBoundingClientRect().right")
    shopper.screenshot(f"{name}-390")
    page.set_viewport_size({"width": 1280, "height": 900})
    assert overflow <= 0 and right <= NARROW["width"], (overflow, right)


def buy_one(shopper: Shopper, product_id: int, sku_id: int) -> int:
    """Product page → cart → a delivery address → check out → the "Pay now" link; the order's id."""
    page = shopper.page
    shopper.goto(f"/products/{product_id}")
    page.locator(f"tr[data-sku='{sku_id}'] .add-to-cart button").click()
    page.wait_for_url(shopper.base_url + "/cart")
    add_a_delivery_address(shopper)  # a new account's first shipped goods
    page.locator("button.checkout").click()
    expect(page.locator(".placed")).to_contain_text("is placed")
    page.locator("a.pay-now-link").click()
    page.wait_for_url(f"{shopper.base_url}/account/orders/*/pay")
    return int(page.url.rsplit("/", 2)[-2])


def part_link(page: Page, order_id: int) -> Locator:
    """The seller centre's link to the part of this order (not of order 10 when it is order 1)."""
    return page.get_by_role("link", name=re.compile(rf"^Part \d+ of order {order_id}$"))


def merchant_ships(merchant: Shopper, order_id: int) -> None:
    """The seller centre's paid parts → the part's page → its ship form, with carrier and tracking."""
    page = merchant.page
    merchant.goto("/seller/orders?status=paid")
    row = page.locator("tr[data-part]").filter(has=part_link(page, order_id))
    expect(row.locator(".status")).to_have_text("Paid — to ship")
    merchant.look("orders-merchant-1-parts")
    row.get_by_role("link").click()
    page.get_by_label("Carrier").fill("SF Express")
    page.get_by_label("Tracking number").fill("SF20271111")
    merchant.look("orders-merchant-2-part")
    page.get_by_role("button", name="Mark as shipped").click()
    expect(page.locator(".notice")).to_contain_text("Shipped")
    expect(page.locator(".shipped")).to_contain_text("SF Express, tracking SF20271111")
    merchant.look("orders-merchant-3-shipped")


def merchant_accepts_the_return(merchant: Shopper, order_id: int) -> None:
    """The seller centre's returns page: the shopper's request, accepted with the goods back."""
    page = merchant.page
    merchant.goto("/seller/returns")
    asked = page.locator("section.return").filter(has=part_link(page, order_id))
    expect(asked.locator(".reason")).to_have_text("It arrived scratched")
    merchant.look("orders-merchant-4-returns")
    asked.get_by_label("The goods came back: put them on sale again").check()
    asked.get_by_role("button", name=re.compile("^Accept and refund")).click()
    expect(page.locator(".notice")).to_have_text("Return accepted: the refund is on its way.")
    expect(asked).to_have_count(0)
    merchant.look("orders-merchant-5-return-accepted")


def test_a_shopper_pays_declined_then_approved_and_gets_a_return_refunded(
        open_tab: Callable[..., Shopper], start_server: Callable[..., AbstractContextManager[str]],
        demo_database: str) -> None:
    with start_server(clock=IN_THE_SALE) as base_url:
        product_id, sku_id, _ = merchant_one_sku(demo_database, newest=False)
        shopper = open_tab(base_url)
        page = shopper.page
        shopper.sign_in(new_shopper(base_url), then="/")
        order_id = buy_one(shopper, product_id, sku_id)

        # the pay page: what is due, the countdown to pay by, the sandbox's three ways to pay
        expect(page.locator(".order-countdown .countdown-label")).to_have_text("Pay within")
        shopper.look("orders-1-pay")
        fits_narrow_screen(shopper, "orders-1-pay")
        page.get_by_label("Test card — declined").check()
        page.locator("button.pay-button").click()
        expect(page.locator(".pay-page .error")).to_contain_text("The payment was declined")
        shopper.look("orders-2-declined")
        page.get_by_label("Test card — approved", exact=True).check()
        page.locator("button.pay-button").click()
        expect(page.locator(".pay-page .paid")).to_have_text("Paid — thank you.")
        shopper.look("orders-3-paid")

        # my orders, and the order's detail
        shopper.goto("/account/orders")
        row = page.locator(f".order-row[data-order='{order_id}']")
        expect(row.locator(".status")).to_have_text("Paid")
        shopper.look("orders-4-list")
        row.get_by_role("link", name=f"Order {order_id}").click()
        expect(page.locator(".part .status")).to_have_text("Paid")
        expect(page.locator(".timeline").first).to_contain_text("Paid")
        shopper.look("orders-5-detail")
        fits_narrow_screen(shopper, "orders-5-detail")

        # the merchant, in a tab of their own, finds the part in the seller centre and ships it
        merchant = open_tab(base_url)
        merchant.sign_in(MERCHANT, then="/seller/orders")
        merchant_ships(merchant, order_id)
        page.reload()
        expect(page.locator(".timeline").first).to_contain_text("SF Express, tracking number SF20271111")

        # the parcel arrives: the shopper says so, and the part is completed, with its time
        page.get_by_role("button", name="I have received it").click()
        expect(page.locator(".order-detail .notice")).to_have_text("Thank you: the part is completed.")
        expect(page.locator(".part .status")).to_have_text("Completed")
        completed = page.locator(".timeline").first.locator("li", has_text="Completed")
        expect(completed.locator(".when")).to_have_text(re.compile(r"^Nov 11, 2027, \d\d:\d\d \(.+ time\)$"))
        expect(page.get_by_role("button", name="I have received it")).to_have_count(0)
        shopper.look("orders-5b-completed")

        # a completed part may still be sent back
        page.locator(f"input[name='units-{sku_id}']").fill("1")
        page.get_by_label("Why are you returning them?").fill("It arrived scratched")
        page.get_by_role("button", name="Ask for a return").click()
        expect(page.locator(".order-detail .notice")).to_contain_text(
            "Your return request is with the merchant")
        shopper.look("orders-6-return-asked")

        # the merchant accepts it on the returns page; the shopper sees the money back on the timeline
        merchant_accepts_the_return(merchant, order_id)
        shopper.goto(f"/account/orders/{order_id}")
        expect(page.locator(".timeline").first).to_contain_text("Return accepted")
        expect(page.locator(".timeline").first).to_contain_text("refunded")
        shopper.look("orders-7-refunded")
        page.get_by_role("link", name="Receipt").click()
        expect(page.locator("h1")).to_have_text(f"Receipt for order {order_id}")
        shopper.look("orders-8-receipt")


def test_a_pre_sale_deposit_then_its_balance_in_the_balance_window(
        open_tab: Callable[..., Shopper], start_private_server: Callable[..., AbstractContextManager[str]],
        demo_database: str) -> None:
    # on a copy of the data: the shared server, on the eve of 11.11, would close the deposit window
    product_id, sku_id, price = merchant_one_sku(demo_database, newest=True)
    deposit = price // 10
    with start_private_server(clock=IN_THE_DEPOSIT_WINDOW) as base_url:
        api(base_url, "PUT", "/presales", token=token_of(base_url, MERCHANT),
            json={"sku_id": sku_id, "deposit": {"amount": f"{deposit / 100:.2f}", "currency": "CNY"}})
        account = new_shopper(base_url)
        shopper = open_tab(base_url)
        page = shopper.page
        shopper.sign_in(account, then="/")
        order_id = buy_one(shopper, product_id, sku_id)
        # before the deposit is paid, the page says plainly what forfeiting means
        expect(page.locator(".pay-page .due")).to_contain_text("the deposit")
        expect(page.locator(".presale .forfeit")).to_contain_text("is not returned")
        shopper.look("orders-presale-1-deposit")
        page.get_by_label("Test card — approved", exact=True).check()
        page.locator("button.pay-button").click()
        expect(page.locator(".pay-page .notice")).to_contain_text("Your deposit is paid")
        expect(page.locator(".presale-countdown .countdown-label")).to_have_text("Balance window opens in")
        shopper.look("orders-presale-2-deposit-paid")

    with start_private_server(clock=IN_THE_SALE) as base_url:
        shopper = open_tab(base_url)
        page = shopper.page
        shopper.sign_in(account, then=f"/account/orders/{order_id}/pay")
        expect(page.locator(".pay-page .due")).to_contain_text("the balance")
        expect(page.locator(".presale-countdown .countdown-label")).to_have_text("Balance window closes in")
        shopper.look("orders-presale-3-balance")
        page.get_by_label("Test card — approved", exact=True).check()
        page.locator("button.pay-button").click()
        expect(page.locator(".pay-page .paid")).to_have_text("Paid — thank you.")
        shopper.goto(f"/account/orders/{order_id}")
        expect(page.locator(".order-detail > .meta .status")).to_have_text("Paid")
        expect(page.locator(".timeline").first).to_contain_text("Deposit paid")
        shopper.look("orders-presale-4-paid")
