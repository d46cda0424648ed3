"""The shopper's order pages do what the API does: pay (approved, declined then approved, delayed then
settled), once however often a form is posted; list and read their own orders only; cancel, refund,
return; a receipt; a pre-sale's deposit then its balance in its window. On SQLite and PostgreSQL."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from shopfest.app import create_app
from shopfest.core.actor import Actor, Role
from shopfest.core.clock import SetClock, parse_instant
from shopfest.demo import HotItem, hot_item
from shopfest.deps import SESSION_COOKIE
from shopfest.orders import service as orders
from shopfest.orders.service import release_lapsed
from shopfest.payments.provider import SandboxProvider
from shopfest.runtime import Runtime
from tests.integration.helpers import token_in
from tests.integration.test_cart_pages import check_out, signed_in_tab, with_cart
from tests.integration.test_orders_api import intents, stock
from tests.integration.test_presale import IN_THE_BALANCE_WINDOW
from tests.integration.test_presale import presale as presale  # noqa: F401  # the fixture, by its name


@pytest.fixture
def client(runtime: Runtime) -> TestClient:
    return TestClient(create_app(runtime=runtime))


def text_of(page: str) -> str:
    """The page's words without tags, as a reader sees them."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def placed_order(tab: TestClient, sku_id: int, qty: int = 1) -> int:
    """Check a cart of one SKU out on the cart page; the order's id, from its "Pay now" link."""
    page = check_out(with_cart(tab, {sku_id: qty}))
    assert page.status_code == 200, page.text
    found = re.search(r'href="/account/orders/(\d+)/pay"', page.text)
    assert found is not None, "the placed order's message links to its pay page"
    return int(found.group(1))


def pay_form(tab: TestClient, order_id: int) -> dict[str, str]:
    page = tab.get(f"/account/orders/{order_id}/pay").text
    key = re.search(r'name="pay_key" value="([^"]+)"', page)
    assert key is not None, text_of(page)
    return {"csrf_token": token_in(page), "pay_key": key.group(1)}


def pay(tab: TestClient, order_id: int, method: str, form: dict[str, str] | None = None) -> Any:
    return tab.post(f"/account/orders/{order_id}/pay", data={**(form or pay_form(tab, order_id)),
                                                              "method": method}, follow_redirects=False)


def order_status(runtime: Runtime, who: Actor, order_id: int) -> str:
    return str(orders.get_order(runtime.uow(), who, order_id)["status"])


def shopper_of(runtime: Runtime, order_id: int) -> Actor:
    with runtime.engine.connect() as conn:
        user_id = conn.execute(text("SELECT shopper_id FROM orders WHERE id = :o"),
                               {"o": order_id}).scalar_one()
    return Actor(int(user_id), Role.SHOPPER)


def form_on(page: str, action: str) -> dict[str, str]:
    """The hidden fields of the form posting to `action`."""
    found = re.search(rf'<form method="post" action="{re.escape(action)}"[^>]*>(.*?)</form>', page, re.S)
    assert found is not None, f"no form to {action}"
    return dict(re.findall(r'type="hidden" name="([^"]+)" value="([^"]*)"', found.group(1)))


def signed_in_again(tab: TestClient, name: str) -> TestClient:
    """The festival clock moved past the day a session lives: sign in afresh in the same browser."""
    tab.cookies.delete(SESSION_COOKIE)
    answer = tab.post("/login", data={"email": f"{name}@shoppers.test", "password": "shop-secret-1",
                                      "csrf_token": token_in(tab.get("/login").text)}, follow_redirects=False)
    assert answer.status_code == 303
    return tab


# --- paying ------------------------------------------------------------------------------------

