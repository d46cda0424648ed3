"""axe-core on every storefront page, in English and in Chinese: no serious or critical violation on
the home page, a search, a product, a cart with items, the sign-in page and an error page; and on the
pages no journey passes (editing an address or a product, a side's refusal)."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from tests.browser.harness import MERCHANT, SHOPPER, Shopper

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_storefront_pages_pass_axe(shopper: Shopper, lang: str) -> None:
    page = shopper.page
    shopper.goto(f"/?lang={lang}")
    shopper.look(f"a11y-{lang}-1-home")

    shopper.goto("/search?new=1&sort=price_up")
    shopper.look(f"a11y-{lang}-2-search")

    shopper.goto("/")
    product = page.locator(".new-arrivals .card a").first.get_attribute("href")
    assert product is not None
    shopper.goto(product)
    shopper.look(f"a11y-{lang}-3-product")

    page.locator("form.add-to-cart button").first.click()
    page.wait_for_url(re.compile(r"/cart$"))
    assert page.locator("table.cart-lines tbody tr").count() == 1
    shopper.look(f"a11y-{lang}-4-cart")

    shopper.goto("/login")
    shopper.look(f"a11y-{lang}-5-login")

    shopper.goto("/products/999999999")
    shopper.look(f"a11y-{lang}-6-error")


def test_the_edit_pages_and_the_sides_refusals_pass_axe(open_tab: Callable[..., Shopper],
                                                         server: str) -> None:
    # the demo shopper's address, edited; the demo merchant's first product, edited
    shopper = open_tab(server)
    shopper.sign_in(SHOPPER, then="/account/addresses")
    shopper.page.locator("a[href^='/account/addresses/']").first.click()
    shopper.page.wait_for_url(re.compile(r"/account/addresses/\d+$"))
    shopper.look("a11y-address-edit")
    shopper.goto("/seller")  # a shopper in the seller centre: the refusal page
    shopper.look("a11y-seller-refused")

    merchant = open_tab(server)
    merchant.sign_in(MERCHANT, then="/seller/products")
    merchant.page.locator("a[href$='/edit']").first.click()
    merchant.page.wait_for_url(re.compile(r"/seller/products/\d+/edit$"))
    merchant.look("a11y-product-edit")
    merchant.goto("/control")
    merchant.look("a11y-control-refused")
