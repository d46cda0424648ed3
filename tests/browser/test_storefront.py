"""The shopper's pages in Chromium: browse, search, a product, the countdown, languages, sign-in."""

from __future__ import annotations

import re
from collections.abc import Callable
from contextlib import AbstractContextManager

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.browser.harness import EVE_OF_ELEVEN_ELEVEN, Shopper

pytestmark = pytest.mark.browser

CLOCK_TEXT = re.compile(r"^\d{2}:\d{2}:\d{2}$")
HAN = re.compile(r"[\u4e00-\u9fff]")
PRICE = re.compile(r"CN¥[\d,]+\.\d{2}")


def test_a_shopper_goes_from_home_through_search_to_a_product(shopper: Shopper) -> None:
    # given the home page, with the countdown and this festival's new arrivals
    page = shopper.page
    shopper.goto("/")
    expect(page.locator(".countdown-label")).to_have_text(re.compile(r"(starts|ends) in$"))
    expect(page.locator(".countdown-clock")).to_have_text(CLOCK_TEXT)
    expect(page.locator(".new-arrivals h2")).to_have_text("New arrivals")
    expect(page.locator("[data-new-count]")).to_have_text(re.compile(r"^[1-9][\d,]* new this festival$"))
    first_title = page.locator(".new-arrivals .card-title").first.inner_text()
    word = first_title.split()[0]
    shopper.screenshot("1-home")

    # when they search for a word of a product title they can see
    page.locator(".quick-search input[name=q]").fill(word)
    page.locator(".quick-search button").click()
    page.wait_for_url(re.compile(r"/search\?q="))

    # then every card found carries that word in its title
    titles = page.locator(".results .card-title").all_inner_texts()
    assert titles, f"no results for {word!r}"
    assert all(word.casefold() in title.casefold() for title in titles), titles
    expect(page.locator(".search-form input[name=q]")).to_have_value(word)
    shopper.screenshot("2-search")

    # when they open the first result, then its page shows that title and a price
    page.locator(".results .card a").first.click()
    page.wait_for_url(re.compile(r"/products/\d+$"))
    expect(page.locator("h1.product-title")).to_have_text(titles[0])
    expect(page.locator(".price.big")).to_have_text(PRICE)
    expect(page.locator("table.skus tbody tr").first).to_be_visible()
    shopper.screenshot("3-product")


def test_the_countdown_flips_the_page_to_the_sale_at_midnight(
    open_tab: Callable[..., Shopper], start_server: Callable[..., AbstractContextManager[str]],
) -> None:
    # given a server whose festival clock stands ten seconds before the 11.11 sale
    with start_server(clock=EVE_OF_ELEVEN_ELEVEN) as base_url:
        shopper = open_tab(base_url)
        page = shopper.page
        shopper.goto("/")
        clock = page.locator(".countdown-clock")
        expect(page.locator(".countdown-label")).to_have_text("11.11 starts in")
        expect(clock).to_have_text(re.compile(r"^00:00:(0\d|10)$"))
        expect(page.locator(".phase-now")).not_to_have_attribute("data-phase", "wave2-sale")
        shown = clock.inner_text()
        shopper.screenshot("4-countdown-before")

        # when the seconds run out (the page ticks and reloads itself; the test only waits)
        expect(clock).not_to_have_text(shown, timeout=3_000)

        # then the header shows the wave-2 sale as the phase on now, counting to its end
        expect(page.locator(".phase-now")).to_have_attribute("data-phase", "wave2-sale", timeout=30_000)
        expect(page.locator(".phase-now strong")).to_have_text("11.11 Global Shopping Festival")
        expect(page.locator(".countdown-label")).to_have_text("Wave 2 sale ends in")
        expect(page.locator(".phase[data-phase-key=wave2-sale]")).to_have_class(re.compile(r"\bon\b"))
        shopper.screenshot("5-countdown-after")


def test_chinese_and_a_foreign_currency_are_one_click_away(shopper: Shopper) -> None:
    # given the home page in English
    page = shopper.page
    shopper.goto("/")
    expect(page.locator("html")).to_have_attribute("lang", "en")

    # when the shopper clicks 中文, then the interface and the product titles are Chinese
    page.get_by_role("link", name="中文").click()
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.locator(".new-arrivals h2")).to_have_text("新品首发")
    expect(page.locator(".quick-search button")).to_have_text("搜索")
    titles = page.locator(".new-arrivals .card-title").all_inner_texts()
    assert titles and all(HAN.search(title) for title in titles), titles
    shopper.screenshot("6-home-zh")

    # when they open a product and switch the currency to US dollars
    page.locator(".new-arrivals .card a").first.click()
    expect(page.locator("h1.product-title")).to_have_text(HAN)
    page.locator(".currency-menu summary").click()
    page.locator(".currency-menu").get_by_role("link", name="USD", exact=True).click()

    # then prices carry an approximate US-dollar figure, and Chinese stays chosen
    expect(page.locator(".price.big .approx")).to_have_text(re.compile(r"^≈ US\$[\d,]+\.\d{2}$"))
    expect(page.locator("dt").first).to_have_text("品牌")
    shopper.screenshot("7-product-zh-usd")


