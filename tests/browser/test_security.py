"""The Content-Security-Policy in Chromium: the pages and the API docs work under it, offline, and
nothing on them is blocked."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import ConsoleMessage, Route, expect

from tests.browser.harness import Shopper

pytestmark = pytest.mark.browser

REDOCLY_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"


def offline(shopper: Shopper) -> list[str]:
    """Cut the tab off from every host but the shop; the policy's complaints, as they come."""
    page = shopper.page

    def only_the_shop(route: Route) -> None:
        if route.request.url.startswith(shopper.base_url + "/"):
            route.continue_()
        else:
            route.abort("internetdisconnected")

    page.route("**/*", only_the_shop)
    complaints: list[str] = []

    def note(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            complaints.append(message.text)

    page.on("console", note)
    page.on("pageerror", lambda error: complaints.append(f"page error: {error}"))
    return complaints


def test_the_api_docs_render_their_operations_offline(shopper: Shopper) -> None:
    # given a browser that can reach the shop and nothing else
    complaints = offline(shopper)
    page = shopper.page
    stopped_by_policy: list[str] = []
    page.on("requestfailed", lambda r: stopped_by_policy.append(r.url) if r.failure == "csp" else None)

    # when it opens /docs, then Swagger UI lists the API's operations, checkout among them
    shopper.goto("/docs")
    expect(page.locator(".opblock").first).to_be_visible(timeout=20_000)
    expect(page.locator(".opblock-summary-path[data-path='/api/v1/orders']").first).to_be_visible()
    shopper.screenshot("docs-swagger")

    # and /redoc draws the same operations
    shopper.goto("/redoc")
    expect(page.get_by_text("/api/v1/orders", exact=False).first).to_be_attached(timeout=20_000)
    expect(page.locator("h2", has_text=re.compile("Place Order", re.IGNORECASE)).first).to_be_visible()
    shopper.screenshot("docs-redoc")

    # and nothing was asked of another host: the one thing that tried is ReDoc's own "API docs by
    # Redocly" logo, which it always loads from its CDN (and hides when it cannot); the policy stopped
    # it inside the browser, before any connection
    assert [c for c in complaints if REDOCLY_LOGO not in c] == []
    elsewhere = [url for url in shopper.requests if not url.startswith(shopper.base_url + "/")]
    assert set(elsewhere) <= {REDOCLY_LOGO} and set(elsewhere) <= set(stopped_by_policy)


def test_the_pages_run_under_the_policy_without_a_complaint(shopper: Shopper) -> None:
    # given a walk through the pages: the countdown ticks, the language switches, a search, a product
    complaints = offline(shopper)
    page = shopper.page
    shopper.goto("/")
    clock = page.locator(".countdown-clock")
    shown = clock.inner_text()
    expect(clock).not_to_have_text(shown, timeout=3_000)  # countdown.js runs
    page.get_by_role("link", name="中文").click()
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    shopper.goto("/search?q=tea")
    page.locator(".results .card a").first.click()
    page.wait_for_url(re.compile(r"/products/\d+$"))
    # the tiles keep their colours without inline styles
    shopper.goto("/search?q=tea")
    tile = page.locator(".results .tile").first
    assert tile.evaluate("t => getComputedStyle(t).backgroundImage").startswith("linear-gradient")
    # when a product goes into the cart through its form (which carries the form token)
    shopper.goto("/search?q=tea")
    page.locator(".results .card a").first.click()
    page.locator("form.add-to-cart button[type=submit]").first.click()
    page.wait_for_url(re.compile(r"/cart$"))
    # then the cart holds it, and nothing on the way was blocked
    expect(page.locator("table.cart-lines tbody tr")).to_have_count(1)
    assert complaints == []
