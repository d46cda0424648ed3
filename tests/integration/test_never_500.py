"""Inputs at the edges never crash a route: each is a documented 4xx problem, the same on SQLite and
PostgreSQL, and changes nothing."""

from __future__ import annotations

import base64
import shutil
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from shopfest.accounts import service as accounts
from shopfest.app import create_app, make_runtime
from shopfest.core.actor import Role
from shopfest.core.clock import SetClock
from shopfest.festival import service as festival
from shopfest.settings import Settings
from tests.conftest import FESTIVAL_EVE, _truncate_all
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
BIG_IDS = (2**63, 2**64, 10**30)
EDGE_INSTANTS = ("0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00")
SOON, LATER = "2027-11-11T00:00:00+08:00", "2027-11-11T01:00:00+08:00"
CNY = {"amount": "1.00", "currency": "CNY"}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def shop(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[
        tuple[TestClient, dict[str, Any]]]:
    """One market per database for the whole module: every request here is refused and changes
    nothing, so the tests can share it. An operator, a merchant's staff with one product on sale,
    and a shopper, each signed in."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("never-500") / "shop.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        url = f"sqlite:///{path}"
    else:
        url = request.getfixturevalue("postgres_url")
        _truncate_all(url)
    runtime = make_runtime(Settings(database_url=url, pool_size=4), clock=SetClock(FESTIVAL_EVE, speed=0))
    festival.schedule_eleven_eleven(runtime.uow(), 2027)
    client = TestClient(create_app(runtime=runtime), raise_server_exceptions=False)
    ops = operator_token(client, runtime)
    category(client, ops, "apparel")
    brand = create(client, "/api/v1/brands", ops, {"name": "Lumen"})
    merchant, staff = merchant_with_staff(client, ops, name="Lumen Flagship", brand_ids=[brand["id"]],
                                          email="staff@lumen.test")
    product = create(client, "/api/v1/products", staff, product_body(brand["id"]))
    accounts.create_account_unchecked(runtime.uow(), email="mei@shoppers.test", password="shop-secret-1",
                                      role=Role.SHOPPER)
    shopper = token_for(client, "mei@shoppers.test", "shop-secret-1")
    yield client, {"operator": ops, "merchant": staff, "shopper": shopper, "anyone": None,
                   "brand": brand["id"], "merchant_id": merchant["id"], "sku": product["skus"][0]["id"]}
    runtime.checkout.close()
    runtime.engine.dispose()


@pytest.fixture
def client(shop: tuple[TestClient, dict[str, Any]]) -> TestClient:
    return shop[0]


@pytest.fixture
def market(shop: tuple[TestClient, dict[str, Any]]) -> dict[str, Any]:
    return shop[1]


def call(client: TestClient, market: dict[str, Any], role: str, method: str, path: str,
         body: Any = None, **headers: str) -> Any:  # noqa: ANN401  # an httpx response
    token = market[role]
    sent = {**(bearer(token) if token else {}), **headers}
    return client.request(method, path, json=body, headers=sent)


def assert_problem(response: Any, status: int, code: str | None = None) -> dict[str, Any]:  # noqa: ANN401
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM), response.text
    found: dict[str, Any] = response.json()
    if code is not None:
        assert found["type"] == f"/problems/{code}", found
    return found


def cursor_of(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"id:{last_id}".encode()).decode().rstrip("=")


# --- ids of 2^63 and more -----------------------------------------------------------------------

def _order(big: int, m: dict[str, Any]) -> dict[str, Any]:
    return {"lines": [{"sku_id": big, "qty": 1}]}


ID_ROUTES: list[tuple[str, str, str, Any]] = [
    # role, method, path with {id}, body (a function of the id and the market) or None
    ("anyone", "GET", "/api/v1/brands/{id}", None),
    ("operator", "POST", "/api/v1/brands/{id}/approve", None),
    ("anyone", "GET", "/api/v1/merchants/{id}", None),
    ("operator", "POST", "/api/v1/merchants/{id}/staff",
     lambda big, m: {"email": "new@lumen.test", "password": "staff-secret-2"}),
    ("operator", "POST", "/api/v1/merchants",
     lambda big, m: {"name": "Big", "kind": "online", "settlement_currency": "CNY", "brand_ids": [big]}),
    ("anyone", "GET", "/api/v1/products/{id}", None),
    ("merchant", "PATCH", "/api/v1/products/{id}", lambda big, m: {"title": "Renamed"}),
    ("merchant", "POST", "/api/v1/products", lambda big, m: product_body(big)),
    ("anyone", "GET", "/api/v1/products?brand_id={id}", None),
    ("anyone", "GET", "/api/v1/products?merchant_id={id}", None),
    ("merchant", "GET", "/api/v1/skus/{id}/stock", None),
    ("anyone", "GET", "/api/v1/coupons?merchant_id={id}", None),
    ("shopper", "POST", "/api/v1/coupons/{id}/claim", None),
    ("anyone", "GET", "/api/v1/promotions?merchant_id={id}", None),
    ("merchant", "POST", "/api/v1/flash-sales",
     lambda big, m: {"sku_id": big, "price": CNY, "quantity": 1, "starts_at": SOON, "ends_at": LATER}),
    ("merchant", "PUT", "/api/v1/presales", lambda big, m: {"sku_id": big, "deposit": CNY}),
    ("shopper", "POST", "/api/v1/orders", _order),
    ("shopper", "POST", "/api/v1/orders",
     lambda big, m: {"lines": [{"sku_id": m["sku"], "qty": 1}], "coupons": [big]}),
    ("shopper", "GET", "/api/v1/orders/{id}", None),
    ("shopper", "POST", "/api/v1/orders/{id}/pay", lambda big, m: {"method": "sandbox_ok"}),
    ("shopper", "POST", "/api/v1/orders/{id}/cancel", None),
    ("shopper", "POST", "/api/v1/orders/{id}/refunds", lambda big, m: {}),
    ("shopper", "POST", "/api/v1/orders/1/refunds", lambda big, m: {"lines": [{"sku_id": big, "qty": 1}]}),
    ("merchant", "POST", "/api/v1/orders/{id}/shipments", lambda big, m: {"carrier": "SF", "tracking": "1"}),
]


@pytest.mark.parametrize("role, method, path, body", ID_ROUTES,
                         ids=[f"{method} {path}" for _, method, path, _ in ID_ROUTES])
def test_an_id_past_64_bits_is_a_validation_problem(client: TestClient, market: dict[str, Any], role: str,
                                                    method: str, path: str, body: Any) -> None:
    for big in BIG_IDS:
        response = call(client, market, role, method, path.format(id=big),
                        body(big, market) if body else None, **{"Idempotency-Key": f"key-{big}"})
        assert_problem(response, 422, "validation")


@pytest.mark.parametrize("path", ["/api/v1/brands", "/api/v1/products", "/api/v1/orders"])
def test_a_cursor_past_64_bits_is_refused(client: TestClient, market: dict[str, Any], path: str) -> None:
    for big in BIG_IDS:
        assert_problem(call(client, market, "shopper", "GET", f"{path}?cursor={cursor_of(big)}"),
                       422, "invalid-input")


@pytest.mark.parametrize("written", ["+1", " 1", "1.0", "1_0", "\uff11", "\u0661", "0", "-1"])
def test_an_id_in_a_path_or_query_is_plain_digits(client: TestClient, market: dict[str, Any],
                                                  written: str) -> None:
    assert_problem(client.get(f"/api/v1/brands/{written}"), 422, "validation")
    assert_problem(client.get("/api/v1/products", params={"brand_id": written}), 422, "validation")
    assert client.get(f"/api/v1/brands/{market['brand']}").status_code == 200


# --- amounts and other integers that reach the database -----------------------------------------

def test_an_amount_too_large_to_store_is_refused(client: TestClient, market: dict[str, Any]) -> None:
    for amount in ("99999999999999999.00", "100000000000.00"):
        response = call(client, market, "merchant", "POST", "/api/v1/products",
                        product_body(market["brand"], price=amount))
        assert_problem(response, 422, "invalid-amount")
    response = call(client, market, "operator", "POST", "/api/v1/coupons", {
        "kind": "platform_coupon", "off": CNY, "quantity": 1, "per_shopper_limit": 2**63,
        "starts_at": SOON, "ends_at": LATER})
    assert_problem(response, 422, "validation")


# --- instants at the edge of the calendar -------------------------------------------------------

def _price_at(instant: str) -> dict[str, Any]:
    return {"currency": "CNY", "at": instant,
            "lines": [{"id": "l1", "sku": "k1", "merchant": "m1", "unit_price": "10.00", "qty": 1}]}


def _price_with_promotion_from(instant: str) -> dict[str, Any]:
    return {**_price_at(SOON), "promotions": [{"id": "p1", "kind": "percent_off", "percent": 5,
                                               "starts": instant}]}


INSTANT_ROUTES: list[tuple[str, str, str, Any]] = [
    ("anyone", "POST", "/api/v1/price", _price_at),
    ("anyone", "POST", "/api/v1/price", _price_with_promotion_from),
    ("merchant", "POST", "/api/v1/promotions", lambda t: {
        "kind": "percent_off", "currency": "CNY", "rule": {"percent": 5}, "starts_at": t, "ends_at": LATER}),
    ("merchant", "POST", "/api/v1/promotions", lambda t: {
        "kind": "percent_off", "currency": "CNY", "rule": {"percent": 5}, "starts_at": SOON, "ends_at": t}),
    ("merchant", "POST", "/api/v1/coupons", lambda t: {
        "kind": "store_coupon", "off": CNY, "quantity": 1, "starts_at": t, "ends_at": LATER}),
    ("merchant", "POST", "/api/v1/flash-sales", lambda t: {
        "sku_id": 1, "price": CNY, "quantity": 1, "starts_at": SOON, "ends_at": t}),
    ("merchant", "POST", "/api/v1/products", lambda t: product_body(1, debut_at=t)),
    ("merchant", "PATCH", "/api/v1/products/1", lambda t: {"debut_at": t}),
    ("operator", "POST", "/api/v1/festivals", lambda t: {
        "name": "Edge", "slug": "edge", "phases": [
            {"key": "sale", "name": "Sale", "kind": "sale", "wave": 1, "starts_at": t, "ends_at": LATER}]}),
]


@pytest.mark.parametrize("role, method, path, body", INSTANT_ROUTES,
                         ids=[f"{m} {p} {n}" for n, (_, m, p, _) in enumerate(INSTANT_ROUTES)])
def test_an_instant_at_the_edge_of_the_calendar_is_refused(client: TestClient, market: dict[str, Any],
                                                           role: str, method: str, path: str,
                                                           body: Any) -> None:
    for instant in EDGE_INSTANTS:
        found = assert_problem(call(client, market, role, method, path, body(instant)), 422)
        assert "out of range" in found["detail"] and "1970" in found["detail"]


def test_the_openapi_document_states_the_range_of_instants(client: TestClient) -> None:
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    for name, field in (("FlashSaleIn", "starts_at"), ("CouponIn", "ends_at"), ("PhaseIn", "starts_at")):
        assert "1970-01-01T00:00:00Z up to 3000-01-01T00:00:00Z" in schemas[name]["properties"][field][
            "description"]


# --- NUL characters and lone surrogates ---------------------------------------------------------

NUL_ROUTES: list[tuple[str, str, str, Any]] = [
    ("anyone", "POST", "/api/v1/auth/token", {"email": "mei@shoppers.test\x00", "password": "x"}),
    ("anyone", "POST", "/api/v1/auth/register",
     {"email": "n\x00@shoppers.test", "password": "eleven-eleven"}),
    ("operator", "POST", "/api/v1/brands", {"name": "Lu\x00men"}),
    ("operator", "POST", "/api/v1/categories", {"slug": "nul", "name": "N\x00L"}),
    ("merchant", "POST", "/api/v1/promotions", {
        "kind": "percent_off", "currency": "CNY", "rule": {"percent": 5, "category": "a\x00"},
        "starts_at": SOON, "ends_at": LATER}),
    ("anyone", "POST", "/api/v1/price", {**_price_at(SOON), "shopper": "s\x00"}),
    ("anyone", "GET", "/api/v1/products?q=silk%00", None),
    ("anyone", "GET", "/api/v1/products?category=apparel%00", None),
]


@pytest.mark.parametrize("role, method, path, body", NUL_ROUTES,
                         ids=[f"{method} {path}" for _, method, path, _ in NUL_ROUTES])
def test_a_nul_character_is_refused_everywhere(client: TestClient, market: dict[str, Any], role: str,
                                               method: str, path: str, body: Any) -> None:
    assert_problem(call(client, market, role, method, path, body), 422, "unstorable-text")


def test_nothing_holding_nul_is_stored(client: TestClient, market: dict[str, Any]) -> None:
    call(client, market, "operator", "POST", "/api/v1/brands", {"name": "Lu\x00men"})
    names = [b["name"] for b in client.get("/api/v1/brands").json()["data"]]
    assert names == ["Lumen"]


@pytest.mark.parametrize("body", [
    b'{"name": "Lu\\ud800men"}', b'{"name": "Lumen", "name_zh": "\\udc00"}',
])
def test_a_lone_surrogate_is_refused(client: TestClient, market: dict[str, Any], body: bytes) -> None:
    response = client.post("/api/v1/brands", content=body,
                           headers={**bearer(market["operator"]), "content-type": "application/json"})
    assert_problem(response, 422, "unstorable-text")
    price = client.post("/api/v1/price", content=b'{"currency": "CNY", "lines": [{"id": "l\\ud800", '
                        b'"sku": "k", "merchant": "m", "unit_price": "1.00", "qty": 1}]}',
                        headers={"content-type": "application/json"})
    assert_problem(price, 422, "unstorable-text")


def test_the_pages_answer_nul_with_a_page(client: TestClient, market: dict[str, Any]) -> None:
    page = {"accept": "text/html"}
    login = client.post("/login", data={"email": "mei@shoppers.test\x00", "password": "x"}, headers=page)
    assert login.status_code == 422 and login.headers["content-type"].startswith("text/html")
    search = client.get("/search", params={"q": "silk\x00"}, headers=page)
    assert search.status_code == 422 and search.headers["content-type"].startswith("text/html")
    assert client.get("/search", params={"q": "silk"}, headers=page).status_code == 200


# --- bodies that cannot be read -----------------------------------------------------------------

UNREADABLE = {"not UTF-8": b'{"name": "Lu\xffmen"}', "not JSON": b'{"name": ',
              "10,000 arrays deep": b"[" * 10_000 + b"]" * 10_000}
BODY_ROUTES = [("operator", "/api/v1/brands"), ("anyone", "/api/v1/price"), ("shopper", "/api/v1/orders"),
               ("shopper", "/api/v1/orders/1/refunds")]


@pytest.mark.parametrize("role, path", BODY_ROUTES)
@pytest.mark.parametrize("body", list(UNREADABLE.values()), ids=list(UNREADABLE))
def test_an_unreadable_body_is_a_documented_problem(client: TestClient, market: dict[str, Any], role: str,
                                                    path: str, body: bytes) -> None:
    token = market[role]
    response = client.post(path, content=body, headers={
        **(bearer(token) if token else {}), "content-type": "application/json"})
    assert response.status_code in (400, 422), response.text
    problem = assert_problem(response, response.status_code)
    assert problem["type"] in ("/problems/malformed-body", "/problems/validation")
    documented = client.get("/openapi.json").json()["paths"][
        path.replace("/1/", "/{order_id}/")]["post"]["responses"]
    assert str(response.status_code) in documented
    assert PROBLEM in documented[str(response.status_code)]["content"]


def test_a_body_fastapi_cannot_read_is_a_malformed_body(client: TestClient, market: dict[str, Any]) -> None:
    for body in (UNREADABLE["not UTF-8"], UNREADABLE["10,000 arrays deep"]):
        response = client.post("/api/v1/brands", content=body,
                               headers={**bearer(market["operator"]), "content-type": "application/json"})
        assert_problem(response, 400, "malformed-body")


# --- inputs are exactly what the docs promise ---------------------------------------------------

@pytest.mark.parametrize("amount", ["1.5", "199", "1.500", "\uff11\uff19\uff19.00", "\u0661\u0669\u0669.00",
                                    " 199.00", "199.00 ", "1e2", "+199.00"])
def test_a_money_string_has_exactly_the_currency_places(client: TestClient, market: dict[str, Any],
                                                        amount: str) -> None:
    product = call(client, market, "merchant", "POST", "/api/v1/products",
                   product_body(market["brand"], price=amount))
    assert_problem(product, 422, "invalid-amount")
    flash = call(client, market, "merchant", "POST", "/api/v1/flash-sales", {
        "sku_id": market["sku"], "price": {"amount": amount, "currency": "CNY"}, "quantity": 1,
        "starts_at": SOON, "ends_at": LATER})
    assert_problem(flash, 422, "invalid-amount")
    priced = client.post("/api/v1/price", json={**_price_at(SOON), "lines": [
        {"id": "l1", "sku": "k1", "merchant": "m1", "unit_price": amount, "qty": 1}]})
    assert_problem(priced, 422, "invalid-amount")
    assert_problem(client.get("/api/v1/products", params={"min_price": amount}), 422, "invalid-amount")


def test_a_yen_amount_has_no_places_and_a_dinar_amount_three(client: TestClient) -> None:
    def price(currency: str, amount: str) -> int:
        return client.post("/api/v1/price", json={"currency": currency, "lines": [
            {"id": "l1", "sku": "k1", "merchant": "m1", "unit_price": amount, "qty": 1}]}).status_code

    assert (price("JPY", "1500"), price("JPY", "1500.00")) == (200, 422)
    assert (price("KWD", "1.250"), price("KWD", "1.25")) == (200, 422)


STRICT_BODIES: list[tuple[str, str, str, Any]] = [
    ("merchant", "POST", "/api/v1/products", lambda m: {**product_body(m["brand"]), "skus": [
        {"code": "std", "price": CNY, "stock": True}]}),
    ("merchant", "POST", "/api/v1/products", lambda m: product_body(str(m["brand"]))),
    ("shopper", "POST", "/api/v1/orders", lambda m: {"lines": [{"sku_id": str(m["sku"]), "qty": 1}]}),
    ("shopper", "POST", "/api/v1/orders", lambda m: {"lines": [{"sku_id": m["sku"], "qty": True}]}),
    ("shopper", "POST", "/api/v1/orders", lambda m: {"lines": [{"sku_id": m["sku"], "qty": "1"}]}),
    ("shopper", "POST", "/api/v1/orders/1/refunds", lambda m: {"back_on_shelf": 0}),
    ("merchant", "PUT", "/api/v1/presales", lambda m: {"sku_id": m["sku"], "deposit": CNY, "quantity": True}),
    ("merchant", "POST", "/api/v1/flash-sales", lambda m: {
        "sku_id": m["sku"], "price": CNY, "quantity": "5", "starts_at": SOON, "ends_at": LATER}),
    ("merchant", "POST", "/api/v1/flash-sales", lambda m: {
        "sku_id": m["sku"], "price": CNY, "quantity": 5, "starts_at": 1_826_000_000, "ends_at": LATER}),
]


@pytest.mark.parametrize("role, method, path, body", STRICT_BODIES,
                         ids=[f"{method} {path} {n}" for n, (_, method, path, _) in enumerate(STRICT_BODIES)])
def test_booleans_strings_and_numbers_are_not_each_other(client: TestClient, market: dict[str, Any],
                                                         role: str, method: str, path: str,
                                                         body: Any) -> None:
    assert_problem(call(client, market, role, method, path, body(market)), 422, "validation")


UNKNOWN_FIELDS: list[tuple[str, str, str, Any]] = [
    ("anyone", "POST", "/api/v1/auth/register",
     lambda m: {"email": "new@shoppers.test", "password": "eleven-eleven", "role": "operator"}),
    ("operator", "POST", "/api/v1/brands", lambda m: {"name": "Kestrel", "approved": True}),
    ("operator", "POST", "/api/v1/merchants", lambda m: {
        "name": "Kestrel", "kind": "online", "settlement_currency": "CNY", "verified": True}),
    ("operator", "POST", "/api/v1/categories", lambda m: {"slug": "beauty", "name": "Beauty", "order": 1}),
    ("merchant", "POST", "/api/v1/products", lambda m: product_body(m["brand"], merchant_id=99)),
    ("merchant", "POST", "/api/v1/products", lambda m: {**product_body(m["brand"]), "skus": [
        {"code": "std", "price": {**CNY, "rate": "1"}, "stock": 1}]}),
    ("merchant", "PATCH", "/api/v1/products/1", lambda m: {"title": "Renamed", "brand_id": 2}),
    ("merchant", "POST", "/api/v1/flash-sales", lambda m: {
        "sku_id": m["sku"], "price": CNY, "quantity": 1, "starts_at": SOON, "ends_at": LATER, "taken": 0}),
    ("merchant", "PUT", "/api/v1/presales", lambda m: {"sku_id": m["sku"], "deposit": CNY, "balance": CNY}),
    ("merchant", "POST", "/api/v1/coupons", lambda m: {
        "kind": "store_coupon", "off": CNY, "quantity": 1, "starts_at": SOON, "ends_at": LATER,
        "claimed": 0}),
    ("merchant", "POST", "/api/v1/promotions", lambda m: {
        "kind": "percent_off", "currency": "CNY", "rule": {"percent": 5, "percentage": 50},
        "starts_at": SOON, "ends_at": LATER}),
    ("shopper", "POST", "/api/v1/orders",
     lambda m: {"lines": [{"sku_id": m["sku"], "qty": 1}], "total": "0.00"}),
    ("shopper", "POST", "/api/v1/orders",
     lambda m: {"lines": [{"sku_id": m["sku"], "qty": 1, "price": "0.00"}]}),
    ("shopper", "POST", "/api/v1/orders/1/pay", lambda m: {"method": "sandbox_ok", "amount": "0.01"}),
    ("merchant", "POST", "/api/v1/orders/1/shipments",
     lambda m: {"carrier": "SF", "tracking": "1", "status": "completed"}),
    ("anyone", "POST", "/api/v1/price", lambda m: {**_price_at(SOON), "discount": "100.00"}),
    ("anyone", "POST", "/api/v1/price", lambda m: {**_price_at(SOON), "coupons": [
        {"id": "c1", "kind": "red_envelope", "amount": "5.00", "stack": True}]}),
]


@pytest.mark.parametrize("role, method, path, body", UNKNOWN_FIELDS,
                         ids=[f"{m} {p} {n}" for n, (_, m, p, _) in enumerate(UNKNOWN_FIELDS)])
def test_an_unknown_field_is_refused_not_dropped(client: TestClient, market: dict[str, Any], role: str,
                                                 method: str, path: str, body: Any) -> None:
    response = call(client, market, role, method, path, body(market))
    assert response.status_code == 422, response.text
    assert response.json()["type"] in ("/problems/validation", "/problems/invalid-input")