def test_signing_in_shows_the_shopper_in_the_header(shopper: Shopper) -> None:
    # given the sign-in page
    page = shopper.page
    shopper.goto("/login")

    # when the password is wrong, then the form comes back with a message and status 401
    page.locator("input[name=email]").fill("shopper@shopfest.demo")
    page.locator("input[name=password]").fill("not-the-password")
    with page.expect_response(lambda r: r.url.endswith("/login") and r.request.method == "POST") as wrong:
        page.locator(".login button[type=submit]").click()
    assert wrong.value.status == 401
    expect(page.locator(".login .error")).to_be_visible()

    # when the right password is given, then the home page's header shows the email
    page.locator("input[name=password]").fill("festival-shopper")
    page.locator(".login button[type=submit]").click()
    page.wait_for_url(shopper.base_url + "/")
    expect(page.locator("[data-signed-in]")).to_have_text("shopper@shopfest.demo")
    shopper.screenshot("8-signed-in")

    # and signing out takes the email away again
    page.locator(".account button[type=submit]").click()
    expect(page.locator(".account a[href='/login']")).to_be_visible()
    expect(page.locator("[data-signed-in]")).to_have_count(0)


def test_the_pages_ask_nothing_of_any_host_but_the_shop(shopper: Shopper) -> None:
    # given a walk through every page, in both languages and with a converted currency
    page = shopper.page
    for path in ("/", "/search?q=tea", "/search?tier=luxury", "/login", "/?lang=zh", "/?currency=EUR",
                 "/search?min_price=abc", "/products/999999"):
        shopper.goto(path)
        page.wait_for_load_state("networkidle")
    shopper.goto("/search")
    page.locator(".cards .card a").first.click()
    page.wait_for_load_state("networkidle")

    # then the stylesheet and script came from the shop, and nothing came from anywhere else
    assert any(url.endswith("/static/site.css") for url in shopper.requests)
    assert any(url.endswith("/static/countdown.js") for url in shopper.requests)
    elsewhere = [url for url in shopper.requests if not url.startswith(shopper.base_url + "/")]
    assert elsewhere == []


def test_browsing_works_with_javascript_off(open_tab: Callable[..., Shopper], server: str) -> None:
    # given a browser that runs no script
    shopper = open_tab(server, javascript=False)
    page = shopper.page
    shopper.goto("/")
    expect(page.locator(".countdown-clock")).to_have_text(CLOCK_TEXT)

    # when the shopper filters the search by category and opens a result
    shopper.goto("/search")
    page.locator("select[name=category]").select_option("groceries")
    page.locator(".search-form button[type=submit]").click()
    page.wait_for_url(re.compile(r"category=groceries"))
    expect(page.locator(".results .card").first).to_be_visible()
    page.locator(".results .card a").first.click()

    # then the product page is whole: title, price, a groceries category and how it ships
    expect(page.locator("h1.product-title")).not_to_be_empty()
    expect(page.locator(".price.big")).to_have_text(PRICE)
    expect(page.locator(".crumbs a")).to_have_text("Groceries")
    # (shipped goods, or a local grocery's voucher redeemed in the shop)
    expect(page.locator(".fulfilment")).to_contain_text(re.compile("Shipped|Service voucher"))


# --- a phone and a laptop ---------------------------------------------------------------------

PHONE = {"width": 390, "height": 844}
FITS = "() => document.scrollingElement.scrollWidth <= window.innerWidth"


