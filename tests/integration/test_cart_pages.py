"""The pages tell what checkout does: the cart flags what checkout would refuse, the product page and
the cart price a flash sale for the shopper looking, a checkout form posted twice makes one order, and
the "≈" figures are at the rate checkout charges."""

from __future__ import annotations

import html
import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text

from shopfest.accounts import service as accounts
from shopfest.app import create_app
from shopfest.catalog.model import Fulfilment
from shopfest.core.actor import Actor, Role
from shopfest.core.clock import SetClock
from shopfest.core.money import Money
from shopfest.demo import HotItem, hot_item
from shopfest.deps import SESSION_COOKIE
from shopfest.festival import service as festival
from shopfest.orders import service as orders
from shopfest.orders.model import DeliveryAddress
from shopfest.orders.store import orders as orders_table
from shopfest.promotions import service as promotions
from shopfest.runtime import Runtime
from shopfest.web.deals import CART_COOKIE
from tests.conftest import at
from tests.integration.helpers import token_in
from tests.integration.test_orders_api import order, shopper


@pytest.fixture
def client(runtime: Runtime) -> TestClient:
    return TestClient(create_app(runtime=runtime))


def product_of(runtime: Runtime, sku_id: int) -> int:
    with runtime.engine.connect() as conn:
        found = conn.execute(text("SELECT product_id FROM skus WHERE id = :s"), {"s": sku_id})
        return int(found.scalar_one())


def sku_row(page: str, sku_id: int) -> str:
    found = re.search(rf'<tr data-sku="{sku_id}"[^>]*>(.*?)</tr>', page, re.S)
    assert found is not None, page
    return html.unescape(found.group(1))


def signed_in_tab(client: TestClient, runtime: Runtime, name: str) -> TestClient:
    """A browser of its own (cookies), signed in as a new shopper who has a delivery address."""
    user = accounts.create_account_unchecked(runtime.uow(), email=f"{name}@shoppers.test",
                                             password="shop-secret-1", role=Role.SHOPPER)
    orders.add_delivery_address(runtime.uow(), user.as_actor(), DeliveryAddress.typed(
        name=name.title(), phone="+8613800138000", country="CN", city="Hangzhou", line1="1 Wenyi Road"))
    tab = TestClient(client.app)
    signed_in = tab.post("/login", data={"email": f"{name}@shoppers.test", "password": "shop-secret-1",
                                         "csrf_token": token_in(tab.get("/login").text)},
                         follow_redirects=False)
    assert signed_in.status_code == 303 and tab.cookies.get(SESSION_COOKIE)
    return tab


def orders_of_everyone(runtime: Runtime) -> int:
    with runtime.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(orders_table)).scalar_one())


# --- one table of rates ----------------------------------------------------------------------

def test_the_pages_approximate_price_is_what_checkout_charges_in_that_currency(
        client: TestClient, runtime: Runtime) -> None:
    # given a phone at 5999.00 yuan, read by a viewer who chose US dollars
    phone = hot_item(runtime, stock=5)
    page = client.get(f"/products/{product_of(runtime, phone.sku_id)}?currency=USD").text
    shown = re.search(r'class="approx">≈ US\$([\d,]+\.\d{2})<', sku_row(page, phone.sku_id))
    assert shown is not None
    # when a shopper orders one and pays in US dollars
    placed = order(client, shopper(client, runtime, "ann"), [{"sku_id": phone.sku_id, "qty": 1}],
                   currency="USD")
    assert placed.status_code == 201, placed.text
    # then the order charges exactly the page's figure
    assert placed.json()["to_pay"] == {"amount": shown.group(1).replace(",", ""), "currency": "USD"}


# --- the cart shows what checkout does ------------------------------------------------------

def with_cart(tab: TestClient, cart: dict[int, int]) -> TestClient:
    tab.cookies.set(CART_COOKIE, ",".join(f"{sku}:{qty}" for sku, qty in cart.items()))
    return tab


def checkout_key(page: str) -> str:
    found = re.search(r'name="checkout_key" value="([^"]+)"', page)
    assert found is not None, "the checkout form carries no key"
    return found.group(1)


def checkout_form(page: str) -> dict[str, str]:
    """The hidden fields of the cart page's checkout form, and the first address it offers."""
    address = re.search(r'<option value="(\d+)"', page.partition('name="address_id"')[2])
    return {"checkout_key": checkout_key(page), "csrf_token": token_in(page),
            **({"address_id": address.group(1)} if address else {})}


def check_out(tab: TestClient) -> Any:
    return tab.post("/cart/checkout", data=checkout_form(tab.get("/cart").text))


