"""The live room in Chromium, the issue's journey: the demo's merchant hosts an event in one browser
context, opens the console, goes live, pins a product and drops live coupons; a shopper who signs up on
the page watches in another context, sees the product appear, claims a coupon into the wallet, buys and
pays without leaving the room; the host ends the show and the replay lists the product at its moment.
Each page is kept as a screenshot and checked by axe; the room fits a 390 px phone."""

from __future__ import annotations

import re
import secrets
import time
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import timedelta

import pytest
from playwright.sync_api import Page, WebSocketRoute, expect

from shopfest import app as _app  # noqa: F401  registers the room's commands, as the server does
from shopfest.core.actor import MACHINE
from shopfest.core.clock import SetClock, parse_instant
from shopfest.core.db import make_engine
from shopfest.core.events import Bus
from shopfest.core.uow import UnitOfWork
from shopfest.live import service as live
from shopfest.live.model import LiveEvent, Segment, SegmentKind
from shopfest.live.room import COMMANDS
from tests.browser.harness import MERCHANT, Shopper
from tests.browser.test_wallet import IN_THE_SALE, Api, fits_the_phone, merchant_product

pytestmark = pytest.mark.browser

WAIT_MS = 15_000  # a frame crosses the room in milliseconds; a busy CI machine may take seconds
# The room's coupon and buying commands are built beside these pages (issue 18): each part of the
# journey runs once the room has its commands.
COUPONS = {"drop_coupon", "claim"}
DEALS = {"start_deal"}
BUYING = {"buy", "pay"}


def an_event_hosted_by_the_merchant(demo_database: str, api: Api, product_id: int, *,
                                    playback_url: str | None = None) -> int:
    """An event on the shared demo data, scheduled through the service as the platform, hosted by the
    demo's merchant account and featuring its product."""
    host_id = api.call("GET", "/me", api.token(*MERCHANT))["id"]
    engine = make_engine(demo_database, pool_size=1)
    starts = parse_instant(IN_THE_SALE)
    try:
        event = live.schedule_event(UnitOfWork(engine, bus=Bus(), clock=SetClock(starts)), MACHINE, LiveEvent(
            f"Midnight unboxing {uuid.uuid4().hex[:4]}", "en", starts, starts + timedelta(minutes=90),
            host_ids=(host_id,), playback_url=playback_url,
            segments=(Segment(SegmentKind.SHOWCASE, "Unboxing", starts, (product_id,)),)))
    finally:
        engine.dispose()
    assert event.id is not None
    return event.id


def test_a_host_pins_and_drops_a_coupon_and_a_new_shopper_claims_it_buys_and_pays_in_the_room(
        open_tab: Callable[..., Shopper], start_server: Callable[..., AbstractContextManager[str]],
        demo_database: str) -> None:
    # A server of its own in the middle of 11.11, where no phase flips (and reloads the pages) mid-show.
    with start_server(clock=IN_THE_SALE) as server:
        host_and_shopper_in_the_room(open_tab, server, demo_database)


