"""The wallet and the deals as pages: a coupon claimed in the centre lands in the wallet, an order awaiting
payment holds it and paying spends it; vouchers show as QR codes; the centre says why a claim is
refused; the flash zone counts what is left and what the shopper took; nobody sees another's wallet."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from shopfest.accounts import service as accounts
from shopfest.app import create_app
from shopfest.catalog.model import Fulfilment
from shopfest.core.actor import Actor, Role
from shopfest.core.clock import SetClock
from shopfest.core.money import Money
from shopfest.demo import HotItem, hot_item
from shopfest.festival import service as festival
from shopfest.inventory import service as inventory
from shopfest.inventory.model import FlashSale
from shopfest.orders.store import vouchers
from shopfest.promotions import service as promotions
from shopfest.promotions.offers import CouponIssue, Period
from shopfest.runtime import Runtime
from tests.integration.helpers import bearer, token_for, token_in
from tests.integration.test_cart_pages import check_out, signed_in_tab, with_cart

OPERATOR = Actor(1, Role.OPERATOR)


@pytest.fixture
def client(runtime: Runtime) -> TestClient:
    return TestClient(create_app(runtime=runtime))


def coupon(runtime: Runtime, *, quantity: int = 100, per_shopper_limit: int = 1, hours: float | None = None,
           kind: str = "platform_coupon", off: int = 3000, min_spend: int = 30000,
           merchant_id: int | None = None, starts_in: float = -1) -> CouponIssue:
    """A coupon of the 2027 festival, on from `starts_in` hours from now for `hours` (None: to the
    festival's end); a store coupon when `merchant_id` is given."""
    fest = festival.schedule_eleven_eleven(runtime.uow(), 2027)
    now = runtime.clock.now()
    starts = now + timedelta(hours=starts_in)
    ends = fest.ends_at if hours is None else starts + timedelta(hours=hours)
    who = OPERATOR if merchant_id is None else Actor(0, Role.MERCHANT, merchant_id)
    return promotions.put_on_coupon(runtime.uow(), who, CouponIssue(
        kind, merchant_id, "CNY", min_spend, off, quantity, per_shopper_limit, Period(starts, ends)))


def claim(tab: TestClient, coupon_id: int, *, page: str = "/deals", **extra: str) -> httpx.Response:
    return tab.post("/deals/claim", data={"coupon_id": str(coupon_id),
                                          "csrf_token": token_in(tab.get(page).text), **extra},
                    follow_redirects=False)


def said(page: str) -> str:
    found = re.search(r'class="(?:notice|error) said" role="(?:status|alert)">([^<]*)<', page)
    assert found is not None, "the page says nothing"
    return html.unescape(found.group(1)).strip()


def shelves(page: str) -> dict[str, list[str]]:
    """Each wallet shelf, with the ids of the coupons on it."""
    found: dict[str, list[str]] = {}
    for shelf, body in re.findall(r'data-shelf="(\w+)"(.*?)</section>', page, re.S):
        found[shelf] = re.findall(r'data-coupon="(\d+)"', body)
    return found


def coupon_card(page: str, coupon_id: int) -> str:
    found = re.search(rf'<li class="coupon [^"]*" id="coupon-{coupon_id}"[^>]*>(.*?)</li>', page, re.S)
    assert found is not None, page
    return html.unescape(re.sub(r"<[^>]+>", " ", found.group(1)))


def flash_card(page: str, sale_id: int | None) -> str:
    found = re.search(rf'<li class="flash-card[^"]*" data-flash-sale="{sale_id}"(.*?)</li>', page, re.S)
    assert found is not None, page
    return html.unescape(found.group(1))


def shopper_token(client: TestClient, name: str) -> dict[str, str]:
    return bearer(token_for(client, f"{name}@shoppers.test", "shop-secret-1"))


def placed_order(page: str) -> int:
    found = re.search(r"Order (\d+) is placed", page)
    assert found is not None, page
    return int(found.group(1))


def pay(client: TestClient, name: str, order_id: int) -> None:
    paid = client.post(f"/api/v1/orders/{order_id}/pay", json={"method": "sandbox_ok"},
                       headers=shopper_token(client, name))
    assert paid.status_code == 200, paid.text


def buy(client: TestClient, tab: TestClient, name: str, item: HotItem, qty: int = 1) -> int:
    """The shopper checks the item out from the cart page and pays: the order's id."""
    placed = check_out(with_cart(tab, {item.sku_id: qty}))
    assert placed.status_code == 200, placed.text
    order_id = placed_order(placed.text)
    pay(client, name, order_id)
    return order_id


# --- the wallet: claimed, held, spent ------------------------------------------------------

def test_a_claimed_coupon_is_free_in_the_wallet_held_by_an_unpaid_order_and_spent_once_paid(
        client: TestClient, runtime: Runtime) -> None:
    # given a platform coupon of 30 off 300, on to the festival's end, and a 5,999 yuan phone
    offer = coupon(runtime)
    phone = hot_item(runtime, stock=5)
    tab = signed_in_tab(client, runtime, "ann")
    # when the shopper claims it in the centre
    claimed = claim(tab, offer.id or 0)
    assert claimed.status_code == 303
    assert claimed.headers["location"] == f"/deals?claimed={offer.id}#coupon-{offer.id}"
    assert said(tab.get(claimed.headers["location"]).text) == "Claimed: it is in your wallet."
    # then the wallet shows it free to use, with its value, where it applies and its window
    wallet = tab.get("/account/wallet").text
    assert shelves(wallet) == {"free": [str(offer.id)]}
    text = html.unescape(wallet)
    assert "CN¥30.00 off" in text and "on orders from CN¥300.00" in text
    assert "Every store (from the platform)" in text
    assert "Valid Nov 10, 2027, 22:55 – Nov 12, 2027, 00:00 (Asia/Shanghai time)" in text
    # when the cart checks out (using the coupon by itself), the unpaid order holds it
    placed = check_out(with_cart(tab, {phone.sku_id: 1}))
    order_id = placed_order(placed.text)
    wallet = tab.get("/account/wallet").text
    assert shelves(wallet) == {"held": [str(offer.id)]}
    assert f"Held by order {order_id}" in wallet
    # and once the order is paid the coupon is spent
    pay(client, "ann", order_id)
    wallet = tab.get("/account/wallet").text
    assert shelves(wallet) == {"spent": [str(offer.id)]}
    assert f"Spent on order {order_id}" in wallet


def test_a_coupon_whose_window_closes_within_a_day_is_expiring_soon_then_expired(
        client: TestClient, runtime: Runtime, clock: SetClock) -> None:
    # given a red envelope on for six more hours, and a store coupon to the festival's end, both claimed
    envelope = coupon(runtime, kind="red_envelope", off=1111, min_spend=0, hours=7)
    store = hot_item(runtime, stock=5, name="Birch")
    store_coupon = coupon(runtime, kind="store_coupon", merchant_id=store.merchant_id)
    tab = signed_in_tab(client, runtime, "ann")
    for offer in (envelope, store_coupon):
        assert claim(tab, offer.id or 0).status_code == 303
    # then the envelope is expiring soon, on top, and the store coupon free to use at its store only
    wallet = tab.get("/account/wallet").text
    assert shelves(wallet) == {"expiring": [str(envelope.id)], "free": [str(store_coupon.id)]}
    assert list(shelves(wallet)) == ["expiring", "free"]
    text = html.unescape(wallet)
    assert "CN¥11.11 off" in text and "no minimum spend" in text
    assert "At Birch Flagship Store only" in text
    # when the envelope's window has closed, unused, it is expired (and the festival's last day has
    # begun: the store coupon is expiring soon now)
    clock.set(envelope.window.ends_at + timedelta(minutes=1))
    assert shelves(tab.get("/account/wallet").text) == {"expiring": [str(store_coupon.id)],
                                                        "expired": [str(envelope.id)]}


def test_the_wallet_is_in_chinese_for_a_chinese_reader(client: TestClient, runtime: Runtime) -> None:
    offer = coupon(runtime, kind="red_envelope", off=1111, min_spend=0, hours=7)
    tab = signed_in_tab(client, runtime, "ann")
    claim(tab, offer.id or 0)
    page = html.unescape(tab.get("/account/wallet?lang=zh").text)
    assert "即将过期" in page and "全平台通用" in page and "无门槛" in page and "红包" in page


# --- vouchers as QR codes ------------------------------------------------------------------

def test_paid_vouchers_show_as_qr_codes_with_their_codes_to_their_shopper_only(
        client: TestClient, runtime: Runtime) -> None:
    # given a spa service voucher, two bought and paid
    spa = hot_item(runtime, stock=5, price="388.00", fulfilment=Fulfilment.SERVICE_VOUCHER, name="Lotus")
    tab = signed_in_tab(client, runtime, "ann")
    order_id = buy(client, tab, "ann", spa, qty=2)
    # then the wallet shows two vouchers, each a QR code drawn inline with its code beside it, unused
    page = tab.get("/account/wallet").text
    codes = re.findall(r'data-voucher="([^"]+)"', page)
    assert len(codes) == 2
    receipt = client.get(f"/api/v1/orders/{order_id}", headers=shopper_token(client, "ann")).json()
    assert sorted(codes) == sorted(receipt["children"][0]["vouchers"])
    for code in codes:
        card = re.search(rf'data-voucher="{re.escape(code)}">(.*?)</li>', page, re.S)
        assert card is not None
        assert re.search(rf'<svg role="img" aria-label="QR code of voucher {re.escape(code)}"', card.group(1))
        assert f"<code>{code}</code>" in card.group(1) and "Unused" in card.group(1)
        assert "Lotus X1 phone" in card.group(1) and "Service voucher" in card.group(1)
    assert "http" not in page.split('class="vouchers"')[1].split("</ul>")[0]  # nothing fetched
    # and another shopper's wallet has none of them
    bob = signed_in_tab(client, runtime, "bob")
    other = bob.get("/account/wallet").text
    assert not re.findall(r'data-voucher="', other) and not any(code in other for code in codes)


def test_a_redeemed_voucher_says_so(client: TestClient, runtime: Runtime) -> None:
    spa = hot_item(runtime, stock=5, price="388.00", fulfilment=Fulfilment.SERVICE_VOUCHER, name="Lotus")
    tab = signed_in_tab(client, runtime, "ann")
    buy(client, tab, "ann", spa)
    with runtime.engine.begin() as conn:  # as the shop's scan will (redeeming is another issue's)
        conn.execute(update(vouchers).values(status="redeemed"))
    page = tab.get("/account/wallet").text
    assert 'class="voucher redeemed"' in page and "Redeemed" in page and "Unused" not in page


def test_a_voucher_bought_but_not_paid_is_not_in_the_wallet(client: TestClient, runtime: Runtime) -> None:
    spa = hot_item(runtime, stock=5, price="388.00", fulfilment=Fulfilment.SERVICE_VOUCHER, name="Lotus")
    tab = signed_in_tab(client, runtime, "ann")
    check_out(with_cart(tab, {spa.sku_id: 1}))
    assert 'data-voucher="' not in tab.get("/account/wallet").text


# --- the coupon centre ---------------------------------------------------------------------

def test_the_centre_lists_every_coupon_on_now_with_what_it_gives_who_offers_it_and_how_many_are_left(
        client: TestClient, runtime: Runtime) -> None:
    # given a platform coupon, a store coupon and one that comes later
    platform = coupon(runtime, quantity=50, per_shopper_limit=2)
    birch = hot_item(runtime, stock=5, name="Birch")
    store = coupon(runtime, kind="store_coupon", merchant_id=birch.merchant_id, off=2000, min_spend=10000)
    later = coupon(runtime, starts_in=2, hours=3)
    # then a visitor sees the two on now, each with its offer, and a way to sign in to claim
    page = client.get("/deals").text
    assert f'id="coupon-{later.id}"' not in page
    first = coupon_card(page, platform.id or 0)
    assert "CN¥30.00 off" in first and "Offered by: ShopFest" in first
    assert "50 of 50 left" in first and "Limit 2 per shopper" in first and "Sign in to claim" in first
    second = coupon_card(page, store.id or 0)
    assert "CN¥20.00 off" in second and "Offered by: Birch Flagship Store" in second
    assert "At Birch Flagship Store only" in second and "on orders from CN¥100.00" in second
    # and a shopper who claimed one sees the count fall and what they hold
    tab = signed_in_tab(client, runtime, "ann")
    claim(tab, platform.id or 0)
    card = coupon_card(tab.get("/deals").text, platform.id or 0)
    assert "49 of 50 left" in card and "You have claimed 1" in card and "Claim" in card


def test_a_coupon_claimed_twice_is_refused_with_the_reason_and_nothing_changes(
        client: TestClient, runtime: Runtime) -> None:
    offer = coupon(runtime, quantity=10)
    tab = signed_in_tab(client, runtime, "ann")
    assert claim(tab, offer.id or 0).status_code == 303
    again = claim(tab, offer.id or 0)
    assert again.status_code == 409
    assert said(again.text) == "You have already claimed this coupon."
    assert promotions.coupon(runtime.uow(), offer.id or 0).claimed == 1
    assert "In your wallet" in coupon_card(tab.get("/deals").text, offer.id or 0)
    # in the shopper's language
    chinese = claim(tab, offer.id or 0, page="/deals?lang=zh")
    assert said(chinese.text) == "你已经领取过这张优惠券。"


def test_the_word_that_a_coupon_was_claimed_needs_the_coupon_in_the_wallet(
        client: TestClient, runtime: Runtime) -> None:
    offer = coupon(runtime, quantity=10)
    tab = signed_in_tab(client, runtime, "ann")
    assert 'class="notice said"' not in tab.get(f"/deals?claimed={offer.id}").text  # a link, not a claim
    assert 'class="notice said"' not in client.get(f"/deals?claimed={offer.id}").text
    claim(tab, offer.id or 0)
    assert said(tab.get(f"/deals?claimed={offer.id}").text) == "Claimed: it is in your wallet."


def test_the_centre_is_in_chinese_for_a_chinese_reader(client: TestClient, runtime: Runtime) -> None:
    offer = coupon(runtime, kind="red_envelope", off=1111, min_spend=0, quantity=20)
    card = coupon_card(client.get("/deals?lang=zh").text, offer.id or 0)
    assert "红包" in card and "减 ¥11.11" in card and "发放方：ShopFest" in card
    assert "剩余 20 / 20" in card and "登录后领取" in card


def test_a_claim_past_the_per_shopper_limit_says_the_limit(client: TestClient, runtime: Runtime) -> None:
    offer = coupon(runtime, quantity=10, per_shopper_limit=2)
    tab = signed_in_tab(client, runtime, "ann")
    assert [claim(tab, offer.id or 0).status_code for _ in range(2)] == [303, 303]
    third = claim(tab, offer.id or 0)
    assert third.status_code == 409
    assert said(third.text) == "You have claimed as many as allowed: 2 per shopper."
    assert promotions.coupon(runtime.uow(), offer.id or 0).claimed == 2


def test_a_coupon_all_claimed_is_gone_for_the_next_shopper(client: TestClient, runtime: Runtime) -> None:
    offer = coupon(runtime, quantity=1)
    ann, bob = signed_in_tab(client, runtime, "ann"), signed_in_tab(client, runtime, "bob")
    bobs_page = bob.get("/deals").text  # bob opened the centre while one was left
    assert claim(ann, offer.id or 0).status_code == 303
    late = bob.post("/deals/claim", data={"coupon_id": str(offer.id), "csrf_token": token_in(bobs_page)})
    assert late.status_code == 409
    assert said(late.text) == "Too late: every one of this coupon has been claimed."
    assert "All claimed" in coupon_card(late.text, offer.id or 0)
    assert 'data-coupon="' not in bob.get("/account/wallet").text


def test_bad_claims_are_refused_in_words_and_claim_nothing(client: TestClient, runtime: Runtime) -> None:
    later = coupon(runtime, starts_in=2, hours=3)
    tab = signed_in_tab(client, runtime, "ann")
    not_yet = claim(tab, later.id or 0)
    assert not_yet.status_code == 422
    assert said(not_yet.text) == "This coupon cannot be claimed now."
    assert claim(tab, 999_999).status_code == 404
    token = token_in(tab.get("/deals").text)
    malformed = tab.post("/deals/claim", data={"coupon_id": "abc", "csrf_token": token})
    assert malformed.status_code == 422 and "<html" in malformed.text
    forged = tab.post("/deals/claim", data={"coupon_id": str(later.id), "csrf_token": "forged"})
    assert forged.status_code == 403
    assert promotions.coupon(runtime.uow(), later.id or 0).claimed == 0


def test_signed_out_the_wallet_and_a_claim_go_to_sign_in_and_back(client: TestClient,
                                                                  runtime: Runtime) -> None:
    offer = coupon(runtime)
    wallet = client.get("/account/wallet", follow_redirects=False)
    assert wallet.status_code == 303 and wallet.headers["location"] == "/login?next=%2Faccount%2Fwallet"
    assert "Sign in to claim" in coupon_card(client.get("/deals").text, offer.id or 0)
    claimed = claim(client, offer.id or 0, page="/login")  # a form token this browser has
    assert claimed.status_code == 303
    assert claimed.headers["location"] == "/login?next=%2Fdeals"
    assert promotions.coupon(runtime.uow(), offer.id or 0).claimed == 0


def test_merchant_staff_have_no_wallet_and_claim_nothing(client: TestClient, runtime: Runtime) -> None:
    offer = coupon(runtime)
    birch = hot_item(runtime, stock=5, name="Birch")
    accounts.create_account_unchecked(runtime.uow(), email="staff@birch.test", password="staff-secret-1",
                                      role=Role.MERCHANT, merchant_id=birch.merchant_id)
    staff = TestClient(client.app)
    staff.post("/login", data={"email": "staff@birch.test", "password": "staff-secret-1",
                               "csrf_token": token_in(staff.get("/login").text)})
    assert staff.get("/account/wallet").status_code == 403
    card = staff.get("/deals").text
    assert 'action="/deals/claim"' not in card and "Sign in to claim" not in coupon_card(card, offer.id or 0)
    assert claim(staff, offer.id or 0).status_code == 403
    assert promotions.coupon(runtime.uow(), offer.id or 0).claimed == 0


# --- the flash-sale zone -------------------------------------------------------------------

def test_the_flash_zone_counts_what_is_left_and_what_each_shopper_took(
        client: TestClient, runtime: Runtime) -> None:
    # given a phone on a flash sale of 5 at half price, 2 per shopper, which ann buys one of
    phone = hot_item(runtime, stock=10, flash_quantity=5, per_shopper_limit=2)
    ann = signed_in_tab(client, runtime, "ann")
    buy(client, ann, "ann", phone)
    # then the zone shows the flash price against the list price, 4 of 5 left, and ann's one
    card = flash_card(ann.get("/deals/flash").text, phone.flash_sale_id)
    assert 'data-state="on"' in card
    assert "CN¥2,999.50" in card and "<del" in card and "CN¥5,999.00" in card
    assert "4 of 5 left" in card and "Limit 2 per shopper" in card and "You took 1 of 2" in card
    assert "Ends in" in card and "data-countdown" in card and "12:00:00" in card
    assert 'action="/cart/add"' in card and f'name="sku_id" value="{phone.sku_id}"' in card
    # while bob took none, and a visitor sees no one's share
    assert "You took 0 of 2" in flash_card(signed_in_tab(client, runtime, "bob").get("/deals/flash").text,
                                           phone.flash_sale_id)
    visitor = flash_card(client.get("/deals/flash").text, phone.flash_sale_id)
    assert "4 of 5 left" in visitor and "You took" not in visitor


def test_a_sold_out_flash_sale_says_so_and_sells_no_more(client: TestClient, runtime: Runtime) -> None:
    phone = hot_item(runtime, stock=10, flash_quantity=1, per_shopper_limit=1)
    ann = signed_in_tab(client, runtime, "ann")
    buy(client, ann, "ann", phone)
    card = flash_card(client.get("/deals/flash").text, phone.flash_sale_id)
    assert 'data-state="sold-out"' in card and "Sold out" in card and "0 of 1 left" in card
    assert 'action="/cart/add"' not in card


def test_a_coming_flash_sale_counts_down_to_its_start_and_cannot_be_added_yet(
        client: TestClient, runtime: Runtime) -> None:
    lamp = hot_item(runtime, stock=30, price="300.00", name="Lamp")
    now = runtime.clock.now()
    sale = inventory.schedule_flash_sale(runtime.uow(), Actor(0, Role.MERCHANT, lamp.merchant_id), FlashSale(
        sku_id=lamp.sku_id, price=Money(9900, "CNY"), quantity=20, starts_at=now + timedelta(minutes=5),
        ends_at=now + timedelta(hours=1), per_shopper_limit=3))
    page = client.get("/deals/flash?lang=zh").text
    card = flash_card(page, sale.id)
    assert 'data-state="coming"' in card and "即将开始" in card and "距开始" in card
    assert "00:05:00" in card and "剩余 20 / 20 件" in card and "每人限购 3 件" in card
    assert 'action="/cart/add"' not in card
    assert re.search(r'data-target-ms="(\d+)"', card).group(1) == str(  # type: ignore[union-attr]
        int((now + timedelta(minutes=5)).timestamp() * 1000))


def test_nothing_on_or_coming_is_said_plainly(client: TestClient, runtime: Runtime) -> None:
    assert "No flash sale is on or coming." in client.get("/deals/flash").text
    assert "No coupons can be claimed right now." in client.get("/deals").text
