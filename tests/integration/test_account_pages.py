"""The shopper's account in the pages: signing up, the settings (profile, password, signing out
everywhere), signing in back to where one was, delivery addresses, and choosing one at checkout."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from shopfest.accounts import service as accounts
from shopfest.accounts.store import users
from shopfest.app import create_app, make_runtime
from shopfest.catalog.model import Fulfilment
from shopfest.core.actor import MACHINE, Actor, Role
from shopfest.core.clock import SetClock
from shopfest.demo import hot_item
from shopfest.deps import SESSION_COOKIE
from shopfest.orders import service as orders
from shopfest.orders.model import MAX_ADDRESSES, DeliveryAddress
from shopfest.orders.store import order_deliveries
from shopfest.runtime import Runtime
from shopfest.settings import Settings
from shopfest.web.deals import CART_COOKIE
from shopfest.web.viewer import CURRENCY_COOKIE, LANG_COOKIE
from tests.integration.helpers import bearer, token_for, token_in
from tests.integration.test_cart_pages import checkout_form, orders_of_everyone

PASSWORD = "shop-secret-1"


@pytest.fixture
def client(runtime: Runtime) -> TestClient:
    return TestClient(create_app(runtime=runtime))


def tab_of(client: TestClient) -> TestClient:
    """A browser of its own: its own cookies."""
    return TestClient(client.app)


def post_form(tab: TestClient, path: str, data: dict[str, str], *, page: str | None = None) -> Any:
    """Post a form as the page holding it would: with this browser's form token."""
    token = token_in(tab.get(page or path).text)
    return tab.post(path, data={**data, "csrf_token": token}, follow_redirects=False)


def new_shopper(runtime: Runtime, name: str) -> Actor:
    user = accounts.create_account_unchecked(runtime.uow(), email=f"{name}@shoppers.test", password=PASSWORD,
                                             role=Role.SHOPPER)
    return user.as_actor()


def signed_in(client: TestClient, name: str, *, password: str = PASSWORD) -> TestClient:
    tab = tab_of(client)
    done = post_form(tab, "/login", {"email": f"{name}@shoppers.test", "password": password})
    assert done.status_code == 303 and tab.cookies.get(SESSION_COOKIE), done.text
    return tab


def text_of(response: Any) -> str:
    return html.unescape(response.text)


def field_error(page: str, field: str) -> str | None:
    found = re.search(rf'<p class="field-error" id="e-{field}">([^<]*)</p>', page)
    return html.unescape(found.group(1)) if found else None


def user_count(runtime: Runtime) -> int:
    with runtime.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(users)).scalar_one())


# --- signing up ----------------------------------------------------------------------------

SIGN_UP = {"email": "mei@shoppers.test", "password": "lanterns-over-the-lake", "country": "CN",
           "language": "zh", "currency": "CNY", "next": "/cart"}


def test_signing_up_on_the_page_signs_in_and_goes_back_where_one_was(client: TestClient,
                                                                     runtime: Runtime) -> None:
    tab = tab_of(client)
    form = tab.get("/signup?next=/cart").text
    assert 'name="next" value="/cart"' in form and "We will send a mail" in html.unescape(form)
    # when Mei signs up, choosing Chinese
    done = post_form(tab, "/signup", SIGN_UP, page="/signup?next=/cart")
    # then she is signed in, lands back on the cart, and the pages read Chinese
    assert done.status_code == 303 and done.headers["location"] == "/cart"
    assert tab.cookies.get(SESSION_COOKIE) and tab.cookies.get(LANG_COOKIE) == "zh"
    settings = text_of(tab.get("/account"))
    assert "当前账户：mei@shoppers.test" in settings
    assert "您的邮箱尚未验证：请查收我们发往 mei@shoppers.test 的邮件" in settings
    # and the mail that verifies her email is in the outbox, as for the API's register
    mails = accounts.mail_outbox(runtime.uow(), MACHINE, to="mei@shoppers.test")
    assert [m["subject"] for m in mails] == ["Verify your ShopFest email"]