def host_and_shopper_in_the_room(open_tab: Callable[..., Shopper], server: str, demo_database: str) -> None:
    api = Api(server)
    title = f"Live lantern {uuid.uuid4().hex[:6]}"
    product = merchant_product(api, title=title, price="88.00", fulfilment="service_voucher")
    event_id = an_event_hosted_by_the_merchant(demo_database, api, product["id"])

    host = open_tab(server)
    host.sign_in(MERCHANT, then=f"/live/{event_id}/console")
    hosting = host.page
    hosting.get_by_role("button", name="Go live").click()
    hosting.wait_for_url(f"{server}/live/{event_id}/console")
    expect(hosting.locator("[data-live-status]")).to_have_text("Live now")
    expect(hosting.locator("[data-viewers]")).to_be_visible(timeout=WAIT_MS)  # its socket is in the room
    host.look("live-1-console")

    shopper = open_tab(server)
    watching = shopper.page
    shopper.goto(f"/live/{event_id}")
    for where in (".sign-in-to-chat", ".sign-in-to-buy"):  # beside the chat and under the product
        expect(watching.locator(where).get_by_role("link", name="Sign in to chat and buy")).to_have_attribute(
            "href", f"/login?next=%2Flive%2F{event_id}")
    sockets = tap_the_rooms_sockets(watching)
    shopper.goto(f"/signup?next=/live/{event_id}")
    watching.get_by_label("Email").fill(f"live-{secrets.token_hex(5)}@shoppers.test")
    watching.get_by_label("Password").fill("live-shopper-11")
    watching.get_by_role("button", name="Create account").click()
    watching.wait_for_url(f"{server}/live/{event_id}", timeout=60_000)  # a password hashed on a busy CI
    expect(watching.locator("[data-live-status]")).to_have_text("Live now", timeout=WAIT_MS)
    expect(watching.locator("[data-viewers]")).to_be_visible(timeout=WAIT_MS)

    hosting.get_by_role("button", name=f"Pin {title}").click()
    card = watching.locator("[data-pinned]")
    expect(card.get_by_role("link", name=title)).to_be_visible(timeout=WAIT_MS)
    expect(card.locator("[data-price]")).to_contain_text("88.00", timeout=WAIT_MS)

    chat_and_moderate(hosting, watching)
    dropped_and_back(watching, sockets)
    if COMMANDS.keys() >= COUPONS:
        drop_and_claim(hosting, watching)
    if COMMANDS.keys() >= DEALS:
        start_a_deal(hosting, watching)
    if COMMANDS.keys() >= BUYING:
        buy_and_pay(hosting, shopper)
    else:
        shopper.look("live-2-room-pinned")
    fits_the_phone(shopper, f"/live/{event_id}", "live-3-room")
    fits_the_phone(host, f"/live/{event_id}/console", "live-3-console")

    hosting.get_by_role("button", name="End the event").click()
    expect(hosting.locator("[data-live-status]")).to_have_text("Ended")
    shopper.goto(f"/live/{event_id}/replay")
    moment = watching.locator("[data-pin-at]", has_text=title)
    expect(moment).to_contain_text("Price now")
    expect(watching.locator("[data-replay-chat]")).to_contain_text("夜里亮吗")
    if COMMANDS.keys() >= COUPONS | DEALS:
        expect(watching.locator(".replay-markers")).to_contain_text("Live coupon dropped")
        expect(watching.locator(".replay-markers")).to_contain_text("Flash deal started")
    moment.locator("[data-seek]").click()
    expect(moment).to_have_class(re.compile("current"))
    shopper.look("live-4-replay")
    fits_the_phone(shopper, f"/live/{event_id}/replay", "live-5-replay")
    moment.get_by_role("button", name=f"Add to cart {title}").click()
    watching.wait_for_url(f"{server}/cart")
    expect(watching.locator("tbody tr", has_text=title)).to_be_visible()

    # An HLS stream: played by the browser where it can (recent Chromium can), else through hls.js,
    # which the room loads from this site.
    stream = f"{server}/static/live/night.m3u8"
    streamed = an_event_hosted_by_the_merchant(demo_database, api, product["id"], playback_url=stream)
    shopper.goto(f"/live/{streamed}")
    video = watching.locator("[data-live-video]")
    if video.evaluate("v => v.canPlayType('application/vnd.apple.mpegurl')"):
        expect(video).to_have_attribute("src", stream)
    without_native_hls = open_tab(server)
    without_native_hls.page.add_init_script(
        "HTMLMediaElement.prototype.canPlayType = function () { return ''; };"
        "window.refused = []; document.addEventListener('securitypolicyviolation',"
        " function (e) { window.refused.push(e.violatedDirective + ' ' + e.blockedURI); });")
    without_native_hls.goto(f"/live/{streamed}")
    page = without_native_hls.page
    page.wait_for_function("() => typeof window.Hls === 'function'")
    page.wait_for_function("() => document.querySelector('[data-live-video]').src.startsWith('blob:')")
    assert f"{server}/static/hls/hls.min.js" in without_native_hls.requests
    assert page.evaluate("window.refused") == []  # the CSP lets hls.js feed the video from a blob:


def drop_and_claim(hosting: Page, watching: Page) -> None:
    """The host drops five coupons; the shopper sees them count down and claims one into the wallet."""
    drop = hosting.locator("form[data-command=drop_coupon]")
    drop.get_by_label("Amount off").fill("8.00")
    drop.get_by_label("Minimum spend").fill("0.00")
    drop.get_by_label("How many").fill("5")
    drop.get_by_label("Valid for (seconds)").fill("600")
    drop.get_by_role("button", name="Drop them").click()
    coupon = watching.locator("[data-coupon]")
    expect(coupon).to_be_visible(timeout=WAIT_MS)
    expect(coupon).to_contain_text("8.00 off")
    expect(coupon).to_contain_text(re.compile(r"Ends in \d\d:\d\d"))
    watching.get_by_role("button", name="Claim").click()
    expect(coupon.get_by_role("link", name="In your wallet")).to_be_visible(timeout=WAIT_MS)


def start_a_deal(hosting: Page, watching: Page) -> None:
    """The host starts a flash deal on the product two seconds from now: the room counts down to its
    start on the server's clock (not the browser's), then to its end, with the units left."""
    deal = hosting.locator("form[data-command=start_deal]")
    deal.get_by_label("Flash price").fill("66.00")
    deal.get_by_label("How many").fill("20")
    deal.get_by_label("Countdown (seconds)").fill("2")
    deal.get_by_role("button", name="Start").click()
    shown = watching.locator("[data-deal]")
    expect(shown).to_be_visible(timeout=WAIT_MS)
    expect(shown).to_contain_text("Flash price CN¥66.00")
    expect(shown).to_contain_text("20 left")
    expect(shown).to_contain_text(re.compile(r"Ends in (09:5\d|10:00)"), timeout=WAIT_MS)