def on_screen(page: Page, locator: Locator) -> bool:
    """Visible, and wholly inside the window's width: no sideways scroll needed to reach it."""
    box = locator.bounding_box()
    return (locator.is_visible() and box is not None
            and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"])


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_shopper_page_fits_a_phone_and_its_buttons_are_in_reach(
        browser: Browser, server: str, lang: str) -> None:
    # given a phone 390 px wide
    context = browser.new_context(viewport=PHONE, locale="en-US")
    try:
        shopper = Shopper(context.new_page(), server)
        page = shopper.page
        page.set_default_timeout(10_000)
        shopper.goto(f"/?lang={lang}")
        product = page.locator(".new-arrivals .card a").first.get_attribute("href") or ""
        for path in ("/", "/search?q=a&sort=price_down", product, "/cart", "/login", "/products/999999999"):
            shopper.goto(path)
            assert page.evaluate(FITS), f"{path} scrolls sideways at 390 px"
        shopper.screenshot(f"9-phone-{lang}-home")

        # then "Add to cart" is on screen and works
        shopper.goto(product)
        add = page.locator("form.add-to-cart button").first
        assert on_screen(page, add)
        shopper.screenshot(f"9-phone-{lang}-product")
        add.click()
        page.wait_for_url(re.compile(r"/cart$"))

        # and in the cart Update and Remove are on screen and work
        assert page.evaluate(FITS)
        line = page.locator("table.cart-lines tbody tr").first
        update, remove = line.locator("button.update"), line.locator("button.remove")
        assert on_screen(page, update) and on_screen(page, remove)
        shopper.screenshot(f"9-phone-{lang}-cart")
        line.locator("input[name=qty]").fill("2")
        update.click()
        expect(page.locator("table.cart-lines tbody tr").first.locator("input[name=qty]")).to_have_value("2")
        page.locator("table.cart-lines tbody tr").first.locator("button.remove").click()
        expect(page.locator("table.cart-lines")).to_have_count(0)
    finally:
        context.close()


@pytest.mark.parametrize("currency", ["USD", "KRW"])
def test_card_prices_are_whole_on_a_laptop(browser: Browser, server: str, currency: str) -> None:
    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="en-US")
    try:
        shopper = Shopper(context.new_page(), server)
        for path in (f"/?currency={currency}", "/search?q=a", "/search?tier=luxury"):
            shopper.goto(path)
            clipped = shopper.page.evaluate(
                "() => [...document.querySelectorAll('.card .price, .card .price > *, .card .list-price')]"
                ".filter(e => e.scrollWidth > e.clientWidth).map(e => e.innerText)")
            assert clipped == [], f"{path}: {clipped}"
            assert shopper.page.locator(".card .approx").count() > 0
        shopper.screenshot(f"10-laptop-{currency}-luxury")
    finally:
        context.close()


# --- the deals on cards, the cart's quantities, a sorted search paged both ways ----------------

IN_THE_SALE = "2027-11-11T00:30:00+08:00"


def test_a_cards_festival_price_is_what_the_product_page_and_the_cart_charge(
        open_tab: Callable[..., Shopper], start_server: Callable[..., AbstractContextManager[str]]) -> None:
    # given the festival in its sale, and a card of one option priced below its list price
    with start_server(clock=IN_THE_SALE) as base_url:
        shopper = open_tab(base_url)
        page = shopper.page
        shopper.goto("/search?sort=price_up&min_price=300")
        card = page.locator(".card:has([data-festival-price]):not(:has(.badge.sold-out-badge))").first
        festival = price_of(card.locator("[data-festival-price] .amount").inner_text())
        shopper.look("11-search-festival-prices")

        # when the shopper opens it, then its cheapest option's festival price is the card's
        card.locator("a").click()
        page.wait_for_url(re.compile(r"/products/\d+$"))
        rows = page.locator("table.skus tbody tr:has(.add-to-cart)")
        deals = [price_of(text) for text in rows.locator(".festival-price").all_inner_texts()]
        assert min(deals) == festival, deals
        expect(page.locator(".facts .seller")).not_to_be_empty()
        shopper.look("12-product-seller")

        # and one unit of it in the cart costs that; the shopper makes it three, then none
        rows.nth(deals.index(festival)).locator(".add-to-cart button").click()
        page.wait_for_url(re.compile(r"/cart$"))
        assert price_of(page.locator(".cart-totals .total").inner_text()) == festival
        expect(page.locator(".cart-lines .seller")).to_contain_text("Sold by")
        quantity = page.locator("table.cart-lines tbody tr input[name=qty]").first
        quantity.fill("3")
        page.locator("table.cart-lines tbody tr button.update").first.click()
        expect(quantity).to_have_value("3")
        shopper.look("13-cart-three")
        quantity.fill("0")
        page.locator("table.cart-lines tbody tr button.update").first.click()
        expect(page.locator(".cart .empty")).to_be_visible()


def test_a_sorted_search_says_how_many_it_found_and_pages_back_and_forth(shopper: Shopper) -> None:
    page = shopper.page
    shopper.goto("/search")
    page.locator("select[name=sort]").select_option("price_down")
    page.locator(".search-form button[type=submit]").click()
    page.wait_for_url(re.compile(r"sort=price_down"))
    expect(page.locator("[data-found]")).to_have_text(re.compile(r"^[\d,]+ found$"))
    first = page.locator(".results .card-title").all_inner_texts()
    listed = page.locator(".results .card .list-price, .results .card .price:not(.festival)")
    prices = [price_of(text) for text in listed.all_inner_texts()]
    assert prices == sorted(prices, reverse=True), prices
    shopper.look("14-search-sorted")

    page.locator(".pager .next").click()
    expect(page.locator(".pager .previous")).to_be_visible()
    second = page.locator(".results .card-title").all_inner_texts()
    assert second and not set(second) & set(first)
    page.locator(".pager .next").click()
    page.locator(".pager .previous").click()
    assert page.locator(".results .card-title").all_inner_texts() == second
    page.locator(".pager .previous").click()
    assert page.locator(".results .card-title").all_inner_texts() == first
    expect(page.locator(".pager .previous")).to_have_count(0)


def price_of(text: str) -> float:
    found = PRICE.search(text)
    assert found is not None, text
    return float(found.group(0).removeprefix("CN¥").replace(",", ""))
