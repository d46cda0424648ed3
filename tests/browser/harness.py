"""The browser tests' tab, which remembers its requests (the server process is in tests/servers.py)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.browser.axe import assert_accessible

# Ten seconds before the 2027 festival's 11.11 sale opens, on the server's festival clock.
EVE_OF_ELEVEN_ELEVEN = "2027-11-10T23:59:50+08:00"
# The shared server's moment: the 11.11 sale just open, so no phase flips (and reloads every open page)
# while the suite runs; the tests that watch midnight start servers of their own on the eve.
ELEVEN_ELEVEN_OPEN = "2027-11-11T00:00:30+08:00"
CHROMIUM = os.environ.get("SHOPFEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
# The demo's accounts (see README.md); merchant@ works for merchant 1.
SHOPPER = ("shopper@shopfest.demo", "festival-shopper")
MERCHANT = ("merchant@shopfest.demo", "festival-merchant")
OPERATOR = ("operator@shopfest.demo", "festival-operator")


@dataclass
class Shopper:
    """One browser tab on one server, remembering every URL the page asked for."""

    page: Page
    base_url: str
    requests: list[str] = field(default_factory=list)

    def goto(self, path: str) -> None:
        self.page.goto(self.base_url + path)

    def screenshot(self, name: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        # A bound, not a speed: a whole long page (ReDoc's, of every operation) takes a while to draw
        # while the other test process keeps the second core busy.
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True, timeout=60_000)

    def look(self, name: str) -> None:
        """A page a person reaches on a journey: kept as a screenshot, and checked by axe-core."""
        self.screenshot(name)
        assert_accessible(self.page)

    def sign_in(self, account: tuple[str, str], *, then: str = "/") -> None:
        """Through the sign-in form, as a person would; lands on `then`."""
        self.goto(f"/login?next={then}")
        self.page.locator("input[name=email]").fill(account[0])
        self.page.locator("input[name=password]").fill(account[1])
        self.page.locator("form[action='/login'] button[type=submit]").click()
        self.page.wait_for_url(f"{self.base_url}{then}")


def add_a_delivery_address(shopper: Shopper) -> None:
    """On the cart of a new account with goods to ship: the cart's "Add an address" link, the address
    form, and back to the cart with the address chosen for its checkout."""
    page = shopper.page
    page.get_by_role("link", name="Add an address").click()
    page.get_by_label("Recipient's name").fill("Lin Xiaoyu")
    page.get_by_label("Phone, with country code").fill("+86 139 0000 1111")
    page.get_by_label("City").fill("Hangzhou")
    page.get_by_label("Street address").fill("969 Wenyi West Road")
    page.get_by_role("button", name="Save address").click()
    page.wait_for_url(f"{shopper.base_url}/cart")
    expect(page.get_by_label("Deliver to")).to_contain_text("Lin Xiaoyu, 969 Wenyi West Road, Hangzhou")