def test_a_sign_up_with_an_outside_next_lands_on_the_home_page(client: TestClient) -> None:
    tab = tab_of(client)
    done = post_form(tab, "/signup", {**SIGN_UP, "next": "//evil.example/x"}, page="/signup")
    assert done.status_code == 303 and done.headers["location"] == "/"


@pytest.mark.parametrize(("change", "field", "message"), [
    ({"email": "not-an-email"}, "email", "Enter an email address, like mei@example.com."),
    ({"password": "short"}, "password", "A password is 10 to 256 characters."),
    ({"password": "x" * 300}, "password", "A password is 10 to 256 characters."),
    ({"password": "password123"}, "password", "This password is one of the most commonly used, so it is "
                                              "guessed first: choose another."),
    ({"country": "Narnia"}, "country", "Choose a country or region from the list."),
    ({"currency": "XYZ"}, "currency", "Choose a currency from the list."),
    ({"language": "fr"}, "language", "Choose English or 中文."),
])
def test_a_sign_up_the_rules_refuse_says_why_beside_the_field_and_opens_nothing(
        client: TestClient, runtime: Runtime, change: dict[str, str], field: str, message: str) -> None:
    before = user_count(runtime)
    refused = post_form(tab_of(client), "/signup", {**SIGN_UP, "language": "en", **change}, page="/signup")
    assert refused.status_code == 422
    assert field_error(refused.text, field) == message
    assert 'class="error" role="alert"' in refused.text
    assert user_count(runtime) == before


def test_a_taken_email_is_refused_in_the_pages_language(client: TestClient, runtime: Runtime) -> None:
    new_shopper(runtime, "mei")
    refused = post_form(tab_of(client), "/signup?lang=zh", {**SIGN_UP, "email": "Mei@Shoppers.test"})
    assert refused.status_code == 409
    assert field_error(refused.text, "email") == "该邮箱已注册，请直接登录。"
    assert not refused.cookies.get(SESSION_COOKIE)


@pytest.fixture
def strict_client(database_url: str, clock: SetClock) -> Iterator[TestClient]:
    runtime = make_runtime(Settings(database_url=database_url, pool_size=4,
                                    rate_limits="register.address=2/600"), clock=clock)
    yield TestClient(create_app(runtime=runtime))
    runtime.engine.dispose()


def test_signing_up_is_limited_per_address_with_the_apis_register(strict_client: TestClient) -> None:
    api = strict_client.post("/api/v1/auth/register", json={"email": "a@shoppers.test",
                                                             "password": "lanterns-over-the-lake"})
    assert api.status_code == 201
    page = post_form(tab_of(strict_client), "/signup", {**SIGN_UP, "email": "b@shoppers.test"},
                     page="/signup")
    assert page.status_code == 303
    refused = post_form(tab_of(strict_client), "/signup", {**SIGN_UP, "email": "c@shoppers.test"},
                        page="/signup")
    assert refused.status_code == 429 and refused.headers.get("retry-after")
    assert "c@shoppers.test" not in refused.text or "<h1>" in refused.text


def test_the_sign_in_page_offers_to_create_an_account(client: TestClient) -> None:
    page = client.get("/login?next=/account/orders").text
    assert '<a href="/signup?next=/account/orders">New to ShopFest? Create an account</a>' in page
    assert "第一次来 ShopFest？创建账户" in client.get("/login?lang=zh").text


# --- signing in returns to the page it came from ---------------------------------------------