def buy_and_pay(hosting: Page, shopper: Shopper) -> None:
    """The shopper buys the pinned product at the flash price less the coupon claimed, and pays with
    the sandbox's approved card without leaving the room; the console counts the sale."""
    watching = shopper.page
    # The flash price less the live coupon claimed: priced for this shopper, and charged so.
    expect(watching.locator("[data-pinned] [data-price]")).to_contain_text("Your price CN¥58.00",
                                                                            timeout=WAIT_MS)
    expect(watching.locator("[data-pinned] [data-savings]")).to_have_text(
        "Flash price −CN¥22.00 · Store coupon −CN¥8.00")
    watching.get_by_role("button", name="Buy now").click()
    answer = watching.locator("[data-order]")
    expect(answer).to_contain_text("CN¥58.00 to pay", timeout=WAIT_MS)
    shopper.look("live-2-room-ordered")
    answer.get_by_role("button", name=re.compile("^Pay ")).click()
    expect(answer).to_contain_text("is paid", timeout=WAIT_MS)
    expect(answer.get_by_role("link", name="See the order")).to_have_attribute(
        "href", re.compile(r"^/account/orders/\d+$"))
    expect(hosting.locator("[data-sales-orders]")).to_have_text("1", timeout=WAIT_MS)
    expect(watching.locator("[data-deal-left]")).to_have_text("19 left", timeout=WAIT_MS)  # falling


def chat_and_moderate(hosting: Page, watching: Page) -> None:
    """The shopper chats in both languages (the counter counting); the console shows each message
    with its moderation buttons, and a message the host hides leaves the shopper's chat."""
    box = watching.get_by_label("Your message")
    box.fill("Does it glow at night? 夜里亮吗？")
    expect(watching.locator("[data-chat-count]")).to_have_text("28 of 200 characters")
    box.press("Enter")
    expect(watching.locator("[data-chat]")).to_contain_text("夜里亮吗", timeout=WAIT_MS)
    box.fill("first!!!")
    box.press("Enter")
    spam = hosting.locator("[data-chat] li", has_text="first!!!")
    expect(spam).to_be_visible(timeout=WAIT_MS)
    spam.get_by_role("button", name="Hide").click()
    expect(watching.locator("[data-chat] li", has_text="first!!!")).to_have_count(0, timeout=WAIT_MS)
    expect(watching.locator("[data-chat]")).to_contain_text("夜里亮吗")
    watching.get_by_role("button", name=re.compile("^Heart")).click()
    expect(watching.locator('[data-total="heart"]')).to_have_text("1", timeout=WAIT_MS)  # a second's taps
    expect(hosting.locator('[data-total="heart"]')).to_have_text("1")
    slow = hosting.locator("form[data-command=slow_mode]")
    slow.get_by_label("Seconds between messages (0: off)").fill("3")
    slow.get_by_role("button", name="Set").click()
    expect(slow).to_contain_text("Slow mode: one message per 3 s", timeout=WAIT_MS)


def tap_the_rooms_sockets(page: Page) -> list[WebSocketRoute]:
    """The page's room sockets, each passed through to the server, kept so a test can cut one."""
    sockets: list[WebSocketRoute] = []

    def through(socket: WebSocketRoute) -> None:
        sockets.append(socket)
        socket.connect_to_server()

    page.route_web_socket(re.compile(r"/api/v1/live/events/\d+/ws"), through)
    return sockets


def dropped_and_back(page: Page, sockets: list[WebSocketRoute]) -> None:
    """The socket drops (as when a server restarts): the room says so, comes back by itself after the
    last frame it saw, and carries on."""
    seen = len(sockets)
    sockets[-1].close(code=1001, reason="server-shutting-down")
    deadline = time.monotonic() + WAIT_MS / 1000
    while len(sockets) == seen:
        assert time.monotonic() < deadline, "the room did not reconnect"
        page.wait_for_timeout(100)
    assert "?after=" in sockets[-1].url, sockets[-1].url
    expect(page.locator("[data-connection-lost]")).to_be_hidden(timeout=WAIT_MS)
    page.wait_for_timeout(1500)  # the frames after the last one seen have come by now
    expect(page.locator("[data-chat] li", has_text="夜里亮吗")).to_have_count(1)  # resumed, not replayed
    expect(page.locator("[data-chat] li", has_text="first!!!")).to_have_count(0)