def line_problem(page: str, sku_id: int) -> str | None:
    found = re.search(r'class="line-problem" role="alert">([^<]*)<', sku_row(page, sku_id))
    return html.unescape(found.group(1)) if found else None


def checkout_disabled(page: str) -> bool:
    return re.search(r'<button type="submit" class="checkout" disabled>', page) is not None


def test_a_cart_over_the_flash_limit_is_flagged_and_its_checkout_comes_back_to_the_cart(
        client: TestClient, runtime: Runtime) -> None:
    # given a phone on a flash sale of one unit per shopper, and a shopper with two in the cart
    phone = hot_item(runtime, stock=10, flash_quantity=5, per_shopper_limit=1)
    tab = with_cart(signed_in_tab(client, runtime, "ann"), {phone.sku_id: 2})
    # then the cart says why checkout would refuse the line, and checking out is off
    page = tab.get("/cart").text
    assert line_problem(page, phone.sku_id) == (
        "At the flash price you may take 1 more: lower the quantity to check out.")
    assert checkout_disabled(page)
    # and a checkout posted all the same comes back to the cart, the reason on the line
    refused = check_out(tab)
    assert refused.status_code == 409
    assert 'class="cart-lines"' in refused.text and line_problem(refused.text, phone.sku_id)
    assert orders_of_everyone(runtime) == 0


def test_a_cart_over_the_stock_left_is_flagged_and_refused_on_the_cart(
        client: TestClient, runtime: Runtime) -> None:
    # given a scarf with two units left and a shopper wanting three
    scarf = hot_item(runtime, stock=2, price="199.00", name="Birch")
    tab = with_cart(signed_in_tab(client, runtime, "ann"), {scarf.sku_id: 3})
    page = tab.get("/cart").text
    assert line_problem(page, scarf.sku_id) == "Only 2 left: lower the quantity to check out."
    assert checkout_disabled(page)
    refused = check_out(tab)
    assert refused.status_code == 409 and line_problem(refused.text, scarf.sku_id)
    # and two fit: the cart lets them through, and checkout places them
    with_cart(tab, {scarf.sku_id: 2})
    page = tab.get("/cart").text
    assert line_problem(page, scarf.sku_id) is None and not checkout_disabled(page)
    placed = check_out(tab)
    assert placed.status_code == 200 and 'class="placed"' in placed.text
    assert orders_of_everyone(runtime) == 1


def test_a_shopper_who_used_the_flash_limit_is_told_so_on_the_product_page_and_in_the_cart(
        client: TestClient, runtime: Runtime) -> None:
    # given a phone on a flash sale at 2999.50, one per shopper, which the shopper bought
    phone = hot_item(runtime, stock=10, flash_quantity=5, per_shopper_limit=1)
    tab = with_cart(signed_in_tab(client, runtime, "ann"), {phone.sku_id: 1})
    first = check_out(tab)
    assert first.status_code == 200 and "is placed: CN¥2,999.50" in html.unescape(first.text)
    # then the product page no longer offers them the flash price (checkout would refuse it)
    product = tab.get(f"/products/{product_of(runtime, phone.sku_id)}").text
    row = sku_row(product, phone.sku_id)
    assert "festival-price" not in row
    assert "You have bought as many as the flash sale allows each shopper" in row
    # and the cart flags another one and will not check it out
    page = with_cart(tab, {phone.sku_id: 1}).get("/cart").text
    assert "bought as many as the flash sale allows" in (line_problem(page, phone.sku_id) or "")
    assert checkout_disabled(page)
    assert check_out(tab).status_code == 409 and orders_of_everyone(runtime) == 1
    # while a shopper who bought none still sees the flash price
    bob = signed_in_tab(client, runtime, "bob")
    product = bob.get(f"/products/{product_of(runtime, phone.sku_id)}").text
    assert re.search(r'class="festival-price">CN¥2,999.50<', sku_row(product, phone.sku_id))


# --- a checkout form posted twice -----------------------------------------------------------

def test_a_checkout_form_posted_twice_at_once_places_one_order(client: TestClient, runtime: Runtime) -> None:
    # given a shopper's cart page, with its checkout form
    phone = hot_item(runtime, stock=10)
    tab = with_cart(signed_in_tab(client, runtime, "ann"), {phone.sku_id: 1})
    form = checkout_form(tab.get("/cart").text)
    # when the form is posted twice at the same moment (each post with the cookies the page had)
    twins = [TestClient(client.app, cookies=dict(tab.cookies.items())) for _ in range(2)]
    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(lambda twin: twin.post("/cart/checkout", data=form), twins))
    # then one order is placed, and both posts tell of it
    assert orders_of_everyone(runtime) == 1
    told = [re.search(r"Order (\d+) is placed", a.text) for a in answers]
    assert [a.status_code for a in answers] == [200, 200] and all(told)
    assert len({m.group(1) for m in told if m}) == 1


