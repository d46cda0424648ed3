"""The big screen in Chromium at 1920x1080: an operator watches it, a shopper's order is paid, and the
screen's GMV climbs to the new figure over its event stream, with no request leaving the site."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from tests.browser.harness import OPERATOR, Shopper
from tests.browser.test_wallet import Api, merchant_product

pytestmark = pytest.mark.browser

WITHIN_MS = 10_000  # a bound on the figure's arrival, not a speed


def paid_order_total(api: Api) -> int:
    """A new shopper buys a product of the demo's merchant and pays; what they paid, in minor units."""
    product = merchant_product(api, title=f"Screen lantern {uuid.uuid4().hex[:6]}", price="88.00",
                               fulfilment="shipped")
    email, password = f"screen-{uuid.uuid4().hex[:10]}@shoppers.test", "screen-shopper-1"
    assert api.http.post("/auth/register", json={"email": email, "password": password}).status_code == 201
    shopper = api.token(email, password)
    order = api.call("POST", "/orders", shopper, {"lines": [{"sku_id": product["skus"][0]["id"], "qty": 1}]})
    paid = api.call("POST", f"/orders/{order['id']}/pay", shopper, {"method": "sandbox_ok"})
    assert paid["total"]["currency"] == "CNY"
    return int(Decimal(paid["total"]["amount"]) * 100)


def test_the_screens_gmv_climbs_when_an_order_is_paid(shopper: Shopper) -> None:
    operator, page = shopper, shopper.page
    page.set_viewport_size({"width": 1920, "height": 1080})
    errors: list[str] = []  # a script or stream the page's CSP refused would be logged here
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    operator.sign_in(OPERATOR, then="/screen")
    gmv = page.locator("[data-figure=gmv]")
    before = int(gmv.get_attribute("data-minor") or "")
    orders_before = page.locator("[data-figure=orders]").inner_text()
    expect(page.locator(".link-state")).to_have_attribute("data-state", "live", timeout=WITHIN_MS)

    total = paid_order_total(Api(operator.base_url))

    expect(gmv).to_have_attribute("data-minor", str(before + total), timeout=WITHIN_MS)
    after = f"CN¥{Decimal(before + total) / 100:,.2f}"
    expect(gmv).to_have_text(after, timeout=WITHIN_MS)  # the counter has climbed all the way
    expect(page.locator("[data-figure=orders]")).not_to_have_text(orders_before)
    expect(page.locator("#per-second-chart canvas")).to_have_count(1)  # uPlot, served by ShopFest
    operator.look("screen-1-gmv-climbed")
    assert all(url.startswith(operator.base_url) for url in operator.requests)
    assert not errors
