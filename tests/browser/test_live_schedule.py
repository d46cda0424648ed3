"""The live schedule in Chromium: a browser in New York reads the demo's English stream at 10:00 (its
zone found by the page's script), picks Shanghai and reads 23:00; a shopper asks to be reminded; the
operator's control room lists the streams. Each page is checked by axe."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Browser, expect

from tests.browser.harness import OPERATOR, SHOPPER, Shopper

pytestmark = pytest.mark.browser


@pytest.fixture
def in_new_york(browser: Browser, server: str) -> Iterator[Shopper]:
    context = browser.new_context(locale="en-US", timezone_id="America/New_York",
                                  viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield Shopper(page, server)
    context.close()


def test_the_schedule_shows_the_browsers_zone_and_the_one_picked(in_new_york: Shopper) -> None:
    page = in_new_york.page
    in_new_york.goto("/live")
    # The first visit is drawn in UTC; the page's script keeps the browser's zone and draws it again.
    expect(page.locator("[data-times-in]")).to_have_text("Times in America/New_York")
    english = page.locator(".live-event", has_text="11.11 Global Live").first
    expect(english.locator(".live-when")).to_have_text("10:00 – 11:30")
    expect(english.locator(".segment-kind").first).to_have_text("Executive talk")
    assert page.evaluate("() => document.scrollingElement.scrollWidth <= window.innerWidth")  # 390 px
    in_new_york.look("live-1-schedule-new-york")
    page.get_by_label("Time zone").select_option("Asia/Shanghai")
    page.get_by_role("button", name="Show times").click()
    expect(page.locator("[data-times-in]")).to_have_text("Times in Asia/Shanghai")
    expect(english.locator(".live-when")).to_have_text("23:00 – 00:30")
    in_new_york.look("live-2-schedule-shanghai")


def test_a_shopper_asks_to_be_reminded_and_the_operator_sees_the_streams(
        shopper: Shopper, open_tab: Callable[..., Shopper], server: str) -> None:
    shopper.sign_in(SHOPPER, then="/live?tz=Europe/London")  # a zone picked: the page stays as drawn
    coming = shopper.page.locator(".live-event", has_text="Nov 11").first
    coming.get_by_role("button", name="Remind me").click()
    expect(shopper.page.locator(".notice")).to_have_text("We will tell you when it starts.")
    expect(coming.locator(".reminder-set")).to_be_visible()
    shopper.look("live-3-reminder-set")
    operator = open_tab(server)
    operator.sign_in(OPERATOR, then="/control/live")
    expect(operator.page.locator("h1")).to_have_text("Live events")
    english = operator.page.locator("table.live-events-table tbody tr", has_text="11.11 Global Live")
    expect(english).to_have_count(2)
    operator.look("live-4-control")