@pytest.mark.parametrize("path", ["/account/orders", "/account/addresses?saved=added"])
def test_signing_in_returns_to_the_page_that_asked_for_it(client: TestClient, runtime: Runtime,
                                                          path: str) -> None:
    new_shopper(runtime, "ann")
    tab = tab_of(client)
    asked = tab.get(path, follow_redirects=False)
    if asked.status_code == 404 and path == "/account/orders":
        pytest.skip("the orders pages are another helper's (issue 17), not on this branch yet")
    assert asked.status_code == 303 and asked.headers["location"] == "/login?next=" + quote(path, safe="")
    login_page = tab.get(asked.headers["location"]).text
    assert f'name="next" value="{html.escape(path)}"' in login_page
    done = tab.post("/login", data={"email": "ann@shoppers.test", "password": PASSWORD, "next": path,
                                    "csrf_token": token_in(login_page)}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == path
    assert tab.get(path).status_code == 200


@pytest.mark.parametrize("outside", ["//evil.example", "https://evil.example", "/\\evil.example",
                                     "//evil.example/account"])
def test_signing_in_never_sends_the_browser_to_another_site(client: TestClient, runtime: Runtime,
                                                           outside: str) -> None:
    new_shopper(runtime, "ann")
    tab = tab_of(client)
    done = post_form(tab, "/login", {"email": "ann@shoppers.test", "password": PASSWORD, "next": outside})
    assert done.status_code == 303 and done.headers["location"] == "/"


# --- settings --------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/account", "/account/addresses", "/account/addresses/1"])
def test_a_signed_out_visitor_is_sent_to_sign_in_and_back(client: TestClient, path: str) -> None:
    answer = tab_of(client).get(path, follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=" + path.replace("/", "%2F")


@pytest.mark.parametrize("path", ["/account/profile", "/account/password", "/account/sign-out-everywhere",
                                  "/account/addresses", "/account/addresses/1",
                                  "/account/addresses/1/delete"])
def test_a_signed_out_post_is_refused_and_changes_nothing(client: TestClient, path: str) -> None:
    tab = tab_of(client)
    refused = post_form(tab, path, {"country": "GB", "language": "zh", "currency": "USD"}, page="/login")
    assert refused.status_code == 401 and "Please sign in" in refused.text


def test_the_profile_is_kept_on_the_account_and_the_pages_follow_it(client: TestClient,
                                                                     runtime: Runtime) -> None:
    ann = new_shopper(runtime, "ann")
    tab = signed_in(client, "ann")
    saved = post_form(tab, "/account/profile", {"country": "GB", "language": "zh", "currency": "USD"},
                      page="/account")
    assert saved.status_code == 303 and saved.headers["location"] == "/account?saved=profile"
    assert tab.cookies.get(LANG_COOKIE) == "zh" and tab.cookies.get(CURRENCY_COOKIE) == "USD"
    user = accounts.get_user(runtime.uow(), ann.user_id)
    assert user is not None and (user.profile.country, user.profile.language, user.profile.currency) == (
        "GB", "zh", "USD")
    page = text_of(tab.get("/account?saved=profile"))
    assert "已保存：页面将按您选择的语言和币种显示。" in page and '<html lang="zh-CN">' in page
    assert '<option value="GB" selected>英国</option>' in page
    assert "我的订单" in text_of(tab.get("/"))  # the storefront follows too


def test_signing_in_on_another_browser_reads_in_the_accounts_language(client: TestClient,
                                                                     runtime: Runtime) -> None:
    # given an account whose settings say Chinese and US dollars
    new_shopper(runtime, "ann")
    post_form(signed_in(client, "ann"), "/account/profile",
              {"country": "GB", "language": "zh", "currency": "USD"}, page="/account")
    # when it signs in on a browser that chose nothing, then that browser follows the account
    elsewhere = signed_in(client, "ann")
    assert elsewhere.cookies.get(LANG_COOKIE) == "zh" and elsewhere.cookies.get(CURRENCY_COOKIE) == "USD"
    assert '<html lang="zh-CN">' in text_of(elsewhere.get("/"))


def test_a_profile_the_rules_refuse_changes_nothing(client: TestClient, runtime: Runtime) -> None:
    ann = new_shopper(runtime, "ann")
    tab = signed_in(client, "ann")
    refused = post_form(tab, "/account/profile", {"country": "ZZZ", "language": "en", "currency": "CNY"},
                        page="/account")
    assert refused.status_code == 422
    assert field_error(refused.text, "country") == "Choose a country or region from the list."
    user = accounts.get_user(runtime.uow(), ann.user_id)
    assert user is not None and user.profile.country == "CN"


def change_password(tab: TestClient, current: str, new: str, again: str | None = None) -> Any:
    return post_form(tab, "/account/password", {"current_password": current, "new_password": new,
                                                "new_password_again": new if again is None else again},
                     page="/account")


@pytest.mark.parametrize(("current", "new", "again", "field", "message"), [
    ("wrong-secret-1", "lanterns-over-the-lake", None, "current_password", "The current password is wrong."),
    (PASSWORD, "lanterns-over-the-lake", "lanterns-over-the-sea", "new_password_again",
     "The two new passwords differ."),
    (PASSWORD, "short", None, "new_password", "A password is 10 to 256 characters."),
    (PASSWORD, "password123", None, "new_password", "This password is one of the most commonly used, so it "
                                                    "is guessed first: choose another."),
])
def test_a_password_change_the_rules_refuse_keeps_the_old_password(
        client: TestClient, runtime: Runtime, current: str, new: str, again: str | None, field: str,
        message: str) -> None:
    new_shopper(runtime, "ann")
    tab = signed_in(client, "ann")
    refused = change_password(tab, current, new, again)
    assert refused.status_code == 422 and field_error(refused.text, field) == message
    assert token_for(client, "ann@shoppers.test", PASSWORD)  # the old password still signs in


def test_changing_the_password_signs_out_every_other_session_and_token(client: TestClient,
                                                                       runtime: Runtime) -> None:
    # given Ann signed in on two browsers and holding an API token
    new_shopper(runtime, "ann")
    here, elsewhere = signed_in(client, "ann"), signed_in(client, "ann")
    api = bearer(token_for(client, "ann@shoppers.test", PASSWORD))
    assert client.get("/api/v1/me", headers=api).status_code == 200  # remembered by the process now
    # when she changes her password here
    done = change_password(here, PASSWORD, "lanterns-over-the-lake")
    assert done.status_code == 303 and done.headers["location"] == "/account?saved=password"
    # then this browser stays signed in, the other one and the API token do not
    assert "every other device is signed out" in text_of(here.get("/account?saved=password"))
    assert elsewhere.get("/account", follow_redirects=False).status_code == 303
    assert client.get("/api/v1/me", headers=api).status_code == 401
    # and only the new password signs in
    assert client.post("/api/v1/auth/token", json={"email": "ann@shoppers.test",
                                                   "password": PASSWORD}).status_code == 401
    assert token_for(client, "ann@shoppers.test", "lanterns-over-the-lake")


def test_signing_out_everywhere_ends_every_session_and_api_token(client: TestClient,
                                                                 runtime: Runtime) -> None:
    new_shopper(runtime, "ann")
    new_shopper(runtime, "bo")
    here, elsewhere, bo = signed_in(client, "ann"), signed_in(client, "ann"), signed_in(client, "bo")
    api = bearer(token_for(client, "ann@shoppers.test", PASSWORD))
    assert client.get("/api/v1/me", headers=api).status_code == 200
    done = post_form(here, "/account/sign-out-everywhere", {}, page="/account")
    assert done.status_code == 303 and done.headers["location"] == "/login"
    assert not here.cookies.get(SESSION_COOKIE)
    for browser in (here, elsewhere):
        assert browser.get("/account", follow_redirects=False).status_code == 303
    assert client.get("/api/v1/me", headers=api).status_code == 401
    assert bo.get("/account").status_code == 200  # another shopper is untouched


# --- delivery addresses ----------------------------------------------------------------------

HOME = {"name": "Ann Lee", "phone": "+86 138-0013-8000", "country": "CN", "city": "Hangzhou",
        "line1": "1 Wenyi Road", "line2": "Building 3, floor 2", "postcode": "310000"}


def add_address(tab: TestClient, **change: str) -> Any:
    return post_form(tab, "/account/addresses", {**HOME, **change})


def address_ids(page: str) -> list[int]:
    return [int(i) for i in re.findall(r'data-address="(\d+)"', page)]


def test_a_shopper_adds_edits_and_deletes_addresses(client: TestClient, runtime: Runtime) -> None:
    ann = new_shopper(runtime, "ann")
    tab = signed_in(client, "ann")
    assert "No addresses yet" in tab.get("/account/addresses").text
    added = add_address(tab)
    assert added.status_code == 303 and added.headers["location"] == "/account/addresses?saved=added"
    page = text_of(tab.get("/account/addresses?saved=added"))
    assert "The address is added." in page and "<strong>Ann Lee</strong> · +8613800138000" in page
    [address_id] = address_ids(page)
    # edit
    form = tab.get(f"/account/addresses/{address_id}").text
    assert 'value="1 Wenyi Road"' in form
    changed = post_form(tab, f"/account/addresses/{address_id}", {**HOME, "city": "Shanghai"})
    assert changed.status_code == 303
    assert orders.delivery_address(runtime.uow(), ann, address_id).city == "Shanghai"
    # delete
    deleted = post_form(tab, f"/account/addresses/{address_id}/delete", {}, page="/account/addresses")
    assert deleted.status_code == 303
    assert address_ids(tab.get("/account/addresses").text) == []


def test_an_address_added_from_the_cart_goes_back_to_the_cart(client: TestClient, runtime: Runtime) -> None:
    new_shopper(runtime, "ann")
    tab = signed_in(client, "ann")
    page = tab.get("/account/addresses?next=/cart").text
    assert 'name="next" value="/cart"' in page
    added = post_form(tab, "/account/addresses?next=/cart", {**HOME, "next": "/cart"})
    assert added.status_code == 303 and added.headers["location"] == "/cart"
    outside = post_form(tab, "/account/addresses", {**HOME, "next": "https://evil.example"})
    assert outside.headers["location"] == "/account/addresses?saved=added"


def test_a_full_address_book_says_so_and_keeps_what_it_holds(client: TestClient, runtime: Runtime) -> None:
    ann = new_shopper(runtime, "ann")
    for n in range(MAX_ADDRESSES):
        orders.add_delivery_address(runtime.uow(), ann, DeliveryAddress.typed(**{**HOME, "name": f"Ann {n}"}))
    refused = add_address(signed_in(client, "ann"), name="One too many")
    assert refused.status_code == 409
    assert "Your address book is full: delete an address first." in text_of(refused)
    assert len(orders.delivery_addresses(runtime.uow(), ann)) == MAX_ADDRESSES


@pytest.mark.parametrize(("change", "field", "message"), [
    ({"name": ""}, "name", "Enter the recipient's name (up to 80 characters)."),
    ({"phone": "12345"}, "phone", "Enter a phone number with its country code, like +86 138 0013 8000."),
    ({"country": "Cathay"}, "country", "Choose a country or region from the list."),
    ({"city": " "}, "city", "Enter the city (up to 80 characters)."),
    ({"line1": "x" * 121}, "line1", "Enter the street address (up to 120 characters)."),
    ({"postcode": "31#000"}, "postcode", "A postcode is letters, digits, spaces and dashes, up to 12."),
])
def test_an_address_the_rules_refuse_says_why_beside_the_field(
        client: TestClient, runtime: Runtime, change: dict[str, str], field: str, message: str) -> None:
    ann = new_shopper(runtime, "ann")
    tab = signed_in(client, "ann")
    refused = add_address(tab, **change)
    assert refused.status_code == 422 and field_error(refused.text, field) == message
    assert f'id="f-{field}"' in refused.text and 'aria-invalid="true"' in refused.text
    assert orders.delivery_addresses(runtime.uow(), ann) == []


def test_an_address_refused_in_chinese(client: TestClient, runtime: Runtime) -> None:
    new_shopper(runtime, "ann")
    tab = signed_in(client, "ann")
    refused = post_form(tab, "/account/addresses", {**HOME, "phone": "call me"},
                        page="/account/addresses?lang=zh")
    assert refused.status_code == 422
    assert field_error(refused.text, "phone") == "请填写含国家区号的手机号，例如 +86 138 0013 8000。"


def test_an_edit_the_rules_refuse_keeps_the_address(client: TestClient, runtime: Runtime) -> None:
    ann = new_shopper(runtime, "ann")
    tab = signed_in(client, "ann")
    add_address(tab)
    [address_id] = address_ids(tab.get("/account/addresses").text)
    refused = post_form(tab, f"/account/addresses/{address_id}", {**HOME, "line1": ""})
    assert refused.status_code == 422 and field_error(refused.text, "line1")
    assert orders.delivery_address(runtime.uow(), ann, address_id).line1 == "1 Wenyi Road"


def test_one_shopper_cannot_see_edit_or_delete_anothers_address(client: TestClient, runtime: Runtime) -> None:
    ann = new_shopper(runtime, "ann")
    new_shopper(runtime, "bo")
    add_address(signed_in(client, "ann"))
    [address_id] = [a.id for a in orders.delivery_addresses(runtime.uow(), ann)]
    bo = signed_in(client, "bo")
    assert address_ids(bo.get("/account/addresses").text) == []
    assert bo.get(f"/account/addresses/{address_id}").status_code == 404
    edit = post_form(bo, f"/account/addresses/{address_id}", {**HOME, "city": "Bo's"},
                     page="/account/addresses")
    assert edit.status_code == 404
    gone = post_form(bo, f"/account/addresses/{address_id}/delete", {}, page="/account/addresses")
    assert gone.status_code == 404
    assert [a.city for a in orders.delivery_addresses(runtime.uow(), ann)] == ["Hangzhou"]


@pytest.mark.parametrize("path", ["/account/addresses/abc", "/account/addresses/99999999999999999999",
                                  "/account/addresses/424242"])
def test_an_address_that_is_not_there_is_a_page_not_found(client: TestClient, runtime: Runtime,
                                                        path: str) -> None:
    new_shopper(runtime, "ann")
    assert signed_in(client, "ann").get(path).status_code == 404


def test_the_address_book_is_for_shoppers(client: TestClient, runtime: Runtime) -> None:
    accounts.create_account_unchecked(runtime.uow(), email="ops@shoppers.test", password=PASSWORD,
                                      role=Role.OPERATOR)
    ops = signed_in(client, "ops")
    assert ops.get("/account/addresses").status_code == 403
    assert ops.get("/account").status_code == 200  # settings are every account's


# --- choosing an address at checkout ---------------------------------------------------------

def with_cart(tab: TestClient, cart: dict[int, int]) -> TestClient:
    tab.cookies.set(CART_COOKIE, ",".join(f"{sku}:{qty}" for sku, qty in cart.items()))
    return tab


def deliveries(runtime: Runtime) -> dict[int, dict[str, str]]:
    with runtime.engine.connect() as conn:
        return {r.order_id: r.address for r in conn.execute(select(order_deliveries))}


def test_checkout_of_shipped_goods_records_the_address_chosen(client: TestClient, runtime: Runtime) -> None:
    # given Ann with two addresses and a phone (shipped goods) in her cart
    ann = new_shopper(runtime, "ann")
    phone = hot_item(runtime, stock=5)
    tab = with_cart(signed_in(client, "ann"), {phone.sku_id: 1})
    add_address(tab)
    add_address(tab, name="Ann at work", city="Shanghai", line1="88 Century Avenue", line2="", postcode="")
    home, work = orders.delivery_addresses(runtime.uow(), ann)
    cart = text_of(tab.get("/cart"))
    assert '<label for="f-address_id">Deliver to</label>' in cart
    assert f'<option value="{work.id}">Ann at work, 88 Century Avenue, Shanghai CN</option>' in cart
    # when she checks out choosing her work address
    placed = post_form(tab, "/cart/checkout", {**checkout_form(cart), "address_id": str(work.id)},
                       page="/cart")
    assert placed.status_code == 200 and "is placed" in placed.text
    # then the order keeps a copy of it, which a later edit of the address leaves alone
    [(order_id, kept)] = deliveries(runtime).items()
    assert kept == work.snapshot()
    orders.change_delivery_address(runtime.uow(), ann, DeliveryAddress.typed(**{**HOME, "id": work.id}))
    assert orders.delivery_of_order(runtime.uow(), ann, order_id) == DeliveryAddress(**work.snapshot())
    assert home.id != work.id


def test_checkout_of_shipped_goods_without_an_address_places_nothing(client: TestClient,
                                                                     runtime: Runtime) -> None:
    new_shopper(runtime, "ann")
    phone = hot_item(runtime, stock=5)
    tab = with_cart(signed_in(client, "ann"), {phone.sku_id: 1})
    cart = text_of(tab.get("/cart"))
    assert "Your cart holds goods to ship: add a delivery address first." in cart
    refused = post_form(tab, "/cart/checkout", checkout_form(tab.get("/cart").text), page="/cart")
    assert refused.status_code == 422
    assert "Your cart holds goods to ship: choose the address they go to." in text_of(refused)
    assert 'class="cart-lines"' in refused.text
    assert orders_of_everyone(runtime) == 0


def test_checkout_with_another_shoppers_address_places_nothing(client: TestClient, runtime: Runtime) -> None:
    ann = new_shopper(runtime, "ann")
    new_shopper(runtime, "bo")
    add_address(signed_in(client, "ann"))
    [theirs] = orders.delivery_addresses(runtime.uow(), ann)
    phone = hot_item(runtime, stock=5)
    bo = with_cart(signed_in(client, "bo"), {phone.sku_id: 1})
    refused = post_form(bo, "/cart/checkout", {**checkout_form(bo.get("/cart").text),
                                               "address_id": str(theirs.id)}, page="/cart")
    assert refused.status_code == 404
    assert orders_of_everyone(runtime) == 0


def test_vouchers_need_no_address(client: TestClient, runtime: Runtime) -> None:
    new_shopper(runtime, "ann")
    spa = hot_item(runtime, stock=5, fulfilment=Fulfilment.SERVICE_VOUCHER, name="Lotus")
    tab = with_cart(signed_in(client, "ann"), {spa.sku_id: 1})
    cart = tab.get("/cart").text
    assert 'name="address_id"' not in cart and "add a delivery address" not in cart
    placed = post_form(tab, "/cart/checkout", checkout_form(cart), page="/cart")
    assert placed.status_code == 200 and orders_of_everyone(runtime) == 1
    assert deliveries(runtime) == {}


def test_the_api_takes_an_address_id_as_an_option(client: TestClient, runtime: Runtime) -> None:
    ann = new_shopper(runtime, "ann")
    new_shopper(runtime, "bo")
    orders.add_delivery_address(runtime.uow(), ann, DeliveryAddress.typed(**HOME))
    [home] = orders.delivery_addresses(runtime.uow(), ann)
    phone = hot_item(runtime, stock=5)
    line = [{"sku_id": phone.sku_id, "qty": 1}]
    ann_api = bearer(token_for(client, "ann@shoppers.test", PASSWORD))
    # without one, as before: placed, with no address
    before = client.post("/api/v1/orders", json={"lines": line}, headers=ann_api)
    assert before.status_code == 201, before.text
    # with her own: the order keeps it
    placed = client.post("/api/v1/orders", json={"lines": line, "address_id": home.id}, headers=ann_api)
    assert placed.status_code == 201, placed.text
    assert deliveries(runtime) == {placed.json()["id"]: home.snapshot()}
    # with another's: not found, nothing placed
    bo_api = bearer(token_for(client, "bo@shoppers.test", PASSWORD))
    refused = client.post("/api/v1/orders", json={"lines": line, "address_id": home.id}, headers=bo_api)
    assert refused.status_code == 404 and orders_of_everyone(runtime) == 2