def test_paying_approved_from_the_cart_shows_the_countdown_then_paid(
        client: TestClient, runtime: Runtime) -> None:
    phone = hot_item(runtime, stock=5)
    tab = signed_in_tab(client, runtime, "ann")
    order_id = placed_order(tab, phone.sku_id)
    page = tab.get(f"/account/orders/{order_id}/pay")
    assert page.status_code == 200
    assert "data-countdown" in page.text and "Pay within 00:15:00" in text_of(page.text)
    assert "To pay now: CN¥5,999.00" in text_of(page.text)
    paid = pay(tab, order_id, "sandbox_ok")
    assert paid.status_code == 303 and paid.headers["location"] == f"/account/orders/{order_id}/pay"
    after = tab.get(paid.headers["location"]).text
    assert "Paid — thank you." in text_of(after) and "data-countdown" not in after.split("<main")[1]
    assert stock(runtime, phone.sku_id) == (5, 0, 1)


def test_a_declined_payment_says_so_in_the_pages_language_and_another_try_pays(
        client: TestClient, runtime: Runtime) -> None:
    phone = hot_item(runtime, stock=5)
    tab = signed_in_tab(client, runtime, "ann")
    order_id = placed_order(tab, phone.sku_id)
    declined = pay(tab, order_id, "sandbox_fail")
    assert declined.status_code == 402
    assert "The payment was declined. Nothing was charged" in text_of(declined.text)
    assert 'name="pay_key"' in declined.text  # another try is offered on the same page
    assert stock(runtime, phone.sku_id) == (5, 1, 0)
    tab.cookies.set("shopfest_lang", "zh")
    again = pay(tab, order_id, "sandbox_fail")
    assert again.status_code == 402 and "支付被拒，未扣款" in again.text
    assert pay(tab, order_id, "sandbox_ok").status_code == 303
    assert order_status(runtime, shopper_of(runtime, order_id), order_id) == "paid"
    assert stock(runtime, phone.sku_id) == (5, 0, 1)


def test_a_delayed_payment_shows_processing_until_the_gateway_settles_it(
        client: TestClient, runtime: Runtime) -> None:
    gateway = runtime.provider
    assert isinstance(gateway, SandboxProvider)
    gateway.delay_seconds, gateway.deliver = None, None  # the test delivers its webhooks
    phone = hot_item(runtime, stock=5)
    tab = signed_in_tab(client, runtime, "ann")
    order_id = placed_order(tab, phone.sku_id)
    assert pay(tab, order_id, "sandbox_delay").status_code == 303
    page = tab.get(f"/account/orders/{order_id}/pay").text
    assert "Processing your payment of CN¥5,999.00" in text_of(page)
    assert f'href="/account/orders/{order_id}/pay">Refresh' in page and "data-poll-reload" in page
    assert 'name="pay_key"' not in page  # no second charge while the first is with the gateway
    assert gateway.settle_pending() == 1
    body, signature = gateway.sent[-1]
    delivered = client.post("/api/v1/payments/webhooks/sandbox", content=body,
                            headers={"Shopfest-Signature": signature, "Content-Type": "application/json"})
    assert delivered.status_code == 200, delivered.text
    assert "Paid — thank you." in text_of(tab.get(f"/account/orders/{order_id}/pay").text)
    assert stock(runtime, phone.sku_id) == (5, 0, 1)


def test_the_pay_form_posted_twice_pays_once(client: TestClient, runtime: Runtime) -> None:
    gateway = runtime.provider
    assert isinstance(gateway, SandboxProvider)
    phone = hot_item(runtime, stock=5)
    tab = signed_in_tab(client, runtime, "ann")
    order_id = placed_order(tab, phone.sku_id)
    form = pay_form(tab, order_id)
    charged_before = len(gateway.sent)
    first, second = pay(tab, order_id, "sandbox_ok", form), pay(tab, order_id, "sandbox_ok", form)
    assert first.status_code == second.status_code == 303
    assert len(intents(runtime, order_id)) == 1 and len(gateway.sent) == charged_before + 1
    assert stock(runtime, phone.sku_id) == (5, 0, 1)


