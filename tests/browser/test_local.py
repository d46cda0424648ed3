"""Local services in Chromium: a shopper finds a noodle shop by West Lake on "near me" (by the city
picker, then by the location the browser shares), buys its cash voucher, pays, and finds its QR code
in the wallet; the shop's staff redeem the code on the console, and a second try is refused with where
and when; the shopper pays at the counter's QR page; the staff read the settlement. axe on each page."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import pytest
from playwright.sync_api import Browser, expect

from tests.browser.harness import OPERATOR, Shopper
from tests.browser.test_wallet import Api, new_shopper

pytestmark = pytest.mark.browser

IN_THE_SALE = "2027-11-11T12:00:00+08:00"  # 11.11's sale is on: so is the local discount
HANGZHOU = 1808926
BY_THE_LAKE = {"latitude": 30.2941, "longitude": 120.1619}


def a_local_merchant(api: Api, tag: str) -> dict[str, Any]:
    """A local merchant, its staff, a shop by West Lake and a festival cash voucher, made through the
    API as the operator and the staff would."""
    ops = api.token(*OPERATOR)
    brand = api.call("GET", "/brands?limit=1", ops)["data"][0]["id"]
    merchant = api.call("POST", "/merchants", ops, {"name": f"Lakeside Noodles {tag}", "kind": "local",
                                                     "settlement_currency": "CNY", "brand_ids": [brand]})
    staff = (f"noodles-{tag}@staff.test", "staff-secret-1")
    api.call("POST", f"/merchants/{merchant['id']}/staff", ops, {"email": staff[0], "password": staff[1]})
    who = api.token(*staff)
    category = api.call("GET", "/categories", who)[0]["slug"]
    product = api.call("POST", "/products", who, {
        "title": f"Noodle cash voucher {tag}", "brand_id": brand, "category": category,
        "fulfilment": "service_voucher",
        "skus": [{"code": "cash60", "price": {"amount": "50.00", "currency": "CNY"}, "stock": 20}]})
    shop = api.call("POST", "/local/shops", who, {
        "merchant_id": merchant["id"], "name": f"Lakeside Noodles {tag}", "name_zh": "湖畔面馆",
        "kind": "restaurant", "city_id": HANGZHOU, "lat": 30.29365, "lng": 120.16142})
    api.call("POST", "/local/deals", who, {"sku_id": product["skus"][0]["id"], "kind": "cash",
                                            "valid_days": 30, "festival": True,
                                            "face_value": {"amount": "60.00", "currency": "CNY"}})
    return {"staff": staff, "shop": shop, "product": product}


def test_a_shopper_buys_a_nearby_voucher_and_the_shop_redeems_it_once(
        browser: Browser, open_tab: Callable[..., Shopper],
        start_private_server: Callable[..., AbstractContextManager[str]]) -> None:
    with start_private_server(clock=IN_THE_SALE) as base_url:
        api, tag = Api(base_url), uuid.uuid4().hex[:6]
        made = a_local_merchant(api, tag)
        shop_name = f"Lakeside Noodles {tag}"
        context = browser.new_context(locale="en-US", viewport={"width": 390, "height": 844},
                                      geolocation=BY_THE_LAKE, permissions=["geolocation"])
        try:
            shopper = Shopper(context.new_page(), base_url)
            shopper.page.set_default_timeout(10_000)
            code, signed = finds_buys_and_holds(shopper, api, shop_name)
            staff = open_tab(base_url)
            redeems_once(staff, made["staff"], shop_name, code)
            offline_again_is_a_conflict(staff, signed)
            shopper.goto("/account/wallet")
            expect(shopper.page.locator(f"li.voucher[data-voucher='{code}']")).to_contain_text(
                f"at {shop_name}")
            pays_at_the_counter(shopper, made["shop"]["pay_token"])
            shopper.goto(f"/local?city={HANGZHOU}&lang=zh")  # in Chinese: the city, units and words
            expect(shopper.page.get_by_label("城市")).to_have_value(str(HANGZHOU))
            expect(shopper.page.locator("li.shop-card").first.locator(".distance")).to_have_text(
                re.compile(r"^\d+ 米$"))
            shopper.look("local-8-near-me-zh")
            staff.goto("/seller/local/settlement")
            expect(staff.page.locator("table.settlement-table")).to_be_visible()
            staff.look("local-7-settlement")
        finally:
            context.close()


def finds_buys_and_holds(shopper: Shopper, api: Api, shop_name: str) -> tuple[str, str]:
    page = shopper.page
    shopper.sign_in(new_shopper(api), then="/local")
    # by the city picker
    page.get_by_label("City").select_option(str(HANGZHOU))
    page.get_by_role("button", name="Show shops").click()
    card = page.locator("li.shop-card", has_text=shop_name)
    expect(card.locator(".distance")).to_have_text(re.compile(r"^[\d.,]+ (m|km)$"))
    expect(page.locator("svg.local-map")).to_be_visible()
    # by the location the browser shares
    page.get_by_role("button", name="Use my location").click()
    expect(page.locator("[data-where]")).to_have_text("Around your location")
    expect(card.locator(".distance")).to_have_text(re.compile(r"^\d+ m$"))
    assert page.evaluate("() => document.scrollingElement.scrollWidth <= window.innerWidth")  # 390 px
    shopper.look("local-1-near-me")
    # the deal, bought and paid as any order
    card.get_by_role("link", name=re.compile("Noodle cash voucher")).click()
    page.locator(".add-to-cart button").first.click()  # its one SKU
    page.wait_for_url(shopper.base_url + "/cart")
    page.locator("button.checkout").click()
    order_id = int(re.findall(r"Order (\d+)", page.locator(".placed").inner_text())[0])
    shopper.goto(f"/account/orders/{order_id}/pay")
    page.locator("input[name=method][value=sandbox_ok]").check()
    page.locator("button.pay-button").click()
    expect(page.locator(".paid")).to_be_visible()
    # its QR code in the wallet, with the code to read out and its validity
    shopper.goto("/account/wallet")
    voucher = page.locator("li.voucher", has_text="Noodle cash voucher")
    code = voucher.get_attribute("data-voucher") or ""
    expect(voucher.get_by_role("img", name=f"QR code of voucher {code}")).to_be_visible()
    expect(voucher.locator(".voucher-valid")).to_contain_text("Valid until")
    shopper.look("local-2-wallet-voucher")
    return code, voucher.get_attribute("data-signed") or ""


def redeems_once(staff: Shopper, account: tuple[str, str], shop_name: str, code: str) -> None:
    page = staff.page
    staff.sign_in(account, then="/seller/local/redeem")
    page.get_by_label("Voucher code").fill(code)
    page.get_by_role("button", name="Redeem", exact=True).click()
    expect(page.locator("[data-outcome=ok]")).to_contain_text("Redeemed")
    expect(page.locator("[data-outcome=ok]")).to_contain_text("Noodle cash voucher")
    staff.look("local-3-redeemed")
    page.get_by_label("Voucher code").fill(code)
    page.get_by_role("button", name="Redeem", exact=True).click()
    refused = page.locator("[data-outcome=refused]")
    expect(refused).to_contain_text(f"already redeemed at {shop_name} on Nov 11, 2027")
    staff.look("local-4-refused")


def offline_again_is_a_conflict(staff: Shopper, signed: str) -> None:
    """Offline, the console checks the scanned (signed) code in the browser and queues it; back
    online, the upload reports it a conflict: the voucher was redeemed already."""
    page = staff.page
    said = page.locator("[data-offline-said]")
    staff.goto("/seller/local/redeem")  # online: the console keeps the voucher keys
    page.wait_for_function("() => localStorage.getItem('shopfest.local.voucher-keys') !== null")
    page.context.set_offline(True)
    page.get_by_label("Voucher code").fill("SFV1." + "A" * 140)
    page.get_by_role("button", name="Redeem", exact=True).click()
    expect(said).to_have_text("Offline: this code's signature is not valid.")
    page.get_by_label("Voucher code").fill(signed)
    page.get_by_role("button", name="Redeem", exact=True).click()
    expect(said).to_have_text("Offline: the signature is good; the redemption is queued.")
    page.context.set_offline(False)
    expect(said).to_have_text("Uploaded: 0 redeemed, 1 conflicts.")
    expect(page.locator("[data-offline-queue] li.conflict")).to_contain_text("redeemed at")


def pays_at_the_counter(shopper: Shopper, token: str) -> None:
    page = shopper.page
    shopper.goto(f"/pay/shop/{token}")
    page.get_by_label("Amount").fill("38")
    page.get_by_role("button", name="See the discount").click()
    expect(page.locator("[data-discount]")).to_have_text("CN¥5.00")
    expect(page.locator("[data-to-pay]")).to_have_text("CN¥33.00")
    shopper.look("local-5-pay")
    page.get_by_role("button", name="Pay CN¥33.00").click()
    expect(page.locator("[data-paid]")).to_have_text("CN¥33.00")
    shopper.look("local-6-receipt")
