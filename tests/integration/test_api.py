"""The HTTP API in process, on SQLite and on a real PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from shopfest.accounts import service as accounts
from shopfest.accounts.model import TokenKind
from shopfest.app import create_app
from shopfest.core.actor import Role
from shopfest.core.clock import SetClock, parse_instant
from shopfest.deps import SESSION_COOKIE
from shopfest.runtime import Runtime
from tests.integration.helpers import (
    bearer,
    category,
    create,
    merchant_with_staff,
    operator_token,
    product_body,
    token_for,
)

PROBLEM = "application/problem+json"


@pytest.fixture
def client(runtime: Runtime) -> TestClient:
    from shopfest.festival import service as festival

    festival.schedule_eleven_eleven(runtime.uow(), 2027)
    return TestClient(create_app(runtime=runtime))


@pytest.fixture
def market(client: TestClient, runtime: Runtime) -> dict[str, Any]:
    """Given two merchants with a staff member each, a luxury brand awaiting approval, categories."""
    ops = operator_token(client, runtime)
    for slug, parent in (("apparel", None), ("scarves", "apparel"), ("automobiles", None)):
        category(client, ops, slug, parent)
    lumen = create(client, "/api/v1/brands", ops, {"name": "Lumen", "name_zh": "流明"})
    orchid = create(client, "/api/v1/brands", ops, {"name": "Orchid Maison", "tier": "luxury"})
    kestrel = create(client, "/api/v1/brands", ops, {"name": "Kestrel Motors"})
    a, a_staff = merchant_with_staff(client, ops, name="Lumen Flagship",
                                     brand_ids=[lumen["id"], orchid["id"]], email="a@lumen.test")
    b, b_staff = merchant_with_staff(client, ops, name="Kestrel Dealer",
                                     brand_ids=[kestrel["id"]], email="b@kestrel.test")
    return {"ops": ops, "lumen": lumen, "orchid": orchid, "kestrel": kestrel,
            "a": a, "a_staff": a_staff, "b": b, "b_staff": b_staff}


def product_count(client: TestClient) -> int:
    seen, cursor = 0, None
    while True:
        page = client.get("/api/v1/products", params={"limit": 100, "cursor": cursor}).json()
        seen += len(page["data"])
        cursor = page["next_cursor"]
        if not cursor:
            return seen


def assert_problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = response.json()
    assert body["type"] == f"/problems/{code}"
    assert body["status"] == status and body["title"] and body["detail"]
    return body


# --- accounts -------------------------------------------------------------------------------

def test_a_shopper_registers_signs_in_and_reads_their_account(client: TestClient) -> None:
    response = client.post("/api/v1/auth/register", json={
        "email": "Mei@Example.com", "password": "eleven-eleven", "country": "GB",
        "language": "zh", "currency": "GBP"})
    assert response.status_code == 201
    assert response.json() | {"id": 0} == {"id": 0, "email": "mei@example.com", "role": "shopper",
                                           "merchant_id": None, "country": "GB", "language": "zh",
                                           "currency": "GBP", "verified": False}
    token = client.post("/api/v1/auth/token", json={"email": "mei@example.com",
                                                    "password": "eleven-eleven"}).json()
    assert token["token_type"] == "bearer" and len(token["access_token"]) >= 40
    me = client.get("/api/v1/me", headers=bearer(token["access_token"]))
    assert me.json()["email"] == "mei@example.com"


@pytest.mark.parametrize("body, code", [
    ({"email": "not-an-email", "password": "eleven-eleven"}, "invalid-input"),
    ({"email": "a@b.co", "password": "short"}, "validation"),
    ({"email": "a@b.co", "password": "nine-char"}, "validation"),
    ({"email": "a@b.co", "password": "password123"}, "common-password"),
    ({"email": "a@b.co", "password": "QwertyUiop"}, "common-password"),
    ({"email": "a@b.co", "password": "eleven-eleven", "currency": "XXX"}, "unknown-currency"),
    ({"email": "a@b.co", "password": "eleven-eleven", "country": "gbr"}, "validation"),
    ({"email": "a@b.co", "password": "eleven-eleven", "language": "fr"}, "validation"),
])
def test_registration_with_bad_details_is_refused(client: TestClient, body: dict[str, Any],
                                                  code: str) -> None:
    assert_problem(client.post("/api/v1/auth/register", json=body), 422, code)
    assert client.post("/api/v1/auth/token", json={"email": body["email"],
                                                   "password": body["password"]}).status_code == 401


def test_a_second_account_for_one_email_is_refused(client: TestClient) -> None:
    body = {"email": "mei@example.com", "password": "eleven-eleven"}
    assert client.post("/api/v1/auth/register", json=body).status_code == 201
    again = client.post("/api/v1/auth/register", json=body | {"email": "MEI@example.com "})
    assert_problem(again, 409, "email-taken")


def test_a_wrong_password_gets_no_token(client: TestClient) -> None:
    client.post("/api/v1/auth/register", json={"email": "mei@example.com", "password": "eleven-eleven"})
    wrong = client.post("/api/v1/auth/token", json={"email": "mei@example.com", "password": "twelve-12"})
    assert_problem(wrong, 401, "bad-credentials")
    nobody = client.post("/api/v1/auth/token", json={"email": "no@one.test", "password": "twelve-12"})
    assert_problem(nobody, 401, "bad-credentials")


def test_a_token_expires_after_a_day(client: TestClient, clock: SetClock) -> None:
    client.post("/api/v1/auth/register", json={"email": "mei@example.com", "password": "eleven-eleven"})
    token = token_for(client, "mei@example.com", "eleven-eleven")
    clock.set(clock.now() + timedelta(hours=23))
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 200
    clock.set(clock.now() + timedelta(hours=2))
    assert_problem(client.get("/api/v1/me", headers=bearer(token)), 401, "token-expired")


@pytest.mark.parametrize("header", ["Bearer nonsense", "Basic abc", "Bearer "])
def test_a_bad_authorization_header_is_unauthenticated(client: TestClient, header: str) -> None:
    assert_problem(client.get("/api/v1/me", headers={"Authorization": header}), 401,
                   "unauthenticated")


def test_logout_revokes_the_token(client: TestClient) -> None:
    client.post("/api/v1/auth/register", json={"email": "mei@example.com", "password": "eleven-eleven"})
    token = token_for(client, "mei@example.com", "eleven-eleven")
    assert client.post("/api/v1/auth/logout", headers=bearer(token)).status_code == 204
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 401


# --- festival -------------------------------------------------------------------------------

def test_the_festival_tells_its_phases_in_utc_and_counts_down_to_the_sale(
    client: TestClient, clock: SetClock
) -> None:
    festival = client.get("/api/v1/festival").json()
    assert [(p["key"], p["starts_at"], p["ends_at"]) for p in festival["phases"]] == [
        ("wave1-deposit", "2027-10-20T16:00:00Z", "2027-10-31T14:00:00Z"),
        ("wave1-sale", "2027-10-31T16:00:00Z", "2027-11-03T16:00:00Z"),
        ("wave2-deposit", "2027-11-03T16:00:00Z", "2027-11-10T14:00:00Z"),
        ("wave2-sale", "2027-11-10T16:00:00Z", "2027-11-11T16:00:00Z"),
    ]
    assert festival["phase_now"] is None  # 23:55 on Nov 10: deposits closed, sale not yet open
    assert festival["countdown"] == {"phase": "wave2-sale", "event": "starts",
                                     "at": "2027-11-10T16:00:00Z", "seconds": 300}
    clock.set(parse_instant("2027-11-11T00:05:00+08:00"))
    after = client.get("/api/v1/festival").json()
    assert after["phase_now"]["key"] == "wave2-sale" and after["countdown"]["event"] == "ends"


def test_only_operators_schedule_festivals_and_phases_may_not_overlap(
    client: TestClient, runtime: Runtime, market: dict[str, Any]
) -> None:
    body = {"name": "Double 12", "slug": "1212-2027", "phases": [
        {"key": "sale", "name": "12.12", "kind": "sale", "wave": 1,
         "starts_at": "2027-12-12T00:00:00+08:00", "ends_at": "2027-12-13T00:00:00+08:00"}]}
    assert_problem(client.post("/api/v1/festivals", json=body, headers=bearer(market["a_staff"])),
                   403, "forbidden")
    overlapping = body | {"slug": "bad", "phases": body["phases"] * 2}
    assert_problem(client.post("/api/v1/festivals", json=overlapping, headers=bearer(market["ops"])),
                   422, "invalid-input")
    created = client.post("/api/v1/festivals", json=body, headers=bearer(market["ops"]))
    assert created.status_code == 201 and created.json()["starts_at"] == "2027-12-11T16:00:00Z"


# --- brands and merchants -------------------------------------------------------------------

def test_only_operators_add_brands(client: TestClient, market: dict[str, Any]) -> None:
    body = {"name": "Nimbus"}
    assert_problem(client.post("/api/v1/brands", json=body), 401, "unauthenticated")
    assert_problem(client.post("/api/v1/brands", json=body, headers=bearer(market["a_staff"])),
                   403, "forbidden")
    assert client.get("/api/v1/brands", params={"limit": 100}).json()["data"][-1]["name"] != "Nimbus"
    dup = client.post("/api/v1/brands", json={"name": "lumen"}, headers=bearer(market["ops"]))
    assert_problem(dup, 409, "conflict")


def test_a_luxury_brand_is_listed_only_after_an_operator_approves_it(
    client: TestClient, market: dict[str, Any]
) -> None:
    orchid, staff = market["orchid"], bearer(market["a_staff"])
    assert orchid["approved"] is False
    early = client.post("/api/v1/products", json=product_body(orchid["id"], title="Orchid Tote"),
                        headers=staff)
    assert_problem(early, 409, "brand-not-approved")
    approved = client.post(f"/api/v1/brands/{orchid['id']}/approve", headers=bearer(market["ops"]))
    assert approved.json()["approved"] is True
    listed = client.post("/api/v1/products", json=product_body(orchid["id"], title="Orchid Tote"),
                         headers=staff)
    assert listed.status_code == 201 and listed.json()["tier"] == "luxury"


def test_staff_accounts_need_a_real_merchant(client: TestClient, market: dict[str, Any]) -> None:
    missing = client.post("/api/v1/merchants/9999/staff", headers=bearer(market["ops"]),
                          json={"email": "x@y.test", "password": "staff-secret-1"})
    assert_problem(missing, 404, "not-found")


def test_staff_accounts_need_a_password_guessers_do_not_try_first(client: TestClient,
                                                                  market: dict[str, Any]) -> None:
    refused = client.post(f"/api/v1/merchants/{market['a']['id']}/staff", headers=bearer(market["ops"]),
                          json={"email": "new@lumen.test", "password": "1qaz2wsx3edc"})
    assert_problem(refused, 422, "common-password")
    assert client.post("/api/v1/auth/token", json={"email": "new@lumen.test",
                                                   "password": "1qaz2wsx3edc"}).status_code == 401


def test_a_merchant_needs_known_brands_and_a_known_currency(
    client: TestClient, market: dict[str, Any]
) -> None:
    ops = bearer(market["ops"])
    body = {"name": "Ghost", "kind": "online", "settlement_currency": "CNY", "brand_ids": [999]}
    assert_problem(client.post("/api/v1/merchants", json=body, headers=ops), 422, "invalid-input")
    odd = body | {"brand_ids": [], "settlement_currency": "ABC"}
    assert_problem(client.post("/api/v1/merchants", json=odd, headers=ops), 422, "unknown-currency")


# --- products -------------------------------------------------------------------------------

def test_staff_list_a_product_with_skus_prices_and_stock(
    client: TestClient, market: dict[str, Any]
) -> None:
    body = product_body(market["lumen"]["id"], title="Aurora Silk Scarf", category="scarves",
                        title_zh="极光真丝围巾", debut_at="2027-11-11T00:00:00+08:00")
    body["skus"].append({"code": "gift-box", "price": {"amount": "259.50", "currency": "CNY"},
                         "stock": 3})
    response = client.post("/api/v1/products", json=body, headers=bearer(market["a_staff"]))
    assert response.status_code == 201
    product = response.json()
    assert product["title"] == "Aurora Silk Scarf" and product["merchant_id"] == market["a"]["id"]
    assert product["category"] == "scarves" and product["debut_at"] == "2027-11-10T16:00:00Z"
    assert [(s["code"], s["price"], s["stock"]) for s in product["skus"]] == [
        ("std", {"amount": "199.00", "currency": "CNY"}, 10),
        ("gift-box", {"amount": "259.50", "currency": "CNY"}, 3),
    ]
    assert product["price"] == {"amount": "199.00", "currency": "CNY"}
    assert client.get(f"/api/v1/products/{product['id']}").json() == product


def test_staff_cannot_list_a_brand_their_merchant_does_not_sell(
    client: TestClient, market: dict[str, Any]
) -> None:
    response = client.post("/api/v1/products", json=product_body(market["kestrel"]["id"]),
                           headers=bearer(market["a_staff"]))
    assert_problem(response, 422, "brand-not-sold")
    assert product_count(client) == 0


@pytest.mark.parametrize("change, code", [
    ({"skus": [{"code": "x", "price": {"amount": "-1.00", "currency": "CNY"}, "stock": 1}]},
     "invalid-input"),
    ({"skus": [{"code": "x", "price": {"amount": "1.00", "currency": "QQQ"}, "stock": 1}]},
     "unknown-currency"),
    ({"skus": [{"code": "x", "price": {"amount": "1.001", "currency": "CNY"}, "stock": 1}]},
     "invalid-amount"),
    ({"skus": [{"code": "x", "price": {"amount": "1.00", "currency": "CNY"}, "stock": -5}]},
     "validation"),
    ({"skus": []}, "validation"),
    ({"category": "no-such-shelf"}, "invalid-input"),
    ({"fulfilment": "teleport"}, "validation"),
    ({"debut_at": "next tuesday"}, "validation"),
    ({"title": ""}, "validation"),
])
def test_a_bad_product_is_refused_and_nothing_is_stored(
    client: TestClient, market: dict[str, Any], change: dict[str, Any], code: str
) -> None:
    body = product_body(market["lumen"]["id"]) | change
    assert_problem(client.post("/api/v1/products", json=body, headers=bearer(market["a_staff"])),
                   422, code)
    assert product_count(client) == 0


def test_staff_cannot_see_or_change_another_merchants_product(
    client: TestClient, market: dict[str, Any]
) -> None:
    mine = create(client, "/api/v1/products", market["b_staff"],
                  product_body(market["kestrel"]["id"], title="Kestrel EV", category="automobiles"))
    response = client.patch(f"/api/v1/products/{mine['id']}", json={"title": "Hijacked"},
                            headers=bearer(market["a_staff"]))
    assert_problem(response, 404, "not-found")
    assert client.get(f"/api/v1/products/{mine['id']}").json()["title"] == "Kestrel EV"
    own = client.patch(f"/api/v1/products/{mine['id']}", json={"title": "Kestrel EV Plus"},
                       headers=bearer(market["b_staff"]))
    assert own.status_code == 200 and own.json()["title"] == "Kestrel EV Plus"
    found = client.get("/api/v1/products", params={"q": "plus"}).json()["data"]
    assert [p["id"] for p in found] == [mine["id"]]
    assert client.get("/api/v1/products", params={"q": "hijacked"}).json()["data"] == []


def test_staff_see_their_own_stock_and_not_another_merchants(
    client: TestClient, market: dict[str, Any]
) -> None:
    car = create(client, "/api/v1/products", market["b_staff"], product_body(
        market["kestrel"]["id"], title="Kestrel EV", category="automobiles", stock=4))
    sku_id = car["skus"][0]["id"]
    own = client.get(f"/api/v1/skus/{sku_id}/stock", headers=bearer(market["b_staff"]))
    assert own.json() == {"sku_id": sku_id, "on_hand": 4, "reserved": 0, "sold": 0, "available": 4}
    other = client.get(f"/api/v1/skus/{sku_id}/stock", headers=bearer(market["a_staff"]))
    assert_problem(other, 404, "not-found")
    assert_problem(client.get("/api/v1/skus/999999/stock", headers=bearer(market["b_staff"])),
                   404, "not-found")
    assert_problem(client.get(f"/api/v1/skus/{sku_id}/stock", headers=bearer(market["ops"])),
                   403, "forbidden")


def test_shoppers_cannot_list_products(client: TestClient, market: dict[str, Any]) -> None:
    client.post("/api/v1/auth/register", json={"email": "mei@example.com", "password": "eleven-eleven"})
    shopper = token_for(client, "mei@example.com", "eleven-eleven")
    response = client.post("/api/v1/products", json=product_body(market["lumen"]["id"]),
                           headers=bearer(shopper))
    assert_problem(response, 403, "forbidden")


def test_unknown_ids_are_not_found(client: TestClient) -> None:
    for path in ("/api/v1/products/424242", "/api/v1/brands/424242", "/api/v1/merchants/424242"):
        assert_problem(client.get(path), 404, "not-found")
    assert_problem(client.get("/api/v1/no-such-route"), 404, "not-found")


def test_a_browser_lost_outside_the_api_gets_a_page(client: TestClient) -> None:
    page = client.get("/no-such-page", headers={"accept": "text/html"})
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    api = client.get("/api/v1/no-such-route", headers={"accept": "text/html"})
    assert_problem(api, 404, "not-found")


def test_a_malformed_body_is_a_validation_problem(client: TestClient, market: dict[str, Any]) -> None:
    response = client.post("/api/v1/products", content=b"{not json",
                           headers=bearer(market["a_staff"]) | {"content-type": "application/json"})
    body = assert_problem(response, 422, "validation")
    assert body["errors"]


# Every route that needs an account, with a body or without.
SIGNED_IN_ROUTES = [
    ("POST", "/api/v1/festivals"), ("POST", "/api/v1/auth/logout"), ("GET", "/api/v1/me"),
    ("POST", "/api/v1/merchants/1/staff"), ("POST", "/api/v1/brands"), ("POST", "/api/v1/brands/1/approve"),
    ("POST", "/api/v1/merchants"), ("POST", "/api/v1/categories"), ("POST", "/api/v1/products"),
    ("PATCH", "/api/v1/products/1"), ("GET", "/api/v1/skus/1/stock"), ("POST", "/api/v1/flash-sales"),
    ("POST", "/api/v1/orders"), ("GET", "/api/v1/orders"), ("GET", "/api/v1/orders/1"),
    ("POST", "/api/v1/orders/1/pay"), ("POST", "/api/v1/orders/1/cancel"),
    ("POST", "/api/v1/orders/1/refunds"), ("POST", "/api/v1/orders/1/shipments"),
    ("PUT", "/api/v1/presales"), ("POST", "/api/v1/coupons"), ("GET", "/api/v1/coupons/mine"),
    ("POST", "/api/v1/coupons/1/claim"), ("POST", "/api/v1/promotions"),
]


@pytest.mark.parametrize("body", [b"", b"{}", b'{"lines": [], "name": ""}', b"{not json", b"\xff\xfe{"],
                         ids=["none", "empty", "invalid", "malformed", "not-utf8"])
def test_an_anonymous_request_is_told_to_sign_in_whatever_its_body(client: TestClient, body: bytes) -> None:
    for method, path in SIGNED_IN_ROUTES:
        response = client.request(method, path, content=body, headers={"content-type": "application/json"})
        assert_problem(response, 401, "unauthenticated")


def test_a_signed_in_request_with_a_bad_body_is_still_a_validation_problem(
        client: TestClient, market: dict[str, Any]) -> None:
    client.post("/api/v1/auth/register", json={"email": "mei@example.com", "password": "eleven-eleven"})
    shopper = token_for(client, "mei@example.com", "eleven-eleven")
    for token, path in ((shopper, "/api/v1/orders"), (market["ops"], "/api/v1/brands")):
        response = client.post(path, json={"lines": []}, headers=bearer(token))
        assert_problem(response, 422, "validation")


def test_signing_out_of_the_api_needs_the_bearer_token_not_the_pages_cookie(
        client: TestClient, runtime: Runtime) -> None:
    accounts.create_account_unchecked(runtime.uow(), email="mei@example.com", password="eleven-eleven",
                                      role=Role.SHOPPER)
    session = accounts.sign_in(runtime.uow(), email="mei@example.com", password="eleven-eleven",
                               kind=TokenKind.SESSION)
    client.cookies.set(SESSION_COOKIE, session.secret)
    assert_problem(client.post("/api/v1/auth/logout"), 401, "unauthenticated")
    assert client.get("/api/v1/me").json()["email"] == "mei@example.com"


def test_options_and_405_name_every_method_of_a_path(client: TestClient) -> None:
    for path, methods in (("/api/v1/products", "GET, POST, OPTIONS"),
                          ("/api/v1/products/7", "GET, PATCH, OPTIONS"),
                          ("/api/v1/orders", "GET, POST, OPTIONS"),
                          ("/api/v1/orders/7/pay", "POST, OPTIONS")):
        options = client.options(path)
        assert options.status_code == 204 and options.headers["allow"] == methods, path
        refused = client.delete(path)
        assert_problem(refused, 405, "method-not-allowed")
        assert refused.headers["allow"] == methods, path
    assert_problem(client.options("/api/v1/no-such-route"), 404, "not-found")


# --- search ---------------------------------------------------------------------------------

@pytest.fixture
def shelf(client: TestClient, market: dict[str, Any]) -> dict[str, int]:
    """Given five products: scarves and cars, one luxury, one that debuted before the festival."""
    client.post(f"/api/v1/brands/{market['orchid']['id']}/approve", headers=bearer(market["ops"]))
    a, b = market["a_staff"], market["b_staff"]
    lumen, orchid, kestrel = market["lumen"]["id"], market["orchid"]["id"], market["kestrel"]["id"]
    made = {
        "old": create(client, "/api/v1/products", a, product_body(
            lumen, title="Harbour Wool Scarf", category="scarves", price="99.00",
            debut_at="2027-09-01T10:00:00+08:00")),
        "silk": create(client, "/api/v1/products", a, product_body(
            lumen, title="Aurora Silk Scarf", title_zh="极光真丝围巾", category="scarves",
            price="199.00", debut_at="2027-10-25T10:00:00+08:00")),
        "tote": create(client, "/api/v1/products", a, product_body(
            orchid, title="Orchid Silk Tote", category="apparel", price="5999.00",
            debut_at="2027-11-01T10:00:00+08:00")),
        "car": create(client, "/api/v1/products", b, {
            **product_body(kestrel, title="Kestrel Electric Sedan", category="automobiles",
                           price="189999.00"), "fulfilment": "deposit_voucher",
            "debut_at": "2027-11-05T10:00:00+08:00"}),
        "later": create(client, "/api/v1/products", a, product_body(
            lumen, title="Comet Silk Scarf", category="scarves", price="149.00",
            debut_at="2027-11-11T12:00:00+08:00")),
    }
    return {k: v["id"] for k, v in made.items()}


def search(client: TestClient, **params: Any) -> list[int]:
    response = client.get("/api/v1/products", params=params)
    assert response.status_code == 200, response.text
    return [p["id"] for p in response.json()["data"]]


def test_search_matches_every_word_newest_first(client: TestClient, shelf: dict[str, int]) -> None:
    assert search(client, q="silk scarf") == [shelf["later"], shelf["silk"]]
    assert search(client, q="SILK") == [shelf["later"], shelf["tote"], shelf["silk"]]
    assert search(client, q="sil") == [shelf["later"], shelf["tote"], shelf["silk"]]  # as you type
    assert search(client, q="真丝") == [shelf["silk"]]
    assert search(client, q="lumen wool") == [shelf["old"]]  # brand names are searched too
    assert search(client, q="nothing like this") == []


def test_search_filters(client: TestClient, shelf: dict[str, int], market: dict[str, Any]) -> None:
    assert search(client, category="apparel") == [shelf["later"], shelf["tote"], shelf["silk"],
                                                  shelf["old"]]  # scarves are under apparel
    assert search(client, category="scarves", q="silk") == [shelf["later"], shelf["silk"]]
    assert search(client, tier="luxury") == [shelf["tote"]]
    assert search(client, fulfilment="deposit_voucher") == [shelf["car"]]
    assert search(client, brand_id=market["kestrel"]["id"]) == [shelf["car"]]
    assert search(client, min_price="100.00", max_price="199.00") == [shelf["later"], shelf["silk"]]
    assert search(client, min_price="100.00", currency="USD") == []


def test_new_means_debuted_this_festival_by_now(
    client: TestClient, shelf: dict[str, int], clock: SetClock
) -> None:
    assert search(client, new="true") == [shelf["car"], shelf["tote"], shelf["silk"]]
    clock.set(parse_instant("2027-11-11T13:00:00+08:00"))
    assert search(client, new="true")[0] == shelf["later"]
    assert client.get(f"/api/v1/products/{shelf['old']}").json()["new"] is False
    assert client.get(f"/api/v1/products/{shelf['later']}").json()["new"] is True


def test_cursor_pages_cover_every_product_once(client: TestClient, shelf: dict[str, int]) -> None:
    seen, cursor, pages = [], None, 0
    while True:
        page = client.get("/api/v1/products", params={"limit": 2, "cursor": cursor}).json()
        seen += [p["id"] for p in page["data"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(shelf.values()) and len(seen) == len(set(seen)) and pages == 3


def test_a_text_search_pages_through_every_match_once(
    client: TestClient, shelf: dict[str, int]
) -> None:
    first = client.get("/api/v1/products", params={"q": "silk", "limit": 2}).json()
    second = client.get("/api/v1/products", params={"q": "silk", "limit": 2,
                                                   "cursor": first["next_cursor"]}).json()
    assert [p["id"] for p in first["data"]] == [shelf["later"], shelf["tote"]]
    assert [p["id"] for p in second["data"]] == [shelf["silk"]] and second["next_cursor"] is None


@pytest.mark.parametrize("params, code", [
    ({"limit": 101}, "validation"),
    ({"limit": 0}, "validation"),
    ({"cursor": "bogus!"}, "invalid-input"),
    ({"min_price": "abc"}, "invalid-amount"),
    ({"min_price": "10.00", "max_price": "5.00"}, "invalid-input"),
    ({"tier": "diamond"}, "validation"),
    ({"category": "nope"}, "invalid-input"),
    ({"currency": "ZZZ", "min_price": "1"}, "unknown-currency"),
])
def test_bad_search_parameters_are_problems(client: TestClient, params: dict[str, Any],
                                            code: str) -> None:
    assert_problem(client.get("/api/v1/products", params=params), 422, code)
