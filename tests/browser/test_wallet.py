"""The wallet and the deals in Chromium: a new shopper claims a red envelope in the coupon centre, finds
it in the wallet, checks out a service voucher with it, pays, and finds the envelope spent and the
voucher's QR code; the flash zone counts down a running flash sale; both fit a 390 px phone."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser.harness import MERCHANT, Shopper

pytestmark = pytest.mark.browser

IN_THE_SALE = "2027-11-11T10:00:00+08:00"  # 11.11's sale is on: so are the demo's coupons
PHONE_WIDTH = 390


class Api:
    """The JSON API of the server under test, for the steps another page (or helper) owns."""

    def __init__(self, base_url: str) -> None:
        self.http = httpx.Client(base_url=base_url + "/api/v1", timeout=30)

    def token(self, email: str, password: str) -> dict[str, str]:
        answer = self.http.post("/auth/token", json={"email": email, "password": password})
        assert answer.status_code == 200, answer.text
        return {"Authorization": f"Bearer {answer.json()['access_token']}"}

    def call(self, method: str, path: str, who: dict[str, str], body: Any = None) -> Any:
        answer = self.http.request(method, path, json=body, headers=who)
        assert answer.status_code < 300, answer.text
        return answer.json()


def new_shopper(api: Api) -> tuple[str, str]:
    email, password = f"wallet-{uuid.uuid4().hex[:10]}@shoppers.test", "wallet-shopper-1"
    answer = api.http.post("/auth/register", json={"email": email, "password": password})
    assert answer.status_code == 201, answer.text
    return email, password


def merchant_product(api: Api, *, title: str, price: str, fulfilment: str) -> dict[str, Any]:
    """A product of the demo's merchant 1, made through the API as its staff."""
    staff = api.token(*MERCHANT)
    me = api.call("GET", "/me", staff)
    brand_id = api.call("GET", f"/merchants/{me['merchant_id']}", staff)["brand_ids"][0]
    category = api.call("GET", "/categories", staff)[0]["slug"]
    return dict(api.call("POST", "/products", staff, {
        "title": title, "brand_id": brand_id, "category": category, "fulfilment": fulfilment,
        "skus": [{"code": "std", "price": {"amount": price, "currency": "CNY"}, "stock": 50}]}))


def fits_the_phone(shopper: Shopper, path: str, name: str) -> None:
    shopper.page.set_viewport_size({"width": PHONE_WIDTH, "height": 844})
    shopper.goto(path)
    width = shopper.page.evaluate("document.scrollingElement.scrollWidth")
    shopper.screenshot(f"{name}-390")
    assert width <= PHONE_WIDTH, f"{path} is {width} px wide at {PHONE_WIDTH} px"
    shopper.page.set_viewport_size({"width": 1280, "height": 900})


def test_a_new_shopper_claims_a_red_envelope_spends_it_and_finds_the_vouchers_qr_code(
        open_tab: Callable[..., Shopper], start_server: Callable[..., AbstractContextManager[str]]) -> None:
    with start_server(clock=IN_THE_SALE) as base_url:
        api = Api(base_url)
        spa = merchant_product(api, title=f"Lotus spa day {uuid.uuid4().hex[:6]}", price="200.00",
                               fulfilment="service_voucher")
        account = new_shopper(api)
        shopper = open_tab(base_url)
        claim_spend_and_see_the_voucher(shopper, api, account, spa)
        fits_the_phone(shopper, "/deals", "wallet-6-deals")
        fits_the_phone(shopper, "/account/wallet", "wallet-7-wallet")