def test_a_pay_form_without_a_method_or_key_is_refused_beside_the_field(
        client: TestClient, runtime: Runtime) -> None:
    phone = hot_item(runtime, stock=5)
    tab = signed_in_tab(client, runtime, "ann")
    order_id = placed_order(tab, phone.sku_id)
    no_method = pay(tab, order_id, "paypal")
    assert no_method.status_code == 422 and 'id="method-error">Choose how to pay.' in no_method.text
    no_key = pay(tab, order_id, "sandbox_ok", {**pay_form(tab, order_id), "pay_key": ""})
    assert no_key.status_code == 422 and 'role="alert"' in no_key.text
    assert intents(runtime, order_id) == [] and stock(runtime, phone.sku_id) == (5, 1, 0)


# --- who may see what --------------------------------------------------------------------------

def test_another_shoppers_order_is_not_found_and_a_visitor_is_sent_to_sign_in(
        client: TestClient, runtime: Runtime) -> None:
    phone = hot_item(runtime, stock=5)
    ann = signed_in_tab(client, runtime, "ann")
    order_id = placed_order(ann, phone.sku_id)
    bob = signed_in_tab(client, runtime, "bob")
    for path in ("", "/pay", "/receipt"):
        assert bob.get(f"/account/orders/{order_id}{path}").status_code == 404
    token = token_in(bob.get("/account/orders").text)
    for path, data in (("/pay", {"method": "sandbox_ok", "pay_key": "k1"}), ("/cancel", {}),
                       ("/refund", {"part": "1", "refund_key": "k2"}),
                       ("/returns", {"part": "1", "units-1": "1", "reason": "mine now", "return_key": "k3"})):
        answer = bob.post(f"/account/orders/{order_id}{path}", data={**data, "csrf_token": token})
        assert answer.status_code == 404, path
    assert bob.get("/account/orders/abc").status_code == 404
    assert order_status(runtime, shopper_of(runtime, order_id), order_id) == "awaiting_payment"
    assert f"Order {order_id}" not in bob.get("/account/orders").text
    visitor = TestClient(client.app)
    for path in ("/account/orders", f"/account/orders/{order_id}", f"/account/orders/{order_id}/pay",
                 f"/account/orders/{order_id}/receipt"):
        answer = visitor.get(path, follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/login?next=%2Faccount")


def test_my_orders_are_newest_first_a_page_at_a_time_both_ways(client: TestClient, runtime: Runtime) -> None:
    tab = signed_in_tab(client, runtime, "ann")
    placed = []
    for n in range(12):
        item = hot_item(runtime, stock=2, name=f"Item{n}")
        order_id = placed_order(tab, item.sku_id)
        assert pay(tab, order_id, "sandbox_ok").status_code == 303  # the unpaid cap stays clear
        placed.append(order_id)
    first = tab.get("/account/orders").text
    shown = [int(i) for i in re.findall(r'<li class="order-row" data-order="(\d+)"', first)]
    assert shown == sorted(placed, reverse=True)[:10]
    older = re.search(r'rel="next" href="([^"]+)"', first)
    assert older is not None and 'rel="prev"' not in first
    second = tab.get(html.unescape(older.group(1))).text
    assert [int(i) for i in re.findall(r'data-order="(\d+)"', second)] == sorted(placed, reverse=True)[10:]
    newer = re.search(r'rel="prev" href="([^"]+)"', second)
    assert newer is not None and 'rel="next"' not in second
    back = tab.get(html.unescape(newer.group(1))).text
    assert [int(i) for i in re.findall(r'data-order="(\d+)"', back)] == shown


def test_every_order_page_reads_in_english_and_chinese_with_no_word_missing(
        client: TestClient, runtime: Runtime) -> None:
    phone = hot_item(runtime, stock=5)
    tab = signed_in_tab(client, runtime, "ann")
    order_id = placed_order(tab, phone.sku_id)
    for lang in ("en", "zh"):
        for path in ("/account/orders", f"/account/orders/{order_id}", f"/account/orders/{order_id}/pay",
                     f"/account/orders/{order_id}/receipt"):
            page = tab.get(f"{path}?lang={lang}")
            assert page.status_code == 200
            assert re.findall(r"\b(?:orders|pay|presale)\.[a-z_.]*[a-z]", text_of(page.text)) == [], path
    chinese = text_of(tab.get(f"/account/orders/{order_id}/pay?lang=zh").text)
    assert "剩余付款时间" in chinese and "支付方式（沙盒）" in chinese and "应付金额：" in chinese
    # and a link cannot make the page claim what did not happen
    assert "订单已取消" not in tab.get(f"/account/orders/{order_id}?done=cancelled").text


# --- cancel, refund, return, receipt -----------------------------------------------------------

def test_an_unpaid_order_is_cancelled_once_and_its_units_go_back(
        client: TestClient, runtime: Runtime) -> None:
    phone = hot_item(runtime, stock=5)
    tab = signed_in_tab(client, runtime, "ann")
    order_id = placed_order(tab, phone.sku_id)
    page = tab.get(f"/account/orders/{order_id}").text
    assert "Pay now" in page and "Cancel this order" in page
    form = form_on(page, f"/account/orders/{order_id}/cancel")
    done = tab.post(f"/account/orders/{order_id}/cancel", data=form, follow_redirects=False)
    assert done.status_code == 303
    after = tab.get(done.headers["location"]).text
    assert "The order is cancelled" in text_of(after) and "Cancel this order" not in after
    assert stock(runtime, phone.sku_id) == (5, 0, 0)
    again = tab.post(f"/account/orders/{order_id}/cancel", data=form)
    assert again.status_code == 409 and 'role="alert"' in again.text
    assert "This order can no longer be paid" in text_of(tab.get(f"/account/orders/{order_id}/pay").text)


def test_a_paid_part_not_shipped_is_refunded_once_and_shows_in_the_timeline(
        client: TestClient, runtime: Runtime) -> None:
    phone = hot_item(runtime, stock=5)
    tab = signed_in_tab(client, runtime, "ann")
    order_id = placed_order(tab, phone.sku_id)
    pay(tab, order_id, "sandbox_ok")
    page = tab.get(f"/account/orders/{order_id}").text
    assert "Cancel this order" not in page and "Send goods back" not in page
    form = form_on(page, f"/account/orders/{order_id}/refund")
    done = tab.post(f"/account/orders/{order_id}/refund", data=form, follow_redirects=False)
    assert done.status_code == 303
    again = tab.post(f"/account/orders/{order_id}/refund", data=form, follow_redirects=False)
    assert again.status_code == 303  # the same form: the first answer, no second refund
    after = text_of(tab.get(f"/account/orders/{order_id}").text)
    assert "Refund paid CN¥5,999.00" in after and "Refunded" in after
    assert after.count("Refund paid") == 1
    assert stock(runtime, phone.sku_id) == (5, 0, 0)
    assert order_status(runtime, shopper_of(runtime, order_id), order_id) == "refunded"


def test_a_shipped_part_is_returned_and_the_refund_shows_once_the_merchant_accepts(
        client: TestClient, runtime: Runtime) -> None:
    phone = hot_item(runtime, stock=5)
    tab = signed_in_tab(client, runtime, "ann")
    order_id = placed_order(tab, phone.sku_id, qty=2)
    pay(tab, order_id, "sandbox_ok")
    staff = Actor(0, Role.MERCHANT, phone.merchant_id)
    orders.ship(runtime.uow(), staff, order_id=order_id, carrier="SF Express", tracking="SF1234567")
    page = tab.get(f"/account/orders/{order_id}").text
    assert "SF Express, tracking number SF1234567" in text_of(page) and "Refund this part" not in page
    form = form_on(page, f"/account/orders/{order_id}/returns")
    no_reason = tab.post(f"/account/orders/{order_id}/returns",
                         data={**form, f"units-{phone.sku_id}": "1", "reason": " "})
    assert no_reason.status_code == 422 and "Say why" in no_reason.text
    too_many = tab.post(f"/account/orders/{order_id}/returns",
                        data={**form, f"units-{phone.sku_id}": "3", "reason": "too many"})
    assert too_many.status_code == 422 and 'role="alert"' in too_many.text
    asked = tab.post(f"/account/orders/{order_id}/returns", follow_redirects=False,
                     data={**form, f"units-{phone.sku_id}": "1", "reason": "the screen is cracked"})
    assert asked.status_code == 303
    waiting = text_of(tab.get(asked.headers["location"]).text)
    assert "Return asked for" in waiting and "the screen is cracked" in waiting
    (request,) = orders.get_order(runtime.uow(), staff, order_id)["children"][0]["returns"]
    orders.accept_return(runtime.uow(), runtime.provider, staff, order_id=order_id, return_id=request["id"],
                         goods_back=True)
    after = text_of(tab.get(f"/account/orders/{order_id}").text)
    assert "Return accepted" in after and "CN¥5,999.00 refunded" in after and "Partly refunded" in after


def test_the_receipt_lists_what_was_paid_line_by_line(client: TestClient, runtime: Runtime) -> None:
    phone = hot_item(runtime, stock=5, flash_quantity=3, per_shopper_limit=1)
    tab = signed_in_tab(client, runtime, "ann")
    order_id = placed_order(tab, phone.sku_id)
    pay(tab, order_id, "sandbox_ok")
    receipt = tab.get(f"/account/orders/{order_id}/receipt")
    assert receipt.status_code == 200
    words = text_of(receipt.text)
    assert f"Receipt for order {order_id}" in words and "Midnight X1 phone" in words
    assert "Flash price −CN¥2,999.50" in words and "CN¥2,999.50" in words
    assert "The whole order CN¥2,999.50 Paid" in words
    assert "@media print" in client.get("/static/orders.css").text


# --- a pre-sale --------------------------------------------------------------------------------

def test_a_pre_sale_states_its_terms_before_the_deposit_then_takes_the_balance_in_its_window(
        client: TestClient, runtime: Runtime, clock: SetClock, presale: HotItem) -> None:  # noqa: F811
    tab = signed_in_tab(client, runtime, "ann")
    order_id = placed_order(tab, presale.sku_id)
    before = text_of(tab.get(f"/account/orders/{order_id}/pay").text)
    assert "To pay now: the deposit, CN¥500.00" in before
    assert "Balance CN¥5,499.00" in before
    assert "If you don't pay it by then, the order closes, its units go back on sale and your deposit of " \
           "CN¥500.00 is not returned" in before
    assert pay(tab, order_id, "sandbox_ok").status_code == 303
    waiting = tab.get(f"/account/orders/{order_id}/pay").text
    assert "Your deposit is paid" in text_of(waiting) and 'name="pay_key"' not in waiting
    assert "Balance window opens in" in text_of(waiting)
    clock.set(parse_instant(IN_THE_BALANCE_WINDOW))
    release_lapsed(runtime.uow(), runtime.gate)
    signed_in_again(tab, "ann")
    due = text_of(tab.get(f"/account/orders/{order_id}/pay").text)
    assert "To pay now: the balance, CN¥5,499.00" in due and "Balance window closes in" in due
    assert pay(tab, order_id, "sandbox_ok").status_code == 303
    assert order_status(runtime, shopper_of(runtime, order_id), order_id) == "paid"
    detail = text_of(tab.get(f"/account/orders/{order_id}").text)
    assert "Deposit paid" in detail and "Paid" in detail
    assert stock(runtime, presale.sku_id) == (3, 0, 1)