# --- what is paid now, what later, and when -------------------------------------------------

BALANCE_WINDOW = "Nov 11, 2027, 00:00 – Nov 12, 2027, 00:00 (Asia/Shanghai time)"


def on_presale(runtime: Runtime, clock: SetClock, instant: str) -> HotItem:
    """A 5,999 yuan deposit-voucher car on pre-sale with a 500 yuan deposit, the clock at `instant`."""
    clock.set(at(instant))
    festival.schedule_eleven_eleven(runtime.uow(), 2027)
    item = hot_item(runtime, stock=3, fulfilment=Fulfilment.DEPOSIT_VOUCHER, name="Kestrel")
    promotions.offer_presale(runtime.uow(), Actor(0, Role.MERCHANT, item.merchant_id), sku_id=item.sku_id,
                             deposit=Money.parse("500.00", "CNY"))
    return item


def test_in_a_deposit_window_the_pages_say_the_deposit_is_paid_now_and_the_balance_later(
        client: TestClient, runtime: Runtime, clock: SetClock) -> None:
    car = on_presale(runtime, clock, "2027-11-05T20:00:00+08:00")
    tab = with_cart(signed_in_tab(client, runtime, "ann"), {car.sku_id: 1})
    # the product page, in English and in Chinese
    row = sku_row(tab.get(f"/products/{product_of(runtime, car.sku_id)}").text, car.sku_id)
    assert "Paid now: the deposit, CN¥500.00" in row
    assert f"Paid later: the balance, CN¥5,499.00, {BALANCE_WINDOW}" in row
    row_zh = sku_row(tab.get(f"/products/{product_of(runtime, car.sku_id)}?lang=zh").text, car.sku_id)
    assert "现在支付：定金 ¥500.00" in row_zh and "稍后支付：尾款 ¥5,499.00" in row_zh
    # the cart says the same, and does not call the whole price what is paid
    page = html.unescape(tab.get("/cart?lang=en").text)
    assert "Paid now: the deposit, CN¥500.00" in page
    assert f"Paid later: the balance, CN¥5,499.00, {BALANCE_WINDOW}" in page
    assert "You pay" not in page
    # and the order placed waits for that deposit
    placed = html.unescape(check_out(tab).text)
    assert "Pay the deposit, CN¥500.00, within 15 minutes" in placed
    assert f"the balance, CN¥5,499.00, is paid {BALANCE_WINDOW}" in placed


def test_outside_a_pre_sale_the_pages_say_the_whole_price_is_paid_now(
        client: TestClient, runtime: Runtime, clock: SetClock) -> None:
    car = on_presale(runtime, clock, "2027-11-11T00:30:00+08:00")
    tab = with_cart(signed_in_tab(client, runtime, "ann"), {car.sku_id: 1})
    product = html.unescape(tab.get(f"/products/{product_of(runtime, car.sku_id)}").text)
    row = sku_row(product, car.sku_id)
    assert "Paid now: CN¥5,999.00, the whole price" in row and "deposit" not in row
    assert "pay a deposit" not in product  # the voucher's explanation promises no deposit either
    page = html.unescape(tab.get("/cart").text)
    assert "Paid now: CN¥5,999.00, the whole price" in page and "balance" not in page
    assert "is placed: CN¥5,999.00. Pay within 15 minutes" in html.unescape(check_out(tab).text)


def test_a_used_checkout_form_with_another_cart_comes_back_to_the_cart_and_places_nothing(
        client: TestClient, runtime: Runtime) -> None:
    phone = hot_item(runtime, stock=10)
    tab = with_cart(signed_in_tab(client, runtime, "ann"), {phone.sku_id: 1})
    form = checkout_form(tab.get("/cart").text)
    assert tab.post("/cart/checkout", data=form).status_code == 200
    # the old form, posted again once the cart holds something else
    again = with_cart(tab, {phone.sku_id: 2}).post("/cart/checkout", data=form)
    assert again.status_code == 422 and 'class="cart-lines"' in again.text
    assert 'class="error" role="alert"' in again.text and checkout_key(again.text) != form["checkout_key"]
    assert orders_of_everyone(runtime) == 1