def claim_spend_and_see_the_voucher(shopper: Shopper, api: Api, account: tuple[str, str],
                                    spa: dict[str, Any]) -> None:
    page = shopper.page
    # given a new shopper in the coupon centre
    shopper.sign_in(account, then="/deals")
    envelope = page.locator("li.coupon.red_envelope").filter(has_text="CN¥11.11 off").first
    expect(envelope).to_contain_text("Every store (from the platform)")
    expect(envelope).to_contain_text("You have claimed 0")
    shopper.look("wallet-1-deals")
    coupon_id = envelope.get_attribute("data-coupon")
    # when they claim the red envelope
    envelope.get_by_role("button", name=re.compile("^Claim")).click()
    expect(page.locator(".said")).to_contain_text("Claimed: it is in your wallet.")
    expect(page.locator(f"#coupon-{coupon_id}")).to_contain_text("In your wallet")
    # then their wallet holds it (11.11's sale ends within the day: expiring soon)
    page.get_by_role("link", name="See your wallet").click()
    shelf = page.locator("[data-shelf=expiring]")
    expect(shelf.locator(f"[data-coupon='{coupon_id}']")).to_contain_text("CN¥11.11 off")
    expect(page.locator(".wallet-vouchers .empty")).to_be_visible()
    shopper.look("wallet-2-claimed")

    # when they put the spa day in the cart and check out, the cart uses the envelope by itself
    shopper.goto(f"/products/{spa['id']}")
    page.locator(f"tr[data-sku='{spa['skus'][0]['id']}'] .add-to-cart button").click()
    page.wait_for_url(shopper.base_url + "/cart")
    expect(page.locator(".cart ul.savings")).to_contain_text("Red envelope")
    page.locator("button.checkout").click()
    placed = page.locator(".placed")
    expect(placed).to_contain_text("is placed")
    order_id = int(re.findall(r"Order (\d+)", placed.inner_text())[0])
    shopper.goto("/account/wallet")
    expect(page.locator(f"[data-shelf=held] [data-coupon='{coupon_id}']")).to_contain_text(
        f"Held by order {order_id}")
    shopper.look("wallet-3-held")

    # and once it is paid (through the API: the pay page is another helper's), the envelope is spent
    # and the voucher is there with its QR code and its code as text
    api.call("POST", f"/orders/{order_id}/pay", api.token(*account), {"method": "sandbox_ok"})
    shopper.goto("/account/wallet")
    expect(page.locator(f"[data-shelf=spent] [data-coupon='{coupon_id}']")).to_contain_text(
        f"Spent on order {order_id}")
    voucher = page.locator("li.voucher").first
    expect(voucher).to_contain_text(spa["title"])
    expect(voucher.locator(".voucher-state")).to_have_text("Unused")
    code = voucher.get_attribute("data-voucher") or ""
    expect(voucher.locator("code")).to_have_text(code)
    expect(voucher.get_by_role("img", name=f"QR code of voucher {code}")).to_be_visible()
    shopper.look("wallet-4-spent-and-voucher")
    assert all(url.startswith(shopper.base_url) for url in shopper.requests)  # the QR code is drawn here


def test_the_flash_zone_counts_down_a_running_flash_sale(
        open_tab: Callable[..., Shopper], start_server: Callable[..., AbstractContextManager[str]]) -> None:
    with start_server(clock=IN_THE_SALE) as base_url:
        api = Api(base_url)
        # given a lamp on a flash sale from 09:00 to 13:00 on 11.11, 30 at 99.00, two per shopper
        lamp = merchant_product(api, title=f"Paper lamp {uuid.uuid4().hex[:6]}", price="300.00",
                                fulfilment="shipped")
        sale = api.call("POST", "/flash-sales", api.token(*MERCHANT), {
            "sku_id": lamp["skus"][0]["id"], "price": {"amount": "99.00", "currency": "CNY"},
            "quantity": 30, "starts_at": "2027-11-11T09:00:00+08:00", "ends_at": "2027-11-11T13:00:00+08:00",
            "per_shopper_limit": 2})
        shopper = open_tab(base_url)
        page = shopper.page
        # when a visitor opens the flash zone
        shopper.goto("/deals/flash")
        card = page.locator(f"[data-flash-sale='{sale['id']}']")
        # then the sale is on, at its flash price against the list price, with its units and limit
        expect(card.locator(".badge.on")).to_have_text("On now")
        expect(card.locator(".flash-price")).to_have_text("CN¥99.00")
        expect(card.locator(".list-price")).to_have_text("CN¥300.00")
        expect(card.locator(".flash-left")).to_have_text("30 of 30 left")
        expect(card.locator(".flash-limit")).to_have_text("Limit 2 per shopper")
        # and its countdown to the end ticks
        clock = card.locator(".countdown-clock")
        expect(clock).to_have_text(re.compile(r"^0[23]:\d\d:\d\d$"))
        first = clock.inner_text()
        expect(clock).not_to_have_text(first)
        shopper.look("wallet-5-flash")
        # and Add to cart puts one in the cart
        card.get_by_role("button", name=re.compile("^Add")).click()
        page.wait_for_url(shopper.base_url + "/cart")
        quantity = page.locator(f"tr[data-sku='{lamp['skus'][0]['id']}'] .qty input[name=qty]")
        expect(quantity).to_have_value("1")
        fits_the_phone(shopper, "/deals/flash", "wallet-8-flash")
